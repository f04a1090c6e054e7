/*
 * values.h: the value syntaxes of the config file, usable on their own (the
 * CLI parses durations and sizes with the same rules as the config).
 *
 * Each parser reads the whole NUL-terminated string and returns CG_OK,
 * CG_ERR when the syntax is wrong, or CG_CONF_RANGE when the syntax is
 * right but the value does not fit. None allocates.
 */
#ifndef CG_CONF_VALUES_H
#define CG_CONF_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CG_CONF_RANGE 1   /* positive: not one of the common codes */

/* Decimal digits only, no sign, no spaces: "0", "10000". */
int cg_conf_parse_uint(const char *s, uint64_t *out);
/* A duration in milliseconds: a number with a suffix ms, s, m, h or d; a bare
 * number is seconds. "500ms", "10s", "2m", "1h", "7d", "30". */
int cg_conf_parse_duration_ms(const char *s, uint64_t *ms);
/* A size in bytes: a number with an optional suffix k/K, m/M, g/G (powers of
 * 1024). "16384", "16k", "10M", "1G". */
int cg_conf_parse_size(const char *s, uint64_t *bytes);
/* "true" or "false", nothing else. */
int cg_conf_parse_bool(const char *s, bool *out);
/* A listen address: "IPv4:port", "[IPv6]:port", ":port" or "*:port" (every
 * IPv4 address). Port 0..65535 (0: ephemeral). */
int cg_conf_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* True when both name the same socket address (family, address, port). */
bool cg_conf_addr_equal(const struct sockaddr *a, socklen_t alen,
                        const struct sockaddr *b, socklen_t blen);
/* Writes "127.0.0.1:8443" or "[::1]:8443" into buf (always NUL-terminated). */
void cg_conf_addr_format(const struct sockaddr *a, socklen_t alen, char *buf, size_t size);
/* Writes a duration the way the file would say it: "1h", "90s", "250ms". */
void cg_conf_duration_format(uint64_t ms, char *buf, size_t size);
/* Writes a size the way the file would say it: "16k", "10M", "1000". */
void cg_conf_size_format(uint64_t bytes, char *buf, size_t size);

#endif

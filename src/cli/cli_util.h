/*
 * cli_util.h: option values and input files the `certgate pki` commands
 * (issue, crl, ocsp) read alike, so that they accept the same spellings and
 * say the same thing when one is wrong. Every function fills *err (see
 * cg_set_err) and returns CG_ERR on a bad value; none prints.
 */
#ifndef CG_CLI_CLI_UTIL_H
#define CG_CLI_CLI_UTIL_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* The first certificate (cert != NULL) and/or the private key (key != NULL)
 * of a PEM / DER / PKCS#12 file; the caller frees what it asked for. A file
 * without the one asked for is an error. */
int cg_cli_load_first(const char *path, X509 **cert, EVP_PKEY **key, char **err);

/* A serial number: non-zero hex, at most 16 digits, "0x" optional. */
int cg_cli_parse_serial(const char *text, uint64_t *out, char **err);

/* A CRL reason code: its RFC 5280 name (any case) or its number 0-10 but 7. */
int cg_cli_parse_reason(const char *text, int *out, char **err);

/* After getopt_long (optstring starting with ':') returned c, ':' or '?'
 * for the option at argv[optind - 1]: the message for it. */
int cg_cli_option_error(int c, char **argv, char **err);

/* After getopt_long is done: CG_ERR if positional arguments are left. */
int cg_cli_no_operands(int argc, char **argv, char **err);

#endif

/*
 * uri.h: pure helpers on request paths and request header values, for the
 * router, the static-file handler and the error pages. No allocation, no
 * I/O, no state; every output goes into a caller buffer with a limit.
 *
 * Choices made once here:
 * - A path is percent-decoded exactly once ("%252e" stays the literal
 *   "%2e"), then dot segments are removed (RFC 3986 5.2.4) on the decoded
 *   form, so "%2e%2e" is a ".." like any other.
 * - A decoded '/' (%2F) is refused (400), never turned into a separator nor
 *   kept: a file name cannot hold one, and keeping it literal would let
 *   "a%2Fb" and "a/b" name different things to the router and the same
 *   thing to the disk.
 * - A path that would climb above the root is refused, never clamped:
 *   "/../x" is an attack or a bug, not a request for "/x".
 * - Also refused: '\' raw or encoded (a separator on other systems), NUL and
 *   every other control octet after decoding, malformed escapes.
 * - Byte ranges: one range only. Several ranges are ignored (the whole file
 *   is served with 200), which RFC 9110 14.2 allows and which avoids
 *   multipart responses and range amplification.
 */
#ifndef CG_HTTP_URI_H
#define CG_HTTP_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Turns a raw request path (origin-form path, without query) into the
 * normalised, decoded path: starts with '/', no empty, "." or ".."
 * segments, duplicate slashes collapsed; a trailing slash is kept ("/a/"
 * stays "/a/", "/a/." and "/a/b/.." become "/a/"). The result is written to
 * out and NUL-terminated; *out_len excludes the NUL.
 * Returns CG_OK, or CG_ERR with *status (400; 414 when out_cap is too
 * small) and *why (static). The limit applies to the path as it is built,
 * before a ".." takes back its parent; out_cap >= len + 1 is always enough.
 * status and why may be NULL.
 */
int cg_http_path_normalize(const char *in, size_t len, char *out, size_t out_cap,
                           size_t *out_len, int *status, const char **why);

/*
 * Validates and normalises a Host header value or an authority:
 * uri-host [":" port] where uri-host is a DNS-style name (letters, digits,
 * '-', '_', dot-separated non-empty labels of at most 63, at most 253 in
 * all, one trailing dot dropped), a dotted IPv4 address, or an IPv6 literal
 * in brackets (no zone, no IPvFuture). The port, when present, is 1 to 5
 * digits and at most 65535; an empty port ("host:") is refused.
 * On CG_OK, out (when not NULL) holds the lower-cased host without the
 * port, brackets kept for IPv6 ("[::1]"), NUL-terminated, *out_len its
 * length; *port (when not NULL) is the port or -1 when absent.
 * Returns CG_ERR for an empty or invalid value, or when out is too small
 * (out_cap >= len + 1 is always enough).
 */
int cg_http_host_normalize(const char *in, size_t len, char *out, size_t out_cap,
                           size_t *out_len, int *port);

/*
 * Reads an Accept header value and says whether the client prefers a JSON
 * error body (application/problem+json or application/json) over HTML
 * (text/html). Each media type gets the q-value of the most specific range
 * that matches it (RFC 9110 12.5.1: the exact type, then the subtype
 * wildcard, then the full wildcard). True only when the better JSON q-value
 * is strictly above the HTML one, so an absent or empty Accept, the full
 * wildcard alone, or a tie means HTML (a browser always lists text/html).
 * Malformed members are skipped.
 */
bool cg_http_prefers_json(const char *accept, size_t len);

/*
 * Interprets a Range header value against a representation of `size`
 * bytes. Returns:
 *   CG_OK: one satisfiable range; [*first, *last] inclusive, clamped to
 *          the size (answer 206);
 *   CG_ERR: one well-formed range that cannot be satisfied (answer 416
 *          with "Content-Range: bytes * / size");
 *   CG_DECLINED: ignore the header and answer 200 with the whole
 *          representation: another unit, bad syntax, or several ranges.
 * Forms: "bytes=A-B", "bytes=A-", "bytes=-N" (the last N bytes; "-0" is
 * unsatisfiable). The unit is case-insensitive; OWS is allowed around the
 * range-spec only.
 */
int cg_http_range_parse(const char *value, size_t len, uint64_t size,
                        uint64_t *first, uint64_t *last);

#endif

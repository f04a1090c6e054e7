/*
 * parser.h: a strict, stateless, zero-copy HTTP/1.1 request parser (RFC 9112).
 *
 * Stateless: call it again with the whole buffer once more bytes arrive;
 * nothing is kept between calls. Zero-copy: every string in the result is a
 * slice into the caller's buffer (or into static storage), valid while the
 * buffer is.
 *
 * Strict: anything ambiguous is an error with the HTTP status to answer
 * (then close): bare CR, obs-fold, invalid token characters, both
 * Content-Length and Transfer-Encoding, differing Content-Lengths, unknown
 * transfer codings (501), a request-target over the limit (414), a head over
 * the limit (431), a version other than HTTP/1.0 and HTTP/1.1 (505).
 *
 * The choices where RFC 9112 leaves room, made here once:
 * - Up to CG_HTTP_MAX_LEADING_CRLF empty lines (CRLF) before the request line
 *   are skipped (RFC 9112 2.2: some clients send a CRLF after a POST body);
 *   more, or a bare LF among them, is a 400.
 * - Every line ends in CRLF. A bare LF is a 400 (RFC 9112 2.2 allows
 *   accepting it; refusing it removes a disagreement with proxies in front
 *   that would not) and a CR not followed by LF is a 400.
 * - Exactly one SP between the parts of the request line.
 * - Only "HTTP/1.0" and "HTTP/1.1" are served. A well-formed other version
 *   ("HTTP/2.0", "HTTP/0.9", "HTTP/1.2", and the "HTTP/2" spelling) is a 505;
 *   anything else, including no version at all (HTTP/0.9 style), is a 400.
 * - request-target: octets 0x21-0x7E except '#'; path percent-decoding and
 *   dot segments are left to cg_http_path_normalize() (uri.h). The forms:
 *   origin-form for any method; absolute-form (http or https only, no
 *   userinfo) for any method but CONNECT, its authority becomes `host`
 *   (RFC 9112 3.2.2); authority-form (host:port) only and always for
 *   CONNECT; asterisk-form only for OPTIONS.
 * - Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, and its value
 *   must be a valid uri-host [":" port] or empty (cg_http_host_normalize).
 * - Content-Length: 1*DIGIT, at most 2^63-1. A comma list or repeated field
 *   is accepted only when every member is the same number (RFC 9110 8.6);
 *   an empty member or differing values are a 400.
 * - Transfer-Encoding: the members of all its fields together form one list
 *   (empty members ignored, RFC 9110 5.6.1); parameters are a 400. The only
 *   coding served is "chunked", exactly once and last: chunked twice or not
 *   last is a 400 (RFC 9112 6.3), any other coding then a 501. With
 *   Content-Length, or in HTTP/1.0, Transfer-Encoding is a 400.
 * - Connection: a list of tokens; "close" and "keep-alive" are recognised.
 * - Expect: "100-continue" sets expect_continue (HTTP/1.1 only; ignored in
 *   HTTP/1.0 as RFC 9110 10.1.1 requires); any other expectation is a 417.
 * - Header values: HTAB, SP, VCHAR and obs-text only; NUL and other
 *   controls are a 400. No whitespace between a field name and its colon,
 *   no line starting with whitespace (obs-fold), both 400.
 *
 * Cost: a call is one pass over the head with table lookups, no allocation.
 * Because the parser is stateless, a caller that re-parses on every read of
 * a trickled head pays O(head^2 / read size) in the worst case, bounded by
 * max_header_bytes; cg_http_head_complete() lets it parse only when the
 * blank line has arrived, after a first early call that catches garbage.
 */
#ifndef CG_HTTP_PARSER_H
#define CG_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define CG_HTTP_MAX_LEADING_CRLF 4

struct cg_slice {
    const char *p;
    size_t len;
};

struct cg_http_header {
    struct cg_slice name, value;   /* value without leading/trailing OWS */
};

typedef enum { CG_BODY_NONE = 0, CG_BODY_LENGTH, CG_BODY_CHUNKED } cg_body_kind_t;

typedef enum {
    CG_TARGET_ORIGIN = 0,   /* "/path?query" */
    CG_TARGET_ABSOLUTE,     /* "http://host/path?query" */
    CG_TARGET_AUTHORITY,    /* "host:port" (CONNECT) */
    CG_TARGET_ASTERISK,     /* "*" (OPTIONS) */
} cg_target_form_t;

struct cg_http_request {
    struct cg_slice method, target, path, query;   /* path/query split from target, raw
                                                      (not decoded); query without '?', len 0
                                                      when absent; path "/" for an absolute-form
                                                      target without one, the target itself for
                                                      the authority and asterisk forms */
    int minor_version;                    /* 0 or 1 */
    struct cg_http_header *headers;       /* caller-provided array */
    size_t n_headers;
    struct cg_slice host;                 /* the Host header (or absolute-form authority);
                                             raw, port included; len 0 when absent or empty */
    cg_body_kind_t body;
    uint64_t content_length;              /* when body == CG_BODY_LENGTH */
    int keep_alive;                       /* per version and Connection header */
    int expect_continue;
    cg_target_form_t target_form;
};

struct cg_http_limits {
    size_t max_header_bytes;   /* request line + headers + final CRLF */
    size_t max_target_bytes;   /* request-target length before 414 (0: max_header_bytes/2) */
    size_t max_headers;        /* number of header fields; must be <= capacity of headers[] */
};

/*
 * Parses one request head from buf[0..len).
 * Returns > 0: bytes consumed by the head (the body, if any, follows);
 *         CG_AGAIN (< 0): incomplete, read more (unless len already reaches
 *                   max_header_bytes, which returns an error: 431);
 *         CG_ERR: malformed; *status is the HTTP status to answer
 *                 (400, 414, 417, 431, 501, 505) and *why a static reason for the log.
 * Errors are reported as soon as the bytes that cause them are seen, so
 * garbage (a TLS ClientHello on a plain port) fails on the first call.
 * req->headers must point to an array of at least limits->max_headers
 * entries; the other fields of *req are outputs, meaningful on success only.
 * status and why may be NULL.
 */
long cg_http_parse_request(const char *buf, size_t len, const struct cg_http_limits *limits,
                           struct cg_http_request *req, int *status, const char **why);

/*
 * Finds the end of a head (the first CRLFCRLF) in buf[0..len), resuming the
 * search at `from` (the previous len; 0 the first time). Returns the offset
 * just past the blank line, or 0 when it is not there yet. It does not
 * validate: only cg_http_parse_request() decides whether the head is good,
 * and may still answer CG_AGAIN when the blank line found was one of the
 * empty lines allowed before the request line.
 */
size_t cg_http_head_complete(const char *buf, size_t len, size_t from);

/*
 * Decodes chunked body framing incrementally. State lives in the decoder
 * (the only state in this module): feed it bytes, it moves payload bytes to
 * the front of buf in place and says how many; chunk extensions are
 * validated and discarded; trailers are validated like header fields and
 * discarded (within max_trailer_bytes).
 *
 * Initialise with cg_chunked_init() (or zero the struct and set
 * max_trailer_bytes, which counts the octets of trailer field lines; 0
 * refuses any trailer field). Fields other than max_trailer_bytes are private,
 * except `remaining` (payload bytes still to come in the current chunk,
 * which lets a caller refuse an oversized body early) and, after CG_ERR,
 * `status` (400 for bad framing, 431 for trailers over the limit) and
 * `why` (a static reason for the log).
 */
struct cg_chunked_decoder {
    int state;
    uint64_t remaining;        /* bytes left in the current chunk */
    size_t trailer_bytes;
    size_t max_trailer_bytes;
    size_t line_bytes;         /* bytes of the current chunk-size line */
    int status;
    const char *why;
};

/* A chunk-size line (size and extensions) longer than this is a 400. */
#define CG_CHUNK_LINE_MAX 4096

void cg_chunked_init(struct cg_chunked_decoder *d, size_t max_trailer_bytes);

/* Returns CG_OK when the final chunk and trailers were consumed, CG_AGAIN when
 * more input is needed, CG_ERR on bad framing (d->status: 400 or 431).
 * *consumed = bytes of buf used: all of len on CG_AGAIN (partial framing is
 * remembered in the decoder), up to the end of the trailer section on CG_OK
 * (what follows belongs to the next request and is left untouched).
 * *payload = payload bytes now at the front of buf. Once CG_OK was returned,
 * further calls return CG_OK and consume nothing. */
int cg_chunked_decode(struct cg_chunked_decoder *d, char *buf, size_t len,
                      size_t *consumed, size_t *payload);

/* Case-insensitive lookup of a header by name; NULL if absent. */
const struct cg_http_header *cg_http_find_header(const struct cg_http_request *req,
                                                 const char *name);

#endif

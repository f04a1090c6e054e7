/*
 * parser.h: a strict, stateless, zero-copy HTTP/1.1 request parser (RFC 9112).
 *
 * Stateless: call it again with the whole buffer once more bytes arrive;
 * nothing is kept between calls. Zero-copy: every string in the result is a
 * slice into the caller's buffer, valid while the buffer is.
 *
 * Strict: anything ambiguous is an error with the HTTP status to answer
 * (then close): bare CR, obs-fold, invalid token characters, both
 * Content-Length and Transfer-Encoding, differing Content-Lengths, unknown
 * transfer codings (501), a request line over the limit (414), headers over
 * the limit (431), a version other than HTTP/1.0 and HTTP/1.1 (505).
 */
#ifndef CG_HTTP_PARSER_H
#define CG_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>

struct cg_slice {
    const char *p;
    size_t len;
};

struct cg_http_header {
    struct cg_slice name, value;   /* value without leading/trailing OWS */
};

typedef enum { CG_BODY_NONE = 0, CG_BODY_LENGTH, CG_BODY_CHUNKED } cg_body_kind_t;

struct cg_http_request {
    struct cg_slice method, target, path, query;   /* path/query split from target, raw */
    int minor_version;                    /* 0 or 1 */
    struct cg_http_header *headers;       /* caller-provided array */
    size_t n_headers;
    struct cg_slice host;                 /* the Host header (or absolute-form authority) */
    cg_body_kind_t body;
    uint64_t content_length;              /* when body == CG_BODY_LENGTH */
    int keep_alive;                       /* per version and Connection header */
    int expect_continue;
};

struct cg_http_limits {
    size_t max_header_bytes;   /* request line + headers + final CRLF */
    size_t max_target_bytes;   /* request-target length before 414 (default: max_header_bytes/2) */
    size_t max_headers;        /* number of header fields; must be <= capacity of headers[] */
};

/*
 * Parses one request head from buf[0..len).
 * Returns > 0: bytes consumed by the head (the body, if any, follows);
 *         CG_AGAIN (< 0): incomplete, read more (unless len already exceeds
 *                   max_header_bytes, which returns an error: 431);
 *         CG_ERR: malformed; *status is the HTTP status to answer
 *                 (400, 414, 431, 501, 505) and *why a static reason for the log.
 * req->headers must point to an array of at least limits->max_headers entries.
 */
long cg_http_parse_request(const char *buf, size_t len, const struct cg_http_limits *limits,
                           struct cg_http_request *req, int *status, const char **why);

/*
 * Decodes chunked body framing incrementally. State lives in the decoder
 * (the only state in this module): feed it bytes, it moves payload bytes to
 * the front of buf in place and says how many; trailers are parsed and
 * discarded (within the header limit).
 */
struct cg_chunked_decoder {
    int state;
    uint64_t remaining;        /* bytes left in the current chunk */
    size_t trailer_bytes;
    size_t max_trailer_bytes;
};
/* Returns CG_OK when the final chunk and trailers were consumed, CG_AGAIN when
 * more input is needed, CG_ERR on bad framing (400). *consumed = bytes of buf
 * used; *payload = payload bytes now at the front of buf. */
int cg_chunked_decode(struct cg_chunked_decoder *d, char *buf, size_t len,
                      size_t *consumed, size_t *payload);

/* Case-insensitive lookup of a header by name; NULL if absent. */
const struct cg_http_header *cg_http_find_header(const struct cg_http_request *req,
                                                 const char *name);

#endif

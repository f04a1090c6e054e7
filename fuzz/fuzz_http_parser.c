/*
 * fuzz_http_parser: the request-head parser, then the chunked decoder on
 * what follows a chunked head, and on the whole input as a body of its own.
 * Besides memory errors it checks the contracts: a head parses the same on
 * its own as with bytes after it, any shorter prefix is incomplete, slices
 * stay in the buffer, and the decoder gives the same payload whether fed at
 * once or in two pieces.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "http/parser.h"

#define MAX_HEADERS 32

static const struct cg_http_limits limits = {
    .max_header_bytes = 8192,
    .max_target_bytes = 2048,
    .max_headers = MAX_HEADERS,
};

static void check_slice(const struct cg_slice *s, const char *buf, size_t len)
{
    if (s->len == 0)
        return;
    /* Only the "/" of an absolute-form target without a path lives elsewhere. */
    if (s->len == 1 && s->p[0] == '/' && (s->p < buf || s->p >= buf + len))
        return;
    if (s->p < buf || s->p + s->len > buf + len)
        abort();
}

/* Decodes body[0..len) at once and cut at `cut`; both ways must agree. */
static void decode_both_ways(const uint8_t *body, size_t len, size_t cut)
{
    char *a = malloc(len ? len : 1), *b = malloc(len ? len : 1);
    struct cg_chunked_decoder da, db;
    size_t ca, pa, cb1, pb1, cb2 = 0, pb2 = 0;
    int ra, rb;

    if (!a || !b)
        goto done;
    memcpy(a, body, len);
    memcpy(b, body, len);
    if (cut > len)
        cut = len;
    cg_chunked_init(&da, 256);
    cg_chunked_init(&db, 256);
    ra = cg_chunked_decode(&da, a, len, &ca, &pa);
    rb = cg_chunked_decode(&db, b, cut, &cb1, &pb1);
    if (rb == CG_AGAIN) {
        if (cb1 != cut)
            abort();
        /* The second piece starts after the first; its payload lands at its front. */
        rb = cg_chunked_decode(&db, b + cut, len - cut, &cb2, &pb2);
        memmove(b + pb1, b + cut, pb2);
    }
    if (ra != rb || ca != cb1 + cb2 || pa != pb1 + pb2 || memcmp(a, b, pa) != 0)
        abort();
    if (pa > ca || ca > len)
        abort();
done:
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_http_header headers[MAX_HEADERS];
    struct cg_http_request req = { .headers = headers };
    const char *buf = (const char *)data;
    int status = 0;
    const char *why = NULL;

    long n = cg_http_parse_request(buf, size, &limits, &req, &status, &why);
    if (n == CG_ERR) {
        if (!why || (status != 400 && status != 414 && status != 417 && status != 431 &&
                     status != 501 && status != 505))
            abort();
    } else if (n > 0) {
        if ((size_t)n > size || req.n_headers > MAX_HEADERS)
            abort();
        check_slice(&req.method, buf, (size_t)n);
        check_slice(&req.target, buf, (size_t)n);
        check_slice(&req.path, buf, (size_t)n);
        check_slice(&req.query, buf, (size_t)n);
        check_slice(&req.host, buf, (size_t)n);
        for (size_t i = 0; i < req.n_headers; i++) {
            check_slice(&headers[i].name, buf, (size_t)n);
            check_slice(&headers[i].value, buf, (size_t)n);
        }
        /* Stateless: the head alone gives the same answer; one byte less waits. */
        struct cg_http_header h2[MAX_HEADERS];
        struct cg_http_request r2 = { .headers = h2 };
        if (cg_http_parse_request(buf, (size_t)n, &limits, &r2, NULL, NULL) != n)
            abort();
        if (cg_http_parse_request(buf, (size_t)n - 1, &limits, &r2, NULL, NULL) != CG_AGAIN)
            abort();
        if (cg_http_head_complete(buf, size, 0) == 0)
            abort();
        if (req.body == CG_BODY_CHUNKED)
            decode_both_ways(data + n, size - (size_t)n, size > 0 ? data[0] % 64 : 0);
    } else if (n != CG_AGAIN) {
        abort();
    }

    decode_both_ways(data, size, size / 2);
    return 0;
}

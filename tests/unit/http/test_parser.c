/* The request-head parser: what it accepts, what it refuses with which
 * status, and that no prefix of a request is mistaken for a whole one.
 * Every input sits against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/common.h"
#include "http/guard.h"
#include "http/parser.h"

#define MAX_HEADERS 16

static const struct cg_http_limits limits = {
    .max_header_bytes = 4096,
    .max_target_bytes = 1024,
    .max_headers = MAX_HEADERS,
};

struct parsed {
    long rc;
    int status;
    const char *why;
    struct cg_http_request req;
    struct cg_http_header headers[MAX_HEADERS];
};

/* Parses in[0..len) placed against the guard page; slices in the result
 * are rebased onto `in` so they stay valid after the mapping is gone. */
static void parse_guarded(const char *in, size_t len, const struct cg_http_limits *lim,
                          struct parsed *out)
{
    struct guarded g = guard_place(in, len);
    memset(out, 0, sizeof(*out));
    out->req.headers = out->headers;
    out->status = 0;
    out->rc = cg_http_parse_request(g.p, len, lim, &out->req, &out->status, &out->why);

    /* Rebase every slice that points into the guarded copy. */
    struct cg_slice *s[] = { &out->req.method, &out->req.target, &out->req.path,
                             &out->req.query, &out->req.host };
    for (size_t i = 0; i < CG_ARRAY_LEN(s); i++)
        if (s[i]->p >= g.p && s[i]->p <= g.p + len)
            s[i]->p = in + (s[i]->p - g.p);
    for (size_t i = 0; i < out->req.n_headers && out->rc > 0; i++) {
        out->headers[i].name.p = in + (out->headers[i].name.p - g.p);
        out->headers[i].value.p = in + (out->headers[i].value.p - g.p);
    }
    guard_release(&g);
}

static int slice_is(struct cg_slice s, const char *want)
{
    if (!want)
        return 1;
    return s.len == strlen(want) && (s.len == 0 || memcmp(s.p, want, s.len) == 0);
}

/* ---- accepted requests ---- */

struct ok_case {
    const char *name;
    const char *in;
    size_t tail;              /* bytes after the head (body, next request) */
    const char *method, *path, *query, *host;   /* NULL: not checked */
    int minor;
    cg_body_kind_t body;
    uint64_t content_length;
    int keep_alive, expect_continue;
    size_t n_headers;
    cg_target_form_t form;
};

#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

static const struct ok_case ok_cases[] = {
    { "simple GET", "GET /" H11 "\r\n", 0, "GET", "/", "", "example.com", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "HTTP/1.0 without Host", "GET /index.html HTTP/1.0\r\n\r\n", 0, "GET", "/index.html", "", "", 0, CG_BODY_NONE, 0, 0, 0, 0, CG_TARGET_ORIGIN },
    { "HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, "GET", "/", NULL, NULL, 0, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "HTTP/1.0 keep-alive then close", "GET / HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", 0, "GET", "/", NULL, NULL, 0, CG_BODY_NONE, 0, 0, 0, 1, CG_TARGET_ORIGIN },
    { "HTTP/1.1 close", "GET /" H11 "Connection: close\r\n\r\n", 0, "GET", "/", NULL, NULL, 1, CG_BODY_NONE, 0, 0, 0, 2, CG_TARGET_ORIGIN },
    { "Connection list with empty members", "GET /" H11 "Connection: Upgrade, , CLOSE\r\n\r\n", 0, "GET", "/", NULL, NULL, 1, CG_BODY_NONE, 0, 0, 0, 2, CG_TARGET_ORIGIN },
    { "query split", "GET /a/b?x=1&y=2" H11 "\r\n", 0, "GET", "/a/b", "x=1&y=2", NULL, 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "empty query", "GET /a?" H11 "\r\n", 0, "GET", "/a", "", NULL, 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "second ? stays in query", "GET /a?b?c" H11 "\r\n", 0, "GET", "/a", "b?c", NULL, 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "POST with body after head", "POST /form" H11 "Content-Length: 5\r\n\r\nhello", 5, "POST", "/form", NULL, NULL, 1, CG_BODY_LENGTH, 5, 1, 0, 2, CG_TARGET_ORIGIN },
    { "Content-Length 0", "POST /" H11 "Content-Length: 0\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_NONE, 0, 1, 0, 2, CG_TARGET_ORIGIN },
    { "Content-Length identical list", "POST /" H11 "Content-Length: 7, 7,7\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_LENGTH, 7, 1, 0, 2, CG_TARGET_ORIGIN },
    { "Content-Length identical repeats", "POST /" H11 "Content-Length: 7\r\nContent-Length: 7\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_LENGTH, 7, 1, 0, 3, CG_TARGET_ORIGIN },
    { "Content-Length 2^63-1", "POST /" H11 "Content-Length: 9223372036854775807\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_LENGTH, 9223372036854775807ULL, 1, 0, 2, CG_TARGET_ORIGIN },
    { "Content-Length leading zeros", "POST /" H11 "Content-Length: 0012\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_LENGTH, 12, 1, 0, 2, CG_TARGET_ORIGIN },
    { "HTTP/1.0 with Content-Length", "POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", 0, "POST", NULL, NULL, NULL, 0, CG_BODY_LENGTH, 3, 0, 0, 1, CG_TARGET_ORIGIN },
    { "chunked", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_CHUNKED, 0, 1, 0, 2, CG_TARGET_ORIGIN },
    { "chunked, any case", "POST /" H11 "Transfer-Encoding: ChUnKeD\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_CHUNKED, 0, 1, 0, 2, CG_TARGET_ORIGIN },
    { "chunked after an empty TE field", "POST /" H11 "Transfer-Encoding:\r\nTransfer-Encoding: , chunked\r\n\r\n", 0, "POST", NULL, NULL, NULL, 1, CG_BODY_CHUNKED, 0, 1, 0, 3, CG_TARGET_ORIGIN },
    { "Expect 100-continue", "PUT /up" H11 "Expect: 100-Continue\r\nContent-Length: 10\r\n\r\n", 0, "PUT", "/up", NULL, NULL, 1, CG_BODY_LENGTH, 10, 1, 1, 3, CG_TARGET_ORIGIN },
    { "Expect ignored in HTTP/1.0", "PUT /up HTTP/1.0\r\nExpect: something-else\r\n\r\n", 0, "PUT", NULL, NULL, NULL, 0, CG_BODY_NONE, 0, 0, 0, 1, CG_TARGET_ORIGIN },
    { "absolute-form takes its host", "GET http://Example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n", 0, "GET", "/p", "q", "Example.com:8080", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ABSOLUTE },
    { "absolute-form without path", "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, "GET", "/", "", "example.com", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ABSOLUTE },
    { "absolute-form https, query only", "GET HTTPS://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n", 0, "GET", "/", "x", "example.com", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ABSOLUTE },
    { "OPTIONS *", "OPTIONS *" H11 "\r\n", 0, "OPTIONS", "*", "", "example.com", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ASTERISK },
    { "CONNECT authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 0, "CONNECT", NULL, "", "example.com:443", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_AUTHORITY },
    { "leading empty lines", "\r\n\r\n\r\n\r\nGET /" H11 "\r\n", 0, "GET", "/", NULL, NULL, 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "extension method", "PROPFIND /dav" H11 "\r\n", 0, "PROPFIND", "/dav", NULL, NULL, 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "token method with symbols", "M-SEARCH! /x" H11 "\r\n", 0, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, 0 },
    { "empty header value", "GET /" H11 "X-Empty:\r\nX-Blank:   \r\n\r\n", 0, "GET", NULL, NULL, NULL, 1, CG_BODY_NONE, 0, 1, 0, 3, CG_TARGET_ORIGIN },
    { "obs-text and tab in value", "GET /" H11 "X-Name: caf\xc3\xa9\tok\r\n\r\n", 0, "GET", NULL, NULL, NULL, 1, CG_BODY_NONE, 0, 1, 0, 2, CG_TARGET_ORIGIN },
    { "IPv6 Host with port", "GET / HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", 0, "GET", "/", NULL, "[::1]:8443", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, "GET", "/", NULL, "", 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "lower-case names", "GET / HTTP/1.1\r\nhost: a.example\r\ncontent-length: 2\r\n\r\n", 0, "GET", "/", NULL, "a.example", 1, CG_BODY_LENGTH, 2, 1, 0, 2, CG_TARGET_ORIGIN },
    { "pipelined: first request only", "GET /1" H11 "\r\nGET /2" H11 "\r\n", 38, "GET", "/1", NULL, NULL, 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
    { "raw specials in target", "GET /a|b^c{d}\"e\\f<g>`" H11 "\r\n", 0, "GET", "/a|b^c{d}\"e\\f<g>`", NULL, NULL, 1, CG_BODY_NONE, 0, 1, 0, 1, CG_TARGET_ORIGIN },
};

/* Fields left at zero in a case are checked only when the case names a
 * method (the M-SEARCH case checks acceptance alone). */
static void check_ok(const struct ok_case *c, const struct parsed *r, size_t len)
{
    size_t head = len - c->tail;
    if (r->rc != (long)head)
        fail_msg("%s: rc %ld (status %d, %s), want %zu", c->name, r->rc, r->status,
                 r->why ? r->why : "-", head);
    if (!c->method)
        return;
    if (!slice_is(r->req.method, c->method))
        fail_msg("%s: method", c->name);
    if (!slice_is(r->req.path, c->path))
        fail_msg("%s: path '%.*s'", c->name, (int)r->req.path.len, r->req.path.p);
    if (!slice_is(r->req.query, c->query))
        fail_msg("%s: query '%.*s'", c->name, (int)r->req.query.len, r->req.query.p);
    if (!slice_is(r->req.host, c->host))
        fail_msg("%s: host '%.*s'", c->name, (int)r->req.host.len, r->req.host.p);
    if (r->req.minor_version != c->minor || r->req.body != c->body ||
        r->req.keep_alive != c->keep_alive || r->req.expect_continue != c->expect_continue ||
        r->req.n_headers != c->n_headers || r->req.target_form != c->form)
        fail_msg("%s: minor %d body %d ka %d expect %d headers %zu form %d", c->name,
                 r->req.minor_version, r->req.body, r->req.keep_alive, r->req.expect_continue,
                 r->req.n_headers, r->req.target_form);
    if (c->body == CG_BODY_LENGTH && r->req.content_length != c->content_length)
        fail_msg("%s: content_length %llu", c->name, (unsigned long long)r->req.content_length);
}

static void test_accepts(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        struct parsed r;
        size_t len = strlen(c->in);
        parse_guarded(c->in, len, &limits, &r);
        check_ok(c, &r, len);
    }
}

/* Every proper prefix of an accepted head is incomplete, never an error. */
static void test_accepts_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        size_t head = strlen(c->in) - c->tail;
        for (size_t k = 0; k < head; k++) {
            struct parsed r;
            parse_guarded(c->in, k, &limits, &r);
            if (r.rc != CG_AGAIN)
                fail_msg("%s: prefix %zu gave %ld (%s)", c->name, k, r.rc, r.why ? r.why : "-");
        }
    }
}

static void test_header_slices(void **state)
{
    (void)state;
    const char *in = "GET / HTTP/1.1\r\nHost: h\r\nX-A:  one two \t\r\nx-b:\r\n\r\n";
    struct parsed r;
    parse_guarded(in, strlen(in), &limits, &r);
    assert_int_equal(r.rc, (long)strlen(in));
    assert_int_equal(r.req.n_headers, 3);
    assert_true(slice_is(r.headers[1].name, "X-A"));
    assert_true(slice_is(r.headers[1].value, "one two"));
    assert_true(slice_is(r.headers[2].value, ""));
    const struct cg_http_header *h = cg_http_find_header(&r.req, "x-a");
    assert_non_null(h);
    assert_true(slice_is(h->value, "one two"));
    assert_non_null(cg_http_find_header(&r.req, "X-B"));
    assert_null(cg_http_find_header(&r.req, "x-c"));
    assert_null(cg_http_find_header(&r.req, "x-"));
}

/* ---- refused requests ---- */

struct bad_case {
    const char *name;
    const char *in;
    size_t len;     /* 0: strlen(in); for inputs holding NUL */
    int status;
};

#define WITH_NUL(s) s, sizeof(s) - 1

static const struct bad_case bad_cases[] = {
    /* request line */
    { "HTTP/0.9 request", "GET /\r\n\r\n", 0, 400 },
    { "no target, no version", "GET\r\n\r\n", 0, 400 },
    { "lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "version with trailing SP", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 0, 400 },
    { "version without minor", "GET / HTTP/1\r\nHost: a\r\n\r\n", 0, 400 },
    { "two-digit minor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", 0, 400 },
    { "two-digit major", "GET / HTTP/11\r\nHost: a\r\n\r\n", 0, 400 },
    { "version garbage", "GET / HTTX/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "double SP before target", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "double SP before version", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "HTAB after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "non-token method", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "fragment in target", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "DEL in target", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "NUL in target", WITH_NUL("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
    { "bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 0, 400 },
    { "CR CR LF ending", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 0, 400 },
    { "asterisk for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "CONNECT with origin-form", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "authority-form for GET", "GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "absolute-form with userinfo", "GET http://u:p@example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "absolute-form other scheme", "GET ftp://example.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "absolute-form empty authority", "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "absolute-form bad authority", "GET http://exa%6dple.com/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "too many leading CRLF", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "leading bare CR", "\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 400 },
    { "TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, 400 },
    /* header lines */
    { "obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 0, 400 },
    { "obs-fold with HTAB", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 0, 400 },
    { "whitespace before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0, 400 },
    { "SP before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 0, 400 },
    { "HTAB before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 0, 400 },
    { "empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: a\r\n\r\n", 0, 400 },
    { "non-token header name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): a\r\n\r\n", 0, 400 },
    { "non-ASCII header name", "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: a\r\n\r\n", 0, 400 },
    { "header without colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo\r\n\r\n", 0, 400 },
    { "NUL in header value", WITH_NUL("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"), 400 },
    { "DEL in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 0, 400 },
    { "control octet in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 0, 400 },
    { "bare CR in header value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 0, 400 },
    { "bare LF ending a header", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 0, 400 },
    { "bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n", 0, 400 },
    { "CR not followed by LF at head end", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 0, 400 },
    /* Host */
    { "missing Host", "GET / HTTP/1.1\r\nX: a\r\n\r\n", 0, 400 },
    { "two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 0, 400 },
    { "two Hosts in HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 0, 400 },
    { "Host with SP", "GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", 0, 400 },
    { "Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 0, 400 },
    { "Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 0, 400 },
    { "Host port out of range", "GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n", 0, 400 },
    { "Host unclosed IPv6", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 0, 400 },
    { "Host list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 0, 400 },
    /* Content-Length */
    { "Content-Length not digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 0, 400 },
    { "Content-Length with sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 0, 400 },
    { "Content-Length negative", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 0, 400 },
    { "Content-Length hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 0, 400 },
    { "Content-Length with inner SP", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", 0, 400 },
    { "Content-Length differing list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 0, 400 },
    { "Content-Length differing fields", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 0, 400 },
    { "Content-Length empty member", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", 0, 400 },
    { "Content-Length empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 0, 400 },
    { "Content-Length 2^63", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\n", 0, 400 },
    { "Content-Length 2^64+", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, 400 },
    /* Transfer-Encoding */
    { "TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400 },
    { "CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 0, 400 },
    { "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400 },
    { "chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 0, 400 },
    { "chunked twice across fields", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400 },
    { "chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 0, 400 },
    { "no chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 400 },
    { "TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 0, 400 },
    { "TE with parameter", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", 0, 400 },
    { "TE with junk", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 0, 400 },
    { "TE gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 501 },
    { "TE identity then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 501 },
    /* Connection and Expect */
    { "Connection non-token", "GET / HTTP/1.1\r\nHost: a\r\nConnection: clo se\r\n\r\n", 0, 400 },
    { "Expect unknown", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 0, 417 },
    { "Expect 100-continue and more", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n", 0, 417 },
    /* versions */
    { "HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, 505 },
    { "HTTP/2", "GET / HTTP/2\r\nHost: a\r\n\r\n", 0, 505 },
    { "HTTP/3.0", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 0, 505 },
    { "HTTP/0.9 spelled out", "GET / HTTP/0.9\r\n\r\n", 0, 505 },
    { "HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, 505 },
    { "HTTP/9.9", "GET / HTTP/9.9\r\nHost: a\r\n\r\n", 0, 505 },
};

static void check_bad(const struct bad_case *c)
{
    size_t len = c->len ? c->len : strlen(c->in);
    struct parsed r;
    parse_guarded(c->in, len, &limits, &r);
    if (r.rc != CG_ERR || r.status != c->status)
        fail_msg("%s: rc %ld status %d (%s), want %d", c->name, r.rc, r.status,
                 r.why ? r.why : "-", c->status);
    if (!r.why)
        fail_msg("%s: no reason", c->name);
}

static void test_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(bad_cases); i++)
        check_bad(&bad_cases[i]);
}

/* A prefix of a refused request is incomplete or refused the same way:
 * never accepted, never a different status. */
static void test_rejects_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        for (size_t k = 0; k < len; k++) {
            struct parsed r;
            parse_guarded(c->in, k, &limits, &r);
            if (r.rc == CG_AGAIN)
                continue;
            if (r.rc != CG_ERR || r.status != c->status)
                fail_msg("%s: prefix %zu gave rc %ld status %d", c->name, k, r.rc, r.status);
        }
    }
}

/* ---- limits ---- */

static char big[3 * 4096];

/* "GET /<n - 1 a's> HTTP/1.1\r\nHost: a\r\n\r\n" with a target of n bytes. */
static size_t request_with_target(size_t n)
{
    size_t len = 0;
    memcpy(big, "GET /", 5);
    len = 5;
    memset(big + len, 'a', n - 1);
    len += n - 1;
    static const char rest[] = " HTTP/1.1\r\nHost: a\r\n\r\n";
    memcpy(big + len, rest, sizeof(rest) - 1);
    return len + sizeof(rest) - 1;
}

static void test_target_limit(void **state)
{
    (void)state;
    struct parsed r;
    size_t len = request_with_target(limits.max_target_bytes);
    parse_guarded(big, len, &limits, &r);
    assert_int_equal(r.rc, (long)len);

    len = request_with_target(limits.max_target_bytes + 1);
    parse_guarded(big, len, &limits, &r);
    assert_int_equal(r.rc, CG_ERR);
    assert_int_equal(r.status, 414);

    /* Known as soon as the target outgrows the limit, before the line ends. */
    parse_guarded(big, 5 + limits.max_target_bytes, &limits, &r);
    assert_int_equal(r.rc, CG_ERR);
    assert_int_equal(r.status, 414);
    parse_guarded(big, 4 + limits.max_target_bytes, &limits, &r);
    assert_int_equal(r.rc, CG_AGAIN);

    /* 0 means half the head limit. */
    struct cg_http_limits half = limits;
    half.max_target_bytes = 0;
    len = request_with_target(half.max_header_bytes / 2 + 1);
    parse_guarded(big, len, &half, &r);
    assert_int_equal(r.status, 414);
}

static void test_head_limit(void **state)
{
    (void)state;
    struct parsed r;
    const char *start = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ";
    size_t head = limits.max_header_bytes;

    /* A head of exactly max_header_bytes is fine, one byte more is a 431. */
    for (size_t want = head; want <= head + 1; want++) {
        size_t len = strlen(start);
        memcpy(big, start, len);
        memset(big + len, 'v', want - len - 4);
        len = want - 4;
        memcpy(big + len, "\r\n\r\n", 4);
        len += 4;
        parse_guarded(big, len, &limits, &r);
        if (want == head) {
            assert_int_equal(r.rc, (long)len);
        } else {
            assert_int_equal(r.rc, CG_ERR);
            assert_int_equal(r.status, 431);
        }
    }

    /* An incomplete head: waiting below the limit, 431 once it is reached. */
    memset(big, 0, sizeof(big));
    memcpy(big, start, strlen(start));
    memset(big + strlen(start), 'v', sizeof(big) - strlen(start));
    parse_guarded(big, head - 1, &limits, &r);
    assert_int_equal(r.rc, CG_AGAIN);
    parse_guarded(big, head, &limits, &r);
    assert_int_equal(r.rc, CG_ERR);
    assert_int_equal(r.status, 431);
    parse_guarded(big, sizeof(big), &limits, &r);
    assert_int_equal(r.status, 431);

    /* An endless request line with a target under its limit: 431 too. */
    struct cg_http_limits wide = limits;
    wide.max_target_bytes = sizeof(big);
    memcpy(big, "GET /", 5);
    memset(big + 5, 'a', sizeof(big) - 5);
    parse_guarded(big, sizeof(big), &wide, &r);
    assert_int_equal(r.status, 431);
}

static void test_header_count_limit(void **state)
{
    (void)state;
    struct parsed r;
    for (size_t n = MAX_HEADERS; n <= MAX_HEADERS + 1; n++) {
        size_t len = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
        for (size_t i = 1; i < n; i++)
            len += (size_t)sprintf(big + len, "X-%zu: v\r\n", i);
        len += (size_t)sprintf(big + len, "\r\n");
        parse_guarded(big, len, &limits, &r);
        if (n == MAX_HEADERS) {
            assert_int_equal(r.rc, (long)len);
            assert_int_equal(r.req.n_headers, MAX_HEADERS);
        } else {
            assert_int_equal(r.rc, CG_ERR);
            assert_int_equal(r.status, 431);
        }
    }
}

static void test_head_complete(void **state)
{
    (void)state;
    const char *in = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
    size_t end = strlen(in) - 4;
    for (size_t k = 0; k <= strlen(in); k++) {
        struct guarded g = guard_place(in, k);
        size_t got = cg_http_head_complete(g.p, k, 0);
        assert_int_equal(got, k >= end ? end : 0);
        /* Resuming from any earlier length that had no end yet finds it too. */
        for (size_t from = 0; from <= k && from < end; from++)
            assert_int_equal(cg_http_head_complete(g.p, k, from), got);
        guard_release(&g);
    }
}

/* ---- speed ---- */

static const char typical[] =
    "GET /assets/css/site.min.css?v=20240101 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/css,*/*;q=0.1\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

/* Not a pass/fail figure (sanitizer and debug builds are slow): it prints
 * the cost per parse so that a release build can be read off the log. The
 * best of several batches is reported, as other work on the machine only
 * ever adds time. */
static void test_speed(void **state)
{
    (void)state;
    struct guarded g = guard_place(typical, sizeof(typical) - 1);
    struct cg_http_header headers[MAX_HEADERS];
    struct cg_http_request req = { .headers = headers };
    const long batches = 20, rounds = 20000;
    double best = 1e30;
    long sum = 0;

    for (long b = 0; b < batches; b++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < rounds; i++)
            sum += cg_http_parse_request(g.p, sizeof(typical) - 1, &limits, &req, NULL, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                    (double)rounds;
        if (ns < best)
            best = ns;
    }
    guard_release(&g);
    assert_int_equal(sum, batches * rounds * (long)(sizeof(typical) - 1));
    assert_int_equal(req.n_headers, 7);
    print_message("parse of a %zu-byte request: %.0f ns (best of %ld x %ld)\n",
                  sizeof(typical) - 1, best, batches, rounds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts),
        cmocka_unit_test(test_accepts_every_split),
        cmocka_unit_test(test_header_slices),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_rejects_every_split),
        cmocka_unit_test(test_target_limit),
        cmocka_unit_test(test_head_limit),
        cmocka_unit_test(test_header_count_limit),
        cmocka_unit_test(test_head_complete),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

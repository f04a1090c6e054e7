/* The chunked decoder: payload and framing for whole inputs, for every way
 * of cutting them in two and for one byte at a time; refusals with their
 * status. Every buffer sits against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/common.h"
#include "http/guard.h"
#include "http/parser.h"

#define MAX_TRAILER 64

struct ok_case {
    const char *name;
    const char *in;
    const char *payload;
    size_t tail;   /* bytes after the chunked body, left unconsumed */
};

static const struct ok_case ok_cases[] = {
    { "one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", 0 },
    { "two chunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0 },
    { "empty body", "0\r\n\r\n", "", 0 },
    { "upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0 },
    { "lower-case hex", "b\r\n0123456789a\r\n0\r\n\r\n", "0123456789a", 0 },
    { "leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", 0 },
    { "extension with token value", "5;foo=bar\r\nhello\r\n0\r\n\r\n", "hello", 0 },
    { "extension without value", "5;name\r\nhello\r\n0;last\r\n\r\n", "hello", 0 },
    { "extensions with BWS", "5 ; a = b ;c\t;d=\"x\"\r\nhello\r\n0\r\n\r\n", "hello", 0 },
    { "quoted extension with escapes", "5;q=\"a\\\"b;c,d \\\\\"\r\nhello\r\n0\r\n\r\n", "hello", 0 },
    { "quoted extension then more", "5;q=\"\" ; r=s\r\nhello\r\n0\r\n\r\n", "hello", 0 },
    { "trailers", "5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: \t v \r\n\r\n", "hello", 0 },
    { "CRLF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", 0 },
    { "next request follows", "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "abc", 16 },
    { "binary data", "3\r\n\x01\xff\x7f\r\n0\r\n\r\n", "\x01\xff\x7f", 0 },
};

/* Feeds in[0..len) in pieces cut at the given points, all against guard
 * pages, collecting the payload. Returns the last return code. */
static int feed(const char *in, size_t len, const size_t *cuts, size_t n_cuts,
                char *payload, size_t *payload_len, size_t *total_consumed,
                struct cg_chunked_decoder *d)
{
    size_t start = 0;
    int rc = CG_AGAIN;
    *payload_len = 0;
    *total_consumed = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t stop = i < n_cuts ? cuts[i] : len;
        size_t consumed = 0, got = 0;
        struct guarded g = guard_place(in + start, stop - start);
        rc = cg_chunked_decode(d, g.p, stop - start, &consumed, &got);
        assert_true(consumed <= stop - start);
        assert_true(got <= consumed);
        memcpy(payload + *payload_len, g.p, got);
        *payload_len += got;
        *total_consumed += consumed;
        guard_release(&g);
        if (rc != CG_AGAIN)
            return rc;
        assert_int_equal(consumed, stop - start);   /* AGAIN uses everything */
        start = stop;
    }
    return rc;
}

static void check_ok(const struct ok_case *c, const size_t *cuts, size_t n_cuts)
{
    size_t len = strlen(c->in), plen, used;
    char payload[256];
    struct cg_chunked_decoder d;
    cg_chunked_init(&d, MAX_TRAILER);
    int rc = feed(c->in, len, cuts, n_cuts, payload, &plen, &used, &d);
    if (rc != CG_OK)
        fail_msg("%s (cut at %zu): rc %d (%s)", c->name, n_cuts ? cuts[0] : 0, rc,
                 d.why ? d.why : "-");
    if (used != len - c->tail)
        fail_msg("%s: consumed %zu, want %zu", c->name, used, len - c->tail);
    if (plen != strlen(c->payload) || memcmp(payload, c->payload, plen) != 0)
        fail_msg("%s: payload '%.*s'", c->name, (int)plen, payload);

    /* Done is sticky: nothing more is consumed. */
    size_t consumed = 99, got = 99;
    char more[] = "5\r\nhello";
    assert_int_equal(cg_chunked_decode(&d, more, 8, &consumed, &got), CG_OK);
    assert_int_equal(consumed, 0);
    assert_int_equal(got, 0);
}

static void test_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(ok_cases); i++)
        check_ok(&ok_cases[i], NULL, 0);
}

static void test_every_split(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        size_t end = strlen(c->in) - c->tail;
        for (size_t k = 0; k <= end; k++)
            check_ok(c, &k, 1);
    }
}

static void test_every_pair_of_splits(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        size_t end = strlen(c->in) - c->tail;
        for (size_t a = 0; a <= end; a++)
            for (size_t b = a; b <= end; b++) {
                size_t cuts[2] = { a, b };
                check_ok(c, cuts, 2);
            }
    }
}

static void test_byte_at_a_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        size_t end = strlen(c->in) - c->tail, cuts[256];
        assert_true(end <= CG_ARRAY_LEN(cuts));
        for (size_t k = 0; k < end; k++)
            cuts[k] = k + 1;
        check_ok(c, cuts, end - 1);
    }
}

struct bad_case {
    const char *name;
    const char *in;
    int status;
};

static const struct bad_case bad_cases[] = {
    { "empty size", "\r\nhello\r\n0\r\n\r\n", 400 },
    { "non-hex size", "x\r\n", 400 },
    { "negative size", "-1\r\n", 400 },
    { "0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400 },
    { "size overflow", "10000000000000000\r\n", 400 },
    { "size overflow, all f", "fffffffffffffffff\r\n", 400 },
    { "SP after size without extension", "5 \r\nhello\r\n0\r\n\r\n", 400 },
    { "bare LF after size", "5\nhello\r\n0\r\n\r\n", 400 },
    { "bare CR after size", "5\rhello\r\n0\r\n\r\n", 400 },
    { "data longer than size", "5\r\nhelloX\r\n0\r\n\r\n", 400 },
    { "data shorter than size", "5\r\nhell\r\n0\r\n\r\n", 400 },
    { "bare LF after data", "5\r\nhello\n0\r\n\r\n", 400 },
    { "empty extension name", "5;\r\nhello\r\n0\r\n\r\n", 400 },
    { "extension without name", "5;=x\r\nhello\r\n0\r\n\r\n", 400 },
    { "extension with empty value", "5;a=\r\nhello\r\n0\r\n\r\n", 400 },
    { "extension value with SP", "5;a=b c\r\nhello\r\n0\r\n\r\n", 400 },
    { "extension name then junk", "5;a b\r\nhello\r\n0\r\n\r\n", 400 },
    { "extension with CTL", "5;a=\x01\r\nhello\r\n0\r\n\r\n", 400 },
    { "unterminated quoted extension", "5;a=\"b\r\nhello\r\n0\r\n\r\n", 400 },
    { "DEL in quoted extension", "5;a=\"b\x7f\"\r\nhello\r\n0\r\n\r\n", 400 },
    { "junk after quoted extension", "5;a=\"b\"c\r\nhello\r\n0\r\n\r\n", 400 },
    { "trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", 400 },
    { "trailer SP before colon", "0\r\nX : a\r\n\r\n", 400 },
    { "trailer without colon", "0\r\nX\r\n\r\n", 400 },
    { "trailer CTL in value", "0\r\nX: a\x01\r\n\r\n", 400 },
    { "trailer bare LF", "0\r\nX: a\n\r\n", 400 },
    { "bare CR at the end", "0\r\n\r\r", 400 },
    { "bare LF at the end", "0\r\n\n", 400 },
    { "trailers too large", "0\r\nX: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n", 431 },
};

static void test_rejects(void **state)
{
    (void)state;
    char payload[256];
    for (size_t i = 0; i < CG_ARRAY_LEN(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        size_t len = strlen(c->in), plen, used;
        /* Whole, then one byte at a time: the same refusal either way. */
        for (int bytewise = 0; bytewise <= 1; bytewise++) {
            struct cg_chunked_decoder d;
            size_t cuts[256];
            size_t n_cuts = 0;
            if (bytewise)
                for (size_t k = 1; k < len; k++)
                    cuts[n_cuts++] = k;
            cg_chunked_init(&d, MAX_TRAILER);
            int rc = feed(c->in, len, cuts, n_cuts, payload, &plen, &used, &d);
            if (rc != CG_ERR || d.status != c->status || !d.why)
                fail_msg("%s (bytewise %d): rc %d status %d", c->name, bytewise, rc, d.status);
        }
    }
}

static void test_line_limit(void **state)
{
    (void)state;
    static char in[CG_CHUNK_LINE_MAX + 64];
    struct cg_chunked_decoder d;
    size_t consumed, got;

    /* An extension that fills the line up to the limit is fine... */
    size_t len = 0;
    in[len++] = '1';
    in[len++] = ';';
    memset(in + len, 'e', CG_CHUNK_LINE_MAX - 4);
    len += CG_CHUNK_LINE_MAX - 4;
    memcpy(in + len, "\r\nx\r\n0\r\n\r\n", 10);
    struct guarded g = guard_place(in, len + 10);
    cg_chunked_init(&d, MAX_TRAILER);
    assert_int_equal(cg_chunked_decode(&d, g.p, len + 10, &consumed, &got), CG_OK);
    assert_int_equal(got, 1);
    assert_int_equal(g.p[0], 'x');
    guard_release(&g);

    /* ...one byte more is not. */
    in[len] = 'e';
    memcpy(in + len + 1, "\r\nx\r\n0\r\n\r\n", 10);
    g = guard_place(in, len + 11);
    cg_chunked_init(&d, MAX_TRAILER);
    assert_int_equal(cg_chunked_decode(&d, g.p, len + 11, &consumed, &got), CG_ERR);
    assert_int_equal(d.status, 400);
    guard_release(&g);
}

static void test_trailer_limit(void **state)
{
    (void)state;
    /* "X: " + value + CRLF is exactly MAX_TRAILER octets, then one more. */
    for (size_t extra = 0; extra <= 1; extra++) {
        char in[MAX_TRAILER + 16];
        size_t len = 0, value = MAX_TRAILER - 5 + extra, consumed, got;
        memcpy(in, "0\r\nX: ", 6);
        len = 6;
        memset(in + len, 'v', value);
        len += value;
        memcpy(in + len, "\r\n\r\n", 4);
        len += 4;
        struct guarded g = guard_place(in, len);
        struct cg_chunked_decoder d;
        cg_chunked_init(&d, MAX_TRAILER);
        int rc = cg_chunked_decode(&d, g.p, len, &consumed, &got);
        guard_release(&g);
        if (extra == 0) {
            assert_int_equal(rc, CG_OK);
            assert_int_equal(consumed, len);
        } else {
            assert_int_equal(rc, CG_ERR);
            assert_int_equal(d.status, 431);
        }
    }
}

static void test_large_size_and_remaining(void **state)
{
    (void)state;
    /* The largest size is accepted; `remaining` lets the caller refuse it. */
    const char *in = "ffffffffffffffff\r\nab";
    struct guarded g = guard_place(in, strlen(in));
    struct cg_chunked_decoder d;
    size_t consumed, got;
    cg_chunked_init(&d, MAX_TRAILER);
    assert_int_equal(cg_chunked_decode(&d, g.p, strlen(in), &consumed, &got), CG_AGAIN);
    assert_int_equal(consumed, strlen(in));
    assert_int_equal(got, 2);
    assert_true(d.remaining == UINT64_MAX - 2);
    guard_release(&g);
}

static void test_zeroed_decoder(void **state)
{
    (void)state;
    /* A zeroed struct with max_trailer_bytes set works like an initialised one. */
    struct cg_chunked_decoder d = { .max_trailer_bytes = 8 };
    char in[] = "2\r\nok\r\n0\r\n\r\n";
    size_t consumed, got;
    assert_int_equal(cg_chunked_decode(&d, in, strlen(in), &consumed, &got), CG_OK);
    assert_int_equal(got, 2);
    assert_memory_equal(in, "ok", 2);

    /* A limit of 0 refuses trailer fields but not the end of the body. */
    struct cg_chunked_decoder z = {0};
    char end[] = "0\r\n\r\n";
    assert_int_equal(cg_chunked_decode(&z, end, strlen(end), &consumed, &got), CG_OK);
    assert_int_equal(consumed, 5);
    struct cg_chunked_decoder t = {0};
    char trailer[] = "0\r\nX: y\r\n\r\n";
    assert_int_equal(cg_chunked_decode(&t, trailer, strlen(trailer), &consumed, &got), CG_ERR);
    assert_int_equal(t.status, 431);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole),
        cmocka_unit_test(test_every_split),
        cmocka_unit_test(test_every_pair_of_splits),
        cmocka_unit_test(test_byte_at_a_time),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_trailer_limit),
        cmocka_unit_test(test_large_size_and_remaining),
        cmocka_unit_test(test_zeroed_decoder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

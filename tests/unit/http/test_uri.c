/* Path normalisation (every traversal spelling), Host, Accept and Range.
 * Every input sits against a guard page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/common.h"
#include "http/guard.h"
#include "http/uri.h"

#define WITH_LEN(s) s, sizeof(s) - 1

/* ---- paths ---- */

struct path_case {
    const char *in;
    size_t len;
    const char *out;   /* NULL: refused */
    int status;        /* when refused */
};

static const struct path_case path_cases[] = {
    /* plain */
    { WITH_LEN("/"), "/", 0 },
    { WITH_LEN("/a/b/c.html"), "/a/b/c.html", 0 },
    { WITH_LEN("/a/"), "/a/", 0 },
    { WITH_LEN("/caf%C3%A9/%e2%82%ac"), "/caf\xc3\xa9/\xe2\x82\xac", 0 },
    { WITH_LEN("/a%20b"), "/a b", 0 },
    { WITH_LEN("/a%3Fb%23c"), "/a?b#c", 0 },
    { WITH_LEN("/...") , "/...", 0 },
    { WITH_LEN("/..a/a../a..b/.a/a."), "/..a/a../a..b/.a/a.", 0 },
    { WITH_LEN("/%2e%2e%2e"), "/...", 0 },
    /* duplicate slashes */
    { WITH_LEN("//"), "/", 0 },
    { WITH_LEN("///a"), "/a", 0 },
    { WITH_LEN("/a//b///c"), "/a/b/c", 0 },
    { WITH_LEN("/a//"), "/a/", 0 },
    /* dot segments inside the root */
    { WITH_LEN("/./"), "/", 0 },
    { WITH_LEN("/."), "/", 0 },
    { WITH_LEN("/a/./b"), "/a/b", 0 },
    { WITH_LEN("/a/."), "/a/", 0 },
    { WITH_LEN("/a/b/../c"), "/a/c", 0 },
    { WITH_LEN("/a/.."), "/", 0 },
    { WITH_LEN("/a/b/.."), "/a/", 0 },
    { WITH_LEN("/a/b/../../c/"), "/c/", 0 },
    { WITH_LEN("/a//..//b"), "/b", 0 },
    { WITH_LEN("/a/%2e%2e"), "/", 0 },
    { WITH_LEN("/a/%2e/b"), "/a/b", 0 },
    { WITH_LEN("/a/b/%2E%2e/%2e%2E/c"), "/c", 0 },
    /* double encoding stays literal */
    { WITH_LEN("/%252e%252e/x"), "/%2e%2e/x", 0 },
    { WITH_LEN("/%252f"), "/%2f", 0 },
    { WITH_LEN("/%25"), "/%", 0 },
    /* climbing above the root, every spelling */
    { WITH_LEN("/.."), NULL, 400 },
    { WITH_LEN("/../"), NULL, 400 },
    { WITH_LEN("/../etc/passwd"), NULL, 400 },
    { WITH_LEN("/a/../.."), NULL, 400 },
    { WITH_LEN("/a/../../b"), NULL, 400 },
    { WITH_LEN("/./../x"), NULL, 400 },
    { WITH_LEN("//../x"), NULL, 400 },
    { WITH_LEN("/%2e%2e/x"), NULL, 400 },
    { WITH_LEN("/%2E%2E/x"), NULL, 400 },
    { WITH_LEN("/%2E%2e/x"), NULL, 400 },
    { WITH_LEN("/.%2e/x"), NULL, 400 },
    { WITH_LEN("/%2e./x"), NULL, 400 },
    { WITH_LEN("/%2e%2e"), NULL, 400 },
    { WITH_LEN("/a/%2e%2e/%2e%2e/etc"), NULL, 400 },
    { WITH_LEN("/a/b/../../../c"), NULL, 400 },
    /* encoded slash */
    { WITH_LEN("/a%2fb"), NULL, 400 },
    { WITH_LEN("/a%2Fb"), NULL, 400 },
    { WITH_LEN("/%2f"), NULL, 400 },
    { WITH_LEN("/..%2f..%2fetc"), NULL, 400 },
    { WITH_LEN("/%2e%2e%2fetc"), NULL, 400 },
    /* backslash */
    { WITH_LEN("/a\\b"), NULL, 400 },
    { WITH_LEN("/..\\x"), NULL, 400 },
    { WITH_LEN("/a%5cb"), NULL, 400 },
    { WITH_LEN("/a%5Cb"), NULL, 400 },
    { WITH_LEN("/%2e%2e%5cx"), NULL, 400 },
    /* NUL and controls */
    { WITH_LEN("/a%00b"), NULL, 400 },
    { WITH_LEN("/a%00"), NULL, 400 },
    { WITH_LEN("/a\0b"), NULL, 400 },
    { WITH_LEN("/a%0ab"), NULL, 400 },
    { WITH_LEN("/a%0D%0Ab"), NULL, 400 },
    { WITH_LEN("/a%7f"), NULL, 400 },
    { WITH_LEN("/a\x01"), NULL, 400 },
    /* malformed escapes */
    { WITH_LEN("/%"), NULL, 400 },
    { WITH_LEN("/%2"), NULL, 400 },
    { WITH_LEN("/a%"), NULL, 400 },
    { WITH_LEN("/%zz"), NULL, 400 },
    { WITH_LEN("/%g0"), NULL, 400 },
    { WITH_LEN("/%0g"), NULL, 400 },
    { WITH_LEN("/%%32%65"), NULL, 400 },
    { WITH_LEN("/%u002e%u002e/"), NULL, 400 },
    /* not a path */
    { WITH_LEN(""), NULL, 400 },
    { WITH_LEN("a/b"), NULL, 400 },
    { WITH_LEN("%2fa"), NULL, 400 },
    { WITH_LEN("*"), NULL, 400 },
};

static void test_paths(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(path_cases); i++) {
        const struct path_case *c = &path_cases[i];
        char out[128];
        size_t out_len = 999;
        int status = 0;
        const char *why = NULL;
        struct guarded g = guard_place(c->in, c->len);
        int rc = cg_http_path_normalize(g.p, c->len, out, c->len + 1, &out_len, &status, &why);
        guard_release(&g);
        if (c->out) {
            if (rc != CG_OK)
                fail_msg("'%s': refused (%s)", c->in, why ? why : "-");
            if (out_len != strlen(c->out) || strcmp(out, c->out) != 0)
                fail_msg("'%s': got '%s', want '%s'", c->in, out, c->out);
        } else if (rc != CG_ERR || status != c->status || !why) {
            fail_msg("'%s': rc %d status %d, want refusal %d", c->in, rc, status, c->status);
        }
    }
}

static void test_path_output_limit(void **state)
{
    (void)state;
    char out[8];
    size_t out_len;
    int status = 0;
    /* "/abcdef" needs 8 bytes with its NUL. */
    assert_int_equal(cg_http_path_normalize("/abcdef", 7, out, 8, &out_len, &status, NULL), CG_OK);
    assert_string_equal(out, "/abcdef");
    assert_int_equal(cg_http_path_normalize("/abcdefg", 8, out, 8, &out_len, &status, NULL), CG_ERR);
    assert_int_equal(status, 414);
    /* An input longer than the buffer fits once its dot segments go. */
    assert_int_equal(cg_http_path_normalize("/a/.//b/../c", 12, out, 8, &out_len, &status, NULL), CG_OK);
    assert_string_equal(out, "/a/c");
    assert_int_equal(cg_http_path_normalize("/", 1, out, 1, &out_len, &status, NULL), CG_ERR);
    assert_int_equal(status, 414);
}

/* Whatever goes in, what comes out is a clean absolute path. */
static void test_path_invariants(void **state)
{
    (void)state;
    static const char alphabet[] = { '/', '.', 'a', '%', '2', 'e', 'E', 'f' };
    char in[8], out[16];
    size_t n_alpha = sizeof(alphabet), out_len;
    /* Every string of length 7 over the alphabet, starting with '/'. */
    size_t total = 1;
    for (int i = 1; i < 7; i++)
        total *= n_alpha;
    for (size_t x = 0; x < total; x++) {
        size_t v = x;
        in[0] = '/';
        for (int i = 1; i < 7; i++, v /= n_alpha)
            in[i] = alphabet[v % n_alpha];
        if (cg_http_path_normalize(in, 7, out, sizeof(out), &out_len, NULL, NULL) != CG_OK)
            continue;
        assert_int_equal(out[0], '/');
        assert_int_equal(strlen(out), out_len);
        assert_null(strstr(out, "//"));
        assert_null(strstr(out, "/./"));
        assert_null(strstr(out, "/../"));
        assert_false(out_len >= 2 && strcmp(out + out_len - 2, "/.") == 0);
        assert_false(out_len >= 3 && strcmp(out + out_len - 3, "/..") == 0);
        /* Normalising is idempotent when nothing is left to decode. */
        if (!strchr(out, '%')) {
            char again[16];
            size_t again_len;
            assert_int_equal(cg_http_path_normalize(out, out_len, again, sizeof(again),
                                                    &again_len, NULL, NULL), CG_OK);
            assert_string_equal(again, out);
        }
    }
}

/* ---- Host ---- */

struct host_case {
    const char *in;
    size_t len;
    const char *out;   /* NULL: refused */
    int port;
};

static const struct host_case host_cases[] = {
    { WITH_LEN("example.com"), "example.com", -1 },
    { WITH_LEN("Example.COM:8443"), "example.com", 8443 },
    { WITH_LEN("example.com."), "example.com", -1 },
    { WITH_LEN("example.com.:80"), "example.com", 80 },
    { WITH_LEN("localhost:0"), "localhost", 0 },
    { WITH_LEN("a:65535"), "a", 65535 },
    { WITH_LEN("a_b-c.example"), "a_b-c.example", -1 },
    { WITH_LEN("127.0.0.1:8080"), "127.0.0.1", 8080 },
    { WITH_LEN("[::1]"), "[::1]", -1 },
    { WITH_LEN("[::1]:8443"), "[::1]", 8443 },
    { WITH_LEN("[2001:DB8::1]"), "[2001:db8::1]", -1 },
    { WITH_LEN("[::ffff:192.0.2.1]:1"), "[::ffff:192.0.2.1]", 1 },
    { WITH_LEN("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b"),
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b", -1 },
    { WITH_LEN(""), NULL, 0 },
    { WITH_LEN(":80"), NULL, 0 },
    { WITH_LEN("."), NULL, 0 },
    { WITH_LEN("example.com:"), NULL, 0 },
    { WITH_LEN("example.com:65536"), NULL, 0 },
    { WITH_LEN("example.com:123456"), NULL, 0 },
    { WITH_LEN("example.com:8a"), NULL, 0 },
    { WITH_LEN("example.com:-1"), NULL, 0 },
    { WITH_LEN("example.com:80:80"), NULL, 0 },
    { WITH_LEN("exa mple.com"), NULL, 0 },
    { WITH_LEN("a..b"), NULL, 0 },
    { WITH_LEN(".a"), NULL, 0 },
    { WITH_LEN("a.."), NULL, 0 },
    { WITH_LEN("a/b"), NULL, 0 },
    { WITH_LEN("a\\b"), NULL, 0 },
    { WITH_LEN("u@a"), NULL, 0 },
    { WITH_LEN("ex%41mple"), NULL, 0 },
    { WITH_LEN("a\0b"), NULL, 0 },
    { WITH_LEN("caf\xc3\xa9.example"), NULL, 0 },
    { WITH_LEN("[::1"), NULL, 0 },
    { WITH_LEN("::1"), NULL, 0 },
    { WITH_LEN("[::1]x"), NULL, 0 },
    { WITH_LEN("[::1]:"), NULL, 0 },
    { WITH_LEN("[]"), NULL, 0 },
    { WITH_LEN("[::g]"), NULL, 0 },
    { WITH_LEN("[1.2.3.4]"), NULL, 0 },
    { WITH_LEN("[fe80::1%25eth0]"), NULL, 0 },
    { WITH_LEN("[v1.abc]"), NULL, 0 },
    { WITH_LEN("[::1]]"), NULL, 0 },
    { WITH_LEN("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b"), NULL, 0 },
};

static void test_hosts(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(host_cases); i++) {
        const struct host_case *c = &host_cases[i];
        char out[300];
        size_t out_len = 0;
        int port = -7;
        struct guarded g = guard_place(c->in, c->len);
        int rc = cg_http_host_normalize(g.p, c->len, out, c->len + 1, &out_len, &port);
        int rc_check = cg_http_host_normalize(g.p, c->len, NULL, 0, NULL, NULL);
        guard_release(&g);
        if (rc != rc_check)
            fail_msg("'%s': validating alone disagrees", c->in);
        if (c->out) {
            if (rc != CG_OK || strcmp(out, c->out) != 0 || out_len != strlen(c->out) ||
                port != c->port)
                fail_msg("'%s': rc %d '%s' port %d", c->in, rc, rc == CG_OK ? out : "", port);
        } else if (rc != CG_ERR) {
            fail_msg("'%s': accepted as '%s'", c->in, out);
        }
    }
}

static void test_host_lengths(void **state)
{
    (void)state;
    char in[300], out[300];
    size_t out_len;
    /* 253 characters in labels of 63: accepted; 254: refused. */
    for (size_t total = 253; total <= 254; total++) {
        for (size_t i = 0; i < total; i++)
            in[i] = (i % 64 == 63) ? '.' : 'x';
        int rc = cg_http_host_normalize(in, total, out, sizeof(out), &out_len, NULL);
        assert_int_equal(rc, total == 253 ? CG_OK : CG_ERR);
    }
    /* The output buffer must hold the host and its NUL. */
    assert_int_equal(cg_http_host_normalize("abc:1", 5, out, 3, &out_len, NULL), CG_ERR);
    assert_int_equal(cg_http_host_normalize("abc:1", 5, out, 4, &out_len, NULL), CG_OK);
    assert_string_equal(out, "abc");
}

/* ---- Accept ---- */

struct accept_case {
    const char *in;   /* NULL: no header */
    bool json;
};

static const struct accept_case accept_cases[] = {
    { NULL, false },
    { "", false },
    { "*/*", false },
    { "application/json", true },
    { "application/problem+json", true },
    { "APPLICATION/JSON", true },
    { "text/html", false },
    { "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8", false },
    { "application/json, text/html;q=0.9", true },
    { "text/html;q=0.5, application/json;q=0.5", false },
    { "text/html;q=0.5, application/json;q=0.501", true },
    { "application/*", true },
    { "application/*;q=0.2, text/*;q=0.1", true },
    { "text/*;q=0.1, application/json;q=0.9", true },
    { "application/json;q=0", false },
    { "application/json;q=0.000", false },
    { "*/*;q=0.1, application/problem+json", true },
    { "application/json;q=1.5", false },
    { "application/json;q=1.0001", false },
    { "application/json;q=", false },
    { "application/json ; q=0.8 , text/html ; q=0.7", true },
    { "application/json; charset=\"a,b\"; q=0.9, text/html;q=0.1", true },
    { "garbage, application/json", true },
    { ",,, application/json ,,", true },
    { "text/html;q=0, */*", true },
    { "*/json", false },
    { "application/json;q=0.9, application/*;q=1, text/html;q=0.95", true },
    { "application/problem+json;q=0.4, application/json;q=0.3, text/html;q=0.35", true },
    { "application/json;level=1", true },
    { "text/plain", false },
    { "application/json, text/html", false },
    { "\"application/json\"", false },
};

static void test_accept(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(accept_cases); i++) {
        const struct accept_case *c = &accept_cases[i];
        bool got;
        if (!c->in) {
            got = cg_http_prefers_json(NULL, 0);
        } else {
            struct guarded g = guard_place(c->in, strlen(c->in));
            got = cg_http_prefers_json(g.p, strlen(c->in));
            guard_release(&g);
        }
        if (got != c->json)
            fail_msg("'%s': %d", c->in ? c->in : "(none)", got);
    }
}

/* ---- Range ---- */

struct range_case {
    const char *in;
    uint64_t size;
    int rc;
    uint64_t first, last;
};

static const struct range_case range_cases[] = {
    { "bytes=0-99", 1000, CG_OK, 0, 99 },
    { "bytes=-500", 1000, CG_OK, 500, 999 },
    { "bytes=100-", 1000, CG_OK, 100, 999 },
    { "bytes=0-", 1000, CG_OK, 0, 999 },
    { "bytes=990-2000", 1000, CG_OK, 990, 999 },
    { "bytes=-2000", 1000, CG_OK, 0, 999 },
    { "bytes=999-999", 1000, CG_OK, 999, 999 },
    { "bytes=0-0", 1, CG_OK, 0, 0 },
    { "BYTES=0-1", 1000, CG_OK, 0, 1 },
    { "bytes= 0-1 ", 1000, CG_OK, 0, 1 },
    { "bytes=0-99999999999999999999999", 1000, CG_OK, 0, 999 },
    { "bytes=-99999999999999999999999", 1000, CG_OK, 0, 999 },
    { "bytes=1000-", 1000, CG_ERR, 0, 0 },
    { "bytes=1000-1001", 1000, CG_ERR, 0, 0 },
    { "bytes=-0", 1000, CG_ERR, 0, 0 },
    { "bytes=0-", 0, CG_ERR, 0, 0 },
    { "bytes=-5", 0, CG_ERR, 0, 0 },
    { "bytes=99999999999999999999999-", 1000, CG_ERR, 0, 0 },
    { "bytes=0-1,5-6", 1000, CG_DECLINED, 0, 0 },
    { "bytes=0-1, 5-6", 1000, CG_DECLINED, 0, 0 },
    { "bytes=0-1,", 1000, CG_DECLINED, 0, 0 },
    { "bytes=5-2", 1000, CG_DECLINED, 0, 0 },
    { "bytes=", 1000, CG_DECLINED, 0, 0 },
    { "bytes=-", 1000, CG_DECLINED, 0, 0 },
    { "bytes=a-b", 1000, CG_DECLINED, 0, 0 },
    { "bytes=0-1x", 1000, CG_DECLINED, 0, 0 },
    { "bytes=--1", 1000, CG_DECLINED, 0, 0 },
    { "bytes=+1-2", 1000, CG_DECLINED, 0, 0 },
    { "bytes=1", 1000, CG_DECLINED, 0, 0 },
    { "bytes 0-1", 1000, CG_DECLINED, 0, 0 },
    { "items=0-1", 1000, CG_DECLINED, 0, 0 },
    { "=0-1", 1000, CG_DECLINED, 0, 0 },
    { "", 1000, CG_DECLINED, 0, 0 },
};

static void test_ranges(void **state)
{
    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(range_cases); i++) {
        const struct range_case *c = &range_cases[i];
        uint64_t first = 7, last = 7;
        struct guarded g = guard_place(c->in, strlen(c->in));
        int rc = cg_http_range_parse(g.p, strlen(c->in), c->size, &first, &last);
        guard_release(&g);
        if (rc != c->rc)
            fail_msg("'%s' of %llu: rc %d, want %d", c->in, (unsigned long long)c->size, rc, c->rc);
        if (rc == CG_OK && (first != c->first || last != c->last))
            fail_msg("'%s': %llu-%llu", c->in, (unsigned long long)first, (unsigned long long)last);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_path_output_limit),
        cmocka_unit_test(test_path_invariants),
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_host_lengths),
        cmocka_unit_test(test_accept),
        cmocka_unit_test(test_ranges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_static.c: static file decisions against a real directory tree with
 * real symlinks (inside and escaping the root), a FIFO, hidden files,
 * index files, conditional requests, ranges and MIME types; both the
 * openat2 resolution and the fallback walk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/static.h"

static char base[512], rootdir[600];
static struct cg_static_root *root, *root_follow;
static const time_t MTIME = 1767225600;   /* 2026-01-01 00:00:00 UTC */

static void put_file(const char *rel, const char *content)
{
    char path[1200];
    FILE *f;
    struct timespec ts[2] = { { MTIME, 0 }, { MTIME, 0 } };

    snprintf(path, sizeof(path), "%s/%s", base, rel);
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void put_dir(const char *rel)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", base, rel);
    assert_int_equal(mkdir(path, 0755), 0);
}

static void put_link(const char *target, const char *rel)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", base, rel);
    assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
    const char *tmp = getenv("CG_TMPDIR");
    char tmpl[512], path[1200], *err = NULL;

    if (tmp == NULL)
        tmp = "/tmp";
    mkdir(tmp, 0755);
    snprintf(tmpl, sizeof(tmpl), "%s/test_static.XXXXXX", tmp);
    if (mkdtemp(tmpl) == NULL)
        return -1;
    snprintf(base, sizeof(base), "%s", tmpl);
    snprintf(rootdir, sizeof(rootdir), "%s/www", base);

    put_file("outside.txt", "secret outside root\n");
    put_dir("www");
    put_file("www/index.html", "<h1>home</h1>\n");
    put_file("www/hello.txt", "hello world\n");   /* 12 bytes */
    put_file("www/style.css", "body{}\n");
    put_file("www/img.PNG", "png");
    put_file("www/noext", "x");
    put_file("www/with space.txt", "spaced\n");
    put_file("www/.hidden", "hidden\n");
    put_dir("www/.git");
    put_file("www/.git/config", "[core]\n");
    put_dir("www/.well-known");
    put_file("www/.well-known/acme.txt", "token\n");
    put_dir("www/sub");
    put_file("www/sub/index.html", "<h1>sub</h1>\n");
    put_dir("www/empty");
    put_dir("www/a dir");
    put_dir("www/idxdir");
    put_dir("www/idxdir/index.html");   /* an index that is a directory */
    put_link("hello.txt", "www/inlink");
    put_link("sub", "www/dirlink");
    put_link("../hello.txt", "www/sub/up");
    put_link("../outside.txt", "www/escape");
    snprintf(path, sizeof(path), "%s/outside.txt", base);
    put_link(path, "www/abs");
    snprintf(path, sizeof(path), "%s/www/fifo", base);
    if (mkfifo(path, 0644) != 0)
        return -1;
    if (cg_static_root_open(rootdir, false, &root, &err) != CG_OK)
        return -1;
    if (cg_static_root_open(rootdir, true, &root_follow, &err) != CG_OK)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    char cmd[700];

    cg_static_root_close(root);
    cg_static_root_close(root_follow);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    return system(cmd) == 0 ? 0 : -1;
}

static struct cg_slice sl(const char *s)
{
    struct cg_slice r = { s, s != NULL ? strlen(s) : 0 };
    return r;
}

struct hdrs {
    const char *inm, *ims, *range, *if_range, *query;
};

static void req3(const struct cg_static_root *r, const char *method, const char *path,
                 const struct hdrs *h, struct cg_static_result *out)
{
    struct cg_static_request req;
    static const struct hdrs none;

    if (h == NULL)
        h = &none;
    memset(&req, 0, sizeof(req));
    req.method = sl(method);
    req.path = sl(path);
    req.query = sl(h->query);
    req.if_none_match = sl(h->inm);
    req.if_modified_since = sl(h->ims);
    req.range = sl(h->range);
    req.if_range = sl(h->if_range);
    assert_int_equal(cg_static_open(r, &req, out), CG_OK);
}

/* Reads the body the result describes. */
static char *body_of(const struct cg_static_result *res)
{
    char *buf = calloc(1, res->length + 1);
    assert_non_null(buf);
    assert_true(res->fd >= 0);
    assert_int_equal(pread(res->fd, buf, res->length, (off_t)res->offset), (ssize_t)res->length);
    return buf;
}

static void expect_body(const struct cg_static_root *r, const char *path, const char *want)
{
    struct cg_static_result res;
    char *body;

    req3(r, "GET", path, NULL, &res);
    if (res.status != 200)
        fail_msg("%s: status %d, want 200", path, res.status);
    body = body_of(&res);
    assert_string_equal(body, want);
    free(body);
    cg_static_result_release(&res);
    assert_int_equal(res.fd, -1);
}

static void expect_status(const struct cg_static_root *r, const char *method, const char *path,
                          size_t path_len, int status)
{
    struct cg_static_request req;
    struct cg_static_result res;

    memset(&req, 0, sizeof(req));
    req.method = sl(method);
    req.path.p = path;
    req.path.len = path_len;
    assert_int_equal(cg_static_open(r, &req, &res), CG_OK);
    if (res.status != status)
        fail_msg("%s %.*s: status %d, want %d", method, (int)path_len, path, res.status, status);
    if (status >= 400)
        assert_int_equal(res.fd, -1);
    cg_static_result_release(&res);
}

#define EXPECT(r, m, p, st) expect_status(r, m, p, strlen(p), st)

static void test_get_and_head(void **state)
{
    struct cg_static_result res;
    char date[CG_HTTP_DATE_LEN + 1];
    time_t t;

    req3(root, "GET", "/hello.txt", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.size, 12);
    assert_int_equal(res.length, 12);
    assert_int_equal(res.offset, 0);
    assert_string_equal(res.content_type, "text/plain; charset=utf-8");
    assert_true(res.accept_ranges);
    assert_int_equal(res.etag[0], '"');
    assert_int_equal(res.etag[strlen(res.etag) - 1], '"');
    assert_int_equal(cg_http_date_format(MTIME, date, sizeof(date)), CG_OK);
    assert_string_equal(res.last_modified, date);
    assert_string_equal(res.last_modified, "Thu, 01 Jan 2026 00:00:00 GMT");
    assert_int_equal(cg_http_date_parse(res.last_modified, strlen(res.last_modified), &t), CG_OK);
    assert_int_equal(t, MTIME);
    {
        char *body = body_of(&res);
        assert_string_equal(body, "hello world\n");
        free(body);
    }
    cg_static_result_release(&res);
    cg_static_result_release(&res);   /* idempotent */

    req3(root, "HEAD", "/hello.txt", NULL, &res);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.fd, -1);
    assert_int_equal(res.length, 12);
    assert_string_equal(res.content_type, "text/plain; charset=utf-8");
    cg_static_result_release(&res);

    expect_body(root, "/with space.txt", "spaced\n");
    expect_body(root, "/.well-known/acme.txt", "token\n");
}

static void test_directories(void **state)
{
    struct cg_static_result res;
    struct hdrs q = { .query = "a=1&b=2" };

    expect_body(root, "/", "<h1>home</h1>\n");
    expect_body(root, "/sub/", "<h1>sub</h1>\n");

    req3(root, "GET", "/sub", NULL, &res);
    assert_int_equal(res.status, 301);
    assert_string_equal(res.location, "/sub/");
    assert_int_equal(res.fd, -1);
    cg_static_result_release(&res);
    assert_null(res.location);

    req3(root, "GET", "/sub", &q, &res);
    assert_int_equal(res.status, 301);
    assert_string_equal(res.location, "/sub/?a=1&b=2");
    cg_static_result_release(&res);

    req3(root, "GET", "/a dir", NULL, &res);
    assert_int_equal(res.status, 301);
    assert_string_equal(res.location, "/a%20dir/");
    cg_static_result_release(&res);

    req3(root, "GET", "/empty/", NULL, &res);
    assert_int_equal(res.status, 403);
    assert_int_equal(res.error, CG_HTTP_ERR_DIRECTORY_LISTING_DENIED);
    assert_int_equal(cg_http_error_substatus(res.error), 14);
    assert_int_equal(res.fd, -1);
    cg_static_result_release(&res);

    req3(root, "GET", "/idxdir/", NULL, &res);
    assert_int_equal(res.status, 403);
    assert_int_equal(res.error, CG_HTTP_ERR_DIRECTORY_LISTING_DENIED);
    cg_static_result_release(&res);
}

static void test_not_found_and_methods(void **state)
{
    struct cg_static_result res;

    EXPECT(root, "GET", "/nope", 404);
    EXPECT(root, "GET", "/hello.txt/x", 404);
    EXPECT(root, "GET", "/hello.txt/", 404);
    EXPECT(root, "GET", "/sub/nope.html", 404);
    EXPECT(root, "GET", "/fifo", 404);   /* and does not block */

    req3(root, "POST", "/hello.txt", NULL, &res);
    assert_int_equal(res.status, 405);
    assert_int_equal(res.error, CG_HTTP_ERR_METHOD_NOT_ALLOWED);
    assert_string_equal(res.allow, "GET, HEAD");
    cg_static_result_release(&res);
    EXPECT(root, "get", "/hello.txt", 405);
    EXPECT(root, "DELETE", "/nope", 405);
    EXPECT(root, "OPTIONS", "/", 405);
}

static void test_traversal_and_hidden(void **state)
{
    static const char *const bad[] = {
        "/../outside.txt", "/sub/../../outside.txt", "/./hello.txt", "/sub/./index.html",
        "//hello.txt", "/sub//index.html", "/..", "/.", "hello.txt", "",
        "/sub\\..\\hello.txt", "/.hidden", "/.git/config", "/.git/", "/sub/.well-known/x",
        "/.well-known/../../outside.txt",
    };
    static const char nul[] = "/hello.txt\0.png";

    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++)
        EXPECT(root, "GET", bad[i], 404);
    expect_status(root, "GET", nul, sizeof(nul) - 1, 404);
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++)
        EXPECT(root_follow, "GET", bad[i], 404);
}

static void test_symlinks(void **state)
{
    /* default: links that stay inside root work, links that leave do not */
    expect_body(root, "/inlink", "hello world\n");
    expect_body(root, "/dirlink/index.html", "<h1>sub</h1>\n");
    expect_body(root, "/sub/up", "hello world\n");
    EXPECT(root, "GET", "/escape", 404);
    EXPECT(root, "GET", "/abs", 404);

    /* `symlinks: follow`: the administrator allowed links anywhere */
    expect_body(root_follow, "/escape", "secret outside root\n");
    expect_body(root_follow, "/abs", "secret outside root\n");
    expect_body(root_follow, "/inlink", "hello world\n");
}

static void test_fallback_walk(void **state)
{
    cg_static_use_openat2(false);
    expect_body(root, "/hello.txt", "hello world\n");
    expect_body(root, "/sub/", "<h1>sub</h1>\n");
    expect_body(root, "/", "<h1>home</h1>\n");
    EXPECT(root, "GET", "/sub", 301);
    EXPECT(root, "GET", "/empty/", 403);
    /* the walk follows no symlink at all */
    EXPECT(root, "GET", "/inlink", 404);
    EXPECT(root, "GET", "/dirlink/index.html", 404);
    EXPECT(root, "GET", "/escape", 404);
    EXPECT(root, "GET", "/abs", 404);
    EXPECT(root, "GET", "/fifo", 404);
    EXPECT(root, "GET", "/nope", 404);
    EXPECT(root, "GET", "/hello.txt/", 404);
    cg_static_use_openat2(true);
}

static void test_conditionals(void **state)
{
    struct cg_static_result res, first;
    char etag[CG_STATIC_ETAG_MAX], weak[CG_STATIC_ETAG_MAX + 2], list[200];
    struct hdrs h;

    req3(root, "GET", "/hello.txt", NULL, &first);
    snprintf(etag, sizeof(etag), "%s", first.etag);
    cg_static_result_release(&first);
    snprintf(weak, sizeof(weak), "W/%s", etag);
    snprintf(list, sizeof(list), "\"nope\", %s", etag);

    const char *hits[] = { etag, weak, list, "*" };
    for (size_t i = 0; i < CG_ARRAY_LEN(hits); i++) {
        h = (struct hdrs){ .inm = hits[i] };
        req3(root, "GET", "/hello.txt", &h, &res);
        assert_int_equal(res.status, 304);
        assert_int_equal(res.fd, -1);
        assert_string_equal(res.etag, etag);
        cg_static_result_release(&res);
    }
    /* If-None-Match that misses wins over a matching If-Modified-Since */
    h = (struct hdrs){ .inm = "\"other\"", .ims = "Thu, 01 Jan 2026 00:00:00 GMT" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 200);
    cg_static_result_release(&res);

    h = (struct hdrs){ .ims = "Thu, 01 Jan 2026 00:00:00 GMT" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 304);
    cg_static_result_release(&res);
    h = (struct hdrs){ .ims = "Friday, 02-Jan-26 00:00:00 GMT" };
    req3(root, "HEAD", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 304);
    cg_static_result_release(&res);
    h = (struct hdrs){ .ims = "Wed, 31 Dec 2025 23:59:59 GMT" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 200);
    cg_static_result_release(&res);
    h = (struct hdrs){ .ims = "yesterday" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 200);
    cg_static_result_release(&res);
}

static void test_ranges(void **state)
{
    struct cg_static_result res;
    struct hdrs h;
    char *body;
    char etag[CG_STATIC_ETAG_MAX], weak[CG_STATIC_ETAG_MAX + 2];

    h = (struct hdrs){ .range = "bytes=0-4" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 206);
    assert_int_equal(res.offset, 0);
    assert_int_equal(res.length, 5);
    assert_string_equal(res.content_range, "bytes 0-4/12");
    body = body_of(&res);
    assert_string_equal(body, "hello");
    free(body);
    snprintf(etag, sizeof(etag), "%s", res.etag);
    snprintf(weak, sizeof(weak), "W/%s", etag);
    cg_static_result_release(&res);

    h = (struct hdrs){ .range = "bytes=-6" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 206);
    assert_string_equal(res.content_range, "bytes 6-11/12");
    body = body_of(&res);
    assert_string_equal(body, "world\n");
    free(body);
    cg_static_result_release(&res);

    h = (struct hdrs){ .range = "bytes=100-" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 416);
    assert_int_equal(res.error, CG_HTTP_ERR_RANGE_NOT_SATISFIABLE);
    assert_string_equal(res.content_range, "bytes */12");
    assert_int_equal(res.fd, -1);
    cg_static_result_release(&res);

    /* several ranges or another unit: the whole file */
    const char *whole[] = { "bytes=0-1,3-4", "lines=1-2", "bytes=x" };
    for (size_t i = 0; i < CG_ARRAY_LEN(whole); i++) {
        h = (struct hdrs){ .range = whole[i] };
        req3(root, "GET", "/hello.txt", &h, &res);
        assert_int_equal(res.status, 200);
        assert_int_equal(res.length, 12);
        assert_string_equal(res.content_range, "");
        cg_static_result_release(&res);
    }

    /* If-Range: a strong match or the exact date keeps the range */
    h = (struct hdrs){ .range = "bytes=6-", .if_range = etag };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 206);
    cg_static_result_release(&res);
    h = (struct hdrs){ .range = "bytes=6-", .if_range = "Thu, 01 Jan 2026 00:00:00 GMT" };
    req3(root, "GET", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 206);
    cg_static_result_release(&res);
    const char *stale[] = { weak, "\"other\"", "Wed, 31 Dec 2025 00:00:00 GMT", "junk" };
    for (size_t i = 0; i < CG_ARRAY_LEN(stale); i++) {
        h = (struct hdrs){ .range = "bytes=6-", .if_range = stale[i] };
        req3(root, "GET", "/hello.txt", &h, &res);
        assert_int_equal(res.status, 200);
        assert_int_equal(res.length, 12);
        cg_static_result_release(&res);
    }

    /* HEAD with a range: the headers of the 206, no descriptor */
    h = (struct hdrs){ .range = "bytes=0-0" };
    req3(root, "HEAD", "/hello.txt", &h, &res);
    assert_int_equal(res.status, 206);
    assert_int_equal(res.length, 1);
    assert_int_equal(res.fd, -1);
    cg_static_result_release(&res);
}

static void test_mime(void **state)
{
    struct cg_static_result res;
    static const struct {
        const char *name, *type;
    } cases[] = {
        { "a.html", "text/html; charset=utf-8" },
        { "A.HTM", "text/html; charset=utf-8" },
        { "s.css", "text/css; charset=utf-8" },
        { "app.js", "text/javascript; charset=utf-8" },
        { "d.json", "application/json" },
        { "i.png", "image/png" },
        { "i.jpg", "image/jpeg" },
        { "i.jpeg", "image/jpeg" },
        { "i.gif", "image/gif" },
        { "i.svg", "image/svg+xml" },
        { "favicon.ico", "image/x-icon" },
        { "r.txt", "text/plain; charset=utf-8" },
        { "doc.pdf", "application/pdf" },
        { "m.wasm", "application/wasm" },
        { "f.woff2", "font/woff2" },
        { "feed.xml", "application/xml" },
        { "noext", "application/octet-stream" },
        { "dir.d/file", "application/octet-stream" },
        { "x.unknown", "application/octet-stream" },
        { "trailingdot.", "application/octet-stream" },
    };

    for (size_t i = 0; i < CG_ARRAY_LEN(cases); i++)
        assert_string_equal(cg_static_mime_type(cases[i].name, strlen(cases[i].name)),
                            cases[i].type);
    req3(root, "GET", "/img.PNG", NULL, &res);
    assert_string_equal(res.content_type, "image/png");
    cg_static_result_release(&res);
    req3(root, "GET", "/style.css", NULL, &res);
    assert_string_equal(res.content_type, "text/css; charset=utf-8");
    cg_static_result_release(&res);
    req3(root, "GET", "/", NULL, &res);
    assert_string_equal(res.content_type, "text/html; charset=utf-8");
    cg_static_result_release(&res);
}

static void test_http_dates(void **state)
{
    static const char *const same[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    };
    static const char *const bad[] = {
        "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT ", "Sun, 6 Nov 1994 08:49:37 GMT", "",
        "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
    };
    char out[CG_HTTP_DATE_LEN + 1];
    time_t t;

    assert_int_equal(cg_http_date_format(784111777, out, sizeof(out)), CG_OK);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_int_equal(cg_http_date_format(784111777, out, 10), CG_ERR);
    for (size_t i = 0; i < CG_ARRAY_LEN(same); i++) {
        assert_int_equal(cg_http_date_parse(same[i], strlen(same[i]), &t), CG_OK);
        assert_int_equal(t, 784111777);
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++)
        if (cg_http_date_parse(bad[i], strlen(bad[i]), &t) != CG_ERR)
            fail_msg("accepted bad date '%s'", bad[i]);
}

static void test_root_errors(void **state)
{
    struct cg_static_root *r = NULL;
    char *err = NULL, path[700];

    assert_int_equal(cg_static_root_open("/nonexistent/www", false, &r, &err), CG_ERR);
    assert_null(r);
    assert_non_null(strstr(err, "/nonexistent/www"));
    snprintf(path, sizeof(path), "%s/hello.txt", rootdir);
    assert_int_equal(cg_static_root_open(path, false, &r, &err), CG_ERR);
    assert_null(r);
    free(err);
    cg_static_root_close(NULL);
    cg_static_result_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_and_head),
        cmocka_unit_test(test_directories),
        cmocka_unit_test(test_not_found_and_methods),
        cmocka_unit_test(test_traversal_and_hidden),
        cmocka_unit_test(test_symlinks),
        cmocka_unit_test(test_fallback_walk),
        cmocka_unit_test(test_conditionals),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_mime),
        cmocka_unit_test(test_http_dates),
        cmocka_unit_test(test_root_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

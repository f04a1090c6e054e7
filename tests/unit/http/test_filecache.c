/*
 * test_filecache.c: the per-worker cache of small files: its bounds
 * (entries, bytes, largest file), least-recently-used eviction, validity
 * in time; and static.c answering through it from a real directory (an
 * entry refreshed, replaced, dropped; an escaping symlink never cached;
 * conditional, range and HEAD answers the same as without the cache).
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

#include "http/filecache.h"
#include "http/static.h"

static struct cg_file_facts facts(uint64_t ino, uint64_t size)
{
    struct cg_file_facts f;

    memset(&f, 0, sizeof(f));
    f.dev = 1;
    f.ino = ino;
    f.size = size;
    f.mtime.tv_sec = 100;
    f.content_type = "text/plain";
    return f;
}

static struct cg_file_cache *make(unsigned entries, size_t bytes, size_t max_file,
                                  unsigned valid_ms)
{
    struct cg_file_cache_limits l = { entries, bytes, max_file, valid_ms };
    struct cg_file_cache *c = cg_file_cache_new(&l);
    assert_non_null(c);
    return c;
}

static void test_put_get_validity(void **state)
{
    struct cg_file_cache *c = make(10, 1 << 20, 1024, 1000);
    struct cg_file_facts f = facts(7, 5);
    struct cg_file_cache_entry *e;
    bool fresh;

    (void)state;
    assert_null(cg_file_cache_get(c, 1, "/a", 2, 0, &fresh));
    assert_non_null(cg_file_cache_put(c, 1, "/a", 2, &f, "hello", 5000));
    e = cg_file_cache_get(c, 1, "/a", 2, 5999, &fresh);
    assert_non_null(e);
    assert_true(fresh);
    assert_memory_equal(e->data, "hello", 5);
    /* valid_ms after the check it is stale, and a touch makes it fresh again */
    e = cg_file_cache_get(c, 1, "/a", 2, 6000, &fresh);
    assert_non_null(e);
    assert_false(fresh);
    cg_file_cache_touch(e, 6000);
    assert_non_null(cg_file_cache_get(c, 1, "/a", 2, 6001, &fresh));
    assert_true(fresh);
    /* a clock going backwards never makes an entry fresh */
    assert_non_null(cg_file_cache_get(c, 1, "/a", 2, 10, &fresh));
    assert_false(fresh);
    /* another site, another path: other keys */
    assert_null(cg_file_cache_get(c, 2, "/a", 2, 6001, &fresh));
    assert_null(cg_file_cache_get(c, 1, "/a/", 3, 6001, &fresh));
    /* same() compares device, inode, size, mtime, ctime */
    assert_true(cg_file_cache_same(e, &f));
    f.mtime.tv_nsec = 1;
    assert_false(cg_file_cache_same(e, &f));
    f = facts(7, 5);
    f.ctime.tv_sec = 1;
    assert_false(cg_file_cache_same(e, &f));
    f = facts(8, 5);
    assert_false(cg_file_cache_same(e, &f));
    /* replaced: one entry, the new bytes */
    f = facts(7, 3);
    assert_non_null(cg_file_cache_put(c, 1, "/a", 2, &f, "new", 7000));
    assert_int_equal(cg_file_cache_count(c), 1);
    e = cg_file_cache_get(c, 1, "/a", 2, 7000, &fresh);
    assert_memory_equal(e->data, "new", 3);
    cg_file_cache_drop(c, 1, "/a", 2);
    assert_int_equal(cg_file_cache_count(c), 0);
    assert_int_equal(cg_file_cache_bytes(c), 0);
    cg_file_cache_free(c);
}

static void test_entries_bound_lru(void **state)
{
    struct cg_file_cache *c = make(3, 1 << 20, 1024, 1000);
    struct cg_file_facts f = facts(1, 1);
    bool fresh;

    (void)state;
    assert_non_null(cg_file_cache_put(c, 1, "/1", 2, &f, "1", 0));
    assert_non_null(cg_file_cache_put(c, 1, "/2", 2, &f, "2", 0));
    assert_non_null(cg_file_cache_put(c, 1, "/3", 2, &f, "3", 0));
    /* /1 used again: /2 is now the least recently used */
    assert_non_null(cg_file_cache_get(c, 1, "/1", 2, 0, &fresh));
    assert_non_null(cg_file_cache_put(c, 1, "/4", 2, &f, "4", 0));
    assert_int_equal(cg_file_cache_count(c), 3);
    assert_null(cg_file_cache_get(c, 1, "/2", 2, 0, &fresh));
    assert_non_null(cg_file_cache_get(c, 1, "/1", 2, 0, &fresh));
    assert_non_null(cg_file_cache_get(c, 1, "/3", 2, 0, &fresh));
    assert_non_null(cg_file_cache_get(c, 1, "/4", 2, 0, &fresh));
    cg_file_cache_free(c);
}

static void test_bytes_and_file_bounds(void **state)
{
    static char big[4096];
    struct cg_file_cache *c;
    struct cg_file_facts f = facts(1, 1000);
    bool fresh;
    size_t one;

    (void)state;
    memset(big, 'x', sizeof(big));
    /* one entry's cost measured, then a budget for two of them */
    c = make(100, 1 << 20, 2000, 1000);
    assert_non_null(cg_file_cache_put(c, 1, "/a", 2, &f, big, 0));
    one = cg_file_cache_bytes(c);
    assert_true(one > 1000);
    cg_file_cache_free(c);

    c = make(100, 2 * one + one / 2, 2000, 1000);
    assert_non_null(cg_file_cache_put(c, 1, "/a", 2, &f, big, 0));
    assert_non_null(cg_file_cache_put(c, 1, "/b", 2, &f, big, 0));
    assert_non_null(cg_file_cache_put(c, 1, "/c", 2, &f, big, 0));
    assert_int_equal(cg_file_cache_count(c), 2);
    assert_true(cg_file_cache_bytes(c) <= 2 * one + one / 2);
    assert_null(cg_file_cache_get(c, 1, "/a", 2, 0, &fresh));
    /* over max_file: not kept, and the key's older entry goes */
    f.size = 2001;
    assert_null(cg_file_cache_put(c, 1, "/b", 2, &f, big, 0));
    assert_null(cg_file_cache_get(c, 1, "/b", 2, 0, &fresh));
    assert_int_equal(cg_file_cache_count(c), 1);
    /* new limits empty the cache */
    {
        struct cg_file_cache_limits l = { 5, 1 << 20, 100, 10 };
        assert_int_equal(cg_file_cache_set_limits(c, &l), 0);
        assert_int_equal(cg_file_cache_count(c), 0);
        assert_int_equal(cg_file_cache_limits(c)->max_file, 100);
    }
    cg_file_cache_free(c);
}

/* ---- through static.c, on a real directory ------------------------------ */

static char base[512];

static void write_file(const char *rel, const char *content)
{
    char path[1200], tmp[1300];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", base, rel);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    assert_int_equal(rename(tmp, path), 0);   /* a new inode: a different version */
}

static struct cg_static_result ask(const struct cg_static_root *r, struct cg_file_cache *c,
                                   const char *method, const char *path, const char *inm,
                                   const char *range)
{
    struct cg_static_request req;
    struct cg_static_result res;

    memset(&req, 0, sizeof(req));
    req.method.p = method;
    req.method.len = strlen(method);
    req.path.p = path;
    req.path.len = strlen(path);
    if (inm != NULL) {
        req.if_none_match.p = inm;
        req.if_none_match.len = strlen(inm);
    }
    if (range != NULL) {
        req.range.p = range;
        req.range.len = strlen(range);
    }
    assert_int_equal(cg_static_open_cached(r, c, 9, &req, &res), 0);
    return res;
}

static void test_static_through_cache(void **state)
{
    const char *tmp = getenv("CG_TMPDIR");
    char tmpl[512], outside[1200], link[1200], *err = NULL;
    struct cg_static_root *r = NULL;
    struct cg_file_cache *c = make(10, 1 << 20, 64, 0);   /* valid 0: check every time */
    struct cg_static_result res;

    (void)state;
    snprintf(tmpl, sizeof(tmpl), "%s/fcXXXXXX", tmp != NULL ? tmp : "/tmp");
    assert_non_null(mkdtemp(tmpl));
    snprintf(base, sizeof(base), "%s", tmpl);
    write_file("a.txt", "first");
    assert_int_equal(cg_static_root_open(base, false, &r, &err), 0);

    /* first answer fills the cache; the body comes from it, no descriptor */
    res = ask(r, c, "GET", "/a.txt", NULL, NULL);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.fd, -1);
    assert_non_null(res.body);
    assert_memory_equal(res.body, "first", 5);
    assert_string_equal(res.content_type, "text/plain; charset=utf-8");
    assert_int_equal(cg_file_cache_count(c), 1);
    /* stale (valid 0) and unchanged: the same entry */
    {
        char etag[CG_STATIC_ETAG_MAX];
        snprintf(etag, sizeof(etag), "%s", res.etag);
        res = ask(r, c, "GET", "/a.txt", etag, NULL);
        assert_int_equal(res.status, 304);
        assert_null(res.body);
        assert_int_equal(res.fd, -1);
    }
    res = ask(r, c, "GET", "/a.txt", NULL, "bytes=1-2");
    assert_int_equal(res.status, 206);
    assert_int_equal(res.offset, 1);
    assert_int_equal(res.length, 2);
    assert_memory_equal(res.body + res.offset, "ir", 2);
    res = ask(r, c, "GET", "/a.txt", NULL, "bytes=9-");
    assert_int_equal(res.status, 416);
    assert_null(res.body);
    res = ask(r, c, "HEAD", "/a.txt", NULL, NULL);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.length, 5);
    assert_null(res.body);

    /* changed: new bytes */
    write_file("a.txt", "second!");
    res = ask(r, c, "GET", "/a.txt", NULL, NULL);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.length, 7);
    assert_memory_equal(res.body, "second!", 7);
    assert_int_equal(cg_file_cache_count(c), 1);

    /* larger than max_file: served from the descriptor, not cached */
    write_file("a.txt", "0123456789012345678901234567890123456789012345678901234567890123456789");
    res = ask(r, c, "GET", "/a.txt", NULL, NULL);
    assert_int_equal(res.status, 200);
    assert_null(res.body);
    assert_true(res.fd >= 0);
    cg_static_result_release(&res);
    assert_int_equal(cg_file_cache_count(c), 0);

    /* gone: 404 and the entry dropped */
    write_file("a.txt", "third");
    res = ask(r, c, "GET", "/a.txt", NULL, NULL);
    assert_int_equal(cg_file_cache_count(c), 1);
    snprintf(link, sizeof(link), "%s/a.txt", base);
    assert_int_equal(unlink(link), 0);
    res = ask(r, c, "GET", "/a.txt", NULL, NULL);
    assert_int_equal(res.status, 404);
    assert_int_equal(cg_file_cache_count(c), 0);

    /* a symlink leaving the root: 404, never an entry */
    snprintf(outside, sizeof(outside), "%s.outside", base);
    {
        FILE *f = fopen(outside, "wb");
        assert_non_null(f);
        fputs("secret", f);
        fclose(f);
    }
    snprintf(link, sizeof(link), "%s/out.txt", base);
    assert_int_equal(symlink(outside, link), 0);
    res = ask(r, c, "GET", "/out.txt", NULL, NULL);
    assert_int_equal(res.status, 404);
    assert_int_equal(cg_file_cache_count(c), 0);

    unlink(link);
    unlink(outside);
    rmdir(base);
    cg_static_root_close(r);
    cg_file_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_validity),
        cmocka_unit_test(test_entries_bound_lru),
        cmocka_unit_test(test_bytes_and_file_bounds),
        cmocka_unit_test(test_static_through_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

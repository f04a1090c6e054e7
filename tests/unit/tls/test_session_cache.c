/*
 * The server's TLS session cache, driven through the callbacks it installs
 * on a real SSL_CTX (the ones OpenSSL calls during handshakes), with real
 * SSL_SESSION objects: the bound holds and drops the oldest first; a new
 * bound (a reload) shrinks the cache at once, and a larger one grows the
 * hash table without losing an entry; an expired session is not returned;
 * a session removed by OpenSSL is gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/ssl.h>

#include "core/common.h"
#include "tls/session_cache.h"

struct fixture {
    struct cg_tls_session_cache *sc;
    SSL_CTX *ctx;
    SSL *ssl;   /* the callbacks find the cache through SSL_get_SSL_CTX */
};

static int setup(void **state)
{
    static struct fixture f;

    assert_int_equal(cg_tls_session_cache_global_init(), CG_OK);
    f.ctx = SSL_CTX_new(TLS_server_method());
    assert_non_null(f.ctx);
    f.ssl = SSL_new(f.ctx);
    assert_non_null(f.ssl);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    SSL_free(f->ssl);
    SSL_CTX_free(f->ctx);
    return 0;
}

/* A fresh cache of `max` entries attached to the fixture's context. */
static struct fixture *with_cache(void **state, size_t max)
{
    struct fixture *f = *state;

    f->sc = cg_tls_session_cache_new(max);
    assert_non_null(f->sc);
    assert_int_equal(cg_tls_session_cache_attach(f->sc, f->ctx), CG_OK);
    return f;
}

static void id_of(unsigned n, unsigned char id[32])
{
    memset(id, 0xA5, 32);
    memcpy(id, &n, sizeof(n));
}

/* Hands session number n (valid for `timeout` seconds) to the cache as
 * OpenSSL does after a full handshake. */
static void add(struct fixture *f, unsigned n, long timeout)
{
    SSL_SESSION *s = SSL_SESSION_new();
    unsigned char id[32];

    assert_non_null(s);
    id_of(n, id);
    assert_int_equal(SSL_SESSION_set1_id(s, id, sizeof(id)), 1);
    SSL_SESSION_set_time(s, (long)time(NULL));
    SSL_SESSION_set_timeout(s, timeout);
    if (SSL_CTX_sess_get_new_cb(f->ctx)(f->ssl, s) == 0)
        SSL_SESSION_free(s);   /* not kept: the reference stays ours */
}

/* True when session n would resume. */
static bool has(struct fixture *f, unsigned n)
{
    unsigned char id[32];
    int copy = -1;
    SSL_SESSION *s;

    id_of(n, id);
    s = SSL_CTX_sess_get_get_cb(f->ctx)(f->ssl, id, sizeof(id), &copy);
    assert_int_equal(copy, 0);   /* the reference is the caller's */
    SSL_SESSION_free(s);
    return s != NULL;
}

static void test_bound_drops_oldest(void **state)
{
    struct fixture *f = with_cache(state, 3);

    for (unsigned n = 1; n <= 5; n++)
        add(f, n, 3600);
    assert_int_equal(cg_tls_session_cache_count(f->sc), 3);
    assert_false(has(f, 1));
    assert_false(has(f, 2));
    assert_true(has(f, 3));
    assert_true(has(f, 4));
    assert_true(has(f, 5));
}

static void test_shrink_then_grow(void **state)
{
    struct fixture *f = with_cache(state, 100);

    for (unsigned n = 1; n <= 100; n++)
        add(f, n, 3600);
    /* A reload to 10: the 90 oldest go at once. */
    assert_int_equal(cg_tls_session_cache_set_max(f->sc, 10), CG_OK);
    assert_int_equal(cg_tls_session_cache_count(f->sc), 10);
    assert_false(has(f, 90));
    assert_true(has(f, 91));
    assert_true(has(f, 100));
    /* A reload to 20000: the table grows (64 buckets to 16384); every entry
     * is found again after the rehash, and the new bound holds. */
    assert_int_equal(cg_tls_session_cache_set_max(f->sc, 20000), CG_OK);
    for (unsigned n = 101; n <= 20500; n++)
        add(f, n, 3600);
    assert_int_equal(cg_tls_session_cache_count(f->sc), 20000);
    assert_false(has(f, 500));
    for (unsigned n = 501; n <= 20500; n += 97)
        assert_true(has(f, n));
    assert_true(has(f, 20500));
    /* 0 means 1. */
    assert_int_equal(cg_tls_session_cache_set_max(f->sc, 0), CG_OK);
    assert_int_equal(cg_tls_session_cache_count(f->sc), 1);
    assert_true(has(f, 20500));
}

static void test_expired_not_returned(void **state)
{
    struct fixture *f = with_cache(state, 10);
    SSL_SESSION *s = SSL_SESSION_new();
    unsigned char id[32];

    /* Made two hours ago, valid for one. */
    assert_non_null(s);
    id_of(7, id);
    assert_int_equal(SSL_SESSION_set1_id(s, id, sizeof(id)), 1);
    SSL_SESSION_set_time(s, (long)time(NULL) - 7200);
    SSL_SESSION_set_timeout(s, 3600);
    assert_int_equal(SSL_CTX_sess_get_new_cb(f->ctx)(f->ssl, s), 1);
    assert_int_equal(cg_tls_session_cache_count(f->sc), 1);
    assert_false(has(f, 7));
    assert_int_equal(cg_tls_session_cache_count(f->sc), 0);
}

static void test_remove(void **state)
{
    struct fixture *f = with_cache(state, 10);
    unsigned char id[32];
    int copy;
    SSL_SESSION *s;

    add(f, 1, 3600);
    add(f, 2, 3600);
    id_of(1, id);
    s = SSL_CTX_sess_get_get_cb(f->ctx)(f->ssl, id, sizeof(id), &copy);
    assert_non_null(s);
    SSL_CTX_sess_get_remove_cb(f->ctx)(f->ctx, s);
    SSL_SESSION_free(s);
    assert_false(has(f, 1));
    assert_true(has(f, 2));
    assert_int_equal(cg_tls_session_cache_count(f->sc), 1);
}

static int teardown_cache(void **state)
{
    struct fixture *f = *state;

    /* The context still points at the cache: detach before freeing it. */
    SSL_CTX_sess_set_new_cb(f->ctx, NULL);
    SSL_CTX_sess_set_get_cb(f->ctx, NULL);
    SSL_CTX_sess_set_remove_cb(f->ctx, NULL);
    cg_tls_session_cache_free(f->sc);
    f->sc = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_bound_drops_oldest, teardown_cache),
        cmocka_unit_test_teardown(test_shrink_then_grow, teardown_cache),
        cmocka_unit_test_teardown(test_expired_not_returned, teardown_cache),
        cmocka_unit_test_teardown(test_remove, teardown_cache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * fetch_cache: EVP_KDF_fetch and EVP_KEYMGMT_names_do_all as this process
 * has them (src/tls/fetch_cache.c) answer as libcrypto's do, and once
 * enabled answer repeated calls from the calling thread's memory, counted.
 *
 *  - off (before enabling, after disabling): every fetch goes to libcrypto,
 *    nothing counted;
 *  - on: the first fetch of (context, name, properties) is a miss, the
 *    next ones hits with the same method; another name, property query
 *    (NULL and "" apart), or library context is a miss of its own and its
 *    own method; a failed fetch is not remembered and reports its error
 *    each time; references balance (ASan's leak check);
 *  - the method works: HKDF through a remembered method gives RFC 5869's
 *    test case 1;
 *  - names: a key manager's names are libcrypto's, in libcrypto's order,
 *    whether remembered or not; each key manager has its own; off means
 *    libcrypto's, not counted;
 *  - threads: another thread starts with nothing remembered, and a thread
 *    that did not arm goes to libcrypto;
 *  - TLS: a TLS 1.3 handshake's key-schedule fetches (libssl's) and its
 *    key managers' names (libcrypto's) are all answered from the thread's
 *    memory once one handshake has run.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/ssl.h>

#include "core/common.h"
#include "testutil.h"
#include "tls/fetch_cache.h"

static struct cg_fetch_cache_stats stats(void)
{
    struct cg_fetch_cache_stats s;

    cg_fetch_cache_stats(&s);
    return s;
}

/* fetch NAME PROPQ on the default context, expecting hits and misses to
 * move by the given amounts; returns the method (a reference). */
static EVP_KDF *fetch(OSSL_LIB_CTX *lib, const char *name, const char *propq, int hits, int misses)
{
    struct cg_fetch_cache_stats a = stats(), b;
    EVP_KDF *k = EVP_KDF_fetch(lib, name, propq);

    b = stats();
    assert_int_equal(b.hits - a.hits, hits);
    assert_int_equal(b.misses - a.misses, misses);
    return k;
}

static void test_off_and_on(void **state)
{
    EVP_KDF *a, *b, *c, *d, *e, *f;
    OSSL_LIB_CTX *other;

    (void)state;
    /* Not armed: libcrypto's, not counted, even enabled. */
    cg_fetch_cache_enable();
    a = fetch(NULL, "HKDF", NULL, 0, 0);
    EVP_KDF_free(a);
    cg_fetch_cache_thread_arm();
    cg_fetch_cache_thread_release();
    cg_fetch_cache_disable();
    a = fetch(NULL, "HKDF", NULL, 0, 0);
    assert_non_null(a);
    EVP_KDF_free(a);

    cg_fetch_cache_enable();
    a = fetch(NULL, "HKDF", NULL, 0, 1);
    b = fetch(NULL, "HKDF", NULL, 1, 0);
    assert_non_null(a);
    assert_ptr_equal(a, b);
    /* Another property query, another name, another context: each its own. */
    c = fetch(NULL, "HKDF", "", 0, 1);
    assert_non_null(c);
    d = fetch(NULL, "HKDF", "", 1, 0);
    assert_ptr_equal(c, d);
    e = fetch(NULL, "TLS13-KDF", NULL, 0, 1);
    assert_non_null(e);
    assert_ptr_not_equal(e, a);
    assert_true(EVP_KDF_is_a(e, "TLS13-KDF"));
    other = OSSL_LIB_CTX_new();
    assert_non_null(other);
    f = fetch(other, "HKDF", NULL, 0, 1);
    assert_non_null(f);
    assert_ptr_not_equal(f, a);
    EVP_KDF_free(f);
    f = fetch(other, "HKDF", NULL, 1, 0);
    EVP_KDF_free(f);
    /* The context goes: its method must not outlive it in this thread. */
    cg_fetch_cache_thread_release();
    OSSL_LIB_CTX_free(other);

    /* Nothing remembered for a fetch that fails: its error each time. */
    for (int i = 0; i < 2; i++) {
        ERR_clear_error();
        assert_null(fetch(NULL, "NO-SUCH-KDF", NULL, 0, 1));
        assert_int_not_equal(ERR_peek_last_error(), 0);
    }
    ERR_clear_error();
    /* Disabled again: libcrypto's fetch, not counted. */
    cg_fetch_cache_disable();
    f = fetch(NULL, "HKDF", NULL, 0, 0);
    assert_non_null(f);
    EVP_KDF_free(f);
    cg_fetch_cache_enable();
    f = fetch(NULL, "HKDF", NULL, 0, 1);   /* a new generation: a miss */
    EVP_KDF_free(f);
    EVP_KDF_free(a);
    EVP_KDF_free(b);
    EVP_KDF_free(c);
    EVP_KDF_free(d);
    EVP_KDF_free(e);
    cg_fetch_cache_thread_release();
}

static void test_hkdf_answer(void **state)
{
    /* RFC 5869, A.1. */
    static const unsigned char ikm[22] = {
        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
        0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b};
    static const unsigned char salt[13] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                           0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c};
    static const unsigned char info[10] = {0xf0, 0xf1, 0xf2, 0xf3, 0xf4,
                                           0xf5, 0xf6, 0xf7, 0xf8, 0xf9};
    static const unsigned char okm[42] = {
        0x3c, 0xb2, 0x5f, 0x25, 0xfa, 0xac, 0xd5, 0x7a, 0x90, 0x43, 0x4f, 0x64, 0xd0, 0x36,
        0x2f, 0x2a, 0x2d, 0x2d, 0x0a, 0x90, 0xcf, 0x1a, 0x5a, 0x4c, 0x5d, 0xb0, 0x2d, 0x56,
        0xec, 0xc4, 0xc5, 0xbf, 0x34, 0x00, 0x72, 0x08, 0xd5, 0xb8, 0x87, 0x18, 0x58, 0x65};

    (void)state;
    cg_fetch_cache_enable();
    for (int round = 0; round < 3; round++) {
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
        unsigned char out[42];
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, sizeof(ikm)),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, sizeof(salt)),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof(info)),
            OSSL_PARAM_construct_end()};

        assert_non_null(ctx);
        EVP_KDF_free(kdf);   /* the context keeps its own reference */
        assert_int_equal(EVP_KDF_derive(ctx, out, sizeof(out), params), 1);
        assert_memory_equal(out, okm, sizeof(okm));
        EVP_KDF_CTX_free(ctx);
    }
    cg_fetch_cache_thread_release();
}

/* The names EVP_KEYMGMT_names_do_all gives: joined by spaces, and the
 * pointers themselves (callers keep them: they must be libcrypto's). */
struct got_names {
    char joined[512];
    const char *ptr[16];
    int n;
};

static void join_name(const char *name, void *data)
{
    struct got_names *g = data;

    strcat(g->joined, name);
    strcat(g->joined, " ");
    if (g->n < 16)
        g->ptr[g->n++] = name;
}

static void names_of(const EVP_KEYMGMT *k, struct got_names *out, int hits, int misses)
{
    struct cg_fetch_cache_stats a = stats(), b;

    memset(out, 0, sizeof(*out));
    assert_int_equal(EVP_KEYMGMT_names_do_all(k, join_name, out), 1);
    b = stats();
    assert_int_equal(b.name_hits - a.name_hits, hits);
    assert_int_equal(b.name_misses - a.name_misses, misses);
}

static void test_names(void **state)
{
    EVP_KEYMGMT *ec = EVP_KEYMGMT_fetch(NULL, "EC", NULL), *x = EVP_KEYMGMT_fetch(NULL, "X25519", NULL);
    struct got_names off, first, again, other;

    (void)state;
    assert_non_null(ec);
    assert_non_null(x);
    cg_fetch_cache_thread_arm();
    cg_fetch_cache_thread_release();
    cg_fetch_cache_disable();
    names_of(ec, &off, 0, 0);
    assert_non_null(strstr(off.joined, "EC "));
    assert_non_null(strstr(off.joined, "id-ecPublicKey "));
    cg_fetch_cache_enable();
    names_of(ec, &first, 0, 1);
    names_of(ec, &again, 1, 0);
    /* The same names, in the same order, and the very same strings. */
    assert_string_equal(first.joined, off.joined);
    assert_string_equal(again.joined, off.joined);
    assert_int_equal(again.n, off.n);
    for (int i = 0; i < off.n; i++) {
        assert_ptr_equal(first.ptr[i], off.ptr[i]);
        assert_ptr_equal(again.ptr[i], off.ptr[i]);
    }
    names_of(x, &other, 0, 1);
    assert_non_null(strstr(other.joined, "X25519 "));
    assert_null(strstr(other.joined, "EC "));
    names_of(x, &other, 1, 0);
    /* The caller's references go; the thread's keep the addresses taken. */
    EVP_KEYMGMT_free(ec);
    EVP_KEYMGMT_free(x);
    ec = EVP_KEYMGMT_fetch(NULL, "EC", NULL);
    names_of(ec, &again, 1, 0);
    assert_string_equal(again.joined, off.joined);
    cg_fetch_cache_thread_release();
    names_of(ec, &again, 0, 1);
    cg_fetch_cache_disable();
    names_of(ec, &again, 0, 0);
    assert_string_equal(again.joined, off.joined);
    EVP_KEYMGMT_free(ec);
    cg_fetch_cache_enable();
    cg_fetch_cache_thread_release();
}

/* arg: in, whether to arm; out, the misses of one fetch. */
static void *other_thread(void *arg)
{
    int *misses = arg;
    struct cg_fetch_cache_stats a, b;
    EVP_KDF *k;

    if (*misses)
        cg_fetch_cache_thread_arm();
    a = stats();
    k = EVP_KDF_fetch(NULL, "HKDF", NULL);
    b = stats();
    *misses = (int)(b.misses - a.misses);
    EVP_KDF_free(k);
    cg_fetch_cache_thread_release();
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t;
    int misses;
    EVP_KDF *k;

    (void)state;
    cg_fetch_cache_enable();
    k = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_free(k);
    /* Armed: its own first fetch is a miss. Not armed: not counted. */
    misses = 1;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &misses), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(misses, 1);
    misses = 0;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &misses), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(misses, 0);
    cg_fetch_cache_thread_release();
}

/* ---- through libssl ------------------------------------------------------ */

/* One handshake between new SSLs of the two contexts. */
static void handshake(SSL_CTX *sctx, SSL_CTX *cctx)
{
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);

    assert_non_null(c);
    assert_non_null(s);
    tu_handshake(c, s, NULL);
    SSL_free(c);
    SSL_free(s);
}

static void test_tls(void **state)
{
    /* Self-signed (the client does not verify it): what is counted is the
     * key schedule. */
    struct tu_pair server = tu_issue(CG_PKI_ROOT_CA, "localhost", NULL);
    SSL_CTX *sctx, *cctx;
    struct cg_fetch_cache_stats a, b;

    (void)state;
    sctx = SSL_CTX_new(TLS_server_method());
    cctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(sctx);
    assert_non_null(cctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION), 1);
    assert_int_equal(SSL_CTX_use_certificate(sctx, server.cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(sctx, server.key), 1);
    SSL_CTX_set_num_tickets(sctx, 0);
    SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);

    cg_fetch_cache_thread_release();
    cg_fetch_cache_enable();
    handshake(sctx, cctx);
    a = stats();
    handshake(sctx, cctx);
    b = stats();
    /* Both sides' key schedules, every fetch answered by the thread. */
    assert_int_equal(b.misses - a.misses, 0);
    /* 38 with OpenSSL 3.0.19 (19 a side); 0 if libssl's calls were not
     * bound to this process's EVP_KDF_fetch. */
    assert_true(b.hits - a.hits >= 30);
    assert_int_equal(b.name_misses - a.name_misses, 0);
    assert_true(b.name_hits - a.name_hits >= 6);
    cg_fetch_cache_disable();
    a = stats();
    handshake(sctx, cctx);
    b = stats();
    assert_int_equal(b.hits - a.hits, 0);
    assert_int_equal(b.misses - a.misses, 0);
    assert_int_equal(b.name_hits - a.name_hits, 0);
    assert_int_equal(b.name_misses - a.name_misses, 0);
    cg_fetch_cache_thread_release();
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    tu_pair_free(&server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_and_on),
        cmocka_unit_test(test_hkdf_answer),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_tls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_allocator.c: the malloc chosen at build time (CG_ALLOCATOR in
 * CMakeLists.txt) is the one that serves the process: plain malloc and
 * strdup, OpenSSL's allocations (OPENSSL_malloc and the objects it builds),
 * and allocations made on another thread. A glibc build has neither mimalloc
 * nor jemalloc loaded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#if defined(CG_ALLOCATOR_MIMALLOC)
#include <mimalloc.h>

/* True when mimalloc owns p: it was not handed out by glibc. */
static int served_by_allocator(void *p)
{
    return mi_is_in_heap_region(p);
}

#elif defined(CG_ALLOCATOR_JEMALLOC)
#include <jemalloc/jemalloc.h>

/* True when jemalloc finds the arena p belongs to. Only asked about heap
 * pointers: jemalloc cannot answer safely about memory that is not its. */
static int served_by_allocator(void *p)
{
    unsigned arena = 0;
    size_t len = sizeof(arena);

    return mallctl("arenas.lookup", &arena, &len, &p, sizeof(p)) == 0;
}
#endif

#if defined(CG_ALLOCATOR_MIMALLOC) || defined(CG_ALLOCATOR_JEMALLOC)

static void check_allocations(void)
{
    void *plain = malloc(200);
    char *copy = strdup("certgate");
    void *ossl = OPENSSL_malloc(200);
    void *zeroed = OPENSSL_zalloc(5000);
    BIGNUM *bn = BN_new();
    X509 *cert = X509_new();

    assert_non_null(plain);
    assert_non_null(copy);
    assert_non_null(ossl);
    assert_non_null(zeroed);
    assert_non_null(bn);
    assert_non_null(cert);
    assert_true(served_by_allocator(plain));
    assert_true(served_by_allocator(copy));
    assert_true(served_by_allocator(ossl));
    assert_true(served_by_allocator(zeroed));
    assert_true(served_by_allocator(bn));
    assert_true(served_by_allocator(cert));
    X509_free(cert);
    BN_free(bn);
    OPENSSL_free(zeroed);
    OPENSSL_free(ossl);
    free(copy);
    free(plain);
}

static void test_main_thread(void **state)
{
    (void)state;
    check_allocations();
#if defined(CG_ALLOCATOR_MIMALLOC)
    {
        /* The check can say no: static memory is nobody's heap. */
        static char not_heap[256];

        assert_false(served_by_allocator(not_heap));
    }
#endif
}

static void *thread_main(void *arg)
{
    (void)arg;
    check_allocations();
    return NULL;
}

/* The server allocates on its worker threads. */
static void test_worker_thread(void **state)
{
    pthread_t t;

    (void)state;
    assert_int_equal(pthread_create(&t, NULL, thread_main, NULL), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* Memory from the chosen malloc passes through OpenSSL's free paths. */
static void test_openssl_frees_malloc(void **state)
{
    unsigned char *der = NULL;
    BIGNUM *bn = BN_new();
    ASN1_INTEGER *serial = NULL;
    int len;

    (void)state;
    assert_non_null(bn);
    assert_int_equal(BN_set_word(bn, 0x1234567890abcdefULL), 1);
    serial = BN_to_ASN1_INTEGER(bn, NULL);
    assert_non_null(serial);
    len = i2d_ASN1_INTEGER(serial, &der);
    assert_true(len > 0);
    assert_true(served_by_allocator(der));
    OPENSSL_clear_free(der, (size_t)len);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main_thread),
        cmocka_unit_test(test_worker_thread),
        cmocka_unit_test(test_openssl_frees_malloc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* glibc */

/* Neither replacement is linked in, so glibc's malloc (or, in sanitizer
 * builds, the sanitizer's) serves every allocation. */
static void test_no_replacement_loaded(void **state)
{
    (void)state;
    assert_null(dlsym(RTLD_DEFAULT, "mi_malloc"));
    assert_null(dlsym(RTLD_DEFAULT, "mallctl"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_replacement_loaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif

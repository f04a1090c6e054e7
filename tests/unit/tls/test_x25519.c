/*
 * x25519: certgate's X25519 gives RFC 7748's answers (section 5.2 vectors,
 * the iterated test to 1,000, section 6.1's key agreement) and what
 * OpenSSL's default provider gives, key for key: public keys of random
 * private keys, shared secrets with random peer keys (top bit set, values
 * at and above p), and refusal exactly when OpenSSL refuses (points of small
 * order, whose shared secret is all zeros).
 *
 * Run under valgrind's memcheck (the ctest unit/tls/x25519_constant_time,
 * CG_X25519_CONSTANT_TIME=1), the private keys are marked undefined before
 * each call: memcheck then reports any branch taken on, or any address
 * computed from, a secret, and the test fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <valgrind/memcheck.h>

#include "tls/x25519.h"

static void from_hex(uint8_t out[32], const char *hex)
{
    assert_int_equal(strlen(hex), 64);
    for (int i = 0; i < 32; i++) {
        unsigned v;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
}

static void assert_bytes_hex(const uint8_t got[32], const char *hex)
{
    uint8_t want[32];
    from_hex(want, hex);
    assert_memory_equal(got, want, 32);
}

/* OpenSSL's default provider: the public key of priv. */
static void openssl_public_key(uint8_t pub[32], const uint8_t priv[32])
{
    size_t len = 32;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", "provider=default", priv, 32);
    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_raw_public_key(k, pub, &len), 1);
    assert_int_equal(len, 32);
    EVP_PKEY_free(k);
}

/* OpenSSL's default provider: 1 and the secret, or 0 when it refuses. */
static int openssl_shared_secret(uint8_t out[32], const uint8_t priv[32], const uint8_t peer[32])
{
    size_t len = 32;
    int ok;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", "provider=default", priv, 32);
    EVP_PKEY *p = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", "provider=default", peer, 32);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, "provider=default");
    assert_true(k != NULL && p != NULL && ctx != NULL);
    ok = EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, p) == 1 &&
         EVP_PKEY_derive(ctx, out, &len) == 1 && len == 32;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(p);
    EVP_PKEY_free(k);
    return ok;
}

/* The calls under test, with the private key marked secret for memcheck. */
static void ours_public_key(uint8_t pub[32], const uint8_t priv[32])
{
    uint8_t secret[32];
    memcpy(secret, priv, 32);
    VALGRIND_MAKE_MEM_UNDEFINED(secret, 32);
    cg_x25519_public_key(pub, secret);
    VALGRIND_MAKE_MEM_DEFINED(pub, 32);
}

static int ours_shared_secret(uint8_t out[32], const uint8_t priv[32], const uint8_t peer[32])
{
    uint8_t secret[32];
    int ok;
    memcpy(secret, priv, 32);
    VALGRIND_MAKE_MEM_UNDEFINED(secret, 32);
    ok = cg_x25519_shared_secret(out, secret, peer);
    VALGRIND_MAKE_MEM_DEFINED(out, 32);
    VALGRIND_MAKE_MEM_DEFINED(&ok, sizeof ok);
    return ok;
}

static int rounds(int normal, int under_memcheck)
{
    return getenv("CG_X25519_CONSTANT_TIME") != NULL ? under_memcheck : normal;
}

static void test_rfc7748_vectors(void **state)
{
    static const struct {
        const char *scalar, *u, *out;
    } vec[] = {
        {"a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
         "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
         "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"},
        {"4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
         "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
         "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957"},
    };
    uint8_t k[32], u[32], out[32];

    (void)state;
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        from_hex(k, vec[i].scalar);
        from_hex(u, vec[i].u);
        assert_int_equal(ours_shared_secret(out, k, u), 1);
        assert_bytes_hex(out, vec[i].out);
    }
}

/* RFC 7748 5.2: k = u = 9; k, u = X25519(k, u), k; after 1 and 1,000. */
static void test_rfc7748_iterated(void **state)
{
    uint8_t k[32] = {9}, u[32] = {9}, r[32];
    const int n = rounds(1000, 1);

    (void)state;
    for (int i = 1; i <= n; i++) {
        assert_int_equal(ours_shared_secret(r, k, u), 1);
        memcpy(u, k, 32);
        memcpy(k, r, 32);
        if (i == 1)
            assert_bytes_hex(k, "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
        if (i == 1000)
            assert_bytes_hex(k, "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
    }
}

/* RFC 7748 6.1: Alice and Bob. */
static void test_rfc7748_key_agreement(void **state)
{
    uint8_t a[32], b[32], pub_a[32], pub_b[32], k_ab[32], k_ba[32];

    (void)state;
    from_hex(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    from_hex(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    ours_public_key(pub_a, a);
    ours_public_key(pub_b, b);
    assert_bytes_hex(pub_a, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    assert_bytes_hex(pub_b, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
    assert_int_equal(ours_shared_secret(k_ab, a, pub_b), 1);
    assert_int_equal(ours_shared_secret(k_ba, b, pub_a), 1);
    assert_bytes_hex(k_ab, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
    assert_memory_equal(k_ab, k_ba, 32);
}

/* Public keys of random private keys, and of the extremes of clamping. */
static void test_public_key_matches_openssl(void **state)
{
    uint8_t priv[32], ours[32], theirs[32];
    const int n = rounds(3000, 20);

    (void)state;
    for (int i = 0; i < n + 2; i++) {
        if (i < n)
            assert_int_equal(RAND_bytes(priv, 32), 1);
        else
            memset(priv, i == n ? 0x00 : 0xff, 32);
        ours_public_key(ours, priv);
        openssl_public_key(theirs, priv);
        assert_memory_equal(ours, theirs, 32);
    }
}

/* Shared secrets with random peer keys, whatever their top bit. */
static void test_shared_secret_matches_openssl(void **state)
{
    uint8_t priv[32], peer[32], ours[32], theirs[32], pub[32];
    const int n = rounds(3000, 20);

    (void)state;
    for (int i = 0; i < n; i++) {
        assert_int_equal(RAND_bytes(priv, 32), 1);
        assert_int_equal(RAND_bytes(peer, 32), 1);
        if (i % 2 == 0) {   /* a real public key, as a handshake sends */
            openssl_public_key(pub, peer);
            memcpy(peer, pub, 32);
        }
        assert_int_equal(ours_shared_secret(ours, priv, peer), 1);
        assert_int_equal(openssl_shared_secret(theirs, priv, peer), 1);
        assert_memory_equal(ours, theirs, 32);
    }
}

/* u values at the edges: 0 and 1, p - 1, p, p + 1, 2^255 - 1, the points of
 * order 8, each also with the top bit set. Ours refuses (returns 0, all-zero
 * secret) exactly where OpenSSL refuses, and agrees everywhere else. */
static void test_edge_peer_keys(void **state)
{
    static const char *const edge[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    };
    static const uint8_t zero[32];
    uint8_t priv[32], peer[32], ours[32], theirs[32];
    int refused = 0;

    (void)state;
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        for (int top = 0; top < 2; top++) {
            from_hex(peer, edge[i]);
            if (top)
                peer[31] |= 0x80;
            assert_int_equal(RAND_bytes(priv, 32), 1);
            int ours_ok = ours_shared_secret(ours, priv, peer);
            int theirs_ok = openssl_shared_secret(theirs, priv, peer);
            assert_int_equal(ours_ok, theirs_ok);
            if (ours_ok)
                assert_memory_equal(ours, theirs, 32);
            else
                assert_memory_equal(ours, zero, 32), refused++;
        }
    }
    /* 0, 1, p - 1, p (= 0), p + 1 (= 1) and the two points of order 8,
     * each with and without the top bit */
    assert_int_equal(refused, 14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7748_vectors),
        cmocka_unit_test(test_rfc7748_iterated),
        cmocka_unit_test(test_rfc7748_key_agreement),
        cmocka_unit_test(test_public_key_matches_openssl),
        cmocka_unit_test(test_shared_secret_matches_openssl),
        cmocka_unit_test(test_edge_peer_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

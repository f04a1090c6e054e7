/*
 * x25519: certgate's X25519 public key (x25519.h) gives RFC 7748's answers
 * (section 6.1's two public keys, Alice's and Bob's) and what OpenSSL's
 * default provider gives, key for key: public keys of 3,000 random private
 * keys, and of the extremes of clamping (all zeros, all ones).
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

/* The call under test, with the private key marked secret for memcheck. */
static void ours_public_key(uint8_t pub[32], const uint8_t priv[32])
{
    uint8_t secret[32];
    memcpy(secret, priv, 32);
    VALGRIND_MAKE_MEM_UNDEFINED(secret, 32);
    cg_x25519_public_key(pub, secret);
    VALGRIND_MAKE_MEM_DEFINED(pub, 32);
}

static int rounds(int normal, int under_memcheck)
{
    return getenv("CG_X25519_CONSTANT_TIME") != NULL ? under_memcheck : normal;
}

/* RFC 7748 6.1: Alice's and Bob's public keys. */
static void test_rfc7748_public_keys(void **state)
{
    uint8_t a[32], b[32], pub_a[32], pub_b[32];

    (void)state;
    from_hex(a, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    from_hex(b, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    ours_public_key(pub_a, a);
    ours_public_key(pub_b, b);
    assert_bytes_hex(pub_a, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
    assert_bytes_hex(pub_b, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7748_public_keys),
        cmocka_unit_test(test_public_key_matches_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

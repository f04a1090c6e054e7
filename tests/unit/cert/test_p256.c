/*
 * p256: certgate's ECDSA P-256 verification (p256.h) decides as OpenSSL's
 * does, signature for signature: OpenSSL signs (and verifies) with its own
 * keys, p256 verifies with a table of the same key.
 *
 *  - 300 random keys, 3 signatures each over random 32-byte digests: all
 *    valid; the same with one bit of the digest, r or s changed, with
 *    n - s (also valid), and against another key: all as OpenSSL says.
 *  - digests of 0, 1, 20, 32, 48 and 64 bytes (truncation), all zeros
 *    (u1 = 0), all ones (e >= n), e = n exactly.
 *  - r and s at the edges: 0, 1, n - 1, n, n + 1, 2^256 - 1.
 *  - the keys 1 and n - 1 (Q = G and Q = -G), with signatures made so that
 *    the sum meets P + P (a doubling) and P + (-P) (infinity) on the way.
 *  - points refused: not on the curve, a coordinate >= p, a compressed or
 *    infinity encoding.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "cert/p256.h"
#include "core/common.h"

static const char *const N_HEX = "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551";

struct key {
    EVP_PKEY *pkey;
    uint8_t point[CG_P256_POINT_BYTES];
    struct cg_p256_table *table;
};

static void key_fill(struct key *k)
{
    size_t len = 0;

    assert_int_equal(EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, k->point,
                                                     sizeof(k->point), &len), 1);
    assert_int_equal(len, CG_P256_POINT_BYTES);
    assert_int_equal(cg_p256_table_new(k->point, &k->table), CG_OK);
}

static void key_random(struct key *k)
{
    k->pkey = EVP_EC_gen("P-256");
    assert_non_null(k->pkey);
    key_fill(k);
}

/* The key whose private scalar is `priv_hex`. */
static void key_of_scalar(struct key *k, const char *priv_hex)
{
    BIGNUM *d = NULL;
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *q = EC_POINT_new(g);
    uint8_t pub[CG_P256_POINT_BYTES];
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    assert_true(BN_hex2bn(&d, priv_hex) > 0);
    assert_int_equal(EC_POINT_mul(g, q, d, NULL, NULL, NULL), 1);
    assert_int_equal(EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL),
                     sizeof(pub));
    assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d), 1);
    assert_int_equal(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)), 1);
    params = OSSL_PARAM_BLD_to_param(b);
    assert_non_null(params);
    k->pkey = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &k->pkey, EVP_PKEY_KEYPAIR, params), 1);
    key_fill(k);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    EVP_PKEY_CTX_free(ctx);
    EC_POINT_free(q);
    EC_GROUP_free(g);
    BN_free(d);
}

static void key_free(struct key *k)
{
    EVP_PKEY_free(k->pkey);
    cg_p256_table_free(k->table);
}

/* DER signature <-> (r, s) as 32-byte big-endian numbers; a number that
 * does not fit 32 bytes cannot be given to p256 and is not used. */
static void split_sig(const uint8_t *der, size_t len, uint8_t r[32], uint8_t s[32])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);

    assert_non_null(sig);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_r(sig), r, 32), 32);
    assert_int_equal(BN_bn2binpad(ECDSA_SIG_get0_s(sig), s, 32), 32);
    ECDSA_SIG_free(sig);
}

static size_t join_sig(uint8_t *der, const uint8_t r[32], const uint8_t s[32])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(r, 32, NULL), *bs = BN_bin2bn(s, 32, NULL);
    unsigned char *p = der;
    int len;

    assert_int_equal(ECDSA_SIG_set0(sig, br, bs), 1);
    len = i2d_ECDSA_SIG(sig, &p);
    assert_true(len > 0 && len <= 80);
    ECDSA_SIG_free(sig);
    return (size_t)len;
}

static void sign(const struct key *k, const uint8_t *digest, size_t len, uint8_t r[32], uint8_t s[32])
{
    uint8_t der[80];
    size_t der_len = sizeof(der);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);

    assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
    assert_int_equal(EVP_PKEY_sign(ctx, der, &der_len, digest, len), 1);
    split_sig(der, der_len, r, s);
    EVP_PKEY_CTX_free(ctx);
}

/* OpenSSL's answer, 1 or 0. */
static int openssl_verify(const struct key *k, const uint8_t *digest, size_t len, const uint8_t r[32],
                          const uint8_t s[32])
{
    uint8_t der[80];
    size_t der_len = join_sig(der, r, s);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
    int rc;

    assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
    rc = EVP_PKEY_verify(ctx, der, der_len, digest, len);
    EVP_PKEY_CTX_free(ctx);
    return rc == 1;
}

/* Both verify; both must agree, and agree with `want` unless it is -1. */
static void check(const struct key *k, const uint8_t *digest, size_t len, const uint8_t r[32],
                  const uint8_t s[32], int want)
{
    int ours = cg_p256_verify(k->table, digest, len, r, s);
    int theirs = openssl_verify(k, digest, len, r, s);

    assert_int_equal(ours, theirs);
    if (want >= 0)
        assert_int_equal(ours, want);
}

static void hex32(uint8_t out[32], const char *hex)
{
    BIGNUM *b = NULL;

    assert_true(BN_hex2bn(&b, hex) > 0);
    assert_int_equal(BN_bn2binpad(b, out, 32), 32);
    BN_free(b);
}

/* out = n - in */
static void n_minus(uint8_t out[32], const uint8_t in[32])
{
    BIGNUM *n = NULL, *v = BN_bin2bn(in, 32, NULL);

    assert_true(BN_hex2bn(&n, N_HEX) > 0);
    assert_int_equal(BN_sub(v, n, v), 1);
    assert_int_equal(BN_bn2binpad(v, out, 32), 32);
    BN_free(n);
    BN_free(v);
}

static void test_random_keys_and_changes(void **state)
{
    (void)state;
    struct key other;

    key_random(&other);
    for (int i = 0; i < 300; i++) {
        struct key k;

        key_random(&k);
        for (int j = 0; j < 3; j++) {
            uint8_t d[32], r[32], s[32], x[32];

            assert_int_equal(RAND_bytes(d, sizeof(d)), 1);
            sign(&k, d, sizeof(d), r, s);
            check(&k, d, sizeof(d), r, s, 1);
            assert_int_equal(cg_p256_verify(other.table, d, sizeof(d), r, s), 0);
            n_minus(x, s);
            check(&k, d, sizeof(d), r, x, 1);
            memcpy(x, d, 32);
            x[(i + j) % 32] ^= (uint8_t)(1u << (j % 8));
            check(&k, x, sizeof(x), r, s, 0);
            memcpy(x, r, 32);
            x[31 - j] ^= 0x10;
            check(&k, d, sizeof(d), x, s, 0);
            memcpy(x, s, 32);
            x[j] ^= 0x01;
            check(&k, d, sizeof(d), r, x, 0);
            check(&k, d, sizeof(d), s, r, -1);
        }
        key_free(&k);
    }
    key_free(&other);
}

static void test_digest_lengths_and_values(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 20, 31, 32, 33, 48, 64};
    struct key k;
    uint8_t d[64], r[32], s[32], n[32];

    key_random(&k);
    for (size_t i = 0; i < CG_ARRAY_LEN(lens); i++) {
        for (int j = 0; j < 20; j++) {
            assert_int_equal(RAND_bytes(d, sizeof(d)), 1);
            sign(&k, d, lens[i], r, s);
            check(&k, d, lens[i], r, s, 1);
            if (lens[i] > 32) {
                /* Bytes past the 32nd do not count, for both. */
                d[lens[i] - 1] ^= 0xff;
                check(&k, d, lens[i], r, s, 1);
            }
        }
    }
    memset(d, 0, 32);                     /* u1 = 0 */
    sign(&k, d, 32, r, s);
    check(&k, d, 32, r, s, 1);
    memset(d, 0xff, 32);                  /* e >= n */
    sign(&k, d, 32, r, s);
    check(&k, d, 32, r, s, 1);
    hex32(n, N_HEX);                      /* e = n, so e mod n = 0 */
    sign(&k, n, 32, r, s);
    check(&k, n, 32, r, s, 1);
    memset(d, 0, 32);
    check(&k, d, 32, r, s, 1);            /* the same number, mod n */
    key_free(&k);
}

static void test_scalar_edges(void **state)
{
    (void)state;
    static const char *const edges[] = {
        "00", "01", "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632550",
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632552",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
    };
    struct key k;
    uint8_t d[32], r[32], s[32], e[32];

    key_random(&k);
    assert_int_equal(RAND_bytes(d, sizeof(d)), 1);
    sign(&k, d, sizeof(d), r, s);
    for (size_t i = 0; i < CG_ARRAY_LEN(edges); i++) {
        if (strcmp(edges[i], "00") == 0)
            memset(e, 0, 32);
        else
            hex32(e, edges[i]);
        check(&k, d, sizeof(d), e, s, 0);
        check(&k, d, sizeof(d), r, e, 0);
    }
    check(&k, d, sizeof(d), r, s, 1);
    key_free(&k);
}

/* A valid signature by the key 1 (minus = false) or n - 1 (minus = true)
 * made with the nonce k and the digest e = s, so that u1 = e/s = 1: the
 * base point's part of the sum is G itself. With the key 1, s = r/(k - 1)
 * and u2 = k - 1; with the key n - 1, s = -r/(k - 1) and u2 = n - (k - 1).
 * k is chosen so that u2's first digit is 1: the key's first table point,
 * G or -G, then meets the sum G (G + G: a doubling; G + (-G): infinity),
 * and the later digits still bring the sum to k·G. */
static void crafted(const struct key *k, bool minus, unsigned nonce)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EC_POINT *R = EC_POINT_new(g);
    BIGNUM *kb = BN_new(), *x = BN_new(), *r = BN_new(), *s = BN_new(), *t = BN_new();
    const BIGNUM *n = EC_GROUP_get0_order(g);
    BN_CTX *ctx = BN_CTX_new();
    uint8_t rb[32], sb[32];

    assert_int_equal(BN_set_word(kb, nonce), 1);
    assert_int_equal(EC_POINT_mul(g, R, kb, NULL, NULL, ctx), 1);
    assert_int_equal(EC_POINT_get_affine_coordinates(g, R, x, NULL, ctx), 1);
    assert_int_equal(BN_nnmod(r, x, n, ctx), 1);
    assert_int_equal(BN_set_word(t, nonce - 1), 1);
    assert_non_null(BN_mod_inverse(t, t, n, ctx));
    assert_int_equal(BN_mod_mul(s, r, t, n, ctx), 1);
    if (minus)
        assert_int_equal(BN_sub(s, n, s), 1);
    assert_int_equal(BN_bn2binpad(r, rb, 32), 32);
    assert_int_equal(BN_bn2binpad(s, sb, 32), 32);
    check(k, sb, 32, rb, sb, 1);
    EC_POINT_free(R);
    BN_free(kb);
    BN_free(x);
    BN_free(r);
    BN_free(s);
    BN_free(t);
    BN_CTX_free(ctx);
    EC_GROUP_free(g);
}

/* Keys 1 and n - 1: Q = G and Q = -G, so the base point's and the key's
 * table points can meet (P + P, P + (-P)): signatures made to meet them
 * (crafted), and random ones. */
static void test_keys_that_meet_the_base_point(void **state)
{
    (void)state;
    static const char *const scalars[] = {
        "01", "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632550", "02"};

    for (size_t i = 0; i < CG_ARRAY_LEN(scalars); i++) {
        struct key k;

        key_of_scalar(&k, scalars[i]);
        if (i == 0) {
            crafted(&k, false, 34);   /* u2 = 33: digits 1, 1 */
            crafted(&k, false, 2);    /* u2 = 1 */
        } else if (i == 1) {
            crafted(&k, true, 17);    /* u2 = n - 16: first digit 1 */
        }
        for (int j = 0; j < 200; j++) {
            uint8_t d[32], r[32], s[32];

            assert_int_equal(RAND_bytes(d, sizeof(d)), 1);
            sign(&k, d, sizeof(d), r, s);
            check(&k, d, sizeof(d), r, s, 1);
            d[j % 32] ^= 0x80;
            check(&k, d, sizeof(d), r, s, 0);
            /* r = s: u1 and u2 then differ only through e, and with e = r
             * they are equal: u1·G + u2·Q with the same digits throughout. */
            check(&k, r, sizeof(r), r, r, -1);
        }
        key_free(&k);
    }
}

static void test_points_refused(void **state)
{
    (void)state;
    struct key k;
    struct cg_p256_table *t = (struct cg_p256_table *)&k;   /* overwritten with NULL */
    uint8_t p[CG_P256_POINT_BYTES];

    key_random(&k);
    memcpy(p, k.point, sizeof(p));
    p[64] ^= 1;                                     /* y changed: off the curve */
    assert_int_equal(cg_p256_table_new(p, &t), CG_ERR);
    assert_null(t);
    memcpy(p, k.point, sizeof(p));
    p[0] = 0x02;                                    /* not uncompressed */
    assert_int_equal(cg_p256_table_new(p, &t), CG_ERR);
    memset(p, 0, sizeof(p));                        /* infinity is not 04 || x || y */
    assert_int_equal(cg_p256_table_new(p, &t), CG_ERR);
    p[0] = 0x04;                                    /* (0, 0) is not on the curve */
    assert_int_equal(cg_p256_table_new(p, &t), CG_ERR);
    memset(p + 1, 0xff, 32);                        /* x >= p */
    assert_int_equal(cg_p256_table_new(p, &t), CG_ERR);
    assert_true(cg_p256_table_bytes() >= 52 * 16 * 64);
    key_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_keys_and_changes),
        cmocka_unit_test(test_digest_lengths_and_values),
        cmocka_unit_test(test_scalar_edges),
        cmocka_unit_test(test_keys_that_meet_the_base_point),
        cmocka_unit_test(test_points_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * key_exchange: certgate's X25519 KEYMGMT (key_exchange.c) gives what
 * OpenSSL's default provider gives, and the agreement of its keys is the
 * default provider's. Our query fetches our KEYMGMT and the default
 * provider's KEYEXCH (we offer none); a NULL query (or the key schedule's
 * alone) fetches the default provider's X25519 for both. Keys generated as
 * libssl generates them are ours, and their public keys are x25519.h's and
 * OpenSSL's for the same private key. Agreements of our keys, generated and
 * decoded as libssl does it, fresh every time, go through the default
 * provider's KEYEXCH (EVP exports each key to it) and equal the default
 * provider's over the same raw keys, both directions; over random peer
 * keys, our keys, the default provider's and mixed ones agree byte for
 * byte and failure for failure. What the default provider gets by export
 * is the whole key (public and private halves, not a recomputed public
 * key). Peer keys of small order (RFC 7748 and libsodium's list, with and
 * without the top bit) pass the public-key check and fail the default
 * provider's derive with our keys. Keys export, import, print, encode,
 * compare, duplicate and take a peer's public key as the default
 * provider's do.
 *
 * Real TLS 1.3 and 1.2 handshakes over memory BIOs in every pairing of our
 * provider and the default one on client and server, full and resumed, use
 * X25519 keys of the provider each side chose, and P-256 stays the default
 * provider's. A key share replaced on the wire by a point of small order
 * ends the handshake with an alert (the default provider's derive refuses
 * it), the same whichever provider's keys the refusing end holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/proverr.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/common.h"
#include "testutil.h"
#include "tls/key_exchange.h"
#include "tls/key_schedule.h"
#include "tls/provider.h"
#include "tls/x25519.h"

#define OURS    CG_KEY_EXCHANGE_PROPQ
#define DEFAULT "provider=default"
#define KEYLEN  CG_X25519_KEY_BYTES

static int setup(void **state)
{
    char *err = NULL;

    (void)state;
    if (cg_key_exchange_select(CG_KEY_EXCHANGE_BUILTIN, &err) != CG_OK) {
        fprintf(stderr, "select: %s\n", err);
        free(err);
        return -1;
    }
    return 0;
}

static const char *provider_of_pkey(const EVP_PKEY *k)
{
    const OSSL_PROVIDER *p = EVP_PKEY_get0_provider(k);
    return p != NULL ? OSSL_PROVIDER_get0_name(p) : "(legacy)";
}

/* ---- who serves which fetch ------------------------------------------ */

static void assert_keymgmt_from(const char *alg, const char *propq, const char *want)
{
    EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(NULL, alg, propq);

    assert_non_null(km);
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_KEYMGMT_get0_provider(km)), want);
    EVP_KEYMGMT_free(km);
}

static void assert_keyexch_from(const char *alg, const char *propq, const char *want)
{
    EVP_KEYEXCH *kx = EVP_KEYEXCH_fetch(NULL, alg, propq);

    assert_non_null(kx);
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_KEYEXCH_get0_provider(kx)), want);
    EVP_KEYEXCH_free(kx);
}

static void test_fetch_provenance(void **state)
{
    static const char *const not_ours[] = {NULL, "", CG_KEY_SCHEDULE_PROPQ};
    const char *both = CG_KEY_SCHEDULE_PROPQ "," CG_KEY_EXCHANGE_PROPQ;

    (void)state;
    assert_int_equal(cg_key_exchange_current(), CG_KEY_EXCHANGE_BUILTIN);
    assert_string_equal(cg_key_exchange_name(CG_KEY_EXCHANGE_BUILTIN), "builtin");
    assert_string_equal(cg_key_exchange_name(CG_KEY_EXCHANGE_OPENSSL), "openssl");

    /* Our KEYMGMT under our property, alone or with the key schedule's;
     * the KEYEXCH is the default provider's whatever the query (we offer
     * none), and it is there. */
    assert_keymgmt_from("X25519", OURS, CG_PROVIDER_NAME);
    assert_keymgmt_from("X25519", both, CG_PROVIDER_NAME);
    assert_keymgmt_from("1.3.101.110", OURS, CG_PROVIDER_NAME);   /* its OID names it too */
    assert_keyexch_from("X25519", OURS, "default");
    assert_keyexch_from("X25519", both, "default");
    assert_keyexch_from("1.3.101.110", OURS, "default");
    assert_null(EVP_KEYEXCH_fetch(NULL, "X25519", "provider=" CG_PROVIDER_NAME));
    ERR_clear_error();

    /* The default provider's for every other query... */
    for (size_t i = 0; i < CG_ARRAY_LEN(not_ours); i++) {
        assert_keymgmt_from("X25519", not_ours[i], "default");
        assert_keyexch_from("X25519", not_ours[i], "default");
    }
    /* ... and for every other algorithm, under ours too. */
    assert_keymgmt_from("EC", OURS, "default");
    assert_keymgmt_from("X448", OURS, "default");
    assert_keyexch_from("ECDH", OURS, "default");
    assert_keyexch_from("X448", OURS, "default");

    /* Keys made the usual ways, with no query, are the default provider's. */
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    assert_non_null(k);
    assert_string_equal(provider_of_pkey(k), "default");
    EVP_PKEY_free(k);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
    k = NULL;
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
    assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
    assert_string_equal(provider_of_pkey(k), "default");
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(ctx);
}

/* The query SSL_CTXs get is composed of both choices. */
static void test_propq_composition(void **state)
{
    char *err = NULL;

    (void)state;
    assert_int_equal(cg_key_schedule_select(CG_KEY_SCHEDULE_OPENSSL, &err), CG_OK);
    assert_string_equal(cg_provider_propq(), CG_KEY_EXCHANGE_PROPQ);
    assert_int_equal(cg_key_schedule_select(CG_KEY_SCHEDULE_BUILTIN, &err), CG_OK);
    assert_string_equal(cg_provider_propq(), "?certgate.fast=yes,?certgate.x25519=yes");
    assert_true(cg_provider_propq_is_ours(cg_provider_propq()));
    assert_int_equal(cg_key_exchange_select(CG_KEY_EXCHANGE_OPENSSL, &err), CG_OK);
    assert_string_equal(cg_provider_propq(), CG_KEY_SCHEDULE_PROPQ);
    assert_int_equal(cg_key_schedule_select(CG_KEY_SCHEDULE_OPENSSL, &err), CG_OK);
    assert_null(cg_provider_propq());
    assert_false(cg_provider_propq_is_ours("provider=default"));
    assert_false(cg_provider_propq_is_ours("?certgate.fast=no"));
    assert_true(cg_provider_propq_is_ours(CG_KEY_EXCHANGE_PROPQ));

    /* Under the whole query, each algorithm of ours is preferred. */
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", "?certgate.fast=yes,?certgate.x25519=yes");
    assert_non_null(kdf);
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_KDF_get0_provider(kdf)), CG_PROVIDER_NAME);
    EVP_KDF_free(kdf);

    assert_int_equal(cg_key_exchange_select(CG_KEY_EXCHANGE_BUILTIN, &err), CG_OK);
    assert_int_equal(cg_key_exchange_select(CG_KEY_EXCHANGE_BUILTIN, &err), CG_OK);
    assert_string_equal(cg_provider_propq(), CG_KEY_EXCHANGE_PROPQ);
    free(err);
}

/* ---- keys ------------------------------------------------------------- */

static void raw_private(const EVP_PKEY *k, uint8_t out[KEYLEN])
{
    size_t len = KEYLEN;

    assert_int_equal(EVP_PKEY_get_raw_private_key(k, out, &len), 1);
    assert_int_equal(len, KEYLEN);
}

static void raw_public(const EVP_PKEY *k, uint8_t out[KEYLEN])
{
    size_t len = KEYLEN;

    assert_int_equal(EVP_PKEY_get_raw_public_key(k, out, &len), 1);
    assert_int_equal(len, KEYLEN);
}

/* A key pair generated as libssl generates its share. */
static EVP_PKEY *keygen_as_libssl(const char *propq)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", propq);
    EVP_PKEY *k = NULL;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_group_name(ctx, "X25519"), 1);
    assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static void test_keygen(void **state)
{
    uint8_t priv[KEYLEN], pub[KEYLEN], want[KEYLEN], prev[KEYLEN] = {0};

    (void)state;
    for (int i = 0; i < 200; i++) {
        EVP_PKEY *k = keygen_as_libssl(OURS);
        unsigned char *enc = NULL;

        assert_string_equal(provider_of_pkey(k), CG_PROVIDER_NAME);
        assert_true(EVP_PKEY_is_a(k, "X25519"));
        assert_int_equal(EVP_PKEY_get_bits(k), 253);
        assert_int_equal(EVP_PKEY_get_security_bits(k), 128);
        assert_int_equal(EVP_PKEY_get_size(k), 32);
        raw_private(k, priv);
        raw_public(k, pub);
        assert_memory_not_equal(priv, prev, KEYLEN);   /* fresh randomness */
        memcpy(prev, priv, KEYLEN);
        /* x25519.h's public key of the private key... */
        cg_x25519_public_key(want, priv);
        assert_memory_equal(pub, want, KEYLEN);
        /* ... which is OpenSSL's too. */
        EVP_PKEY *d = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", DEFAULT, priv, KEYLEN);
        assert_non_null(d);
        raw_public(d, want);
        assert_memory_equal(pub, want, KEYLEN);
        /* The encoded public key (the key share) is the raw one. */
        assert_int_equal(EVP_PKEY_get1_encoded_public_key(k, &enc), KEYLEN);
        assert_memory_equal(enc, pub, KEYLEN);
        assert_int_equal(EVP_PKEY_eq(k, d), 1);
        OPENSSL_free(enc);
        EVP_PKEY_free(d);
        EVP_PKEY_free(k);
    }
}

static void test_keygen_refusals(void **state)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", OURS);
    EVP_PKEY *k = NULL;

    (void)state;
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_PKEY_CTX_get0_provider(ctx)), CG_PROVIDER_NAME);
    /* Another group is refused; x25519 in either case is taken. */
    assert_true(EVP_PKEY_CTX_set_group_name(ctx, "P-256") <= 0);
    assert_int_equal(EVP_PKEY_CTX_set_group_name(ctx, "x25519"), 1);
    assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    /* Keys of another length are no X25519 keys. */
    uint8_t bytes[KEYLEN + 1] = {9};
    assert_null(EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", OURS, bytes, KEYLEN - 1));
    assert_null(EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", OURS, bytes, KEYLEN + 1));
    assert_null(EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", OURS, bytes, KEYLEN + 1));
    ERR_clear_error();
}

/* ---- agreement: our keys, the default provider's KEYEXCH ---------------- */

static EVP_PKEY *private_key(const char *propq, const uint8_t priv[KEYLEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", propq, priv, KEYLEN);

    assert_non_null(k);
    return k;
}

static EVP_PKEY *public_key(const char *propq, const uint8_t pub[KEYLEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", propq, pub, KEYLEN);

    assert_non_null(k);
    return k;
}

/* The peer's share as libssl takes it: an empty key with `own`'s
 * parameters (so of own's provider), then the encoded public key. */
static EVP_PKEY *peer_as_libssl(const EVP_PKEY *own, const uint8_t share[KEYLEN])
{
    EVP_PKEY *peer = EVP_PKEY_new();

    assert_non_null(peer);
    assert_int_equal(EVP_PKEY_copy_parameters(peer, own), 1);
    assert_int_equal(EVP_PKEY_set1_encoded_public_key(peer, share, KEYLEN), 1);
    assert_string_equal(provider_of_pkey(peer), provider_of_pkey(own));
    return peer;
}

/* derive(own, peer) as libssl does it, under propq: always through the
 * default provider's KEYEXCH (we offer none), whoever's keys they are. 1
 * and the secret, or 0; *reason (if given): the reason of the error that
 * failed the derive, 0 if it succeeded. */
static int derive_why(EVP_PKEY *own, EVP_PKEY *peer, const char *propq, uint8_t out[KEYLEN],
                      int *reason)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, propq);
    size_t len = 0;
    int ok;

    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_PKEY_CTX_get0_provider(ctx)), "default");
    /* Its public-key check passes any 32 bytes; the key moves across. */
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, peer), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, NULL, &len), 1);
    assert_int_equal(len, KEYLEN);
    memset(out, 0xa5, KEYLEN);
    ERR_clear_error();
    ok = EVP_PKEY_derive(ctx, out, &len) == 1;
    if (ok)
        assert_int_equal(len, KEYLEN);
    if (reason != NULL)
        *reason = ok ? 0 : ERR_GET_REASON(ERR_peek_last_error());
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static int derive(EVP_PKEY *own, EVP_PKEY *peer, const char *propq, uint8_t out[KEYLEN])
{
    return derive_why(own, peer, propq, out, NULL);
}

/* derive(priv, peer) with our keys, with the default provider's, and mixed:
 * all succeed with the same secret, or all fail. Returns whether they
 * succeeded. */
static bool derive_all_ways(const uint8_t priv[KEYLEN], const uint8_t peer[KEYLEN])
{
    EVP_PKEY *ko = private_key(OURS, priv), *po = public_key(OURS, peer);
    EVP_PKEY *kd = private_key(DEFAULT, priv), *pd = public_key(DEFAULT, peer);
    uint8_t a[KEYLEN], b[KEYLEN], c[KEYLEN], d[KEYLEN];
    int ra, rb, rc, rd;

    assert_string_equal(provider_of_pkey(ko), CG_PROVIDER_NAME);
    assert_string_equal(provider_of_pkey(po), CG_PROVIDER_NAME);
    assert_string_equal(provider_of_pkey(kd), "default");
    assert_string_equal(provider_of_pkey(pd), "default");
    ra = derive(ko, po, OURS, a);      /* both keys moved by export */
    rb = derive(kd, pd, DEFAULT, b);   /* nothing moves */
    rc = derive(ko, pd, OURS, c);      /* our key pair alone */
    rd = derive(kd, po, OURS, d);      /* our peer key alone */
    assert_int_equal(ra, rb);
    assert_int_equal(rc, rb);
    assert_int_equal(rd, rb);
    if (ra) {
        assert_memory_equal(a, b, KEYLEN);
        assert_memory_equal(c, b, KEYLEN);
        assert_memory_equal(d, b, KEYLEN);
    }
    EVP_PKEY_free(ko);
    EVP_PKEY_free(po);
    EVP_PKEY_free(kd);
    EVP_PKEY_free(pd);
    return ra;
}

/* Both sides of a handshake with keys of ours generated and decoded as
 * libssl makes them, fresh every time (so every key is exported once,
 * nothing reused from an earlier agreement): both directions agree, and
 * agree with the default provider's keys of the same raw values. */
static void test_derive_fresh_keys(void **state)
{
    uint8_t priv_a[KEYLEN], pub_a[KEYLEN], priv_b[KEYLEN], pub_b[KEYLEN];
    uint8_t ab[KEYLEN], ba[KEYLEN], want[KEYLEN];

    (void)state;
    for (int i = 0; i < 300; i++) {
        EVP_PKEY *ka = keygen_as_libssl(OURS), *kb = keygen_as_libssl(OURS);
        raw_private(ka, priv_a);
        raw_public(ka, pub_a);
        raw_private(kb, priv_b);
        raw_public(kb, pub_b);
        EVP_PKEY *peer_b = peer_as_libssl(ka, pub_b), *peer_a = peer_as_libssl(kb, pub_a);
        assert_int_equal(derive(ka, peer_b, OURS, ab), 1);
        assert_int_equal(derive(kb, peer_a, OURS, ba), 1);
        assert_memory_equal(ab, ba, KEYLEN);

        EVP_PKEY *da = private_key(DEFAULT, priv_a), *db = public_key(DEFAULT, pub_b);
        assert_int_equal(derive(da, db, DEFAULT, want), 1);
        assert_memory_equal(ab, want, KEYLEN);
        EVP_PKEY_free(da);
        EVP_PKEY_free(db);
        EVP_PKEY_free(peer_a);
        EVP_PKEY_free(peer_b);
        EVP_PKEY_free(ka);
        EVP_PKEY_free(kb);
    }
}

/* Random private keys with real peers and with any 32 bytes (top bit
 * included: a peer key to RFC 7748), our keys and the default provider's
 * in every combination. */
static void test_derive_matches_default(void **state)
{
    uint8_t a[KEYLEN], b[KEYLEN], pub_b[KEYLEN];
    unsigned ok = 0;

    (void)state;
    for (int i = 0; i < 150; i++) {
        assert_int_equal(RAND_bytes(a, KEYLEN), 1);
        assert_int_equal(RAND_bytes(b, KEYLEN), 1);
        EVP_PKEY *kb = private_key(DEFAULT, b);
        raw_public(kb, pub_b);
        EVP_PKEY_free(kb);
        ok += derive_all_ways(a, pub_b);
        ok += derive_all_ways(a, b);
    }
    assert_int_equal(ok, 300);
}

/*
 * What the default provider gets of our keys is the keys, whole: its copy
 * of our key pair has our public key (EVP_PKEY_eq exports ours to compare
 * it with the default provider's key; a public key dropped on the way would
 * be recomputed from the private key), its copy of a public key of ours
 * can be agreed with, and a key of ours without its private half derives
 * nothing. A duplicated context derives the same.
 */
static void test_export_to_default(void **state)
{
    uint8_t a[KEYLEN], pub_a[KEYLEN], pub_c[KEYLEN], x[KEYLEN], y[KEYLEN];

    (void)state;
    EVP_PKEY *ka = keygen_as_libssl(OURS), *kc = keygen_as_libssl(OURS);
    raw_private(ka, a);
    raw_public(ka, pub_a);
    raw_public(kc, pub_c);

    /* The default provider takes a public key it is given as it is: a key
     * of mismatched halves keeps the public half it came with. */
    OSSL_PARAM mixed[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, a, KEYLEN),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub_c, KEYLEN),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *m[2] = {NULL, NULL};
    static const char *const propqs[] = {OURS, DEFAULT};
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY_CTX *mctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", propqs[i]);
        assert_int_equal(EVP_PKEY_fromdata_init(mctx), 1);
        assert_int_equal(EVP_PKEY_fromdata(mctx, &m[i], EVP_PKEY_KEYPAIR, mixed), 1);
        EVP_PKEY_CTX_free(mctx);
        raw_public(m[i], x);
        assert_memory_equal(x, pub_c, KEYLEN);
    }
    assert_string_equal(provider_of_pkey(m[0]), CG_PROVIDER_NAME);
    assert_string_equal(provider_of_pkey(m[1]), "default");
    /* Our mixed key agrees (the default provider uses its private half
     * only) and so gets its copy in the default provider, cached in the
     * key; EVP_PKEY_eq with a default provider's key compares that copy's
     * public key: it is the one we hold, not one recomputed from the
     * private key. */
    EVP_PKEY *da = private_key(DEFAULT, a), *dc = public_key(DEFAULT, pub_c);
    EVP_PKEY *pc = public_key(OURS, pub_c);
    assert_int_equal(derive(m[0], pc, OURS, x), 1);
    assert_int_equal(derive(da, dc, DEFAULT, y), 1);
    assert_memory_equal(x, y, KEYLEN);
    assert_int_equal(EVP_PKEY_eq(m[0], dc), 1);
    assert_int_equal(EVP_PKEY_eq(m[0], da), 0);
    assert_int_equal(EVP_PKEY_eq(ka, da), 1);
    assert_int_equal(EVP_PKEY_eq(m[0], m[1]), 1);
    ERR_clear_error();

    /* A public key of ours as the own key: moved across, it has nothing
     * to derive with. */
    EVP_PKEY *pa = public_key(OURS, pub_a);
    size_t len = KEYLEN;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pa, OURS), *dup;
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, pc), 1);
    assert_true(EVP_PKEY_derive(ctx, x, &len) <= 0);
    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    /* A duplicated context derives what the original would. */
    assert_int_equal(derive(ka, pc, OURS, y), 1);
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ka, OURS);
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, pc), 1);
    dup = EVP_PKEY_CTX_dup(ctx);
    assert_non_null(dup);
    EVP_PKEY_CTX_free(ctx);
    len = KEYLEN;
    assert_int_equal(EVP_PKEY_derive(dup, x, &len), 1);
    assert_memory_equal(x, y, KEYLEN);
    EVP_PKEY_CTX_free(dup);
    /* And the same key agrees again (its copy in the default provider is
     * cached in the key) under any query. */
    assert_int_equal(derive(ka, pc, DEFAULT, x), 1);
    assert_memory_equal(x, y, KEYLEN);
    assert_int_equal(derive(ka, pc, NULL, x), 1);
    assert_memory_equal(x, y, KEYLEN);

    EVP_PKEY_free(pa);
    EVP_PKEY_free(pc);
    EVP_PKEY_free(da);
    EVP_PKEY_free(dc);
    EVP_PKEY_free(m[0]);
    EVP_PKEY_free(m[1]);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kc);
}

/* u-coordinates of small order (RFC 7748 section 6.1; libsodium's list):
 * 0, 1, two points of order 8, p - 1, p, p + 1. */
static const uint8_t small_order[][KEYLEN] = {
    {0},
    {1},
    {0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4, 0x6a,
     0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49, 0xb8, 0x00},
    {0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef, 0x5b,
     0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f, 0x11, 0x57},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

/* A peer key of small order, with and without the top bit: the share
 * decodes into a key of ours and passes the public-key check (any 32 bytes
 * are a public key, in both providers); the default provider's derive
 * refuses the all-zero secret, with our keys as with its own. */
static void test_small_order_peers(void **state)
{
    uint8_t priv[KEYLEN], peer[KEYLEN], out[KEYLEN];

    (void)state;
    for (int i = 0; i < 20; i++) {
        EVP_PKEY *own = keygen_as_libssl(OURS);
        raw_private(own, priv);
        for (size_t j = 0; j < CG_ARRAY_LEN(small_order); j++) {
            for (int top = 0; top < 2; top++) {
                int reason = 0;
                memcpy(peer, small_order[j], KEYLEN);
                peer[31] |= (uint8_t)(top << 7);   /* the top bit is ignored */
                EVP_PKEY *share = peer_as_libssl(own, peer);
                assert_int_equal(derive_why(own, share, OURS, out, &reason), 0);
                assert_int_equal(reason, PROV_R_FAILED_DURING_DERIVATION);
                EVP_PKEY_free(share);
                assert_false(derive_all_ways(priv, peer));
            }
        }
        EVP_PKEY_free(own);
    }
    for (size_t j = 0; j < CG_ARRAY_LEN(small_order); j++) {
        EVP_PKEY *po = public_key(OURS, small_order[j]), *pd = public_key(DEFAULT, small_order[j]);
        EVP_PKEY_CTX *co = EVP_PKEY_CTX_new_from_pkey(NULL, po, OURS);
        EVP_PKEY_CTX *cd = EVP_PKEY_CTX_new_from_pkey(NULL, pd, DEFAULT);
        assert_int_equal(EVP_PKEY_public_check(co), 1);
        assert_int_equal(EVP_PKEY_public_check(cd), 1);
        EVP_PKEY_CTX_free(co);
        EVP_PKEY_CTX_free(cd);
        EVP_PKEY_free(po);
        EVP_PKEY_free(pd);
    }
    ERR_clear_error();
}

/* ---- keys as other code sees them ------------------------------------ */

static char *bio_text(BIO *b)
{
    char *p = NULL;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);

    assert_non_null(s);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    return s;
}

typedef int (*print_fn)(BIO *, const EVP_PKEY *, int, ASN1_PCTX *);

static char *printed(print_fn f, const EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s;

    assert_int_equal(f(b, k, 0, NULL), 1);
    s = bio_text(b);
    BIO_free(b);
    return s;
}

static char *pem_of(const EVP_PKEY *k, bool private)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s;

    if (private)
        assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
    else
        assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    s = bio_text(b);
    BIO_free(b);
    return s;
}

static void test_keys_as_others_see_them(void **state)
{
    uint8_t priv[KEYLEN], pub[KEYLEN], other[KEYLEN];
    OSSL_PARAM *params = NULL;

    (void)state;
    EVP_PKEY *ours = keygen_as_libssl(OURS);
    raw_private(ours, priv);
    raw_public(ours, pub);
    EVP_PKEY *def = private_key(DEFAULT, priv);

    /* Equal to the default provider's key of the same private key, in
     * print, in PEM, in DER, and to EVP_PKEY_eq. */
    static const print_fn prints[] = {EVP_PKEY_print_public, EVP_PKEY_print_private};
    for (size_t i = 0; i < CG_ARRAY_LEN(prints); i++) {
        char *a = printed(prints[i], ours), *b = printed(prints[i], def);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    for (int private = 0; private < 2; private++) {
        char *a = pem_of(ours, private), *b = pem_of(def, private);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    /* X25519 has no parameters to print: OpenSSL's text encoder takes a
     * key of another provider only with key material, so ours refuses. */
    BIO *pb = BIO_new(BIO_s_mem());
    assert_int_equal(EVP_PKEY_print_params(pb, ours, 0, NULL), 0);
    BIO_free(pb);
    ERR_clear_error();
    unsigned char *der_a = NULL, *der_b = NULL;
    int la = i2d_PUBKEY(ours, &der_a), lb = i2d_PUBKEY(def, &der_b);
    assert_true(la > 0);
    assert_int_equal(la, lb);
    assert_memory_equal(der_a, der_b, (size_t)la);
    OPENSSL_free(der_a);
    OPENSSL_free(der_b);
    assert_int_equal(EVP_PKEY_eq(ours, def), 1);
    assert_int_equal(EVP_PKEY_parameters_eq(ours, def), 1);

    /* EVP_PKEY_todata, and back into the default provider. */
    assert_int_equal(EVP_PKEY_todata(ours, EVP_PKEY_KEYPAIR, &params), 1);
    const OSSL_PARAM *pp = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
    const OSSL_PARAM *pv = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY);
    assert_non_null(pp);
    assert_non_null(pv);
    assert_int_equal(pp->data_size, KEYLEN);
    assert_memory_equal(pp->data, pub, KEYLEN);
    assert_memory_equal(pv->data, priv, KEYLEN);
    EVP_PKEY_CTX *fctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", DEFAULT);
    EVP_PKEY *back = NULL;
    assert_int_equal(EVP_PKEY_fromdata_init(fctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(fctx, &back, EVP_PKEY_KEYPAIR, params), 1);
    assert_string_equal(provider_of_pkey(back), "default");
    assert_int_equal(EVP_PKEY_eq(back, ours), 1);
    EVP_PKEY_free(back);
    EVP_PKEY_CTX_free(fctx);
    OSSL_PARAM_free(params);
    params = NULL;
    /* The public half only. */
    assert_int_equal(EVP_PKEY_todata(ours, EVP_PKEY_PUBLIC_KEY, &params), 1);
    assert_null(OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY));
    assert_non_null(OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY));
    OSSL_PARAM_free(params);

    /* A duplicate is equal and ours; another key is not equal. */
    EVP_PKEY *dup = EVP_PKEY_dup(ours);
    assert_non_null(dup);
    assert_string_equal(provider_of_pkey(dup), CG_PROVIDER_NAME);
    assert_int_equal(EVP_PKEY_eq(dup, ours), 1);
    raw_private(dup, other);
    assert_memory_equal(other, priv, KEYLEN);
    EVP_PKEY *another = keygen_as_libssl(OURS);
    assert_int_equal(EVP_PKEY_eq(another, ours), 0);
    assert_int_equal(EVP_PKEY_parameters_eq(another, ours), 1);

    /* As libssl takes a peer's share: an empty key with our key's
     * parameters, then the encoded public key. */
    EVP_PKEY *peer = EVP_PKEY_new();
    unsigned char *enc = NULL;
    assert_int_equal(EVP_PKEY_copy_parameters(peer, another), 1);
    assert_string_equal(provider_of_pkey(peer), CG_PROVIDER_NAME);
    assert_int_equal(EVP_PKEY_missing_parameters(peer), 0);
    raw_public(ours, other);
    assert_int_equal(EVP_PKEY_set1_encoded_public_key(peer, other, KEYLEN - 1), 0);
    assert_int_equal(EVP_PKEY_set1_encoded_public_key(peer, other, KEYLEN), 1);
    assert_int_equal(EVP_PKEY_get1_encoded_public_key(peer, &enc), KEYLEN);
    assert_memory_equal(enc, pub, KEYLEN);
    OPENSSL_free(enc);
    assert_int_equal(EVP_PKEY_eq(peer, ours), 1);
    ERR_clear_error();
    /* A new public key replaces a key pair: the private key goes. */
    assert_int_equal(EVP_PKEY_set1_encoded_public_key(dup, other, KEYLEN), 1);
    size_t len = KEYLEN;
    assert_int_equal(EVP_PKEY_get_raw_private_key(dup, other, &len), 0);
    ERR_clear_error();

    /* A key pair checks; a key whose halves do not belong together does
     * not, in either provider. */
    EVP_PKEY_CTX *cctx = EVP_PKEY_CTX_new_from_pkey(NULL, ours, OURS);
    assert_int_equal(EVP_PKEY_check(cctx), 1);
    assert_int_equal(EVP_PKEY_pairwise_check(cctx), 1);
    assert_int_equal(EVP_PKEY_public_check(cctx), 1);
    assert_int_equal(EVP_PKEY_private_check(cctx), 1);
    EVP_PKEY_CTX_free(cctx);
    raw_public(another, other);
    OSSL_PARAM mixed[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, priv, KEYLEN),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, other, KEYLEN),
        OSSL_PARAM_construct_end(),
    };
    static const char *const propqs[] = {OURS, DEFAULT};
    int verdict[2];
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY_CTX *mctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", propqs[i]);
        EVP_PKEY *m = NULL;
        assert_int_equal(EVP_PKEY_fromdata_init(mctx), 1);
        assert_int_equal(EVP_PKEY_fromdata(mctx, &m, EVP_PKEY_KEYPAIR, mixed), 1);
        EVP_PKEY_CTX_free(mctx);
        mctx = EVP_PKEY_CTX_new_from_pkey(NULL, m, propqs[i]);
        verdict[i] = EVP_PKEY_pairwise_check(mctx);
        EVP_PKEY_CTX_free(mctx);
        EVP_PKEY_free(m);
    }
    assert_int_equal(verdict[0], verdict[1]);
    ERR_clear_error();

    EVP_PKEY_free(peer);
    EVP_PKEY_free(another);
    EVP_PKEY_free(dup);
    EVP_PKEY_free(def);
    EVP_PKEY_free(ours);
}

/* ---- real handshakes ---------------------------------------------------- */

static struct tu_pair ca, server_id, client_id;

static int accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static SSL_CTX *make_ctx(bool server, bool ours, int version, const char *groups)
{
    const struct tu_pair *id = server ? &server_id : &client_id;
    SSL_CTX *ctx = SSL_CTX_new_ex(NULL, ours ? OURS : NULL,
                                  server ? TLS_server_method() : TLS_client_method());

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, version), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(ctx, version), 1);
    if (version == TLS1_2_VERSION)
        assert_int_equal(SSL_CTX_set_cipher_list(ctx, "ECDHE-ECDSA-AES128-GCM-SHA256"), 1);
    assert_int_equal(SSL_CTX_set1_groups_list(ctx, groups), 1);
    assert_int_equal(SSL_CTX_use_certificate(ctx, id->cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, id->key), 1);
    if (server) {
        static const unsigned char sid[] = "key-exchange";
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
        SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
}

/* What one end saw: whose X25519 keys it held, and the alerts. */
struct seen {
    const char *own_key, *peer_key;   /* provider names; NULL: none seen */
    int alert_sent, alert_received;   /* descriptions; -1: none */
};

static void info_cb(const SSL *s, int where, int ret)
{
    struct seen *seen = SSL_get_app_data(s);
    EVP_PKEY *k = NULL;

    if ((where & SSL_CB_ALERT) != 0) {
        if ((where & SSL_CB_READ) != 0)
            seen->alert_received = ret & 0xff;
        else
            seen->alert_sent = ret & 0xff;
    }
    if (seen->own_key == NULL && SSL_get_tmp_key((SSL *)s, &k) == 1) {
        seen->own_key = provider_of_pkey(k);
        EVP_PKEY_free(k);
    }
    if (seen->peer_key == NULL && SSL_get_peer_tmp_key((SSL *)s, &k) == 1) {
        seen->peer_key = provider_of_pkey(k);
        EVP_PKEY_free(k);
    }
}

/* Rewrites bytes on their way from one end to the other; flight: how many
 * of that end's flights went before. */
typedef void (*tamper_fn)(unsigned flight, unsigned char *p, size_t n);

struct wire {
    SSL *ssl;
    BIO *in, *out;   /* owned by ssl: what it reads, what it wrote */
    struct seen seen;
    unsigned flights;
    bool derive_failed;   /* its handshake failed on a refused agreement */
};

/* Whether the error queue holds the default provider's refused key
 * agreement (its derive, with our keys or its own); empties the queue. */
static bool derive_refused(void)
{
    unsigned long e;
    bool found = false;

    while ((e = ERR_get_error()) != 0)
        found |= ERR_GET_LIB(e) == ERR_LIB_PROV && ERR_GET_REASON(e) == PROV_R_FAILED_DURING_DERIVATION;
    return found;
}

static void wire_init(struct wire *w, SSL_CTX *ctx)
{
    memset(w, 0, sizeof(*w));
    w->ssl = SSL_new(ctx);
    w->in = BIO_new(BIO_s_mem());
    w->out = BIO_new(BIO_s_mem());
    assert_non_null(w->ssl);
    assert_non_null(w->in);
    assert_non_null(w->out);
    BIO_set_mem_eof_return(w->in, -1);
    BIO_set_mem_eof_return(w->out, -1);
    SSL_set_bio(w->ssl, w->in, w->out);
    w->seen.alert_sent = w->seen.alert_received = -1;
    SSL_set_app_data(w->ssl, &w->seen);
    SSL_set_info_callback(w->ssl, info_cb);
}

/* Moves what `from` wrote to `to`, through tamper if given. */
static void wire_carry(struct wire *from, struct wire *to, tamper_fn tamper)
{
    char *p = NULL;
    long n = BIO_get_mem_data(from->out, &p);

    if (n <= 0)
        return;
    unsigned char *copy = malloc((size_t)n);
    assert_non_null(copy);
    memcpy(copy, p, (size_t)n);
    if (tamper != NULL)
        tamper(from->flights, copy, (size_t)n);
    from->flights++;
    assert_int_equal(BIO_write(to->in, copy, (int)n), (int)n);
    free(copy);
    (void)BIO_reset(from->out);
}

/* Handshakes until both are done or one fails; true when both succeeded. */
static bool handshake(struct wire *c, struct wire *s, tamper_fn client_tamper,
                      tamper_fn server_tamper)
{
    bool cdone = false, sdone = false, failed = false;

    SSL_set_connect_state(c->ssl);
    SSL_set_accept_state(s->ssl);
    for (int i = 0; i < 20 && !(cdone && sdone) && !failed; i++) {
        int rc;
        if (!cdone) {
            rc = SSL_do_handshake(c->ssl);
            cdone = rc == 1;
            if (!cdone && SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ) {
                failed = true;
                c->derive_failed = derive_refused();
            }
        }
        wire_carry(c, s, client_tamper);
        if (!sdone) {
            rc = SSL_do_handshake(s->ssl);
            sdone = rc == 1;
            if (!sdone && SSL_get_error(s->ssl, rc) != SSL_ERROR_WANT_READ) {
                failed = true;
                s->derive_failed = derive_refused();
            }
        }
        wire_carry(s, c, server_tamper);
    }
    /* The other end reads the alert the failing one sent. */
    if (failed) {
        (void)SSL_do_handshake(c->ssl);
        (void)SSL_do_handshake(s->ssl);
    }
    ERR_clear_error();
    return cdone && sdone && !failed;
}

static void wire_free(struct wire *w)
{
    SSL_free(w->ssl);
}

/* Application data both ways and the same exported keys at both ends. */
static void exchange_data(struct wire *c, struct wire *s)
{
    unsigned char ekm_c[32], ekm_s[32];
    char buf[16];

    assert_int_equal(SSL_write(c->ssl, "ping", 4), 4);
    wire_carry(c, s, NULL);
    assert_int_equal(SSL_read(s->ssl, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(SSL_write(s->ssl, "pong!", 5), 5);
    wire_carry(s, c, NULL);
    assert_int_equal(SSL_read(c->ssl, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "pong!", 5);
    assert_int_equal(SSL_export_keying_material(c->ssl, ekm_c, 32, "EXPORTER-cg", 11, NULL, 0, 0), 1);
    assert_int_equal(SSL_export_keying_material(s->ssl, ekm_s, 32, "EXPORTER-cg", 11, NULL, 0, 0), 1);
    assert_memory_equal(ekm_c, ekm_s, 32);
}

static void test_handshakes(void **state)
{
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};

    (void)state;
    for (size_t v = 0; v < CG_ARRAY_LEN(versions); v++) {
        for (int pairing = 0; pairing < 4; pairing++) {
            bool server_ours = pairing & 1, client_ours = pairing & 2;
            const char *sp = server_ours ? CG_PROVIDER_NAME : "default";
            const char *cp = client_ours ? CG_PROVIDER_NAME : "default";
            SSL_CTX *sctx = make_ctx(true, server_ours, versions[v], "X25519:P-256");
            SSL_CTX *cctx = make_ctx(false, client_ours, versions[v], "X25519:P-256");
            SSL_SESSION *sess = NULL;

            for (int round = 0; round < 2; round++) {
                struct wire c, s;
                wire_init(&c, cctx);
                wire_init(&s, sctx);
                if (sess != NULL)
                    assert_int_equal(SSL_set_session(c.ssl, sess), 1);
                if (!handshake(&c, &s, NULL, NULL))
                    fail_msg("TLS %x server %s client %s round %d: handshake failed", versions[v],
                             sp, cp, round);
                assert_int_equal(SSL_session_reused(c.ssl), round);
                assert_int_equal(SSL_get_negotiated_group(c.ssl), NID_X25519);
                assert_int_equal(SSL_get_negotiated_group(s.ssl), NID_X25519);
                exchange_data(&c, &s);
                /* Each end's keys came from the provider it chose: its own
                 * share and its copy of the peer's. libssl keeps a TLS 1.2
                 * client's own key and a TLS 1.2 server's copy of the
                 * client's for no longer than the derive, and a TLS 1.2
                 * resumption makes no keys. */
                if (versions[v] == TLS1_3_VERSION) {
                    assert_string_equal(c.seen.own_key ? c.seen.own_key : "-", cp);
                    assert_string_equal(c.seen.peer_key ? c.seen.peer_key : "-", cp);
                    assert_string_equal(s.seen.own_key ? s.seen.own_key : "-", sp);
                    assert_string_equal(s.seen.peer_key ? s.seen.peer_key : "-", sp);
                } else if (round == 0) {
                    assert_string_equal(c.seen.peer_key ? c.seen.peer_key : "-", cp);
                    assert_string_equal(s.seen.own_key ? s.seen.own_key : "-", sp);
                } else {
                    assert_null(c.seen.peer_key);
                    assert_null(s.seen.own_key);
                }
                if (round == 0)
                    sess = SSL_get1_session(c.ssl);
                SSL_shutdown(c.ssl);
                SSL_shutdown(s.ssl);
                wire_free(&c);
                wire_free(&s);
            }
            SSL_SESSION_free(sess);
            SSL_CTX_free(cctx);
            SSL_CTX_free(sctx);
        }
    }
}

/* P-256 under our query stays the default provider's. */
static void test_handshake_p256(void **state)
{
    static const int versions[] = {TLS1_3_VERSION, TLS1_2_VERSION};

    (void)state;
    for (size_t v = 0; v < CG_ARRAY_LEN(versions); v++) {
        SSL_CTX *sctx = make_ctx(true, true, versions[v], "P-256");
        SSL_CTX *cctx = make_ctx(false, true, versions[v], "P-256:X25519");
        struct wire c, s;

        wire_init(&c, cctx);
        wire_init(&s, sctx);
        assert_true(handshake(&c, &s, NULL, NULL));
        assert_int_equal(SSL_get_negotiated_group(s.ssl), NID_X9_62_prime256v1);
        exchange_data(&c, &s);
        assert_string_equal(c.seen.peer_key ? c.seen.peer_key : "-", "default");
        assert_string_equal(s.seen.own_key ? s.seen.own_key : "-", "default");
        wire_free(&c);
        wire_free(&s);
        SSL_CTX_free(cctx);
        SSL_CTX_free(sctx);
    }
}

/* ---- small-order key shares on the wire --------------------------------- */

static const uint8_t *bad_point;

/* Replaces the 32 bytes after the first `pattern` in a flight. */
static void replace_after(unsigned char *p, size_t n, const unsigned char *pattern, size_t plen)
{
    for (size_t i = 0; i + plen + KEYLEN <= n; i++) {
        if (memcmp(p + i, pattern, plen) == 0) {
            memcpy(p + i + plen, bad_point, KEYLEN);
            return;
        }
    }
    fail_msg("no key share found in the flight");
}

/* TLS 1.3: the X25519 entry of a key_share extension (group 29, 32 bytes),
 * in the ClientHello or the ServerHello (each its end's first flight). */
static void tamper_tls13_share(unsigned flight, unsigned char *p, size_t n)
{
    static const unsigned char entry[] = {0x00, 0x1d, 0x00, 0x20};

    if (flight == 0)
        replace_after(p, n, entry, sizeof(entry));
}

/* TLS 1.2: the client's ClientKeyExchange (type 16, 33 bytes: a length
 * byte and the point), in its second flight. */
static void tamper_tls12_cke(unsigned flight, unsigned char *p, size_t n)
{
    static const unsigned char cke[] = {0x10, 0x00, 0x00, 0x21, 0x20};

    if (flight == 1)
        replace_after(p, n, cke, sizeof(cke));
}

/* The keys an end was seen holding (its own share, its copy of the
 * peer's: libssl keeps which of them it still needs) are provider's. */
static void assert_keys_from(const struct seen *seen, const char *provider)
{
    assert_true(seen->own_key != NULL || seen->peer_key != NULL);
    if (seen->own_key != NULL)
        assert_string_equal(seen->own_key, provider);
    if (seen->peer_key != NULL)
        assert_string_equal(seen->peer_key, provider);
}

static void test_small_order_shares(void **state)
{
    static const struct {
        int version;
        bool client_lies;   /* else the server's share is replaced */
        tamper_fn tamper;
    } cases[] = {
        {TLS1_3_VERSION, true, tamper_tls13_share},
        {TLS1_3_VERSION, false, tamper_tls13_share},
        {TLS1_2_VERSION, true, tamper_tls12_cke},
    };

    (void)state;
    for (size_t i = 0; i < CG_ARRAY_LEN(cases); i++) {
        for (size_t j = 0; j < 3; j++) {   /* u = 0, 1, and a point of order 8 */
            int alert[2];

            bad_point = small_order[j];
            for (int ours = 0; ours < 2; ours++) {
                /* The end that refuses uses `ours`; the liar OpenSSL's. */
                bool server_ours = cases[i].client_lies ? ours : false;
                bool client_ours = cases[i].client_lies ? false : ours;
                /* The client also names P-256, the curve of the server's
                 * certificate, which TLS 1.2 requires; X25519 first, and
                 * the server's only group. */
                SSL_CTX *sctx = make_ctx(true, server_ours, cases[i].version, "X25519");
                SSL_CTX *cctx = make_ctx(false, client_ours, cases[i].version, "X25519:P-256");
                struct wire c, s;
                struct wire *refuser, *liar;

                wire_init(&c, cctx);
                wire_init(&s, sctx);
                refuser = cases[i].client_lies ? &s : &c;
                liar = cases[i].client_lies ? &c : &s;
                assert_false(handshake(&c, &s, cases[i].client_lies ? cases[i].tamper : NULL,
                                       cases[i].client_lies ? NULL : cases[i].tamper));
                /* The refusing end used the provider it chose, failed on
                 * the agreement, sent a fatal alert, and the liar
                 * received it. */
                assert_keys_from(&refuser->seen, ours ? CG_PROVIDER_NAME : "default");
                assert_true(refuser->derive_failed);
                assert_false(liar->derive_failed);
                assert_true(refuser->seen.alert_sent > 0);
                assert_int_equal(liar->seen.alert_received, refuser->seen.alert_sent);
                alert[ours] = refuser->seen.alert_sent;
                wire_free(&c);
                wire_free(&s);
                SSL_CTX_free(cctx);
                SSL_CTX_free(sctx);
            }
            /* The same alert whichever provider refused. */
            assert_int_equal(alert[0], alert[1]);
        }
    }
}

static int group_setup(void **state)
{
    (void)state;
    ca = tu_issue(CG_PKI_ROOT_CA, "key exchange root", NULL);
    server_id = tu_issue(CG_PKI_SERVER, "localhost", &ca);
    client_id = tu_issue(CG_PKI_CLIENT, "key exchange client", &ca);
    if (ca.cert == NULL || server_id.cert == NULL || client_id.cert == NULL)
        return -1;
    return setup(state);
}

static int group_teardown(void **state)
{
    (void)state;
    tu_pair_free(&client_id);
    tu_pair_free(&server_id);
    tu_pair_free(&ca);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_provenance),
        cmocka_unit_test(test_propq_composition),
        cmocka_unit_test(test_keygen),
        cmocka_unit_test(test_keygen_refusals),
        cmocka_unit_test(test_derive_fresh_keys),
        cmocka_unit_test(test_derive_matches_default),
        cmocka_unit_test(test_export_to_default),
        cmocka_unit_test(test_small_order_peers),
        cmocka_unit_test(test_keys_as_others_see_them),
        cmocka_unit_test(test_handshakes),
        cmocka_unit_test(test_handshake_p256),
        cmocka_unit_test(test_small_order_shares),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

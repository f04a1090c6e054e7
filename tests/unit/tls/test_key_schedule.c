/*
 * key_schedule: certgate's TLS13-KDF and HMAC give what OpenSSL's default
 * provider gives, output for output and failure for failure: both modes,
 * with and without key and salt, SHA-256 and SHA-384 and their aliases,
 * empty and long labels and data, keys longer than a block, outputs up to
 * and past 255 * HashLen, and digests handed over to the default provider
 * (SHA-512, SHA-224, SHA-1). Fetches with a NULL property query still get
 * the default provider's algorithms, ciphers, digests, signatures and key
 * exchanges too; an SSL_CTX with the query gets ours. Real TLS 1.3 and 1.2
 * handshakes between a context using ours and one using OpenSSL's agree.
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

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>

#include "core/common.h"
#include "testutil.h"
#include "tls/key_schedule.h"
#include "tls/provider.h"

static EVP_KDF *ours_kdf, *openssl_kdf;
static EVP_MAC *ours_mac, *openssl_mac;

static const char *provider_of_kdf(const EVP_KDF *k)
{
    return OSSL_PROVIDER_get0_name(EVP_KDF_get0_provider(k));
}

static int setup(void **state)
{
    char *err = NULL;

    (void)state;
    if (cg_key_schedule_select(CG_KEY_SCHEDULE_BUILTIN, &err) != CG_OK) {
        fprintf(stderr, "select: %s\n", err);
        return -1;
    }
    ours_kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, CG_KEY_SCHEDULE_PROPQ);
    openssl_kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, NULL);
    ours_mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, CG_KEY_SCHEDULE_PROPQ);
    openssl_mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    return ours_kdf && openssl_kdf && ours_mac && openssl_mac ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    EVP_KDF_free(ours_kdf);
    EVP_KDF_free(openssl_kdf);
    EVP_MAC_free(ours_mac);
    EVP_MAC_free(openssl_mac);
    return 0;
}

/* ---- who serves which fetch ------------------------------------------ */

static void test_fetch_provenance(void **state)
{
    (void)state;
    assert_int_equal(cg_key_schedule_current(), CG_KEY_SCHEDULE_BUILTIN);
    assert_string_equal(cg_key_schedule_propq(), CG_KEY_SCHEDULE_PROPQ);
    assert_string_equal(provider_of_kdf(ours_kdf), CG_PROVIDER_NAME);
    assert_string_equal(provider_of_kdf(openssl_kdf), "default");
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_MAC_get0_provider(ours_mac)),
                        CG_PROVIDER_NAME);
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_MAC_get0_provider(openssl_mac)), "default");

    /* Everything else an SSL_CTX with our query fetches stays the default
     * provider's: the query is optional and we offer nothing else. */
    static const char *const mds[] = {"SHA2-256", "SHA2-384", "SHA1", "MD5-SHA1"};
    static const char *const ciphers[] = {"AES-128-GCM", "AES-256-GCM", "ChaCha20-Poly1305",
                                          "AES-128-CBC"};
    for (size_t i = 0; i < CG_ARRAY_LEN(mds); i++) {
        EVP_MD *md = EVP_MD_fetch(NULL, mds[i], CG_KEY_SCHEDULE_PROPQ);
        assert_non_null(md);
        assert_string_equal(OSSL_PROVIDER_get0_name(EVP_MD_get0_provider(md)), "default");
        EVP_MD_free(md);
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(ciphers); i++) {
        EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, ciphers[i], CG_KEY_SCHEDULE_PROPQ);
        assert_non_null(c);
        assert_string_equal(OSSL_PROVIDER_get0_name(EVP_CIPHER_get0_provider(c)), "default");
        EVP_CIPHER_free(c);
    }
    EVP_SIGNATURE *sig = EVP_SIGNATURE_fetch(NULL, "ECDSA", CG_KEY_SCHEDULE_PROPQ);
    EVP_KEYEXCH *kex = EVP_KEYEXCH_fetch(NULL, "X25519", CG_KEY_SCHEDULE_PROPQ);
    EVP_KDF *prf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, CG_KEY_SCHEDULE_PROPQ);
    EVP_KDF *hkdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, CG_KEY_SCHEDULE_PROPQ);
    assert_non_null(sig);
    assert_non_null(kex);
    assert_non_null(prf);
    assert_non_null(hkdf);
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_SIGNATURE_get0_provider(sig)), "default");
    assert_string_equal(OSSL_PROVIDER_get0_name(EVP_KEYEXCH_get0_provider(kex)), "default");
    assert_string_equal(provider_of_kdf(prf), "default");
    assert_string_equal(provider_of_kdf(hkdf), "default");
    EVP_SIGNATURE_free(sig);
    EVP_KEYEXCH_free(kex);
    EVP_KDF_free(prf);
    EVP_KDF_free(hkdf);

    /* What site_ctx_new and loadgen give SSL_CTX_new_ex, libssl fetches
     * with: our TLS13-KDF and HMAC. */
    EVP_KDF *k = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, cg_provider_propq());
    assert_non_null(k);
    assert_string_equal(provider_of_kdf(k), CG_PROVIDER_NAME);
    EVP_KDF_free(k);
    /* And with the key exchange's property next to ours, as by default. */
    k = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, CG_KEY_SCHEDULE_PROPQ ",?certgate.x25519=yes");
    assert_non_null(k);
    assert_string_equal(provider_of_kdf(k), CG_PROVIDER_NAME);
    EVP_KDF_free(k);
}

/* ---- TLS13-KDF: ours against the default provider's ------------------- */

struct val {
    bool set;
    const unsigned char *p;
    size_t len;
};

struct kdf_case {
    const char *digest;        /* NULL: none */
    int mode;
    const char *mode_str;      /* non-NULL: the mode as a string instead */
    struct val key, salt, prefix, label, data;
    size_t outlen;
};

#define MAX_OUT 70000
static unsigned char out_a[MAX_OUT], out_b[MAX_OUT];
static unsigned char pool[1024];

static size_t kdf_params(const struct kdf_case *c, OSSL_PARAM *p)
{
    OSSL_PARAM *q = p;

    if (c->mode_str != NULL)
        *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)c->mode_str, 0);
    else
        *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, (int *)&c->mode);
    if (c->digest != NULL)
        *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)c->digest, 0);
    const struct {
        const char *name;
        const struct val *v;
    } vals[] = {{OSSL_KDF_PARAM_KEY, &c->key},       {OSSL_KDF_PARAM_SALT, &c->salt},
                {OSSL_KDF_PARAM_PREFIX, &c->prefix}, {OSSL_KDF_PARAM_LABEL, &c->label},
                {OSSL_KDF_PARAM_DATA, &c->data}};
    for (size_t i = 0; i < CG_ARRAY_LEN(vals); i++) {
        if (vals[i].v->set)
            *q++ = OSSL_PARAM_construct_octet_string(vals[i].name, (void *)vals[i].v->p,
                                                     vals[i].v->len);
    }
    *q = OSSL_PARAM_construct_end();
    return (size_t)(q - p);
}

/* One derivation on a fresh context, as libssl does it. */
static int kdf_run(EVP_KDF *kdf, const struct kdf_case *c, unsigned char *out)
{
    OSSL_PARAM params[10];
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    int rc;

    assert_non_null(ctx);
    kdf_params(c, params);
    rc = EVP_KDF_derive(ctx, out, c->outlen, params);
    EVP_KDF_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

/* Both providers succeed or fail together, and agree on the bytes. */
static int kdf_compare(const struct kdf_case *c)
{
    memset(out_a, 0xaa, c->outlen);
    memset(out_b, 0x55, c->outlen);
    int a = kdf_run(ours_kdf, c, out_a);
    int b = kdf_run(openssl_kdf, c, out_b);

    if (a != b) {
        fprintf(stderr, "kdf %s mode %d key %d/%zu salt %d/%zu label %zu data %d/%zu out %zu: "
                        "ours %d, default %d\n",
                c->digest ? c->digest : "-", c->mode, c->key.set, c->key.len, c->salt.set,
                c->salt.len, c->label.len, c->data.set, c->data.len, c->outlen, a, b);
    }
    assert_int_equal(a, b);
    if (a > 0)
        assert_memory_equal(out_a, out_b, c->outlen);
    return a;
}

static uint32_t rnd_state = 0x2545f491u;
static uint32_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state;
}
#define PICK(a) ((a)[rnd() % CG_ARRAY_LEN(a)])

static struct val some(size_t len)
{
    return (struct val){true, pool + rnd() % (sizeof(pool) - len), len};
}

static void test_kdf_matches_default(void **state)
{
    static const char *const digests[] = {"SHA2-256", "SHA2-384", "SHA256", "sha-384",
                                          "SHA2-256", "SHA2-384", "SHA2-512", "SHA2-224"};
    static const size_t secret_lens[] = {0, 1, 32, 48, 64, 100, 128, 129, 200};
    static const size_t label_lens[] = {0, 1, 7, 12, 64, 65, 100, 249, 250};
    static const size_t data_lens[] = {0, 32, 48, 64, 65, 200, 255, 256};
    unsigned ok = 0, failed = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(pool); i++)
        pool[i] = (unsigned char)rnd();
    for (int i = 0; i < 3000; i++) {
        struct kdf_case c = {.digest = PICK(digests)};
        size_t md = strstr(c.digest, "384") ? 48 : strstr(c.digest, "512") ? 64
                  : strstr(c.digest, "224") ? 28 : 32;
        size_t outs[] = {md, md, 12, 16, 1, 0, 100, 255 * md, 255 * md + 1, MAX_OUT};

        c.mode = rnd() % 2 ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY : EVP_KDF_HKDF_MODE_EXPAND_ONLY;
        if (rnd() % 8 == 0)
            c.mode_str = c.mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? "EXTRACT_ONLY" : "expand_only";
        if (rnd() % 6 != 0)
            c.key = some(PICK(secret_lens));
        if (rnd() % 2 == 0)
            c.salt = some(PICK(secret_lens));
        if (rnd() % 8 != 0)
            c.prefix = (struct val){true, (const unsigned char *)"tls13 ", 6};
        if (rnd() % 8 != 0)
            c.label = some(PICK(label_lens));
        if (rnd() % 3 != 0)
            c.data = some(PICK(data_lens));
        c.outlen = c.mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY && rnd() % 4 != 0 ? md : PICK(outs);
        if (kdf_compare(&c) > 0)
            ok++;
        else
            failed++;
    }
    /* Both outcomes were exercised, and mostly successes. */
    assert_true(ok > 1500);
    assert_true(failed > 50);
}

/* RFC 8448 (section 3): the early secret with no PSK, HKDF-Extract(0, 0). */
static void test_kdf_known_answer(void **state)
{
    static const unsigned char early[32] = {
        0x33, 0xad, 0x0a, 0x1c, 0x60, 0x7e, 0xc0, 0x3b, 0x09, 0xe6, 0xcd, 0x98, 0x93, 0x68, 0x0c, 0xe2,
        0x10, 0xad, 0xf3, 0x00, 0xaa, 0x1f, 0x26, 0x60, 0xe1, 0xb2, 0x2e, 0x10, 0xf1, 0x70, 0xf9, 0x2a};
    struct kdf_case c = {.digest = "SHA2-256", .mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY, .outlen = 32};

    (void)state;
    assert_int_equal(kdf_run(ours_kdf, &c, out_a), 1);
    assert_memory_equal(out_a, early, sizeof(early));
}

static void test_kdf_errors(void **state)
{
    const struct val key = {true, pool, 32}, prefix = {true, (const unsigned char *)"tls13 ", 6},
                     label = {true, (const unsigned char *)"key", 3};
    struct kdf_case expand = {.digest = "SHA2-384", .mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY,
                              .key = key, .prefix = prefix, .label = label, .outlen = 16};
    struct kdf_case c;

    (void)state;
    assert_int_equal(kdf_compare(&expand), 1);
    /* No key to expand from. */
    c = expand;
    c.key.set = false;
    assert_int_equal(kdf_compare(&c), 0);
    /* Bad modes: unknown numbers and words, and extract-and-expand. */
    c = expand;
    c.mode = 7;
    assert_int_equal(kdf_compare(&c), 0);
    c.mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
    assert_int_equal(kdf_compare(&c), 0);
    c.mode_str = "BOGUS";
    assert_int_equal(kdf_compare(&c), 0);
    c.mode_str = "EXTRACT_AND_EXPAND";
    assert_int_equal(kdf_compare(&c), 0);
    /* 255 blocks at most. */
    c = expand;
    c.outlen = 255 * 48;
    assert_int_equal(kdf_compare(&c), 1);
    c.outlen = 255 * 48 + 1;
    assert_int_equal(kdf_compare(&c), 0);
    /* Extract gives exactly HashLen bytes. */
    c = expand;
    c.mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    c.outlen = 48;
    assert_int_equal(kdf_compare(&c), 1);
    c.outlen = 47;
    assert_int_equal(kdf_compare(&c), 0);
    /* No digest, an unknown digest, a label that does not fit. */
    c = expand;
    c.digest = NULL;
    assert_int_equal(kdf_compare(&c), 0);
    c.digest = "NO-SUCH-DIGEST";
    assert_int_equal(kdf_compare(&c), 0);
    c = expand;
    c.label = (struct val){true, pool, 250};
    assert_int_equal(kdf_compare(&c), 0);
}

/* A context used as a caller other than libssl might: parameters over
 * several calls, derivations repeated, reset, and a digest
 * changed to one handed over to the default provider. */
static void kdf_sequence(EVP_KDF *kdf, unsigned char out[6][48], size_t sizes[3])
{
    int expand = EVP_KDF_HKDF_MODE_EXPAND_ONLY, extract = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    OSSL_PARAM mode[] = {OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &expand),
                         OSSL_PARAM_construct_end()};
    OSSL_PARAM digest[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA2-256", 0),
                           OSSL_PARAM_construct_end()};
    OSSL_PARAM rest[] = {OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, pool, 32),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PREFIX, "tls13 ", 6),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, "c hs traffic", 12),
                         OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_DATA, pool + 40, 32),
                         OSSL_PARAM_construct_end()};
    OSSL_PARAM label2[] = {OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, "s hs traffic", 12),
                           OSSL_PARAM_construct_end()};
    OSSL_PARAM sha512[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA2-512", 0),
                           OSSL_PARAM_construct_end()};
    OSSL_PARAM to_extract[] = {OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &extract),
                               OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA2-384", 0),
                               OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, pool + 100, 48),
                               OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_LABEL, "derived", 7),
                               OSSL_PARAM_construct_end()};
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf), *dup;

    assert_non_null(ctx);
    assert_int_equal(EVP_KDF_CTX_set_params(ctx, mode), 1);
    assert_int_equal(EVP_KDF_CTX_set_params(ctx, digest), 1);
    assert_int_equal(EVP_KDF_CTX_set_params(ctx, rest), 1);
    sizes[0] = EVP_KDF_CTX_get_kdf_size(ctx);
    assert_int_equal(EVP_KDF_derive(ctx, out[0], 32, NULL), 1);
    assert_int_equal(EVP_KDF_derive(ctx, out[1], 32, label2), 1);
    /* OpenSSL 3.0's TLS13-KDF cannot be duplicated; neither can ours. */
    dup = EVP_KDF_CTX_dup(ctx);
    assert_null(dup);
    assert_int_equal(EVP_KDF_derive(ctx, out[2], 20, NULL), 1);
    assert_int_equal(EVP_KDF_derive(ctx, out[3], 48, sha512), 1);   /* handed over */
    assert_int_equal(EVP_KDF_derive(ctx, out[4], 48, to_extract), 1);
    sizes[1] = EVP_KDF_CTX_get_kdf_size(ctx);
    EVP_KDF_CTX_reset(ctx);
    sizes[2] = EVP_KDF_CTX_get_kdf_size(ctx);
    assert_int_equal(EVP_KDF_derive(ctx, out[5], 48, to_extract), 1);
    EVP_KDF_CTX_free(ctx);
    ERR_clear_error();
}

static void test_kdf_context_reuse(void **state)
{
    unsigned char a[6][48] = {{0}}, b[6][48] = {{0}};
    size_t sa[3], sb[3];

    (void)state;
    kdf_sequence(ours_kdf, a, sa);
    kdf_sequence(openssl_kdf, b, sb);
    assert_memory_equal(a, b, sizeof(a));
    assert_memory_equal(sa, sb, sizeof(sa));
    assert_true(sa[0] == SIZE_MAX && sa[1] == 48);   /* expand: no fixed size; extract: HashLen */
}

/* ---- HMAC ----------------------------------------------------------- */

static void test_hmac_matches_default(void **state)
{
    static const char *const digests[] = {"SHA2-256", "SHA2-384", "SHA256", "SHA-384",
                                          "SHA2-512", "SHA2-224", "SHA1"};
    static const size_t key_lens[] = {0, 1, 32, 48, 64, 65, 127, 128, 129, 300};
    static const size_t data_lens[] = {0, 1, 55, 56, 64, 111, 112, 128, 1000};
    unsigned char a[64], b[64];
    size_t la, lb;
    OSSL_PARAM props[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_PROPERTIES,
                                                           CG_KEY_SCHEDULE_PROPQ, 0),
                          OSSL_PARAM_construct_end()};

    (void)state;
    for (size_t d = 0; d < CG_ARRAY_LEN(digests); d++) {
        for (size_t k = 0; k < CG_ARRAY_LEN(key_lens); k++) {
            for (size_t n = 0; n < CG_ARRAY_LEN(data_lens); n++) {
                const unsigned char *key = pool + k, *data = pool + 16 + n;

                memset(a, 0, sizeof(a));
                memset(b, 1, sizeof(b));
                /* As libssl's Finished MAC calls it: our query, passed on. */
                assert_non_null(EVP_Q_mac(NULL, "HMAC", CG_KEY_SCHEDULE_PROPQ, digests[d],
                                          d % 2 ? props : NULL, key, key_lens[k], data,
                                          data_lens[n], a, sizeof(a), &la));
                assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, digests[d], NULL, key, key_lens[k],
                                          data, data_lens[n], b, sizeof(b), &lb));
                assert_int_equal(la, lb);
                assert_memory_equal(a, b, la);
            }
        }
    }
}

/* Streaming: pieces, a duplicate taking another path, a re-init with the
 * same key, sizes; and a buffer too small refused. */
static void hmac_sequence(EVP_MAC *mac, const char *digest, unsigned char out[4][64],
                          size_t sizes[2])
{
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)digest, 0),
                      OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac), *dup;
    size_t len;

    assert_non_null(ctx);
    assert_int_equal(EVP_MAC_init(ctx, pool, 200, p), 1);
    sizes[0] = EVP_MAC_CTX_get_mac_size(ctx);
    sizes[1] = EVP_MAC_CTX_get_block_size(ctx);
    assert_int_equal(EVP_MAC_update(ctx, pool + 1, 70), 1);
    dup = EVP_MAC_CTX_dup(ctx);
    assert_non_null(dup);
    assert_int_equal(EVP_MAC_update(ctx, pool + 2, 130), 1);
    assert_int_equal(EVP_MAC_final(ctx, out[0], &len, 64), 1);
    assert_int_equal(EVP_MAC_update(dup, pool + 3, 5), 1);
    assert_int_equal(EVP_MAC_final(dup, out[1], &len, 64), 1);
    assert_int_equal(EVP_MAC_init(ctx, NULL, 0, NULL), 1);
    assert_int_equal(EVP_MAC_update(ctx, pool + 4, 33), 1);
    assert_int_equal(EVP_MAC_final(ctx, out[2], &len, 64), 1);
    assert_int_equal(EVP_MAC_init(ctx, pool + 5, 16, NULL), 1);
    assert_int_equal(EVP_MAC_update(ctx, pool + 6, 1), 1);
    assert_int_equal(EVP_MAC_final(ctx, out[3], &len, sizes[0] - 1), 0);
    EVP_MAC_CTX_free(dup);
    EVP_MAC_CTX_free(ctx);
    ERR_clear_error();
}

static void test_hmac_context_reuse(void **state)
{
    static const char *const digests[] = {"SHA2-256", "SHA2-384", "SHA2-512"};

    (void)state;
    for (size_t d = 0; d < CG_ARRAY_LEN(digests); d++) {
        unsigned char a[4][64] = {{0}}, b[4][64] = {{0}};
        size_t sa[2], sb[2];

        hmac_sequence(ours_mac, digests[d], a, sa);
        hmac_sequence(openssl_mac, digests[d], b, sb);
        assert_memory_equal(a, b, sizeof(a));
        assert_memory_equal(sa, sb, sizeof(sa));
    }
}

/* libssl's TLS 1.2 CBC records without encrypt-then-MAC set tls-data-size:
 * the MAC is then computed in constant time over a padded record, which
 * only the default provider's HMAC does; ours hands it over. */
static void hmac_tls_record(EVP_MAC *mac, unsigned char *out, size_t *len)
{
    size_t data_size = 100;
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA2-256", 0),
                      OSSL_PARAM_construct_end()};
    OSSL_PARAM tls[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_TLS_DATA_SIZE, &data_size),
                        OSSL_PARAM_construct_end()};
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);

    assert_non_null(ctx);
    assert_int_equal(EVP_MAC_init(ctx, pool, 32, p), 1);
    assert_int_equal(EVP_MAC_CTX_set_params(ctx, tls), 1);
    assert_int_equal(EVP_MAC_update(ctx, pool + 50, 13), 1);    /* the record header */
    assert_int_equal(EVP_MAC_update(ctx, pool + 100, 90), 1);   /* data and padding */
    assert_int_equal(EVP_MAC_final(ctx, out, len, 64), 1);
    EVP_MAC_CTX_free(ctx);
}

static void test_hmac_tls_data_size(void **state)
{
    unsigned char a[64], b[64];
    size_t la = 0, lb = 1;

    (void)state;
    hmac_tls_record(ours_mac, a, &la);
    hmac_tls_record(openssl_mac, b, &lb);
    assert_int_equal(la, 32);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
}

/* ---- real handshakes: ours against OpenSSL's -------------------------- */

static struct tu_pair ca, server_id, client_id;

static int accept_any(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static SSL_CTX *make_ctx(bool server, bool ours, int version, const char *suite, bool no_etm)
{
    const struct tu_pair *id = server ? &server_id : &client_id;
    SSL_CTX *ctx = SSL_CTX_new_ex(NULL, ours ? CG_KEY_SCHEDULE_PROPQ : NULL,
                                  server ? TLS_server_method() : TLS_client_method());

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, version), 1);
    assert_int_equal(SSL_CTX_set_max_proto_version(ctx, version), 1);
    if (version == TLS1_3_VERSION)
        assert_int_equal(SSL_CTX_set_ciphersuites(ctx, suite), 1);
    else
        assert_int_equal(SSL_CTX_set_cipher_list(ctx, suite), 1);
    assert_int_equal(SSL_CTX_use_certificate(ctx, id->cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, id->key), 1);
    if (server) {
        static const unsigned char sid[] = "key-schedule";
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
        SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (no_etm)
        SSL_CTX_set_options(ctx, SSL_OP_NO_ENCRYPT_THEN_MAC);
    return ctx;
}

/* One connection: handshake, a message each way, a close; returns the
 * client's session (new reference) and whether it resumed. */
static SSL_SESSION *connect_once(SSL_CTX *sctx, SSL_CTX *cctx, SSL_SESSION *resume, bool *resumed,
                                 const char *want_cipher)
{
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
    BIO *cb = NULL, *sb = NULL;
    bool cdone = false, sdone = false;
    unsigned char ekm_c[32], ekm_s[32];
    char buf[16];
    SSL_SESSION *got;

    assert_non_null(c);
    assert_non_null(s);
    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    if (resume != NULL)
        assert_int_equal(SSL_set_session(c, resume), 1);
    for (int i = 0; i < 20 && !(cdone && sdone); i++) {
        int rc;
        if (!cdone) {
            rc = SSL_do_handshake(c);
            cdone = rc == 1;
            if (!cdone && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ) {
                ERR_print_errors_fp(stderr);
                fail_msg("client handshake failed");
            }
        }
        if (!sdone) {
            rc = SSL_do_handshake(s);
            sdone = rc == 1;
            if (!sdone && SSL_get_error(s, rc) != SSL_ERROR_WANT_READ) {
                ERR_print_errors_fp(stderr);
                fail_msg("server handshake failed");
            }
        }
    }
    assert_true(cdone && sdone);
    assert_string_equal(SSL_get_cipher_name(s), want_cipher);
    assert_non_null(SSL_get0_peer_certificate(s));
    /* Application data both ways (TLS 1.3: the client's read takes in the
     * ticket first), and the same exported keying material at both ends. */
    assert_int_equal(SSL_write(c, "ping", 4), 4);
    assert_int_equal(SSL_read(s, buf, sizeof(buf)), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(SSL_write(s, "pong!", 5), 5);
    assert_int_equal(SSL_read(c, buf, sizeof(buf)), 5);
    assert_memory_equal(buf, "pong!", 5);
    assert_int_equal(SSL_export_keying_material(c, ekm_c, sizeof(ekm_c), "EXPORTER-cg", 11, NULL, 0, 0), 1);
    assert_int_equal(SSL_export_keying_material(s, ekm_s, sizeof(ekm_s), "EXPORTER-cg", 11, NULL, 0, 0), 1);
    assert_memory_equal(ekm_c, ekm_s, sizeof(ekm_c));
    *resumed = SSL_session_reused(c) == 1 && SSL_session_reused(s) == 1;
    got = SSL_get1_session(c);
    SSL_shutdown(c);
    SSL_shutdown(s);
    SSL_free(c);
    SSL_free(s);
    return got;
}

static void test_handshakes(void **state)
{
    static const struct {
        int version;
        const char *suite, *name;
        bool no_etm;
    } suites[] = {
        {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", "TLS_AES_128_GCM_SHA256", false},
        {TLS1_3_VERSION, "TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384", false},
        {TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", "TLS_CHACHA20_POLY1305_SHA256", false},
        {TLS1_2_VERSION, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384", false},
        {TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES128-SHA256", false},
        {TLS1_2_VERSION, "ECDHE-ECDSA-AES256-SHA384", "ECDHE-ECDSA-AES256-SHA384", true},
    };
    static const struct {
        bool server_ours, client_ours;
    } sides[] = {{true, true}, {true, false}, {false, true}};

    (void)state;
    ca = tu_issue(CG_PKI_ROOT_CA, "key schedule root", NULL);
    server_id = tu_issue(CG_PKI_SERVER, "localhost", &ca);
    client_id = tu_issue(CG_PKI_CLIENT, "key schedule client", &ca);
    for (size_t i = 0; i < CG_ARRAY_LEN(suites); i++) {
        for (size_t j = 0; j < CG_ARRAY_LEN(sides); j++) {
            SSL_CTX *s = make_ctx(true, sides[j].server_ours, suites[i].version, suites[i].suite,
                                  suites[i].no_etm);
            SSL_CTX *c = make_ctx(false, sides[j].client_ours, suites[i].version, suites[i].suite,
                                  suites[i].no_etm);
            bool resumed = true;
            SSL_SESSION *sess = connect_once(s, c, NULL, &resumed, suites[i].name);

            assert_false(resumed);
            SSL_SESSION *again = connect_once(s, c, sess, &resumed, suites[i].name);
            assert_true(resumed);
            SSL_SESSION_free(again);
            SSL_SESSION_free(sess);
            SSL_CTX_free(c);
            SSL_CTX_free(s);
        }
    }
    tu_pair_free(&client_id);
    tu_pair_free(&server_id);
    tu_pair_free(&ca);
}

static void test_select_openssl_again(void **state)
{
    char *err = NULL;

    (void)state;
    assert_int_equal(cg_key_schedule_select(CG_KEY_SCHEDULE_OPENSSL, &err), CG_OK);
    assert_null(cg_key_schedule_propq());
    assert_string_equal(cg_key_schedule_name(cg_key_schedule_current()), "openssl");
    assert_int_equal(cg_key_schedule_select(CG_KEY_SCHEDULE_BUILTIN, &err), CG_OK);
    assert_int_equal(cg_key_schedule_select(CG_KEY_SCHEDULE_BUILTIN, &err), CG_OK);
    assert_string_equal(cg_key_schedule_propq(), CG_KEY_SCHEDULE_PROPQ);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fetch_provenance),
        cmocka_unit_test(test_kdf_known_answer),
        cmocka_unit_test(test_kdf_matches_default),
        cmocka_unit_test(test_kdf_errors),
        cmocka_unit_test(test_kdf_context_reuse),
        cmocka_unit_test(test_hmac_matches_default),
        cmocka_unit_test(test_hmac_context_reuse),
        cmocka_unit_test(test_hmac_tls_data_size),
        cmocka_unit_test(test_handshakes),
        cmocka_unit_test(test_select_openssl_again),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

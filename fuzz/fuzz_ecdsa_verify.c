/*
 * fuzz_ecdsa_verify: certgate's P-256 verification with key tables
 * (ecdsa_tables.h, p256.h) against OpenSSL's, input for input. Any
 * difference aborts.
 *
 * Four P-256 keys are made once. Each input picks a key, a digest (0 to 64
 * bytes, taken from the input) and a signature, in one of three ways:
 *
 *   raw      the rest of the input, as it is (mostly not DER)
 *   scalars  r and s from the input (32 bytes each), encoded in DER
 *   near     a real signature of the digest by the key, then bytes of it
 *            changed where the input says (so valid ones are reached too)
 *
 * and it is verified three ways: through EVP with the key decoded by the
 * builtin EC method (every key has its table from its first signature, so
 * this is certgate's path), through EVP with OpenSSL's provider key, and,
 * for the scalars, by cg_p256_verify directly. All must agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert/ec_keydecode.h"
#include "cert/ecdsa_tables.h"
#include "core/common.h"

#define KEYS 4

static struct {
    EVP_PKEY *priv;      /* OpenSSL's provider key: signs, and answers */
    EVP_PKEY *decoded;   /* its public half through the builtin method */
    struct cg_p256_table *table;
} keys[KEYS];

static void setup(void)
{
    static int done;
    char *err = NULL;

    if (done)
        return;
    /* Keys first: once builtin is selected OpenSSL 3.0 no longer makes EC
     * keys (ec_keydecode.h). */
    for (int i = 0; i < KEYS; i++)
        if ((keys[i].priv = EVP_EC_gen("P-256")) == NULL)
            abort();
    if (cg_ec_keydecode_select(CG_EC_KEYS_BUILTIN, &err) != CG_OK)
        abort();
    cg_ecdsa_tables_configure(KEYS, 1);
    for (int i = 0; i < KEYS; i++) {
        unsigned char *der = NULL, point[CG_P256_POINT_BYTES];
        const unsigned char *p;
        size_t point_len = 0;
        int len = i2d_PUBKEY(keys[i].priv, &der);

        p = der;
        if (len <= 0 || (keys[i].decoded = d2i_PUBKEY(NULL, &p, len)) == NULL)
            abort();
        OPENSSL_free(der);
        if (EVP_PKEY_get_octet_string_param(keys[i].priv, "pub", point, sizeof(point), &point_len) != 1 ||
            point_len != sizeof(point) || cg_p256_table_new(point, &keys[i].table) != CG_OK)
            abort();
    }
    done = 1;
}

/* EVP_PKEY_verify over a digest, as EVP_DigestVerify ends: 1 or 0. */
static int verify(EVP_PKEY *key, const uint8_t *digest, size_t digest_len, const uint8_t *sig, size_t sig_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    int rc = 0;

    if (ctx == NULL)
        abort();
    if (EVP_PKEY_verify_init(ctx) == 1)
        rc = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static size_t der_of_scalars(const uint8_t r[32], const uint8_t s[32], uint8_t *out)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *br = BN_bin2bn(r, 32, NULL), *bs = BN_bin2bn(s, 32, NULL);
    unsigned char *q = out;
    int len;

    if (sig == NULL || br == NULL || bs == NULL || ECDSA_SIG_set0(sig, br, bs) != 1)
        abort();
    len = i2d_ECDSA_SIG(sig, &q);
    ECDSA_SIG_free(sig);
    if (len <= 0)
        abort();
    return (size_t)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t digest[64], sig[160];
    size_t digest_len, sig_len = 0;
    unsigned key, mode;
    int ours, theirs;

    setup();
    if (size < 2)
        return 0;
    key = data[0] % KEYS;
    mode = (data[0] >> 2) % 3;
    digest_len = data[1] % 65;
    data += 2;
    size -= 2;
    if (size < digest_len)
        return 0;
    memcpy(digest, data, digest_len);
    data += digest_len;
    size -= digest_len;

    if (mode == 0) {                       /* raw */
        if (size > sizeof(sig))
            return 0;
        memcpy(sig, data, size);
        sig_len = size;
    } else if (mode == 1) {                /* scalars */
        if (size < 64)
            return 0;
        sig_len = der_of_scalars(data, data + 32, sig);
        ours = cg_p256_verify(keys[key].table, digest, digest_len, data, data + 32);
        if (ours != verify(keys[key].priv, digest, digest_len, sig, sig_len))
            abort();
    } else {                               /* near: a real signature, changed */
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(keys[key].priv, NULL);

        sig_len = sizeof(sig);
        if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
            EVP_PKEY_sign(ctx, sig, &sig_len, digest, digest_len) != 1)
            abort();
        EVP_PKEY_CTX_free(ctx);
        /* (position, xor) pairs; a position past the end shortens it */
        for (size_t i = 0; i + 1 < size; i += 2) {
            size_t at = data[i];

            if (at < sig_len)
                sig[at] ^= data[i + 1];
            else if (data[i + 1] == 0)
                sig_len = at % (sig_len + 1);
        }
    }
    ours = verify(keys[key].decoded, digest, digest_len, sig, sig_len);
    theirs = verify(keys[key].priv, digest, digest_len, sig, sig_len);
    if (ours != theirs)
        abort();
    return 0;
}

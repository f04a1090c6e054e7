/*
 * fuzz_cert_reuse: the process's d2i_X509 (src/tls/cert_reuse.c), armed,
 * against OpenSSL's own decoding, input for input. Any difference aborts.
 *
 * Two real certificates are made once (a CA and a client). Each input is
 * turned into bytes to decode in one of three ways, by its first byte:
 *
 *   raw    the rest of the input, as it is
 *   near   one of the certificates with bytes changed where the input says
 *          (so certificates that decode, and ones that almost do, are reached)
 *   tail   one of the certificates followed by the rest of the input
 *
 * and decoded in libssl's form (a new X509 passed in) by OpenSSL
 * (ASN1_item_d2i with the X509 item) and twice by d2i_X509 on a thread that
 * armed the cache (8 slots, so certificates also push each other out).
 * All three must agree on success, on how much input they consumed and on
 * the certificate's encoding; when the first of ours succeeded the second
 * must hand back the very same X509 when the first kept or reused one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "cert/pki.h"
#include "core/common.h"
#include "tls/cert_reuse.h"

#define FUZZ_MAX_BYTES 8192

static unsigned char *certs[2];
static int cert_len[2];

static X509 *issue(cg_pki_profile_t profile, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                   EVP_PKEY *key)
{
    struct cg_pki_spec spec = {.profile = profile, .subject_cn = cn, .path_len = -1};
    char *err = NULL;
    X509 *x = cg_pki_issue(&spec, key, issuer, issuer_key, &err);

    if (x == NULL)
        abort();
    return x;
}

static void setup(void)
{
    static int done;
    char *err = NULL;
    EVP_PKEY *ca_key, *key;
    X509 *ca, *leaf;

    if (done)
        return;
    ca_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    if (ca_key == NULL || key == NULL)
        abort();
    ca = issue(CG_PKI_ROOT_CA, "Fuzz Root", NULL, ca_key, ca_key);
    leaf = issue(CG_PKI_CLIENT, "fuzz client", ca, ca_key, key);
    cert_len[0] = i2d_X509(ca, &certs[0]);
    cert_len[1] = i2d_X509(leaf, &certs[1]);
    if (cert_len[0] <= 0 || cert_len[1] <= 0)
        abort();
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    cg_cert_reuse_configure(8, 4096);
    cg_cert_reuse_arm(true);
    done = 1;
}

/* One decoding in libssl's form; returns the certificate (NULL: refused),
 * *used the input consumed. `ours`: through d2i_X509, else OpenSSL's. */
static X509 *decode(const unsigned char *buf, size_t len, int ours, long *used)
{
    const unsigned char *p = buf;
    X509 *x = X509_new(), *r;

    if (x == NULL)
        abort();
    if (ours)
        r = d2i_X509(&x, &p, (long)len);
    else
        r = (X509 *)ASN1_item_d2i((ASN1_VALUE **)&x, &p, (long)len, ASN1_ITEM_rptr(X509));
    *used = (long)(p - buf);
    if (r == NULL) {
        if (x != NULL)   /* a refusal frees and clears *a: both must */
            abort();
        return NULL;
    }
    if (r != x)
        abort();
    return r;
}

static int encoding_equal(X509 *a, X509 *b)
{
    unsigned char *ea = NULL, *eb = NULL;
    int na = i2d_X509(a, &ea), nb = i2d_X509(b, &eb);
    int same = na == nb && na > 0 && memcmp(ea, eb, (size_t)na) == 0;

    OPENSSL_free(ea);
    OPENSSL_free(eb);
    return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char buf[FUZZ_MAX_BYTES];
    size_t len = 0;
    long used_ref, used1, used2;
    X509 *ref, *one, *two;
    struct cg_cert_reuse_stats before, after;

    setup();
    if (size < 2 || size > FUZZ_MAX_BYTES - 4096)
        return 0;
    switch (data[0] % 3) {
    case 0:   /* raw */
        len = size - 1;
        memcpy(buf, data + 1, len);
        break;
    case 1: { /* near: data[1] picks the certificate, pairs (offset, xor) follow */
        int c = data[1] & 1;
        len = (size_t)cert_len[c];
        memcpy(buf, certs[c], len);
        for (size_t i = 2; i + 2 < size; i += 3)
            buf[((size_t)data[i] << 8 | data[i + 1]) % len] ^= data[i + 2];
        if (data[1] & 2)   /* and cut short */
            len -= data[1] >> 2 < len ? data[1] >> 2 : 0;
        break;
    }
    default: { /* tail */
        int c = data[1] & 1;
        len = (size_t)cert_len[c];
        memcpy(buf, certs[c], len);
        memcpy(buf + len, data + 2, size - 2);
        len += size - 2;
        break;
    }
    }
    ERR_set_mark();
    ref = decode(buf, len, 0, &used_ref);
    cg_cert_reuse_stats(&before);
    one = decode(buf, len, 1, &used1);
    cg_cert_reuse_stats(&after);
    two = decode(buf, len, 1, &used2);
    ERR_pop_to_mark();
    if ((ref == NULL) != (one == NULL) || (ref == NULL) != (two == NULL))
        abort();
    if (used1 != used_ref || used2 != used_ref)
        abort();
    if (ref != NULL) {
        if (!encoding_equal(ref, one) || !encoding_equal(ref, two))
            abort();
        /* Kept (or reused) by the first, so the second must be it. */
        if (after.decoded + after.reused > before.decoded + before.reused && two != one)
            abort();
    }
    X509_free(ref);
    X509_free(one);
    X509_free(two);
    return 0;
}

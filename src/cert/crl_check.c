/*
 * crl_check.c: RFC 5280 soundness checks on a CRL that OpenSSL's parser does
 * not make. OpenSSL accepts, for example, a v1 CRL carrying extensions, an
 * explicitly encoded v1 version, or an empty revokedCertificates SEQUENCE;
 * a CRL like that was not produced by a conforming CA and certgate does not
 * rely on it (the certificates it covers get `revocation-unknown`).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert/trust_internal.h"

/* A CRL larger than this is not walked (and not trusted). */
#define CG_CRL_MAX_DER (64L * 1024 * 1024)

struct tlv {
    unsigned char tag;
    const unsigned char *val;
    size_t len;
};

/* Reads one DER TLV at *p (bounded by end); advances *p past it. */
static bool tlv_next(const unsigned char **p, const unsigned char *end, struct tlv *out)
{
    const unsigned char *q = *p;
    size_t len;

    if (end - q < 2)
        return false;
    out->tag = *q++;
    if ((out->tag & 0x1f) == 0x1f)   /* high tag numbers do not occur in a CRL */
        return false;
    len = *q++;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > sizeof(size_t) || (size_t)(end - q) < n)
            return false;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | *q++;
    }
    if ((size_t)(end - q) < len)
        return false;
    out->val = q;
    out->len = len;
    *p = q + len;
    return true;
}

/* Walks the TBSCertList for the encoding rules OpenSSL leaves unchecked. */
static bool tbs_is_sound(const unsigned char *der, size_t der_len)
{
    const unsigned char *p = der, *end = der + der_len, *tp, *tend, *alg_start, *op;
    struct tlv outer, tbs, f, outer_alg;
    size_t alg_len;
    bool has_version = false, has_entry_ext = false, has_crl_ext = false;
    long version = 0;

    if (!tlv_next(&p, end, &outer) || outer.tag != 0x30)
        return false;
    p = outer.val;
    if (!tlv_next(&p, outer.val + outer.len, &tbs) || tbs.tag != 0x30)
        return false;
    tp = tbs.val;
    tend = tbs.val + tbs.len;
    alg_start = tp;
    if (!tlv_next(&tp, tend, &f))
        return false;
    if (f.tag == 0x02) {
        has_version = true;
        if (f.len != 1)
            return false;
        version = f.val[0];
        alg_start = tp;
        if (!tlv_next(&tp, tend, &f))
            return false;
    }
    /* signature AlgorithmIdentifier, issuer Name, thisUpdate */
    if (f.tag != 0x30)
        return false;
    alg_len = (size_t)(tp - alg_start);
    /* The signature algorithm is stated twice; a CRL whose two copies differ
     * could be read with either, so it is read with neither. */
    op = tbs.val + tbs.len;
    if (!tlv_next(&op, outer.val + outer.len, &outer_alg) ||
        (size_t)(op - (tbs.val + tbs.len)) != alg_len ||
        memcmp(tbs.val + tbs.len, alg_start, alg_len) != 0)
        return false;
    if (!tlv_next(&tp, tend, &f) || f.tag != 0x30)
        return false;
    if (!tlv_next(&tp, tend, &f) || (f.tag != 0x17 && f.tag != 0x18))
        return false;
    while (tp < tend) {
        if (!tlv_next(&tp, tend, &f))
            return false;
        if (f.tag == 0x17 || f.tag == 0x18)
            continue;   /* nextUpdate */
        if (f.tag == 0x30) {
            /* revokedCertificates: when present, RFC 5280 wants it non-empty */
            const unsigned char *ep = f.val, *eend = f.val + f.len;
            if (f.len == 0)
                return false;
            while (ep < eend) {
                struct tlv entry, part;
                const unsigned char *xp;
                int parts = 0;
                if (!tlv_next(&ep, eend, &entry) || entry.tag != 0x30)
                    return false;
                xp = entry.val;
                while (xp < entry.val + entry.len) {
                    if (!tlv_next(&xp, entry.val + entry.len, &part))
                        return false;
                    parts++;
                }
                if (parts == 3)
                    has_entry_ext = true;
            }
            continue;
        }
        if (f.tag == 0xa0) {
            has_crl_ext = true;
            continue;
        }
        return false;
    }
    if (has_version && version != 1)
        return false;   /* explicit v1 (DER forbids it) or an unknown version */
    if (!has_version && (has_crl_ext || has_entry_ext))
        return false;   /* extensions need a v2 CRL */
    return true;
}

bool cg_crl_is_sound(X509_CRL *crl)
{
    unsigned char *der = NULL;
    ISSUING_DIST_POINT *idp = NULL;
    int len, crit = -1;
    bool ok = false;

    len = i2d_X509_CRL(crl, &der);
    if (len <= 0 || len > CG_CRL_MAX_DER || !tbs_is_sound(der, (size_t)len))
        goto out;
    idp = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, &crit, NULL);
    if (idp == NULL && crit != -1)
        goto out;   /* present but unparseable */
    if (idp != NULL) {
        int only = (idp->onlyuser > 0) + (idp->onlyCA > 0) + (idp->onlyattr > 0);
        if (only > 1)
            goto out;
        /* An IDP that says nothing is forbidden (RFC 5280 5.2.5). */
        if (idp->distpoint == NULL && only == 0 && idp->onlysomereasons == NULL &&
            idp->indirectCRL <= 0)
            goto out;
    }
    ok = true;
out:
    ISSUING_DIST_POINT_free(idp);
    OPENSSL_free(der);
    return ok;
}

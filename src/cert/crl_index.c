/*
 * crl_index.c: see crl_index.h. One pass counts the entries, one fills two
 * flat arrays (entries, and the serial bytes beyond the first 8), then a
 * sort unless the CRL is already in order (most CAs write it sorted).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cert/crl_index.h"
#include "cert/der.h"
#include "core/common.h"

/* RFC 5280 allows 20 octets; a leading zero (positive sign) makes 21. */
#define SERIAL_MAX 21

struct entry {
    uint64_t key;          /* the first 8 serial octets, big-endian, zero-padded */
    uint32_t tail;         /* offset in tails of the octets beyond 8 */
    uint8_t len;           /* canonical serial length */
    int8_t reason;
    int64_t revoked_at;
};

struct cg_crl_index {
    atomic_int refs;
    struct entry *entries;
    unsigned char *tails;
    size_t n, tails_len;
    X509_NAME *issuer;
    time_t this_update, next_update;
    long long number, base_number;
    bool delta, only_user, only_ca;
};

static const unsigned char OID_REASON[] = {0x55, 0x1d, 0x15};
static const unsigned char OID_INVALIDITY[] = {0x55, 0x1d, 0x18};
static const unsigned char OID_HOLD[] = {0x55, 0x1d, 0x17};
static const unsigned char OID_CERT_ISSUER[] = {0x55, 0x1d, 0x1d};
static const unsigned char OID_AKI[] = {0x55, 0x1d, 0x23};
static const unsigned char OID_IAN[] = {0x55, 0x1d, 0x12};
static const unsigned char OID_CRL_NUMBER[] = {0x55, 0x1d, 0x14};
static const unsigned char OID_DELTA[] = {0x55, 0x1d, 0x1b};
static const unsigned char OID_IDP[] = {0x55, 0x1d, 0x1c};
static const unsigned char OID_FRESHEST[] = {0x55, 0x1d, 0x2e};
static const unsigned char OID_EXPIRED_ON_CRL[] = {0x55, 0x1d, 0x3c};
static const unsigned char OID_AIA[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01};

/* Canonical (minimal two's complement) content octets of an INTEGER, so
 * that a CRL and a certificate that encode the same serial differently
 * still meet. */
static void canonical(const unsigned char **p, size_t *len)
{
    while (*len > 1 && (((*p)[0] == 0x00 && ((*p)[1] & 0x80) == 0) ||
                        ((*p)[0] == 0xff && ((*p)[1] & 0x80) != 0))) {
        (*p)++;
        (*len)--;
    }
}

static uint64_t key_of(const unsigned char *s, size_t len)
{
    uint64_t k = 0;
    for (size_t i = 0; i < 8; i++)
        k = (k << 8) | (i < len ? s[i] : 0);
    return k;
}

static int cmp_key(const struct entry *a, uint8_t blen, uint64_t bkey, const unsigned char *btail,
                   const unsigned char *tails)
{
    if (a->len != blen)
        return a->len < blen ? -1 : 1;
    if (a->key != bkey)
        return a->key < bkey ? -1 : 1;
    if (blen <= 8)
        return 0;
    return memcmp(tails + a->tail, btail, blen - 8u);
}

static int cmp_entries(const void *x, const void *y, void *arg)
{
    const struct entry *b = y;
    const unsigned char *tails = arg;
    return cmp_key(x, b->len, b->key, tails + b->tail, tails);
}

/* An INTEGER TLV's value as a small non-negative number; -1 otherwise. */
static long long small_int(const struct cg_tlv *t)
{
    long long v = 0;
    if (t->tag != 0x02 || t->len == 0 || t->len > 8 || (t->val[0] & 0x80))
        return -1;
    for (size_t i = 0; i < t->len; i++)
        v = (long long)(((unsigned long long)v << 8) | t->val[i]);
    return v;
}

/* One Extension: OID, critical flag, value. */
static bool read_ext(struct cg_der *seq, struct cg_tlv *oid, bool *critical, struct cg_tlv *value)
{
    struct cg_tlv ext, b;
    struct cg_der e;

    if (!cg_der_expect(seq, 0x30, &ext))
        return false;
    e = cg_der_in(&ext);
    *critical = false;
    if (!cg_der_expect(&e, 0x06, oid))
        return false;
    if (cg_der_peek(&e, 0x01)) {
        if (!cg_der_next(&e, &b) || b.len != 1 || (b.val[0] != 0 && b.val[0] != 0xff))
            return false;
        *critical = b.val[0] == 0xff;
    }
    return cg_der_expect(&e, 0x04, value) && cg_der_done(&e);
}

static int entry_extensions(const struct cg_tlv *list, struct entry *out, char **err)
{
    struct cg_der seq = cg_der_in(list);
    struct cg_tlv oid, value, v;
    bool critical;

    if (list->len == 0)
        return cg_set_err(err, "empty CRL entry extensions");
    while (!cg_der_done(&seq)) {
        if (!read_ext(&seq, &oid, &critical, &value))
            return cg_set_err(err, "malformed CRL entry extension");
        if (cg_tlv_eq(&oid, OID_REASON, sizeof(OID_REASON))) {
            struct cg_der d = cg_der_in(&value);
            if (!cg_der_expect(&d, 0x0a, &v) || !cg_der_done(&d) || v.len != 1 ||
                v.val[0] > 10 || v.val[0] == 7)
                return cg_set_err(err, "malformed CRL entry reason code");
            out->reason = (int8_t)v.val[0];
        } else if (cg_tlv_eq(&oid, OID_CERT_ISSUER, sizeof(OID_CERT_ISSUER))) {
            return cg_set_err(err, "an indirect CRL (entries naming another issuer) is not "
                                   "supported");
        } else if (critical && !cg_tlv_eq(&oid, OID_INVALIDITY, sizeof(OID_INVALIDITY)) &&
                   !cg_tlv_eq(&oid, OID_HOLD, sizeof(OID_HOLD))) {
            return cg_set_err(err, "a CRL entry carries an unknown critical extension");
        }
    }
    return CG_OK;
}

static int crl_extensions(struct cg_crl_index *ix, const struct cg_tlv *wrap, char **err)
{
    struct cg_der d = cg_der_in(wrap), seq;
    struct cg_tlv list, oid, value, v;
    bool critical;

    if (!cg_der_expect(&d, 0x30, &list) || !cg_der_done(&d) || list.len == 0)
        return cg_set_err(err, "malformed CRL extensions");
    seq = cg_der_in(&list);
    while (!cg_der_done(&seq)) {
        struct cg_der in;
        if (!read_ext(&seq, &oid, &critical, &value))
            return cg_set_err(err, "malformed CRL extension");
        in = cg_der_in(&value);
        if (cg_tlv_eq(&oid, OID_CRL_NUMBER, sizeof(OID_CRL_NUMBER))) {
            if (!cg_der_next(&in, &v) || !cg_der_done(&in) || v.tag != 0x02)
                return cg_set_err(err, "malformed CRL number");
            ix->number = small_int(&v);
        } else if (cg_tlv_eq(&oid, OID_DELTA, sizeof(OID_DELTA))) {
            if (!cg_der_next(&in, &v) || !cg_der_done(&in) || v.tag != 0x02)
                return cg_set_err(err, "malformed delta CRL indicator");
            ix->delta = true;
            ix->base_number = small_int(&v);
        } else if (cg_tlv_eq(&oid, OID_IDP, sizeof(OID_IDP))) {
            struct cg_der idp;
            if (!cg_der_expect(&in, 0x30, &v) || !cg_der_done(&in))
                return cg_set_err(err, "malformed issuing distribution point");
            idp = cg_der_in(&v);
            while (!cg_der_done(&idp)) {
                struct cg_tlv f;
                if (!cg_der_next(&idp, &f))
                    return cg_set_err(err, "malformed issuing distribution point");
                if (f.tag == 0xa0)
                    continue;   /* the DP name: the URL we fetched it from, or a local file */
                /* DER: a BOOLEAN DEFAULT FALSE is present only when TRUE */
                if ((f.tag == 0x81 || f.tag == 0x82 || f.tag == 0x84 || f.tag == 0x85) &&
                    (f.len != 1 || f.val[0] != 0xff))
                    return cg_set_err(err, "malformed issuing distribution point");
                if (f.tag == 0x81)
                    ix->only_user = true;
                else if (f.tag == 0x82)
                    ix->only_ca = true;
                else if (f.tag == 0x83)
                    return cg_set_err(err, "a CRL partitioned by reason (onlySomeReasons) is "
                                           "not supported");
                else if (f.tag == 0x84)
                    return cg_set_err(err, "an indirect CRL is not supported");
                else if (f.tag == 0x85)
                    return cg_set_err(err, "a CRL of attribute certificates does not cover "
                                           "certificates");
                else
                    return cg_set_err(err, "malformed issuing distribution point");
            }
            if (ix->only_user && ix->only_ca)
                return cg_set_err(err, "malformed issuing distribution point (only user and "
                                       "only CA certificates)");
        } else if (critical && !cg_tlv_eq(&oid, OID_AKI, sizeof(OID_AKI)) &&
                   !cg_tlv_eq(&oid, OID_IAN, sizeof(OID_IAN)) &&
                   !cg_tlv_eq(&oid, OID_FRESHEST, sizeof(OID_FRESHEST)) &&
                   !cg_tlv_eq(&oid, OID_EXPIRED_ON_CRL, sizeof(OID_EXPIRED_ON_CRL)) &&
                   !cg_tlv_eq(&oid, OID_AIA, sizeof(OID_AIA))) {
            return cg_set_err(err, "the CRL carries an unknown critical extension");
        }
    }
    if (ix->delta && ix->number < 0)
        return cg_set_err(err, "a delta CRL without a CRL number");
    return CG_OK;
}

/* Signature over the exact tbsCertList bytes. */
static int check_signature(const struct cg_tlv *tbs, const struct cg_tlv *alg,
                           const struct cg_tlv *sig, X509 *issuer, char **err)
{
    const unsigned char *p;
    ASN1_TYPE *t = NULL;
    X509_ALGOR *a = NULL;
    ASN1_BIT_STRING *s = NULL;
    EVP_PKEY *key = X509_get0_pubkey(issuer);
    int rc = CG_ERR;

    p = tbs->tlv;
    t = d2i_ASN1_TYPE(NULL, &p, (long)tbs->tlv_len);
    p = alg->tlv;
    a = d2i_X509_ALGOR(NULL, &p, (long)alg->tlv_len);
    p = sig->tlv;
    s = d2i_ASN1_BIT_STRING(NULL, &p, (long)sig->tlv_len);
    if (t == NULL || a == NULL || s == NULL || key == NULL) {
        cg_set_err(err, "the CRL's signature cannot be read");
        goto out;
    }
    if (ASN1_item_verify(ASN1_ITEM_rptr(ASN1_ANY), a, s, t, key) != 1) {
        cg_set_err(err, "the CRL's signature does not verify with the issuer's key");
        goto out;
    }
    rc = CG_OK;
out:
    ASN1_TYPE_free(t);
    X509_ALGOR_free(a);
    ASN1_BIT_STRING_free(s);
    ERR_clear_error();
    return rc;
}

/* Reads one revokedCertificates entry into *e (serial bytes beyond 8 at `tail`). */
static int read_entry(const struct cg_tlv *t, struct entry *e, unsigned char *tail, bool v2,
                      char **err)
{
    struct cg_der d = cg_der_in(t);
    struct cg_tlv serial, date, exts;
    const unsigned char *s;
    size_t n;
    time_t when;

    if (!cg_der_expect(&d, 0x02, &serial) || serial.len == 0 || !cg_der_next(&d, &date) ||
        !cg_der_time(&date, &when))
        return cg_set_err(err, "malformed CRL entry");
    s = serial.val;
    n = serial.len;
    canonical(&s, &n);
    if (n > SERIAL_MAX)
        return cg_set_err(err, "a CRL entry's serial is longer than %d octets", SERIAL_MAX);
    e->len = (uint8_t)n;
    e->key = key_of(s, n);
    e->reason = -1;
    e->revoked_at = (int64_t)when;
    if (n > 8 && tail != NULL)
        memcpy(tail, s + 8, n - 8);
    if (!cg_der_done(&d)) {
        if (!v2 || !cg_der_expect(&d, 0x30, &exts) || !cg_der_done(&d))
            return cg_set_err(err, "malformed CRL entry");
        if (entry_extensions(&exts, e, err) != CG_OK)
            return CG_ERR;
    }
    return CG_OK;
}

int cg_crl_index_load(const unsigned char *der, size_t len, X509 *issuer,
                      const struct cg_crl_index_opts *opts, struct cg_crl_index **out,
                      char **err)
{
    size_t max = opts != NULL && opts->max_bytes > 0 ? opts->max_bytes
                                                     : CG_CRL_INDEX_DEFAULT_MAX_BYTES;
    struct cg_der d = {der, der + len}, c, list;
    struct cg_tlv outer, tbs, alg, sig, f, inner_alg, name, revoked = {0}, one;
    struct cg_crl_index *ix = NULL;
    bool v2 = false, has_revoked = false, sorted = true;
    const unsigned char *p;
    size_t n = 0, tails = 0;
    int rc = CG_ERR;

    *out = NULL;
    if (len > max)
        return cg_set_err(err, "the CRL is %zu bytes, over the limit of %zu", len, max);
    if (issuer == NULL)
        return cg_set_err(err, "no issuer to check the CRL against");
    if (len > 0 && der[0] == '<')
        return cg_set_err(err, "not a CRL (looks like HTML)");
    if (!cg_der_expect(&d, 0x30, &outer) || !cg_der_done(&d))
        return cg_set_err(err, len > 0 && der[0] == 0x30 ? "truncated or malformed CRL"
                                                         : "not a DER CRL");
    c = cg_der_in(&outer);
    if (!cg_der_expect(&c, 0x30, &tbs) || !cg_der_expect(&c, 0x30, &alg) ||
        !cg_der_expect(&c, 0x03, &sig) || !cg_der_done(&c))
        return cg_set_err(err, "malformed CRL");

    ix = calloc(1, sizeof(*ix));
    if (ix == NULL)
        return cg_set_err(err, "out of memory");
    atomic_init(&ix->refs, 1);
    ix->number = ix->base_number = -1;

    /* TBSCertList */
    c = cg_der_in(&tbs);
    if (cg_der_peek(&c, 0x02)) {
        if (!cg_der_next(&c, &f) || f.len != 1 || f.val[0] != 1) {
            cg_set_err(err, "the CRL's version is not v2 (an explicit v1 is not DER)");
            goto out;
        }
        v2 = true;
    }
    if (!cg_der_expect(&c, 0x30, &inner_alg) || inner_alg.tlv_len != alg.tlv_len ||
        memcmp(inner_alg.tlv, alg.tlv, alg.tlv_len) != 0) {
        cg_set_err(err, "the CRL's two signature algorithms differ");
        goto out;
    }
    if (!cg_der_expect(&c, 0x30, &name) || !cg_der_next(&c, &f) ||
        !cg_der_time(&f, &ix->this_update)) {
        cg_set_err(err, "malformed CRL header");
        goto out;
    }
    p = name.tlv;
    ix->issuer = d2i_X509_NAME(NULL, &p, (long)name.tlv_len);
    if (ix->issuer == NULL) {
        cg_set_err(err, "malformed CRL issuer name");
        goto out;
    }
    if (X509_NAME_cmp(ix->issuer, X509_get_subject_name(issuer)) != 0) {
        cg_set_err(err, "the CRL was issued by another CA");
        goto out;
    }
    if ((X509_get_extension_flags(issuer) & EXFLAG_KUSAGE) != 0 &&
        (X509_get_key_usage(issuer) & KU_CRL_SIGN) == 0) {
        cg_set_err(err, "the issuer's key usage does not allow signing CRLs");
        goto out;
    }
    if (cg_der_peek(&c, 0x17) || cg_der_peek(&c, 0x18)) {
        if (!cg_der_next(&c, &f) || !cg_der_time(&f, &ix->next_update)) {
            cg_set_err(err, "malformed CRL nextUpdate");
            goto out;
        }
    }
    if (cg_der_peek(&c, 0x30)) {
        if (!cg_der_next(&c, &revoked) || revoked.len == 0) {
            cg_set_err(err, "an empty revokedCertificates list (RFC 5280 omits it instead)");
            goto out;
        }
        has_revoked = true;
    }
    if (cg_der_peek(&c, 0xa0)) {
        if (!v2) {
            cg_set_err(err, "a v1 CRL with extensions");
            goto out;
        }
        if (!cg_der_next(&c, &f) || crl_extensions(ix, &f, err) != CG_OK)
            goto out;
    }
    if (!cg_der_done(&c)) {
        cg_set_err(err, "malformed CRL (trailing data in tbsCertList)");
        goto out;
    }
    /* The signature first: nothing below is worth reading if it fails. */
    if (check_signature(&tbs, &alg, &sig, issuer, err) != CG_OK)
        goto out;

    /* Count, then fill: two flat allocations however many entries. */
    if (has_revoked) {
        list = cg_der_in(&revoked);
        while (!cg_der_done(&list)) {
            struct entry e;
            if (!cg_der_expect(&list, 0x30, &one)) {
                cg_set_err(err, "malformed revokedCertificates list");
                goto out;
            }
            if (read_entry(&one, &e, NULL, v2, err) != CG_OK)
                goto out;
            n++;
            if (e.len > 8)
                tails += e.len - 8u;
        }
        if (tails > UINT32_MAX) {
            cg_set_err(err, "the CRL is too large to index");
            goto out;
        }
        ix->entries = malloc(n * sizeof(*ix->entries));
        ix->tails = malloc(tails > 0 ? tails : 1);
        if (ix->entries == NULL || ix->tails == NULL) {
            cg_set_err(err, "out of memory indexing %zu CRL entries", n);
            goto out;
        }
        list = cg_der_in(&revoked);
        for (size_t i = 0; i < n; i++) {
            struct entry *e = &ix->entries[i];
            cg_der_next(&list, &one);   /* checked in the first pass */
            e->tail = (uint32_t)ix->tails_len;
            if (read_entry(&one, e, ix->tails + ix->tails_len, v2, err) != CG_OK)
                goto out;
            if (e->len > 8)
                ix->tails_len += e->len - 8u;
            if (i > 0 && sorted && cmp_entries(&ix->entries[i - 1], e, ix->tails) > 0)
                sorted = false;
        }
        ix->n = n;
        if (!sorted)
            qsort_r(ix->entries, n, sizeof(*ix->entries), cmp_entries, ix->tails);
    }
    *out = ix;
    ix = NULL;
    rc = CG_OK;
out:
    cg_crl_index_unref(ix);
    return rc;
}

int cg_crl_index_lookup_raw(const struct cg_crl_index *ix, const unsigned char *serial,
                            size_t len, struct cg_crl_entry *out)
{
    size_t lo = 0, hi;
    uint64_t key;

    if (ix == NULL || serial == NULL || len == 0)
        return CG_DECLINED;
    canonical(&serial, &len);
    if (len > SERIAL_MAX)
        return CG_DECLINED;
    key = key_of(serial, len);
    hi = ix->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(&ix->entries[mid], (uint8_t)len, key, serial + 8, ix->tails);
        if (c == 0) {
            if (out != NULL) {
                out->revoked_at = (time_t)ix->entries[mid].revoked_at;
                out->reason = ix->entries[mid].reason;
            }
            return CG_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return CG_DECLINED;
}

int cg_crl_index_lookup(const struct cg_crl_index *ix, const ASN1_INTEGER *serial,
                        struct cg_crl_entry *out)
{
    unsigned char buf[64], *p = buf;
    struct cg_der d;
    struct cg_tlv t;
    int n;

    if (serial == NULL || i2d_ASN1_INTEGER(serial, NULL) > (int)sizeof(buf))
        return CG_DECLINED;
    n = i2d_ASN1_INTEGER(serial, &p);
    if (n <= 0)
        return CG_DECLINED;
    d = (struct cg_der){buf, buf + n};
    if (!cg_der_expect(&d, 0x02, &t))
        return CG_DECLINED;
    return cg_crl_index_lookup_raw(ix, t.val, t.len, out);
}

time_t cg_crl_index_this_update(const struct cg_crl_index *ix) { return ix->this_update; }
time_t cg_crl_index_next_update(const struct cg_crl_index *ix) { return ix->next_update; }
bool cg_crl_index_is_delta(const struct cg_crl_index *ix) { return ix->delta; }
long long cg_crl_index_number(const struct cg_crl_index *ix) { return ix->number; }
long long cg_crl_index_base_number(const struct cg_crl_index *ix) { return ix->base_number; }
bool cg_crl_index_only_user(const struct cg_crl_index *ix) { return ix->only_user; }
bool cg_crl_index_only_ca(const struct cg_crl_index *ix) { return ix->only_ca; }
size_t cg_crl_index_count(const struct cg_crl_index *ix) { return ix->n; }
const X509_NAME *cg_crl_index_issuer(const struct cg_crl_index *ix) { return ix->issuer; }

size_t cg_crl_index_memory(const struct cg_crl_index *ix)
{
    return sizeof(*ix) + ix->n * sizeof(*ix->entries) + ix->tails_len;
}

struct cg_crl_index *cg_crl_index_ref(struct cg_crl_index *ix)
{
    if (ix != NULL)
        atomic_fetch_add_explicit(&ix->refs, 1, memory_order_relaxed);
    return ix;
}

void cg_crl_index_unref(struct cg_crl_index *ix)
{
    if (ix == NULL || atomic_fetch_sub_explicit(&ix->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(ix->entries);
    free(ix->tails);
    X509_NAME_free(ix->issuer);
    free(ix);
}

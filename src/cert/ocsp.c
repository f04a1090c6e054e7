/*
 * ocsp.c: a strict reader and judge of OCSP responses (see ocsp.h for why
 * the DER is walked here and not by OpenSSL's OCSP decoder).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cert/ocsp.h"
#include "core/common.h"

/* A responder answering for one certificate has no reason to list more;
 * the bound keeps a hostile response from costing unbounded work. */
#define OCSP_MAX_SINGLES 1024
#define OCSP_MAX_CERTS 16

static const struct {
    const char *slug, *text;
} error_table[] = {
#define CG_OCSP_ROW(name, slug, text) {slug, text},
    CG_OCSP_ERROR_MAP(CG_OCSP_ROW)
#undef CG_OCSP_ROW
};

const char *cg_ocsp_error_slug(cg_ocsp_error_t e)
{
    return (size_t)e < CG_ARRAY_LEN(error_table) ? error_table[e].slug : "?";
}

const char *cg_ocsp_error_text(cg_ocsp_error_t e)
{
    return (size_t)e < CG_ARRAY_LEN(error_table) ? error_table[e].text : "?";
}

const char *cg_ocsp_status_slug(cg_ocsp_status_t s)
{
    switch (s) {
    case CG_OCSP_GOOD: return "good";
    case CG_OCSP_REVOKED: return "revoked";
    default: return "unknown";
    }
}

/* ---- DER reader ------------------------------------------------------- */

struct der {
    const unsigned char *p, *end;
};

/* One TLV: `tlv` spans tag to end of value (for re-parsing with OpenSSL). */
struct tlv {
    unsigned tag;
    const unsigned char *val, *tlv;
    size_t len, tlv_len;
};

/* Reads one TLV with DER length rules (definite, minimal). */
static bool der_next(struct der *d, struct tlv *t)
{
    const unsigned char *q = d->p;
    size_t len;

    if (d->end - q < 2)
        return false;
    t->tlv = q;
    t->tag = *q++;
    if ((t->tag & 0x1f) == 0x1f)   /* no high tag numbers in OCSP */
        return false;
    len = *q++;
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(d->end - q) < n || q[0] == 0)
            return false;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = (len << 8) | *q++;
        if (len < 0x80)
            return false;
    }
    if ((size_t)(d->end - q) < len)
        return false;
    t->val = q;
    t->len = len;
    t->tlv_len = (size_t)(q + len - t->tlv);
    d->p = q + len;
    return true;
}

static bool der_expect(struct der *d, unsigned tag, struct tlv *t)
{
    return der_next(d, t) && t->tag == tag;
}

/* Peeks: is the next TLV's tag `tag`? */
static bool der_peek(const struct der *d, unsigned tag)
{
    return d->p < d->end && *d->p == tag;
}

static struct der der_in(const struct tlv *t)
{
    return (struct der){t->val, t->val + t->len};
}

static bool der_done(const struct der *d)
{
    return d->p == d->end;
}

static bool tlv_eq(const struct tlv *t, const unsigned char *v, size_t n)
{
    return t->len == n && memcmp(t->val, v, n) == 0;
}

/* days since 1970-01-01 of a civil date (proleptic Gregorian) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* GeneralizedTime YYYYMMDDHHMMSS[.f+]Z (RFC 5280 forbids fractions; some
 * responders send them, and they carry no risk). */
static bool gen_time(const struct tlv *t, time_t *out)
{
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned v[6], w[6] = {4, 2, 2, 2, 2, 2};
    size_t i = 0, k;

    if (t->tag != 0x18 || t->len < 15)
        return false;
    for (k = 0; k < 6; k++) {
        v[k] = 0;
        for (unsigned n = 0; n < w[k]; n++, i++) {
            if (t->val[i] < '0' || t->val[i] > '9')
                return false;
            v[k] = v[k] * 10 + (unsigned)(t->val[i] - '0');
        }
    }
    if (i < t->len && t->val[i] == '.') {
        i++;
        if (i >= t->len || t->val[i] < '0' || t->val[i] > '9')
            return false;
        while (i < t->len && t->val[i] >= '0' && t->val[i] <= '9')
            i++;
    }
    if (i + 1 != t->len || t->val[i] != 'Z')
        return false;
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] || v[3] > 23 ||
        v[4] > 59 || v[5] > 59)
        return false;
    *out = (time_t)(days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5]);
    return true;
}

/* ---- the response, as read ------------------------------------------- */

struct single {
    struct tlv hash_alg_oid, name_hash, key_hash, serial;   /* serial: the INTEGER TLV */
    cg_ocsp_status_t status;
    time_t revoked_at, this_update, next_update;
    int reason;
    bool has_next, critical_unknown;
};

struct response {
    unsigned status;                 /* responseStatus */
    struct tlv tbs, sig_alg, sig;    /* for the signature */
    bool by_key;                     /* responderID choice */
    struct tlv responder;            /* Name TLV, or the key hash OCTET STRING value */
    time_t produced_at;
    struct single *singles;
    size_t n_singles;
    bool critical_unknown;
    struct tlv nonce;                /* the nonce extension's value, len 0: none */
    bool has_nonce;
    STACK_OF(X509) *certs;
};

static const unsigned char OID_OCSP_BASIC[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01};
static const unsigned char OID_OCSP_NONCE[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02};
static const unsigned char OID_OCSP_CRLID[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x03};
static const unsigned char OID_OCSP_ARCHIVE[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x06};
/* The SCT list of RFC 6962 3.3: informational to us (certgate enforces no
 * CT policy), and it does not change what the status means. */
static const unsigned char OID_CT_SCTS[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x05};
static const unsigned char OID_INVALIDITY_DATE[] = {0x55, 0x1d, 0x18};
static const unsigned char OID_CRL_REASON[] = {0x55, 0x1d, 0x15};

/*
 * Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension. Flags an unknown
 * critical one; remembers the nonce when `nonce` is given.
 */
static bool read_extensions(const struct tlv *outer, bool single, bool *critical_unknown,
                            struct tlv *nonce, bool *has_nonce)
{
    struct der d = der_in(outer), seq;
    struct tlv list, ext, oid, v;

    if (!der_expect(&d, 0x30, &list) || !der_done(&d) || list.len == 0)
        return false;
    seq = der_in(&list);
    while (!der_done(&seq)) {
        struct der e;
        bool critical = false, known;
        if (!der_expect(&seq, 0x30, &ext))
            return false;
        e = der_in(&ext);
        if (!der_expect(&e, 0x06, &oid))
            return false;
        if (der_peek(&e, 0x01)) {
            if (!der_next(&e, &v) || v.len != 1 || (v.val[0] != 0 && v.val[0] != 0xff))
                return false;
            critical = v.val[0] == 0xff;
        }
        if (!der_expect(&e, 0x04, &v) || !der_done(&e))
            return false;
        if (single)
            known = tlv_eq(&oid, OID_CT_SCTS, sizeof(OID_CT_SCTS)) ||
                    tlv_eq(&oid, OID_INVALIDITY_DATE, sizeof(OID_INVALIDITY_DATE)) ||
                    tlv_eq(&oid, OID_OCSP_CRLID, sizeof(OID_OCSP_CRLID)) ||
                    tlv_eq(&oid, OID_OCSP_ARCHIVE, sizeof(OID_OCSP_ARCHIVE)) ||
                    tlv_eq(&oid, OID_CRL_REASON, sizeof(OID_CRL_REASON));
        else
            known = tlv_eq(&oid, OID_OCSP_NONCE, sizeof(OID_OCSP_NONCE));
        if (!single && tlv_eq(&oid, OID_OCSP_NONCE, sizeof(OID_OCSP_NONCE))) {
            if (*has_nonce)
                return false;   /* two nonces: no way to tell which is meant */
            *nonce = v;
            *has_nonce = true;
        }
        if (critical && !known)
            *critical_unknown = true;
    }
    return true;
}

/* SingleResponse */
static bool read_single(const struct tlv *t, struct single *s)
{
    struct der d = der_in(t), c;
    struct tlv certid, alg, oid, st, tm, x;

    memset(s, 0, sizeof(*s));
    s->reason = -1;
    if (!der_expect(&d, 0x30, &certid))
        return false;
    c = der_in(&certid);
    if (!der_expect(&c, 0x30, &alg) || !der_expect(&c, 0x04, &s->name_hash) ||
        !der_expect(&c, 0x04, &s->key_hash) || !der_expect(&c, 0x02, &s->serial) ||
        !der_done(&c) || s->serial.len == 0)
        return false;
    c = der_in(&alg);
    if (!der_expect(&c, 0x06, &oid))
        return false;
    s->hash_alg_oid = oid;
    if (!der_done(&c) && (!der_expect(&c, 0x05, &x) || x.len != 0 || !der_done(&c)))
        return false;
    if (!der_next(&d, &st))
        return false;
    switch (st.tag) {
    case 0x80:   /* good [0] IMPLICIT NULL */
        if (st.len != 0)
            return false;
        s->status = CG_OCSP_GOOD;
        break;
    case 0xa1: { /* revoked [1] IMPLICIT RevokedInfo */
        struct der r = der_in(&st);
        s->status = CG_OCSP_REVOKED;
        if (!der_next(&r, &tm) || !gen_time(&tm, &s->revoked_at))
            return false;
        if (!der_done(&r)) {
            struct tlv wrap, e;
            struct der w;
            if (!der_expect(&r, 0xa0, &wrap) || !der_done(&r))
                return false;
            w = der_in(&wrap);
            if (!der_expect(&w, 0x0a, &e) || !der_done(&w) || e.len != 1 || e.val[0] > 10 ||
                e.val[0] == 7)
                return false;
            s->reason = e.val[0];
        }
        break;
    }
    case 0x82:   /* unknown [2] IMPLICIT NULL */
        if (st.len != 0)
            return false;
        s->status = CG_OCSP_UNKNOWN;
        break;
    default: return false;
    }
    if (!der_next(&d, &tm) || !gen_time(&tm, &s->this_update))
        return false;
    if (der_peek(&d, 0xa0)) {
        struct der w;
        if (!der_next(&d, &x))
            return false;
        w = der_in(&x);
        if (!der_next(&w, &tm) || !gen_time(&tm, &s->next_update) || !der_done(&w))
            return false;
        s->has_next = true;
    }
    if (der_peek(&d, 0xa1)) {
        struct tlv dummy;
        bool dummy_has = false;
        if (!der_next(&d, &x) || !read_extensions(&x, true, &s->critical_unknown, &dummy,
                                                  &dummy_has))
            return false;
    }
    return der_done(&d);
}

static void response_free(struct response *r)
{
    free(r->singles);
    sk_X509_pop_free(r->certs, X509_free);
    memset(r, 0, sizeof(*r));
}

/* OCSPResponse down to the BasicOCSPResponse's parts. false: malformed. */
static bool read_response(const unsigned char *der, size_t len, struct response *r,
                          bool *status_only)
{
    struct der d = {der, der + len}, o, b, rd;
    struct tlv outer, st, rb_wrap, rb, type, octets, basic, x, list, one;

    memset(r, 0, sizeof(*r));
    *status_only = false;
    if (!der_expect(&d, 0x30, &outer) || !der_done(&d))
        return false;
    o = der_in(&outer);
    if (!der_expect(&o, 0x0a, &st) || st.len != 1)
        return false;
    r->status = st.val[0];
    /* 0..6 minus 4 (unused) are the defined statuses */
    if (r->status > 6 || r->status == 4)
        return false;
    if (r->status != 0) {
        *status_only = true;
        return der_done(&o);   /* an error status carries no responseBytes */
    }
    if (!der_expect(&o, 0xa0, &rb_wrap) || !der_done(&o))
        return false;
    o = der_in(&rb_wrap);
    if (!der_expect(&o, 0x30, &rb) || !der_done(&o))
        return false;
    o = der_in(&rb);
    if (!der_expect(&o, 0x06, &type) || !tlv_eq(&type, OID_OCSP_BASIC, sizeof(OID_OCSP_BASIC)) ||
        !der_expect(&o, 0x04, &octets) || !der_done(&o))
        return false;

    /* BasicOCSPResponse */
    o = der_in(&octets);
    if (!der_expect(&o, 0x30, &basic) || !der_done(&o))
        return false;
    b = der_in(&basic);
    if (!der_expect(&b, 0x30, &r->tbs) || !der_expect(&b, 0x30, &r->sig_alg) ||
        !der_expect(&b, 0x03, &r->sig))
        return false;
    if (!der_done(&b)) {
        struct der c;
        if (!der_expect(&b, 0xa0, &x) || !der_done(&b))
            return false;
        c = der_in(&x);
        if (!der_expect(&c, 0x30, &list) || !der_done(&c))
            return false;
        c = der_in(&list);
        r->certs = sk_X509_new_null();
        if (r->certs == NULL)
            return false;
        while (!der_done(&c)) {
            const unsigned char *p;
            X509 *cert;
            if (!der_expect(&c, 0x30, &one) || sk_X509_num(r->certs) >= OCSP_MAX_CERTS)
                return false;
            p = one.tlv;
            cert = d2i_X509(NULL, &p, (long)one.tlv_len);
            if (cert == NULL || p != one.tlv + one.tlv_len || !sk_X509_push(r->certs, cert)) {
                X509_free(cert);
                return false;
            }
        }
    }

    /* ResponseData */
    rd = der_in(&r->tbs);
    if (der_peek(&rd, 0xa0)) {   /* version [0] EXPLICIT, only v1 (0) exists */
        struct der v;
        struct tlv i;
        if (!der_next(&rd, &x))
            return false;
        v = der_in(&x);
        if (!der_expect(&v, 0x02, &i) || !der_done(&v) || i.len != 1 || i.val[0] != 0)
            return false;
    }
    if (!der_next(&rd, &x))
        return false;
    if (x.tag == 0xa1) {          /* byName [1] Name */
        struct der n = der_in(&x);
        if (!der_expect(&n, 0x30, &r->responder) || !der_done(&n))
            return false;
    } else if (x.tag == 0xa2) {   /* byKey [2] KeyHash (OCTET STRING, SHA-1) */
        struct der n = der_in(&x);
        if (!der_expect(&n, 0x04, &r->responder) || !der_done(&n) || r->responder.len != 20)
            return false;
        r->by_key = true;
    } else {
        return false;
    }
    if (!der_next(&rd, &x) || !gen_time(&x, &r->produced_at))
        return false;
    if (!der_expect(&rd, 0x30, &list))
        return false;
    {
        struct der s = der_in(&list);
        while (!der_done(&s)) {
            struct single *grown;
            if (!der_expect(&s, 0x30, &one) || r->n_singles >= OCSP_MAX_SINGLES)
                return false;
            grown = realloc(r->singles, (r->n_singles + 1) * sizeof(*grown));
            if (grown == NULL)
                return false;
            r->singles = grown;
            if (!read_single(&one, &r->singles[r->n_singles]))
                return false;
            r->n_singles++;
        }
    }
    if (der_peek(&rd, 0xa1)) {
        if (!der_next(&rd, &x) ||
            !read_extensions(&x, false, &r->critical_unknown, &r->nonce, &r->has_nonce))
            return false;
    }
    return der_done(&rd);
}

/* ---- judging ---------------------------------------------------------- */

struct judge_ctx {
    struct cg_ocsp_result *out;
    char **err;
};

static int fail(struct judge_ctx *c, cg_ocsp_error_t e, const char *fmt, ...) CG_PRINTF(3, 4);

static int fail(struct judge_ctx *c, cg_ocsp_error_t e, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    c->out->error = e;
    c->out->status = CG_OCSP_UNKNOWN;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return cg_set_err(c->err, "%s", buf);
}

static bool time_in(time_t t, const ASN1_TIME *from, const ASN1_TIME *to)
{
    return X509_cmp_time(from, &t) <= 0 && X509_cmp_time(to, &t) >= 0;
}

/* Does `cand` match the ResponderID? */
static bool is_responder(const struct response *r, X509 *cand)
{
    if (r->by_key) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        return X509_pubkey_digest(cand, EVP_sha1(), md, &n) == 1 && n == r->responder.len &&
               memcmp(md, r->responder.val, n) == 0;
    } else {
        const unsigned char *p = r->responder.tlv;
        X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)r->responder.tlv_len);
        bool same = name != NULL && X509_NAME_cmp(name, X509_get_subject_name(cand)) == 0;
        X509_NAME_free(name);
        return same;
    }
}

/* Checks the response signature with `key`; 1 verified, 0 not, -1 error. */
static int check_signature(const struct response *r, EVP_PKEY *key)
{
    const unsigned char *p;
    ASN1_TYPE *tbs = NULL;
    X509_ALGOR *alg = NULL;
    ASN1_BIT_STRING *sig = NULL;
    int rc = -1;

    /* An ANY holding a SEQUENCE keeps its encoding verbatim, so the bytes
     * verified are exactly the bytes received. */
    p = r->tbs.tlv;
    tbs = d2i_ASN1_TYPE(NULL, &p, (long)r->tbs.tlv_len);
    p = r->sig_alg.tlv;
    alg = d2i_X509_ALGOR(NULL, &p, (long)r->sig_alg.tlv_len);
    p = r->sig.tlv;
    sig = d2i_ASN1_BIT_STRING(NULL, &p, (long)r->sig.tlv_len);
    if (tbs == NULL || alg == NULL || sig == NULL)
        goto out;
    rc = ASN1_item_verify(ASN1_ITEM_rptr(ASN1_ANY), alg, sig, tbs, key) == 1 ? 1 : 0;
out:
    ASN1_TYPE_free(tbs);
    X509_ALGOR_free(alg);
    ASN1_BIT_STRING_free(sig);
    ERR_clear_error();
    return rc;
}

/* Is `cand` a responder the issuer delegated (RFC 6960 4.2.2.2)? NULL: yes,
 * else the reason it is not. */
static const char *delegation_problem(X509 *cand, X509 *issuer, time_t produced_at)
{
    uint32_t flags;

    if (X509_check_issued(issuer, cand) != X509_V_OK)
        return "it was not issued by the certificate's issuer";
    if (X509_verify(cand, X509_get0_pubkey(issuer)) != 1) {
        ERR_clear_error();
        return "its signature does not verify with the issuer's key";
    }
    flags = X509_get_extension_flags(cand);
    if ((flags & EXFLAG_INVALID) != 0)
        return "it is malformed";
    if ((flags & EXFLAG_XKUSAGE) == 0 || (X509_get_extended_key_usage(cand) & XKU_OCSP_SIGN) == 0)
        return "it lacks the OCSP-signing extended key usage";
    if ((flags & EXFLAG_CRITICAL) != 0)
        return "it carries an unknown critical extension";
    (void)produced_at;
    return NULL;
}

static bool certid_matches(const struct single *s, X509 *cert, X509 *issuer,
                           const unsigned char *serial_der, size_t serial_len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    const unsigned char *p = s->hash_alg_oid.tlv;
    ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &p, (long)s->hash_alg_oid.tlv_len);
    const EVP_MD *h = obj != NULL ? EVP_get_digestbynid(OBJ_obj2nid(obj)) : NULL;
    const unsigned char *name_der = NULL;
    size_t name_len = 0;
    const ASN1_BIT_STRING *key;
    bool ok = false;

    ASN1_OBJECT_free(obj);
    (void)cert;
    if (h == NULL)
        goto out;
    if (s->serial.tlv_len != serial_len || memcmp(s->serial.tlv, serial_der, serial_len) != 0)
        goto out;
    if (X509_NAME_get0_der(X509_get_subject_name(issuer), &name_der, &name_len) != 1 ||
        EVP_Digest(name_der, name_len, md, &n, h, NULL) != 1 || n != s->name_hash.len ||
        memcmp(md, s->name_hash.val, n) != 0)
        goto out;
    key = X509_get0_pubkey_bitstr(issuer);
    if (key == NULL || EVP_Digest(key->data, (size_t)key->length, md, &n, h, NULL) != 1 ||
        n != s->key_hash.len || memcmp(md, s->key_hash.val, n) != 0)
        goto out;
    ok = true;
out:
    ERR_clear_error();
    return ok;
}

static void fmt_time(time_t t, char out[32])
{
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "?");
}

int cg_ocsp_judge(const unsigned char *der, size_t len, X509 *cert, X509 *issuer,
                  const struct cg_ocsp_params *params, struct cg_ocsp_result *out,
                  char **err)
{
    struct judge_ctx c = {out, err};
    struct response r;
    bool status_only = false, found = false, any_unknown = false;
    const struct single *revoked = NULL, *bad = NULL;
    cg_ocsp_error_t bad_error = CG_OCSP_ERR_NONE;
    X509 *signer = NULL;
    const char *why_not = NULL;
    unsigned char *serial_der = NULL;
    int serial_len, rc = CG_ERR;
    time_t at = params->at;
    char t1[32], t2[32];

    memset(out, 0, sizeof(*out));
    out->status = CG_OCSP_UNKNOWN;
    out->reason = -1;
    if (der == NULL || cert == NULL || issuer == NULL)
        return fail(&c, CG_OCSP_ERR_INTERNAL, "no response, certificate or issuer to judge");
    if (!read_response(der, len, &r, &status_only)) {
        response_free(&r);
        return fail(&c, CG_OCSP_ERR_MALFORMED, "%s", cg_ocsp_error_text(CG_OCSP_ERR_MALFORMED));
    }
    if (status_only) {
        static const char *const names[] = {"successful", "malformedRequest", "internalError",
                                            "tryLater", "?", "sigRequired", "unauthorized"};
        rc = fail(&c, CG_OCSP_ERR_RESPONDER_ERROR, "the responder answered %s",
                  names[r.status]);
        goto out;
    }
    out->produced_at = r.produced_at;

    /* Who signed it: the issuer, or a responder the issuer delegated. */
    if (is_responder(&r, issuer)) {
        signer = issuer;
    } else {
        STACK_OF(X509) *pools[2] = {r.certs, params->untrusted};
        bool matched = false;
        for (int k = 0; k < 2 && signer == NULL; k++) {
            for (int i = 0; i < sk_X509_num(pools[k]) && signer == NULL; i++) {
                X509 *cand = sk_X509_value(pools[k], i);
                const char *why;
                if (!is_responder(&r, cand))
                    continue;
                matched = true;
                why = delegation_problem(cand, issuer, r.produced_at);
                if (why == NULL)
                    signer = cand;
                else if (why_not == NULL)
                    why_not = why;
            }
        }
        if (signer == NULL) {
            rc = matched ? fail(&c, CG_OCSP_ERR_SIGNER_UNAUTHORISED,
                                "the responder certificate is not authorised: %s", why_not)
                         : fail(&c, CG_OCSP_ERR_SIGNER_UNKNOWN, "%s",
                                cg_ocsp_error_text(CG_OCSP_ERR_SIGNER_UNKNOWN));
            goto out;
        }
        out->delegated = true;
    }
    switch (check_signature(&r, X509_get0_pubkey(signer))) {
    case 1: break;
    case 0:
        rc = fail(&c, CG_OCSP_ERR_BAD_SIGNATURE, "%s", cg_ocsp_error_text(CG_OCSP_ERR_BAD_SIGNATURE));
        goto out;
    default:
        rc = fail(&c, CG_OCSP_ERR_MALFORMED, "the response's signature cannot be read");
        goto out;
    }
    if (!time_in(r.produced_at, X509_get0_notBefore(signer),
                                   X509_get0_notAfter(signer))) {
        fmt_time(r.produced_at, t1);
        rc = fail(&c, CG_OCSP_ERR_SIGNER_NOT_VALID,
                  "the responder certificate was not valid when the response was produced (%s)",
                  t1);
        goto out;
    }
    if (r.critical_unknown) {
        rc = fail(&c, CG_OCSP_ERR_CRITICAL_EXTENSION, "%s",
                  cg_ocsp_error_text(CG_OCSP_ERR_CRITICAL_EXTENSION));
        goto out;
    }
    if (params->nonce_len > 0 &&
        (!r.has_nonce || !tlv_eq(&r.nonce, params->nonce, params->nonce_len))) {
        /* the nonce extension's value is an OCTET STRING wrapping the nonce;
         * accept both that and the bare value (responders differ) */
        struct der n = der_in(&r.nonce);
        struct tlv inner;
        if (!r.has_nonce || !der_expect(&n, 0x04, &inner) || !der_done(&n) ||
            !tlv_eq(&inner, params->nonce, params->nonce_len)) {
            rc = fail(&c, CG_OCSP_ERR_NONCE, "%s", cg_ocsp_error_text(CG_OCSP_ERR_NONCE));
            goto out;
        }
    }
    /* A response produced outside the certificate's life says nothing
     * about it: an old one replayed, or a responder's clock gone wrong. */
    if (!time_in(r.produced_at, X509_get0_notBefore(cert), X509_get0_notAfter(cert))) {
        fmt_time(r.produced_at, t1);
        rc = fail(&c, CG_OCSP_ERR_BAD_PRODUCED_AT,
                  "the response was produced at %s, outside the certificate's validity", t1);
        goto out;
    }

    serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(cert), &serial_der);
    if (serial_len <= 0) {
        rc = fail(&c, CG_OCSP_ERR_INTERNAL, "cannot encode the certificate's serial");
        goto out;
    }
    for (size_t i = 0; i < r.n_singles; i++) {
        const struct single *s = &r.singles[i];
        cg_ocsp_error_t e = CG_OCSP_ERR_NONE;
        if (!certid_matches(s, cert, issuer, serial_der, (size_t)serial_len))
            continue;
        found = true;
        if (s->critical_unknown)
            e = CG_OCSP_ERR_CRITICAL_EXTENSION;
        else if (s->this_update > at)
            e = CG_OCSP_ERR_NOT_YET_VALID;
        else if (params->max_age > 0 && s->this_update < at - params->max_age)
            e = CG_OCSP_ERR_STALE;
        else if (s->has_next && s->next_update < at) {
            if (at - s->next_update > params->stale_grace)
                e = CG_OCSP_ERR_STALE;
            else
                out->stale = true;
        } else if (s->has_next && s->next_update < s->this_update)
            e = CG_OCSP_ERR_MALFORMED;
        if (e != CG_OCSP_ERR_NONE) {
            if (bad == NULL) {
                bad = s;
                bad_error = e;
            }
            continue;
        }
        if (s->status == CG_OCSP_REVOKED && revoked == NULL)
            revoked = s;
        else if (s->status == CG_OCSP_UNKNOWN)
            any_unknown = true;
        if (out->this_update == 0 || s->this_update > out->this_update) {
            out->this_update = s->this_update;
            out->next_update = s->has_next ? s->next_update : 0;
        }
    }
    if (!found) {
        rc = fail(&c, CG_OCSP_ERR_NO_MATCH, "%s", cg_ocsp_error_text(CG_OCSP_ERR_NO_MATCH));
        goto out;
    }
    /* A valid "revoked" stands whatever else the response lists. */
    if (revoked != NULL) {
        out->status = CG_OCSP_REVOKED;
        out->revoked_at = revoked->revoked_at;
        out->reason = revoked->reason;
        out->this_update = revoked->this_update;
        out->next_update = revoked->has_next ? revoked->next_update : 0;
        rc = CG_OK;
        goto out;
    }
    if (bad != NULL) {
        fmt_time(bad->this_update, t1);
        if (bad->has_next)
            fmt_time(bad->next_update, t2);
        else
            strcpy(t2, "none");
        rc = fail(&c, bad_error, "%s (thisUpdate %s, nextUpdate %s)",
                  cg_ocsp_error_text(bad_error), t1, t2);
        out->this_update = bad->this_update;
        out->next_update = bad->has_next ? bad->next_update : 0;
        goto out;
    }
    out->status = any_unknown ? CG_OCSP_UNKNOWN : CG_OCSP_GOOD;
    rc = CG_OK;
out:
    OPENSSL_free(serial_der);
    response_free(&r);
    return rc;
}

int cg_ocsp_request(X509 *cert, X509 *issuer, unsigned char *nonce, size_t nonce_len,
                    unsigned char **der, size_t *len, char **err)
{
    OCSP_REQUEST *req = NULL;
    OCSP_CERTID *id = NULL;
    int n, rc = CG_ERR;

    *der = NULL;
    *len = 0;
    if (nonce_len > 32)
        return cg_set_err(err, "an OCSP nonce is at most 32 bytes");
    req = OCSP_REQUEST_new();
    id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    if (req == NULL || id == NULL || OCSP_request_add0_id(req, id) == NULL) {
        cg_set_err(err, "cannot build an OCSP request");
        goto out;
    }
    id = NULL;   /* owned by req now */
    if (nonce_len > 0 && (RAND_bytes(nonce, (int)nonce_len) != 1 ||
                          OCSP_request_add1_nonce(req, nonce, (int)nonce_len) != 1)) {
        cg_set_err(err, "cannot add a nonce to the OCSP request");
        goto out;
    }
    n = i2d_OCSP_REQUEST(req, der);
    if (n <= 0) {
        cg_set_err(err, "cannot encode the OCSP request");
        goto out;
    }
    *len = (size_t)n;
    rc = CG_OK;
out:
    OCSP_CERTID_free(id);
    OCSP_REQUEST_free(req);
    ERR_clear_error();
    return rc;
}

char *cg_ocsp_url(X509 *cert)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    char *url = NULL;

    if (urls != NULL && sk_OPENSSL_STRING_num(urls) > 0)
        url = strdup(sk_OPENSSL_STRING_value(urls, 0));
    X509_email_free(urls);
    return url;
}

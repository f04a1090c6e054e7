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

#include "cert/der.h"
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

/* OCSP times are GeneralizedTime only (RFC 6960 4.2.1). */
static bool gen_time(const struct cg_tlv *t, time_t *out)
{
    return t->tag == 0x18 && cg_der_time(t, out);
}

/* ---- the response, as read ------------------------------------------- */

struct single {
    struct cg_tlv hash_alg_oid, name_hash, key_hash, serial;   /* serial: the INTEGER TLV */
    cg_ocsp_status_t status;
    time_t revoked_at, this_update, next_update;
    int reason;
    bool has_next, critical_unknown;
};

struct response {
    unsigned status;                 /* responseStatus */
    struct cg_tlv tbs, sig_alg, sig;    /* for the signature */
    bool by_key;                     /* responderID choice */
    struct cg_tlv responder;            /* Name TLV, or the key hash OCTET STRING value */
    time_t produced_at;
    struct single *singles;
    size_t n_singles;
    bool critical_unknown;
    struct cg_tlv nonce;                /* the nonce extension's value, len 0: none */
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
static bool read_extensions(const struct cg_tlv *outer, bool single, bool *critical_unknown,
                            struct cg_tlv *nonce, bool *has_nonce)
{
    struct cg_der d = cg_der_in(outer), seq;
    struct cg_tlv list, ext, oid, v;

    if (!cg_der_expect(&d, 0x30, &list) || !cg_der_done(&d) || list.len == 0)
        return false;
    seq = cg_der_in(&list);
    while (!cg_der_done(&seq)) {
        struct cg_der e;
        bool critical = false, known;
        if (!cg_der_expect(&seq, 0x30, &ext))
            return false;
        e = cg_der_in(&ext);
        if (!cg_der_expect(&e, 0x06, &oid))
            return false;
        if (cg_der_peek(&e, 0x01)) {
            if (!cg_der_next(&e, &v) || v.len != 1 || (v.val[0] != 0 && v.val[0] != 0xff))
                return false;
            critical = v.val[0] == 0xff;
        }
        if (!cg_der_expect(&e, 0x04, &v) || !cg_der_done(&e))
            return false;
        if (single)
            known = cg_tlv_eq(&oid, OID_CT_SCTS, sizeof(OID_CT_SCTS)) ||
                    cg_tlv_eq(&oid, OID_INVALIDITY_DATE, sizeof(OID_INVALIDITY_DATE)) ||
                    cg_tlv_eq(&oid, OID_OCSP_CRLID, sizeof(OID_OCSP_CRLID)) ||
                    cg_tlv_eq(&oid, OID_OCSP_ARCHIVE, sizeof(OID_OCSP_ARCHIVE)) ||
                    cg_tlv_eq(&oid, OID_CRL_REASON, sizeof(OID_CRL_REASON));
        else
            known = cg_tlv_eq(&oid, OID_OCSP_NONCE, sizeof(OID_OCSP_NONCE));
        if (!single && cg_tlv_eq(&oid, OID_OCSP_NONCE, sizeof(OID_OCSP_NONCE))) {
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
static bool read_single(const struct cg_tlv *t, struct single *s)
{
    struct cg_der d = cg_der_in(t), c;
    struct cg_tlv certid, alg, oid, st, tm, x;

    memset(s, 0, sizeof(*s));
    s->reason = -1;
    if (!cg_der_expect(&d, 0x30, &certid))
        return false;
    c = cg_der_in(&certid);
    if (!cg_der_expect(&c, 0x30, &alg) || !cg_der_expect(&c, 0x04, &s->name_hash) ||
        !cg_der_expect(&c, 0x04, &s->key_hash) || !cg_der_expect(&c, 0x02, &s->serial) ||
        !cg_der_done(&c) || s->serial.len == 0)
        return false;
    c = cg_der_in(&alg);
    if (!cg_der_expect(&c, 0x06, &oid))
        return false;
    s->hash_alg_oid = oid;
    if (!cg_der_done(&c) && (!cg_der_expect(&c, 0x05, &x) || x.len != 0 || !cg_der_done(&c)))
        return false;
    if (!cg_der_next(&d, &st))
        return false;
    switch (st.tag) {
    case 0x80:   /* good [0] IMPLICIT NULL */
        if (st.len != 0)
            return false;
        s->status = CG_OCSP_GOOD;
        break;
    case 0xa1: { /* revoked [1] IMPLICIT RevokedInfo */
        struct cg_der r = cg_der_in(&st);
        s->status = CG_OCSP_REVOKED;
        if (!cg_der_next(&r, &tm) || !gen_time(&tm, &s->revoked_at))
            return false;
        if (!cg_der_done(&r)) {
            struct cg_tlv wrap, e;
            struct cg_der w;
            if (!cg_der_expect(&r, 0xa0, &wrap) || !cg_der_done(&r))
                return false;
            w = cg_der_in(&wrap);
            if (!cg_der_expect(&w, 0x0a, &e) || !cg_der_done(&w) || e.len != 1 || e.val[0] > 10 ||
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
    if (!cg_der_next(&d, &tm) || !gen_time(&tm, &s->this_update))
        return false;
    if (cg_der_peek(&d, 0xa0)) {
        struct cg_der w;
        if (!cg_der_next(&d, &x))
            return false;
        w = cg_der_in(&x);
        if (!cg_der_next(&w, &tm) || !gen_time(&tm, &s->next_update) || !cg_der_done(&w))
            return false;
        s->has_next = true;
    }
    if (cg_der_peek(&d, 0xa1)) {
        struct cg_tlv dummy;
        bool dummy_has = false;
        if (!cg_der_next(&d, &x) || !read_extensions(&x, true, &s->critical_unknown, &dummy,
                                                  &dummy_has))
            return false;
    }
    return cg_der_done(&d);
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
    struct cg_der d = {der, der + len}, o, b, rd;
    struct cg_tlv outer, st, rb_wrap, rb, type, octets, basic, x, list, one;

    memset(r, 0, sizeof(*r));
    *status_only = false;
    if (!cg_der_expect(&d, 0x30, &outer) || !cg_der_done(&d))
        return false;
    o = cg_der_in(&outer);
    if (!cg_der_expect(&o, 0x0a, &st) || st.len != 1)
        return false;
    r->status = st.val[0];
    /* 0..6 minus 4 (unused) are the defined statuses */
    if (r->status > 6 || r->status == 4)
        return false;
    if (r->status != 0) {
        *status_only = true;
        return cg_der_done(&o);   /* an error status carries no responseBytes */
    }
    if (!cg_der_expect(&o, 0xa0, &rb_wrap) || !cg_der_done(&o))
        return false;
    o = cg_der_in(&rb_wrap);
    if (!cg_der_expect(&o, 0x30, &rb) || !cg_der_done(&o))
        return false;
    o = cg_der_in(&rb);
    if (!cg_der_expect(&o, 0x06, &type) || !cg_tlv_eq(&type, OID_OCSP_BASIC, sizeof(OID_OCSP_BASIC)) ||
        !cg_der_expect(&o, 0x04, &octets) || !cg_der_done(&o))
        return false;

    /* BasicOCSPResponse */
    o = cg_der_in(&octets);
    if (!cg_der_expect(&o, 0x30, &basic) || !cg_der_done(&o))
        return false;
    b = cg_der_in(&basic);
    if (!cg_der_expect(&b, 0x30, &r->tbs) || !cg_der_expect(&b, 0x30, &r->sig_alg) ||
        !cg_der_expect(&b, 0x03, &r->sig))
        return false;
    if (!cg_der_done(&b)) {
        struct cg_der c;
        if (!cg_der_expect(&b, 0xa0, &x) || !cg_der_done(&b))
            return false;
        c = cg_der_in(&x);
        if (!cg_der_expect(&c, 0x30, &list) || !cg_der_done(&c))
            return false;
        c = cg_der_in(&list);
        r->certs = sk_X509_new_null();
        if (r->certs == NULL)
            return false;
        while (!cg_der_done(&c)) {
            const unsigned char *p;
            X509 *cert;
            if (!cg_der_expect(&c, 0x30, &one) || sk_X509_num(r->certs) >= OCSP_MAX_CERTS)
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
    rd = cg_der_in(&r->tbs);
    if (cg_der_peek(&rd, 0xa0)) {   /* version [0] EXPLICIT, only v1 (0) exists */
        struct cg_der v;
        struct cg_tlv i;
        if (!cg_der_next(&rd, &x))
            return false;
        v = cg_der_in(&x);
        if (!cg_der_expect(&v, 0x02, &i) || !cg_der_done(&v) || i.len != 1 || i.val[0] != 0)
            return false;
    }
    if (!cg_der_next(&rd, &x))
        return false;
    if (x.tag == 0xa1) {          /* byName [1] Name */
        struct cg_der n = cg_der_in(&x);
        if (!cg_der_expect(&n, 0x30, &r->responder) || !cg_der_done(&n))
            return false;
    } else if (x.tag == 0xa2) {   /* byKey [2] KeyHash (OCTET STRING, SHA-1) */
        struct cg_der n = cg_der_in(&x);
        if (!cg_der_expect(&n, 0x04, &r->responder) || !cg_der_done(&n) || r->responder.len != 20)
            return false;
        r->by_key = true;
    } else {
        return false;
    }
    if (!cg_der_next(&rd, &x) || !gen_time(&x, &r->produced_at))
        return false;
    if (!cg_der_expect(&rd, 0x30, &list))
        return false;
    {
        struct cg_der s = cg_der_in(&list);
        while (!cg_der_done(&s)) {
            struct single *grown;
            if (!cg_der_expect(&s, 0x30, &one) || r->n_singles >= OCSP_MAX_SINGLES)
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
    if (cg_der_peek(&rd, 0xa1)) {
        if (!cg_der_next(&rd, &x) ||
            !read_extensions(&x, false, &r->critical_unknown, &r->nonce, &r->has_nonce))
            return false;
    }
    return cg_der_done(&rd);
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
        (!r.has_nonce || !cg_tlv_eq(&r.nonce, params->nonce, params->nonce_len))) {
        /* the nonce extension's value is an OCTET STRING wrapping the nonce;
         * accept both that and the bare value (responders differ) */
        struct cg_der n = cg_der_in(&r.nonce);
        struct cg_tlv inner;
        if (!r.has_nonce || !cg_der_expect(&n, 0x04, &inner) || !cg_der_done(&n) ||
            !cg_tlv_eq(&inner, params->nonce, params->nonce_len)) {
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
        else if (s->this_update > at + params->clock_skew)
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

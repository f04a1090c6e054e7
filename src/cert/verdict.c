/*
 * verdict.c: the verdict engine. OpenSSL builds and validates the path
 * (X509_verify_cert with the trust's X509_STORE); a verify callback records
 * every (error, depth, certificate) and lets verification continue, so that
 * all problems are known, not only the first. This file then turns those
 * records into the path report, the headline reason and the remedies.
 *
 * Where OpenSSL's path building gives up too early (it never backtracks: a
 * first issuer candidate that fails is not replaced by the next one, as in a
 * key rollover), the engine re-runs the verification with the failing
 * candidates excluded, within a small budget, and keeps the first path that
 * is accepted.
 */
#include "cert/verdict.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "cert/trust_internal.h"
#include "cert/x509_errors.h"
#include "core/common.h"

/* Extra verifications allowed when looking for another path. */
#define CG_VERDICT_MAX_RETRIES 8
/* Recorded errors per verification; OpenSSL reports a few per element. */
#define CG_VERDICT_MAX_RECORDS 256
/* Default maximum chain depth (intermediates), as OpenSSL's default is 100. */
#define CG_VERDICT_DEFAULT_DEPTH 10

/* ---- small helpers ----------------------------------------------------- */

const char *cg_source_slug(cg_source_t s)
{
    switch (s) {
    case CG_SOURCE_CLIENT: return "client";
    case CG_SOURCE_INTERMEDIATE_STORE: return "intermediate-store";
    case CG_SOURCE_ROOT_STORE: return "root-store";
    case CG_SOURCE_MISSING: return "missing";
    }
    return "client";
}

void cg_policy_init(struct cg_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->purpose = CG_PURPOSE_CLIENT;
    p->revocation = CG_REVOCATION_OFF;
    p->scope = CG_SCOPE_CHAIN;
    p->on_unknown = CG_ON_UNKNOWN_DENY;
}

static char *xasprintf(const char *fmt, ...) CG_PRINTF(1, 2);
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* RFC 2253, UTF-8 kept, control characters (an embedded NUL) escaped. */
static char *name_text(const X509_NAME *name)
{
    BIO *b = BIO_new(BIO_s_mem());
    unsigned long flags = (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_ESC_CTRL;
    char *data = NULL, *out = NULL;
    long len;

    if (b == NULL)
        return NULL;
    if (name != NULL && X509_NAME_print_ex(b, name, 0, flags) < 0)
        goto out;
    len = BIO_get_mem_data(b, &data);
    out = malloc((size_t)len + 1);
    if (out == NULL)
        goto out;
    if (len > 0)
        memcpy(out, data, (size_t)len);
    out[len] = '\0';
out:
    BIO_free(b);
    return out;
}

static void time_text(const ASN1_TIME *t, char out[32])
{
    struct tm tm;

    out[0] = '\0';
    if (t != NULL && ASN1_TIME_to_tm(t, &tm) == 1)
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *serial_text(X509 *x)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    char *out = hex ? strdup(hex) : strdup("");

    OPENSSL_free(hex);
    BN_free(bn);
    return out;
}

static void hex_text(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool is_self_signed(X509 *x)
{
    return (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
}

static bool same_cert(X509 *a, X509 *b)
{
    return a == b || X509_cmp(a, b) == 0;
}

static bool stack_has(STACK_OF(X509) *sk, X509 *x)
{
    for (int i = 0; i < sk_X509_num(sk); i++) {
        if (same_cert(sk_X509_value(sk, i), x))
            return true;
    }
    return false;
}

/* ---- one verification ------------------------------------------------ */

struct record {
    int err, depth;
};

struct judge;

struct run {
    const struct judge *judge;   /* what this verification is for (borrowed) */
    STACK_OF(X509) *chain;   /* as built, leaf first; owned */
    struct record recs[CG_VERDICT_MAX_RECORDS];
    size_t n_recs;
    int setup_error;         /* an X509_V_ERR_* raised before verification ran */
};

/* Everything fixed for one judgement. */
struct judge {
    X509 *leaf;
    STACK_OF(X509) *client;       /* what the client sent (borrowed; may be NULL) */
    STACK_OF(X509) *untrusted;    /* client chain + intermediate store */
    STACK_OF(X509_CRL) *crls;     /* usable at this time */
    const struct cg_trust *trust;
    const struct cg_policy *policy;
    time_t at;
    STACK_OF(ASN1_OBJECT) *policy_oids;
    int retries;
};

static void add_record(struct run *r, int err, int depth);

/*
 * Whether the CRL OpenSSL found not yet valid has its thisUpdate within the
 * policy's clock_skew of the verification time: the CA's clock runs a little
 * ahead of ours, and the CRL is taken as if valid (its entries are read all
 * the same: OpenSSL goes on to check the certificate against it).
 */
static bool crl_within_skew(const struct judge *j, X509_STORE_CTX *ctx)
{
    X509_CRL *crl = X509_STORE_CTX_get0_current_crl(ctx);
    time_t latest;

    if (j->policy->clock_skew <= 0 || crl == NULL)
        return false;
    if (j->at > (time_t)(LONG_MAX - j->policy->clock_skew))
        return false;
    latest = j->at + (time_t)j->policy->clock_skew;
    /* thisUpdate <= latest ("equal" counts as before, as in X509_cmp_time) */
    return X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &latest) < 0;
}

/* Records and continues: the verdict is decided afterwards, on everything. */
static int record_cb(int ok, X509_STORE_CTX *ctx)
{
    struct run *r = X509_STORE_CTX_get_app_data(ctx);
    int err = X509_STORE_CTX_get_error(ctx), depth = X509_STORE_CTX_get_error_depth(ctx);

    if (ok)
        return 1;
    /* A nested verification (the path of a CRL's signer) has no recorder:
     * let OpenSSL's own answer stand, so that a bad CRL path fails the CRL. */
    if (r == NULL)
        return 0;
    if (err == X509_V_ERR_CRL_NOT_YET_VALID && crl_within_skew(r->judge, ctx))
        return 1;
    add_record(r, err, depth);
    return 1;
}

static void run_clear(struct run *r)
{
    sk_X509_pop_free(r->chain, X509_free);
    r->chain = NULL;
    r->n_recs = 0;
    r->setup_error = 0;
}

static unsigned long verify_flags(const struct judge *j)
{
    const struct cg_policy *p = j->policy;
    unsigned long f = X509_V_FLAG_PARTIAL_CHAIN;

    if (p->revocation == CG_REVOCATION_CRL) {
        f |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
        if (p->scope == CG_SCOPE_CHAIN)
            f |= X509_V_FLAG_CRL_CHECK_ALL;
    }
    if (j->policy_oids != NULL || p->explicit_policy || p->inhibit_policy_mapping ||
        p->inhibit_any_policy)
        f |= X509_V_FLAG_POLICY_CHECK;
    if (p->explicit_policy)
        f |= X509_V_FLAG_EXPLICIT_POLICY;
    if (p->inhibit_policy_mapping)
        f |= X509_V_FLAG_INHIBIT_MAP;
    if (p->inhibit_any_policy)
        f |= X509_V_FLAG_INHIBIT_ANY;
    return f;
}

/* Copies `from` without the certificates in `excl`. */
static STACK_OF(X509) *without(STACK_OF(X509) *from, STACK_OF(X509) *excl)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    for (int i = 0; sk != NULL && i < sk_X509_num(from); i++) {
        X509 *x = sk_X509_value(from, i);
        if (excl != NULL && stack_has(excl, x))
            continue;
        if (!sk_X509_push(sk, x)) {
            sk_X509_free(sk);
            return NULL;
        }
    }
    return sk;
}

static bool excludes_a_root(const struct judge *j, STACK_OF(X509) *excl)
{
    for (int i = 0; i < sk_X509_num(excl); i++) {
        if (stack_has(j->trust->roots, sk_X509_value(excl, i)))
            return true;
    }
    return false;
}

static void add_record(struct run *r, int err, int depth)
{
    for (size_t i = 0; i < r->n_recs; i++) {
        if (r->recs[i].err == err && r->recs[i].depth == depth)
            return;
    }
    if (r->n_recs < CG_VERDICT_MAX_RECORDS)
        r->recs[r->n_recs++] = (struct record){.err = err, .depth = depth};
}

/* The EKU bits x must carry for the policy's purpose. */
static uint32_t purpose_xku(const struct cg_policy *p)
{
    return p->purpose == CG_PURPOSE_SERVER ? XKU_SSL_SERVER : XKU_SSL_CLIENT;
}

/* The strict EKU modes, which OpenSSL has no flag for. */
static void check_strict_eku(const struct judge *j, struct run *r)
{
    int n = sk_X509_num(r->chain), last;

    if (j->policy->eku_mode == CG_EKU_LENIENT || j->policy->purpose == CG_PURPOSE_ANY)
        return;
    /* The anchor's own EKU is a constraint of the anchor, checked or not with those. */
    last = j->policy->eku_mode == CG_EKU_STRICT ? n - 2 : 0;
    for (int d = 0; d <= last && d < n; d++) {
        X509 *x = sk_X509_value(r->chain, d);
        uint32_t xku = X509_get_extended_key_usage(x);
        bool has_eku = (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) != 0;
        bool bad = !has_eku || !(xku & purpose_xku(j->policy));
        if (d == 0 && (xku & (XKU_CODE_SIGN | XKU_OCSP_SIGN | XKU_TIMESTAMP)) && has_eku)
            bad = true;
        if (bad)
            add_record(r, X509_V_ERR_INVALID_PURPOSE, d);
    }
}

/* One X509_verify_cert, with the certificates in `excl` kept out of reach. */
static int run_verify(const struct judge *j, STACK_OF(X509) *excl, struct run *r)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = NULL, *roots = NULL;
    X509_VERIFY_PARAM *param;
    int rc = CG_ERR;

    memset(r, 0, sizeof(*r));
    r->judge = j;
    untrusted = without(j->untrusted, excl);
    if (ctx == NULL || untrusted == NULL)
        goto out;
    if (!X509_STORE_CTX_init(ctx, j->trust->store, j->leaf, untrusted))
        goto out;
    if (excl != NULL && excludes_a_root(j, excl)) {
        roots = without(j->trust->roots, excl);
        if (roots == NULL)
            goto out;
        X509_STORE_CTX_set0_trusted_stack(ctx, roots);
    }
    X509_STORE_CTX_set_app_data(ctx, r);
    X509_STORE_CTX_set_verify_cb(ctx, record_cb);
    X509_STORE_CTX_set0_crls(ctx, j->crls);
    if (j->policy->purpose != CG_PURPOSE_ANY &&
        !X509_STORE_CTX_set_purpose(ctx, j->policy->purpose == CG_PURPOSE_SERVER
                                             ? X509_PURPOSE_SSL_SERVER
                                             : X509_PURPOSE_SSL_CLIENT))
        goto out;
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, j->at);
    X509_VERIFY_PARAM_set_flags(param, verify_flags(j));
    X509_VERIFY_PARAM_set_depth(param, j->policy->max_depth > 0 ? j->policy->max_depth
                                                                : CG_VERDICT_DEFAULT_DEPTH);
    /* 80 bits of security at least: refuses MD5 and SHA-1 signatures and
     * keys under 1024 bits, keeps the 1024-bit CAs still found in the wild. */
    X509_VERIFY_PARAM_set_auth_level(param, 1);
    if (j->policy_oids != NULL) {
        /* set1 copies: the judge keeps its own stack for the next run */
        if (!X509_VERIFY_PARAM_set1_policies(param, j->policy_oids))
            goto out;
    }
    if (X509_verify_cert(ctx) < 0 && r->n_recs == 0)
        r->setup_error = X509_STORE_CTX_get_error(ctx) ? X509_STORE_CTX_get_error(ctx)
                                                         : X509_V_ERR_UNSPECIFIED;
    r->chain = X509_STORE_CTX_get1_chain(ctx);
    if (r->chain != NULL)
        check_strict_eku(j, r);
    if (r->chain == NULL) {
        r->chain = sk_X509_new_null();
        if (r->chain == NULL || !X509_up_ref(j->leaf))
            goto out;
        if (!sk_X509_push(r->chain, j->leaf)) {
            X509_free(j->leaf);
            goto out;
        }
    }
    rc = CG_OK;
out:
    X509_STORE_CTX_free(ctx);
    sk_X509_free(untrusted);
    sk_X509_free(roots);
    return rc;
}

/* ---- judging the records ----------------------------------------------- */

static int top_depth(const struct run *r)
{
    return sk_X509_num(r->chain) - 1;
}

/* Whether the top of the built chain is a trust anchor from the root store. */
static bool run_anchored(const struct judge *j, const struct run *r)
{
    unsigned char d[CG_SHA256_LEN];
    X509 *top = sk_X509_value(r->chain, top_depth(r));
    return top != NULL && cg_cert_sha256(top, d) && cg_digest_set_has(&j->trust->root_set, d);
}

/* Errors that the anchor's own certificate raises and RFC 5280 anchors skip. */
static bool anchor_exempt(const struct cg_policy *p, int err)
{
    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return p->anchor_skip_validity;
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_INVALID_NON_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_INVALID_EXTENSION:
        return p->anchor_skip_constraints;
    default:
        return false;
    }
}

/* Microsoft's application-policies extension, which AD CS marks critical
 * and which mirrors the EKU: understood when an EKU is present too. */
static bool only_known_critical(X509 *x)
{
    static const char ms_app_policies[] = "1.3.6.1.4.1.311.21.10";
    bool has_eku = (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) != 0;

    for (int i = 0; i < X509_get_ext_count(x); i++) {
        X509_EXTENSION *e = X509_get_ext(x, i);
        char oid[64];
        if (!X509_EXTENSION_get_critical(e) || X509_supported_extension(e))
            continue;
        if (OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(e), 1) <= 0 ||
            strcmp(oid, ms_app_policies) != 0 || !has_eku)
            return false;
    }
    return true;
}

/* anyExtendedKeyUsage: RFC 5280 lets it satisfy any purpose; OpenSSL does not. */
static bool any_eku(X509 *x)
{
    return (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
           (X509_get_extended_key_usage(x) & XKU_ANYEKU);
}

enum weight { W_IGNORE, W_ADVISORY, W_BLOCKING };

static enum weight record_weight(const struct judge *j, const struct run *r, bool anchored,
                                 const struct record *rec)
{
    bool at_anchor = anchored && rec->depth == top_depth(r);
    X509 *x = sk_X509_value(r->chain, rec->depth);

    if (at_anchor && anchor_exempt(j->policy, rec->err))
        return W_IGNORE;
    if (x != NULL && rec->err == X509_V_ERR_INVALID_PURPOSE &&
        j->policy->eku_mode == CG_EKU_LENIENT && any_eku(x))
        return W_IGNORE;
    if (x != NULL && rec->err == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION && only_known_critical(x))
        return W_IGNORE;
    if (rec->err == X509_V_ERR_CA_MD_TOO_WEAK && j->policy->allow_sha1)
        return W_IGNORE;
    if (cg_x509_error_is_revocation(rec->err)) {
        /* A root is trusted by being in the store, not by a CRL of its own
         * (as Windows does); its revocation state is worth a note only. And
         * on a path that reaches no trusted root, no CRL could be trusted
         * either: the missing trust is the problem to fix, not the CRL. */
        if (at_anchor || !anchored || j->policy->on_unknown == CG_ON_UNKNOWN_ALLOW)
            return W_ADVISORY;
    }
    return W_BLOCKING;
}

static bool chain_distrusted(const struct judge *j, const struct run *r)
{
    unsigned char d[CG_SHA256_LEN];

    if (j->trust->disallowed_set.n == 0)
        return false;
    for (int i = 0; i < sk_X509_num(r->chain); i++) {
        if (cg_cert_sha256(sk_X509_value(r->chain, i), d) &&
            cg_digest_set_has(&j->trust->disallowed_set, d))
            return true;
    }
    return false;
}

static bool run_accepts(const struct judge *j, const struct run *r)
{
    bool anchored = run_anchored(j, r);

    if (r->setup_error != 0 || !anchored || chain_distrusted(j, r))
        return false;
    for (size_t i = 0; i < r->n_recs; i++) {
        if (record_weight(j, r, anchored, &r->recs[i]) == W_BLOCKING)
            return false;
    }
    return true;
}

/* Worth looking for another path: something above the leaf went wrong. */
static bool run_retry_worthy(const struct judge *j, const struct run *r)
{
    bool anchored = run_anchored(j, r);

    if (sk_X509_num(r->chain) < 2 && sk_X509_num(j->untrusted) == 0)
        return false;
    if (!anchored)
        return true;
    for (size_t i = 0; i < r->n_recs; i++) {
        const struct record *rec = &r->recs[i];
        cg_reason_t why = cg_x509_error_reason(rec->err);
        if (record_weight(j, r, anchored, rec) != W_BLOCKING || why == CG_REASON_REVOKED)
            continue;
        if (rec->depth > 0 || why == CG_REASON_BAD_SIGNATURE)
            return true;
    }
    return false;
}

static bool same_chain(const struct run *a, const struct run *b)
{
    if (sk_X509_num(a->chain) != sk_X509_num(b->chain))
        return false;
    for (int i = 0; i < sk_X509_num(a->chain); i++) {
        if (!same_cert(sk_X509_value(a->chain, i), sk_X509_value(b->chain, i)))
            return false;
    }
    return true;
}

/*
 * Depth-first search over "exclude one more issuer candidate of the path that
 * failed". Returns true with *found filled when an accepted path turns up.
 */
static bool explore(struct judge *j, const struct run *cur, STACK_OF(X509) *excl,
                    struct run *found)
{
    for (int i = 1; i < sk_X509_num(cur->chain); i++) {
        X509 *c = sk_X509_value(cur->chain, i);
        struct run *next;
        bool ok = false;

        if (stack_has(excl, c))
            continue;
        if (j->retries >= CG_VERDICT_MAX_RETRIES)
            return false;
        j->retries++;
        next = calloc(1, sizeof(*next));
        if (next == NULL || !sk_X509_push(excl, c)) {
            free(next);
            return false;
        }
        if (run_verify(j, excl, next) == CG_OK) {
            if (run_accepts(j, next)) {
                *found = *next;
                next->chain = NULL;
                ok = true;
            } else if (!same_chain(cur, next) && sk_X509_num(next->chain) > 1) {
                ok = explore(j, next, excl, found);
            }
        }
        run_clear(next);
        free(next);
        (void)sk_X509_pop(excl);
        if (ok)
            return true;
    }
    return false;
}

/* ---- the report -------------------------------------------------------- */

static int add_problem(struct cg_path_element *e, cg_reason_t reason, int x509_error,
                       bool advisory, char *text)
{
    struct cg_problem *p;

    if (text == NULL)
        return CG_ERR;
    for (size_t i = 0; i < e->n_problems; i++) {
        if (e->problems[i].reason == reason && e->problems[i].x509_error == x509_error) {
            free(text);
            return CG_OK;
        }
    }
    p = realloc(e->problems, (e->n_problems + 1) * sizeof(*p));
    if (p == NULL) {
        free(text);
        return CG_ERR;
    }
    e->problems = p;
    e->problems[e->n_problems++] =
        (struct cg_problem){.reason = reason, .x509_error = x509_error, .text = text,
                            .advisory = advisory};
    return CG_OK;
}

static int add_remedy(struct cg_verdict *v, char *text)
{
    char **p;

    if (text == NULL)
        return CG_ERR;
    for (size_t i = 0; i < v->n_remedy; i++) {
        if (strcmp(v->remedy[i], text) == 0) {
            free(text);
            return CG_OK;
        }
    }
    p = realloc(v->remedy, (v->n_remedy + 1) * sizeof(*p));
    if (p == NULL) {
        free(text);
        return CG_ERR;
    }
    v->remedy = p;
    v->remedy[v->n_remedy++] = text;
    return CG_OK;
}

static int fill_element(struct cg_path_element *e, X509 *x, cg_source_t source)
{
    unsigned char d[CG_SHA256_LEN];

    if (!X509_up_ref(x))
        return CG_ERR;
    e->cert = x;
    e->source = source;
    e->subject = name_text(X509_get_subject_name(x));
    e->issuer = name_text(X509_get_issuer_name(x));
    e->serial = serial_text(x);
    time_text(X509_get0_notBefore(x), e->not_before);
    time_text(X509_get0_notAfter(x), e->not_after);
    if (cg_cert_sha256(x, d))
        hex_text(d, CG_SHA256_LEN, e->sha256);
    return e->subject && e->issuer && e->serial ? CG_OK : CG_ERR;
}

static cg_source_t source_of(const struct judge *j, X509 *x, int depth, int top)
{
    unsigned char d[CG_SHA256_LEN];

    if (!cg_cert_sha256(x, d))
        return CG_SOURCE_CLIENT;
    if (depth == top && depth > 0 && cg_digest_set_has(&j->trust->root_set, d))
        return CG_SOURCE_ROOT_STORE;
    if (depth == 0 || (j->client != NULL && stack_has(j->client, x)))
        return CG_SOURCE_CLIENT;
    if (cg_digest_set_has(&j->trust->intermediate_set, d))
        return CG_SOURCE_INTERMEDIATE_STORE;
    if (cg_digest_set_has(&j->trust->root_set, d))
        return CG_SOURCE_ROOT_STORE;
    return CG_SOURCE_CLIENT;
}

/* The CRLs a certificate's issuer published that the engine set aside. */
static const char *crl_aside_note(const struct judge *j, X509 *x)
{
    const X509_NAME *issuer = X509_get_issuer_name(x);
    STACK_OF(X509_CRL) *bad = j->trust->bad_crls;

    for (int i = 0; i < sk_X509_CRL_num(bad); i++) {
        if (X509_NAME_cmp(X509_CRL_get_issuer(sk_X509_CRL_value(bad, i)), issuer) == 0)
            return " (a CRL from its issuer is in the stores but malformed, so it is not used)";
    }
    if (j->policy->max_crl_age > 0) {
        for (int i = 0; i < sk_X509_CRL_num(j->trust->crls); i++) {
            X509_CRL *c = sk_X509_CRL_value(j->trust->crls, i);
            if (X509_NAME_cmp(X509_CRL_get_issuer(c), issuer) == 0 &&
                sk_X509_CRL_find(j->crls, c) < 0)
                return " (the CRL from its issuer is older than the maximum CRL age)";
        }
    }
    return "";
}

/* The revocation date of x in the usable CRLs, for the problem sentence. */
static void revocation_date(const struct judge *j, X509 *x, char out[32])
{
    out[0] = '\0';
    for (int i = 0; i < sk_X509_CRL_num(j->crls); i++) {
        X509_REVOKED *rev = NULL;
        if (X509_CRL_get0_by_cert(sk_X509_CRL_value(j->crls, i), &rev, x) == 1 && rev) {
            time_text(X509_REVOKED_get0_revocationDate(rev), out);
            return;
        }
    }
}

static char *problem_text(const struct judge *j, const struct cg_path_element *e,
                          int err, bool advisory)
{
    const char *tail = !advisory ? ""
                       : j->policy->on_unknown == CG_ON_UNKNOWN_ALLOW
                           ? " This is allowed by the policy (on_unknown: allow)."
                           : " This does not count on its own: see the other problems.";
    char date[32];

    switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return xasprintf("The certificate '%s' expired on %s.", e->subject, e->not_after);
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return xasprintf("The certificate '%s' is not valid before %s.", e->subject,
                         e->not_before);
    case X509_V_ERR_CERT_REVOKED:
        revocation_date(j, e->cert, date);
        return date[0] ? xasprintf("The certificate '%s' was revoked by its issuer on %s.",
                                   e->subject, date)
                       : xasprintf("The certificate '%s' was revoked by its issuer.",
                                   e->subject);
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return xasprintf("The root CA '%s' is not in the Trusted Root store.", e->subject);
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        return xasprintf("The certificate '%s' has no CRL from its issuer, so its revocation "
                         "status is unknown%s.%s",
                         e->subject, crl_aside_note(j, e->cert), tail);
    default:
        return xasprintf("The certificate '%s' %s.%s", e->subject, cg_x509_error_phrase(err),
                         cg_x509_error_is_revocation(err) ? tail : "");
    }
}

/* Ranks within the 403.16 family, for a stable headline among equals. */
static int family_order(cg_reason_t r)
{
    static const cg_reason_t order[] = {
        CG_REASON_DISTRUSTED,       CG_REASON_UNTRUSTED_ROOT, CG_REASON_INCOMPLETE_CHAIN,
        CG_REASON_BAD_SIGNATURE,    CG_REASON_WRONG_USAGE,    CG_REASON_CONSTRAINT_VIOLATION,
        CG_REASON_REVOCATION_UNKNOWN, CG_REASON_INVALID,
    };
    for (size_t i = 0; i < CG_ARRAY_LEN(order); i++) {
        if (order[i] == r)
            return (int)(CG_ARRAY_LEN(order) - i);
    }
    return 0;
}

static bool outranks(cg_reason_t a, cg_reason_t b)
{
    if (cg_reason_rank(a) != cg_reason_rank(b))
        return cg_reason_rank(a) > cg_reason_rank(b);
    return family_order(a) > family_order(b);
}

/* The file x came from, and whether that file holds x alone. */
static const char *origin_file(const struct cg_cert_origin *o, size_t n, X509 *x, bool *alone)
{
    const char *file = NULL;
    size_t count = 0;

    for (size_t i = 0; i < n; i++) {
        if (o[i].cert != NULL && o[i].file != NULL && same_cert(o[i].cert, x))
            file = o[i].file;
    }
    for (size_t i = 0; file != NULL && i < n; i++)
        count += o[i].file != NULL && strcmp(o[i].file, file) == 0;
    *alone = count == 1;
    return file;
}

static void colon_hex(const char *hex, char *out)
{
    size_t n = strlen(hex) / 2, k = 0;
    for (size_t i = 0; i < n; i++) {
        out[k++] = (char)(hex[2 * i] >= 'a' ? hex[2 * i] - 32 : hex[2 * i]);
        out[k++] = (char)(hex[2 * i + 1] >= 'a' ? hex[2 * i + 1] - 32 : hex[2 * i + 1]);
        if (i + 1 < n)
            out[k++] = ':';
    }
    out[k] = '\0';
}

static int add_remedies(const struct judge *j, struct cg_verdict *v,
                        const struct cg_cert_origin *origins, size_t n_origins)
{
    const char *dir = j->trust->dir;
    char *stores = dir ? xasprintf(" --stores %s", dir) : strdup("");
    int rc = CG_ERR;

    if (stores == NULL)
        return CG_ERR;
    /* Root first: the fix nearest the root usually matters most. */
    for (size_t i = v->path_len; i-- > 0;) {
        struct cg_path_element *e = &v->path[i];

        /* A CA in the wrong store: the mistake the IIS article warns about. */
        if (dir != NULL && e->cert != NULL && e->source == CG_SOURCE_ROOT_STORE &&
            !is_self_signed(e->cert) &&
            add_remedy(v, xasprintf("'%s' sits in %s/root but is not self-signed: it belongs "
                                    "in intermediate/. Move it: certgate store import "
                                    "%s/root/%s.pem --to intermediate%s && certgate store "
                                    "remove %s --from root%s",
                                    e->subject, dir, dir, e->sha256, stores, e->sha256,
                                    stores)) != CG_OK)
            goto out;
        for (size_t k = 0; k < e->n_problems; k++) {
            const struct cg_problem *p = &e->problems[k];
            char *r = NULL;
            if (p->advisory)
                continue;
            switch (p->reason) {
            case CG_REASON_UNTRUSTED_ROOT: {
                char colon[3 * CG_SHA256_LEN + 1];
                bool alone = false;
                const char *file =
                    e->cert ? origin_file(origins, n_origins, e->cert, &alone) : NULL;
                char *save = file != NULL && !alone
                                 ? xasprintf("save it from %s (which holds other certificates "
                                             "too) alone as ROOT.pem and ",
                                             file)
                                 : strdup("");
                if (save == NULL)
                    goto out;
                colon_hex(e->sha256, colon);
                if (e->source == CG_SOURCE_INTERMEDIATE_STORE && dir != NULL)
                    r = xasprintf("The root CA '%s' sits in %s/intermediate, where a root is "
                                  "not trusted. If it should be trusted, check its SHA-256 "
                                  "thumbprint %s with its owner, then move it: certgate store "
                                  "import %s/intermediate/%s.pem --to root%s && certgate store "
                                  "remove %s --from intermediate%s",
                                  e->subject, dir, colon, dir, e->sha256, stores, e->sha256,
                                  stores);
                else
                    r = xasprintf("The root CA '%s' is not trusted. Only if it should be: "
                                  "check that its SHA-256 thumbprint is %s with its owner, "
                                  "by another channel, before trusting it; then %srun: "
                                  "certgate store import %s --to root%s",
                                  e->subject, colon, save, file && alone ? file : "ROOT.pem",
                                  stores);
                free(save);
                break;
            }
            case CG_REASON_INCOMPLETE_CHAIN:
                if (e->source == CG_SOURCE_MISSING)
                    r = xasprintf("Look for the CA certificate '%s' (the issuer of '%s'): "
                                  "the client should send it, or import it: certgate store "
                                  "import INTERMEDIATE.pem --to intermediate%s",
                                  e->subject, i > 0 ? v->path[i - 1].subject : "?", stores);
                break;
            case CG_REASON_EXPIRED:
                r = xasprintf("Renew '%s' (expired on %s)%s.", e->subject, e->not_after,
                              i == 0 ? ": issue a new certificate to its holder"
                                     : ": issue a new CA certificate and distribute it");
                break;
            case CG_REASON_NOT_YET_VALID:
                r = xasprintf("'%s' is valid from %s: check the clock of this server and of "
                              "the issuing CA.", e->subject, e->not_before);
                break;
            case CG_REASON_REVOKED:
                r = xasprintf("'%s' is revoked: issue a new certificate to its holder.",
                              e->subject);
                break;
            case CG_REASON_REVOCATION_UNKNOWN:
                r = xasprintf("Import a current CRL from '%s': certgate store import "
                              "ISSUER.crl%s",
                              e->issuer, stores);
                break;
            case CG_REASON_WRONG_USAGE:
                r = xasprintf("Reissue '%s' with the key usage and extended key usage "
                              "required here (%s).",
                              e->subject,
                              j->policy->purpose == CG_PURPOSE_SERVER ? "serverAuth"
                                                                      : "clientAuth");
                break;
            case CG_REASON_DISTRUSTED:
                r = xasprintf("'%s' is explicitly distrusted (disallowed/); remove it from "
                              "there only if that was a mistake: certgate store remove %s "
                              "--from disallowed%s",
                              e->subject, e->sha256, stores);
                break;
            default:
                break;
            }
            if (r != NULL && add_remedy(v, r) != CG_OK)
                goto out;
        }
    }
    rc = CG_OK;
out:
    free(stores);
    return rc;
}

const char *cg_rev_source_slug(cg_rev_source_t s)
{
    switch (s) {
    case CG_REV_SOURCE_LOCAL_CRL: return "local-crl";
    case CG_REV_SOURCE_FETCHED_CRL: return "fetched-crl";
    case CG_REV_SOURCE_OCSP: return "ocsp";
    default: return "none";
    }
}

const char *cg_rev_status_slug(cg_rev_status_t s)
{
    return s == CG_REV_GOOD ? "good" : s == CG_REV_REVOKED ? "revoked" : "unknown";
}

const char *cg_crl_reason_slug(int reason)
{
    static const char *const names[] = {
        "unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
        "cessationOfOperation", "certificateHold", "", "removeFromCRL", "privilegeWithdrawn",
        "aACompromise",
    };
    return reason >= 0 && (size_t)reason < CG_ARRAY_LEN(names) ? names[reason] : "";
}

static void epoch_text(time_t t, char out[32])
{
    struct tm tm;
    if (t == 0 || gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "?");
}

/* The revocation hook's answers, element by element, as problems. */
static int add_hook_answers(struct judge *j, const struct run *r, struct cg_verdict *v)
{
    int n = sk_X509_num(r->chain);
    /* The root is trusted by being in the store (as for CRLs above). */
    int last = j->policy->scope == CG_SCOPE_LEAF ? 1 : n - 1;
    bool allow = j->policy->on_unknown == CG_ON_UNKNOWN_ALLOW;

    for (int d = 0; d < last && d + 1 < n; d++) {
        struct cg_path_element *e = &v->path[d];
        struct cg_revocation_info *ri = &e->revocation;
        char date[32];
        int rc = CG_OK;

        memset(ri, 0, sizeof(*ri));
        ri->reason = -1;
        if (j->policy->revocation_hook(j->policy->revocation_arg, e->cert,
                                       sk_X509_value(r->chain, d + 1), j->at, ri) != CG_OK)
            return CG_ERR;
        if (ri->status == CG_REV_REVOKED) {
            epoch_text(ri->revoked_at, date);
            rc = add_problem(e, CG_REASON_REVOKED, X509_V_ERR_CERT_REVOKED, false,
                             xasprintf("The certificate '%s' was revoked by its issuer on %s%s%s "
                                       "(%s).",
                                       e->subject, date, ri->reason >= 0 ? ", reason " : "",
                                       cg_crl_reason_slug(ri->reason),
                                       ri->source == CG_REV_SOURCE_OCSP ? "OCSP" : "CRL"));
        } else if (ri->status == CG_REV_UNKNOWN) {
            rc = add_problem(e, CG_REASON_REVOCATION_UNKNOWN, 0, allow,
                             xasprintf("The revocation status of '%s' is unknown: %s.%s",
                                       e->subject, ri->tried ? ri->tried : "no source answered",
                                       allow ? " This is allowed by the policy "
                                               "(on_unknown: allow)."
                                             : ""));
        }
        if (rc != CG_OK)
            return CG_ERR;
    }
    return CG_OK;
}

static int build_report(struct judge *j, const struct run *r, struct cg_verdict *v,
                        const struct cg_cert_origin *origins, size_t n_origins)
{
    int n = sk_X509_num(r->chain), top = n - 1;
    bool anchored = run_anchored(j, r);
    X509 *topcert = sk_X509_value(r->chain, top);
    bool missing = !anchored && !is_self_signed(topcert);
    unsigned char d[CG_SHA256_LEN];
    const struct cg_problem *head = NULL;
    cg_reason_t reason = CG_REASON_OK;

    v->path_len = (size_t)n + (missing ? 1 : 0);
    v->path = calloc(v->path_len, sizeof(*v->path));
    if (v->path == NULL)
        return CG_ERR;
    for (int i = 0; i < n; i++) {
        X509 *x = sk_X509_value(r->chain, i);
        if (fill_element(&v->path[i], x, source_of(j, x, i, top)) != CG_OK)
            return CG_ERR;
    }
    if (missing) {
        struct cg_path_element *m = &v->path[n];
        m->source = CG_SOURCE_MISSING;
        m->subject = name_text(X509_get_issuer_name(topcert));
        m->issuer = strdup("");
        m->serial = strdup("");
        if (m->subject == NULL || m->issuer == NULL || m->serial == NULL)
            return CG_ERR;
        if (add_problem(m, CG_REASON_INCOMPLETE_CHAIN, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
                        false,
                        xasprintf("The issuer '%s' of '%s' was found neither in the chain the "
                                  "client sent nor in the stores.",
                                  m->subject, v->path[top].subject)) != CG_OK)
            return CG_ERR;
    }
    if (r->setup_error != 0 &&
        add_problem(&v->path[0], cg_x509_error_reason(r->setup_error), r->setup_error, false,
                    problem_text(j, &v->path[0], r->setup_error, false)) != CG_OK)
        return CG_ERR;
    for (size_t i = 0; i < r->n_recs; i++) {
        const struct record *rec = &r->recs[i];
        enum weight w = record_weight(j, r, anchored, rec);
        int depth = rec->depth < 0 ? 0 : rec->depth > top ? top : rec->depth;
        cg_reason_t why = cg_x509_error_reason(rec->err);

        if (w == W_IGNORE)
            continue;
        /* The missing element already tells the incomplete chain. */
        if (why == CG_REASON_INCOMPLETE_CHAIN && missing)
            continue;
        if (add_problem(&v->path[depth], why, rec->err, w == W_ADVISORY,
                        problem_text(j, &v->path[depth], rec->err, w == W_ADVISORY)) != CG_OK)
            return CG_ERR;
    }
    /* Self-signed but not anchored and OpenSSL said nothing (it always does
     * today): keep the rule independent of that. */
    if (!anchored && !missing &&
        add_problem(&v->path[top], CG_REASON_UNTRUSTED_ROOT,
                    top == 0 ? X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
                             : X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
                    false, xasprintf("The root CA '%s' is not in the Trusted Root store.",
                                     v->path[top].subject)) != CG_OK)
        return CG_ERR;
    for (int i = 0; i < n; i++) {
        if (cg_cert_sha256(v->path[i].cert, d) &&
            cg_digest_set_has(&j->trust->disallowed_set, d) &&
            add_problem(&v->path[i], CG_REASON_DISTRUSTED, 0, false,
                        xasprintf("The certificate '%s' is in the disallowed store.",
                                  v->path[i].subject)) != CG_OK)
            return CG_ERR;
    }
    if (j->policy->revocation_hook != NULL && anchored && add_hook_answers(j, r, v) != CG_OK)
        return CG_ERR;
    /* Headline: highest rank; among equals, leaf first. */
    for (size_t i = 0; i < v->path_len; i++) {
        for (size_t k = 0; k < v->path[i].n_problems; k++) {
            const struct cg_problem *p = &v->path[i].problems[k];
            if (!p->advisory && (head == NULL || outranks(p->reason, reason))) {
                head = p;
                reason = p->reason;
            }
        }
    }
    v->reason = reason;
    v->detail = head ? strdup(head->text)
                     : xasprintf("The certificate '%s' is valid and chains to the trusted "
                                 "root '%s'.",
                                 v->path[0].subject, v->path[v->path_len - 1].subject);
    if (v->detail == NULL)
        return CG_ERR;
    return add_remedies(j, v, origins, n_origins);
}

/* ---- entry points ------------------------------------------------------ */

static void set_headline(struct cg_verdict *v)
{
    v->status = cg_reason_status(v->reason);
    v->substatus = cg_reason_substatus(v->reason);
    v->code = cg_reason_code(v->reason);
    v->title = cg_reason_title(v->reason);
}

static STACK_OF(X509_CRL) *usable_crls(const struct cg_trust *t, const struct cg_policy *p,
                                       time_t at)
{
    STACK_OF(X509_CRL) *sk = sk_X509_CRL_new_null();

    for (int i = 0; sk != NULL && i < sk_X509_CRL_num(t->crls); i++) {
        X509_CRL *c = sk_X509_CRL_value(t->crls, i);
        if (p->max_crl_age > 0) {
            time_t oldest = at - (time_t)p->max_crl_age;
            /* thisUpdate before `oldest`: too old to vouch for anything */
            if (X509_cmp_time(X509_CRL_get0_lastUpdate(c), &oldest) < 0)
                continue;
        }
        if (!sk_X509_CRL_push(sk, c)) {
            sk_X509_CRL_free(sk);
            return NULL;
        }
    }
    return sk;
}

static int policy_oids(const struct cg_policy *p, STACK_OF(ASN1_OBJECT) **out,
                       const char **bad)
{
    STACK_OF(ASN1_OBJECT) *sk = NULL;

    *out = NULL;
    for (size_t i = 0; i < CG_POLICY_MAX_OIDS && p->policy_oids[i] != NULL; i++) {
        ASN1_OBJECT *o = OBJ_txt2obj(p->policy_oids[i], 1);
        if (o == NULL) {
            *bad = p->policy_oids[i];
            sk_ASN1_OBJECT_pop_free(sk, ASN1_OBJECT_free);
            return CG_DECLINED;
        }
        if ((sk == NULL && (sk = sk_ASN1_OBJECT_new_null()) == NULL) ||
            !sk_ASN1_OBJECT_push(sk, o)) {
            ASN1_OBJECT_free(o);
            sk_ASN1_OBJECT_pop_free(sk, ASN1_OBJECT_free);
            return CG_ERR;
        }
    }
    *out = sk;
    return CG_OK;
}

int cg_verdict_judge(X509 *leaf, STACK_OF(X509) *chain, const struct cg_trust *trust,
                     time_t at, const struct cg_policy *policy, struct cg_verdict *out)
{
    return cg_verdict_judge_ex(leaf, chain, trust, at, policy, NULL, 0, out);
}

int cg_verdict_judge_ex(X509 *leaf, STACK_OF(X509) *chain, const struct cg_trust *trust,
                        time_t at, const struct cg_policy *policy,
                        const struct cg_cert_origin *origins, size_t n_origins,
                        struct cg_verdict *out)
{
    struct cg_policy defaults;
    struct judge j = {0};
    struct run *first = NULL, *found = NULL;
    STACK_OF(X509) *excl = NULL;
    const struct run *chosen;
    const char *bad_oid = NULL;
    int rc = CG_ERR, prc;

    memset(out, 0, sizeof(*out));
    if (policy == NULL) {
        cg_policy_init(&defaults);
        policy = &defaults;
    }
    if (leaf == NULL) {
        out->reason = CG_REASON_CERT_REQUIRED;
        set_headline(out);
        out->detail = strdup("No client certificate was presented.");
        return out->detail ? CG_OK : CG_ERR;
    }
    prc = policy_oids(policy, &j.policy_oids, &bad_oid);
    if (prc == CG_DECLINED || trust == NULL) {
        out->reason = CG_REASON_INVALID;
        set_headline(out);
        out->detail = trust == NULL
                          ? strdup("No trust stores were given.")
                          : xasprintf("The certificate policy '%s' is not an OID.", bad_oid);
        return out->detail ? CG_OK : CG_ERR;
    }
    if (prc != CG_OK)
        goto out;
    j.leaf = leaf;
    j.client = chain;
    j.trust = trust;
    j.policy = policy;
    j.at = at;
    j.crls = usable_crls(trust, policy, at);
    j.untrusted = without(chain, NULL);
    first = calloc(1, sizeof(*first));
    if (j.crls == NULL || j.untrusted == NULL || first == NULL)
        goto out;
    for (int i = 0; i < sk_X509_num(trust->intermediates); i++) {
        if (!sk_X509_push(j.untrusted, sk_X509_value(trust->intermediates, i)))
            goto out;
    }
    if (run_verify(&j, NULL, first) != CG_OK)
        goto out;
    chosen = first;
    if (!run_accepts(&j, first) && run_retry_worthy(&j, first)) {
        found = calloc(1, sizeof(*found));
        excl = sk_X509_new_null();
        if (found == NULL || excl == NULL)
            goto out;
        if (explore(&j, first, excl, found))
            chosen = found;
    }
    if (build_report(&j, chosen, out, origins, n_origins) != CG_OK)
        goto out;
    set_headline(out);
    rc = CG_OK;
out:
    if (rc != CG_OK)
        cg_verdict_free(out);
    if (first != NULL)
        run_clear(first);
    if (found != NULL)
        run_clear(found);
    free(first);
    free(found);
    sk_X509_free(excl);
    sk_X509_free(j.untrusted);
    sk_X509_CRL_free(j.crls);
    sk_ASN1_OBJECT_pop_free(j.policy_oids, ASN1_OBJECT_free);
    return rc;
}

void cg_verdict_free(struct cg_verdict *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->path_len; i++) {
        struct cg_path_element *e = &v->path[i];
        X509_free(e->cert);
        free(e->subject);
        free(e->issuer);
        free(e->serial);
        free(e->revocation.tried);
        for (size_t k = 0; k < e->n_problems; k++)
            free(e->problems[k].text);
        free(e->problems);
    }
    free(v->path);
    free(v->detail);
    for (size_t i = 0; i < v->n_remedy; i++)
        free(v->remedy[i]);
    free(v->remedy);
    memset(v, 0, sizeof(*v));
}

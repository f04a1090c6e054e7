/*
 * revocation.c: the OCSP and fetched-CRL hooks of the verdict engine.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "cert/crl_index.h"
#include "cert/ocsp.h"
#include "cert/rev_stats.h"
#include "cert/revocation.h"
#include "cert/trust_internal.h"
#include "core/common.h"
#include "core/log.h"

#define TRIED_MAX 4096   /* the "tried" line stays readable in a log */

static void note(struct cg_revocation_info *out, const char *fmt, ...) CG_PRINTF(2, 3);

/* Appends one attempt to out->tried ("; "-separated, bounded). */
static void note(struct cg_revocation_info *out, const char *fmt, ...)
{
    char buf[768];
    size_t have = out->tried ? strlen(out->tried) : 0;
    va_list ap;
    char *grown;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (have + strlen(buf) + 3 > TRIED_MAX)
        return;
    grown = realloc(out->tried, have + strlen(buf) + 3);
    if (grown == NULL)
        return;
    if (have > 0)
        memcpy(grown + have, "; ", 3), have += 2;
    memcpy(grown + have, buf, strlen(buf) + 1);
    out->tried = grown;
}

static void iso(time_t t, char out[32])
{
    struct tm tm;
    if (t == 0 || gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(out, "none");
}

static void from_ocsp(const struct cg_ocsp_result *r, struct cg_revocation_info *out)
{
    out->source = CG_REV_SOURCE_OCSP;
    out->status = r->status == CG_OCSP_GOOD      ? CG_REV_GOOD
                  : r->status == CG_OCSP_REVOKED ? CG_REV_REVOKED
                                                 : CG_REV_UNKNOWN;
    out->this_update = r->this_update;
    out->next_update = r->next_update;
    out->revoked_at = r->revoked_at;
    out->reason = r->reason;
    out->stale = r->stale;
}

int cg_revocation_offline_ocsp(void *arg, X509 *cert, X509 *issuer, time_t at,
                               struct cg_revocation_info *out)
{
    const struct cg_rev_offline_ocsp *o = arg;
    struct cg_ocsp_params p = {.at = at, .max_age = o->max_age, .stale_grace = o->stale_grace,
                               .clock_skew = o->clock_skew};
    struct cg_ocsp_result r;
    char *err = NULL, t1[32], t2[32];

    if (cg_ocsp_judge(o->der, o->len, cert, issuer, &p, &r, &err) != CG_OK) {
        out->status = CG_REV_UNKNOWN;
        note(out, "OCSP response file: unusable (%s): %s", cg_ocsp_error_slug(r.error),
             err ? err : "?");
        free(err);
        return CG_OK;
    }
    from_ocsp(&r, out);
    iso(r.this_update, t1);
    iso(r.next_update, t2);
    note(out, "OCSP response file: %s (thisUpdate %s, nextUpdate %s%s)",
         cg_ocsp_status_slug(r.status), t1, t2, r.stale ? ", stale within grace" : "");
    if (r.status == CG_OCSP_UNKNOWN)
        note(out, "the responder does not know the certificate");
    return CG_OK;
}

char *cg_revocation_ocsp_key(X509 *cert, X509 *issuer)
{
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), cert, issuer);
    ASN1_OCTET_STRING *nh = NULL, *kh = NULL;
    ASN1_INTEGER *serial = NULL;
    char *key = NULL;

    if (id != NULL && OCSP_id_get0_info(&nh, NULL, &kh, &serial, id) == 1) {
        size_t n = (size_t)(nh->length + kh->length) * 2 + 2 + 2 * 64 + 1;
        BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
        char *shex = bn ? BN_bn2hex(bn) : NULL;
        key = shex ? malloc(n + strlen(shex)) : NULL;
        if (key != NULL) {
            char *p = key;
            for (int i = 0; i < nh->length; i++)
                p += sprintf(p, "%02x", nh->data[i]);
            *p++ = '-';
            for (int i = 0; i < kh->length; i++)
                p += sprintf(p, "%02x", kh->data[i]);
            *p++ = '-';
            strcpy(p, shex);
        }
        OPENSSL_free(shex);
        BN_free(bn);
    }
    OCSP_CERTID_free(id);
    ERR_clear_error();
    return key;
}

/* ---- online ------------------------------------------------------------ */

/* What a verdict takes from an answer (cg_revcache_put_tagged): an OCSP
 * status with its revocation date; a CRL's number (its thisUpdate when it
 * has none). */
static long long ocsp_tag(const struct cg_ocsp_result *r)
{
    return (long long)r->status + 4LL * (long long)r->revoked_at;
}

static long long crl_tag(const struct cg_crl_index *ix)
{
    long long n = cg_crl_index_number(ix);
    return n >= 0 ? n : (long long)cg_crl_index_this_update(ix);
}

/* Tells the cache where an answer comes from, for its background refresh
 * (answers reloaded from disk learn it on their first read). */
static void remember_origin(const struct cg_rev_online *o, cg_revcache_kind_t kind,
                            const char *key, const char *url, X509 *cert, X509 *issuer)
{
    struct cg_revcache_origin origin = {.url = (char *)url, .cert = cert, .issuer = issuer,
                                        .timeout_ms = o->timeout_ms,
                                        .max_bytes = o->max_crl_bytes};
    if (o->cache != NULL && url != NULL && key != NULL)
        cg_revcache_set_origin(o->cache, kind, key, &origin);
}

/* Judges an OCSP DER; CG_OK with a good/revoked answer in *out. */
static int use_ocsp(const struct cg_rev_online *o, const unsigned char *der, size_t len,
                    X509 *cert, X509 *issuer, time_t at, const char *what,
                    const unsigned char *nonce, size_t nonce_len,
                    struct cg_revocation_info *out, struct cg_ocsp_result *r)
{
    struct cg_ocsp_params p = {.at = at, .max_age = o->max_ocsp_age,
                               .stale_grace = o->stale_grace, .clock_skew = o->clock_skew,
                               .nonce = nonce,
                               .nonce_len = nonce_len};
    char *err = NULL, t1[32], t2[32];

    if (cg_ocsp_judge(der, len, cert, issuer, &p, r, &err) != CG_OK) {
        note(out, "%s: unusable answer (%s): %s", what, cg_ocsp_error_slug(r->error),
             err ? err : "?");
        free(err);
        return CG_ERR;
    }
    iso(r->this_update, t1);
    iso(r->next_update, t2);
    note(out, "%s: %s (thisUpdate %s, nextUpdate %s%s)", what, cg_ocsp_status_slug(r->status),
         t1, t2, r->stale ? ", stale within grace" : "");
    if (r->status == CG_OCSP_UNKNOWN)
        return CG_DECLINED;   /* a valid answer that does not know: try the CRLs */
    from_ocsp(r, out);
    return CG_OK;
}

static int try_ocsp(const struct cg_rev_online *o, X509 *cert, X509 *issuer, time_t at,
                    struct cg_revocation_info *out)
{
    char *url = o->ocsp_responder ? strdup(o->ocsp_responder) : cg_ocsp_url(cert);
    char *key = cg_revocation_ocsp_key(cert, issuer), *err = NULL, what[600];
    struct cg_revcache_entry cached = {0};
    struct cg_fetch_copy got = {0};
    struct cg_ocsp_result r;
    unsigned char *req = NULL, nonce[16];
    size_t req_len = 0, nonce_len = o->ocsp_nonce ? sizeof(nonce) : 0;
    int crc = CG_DECLINED, rc = CG_DECLINED;

    if (url == NULL) {
        note(out, "OCSP: the certificate names no responder");
        goto out;
    }
    /* with a nonce, only an answer to this very request will do */
    if (key != NULL && o->cache != NULL && !o->ocsp_nonce)
        crc = cg_revcache_get_for(o->cache, CG_REVCACHE_OCSP, key, at, o->refresh_s,
                                  o->stale_grace, &cached);
    if (crc != CG_DECLINED)
        remember_origin(o, CG_REVCACHE_OCSP, key, url, cert, issuer);
    if (crc == CG_OK) {
        snprintf(what, sizeof(what), "OCSP %s (cached)", url);
        rc = use_ocsp(o, cached.der, cached.len, cert, issuer, at, what, NULL, 0, out, &r);
        if (rc == CG_OK) {
            out->due = cached.due;
            goto out;
        }
    }
    if (o->fetcher == NULL) {
        if (crc == CG_DECLINED)
            note(out, "OCSP %s: no answer cached yet", url);
        if (crc == CG_AGAIN && o->use_due)
            goto due;
        goto out;
    }
    if (cg_ocsp_request(cert, issuer, nonce, nonce_len, &req, &req_len, &err) != CG_OK) {
        note(out, "OCSP %s: %s", url, err ? err : "cannot build the request");
        goto out;
    }
    if (cg_fetcher_fetch(o->fetcher, url, "application/ocsp-request", req, req_len, &got,
                         &err) != CG_OK) {
        note(out, "OCSP %s: %s", url, err ? err : "cannot fetch");
    } else if (got.rc != CG_OK) {
        note(out, "OCSP POST %s: %s (%.0f ms)", url, got.error ? got.error : "failed",
             got.elapsed_ms);
    } else {
        snprintf(what, sizeof(what), "OCSP POST %s (%.0f ms%s)", url, got.elapsed_ms,
                 o->ocsp_nonce ? ", with a nonce" : "");
        rc = use_ocsp(o, got.body, got.len, cert, issuer, at, what, nonce, nonce_len, out, &r);
        if (rc != CG_ERR && key != NULL && o->cache != NULL && !o->ocsp_nonce) {
            char *perr = NULL;
            if (cg_revcache_put_tagged(o->cache, CG_REVCACHE_OCSP, key, got.body, got.len, at,
                                       r.this_update, r.next_update, ocsp_tag(&r),
                                       &perr) != CG_OK)
                note(out, "OCSP answer not cached: %s", perr ? perr : "?");
            remember_origin(o, CG_REVCACHE_OCSP, key, url, cert, issuer);
            free(perr);
        }
        if (rc == CG_OK)
            goto out;
    }
    /* the fetch failed: an answer cached earlier, still within its grace, does */
due:
    if (crc == CG_AGAIN) {
        snprintf(what, sizeof(what), "OCSP %s (cached, no fresher answer fetched)", url);
        rc = use_ocsp(o, cached.der, cached.len, cert, issuer, at, what, NULL, 0, out, &r);
    }
out:
    cg_fetch_copy_free(&got);
    cg_revcache_entry_free(&cached);
    OPENSSL_free(req);
    free(url);
    free(key);
    free(err);
    return rc == CG_OK ? CG_OK : CG_DECLINED;
}

/* Looks `cert` up in an index whose times are checked here. */
static int use_index(const struct cg_rev_online *o, struct cg_crl_index *ix, X509 *cert,
                     time_t at, const char *what, cg_rev_source_t source,
                     struct cg_revocation_info *out)
{
    time_t tu = cg_crl_index_this_update(ix), nu = cg_crl_index_next_update(ix);
    struct cg_crl_entry e;
    bool is_ca = X509_check_ca(cert) != 0, stale = false;
    char t1[32], t2[32];

    iso(tu, t1);
    iso(nu, t2);
    /* The issuer's clock may run ahead of ours, as an OCSP responder's may. */
    if (tu > at + o->clock_skew) {
        note(out, "%s: not valid yet (thisUpdate %s)", what, t1);
        return CG_ERR;
    }
    if (nu != 0 && nu < at) {
        if (at - nu > o->stale_grace) {
            note(out, "%s: stale (nextUpdate %s)", what, t2);
            return CG_ERR;
        }
        stale = true;
    }
    if ((cg_crl_index_only_user(ix) && is_ca) || (cg_crl_index_only_ca(ix) && !is_ca)) {
        note(out, "%s: does not cover this kind of certificate", what);
        return CG_ERR;
    }
    if (cg_crl_index_is_delta(ix)) {
        note(out, "%s: a delta CRL alone says nothing of what its base lists", what);
        return CG_ERR;
    }
    out->source = source;
    out->this_update = tu;
    out->next_update = nu;
    out->stale = stale;
    if (cg_crl_index_lookup(ix, X509_get0_serialNumber(cert), &e) == CG_OK) {
        out->status = CG_REV_REVOKED;
        out->revoked_at = e.revoked_at;
        out->reason = e.reason;
    } else {
        out->status = CG_REV_GOOD;
    }
    note(out, "%s: %s (thisUpdate %s, nextUpdate %s%s)", what, cg_rev_status_slug(out->status),
         t1, t2, stale ? ", stale within grace" : "");
    return CG_OK;
}

static int try_crl_url(const struct cg_rev_online *o, const char *url, X509 *cert, X509 *issuer,
                       time_t at, struct cg_revocation_info *out)
{
    struct cg_crl_index_opts io = {.max_bytes = o->max_crl_bytes};
    struct cg_revcache_entry cached = {0};
    struct cg_crl_index *ix = NULL;
    struct cg_fetch_copy got = {0};
    char *err = NULL, what[600];
    int crc = CG_DECLINED, rc = CG_ERR;

    if (o->cache != NULL)
        crc = cg_revcache_get_for(o->cache, CG_REVCACHE_CRL, url, at, o->refresh_s,
                                  o->stale_grace, &cached);
    if (crc != CG_DECLINED)
        remember_origin(o, CG_REVCACHE_CRL, url, url, NULL, issuer);
    if (crc == CG_OK) {
        snprintf(what, sizeof(what), "CRL %s (cached)", url);
        if (cached.index == NULL &&
            cg_crl_index_load(cached.der, cached.len, issuer, &io, &cached.index, &err) != CG_OK)
            note(out, "%s: %s", what, err);
        else if (cached.index != NULL) {
            cg_revcache_set_index(o->cache, url, cached.index);
            if ((rc = use_index(o, cached.index, cert, at, what, CG_REV_SOURCE_FETCHED_CRL,
                                out)) == CG_OK) {
                out->due = cached.due;
                goto out;
            }
        }
    }
    if (o->fetcher == NULL) {
        if (crc == CG_DECLINED)
            note(out, "CRL %s: not fetched yet", url);
        if (crc == CG_AGAIN && o->use_due)
            goto due;
        goto out;
    }
    if (cg_fetcher_fetch(o->fetcher, url, NULL, NULL, 0, &got, &err) != CG_OK) {
        note(out, "CRL %s: %s", url, err ? err : "cannot fetch");
    } else if (got.rc != CG_OK) {
        note(out, "CRL GET %s: %s (%.0f ms)", url, got.error ? got.error : "failed",
             got.elapsed_ms);
    } else {
        snprintf(what, sizeof(what), "CRL GET %s (%.0f ms, %zu bytes)", url, got.elapsed_ms,
                 got.len);
        if (cg_crl_index_load(got.body, got.len, issuer, &io, &ix, &err) != CG_OK) {
            note(out, "%s: unusable: %s", what, err ? err : "?");
        } else {
            rc = use_index(o, ix, cert, at, what, CG_REV_SOURCE_FETCHED_CRL, out);
            if (o->cache != NULL) {
                char *perr = NULL;
                if (cg_revcache_put_tagged(o->cache, CG_REVCACHE_CRL, url, got.body, got.len, at,
                                           cg_crl_index_this_update(ix),
                                           cg_crl_index_next_update(ix), crl_tag(ix),
                                           &perr) != CG_OK)
                    note(out, "CRL not cached: %s", perr ? perr : "?");
                else
                    cg_revcache_set_index(o->cache, url, ix);
                remember_origin(o, CG_REVCACHE_CRL, url, url, NULL, issuer);
                free(perr);
            }
            if (rc == CG_OK)
                goto out;
        }
    }
due:
    if (crc == CG_AGAIN) {
        snprintf(what, sizeof(what), "CRL %s (cached, no fresher answer fetched)", url);
        if (cached.index == NULL)
            cg_crl_index_load(cached.der, cached.len, issuer, &io, &cached.index, NULL);
        if (cached.index != NULL)
            rc = use_index(o, cached.index, cert, at, what, CG_REV_SOURCE_FETCHED_CRL, out);
    }
out:
    cg_crl_index_unref(ix);
    cg_revcache_entry_free(&cached);
    cg_fetch_copy_free(&got);
    free(err);
    return rc;
}

/* The CRLs in stores/crl/ from this issuer, current at `at`. */
static int try_local_crls(const struct cg_rev_online *o, X509 *cert, X509 *issuer, time_t at,
                          struct cg_revocation_info *out)
{
    if (o->trust == NULL)
        return CG_DECLINED;
    for (int i = 0; i < sk_X509_CRL_num(o->trust->crls); i++) {
        X509_CRL *c = sk_X509_CRL_value(o->trust->crls, i);
        unsigned char *der = NULL;
        int len;
        struct cg_crl_index *ix = NULL;
        int rc;

        if (X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(issuer)) != 0)
            continue;
        len = i2d_X509_CRL(c, &der);
        if (len <= 0 || cg_crl_index_load(der, (size_t)len, issuer, NULL, &ix, NULL) != CG_OK) {
            OPENSSL_free(der);
            continue;   /* another CA with the same name, or a delta we do not use */
        }
        OPENSSL_free(der);
        rc = use_index(o, ix, cert, at, "local CRL", CG_REV_SOURCE_LOCAL_CRL, out);
        cg_crl_index_unref(ix);
        if (rc == CG_OK)
            return CG_OK;
    }
    return CG_DECLINED;
}

bool cg_revocation_dp_url(X509 *cert, int nid, const char *scheme, char *out, size_t cap)
{
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(cert, nid, NULL, NULL);
    bool found = false;

    for (int i = 0; !found && i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;
        for (int k = 0; !found && k < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); k++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, k);
            const char *url;
            if (gn->type != GEN_URI)
                continue;
            url = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
            if (scheme != NULL && strncmp(url, scheme, strlen(scheme)) != 0)
                continue;
            if (out != NULL)
                snprintf(out, cap, "%s", url);
            found = true;
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    return found;
}

/*
 * The first URL of cert's freshestCRL extension (where its delta CRLs are
 * published), into out; false when it names none. Delta CRLs are not
 * fetched: a certificate naming one is judged on its base CRL alone
 * (complete up to its own thisUpdate), and the answer says so, so that
 * nobody takes it for a check against the delta.
 */
static bool delta_url(X509 *cert, char *out, size_t cap)
{
    return cg_revocation_dp_url(cert, NID_freshest_crl, NULL, out, cap);
}

#define DELTA_REFUSED "not fetched: delta CRLs (freshestCRL) are not supported; judged on the " \
                      "base CRL alone"

static int try_crls(const struct cg_rev_online *o, X509 *cert, X509 *issuer, time_t at,
                    struct cg_revocation_info *out)
{
    STACK_OF(DIST_POINT) *dps;
    char delta[512];
    int tried = 0;

    if (delta_url(cert, delta, sizeof(delta)))
        note(out, "delta CRL %s: " DELTA_REFUSED, delta);
    if (try_local_crls(o, cert, issuer, at, out) == CG_OK)
        return CG_OK;
    dps = X509_get_ext_d2i(cert, NID_crl_distribution_points, NULL, NULL);
    for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;
        for (int k = 0; k < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); k++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, k);
            const char *url;
            if (gn->type != GEN_URI)
                continue;
            url = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
            tried++;
            if (strncmp(url, "http://", 7) != 0) {
                note(out, "CRL %s: only http:// is fetched", url);
                continue;
            }
            if (try_crl_url(o, url, cert, issuer, at, out) == CG_OK) {
                sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
                return CG_OK;
            }
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    if (tried == 0)
        note(out, "CRL: the certificate names no distribution point");
    return CG_DECLINED;
}

int cg_revocation_online(void *arg, X509 *cert, X509 *issuer, time_t at,
                         struct cg_revocation_info *out)
{
    const struct cg_rev_online *o = arg;

    out->status = CG_REV_UNKNOWN;
    out->source = CG_REV_SOURCE_NONE;
    if (o->use_ocsp && try_ocsp(o, cert, issuer, at, out) == CG_OK)
        return CG_OK;
    if (o->use_crl && try_crls(o, cert, issuer, at, out) == CG_OK)
        return CG_OK;
    out->status = CG_REV_UNKNOWN;
    out->source = CG_REV_SOURCE_NONE;
    return CG_OK;
}

/* ---- prefetch (the server's non-blocking half) ---------------------------- */

struct prefetch {
    atomic_int pending;           /* fetches not yet completed, + 1 while submitting */
    struct cg_rev_online o;       /* a copy: the caller's may go */
    X509 *cert, *issuer;          /* referenced */
    time_t now;
    char *ocsp_key;
    void (*done)(void *arg);
    void (*done_ex)(void *arg, const char *fetched);
    void *arg;
    /* What each fetch did, "; "-separated: callbacks run on the fetcher
     * thread, or on the caller's before cg_revocation_prefetch returns. */
    pthread_mutex_t lock;
    char *fetched;
    atomic_int submitted;         /* fetches handed to the fetcher */
};

static void prefetch_note(struct prefetch *pf, const char *fmt, ...) CG_PRINTF(2, 3);
static void prefetch_note(struct prefetch *pf, const char *fmt, ...)
{
    char line[700];
    va_list ap;
    size_t a, b;
    char *p;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&pf->lock);
    a = pf->fetched != NULL ? strlen(pf->fetched) : 0;
    b = strlen(line);
    p = realloc(pf->fetched, a + b + 3);
    if (p != NULL) {
        if (a > 0)
            memcpy(p + a, "; ", 2);
        memcpy(p + a + (a > 0 ? 2 : 0), line, b + 1);
        pf->fetched = p;
    }
    pthread_mutex_unlock(&pf->lock);
}

/* How a fetch ended, for the note: "HTTP 200, 1234 bytes, 12 ms" or the error. */
static void fetch_outcome(const struct cg_fetch_result *r, char *out, size_t cap)
{
    if (r->rc == CG_OK)
        snprintf(out, cap, "HTTP 200, %zu bytes, %.0f ms%s", r->len, r->elapsed_ms,
                 r->coalesced ? ", joined a fetch in progress" : "");
    else
        snprintf(out, cap, "%s%s (%.0f ms)", r->error != NULL ? r->error : "failed",
                 r->negative_cached ? ", failed recently: not asked again yet" : "",
                 r->elapsed_ms);
}

static void prefetch_free(struct prefetch *pf)
{
    X509_free(pf->cert);
    X509_free(pf->issuer);
    free(pf->ocsp_key);
    free(pf->fetched);
    pthread_mutex_destroy(&pf->lock);
    free(pf);
}

struct prefetch_one {
    struct prefetch *pf;
    char *url;
};

static void prefetch_release(struct prefetch *pf)
{
    if (atomic_fetch_sub_explicit(&pf->pending, 1, memory_order_acq_rel) != 1)
        return;
    if (pf->done_ex != NULL)
        pf->done_ex(pf->arg, pf->fetched);
    else
        pf->done(pf->arg);
    prefetch_free(pf);
}

static void crl_fetched(void *arg, const struct cg_fetch_result *r)
{
    struct prefetch_one *one = arg;
    struct prefetch *pf = one->pf;
    struct cg_crl_index_opts io = {.max_bytes = pf->o.max_crl_bytes};
    struct cg_crl_index *ix = NULL;
    char how[300], *err = NULL;

    fetch_outcome(r, how, sizeof(how));
    /* Indexed here, on the fetcher thread: never on a loop. */
    if (r->rc != CG_OK) {
        prefetch_note(pf, "CRL GET %s: %s", one->url, how);
    } else if (cg_crl_index_load(r->body, r->len, pf->issuer, &io, &ix, &err) != CG_OK) {
        prefetch_note(pf, "CRL GET %s: %s: unusable: %s", one->url, how, err ? err : "?");
    } else {
        /* The times as use_index() will judge them: a CRL out of its window
         * may not even be kept by the cache (past every site's grace), and
         * the judge after the fetch would then only say "not fetched yet". */
        time_t tu = cg_crl_index_this_update(ix), nu = cg_crl_index_next_update(ix);
        char t[32];
        if (tu > pf->now + pf->o.clock_skew) {
            iso(tu, t);
            prefetch_note(pf, "CRL GET %s: %s: unusable: not valid yet (thisUpdate %s)", one->url,
                          how, t);
        } else if (nu != 0 && nu < pf->now && pf->now - nu > pf->o.stale_grace) {
            iso(nu, t);
            prefetch_note(pf, "CRL GET %s: %s: unusable: stale (nextUpdate %s)", one->url, how, t);
        } else {
            prefetch_note(pf, "CRL GET %s: %s", one->url, how);
        }
        if (cg_revcache_put_tagged(pf->o.cache, CG_REVCACHE_CRL, one->url, r->body, r->len,
                                   pf->now, tu, nu, crl_tag(ix), NULL) == CG_OK)
            cg_revcache_set_index(pf->o.cache, one->url, ix);
        remember_origin(&pf->o, CG_REVCACHE_CRL, one->url, one->url, NULL, pf->issuer);
    }
    cg_rev_stats_crl_fetched(r, ix != NULL);
    free(err);
    cg_crl_index_unref(ix);
    free(one->url);
    free(one);
    prefetch_release(pf);
}

static void submit_one(struct prefetch *pf, const char *url, const char *content_type,
                       const unsigned char *body, size_t len, cg_fetch_cb cb)
{
    struct prefetch_one *one = calloc(1, sizeof(*one));

    if (one == NULL || (one->url = strdup(url)) == NULL) {
        free(one);
        return;
    }
    one->pf = pf;
    atomic_fetch_add_explicit(&pf->pending, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&pf->submitted, 1, memory_order_relaxed);
    if (cg_fetcher_submit_timed(pf->o.fetcher, url, content_type, body, len, pf->o.timeout_ms, cb,
                                one, NULL) != CG_OK) {
        atomic_fetch_sub_explicit(&pf->pending, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&pf->submitted, 1, memory_order_relaxed);
        free(one->url);
        free(one);
    }
}

/* The CRL distribution points the cache cannot answer fresh. */
static void prefetch_crls(struct prefetch *pf)
{
    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(pf->cert, NID_crl_distribution_points, NULL,
                                                 NULL);
    char delta[512];

    if (delta_url(pf->cert, delta, sizeof(delta)))
        prefetch_note(pf, "delta CRL %s: " DELTA_REFUSED, delta);

    for (int i = 0; i < sk_DIST_POINT_num(dps); i++) {
        DIST_POINT *dp = sk_DIST_POINT_value(dps, i);
        if (dp->distpoint == NULL || dp->distpoint->type != 0)
            continue;
        for (int k = 0; k < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); k++) {
            GENERAL_NAME *gn = sk_GENERAL_NAME_value(dp->distpoint->name.fullname, k);
            struct cg_revcache_entry e = {0};
            const char *url;
            if (gn->type != GEN_URI)
                continue;
            url = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
            if (strncmp(url, "http://", 7) != 0)
                continue;
            if (cg_revcache_get_for(pf->o.cache, CG_REVCACHE_CRL, url, pf->now, pf->o.refresh_s,
                                    pf->o.stale_grace, &e) == CG_OK) {
                cg_revcache_entry_free(&e);
                continue;
            }
            cg_revcache_entry_free(&e);
            submit_one(pf, url, NULL, NULL, 0, crl_fetched);
        }
    }
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
}

static void ocsp_fetched(void *arg, const struct cg_fetch_result *r)
{
    struct prefetch_one *one = arg;
    struct prefetch *pf = one->pf;
    struct cg_ocsp_params p = {.at = pf->now, .max_age = pf->o.max_ocsp_age,
                               .stale_grace = pf->o.stale_grace,
                               .clock_skew = pf->o.clock_skew};
    struct cg_ocsp_result res;
    bool answered = false;
    char how[300], *err = NULL;

    fetch_outcome(r, how, sizeof(how));
    if (r->rc != CG_OK) {
        cg_rev_stats_ocsp_fetched(r, CG_OCSP_ERR_NONE);
        prefetch_note(pf, "OCSP POST %s: %s", one->url, how);
    } else if (cg_ocsp_judge(r->body, r->len, pf->cert, pf->issuer, &p, &res, &err) != CG_OK) {
        cg_rev_stats_ocsp_fetched(r, res.error);
        prefetch_note(pf, "OCSP POST %s: %s: unusable answer (%s): %s", one->url, how,
                      cg_ocsp_error_slug(res.error), err ? err : "?");
    } else {
        cg_rev_stats_ocsp_fetched(r, CG_OCSP_ERR_NONE);
        prefetch_note(pf, "OCSP POST %s: %s: %s%s", one->url, how, cg_ocsp_status_slug(res.status),
                      res.stale ? " (stale within grace)" : "");
        cg_revcache_put_tagged(pf->o.cache, CG_REVCACHE_OCSP, pf->ocsp_key, r->body, r->len,
                               pf->now, res.this_update, res.next_update, ocsp_tag(&res), NULL);
        remember_origin(&pf->o, CG_REVCACHE_OCSP, pf->ocsp_key, one->url, pf->cert, pf->issuer);
        answered = res.status != CG_OCSP_UNKNOWN;
    }
    free(err);
    if (!answered && pf->o.use_crl)
        prefetch_crls(pf);   /* OCSP gave no answer: the CRLs, as the hook will want */
    free(one->url);
    free(one);
    prefetch_release(pf);
}

static int prefetch_start(const struct cg_rev_online *o, X509 *cert, X509 *issuer, time_t now,
                          void (*done)(void *arg), void (*done_ex)(void *, const char *),
                          void *arg, char **err);

int cg_revocation_prefetch(const struct cg_rev_online *o, X509 *cert, X509 *issuer, time_t now,
                           void (*done)(void *arg), void *arg, char **err)
{
    if (done == NULL)
        return cg_set_err(err, "prefetch needs a callback");
    return prefetch_start(o, cert, issuer, now, done, NULL, arg, err);
}

int cg_revocation_prefetch_ex(const struct cg_rev_online *o, X509 *cert, X509 *issuer,
                              time_t now, void (*done)(void *arg, const char *fetched),
                              void *arg, char **err)
{
    if (done == NULL)
        return cg_set_err(err, "prefetch needs a callback");
    return prefetch_start(o, cert, issuer, now, NULL, done, arg, err);
}

static int prefetch_start(const struct cg_rev_online *o, X509 *cert, X509 *issuer, time_t now,
                          void (*done)(void *arg), void (*done_ex)(void *, const char *),
                          void *arg, char **err)
{
    struct prefetch *pf;
    char *url = NULL;
    unsigned char *req = NULL;
    size_t req_len = 0;
    int rc;

    if (o == NULL || o->fetcher == NULL || o->cache == NULL)
        return cg_set_err(err, "prefetch needs a fetcher and a cache");
    pf = calloc(1, sizeof(*pf));
    if (pf == NULL)
        return cg_set_err(err, "out of memory");
    if (pthread_mutex_init(&pf->lock, NULL) != 0) {
        free(pf);
        return cg_set_err(err, "pthread_mutex_init failed");
    }
    atomic_init(&pf->pending, 1);   /* held while submitting */
    atomic_init(&pf->submitted, 0);
    pf->o = *o;
    pf->now = now;
    pf->done = done;
    pf->done_ex = done_ex;
    pf->arg = arg;
    X509_up_ref(cert);
    X509_up_ref(issuer);
    pf->cert = cert;
    pf->issuer = issuer;
    if (o->use_ocsp) {
        struct cg_revcache_entry e = {0};
        url = o->ocsp_responder ? strdup(o->ocsp_responder) : cg_ocsp_url(cert);
        pf->ocsp_key = cg_revocation_ocsp_key(cert, issuer);
        if (url != NULL && pf->ocsp_key != NULL &&
            cg_revcache_get_for(o->cache, CG_REVCACHE_OCSP, pf->ocsp_key, now, o->refresh_s,
                                o->stale_grace, &e) == CG_OK) {
            /* fresh in the cache: nothing to fetch for OCSP, nor for CRLs if it answers */
            cg_revcache_entry_free(&e);
        } else if (url != NULL &&
                   cg_ocsp_request(cert, issuer, NULL, 0, &req, &req_len, NULL) == CG_OK) {
            cg_revcache_entry_free(&e);
            submit_one(pf, url, "application/ocsp-request", req, req_len, ocsp_fetched);
        } else {
            cg_revcache_entry_free(&e);
            if (o->use_crl)
                prefetch_crls(pf);
        }
    } else if (o->use_crl) {
        prefetch_crls(pf);
    }
    OPENSSL_free(req);
    free(url);
    /* CG_AGAIN whenever a fetch was handed to the fetcher, not only while
     * one is still running: on a loaded machine every fetch may be over
     * (a fast responder, a source in its backoff failing at once) before
     * this line runs, and the caller must still get its callback (called
     * below, on this thread) and judge from what those fetches brought. */
    rc = atomic_load(&pf->submitted) > 0 ? CG_AGAIN : CG_OK;
    if (rc == CG_OK) {
        /* nothing started: no callback is owed; free without calling done */
        prefetch_free(pf);
        return CG_OK;
    }
    prefetch_release(pf);   /* drop the submitting hold */
    return CG_AGAIN;
}

/* ---- background refresh ------------------------------------------------------ */

#define REFRESH_BATCH 64   /* answers started per tick; the rest wait for the next */

struct cg_rev_refresher {
    struct cg_rev_refresher_opts o;
};

struct refresh_one {
    struct cg_rev_refresher *r;
    struct cg_revcache_due d;
};

static void refresher_note(const struct cg_rev_refresher *r, int level, const char *fmt, ...)
    CG_PRINTF(3, 4);
static void refresher_note(const struct cg_rev_refresher *r, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (r->o.note == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    r->o.note(level, line);
}

/* What the answer is about, for the log: "OCSP answer for serial 7D1 from URL". */
static void refresh_subject(const struct cg_revcache_due *d, char *out, size_t cap)
{
    if (d->kind == CG_REVCACHE_OCSP) {
        const char *serial = strrchr(d->key, '-');
        snprintf(out, cap, "OCSP answer for serial %s from %s", serial ? serial + 1 : d->key,
                 d->origin.url);
    } else {
        snprintf(out, cap, "CRL %s", d->origin.url);
    }
}

/* Fetcher thread: judges what came back and replaces the answer held. */
static void refreshed(void *arg, const struct cg_fetch_result *res)
{
    struct refresh_one *one = arg;
    struct cg_rev_refresher *r = one->r;
    struct cg_revcache_due *d = &one->d;
    struct cg_crl_index *ix = NULL;
    time_t now = time(NULL), tu = 0, nu = 0;
    char *err = NULL, why[600], what[700], t1[32], t2[32], status[64];
    long long tag = CG_REVCACHE_NO_TAG;
    bool ok = false;

    why[0] = status[0] = '\0';
    refresh_subject(d, what, sizeof(what));
    if (res->rc != CG_OK) {
        snprintf(why, sizeof(why), "%s", res->error != NULL ? res->error : "failed");
    } else if (d->kind == CG_REVCACHE_OCSP) {
        struct cg_ocsp_params p = {.at = now, .stale_grace = r->o.stale_grace_s,
                                   .clock_skew = r->o.clock_skew_s};
        struct cg_ocsp_result or;
        if (cg_ocsp_judge(res->body, res->len, d->origin.cert, d->origin.issuer, &p, &or,
                          &err) != CG_OK) {
            snprintf(why, sizeof(why), "unusable answer (%s): %s", cg_ocsp_error_slug(or.error),
                     err != NULL ? err : "?");
        } else {
            tu = or.this_update;
            nu = or.next_update;
            tag = ocsp_tag(&or);
            snprintf(status, sizeof(status), "%s", cg_ocsp_status_slug(or.status));
            ok = true;
        }
    } else {
        struct cg_crl_index_opts io = {.max_bytes = d->origin.max_bytes};
        if (cg_crl_index_load(res->body, res->len, d->origin.issuer, &io, &ix, &err) != CG_OK) {
            snprintf(why, sizeof(why), "unusable: %s", err != NULL ? err : "?");
        } else {
            tu = cg_crl_index_this_update(ix);
            nu = cg_crl_index_next_update(ix);
            tag = crl_tag(ix);
            snprintf(status, sizeof(status), "%zu entries", cg_crl_index_count(ix));
            ok = true;
        }
    }
    /* A responder or a mirror serving an older answer than the one held
     * (a replay, a stale cache in front of it) does not replace it. */
    if (ok && tu < d->this_update) {
        iso(tu, t1);
        iso(d->this_update, t2);
        snprintf(why, sizeof(why), "older than the answer held (thisUpdate %s, held %s)", t1, t2);
        ok = false;
    }
    if (ok) {
        char *perr = NULL;
        if (cg_revcache_put_tagged(r->o.cache, d->kind, d->key, res->body, res->len, now, tu, nu,
                                   tag, &perr) != CG_OK)
            refresher_note(r, CG_LOG_WARN, "revocation: refreshed %s not persisted: %s", what,
                           perr != NULL ? perr : "?");
        else if (ix != NULL)
            cg_revcache_set_index(r->o.cache, d->key, ix);
        free(perr);
    }
    if (!ok && res->negative_cached) {
        /* Not asked: the fetcher's backoff for this URL is running (a
         * request's fetch failed just now). Looked at again next tick,
         * without counting as an attempt of ours. */
        cg_revcache_refresh_done(r->o.cache, d, CG_REVCACHE_REFRESH_NOT_ASKED, now);
        goto out;
    }
    cg_revcache_refresh_done(r->o.cache, d, ok ? CG_REVCACHE_REFRESH_OK : CG_REVCACHE_REFRESH_FAILED,
                             now);
    if (ok) {
        iso(tu, t1);
        iso(nu, t2);
        refresher_note(r, CG_LOG_INFO, "revocation: refreshed in the background: %s: %s (thisUpdate %s, "
                             "nextUpdate %s), HTTP 200, %zu bytes, %.0f ms",
                       what, status, t1, t2, res->len, res->elapsed_ms);
    } else if (res->error == NULL || strcmp(res->error, "cancelled") != 0) {
        iso(d->next_update, t2);
        refresher_note(r, CG_LOG_WARN, "revocation: background refresh failed: %s: %s; the answer held "
                             "(nextUpdate %s) stays in use until it is due, retried in %u s",
                       what, why, t2, 1u << (d->failures < 6 ? d->failures : 6));
    }
out:
    cg_crl_index_unref(ix);
    free(err);
    cg_revcache_due_clear(d);
    free(one);
}

/* Fetcher thread, every tick: starts the refreshes that are due. */
static void refresher_tick(void *arg)
{
    struct cg_rev_refresher *r = arg;
    struct cg_revcache_due due[REFRESH_BATCH];
    size_t n = cg_revcache_take_due(r->o.cache, time(NULL), due, REFRESH_BATCH);

    for (size_t i = 0; i < n; i++) {
        struct refresh_one *one = calloc(1, sizeof(*one));
        unsigned char *req = NULL;
        size_t req_len = 0;
        char *err = NULL, what[700];
        int rc = CG_ERR;

        refresh_subject(&due[i], what, sizeof(what));
        if (one != NULL) {
            one->r = r;
            one->d = due[i];
            if (due[i].kind == CG_REVCACHE_CRL)
                rc = cg_fetcher_submit_timed(r->o.fetcher, due[i].origin.url, NULL, NULL, 0,
                                             due[i].origin.timeout_ms, refreshed, one, &err);
            else if (cg_ocsp_request(due[i].origin.cert, due[i].origin.issuer, NULL, 0, &req,
                                     &req_len, &err) == CG_OK)
                rc = cg_fetcher_submit_timed(r->o.fetcher, due[i].origin.url,
                                             "application/ocsp-request", req, req_len,
                                             due[i].origin.timeout_ms, refreshed, one, &err);
        }
        OPENSSL_free(req);
        if (rc == CG_OK)
            continue;   /* `one` is the callback's now */
        refresher_note(r, CG_LOG_WARN, "revocation: background refresh not started: %s: %s", what,
                       err != NULL ? err : "out of memory");
        cg_revcache_refresh_done(r->o.cache, &due[i], CG_REVCACHE_REFRESH_FAILED, time(NULL));
        cg_revcache_due_clear(&due[i]);
        free(one);
        free(err);
    }
}

struct cg_rev_refresher *cg_revocation_refresher_start(const struct cg_rev_refresher_opts *o,
                                                       char **err)
{
    struct cg_rev_refresher *r;

    if (o == NULL || o->fetcher == NULL || o->cache == NULL) {
        cg_set_err(err, "the background refresh needs a fetcher and a cache");
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        cg_set_err(err, "out of memory");
        return NULL;
    }
    r->o = *o;
    cg_fetcher_set_tick(o->fetcher, o->tick_ms, refresher_tick, r);
    return r;
}

void cg_revocation_refresher_free(struct cg_rev_refresher *r)
{
    free(r);
}

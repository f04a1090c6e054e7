/*
 * rev_stats.c: counters of the revocation fetches (see rev_stats.h).
 */
#include "cert/rev_stats.h"

#include <stdatomic.h>

static _Atomic uint64_t ocsp_counts[CG_REV_STATS_OUTCOMES];
static _Atomic uint64_t crl_counts[CG_REV_STATS_OUTCOMES];

static const char *const fetch_slugs[CG_FETCH__COUNT] = {
    [CG_FETCH_OK] = "ok",
    [CG_FETCH_TIMEOUT] = "timeout",
    [CG_FETCH_NETWORK_ERROR] = "network-error",
    [CG_FETCH_HTTP_ERROR] = "http-error",
    [CG_FETCH_TOO_LARGE] = "too-large",
    [CG_FETCH_EMPTY] = "empty",
    [CG_FETCH_BACKOFF] = "backoff",
    [CG_FETCH_CANCELLED] = "cancelled",
};

static size_t fetch_index(const struct cg_fetch_result *r)
{
    return (unsigned)r->outcome < CG_FETCH__COUNT ? (size_t)r->outcome : CG_FETCH_NETWORK_ERROR;
}

void cg_rev_stats_ocsp_fetched(const struct cg_fetch_result *r, cg_ocsp_error_t judged)
{
    size_t i = fetch_index(r);

    if (i == CG_FETCH_OK && judged != CG_OCSP_ERR_NONE && (size_t)judged < CG_REV_STATS_OCSP_ERRORS)
        i = CG_FETCH__COUNT + (size_t)judged;
    atomic_fetch_add_explicit(&ocsp_counts[i], 1, memory_order_relaxed);
}

void cg_rev_stats_crl_fetched(const struct cg_fetch_result *r, bool usable)
{
    size_t i = fetch_index(r);

    if (i == CG_FETCH_OK && !usable)
        i = CG_REV_STATS_CRL_UNUSABLE;
    atomic_fetch_add_explicit(&crl_counts[i], 1, memory_order_relaxed);
}

void cg_rev_stats_get(struct cg_rev_stats *out)
{
    for (size_t i = 0; i < CG_REV_STATS_OUTCOMES; i++) {
        out->ocsp[i] = atomic_load_explicit(&ocsp_counts[i], memory_order_relaxed);
        out->crl[i] = atomic_load_explicit(&crl_counts[i], memory_order_relaxed);
    }
}

const char *cg_rev_stats_outcome_slug(size_t i)
{
    if (i < CG_FETCH__COUNT)
        return fetch_slugs[i];
    if (i == CG_REV_STATS_CRL_UNUSABLE)
        return "unusable";
    if (i > CG_FETCH__COUNT && i < CG_REV_STATS_CRL_UNUSABLE)
        return cg_ocsp_error_slug((cg_ocsp_error_t)(i - CG_FETCH__COUNT));
    return NULL;   /* CG_FETCH__COUNT + CG_OCSP_ERR_NONE: "ok" is counted as ok */
}

/*
 * rev_stats.h: what the revocation fetches of this process came to, for the
 * metrics. One set of counters per process (there is one fetcher per
 * process), bumped on the thread that completes a fetch (the fetcher thread,
 * or the submitting one when a source in its backoff fails at once), read by
 * a scrape on any thread: relaxed atomics.
 *
 * A fetch is counted once, under the first outcome that applies:
 *   the transfer's (cg_fetch_outcome_t: ok, timeout, network-error,
 *   http-error, too-large, empty, backoff, cancelled), and when the transfer
 *   brought an answer that could not be used, why: for OCSP the judge's
 *   error slug (malformed, bad-signature, signer-unauthorised, stale, ...),
 *   for a CRL "unusable" (not a CRL, truncated, bad signature, over the
 *   size limit: the error log has the sentence). "ok" is a usable answer.
 */
#ifndef CG_CERT_REV_STATS_H
#define CG_CERT_REV_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cert/fetch.h"
#include "cert/ocsp.h"

#define CG_REV_STATS_OCSP_ERRORS (0 CG_OCSP_ERROR_MAP(CG_REV_STATS_ONE))
#define CG_REV_STATS_ONE(name, slug, text) +1
/* Outcome indexes: the fetch outcomes, then the OCSP errors (NONE unused),
 * then a CRL that could not be used. */
#define CG_REV_STATS_CRL_UNUSABLE (CG_FETCH__COUNT + CG_REV_STATS_OCSP_ERRORS)
#define CG_REV_STATS_OUTCOMES     (CG_REV_STATS_CRL_UNUSABLE + 1)

struct cg_rev_stats {
    uint64_t ocsp[CG_REV_STATS_OUTCOMES];
    uint64_t crl[CG_REV_STATS_OUTCOMES];
};

/* An OCSP fetch ended with r; judged: why its answer was unusable, or
 * CG_OCSP_ERR_NONE (usable, or no answer to judge). */
void cg_rev_stats_ocsp_fetched(const struct cg_fetch_result *r, cg_ocsp_error_t judged);
/* A CRL fetch ended with r; usable: the CRL loaded (ignored when r failed). */
void cg_rev_stats_crl_fetched(const struct cg_fetch_result *r, bool usable);

/* A snapshot of the counters. */
void cg_rev_stats_get(struct cg_rev_stats *out);

/* The label of outcome i ("ok", "timeout", ..., "bad-signature", "unusable");
 * NULL for an index no fetch is ever counted under. */
const char *cg_rev_stats_outcome_slug(size_t i);

#endif

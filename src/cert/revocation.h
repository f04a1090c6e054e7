/*
 * revocation.h: the revocation hooks the verdict engine calls
 * (cg_revocation_fn in verdict.h) for OCSP and fetched CRLs.
 *
 *   cg_revocation_offline_ocsp  judges one saved OCSP response
 *                               (`certgate verify --revocation ocsp
 *                               --ocsp-response FILE`);
 *   cg_revocation_online        asks the sources in the policy's order and
 *                               fetches what is missing, blocking the calling
 *                               thread (`certgate verify --revocation online`).
 *
 * The server does not fetch inside a hook: a request whose answers are not
 * all in the cache is parked, the fetches are submitted to the fetcher
 * thread (cg_fetcher_submit), whose callback stores each answer in the
 * cache and wakes the request's loop (cg_loop_wake); the request is then
 * judged with cg_revocation_online in cache-only mode (`fetcher` NULL),
 * which finds every answer, or the failure recorded, without waiting.
 */
#ifndef CG_CERT_REVOCATION_H
#define CG_CERT_REVOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cert/fetch.h"
#include "cert/revcache.h"
#include "cert/verdict.h"

struct cg_rev_offline_ocsp {
    const unsigned char *der;      /* the response (borrowed) */
    size_t len;
    long max_age;                  /* seconds; 0: no limit */
    long stale_grace;
    long clock_skew;               /* see cg_ocsp_params; 0: none */
};

/* arg: struct cg_rev_offline_ocsp. */
int cg_revocation_offline_ocsp(void *arg, X509 *cert, X509 *issuer, time_t at,
                               struct cg_revocation_info *out);

struct cg_rev_online {
    struct cg_fetcher *fetcher;    /* NULL: answer from the cache and local CRLs only */
    struct cg_revcache *cache;     /* may be NULL */
    const struct cg_trust *trust;  /* local CRLs (stores/crl/); may be NULL */
    bool use_ocsp, use_crl;        /* ocsp+crl: OCSP first, CRLs when it gives no answer */
    const char *ocsp_responder;    /* override URL; NULL: the certificate's AIA */
    long max_ocsp_age;             /* seconds; 0: no limit */
    long stale_grace;              /* seconds past nextUpdate still accepted */
    long clock_skew;               /* seconds an OCSP answer's or a CRL's thisUpdate may
                                      lie ahead of the time judged at; 0: none */
    size_t max_crl_bytes;          /* 0: CG_CRL_INDEX_DEFAULT_MAX_BYTES */
    bool ocsp_nonce;               /* send a nonce and require it back: no replayed
                                      answer, but no cached one either (every check
                                      asks the responder). For the blocking form only:
                                      prefetched answers are cached, so carry none */
    uint64_t cache_epoch;          /* not read by the hook: cg_revcache_epoch(cache) when
                                      the struct keys a verification cache (the server
                                      passes the struct's bytes as the key), so that a
                                      verdict is not kept past a change of the answers */
    long refresh_s;                /* re-fetch at most this often; 0: the cache's */
    unsigned timeout_ms;           /* per fetch; 0: the fetcher's */
    bool use_due;                  /* cache-only (fetcher NULL): also use an answer that
                                      is due (refresh elapsed, or past nextUpdate within
                                      stale_grace). For the judge after a prefetch: a
                                      fetch was tried, and when it failed the answer
                                      kept is the best there is */
};

/* arg: struct cg_rev_online. */
int cg_revocation_online(void *arg, X509 *cert, X509 *issuer, time_t at,
                         struct cg_revocation_info *out);

/*
 * The first URL of cert's distribution points extension `nid`
 * (NID_crl_distribution_points, or NID_freshest_crl for delta CRLs) that
 * starts with `scheme` (NULL: any), copied into out when out is not NULL;
 * false when it names none.
 */
bool cg_revocation_dp_url(X509 *cert, int nid, const char *scheme, char *out, size_t cap);

/*
 * The server's half of the online check, so that no loop waits: starts on
 * the fetcher thread every fetch cg_revocation_online would need for `cert`
 * (issued by `issuer`) that the cache cannot answer fresh: the OCSP answer,
 * and the CRLs when OCSP gives no usable answer (or names no responder).
 * Each answer is judged or indexed on the fetcher thread and put in the
 * cache. Returns:
 *   CG_OK     nothing fetched: judge now with the cache-only hook; done is
 *             never called;
 *   CG_AGAIN  fetches started: done(arg) is called exactly once when all
 *             are over, on the fetcher thread, or on the caller's thread
 *             before this returns when they were all over by then (a fast
 *             responder, a URL in its failure backoff): the outcome does not
 *             depend on how the threads were scheduled. The callback wakes
 *             the request's loop (cg_loop_wake), which judges with the
 *             cache-only hook;
 *   CG_ERR    nothing started (out of memory, fetcher saturated): judge now.
 * `o->fetcher` and `o->cache` must be set; `cert` and `issuer` are
 * referenced until done.
 */
int cg_revocation_prefetch(const struct cg_rev_online *o, X509 *cert, X509 *issuer, time_t now,
                           void (*done)(void *arg), void *arg, char **err);

/*
 * cg_revocation_prefetch whose callback also gets what each fetch did, for
 * the logs and the page (the cache-only judge after it only sees what is
 * cached): "; "-separated, e.g. "OCSP POST http://...: HTTP 200, 1523 bytes,
 * 12 ms: good; CRL GET http://...: Couldn't connect to server (0 ms)";
 * NULL when nothing was noted. Borrowed for the callback's duration.
 * Returns as cg_revocation_prefetch does.
 */
int cg_revocation_prefetch_ex(const struct cg_rev_online *o, X509 *cert, X509 *issuer,
                              time_t now, void (*done)(void *arg, const char *fetched),
                              void *arg, char **err);

/*
 * The background refresh of the answer cache (see revcache.h): on every
 * tick of the fetcher thread, the answers about to be due are fetched
 * again, one fetch per answer, judged (OCSP) or verified and indexed (CRL)
 * there, and put in the cache when usable and not older than the one held;
 * a failure keeps the answer held (used until it is due, then within its
 * stale grace) and is retried with a backoff. No loop ever waits on it.
 * `note` (may be NULL) gets one line per refresh: level CG_LOG_INFO when
 * refreshed, CG_LOG_WARN when it failed (values of core/log.h).
 */
struct cg_rev_refresher_opts {
    struct cg_fetcher *fetcher;
    struct cg_revcache *cache;
    long stale_grace_s;            /* an answer past nextUpdate by more is not taken */
    long clock_skew_s;             /* an OCSP answer dated further ahead is not taken */
    unsigned tick_ms;              /* how often due answers are looked for; 0: 1000 */
    void (*note)(int level, const char *line);
};
struct cg_rev_refresher;
/* Starts it on the fetcher's thread (cg_fetcher_set_tick). NULL on failure. */
struct cg_rev_refresher *cg_revocation_refresher_start(const struct cg_rev_refresher_opts *o,
                                                       char **err);
/* After cg_fetcher_free (which ends the ticks and cancels the fetches);
 * NULL-safe. */
void cg_revocation_refresher_free(struct cg_rev_refresher *r);

/* The cache key of cert's OCSP answer: hex of SHA-1 issuer name and key
 * hashes and the serial. New string, caller frees; NULL on failure. */
char *cg_revocation_ocsp_key(X509 *cert, X509 *issuer);

#endif

/*
 * fetch.h: fetching revocation material (CRLs from distribution points,
 * OCSP answers) over http://, without blocking any event loop.
 *
 * Design: one fetcher thread per process runs a libcurl multi handle; any
 * thread submits a fetch and gets its completion through a callback run on
 * the fetcher thread. A server worker's callback copies what it needs,
 * queues it for the parked request and calls cg_loop_wake() on that
 * request's loop; the loop then resumes the request (see the hook described
 * in src/cert/revocation.h). Chosen over driving curl from every worker loop
 * (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION) because:
 *   - coalescing and the negative cache must be process-wide, or N workers
 *     would fetch the same CRL N times; a multi handle is not thread-safe,
 *     so one shared between loops would need a lock around every call;
 *   - what follows a fetch is heavy: verifying and indexing a CRL of a
 *     million entries takes about a second, which must not run on a loop;
 *   - `certgate verify` uses the same fetcher with a blocking wait.
 *
 * Guarantees: http:// only (no redirects, no other protocol), a per-fetch
 * timeout, a maximum body size enforced while receiving, concurrent
 * requests for the same (URL, body) coalesced into one transfer, and after
 * a failure the same request fails at once for a backoff period that
 * doubles with each consecutive failure (a dead responder is not hammered).
 * Every callback is called exactly once, also when the fetcher is freed
 * with fetches pending (error "cancelled").
 */
#ifndef CG_CERT_FETCH_H
#define CG_CERT_FETCH_H

#include <stdbool.h>
#include <stddef.h>

struct cg_fetcher;

struct cg_fetch_opts {
    unsigned timeout_ms;        /* per submitter when it gives none, connect included; 0: 5000 */
    size_t max_bytes;           /* largest body accepted; 0: 64 MiB */
    unsigned backoff_ms;        /* first negative-cache period; 0: 1000 */
    unsigned backoff_max_ms;    /* cap of the doubling; 0: 60000 */
    unsigned max_parallel;      /* transfers at once; 0: 16 */
    unsigned max_pending;       /* distinct requests queued or running; 0: 4096 */
};

/* How a fetch ended, for counters (the error sentence says it for people). */
typedef enum {
    CG_FETCH_OK = 0,            /* HTTP 200 with a body within limits */
    CG_FETCH_TIMEOUT,           /* past timeout_ms */
    CG_FETCH_NETWORK_ERROR,     /* no HTTP answer: refused, reset, name not resolved, ... */
    CG_FETCH_HTTP_ERROR,        /* an HTTP status other than 200 */
    CG_FETCH_TOO_LARGE,         /* over max_bytes */
    CG_FETCH_EMPTY,             /* 200 with no body */
    CG_FETCH_BACKOFF,           /* not tried: the same request failed recently */
    CG_FETCH_CANCELLED,         /* the fetcher was freed first */
    CG_FETCH__COUNT
} cg_fetch_outcome_t;

struct cg_fetch_result {
    int rc;                     /* CG_OK: HTTP 200 with a body within limits; CG_ERR otherwise */
    cg_fetch_outcome_t outcome;
    long http_status;           /* 0 when no HTTP answer came */
    const unsigned char *body;  /* borrowed for the callback's duration */
    size_t len;
    const char *content_type;   /* may be NULL */
    const char *error;          /* when rc != CG_OK: "timed out after 2000 ms", "HTTP 404", ... */
    double elapsed_ms;          /* of the transfer (0 when answered from the negative cache) */
    bool coalesced;             /* joined a transfer already running */
    bool negative_cached;       /* failed at once: the URL failed recently */
};

/* Runs on the fetcher thread: must not block; copy what outlives the call. */
typedef void (*cg_fetch_cb)(void *arg, const struct cg_fetch_result *r);

/* Starts the fetcher thread. opts may be NULL. NULL with *err on failure. */
struct cg_fetcher *cg_fetcher_new(const struct cg_fetch_opts *opts, char **err);
/* Cancels what is pending (callbacks get rc CG_ERR, "cancelled"), joins the
 * thread, frees. NULL-safe. Not to be called from a callback. */
void cg_fetcher_free(struct cg_fetcher *f);

/*
 * Queues a GET of `url` (body NULL) or a POST of `body` with `content_type`
 * (OCSP: "application/ocsp-request"). Thread-safe. CG_OK: cb will be called
 * exactly once, possibly before this returns (negative cache). CG_ERR: not
 * queued (not an http:// URL, max_pending reached, out of memory), cb never
 * called, *err says.
 */
int cg_fetcher_submit(struct cg_fetcher *f, const char *url, const char *content_type,
                      const void *body, size_t body_len, cg_fetch_cb cb, void *arg,
                      char **err);

/*
 * cg_fetcher_submit with this submitter's own timeout (0: the fetcher's
 * timeout_ms), counted from now. A submitter joining a transfer already
 * running keeps its own deadline: it gets "timed out after N ms" at that
 * deadline while the transfer goes on for the others, and the transfer is
 * dropped (and counted as a failure of its URL, for the backoff) only when
 * the last submitter's deadline has passed. So sites with different
 * `timeout`s sharing one responder each stop waiting at their own.
 */
int cg_fetcher_submit_timed(struct cg_fetcher *f, const char *url, const char *content_type,
                            const void *body, size_t body_len, unsigned timeout_ms,
                            cg_fetch_cb cb, void *arg, char **err);

/*
 * Calls tick(arg) on the fetcher thread about every interval_ms (0: 1000),
 * the first time at once; the background refresh of the revocation answers
 * runs there (see cg_revocation_refresher in revocation.h). The tick must
 * not block; it may submit fetches. Set once, before use; `arg` must stay
 * valid until cg_fetcher_free.
 */
void cg_fetcher_set_tick(struct cg_fetcher *f, unsigned interval_ms, void (*tick)(void *arg),
                         void *arg);

/* A copy of a result, for the blocking form. Free with cg_fetch_copy_free. */
struct cg_fetch_copy {
    int rc;
    long http_status;
    unsigned char *body;
    size_t len;
    char *content_type, *error;
    double elapsed_ms;
    bool coalesced, negative_cached;
};

/* Submits and waits (for the CLI and tests; never on a loop thread). */
int cg_fetcher_fetch(struct cg_fetcher *f, const char *url, const char *content_type,
                     const void *body, size_t body_len, struct cg_fetch_copy *out, char **err);
void cg_fetch_copy_free(struct cg_fetch_copy *c);

#endif

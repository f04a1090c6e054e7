/*
 * revcache.h: revocation answers kept between fetches. CRLs are keyed by
 * distribution-point URL, OCSP responses by certificate ID (hex of the
 * issuer name hash, issuer key hash and serial). An answer is served until
 * its nextUpdate, re-fetched at most every `refresh` before that, and
 * served up to `stale_grace` past nextUpdate when no fresh one can be had.
 *
 * Persistence: with a state directory, every put is written atomically
 * (temp file, fsync, rename) to STATE/revocation/{crl,ocsp}/<sha256 of key>,
 * and everything there is read back by cg_revcache_new(), so a restart does
 * not send every client's first request to the responders at once. The
 * stored bytes are the answer as received: they are judged again (signature,
 * times) on every use, so a file tampered with on disk cannot pass.
 *
 * This is the in-process backend; a shared backend (Redis) would implement
 * the same calls. Thread safety: every call is safe from any thread.
 */
#ifndef CG_CERT_REVCACHE_H
#define CG_CERT_REVCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cert/crl_index.h"

struct cg_revcache;

typedef enum { CG_REVCACHE_CRL = 0, CG_REVCACHE_OCSP } cg_revcache_kind_t;

struct cg_revcache_opts {
    const char *state_dir;     /* NULL: memory only */
    long refresh_s;            /* re-fetch at most this often; 0: 3600 */
    long stale_grace_s;        /* serve this long past nextUpdate when no fresh answer */
    size_t max_entries;        /* 0: 10000; the entry nearest expiry is dropped first */
    size_t max_bytes;          /* per answer (reload refuses bigger files); 0: 64 MiB */
    long idle_s;               /* an answer not read for this long (or two of its refresh
                                  periods, if longer) is no longer refreshed in the
                                  background; 0: 3600 */
};

/* Loads what STATE/revocation holds (unreadable files are skipped). */
struct cg_revcache *cg_revcache_new(const struct cg_revcache_opts *opts, char **err);
void cg_revcache_free(struct cg_revcache *c);   /* NULL-safe */

struct cg_revcache_blob;

/* One answer, shared (not copied: a get costs the same for a 30 MB CRL as
 * for an OCSP response). Release with cg_revcache_entry_free. */
struct cg_revcache_entry {
    const unsigned char *der;     /* valid until cg_revcache_entry_free */
    size_t len;
    struct cg_revcache_blob *blob;   /* the reference held */
    time_t fetched_at, this_update, next_update;   /* next_update 0: none given */
    time_t due;                   /* min(next_update, fetched_at + the reader's refresh) */
    struct cg_crl_index *index;   /* CRLs: the index built from der, when one was
                                     attached (a reference; NULL otherwise) */
};
void cg_revcache_entry_free(struct cg_revcache_entry *e);

/*
 * Stores an answer (copied) that has been judged usable, replacing what
 * the key held. Persists it when there is a state directory.
 * CG_OK, or CG_ERR with *err (the answer is still kept in memory when only
 * the write failed).
 */
int cg_revcache_put(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                    const unsigned char *der, size_t len, time_t fetched_at,
                    time_t this_update, time_t next_update, char **err);
/*
 * cg_revcache_put with a tag: what of the answer a verdict depends on (an
 * OCSP status and revocation date, a CRL's number), so that replacing an
 * answer by one that says the same (a responder's fresh signature over the
 * same "good") keeps the epoch, and one that says otherwise bumps it.
 * CG_REVCACHE_NO_TAG: the bytes are compared instead.
 */
#define CG_REVCACHE_NO_TAG (-1LL)
int cg_revcache_put_tagged(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                           const unsigned char *der, size_t len, time_t fetched_at,
                           time_t this_update, time_t next_update, long long tag, char **err);

/*
 * A number that changes whenever an answer held is replaced by one that
 * says something else. Verdicts judged on the cache's answers are kept (by
 * the verification cache) under the epoch they were judged in: a
 * revocation that a background refresh brings in reaches the next request
 * at once, not when the kept verdict expires.
 */
uint64_t cg_revcache_epoch(struct cg_revcache *c);

/* Attaches a built CRL index to the CRL entry `key` (takes a reference). */
void cg_revcache_set_index(struct cg_revcache *c, const char *key, struct cg_crl_index *ix);

/*
 * Looks an answer up at time `now`:
 *   CG_OK        fresh: use it, no fetch needed;
 *   CG_AGAIN     usable, but due: fetch, and use this one only if the fetch
 *                fails (refresh elapsed, or past nextUpdate within the grace);
 *   CG_DECLINED  nothing usable (absent, or past nextUpdate + grace).
 * *out is filled for CG_OK and CG_AGAIN.
 */
int cg_revcache_get(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                    time_t now, struct cg_revcache_entry *out);

/*
 * cg_revcache_get for a reader with its own `refresh` (seconds; 0: the
 * cache's) and stale grace (seconds; negative: the cache's): a site's
 * policy, when sites differ. Also records the read: an answer is refreshed
 * in the background only while it is read, on the shortest `refresh` of
 * its readers.
 */
int cg_revcache_get_for(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                        time_t now, long refresh_s, long stale_grace_s,
                        struct cg_revcache_entry *out);

size_t cg_revcache_count(struct cg_revcache *c);

/* ---- background refresh ---------------------------------------------------
 *
 * An answer whose origin is known (who fetched it says where and how) is
 * handed out by cg_revcache_take_due a little before it is due (a quarter of
 * its life, 1 s to 5 min, before min(nextUpdate, fetched + refresh)), once
 * at a time (in flight until cg_revcache_refresh_done), and again after a
 * failed refresh with a backoff of 1, 2, 4 ... 64 s while it is still
 * usable. Readers keep getting the current answer meanwhile; a put replaces
 * it. Answers reloaded from disk are refreshed only once read again, and
 * answers no longer read (idle_s) are left to age, so a restart or a site
 * that went away does not keep the responders busy. */
struct cg_revcache_origin {
    char *url;                 /* OCSP: the responder; CRL: the distribution point */
    X509 *cert;                /* OCSP: the certificate asked about; CRL: NULL */
    X509 *issuer;              /* the CA that signs the answer */
    unsigned timeout_ms;       /* per fetch; 0: the fetcher's */
    size_t max_bytes;          /* CRLs: the size limit; 0: the default */
};

/* Records where the answer `key` comes from (copied: url duplicated, the
 * certificates referenced). No effect when the key holds no answer. */
void cg_revcache_set_origin(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                            const struct cg_revcache_origin *origin);

struct cg_revcache_due {
    cg_revcache_kind_t kind;
    char *key;
    struct cg_revcache_origin origin;   /* a copy */
    time_t this_update, next_update;    /* of the answer held */
    unsigned failures;                  /* refreshes of it failed in a row so far */
};

/* Fills out[0..cap) with the answers to refresh now, marks them in flight,
 * returns how many. Each must get cg_revcache_refresh_done, then
 * cg_revcache_due_clear. */
size_t cg_revcache_take_due(struct cg_revcache *c, time_t now, struct cg_revcache_due *out,
                            size_t cap);
typedef enum {
    CG_REVCACHE_REFRESH_OK = 0,     /* the answer was replaced (or confirmed) */
    CG_REVCACHE_REFRESH_FAILED,     /* retried after the backoff: 1, 2, 4 ... 64 s */
    CG_REVCACHE_REFRESH_NOT_ASKED,  /* not tried (the fetcher's own backoff for the URL):
                                       looked at again in a second, not counted */
} cg_revcache_refresh_t;
/* The refresh of d is over. */
void cg_revcache_refresh_done(struct cg_revcache *c, const struct cg_revcache_due *d,
                              cg_revcache_refresh_t how, time_t now);
void cg_revcache_due_clear(struct cg_revcache_due *d);

#endif

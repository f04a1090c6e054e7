/*
 * vcache.h: the verification cache. A client chain already judged is not
 * verified again while nothing its verdict depends on can have changed:
 *
 *   - the chain: the key holds SHA-256 over the DER of the leaf and of every
 *     certificate the client sent, in order;
 *   - the policy: the key holds a digest of every field of struct cg_policy
 *     (cg_policy_digest), so a verdict taken under another policy is never
 *     served;
 *   - the trust stores: the key holds the trust's epoch, a number no other
 *     struct cg_trust ever gets in this process, so a reload (a new trust)
 *     misses even when the allocator hands out the same address again;
 *   - time: a verdict is kept only for the span of time around the moment
 *     it was taken in which no date it depends on falls: the notBefore and
 *     notAfter of every certificate of its path, the thisUpdate, nextUpdate
 *     (and thisUpdate + max_crl_age, thisUpdate - clock_skew) of the trust's
 *     CRLs, and the thisUpdate / nextUpdate of each revocation answer a
 *     hook gave, and the time the answer cache wants that answer fetched
 *     again (`due`): the judge after it reads the answer cache, which is
 *     what keeps an answer in use refreshed in the background. A lookup
 *     outside that span misses (and judges again).
 *
 * Revocation answers from a hook (OCSP, fetched CRLs) can change before
 * their nextUpdate (a first answer arrives, the answer cache refreshes), so
 * verdicts built on them are also capped by limits.revocation_ttl, and
 * verdicts with an element whose status is unknown by limits.unknown_ttl
 * (0: never cached): the next request judges again with the answers then at
 * hand. Every verdict is capped by limits.max_ttl.
 *
 * Bounded: at most max_entries verdicts and max_bytes of memory (an
 * estimate that counts the verdict's strings and arrays and the DER size
 * of the certificates it holds); the least recently used goes first.
 *
 * Threads: the table is split into shards, each with its own mutex held
 * for a hash lookup and a list move only (never while judging), so workers
 * rarely meet on a lock and a chain judged by one worker is a hit for all
 * (bench/README.md "verification cache" has the measurement against one
 * lock and per-thread caches). Two workers missing on the same chain at
 * once both judge; the second insert replaces the first.
 *
 * Ownership: verdicts are handed out as struct cg_verdict_ref, refcounted
 * and immutable: the cache holds one reference, each caller one more, and
 * the last cg_verdict_ref_unref frees. The X509 objects of a cached
 * verdict's path are those of the connection that was judged first (same
 * bytes as the caller's, not the same pointers).
 */
#ifndef CG_CERT_VCACHE_H
#define CG_CERT_VCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "cert/verdict.h"

#define CG_VCACHE_KEY_LEN 32

struct cg_vcache_limits {
    size_t max_entries;      /* 0: CG_VCACHE_DEFAULT_ENTRIES */
    size_t max_bytes;        /* 0: CG_VCACHE_DEFAULT_BYTES */
    unsigned shards;         /* power of two rounded up; 0: CG_VCACHE_DEFAULT_SHARDS */
    time_t max_ttl;          /* seconds; 0: CG_VCACHE_DEFAULT_MAX_TTL */
    time_t revocation_ttl;   /* seconds, when a hook answered; 0: CG_VCACHE_DEFAULT_REV_TTL */
    time_t unknown_ttl;      /* seconds, when a hook's status is unknown; 0: not cached */
};

#define CG_VCACHE_DEFAULT_ENTRIES 10000
#define CG_VCACHE_DEFAULT_BYTES   (32u * 1024 * 1024)
#define CG_VCACHE_DEFAULT_SHARDS  16
#define CG_VCACHE_DEFAULT_MAX_TTL 3600
#define CG_VCACHE_DEFAULT_REV_TTL 300

struct cg_vcache_stats {
    uint64_t hits;           /* served from the cache */
    uint64_t misses;         /* judged (cg_verdict_judge was called) */
    uint64_t expired;        /* ... of which an entry was there but out of its span */
    uint64_t inserts;
    uint64_t evictions;      /* dropped to stay within max_entries / max_bytes */
    uint64_t uncacheable;    /* judged and not kept (no certificate, no trust, a
                                verdict too big for a shard, unknown_ttl 0) */
    size_t entries, bytes;   /* held now */
};

/* A refcounted, immutable verdict. */
struct cg_verdict_ref;

/* The verdict (borrowed: valid while the caller holds its reference). */
const struct cg_verdict *cg_verdict_ref_get(const struct cg_verdict_ref *r);
/* The span [from, until) of time in which the verdict holds (see above). */
void cg_verdict_ref_span(const struct cg_verdict_ref *r, time_t *from, time_t *until);
struct cg_verdict_ref *cg_verdict_ref_dup(struct cg_verdict_ref *r);
void cg_verdict_ref_unref(struct cg_verdict_ref *r);   /* NULL-safe */

struct cg_vcache;

/* NULL on allocation failure. `limits` may be NULL (all defaults). */
struct cg_vcache *cg_vcache_new(const struct cg_vcache_limits *limits);
/* NULL-safe. References handed out stay valid after the cache is gone. */
void cg_vcache_free(struct cg_vcache *c);

/*
 * cg_verdict_judge(leaf, chain, trust, at, policy) through the cache: a
 * verdict found for the same chain, policy and trust whose span holds `at`
 * is returned without judging; otherwise the chain is judged and the
 * verdict kept (when cacheable). `cache` may be NULL: judges every time.
 * CG_OK with *out (the caller's reference), or CG_ERR on allocation failure
 * (*out NULL). policy NULL means cg_policy_init defaults.
 */
int cg_vcache_judge(struct cg_vcache *cache, X509 *leaf, STACK_OF(X509) *chain,
                    const struct cg_trust *trust, time_t at, const struct cg_policy *policy,
                    struct cg_verdict_ref **out);

/*
 * cg_vcache_judge for a policy whose revocation_arg is built per call (the
 * server fills a struct cg_rev_online on the stack): its address says
 * nothing, so `arg_key` (arg_key_len bytes: what decides the hook's answers,
 * e.g. the whole struct, zeroed before it is filled so that its padding is
 * too) stands for it in the key. arg_key NULL: the address, as above.
 */
int cg_vcache_judge_ex(struct cg_vcache *cache, X509 *leaf, STACK_OF(X509) *chain,
                       const struct cg_trust *trust, time_t at, const struct cg_policy *policy,
                       const void *arg_key, size_t arg_key_len, struct cg_verdict_ref **out);

/* Sums over the shards (a snapshot; shards are read one after the other). */
void cg_vcache_stats(struct cg_vcache *c, struct cg_vcache_stats *out);

/* Drops every entry (counted neither as evictions nor as misses). */
void cg_vcache_clear(struct cg_vcache *c);

/* SHA-256 over every field of `p` that can change a verdict (the hook and
 * its argument by address). CG_OK / CG_ERR. */
int cg_policy_digest(const struct cg_policy *p, unsigned char out[CG_VCACHE_KEY_LEN]);

/* The epoch of `t`: unique per struct cg_trust for the life of the process. */
uint64_t cg_trust_epoch(const struct cg_trust *t);

#endif

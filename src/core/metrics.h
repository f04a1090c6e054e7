/*
 * metrics.h: counters without a shared lock on the hot path, and the
 * Prometheus text exposition format (version 0.0.4) to publish them.
 *
 * A struct cg_metrics is a table of `n_counters` 64-bit counters kept in
 * `n_shards` copies (shards): one per writer thread (a worker loop) and one
 * more, the shared shard, for counters that several threads bump. What the
 * counters mean, and how they are laid out in the table, is the caller's
 * business: every index is fixed when the table is made, so label sets are
 * known in advance and a scrape can never grow them.
 *
 *   - a thread's own shard is written by that thread only, with a relaxed
 *     load and a relaxed store (cg_metrics_add): no locked instruction, no
 *     cache line shared with another writer (shards are 64-byte aligned);
 *     the atomics only keep a concurrent scrape free of data races;
 *   - the shared shard takes a relaxed fetch-and-add (cg_metrics_add_shared):
 *     for the few counters bumped from threads that own no shard;
 *   - a scrape (any thread) sums one index over every shard
 *     (cg_metrics_sum). The sum is a snapshot read one shard after the
 *     other: each counter is monotonic, not every pair of counters is
 *     consistent with the other at one instant.
 *
 * A gauge that goes up and down on the hot path (connections open) is two
 * counters (opened, closed) whose difference is taken at scrape time.
 *
 * Exposition: struct cg_metrics_text builds the body of a scrape, bounded
 * by a byte limit; HELP text and label values are escaped as the format
 * says (backslash, double quote in label values, line feed).
 */
#ifndef CG_CORE_METRICS_H
#define CG_CORE_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One writer thread's copy of the table. */
struct cg_metrics_shard {
    _Atomic uint64_t *v;
};

struct cg_metrics;

/* NULL on allocation failure. n_shards writer shards (0 means 1) plus the
 * shared shard. Counters start at zero. */
struct cg_metrics *cg_metrics_new(size_t n_counters, unsigned n_shards);
void cg_metrics_free(struct cg_metrics *m);   /* NULL-safe */
size_t cg_metrics_counters(const struct cg_metrics *m);
unsigned cg_metrics_shards(const struct cg_metrics *m);   /* writer shards */

/* Writer shard i (i < cg_metrics_shards); valid as long as m. */
struct cg_metrics_shard *cg_metrics_shard(struct cg_metrics *m, unsigned i);

/* Adds n to counter i of the caller's own shard (one writer per shard). */
static inline void cg_metrics_add(struct cg_metrics_shard *s, size_t i, uint64_t n)
{
    atomic_store_explicit(&s->v[i], atomic_load_explicit(&s->v[i], memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Adds n to counter i of the shared shard (any thread). */
void cg_metrics_add_shared(struct cg_metrics *m, size_t i, uint64_t n);

/* Counter i summed over every shard, the shared one included. */
uint64_t cg_metrics_sum(const struct cg_metrics *m, size_t i);

/* ---- text exposition format 0.0.4 ----------------------------------------- */

#define CG_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct cg_metrics_text {
    char *p;                 /* NUL-terminated; owned */
    size_t len, cap, max;
    bool overflow;           /* a write would have passed max (or out of memory):
                                the body is incomplete and must not be served */
};

/* An empty body that may grow up to `max` bytes. */
void cg_metrics_text_init(struct cg_metrics_text *t, size_t max);
void cg_metrics_text_free(struct cg_metrics_text *t);

/* "# HELP name help" and "# TYPE name type" (type: "counter", "gauge"). */
void cg_metrics_family(struct cg_metrics_text *t, const char *name, const char *type,
                       const char *help);

/*
 * One sample line: name{k1="v1",k2="v2"} value. `labels` holds n_labels
 * pairs (name, value, name, value, ...); label values are escaped, names
 * must be valid label names (they are the caller's constants).
 */
void cg_metrics_sample(struct cg_metrics_text *t, const char *name, const char *const *labels,
                       size_t n_labels, uint64_t value);

#endif

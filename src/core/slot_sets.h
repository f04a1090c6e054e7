/*
 * slot_sets.h: the shape of a bounded set-associative table of a thread's
 * own: exactly n slots, in sets of CG_SLOT_WAYS (the last set may have
 * fewer), a key's hash (keyed with the process's seed, so keys cannot be
 * chosen to share a set) picking its set. The per-thread caches
 * (cert/ecdsa_tables.c, tls/cert_reuse.c) keep their own slot type in an
 * array of n and ask this which slots a hash may use and what time it is;
 * a lookup is a few compares whatever n, and keys made to collide only push
 * each other out.
 */
#ifndef CG_CORE_SLOT_SETS_H
#define CG_CORE_SLOT_SETS_H

#include <stdint.h>

#include "core/thread_local.h"

#define CG_SLOT_WAYS 4

struct cg_slot_sets {
    unsigned n_slots;
    unsigned sets;     /* ceil(n_slots / CG_SLOT_WAYS) */
    uint64_t clock;    /* ticks once per use: least recently used = smallest */
    uint64_t seed;     /* cg_process_seed(), for the caller's hash */
};

static inline void cg_slot_sets_init(struct cg_slot_sets *s, unsigned n_slots)
{
    s->n_slots = n_slots;
    s->sets = (n_slots + CG_SLOT_WAYS - 1) / CG_SLOT_WAYS;
    s->clock = 0;
    s->seed = cg_process_seed();
}

/* The index of the first slot of hash h's set; *ways: how many it has. */
static inline unsigned cg_slot_sets_of(const struct cg_slot_sets *s, uint64_t h, unsigned *ways)
{
    unsigned first = (unsigned)(h % s->sets) * CG_SLOT_WAYS;

    *ways = s->n_slots - first < CG_SLOT_WAYS ? s->n_slots - first : CG_SLOT_WAYS;
    return first;
}

#endif

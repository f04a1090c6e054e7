/*
 * ecdsa_tables.c: per-thread P-256 key tables and the verification that
 * uses them (see ecdsa_tables.h).
 *
 * Each thread's keys live in a set-associative array of exactly the
 * configured number of slots (core/slot_sets.h): a key's hash picks a set,
 * a new key replaces the set's least recently used one.
 */
#include "cert/ecdsa_tables.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/slot_sets.h"
#include "core/thread_local.h"

struct slot {
    uint64_t hash;
    uint64_t last_used;
    uint32_t uses;                 /* signatures verified by the key so far */
    bool no_table;                 /* its table could not be made: never again */
    struct cg_p256_table *table;   /* owned; NULL until `uses` reaches the bound */
    uint8_t point[CG_P256_POINT_BYTES];
};

struct thread_cache {
    struct slot *slots;          /* shape.n_slots (limits.ecdsa_key_tables), owned */
    struct cg_slot_sets shape;
};

static unsigned conf_entries = CG_ECDSA_TABLES_DEFAULT_ENTRIES;
static unsigned conf_uses = CG_ECDSA_TABLES_DEFAULT_USES;

static atomic_uint_fast64_t st_table_verifications, st_built, st_evicted, st_held;

static __thread struct thread_cache *this_thread;

static void drop_slot(struct slot *s)
{
    if (s->table != NULL) {
        cg_p256_table_free(s->table);
        atomic_fetch_sub_explicit(&st_held, 1, memory_order_relaxed);
    }
    memset(s, 0, sizeof(*s));
}

/* A thread's cache goes with the thread (thread_local.h). */
static void free_cache(void *p)
{
    struct thread_cache *c = p;

    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->shape.n_slots; i++)
        drop_slot(&c->slots[i]);
    free(c->slots);
    free(c);
}

static struct cg_thread_local caches = CG_THREAD_LOCAL_INIT(free_cache);

void cg_ecdsa_tables_configure(unsigned entries, unsigned uses_before_table)
{
    conf_entries = entries;
    conf_uses = uses_before_table > 0 ? uses_before_table : 1;
}

/* This thread's cache, made on first use; NULL when the tables are off or
 * memory is short (the caller then lets OpenSSL verify). */
static struct thread_cache *cache(void)
{
    struct thread_cache *c = this_thread;

    if (c != NULL || conf_entries == 0)
        return c;
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->slots = calloc(conf_entries, sizeof(*c->slots))) == NULL) {
        free(c);
        return NULL;
    }
    cg_slot_sets_init(&c->shape, conf_entries);
    if (cg_thread_local_set(&caches, c) != CG_OK) {
        free_cache(c);
        return NULL;
    }
    this_thread = c;
    return c;
}

void cg_ecdsa_tables_thread_release(void)
{
    cg_thread_local_release(&caches, this_thread);
    this_thread = NULL;
}

static uint64_t point_hash(uint64_t seed, const uint8_t point[CG_P256_POINT_BYTES])
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;   /* FNV-1a, keyed */

    for (size_t i = 0; i < CG_P256_POINT_BYTES; i++)
        h = (h ^ point[i]) * 0x100000001b3ULL;
    return h ^ h >> 29;
}

/* The key's slot: found, or taken from the set's least recently used. */
static struct slot *slot_for(struct thread_cache *c, const uint8_t point[CG_P256_POINT_BYTES])
{
    uint64_t h = point_hash(c->shape.seed, point);
    unsigned ways, first = cg_slot_sets_of(&c->shape, h, &ways);
    struct slot *set = c->slots + first, *victim = set;

    for (unsigned i = 0; i < ways; i++) {
        struct slot *s = &set[i];

        if (s->uses != 0 && s->hash == h && memcmp(s->point, point, CG_P256_POINT_BYTES) == 0)
            return s;
        if (s->uses == 0 || (victim->uses != 0 && s->last_used < victim->last_used))
            victim = s;
    }
    if (victim->uses != 0)
        atomic_fetch_add_explicit(&st_evicted, 1, memory_order_relaxed);
    drop_slot(victim);
    victim->hash = h;
    memcpy(victim->point, point, CG_P256_POINT_BYTES);
    return victim;
}

/* One DER INTEGER, non-negative and minimally encoded, of at most 32
 * bytes of magnitude, into out (big-endian, left-padded). Advances *p.
 * false for anything else (OpenSSL then decides). */
static bool der_scalar(const uint8_t **p, const uint8_t *end, uint8_t out[CG_P256_SCALAR_BYTES])
{
    const uint8_t *q = *p;
    size_t len;

    if (end - q < 2 || q[0] != 0x02 || q[1] & 0x80)
        return false;
    len = q[1];
    q += 2;
    if (len == 0 || (size_t)(end - q) < len || q[0] & 0x80)
        return false;                               /* empty, short or negative */
    if (len > 1 && q[0] == 0 && !(q[1] & 0x80))
        return false;                               /* not minimal */
    if (q[0] == 0) {
        q++;
        len--;
    }
    if (len > CG_P256_SCALAR_BYTES)
        return false;
    memset(out, 0, CG_P256_SCALAR_BYTES - len);
    memcpy(out + CG_P256_SCALAR_BYTES - len, q, len);
    *p = q + len;
    return true;
}

/* SEQUENCE { INTEGER r, INTEGER s } in DER with nothing after it. */
static bool der_signature(const uint8_t *sig, size_t len, uint8_t r[CG_P256_SCALAR_BYTES],
                          uint8_t s[CG_P256_SCALAR_BYTES])
{
    const uint8_t *p = sig, *end = sig + len;

    if (len < 2 || sig[0] != 0x30 || sig[1] & 0x80 || (size_t)sig[1] != len - 2)
        return false;
    p += 2;
    return der_scalar(&p, end, r) && der_scalar(&p, end, s) && p == end;
}

int cg_ecdsa_tables_verify(const uint8_t point[CG_P256_POINT_BYTES], const uint8_t *digest,
                           size_t digest_len, const uint8_t *sig, size_t sig_len)
{
    struct thread_cache *c = cache();
    uint8_t r[CG_P256_SCALAR_BYTES], s[CG_P256_SCALAR_BYTES];
    struct slot *slot;

    if (c == NULL)
        return -1;
    slot = slot_for(c, point);
    slot->last_used = ++c->shape.clock;
    if (slot->uses < UINT32_MAX)
        slot->uses++;
    if (slot->table == NULL) {
        if (slot->no_table || slot->uses < conf_uses)
            return -1;
        if (cg_p256_table_new(point, &slot->table) != CG_OK) {
            slot->no_table = true;
            return -1;
        }
        atomic_fetch_add_explicit(&st_built, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&st_held, 1, memory_order_relaxed);
    }
    if (!der_signature(sig, sig_len, r, s))
        return -1;
    atomic_fetch_add_explicit(&st_table_verifications, 1, memory_order_relaxed);
    return cg_p256_verify(slot->table, digest, digest_len, r, s);
}

void cg_ecdsa_tables_stats(struct cg_ecdsa_tables_stats *out)
{
    out->table_verifications = atomic_load_explicit(&st_table_verifications, memory_order_relaxed);
    out->tables_built = atomic_load_explicit(&st_built, memory_order_relaxed);
    out->keys_evicted = atomic_load_explicit(&st_evicted, memory_order_relaxed);
    out->tables_held = atomic_load_explicit(&st_held, memory_order_relaxed);
}

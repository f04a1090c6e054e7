/*
 * thread_local.h: an object of each thread's own, freed with the thread.
 *
 * The per-thread caches (cert/ecdsa_tables.c, tls/cert_reuse.c,
 * tls/fetch_cache.c) each keep a pointer to the calling thread's object in a
 * __thread variable, for a lookup without a lock, and register the object
 * here so that a thread that exits does not leave it behind: the free
 * function given runs on it at the thread's exit, unless the thread let it
 * go first (cg_thread_local_release).
 */
#ifndef CG_CORE_THREAD_LOCAL_H
#define CG_CORE_THREAD_LOCAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct cg_thread_local {
    void (*free_fn)(void *);
    atomic_bool ready;   /* key made */
    pthread_key_t key;
};

#define CG_THREAD_LOCAL_INIT(free_fn) {(free_fn), false, 0}

/* Registers p as the calling thread's object: free_fn(p) at the thread's
 * exit. CG_OK, or CG_ERR (out of keys or memory: the caller frees p). */
int cg_thread_local_set(struct cg_thread_local *tl, void *p);

/* Unregisters the calling thread's object p and frees it now, as the
 * thread's exit would (p NULL: nothing). */
void cg_thread_local_release(struct cg_thread_local *tl, void *p);

/* A random value drawn once per process, for hashes an outsider must not be
 * able to predict (what shares a cache set); fixed for the process's life. */
uint64_t cg_process_seed(void);

#endif

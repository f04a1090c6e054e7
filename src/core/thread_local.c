/*
 * thread_local.c: per-thread objects freed with their threads, and the
 * process's hash seed (see thread_local.h).
 */
#include "core/thread_local.h"

#include <sys/random.h>

#include "core/common.h"

/* Keys are made on first use, under one lock (rare: once per module). */
static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;

int cg_thread_local_set(struct cg_thread_local *tl, void *p)
{
    if (!atomic_load_explicit(&tl->ready, memory_order_acquire)) {
        pthread_mutex_lock(&key_lock);
        if (!atomic_load_explicit(&tl->ready, memory_order_relaxed) &&
            pthread_key_create(&tl->key, tl->free_fn) == 0)
            atomic_store_explicit(&tl->ready, true, memory_order_release);
        pthread_mutex_unlock(&key_lock);
        if (!atomic_load_explicit(&tl->ready, memory_order_acquire))
            return CG_ERR;
    }
    return pthread_setspecific(tl->key, p) == 0 ? CG_OK : CG_ERR;
}

void cg_thread_local_release(struct cg_thread_local *tl, void *p)
{
    if (p == NULL)
        return;
    if (atomic_load_explicit(&tl->ready, memory_order_acquire))
        (void)pthread_setspecific(tl->key, NULL);
    tl->free_fn(p);
}

static uint64_t seed;
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void draw_seed(void)
{
    if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
        seed = (uint64_t)(uintptr_t)&seed;   /* still fixed per process */
}

uint64_t cg_process_seed(void)
{
    pthread_once(&seed_once, draw_seed);
    return seed;
}

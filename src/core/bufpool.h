/*
 * bufpool.h: a per-thread cache of equal-sized buffers.
 *
 * Connections need their large buffers (request input, response output) only
 * while a request is in flight. Taking them from a small cache instead of
 * malloc/free for every request keeps the allocator from interleaving them
 * with long-lived allocations (TLS state, connection structs), which is what
 * otherwise fragments the heap and grows the memory of idle connections.
 *
 * Not thread-safe: one pool per worker thread. Bounded: at most `max` free
 * buffers are kept; the rest go back to malloc.
 */
#ifndef CG_CORE_BUFPOOL_H
#define CG_CORE_BUFPOOL_H

#include <stddef.h>

#define CG_BUFPOOL_MAX 32

struct cg_bufpool {
    size_t size;                 /* bytes of every buffer; 0: not initialised */
    size_t max;                  /* free buffers kept, <= CG_BUFPOOL_MAX */
    size_t n;
    void *free[CG_BUFPOOL_MAX];
};

void cg_bufpool_init(struct cg_bufpool *p, size_t size, size_t max);
/* A buffer of p->size bytes (uninitialised), or NULL when out of memory. */
void *cg_bufpool_get(struct cg_bufpool *p);
/* Gives back a buffer from cg_bufpool_get() of a pool of the same size
 * (NULL-safe). */
void cg_bufpool_put(struct cg_bufpool *p, void *buf);
/* Changes the size (a reload changed a limit): the cached buffers are freed. */
void cg_bufpool_resize(struct cg_bufpool *p, size_t size);
/* Frees the cached buffers. */
void cg_bufpool_fini(struct cg_bufpool *p);

#endif

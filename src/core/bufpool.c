#include "core/bufpool.h"

#include <stdlib.h>

void cg_bufpool_init(struct cg_bufpool *p, size_t size, size_t max)
{
    p->size = size;
    p->max = max < CG_BUFPOOL_MAX ? max : CG_BUFPOOL_MAX;
    p->n = 0;
}

void *cg_bufpool_get(struct cg_bufpool *p)
{
    if (p->n > 0)
        return p->free[--p->n];
    return malloc(p->size);
}

void cg_bufpool_put(struct cg_bufpool *p, void *buf)
{
    if (buf == NULL)
        return;
    if (p->n < p->max) {
        p->free[p->n++] = buf;
        return;
    }
    free(buf);
}

void cg_bufpool_resize(struct cg_bufpool *p, size_t size)
{
    if (size == p->size)
        return;
    cg_bufpool_fini(p);
    p->size = size;
}

void cg_bufpool_fini(struct cg_bufpool *p)
{
    while (p->n > 0)
        free(p->free[--p->n]);
}

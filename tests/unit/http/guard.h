/*
 * guard.h: places test input so that its last byte is the last byte before
 * an inaccessible page, so a parser that reads one byte too far crashes
 * instead of passing by luck.
 */
#ifndef CG_TEST_HTTP_GUARD_H
#define CG_TEST_HTTP_GUARD_H

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guarded {
    char *map;        /* the whole mapping */
    size_t map_len;
    char *p;          /* the input, ending at the guard page */
};

/* Copies data[0..len) right before a PROT_NONE page; aborts on failure. */
static inline struct guarded guard_place(const void *data, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page;
    struct guarded g;

    if (data_pages == 0)
        data_pages = 1;
    g.map_len = (data_pages + 1) * page;
    g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g.map == MAP_FAILED)
        abort();
    if (mprotect(g.map + data_pages * page, page, PROT_NONE) != 0)
        abort();
    g.p = g.map + data_pages * page - len;
    if (len)
        memcpy(g.p, data, len);
    return g;
}

static inline void guard_release(struct guarded *g)
{
    munmap(g->map, g->map_len);
    g->map = NULL;
    g->p = NULL;
}

#endif

/*
 * filecache.c: a hash table of entries chained per bucket, and one
 * doubly linked list in use order (head: most recent) for eviction.
 */
#include "http/filecache.h"

#include <stdlib.h>
#include <string.h>

#include "core/common.h"

struct cg_file_cache {
    struct cg_file_cache_limits lim;
    struct cg_file_cache_entry **buckets;
    size_t n_buckets;                      /* a power of two */
    struct cg_file_cache_entry *head, *tail;
    size_t count, used;
};

static uint64_t key_hash(uint64_t site, const char *path, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */

    for (int i = 0; i < 8; i++) {
        h ^= (site >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)path[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static int make_buckets(struct cg_file_cache *c)
{
    size_t n = 16;

    while (n < c->lim.entries && n < ((size_t)1 << 30))
        n <<= 1;
    c->buckets = calloc(n, sizeof(*c->buckets));
    if (c->buckets == NULL)
        return CG_ERR;
    c->n_buckets = n;
    return CG_OK;
}

struct cg_file_cache *cg_file_cache_new(const struct cg_file_cache_limits *lim)
{
    struct cg_file_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->lim = *lim;
    if (make_buckets(c) != CG_OK) {
        free(c);
        return NULL;
    }
    return c;
}

static void unlink_entry(struct cg_file_cache *c, struct cg_file_cache_entry *e)
{
    struct cg_file_cache_entry **pp = &c->buckets[e->hash & (c->n_buckets - 1)];

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    c->count--;
    c->used -= e->cost;
    free(e);
}

static void drop_all(struct cg_file_cache *c)
{
    while (c->head != NULL)
        unlink_entry(c, c->head);
}

void cg_file_cache_free(struct cg_file_cache *c)
{
    if (c == NULL)
        return;
    drop_all(c);
    free(c->buckets);
    free(c);
}

int cg_file_cache_set_limits(struct cg_file_cache *c, const struct cg_file_cache_limits *lim)
{
    struct cg_file_cache_entry **old = c->buckets;
    size_t old_n = c->n_buckets;

    if (memcmp(&c->lim, lim, sizeof(*lim)) == 0)
        return CG_OK;
    drop_all(c);
    c->lim = *lim;
    if (make_buckets(c) != CG_OK) {
        c->buckets = old;
        c->n_buckets = old_n;
        return CG_ERR;
    }
    free(old);
    return CG_OK;
}

const struct cg_file_cache_limits *cg_file_cache_limits(const struct cg_file_cache *c)
{
    return &c->lim;
}

static struct cg_file_cache_entry *find(struct cg_file_cache *c, uint64_t site, const char *path,
                                        size_t len, uint64_t h)
{
    for (struct cg_file_cache_entry *e = c->buckets[h & (c->n_buckets - 1)]; e != NULL;
         e = e->hnext)
        if (e->hash == h && e->site == site && e->path_len == len &&
            memcmp(e->path, path, len) == 0)
            return e;
    return NULL;
}

static void move_to_front(struct cg_file_cache *c, struct cg_file_cache_entry *e)
{
    if (c->head == e)
        return;
    e->prev->next = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = NULL;
    e->next = c->head;
    c->head->prev = e;
    c->head = e;
}

struct cg_file_cache_entry *cg_file_cache_get(struct cg_file_cache *c, uint64_t site,
                                              const char *path, size_t path_len, int64_t now_ms,
                                              bool *fresh)
{
    struct cg_file_cache_entry *e = find(c, site, path, path_len, key_hash(site, path, path_len));

    *fresh = false;
    if (e == NULL)
        return NULL;
    move_to_front(c, e);
    /* a clock that went backwards never makes an entry fresh */
    *fresh = now_ms >= e->checked_ms && now_ms - e->checked_ms < (int64_t)c->lim.valid_ms;
    return e;
}

void cg_file_cache_touch(struct cg_file_cache_entry *e, int64_t now_ms)
{
    e->checked_ms = now_ms;
}

bool cg_file_cache_same(const struct cg_file_cache_entry *e, const struct cg_file_facts *f)
{
    const struct cg_file_facts *a = &e->facts;

    return a->dev == f->dev && a->ino == f->ino && a->size == f->size &&
           a->mtime.tv_sec == f->mtime.tv_sec && a->mtime.tv_nsec == f->mtime.tv_nsec &&
           a->ctime.tv_sec == f->ctime.tv_sec && a->ctime.tv_nsec == f->ctime.tv_nsec;
}

void cg_file_cache_drop(struct cg_file_cache *c, uint64_t site, const char *path,
                        size_t path_len)
{
    struct cg_file_cache_entry *e = find(c, site, path, path_len, key_hash(site, path, path_len));

    if (e != NULL)
        unlink_entry(c, e);
}

struct cg_file_cache_entry *cg_file_cache_put(struct cg_file_cache *c, uint64_t site,
                                              const char *path, size_t path_len,
                                              const struct cg_file_facts *f, const void *data,
                                              int64_t now_ms)
{
    uint64_t h = key_hash(site, path, path_len);
    struct cg_file_cache_entry *e = find(c, site, path, path_len, h);
    size_t cost;
    unsigned char *block;

    if (e != NULL)
        unlink_entry(c, e);
    if (f->size > c->lim.max_file)
        return NULL;
    cost = sizeof(*e) + path_len + 1 + (size_t)f->size;
    if (cost > c->lim.bytes)
        return NULL;
    while (c->tail != NULL && (c->count >= c->lim.entries || c->used + cost > c->lim.bytes))
        unlink_entry(c, c->tail);

    block = malloc(cost);
    if (block == NULL)
        return NULL;
    e = (struct cg_file_cache_entry *)block;
    memset(e, 0, sizeof(*e));
    e->facts = *f;
    e->path = (char *)block + sizeof(*e);
    memcpy(e->path, path, path_len);
    e->path[path_len] = '\0';
    e->path_len = path_len;
    e->data = block + sizeof(*e) + path_len + 1;
    if (f->size > 0)
        memcpy(block + sizeof(*e) + path_len + 1, data, (size_t)f->size);
    e->site = site;
    e->hash = h;
    e->checked_ms = now_ms;
    e->cost = cost;

    e->hnext = c->buckets[h & (c->n_buckets - 1)];
    c->buckets[h & (c->n_buckets - 1)] = e;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
    c->count++;
    c->used += cost;
    return e;
}

size_t cg_file_cache_count(const struct cg_file_cache *c)
{
    return c->count;
}

size_t cg_file_cache_bytes(const struct cg_file_cache *c)
{
    return c->used;
}

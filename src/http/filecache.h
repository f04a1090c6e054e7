/*
 * filecache.h: a cache of small static files, one per worker thread (no
 * lock: only its owner touches it). It saves the four file system calls of
 * a static answer (open, fstat, read, close) for a file asked for again.
 *
 * It only stores; static.c decides what goes in: an entry is made from a
 * file opened the normal way (beneath the root, under the symlink rules of
 * static.h) and holds its bytes and what the response head needs. Entries
 * are keyed by site (an opaque number the caller chooses: the server uses
 * its generation and site index, so a reload never meets an entry of the
 * previous configuration) and by the normalised request path.
 *
 * An entry is trusted for `valid_ms` after it was last checked against the
 * disk; after that the caller checks again (cg_file_cache_get says whether
 * it is fresh) and refreshes, replaces or drops it. Bounded by entries,
 * bytes and the largest file; the least recently used goes first.
 */
#ifndef CG_HTTP_FILECACHE_H
#define CG_HTTP_FILECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CG_FILE_CACHE_ETAG_MAX 64
#define CG_FILE_CACHE_DATE_MAX 32

struct cg_file_cache_limits {
    unsigned entries;        /* > 0 (0 means no cache: the caller makes none) */
    size_t bytes;            /* file bytes, paths and entry overhead together */
    size_t max_file;         /* a larger file is never kept */
    unsigned valid_ms;       /* an entry is fresh this long after its check */
};

/* What identifies one version of a file, and what its response head says. */
struct cg_file_facts {
    uint64_t dev, ino, size;
    struct timespec mtime, ctime;
    const char *content_type;                   /* static string */
    char etag[CG_FILE_CACHE_ETAG_MAX];
    char last_modified[CG_FILE_CACHE_DATE_MAX];
};

/* One cached file. Read-only for callers; valid until the next call that
 * changes the cache (put, drop, set_limits, free). */
struct cg_file_cache_entry {
    struct cg_file_facts facts;
    const unsigned char *data;   /* facts.size bytes */
    /* private */
    uint64_t site, hash;
    int64_t checked_ms;
    size_t cost;
    char *path;
    size_t path_len;
    struct cg_file_cache_entry *hnext, *prev, *next;
};

struct cg_file_cache;

/* NULL when out of memory. */
struct cg_file_cache *cg_file_cache_new(const struct cg_file_cache_limits *lim);
void cg_file_cache_free(struct cg_file_cache *c);   /* NULL-safe */

/* Applies new limits: drops everything when they differ (a reload). */
int cg_file_cache_set_limits(struct cg_file_cache *c, const struct cg_file_cache_limits *lim);
const struct cg_file_cache_limits *cg_file_cache_limits(const struct cg_file_cache *c);

/* The entry for (site, path), made most recently used, or NULL. *fresh:
 * whether it was checked less than valid_ms before now_ms. */
struct cg_file_cache_entry *cg_file_cache_get(struct cg_file_cache *c, uint64_t site,
                                              const char *path, size_t path_len, int64_t now_ms,
                                              bool *fresh);

/* The file was checked at now_ms and is unchanged. */
void cg_file_cache_touch(struct cg_file_cache_entry *e, int64_t now_ms);

/* Whether facts describe the same version of the file as e (device, inode,
 * size, mtime and ctime). */
bool cg_file_cache_same(const struct cg_file_cache_entry *e, const struct cg_file_facts *f);

/* Stores a copy of data (f->size bytes) for (site, path), replacing any
 * entry of that key and evicting the least recently used as the bounds
 * require. NULL (and no entry for the key left) when the file is over
 * max_file or bytes, or memory runs out. */
struct cg_file_cache_entry *cg_file_cache_put(struct cg_file_cache *c, uint64_t site,
                                              const char *path, size_t path_len,
                                              const struct cg_file_facts *f, const void *data,
                                              int64_t now_ms);

/* Removes the entry for (site, path), if any. */
void cg_file_cache_drop(struct cg_file_cache *c, uint64_t site, const char *path,
                        size_t path_len);

/* For tests and metrics. */
size_t cg_file_cache_count(const struct cg_file_cache *c);
size_t cg_file_cache_bytes(const struct cg_file_cache *c);

#endif

/*
 * revcache.c: see revcache.h. A flat array under one mutex: the cache
 * holds one entry per CA distribution point and per certificate seen, a
 * few thousand at most, and every operation is short.
 *
 * File format (one file per answer): a text header, a blank line, the DER.
 *   certgate-revcache 1
 *   key <key>
 *   fetched <epoch> this <epoch> next <epoch>
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cert/pki.h"
#include "cert/revcache.h"
#include "core/common.h"

#define KEY_MAX 2048

/* An answer's bytes, shared by the cache and every reader holding a copy of
 * the entry: a get is O(1) even for a CRL of tens of megabytes. */
struct cg_revcache_blob {
    atomic_int refs;
    size_t len;
    unsigned char data[];
};

static struct cg_revcache_blob *blob_new(const unsigned char *der, size_t len)
{
    struct cg_revcache_blob *b = malloc(sizeof(*b) + len);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, der, len);
    return b;
}

static void blob_unref(struct cg_revcache_blob *b)
{
    if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

struct slot {
    cg_revcache_kind_t kind;
    char *key;
    struct cg_revcache_blob *blob;
    time_t fetched_at, this_update, next_update;
    struct cg_crl_index *index;
};

struct cg_revcache {
    struct cg_revcache_opts o;
    char *dir;                 /* STATE/revocation, or NULL */
    pthread_mutex_t lock;
    struct slot *slots;
    size_t n;
};

static const char *kind_dir(cg_revcache_kind_t k)
{
    return k == CG_REVCACHE_CRL ? "crl" : "ocsp";
}

static void slot_clear(struct slot *s)
{
    free(s->key);
    blob_unref(s->blob);
    cg_crl_index_unref(s->index);
    memset(s, 0, sizeof(*s));
}

static struct slot *find(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key)
{
    for (size_t i = 0; i < c->n; i++) {
        if (c->slots[i].kind == kind && strcmp(c->slots[i].key, key) == 0)
            return &c->slots[i];
    }
    return NULL;
}

/* The file of an answer: STATE/revocation/<kind>/<sha256(key) hex>. */
static char *file_of(const struct cg_revcache *c, cg_revcache_kind_t kind, const char *key)
{
    unsigned char d[32];
    unsigned n = 0;
    char hex[65], *path = NULL;

    if (EVP_Digest(key, strlen(key), d, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return NULL;
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    if (asprintf(&path, "%s/%s/%s", c->dir, kind_dir(kind), hex) < 0)
        return NULL;
    return path;
}

/* Makes room for one more slot: drops the entry whose answer expires first. */
static int make_room(struct cg_revcache *c)
{
    struct slot *grown;

    if (c->n >= c->o.max_entries && c->n > 0) {
        size_t victim = 0;
        for (size_t i = 1; i < c->n; i++) {
            if (c->slots[i].next_update < c->slots[victim].next_update)
                victim = i;
        }
        slot_clear(&c->slots[victim]);
        c->slots[victim] = c->slots[--c->n];
        return CG_OK;
    }
    grown = realloc(c->slots, (c->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return CG_ERR;
    c->slots = grown;
    return CG_OK;
}

/* Under lock. Takes ownership of blob. */
static int store(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                 struct cg_revcache_blob *blob, time_t fetched, time_t this_update,
                 time_t next_update)
{
    struct slot *s = find(c, kind, key);

    if (s == NULL) {
        if (make_room(c) != CG_OK)
            return CG_ERR;
        s = &c->slots[c->n];
        memset(s, 0, sizeof(*s));
        s->key = strdup(key);
        if (s->key == NULL)
            return CG_ERR;
        s->kind = kind;
        c->n++;
    } else {
        blob_unref(s->blob);
        cg_crl_index_unref(s->index);
        s->index = NULL;
    }
    s->blob = blob;
    s->fetched_at = fetched;
    s->this_update = this_update;
    s->next_update = next_update;
    return CG_OK;
}

static int persist(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                   const unsigned char *der, size_t len, time_t fetched, time_t this_update,
                   time_t next_update, char **err)
{
    char *path = file_of(c, kind, key), *head = NULL, *buf = NULL;
    int hlen, rc = CG_ERR;

    if (path == NULL)
        return cg_set_err(err, "out of memory");
    hlen = asprintf(&head, "certgate-revcache 1\nkey %s\nfetched %" PRId64 " this %" PRId64
                           " next %" PRId64 "\n\n",
                    key, (int64_t)fetched, (int64_t)this_update, (int64_t)next_update);
    if (hlen < 0 || (buf = malloc((size_t)hlen + len)) == NULL) {
        cg_set_err(err, "out of memory");
        goto out;
    }
    memcpy(buf, head, (size_t)hlen);
    memcpy(buf + hlen, der, len);
    rc = cg_pki_write_atomic(path, buf, (size_t)hlen + len, 0644, err);
out:
    free(path);
    free(head);
    free(buf);
    return rc;
}

/* Reads one stored answer; skips (CG_DECLINED) what does not look right. */
static int load_file(struct cg_revcache *c, cg_revcache_kind_t kind, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    unsigned char *data = NULL;
    struct cg_revcache_blob *blob = NULL;
    char key[KEY_MAX + 1];
    int64_t fetched, this_update, next_update;
    size_t got = 0;
    char *nl2;
    int rc = CG_DECLINED;

    if (fd < 0)
        return CG_DECLINED;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (size_t)st.st_size > c->o.max_bytes + KEY_MAX + 128)
        goto out;
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL)
        goto out;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    data[got] = '\0';
    nl2 = strstr((char *)data, "\n\n");
    if (nl2 == NULL ||
        sscanf((char *)data, "certgate-revcache 1\nkey %2048s\nfetched %" SCNd64 " this %" SCNd64
                             " next %" SCNd64,
               key, &fetched, &this_update, &next_update) != 4)
        goto out;
    {
        size_t off = (size_t)(nl2 + 2 - (char *)data), len = got - off;
        if (len == 0 || (blob = blob_new(data + off, len)) == NULL)
            goto out;
        pthread_mutex_lock(&c->lock);
        if (store(c, kind, key, blob, (time_t)fetched, (time_t)this_update,
                  (time_t)next_update) == CG_OK) {
            blob = NULL;
            rc = CG_OK;
        }
        pthread_mutex_unlock(&c->lock);
    }
out:
    close(fd);
    free(data);
    blob_unref(blob);
    return rc;
}

static int make_dirs(struct cg_revcache *c, char **err)
{
    const char *subs[] = {"", "/crl", "/ocsp"};
    for (size_t i = 0; i < CG_ARRAY_LEN(subs); i++) {
        char *p = NULL;
        if (asprintf(&p, "%s%s", c->dir, subs[i]) < 0)
            return cg_set_err(err, "out of memory");
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            cg_set_err(err, "%s: cannot create: %s", p, strerror(e));
            free(p);
            return CG_ERR;
        }
        free(p);
    }
    return CG_OK;
}

struct cg_revcache *cg_revcache_new(const struct cg_revcache_opts *opts, char **err)
{
    struct cg_revcache *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        cg_set_err(err, "out of memory");
        return NULL;
    }
    if (opts != NULL)
        c->o = *opts;
    if (c->o.refresh_s <= 0)
        c->o.refresh_s = 3600;
    if (c->o.max_entries == 0)
        c->o.max_entries = 10000;
    if (c->o.max_bytes == 0)
        c->o.max_bytes = 64u * 1024 * 1024;
    pthread_mutex_init(&c->lock, NULL);
    if (c->o.state_dir != NULL) {
        if (mkdir(c->o.state_dir, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            cg_set_err(err, "%s: cannot create: %s", c->o.state_dir, strerror(e));
            goto fail;
        }
        if (asprintf(&c->dir, "%s/revocation", c->o.state_dir) < 0) {
            c->dir = NULL;
            cg_set_err(err, "out of memory");
            goto fail;
        }
        if (make_dirs(c, err) != CG_OK)
            goto fail;
        for (int k = 0; k < 2; k++) {
            char *sub = NULL;
            DIR *d;
            struct dirent *de;
            if (asprintf(&sub, "%s/%s", c->dir, kind_dir((cg_revcache_kind_t)k)) < 0)
                goto fail;
            d = opendir(sub);
            while (d != NULL && (de = readdir(d)) != NULL && c->n < c->o.max_entries) {
                char *path = NULL;
                /* only our own names: 64 hex digits (temp files are skipped) */
                if (strlen(de->d_name) != 64 || strspn(de->d_name, "0123456789abcdef") != 64)
                    continue;
                if (asprintf(&path, "%s/%s", sub, de->d_name) >= 0) {
                    load_file(c, (cg_revcache_kind_t)k, path);
                    free(path);
                }
            }
            if (d != NULL)
                closedir(d);
            free(sub);
        }
    }
    return c;
fail:
    cg_revcache_free(c);
    return NULL;
}

void cg_revcache_free(struct cg_revcache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        slot_clear(&c->slots[i]);
    free(c->slots);
    free(c->dir);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void cg_revcache_entry_free(struct cg_revcache_entry *e)
{
    if (e == NULL)
        return;
    blob_unref(e->blob);
    cg_crl_index_unref(e->index);
    memset(e, 0, sizeof(*e));
}

int cg_revcache_put(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                    const unsigned char *der, size_t len, time_t fetched_at,
                    time_t this_update, time_t next_update, char **err)
{
    struct cg_revcache_blob *blob;
    int rc;

    if (c == NULL || key == NULL || der == NULL || len == 0)
        return cg_set_err(err, "nothing to cache");
    if (strlen(key) > KEY_MAX || strpbrk(key, " \n\r") != NULL)
        return cg_set_err(err, "a cache key must be at most %d characters, without spaces",
                          KEY_MAX);
    if (len > c->o.max_bytes)
        return cg_set_err(err, "the answer is over the cache's size limit");
    blob = blob_new(der, len);
    if (blob == NULL)
        return cg_set_err(err, "out of memory");
    pthread_mutex_lock(&c->lock);
    rc = store(c, kind, key, blob, fetched_at, this_update, next_update);
    pthread_mutex_unlock(&c->lock);
    if (rc != CG_OK) {
        blob_unref(blob);
        return cg_set_err(err, "out of memory");
    }
    if (c->dir != NULL)
        return persist(c, kind, key, der, len, fetched_at, this_update, next_update, err);
    return CG_OK;
}

void cg_revcache_set_index(struct cg_revcache *c, const char *key, struct cg_crl_index *ix)
{
    struct slot *s;

    pthread_mutex_lock(&c->lock);
    s = find(c, CG_REVCACHE_CRL, key);
    if (s != NULL) {
        cg_crl_index_unref(s->index);
        s->index = cg_crl_index_ref(ix);
    }
    pthread_mutex_unlock(&c->lock);
}

int cg_revcache_get(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                    time_t now, struct cg_revcache_entry *out)
{
    struct slot *s;
    int rc = CG_DECLINED;

    memset(out, 0, sizeof(*out));
    if (c == NULL || key == NULL)
        return CG_DECLINED;
    pthread_mutex_lock(&c->lock);
    s = find(c, kind, key);
    if (s == NULL)
        goto out;
    if (s->next_update != 0 && now > s->next_update + c->o.stale_grace_s)
        goto out;
    atomic_fetch_add_explicit(&s->blob->refs, 1, memory_order_relaxed);
    out->blob = s->blob;
    out->der = s->blob->data;
    out->len = s->blob->len;
    out->fetched_at = s->fetched_at;
    out->this_update = s->this_update;
    out->next_update = s->next_update;
    out->index = cg_crl_index_ref(s->index);
    rc = (s->next_update != 0 && now > s->next_update) || now - s->fetched_at >= c->o.refresh_s
             ? CG_AGAIN
             : CG_OK;
out:
    pthread_mutex_unlock(&c->lock);
    return rc;
}

size_t cg_revcache_count(struct cg_revcache *c)
{
    size_t n;
    pthread_mutex_lock(&c->lock);
    n = c->n;
    pthread_mutex_unlock(&c->lock);
    return n;
}

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
#include <openssl/x509.h>

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
    long long tag;             /* what of the answer a verdict depends on (put_tagged) */
    /* The background refresh (cg_revcache_take_due). */
    long refresh_s;            /* the shortest `refresh` of the readers; 0: the cache's */
    time_t last_read;          /* 0: not read since it was loaded from disk */
    struct cg_revcache_origin origin;   /* how to ask again; url NULL: not known */
    bool in_flight;            /* a refresh of it is running */
    unsigned failures;         /* refreshes failed in a row */
    time_t retry_at;           /* after a failure: not before */
};

static void origin_clear(struct cg_revcache_origin *o)
{
    free(o->url);
    X509_free(o->cert);
    X509_free(o->issuer);
    memset(o, 0, sizeof(*o));
}

static int origin_copy(struct cg_revcache_origin *to, const struct cg_revcache_origin *from)
{
    memset(to, 0, sizeof(*to));
    if (from->url == NULL || (to->url = strdup(from->url)) == NULL)
        return CG_ERR;
    if (from->cert != NULL && X509_up_ref(from->cert) == 1)
        to->cert = from->cert;
    if (from->issuer != NULL && X509_up_ref(from->issuer) == 1)
        to->issuer = from->issuer;
    to->timeout_ms = from->timeout_ms;
    to->max_bytes = from->max_bytes;
    return CG_OK;
}

struct cg_revcache {
    struct cg_revcache_opts o;
    char *dir;                 /* STATE/revocation, or NULL */
    pthread_mutex_t lock;
    struct slot *slots;
    size_t n;
    atomic_uint_fast64_t epoch;   /* bumped when an answer changes what it says */
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
    origin_clear(&s->origin);
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
                 time_t next_update, long long tag)
{
    struct slot *s = find(c, kind, key);

    /* A verdict taken on the answer held may no longer hold: a new epoch
     * (the verification cache keys hooked verdicts by it). */
    if (s != NULL && (tag != CG_REVCACHE_NO_TAG && s->tag != CG_REVCACHE_NO_TAG
                          ? tag != s->tag
                          : s->blob->len != blob->len ||
                                memcmp(s->blob->data, blob->data, blob->len) != 0))
        atomic_fetch_add_explicit(&c->epoch, 1, memory_order_relaxed);

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
    s->tag = tag;
    s->failures = 0;
    s->retry_at = 0;
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
                  (time_t)next_update, CG_REVCACHE_NO_TAG) == CG_OK) {
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
    if (c->o.idle_s <= 0)
        c->o.idle_s = 3600;
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
    return cg_revcache_put_tagged(c, kind, key, der, len, fetched_at, this_update, next_update,
                                  CG_REVCACHE_NO_TAG, err);
}

uint64_t cg_revcache_epoch(struct cg_revcache *c)
{
    return c != NULL ? atomic_load_explicit(&c->epoch, memory_order_relaxed) : 0;
}

int cg_revcache_put_tagged(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                           const unsigned char *der, size_t len, time_t fetched_at,
                           time_t this_update, time_t next_update, long long tag, char **err)
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
    rc = store(c, kind, key, blob, fetched_at, this_update, next_update, tag);
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
    return cg_revcache_get_for(c, kind, key, now, 0, -1, out);
}

/* When the answer of `s` is due for `refresh` (seconds): its nextUpdate, or
 * `refresh` after it was fetched, whichever comes first. */
static time_t due_at(const struct slot *s, long refresh)
{
    time_t due = s->fetched_at + refresh;
    if (s->next_update != 0 && s->next_update < due)
        due = s->next_update;
    return due;
}

int cg_revcache_get_for(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                        time_t now, long refresh_s, long stale_grace_s,
                        struct cg_revcache_entry *out)
{
    struct slot *s;
    int rc = CG_DECLINED;

    memset(out, 0, sizeof(*out));
    if (c == NULL || key == NULL)
        return CG_DECLINED;
    if (refresh_s <= 0)
        refresh_s = c->o.refresh_s;
    if (stale_grace_s < 0)
        stale_grace_s = c->o.stale_grace_s;
    pthread_mutex_lock(&c->lock);
    s = find(c, kind, key);
    if (s == NULL)
        goto out;
    /* Read: the background refresh keeps it fresh, on the shortest
     * `refresh` of those reading it. */
    s->last_read = now;
    if (s->refresh_s == 0 || refresh_s < s->refresh_s)
        s->refresh_s = refresh_s;
    if (s->next_update != 0 && now > s->next_update + stale_grace_s)
        goto out;
    atomic_fetch_add_explicit(&s->blob->refs, 1, memory_order_relaxed);
    out->blob = s->blob;
    out->der = s->blob->data;
    out->len = s->blob->len;
    out->fetched_at = s->fetched_at;
    out->this_update = s->this_update;
    out->next_update = s->next_update;
    out->index = cg_crl_index_ref(s->index);
    out->due = due_at(s, refresh_s);
    rc = (s->next_update != 0 && now > s->next_update) || now - s->fetched_at >= refresh_s
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

void cg_revcache_set_origin(struct cg_revcache *c, cg_revcache_kind_t kind, const char *key,
                            const struct cg_revcache_origin *origin)
{
    struct slot *s;
    struct cg_revcache_origin copy = {0};   /* cleared even when c is NULL */

    if (c == NULL || origin_copy(&copy, origin) != CG_OK) {
        origin_clear(&copy);
        return;
    }
    pthread_mutex_lock(&c->lock);
    s = find(c, kind, key);
    if (s != NULL) {
        origin_clear(&s->origin);
        s->origin = copy;
        memset(&copy, 0, sizeof(copy));
    }
    pthread_mutex_unlock(&c->lock);
    origin_clear(&copy);
}

/*
 * When `s` is refreshed in the background: a little before it is due, so
 * that no reader ever finds it due: a quarter of its life (at least 1 s, at
 * most 5 min, at most half of it) before, leaving time for a retry or two
 * when the first attempt fails. An answer already due (fetched
 * stale, or a refresh failed until now) is asked for again at once, within
 * the backoff, while it is still usable within the grace.
 */
static time_t refresh_at(const struct cg_revcache *c, const struct slot *s)
{
    long refresh = s->refresh_s != 0 ? s->refresh_s : c->o.refresh_s;
    time_t due = due_at(s, refresh), life = due - s->fetched_at, lead = life / 4;

    if (lead < 1)
        lead = 1;
    if (lead > 300)
        lead = 300;
    if (lead > life / 2)
        lead = life / 2;
    if (life <= 0)
        lead = 0;
    return due - lead;
}

size_t cg_revcache_take_due(struct cg_revcache *c, time_t now, struct cg_revcache_due *out,
                            size_t cap)
{
    size_t n = 0;

    if (c == NULL)
        return 0;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n && n < cap; i++) {
        struct slot *s = &c->slots[i];
        long refresh = s->refresh_s != 0 ? s->refresh_s : c->o.refresh_s;
        long idle = 2 * refresh > c->o.idle_s ? 2 * refresh : c->o.idle_s;

        if (s->origin.url == NULL || s->in_flight || s->last_read == 0 ||
            now - s->last_read > idle || now < s->retry_at || now < refresh_at(c, s))
            continue;
        /* past its grace it is of no use: the next reader fetches */
        if (s->next_update != 0 && now > s->next_update + c->o.stale_grace_s)
            continue;
        memset(&out[n], 0, sizeof(out[n]));
        if ((out[n].key = strdup(s->key)) == NULL ||
            origin_copy(&out[n].origin, &s->origin) != CG_OK) {
            free(out[n].key);
            origin_clear(&out[n].origin);
            continue;
        }
        out[n].kind = s->kind;
        out[n].this_update = s->this_update;
        out[n].next_update = s->next_update;
        out[n].failures = s->failures;
        s->in_flight = true;
        n++;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

void cg_revcache_refresh_done(struct cg_revcache *c, const struct cg_revcache_due *d,
                              cg_revcache_refresh_t how, time_t now)
{
    struct slot *s;

    pthread_mutex_lock(&c->lock);
    s = find(c, d->kind, d->key);
    if (s != NULL) {
        s->in_flight = false;
        if (how == CG_REVCACHE_REFRESH_NOT_ASKED) {
            s->retry_at = now + 1;
        } else if (how == CG_REVCACHE_REFRESH_OK) {
            s->failures = 0;
            s->retry_at = 0;
        } else {
            unsigned shift = s->failures < 6 ? s->failures : 6;
            s->failures++;
            s->retry_at = now + ((time_t)1 << shift);   /* 1, 2, 4 ... 64 s */
        }
    }
    pthread_mutex_unlock(&c->lock);
}

void cg_revcache_due_clear(struct cg_revcache_due *d)
{
    free(d->key);
    origin_clear(&d->origin);
    memset(d, 0, sizeof(*d));
}

#include "tls/session_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"

/* Buckets: a power of two, about one per two entries of the bound (a
 * chain of two on average when full), at least this many. */
#define CG_SC_MIN_BUCKETS 64

struct sc_entry {
    unsigned char id[SSL_MAX_SSL_SESSION_ID_LENGTH];
    unsigned id_len;
    SSL_SESSION *sess;                 /* one reference, owned */
    time_t expires;
    struct sc_entry *hnext;            /* bucket chain */
    struct sc_entry *older, *newer;    /* insertion order, for eviction */
};

struct cg_tls_session_cache {
    pthread_mutex_t lock;
    struct sc_entry **buckets;
    size_t n_buckets;                  /* a power of two */
    struct sc_entry *oldest, *newest;
    size_t count, max;
    uint64_t hits, misses;             /* get_cb lookups, under the lock */
};

static int sc_idx = -1;

int cg_tls_session_cache_global_init(void)
{
    if (sc_idx >= 0)
        return CG_OK;
    sc_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    return sc_idx >= 0 ? CG_OK : CG_ERR;
}

/* FNV-1a: session ids are random bytes from OpenSSL, any mix will do. */
static size_t bucket_of(const unsigned char *id, unsigned len, size_t n_buckets)
{
    uint32_t h = 2166136261u;

    for (unsigned i = 0; i < len; i++)
        h = (h ^ id[i]) * 16777619u;
    return h & (n_buckets - 1);
}

static size_t buckets_for(size_t max_entries)
{
    size_t n = CG_SC_MIN_BUCKETS;

    while (n < max_entries / 2)
        n *= 2;
    return n;
}

static struct sc_entry **find_slot(struct cg_tls_session_cache *sc, const unsigned char *id,
                                   unsigned len)
{
    struct sc_entry **p = &sc->buckets[bucket_of(id, len, sc->n_buckets)];

    for (; *p != NULL; p = &(*p)->hnext) {
        if ((*p)->id_len == len && memcmp((*p)->id, id, len) == 0)
            return p;
    }
    return p;
}

/* Unlinks the entry at *slot and frees it. Under the lock. */
static void drop(struct cg_tls_session_cache *sc, struct sc_entry **slot)
{
    struct sc_entry *e = *slot;

    *slot = e->hnext;
    if (e->older != NULL)
        e->older->newer = e->newer;
    else
        sc->oldest = e->newer;
    if (e->newer != NULL)
        e->newer->older = e->older;
    else
        sc->newest = e->older;
    sc->count--;
    SSL_SESSION_free(e->sess);
    free(e);
}

/* Drops the oldest entries until at most sc->max remain. Under the lock. */
static void evict(struct cg_tls_session_cache *sc, size_t room)
{
    while (sc->count + room > sc->max && sc->oldest != NULL)
        drop(sc, find_slot(sc, sc->oldest->id, sc->oldest->id_len));
}

static struct cg_tls_session_cache *cache_of(SSL *ssl)
{
    return SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), sc_idx);
}

/* OpenSSL made a session to remember: keep the reference it hands over. */
static int new_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct cg_tls_session_cache *sc = cache_of(ssl);
    unsigned len = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &len);
    struct sc_entry *e, **slot;

    if (sc == NULL || len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
        return 0;
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return 0;   /* 0: OpenSSL keeps its reference and frees it */
    memcpy(e->id, id, len);
    e->id_len = len;
    e->sess = sess;
    e->expires = (time_t)SSL_SESSION_get_time(sess) + (time_t)SSL_SESSION_get_timeout(sess);
    pthread_mutex_lock(&sc->lock);
    slot = find_slot(sc, id, len);
    if (*slot != NULL)
        drop(sc, slot);   /* same id again: the newer one wins */
    evict(sc, 1);
    slot = find_slot(sc, id, len);
    *slot = e;
    e->older = sc->newest;
    if (sc->newest != NULL)
        sc->newest->newer = e;
    else
        sc->oldest = e;
    sc->newest = e;
    sc->count++;
    pthread_mutex_unlock(&sc->lock);
    return 1;
}

static SSL_SESSION *get_cb(SSL *ssl, const unsigned char *id, int len, int *copy)
{
    struct cg_tls_session_cache *sc = cache_of(ssl);
    SSL_SESSION *sess = NULL;
    struct sc_entry **slot;

    *copy = 0;
    if (sc == NULL || len <= 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
        return NULL;
    pthread_mutex_lock(&sc->lock);
    slot = find_slot(sc, id, (unsigned)len);
    if (*slot != NULL) {
        if ((*slot)->expires <= time(NULL)) {
            drop(sc, slot);
        } else {
            sess = (*slot)->sess;
            /* The reference is taken under the lock (copy = 0 tells OpenSSL
             * so): another thread may drop the entry the moment we unlock. */
            SSL_SESSION_up_ref(sess);
        }
    }
    if (sess != NULL)
        sc->hits++;
    else
        sc->misses++;
    pthread_mutex_unlock(&sc->lock);
    return sess;
}

static void remove_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
    struct cg_tls_session_cache *sc = SSL_CTX_get_ex_data(ctx, sc_idx);
    unsigned len = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &len);
    struct sc_entry **slot;

    if (sc == NULL || len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH)
        return;
    pthread_mutex_lock(&sc->lock);
    slot = find_slot(sc, id, len);
    /* Only this very session: a newer one under the same id stays. */
    if (*slot != NULL && (*slot)->sess == sess)
        drop(sc, slot);
    pthread_mutex_unlock(&sc->lock);
}

struct cg_tls_session_cache *cg_tls_session_cache_new(size_t max_entries)
{
    struct cg_tls_session_cache *sc = calloc(1, sizeof(*sc));

    if (sc == NULL)
        return NULL;
    if (pthread_mutex_init(&sc->lock, NULL) != 0) {
        free(sc);
        return NULL;
    }
    sc->max = max_entries > 0 ? max_entries : 1;
    sc->n_buckets = buckets_for(sc->max);
    sc->buckets = calloc(sc->n_buckets, sizeof(*sc->buckets));
    if (sc->buckets == NULL) {
        pthread_mutex_destroy(&sc->lock);
        free(sc);
        return NULL;
    }
    return sc;
}

int cg_tls_session_cache_set_max(struct cg_tls_session_cache *sc, size_t max_entries)
{
    size_t n_buckets;
    struct sc_entry **buckets;
    bool grown = true;

    if (max_entries == 0)
        max_entries = 1;
    n_buckets = buckets_for(max_entries);
    pthread_mutex_lock(&sc->lock);
    sc->max = max_entries;
    evict(sc, 0);
    /* Grow the table with the bound (never shrink it: a smaller bound only
     * shortens the chains). Rehashing walks the insertion list, which holds
     * every entry; on allocation failure the old table keeps working. */
    if (n_buckets > sc->n_buckets) {
        buckets = calloc(n_buckets, sizeof(*buckets));
        if (buckets == NULL) {
            grown = false;
        } else {
            free(sc->buckets);
            sc->buckets = buckets;
            sc->n_buckets = n_buckets;
            for (struct sc_entry *e = sc->oldest; e != NULL; e = e->newer) {
                struct sc_entry **head = &buckets[bucket_of(e->id, e->id_len, n_buckets)];
                e->hnext = *head;
                *head = e;
            }
        }
    }
    pthread_mutex_unlock(&sc->lock);
    return grown ? CG_OK : CG_ERR;
}

void cg_tls_session_cache_free(struct cg_tls_session_cache *sc)
{
    if (sc == NULL)
        return;
    while (sc->oldest != NULL)
        drop(sc, find_slot(sc, sc->oldest->id, sc->oldest->id_len));
    pthread_mutex_destroy(&sc->lock);
    free(sc->buckets);
    free(sc);
}

int cg_tls_session_cache_attach(struct cg_tls_session_cache *sc, SSL_CTX *ctx)
{
    if (sc_idx < 0 || SSL_CTX_set_ex_data(ctx, sc_idx, sc) != 1)
        return CG_ERR;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, new_cb);
    SSL_CTX_sess_set_get_cb(ctx, get_cb);
    SSL_CTX_sess_set_remove_cb(ctx, remove_cb);
    return CG_OK;
}

size_t cg_tls_session_cache_count(struct cg_tls_session_cache *sc)
{
    size_t n;

    pthread_mutex_lock(&sc->lock);
    n = sc->count;
    pthread_mutex_unlock(&sc->lock);
    return n;
}

void cg_tls_session_cache_stats(struct cg_tls_session_cache *sc,
                                struct cg_tls_session_cache_stats *out)
{
    pthread_mutex_lock(&sc->lock);
    out->entries = sc->count;
    out->hits = sc->hits;
    out->misses = sc->misses;
    pthread_mutex_unlock(&sc->lock);
}

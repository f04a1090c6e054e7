/*
 * fetch_cache.c: each thread's fetched key-schedule methods and key
 * managers' names, and the EVP_KDF_fetch and EVP_KEYMGMT_names_do_all that
 * answer from them (see fetch_cache.h).
 *
 * A thread keeps SLOTS methods and KEYMGMTS key managers, each replaced in
 * turn; a handshake asks for one method (TLS13-KDF under its context's
 * property query) and the names of three or four key managers (EC, X25519,
 * RSA), so a few slots are plenty. A slot owns one reference to its method
 * or key manager (so its address cannot be reused by another while kept)
 * and, for a key manager, the pointers to its names libcrypto gave.
 */
#include "tls/fetch_cache.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "core/common.h"
#include "core/thread_local.h"

#define SLOTS 4
#define NAME_BYTES 48
#define PROPQ_BYTES 160
#define KEYMGMTS 8
#define KEYMGMT_NAMES 8

struct slot {
    EVP_KDF *kdf;             /* one reference; NULL: the slot is free */
    OSSL_LIB_CTX *libctx;
    bool has_propq;
    char name[NAME_BYTES];
    char propq[PROPQ_BYTES];
};

/* A key manager's names as libcrypto gave them: in its order, and the very
 * strings (its name map's, which live as long as the library context), since
 * callers keep the pointers they are given. */
struct names {
    EVP_KEYMGMT *keymgmt;     /* one reference; NULL: the slot is free */
    unsigned n;
    const char *name[KEYMGMT_NAMES];
};

struct thread_cache {
    struct slot slots[SLOTS];
    unsigned next;            /* the slot the next new method takes */
    struct names keymgmts[KEYMGMTS];
    unsigned next_keymgmt;
    unsigned generation;      /* of `generation` when the slots were filled */
};

typedef EVP_KDF *fetch_fn(OSSL_LIB_CTX *, const char *, const char *);
typedef void name_fn(const char *name, void *data);
typedef int names_fn(const EVP_KEYMGMT *, name_fn *, void *);

static fetch_fn *libcrypto_fetch;
static names_fn *libcrypto_names;
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static atomic_bool enabled;
static atomic_uint generation;
static __thread bool thread_armed;
static atomic_uint_fast64_t st_hits, st_misses, st_name_hits, st_name_misses;
static __thread struct thread_cache *this_thread;

static void drop_all(struct thread_cache *c)
{
    for (unsigned i = 0; i < SLOTS; i++) {
        EVP_KDF_free(c->slots[i].kdf);
        c->slots[i].kdf = NULL;
    }
    for (unsigned i = 0; i < KEYMGMTS; i++) {
        EVP_KEYMGMT_free(c->keymgmts[i].keymgmt);
        c->keymgmts[i].keymgmt = NULL;
    }
    c->next = 0;
    c->next_keymgmt = 0;
}

static void free_cache(void *p)
{
    struct thread_cache *c = p;

    if (c == NULL)
        return;
    drop_all(c);
    free(c);
}

/* libcrypto's functions: the next definitions after this executable's. */
static void resolve(void)
{
    void *f = dlsym(RTLD_NEXT, "EVP_KDF_fetch"), *n = dlsym(RTLD_NEXT, "EVP_KEYMGMT_names_do_all");

    memcpy(&libcrypto_fetch, &f, sizeof(f));   /* object to function pointer */
    memcpy(&libcrypto_names, &n, sizeof(n));
}

static struct cg_thread_local caches = CG_THREAD_LOCAL_INIT(free_cache);

void cg_fetch_cache_enable(void)
{
    pthread_once(&resolve_once, resolve);
    atomic_fetch_add(&generation, 1);
    atomic_store(&enabled, true);
}

void cg_fetch_cache_thread_arm(void)
{
    thread_armed = true;
}

void cg_fetch_cache_disable(void)
{
    atomic_store(&enabled, false);
    atomic_fetch_add(&generation, 1);
}

void cg_fetch_cache_thread_release(void)
{
    cg_thread_local_release(&caches, this_thread);
    this_thread = NULL;
}

void cg_fetch_cache_stats(struct cg_fetch_cache_stats *out)
{
    out->hits = atomic_load_explicit(&st_hits, memory_order_relaxed);
    out->misses = atomic_load_explicit(&st_misses, memory_order_relaxed);
    out->name_hits = atomic_load_explicit(&st_name_hits, memory_order_relaxed);
    out->name_misses = atomic_load_explicit(&st_name_misses, memory_order_relaxed);
}

/* This thread's methods, made on first use and emptied when the
 * generation moved; NULL when memory is short. */
static struct thread_cache *cache(void)
{
    struct thread_cache *c = this_thread;
    unsigned g = atomic_load(&generation);

    if (c == NULL) {
        if ((c = calloc(1, sizeof(*c))) == NULL)
            return NULL;
        if (cg_thread_local_set(&caches, c) != CG_OK) {
            free(c);
            return NULL;
        }
        this_thread = c;
        c->generation = g;
    } else if (c->generation != g) {
        drop_all(c);
        c->generation = g;
    }
    return c;
}

static bool matches(const struct slot *s, OSSL_LIB_CTX *libctx, const char *name,
                    const char *propq)
{
    return s->kdf != NULL && s->libctx == libctx && strcmp(s->name, name) == 0 &&
           (propq == NULL ? !s->has_propq : s->has_propq && strcmp(s->propq, propq) == 0);
}

EVP_KDF *EVP_KDF_fetch(OSSL_LIB_CTX *libctx, const char *algorithm, const char *properties)
{
    struct thread_cache *c;
    struct slot *s;
    EVP_KDF *kdf;

    pthread_once(&resolve_once, resolve);
    if (libcrypto_fetch == NULL) {
        ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR, "libcrypto's EVP_KDF_fetch not found");
        return NULL;
    }
    if (!thread_armed || !atomic_load_explicit(&enabled, memory_order_relaxed) || algorithm == NULL ||
        (c = cache()) == NULL)
        return libcrypto_fetch(libctx, algorithm, properties);
    for (unsigned i = 0; i < SLOTS; i++)
        if (matches(&c->slots[i], libctx, algorithm, properties) &&
            EVP_KDF_up_ref(c->slots[i].kdf) == 1) {
            atomic_fetch_add_explicit(&st_hits, 1, memory_order_relaxed);
            return c->slots[i].kdf;
        }
    atomic_fetch_add_explicit(&st_misses, 1, memory_order_relaxed);
    kdf = libcrypto_fetch(libctx, algorithm, properties);
    /* Kept only when the strings fit: the hits above compare without
     * measuring them. */
    if (kdf == NULL || strlen(algorithm) >= NAME_BYTES ||
        (properties != NULL && strlen(properties) >= PROPQ_BYTES) || EVP_KDF_up_ref(kdf) != 1)
        return kdf;
    s = &c->slots[c->next];
    c->next = (c->next + 1) % SLOTS;
    EVP_KDF_free(s->kdf);
    s->kdf = kdf;
    s->libctx = libctx;
    strcpy(s->name, algorithm);
    s->has_propq = properties != NULL;
    if (properties != NULL)
        strcpy(s->propq, properties);
    return kdf;
}

/* Collects a key manager's names; too many make it unusable
 * (n = KEYMGMT_NAMES + 1). */
static void collect_name(const char *name, void *data)
{
    struct names *k = data;

    if (k->n < KEYMGMT_NAMES)
        k->name[k->n++] = name;
    else
        k->n = KEYMGMT_NAMES + 1;
}

/*
 * OpenSSL 3.0 answers this by walking its whole name map twice (every name
 * of every algorithm known, under a read lock), and libcrypto asks it for
 * every key context it makes (three per full handshake) and every key it
 * makes from a provider (two): about 70,000 instructions per full handshake
 * on each side. A key
 * manager's names do not change while the providers do not.
 */
int EVP_KEYMGMT_names_do_all(const EVP_KEYMGMT *keymgmt, name_fn *fn, void *data)
{
    struct thread_cache *c;
    struct names got, *k;
    int rc;

    pthread_once(&resolve_once, resolve);
    if (libcrypto_names == NULL) {
        ERR_raise_data(ERR_LIB_EVP, ERR_R_INTERNAL_ERROR,
                       "libcrypto's EVP_KEYMGMT_names_do_all not found");
        return 0;
    }
    if (!thread_armed || !atomic_load_explicit(&enabled, memory_order_relaxed) || keymgmt == NULL ||
        (c = cache()) == NULL)
        return libcrypto_names(keymgmt, fn, data);
    for (unsigned i = 0; i < KEYMGMTS; i++)
        if (c->keymgmts[i].keymgmt == keymgmt) {
            /* A copy: fn may look names up again and reuse the slot. */
            got = c->keymgmts[i];
            atomic_fetch_add_explicit(&st_name_hits, 1, memory_order_relaxed);
            for (unsigned j = 0; j < got.n; j++)
                fn(got.name[j], data);
            return 1;
        }
    atomic_fetch_add_explicit(&st_name_misses, 1, memory_order_relaxed);
    got.n = 0;
    if ((rc = libcrypto_names(keymgmt, collect_name, &got)) != 1 || got.n > KEYMGMT_NAMES)
        return libcrypto_names(keymgmt, fn, data);
    for (unsigned j = 0; j < got.n; j++)
        fn(got.name[j], data);
    if (EVP_KEYMGMT_up_ref((EVP_KEYMGMT *)keymgmt) != 1)
        return 1;
    k = &c->keymgmts[c->next_keymgmt];
    c->next_keymgmt = (c->next_keymgmt + 1) % KEYMGMTS;
    EVP_KEYMGMT_free(k->keymgmt);
    *k = got;
    k->keymgmt = (EVP_KEYMGMT *)keymgmt;
    return 1;
}

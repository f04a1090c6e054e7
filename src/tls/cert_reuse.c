/*
 * cert_reuse.c: each thread's decoded peer certificates, and the d2i_X509
 * that hands them out again (see cert_reuse.h).
 *
 * Each thread keeps exactly the configured number of slots, set-associative
 * (core/slot_sets.h) as the ECDSA key tables are: a certificate's hash picks
 * a set, a new certificate replaces the set's least recently used one. A
 * slot owns a copy of the DER and one reference to the X509; the X509
 * itself lives until its last holder (a connection, a session) lets it go.
 */
#include "tls/cert_reuse.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/x509.h>

#include "core/common.h"
#include "core/slot_sets.h"
#include "core/thread_local.h"

struct slot {
    uint64_t hash;
    uint64_t last_used;
    size_t len;              /* of der; 0: the slot is free */
    unsigned char *der;      /* owned */
    X509 *cert;              /* one reference, owned */
};

struct thread_cache {
    struct slot *slots;   /* shape.n_slots, owned */
    struct cg_slot_sets shape;
};

static unsigned conf_entries = CG_CERT_REUSE_DEFAULT_ENTRIES;
static size_t conf_max_bytes = CG_CERT_REUSE_DEFAULT_MAX_BYTES;

static atomic_uint_fast64_t st_reused, st_decoded, st_evicted, st_held;

static __thread struct thread_cache *this_thread;
static __thread bool armed;

static void drop_slot(struct slot *s)
{
    if (s->len != 0) {
        X509_free(s->cert);
        free(s->der);
        atomic_fetch_sub_explicit(&st_held, 1, memory_order_relaxed);
    }
    memset(s, 0, sizeof(*s));
}

/* A thread's certificates go with the thread (thread_local.h). */
static void free_cache(void *p)
{
    struct thread_cache *c = p;

    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->shape.n_slots; i++)
        drop_slot(&c->slots[i]);
    free(c->slots);
    free(c);
}

static struct cg_thread_local caches = CG_THREAD_LOCAL_INIT(free_cache);

void cg_cert_reuse_configure(unsigned entries, size_t max_bytes)
{
    conf_entries = entries;
    conf_max_bytes = max_bytes;
}

bool cg_cert_reuse_arm(bool on)
{
    bool was = armed;

    armed = on;
    return was;
}

/* This thread's cache, made on first use; NULL when off or memory is short
 * (certificates are then decoded every time). */
static struct thread_cache *cache(void)
{
    struct thread_cache *c = this_thread;

    if (c != NULL || conf_entries == 0)
        return c;
    if ((c = calloc(1, sizeof(*c))) == NULL || (c->slots = calloc(conf_entries, sizeof(*c->slots))) == NULL) {
        free(c);
        return NULL;
    }
    cg_slot_sets_init(&c->shape, conf_entries);
    if (cg_thread_local_set(&caches, c) != CG_OK) {
        free_cache(c);
        return NULL;
    }
    this_thread = c;
    return c;
}

void cg_cert_reuse_thread_release(void)
{
    cg_thread_local_release(&caches, this_thread);
    this_thread = NULL;
}

void cg_cert_reuse_stats(struct cg_cert_reuse_stats *out)
{
    out->reused = atomic_load_explicit(&st_reused, memory_order_relaxed);
    out->decoded = atomic_load_explicit(&st_decoded, memory_order_relaxed);
    out->evicted = atomic_load_explicit(&st_evicted, memory_order_relaxed);
    out->held = atomic_load_explicit(&st_held, memory_order_relaxed);
}

/* The length of the DER element at p (a SEQUENCE with a definite length of
 * at most four length bytes), header included, if it fits in `avail`; 0
 * otherwise (the call is then left entirely to the decoder). */
static size_t sequence_length(const unsigned char *p, size_t avail)
{
    size_t len, head = 2;

    if (avail < 2 || p[0] != 0x30)
        return 0;
    len = p[1];
    if (len & 0x80) {
        size_t n = len & 0x7f;
        if (n == 0 || n > 4 || avail < 2 + n)
            return 0;
        len = 0;
        for (size_t i = 0; i < n; i++)
            len = len << 8 | p[2 + i];
        head += n;
    }
    return len <= avail - head ? head + len : 0;
}

/* A keyed hash of the bytes, eight at a time. */
static uint64_t der_hash(uint64_t seed, const unsigned char *p, size_t n)
{
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL), w;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    if (i < n) {
        w = 0;
        memcpy(&w, p + i, n - i);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    }
    return h ^ h >> 29;
}

/* The certificate with these exact bytes, or NULL; `victim` is set to the
 * slot a new one would take. */
static struct slot *find(struct thread_cache *c, const unsigned char *der, size_t n, uint64_t h,
                         struct slot **victim)
{
    unsigned ways, first = cg_slot_sets_of(&c->shape, h, &ways);
    struct slot *set = c->slots + first;

    *victim = set;
    for (unsigned i = 0; i < ways; i++) {
        struct slot *s = &set[i];
        if (s->len == n && s->hash == h && memcmp(s->der, der, n) == 0)
            return s;
        if (s->len == 0 || ((*victim)->len != 0 && s->last_used < (*victim)->last_used))
            *victim = s;
    }
    return NULL;
}

static void keep(struct thread_cache *c, struct slot *s, const unsigned char *der, size_t n,
                 uint64_t h, X509 *cert)
{
    unsigned char *copy = malloc(n);

    if (copy == NULL || X509_up_ref(cert) != 1) {
        free(copy);
        return;
    }
    if (s->len != 0)
        atomic_fetch_add_explicit(&st_evicted, 1, memory_order_relaxed);
    drop_slot(s);
    memcpy(copy, der, n);
    s->hash = h;
    s->len = n;
    s->der = copy;
    s->cert = cert;
    s->last_used = ++c->shape.clock;
    atomic_fetch_add_explicit(&st_held, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st_decoded, 1, memory_order_relaxed);
}

static X509 *decode(X509 **a, const unsigned char **in, long len)
{
    return (X509 *)ASN1_item_d2i((ASN1_VALUE **)a, in, len, ASN1_ITEM_rptr(X509));
}

/*
 * Replaces libcrypto's d2i_X509 for the whole process (cert_reuse.h).
 * Outside an armed thread, or in any form but libssl's (a new X509 passed
 * in, to be filled), it is OpenSSL 3.0's d2i_X509 exactly. A reuse hands
 * back another reference to the kept X509 in place of the one passed in
 * (freed), as a decode into *a may: callers take the certificate from *a
 * and from the return value.
 */
X509 *d2i_X509(X509 **a, const unsigned char **in, long len)
{
    struct thread_cache *c;
    struct slot *s, *victim;
    const unsigned char *der;
    size_t n;
    uint64_t h;
    X509 *cert;

    if (!armed || a == NULL || *a == NULL || in == NULL || *in == NULL || len <= 0 ||
        (c = cache()) == NULL)
        return decode(a, in, len);
    der = *in;
    n = sequence_length(der, (size_t)len);
    if (n == 0 || n > conf_max_bytes)
        return decode(a, in, len);
    h = der_hash(c->shape.seed, der, n);
    if ((s = find(c, der, n, h, &victim)) != NULL) {
        if (X509_up_ref(s->cert) != 1)
            return decode(a, in, len);
        s->last_used = ++c->shape.clock;
        X509_free(*a);
        *a = s->cert;
        *in = der + n;
        atomic_fetch_add_explicit(&st_reused, 1, memory_order_relaxed);
        return s->cert;
    }
    cert = decode(a, in, len);
    if (cert != NULL && (size_t)(*in - der) == n)
        keep(c, victim, der, n, h, cert);
    return cert;
}

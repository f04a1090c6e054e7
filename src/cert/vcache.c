/*
 * vcache.c: the verification cache (see vcache.h for the contract).
 *
 * Layout: 2^k shards, each a chained hash table plus an LRU list under its
 * own mutex. A shard holds at most max_entries / shards entries and
 * max_bytes / shards bytes, so the whole stays within the limits without a
 * global counter that every worker would write.
 */
#include "cert/vcache.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cert/trust_internal.h"
#include "core/common.h"

/* What one X509 held by a verdict costs beyond its DER: the decoded
 * structures (names, extensions, the public key). An estimate, on the high
 * side, so that max_bytes is a bound. */
#define CG_VCACHE_X509_OVERHEAD 2048

struct cg_verdict_ref {
    atomic_uint refs;
    time_t from, until;        /* the span [from, until) */
    size_t bytes;              /* estimate, for max_bytes */
    struct cg_verdict v;
};

struct entry {
    unsigned char key[CG_VCACHE_KEY_LEN];
    struct cg_verdict_ref *ref;      /* the cache's reference */
    struct entry *hnext;             /* bucket chain */
    struct entry *prev, *next;       /* LRU: head is the most recent */
};

struct shard {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t mask;                     /* buckets - 1 */
    struct entry *head, *tail;
    size_t entries, bytes;
    size_t max_entries, max_bytes;
    uint64_t hits, misses, expired, inserts, evictions, uncacheable;
};

struct cg_vcache {
    struct cg_vcache_limits lim;
    EVP_MD *sha256;                  /* fetched once: an implicit fetch per key costs */
    unsigned n_shards;               /* a power of two */
    struct shard *shards;
};

/* ---- refcounted verdicts ------------------------------------------------ */

const struct cg_verdict *cg_verdict_ref_get(const struct cg_verdict_ref *r)
{
    return &r->v;
}

void cg_verdict_ref_span(const struct cg_verdict_ref *r, time_t *from, time_t *until)
{
    *from = r->from;
    *until = r->until;
}

struct cg_verdict_ref *cg_verdict_ref_dup(struct cg_verdict_ref *r)
{
    if (r != NULL)
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void cg_verdict_ref_unref(struct cg_verdict_ref *r)
{
    if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    cg_verdict_free(&r->v);
    free(r);
}

/* ---- keys --------------------------------------------------------------- */

static bool digest_str(EVP_MD_CTX *h, const char *s)
{
    /* Length first, so that ("ab", "c") and ("a", "bc") differ. */
    uint32_t n = s != NULL ? (uint32_t)strlen(s) : UINT32_MAX;
    return EVP_DigestUpdate(h, &n, sizeof(n)) == 1 &&
           (s == NULL || EVP_DigestUpdate(h, s, n) == 1);
}

/* Every field of p that can change a verdict, into h; the hook's argument
 * by address, or by arg_key when given (cg_vcache_judge_ex). */
static bool policy_update(EVP_MD_CTX *h, const struct cg_policy *p, const void *arg_key,
                          size_t arg_key_len)
{
    /* Field by field into a packed buffer: hashing the struct would hash its
     * padding and the addresses of the OID strings rather than the OIDs. */
    struct {
        int32_t purpose, revocation, scope, on_unknown, max_depth, eku_mode;
        int64_t max_crl_age, clock_skew;
        uint8_t explicit_policy, inhibit_policy_mapping, inhibit_any_policy;
        uint8_t anchor_skip_validity, anchor_skip_constraints, allow_sha1;
        uintptr_t hook, hook_arg;
    } f;

    memset(&f, 0, sizeof(f));
    f.purpose = (int32_t)p->purpose;
    f.revocation = (int32_t)p->revocation;
    f.scope = (int32_t)p->scope;
    f.on_unknown = (int32_t)p->on_unknown;
    f.max_depth = p->max_depth;
    f.eku_mode = (int32_t)p->eku_mode;
    f.max_crl_age = p->max_crl_age;
    f.clock_skew = p->clock_skew;
    f.explicit_policy = p->explicit_policy;
    f.inhibit_policy_mapping = p->inhibit_policy_mapping;
    f.inhibit_any_policy = p->inhibit_any_policy;
    f.anchor_skip_validity = p->anchor_skip_validity;
    f.anchor_skip_constraints = p->anchor_skip_constraints;
    f.allow_sha1 = p->allow_sha1;
    /* By address: a hook's answers depend on its state, which a reload
     * replaces together with the trust (whose epoch is in the key too). */
    f.hook = (uintptr_t)p->revocation_hook;
    f.hook_arg = arg_key != NULL ? (uintptr_t)arg_key_len : (uintptr_t)p->revocation_arg;
    if (EVP_DigestUpdate(h, &f, sizeof(f)) != 1 ||
        (arg_key != NULL && EVP_DigestUpdate(h, arg_key, arg_key_len) != 1))
        return false;
    for (size_t i = 0; i < CG_POLICY_MAX_OIDS && p->policy_oids[i] != NULL; i++) {
        if (!digest_str(h, p->policy_oids[i]))
            return false;
    }
    return digest_str(h, NULL);
}

int cg_policy_digest(const struct cg_policy *p, unsigned char out[CG_VCACHE_KEY_LEN])
{
    struct cg_policy defaults;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned int len = 0;
    int rc = CG_ERR;

    if (p == NULL) {
        cg_policy_init(&defaults);
        p = &defaults;
    }
    if (h == NULL || EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1 ||
        !policy_update(h, p, NULL, 0) ||
        EVP_DigestFinal_ex(h, out, &len) != 1 || len != CG_VCACHE_KEY_LEN)
        goto out;
    rc = CG_OK;
out:
    EVP_MD_CTX_free(h);
    return rc;
}

uint64_t cg_trust_epoch(const struct cg_trust *t)
{
    return t != NULL ? t->epoch : 0;
}

/* DER of x, length-prefixed, into h. One encoding pass: OpenSSL 3's
 * template encoder costs more than the hash (i2d to size, then to write,
 * would run it twice). */
static bool digest_cert(EVP_MD_CTX *h, X509 *x)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);
    uint32_t n32 = n > 0 ? (uint32_t)n : 0;
    bool ok = n > 0 && EVP_DigestUpdate(h, &n32, sizeof(n32)) == 1 &&
              EVP_DigestUpdate(h, der, (size_t)n) == 1;

    OPENSSL_free(der);
    return ok;
}

/* SHA-256 over the policy, the trust epoch, the leaf and the chain as sent
 * (order matters: it can change which path OpenSSL builds). */
static int make_key(const EVP_MD *sha256, X509 *leaf, STACK_OF(X509) *chain,
                    const struct cg_trust *trust, const struct cg_policy *policy,
                    const void *arg_key, size_t arg_key_len,
                    unsigned char key[CG_VCACHE_KEY_LEN])
{
    uint64_t epoch = cg_trust_epoch(trust);
    uint32_t n = (uint32_t)sk_X509_num(chain);   /* -1 (NULL) and 0 differ */
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned int len = 0;
    int rc = CG_ERR;

    if (h == NULL || EVP_DigestInit_ex(h, sha256, NULL) != 1 ||
        !policy_update(h, policy, arg_key, arg_key_len) ||
        EVP_DigestUpdate(h, &epoch, sizeof(epoch)) != 1 || !digest_cert(h, leaf) ||
        EVP_DigestUpdate(h, &n, sizeof(n)) != 1)
        goto out;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        if (!digest_cert(h, sk_X509_value(chain, i)))
            goto out;
    }
    if (EVP_DigestFinal_ex(h, key, &len) != 1 || len != CG_VCACHE_KEY_LEN)
        goto out;
    rc = CG_OK;
out:
    EVP_MD_CTX_free(h);
    return rc;
}

/* ---- the span of a verdict ---------------------------------------------- */

/*
 * The verdict taken at `at` holds on [from, until): every date that can
 * turn it lies outside. A date d counts as both d and d + 1, so that the
 * span is right whichever side of d OpenSSL puts the change (X509_cmp_time
 * treats "equal" as "before").
 */
struct span {
    time_t at, from, until;
};

static void span_add(struct span *s, time_t d)
{
    for (int k = 0; k < 2; k++, d++) {
        if (d <= s->at) {
            if (d > s->from)
                s->from = d;
        } else if (d < s->until) {
            s->until = d;
        }
    }
}

static void span_add_asn1(struct span *s, const ASN1_TIME *t)
{
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return;
    span_add(s, timegm(&tm));
}

static void span_add_cert(struct span *s, const X509 *x)
{
    span_add_asn1(s, X509_get0_notBefore(x));
    span_add_asn1(s, X509_get0_notAfter(x));
}

static void span_add_crl(struct span *s, const X509_CRL *crl, const struct cg_policy *p)
{
    const ASN1_TIME *last = X509_CRL_get0_lastUpdate(crl);
    struct tm tm;
    time_t tu;

    span_add_asn1(s, last);
    span_add_asn1(s, X509_CRL_get0_nextUpdate(crl));
    if (last == NULL || ASN1_TIME_to_tm(last, &tm) != 1)
        return;
    tu = timegm(&tm);
    /* The verdict engine stops using a CRL max_crl_age after its thisUpdate. */
    if (p->max_crl_age > 0)
        span_add(s, tu + (time_t)p->max_crl_age);
    /* ... and starts using it clock_skew before its thisUpdate. */
    if (p->clock_skew > 0)
        span_add(s, tu - (time_t)p->clock_skew);
}

static void span_cap(struct span *s, time_t ttl)
{
    if (s->at > LONG_MAX - ttl)
        return;
    if (s->at + ttl < s->until)
        s->until = s->at + ttl;
    if (s->at - ttl > s->from)
        s->from = s->at - ttl;
}

/*
 * The dates: of the certificates the client sent and of the path, of every
 * certificate and CRL of the stores (path building picks among candidate
 * issuers by their validity, and may try other paths: a store certificate
 * outside the chosen path can still turn the verdict), and of every
 * revocation answer a hook gave. Returns false when the verdict must not be
 * kept at all.
 */
static bool verdict_span(const struct cg_vcache *c, X509 *leaf, STACK_OF(X509) *chain,
                         const struct cg_trust *t, const struct cg_policy *p,
                         const struct cg_verdict *v, struct span *s)
{
    bool hooked = p->revocation_hook != NULL, unsure = false;

    s->from = LONG_MIN;
    s->until = LONG_MAX;
    span_add_cert(s, leaf);
    for (int i = 0; i < sk_X509_num(chain); i++)
        span_add_cert(s, sk_X509_value(chain, i));
    for (int i = 0; i < sk_X509_num(t->roots); i++)
        span_add_cert(s, sk_X509_value(t->roots, i));
    for (int i = 0; i < sk_X509_num(t->intermediates); i++)
        span_add_cert(s, sk_X509_value(t->intermediates, i));
    for (int i = 0; i < sk_X509_num(t->disallowed); i++)
        span_add_cert(s, sk_X509_value(t->disallowed, i));
    for (int i = 0; i < sk_X509_CRL_num(t->crls); i++)
        span_add_crl(s, sk_X509_CRL_value(t->crls, i), p);
    for (size_t i = 0; i < v->path_len; i++) {
        const struct cg_revocation_info *ri = &v->path[i].revocation;
        if (v->path[i].cert != NULL)
            span_add_cert(s, v->path[i].cert);
        if (!hooked || ri->source == CG_REV_SOURCE_NONE) {
            if (hooked && ri->status == CG_REV_UNKNOWN)
                unsure = true;
            continue;
        }
        if (ri->this_update != 0)
            span_add(s, ri->this_update);
        if (ri->next_update != 0)
            span_add(s, ri->next_update);
        /* Not past the moment its answer is due: the judge after it reads
         * the answer cache again, which is what tells the background
         * refresh that the answer is in use (it refreshes answers read
         * within two refresh periods at least). A verdict outliving that
         * would leave a chain served only from here with answers that look
         * idle, and the request after it would wait for a fetch. */
        if (ri->due != 0)
            span_add(s, ri->due);
        if (ri->status == CG_REV_UNKNOWN || ri->stale)
            unsure = true;
    }
    span_cap(s, c->lim.max_ttl);
    if (hooked)
        span_cap(s, c->lim.revocation_ttl);
    if (unsure) {
        if (c->lim.unknown_ttl <= 0)
            return false;
        span_cap(s, c->lim.unknown_ttl);
    }
    return s->from <= s->at && s->at < s->until;
}

/* ---- memory estimate ------------------------------------------------------ */

static size_t str_bytes(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static size_t verdict_bytes(const struct cg_verdict *v)
{
    size_t n = sizeof(struct cg_verdict_ref) + sizeof(struct entry) + str_bytes(v->detail);

    n += v->path_len * sizeof(*v->path) + v->n_remedy * sizeof(*v->remedy);
    for (size_t i = 0; i < v->n_remedy; i++)
        n += str_bytes(v->remedy[i]);
    for (size_t i = 0; i < v->path_len; i++) {
        const struct cg_path_element *e = &v->path[i];
        int der = e->cert != NULL ? i2d_X509(e->cert, NULL) : 0;
        if (e->cert != NULL)
            n += CG_VCACHE_X509_OVERHEAD + (der > 0 ? (size_t)der : 0);
        n += str_bytes(e->subject) + str_bytes(e->issuer) + str_bytes(e->serial) +
             str_bytes(e->revocation.tried) + e->n_problems * sizeof(*e->problems);
        for (size_t k = 0; k < e->n_problems; k++)
            n += str_bytes(e->problems[k].text);
    }
    return n;
}

/* ---- the table ------------------------------------------------------------ */

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n && p < ((size_t)1 << (sizeof(size_t) * CHAR_BIT - 2)))
        p <<= 1;
    return p;
}

struct cg_vcache *cg_vcache_new(const struct cg_vcache_limits *limits)
{
    struct cg_vcache *c = calloc(1, sizeof(*c));
    size_t per_entries, per_bytes;

    if (c == NULL)
        return NULL;
    if (limits != NULL)
        c->lim = *limits;
    if (c->lim.max_entries == 0)
        c->lim.max_entries = CG_VCACHE_DEFAULT_ENTRIES;
    if (c->lim.max_bytes == 0)
        c->lim.max_bytes = CG_VCACHE_DEFAULT_BYTES;
    if (c->lim.shards == 0)
        c->lim.shards = CG_VCACHE_DEFAULT_SHARDS;
    if (c->lim.max_ttl <= 0)
        c->lim.max_ttl = CG_VCACHE_DEFAULT_MAX_TTL;
    if (c->lim.revocation_ttl <= 0)
        c->lim.revocation_ttl = CG_VCACHE_DEFAULT_REV_TTL;
    if (c->lim.unknown_ttl < 0)
        c->lim.unknown_ttl = 0;
    c->n_shards = (unsigned)pow2_at_least(c->lim.shards > 1024 ? 1024 : c->lim.shards);
    /* Fewer shards than entries: a shard always holds one at least. */
    while (c->n_shards > 1 && c->n_shards > c->lim.max_entries)
        c->n_shards >>= 1;
    c->lim.shards = c->n_shards;
    per_entries = c->lim.max_entries / c->n_shards;
    per_bytes = c->lim.max_bytes / c->n_shards;
    c->shards = calloc(c->n_shards, sizeof(*c->shards));
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (c->shards == NULL || c->sha256 == NULL) {
        EVP_MD_free(c->sha256);
        free(c->shards);
        free(c);
        return NULL;
    }
    for (unsigned i = 0; i < c->n_shards; i++) {
        struct shard *s = &c->shards[i];
        size_t nb = pow2_at_least(per_entries < 8 ? 8 : per_entries);
        s->max_entries = per_entries;
        s->max_bytes = per_bytes;
        s->mask = nb - 1;
        s->buckets = calloc(nb, sizeof(*s->buckets));
        if (s->buckets == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
            free(s->buckets);
            s->buckets = NULL;
            c->n_shards = i;
            cg_vcache_free(c);
            return NULL;
        }
    }
    return c;
}

static void entries_free(struct entry *e)
{
    while (e != NULL) {
        struct entry *next = e->next;
        cg_verdict_ref_unref(e->ref);
        free(e);
        e = next;
    }
}

void cg_vcache_free(struct cg_vcache *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->n_shards; i++) {
        entries_free(c->shards[i].head);
        free(c->shards[i].buckets);
        pthread_mutex_destroy(&c->shards[i].lock);
    }
    free(c->shards);
    EVP_MD_free(c->sha256);
    free(c);
}

static struct shard *shard_of(struct cg_vcache *c, const unsigned char *key)
{
    uint32_t h;
    memcpy(&h, key, sizeof(h));
    return &c->shards[h & (c->n_shards - 1)];
}

static struct entry **bucket_of(struct shard *s, const unsigned char *key)
{
    uint64_t h;
    memcpy(&h, key + 4, sizeof(h));
    return &s->buckets[h & s->mask];
}

static void lru_unlink(struct shard *s, struct entry *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct shard *s, struct entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head != NULL)
        s->head->prev = e;
    s->head = e;
    if (s->tail == NULL)
        s->tail = e;
}

/* Takes e out of the shard (under its lock) and chains it on *dead, to be
 * freed once the lock is released. */
static void remove_entry(struct shard *s, struct entry *e, struct entry **dead)
{
    struct entry **pp = bucket_of(s, e->key);

    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(s, e);
    s->entries--;
    s->bytes -= e->ref->bytes;
    e->next = *dead;
    *dead = e;
}

static struct entry *find(struct shard *s, const unsigned char *key)
{
    for (struct entry *e = *bucket_of(s, key); e != NULL; e = e->hnext) {
        if (memcmp(e->key, key, CG_VCACHE_KEY_LEN) == 0)
            return e;
    }
    return NULL;
}

/* A cached verdict for key valid at `at`, with a reference for the caller;
 * NULL (a miss, counted) otherwise. */
static struct cg_verdict_ref *lookup(struct shard *s, const unsigned char *key, time_t at)
{
    struct cg_verdict_ref *r = NULL;
    struct entry *e, *dead = NULL;

    pthread_mutex_lock(&s->lock);
    e = find(s, key);
    if (e != NULL && at >= e->ref->from && at < e->ref->until) {
        r = cg_verdict_ref_dup(e->ref);
        if (s->head != e) {
            lru_unlink(s, e);
            lru_push_front(s, e);
        }
        s->hits++;
    } else {
        s->misses++;
        if (e != NULL) {
            s->expired++;
            remove_entry(s, e, &dead);
        }
    }
    pthread_mutex_unlock(&s->lock);
    entries_free(dead);
    return r;
}

/* Keeps r under key (the cache takes a reference). */
static void insert(struct shard *s, const unsigned char *key, struct cg_verdict_ref *r)
{
    struct entry *e = calloc(1, sizeof(*e)), *old, *dead = NULL;

    if (e == NULL)
        return;   /* not kept: a cache may forget */
    memcpy(e->key, key, CG_VCACHE_KEY_LEN);
    e->ref = cg_verdict_ref_dup(r);
    pthread_mutex_lock(&s->lock);
    if (r->bytes > s->max_bytes || s->max_entries == 0) {
        s->uncacheable++;
        pthread_mutex_unlock(&s->lock);
        entries_free(e);
        return;
    }
    old = find(s, key);
    if (old != NULL)
        remove_entry(s, old, &dead);
    while (s->tail != NULL &&
           (s->entries + 1 > s->max_entries || s->bytes + r->bytes > s->max_bytes)) {
        remove_entry(s, s->tail, &dead);
        s->evictions++;
    }
    {
        struct entry **b = bucket_of(s, key);
        e->hnext = *b;
        *b = e;
    }
    lru_push_front(s, e);
    s->entries++;
    s->bytes += r->bytes;
    s->inserts++;
    pthread_mutex_unlock(&s->lock);
    entries_free(dead);
}

static void count_uncacheable(struct cg_vcache *c, const unsigned char *key)
{
    struct shard *s = key != NULL ? shard_of(c, key) : &c->shards[0];

    pthread_mutex_lock(&s->lock);
    s->uncacheable++;
    pthread_mutex_unlock(&s->lock);
}

int cg_vcache_judge(struct cg_vcache *cache, X509 *leaf, STACK_OF(X509) *chain,
                    const struct cg_trust *trust, time_t at, const struct cg_policy *policy,
                    struct cg_verdict_ref **out)
{
    return cg_vcache_judge_ex(cache, leaf, chain, trust, at, policy, NULL, 0, out);
}

int cg_vcache_judge_ex(struct cg_vcache *cache, X509 *leaf, STACK_OF(X509) *chain,
                       const struct cg_trust *trust, time_t at, const struct cg_policy *policy,
                       const void *arg_key, size_t arg_key_len, struct cg_verdict_ref **out)
{
    struct cg_policy defaults;
    unsigned char key[CG_VCACHE_KEY_LEN];
    struct cg_verdict_ref *r = NULL;
    struct shard *s = NULL;
    struct span sp = {.at = at};
    int rc = CG_ERR;

    *out = NULL;
    if (policy == NULL) {
        cg_policy_init(&defaults);
        policy = &defaults;
    }
    /* No certificate or no stores: the verdict costs nothing to take. */
    if (cache != NULL && leaf != NULL && trust != NULL) {
        if (make_key(cache->sha256, leaf, chain, trust, policy, arg_key, arg_key_len, key) !=
            CG_OK)
            return CG_ERR;
        s = shard_of(cache, key);
        r = lookup(s, key, at);
        if (r != NULL) {
            *out = r;
            return CG_OK;
        }
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return CG_ERR;
    atomic_init(&r->refs, 1);
    if (cg_verdict_judge(leaf, chain, trust, at, policy, &r->v) != CG_OK)
        goto out;
    if (cache == NULL) {
        rc = CG_OK;
        goto out;
    }
    if (s == NULL || !verdict_span(cache, leaf, chain, trust, policy, &r->v, &sp)) {
        count_uncacheable(cache, s != NULL ? key : NULL);
        rc = CG_OK;
        goto out;
    }
    r->from = sp.from;
    r->until = sp.until;
    r->bytes = verdict_bytes(&r->v);
    insert(s, key, r);
    rc = CG_OK;
out:
    if (rc != CG_OK) {
        free(r);   /* cg_verdict_judge left r->v empty */
        r = NULL;
    }
    *out = r;
    return rc;
}

void cg_vcache_stats(struct cg_vcache *c, struct cg_vcache_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (unsigned i = 0; c != NULL && i < c->n_shards; i++) {
        struct shard *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        out->hits += s->hits;
        out->misses += s->misses;
        out->expired += s->expired;
        out->inserts += s->inserts;
        out->evictions += s->evictions;
        out->uncacheable += s->uncacheable;
        out->entries += s->entries;
        out->bytes += s->bytes;
        pthread_mutex_unlock(&s->lock);
    }
}

void cg_vcache_clear(struct cg_vcache *c)
{
    for (unsigned i = 0; c != NULL && i < c->n_shards; i++) {
        struct shard *s = &c->shards[i];
        struct entry *dead;

        pthread_mutex_lock(&s->lock);
        dead = s->head;
        s->head = s->tail = NULL;
        memset(s->buckets, 0, (s->mask + 1) * sizeof(*s->buckets));
        s->entries = 0;
        s->bytes = 0;
        pthread_mutex_unlock(&s->lock);
        entries_free(dead);
    }
}

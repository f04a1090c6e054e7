/*
 * trust.c: struct cg_trust, the four stores held in memory. Everything the
 * verdict engine needs per handshake is prepared here once: an X509_STORE
 * holding only the roots, the intermediate pool as a stack, the usable CRLs,
 * and sorted thumbprint sets for "is this certificate in that store?".
 */
#include "cert/verdict.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cert/load.h"
#include "cert/trust_internal.h"
#include "core/common.h"

/* A stores folder holding more files than this is refused rather than read. */
#define CG_TRUST_MAX_FILES 100000

bool cg_cert_sha256(X509 *x, unsigned char out[CG_SHA256_LEN])
{
    unsigned int len = 0;
    return X509_digest(x, EVP_sha256(), out, &len) == 1 && len == CG_SHA256_LEN;
}

static size_t digest_lower_bound(const struct cg_digest_set *s, const unsigned char *d)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(s->d[mid], d, CG_SHA256_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool cg_digest_set_has(const struct cg_digest_set *s, const unsigned char *d)
{
    size_t i = digest_lower_bound(s, d);
    return i < s->n && memcmp(s->d[i], d, CG_SHA256_LEN) == 0;
}

/* Inserts d; returns CG_DECLINED when already present. */
static int digest_set_add(struct cg_digest_set *s, const unsigned char *d)
{
    size_t i = digest_lower_bound(s, d);
    if (i < s->n && memcmp(s->d[i], d, CG_SHA256_LEN) == 0)
        return CG_DECLINED;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        void *p = realloc(s->d, cap * CG_SHA256_LEN);
        if (p == NULL)
            return CG_ERR;
        s->d = p;
        s->cap = cap;
    }
    memmove(s->d[i + 1], s->d[i], (s->n - i) * CG_SHA256_LEN);
    memcpy(s->d[i], d, CG_SHA256_LEN);
    s->n++;
    return CG_OK;
}

/* Epochs are never reused, unlike addresses: a cache keyed on the epoch
 * cannot mistake a reloaded trust for the one it replaced. */
static atomic_uint_fast64_t next_epoch = 1;

struct cg_trust *cg_trust_new(void)
{
    struct cg_trust *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    atomic_init(&t->refs, 1);
    t->epoch = atomic_fetch_add_explicit(&next_epoch, 1, memory_order_relaxed);
    t->store = X509_STORE_new();
    t->roots = sk_X509_new_null();
    t->intermediates = sk_X509_new_null();
    t->disallowed = sk_X509_new_null();
    t->crls = sk_X509_CRL_new_null();
    t->bad_crls = sk_X509_CRL_new_null();
    if (t->store == NULL || t->roots == NULL || t->intermediates == NULL ||
        t->disallowed == NULL || t->crls == NULL || t->bad_crls == NULL) {
        cg_trust_unref(t);
        return NULL;
    }
    return t;
}

struct cg_trust *cg_trust_ref(struct cg_trust *t)
{
    if (t != NULL)
        atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void cg_trust_unref(struct cg_trust *t)
{
    if (t == NULL || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->roots, X509_free);
    sk_X509_pop_free(t->intermediates, X509_free);
    sk_X509_pop_free(t->disallowed, X509_free);
    sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
    sk_X509_CRL_pop_free(t->bad_crls, X509_CRL_free);
    free(t->root_set.d);
    free(t->intermediate_set.d);
    free(t->disallowed_set.d);
    free(t->dir);
    free(t);
}

/* Adds cert to (stack, set) unless already there; takes a new reference. */
static int add_cert(STACK_OF(X509) *sk, struct cg_digest_set *set, X509 *cert)
{
    unsigned char d[CG_SHA256_LEN];
    int rc;

    if (cert == NULL || !cg_cert_sha256(cert, d))
        return CG_ERR;
    rc = digest_set_add(set, d);
    if (rc != CG_OK)
        return rc == CG_DECLINED ? CG_OK : CG_ERR;
    if (!X509_up_ref(cert))
        return CG_ERR;
    if (!sk_X509_push(sk, cert)) {
        X509_free(cert);
        return CG_ERR;
    }
    return CG_OK;
}

int cg_trust_add_root(struct cg_trust *t, X509 *cert)
{
    size_t before = t->root_set.n;
    if (add_cert(t->roots, &t->root_set, cert) != CG_OK)
        return CG_ERR;
    if (t->root_set.n != before && !X509_STORE_add_cert(t->store, cert))
        return CG_ERR;
    return CG_OK;
}

int cg_trust_add_intermediate(struct cg_trust *t, X509 *cert)
{
    return add_cert(t->intermediates, &t->intermediate_set, cert);
}

int cg_trust_add_disallowed(struct cg_trust *t, X509 *cert)
{
    return add_cert(t->disallowed, &t->disallowed_set, cert);
}

int cg_trust_add_crl(struct cg_trust *t, X509_CRL *crl)
{
    STACK_OF(X509_CRL) *sk;

    if (crl == NULL)
        return CG_ERR;
    sk = cg_crl_is_sound(crl) ? t->crls : t->bad_crls;
    for (int i = 0; i < sk_X509_CRL_num(sk); i++) {
        if (X509_CRL_cmp(sk_X509_CRL_value(sk, i), crl) == 0 &&
            X509_CRL_match(sk_X509_CRL_value(sk, i), crl) == 0)
            return CG_OK;
    }
    if (!X509_CRL_up_ref(crl))
        return CG_ERR;
    if (!sk_X509_CRL_push(sk, crl)) {
        X509_CRL_free(crl);
        return CG_ERR;
    }
    return CG_OK;
}

size_t cg_trust_crl_count(const struct cg_trust *t)
{
    return t == NULL ? 0
                     : (size_t)sk_X509_CRL_num(t->crls) + (size_t)sk_X509_CRL_num(t->bad_crls);
}

STACK_OF(X509) *cg_trust_roots(const struct cg_trust *t)
{
    return t->roots;
}

const char *cg_trust_dir(const struct cg_trust *t)
{
    return t->dir;
}

/* ---- loading a stores directory ------------------------------------- */

enum store_kind { STORE_ROOT, STORE_INTERMEDIATE, STORE_DISALLOWED, STORE_CRL };

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_one(struct cg_trust *t, enum store_kind kind, const char *path, char **err)
{
    struct cg_loaded l = {0};
    int rc = CG_ERR;

    if (cg_load_file(path, NULL, &l, err) != CG_OK)
        goto out;
    if (kind == STORE_CRL) {
        for (int i = 0; i < sk_X509_CRL_num(l.crls); i++) {
            if (cg_trust_add_crl(t, sk_X509_CRL_value(l.crls, i)) != CG_OK) {
                cg_set_err(err, "%s: cannot add the CRL", path);
                goto out;
            }
        }
    } else {
        for (int i = 0; i < sk_X509_num(l.certs); i++) {
            X509 *x = sk_X509_value(l.certs, i);
            int r = kind == STORE_ROOT           ? cg_trust_add_root(t, x)
                    : kind == STORE_INTERMEDIATE ? cg_trust_add_intermediate(t, x)
                                                 : cg_trust_add_disallowed(t, x);
            if (r != CG_OK) {
                cg_set_err(err, "%s: cannot add certificate %d", path, i + 1);
                goto out;
            }
        }
    }
    rc = CG_OK;
out:
    cg_loaded_free(&l);
    return rc;
}

static int load_folder(struct cg_trust *t, const char *dir, const char *sub,
                       enum store_kind kind, char **err)
{
    char *folder = NULL, *path = NULL;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = NULL;
    struct dirent *e;
    int rc = CG_ERR;

    if (asprintf(&folder, "%s/%s", dir, sub) < 0) {
        folder = NULL;
        goto out;
    }
    d = opendir(folder);
    if (d == NULL) {
        if (errno == ENOENT) {
            rc = CG_OK;   /* a missing folder is an empty store */
            goto out;
        }
        cg_set_err(err, "%s: %s", folder, strerror(errno));
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        /* Dot files include the temporaries of an import in progress. */
        if (e->d_name[0] == '.')
            continue;
        if (n == CG_TRUST_MAX_FILES) {
            cg_set_err(err, "%s: more than %d files", folder, CG_TRUST_MAX_FILES);
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **p = realloc(names, ncap * sizeof(*names));
            if (p == NULL)
                goto out;
            names = p;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (names[n] == NULL)
            goto out;
        n++;
    }
    /* Sorted so that a store always loads the same way, whatever readdir says. */
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        free(path);
        if (asprintf(&path, "%s/%s", folder, names[i]) < 0) {
            path = NULL;
            goto out;
        }
        if (load_one(t, kind, path, err) != CG_OK)
            goto out;
    }
    rc = CG_OK;
out:
    if (d != NULL)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(path);
    free(folder);
    return rc;
}

struct cg_trust *cg_trust_load_dir(const char *dir, char **err)
{
    static const struct { const char *name; enum store_kind kind; } folders[] = {
        {"root", STORE_ROOT},
        {"intermediate", STORE_INTERMEDIATE},
        {"disallowed", STORE_DISALLOWED},
        {"crl", STORE_CRL},
    };
    struct cg_trust *t = NULL;
    DIR *d = opendir(dir);

    if (d == NULL) {
        cg_set_err(err, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    closedir(d);
    t = cg_trust_new();
    if (t == NULL || (t->dir = strdup(dir)) == NULL) {
        cg_set_err(err, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(folders); i++) {
        if (load_folder(t, dir, folders[i].name, folders[i].kind, err) != CG_OK) {
            if (err != NULL && *err == NULL)
                cg_set_err(err, "%s/%s: out of memory", dir, folders[i].name);
            goto fail;
        }
    }
    return t;
fail:
    cg_trust_unref(t);
    return NULL;
}

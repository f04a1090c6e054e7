/*
 * store.c: the on-disk trust stores (store.h).
 *
 * Import runs in two phases: plan (load, classify, check every rule, decide
 * each file name) and write. Nothing is written until the whole plan holds,
 * so a refusal anywhere leaves the stores untouched; a failing write removes
 * what this import had already written.
 */
#include "cert/store.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert/pki.h"
#include "core/common.h"

/* A store folder bigger than this is not a trust store any more. */
#define STORE_MAX_FILES 100000

static const char *const kind_names[CG_STORE__COUNT] = {"root", "intermediate", "disallowed",
                                                        "crl"};

const char *cg_store_kind_name(cg_store_kind_t k)
{
    if (k < 0 || k >= CG_STORE__COUNT)
        return "none";
    return kind_names[k];
}

int cg_store_kind_from_name(const char *name, cg_store_kind_t *out)
{
    for (int i = 0; i < CG_STORE__COUNT; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (cg_store_kind_t)i;
            return CG_OK;
        }
    }
    return CG_ERR;
}

static void hex(const unsigned char *md, unsigned n, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n && i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * (n < 32 ? n : 32)] = '\0';
}

int cg_store_cert_thumbprint(const X509 *cert, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    out[0] = '\0';
    if (!X509_digest(cert, EVP_sha256(), md, &n))
        return CG_ERR;
    hex(md, n, out);
    return CG_OK;
}

int cg_store_crl_thumbprint(const X509_CRL *crl, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    out[0] = '\0';
    if (!X509_CRL_digest(crl, EVP_sha256(), md, &n))
        return CG_ERR;
    hex(md, n, out);
    return CG_OK;
}

bool cg_store_is_ca(X509 *cert)
{
    return X509_check_ca(cert) != 0;
}

bool cg_store_is_self_signed(X509 *cert)
{
    int r = X509_self_signed(cert, 1);
    ERR_clear_error();
    return r == 1;
}

cg_store_kind_t cg_store_classify(X509 *cert)
{
    if (!cg_store_is_ca(cert))
        return CG_STORE_AUTO;
    /* Self-issued but not self-signed (a key-rollover link) is no anchor. */
    return cg_store_is_self_signed(cert) ? CG_STORE_ROOT : CG_STORE_INTERMEDIATE;
}

/* ---- names and times ------------------------------------------------------ */

static char *bio_string(BIO *bio)
{
    char *data = NULL, *s = NULL;
    long len = BIO_get_mem_data(bio, &data);

    if (len < 0)
        return NULL;
    if ((s = malloc((size_t)len + 1)) == NULL)
        return NULL;
    memcpy(s, data, (size_t)len);
    s[len] = '\0';
    return s;
}

char *cg_store_name_rfc2253(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;

    /* RFC 2253 without ESC_MSB: UTF-8 stays UTF-8; control bytes are escaped. */
    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0)
        s = bio_string(bio);
    BIO_free(bio);
    return s;
}

char *cg_store_display_name(const X509_NAME *name)
{
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    const ASN1_STRING *cn;
    unsigned char *utf8 = NULL;
    char *s = NULL;
    int n;

    if (idx < 0)
        return cg_store_name_rfc2253(name);
    cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    n = ASN1_STRING_to_UTF8(&utf8, cn);
    if (n < 0) {
        ERR_clear_error();
        return cg_store_name_rfc2253(name);
    }
    /* Worst case every byte becomes \xNN. */
    if ((s = malloc((size_t)n * 4 + 1)) != NULL) {
        size_t o = 0;
        for (int i = 0; i < n; i++) {
            unsigned char c = utf8[i];
            if (c < 0x20 || c == 0x7f)
                o += (size_t)sprintf(s + o, "\\x%02X", c);
            else
                s[o++] = (char)c;
        }
        s[o] = '\0';
    }
    OPENSSL_free(utf8);
    return s;
}

static void iso_time(const ASN1_TIME *t, char out[32])
{
    struct tm tm;

    out[0] = '\0';
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
        ERR_clear_error();
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long crl_number(const X509_CRL *crl)
{
    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    int64_t v = -1;

    if (num == NULL || !ASN1_INTEGER_get_int64(&v, num) || v < 0 || v > LONG_MAX)
        v = -1;
    ASN1_INTEGER_free(num);
    ERR_clear_error();
    return (long)v;
}

static bool crl_is_delta(const X509_CRL *crl)
{
    return X509_CRL_get_ext_by_NID(crl, NID_delta_crl, -1) >= 0;
}

/* ---- files --------------------------------------------------------------- */

static int ensure_dir(const char *path, char **err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return cg_set_err(err, "%s: cannot create directory: %s", path, strerror(errno));
    return CG_OK;
}

static char *object_path(const char *dir, cg_store_kind_t kind, const char *thumb)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s/%s.pem", dir, cg_store_kind_name(kind), thumb) < 0)
        return NULL;
    return p;
}

/* Writes PEM in `bio` to DIR/<kind>/<thumb>.pem; *written says if it did. */
static int put_pem(const char *dir, cg_store_kind_t kind, const char *thumb, BIO *bio,
                   char **path_out, bool *written, char **err)
{
    char *sub = NULL, *path = NULL;
    int rc = CG_ERR;

    if (written != NULL)
        *written = false;
    if (asprintf(&sub, "%s/%s", dir, cg_store_kind_name(kind)) < 0) {
        sub = NULL;
        cg_set_err(err, "out of memory");
        goto done;
    }
    if (ensure_dir(dir, err) != CG_OK || ensure_dir(sub, err) != CG_OK)
        goto done;
    if ((path = object_path(dir, kind, thumb)) == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    /* Content-derived names: an existing file is this very object. */
    if (access(path, F_OK) != 0) {
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len <= 0 || cg_pki_write_atomic(path, data, (size_t)len, 0644, err) != CG_OK)
            goto done;
        if (written != NULL)
            *written = true;
    }
    if (path_out != NULL) {
        *path_out = path;
        path = NULL;
    }
    rc = CG_OK;
done:
    free(path);
    free(sub);
    return rc;
}

static int put_cert(const char *dir, cg_store_kind_t kind, X509 *cert, char **path_out,
                    bool *written, char **err)
{
    char thumb[65];
    BIO *bio = NULL;
    int rc = CG_ERR;

    if (kind < 0 || kind == CG_STORE_CRL || kind >= CG_STORE__COUNT)
        return cg_set_err(err, "a certificate goes to root, intermediate or disallowed");
    if (cg_store_cert_thumbprint(cert, thumb) != CG_OK ||
        (bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(bio, cert)) {
        ERR_clear_error();
        cg_set_err(err, "cannot encode the certificate");
        goto done;
    }
    rc = put_pem(dir, kind, thumb, bio, path_out, written, err);
done:
    BIO_free(bio);
    return rc;
}

static int put_crl(const char *dir, X509_CRL *crl, char **path_out, bool *written, char **err)
{
    char thumb[65];
    BIO *bio = NULL;
    int rc = CG_ERR;

    if (cg_store_crl_thumbprint(crl, thumb) != CG_OK || (bio = BIO_new(BIO_s_mem())) == NULL ||
        !PEM_write_bio_X509_CRL(bio, crl)) {
        ERR_clear_error();
        cg_set_err(err, "cannot encode the CRL");
        goto done;
    }
    rc = put_pem(dir, CG_STORE_CRL, thumb, bio, path_out, written, err);
done:
    BIO_free(bio);
    return rc;
}

int cg_store_put_cert(const char *dir, cg_store_kind_t kind, X509 *cert, char **path_out,
                      char **err)
{
    return put_cert(dir, kind, cert, path_out, NULL, err);
}

int cg_store_put_crl(const char *dir, X509_CRL *crl, char **path_out, char **err)
{
    return put_crl(dir, crl, path_out, NULL, err);
}

/* ---- listing ------------------------------------------------------------- */

static void entry_free(struct cg_store_entry *e)
{
    free(e->path);
    X509_free(e->cert);
    X509_CRL_free(e->crl);
    free(e->issued_to);
    free(e->issued_by);
    free(e->problem);
    memset(e, 0, sizeof(*e));
}

void cg_store_list_free(struct cg_store_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        entry_free(&l->entries[i]);
    free(l->entries);
    l->entries = NULL;
    l->n = 0;
}

static struct cg_store_entry *list_push(struct cg_store_list *l, size_t *cap)
{
    if (l->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct cg_store_entry *e = realloc(l->entries, ncap * sizeof(*e));
        if (e == NULL)
            return NULL;
        l->entries = e;
        *cap = ncap;
    }
    memset(&l->entries[l->n], 0, sizeof(l->entries[0]));
    return &l->entries[l->n++];
}

static int fill_cert_entry(struct cg_store_entry *e, X509 *cert, time_t now)
{
    X509_up_ref(cert);
    e->cert = cert;
    if (cg_store_cert_thumbprint(cert, e->thumbprint) != CG_OK)
        return CG_ERR;
    e->issued_to = cg_store_name_rfc2253(X509_get_subject_name(cert));
    e->issued_by = cg_store_name_rfc2253(X509_get_issuer_name(cert));
    if (e->issued_to == NULL || e->issued_by == NULL)
        return CG_ERR;
    iso_time(X509_get0_notBefore(cert), e->not_before);
    iso_time(X509_get0_notAfter(cert), e->not_after);
    e->expired = X509_cmp_time(X509_get0_notAfter(cert), &now) < 0;
    if (e->kind == CG_STORE_ROOT)
        e->not_self_signed_in_root = !cg_store_is_self_signed(cert);
    if (e->kind == CG_STORE_ROOT || e->kind == CG_STORE_INTERMEDIATE)
        e->not_ca = !cg_store_is_ca(cert);
    ERR_clear_error();
    return CG_OK;
}

static int fill_crl_entry(struct cg_store_entry *e, X509_CRL *crl, time_t now)
{
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);

    X509_CRL_up_ref(crl);
    e->crl = crl;
    if (cg_store_crl_thumbprint(crl, e->thumbprint) != CG_OK)
        return CG_ERR;
    e->issued_by = cg_store_name_rfc2253(X509_CRL_get_issuer(crl));
    if (e->issued_by == NULL)
        return CG_ERR;
    iso_time(X509_CRL_get0_lastUpdate(crl), e->not_before);
    iso_time(next, e->not_after);
    e->expired = next != NULL && X509_cmp_time(next, &now) < 0;
    int n_revoked = sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl));   /* -1: no list at all */
    e->crl_entries = n_revoked > 0 ? (size_t)n_revoked : 0;
    e->crl_number = crl_number(crl);
    ERR_clear_error();
    return CG_OK;
}

static bool has_pem_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".pem") == 0 && name[0] != '.';
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_kind(const char *dir, cg_store_kind_t kind, time_t now, struct cg_store_list *l,
                     size_t *cap, char **err)
{
    char *sub = NULL;
    char **names = NULL;
    size_t n_names = 0, cap_names = 0;
    DIR *d = NULL;
    struct dirent *de;
    int rc = CG_ERR;

    if (asprintf(&sub, "%s/%s", dir, cg_store_kind_name(kind)) < 0) {
        sub = NULL;
        goto oom;
    }
    if ((d = opendir(sub)) == NULL) {
        if (errno == ENOENT) {
            rc = CG_OK;
            goto done;
        }
        cg_set_err(err, "%s: cannot read: %s", sub, strerror(errno));
        goto done;
    }
    while ((de = readdir(d)) != NULL) {
        if (!has_pem_suffix(de->d_name))
            continue;
        if (n_names >= STORE_MAX_FILES) {
            cg_set_err(err, "%s: more than %d files", sub, STORE_MAX_FILES);
            goto done;
        }
        if (n_names == cap_names) {
            size_t nc = cap_names ? cap_names * 2 : 16;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (nn == NULL)
                goto oom;
            names = nn;
            cap_names = nc;
        }
        if ((names[n_names] = strdup(de->d_name)) == NULL)
            goto oom;
        n_names++;
    }
    if (n_names > 0)
        qsort(names, n_names, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n_names; i++) {
        struct cg_loaded ld = {0};
        char *path = NULL, *lerr = NULL;
        struct cg_store_entry *e;

        if (asprintf(&path, "%s/%s", sub, names[i]) < 0)
            goto oom;
        if (cg_load_file(path, NULL, &ld, &lerr) != CG_OK) {
            if ((e = list_push(l, cap)) == NULL) {
                free(path);
                free(lerr);
                goto oom;
            }
            e->kind = kind;
            e->path = path;
            e->crl_number = -1;
            e->problem = lerr != NULL ? lerr : strdup("unreadable");
            continue;
        }
        int n_obj = sk_X509_num(ld.certs) + sk_X509_CRL_num(ld.crls);
        for (int j = 0; j < n_obj; j++) {
            if ((e = list_push(l, cap)) == NULL || (e->path = strdup(path)) == NULL) {
                free(path);
                cg_loaded_free(&ld);
                goto oom;
            }
            e->kind = kind;
            e->crl_number = -1;
            int fill = j < sk_X509_num(ld.certs)
                           ? fill_cert_entry(e, sk_X509_value(ld.certs, j), now)
                           : fill_crl_entry(e, sk_X509_CRL_value(ld.crls,
                                                                 j - sk_X509_num(ld.certs)),
                                            now);
            if (fill != CG_OK) {
                free(path);
                cg_loaded_free(&ld);
                goto oom;
            }
            if (n_obj > 1 && e->problem == NULL &&
                asprintf(&e->problem, "the file holds %d objects; a store file holds one",
                         n_obj) < 0)
                e->problem = NULL;
            /* A certificate in crl/ or a CRL in a certificate store is misfiled. */
            if (e->problem == NULL && (kind == CG_STORE_CRL) != (e->crl != NULL) &&
                asprintf(&e->problem, "a %s in %s/", e->crl != NULL ? "CRL" : "certificate",
                         cg_store_kind_name(kind)) < 0)
                e->problem = NULL;
        }
        if (ld.key != NULL) {
            if ((e = list_push(l, cap)) == NULL || (e->path = strdup(path)) == NULL ||
                (e->problem = strdup("holds a private key; stores hold no keys")) == NULL) {
                free(path);
                cg_loaded_free(&ld);
                goto oom;
            }
            e->kind = kind;
            e->crl_number = -1;
        }
        free(path);
        cg_loaded_free(&ld);
    }
    rc = CG_OK;
    goto done;
oom:
    cg_set_err(err, "out of memory");
done:
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    if (d != NULL)
        closedir(d);
    free(sub);
    return rc;
}

int cg_store_list(const char *dir, time_t now, struct cg_store_list *out, char **err)
{
    struct stat st;
    size_t cap = 0;

    memset(out, 0, sizeof(*out));
    if (now == 0)
        now = time(NULL);
    if (stat(dir, &st) != 0)
        return cg_set_err(err, "%s: stores directory: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return cg_set_err(err, "%s: stores directory is not a directory", dir);
    for (int k = 0; k < CG_STORE__COUNT; k++) {
        if (list_kind(dir, (cg_store_kind_t)k, now, out, &cap, err) != CG_OK) {
            cg_store_list_free(out);
            return CG_ERR;
        }
    }
    return CG_OK;
}

int cg_store_find(const struct cg_store_list *l, const char *prefix, cg_store_kind_t only,
                  size_t *index, char **err)
{
    char lower[65];
    size_t n = strlen(prefix), found = 0, first = 0;
    char *cands = NULL;

    if (n < 4 || n > 64)
        return cg_set_err(err, "'%s': give at least 4 and at most 64 hex digits of the "
                               "thumbprint", prefix);
    for (size_t i = 0; i < n; i++) {
        /* MMC shows thumbprints with spaces; a colon form is common too. */
        if (!isxdigit((unsigned char)prefix[i]))
            return cg_set_err(err, "'%s': a thumbprint is hex digits only", prefix);
        lower[i] = (char)tolower((unsigned char)prefix[i]);
    }
    lower[n] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const struct cg_store_entry *e = &l->entries[i];
        if (e->thumbprint[0] == '\0' || strncmp(e->thumbprint, lower, n) != 0)
            continue;
        if (only != CG_STORE_AUTO && e->kind != only)
            continue;
        if (found++ == 0)
            first = i;
        char *more = NULL;
        if (asprintf(&more, "%s\n  %s/%s", cands != NULL ? cands : "",
                     cg_store_kind_name(e->kind), e->thumbprint) < 0)
            more = NULL;
        free(cands);
        cands = more;
    }
    if (found == 1) {
        *index = first;
        free(cands);
        return CG_OK;
    }
    if (found == 0)
        cg_set_err(err, "no certificate or CRL in the stores has a thumbprint starting with %s",
                   lower);
    else
        cg_set_err(err, "%s is ambiguous: %zu matches:%s\ngive more digits, or --store KIND "
                        "for a certificate that sits in several stores",
                   lower, found, cands != NULL ? cands : "");
    free(cands);
    return CG_DECLINED;
}

int cg_store_remove_entry(const struct cg_store_entry *e, char **err)
{
    if (e == NULL || e->path == NULL)
        return cg_set_err(err, "nothing to remove");
    if (e->problem != NULL && (e->cert != NULL || e->crl != NULL) &&
        strstr(e->problem, "objects") != NULL)
        return cg_set_err(err, "%s: %s; remove or edit it by hand", e->path, e->problem);
    if (unlink(e->path) != 0)
        return cg_set_err(err, "%s: cannot remove: %s", e->path, strerror(errno));
    return CG_OK;
}

/* ---- import --------------------------------------------------------------- */

void cg_store_import_report_free(struct cg_store_import_report *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_items; i++) {
        free(r->items[i].subject);
        free(r->items[i].warning);
    }
    free(r->items);
    r->items = NULL;
    r->n_items = 0;
}

/* One planned write. */
struct plan {
    cg_store_kind_t kind;
    X509 *cert;           /* borrowed from the loaded input */
    X509_CRL *crl;        /* borrowed */
    char thumb[65];
    bool already;
    char *warning;        /* moved into the report */
    char *supersedes;     /* path of an older CRL to remove after writing */
};

static int report_add(struct cg_store_import_report *r, const struct plan *p,
                      cg_store_action_t action)
{
    struct cg_store_import_item *items =
        realloc(r->items, (r->n_items + 1) * sizeof(*r->items));
    struct cg_store_import_item *it;

    if (items == NULL)
        return CG_ERR;
    r->items = items;
    it = &r->items[r->n_items];
    memset(it, 0, sizeof(*it));
    it->kind = p->kind;
    it->action = action;
    memcpy(it->thumbprint, p->thumb, sizeof(it->thumbprint));
    if (p->cert != NULL)
        it->subject = cg_store_name_rfc2253(X509_get_subject_name(p->cert));
    else if (p->crl != NULL)
        it->subject = cg_store_name_rfc2253(X509_CRL_get_issuer(p->crl));
    else
        it->subject = strdup("(private key)");
    if (it->subject == NULL)
        return CG_ERR;
    if (p->warning != NULL && (it->warning = strdup(p->warning)) == NULL) {
        free(it->subject);
        return CG_ERR;
    }
    r->n_items++;
    return CG_OK;
}

static bool exists(const char *dir, cg_store_kind_t kind, const char *thumb)
{
    char *path = object_path(dir, kind, thumb);
    bool e = path != NULL && access(path, F_OK) == 0;
    free(path);
    return e;
}

/* Refusal for a certificate whose classification contradicts `to`. */
static int check_cert_rule(const char *name, X509 *cert, cg_store_kind_t cls,
                           cg_store_kind_t to, bool force, char **warning, char **err)
{
    char *who = cg_store_display_name(X509_get_subject_name(cert));
    char *by = cg_store_display_name(X509_get_issuer_name(cert));
    char thumb[65];
    int rc = CG_DECLINED;

    cg_store_cert_thumbprint(cert, thumb);
    if (who == NULL || by == NULL) {
        rc = cg_set_err(err, "out of memory");
        goto done;
    }
    if (to == CG_STORE_DISALLOWED || (to == cls && cls != CG_STORE_AUTO) ||
        (to == CG_STORE_AUTO && cls != CG_STORE_AUTO)) {
        rc = CG_OK;
        goto done;
    }
    if (to == CG_STORE_AUTO) {
        /* cls is AUTO: not a CA. */
        cg_set_err(err, "%s: '%s' (%s) is not a CA certificate: trust stores hold CA "
                        "certificates only; a client certificate is judged against its "
                        "issuer, not stored. To distrust it explicitly, import it with "
                        "--to disallowed", name, who, thumb);
        goto done;
    }
    char *why = NULL;
    int n;
    if (to == CG_STORE_ROOT && cls == CG_STORE_INTERMEDIATE)
        n = asprintf(&why, "is an intermediate CA (issued by '%s', not self-signed). In root/ "
                           "it would become a trust anchor on its own, trusting everything it "
                           "issued whatever happens to its issuer (a revoked or distrusted "
                           "issuer would go unnoticed); this is the misplacement the IIS 403.7 "
                           "article warns about. Import it without --to (it goes to intermediate/) "
                           "and import its root instead", by);
    else if (to == CG_STORE_ROOT)
        n = asprintf(&why, "is not a CA certificate (issued by '%s'); a root store entry "
                           "should be a CA. To trust only this one certificate, use --force",
                     by);
    else if (to == CG_STORE_INTERMEDIATE && cls == CG_STORE_ROOT)
        n = asprintf(&why, "is a self-signed root CA (issued by '%s', itself). In intermediate/ "
                           "it is never a trust anchor: chains ending at it stay untrusted. "
                           "Import it without --to (it goes to root/) if it should be trusted",
                     by);
    else
        n = asprintf(&why, "is not a CA certificate (issued by '%s'); intermediate/ holds "
                           "issuing CAs only", by);
    if (n < 0) {
        rc = cg_set_err(err, "out of memory");
        goto done;
    }
    if (force) {
        if (asprintf(warning, "forced into %s/: '%s' %s", cg_store_kind_name(to), who, why) < 0)
            *warning = NULL;
        rc = CG_OK;
    } else {
        cg_set_err(err, "%s: refusing to put '%s' (%s) in %s/: it %s. --force overrides", name,
                   who, thumb, cg_store_kind_name(to), why);
    }
    free(why);
done:
    free(who);
    free(by);
    return rc;
}

/* Is cert the issuer of crl: same name and a signature that verifies? */
static int crl_signed_by(X509_CRL *crl, X509 *cert)
{
    EVP_PKEY *pk;
    int ok;

    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(cert)) != 0)
        return 0;   /* no match */
    pk = X509_get0_pubkey(cert);
    ok = pk != NULL && X509_CRL_verify(crl, pk) == 1;
    ERR_clear_error();
    return ok ? 1 : -1;   /* -1: right name, wrong key */
}

static int plan_crl(const char *dir, const char *name, X509_CRL *crl,
                    const struct cg_store_list *existing, const struct cg_loaded *in,
                    const struct cg_store_import_opts *opts, time_t now, struct plan *p,
                    char **err)
{
    int best = 0;
    char *issuer = cg_store_display_name(X509_CRL_get_issuer(crl));
    int rc = CG_DECLINED;

    if (issuer == NULL)
        return cg_set_err(err, "out of memory");
    /* The issuer may be in the stores or arrive in the same file. */
    for (size_t i = 0; i < existing->n && best != 1; i++) {
        const struct cg_store_entry *e = &existing->entries[i];
        if (e->cert == NULL || e->kind == CG_STORE_DISALLOWED)
            continue;
        int r = crl_signed_by(crl, e->cert);
        if (r != 0)
            best = r;
    }
    for (int i = 0; i < sk_X509_num(in->certs) && best != 1; i++) {
        X509 *c = sk_X509_value(in->certs, i);
        if (!cg_store_is_ca(c) || opts->to == CG_STORE_DISALLOWED)
            continue;
        int r = crl_signed_by(crl, c);
        if (r != 0)
            best = r;
    }
    if (best == 0) {
        cg_set_err(err, "%s: the CRL's issuer '%s' is not in root/ or intermediate/: import "
                        "that CA certificate first", name, issuer);
        goto done;
    }
    if (best < 0) {
        cg_set_err(err, "%s: the CRL's signature does not verify with the key of '%s' in the "
                        "stores: the CRL is corrupt or from another CA of the same name",
                   name, issuer);
        goto done;
    }
    p->kind = CG_STORE_CRL;
    p->crl = crl;
    cg_store_crl_thumbprint(crl, p->thumb);
    p->already = exists(dir, CG_STORE_CRL, p->thumb);
    const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
    if (next != NULL && X509_cmp_time(next, &now) < 0) {
        char when[32];
        iso_time(next, when);
        if (asprintf(&p->warning, "the CRL of '%s' is stale: its nextUpdate (%s) has passed; "
                                  "clients it covers get revocation-unknown until a fresh one "
                                  "is imported", issuer, when) < 0)
            p->warning = NULL;
    }
    /* Supersede an older full CRL of the same issuer; refuse to go back in time. */
    long num = crl_number(crl);
    for (size_t i = 0; i < existing->n && !p->already; i++) {
        const struct cg_store_entry *e = &existing->entries[i];
        if (e->crl == NULL || e->kind != CG_STORE_CRL ||
            X509_NAME_cmp(X509_CRL_get_issuer(e->crl), X509_CRL_get_issuer(crl)) != 0 ||
            crl_is_delta(e->crl) != crl_is_delta(crl))
            continue;
        long old = e->crl_number;
        int newer = num >= 0 && old >= 0
                        ? (num > old) - (num < old)
                        : ASN1_TIME_compare(X509_CRL_get0_lastUpdate(crl),
                                            X509_CRL_get0_lastUpdate(e->crl));
        if (newer < 0 && !opts->force) {
            cg_set_err(err, "%s: this CRL of '%s' (number %ld) is older than the one in the "
                            "store (%s, number %ld); --force imports it anyway",
                       name, issuer, num, e->thumbprint, old);
            goto done;
        }
        if (newer > 0 && p->supersedes == NULL && (p->supersedes = strdup(e->path)) == NULL) {
            rc = cg_set_err(err, "out of memory");
            goto done;
        }
    }
    rc = CG_OK;
done:
    free(issuer);
    return rc;
}

static void plans_free(struct plan *plans, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(plans[i].warning);
        free(plans[i].supersedes);
    }
    free(plans);
}

int cg_store_import_loaded(const char *dir, const char *name, const struct cg_loaded *in,
                           const struct cg_store_import_opts *opts,
                           struct cg_store_import_report *report, char **err)
{
    struct cg_store_import_opts defaults = {.to = CG_STORE_AUTO};
    struct cg_store_list existing = {0};
    struct plan *plans = NULL;
    char **written = NULL;
    size_t n_plans = 0, n_written = 0, n_max = 0;
    time_t now;
    int rc = CG_ERR;

    memset(report, 0, sizeof(*report));
    if (opts == NULL)
        opts = &defaults;
    now = opts->now != 0 ? opts->now : time(NULL);
    if (opts->to == CG_STORE_CRL && sk_X509_num(in->certs) > 0)
        return cg_set_err(err, "%s: holds certificates; --to crl is for CRLs only", name);
    if (sk_X509_num(in->certs) == 0 && sk_X509_CRL_num(in->crls) == 0)
        return cg_set_err(err, "%s: no certificate or CRL to import", name);

    /* The stores dir may not exist yet: an import creates it. */
    struct stat st;
    if (stat(dir, &st) == 0 && cg_store_list(dir, now, &existing, err) != CG_OK)
        goto done;

    n_max = (size_t)sk_X509_num(in->certs) + (size_t)sk_X509_CRL_num(in->crls) + 1;
    if ((plans = calloc(n_max, sizeof(*plans))) == NULL ||
        (written = calloc(n_max, sizeof(*written))) == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }

    /* Phase 1: plan and check everything. */
    for (int i = 0; i < sk_X509_num(in->certs); i++) {
        X509 *cert = sk_X509_value(in->certs, i);
        cg_store_kind_t cls = cg_store_classify(cert);
        cg_store_kind_t to = opts->to == CG_STORE_AUTO ? cls : opts->to;
        struct plan *p = &plans[n_plans];

        rc = check_cert_rule(name, cert, cls, opts->to, opts->force, &p->warning, err);
        if (rc != CG_OK)
            goto done;
        rc = CG_ERR;
        p->kind = to;
        p->cert = cert;
        if (cg_store_cert_thumbprint(cert, p->thumb) != CG_OK) {
            cg_set_err(err, "%s: cannot hash a certificate", name);
            goto done;
        }
        bool dup = false;
        for (size_t j = 0; j < n_plans; j++)
            dup = dup || (plans[j].kind == to && strcmp(plans[j].thumb, p->thumb) == 0);
        if (dup) {
            free(p->warning);
            p->warning = NULL;
            continue;
        }
        p->already = exists(dir, to, p->thumb);
        if (p->warning == NULL && to != CG_STORE_DISALLOWED &&
            exists(dir, CG_STORE_DISALLOWED, p->thumb) &&
            asprintf(&p->warning, "also in disallowed/: it stays distrusted until removed "
                                  "from there") < 0)
            p->warning = NULL;
        n_plans++;
    }
    for (int i = 0; i < sk_X509_CRL_num(in->crls); i++) {
        struct plan *p = &plans[n_plans];
        rc = plan_crl(dir, name, sk_X509_CRL_value(in->crls, i), &existing, in, opts, now, p,
                      err);
        if (rc != CG_OK)
            goto done;
        rc = CG_ERR;
        bool dup = false;
        for (size_t j = 0; j < n_plans; j++)
            dup = dup || (plans[j].kind == CG_STORE_CRL && strcmp(plans[j].thumb, p->thumb) == 0);
        if (dup) {
            free(p->warning);
            free(p->supersedes);
            memset(p, 0, sizeof(*p));
            continue;
        }
        n_plans++;
    }

    /* Phase 2: write. */
    for (size_t i = 0; i < n_plans; i++) {
        struct plan *p = &plans[i];
        bool w = false;
        char *path = NULL;
        if (p->already)
            continue;
        if ((p->cert != NULL ? put_cert(dir, p->kind, p->cert, &path, &w, err)
                             : put_crl(dir, p->crl, &path, &w, err)) != CG_OK) {
            free(path);
            goto rollback;
        }
        if (w)
            written[n_written++] = path;
        else
            free(path);
    }
    /* Superseded CRLs go only once the new ones are safely in place. */
    for (size_t i = 0; i < n_plans; i++) {
        if (plans[i].supersedes != NULL && !plans[i].already)
            unlink(plans[i].supersedes);
    }
    for (size_t i = 0; i < n_plans; i++) {
        if (report_add(report, &plans[i], plans[i].already ? CG_STORE_ALREADY : CG_STORE_ADDED) !=
            CG_OK) {
            /* The stores are updated; only the report is lost. */
            cg_set_err(err, "out of memory while reporting an import that succeeded");
            cg_store_import_report_free(report);
            goto done;
        }
    }
    if (in->key != NULL) {
        struct plan kp = {.kind = CG_STORE_AUTO,
                          .warning = "the private key in the file was not imported: stores "
                                     "hold certificates and CRLs only"};
        if (report_add(report, &kp, CG_STORE_SKIPPED) != CG_OK) {
            cg_set_err(err, "out of memory");
            goto done;
        }
    }
    rc = CG_OK;
    goto done;
rollback:
    for (size_t i = 0; i < n_written; i++)
        unlink(written[i]);
done:
    for (size_t i = 0; written != NULL && i < n_written; i++)
        free(written[i]);
    free(written);
    /* A refused plan may hold a warning past n_plans; calloc zeroed the rest. */
    if (plans != NULL)
        plans_free(plans, n_max);
    cg_store_list_free(&existing);
    return rc;
}

int cg_store_import(const char *dir, const char *file, const struct cg_store_import_opts *opts,
                    struct cg_store_import_report *report, char **err)
{
    struct cg_loaded in = {0};
    int rc;

    memset(report, 0, sizeof(*report));
    if (cg_load_file(file, opts != NULL ? opts->load : NULL, &in, err) != CG_OK)
        return CG_ERR;
    rc = cg_store_import_loaded(dir, file, &in, opts, report, err);
    cg_loaded_free(&in);
    return rc;
}

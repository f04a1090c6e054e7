/*
 * testutil.h: small helpers shared by the unit tests: scratch directories,
 * whole-file reads and writes, a directory fingerprint (to assert that a
 * refused operation changed nothing), a one-call CA/leaf maker on top of
 * cg_pki_*, and an in-memory TLS handshake. Header-only, every function static: each test program is one
 * translation unit.
 */
#ifndef CG_TESTS_TESTUTIL_H
#define CG_TESTS_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "cert/pki.h"

/* A fresh directory under $CG_TMPDIR (or /tmp). Caller frees the string and
 * removes the tree with tu_rmtree. Aborts on failure: tests cannot go on. */
static inline char *tu_mkdtemp(const char *tag)
{
    const char *base = getenv("CG_TMPDIR");
    char *path = NULL;

    if (base == NULL || *base == '\0')
        base = "/tmp";
    mkdir(base, 0755);
    if (asprintf(&path, "%s/%s.XXXXXX", base, tag) < 0 || mkdtemp(path) == NULL) {
        fprintf(stderr, "cannot create a scratch dir under %s: %s\n", base, strerror(errno));
        abort();
    }
    return path;
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void tu_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline char *tu_path(const char *dir, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%s/%s", dir, name) < 0)
        abort();
    return p;
}

static inline int tu_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t n = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && n == len) ? 0 : -1;
}

/* Reads a whole (small) file; NULL if missing. *len may be NULL. NUL-terminated. */
static inline unsigned char *tu_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            unsigned char *nb = realloc(buf, cap);
            if (nb == NULL)
                abort();
            buf = nb;
        }
        size_t r = fread(buf + n, 1, 4096, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

/* ---- directory fingerprint: paths, sizes and contents, in order --------- */

static char *tu_fp_acc;

static inline int tu_fp_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    char *line = NULL;
    unsigned long sum = 5381;

    if (flag == FTW_F) {
        size_t len = 0;
        unsigned char *data = tu_read(path, &len);
        for (size_t i = 0; data != NULL && i < len; i++)
            sum = sum * 33 + data[i];
        free(data);
    }
    if (asprintf(&line, "%s%s %c %lld %lu\n", tu_fp_acc ? tu_fp_acc : "", path,
                 flag == FTW_D ? 'd' : 'f', (long long)st->st_size, sum) < 0)
        abort();
    free(tu_fp_acc);
    tu_fp_acc = line;
    return 0;
}

static inline int tu_fp_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A string describing every file and folder under dir; equal strings mean
 * an unchanged tree. Caller frees. */
static inline char *tu_fingerprint(const char *dir)
{
    char *out = NULL, **lines = NULL, *save = NULL;
    size_t n = 0;

    tu_fp_acc = NULL;
    nftw(dir, tu_fp_one, 16, FTW_PHYS);
    if (tu_fp_acc == NULL)
        return strdup("");
    for (char *l = strtok_r(tu_fp_acc, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        lines = realloc(lines, (n + 1) * sizeof(*lines));
        lines[n++] = l;
    }
    qsort(lines, n, sizeof(*lines), tu_fp_cmp);
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    out = calloc(1, total);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
    }
    free(lines);
    free(tu_fp_acc);
    tu_fp_acc = NULL;
    return out;
}

static inline size_t tu_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* ---- PKI shortcuts ---------------------------------------------------- */

struct tu_pair {
    X509 *cert;
    EVP_PKEY *key;
};

/* Issues a cert of `profile` named cn under issuer (NULL: a root). Aborts on
 * failure with the error, since every later assertion would be noise. */
static inline struct tu_pair tu_issue(cg_pki_profile_t profile, const char *cn,
                                      const struct tu_pair *issuer)
{
    struct cg_pki_spec spec = {.profile = profile, .subject_cn = cn, .path_len = -1};
    struct tu_pair p = {0};
    char *err = NULL;

    p.key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    if (p.key != NULL)
        p.cert = cg_pki_issue(&spec, p.key, issuer ? issuer->cert : NULL,
                              issuer ? issuer->key : p.key, &err);
    if (p.cert == NULL) {
        fprintf(stderr, "tu_issue %s: %s\n", cn, err ? err : "?");
        abort();
    }
    return p;
}

static inline void tu_pair_free(struct tu_pair *p)
{
    X509_free(p->cert);
    EVP_PKEY_free(p->key);
    p->cert = NULL;
    p->key = NULL;
}

/* ---- TLS in memory ------------------------------------------------------ */

/* Joins a client and a server SSL with a memory BIO pair and runs their
 * handshake to the end; server_step runs the server's turns (NULL:
 * SSL_do_handshake). Aborts when it fails or does not finish. */
static inline void tu_handshake(SSL *c, SSL *s, int (*server_step)(SSL *))
{
    BIO *cb = NULL, *sb = NULL;
    int cdone = 0, sdone = 0, rc;

    if (BIO_new_bio_pair(&cb, 0, &sb, 0) != 1) {
        fprintf(stderr, "tu_handshake: BIO pair\n");
        abort();
    }
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    for (int i = 0; i < 20 && !(cdone && sdone); i++) {
        if (!cdone && !(cdone = (rc = SSL_do_handshake(c)) == 1) &&
            SSL_get_error(c, rc) != SSL_ERROR_WANT_READ)
            break;
        if (!sdone && !(sdone = (rc = (server_step ? server_step : SSL_do_handshake)(s)) == 1) &&
            SSL_get_error(s, rc) != SSL_ERROR_WANT_READ)
            break;
    }
    if (!cdone || !sdone) {
        fprintf(stderr, "tu_handshake: the handshake did not finish\n");
        ERR_print_errors_fp(stderr);
        abort();
    }
}

#endif

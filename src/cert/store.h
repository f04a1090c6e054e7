/*
 * store.h: the trust stores on disk (DESIGN.md "Trust stores"), managed the
 * way the Windows Certificates snap-in manages its stores.
 *
 *   DIR/root/          self-issued CA certificates (trust anchors)
 *   DIR/intermediate/  CA certificates whose issuer is another CA
 *   DIR/disallowed/    explicitly distrusted certificates, any level
 *   DIR/crl/           CRLs whose issuer is in root/ or intermediate/
 *
 * File naming: one object per file, PEM, named by the lower-case hex SHA-256
 * of the object's DER encoding: root/<thumbprint>.pem for a certificate (the
 * thumbprint MMC shows, with SHA-256), crl/<thumbprint-of-CRL-DER>.pem for a
 * CRL. A name derived from content makes re-importing a no-op and lets two
 * CRLs of one issuer (a full one and a delta, or two numbers while the older
 * is superseded) coexist without clashing. Files not ending in .pem are
 * ignored by list/show/remove.
 *
 * Writes are atomic: temp file in the same folder, then rename. An import
 * validates everything it was given before writing anything, so a refused or
 * failed import leaves the stores as they were.
 */
#ifndef CG_CERT_STORE_H
#define CG_CERT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "cert/load.h"

typedef enum {
    CG_STORE_ROOT = 0,
    CG_STORE_INTERMEDIATE,
    CG_STORE_DISALLOWED,
    CG_STORE_CRL,
    CG_STORE__COUNT,
    CG_STORE_AUTO = -1,   /* import: classify each certificate */
} cg_store_kind_t;

/* "root", "intermediate", "disallowed", "crl". */
const char *cg_store_kind_name(cg_store_kind_t k);
/* Parses one of the names above; CG_OK or CG_ERR. */
int cg_store_kind_from_name(const char *name, cg_store_kind_t *out);

/* Lower-case hex SHA-256 of the DER encoding into out (65 bytes with NUL). */
int cg_store_cert_thumbprint(const X509 *cert, char out[65]);
int cg_store_crl_thumbprint(const X509_CRL *crl, char out[65]);

/* True for a CA certificate (basicConstraints CA:TRUE, or a v1 self-signed
 * certificate, which OpenSSL also treats as a CA). */
bool cg_store_is_ca(X509 *cert);
/* True when issuer name == subject name and the signature verifies with the
 * certificate's own key (self-signed, not merely self-issued). */
bool cg_store_is_self_signed(X509 *cert);
/* A short name for display, as MMC shows it: the CN when there is one, else
 * the whole name in RFC 2253. Control characters (an embedded NUL) come out
 * as \xNN. Never NULL unless out of memory; caller frees. */
char *cg_store_display_name(const X509_NAME *name);
/* The whole name, RFC 2253, UTF-8 kept, control characters escaped. */
char *cg_store_name_rfc2253(const X509_NAME *name);

/* Where `import` would put it on its own: root for a self-issued CA,
 * intermediate for another CA, CG_STORE_AUTO (no store) for a non-CA. */
cg_store_kind_t cg_store_classify(X509 *cert);

/*
 * Writes one object into DIR/<kind>/<thumbprint>.pem atomically, creating the
 * folders as needed. No checks: this is the primitive import builds on (and
 * the demo uses). *path_out, when not NULL, receives the file path (caller
 * frees). Existing identical file: CG_OK, nothing written.
 */
int cg_store_put_cert(const char *dir, cg_store_kind_t kind, X509 *cert, char **path_out,
                      char **err);
int cg_store_put_crl(const char *dir, X509_CRL *crl, char **path_out, char **err);

/* ---- import ----------------------------------------------------------- */

struct cg_store_import_opts {
    cg_store_kind_t to;       /* CG_STORE_AUTO: classify; otherwise the requested store */
    bool force;               /* import even where the classification disagrees with `to` */
    time_t now;               /* 0: time(NULL); for CRL staleness warnings */
    const struct cg_load_opts *load;   /* size limit, password; NULL: defaults */
};

typedef enum {
    CG_STORE_ADDED = 0,       /* written */
    CG_STORE_ALREADY,         /* already there: nothing done */
    CG_STORE_SKIPPED,         /* a private key in the file: never imported */
} cg_store_action_t;

/* One line of an import report. */
struct cg_store_import_item {
    cg_store_kind_t kind;     /* where it went (or was) */
    cg_store_action_t action;
    char thumbprint[65];
    char *subject;            /* certs: subject; CRLs: issuer; RFC 2253 */
    char *warning;            /* NULL or a sentence (stale CRL, forced override, ...) */
};

struct cg_store_import_report {
    struct cg_store_import_item *items;
    size_t n_items;
};

void cg_store_import_report_free(struct cg_store_import_report *r);   /* NULL-safe */

/*
 * Imports every certificate and CRL found in `file` (any format load.h reads)
 * into the stores under `dir`. Returns:
 *   CG_OK       everything imported (or already present); report filled
 *   CG_DECLINED refused by a store rule (non-CA without --to disallowed, a
 *               classification contradicting `to` without force, a CRL whose
 *               issuer is not in the stores or whose signature fails); *err
 *               explains; nothing was written
 *   CG_ERR      unreadable input or I/O failure; *err says which; nothing
 *               written unless the failure hit the writes themselves, in
 *               which case the objects already written are removed again
 */
int cg_store_import(const char *dir, const char *file, const struct cg_store_import_opts *opts,
                    struct cg_store_import_report *report, char **err);
/* Same with already loaded objects (borrowed); `name` is used in messages. */
int cg_store_import_loaded(const char *dir, const char *name, const struct cg_loaded *in,
                           const struct cg_store_import_opts *opts,
                           struct cg_store_import_report *report, char **err);

/* ---- listing ---------------------------------------------------------- */

struct cg_store_entry {
    cg_store_kind_t kind;
    char *path;               /* the file */
    char thumbprint[65];      /* from the content (recomputed, not the file name) */
    X509 *cert;               /* owned; NULL for a CRL */
    X509_CRL *crl;            /* owned; NULL for a certificate */
    char *issued_to, *issued_by;   /* RFC 2253, UTF-8; for CRLs issued_to is NULL */
    char not_before[32], not_after[32];   /* ISO 8601 UTC; CRL: thisUpdate, nextUpdate ("" if none) */
    bool expired;             /* cert past notAfter, or CRL past nextUpdate */
    bool not_self_signed_in_root;   /* a certificate in root/ that is not self-signed */
    bool not_ca;              /* a non-CA certificate in root/ or intermediate/ */
    size_t crl_entries;       /* CRLs: number of revoked entries */
    long crl_number;          /* CRLs: CRL Number, -1 if absent or too large */
    char *problem;            /* NULL, or why the file could not be read (then cert/crl NULL) */
};

struct cg_store_list {
    struct cg_store_entry *entries;   /* sorted: root, intermediate, disallowed, crl; then by name */
    size_t n;
};

/* Reads every *.pem file under the four folders (missing folders are empty).
 * Unreadable files become entries with `problem` set rather than failing the
 * whole listing. CG_ERR only for a stores dir that cannot be read at all. */
int cg_store_list(const char *dir, time_t now, struct cg_store_list *out, char **err);
void cg_store_list_free(struct cg_store_list *l);   /* NULL-safe */

/*
 * Finds entries whose thumbprint starts with `prefix` (hex, case-insensitive,
 * at least 4 characters). Returns CG_OK with *index set when exactly one
 * matches; CG_DECLINED with *err for none or an ambiguous prefix (the message
 * lists the candidates); CG_ERR for a malformed prefix. `only` restricts the
 * search to one store (CG_STORE_AUTO: all), for a certificate that sits in
 * two stores (root/ and disallowed/).
 */
int cg_store_find(const struct cg_store_list *l, const char *prefix, cg_store_kind_t only,
                  size_t *index, char **err);

/* Removes the entry's file. CG_OK / CG_ERR. */
int cg_store_remove_entry(const struct cg_store_entry *e, char **err);

#endif

/*
 * load.h: reads certificates, CRLs and keys from files in every format an
 * administrator is handed: DER or PEM (.cer, .crt, .der, .pem), Base64 with or
 * without PEM armour, PEM bundles, PKCS#7 (.p7b, Windows' chain export) and
 * PKCS#12 (.pfx, .p12, with a password). The format is detected from the
 * content, never from the file name.
 *
 * Errors name the file and what is wrong with it ("client.p12: wrong
 * password", "x.pem: line 14: truncated base64"). Files larger than
 * `max_bytes` are refused before they are read whole.
 */
#ifndef CG_CERT_LOAD_H
#define CG_CERT_LOAD_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CG_LOAD_DEFAULT_MAX_BYTES (16u * 1024 * 1024)

/* Everything found in one file. Free with cg_loaded_free(). */
struct cg_loaded {
    STACK_OF(X509) *certs;      /* in file order; never NULL after a CG_OK load */
    STACK_OF(X509_CRL) *crls;   /* never NULL after a CG_OK load */
    EVP_PKEY *key;              /* NULL unless the file held a private key */
};

struct cg_load_opts {
    size_t max_bytes;           /* 0: CG_LOAD_DEFAULT_MAX_BYTES */
    const char *password;       /* for PKCS#12 and encrypted PEM keys; NULL: none */
};

/*
 * Loads `path`. On CG_OK, *out holds at least one object. A file with no
 * certificate, CRL or key in it is an error. opts may be NULL.
 */
int cg_load_file(const char *path, const struct cg_load_opts *opts,
                 struct cg_loaded *out, char **err);
/* Same, from memory; `name` is used in messages. */
int cg_load_mem(const char *name, const unsigned char *data, size_t len,
                const struct cg_load_opts *opts, struct cg_loaded *out, char **err);
void cg_loaded_free(struct cg_loaded *l);

/* Reads a password file's first line (without the newline). Caller frees. */
char *cg_load_password_file(const char *path, char **err);

#endif

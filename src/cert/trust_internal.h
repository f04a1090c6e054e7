/*
 * trust_internal.h: the inside of struct cg_trust, shared by trust.c (which
 * fills it) and verdict.c (which reads it). Not for use outside src/cert.
 */
#ifndef CG_CERT_TRUST_INTERNAL_H
#define CG_CERT_TRUST_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#define CG_SHA256_LEN 32

/* A sorted set of SHA-256 thumbprints, for membership tests per handshake. */
struct cg_digest_set {
    unsigned char (*d)[CG_SHA256_LEN];
    size_t n, cap;
};

struct cg_trust {
    atomic_int refs;
    uint64_t epoch;                   /* unique in the process: caches key on it (vcache.h) */
    X509_STORE *store;                /* the roots, as trust anchors; nothing else */
    STACK_OF(X509) *roots;            /* same certificates, in load order */
    STACK_OF(X509) *intermediates;    /* untrusted pool offered to path building */
    STACK_OF(X509) *disallowed;
    STACK_OF(X509_CRL) *crls;         /* usable CRLs, handed to each verification */
    STACK_OF(X509_CRL) *bad_crls;     /* structurally unsound: kept, never used */
    struct cg_digest_set root_set, intermediate_set, disallowed_set;
    char *dir;                        /* the stores directory, NULL when ad hoc */
};

bool cg_digest_set_has(const struct cg_digest_set *s, const unsigned char *d);
/* SHA-256 of the DER of `x` into out; false when it cannot be computed. */
bool cg_cert_sha256(X509 *x, unsigned char out[CG_SHA256_LEN]);
/* RFC 5280 soundness of a CRL beyond what OpenSSL's parser enforces. */
bool cg_crl_is_sound(X509_CRL *crl);

#endif

/*
 * verify_revocation.h: `certgate verify --revocation ocsp|online`: sets up
 * the verdict engine's revocation hook (cert/revocation.h) from the command
 * line and prints, per element, every source tried and its outcome.
 */
#ifndef CG_CLI_VERIFY_REVOCATION_H
#define CG_CLI_VERIFY_REVOCATION_H

#include <stdio.h>

#include "cert/verdict.h"

typedef enum {
    CG_VERIFY_REV_OFF = 0,
    CG_VERIFY_REV_CRL,        /* local CRLs, by OpenSSL (no hook) */
    CG_VERIFY_REV_OCSP,       /* a saved response (--ocsp-response), or fetched OCSP */
    CG_VERIFY_REV_ONLINE,     /* fetched OCSP, then local and fetched CRLs */
} cg_verify_rev_mode_t;

struct cg_verify_rev_args {
    cg_verify_rev_mode_t mode;
    const char *ocsp_response;    /* file with a DER OCSP response */
    const char *ocsp_responder;   /* override URL */
    const char *state_dir;        /* persist fetched answers here; NULL: memory only */
    long max_ocsp_age, stale_grace;
    long clock_skew;              /* seconds a thisUpdate may lie ahead (CG_OCSP_CLOCK_SKEW_S) */
    unsigned timeout_ms;          /* per fetch; 0: 5000 */
    size_t max_crl_bytes;         /* 0: 64 MiB */
    bool ocsp_nonce;              /* send a nonce, require it back, use no cached answer */
};

struct cg_verify_rev;

/* For modes OCSP and ONLINE: installs the hook in *policy (which must
 * outlive *out). CG_OK with *out (NULL for the other modes), or CG_ERR. */
int cg_verify_rev_setup(const struct cg_verify_rev_args *a, const struct cg_trust *trust,
                        struct cg_policy *policy, struct cg_verify_rev **out, char **err);
/* The per-element revocation section of the text output. */
void cg_verify_rev_print(FILE *f, const struct cg_verify_rev *r, const struct cg_verdict *v);
void cg_verify_rev_free(struct cg_verify_rev *r);   /* NULL-safe */

#endif

/*
 * verdict.h: the verdict engine. Given the chain a client sent, the trust
 * material, a time and a policy, decide whether the certificate is accepted
 * and, if not, exactly why, element by element.
 *
 * The server (at the handshake / per request), `certgate verify`, the error
 * pages and the logs all read the same struct cg_verdict, so they can never
 * disagree. OpenSSL does the cryptography and PKIX validation
 * (X509_verify_cert with our X509_STORE and a verify callback that records
 * every error at every depth and continues); this module owns the mapping of
 * those errors to reasons (reason.h) and the path report.
 *
 * Thread safety: a struct cg_trust is immutable once loaded and may be shared
 * by any number of threads judging at once; it is refcounted.
 */
#ifndef CG_CERT_VERDICT_H
#define CG_CERT_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "cert/reason.h"

/* ---- trust material -------------------------------------------------- */

/*
 * The four stores (DESIGN.md): root/, intermediate/, disallowed/, crl/.
 * Loaded from a stores directory or assembled ad hoc (verify --root ...).
 */
struct cg_trust;

/* Loads DIR/root, DIR/intermediate, DIR/disallowed, DIR/crl (missing
 * folders are empty stores). Unreadable files are an error naming the file.
 * The directory is read once, here: judging never touches the disk. */
struct cg_trust *cg_trust_load_dir(const char *dir, char **err);
/* An empty trust to fill with cg_trust_add_*; then freeze with use. */
struct cg_trust *cg_trust_new(void);
/*
 * Adds (takes a reference, does not steal). CG_OK / CG_ERR. Adding the same
 * certificate twice is a no-op. All adds happen before the first judge:
 * after that the trust is read-only and shared.
 */
int cg_trust_add_root(struct cg_trust *t, X509 *cert);      /* any cert: trusted as anchor */
int cg_trust_add_intermediate(struct cg_trust *t, X509 *cert);
int cg_trust_add_disallowed(struct cg_trust *t, X509 *cert);
/*
 * A CRL that is structurally unsound (what RFC 5280 forbids but OpenSSL's
 * parser lets through: extensions in a v1 CRL, an explicit v1 version, an
 * empty revokedCertificates list, a malformed issuingDistributionPoint) is
 * kept but never used: the certificates it covers get `revocation-unknown`.
 */
int cg_trust_add_crl(struct cg_trust *t, X509_CRL *crl);
size_t cg_trust_crl_count(const struct cg_trust *t);
/* The root store's certificates (borrowed): for the CertificateRequest CA list. */
STACK_OF(X509) *cg_trust_roots(const struct cg_trust *t);
/* The stores directory this trust was loaded from (borrowed), or NULL when
 * assembled ad hoc; remedies name files under it. */
const char *cg_trust_dir(const struct cg_trust *t);
struct cg_trust *cg_trust_ref(struct cg_trust *t);
void cg_trust_unref(struct cg_trust *t);   /* NULL-safe */

/* ---- revocation answered outside the engine (OCSP, fetched CRLs) ------ */

typedef enum {
    CG_REV_SOURCE_NONE = 0,        /* not checked */
    CG_REV_SOURCE_LOCAL_CRL,       /* stores/crl/ or --crl */
    CG_REV_SOURCE_FETCHED_CRL,     /* from the certificate's CRL distribution point */
    CG_REV_SOURCE_OCSP,            /* from its AIA responder, the override, or a file */
} cg_rev_source_t;

typedef enum { CG_REV_GOOD = 0, CG_REV_REVOKED, CG_REV_UNKNOWN } cg_rev_status_t;

/* What a revocation hook found out about one element. */
struct cg_revocation_info {
    cg_rev_source_t source;        /* of the answer used; NONE when none was usable */
    cg_rev_status_t status;
    time_t this_update, next_update;   /* of that answer; 0: unknown / none given */
    time_t revoked_at;             /* when REVOKED */
    int reason;                    /* CRL reason code when REVOKED; -1: none given */
    bool stale;                    /* past nextUpdate, accepted under stale_grace */
    time_t due;                    /* a cached answer (fetched CRL, OCSP): when the cache
                                      wants it fetched again (min(nextUpdate, fetched +
                                      refresh)); 0: not from the answer cache. The
                                      verification cache keeps no verdict past it */
    char *tried;                   /* heap, owned by the verdict: every source tried and
                                      its outcome and timing, "; "-separated; may be NULL */
};

const char *cg_rev_source_slug(cg_rev_source_t s);   /* "local-crl", "fetched-crl", "ocsp" */
const char *cg_rev_status_slug(cg_rev_status_t s);   /* "good", "revoked", "unknown" */
const char *cg_crl_reason_slug(int reason);          /* "keyCompromise", ...; "" for -1 */

/*
 * Asked about `cert` (issued by `issuer`) for each certificate in the
 * policy's scope on a path that reaches a trusted root, the root itself
 * excepted, after path validation. Fills *out (zeroed by the engine).
 * CG_OK, or CG_ERR only on allocation failure. Runs on the judging thread:
 * it must answer from what it already has (the server fetches first and
 * judges when the answers are in; `certgate verify` fetches in the hook).
 */
typedef int (*cg_revocation_fn)(void *arg, X509 *cert, X509 *issuer, time_t at,
                                struct cg_revocation_info *out);

/* ---- policy ----------------------------------------------------------- */

typedef enum { CG_PURPOSE_CLIENT = 0, CG_PURPOSE_SERVER, CG_PURPOSE_ANY } cg_purpose_t;
typedef enum { CG_REVOCATION_OFF = 0, CG_REVOCATION_CRL } cg_revocation_mode_t;
typedef enum { CG_SCOPE_CHAIN = 0, CG_SCOPE_LEAF } cg_revocation_scope_t;
typedef enum { CG_ON_UNKNOWN_DENY = 0, CG_ON_UNKNOWN_ALLOW } cg_on_unknown_t;

#define CG_POLICY_MAX_OIDS 16

struct cg_policy {
    cg_purpose_t purpose;              /* default client: require the clientAuth EKU */
    cg_revocation_mode_t revocation;   /* default off; crl: every element in scope needs a CRL */
    cg_revocation_scope_t scope;       /* default chain */
    cg_on_unknown_t on_unknown;        /* default deny */
    long max_crl_age;                  /* seconds since thisUpdate; 0: no limit */
    /*
     * Seconds a store CRL's thisUpdate may lie ahead of the verification
     * time and the CRL still count (the CA's clock may run ahead of ours;
     * config key revocation.clock_skew, as the revocation hook applies to
     * OCSP answers and fetched CRLs). 0: none, as OpenSSL. Only thisUpdate:
     * a CRL past its nextUpdate is judged as OpenSSL does.
     */
    long clock_skew;
    int max_depth;                     /* 0: default (10) */
    const char *policy_oids[CG_POLICY_MAX_OIDS];   /* RFC 5280 policy set; NULL-ended */
    bool explicit_policy, inhibit_policy_mapping, inhibit_any_policy;
    /*
     * Trust-anchor semantics. By default (as Windows and OpenSSL do) the
     * anchor is a certificate like the others: its own validity period and
     * its constraints (CA flag, key usage, EKU, path length) are checked.
     * RFC 5280 section 6.1 makes the anchor only a name and a key; each half
     * can be switched off on its own.
     */
    bool anchor_skip_validity, anchor_skip_constraints;
    /*
     * Extended key usage. CG_EKU_LENIENT (default, RFC 5280): a certificate
     * without EKU is good for any purpose and anyExtendedKeyUsage satisfies
     * every purpose. STRICT_LEAF: the leaf must name the purpose explicitly
     * (no anyEKU alone) and carry no code-signing, OCSP-signing or
     * time-stamping usage. STRICT: every CA below the anchor must name the
     * purpose too.
     */
    enum { CG_EKU_LENIENT = 0, CG_EKU_STRICT_LEAF, CG_EKU_STRICT } eku_mode;
    /*
     * Signatures and keys need 80 bits of security: keys under 1024 bits are
     * always refused, and so are MD5 and SHA-1 signatures unless this is
     * set (for old PKIs still issuing them).
     */
    bool allow_sha1;
    /*
     * Revocation by a hook (OCSP, fetched CRLs; see cg_revocation_fn): when
     * set, each element in scope gets the hook's answer in its report, and
     * `revoked` / `revocation-unknown` problems from it (unknown is
     * advisory under on_unknown: allow). Independent of `revocation`, which
     * drives OpenSSL's own check against the local CRLs.
     */
    cg_revocation_fn revocation_hook;
    void *revocation_arg;
};

/* Fills the defaults above. */
void cg_policy_init(struct cg_policy *p);

/* ---- verdict ---------------------------------------------------------- */

typedef enum {
    CG_SOURCE_CLIENT = 0,          /* sent by the client */
    CG_SOURCE_INTERMEDIATE_STORE,
    CG_SOURCE_ROOT_STORE,
    CG_SOURCE_MISSING,             /* an issuer found nowhere: only its name is known */
} cg_source_t;

const char *cg_source_slug(cg_source_t s);   /* "client", "intermediate-store", ... */

/* One problem found at one element of the path. */
struct cg_problem {
    cg_reason_t reason;
    int x509_error;            /* X509_V_ERR_* that raised it, 0 if certgate's own */
    char *text;                /* human sentence, e.g. "expired on 2025-01-01 00:00:00 UTC" */
    bool advisory;             /* recorded but allowed by the policy (e.g. revocation
                                  unknown under on_unknown: allow): not in the headline */
};

struct cg_path_element {
    X509 *cert;                /* owned reference; NULL when source is MISSING */
    char *subject, *issuer;    /* RFC 2253 one-line, UTF-8, escaped; never NULL */
    char *serial;              /* hex, upper case */
    char not_before[32], not_after[32];   /* ISO 8601 UTC "2026-01-01T00:00:00Z"; "" if missing */
    char sha256[65];           /* lower-case hex thumbprint; "" if missing */
    cg_source_t source;
    struct cg_revocation_info revocation;   /* filled when the policy has a revocation hook */
    struct cg_problem *problems;
    size_t n_problems;
};

struct cg_verdict {
    cg_reason_t reason;        /* the headline (cg_reason_rank) */
    int status, substatus;     /* from the reason table */
    const char *code;          /* "200", "403.16": static */
    const char *title;         /* static, from the reason table */
    char *detail;              /* one sentence naming the element and cause */
    struct cg_path_element *path;   /* leaf first, up to the root or the missing issuer */
    size_t path_len;
    char **remedy;             /* fixes, as sentences / commands; may be empty */
    size_t n_remedy;
};

/*
 * Judges `leaf` with the client-sent `chain` (may be NULL; need not be in
 * order; may contain the leaf or junk) against `trust` at time `at` under
 * `policy`. Always fills *out (a verdict is produced even for garbage input:
 * reason INVALID); returns CG_OK, or CG_ERR only on allocation failure.
 * leaf == NULL yields CERT_REQUIRED.
 * Free with cg_verdict_free().
 */
int cg_verdict_judge(X509 *leaf, STACK_OF(X509) *chain, const struct cg_trust *trust,
                     time_t at, const struct cg_policy *policy, struct cg_verdict *out);

/*
 * Where a client-sent certificate came from, when it came from a file
 * (`certgate verify`): remedies then name that file in the exact command to
 * run. The server has no such files and calls cg_verdict_judge().
 */
struct cg_cert_origin {
    X509 *cert;                /* borrowed */
    const char *file;          /* borrowed */
};

/* cg_verdict_judge with origins (may be NULL / 0). */
int cg_verdict_judge_ex(X509 *leaf, STACK_OF(X509) *chain, const struct cg_trust *trust,
                        time_t at, const struct cg_policy *policy,
                        const struct cg_cert_origin *origins, size_t n_origins,
                        struct cg_verdict *out);
void cg_verdict_free(struct cg_verdict *v);   /* NULL-safe; leaves *v zeroed */

#endif

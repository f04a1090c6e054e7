/*
 * pki.h: a small CA toolkit, for the demo and for tests. Tests generate their
 * PKI at run time with these primitives; nothing that expires is committed.
 *
 * Ownership: every function returning a pointer returns a new object the
 * caller frees with the matching OpenSSL free function (EVP_PKEY_free,
 * X509_free, X509_CRL_free). Inputs are borrowed.
 */
#ifndef CG_CERT_PKI_H
#define CG_CERT_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

typedef enum {
    CG_PKI_KEY_EC_P256 = 0,   /* default */
    CG_PKI_KEY_RSA_2048,
} cg_pki_key_type_t;

/* Which certificate profile to issue. */
typedef enum {
    CG_PKI_ROOT_CA = 0,        /* self-signed CA: basicConstraints CA:TRUE, keyCertSign|cRLSign */
    CG_PKI_INTERMEDIATE_CA,    /* CA:TRUE, keyCertSign|cRLSign */
    CG_PKI_CLIENT,             /* CA:FALSE, digitalSignature, EKU clientAuth */
    CG_PKI_SERVER,             /* CA:FALSE, digitalSignature(+keyEncipherment RSA), EKU serverAuth, SANs */
} cg_pki_profile_t;

/* EKU bits, for cg_pki_spec.eku (0 means "the profile's default"). */
enum {
    CG_PKI_EKU_CLIENT_AUTH = 1u << 0,
    CG_PKI_EKU_SERVER_AUTH = 1u << 1,
    CG_PKI_EKU_OCSP_SIGN   = 1u << 2,
    CG_PKI_EKU_NONE        = 1u << 31,   /* explicitly no EKU extension */
};

/* What to issue. Zero-initialise, then set what matters. */
struct cg_pki_spec {
    cg_pki_profile_t profile;
    const char *subject_cn;       /* required: the CN */
    const char *subject_o;        /* optional O= */
    time_t not_before;            /* 0: now - 1 hour */
    time_t not_after;             /* 0: not_before + 365 days */
    uint64_t serial;              /* 0: random 64-bit serial */
    unsigned eku;                 /* 0: profile default; CG_PKI_EKU_* bits otherwise */
    int path_len;                 /* for CAs: -1 means no pathLenConstraint (0 means 0!) */
    const char *const *dns_names; /* NULL-terminated SANs (servers; optional for clients) */
    const char *const *ip_addrs;  /* NULL-terminated IP SANs */
    const char *crl_url;          /* optional CRL distribution point URL */
    const char *ocsp_url;         /* optional AIA OCSP responder URL */
};

/* Generates a new key. Returns NULL on failure (message in *err). */
EVP_PKEY *cg_pki_keygen(cg_pki_key_type_t type, char **err);

/*
 * Issues a certificate for `subject_key` signed by (issuer, issuer_key).
 * For CG_PKI_ROOT_CA pass issuer = NULL and issuer_key = subject_key.
 * Sets SKI/AKI. Signs with SHA-256. Returns NULL on failure.
 */
X509 *cg_pki_issue(const struct cg_pki_spec *spec, EVP_PKEY *subject_key,
                   X509 *issuer, EVP_PKEY *issuer_key, char **err);

/* One revoked entry for cg_pki_make_crl. */
struct cg_pki_revoked {
    uint64_t serial;          /* or 0 with `cert` set */
    const X509 *cert;         /* take the serial from here when not NULL */
    time_t revoked_at;        /* 0: the CRL's thisUpdate - 1 minute */
    int reason;               /* CRL reason code (RFC 5280), -1: none */
};

/*
 * Makes a CRL signed by (issuer, issuer_key) with the given entries.
 * this_update 0 means now - 1 hour; next_update 0 means this_update + 7 days.
 * crl_number is the CRL Number extension. Returns NULL on failure.
 */
X509_CRL *cg_pki_make_crl(X509 *issuer, EVP_PKEY *issuer_key,
                          const struct cg_pki_revoked *revoked, size_t n_revoked,
                          time_t this_update, time_t next_update, long crl_number,
                          char **err);

/*
 * Answers the DER OCSP request `req` as the responder of `issuer` would:
 * for each CertID of a certificate `issuer` issued, "revoked" when its
 * serial is in `revoked` (date and reason from there), "good" otherwise; a
 * CertID for another issuer gets "unknown". Signed by (signer, signer_key):
 * the issuer itself, or a responder certificate it issued with the
 * OCSP-signing EKU (then included in the response). A nonce in the request
 * is echoed. this_update 0: now - 1 minute; next_update 0: this_update +
 * 1 hour; next_update -1: none. A request that does not parse gets a
 * malformedRequest response (still CG_OK). *der is the caller's, freed
 * with OPENSSL_free. Implemented in pki_ocsp.c.
 */
int cg_pki_ocsp_respond(const unsigned char *req, size_t req_len, X509 *issuer, X509 *signer,
                        EVP_PKEY *signer_key, const struct cg_pki_revoked *revoked,
                        size_t n_revoked, time_t this_update, time_t next_update,
                        unsigned char **der, size_t *len, char **err);

/* Writers: PEM files, written atomically (temp + rename). CG_OK / CG_ERR. */
int cg_pki_write_cert_pem(const char *path, X509 *const *certs, size_t n, char **err);
int cg_pki_write_key_pem(const char *path, EVP_PKEY *key, char **err);
int cg_pki_write_crl_pem(const char *path, X509_CRL *crl, char **err);
int cg_pki_write_cert_der(const char *path, X509 *cert, char **err);
/* PKCS#12 with the key, the certificate and its chain (ca may be NULL). */
int cg_pki_write_p12(const char *path, const char *password, EVP_PKEY *key, X509 *cert,
                     STACK_OF(X509) *ca, char **err);

/*
 * Writes `len` bytes to `path` atomically: a temp file in the same folder,
 * fsync, rename over `path`. `mode` is the file's permission bits (0600 for
 * private keys). A reader sees the old content or the new, never a part.
 */
int cg_pki_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                        char **err);

/*
 * Parses a time for the CLI: ISO 8601 UTC ("2026-01-31", "2026-01-31T12:00:00Z",
 * "2026-01-31 12:00:00"), "@EPOCH", or relative to `now`: "+30d", "-1d",
 * "+12h", "-90m", "+45s", "now". CG_OK with *out, or CG_ERR with *err.
 */
int cg_pki_parse_time(const char *text, time_t now, time_t *out, char **err);

/*
 * Writes the complete demo PKI under `dir` (created if missing):
 *   ca/root.pem, ca/root.key, ca/intermediate.pem, ca/intermediate.key,
 *   ca/other-root.pem (+key)                       the untrusted root
 *   ca/unlisted-intermediate.pem (+key)            the issuer of incomplete-chain,
 *                                   in no store and in no client chain
 *   server/server.pem (cert + intermediate), server/server.key
 *                                   (localhost, 127.0.0.1, ::1)
 *   stores/root/, stores/intermediate/, stores/crl/   populated as store.h
 *                                   names them: the root, the intermediate, a CRL
 *                                   of the intermediate revoking `revoked`
 *                                   (keyCompromise) and an empty CRL of the root,
 *                                   both valid for 30 days
 *   clients/<case>.pem (cert + chain as a client sends it), clients/<case>.key,
 *   clients/<case>.p12 (password "certgate")
 *   for case in: valid expired not-yet-valid revoked untrusted wrong-usage
 *                incomplete-chain
 * Returns CG_OK or CG_ERR with *err.
 */
int cg_pki_demo(const char *dir, char **err);

typedef enum {
    CG_PKI_DEMO_KEPT = 0,          /* complete and current: nothing written */
    CG_PKI_DEMO_CREATED,           /* written from scratch */
    CG_PKI_DEMO_CRLS_REFRESHED,    /* only the CRLs were past nextUpdate: reissued */
} cg_pki_demo_result_t;

/*
 * cg_pki_demo with control. A demo dir that is complete (its marker file
 * `.certgate-demo` exists, written last) and current (CAs, server and valid
 * client not expired, CRLs not past nextUpdate) is left alone unless `force`.
 * When only the CRLs are stale, they are reissued by the demo CAs with the
 * next CRL number, so certificates already installed in browsers stay good.
 * Anything else (partial, expired, forced) is regenerated from scratch.
 * *result (may be NULL) says which happened.
 */
int cg_pki_demo_ex(const char *dir, bool force, cg_pki_demo_result_t *result, char **err);

/*
 * Where the demo's client certificates (those of the demo intermediate) say
 * their revocation is published: a loopback port that `certgate serve`
 * answers in demo mode, the CRL being the intermediate's from stores/crl/
 * and the OCSP answers made with cg_pki_ocsp_respond from that CRL's
 * entries and ca/intermediate.key.
 */
#define CG_PKI_DEMO_REVOCATION_PORT 8480
#define CG_PKI_DEMO_CRL_URL "http://127.0.0.1:8480/.well-known/certgate/intermediate.crl"
#define CG_PKI_DEMO_OCSP_URL "http://127.0.0.1:8480/.well-known/certgate/ocsp"

/* The PKCS#12 password of the demo's clients/<case>.p12 files. */
#define CG_PKI_DEMO_P12_PASSWORD "certgate"

#endif

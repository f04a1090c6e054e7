/*
 * ocsp.h: judging an OCSP response (RFC 6960) for one certificate, offline.
 *
 * The response is parsed here by a strict DER reader of our own rather than
 * by OpenSSL's OCSP_RESPONSE decoder, for two reasons: OpenSSL's decoder
 * refuses a whole response over a non-minimally encoded serial in one CertID
 * (which a responder for an old PKI does send), and its OCSP_basic_verify()
 * does not look at critical extensions, takes the first matching
 * SingleResponse (so a response listing "good" then "revoked" for the same
 * certificate reads as good), and does not check the responder certificate
 * against producedAt. OpenSSL still does all the cryptography.
 *
 * A response is usable only when all of these hold:
 *   - responseStatus is successful and the type is id-pkix-ocsp-basic;
 *   - it is signed by the issuer itself, or by a responder certificate the
 *     issuer signed that carries the OCSP-signing EKU and was valid when the
 *     response was produced (RFC 6960 4.2.2.2);
 *   - the signature verifies;
 *   - no critical extension we do not understand (response or single);
 *   - producedAt falls within the certificate's validity;
 *   - at least one SingleResponse is for this certificate (hash of the
 *     issuer's name and key, serial), and each one that is has
 *     thisUpdate <= at (+ clock_skew) <= nextUpdate (+ stale_grace),
 *     thisUpdate not older
 *     than max_age when set.
 * Several SingleResponses for the certificate combine to the worst: revoked
 * over unknown over good; never good when any says otherwise.
 *
 * Thread safety: no shared state; callable from any thread.
 */
#ifndef CG_CERT_OCSP_H
#define CG_CERT_OCSP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

typedef enum {
    CG_OCSP_GOOD = 0,
    CG_OCSP_REVOKED,
    CG_OCSP_UNKNOWN,     /* the responder says it does not know, or the answer is unusable */
} cg_ocsp_status_t;

/* Why a response is unusable: enum, stable slug (logs, JSON), sentence. */
#define CG_OCSP_ERROR_MAP(X)                                                               \
    X(NONE, "none", "the response is usable")                                              \
    X(MALFORMED, "malformed", "the response is not a well-formed OCSP response")           \
    X(RESPONDER_ERROR, "responder-error", "the responder answered with an error status")   \
    X(SIGNER_UNKNOWN, "signer-unknown", "no certificate matches the responder ID")         \
    X(SIGNER_UNAUTHORISED, "signer-unauthorised",                                          \
      "the responder is neither the issuer nor delegated by it for OCSP signing")          \
    X(SIGNER_NOT_VALID, "signer-not-valid",                                                \
      "the responder certificate was not valid when the response was produced")            \
    X(BAD_SIGNATURE, "bad-signature", "the response signature does not verify")            \
    X(CRITICAL_EXTENSION, "critical-extension",                                            \
      "the response carries a critical extension certgate does not understand")            \
    X(BAD_PRODUCED_AT, "bad-produced-at",                                                  \
      "the response was produced outside the certificate's validity period")               \
    X(NO_MATCH, "wrong-certificate", "the response is not about this certificate")         \
    X(NOT_YET_VALID, "not-yet-valid", "the response's thisUpdate is in the future")        \
    X(STALE, "stale", "the response is past its nextUpdate or older than allowed")         \
    X(NONCE, "nonce-mismatch", "the response does not echo the request's nonce")           \
    X(INTERNAL, "internal", "out of memory or an OpenSSL failure")

typedef enum {
#define CG_OCSP_ENUM(name, slug, text) CG_OCSP_ERR_##name,
    CG_OCSP_ERROR_MAP(CG_OCSP_ENUM)
#undef CG_OCSP_ENUM
} cg_ocsp_error_t;

const char *cg_ocsp_error_slug(cg_ocsp_error_t e);
const char *cg_ocsp_error_text(cg_ocsp_error_t e);
const char *cg_ocsp_status_slug(cg_ocsp_status_t s);   /* "good", "revoked", "unknown" */

/* How to judge. Zero-initialise, set `at`. */
/*
 * The default of cg_ocsp_params.clock_skew (config key
 * revocation.clock_skew; `certgate verify` uses it as is): how far a
 * thisUpdate may lie ahead of the time judged at. A responder or CRL
 * issuer stamps its answer with its own clock: an answer fetched now is
 * often dated the next second (the time to judge at was taken before the
 * fetch), and issuers' clocks drift. OpenSSL's `openssl ocsp
 * -validity_period` defaults to the same 5 minutes.
 */
#define CG_OCSP_CLOCK_SKEW_S 300

struct cg_ocsp_params {
    time_t at;                    /* the time to judge at */
    long max_age;                 /* seconds: thisUpdate older than at - max_age is stale; 0: no limit */
    long stale_grace;             /* seconds past nextUpdate still accepted (marked stale) */
    long clock_skew;              /* seconds a thisUpdate may lie ahead of `at`; further
                                     ahead is not-yet-valid. 0: none (see
                                     CG_OCSP_CLOCK_SKEW_S for the usual value) */
    STACK_OF(X509) *untrusted;    /* more places to find a delegated responder cert; may be NULL */
    const unsigned char *nonce;   /* when set, the response must echo it */
    size_t nonce_len;
};

struct cg_ocsp_result {
    cg_ocsp_status_t status;      /* UNKNOWN whenever error != NONE */
    cg_ocsp_error_t error;
    bool stale;                   /* usable only thanks to stale_grace */
    bool delegated;               /* signed by a delegated responder, not the issuer */
    int reason;                   /* CRL reason code of a revocation; -1: none given */
    time_t revoked_at;            /* when status is REVOKED */
    time_t produced_at, this_update;
    time_t next_update;           /* 0: the response gives none */
};

/*
 * Judges the DER response `der` about `cert`, issued by `issuer` (both
 * borrowed). Returns CG_OK when the response is usable: out->status says
 * good / revoked / unknown. Returns CG_ERR when it is not: out->error says
 * why, out->status is UNKNOWN, and *err (may be NULL) holds a sentence.
 * out is always filled.
 */
int cg_ocsp_judge(const unsigned char *der, size_t len, X509 *cert, X509 *issuer,
                  const struct cg_ocsp_params *params, struct cg_ocsp_result *out,
                  char **err);

/*
 * A DER OCSPRequest for `cert` (CertID with SHA-1, what responders expect),
 * with a nonce when nonce_len > 0 (random bytes are written to `nonce`,
 * up to 32). *der is the caller's, freed with OPENSSL_free.
 */
int cg_ocsp_request(X509 *cert, X509 *issuer, unsigned char *nonce, size_t nonce_len,
                    unsigned char **der, size_t *len, char **err);

/* The certificate's first AIA OCSP URL (new string, caller frees), or NULL. */
char *cg_ocsp_url(X509 *cert);

#endif

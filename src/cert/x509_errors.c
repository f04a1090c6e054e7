/*
 * x509_errors.c: the one table from OpenSSL verification errors to reasons.
 * Every X509_V_ERR_* that OpenSSL 3.0 defines is listed, including those it
 * only raises in modes certgate does not use (Suite B, DANE, host checks), so
 * that a future flag cannot produce an unexplained code.
 */
#include "cert/x509_errors.h"

#include <stddef.h>

#include <openssl/x509_vfy.h>

#include "core/common.h"

/* Codes newer than some 3.0 headers: keep the table compiling everywhere. */
#ifndef X509_V_ERR_EC_KEY_EXPLICIT_PARAMS
#define X509_V_ERR_EC_KEY_EXPLICIT_PARAMS 94
#endif

#define CG_X509_ERROR_MAP(XX)                                                               \
    XX(X509_V_ERR_UNSPECIFIED, INVALID, "could not be verified for an unspecified reason")  \
    XX(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, INCOMPLETE_CHAIN,                              \
       "has an issuer that was found neither in the client's chain nor in the stores")      \
    XX(X509_V_ERR_UNABLE_TO_GET_CRL, REVOCATION_UNKNOWN,                                    \
       "has no CRL from its issuer, so its revocation status is unknown")                   \
    XX(X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, BAD_SIGNATURE,                          \
       "has a signature that cannot be decoded")                                            \
    XX(X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE, REVOCATION_UNKNOWN,                      \
       "is covered by a CRL whose signature cannot be decoded")                             \
    XX(X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, BAD_SIGNATURE,                        \
       "has an issuer whose public key cannot be decoded")                                  \
    XX(X509_V_ERR_CERT_SIGNATURE_FAILURE, BAD_SIGNATURE,                                    \
       "has a signature that does not verify with its issuer's key")                        \
    XX(X509_V_ERR_CRL_SIGNATURE_FAILURE, REVOCATION_UNKNOWN,                                \
       "is covered by a CRL whose signature does not verify")                               \
    XX(X509_V_ERR_CERT_NOT_YET_VALID, NOT_YET_VALID, "is not valid yet")                    \
    XX(X509_V_ERR_CERT_HAS_EXPIRED, EXPIRED, "has expired")                                 \
    XX(X509_V_ERR_CRL_NOT_YET_VALID, REVOCATION_UNKNOWN,                                    \
       "is covered by a CRL that is not valid yet")                                         \
    XX(X509_V_ERR_CRL_HAS_EXPIRED, REVOCATION_UNKNOWN,                                      \
       "is covered by a CRL that is past its nextUpdate")                                   \
    XX(X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, INVALID, "has a malformed notBefore date") \
    XX(X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD, INVALID, "has a malformed notAfter date")  \
    XX(X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD, REVOCATION_UNKNOWN,                       \
       "is covered by a CRL with a malformed thisUpdate date")                              \
    XX(X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD, REVOCATION_UNKNOWN,                       \
       "is covered by a CRL with a malformed nextUpdate date")                              \
    XX(X509_V_ERR_OUT_OF_MEM, INVALID, "could not be checked: out of memory")               \
    XX(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, UNTRUSTED_ROOT,                              \
       "is self-signed and not in the Trusted Root store")                                  \
    XX(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, UNTRUSTED_ROOT,                                \
       "is a self-signed root that is not in the Trusted Root store")                       \
    XX(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, INCOMPLETE_CHAIN,                      \
       "has an issuer that was found neither in the client's chain nor in the stores")      \
    XX(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, INCOMPLETE_CHAIN,                        \
       "has an issuer that was found neither in the client's chain nor in the stores")      \
    XX(X509_V_ERR_CERT_CHAIN_TOO_LONG, CONSTRAINT_VIOLATION,                                \
       "is deeper in the chain than the maximum depth allows")                              \
    XX(X509_V_ERR_CERT_REVOKED, REVOKED, "has been revoked by its issuer")                  \
    XX(X509_V_ERR_NO_ISSUER_PUBLIC_KEY, BAD_SIGNATURE, "has an issuer with no public key")  \
    XX(X509_V_ERR_PATH_LENGTH_EXCEEDED, CONSTRAINT_VIOLATION,                               \
       "has a path length constraint that the chain below it exceeds")                      \
    XX(X509_V_ERR_INVALID_PURPOSE, WRONG_USAGE,                                             \
       "is not valid for this purpose (extended key usage)")                                \
    XX(X509_V_ERR_CERT_UNTRUSTED, UNTRUSTED_ROOT, "is not trusted for this purpose")        \
    XX(X509_V_ERR_CERT_REJECTED, DISTRUSTED, "is marked as rejected for this purpose")      \
    XX(X509_V_ERR_SUBJECT_ISSUER_MISMATCH, INCOMPLETE_CHAIN,                                \
       "names an issuer that does not match the next certificate")                          \
    XX(X509_V_ERR_AKID_SKID_MISMATCH, INCOMPLETE_CHAIN,                                     \
       "has an authority key identifier that does not match its issuer's")                  \
    XX(X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH, INCOMPLETE_CHAIN,                            \
       "has an authority key identifier naming another issuer serial")                      \
    XX(X509_V_ERR_KEYUSAGE_NO_CERTSIGN, WRONG_USAGE,                                        \
       "is a CA certificate whose key usage lacks keyCertSign")                             \
    XX(X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER, REVOCATION_UNKNOWN,                             \
       "is covered by a CRL whose issuer cannot be found")                                  \
    XX(X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION, INVALID,                                    \
       "has a critical extension certgate does not understand")                             \
    XX(X509_V_ERR_KEYUSAGE_NO_CRL_SIGN, REVOCATION_UNKNOWN,                                 \
       "is covered by a CRL whose issuer's key usage lacks cRLSign")                        \
    XX(X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION, REVOCATION_UNKNOWN,                     \
       "is covered by a CRL with a critical extension certgate does not understand")        \
    XX(X509_V_ERR_INVALID_NON_CA, CONSTRAINT_VIOLATION,                                     \
       "issues certificates but is not a CA (basicConstraints)")                            \
    XX(X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED, CONSTRAINT_VIOLATION,                         \
       "exceeds the proxy certificate path length")                                         \
    XX(X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE, WRONG_USAGE,                               \
       "has a key usage that lacks digitalSignature")                                       \
    XX(X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED, INVALID,                                  \
       "is a proxy certificate, which is not allowed")                                      \
    XX(X509_V_ERR_INVALID_EXTENSION, INVALID, "has a malformed or inconsistent extension")  \
    XX(X509_V_ERR_INVALID_POLICY_EXTENSION, CONSTRAINT_VIOLATION,                           \
       "has a malformed certificate policy extension")                                      \
    XX(X509_V_ERR_NO_EXPLICIT_POLICY, CONSTRAINT_VIOLATION,                                 \
       "does not carry an acceptable certificate policy")                                   \
    XX(X509_V_ERR_DIFFERENT_CRL_SCOPE, REVOCATION_UNKNOWN,                                  \
       "is covered only by CRLs of a different scope")                                      \
    XX(X509_V_ERR_UNSUPPORTED_EXTENSION_FEATURE, INVALID,                                   \
       "uses an extension feature certgate does not support")                               \
    XX(X509_V_ERR_UNNESTED_RESOURCE, CONSTRAINT_VIOLATION,                                  \
       "has RFC 3779 resources not contained in its issuer's")                              \
    XX(X509_V_ERR_PERMITTED_VIOLATION, CONSTRAINT_VIOLATION,                                \
       "has a name outside the permitted name constraints of an issuer")                    \
    XX(X509_V_ERR_EXCLUDED_VIOLATION, CONSTRAINT_VIOLATION,                                 \
       "has a name inside the excluded name constraints of an issuer")                      \
    XX(X509_V_ERR_SUBTREE_MINMAX, CONSTRAINT_VIOLATION,                                     \
       "is constrained by a name constraint with minimum or maximum (unsupported)")         \
    XX(X509_V_ERR_APPLICATION_VERIFICATION, INVALID, "failed an application check")         \
    XX(X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE, CONSTRAINT_VIOLATION,                        \
       "is constrained by a name constraint of an unsupported type")                        \
    XX(X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX, CONSTRAINT_VIOLATION,                      \
       "is constrained by a name constraint with unsupported syntax")                       \
    XX(X509_V_ERR_UNSUPPORTED_NAME_SYNTAX, CONSTRAINT_VIOLATION,                            \
       "has a name whose syntax cannot be checked against name constraints")                \
    XX(X509_V_ERR_CRL_PATH_VALIDATION_ERROR, REVOCATION_UNKNOWN,                            \
       "is covered by a CRL whose signer's own path does not validate")                     \
    XX(X509_V_ERR_PATH_LOOP, INVALID, "is part of a loop in the chain")                     \
    XX(X509_V_ERR_SUITE_B_INVALID_VERSION, INVALID, "is not a Suite B certificate (version)") \
    XX(X509_V_ERR_SUITE_B_INVALID_ALGORITHM, INVALID, "uses a non-Suite B algorithm")        \
    XX(X509_V_ERR_SUITE_B_INVALID_CURVE, INVALID, "uses a non-Suite B curve")               \
    XX(X509_V_ERR_SUITE_B_INVALID_SIGNATURE_ALGORITHM, INVALID,                             \
       "uses a non-Suite B signature algorithm")                                            \
    XX(X509_V_ERR_SUITE_B_LOS_NOT_ALLOWED, INVALID, "uses a Suite B level not allowed")     \
    XX(X509_V_ERR_SUITE_B_CANNOT_SIGN_P_384_WITH_P_256, INVALID,                            \
       "signs P-384 with P-256, which Suite B forbids")                                     \
    XX(X509_V_ERR_HOSTNAME_MISMATCH, WRONG_USAGE, "does not match the host name")           \
    XX(X509_V_ERR_EMAIL_MISMATCH, WRONG_USAGE, "does not match the e-mail address")         \
    XX(X509_V_ERR_IP_ADDRESS_MISMATCH, WRONG_USAGE, "does not match the IP address")        \
    XX(X509_V_ERR_DANE_NO_MATCH, UNTRUSTED_ROOT, "matches no DANE record")                  \
    XX(X509_V_ERR_EE_KEY_TOO_SMALL, INVALID, "has a key that is too small")                 \
    XX(X509_V_ERR_CA_KEY_TOO_SMALL, INVALID, "is a CA with a key that is too small")        \
    XX(X509_V_ERR_CA_MD_TOO_WEAK, INVALID, "is signed with a digest that is too weak")      \
    XX(X509_V_ERR_INVALID_CALL, INVALID, "could not be checked (internal error)")           \
    XX(X509_V_ERR_STORE_LOOKUP, INVALID, "could not be looked up in the stores")            \
    XX(X509_V_ERR_NO_VALID_SCTS, INVALID, "has no valid certificate transparency SCTs")     \
    XX(X509_V_ERR_PROXY_SUBJECT_NAME_VIOLATION, INVALID,                                    \
       "is a proxy certificate with an invalid subject name")                               \
    XX(X509_V_ERR_OCSP_VERIFY_NEEDED, REVOCATION_UNKNOWN, "needs an OCSP check")            \
    XX(X509_V_ERR_OCSP_VERIFY_FAILED, REVOCATION_UNKNOWN, "failed its OCSP check")          \
    XX(X509_V_ERR_OCSP_CERT_UNKNOWN, REVOCATION_UNKNOWN, "is unknown to its OCSP responder") \
    XX(X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM, BAD_SIGNATURE,                           \
       "is signed with an unsupported algorithm")                                           \
    XX(X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH, BAD_SIGNATURE,                              \
       "names a signature algorithm that does not fit its issuer's key")                    \
    XX(X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY, INVALID,                               \
       "names two different signature algorithms")                                          \
    XX(X509_V_ERR_INVALID_CA, CONSTRAINT_VIOLATION,                                         \
       "issues certificates but is not a valid CA certificate")                             \
    XX(X509_V_ERR_PATHLEN_INVALID_FOR_NON_CA, INVALID,                                      \
       "has a path length constraint but is not a CA")                                      \
    XX(X509_V_ERR_PATHLEN_WITHOUT_KU_KEY_CERT_SIGN, INVALID,                                \
       "has a path length constraint without keyCertSign")                                  \
    XX(X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA, INVALID,                             \
       "has keyCertSign but is not a CA")                                                   \
    XX(X509_V_ERR_ISSUER_NAME_EMPTY, INVALID, "has an empty issuer name")                   \
    XX(X509_V_ERR_SUBJECT_NAME_EMPTY, INVALID, "has an empty subject name")                 \
    XX(X509_V_ERR_MISSING_AUTHORITY_KEY_IDENTIFIER, INVALID,                                \
       "lacks an authority key identifier")                                                 \
    XX(X509_V_ERR_MISSING_SUBJECT_KEY_IDENTIFIER, INVALID, "lacks a subject key identifier") \
    XX(X509_V_ERR_EMPTY_SUBJECT_ALT_NAME, INVALID, "has an empty subjectAltName")           \
    XX(X509_V_ERR_EMPTY_SUBJECT_SAN_NOT_CRITICAL, INVALID,                                  \
       "has an empty subject and a non-critical subjectAltName")                            \
    XX(X509_V_ERR_CA_BCONS_NOT_CRITICAL, INVALID,                                           \
       "is a CA whose basicConstraints is not critical")                                    \
    XX(X509_V_ERR_AUTHORITY_KEY_IDENTIFIER_CRITICAL, INVALID,                               \
       "has a critical authority key identifier")                                           \
    XX(X509_V_ERR_SUBJECT_KEY_IDENTIFIER_CRITICAL, INVALID,                                 \
       "has a critical subject key identifier")                                             \
    XX(X509_V_ERR_CA_CERT_MISSING_KEY_USAGE, INVALID, "is a CA without a key usage")        \
    XX(X509_V_ERR_EXTENSIONS_REQUIRE_VERSION_3, INVALID,                                    \
       "has extensions but is not version 3")                                               \
    XX(X509_V_ERR_EC_KEY_EXPLICIT_PARAMS, INVALID, "has an EC key with explicit parameters")

struct x509_error_row {
    int code;
    cg_reason_t reason;
    const char *phrase;
};

#define CG_X509_ERROR_ROW(code_, reason_, phrase_) \
    {.code = code_, .reason = CG_REASON_##reason_, .phrase = phrase_},
static const struct x509_error_row rows[] = {CG_X509_ERROR_MAP(CG_X509_ERROR_ROW)};
#undef CG_X509_ERROR_ROW

static const struct x509_error_row *find(int code)
{
    for (size_t i = 0; i < CG_ARRAY_LEN(rows); i++) {
        if (rows[i].code == code)
            return &rows[i];
    }
    return NULL;
}

cg_reason_t cg_x509_error_reason(int x509_error)
{
    const struct x509_error_row *r = find(x509_error);
    if (x509_error == X509_V_OK)
        return CG_REASON_OK;
    return r ? r->reason : CG_REASON_INVALID;
}

const char *cg_x509_error_phrase(int x509_error)
{
    const struct x509_error_row *r = find(x509_error);
    return r ? r->phrase : "failed verification for a reason certgate does not know";
}

int cg_x509_error_is_revocation(int x509_error)
{
    return cg_x509_error_reason(x509_error) == CG_REASON_REVOCATION_UNKNOWN;
}

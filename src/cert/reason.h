/*
 * reason.h: every answer certgate gives about a client certificate, in ONE
 * table. Logs, metrics, error pages, problem+json and `certgate verify` all
 * read this table; no free-text reason exists anywhere else, and reasons are
 * compared as enum values, never as strings.
 *
 * Columns: enum suffix, slug (stable identifier), HTTP status, substatus,
 * title (one line), text for the person at the browser, advice for the admin.
 *
 * Order matters only for readability; the headline rule (which reason wins
 * when several apply) lives in cg_reason_rank().
 */
#ifndef CG_CERT_REASON_H
#define CG_CERT_REASON_H

#define CG_REASON_MAP(XX)                                                                  \
    XX(OK, "ok", 200, 0, "Client certificate accepted",                                   \
       "Your certificate was accepted.",                                                   \
       "Nothing to do.")                                                                   \
    XX(SSL_REQUIRED, "ssl-required", 403, 4, "SSL required",                               \
       "This page must be viewed over a secure connection: use https:// instead of http://.", \
       "The request came over plain HTTP to a location with `ssl: require`; "              \
       "redirect clients to the HTTPS binding.")                                           \
    XX(CERT_REQUIRED, "cert-required", 403, 7, "Client certificate required",              \
       "This page requires a client certificate, and your browser did not send one. "      \
       "Install the certificate your administrator issued to you (with its private key), " \
       "then reload and choose it when the browser asks.",                                 \
       "No client certificate was presented. Check that the client has a certificate "     \
       "with its private key, that its issuer is in the CA list the server sends, and "    \
       "that the binding negotiates client certificates.")                                 \
    XX(MAPPING_DENIED, "mapping-denied", 403, 12, "Mapper denied access",                  \
       "Your certificate is valid, but it is not allowed to use this page. "               \
       "Contact the site administrator.",                                                  \
       "An identity-mapping rule refused this certificate's subject; check the mapping "   \
       "rules of this location.")                                                          \
    XX(REVOKED, "revoked", 403, 13, "Client certificate revoked",                          \
       "Your certificate has been revoked by the authority that issued it. "               \
       "Contact your administrator for a new one.",                                        \
       "A CRL or OCSP answer from the issuer says this certificate is revoked; issue "     \
       "a new certificate to the user.")                                                   \
    XX(REVOCATION_UNKNOWN, "revocation-unknown", 403, 16, "Revocation status unknown",     \
       "The site could not confirm that your certificate is still valid. "                 \
       "Try again later or contact the site administrator.",                               \
       "No valid CRL or OCSP answer could be had for a certificate of the chain and the "  \
       "policy is `on_unknown: deny`; import a current CRL for the issuer "                \
       "(`certgate store import ISSUER.crl`) or check the CRL/OCSP URLs.")                 \
    XX(UNTRUSTED_ROOT, "untrusted-root", 403, 16, "Client certificate root not trusted",    \
       "The site does not trust the authority that issued your certificate. "              \
       "Contact the site administrator.",                                                  \
       "The chain ends at a root CA that is not in the Trusted Root store; if this root "  \
       "should be trusted, check its thumbprint and import it with "                       \
       "`certgate store import ROOT.cer --to root`.")                                      \
    XX(INCOMPLETE_CHAIN, "incomplete-chain", 403, 16, "Client certificate chain incomplete", \
       "The site could not build a chain of trust for your certificate. "                  \
       "Contact the site administrator.",                                                  \
       "An issuer of the chain was found neither in what the client sent nor in the "      \
       "stores; import the missing intermediate CA with "                                  \
       "`certgate store import INTERMEDIATE.cer --to intermediate`.")                      \
    XX(DISTRUSTED, "distrusted", 403, 16, "Client certificate explicitly distrusted",      \
       "Your certificate, or an authority in its chain, is not trusted by this site. "     \
       "Contact the site administrator.",                                                  \
       "A certificate of the path is in the disallowed store; remove it from "             \
       "`disallowed/` only if the distrust was a mistake.")                                \
    XX(WRONG_USAGE, "wrong-usage", 403, 16, "Client certificate not valid for this use",   \
       "Your certificate is not meant for logging in to websites. "                        \
       "Ask your administrator for a client-authentication certificate.",                  \
       "A certificate of the path lacks the clientAuth extended key usage or the "         \
       "required key usage, or a CA lacks keyCertSign; reissue it with the right usage.")  \
    XX(BAD_SIGNATURE, "bad-signature", 403, 16, "Client certificate signature invalid",    \
       "Your certificate appears damaged or forged. Contact your administrator.",          \
       "A signature in the chain does not verify with its issuer's key; the certificate "  \
       "was altered, or an issuer with the same name but another key was used.")           \
    XX(CONSTRAINT_VIOLATION, "constraint-violation", 403, 16,                              \
       "Client certificate chain violates a constraint",                                   \
       "Your certificate's chain breaks a rule set by its authority. "                     \
       "Contact your administrator.",                                                      \
       "A basicConstraints, path length, name constraint or certificate policy "           \
       "requirement of the chain is not met.")                                             \
    XX(INVALID, "invalid", 403, 16, "Client certificate invalid",                          \
       "Your certificate could not be validated. Contact your administrator.",             \
       "The certificate or its chain is malformed or uses an unsupported feature; see "    \
       "the problems listed per element.")                                                 \
    XX(EXPIRED, "expired", 403, 17, "Client certificate expired",                          \
       "Your certificate has expired. Ask your administrator to renew it.",                \
       "A certificate of the path is past its notAfter date; renew it (or check the "      \
       "server clock).")                                                                   \
    XX(NOT_YET_VALID, "not-yet-valid", 403, 17, "Client certificate not yet valid",        \
       "Your certificate is not valid yet. Check the date on your computer, or wait "      \
       "until its validity period starts.",                                                \
       "A certificate of the path is before its notBefore date; check the clock of the "   \
       "server and of the issuing CA.")

typedef enum {
#define CG_REASON_ENUM(name, slug, status, sub, title, user, admin) CG_REASON_##name,
    CG_REASON_MAP(CG_REASON_ENUM)
#undef CG_REASON_ENUM
    CG_REASON__COUNT
} cg_reason_t;

/* Stable slug, e.g. "cert-required". Never NULL. */
const char *cg_reason_slug(cg_reason_t r);
/* HTTP status (200 or 403) and IIS-style substatus (0, 4, 7, 12, 13, 16, 17). */
int cg_reason_status(cg_reason_t r);
int cg_reason_substatus(cg_reason_t r);
/* "200", "403.7", ...: a static string. */
const char *cg_reason_code(cg_reason_t r);
const char *cg_reason_title(cg_reason_t r);
const char *cg_reason_user_text(cg_reason_t r);
const char *cg_reason_admin_text(cg_reason_t r);
/* Parses a slug; returns CG_OK and sets *out, or CG_ERR for an unknown slug. */
int cg_reason_from_slug(const char *slug, cg_reason_t *out);
/*
 * Headline rank: when several problems apply, the one with the highest rank
 * is the verdict. revoked (403.13) > the 403.16 family > expired /
 * not-yet-valid (403.17) > ok.
 */
int cg_reason_rank(cg_reason_t r);

#endif

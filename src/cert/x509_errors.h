/*
 * x509_errors.h: how each OpenSSL verification error (X509_V_ERR_*) reads
 * to certgate: the reason it lands in and a short phrase for the path report.
 * Internal to src/cert; one table in x509_errors.c holds every code OpenSSL
 * 3.0 can return, and anything else maps to CG_REASON_INVALID.
 */
#ifndef CG_CERT_X509_ERRORS_H
#define CG_CERT_X509_ERRORS_H

#include "cert/reason.h"

/* The reason an X509_V_ERR_* code counts as; unknown codes give INVALID. */
cg_reason_t cg_x509_error_reason(int x509_error);
/*
 * A phrase completing "The certificate 'CN=x' ...", e.g. "has a signature
 * that does not verify with its issuer's key". Static, never NULL.
 */
const char *cg_x509_error_phrase(int x509_error);
/* True for errors about revocation status being unobtainable (not "revoked"). */
int cg_x509_error_is_revocation(int x509_error);

#endif

/*
 * pki_ocsp.c: the OCSP responder half of the test/demo CA toolkit
 * (cg_pki_ocsp_respond in pki.h). Built on OpenSSL's OCSP_basic_* calls:
 * what is produced here is ordinary, conforming responses; odd ones for
 * tests are made with those calls directly.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>

#include "cert/pki.h"
#include "core/common.h"

static const struct cg_pki_revoked *find_revoked(const struct cg_pki_revoked *r, size_t n,
                                                 const ASN1_INTEGER *serial)
{
    for (size_t i = 0; i < n; i++) {
        ASN1_INTEGER *s = NULL;
        int same;
        if (r[i].cert != NULL) {
            same = ASN1_INTEGER_cmp(X509_get0_serialNumber(r[i].cert), serial) == 0;
        } else {
            s = ASN1_INTEGER_new();
            same = s != NULL && ASN1_INTEGER_set_uint64(s, r[i].serial) == 1 &&
                   ASN1_INTEGER_cmp(s, serial) == 0;
            ASN1_INTEGER_free(s);
        }
        if (same)
            return &r[i];
    }
    return NULL;
}

static int encode(OCSP_RESPONSE *resp, unsigned char **der, size_t *len, char **err)
{
    int n = i2d_OCSP_RESPONSE(resp, der);
    if (n <= 0)
        return cg_set_err(err, "cannot encode the OCSP response");
    *len = (size_t)n;
    return CG_OK;
}

int cg_pki_ocsp_respond(const unsigned char *req_der, size_t req_len, X509 *issuer, X509 *signer,
                        EVP_PKEY *signer_key, const struct cg_pki_revoked *revoked,
                        size_t n_revoked, time_t this_update, time_t next_update,
                        unsigned char **der, size_t *len, char **err)
{
    const unsigned char *p = req_der;
    OCSP_REQUEST *req = NULL;
    OCSP_BASICRESP *basic = NULL;
    OCSP_RESPONSE *resp = NULL;
    OCSP_CERTID *mine = NULL;
    ASN1_TIME *tu = NULL, *nu = NULL, *rev_at = NULL;
    time_t now = time(NULL);
    int rc = CG_ERR, n;

    *der = NULL;
    *len = 0;
    if (req_len > INT32_MAX ||
        (req = d2i_OCSP_REQUEST(NULL, &p, (long)req_len)) == NULL || p != req_der + req_len ||
        (n = OCSP_request_onereq_count(req)) <= 0) {
        resp = OCSP_response_create(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, NULL);
        rc = resp != NULL ? encode(resp, der, len, err)
                          : cg_set_err(err, "cannot build an OCSP response");
        goto out;
    }
    if (this_update == 0)
        this_update = now - 60;
    if (next_update == 0)
        next_update = this_update + 3600;
    basic = OCSP_BASICRESP_new();
    tu = ASN1_TIME_set(NULL, this_update);
    nu = next_update > 0 ? ASN1_TIME_set(NULL, next_update) : NULL;
    if (basic == NULL || tu == NULL || (next_update > 0 && nu == NULL)) {
        cg_set_err(err, "out of memory");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, i));
        ASN1_INTEGER *serial = NULL;
        ASN1_OBJECT *md_oid = NULL;
        const EVP_MD *md;
        const struct cg_pki_revoked *r;
        int status = V_OCSP_CERTSTATUS_UNKNOWN, reason = -1;

        OCSP_id_get0_info(NULL, &md_oid, NULL, &serial, id);
        md = EVP_get_digestbyobj(md_oid);
        OCSP_CERTID_free(mine);
        /* our own CertID for the issuer, in the request's hash, to compare with */
        mine = md != NULL ? OCSP_cert_id_new(md, X509_get_subject_name(issuer),
                                             X509_get0_pubkey_bitstr(issuer), serial)
                          : NULL;
        ASN1_TIME_free(rev_at);
        rev_at = NULL;
        if (mine != NULL && OCSP_id_issuer_cmp(mine, id) == 0) {
            r = find_revoked(revoked, n_revoked, serial);
            status = r != NULL ? V_OCSP_CERTSTATUS_REVOKED : V_OCSP_CERTSTATUS_GOOD;
            if (r != NULL) {
                rev_at = ASN1_TIME_set(NULL, r->revoked_at ? r->revoked_at : this_update - 60);
                reason = r->reason;
                if (rev_at == NULL) {
                    cg_set_err(err, "out of memory");
                    goto out;
                }
            }
        }
        if (OCSP_basic_add1_status(basic, id, status, reason, rev_at, tu, nu) == NULL) {
            cg_set_err(err, "cannot add a status to the OCSP response");
            goto out;
        }
    }
    if (OCSP_copy_nonce(basic, req) <= 0) {
        cg_set_err(err, "cannot echo the nonce");
        goto out;
    }
    /* OCSP_NOCERTS: the issuer's own signature needs no certificate (the
     * client has the issuer); a delegated responder's goes in after (the
     * certificates are outside the signed data). */
    if (OCSP_basic_sign(basic, signer, signer_key, EVP_sha256(), NULL, OCSP_NOCERTS) != 1 ||
        (signer != issuer && OCSP_basic_add1_cert(basic, signer) != 1)) {
        cg_set_err(err, "cannot sign the OCSP response");
        goto out;
    }
    resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, basic);
    rc = resp != NULL ? encode(resp, der, len, err) : cg_set_err(err, "out of memory");
out:
    OCSP_CERTID_free(mine);
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    ASN1_TIME_free(rev_at);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(resp);
    OCSP_REQUEST_free(req);
    ERR_clear_error();
    return rc;
}

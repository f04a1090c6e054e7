/*
 * fuzz_revocation.c: the two parsers of answers fetched from the network,
 * on arbitrary bytes: the OCSP judge (cg_ocsp_judge) and the CRL index
 * (cg_crl_index_load, then a lookup). The first byte picks which. A fixed
 * CA and leaf are made once; signatures will rarely verify, but every byte
 * before the signature check (the whole DER walk) is reached, and a
 * response that does pass must still be self-consistent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "cert/crl_index.h"
#include "cert/ocsp.h"
#include "cert/pki.h"
#include "core/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *ca, *leaf;

static void make_pki(void)
{
    struct cg_pki_spec root = {.profile = CG_PKI_ROOT_CA, .subject_cn = "Fuzz CA", .path_len = -1};
    struct cg_pki_spec client = {.profile = CG_PKI_CLIENT, .subject_cn = "fuzz", .serial = 5,
                                 .path_len = -1};
    EVP_PKEY *k = cg_pki_keygen(CG_PKI_KEY_EC_P256, NULL);

    ca = cg_pki_issue(&root, k, NULL, k, NULL);
    leaf = cg_pki_issue(&client, k, ca, k, NULL);
    EVP_PKEY_free(k);
    if (ca == NULL || leaf == NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *err = NULL;

    if (ca == NULL)
        make_pki();
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        struct cg_ocsp_params p = {.at = 1700000000, .max_age = (data[0] & 2) ? 86400 : 0,
                                   .stale_grace = (data[0] & 4) ? 3600 : 0};
        struct cg_ocsp_result r;
        int rc = cg_ocsp_judge(data + 1, size - 1, leaf, ca, &p, &r, &err);
        if (rc == CG_OK && r.error != CG_OCSP_ERR_NONE)
            __builtin_trap();
        if (rc != CG_OK && (r.status != CG_OCSP_UNKNOWN || r.error == CG_OCSP_ERR_NONE ||
                            err == NULL))
            __builtin_trap();   /* an unusable answer is never good, and says why */
    } else {
        struct cg_crl_index *ix = NULL;
        struct cg_crl_index_opts o = {.max_bytes = 1u << 20};
        if (cg_crl_index_load(data + 1, size - 1, ca, &o, &ix, &err) == CG_OK) {
            cg_crl_index_lookup(ix, X509_get0_serialNumber(leaf), NULL);
            cg_crl_index_unref(ix);
        } else if (err == NULL || ix != NULL) {
            __builtin_trap();
        }
    }
    free(err);
    ERR_clear_error();
    return 0;
}

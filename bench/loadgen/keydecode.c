/*
 * keydecode.c: the client's cheap way to decode the server's EC public keys.
 *
 * Each full handshake hands the client the server's leaf and intermediate;
 * OpenSSL 3.0 decodes each certificate's public key through a decoder chain
 * it builds anew for every key (OSSL_DECODER_CTX_new_for_pkey): 2.6 M of the
 * 6.5 M instructions a client handshake costs. OpenSSL decodes a key through
 * its older EC routines instead when an ENGINE offers a method for that key
 * type, so loadgen registers one that only carries OpenSSL's own built-in EC
 * method: the same arithmetic (the server's CertificateVerify and, the first
 * time, its chain are still verified), none of the decoder set-up. Keys
 * loaded from files (the client's own) stay provider keys.
 *
 * This changes nothing the server does. It is client-side only, uses the
 * ENGINE interface OpenSSL 3.0 still ships (deprecated), and is switched off
 * with --key-decode provider.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "loadgen.h"

static EVP_PKEY_METHOD *ec_method;
static const int ec_nids[] = {NID_X9_62_id_ecPublicKey};

static int pkey_methods(ENGINE *e, EVP_PKEY_METHOD **method, const int **nids, int nid)
{
    (void)e;
    if (method == NULL) {
        *nids = ec_nids;
        return 1;
    }
    *method = nid == NID_X9_62_id_ecPublicKey ? ec_method : NULL;
    return *method != NULL;
}

int lg_keydecode_legacy_ec(void)
{
    const EVP_PKEY_METHOD *builtin = EVP_PKEY_meth_find(EVP_PKEY_EC);
    ENGINE *e = NULL;

    if (builtin == NULL || (ec_method = EVP_PKEY_meth_new(EVP_PKEY_EC, 0)) == NULL)
        goto fail;
    EVP_PKEY_meth_copy(ec_method, builtin);
    if ((e = ENGINE_new()) == NULL || !ENGINE_set_id(e, "loadgen-ec") ||
        !ENGINE_set_name(e, "loadgen: OpenSSL's built-in EC key method") ||
        !ENGINE_set_pkey_meths(e, pkey_methods) || !ENGINE_add(e))
        goto fail;
    if (!ENGINE_init(e))
        goto fail;
    if (!ENGINE_register_pkey_meths(e)) {
        ENGINE_finish(e);
        goto fail;
    }
    /* OpenSSL takes a functional reference of its own when it selects the
     * engine for a key; holding ours would keep the engine from being freed
     * at OpenSSL's cleanup (a leak at exit). The list added by ENGINE_add
     * keeps it; OpenSSL frees ec_method with it. */
    ENGINE_finish(e);
    ENGINE_free(e);
    return 0;
fail:
    ENGINE_free(e);
    return -1;
}

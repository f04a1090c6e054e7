/*
 * ec_keydecode.c: decoding certificates' EC public keys without OpenSSL 3's
 * per-key decoder set-up.
 *
 * Why: every full mutual-TLS handshake hands the server the client's leaf
 * and intermediate, and d2i_X509 decodes each one's public key. OpenSSL 3.0
 * does that through a provider decoder chain it builds anew for every key
 * (OSSL_DECODER_CTX_new_for_pkey), which costs more than the decoding and
 * more than the ECDSA verifications themselves (bench/README.md, "Where a
 * handshake goes"). OpenSSL still decodes a key through its older built-in
 * routines when an ENGINE offers a method for the key's type: x509_pubkey's
 * decoder tries that first. So this module registers an ENGINE whose only
 * content is a copy of OpenSSL's own built-in EC key method. The decoding
 * is the same code either way (OpenSSL's EC provider decodes a
 * SubjectPublicKeyInfo through the same built-in routines, point and curve
 * checks included), and signatures are verified by the same EC arithmetic;
 * only the decoder set-up and the provider bookkeeping around each key go.
 * Keys of other types (RSA, Ed25519, ...) are not touched. The price: each
 * EC key decoded or used looks its type up in OpenSSL's ENGINE table, under
 * OpenSSL's global ENGINE lock (a short critical section).
 *
 * The ENGINE interface is deprecated in OpenSSL 3 but still shipped, and it
 * is the only public way to reach the built-in method:
 * OPENSSL_SUPPRESS_DEPRECATED is defined here and nowhere else, so the rest
 * of the code base keeps being warned about deprecated calls.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "cert/ec_keydecode.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "core/common.h"

static cg_ec_key_decoding_t current = CG_EC_KEYS_PROVIDER;
static EVP_PKEY_METHOD *ec_method;   /* the engine's, freed by OpenSSL with it */
static const int ec_nids[] = {NID_X9_62_id_ecPublicKey};

const char *cg_ec_keydecode_name(cg_ec_key_decoding_t mode)
{
    return mode == CG_EC_KEYS_BUILTIN ? "builtin" : "provider";
}

cg_ec_key_decoding_t cg_ec_keydecode_current(void)
{
    return current;
}

/* The ENGINE's pkey-method callback: the list of NIDs, or the method of one. */
static int pkey_methods(ENGINE *e, EVP_PKEY_METHOD **method, const int **nids, int nid)
{
    (void)e;
    if (method == NULL) {
        *nids = ec_nids;
        return (int)(sizeof(ec_nids) / sizeof(ec_nids[0]));
    }
    *method = nid == NID_X9_62_id_ecPublicKey ? ec_method : NULL;
    return *method != NULL;
}

static int register_builtin(char **err)
{
    const EVP_PKEY_METHOD *builtin = EVP_PKEY_meth_find(EVP_PKEY_EC);
    ENGINE *e = NULL;
    bool owned = false, added = false, initialised = false;
    int rc = CG_ERR;

    if (builtin == NULL) {
        cg_set_err(err, "ec key decoding: OpenSSL has no built-in EC key method");
        goto done;
    }
    if ((ec_method = EVP_PKEY_meth_new(EVP_PKEY_EC, 0)) == NULL || (e = ENGINE_new()) == NULL) {
        cg_set_err(err, "ec key decoding: out of memory");
        goto done;
    }
    EVP_PKEY_meth_copy(ec_method, builtin);
    /* Once the engine names its pkey methods, OpenSSL frees them with it. */
    if (!(owned = ENGINE_set_pkey_meths(e, pkey_methods)) || !ENGINE_set_id(e, "certgate-ec") ||
        !ENGINE_set_name(e, "certgate: OpenSSL's built-in EC key method") ||
        !(added = ENGINE_add(e))) {
        cg_set_err(err, "ec key decoding: cannot set up the EC engine");
        goto done;
    }
    if (!(initialised = ENGINE_init(e))) {
        cg_set_err(err, "ec key decoding: ENGINE_init failed");
        goto done;
    }
    if (!ENGINE_register_pkey_meths(e)) {
        cg_set_err(err, "ec key decoding: cannot register the EC key method");
        goto done;
    }
    rc = CG_OK;
done:
    /* OpenSSL takes a functional reference of its own whenever it selects
     * the engine for a key; holding ours would keep the engine from being
     * freed at OpenSSL's cleanup. */
    if (initialised)
        ENGINE_finish(e);
    if (rc != CG_OK) {
        if (added)
            ENGINE_remove(e);
        if (!owned)
            EVP_PKEY_meth_free(ec_method);
        ENGINE_free(e);   /* and ec_method when owned */
        ec_method = NULL;
        ERR_clear_error();
        return rc;
    }
    /* ENGINE_add's list keeps the engine, and so ec_method, until OpenSSL's
     * cleanup at exit. */
    ENGINE_free(e);
    return rc;
}

int cg_ec_keydecode_select(cg_ec_key_decoding_t mode, char **err)
{
    if (mode == current)
        return CG_OK;
    if (mode == CG_EC_KEYS_PROVIDER)
        return cg_set_err(err, "ec key decoding: cannot go back to provider decoding "
                               "once builtin was selected");
    if (register_builtin(err) != CG_OK)
        return CG_ERR;
    current = CG_EC_KEYS_BUILTIN;
    return CG_OK;
}

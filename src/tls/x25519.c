/*
 * x25519.c: TEMPORARY stand-in for certgate's own X25519 (x25519.h).
 *
 * Until the constant-time implementation lands, the two functions are
 * computed by OpenSSL's default provider through its raw-key API, so that
 * the key-exchange provider (key_exchange.c) can be built and tested
 * against its real interface. OpenSSL clamps the private key and ignores
 * the peer key's top bit itself, as x25519.h promises.
 *
 * "provider=default": these calls must never reach certgate's own provider
 * (whose X25519 calls these functions).
 */
#include "tls/x25519.h"

#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define DEFAULT_PROVIDER "provider=default"

void cg_x25519_public_key(uint8_t pub[CG_X25519_KEY_BYTES], const uint8_t priv[CG_X25519_KEY_BYTES])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", DEFAULT_PROVIDER, priv,
                                                  CG_X25519_KEY_BYTES);
    size_t len = CG_X25519_KEY_BYTES;

    /* Only an allocation failure can fail here: an all-zero public key is
     * then what the peer gets, which every peer refuses (a zero shared
     * secret). */
    if (k == NULL || EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != CG_X25519_KEY_BYTES) {
        memset(pub, 0, CG_X25519_KEY_BYTES);
        ERR_clear_error();
    }
    EVP_PKEY_free(k);
}

int cg_x25519_shared_secret(uint8_t shared[CG_X25519_KEY_BYTES], const uint8_t priv[CG_X25519_KEY_BYTES],
                            const uint8_t peer[CG_X25519_KEY_BYTES])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", DEFAULT_PROVIDER, priv,
                                                  CG_X25519_KEY_BYTES);
    EVP_PKEY *p = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", DEFAULT_PROVIDER, peer,
                                                 CG_X25519_KEY_BYTES);
    EVP_PKEY_CTX *ctx = NULL;
    size_t len = CG_X25519_KEY_BYTES;
    int ok = 0;

    /* OpenSSL's derive fails on an all-zero result (and only then, short of
     * an allocation failure). */
    if (k != NULL && p != NULL && (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, DEFAULT_PROVIDER)) != NULL &&
        EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer_ex(ctx, p, 0) == 1 &&
        EVP_PKEY_derive(ctx, shared, &len) == 1 && len == CG_X25519_KEY_BYTES)
        ok = 1;
    if (!ok) {
        memset(shared, 0, CG_X25519_KEY_BYTES);
        ERR_clear_error();
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(p);
    EVP_PKEY_free(k);
    return ok;
}

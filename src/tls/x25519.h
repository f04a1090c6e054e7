/*
 * x25519.h: X25519 (RFC 7748), computed by certgate itself.
 *
 * OpenSSL 3.0 computes an X25519 public key with portable code that costs
 * more than a whole key agreement; a TLS 1.3 handshake makes one key pair
 * and one agreement on each side. These two functions are what certgate's
 * key-exchange provider serves libssl with (bench/README.md).
 *
 * Both are constant-time in the private key: no branch and no memory
 * address depends on a secret. Keys are 32 bytes, little-endian, as on the
 * wire; the private key is clamped here (RFC 7748, section 5), so any 32
 * random bytes are a private key.
 */
#ifndef CG_TLS_X25519_H
#define CG_TLS_X25519_H

#include <stdint.h>

#define CG_X25519_KEY_BYTES 32

/* pub = X25519(priv, 9): the public key of `priv`. */
void cg_x25519_public_key(uint8_t pub[CG_X25519_KEY_BYTES], const uint8_t priv[CG_X25519_KEY_BYTES]);

/* shared = X25519(priv, peer). Returns 1, or 0 when the result is all
 * zeros (a peer key of small order, which TLS must refuse: RFC 8446,
 * section 7.4.2); `shared` is written either way. The peer key's top bit is
 * ignored, as RFC 7748 says. */
int cg_x25519_shared_secret(uint8_t shared[CG_X25519_KEY_BYTES], const uint8_t priv[CG_X25519_KEY_BYTES],
                            const uint8_t peer[CG_X25519_KEY_BYTES]);

#endif

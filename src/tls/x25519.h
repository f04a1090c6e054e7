/*
 * x25519.h: the X25519 (RFC 7748) public key of a private key, computed by
 * certgate itself.
 *
 * OpenSSL 3.0 computes an X25519 public key with portable code that costs
 * about twice what this does; a TLS 1.3 handshake makes one key pair on
 * each side. certgate's key-exchange provider (key_exchange.h) generates
 * libssl's key pairs with it; the key agreement stays OpenSSL's, whose
 * assembly beats a C ladder (bench/README.md).
 *
 * Constant-time in the private key: no branch and no memory address
 * depends on a secret. Keys are 32 bytes, little-endian, as on the wire;
 * the private key is clamped here (RFC 7748, section 5), so any 32 random
 * bytes are a private key.
 */
#ifndef CG_TLS_X25519_H
#define CG_TLS_X25519_H

#include <stdint.h>

#define CG_X25519_KEY_BYTES 32

/* pub = X25519(priv, 9): the public key of `priv`. */
void cg_x25519_public_key(uint8_t pub[CG_X25519_KEY_BYTES], const uint8_t priv[CG_X25519_KEY_BYTES]);

#endif

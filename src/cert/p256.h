/*
 * p256.h: ECDSA P-256 signature verification (FIPS 186-4, 6.4.2; SEC 1,
 * 4.1.4) with tables of multiples of the public key, made once per key.
 *
 * Why: verifying an ECDSA signature computes u1·G + u2·Q. OpenSSL keeps a
 * table of multiples of the base point G but none of the signer's key Q, so
 * each verification spends 256 point doublings on Q. A mutual-TLS server
 * sees the same few keys again and again (a client's key in each of its
 * handshakes, the intermediate CA's on every chain it checks; a client
 * sees the server's), so a table of Q's multiples, made once a key keeps
 * coming back, turns each later verification into about ninety point
 * additions and no doubling: about 40% of OpenSSL's time.
 *
 * Verification only: every input (key, digest, signature) is public, so
 * this code takes branches and table addresses from them. Never use it
 * with a secret.
 *
 * The decisions are those of OpenSSL's ECDSA_do_verify: r and s must lie
 * in [1, n-1]; the digest is read as a big-endian number and only its
 * first 32 bytes count (a longer digest is truncated to the order's bit
 * length, which for P-256 is a whole number of bytes); the signature is
 * valid when the x coordinate of u1·G + u2·Q, reduced mod n, equals r.
 */
#ifndef CG_CERT_P256_H
#define CG_CERT_P256_H

#include <stddef.h>
#include <stdint.h>

#define CG_P256_POINT_BYTES 65   /* 0x04 || x || y, as in a certificate */
#define CG_P256_SCALAR_BYTES 32

/* Multiples of one public key; about 53 KB. */
struct cg_p256_table;

/* The table of the point 0x04 || x || y (big-endian coordinates). CG_OK,
 * or CG_ERR when the encoding is not an uncompressed point on the curve
 * (or out of memory). */
int cg_p256_table_new(const uint8_t point[CG_P256_POINT_BYTES], struct cg_p256_table **out);
void cg_p256_table_free(struct cg_p256_table *t);
/* The size of one table, for memory accounting. */
size_t cg_p256_table_bytes(void);

/* 1 when (r, s) (big-endian, left-padded to 32 bytes) is a valid signature
 * of `digest` by the key of `q`, 0 otherwise. */
int cg_p256_verify(const struct cg_p256_table *q, const uint8_t *digest, size_t digest_len,
                   const uint8_t r[CG_P256_SCALAR_BYTES], const uint8_t s[CG_P256_SCALAR_BYTES]);

#endif

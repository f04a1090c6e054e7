/*
 * ecdsa_tables.h: the P-256 key tables (p256.h) each thread keeps for the
 * keys it verifies often, and the ECDSA verification that uses them.
 *
 * A key is remembered the first time it verifies a signature; at its
 * `uses_before_table`-th signature the thread makes its table (about
 * 53 KB, in the time of about six verifications) and verifies that
 * signature and every later one of the key with it, in about 40% of OpenSSL's time
 * (bench/ecdsa-cost). Keys seen only a few times never get one. Each
 * thread holds at most `entries` keys (with or without a table, so at most
 * `entries` tables), replacing the least recently used of the four a key
 * may go to; no lock is taken.
 *
 * Which signatures: ECDSA over P-256 with a key of OpenSSL's built-in EC
 * method, verified through EVP (a TLS CertificateVerify, a certificate's,
 * CRL's or OCSP answer's signature), while ec_key_decoding is builtin
 * (ec_keydecode.c routes the built-in method's verification here). Every
 * other signature, and every key while it has no table, is verified by
 * OpenSSL as before.
 */
#ifndef CG_CERT_ECDSA_TABLES_H
#define CG_CERT_ECDSA_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "cert/p256.h"

#define CG_ECDSA_TABLES_DEFAULT_ENTRIES 32
#define CG_ECDSA_TABLES_DEFAULT_USES 16

/* The bounds for every thread (limits.ecdsa_key_tables and
 * limits.ecdsa_key_table_uses: OpenSSL verifies a key's first
 * uses_before_table - 1 signatures); entries = 0 turns the tables off. Call at
 * start-up, before the threads that verify start. */
void cg_ecdsa_tables_configure(unsigned entries, unsigned uses_before_table);

/* Drops this thread's keys and tables now, as its exit would; its next
 * verification starts anew under the bounds configured then. */
void cg_ecdsa_tables_thread_release(void);

/* Verifies the DER ECDSA signature `sig` of `digest` by the P-256 key
 * `point` (0x04 || x || y) with this thread's table for it: 1 valid, 0 not.
 * -1: not done here (the tables are off, the key has no table yet, or it
 * cannot have one): the caller verifies it as it would have. The signature
 * is decoded as OpenSSL's ECDSA_verify decodes it: DER only, nothing after
 * it (-1 otherwise, so OpenSSL decides and reports). */
int cg_ecdsa_tables_verify(const uint8_t point[CG_P256_POINT_BYTES], const uint8_t *digest,
                           size_t digest_len, const uint8_t *sig, size_t sig_len);

/* Counts over all threads since start. */
struct cg_ecdsa_tables_stats {
    uint64_t table_verifications;   /* signatures verified with a key table */
    uint64_t tables_built;
    uint64_t keys_evicted;          /* keys dropped (with or without a table) */
    uint64_t tables_held;           /* tables held now, all threads */
};
void cg_ecdsa_tables_stats(struct cg_ecdsa_tables_stats *out);

#endif

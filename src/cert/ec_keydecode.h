/*
 * ec_keydecode.h: how the process decodes the EC public keys of the
 * certificates it parses (tls.ec_key_decoding, verify --ec-key-decoding).
 *
 *   CG_EC_KEYS_BUILTIN   OpenSSL's built-in EC key routines (the default),
 *                        with the P-256/P-384/P-521 curve groups built once
 *                        per process: the same key, the same arithmetic,
 *                        about two fifths of a full handshake's instructions
 *                        less (see ec_keydecode.c and bench/README.md).
 *   CG_EC_KEYS_PROVIDER  OpenSSL 3's provider decoders, OpenSSL's default.
 *
 * What builtin cannot do: with the ENGINE registered, OpenSSL 3.0 cannot
 * sign an ASN.1 structure (certificate, CRL, OCSP answer: ASN1_item_sign)
 * with an EC key loaded from a file, since it then asks the engine's legacy
 * context for the algorithm identifier, which only providers answer. TLS
 * signatures (EVP_DigestSign) work. So a process that signs such structures
 * (`certgate pki`, the built-in demo's OCSP responder) stays on provider.
 *
 * Process-wide and chosen once: call cg_ec_keydecode_select() at start-up,
 * before any thread starts and before any certificate, store or TLS context
 * is made. Choosing the same mode again is a no-op; switching from builtin
 * back to provider once selected is refused (keys already decoded would
 * stay as they are).
 */
#ifndef CG_CERT_EC_KEYDECODE_H
#define CG_CERT_EC_KEYDECODE_H

typedef enum {
    CG_EC_KEYS_BUILTIN = 0,
    CG_EC_KEYS_PROVIDER = 1,
} cg_ec_key_decoding_t;

/* "builtin" / "provider". */
const char *cg_ec_keydecode_name(cg_ec_key_decoding_t mode);

/* Applies `mode` to the process. CG_OK, or CG_ERR with *err. */
int cg_ec_keydecode_select(cg_ec_key_decoding_t mode, char **err);
/* The mode in force (CG_EC_KEYS_PROVIDER until builtin was selected). */
cg_ec_key_decoding_t cg_ec_keydecode_current(void);

#endif

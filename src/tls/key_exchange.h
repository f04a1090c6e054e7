/*
 * key_exchange.h: who computes the X25519 key exchange of certgate's TLS
 * contexts (tls_key_exchange, loadgen --key-exchange).
 *
 *   CG_KEY_EXCHANGE_BUILTIN  certgate's provider (provider.h) serves
 *                            libssl's X25519 key generation and key
 *                            agreement as a KEYMGMT "X25519" and a KEYEXCH
 *                            "X25519" (key_exchange.c), computed by
 *                            certgate's own X25519 (x25519.h) instead of
 *                            OpenSSL 3.0's portable code, whose key
 *                            generation alone costs more than the agreement
 *                            (bench/README.md).
 *   CG_KEY_EXCHANGE_OPENSSL  OpenSSL's default provider, OpenSSL's default.
 *
 * Only X25519 changes hands: P-256, P-384 and every other group, and every
 * signature, stay the default provider's. The provider offers both
 * algorithms under the property CG_KEY_EXCHANGE_PROP and names the X25519
 * TLS group in its "TLS-GROUP" capability; an SSL_CTX made with
 * SSL_CTX_new_ex(NULL, cg_provider_propq(), ..) fetches its X25519 KEYMGMT,
 * so libssl takes the group, its keys and (the KEYEXCH coming from the
 * provider of the key, no key is exported) their agreement from us. Every
 * other fetch of the process (property query NULL) keeps getting the
 * default provider's X25519. Keys, shared secrets and refusals are the
 * default provider's: an all-zero shared secret (a peer key of small order)
 * fails the agreement, and libssl ends the handshake with an alert.
 *
 * Process-wide: call cg_key_exchange_select() at start-up, before threads
 * and before any SSL_CTX is made. Selecting builtin loads the providers
 * (cg_provider_load); they stay loaded for the life of the process.
 * Selecting openssl afterwards is allowed: contexts made from then on use
 * the default provider's X25519.
 */
#ifndef CG_TLS_KEY_EXCHANGE_H
#define CG_TLS_KEY_EXCHANGE_H

typedef enum {
    CG_KEY_EXCHANGE_BUILTIN = 0,
    CG_KEY_EXCHANGE_OPENSSL = 1,
} cg_key_exchange_t;

/* The property our X25519 KEYMGMT and KEYEXCH carry. */
#define CG_KEY_EXCHANGE_PROP  "certgate.x25519=yes"
/* The property query that prefers them and excludes nothing. */
#define CG_KEY_EXCHANGE_PROPQ "?" CG_KEY_EXCHANGE_PROP

/* "builtin" / "openssl". */
const char *cg_key_exchange_name(cg_key_exchange_t mode);

/* Applies `mode` to the process (builtin: loads the providers, once).
 * CG_OK, or CG_ERR with *err. */
int cg_key_exchange_select(cg_key_exchange_t mode, char **err);
/* The mode in force (openssl until builtin was selected). */
cg_key_exchange_t cg_key_exchange_current(void);

#endif

/*
 * key_exchange.h: who generates the X25519 keys of certgate's TLS contexts
 * (tls_key_exchange, loadgen --key-exchange).
 *
 *   CG_KEY_EXCHANGE_BUILTIN  certgate's provider (provider.h) serves
 *                            libssl's X25519 keys as a KEYMGMT "X25519"
 *                            (key_exchange.c): key pairs generated with
 *                            certgate's own fixed-base multiplication
 *                            (x25519.h), about twice as fast as OpenSSL
 *                            3.0's portable code, and the peer's share
 *                            decoded into a key of ours. The agreement stays
 *                            the default provider's (its assembly is faster
 *                            than a C ladder: bench/README.md).
 *   CG_KEY_EXCHANGE_OPENSSL  OpenSSL's default provider, OpenSSL's default.
 *
 * Only X25519 keys change hands: P-256, P-384 and every other group, every
 * key agreement and every signature stay the default provider's. The
 * provider offers the KEYMGMT under the property CG_KEY_EXCHANGE_PROP and
 * names the X25519 TLS group in its "TLS-GROUP" capability; an SSL_CTX made
 * with SSL_CTX_new_ex(NULL, cg_provider_propq(), ..) fetches its X25519
 * KEYMGMT, so libssl takes the group and its keys from us. For the
 * agreement, EVP_PKEY_derive_init fetches the default provider's KEYEXCH
 * (we offer none) and EVP exports both keys to the default provider's
 * KEYMGMT, once per key; EVP_PKEY_derive_set_peer's public-key check of the
 * peer's share runs through our KEYMGMT. Every other fetch of the process
 * (property query NULL) keeps getting the default provider's X25519.
 * Keys, shared secrets and refusals are the default provider's: an
 * all-zero shared secret (a peer key of small order) fails its derive, and
 * libssl ends the handshake with an alert.
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

/* The property our X25519 KEYMGMT carries. */
#define CG_KEY_EXCHANGE_PROP  "certgate.x25519=yes"
/* The property query that prefers it and excludes nothing. */
#define CG_KEY_EXCHANGE_PROPQ "?" CG_KEY_EXCHANGE_PROP

/* "builtin" / "openssl". */
const char *cg_key_exchange_name(cg_key_exchange_t mode);

/* Applies `mode` to the process (builtin: loads the providers, once).
 * CG_OK, or CG_ERR with *err. */
int cg_key_exchange_select(cg_key_exchange_t mode, char **err);
/* The mode in force (openssl until builtin was selected). */
cg_key_exchange_t cg_key_exchange_current(void);

#endif

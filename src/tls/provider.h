/*
 * provider.h: certgate's OpenSSL provider, and the property query that makes
 * a TLS context prefer it.
 *
 * One provider, CG_PROVIDER_NAME, offers certgate's own implementations of
 * what libssl fetches on every handshake, each group under a property of its
 * own so that each is chosen on its own:
 *
 *   TLS13-KDF, HMAC            CG_KEY_SCHEDULE_PROP  tls_key_schedule  (key_schedule.h)
 *   X25519 KEYMGMT             CG_KEY_EXCHANGE_PROP  tls_key_exchange  (key_exchange.h)
 *
 * A context made with SSL_CTX_new_ex(NULL, cg_provider_propq(), ..) prefers
 * the groups chosen; every other fetch of the process (property query NULL)
 * gets the default provider's algorithms, which are registered first on
 * purpose (cg_provider_load).
 *
 * Process-wide, at start-up, before threads: the select functions of
 * key_schedule.h and key_exchange.h load the provider when they choose
 * builtin; it stays loaded for the life of the process.
 */
#ifndef CG_TLS_PROVIDER_H
#define CG_TLS_PROVIDER_H

#include <stdbool.h>

#define CG_PROVIDER_NAME "certgate"

/* Loads OpenSSL's "default" provider, then certgate's (once; later calls do
 * nothing). Loading any provider explicitly turns off OpenSSL's automatic
 * loading of "default", so it is loaded first, by name; and the default
 * provider's versions of what ours offers are fetched before ours is
 * loaded, so that a fetch with no property query, which takes the
 * implementation registered first, keeps getting the default provider's.
 * CG_OK, or CG_ERR with *err. */
int cg_provider_load(char **err);

/* The property query for SSL_CTX_new_ex, composed of the choices in force:
 * NULL when neither tls_key_schedule nor tls_key_exchange is builtin, else
 * the optional properties of those that are (e.g.
 * "?certgate.fast=yes,?certgate.x25519=yes"). */
const char *cg_provider_propq(void);

/* Whether q is one of the queries cg_provider_propq can return (any
 * choice): the queries under which our algorithms are what the SSL_CTX's
 * owner asked for. */
bool cg_provider_propq_is_ours(const char *q);

#endif

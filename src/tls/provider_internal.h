/*
 * provider_internal.h: what the modules of certgate's provider (provider.c)
 * share among themselves; nothing outside src/tls/ includes it.
 *
 *   key_schedule.c  TLS13-KDF and HMAC
 *   key_exchange.c  X25519 KEYMGMT and the TLS group
 */
#ifndef CG_TLS_PROVIDER_INTERNAL_H
#define CG_TLS_PROVIDER_INTERNAL_H

#include <openssl/core.h>
#include <openssl/types.h>

/* Dispatch tables of the algorithms (provider.c lists them under their
 * names and properties). */
extern const OSSL_DISPATCH cg_key_schedule_kdf_functions[];
extern const OSSL_DISPATCH cg_key_schedule_mac_functions[];
extern const OSSL_DISPATCH cg_key_exchange_keymgmt_functions[];

/* The "TLS-GROUP" capability entry of X25519 (provider-base(7)). */
extern const OSSL_PARAM cg_key_exchange_tls_group[];

/* Called by cg_provider_load after the default provider is loaded and
 * before ours is: each fetches what it needs of the default provider's, and
 * so registers the default provider's implementations first. CG_OK, or
 * CG_ERR with *err. */
int cg_key_schedule_prepare(char **err);
int cg_key_exchange_prepare(char **err);

/* The library context our provider was loaded into, from the provider
 * context every algorithm's newctx gets (for RAND_priv_bytes_ex). */
OSSL_LIB_CTX *cg_provider_libctx(void *provctx);

#endif

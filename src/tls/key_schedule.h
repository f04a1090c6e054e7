/*
 * key_schedule.h: who computes the TLS 1.3 key schedule of certgate's TLS
 * contexts (tls_key_schedule, loadgen --key-schedule).
 *
 *   CG_KEY_SCHEDULE_BUILTIN  a small OpenSSL provider of certgate's own
 *                            (key_schedule.c) serves libssl's "TLS13-KDF"
 *                            and "HMAC" fetches for SHA-256 and SHA-384:
 *                            the same HKDF and HMAC, computed with OpenSSL's
 *                            SHA-2 functions, without the per-call fetches,
 *                            allocations and HMAC contexts of OpenSSL 3.0's
 *                            default provider (bench/README.md).
 *   CG_KEY_SCHEDULE_OPENSSL  OpenSSL's default provider, OpenSSL's default.
 *
 * The provider (provider.h) offers its TLS13-KDF and HMAC under the
 * property CG_KEY_SCHEDULE_PROP; only an SSL_CTX made with
 * SSL_CTX_new_ex(NULL, cg_provider_propq(), ..) prefers them. Every other
 * fetch of the process (property query NULL) keeps getting the default
 * provider's, and the optional query selects nothing else of ours but what
 * tls_key_exchange chose (key_exchange.h), so ciphers, signatures and
 * digests of those contexts come from the default provider as before.
 * Any digest other than SHA-256 and SHA-384, and any parameter the fast path
 * does not handle (HMAC's tls-data-size for TLS 1.2 CBC records, a property
 * query of someone else's), is handed to the default provider's own
 * implementation, so selecting builtin changes no result.
 *
 * Process-wide: call cg_key_schedule_select() at start-up, before threads.
 * Selecting builtin loads the providers (cg_provider_load); they stay
 * loaded for the life of the process. Selecting openssl afterwards is
 * allowed: contexts made from then on do not prefer our key schedule.
 */
#ifndef CG_TLS_KEY_SCHEDULE_H
#define CG_TLS_KEY_SCHEDULE_H

typedef enum {
    CG_KEY_SCHEDULE_BUILTIN = 0,
    CG_KEY_SCHEDULE_OPENSSL = 1,
} cg_key_schedule_t;

/* The property our TLS13-KDF and HMAC carry. */
#define CG_KEY_SCHEDULE_PROP     "certgate.fast=yes"
/* The property query that prefers them and excludes nothing. */
#define CG_KEY_SCHEDULE_PROPQ    "?" CG_KEY_SCHEDULE_PROP

/* "builtin" / "openssl". */
const char *cg_key_schedule_name(cg_key_schedule_t mode);

/* Applies `mode` to the process (builtin: loads the providers, once).
 * CG_OK, or CG_ERR with *err. */
int cg_key_schedule_select(cg_key_schedule_t mode, char **err);
/* The mode in force (openssl until builtin was selected). */
cg_key_schedule_t cg_key_schedule_current(void);
/* This choice's part of the property query (cg_provider_propq() is the
 * whole): CG_KEY_SCHEDULE_PROPQ under builtin, NULL under openssl. */
const char *cg_key_schedule_propq(void);

#endif

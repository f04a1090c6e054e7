/*
 * session_cache.h: the server's TLS session cache, shared by every SSL_CTX
 * of every generation.
 *
 * OpenSSL's internal cache lives inside one SSL_CTX, and a reload builds new
 * SSL_CTXs: sessions would then never survive a SIGHUP. This cache belongs to
 * the server instead and is attached to each SSL_CTX through OpenSSL's
 * external-cache callbacks (new / get / remove), so a session made before a
 * reload may resume after it. That is safe because a session never carries a
 * decision: the connection judges the stored peer chain again, against the
 * current generation's stores and CRLs, at every resumption. The session id
 * context (tls.c) still keeps a session within its site, its client
 * certificate policy and its trust anchors.
 *
 * Bounded: at most `max_entries` sessions (limits.tls_session_cache); the
 * oldest is dropped first.
 * Expired sessions are dropped when met. Thread safe (one mutex; held for
 * a hash lookup only). The one interface a shared backend (Redis) would
 * implement later.
 */
#ifndef CG_TLS_SESSION_CACHE_H
#define CG_TLS_SESSION_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct cg_tls_session_cache;

/* NULL on allocation failure. max_entries 0 means 1. */
struct cg_tls_session_cache *cg_tls_session_cache_new(size_t max_entries);
/* A new bound (a reload): the oldest sessions over it are dropped at once.
 * CG_OK; CG_ERR when the bound is applied but the hash table could not grow
 * (out of memory: lookups get slower, nothing is lost). */
int cg_tls_session_cache_set_max(struct cg_tls_session_cache *sc, size_t max_entries);
/* NULL-safe. Every SSL_CTX attached to it must have been freed before. */
void cg_tls_session_cache_free(struct cg_tls_session_cache *sc);
/* Makes `ctx` store and find its server sessions in `sc` (and no longer in
 * its own internal cache). CG_OK / CG_ERR. */
int cg_tls_session_cache_attach(struct cg_tls_session_cache *sc, SSL_CTX *ctx);
/* Sessions held now (for tests and metrics). */
size_t cg_tls_session_cache_count(struct cg_tls_session_cache *sc);
/* Lookups of a session to resume: found (and not expired) or not. */
struct cg_tls_session_cache_stats {
    size_t entries;
    uint64_t hits, misses;
};
void cg_tls_session_cache_stats(struct cg_tls_session_cache *sc,
                                struct cg_tls_session_cache_stats *out);
/* Initialises the SSL_CTX ex_data index once (cg_tls_global_init calls it). */
int cg_tls_session_cache_global_init(void);

#endif

/*
 * fetch_cache.h: two lookups OpenSSL repeats on every handshake, done once
 * per thread: the TLS 1.3 key-schedule algorithm, and key managers' names.
 *
 * libssl 3.0 derives each secret of a TLS 1.3 handshake through
 * EVP_KDF_fetch(libctx, "TLS13-KDF", propq): 17 fetches per full handshake,
 * each a name lookup, a property-query parse and a method-store lookup under
 * a read lock (about 3,800 instructions), and each returns the same method
 * object as the one before, from OpenSSL's own method cache. And libcrypto
 * asks EVP_KEYMGMT_names_do_all for a key manager's names each time it
 * makes a key context or a key from a provider (five times per handshake),
 * which OpenSSL 3.0 answers by walking its whole name map twice.
 *
 * This module defines both functions in the executable, which the dynamic
 * linker binds every caller to (libssl's and libcrypto's own): once enabled,
 * each thread remembers the methods it fetched (by library context,
 * algorithm name and property query, compared in full) and hands out
 * another reference to the same one, and remembers the names of the key
 * managers it was asked about (holding a reference to each, so that its
 * address cannot be reused) and gives the very strings libcrypto gave, in its
 * order (callers keep the pointers).
 * Anything not remembered, anything on a thread that did not arm it, and
 * everything before cg_fetch_cache_enable, goes to libcrypto's functions (found with dlsym(RTLD_NEXT)); failures are
 * never remembered, so each reports its own error.
 *
 * Valid while the set of providers does not change: enable it once
 * certgate's providers are loaded (they stay loaded for the life of the
 * process), and call cg_fetch_cache_disable before loading or unloading one.
 */
#ifndef CG_TLS_FETCH_CACHE_H
#define CG_TLS_FETCH_CACHE_H

#include <stdint.h>

/* Turns remembering on (process-wide) / off (every thread forgets what it
 * kept at its next lookup). */
void cg_fetch_cache_enable(void);
void cg_fetch_cache_disable(void);

/* Makes the calling thread answer from its memory while enabled: the
 * threads that handshake (a worker's). Others (start-up, reloads, which
 * look up many algorithms once) go to libcrypto every time. */
void cg_fetch_cache_thread_arm(void);

/* Drops this thread's methods now, as its exit would. */
void cg_fetch_cache_thread_release(void);

/* Counts over all threads since start: fetches answered from a thread's
 * methods, and fetches passed to libcrypto while enabled. */
struct cg_fetch_cache_stats {
    uint64_t hits, misses;              /* EVP_KDF_fetch */
    uint64_t name_hits, name_misses;    /* EVP_KEYMGMT_names_do_all */
};
void cg_fetch_cache_stats(struct cg_fetch_cache_stats *out);

#endif

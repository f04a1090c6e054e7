/*
 * cert_reuse.h: a peer's certificate that a thread has already decoded is
 * not decoded again.
 *
 * Every full mutual-TLS handshake hands the server the client's leaf and
 * intermediate as DER, and libssl decodes each into a new X509 (d2i_X509):
 * about 85 k instructions per certificate, and as many again spread over
 * freeing it with the connection and with the session that keeps it. In
 * mutual TLS the same certificates keep coming back (a client reconnecting,
 * every client of one issuing CA sending the same intermediate), so each
 * thread keeps the certificates it decoded, keyed by their exact DER, and
 * hands libssl another reference to the same X509 when the very same bytes
 * come again. A client's certificates are the server's for a client
 * (bench/loadgen) likewise.
 *
 * What is reused is the decoding only: an X509 decoded from the same bytes
 * by the same code, shared as OpenSSL shares the X509s of a store (by
 * reference count; nothing in certgate or libssl changes a peer's
 * certificate). Every judgement about it (chain, validity, revocation,
 * identity) is made per handshake as before. Bytes are compared in full; the
 * hash only picks where to look.
 *
 * How: libssl calls d2i_X509 for each certificate of a Certificate message.
 * This module defines d2i_X509 in the executable, which the dynamic linker
 * binds every caller to (libssl's and libcrypto's included); it decodes
 * exactly as OpenSSL's (ASN1_item_d2i with the X509 item, which is all
 * OpenSSL 3.0's d2i_X509 is), and consults the cache only while the calling
 * thread has armed it (around libssl's handshake), only for
 * libssl's form of the call (a new X509 passed in to be filled), and only
 * for certificates of at most the configured size.
 */
#ifndef CG_TLS_CERT_REUSE_H
#define CG_TLS_CERT_REUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CG_CERT_REUSE_DEFAULT_ENTRIES 64
#define CG_CERT_REUSE_DEFAULT_MAX_BYTES 8192

/* The bounds for every thread (limits.decoded_certificates: certificates
 * kept per thread, 0 = off; limits.decoded_certificate_max_bytes: larger
 * certificates are decoded every time). Call at start-up, before the
 * threads that decode start. */
void cg_cert_reuse_configure(unsigned entries, size_t max_bytes);

/* Arms (true) or disarms the cache for the calling thread; returns the
 * state before, so calls nest: `bool was = cg_cert_reuse_arm(true); ...;
 * cg_cert_reuse_arm(was);`. */
bool cg_cert_reuse_arm(bool on);

/* Drops this thread's certificates now, as its exit would. */
void cg_cert_reuse_thread_release(void);

/* Counts over all threads since start. */
struct cg_cert_reuse_stats {
    uint64_t reused;    /* certificates handed out again without decoding */
    uint64_t decoded;   /* certificates decoded while armed (and kept) */
    uint64_t evicted;   /* certificates dropped to make room */
    uint64_t held;      /* certificates held now, all threads */
};
void cg_cert_reuse_stats(struct cg_cert_reuse_stats *out);

#endif

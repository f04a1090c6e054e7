/*
 * crl_index.h: a CRL parsed once into a sorted array of revoked serials, for
 * O(log n) lookups with little memory, and shared read-only by every thread.
 *
 * Why not X509_CRL: OpenSSL keeps every entry as a heap X509_REVOKED (with
 * its serial, date and extensions as separate allocations) and sorts them
 * under a lock on the first lookup. For a CRL of 1,000,000 entries that is
 * several times the memory and load time of this index; the figures, and
 * the test that measures them, are in tests/unit/cert/test_crl_index.c.
 *
 * The DER is walked here (cert/der.h) and the signature checked over the
 * exact tbsCertList bytes; an index only exists for a CRL that is well
 * formed, signed by the issuer given, and free of critical extensions we do
 * not understand. What is refused: indirect CRLs (entries naming another
 * issuer), partitioned CRLs (onlySomeReasons, indirectCRL in the issuing
 * distribution point), attribute-certificate CRLs.
 *
 * Thread safety: immutable once loaded; refcounted; a refresh builds a new
 * index to the side and swaps the pointer, so lookups never wait on a load.
 */
#ifndef CG_CERT_CRL_INDEX_H
#define CG_CERT_CRL_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

struct cg_crl_index;

#define CG_CRL_INDEX_DEFAULT_MAX_BYTES (64u * 1024 * 1024)

struct cg_crl_index_opts {
    size_t max_bytes;    /* DER larger than this is refused; 0: the default above */
};

/*
 * Builds an index of the DER CRL `der` issued by `issuer` (borrowed; its
 * name must be the CRL's issuer, its key must verify the signature, and its
 * key usage, when present, must allow cRLSign). opts may be NULL.
 * CG_OK with *out (refcount 1), or CG_ERR with a sentence in *err naming what
 * is wrong ("truncated", "signature does not verify", "not a CRL", ...).
 */
int cg_crl_index_load(const unsigned char *der, size_t len, X509 *issuer,
                      const struct cg_crl_index_opts *opts, struct cg_crl_index **out,
                      char **err);

struct cg_crl_entry {
    time_t revoked_at;
    int reason;          /* CRL reason code (RFC 5280 5.3.1); -1: none given */
};

/*
 * Is `serial` listed? CG_OK with *out when it is (out may be NULL),
 * CG_DECLINED when it is not. O(log n), no allocation, no lock.
 */
int cg_crl_index_lookup(const struct cg_crl_index *ix, const ASN1_INTEGER *serial,
                        struct cg_crl_entry *out);
/* Same, with the INTEGER's content octets (two's complement, big-endian). */
int cg_crl_index_lookup_raw(const struct cg_crl_index *ix, const unsigned char *serial,
                            size_t len, struct cg_crl_entry *out);

time_t cg_crl_index_this_update(const struct cg_crl_index *ix);
time_t cg_crl_index_next_update(const struct cg_crl_index *ix);   /* 0: none given */
bool cg_crl_index_is_delta(const struct cg_crl_index *ix);
/* CRL Number, and for a delta its BaseCRLNumber; -1 when absent or > 2^63. */
long long cg_crl_index_number(const struct cg_crl_index *ix);
long long cg_crl_index_base_number(const struct cg_crl_index *ix);
/* issuingDistributionPoint scope: only end-entity / only CA certificates. */
bool cg_crl_index_only_user(const struct cg_crl_index *ix);
bool cg_crl_index_only_ca(const struct cg_crl_index *ix);
size_t cg_crl_index_count(const struct cg_crl_index *ix);
/* Heap bytes held by the index (for metrics and limits). */
size_t cg_crl_index_memory(const struct cg_crl_index *ix);
/* The issuer's name (borrowed, lives as long as the index). */
const X509_NAME *cg_crl_index_issuer(const struct cg_crl_index *ix);

struct cg_crl_index *cg_crl_index_ref(struct cg_crl_index *ix);
void cg_crl_index_unref(struct cg_crl_index *ix);   /* NULL-safe */

#endif

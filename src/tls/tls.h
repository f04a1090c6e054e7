/*
 * tls.h: the server side of TLS. One struct cg_tls_listener per TLS listen
 * address of a configuration generation: one SSL_CTX per site reachable on
 * that address (its certificate, its session id context), and an SNI
 * callback that moves a handshake to the site named by the client.
 *
 * Built to the side on reload and freed when the last connection of its
 * generation is gone: a live SSL_CTX is never modified.
 *
 * Client certificates: when a binding negotiates them, the handshake asks
 * with SSL_VERIFY_PEER (never FAIL_IF_NO_PEER_CERT) and takes whatever chain
 * the client sends without verifying it (OpenSSL's X509_verify_cert is
 * replaced by a callback that only notes a certificate came), so the
 * handshake completes and the request layer decides with the verdict engine,
 * which verifies the chain against the generation's stores. Only a failed
 * CertificateVerify (proof of the private key) aborts the handshake, inside
 * OpenSSL.
 *
 * Non-blocking I/O: cg_tls_handshake/read/write return CG_AGAIN with *want
 * set to CG_TLS_WANT_READ or CG_TLS_WANT_WRITE: wait for that readiness on
 * the socket and call the same function again (OpenSSL may need to write
 * while the caller reads, and the reverse).
 */
#ifndef CG_TLS_TLS_H
#define CG_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "conf/config.h"
#include "tls/gather.h"

#define CG_TLS_WANT_READ  1
#define CG_TLS_WANT_WRITE 2

/*
 * Per-connection TLS facts, filled during the handshake. Lives inside the
 * connection (the caller owns the memory) and is attached to the SSL with
 * cg_tls_conn_new(); it must outlive the SSL.
 */
struct cg_tls_peer {
    /* Index of the site chosen by SNI in the listener's conf sites[] (or its
     * default entry without SNI / with an unknown name). */
    size_t sni_entry;
    bool sni_present;           /* the client sent server_name */
    bool sni_matched;           /* ... and it named a hostname of this address */
    bool verify_called;         /* the client presented a certificate */
    /* The handshake failed because the client's CertificateVerify does not
     * verify with its certificate's public key: it did not prove it holds
     * the private key. OpenSSL has sent a decrypt_error alert. */
    bool key_unproven;
    /* The handshake failed because the client went away (EOF or reset
     * before it finished), not because of anything it sent. */
    bool peer_gone;
};

struct cg_tls_listener;
struct cg_tls_session_cache;

/* What a generation shares between its listeners (all borrowed). */
struct cg_tls_opts {
    struct cg_tls_session_cache *sessions;   /* NULL: each SSL_CTX's own cache */
    STACK_OF(X509_NAME) *ca_names;           /* CertificateRequest CA list for bindings
                                                with `client_ca_list: roots`; NULL: empty */
    unsigned char anchors[32];               /* cg_tls_anchors_digest of the root store */
};

/*
 * Builds the contexts for `l` (a TLS listener of `conf`): loads each site's
 * certificate chain and key from its binding. CG_OK with *out, or CG_ERR with
 * *err naming the site and the file. `conf` and the opts' objects must
 * outlive *out (the CA names are copied).
 *
 * Session id context of a site: SHA-256 over its name, cg_tls_site_policy_digest
 * and opts->anchors, so a session resumes only on the same site, under the
 * same client-certificate policy and the same trust anchors. CRLs are left
 * out on purpose: a new CRL must not stop resumption, it must refuse the
 * resumed connection, and it does because the server judges the stored peer
 * chain again at every resumption (a session never carries a verdict).
 *
 * Client-initiated renegotiation is refused (SSL_OP_NO_RENEGOTIATION): a
 * TLS 1.2 client cannot swap the certificate (or the lack of one) under a
 * connection whose verdict was already taken.
 */
int cg_tls_listener_new(const struct cg_conf *conf, const struct cg_conf_listener *l,
                        const struct cg_tls_opts *opts, struct cg_tls_listener **out,
                        char **err);

/*
 * The CertificateRequest CA list from a root store: the subject names, and
 * in *encoded their size on the wire (2 bytes of length + the DER, per name;
 * TLS caps the whole list at 65535 bytes). *out is NULL for an empty store;
 * free with sk_X509_NAME_pop_free(*out, X509_NAME_free). CG_OK / CG_ERR.
 */
int cg_tls_ca_names(STACK_OF(X509) *roots, STACK_OF(X509_NAME) **out, size_t *encoded);
/* SHA-256 over the sorted thumbprints of `roots` (may be NULL: no roots). */
int cg_tls_anchors_digest(STACK_OF(X509) *roots, unsigned char out[32]);
/*
 * SHA-256 over everything that decides a client certificate on `site`
 * through binding `b` (may be NULL): ssl and client_certificates of the site
 * and of every location, revocation, purpose and the verdict policy, whether
 * the binding negotiates. Two sites with the same digest treat a given
 * certificate the same way.
 */
void cg_tls_site_policy_digest(const struct cg_conf_site *site, const struct cg_conf_binding *b,
                               unsigned char out[32]);
void cg_tls_listener_free(struct cg_tls_listener *tl);   /* NULL-safe */

/* A server SSL on `fd` in accept state, with `peer` attached (see above).
 * NULL on allocation failure. Free with SSL_free(). `gather` holds its
 * socket BIO's state: memory of the caller, like `peer`, that must outlive
 * the SSL.
 *
 * Its socket BIO gathers what libssl writes (tls/gather.h): bytes leave when
 * libssl reads, when they outgrow the gathering buffer, or at
 * cg_tls_flush(), which the owner calls before the connection waits for
 * anything, shuts its side down or closes. Its first read sniffs: a peer
 * whose first byte is no TLS handshake record fails the handshake, and
 * cg_tls_first_byte() says what it sent. The owner must poll level-triggered
 * (a read right after a send is skipped). The gathering buffer comes from
 * `gather_pool` (the calling thread's, CG_TLS_GATHER_BYTES) or, when NULL,
 * from malloc. */
SSL *cg_tls_conn_new(struct cg_tls_listener *tl, int fd, struct cg_tls_peer *peer,
                     struct cg_tls_gather *gather, struct cg_bufpool *gather_pool);

/* The cg_tls_peer attached to `ssl` (NULL if none). */
struct cg_tls_peer *cg_tls_peer_of(const SSL *ssl);

/*
 * The client's certificate and the rest of the chain it sent, for the
 * verdict engine (both borrowed from the SSL, valid while it lives; also
 * after a resumption, when they come from the stored session). NULL when
 * the client sent no certificate or the binding did not ask for one.
 * OpenSSL's server side leaves the leaf out of SSL_get_peer_cert_chain(),
 * which is what cg_verdict_judge(leaf, chain, ...) expects.
 */
X509 *cg_tls_peer_cert(const SSL *ssl);
STACK_OF(X509) *cg_tls_peer_chain(const SSL *ssl);
/* True when this handshake resumed a session (no certificate was sent on
 * the wire: the stored chain must be judged again). */
bool cg_tls_resumed(const SSL *ssl);

/* CG_OK when the handshake is done; CG_AGAIN with *want; CG_ERR with *why
 * (a static string, or the OpenSSL reason) when it failed. A failed proof of
 * the client's private key also sets key_unproven in the attached peer; *why
 * is then OpenSSL's reason ("bad signature") and cg_tls_peer_cert() names
 * the certificate the client could not prove. A client that went away
 * mid-handshake sets peer_gone. */
int cg_tls_handshake(SSL *ssl, int *want, const char **why);

/* > 0 bytes read; 0 on a clean close_notify or EOF; CG_AGAIN with *want;
 * CG_ERR on a protocol or socket error. */
ssize_t cg_tls_read(SSL *ssl, void *buf, size_t len, int *want);
/* > 0 bytes written (may be partial); CG_AGAIN with *want (call again with the
 * same bytes); CG_ERR. */
ssize_t cg_tls_write(SSL *ssl, const void *buf, size_t len, int *want);

/* Sends what libssl wrote and the connection gathered: CG_OK (all sent),
 * CG_AGAIN (the socket is full: wait for it to be writable, call again) or
 * CG_ERR (errno). */
int cg_tls_flush(SSL *ssl);
/* Bytes gathered and not sent yet. */
size_t cg_tls_output_pending(SSL *ssl);
/* Drops what is gathered (the peer is not to get it: it does not speak TLS). */
void cg_tls_discard_output(SSL *ssl);
/* The first byte the peer sent, -1 when it sent none. */
int cg_tls_first_byte(SSL *ssl);

/* Gathers close_notify without waiting for the peer's (never blocks; it
 * leaves with the next cg_tls_flush, together with the FIN when the caller
 * shuts the socket down or closes it once that flush is done:
 * cg_tls_gather_closing). */
void cg_tls_shutdown(SSL *ssl);

/* "TLSv1.3" etc. */
const char *cg_tls_version(const SSL *ssl);

/* Initialises OpenSSL's indices once (call before threads start). */
int cg_tls_global_init(char **err);

#endif

#include "tls/tls.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "core/common.h"
#include "tls/cert_reuse.h"
#include "tls/gather.h"
#include "tls/provider.h"
#include "tls/session_cache.h"

/* TLS 1.2 suites: forward secrecy and AEAD only. */
#define CG_TLS12_CIPHERS                                                   \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"           \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"           \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
/* TLS 1.3 suites: OpenSSL's three, AES-128-GCM first (OpenSSL puts AES-256
 * first). 128-bit AES matches the strength of X25519 and P-256, every TLS 1.3
 * client must implement it (RFC 8446, 9.1), and its SHA-256 key schedule and
 * transcript hash run on the SHA instructions of current x86 and ARM CPUs,
 * where SHA-384 has none. */
#define CG_TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define CG_TLS_GROUPS "X25519:P-256:P-384"
#define CG_TLS_SESSION_TIMEOUT_S 3600

struct cg_tls_listener {
    const struct cg_conf_listener *conf;   /* borrowed from the generation's conf */
    size_t n_ctx;
    SSL_CTX **ctx;                         /* one per conf->sites[i] */
    size_t default_entry;
};

static int peer_idx = -1;

int cg_tls_global_init(char **err)
{
    if (peer_idx >= 0)
        return CG_OK;
    if (OPENSSL_init_ssl(0, NULL) != 1)
        return cg_set_err(err, "OpenSSL initialisation failed");
    peer_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if (peer_idx < 0 || cg_tls_session_cache_global_init() != CG_OK)
        return cg_set_err(err, "SSL_get_ex_new_index failed");
    return CG_OK;
}

struct cg_tls_peer *cg_tls_peer_of(const SSL *ssl)
{
    return SSL_get_ex_data(ssl, peer_idx);
}

/*
 * Stands in for X509_verify_cert in the handshake: the chain is judged by
 * the verdict engine in the request layer, against the generation's stores,
 * so OpenSSL verifying it here too (against an empty store, for errors
 * nobody reads) would be paid for nothing: 1 M of the 7.5 M instructions of
 * a full handshake (bench/README.md, "Where a handshake goes"). Returning 1
 * lets the handshake go on whatever the chain; OpenSSL still checks the
 * CertificateVerify with the leaf's key.
 */
static int cert_verify_cb(X509_STORE_CTX *x, void *arg)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct cg_tls_peer *peer = ssl != NULL ? cg_tls_peer_of(ssl) : NULL;

    (void)arg;
    if (peer != NULL)
        peer->verify_called = true;
    return 1;
}

static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h11[] = "\x08http/1.1";

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto((unsigned char **)out, outlen, h11, sizeof(h11) - 1, in, inlen) ==
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_OK;
    /* RFC 7301 3.2: a client that offers only protocols we do not speak gets
     * no_application_protocol rather than a silent HTTP/1.1. */
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Index in tl->conf->sites of the site whose hostname is `name`; -1 if none. */
static long find_host(const struct cg_tls_listener *tl, const char *name)
{
    const struct cg_conf_listener *l = tl->conf;
    size_t lo = 0, hi = l->n_hosts;
    char lower[256];
    size_t n = strlen(name);

    if (n == 0 || n >= sizeof(lower))
        return -1;
    for (size_t i = 0; i < n; i++)
        lower[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
    if (lower[n - 1] == '.')
        n--;
    lower[n] = '\0';
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(lower, l->hosts[mid].name);
        if (c == 0)
            return (long)l->hosts[mid].entry;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

/* Moves the handshake to the SSL_CTX of site `entry`. */
static int switch_site(struct cg_tls_listener *tl, SSL *ssl, struct cg_tls_peer *peer,
                       size_t entry)
{
    SSL_CTX *ctx = tl->ctx[entry];

    if (entry == peer->sni_entry)
        return CG_OK;
    peer->sni_entry = entry;
    /* SSL_set_SSL_CTX swaps the certificate and the session id context but
     * not the verify mode, which is per SSL once created. */
    if (SSL_set_SSL_CTX(ssl, ctx) == NULL)
        return CG_ERR;
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
    /* Nor the CA list, which SSL_new copied from the first context: with
     * none of its own the SSL falls back to its (new) context's list. */
    SSL_set_client_CA_list(ssl, NULL);
    return CG_OK;
}

/*
 * Picks the site from the server_name extension before anything else of the
 * ClientHello is processed. The servername callback would be too late:
 * OpenSSL looks up the session to resume (and stamps a new session with its
 * session id context) before it runs, so sessions would not be scoped to
 * the site.
 */
static int client_hello_cb(SSL *ssl, int *alert, void *arg)
{
    struct cg_tls_listener *tl = arg;
    struct cg_tls_peer *peer = cg_tls_peer_of(ssl);
    const unsigned char *p = NULL;
    size_t len = 0, list_len, name_len;
    char name[256];
    long entry;

    (void)alert;
    if (peer == NULL || peer->sni_present)
        return SSL_CLIENT_HELLO_SUCCESS;   /* a second ClientHello (HRR) keeps the first choice */
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) != 1)
        return SSL_CLIENT_HELLO_SUCCESS;   /* no SNI: the default site */
    /* RFC 6066 3: ServerNameList <2 bytes length>, then name_type (0 = host_name),
     * HostName <2 bytes length>. Only the first entry counts. */
    if (len < 5)
        goto bad;
    list_len = ((size_t)p[0] << 8) | p[1];
    if (list_len + 2 != len || p[2] != 0)
        goto bad;
    name_len = ((size_t)p[3] << 8) | p[4];
    if (name_len == 0 || name_len + 5 > len || name_len >= sizeof(name))
        goto bad;
    memcpy(name, p + 5, name_len);
    name[name_len] = '\0';
    if (memchr(name, '\0', name_len) != NULL)
        goto bad;
    peer->sni_present = true;
    entry = find_host(tl, name);
    if (entry < 0)
        return SSL_CLIENT_HELLO_SUCCESS;   /* unknown name: the default site's certificate */
    peer->sni_matched = true;
    if (switch_site(tl, ssl, peer, (size_t)entry) != CG_OK) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    return SSL_CLIENT_HELLO_SUCCESS;
bad:
    *alert = SSL_AD_DECODE_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
}

static void digest_bytes(EVP_MD_CTX *h, const void *p, size_t n, bool *ok)
{
    if (*ok && EVP_DigestUpdate(h, p, n) != 1)
        *ok = false;
}

/* A string with its terminating NUL, so "ab"+"c" and "a"+"bc" differ. */
static void digest_str(EVP_MD_CTX *h, const char *s, bool *ok)
{
    digest_bytes(h, s != NULL ? s : "", s != NULL ? strlen(s) + 1 : 1, ok);
}

static void digest_long(EVP_MD_CTX *h, long v, bool *ok)
{
    int64_t x = v;
    digest_bytes(h, &x, sizeof(x), ok);
}

void cg_tls_site_policy_digest(const struct cg_conf_site *site, const struct cg_conf_binding *b,
                               unsigned char out[32])
{
    const struct cg_policy *p = &site->policy;
    const struct cg_conf_revocation *r = &site->revocation;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned int len = 0;
    bool ok = h != NULL && EVP_DigestInit_ex(h, EVP_sha256(), NULL) == 1;

    digest_long(h, site->ssl, &ok);
    digest_long(h, site->client_certificates, &ok);
    digest_long(h, (long)site->n_locations, &ok);
    for (size_t i = 0; i < site->n_locations; i++) {
        digest_str(h, site->locations[i].path, &ok);
        digest_long(h, site->locations[i].ssl, &ok);
        digest_long(h, site->locations[i].client_certificates, &ok);
    }
    digest_long(h, r->mode, &ok);
    digest_long(h, r->scope, &ok);
    digest_long(h, r->on_unknown, &ok);
    digest_long(h, r->stale_grace_s, &ok);
    digest_long(h, r->clock_skew_s, &ok);
    digest_long(h, r->max_crl_age_s, &ok);
    digest_str(h, r->ocsp_responder, &ok);
    digest_long(h, p->purpose, &ok);
    digest_long(h, p->revocation, &ok);
    digest_long(h, p->scope, &ok);
    digest_long(h, p->on_unknown, &ok);
    digest_long(h, p->max_crl_age, &ok);
    digest_long(h, p->clock_skew, &ok);
    digest_long(h, p->max_depth, &ok);
    digest_long(h, p->eku_mode, &ok);
    digest_long(h, p->allow_sha1, &ok);
    digest_long(h, p->anchor_skip_validity, &ok);
    digest_long(h, p->anchor_skip_constraints, &ok);
    digest_long(h, p->explicit_policy, &ok);
    digest_long(h, p->inhibit_policy_mapping, &ok);
    digest_long(h, p->inhibit_any_policy, &ok);
    for (size_t i = 0; i < CG_POLICY_MAX_OIDS && p->policy_oids[i] != NULL; i++)
        digest_str(h, p->policy_oids[i], &ok);
    digest_long(h, b != NULL && b->negotiate_client_certificate, &ok);
    if (!ok || EVP_DigestFinal_ex(h, out, &len) != 1 || len != 32) {
        /* Out of memory: a digest unique to this site object compares
         * unequal to every other site, which is the safe direction. */
        memset(out, 0, 32);
        memcpy(out, &site, sizeof(site));
    }
    EVP_MD_CTX_free(h);
}

static int cmp_thumb(const void *a, const void *b) { return memcmp(a, b, 32); }

int cg_tls_anchors_digest(STACK_OF(X509) *roots, unsigned char out[32])
{
    int n = roots != NULL ? sk_X509_num(roots) : 0;
    unsigned char *all = calloc(n > 0 ? (size_t)n : 1, 32);
    unsigned int len = 0;
    int rc = CG_ERR;

    if (all == NULL)
        return CG_ERR;
    for (int i = 0; i < n; i++) {
        if (X509_digest(sk_X509_value(roots, i), EVP_sha256(), all + 32 * (size_t)i, &len) != 1)
            goto done;
    }
    /* Sorted: the order the directory was read in must not matter. */
    qsort(all, (size_t)n, 32, cmp_thumb);
    if (EVP_Digest(all, 32 * (size_t)n, out, &len, EVP_sha256(), NULL) != 1 || len != 32)
        goto done;
    rc = CG_OK;
done:
    free(all);
    return rc;
}

int cg_tls_ca_names(STACK_OF(X509) *roots, STACK_OF(X509_NAME) **out, size_t *encoded)
{
    STACK_OF(X509_NAME) *names = NULL;
    X509_NAME *dup = NULL;
    int n = roots != NULL ? sk_X509_num(roots) : 0;
    int rc = CG_ERR;

    *out = NULL;
    *encoded = 0;
    if (n == 0)
        return CG_OK;
    names = sk_X509_NAME_new_null();
    if (names == NULL)
        goto done;
    for (int i = 0; i < n; i++) {
        int der = i2d_X509_NAME(X509_get_subject_name(sk_X509_value(roots, i)), NULL);
        if (der <= 0)
            goto done;
        dup = X509_NAME_dup(X509_get_subject_name(sk_X509_value(roots, i)));
        if (dup == NULL || sk_X509_NAME_push(names, dup) <= 0)
            goto done;
        dup = NULL;
        *encoded += 2 + (size_t)der;
    }
    *out = names;
    names = NULL;
    rc = CG_OK;
done:
    X509_NAME_free(dup);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return rc;
}

/* The session id context: see cg_tls_listener_new in tls.h. */
static int set_sid_ctx(SSL_CTX *ctx, const struct cg_conf_listener_site *ls,
                       const struct cg_tls_opts *opts)
{
    unsigned char md[EVP_MAX_MD_SIZE], policy[32];
    unsigned int md_len = 0;
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    int rc = CG_ERR;

    cg_tls_site_policy_digest(ls->site, ls->binding, policy);
    if (h == NULL)
        goto done;
    if (EVP_DigestInit_ex(h, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(h, ls->site->name, strlen(ls->site->name) + 1) != 1 ||
        EVP_DigestUpdate(h, policy, sizeof(policy)) != 1 ||
        EVP_DigestUpdate(h, opts->anchors, sizeof(opts->anchors)) != 1 ||
        EVP_DigestFinal_ex(h, md, &md_len) != 1)
        goto done;
    if (md_len > SSL_MAX_SID_CTX_LENGTH)
        md_len = SSL_MAX_SID_CTX_LENGTH;
    if (SSL_CTX_set_session_id_context(ctx, md, md_len) != 1)
        goto done;
    rc = CG_OK;
done:
    EVP_MD_CTX_free(h);
    return rc;
}

static const char *ssl_err_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;
    return r != NULL ? r : "unknown error";
}

static SSL_CTX *site_ctx_new(struct cg_tls_listener *tl, const struct cg_conf *conf,
                             const struct cg_conf_listener_site *ls,
                             const struct cg_tls_opts *opts, char **err)
{
    const struct cg_conf_binding *b = ls->binding;
    /* The process's tls_key_schedule and tls_key_exchange choices
     * (provider.h): a property query that prefers certgate's TLS13-KDF and
     * HMAC, X25519, both, or NULL. */
    SSL_CTX *ctx = SSL_CTX_new_ex(NULL, cg_provider_propq(), TLS_server_method());

    ERR_clear_error();
    if (ctx == NULL) {
        cg_set_err(err, "SSL_CTX_new: %s", ssl_err_reason());
        return NULL;
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, CG_TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, CG_TLS13_SUITES) != 1 ||
        SSL_CTX_set1_groups_list(ctx, CG_TLS_GROUPS) != 1) {
        cg_set_err(err, "site %s: TLS parameters: %s", ls->site->name, ssl_err_reason());
        goto fail;
    }
    /* NO_RENEGOTIATION: a TLS 1.2 client asking to renegotiate gets a
     * no_renegotiation alert; the certificate judged for this connection
     * cannot be swapped under it. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    /* Release the record buffers of idle connections; allow partial writes
     * and a moved (same content) buffer on retry. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                              SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* Stateful sessions (SSL_OP_NO_TICKET) with one TLS 1.3 ticket: the
     * ticket carries only an id, so resuming never re-parses a session that
     * embeds a client chain. */
    /* Read whole records (and what follows) in one read(2) instead of a
     * header read and a body read. The connection always reads until
     * WANT_READ before it waits on epoll, so nothing stays buffered unseen. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    /* OpenSSL's own cache serves only without a server-wide one (tools and
     * tests that build contexts alone); it takes the same bound. */
    SSL_CTX_sess_set_cache_size(ctx, (long)conf->limits.tls_session_cache);
    if (opts->sessions != NULL && cg_tls_session_cache_attach(opts->sessions, ctx) != CG_OK) {
        cg_set_err(err, "site %s: session cache: out of memory", ls->site->name);
        goto fail;
    }
    SSL_CTX_set_timeout(ctx, CG_TLS_SESSION_TIMEOUT_S);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (b->certificate == NULL || b->key == NULL) {
        cg_set_err(err, "site %s: binding %s: tls needs a certificate and a key",
                   ls->site->name, b->listen);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, b->certificate) != 1) {
        cg_set_err(err, "site %s: certificate %s: %s", ls->site->name, b->certificate,
                   ssl_err_reason());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, b->key, SSL_FILETYPE_PEM) != 1) {
        cg_set_err(err, "site %s: key %s: %s", ls->site->name, b->key, ssl_err_reason());
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        cg_set_err(err, "site %s: key %s does not match certificate %s", ls->site->name,
                   b->key, b->certificate);
        goto fail;
    }
    if (set_sid_ctx(ctx, ls, opts) != CG_OK) {
        cg_set_err(err, "site %s: session id context: %s", ls->site->name, ssl_err_reason());
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    SSL_CTX_set_client_hello_cb(ctx, client_hello_cb, tl);
    if (b->negotiate_client_certificate) {
        /* Ask, never require: a missing or bad certificate is answered in
         * HTTP by the request layer. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(ctx, cert_verify_cb, NULL);
        /* The CA list helps browsers pick the right certificate. Empty when
         * the binding says so or the root store is empty. */
        if (b->ca_list == CG_CA_LIST_ROOTS && opts->ca_names != NULL) {
            STACK_OF(X509_NAME) *names = SSL_dup_CA_list(opts->ca_names);
            if (names == NULL) {
                cg_set_err(err, "site %s: CA list: out of memory", ls->site->name);
                goto fail;
            }
            SSL_CTX_set_client_CA_list(ctx, names);
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int cg_tls_listener_new(const struct cg_conf *conf, const struct cg_conf_listener *l,
                        const struct cg_tls_opts *opts, struct cg_tls_listener **out,
                        char **err)
{
    struct cg_tls_listener *tl = NULL;
    int rc = CG_ERR;

    *out = NULL;
    if (l->n_sites == 0)
        return cg_set_err(err, "listener %s: no site", l->listen);
    tl = calloc(1, sizeof(*tl));
    if (tl == NULL)
        return cg_set_err(err, "out of memory");
    tl->conf = l;
    tl->ctx = calloc(l->n_sites, sizeof(*tl->ctx));
    if (tl->ctx == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    tl->n_ctx = l->n_sites;
    for (size_t i = 0; i < l->n_sites; i++) {
        tl->ctx[i] = site_ctx_new(tl, conf, &l->sites[i], opts, err);
        if (tl->ctx[i] == NULL)
            goto done;
    }
    tl->default_entry = l->default_entry >= 0 ? (size_t)l->default_entry : 0;
    *out = tl;
    tl = NULL;
    rc = CG_OK;
done:
    cg_tls_listener_free(tl);
    return rc;
}

void cg_tls_listener_free(struct cg_tls_listener *tl)
{
    if (tl == NULL)
        return;
    for (size_t i = 0; i < tl->n_ctx; i++)
        SSL_CTX_free(tl->ctx[i]);
    free(tl->ctx);
    free(tl);
}

SSL *cg_tls_conn_new(struct cg_tls_listener *tl, int fd, struct cg_tls_peer *peer,
                     struct cg_tls_gather *gather, struct cg_bufpool *gather_pool)
{
    SSL *ssl = SSL_new(tl->ctx[tl->default_entry]);
    BIO *bio;

    if (ssl == NULL)
        return NULL;
    memset(peer, 0, sizeof(*peer));
    peer->sni_entry = tl->default_entry;
    /* Writes are gathered and leave when the connection waits (gather.h);
     * the first read also tells TLS from anything else. Level-triggered
     * loop: a read right after a send can be skipped. */
    bio = cg_tls_gather_new(gather, fd, CG_TLS_GATHER_SNIFF | CG_TLS_GATHER_SKIP_READ,
                            gather_pool);
    if (bio == NULL || SSL_set_ex_data(ssl, peer_idx, peer) != 1) {
        BIO_free(bio);
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, bio, bio);
    SSL_set_accept_state(ssl);
    return ssl;
}

static int want_of(int e, int *want)
{
    if (e == SSL_ERROR_WANT_READ) {
        *want = CG_TLS_WANT_READ;
        return CG_AGAIN;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        *want = CG_TLS_WANT_WRITE;
        return CG_AGAIN;
    }
    return CG_ERR;
}

int cg_tls_handshake(SSL *ssl, int *want, const char **why)
{
    int r, e;
    unsigned long err;
    bool reuse_was;

    ERR_clear_error();
    errno = 0;
    /* The client's certificates arrive in the handshake (certgate asks for
     * none after it): decoded once per thread (cert_reuse.h). */
    reuse_was = cg_cert_reuse_arm(true);
    r = SSL_do_handshake(ssl);
    cg_cert_reuse_arm(reuse_was);
    if (r == 1)
        return CG_OK;
    e = SSL_get_error(ssl, r);
    if (want_of(e, want) == CG_AGAIN)
        return CG_AGAIN;
    err = ERR_peek_last_error();
    if (e == SSL_ERROR_SYSCALL ||
        (ERR_GET_LIB(err) == ERR_LIB_SSL &&
         ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        /* OpenSSL 3 answers an EOF mid-handshake with a decode_error alert
         * of its own: say what happened, not that the client misspoke. */
        struct cg_tls_peer *peer = cg_tls_peer_of(ssl);
        if (peer != NULL)
            peer->peer_gone = true;
        *why = e != SSL_ERROR_SYSCALL ? ssl_err_reason()
               : errno != 0         ? "connection reset or closed during handshake"
                                    : "peer closed the connection during handshake";
    } else {
        *why = ssl_err_reason();
        /* The one case where a client certificate aborts the handshake: the
         * client could not prove it holds the certificate's private key
         * (OpenSSL checks CertificateVerify once the certificate is in). */
        if (ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_BAD_SIGNATURE &&
            SSL_get0_peer_certificate(ssl) != NULL) {
            struct cg_tls_peer *peer = cg_tls_peer_of(ssl);
            if (peer != NULL)
                peer->key_unproven = true;
        }
    }
    ERR_clear_error();
    return CG_ERR;
}

ssize_t cg_tls_read(SSL *ssl, void *buf, size_t len, int *want)
{
    size_t n = 0;
    int e;

    ERR_clear_error();
    errno = 0;
    if (SSL_read_ex(ssl, buf, len, &n) == 1)
        return (ssize_t)n;
    e = SSL_get_error(ssl, 0);
    if (want_of(e, want) == CG_AGAIN)
        return CG_AGAIN;
    ERR_clear_error();
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    /* EOF without close_notify is a normal way for HTTP clients to leave. */
    if (e == SSL_ERROR_SYSCALL && errno == 0)
        return 0;
    return CG_ERR;
}

ssize_t cg_tls_write(SSL *ssl, const void *buf, size_t len, int *want)
{
    size_t n = 0;
    int e;

    ERR_clear_error();
    if (SSL_write_ex(ssl, buf, len, &n) == 1)
        return (ssize_t)n;
    e = SSL_get_error(ssl, 0);
    if (want_of(e, want) == CG_AGAIN)
        return CG_AGAIN;
    ERR_clear_error();
    return CG_ERR;
}

void cg_tls_shutdown(SSL *ssl)
{
    if (!SSL_is_init_finished(ssl))
        return;
    ERR_clear_error();
    (void)SSL_shutdown(ssl);
    ERR_clear_error();
    cg_tls_gather_closing(SSL_get_rbio(ssl));
}

int cg_tls_flush(SSL *ssl)
{
    /* The read BIO: libssl stacks a buffer of its own on the write side
     * during a handshake, and flushes it into ours before it waits. */
    return cg_tls_gather_flush(SSL_get_rbio(ssl));
}

size_t cg_tls_output_pending(SSL *ssl) { return cg_tls_gather_pending(SSL_get_rbio(ssl)); }

void cg_tls_discard_output(SSL *ssl) { cg_tls_gather_discard(SSL_get_rbio(ssl)); }

int cg_tls_first_byte(SSL *ssl) { return cg_tls_gather_first_byte(SSL_get_rbio(ssl)); }

const char *cg_tls_version(const SSL *ssl) { return SSL_get_version(ssl); }

X509 *cg_tls_peer_cert(const SSL *ssl) { return SSL_get0_peer_certificate(ssl); }

STACK_OF(X509) *cg_tls_peer_chain(const SSL *ssl) { return SSL_get_peer_cert_chain(ssl); }

bool cg_tls_resumed(const SSL *ssl) { return SSL_session_reused(ssl) == 1; }

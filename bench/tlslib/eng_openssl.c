/*
 * eng_openssl.c: the OpenSSL engine, set up as certgate sets up its server:
 * TLS 1.3, X25519, one stateful ticket (a session id into the server's
 * cache), the client's chain either verified by OpenSSL against the root or
 * received and kept without X509_verify_cert (certgate's callback).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlslib.h"

struct oconn {
    SSL *ssl;
    SSL_SESSION *sess;   /* client: the newest session received */
};

/* A BIO over a pair of pipes: its data is {read pipe, write pipe}. */
static BIO_METHOD *pipe_method;

static int pipe_bio_write(BIO *b, const char *src, int n)
{
    struct tl_pipe **pair = (struct tl_pipe **)BIO_get_data(b);

    BIO_clear_retry_flags(b);
    return tl_pipe_write(pair[1], src, (size_t)n) == (size_t)n ? n : -1;
}

static int pipe_bio_read_pair(BIO *b, char *dst, int n)
{
    struct tl_pipe **pair = (struct tl_pipe **)BIO_get_data(b);
    size_t got = tl_pipe_read(pair[0], dst, (size_t)n);

    BIO_clear_retry_flags(b);
    if (got == 0) {
        BIO_set_retry_read(b);
        return -1;
    }
    return (int)got;
}

static long pipe_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int pipe_bio_destroy(BIO *b)
{
    free(BIO_get_data(b));
    BIO_set_data(b, NULL);
    return 1;
}

static const char *o_version(void)
{
    return OpenSSL_version(OPENSSL_VERSION);
}

static int accept_chain(X509_STORE_CTX *x, void *arg)
{
    (void)x;
    (void)arg;
    return 1;
}

static int client_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct oconn *c = SSL_get_app_data(ssl);

    SSL_SESSION_free(c->sess);
    c->sess = sess;
    return 1;
}

static void *o_ctx_new(bool server, const struct tl_conf *conf, char *err, size_t err_len)
{
    static const unsigned char sid[] = "tlslib";
    const struct tl_pki *p = conf->pki;
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());

    if (pipe_method == NULL) {
        pipe_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tlslib pipe");
        if (pipe_method == NULL || !BIO_meth_set_write(pipe_method, pipe_bio_write) ||
            !BIO_meth_set_read(pipe_method, pipe_bio_read_pair) ||
            !BIO_meth_set_ctrl(pipe_method, pipe_bio_ctrl) ||
            !BIO_meth_set_destroy(pipe_method, pipe_bio_destroy))
            goto fail;
    }
    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 ||
        SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384") != 1)
        goto fail;
    if (SSL_CTX_use_certificate_chain_file(ctx, server ? p->server_chain : p->client_chain) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, server ? p->server_key : p->client_key,
                                    SSL_FILETYPE_PEM) != 1)
        goto fail;
    if (server) {
        if (SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1)
            goto fail;
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 1);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        if (conf->server_verifies) {
            if (SSL_CTX_load_verify_locations(ctx, p->root, NULL) != 1)
                goto fail;
        } else {
            SSL_CTX_set_cert_verify_callback(ctx, accept_chain, NULL);
        }
    } else {
        /* The client checks the server's CertificateVerify, not its chain. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_cert_verify_callback(ctx, accept_chain, NULL);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
                                                SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, client_new_session);
    }
    return ctx;
fail:
    snprintf(err, err_len, "OpenSSL %s context: %s", server ? "server" : "client",
             ERR_reason_error_string(ERR_peek_last_error()));
    SSL_CTX_free(ctx);
    return NULL;
}

static void o_ctx_free(void *ctx)
{
    SSL_CTX_free(ctx);
}

static void *o_conn_new(void *ctx, bool server, struct tl_pipe *rd, struct tl_pipe *wr, void *sess)
{
    struct oconn *c = calloc(1, sizeof(*c));
    struct tl_pipe **pair = malloc(2 * sizeof(*pair));
    BIO *bio = BIO_new(pipe_method);

    if (c == NULL || pair == NULL || bio == NULL || (c->ssl = SSL_new(ctx)) == NULL)
        abort();
    pair[0] = rd;
    pair[1] = wr;
    BIO_set_data(bio, pair);
    BIO_set_init(bio, 1);
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_app_data(c->ssl, c);
    if (server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        if (sess != NULL && SSL_set_session(c->ssl, sess) != 1)
            abort();
    }
    return c;
}

static int o_handshake(void *conn, char *err, size_t err_len)
{
    struct oconn *c = conn;
    int r = SSL_do_handshake(c->ssl);

    if (r == 1)
        return 1;
    if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
        return 0;
    snprintf(err, err_len, "OpenSSL handshake: %s",
             ERR_reason_error_string(ERR_peek_last_error()));
    return -1;
}

static int o_drain(void *conn, char *err, size_t err_len)
{
    struct oconn *c = conn;
    unsigned char buf[256];
    int r = SSL_read(c->ssl, buf, sizeof(buf));

    if (r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
        return 0;
    snprintf(err, err_len, "OpenSSL read after the handshake: %d", r);
    return -1;
}

static bool o_resumed(void *conn)
{
    return SSL_session_reused(((struct oconn *)conn)->ssl) == 1;
}

static int o_peer_chain_len(void *conn)
{
    struct oconn *c = conn;
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(c->ssl);

    /* A server's peer chain does not hold the leaf. */
    if (SSL_get0_peer_certificate(c->ssl) == NULL)
        return 0;
    return 1 + (chain != NULL ? sk_X509_num(chain) : 0);
}

static void *o_session_get(void *conn)
{
    struct oconn *c = conn;
    SSL_SESSION *s = c->sess;

    c->sess = NULL;
    return s;
}

static void o_session_free(void *sess)
{
    SSL_SESSION_free(sess);
}

static void o_conn_close(void *conn)
{
    struct oconn *c = conn;

    if (SSL_is_server(c->ssl)) {
        (void)SSL_shutdown(c->ssl);
    } else {
        /* The client leaves without reading the server's alert, as a client
         * that got its answer does; the session stays resumable. */
        SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    }
    SSL_free(c->ssl);
    SSL_SESSION_free(c->sess);
    free(c);
}

const struct tl_engine tl_engine_openssl = {
    .name = "openssl",
    .version = o_version,
    .ctx_new = o_ctx_new,
    .ctx_free = o_ctx_free,
    .conn_new = o_conn_new,
    .handshake = o_handshake,
    .drain = o_drain,
    .resumed = o_resumed,
    .peer_chain_len = o_peer_chain_len,
    .session_get = o_session_get,
    .session_free = o_session_free,
    .conn_close = o_conn_close,
};

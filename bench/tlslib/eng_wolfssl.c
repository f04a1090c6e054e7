/*
 * eng_wolfssl.c: the wolfSSL engine (Debian's build). TLS 1.3 only, X25519,
 * AES-256-GCM, resumption through wolfSSL's own TLS 1.3 tickets. "Not
 * verified" here means no trust anchor and a verify callback that accepts:
 * wolfSSL has no switch that skips the chain's signatures while still asking
 * for a certificate, so its parsing and the failed signer look-ups remain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tlslib.h"

struct wconn {
    WOLFSSL *ssl;
    bool server;
    struct tl_pipe *rd, *wr;
};

static const char *w_version(void)
{
    return wolfSSL_lib_version();
}

static int w_recv(WOLFSSL *ssl, char *dst, int n, void *arg)
{
    struct wconn *c = arg;
    size_t got = tl_pipe_read(c->rd, dst, (size_t)n);

    (void)ssl;
    return got == 0 ? WOLFSSL_CBIO_ERR_WANT_READ : (int)got;
}

static int w_send(WOLFSSL *ssl, char *src, int n, void *arg)
{
    struct wconn *c = arg;

    (void)ssl;
    return tl_pipe_write(c->wr, src, (size_t)n) == (size_t)n ? n : WOLFSSL_CBIO_ERR_GENERAL;
}

static int accept_chain(int preverify, WOLFSSL_X509_STORE_CTX *x)
{
    (void)preverify;
    (void)x;
    return 1;
}

static void *w_ctx_new(bool server, const struct tl_conf *conf, char *err, size_t err_len)
{
    static bool inited;
    const struct tl_pki *p = conf->pki;
    int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};
    WOLFSSL_CTX *ctx;
    const char *what = "new";

    if (!inited) {
        wolfSSL_Init();
        inited = true;
    }
    ctx = wolfSSL_CTX_new(server ? wolfTLSv1_3_server_method() : wolfTLSv1_3_client_method());
    if (ctx == NULL)
        goto fail;
    what = "certificate";
    if (wolfSSL_CTX_use_certificate_chain_file(ctx, server ? p->server_chain : p->client_chain) !=
            WOLFSSL_SUCCESS ||
        wolfSSL_CTX_use_PrivateKey_file(ctx, server ? p->server_key : p->client_key,
                                        WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
        goto fail;
    what = "suites and groups";
    if (wolfSSL_CTX_set_cipher_list(ctx, "TLS13-AES256-GCM-SHA384") != WOLFSSL_SUCCESS ||
        wolfSSL_CTX_set_groups(ctx, groups, 2) != WOLFSSL_SUCCESS)
        goto fail;
    wolfSSL_CTX_SetIORecv(ctx, w_recv);
    wolfSSL_CTX_SetIOSend(ctx, w_send);
    if (server) {
        int mode = WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        what = "root";
        if (conf->server_verifies) {
            if (wolfSSL_CTX_load_verify_locations(ctx, p->root, NULL) != WOLFSSL_SUCCESS)
                goto fail;
            wolfSSL_CTX_set_verify(ctx, mode, NULL);
        } else {
            wolfSSL_CTX_set_verify(ctx, mode, accept_chain);
        }
    } else {
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    return ctx;
fail:
    snprintf(err, err_len, "wolfSSL %s context: %s", server ? "server" : "client", what);
    if (ctx != NULL)
        wolfSSL_CTX_free(ctx);
    return NULL;
}

static void w_ctx_free(void *ctx)
{
    if (ctx != NULL)
        wolfSSL_CTX_free(ctx);
}

static void *w_conn_new(void *ctx, bool server, struct tl_pipe *rd, struct tl_pipe *wr, void *sess)
{
    struct wconn *c = calloc(1, sizeof(*c));

    if (c == NULL || (c->ssl = wolfSSL_new(ctx)) == NULL)
        abort();
    c->server = server;
    c->rd = rd;
    c->wr = wr;
    wolfSSL_SetIOReadCtx(c->ssl, c);
    wolfSSL_SetIOWriteCtx(c->ssl, c);
    if (!server) {
        if (wolfSSL_UseSNI(c->ssl, WOLFSSL_SNI_HOST_NAME, "localhost", 9) != WOLFSSL_SUCCESS)
            abort();
        if (sess != NULL && wolfSSL_set_session(c->ssl, sess) != WOLFSSL_SUCCESS)
            abort();
    }
    return c;
}

static int w_handshake(void *conn, char *err, size_t err_len)
{
    struct wconn *c = conn;
    int r = c->server ? wolfSSL_accept(c->ssl) : wolfSSL_connect(c->ssl);
    int e;

    if (r == WOLFSSL_SUCCESS)
        return 1;
    e = wolfSSL_get_error(c->ssl, r);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
        return 0;
    snprintf(err, err_len, "wolfSSL handshake: %s", wolfSSL_ERR_reason_error_string((unsigned long)e));
    return -1;
}

static int w_drain(void *conn, char *err, size_t err_len)
{
    struct wconn *c = conn;
    unsigned char buf[256];
    int r = wolfSSL_read(c->ssl, buf, sizeof(buf));
    int e = wolfSSL_get_error(c->ssl, r);

    if (r <= 0 && (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE))
        return 0;
    snprintf(err, err_len, "wolfSSL read after the handshake: %d", e);
    return -1;
}

static bool w_resumed(void *conn)
{
    return wolfSSL_session_reused(((struct wconn *)conn)->ssl) == 1;
}

static int w_peer_chain_len(void *conn)
{
    WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(((struct wconn *)conn)->ssl);

    return chain != NULL ? wolfSSL_get_chain_count(chain) : 0;
}

static void *w_session_get(void *conn)
{
    return wolfSSL_get1_session(((struct wconn *)conn)->ssl);
}

static void w_session_free(void *sess)
{
    if (sess != NULL)
        wolfSSL_SESSION_free(sess);
}

static void w_conn_close(void *conn)
{
    struct wconn *c = conn;

    if (c->server)
        (void)wolfSSL_shutdown(c->ssl);
    wolfSSL_free(c->ssl);
    free(c);
}

const struct tl_engine tl_engine_wolfssl = {
    .name = "wolfssl",
    .version = w_version,
    .ctx_new = w_ctx_new,
    .ctx_free = w_ctx_free,
    .conn_new = w_conn_new,
    .handshake = w_handshake,
    .drain = w_drain,
    .resumed = w_resumed,
    .peer_chain_len = w_peer_chain_len,
    .session_get = w_session_get,
    .session_free = w_session_free,
    .conn_close = w_conn_close,
};

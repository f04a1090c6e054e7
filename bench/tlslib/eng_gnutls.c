/*
 * eng_gnutls.c: the GnuTLS engine. TLS 1.3 only, X25519, AES-256-GCM (what
 * the OpenSSL engine negotiates), one session ticket per full handshake.
 * GnuTLS resumes TLS 1.3 only through stateless tickets (its session
 * database serves TLS 1.2); the ticket carries the client's chain.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "tlslib.h"

#define G_PRIORITY                                                                          \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-256-GCM:-GROUP-ALL:+GROUP-X25519:"     \
    "+GROUP-SECP256R1"

struct gctx {
    bool server, verify;
    gnutls_certificate_credentials_t cred;
    gnutls_priority_t prio;
    gnutls_datum_t ticket_key;
};

struct gconn {
    gnutls_session_t s;
    struct gctx *ctx;
    struct tl_pipe *rd, *wr;
    bool ticket_sent;
};

static const char *g_version(void)
{
    return gnutls_check_version(NULL);
}

static ssize_t g_pull(gnutls_transport_ptr_t p, void *dst, size_t n)
{
    struct gconn *c = p;
    size_t got = tl_pipe_read(c->rd, dst, n);

    if (got == 0) {
        gnutls_transport_set_errno(c->s, EAGAIN);
        return -1;
    }
    return (ssize_t)got;
}

static ssize_t g_push(gnutls_transport_ptr_t p, const void *src, size_t n)
{
    struct gconn *c = p;

    return tl_pipe_write(c->wr, src, n) == n ? (ssize_t)n : -1;
}

/* Nothing ever arrives while a side waits: the driver alternates them. */
static int g_pull_timeout(gnutls_transport_ptr_t p, unsigned ms)
{
    struct gconn *c = p;

    (void)ms;
    return c->rd->len > 0 ? 1 : 0;
}

static void g_ctx_free(void *ctx)
{
    struct gctx *g = ctx;

    if (g == NULL)
        return;
    gnutls_certificate_free_credentials(g->cred);
    gnutls_priority_deinit(g->prio);
    gnutls_free(g->ticket_key.data);
    free(g);
}

static void *g_ctx_new(bool server, const struct tl_conf *conf, char *err, size_t err_len)
{
    const struct tl_pki *p = conf->pki;
    struct gctx *g = calloc(1, sizeof(*g));
    int r;

    if (g == NULL)
        abort();
    g->server = server;
    g->verify = server && conf->server_verifies;
    if ((r = gnutls_certificate_allocate_credentials(&g->cred)) < 0 ||
        (r = gnutls_priority_init(&g->prio, G_PRIORITY, NULL)) < 0 ||
        (r = gnutls_certificate_set_x509_key_file2(
             g->cred, server ? p->server_chain : p->client_chain,
             server ? p->server_key : p->client_key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0)
        goto fail;
    if (server) {
        if ((r = gnutls_session_ticket_key_generate(&g->ticket_key)) < 0)
            goto fail;
        if (g->verify &&
            (r = gnutls_certificate_set_x509_trust_file(g->cred, p->root, GNUTLS_X509_FMT_PEM)) <= 0) {
            if (r == 0)
                r = GNUTLS_E_NO_CERTIFICATE_FOUND;
            goto fail;
        }
    }
    return g;
fail:
    snprintf(err, err_len, "GnuTLS %s context: %s", server ? "server" : "client",
             gnutls_strerror(r));
    g_ctx_free(g);
    return NULL;
}

static void *g_conn_new(void *ctx, bool server, struct tl_pipe *rd, struct tl_pipe *wr, void *sess)
{
    struct gctx *g = ctx;
    struct gconn *c = calloc(1, sizeof(*c));
    unsigned flags = (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK;

    if (c == NULL)
        abort();
    /* One ticket after every handshake, sent by us, as the OpenSSL engine
     * issues one. */
    if (server)
        flags |= GNUTLS_NO_AUTO_SEND_TICKET;
    c->ctx = g;
    c->rd = rd;
    c->wr = wr;
    if (gnutls_init(&c->s, flags) < 0 || gnutls_priority_set(c->s, g->prio) < 0 ||
        gnutls_credentials_set(c->s, GNUTLS_CRD_CERTIFICATE, g->cred) < 0)
        abort();
    gnutls_transport_set_ptr(c->s, c);
    gnutls_transport_set_pull_function(c->s, g_pull);
    gnutls_transport_set_push_function(c->s, g_push);
    gnutls_transport_set_pull_timeout_function(c->s, g_pull_timeout);
    if (server) {
        gnutls_certificate_server_set_request(c->s, GNUTLS_CERT_REQUIRE);
        /* No list of acceptable CAs in the request, as the OpenSSL engine. */
        gnutls_certificate_send_x509_rdn_sequence(c->s, 1);
        if (g->verify)
            gnutls_session_set_verify_cert(c->s, NULL, 0);
        if (gnutls_session_ticket_enable_server(c->s, &g->ticket_key) < 0)
            abort();
    } else {
        if (gnutls_server_name_set(c->s, GNUTLS_NAME_DNS, "localhost", 9) < 0)
            abort();
        if (sess != NULL) {
            const gnutls_datum_t *d = sess;
            if (gnutls_session_set_data(c->s, d->data, d->size) < 0)
                abort();
        }
    }
    return c;
}

static int g_handshake(void *conn, char *err, size_t err_len)
{
    struct gconn *c = conn;
    int r = gnutls_handshake(c->s);

    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        return 0;
    if (r < 0) {
        snprintf(err, err_len, "GnuTLS handshake: %s", gnutls_strerror(r));
        return -1;
    }
    if (c->ctx->server && !c->ticket_sent) {
        r = gnutls_session_ticket_send(c->s, 1, 0);
        if (r < 0) {
            snprintf(err, err_len, "GnuTLS ticket: %s", gnutls_strerror(r));
            return -1;
        }
        c->ticket_sent = true;
    }
    return 1;
}

static int g_drain(void *conn, char *err, size_t err_len)
{
    struct gconn *c = conn;
    unsigned char buf[256];
    ssize_t r = gnutls_record_recv(c->s, buf, sizeof(buf));

    if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
        return 0;
    snprintf(err, err_len, "GnuTLS read after the handshake: %s",
             r < 0 ? gnutls_strerror((int)r) : "unexpected data");
    return -1;
}

static bool g_resumed(void *conn)
{
    return gnutls_session_is_resumed(((struct gconn *)conn)->s) != 0;
}

static int g_peer_chain_len(void *conn)
{
    unsigned n = 0;

    (void)gnutls_certificate_get_peers(((struct gconn *)conn)->s, &n);
    return (int)n;
}

static void *g_session_get(void *conn)
{
    struct gconn *c = conn;
    gnutls_datum_t *d = calloc(1, sizeof(*d));

    if (d == NULL)
        abort();
    if (gnutls_session_get_data2(c->s, d) < 0) {
        free(d);
        return NULL;
    }
    return d;
}

static void g_session_free(void *sess)
{
    gnutls_datum_t *d = sess;

    if (d == NULL)
        return;
    gnutls_free(d->data);
    free(d);
}

static void g_conn_close(void *conn)
{
    struct gconn *c = conn;

    if (c->ctx->server)
        (void)gnutls_bye(c->s, GNUTLS_SHUT_WR);
    gnutls_deinit(c->s);
    free(c);
}

const struct tl_engine tl_engine_gnutls = {
    .name = "gnutls",
    .version = g_version,
    .ctx_new = g_ctx_new,
    .ctx_free = g_ctx_free,
    .conn_new = g_conn_new,
    .handshake = g_handshake,
    .drain = g_drain,
    .resumed = g_resumed,
    .peer_chain_len = g_peer_chain_len,
    .session_get = g_session_get,
    .session_free = g_session_free,
    .conn_close = g_conn_close,
};

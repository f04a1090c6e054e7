/*
 * worker.c: one thread, one epoll loop, a fixed set of connection slots.
 *
 * Sockets are registered edge-triggered for input and output once, and a
 * connection is driven until OpenSSL or the kernel says "would block": an
 * edge can then never be lost, and no epoll_ctl is spent per request. Every
 * connection has a deadline; a scan every LG_TICK_NS expires them, so a
 * silent server costs a timeout, never a hang. The loop ends at the run's
 * end time (warm-up + duration, both bounded) or on a signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "core/bufpool.h"
#include "core/common.h"
#include "tls/cert_reuse.h"
#include "tls/fetch_cache.h"
#include "tls/gather.h"
#include "loadgen.h"
#include "tls/provider.h"

enum cstate {
    CS_UNUSED,      /* idle mode: not opened yet */
    CS_START,       /* open a new connection now */
    CS_BACKOFF,     /* after a failure, wait until the deadline, then CS_START */
    CS_CONNECTING,
    CS_HANDSHAKE,
    CS_WRITE,
    CS_READ,
    CS_HELD,        /* idle mode: request answered, connection kept open */
    CS_DONE,        /* idle mode: failed or closed, never reopened */
};

struct conn {
    struct wctx *w;
    int fd;
    SSL *ssl;
    struct cg_tls_gather gather;  /* ssl's socket BIO (src/tls/gather.h) */
    SSL_SESSION *sess;           /* resume mode: the newest session received */
    enum cstate st;
    uint64_t t_start;            /* latency origin */
    uint64_t deadline;           /* 0: none */
    size_t wr_off;
    size_t head_len;             /* bytes in head[] */
    bool head_done;
    uint64_t body_left;
    struct lg_http_resp resp;
    char head[LG_HDR_MAX];
};

struct wctx {
    struct lg_worker *lw;
    struct lg_shared *sh;
    const struct lg_opts *o;
    struct lg_stats *st;
    SSL_CTX *ctx;
    int ep;
    struct conn *conns;
    unsigned n;
    unsigned char *verified_leaf;   /* DER of a server certificate whose chain verified */
    int verified_leaf_len;
    X509 *verified_cert;            /* ... and the X509 it was (a reference) */
    struct cg_bufpool gather_pool; /* the connections' gathering buffers */
    unsigned idle_next, idle_in_flight;
    bool idle_refill;            /* a set-up ended: start the next ones */
    bool settled;
    char req[LG_MAX_PATH + LG_MAX_NAME + 128];
    size_t req_len;
    char scratch[16384];
};

_Atomic int lg_signalled;

uint64_t lg_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The second of the two loopback checks (main.c makes the first): whatever
 * happens to the options, no connection leaves this machine. */
static bool target_is_loopback(const struct sockaddr_in *a)
{
    return a->sin_family == AF_INET && a->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

static bool running(const struct wctx *w, uint64_t now)
{
    return now < w->sh->t_end && atomic_load(&w->sh->t_stopped) == 0 &&
           atomic_load(&lg_signalled) == 0;
}

static bool in_window(const struct wctx *w, uint64_t now)
{
    uint64_t stopped = atomic_load(&w->sh->t_stopped);

    return now >= w->sh->t_measure && now < w->sh->t_end && (stopped == 0 || now <= stopped);
}

static void note_error(struct wctx *w, enum lg_error_kind k, const char *what, const char *detail)
{
    w->st->errors[k]++;
    if (w->st->error_sample[k][0] == '\0')
        snprintf(w->st->error_sample[k], sizeof(w->st->error_sample[k]), "%s%s%s", what,
                 detail != NULL ? ": " : "", detail != NULL ? detail : "");
}

/* The reason OpenSSL queued for the last failure, or errno's. */
static const char *tls_reason(struct wctx *w, SSL *ssl, int ret, int ssl_err)
{
    unsigned long e = ERR_peek_last_error();
    long vr;

    if (ssl != NULL && (vr = SSL_get_verify_result(ssl)) != X509_V_OK)
        return X509_verify_cert_error_string(vr);
    if (e != 0) {
        ERR_error_string_n(e, w->scratch, 160);
        return w->scratch;
    }
    if (ssl_err == SSL_ERROR_SYSCALL)
        return ret == 0 || errno == 0 ? "connection closed by the server" : strerror(errno);
    if (ssl_err == SSL_ERROR_ZERO_RETURN)
        return "close_notify from the server";
    return "unknown";
}

static void conn_close(struct conn *c)
{
    if (c->ssl != NULL) {
        /* The close_notify (or an alert) was only gathered: one try, and
         * with the FIN that close() sends in the same segment. */
        cg_tls_gather_closing(SSL_get_rbio(c->ssl));
        (void)cg_tls_gather_flush(SSL_get_rbio(c->ssl));
        SSL_set_app_data(c->ssl, NULL);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);   /* also leaves the epoll set: the fd is never dup'ed */
        c->fd = -1;
    }
}

/* A connection left the set-up phase of idle mode (held or failed). The
 * next set-ups start from the loop, not from here: starting them here would
 * recurse once per connection that fails at once (a refused connect). */
static void idle_settle_one(struct wctx *w)
{
    w->idle_in_flight--;
    w->idle_refill = true;
}

static void conn_fail(struct wctx *w, struct conn *c, enum lg_error_kind k, const char *what,
                      const char *detail)
{
    enum cstate was = c->st;

    note_error(w, k, what, detail);
    conn_close(c);
    if (w->o->mode == LG_MODE_IDLE) {
        c->st = CS_DONE;
        if (was == CS_HELD) {
            atomic_fetch_sub(&w->sh->held, 1);
            w->st->idle_held--;
        } else {
            idle_settle_one(w);
        }
        return;
    }
    /* A refused or reset connection would otherwise be retried in a tight
     * loop; a short pause keeps the error count meaningful. */
    c->st = CS_BACKOFF;
    c->deadline = lg_now_ns() + LG_BACKOFF_NS;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct conn *c = SSL_get_app_data(ssl);

    if (c == NULL)
        return 0;
    /* TLS 1.3 servers may send several tickets; the newest is kept, since
     * a server may accept each ticket once only. */
    SSL_SESSION_free(c->sess);
    c->sess = sess;
    return 1;   /* the reference is ours now */
}

/* Opens the socket and starts connect(2). */
static void conn_open(struct wctx *w, struct conn *c)
{
    const struct sockaddr_in *a = &w->o->addr;
    struct epoll_event ev;
    uint64_t now = lg_now_ns();
    int one = 1, zero = 0;

    c->t_start = now;
    c->deadline = now + (uint64_t)(w->o->timeout_s * 1e9);
    c->head_len = 0;
    c->head_done = false;
    c->wr_off = 0;
    if (!target_is_loopback(a)) {
        note_error(w, LG_E_CONNECT, "refusing a target other than 127.0.0.1", NULL);
        atomic_store(&lg_signalled, 1);
        c->st = CS_DONE;
        return;
    }
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->st = CS_CONNECTING;
        conn_fail(w, c, LG_E_CONNECT, "socket", strerror(errno));
        return;
    }
    /* Requests are single small writes; Nagle would only add delay. */
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* --acks delayed: with quick ACKs off before connect(2), Linux sends the
     * handshake's last ACK with the ClientHello and acknowledges the
     * server's flight with ours, instead of two bare ACKs: a client's own
     * cost, which must stay below the server's (bench/README.md). */
    if (!w->o->quick_acks)
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero));
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = c;
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        c->st = CS_CONNECTING;
        conn_fail(w, c, LG_E_CONNECT, "epoll_ctl", strerror(errno));
        return;
    }
    c->st = CS_CONNECTING;
    if (connect(c->fd, (const struct sockaddr *)a, sizeof(*a)) == 0) {
        c->st = CS_HANDSHAKE;
    } else if (errno != EINPROGRESS) {
        conn_fail(w, c, LG_E_CONNECT, "connect", strerror(errno));
    }
}

static int ssl_setup(struct wctx *w, struct conn *c)
{
    BIO *bio;

    c->ssl = SSL_new(w->ctx);
    if (c->ssl == NULL)
        return -1;
    /* The server's own gathering BIO (src/tls/gather.h): the Finished flight
     * and the request leave in one send, the close_notify with nothing
     * waiting behind it. No skipped reads: this loop is edge-triggered. */
    bio = cg_tls_gather_new(&c->gather, c->fd, 0, &w->gather_pool);
    if (bio == NULL)
        return -1;
    SSL_set_bio(c->ssl, bio, bio);
    SSL_set_app_data(c->ssl, c);
    SSL_set_connect_state(c->ssl);
    if (w->o->sni != NULL && SSL_set_tlsext_host_name(c->ssl, w->o->sni) != 1)
        return -1;
    if (w->o->mode == LG_MODE_RESUME && c->sess != NULL) {
        if (SSL_SESSION_is_resumable(c->sess))
            (void)SSL_set_session(c->ssl, c->sess);
    }
    return 0;
}

static void record_first_handshake(struct wctx *w, SSL *ssl)
{
    struct lg_shared *sh = w->sh;

    pthread_mutex_lock(&sh->first_lock);
    if (sh->tls_version[0] == '\0') {
        snprintf(sh->tls_version, sizeof(sh->tls_version), "%s", SSL_get_version(ssl));
        snprintf(sh->cipher, sizeof(sh->cipher), "%s", SSL_get_cipher_name(ssl));
    }
    pthread_mutex_unlock(&sh->first_lock);
}

/* The response is complete; count it and decide what the slot does next. */
static void request_done(struct wctx *w, struct conn *c)
{
    uint64_t now = lg_now_ns();
    const struct lg_opts *o = w->o;

    if (in_window(w, now)) {
        bool count = true;
        if (o->max_requests > 0) {
            uint64_t n = atomic_fetch_add(&w->sh->measured, 1) + 1;
            uint64_t zero = 0;
            count = n <= o->max_requests;
            if (n == o->max_requests)
                atomic_compare_exchange_strong(&w->sh->t_stopped, &zero, now);
        }
        if (count) {
            w->st->requests++;
            w->st->status[c->resp.status]++;
            w->st->body_bytes += c->resp.content_length;
            lg_hist_add(&w->st->latency, (now - c->t_start) / 1000);
        }
    }
    if (SSL_pending(c->ssl) > 0) {
        conn_fail(w, c, LG_E_PARSE, "bytes after the response", NULL);
        return;
    }
    c->head_len = 0;
    c->head_done = false;
    c->wr_off = 0;
    switch (o->mode) {
    case LG_MODE_IDLE:
        if (!c->resp.keep_alive) {
            conn_fail(w, c, LG_E_READ, "the server will close the connection", NULL);
            return;
        }
        c->st = CS_HELD;
        c->deadline = 0;
        atomic_fetch_add(&w->sh->held, 1);
        w->st->idle_held++;
        idle_settle_one(w);
        return;
    case LG_MODE_KEEPALIVE:
        if (c->resp.keep_alive) {
            c->st = CS_WRITE;
            c->t_start = now;
            c->deadline = now + (uint64_t)(o->timeout_s * 1e9);
            return;
        }
        break;
    case LG_MODE_NEW:
    case LG_MODE_RESUME:
        /* Our close_notify, once, without waiting for the server's: a
         * client that got its answer does not linger, and a session that
         * ended with close_notify stays resumable. */
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl);
        break;
    }
    conn_close(c);
    c->st = CS_START;
}

/* Reads the response; returns when it is complete, on error, or on EAGAIN. */
static void conn_read(struct wctx *w, struct conn *c)
{
    for (unsigned guard = 0; guard < 1u << 20 && c->st == CS_READ; guard++) {
        char *dst;
        size_t cap;
        int n, e;

        if (!c->head_done) {
            dst = c->head + c->head_len;
            cap = sizeof(c->head) - c->head_len;
            if (cap == 0) {
                conn_fail(w, c, LG_E_PARSE, "response head above 4 KiB", NULL);
                return;
            }
        } else {
            dst = w->scratch;
            cap = c->body_left < sizeof(w->scratch) ? (size_t)c->body_left : sizeof(w->scratch);
        }
        ERR_clear_error();
        n = SSL_read(c->ssl, dst, (int)cap);
        if (n <= 0) {
            e = SSL_get_error(c->ssl, n);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                return;
            conn_fail(w, c, LG_E_READ,
                      c->head_len == 0 ? "no response" : "truncated response",
                      tls_reason(w, c->ssl, n, e));
            return;
        }
        if (!c->head_done) {
            const char *why = NULL;
            int r;

            c->head_len += (size_t)n;
            r = lg_http_parse(c->head, c->head_len, &c->resp, &why);
            if (r < 0) {
                conn_fail(w, c, LG_E_PARSE, "response", why);
                return;
            }
            if (r == 0)
                continue;
            c->head_done = true;
            if (c->head_len - c->resp.head_len > c->resp.content_length) {
                conn_fail(w, c, LG_E_PARSE, "bytes after the response", NULL);
                return;
            }
            c->body_left = c->resp.content_length - (c->head_len - c->resp.head_len);
        } else {
            c->body_left -= (uint64_t)n;
        }
        if (c->body_left == 0)
            request_done(w, c);
    }
}

/* A held idle connection became readable: the server closed it, or sent
 * something it should not have. TLS 1.3 post-handshake messages are read
 * and are not an error. */
static void conn_held_event(struct wctx *w, struct conn *c)
{
    int n, e;

    ERR_clear_error();
    n = SSL_read(c->ssl, w->scratch, sizeof(w->scratch));
    if (n > 0) {
        conn_fail(w, c, LG_E_PARSE, "data on a held connection", NULL);
        return;
    }
    e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
    conn_fail(w, c, LG_E_READ, "the server closed a held connection",
              tls_reason(w, c->ssl, n, e));
}

/*
 * Runs the state machine of one connection until it has to wait. Each
 * waiting state returns on EAGAIN, so the number of steps per call is small;
 * LG_DRIVE_STEPS only guards against a logic error.
 */
static void conn_drive(struct wctx *w, struct conn *c, uint32_t events)
{
    for (unsigned step = 0; step < LG_DRIVE_STEPS; step++) {
        enum cstate before = c->st;
        int r, e, err = 0;
        bool reuse_was;
        socklen_t len = sizeof(err);

        switch (c->st) {
        case CS_UNUSED:
        case CS_BACKOFF:
        case CS_DONE:
            return;
        case CS_START:
            if (!running(w, lg_now_ns())) {
                c->st = CS_DONE;
                if (w->o->mode == LG_MODE_IDLE)
                    idle_settle_one(w);
                return;
            }
            conn_open(w, c);
            if (c->st == CS_CONNECTING)
                return;   /* in progress: EPOLLOUT tells */
            break;
        case CS_CONNECTING:
            if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                return;
            if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
            if (err != 0) {
                conn_fail(w, c, LG_E_CONNECT, "connect", strerror(err));
                return;
            }
            c->st = CS_HANDSHAKE;
            break;
        case CS_HANDSHAKE:
            if (c->ssl == NULL && ssl_setup(w, c) != 0) {
                conn_fail(w, c, LG_E_HANDSHAKE, "SSL_new", tls_reason(w, NULL, 0, 0));
                return;
            }
            ERR_clear_error();
            reuse_was = cg_cert_reuse_arm(true);
            r = SSL_do_handshake(c->ssl);
            cg_cert_reuse_arm(reuse_was);
            if (r != 1) {
                e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    return;
                conn_fail(w, c, LG_E_HANDSHAKE, "handshake", tls_reason(w, c->ssl, r, e));
                return;
            }
            if (w->sh->tls_version[0] == '\0')
                record_first_handshake(w, c->ssl);
            if (in_window(w, lg_now_ns())) {
                if (SSL_session_reused(c->ssl))
                    w->st->handshakes_resumed++;
                else
                    w->st->handshakes_full++;
            }
            c->st = CS_WRITE;
            if (w->o->mode == LG_MODE_KEEPALIVE)
                c->t_start = lg_now_ns();   /* keep-alive latency: from the write */
            break;
        case CS_WRITE:
            ERR_clear_error();
            r = SSL_write(c->ssl, w->req, (int)w->req_len);
            if (r <= 0) {
                e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
                    return;   /* retried with the same buffer and length */
                conn_fail(w, c, LG_E_WRITE, "request", tls_reason(w, c->ssl, r, e));
                return;
            }
            c->st = CS_READ;
            break;
        case CS_READ:
            conn_read(w, c);
            if (c->st == CS_READ)
                return;
            break;
        case CS_HELD:
            if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))
                conn_held_event(w, c);
            return;
        }
        if (c->st == before)
            return;
        /* A new connection after a finished one: no readiness event has
         * been seen for it yet. */
        events = 0;
    }
}

/* Idle mode: keeps up to in_flight_max set-ups going. */
static void idle_fill(struct wctx *w)
{
    w->idle_refill = false;
    while (w->idle_next < w->n && w->idle_in_flight < w->lw->in_flight_max &&
           running(w, lg_now_ns())) {
        struct conn *c = &w->conns[w->idle_next++];
        w->idle_in_flight++;
        c->st = CS_START;
        conn_drive(w, c, 0);
    }
    if (!w->settled && w->idle_in_flight == 0 &&
        (w->idle_next == w->n || !running(w, lg_now_ns()))) {
        w->settled = true;
        /* The last worker to settle tells the caller, once. */
        if (atomic_fetch_add(&w->sh->settled, 1) + 1 == w->sh->o->threads &&
            atomic_exchange(&w->sh->ready_printed, 1) == 0) {
            printf("idle-ready %llu\n", (unsigned long long)atomic_load(&w->sh->held));
            fflush(stdout);
        }
    }
}

/* Expires deadlines and ends back-offs. */
static void scan(struct wctx *w, uint64_t now)
{
    for (unsigned i = 0; i < w->n; i++) {
        struct conn *c = &w->conns[i];

        if (c->deadline == 0 || now < c->deadline)
            continue;
        if (c->st == CS_BACKOFF) {
            c->deadline = 0;
            c->st = CS_START;
            conn_drive(w, c, 0);
        } else if (c->st >= CS_CONNECTING && c->st <= CS_READ) {
            conn_fail(w, c, LG_E_TIMEOUT,
                      c->st == CS_CONNECTING  ? "connect"
                      : c->st == CS_HANDSHAKE ? "handshake"
                                              : "response",
                      NULL);
        }
    }
}

/*
 * The server's chain is verified in full (X509_verify_cert: path, validity,
 * host name) the first time; afterwards a handshake that presents the very
 * same leaf certificate (the same DER: a certificate decoded from the wire
 * hands out its received encoding, so no hashing or extension parsing as
 * X509_cmp does) is accepted without verifying the chain again, as a
 * client with a verification cache would. With decoded certificates kept
 * (cert_reuse.h) the very same leaf is the very same X509, which this
 * thread holds a reference to: then not even the DER is compared. The chain costs a client about
 * what it costs the server, and with a single core for the load the client
 * must stay cheaper than the server it measures. The server's
 * CertificateVerify is still checked on every handshake, so each one still
 * proves the server holds the key.
 */
static int server_chain_cb(X509_STORE_CTX *x, void *arg)
{
    struct wctx *w = arg;
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    unsigned char *der = NULL;
    int len;

    if (leaf != NULL && leaf == w->verified_cert)
        return 1;
    len = leaf != NULL ? i2d_X509(leaf, &der) : -1;
    if (len > 0 && len == w->verified_leaf_len && memcmp(der, w->verified_leaf, (size_t)len) == 0) {
        OPENSSL_free(der);
        return 1;
    }
    if (X509_verify_cert(x) != 1) {
        OPENSSL_free(der);
        return 0;
    }
    if (len > 0) {
        OPENSSL_free(w->verified_leaf);
        w->verified_leaf = der;
        w->verified_leaf_len = len;
        X509_free(w->verified_cert);
        w->verified_cert = X509_up_ref(leaf) == 1 ? leaf : NULL;
    } else {
        OPENSSL_free(der);
    }
    return 1;
}

static SSL_CTX *client_ctx(struct wctx *w, char *err, size_t err_len)
{
    const struct lg_opts *o = w->o;
    /* --key-schedule, --key-exchange: what of certgate's provider the
     * context prefers (provider.h), or NULL. */
    SSL_CTX *ctx = SSL_CTX_new_ex(NULL, cg_provider_propq(), TLS_client_method());
    X509_VERIFY_PARAM *vp;
    static const unsigned char alpn[] = "\x08http/1.1";
    unsigned long e;

    if (ctx == NULL)
        goto fail;
    if (SSL_CTX_set_min_proto_version(ctx, o->tls_version ? o->tls_version : TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, o->tls_version ? o->tls_version : TLS1_3_VERSION) != 1)
        goto fail;
    if (o->cert != NULL) {
        if (SSL_CTX_use_certificate_chain_file(ctx, o->cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1)
            goto fail;
    }
    if (SSL_CTX_load_verify_locations(ctx, o->ca, NULL) != 1)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* Read what the socket holds, not a record header then its body: two
     * read(2) per record otherwise, and a response comes as several. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_cert_verify_callback(ctx, server_chain_cb, w);
    vp = SSL_CTX_get0_param(ctx);
    if (o->sni != NULL ? X509_VERIFY_PARAM_set1_host(vp, o->sni, 0) != 1
                       : X509_VERIFY_PARAM_set1_ip_asc(vp, "127.0.0.1") != 1)
        goto fail;
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1) != 0)
        goto fail;
    /* Idle connections should cost the client little too. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (o->mode == LG_MODE_RESUME) {
        /* Sessions live in each slot, not in OpenSSL's client cache. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
    } else {
        /* A new client each time, as a browser that never came before: it
         * offers the ticket extension like any client (so a server pays for
         * the tickets it mints), but never resumes. */
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    }
    return ctx;
fail:
    e = ERR_peek_last_error();
    snprintf(err, err_len, "TLS client setup: %s",
             e != 0 ? ERR_reason_error_string(e) : "out of memory");
    SSL_CTX_free(ctx);
    return NULL;
}

void *lg_worker_run(void *arg)
{
    struct lg_worker *lw = arg;
    struct wctx *w = calloc(1, sizeof(*w));
    struct epoll_event evs[256];
    uint64_t next_scan = 0;

    cg_fetch_cache_thread_arm();
    lw->rc = -1;
    if (w == NULL) {
        snprintf(lw->err, sizeof(lw->err), "out of memory");
        return NULL;
    }
    w->lw = lw;
    w->sh = lw->sh;
    cg_bufpool_init(&w->gather_pool, CG_TLS_GATHER_BYTES, CG_BUFPOOL_MAX);
    w->o = lw->sh->o;
    w->st = &lw->stats;
    w->n = lw->n_conns;
    w->ep = -1;
    w->ctx = client_ctx(w, lw->err, sizeof(lw->err));
    if (w->ctx == NULL)
        goto done;
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    w->conns = calloc(w->n ? w->n : 1, sizeof(*w->conns));
    if (w->ep < 0 || w->conns == NULL) {
        snprintf(lw->err, sizeof(lw->err), "epoll/alloc: %s", strerror(errno));
        goto done;
    }
    w->req_len = (size_t)snprintf(
        w->req, sizeof(w->req), "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: certgate-loadgen\r\n%s\r\n",
        w->o->path, w->o->sni != NULL ? w->o->sni : "127.0.0.1",
        w->o->mode == LG_MODE_NEW || w->o->mode == LG_MODE_RESUME ? "Connection: close\r\n" : "");
    for (unsigned i = 0; i < w->n; i++) {
        w->conns[i].w = w;
        w->conns[i].fd = -1;
        w->conns[i].st = w->o->mode == LG_MODE_IDLE ? CS_UNUSED : CS_START;
    }
    if (w->o->mode == LG_MODE_IDLE) {
        idle_fill(w);
    } else {
        for (unsigned i = 0; i < w->n; i++)
            conn_drive(w, &w->conns[i], 0);
    }

    /* Bounded by time: t_end is at most warm-up + duration ahead, and each
     * wait is at most one tick. */
    for (;;) {
        uint64_t now = lg_now_ns();
        int n;

        if (!running(w, now))
            break;
        n = epoll_wait(w->ep, evs, (int)CG_ARRAY_LEN(evs), (int)(LG_TICK_NS / 1000000));
        if (n < 0 && errno != EINTR) {
            snprintf(lw->err, sizeof(lw->err), "epoll_wait: %s", strerror(errno));
            goto done;
        }
        for (int i = 0; i < n; i++)
            conn_drive(w, evs[i].data.ptr, evs[i].events);
        now = lg_now_ns();
        if (now >= next_scan) {
            scan(w, now);
            next_scan = now + LG_TICK_NS;
        }
        /* Bounded: each pass starts at most in_flight_max set-ups, and only
         * a set-up that failed at once makes another pass necessary. */
        for (unsigned pass = 0; w->idle_refill && pass <= w->n; pass++)
            idle_fill(w);
    }
    lw->rc = 0;
done:
    if (w->conns != NULL) {
        for (unsigned i = 0; i < w->n; i++) {
            conn_close(&w->conns[i]);
            SSL_SESSION_free(w->conns[i].sess);
        }
    }
    free(w->conns);
    if (w->ep >= 0)
        close(w->ep);
    SSL_CTX_free(w->ctx);
    OPENSSL_free(w->verified_leaf);
    X509_free(w->verified_cert);
    cg_bufpool_fini(&w->gather_pool);
    free(w);
    return NULL;
}

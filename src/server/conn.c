/*
 * conn.c: one client connection, from accept to close, on its worker's loop.
 *
 * States:
 *   HANDSHAKE  TLS handshake (handshake_timeout)
 *   IDLE       keep-alive, waiting for the first byte of the next request
 *              (keepalive_timeout)
 *   HEAD       reading a request head (header_timeout, counted from its
 *              first byte and never re-armed, however the head trickles)
 *   BODY       reading and discarding a request body (body_timeout, re-armed
 *              on progress; body_bytes)
 *   SEND       writing a response (send_timeout, re-armed on progress)
 *   LINGER     after an error response: our side is shut down, the rest of
 *              what the client sends is read and dropped for a short while,
 *              so that the kernel does not answer it with a reset that
 *              would destroy the response before the client read it
 *   PARK       a request waits for revocation answers being fetched: no
 *              read interest, a timer at the site's revocation timeout; the
 *              fetcher's callback or the timer resumes it (see "revocation")
 *
 * One driver (conn_drive) runs the state functions in a loop: each one moves
 * to another state (CG_OK), waits for readiness (CG_AGAIN, with c->want
 * set) or fails (CG_ERR: the connection is closed). Pipelined requests are
 * parsed from what is already in the buffer before reading again, and the
 * driver never recurses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert/revocation.h"
#include "cert/store.h"
#include "core/bufpool.h"
#include "core/common.h"
#include "core/log.h"
#include "http/errors.h"
#include "http/parser.h"
#include "http/uri.h"
#include "server/admin.h"
#include "server/certinfo_page.h"
#include "server/internal.h"

enum conn_state { ST_HANDSHAKE, ST_IDLE, ST_HEAD, ST_BODY, ST_SEND, ST_LINGER, ST_PARK };

static const char *const state_names[] = {"handshake", "keep-alive", "header", "body", "send",
                                          "linger", "revocation"};

/* Extra room in the input buffer past the head limit: body bytes and the
 * start of a pipelined request share it. */
#define CG_CONN_IN_SLACK 16384
/* Lingering after an error response lasts the shorter of send_timeout and
 * header_timeout, and never more than this: long enough for the client to
 * read the answer, short enough that a hostile client cannot hold the slot. */
#define CG_CONN_LINGER_MAX_MS 2000
/* Stack buffer for the first read of a request (see fill()). */
#define CG_CONN_FIRST_READ 2048
/* Bytes of the response head besides a Location value. */
#define CG_CONN_HEAD_MAX 2048

struct cg_conn {
    struct cg_worker *w;
    struct cg_conn *prev, *next;
    struct cg_io io;
    struct cg_timer timer;
    struct cg_gen *gen;                    /* reference */
    size_t conf_listener;                  /* index in gen->conf->listeners */
    size_t srv_listener;
    enum conn_state state;
    uint32_t want;                         /* EPOLLIN / EPOLLOUT to wait for */
    bool tls;                              /* the listener is TLS */
    bool tls_up;                           /* the handshake completed */
    bool flushing;                         /* waits for EPOLLOUT to send what the TLS
                                              layer gathered, before its state runs */
    bool tls_closed;                       /* our close_notify is written */
    bool close_after;                      /* close once the current response is sent */
    bool draining;
    bool admin;                            /* on the admin listener: GET /metrics only */
    SSL *ssl;
    struct cg_tls_peer peer;
    struct cg_tls_gather gather;           /* ssl's socket BIO (tls/gather.h) */
    struct sockaddr_storage client;
    socklen_t client_len;
    unsigned requests;

    /* input: head + body window, allocated while a request is in progress */
    char *in;                              /* in_cap bytes, then the header array */
    size_t in_len, in_cap;
    bool in_pooled, out_pooled;            /* from the worker's pools (else malloc) */
    size_t scanned;                        /* cg_http_head_complete resume point */
    struct cg_http_header *hdrs;
    struct cg_http_request req;
    bool have_req;                         /* req holds a parsed head */
    size_t head_len;
    uint64_t body_left, body_total;
    bool chunked;
    struct cg_chunked_decoder chunk;

    /* output */
    char *out;
    size_t out_len, out_off, out_cap;
    int file_fd;
    uint64_t file_off, file_left;
    bool continue_sent;                    /* out holds a 100 Continue; then read the body */

    /* the request in progress, for the access log */
    struct timespec t_start;
    uint64_t t_start_ms;
    int status, substatus;
    const char *reason;
    uint64_t bytes_sent, bytes_received;
    bool logged;
    char code_buf[8];                      /* see respond_status() */
    const struct cg_verdict *req_verdict;  /* consulted by this request (accept / require) */
    size_t metric_site;                    /* the request's site slot (admin.h) */
    int cause;                             /* error row of an error response (errors.h); -1 */
    /* Fatal alerts of the handshake, for the failure's kind: desc + 1, 0 none. */
    unsigned alert_sent, alert_recv;

    /* The client certificate, judged once per connection (conn_verdict()),
     * released with it. Never taken from anything but the TLS layer. Either
     * a reference from the server's verification cache (shared, immutable),
     * or the connection's own verdict when it was judged after a wait for
     * revocation answers (the notes about the wait are written into it). */
    struct cg_verdict_ref *vref;
    struct cg_verdict verdict;
    bool judged;

    /* Parked for revocation answers (ST_PARK): the token the fetcher's
     * callback posts back (0: not parked), the list of the worker's parked
     * connections, and what the wait was, for the logs. */
    uint64_t park_token;
    struct cg_conn *park_prev, *park_next;
    uint64_t park_start_ms;
    unsigned park_timeout_ms;
    bool rev_fetched;                      /* prefetched: judge with what came in */
    bool req_rev_allowed;                  /* this request is served only by on_unknown:
                                              allow (its x-reason says so) */
    bool rev_chain_dp;                     /* mode crl: an intermediate of the path names
                                              an http:// distribution point */
    bool rev_parked;                       /* the request waited for the fetches */
    bool rev_timed_out;
    uint64_t rev_wait_ms;
    char *rev_fetched_text;                /* what the fetches did (prefetch_ex) */
};

/* ---- small helpers ------------------------------------------------------- */

static const struct cg_limits *limits_of(const struct cg_conn *c) { return &c->gen->conf->limits; }

static void addr_text(const struct sockaddr_storage *ss, char *ip, size_t cap, unsigned *port)
{
    ip[0] = '\0';
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, (socklen_t)cap);
        *port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, (socklen_t)cap);
        *port = ntohs(s->sin6_port);
    }
}

/* "ip:port" of the client, for log lines. */
static const char *client_name(const struct cg_conn *c, char *buf, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    unsigned port;

    addr_text(&c->client, ip, sizeof(ip), &port);
    snprintf(buf, cap, c->client.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
    return buf;
}

static void conn_log(const struct cg_conn *c, int level, const char *fmt, ...) CG_PRINTF(3, 4);
static void conn_log(const struct cg_conn *c, int level, const char *fmt, ...)
{
    char who[80], msg[1024];
    va_list ap;

    if (!cg_log_enabled(level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cg_log(level, "client %s on %s: %s", client_name(c, who, sizeof(who)),
           c->w->srv->listeners[c->srv_listener].name, msg);
}

static void arm(struct cg_conn *c, unsigned ms)
{
    if (cg_timer_arm(c->w->loop, &c->timer, ms) != CG_OK)
        cg_log(CG_LOG_ERROR, "timer: out of memory");
}

static ssize_t conn_read(struct cg_conn *c, void *buf, size_t len)
{
    ssize_t n;
    int want = 0;

    if (c->tls_up) {
        n = cg_tls_read(c->ssl, buf, len, &want);
        if (n == CG_AGAIN)
            c->want = want == CG_TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN;
        return n;
    }
    n = recv(c->io.fd, buf, len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            c->want = EPOLLIN;
            return CG_AGAIN;
        }
        return CG_ERR;
    }
    return n;
}

static ssize_t conn_write(struct cg_conn *c, const void *buf, size_t len, bool more)
{
    ssize_t n;
    int want = 0;

    if (c->tls_up) {
        n = cg_tls_write(c->ssl, buf, len, &want);
        if (n == CG_AGAIN)
            c->want = want == CG_TLS_WANT_READ ? EPOLLIN : EPOLLOUT;
        return n;
    }
    n = send(c->io.fd, buf, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            c->want = EPOLLOUT;
            return CG_AGAIN;
        }
        return CG_ERR;
    }
    return n;
}

/* ---- access log ---------------------------------------------------------- */

static struct cg_access_str hdr_str(const struct cg_conn *c, const char *name)
{
    const struct cg_http_header *h = c->have_req ? cg_http_find_header(&c->req, name) : NULL;
    struct cg_access_str s = {NULL, 0};

    if (h != NULL) {
        s.p = h->value.p;
        s.len = h->value.len;
    }
    return s;
}

/* The (first) commonName of `cert` as UTF-8 into out; false when none fits. */
static bool common_name(X509 *cert, char *out, size_t cap)
{
    const X509_NAME *name = cert != NULL ? X509_get_subject_name(cert) : NULL;
    int i = name != NULL ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
    unsigned char *utf8 = NULL;
    int n;

    if (i < 0)
        return false;
    n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
    if (n <= 0 || (size_t)n >= cap || memchr(utf8, '\0', (size_t)n) != NULL) {
        OPENSSL_free(utf8);
        return false;
    }
    memcpy(out, utf8, (size_t)n);
    out[n] = '\0';
    OPENSSL_free(utf8);
    return true;
}

/* The request's line in the metrics: by site and status class, and for a
 * refusal (403.x, 421) by its cause, whose slug is the access log's. */
static void count_request(struct cg_conn *c)
{
    size_t base = CG_M_SITES + c->metric_site * CG_M_PER_SITE;
    int cls = c->status / 100;

    if (cls >= 1 && cls <= CG_M_CLASSES)
        cg_worker_count(c->w, base + (size_t)(cls - 1));
    if ((c->status == 403 || c->status == 421) && c->cause >= 0 && c->cause < CG_ERROR_CAUSES)
        cg_worker_count(c->w, base + CG_M_CLASSES + (size_t)c->cause);
}

static void access_log(struct cg_conn *c)
{
    struct cg_access_entry e;
    struct sockaddr_storage local;
    socklen_t local_len = sizeof(local);
    const struct cg_listener *l = &c->w->srv->listeners[c->srv_listener];
    char s_ip[INET6_ADDRSTRLEN], c_ip[INET6_ADDRSTRLEN];
    char cn[256];
    unsigned s_port, c_port;

    if (c->logged || c->status == 0)
        return;
    c->logged = true;
    if (c->admin)
        return;   /* scrapes stay out of the access log and the request counters */
    count_request(c);
    if (!c->w->alog_ok)
        return;
    memset(&e, 0, sizeof(e));
    if (l->wildcard && getsockname(c->io.fd, (struct sockaddr *)&local, &local_len) == 0)
        addr_text(&local, s_ip, sizeof(s_ip), &s_port);
    else
        addr_text(&l->addr, s_ip, sizeof(s_ip), &s_port);
    addr_text(&c->client, c_ip, sizeof(c_ip), &c_port);
    e.time = c->t_start;
    e.s_ip = cg_access_str(s_ip);
    e.s_port = s_port;
    e.c_ip = cg_access_str(c_ip);
    e.c_port = c_port;
    if (c->have_req) {
        e.method.p = c->req.method.p;
        e.method.len = c->req.method.len;
        e.uri_stem.p = c->req.path.p;
        e.uri_stem.len = c->req.path.len;
        e.uri_query.p = c->req.query.p;
        e.uri_query.len = c->req.query.len;
        e.protocol = cg_access_str(c->req.minor_version == 0 ? "HTTP/1.0" : "HTTP/1.1");
        e.host.p = c->req.host.p;
        e.host.len = c->req.host.len;
    }
    e.user_agent = hdr_str(c, "User-Agent");
    e.referer = hdr_str(c, "Referer");
    e.status = c->status;
    e.substatus = c->substatus;
    e.reason = cg_access_str(c->reason);
    e.bytes_sent = c->bytes_sent;
    e.bytes_received = c->bytes_received;
    e.time_taken_ms = cg_loop_now_ms(c->w->loop) - c->t_start_ms;
    if (c->tls_up)
        e.tls_version = cg_access_str(cg_tls_version(c->ssl));
    /* The certificate as the verdict engine saw it, only where the location
     * consulted it; cs-username only when it was accepted. */
    if (c->req_verdict != NULL && c->req_verdict->path_len > 0 &&
        c->req_verdict->path[0].source == CG_SOURCE_CLIENT) {
        const struct cg_path_element *leaf = &c->req_verdict->path[0];
        e.cert_subject = cg_access_str(leaf->subject);
        e.cert_sha256 = cg_access_str(leaf->sha256);
        if (c->req_verdict->reason == CG_REASON_OK && common_name(leaf->cert, cn, sizeof(cn)))
            e.username = cg_access_str(cn);
    }
    cg_access_log_append(&c->w->alog, &e);
}

/* ---- lifetime ------------------------------------------------------------ */

/* Size of the input allocation: the buffer, then the parsed header array. */
static size_t in_alloc_size(const struct cg_limits *lim)
{
    size_t cap = lim->header_bytes + CG_CONN_IN_SLACK;

    cap = (cap + 15) & ~(size_t)15;
    return cap + (lim->headers ? lim->headers : 1) * sizeof(struct cg_http_header);
}

size_t cg_conn_in_size(const struct cg_limits *lim) { return in_alloc_size(lim); }

size_t cg_conn_out_size(void) { return CG_CONN_HEAD_MAX + CG_SERVER_FILE_CHUNK; }

static int in_acquire(struct cg_conn *c)
{
    const struct cg_limits *lim = limits_of(c);
    size_t size = in_alloc_size(lim);

    c->in_pooled = size == c->w->in_pool.size;
    c->in = c->in_pooled ? cg_bufpool_get(&c->w->in_pool) : malloc(size);
    if (c->in == NULL)
        return CG_ERR;
    c->in_cap = (lim->header_bytes + CG_CONN_IN_SLACK + 15) & ~(size_t)15;
    c->hdrs = (struct cg_http_header *)(void *)(c->in + c->in_cap);
    return CG_OK;
}

static void in_release(struct cg_conn *c)
{
    /* A reload may have resized the pool since this buffer was taken. */
    if (c->in_pooled && in_alloc_size(limits_of(c)) == c->w->in_pool.size)
        cg_bufpool_put(&c->w->in_pool, c->in);
    else
        free(c->in);
    c->in = NULL;
    c->hdrs = NULL;
    c->in_cap = 0;
    c->in_pooled = false;
}

/* An output buffer of at least `need` bytes; c->out_cap says how many. */
static int out_acquire(struct cg_conn *c, size_t need)
{
    c->out_pooled = need <= c->w->out_pool.size;
    c->out = c->out_pooled ? cg_bufpool_get(&c->w->out_pool) : malloc(need);
    if (c->out == NULL)
        return CG_ERR;
    c->out_cap = c->out_pooled ? c->w->out_pool.size : need;
    return CG_OK;
}

static void out_release(struct cg_conn *c)
{
    if (c->out_pooled)
        cg_bufpool_put(&c->w->out_pool, c->out);
    else
        free(c->out);
    c->out = NULL;
    c->out_pooled = false;
    c->out_cap = 0;
}

static void release_request_buffers(struct cg_conn *c)
{
    out_release(c);
    c->out_len = c->out_off = c->out_cap = 0;
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
    c->file_left = 0;
}

static void park_unlink(struct cg_conn *c);

static void conn_free(struct cg_conn *c)
{
    struct cg_worker *w = c->w;

    park_unlink(c);
    access_log(c);
    cg_timer_disarm(w->loop, &c->timer);
    /* close() below removes the descriptor from epoll (it is never dup'ed):
     * no EPOLL_CTL_DEL needed. */
    if (c->ssl != NULL) {
        if (c->tls_up && !c->tls_closed)
            cg_tls_shutdown(c->ssl);
        /* One try, never waiting: an alert, a close_notify, or the end of a
         * response whose connection timed out. */
        (void)cg_tls_flush(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->io.fd);
    release_request_buffers(c);
    in_release(c);
    cg_verdict_ref_unref(c->vref);
    if (c->judged)
        cg_verdict_free(&c->verdict);
    free(c->rev_fetched_text);
    cg_gen_unref(c->gen);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    w->n_conns--;
    if (!c->admin)
        cg_worker_count(w, CG_M_CONN_CLOSED);
    free(c);
    atomic_fetch_sub_explicit(&w->srv->n_conns, 1, memory_order_relaxed);
    cg_worker_conn_gone(w);
}

static void rev_resume(struct cg_conn *c, bool timed_out);

static void on_timer(struct cg_loop *loop, struct cg_timer *t)
{
    struct cg_conn *c = t->data;
    const char *which[] = {"handshake_timeout", "keepalive_timeout", "header_timeout",
                           "body_timeout", "send_timeout", "linger", "revocation timeout"};

    (void)loop;
    if (c->state == ST_HANDSHAKE)
        cg_worker_count(c->w, CG_M_TLS_FAIL + CG_HS_FAIL_TIMEOUT);
    if (c->state == ST_PARK) {
        /* Not a failure of the connection: the request is answered with
         * what the cache holds by now. */
        rev_resume(c, true);
        return;
    }
    /* An idle keep-alive connection reaching its timeout is routine. */
    conn_log(c, c->state == ST_IDLE || c->state == ST_LINGER ? CG_LOG_DEBUG : CG_LOG_INFO,
             "closed: %s reached in state %s", which[c->state], state_names[c->state]);
    conn_free(c);
}

/* ---- responses ----------------------------------------------------------- */

struct head {
    char *p;
    size_t len, cap;
    bool overflow;
};

static void head_add(struct head *h, const char *fmt, ...) CG_PRINTF(2, 3);
static void head_add(struct head *h, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (h->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(h->p + h->len, h->cap - h->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= h->cap - h->len) {
        h->overflow = true;
        return;
    }
    h->len += (size_t)n;
}

/* Whether this response leaves the connection open. */
static bool keep_alive(struct cg_conn *c)
{
    const struct cg_limits *lim = limits_of(c);

    if (c->close_after || !c->have_req || !c->req.keep_alive || c->draining ||
        c->w->draining || lim->keepalive_timeout_ms == 0)
        return false;
    if (lim->max_requests_per_connection != 0 && c->requests >= lim->max_requests_per_connection)
        return false;
    return true;
}

/*
 * Allocates c->out with room for the head, `extra_head` bytes of extra
 * header values, and `body_room` bytes after the head, and writes the status
 * line and the common headers. The caller adds its headers, then calls
 * head_finish().
 */
static int head_start(struct cg_conn *c, struct head *h, int status, size_t extra_head,
                      size_t body_room)
{
    release_request_buffers(c);
    if (out_acquire(c, CG_CONN_HEAD_MAX + extra_head + body_room) != CG_OK)
        return CG_ERR;
    h->p = c->out;
    h->len = 0;
    h->cap = CG_CONN_HEAD_MAX + extra_head;
    h->overflow = false;
    c->status = status;
    head_add(h, "HTTP/1.1 %d %s\r\nServer: certgate\r\nDate: %s\r\n", status,
             cg_http_status_text(status), cg_worker_date(c->w));
    return CG_OK;
}

static int head_finish(struct cg_conn *c, struct head *h, bool has_length, uint64_t length)
{
    bool keep = keep_alive(c);

    if (has_length)
        head_add(h, "Content-Length: %llu\r\n", (unsigned long long)length);
    if (!keep)
        head_add(h, "Connection: close\r\n");
    else if (c->req.minor_version == 0)
        head_add(h, "Connection: keep-alive\r\n");
    head_add(h, "\r\n");
    if (h->overflow)
        return CG_ERR;
    c->close_after = !keep;
    c->out_len = h->len;
    c->out_off = 0;
    return CG_OK;
}

static bool is_head_method(const struct cg_conn *c)
{
    return c->have_req && c->req.method.len == 4 && memcmp(c->req.method.p, "HEAD", 4) == 0;
}

/* Ends a head whose body was generated in memory (error pages, the
 * certificate-info page), appends the body unless the method is HEAD, and
 * starts sending. head_start() sized the output buffer for both. */
static int send_generated(struct cg_conn *c, struct head *h, const char *body, size_t len)
{
    if (head_finish(c, h, true, len) != CG_OK)
        return CG_ERR;
    if (!is_head_method(c)) {
        memcpy(c->out + c->out_len, body, len);
        c->out_len += len;
    }
    c->state = ST_SEND;
    arm(c, limits_of(c)->send_timeout_ms);
    return CG_OK;
}

/*
 * Prepares an error response from the one renderer (HTML or problem+json by
 * the Accept header) and moves to SEND. close: the connection closes after
 * it (parse errors and anything that leaves the input unsynchronised).
 */
static int respond_error(struct cg_conn *c, const struct cg_error_info *info, bool close_conn,
                         const char *allow, const char *content_range)
{
    char *body = NULL;
    size_t body_len = 0;
    const char *ctype = "text/plain";
    bool want_json = false;
    struct head h;
    int rc = CG_ERR;

    if (c->have_req) {
        const struct cg_http_header *acc = cg_http_find_header(&c->req, "Accept");
        if (acc != NULL)
            want_json = cg_error_want_json(acc->value.p, acc->value.len);
    }
    if (cg_error_render(info, want_json, &body, &body_len, &ctype) != CG_OK)
        goto done;
    if (close_conn)
        c->close_after = true;
    if (head_start(c, &h, info->status, 0, body_len) != CG_OK)
        goto done;
    c->substatus = info->substatus;
    c->reason = info->reason;
    c->cause = info->cause;
    head_add(&h, "Content-Type: %s\r\n", ctype);
    if (allow != NULL)
        head_add(&h, "Allow: %s\r\n", allow);
    if (content_range != NULL && content_range[0] != '\0')
        head_add(&h, "Content-Range: %s\r\n", content_range);
    head_add(&h, "Cache-Control: no-store\r\n");
    rc = send_generated(c, &h, body, body_len);
done:
    free(body);
    return rc;
}

static int respond_http_error(struct cg_conn *c, cg_http_error_t e, const char *detail,
                              bool close_conn)
{
    struct cg_error_info info;

    cg_error_info_http(&info, e);
    info.detail = detail;
    return respond_error(c, &info, close_conn, NULL, NULL);
}

/*
 * For a status decided by the parser. A status without a row of its own in
 * the error table keeps its number and RFC reason phrase on the
 * nearest row, so the client still gets the exact status.
 */
static int respond_status(struct cg_conn *c, int status, bool close_conn)
{
    struct cg_error_info info;

    cg_error_info_http(&info, cg_http_error_from_status(status));
    if (info.status != status && status >= 400 && status <= 599) {
        snprintf(c->code_buf, sizeof(c->code_buf), "%d", status);
        info.status = status;
        info.substatus = 0;
        info.code = c->code_buf;
        info.title = cg_http_status_text(status);
    }
    return respond_error(c, &info, close_conn, NULL, NULL);
}

/* Static files: the answer of static.c turned into a response. */
static int respond_static(struct cg_conn *c, const struct cg_static_root *root, uint64_t site_key,
                          const char *path, size_t path_len)
{
    struct cg_static_request sr;
    struct cg_static_result res;
    const struct cg_http_header *hh;
    struct head h;
    size_t room = 0;
    int rc = CG_ERR;

    memset(&sr, 0, sizeof(sr));
    sr.method = c->req.method;
    sr.path.p = path;
    sr.path.len = path_len;
    sr.query = c->req.query;
#define CG_HDR(field, name)                                                                \
    if ((hh = cg_http_find_header(&c->req, name)) != NULL)                                 \
        sr.field = hh->value;
    CG_HDR(if_none_match, "If-None-Match")
    CG_HDR(if_modified_since, "If-Modified-Since")
    CG_HDR(range, "Range")
    CG_HDR(if_range, "If-Range")
#undef CG_HDR
    if (cg_static_open_cached(root, c->w->files, site_key, &sr, &res) != CG_OK)
        return respond_http_error(c, CG_HTTP_ERR_INTERNAL_ERROR, NULL, true);
    if (res.status >= 400) {
        struct cg_error_info info;
        cg_error_info_http(&info, res.error);
        rc = respond_error(c, &info, false, res.allow, res.content_range);
        cg_static_result_release(&res);
        return rc;
    }
    if (res.body != NULL) {
        /* cached: at most file_cache_max_file (<= one chunk), sent with the head */
        if (res.length > CG_SERVER_FILE_CHUNK)
            goto done;
        room = (size_t)res.length;
    } else if (res.fd >= 0 && c->tls_up) {
        room = res.length < CG_SERVER_FILE_CHUNK ? (size_t)res.length : CG_SERVER_FILE_CHUNK;
    }
    if (head_start(c, &h, res.status, res.location != NULL ? strlen(res.location) : 0, room) !=
        CG_OK)
        goto done;
    c->reason = NULL;
    if (res.content_type != NULL && res.status != 304)
        head_add(&h, "Content-Type: %s\r\n", res.content_type);
    if (res.etag[0] != '\0')
        head_add(&h, "ETag: %s\r\n", res.etag);
    if (res.last_modified[0] != '\0')
        head_add(&h, "Last-Modified: %s\r\n", res.last_modified);
    if (res.accept_ranges)
        head_add(&h, "Accept-Ranges: bytes\r\n");
    if (res.content_range[0] != '\0')
        head_add(&h, "Content-Range: %s\r\n", res.content_range);
    if (res.location != NULL)
        head_add(&h, "Location: %s\r\n", res.location);
    if (head_finish(c, &h, res.status != 304, res.status == 301 ? 0 : res.length) != CG_OK)
        goto done;
    if (res.body != NULL) {
        memcpy(c->out + c->out_len, res.body + res.offset, (size_t)res.length);
        c->out_len += (size_t)res.length;
    } else if (res.fd >= 0 && res.length > 0) {
        c->file_fd = res.fd;
        res.fd = -1;
        c->file_off = res.offset;
        c->file_left = res.length;
    }
    if (room > 0 && c->file_left > 0) {
        /* TLS: the head and the first chunk go out in one SSL_write. */
        ssize_t n = pread(c->file_fd, c->out + c->out_len, room, (off_t)c->file_off);
        if (n <= 0) {
            conn_log(c, CG_LOG_WARN, "file shrank while being sent");
            goto done;
        }
        c->out_len += (size_t)n;
        c->file_off += (uint64_t)n;
        c->file_left -= (uint64_t)n;
    }
    c->state = ST_SEND;
    arm(c, limits_of(c)->send_timeout_ms);
    rc = CG_OK;
done:
    cg_static_result_release(&res);
    return rc;
}

/* ---- client certificates -------------------------------------------------- */

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104: the machine itself. */
static bool client_is_loopback(const struct cg_conn *c)
{
    if (c->client.ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)&c->client;
        return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
    }
    if (c->client.ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&c->client;
        return IN6_IS_ADDR_LOOPBACK(&s->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr) && s->sin6_addr.s6_addr[12] == 127);
    }
    return false;
}

/* Whether this client is shown the certification path and the fix. */
static bool errors_detailed(const struct cg_conn *c)
{
    switch (c->gen->conf->errors) {
    case CG_ERRORS_DETAILED: return true;
    case CG_ERRORS_FRIENDLY: return false;
    default: return client_is_loopback(c);
    }
}

/* The site this TLS connection was set up for (by SNI, or the default). */
static const struct cg_conf_listener_site *tls_site(const struct cg_conn *c)
{
    const struct cg_conf_listener *cl = &c->gen->conf->listeners[c->conf_listener];

    return c->peer.sni_entry < cl->n_sites ? &cl->sites[c->peer.sni_entry] : NULL;
}

/*
 * A request may go to another site of the address than the one the
 * handshake was made for (HTTP lets a client reuse a connection for any
 * name the certificate covers), but only when that site decides client
 * certificates exactly the same way: otherwise a connection set up where
 * certificates are ignored (none asked for, or a bad one let through)
 * would reach a site that requires one.
 */
static bool same_cert_policy(const struct cg_conn *c, const struct cg_conf_site *site)
{
    const struct cg_conf_listener *cl = &c->gen->conf->listeners[c->conf_listener];
    const struct cg_conf_listener_site *from = tls_site(c);
    const struct cg_conf_binding *b = NULL;
    unsigned char d1[32], d2[32];

    if (from == NULL)
        return false;
    if (from->site == site)
        return true;
    for (size_t i = 0; i < cl->n_sites; i++) {
        if (cl->sites[i].site == site)
            b = cl->sites[i].binding;
    }
    cg_tls_site_policy_digest(from->site, from->binding, d1);
    cg_tls_site_policy_digest(site, b, d2);
    return memcmp(d1, d2, sizeof(d1)) == 0;
}

/* ---- revocation (online) -------------------------------------------------- */

/*
 * A request whose client certificate needs revocation answers that the
 * cache does not hold is parked, never waited for on the loop:
 *   1. the verdict is judged with the cache-only hook; each element whose
 *      status comes out unknown gets cg_revocation_prefetch();
 *   2. when a fetch started, the request parks (ST_PARK: no read interest,
 *      the timer at the site's revocation timeout) with a token; the last
 *      prefetch callback, on the fetcher thread, posts the token to the
 *      worker and wakes its loop;
 *   3. the loop (from a timer, see cg_conn_revocation_ready) finds the
 *      parked connection holding that token, or nothing when it was closed
 *      or timed out meanwhile, and judges again from the cache, taking an
 *      answer that is due but could not be refreshed (use_due); the timer
 *      firing first does the same with what is there by then.
 */

struct rev_wait {
    atomic_int pending;          /* prefetches running, + 1 while submitting */
    struct cg_worker *w;         /* outlives the fetcher (freed after it) */
    uint64_t token;
    pthread_mutex_t lock;        /* callbacks of several prefetches may overlap */
    char *fetched;               /* their notes, joined */
};

static void rev_wait_free(struct rev_wait *rw)
{
    pthread_mutex_destroy(&rw->lock);
    free(rw->fetched);
    free(rw);
}

/* Whether x names an http:// CRL distribution point. */
static bool names_http_dp(X509 *x)
{
    return cg_revocation_dp_url(x, NID_crl_distribution_points, "http://", NULL, 0);
}

/*
 * The online check for `site`, cache-only (fetcher NULL), when the site has
 * one. OCSP modes are always online. `crl` is online only when a
 * certificate in scope names an http:// distribution point: the client
 * certificate, or under `scope: chain` an intermediate of the path
 * (c->rev_chain_dp, found by rev_path_names_dp on a first judgement);
 * otherwise OpenSSL's own check against stores/crl/ stays in charge (it
 * also applies max_crl_age and delta CRLs, which the online hook does not).
 */
static bool rev_online(const struct cg_conn *c, const struct cg_conf_site *site, X509 *leaf,
                       struct cg_rev_online *o)
{
    const struct cg_conf_revocation *r = &site->revocation;

    if (leaf == NULL || c->gen->revcache == NULL || r->mode == CG_CONF_REVOCATION_OFF)
        return false;
    if (r->mode == CG_CONF_REVOCATION_CRL && !c->rev_chain_dp && !names_http_dp(leaf))
        return false;
    memset(o, 0, sizeof(*o));
    o->cache = c->gen->revcache;
    o->trust = c->gen->trust;
    o->use_ocsp = r->mode == CG_CONF_REVOCATION_OCSP || r->mode == CG_CONF_REVOCATION_OCSP_CRL;
    o->use_crl = r->mode == CG_CONF_REVOCATION_CRL || r->mode == CG_CONF_REVOCATION_OCSP_CRL;
    o->ocsp_responder = r->ocsp_responder;
    o->stale_grace = r->stale_grace_s;
    o->clock_skew = r->clock_skew_s;
    o->refresh_s = r->refresh_s;
    o->timeout_ms = r->timeout_ms;
    o->cache_epoch = cg_revcache_epoch(c->gen->revcache);
    o->max_crl_bytes = r->max_crl_bytes;
    o->use_due = c->rev_fetched;
    return true;
}

/* Mode crl, scope chain: whether an intermediate of the path `v` built (the
 * root excepted: it is trusted by being in the store) names an http://
 * distribution point, so that its CRL is fetched too. */
static bool rev_path_names_dp(const struct cg_conf_site *site, const struct cg_verdict *v)
{
    if (site->revocation.mode != CG_CONF_REVOCATION_CRL || site->revocation.scope != CG_SCOPE_CHAIN)
        return false;
    for (size_t i = 1; i + 1 < v->path_len; i++) {
        if (v->path[i].cert != NULL && v->path[i + 1].cert != NULL && names_http_dp(v->path[i].cert))
            return true;
    }
    return false;
}

/* Whether waiting for answers may change the verdict: the path is
 * otherwise accepted, and some element's status is unknown. */
static bool rev_needs_answers(const struct cg_verdict *v)
{
    if (v->reason != CG_REASON_OK && v->reason != CG_REASON_REVOCATION_UNKNOWN)
        return false;
    for (size_t i = 0; i + 1 < v->path_len; i++) {
        if (v->path[i].revocation.status == CG_REV_UNKNOWN && v->path[i].cert != NULL &&
            v->path[i + 1].cert != NULL)
            return true;
    }
    return false;
}

/* Runs on the fetcher thread, or on the loop thread before prefetch returns.
 * Takes `fetched`. */
static void rev_post(struct cg_worker *w, uint64_t token, char *fetched)
{
    pthread_mutex_lock(&w->rev_lock);
    if (w->n_rev_ready == w->cap_rev_ready) {
        size_t cap = w->cap_rev_ready ? 2 * w->cap_rev_ready : 16;
        struct cg_rev_ready *p = realloc(w->rev_ready, cap * sizeof(*p));
        if (p != NULL) {
            w->rev_ready = p;
            w->cap_rev_ready = cap;
        }
    }
    /* Out of memory: the request is answered by its timer instead. */
    if (w->n_rev_ready < w->cap_rev_ready) {
        w->rev_ready[w->n_rev_ready].token = token;
        w->rev_ready[w->n_rev_ready++].fetched = fetched;
        fetched = NULL;
    }
    pthread_mutex_unlock(&w->rev_lock);
    free(fetched);
    cg_loop_wake(w->loop);
}

static void rev_done(void *arg, const char *fetched)
{
    struct rev_wait *rw = arg;
    char *text;

    if (fetched != NULL) {
        pthread_mutex_lock(&rw->lock);
        if (rw->fetched == NULL) {
            rw->fetched = strdup(fetched);
        } else if ((text = malloc(strlen(rw->fetched) + strlen(fetched) + 3)) != NULL) {
            sprintf(text, "%s; %s", rw->fetched, fetched);
            free(rw->fetched);
            rw->fetched = text;
        }
        pthread_mutex_unlock(&rw->lock);
    }
    if (atomic_fetch_sub_explicit(&rw->pending, 1, memory_order_acq_rel) != 1)
        return;
    text = rw->fetched;
    rw->fetched = NULL;
    rev_post(rw->w, rw->token, text);
    rev_wait_free(rw);
}

/* Starts the fetches the verdict lacks. CG_AGAIN: some are running, the
 * request parks with c->park_token; CG_OK: none (or all over already). */
static int rev_prefetch(struct cg_conn *c, struct cg_rev_online *o, const struct cg_verdict *v)
{
    struct rev_wait *rw = calloc(1, sizeof(*rw));
    time_t now = time(NULL);
    bool started = false;
    uint64_t token;

    if (rw == NULL)
        return CG_OK;   /* judged from the cache: unknown, said so */
    if (pthread_mutex_init(&rw->lock, NULL) != 0) {
        free(rw);
        return CG_OK;
    }
    atomic_init(&rw->pending, 1);
    rw->w = c->w;
    rw->token = ++c->w->next_park;
    o->fetcher = c->gen->fetcher;
    for (size_t i = 0; i + 1 < v->path_len; i++) {
        const struct cg_path_element *e = &v->path[i];
        char *err = NULL;

        if (e->revocation.status != CG_REV_UNKNOWN || e->cert == NULL || v->path[i + 1].cert == NULL)
            continue;
        atomic_fetch_add_explicit(&rw->pending, 1, memory_order_relaxed);
        if (cg_revocation_prefetch_ex(o, e->cert, v->path[i + 1].cert, now, rev_done, rw, &err) ==
            CG_AGAIN) {
            started = true;
        } else {
            atomic_fetch_sub_explicit(&rw->pending, 1, memory_order_relaxed);
            if (err != NULL)
                conn_log(c, CG_LOG_WARN, "revocation: %s", err);
        }
        free(err);
    }
    o->fetcher = NULL;
    token = rw->token;
    if (atomic_fetch_sub_explicit(&rw->pending, 1, memory_order_acq_rel) == 1) {
        if (!started) {
            rev_wait_free(rw);
            return CG_OK;
        }
        /* Every fetch was over before we got here (a fast responder, a URL
         * in its failure backoff): the request parks all the same and is
         * resumed on its loop's next turn, so what it does and logs never
         * depends on how the threads were scheduled. */
        rev_post(rw->w, token, rw->fetched);
        rw->fetched = NULL;
        rev_wait_free(rw);
    }
    c->park_token = token;
    return CG_AGAIN;
}

static void park_unlink(struct cg_conn *c)
{
    if (c->park_token == 0)
        return;
    if (c->park_prev != NULL)
        c->park_prev->park_next = c->park_next;
    else
        c->w->parked = c->park_next;
    if (c->park_next != NULL)
        c->park_next->park_prev = c->park_prev;
    c->park_prev = c->park_next = NULL;
    c->park_token = 0;
}

static void park(struct cg_conn *c, unsigned timeout_ms)
{
    cg_worker_count(c->w, CG_M_REV_PARKED);
    c->state = ST_PARK;
    c->rev_parked = true;
    c->want = 0;   /* no reading while parked: the driver drops read interest */
    c->park_start_ms = cg_loop_now_ms(c->w->loop);
    c->park_timeout_ms = timeout_ms;
    c->park_prev = NULL;
    c->park_next = c->w->parked;
    if (c->w->parked != NULL)
        c->w->parked->park_prev = c;
    c->w->parked = c;
    arm(c, timeout_ms);
    conn_log(c, CG_LOG_DEBUG, "request parked for revocation answers (timeout %u ms)", timeout_ms);
}

static void conn_drive(struct cg_conn *c);

static void rev_resume(struct cg_conn *c, bool timed_out)
{
    park_unlink(c);
    cg_timer_disarm(c->w->loop, &c->timer);
    c->rev_timed_out = timed_out;
    c->rev_wait_ms = cg_loop_now_ms(c->w->loop) - c->park_start_ms;
    /* One line per request that had to wait: with the background refresh,
     * a request waits only for a certificate (or an issuer's CRL) not seen
     * before, or an answer that could not be refreshed in time. */
    conn_log(c, CG_LOG_INFO, "revocation: request %.*s%s%.*s waited %llu ms for answers (%s)%s%s",
             (int)(c->req.path.len > 200 ? 200 : c->req.path.len), c->req.path.p,
             c->req.query.len > 0 ? "?" : "",
             (int)(c->req.query.len > 200 ? 200 : c->req.query.len), c->req.query.p,
             (unsigned long long)c->rev_wait_ms, timed_out ? "timed out" : "fetches over",
             c->rev_fetched_text != NULL ? "; fetched: " : "",
             c->rev_fetched_text != NULL ? c->rev_fetched_text : "");
    conn_drive(c);
}

void cg_conn_revocation_ready(struct cg_worker *w)
{
    struct cg_rev_ready *ready;
    size_t n;

    pthread_mutex_lock(&w->rev_lock);
    ready = w->rev_ready;
    n = w->n_rev_ready;
    w->rev_ready = NULL;
    w->n_rev_ready = w->cap_rev_ready = 0;
    pthread_mutex_unlock(&w->rev_lock);
    for (size_t i = 0; i < n; i++) {
        /* A token not found: the request timed out or its connection
         * closed meanwhile; the answers stay in the cache for the next. */
        for (struct cg_conn *c = w->parked; c != NULL; c = c->park_next) {
            if (c->park_token == ready[i].token) {
                free(c->rev_fetched_text);
                c->rev_fetched_text = ready[i].fetched;
                ready[i].fetched = NULL;
                rev_resume(c, false);
                break;
            }
        }
        free(ready[i].fetched);
    }
    free(ready);
}

/* Appends `add` to a heap string (kept as it was when out of memory). */
static void text_append(char **s, const char *add)
{
    size_t a = *s != NULL ? strlen(*s) : 0, b = strlen(add);
    char *p = realloc(*s, a + b + 1);

    if (p == NULL)
        return;
    memcpy(p + a, add, b + 1);
    *s = p;
}

/* What the wait was, on each element still unknown, or answered only by a
 * stale answer (what the fetch brought instead): the page, the JSON body
 * and the error log all read it from the verdict. */
static void rev_note_wait(const struct cg_conn *c, struct cg_verdict *v)
{
    char note[160], sentence[168];

    if (!c->rev_parked)
        snprintf(note, sizeof(note), "; fetches over at once (a source that failed recently "
                                     "is asked again after a backoff)");
    else
        snprintf(note, sizeof(note), c->rev_timed_out
                                         ? "; no answer within the revocation timeout (%llu ms "
                                           "waited, timeout %u ms)"
                                         : "; fetches over after %llu ms (timeout %u ms)",
                 (unsigned long long)c->rev_wait_ms, c->park_timeout_ms);
    /* The problem text is sentences: " Fetches over ... ." */
    snprintf(sentence, sizeof(sentence), " %c%s.", note[2] - 'a' + 'A', note + 3);
    for (size_t i = 0; i < v->path_len; i++) {
        struct cg_path_element *e = &v->path[i];
        if ((e->revocation.status != CG_REV_UNKNOWN && !e->revocation.stale) ||
            e->revocation.tried == NULL)
            continue;
        text_append(&e->revocation.tried, note);
        if (c->rev_fetched_text != NULL) {
            text_append(&e->revocation.tried, "; fetched: ");
            text_append(&e->revocation.tried, c->rev_fetched_text);
        }
        for (size_t j = 0; j < e->n_problems; j++) {
            if (e->problems[j].reason != CG_REASON_REVOCATION_UNKNOWN)
                continue;
            text_append(&e->problems[j].text, sentence);
            if (c->rev_fetched_text != NULL) {
                text_append(&e->problems[j].text, " Fetched: ");
                text_append(&e->problems[j].text, c->rev_fetched_text);
                text_append(&e->problems[j].text, ".");
            }
        }
    }
}

/* The revocation statuses the connection's verdict used, per element
 * checked: by the source of the answer (none: no answer could be had). */
static void count_answers(struct cg_conn *c, const struct cg_verdict *v)
{
    for (size_t i = 0; i < v->path_len; i++) {
        const struct cg_revocation_info *r = &v->path[i].revocation;
        if (r->source == CG_REV_SOURCE_NONE && (r->status != CG_REV_UNKNOWN || r->tried == NULL))
            continue;   /* not checked */
        if ((size_t)r->source >= CG_M_REV_SOURCES || (size_t)r->status >= CG_M_REV_STATUSES)
            continue;
        cg_worker_count(c->w, CG_M_REV_ANSWERS + (size_t)r->source * CG_M_REV_STATUSES +
                                  (size_t)r->status);
    }
}

/* `p` judged with the online hook `o`, which answers for the local CRLs
 * too: OpenSSL's own CRL check stays off. */
static void policy_online(struct cg_policy *p, struct cg_rev_online *o)
{
    p->revocation = CG_REVOCATION_OFF;
    p->revocation_hook = cg_revocation_online;
    p->revocation_arg = o;
}

/* Through the verification cache into c->vref. `o` (NULL when offline)
 * lives on the caller's stack, so its bytes (zeroed by rev_online, padding
 * included) key the hook's argument, not its address. */
static int judge_cached(struct cg_conn *c, X509 *leaf, STACK_OF(X509) *chain,
                        const struct cg_policy *p, const struct cg_rev_online *o)
{
    return cg_vcache_judge_ex(c->w->srv->verdicts, leaf, chain, c->gen->trust, time(NULL), p, o,
                              o != NULL ? sizeof(*o) : 0, &c->vref);
}

/*
 * The verdict on the client certificate of this connection, judged the
 * first time a request needs it and kept for the others. The chain comes
 * from the TLS layer only (after a resumption, from the stored session) and
 * is judged against THIS generation's stores and CRLs under the site's
 * policy, so a resumed session is judged again like a full handshake.
 * CG_OK with *out; CG_AGAIN: the request is parked for revocation answers
 * (see above); CG_ERR: out of memory.
 */
static int conn_verdict(struct cg_conn *c, const struct cg_conf_site *site,
                        const struct cg_verdict **out)
{
    X509 *leaf = c->tls_up ? cg_tls_peer_cert(c->ssl) : NULL;
    STACK_OF(X509) *chain = leaf != NULL ? cg_tls_peer_chain(c->ssl) : NULL;
    struct cg_policy policy = site->policy;
    struct cg_rev_online o;
    const struct cg_verdict *v;
    bool online;
    int rc;

    *out = c->vref != NULL ? cg_verdict_ref_get(c->vref) : &c->verdict;
    if (c->vref != NULL || c->judged)
        return CG_OK;
    online = rev_online(c, site, leaf, &o);
    if (online)
        policy_online(&policy, &o);
    if (!c->rev_fetched) {
        /* Through the verification cache: a chain already judged under this
         * policy, these stores and these revocation settings is not verified
         * again while no date its verdict depends on has passed. A verdict with an
         * unknown status is not kept (unknown_ttl 0), so the wait below
         * happens as without the cache. */
        if (judge_cached(c, leaf, chain, &policy, online ? &o : NULL) != CG_OK)
            return CG_ERR;
        v = cg_verdict_ref_get(c->vref);
        if (!online && leaf != NULL && rev_path_names_dp(site, v)) {
            /* An intermediate's CRL is online: judged again with the hook. */
            c->rev_chain_dp = true;
            cg_verdict_ref_unref(c->vref);
            c->vref = NULL;
            online = rev_online(c, site, leaf, &o);
            if (online)
                policy_online(&policy, &o);
            if (judge_cached(c, leaf, chain, &policy, online ? &o : NULL) != CG_OK)
                return CG_ERR;
            v = cg_verdict_ref_get(c->vref);
        }
        if (!online || !rev_needs_answers(v)) {
            *out = v;
            goto judged;
        }
        rc = rev_prefetch(c, &o, v);
        /* Judged again below once the answers are in: this one is stale. */
        cg_verdict_ref_unref(c->vref);
        c->vref = NULL;
        c->rev_fetched = true;
        if (rc == CG_AGAIN) {
            park(c, site->revocation.timeout_ms);
            return CG_AGAIN;
        }
        o.use_due = true;
    }
    /* After a wait for answers: the connection's own verdict, never a shared
     * one, because rev_note_wait() writes what this wait was into it. */
    if (cg_verdict_judge(leaf, chain, c->gen->trust, time(NULL), &policy, &c->verdict) != CG_OK)
        goto oom;
    if (online && c->rev_fetched)
        rev_note_wait(c, &c->verdict);
    c->judged = true;
    v = &c->verdict;
    *out = v;
judged:
    if (online)
        count_answers(c, v);
    if (leaf != NULL)
        conn_log(c, CG_LOG_DEBUG, "client certificate judged%s: %s %s",
                 cg_tls_resumed(c->ssl) ? " again (resumed session)" : "", v->code,
                 cg_reason_slug(v->reason));
    return CG_OK;
oom:
    cg_verdict_free(&c->verdict);
    return CG_ERR;
}

/* A bounded text buffer for log lines; what does not fit is cut with "...". */
struct line {
    char p[3072];
    size_t len;
    bool cut;
};

static void line_add(struct line *l, const char *fmt, ...) CG_PRINTF(2, 3);
static void line_add(struct line *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->cut)
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->p + l->len, sizeof(l->p) - l->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(l->p) - l->len) {
        l->cut = true;
        l->len = sizeof(l->p) - 4;
        memcpy(l->p + l->len, "...", 4);
        return;
    }
    l->len += (size_t)n;
}

static void line_cert(struct line *l, X509 *x)
{
    char *subject = cg_store_name_rfc2253(X509_get_subject_name(x));
    unsigned char md[32];
    unsigned int md_len = 0;
    char hex[65];

    hex[0] = '\0';
    if (X509_digest(x, EVP_sha256(), md, &md_len) == 1 && md_len == 32) {
        for (unsigned i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    line_add(l, "\"%s\" sha256=%s", subject != NULL ? subject : "?", hex);
    free(subject);
}

/* Per element asked about: the answer, its source and what was tried. */
static void line_revocation(struct line *l, const struct cg_verdict *v)
{
    for (size_t i = 0; i < v->path_len; i++) {
        const struct cg_revocation_info *r = &v->path[i].revocation;
        if (r->source == CG_REV_SOURCE_NONE && r->tried == NULL)
            continue;
        line_add(l, "; revocation [%zu]: %s", i, cg_rev_status_slug(r->status));
        if (r->source != CG_REV_SOURCE_NONE)
            line_add(l, " from %s", cg_rev_source_slug(r->source));
        if (r->tried != NULL)
            line_add(l, ", tried: %s", r->tried);
    }
}

/* Whether `v` was let through only by `on_unknown: allow`: an element
 * below the root whose revocation status is unknown (from the online check
 * or from OpenSSL's CRL check), recorded as advisory. */
static bool rev_allowed_unknown(const struct cg_conf_site *site, const struct cg_verdict *v)
{
    if (site->policy.on_unknown != CG_ON_UNKNOWN_ALLOW)
        return false;
    for (size_t i = 0; i + 1 < v->path_len; i++) {
        const struct cg_path_element *e = &v->path[i];
        if (e->revocation.status == CG_REV_UNKNOWN && e->revocation.tried != NULL)
            return true;
        for (size_t j = 0; j < e->n_problems; j++) {
            if (e->problems[j].reason == CG_REASON_REVOCATION_UNKNOWN && e->problems[j].advisory)
                return true;
        }
    }
    return false;
}

/* The access log's x-reason of a request served only by `on_unknown:
 * allow` (a stable slug, so that such requests can be counted). */
#define REASON_REVOCATION_UNKNOWN_ALLOWED "revocation-unknown-allowed"

/* The x-reason of a request served with a verdict. */
static const char *verdict_reason(const struct cg_conn *c)
{
    return c->req_rev_allowed ? REASON_REVOCATION_UNKNOWN_ALLOWED
                              : cg_reason_slug(c->req_verdict->reason);
}

/*
 * Served on less than a fresh answer, one warn line saying so, with the
 * certificate and what was tried, so the administrator sees it:
 *   - some status is unknown and the policy serves anyway (on_unknown: allow);
 *   - some answer is past its nextUpdate, accepted within stale_grace: the
 *     responder or CRL publisher is behind, and the grace is running out.
 */
static void log_rev_served(struct cg_conn *c, const struct cg_conf_site *site,
                           const struct cg_verdict *v)
{
    X509 *leaf = c->tls_up ? cg_tls_peer_cert(c->ssl) : NULL;
    struct line l;
    char who[80];
    bool unknown = rev_allowed_unknown(site, v), stale = false;

    /* Counted and marked for the access log only when the verdict itself
     * is ok: under `accept` a request with another cause is served too. */
    if (unknown && v->reason == CG_REASON_OK) {
        c->req_rev_allowed = true;
        cg_worker_count(c->w, CG_M_REV_UNKNOWN_ALLOWED);
    }
    for (size_t i = 0; i < v->path_len; i++) {
        const struct cg_revocation_info *r = &v->path[i].revocation;
        stale |= r->status != CG_REV_UNKNOWN && r->stale;
    }
    if ((!unknown && !stale) || !cg_log_enabled(CG_LOG_WARN))
        return;
    l.len = 0;
    l.cut = false;
    if (unknown)
        line_add(&l, "served with revocation status unknown (on_unknown: allow)");
    else
        line_add(&l, "served with a stale revocation answer (past its nextUpdate, within "
                     "stale_grace %ld s)", site->revocation.stale_grace_s);
    line_add(&l, ": site %s, %.*s, certificate ", site->name,
             (int)(c->req.path.len > 200 ? 200 : c->req.path.len), c->req.path.p);
    if (leaf != NULL)
        line_cert(&l, leaf);
    else
        line_add(&l, "none");
    line_revocation(&l, v);
    cg_log(CG_LOG_WARN, "client %s on %s: %s", client_name(c, who, sizeof(who)),
           c->w->srv->listeners[c->srv_listener].name, l.p);
}

/*
 * One error-log line per refusal for a certificate cause: the code and
 * reason, the client, what the client sent (subjects and thumbprints, as
 * received) and the path the verdict engine built (with where each element
 * came from and its first problem). The administrator's whole story.
 */
static void log_refusal(const struct cg_conn *c, const struct cg_conf_site *site,
                        const struct cg_error_info *deny, const struct cg_verdict *v)
{
    struct line l;
    char who[80];
    X509 *leaf = c->tls_up ? cg_tls_peer_cert(c->ssl) : NULL;
    STACK_OF(X509) *chain = leaf != NULL ? cg_tls_peer_chain(c->ssl) : NULL;

    if (!cg_log_enabled(CG_LOG_INFO))
        return;
    l.len = 0;
    l.cut = false;
    line_add(&l, "refused %s %s: site %s, %.*s; detail: %s; chain received%s: ", deny->code,
             deny->reason, site->name, (int)(c->req.path.len > 200 ? 200 : c->req.path.len),
             c->req.path.p, deny->detail != NULL ? deny->detail
                            : v != NULL && v->detail != NULL ? v->detail : "-",
             c->tls_up && cg_tls_resumed(c->ssl) ? " (from the resumed session)" : "");
    if (leaf == NULL) {
        line_add(&l, "none");
    } else {
        line_cert(&l, leaf);
        for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
            line_add(&l, ", ");
            line_cert(&l, sk_X509_value(chain, i));
        }
    }
    line_add(&l, "; chain built: ");
    if (v == NULL || v->path_len == 0 || leaf == NULL)
        line_add(&l, "none");
    for (size_t i = 0; leaf != NULL && v != NULL && i < v->path_len; i++) {
        const struct cg_path_element *e = &v->path[i];
        line_add(&l, "%s\"%s\" (%s) sha256=%s", i > 0 ? " <- " : "", e->subject,
                 cg_source_slug(e->source), e->sha256[0] != '\0' ? e->sha256 : "-");
        if (e->n_problems > 0)
            line_add(&l, " [%s]", cg_reason_slug(e->problems[0].reason));
    }
    if (leaf != NULL && v != NULL)
        line_revocation(&l, v);
    cg_log(CG_LOG_INFO, "client %s on %s: %s", client_name(c, who, sizeof(who)),
           c->w->srv->listeners[c->srv_listener].name, l.p);
}

/*
 * The one refusal made in the handshake: the client sent a certificate but
 * its CertificateVerify does not verify with that certificate's public key,
 * so it did not prove it holds the private key. OpenSSL has aborted the
 * handshake with a decrypt_error alert; no HTTP answer can be sent. One
 * line: the site the handshake was for, the certificate (subject and
 * thumbprint, as received) and OpenSSL's reason.
 */
static void log_unproven(const struct cg_conn *c, const char *why)
{
    const struct cg_conf_listener_site *ls = tls_site(c);
    X509 *leaf = cg_tls_peer_cert(c->ssl);
    struct line l;

    if (!cg_log_enabled(CG_LOG_INFO))
        return;
    l.len = 0;
    l.cut = false;
    line_add(&l, "refused in the TLS handshake (%s, decrypt_error alert): client certificate not "
             "proven: its CertificateVerify signature does not verify with the certificate's "
             "public key (%s); site %s; certificate ", cg_tls_version(c->ssl),
             why != NULL ? why : "unknown", ls != NULL ? ls->site->name : "?");
    if (leaf != NULL)
        line_cert(&l, leaf);
    else
        line_add(&l, "none");
    conn_log(c, CG_LOG_INFO, "%s", l.p);
}

/*
 * Where the request meets the site's policy, after the site (by Host) and
 * the location (longest prefix) are known. CG_OK: go on with the handler.
 * CG_DECLINED: *deny is the answer to send (already logged). CG_AGAIN:
 * parked for revocation answers (respond() runs again on resume). CG_ERR:
 * out of memory.
 *
 * The decision reads only the TLS layer and the verdict engine: no request
 * header (X-SSL-Client-Verify, X-Client-Cert, Client-Cert, SSL_CLIENT_S_DN
 * and the like) is ever consulted, whatever a client sends.
 */
static int request_policy(struct cg_conn *c, const struct cg_conf_site *site,
                          const struct cg_conf_location *loc, struct cg_error_info *deny)
{
    cg_ssl_mode_t ssl = loc != NULL ? loc->ssl : site->ssl;
    cg_client_cert_mode_t mode = loc != NULL ? loc->client_certificates : site->client_certificates;
    const struct cg_conf_listener_site *from = c->tls_up ? tls_site(c) : NULL;
    const struct cg_verdict *v;
    int rc;

    if (ssl == CG_SSL_REQUIRE && !c->tls_up) {
        cg_error_info_cert(deny, CG_REASON_SSL_REQUIRED, NULL, errors_detailed(c));
        log_refusal(c, site, deny, NULL);
        return CG_DECLINED;
    }
    if (c->tls_up && !same_cert_policy(c, site)) {
        cg_error_info_http(deny, CG_HTTP_ERR_MISDIRECTED_REQUEST);
        deny->detail = "This connection was set up for a site with another client-certificate "
                       "policy; open a new connection for this host name.";
        conn_log(c, CG_LOG_INFO, "refused 421 misdirected-request: Host site %s, TLS set up for "
                 "site %s (SNI %s), and their client-certificate policies differ",
                 site->name, from != NULL ? from->site->name : "?",
                 c->peer.sni_present ? "sent" : "absent");
        return CG_DECLINED;
    }
    if (mode == CG_CLIENT_CERT_IGNORE)
        return CG_OK;
    rc = conn_verdict(c, site, &v);
    if (rc != CG_OK)
        return rc;
    c->req_verdict = v;
    if (mode == CG_CLIENT_CERT_ACCEPT || v->reason == CG_REASON_OK) {
        log_rev_served(c, site, v);
        return CG_OK;
    }
    cg_error_info_cert(deny, v->reason, v, errors_detailed(c));
    if (v->reason == CG_REASON_CERT_REQUIRED) {
        /* Say why no certificate could have arrived, when that is the cause:
         * it is the one thing the person and the administrator both need. */
        if (!c->tls_up)
            deny->detail = "This request came over plain HTTP, which cannot carry a client "
                           "certificate: use https:// for this address.";
        else if (from != NULL && !from->binding->negotiate_client_certificate)
            deny->detail = "this binding does not negotiate client certificates; a location "
                           "that requires one needs negotiate_client_certificate: true";
    }
    log_refusal(c, site, deny, v);
    return CG_DECLINED;
}

/*
 * `handler: certificate-info` (server/certinfo_page.h): the page about the
 * verdict request_policy() took for this request (none under `ignore`).
 */
static int respond_certinfo(struct cg_conn *c, const struct cg_conf_site *site)
{
    const struct cg_conf_listener_site *from = c->tls_up ? tls_site(c) : NULL;
    const struct cg_http_header *acc = cg_http_find_header(&c->req, "Accept");
    char *body = NULL;
    size_t len = 0;
    const char *ctype = NULL;
    struct head h;
    int rc = CG_ERR;

    if (!is_head_method(c) &&
        !(c->req.method.len == 3 && memcmp(c->req.method.p, "GET", 3) == 0)) {
        struct cg_error_info info;
        cg_error_info_http(&info, CG_HTTP_ERR_METHOD_NOT_ALLOWED);
        return respond_error(c, &info, false, "GET, HEAD", NULL);
    }
    if (cg_server_certinfo_body(site, c->req_verdict, c->tls_up,
                                from != NULL && from->binding->negotiate_client_certificate,
                                errors_detailed(c),
                                acc != NULL && cg_error_want_json(acc->value.p, acc->value.len),
                                &body, &len, &ctype) != CG_OK)
        return respond_http_error(c, CG_HTTP_ERR_INTERNAL_ERROR, NULL, true);
    if (head_start(c, &h, 200, 0, len) != CG_OK)
        goto done;
    if (c->req_verdict != NULL && c->req_verdict->path_len > 0)
        c->reason = verdict_reason(c);
    head_add(&h, "Content-Type: %s\r\n", ctype);
    head_add(&h, "Cache-Control: no-store\r\nVary: Accept\r\n");
    rc = send_generated(c, &h, body, len);
done:
    free(body);
    return rc;
}

/*
 * The admin listener: GET (or HEAD) /metrics, the query ignored; 404 for any
 * other path, 405 for another method, through the same error renderer as
 * the sites. Nothing of a site is reachable from here.
 */
static int respond_admin(struct cg_conn *c)
{
    struct cg_metrics_text t;
    struct head h;
    int rc = CG_ERR;

    if (!(c->req.path.len == 8 && memcmp(c->req.path.p, "/metrics", 8) == 0))
        return respond_http_error(c, CG_HTTP_ERR_NOT_FOUND, NULL, false);
    if (!is_head_method(c) &&
        !(c->req.method.len == 3 && memcmp(c->req.method.p, "GET", 3) == 0)) {
        struct cg_error_info info;
        cg_error_info_http(&info, CG_HTTP_ERR_METHOD_NOT_ALLOWED);
        return respond_error(c, &info, false, "GET, HEAD", NULL);
    }
    cg_metrics_text_init(&t, CG_ADMIN_BODY_MAX);
    if (cg_admin_render(c->w->srv, c->gen, &t) != CG_OK) {
        conn_log(c, CG_LOG_ERROR, "metrics: the page does not fit %u bytes (or out of memory)",
                 CG_ADMIN_BODY_MAX);
        rc = respond_http_error(c, CG_HTTP_ERR_INTERNAL_ERROR, NULL, true);
        goto done;
    }
    if (head_start(c, &h, 200, 0, t.len) != CG_OK)
        goto done;
    head_add(&h, "Content-Type: %s\r\nCache-Control: no-store\r\n", CG_METRICS_CONTENT_TYPE);
    rc = send_generated(c, &h, t.p, t.len);
done:
    cg_metrics_text_free(&t);
    return rc;
}

/* The head and body are in; decide and prepare the answer. */
static int respond(struct cg_conn *c)
{
    const struct cg_conf *conf = c->gen->conf;
    const struct cg_conf_listener *cl = &conf->listeners[c->conf_listener];
    const struct cg_conf_site *site;
    const struct cg_conf_location *loc;
    struct cg_error_info deny;
    char *path = NULL;
    size_t path_len = 0, cap = c->req.path.len + 2;
    int status = 400, rc;
    const char *why = NULL;

    if (c->admin)
        return respond_admin(c);
    site = cl->n_sites > 0 ? cg_conf_find_site(conf, cl->sites[0].binding, c->req.host.p,
                                                c->req.host.len)
                           : NULL;
    if (site != NULL && c->gen->metric_slot != NULL)
        c->metric_site = c->gen->metric_slot[site - conf->sites];
    if (site == NULL) {
        conn_log(c, CG_LOG_INFO, "request refused: no site for Host '%.*s'",
                 (int)(c->req.host.len > 200 ? 200 : c->req.host.len), c->req.host.p);
        return respond_http_error(c, CG_HTTP_ERR_MISDIRECTED_REQUEST,
                                  "No site on this address answers to that host name.", false);
    }
    if (c->req.target_form != CG_TARGET_ORIGIN && c->req.target_form != CG_TARGET_ABSOLUTE) {
        conn_log(c, CG_LOG_INFO, "request refused: %.*s with a non-origin target",
                 (int)c->req.method.len, c->req.method.p);
        struct cg_error_info info;
        cg_error_info_http(&info, CG_HTTP_ERR_METHOD_NOT_ALLOWED);
        return respond_error(c, &info, false, "GET, HEAD", NULL);
    }
    path = malloc(cap);
    if (path == NULL)
        return CG_ERR;
    if (cg_http_path_normalize(c->req.path.p, c->req.path.len, path, cap, &path_len, &status,
                               &why) != CG_OK) {
        conn_log(c, CG_LOG_INFO, "request refused: %d: %s", status, why != NULL ? why : "bad path");
        rc = respond_status(c, status, false);
        goto done;
    }
    loc = cg_conf_find_location(site, path, path_len);
    rc = request_policy(c, site, loc, &deny);
    if (rc == CG_ERR || rc == CG_AGAIN)
        goto done;
    if (rc == CG_DECLINED) {
        rc = respond_error(c, &deny, false, NULL, NULL);
        goto done;
    }
    if (loc != NULL && loc->handler == CG_HANDLER_CERTIFICATE_INFO) {
        rc = respond_certinfo(c, site);
        goto done;
    }
    if (c->gen->roots[site - conf->sites] == NULL) {
        rc = respond_http_error(c, CG_HTTP_ERR_NOT_FOUND, NULL, false);
        goto done;
    }
    rc = respond_static(c, c->gen->roots[site - conf->sites],
                        ((uint64_t)c->gen->id << 32) | (uint64_t)(site - conf->sites), path,
                        path_len);
    /* Served under `accept`: the access log carries the verdict's slug
     * ("ok", "expired", ...) when a certificate was presented. */
    if (rc == CG_OK && c->req_verdict != NULL && c->reason == NULL &&
        c->req_verdict->path_len > 0)
        c->reason = verdict_reason(c);
done:
    free(path);
    return rc;
}

/* ---- states ---------------------------------------------------------------- */

/*
 * OpenSSL's info callback, for the metrics: which fatal alert the handshake
 * ended with, and renegotiations refused. Reads only the alert; the
 * connection is found from the cg_tls_peer it embeds (tls.h attaches it).
 */
static void on_tls_info(const SSL *ssl, int where, int ret)
{
    struct cg_tls_peer *peer;
    struct cg_conn *c;
    unsigned level = ((unsigned)ret >> 8) & 0xff, desc = (unsigned)ret & 0xff;

    if ((where & SSL_CB_ALERT) == 0 || (peer = cg_tls_peer_of(ssl)) == NULL)
        return;
    c = (struct cg_conn *)(void *)((char *)peer - offsetof(struct cg_conn, peer));
    if ((where & SSL_CB_WRITE) != 0) {
        /* A TLS 1.2 ClientHello after the handshake: SSL_OP_NO_RENEGOTIATION
         * answers with this warning and carries on without renegotiating. */
        if (desc == SSL_AD_NO_RENEGOTIATION)
            cg_worker_count(c->w, CG_M_TLS_RENEG_REFUSED);
        else if (level == SSL3_AL_FATAL && c->alert_sent == 0)
            c->alert_sent = desc + 1;
    } else if (level == SSL3_AL_FATAL && c->alert_recv == 0) {
        c->alert_recv = desc + 1;
    }
}

/*
 * Why the handshake failed, from what OpenSSL saw and the alerts it ended
 * with. A failed CertificateVerify is flagged by tls.c (the only way a
 * certificate aborts a handshake). A client that went away mid-handshake
 * makes OpenSSL send an alert too (unexpected EOF): tls.c flags that from
 * the error itself, never from the socket afterwards, which a client that
 * read our alert and left would make look the same.
 */
static cg_hs_fail_t handshake_failure(const struct cg_conn *c)
{
    if (c->peer.key_unproven)
        return CG_HS_FAIL_CERT_VERIFY;
    if (c->alert_recv != 0)
        return CG_HS_FAIL_CLIENT_ALERT;
    if (c->peer.peer_gone)
        return CG_HS_FAIL_CLOSED;
    return c->alert_sent != 0 ? CG_HS_FAIL_PROTOCOL : CG_HS_FAIL_CLOSED;
}

static int st_handshake(struct cg_conn *c)
{
    int want = 0;
    const char *why = NULL;
    int r;

    r = cg_tls_handshake(c->ssl, &want, &why);
    if (r == CG_AGAIN) {
        c->want = want == CG_TLS_WANT_WRITE ? EPOLLOUT : EPOLLIN;
        return CG_AGAIN;
    }
    if (r != CG_OK && cg_tls_first_byte(c->ssl) != 0x16) {
        /* The first read tells TLS from anything else (tls.h): nothing to
         * answer with TLS alerts here. */
        int b = cg_tls_first_byte(c->ssl);
        cg_tls_discard_output(c->ssl);
        if (b < 0)
            return CG_ERR;   /* closed before saying anything: nothing to log */
        /* An upper case letter is a plain HTTP request, which gets an
         * answer it can read. */
        cg_worker_count(c->w, CG_M_TLS_FAIL + CG_HS_FAIL_NOT_TLS);
        if (b >= 'A' && b <= 'Z') {
            conn_log(c, CG_LOG_INFO, "refused: plain HTTP request on a TLS port");
            c->have_req = false;
            return respond_http_error(c, CG_HTTP_ERR_BAD_REQUEST,
                                      "A plain HTTP request was sent to an HTTPS port: "
                                      "use https:// for this address.",
                                      true);
        }
        conn_log(c, CG_LOG_INFO, "refused: not a TLS handshake (first byte 0x%02x)", b);
        return CG_ERR;
    }
    if (r != CG_OK) {
        cg_worker_count(c->w, CG_M_TLS_FAIL + handshake_failure(c));
        if (c->peer.key_unproven)
            log_unproven(c, why);
        else
            conn_log(c, CG_LOG_INFO, "TLS handshake failed: %s", why != NULL ? why : "unknown");
        return CG_ERR;
    }
    cg_worker_count(c->w, cg_tls_resumed(c->ssl) ? CG_M_TLS_RESUMED : CG_M_TLS_FULL);
    c->tls_up = true;
    c->state = ST_HEAD;
    arm(c, limits_of(c)->header_timeout_ms);
    return CG_OK;
}

/* Reads into the input buffer. CG_OK (bytes added), CG_AGAIN, or CG_ERR
 * (closed or failed; logged when it cuts a request). */
static int fill(struct cg_conn *c)
{
    char first[CG_CONN_FIRST_READ];
    ssize_t n;

    if (c->in == NULL) {
        /* A connection waiting for its next request holds no input buffer:
         * the first bytes are read on the stack, and only then is one taken. */
        n = conn_read(c, first, sizeof(first));
        if (n > 0) {
            if (in_acquire(c) != CG_OK)
                return CG_ERR;
            memcpy(c->in, first, (size_t)n);
        }
    } else {
        if (c->in_len == c->in_cap)
            return CG_ERR;   /* callers keep room; defensive */
        n = conn_read(c, c->in + c->in_len, c->in_cap - c->in_len);
    }
    if (n == CG_AGAIN)
        return CG_AGAIN;
    if (n <= 0) {
        if (c->state == ST_HEAD && c->in_len > 0)
            conn_log(c, CG_LOG_INFO, "closed by the client in the middle of a request head");
        else if (c->state == ST_BODY)
            conn_log(c, CG_LOG_INFO, "closed by the client in the middle of a request body");
        return CG_ERR;
    }
    c->in_len += (size_t)n;
    c->bytes_received += (uint64_t)n;
    return CG_OK;
}

static void start_request_clock(struct cg_conn *c)
{
    clock_gettime(CLOCK_REALTIME, &c->t_start);
    c->t_start_ms = cg_loop_now_ms(c->w->loop);
}

static int st_idle(struct cg_conn *c)
{
    int r;

    if (c->in_len == 0) {
        r = fill(c);
        if (r != CG_OK)
            return r;
    }
    c->state = ST_HEAD;
    arm(c, limits_of(c)->header_timeout_ms);
    return CG_OK;
}

/* A head was parsed: route the body, or answer. */
static int begin_request(struct cg_conn *c, long consumed)
{
    const struct cg_limits *lim = limits_of(c);

    c->head_len = (size_t)consumed;
    c->have_req = true;
    c->requests++;
    if (c->req.body == CG_BODY_NONE)
        return respond(c);
    c->chunked = c->req.body == CG_BODY_CHUNKED;
    c->body_left = c->req.content_length;
    c->body_total = 0;
    if (!c->chunked && c->req.content_length > lim->body_bytes) {
        conn_log(c, CG_LOG_INFO, "request refused: 413: Content-Length %llu over body_bytes %zu",
                 (unsigned long long)c->req.content_length, lim->body_bytes);
        return respond_http_error(c, CG_HTTP_ERR_BODY_TOO_LARGE, NULL, true);
    }
    if (c->chunked)
        cg_chunked_init(&c->chunk, lim->header_bytes);
    c->state = ST_BODY;
    arm(c, lim->body_timeout_ms);
    if (c->req.expect_continue && c->in_len == c->head_len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        release_request_buffers(c);
        if (out_acquire(c, sizeof(cont)) != CG_OK)
            return CG_ERR;
        memcpy(c->out, cont, sizeof(cont) - 1);
        c->out_len = sizeof(cont) - 1;
        c->out_off = 0;
        c->continue_sent = true;
        c->state = ST_SEND;
        arm(c, lim->send_timeout_ms);
    }
    return CG_OK;
}

static int st_head(struct cg_conn *c)
{
    const struct cg_limits *lim = limits_of(c);
    struct cg_http_limits pl = {lim->header_bytes, 0, lim->headers};
    int status = 400;
    const char *why = NULL;
    long r;

    for (;;) {
        if (c->in_len > 0) {
            bool first = c->scanned == 0;
            size_t end = 0;
            if (c->tls == false && c->requests == 0 && first && (unsigned char)c->in[0] == 0x16) {
                conn_log(c, CG_LOG_INFO, "refused: TLS handshake on a plain HTTP port");
                return respond_http_error(c, CG_HTTP_ERR_BAD_REQUEST,
                                          "A TLS handshake was sent to a plain HTTP port: use "
                                          "http:// for this address.",
                                          true);
            }
            /* Parse on the first bytes (to refuse garbage at once), then
             * only once the blank line is in: the parser is stateless. */
            if (!first) {
                end = cg_http_head_complete(c->in, c->in_len, c->scanned);
                c->scanned = c->in_len;
            } else {
                c->scanned = c->in_len;
            }
            if (first || end > 0 || c->in_len >= lim->header_bytes) {
                memset(&c->req, 0, sizeof(c->req));
                c->req.headers = c->hdrs;
                r = cg_http_parse_request(c->in, c->in_len, &pl, &c->req, &status, &why);
                if (r > 0) {
                    c->scanned = 0;
                    return begin_request(c, r);
                }
                if (r != CG_AGAIN) {
                    conn_log(c, CG_LOG_INFO, "request refused: %d: %s", status,
                             why != NULL ? why : "malformed");
                    c->have_req = false;
                    return respond_status(c, status, true);
                }
            }
        }
        {
            int f = fill(c);
            if (f != CG_OK)
                return f;
        }
    }
}

/* Drops body bytes from the buffer (they follow the head). */
static int st_body(struct cg_conn *c)
{
    const struct cg_limits *lim = limits_of(c);

    for (;;) {
        char *data = c->in + c->head_len;
        size_t avail = c->in_len - c->head_len, used = 0;
        bool done = false;

        if (avail > 0) {
            if (!c->chunked) {
                used = avail < c->body_left ? avail : (size_t)c->body_left;
                c->body_left -= used;
                done = c->body_left == 0;
            } else {
                size_t payload = 0;
                int r = cg_chunked_decode(&c->chunk, data, avail, &used, &payload);
                c->body_total += payload;
                if (r == CG_ERR) {
                    conn_log(c, CG_LOG_INFO, "request refused: %d: %s", c->chunk.status,
                             c->chunk.why != NULL ? c->chunk.why : "bad chunked body");
                    return respond_status(c, c->chunk.status, true);
                }
                if (c->body_total > lim->body_bytes) {
                    conn_log(c, CG_LOG_INFO, "request refused: 413: chunked body over body_bytes %zu",
                             lim->body_bytes);
                    return respond_http_error(c, CG_HTTP_ERR_BODY_TOO_LARGE, NULL, true);
                }
                done = r == CG_OK;
            }
            memmove(data, data + used, avail - used);
            c->in_len -= used;
            if (used > 0)
                arm(c, lim->body_timeout_ms);
        } else if (!c->chunked && c->body_left == 0) {
            done = true;
        }
        if (done)
            return respond(c);
        {
            int f = fill(c);
            if (f != CG_OK)
                return f;
        }
    }
}

/* The response is out: log it, then keep the connection or close it. */
static int finish_response(struct cg_conn *c)
{
    access_log(c);
    release_request_buffers(c);
    if (c->close_after) {
        /* Our side is done: shut it down and read what the client still
         * sends for a moment, so its unread bytes do not turn into a reset
         * that destroys the response before it is read. */
        shutdown(c->io.fd, SHUT_WR);
        c->state = ST_LINGER;
        {
            const struct cg_limits *lim = limits_of(c);
            unsigned ms = lim->send_timeout_ms < lim->header_timeout_ms ? lim->send_timeout_ms
                                                                        : lim->header_timeout_ms;
            arm(c, ms < CG_CONN_LINGER_MAX_MS ? ms : CG_CONN_LINGER_MAX_MS);
        }
        return CG_OK;
    }
    /* Keep-alive: drop the request from the buffer, keep what follows. */
    if (c->head_len > 0) {
        memmove(c->in, c->in + c->head_len, c->in_len - c->head_len);
        c->in_len -= c->head_len;
    }
    c->head_len = 0;
    c->have_req = false;
    c->logged = false;
    c->status = 0;
    c->reason = NULL;
    c->cause = -1;
    c->metric_site = CG_M_SITE_NONE;
    c->req_verdict = NULL;
    c->req_rev_allowed = false;
    c->bytes_sent = c->bytes_received = 0;
    c->scanned = 0;
    if (c->in_len > 0) {
        /* Pipelined: the next request started arriving already. */
        c->bytes_received = c->in_len;
        start_request_clock(c);
        c->state = ST_HEAD;
        arm(c, limits_of(c)->header_timeout_ms);
    } else {
        /* Idle connections hold no request buffers. */
        in_release(c);
        c->state = ST_IDLE;
        arm(c, limits_of(c)->keepalive_timeout_ms);
    }
    return CG_OK;
}

static int st_send(struct cg_conn *c)
{
    const struct cg_limits *lim = limits_of(c);

    for (;;) {
        if (c->out_off < c->out_len) {
            ssize_t n = conn_write(c, c->out + c->out_off, c->out_len - c->out_off,
                                   c->file_left > 0);
            if (n == CG_AGAIN)
                return CG_AGAIN;
            if (n <= 0) {
                conn_log(c, CG_LOG_DEBUG, "closed while sending a response");
                return CG_ERR;
            }
            c->out_off += (size_t)n;
            c->bytes_sent += (uint64_t)n;
            arm(c, lim->send_timeout_ms);
            continue;
        }
        if (c->file_left > 0 && c->tls_up) {
            size_t want = c->file_left < CG_SERVER_FILE_CHUNK ? (size_t)c->file_left
                                                              : CG_SERVER_FILE_CHUNK;
            ssize_t n;
            if (c->out_cap < want) {
                out_release(c);
                if (out_acquire(c, want) != CG_OK)
                    return CG_ERR;
            }
            n = pread(c->file_fd, c->out, want, (off_t)c->file_off);
            if (n <= 0) {
                conn_log(c, CG_LOG_WARN, "file shrank while being sent");
                return CG_ERR;
            }
            c->file_off += (uint64_t)n;
            c->file_left -= (uint64_t)n;
            c->out_len = (size_t)n;
            c->out_off = 0;
            continue;
        }
        if (c->file_left > 0) {
            off_t off = (off_t)c->file_off;
            size_t want = c->file_left < (1u << 20) ? (size_t)c->file_left : (1u << 20);
            ssize_t n = sendfile(c->io.fd, c->file_fd, &off, want);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                c->want = EPOLLOUT;
                return CG_AGAIN;
            }
            if (n <= 0) {
                if (n == 0)
                    conn_log(c, CG_LOG_WARN, "file shrank while being sent");
                return CG_ERR;
            }
            c->file_off += (uint64_t)n;
            c->file_left -= (uint64_t)n;
            c->bytes_sent += (uint64_t)n;
            arm(c, lim->send_timeout_ms);
            continue;
        }
        if (c->tls_up) {
            /* The response is sent once what the TLS layer gathered is out:
             * until then it is still under send_timeout. Closing: the
             * close_notify goes with it. */
            size_t before = cg_tls_output_pending(c->ssl);
            int f;
            if (c->close_after && !c->continue_sent && !c->tls_closed) {
                cg_tls_shutdown(c->ssl);
                c->tls_closed = true;
            }
            f = cg_tls_flush(c->ssl);
            if (f == CG_AGAIN) {
                if (cg_tls_output_pending(c->ssl) < before)
                    arm(c, lim->send_timeout_ms);
                c->want = EPOLLOUT;
                return CG_AGAIN;
            }
            if (f != CG_OK) {
                conn_log(c, CG_LOG_DEBUG, "closed while sending a response");
                return CG_ERR;
            }
        }
        if (c->continue_sent) {
            c->continue_sent = false;
            release_request_buffers(c);
            c->state = ST_BODY;
            arm(c, lim->body_timeout_ms);
            return CG_OK;
        }
        return finish_response(c);
    }
}

static int st_linger(struct cg_conn *c)
{
    char drop[4096];

    /* Our close_notify went after the response: the client's close_notify
     * says it read everything up to ours, and that it sends nothing more,
     * so the connection closes then, without waiting for its FIN. */
    while (c->tls_closed) {
        int want = 0;
        ssize_t n = cg_tls_read(c->ssl, drop, sizeof(drop), &want);
        if (n == CG_AGAIN) {
            c->want = want;
            return CG_AGAIN;
        }
        if (n <= 0)
            return CG_ERR;
    }
    for (;;) {
        ssize_t n = recv(c->io.fd, drop, sizeof(drop), 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            c->want = EPOLLIN;
            return CG_AGAIN;
        }
        if (n <= 0)
            return CG_ERR;
    }
}

/*
 * Sends what the TLS layer gathered during this turn (tls.h), before the
 * connection waits: CG_OK (nothing left: wait for c->want), CG_AGAIN (the
 * socket is full: c->flushing, wait for EPOLLOUT first) or CG_ERR. A state
 * that waits for EPOLLOUT already is left alone: its write comes first.
 */
static int flush_before_wait(struct cg_conn *c)
{
    int f;

    if (c->ssl == NULL || (c->want & EPOLLOUT) != 0 || !cg_tls_output_pending(c->ssl))
        return CG_OK;
    f = cg_tls_flush(c->ssl);
    if (f == CG_AGAIN) {
        c->flushing = true;
        c->want = EPOLLOUT;
    }
    return f == CG_AGAIN ? CG_OK : f;
}

static void conn_drive(struct cg_conn *c)
{
    if (c->flushing) {
        int f = cg_tls_flush(c->ssl);
        if (f == CG_AGAIN)
            return;   /* still EPOLLOUT */
        if (f != CG_OK) {
            conn_log(c, CG_LOG_DEBUG, "closed while sending");
            conn_free(c);
            return;
        }
        c->flushing = false;
    }
    for (;;) {
        int r;

        switch (c->state) {
        case ST_HANDSHAKE: r = st_handshake(c); break;
        case ST_IDLE:
            if (c->draining || c->w->draining) {
                r = CG_ERR;
                break;
            }
            r = st_idle(c);
            if (r == CG_OK)
                start_request_clock(c);
            break;
        case ST_HEAD: r = st_head(c); break;
        case ST_BODY: r = st_body(c); break;
        case ST_SEND: r = st_send(c); break;
        case ST_LINGER: r = st_linger(c); break;
        case ST_PARK:
            if (c->park_token != 0) {
                c->want = 0;
                r = CG_AGAIN;
            } else {
                r = respond(c);
            }
            break;
        default: r = CG_ERR; break;
        }
        if (r == CG_OK)
            continue;
        if (r == CG_AGAIN && flush_before_wait(c) == CG_OK &&
            cg_io_set(c->w->loop, &c->io, c->want) == CG_OK)
            return;
        conn_free(c);
        return;
    }
}

static void on_io(struct cg_loop *loop, struct cg_io *io, uint32_t events)
{
    struct cg_conn *c = io->data;

    (void)loop;
    (void)events;
    /* Errors and hang-ups surface as a failed read or write in the state
     * functions, which know whether they cut a request. */
    conn_drive(c);
}

/* ---- accept -------------------------------------------------------------- */

static void refuse_log(struct cg_worker *w, const char *who)
{
    int64_t now = cg_loop_wall_s(w->loop);

    /* One line per second at most, with the count of the quiet ones: a flood
     * must not turn into a flood of log lines. */
    if (now != w->refused_log_s) {
        cg_log(CG_LOG_WARN,
               "connection from %s refused: max_connections reached (%llu more refused since the "
               "last line)",
               who, (unsigned long long)w->refused_quiet);
        w->refused_log_s = now;
        w->refused_quiet = 0;
    } else {
        w->refused_quiet++;
    }
}

static void conn_new(struct cg_worker *w, size_t li, int fd, const struct sockaddr_storage *ss,
                     socklen_t ss_len)
{
    struct cg_server *srv = w->srv;
    struct cg_gen *gen = w->gen;
    long cli = gen->by_socket[li];
    struct cg_conn *c = NULL;
    unsigned n;

    if (cli < 0 && cli != CG_GEN_ADMIN) {
        close(fd);
        return;
    }
    n = atomic_fetch_add_explicit(&srv->n_conns, 1, memory_order_relaxed);
    if (n >= gen->conf->limits.max_connections) {
        struct cg_conn tmp;
        char who[80];
        atomic_fetch_sub_explicit(&srv->n_conns, 1, memory_order_relaxed);
        memset(&tmp, 0, sizeof(tmp));
        tmp.client = *ss;
        refuse_log(w, client_name(&tmp, who, sizeof(who)));
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        atomic_fetch_sub_explicit(&srv->n_conns, 1, memory_order_relaxed);
        close(fd);
        return;
    }
    c->w = w;
    c->io.fd = fd;
    c->io.cb = on_io;
    c->io.data = c;
    c->timer.cb = on_timer;
    c->timer.data = c;
    c->file_fd = -1;
    c->gen = cg_gen_ref(gen);
    c->admin = cli == CG_GEN_ADMIN;
    /* An admin connection has no conf listener; respond() turns it away
     * before anything reads one. */
    c->conf_listener = c->admin ? 0 : (size_t)cli;
    c->srv_listener = li;
    c->client = *ss;
    c->client_len = ss_len;
    c->tls = !c->admin && gen->conf->listeners[cli].tls;
    c->cause = -1;
    c->metric_site = CG_M_SITE_NONE;
    if (!c->admin)
        cg_worker_count(w, CG_M_CONN_ACCEPTED);
    c->next = w->conns;
    if (w->conns != NULL)
        w->conns->prev = c;
    w->conns = c;
    w->n_conns++;
    start_request_clock(c);
    if (c->tls) {
        c->ssl = cg_tls_conn_new(gen->tls[cli], fd, &c->peer, &c->gather, &w->gather_pool);
        if (c->ssl == NULL) {
            cg_log(CG_LOG_ERROR, "out of memory creating a TLS connection");
            conn_free(c);
            return;
        }
        SSL_set_info_callback(c->ssl, on_tls_info);
        c->state = ST_HANDSHAKE;
        arm(c, gen->conf->limits.handshake_timeout_ms);
    } else {
        c->state = ST_HEAD;
        arm(c, gen->conf->limits.header_timeout_ms);
    }
    /* The client usually spoke first (a ClientHello or a request): try now
     * rather than wait a round through epoll. */
    conn_drive(c);
}

void cg_conn_accept(struct cg_worker *w, size_t li)
{
    int lfd = w->lio[li].fd;

    for (int i = 0; i < CG_SERVER_ACCEPT_BATCH && !w->draining; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE)
                cg_log(CG_LOG_ERROR, "accept: %s: out of file descriptors", strerror(errno));
            return;
        }
        conn_new(w, li, fd, &ss, len);
    }
}

void cg_conn_drain_all(struct cg_worker *w)
{
    struct cg_conn *c = w->conns, *next;

    for (; c != NULL; c = next) {
        next = c->next;
        c->draining = true;
        /* Nothing in flight: close now. A handshake or a head in progress
         * may still become a request; it is served, with Connection: close. */
        if (c->state == ST_IDLE || c->state == ST_LINGER)
            conn_free(c);
    }
}

void cg_conn_close_all(struct cg_worker *w)
{
    while (w->conns != NULL) {
        conn_log(w->conns, CG_LOG_INFO, "closed at the shutdown deadline in state %s",
                 state_names[w->conns->state]);
        conn_free(w->conns);
    }
}

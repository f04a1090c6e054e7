/*
 * gather.c: the gathering socket BIO (see gather.h).
 */
#include "tls/gather.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/bufpool.h"
#include "core/common.h"


static BIO_METHOD *gather_method;
static pthread_once_t gather_once = PTHREAD_ONCE_INIT;

static void gather_release(struct cg_tls_gather *g)
{
    if (g->pool != NULL)
        cg_bufpool_put(g->pool, g->buf);
    else
        free(g->buf);
    g->buf = NULL;
    g->off = g->len = 0;
}

static bool would_block(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

/* Sends buf[off, len) and then `extra` (may be NULL) in one call. Returns
 * bytes sent (gathered ones first) or -1 with errno. MSG_NOSIGNAL: a peer
 * gone is an error to report, not a signal. */
static ssize_t send_gathered(struct cg_tls_gather *g, const void *extra, size_t extra_len)
{
    struct iovec iov[2];
    struct msghdr msg;
    size_t n = 0;
    const int flags = MSG_NOSIGNAL | ((g->flags & CG_TLS_GATHER_CLOSING) != 0 ? MSG_MORE : 0);

    if (g->len > g->off) {
        iov[n].iov_base = g->buf + g->off;
        iov[n].iov_len = g->len - g->off;
        n++;
    }
    if (extra_len > 0) {
        iov[n].iov_base = (void *)(uintptr_t)extra;
        iov[n].iov_len = extra_len;
        n++;
    }
    if (n == 1)
        return send(g->fd, iov[0].iov_base, iov[0].iov_len, flags);
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    return sendmsg(g->fd, &msg, flags);
}

static int flush_gathered(struct cg_tls_gather *g)
{
    if (g->err != 0) {
        errno = g->err;
        return CG_ERR;
    }
    while (g->len > g->off) {
        ssize_t n = send_gathered(g, NULL, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return CG_AGAIN;
            g->err = errno;
            return CG_ERR;
        }
        g->off += (unsigned)n;
        g->sent_unread = true;
    }
    gather_release(g);
    return CG_OK;
}

static int gather_write(BIO *b, const char *in, int inl)
{
    struct cg_tls_gather *g = BIO_get_data(b);
    size_t len = inl > 0 ? (size_t)inl : 0, pending;
    ssize_t n;

    BIO_clear_retry_flags(b);
    if (len == 0)
        return 0;
    if (g->err != 0) {
        errno = g->err;
        return -1;
    }
    if (len <= CG_TLS_GATHER_COPY_MAX && g->len + len <= CG_TLS_GATHER_BYTES) {
        if (g->buf == NULL)
            g->buf = g->pool != NULL ? cg_bufpool_get(g->pool) : malloc(CG_TLS_GATHER_BYTES);
        if (g->buf != NULL) {
            memcpy(g->buf + g->len, in, len);
            g->len += (unsigned)len;
            return inl;
        }
        /* Out of memory: the bytes still go, only not gathered. */
    }
    pending = g->len - g->off;
    n = send_gathered(g, in, len);
    if (n < 0) {
        if (would_block(errno))
            BIO_set_retry_write(b);
        else
            g->err = errno;
        return -1;
    }
    if (n > 0)
        g->sent_unread = true;
    if ((size_t)n < pending) {
        /* Only part of what was gathered: the rest first, next time. */
        g->off += (unsigned)n;
        BIO_set_retry_write(b);
        return -1;
    }
    gather_release(g);
    n -= (ssize_t)pending;
    if (n == 0) {
        BIO_set_retry_write(b);
        return -1;
    }
    return (int)n;
}

static int gather_read(BIO *b, char *out, int outl)
{
    struct cg_tls_gather *g = BIO_get_data(b);
    ssize_t n;

    BIO_clear_retry_flags(b);
    if (outl <= 0)
        return 0;
    if (g->not_tls)
        return -1;
    if (g->err != 0 || g->len > g->off) {
        /* libssl waits for the peer: what it wrote must be on its way. */
        int f = flush_gathered(g);
        if (f == CG_ERR)
            return -1;
        if (f == CG_AGAIN) {
            BIO_set_retry_read(b);
            return -1;
        }
    }
    if (g->sent_unread) {
        g->sent_unread = false;
        if ((g->flags & CG_TLS_GATHER_SKIP_READ) != 0) {
            BIO_set_retry_read(b);
            return -1;
        }
    }
    n = read(g->fd, out, (size_t)outl);
    if (n < 0) {
        if (would_block(errno))
            BIO_set_retry_read(b);
        return -1;
    }
    if (n == 0) {
        g->eof = true;
        return 0;
    }
    if (g->first_byte < 0) {
        g->first_byte = (unsigned char)out[0];
        /* 0x16: a TLS handshake record. Anything else is left unread by
         * libssl, and the owner answers it (or not) itself. */
        if ((g->flags & CG_TLS_GATHER_SNIFF) != 0 && g->first_byte != 0x16) {
            g->not_tls = true;
            errno = 0;
            return -1;
        }
    }
    return (int)n;
}

static int gather_puts(BIO *b, const char *s)
{
    size_t len = strlen(s);

    return gather_write(b, s, len > INT_MAX ? INT_MAX : (int)len);
}

static long gather_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    struct cg_tls_gather *g = BIO_get_data(b);

    (void)num;
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        /* libssl flushes after each flight and record: ignored on purpose,
         * the bytes leave when the connection is about to wait. */
        return 1;
    case BIO_C_GET_FD:
        if (ptr != NULL)
            *(int *)ptr = g->fd;
        return g->fd;
    case BIO_CTRL_EOF: return g->eof ? 1 : 0;
    case BIO_CTRL_WPENDING: return (long)(g->len - g->off);
    case BIO_CTRL_PENDING: return 0;
    case BIO_CTRL_GET_CLOSE: return BIO_NOCLOSE;
    case BIO_CTRL_SET_CLOSE: return 1;
    default: return 0;
    }
}

static int gather_create(BIO *b)
{
    BIO_set_init(b, 0);
    BIO_set_data(b, NULL);
    return 1;
}

static int gather_destroy(BIO *b)
{
    struct cg_tls_gather *g = BIO_get_data(b);

    if (g != NULL)
        gather_release(g);
    BIO_set_data(b, NULL);
    return 1;
}

static void gather_method_init(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "certgate gathering socket");

    if (m == NULL)
        return;
    if (BIO_meth_set_write(m, gather_write) != 1 || BIO_meth_set_read(m, gather_read) != 1 ||
        BIO_meth_set_puts(m, gather_puts) != 1 || BIO_meth_set_ctrl(m, gather_ctrl) != 1 ||
        BIO_meth_set_create(m, gather_create) != 1 ||
        BIO_meth_set_destroy(m, gather_destroy) != 1) {
        BIO_meth_free(m);
        return;
    }
    gather_method = m;
}

BIO *cg_tls_gather_new(struct cg_tls_gather *g, int fd, unsigned flags,
                       struct cg_bufpool *pool)
{
    BIO *b;

    if (pthread_once(&gather_once, gather_method_init) != 0 || gather_method == NULL)
        return NULL;
    b = BIO_new(gather_method);
    if (b == NULL)
        return NULL;
    memset(g, 0, sizeof(*g));
    g->fd = fd;
    g->pool = pool;
    g->flags = (unsigned char)flags;
    g->first_byte = -1;
    BIO_set_data(b, g);
    BIO_set_init(b, 1);
    return b;
}

int cg_tls_gather_flush(BIO *b)
{
    struct cg_tls_gather *g = BIO_get_data(b);

    return g != NULL ? flush_gathered(g) : CG_OK;
}

void cg_tls_gather_closing(BIO *b)
{
    struct cg_tls_gather *g = BIO_get_data(b);

    if (g != NULL)
        g->flags |= CG_TLS_GATHER_CLOSING;
}

size_t cg_tls_gather_pending(BIO *b)
{
    struct cg_tls_gather *g = BIO_get_data(b);

    return g != NULL ? g->len - g->off : 0;
}

void cg_tls_gather_discard(BIO *b)
{
    struct cg_tls_gather *g = BIO_get_data(b);

    if (g != NULL)
        gather_release(g);
}

int cg_tls_gather_first_byte(BIO *b)
{
    struct cg_tls_gather *g = BIO_get_data(b);

    return g != NULL ? g->first_byte : -1;
}

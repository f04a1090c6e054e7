/*
 * gather.h: a socket BIO that gathers what libssl writes during one turn of
 * a connection and sends it in as few system calls as it can.
 *
 * libssl writes each record (or each flushed handshake flight) with its own
 * BIO_write, and a plain socket BIO turns each into a write(2): a full TLS
 * 1.3 handshake + one response + close_notify costs four sends, four trips
 * through the TCP stack and four wake-ups of the peer. This BIO keeps small
 * writes in a buffer, ignores libssl's BIO_flush, and sends what it holds:
 *
 *   - when libssl reads (BIO_read): the peer is about to be waited for, and
 *     it cannot answer bytes it has not been sent;
 *   - when the owner says so (cg_tls_gather_flush): at the end of a
 *     response, before the connection waits for anything, before it closes
 *     or shuts its side down;
 *   - when a write does not fit, or is too big to be worth a copy: then the
 *     gathered bytes and the new ones leave in one sendmsg, the new ones
 *     from libssl's own buffer (never copied).
 *
 * Order is never changed: gathered bytes always go first; when the socket
 * takes only part of them, the rest is kept and the write asks for a retry
 * (libssl keeps its record and writes it again). A send error is kept and
 * reported by the next write, read or flush.
 *
 * Memory: the buffer (CG_TLS_GATHER_BYTES) is taken on the first small write
 * and given back as soon as it is sent, so an idle connection holds none.
 * It is taken every turn that writes: from the owner's buffer pool when it
 * has one (a worker's, core/bufpool.h), else from malloc.
 *
 * Sniffing (CG_TLS_GATHER_SNIFF): the first bytes read are checked for a TLS
 * handshake record (0x16); anything else fails the read, and
 * cg_tls_gather_first_byte tells the owner what came instead (a plain HTTP
 * request on a TLS port), with no MSG_PEEK of its own.
 *
 * Skipping the read after a send (CG_TLS_GATHER_SKIP_READ): the first read
 * after gathered bytes were sent (by that read itself, or by a flush of the
 * owner's) returns "retry" without calling read(2): the answer to what was
 * just sent cannot be there yet. Only for owners that poll level-triggered,
 * where bytes already waiting make the next poll return at once.
 */
#ifndef CG_TLS_GATHER_H
#define CG_TLS_GATHER_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/bio.h>

struct cg_bufpool;

/* The BIO's state, in memory of its owner (a connection), so that the BIO
 * costs an idle connection no allocation of its own. Fields are private. */
struct cg_tls_gather {
    char *buf;            /* CG_TLS_GATHER_BYTES, NULL while nothing is gathered */
    struct cg_bufpool *pool; /* where buf comes from and goes back to; NULL: malloc */
    unsigned off, len;    /* buf[off, len) is still to be sent */
    int fd;
    int err;              /* a send failed with this errno: every call fails with it */
    short first_byte;     /* -1 until the peer sent something */
    unsigned char flags;
    bool not_tls;         /* sniffed: the first byte is no TLS handshake record */
    bool eof;             /* read(2) returned 0 */
    bool sent_unread;     /* bytes were sent since the last read */
};

/* Bytes gathered at most before they are sent: a handshake flight with a
 * long chain, a session ticket, a response head and a small body, and the
 * close_notify fit; bigger writes go out directly. Internal on purpose: it
 * changes how bytes are grouped into sends, never what is sent, and it is
 * held only while a turn of the connection lasts (or while a slow reader
 * leaves it unsent, like libssl's own record buffer), so it is no
 * per-connection cost an administrator has to weigh. */
#define CG_TLS_GATHER_BYTES (16 * 1024)
/* A write larger than this is not copied: it leaves at once, behind what is
 * gathered, in one sendmsg. Records of a large body are 16 KiB; copying them
 * would cost more than the send it saves. */
#define CG_TLS_GATHER_COPY_MAX 4096

#define CG_TLS_GATHER_SNIFF     1u
#define CG_TLS_GATHER_SKIP_READ 2u
/* Set by cg_tls_gather_closing(), not at creation. */
#define CG_TLS_GATHER_CLOSING   4u

/* A BIO on socket `fd` (non-blocking; not closed by the BIO), its state in
 * `g` (initialised here; must outlive the BIO). Its buffer comes from `pool`
 * (buffers of CG_TLS_GATHER_BYTES, used by this thread only; it must outlive
 * the BIO) or, when NULL, from malloc. NULL when out of memory. Freed with
 * BIO_free (or by the SSL it is given to), which gives back what it still
 * gathers. */
BIO *cg_tls_gather_new(struct cg_tls_gather *g, int fd, unsigned flags,
                       struct cg_bufpool *pool);

/* Sends what is gathered: CG_OK (nothing left), CG_AGAIN (the socket is
 * full: wait until it is writable and call again) or CG_ERR (errno says
 * why). */
int cg_tls_gather_flush(BIO *b);

/* The connection's sending side ends right after what is gathered now
 * (its close_notify): the caller shuts it down or closes the socket as soon
 * as cg_tls_gather_flush() says CG_OK. From then on sends carry MSG_MORE, so
 * the kernel keeps the last bytes until the FIN and sends both in one
 * segment, one packet fewer per connection for both ends to process. */
void cg_tls_gather_closing(BIO *b);

/* Bytes gathered and not sent yet. */
size_t cg_tls_gather_pending(BIO *b);

/* Forgets what is gathered (the peer is not to get it). */
void cg_tls_gather_discard(BIO *b);

/* With CG_TLS_GATHER_SNIFF: the first byte the peer sent, or -1 when it
 * sent nothing (yet, or before it closed). */
int cg_tls_gather_first_byte(BIO *b);

#endif

/*
 * tlslib.h: one TLS 1.3 mutual-TLS handshake, in memory, through any of
 * several TLS libraries ("engines"), so their costs can be set side by side
 * with the same certificates, the same key exchange and the same suite.
 *
 * The driver (tlslib.c) owns two byte pipes per handshake, one each way;
 * an engine reads from one and writes to the other through its library's
 * own transport hooks, never through sockets. An engine keeps nothing
 * between handshakes but its contexts (credentials, ticket keys, session
 * cache) and the client's saved session.
 */
#ifndef CG_BENCH_TLSLIB_H
#define CG_BENCH_TLSLIB_H

#include <stdbool.h>
#include <stddef.h>

#define TL_PIPE_CAP 65536

/* Bytes in flight from one side to the other; read from the front. */
struct tl_pipe {
    unsigned char buf[TL_PIPE_CAP];
    size_t len;
};

/* Reads at most n bytes; returns how many (0: empty). */
size_t tl_pipe_read(struct tl_pipe *p, void *dst, size_t n);
/* Appends n bytes; returns n, or 0 when they do not fit (a bug here). */
size_t tl_pipe_write(struct tl_pipe *p, const void *src, size_t n);

/* The PEM files every engine loads: one PKI for all of them. */
struct tl_pki {
    char root[4096];           /* the root: the server trusts it for client chains */
    char server_chain[4096];   /* server leaf + intermediate */
    char server_key[4096];
    char client_chain[4096];   /* client leaf + intermediate */
    char client_key[4096];
};

struct tl_conf {
    const struct tl_pki *pki;
    bool server_verifies;      /* the library verifies the client's chain against
                                  the root in the handshake (nginx's way); else the
                                  chain is received and kept, not verified (certgate's
                                  way: its verdict engine and cache do it afterwards) */
};

struct tl_engine {
    const char *name;
    const char *(*version)(void);
    /* Contexts: credentials and settings shared by every connection. */
    void *(*ctx_new)(bool server, const struct tl_conf *conf, char *err, size_t err_len);
    void (*ctx_free)(void *ctx);
    /* A connection reading rd and writing wr; a client resumes sess if given. */
    void *(*conn_new)(void *ctx, bool server, struct tl_pipe *rd, struct tl_pipe *wr, void *sess);
    /* 1 done, 0 waiting for bytes, -1 failed (err filled). */
    int (*handshake)(void *conn, char *err, size_t err_len);
    /* Client, after the handshake: reads what came after it (tickets).
     * 0, or -1 on an error. */
    int (*drain)(void *conn, char *err, size_t err_len);
    bool (*resumed)(void *conn);
    /* Server: the number of certificates the client presented (as the
     * server holds them after the handshake; resumed: what the session kept). */
    int (*peer_chain_len)(void *conn);
    /* Client: the session to resume next (a new reference), or NULL. */
    void *(*session_get)(void *conn);
    void (*session_free)(void *sess);
    /* Ends the connection as a server or client does (close_notify) and frees it. */
    void (*conn_close)(void *conn);
};

extern const struct tl_engine tl_engine_openssl;
#ifdef TL_HAVE_GNUTLS
extern const struct tl_engine tl_engine_gnutls;
#endif
#ifdef TL_HAVE_WOLFSSL
extern const struct tl_engine tl_engine_wolfssl;
#endif

#endif

/*
 * internal.h: the shapes shared by the files of src/server (not a public
 * contract; server.h is).
 *
 * Threads: one control thread (the caller of cg_server_run: signals, reload,
 * shutdown) and N workers, each with its own loop, its own SO_REUSEPORT
 * listening sockets, its own connections and access-log buffer. Workers
 * share only read-mostly state: the current generation pointer (read under
 * gen_lock only when the control thread wakes them), the listener table
 * (appended by the control thread before it wakes them), the connection
 * counter (an atomic, touched once per connection).
 *
 * Generations: a generation is one config snapshot plus everything built
 * from it (SSL_CTXs, document roots). It is refcounted: the server holds
 * one reference to the current one, each worker one to the one it accepts
 * with, each connection one to the one it was accepted with. A reload
 * builds a new generation to the side and swaps it whole; the old one is
 * freed by whoever drops its last reference.
 */
#ifndef CG_SERVER_INTERNAL_H
#define CG_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cert/fetch.h"
#include "cert/revcache.h"
#include "cert/revocation.h"
#include "cert/vcache.h"
#include "cert/verdict.h"
#include "conf/config.h"
#include "core/access_log.h"
#include "core/bufpool.h"
#include "core/loop.h"
#include "core/metrics.h"
#include "http/filecache.h"
#include "http/static.h"
#include "tls/session_cache.h"
#include "tls/tls.h"

#define CG_SERVER_MAX_LISTENERS 64
/* Connections accepted per readiness event before the loop moves on: keeps
 * a flood of new connections from starving established ones. */
#define CG_SERVER_ACCEPT_BATCH 64
/* Bytes of a file read per SSL_write on TLS connections. */
#define CG_SERVER_FILE_CHUNK (64 * 1024)

struct cg_server;
struct cg_conn;

struct cg_gen {
    atomic_int refs;
    unsigned id;
    struct cg_conf *conf;                 /* owned reference */
    struct cg_tls_listener **tls;         /* per conf listener; NULL for plain ones */
    struct cg_static_root **roots;        /* per conf site; NULL when the site has no root */
    struct cg_trust *trust;               /* conf->stores loaded; NULL when none configured.
                                             Reloaded with the generation (SIGHUP). */
    /* Borrowed from the server (which outlives every generation): NULL when
     * no site of this config checks revocation. Read through the generation,
     * never through the server, so a worker sees them published with it. */
    struct cg_fetcher *fetcher;
    struct cg_revcache *revcache;
    /* server listener index -> conf listener index, CG_GEN_UNUSED when this
     * generation does not listen there (the listener was retired), or
     * CG_GEN_ADMIN for the admin listener. */
    long by_socket[CG_SERVER_MAX_LISTENERS];
    /* conf site index -> its slot in the server's metrics (admin.h); NULL
     * when built without a server. */
    size_t *metric_slot;
};

#define CG_GEN_UNUSED (-1)
#define CG_GEN_ADMIN  (-2)

/* One socket address, listened on by every worker; survives reloads. */
struct cg_listener {
    struct sockaddr_storage conf_addr;    /* as configured (port may be 0) */
    socklen_t conf_len;
    struct sockaddr_storage addr;         /* actually bound */
    socklen_t addr_len;
    char name[64];                        /* "127.0.0.1:43211", "[::1]:8443" */
    bool tls;
    bool admin;                           /* opened for the admin listener: never a site's */
    bool wildcard;                        /* bound to 0.0.0.0 / :: */
    atomic_bool retired;                  /* no longer in the config: workers close it */
    int *fds;                             /* one per worker; the worker owns and closes it */
};

/* A parked request's fetches are over: its token, and what the fetches did
 * (heap, may be NULL), handed to the connection or freed. */
struct cg_rev_ready {
    uint64_t token;
    char *fetched;
};

struct cg_worker {
    struct cg_server *srv;
    unsigned idx;
    pthread_t thread;
    bool started;
    struct cg_loop *loop;
    struct cg_gen *gen;                   /* reference */
    unsigned gen_seen;                    /* id of gen; under srv->gen_lock */
    struct cg_metrics_shard *ms;          /* this worker's counters (admin.h) */
    struct cg_io lio[CG_SERVER_MAX_LISTENERS];
    size_t n_lio;                         /* listeners registered so far */
    struct cg_timer flush_timer, drain_timer, stop_timer;
    struct cg_access_log_buffer alog;
    bool alog_ok;
    struct cg_bufpool in_pool;            /* request input + header array (cg_conn_in_size) */
    struct cg_bufpool out_pool;           /* response head + a file chunk (cg_conn_out_size) */
    struct cg_bufpool gather_pool;        /* TLS output gathered in a turn (tls/gather.h) */
    struct cg_file_cache *files;          /* small static files (http/filecache.h), this
                                             worker's only; NULL when file_cache_entries
                                             is 0 (or it could not be made) */
    struct cg_conn *conns;                /* doubly linked list of live connections */
    size_t n_conns;
    bool draining;
    int64_t date_s;                       /* second of `date` */
    char date[40];
    int64_t refused_log_s;                /* last "max_connections" log line */
    uint64_t refused_quiet;               /* refusals not logged since */

    /* Requests parked for revocation answers (conn.c). The fetcher thread
     * posts the token of a request whose fetches are over to rev_ready
     * (under rev_lock) and wakes the loop; the loop resumes the connection
     * holding that token, if it still exists: a token, never a pointer,
     * crosses threads, so a connection closed or a request timed out
     * meanwhile is simply not found. */
    pthread_mutex_t rev_lock;
    bool rev_lock_ok;
    struct cg_rev_ready *rev_ready;       /* under rev_lock */
    size_t n_rev_ready, cap_rev_ready;
    struct cg_timer rev_timer;            /* resumes outside the epoll batch */
    uint64_t next_park;                   /* token source (loop thread) */
    struct cg_conn *parked;               /* list of parked connections */
};

struct cg_server {
    unsigned n_workers;
    struct cg_worker *workers;
    struct cg_listener listeners[CG_SERVER_MAX_LISTENERS];
    size_t n_listeners;                   /* written by control thread before a wake */
    pthread_mutex_t gen_lock;
    pthread_cond_t gen_cond;
    struct cg_gen *gen;                   /* current; under gen_lock */
    unsigned next_gen_id;
    atomic_uint n_conns;
    atomic_bool stopping;
    struct cg_access_log *alog;
    struct cg_tls_session_cache *sessions;   /* outlives every generation: sessions
                                                survive reloads (see session_cache.h) */
    struct cg_vcache *verdicts;           /* shared by the workers and the generations:
                                             the trust epoch in its key keeps a reload's
                                             stores apart (see cert/vcache.h); NULL when
                                             limits.verification_cache_entries is 0 */
    unsigned verdicts_entries;            /* the limits it was made with: a reload */
    size_t verdicts_bytes;                /* that changes them is told to restart */
    long verdicts_max_age, verdicts_rev_age, verdicts_unknown_age;
    unsigned ecdsa_key_tables, ecdsa_key_table_uses;   /* limits.ecdsa_key_table*, at start */
    unsigned decoded_certificates;                     /* limits.decoded_certificate*, at start */
    size_t decoded_certificate_max_bytes;
    const char *conf_path;                /* NULL: reload rebuilds from the same snapshot */
    /* Online revocation, one of each per process, created by the first
     * generation whose config checks revocation and kept across reloads
     * (answers outlive a config change); freed after the workers stop. */
    struct cg_fetcher *fetcher;
    struct cg_revcache *revcache;
    /* The counters (admin.h): made at start, kept across reloads. The site
     * names given a slot so far (control thread only). */
    struct cg_metrics *metrics;
    char **metric_sites;
    size_t n_metric_sites, max_metric_sites;
    struct cg_rev_refresher *refresher;   /* the cache's background refresh, on the
                                             fetcher thread */
    unsigned rev_timeout_ms;              /* what they were made with (the widest of
                                             the sites): a reload that changes it */
    long rev_grace_s;                     /* is told to restart */
    long rev_skew_s;
};

/* Adds one to counter i of the worker's shard. */
static inline void cg_worker_count(struct cg_worker *w, size_t i) { cg_metrics_add(w->ms, i, 1); }

/* gen.c */
int cg_gen_build(struct cg_server *srv, struct cg_conf *conf, struct cg_gen **out, char **err);
struct cg_gen *cg_gen_ref(struct cg_gen *g);
void cg_gen_unref(struct cg_gen *g);   /* NULL-safe */

/* conn.c */
/* Accepts what is pending on listener `li` of worker w. */
void cg_conn_accept(struct cg_worker *w, size_t li);
/* Draining: closes idle connections, asks the others to close after their
 * current response. */
void cg_conn_drain_all(struct cg_worker *w);
/* Closes every connection now (the drain deadline passed, or exit). */
void cg_conn_close_all(struct cg_worker *w);
/* Sizes of the pooled per-request buffers. */
size_t cg_conn_in_size(const struct cg_limits *lim);
size_t cg_conn_out_size(void);
/* Resumes the parked requests whose revocation fetches are over (on the
 * loop thread, from a timer: never inside an epoll batch). */
void cg_conn_revocation_ready(struct cg_worker *w);

/* server.c */
/* Called by conn.c when a worker's connection count drops. */
void cg_worker_conn_gone(struct cg_worker *w);
/* The cached IMF-fixdate of the current second. */
const char *cg_worker_date(struct cg_worker *w);

#endif

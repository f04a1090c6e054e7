/*
 * server.c: listeners, worker threads, the control thread (signals, reload,
 * shutdown). The connection itself lives in conn.c.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cert/ec_keydecode.h"
#include "cert/ecdsa_tables.h"
#include "tls/cert_reuse.h"
#include "tls/fetch_cache.h"
#include "tls/key_exchange.h"
#include "tls/key_schedule.h"
#include "core/common.h"
#include "core/log.h"
#include "server/admin.h"
#include "server/internal.h"

#define CG_SERVER_BACKLOG 4096
#define CG_SERVER_FLUSH_MS 1000
/* Free request buffers each worker keeps for the next requests (of each
 * kind): enough for bursts of concurrent requests without malloc churn,
 * about 1.6 MiB a worker at the default limits. */
#define CG_SERVER_POOL_KEEP 16
/* How long the control thread waits for every worker to take a new
 * generation before it says so in the log anyway. */
#define CG_SERVER_ACK_WAIT_S 5

/* ---- addresses ------------------------------------------------------------- */

static bool addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

static void addr_name(const struct sockaddr_storage *ss, char *out, size_t cap, bool *wildcard)
{
    char ip[INET6_ADDRSTRLEN] = "?";

    *wildcard = false;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)ss;
        inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
        *wildcard = s->sin_addr.s_addr == htonl(INADDR_ANY);
        snprintf(out, cap, "%s:%u", ip, ntohs(s->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const void *)ss;
        inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
        *wildcard = IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr);
        snprintf(out, cap, "[%s]:%u", ip, ntohs(s->sin6_port));
    } else {
        snprintf(out, cap, "?");
    }
}

/* ---- listeners ------------------------------------------------------------- */

static void listener_close(struct cg_listener *l, unsigned n_workers)
{
    for (unsigned i = 0; l->fds != NULL && i < n_workers; i++) {
        if (l->fds[i] >= 0)
            close(l->fds[i]);
    }
    free(l->fds);
    l->fds = NULL;
}

/*
 * One socket per worker on the same address (SO_REUSEPORT spreads new
 * connections across them). Port 0: the first bind picks the port and the
 * others bind that same port.
 */
static int listener_open(struct cg_server *srv, const struct cg_conf_listener *cl,
                         struct cg_listener *l, char **err)
{
    struct sockaddr_storage addr = cl->addr;
    socklen_t len = cl->addr_len;
    int one = 1;

    memset(l, 0, sizeof(*l));
    l->conf_addr = cl->addr;
    l->conf_len = cl->addr_len;
    l->tls = cl->tls;
    atomic_init(&l->retired, false);
    l->fds = malloc(srv->n_workers * sizeof(*l->fds));
    if (l->fds == NULL)
        return cg_set_err(err, "out of memory");
    for (unsigned i = 0; i < srv->n_workers; i++)
        l->fds[i] = -1;
    for (unsigned i = 0; i < srv->n_workers; i++) {
        int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            cg_set_err(err, "listen %s: socket: %s", cl->listen, strerror(errno));
            goto fail;
        }
        l->fds[i] = fd;
        /* TCP_NODELAY here: Linux gives it to every accepted socket, which
         * saves a setsockopt per connection. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
            (addr.ss_family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0)) {
            cg_set_err(err, "listen %s: setsockopt: %s", cl->listen, strerror(errno));
            goto fail;
        }
        if (bind(fd, (struct sockaddr *)&addr, len) < 0) {
            cg_set_err(err, "listen %s: bind: %s", cl->listen, strerror(errno));
            goto fail;
        }
        if (listen(fd, CG_SERVER_BACKLOG) < 0) {
            cg_set_err(err, "listen %s: listen: %s", cl->listen, strerror(errno));
            goto fail;
        }
        if (i == 0) {
            l->addr_len = sizeof(l->addr);
            if (getsockname(fd, (struct sockaddr *)&l->addr, &l->addr_len) < 0) {
                cg_set_err(err, "listen %s: getsockname: %s", cl->listen, strerror(errno));
                goto fail;
            }
            addr = l->addr;
            len = l->addr_len;
        }
    }
    addr_name(&l->addr, l->name, sizeof(l->name), &l->wildcard);
    return CG_OK;
fail:
    listener_close(l, srv->n_workers);
    return CG_ERR;
}

/* The open listener for address `a` in the role asked (a site's or the
 * admin's: "127.0.0.1:0" names a different socket for each). */
static long find_listener(const struct cg_server *srv, size_t n, const struct sockaddr_storage *a,
                          bool admin)
{
    for (size_t i = 0; i < n; i++) {
        if (!atomic_load(&srv->listeners[i].retired) && srv->listeners[i].admin == admin &&
            addr_equal(&srv->listeners[i].conf_addr, a))
            return (long)i;
    }
    return -1;
}

/*
 * Opens the listeners `conf` needs that are not open yet (at table indexes
 * from *n on, advancing *n) and fills gen->by_socket. On failure what was
 * opened here is closed and *n is back where it was.
 */
static int listeners_prepare(struct cg_server *srv, const struct cg_conf *conf,
                             struct cg_gen *gen, size_t *n, char **err)
{
    size_t start = *n;

    for (size_t j = 0; j < conf->n_listeners; j++) {
        const struct cg_conf_listener *cl = &conf->listeners[j];
        long i = find_listener(srv, *n, &cl->addr, false);
        if (i >= 0) {
            if (srv->listeners[i].tls != cl->tls) {
                cg_set_err(err, "listen %s changed between http and https: restart to apply",
                           cl->listen);
                goto fail;
            }
        } else {
            if (*n == CG_SERVER_MAX_LISTENERS) {
                cg_set_err(err, "more than %d listen addresses", CG_SERVER_MAX_LISTENERS);
                goto fail;
            }
            if (listener_open(srv, cl, &srv->listeners[*n], err) != CG_OK)
                goto fail;
            i = (long)(*n)++;
        }
        gen->by_socket[i] = (long)j;
    }
    if (conf->admin.listen != NULL) {
        long i = find_listener(srv, *n, &conf->admin.addr, true);
        if (i < 0) {
            struct cg_conf_listener al = {.listen = conf->admin.listen,
                                          .addr = conf->admin.addr,
                                          .addr_len = conf->admin.addr_len};
            if (*n == CG_SERVER_MAX_LISTENERS) {
                cg_set_err(err, "more than %d listen addresses", CG_SERVER_MAX_LISTENERS);
                goto fail;
            }
            if (listener_open(srv, &al, &srv->listeners[*n], err) != CG_OK)
                goto fail;
            srv->listeners[*n].admin = true;
            i = (long)(*n)++;
        }
        gen->by_socket[i] = CG_GEN_ADMIN;
    }
    return CG_OK;
fail:
    while (*n > start)
        listener_close(&srv->listeners[--*n], srv->n_workers);
    return CG_ERR;
}

/* ---- workers --------------------------------------------------------------- */

const char *cg_worker_date(struct cg_worker *w)
{
    int64_t now = cg_loop_wall_s(w->loop);

    if (now != w->date_s) {
        if (cg_http_date_format((time_t)now, w->date, sizeof(w->date)) == CG_OK)
            w->date_s = now;
    }
    return w->date;
}

static void on_listener(struct cg_loop *loop, struct cg_io *io, uint32_t events)
{
    struct cg_worker *w = io->data;

    (void)loop;
    (void)events;
    cg_conn_accept(w, (size_t)(io - w->lio));
}

static void worker_close_listener(struct cg_worker *w, size_t i)
{
    struct cg_io *io = &w->lio[i];

    if (io->fd < 0)
        return;
    cg_io_set(w->loop, io, 0);
    close(io->fd);
    io->fd = -1;
    w->srv->listeners[i].fds[w->idx] = -1;
}

/* Takes the listeners the control thread added, closes the retired ones. */
static void worker_sync_listeners(struct cg_worker *w, size_t n)
{
    for (size_t i = w->n_lio; i < n; i++) {
        struct cg_io *io = &w->lio[i];
        io->fd = w->srv->listeners[i].fds[w->idx];
        io->cb = on_listener;
        io->data = w;
        io->events = 0;
        if (!w->draining && cg_io_set(w->loop, io, EPOLLIN) != CG_OK)
            cg_log(CG_LOG_ERROR, "worker %u: cannot watch listener %s: %s", w->idx,
                   w->srv->listeners[i].name, strerror(errno));
    }
    w->n_lio = n > w->n_lio ? n : w->n_lio;
    for (size_t i = 0; i < w->n_lio; i++) {
        if (atomic_load(&w->srv->listeners[i].retired))
            worker_close_listener(w, i);
    }
}

void cg_worker_conn_gone(struct cg_worker *w)
{
    if (w->draining && w->n_conns == 0)
        cg_loop_stop(w->loop);
}

static void on_flush(struct cg_loop *loop, struct cg_timer *t)
{
    struct cg_worker *w = t->data;

    if (w->alog_ok)
        cg_access_log_flush(&w->alog);
    cg_timer_arm(loop, t, CG_SERVER_FLUSH_MS);
}

static void on_drain_deadline(struct cg_loop *loop, struct cg_timer *t)
{
    struct cg_worker *w = t->data;

    cg_conn_close_all(w);
    cg_loop_stop(loop);
}

/* Runs from a timer, never from the wake callback: closing connections in
 * the middle of an epoll batch could free one that a later event names. */
static void on_stop(struct cg_loop *loop, struct cg_timer *t)
{
    struct cg_worker *w = t->data;

    if (w->draining)
        return;
    w->draining = true;
    for (size_t i = 0; i < w->n_lio; i++)
        worker_close_listener(w, i);
    cg_timer_arm(loop, &w->drain_timer, w->gen->conf->limits.shutdown_timeout_ms);
    cg_conn_drain_all(w);
    if (w->n_conns == 0)
        cg_loop_stop(loop);
}

static void on_rev_ready(struct cg_loop *loop, struct cg_timer *t)
{
    (void)loop;
    cg_conn_revocation_ready(t->data);
}

/* The worker's file cache under the limits of its generation: made, given
 * new limits (which empties it) or freed. Without memory the worker serves
 * without a cache, as with file_cache_entries: 0. */
static void worker_sync_files(struct cg_worker *w)
{
    const struct cg_limits *l = &w->gen->conf->limits;
    struct cg_file_cache_limits fl = {
        .entries = l->file_cache_entries,
        .bytes = l->file_cache_bytes,
        .max_file = l->file_cache_max_file,
        .valid_ms = l->file_cache_valid_ms,
    };

    if (fl.entries == 0) {
        cg_file_cache_free(w->files);
        w->files = NULL;
        return;
    }
    if (w->files != NULL && cg_file_cache_set_limits(w->files, &fl) == CG_OK)
        return;
    cg_file_cache_free(w->files);
    w->files = cg_file_cache_new(&fl);
    if (w->files == NULL)
        cg_log(CG_LOG_WARN, "worker %u: no memory for the file cache; serving without it",
               w->idx);
}

static void on_wake(struct cg_loop *loop, void *data)
{
    struct cg_worker *w = data;
    struct cg_server *srv = w->srv;
    struct cg_gen *old = NULL;
    size_t n;
    bool rev;

    /* Revocation answers came in: resumed from a timer, because resuming
     * may close a connection that a later event of this epoll batch names. */
    pthread_mutex_lock(&w->rev_lock);
    rev = w->n_rev_ready > 0;
    pthread_mutex_unlock(&w->rev_lock);
    if (rev && !cg_timer_armed(&w->rev_timer))
        cg_timer_arm(loop, &w->rev_timer, 0);

    pthread_mutex_lock(&srv->gen_lock);
    if (srv->gen != w->gen) {
        old = w->gen;
        w->gen = cg_gen_ref(srv->gen);
    }
    w->gen_seen = w->gen->id;
    n = srv->n_listeners;
    pthread_cond_broadcast(&srv->gen_cond);
    pthread_mutex_unlock(&srv->gen_lock);
    cg_gen_unref(old);
    cg_bufpool_resize(&w->in_pool, cg_conn_in_size(&w->gen->conf->limits));
    worker_sync_files(w);
    worker_sync_listeners(w, n);
    if (atomic_load(&srv->stopping) && !cg_timer_armed(&w->stop_timer))
        cg_timer_arm(loop, &w->stop_timer, 0);
}

static void *worker_main(void *arg)
{
    struct cg_worker *w = arg;

    cg_fetch_cache_thread_arm();
    if (cg_loop_run(w->loop) != CG_OK)
        cg_log(CG_LOG_ERROR, "worker %u: event loop failed: %s", w->idx, strerror(errno));
    cg_conn_close_all(w);
    for (size_t i = 0; i < w->n_lio; i++)
        worker_close_listener(w, i);
    if (w->alog_ok)
        cg_access_log_buffer_free(&w->alog);
    w->alog_ok = false;
    return NULL;
}

static int worker_init(struct cg_server *srv, struct cg_worker *w, unsigned idx, char **err)
{
    w->srv = srv;
    w->idx = idx;
    w->date_s = -1;
    w->loop = cg_loop_new(on_wake, w, err);
    if (w->loop == NULL)
        return CG_ERR;
    w->gen = cg_gen_ref(srv->gen);
    w->gen_seen = w->gen->id;
    w->ms = cg_metrics_shard(srv->metrics, idx);
    cg_bufpool_init(&w->in_pool, cg_conn_in_size(&w->gen->conf->limits), CG_SERVER_POOL_KEEP);
    cg_bufpool_init(&w->out_pool, cg_conn_out_size(), CG_SERVER_POOL_KEEP);
    cg_bufpool_init(&w->gather_pool, CG_TLS_GATHER_BYTES, CG_SERVER_POOL_KEEP);
    worker_sync_files(w);
    w->flush_timer.cb = on_flush;
    w->flush_timer.data = w;
    w->drain_timer.cb = on_drain_deadline;
    w->drain_timer.data = w;
    w->stop_timer.cb = on_stop;
    w->stop_timer.data = w;
    w->rev_timer.cb = on_rev_ready;
    w->rev_timer.data = w;
    if (pthread_mutex_init(&w->rev_lock, NULL) != 0)
        return cg_set_err(err, "pthread_mutex_init failed");
    w->rev_lock_ok = true;
    if (srv->alog != NULL) {
        if (cg_access_log_buffer_init(&w->alog, srv->alog, 0) != CG_OK)
            return cg_set_err(err, "out of memory");
        w->alog_ok = true;
    }
    if (cg_timer_arm(w->loop, &w->flush_timer, CG_SERVER_FLUSH_MS) != CG_OK)
        return cg_set_err(err, "out of memory");
    worker_sync_listeners(w, srv->n_listeners);
    return CG_OK;
}

static void worker_fini(struct cg_worker *w)
{
    if (w->rev_lock_ok)
        pthread_mutex_destroy(&w->rev_lock);
    w->rev_lock_ok = false;
    for (size_t i = 0; i < w->n_rev_ready; i++)
        free(w->rev_ready[i].fetched);
    free(w->rev_ready);
    w->rev_ready = NULL;
    cg_bufpool_fini(&w->in_pool);
    cg_bufpool_fini(&w->out_pool);
    cg_bufpool_fini(&w->gather_pool);
    cg_file_cache_free(w->files);
    w->files = NULL;
    if (w->alog_ok)
        cg_access_log_buffer_free(&w->alog);
    cg_gen_unref(w->gen);
    w->gen = NULL;
    cg_loop_free(w->loop);
    w->loop = NULL;
}

/* ---- control thread -------------------------------------------------------- */

static void wake_all(struct cg_server *srv)
{
    for (unsigned i = 0; i < srv->n_workers; i++)
        cg_loop_wake(srv->workers[i].loop);
}

/* Publishes `gen` (takes the caller's reference) and waits until every
 * worker took it, so that the log line after this tells the truth. */
static void publish(struct cg_server *srv, struct cg_gen *gen, size_t n_listeners)
{
    struct cg_gen *old;
    struct timespec until;
    bool all = false;

    pthread_mutex_lock(&srv->gen_lock);
    old = srv->gen;
    srv->gen = gen;
    srv->n_listeners = n_listeners;
    pthread_mutex_unlock(&srv->gen_lock);
    wake_all(srv);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += CG_SERVER_ACK_WAIT_S;
    pthread_mutex_lock(&srv->gen_lock);
    while (!all) {
        all = true;
        for (unsigned i = 0; i < srv->n_workers; i++)
            all = all && srv->workers[i].gen_seen == gen->id;
        if (!all && pthread_cond_timedwait(&srv->gen_cond, &srv->gen_lock, &until) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&srv->gen_lock);
    cg_gen_unref(old);
}

static void reload(struct cg_server *srv)
{
    struct cg_conf *conf = NULL;
    struct cg_gen *gen = NULL;
    char *err = NULL;
    size_t n = srv->n_listeners;

    cg_log(CG_LOG_INFO, "reload: loading %s", srv->conf_path != NULL ? srv->conf_path : "(same config)");
    if (srv->conf_path != NULL) {
        if (cg_conf_load(srv->conf_path, &conf, &err) != CG_OK)
            goto refused;
    } else {
        conf = cg_conf_ref(srv->gen->conf);
    }
    if (conf->workers != srv->n_workers)
        cg_log(CG_LOG_WARN, "reload: workers changed from %u to %u: restart to apply",
               srv->n_workers, conf->workers);
    if (conf->admin.max_sites != srv->max_metric_sites)
        cg_log(CG_LOG_WARN, "reload: admin.max_sites changed from %zu to %u: restart to apply",
               srv->max_metric_sites, conf->admin.max_sites);
    /* The verification cache lives as long as the process (its entries are
     * keyed by the trust generation, so a reload needs no new one). */
    if (conf->limits.verification_cache_entries != srv->verdicts_entries ||
        conf->limits.verification_cache_bytes != srv->verdicts_bytes ||
        conf->limits.verification_cache_max_age_s != srv->verdicts_max_age ||
        conf->limits.verification_cache_revocation_age_s != srv->verdicts_rev_age ||
        conf->limits.verification_cache_unknown_age_s != srv->verdicts_unknown_age)
        cg_log(CG_LOG_WARN, "reload: limits.verification_cache_entries, _bytes, _max_age, "
               "_revocation_age or _unknown_age changed: restart to apply");
    /* How EC keys are decoded is chosen once per process (ec_keydecode.h),
     * and so are the bounds of the worker threads' key tables. */
    if (conf->limits.ecdsa_key_tables != srv->ecdsa_key_tables ||
        conf->limits.ecdsa_key_table_uses != srv->ecdsa_key_table_uses)
        cg_log(CG_LOG_WARN, "reload: limits.ecdsa_key_tables or _uses changed: restart to apply");
    if (conf->limits.decoded_certificates != srv->decoded_certificates ||
        conf->limits.decoded_certificate_max_bytes != srv->decoded_certificate_max_bytes)
        cg_log(CG_LOG_WARN, "reload: limits.decoded_certificates or decoded_certificate_max_bytes "
               "changed: restart to apply");
    if (conf->ec_key_decoding != cg_ec_keydecode_current())
        cg_log(CG_LOG_WARN, "reload: ec_key_decoding changed from %s to %s: restart to apply",
               cg_ec_keydecode_name(cg_ec_keydecode_current()),
               cg_ec_keydecode_name(conf->ec_key_decoding));
    /* So is who computes the TLS 1.3 key schedule (key_schedule.h): the
     * running contexts were made with the start-up choice. */
    if (conf->key_schedule != cg_key_schedule_current())
        cg_log(CG_LOG_WARN, "reload: tls_key_schedule changed from %s to %s: restart to apply",
               cg_key_schedule_name(cg_key_schedule_current()),
               cg_key_schedule_name(conf->key_schedule));
    /* And who computes the X25519 key exchange (key_exchange.h). */
    if (conf->key_exchange != cg_key_exchange_current())
        cg_log(CG_LOG_WARN, "reload: tls_key_exchange changed from %s to %s: restart to apply",
               cg_key_exchange_name(cg_key_exchange_current()),
               cg_key_exchange_name(conf->key_exchange));
    if (cg_gen_build(srv, conf, &gen, &err) != CG_OK)
        goto refused;
    gen->id = ++srv->next_gen_id;
    if (listeners_prepare(srv, conf, gen, &n, &err) != CG_OK)
        goto refused;
    /* Addresses the new config no longer names stop listening. */
    for (size_t i = 0; i < n; i++) {
        if (gen->by_socket[i] == CG_GEN_UNUSED && !atomic_load(&srv->listeners[i].retired)) {
            atomic_store(&srv->listeners[i].retired, true);
            cg_log(CG_LOG_INFO, "reload: no longer listening on %s", srv->listeners[i].name);
        }
    }
    for (size_t i = srv->n_listeners; i < n; i++)
        cg_log(CG_LOG_INFO, "reload: now listening on %s (%s)", srv->listeners[i].name,
               srv->listeners[i].admin ? "admin" : srv->listeners[i].tls ? "https" : "http");
    cg_log_set_level(conf->error_log.level);
    /* The session cache outlives generations (sessions survive a reload);
     * its bound follows the configuration. */
    if (cg_tls_session_cache_set_max(srv->sessions, conf->limits.tls_session_cache) != CG_OK)
        cg_log(CG_LOG_WARN, "reload: TLS session cache: out of memory growing its table to "
               "limits.tls_session_cache %u (bound applied, lookups slower)",
               conf->limits.tls_session_cache);
    publish(srv, gen, n);
    cg_log(CG_LOG_INFO, "reload: generation %u applied", srv->next_gen_id);
    cg_conf_unref(conf);
    return;
refused:
    cg_log(CG_LOG_ERROR, "reload: refused, the previous configuration keeps serving: %s",
           err != NULL ? err : "unknown error");
    free(err);
    if (gen != NULL)
        srv->next_gen_id--;
    cg_gen_unref(gen);
    cg_conf_unref(conf);
}

static void reopen_logs(struct cg_server *srv)
{
    char *err = NULL;

    if (cg_log_reopen(&err) != CG_OK) {
        cg_log(CG_LOG_ERROR, "reopen: error log: %s", err != NULL ? err : "failed");
        free(err);
        err = NULL;
    }
    if (srv->alog != NULL && cg_access_log_reopen(srv->alog, &err) != CG_OK) {
        cg_log(CG_LOG_ERROR, "reopen: access log: %s", err != NULL ? err : "failed");
        free(err);
    }
    cg_log(CG_LOG_INFO, "reopen: log files reopened");
}

static int write_ready(struct cg_server *srv, const char *path, char **err)
{
    const struct cg_conf *conf = srv->gen->conf;
    FILE *f = NULL;
    int fd;

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return cg_set_err(err, "ready file %s: %s", path, strerror(errno));
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        return cg_set_err(err, "ready file %s: %s", path, strerror(errno));
    }
    for (size_t s = 0; s < conf->n_sites; s++) {
        for (size_t b = 0; b < conf->sites[s].n_bindings; b++) {
            const struct cg_conf_binding *bd = &conf->sites[s].bindings[b];
            bool seen = false;
            /* One line per distinct spelling. */
            for (size_t s2 = 0; s2 <= s && !seen; s2++) {
                size_t lim = s2 == s ? b : conf->sites[s2].n_bindings;
                for (size_t b2 = 0; b2 < lim && !seen; b2++)
                    seen = strcmp(conf->sites[s2].bindings[b2].listen, bd->listen) == 0;
            }
            if (seen)
                continue;
            for (size_t i = 0; i < srv->n_listeners; i++) {
                if (srv->gen->by_socket[i] == (long)bd->listener) {
                    fprintf(f, "%s %s %s\n", bd->listen, srv->listeners[i].name,
                            bd->tls ? "https" : "http");
                    break;
                }
            }
        }
    }
    /* "admin" is no listen address, so no binding's line can look like it. */
    for (size_t i = 0; i < srv->n_listeners; i++) {
        if (srv->gen->by_socket[i] == CG_GEN_ADMIN)
            fprintf(f, "admin %s http\n", srv->listeners[i].name);
    }
    fprintf(f, "ready %ld\n", (long)getpid());
    if (fclose(f) != 0)
        return cg_set_err(err, "ready file %s: %s", path, strerror(errno));
    return CG_OK;
}

/* Returns when SIGTERM or SIGINT arrives. */
static int control_loop(struct cg_server *srv, const sigset_t *set)
{
    int sfd = signalfd(-1, set, SFD_CLOEXEC);

    if (sfd < 0) {
        cg_log(CG_LOG_ERROR, "signalfd: %s", strerror(errno));
        return CG_ERR;
    }
    for (;;) {
        struct signalfd_siginfo si;
        ssize_t n = read(sfd, &si, sizeof(si));
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof(si)) {
            cg_log(CG_LOG_ERROR, "signalfd read: %s", strerror(errno));
            close(sfd);
            return CG_ERR;
        }
        switch (si.ssi_signo) {
        case SIGHUP: reload(srv); break;
        case SIGUSR1: reopen_logs(srv); break;
        case SIGTERM:
        case SIGINT:
            cg_log(CG_LOG_INFO, "shutdown: %s received, draining (deadline %u ms)",
                   si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT",
                   srv->gen->conf->limits.shutdown_timeout_ms);
            close(sfd);
            return CG_OK;
        default: break;
        }
    }
}

int cg_server_run(struct cg_conf *conf, const struct cg_server_opts *opts, char **err)
{
    struct cg_server *srv = NULL;
    sigset_t set, old_set;
    size_t n = 0;
    unsigned started = 0;
    int rc = CG_ERR;
    bool mutex_ok = false, cond_ok = false;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    /* Blocked before any thread starts, so every thread inherits the mask
     * and only the control thread's signalfd sees them. */
    pthread_sigmask(SIG_BLOCK, &set, &old_set);
    /* Before any store or TLS context decodes a key, and before threads. */
    if (cg_ec_keydecode_select(conf->ec_key_decoding, err) != CG_OK)
        goto done;
    cg_ecdsa_tables_configure(conf->limits.ecdsa_key_tables, conf->limits.ecdsa_key_table_uses);
    cg_cert_reuse_configure(conf->limits.decoded_certificates,
                            conf->limits.decoded_certificate_max_bytes);
    /* Before any SSL_CTX is made: they take its property query. */
    if (cg_key_schedule_select(conf->key_schedule, err) != CG_OK ||
        cg_key_exchange_select(conf->key_exchange, err) != CG_OK)
        goto done;
    if (cg_tls_global_init(err) != CG_OK)
        goto done;
    /* The providers are in place for the life of the process (a reload
     * changes none): libssl's key-schedule fetches are done once per
     * thread from here on (fetch_cache.h). */
    cg_fetch_cache_enable();
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    if (pthread_mutex_init(&srv->gen_lock, NULL) != 0) {
        cg_set_err(err, "pthread_mutex_init failed");
        goto done;
    }
    mutex_ok = true;
    if (pthread_cond_init(&srv->gen_cond, NULL) != 0) {
        cg_set_err(err, "pthread_cond_init failed");
        goto done;
    }
    cond_ok = true;
    srv->conf_path = opts != NULL ? opts->config_path : NULL;
    srv->n_workers = conf->workers > 0 ? conf->workers : 1;
    atomic_init(&srv->n_conns, 0);
    atomic_init(&srv->stopping, false);
    if (cg_log_open(conf->error_log.path, conf->error_log.level, err) != CG_OK)
        goto done;
    srv->alog = cg_access_log_open(conf->access_log.path, conf->access_log.format, err);
    if (srv->alog == NULL)
        goto done;
    if (cg_admin_metrics_new(srv, conf, err) != CG_OK)
        goto done;
    srv->sessions = cg_tls_session_cache_new(conf->limits.tls_session_cache);
    srv->verdicts_entries = conf->limits.verification_cache_entries;
    srv->verdicts_bytes = conf->limits.verification_cache_bytes;
    srv->verdicts_max_age = conf->limits.verification_cache_max_age_s;
    srv->verdicts_rev_age = conf->limits.verification_cache_revocation_age_s;
    srv->verdicts_unknown_age = conf->limits.verification_cache_unknown_age_s;
    srv->ecdsa_key_tables = conf->limits.ecdsa_key_tables;
    srv->ecdsa_key_table_uses = conf->limits.ecdsa_key_table_uses;
    srv->decoded_certificates = conf->limits.decoded_certificates;
    srv->decoded_certificate_max_bytes = conf->limits.decoded_certificate_max_bytes;
    if (srv->verdicts_entries > 0) {
        struct cg_vcache_limits vl = {
            .max_entries = conf->limits.verification_cache_entries,
            .max_bytes = conf->limits.verification_cache_bytes,
            .max_ttl = (time_t)conf->limits.verification_cache_max_age_s,
            .revocation_ttl = (time_t)conf->limits.verification_cache_revocation_age_s,
            .unknown_ttl = (time_t)conf->limits.verification_cache_unknown_age_s};
        srv->verdicts = cg_vcache_new(&vl);
        if (srv->verdicts == NULL) {
            cg_set_err(err, "out of memory");
            goto done;
        }
    }
    /* else no cache: every connection's chain is judged (cg_vcache_judge_ex
     * with a NULL cache). */
    if (srv->sessions == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    if (cg_gen_build(srv, conf, &srv->gen, err) != CG_OK)
        goto done;
    srv->gen->id = srv->next_gen_id = 1;
    if (listeners_prepare(srv, conf, srv->gen, &n, err) != CG_OK)
        goto done;
    srv->n_listeners = n;
    srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
    if (srv->workers == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    for (unsigned i = 0; i < srv->n_workers; i++) {
        if (worker_init(srv, &srv->workers[i], i, err) != CG_OK)
            goto done;
    }
    for (; started < srv->n_workers; started++) {
        if (pthread_create(&srv->workers[started].thread, NULL, worker_main,
                           &srv->workers[started]) != 0) {
            cg_set_err(err, "cannot start worker thread %u", started);
            goto stop;
        }
        srv->workers[started].started = true;
    }
    for (size_t i = 0; i < srv->n_listeners; i++)
        cg_log(CG_LOG_INFO, "listening on %s (%s), %u workers", srv->listeners[i].name,
               srv->listeners[i].admin ? "admin: GET /metrics"
               : srv->listeners[i].tls ? "https" : "http", srv->n_workers);
    if (opts != NULL && opts->ready_file != NULL && write_ready(srv, opts->ready_file, err) != CG_OK)
        goto stop;
    rc = control_loop(srv, &set) == CG_OK ? CG_OK : CG_ERR;
    if (rc != CG_OK)
        cg_set_err(err, "signal handling failed");
stop:
    atomic_store(&srv->stopping, true);
    wake_all(srv);
    for (unsigned i = 0; i < started; i++)
        pthread_join(srv->workers[i].thread, NULL);
    if (rc == CG_OK)
        cg_log(CG_LOG_INFO, "shutdown: done");
done:
    if (srv != NULL) {
        /* Before the workers' loops go: cancelled fetches still post to them. */
        cg_fetcher_free(srv->fetcher);
        /* After the fetcher: its cancelled refreshes still report to it. */
        cg_revocation_refresher_free(srv->refresher);
        for (unsigned i = 0; srv->workers != NULL && i < srv->n_workers; i++)
            worker_fini(&srv->workers[i]);
        free(srv->workers);
        for (size_t i = 0; i < srv->n_listeners || i < n; i++)
            listener_close(&srv->listeners[i], srv->n_workers);
        cg_gen_unref(srv->gen);
        /* After the last generation: its SSL_CTXs point at the cache. */
        cg_tls_session_cache_free(srv->sessions);
        /* After the workers: their connections held references of their own. */
        cg_vcache_free(srv->verdicts);
        cg_revcache_free(srv->revcache);
        cg_admin_metrics_free(srv);
        cg_access_log_close(srv->alog);
        if (cond_ok)
            pthread_cond_destroy(&srv->gen_cond);
        if (mutex_ok)
            pthread_mutex_destroy(&srv->gen_lock);
        free(srv);
    }
    cg_log_close();
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return rc;
}

/*
 * The revocation fetcher (cert/fetch.h) against a real HTTP server on
 * 127.0.0.1 (a thread of this program): coalescing, the negative cache,
 * the size limit, the timeout, http:// only, cancellation on free; and the
 * answer cache (cert/revcache.h): freshness states and reload from disk.
 *
 * The server holds /slow answers until the test releases them, so the
 * coalescing test knows every request was submitted while the transfer ran.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cert/fetch.h"
#include "cert/revcache.h"
#include "core/common.h"
#include "testutil.h"

/* ---- the server ----------------------------------------------------------- */

static int listen_fd = -1;
static int port;
static pthread_t server_thread;
static atomic_int hits_slow, hits_404, hits_ok;
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, stopping;

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

static void *serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char req[4096], path[256] = "";
    size_t got = 0;

    while (got < sizeof(req) - 1) {
        ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    sscanf(req, "%*s %255s", path);
    if (strcmp(path, "/ok") == 0) {
        atomic_fetch_add(&hits_ok, 1);
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
    } else if (strcmp(path, "/slow") == 0) {
        atomic_fetch_add(&hits_slow, 1);
        pthread_mutex_lock(&gate_lock);
        while (!gate_open && !stopping)
            pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow");
    } else if (strcmp(path, "/big") == 0) {
        static char chunk[65536];
        send_str(fd, "HTTP/1.1 200 OK\r\nContent-Length: 10485760\r\nConnection: close\r\n\r\n");
        for (int i = 0; i < 160; i++)
            send_all(fd, chunk, sizeof(chunk));
    } else if (strcmp(path, "/hang") == 0) {
        pthread_mutex_lock(&gate_lock);
        while (!stopping)
            pthread_cond_wait(&gate_cond, &gate_lock);
        pthread_mutex_unlock(&gate_lock);
    } else {
        atomic_fetch_add(&hits_404, 1);
        send_str(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    close(fd);
    return NULL;
}

static void *accept_loop(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        pthread_t t;
        if (fd < 0)
            return NULL;   /* the listener was shut down */
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}

static int setup(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    (void)state;

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(listen_fd, 64) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    port = ntohs(a.sin_port);
    return pthread_create(&server_thread, NULL, accept_loop, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pthread_mutex_lock(&gate_lock);
    stopping = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    shutdown(listen_fd, SHUT_RDWR);
    pthread_join(server_thread, NULL);
    close(listen_fd);
    return 0;
}

static char *url(const char *path)
{
    char *u = NULL;
    if (asprintf(&u, "http://127.0.0.1:%d%s", port, path) < 0)
        abort();
    return u;
}

/* ---- callbacks collected ----------------------------------------------------- */

struct collect {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, ok, coalesced;
    char error[256];
};

static void collect_cb(void *arg, const struct cg_fetch_result *r)
{
    struct collect *c = arg;
    pthread_mutex_lock(&c->lock);
    c->done++;
    c->ok += r->rc == CG_OK && r->len == 4 && memcmp(r->body, "slow", 4) == 0;
    c->coalesced += r->coalesced;
    if (r->error != NULL)
        snprintf(c->error, sizeof(c->error), "%s", r->error);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void test_coalescing(void **state)
{
    (void)state;
    struct collect c = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct cg_fetcher *f = cg_fetcher_new(NULL, NULL);
    char *u = url("/slow");

    assert_non_null(f);
    for (int i = 0; i < 5; i++)
        assert_int_equal(cg_fetcher_submit(f, u, NULL, NULL, 0, collect_cb, &c, NULL), CG_OK);
    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    pthread_mutex_lock(&c.lock);
    while (c.done < 5)
        pthread_cond_wait(&c.cond, &c.lock);
    pthread_mutex_unlock(&c.lock);
    assert_int_equal(c.ok, 5);
    assert_int_equal(c.coalesced, 4);
    assert_int_equal(atomic_load(&hits_slow), 1);
    cg_fetcher_free(f);
    free(u);
}

static void test_negative_cache(void **state)
{
    (void)state;
    struct cg_fetch_opts o = {.backoff_ms = 60000};
    struct cg_fetcher *f = cg_fetcher_new(&o, NULL);
    struct cg_fetch_copy r;
    char *u = url("/missing"), *ok = url("/ok");
    int before = atomic_load(&hits_404);

    assert_int_equal(cg_fetcher_fetch(f, u, NULL, NULL, 0, &r, NULL), CG_OK);
    assert_int_equal(r.rc, CG_ERR);
    assert_int_equal(r.http_status, 404);
    assert_string_equal(r.error, "HTTP 404");
    assert_false(r.negative_cached);
    cg_fetch_copy_free(&r);
    /* at once again: answered from the negative cache, the server not asked */
    assert_int_equal(cg_fetcher_fetch(f, u, NULL, NULL, 0, &r, NULL), CG_OK);
    assert_int_equal(r.rc, CG_ERR);
    assert_true(r.negative_cached);
    assert_non_null(strstr(r.error, "HTTP 404"));
    cg_fetch_copy_free(&r);
    assert_int_equal(atomic_load(&hits_404), before + 1);
    /* a POST to the same URL with a body is another request */
    assert_int_equal(cg_fetcher_fetch(f, u, "application/ocsp-request", "x", 1, &r, NULL), CG_OK);
    assert_false(r.negative_cached);
    cg_fetch_copy_free(&r);
    /* other URLs are unaffected */
    assert_int_equal(cg_fetcher_fetch(f, ok, NULL, NULL, 0, &r, NULL), CG_OK);
    assert_int_equal(r.rc, CG_OK);
    assert_int_equal(r.len, 5);
    cg_fetch_copy_free(&r);
    cg_fetcher_free(f);
    free(u);
    free(ok);
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_limits(void **state)
{
    (void)state;
    struct cg_fetch_opts o = {.timeout_ms = 300, .max_bytes = 100000};
    struct cg_fetcher *f = cg_fetcher_new(&o, NULL);
    struct cg_fetch_copy r;
    char *big = url("/big"), *hang = url("/hang"), *err = NULL;
    double t0;

    assert_int_equal(cg_fetcher_fetch(f, big, NULL, NULL, 0, &r, NULL), CG_OK);
    assert_int_equal(r.rc, CG_ERR);
    assert_non_null(strstr(r.error, "over the size limit of 100000 bytes"));
    cg_fetch_copy_free(&r);

    t0 = mono();
    assert_int_equal(cg_fetcher_fetch(f, hang, NULL, NULL, 0, &r, NULL), CG_OK);
    assert_int_equal(r.rc, CG_ERR);
    assert_string_equal(r.error, "timed out after 300 ms");
    assert_true(mono() - t0 >= 0.25 && mono() - t0 < 3.0);
    cg_fetch_copy_free(&r);

    assert_int_equal(cg_fetcher_fetch(f, "https://127.0.0.1/", NULL, NULL, 0, &r, &err), CG_ERR);
    assert_non_null(strstr(err, "only http://"));
    assert_int_equal(cg_fetcher_fetch(f, "file:///etc/passwd", NULL, NULL, 0, &r, &err), CG_ERR);
    cg_fetcher_free(f);
    free(big);
    free(hang);
    free(err);
}

static void test_cancel_on_free(void **state)
{
    (void)state;
    struct collect c = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct cg_fetch_opts o = {.timeout_ms = 60000, .max_pending = 1};
    struct cg_fetcher *f = cg_fetcher_new(&o, NULL);
    char *hang = url("/hang");

    char *other = url("/hang?2"), *err = NULL;

    assert_int_equal(cg_fetcher_submit(f, hang, NULL, NULL, 0, collect_cb, &c, NULL), CG_OK);
    assert_int_equal(cg_fetcher_submit(f, hang, NULL, NULL, 0, collect_cb, &c, NULL), CG_OK);
    /* bounded (max_pending 1): another distinct request is refused */
    assert_int_equal(cg_fetcher_submit(f, other, NULL, NULL, 0, collect_cb, &c, &err), CG_ERR);
    assert_non_null(strstr(err, "already pending"));
    cg_fetcher_free(f);
    assert_int_equal(c.done, 2);
    free(other);
    free(err);
    assert_string_equal(c.error, "cancelled");
    free(hang);
}

/* ---- the answer cache --------------------------------------------------- */

static void test_revcache(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("revcache"), *err = NULL;
    struct cg_revcache_opts o = {.state_dir = dir, .refresh_s = 100, .stale_grace_s = 50};
    struct cg_revcache *c = cg_revcache_new(&o, &err);
    struct cg_revcache_entry e;
    const time_t t = 1000000;

    assert_non_null(c);
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_CRL, "http://x/ca.crl", t, &e), CG_DECLINED);
    assert_int_equal(cg_revcache_put(c, CG_REVCACHE_CRL, "http://x/ca.crl",
                                     (const unsigned char *)"CRLDER", 6, t, t - 10, t + 300, &err),
                     CG_OK);
    assert_int_equal(cg_revcache_put(c, CG_REVCACHE_OCSP, "ab-cd-01",
                                     (const unsigned char *)"OCSP", 4, t, t, t + 30, &err),
                     CG_OK);
    cg_revcache_free(c);

    /* a restart finds both */
    c = cg_revcache_new(&o, &err);
    assert_non_null(c);
    assert_int_equal(cg_revcache_count(c), 2);
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_CRL, "http://x/ca.crl", t + 1, &e), CG_OK);
    assert_int_equal(e.len, 6);
    assert_memory_equal(e.der, "CRLDER", 6);
    assert_int_equal(e.next_update, t + 300);
    cg_revcache_entry_free(&e);
    /* kinds do not mix */
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_OCSP, "http://x/ca.crl", t, &e), CG_DECLINED);
    /* refresh elapsed: usable, but due */
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_CRL, "http://x/ca.crl", t + 100, &e),
                     CG_AGAIN);
    cg_revcache_entry_free(&e);
    /* past nextUpdate: within the grace, due; past it, gone */
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_OCSP, "ab-cd-01", t + 31, &e), CG_AGAIN);
    cg_revcache_entry_free(&e);
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_OCSP, "ab-cd-01", t + 81, &e), CG_DECLINED);
    /* keys with spaces or newlines would break the file format */
    assert_int_equal(cg_revcache_put(c, CG_REVCACHE_OCSP, "a b", (const unsigned char *)"x", 1,
                                     t, t, 0, &err),
                     CG_ERR);
    cg_revcache_free(c);

    /* bounded: the entry nearest expiry goes first */
    o.max_entries = 2;
    o.state_dir = NULL;
    c = cg_revcache_new(&o, &err);
    assert_int_equal(cg_revcache_put(c, CG_REVCACHE_OCSP, "k1", (const unsigned char *)"1", 1, t,
                                     t, t + 10, &err), CG_OK);
    assert_int_equal(cg_revcache_put(c, CG_REVCACHE_OCSP, "k2", (const unsigned char *)"2", 1, t,
                                     t, t + 20, &err), CG_OK);
    assert_int_equal(cg_revcache_put(c, CG_REVCACHE_OCSP, "k3", (const unsigned char *)"3", 1, t,
                                     t, t + 30, &err), CG_OK);
    assert_int_equal(cg_revcache_count(c), 2);
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_OCSP, "k1", t, &e), CG_DECLINED);
    assert_int_equal(cg_revcache_get(c, CG_REVCACHE_OCSP, "k3", t, &e), CG_OK);
    cg_revcache_entry_free(&e);
    cg_revcache_free(c);
    tu_rmtree(dir);
    free(dir);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_coalescing),     cmocka_unit_test(test_negative_cache),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_cancel_on_free),
        cmocka_unit_test(test_revcache),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

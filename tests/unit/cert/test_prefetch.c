/*
 * The server's non-blocking revocation path (cg_revocation_prefetch, then
 * the cache-only hook) against a real OCSP responder and CRL server on
 * 127.0.0.1 (a thread of this program answering with cg_pki_ocsp_respond
 * and a CRL): fetch only what the cache lacks, OCSP first, CRLs when OCSP
 * gives no answer, the completion callback exactly once, and the judgement
 * afterwards from the cache alone.
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

#include "cert/ocsp.h"
#include "cert/pki.h"
#include "cert/revocation.h"
#include "cert/verdict.h"
#include "core/common.h"
#include "testutil.h"

static struct tu_pair root, ca, alice, bob;
static unsigned char *crl_der;
static int crl_len, listen_fd = -1, port;
static pthread_t server_thread;
static atomic_int hits_ocsp, hits_crl, hits_other;

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

static void reply(int fd, int status, const void *body, size_t len)
{
    char head[160];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status,
                     len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void *serve_one(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384], path[128] = "";
    size_t got = 0, clen = 0;
    char *end = NULL;

    while (got < sizeof(buf) - 1) {   /* head, then the body by Content-Length */
        ssize_t r = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end != NULL) {
            char *cl = strcasestr(buf, "Content-Length:");
            clen = cl != NULL && cl < end ? strtoul(cl + 15, NULL, 10) : 0;
            if (got >= (size_t)(end + 4 - buf) + clen)
                break;
        }
    }
    sscanf(buf, "%*s %127s", path);
    if (strcmp(path, "/ocsp") == 0 && end != NULL) {
        struct cg_pki_revoked rev = {.cert = bob.cert, .reason = 1};
        unsigned char *der = NULL;
        size_t len = 0;
        atomic_fetch_add(&hits_ocsp, 1);
        if (cg_pki_ocsp_respond((unsigned char *)end + 4, clen, ca.cert, ca.cert, ca.key, &rev,
                                1, 0, 0, &der, &len, NULL) == CG_OK)
            reply(fd, 200, der, len);
        OPENSSL_free(der);
    } else if (strcmp(path, "/ca.crl") == 0) {
        atomic_fetch_add(&hits_crl, 1);
        reply(fd, 200, crl_der, (size_t)crl_len);
    } else {
        atomic_fetch_add(&hits_other, 1);
        reply(fd, 404, "", 0);
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
            return NULL;
        if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}

static struct tu_pair client(const char *cn, const char *ocsp_path)
{
    char ocsp[128], crl[128], *err = NULL;
    struct cg_pki_spec spec = {.profile = CG_PKI_CLIENT, .subject_cn = cn, .path_len = -1,
                               .crl_url = crl, .ocsp_url = ocsp};
    struct tu_pair p;

    snprintf(ocsp, sizeof(ocsp), "http://127.0.0.1:%d%s", port, ocsp_path);
    snprintf(crl, sizeof(crl), "http://127.0.0.1:%d/ca.crl", port);
    p.key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    p.cert = cg_pki_issue(&spec, p.key, ca.cert, ca.key, &err);
    if (p.cert == NULL)
        abort();
    return p;
}

static int setup(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    struct cg_pki_revoked rev;
    X509_CRL *crl;
    (void)state;

    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(listen_fd, 64) != 0 || getsockname(listen_fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    port = ntohs(a.sin_port);
    root = tu_issue(CG_PKI_ROOT_CA, "Prefetch Root", NULL);
    ca = tu_issue(CG_PKI_INTERMEDIATE_CA, "Prefetch CA", &root);
    alice = client("alice", "/ocsp");
    bob = client("bob", "/no-responder-here");   /* OCSP 404: the CRL must answer */
    rev = (struct cg_pki_revoked){.cert = bob.cert, .reason = 1};
    crl = cg_pki_make_crl(ca.cert, ca.key, &rev, 1, 0, 0, 1, NULL);
    crl_len = crl != NULL ? i2d_X509_CRL(crl, &crl_der) : -1;
    X509_CRL_free(crl);
    if (crl_len <= 0)
        return -1;
    return pthread_create(&server_thread, NULL, accept_loop, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    shutdown(listen_fd, SHUT_RDWR);
    pthread_join(server_thread, NULL);
    close(listen_fd);
    OPENSSL_free(crl_der);
    tu_pair_free(&alice);
    tu_pair_free(&bob);
    tu_pair_free(&ca);
    tu_pair_free(&root);
    return 0;
}

/* Stands in for the loop's wake: the callback signals, the test waits. */
struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
};

static void done_cb(void *arg)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    w->calls++;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static void wait_done(struct waiter *w)
{
    pthread_mutex_lock(&w->lock);
    while (w->calls == 0)
        pthread_cond_wait(&w->cond, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

/* Judges `who` from the cache alone, as a resumed request does. */
static void judge_cached(struct cg_revcache *cache, X509 *who, struct cg_verdict *v)
{
    struct cg_rev_online cached = {.cache = cache, .use_ocsp = true, .use_crl = true};
    struct cg_trust *trust = cg_trust_new();
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct cg_policy p;

    assert_int_equal(cg_trust_add_root(trust, root.cert), CG_OK);
    assert_true(sk_X509_push(chain, ca.cert));
    cg_policy_init(&p);
    p.scope = CG_SCOPE_LEAF;
    p.revocation_hook = cg_revocation_online;
    p.revocation_arg = &cached;
    assert_int_equal(cg_verdict_judge(who, chain, trust, time(NULL), &p, v), CG_OK);
    sk_X509_free(chain);
    cg_trust_unref(trust);
}

static void test_prefetch(void **state)
{
    (void)state;
    /* A backoff no scheduling delay can outlast, so that the last case's
     * "failed recently" holds on any machine. */
    struct cg_fetch_opts fo = {.backoff_ms = 600000, .backoff_max_ms = 600000};
    struct cg_fetcher *f = cg_fetcher_new(&fo, NULL);
    struct cg_revcache *cache = cg_revcache_new(NULL, NULL);
    struct cg_rev_online o = {.fetcher = f, .cache = cache, .use_ocsp = true, .use_crl = true};
    struct waiter w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct cg_verdict v;

    assert_non_null(f);
    assert_non_null(cache);

    /* before: nothing cached, the cache-only judgement cannot know */
    judge_cached(cache, alice.cert, &v);
    assert_int_equal(v.reason, CG_REASON_REVOCATION_UNKNOWN);
    cg_verdict_free(&v);

    /* alice: OCSP answers good; the CRL is not fetched */
    assert_int_equal(cg_revocation_prefetch(&o, alice.cert, ca.cert, time(NULL), done_cb, &w,
                                            NULL),
                     CG_AGAIN);
    wait_done(&w);
    assert_int_equal(w.calls, 1);
    assert_int_equal(atomic_load(&hits_ocsp), 1);
    assert_int_equal(atomic_load(&hits_crl), 0);
    judge_cached(cache, alice.cert, &v);
    assert_int_equal(v.reason, CG_REASON_OK);
    assert_int_equal(v.path[0].revocation.source, CG_REV_SOURCE_OCSP);
    cg_verdict_free(&v);
    /* again: fresh in the cache, nothing to fetch, no callback owed */
    assert_int_equal(cg_revocation_prefetch(&o, alice.cert, ca.cert, time(NULL), done_cb, &w,
                                            NULL),
                     CG_OK);
    assert_int_equal(w.calls, 1);
    assert_int_equal(atomic_load(&hits_ocsp), 1);

    /* bob: the responder URL is a 404, so the CRL is fetched, and says revoked */
    w.calls = 0;
    assert_int_equal(cg_revocation_prefetch(&o, bob.cert, ca.cert, time(NULL), done_cb, &w, NULL),
                     CG_AGAIN);
    wait_done(&w);
    assert_int_equal(atomic_load(&hits_crl), 1);
    judge_cached(cache, bob.cert, &v);
    assert_int_equal(v.reason, CG_REASON_REVOKED);
    assert_int_equal(v.path[0].revocation.source, CG_REV_SOURCE_FETCHED_CRL);
    assert_int_equal(v.path[0].revocation.reason, 1);
    cg_verdict_free(&v);
    assert_int_equal(atomic_load(&hits_other), 1);

    /* bob again: the responder URL is in its failure backoff, so the OCSP
     * fetch fails before cg_revocation_prefetch looks at what is pending,
     * and the CRL is fresh in the cache. A fetch was started all the same:
     * CG_AGAIN, with the callback already called, once, on this thread. */
    w.calls = 0;
    assert_int_equal(cg_revocation_prefetch(&o, bob.cert, ca.cert, time(NULL), done_cb, &w, NULL),
                     CG_AGAIN);
    assert_int_equal(w.calls, 1);
    assert_int_equal(atomic_load(&hits_other), 1);   /* not asked again */
    assert_int_equal(atomic_load(&hits_crl), 1);     /* the cached CRL answered */
    judge_cached(cache, bob.cert, &v);
    assert_int_equal(v.reason, CG_REASON_REVOKED);
    cg_verdict_free(&v);

    cg_fetcher_free(f);
    cg_revcache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefetch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

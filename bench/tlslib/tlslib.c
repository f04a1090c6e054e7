/*
 * tlslib: TLS 1.3 mutual-TLS handshakes in memory, between a client and a
 * server of any TLS library built in, each side's cost counted apart.
 *
 *   tlslib --pki DIR --server ENGINE --client ENGINE [--resume]
 *          [--server-verifies | --server-keeps] [-n N] [--collect server|client]
 *   tlslib --list
 *
 * DIR holds root.pem, server.pem (leaf + intermediate), server.key,
 * client.pem (leaf + intermediate), client.key: ECDSA P-256, as
 * bench/tlslib/run makes them with `certgate pki`. Each run makes 2
 * handshakes of warm-up, then N measured; with --resume every measured one
 * must resume the session the previous connection got, without it none may.
 * The server must hold the client's chain of 2 after every full handshake.
 *
 * Output, one line: key=value pairs, CPU µs per handshake for each side
 * (CLOCK_THREAD_CPUTIME_ID around each side's calls). Under callgrind with
 * --collect-atstart=no, --collect SIDE collects only that side's calls, so
 * "Collected" / N is its instructions per handshake.
 *
 * Exit status: 0 every handshake as expected, 1 otherwise, 2 bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_TOGGLE_COLLECT
#endif

#include "tlslib.h"

#define MAX_N 100000
#define MAX_STEPS 32   /* handshake turns; TLS 1.3 needs 3 */

static const struct tl_engine *const engines[] = {
    &tl_engine_openssl,
#ifdef TL_HAVE_GNUTLS
    &tl_engine_gnutls,
#endif
#ifdef TL_HAVE_WOLFSSL
    &tl_engine_wolfssl,
#endif
};

size_t tl_pipe_read(struct tl_pipe *p, void *dst, size_t n)
{
    if (n > p->len)
        n = p->len;
    memcpy(dst, p->buf, n);
    memmove(p->buf, p->buf + n, p->len - n);
    p->len -= n;
    return n;
}

size_t tl_pipe_write(struct tl_pipe *p, const void *src, size_t n)
{
    if (n > sizeof(p->buf) - p->len)
        return 0;
    memcpy(p->buf + p->len, src, n);
    p->len += n;
    return n;
}

enum side { SIDE_NONE, SIDE_SERVER, SIDE_CLIENT };

static enum side collect = SIDE_NONE;
static bool measuring;
static double side_ns[3];

static double cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Runs stmt as side S: its CPU time is added to S, and callgrind collects
 * it when S is the side asked for. */
#define AS(S, stmt)                                                                        \
    do {                                                                                   \
        bool cg_ = measuring && collect == (S);                                            \
        double t0_ = cpu_ns();                                                             \
        if (cg_)                                                                           \
            CALLGRIND_TOGGLE_COLLECT;                                                      \
        stmt;                                                                              \
        if (cg_)                                                                           \
            CALLGRIND_TOGGLE_COLLECT;                                                      \
        side_ns[S] += cpu_ns() - t0_;                                                      \
    } while (0)

static const struct tl_engine *engine_named(const char *name)
{
    for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
        if (strcmp(engines[i]->name, name) == 0)
            return engines[i];
    }
    return NULL;
}

static struct tl_pipe c2s, s2c;

/*
 * One handshake. Returns 0, or 1 with a message printed. *sess is the
 * client's session to resume (consumed) and receives the new one.
 */
static int handshake(const struct tl_engine *se, void *sctx, const struct tl_engine *ce,
                     void *cctx, void **sess, bool *resumed, int *chain_len)
{
    char err[256] = "";
    void *s = NULL, *c = NULL;
    int cr = 0, sr = 0, rc = 1;

    c2s.len = 0;
    s2c.len = 0;
    AS(SIDE_CLIENT, c = ce->conn_new(cctx, false, &s2c, &c2s, *sess));
    AS(SIDE_SERVER, s = se->conn_new(sctx, true, &c2s, &s2c, NULL));
    for (int i = 0; i < MAX_STEPS && (cr != 1 || sr != 1); i++) {
        if (cr != 1)
            AS(SIDE_CLIENT, cr = ce->handshake(c, err, sizeof(err)));
        if (cr < 0)
            goto out;
        if (sr != 1)
            AS(SIDE_SERVER, sr = se->handshake(s, err, sizeof(err)));
        if (sr < 0)
            goto out;
    }
    if (cr != 1 || sr != 1) {
        snprintf(err, sizeof(err), "the handshake did not finish in %d turns", MAX_STEPS);
        goto out;
    }
    /* Tickets come after the handshake: the client reads them in. */
    AS(SIDE_CLIENT, cr = ce->drain(c, err, sizeof(err)));
    if (cr < 0)
        goto out;
    *resumed = se->resumed(s);
    if (ce->resumed(c) != *resumed) {
        snprintf(err, sizeof(err), "client and server disagree on resumption");
        goto out;
    }
    *chain_len = se->peer_chain_len(s);
    if (*sess != NULL)
        ce->session_free(*sess);
    AS(SIDE_CLIENT, *sess = ce->session_get(c));
    rc = 0;
out:
    if (rc != 0)
        fprintf(stderr, "tlslib: %s server, %s client: %s\n", se->name, ce->name, err);
    if (s != NULL)
        AS(SIDE_SERVER, se->conn_close(s));
    if (c != NULL)
        AS(SIDE_CLIENT, ce->conn_close(c));
    return rc;
}

static int usage(void)
{
    fprintf(stderr, "usage: tlslib --pki DIR --server ENGINE --client ENGINE [--resume]\n"
                    "              [--server-verifies | --server-keeps] [-n N]\n"
                    "              [--collect server|client]\n"
                    "       tlslib --list\n");
    return 2;
}

static int pki_path(char *dst, size_t cap, const char *dir, const char *file)
{
    return snprintf(dst, cap, "%s/%s", dir, file) < (int)cap ? 0 : -1;
}

int main(int argc, char **argv)
{
    const struct tl_engine *se = NULL, *ce = NULL;
    const char *dir = NULL;
    struct tl_pki pki;
    struct tl_conf sconf = {.pki = &pki, .server_verifies = true};
    struct tl_conf cconf = {.pki = &pki, .server_verifies = false};
    char err[256] = "";
    void *sctx = NULL, *cctx = NULL, *sess = NULL;
    bool resume = false, resumed = false;
    long n = 20;
    int chain_len = 0, min_chain = 99, n_resumed = 0, rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;

        if (strcmp(a, "--list") == 0) {
            for (size_t k = 0; k < sizeof(engines) / sizeof(engines[0]); k++)
                printf("%s %s\n", engines[k]->name, engines[k]->version());
            return 0;
        } else if (strcmp(a, "--resume") == 0) {
            resume = true;
        } else if (strcmp(a, "--server-verifies") == 0) {
            sconf.server_verifies = true;
        } else if (strcmp(a, "--server-keeps") == 0) {
            sconf.server_verifies = false;
        } else if (v == NULL) {
            return usage();
        } else if (strcmp(a, "--pki") == 0) {
            dir = v, i++;
        } else if (strcmp(a, "--server") == 0) {
            if ((se = engine_named(v)) == NULL)
                return fprintf(stderr, "tlslib: no engine '%s' (--list)\n", v), 2;
            i++;
        } else if (strcmp(a, "--client") == 0) {
            if ((ce = engine_named(v)) == NULL)
                return fprintf(stderr, "tlslib: no engine '%s' (--list)\n", v), 2;
            i++;
        } else if (strcmp(a, "-n") == 0) {
            n = strtol(v, &end, 10);
            if (*end != '\0' || n < 1 || n > MAX_N)
                return usage();
            i++;
        } else if (strcmp(a, "--collect") == 0) {
            if (strcmp(v, "server") == 0)
                collect = SIDE_SERVER;
            else if (strcmp(v, "client") == 0)
                collect = SIDE_CLIENT;
            else
                return usage();
            i++;
        } else {
            return usage();
        }
    }
    if (dir == NULL || se == NULL || ce == NULL)
        return usage();
    if (pki_path(pki.root, sizeof(pki.root), dir, "root.pem") != 0 ||
        pki_path(pki.server_chain, sizeof(pki.server_chain), dir, "server.pem") != 0 ||
        pki_path(pki.server_key, sizeof(pki.server_key), dir, "server.key") != 0 ||
        pki_path(pki.client_chain, sizeof(pki.client_chain), dir, "client.pem") != 0 ||
        pki_path(pki.client_key, sizeof(pki.client_key), dir, "client.key") != 0)
        return fprintf(stderr, "tlslib: --pki path too long\n"), 2;

    if ((sctx = se->ctx_new(true, &sconf, err, sizeof(err))) == NULL ||
        (cctx = ce->ctx_new(false, &cconf, err, sizeof(err))) == NULL) {
        fprintf(stderr, "tlslib: %s\n", err);
        goto done;
    }
    for (int i = 0; i < 2; i++) {
        if (handshake(se, sctx, ce, cctx, &sess, &resumed, &chain_len) != 0)
            goto done;
        if (!resume && sess != NULL) {
            ce->session_free(sess);
            sess = NULL;
        }
    }
    if (resume && sess == NULL) {
        fprintf(stderr, "tlslib: the client got no session to resume\n");
        goto done;
    }
    side_ns[SIDE_SERVER] = side_ns[SIDE_CLIENT] = 0;
    measuring = true;
    for (long i = 0; i < n; i++) {
        if (handshake(se, sctx, ce, cctx, &sess, &resumed, &chain_len) != 0)
            goto done;
        if (!resume && sess != NULL) {
            ce->session_free(sess);
            sess = NULL;
        }
        n_resumed += resumed;
        if (chain_len < min_chain)
            min_chain = chain_len;
    }
    measuring = false;
    if (n_resumed != (resume ? n : 0)) {
        fprintf(stderr, "tlslib: %d of %ld handshakes resumed, expected %ld\n", n_resumed, n,
                resume ? n : 0L);
        goto done;
    }
    if (!resume && min_chain != 2) {
        fprintf(stderr, "tlslib: the server held %d client certificates, not 2\n", min_chain);
        goto done;
    }
    printf("server=%s client=%s mode=%s server_verifies=%s n=%ld server_us=%.1f client_us=%.1f "
           "server_chain=%d\n",
           se->name, ce->name, resume ? "resume" : "full",
           resume ? "-" : sconf.server_verifies ? "yes" : "no", n,
           side_ns[SIDE_SERVER] / (double)n / 1e3, side_ns[SIDE_CLIENT] / (double)n / 1e3,
           min_chain);
    rc = 0;
done:
    if (sess != NULL)
        ce->session_free(sess);
    if (sctx != NULL)
        se->ctx_free(sctx);
    if (cctx != NULL)
        ce->ctx_free(cctx);
    return rc;
}

/*
 * Where a server-side mutual-TLS handshake's cost goes in OpenSSL 3, in
 * process: client and server SSLs joined by a memory BIO pair, no sockets,
 * so only TLS and certificate work is measured. TLS 1.3, ECDSA P-256, X25519,
 * a client chain of two (leaf + intermediate, the root in the server's
 * store). Each configuration runs a bounded number of handshakes and prints
 * the server's side only (SSL_new, every SSL_do_handshake step, SSL_free,
 * and the verdict when the row says so) as µs per handshake.
 *
 * It is also a test: every handshake must complete, resume when it should
 * and not when it should not, and present the client's chain to the server.
 *
 *   test_handshake_cost                 every row, 5 handshakes each (< 5 s)
 *   test_handshake_cost -n 200          more handshakes per row
 *   test_handshake_cost -o ROW -n 50    one row (names in the output)
 *
 * Instructions rather than time on a busy machine (bench/README.md):
 *   valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file=/dev/null \
 *       test_handshake_cost -o ROW -n 20
 * Only the server's side is collected (callgrind client requests around
 * it), so "Collected" / 20 is the server's instructions per handshake.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_TOGGLE_COLLECT
#endif

#include "cert/pki.h"
#include "cert/vcache.h"
#include "cert/verdict.h"
#include "core/common.h"

enum verify_mode {
    V_OPENSSL,      /* nginx's way: OpenSSL verifies the chain against the root store */
    V_RECORD,       /* certgate's handshake today: empty store, a callback that records */
    V_SKIP,         /* no X509_verify_cert in the handshake (SSL_CTX_set_cert_verify_callback) */
};
enum judge_mode { J_NONE, J_VERDICT, J_VCACHE };

struct row {
    const char *name;
    const char *what;
    int tickets;              /* SSL_CTX_set_num_tickets */
    bool stateful;            /* SSL_OP_NO_TICKET: tickets carry a session id only */
    bool resume;
    enum verify_mode verify;
    enum judge_mode judge;
    bool ticket_cb;           /* ticket keys through a callback with a pre-fetched cipher */
    bool cache_off;           /* stateless tickets without OpenSSL's internal session cache */
    bool own_libctx;          /* SSL_CTX_new_ex on a library context of our own */
    bool chain_lost;          /* a stateless ticket carries the leaf only: the verdict
                                 after resumption misses the client's intermediate */
};

static const struct row rows[] = {
    {"full-stateless2", "full, 2 stateless tickets (OpenSSL default), OpenSSL verifies", 2,
     false, false, V_OPENSSL, J_NONE, false, false, false, false},
    {"full-stateless1", "full, 1 stateless ticket, OpenSSL verifies", 1, false, false,
     V_OPENSSL, J_NONE, false, false, false, false},
    {"full-stateless2-nocache", "full, 2 stateless tickets, no internal session cache", 2,
     false, false, V_OPENSSL, J_NONE, false, true, false, false},
    {"full-stateless2-keycb", "full, 2 stateless tickets, key callback, pre-fetched cipher", 2,
     false, false, V_OPENSSL, J_NONE, true, false, false, false},
    {"full-notickets", "full, no ticket, OpenSSL verifies", 0, false, false, V_OPENSSL, J_NONE,
     false, false, false, false},
    {"full-stateful1", "full, 1 stateful ticket (session cache), OpenSSL verifies", 1, true,
     false, V_OPENSSL, J_NONE, false, false, false, false},
    {"full-stateful1-libctx", "full, 1 stateful ticket, own OSSL_LIB_CTX", 1, true, false,
     V_OPENSSL, J_NONE, false, false, true, false},
    {"full-stateful1-record", "full, 1 stateful ticket, certgate's recording callback (no anchor)",
     1, true, false, V_RECORD, J_NONE, false, false, false, false},
    {"full-stateful1-record+verdict", "... + cg_verdict_judge after the handshake", 1, true,
     false, V_RECORD, J_VERDICT, false, false, false, false},
    {"full-stateful1-skip", "full, 1 stateful ticket, no chain verification in the handshake", 1,
     true, false, V_SKIP, J_NONE, false, false, false, false},
    {"full-stateful1-skip+verdict", "... + cg_verdict_judge (the cache missing)", 1, true,
     false, V_SKIP, J_VERDICT, false, false, false, false},
    {"full-stateful1-skip+vcache", "... + cg_vcache_judge (the cache hitting)", 1, true, false,
     V_SKIP, J_VCACHE, false, false, false, false},
    {"resume-stateless2", "resumption, 2 stateless tickets", 2, false, true, V_OPENSSL, J_NONE,
     false, false, false, false},
    {"resume-stateless1", "resumption, 1 stateless ticket", 1, false, true, V_OPENSSL, J_NONE,
     false, false, false, false},
    {"resume-stateless2-keycb", "resumption, 2 stateless tickets, key callback", 2, false, true,
     V_OPENSSL, J_NONE, true, false, false, false},
    {"resume-stateless1+verdict", "... + cg_verdict_judge: the chain is gone (leaf only)", 1,
     false, true, V_SKIP, J_VERDICT, false, false, false, true},
    {"resume-stateful1", "resumption, 1 stateful ticket", 1, true, true, V_OPENSSL, J_NONE,
     false, false, false, false},
    {"resume-stateful1-skip+vcache", "resumption, 1 stateful ticket, verdict from the cache", 1,
     true, true, V_SKIP, J_VCACHE, false, false, false, false},
};

static struct {
    EVP_PKEY *root_key, *inter_key, *client_key, *server_key;
    X509 *root, *inter, *client, *server;
    struct cg_trust *trust;
    struct cg_vcache *vcache;
    struct cg_policy policy;
} P;

static bool collecting;   /* inside the measured part: callgrind collects the server */
static double server_ns;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Around everything the server does, and nothing the client does. */
#define SERVER(stmt)                                                                       \
    do {                                                                                   \
        double t0_ = now_ns();                                                             \
        if (collecting)                                                                    \
            CALLGRIND_TOGGLE_COLLECT;                                                      \
        stmt;                                                                              \
        if (collecting)                                                                    \
            CALLGRIND_TOGGLE_COLLECT;                                                      \
        server_ns += now_ns() - t0_;                                                       \
    } while (0)

static void die(const char *what)
{
    fprintf(stderr, "test_handshake_cost: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

static X509 *issue(cg_pki_profile_t profile, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                   EVP_PKEY *key)
{
    static const char *const names[] = {"localhost", NULL};
    struct cg_pki_spec spec = {.profile = profile, .subject_cn = cn, .path_len = -1};
    char *err = NULL;
    X509 *x;

    if (profile == CG_PKI_SERVER)
        spec.dns_names = names;
    x = cg_pki_issue(&spec, key, issuer, issuer_key, &err);
    if (x == NULL)
        die(err != NULL ? err : cn);
    free(err);
    return x;
}

static void pki_make(void)
{
    char *err = NULL;

    P.root_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.inter_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.client_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.server_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    if (!P.root_key || !P.inter_key || !P.client_key || !P.server_key)
        die("keygen");
    P.root = issue(CG_PKI_ROOT_CA, "HS Root", NULL, P.root_key, P.root_key);
    P.inter = issue(CG_PKI_INTERMEDIATE_CA, "HS Intermediate", P.root, P.root_key, P.inter_key);
    P.client = issue(CG_PKI_CLIENT, "hs-client", P.inter, P.inter_key, P.client_key);
    P.server = issue(CG_PKI_SERVER, "localhost", P.root, P.root_key, P.server_key);
    P.trust = cg_trust_new();
    if (P.trust == NULL || cg_trust_add_root(P.trust, P.root) != CG_OK)
        die("trust");
    P.vcache = cg_vcache_new(NULL);
    if (P.vcache == NULL)
        die("vcache");
    cg_policy_init(&P.policy);
}

static void pki_free(void)
{
    cg_vcache_free(P.vcache);
    cg_trust_unref(P.trust);
    X509_free(P.root);
    X509_free(P.inter);
    X509_free(P.client);
    X509_free(P.server);
    EVP_PKEY_free(P.root_key);
    EVP_PKEY_free(P.inter_key);
    EVP_PKEY_free(P.client_key);
    EVP_PKEY_free(P.server_key);
}

static int record_cb(int ok, X509_STORE_CTX *x)
{
    (void)ok;
    (void)x;
    return 1;
}

static int skip_cb(X509_STORE_CTX *x, void *arg)
{
    (void)x;
    (void)arg;
    return 1;
}

/* Ticket keys: one name, fixed keys (a server would rotate them). The
 * cipher is fetched once, when the context is made. */
static EVP_CIPHER *ticket_cipher;
static unsigned char ticket_name[16] = "certgate-hs-0001";
static unsigned char ticket_aes[32], ticket_hmac[32];

static int ticket_cb(SSL *s, unsigned char key_name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                     EVP_CIPHER_CTX *ctx, EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[3];

    (void)s;
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, ticket_hmac,
                                                  sizeof(ticket_hmac));
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (enc) {
        memcpy(key_name, ticket_name, 16);
        if (RAND_bytes(iv, 16) != 1 ||
            EVP_EncryptInit_ex(ctx, ticket_cipher, NULL, ticket_aes, iv) != 1 ||
            EVP_MAC_CTX_set_params(hctx, params) != 1)
            return -1;
        return 1;
    }
    if (memcmp(key_name, ticket_name, 16) != 0)
        return 0;
    if (EVP_DecryptInit_ex(ctx, ticket_cipher, NULL, ticket_aes, iv) != 1 ||
        EVP_MAC_CTX_set_params(hctx, params) != 1)
        return -1;
    return 1;
}

static SSL_CTX *server_ctx(const struct row *r, OSSL_LIB_CTX *lib)
{
    static const unsigned char sid[] = "certgate-hs";
    SSL_CTX *ctx = SSL_CTX_new_ex(lib, NULL, TLS_server_method());

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1 ||
        SSL_CTX_use_certificate(ctx, P.server) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, P.server_key) != 1 ||
        SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1) != 1)
        die("server context");
    SSL_CTX_set_num_tickets(ctx, (size_t)r->tickets);
    if (r->stateful)
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, r->cache_off ? SSL_SESS_CACHE_OFF
                                                     : SSL_SESS_CACHE_SERVER);
    if (r->ticket_cb) {
        if (ticket_cipher == NULL &&
            (ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL)) == NULL)
            die("fetch AES-256-CBC");
        SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    }
    switch (r->verify) {
    case V_OPENSSL:
        if (X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), P.root) != 1)
            die("server store");
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        break;
    case V_RECORD:
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_cb);
        break;
    case V_SKIP:
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_cb);
        SSL_CTX_set_cert_verify_callback(ctx, skip_cb, NULL);
        break;
    }
    return ctx;
}

static SSL_CTX *client_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL || SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_use_certificate(ctx, P.client) != 1 || SSL_CTX_add1_chain_cert(ctx, P.inter) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, P.client_key) != 1)
        die("client context");
    /* The client's own checks are not what is measured. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return ctx;
}

/* Runs one handshake; returns the session the client got (new reference). */
static SSL_SESSION *handshake(const struct row *r, SSL_CTX *sctx, SSL_CTX *cctx,
                              SSL_SESSION *resume, bool *resumed)
{
    SSL *c = SSL_new(cctx), *s = NULL;
    BIO *cb = NULL, *sb = NULL;
    SSL_SESSION *got;
    bool cdone = false, sdone = false;
    unsigned char buf[256];
    int rc;

    if (c == NULL || BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
        die("client SSL");
    SSL_set_bio(c, cb, cb);
    SSL_set_connect_state(c);
    SSL_set_tlsext_host_name(c, "localhost");
    if (resume != NULL && SSL_set_session(c, resume) != 1)
        die("SSL_set_session");
    SERVER(s = SSL_new(sctx));
    if (s == NULL)
        die("server SSL");
    SSL_set_bio(s, sb, sb);
    SSL_set_accept_state(s);
    for (int i = 0; i < 20 && !(cdone && sdone); i++) {
        if (!cdone) {
            rc = SSL_do_handshake(c);
            if (rc == 1)
                cdone = true;
            else if (SSL_get_error(c, rc) != SSL_ERROR_WANT_READ)
                die("client handshake");
        }
        if (!sdone) {
            SERVER(rc = SSL_do_handshake(s));
            if (rc == 1)
                sdone = true;
            else if (SSL_get_error(s, rc) != SSL_ERROR_WANT_READ)
                die("server handshake");
        }
    }
    if (!cdone || !sdone)
        die("handshake did not finish");
    /* The tickets come after the client's Finished: a read takes them in. */
    if (SSL_read(c, buf, sizeof(buf)) > 0 || SSL_get_error(c, -1) != SSL_ERROR_WANT_READ)
        die("client read");
    *resumed = SSL_session_reused(s) == 1;
    if (SSL_get0_peer_certificate(s) == NULL)
        die("the server has no client certificate");
    if (!*resumed && sk_X509_num(SSL_get_peer_cert_chain(s)) != 1)
        die("the server did not get the client's intermediate");
    if (r->judge != J_NONE) {
        struct cg_verdict v;
        struct cg_verdict_ref *ref = NULL;
        X509 *leaf = SSL_get0_peer_certificate(s);
        STACK_OF(X509) *chain = SSL_get_peer_cert_chain(s);
        int ok;
        cg_reason_t why;

        if (r->judge == J_VERDICT) {
            SERVER(ok = cg_verdict_judge(leaf, chain, P.trust, time(NULL), &P.policy, &v));
            why = v.reason;
            SERVER(cg_verdict_free(&v));
        } else {
            SERVER(ok = cg_vcache_judge(P.vcache, leaf, chain, P.trust, time(NULL), &P.policy,
                                        &ref));
            why = ref != NULL ? cg_verdict_ref_get(ref)->reason : CG_REASON_INVALID;
            SERVER(cg_verdict_ref_unref(ref));
        }
        if (ok != CG_OK ||
            why != (r->chain_lost && *resumed ? CG_REASON_INCOMPLETE_CHAIN : CG_REASON_OK))
            die("unexpected verdict");
    }
    got = SSL_get1_session(c);
    /* A close without close_notify makes OpenSSL drop the session (from the
     * cache, and as resumable): both sides close properly, the server as a
     * server does (one alert record), the client without sending. */
    SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c);
    SERVER(SSL_shutdown(s); SSL_free(s));
    return got;
}

/* Runs row r: 2 handshakes of warm-up, then n measured. */
static int run_row(const struct row *r, int n, bool print)
{
    OSSL_LIB_CTX *lib = r->own_libctx ? OSSL_LIB_CTX_new() : NULL;
    SSL_CTX *sctx, *cctx = client_ctx();
    SSL_SESSION *sess = NULL, *next;
    bool resumed;
    int n_resumed = 0;
    double t0;

    if (r->own_libctx && lib == NULL)
        die("OSSL_LIB_CTX_new");
    sctx = server_ctx(r, lib);
    for (int i = 0; i < 2; i++) {
        next = handshake(r, sctx, cctx, r->resume ? sess : NULL, &resumed);
        SSL_SESSION_free(sess);
        sess = next;
    }
    server_ns = 0;
    collecting = true;
    t0 = now_ns();
    for (int i = 0; i < n; i++) {
        /* A resuming client presents the ticket its previous connection got. */
        next = handshake(r, sctx, cctx, r->resume ? sess : NULL, &resumed);
        SSL_SESSION_free(sess);
        sess = next;
        n_resumed += resumed;
    }
    collecting = false;
    if (r->resume ? n_resumed != n : n_resumed != 0) {
        fprintf(stderr, "%s: %d of %d resumed\n", r->name, n_resumed, n);
        return 1;
    }
    if (print)
        printf("%-32s %8.0f %8.0f   %s\n", r->name, server_ns / n / 1e3,
               (now_ns() - t0 - server_ns) / n / 1e3, r->what);
    SSL_SESSION_free(sess);
    SSL_CTX_free(sctx);
    SSL_CTX_free(cctx);
    OSSL_LIB_CTX_free(lib);
    return 0;
}

/* Pieces outside TLS, per call: what a verdict and the cache cost. */
enum piece { P_DECODE, P_VERDICT, P_VCACHE };

static const struct {
    const char *name, *what;
} piece_rows[] = {
    {"piece-decode-client-chain", "d2i_X509 of the leaf and the intermediate (keys included)"},
    {"piece-cg_verdict_judge", "the whole verdict (X509_verify_cert and the path report)"},
    {"piece-cg_vcache_judge-hit", "a cache hit: SHA-256 over the chain's DER, a shard lookup"},
};

static void piece(enum piece which, int n)
{
    unsigned char *der[2] = {NULL, NULL};
    int len[2];
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct cg_verdict v;
    struct cg_verdict_ref *ref = NULL;
    double t;

    len[0] = i2d_X509(P.client, &der[0]);
    len[1] = i2d_X509(P.inter, &der[1]);
    if (chain == NULL || len[0] <= 0 || len[1] <= 0 || !sk_X509_push(chain, P.inter))
        die("pieces");
    if (which == P_VCACHE && (cg_vcache_judge(P.vcache, P.client, chain, P.trust, time(NULL),
                                              &P.policy, &ref) != CG_OK))
        die("vcache");
    cg_verdict_ref_unref(ref);
    CALLGRIND_TOGGLE_COLLECT;
    t = now_ns();
    for (int i = 0; i < n; i++) {
        switch (which) {
        case P_DECODE:
            for (int k = 0; k < 2; k++) {
                const unsigned char *p = der[k];
                X509_free(d2i_X509(NULL, &p, len[k]));
            }
            break;
        case P_VERDICT:
            if (cg_verdict_judge(P.client, chain, P.trust, time(NULL), &P.policy, &v) != CG_OK ||
                v.reason != CG_REASON_OK)
                die("verdict");
            cg_verdict_free(&v);
            break;
        case P_VCACHE:
            if (cg_vcache_judge(P.vcache, P.client, chain, P.trust, time(NULL), &P.policy,
                                &ref) != CG_OK)
                die("vcache");
            cg_verdict_ref_unref(ref);
            break;
        }
    }
    t = now_ns() - t;
    CALLGRIND_TOGGLE_COLLECT;
    printf("%-32s %8.1f %8s   %s\n", piece_rows[which].name, t / n / 1e3, "-",
           piece_rows[which].what);
    sk_X509_free(chain);
    OPENSSL_free(der[0]);
    OPENSSL_free(der[1]);
}

/*
 * The cache under threads: T threads each judge every one of 16 chains
 * (all hits after the first round) through one cache of S shards. One
 * shard is one lock for all; 16 shards is what the server uses.
 */
#define CONTENTION_CHAINS 16

struct contention {
    struct cg_vcache *c;
    X509 **leaves;
    STACK_OF(X509) *chain;
    int n;
};

static void *contention_work(void *arg)
{
    struct contention *w = arg;
    time_t at = time(NULL);

    for (int i = 0; i < w->n; i++) {
        struct cg_verdict_ref *ref = NULL;
        if (cg_vcache_judge(w->c, w->leaves[i % CONTENTION_CHAINS], w->chain, P.trust, at,
                            &P.policy, &ref) != CG_OK)
            die("vcache");
        cg_verdict_ref_unref(ref);
    }
    return NULL;
}

static void contention(int n)
{
    X509 *leaves[CONTENTION_CHAINS];
    STACK_OF(X509) *chain = sk_X509_new_null();
    static const struct { unsigned threads, shards; } runs[] = {{1, 1}, {4, 1}, {4, 16}};

    if (chain == NULL || !sk_X509_push(chain, P.inter))
        die("contention");
    for (int i = 0; i < CONTENTION_CHAINS; i++) {
        char cn[32];
        snprintf(cn, sizeof(cn), "hs-client-%d", i);
        leaves[i] = issue(CG_PKI_CLIENT, cn, P.inter, P.inter_key, P.client_key);
    }
    for (size_t r = 0; r < CG_ARRAY_LEN(runs); r++) {
        struct cg_vcache *c = cg_vcache_new(&(struct cg_vcache_limits){.shards = runs[r].shards});
        struct contention w = {.c = c, .leaves = leaves, .chain = chain, .n = n};
        pthread_t th[4];
        struct cg_vcache_stats st;
        char name[64];
        double t;

        if (c == NULL)
            die("vcache");
        contention_work(&(struct contention){.c = c, .leaves = leaves, .chain = chain,
                                             .n = CONTENTION_CHAINS});
        t = now_ns();
        for (unsigned i = 0; i < runs[r].threads; i++)
            if (pthread_create(&th[i], NULL, contention_work, &w) != 0)
                die("pthread_create");
        for (unsigned i = 0; i < runs[r].threads; i++)
            pthread_join(th[i], NULL);
        t = now_ns() - t;
        cg_vcache_stats(c, &st);
        if (st.misses != CONTENTION_CHAINS)
            die("contention: the cache missed");
        snprintf(name, sizeof(name), "vcache-%uthreads-%ushards", runs[r].threads,
                 runs[r].shards);
        printf("%-32s %8.2f %8s   %s\n", name, t / ((double)n * runs[r].threads) / 1e3, "-",
               "µs of wall time per hit, all threads together (hits/s = 1e6 / this)");
        cg_vcache_free(c);
    }
    for (int i = 0; i < CONTENTION_CHAINS; i++)
        X509_free(leaves[i]);
    sk_X509_free(chain);
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    int n = 5, fails = 0;
    bool found = false;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-n HANDSHAKES] [-o ROW]\n", argv[0]);
            return 2;
        }
    }
    if (n < 1 || n > 100000)
        n = 5;
    if (RAND_bytes(ticket_aes, sizeof(ticket_aes)) != 1 ||
        RAND_bytes(ticket_hmac, sizeof(ticket_hmac)) != 1)
        die("RAND_bytes");
    pki_make();
    printf("%-32s %8s %8s   %s\n", "row", "server", "client", "(µs per handshake, wall)");
    for (size_t i = 0; i < CG_ARRAY_LEN(rows); i++) {
        if (only != NULL && strcmp(only, rows[i].name) != 0)
            continue;
        found = true;
        fails += run_row(&rows[i], n, true);
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(piece_rows); i++) {
        if (only != NULL && strcmp(only, piece_rows[i].name) != 0)
            continue;
        found = true;
        piece((enum piece)i, n);
    }
    if (only == NULL || strcmp(only, "vcache-contention") == 0) {
        found = true;
        contention(only == NULL ? 500 : n);
    }
    EVP_CIPHER_free(ticket_cipher);
    pki_free();
    if (!found) {
        fprintf(stderr, "no row named %s\n", only);
        return 2;
    }
    return fails == 0 ? 0 : 1;
}

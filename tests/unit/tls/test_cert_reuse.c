/*
 * cert_reuse: d2i_X509 as this process has it (src/tls/cert_reuse.c)
 * decodes every certificate as OpenSSL does, and on an armed thread hands
 * the same X509 back for the very same bytes, within the configured bounds.
 *
 * Certificates are made by certgate's pki module. The reference decoding is
 * OpenSSL's own (ASN1_item_d2i with the X509 item, which never reaches the
 * cache): answers are compared by their encoding, what each call consumed
 * and what it left in *a.
 *
 *  - reuse: armed, libssl's form of the call (a new X509 passed in) gives the
 *    same X509 for the same bytes, a different one for bytes that differ in
 *    one place; the input is consumed exactly as OpenSSL consumes it, with
 *    bytes after the certificate left alone; the counts say so;
 *  - not reused: unarmed, no X509 passed in, a NULL *a, truncated, not a
 *    certificate, or a bad length: the same results as OpenSSL's, and nothing
 *    kept;
 *  - bounds: a certificate of exactly decoded_certificate_max_bytes is kept,
 *    one byte over is not; decoded_certificates 0 keeps nothing; more
 *    certificates than slots evict, and the held ones stay within the bound;
 *  - threads: each thread keeps its own;
 *  - TLS: in a real TLS 1.3 mutual handshake (memory BIOs), libssl's decoding
 *    of the client's leaf and intermediate goes through this d2i_X509: the
 *    second handshake's server holds the very X509s of the first; unarmed,
 *    new ones; another client's certificate is its own.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "core/common.h"
#include "testutil.h"
#include "tls/cert_reuse.h"

enum { CLIENTS = 12 };

static struct {
    struct tu_pair root, inter, server, client[CLIENTS];
    unsigned char *der[CLIENTS];   /* the clients' DER */
    int der_len[CLIENTS];
} P;

static int setup(void **state)
{
    (void)state;
    P.root = tu_issue(CG_PKI_ROOT_CA, "Reuse Root", NULL);
    P.inter = tu_issue(CG_PKI_INTERMEDIATE_CA, "Reuse Intermediate", &P.root);
    P.server = tu_issue(CG_PKI_SERVER, "localhost", &P.root);
    for (int i = 0; i < CLIENTS; i++) {
        char cn[32];
        snprintf(cn, sizeof(cn), "reuse-client-%d", i);
        P.client[i] = tu_issue(CG_PKI_CLIENT, cn, &P.inter);
        P.der[i] = NULL;
        P.der_len[i] = i2d_X509(P.client[i].cert, &P.der[i]);
        if (P.der_len[i] <= 0)
            fail_msg("i2d_X509");
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cg_cert_reuse_thread_release();
    for (int i = 0; i < CLIENTS; i++) {
        OPENSSL_free(P.der[i]);
        tu_pair_free(&P.client[i]);
    }
    tu_pair_free(&P.root);
    tu_pair_free(&P.inter);
    tu_pair_free(&P.server);
    return 0;
}

/* Each case starts with no certificate kept on this thread, under these
 * bounds, armed or not. */
static void start(unsigned entries, size_t max_bytes, bool arm)
{
    cg_cert_reuse_thread_release();
    cg_cert_reuse_configure(entries, max_bytes);
    cg_cert_reuse_arm(arm);
}

static struct cg_cert_reuse_stats stats(void)
{
    struct cg_cert_reuse_stats s;

    cg_cert_reuse_stats(&s);
    return s;
}

/* libssl's form of the call: a new X509 filled from buf. Returns what
 * d2i_X509 returned; *consumed: how far it moved the input. */
static X509 *libssl_decode(const unsigned char *buf, long len, long *consumed, X509 **left)
{
    const unsigned char *p = buf;
    X509 *x = X509_new(), *r;

    assert_non_null(x);
    r = d2i_X509(&x, &p, len);
    *consumed = (long)(p - buf);
    *left = x;
    return r;
}

/* OpenSSL's own decoding of the same input, in the same form. */
static X509 *reference_decode(const unsigned char *buf, long len, long *consumed, X509 **left)
{
    const unsigned char *p = buf;
    X509 *x = X509_new(), *r;

    assert_non_null(x);
    r = (X509 *)ASN1_item_d2i((ASN1_VALUE **)&x, &p, len, ASN1_ITEM_rptr(X509));
    *consumed = (long)(p - buf);
    *left = x;
    return r;
}

static void assert_encodes_to(X509 *x, const unsigned char *der, int len)
{
    unsigned char *out = NULL;
    int n = i2d_X509(x, &out);

    assert_int_equal(n, len);
    assert_memory_equal(out, der, (size_t)len);
    OPENSSL_free(out);
}

/* Decodes buf both ways and checks the answers agree; returns ours (a
 * reference the caller frees), NULL when both refused it. */
static X509 *decode_as_openssl(const unsigned char *buf, long len)
{
    long used, ref_used;
    X509 *left, *ref_left, *x, *ref;

    ERR_set_mark();
    ref = reference_decode(buf, len, &ref_used, &ref_left);
    x = libssl_decode(buf, len, &used, &left);
    ERR_pop_to_mark();
    assert_int_equal(used, ref_used);
    assert_true((x == NULL) == (ref == NULL));
    assert_true((left == NULL) == (ref_left == NULL));
    if (x != NULL) {
        unsigned char *der = NULL;
        int n = i2d_X509(ref, &der);
        assert_ptr_equal(x, left);
        assert_encodes_to(x, der, n);
        OPENSSL_free(der);
    }
    X509_free(ref_left);
    return x;
}

static void test_reuse(void **state)
{
    unsigned char *buf, *other;
    long used;
    X509 *a, *b, *c, *left;
    struct cg_cert_reuse_stats s0, s;
    int n = P.der_len[0];

    (void)state;
    start(8, 8192, true);
    s0 = stats();
    a = decode_as_openssl(P.der[0], n);
    assert_non_null(a);
    s = stats();
    assert_int_equal(s.decoded - s0.decoded, 1);
    assert_int_equal(s.reused - s0.reused, 0);
    assert_int_equal(s.held - s0.held, 1);

    /* The same bytes: the same X509, the input consumed as before. */
    b = libssl_decode(P.der[0], n, &used, &left);
    assert_ptr_equal(b, a);
    assert_ptr_equal(left, a);
    assert_int_equal(used, n);
    s = stats();
    assert_int_equal(s.reused - s0.reused, 1);
    assert_int_equal(s.decoded - s0.decoded, 1);

    /* Bytes after the certificate are not part of it. */
    buf = malloc((size_t)n + 16);
    assert_non_null(buf);
    memcpy(buf, P.der[0], (size_t)n);
    memset(buf + n, 0x30, 16);
    c = libssl_decode(buf, n + 16, &used, &left);
    assert_ptr_equal(c, a);
    assert_int_equal(used, n);
    X509_free(c);

    /* One byte changed in the signature: decoded anew, its own X509. */
    other = malloc((size_t)n);
    assert_non_null(other);
    memcpy(other, P.der[0], (size_t)n);
    other[n - 1] ^= 0x01;
    c = decode_as_openssl(other, n);
    assert_non_null(c);
    assert_ptr_not_equal(c, a);
    assert_encodes_to(c, other, n);
    assert_encodes_to(a, P.der[0], n);
    s = stats();
    assert_int_equal(s.decoded - s0.decoded, 2);
    assert_int_equal(s.held - s0.held, 2);

    /* The callers' references outlive the cache's. */
    cg_cert_reuse_thread_release();
    assert_int_equal(stats().held, s0.held);
    assert_encodes_to(a, P.der[0], n);
    X509_free(a);
    X509_free(b);
    X509_free(c);
    free(buf);
    free(other);
    cg_cert_reuse_arm(false);
}

static void test_not_reused(void **state)
{
    const unsigned char *p;
    unsigned char bad[64];
    long used, used2;
    X509 *a, *b, *left, *left2, *none = NULL;
    struct cg_cert_reuse_stats s0, s;
    int n = P.der_len[1];

    (void)state;
    /* Unarmed: two decodings, two X509s. */
    start(8, 8192, false);
    s0 = stats();
    a = libssl_decode(P.der[1], n, &used, &left);
    b = libssl_decode(P.der[1], n, &used2, &left2);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    X509_free(a);
    X509_free(b);

    cg_cert_reuse_arm(true);
    /* No X509 passed in, or *a NULL: OpenSSL's d2i_X509, nothing kept. */
    p = P.der[1];
    a = d2i_X509(NULL, &p, n);
    assert_non_null(a);
    assert_int_equal(p - P.der[1], n);
    p = P.der[1];
    b = d2i_X509(&none, &p, n);
    assert_non_null(b);
    assert_ptr_equal(none, b);
    assert_ptr_not_equal(a, b);
    X509_free(a);
    X509_free(b);
    s = stats();
    assert_int_equal(s.decoded - s0.decoded, 0);
    assert_int_equal(s.reused - s0.reused, 0);

    /* Refused as OpenSSL refuses them, and nothing kept: truncated, a
     * length past the input, not a SEQUENCE, empty content, garbage. */
    assert_null(decode_as_openssl(P.der[1], n - 1));
    assert_null(decode_as_openssl(P.der[1], 4));
    memset(bad, 0, sizeof(bad));
    bad[0] = 0x30;
    bad[1] = 0x84;
    bad[2] = 0x7f;
    assert_null(decode_as_openssl(bad, sizeof(bad)));
    bad[0] = 0x31;
    bad[1] = 0x10;
    assert_null(decode_as_openssl(bad, sizeof(bad)));
    bad[0] = 0x30;
    bad[1] = 0x00;
    assert_null(decode_as_openssl(bad, sizeof(bad)));
    bad[1] = 0x80;   /* indefinite length: left to the decoder */
    assert_null(decode_as_openssl(bad, sizeof(bad)));
    s = stats();
    assert_int_equal(s.decoded - s0.decoded, 0);
    assert_int_equal(s.held - s0.held, 0);

    /* A certificate that decodes after refusals is kept as usual. */
    a = decode_as_openssl(P.der[1], n);
    b = decode_as_openssl(P.der[1], n);
    assert_ptr_equal(a, b);
    X509_free(a);
    X509_free(b);
    cg_cert_reuse_arm(false);
}

static void test_bounds(void **state)
{
    X509 *a, *b;
    struct cg_cert_reuse_stats s0, s;
    int n = P.der_len[2];

    (void)state;
    /* Exactly the bound: kept; one byte over it: decoded every time. */
    start(8, (size_t)n, true);
    a = decode_as_openssl(P.der[2], n);
    b = decode_as_openssl(P.der[2], n);
    assert_ptr_equal(a, b);
    X509_free(a);
    X509_free(b);
    start(8, (size_t)n - 1, true);
    s0 = stats();
    a = decode_as_openssl(P.der[2], n);
    b = decode_as_openssl(P.der[2], n);
    assert_ptr_not_equal(a, b);
    X509_free(a);
    X509_free(b);
    s = stats();
    assert_int_equal(s.decoded - s0.decoded, 0);

    /* Off. */
    start(0, 8192, true);
    a = decode_as_openssl(P.der[2], n);
    b = decode_as_openssl(P.der[2], n);
    assert_ptr_not_equal(a, b);
    X509_free(a);
    X509_free(b);
    assert_int_equal(stats().decoded - s.decoded, 0);

    /* Five slots, twelve certificates, twice round: never more than five
     * held, every answer right, evictions counted. */
    start(5, 8192, true);
    s0 = stats();
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < CLIENTS; i++) {
            a = decode_as_openssl(P.der[i], P.der_len[i]);
            assert_non_null(a);
            assert_encodes_to(a, P.der[i], P.der_len[i]);
            X509_free(a);
            assert_true(stats().held - s0.held <= 5);
        }
    s = stats();
    assert_int_equal(s.held - s0.held, 5);
    assert_int_equal(s.decoded - s0.decoded, s.evicted - s0.evicted + 5);
    assert_int_equal(s.decoded - s0.decoded + s.reused - s0.reused, 2 * CLIENTS);
    /* The last one decoded is still there. */
    a = decode_as_openssl(P.der[CLIENTS - 1], P.der_len[CLIENTS - 1]);
    assert_int_equal(stats().reused - s.reused, 1);
    X509_free(a);
    cg_cert_reuse_thread_release();
    assert_int_equal(stats().held, s0.held);
    cg_cert_reuse_arm(false);
}

static void *thread_decode(void *arg)
{
    X509 **out = arg;

    cg_cert_reuse_arm(true);
    out[0] = decode_as_openssl(P.der[3], P.der_len[3]);
    out[1] = decode_as_openssl(P.der[3], P.der_len[3]);
    cg_cert_reuse_thread_release();
    return NULL;
}

static void test_threads(void **state)
{
    X509 *mine[2], *theirs[2];
    pthread_t t;

    (void)state;
    start(8, 8192, true);
    mine[0] = decode_as_openssl(P.der[3], P.der_len[3]);
    assert_int_equal(pthread_create(&t, NULL, thread_decode, theirs), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    mine[1] = decode_as_openssl(P.der[3], P.der_len[3]);
    assert_ptr_equal(mine[0], mine[1]);
    assert_ptr_equal(theirs[0], theirs[1]);
    assert_ptr_not_equal(mine[0], theirs[0]);
    for (int i = 0; i < 2; i++) {
        X509_free(mine[i]);
        X509_free(theirs[i]);
    }
    cg_cert_reuse_arm(false);
}

/* ---- through libssl ------------------------------------------------------ */

static SSL_CTX *server_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    X509_STORE *store;

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION), 1);
    assert_int_equal(SSL_CTX_use_certificate(ctx, P.server.cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, P.server.key), 1);
    store = SSL_CTX_get_cert_store(ctx);
    assert_int_equal(X509_STORE_add_cert(store, P.root.cert), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
    return ctx;
}

static SSL_CTX *client_ctx(int i)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    assert_non_null(ctx);
    assert_int_equal(SSL_CTX_use_certificate(ctx, P.client[i].cert), 1);
    assert_int_equal(SSL_CTX_add1_chain_cert(ctx, P.inter.cert), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(ctx, P.client[i].key), 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

/* The server's turns with the cache armed, as cg_tls_handshake does. */
static int armed_server_step(SSL *s)
{
    bool was = cg_cert_reuse_arm(true);
    int rc = SSL_do_handshake(s);

    cg_cert_reuse_arm(was);
    return rc;
}

/* One mutual handshake; the server's SSL is returned, done, to be freed. */
static SSL *handshake(SSL_CTX *sctx, SSL_CTX *cctx, bool arm)
{
    SSL *c = SSL_new(cctx), *s = SSL_new(sctx);

    assert_non_null(c);
    assert_non_null(s);
    tu_handshake(c, s, arm ? armed_server_step : NULL);
    assert_int_equal(SSL_get_verify_result(s), X509_V_OK);
    SSL_free(c);
    return s;
}

static void test_tls(void **state)
{
    SSL_CTX *sctx = server_ctx(), *c0 = client_ctx(0), *c1 = client_ctx(1);
    SSL *s1, *s2, *s3, *s4;
    struct cg_cert_reuse_stats s0, s;

    (void)state;
    start(8, 8192, false);
    s0 = stats();
    /* Unarmed: each handshake decodes its own. */
    s1 = handshake(sctx, c0, false);
    s2 = handshake(sctx, c0, false);
    assert_ptr_not_equal(SSL_get0_peer_certificate(s1), SSL_get0_peer_certificate(s2));
    assert_int_equal(stats().decoded - s0.decoded, 0);
    SSL_free(s1);
    SSL_free(s2);

    /* Armed: the second handshake gets the first one's leaf and intermediate. */
    s1 = handshake(sctx, c0, true);
    s2 = handshake(sctx, c0, true);
    s = stats();
    assert_int_equal(s.decoded - s0.decoded, 2);
    assert_int_equal(s.reused - s0.reused, 2);
    assert_ptr_equal(SSL_get0_peer_certificate(s1), SSL_get0_peer_certificate(s2));
    assert_ptr_equal(sk_X509_value(SSL_get_peer_cert_chain(s1), 0),
                     sk_X509_value(SSL_get_peer_cert_chain(s2), 0));
    assert_int_equal(X509_cmp(SSL_get0_peer_certificate(s2), P.client[0].cert), 0);
    /* Another client: its own leaf, the shared intermediate. */
    s3 = handshake(sctx, c1, true);
    assert_ptr_not_equal(SSL_get0_peer_certificate(s3), SSL_get0_peer_certificate(s1));
    assert_int_equal(X509_cmp(SSL_get0_peer_certificate(s3), P.client[1].cert), 0);
    assert_ptr_equal(sk_X509_value(SSL_get_peer_cert_chain(s3), 0),
                     sk_X509_value(SSL_get_peer_cert_chain(s1), 0));
    s = stats();
    assert_int_equal(s.decoded - s0.decoded, 3);
    assert_int_equal(s.reused - s0.reused, 3);
    /* The certificates outlive the connections that brought them. */
    SSL_free(s1);
    SSL_free(s2);
    s4 = handshake(sctx, c0, true);
    assert_int_equal(X509_cmp(SSL_get0_peer_certificate(s4), P.client[0].cert), 0);
    assert_int_equal(stats().reused - s.reused, 2);
    SSL_free(s3);
    SSL_free(s4);
    SSL_CTX_free(sctx);
    SSL_CTX_free(c0);
    SSL_CTX_free(c1);
    cg_cert_reuse_thread_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_not_reused),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_tls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The CRL index: lookups, the refusals (wrong key, wrong issuer, truncated,
 * HTML, over the size limit, unknown critical extensions), and the scale
 * measurement behind the choice of our own index over X509_CRL: a CRL of
 * CG_CRL_SCALE_N entries (1,000,000 unless the environment says otherwise)
 * loaded both ways, with load time, lookup time and heap bytes printed.
 */
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "cert/crl_index.h"
#include "cert/pki.h"
#include "core/common.h"
#include "testutil.h"

static struct tu_pair root, other;

static int setup(void **state)
{
    (void)state;
    root = tu_issue(CG_PKI_ROOT_CA, "Index Root", NULL);
    other = tu_issue(CG_PKI_ROOT_CA, "Index Root", NULL);   /* same name, other key */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_pair_free(&root);
    tu_pair_free(&other);
    return 0;
}

static unsigned char *crl_der(X509_CRL *crl, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509_CRL(crl, &der);
    assert_true(n > 0);
    *len = (size_t)n;
    return der;
}

static ASN1_INTEGER *serial(uint64_t v)
{
    ASN1_INTEGER *i = ASN1_INTEGER_new();
    assert_non_null(i);
    assert_int_equal(ASN1_INTEGER_set_uint64(i, v), 1);
    return i;
}

static void test_lookup(void **state)
{
    (void)state;
    time_t now = time(NULL);
    struct cg_pki_revoked rev[] = {
        {.serial = 0x1234, .revoked_at = now - 3600, .reason = 1},
        {.serial = 7, .revoked_at = now - 7200, .reason = -1},
        {.serial = UINT64_C(0xfedcba9876543210), .revoked_at = now - 60, .reason = 4},
    };
    char *err = NULL;
    X509_CRL *crl = cg_pki_make_crl(root.cert, root.key, rev, 3, now - 100, now + 86400, 42,
                                    &err);
    size_t len;
    unsigned char *der;
    struct cg_crl_index *ix = NULL;
    struct cg_crl_entry e;
    ASN1_INTEGER *s;

    assert_non_null(crl);
    der = crl_der(crl, &len);
    assert_int_equal(cg_crl_index_load(der, len, root.cert, NULL, &ix, &err), CG_OK);
    assert_int_equal(cg_crl_index_count(ix), 3);
    assert_int_equal(cg_crl_index_number(ix), 42);
    assert_false(cg_crl_index_is_delta(ix));
    assert_int_equal(cg_crl_index_this_update(ix), now - 100);
    assert_int_equal(cg_crl_index_next_update(ix), now + 86400);
    for (size_t i = 0; i < 3; i++) {
        s = serial(rev[i].serial);
        assert_int_equal(cg_crl_index_lookup(ix, s, &e), CG_OK);
        assert_int_equal(e.revoked_at, rev[i].revoked_at);
        assert_int_equal(e.reason, rev[i].reason);
        ASN1_INTEGER_free(s);
    }
    s = serial(8);
    assert_int_equal(cg_crl_index_lookup(ix, s, &e), CG_DECLINED);
    ASN1_INTEGER_free(s);
    /* non-minimal encodings of the same serial meet */
    assert_int_equal(cg_crl_index_lookup_raw(ix, (const unsigned char *)"\x00\x07", 2, NULL),
                     CG_OK);
    assert_int_equal(cg_crl_index_lookup_raw(ix, (const unsigned char *)"\x00\x00\x12\x34", 4,
                                             NULL),
                     CG_OK);
    cg_crl_index_unref(ix);
    OPENSSL_free(der);
    X509_CRL_free(crl);
    free(err);
}

static void expect_refused(const unsigned char *der, size_t len, X509 *issuer, size_t max,
                           const char *needle)
{
    struct cg_crl_index_opts o = {.max_bytes = max};
    struct cg_crl_index *ix = NULL;
    char *err = NULL;

    assert_int_equal(cg_crl_index_load(der, len, issuer, &o, &ix, &err), CG_ERR);
    assert_null(ix);
    assert_non_null(err);
    if (strstr(err, needle) == NULL)
        fail_msg("expected '%s' in '%s'", needle, err);
    free(err);
}

static void test_refusals(void **state)
{
    (void)state;
    struct cg_pki_revoked rev[] = {{.serial = 5, .reason = -1}};
    char *err = NULL;
    X509_CRL *crl = cg_pki_make_crl(root.cert, root.key, rev, 1, 0, 0, 1, &err);
    X509_CRL *forged = cg_pki_make_crl(other.cert, other.key, rev, 1, 0, 0, 1, &err);
    struct tu_pair stranger = tu_issue(CG_PKI_ROOT_CA, "Somebody Else", NULL);
    static const char html[] = "<!DOCTYPE html><html><body>Not here</body></html>";
    size_t len, flen;
    unsigned char *der, *fder;

    assert_non_null(crl);
    assert_non_null(forged);
    der = crl_der(crl, &len);
    fder = crl_der(forged, &flen);
    expect_refused(fder, flen, root.cert, 0, "signature does not verify");
    expect_refused(der, len, stranger.cert, 0, "issued by another CA");
    expect_refused(der, len - 10, root.cert, 0, "truncated");
    expect_refused(der, len / 2, root.cert, 0, "truncated");
    expect_refused((const unsigned char *)html, sizeof(html) - 1, root.cert, 0, "HTML");
    expect_refused((const unsigned char *)"garbage", 7, root.cert, 0, "not a DER CRL");
    expect_refused(der, len, root.cert, len - 1, "over the limit");
    /* one flipped byte in the signed part */
    der[len / 3] ^= 0x01;
    {
        struct cg_crl_index *ix = NULL;
        assert_int_equal(cg_crl_index_load(der, len, root.cert, NULL, &ix, &err), CG_ERR);
        assert_null(ix);
    }
    tu_pair_free(&stranger);
    OPENSSL_free(der);
    OPENSSL_free(fder);
    X509_CRL_free(crl);
    X509_CRL_free(forged);
    free(err);
}

static void test_critical_extension(void **state)
{
    (void)state;
    char *err = NULL;
    X509_CRL *crl = cg_pki_make_crl(root.cert, root.key, NULL, 0, 0, 0, 3, &err);
    ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
    X509_EXTENSION *ext;
    size_t len;
    unsigned char *der;

    assert_non_null(crl);
    assert_true(ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00", 2));
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, v);
    assert_non_null(ext);
    assert_int_equal(X509_CRL_add_ext(crl, ext, -1), 1);
    assert_true(X509_CRL_sign(crl, root.key, EVP_sha256()) > 0);
    der = crl_der(crl, &len);
    expect_refused(der, len, root.cert, 0, "unknown critical extension");
    OPENSSL_free(der);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(v);
    X509_CRL_free(crl);
    free(err);
}

/* ---- scale ------------------------------------------------------------ */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_tl(struct buf *b, unsigned char tag, size_t len)
{
    unsigned char h[6] = {tag};
    size_t n = 1;
    if (len < 0x80) {
        h[n++] = (unsigned char)len;
    } else {
        int bytes = len > 0xffffff ? 4 : len > 0xffff ? 3 : len > 0xff ? 2 : 1;
        h[n++] = (unsigned char)(0x80 | bytes);
        for (int i = bytes - 1; i >= 0; i--)
            h[n++] = (unsigned char)(len >> (8 * i));
    }
    put(b, h, n);
}

static void put_tlv(struct buf *b, unsigned char tag, const struct buf *in)
{
    put_tl(b, tag, in->len);
    put(b, in->p, in->len);
}

/* The serial of entry i: 8 octets, positive, spread (not in order). */
static uint64_t scale_serial(uint64_t i)
{
    uint64_t x = (i + 1) * UINT64_C(0x9E3779B97F4A7C15);
    x ^= x >> 29;
    return (x & UINT64_C(0x7fffffffffffffff)) | UINT64_C(0x0100000000000000);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_used(void)
{
    return mallinfo2().uordblks;
}

/* A CRL of n entries signed by root, built as DER directly (fast). */
static unsigned char *scale_crl(size_t n, size_t *len)
{
    static const unsigned char ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                                 0xce, 0x3d, 0x04, 0x03, 0x02};
    /* crlEntryExtensions { reasonCode keyCompromise } */
    static const unsigned char reason_ext[] = {0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55,
                                               0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, 0x01};
    struct buf entries = {0}, tbs = {0}, out = {0}, sigbits = {0}, tmp = {0};
    const unsigned char *name_der;
    size_t name_len, siglen = 0;
    unsigned char sig[256];
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    for (size_t i = 0; i < n; i++) {
        uint64_t s = scale_serial(i);
        unsigned char e[64], *q = e;
        bool reason = i % 3 == 0;
        *q++ = 0x30;
        *q++ = (unsigned char)(10 + 15 + (reason ? sizeof(reason_ext) : 0));
        *q++ = 0x02;
        *q++ = 8;
        for (int k = 7; k >= 0; k--)
            *q++ = (unsigned char)(s >> (8 * k));
        memcpy(q, "\x17\x0d" "250101000000Z", 15);
        q += 15;
        if (reason) {
            memcpy(q, reason_ext, sizeof(reason_ext));
            q += sizeof(reason_ext);
        }
        put(&entries, e, (size_t)(q - e));
    }
    put(&tbs, "\x02\x01\x01", 3);
    put(&tbs, ecdsa_sha256, sizeof(ecdsa_sha256));
    assert_int_equal(X509_NAME_get0_der(X509_get_subject_name(root.cert), &name_der, &name_len),
                     1);
    put(&tbs, name_der, name_len);
    put(&tbs, "\x17\x0d" "250101000000Z", 15);
    put(&tbs, "\x17\x0d" "491231000000Z", 15);
    put_tlv(&tbs, 0x30, &entries);
    put_tlv(&tmp, 0x30, &tbs);   /* tmp: the tbsCertList TLV */

    assert_non_null(md);
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, root.key), 1);
    siglen = sizeof(sig);
    assert_int_equal(EVP_DigestSign(md, sig, &siglen, tmp.p, tmp.len), 1);
    put(&sigbits, "\x00", 1);
    put(&sigbits, sig, siglen);

    put(&out, tmp.p, tmp.len);
    put(&out, ecdsa_sha256, sizeof(ecdsa_sha256));
    put_tlv(&out, 0x03, &sigbits);
    free(tmp.p);
    tmp = (struct buf){0};
    put_tlv(&tmp, 0x30, &out);
    free(entries.p);
    free(tbs.p);
    free(out.p);
    free(sigbits.p);
    EVP_MD_CTX_free(md);
    *len = tmp.len;
    return tmp.p;
}

/*
 * A refresh builds the new index to the side and swaps a pointer: readers
 * take a reference under a short lock and never wait for the load. A reader
 * thread looks up while the main thread reloads; its slowest lookup must be
 * far from the load time.
 */
struct swap_ctx {
    pthread_mutex_t lock;
    struct cg_crl_index *current;
    ASN1_INTEGER **probe;
    size_t n_probe;
    atomic_bool stop;
    double worst;
    size_t done;
};

static void *reader(void *arg)
{
    struct swap_ctx *c = arg;
    for (size_t i = 0; !atomic_load(&c->stop); i++) {
        double t0 = now_s(), dt;
        struct cg_crl_index *ix;
        pthread_mutex_lock(&c->lock);
        ix = cg_crl_index_ref(c->current);
        pthread_mutex_unlock(&c->lock);
        cg_crl_index_lookup(ix, c->probe[i % c->n_probe], NULL);
        cg_crl_index_unref(ix);
        dt = now_s() - t0;
        if (dt > c->worst)
            c->worst = dt;
        c->done++;
    }
    return NULL;
}

static void swap_while_reading(struct cg_crl_index *ix, const unsigned char *der, size_t len,
                               ASN1_INTEGER **probe, size_t n_probe)
{
    struct swap_ctx c = {.lock = PTHREAD_MUTEX_INITIALIZER, .probe = probe, .n_probe = n_probe};
    struct cg_crl_index_opts o = {.max_bytes = len};
    struct cg_crl_index *fresh = NULL, *old;
    pthread_t t;
    double t0, load;

    c.current = cg_crl_index_ref(ix);
    assert_int_equal(pthread_create(&t, NULL, reader, &c), 0);
    t0 = now_s();
    assert_int_equal(cg_crl_index_load(der, len, root.cert, &o, &fresh, NULL), CG_OK);
    load = now_s() - t0;
    pthread_mutex_lock(&c.lock);
    old = c.current;
    c.current = fresh;
    pthread_mutex_unlock(&c.lock);
    cg_crl_index_unref(old);
    atomic_store(&c.stop, true);
    pthread_join(t, NULL);
    print_message("  refresh: new index built in %.3f s while a reader did %zu lookups, "
                  "slowest %.3f ms\n",
                  load, c.done, c.worst * 1e3);
    /* the reader never waited for the load */
    assert_true(c.done > 0);
    assert_true(c.worst < load / 2);
    cg_crl_index_unref(c.current);
}

static void test_scale(void **state)
{
    (void)state;
    const char *env = getenv("CG_CRL_SCALE_N");
    size_t n = env != NULL ? strtoul(env, NULL, 10) : 1000000, len, lookups = 200000, hits = 0;
    unsigned char *der = scale_crl(n, &len);
    struct cg_crl_index_opts o = {.max_bytes = len};
    struct cg_crl_index *ix = NULL;
    X509_CRL *crl;
    const unsigned char *p = der;
    char *err = NULL;
    double t0, t_ix_load, t_ix_look, t_ossl_load, t_ossl_first, t_ossl_look;
    size_t h0, ix_mem, ossl_mem;
    ASN1_INTEGER **probe = calloc(lookups, sizeof(*probe));

    assert_non_null(probe);
    for (size_t i = 0; i < lookups; i++)   /* half hits, half misses */
        probe[i] = serial(i % 2 ? scale_serial((i * 7919) % n) : scale_serial(n + i));

    h0 = heap_used();
    t0 = now_s();
    if (cg_crl_index_load(der, len, root.cert, &o, &ix, &err) != CG_OK)
        fail_msg("load: %s", err);
    t_ix_load = now_s() - t0;
    ix_mem = heap_used() - h0;
    assert_int_equal(cg_crl_index_count(ix), n);
    t0 = now_s();
    for (size_t i = 0; i < lookups; i++)
        hits += cg_crl_index_lookup(ix, probe[i], NULL) == CG_OK;
    t_ix_look = now_s() - t0;
    assert_int_equal(hits, lookups / 2);

    h0 = heap_used();
    t0 = now_s();
    crl = d2i_X509_CRL(NULL, &p, (long)len);
    assert_non_null(crl);
    assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(root.cert)), 1);
    t_ossl_load = now_s() - t0;
    t0 = now_s();
    {
        X509_REVOKED *r = NULL;   /* the first lookup sorts */
        X509_CRL_get0_by_serial(crl, &r, probe[0]);
    }
    t_ossl_first = now_s() - t0;
    ossl_mem = heap_used() - h0;
    hits = 0;
    t0 = now_s();
    for (size_t i = 0; i < lookups; i++) {
        X509_REVOKED *r = NULL;
        hits += X509_CRL_get0_by_serial(crl, &r, probe[i]) == 1;
    }
    t_ossl_look = now_s() - t0;
    assert_int_equal(hits, lookups / 2);

    print_message("CRL of %zu entries, %zu bytes DER\n", n, len);
    print_message("  cg_crl_index: load+verify+sort %.3f s, %zu heap bytes (%.1f B/entry), "
                  "lookup %.0f ns\n",
                  t_ix_load, ix_mem, (double)ix_mem / (double)(n ? n : 1),
                  t_ix_look / (double)lookups * 1e9);
    print_message("  X509_CRL:     load+verify %.3f s, first lookup (sort) %.3f s, %zu heap "
                  "bytes (%.1f B/entry), lookup %.0f ns\n",
                  t_ossl_load, t_ossl_first, ossl_mem, (double)ossl_mem / (double)(n ? n : 1),
                  t_ossl_look / (double)lookups * 1e9);

    swap_while_reading(ix, der, len, probe, lookups);

    for (size_t i = 0; i < lookups; i++)
        ASN1_INTEGER_free(probe[i]);
    free(probe);
    X509_CRL_free(crl);
    cg_crl_index_unref(ix);
    free(der);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_critical_extension),
        cmocka_unit_test(test_scale),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

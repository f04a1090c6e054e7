/*
 * ecdsa_tables: signatures verified through EVP with keys decoded by the
 * builtin EC key method (ec_key_decoding: builtin) get the answers OpenSSL
 * gives, whether the key has a table yet or not, and the tables come and go
 * as limits.ecdsa_key_tables and ecdsa_key_table_uses say.
 *
 * Keys are made by OpenSSL's provider; their public halves are encoded as
 * a SubjectPublicKeyInfo and decoded again after builtin is selected, as a
 * certificate's key would be, so verifying with them goes through the
 * engine's method and its hook. The reference answer is OpenSSL's own
 * verification with the provider key (which never reaches the hook).
 *
 * The tables are per thread: each case starts by dropping the test
 * thread's (cg_ecdsa_tables_thread_release), so it starts with none under
 * the bounds it configured.
 *
 *  - answers: the first uses (OpenSSL) and the later ones (the table) alike
 *    for valid signatures, a changed message, a changed r and s, n - s, a
 *    signature by another key, non-DER encodings (long-form length,
 *    a padded integer, trailing bytes), an empty and a truncated one;
 *    SHA-256, SHA-384 and SHA-1 digests;
 *  - counts: no table before the uses bound, one built at it, every later
 *    verification counted as a table one; bound 1 builds at once;
 *  - eviction: more keys than slots evict, and the held tables stay within
 *    the bound; a key evicted starts counting again;
 *  - off: ecdsa_key_tables 0 never builds; P-384 keys never get a table;
 *  - threads: two threads each build their own table of the same key.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "cert/ec_keydecode.h"
#include "cert/ecdsa_tables.h"
#include "core/common.h"

struct key {
    EVP_PKEY *priv;      /* the provider's, which signs and answers */
    EVP_PKEY *decoded;   /* its public half through the builtin method */
};

/* Keys are generated before builtin is selected: once the engine serves
 * EC keys, OpenSSL 3.0 makes new ones only through the provider it no
 * longer asks (ec_keydecode.h). */
enum { P256_KEYS = 50, P384_KEYS = 2 };
static EVP_PKEY *pool_p256[P256_KEYS], *pool_p384[P384_KEYS];
static int next_p256, next_p384;

static void key_make(struct key *k, const char *curve)
{
    unsigned char *der = NULL;
    const unsigned char *p;
    int len;

    if (strcmp(curve, "P-256") == 0) {
        assert_true(next_p256 < P256_KEYS);
        k->priv = pool_p256[next_p256++];
    } else {
        assert_true(next_p384 < P384_KEYS);
        k->priv = pool_p384[next_p384++];
    }
    assert_non_null(k->priv);
    len = i2d_PUBKEY(k->priv, &der);
    assert_true(len > 0);
    p = der;
    k->decoded = d2i_PUBKEY(NULL, &p, len);
    assert_non_null(k->decoded);
    /* decoded by the engine's method, not a provider's */
    assert_null(EVP_PKEY_get0_provider(k->decoded));
    OPENSSL_free(der);
}

static void key_free(struct key *k)
{
    EVP_PKEY_free(k->priv);
    EVP_PKEY_free(k->decoded);
}

static size_t sign(const struct key *k, const EVP_MD *md, const uint8_t *msg, size_t len, uint8_t *sig,
                   size_t cap)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    size_t sig_len = cap;

    assert_int_equal(EVP_DigestSignInit(c, NULL, md, NULL, k->priv), 1);
    assert_int_equal(EVP_DigestSign(c, sig, &sig_len, msg, len), 1);
    EVP_MD_CTX_free(c);
    return sig_len;
}

static int verify_with(EVP_PKEY *key, const EVP_MD *md, const uint8_t *msg, size_t len, const uint8_t *sig,
                       size_t sig_len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int rc;

    assert_int_equal(EVP_DigestVerifyInit(c, NULL, md, NULL, key), 1);
    rc = EVP_DigestVerify(c, sig, sig_len, msg, len);
    EVP_MD_CTX_free(c);
    return rc == 1;
}

/* Decoded key and provider key agree; returns the answer. */
static int check(const struct key *k, const EVP_MD *md, const uint8_t *msg, size_t len, const uint8_t *sig,
                 size_t sig_len)
{
    int ours = verify_with(k->decoded, md, msg, len, sig, sig_len);
    int theirs = verify_with(k->priv, md, msg, len, sig, sig_len);

    assert_int_equal(ours, theirs);
    return ours;
}

static struct cg_ecdsa_tables_stats stats(void)
{
    struct cg_ecdsa_tables_stats s;

    cg_ecdsa_tables_stats(&s);
    return s;
}

/* fn(arg) with this thread's tables dropped first, so it starts with
 * none, under the bounds just configured. */
static void run_fresh(void *(*fn)(void *), void *arg)
{
    cg_ecdsa_tables_thread_release();
    fn(arg);
}

/* ---- answers ------------------------------------------------------------ */

/* (r, s) of a DER signature and back, for changing them. */
static size_t resign(const uint8_t *sig, size_t len, uint8_t *out, int change)
{
    const unsigned char *p = sig;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    BIGNUM *r = BN_dup(ECDSA_SIG_get0_r(s)), *ss = BN_dup(ECDSA_SIG_get0_s(s));
    unsigned char *q = out;
    int n;

    assert_non_null(s);
    if (change == 1)
        assert_int_equal(BN_add_word(r, 1), 1);
    else if (change == 2)
        assert_int_equal(BN_add_word(ss, 1), 1);
    else if (change == 3) {   /* n - s: also valid */
        BIGNUM *n_ = NULL;

        assert_true(BN_hex2bn(&n_, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551") > 0);
        assert_int_equal(BN_sub(ss, n_, ss), 1);
        BN_free(n_);
    }
    assert_int_equal(ECDSA_SIG_set0(s, r, ss), 1);
    n = i2d_ECDSA_SIG(s, &q);
    assert_true(n > 0);
    ECDSA_SIG_free(s);
    return (size_t)n;
}

struct answers_arg {
    unsigned uses;
};

static void *answers(void *arg)
{
    const struct answers_arg *a = arg;
    const EVP_MD *mds[] = {EVP_sha256(), EVP_sha384(), EVP_sha1()};
    struct key k, other;
    struct cg_ecdsa_tables_stats before = stats(), after;
    unsigned eligible = 0;   /* DER signatures verified with k */

    key_make(&k, "P-256");
    key_make(&other, "P-256");
    for (int round = 0; round < 40; round++) {
        const EVP_MD *md = mds[round % 3];
        uint8_t msg[100], sig[80], alt[90];
        size_t sig_len, alt_len;

        assert_int_equal(RAND_bytes(msg, sizeof(msg)), 1);
        sig_len = sign(&k, md, msg, sizeof(msg), sig, sizeof(sig));
        assert_int_equal(check(&k, md, msg, sizeof(msg), sig, sig_len), 1);
        msg[round % sizeof(msg)] ^= 1;
        assert_int_equal(check(&k, md, msg, sizeof(msg), sig, sig_len), 0);
        msg[round % sizeof(msg)] ^= 1;
        alt_len = resign(sig, sig_len, alt, 1);
        assert_int_equal(check(&k, md, msg, sizeof(msg), alt, alt_len), 0);
        alt_len = resign(sig, sig_len, alt, 2);
        assert_int_equal(check(&k, md, msg, sizeof(msg), alt, alt_len), 0);
        alt_len = resign(sig, sig_len, alt, 3);
        assert_int_equal(check(&k, md, msg, sizeof(msg), alt, alt_len), 1);
        alt_len = sign(&other, md, msg, sizeof(msg), alt, sizeof(alt));
        assert_int_equal(check(&k, md, msg, sizeof(msg), alt, alt_len), 0);
        /* Not DER: a long-form length, trailing bytes, an integer with one
         * zero byte too many, empty, truncated. OpenSSL refuses them all. */
        alt[0] = 0x30;
        alt[1] = 0x81;
        alt[2] = (uint8_t)(sig_len - 2);
        memcpy(alt + 3, sig + 2, sig_len - 2);
        assert_int_equal(check(&k, md, msg, sizeof(msg), alt, sig_len + 1), 0);
        memcpy(alt, sig, sig_len);
        alt[sig_len] = 0;
        assert_int_equal(check(&k, md, msg, sizeof(msg), alt, sig_len + 1), 0);
        alt[0] = 0x30;
        alt[1] = (uint8_t)(sig_len - 2 + 1);
        alt[2] = 0x02;
        alt[3] = (uint8_t)(sig[3] + 1);
        alt[4] = 0x00;   /* r with one more leading zero */
        memcpy(alt + 5, sig + 4, sig_len - 4);
        assert_int_equal(check(&k, md, msg, sizeof(msg), alt, sig_len + 1), 0);
        assert_int_equal(check(&k, md, msg, sizeof(msg), sig, 0), 0);
        assert_int_equal(check(&k, md, msg, sizeof(msg), sig, sig_len - 1), 0);
        eligible += 6;
    }
    after = stats();
    /* Every DER signature from k's uses-th verification on was verified
     * with its table (the non-DER ones count as uses but go to OpenSSL;
     * the first round's fourth verification is the uses-th). */
    assert_int_equal(after.tables_built - before.tables_built, 1);
    assert_int_equal(after.table_verifications - before.table_verifications, eligible - (a->uses - 1));
    key_free(&k);
    key_free(&other);
    return NULL;
}

static void test_answers(void **state)
{
    (void)state;
    struct answers_arg a = {.uses = 4};

    cg_ecdsa_tables_configure(32, a.uses);
    run_fresh(answers, &a);
}

/* ---- counts --------------------------------------------------------------- */

struct count_arg {
    unsigned uses;
};

static void *count(void *arg)
{
    const struct count_arg *a = arg;
    struct key k;
    struct cg_ecdsa_tables_stats s0 = stats(), s;
    uint8_t msg[32] = {7}, sig[80];
    size_t sig_len;

    key_make(&k, "P-256");
    sig_len = sign(&k, EVP_sha256(), msg, sizeof(msg), sig, sizeof(sig));
    for (unsigned i = 1; i <= a->uses + 5; i++) {
        assert_int_equal(verify_with(k.decoded, EVP_sha256(), msg, sizeof(msg), sig, sig_len), 1);
        s = stats();
        assert_int_equal(s.tables_built - s0.tables_built, i >= a->uses ? 1 : 0);
        assert_int_equal(s.table_verifications - s0.table_verifications, i >= a->uses ? i - a->uses + 1 : 0);
    }
    key_free(&k);
    return NULL;
}

static void test_counts(void **state)
{
    (void)state;
    struct count_arg a = {.uses = 6};

    cg_ecdsa_tables_configure(32, a.uses);
    run_fresh(count, &a);
    a.uses = 1;
    cg_ecdsa_tables_configure(32, a.uses);
    run_fresh(count, &a);
}

/* ---- eviction ------------------------------------------------------------- */

static void *evict(void *arg)
{
    const unsigned bound = *(const unsigned *)arg;
    enum { KEYS = 16 };
    struct key k[KEYS];
    uint8_t msg[32] = {1}, sig[KEYS][80];
    size_t sig_len[KEYS];
    struct cg_ecdsa_tables_stats s0 = stats(), s;

    for (int i = 0; i < KEYS; i++) {
        key_make(&k[i], "P-256");
        sig_len[i] = sign(&k[i], EVP_sha256(), msg, sizeof(msg), sig[i], sizeof(sig[i]));
    }
    /* Each key twice in a row (uses bound 2): a table each, then evicted
     * by the keys after it. */
    for (int i = 0; i < KEYS; i++)
        for (int j = 0; j < 2; j++)
            assert_int_equal(check(&k[i], EVP_sha256(), msg, sizeof(msg), sig[i], sig_len[i]), 1);
    s = stats();
    assert_int_equal(s.tables_built - s0.tables_built, KEYS);
    assert_true(s.keys_evicted - s0.keys_evicted >= KEYS - bound);
    assert_true(s.tables_held - s0.tables_held <= bound);
    /* The first key was evicted: it counts from 1 again (no table use). */
    s0 = stats();
    for (int i = 0; i < KEYS; i++)
        assert_int_equal(check(&k[i], EVP_sha256(), msg, sizeof(msg), sig[i], sig_len[i]), 1);
    s = stats();
    assert_true(s.table_verifications - s0.table_verifications <= bound);
    for (int i = 0; i < KEYS; i++)
        key_free(&k[i]);
    return NULL;
}

static void test_eviction(void **state)
{
    (void)state;
    /* 8: two sets of four; 5: a set of four and one of one, still 5 at most */
    unsigned bound = 8;

    cg_ecdsa_tables_configure(bound, 2);
    run_fresh(evict, &bound);
    bound = 5;
    cg_ecdsa_tables_configure(bound, 2);
    run_fresh(evict, &bound);
}

/* ---- off, other curves ---------------------------------------------------- */

static void *never(void *arg)
{
    const char *curve = arg;
    struct key k;
    uint8_t msg[32] = {2}, sig[140];
    size_t sig_len;
    struct cg_ecdsa_tables_stats s0 = stats(), s;

    key_make(&k, curve);
    sig_len = sign(&k, EVP_sha256(), msg, sizeof(msg), sig, sizeof(sig));
    for (int i = 0; i < 10; i++) {
        assert_int_equal(check(&k, EVP_sha256(), msg, sizeof(msg), sig, sig_len), 1);
        msg[0] ^= 1;
        assert_int_equal(check(&k, EVP_sha256(), msg, sizeof(msg), sig, sig_len), 0);
        msg[0] ^= 1;
    }
    s = stats();
    assert_int_equal(s.tables_built, s0.tables_built);
    assert_int_equal(s.table_verifications, s0.table_verifications);
    key_free(&k);
    return NULL;
}

static void test_off_and_other_curves(void **state)
{
    (void)state;
    cg_ecdsa_tables_configure(0, 1);
    run_fresh(never, "P-256");
    cg_ecdsa_tables_configure(32, 1);
    run_fresh(never, "P-384");
}

/* ---- threads -------------------------------------------------------------- */

static struct key shared_key;
static uint8_t shared_msg[32] = {3}, shared_sig[80];
static size_t shared_sig_len;

/* No cmocka assertion here (they only work on the test's own thread): the
 * count of wrong answers is returned. */
static void *verify_shared(void *arg)
{
    uintptr_t wrong = 0;

    (void)arg;
    for (int i = 0; i < 50; i++)
        wrong += verify_with(shared_key.decoded, EVP_sha256(), shared_msg, sizeof(shared_msg), shared_sig,
                             shared_sig_len) != 1;
    return (void *)wrong;
}

static void test_threads_own_tables(void **state)
{
    (void)state;
    pthread_t t[2];
    struct cg_ecdsa_tables_stats s0, s;

    cg_ecdsa_tables_configure(32, 2);
    cg_ecdsa_tables_thread_release();
    key_make(&shared_key, "P-256");
    shared_sig_len = sign(&shared_key, EVP_sha256(), shared_msg, sizeof(shared_msg), shared_sig,
                          sizeof(shared_sig));
    s0 = stats();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, verify_shared, NULL), 0);
    for (int i = 0; i < 2; i++) {
        void *wrong = NULL;

        assert_int_equal(pthread_join(t[i], &wrong), 0);
        assert_null(wrong);
    }
    s = stats();
    assert_int_equal(s.tables_built - s0.tables_built, 2);
    assert_int_equal(s.table_verifications - s0.table_verifications, 2 * 49);
    /* Both threads are gone, their tables with them; this one holds none. */
    assert_int_equal(s.tables_held, 0);
    key_free(&shared_key);
}

static int setup(void **state)
{
    char *err = NULL;

    (void)state;
    for (int i = 0; i < P256_KEYS; i++)
        if ((pool_p256[i] = EVP_EC_gen("P-256")) == NULL)
            return -1;
    for (int i = 0; i < P384_KEYS; i++)
        if ((pool_p384[i] = EVP_EC_gen("P-384")) == NULL)
            return -1;
    if (cg_ec_keydecode_select(CG_EC_KEYS_BUILTIN, &err) != CG_OK) {
        free(err);
        return -1;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_off_and_other_curves),
        cmocka_unit_test(test_threads_own_tables),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

/*
 * The verdict engine, one test per reason it can produce offline, each with
 * real certificates issued at run time by the pki module and judged by real
 * OpenSSL: status, substatus, reason, and the per-element problems and
 * sources of the path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/x509v3.h>

#include "cert/pki.h"
#include "cert/verdict.h"
#include "cert/verdict_json.h"
#include "core/common.h"

#define DAY (24 * 3600)

/* A small PKI: root -> intermediate -> leaves, plus strangers. */
struct pki {
    time_t now;
    EVP_PKEY *root_key, *inter_key, *leaf_key, *other_key;
    X509 *root, *inter, *other_root;
    struct cg_trust *trust;   /* root in root/, intermediate in intermediate/ */
};

static struct pki P;

static X509 *issue(cg_pki_profile_t profile, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                   EVP_PKEY *key, time_t nb, time_t na, unsigned eku, int path_len)
{
    struct cg_pki_spec spec = {0};
    char *err = NULL;
    X509 *x;

    spec.profile = profile;
    spec.subject_cn = cn;
    spec.not_before = nb;
    spec.not_after = na;
    spec.eku = eku;
    spec.path_len = path_len;
    x = cg_pki_issue(&spec, key, issuer, issuer_key, &err);
    if (x == NULL)
        fail_msg("issue %s: %s", cn, err ? err : "?");
    free(err);
    return x;
}

static X509 *leaf_by(X509 *issuer, EVP_PKEY *issuer_key, const char *cn)
{
    return issue(CG_PKI_CLIENT, cn, issuer, issuer_key, P.leaf_key, 0, 0, 0, -1);
}

static int setup(void **state)
{
    char *err = NULL;
    (void)state;

    memset(&P, 0, sizeof(P));
    P.now = time(NULL);
    P.root_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.inter_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.leaf_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.other_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    if (!P.root_key || !P.inter_key || !P.leaf_key || !P.other_key)
        return -1;
    /* CAs valid since two months, so that --at can look back a little. */
    P.root = issue(CG_PKI_ROOT_CA, "Test Root", NULL, P.root_key, P.root_key,
                   P.now - 60 * DAY, P.now + 365 * DAY, 0, -1);
    P.inter = issue(CG_PKI_INTERMEDIATE_CA, "Test Intermediate", P.root, P.root_key,
                    P.inter_key, P.now - 60 * DAY, P.now + 365 * DAY, 0, -1);
    P.other_root = issue(CG_PKI_ROOT_CA, "Other Root", NULL, P.other_key, P.other_key, 0, 0, 0, -1);
    P.trust = cg_trust_new();
    if (!P.root || !P.inter || !P.other_root || !P.trust ||
        cg_trust_add_root(P.trust, P.root) != CG_OK ||
        cg_trust_add_intermediate(P.trust, P.inter) != CG_OK)
        return -1;
    free(err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cg_trust_unref(P.trust);
    X509_free(P.root);
    X509_free(P.inter);
    X509_free(P.other_root);
    EVP_PKEY_free(P.root_key);
    EVP_PKEY_free(P.inter_key);
    EVP_PKEY_free(P.leaf_key);
    EVP_PKEY_free(P.other_key);
    return 0;
}

static STACK_OF(X509) *chain_of(X509 *a, X509 *b)
{
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (a != NULL)
        sk_X509_push(sk, a);
    if (b != NULL)
        sk_X509_push(sk, b);
    return sk;
}

static bool has_problem(const struct cg_path_element *e, cg_reason_t r)
{
    for (size_t i = 0; i < e->n_problems; i++) {
        if (e->problems[i].reason == r)
            return true;
    }
    return false;
}

static void expect_headline(const struct cg_verdict *v, cg_reason_t r, int status, int sub)
{
    if (v->reason != r)
        fail_msg("reason %s, expected %s (%s)", cg_reason_slug(v->reason), cg_reason_slug(r),
                 v->detail ? v->detail : "");
    assert_int_equal(v->status, status);
    assert_int_equal(v->substatus, sub);
    assert_string_equal(v->code, cg_reason_code(r));
    assert_non_null(v->detail);
}

static void judge(X509 *leaf, STACK_OF(X509) *chain, const struct cg_trust *t, time_t at,
                  const struct cg_policy *policy, struct cg_verdict *v)
{
    assert_int_equal(cg_verdict_judge(leaf, chain, t, at, policy, v), CG_OK);
}

static void test_ok_and_sources(void **state)
{
    struct cg_verdict v;
    X509 *leaf = leaf_by(P.inter, P.inter_key, "alice");
    STACK_OF(X509) *chain = chain_of(P.inter, NULL);
    (void)state;

    /* The intermediate sent by the client. */
    judge(leaf, chain, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    assert_int_equal(v.path_len, 3);
    assert_int_equal(v.path[0].source, CG_SOURCE_CLIENT);
    assert_int_equal(v.path[1].source, CG_SOURCE_CLIENT);
    assert_int_equal(v.path[2].source, CG_SOURCE_ROOT_STORE);
    assert_string_equal(v.path[0].subject, "CN=alice");
    assert_string_equal(v.path[0].issuer, "CN=Test Intermediate");
    assert_int_equal(strlen(v.path[0].sha256), 64);
    assert_int_equal(strlen(v.path[0].not_after), 20);
    for (size_t i = 0; i < v.path_len; i++)
        assert_int_equal(v.path[i].n_problems, 0);
    cg_verdict_free(&v);
    assert_null(v.path);

    /* The intermediate found in the store only. */
    judge(leaf, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    assert_int_equal(v.path[1].source, CG_SOURCE_INTERMEDIATE_STORE);
    cg_verdict_free(&v);
    sk_X509_free(chain);
    X509_free(leaf);
}

static void test_cert_required(void **state)
{
    struct cg_verdict v;
    (void)state;
    judge(NULL, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_CERT_REQUIRED, 403, 7);
    assert_int_equal(v.path_len, 0);
    cg_verdict_free(&v);
}

static void test_untrusted_root(void **state)
{
    struct cg_verdict v;
    X509 *leaf = leaf_by(P.other_root, P.other_key, "mallory");
    STACK_OF(X509) *chain = chain_of(P.other_root, NULL);
    (void)state;

    judge(leaf, chain, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_UNTRUSTED_ROOT, 403, 16);
    assert_int_equal(v.path_len, 2);
    assert_int_equal(v.path[1].source, CG_SOURCE_CLIENT);
    assert_true(has_problem(&v.path[1], CG_REASON_UNTRUSTED_ROOT));
    assert_int_equal(v.path[0].n_problems, 0);
    assert_true(v.n_remedy >= 1);
    assert_non_null(strstr(v.remedy[0], "--to root"));
    cg_verdict_free(&v);

    /* A self-signed leaf alone: depth-zero self-signed. */
    judge(P.other_root, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_UNTRUSTED_ROOT, 403, 16);
    assert_int_equal(v.path_len, 1);
    cg_verdict_free(&v);
    sk_X509_free(chain);
    X509_free(leaf);
}

static void test_incomplete_chain(void **state)
{
    struct cg_verdict v;
    EVP_PKEY *k = cg_pki_keygen(CG_PKI_KEY_EC_P256, NULL);
    X509 *unlisted = issue(CG_PKI_INTERMEDIATE_CA, "Unlisted CA", P.root, P.root_key, k, 0, 0,
                           0, -1);
    X509 *leaf = leaf_by(unlisted, k, "bob");
    (void)state;

    judge(leaf, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_INCOMPLETE_CHAIN, 403, 16);
    assert_int_equal(v.path_len, 2);
    assert_int_equal(v.path[0].source, CG_SOURCE_CLIENT);
    assert_int_equal(v.path[1].source, CG_SOURCE_MISSING);
    assert_null(v.path[1].cert);
    assert_string_equal(v.path[1].subject, "CN=Unlisted CA");
    assert_true(has_problem(&v.path[1], CG_REASON_INCOMPLETE_CHAIN));
    assert_non_null(strstr(v.detail, "CN=Unlisted CA"));
    assert_non_null(strstr(v.remedy[0], "--to intermediate"));
    cg_verdict_free(&v);
    X509_free(leaf);
    X509_free(unlisted);
    EVP_PKEY_free(k);
}

static void test_distrusted(void **state)
{
    struct cg_verdict v;
    struct cg_trust *t = cg_trust_new();
    X509 *leaf = leaf_by(P.inter, P.inter_key, "carol");
    (void)state;

    assert_int_equal(cg_trust_add_root(t, P.root), CG_OK);
    assert_int_equal(cg_trust_add_intermediate(t, P.inter), CG_OK);
    assert_int_equal(cg_trust_add_disallowed(t, P.inter), CG_OK);
    judge(leaf, NULL, t, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_DISTRUSTED, 403, 16);
    assert_true(has_problem(&v.path[1], CG_REASON_DISTRUSTED));
    assert_false(has_problem(&v.path[0], CG_REASON_DISTRUSTED));
    cg_verdict_free(&v);

    /* The leaf itself distrusted. */
    assert_int_equal(cg_trust_add_disallowed(t, leaf), CG_OK);
    judge(leaf, NULL, t, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_DISTRUSTED, 403, 16);
    assert_true(has_problem(&v.path[0], CG_REASON_DISTRUSTED));
    cg_verdict_free(&v);
    cg_trust_unref(t);
    X509_free(leaf);
}

static void test_wrong_usage(void **state)
{
    struct cg_verdict v;
    struct cg_policy pol;
    X509 *leaf = issue(CG_PKI_CLIENT, "server-only", P.inter, P.inter_key, P.leaf_key, 0, 0,
                       CG_PKI_EKU_SERVER_AUTH, -1);
    (void)state;

    judge(leaf, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_WRONG_USAGE, 403, 16);
    assert_true(has_problem(&v.path[0], CG_REASON_WRONG_USAGE));
    cg_verdict_free(&v);

    /* The same certificate is fine for purpose server or any. */
    cg_policy_init(&pol);
    pol.purpose = CG_PURPOSE_SERVER;
    judge(leaf, NULL, P.trust, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);
    pol.purpose = CG_PURPOSE_ANY;
    judge(leaf, NULL, P.trust, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);
    X509_free(leaf);
}

static void test_bad_signature(void **state)
{
    struct cg_verdict v;
    /* Names the real intermediate as issuer, signed by another key. */
    X509 *leaf = leaf_by(P.inter, P.inter_key, "forged");
    (void)state;

    assert_true(X509_sign(leaf, P.other_key, EVP_sha256()) > 0);
    judge(leaf, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_BAD_SIGNATURE, 403, 16);
    assert_true(has_problem(&v.path[0], CG_REASON_BAD_SIGNATURE));
    assert_int_equal(v.path[1].source, CG_SOURCE_INTERMEDIATE_STORE);
    cg_verdict_free(&v);
    X509_free(leaf);
}

static void test_constraint_violation(void **state)
{
    struct cg_verdict v;
    EVP_PKEY *k1 = cg_pki_keygen(CG_PKI_KEY_EC_P256, NULL);
    EVP_PKEY *k2 = cg_pki_keygen(CG_PKI_KEY_EC_P256, NULL);
    /* pathLen 0 below the root, and yet another CA below it. */
    X509 *ca0 = issue(CG_PKI_INTERMEDIATE_CA, "PathLen0 CA", P.root, P.root_key, k1, 0, 0, 0, 0);
    X509 *sub = issue(CG_PKI_INTERMEDIATE_CA, "Sub CA", ca0, k1, k2, 0, 0, 0, -1);
    X509 *leaf = leaf_by(sub, k2, "dave");
    STACK_OF(X509) *chain = chain_of(sub, ca0);
    (void)state;

    judge(leaf, chain, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_CONSTRAINT_VIOLATION, 403, 16);
    assert_int_equal(v.path_len, 4);
    assert_true(has_problem(&v.path[2], CG_REASON_CONSTRAINT_VIOLATION));
    cg_verdict_free(&v);
    sk_X509_free(chain);
    X509_free(leaf);
    X509_free(sub);
    X509_free(ca0);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

static void test_invalid_critical_extension(void **state)
{
    struct cg_verdict v;
    X509 *leaf = leaf_by(P.inter, P.inter_key, "odd");
    ASN1_OBJECT *obj = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
    ASN1_OCTET_STRING *data = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext;
    (void)state;

    /* An unknown critical extension, re-signed by the real issuer. */
    assert_true(ASN1_OCTET_STRING_set(data, (const unsigned char *)"\x05\x00", 2));
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 1, data);
    assert_non_null(ext);
    assert_true(X509_add_ext(leaf, ext, -1));
    assert_true(X509_sign(leaf, P.inter_key, EVP_sha256()) > 0);
    judge(leaf, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_INVALID, 403, 16);
    assert_true(has_problem(&v.path[0], CG_REASON_INVALID));
    cg_verdict_free(&v);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(data);
    ASN1_OBJECT_free(obj);
    X509_free(leaf);
}

static void test_expired_and_not_yet_valid(void **state)
{
    struct cg_verdict v;
    X509 *old = issue(CG_PKI_CLIENT, "old", P.inter, P.inter_key, P.leaf_key,
                      P.now - 30 * DAY, P.now - DAY, 0, -1);
    X509 *young = issue(CG_PKI_CLIENT, "young", P.inter, P.inter_key, P.leaf_key,
                        P.now + DAY, P.now + 30 * DAY, 0, -1);
    (void)state;

    judge(old, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_EXPIRED, 403, 17);
    assert_true(has_problem(&v.path[0], CG_REASON_EXPIRED));
    assert_non_null(strstr(v.detail, "'CN=old' expired on"));
    cg_verdict_free(&v);

    judge(young, NULL, P.trust, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_NOT_YET_VALID, 403, 17);
    assert_true(has_problem(&v.path[0], CG_REASON_NOT_YET_VALID));
    cg_verdict_free(&v);

    /* --at moves the clock: the old one was fine a week before it expired. */
    judge(old, NULL, P.trust, P.now - 7 * DAY, NULL, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);
    X509_free(old);
    X509_free(young);
}

static X509_CRL *crl_of(X509 *issuer, EVP_PKEY *key, X509 *revoked, time_t this_update)
{
    struct cg_pki_revoked r = {.cert = revoked, .reason = -1};
    X509_CRL *crl = cg_pki_make_crl(issuer, key, revoked ? &r : NULL, revoked ? 1 : 0,
                                    this_update, 0, 1, NULL);
    assert_non_null(crl);
    return crl;
}

static void test_revocation(void **state)
{
    struct cg_verdict v;
    struct cg_policy pol;
    struct cg_trust *t = cg_trust_new();
    X509 *leaf = leaf_by(P.inter, P.inter_key, "erin");
    X509 *other = leaf_by(P.inter, P.inter_key, "frank");
    X509_CRL *root_crl = crl_of(P.root, P.root_key, NULL, 0);
    X509_CRL *inter_crl = crl_of(P.inter, P.inter_key, leaf, 0);
    (void)state;

    cg_policy_init(&pol);
    pol.revocation = CG_REVOCATION_CRL;
    assert_int_equal(cg_trust_add_root(t, P.root), CG_OK);
    assert_int_equal(cg_trust_add_intermediate(t, P.inter), CG_OK);

    /* No CRL at all: unknown, denied by default. */
    judge(leaf, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOCATION_UNKNOWN, 403, 16);
    assert_true(has_problem(&v.path[0], CG_REASON_REVOCATION_UNKNOWN));
    cg_verdict_free(&v);

    /* ... or allowed, and then only noted. */
    pol.on_unknown = CG_ON_UNKNOWN_ALLOW;
    judge(leaf, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    assert_true(has_problem(&v.path[0], CG_REASON_REVOCATION_UNKNOWN));
    assert_true(v.path[0].problems[0].advisory);
    cg_verdict_free(&v);
    pol.on_unknown = CG_ON_UNKNOWN_DENY;

    assert_int_equal(cg_trust_add_crl(t, root_crl), CG_OK);
    assert_int_equal(cg_trust_add_crl(t, inter_crl), CG_OK);
    assert_int_equal(cg_trust_crl_count(t), 2);
    judge(leaf, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOKED, 403, 13);
    assert_true(has_problem(&v.path[0], CG_REASON_REVOKED));
    cg_verdict_free(&v);

    judge(other, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);

    /* Revocation off: the CRL is not consulted. */
    pol.revocation = CG_REVOCATION_OFF;
    judge(leaf, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);

    cg_trust_unref(t);
    X509_CRL_free(root_crl);
    X509_CRL_free(inter_crl);
    X509_free(leaf);
    X509_free(other);
}

static void test_max_crl_age(void **state)
{
    struct cg_verdict v;
    struct cg_policy pol;
    struct cg_trust *t = cg_trust_new();
    X509 *leaf = leaf_by(P.inter, P.inter_key, "gina");
    /* Issued 3 days ago, valid for 7: current, but older than a day. */
    X509_CRL *crl = crl_of(P.inter, P.inter_key, NULL, P.now - 3 * DAY);
    (void)state;

    cg_policy_init(&pol);
    pol.revocation = CG_REVOCATION_CRL;
    pol.scope = CG_SCOPE_LEAF;
    assert_int_equal(cg_trust_add_root(t, P.root), CG_OK);
    assert_int_equal(cg_trust_add_intermediate(t, P.inter), CG_OK);
    assert_int_equal(cg_trust_add_crl(t, crl), CG_OK);
    judge(leaf, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);

    pol.max_crl_age = DAY;
    judge(leaf, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOCATION_UNKNOWN, 403, 16);
    assert_non_null(strstr(v.path[0].problems[0].text, "maximum CRL age"));
    cg_verdict_free(&v);
    cg_trust_unref(t);
    X509_CRL_free(crl);
    X509_free(leaf);
}

static bool has_error(const struct cg_path_element *e, int x509_error)
{
    for (size_t i = 0; i < e->n_problems; i++) {
        if (e->problems[i].x509_error == x509_error)
            return true;
    }
    return false;
}

/* A trust with the CA path and one CRL of the intermediate's (owned by the caller). */
static struct cg_trust *trust_with_crl(X509_CRL *crl)
{
    struct cg_trust *t = cg_trust_new();

    assert_non_null(t);
    assert_int_equal(cg_trust_add_root(t, P.root), CG_OK);
    assert_int_equal(cg_trust_add_intermediate(t, P.inter), CG_OK);
    assert_int_equal(cg_trust_add_crl(t, crl), CG_OK);
    return t;
}

/*
 * A store CRL whose thisUpdate lies ahead of the verification time (the
 * CA's clock runs ahead): within the policy's clock_skew it counts, beyond
 * it (or with no skew) OpenSSL's "not yet valid" stands.
 */
static void test_crl_clock_skew(void **state)
{
    struct cg_verdict v;
    struct cg_policy pol;
    X509 *leaf = leaf_by(P.inter, P.inter_key, "hal");
    X509_CRL *ahead = crl_of(P.inter, P.inter_key, NULL, P.now + 120);
    X509_CRL *far = crl_of(P.inter, P.inter_key, NULL, P.now + 400);
    struct cg_trust *t_ahead = trust_with_crl(ahead), *t_far = trust_with_crl(far);
    (void)state;

    cg_policy_init(&pol);
    assert_int_equal(pol.clock_skew, 0);   /* the engine's default: OpenSSL's check as is */
    pol.revocation = CG_REVOCATION_CRL;
    pol.scope = CG_SCOPE_LEAF;

    /* No leeway: 120 s ahead is not valid yet. */
    judge(leaf, NULL, t_ahead, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOCATION_UNKNOWN, 403, 16);
    assert_true(has_error(&v.path[0], X509_V_ERR_CRL_NOT_YET_VALID));
    cg_verdict_free(&v);

    /* 300 s of leeway: the CRL counts, and it does not list the leaf. */
    pol.clock_skew = 300;
    judge(leaf, NULL, t_ahead, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    assert_int_equal(v.path[0].n_problems, 0);
    cg_verdict_free(&v);

    /* The edges: thisUpdate exactly `at + skew` counts, one second more does not. */
    pol.clock_skew = 120;
    judge(leaf, NULL, t_ahead, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);
    pol.clock_skew = 119;
    judge(leaf, NULL, t_ahead, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOCATION_UNKNOWN, 403, 16);
    assert_true(has_error(&v.path[0], X509_V_ERR_CRL_NOT_YET_VALID));
    cg_verdict_free(&v);

    /* 400 s ahead is beyond 300 s of leeway. */
    pol.clock_skew = 300;
    judge(leaf, NULL, t_far, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOCATION_UNKNOWN, 403, 16);
    assert_true(has_error(&v.path[0], X509_V_ERR_CRL_NOT_YET_VALID));
    cg_verdict_free(&v);

    /* Only thisUpdate gets it: a CRL past its nextUpdate stays expired. */
    judge(leaf, NULL, t_ahead, P.now + 7 * DAY + 121, &pol, &v);
    expect_headline(&v, CG_REASON_REVOCATION_UNKNOWN, 403, 16);
    assert_true(has_error(&v.path[0], X509_V_ERR_CRL_HAS_EXPIRED));
    cg_verdict_free(&v);

    cg_trust_unref(t_ahead);
    cg_trust_unref(t_far);
    X509_CRL_free(ahead);
    X509_CRL_free(far);
    X509_free(leaf);
}

/* The leeway lets the CRL be read; it never hides what the CRL lists. */
static void test_crl_clock_skew_keeps_revocation(void **state)
{
    struct cg_verdict v;
    struct cg_policy pol;
    X509 *leaf = leaf_by(P.inter, P.inter_key, "ivy");
    X509 *other = leaf_by(P.inter, P.inter_key, "jack");
    struct cg_pki_revoked r = {.cert = leaf, .revoked_at = P.now - 60, .reason = 1};
    X509_CRL *crl = cg_pki_make_crl(P.inter, P.inter_key, &r, 1, P.now + 120, 0, 1, NULL);
    struct cg_trust *t;
    (void)state;

    assert_non_null(crl);
    t = trust_with_crl(crl);
    cg_policy_init(&pol);
    pol.revocation = CG_REVOCATION_CRL;
    pol.scope = CG_SCOPE_LEAF;
    pol.clock_skew = 300;
    judge(leaf, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOKED, 403, 13);
    assert_true(has_problem(&v.path[0], CG_REASON_REVOKED));
    assert_false(has_error(&v.path[0], X509_V_ERR_CRL_NOT_YET_VALID));
    cg_verdict_free(&v);
    /* ... and the CRL vouches for a certificate it does not list. */
    judge(other, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    cg_verdict_free(&v);
    /* Without leeway the revoked one is still refused (unknown, not accepted). */
    pol.clock_skew = 0;
    judge(leaf, NULL, t, P.now, &pol, &v);
    assert_int_not_equal(v.reason, CG_REASON_OK);
    assert_int_equal(v.status, 403);
    cg_verdict_free(&v);

    cg_trust_unref(t);
    X509_CRL_free(crl);
    X509_free(leaf);
    X509_free(other);
}

/* revoked (403.13) > the 403.16 family > expired (403.17); all stay listed. */
static void test_headline_rule(void **state)
{
    struct cg_verdict v;
    struct cg_policy pol;
    struct cg_trust *t = cg_trust_new();
    X509 *old = issue(CG_PKI_CLIENT, "old-revoked", P.inter, P.inter_key, P.leaf_key,
                      P.now - 30 * DAY, P.now - DAY, CG_PKI_EKU_SERVER_AUTH, -1);
    X509_CRL *root_crl = crl_of(P.root, P.root_key, NULL, 0);
    X509_CRL *inter_crl = crl_of(P.inter, P.inter_key, old, 0);
    (void)state;

    cg_policy_init(&pol);
    assert_int_equal(cg_trust_add_root(t, P.root), CG_OK);
    assert_int_equal(cg_trust_add_intermediate(t, P.inter), CG_OK);

    /* expired + wrong usage: the 403.16 one wins. */
    judge(old, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_WRONG_USAGE, 403, 16);
    assert_true(has_problem(&v.path[0], CG_REASON_EXPIRED));
    assert_true(has_problem(&v.path[0], CG_REASON_WRONG_USAGE));
    cg_verdict_free(&v);

    /* + revoked: revoked wins, the other two stay in the path. */
    assert_int_equal(cg_trust_add_crl(t, root_crl), CG_OK);
    assert_int_equal(cg_trust_add_crl(t, inter_crl), CG_OK);
    pol.revocation = CG_REVOCATION_CRL;
    judge(old, NULL, t, P.now, &pol, &v);
    expect_headline(&v, CG_REASON_REVOKED, 403, 13);
    assert_true(has_problem(&v.path[0], CG_REASON_REVOKED));
    assert_true(has_problem(&v.path[0], CG_REASON_EXPIRED));
    assert_true(has_problem(&v.path[0], CG_REASON_WRONG_USAGE));
    cg_verdict_free(&v);

    /* expired under an untrusted root: untrusted-root is the headline. */
    {
        X509 *stranger = issue(CG_PKI_CLIENT, "stranger", P.other_root, P.other_key,
                               P.leaf_key, P.now - 30 * DAY, P.now - DAY, 0, -1);
        judge(stranger, NULL, t, P.now, NULL, &v);
        expect_headline(&v, CG_REASON_INCOMPLETE_CHAIN, 403, 16);
        assert_true(has_problem(&v.path[0], CG_REASON_EXPIRED));
        cg_verdict_free(&v);
        X509_free(stranger);
    }
    cg_trust_unref(t);
    X509_CRL_free(root_crl);
    X509_CRL_free(inter_crl);
    X509_free(old);
}

/* A non-self-signed certificate given as a root is an anchor (partial chain). */
static void test_intermediate_as_anchor(void **state)
{
    struct cg_verdict v;
    struct cg_trust *t = cg_trust_new();
    X509 *leaf = leaf_by(P.inter, P.inter_key, "henry");
    (void)state;

    assert_int_equal(cg_trust_add_root(t, P.inter), CG_OK);
    judge(leaf, NULL, t, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    assert_int_equal(v.path_len, 2);
    assert_int_equal(v.path[1].source, CG_SOURCE_ROOT_STORE);
    cg_verdict_free(&v);
    cg_trust_unref(t);
    X509_free(leaf);
}

static void write_pem(const char *dir, const char *sub, const char *name, X509 *x)
{
    char path[1024];
    char *err = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s.pem", dir, sub, name);
    if (cg_pki_write_cert_pem(path, &x, 1, &err) != CG_OK)
        fail_msg("%s", err);
}

static void test_load_dir_and_wrong_store(void **state)
{
    const char *base = getenv("CG_TMPDIR") ? getenv("CG_TMPDIR") : "/tmp";
    char dir[512];
    char *err = NULL;
    struct cg_trust *t;
    struct cg_verdict v;
    X509 *leaf = leaf_by(P.inter, P.inter_key, "ivy");
    bool moved = false;
    (void)state;

    mkdir(base, 0755);
    snprintf(dir, sizeof(dir), "%s/test_verdict.%d", base, (int)getpid());
    assert_int_equal(mkdir(dir, 0755), 0);
    /* The intermediate put in root/ by mistake. */
    write_pem(dir, "root", "r", P.root);
    write_pem(dir, "root", "i", P.inter);
    t = cg_trust_load_dir(dir, &err);
    assert_non_null(t);
    assert_string_equal(cg_trust_dir(t), dir);
    judge(leaf, NULL, t, P.now, NULL, &v);
    expect_headline(&v, CG_REASON_OK, 200, 0);
    for (size_t i = 0; i < v.n_remedy; i++)
        moved |= strstr(v.remedy[i], "--to intermediate") != NULL;
    assert_true(moved);
    cg_verdict_free(&v);
    cg_trust_unref(t);

    /* A missing stores directory is an error naming it. */
    t = cg_trust_load_dir("/nonexistent/stores", &err);
    assert_null(t);
    assert_non_null(strstr(err, "/nonexistent/stores"));
    free(err);
    X509_free(leaf);
    {
        static const char *const files[] = {"root/r.pem", "root/i.pem", "root", ""};
        char path[600];
        for (size_t i = 0; i < CG_ARRAY_LEN(files); i++) {
            snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
            assert_int_equal(remove(path), 0);
        }
    }
}

static void test_json_shape(void **state)
{
    struct cg_verdict v;
    X509 *old = issue(CG_PKI_CLIENT, "json", P.inter, P.inter_key, P.leaf_key,
                      P.now - 30 * DAY, P.now - DAY, 0, -1);
    json_t *j, *path, *problems;
    (void)state;

    judge(old, NULL, P.trust, P.now, NULL, &v);
    j = cg_verdict_to_json(&v);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "verdict"), "reason")),
                        "expired");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "verdict"), "code")),
                        "403.17");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "verdict"), "substatus")),
                     17);
    path = json_object_get(j, "path");
    assert_int_equal(json_array_size(path), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(path, 0), "source")),
                        "client");
    assert_string_equal(json_string_value(json_object_get(json_array_get(path, 2), "source")),
                        "root-store");
    problems = json_object_get(json_array_get(path, 0), "problems");
    assert_string_equal(json_string_value(json_object_get(json_array_get(problems, 0), "reason")),
                        "expired");
    assert_true(json_is_array(json_object_get(j, "remedy")));
    json_decref(j);
    cg_verdict_free(&v);
    X509_free(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_and_sources),
        cmocka_unit_test(test_cert_required),
        cmocka_unit_test(test_untrusted_root),
        cmocka_unit_test(test_incomplete_chain),
        cmocka_unit_test(test_distrusted),
        cmocka_unit_test(test_wrong_usage),
        cmocka_unit_test(test_bad_signature),
        cmocka_unit_test(test_constraint_violation),
        cmocka_unit_test(test_invalid_critical_extension),
        cmocka_unit_test(test_expired_and_not_yet_valid),
        cmocka_unit_test(test_revocation),
        cmocka_unit_test(test_max_crl_age),
        cmocka_unit_test(test_crl_clock_skew),
        cmocka_unit_test(test_crl_clock_skew_keeps_revocation),
        cmocka_unit_test(test_headline_rule),
        cmocka_unit_test(test_intermediate_as_anchor),
        cmocka_unit_test(test_load_dir_and_wrong_store),
        cmocka_unit_test(test_json_shape),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

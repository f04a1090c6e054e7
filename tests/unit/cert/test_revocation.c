/*
 * Revocation through the verdict engine's hook (cert/revocation.h): the
 * offline OCSP hook and the online hook in cache-only mode (no network: the
 * answers are put in the cache first, as the server's fetch callback does),
 * local CRLs, scope leaf/chain, on_unknown deny/allow, and the path report's
 * per-element source, times and status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cert/ocsp.h"
#include "cert/pki.h"
#include "cert/revocation.h"
#include "cert/verdict.h"
#include "core/common.h"
#include "testutil.h"

#define CRL_URL "http://127.0.0.1:9/inter.crl"

static struct tu_pair root, inter, leaf;
static struct cg_trust *trust;
static STACK_OF(X509) *chain;
static time_t now;

static int setup(void **state)
{
    struct cg_pki_spec spec = {.profile = CG_PKI_CLIENT, .subject_cn = "dave", .path_len = -1,
                               .crl_url = CRL_URL, .serial = 0x4242};
    char *err = NULL;
    (void)state;

    now = time(NULL);
    root = tu_issue(CG_PKI_ROOT_CA, "Rev Root", NULL);
    inter = tu_issue(CG_PKI_INTERMEDIATE_CA, "Rev Intermediate", &root);
    leaf.key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    leaf.cert = cg_pki_issue(&spec, leaf.key, inter.cert, inter.key, &err);
    trust = cg_trust_new();
    chain = sk_X509_new_null();
    if (leaf.cert == NULL || trust == NULL || chain == NULL ||
        cg_trust_add_root(trust, root.cert) != CG_OK || !sk_X509_push(chain, inter.cert))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sk_X509_free(chain);
    cg_trust_unref(trust);
    tu_pair_free(&leaf);
    tu_pair_free(&inter);
    tu_pair_free(&root);
    return 0;
}

static void ocsp_for_leaf(const struct cg_pki_revoked *rev, size_t n, unsigned char **der,
                          size_t *len)
{
    unsigned char *req = NULL;
    size_t req_len = 0;
    char *err = NULL;

    assert_int_equal(cg_ocsp_request(leaf.cert, inter.cert, NULL, 0, &req, &req_len, &err), CG_OK);
    assert_int_equal(cg_pki_ocsp_respond(req, req_len, inter.cert, inter.cert, inter.key, rev, n,
                                         0, 0, der, len, &err),
                     CG_OK);
    OPENSSL_free(req);
    free(err);
}

static void judge(const struct cg_policy *p, struct cg_verdict *v)
{
    assert_int_equal(cg_verdict_judge(leaf.cert, chain, trust, now, p, v), CG_OK);
}

static void test_offline_ocsp(void **state)
{
    (void)state;
    struct cg_pki_revoked rev = {.cert = leaf.cert, .revoked_at = now - 3600, .reason = 1};
    struct cg_rev_offline_ocsp o = {0};
    struct cg_policy p;
    struct cg_verdict v;
    unsigned char *der = NULL;
    size_t len = 0;

    ocsp_for_leaf(NULL, 0, &der, &len);
    o.der = der;
    o.len = len;
    cg_policy_init(&p);
    p.revocation_hook = cg_revocation_offline_ocsp;
    p.revocation_arg = &o;
    p.scope = CG_SCOPE_LEAF;
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_OK);
    assert_int_equal(v.path[0].revocation.source, CG_REV_SOURCE_OCSP);
    assert_int_equal(v.path[0].revocation.status, CG_REV_GOOD);
    assert_true(v.path[0].revocation.next_update > now);
    assert_int_equal(v.path[1].revocation.source, CG_REV_SOURCE_NONE);   /* out of scope */
    cg_verdict_free(&v);

    /* scope chain: the response says nothing of the intermediate */
    p.scope = CG_SCOPE_CHAIN;
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_REVOCATION_UNKNOWN);
    assert_int_equal(v.substatus, 16);
    assert_non_null(strstr(v.detail, "Rev Intermediate"));
    /* signed by the intermediate, so not even a valid answer about it */
    assert_non_null(strstr(v.detail, "unusable"));
    assert_int_equal(v.path[2].revocation.source, CG_REV_SOURCE_NONE);   /* the root: never asked */
    assert_null(v.path[2].revocation.tried);
    cg_verdict_free(&v);
    p.on_unknown = CG_ON_UNKNOWN_ALLOW;
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_OK);
    assert_true(v.path[1].n_problems == 1 && v.path[1].problems[0].advisory);
    cg_verdict_free(&v);
    OPENSSL_free(der);

    /* revoked: 403.13 with the date and the reason */
    ocsp_for_leaf(&rev, 1, &der, &len);
    o.der = der;
    o.len = len;
    p.scope = CG_SCOPE_LEAF;
    p.on_unknown = CG_ON_UNKNOWN_DENY;
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_REVOKED);
    assert_int_equal(v.substatus, 13);
    assert_non_null(strstr(v.detail, "reason keyCompromise (OCSP)"));
    assert_int_equal(v.path[0].revocation.revoked_at, now - 3600);
    cg_verdict_free(&v);
    OPENSSL_free(der);
}

static void test_online_from_cache(void **state)
{
    (void)state;
    struct cg_pki_revoked rev = {.cert = leaf.cert, .reason = 4};
    struct cg_revcache *cache = cg_revcache_new(NULL, NULL);
    struct cg_rev_online o = {.cache = cache, .use_ocsp = true, .use_crl = true};
    X509_CRL *crl;
    unsigned char *der = NULL;
    struct cg_policy p;
    struct cg_verdict v;
    char *err = NULL;
    int len;

    assert_non_null(cache);
    cg_policy_init(&p);
    p.revocation_hook = cg_revocation_online;
    p.revocation_arg = &o;
    p.scope = CG_SCOPE_LEAF;

    /* nothing cached, no fetcher: unknown, and it says what it lacked */
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_REVOCATION_UNKNOWN);
    assert_non_null(strstr(v.path[0].revocation.tried, "no responder"));
    assert_non_null(strstr(v.path[0].revocation.tried, "CRL " CRL_URL ": not fetched yet"));
    cg_verdict_free(&v);

    /* the fetch callback stored the CRL: revoked, from the fetched CRL */
    crl = cg_pki_make_crl(inter.cert, inter.key, &rev, 1, 0, 0, 1, &err);
    assert_non_null(crl);
    len = i2d_X509_CRL(crl, &der);
    assert_true(len > 0);
    assert_int_equal(cg_revcache_put(cache, CG_REVCACHE_CRL, CRL_URL, der, (size_t)len, now,
                                     now - 3600, now + 86400, &err),
                     CG_OK);
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_REVOKED);
    assert_int_equal(v.path[0].revocation.source, CG_REV_SOURCE_FETCHED_CRL);
    assert_int_equal(v.path[0].revocation.reason, 4);
    assert_true(v.path[0].revocation.next_update > now);   /* the CRL's own nextUpdate */
    assert_non_null(strstr(v.detail, "reason superseded (CRL)"));
    cg_verdict_free(&v);
    OPENSSL_free(der);
    X509_CRL_free(crl);

    /* a local CRL from the issuer is asked first */
    crl = cg_pki_make_crl(inter.cert, inter.key, NULL, 0, 0, 0, 2, &err);
    o.trust = trust;
    {
        struct cg_trust *t2 = cg_trust_new();
        assert_int_equal(cg_trust_add_root(t2, root.cert), CG_OK);
        assert_int_equal(cg_trust_add_crl(t2, crl), CG_OK);
        o.trust = t2;
        assert_int_equal(cg_verdict_judge(leaf.cert, chain, t2, now, &p, &v), CG_OK);
        assert_int_equal(v.reason, CG_REASON_OK);
        assert_int_equal(v.path[0].revocation.source, CG_REV_SOURCE_LOCAL_CRL);
        cg_verdict_free(&v);
        cg_trust_unref(t2);
    }
    X509_CRL_free(crl);
    cg_revcache_free(cache);
    free(err);
}

/*
 * A CRL whose issuer's clock runs a minute ahead (thisUpdate now + 60 s),
 * fetched or local: usable with the default clock_skew (5 min), not valid
 * yet with clock_skew 0.
 */
static void test_crl_clock_skew(void **state)
{
    (void)state;
    struct cg_pki_revoked rev = {.cert = leaf.cert, .reason = 1};
    struct cg_revcache *cache = cg_revcache_new(NULL, NULL);
    struct cg_trust *local = cg_trust_new();
    struct cg_rev_online o = {.cache = cache, .use_crl = true,
                              .clock_skew = CG_OCSP_CLOCK_SKEW_S};
    X509_CRL *crl;
    unsigned char *der = NULL;
    struct cg_policy p;
    struct cg_verdict v;
    char *err = NULL;
    int len;

    assert_non_null(cache);
    assert_non_null(local);
    cg_policy_init(&p);
    p.revocation_hook = cg_revocation_online;
    p.revocation_arg = &o;
    p.scope = CG_SCOPE_LEAF;
    crl = cg_pki_make_crl(inter.cert, inter.key, &rev, 1, now + 60, now + 86400, 1, &err);
    assert_non_null(crl);

    /* fetched */
    len = i2d_X509_CRL(crl, &der);
    assert_true(len > 0);
    assert_int_equal(cg_revcache_put(cache, CG_REVCACHE_CRL, CRL_URL, der, (size_t)len, now,
                                     now + 60, now + 86400, &err),
                     CG_OK);
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_REVOKED);
    assert_int_equal(v.path[0].revocation.source, CG_REV_SOURCE_FETCHED_CRL);
    assert_int_equal(v.path[0].revocation.this_update, now + 60);
    cg_verdict_free(&v);
    o.clock_skew = 0;
    judge(&p, &v);
    assert_int_equal(v.reason, CG_REASON_REVOCATION_UNKNOWN);
    assert_non_null(strstr(v.path[0].revocation.tried, "CRL " CRL_URL));
    assert_non_null(strstr(v.path[0].revocation.tried, "not valid yet (thisUpdate "));
    cg_verdict_free(&v);

    /* local (stores/crl/), with no fetched one to fall back on */
    cg_revcache_free(cache);
    cache = cg_revcache_new(NULL, NULL);
    assert_non_null(cache);
    o.cache = cache;
    assert_int_equal(cg_trust_add_root(local, root.cert), CG_OK);
    assert_int_equal(cg_trust_add_crl(local, crl), CG_OK);
    o.trust = local;
    o.clock_skew = CG_OCSP_CLOCK_SKEW_S;
    assert_int_equal(cg_verdict_judge(leaf.cert, chain, local, now, &p, &v), CG_OK);
    assert_int_equal(v.reason, CG_REASON_REVOKED);
    assert_int_equal(v.path[0].revocation.source, CG_REV_SOURCE_LOCAL_CRL);
    cg_verdict_free(&v);
    o.clock_skew = 0;
    assert_int_equal(cg_verdict_judge(leaf.cert, chain, local, now, &p, &v), CG_OK);
    assert_int_equal(v.reason, CG_REASON_REVOCATION_UNKNOWN);
    assert_non_null(strstr(v.path[0].revocation.tried, "local CRL: not valid yet (thisUpdate "));
    cg_verdict_free(&v);

    OPENSSL_free(der);
    X509_CRL_free(crl);
    cg_trust_unref(local);
    cg_revcache_free(cache);
    free(err);
}

/* No trusted root: the hook is not asked; the missing trust is the problem. */
static int hook_calls;
static int counting_hook(void *arg, X509 *cert, X509 *issuer, time_t at,
                         struct cg_revocation_info *out)
{
    (void)arg, (void)cert, (void)issuer, (void)at;
    hook_calls++;
    out->status = CG_REV_REVOKED;
    return CG_OK;
}

static void test_unanchored(void **state)
{
    (void)state;
    struct cg_trust *empty = cg_trust_new();
    struct tu_pair other = tu_issue(CG_PKI_ROOT_CA, "Other Root", NULL);
    struct cg_policy p;
    struct cg_verdict v;

    assert_int_equal(cg_trust_add_root(empty, other.cert), CG_OK);
    cg_policy_init(&p);
    p.revocation_hook = counting_hook;
    assert_int_equal(cg_verdict_judge(leaf.cert, chain, empty, now, &p, &v), CG_OK);
    assert_int_equal(hook_calls, 0);
    assert_int_not_equal(v.reason, CG_REASON_REVOKED);
    cg_verdict_free(&v);
    /* anchored: asked for leaf and intermediate (scope chain), not the root */
    judge(&p, &v);
    assert_int_equal(hook_calls, 2);
    assert_int_equal(v.reason, CG_REASON_REVOKED);
    cg_verdict_free(&v);
    cg_trust_unref(empty);
    tu_pair_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_ocsp),
        cmocka_unit_test(test_online_from_cache),
        cmocka_unit_test(test_crl_clock_skew),
        cmocka_unit_test(test_unanchored),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The verification cache: a hit serves the same verdict without judging
 * again; a different policy, a new trust (a reload, or a CRL that revokes),
 * time past a certificate's notAfter or an answer's nextUpdate each miss and
 * give the fresh verdict; the bounds hold; four threads share one cache.
 * Real certificates from the pki module, real OpenSSL verification.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cert/pki.h"
#include "cert/vcache.h"
#include "cert/verdict.h"
#include "core/common.h"

#define DAY (24 * 3600)
#define N_LEAVES 24

static struct {
    time_t now;
    EVP_PKEY *root_key, *inter_key, *leaf_key;
    X509 *root, *inter;
    X509 *leaves[N_LEAVES];          /* issued by inter; valid now - 1 day .. now + 10 days */
    STACK_OF(X509) *chain;           /* [inter], as a client sends it */
    struct cg_trust *trust;          /* root in root/ */
} P;

static X509 *issue(cg_pki_profile_t profile, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                   EVP_PKEY *key, time_t nb, time_t na)
{
    struct cg_pki_spec spec = {.profile = profile, .subject_cn = cn, .path_len = -1,
                               .not_before = nb, .not_after = na};
    char *err = NULL;
    X509 *x = cg_pki_issue(&spec, key, issuer, issuer_key, &err);

    if (x == NULL)
        fail_msg("issue %s: %s", cn, err ? err : "?");
    free(err);
    return x;
}

static struct cg_trust *trust_with(X509_CRL *crl)
{
    struct cg_trust *t = cg_trust_new();
    assert_non_null(t);
    assert_int_equal(cg_trust_add_root(t, P.root), CG_OK);
    if (crl != NULL)
        assert_int_equal(cg_trust_add_crl(t, crl), CG_OK);
    return t;
}

static int setup(void **state)
{
    char *err = NULL;

    (void)state;
    P.now = time(NULL);
    P.root_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.inter_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    P.leaf_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    if (P.root_key == NULL || P.inter_key == NULL || P.leaf_key == NULL)
        return -1;
    P.root = issue(CG_PKI_ROOT_CA, "VC Root", NULL, P.root_key, P.root_key, P.now - 10 * DAY,
                   P.now + 1000 * DAY);
    P.inter = issue(CG_PKI_INTERMEDIATE_CA, "VC Intermediate", P.root, P.root_key, P.inter_key,
                    P.now - 10 * DAY, P.now + 500 * DAY);
    for (int i = 0; i < N_LEAVES; i++) {
        char cn[32];
        snprintf(cn, sizeof(cn), "vc-client-%d", i);
        P.leaves[i] = issue(CG_PKI_CLIENT, cn, P.inter, P.inter_key, P.leaf_key, P.now - DAY,
                            P.now + 10 * DAY);
    }
    P.chain = sk_X509_new_null();
    if (P.chain == NULL || !sk_X509_push(P.chain, P.inter))
        return -1;
    P.trust = trust_with(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    cg_trust_unref(P.trust);
    sk_X509_free(P.chain);
    for (int i = 0; i < N_LEAVES; i++)
        X509_free(P.leaves[i]);
    X509_free(P.inter);
    X509_free(P.root);
    EVP_PKEY_free(P.root_key);
    EVP_PKEY_free(P.inter_key);
    EVP_PKEY_free(P.leaf_key);
    return 0;
}

/* Judges through the cache and returns the verdict's reason; *ref kept when
 * asked for. */
static cg_reason_t judge(struct cg_vcache *c, X509 *leaf, STACK_OF(X509) *chain,
                         const struct cg_trust *t, time_t at, const struct cg_policy *p,
                         struct cg_verdict_ref **keep)
{
    struct cg_verdict_ref *r = NULL;
    cg_reason_t why;

    assert_int_equal(cg_vcache_judge(c, leaf, chain, t, at, p, &r), CG_OK);
    assert_non_null(r);
    why = cg_verdict_ref_get(r)->reason;
    if (keep != NULL)
        *keep = r;
    else
        cg_verdict_ref_unref(r);
    return why;
}

static struct cg_vcache_stats stats(struct cg_vcache *c)
{
    struct cg_vcache_stats s;
    cg_vcache_stats(c, &s);
    return s;
}

static void test_hit_serves_the_same_verdict(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    struct cg_verdict_ref *a = NULL, *b = NULL;
    time_t from, until;

    (void)state;
    assert_int_equal(judge(c, P.leaves[0], P.chain, P.trust, P.now, NULL, &a), CG_REASON_OK);
    assert_int_equal(judge(c, P.leaves[0], P.chain, P.trust, P.now + 60, NULL, &b), CG_REASON_OK);
    /* the very same verdict object: not judged again */
    assert_ptr_equal(cg_verdict_ref_get(a), cg_verdict_ref_get(b));
    assert_int_equal(stats(c).misses, 1);
    assert_int_equal(stats(c).hits, 1);
    assert_int_equal(stats(c).entries, 1);
    /* the span ends no later than the default max_ttl, and holds `now` */
    cg_verdict_ref_span(a, &from, &until);
    assert_true(from <= P.now && P.now < until && until <= P.now + CG_VCACHE_DEFAULT_MAX_TTL);
    /* the chain is part of the key: the leaf alone is another entry */
    assert_int_equal(judge(c, P.leaves[0], NULL, P.trust, P.now, NULL, NULL),
                     CG_REASON_INCOMPLETE_CHAIN);
    assert_int_equal(stats(c).misses, 2);
    cg_verdict_ref_unref(a);
    /* references outlive the cache */
    cg_vcache_free(c);
    assert_string_equal(cg_verdict_ref_get(b)->code, "200");
    cg_verdict_ref_unref(b);
}

static void test_no_cache_and_no_certificate(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);

    (void)state;
    /* a NULL cache judges every time */
    assert_int_equal(judge(NULL, P.leaves[0], P.chain, P.trust, P.now, NULL, NULL),
                     CG_REASON_OK);
    /* no certificate, no stores: answered, never kept */
    assert_int_equal(judge(c, NULL, NULL, P.trust, P.now, NULL, NULL), CG_REASON_CERT_REQUIRED);
    assert_int_equal(judge(c, P.leaves[0], P.chain, NULL, P.now, NULL, NULL),
                     CG_REASON_INVALID);
    assert_int_equal(stats(c).entries, 0);
    assert_int_equal(stats(c).uncacheable, 2);
    cg_vcache_free(c);
}

static void test_other_policy_misses(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    struct cg_policy server, oid;

    (void)state;
    cg_policy_init(&server);
    server.purpose = CG_PURPOSE_SERVER;
    cg_policy_init(&oid);
    oid.policy_oids[0] = "1.3.6.1.4.1.99999.1";
    oid.explicit_policy = true;
    assert_int_equal(judge(c, P.leaves[1], P.chain, P.trust, P.now, NULL, NULL), CG_REASON_OK);
    /* a client certificate used as a server one: the cached 200 must not answer */
    assert_int_equal(judge(c, P.leaves[1], P.chain, P.trust, P.now, &server, NULL),
                     CG_REASON_WRONG_USAGE);
    assert_int_equal(judge(c, P.leaves[1], P.chain, P.trust, P.now, &oid, NULL),
                     CG_REASON_CONSTRAINT_VIOLATION);
    assert_int_equal(stats(c).misses, 3);
    assert_int_equal(stats(c).hits, 0);
    /* and each is then a hit of its own */
    assert_int_equal(judge(c, P.leaves[1], P.chain, P.trust, P.now, &server, NULL),
                     CG_REASON_WRONG_USAGE);
    assert_int_equal(judge(c, P.leaves[1], P.chain, P.trust, P.now, NULL, NULL), CG_REASON_OK);
    assert_int_equal(stats(c).hits, 2);
    cg_vcache_free(c);
}

static void test_policy_digest(void **state)
{
    struct cg_policy a, b;
    unsigned char da[CG_VCACHE_KEY_LEN], db[CG_VCACHE_KEY_LEN];
    char oid1[] = "1.2.3", oid2[] = "1.2.3";

    (void)state;
    cg_policy_init(&a);
    cg_policy_init(&b);
    a.policy_oids[0] = oid1;
    b.policy_oids[0] = oid2;   /* same OID at another address: same digest */
    assert_int_equal(cg_policy_digest(&a, da), CG_OK);
    assert_int_equal(cg_policy_digest(&b, db), CG_OK);
    assert_memory_equal(da, db, sizeof(da));
    b.max_crl_age = 1;
    assert_int_equal(cg_policy_digest(&b, db), CG_OK);
    assert_memory_not_equal(da, db, sizeof(da));
    b.max_crl_age = 0;
    b.clock_skew = 300;
    assert_int_equal(cg_policy_digest(&b, db), CG_OK);
    assert_memory_not_equal(da, db, sizeof(da));
    b.clock_skew = 0;
    b.anchor_skip_validity = true;
    assert_int_equal(cg_policy_digest(&b, db), CG_OK);
    assert_memory_not_equal(da, db, sizeof(da));
}

/* A store change is a new trust: it misses even with the same roots. */
static void test_new_trust_misses(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    struct cg_trust *t2 = trust_with(NULL), *empty = cg_trust_new();

    (void)state;
    assert_true(cg_trust_epoch(t2) != cg_trust_epoch(P.trust));
    assert_int_equal(judge(c, P.leaves[2], P.chain, P.trust, P.now, NULL, NULL), CG_REASON_OK);
    assert_int_equal(judge(c, P.leaves[2], P.chain, t2, P.now, NULL, NULL), CG_REASON_OK);
    assert_int_equal(stats(c).misses, 2);
    /* the root removed from the store: its issuer is nowhere, at once */
    assert_int_equal(judge(c, P.leaves[2], P.chain, empty, P.now, NULL, NULL),
                     CG_REASON_INCOMPLETE_CHAIN);
    assert_int_equal(stats(c).misses, 3);
    assert_int_equal(stats(c).hits, 0);
    cg_trust_unref(t2);
    cg_trust_unref(empty);
    cg_vcache_free(c);
}

/* A reload that brings a CRL revoking the certificate: 403.13 at once, and
 * the CRL's nextUpdate ends the span of the verdicts taken under it. */
static void test_revocation_invalidates(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    struct cg_pki_revoked rv = {.cert = P.leaves[3], .reason = 1};
    char *err = NULL;
    X509_CRL *clean = cg_pki_make_crl(P.inter, P.inter_key, NULL, 0, P.now - 3600,
                                      P.now + DAY, 1, &err);
    X509_CRL *revoking = cg_pki_make_crl(P.inter, P.inter_key, &rv, 1, P.now - 60,
                                         P.now + DAY, 2, &err);
    struct cg_trust *t1, *t2;
    struct cg_policy p;
    struct cg_verdict_ref *r = NULL;
    time_t from, until;

    (void)state;
    assert_non_null(clean);
    assert_non_null(revoking);
    t1 = trust_with(clean);
    t2 = trust_with(revoking);
    cg_policy_init(&p);
    p.revocation = CG_REVOCATION_CRL;
    p.scope = CG_SCOPE_LEAF;
    assert_int_equal(judge(c, P.leaves[3], P.chain, t1, P.now, &p, &r), CG_REASON_OK);
    cg_verdict_ref_span(r, &from, &until);
    assert_true(until <= P.now + DAY);   /* not past the CRL's nextUpdate */
    cg_verdict_ref_unref(r);
    assert_int_equal(judge(c, P.leaves[3], P.chain, t1, P.now + 5, &p, NULL), CG_REASON_OK);
    assert_int_equal(stats(c).hits, 1);
    r = NULL;
    assert_int_equal(judge(c, P.leaves[3], P.chain, t2, P.now, &p, &r), CG_REASON_REVOKED);
    assert_int_equal(cg_verdict_ref_get(r)->status, 403);
    assert_int_equal(cg_verdict_ref_get(r)->substatus, 13);
    cg_verdict_ref_unref(r);
    /* past the clean CRL's nextUpdate the cached 200 is not served: the
     * CRL has expired, and the verdict says so */
    assert_int_not_equal(judge(c, P.leaves[3], P.chain, t1, P.now + DAY + 10, &p, NULL),
                         CG_REASON_OK);
    assert_int_equal(stats(c).hits, 1);
    assert_int_equal(stats(c).misses, 3);
    cg_trust_unref(t1);
    cg_trust_unref(t2);
    X509_CRL_free(clean);
    X509_CRL_free(revoking);
    free(err);
    cg_vcache_free(c);
}

/*
 * A store CRL dated 120 s ahead: a verdict taken under one clock_skew is
 * never served under another, and the span of one taken while the CRL was
 * still too far ahead ends where the leeway reaches its thisUpdate.
 */
static void test_crl_clock_skew(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    char *err = NULL;
    time_t tu = P.now + 120, from, until;
    X509_CRL *ahead = cg_pki_make_crl(P.inter, P.inter_key, NULL, 0, tu, tu + DAY, 1, &err);
    struct cg_trust *t;
    struct cg_policy strict, lenient;
    struct cg_verdict_ref *r = NULL;

    (void)state;
    assert_non_null(ahead);
    t = trust_with(ahead);
    cg_policy_init(&strict);
    strict.revocation = CG_REVOCATION_CRL;
    strict.scope = CG_SCOPE_LEAF;
    lenient = strict;
    lenient.clock_skew = 300;
    assert_int_equal(judge(c, P.leaves[8], P.chain, t, P.now, &strict, NULL),
                     CG_REASON_REVOCATION_UNKNOWN);
    /* the cached 403 does not answer under the skew, nor the 200 without it */
    assert_int_equal(judge(c, P.leaves[8], P.chain, t, P.now, &lenient, &r), CG_REASON_OK);
    cg_verdict_ref_span(r, &from, &until);
    assert_true(until <= tu + DAY);   /* not past the CRL's nextUpdate */
    cg_verdict_ref_unref(r);
    assert_int_equal(judge(c, P.leaves[8], P.chain, t, P.now, &strict, NULL),
                     CG_REASON_REVOCATION_UNKNOWN);
    assert_int_equal(judge(c, P.leaves[8], P.chain, t, P.now + 1, &lenient, NULL),
                     CG_REASON_OK);
    assert_int_equal(stats(c).misses, 2);
    assert_int_equal(stats(c).hits, 2);
    /* past the CRL's nextUpdate the cached 200 is not served */
    assert_int_not_equal(judge(c, P.leaves[8], P.chain, t, tu + DAY + 10, &lenient, NULL),
                         CG_REASON_OK);
    assert_int_equal(stats(c).misses, 3);

    /* judged under 60 s of leeway while the CRL is 120 s ahead: refused, and
     * that verdict ends once thisUpdate is within the leeway */
    cg_vcache_clear(c);
    lenient.clock_skew = 60;
    r = NULL;
    assert_int_equal(judge(c, P.leaves[8], P.chain, t, P.now, &lenient, &r),
                     CG_REASON_REVOCATION_UNKNOWN);
    cg_verdict_ref_span(r, &from, &until);
    assert_true(until <= tu - 60);
    cg_verdict_ref_unref(r);
    assert_int_equal(judge(c, P.leaves[8], P.chain, t, tu - 60, &lenient, NULL), CG_REASON_OK);
    cg_trust_unref(t);
    X509_CRL_free(ahead);
    free(err);
    cg_vcache_free(c);
}

/* A revocation hook: its answer's nextUpdate bounds the span; an unknown
 * status is not kept (unknown_ttl 0). */
static int hook_calls;
static cg_rev_status_t hook_status;
static time_t hook_due;   /* the answer cache's due time for the answer; 0: none */

static int hook(void *arg, X509 *cert, X509 *issuer, time_t at, struct cg_revocation_info *out)
{
    (void)arg;
    (void)cert;
    (void)issuer;
    hook_calls++;
    out->source = hook_status == CG_REV_UNKNOWN ? CG_REV_SOURCE_NONE : CG_REV_SOURCE_OCSP;
    out->status = hook_status;
    out->this_update = at - 60;
    out->next_update = P.now + 120;
    out->due = hook_due;
    return CG_OK;
}

static void test_hook_answers_bound_the_span(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    struct cg_policy p;

    (void)state;
    cg_policy_init(&p);
    p.revocation_hook = hook;
    p.scope = CG_SCOPE_LEAF;
    hook_calls = 0;
    hook_status = CG_REV_GOOD;
    assert_int_equal(judge(c, P.leaves[4], P.chain, P.trust, P.now, &p, NULL), CG_REASON_OK);
    assert_int_equal(judge(c, P.leaves[4], P.chain, P.trust, P.now + 100, &p, NULL),
                     CG_REASON_OK);
    assert_int_equal(hook_calls, 1);
    /* past the answer's nextUpdate: asked again */
    hook_status = CG_REV_REVOKED;
    assert_int_equal(judge(c, P.leaves[4], P.chain, P.trust, P.now + 121, &p, NULL),
                     CG_REASON_REVOKED);
    assert_int_equal(hook_calls, 2);
    /* unknown: judged again every time */
    hook_status = CG_REV_UNKNOWN;
    assert_int_equal(judge(c, P.leaves[5], P.chain, P.trust, P.now, &p, NULL),
                     CG_REASON_REVOCATION_UNKNOWN);
    assert_int_equal(judge(c, P.leaves[5], P.chain, P.trust, P.now, &p, NULL),
                     CG_REASON_REVOCATION_UNKNOWN);
    assert_int_equal(hook_calls, 4);
    assert_int_equal(stats(c).uncacheable, 2);
    cg_vcache_free(c);
}

/* An answer from the answer cache that is due (to be fetched again) before
 * its nextUpdate: the verdict is not kept past that, so the judge after it
 * reads the answer cache again (which keeps the answer refreshed in the
 * background while the chain is in use). */
static void test_answer_due_bounds_the_span(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    struct cg_verdict_ref *r = NULL;
    struct cg_policy p;
    time_t from, until;

    (void)state;
    cg_policy_init(&p);
    p.revocation_hook = hook;
    p.scope = CG_SCOPE_LEAF;
    hook_calls = 0;
    hook_status = CG_REV_GOOD;
    hook_due = P.now + 30;
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now, &p, &r), CG_REASON_OK);
    cg_verdict_ref_span(r, &from, &until);
    assert_true(until <= P.now + 31);
    cg_verdict_ref_unref(r);
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now + 29, &p, NULL),
                     CG_REASON_OK);
    assert_int_equal(hook_calls, 1);
    /* past the due time, before nextUpdate (P.now + 120): asked again */
    hook_due = P.now + 60;
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now + 40, &p, NULL),
                     CG_REASON_OK);
    assert_int_equal(hook_calls, 2);
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now + 59, &p, NULL),
                     CG_REASON_OK);
    assert_int_equal(hook_calls, 2);
    hook_due = 0;
    cg_vcache_free(c);
}

/* A hook argument built per call at one address: its bytes are the key. */
struct hook_conf {
    int mode;
};

static int conf_hook(void *arg, X509 *cert, X509 *issuer, time_t at,
                     struct cg_revocation_info *out)
{
    const struct hook_conf *hc = arg;

    (void)cert;
    (void)issuer;
    hook_calls++;
    out->source = CG_REV_SOURCE_OCSP;
    out->status = hc->mode == 1 ? CG_REV_REVOKED : CG_REV_GOOD;
    out->this_update = at - 60;
    out->next_update = at + 3600;
    return CG_OK;
}

static void test_hook_argument_by_bytes(void **state)
{
    struct cg_vcache *c = cg_vcache_new(NULL);
    struct hook_conf hc;
    struct cg_policy p;
    struct cg_verdict_ref *r = NULL;

    (void)state;
    cg_policy_init(&p);
    p.revocation_hook = conf_hook;
    p.revocation_arg = &hc;
    p.scope = CG_SCOPE_LEAF;
    hook_calls = 0;
    memset(&hc, 0, sizeof(hc));
    assert_int_equal(cg_vcache_judge_ex(c, P.leaves[7], P.chain, P.trust, P.now, &p, &hc,
                                        sizeof(hc), &r), CG_OK);
    assert_int_equal(cg_verdict_ref_get(r)->reason, CG_REASON_OK);
    cg_verdict_ref_unref(r);
    /* same address, other content: not the cached answer */
    hc.mode = 1;
    assert_int_equal(cg_vcache_judge_ex(c, P.leaves[7], P.chain, P.trust, P.now, &p, &hc,
                                        sizeof(hc), &r), CG_OK);
    assert_int_equal(cg_verdict_ref_get(r)->reason, CG_REASON_REVOKED);
    cg_verdict_ref_unref(r);
    assert_int_equal(hook_calls, 2);
    /* same content again: a hit */
    hc.mode = 0;
    assert_int_equal(cg_vcache_judge_ex(c, P.leaves[7], P.chain, P.trust, P.now + 1, &p, &hc,
                                        sizeof(hc), &r), CG_OK);
    assert_int_equal(cg_verdict_ref_get(r)->reason, CG_REASON_OK);
    cg_verdict_ref_unref(r);
    assert_int_equal(hook_calls, 2);
    assert_int_equal(stats(c).hits, 1);
    cg_vcache_free(c);
}

static void test_expiry_invalidates(void **state)
{
    struct cg_vcache *c = cg_vcache_new(&(struct cg_vcache_limits){.max_ttl = 100 * DAY});
    struct cg_verdict_ref *r = NULL;
    time_t from, until;

    (void)state;
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now, NULL, &r), CG_REASON_OK);
    cg_verdict_ref_span(r, &from, &until);
    cg_verdict_ref_unref(r);
    /* the leaf's notAfter (now + 10 days) is the first date that turns it */
    assert_true(until <= P.now + 10 * DAY && until >= P.now + 10 * DAY - 1);
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now + 9 * DAY, NULL, NULL),
                     CG_REASON_OK);
    assert_int_equal(stats(c).hits, 1);
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now + 11 * DAY, NULL, NULL),
                     CG_REASON_EXPIRED);
    assert_int_equal(stats(c).expired, 1);
    /* and before its notBefore, not yet valid (the span of the expired
     * verdict starts at notAfter) */
    assert_int_equal(judge(c, P.leaves[6], P.chain, P.trust, P.now - 2 * DAY, NULL, NULL),
                     CG_REASON_NOT_YET_VALID);
    assert_int_equal(stats(c).hits, 1);
    cg_vcache_free(c);
}

static void test_bounds(void **state)
{
    struct cg_vcache *c = cg_vcache_new(&(struct cg_vcache_limits){.max_entries = 8,
                                                                   .shards = 1});
    struct cg_vcache_stats s;
    size_t one;

    (void)state;
    for (int i = 0; i < N_LEAVES; i++)
        judge(c, P.leaves[i], P.chain, P.trust, P.now, NULL, NULL);
    s = stats(c);
    assert_int_equal(s.entries, 8);
    assert_int_equal(s.evictions, N_LEAVES - 8);
    one = s.bytes / s.entries;
    /* least recently used goes first: the last eight are hits */
    for (int i = N_LEAVES - 8; i < N_LEAVES; i++)
        judge(c, P.leaves[i], P.chain, P.trust, P.now, NULL, NULL);
    assert_int_equal(stats(c).hits, 8);
    judge(c, P.leaves[0], P.chain, P.trust, P.now, NULL, NULL);
    assert_int_equal(stats(c).hits, 8);
    cg_vcache_clear(c);
    assert_int_equal(stats(c).entries, 0);
    assert_int_equal(stats(c).bytes, 0);
    cg_vcache_free(c);

    /* a byte bound of three verdicts holds three */
    c = cg_vcache_new(&(struct cg_vcache_limits){.max_bytes = one * 3 + one / 2, .shards = 1});
    for (int i = 0; i < N_LEAVES; i++)
        judge(c, P.leaves[i], P.chain, P.trust, P.now, NULL, NULL);
    s = stats(c);
    assert_int_equal(s.entries, 3);
    assert_true(s.bytes <= one * 3 + one / 2);
    cg_vcache_free(c);

    /* too small for one: nothing kept, every answer still right */
    c = cg_vcache_new(&(struct cg_vcache_limits){.max_bytes = 100, .shards = 4});
    assert_int_equal(judge(c, P.leaves[0], P.chain, P.trust, P.now, NULL, NULL), CG_REASON_OK);
    assert_int_equal(stats(c).entries, 0);
    assert_int_equal(stats(c).uncacheable, 1);
    cg_vcache_free(c);
}

/* ---- four threads on one cache ------------------------------------------ */

#define THREADS 4
#define ROUNDS 400

struct worker {
    struct cg_vcache *c;
    unsigned seed;
    int wrong;
};

static void *work(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < ROUNDS; i++) {
        int k = (int)(rand_r(&w->seed) % 12);
        /* half the leaves judged past their notAfter */
        time_t at = P.now + ((k & 1) ? 11 * DAY : 60);
        cg_reason_t want = (k & 1) ? CG_REASON_EXPIRED : CG_REASON_OK;
        struct cg_verdict_ref *r = NULL;

        if (cg_vcache_judge(w->c, P.leaves[k], P.chain, P.trust, at, NULL, &r) != CG_OK ||
            cg_verdict_ref_get(r)->reason != want ||
            X509_cmp(cg_verdict_ref_get(r)->path[0].cert, P.leaves[k]) != 0)
            w->wrong++;
        cg_verdict_ref_unref(r);
    }
    return NULL;
}

static void test_threads(void **state)
{
    /* 8 entries, 4 shards for 12 chains: hits, misses and evictions race */
    struct cg_vcache *c = cg_vcache_new(&(struct cg_vcache_limits){.max_entries = 8,
                                                                   .shards = 4,
                                                                   .max_ttl = 100 * DAY});
    struct worker w[THREADS];
    pthread_t th[THREADS];
    struct cg_vcache_stats s;

    (void)state;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.c = c, .seed = (unsigned)(i * 7919 + 1)};
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].wrong, 0);
    }
    s = stats(c);
    assert_int_equal(s.hits + s.misses, THREADS * ROUNDS);
    assert_true(s.entries <= 8);
    assert_true(s.hits > 0 && s.evictions > 0);
    cg_vcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_serves_the_same_verdict),
        cmocka_unit_test(test_no_cache_and_no_certificate),
        cmocka_unit_test(test_other_policy_misses),
        cmocka_unit_test(test_policy_digest),
        cmocka_unit_test(test_new_trust_misses),
        cmocka_unit_test(test_revocation_invalidates),
        cmocka_unit_test(test_crl_clock_skew),
        cmocka_unit_test(test_hook_answers_bound_the_span),
        cmocka_unit_test(test_answer_due_bounds_the_span),
        cmocka_unit_test(test_hook_argument_by_bytes),
        cmocka_unit_test(test_expiry_invalidates),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The OCSP judge (cert/ocsp.h) on responses made at test time, by
 * cg_pki_ocsp_respond for the ordinary ones and by OpenSSL's OCSP_basic_*
 * calls for the odd ones: who may sign, which certificate, which times,
 * several answers for one certificate, critical extensions, nonces, and
 * every truncation of a valid response.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include "cert/ocsp.h"
#include "cert/pki.h"
#include "core/common.h"
#include "testutil.h"

static struct tu_pair root, leaf, leaf2, responder, responder_no_eku, stranger, old_responder;
static time_t now;

static struct tu_pair issue(cg_pki_profile_t profile, const char *cn, const struct tu_pair *by,
                            unsigned eku, time_t nb, time_t na)
{
    struct cg_pki_spec spec = {.profile = profile, .subject_cn = cn, .path_len = -1,
                               .eku = eku, .not_before = nb, .not_after = na};
    struct tu_pair p = {0};
    char *err = NULL;

    p.key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    assert_non_null(p.key);
    p.cert = cg_pki_issue(&spec, p.key, by->cert, by->key, &err);
    if (p.cert == NULL)
        fail_msg("issue %s: %s", cn, err);
    return p;
}

static int setup(void **state)
{
    (void)state;
    now = time(NULL);
    root = tu_issue(CG_PKI_ROOT_CA, "OCSP Test Root", NULL);
    leaf = tu_issue(CG_PKI_CLIENT, "alice", &root);
    leaf2 = tu_issue(CG_PKI_CLIENT, "bob", &root);
    stranger = tu_issue(CG_PKI_ROOT_CA, "Stranger", NULL);
    responder = issue(CG_PKI_CLIENT, "OCSP Responder", &root, CG_PKI_EKU_OCSP_SIGN, 0, 0);
    responder_no_eku = issue(CG_PKI_CLIENT, "Not A Responder", &root, CG_PKI_EKU_CLIENT_AUTH, 0, 0);
    old_responder = issue(CG_PKI_CLIENT, "Expired Responder", &root, CG_PKI_EKU_OCSP_SIGN,
                          now - 30 * 86400, now - 86400);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    struct tu_pair *all[] = {&root, &leaf, &leaf2, &responder, &responder_no_eku, &stranger,
                             &old_responder};
    for (size_t i = 0; i < CG_ARRAY_LEN(all); i++)
        tu_pair_free(all[i]);
    return 0;
}

struct der {
    unsigned char *p;
    size_t len;
};

/* A response from cg_pki_ocsp_respond for `who`, signed by `signer`. */
static struct der respond(X509 *who, const struct tu_pair *signer,
                          const struct cg_pki_revoked *rev, size_t n_rev, time_t tu, time_t nu)
{
    unsigned char *req = NULL;
    size_t req_len = 0;
    struct der d = {0};
    char *err = NULL;

    assert_int_equal(cg_ocsp_request(who, root.cert, NULL, 0, &req, &req_len, &err), CG_OK);
    if (cg_pki_ocsp_respond(req, req_len, root.cert, signer->cert, signer->key, rev, n_rev, tu,
                            nu, &d.p, &d.len, &err) != CG_OK)
        fail_msg("respond: %s", err);
    OPENSSL_free(req);
    free(err);
    return d;
}

static int judge(const struct der *d, X509 *cert, const struct cg_ocsp_params *p,
                 struct cg_ocsp_result *r)
{
    struct cg_ocsp_params defaults = {.at = now};
    char *err = NULL;
    int rc = cg_ocsp_judge(d->p, d->len, cert, root.cert, p ? p : &defaults, r, &err);
    if (rc == CG_OK)
        assert_null(err);
    else
        assert_non_null(err);
    free(err);
    return rc;
}

static void test_good_and_revoked(void **state)
{
    (void)state;
    struct cg_pki_revoked rev[] = {{.cert = leaf2.cert, .revoked_at = now - 500, .reason = 1}};
    struct cg_ocsp_result r;
    struct der d = respond(leaf.cert, &root, rev, 1, 0, 0);

    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_GOOD);
    assert_int_equal(r.error, CG_OCSP_ERR_NONE);
    assert_false(r.delegated);
    assert_true(r.this_update <= now && r.next_update > now);
    OPENSSL_free(d.p);

    d = respond(leaf2.cert, &root, rev, 1, 0, 0);
    assert_int_equal(judge(&d, leaf2.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_REVOKED);
    assert_int_equal(r.revoked_at, now - 500);
    assert_int_equal(r.reason, 1);
    /* ... and that answer is not about alice */
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_NO_MATCH);
    assert_int_equal(r.status, CG_OCSP_UNKNOWN);
    OPENSSL_free(d.p);
}

static void test_signers(void **state)
{
    (void)state;
    struct cg_ocsp_result r;
    struct der d = respond(leaf.cert, &responder, NULL, 0, 0, 0);

    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_GOOD);
    assert_true(r.delegated);
    OPENSSL_free(d.p);

    d = respond(leaf.cert, &responder_no_eku, NULL, 0, 0, 0);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_SIGNER_UNAUTHORISED);
    OPENSSL_free(d.p);

    d = respond(leaf.cert, &stranger, NULL, 0, 0, 0);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_SIGNER_UNAUTHORISED);
    OPENSSL_free(d.p);

    /* expired a day before the response was produced */
    d = respond(leaf.cert, &old_responder, NULL, 0, 0, 0);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_SIGNER_NOT_VALID);
    OPENSSL_free(d.p);
}

static void test_times(void **state)
{
    (void)state;
    struct cg_ocsp_result r;
    struct cg_ocsp_params p = {.at = now};
    struct der d = respond(leaf.cert, &root, NULL, 0, now - 7200, now - 3600);

    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_STALE);
    p.stale_grace = 3599;
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_ERR);
    p.stale_grace = 3600;
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_OK);
    assert_true(r.stale);
    assert_int_equal(r.status, CG_OCSP_GOOD);
    OPENSSL_free(d.p);

    d = respond(leaf.cert, &root, NULL, 0, now + 600, now + 7200);
    p = (struct cg_ocsp_params){.at = now, .clock_skew = CG_OCSP_CLOCK_SKEW_S};
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_NOT_YET_VALID);
    OPENSSL_free(d.p);

    /* dated a little ahead (the responder's clock, or the next second while
     * the fetch ran): usable within clock_skew, not-yet-valid past it */
    d = respond(leaf.cert, &root, NULL, 0, now + 1, now + 7200);
    p.clock_skew = 0;
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_NOT_YET_VALID);
    p.clock_skew = 300;
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_GOOD);
    OPENSSL_free(d.p);
    d = respond(leaf.cert, &root, NULL, 0, now + 300, now + 7200);
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_GOOD);
    OPENSSL_free(d.p);
    d = respond(leaf.cert, &root, NULL, 0, now + 301, now + 7200);
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_NOT_YET_VALID);
    OPENSSL_free(d.p);

    /* no nextUpdate: only max_age bounds it */
    d = respond(leaf.cert, &root, NULL, 0, now - 86400, -1);
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_OK);
    assert_int_equal(r.next_update, 0);
    p.max_age = 3600;
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_STALE);
    OPENSSL_free(d.p);
}

/* A response built by hand: statuses for leaf in order, optional extension. */
static struct der hand_made(const int *statuses, size_t n, const char *ext_oid, bool critical)
{
    OCSP_BASICRESP *b = OCSP_BASICRESP_new();
    ASN1_TIME *tu = ASN1_TIME_set(NULL, now - 60), *nu = ASN1_TIME_set(NULL, now + 3600);
    OCSP_RESPONSE *resp;
    struct der d = {0};
    int len;

    for (size_t i = 0; i < n; i++) {
        OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf.cert, root.cert);
        assert_non_null(OCSP_basic_add1_status(b, id, statuses[i],
                                               statuses[i] == V_OCSP_CERTSTATUS_REVOKED ? 1 : -1,
                                               tu, tu, nu));
        OCSP_CERTID_free(id);
    }
    if (ext_oid != NULL) {
        ASN1_OBJECT *oid = OBJ_txt2obj(ext_oid, 1);
        ASN1_OCTET_STRING *v = ASN1_OCTET_STRING_new();
        X509_EXTENSION *ext;
        assert_true(ASN1_OCTET_STRING_set(v, (const unsigned char *)"\x05\x00", 2));
        ext = X509_EXTENSION_create_by_OBJ(NULL, oid, critical, v);
        assert_int_equal(OCSP_BASICRESP_add_ext(b, ext, -1), 1);
        X509_EXTENSION_free(ext);
        ASN1_OCTET_STRING_free(v);
        ASN1_OBJECT_free(oid);
    }
    assert_int_equal(OCSP_basic_sign(b, root.cert, root.key, EVP_sha256(), NULL, OCSP_NOCERTS),
                     1);
    resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, b);
    len = i2d_OCSP_RESPONSE(resp, &d.p);
    assert_true(len > 0);
    d.len = (size_t)len;
    OCSP_RESPONSE_free(resp);
    OCSP_BASICRESP_free(b);
    ASN1_TIME_free(tu);
    ASN1_TIME_free(nu);
    return d;
}

static void test_several_answers(void **state)
{
    (void)state;
    static const int good_revoked[] = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_REVOKED};
    static const int revoked_good[] = {V_OCSP_CERTSTATUS_REVOKED, V_OCSP_CERTSTATUS_GOOD};
    static const int good_unknown[] = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_UNKNOWN};
    static const int good_good[] = {V_OCSP_CERTSTATUS_GOOD, V_OCSP_CERTSTATUS_GOOD};
    struct cg_ocsp_result r;
    struct der d;

    /* "good" then "revoked" must never read as good */
    d = hand_made(good_revoked, 2, NULL, false);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_REVOKED);
    OPENSSL_free(d.p);
    d = hand_made(revoked_good, 2, NULL, false);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_REVOKED);
    OPENSSL_free(d.p);
    d = hand_made(good_unknown, 2, NULL, false);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_UNKNOWN);
    OPENSSL_free(d.p);
    d = hand_made(good_good, 2, NULL, false);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_GOOD);
    OPENSSL_free(d.p);
}

static void test_extensions(void **state)
{
    (void)state;
    static const int good[] = {V_OCSP_CERTSTATUS_GOOD};
    struct cg_ocsp_result r;
    struct der d = hand_made(good, 1, "1.3.6.1.4.1.55555.7", true);

    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_CRITICAL_EXTENSION);
    OPENSSL_free(d.p);
    d = hand_made(good, 1, "1.3.6.1.4.1.55555.7", false);
    assert_int_equal(judge(&d, leaf.cert, NULL, &r), CG_OK);
    assert_int_equal(r.status, CG_OCSP_GOOD);
    OPENSSL_free(d.p);
}

static void test_nonce(void **state)
{
    (void)state;
    unsigned char nonce[16], *req = NULL;
    size_t req_len = 0;
    struct der d = {0};
    struct cg_ocsp_params p = {.at = now};
    struct cg_ocsp_result r;
    char *err = NULL;

    assert_int_equal(cg_ocsp_request(leaf.cert, root.cert, nonce, sizeof(nonce), &req, &req_len,
                                     &err),
                     CG_OK);
    assert_int_equal(cg_pki_ocsp_respond(req, req_len, root.cert, root.cert, root.key, NULL, 0,
                                         0, 0, &d.p, &d.len, &err),
                     CG_OK);
    p.nonce = nonce;
    p.nonce_len = sizeof(nonce);
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_OK);
    nonce[0] ^= 1;
    assert_int_equal(judge(&d, leaf.cert, &p, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_NONCE);
    OPENSSL_free(req);
    OPENSSL_free(d.p);
    free(err);
}

static void test_malformed(void **state)
{
    (void)state;
    struct der d = respond(leaf.cert, &root, NULL, 0, 0, 0), bad = {0};
    struct cg_ocsp_result r;
    char *err = NULL;

    /* every truncation is refused, none crashes or reads past the end */
    for (size_t n = 0; n < d.len; n++) {
        unsigned char *copy = malloc(n ? n : 1);
        memcpy(copy, d.p, n);
        struct der t = {copy, n};
        assert_int_equal(judge(&t, leaf.cert, NULL, &r), CG_ERR);
        assert_int_equal(r.status, CG_OCSP_UNKNOWN);
        free(copy);
    }
    /* one byte flipped anywhere: never good unless the flip is harmless
     * outside the signed data, and then still correct */
    for (size_t i = 0; i < d.len; i++) {
        d.p[i] ^= 0x01;
        if (judge(&d, leaf.cert, NULL, &r) == CG_OK)
            assert_int_equal(r.status, CG_OCSP_GOOD);
        d.p[i] ^= 0x01;
    }
    /* trailing bytes */
    {
        unsigned char *longer = malloc(d.len + 1);
        memcpy(longer, d.p, d.len);
        longer[d.len] = 0;
        struct der t = {longer, d.len + 1};
        assert_int_equal(judge(&t, leaf.cert, NULL, &r), CG_ERR);
        assert_int_equal(r.error, CG_OCSP_ERR_MALFORMED);
        free(longer);
    }
    /* an unparsable request gets malformedRequest, which is an error status */
    assert_int_equal(cg_pki_ocsp_respond((const unsigned char *)"nope", 4, root.cert, root.cert,
                                         root.key, NULL, 0, 0, 0, &bad.p, &bad.len, &err),
                     CG_OK);
    assert_int_equal(judge(&bad, leaf.cert, NULL, &r), CG_ERR);
    assert_int_equal(r.error, CG_OCSP_ERR_RESPONDER_ERROR);
    OPENSSL_free(bad.p);
    OPENSSL_free(d.p);
    free(err);
}

static void test_url(void **state)
{
    (void)state;
    struct cg_pki_spec spec = {.profile = CG_PKI_CLIENT, .subject_cn = "carol", .path_len = -1,
                               .ocsp_url = "http://127.0.0.1:9/ocsp"};
    char *err = NULL, *url;
    EVP_PKEY *k = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    X509 *c = cg_pki_issue(&spec, k, root.cert, root.key, &err);

    assert_non_null(c);
    url = cg_ocsp_url(c);
    assert_string_equal(url, "http://127.0.0.1:9/ocsp");
    assert_null(cg_ocsp_url(leaf.cert));
    free(url);
    X509_free(c);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_and_revoked), cmocka_unit_test(test_signers),
        cmocka_unit_test(test_times),            cmocka_unit_test(test_several_answers),
        cmocka_unit_test(test_extensions),       cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_malformed),        cmocka_unit_test(test_url),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

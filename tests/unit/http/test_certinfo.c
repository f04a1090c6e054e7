/*
 * The "who am I" page: what it shows for no certificate, a good one and a
 * bad one under accept, in HTML and JSON; that every certificate string is
 * escaped in HTML and kept exact (or repaired, for bytes that are not UTF-8)
 * in JSON; that the path is shown only when detailed; that it stays bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "../testutil.h"
#include "cert/verdict.h"
#include "core/common.h"
#include "http/certinfo.h"

#define HOSTILE_CN "<script>alert(\"x\")</script>&'evil"

static char *render(const struct cg_certinfo *ci, bool json, size_t *len)
{
    char *body = NULL;
    const char *ctype = NULL;
    size_t n = 0;

    assert_int_equal(cg_certinfo_render(ci, json, &body, &n, &ctype), CG_OK);
    assert_non_null(body);
    assert_int_equal(strlen(body), n);
    assert_true(n <= CG_CERTINFO_BODY_MAX);
    assert_string_equal(ctype, json ? "application/json" : "text/html; charset=utf-8");
    if (len != NULL)
        *len = n;
    return body;
}

static json_t *render_json(const struct cg_certinfo *ci)
{
    json_error_t jerr;
    char *body = render(ci, true, NULL);
    json_t *j = json_loads(body, 0, &jerr);

    if (j == NULL)
        fail_msg("not JSON (%s): %s", jerr.text, body);
    free(body);
    return j;
}

static const char *jget(json_t *o, const char *a, const char *b)
{
    json_t *x = json_object_get(o, a);
    if (b != NULL)
        x = json_object_get(x, b);
    return json_string_value(x);
}

/* A root and a leaf named HOSTILE_CN, judged; `expired` backdates the leaf. */
static void judge(bool expired, struct cg_verdict *v)
{
    struct tu_pair root = tu_issue(CG_PKI_ROOT_CA, "certinfo test root", NULL);
    struct cg_pki_spec spec = {.profile = CG_PKI_CLIENT, .subject_cn = HOSTILE_CN,
                               .path_len = -1};
    struct cg_trust *trust = cg_trust_new();
    struct cg_policy policy;
    EVP_PKEY *key;
    X509 *leaf;
    char *err = NULL;

    if (expired) {
        spec.not_before = time(NULL) - 10 * 86400;
        spec.not_after = time(NULL) - 86400;
    }
    key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    assert_non_null(key);
    leaf = cg_pki_issue(&spec, key, root.cert, root.key, &err);
    assert_non_null(leaf);
    assert_int_equal(cg_trust_add_root(trust, root.cert), CG_OK);
    cg_policy_init(&policy);
    assert_int_equal(cg_verdict_judge(leaf, NULL, trust, time(NULL), &policy, v), CG_OK);
    X509_free(leaf);
    EVP_PKEY_free(key);
    cg_trust_unref(trust);
    tu_pair_free(&root);
}

static void test_no_certificate(void **state)
{
    struct cg_certinfo ci = {.verdict = NULL, .tls = true, .asked = true,
                             .required_path = "/secure"};
    char *html;
    json_t *j;

    (void)state;
    html = render(&ci, false, NULL);
    assert_non_null(strstr(html, "No client certificate"));
    assert_non_null(strstr(html, "No client certificate was offered"));
    assert_non_null(strstr(html, "403.7"));
    assert_non_null(strstr(html, "cert-required"));
    free(html);

    j = render_json(&ci);
    assert_true(json_is_null(json_object_get(j, "certificate")));
    assert_string_equal(jget(j, "verdict", "code"), "403.7");
    assert_string_equal(jget(j, "verdict", "reason"), "cert-required");
    assert_string_equal(jget(j, "required_at", "path"), "/secure");
    assert_true(json_is_false(json_object_get(json_object_get(j, "required_at"), "allowed")));
    assert_null(json_object_get(j, "path"));
    json_decref(j);

    /* plain HTTP and a binding that never asked say so */
    ci.tls = false;
    html = render(&ci, false, NULL);
    assert_non_null(strstr(html, "plain HTTP"));
    free(html);
    ci.tls = true;
    ci.asked = false;
    html = render(&ci, false, NULL);
    assert_non_null(strstr(html, "does not ask for a client certificate"));
    free(html);
}

static void test_valid_hostile_subject(void **state)
{
    struct cg_verdict v;
    struct cg_certinfo ci = {.verdict = &v, .tls = true, .asked = true,
                             .required_path = "/secure"};
    char *html;
    json_t *j;
    const char *subject;

    (void)state;
    judge(false, &v);
    assert_int_equal(v.reason, CG_REASON_OK);
    html = render(&ci, false, NULL);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "\"x\""));
    /* RFC 2253 backslash-escapes some of these; HTML escapes all of them */
    assert_non_null(strstr(html, "CN=\\&lt;script\\&gt;alert(\\&quot;x\\&quot;)"));
    assert_non_null(strstr(html, "&lt;/script"));
    assert_non_null(strstr(html, "&amp;"));
    assert_non_null(strstr(html, "&#39;evil"));
    assert_non_null(strstr(html, "you would be let in"));
    assert_non_null(strstr(html, v.path[0].sha256));
    /* not detailed: no path */
    assert_null(strstr(html, "Certification path"));
    free(html);

    j = render_json(&ci);
    subject = jget(j, "certificate", "subject");
    assert_non_null(subject);
    /* JSON keeps the engine's RFC 2253 string exactly */
    assert_string_equal(subject, v.path[0].subject);
    assert_non_null(strstr(subject, "</script\\>&'evil"));
    assert_string_equal(jget(j, "certificate", "sha256"), v.path[0].sha256);
    assert_string_equal(jget(j, "verdict", "reason"), "ok");
    assert_true(json_is_true(json_object_get(json_object_get(j, "required_at"), "allowed")));
    json_decref(j);

    ci.detailed = true;
    html = render(&ci, false, NULL);
    assert_non_null(strstr(html, "Certification path"));
    assert_null(strstr(html, "<script"));
    free(html);
    j = render_json(&ci);
    assert_int_equal(json_array_size(json_object_get(j, "path")), 2);
    json_decref(j);
    cg_verdict_free(&v);
}

static void test_expired_under_accept(void **state)
{
    struct cg_verdict v;
    struct cg_certinfo ci = {.verdict = &v, .tls = true, .asked = true,
                             .required_path = "/secure", .detailed = true};
    char *html;
    json_t *j;

    (void)state;
    judge(true, &v);
    assert_int_equal(v.reason, CG_REASON_EXPIRED);
    html = render(&ci, false, NULL);
    assert_non_null(strstr(html, "would be refused with <strong>403.17"));
    assert_non_null(strstr(html, "How to fix"));
    free(html);
    j = render_json(&ci);
    assert_string_equal(jget(j, "verdict", "code"), "403.17");
    assert_string_equal(jget(j, "required_at", "reason"), "expired");
    assert_true(json_array_size(json_object_get(j, "remedy")) > 0);
    json_decref(j);
    cg_verdict_free(&v);
}

/* A verdict made by hand: bytes that are not UTF-8, and a huge subject. */
static void test_bytes_and_bounds(void **state)
{
    struct cg_path_element el;
    struct cg_verdict v;
    struct cg_certinfo ci = {.verdict = &v, .tls = true, .asked = true, .detailed = true};
    size_t big_len = 200 * 1024;
    char *big = malloc(big_len + 1), *html;
    json_t *j;
    size_t len;

    (void)state;
    assert_non_null(big);
    memset(&el, 0, sizeof(el));
    memset(&v, 0, sizeof(v));
    el.subject = (char *)"CN=bad \xff\xfe<b>";
    el.issuer = (char *)"CN=issuer";
    el.serial = (char *)"01";
    el.source = CG_SOURCE_CLIENT;
    v.reason = CG_REASON_UNTRUSTED_ROOT;
    v.path = &el;
    v.path_len = 1;
    j = render_json(&ci);
    assert_string_equal(jget(j, "certificate", "subject"), "CN=bad \xef\xbf\xbd\xef\xbf\xbd<b>");
    json_decref(j);
    html = render(&ci, false, NULL);
    assert_null(strstr(html, "<b>"));
    free(html);

    /* a subject far past the bound: HTML cuts it, JSON refuses */
    memset(big, '<', big_len);
    big[big_len] = '\0';
    el.subject = big;
    html = render(&ci, false, &len);
    assert_non_null(strstr(html, "(cut)"));
    assert_null(strstr(html, "<<"));
    free(html);
    {
        char *body = NULL;
        const char *ctype = NULL;
        assert_int_equal(cg_certinfo_render(&ci, true, &body, &len, &ctype), CG_ERR);
        assert_null(body);
    }
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_certificate),
        cmocka_unit_test(test_valid_hostile_subject),
        cmocka_unit_test(test_expired_under_accept),
        cmocka_unit_test(test_bytes_and_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_errors.c: every error response, HTML and problem+json, for every row
 * of the HTTP error table and every certificate reason; JSON parsed back;
 * HTML escaping of hostile text; detailed versus friendly pages built from a
 * verdict with a three-element path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cert/pki.h"
#include "cert/verdict.h"
#include "http/errors.h"

static json_t *parse_body(const char *body, size_t len)
{
    json_error_t jerr;
    json_t *j = json_loadb(body, len, 0, &jerr);
    if (j == NULL)
        fail_msg("invalid JSON (%s): %.*s", jerr.text, (int)len, body);
    return j;
}

static void check_json(const struct cg_error_info *info)
{
    char *body = NULL;
    size_t len = 0;
    const char *ct = NULL;
    json_t *j;

    assert_int_equal(cg_error_render(info, true, &body, &len, &ct), CG_OK);
    assert_string_equal(ct, "application/problem+json");
    assert_int_equal(strlen(body), len);
    j = parse_body(body, len);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "about:blank");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), info->status);
    assert_int_equal(json_integer_value(json_object_get(j, "substatus")), info->substatus);
    assert_string_equal(json_string_value(json_object_get(j, "code")), info->code);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), info->reason);
    assert_string_equal(json_string_value(json_object_get(j, "title")), info->title);
    assert_non_null(json_string_value(json_object_get(j, "detail")));
    assert_null(json_object_get(j, "path"));
    json_decref(j);
    free(body);
}

static void check_html(const struct cg_error_info *info)
{
    char *body = NULL, want[512];
    size_t len = 0;
    const char *ct = NULL;

    assert_int_equal(cg_error_render(info, false, &body, &len, &ct), CG_OK);
    assert_string_equal(ct, "text/html; charset=utf-8");
    assert_int_equal(strlen(body), len);
    assert_memory_equal(body, "<!DOCTYPE html>", 15);
    snprintf(want, sizeof(want), "<title>%s - %s</title>", info->code, info->title);
    assert_non_null(strstr(body, want));
    snprintf(want, sizeof(want), "<h1>%s</h1>", info->title);
    assert_non_null(strstr(body, want));
    /* self-contained: nothing fetched from elsewhere */
    assert_null(strstr(body, "src="));
    assert_null(strstr(body, "href="));
    assert_null(strstr(body, "<script"));
    free(body);
}

static void test_every_http_error(void **state)
{
    for (int e = 0; e < CG_HTTP_ERR__COUNT; e++) {
        struct cg_error_info info;
        cg_error_info_http(&info, (cg_http_error_t)e);
        assert_true(info.status >= 400 && info.status <= 599);
        assert_string_equal(info.code, cg_http_error_code((cg_http_error_t)e));
        check_json(&info);
        check_html(&info);
    }
}

static void test_every_cert_reason(void **state)
{
    for (int r = 0; r < CG_REASON__COUNT; r++) {
        struct cg_error_info info;
        if (cg_reason_status((cg_reason_t)r) != 403)
            continue;
        cg_error_info_cert(&info, (cg_reason_t)r, NULL, false);
        assert_string_equal(info.code, cg_reason_code((cg_reason_t)r));
        check_json(&info);
        check_html(&info);
    }
}

static void test_table_lookups(void **state)
{
    struct cg_error_info info;

    assert_string_equal(cg_http_error_code(CG_HTTP_ERR_DIRECTORY_LISTING_DENIED), "403.14");
    assert_string_equal(cg_http_error_code(CG_HTTP_ERR_NOT_FOUND), "404");
    assert_string_equal(cg_http_error_slug(CG_HTTP_ERR_HEADERS_TOO_LARGE), "headers-too-large");
    assert_int_equal(cg_http_error_from_status(414), CG_HTTP_ERR_URI_TOO_LONG);
    assert_int_equal(cg_http_error_from_status(431), CG_HTTP_ERR_HEADERS_TOO_LARGE);
    assert_int_equal(cg_http_error_from_status(505), CG_HTTP_ERR_VERSION_NOT_SUPPORTED);
    assert_int_equal(cg_http_error_from_status(403), CG_HTTP_ERR_FORBIDDEN);
    assert_int_equal(cg_http_error_from_status(499), CG_HTTP_ERR_BAD_REQUEST);
    assert_int_equal(cg_http_error_from_status(599), CG_HTTP_ERR_INTERNAL_ERROR);
    assert_string_equal(cg_http_status_text(404), "Not Found");
    assert_string_equal(cg_http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(cg_http_status_text(299), "Unknown");
    cg_error_info_http(&info, CG_HTTP_ERR_METHOD_NOT_ALLOWED);
    assert_string_equal(info.allow, "GET, HEAD");
    cg_error_info_cert(&info, CG_REASON_CERT_REQUIRED, NULL, false);
    assert_string_equal(info.code, "403.7");
    assert_string_equal(info.reason, "cert-required");
}

static void test_html_escaping(void **state)
{
    struct cg_error_info info;
    char *body = NULL;
    size_t len;
    const char *ct;
    json_t *j;

    cg_error_info_http(&info, CG_HTTP_ERR_NOT_FOUND);
    info.detail = "<script>alert('x')</script>&\"";
    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    assert_null(strstr(body, "<script>"));
    assert_non_null(strstr(body, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
    free(body);

    /* bytes that are not UTF-8 still give valid JSON */
    info.detail = "no such file: /caf\xe9\xff";
    assert_int_equal(cg_error_render(&info, true, &body, &len, &ct), CG_OK);
    j = parse_body(body, len);
    assert_string_equal(json_string_value(json_object_get(j, "detail")),
                        "no such file: /caf\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
    free(body);
}

static void test_huge_detail_bounded(void **state)
{
    struct cg_error_info info;
    char *big = malloc(200000), *body = NULL;
    size_t len;
    const char *ct;

    assert_non_null(big);
    memset(big, '<', 199999);
    big[199999] = '\0';
    cg_error_info_http(&info, CG_HTTP_ERR_BAD_REQUEST);
    info.detail = big;
    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    assert_true(len <= CG_ERROR_BODY_MAX);
    assert_non_null(strstr(body, "</html>"));
    free(body);
    free(big);
}

/* A verdict as the engine reports an expired leaf under an intermediate. */
struct fixture {
    struct cg_verdict v;
    struct cg_path_element path[3];
    struct cg_problem leaf_problem;
    char *remedy[1];
};

static void make_verdict(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
    f->leaf_problem.reason = CG_REASON_EXPIRED;
    f->leaf_problem.x509_error = 10;
    f->leaf_problem.text = "expired on 2025-01-01 00:00:00 UTC";
    f->path[0].subject = "CN=alice <leaf>,O=Example";
    f->path[0].issuer = "CN=Example Issuing CA";
    f->path[0].serial = "1A2B";
    strcpy(f->path[0].not_before, "2024-01-01T00:00:00Z");
    strcpy(f->path[0].not_after, "2025-01-01T00:00:00Z");
    strcpy(f->path[0].sha256, "aaaa000000000000000000000000000000000000000000000000000000000001");
    f->path[0].source = CG_SOURCE_CLIENT;
    f->path[0].problems = &f->leaf_problem;
    f->path[0].n_problems = 1;
    f->path[1].subject = "CN=Example Issuing CA";
    f->path[1].issuer = "CN=Example Root CA";
    f->path[1].serial = "02";
    strcpy(f->path[1].not_before, "2020-01-01T00:00:00Z");
    strcpy(f->path[1].not_after, "2030-01-01T00:00:00Z");
    strcpy(f->path[1].sha256, "bbbb000000000000000000000000000000000000000000000000000000000002");
    f->path[1].source = CG_SOURCE_INTERMEDIATE_STORE;
    f->path[2].subject = "CN=Example Root CA";
    f->path[2].issuer = "CN=Example Root CA";
    f->path[2].serial = "01";
    strcpy(f->path[2].not_before, "2020-01-01T00:00:00Z");
    strcpy(f->path[2].not_after, "2040-01-01T00:00:00Z");
    strcpy(f->path[2].sha256, "cccc000000000000000000000000000000000000000000000000000000000003");
    f->path[2].source = CG_SOURCE_ROOT_STORE;
    f->remedy[0] = "certgate pki issue --renew alice";
    f->v.reason = CG_REASON_EXPIRED;
    f->v.status = 403;
    f->v.substatus = 17;
    f->v.code = "403.17";
    f->v.title = cg_reason_title(CG_REASON_EXPIRED);
    f->v.detail = "The client certificate CN=alice expired on 2025-01-01.";
    f->v.path = f->path;
    f->v.path_len = 3;
    f->v.remedy = f->remedy;
    f->v.n_remedy = 1;
}

static void test_friendly_hides_path(void **state)
{
    struct fixture f;
    struct cg_error_info info;
    char *body = NULL;
    size_t len;
    const char *ct;
    json_t *j;

    make_verdict(&f);
    cg_error_info_cert(&info, CG_REASON_EXPIRED, &f.v, false);
    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    assert_non_null(strstr(body, "<title>403.17 - Client certificate expired</title>"));
    /* the person learns the dates of their certificate ... */
    assert_non_null(strstr(body, "Your certificate is valid from 2024-01-01T00:00:00Z to "
                                 "2025-01-01T00:00:00Z"));
    /* ... and nothing about the chain */
    assert_null(strstr(body, "Certification path"));
    assert_null(strstr(body, "aaaa0000"));
    assert_null(strstr(body, "bbbb0000"));
    assert_null(strstr(body, "Example Issuing CA"));
    assert_null(strstr(body, "CN=alice"));
    assert_null(strstr(body, "certgate pki issue"));
    free(body);

    assert_int_equal(cg_error_render(&info, true, &body, &len, &ct), CG_OK);
    j = parse_body(body, len);
    assert_null(json_object_get(j, "path"));
    assert_null(json_object_get(j, "remedy"));
    assert_string_equal(json_string_value(json_object_get(j, "detail")),
                        cg_reason_user_text(CG_REASON_EXPIRED));
    assert_string_equal(json_string_value(json_object_get(j, "not_after")), "2025-01-01T00:00:00Z");
    assert_null(strstr(body, "aaaa0000"));
    assert_null(strstr(body, "CN="));
    json_decref(j);
    free(body);
}

static void test_detailed_shows_path_root_down(void **state)
{
    struct fixture f;
    struct cg_error_info info;
    char *body = NULL, *root, *inter, *leaf;
    size_t len;
    const char *ct;
    json_t *j, *path;

    make_verdict(&f);
    cg_error_info_cert(&info, CG_REASON_EXPIRED, &f.v, true);
    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    assert_non_null(strstr(body, "Certification path"));
    root = strstr(body, "<strong>CN=Example Root CA</strong>");
    inter = strstr(body, "<strong>CN=Example Issuing CA</strong>");
    leaf = strstr(body, "<strong>CN=alice &lt;leaf&gt;,O=Example</strong>");
    assert_non_null(root);
    assert_non_null(inter);
    assert_non_null(leaf);
    assert_true(root < inter && inter < leaf);
    assert_non_null(strstr(body, "aaaa000000000000000000000000000000000000000000000000000000000001"));
    assert_non_null(strstr(body, "<code>expired</code> expired on 2025-01-01 00:00:00 UTC"));
    assert_non_null(strstr(body, "certgate pki issue --renew alice"));
    assert_non_null(strstr(body, "The client certificate CN=alice expired on 2025-01-01."));
    assert_non_null(strstr(body, "<li class=\"bad\"><span class=\"mark\">&#10008;"));
    assert_non_null(strstr(body, "<li class=\"ok\"><span class=\"mark\">&#10004;"));
    free(body);

    assert_int_equal(cg_error_render(&info, true, &body, &len, &ct), CG_OK);
    j = parse_body(body, len);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "403.17");
    assert_string_equal(json_string_value(json_object_get(j, "detail")), f.v.detail);
    path = json_object_get(j, "path");
    assert_int_equal(json_array_size(path), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(path, 0), "subject")),
                        "CN=alice <leaf>,O=Example");
    assert_string_equal(json_string_value(json_object_get(json_array_get(path, 2), "source")),
                        cg_source_slug(CG_SOURCE_ROOT_STORE));
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_array_get(path, 0), "problems"), 0), "reason")),
        "expired");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "remedy"), 0)),
                        "certgate pki issue --renew alice");
    json_decref(j);
    free(body);
}

static void test_missing_issuer(void **state)
{
    struct fixture f;
    struct cg_problem p = { .reason = CG_REASON_INCOMPLETE_CHAIN, .x509_error = 20,
                            .text = "issuer not found" };
    struct cg_error_info info;
    char *body = NULL;
    size_t len;
    const char *ct;

    make_verdict(&f);
    f.path[0].problems = &p;
    f.path[1].cert = NULL;
    f.path[1].source = CG_SOURCE_MISSING;
    f.path[1].subject = "";
    f.path[1].issuer = "CN=Example Issuing CA";
    f.path[1].sha256[0] = '\0';
    f.v.path_len = 2;
    f.v.reason = CG_REASON_INCOMPLETE_CHAIN;
    f.v.n_remedy = 0;
    cg_error_info_cert(&info, CG_REASON_INCOMPLETE_CHAIN, &f.v, true);
    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    assert_non_null(strstr(body, "<li class=\"missing\"><span class=\"mark\">?</span>"
                                 "<strong>CN=Example Issuing CA</strong>"));
    /* no remedy from the engine: the admin advice of the reason table */
    assert_non_null(strstr(body, "certgate store import INTERMEDIATE.cer"));
    /* not an expiry: no dates line */
    assert_null(strstr(body, "class=\"dates\""));
    free(body);
}

static void test_detailed_odd_strings_and_advisory(void **state)
{
    struct fixture f;
    struct cg_problem adv = { .reason = CG_REASON_REVOCATION_UNKNOWN,
                              .text = "no CRL for this issuer", .advisory = true };
    struct cg_error_info info;
    char *body = NULL;
    size_t len;
    const char *ct;
    json_t *j, *path;

    make_verdict(&f);
    f.path[0].subject = (char[]){ 'C', 'N', '=', (char)0xff, 'x', '\0' };
    f.path[1].problems = &adv;
    f.path[1].n_problems = 1;
    cg_error_info_cert(&info, CG_REASON_EXPIRED, &f.v, true);
    assert_int_equal(cg_error_render(&info, true, &body, &len, &ct), CG_OK);
    j = parse_body(body, len);
    path = json_object_get(j, "path");
    assert_int_equal(json_array_size(path), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(path, 0), "subject")),
                        "CN=\xef\xbf\xbdx");
    assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(json_array_get(path, 1), "problems"), 0), "advisory")));
    json_decref(j);
    free(body);

    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    /* the intermediate only has an advisory problem: still marked good */
    assert_non_null(strstr(body, "<li class=\"ok\"><span class=\"mark\">&#10004;</span>"
                                 "<strong>CN=Example Issuing CA</strong>"));
    assert_non_null(strstr(body, "no CRL for this issuer <em>(allowed by the policy)</em>"));
    free(body);
}

/* A real chain from the pki module, judged by the verdict engine. */
static void test_real_verdict(void **state)
{
    char *err = NULL, *body = NULL;
    EVP_PKEY *rk = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    EVP_PKEY *ik = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    EVP_PKEY *lk = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    struct cg_pki_spec rs = { .profile = CG_PKI_ROOT_CA, .subject_cn = "Test Root",
                              .path_len = -1 };
    struct cg_pki_spec is = { .profile = CG_PKI_INTERMEDIATE_CA, .subject_cn = "Test Issuing",
                              .path_len = -1 };
    struct cg_pki_spec ls = { .profile = CG_PKI_CLIENT, .subject_cn = "bob",
                              .not_before = time(NULL) - 400 * 86400,
                              .not_after = time(NULL) - 30 * 86400 };
    X509 *root = NULL, *inter = NULL, *leaf = NULL;
    struct cg_trust *trust = cg_trust_new();
    struct cg_policy policy;
    struct cg_verdict v;
    struct cg_error_info info;
    size_t len;
    const char *ct;
    json_t *j;

    assert_non_null(rk);
    assert_non_null(ik);
    assert_non_null(lk);
    root = cg_pki_issue(&rs, rk, NULL, rk, &err);
    inter = cg_pki_issue(&is, ik, root, rk, &err);
    leaf = cg_pki_issue(&ls, lk, inter, ik, &err);
    assert_non_null(leaf);
    assert_int_equal(cg_trust_add_root(trust, root), CG_OK);
    assert_int_equal(cg_trust_add_intermediate(trust, inter), CG_OK);
    cg_policy_init(&policy);
    assert_int_equal(cg_verdict_judge(leaf, NULL, trust, time(NULL), &policy, &v), CG_OK);
    assert_int_equal(v.reason, CG_REASON_EXPIRED);
    assert_true(v.path_len >= 2);

    cg_error_info_cert(&info, v.reason, &v, false);
    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    assert_non_null(strstr(body, "403.17 - Client certificate expired"));
    assert_non_null(strstr(body, v.path[0].not_after));
    assert_null(strstr(body, v.path[0].sha256));
    assert_null(strstr(body, "Test Issuing"));
    free(body);

    cg_error_info_cert(&info, v.reason, &v, true);
    assert_int_equal(cg_error_render(&info, false, &body, &len, &ct), CG_OK);
    assert_non_null(strstr(body, v.path[0].sha256));
    assert_non_null(strstr(body, "Test Issuing"));
    free(body);
    assert_int_equal(cg_error_render(&info, true, &body, &len, &ct), CG_OK);
    j = parse_body(body, len);
    assert_int_equal(json_array_size(json_object_get(j, "path")), v.path_len);
    {
        json_t *first = json_array_get(json_object_get(j, "path"), 0);
        assert_string_equal(json_string_value(json_object_get(first, "sha256")), v.path[0].sha256);
    }
    assert_true(json_array_size(json_object_get(j, "remedy")) >= 1);
    json_decref(j);
    free(body);
    cg_verdict_free(&v);

    /* no certificate at all */
    assert_int_equal(cg_verdict_judge(NULL, NULL, trust, time(NULL), &policy, &v), CG_OK);
    cg_error_info_cert(&info, v.reason, &v, false);
    assert_int_equal(cg_error_render(&info, true, &body, &len, &ct), CG_OK);
    j = parse_body(body, len);
    assert_string_equal(json_string_value(json_object_get(j, "code")), "403.7");
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "cert-required");
    json_decref(j);
    free(body);
    cg_verdict_free(&v);

    cg_trust_unref(trust);
    X509_free(leaf);
    X509_free(inter);
    X509_free(root);
    EVP_PKEY_free(lk);
    EVP_PKEY_free(ik);
    EVP_PKEY_free(rk);
    free(err);
}

static void test_want_json(void **state)
{
    static const char *yes[] = {
        "application/problem+json",
        "application/json",
        "text/html;q=0.5, application/json",
    };
    static const char *no[] = {
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "*/*",
        "text/html, application/json",
        "",
    };
    for (size_t i = 0; i < CG_ARRAY_LEN(yes); i++)
        assert_true(cg_error_want_json(yes[i], strlen(yes[i])));
    for (size_t i = 0; i < CG_ARRAY_LEN(no); i++)
        assert_false(cg_error_want_json(no[i], strlen(no[i])));
    assert_false(cg_error_want_json(NULL, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_http_error),
        cmocka_unit_test(test_every_cert_reason),
        cmocka_unit_test(test_table_lookups),
        cmocka_unit_test(test_html_escaping),
        cmocka_unit_test(test_huge_detail_bounded),
        cmocka_unit_test(test_friendly_hides_path),
        cmocka_unit_test(test_detailed_shows_path_root_down),
        cmocka_unit_test(test_missing_issuer),
        cmocka_unit_test(test_detailed_odd_strings_and_advisory),
        cmocka_unit_test(test_real_verdict),
        cmocka_unit_test(test_want_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The CA toolkit: each profile's extensions, CRLs, writers, time parsing, the demo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cert/load.h"
#include "cert/pki.h"
#include "cert/store.h"
#include "core/common.h"
#include "testutil.h"

static struct tu_pair root, inter;

static int setup(void **state)
{
    (void)state;
    root = tu_issue(CG_PKI_ROOT_CA, "Test Root", NULL);
    inter = tu_issue(CG_PKI_INTERMEDIATE_CA, "Test Intermediate", &root);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_pair_free(&inter);
    tu_pair_free(&root);
    return 0;
}

static const ASN1_OCTET_STRING *aki_keyid(X509 *c)
{
    const ASN1_OCTET_STRING *id = X509_get0_authority_key_id(c);
    assert_non_null(id);
    return id;
}

static void assert_same_octets(const ASN1_OCTET_STRING *a, const ASN1_OCTET_STRING *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(ASN1_STRING_cmp(a, b), 0);
}

static bool has_eku(X509 *c, int nid)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(c, NID_ext_key_usage, NULL, NULL);
    bool found = false;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
        found = found || OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid;
    EXTENDED_KEY_USAGE_free(eku);
    return found;
}

static bool ext_critical(X509 *c, int nid)
{
    int idx = X509_get_ext_by_NID(c, nid, -1);
    assert_true(idx >= 0);
    return X509_EXTENSION_get_critical(X509_get_ext(c, idx)) == 1;
}

static void test_root_profile(void **state)
{
    (void)state;
    X509 *c = root.cert;
    assert_int_equal(X509_get_version(c), X509_VERSION_3);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)), 0);
    assert_int_equal(X509_verify(c, root.key), 1);
    assert_int_equal(X509_check_ca(c), 1);
    assert_true(ext_critical(c, NID_basic_constraints));
    assert_int_equal(X509_get_pathlen(c), -1);
    uint32_t ku = X509_get_key_usage(c);
    assert_true(ku & KU_KEY_CERT_SIGN);
    assert_true(ku & KU_CRL_SIGN);
    assert_true(ext_critical(c, NID_key_usage));
    assert_int_equal(X509_get_ext_by_NID(c, NID_ext_key_usage, -1), -1);
    /* Self-signed: AKI keyid is its own SKI. */
    assert_same_octets(aki_keyid(c), X509_get0_subject_key_id(c));
    assert_int_equal(X509_get_signature_nid(c), NID_ecdsa_with_SHA256);
    assert_true(EVP_PKEY_is_a(X509_get0_pubkey(c), "EC"));
    assert_true(cg_store_is_self_signed(c));
    assert_int_equal(cg_store_classify(c), CG_STORE_ROOT);
}

static void test_intermediate_profile(void **state)
{
    (void)state;
    struct cg_pki_spec spec = {.profile = CG_PKI_INTERMEDIATE_CA, .subject_cn = "Sub CA",
                               .subject_o = "Example, \"Quoted\" Org", .path_len = 0};
    char *err = NULL;
    X509 *c = cg_pki_issue(&spec, inter.key, root.cert, root.key, &err);
    assert_non_null(c);
    assert_int_equal(X509_verify(c, root.key), 1);
    assert_int_equal(X509_check_ca(c), 1);
    assert_int_equal(X509_get_pathlen(c), 0);
    assert_true(X509_get_key_usage(c) & KU_KEY_CERT_SIGN);
    assert_same_octets(aki_keyid(c), X509_get0_subject_key_id(root.cert));
    assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(c), X509_get_subject_name(root.cert)), 0);
    char org[128];
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(c), NID_organizationName, org,
                                          sizeof(org)) > 0);
    assert_string_equal(org, "Example, \"Quoted\" Org");
    assert_int_equal(cg_store_classify(c), CG_STORE_INTERMEDIATE);
    X509_free(c);
}

static void test_client_profile(void **state)
{
    (void)state;
    struct tu_pair c = tu_issue(CG_PKI_CLIENT, "alice", &inter);
    assert_int_equal(X509_check_ca(c.cert), 0);
    assert_true(ext_critical(c.cert, NID_basic_constraints));
    assert_int_equal(X509_get_key_usage(c.cert), KU_DIGITAL_SIGNATURE);
    assert_true(has_eku(c.cert, NID_client_auth));
    assert_false(has_eku(c.cert, NID_server_auth));
    assert_int_equal(X509_check_purpose(c.cert, X509_PURPOSE_SSL_CLIENT, 0), 1);
    assert_int_equal(X509_check_purpose(c.cert, X509_PURPOSE_SSL_SERVER, 0), 0);
    assert_same_octets(aki_keyid(c.cert), X509_get0_subject_key_id(inter.cert));
    assert_int_equal(cg_store_classify(c.cert), CG_STORE_AUTO);

    /* The chain verifies with plain OpenSSL. */
    X509_STORE *st = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, inter.cert);
    X509_STORE_add_cert(st, root.cert);
    X509_STORE_CTX_init(ctx, st, c.cert, untrusted);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    assert_int_equal(X509_verify_cert(ctx), 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    sk_X509_free(untrusted);
    tu_pair_free(&c);
}

static void test_server_profile_rsa_sans_urls(void **state)
{
    (void)state;
    static const char *const dns[] = {"localhost", "www.example.test", NULL};
    static const char *const ips[] = {"127.0.0.1", "::1", NULL};
    struct cg_pki_spec spec = {.profile = CG_PKI_SERVER, .subject_cn = "localhost",
                               .dns_names = dns, .ip_addrs = ips,
                               .crl_url = "http://crl.example.test/inter.crl",
                               .ocsp_url = "http://ocsp.example.test/"};
    char *err = NULL;
    EVP_PKEY *key = cg_pki_keygen(CG_PKI_KEY_RSA_2048, &err);
    assert_non_null(key);
    assert_true(EVP_PKEY_is_a(key, "RSA"));
    assert_int_equal(EVP_PKEY_get_bits(key), 2048);
    X509 *c = cg_pki_issue(&spec, key, inter.cert, inter.key, &err);
    assert_non_null(c);
    assert_int_equal(X509_get_key_usage(c), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
    assert_true(has_eku(c, NID_server_auth));
    assert_false(has_eku(c, NID_client_auth));
    assert_int_equal(X509_check_host(c, "localhost", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(c, "www.example.test", 0, 0, NULL), 1);
    assert_int_equal(X509_check_host(c, "other.test", 0, 0, NULL), 0);
    assert_int_equal(X509_check_ip_asc(c, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(c, "::1", 0), 1);
    assert_int_equal(X509_check_ip_asc(c, "10.0.0.1", 0), 0);

    STACK_OF(DIST_POINT) *dps = X509_get_ext_d2i(c, NID_crl_distribution_points, NULL, NULL);
    assert_int_equal(sk_DIST_POINT_num(dps), 1);
    GENERAL_NAME *gn = sk_GENERAL_NAME_value(sk_DIST_POINT_value(dps, 0)->distpoint->name.fullname, 0);
    assert_int_equal(gn->type, GEN_URI);
    assert_string_equal((const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
                        "http://crl.example.test/inter.crl");
    sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
    STACK_OF(OPENSSL_STRING) *ocsp = X509_get1_ocsp(c);
    assert_int_equal(sk_OPENSSL_STRING_num(ocsp), 1);
    assert_string_equal(sk_OPENSSL_STRING_value(ocsp, 0), "http://ocsp.example.test/");
    X509_email_free(ocsp);
    X509_free(c);
    EVP_PKEY_free(key);
}

static void test_eku_choice_validity_serial(void **state)
{
    (void)state;
    char *err = NULL;
    struct cg_pki_spec spec = {.profile = CG_PKI_CLIENT, .subject_cn = "both",
                               .eku = CG_PKI_EKU_CLIENT_AUTH | CG_PKI_EKU_SERVER_AUTH,
                               .not_before = 1700000000, .not_after = 1800000000,
                               .serial = 0x1234abcdULL};
    X509 *c = cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err);
    assert_non_null(c);
    assert_true(has_eku(c, NID_client_auth));
    assert_true(has_eku(c, NID_server_auth));
    ASN1_TIME *want = ASN1_TIME_set(NULL, 1700000000);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(c), want), 0);
    ASN1_TIME_set(want, 1800000000);
    assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(c), want), 0);
    ASN1_TIME_free(want);
    uint64_t serial = 0;
    assert_int_equal(ASN1_INTEGER_get_uint64(&serial, X509_get0_serialNumber(c)), 1);
    assert_true(serial == 0x1234abcdULL);
    X509_free(c);

    spec.eku = CG_PKI_EKU_NONE;
    c = cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err);
    assert_non_null(c);
    assert_int_equal(X509_get_ext_by_NID(c, NID_ext_key_usage, -1), -1);
    X509_free(c);

    /* Random serials differ and are positive. */
    spec.serial = 0;
    X509 *a = cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err);
    X509 *b = cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)), 0);
    assert_int_equal(ASN1_STRING_type(X509_get0_serialNumber(a)), V_ASN1_INTEGER);
    X509_free(a);
    X509_free(b);
}

static void test_issue_errors(void **state)
{
    (void)state;
    char *err = NULL;
    struct cg_pki_spec spec = {.profile = CG_PKI_CLIENT, .subject_cn = NULL};
    assert_null(cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err));
    assert_non_null(strstr(err, "CN"));
    spec.subject_cn = "x";
    assert_null(cg_pki_issue(&spec, inter.key, inter.cert, root.key, &err));
    assert_non_null(strstr(err, "does not match"));
    assert_null(cg_pki_issue(&spec, inter.key, NULL, inter.key, &err));
    assert_non_null(strstr(err, "issuer"));
    static const char *const bad_ip[] = {"300.1.1.1", NULL};
    spec.ip_addrs = bad_ip;
    assert_null(cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err));
    assert_non_null(strstr(err, "300.1.1.1"));
    spec.ip_addrs = NULL;
    spec.crl_url = "http://a,b";
    assert_null(cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err));
    assert_non_null(strstr(err, "URL"));
    spec.crl_url = NULL;
    spec.not_before = 2000;
    spec.not_after = 1000;
    assert_null(cg_pki_issue(&spec, inter.key, inter.cert, inter.key, &err));
    free(err);
}

static void test_crl(void **state)
{
    (void)state;
    char *err = NULL;
    struct tu_pair leaf = tu_issue(CG_PKI_CLIENT, "revoked one", &inter);
    struct cg_pki_revoked rev[] = {
        {.cert = leaf.cert, .reason = 1},
        {.serial = 0xabcdef, .reason = -1, .revoked_at = 1700000000},
    };
    X509_CRL *crl = cg_pki_make_crl(inter.cert, inter.key, rev, 2, 0, 0, 42, &err);
    assert_non_null(crl);
    assert_int_equal(X509_CRL_verify(crl, inter.key), 1);
    assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
    assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(inter.cert)), 0);
    assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);

    X509_REVOKED *r = NULL;
    assert_int_equal(X509_CRL_get0_by_cert(crl, &r, leaf.cert), 1);
    ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
    assert_non_null(reason);
    assert_int_equal(ASN1_ENUMERATED_get(reason), 1);
    ASN1_ENUMERATED_free(reason);

    ASN1_INTEGER *num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    assert_non_null(num);
    assert_int_equal(ASN1_INTEGER_get(num), 42);
    ASN1_INTEGER_free(num);
    AUTHORITY_KEYID *akid = X509_CRL_get_ext_d2i(crl, NID_authority_key_identifier, NULL, NULL);
    assert_non_null(akid);
    assert_same_octets(akid->keyid, X509_get0_subject_key_id(inter.cert));
    AUTHORITY_KEYID_free(akid);

    /* Defaults: thisUpdate an hour ago, nextUpdate a week later. */
    time_t now = time(NULL);
    assert_true(X509_cmp_time(X509_CRL_get0_lastUpdate(crl), &now) < 0);
    time_t in6d = now + 6 * 86400, in8d = now + 8 * 86400;
    assert_true(X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &in6d) > 0);
    assert_true(X509_cmp_time(X509_CRL_get0_nextUpdate(crl), &in8d) < 0);
    X509_CRL_free(crl);

    struct cg_pki_revoked bad = {.serial = 1, .reason = 7};
    assert_null(cg_pki_make_crl(inter.cert, inter.key, &bad, 1, 0, 0, 1, &err));
    assert_non_null(strstr(err, "reason"));
    assert_null(cg_pki_make_crl(inter.cert, root.key, NULL, 0, 0, 0, 1, &err));
    free(err);
    tu_pair_free(&leaf);
}

static void test_writers_round_trip(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("pki-writers");
    char *err = NULL;
    char *pem = tu_path(dir, "chain.pem"), *der = tu_path(dir, "c.der"),
         *key = tu_path(dir, "k.pem"), *p12 = tu_path(dir, "c.p12"), *crlp = tu_path(dir, "c.crl");
    struct tu_pair leaf = tu_issue(CG_PKI_CLIENT, "writer", &inter);
    X509 *chain[] = {leaf.cert, inter.cert};
    struct cg_loaded l = {0};
    struct stat st;

    assert_int_equal(cg_pki_write_cert_pem(pem, chain, 2, &err), CG_OK);
    assert_int_equal(cg_pki_write_cert_der(der, leaf.cert, &err), CG_OK);
    assert_int_equal(cg_pki_write_key_pem(key, leaf.key, &err), CG_OK);
    STACK_OF(X509) *ca = sk_X509_new_null();
    sk_X509_push(ca, inter.cert);
    assert_int_equal(cg_pki_write_p12(p12, "pw", leaf.key, leaf.cert, ca, &err), CG_OK);
    sk_X509_free(ca);
    X509_CRL *crl = cg_pki_make_crl(inter.cert, inter.key, NULL, 0, 0, 0, 1, &err);
    assert_int_equal(cg_pki_write_crl_pem(crlp, crl, &err), CG_OK);
    X509_CRL_free(crl);

    assert_int_equal(stat(key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(p12, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(pem, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);

    assert_int_equal(cg_load_file(pem, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 2);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 0), leaf.cert), 0);
    cg_loaded_free(&l);
    assert_int_equal(cg_load_file(der, NULL, &l, &err), CG_OK);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 0), leaf.cert), 0);
    cg_loaded_free(&l);
    assert_int_equal(cg_load_file(key, NULL, &l, &err), CG_OK);
    assert_int_equal(EVP_PKEY_eq(l.key, leaf.key), 1);
    cg_loaded_free(&l);
    struct cg_load_opts o = {.password = "pw"};
    assert_int_equal(cg_load_file(p12, &o, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 2);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 0), leaf.cert), 0);
    assert_int_equal(EVP_PKEY_eq(l.key, leaf.key), 1);
    cg_loaded_free(&l);
    assert_int_equal(cg_load_file(crlp, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_CRL_num(l.crls), 1);
    cg_loaded_free(&l);

    /* No temp files left behind. */
    assert_int_equal(tu_count_files(dir), 5);
    /* A write into a missing folder fails with the path named. */
    char *bad = tu_path(dir, "missing/x.pem");
    assert_int_equal(cg_pki_write_cert_pem(bad, chain, 1, &err), CG_ERR);
    assert_non_null(strstr(err, "missing/x.pem"));
    free(bad);
    free(err);
    tu_pair_free(&leaf);
    tu_rmtree(dir);
    free(pem);
    free(der);
    free(key);
    free(p12);
    free(crlp);
    free(dir);
}

static void test_parse_time(void **state)
{
    (void)state;
    time_t t = 0, now = 1700000000;
    char *err = NULL;
    assert_int_equal(cg_pki_parse_time("2026-01-31T12:00:00Z", now, &t, &err), CG_OK);
    assert_int_equal(t, 1769860800);
    assert_int_equal(cg_pki_parse_time("2026-01-31", now, &t, &err), CG_OK);
    assert_int_equal(t, 1769817600);
    assert_int_equal(cg_pki_parse_time("2026-01-31 12:00", now, &t, &err), CG_OK);
    assert_int_equal(t, 1769860800);
    assert_int_equal(cg_pki_parse_time("@1234", now, &t, &err), CG_OK);
    assert_int_equal(t, 1234);
    assert_int_equal(cg_pki_parse_time("+30d", now, &t, &err), CG_OK);
    assert_int_equal(t, now + 30 * 86400);
    assert_int_equal(cg_pki_parse_time("-1d", now, &t, &err), CG_OK);
    assert_int_equal(t, now - 86400);
    assert_int_equal(cg_pki_parse_time("+2h", now, &t, &err), CG_OK);
    assert_int_equal(t, now + 7200);
    assert_int_equal(cg_pki_parse_time("now", now, &t, &err), CG_OK);
    assert_int_equal(t, now);
    static const char *const bad[] = {"", "yesterday", "+30", "+30y", "@", "@12x",
                                      "2026-13-01", "2026-01-31T", "+99999999999999d"};
    for (size_t i = 0; i < CG_ARRAY_LEN(bad); i++)
        assert_int_equal(cg_pki_parse_time(bad[i], now, &t, &err), CG_ERR);
    free(err);
}

/* Verifies a demo client against the demo stores with plain OpenSSL. */
static int verify_demo_client(const char *dir, const char *name, int *x509_err)
{
    char *p = NULL;
    struct cg_loaded cl = {0}, rl = {0}, il = {0};
    char *err = NULL;
    int rc;
    assert_true(asprintf(&p, "%s/clients/%s.pem", dir, name) > 0);
    assert_int_equal(cg_load_file(p, NULL, &cl, &err), CG_OK);
    free(p);
    assert_true(asprintf(&p, "%s/ca/root.pem", dir) > 0);
    assert_int_equal(cg_load_file(p, NULL, &rl, &err), CG_OK);
    free(p);
    assert_true(asprintf(&p, "%s/ca/intermediate.pem", dir) > 0);
    assert_int_equal(cg_load_file(p, NULL, &il, &err), CG_OK);
    free(p);
    X509_STORE *st = X509_STORE_new();
    X509_STORE_add_cert(st, sk_X509_value(rl.certs, 0));
    X509_STORE_add_cert(st, sk_X509_value(il.certs, 0));
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, st, sk_X509_value(cl.certs, 0), cl.certs);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    rc = X509_verify_cert(ctx);
    *x509_err = X509_STORE_CTX_get_error(ctx);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(st);
    cg_loaded_free(&cl);
    cg_loaded_free(&rl);
    cg_loaded_free(&il);
    return rc;
}

static void test_demo(void **state)
{
    (void)state;
    char *dir = tu_mkdtemp("pki-demo");
    char *demo = tu_path(dir, "demo"), *err = NULL;
    cg_pki_demo_result_t created = CG_PKI_DEMO_KEPT;
    static const char *const files[] = {
        "ca/root.pem", "ca/root.key", "ca/intermediate.pem", "ca/intermediate.key",
        "ca/other-root.pem", "ca/other-root.key", "server/server.pem", "server/server.key",
        "clients/valid.pem", "clients/valid.key", "clients/valid.p12",
        "clients/expired.p12", "clients/not-yet-valid.p12", "clients/revoked.p12",
        "clients/untrusted.p12", "clients/wrong-usage.p12", "clients/incomplete-chain.p12",
        "clients/incomplete-chain.pem", ".certgate-demo",
    };

    assert_int_equal(cg_pki_demo_ex(demo, false, &created, &err), CG_OK);
    assert_int_equal(created, CG_PKI_DEMO_CREATED);
    for (size_t i = 0; i < CG_ARRAY_LEN(files); i++) {
        char *p = tu_path(demo, files[i]);
        if (access(p, R_OK) != 0)
            fail_msg("demo file missing: %s", files[i]);
        free(p);
    }

    /* Stores: the root, the intermediate, two CRLs, named by thumbprint. */
    char *stores = tu_path(demo, "stores");
    struct cg_store_list list = {0};
    assert_int_equal(cg_store_list(stores, 0, &list, &err), CG_OK);
    assert_int_equal(list.n, 4);
    size_t per_kind[CG_STORE__COUNT] = {0};
    for (size_t i = 0; i < list.n; i++) {
        struct cg_store_entry *e = &list.entries[i];
        assert_null(e->problem);
        per_kind[e->kind]++;
        char want[80];
        snprintf(want, sizeof(want), "/%s.pem", e->thumbprint);
        assert_non_null(strstr(e->path, want));
        if (e->kind == CG_STORE_CRL && strstr(e->issued_by, "Intermediate") != NULL)
            assert_int_equal(e->crl_entries, 1);
    }
    assert_int_equal(per_kind[CG_STORE_ROOT], 1);
    assert_int_equal(per_kind[CG_STORE_INTERMEDIATE], 1);
    assert_int_equal(per_kind[CG_STORE_CRL], 2);
    cg_store_list_free(&list);

    /* Each case is what its name says, to plain OpenSSL. */
    int x = 0;
    assert_int_equal(verify_demo_client(demo, "valid", &x), 1);
    assert_int_equal(verify_demo_client(demo, "expired", &x), 0);
    assert_int_equal(x, X509_V_ERR_CERT_HAS_EXPIRED);
    assert_int_equal(verify_demo_client(demo, "not-yet-valid", &x), 0);
    assert_int_equal(x, X509_V_ERR_CERT_NOT_YET_VALID);
    assert_int_equal(verify_demo_client(demo, "untrusted", &x), 0);
    assert_int_equal(x, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
    assert_int_equal(verify_demo_client(demo, "wrong-usage", &x), 0);
    assert_int_equal(x, X509_V_ERR_INVALID_PURPOSE);
    assert_int_equal(verify_demo_client(demo, "incomplete-chain", &x), 0);
    assert_int_equal(x, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

    /* The p12 opens with the documented password. */
    char *p12 = tu_path(demo, "clients/valid.p12");
    struct cg_load_opts o = {.password = CG_PKI_DEMO_P12_PASSWORD};
    struct cg_loaded l = {0};
    assert_int_equal(cg_load_file(p12, &o, &l, &err), CG_OK);
    assert_non_null(l.key);
    assert_int_equal(sk_X509_num(l.certs), 2);
    cg_loaded_free(&l);

    /* Second run: left alone. Forced: regenerated. */
    char *before = tu_fingerprint(demo);
    assert_int_equal(cg_pki_demo_ex(demo, false, &created, &err), CG_OK);
    assert_int_equal(created, CG_PKI_DEMO_KEPT);
    char *after = tu_fingerprint(demo);
    assert_string_equal(before, after);
    free(after);
    assert_int_equal(cg_pki_demo_ex(demo, true, &created, &err), CG_OK);
    assert_int_equal(created, CG_PKI_DEMO_CREATED);
    after = tu_fingerprint(demo);
    assert_string_not_equal(before, after);
    free(after);
    free(before);
    /* Regenerated stores hold no leftovers of the first run. */
    assert_int_equal(cg_store_list(stores, 0, &list, &err), CG_OK);
    assert_int_equal(list.n, 4);
    cg_store_list_free(&list);

    /* Stale CRLs only: reissued with the next number, the CAs and clients kept. */
    {
        struct cg_loaded rl = {0}, rk = {0};
        char *rp = tu_path(demo, "ca/root.pem"), *kp = tu_path(demo, "ca/root.key");
        assert_int_equal(cg_load_file(rp, NULL, &rl, &err), CG_OK);
        assert_int_equal(cg_load_file(kp, NULL, &rk, &err), CG_OK);
        assert_int_equal(cg_store_list(stores, 0, &list, &err), CG_OK);
        for (size_t i = 0; i < list.n; i++) {
            if (list.entries[i].kind == CG_STORE_CRL &&
                strstr(list.entries[i].issued_by, "Root") != NULL)
                assert_int_equal(cg_store_remove_entry(&list.entries[i], &err), CG_OK);
        }
        cg_store_list_free(&list);
        time_t now = time(NULL);
        X509_CRL *stale = cg_pki_make_crl(sk_X509_value(rl.certs, 0), rk.key, NULL, 0,
                                          now - 9 * 86400, now - 2 * 86400, 1, &err);
        assert_int_equal(cg_store_put_crl(stores, stale, NULL, &err), CG_OK);
        X509_CRL_free(stale);
        char *ca_before = (char *)tu_read(rp, NULL);
        assert_int_equal(cg_pki_demo_ex(demo, false, &created, &err), CG_OK);
        assert_int_equal(created, CG_PKI_DEMO_CRLS_REFRESHED);
        char *ca_after = (char *)tu_read(rp, NULL);
        assert_string_equal(ca_before, ca_after);
        assert_int_equal(cg_store_list(stores, 0, &list, &err), CG_OK);
        assert_int_equal(list.n, 4);
        for (size_t i = 0; i < list.n; i++) {
            assert_false(list.entries[i].expired);
            if (list.entries[i].kind == CG_STORE_CRL)
                assert_int_equal(list.entries[i].crl_number, 2);
        }
        cg_store_list_free(&list);
        assert_int_equal(cg_pki_demo_ex(demo, false, &created, &err), CG_OK);
        assert_int_equal(created, CG_PKI_DEMO_KEPT);
        free(ca_before);
        free(ca_after);
        free(rp);
        free(kp);
        cg_loaded_free(&rl);
        cg_loaded_free(&rk);
    }

    /* A partial demo (marker gone) is regenerated. */
    char *marker = tu_path(demo, ".certgate-demo");
    unlink(marker);
    assert_int_equal(cg_pki_demo(demo, &err), CG_OK);
    assert_int_equal(access(marker, F_OK), 0);

    free(marker);
    free(p12);
    free(stores);
    free(err);
    tu_rmtree(dir);
    free(demo);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_profile),
        cmocka_unit_test(test_intermediate_profile),
        cmocka_unit_test(test_client_profile),
        cmocka_unit_test(test_server_profile_rsa_sans_urls),
        cmocka_unit_test(test_eku_choice_validity_serial),
        cmocka_unit_test(test_issue_errors),
        cmocka_unit_test(test_crl),
        cmocka_unit_test(test_writers_round_trip),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_demo),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

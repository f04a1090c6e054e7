/* The store rules: classification, refusal, --force, idempotence, atomicity, CRLs, listing. */
#include <setjmp.h>
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/pkcs7.h>

#include "cert/load.h"
#include "cert/pki.h"
#include "cert/store.h"
#include "core/common.h"
#include "testutil.h"

static struct tu_pair root, inter, leaf, other_root;

static int setup(void **state)
{
    (void)state;
    root = tu_issue(CG_PKI_ROOT_CA, "Store Root", NULL);
    inter = tu_issue(CG_PKI_INTERMEDIATE_CA, "Store Intermediate", &root);
    leaf = tu_issue(CG_PKI_CLIENT, "store leaf", &inter);
    other_root = tu_issue(CG_PKI_ROOT_CA, "Store Root", NULL);   /* same name, other key */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_pair_free(&root);
    tu_pair_free(&inter);
    tu_pair_free(&leaf);
    tu_pair_free(&other_root);
    return 0;
}

struct env {
    char *dir;      /* scratch */
    char *stores;   /* dir/stores */
};

static int env_setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    e->dir = tu_mkdtemp("store");
    e->stores = tu_path(e->dir, "stores");
    *state = e;
    return 0;
}

static int env_teardown(void **state)
{
    struct env *e = *state;
    tu_rmtree(e->dir);
    free(e->stores);
    free(e->dir);
    free(e);
    return 0;
}

/* Writes certs (PEM bundle) to dir/name; returns the path (caller frees). */
static char *write_certs(const struct env *e, const char *name, X509 *const *certs, size_t n)
{
    char *p = tu_path(e->dir, name), *err = NULL;
    if (cg_pki_write_cert_pem(p, certs, n, &err) != CG_OK)
        fail_msg("%s", err);
    return p;
}

static char *write_crl(const struct env *e, const char *name, X509_CRL *crl)
{
    char *p = tu_path(e->dir, name), *err = NULL;
    if (cg_pki_write_crl_pem(p, crl, &err) != CG_OK)
        fail_msg("%s", err);
    return p;
}

static int import(const struct env *e, const char *file, cg_store_kind_t to, bool force,
                  struct cg_store_import_report *rep, char **err)
{
    struct cg_store_import_opts o = {.to = to, .force = force};
    return cg_store_import(e->stores, file, &o, rep, err);
}

static bool in_store(const struct env *e, cg_store_kind_t k, X509 *c)
{
    char thumb[65], name[100];
    cg_store_cert_thumbprint(c, thumb);
    snprintf(name, sizeof(name), "%s/%s.pem", cg_store_kind_name(k), thumb);
    char *p = tu_path(e->stores, name);
    bool r = access(p, F_OK) == 0;
    free(p);
    return r;
}

static void test_classification(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    char *err = NULL;
    char *rp = write_certs(e, "root.pem", &root.cert, 1);
    char *ip = write_certs(e, "inter.cer", &inter.cert, 1);

    assert_int_equal(import(e, rp, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.n_items, 1);
    assert_int_equal(rep.items[0].kind, CG_STORE_ROOT);
    assert_int_equal(rep.items[0].action, CG_STORE_ADDED);
    assert_null(rep.items[0].warning);
    cg_store_import_report_free(&rep);
    assert_int_equal(import(e, ip, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.items[0].kind, CG_STORE_INTERMEDIATE);
    cg_store_import_report_free(&rep);
    assert_true(in_store(e, CG_STORE_ROOT, root.cert));
    assert_true(in_store(e, CG_STORE_INTERMEDIATE, inter.cert));

    /* Stored as PEM, named by thumbprint, loadable. */
    char thumb[65], name[100];
    cg_store_cert_thumbprint(root.cert, thumb);
    snprintf(name, sizeof(name), "root/%s.pem", thumb);
    char *stored = tu_path(e->stores, name);
    struct cg_loaded l = {0};
    assert_int_equal(cg_load_file(stored, NULL, &l, &err), CG_OK);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 0), root.cert), 0);
    cg_loaded_free(&l);
    free(stored);

    /* Re-importing is a no-op. */
    char *before = tu_fingerprint(e->stores);
    assert_int_equal(import(e, rp, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.items[0].action, CG_STORE_ALREADY);
    cg_store_import_report_free(&rep);
    char *after = tu_fingerprint(e->stores);
    assert_string_equal(before, after);
    free(before);
    free(after);
    free(rp);
    free(ip);
    free(err);
}

static void test_refusals_and_force(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    char *err = NULL;
    char *rp = write_certs(e, "root.pem", &root.cert, 1);
    char *ip = write_certs(e, "inter.pem", &inter.cert, 1);
    char *lp = write_certs(e, "leaf.pem", &leaf.cert, 1);

    assert_int_equal(import(e, rp, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    cg_store_import_report_free(&rep);
    char *before = tu_fingerprint(e->stores);

    /* The IIS mistake: an intermediate into root. */
    assert_int_equal(import(e, ip, CG_STORE_ROOT, false, &rep, &err), CG_DECLINED);
    assert_non_null(strstr(err, "intermediate CA"));
    assert_non_null(strstr(err, "not self-signed"));
    assert_non_null(strstr(err, "--force"));
    assert_int_equal(rep.n_items, 0);
    /* A root into intermediate. */
    assert_int_equal(import(e, rp, CG_STORE_INTERMEDIATE, false, &rep, &err), CG_DECLINED);
    assert_non_null(strstr(err, "self-signed root CA"));
    /* A leaf anywhere but disallowed. */
    assert_int_equal(import(e, lp, CG_STORE_AUTO, false, &rep, &err), CG_DECLINED);
    assert_non_null(strstr(err, "not a CA certificate"));
    assert_non_null(strstr(err, "--to disallowed"));
    assert_int_equal(import(e, lp, CG_STORE_INTERMEDIATE, false, &rep, &err), CG_DECLINED);
    /* Nothing changed. */
    char *after = tu_fingerprint(e->stores);
    assert_string_equal(before, after);
    free(after);

    /* --force overrides, with a warning. */
    assert_int_equal(import(e, ip, CG_STORE_ROOT, true, &rep, &err), CG_OK);
    assert_int_equal(rep.items[0].kind, CG_STORE_ROOT);
    assert_non_null(rep.items[0].warning);
    assert_non_null(strstr(rep.items[0].warning, "forced into root/"));
    cg_store_import_report_free(&rep);
    assert_true(in_store(e, CG_STORE_ROOT, inter.cert));
    /* Disallowed takes anything, without force. */
    assert_int_equal(import(e, lp, CG_STORE_DISALLOWED, false, &rep, &err), CG_OK);
    assert_int_equal(rep.items[0].kind, CG_STORE_DISALLOWED);
    cg_store_import_report_free(&rep);
    assert_true(in_store(e, CG_STORE_DISALLOWED, leaf.cert));
    /* A cert in disallowed/ imported into root: warned that distrust wins. */
    assert_int_equal(import(e, ip, CG_STORE_DISALLOWED, false, &rep, &err), CG_OK);
    cg_store_import_report_free(&rep);
    assert_int_equal(import(e, ip, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_non_null(rep.items[0].warning);
    assert_non_null(strstr(rep.items[0].warning, "disallowed"));
    cg_store_import_report_free(&rep);

    /* The listing flags the forced intermediate in root/. */
    struct cg_store_list l = {0};
    assert_int_equal(cg_store_list(e->stores, 0, &l, &err), CG_OK);
    size_t flagged = 0;
    for (size_t i = 0; i < l.n; i++)
        flagged += l.entries[i].not_self_signed_in_root;
    assert_int_equal(flagged, 1);
    cg_store_list_free(&l);

    free(before);
    free(rp);
    free(ip);
    free(lp);
    free(err);
}

static void test_atomic_bundles(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    char *err = NULL;

    /* root + intermediate + a leaf: the leaf is refused, so nothing is written. */
    X509 *three[] = {root.cert, inter.cert, leaf.cert};
    char *bundle = write_certs(e, "bundle.pem", three, 3);
    assert_int_equal(import(e, bundle, CG_STORE_AUTO, false, &rep, &err), CG_DECLINED);
    assert_non_null(strstr(err, "store leaf"));
    assert_int_equal(access(e->stores, F_OK), -1);   /* not even the folder */

    /* Without the leaf: each one goes to its own store. */
    char *two = write_certs(e, "two.pem", three, 2);
    assert_int_equal(import(e, two, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.n_items, 2);
    assert_int_equal(rep.items[0].kind, CG_STORE_ROOT);
    assert_int_equal(rep.items[1].kind, CG_STORE_INTERMEDIATE);
    cg_store_import_report_free(&rep);

    /* A bundle with a corrupt certificate in the middle: refused whole, unchanged. */
    char *before = tu_fingerprint(e->stores);
    size_t len = 0;
    unsigned char *pem = tu_read(bundle, &len);
    char *second = strstr(strstr((char *)pem, "-----END") + 1, "-----BEGIN CERTIFICATE-----");
    second[40] = second[40] == 'A' ? 'B' : 'A';   /* flip one base64 char of the DER */
    second[41] = '!';
    char *bad = tu_path(e->dir, "bad-bundle.pem");
    assert_int_equal(tu_write(bad, pem, len), 0);
    assert_int_equal(import(e, bad, CG_STORE_AUTO, false, &rep, &err), CG_ERR);
    assert_non_null(strstr(err, "bad-bundle.pem: line"));
    char *after = tu_fingerprint(e->stores);
    assert_string_equal(before, after);
    free(after);

    /* A write failing midway (crl/ is a file, not a folder): what was written is undone. */
    struct tu_pair r2 = tu_issue(CG_PKI_ROOT_CA, "Second Root", NULL);
    X509_CRL *crl = cg_pki_make_crl(r2.cert, r2.key, NULL, 0, 0, 0, 1, &err);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, r2.cert);
    PEM_write_bio_X509_CRL(bio, crl);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *mixed = tu_path(e->dir, "root-and-crl.pem");
    assert_int_equal(tu_write(mixed, data, (size_t)n), 0);
    BIO_free(bio);
    char *crl_dir = tu_path(e->stores, "crl");
    tu_rmtree(crl_dir);
    assert_int_equal(tu_write(crl_dir, "not a folder", 12), 0);
    free(before);
    before = tu_fingerprint(e->stores);
    assert_int_equal(import(e, mixed, CG_STORE_AUTO, false, &rep, &err), CG_ERR);
    after = tu_fingerprint(e->stores);
    assert_string_equal(before, after);
    assert_false(in_store(e, CG_STORE_ROOT, r2.cert));
    free(after);
    /* With crl/ a folder again, the same file imports: root and its CRL. */
    unlink(crl_dir);
    assert_int_equal(import(e, mixed, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.n_items, 2);
    assert_int_equal(rep.items[1].kind, CG_STORE_CRL);
    cg_store_import_report_free(&rep);

    /* No temp file anywhere. */
    char *fp = tu_fingerprint(e->stores);
    assert_null(strstr(fp, ".tmp."));
    free(fp);

    X509_CRL_free(crl);
    tu_pair_free(&r2);
    free(crl_dir);
    free(mixed);
    free(before);
    free(bad);
    free(pem);
    free(two);
    free(bundle);
    free(err);
}

static void test_pkcs7_and_p12(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    char *err = NULL;

    /* A .p7b chain as Windows exports it. */
    PKCS7 *p7 = PKCS7_new();
    PKCS7_set_type(p7, NID_pkcs7_signed);
    PKCS7_content_new(p7, NID_pkcs7_data);
    PKCS7_add_certificate(p7, inter.cert);
    PKCS7_add_certificate(p7, root.cert);
    BIO *bio = BIO_new(BIO_s_mem());
    i2d_PKCS7_bio(bio, p7);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *p7b = tu_path(e->dir, "chain.p7b");
    assert_int_equal(tu_write(p7b, data, (size_t)n), 0);
    BIO_free(bio);
    PKCS7_free(p7);
    assert_int_equal(import(e, p7b, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.n_items, 2);
    cg_store_import_report_free(&rep);
    assert_true(in_store(e, CG_STORE_ROOT, root.cert));
    assert_true(in_store(e, CG_STORE_INTERMEDIATE, inter.cert));

    /* A CA's .p12 (with its key): certs imported, the key reported as skipped. */
    char *p12 = tu_path(e->dir, "ca.p12");
    assert_int_equal(cg_pki_write_p12(p12, "pw", inter.key, inter.cert, NULL, &err), CG_OK);
    struct cg_load_opts lo = {.password = "wrong"};
    struct cg_store_import_opts o = {.to = CG_STORE_AUTO, .load = &lo};
    assert_int_equal(cg_store_import(e->stores, p12, &o, &rep, &err), CG_ERR);
    assert_non_null(strstr(err, "wrong password"));
    lo.password = "pw";
    assert_int_equal(cg_store_import(e->stores, p12, &o, &rep, &err), CG_OK);
    assert_int_equal(rep.n_items, 2);
    assert_int_equal(rep.items[0].action, CG_STORE_ALREADY);
    assert_int_equal(rep.items[1].action, CG_STORE_SKIPPED);
    cg_store_import_report_free(&rep);
    free(p12);
    free(p7b);
    free(err);
}

static void test_crl_rules(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    char *err = NULL;
    time_t now = time(NULL);

    X509_CRL *c1 = cg_pki_make_crl(inter.cert, inter.key, NULL, 0, now - 7200, now + 86400, 1, &err);
    struct cg_pki_revoked r = {.cert = leaf.cert, .reason = 1};
    X509_CRL *c2 = cg_pki_make_crl(inter.cert, inter.key, &r, 1, now - 3600, now + 86400, 2, &err);
    X509_CRL *stale = cg_pki_make_crl(root.cert, root.key, NULL, 0, now - 10 * 86400, now - 86400, 7, &err);
    X509_CRL *forged = cg_pki_make_crl(other_root.cert, other_root.key, NULL, 0, 0, 0, 1, &err);
    char *p1 = write_crl(e, "c1.crl", c1), *p2 = write_crl(e, "c2.crl", c2),
         *ps = write_crl(e, "stale.crl", stale), *pf = write_crl(e, "forged.crl", forged);

    /* Issuer not in the stores yet. */
    assert_int_equal(import(e, p1, CG_STORE_AUTO, false, &rep, &err), CG_DECLINED);
    assert_non_null(strstr(err, "issuer 'Store Intermediate' is not in root/ or intermediate/"));

    X509 *chain[] = {root.cert, inter.cert};
    char *cp = write_certs(e, "chain.pem", chain, 2);
    assert_int_equal(import(e, cp, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    cg_store_import_report_free(&rep);

    assert_int_equal(import(e, p1, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.items[0].kind, CG_STORE_CRL);
    assert_null(rep.items[0].warning);
    cg_store_import_report_free(&rep);

    /* A newer CRL supersedes the older one of the same issuer. */
    char *crl_dir = tu_path(e->stores, "crl");
    assert_int_equal(tu_count_files(crl_dir), 1);
    assert_int_equal(import(e, p2, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    cg_store_import_report_free(&rep);
    assert_int_equal(tu_count_files(crl_dir), 1);
    struct cg_store_list l = {0};
    assert_int_equal(cg_store_list(e->stores, 0, &l, &err), CG_OK);
    bool seen = false;
    for (size_t i = 0; i < l.n; i++) {
        if (l.entries[i].kind == CG_STORE_CRL) {
            assert_int_equal(l.entries[i].crl_number, 2);
            assert_int_equal(l.entries[i].crl_entries, 1);
            seen = true;
        }
    }
    assert_true(seen);
    cg_store_list_free(&l);
    /* Going back to the older one is refused unless forced. */
    assert_int_equal(import(e, p1, CG_STORE_AUTO, false, &rep, &err), CG_DECLINED);
    assert_non_null(strstr(err, "older"));

    /* Right name, wrong key: the signature check catches it. */
    assert_int_equal(import(e, pf, CG_STORE_AUTO, false, &rep, &err), CG_DECLINED);
    assert_non_null(strstr(err, "signature does not verify"));

    /* A stale CRL imports, with a warning. */
    assert_int_equal(import(e, ps, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_non_null(rep.items[0].warning);
    assert_non_null(strstr(rep.items[0].warning, "nextUpdate"));
    cg_store_import_report_free(&rep);
    assert_int_equal(cg_store_list(e->stores, 0, &l, &err), CG_OK);
    size_t n_stale = 0;
    for (size_t i = 0; i < l.n; i++)
        n_stale += l.entries[i].kind == CG_STORE_CRL && l.entries[i].expired;
    assert_int_equal(n_stale, 1);
    cg_store_list_free(&l);

    /* --to crl with certificates in the file is a usage error. */
    assert_int_equal(import(e, cp, CG_STORE_CRL, false, &rep, &err), CG_ERR);

    X509_CRL_free(c1);
    X509_CRL_free(c2);
    X509_CRL_free(stale);
    X509_CRL_free(forged);
    free(crl_dir);
    free(cp);
    free(p1);
    free(p2);
    free(ps);
    free(pf);
    free(err);
}

static void test_odd_subjects_and_find(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    struct cg_store_list l = {0};
    char *err = NULL;
    static const unsigned char nul_cn[] = {'E', 'v', 'i', 'l', 0, 'C', 'A'};

    /* A root whose CN has an embedded NUL, and one with commas, quotes and UTF-8. */
    struct tu_pair odd = tu_issue(CG_PKI_ROOT_CA, "placeholder", NULL);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", V_ASN1_UTF8STRING, nul_cn, sizeof(nul_cn), -1, 0);
    X509_set_subject_name(odd.cert, n);
    X509_set_issuer_name(odd.cert, n);
    X509_sign(odd.cert, odd.key, EVP_sha256());
    X509_NAME_free(n);
    struct tu_pair utf = tu_issue(CG_PKI_ROOT_CA, "Zürich, \"Q\" + <CA> ☃", NULL);

    X509 *both[] = {odd.cert, utf.cert};
    char *p = write_certs(e, "odd.pem", both, 2);
    assert_int_equal(import(e, p, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.n_items, 2);
    assert_int_equal(rep.items[0].kind, CG_STORE_ROOT);
    assert_non_null(strstr(rep.items[0].subject, "Evil\\00CA"));
    cg_store_import_report_free(&rep);

    assert_int_equal(cg_store_list(e->stores, 0, &l, &err), CG_OK);
    assert_int_equal(l.n, 2);
    bool saw_nul = false, saw_utf = false;
    for (size_t i = 0; i < l.n; i++) {
        char *d = cg_store_display_name(X509_get_subject_name(l.entries[i].cert));
        saw_nul = saw_nul || strcmp(d, "Evil\\x00CA") == 0;
        saw_utf = saw_utf || strcmp(d, "Zürich, \"Q\" + <CA> ☃") == 0;
        if (strstr(l.entries[i].issued_to, "Z") != NULL)
            assert_non_null(strstr(l.entries[i].issued_to, "Zürich\\, \\\"Q\\\" \\+ \\<CA\\> ☃"));
        free(d);
    }
    assert_true(saw_nul);
    assert_true(saw_utf);

    /* find: unique prefix, none, malformed. */
    size_t idx = 99;
    char prefix[9];
    memcpy(prefix, l.entries[0].thumbprint, 8);
    prefix[8] = '\0';
    assert_int_equal(cg_store_find(&l, prefix, CG_STORE_AUTO, &idx, &err), CG_OK);
    assert_int_equal(idx, 0);
    for (char *c = prefix; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    assert_int_equal(cg_store_find(&l, prefix, CG_STORE_AUTO, &idx, &err), CG_OK);
    assert_int_equal(cg_store_find(&l, prefix, CG_STORE_INTERMEDIATE, &idx, &err), CG_DECLINED);
    assert_int_equal(cg_store_find(&l, "abc", CG_STORE_AUTO, &idx, &err), CG_ERR);
    assert_int_equal(cg_store_find(&l, "xyz1", CG_STORE_AUTO, &idx, &err), CG_ERR);
    cg_store_list_free(&l);

    /* Same certificate in two stores: a full thumbprint is ambiguous without --store. */
    char *u = write_certs(e, "utf.pem", &utf.cert, 1);
    assert_int_equal(import(e, u, CG_STORE_DISALLOWED, false, &rep, &err), CG_OK);
    cg_store_import_report_free(&rep);
    char thumb[65];
    cg_store_cert_thumbprint(utf.cert, thumb);
    assert_int_equal(cg_store_list(e->stores, 0, &l, &err), CG_OK);
    assert_int_equal(cg_store_find(&l, thumb, CG_STORE_AUTO, &idx, &err), CG_DECLINED);
    assert_non_null(strstr(err, "ambiguous"));
    assert_int_equal(cg_store_find(&l, thumb, CG_STORE_DISALLOWED, &idx, &err), CG_OK);
    assert_int_equal(l.entries[idx].kind, CG_STORE_DISALLOWED);
    assert_int_equal(cg_store_remove_entry(&l.entries[idx], &err), CG_OK);
    cg_store_list_free(&l);
    assert_false(in_store(e, CG_STORE_DISALLOWED, utf.cert));
    assert_true(in_store(e, CG_STORE_ROOT, utf.cert));

    /* An unreadable file in a store is listed with its problem, not fatal. */
    char *junk = tu_path(e->stores, "root/junk.pem");
    assert_int_equal(tu_write(junk, "garbage\n", 8), 0);
    assert_int_equal(cg_store_list(e->stores, 0, &l, &err), CG_OK);
    bool saw_problem = false;
    for (size_t i = 0; i < l.n; i++)
        saw_problem = saw_problem || (l.entries[i].problem != NULL &&
                                      strstr(l.entries[i].problem, "junk.pem") != NULL);
    assert_true(saw_problem);
    cg_store_list_free(&l);

    free(junk);
    free(u);
    free(p);
    free(err);
    tu_pair_free(&odd);
    tu_pair_free(&utf);
}

static void test_expired_ca_flagged(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    struct cg_store_list l = {0};
    char *err = NULL;
    time_t now = time(NULL);
    struct cg_pki_spec spec = {.profile = CG_PKI_ROOT_CA, .subject_cn = "Old Root", .path_len = -1,
                               .not_before = now - 100 * 86400, .not_after = now - 86400};
    EVP_PKEY *k = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    X509 *old = cg_pki_issue(&spec, k, NULL, k, &err);
    char *p = write_certs(e, "old.pem", &old, 1);
    assert_int_equal(import(e, p, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    cg_store_import_report_free(&rep);
    assert_int_equal(cg_store_list(e->stores, 0, &l, &err), CG_OK);
    assert_int_equal(l.n, 1);
    assert_true(l.entries[0].expired);
    assert_false(l.entries[0].not_self_signed_in_root);
    cg_store_list_free(&l);
    /* A missing stores dir is an error for list, naming it. */
    char *none = tu_path(e->dir, "nowhere");
    assert_int_equal(cg_store_list(none, 0, &l, &err), CG_ERR);
    assert_non_null(strstr(err, "nowhere"));
    free(none);
    free(p);
    free(err);
    X509_free(old);
    EVP_PKEY_free(k);
}

/* A chain of 100 certificates in one bundle: every CA goes to its store. */
static void test_long_chain_bundle(void **state)
{
    struct env *e = *state;
    struct cg_store_import_report rep = {0};
    struct tu_pair chain[100];
    X509 *certs[100];
    char *err = NULL;

    chain[0] = tu_issue(CG_PKI_ROOT_CA, "Deep Root", NULL);
    certs[0] = chain[0].cert;
    for (int i = 1; i < 100; i++) {
        char cn[32];
        snprintf(cn, sizeof(cn), "Deep CA %d", i);
        chain[i] = tu_issue(CG_PKI_INTERMEDIATE_CA, cn, &chain[i - 1]);
        certs[i] = chain[i].cert;
    }
    char *p = write_certs(e, "deep.pem", certs, 100);
    assert_int_equal(import(e, p, CG_STORE_AUTO, false, &rep, &err), CG_OK);
    assert_int_equal(rep.n_items, 100);
    cg_store_import_report_free(&rep);
    char *r = tu_path(e->stores, "root"), *i = tu_path(e->stores, "intermediate");
    assert_int_equal(tu_count_files(r), 1);
    assert_int_equal(tu_count_files(i), 99);
    free(r);
    free(i);
    free(p);
    free(err);
    for (int k = 0; k < 100; k++)
        tu_pair_free(&chain[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_classification, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_refusals_and_force, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_atomic_bundles, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_pkcs7_and_p12, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_crl_rules, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_odd_subjects_and_find, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_expired_ca_flagged, env_setup, env_teardown),
        cmocka_unit_test_setup_teardown(test_long_chain_bundle, env_setup, env_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

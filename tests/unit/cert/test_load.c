/* The loader: every format it reads, and a specific error for every bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>

#include "cert/load.h"
#include "cert/pki.h"
#include "core/common.h"
#include "testutil.h"

static struct tu_pair root, inter, leaf;
static X509_CRL *crl;
static char *dir;

static int setup(void **state)
{
    (void)state;
    root = tu_issue(CG_PKI_ROOT_CA, "Load Root", NULL);
    inter = tu_issue(CG_PKI_INTERMEDIATE_CA, "Load Intermediate", &root);
    leaf = tu_issue(CG_PKI_CLIENT, "load leaf", &inter);
    crl = cg_pki_make_crl(inter.cert, inter.key, NULL, 0, 0, 0, 1, NULL);
    dir = tu_mkdtemp("load");
    return crl != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_pair_free(&leaf);
    tu_pair_free(&inter);
    tu_pair_free(&root);
    X509_CRL_free(crl);
    tu_rmtree(dir);
    free(dir);
    return 0;
}

/* A growable byte buffer built with a memory BIO. */
struct buf {
    unsigned char *data;
    size_t len;
};

static struct buf from_bio(BIO *bio)
{
    char *p = NULL;
    long n = BIO_get_mem_data(bio, &p);
    struct buf b = {malloc((size_t)n + 1), (size_t)n};
    memcpy(b.data, p, (size_t)n);
    b.data[n] = 0;
    BIO_free(bio);
    return b;
}

static struct buf pem_cert(X509 *c)
{
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, c);
    return from_bio(bio);
}

static struct buf der_cert(X509 *c)
{
    BIO *bio = BIO_new(BIO_s_mem());
    i2d_X509_bio(bio, c);
    return from_bio(bio);
}

static struct buf p7(bool pem)
{
    PKCS7 *p = PKCS7_new();
    PKCS7_set_type(p, NID_pkcs7_signed);
    PKCS7_content_new(p, NID_pkcs7_data);
    PKCS7_add_certificate(p, leaf.cert);
    PKCS7_add_certificate(p, inter.cert);
    PKCS7_add_crl(p, crl);
    BIO *bio = BIO_new(BIO_s_mem());
    if (pem)
        PEM_write_bio_PKCS7(bio, p);
    else
        i2d_PKCS7_bio(bio, p);
    PKCS7_free(p);
    return from_bio(bio);
}

static struct buf p12(const char *password)
{
    STACK_OF(X509) *ca = sk_X509_new_null();
    sk_X509_push(ca, inter.cert);
    PKCS12 *p = PKCS12_create(password, "leaf", leaf.key, leaf.cert, ca, 0, 0, 0, 0, 0);
    sk_X509_free(ca);
    BIO *bio = BIO_new(BIO_s_mem());
    i2d_PKCS12_bio(bio, p);
    PKCS12_free(p);
    return from_bio(bio);
}

static int load(const struct buf *b, const struct cg_load_opts *o, struct cg_loaded *l,
                char **err)
{
    return cg_load_mem("test.bin", b->data, b->len, o, l, err);
}

/* Expects a failure whose message names the input and contains `want`. */
static void expect_error(const void *data, size_t len, const struct cg_load_opts *o,
                         const char *want)
{
    struct cg_loaded l = {0};
    char *err = NULL;
    assert_int_equal(cg_load_mem("bad.pem", data, len, o, &l, &err), CG_ERR);
    assert_non_null(err);
    if (strstr(err, "bad.pem: ") != err || strstr(err, want) == NULL)
        fail_msg("error '%s' lacks 'bad.pem: ' or '%s'", err, want);
    assert_null(l.certs);
    assert_null(l.crls);
    assert_null(l.key);
    free(err);
}

static void test_pem_and_bundle(void **state)
{
    (void)state;
    struct buf a = pem_cert(leaf.cert), b = pem_cert(inter.cert);
    struct cg_loaded l = {0};
    char *err = NULL;

    assert_int_equal(load(&a, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 1);
    assert_int_equal(sk_X509_CRL_num(l.crls), 0);
    assert_null(l.key);
    cg_loaded_free(&l);

    /* Bundle with text around the blocks (openssl x509 -text), CRLF line ends. */
    size_t n = a.len + b.len + 200;
    char *bundle = malloc(n * 2);
    snprintf(bundle, n, "Certificate:\n  Subject: load leaf\n%s\nsome note\n%s", a.data, b.data);
    char *crlf = malloc(n * 2);
    size_t o = 0;
    for (const char *p = bundle; *p; p++) {
        if (*p == '\n')
            crlf[o++] = '\r';
        crlf[o++] = *p;
    }
    struct buf bb = {(unsigned char *)crlf, o};
    assert_int_equal(load(&bb, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 2);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 0), leaf.cert), 0);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 1), inter.cert), 0);
    cg_loaded_free(&l);

    /* A UTF-8 BOM in front (Notepad). */
    char *bom = malloc(a.len + 4);
    memcpy(bom, "\xEF\xBB\xBF", 3);
    memcpy(bom + 3, a.data, a.len);
    assert_int_equal(cg_load_mem("bom.pem", (unsigned char *)bom, a.len + 3, NULL, &l, &err), CG_OK);
    cg_loaded_free(&l);
    free(bom);
    free(bundle);
    free(crlf);
    free(a.data);
    free(b.data);
    free(err);
}

static void test_der_cert_and_concatenated(void **state)
{
    (void)state;
    struct buf a = der_cert(leaf.cert), b = der_cert(inter.cert);
    struct cg_loaded l = {0};
    char *err = NULL;

    assert_int_equal(load(&a, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 1);
    cg_loaded_free(&l);

    unsigned char *cat = malloc(a.len + b.len + 2);
    memcpy(cat, a.data, a.len);
    memcpy(cat + a.len, b.data, b.len);
    memcpy(cat + a.len + b.len, "\r\n", 2);   /* trailing line end: tolerated */
    assert_int_equal(cg_load_mem("cat.der", cat, a.len + b.len + 2, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 2);
    cg_loaded_free(&l);
    free(cat);
    free(a.data);
    free(b.data);
    free(err);
}

static void test_crl_pem_and_der(void **state)
{
    (void)state;
    struct cg_loaded l = {0};
    char *err = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509_CRL(bio, crl);
    struct buf pem = from_bio(bio);
    bio = BIO_new(BIO_s_mem());
    i2d_X509_CRL_bio(bio, crl);
    struct buf der = from_bio(bio);

    assert_int_equal(load(&pem, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_CRL_num(l.crls), 1);
    assert_int_equal(sk_X509_num(l.certs), 0);
    cg_loaded_free(&l);
    assert_int_equal(load(&der, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_CRL_num(l.crls), 1);
    assert_int_equal(X509_CRL_cmp(sk_X509_CRL_value(l.crls, 0), crl), 0);
    cg_loaded_free(&l);
    free(pem.data);
    free(der.data);
    free(err);
}

static void test_pkcs7(void **state)
{
    (void)state;
    struct cg_loaded l = {0};
    char *err = NULL;
    struct buf der = p7(false), pem = p7(true);

    assert_int_equal(load(&der, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 2);
    assert_int_equal(sk_X509_CRL_num(l.crls), 1);
    cg_loaded_free(&l);
    assert_int_equal(load(&pem, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 2);
    assert_int_equal(sk_X509_CRL_num(l.crls), 1);
    cg_loaded_free(&l);
    free(der.data);
    free(pem.data);
    free(err);
}

static void test_pkcs12_passwords(void **state)
{
    (void)state;
    struct cg_loaded l = {0};
    struct buf b = p12("s3cret"), empty = p12("");
    struct cg_load_opts good = {.password = "s3cret"}, wrong = {.password = "nope"};
    char *err = NULL;

    assert_int_equal(load(&b, &good, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 2);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 0), leaf.cert), 0);
    assert_int_equal(EVP_PKEY_eq(l.key, leaf.key), 1);
    cg_loaded_free(&l);

    expect_error(b.data, b.len, &wrong, "wrong password");
    expect_error(b.data, b.len, NULL, "no password was given");
    /* An empty password works without being asked for. */
    assert_int_equal(load(&empty, NULL, &l, &err), CG_OK);
    assert_non_null(l.key);
    cg_loaded_free(&l);
    free(b.data);
    free(empty.data);
    free(err);
}

static void test_base64_without_armour(void **state)
{
    (void)state;
    struct buf d = der_cert(leaf.cert);
    struct cg_loaded l = {0};
    char *err = NULL;
    BIO *b64 = BIO_new(BIO_f_base64()), *mem = BIO_new(BIO_s_mem());
    b64 = BIO_push(b64, mem);
    BIO_write(b64, d.data, (int)d.len);
    (void)BIO_flush(b64);
    BIO_pop(b64);
    BIO_free(b64);
    struct buf text = from_bio(mem);   /* 64-column lines, like a Windows .cer */

    assert_int_equal(load(&text, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 1);
    assert_int_equal(X509_cmp(sk_X509_value(l.certs, 0), leaf.cert), 0);
    cg_loaded_free(&l);

    /* Base64 of something that is not DER. */
    expect_error("aGVsbG8gd29ybGQ=\n", 17, NULL, "does not decode to a certificate");
    /* Base64 cut in the middle of a quantum. */
    expect_error("MIIB", 4, NULL, "truncated");
    free(d.data);
    free(text.data);
    free(err);
}

static void test_mixed_pem_with_keys(void **state)
{
    (void)state;
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, leaf.cert);
    PEM_write_bio_X509_CRL(bio, crl);
    PEM_write_bio_PrivateKey(bio, leaf.key, NULL, NULL, 0, NULL, NULL);
    BIO_puts(bio, "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n");
    struct buf mixed = from_bio(bio);
    struct cg_loaded l = {0};
    char *err = NULL;

    assert_int_equal(load(&mixed, NULL, &l, &err), CG_OK);
    assert_int_equal(sk_X509_num(l.certs), 1);
    assert_int_equal(sk_X509_CRL_num(l.crls), 1);
    assert_int_equal(EVP_PKEY_eq(l.key, leaf.key), 1);
    cg_loaded_free(&l);

    /* Encrypted key (PKCS#8): right, wrong, missing password. */
    bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PKCS8PrivateKey(bio, leaf.key, EVP_aes_256_cbc(), NULL, 0, NULL, "kpw");
    struct buf enc = from_bio(bio);
    struct cg_load_opts good = {.password = "kpw"}, wrong = {.password = "x"};
    assert_int_equal(load(&enc, &good, &l, &err), CG_OK);
    assert_int_equal(EVP_PKEY_eq(l.key, leaf.key), 1);
    cg_loaded_free(&l);
    expect_error(enc.data, enc.len, &wrong, "line 1: wrong password for the private key");
    expect_error(enc.data, enc.len, NULL, "encrypted and no password");

    /* Two keys: which one? Refused. */
    size_t n2 = mixed.len * 2;
    unsigned char *two = malloc(n2);
    memcpy(two, mixed.data, mixed.len);
    memcpy(two + mixed.len, mixed.data, mixed.len);
    expect_error(two, n2, NULL, "more than one private key");
    free(two);
    free(enc.data);
    free(mixed.data);
    free(err);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    struct buf pem = pem_cert(leaf.cert), der = der_cert(leaf.cert);

    expect_error("", 0, NULL, "empty file");
    expect_error(" \n\r\n\t", 5, NULL, "empty file");
    /* PEM cut before its END line. */
    expect_error(pem.data, pem.len / 2, NULL, "line 1: the CERTIFICATE block has no END line");
    /* PEM whose body lost a chunk in the middle: base64 fine, DER broken. */
    {
        char *cut = strdup((char *)pem.data);
        char *l3 = strchr(strchr(cut, '\n') + 1, '\n') + 1;   /* drop line 3 whole */
        char *l4 = strchr(l3, '\n') + 1;
        memmove(l3, l4, strlen(l4) + 1);
        expect_error(cut, strlen(cut), NULL, "does not decode (truncated or corrupt)");
        free(cut);
    }
    /* Bad base64 character, reported at its line. */
    {
        char *bad = strdup((char *)pem.data);
        char *l3 = strchr(strchr(bad, '\n') + 1, '\n') + 1;
        l3[5] = '*';
        expect_error(bad, strlen(bad), NULL, "line 3: bad base64 in the CERTIFICATE block");
        free(bad);
    }
    /* BEGIN/END mismatch. */
    expect_error("-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n", 56, NULL,
                 "closed by END X509 CRL");
    expect_error("-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n", 44, NULL,
                 "unsupported PEM block 'FOO'");
    expect_error("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", 54, NULL,
                 "block is empty");
    /* DER cut short: the header promises more than there is. */
    expect_error(der.data, der.len - 10, NULL, "truncated: the DER object at byte 0 declares");
    expect_error(der.data, 1, NULL, "truncated or malformed DER header");
    /* DER garbage that is a SEQUENCE of nothing we know. */
    expect_error("\x30\x03\x02\x01\x05", 5, NULL, "DER data is not a certificate");
    /* DER followed by junk. */
    {
        unsigned char *j = malloc(der.len + 4);
        memcpy(j, der.data, der.len);
        memcpy(j + der.len, "junk", 4);
        expect_error(j, der.len + 4, NULL, "unexpected data at byte");
        free(j);
    }
    /* Text and binary garbage. */
    expect_error("hello, world!\n", 14, NULL, "unrecognised content");
    expect_error("\x00\x01\x02\xff\xfe", 5, NULL, "unrecognised content");
    /* Over the limit, checked before parsing. */
    struct cg_load_opts small = {.max_bytes = 100};
    expect_error(pem.data, pem.len, &small, "too large");
    /* A PEM of only ignorable blocks holds nothing. */
    expect_error("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 56, NULL,
                 "holds no certificate, CRL or private key");
    free(pem.data);
    free(der.data);
}

static void test_files(void **state)
{
    (void)state;
    struct cg_loaded l = {0};
    char *err = NULL;
    char *p = tu_path(dir, "c.pem"), *empty = tu_path(dir, "empty.cer"),
         *missing = tu_path(dir, "missing.cer"), *big = tu_path(dir, "big.pem"),
         *pw = tu_path(dir, "pw.txt");
    struct buf pem = pem_cert(leaf.cert);

    assert_int_equal(tu_write(p, pem.data, pem.len), 0);
    assert_int_equal(cg_load_file(p, NULL, &l, &err), CG_OK);
    cg_loaded_free(&l);

    assert_int_equal(tu_write(empty, "", 0), 0);
    assert_int_equal(cg_load_file(empty, NULL, &l, &err), CG_ERR);
    assert_non_null(strstr(err, "empty.cer: empty file"));
    assert_int_equal(cg_load_file(missing, NULL, &l, &err), CG_ERR);
    assert_non_null(strstr(err, "missing.cer: cannot open"));
    assert_int_equal(cg_load_file(dir, NULL, &l, &err), CG_ERR);
    assert_non_null(strstr(err, "is a directory"));

    /* Over the limit: refused from its size, not read. */
    FILE *f = fopen(big, "w");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), 2000), 0);
    fclose(f);
    struct cg_load_opts lim = {.max_bytes = 1000};
    assert_int_equal(cg_load_file(big, &lim, &l, &err), CG_ERR);
    assert_non_null(strstr(err, "big.pem: too large: 2000 bytes, over the limit of 1000 bytes"));

    assert_int_equal(tu_write(pw, "hunter2\r\nsecond line\n", 21), 0);
    char *pass = cg_load_password_file(pw, &err);
    assert_non_null(pass);
    assert_string_equal(pass, "hunter2");
    free(pass);
    assert_int_equal(tu_write(pw, "", 0), 0);
    pass = cg_load_password_file(pw, &err);
    assert_non_null(pass);
    assert_string_equal(pass, "");
    free(pass);
    assert_null(cg_load_password_file(missing, &err));
    assert_non_null(strstr(err, "missing.cer"));

    free(pem.data);
    free(p);
    free(empty);
    free(missing);
    free(big);
    free(pw);
    free(err);
}

/* Odd subjects: commas, quotes, UTF-8, an embedded NUL, survive a load. */
static void test_odd_subjects(void **state)
{
    (void)state;
    static const unsigned char nul_cn[] = {'e', 'v', 'i', 'l', 0, '.', 'c', 'o', 'm'};
    X509 *c = X509_dup(leaf.cert);
    X509_NAME *n = X509_NAME_new();
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"Müller, \"Jo\" ☃",
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(n, "OU", V_ASN1_UTF8STRING, nul_cn, sizeof(nul_cn), -1, 0);
    X509_set_subject_name(c, n);
    X509_sign(c, inter.key, EVP_sha256());
    struct buf b = pem_cert(c);
    struct cg_loaded l = {0};
    char *err = NULL;
    assert_int_equal(load(&b, NULL, &l, &err), CG_OK);
    assert_int_equal(X509_NAME_cmp(X509_get_subject_name(sk_X509_value(l.certs, 0)), n), 0);
    cg_loaded_free(&l);
    X509_NAME_free(n);
    X509_free(c);
    free(b.data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pem_and_bundle),
        cmocka_unit_test(test_der_cert_and_concatenated),
        cmocka_unit_test(test_crl_pem_and_der),
        cmocka_unit_test(test_pkcs7),
        cmocka_unit_test(test_pkcs12_passwords),
        cmocka_unit_test(test_base64_without_armour),
        cmocka_unit_test(test_mixed_pem_with_keys),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_odd_subjects),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

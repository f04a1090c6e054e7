/*
 * pki.c: the CA toolkit of pki.h. Extensions are built as ASN.1 objects
 * rather than from config strings where user text is involved (SANs), so a
 * name with a comma cannot turn into two names.
 */
#include "cert/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "cert/load.h"
#include "cert/store.h"
#include "core/common.h"

#define DAY (24L * 60 * 60)

/* Appends OpenSSL's first queued error, so messages say what OpenSSL saw. */
static int ssl_err(char **err, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    ERR_clear_error();
    if (e == 0)
        return cg_set_err(err, "%s", what);
    ERR_error_string_n(e, buf, sizeof(buf));
    return cg_set_err(err, "%s (%s)", what, buf);
}

EVP_PKEY *cg_pki_keygen(cg_pki_key_type_t type, char **err)
{
    EVP_PKEY *key = NULL;

    switch (type) {
    case CG_PKI_KEY_EC_P256:
        key = EVP_EC_gen("P-256");
        break;
    case CG_PKI_KEY_RSA_2048:
        key = EVP_RSA_gen(2048);
        break;
    default:
        cg_set_err(err, "unknown key type %d", (int)type);
        return NULL;
    }
    if (key == NULL)
        ssl_err(err, "key generation failed");
    return key;
}

/* A conf-string extension (used only for fixed strings and checked URLs). */
static int add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value, char **err)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int rc = CG_ERR;

    if (ext == NULL) {
        ssl_err(err, "cannot build extension");
        goto done;
    }
    if (!X509_add_ext(cert, ext, -1)) {
        ssl_err(err, "cannot add extension");
        goto done;
    }
    rc = CG_OK;
done:
    X509_EXTENSION_free(ext);
    return rc;
}

static int set_serial(X509 *cert, uint64_t serial, char **err)
{
    if (serial == 0) {
        unsigned char b[8];
        if (RAND_bytes(b, sizeof(b)) != 1)
            return ssl_err(err, "no randomness for the serial number");
        for (size_t i = 0; i < sizeof(b); i++)
            serial = (serial << 8) | b[i];
        /* Positive and non-zero, as RFC 5280 requires. */
        serial &= 0x7fffffffffffffffULL;
        if (serial == 0)
            serial = 1;
    }
    if (!ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial))
        return ssl_err(err, "cannot set the serial number");
    return CG_OK;
}

static int add_sans(X509 *cert, const struct cg_pki_spec *spec, char **err)
{
    GENERAL_NAMES *gens = NULL;
    GENERAL_NAME *gen = NULL;
    int rc = CG_ERR;

    if ((spec->dns_names == NULL || spec->dns_names[0] == NULL) &&
        (spec->ip_addrs == NULL || spec->ip_addrs[0] == NULL))
        return CG_OK;
    gens = sk_GENERAL_NAME_new_null();
    if (gens == NULL)
        goto oom;
    for (size_t i = 0; spec->dns_names != NULL && spec->dns_names[i] != NULL; i++) {
        ASN1_IA5STRING *s = ASN1_IA5STRING_new();
        const char *name = spec->dns_names[i];
        if (s == NULL || (gen = GENERAL_NAME_new()) == NULL) {
            ASN1_IA5STRING_free(s);
            goto oom;
        }
        if (*name == '\0' || !ASN1_STRING_set(s, name, (int)strlen(name))) {
            ASN1_IA5STRING_free(s);
            cg_set_err(err, "bad DNS name '%s'", name);
            goto done;
        }
        GENERAL_NAME_set0_value(gen, GEN_DNS, s);
        if (!sk_GENERAL_NAME_push(gens, gen))
            goto oom;
        gen = NULL;
    }
    for (size_t i = 0; spec->ip_addrs != NULL && spec->ip_addrs[i] != NULL; i++) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(spec->ip_addrs[i]);
        if (ip == NULL) {
            cg_set_err(err, "bad IP address '%s'", spec->ip_addrs[i]);
            goto done;
        }
        if ((gen = GENERAL_NAME_new()) == NULL) {
            ASN1_OCTET_STRING_free(ip);
            goto oom;
        }
        GENERAL_NAME_set0_value(gen, GEN_IPADD, ip);
        if (!sk_GENERAL_NAME_push(gens, gen))
            goto oom;
        gen = NULL;
    }
    if (!X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT)) {
        ssl_err(err, "cannot add subjectAltName");
        goto done;
    }
    rc = CG_OK;
    goto done;
oom:
    cg_set_err(err, "out of memory");
done:
    GENERAL_NAME_free(gen);
    GENERAL_NAMES_free(gens);
    return rc;
}

/* URLs go through a conf string: refuse what would split it. */
static int check_url(const char *url, char **err)
{
    if (url[0] == '\0' || strpbrk(url, ",\n\r") != NULL || strlen(url) > 2048)
        return cg_set_err(err, "bad URL '%s' (empty, too long, or has a comma or newline)", url);
    return CG_OK;
}

static int add_profile_exts(X509 *cert, X509V3_CTX *ctx, const struct cg_pki_spec *spec,
                            EVP_PKEY *subject_key, char **err)
{
    char buf[2200];
    bool ca = spec->profile == CG_PKI_ROOT_CA || spec->profile == CG_PKI_INTERMEDIATE_CA;
    bool rsa = EVP_PKEY_is_a(subject_key, "RSA");
    unsigned eku = spec->eku;

    if (ca) {
        if (spec->path_len >= 0)
            snprintf(buf, sizeof(buf), "critical,CA:TRUE,pathlen:%d", spec->path_len);
        else
            snprintf(buf, sizeof(buf), "critical,CA:TRUE");
        if (add_ext(cert, ctx, NID_basic_constraints, buf, err) != CG_OK ||
            add_ext(cert, ctx, NID_key_usage, "critical,digitalSignature,keyCertSign,cRLSign",
                    err) != CG_OK)
            return CG_ERR;
    } else {
        if (add_ext(cert, ctx, NID_basic_constraints, "critical,CA:FALSE", err) != CG_OK)
            return CG_ERR;
        /* keyEncipherment only means something for RSA key transport. */
        if (add_ext(cert, ctx, NID_key_usage,
                    spec->profile == CG_PKI_SERVER && rsa
                        ? "critical,digitalSignature,keyEncipherment"
                        : "critical,digitalSignature",
                    err) != CG_OK)
            return CG_ERR;
    }
    if (eku == 0) {
        if (spec->profile == CG_PKI_CLIENT)
            eku = CG_PKI_EKU_CLIENT_AUTH;
        else if (spec->profile == CG_PKI_SERVER)
            eku = CG_PKI_EKU_SERVER_AUTH;
    }
    if (eku != 0 && !(eku & CG_PKI_EKU_NONE)) {
        buf[0] = '\0';
        if (eku & CG_PKI_EKU_CLIENT_AUTH)
            strcat(buf, "clientAuth,");
        if (eku & CG_PKI_EKU_SERVER_AUTH)
            strcat(buf, "serverAuth,");
        if (eku & CG_PKI_EKU_OCSP_SIGN)
            strcat(buf, "OCSPSigning,");
        if (buf[0] == '\0')
            return cg_set_err(err, "unknown EKU bits 0x%x", eku);
        buf[strlen(buf) - 1] = '\0';
        if (add_ext(cert, ctx, NID_ext_key_usage, buf, err) != CG_OK)
            return CG_ERR;
    }
    /* SKI before AKI: for a root, AKI keyid is taken from its own SKI. */
    if (add_ext(cert, ctx, NID_subject_key_identifier, "hash", err) != CG_OK ||
        add_ext(cert, ctx, NID_authority_key_identifier, "keyid:always", err) != CG_OK)
        return CG_ERR;
    if (add_sans(cert, spec, err) != CG_OK)
        return CG_ERR;
    if (spec->crl_url != NULL) {
        if (check_url(spec->crl_url, err) != CG_OK)
            return CG_ERR;
        snprintf(buf, sizeof(buf), "URI:%s", spec->crl_url);
        if (add_ext(cert, ctx, NID_crl_distribution_points, buf, err) != CG_OK)
            return CG_ERR;
    }
    if (spec->ocsp_url != NULL) {
        if (check_url(spec->ocsp_url, err) != CG_OK)
            return CG_ERR;
        snprintf(buf, sizeof(buf), "OCSP;URI:%s", spec->ocsp_url);
        if (add_ext(cert, ctx, NID_info_access, buf, err) != CG_OK)
            return CG_ERR;
    }
    return CG_OK;
}

X509 *cg_pki_issue(const struct cg_pki_spec *spec, EVP_PKEY *subject_key, X509 *issuer,
                   EVP_PKEY *issuer_key, char **err)
{
    X509 *cert = NULL;
    X509_NAME *name = NULL;
    ASN1_TIME *tm = NULL;
    X509V3_CTX ctx;
    time_t nb, na;

    if (spec == NULL || subject_key == NULL || issuer_key == NULL) {
        cg_set_err(err, "cg_pki_issue: missing spec or key");
        goto fail;
    }
    if (spec->subject_cn == NULL || spec->subject_cn[0] == '\0') {
        cg_set_err(err, "a subject CN is required");
        goto fail;
    }
    if (spec->profile != CG_PKI_ROOT_CA && issuer == NULL) {
        cg_set_err(err, "only a root CA is self-signed: an issuer certificate is required");
        goto fail;
    }
    if (spec->profile == CG_PKI_ROOT_CA && issuer != NULL) {
        cg_set_err(err, "a root CA is self-signed: pass no issuer");
        goto fail;
    }
    if (issuer != NULL && X509_check_private_key(issuer, issuer_key) != 1) {
        ERR_clear_error();
        cg_set_err(err, "the issuer key does not match the issuer certificate");
        goto fail;
    }
    nb = spec->not_before != 0 ? spec->not_before : time(NULL) - 3600;
    na = spec->not_after != 0 ? spec->not_after : nb + 365 * DAY;
    if (na < nb) {
        cg_set_err(err, "not after is before not before");
        goto fail;
    }

    if ((cert = X509_new()) == NULL || (name = X509_NAME_new()) == NULL) {
        cg_set_err(err, "out of memory");
        goto fail;
    }
    if (!X509_set_version(cert, X509_VERSION_3) || set_serial(cert, spec->serial, err) != CG_OK)
        goto fail;
    if (spec->subject_o != NULL &&
        !X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
                                    (const unsigned char *)spec->subject_o, -1, -1, 0)) {
        ssl_err(err, "bad organisation name");
        goto fail;
    }
    if (!X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                    (const unsigned char *)spec->subject_cn, -1, -1, 0)) {
        ssl_err(err, "bad common name (at most 64 characters)");
        goto fail;
    }
    if (!X509_set_subject_name(cert, name) ||
        !X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name)) {
        ssl_err(err, "cannot set names");
        goto fail;
    }
    if ((tm = ASN1_TIME_set(NULL, nb)) == NULL || !X509_set1_notBefore(cert, tm)) {
        ssl_err(err, "cannot set not before");
        goto fail;
    }
    ASN1_TIME_free(tm);
    if ((tm = ASN1_TIME_set(NULL, na)) == NULL || !X509_set1_notAfter(cert, tm)) {
        ssl_err(err, "cannot set not after");
        goto fail;
    }
    if (!X509_set_pubkey(cert, subject_key)) {
        ssl_err(err, "cannot set the public key");
        goto fail;
    }
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
    if (add_profile_exts(cert, &ctx, spec, subject_key, err) != CG_OK)
        goto fail;
    if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
        ssl_err(err, "signing failed");
        goto fail;
    }
    ASN1_TIME_free(tm);
    X509_NAME_free(name);
    return cert;
fail:
    ASN1_TIME_free(tm);
    X509_NAME_free(name);
    X509_free(cert);
    return NULL;
}

static int add_revoked(X509_CRL *crl, const struct cg_pki_revoked *r, time_t this_update,
                       char **err)
{
    X509_REVOKED *rev = X509_REVOKED_new();
    ASN1_INTEGER *serial = NULL;
    ASN1_TIME *tm = NULL;
    ASN1_ENUMERATED *reason = NULL;
    int rc = CG_ERR;

    if (rev == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    if (r->cert != NULL) {
        serial = ASN1_INTEGER_dup(X509_get0_serialNumber(r->cert));
    } else if (r->serial != 0) {
        serial = ASN1_INTEGER_new();
        if (serial != NULL && !ASN1_INTEGER_set_uint64(serial, r->serial)) {
            ASN1_INTEGER_free(serial);
            serial = NULL;
        }
    } else {
        cg_set_err(err, "a revoked entry needs a serial or a certificate");
        goto done;
    }
    tm = ASN1_TIME_set(NULL, r->revoked_at != 0 ? r->revoked_at : this_update - 60);
    if (serial == NULL || tm == NULL || !X509_REVOKED_set_serialNumber(rev, serial) ||
        !X509_REVOKED_set_revocationDate(rev, tm)) {
        ssl_err(err, "cannot build a revoked entry");
        goto done;
    }
    if (r->reason >= 0) {
        /* 7 is unassigned in RFC 5280; 10 (aACompromise) is the highest. */
        if (r->reason > 10 || r->reason == 7) {
            cg_set_err(err, "bad CRL reason code %d", r->reason);
            goto done;
        }
        if ((reason = ASN1_ENUMERATED_new()) == NULL || !ASN1_ENUMERATED_set(reason, r->reason) ||
            !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, reason, 0, 0)) {
            ssl_err(err, "cannot set the revocation reason");
            goto done;
        }
    }
    if (!X509_CRL_add0_revoked(crl, rev)) {
        ssl_err(err, "cannot add a revoked entry");
        goto done;
    }
    rev = NULL;
    rc = CG_OK;
done:
    ASN1_ENUMERATED_free(reason);
    ASN1_TIME_free(tm);
    ASN1_INTEGER_free(serial);
    X509_REVOKED_free(rev);
    return rc;
}

X509_CRL *cg_pki_make_crl(X509 *issuer, EVP_PKEY *issuer_key,
                          const struct cg_pki_revoked *revoked, size_t n_revoked,
                          time_t this_update, time_t next_update, long crl_number, char **err)
{
    X509_CRL *crl = NULL;
    ASN1_TIME *tm = NULL;
    ASN1_INTEGER *num = NULL;
    X509_EXTENSION *aki = NULL;
    X509V3_CTX ctx;
    time_t now = time(NULL);

    if (issuer == NULL || issuer_key == NULL) {
        cg_set_err(err, "a CRL needs an issuer certificate and key");
        goto fail;
    }
    if (X509_check_private_key(issuer, issuer_key) != 1) {
        ERR_clear_error();
        cg_set_err(err, "the issuer key does not match the issuer certificate");
        goto fail;
    }
    if (this_update == 0)
        this_update = now - 3600;
    if (next_update == 0)
        next_update = this_update + 7 * DAY;
    if (next_update < this_update) {
        cg_set_err(err, "next update is before this update");
        goto fail;
    }
    if ((crl = X509_CRL_new()) == NULL) {
        cg_set_err(err, "out of memory");
        goto fail;
    }
    if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
        !X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer))) {
        ssl_err(err, "cannot set the CRL issuer");
        goto fail;
    }
    if ((tm = ASN1_TIME_set(NULL, this_update)) == NULL || !X509_CRL_set1_lastUpdate(crl, tm)) {
        ssl_err(err, "cannot set this update");
        goto fail;
    }
    ASN1_TIME_free(tm);
    if ((tm = ASN1_TIME_set(NULL, next_update)) == NULL || !X509_CRL_set1_nextUpdate(crl, tm)) {
        ssl_err(err, "cannot set next update");
        goto fail;
    }
    for (size_t i = 0; i < n_revoked; i++) {
        /* Default revocation date: just before the CRL that first lists it. */
        if (add_revoked(crl, &revoked[i], this_update, err) != CG_OK)
            goto fail;
    }
    if (crl_number >= 0) {
        if ((num = ASN1_INTEGER_new()) == NULL || !ASN1_INTEGER_set_int64(num, crl_number) ||
            !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0)) {
            ssl_err(err, "cannot set the CRL number");
            goto fail;
        }
    }
    X509V3_set_ctx(&ctx, issuer, NULL, NULL, crl, 0);
    if ((aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always")) ==
            NULL ||
        !X509_CRL_add_ext(crl, aki, -1)) {
        ssl_err(err, "cannot set the CRL authority key identifier");
        goto fail;
    }
    if (!X509_CRL_sort(crl) || X509_CRL_sign(crl, issuer_key, EVP_sha256()) <= 0) {
        ssl_err(err, "CRL signing failed");
        goto fail;
    }
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(tm);
    return crl;
fail:
    X509_EXTENSION_free(aki);
    ASN1_INTEGER_free(num);
    ASN1_TIME_free(tm);
    X509_CRL_free(crl);
    return NULL;
}

/* ---- writers ---------------------------------------------------------- */

int cg_pki_write_atomic(const char *path, const void *data, size_t len, unsigned mode,
                        char **err)
{
    char *tmp = NULL;
    int fd = -1, rc = CG_ERR;
    const unsigned char *p = data;

    if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0) {
        tmp = NULL;
        cg_set_err(err, "out of memory");
        goto done;
    }
    /* mkstemp creates 0600, so a key is never readable by others, even briefly. */
    fd = mkstemp(tmp);
    if (fd < 0) {
        cg_set_err(err, "%s: cannot create a temporary file: %s", path, strerror(errno));
        goto done;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cg_set_err(err, "%s: write failed: %s", path, strerror(errno));
            goto done;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || fsync(fd) != 0) {
        cg_set_err(err, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (close(fd) != 0) {
        fd = -1;
        cg_set_err(err, "%s: close failed: %s", path, strerror(errno));
        goto done;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        cg_set_err(err, "%s: cannot rename into place: %s", path, strerror(errno));
        goto done;
    }
    rc = CG_OK;
done:
    if (fd >= 0)
        close(fd);
    if (rc != CG_OK && tmp != NULL)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int write_bio(const char *path, BIO *bio, unsigned mode, char **err)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    if (len < 0)
        return cg_set_err(err, "%s: nothing to write", path);
    return cg_pki_write_atomic(path, data, (size_t)len, mode, err);
}

int cg_pki_write_cert_pem(const char *path, X509 *const *certs, size_t n, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = CG_ERR;

    if (bio == NULL || n == 0) {
        cg_set_err(err, "%s: no certificate to write", path);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (!PEM_write_bio_X509(bio, certs[i])) {
            ssl_err(err, "cannot encode a certificate");
            goto done;
        }
    }
    rc = write_bio(path, bio, 0644, err);
done:
    BIO_free(bio);
    return rc;
}

int cg_pki_write_key_pem(const char *path, EVP_PKEY *key, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = CG_ERR;

    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
        ssl_err(err, "cannot encode the private key");
        goto done;
    }
    rc = write_bio(path, bio, 0600, err);
done:
    BIO_free(bio);
    return rc;
}

int cg_pki_write_crl_pem(const char *path, X509_CRL *crl, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = CG_ERR;

    if (bio == NULL || !PEM_write_bio_X509_CRL(bio, crl)) {
        ssl_err(err, "cannot encode the CRL");
        goto done;
    }
    rc = write_bio(path, bio, 0644, err);
done:
    BIO_free(bio);
    return rc;
}

int cg_pki_write_cert_der(const char *path, X509 *cert, char **err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int rc = CG_ERR;

    if (bio == NULL || !i2d_X509_bio(bio, cert)) {
        ssl_err(err, "cannot encode the certificate");
        goto done;
    }
    rc = write_bio(path, bio, 0644, err);
done:
    BIO_free(bio);
    return rc;
}

int cg_pki_write_p12(const char *path, const char *password, EVP_PKEY *key, X509 *cert,
                     STACK_OF(X509) *ca, char **err)
{
    PKCS12 *p12 = NULL;
    BIO *bio = NULL;
    char friendly[256];
    int rc = CG_ERR;

    /* The friendly name is what a browser shows in its certificate picker. */
    if (X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, friendly,
                                  sizeof(friendly)) < 0)
        snprintf(friendly, sizeof(friendly), "certgate");
    /* Defaults of OpenSSL 3: AES-256-CBC, PBKDF2, SHA-256 MAC. */
    p12 = PKCS12_create(password, friendly, key, cert, ca, 0, 0, 0, 0, 0);
    if (p12 == NULL) {
        ssl_err(err, "cannot build the PKCS#12");
        goto done;
    }
    if ((bio = BIO_new(BIO_s_mem())) == NULL || !i2d_PKCS12_bio(bio, p12)) {
        ssl_err(err, "cannot encode the PKCS#12");
        goto done;
    }
    rc = write_bio(path, bio, 0600, err);
done:
    BIO_free(bio);
    PKCS12_free(p12);
    return rc;
}

/* ---- time parsing ----------------------------------------------------- */

int cg_pki_parse_time(const char *text, time_t now, time_t *out, char **err)
{
    struct tm tm;
    const char *end;
    char *e = NULL;

    if (text == NULL || *text == '\0')
        return cg_set_err(err, "empty time");
    if (strcmp(text, "now") == 0) {
        *out = now;
        return CG_OK;
    }
    if (text[0] == '@') {
        errno = 0;
        long long v = strtoll(text + 1, &e, 10);
        if (errno != 0 || e == text + 1 || *e != '\0')
            return cg_set_err(err, "bad time '%s': @ must be followed by seconds since 1970",
                              text);
        *out = (time_t)v;
        return CG_OK;
    }
    if (text[0] == '+' || text[0] == '-') {
        long long mult, v;
        errno = 0;
        v = strtoll(text + 1, &e, 10);
        if (errno != 0 || e == text + 1 || e[0] == '\0' || e[1] != '\0')
            goto rel_bad;
        switch (*e) {
        case 's': mult = 1; break;
        case 'm': mult = 60; break;
        case 'h': mult = 3600; break;
        case 'd': mult = DAY; break;
        default: goto rel_bad;
        }
        if (v > 1000000LL * 366 * DAY / mult)
            goto rel_bad;
        *out = now + (time_t)((text[0] == '-' ? -v : v) * mult);
        return CG_OK;
rel_bad:
        return cg_set_err(err, "bad relative time '%s' (expected e.g. +30d, -1d, +12h, -90m, +45s)",
                          text);
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(text, "%Y-%m-%d", &tm);
    if (end != NULL && (*end == 'T' || *end == ' ')) {
        end = strptime(end + 1, "%H:%M", &tm);
        if (end != NULL && *end == ':')
            end = strptime(end + 1, "%S", &tm);
    }
    if (end != NULL && (*end == 'Z' || *end == 'z'))
        end++;
    if (end == NULL || *end != '\0')
        return cg_set_err(err,
                          "bad time '%s' (expected ISO 8601 UTC like 2026-01-31T12:00:00Z, "
                          "@EPOCH, or +30d / -1d)",
                          text);
    *out = timegm(&tm);
    return CG_OK;
}

/* ---- the demo --------------------------------------------------------- */

struct demo_pair {
    X509 *cert;
    EVP_PKEY *key;
};

static void pair_free(struct demo_pair *p)
{
    X509_free(p->cert);
    EVP_PKEY_free(p->key);
    p->cert = NULL;
    p->key = NULL;
}

static int mkdir_p(const char *path, char **err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return cg_set_err(err, "bad directory path '%s'", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return cg_set_err(err, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return cg_set_err(err, "%s: cannot create directory: %s", buf, strerror(errno));
    return CG_OK;
}

static char *join(const char *dir, const char *name)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", dir, name) < 0)
        return NULL;
    return s;
}

static int demo_issue(struct demo_pair *out, const struct cg_pki_spec *spec,
                      const struct demo_pair *issuer, char **err)
{
    out->key = cg_pki_keygen(CG_PKI_KEY_EC_P256, err);
    if (out->key == NULL)
        return CG_ERR;
    out->cert = cg_pki_issue(spec, out->key, issuer ? issuer->cert : NULL,
                             issuer ? issuer->key : out->key, err);
    return out->cert != NULL ? CG_OK : CG_ERR;
}

/* Writes <dir>/<name>.pem (cert + chain) and <dir>/<name>.key. */
static int demo_write_pair(const char *dir, const char *name, const struct demo_pair *p,
                           X509 *const *chain, size_t n_chain, char **err)
{
    X509 *certs[4];
    char *path = NULL;
    int rc = CG_ERR;

    certs[0] = p->cert;
    for (size_t i = 0; i < n_chain && i < 3; i++)
        certs[i + 1] = chain[i];
    if (asprintf(&path, "%s/%s.pem", dir, name) < 0) {
        path = NULL;
        goto done;
    }
    if (cg_pki_write_cert_pem(path, certs, 1 + (n_chain < 3 ? n_chain : 3), err) != CG_OK)
        goto done;
    free(path);
    if (asprintf(&path, "%s/%s.key", dir, name) < 0) {
        path = NULL;
        goto done;
    }
    if (cg_pki_write_key_pem(path, p->key, err) != CG_OK)
        goto done;
    rc = CG_OK;
done:
    if (path == NULL && rc != CG_OK && err != NULL && *err == NULL)
        cg_set_err(err, "out of memory");
    free(path);
    return rc;
}

static int demo_write_client(const char *dir, const char *name, const struct demo_pair *p,
                             X509 *const *chain, size_t n_chain, char **err)
{
    STACK_OF(X509) *ca = NULL;
    char *path = NULL;
    int rc = CG_ERR;

    if (demo_write_pair(dir, name, p, chain, n_chain, err) != CG_OK)
        goto done;
    if ((ca = sk_X509_new_null()) == NULL)
        goto oom;
    for (size_t i = 0; i < n_chain; i++) {
        if (!sk_X509_push(ca, chain[i]))
            goto oom;
    }
    if (asprintf(&path, "%s/%s.p12", dir, name) < 0) {
        path = NULL;
        goto oom;
    }
    rc = cg_pki_write_p12(path, CG_PKI_DEMO_P12_PASSWORD, p->key, p->cert, ca, err);
    goto done;
oom:
    cg_set_err(err, "out of memory");
done:
    free(path);
    sk_X509_free(ca);   /* borrowed certs: the stack only */
    return rc;
}

enum demo_state { DEMO_REGENERATE, DEMO_CRLS_STALE, DEMO_CURRENT };

/* How current is the demo under dir at `now`? */
static enum demo_state demo_state(const char *dir, time_t now)
{
    static const char *const must_be_valid[] = {
        "ca/root.pem", "ca/intermediate.pem", "server/server.pem", "clients/valid.pem",
    };
    enum demo_state st = DEMO_REGENERATE;
    char *path = join(dir, ".certgate-demo");
    struct cg_store_list list = {0};

    if (path == NULL || access(path, F_OK) != 0)
        goto done;
    for (size_t i = 0; i < CG_ARRAY_LEN(must_be_valid); i++) {
        FILE *f;
        X509 *c;
        free(path);
        if ((path = join(dir, must_be_valid[i])) == NULL || (f = fopen(path, "r")) == NULL)
            goto done;
        c = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        ERR_clear_error();
        bool current = c != NULL && X509_cmp_time(X509_get0_notAfter(c), &now) > 0;
        X509_free(c);
        if (!current)
            goto done;
    }
    free(path);
    if ((path = join(dir, "stores")) == NULL || cg_store_list(path, now, &list, NULL) != CG_OK)
        goto done;
    size_t n_crl = 0;
    bool stale = false;
    for (size_t i = 0; i < list.n; i++) {
        const struct cg_store_entry *e = &list.entries[i];
        if (e->problem != NULL || (e->cert != NULL && e->expired))
            goto done;
        if (e->kind == CG_STORE_CRL) {
            n_crl++;
            stale = stale || e->expired;
        }
    }
    if (n_crl == 2)
        st = stale ? DEMO_CRLS_STALE : DEMO_CURRENT;
done:
    cg_store_list_free(&list);
    free(path);
    return st;
}

static int demo_load_pair(const char *dir, const char *name, struct demo_pair *p, char **err)
{
    char *path = NULL;
    struct cg_loaded l = {0};
    int rc = CG_ERR;

    if (asprintf(&path, "%s/%s.pem", dir, name) < 0) {
        path = NULL;
        return cg_set_err(err, "out of memory");
    }
    if (cg_load_file(path, NULL, &l, err) != CG_OK || sk_X509_num(l.certs) == 0)
        goto done;
    p->cert = sk_X509_value(l.certs, 0);
    X509_up_ref(p->cert);
    cg_loaded_free(&l);
    free(path);
    if (asprintf(&path, "%s/%s.key", dir, name) < 0) {
        path = NULL;
        cg_set_err(err, "out of memory");
        goto done;
    }
    if (access(path, F_OK) == 0) {
        if (cg_load_file(path, NULL, &l, err) != CG_OK || l.key == NULL)
            goto done;
        p->key = l.key;
        l.key = NULL;
    }
    rc = CG_OK;
done:
    if (rc != CG_OK && err != NULL && *err == NULL)
        cg_set_err(err, "%s: unreadable", path != NULL ? path : name);
    cg_loaded_free(&l);
    free(path);
    return rc;
}

/* Reissues both demo CRLs with the next numbers; the old ones go once the new are in. */
static int demo_refresh_crls(const char *dir, time_t now, char **err)
{
    struct demo_pair root = {0}, inter = {0}, revoked = {0};
    struct cg_store_list list = {0};
    X509_CRL *crl = NULL;
    char *ca = join(dir, "ca"), *clients = join(dir, "clients"), *stores = join(dir, "stores");
    long next = 1;
    int rc = CG_ERR;

    if (ca == NULL || clients == NULL || stores == NULL) {
        cg_set_err(err, "out of memory");
        goto done;
    }
    if (demo_load_pair(ca, "root", &root, err) != CG_OK ||
        demo_load_pair(ca, "intermediate", &inter, err) != CG_OK ||
        demo_load_pair(clients, "revoked", &revoked, err) != CG_OK ||
        cg_store_list(stores, now, &list, err) != CG_OK)
        goto done;
    if (root.key == NULL || inter.key == NULL) {
        cg_set_err(err, "%s: the demo CA keys are missing", ca);
        goto done;
    }
    for (size_t i = 0; i < list.n; i++) {
        if (list.entries[i].kind == CG_STORE_CRL && list.entries[i].crl_number >= next)
            next = list.entries[i].crl_number + 1;
    }
    struct cg_pki_revoked r = {.cert = revoked.cert, .reason = 1};
    if ((crl = cg_pki_make_crl(inter.cert, inter.key, &r, 1, 0, now + 30 * DAY, next, err)) ==
            NULL ||
        cg_store_put_crl(stores, crl, NULL, err) != CG_OK)
        goto done;
    X509_CRL_free(crl);
    if ((crl = cg_pki_make_crl(root.cert, root.key, NULL, 0, 0, now + 30 * DAY, next, err)) ==
            NULL ||
        cg_store_put_crl(stores, crl, NULL, err) != CG_OK)
        goto done;
    for (size_t i = 0; i < list.n; i++) {
        if (list.entries[i].kind == CG_STORE_CRL)
            cg_store_remove_entry(&list.entries[i], NULL);
    }
    rc = CG_OK;
done:
    X509_CRL_free(crl);
    cg_store_list_free(&list);
    pair_free(&root);
    pair_free(&inter);
    pair_free(&revoked);
    free(ca);
    free(clients);
    free(stores);
    return rc;
}

/* Removes what a previous demo wrote, so a regenerated one holds no stale file. */
static void demo_clean_store(const char *dir)
{
    struct cg_store_list list = {0};
    char *path = join(dir, "stores");

    if (path != NULL && cg_store_list(path, time(NULL), &list, NULL) == CG_OK) {
        for (size_t i = 0; i < list.n; i++)
            cg_store_remove_entry(&list.entries[i], NULL);
    }
    cg_store_list_free(&list);
    free(path);
}

int cg_pki_demo(const char *dir, char **err)
{
    return cg_pki_demo_ex(dir, false, NULL, err);
}

int cg_pki_demo_ex(const char *dir, bool force, cg_pki_demo_result_t *result, char **err)
{
    enum { ROOT, INTER, OTHER, UNLISTED, SERVER, N_CA };
    struct demo_pair ca[N_CA] = {{0}};
    struct demo_pair client = {0};
    X509_CRL *crl = NULL;
    char *sub = NULL, *stores = NULL, *revoked_path = NULL;
    time_t now = time(NULL);
    int rc = CG_ERR;
    static const char *const dns[] = {"localhost", NULL};
    static const char *const ips[] = {"127.0.0.1", "::1", NULL};

    if (result != NULL)
        *result = CG_PKI_DEMO_KEPT;
    if (dir == NULL || *dir == '\0')
        return cg_set_err(err, "no demo directory given");
    if (!force) {
        enum demo_state st = demo_state(dir, now);
        if (st == DEMO_CURRENT)
            return CG_OK;
        /* If the refresh fails, a full regeneration below still gives a working demo. */
        if (st == DEMO_CRLS_STALE && demo_refresh_crls(dir, now, NULL) == CG_OK) {
            if (result != NULL)
                *result = CG_PKI_DEMO_CRLS_REFRESHED;
            return CG_OK;
        }
    }

    if (mkdir_p(dir, err) != CG_OK)
        goto done;
    sub = join(dir, ".certgate-demo");
    if (sub == NULL)
        goto oom;
    unlink(sub);   /* incomplete until written again at the end */
    demo_clean_store(dir);
    static const char *const subdirs[] = {"ca", "server", "clients", "stores/root",
                                          "stores/intermediate", "stores/disallowed",
                                          "stores/crl"};
    for (size_t i = 0; i < CG_ARRAY_LEN(subdirs); i++) {
        free(sub);
        if ((sub = join(dir, subdirs[i])) == NULL)
            goto oom;
        if (mkdir_p(sub, err) != CG_OK)
            goto done;
    }

    /* CAs start well in the past so the expired client still chains inside them. */
    struct cg_pki_spec spec = {.profile = CG_PKI_ROOT_CA, .subject_o = "certgate demo",
                               .path_len = -1};
    spec.subject_cn = "certgate Demo Root CA";
    spec.not_before = now - 2 * 365 * DAY;
    spec.not_after = now + 10 * 365 * DAY;
    if (demo_issue(&ca[ROOT], &spec, NULL, err) != CG_OK)
        goto done;
    spec.subject_cn = "certgate Demo Other Root CA";
    if (demo_issue(&ca[OTHER], &spec, NULL, err) != CG_OK)
        goto done;
    spec.profile = CG_PKI_INTERMEDIATE_CA;
    spec.path_len = 0;
    spec.not_before = now - 365 * DAY;
    spec.not_after = now + 5 * 365 * DAY;
    spec.subject_cn = "certgate Demo Intermediate CA";
    if (demo_issue(&ca[INTER], &spec, &ca[ROOT], err) != CG_OK)
        goto done;
    spec.subject_cn = "certgate Demo Unlisted Intermediate CA";
    if (demo_issue(&ca[UNLISTED], &spec, &ca[ROOT], err) != CG_OK)
        goto done;
    spec = (struct cg_pki_spec){.profile = CG_PKI_SERVER, .subject_cn = "localhost",
                                .subject_o = "certgate demo", .dns_names = dns, .ip_addrs = ips,
                                .not_after = now + 365 * DAY};
    if (demo_issue(&ca[SERVER], &spec, &ca[INTER], err) != CG_OK)
        goto done;

    free(sub);
    if ((sub = join(dir, "ca")) == NULL)
        goto oom;
    if (demo_write_pair(sub, "root", &ca[ROOT], NULL, 0, err) != CG_OK ||
        demo_write_pair(sub, "intermediate", &ca[INTER], NULL, 0, err) != CG_OK ||
        demo_write_pair(sub, "other-root", &ca[OTHER], NULL, 0, err) != CG_OK ||
        demo_write_pair(sub, "unlisted-intermediate", &ca[UNLISTED], NULL, 0, err) != CG_OK)
        goto done;
    free(sub);
    if ((sub = join(dir, "server")) == NULL)
        goto oom;
    if (demo_write_pair(sub, "server", &ca[SERVER], &ca[INTER].cert, 1, err) != CG_OK)
        goto done;

    /* The clients, each as a browser would send it: leaf + the chain it holds. */
    struct {
        const char *name;
        int issuer;
        long nb_days, na_days;
        unsigned eku;
    } cases[] = {
        {"valid", INTER, 0, 365, 0},
        {"expired", INTER, -90, -30, 0},
        {"not-yet-valid", INTER, 30, 395, 0},
        {"revoked", INTER, 0, 365, 0},
        {"untrusted", OTHER, 0, 365, 0},
        {"wrong-usage", INTER, 0, 365, CG_PKI_EKU_SERVER_AUTH},
        {"incomplete-chain", UNLISTED, 0, 365, 0},
    };
    free(sub);
    if ((sub = join(dir, "clients")) == NULL)
        goto oom;
    for (size_t i = 0; i < CG_ARRAY_LEN(cases); i++) {
        char cn[64];
        snprintf(cn, sizeof(cn), "demo client %s", cases[i].name);
        spec = (struct cg_pki_spec){.profile = CG_PKI_CLIENT, .subject_cn = cn,
                                    .subject_o = "certgate demo", .eku = cases[i].eku};
        if (cases[i].issuer == INTER) {   /* where the demo answers for its intermediate */
            spec.crl_url = CG_PKI_DEMO_CRL_URL;
            spec.ocsp_url = CG_PKI_DEMO_OCSP_URL;
        }
        spec.not_before = now + cases[i].nb_days * DAY - 3600;
        spec.not_after = now + cases[i].na_days * DAY;
        if (demo_issue(&client, &spec, &ca[cases[i].issuer], err) != CG_OK)
            goto done;
        /* incomplete-chain: the point is that its issuer is nowhere to be found. */
        size_t n_chain = cases[i].issuer == UNLISTED ? 0 : 1;
        if (demo_write_client(sub, cases[i].name, &client, &ca[cases[i].issuer].cert, n_chain,
                              err) != CG_OK)
            goto done;
        if (strcmp(cases[i].name, "revoked") == 0) {
            struct cg_pki_revoked r = {.cert = client.cert, .reason = 1 /* keyCompromise */};
            crl = cg_pki_make_crl(ca[INTER].cert, ca[INTER].key, &r, 1, 0, now + 30 * DAY, 1,
                                  err);
            if (crl == NULL)
                goto done;
        }
        pair_free(&client);
    }

    if ((stores = join(dir, "stores")) == NULL)
        goto oom;
    if (cg_store_put_cert(stores, CG_STORE_ROOT, ca[ROOT].cert, NULL, err) != CG_OK ||
        cg_store_put_cert(stores, CG_STORE_INTERMEDIATE, ca[INTER].cert, NULL, err) != CG_OK ||
        cg_store_put_crl(stores, crl, NULL, err) != CG_OK)
        goto done;
    X509_CRL_free(crl);
    crl = cg_pki_make_crl(ca[ROOT].cert, ca[ROOT].key, NULL, 0, 0, now + 30 * DAY, 1, err);
    if (crl == NULL || cg_store_put_crl(stores, crl, NULL, err) != CG_OK)
        goto done;
    free(sub);
    if ((sub = join(dir, ".certgate-demo")) == NULL)
        goto oom;
    if (cg_pki_write_atomic(sub, "certgate demo PKI\n", 18, 0644, err) != CG_OK)
        goto done;
    if (result != NULL)
        *result = CG_PKI_DEMO_CREATED;
    rc = CG_OK;
    goto done;
oom:
    cg_set_err(err, "out of memory");
done:
    for (size_t i = 0; i < N_CA; i++)
        pair_free(&ca[i]);
    pair_free(&client);
    X509_CRL_free(crl);
    free(revoked_path);
    free(stores);
    free(sub);
    return rc;
}

/*
 * load.c: format detection and loading (load.h).
 *
 * Detection, from the content only:
 *   - starts with a DER SEQUENCE (0x30): one or more concatenated DER objects,
 *     each tried as certificate, CRL, PKCS#7, PKCS#12, private key;
 *   - has a "-----BEGIN " line: PEM, scanned here (not by PEM_read_bio) so an
 *     error can say which line and which block is broken;
 *   - only Base64 characters and white space: Base64 without armour (a .cer
 *     saved as "Base-64 encoded X.509" with its header lines removed), decoded
 *     and then treated as DER.
 * Anything else is "not a certificate, CRL, key, PKCS#7 or PKCS#12".
 */
#include "cert/load.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "core/common.h"

/* Base64 lines and PEM labels are short; a longer line is not what we read. */
#define PEM_LABEL_MAX 64
#define PASSWORD_FILE_MAX 4096

struct loader {
    const char *name;
    const struct cg_load_opts *opts;
    struct cg_loaded *out;
    char **err;
};

static const char *password_of(const struct loader *ld)
{
    return ld->opts != NULL ? ld->opts->password : NULL;
}

/* ---- collecting ------------------------------------------------------ */

static int take_cert(struct loader *ld, X509 *cert)
{
    if (!sk_X509_push(ld->out->certs, cert)) {
        X509_free(cert);
        return cg_set_err(ld->err, "%s: out of memory", ld->name);
    }
    return CG_OK;
}

static int take_crl(struct loader *ld, X509_CRL *crl)
{
    if (!sk_X509_CRL_push(ld->out->crls, crl)) {
        X509_CRL_free(crl);
        return cg_set_err(ld->err, "%s: out of memory", ld->name);
    }
    return CG_OK;
}

static int take_key(struct loader *ld, EVP_PKEY *key)
{
    /* Two keys in one file leave "which one?" unanswerable: refuse. */
    if (ld->out->key != NULL) {
        EVP_PKEY_free(key);
        return cg_set_err(ld->err, "%s: holds more than one private key", ld->name);
    }
    ld->out->key = key;
    return CG_OK;
}

static int take_pkcs7(struct loader *ld, PKCS7 *p7)
{
    STACK_OF(X509) *certs = NULL;
    STACK_OF(X509_CRL) *crls = NULL;
    int rc = CG_OK;

    switch (OBJ_obj2nid(p7->type)) {
    case NID_pkcs7_signed:
        if (p7->d.sign != NULL) {
            certs = p7->d.sign->cert;
            crls = p7->d.sign->crl;
        }
        break;
    case NID_pkcs7_signedAndEnveloped:
        if (p7->d.signed_and_enveloped != NULL) {
            certs = p7->d.signed_and_enveloped->cert;
            crls = p7->d.signed_and_enveloped->crl;
        }
        break;
    default:
        rc = cg_set_err(ld->err, "%s: PKCS#7 of a kind that carries no certificates", ld->name);
        goto done;
    }
    for (int i = 0; i < sk_X509_num(certs) && rc == CG_OK; i++) {
        X509 *c = sk_X509_value(certs, i);
        X509_up_ref(c);
        rc = take_cert(ld, c);
    }
    for (int i = 0; i < sk_X509_CRL_num(crls) && rc == CG_OK; i++) {
        X509_CRL *c = sk_X509_CRL_value(crls, i);
        X509_CRL_up_ref(c);
        rc = take_crl(ld, c);
    }
done:
    PKCS7_free(p7);
    return rc;
}

/* Windows exports of older vintage use RC2-40 / 3DES, which OpenSSL 3 keeps
 * in its legacy provider. Load it once, only when such a file is met. */
static bool load_legacy_provider(void)
{
    static OSSL_PROVIDER *legacy;
    if (legacy == NULL)
        legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
    ERR_clear_error();
    return legacy != NULL;
}

static int take_pkcs12(struct loader *ld, PKCS12 *p12)
{
    const char *pass = password_of(ld);
    const char *use = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    int rc = CG_ERR;

    if (PKCS12_mac_present(p12)) {
        if (pass != NULL && PKCS12_verify_mac(p12, pass, -1)) {
            use = pass;
        } else if (pass == NULL && PKCS12_verify_mac(p12, "", 0)) {
            use = "";
        } else if (pass == NULL && PKCS12_verify_mac(p12, NULL, 0)) {
            use = NULL;
        } else {
            ERR_clear_error();
            if (pass == NULL)
                cg_set_err(ld->err, "%s: PKCS#12 file is password-protected and no password "
                                    "was given", ld->name);
            else
                cg_set_err(ld->err, "%s: wrong password for PKCS#12 file", ld->name);
            goto done;
        }
    } else {
        use = pass != NULL ? pass : "";
    }
    if (!PKCS12_parse(p12, use, &key, &cert, &ca)) {
        ERR_clear_error();
        if (!load_legacy_provider() || !PKCS12_parse(p12, use, &key, &cert, &ca)) {
            ERR_clear_error();
            cg_set_err(ld->err, "%s: cannot decrypt the PKCS#12 contents (wrong password, or "
                                "an encryption algorithm this OpenSSL lacks)", ld->name);
            goto done;
        }
    }
    /* PKCS12_parse gives the leaf (matching the key) apart from the rest;
     * file order is the leaf first, then its chain. */
    if (cert != NULL) {
        rc = take_cert(ld, cert);
        cert = NULL;
        if (rc != CG_OK)
            goto done;
    }
    rc = CG_OK;
    for (int i = 0; i < sk_X509_num(ca) && rc == CG_OK; i++)
        rc = take_cert(ld, sk_X509_value(ca, i));
    sk_X509_free(ca);   /* the certs now belong to out->certs */
    ca = NULL;
    if (rc == CG_OK && key != NULL) {
        rc = take_key(ld, key);
        key = NULL;
    }
done:
    sk_X509_pop_free(ca, X509_free);
    X509_free(cert);
    EVP_PKEY_free(key);
    PKCS12_free(p12);
    return rc;
}

/* ---- DER ---------------------------------------------------------------- */

/*
 * Reads a DER header at p (n bytes available). Sets *total to the size of the
 * whole TLV, or 0 for BER indefinite length (PKCS#7 and PKCS#12 from Windows
 * use it). Returns false when the header itself is cut short or malformed.
 */
static bool der_header(const unsigned char *p, size_t n, size_t *total)
{
    size_t len, hdr;

    if (n < 2)
        return false;
    if (p[1] < 0x80) {
        len = p[1];
        hdr = 2;
    } else if (p[1] == 0x80) {
        *total = 0;
        return true;
    } else {
        size_t nb = p[1] & 0x7f;
        if (nb > sizeof(size_t) || nb > 4 || n < 2 + nb)
            return false;
        len = 0;
        for (size_t i = 0; i < nb; i++)
            len = (len << 8) | p[2 + i];
        hdr = 2 + nb;
    }
    *total = hdr + len;
    return true;
}

/* Decodes one DER object of exactly `len` bytes (or BER with len unknown). */
static int load_der_one(struct loader *ld, const unsigned char *data, size_t len,
                        size_t *used)
{
    const unsigned char *p;
    long l = (long)len;

    p = data;
    X509 *cert = d2i_X509(NULL, &p, l);
    if (cert != NULL) {
        *used = (size_t)(p - data);
        return take_cert(ld, cert);
    }
    p = data;
    X509_CRL *crl = d2i_X509_CRL(NULL, &p, l);
    if (crl != NULL) {
        *used = (size_t)(p - data);
        return take_crl(ld, crl);
    }
    p = data;
    PKCS7 *p7 = d2i_PKCS7(NULL, &p, l);
    if (p7 != NULL) {
        *used = (size_t)(p - data);
        return take_pkcs7(ld, p7);
    }
    p = data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, l);
    if (p12 != NULL) {
        *used = (size_t)(p - data);
        return take_pkcs12(ld, p12);
    }
    p = data;
    EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &p, l);
    if (key != NULL) {
        *used = (size_t)(p - data);
        return take_key(ld, key);
    }
    ERR_clear_error();
    return cg_set_err(ld->err, "%s: DER data is not a certificate, CRL, PKCS#7, PKCS#12 or "
                               "private key", ld->name);
}

static bool all_padding(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0 && p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    }
    return true;
}

static int load_der(struct loader *ld, const unsigned char *data, size_t len)
{
    size_t off = 0;

    /* Some tools concatenate DER certificates; read them all. */
    while (off < len && !all_padding(data + off, len - off)) {
        size_t total = 0, used = 0;
        if (data[off] != 0x30)
            return cg_set_err(ld->err, "%s: unexpected data at byte %zu after a DER object",
                              ld->name, off);
        if (!der_header(data + off, len - off, &total))
            return cg_set_err(ld->err, "%s: truncated or malformed DER header at byte %zu",
                              ld->name, off);
        if (total > len - off)
            return cg_set_err(ld->err, "%s: truncated: the DER object at byte %zu declares "
                                       "%zu bytes, only %zu are there",
                              ld->name, off, total, len - off);
        if (load_der_one(ld, data + off, total != 0 ? total : len - off, &used) != CG_OK)
            return CG_ERR;
        if (used == 0)
            return cg_set_err(ld->err, "%s: malformed DER at byte %zu", ld->name, off);
        off += used;
    }
    return CG_OK;
}

/* ---- Base64 -------------------------------------------------------------- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/*
 * Strict Base64 decoding, white space ignored. The output is at most 3/4 of
 * the input, so the caller's buffer of `len` bytes always suffices.
 * Returns false on a bad character or misplaced padding; *bad_at is the
 * offset of the offending byte.
 */
static bool b64_decode(const unsigned char *in, size_t len, unsigned char *out, size_t *out_len,
                       size_t *bad_at)
{
    uint32_t acc = 0;
    int nbits = 0, pad = 0;
    size_t o = 0, quantum = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = in[i];
        if (is_space(c))
            continue;
        if (c == '=') {
            pad++;
            quantum++;
            if (pad > 2) {
                *bad_at = i;
                return false;
            }
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad > 0) {
            *bad_at = i;
            return false;
        }
        quantum++;
        acc = (acc << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits >= 8) {
            nbits -= 8;
            out[o++] = (unsigned char)(acc >> nbits);
            acc &= (1u << nbits) - 1;
        }
    }
    if (quantum % 4 != 0 && pad > 0) {
        *bad_at = len;
        return false;
    }
    /* Unpadded input must still end on a whole number of bytes: 1 leftover
     * character (6 bits) cannot encode one. */
    if (quantum % 4 == 1) {
        *bad_at = len;
        return false;
    }
    *out_len = o;
    return true;
}

static size_t line_of(const unsigned char *data, size_t off)
{
    size_t line = 1;
    for (size_t i = 0; i < off; i++)
        line += data[i] == '\n';
    return line;
}

/* ---- PEM ------------------------------------------------------------------ */

/* Finds the next line starting at *pos; returns its start and length (no EOL). */
static bool next_line(const unsigned char *data, size_t len, size_t *pos, size_t *start,
                      size_t *llen)
{
    if (*pos >= len)
        return false;
    *start = *pos;
    const unsigned char *nl = memchr(data + *pos, '\n', len - *pos);
    size_t end = nl != NULL ? (size_t)(nl - data) : len;
    *pos = nl != NULL ? end + 1 : len;
    while (end > *start && (data[end - 1] == '\r' || data[end - 1] == ' ' ||
                            data[end - 1] == '\t'))
        end--;
    *llen = end - *start;
    return true;
}

/* "-----BEGIN X-----" / "-----END X-----": extracts X. */
static bool pem_boundary(const unsigned char *line, size_t n, const char *kind, char *label)
{
    size_t kl = strlen(kind);

    if (n < 5 + kl + 5 || memcmp(line, "-----", 5) != 0 || memcmp(line + 5, kind, kl) != 0 ||
        memcmp(line + n - 5, "-----", 5) != 0)
        return false;
    size_t l = n - 10 - kl;
    if (l >= PEM_LABEL_MAX)
        return false;
    memcpy(label, line + 5 + kl, l);
    label[l] = '\0';
    return true;
}

static bool is_key_label(const char *label)
{
    return strcmp(label, "PRIVATE KEY") == 0 || strcmp(label, "ENCRYPTED PRIVATE KEY") == 0 ||
           strcmp(label, "RSA PRIVATE KEY") == 0 || strcmp(label, "EC PRIVATE KEY") == 0 ||
           strcmp(label, "DSA PRIVATE KEY") == 0;
}

/* Labels of things that are fine to meet and that we have no use for. */
static bool is_ignored_label(const char *label)
{
    return strcmp(label, "EC PARAMETERS") == 0 || strcmp(label, "DH PARAMETERS") == 0 ||
           strcmp(label, "PUBLIC KEY") == 0 || strcmp(label, "RSA PUBLIC KEY") == 0 ||
           strcmp(label, "CERTIFICATE REQUEST") == 0 ||
           strcmp(label, "NEW CERTIFICATE REQUEST") == 0;
}

static int password_cb(char *buf, int size, int rwflag, void *u)
{
    const char *pass = u;
    (void)rwflag;
    if (pass == NULL)
        return -1;
    size_t n = strlen(pass);
    if (n > (size_t)size)
        n = (size_t)size;
    memcpy(buf, pass, n);
    return (int)n;
}

/* A key block, handed whole to OpenSSL: it knows every encryption scheme. */
static int pem_key(struct loader *ld, const unsigned char *block, size_t n, size_t line,
                   const char *label)
{
    BIO *bio = BIO_new_mem_buf(block, (int)n);
    EVP_PKEY *key = NULL;
    const char *pass = password_of(ld);
    bool encrypted = strcmp(label, "ENCRYPTED PRIVATE KEY") == 0 ||
                     memmem(block, n, "Proc-Type: 4,ENCRYPTED", 22) != NULL;

    if (bio == NULL)
        return cg_set_err(ld->err, "%s: out of memory", ld->name);
    key = PEM_read_bio_PrivateKey(bio, NULL, password_cb, (void *)pass);
    BIO_free(bio);
    ERR_clear_error();
    if (key == NULL) {
        if (encrypted && pass == NULL)
            return cg_set_err(ld->err, "%s: line %zu: the private key is encrypted and no "
                                       "password was given", ld->name, line);
        if (encrypted)
            return cg_set_err(ld->err, "%s: line %zu: wrong password for the private key",
                              ld->name, line);
        return cg_set_err(ld->err, "%s: line %zu: malformed %s", ld->name, line, label);
    }
    return take_key(ld, key);
}

static int pem_object(struct loader *ld, const char *label, const unsigned char *der,
                      size_t n, size_t line)
{
    const unsigned char *p = der;
    long l = (long)n;

    if (strcmp(label, "CERTIFICATE") == 0 || strcmp(label, "X509 CERTIFICATE") == 0) {
        X509 *c = d2i_X509(NULL, &p, l);
        if (c == NULL)
            goto bad;
        return take_cert(ld, c);
    }
    if (strcmp(label, "TRUSTED CERTIFICATE") == 0) {
        X509 *c = d2i_X509_AUX(NULL, &p, l);
        if (c == NULL)
            goto bad;
        return take_cert(ld, c);
    }
    if (strcmp(label, "X509 CRL") == 0) {
        X509_CRL *c = d2i_X509_CRL(NULL, &p, l);
        if (c == NULL)
            goto bad;
        return take_crl(ld, c);
    }
    if (strcmp(label, "PKCS7") == 0 || strcmp(label, "PKCS #7 SIGNED DATA") == 0 ||
        strcmp(label, "CMS") == 0) {
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, l);
        if (p7 == NULL)
            goto bad;
        return take_pkcs7(ld, p7);
    }
    if (strcmp(label, "PKCS12") == 0) {
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, l);
        if (p12 == NULL)
            goto bad;
        return take_pkcs12(ld, p12);
    }
    if (is_ignored_label(label))
        return CG_OK;
    return cg_set_err(ld->err, "%s: line %zu: unsupported PEM block '%s'", ld->name, line,
                      label);
bad:
    ERR_clear_error();
    return cg_set_err(ld->err, "%s: line %zu: the %s block does not decode (truncated or "
                               "corrupt)", ld->name, line, label);
}

static int load_pem(struct loader *ld, const unsigned char *data, size_t len)
{
    size_t pos = 0, start, n;
    unsigned char *der = NULL;
    int rc = CG_ERR;
    bool any = false;

    if ((der = malloc(len)) == NULL)
        return cg_set_err(ld->err, "%s: out of memory", ld->name);
    while (next_line(data, len, &pos, &start, &n)) {
        char label[PEM_LABEL_MAX], end_label[PEM_LABEL_MAX];
        size_t begin_start, begin_line, body_start, body_end = 0, der_len, bad_at;
        bool closed = false, has_headers = false;

        if (!pem_boundary(data + start, n, "BEGIN ", label))
            continue;   /* text around blocks (openssl x509 -text output) */
        begin_start = start;
        begin_line = line_of(data, start);
        body_start = pos;
        while (next_line(data, len, &pos, &start, &n)) {
            if (pem_boundary(data + start, n, "END ", end_label)) {
                closed = true;
                body_end = start;
                break;
            }
            if (pem_boundary(data + start, n, "BEGIN ", end_label))
                break;
            if (memchr(data + start, ':', n) != NULL)
                has_headers = true;
        }
        if (!closed) {
            cg_set_err(ld->err, "%s: line %zu: the %s block has no END line (truncated)",
                       ld->name, begin_line, label);
            goto done;
        }
        if (strcmp(label, end_label) != 0) {
            cg_set_err(ld->err, "%s: line %zu: BEGIN %s closed by END %s", ld->name,
                       line_of(data, body_end), label, end_label);
            goto done;
        }
        any = true;
        if (is_key_label(label)) {
            /* Hand the whole block, BEGIN to END, to OpenSSL. */
            if (pem_key(ld, data + begin_start, pos - begin_start, begin_line, label) != CG_OK)
                goto done;
            continue;
        }
        if (has_headers) {
            cg_set_err(ld->err, "%s: line %zu: unexpected header lines in the %s block",
                       ld->name, begin_line, label);
            goto done;
        }
        if (!b64_decode(data + body_start, body_end - body_start, der, &der_len, &bad_at)) {
            cg_set_err(ld->err, "%s: line %zu: bad base64 in the %s block", ld->name,
                       line_of(data, body_start + bad_at), label);
            goto done;
        }
        if (der_len == 0) {
            cg_set_err(ld->err, "%s: line %zu: the %s block is empty", ld->name, begin_line,
                       label);
            goto done;
        }
        if (pem_object(ld, label, der, der_len, begin_line) != CG_OK)
            goto done;
    }
    if (!any) {
        cg_set_err(ld->err, "%s: no PEM block found", ld->name);
        goto done;
    }
    rc = CG_OK;
done:
    free(der);
    return rc;
}

/* ---- entry points -------------------------------------------------------- */

static bool looks_base64(const unsigned char *data, size_t len)
{
    size_t sig = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_space(data[i]))
            continue;
        if (b64_value(data[i]) < 0 && data[i] != '=')
            return false;
        sig++;
    }
    return sig > 0;
}

static int dispatch(struct loader *ld, const unsigned char *data, size_t len)
{
    size_t skip = 0;

    /* A UTF-8 byte order mark is what Notepad puts in front of a saved PEM. */
    if (len >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        skip = 3;
    data += skip;
    len -= skip;
    if (len == 0 || all_padding(data, len))
        return cg_set_err(ld->err, "%s: empty file", ld->name);
    if (data[0] == 0x30)
        return load_der(ld, data, len);
    if (memmem(data, len, "-----BEGIN ", 11) != NULL)
        return load_pem(ld, data, len);
    if (looks_base64(data, len)) {
        unsigned char *der = malloc(len);
        size_t der_len = 0, bad_at = 0;
        int rc;
        if (der == NULL)
            return cg_set_err(ld->err, "%s: out of memory", ld->name);
        if (!b64_decode(data, len, der, &der_len, &bad_at))
            rc = cg_set_err(ld->err, "%s: Base64 without PEM header: malformed at line %zu",
                            ld->name, line_of(data, bad_at < len ? bad_at : len));
        else if (der_len == 0 || der[0] != 0x30)
            rc = cg_set_err(ld->err, "%s: Base64 text that does not decode to a certificate, "
                                     "CRL, PKCS#7 or PKCS#12", ld->name);
        else
            rc = load_der(ld, der, der_len);
        free(der);
        return rc;
    }
    return cg_set_err(ld->err, "%s: not a certificate, CRL, key, PKCS#7 or PKCS#12 "
                               "(unrecognised content)", ld->name);
}

void cg_loaded_free(struct cg_loaded *l)
{
    if (l == NULL)
        return;
    sk_X509_pop_free(l->certs, X509_free);
    sk_X509_CRL_pop_free(l->crls, X509_CRL_free);
    EVP_PKEY_free(l->key);
    l->certs = NULL;
    l->crls = NULL;
    l->key = NULL;
}

int cg_load_mem(const char *name, const unsigned char *data, size_t len,
                const struct cg_load_opts *opts, struct cg_loaded *out, char **err)
{
    size_t max = opts != NULL && opts->max_bytes != 0 ? opts->max_bytes
                                                      : CG_LOAD_DEFAULT_MAX_BYTES;
    struct loader ld = {.name = name != NULL ? name : "(memory)", .opts = opts, .out = out,
                        .err = err};
    int rc;

    memset(out, 0, sizeof(*out));
    if (len > max)
        return cg_set_err(err, "%s: too large: %zu bytes, over the limit of %zu bytes", ld.name,
                          len, max);
    out->certs = sk_X509_new_null();
    out->crls = sk_X509_CRL_new_null();
    if (out->certs == NULL || out->crls == NULL) {
        cg_loaded_free(out);
        return cg_set_err(err, "%s: out of memory", ld.name);
    }
    rc = dispatch(&ld, data, len);
    ERR_clear_error();
    if (rc == CG_OK && sk_X509_num(out->certs) == 0 && sk_X509_CRL_num(out->crls) == 0 &&
        out->key == NULL)
        rc = cg_set_err(err, "%s: holds no certificate, CRL or private key", ld.name);
    if (rc != CG_OK)
        cg_loaded_free(out);
    return rc;
}

/*
 * Reads at most max+1 bytes of path into a new buffer, refusing special
 * files and anything over max. The +1 detects growth after fstat.
 */
static int read_limited(const char *path, size_t max, bool allow_stream, unsigned char **data,
                        size_t *len, char **err)
{
    struct stat st;
    unsigned char *buf = NULL;
    size_t have = 0;
    int fd = -1, rc = CG_ERR;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        cg_set_err(err, "%s: cannot open: %s", path, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0) {
        cg_set_err(err, "%s: %s", path, strerror(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        cg_set_err(err, "%s: is a directory, not a file", path);
        goto done;
    }
    /* A password may come through a pipe (--password-file <(...)); a
     * certificate file is always a regular file, sized before reading. */
    bool stream = allow_stream && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode));
    if (!S_ISREG(st.st_mode) && !stream) {
        cg_set_err(err, "%s: not a regular file", path);
        goto done;
    }
    if ((uintmax_t)st.st_size > max) {
        cg_set_err(err, "%s: too large: %jd bytes, over the limit of %zu bytes", path,
                   (intmax_t)st.st_size, max);
        goto done;
    }
    size_t cap = stream ? max : (size_t)st.st_size;
    if (stream && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
        cg_set_err(err, "%s: %s", path, strerror(errno));
        goto done;
    }
    if ((buf = malloc(cap + 1)) == NULL) {
        cg_set_err(err, "%s: out of memory", path);
        goto done;
    }
    for (;;) {
        size_t room = cap + 1 - have;
        if (room == 0) {
            if (stream)
                cg_set_err(err, "%s: over the limit of %zu bytes", path, max);
            else
                cg_set_err(err, "%s: grew while being read; over the limit or changing", path);
            goto done;
        }
        ssize_t n = read(fd, buf + have, room);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cg_set_err(err, "%s: read failed: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        have += (size_t)n;
    }
    *data = buf;
    *len = have;
    buf = NULL;
    rc = CG_OK;
done:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

int cg_load_file(const char *path, const struct cg_load_opts *opts, struct cg_loaded *out,
                 char **err)
{
    size_t max = opts != NULL && opts->max_bytes != 0 ? opts->max_bytes
                                                      : CG_LOAD_DEFAULT_MAX_BYTES;
    unsigned char *data = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (read_limited(path, max, false, &data, &len, err) != CG_OK)
        return CG_ERR;
    rc = cg_load_mem(path, data, len, opts, out, err);
    OPENSSL_cleanse(data, len);   /* may have held a private key */
    free(data);
    return rc;
}

char *cg_load_password_file(const char *path, char **err)
{
    unsigned char *data = NULL;
    size_t len = 0, n = 0;
    char *pass = NULL;

    if (read_limited(path, PASSWORD_FILE_MAX, true, &data, &len, err) != CG_OK)
        return NULL;
    while (n < len && data[n] != '\n' && data[n] != '\r')
        n++;
    if (memchr(data, '\0', n) != NULL) {
        cg_set_err(err, "%s: the password contains a NUL byte", path);
        goto done;
    }
    if ((pass = malloc(n + 1)) == NULL) {
        cg_set_err(err, "%s: out of memory", path);
        goto done;
    }
    memcpy(pass, data, n);
    pass[n] = '\0';
done:
    OPENSSL_cleanse(data, len);
    free(data);
    return pass;
}

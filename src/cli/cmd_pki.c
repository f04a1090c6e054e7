/*
 * cmd_pki.c: `certgate pki demo|issue|crl`, a small CA on the command line
 * for demos and shell tests. Exit status: 0 done, 1 a write failed,
 * 2 usage or input error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "cert/load.h"
#include "cert/pki.h"
#include "cert/store.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/pki_ocsp_cmd.h"
#include "core/common.h"

#define MAX_LIST 64   /* --dns / --ip / --revoke occurrences */

static void usage_pki(FILE *out)
{
    fprintf(out,
            "usage: certgate pki <command> [options]\n"
            "\n"
            "  demo DIR [--force]   write the demo PKI (CAs, server, one client per case,\n"
            "                       populated stores) under DIR; an existing current demo\n"
            "                       is left alone unless --force\n"
            "  issue ...            issue one certificate (certgate pki issue --help)\n"
            "  crl ...              make a CRL (certgate pki crl --help)\n"
            "  ocsp ...             answer OCSP as the CA (certgate pki ocsp --help)\n");
}

static void usage_issue(FILE *out)
{
    fprintf(out,
            "usage: certgate pki issue --profile root|intermediate|client|server --cn NAME\n"
            "           [--issuer CERT --issuer-key KEY] --out CERT.pem --key-out KEY.pem\n"
            "\n"
            "  --profile P          root (self-signed CA), intermediate (CA), client, server\n"
            "  --cn NAME            subject common name (required)\n"
            "  --org NAME           subject organisation\n"
            "  --issuer FILE        issuer certificate (the first one in FILE); not for root\n"
            "  --issuer-key FILE    issuer private key\n"
            "  --key FILE           use this key instead of generating one\n"
            "  --key-type ec|rsa    generated key: ECDSA P-256 (default) or RSA-2048\n"
            "  --not-before T       validity start (default now-1h); T is ISO 8601 UTC,\n"
            "  --not-after T        @EPOCH, or relative: +30d, -1d, +12h (default +365d)\n"
            "  --eku LIST           clientAuth,serverAuth,ocspSigning or none\n"
            "                       (default: client: clientAuth, server: serverAuth)\n"
            "  --path-len N         CA pathLenConstraint (default: none)\n"
            "  --serial HEX         serial number (default: random 63 bits)\n"
            "  --dns NAME           DNS subjectAltName (repeatable)\n"
            "  --ip ADDR            IP subjectAltName (repeatable)\n"
            "  --crl-url URL        CRL distribution point\n"
            "  --ocsp-url URL       OCSP responder (authorityInfoAccess)\n"
            "  --out FILE           certificate (PEM); --der writes DER\n"
            "  --chain              append the issuer's certificate(s) to --out\n"
            "  --key-out FILE       private key (PEM, mode 0600); needed unless --key\n"
            "  --p12 FILE           also write a PKCS#12 with key, cert and chain\n"
            "  --password-file F    the PKCS#12 password (first line; default empty)\n");
}

static void usage_crl(FILE *out)
{
    fprintf(out,
            "usage: certgate pki crl --issuer CERT --issuer-key KEY [--revoke CERT]...\n"
            "           [--revoke-serial HEX]... --out CRL.pem\n"
            "\n"
            "  --issuer FILE        the CA certificate that signs the CRL\n"
            "  --issuer-key FILE    its private key\n"
            "  --revoke FILE        revoke the (first) certificate in FILE (repeatable)\n"
            "  --revoke-serial HEX  revoke a serial number (repeatable)\n"
            "  --reason R           reason for every entry: unspecified, keyCompromise,\n"
            "                       cACompromise, affiliationChanged, superseded,\n"
            "                       cessationOfOperation, certificateHold, removeFromCRL,\n"
            "                       privilegeWithdrawn, aACompromise, or a number\n"
            "                       (default: no reason extension)\n"
            "  --revoked-at T       revocation date of every entry (default now-1m)\n"
            "  --this-update T      default now-1h (T as for `pki issue`; relative to now)\n"
            "  --next-update T      default this-update+7d\n"
            "  --number N           CRL number (default 1)\n"
            "  --out FILE           the CRL (PEM); --der writes DER\n");
}

/* ---- helpers ---------------------------------------------------------- */

static int parse_eku(const char *text, unsigned *out, char **err)
{
    char *copy = strdup(text), *save = NULL;
    unsigned eku = 0;
    int rc = CG_OK;

    if (copy == NULL)
        return cg_set_err(err, "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (strcasecmp(t, "clientAuth") == 0)
            eku |= CG_PKI_EKU_CLIENT_AUTH;
        else if (strcasecmp(t, "serverAuth") == 0)
            eku |= CG_PKI_EKU_SERVER_AUTH;
        else if (strcasecmp(t, "ocspSigning") == 0)
            eku |= CG_PKI_EKU_OCSP_SIGN;
        else if (strcasecmp(t, "none") == 0)
            eku |= CG_PKI_EKU_NONE;
        else
            rc = cg_set_err(err, "bad --eku '%s': expected clientAuth, serverAuth, "
                                 "ocspSigning or none", t);
    }
    free(copy);
    if (rc == CG_OK && eku == 0)
        rc = cg_set_err(err, "empty --eku");
    if (rc == CG_OK && (eku & CG_PKI_EKU_NONE) && eku != CG_PKI_EKU_NONE)
        rc = cg_set_err(err, "--eku none cannot be combined with other usages");
    *out = eku;
    return rc;
}

static int parse_long(const char *opt, const char *text, long min, long max, long *out,
                      char **err)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        return cg_set_err(err, "bad %s '%s': expected a number from %ld to %ld", opt, text, min,
                          max);
    *out = v;
    return CG_OK;
}

static int fail(int status, const char *what, char *err)
{
    fprintf(stderr, "certgate pki %s: %s\n", what, err != NULL ? err : "failed");
    free(err);
    return status;
}

/* ---- demo -------------------------------------------------------------- */

static int cmd_demo(int argc, char **argv)
{
    const char *dir = NULL;
    bool force = false;
    cg_pki_demo_result_t result = CG_PKI_DEMO_KEPT;
    char *err = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0) {
            force = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_pki(stdout);
            return 0;
        } else if (argv[i][0] == '-' || dir != NULL) {
            fprintf(stderr, "certgate pki demo: unexpected argument '%s'\n", argv[i]);
            usage_pki(stderr);
            return 2;
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL) {
        fprintf(stderr, "certgate pki demo: give the directory to write the demo into\n");
        return 2;
    }
    if (cg_pki_demo_ex(dir, force, &result, &err) != CG_OK)
        return fail(1, "demo", err);
    if (result == CG_PKI_DEMO_CRLS_REFRESHED) {
        printf("%s: demo PKI present; its CRLs were past nextUpdate and have been reissued\n",
               dir);
        return 0;
    }
    if (result == CG_PKI_DEMO_KEPT) {
        printf("%s: demo PKI already present and current; left alone (--force regenerates)\n",
               dir);
        return 0;
    }
    printf("demo PKI written to %s\n"
           "  CAs:      %s/ca/ (root, intermediate, other-root, unlisted-intermediate)\n"
           "  server:   %s/server/server.pem (localhost, 127.0.0.1, ::1)\n"
           "  stores:   %s/stores/ (root, intermediate, two CRLs)\n"
           "  clients:  %s/clients/<case>.{pem,key,p12}, p12 password \"%s\"\n"
           "            valid expired not-yet-valid revoked untrusted wrong-usage "
           "incomplete-chain\n",
           dir, dir, dir, dir, dir, CG_PKI_DEMO_P12_PASSWORD);
    return 0;
}

/* ---- issue ------------------------------------------------------------- */

static int cmd_issue(int argc, char **argv)
{
    enum { O_PROFILE = 256, O_CN, O_ORG, O_ISSUER, O_ISSUER_KEY, O_KEY, O_KEY_TYPE, O_NB, O_NA,
           O_EKU, O_PATH_LEN, O_SERIAL, O_DNS, O_IP, O_CRL_URL, O_OCSP_URL, O_OUT, O_DER,
           O_CHAIN, O_KEY_OUT, O_P12, O_PASSWORD_FILE, O_HELP };
    static const struct option opts[] = {
        {"profile", required_argument, NULL, O_PROFILE},
        {"cn", required_argument, NULL, O_CN},
        {"org", required_argument, NULL, O_ORG},
        {"issuer", required_argument, NULL, O_ISSUER},
        {"issuer-key", required_argument, NULL, O_ISSUER_KEY},
        {"key", required_argument, NULL, O_KEY},
        {"key-type", required_argument, NULL, O_KEY_TYPE},
        {"not-before", required_argument, NULL, O_NB},
        {"not-after", required_argument, NULL, O_NA},
        {"eku", required_argument, NULL, O_EKU},
        {"path-len", required_argument, NULL, O_PATH_LEN},
        {"serial", required_argument, NULL, O_SERIAL},
        {"dns", required_argument, NULL, O_DNS},
        {"ip", required_argument, NULL, O_IP},
        {"crl-url", required_argument, NULL, O_CRL_URL},
        {"ocsp-url", required_argument, NULL, O_OCSP_URL},
        {"out", required_argument, NULL, O_OUT},
        {"der", no_argument, NULL, O_DER},
        {"chain", no_argument, NULL, O_CHAIN},
        {"key-out", required_argument, NULL, O_KEY_OUT},
        {"p12", required_argument, NULL, O_P12},
        {"password-file", required_argument, NULL, O_PASSWORD_FILE},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct cg_pki_spec spec = {.path_len = -1};
    const char *dns[MAX_LIST + 1] = {NULL}, *ips[MAX_LIST + 1] = {NULL};
    size_t n_dns = 0, n_ip = 0;
    const char *profile = NULL, *issuer_path = NULL, *issuer_key_path = NULL, *key_path = NULL,
               *out = NULL, *key_out = NULL, *p12 = NULL, *password_file = NULL;
    const char *nb_text = NULL, *na_text = NULL;
    bool der = false, chain = false;
    cg_pki_key_type_t key_type = CG_PKI_KEY_EC_P256;
    X509 *issuer = NULL, *cert = NULL;
    EVP_PKEY *issuer_key = NULL, *key = NULL;
    struct cg_loaded issuer_chain = {0};
    char *err = NULL, *password = NULL;
    time_t now = time(NULL);
    int status = 2, c;
    long v = 0;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_PROFILE: profile = optarg; break;
        case O_CN: spec.subject_cn = optarg; break;
        case O_ORG: spec.subject_o = optarg; break;
        case O_ISSUER: issuer_path = optarg; break;
        case O_ISSUER_KEY: issuer_key_path = optarg; break;
        case O_KEY: key_path = optarg; break;
        case O_KEY_TYPE:
            if (strcmp(optarg, "ec") == 0) {
                key_type = CG_PKI_KEY_EC_P256;
            } else if (strcmp(optarg, "rsa") == 0) {
                key_type = CG_PKI_KEY_RSA_2048;
            } else {
                cg_set_err(&err, "bad --key-type '%s': expected ec or rsa", optarg);
                goto done;
            }
            break;
        case O_NB: nb_text = optarg; break;
        case O_NA: na_text = optarg; break;
        case O_EKU:
            if (parse_eku(optarg, &spec.eku, &err) != CG_OK)
                goto done;
            break;
        case O_PATH_LEN:
            if (parse_long("--path-len", optarg, 0, 64, &v, &err) != CG_OK)
                goto done;
            spec.path_len = (int)v;
            break;
        case O_SERIAL:
            if (cg_cli_parse_serial(optarg, &spec.serial, &err) != CG_OK)
                goto done;
            break;
        case O_DNS:
        case O_IP:
            if ((c == O_DNS ? n_dns : n_ip) >= MAX_LIST) {
                cg_set_err(&err, "at most %d --dns and %d --ip", MAX_LIST, MAX_LIST);
                goto done;
            }
            if (c == O_DNS)
                dns[n_dns++] = optarg;
            else
                ips[n_ip++] = optarg;
            break;
        case O_CRL_URL: spec.crl_url = optarg; break;
        case O_OCSP_URL: spec.ocsp_url = optarg; break;
        case O_OUT: out = optarg; break;
        case O_DER: der = true; break;
        case O_CHAIN: chain = true; break;
        case O_KEY_OUT: key_out = optarg; break;
        case O_P12: p12 = optarg; break;
        case O_PASSWORD_FILE: password_file = optarg; break;
        case O_HELP:
            usage_issue(stdout);
            status = 0;
            goto done;
        default:
            cg_cli_option_error(c, argv, &err);
            goto done;
        }
    }
    if (cg_cli_no_operands(argc, argv, &err) != CG_OK)
        goto done;
    if (profile == NULL || strcmp(profile, "root") == 0)
        spec.profile = CG_PKI_ROOT_CA;
    if (profile == NULL) {
        cg_set_err(&err, "--profile is required (root, intermediate, client or server)");
        goto done;
    } else if (strcmp(profile, "intermediate") == 0) {
        spec.profile = CG_PKI_INTERMEDIATE_CA;
    } else if (strcmp(profile, "client") == 0) {
        spec.profile = CG_PKI_CLIENT;
    } else if (strcmp(profile, "server") == 0) {
        spec.profile = CG_PKI_SERVER;
    } else if (strcmp(profile, "root") != 0) {
        cg_set_err(&err, "bad --profile '%s': expected root, intermediate, client or server",
                   profile);
        goto done;
    }
    if (spec.subject_cn == NULL) {
        cg_set_err(&err, "--cn is required");
        goto done;
    }
    if (out == NULL || (key_out == NULL && key_path == NULL)) {
        cg_set_err(&err, "--out and --key-out (or --key) are required");
        goto done;
    }
    if (spec.profile == CG_PKI_ROOT_CA && (issuer_path != NULL || issuer_key_path != NULL)) {
        cg_set_err(&err, "a root is self-signed: no --issuer / --issuer-key");
        goto done;
    }
    if (spec.profile != CG_PKI_ROOT_CA && (issuer_path == NULL || issuer_key_path == NULL)) {
        cg_set_err(&err, "--issuer and --issuer-key are required for a %s certificate", profile);
        goto done;
    }
    if (nb_text != NULL && cg_pki_parse_time(nb_text, now, &spec.not_before, &err) != CG_OK)
        goto done;
    if (na_text != NULL) {
        if (cg_pki_parse_time(na_text, now, &spec.not_after, &err) != CG_OK)
            goto done;
    }
    spec.dns_names = dns;
    spec.ip_addrs = ips;
    if (issuer_path != NULL) {
        if (cg_load_file(issuer_path, NULL, &issuer_chain, &err) != CG_OK)
            goto done;
        if (sk_X509_num(issuer_chain.certs) == 0) {
            cg_set_err(&err, "%s: holds no certificate", issuer_path);
            goto done;
        }
        issuer = sk_X509_value(issuer_chain.certs, 0);
        if (cg_cli_load_first(issuer_key_path, NULL, &issuer_key, &err) != CG_OK)
            goto done;
    }
    if (key_path != NULL) {
        if (cg_cli_load_first(key_path, NULL, &key, &err) != CG_OK)
            goto done;
    } else if ((key = cg_pki_keygen(key_type, &err)) == NULL) {
        status = 1;
        goto done;
    }
    cert = cg_pki_issue(&spec, key, issuer, issuer != NULL ? issuer_key : key, &err);
    if (cert == NULL)
        goto done;

    status = 1;
    if (der) {
        if (cg_pki_write_cert_der(out, cert, &err) != CG_OK)
            goto done;
    } else {
        X509 *certs[MAX_LIST + 1];
        size_t n = 0;
        certs[n++] = cert;
        for (int i = 0; chain && i < sk_X509_num(issuer_chain.certs) && n < MAX_LIST; i++)
            certs[n++] = sk_X509_value(issuer_chain.certs, i);
        if (cg_pki_write_cert_pem(out, certs, n, &err) != CG_OK)
            goto done;
    }
    if (key_out != NULL && cg_pki_write_key_pem(key_out, key, &err) != CG_OK)
        goto done;
    if (p12 != NULL) {
        if (password_file != NULL && (password = cg_load_password_file(password_file, &err)) == NULL) {
            status = 2;
            goto done;
        }
        STACK_OF(X509) *ca = issuer != NULL ? issuer_chain.certs : NULL;
        if (cg_pki_write_p12(p12, password != NULL ? password : "", key, cert, ca, &err) != CG_OK)
            goto done;
    }
    char thumb[65];
    cg_store_cert_thumbprint(cert, thumb);
    printf("issued %s certificate '%s'\n  sha256: %s\n  cert:   %s\n", profile, spec.subject_cn,
           thumb, out);
    if (key_out != NULL)
        printf("  key:    %s\n", key_out);
    if (p12 != NULL)
        printf("  p12:    %s\n", p12);
    status = 0;
done:
    if (status != 0 && err != NULL)
        status = fail(status, "issue", err);
    else
        free(err);
    free(password);
    X509_free(cert);
    EVP_PKEY_free(key);
    EVP_PKEY_free(issuer_key);
    cg_loaded_free(&issuer_chain);
    return status;
}

/* ---- crl --------------------------------------------------------------- */

static int cmd_crl(int argc, char **argv)
{
    enum { O_ISSUER = 256, O_ISSUER_KEY, O_REVOKE, O_REVOKE_SERIAL, O_REASON, O_REVOKED_AT,
           O_THIS, O_NEXT, O_NUMBER, O_OUT, O_DER, O_HELP };
    static const struct option opts[] = {
        {"issuer", required_argument, NULL, O_ISSUER},
        {"issuer-key", required_argument, NULL, O_ISSUER_KEY},
        {"revoke", required_argument, NULL, O_REVOKE},
        {"revoke-serial", required_argument, NULL, O_REVOKE_SERIAL},
        {"reason", required_argument, NULL, O_REASON},
        {"revoked-at", required_argument, NULL, O_REVOKED_AT},
        {"this-update", required_argument, NULL, O_THIS},
        {"next-update", required_argument, NULL, O_NEXT},
        {"number", required_argument, NULL, O_NUMBER},
        {"out", required_argument, NULL, O_OUT},
        {"der", no_argument, NULL, O_DER},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct cg_pki_revoked entries[MAX_LIST];
    X509 *revoked_certs[MAX_LIST] = {NULL};
    size_t n = 0;
    const char *issuer_path = NULL, *issuer_key_path = NULL, *out = NULL;
    time_t now = time(NULL), this_update = 0, next_update = 0, revoked_at = 0;
    const char *this_text = NULL, *next_text = NULL;
    long number = 1;
    int reason = -1, status = 2, c;
    bool der = false;
    X509 *issuer = NULL;
    EVP_PKEY *issuer_key = NULL;
    X509_CRL *crl = NULL;
    char *err = NULL;

    memset(entries, 0, sizeof(entries));
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_ISSUER: issuer_path = optarg; break;
        case O_ISSUER_KEY: issuer_key_path = optarg; break;
        case O_REVOKE:
        case O_REVOKE_SERIAL:
            if (n >= MAX_LIST) {
                cg_set_err(&err, "at most %d revoked entries from the command line", MAX_LIST);
                goto done;
            }
            if (c == O_REVOKE) {
                if (cg_cli_load_first(optarg, &revoked_certs[n], NULL, &err) != CG_OK)
                    goto done;
                entries[n].cert = revoked_certs[n];
            } else if (cg_cli_parse_serial(optarg, &entries[n].serial, &err) != CG_OK) {
                goto done;
            }
            n++;
            break;
        case O_REASON:
            if (cg_cli_parse_reason(optarg, &reason, &err) != CG_OK)
                goto done;
            break;
        case O_REVOKED_AT:
            if (cg_pki_parse_time(optarg, now, &revoked_at, &err) != CG_OK)
                goto done;
            break;
        case O_THIS: this_text = optarg; break;
        case O_NEXT: next_text = optarg; break;
        case O_NUMBER:
            if (parse_long("--number", optarg, 0, 0x7fffffffL, &number, &err) != CG_OK)
                goto done;
            break;
        case O_OUT: out = optarg; break;
        case O_DER: der = true; break;
        case O_HELP:
            usage_crl(stdout);
            status = 0;
            goto done;
        default:
            cg_cli_option_error(c, argv, &err);
            goto done;
        }
    }
    if (cg_cli_no_operands(argc, argv, &err) != CG_OK)
        goto done;
    if (issuer_path == NULL || issuer_key_path == NULL || out == NULL) {
        cg_set_err(&err, "--issuer, --issuer-key and --out are required");
        goto done;
    }
    if (this_text != NULL && cg_pki_parse_time(this_text, now, &this_update, &err) != CG_OK)
        goto done;
    if (next_text != NULL &&
        cg_pki_parse_time(next_text, now, &next_update, &err) != CG_OK)
        goto done;
    for (size_t i = 0; i < n; i++) {
        entries[i].reason = reason;
        entries[i].revoked_at = revoked_at;
    }
    if (cg_cli_load_first(issuer_path, &issuer, NULL, &err) != CG_OK ||
        cg_cli_load_first(issuer_key_path, NULL, &issuer_key, &err) != CG_OK)
        goto done;
    crl = cg_pki_make_crl(issuer, issuer_key, entries, n, this_update, next_update, number, &err);
    if (crl == NULL)
        goto done;
    status = 1;
    if (der) {
        BIO *bio = BIO_new(BIO_s_mem());
        char *data = NULL;
        long len;
        if (bio == NULL || !i2d_X509_CRL_bio(bio, crl) || (len = BIO_get_mem_data(bio, &data)) <= 0 ||
            cg_pki_write_atomic(out, data, (size_t)len, 0644, &err) != CG_OK) {
            if (err == NULL)
                cg_set_err(&err, "cannot encode the CRL");
            BIO_free(bio);
            goto done;
        }
        BIO_free(bio);
    } else if (cg_pki_write_crl_pem(out, crl, &err) != CG_OK) {
        goto done;
    }
    char thumb[65];
    cg_store_crl_thumbprint(crl, thumb);
    printf("CRL number %ld with %zu revoked entr%s written to %s\n  sha256: %s\n", number, n,
           n == 1 ? "y" : "ies", out, thumb);
    status = 0;
done:
    if (status != 0 && err != NULL)
        status = fail(status, "crl", err);
    else
        free(err);
    for (size_t i = 0; i < MAX_LIST; i++)
        X509_free(revoked_certs[i]);
    X509_CRL_free(crl);
    X509_free(issuer);
    EVP_PKEY_free(issuer_key);
    return status;
}

int cg_cmd_pki(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage_pki(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "demo") == 0)
        return cmd_demo(argc - 1, argv + 1);
    if (strcmp(argv[1], "issue") == 0)
        return cmd_issue(argc - 1, argv + 1);
    if (strcmp(argv[1], "crl") == 0)
        return cmd_crl(argc - 1, argv + 1);
    if (strcmp(argv[1], "ocsp") == 0)
        return cg_cmd_pki_ocsp(argc - 1, argv + 1);
    fprintf(stderr, "certgate pki: unknown command '%s'\n", argv[1]);
    usage_pki(stderr);
    return 2;
}

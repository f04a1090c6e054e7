/*
 * pki_ocsp_cmd.c: `certgate pki ocsp` (see pki_ocsp_cmd.h): answers an OCSP
 * request, or makes the answer for one certificate, as the CA's responder,
 * with cg_pki_ocsp_respond.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cert/ocsp.h"
#include "cert/pki.h"
#include "cli/cli_util.h"
#include "cli/pki_ocsp_cmd.h"
#include "core/common.h"

#define MAX_REVOKED 256
#define REQUEST_MAX (64u * 1024)

static const char usage_text[] =
    "usage: certgate pki ocsp --issuer CERT --issuer-key KEY (--cert FILE | --request FILE)\n"
    "           [--revoke CERT]... [--revoke-serial HEX]... --out RESPONSE.der\n"
    "\n"
    "Answers as the OCSP responder of the CA --issuer: revoked for the certificates\n"
    "and serials listed, good for the others it issued, unknown for anything else.\n"
    "\n"
    "  --issuer FILE        the CA certificate\n"
    "  --issuer-key FILE    its private key (signs, unless --signer is given)\n"
    "  --signer FILE        a responder certificate the CA issued with the OCSP-signing\n"
    "  --signer-key FILE    extended key usage, and its key (a delegated responder)\n"
    "  --cert FILE          answer for this certificate\n"
    "  --request FILE       answer this DER OCSP request (its nonce is echoed)\n"
    "  --revoke FILE        revoked: the (first) certificate in FILE (repeatable)\n"
    "  --revoke-serial HEX  revoked: this serial number (repeatable)\n"
    "  --reason R           reason for every revoked entry: keyCompromise, superseded,\n"
    "                       ... (as for certgate pki crl), or a number\n"
    "  --revoked-at T       revocation date (default now-1m)\n"
    "  --this-update T      default now-1m (T: ISO 8601 UTC, @EPOCH, +1h, -2d, now)\n"
    "  --next-update T      default this-update+1h; \"none\" for no nextUpdate\n"
    "  --out FILE           the DER response, written atomically\n";

static int read_request(const char *path, unsigned char **out, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    size_t n;

    if (f == NULL)
        return cg_set_err(err, "%s: %s", path, strerror(errno));
    buf = malloc(REQUEST_MAX + 1);
    n = buf != NULL ? fread(buf, 1, REQUEST_MAX + 1, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0 || n > REQUEST_MAX) {
        free(buf);
        return cg_set_err(err, "%s: empty, unreadable or over %u bytes", path, REQUEST_MAX);
    }
    *out = buf;
    *len = n;
    return CG_OK;
}

int cg_cmd_pki_ocsp(int argc, char **argv)
{
    enum { O_ISSUER = 256, O_ISSUER_KEY, O_SIGNER, O_SIGNER_KEY, O_CERT, O_REQUEST, O_REVOKE,
           O_REVOKE_SERIAL, O_REASON, O_REVOKED_AT, O_THIS, O_NEXT, O_OUT, O_HELP };
    static const struct option opts[] = {
        {"issuer", required_argument, NULL, O_ISSUER},
        {"issuer-key", required_argument, NULL, O_ISSUER_KEY},
        {"signer", required_argument, NULL, O_SIGNER},
        {"signer-key", required_argument, NULL, O_SIGNER_KEY},
        {"cert", required_argument, NULL, O_CERT},
        {"request", required_argument, NULL, O_REQUEST},
        {"revoke", required_argument, NULL, O_REVOKE},
        {"revoke-serial", required_argument, NULL, O_REVOKE_SERIAL},
        {"reason", required_argument, NULL, O_REASON},
        {"revoked-at", required_argument, NULL, O_REVOKED_AT},
        {"this-update", required_argument, NULL, O_THIS},
        {"next-update", required_argument, NULL, O_NEXT},
        {"out", required_argument, NULL, O_OUT},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    struct cg_pki_revoked entries[MAX_REVOKED];
    X509 *revoked_certs[MAX_REVOKED] = {NULL};
    size_t n = 0, req_len = 0, resp_len = 0;
    const char *issuer_path = NULL, *issuer_key_path = NULL, *signer_path = NULL;
    const char *signer_key_path = NULL, *cert_path = NULL, *request_path = NULL, *out = NULL;
    const char *this_text = NULL, *next_text = NULL;
    time_t now = time(NULL), this_update = 0, next_update = 0, revoked_at = 0;
    X509 *issuer = NULL, *signer = NULL, *cert = NULL;
    EVP_PKEY *issuer_key = NULL, *signer_key = NULL;
    unsigned char *req = NULL, *resp = NULL;
    int reason = -1, status = 2, c;
    char *err = NULL;

    memset(entries, 0, sizeof(entries));
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_ISSUER: issuer_path = optarg; break;
        case O_ISSUER_KEY: issuer_key_path = optarg; break;
        case O_SIGNER: signer_path = optarg; break;
        case O_SIGNER_KEY: signer_key_path = optarg; break;
        case O_CERT: cert_path = optarg; break;
        case O_REQUEST: request_path = optarg; break;
        case O_REVOKE:
        case O_REVOKE_SERIAL:
            if (n >= MAX_REVOKED) {
                cg_set_err(&err, "at most %d revoked entries", MAX_REVOKED);
                goto out;
            }
            if (c == O_REVOKE) {
                if (cg_cli_load_first(optarg, &revoked_certs[n], NULL, &err) != CG_OK)
                    goto out;
                entries[n].cert = revoked_certs[n];
            } else if (cg_cli_parse_serial(optarg, &entries[n].serial, &err) != CG_OK) {
                goto out;
            }
            n++;
            break;
        case O_REASON:
            if (cg_cli_parse_reason(optarg, &reason, &err) != CG_OK)
                goto out;
            break;
        case O_REVOKED_AT:
            if (cg_pki_parse_time(optarg, now, &revoked_at, &err) != CG_OK)
                goto out;
            break;
        case O_THIS: this_text = optarg; break;
        case O_NEXT: next_text = optarg; break;
        case O_OUT: out = optarg; break;
        case O_HELP:
            fputs(usage_text, stdout);
            status = 0;
            goto out;
        default:
            cg_cli_option_error(c, argv, &err);
            goto out;
        }
    }
    if (cg_cli_no_operands(argc, argv, &err) != CG_OK)
        goto out;
    if (issuer_path == NULL || issuer_key_path == NULL || out == NULL ||
        (cert_path == NULL) == (request_path == NULL) ||
        (signer_path == NULL) != (signer_key_path == NULL)) {
        cg_set_err(&err, "--issuer, --issuer-key, --out and one of --cert or --request are "
                         "required (--signer goes with --signer-key)");
        goto out;
    }
    if (this_text != NULL && cg_pki_parse_time(this_text, now, &this_update, &err) != CG_OK)
        goto out;
    if (next_text != NULL) {
        if (strcmp(next_text, "none") == 0)
            next_update = -1;
        else if (cg_pki_parse_time(next_text, now, &next_update, &err) != CG_OK)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        entries[i].reason = reason;
        entries[i].revoked_at = revoked_at;
    }
    if (cg_cli_load_first(issuer_path, &issuer, NULL, &err) != CG_OK ||
        cg_cli_load_first(issuer_key_path, NULL, &issuer_key, &err) != CG_OK)
        goto out;
    if (signer_path != NULL &&
        (cg_cli_load_first(signer_path, &signer, NULL, &err) != CG_OK ||
         cg_cli_load_first(signer_key_path, NULL, &signer_key, &err) != CG_OK))
        goto out;
    if (cert_path != NULL) {
        if (cg_cli_load_first(cert_path, &cert, NULL, &err) != CG_OK ||
            cg_ocsp_request(cert, issuer, NULL, 0, &req, &req_len, &err) != CG_OK)
            goto out;
    } else if (read_request(request_path, &req, &req_len, &err) != CG_OK) {
        goto out;
    }
    status = 1;
    if (cg_pki_ocsp_respond(req, req_len, issuer, signer ? signer : issuer,
                            signer_key ? signer_key : issuer_key, entries, n, this_update,
                            next_update, &resp, &resp_len, &err) != CG_OK ||
        cg_pki_write_atomic(out, resp, resp_len, 0644, &err) != CG_OK)
        goto out;
    printf("OCSP response (%zu bytes) written to %s\n", resp_len, out);
    status = 0;
out:
    if (status != 0 && err != NULL)
        fprintf(stderr, "certgate pki ocsp: %s\n", err);
    for (size_t i = 0; i < MAX_REVOKED; i++)
        X509_free(revoked_certs[i]);
    X509_free(issuer);
    X509_free(signer);
    X509_free(cert);
    EVP_PKEY_free(issuer_key);
    EVP_PKEY_free(signer_key);
    if (cert_path != NULL)
        OPENSSL_free(req);
    else
        free(req);
    OPENSSL_free(resp);
    free(err);
    return status;
}

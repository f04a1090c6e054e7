/*
 * cli_util.c: what the `certgate pki` commands read alike (see cli_util.h).
 */
#include "cli/cli_util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <strings.h>

#include "cert/load.h"
#include "cert/verdict.h"
#include "core/common.h"

int cg_cli_load_first(const char *path, X509 **cert, EVP_PKEY **key, char **err)
{
    struct cg_loaded l = {0};
    int rc = CG_ERR;

    if (cg_load_file(path, NULL, &l, err) != CG_OK)
        return CG_ERR;
    if (cert != NULL) {
        if (sk_X509_num(l.certs) == 0) {
            cg_set_err(err, "%s: holds no certificate", path);
            goto cleanup;
        }
        *cert = sk_X509_value(l.certs, 0);
        X509_up_ref(*cert);
    }
    if (key != NULL) {
        if (l.key == NULL) {
            cg_set_err(err, "%s: holds no private key", path);
            goto cleanup;
        }
        *key = l.key;
        l.key = NULL;
    }
    rc = CG_OK;
cleanup:
    cg_loaded_free(&l);
    return rc;
}

int cg_cli_parse_serial(const char *text, uint64_t *out, char **err)
{
    const char *p = strncasecmp(text, "0x", 2) == 0 ? text + 2 : text;
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    v = strtoull(p, &end, 16);
    /* strtoull takes a sign and wraps it; a serial has none */
    if (*p == '\0' || *p == '-' || errno != 0 || *end != '\0' || v == 0)
        return cg_set_err(err, "bad serial '%s': expected non-zero hex, at most 16 digits",
                          text);
    *out = v;
    return CG_OK;
}

int cg_cli_parse_reason(const char *text, int *out, char **err)
{
    char *end = NULL;
    long v;

    for (int i = 0; i <= 10; i++) {
        /* 7 is unassigned: its slug is empty and matches nothing */
        if (*cg_crl_reason_slug(i) != '\0' && strcasecmp(text, cg_crl_reason_slug(i)) == 0) {
            *out = i;
            return CG_OK;
        }
    }
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno == 0 && end != text && *end == '\0' && v >= 0 && v <= 10 && v != 7) {
        *out = (int)v;
        return CG_OK;
    }
    return cg_set_err(err, "bad --reason '%s' (see certgate pki crl --help)", text);
}

int cg_cli_option_error(int c, char **argv, char **err)
{
    if (c == ':')
        return cg_set_err(err, "%s needs a value", argv[optind - 1]);
    return cg_set_err(err, "unknown option '%s' (see --help)", argv[optind - 1]);
}

int cg_cli_no_operands(int argc, char **argv, char **err)
{
    if (optind < argc)
        return cg_set_err(err, "unexpected argument '%s'", argv[optind]);
    return CG_OK;
}

/*
 * cmd_verify.c: `certgate verify CERT [options] [--json]`, the Certification
 * Path tab on the command line. It calls exactly what the server calls per
 * handshake (cg_verdict_judge), so the two can never disagree.
 *
 * Exit status: 0 accepted, 1 rejected, 2 usage or input error.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cert/load.h"
#include "cert/ocsp.h"
#include "cert/verdict.h"
#include "cli/commands.h"
#include "cli/render.h"
#include "cli/verify_revocation.h"
#include "cert/ec_keydecode.h"
#include "core/common.h"

#define VERIFY_MAX_FILES 64

static const char usage_text[] =
    "usage: certgate verify CERT [options] [--json]\n"
    "\n"
    "Judges a client certificate as the server would and shows its certification\n"
    "path. CERT may be DER, PEM, a PEM bundle, PKCS#7 (.p7b) or PKCS#12 (.p12/.pfx);\n"
    "when it holds several certificates the first is the leaf, the rest its chain.\n"
    "\n"
    "trust material:\n"
    "  --stores DIR              the stores (root/ intermediate/ disallowed/ crl/)\n"
    "  --root FILE               trust FILE's certificates as anchors (repeatable; a\n"
    "                            non-self-signed certificate works as an anchor too)\n"
    "  --intermediate FILE       add CA certificates to the intermediate pool (repeatable)\n"
    "  --crl FILE                add CRLs (repeatable)\n"
    "  --chain FILE              certificates the client sends with CERT (repeatable)\n"
    "  --password-file FILE      password for a PKCS#12 CERT or chain\n"
    "policy:\n"
    "  --at TIME                 judge at TIME: ISO 8601 (2026-01-31T12:00:00Z) or @EPOCH\n"
    "  --purpose client|server|any           required extended key usage (client)\n"
    "  --revocation off|crl|ocsp|online      (default: crl when the trust holds CRLs)\n"
    "                            ocsp: the OCSP responder (or --ocsp-response FILE);\n"
    "                            online: OCSP, then local and fetched CRLs\n"
    "  --ocsp-response FILE      judge this saved DER OCSP response, offline\n"
    "  --max-ocsp-age SECONDS    an OCSP answer older than this is not used\n"
    "  --stale-grace SECONDS     accept answers this long past their nextUpdate (0)\n"
    "  --clock-skew SECONDS      how far ahead of the clock (or --at) the thisUpdate of\n"
    "                            an OCSP answer or a fetched or local CRL may be,\n"
    "                            0 to 3600 (300)\n"
    "  --timeout SECONDS         per fetch (5)\n"
    "  --max-crl-size BYTES      largest CRL fetched (64 MiB)\n"
    "  --ocsp-responder URL      ask this responder instead of the certificate's\n"
    "  --state-dir DIR           keep fetched answers there between runs\n"
    "  --ocsp-nonce              send a nonce and require it back (no cached answer)\n"
    "  --revocation-scope leaf|chain         which certificates need a CRL (chain)\n"
    "  --on-unknown deny|allow   revocation status unknown: refuse or note (deny)\n"
    "  --max-crl-age SECONDS     a CRL issued longer ago than this is not used\n"
    "  --policy OID              acceptable certificate policy (repeatable)\n"
    "  --explicit-policy  --inhibit-policy-mapping  --inhibit-any-policy\n"
    "  --max-depth N             maximum number of intermediates (10)\n"
    "  --anchor-checks all|validity|constraints|none\n"
    "                            what of the anchor's own certificate is checked (all);\n"
    "                            none: RFC 5280 anchors, a name and a key\n"
    "  --eku-strict leaf|chain   the leaf (or every CA too) must name the purpose in\n"
    "                            its EKU; anyExtendedKeyUsage alone does not do\n"
    "  --allow-sha1              accept SHA-1 (and MD5) signatures, refused by default\n"
    "  --ec-key-decoding builtin|provider    how EC public keys are decoded, as the\n"
    "                            server's ec_key_decoding (builtin); same verdicts\n"
    "output:\n"
    "  --json                    one JSON object instead of the tree\n"
    "\n"
    "exit status: 0 accepted, 1 rejected, 2 usage or input error\n";

enum {
    OPT_STORES = 256, OPT_ROOT, OPT_INTERMEDIATE, OPT_CRL, OPT_CHAIN, OPT_AT, OPT_PURPOSE,
    OPT_REVOCATION, OPT_SCOPE, OPT_ON_UNKNOWN, OPT_MAX_CRL_AGE, OPT_POLICY, OPT_EXPLICIT,
    OPT_INHIBIT_MAP, OPT_INHIBIT_ANY, OPT_MAX_DEPTH, OPT_PASSWORD_FILE, OPT_JSON,
    OPT_ANCHOR_CHECKS, OPT_EKU_STRICT, OPT_ALLOW_SHA1, OPT_OCSP_RESPONSE, OPT_MAX_OCSP_AGE,
    OPT_STALE_GRACE, OPT_TIMEOUT, OPT_MAX_CRL_SIZE, OPT_OCSP_RESPONDER, OPT_STATE_DIR, OPT_OCSP_NONCE,
    OPT_EC_KEY_DECODING, OPT_CLOCK_SKEW, OPT_HELP,
};

static const struct option long_options[] = {
    {"stores", required_argument, NULL, OPT_STORES},
    {"root", required_argument, NULL, OPT_ROOT},
    {"intermediate", required_argument, NULL, OPT_INTERMEDIATE},
    {"crl", required_argument, NULL, OPT_CRL},
    {"chain", required_argument, NULL, OPT_CHAIN},
    {"at", required_argument, NULL, OPT_AT},
    {"purpose", required_argument, NULL, OPT_PURPOSE},
    {"revocation", required_argument, NULL, OPT_REVOCATION},
    {"revocation-scope", required_argument, NULL, OPT_SCOPE},
    {"on-unknown", required_argument, NULL, OPT_ON_UNKNOWN},
    {"max-crl-age", required_argument, NULL, OPT_MAX_CRL_AGE},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"explicit-policy", no_argument, NULL, OPT_EXPLICIT},
    {"inhibit-policy-mapping", no_argument, NULL, OPT_INHIBIT_MAP},
    {"inhibit-any-policy", no_argument, NULL, OPT_INHIBIT_ANY},
    {"max-depth", required_argument, NULL, OPT_MAX_DEPTH},
    {"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
    {"json", no_argument, NULL, OPT_JSON},
    {"anchor-checks", required_argument, NULL, OPT_ANCHOR_CHECKS},
    {"eku-strict", required_argument, NULL, OPT_EKU_STRICT},
    {"allow-sha1", no_argument, NULL, OPT_ALLOW_SHA1},
    {"ocsp-response", required_argument, NULL, OPT_OCSP_RESPONSE},
    {"max-ocsp-age", required_argument, NULL, OPT_MAX_OCSP_AGE},
    {"stale-grace", required_argument, NULL, OPT_STALE_GRACE},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-crl-size", required_argument, NULL, OPT_MAX_CRL_SIZE},
    {"ocsp-responder", required_argument, NULL, OPT_OCSP_RESPONDER},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"ocsp-nonce", no_argument, NULL, OPT_OCSP_NONCE},
    {"clock-skew", required_argument, NULL, OPT_CLOCK_SKEW},
    {"ec-key-decoding", required_argument, NULL, OPT_EC_KEY_DECODING},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

struct file_list {
    const char *files[VERIFY_MAX_FILES];
    size_t n;
};

struct verify_args {
    const char *cert, *stores, *password_file;
    struct file_list roots, intermediates, crls, chains;
    time_t at;
    bool json, revocation_set;
    cg_ec_key_decoding_t ec_key_decoding;
    struct cg_policy policy;
    struct cg_verify_rev_args rev;
};

static int push_file(struct file_list *l, const char *opt, const char *file, char **err)
{
    if (l->n == VERIFY_MAX_FILES)
        return cg_set_err(err, "--%s: at most %d files", opt, VERIFY_MAX_FILES);
    l->files[l->n++] = file;
    return CG_OK;
}

/* ISO 8601 UTC ("2026-01-31", "2026-01-31T12:00:00Z", "2026-01-31 12:00:00") or @EPOCH. */
static int parse_time(const char *text, time_t *out, char **err)
{
    struct tm tm = {0};
    char *end = NULL;
    const char *rest;

    if (text[0] == '@') {
        long long v = 0;
        errno = 0;
        v = strtoll(text + 1, &end, 10);
        if (errno != 0 || end == text + 1 || *end != '\0')
            return cg_set_err(err, "--at '%s': not a number of seconds after @", text);
        *out = (time_t)v;
        return CG_OK;
    }
    rest = strptime(text, "%Y-%m-%d", &tm);
    if (rest != NULL && (*rest == 'T' || *rest == ' '))
        rest = strptime(rest + 1, "%H:%M:%S", &tm);
    if (rest != NULL && *rest == 'Z')
        rest++;
    if (rest == NULL || *rest != '\0')
        return cg_set_err(err, "--at '%s': expected ISO 8601 UTC such as "
                               "2026-01-31T12:00:00Z, or @EPOCH",
                          text);
    *out = timegm(&tm);
    return CG_OK;
}

static int parse_long(const char *opt, const char *text, long min, long max, long *out,
                      char **err)
{
    char *end = NULL;
    long v = 0;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return cg_set_err(err, "--%s '%s': expected a number from %ld to %ld", opt, text, min,
                          max);
    *out = v;
    return CG_OK;
}

static int parse_choice(const char *opt, const char *text, const char *const *names, int n,
                        int *out, char **err)
{
    char list[128] = "";

    for (int i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0) {
            *out = i;
            return CG_OK;
        }
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    }
    return cg_set_err(err, "--%s '%s': expected %s", opt, text, list);
}

static int parse_args(int argc, char **argv, struct verify_args *a, char **err)
{
    static const char *const purposes[] = {"client", "server", "any"};
    static const char *const revocations[] = {"off", "crl", "ocsp", "online"};
    static const char *const scopes[] = {"chain", "leaf"};
    static const char *const unknowns[] = {"deny", "allow"};
    static const char *const key_decodings[] = {"builtin", "provider"};
    size_t n_oids = 0;
    int c, choice;
    long v = 0;

    memset(a, 0, sizeof(*a));
    cg_policy_init(&a->policy);
    a->at = time(NULL);
    a->rev.clock_skew = CG_OCSP_CLOCK_SKEW_S;
    /* The stores' CRLs get the same leeway as OCSP answers and fetched CRLs. */
    a->policy.clock_skew = CG_OCSP_CLOCK_SKEW_S;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_options, NULL)) != -1) {
        const char *name = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        switch (c) {
        case OPT_STORES: a->stores = optarg; break;
        case OPT_ROOT: if (push_file(&a->roots, "root", optarg, err)) return CG_ERR; break;
        case OPT_INTERMEDIATE:
            if (push_file(&a->intermediates, "intermediate", optarg, err))
                return CG_ERR;
            break;
        case OPT_CRL: if (push_file(&a->crls, "crl", optarg, err)) return CG_ERR; break;
        case OPT_CHAIN: if (push_file(&a->chains, "chain", optarg, err)) return CG_ERR; break;
        case OPT_AT: if (parse_time(optarg, &a->at, err)) return CG_ERR; break;
        case OPT_EC_KEY_DECODING:
            if (parse_choice("ec-key-decoding", optarg, key_decodings, 2, &choice, err))
                return CG_ERR;
            a->ec_key_decoding = choice == 0 ? CG_EC_KEYS_BUILTIN : CG_EC_KEYS_PROVIDER;
            break;
        case OPT_PURPOSE:
            if (parse_choice("purpose", optarg, purposes, 3, &choice, err))
                return CG_ERR;
            a->policy.purpose = (cg_purpose_t)choice;
            break;
        case OPT_REVOCATION:
            if (parse_choice("revocation", optarg, revocations, 4, &choice, err))
                return CG_ERR;
            a->rev.mode = (cg_verify_rev_mode_t)choice;
            a->policy.revocation = choice == 1 ? CG_REVOCATION_CRL : CG_REVOCATION_OFF;
            a->revocation_set = true;
            break;
        case OPT_SCOPE:
            if (parse_choice("revocation-scope", optarg, scopes, 2, &choice, err))
                return CG_ERR;
            a->policy.scope = (cg_revocation_scope_t)choice;
            break;
        case OPT_ON_UNKNOWN:
            if (parse_choice("on-unknown", optarg, unknowns, 2, &choice, err))
                return CG_ERR;
            a->policy.on_unknown = (cg_on_unknown_t)choice;
            break;
        case OPT_MAX_CRL_AGE:
            if (parse_long("max-crl-age", optarg, 1, LONG_MAX, &v, err))
                return CG_ERR;
            a->policy.max_crl_age = v;
            break;
        case OPT_POLICY:
            if (n_oids + 1 >= CG_POLICY_MAX_OIDS)
                return cg_set_err(err, "--policy: at most %d OIDs", CG_POLICY_MAX_OIDS - 1);
            a->policy.policy_oids[n_oids++] = optarg;
            break;
        case OPT_EXPLICIT: a->policy.explicit_policy = true; break;
        case OPT_INHIBIT_MAP: a->policy.inhibit_policy_mapping = true; break;
        case OPT_INHIBIT_ANY: a->policy.inhibit_any_policy = true; break;
        case OPT_MAX_DEPTH:
            if (parse_long("max-depth", optarg, 1, 100, &v, err))
                return CG_ERR;
            a->policy.max_depth = (int)v;
            break;
        case OPT_PASSWORD_FILE: a->password_file = optarg; break;
        case OPT_JSON: a->json = true; break;
        case OPT_ALLOW_SHA1: a->policy.allow_sha1 = true; break;
        case OPT_ANCHOR_CHECKS: {
            static const char *const checks[] = {"all", "validity", "constraints", "none"};
            if (parse_choice("anchor-checks", optarg, checks, 4, &choice, err))
                return CG_ERR;
            a->policy.anchor_skip_validity = choice == 2 || choice == 3;
            a->policy.anchor_skip_constraints = choice == 1 || choice == 3;
            break;
        }
        case OPT_EKU_STRICT: {
            static const char *const scopes2[] = {"leaf", "chain"};
            if (parse_choice("eku-strict", optarg, scopes2, 2, &choice, err))
                return CG_ERR;
            a->policy.eku_mode = choice == 0 ? CG_EKU_STRICT_LEAF : CG_EKU_STRICT;
            break;
        }
        case OPT_OCSP_RESPONSE: a->rev.ocsp_response = optarg; break;
        case OPT_OCSP_RESPONDER: a->rev.ocsp_responder = optarg; break;
        case OPT_STATE_DIR: a->rev.state_dir = optarg; break;
        case OPT_OCSP_NONCE: a->rev.ocsp_nonce = true; break;
        case OPT_MAX_OCSP_AGE:
            if (parse_long("max-ocsp-age", optarg, 1, LONG_MAX, &v, err))
                return CG_ERR;
            a->rev.max_ocsp_age = v;
            break;
        case OPT_STALE_GRACE:
            if (parse_long("stale-grace", optarg, 0, LONG_MAX, &v, err))
                return CG_ERR;
            a->rev.stale_grace = v;
            break;
        case OPT_CLOCK_SKEW:
            if (parse_long("clock-skew", optarg, 0, 3600, &v, err))
                return CG_ERR;
            a->rev.clock_skew = v;
            a->policy.clock_skew = v;
            break;
        case OPT_TIMEOUT:
            if (parse_long("timeout", optarg, 1, 3600, &v, err))
                return CG_ERR;
            a->rev.timeout_ms = (unsigned)v * 1000u;
            break;
        case OPT_MAX_CRL_SIZE:
            if (parse_long("max-crl-size", optarg, 1024, 1L << 30, &v, err))
                return CG_ERR;
            a->rev.max_crl_bytes = (size_t)v;
            break;
        case 'h':
        case OPT_HELP: return CG_DECLINED;
        case ':': return cg_set_err(err, "%s: needs a value", name);
        default: return cg_set_err(err, "unknown option '%s'", name);
        }
    }
    if (optind >= argc)
        return cg_set_err(err, "which certificate? give CERT");
    if (optind + 1 < argc)
        return cg_set_err(err, "one certificate at a time (got '%s' after '%s')",
                          argv[optind + 1], argv[optind]);
    a->cert = argv[optind];
    if (a->stores == NULL && a->roots.n == 0)
        return cg_set_err(err, "no trust anchors: give --stores DIR or --root FILE");
    return CG_OK;
}

/* Loads `file` and checks it holds what the option wants. */
static int load(const char *file, const struct cg_load_opts *lo, bool want_crl,
                struct cg_loaded *l, char **err)
{
    if (cg_load_file(file, lo, l, err) != CG_OK)
        return CG_ERR;
    if (want_crl && sk_X509_CRL_num(l->crls) == 0)
        return cg_set_err(err, "%s: holds no CRL", file);
    if (!want_crl && sk_X509_num(l->certs) == 0)
        return cg_set_err(err, "%s: holds no certificate", file);
    return CG_OK;
}

static int add_trust_files(struct cg_trust *t, const struct file_list *files,
                           int (*add)(struct cg_trust *, X509 *),
                           const struct cg_load_opts *lo, char **err)
{
    for (size_t i = 0; i < files->n; i++) {
        struct cg_loaded l = {0};
        int rc = load(files->files[i], lo, false, &l, err);
        for (int k = 0; rc == CG_OK && k < sk_X509_num(l.certs); k++) {
            if (add(t, sk_X509_value(l.certs, k)) != CG_OK)
                rc = cg_set_err(err, "%s: cannot add certificate %d", files->files[i], k + 1);
        }
        cg_loaded_free(&l);
        if (rc != CG_OK)
            return CG_ERR;
    }
    return CG_OK;
}

static int add_crl_files(struct cg_trust *t, const struct file_list *files,
                         const struct cg_load_opts *lo, char **err)
{
    for (size_t i = 0; i < files->n; i++) {
        struct cg_loaded l = {0};
        int rc = load(files->files[i], lo, true, &l, err);
        for (int k = 0; rc == CG_OK && k < sk_X509_CRL_num(l.crls); k++) {
            if (cg_trust_add_crl(t, sk_X509_CRL_value(l.crls, k)) != CG_OK)
                rc = cg_set_err(err, "%s: cannot add CRL %d", files->files[i], k + 1);
        }
        cg_loaded_free(&l);
        if (rc != CG_OK)
            return CG_ERR;
    }
    return CG_OK;
}

/* The client side: CERT's first certificate is the leaf, everything else
 * (the rest of CERT, then each --chain) is what the client sent with it. */
struct client {
    X509 *leaf;
    STACK_OF(X509) *chain;
    struct cg_cert_origin *origins;
    size_t n_origins;
};

static void client_free(struct client *c)
{
    X509_free(c->leaf);
    sk_X509_pop_free(c->chain, X509_free);
    free(c->origins);
}

static int client_take(struct client *c, const char *file, STACK_OF(X509) *certs, char **err)
{
    for (int i = 0; i < sk_X509_num(certs); i++) {
        X509 *x = sk_X509_value(certs, i);
        struct cg_cert_origin *o;
        if (!X509_up_ref(x))
            return cg_set_err(err, "out of memory");
        if (c->leaf == NULL) {
            c->leaf = x;
        } else if (!sk_X509_push(c->chain, x)) {
            X509_free(x);
            return cg_set_err(err, "out of memory");
        }
        o = realloc(c->origins, (c->n_origins + 1) * sizeof(*o));
        if (o == NULL)
            return cg_set_err(err, "out of memory");
        c->origins = o;
        c->origins[c->n_origins++] = (struct cg_cert_origin){.cert = x, .file = file};
    }
    return CG_OK;
}

static int load_client(const struct verify_args *a, const struct cg_load_opts *lo,
                       struct client *c, char **err)
{
    struct cg_loaded l = {0};
    int rc = CG_ERR;

    c->chain = sk_X509_new_null();
    if (c->chain == NULL)
        return cg_set_err(err, "out of memory");
    if (load(a->cert, lo, false, &l, err) != CG_OK || client_take(c, a->cert, l.certs, err))
        goto out;
    for (size_t i = 0; i < a->chains.n; i++) {
        cg_loaded_free(&l);
        if (load(a->chains.files[i], lo, false, &l, err) != CG_OK ||
            client_take(c, a->chains.files[i], l.certs, err))
            goto out;
    }
    rc = CG_OK;
out:
    cg_loaded_free(&l);
    return rc;
}

int cg_cmd_verify(int argc, char **argv)
{
    struct verify_args a;
    struct cg_load_opts lo = {0};
    struct client client = {0};
    struct cg_trust *trust = NULL;
    struct cg_verdict v = {0};
    struct cg_verify_rev *rev = NULL;
    char *err = NULL, *password = NULL;
    int status = 2, rc;

    rc = parse_args(argc, argv, &a, &err);
    if (rc == CG_DECLINED) {
        fputs(usage_text, stdout);
        status = 0;
        goto out;
    }
    if (rc != CG_OK) {
        fprintf(stderr, "certgate verify: %s\n(see certgate verify --help)\n", err);
        goto out;
    }
    /* Before any certificate is read, as `certgate serve` does. */
    if (cg_ec_keydecode_select(a.ec_key_decoding, &err) != CG_OK)
        goto fail;
    if (a.password_file != NULL) {
        password = cg_load_password_file(a.password_file, &err);
        if (password == NULL)
            goto fail;
        lo.password = password;
    }
    trust = a.stores != NULL ? cg_trust_load_dir(a.stores, &err) : cg_trust_new();
    if (trust == NULL)
        goto fail;
    if (add_trust_files(trust, &a.roots, cg_trust_add_root, &lo, &err) ||
        add_trust_files(trust, &a.intermediates, cg_trust_add_intermediate, &lo, &err) ||
        add_crl_files(trust, &a.crls, &lo, &err) || load_client(&a, &lo, &client, &err))
        goto fail;
    if (!a.revocation_set)
        a.policy.revocation = cg_trust_crl_count(trust) > 0 ? CG_REVOCATION_CRL
                                                            : CG_REVOCATION_OFF;
    if (cg_verify_rev_setup(&a.rev, trust, &a.policy, &rev, &err) != CG_OK)
        goto fail;
    if (cg_verdict_judge_ex(client.leaf, client.chain, trust, a.at, &a.policy, client.origins,
                            client.n_origins, &v) != CG_OK) {
        cg_set_err(&err, "out of memory");
        goto fail;
    }
    if (a.json) {
        if (cg_render_verdict_json(stdout, &v) != CG_OK) {
            cg_set_err(&err, "cannot write the JSON output");
            goto fail;
        }
    } else {
        cg_render_verdict_text(stdout, &v, cg_render_utf8(stdout));
        cg_verify_rev_print(stdout, rev, &v);
    }
    status = v.reason == CG_REASON_OK ? 0 : 1;
    goto out;
fail:
    fprintf(stderr, "certgate verify: %s\n", err ? err : "out of memory");
    status = 2;
out:
    if (fflush(stdout) != 0 && status != 2) {
        fprintf(stderr, "certgate verify: cannot write the output\n");
        status = 2;
    }
    cg_verdict_free(&v);
    cg_verify_rev_free(rev);
    client_free(&client);
    cg_trust_unref(trust);
    free(password);
    free(err);
    return status;
}

/*
 * cmd_store.c: `certgate store import|list|show|remove`, the Certificates
 * snap-in on the command line. Exit status: 0 done, 1 refused by a store rule
 * (or nothing matched), 2 usage or input error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cert/load.h"
#include "cert/store.h"
#include "cli/commands.h"
#include "core/common.h"

#define DEFAULT_STORES "./stores"
#define SHOW_MAX_CRL_ENTRIES 100

static void usage(FILE *out)
{
    fprintf(out,
            "usage: certgate store <command> [--stores DIR] [options]\n"
            "\n"
            "  import FILE... [--to root|intermediate|disallowed|crl] [--force]\n"
            "                 [--password-file F] [--max-bytes N]\n"
            "        import certificates and CRLs (DER, PEM, Base64, .p7b, .p12/.pfx);\n"
            "        self-signed CAs go to root/, other CAs to intermediate/, CRLs to crl/\n"
            "        (after checking their issuer and signature). A non-CA certificate is\n"
            "        refused unless --to disallowed; --to that contradicts what a\n"
            "        certificate is (an intermediate into root) is refused unless --force.\n"
            "        Each FILE is all or nothing.\n"
            "  list [--json] [--store KIND]\n"
            "        what the stores hold: Issued To, Issued By, Expiration, Thumbprint\n"
            "  show THUMBPRINT [--json] [--store KIND]\n"
            "        one certificate or CRL in detail (a unique prefix of 4+ hex digits)\n"
            "  remove THUMBPRINT [--store KIND]\n"
            "        delete it from the store (a unique prefix of 4+ hex digits)\n"
            "\n"
            "  --stores DIR   the stores directory (default " DEFAULT_STORES ")\n");
}

struct args {
    const char *stores;
    const char *to;
    const char *store;
    const char *password_file;
    const char *max_bytes;
    bool force, json, help;
    char **pos;        /* positional arguments, borrowed from argv */
    int n_pos;
};

static int parse_args(int argc, char **argv, struct args *a, char **err)
{
    enum { O_STORES = 256, O_TO, O_STORE, O_PASSWORD_FILE, O_MAX_BYTES, O_FORCE, O_JSON,
           O_HELP };
    static const struct option opts[] = {
        {"stores", required_argument, NULL, O_STORES},
        {"to", required_argument, NULL, O_TO},
        {"store", required_argument, NULL, O_STORE},
        {"password-file", required_argument, NULL, O_PASSWORD_FILE},
        {"max-bytes", required_argument, NULL, O_MAX_BYTES},
        {"force", no_argument, NULL, O_FORCE},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(a, 0, sizeof(*a));
    a->stores = DEFAULT_STORES;
    optind = 0;
    opterr = 0;
    /* "-": options and file names may interleave, files keep their order. */
    while ((c = getopt_long(argc, argv, "-:h", opts, NULL)) != -1) {
        switch (c) {
        case 1:
            argv[a->n_pos++] = optarg;   /* reuse argv's slots: they were already read */
            break;
        case O_STORES: a->stores = optarg; break;
        case O_TO: a->to = optarg; break;
        case O_STORE: a->store = optarg; break;
        case O_PASSWORD_FILE: a->password_file = optarg; break;
        case O_MAX_BYTES: a->max_bytes = optarg; break;
        case O_FORCE: a->force = true; break;
        case O_JSON: a->json = true; break;
        case 'h':
        case O_HELP: a->help = true; break;
        case ':':
            return cg_set_err(err, "%s needs a value", argv[optind - 1]);
        default:
            return cg_set_err(err, "unknown option '%s' (see certgate store --help)",
                              argv[optind - 1]);
        }
    }
    a->pos = argv;
    return CG_OK;
}

static int only_kind(const struct args *a, cg_store_kind_t *k, char **err)
{
    *k = CG_STORE_AUTO;
    if (a->store != NULL && cg_store_kind_from_name(a->store, k) != CG_OK)
        return cg_set_err(err, "bad --store '%s': expected root, intermediate, disallowed or crl",
                          a->store);
    return CG_OK;
}

static char *short_name(const char *rfc2253_fallback, const X509_NAME *name)
{
    if (name != NULL)
        return cg_store_display_name(name);
    return strdup(rfc2253_fallback != NULL ? rfc2253_fallback : "");
}

/* ---- import ------------------------------------------------------------- */

static int cmd_import(struct args *a)
{
    struct cg_load_opts load = {0};
    struct cg_store_import_opts opts = {.to = CG_STORE_AUTO, .load = &load};
    char *err = NULL, *password = NULL;
    int status = 0;

    if (a->n_pos < 1) {
        fprintf(stderr, "certgate store import: give the file(s) to import\n");
        return 2;
    }
    if (a->to != NULL && cg_store_kind_from_name(a->to, &opts.to) != CG_OK) {
        fprintf(stderr, "certgate store import: bad --to '%s': expected root, intermediate, "
                        "disallowed or crl\n", a->to);
        return 2;
    }
    if (a->max_bytes != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(a->max_bytes, &end, 10);
        if (*a->max_bytes == '\0' || *a->max_bytes == '-' || *end != '\0' || errno != 0 ||
            v == 0 || v > (1ULL << 32)) {
            fprintf(stderr, "certgate store import: bad --max-bytes '%s'\n", a->max_bytes);
            return 2;
        }
        load.max_bytes = (size_t)v;
    }
    if (a->password_file != NULL) {
        if ((password = cg_load_password_file(a->password_file, &err)) == NULL) {
            fprintf(stderr, "certgate store import: %s\n", err);
            free(err);
            return 2;
        }
        load.password = password;
    }
    opts.force = a->force;
    for (int i = 0; i < a->n_pos; i++) {
        struct cg_store_import_report rep = {0};
        int rc = cg_store_import(a->stores, a->pos[i], &opts, &rep, &err);
        if (rc != CG_OK) {
            fprintf(stderr, "certgate store import: %s\n", err != NULL ? err : "failed");
            if (rc == CG_DECLINED)
                fprintf(stderr, "certgate store import: %s: nothing imported\n", a->pos[i]);
            int s = rc == CG_DECLINED ? 1 : 2;
            status = s > status ? s : status;
            free(err);
            err = NULL;
            continue;
        }
        for (size_t j = 0; j < rep.n_items; j++) {
            const struct cg_store_import_item *it = &rep.items[j];
            if (it->action == CG_STORE_ADDED)
                printf("added to %s: %s  %s\n", cg_store_kind_name(it->kind), it->thumbprint,
                       it->subject);
            else if (it->action == CG_STORE_ALREADY)
                printf("already in %s: %s  %s\n", cg_store_kind_name(it->kind), it->thumbprint,
                       it->subject);
            if (it->warning != NULL)
                fprintf(stderr, "warning: %s\n", it->warning);
        }
        cg_store_import_report_free(&rep);
    }
    free(password);
    return status;
}

/* ---- list --------------------------------------------------------------- */

static const char *date_part(const char *iso, char buf[16])
{
    if (iso[0] == '\0')
        return "-";
    snprintf(buf, 16, "%.10s", iso);
    return buf;
}

static json_t *entry_json(const struct cg_store_entry *e)
{
    json_t *o = json_object();
    json_t *flags = json_array();

    json_object_set_new(o, "store", json_string(cg_store_kind_name(e->kind)));
    json_object_set_new(o, "path", json_string(e->path));
    if (e->problem != NULL)
        json_object_set_new(o, "problem", json_string(e->problem));
    if (e->cert == NULL && e->crl == NULL) {
        json_decref(flags);
        return o;
    }
    json_object_set_new(o, "thumbprint", json_string(e->thumbprint));
    if (e->cert != NULL) {
        char *to = cg_store_display_name(X509_get_subject_name(e->cert));
        char *by = cg_store_display_name(X509_get_issuer_name(e->cert));
        json_object_set_new(o, "issued_to", json_string(to != NULL ? to : ""));
        json_object_set_new(o, "issued_by", json_string(by != NULL ? by : ""));
        free(to);
        free(by);
        json_object_set_new(o, "subject", json_string(e->issued_to));
        json_object_set_new(o, "issuer", json_string(e->issued_by));
        json_object_set_new(o, "not_before", json_string(e->not_before));
        json_object_set_new(o, "not_after", json_string(e->not_after));
        json_object_set_new(o, "ca", json_boolean(cg_store_is_ca(e->cert)));
        json_object_set_new(o, "self_signed", json_boolean(cg_store_is_self_signed(e->cert)));
        if (e->expired)
            json_array_append_new(flags, json_string("expired"));
        if (e->not_self_signed_in_root)
            json_array_append_new(flags, json_string("not-self-signed-in-root"));
        if (e->not_ca)
            json_array_append_new(flags, json_string("not-a-ca"));
    } else {
        json_object_set_new(o, "issuer", json_string(e->issued_by));
        json_object_set_new(o, "this_update", json_string(e->not_before));
        json_object_set_new(o, "next_update", e->not_after[0] != '\0' ? json_string(e->not_after)
                                                                      : json_null());
        json_object_set_new(o, "entries", json_integer((json_int_t)e->crl_entries));
        json_object_set_new(o, "crl_number",
                            e->crl_number >= 0 ? json_integer(e->crl_number) : json_null());
        if (e->expired)
            json_array_append_new(flags, json_string("stale"));
    }
    json_object_set_new(o, "flags", flags);
    return o;
}

static void print_flags(const struct cg_store_entry *e)
{
    if (e->problem != NULL)
        printf("    ! %s: %s\n", e->path, e->problem);
    if (e->cert != NULL && e->expired)
        printf("    ! expired on %s: chains through it are refused as expired\n", e->not_after);
    if (e->not_self_signed_in_root)
        printf("    ! not self-signed: an intermediate in root/ is trusted on its own; move it "
               "with `certgate store remove %.16s --store root` and "
               "`certgate store import FILE` (it goes to intermediate/)\n", e->thumbprint);
    if (e->not_ca)
        printf("    ! not a CA certificate: it cannot issue anything\n");
    if (e->crl != NULL && e->expired)
        printf("    ! stale: nextUpdate %s has passed; import a fresh CRL from this issuer\n",
               e->not_after);
}

static int cmd_list(struct args *a)
{
    struct cg_store_list l = {0};
    cg_store_kind_t only;
    char *err = NULL;
    int status = 0;

    if (a->n_pos > 0) {
        fprintf(stderr, "certgate store list: unexpected argument '%s'\n", a->pos[0]);
        return 2;
    }
    if (only_kind(a, &only, &err) != CG_OK || cg_store_list(a->stores, 0, &l, &err) != CG_OK) {
        fprintf(stderr, "certgate store list: %s\n", err);
        free(err);
        return 2;
    }
    if (a->json) {
        json_t *root = json_object(), *certs = json_array(), *crls = json_array(),
               *problems = json_array();
        json_object_set_new(root, "stores", json_string(a->stores));
        for (size_t i = 0; i < l.n; i++) {
            const struct cg_store_entry *e = &l.entries[i];
            if (only != CG_STORE_AUTO && e->kind != only)
                continue;
            json_t *o = entry_json(e);
            if (e->cert != NULL)
                json_array_append_new(certs, o);
            else if (e->crl != NULL)
                json_array_append_new(crls, o);
            else
                json_array_append_new(problems, o);
        }
        json_object_set_new(root, "certificates", certs);
        json_object_set_new(root, "crls", crls);
        json_object_set_new(root, "problems", problems);
        char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            printf("%s\n", s);
        else
            status = 2;
        free(s);
        json_decref(root);
        cg_store_list_free(&l);
        return status;
    }

    size_t n_certs = 0, n_crls = 0;
    for (size_t i = 0; i < l.n; i++) {
        const struct cg_store_entry *e = &l.entries[i];
        if (only != CG_STORE_AUTO && e->kind != only)
            continue;
        if (e->crl != NULL)
            continue;
        if (n_certs++ == 0)
            printf("%-13s %-32s %-32s %-10s  %s\n", "Store", "Issued To", "Issued By",
                   "Expiration", "Thumbprint (SHA-256)");
        if (e->cert == NULL) {
            printf("%-13s (unreadable)\n", cg_store_kind_name(e->kind));
            print_flags(e);
            continue;
        }
        char *to = short_name(e->issued_to, X509_get_subject_name(e->cert));
        char *by = short_name(e->issued_by, X509_get_issuer_name(e->cert));
        char d[16];
        printf("%-13s %-32s %-32s %-10s  %s\n", cg_store_kind_name(e->kind), to ? to : "?",
               by ? by : "?", date_part(e->not_after, d), e->thumbprint);
        free(to);
        free(by);
        print_flags(e);
    }
    for (size_t i = 0; i < l.n; i++) {
        const struct cg_store_entry *e = &l.entries[i];
        if (e->crl == NULL || (only != CG_STORE_AUTO && e->kind != only))
            continue;
        if (n_crls++ == 0)
            printf("%s%-32s %-10s  %-10s  %7s  %6s  %s\n", n_certs > 0 ? "\n" : "", "CRL Issuer",
                   "This Upd.", "Next Upd.", "Entries", "Number", "Thumbprint (SHA-256)");
        char *by = short_name(e->issued_by, X509_CRL_get_issuer(e->crl));
        char d1[16], d2[16], num[24];
        if (e->crl_number >= 0)
            snprintf(num, sizeof(num), "%ld", e->crl_number);
        else
            snprintf(num, sizeof(num), "-");
        printf("%-32s %-10s  %-10s  %7zu  %6s  %s\n", by ? by : "?", date_part(e->not_before, d1),
               date_part(e->not_after, d2), e->crl_entries, num, e->thumbprint);
        free(by);
        print_flags(e);
    }
    if (n_certs == 0 && n_crls == 0)
        printf("%s: the stores are empty\n", a->stores);
    cg_store_list_free(&l);
    return 0;
}

/* ---- show --------------------------------------------------------------- */

static char *bio_text(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, data, (size_t)n);
    s[n > 0 ? n : 0] = '\0';
    return s;
}

/* The text OpenSSL prints for one extension, or NULL when absent. */
static char *ext_text(X509 *cert, int nid)
{
    int idx = X509_get_ext_by_NID(cert, nid, -1);
    BIO *bio;
    char *s = NULL;

    if (idx < 0)
        return NULL;
    if ((bio = BIO_new(BIO_s_mem())) == NULL)
        return NULL;
    if (X509V3_EXT_print(bio, X509_get_ext(cert, idx), 0, 0) == 1)
        s = bio_text(bio);
    BIO_free(bio);
    ERR_clear_error();
    /* Multi-line values (SANs, AIA) read better on one line. */
    for (char *p = s; p != NULL && *p != '\0'; p++) {
        if (*p == '\n')
            *p = (p[1] != '\0') ? ' ' : '\0';
    }
    return s;
}

static char *serial_hex(const ASN1_INTEGER *serial)
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    char *s = hex != NULL ? strdup(hex) : NULL;
    OPENSSL_free(hex);
    BN_free(bn);
    return s;
}

static void show_cert(const struct cg_store_entry *e, json_t *o)
{
    X509 *c = e->cert;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    char sha1[41] = "";
    static const struct { int nid; const char *label, *key; } exts[] = {
        {NID_basic_constraints, "Basic constraints", "basic_constraints"},
        {NID_key_usage, "Key usage", "key_usage"},
        {NID_ext_key_usage, "Extended key usage", "extended_key_usage"},
        {NID_subject_key_identifier, "Subject key id", "subject_key_id"},
        {NID_authority_key_identifier, "Authority key id", "authority_key_id"},
        {NID_subject_alt_name, "Subject alt names", "subject_alt_names"},
        {NID_crl_distribution_points, "CRL distribution", "crl_distribution_points"},
        {NID_info_access, "Authority info", "authority_info_access"},
        {NID_certificate_policies, "Policies", "certificate_policies"},
        {NID_name_constraints, "Name constraints", "name_constraints"},
    };

    if (X509_digest(c, EVP_sha1(), md, &n)) {
        for (unsigned i = 0; i < n && i < 20; i++)
            sprintf(sha1 + 2 * i, "%02x", md[i]);
    }
    char *serial = serial_hex(X509_get0_serialNumber(c));
    EVP_PKEY *pk = X509_get0_pubkey(c);
    char key[64];
    snprintf(key, sizeof(key), "%s %d bits", pk != NULL ? EVP_PKEY_get0_type_name(pk) : "?",
             pk != NULL ? EVP_PKEY_get_bits(pk) : 0);
    bool ss = cg_store_is_self_signed(c), ca = cg_store_is_ca(c);

    if (o != NULL) {
        json_object_set_new(o, "serial", json_string(serial != NULL ? serial : ""));
        json_object_set_new(o, "sha1", json_string(sha1));
        json_object_set_new(o, "public_key", json_string(key));
        json_object_set_new(o, "signature_algorithm",
                            json_string(OBJ_nid2ln(X509_get_signature_nid(c))));
        json_t *x = json_object();
        for (size_t i = 0; i < CG_ARRAY_LEN(exts); i++) {
            char *t = ext_text(c, exts[i].nid);
            if (t != NULL)
                json_object_set_new(x, exts[i].key, json_string(t));
            free(t);
        }
        json_object_set_new(o, "extensions", x);
    } else {
        printf("Store:              %s\n", cg_store_kind_name(e->kind));
        printf("File:               %s\n", e->path);
        printf("Subject:            %s\n", e->issued_to);
        printf("Issuer:             %s\n", e->issued_by);
        printf("Serial:             %s\n", serial != NULL ? serial : "?");
        printf("Valid from:         %s\n", e->not_before);
        printf("Valid to:           %s%s\n", e->not_after, e->expired ? "  (EXPIRED)" : "");
        printf("Thumbprint SHA-256: %s\n", e->thumbprint);
        printf("Thumbprint SHA-1:   %s\n", sha1);
        printf("Public key:         %s\n", key);
        printf("Signature:          %s\n", OBJ_nid2ln(X509_get_signature_nid(c)));
        printf("CA:                 %s, %s\n", ca ? "yes" : "no",
               ss ? "self-signed" : "issued by another CA");
        for (size_t i = 0; i < CG_ARRAY_LEN(exts); i++) {
            char *t = ext_text(c, exts[i].nid);
            if (t != NULL)
                printf("%-19s %s\n", exts[i].label, t);
            free(t);
        }
        print_flags(e);
    }
    free(serial);
}

static void show_crl(const struct cg_store_entry *e, json_t *o)
{
    STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(e->crl);
    json_t *arr = o != NULL ? json_array() : NULL;

    if (o == NULL) {
        printf("Store:              crl\n");
        printf("File:               %s\n", e->path);
        printf("Issuer:             %s\n", e->issued_by);
        printf("This update:        %s\n", e->not_before);
        printf("Next update:        %s%s\n", e->not_after[0] ? e->not_after : "(none)",
               e->expired ? "  (STALE)" : "");
        if (e->crl_number >= 0)
            printf("CRL number:         %ld\n", e->crl_number);
        printf("Thumbprint SHA-256: %s\n", e->thumbprint);
        printf("Revoked entries:    %zu\n", e->crl_entries);
    }
    for (int i = 0; i < sk_X509_REVOKED_num(revs) && i < SHOW_MAX_CRL_ENTRIES; i++) {
        X509_REVOKED *r = sk_X509_REVOKED_value(revs, i);
        char *serial = serial_hex(X509_REVOKED_get0_serialNumber(r));
        struct tm tm;
        char when[32] = "";
        if (ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(r), &tm))
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
        long code = reason != NULL ? ASN1_ENUMERATED_get(reason) : -1;
        ASN1_ENUMERATED_free(reason);
        ERR_clear_error();
        static const char *const names[] = {"unspecified", "keyCompromise", "cACompromise",
                                            "affiliationChanged", "superseded",
                                            "cessationOfOperation", "certificateHold", "?",
                                            "removeFromCRL", "privilegeWithdrawn",
                                            "aACompromise"};
        const char *rname = code >= 0 && code <= 10 ? names[code] : NULL;
        if (arr != NULL) {
            json_t *x = json_object();
            json_object_set_new(x, "serial", json_string(serial != NULL ? serial : ""));
            json_object_set_new(x, "revoked_at", json_string(when));
            json_object_set_new(x, "reason", rname != NULL ? json_string(rname) : json_null());
            json_array_append_new(arr, x);
        } else {
            printf("  %-40s %s%s%s\n", serial != NULL ? serial : "?", when, rname ? "  " : "",
                   rname ? rname : "");
        }
        free(serial);
    }
    if (sk_X509_REVOKED_num(revs) > SHOW_MAX_CRL_ENTRIES && o == NULL)
        printf("  ... %d more\n", sk_X509_REVOKED_num(revs) - SHOW_MAX_CRL_ENTRIES);
    if (arr != NULL)
        json_object_set_new(o, "revoked", arr);
    if (o == NULL)
        print_flags(e);
}

static int find_one(struct args *a, const char *cmd, struct cg_store_list *l, size_t *idx)
{
    cg_store_kind_t only;
    char *err = NULL;
    int rc;

    if (a->n_pos != 1) {
        fprintf(stderr, "certgate store %s: give one thumbprint (or a unique prefix)\n", cmd);
        return 2;
    }
    if (only_kind(a, &only, &err) != CG_OK || cg_store_list(a->stores, 0, l, &err) != CG_OK) {
        fprintf(stderr, "certgate store %s: %s\n", cmd, err);
        free(err);
        return 2;
    }
    rc = cg_store_find(l, a->pos[0], only, idx, &err);
    if (rc != CG_OK) {
        fprintf(stderr, "certgate store %s: %s\n", cmd, err);
        free(err);
        return rc == CG_DECLINED ? 1 : 2;
    }
    return 0;
}

static int cmd_show(struct args *a)
{
    struct cg_store_list l = {0};
    size_t idx = 0;
    int status = find_one(a, "show", &l, &idx);

    if (status != 0) {
        cg_store_list_free(&l);
        return status;
    }
    const struct cg_store_entry *e = &l.entries[idx];
    if (a->json) {
        json_t *o = entry_json(e);
        if (e->cert != NULL)
            show_cert(e, o);
        else
            show_crl(e, o);
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", s != NULL ? s : "{}");
        free(s);
        json_decref(o);
    } else if (e->cert != NULL) {
        show_cert(e, NULL);
    } else {
        show_crl(e, NULL);
    }
    cg_store_list_free(&l);
    return 0;
}

static int cmd_remove(struct args *a)
{
    struct cg_store_list l = {0};
    size_t idx = 0;
    char *err = NULL;
    int status = find_one(a, "remove", &l, &idx);

    if (status == 0) {
        const struct cg_store_entry *e = &l.entries[idx];
        if (cg_store_remove_entry(e, &err) != CG_OK) {
            fprintf(stderr, "certgate store remove: %s\n", err);
            free(err);
            status = 1;
        } else {
            printf("removed from %s: %s  %s\n", cg_store_kind_name(e->kind), e->thumbprint,
                   e->cert != NULL ? e->issued_to : e->issued_by);
        }
    }
    cg_store_list_free(&l);
    return status;
}

int cg_cmd_store(int argc, char **argv)
{
    struct args a;
    char *err = NULL;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (parse_args(argc - 1, argv + 1, &a, &err) != CG_OK) {
        fprintf(stderr, "certgate store %s: %s\n", cmd, err);
        free(err);
        return 2;
    }
    if (a.help) {
        usage(stdout);
        return 0;
    }
    bool is_import = strcmp(cmd, "import") == 0;
    if (!is_import && (a.to != NULL || a.force || a.password_file != NULL || a.max_bytes != NULL)) {
        fprintf(stderr, "certgate store %s: --to, --force, --password-file and --max-bytes are "
                        "import options\n", cmd);
        return 2;
    }
    if (is_import)
        return cmd_import(&a);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(&a);
    if (strcmp(cmd, "show") == 0)
        return cmd_show(&a);
    if (strcmp(cmd, "remove") == 0)
        return cmd_remove(&a);
    fprintf(stderr, "certgate store: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}

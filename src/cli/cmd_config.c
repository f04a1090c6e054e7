/*
 * cmd_config.c: `certgate config check [--print] FILE`: loads FILE exactly
 * as `serve` would and shows what it means once merged: per listener which
 * sites answer and whether the handshake asks for a certificate, per site
 * and location the effective TLS and client-certificate policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "conf/config.h"
#include "conf/dump.h"
#include "conf/values.h"
#include "core/common.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: certgate config check [--print] FILE\n"
            "\n"
            "Loads FILE as `certgate serve --config FILE` would, without serving.\n"
            "Prints FILE: ok and the effective settings per listener, site and location,\n"
            "or FILE:LINE:COL and what was expected (exit status 2).\n"
            "  --print   print the merged configuration as JSON (also valid YAML)\n");
}

static void print_revocation(const char *indent, const struct cg_conf_revocation *r)
{
    char grace[32], skew[32], timeout[32], refresh[32], age[32], crl_size[32];

    cg_conf_duration_format((uint64_t)r->stale_grace_s * 1000, grace, sizeof(grace));
    cg_conf_duration_format((uint64_t)r->clock_skew_s * 1000, skew, sizeof(skew));
    cg_conf_duration_format(r->timeout_ms, timeout, sizeof(timeout));
    cg_conf_duration_format((uint64_t)r->refresh_s * 1000, refresh, sizeof(refresh));
    cg_conf_duration_format((uint64_t)r->max_crl_age_s * 1000, age, sizeof(age));
    cg_conf_size_format(r->max_crl_bytes, crl_size, sizeof(crl_size));
    printf("%srevocation: mode %s, scope %s, on_unknown %s, stale_grace %s, clock_skew %s, "
           "timeout %s, refresh %s, max_crl_age %s, max_crl_size %s%s%s\n",
           indent, cg_conf_revocation_mode_name(r->mode), cg_conf_scope_name(r->scope),
           cg_conf_on_unknown_name(r->on_unknown), grace, skew, timeout, refresh, age, crl_size,
           r->ocsp_responder != NULL ? ", ocsp_responder " : "",
           r->ocsp_responder != NULL ? r->ocsp_responder : "");
}

static void print_summary(const char *file, const struct cg_conf *c)
{
    size_t n_bindings = 0;

    for (size_t i = 0; i < c->n_sites; i++)
        n_bindings += c->sites[i].n_bindings;
    printf("%s: ok (%zu site%s, %zu binding%s)\n", file, c->n_sites, c->n_sites == 1 ? "" : "s",
           n_bindings, n_bindings == 1 ? "" : "s");
    printf("workers %u; stores %s; state_dir %s; errors %s; client_certificate_purpose %s\n",
           c->workers, c->stores != NULL ? c->stores : "(none)", c->state_dir,
           cg_conf_errors_name(c->errors), cg_conf_purpose_name(c->purpose));
    printf("access_log %s (%s); error_log %s (%s)\n",
           c->access_log.path != NULL ? c->access_log.path : "stderr",
           cg_conf_log_format_name(c->access_log.format),
           c->error_log.path != NULL ? c->error_log.path : "stderr",
           cg_conf_log_level_name(c->error_log.level));
    print_revocation("", &c->revocation);

    for (size_t li = 0; li < c->n_listeners; li++) {
        const struct cg_conf_listener *l = &c->listeners[li];
        printf("listener %s (%s)\n", l->listen, l->tls ? "TLS" : "plain HTTP");
        for (size_t e = 0; e < l->n_sites; e++) {
            const struct cg_conf_site *s = l->sites[e].site;
            const struct cg_conf_binding *b = l->sites[e].binding;
            printf("  site %s%s", s->name, (long)e == l->default_entry ? " (default)" : "");
            if (l->tls)
                printf(": certificate %s; asks for a client certificate in the handshake: %s "
                       "(CA list %s)", b->certificate,
                       b->negotiate_client_certificate ? "yes" : "no",
                       cg_conf_ca_list_name(b->ca_list));
            printf("\n");
        }
    }

    for (size_t si = 0; si < c->n_sites; si++) {
        const struct cg_conf_site *s = &c->sites[si];
        printf("site %s: hostnames ", s->name);
        if (s->n_hostnames == 0)
            printf("(none: default site)");
        for (size_t h = 0; h < s->n_hostnames; h++)
            printf("%s%s", h ? ", " : "", s->hostnames[h]);
        printf("; root %s; symlinks %s\n", s->root != NULL ? s->root : "(none)",
               s->follow_symlinks ? "follow" : "refuse");
        for (size_t i = 0; i < s->n_locations; i++) {
            const struct cg_conf_location *loc = &s->locations[i];
            printf("  location %-20s ssl %s, client_certificates %s%s%s\n", loc->path,
                   cg_conf_ssl_name(loc->ssl), cg_conf_client_cert_name(loc->client_certificates),
                   loc->handler != CG_HANDLER_STATIC ? ", handler " : "",
                   loc->handler != CG_HANDLER_STATIC ? cg_conf_handler_name(loc->handler) : "");
        }
        /* A "/" location, sorted last, leaves nothing to the site's own settings. */
        if (s->n_locations == 0 || strcmp(s->locations[s->n_locations - 1].path, "/") != 0)
            printf("  %-29s ssl %s, client_certificates %s\n",
                   s->n_locations ? "elsewhere" : "everywhere", cg_conf_ssl_name(s->ssl),
                   cg_conf_client_cert_name(s->client_certificates));
        print_revocation("  ", &s->revocation);
    }
}

int cg_cmd_config(int argc, char **argv)
{
    struct cg_conf *conf = NULL;
    const char *file = NULL;
    char *err = NULL;
    bool print = false;
    int status = 2;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "certgate config: unknown action '%s'\n", argv[1]);
        usage(stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--print") == 0) {
            print = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "certgate config check: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (file != NULL) {
            fprintf(stderr, "certgate config check: one FILE only\n");
            return 2;
        } else {
            file = argv[i];
        }
    }
    if (file == NULL) {
        usage(stderr);
        return 2;
    }
    if (cg_conf_load(file, &conf, &err) != CG_OK) {
        fprintf(stderr, "%s\n", err != NULL ? err : "cannot load the configuration");
        goto cleanup;
    }
    for (size_t i = 0; i < conf->n_warnings; i++)
        fprintf(stderr, "warning: %s\n", conf->warnings[i]);
    if (print) {
        json_t *j = cg_conf_to_json(conf);
        char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        json_decref(j);
        if (text == NULL) {
            fprintf(stderr, "certgate config check: out of memory\n");
            goto cleanup;
        }
        printf("%s\n", text);
        free(text);
    } else {
        print_summary(file, conf);
    }
    status = 0;
cleanup:
    cg_conf_unref(conf);
    free(err);
    return status;
}

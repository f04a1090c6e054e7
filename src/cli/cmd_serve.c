/*
 * cmd_serve.c: `certgate serve [--config FILE] [--ready-file PATH]`.
 *
 * Without --config, ./certgate.yaml is used when it exists; otherwise the
 * built-in demo runs (serve_demo_config below is where it plugs in).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "conf/config.h"
#include "core/common.h"
#include "server/server.h"

#define CG_SERVE_DEFAULT_CONFIG "certgate.yaml"

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: certgate serve [--config FILE] [--ready-file PATH]\n"
            "\n"
            "Serves the sites of FILE in the foreground (default: ./" CG_SERVE_DEFAULT_CONFIG ").\n"
            "  --config FILE       the YAML configuration\n"
            "  --ready-file PATH   once listening, write one line per binding\n"
            "                      \"<listen> <ip:port> <http|https>\" and \"ready <pid>\" to PATH\n"
            "Signals: SIGHUP reloads, SIGUSR1 reopens the logs, SIGTERM/SIGINT drain and stop.\n");
}

/*
 * The demo configuration (a generated PKI and a site showing every 403
 * case) for `certgate serve` without any config. CG_OK with *conf, or
 * CG_DECLINED while the demo is not built in.
 */
static int serve_demo_config(struct cg_conf **conf, char **err)
{
    (void)conf;
    (void)err;
    return CG_DECLINED;
}

int cg_cmd_serve(int argc, char **argv)
{
    const char *config = NULL, *ready = NULL;
    struct cg_conf *conf = NULL;
    struct cg_server_opts opts;
    char *err = NULL;
    int status = 2;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            serve_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config = argv[++i];
        } else if (strcmp(argv[i], "--ready-file") == 0 && i + 1 < argc) {
            ready = argv[++i];
        } else {
            fprintf(stderr, "certgate serve: unexpected argument '%s'\n", argv[i]);
            serve_usage(stderr);
            return 2;
        }
    }
    if (config == NULL && access(CG_SERVE_DEFAULT_CONFIG, F_OK) == 0)
        config = CG_SERVE_DEFAULT_CONFIG;
    if (config != NULL) {
        if (cg_conf_load(config, &conf, &err) != CG_OK) {
            fprintf(stderr, "certgate serve: %s\n", err != NULL ? err : "cannot load config");
            goto done;
        }
    } else if (serve_demo_config(&conf, &err) != CG_OK) {
        fprintf(stderr,
                "certgate serve: no configuration: pass --config FILE or create ./%s\n",
                CG_SERVE_DEFAULT_CONFIG);
        goto done;
    }
    for (size_t i = 0; i < conf->n_warnings; i++)
        fprintf(stderr, "certgate serve: warning: %s\n", conf->warnings[i]);
    memset(&opts, 0, sizeof(opts));
    opts.config_path = config;
    opts.ready_file = ready;
    if (cg_server_run(conf, &opts, &err) != CG_OK) {
        fprintf(stderr, "certgate serve: %s\n", err != NULL ? err : "failed");
        status = 1;
        goto done;
    }
    status = 0;
done:
    free(err);
    cg_conf_unref(conf);
    return status;
}

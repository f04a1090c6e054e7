/*
 * cmd_serve.c: `certgate serve [--config FILE] [--ready-file PATH]`.
 *
 * Without --config, ./certgate.yaml is used when it exists; otherwise the
 * built-in demo runs (demo.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/demo.h"
#include "conf/config.h"
#include "core/common.h"
#include "server/server.h"

#define CG_SERVE_DEFAULT_CONFIG "certgate.yaml"

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: certgate serve [--config FILE] [--ready-file PATH]\n"
            "       certgate serve [--state-dir DIR] [--demo-https-port N] [--demo-http-port N]\n"
            "\n"
            "Serves the sites of FILE in the foreground (default: ./" CG_SERVE_DEFAULT_CONFIG ").\n"
            "  --config FILE       the YAML configuration\n"
            "  --ready-file PATH   once listening, write one line per binding\n"
            "                      \"<listen> <ip:port> <http|https>\" and \"ready <pid>\" to PATH\n"
            "With no configuration, the built-in demo: a demo PKI, a site whose / shows your\n"
            "client certificate's verdict and whose /secure requires one, and the curl\n"
            "commands to try printed once listening.\n"
            "  --state-dir DIR     where the demo keeps its PKI, www/ and certgate.yaml\n"
            "                      (default ./" CG_DEMO_DEFAULT_STATE_DIR "; reused when present)\n"
            "  --demo-https-port N https port (default %d; 0 picks a free one)\n"
            "  --demo-http-port N  http port (default %d; 0 picks a free one)\n"
            "Signals: SIGHUP reloads, SIGUSR1 reopens the logs, SIGTERM/SIGINT drain and stop.\n",
            CG_DEMO_DEFAULT_HTTPS_PORT, CG_DEMO_DEFAULT_HTTP_PORT);
}

/* A port number for the demo options: 0..65535, or -1. */
static long parse_port(const char *s)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
        return -1;
    return v;
}

int cg_cmd_serve(int argc, char **argv)
{
    const char *config = NULL, *ready = NULL;
    struct cg_demo_opts demo = {NULL, CG_DEMO_DEFAULT_HTTPS_PORT, CG_DEMO_DEFAULT_HTTP_PORT, NULL};
    bool demo_opt = false;
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
        } else if (strcmp(argv[i], "--state-dir") == 0 && i + 1 < argc) {
            demo.state_dir = argv[++i];
            demo_opt = true;
        } else if ((strcmp(argv[i], "--demo-https-port") == 0 ||
                    strcmp(argv[i], "--demo-http-port") == 0) && i + 1 < argc) {
            long *port = strcmp(argv[i], "--demo-https-port") == 0 ? &demo.https_port
                                                                   : &demo.http_port;
            if ((*port = parse_port(argv[i + 1])) < 0) {
                fprintf(stderr, "certgate serve: %s: expected a port from 0 to 65535, got '%s'\n",
                        argv[i], argv[i + 1]);
                return 2;
            }
            i++;
            demo_opt = true;
        } else {
            fprintf(stderr, "certgate serve: unexpected argument '%s'\n", argv[i]);
            serve_usage(stderr);
            return 2;
        }
    }
    if (config == NULL && access(CG_SERVE_DEFAULT_CONFIG, F_OK) == 0)
        config = CG_SERVE_DEFAULT_CONFIG;
    if (config == NULL) {
        demo.ready_file = ready;
        return cg_demo_serve(&demo);
    }
    if (demo_opt) {
        fprintf(stderr, "certgate serve: --state-dir and --demo-*-port are for the built-in "
                        "demo, which runs only without a configuration (%s is one)\n", config);
        return 2;
    }
    if (cg_conf_load(config, &conf, &err) != CG_OK) {
        fprintf(stderr, "certgate serve: %s\n", err != NULL ? err : "cannot load config");
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

/*
 * main.c: dispatches `certgate <subcommand> ...` to its cmd_<name>.c.
 * With no arguments at all, certgate serves (the demo when there is no config).
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/common.h"

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct subcommand subcommands[] = {
    {"serve",  cg_cmd_serve,  "serve sites over HTTPS (the built-in demo without a config)"},
    {"verify", cg_cmd_verify, "judge a client certificate as the server would"},
    {"store",  cg_cmd_store,  "manage the trust stores: import, list, show, remove"},
    {"pki",    cg_cmd_pki,    "a small CA toolkit for demos and tests"},
    {"config", cg_cmd_config, "check a configuration file"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: certgate <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < CG_ARRAY_LEN(subcommands); i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\n`certgate <command> --help` describes each command.\n");
}

int main(int argc, char **argv)
{
    static char serve_name[] = "serve";
    static char *serve_argv[] = {serve_name, NULL};

    if (argc < 2)
        return cg_cmd_serve(1, serve_argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("certgate 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < CG_ARRAY_LEN(subcommands); i++) {
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "certgate: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}

/* cmd_store.c: `certgate store`. Placeholder until the module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cg_cmd_store(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "certgate store: not available in this build\n");
    return 2;
}

/* cmd_config.c: `certgate config`. Placeholder until the module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cg_cmd_config(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "certgate config: not available in this build\n");
    return 2;
}

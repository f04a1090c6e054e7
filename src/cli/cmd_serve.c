/* cmd_serve.c: `certgate serve`. Placeholder until the module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cg_cmd_serve(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "certgate serve: not available in this build\n");
    return 2;
}

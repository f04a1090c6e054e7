/* cmd_verify.c: `certgate verify`. Placeholder until the module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cg_cmd_verify(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "certgate verify: not available in this build\n");
    return 2;
}

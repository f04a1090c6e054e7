/* cmd_pki.c: `certgate pki`. Placeholder until the module lands. */
#include <stdio.h>

#include "cli/commands.h"

int cg_cmd_pki(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "certgate pki: not available in this build\n");
    return 2;
}

#include "core/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int cg_set_err(char **err, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    if (err == NULL)
        return CG_ERR;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    free(*err);
    *err = msg;
    return CG_ERR;
}

/*
 * common.h: the few definitions every module shares.
 *
 * Control flow uses one small set of return codes; the domain reason (why a
 * certificate was refused, why a config key is wrong) travels separately, as
 * an enum value or an error message in an out-parameter.
 */
#ifndef CG_CORE_COMMON_H
#define CG_CORE_COMMON_H

#include <stddef.h>

enum {
    CG_OK       =  0,   /* done */
    CG_ERR      = -1,   /* failed; the out-parameter or log says why */
    CG_AGAIN    = -2,   /* not yet: more input or a readiness event is needed */
    CG_DECLINED = -3,   /* not mine: let the next handler try */
};

#define CG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define CG_PRINTF(fmt_idx, first_arg) __attribute__((format(printf, fmt_idx, first_arg)))
#else
#define CG_PRINTF(fmt_idx, first_arg)
#endif

/*
 * Formats a message into a new heap string and stores it in *err (when err
 * is not NULL), freeing what *err held before. Returns CG_ERR, so that error
 * paths read `return cg_set_err(err, "...%s", x);`. The caller frees *err.
 */
int cg_set_err(char **err, const char *fmt, ...) CG_PRINTF(2, 3);

#endif

/*
 * render.h: how the CLI shows a verdict. Renderers only render: the verdict
 * engine has already decided everything they print.
 */
#ifndef CG_CLI_RENDER_H
#define CG_CLI_RENDER_H

#include <stdbool.h>
#include <stdio.h>

#include "cert/verdict.h"

/* True when `f` is a terminal and the locale (LC_ALL, LC_CTYPE, LANG, in
 * that order of precedence) names UTF-8: only then are ✓ ✗ └─ printed. */
bool cg_render_utf8(FILE *f);

/* The path as a tree from the root down, a mark per element, each problem in
 * words, the verdict line with code and reason slug, and the remedies. */
void cg_render_verdict_text(FILE *out, const struct cg_verdict *v, bool utf8);

/* The verdict as one JSON object (verdict_json.h) and a newline. CG_OK / CG_ERR. */
int cg_render_verdict_json(FILE *out, const struct cg_verdict *v);

#endif

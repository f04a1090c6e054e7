/* render_verdict.c: text and JSON renderings of a verdict (render.h). */
#include "cli/render.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "cert/verdict_json.h"
#include "core/common.h"

bool cg_render_utf8(FILE *f)
{
    static const char *const vars[] = {"LC_ALL", "LC_CTYPE", "LANG"};
    const char *v = NULL;

    if (!isatty(fileno(f)))
        return false;
    for (size_t i = 0; i < CG_ARRAY_LEN(vars); i++) {
        v = getenv(vars[i]);
        if (v != NULL && v[0] != '\0')
            break;
        v = NULL;
    }
    return v != NULL && (strcasestr(v, "UTF-8") != NULL || strcasestr(v, "utf8") != NULL);
}

struct glyphs {
    const char *ok, *bad, *note, *branch, *indent;
};

static const struct glyphs utf8_glyphs = {"✓", "✗", "!", "└─ ", "   "};
static const struct glyphs ascii_glyphs = {"[OK]", "[X]", "[!]", "\\_ ", "   "};

static bool element_failed(const struct cg_path_element *e)
{
    if (e->source == CG_SOURCE_MISSING)
        return true;
    for (size_t i = 0; i < e->n_problems; i++) {
        if (!e->problems[i].advisory)
            return true;
    }
    return false;
}

static void indent(FILE *out, const struct glyphs *g, size_t level)
{
    for (size_t i = 0; i < level; i++)
        fputs(g->indent, out);
}

void cg_render_verdict_text(FILE *out, const struct cg_verdict *v, bool utf8)
{
    const struct glyphs *g = utf8 ? &utf8_glyphs : &ascii_glyphs;

    if (v->path_len > 0)
        fputs("Certification path (root first):\n", out);
    for (size_t k = 0; k < v->path_len; k++) {
        const struct cg_path_element *e = &v->path[v->path_len - 1 - k];
        size_t detail_level = k + 1;

        indent(out, g, k);
        if (k > 0)
            fputs(g->branch, out);
        fprintf(out, "%s %s  [%s]\n", element_failed(e) ? g->bad : g->ok, e->subject,
                cg_source_slug(e->source));
        if (e->source != CG_SOURCE_MISSING) {
            indent(out, g, detail_level);
            fprintf(out, "issuer: %s\n", e->issuer);
            indent(out, g, detail_level);
            fprintf(out, "valid: %s to %s  serial: %s\n", e->not_before, e->not_after,
                    e->serial);
            indent(out, g, detail_level);
            fprintf(out, "sha256: %s\n", e->sha256);
        }
        for (size_t i = 0; i < e->n_problems; i++) {
            const struct cg_problem *p = &e->problems[i];
            indent(out, g, detail_level);
            fprintf(out, "%s %s: %s\n", p->advisory ? g->note : g->bad,
                    cg_reason_slug(p->reason), p->text);
        }
    }
    fprintf(out, "\nVerdict: %s %s %s: %s\n", v->reason == CG_REASON_OK ? g->ok : g->bad,
            v->code, cg_reason_slug(v->reason), v->title);
    if (v->detail != NULL)
        fprintf(out, "  %s\n", v->detail);
    if (v->n_remedy > 0) {
        fputs("\nTo fix:\n", out);
        for (size_t i = 0; i < v->n_remedy; i++)
            fprintf(out, "  - %s\n", v->remedy[i]);
    }
}

int cg_render_verdict_json(FILE *out, const struct cg_verdict *v)
{
    json_t *j = cg_verdict_to_json(v);
    int rc = CG_ERR;

    if (j == NULL)
        return CG_ERR;
    if (json_dumpf(j, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', out) != EOF)
        rc = CG_OK;
    json_decref(j);
    return rc;
}

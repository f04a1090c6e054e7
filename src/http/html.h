/*
 * html.h: a bounded output buffer for the server's HTML pages (error pages,
 * the certificate-info page), with the escaping every attacker-chosen string
 * (subjects, request paths, details) passes through.
 *
 * The buffer never grows past `limit` bytes of text: a write that would
 * cross it is dropped whole and sets `over`, so a renderer can write freely
 * and look once at the end, or mark a position, write one item and roll back
 * to the mark when that item did not fit.
 */
#ifndef CG_HTTP_HTML_H
#define CG_HTTP_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

struct cg_html_buf {
    char *p;          /* NUL-terminated text, NULL until the first write */
    size_t len, cap;
    size_t limit;     /* most bytes of text; a renderer may lower it for a while */
    bool over;        /* a write was dropped (did not fit, or out of memory) */
};

/* An empty buffer holding at most `limit` bytes. */
void cg_html_init(struct cg_html_buf *b, size_t limit);
/* Back to empty, keeping the memory (for a second, smaller rendering). */
void cg_html_reset(struct cg_html_buf *b);
/* Forgets what was written after `mark` (an earlier b->len) and clears `over`. */
void cg_html_rollback(struct cg_html_buf *b, size_t mark);
void cg_html_free(struct cg_html_buf *b);

/* n bytes as they are; dropped whole (setting `over`) if they do not fit. */
void cg_html_put(struct cg_html_buf *b, const char *s, size_t n);
/* A string of markup, as it is. */
void cg_html_raw(struct cg_html_buf *b, const char *s);
/* Text for an element or a quoted attribute: & < > " ' escaped; NULL
 * writes nothing. */
void cg_html_esc(struct cg_html_buf *b, const char *s);
/* One escaped <li> per item, in order; the first item that does not fit
 * and all after it are left out (and `over` stays clear), so a long list
 * is cut rather than the page. */
void cg_html_items(struct cg_html_buf *b, const char *const *items, size_t n);
/* Formatted markup, as it is (escape what goes into it first). */
void cg_html_printf(struct cg_html_buf *b, const char *fmt, ...) CG_PRINTF(2, 3);

#endif

/*
 * html.c: the bounded HTML output buffer (see html.h).
 */
#include "http/html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First allocation: most pages fit without a second one. */
#define HTML_BUF_FIRST 4096

void cg_html_init(struct cg_html_buf *b, size_t limit)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
}

void cg_html_reset(struct cg_html_buf *b)
{
    cg_html_rollback(b, 0);
}

void cg_html_rollback(struct cg_html_buf *b, size_t mark)
{
    if (mark > b->len)
        return;
    b->len = mark;
    b->over = false;
    if (b->p != NULL)
        b->p[b->len] = '\0';
}

void cg_html_free(struct cg_html_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void cg_html_put(struct cg_html_buf *b, const char *s, size_t n)
{
    /* once over, stay over: a page with a hole in the middle is worse than
     * one the caller sees was cut */
    if (b->over || b->len > b->limit || n > b->limit - b->len) {
        b->over = true;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : HTML_BUF_FIRST;
        char *p;

        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->limit + 1)
            cap = b->limit + 1;
        p = realloc(b->p, cap);
        if (p == NULL) {
            b->over = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void cg_html_raw(struct cg_html_buf *b, const char *s)
{
    cg_html_put(b, s, strlen(s));
}

void cg_html_esc(struct cg_html_buf *b, const char *s)
{
    const char *run = s;

    if (s == NULL)
        return;
    for (; *s != '\0'; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default: break;
        }
        if (rep != NULL) {
            cg_html_put(b, run, (size_t)(s - run));
            cg_html_raw(b, rep);
            run = s + 1;
        }
    }
    cg_html_put(b, run, (size_t)(s - run));
}

void cg_html_items(struct cg_html_buf *b, const char *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t mark = b->len;

        cg_html_raw(b, "<li>");
        cg_html_esc(b, items[i]);
        cg_html_raw(b, "</li>");
        if (b->over) {
            cg_html_rollback(b, mark);
            break;
        }
    }
}

void cg_html_printf(struct cg_html_buf *b, const char *fmt, ...)
{
    char small[256], *big = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->over = true;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        cg_html_put(b, small, (size_t)n);
        return;
    }
    /* longer than the stack copy: format again into the heap */
    big = malloc((size_t)n + 1);
    if (big == NULL) {
        b->over = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    cg_html_put(b, big, (size_t)n);
    free(big);
}

/*
 * metrics.c: sharded counters and the Prometheus text format.
 */
#include "core/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

/* Shards start on their own cache line, so two writers never share one. */
#define CG_METRICS_LINE 64

struct cg_metrics {
    size_t n_counters;
    size_t stride;                    /* counters per shard, rounded to a line */
    unsigned n_shards;                /* writer shards; the shared one follows */
    _Atomic uint64_t *all;            /* (n_shards + 1) * stride, line-aligned */
    struct cg_metrics_shard *shards;  /* n_shards + 1 */
};

struct cg_metrics *cg_metrics_new(size_t n_counters, unsigned n_shards)
{
    struct cg_metrics *m = calloc(1, sizeof(*m));
    size_t per_line = CG_METRICS_LINE / sizeof(uint64_t), total;

    if (m == NULL)
        return NULL;
    m->n_counters = n_counters;
    m->n_shards = n_shards > 0 ? n_shards : 1;
    m->stride = (n_counters + per_line - 1) / per_line * per_line;
    if (m->stride == 0)
        m->stride = per_line;
    total = m->stride * (m->n_shards + 1);
    m->all = aligned_alloc(CG_METRICS_LINE, total * sizeof(*m->all));
    m->shards = calloc(m->n_shards + 1, sizeof(*m->shards));
    if (m->all == NULL || m->shards == NULL) {
        cg_metrics_free(m);
        return NULL;
    }
    for (size_t i = 0; i < total; i++)
        atomic_init(&m->all[i], 0);
    for (unsigned s = 0; s <= m->n_shards; s++)
        m->shards[s].v = m->all + (size_t)s * m->stride;
    return m;
}

void cg_metrics_free(struct cg_metrics *m)
{
    if (m == NULL)
        return;
    free(m->all);
    free(m->shards);
    free(m);
}

size_t cg_metrics_counters(const struct cg_metrics *m) { return m->n_counters; }

unsigned cg_metrics_shards(const struct cg_metrics *m) { return m->n_shards; }

struct cg_metrics_shard *cg_metrics_shard(struct cg_metrics *m, unsigned i)
{
    return &m->shards[i < m->n_shards ? i : m->n_shards];
}

void cg_metrics_add_shared(struct cg_metrics *m, size_t i, uint64_t n)
{
    atomic_fetch_add_explicit(&m->shards[m->n_shards].v[i], n, memory_order_relaxed);
}

uint64_t cg_metrics_sum(const struct cg_metrics *m, size_t i)
{
    uint64_t sum = 0;

    for (unsigned s = 0; s <= m->n_shards; s++)
        sum += atomic_load_explicit(&m->shards[s].v[i], memory_order_relaxed);
    return sum;
}

/* ---- text ------------------------------------------------------------------ */

void cg_metrics_text_init(struct cg_metrics_text *t, size_t max)
{
    memset(t, 0, sizeof(*t));
    t->max = max;
}

void cg_metrics_text_free(struct cg_metrics_text *t)
{
    free(t->p);
    memset(t, 0, sizeof(*t));
}

/* Room for `need` more bytes and the NUL; false (overflow set) past max. */
static bool reserve(struct cg_metrics_text *t, size_t need)
{
    size_t cap;
    char *p;

    if (t->overflow)
        return false;
    if (t->len + need + 1 <= t->cap)
        return true;
    if (t->len + need + 1 > t->max) {
        t->overflow = true;
        return false;
    }
    cap = t->cap > 0 ? t->cap : 4096;
    while (cap < t->len + need + 1)
        cap *= 2;
    if (cap > t->max)
        cap = t->max;
    p = realloc(t->p, cap);
    if (p == NULL) {
        t->overflow = true;
        return false;
    }
    t->p = p;
    t->cap = cap;
    return true;
}

static void put(struct cg_metrics_text *t, const char *s, size_t n)
{
    if (!reserve(t, n))
        return;
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void put_str(struct cg_metrics_text *t, const char *s) { put(t, s, strlen(s)); }

/* HELP escapes backslash and line feed; label values also the double quote. */
static void put_escaped(struct cg_metrics_text *t, const char *s, bool quote)
{
    for (const char *run = s;; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (quote && *s == '"')
            esc = "\\\"";
        if (esc == NULL && *s != '\0')
            continue;
        put(t, run, (size_t)(s - run));
        if (*s == '\0')
            return;
        put_str(t, esc);
        run = s + 1;
    }
}

void cg_metrics_family(struct cg_metrics_text *t, const char *name, const char *type,
                       const char *help)
{
    put_str(t, "# HELP ");
    put_str(t, name);
    put_str(t, " ");
    put_escaped(t, help, false);
    put_str(t, "\n# TYPE ");
    put_str(t, name);
    put_str(t, " ");
    put_str(t, type);
    put_str(t, "\n");
}

void cg_metrics_sample(struct cg_metrics_text *t, const char *name, const char *const *labels,
                       size_t n_labels, uint64_t value)
{
    char num[24];

    put_str(t, name);
    for (size_t i = 0; i < n_labels; i++) {
        put_str(t, i == 0 ? "{" : ",");
        put_str(t, labels[2 * i]);
        put_str(t, "=\"");
        put_escaped(t, labels[2 * i + 1], true);
        put_str(t, "\"");
    }
    snprintf(num, sizeof(num), "%s%llu\n", n_labels > 0 ? "} " : " ", (unsigned long long)value);
    put_str(t, num);
}

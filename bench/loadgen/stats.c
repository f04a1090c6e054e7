/*
 * stats.c: latency histogram and per-worker statistics.
 *
 * The histogram keeps 64 linear sub-buckets per power of two (values below
 * 128 µs are exact), so any quantile is within 1/64 of the true value and
 * workers merge by adding arrays: no sample is ever stored.
 */
#include <string.h>

#include "loadgen.h"

static const char *const error_names[LG_E_COUNT] = {
#define LG_X(e, s) s,
    LG_ERROR_KINDS(LG_X)
#undef LG_X
};

const char *lg_error_name(enum lg_error_kind k)
{
    return (unsigned)k < LG_E_COUNT ? error_names[k] : "?";
}

static unsigned bucket_of(uint64_t us)
{
    unsigned msb, e;
    uint64_t idx;

    if (us < 2 * LG_HIST_SUB)
        return (unsigned)us;
    msb = 63u - (unsigned)__builtin_clzll(us);
    e = msb - LG_HIST_SUB_BITS;              /* us >> e lies in [SUB, 2 SUB) */
    idx = (uint64_t)e * LG_HIST_SUB + (us >> e);
    return idx < LG_HIST_BUCKETS ? (unsigned)idx : LG_HIST_BUCKETS - 1;
}

/* The largest value that falls in bucket idx. */
static uint64_t bucket_high(unsigned idx)
{
    unsigned e;
    uint64_t m;

    if (idx < 2 * LG_HIST_SUB)
        return idx;
    e = idx / LG_HIST_SUB - 1;
    m = idx - (uint64_t)e * LG_HIST_SUB;
    return ((m + 1) << e) - 1;
}

void lg_hist_add(struct lg_hist *h, uint64_t us)
{
    h->b[bucket_of(us)]++;
    h->count++;
    h->sum_us += us;
    if (us > h->max_us)
        h->max_us = us;
}

void lg_hist_merge(struct lg_hist *into, const struct lg_hist *from)
{
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    into->sum_us += from->sum_us;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
}

uint64_t lg_hist_quantile(const struct lg_hist *h, double q)
{
    uint64_t rank, seen = 0;

    if (h->count == 0)
        return 0;
    if (q <= 0.0)
        q = 1e-9;
    if (q > 1.0)
        q = 1.0;
    /* the smallest value with at least ceil(q * count) samples at or below it */
    rank = (uint64_t)(q * (double)h->count);
    if ((double)rank < q * (double)h->count)
        rank++;
    if (rank == 0)
        rank = 1;
    for (unsigned i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            uint64_t v = bucket_high(i);
            return v < h->max_us ? v : h->max_us;
        }
    }
    return h->max_us;
}

void lg_stats_merge(struct lg_stats *into, const struct lg_stats *from)
{
    into->requests += from->requests;
    into->handshakes_full += from->handshakes_full;
    into->handshakes_resumed += from->handshakes_resumed;
    into->body_bytes += from->body_bytes;
    for (unsigned i = 0; i < LG_STATUS_MAX; i++)
        into->status[i] += from->status[i];
    lg_hist_merge(&into->latency, &from->latency);
    for (unsigned k = 0; k < LG_E_COUNT; k++) {
        if (into->error_sample[k][0] == '\0' && from->error_sample[k][0] != '\0')
            memcpy(into->error_sample[k], from->error_sample[k], sizeof(into->error_sample[k]));
        into->errors[k] += from->errors[k];
    }
    into->idle_held += from->idle_held;
}

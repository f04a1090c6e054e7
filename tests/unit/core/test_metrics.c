/* test_metrics.c: sharded counters sum what every thread added (each to its
 * own shard, and to the shared one) while a scrape reads them; shards sit on
 * their own cache lines; the text format writes HELP, TYPE, labels and
 * values as Prometheus 0.0.4 says, escapes what it must, and refuses to
 * grow past its bound. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/metrics.h"

#define THREADS 4
#define ROUNDS 200000

struct writer {
    struct cg_metrics *m;
    unsigned idx;
};

static atomic_bool writers_done;

static void *write_loop(void *arg)
{
    struct writer *w = arg;
    struct cg_metrics_shard *s = cg_metrics_shard(w->m, w->idx);

    for (unsigned i = 0; i < ROUNDS; i++) {
        cg_metrics_add(s, 0, 1);             /* every thread, own shard */
        cg_metrics_add(s, 1 + w->idx, 2);    /* one counter per thread */
        if (i % 4 == 0)
            cg_metrics_add_shared(w->m, 9, 1);
    }
    return NULL;
}

/* A scrape running alongside: every sum it sees is monotonic. */
static void *scrape_loop(void *arg)
{
    struct cg_metrics *m = arg;
    uint64_t last = 0;
    uintptr_t bad = 0;

    while (!atomic_load(&writers_done)) {
        uint64_t now = cg_metrics_sum(m, 0);
        bad += now < last;
        last = now;
    }
    return (void *)bad;
}

static void test_sums_over_threads(void **state)
{
    struct cg_metrics *m = cg_metrics_new(10, THREADS);
    pthread_t th[THREADS], reader;
    struct writer w[THREADS];
    void *bad = NULL;

    (void)state;
    assert_non_null(m);
    assert_int_equal(cg_metrics_shards(m), THREADS);
    assert_int_equal(cg_metrics_counters(m), 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(cg_metrics_sum(m, i), 0);
    atomic_store(&writers_done, false);
    assert_int_equal(pthread_create(&reader, NULL, scrape_loop, m), 0);
    for (unsigned i = 0; i < THREADS; i++) {
        w[i].m = m;
        w[i].idx = i;
        assert_int_equal(pthread_create(&th[i], NULL, write_loop, &w[i]), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&writers_done, true);
    pthread_join(reader, &bad);
    assert_ptr_equal(bad, NULL);
    assert_int_equal(cg_metrics_sum(m, 0), (uint64_t)THREADS * ROUNDS);
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(cg_metrics_sum(m, 1 + i), 2ull * ROUNDS);
    assert_int_equal(cg_metrics_sum(m, 9), (uint64_t)THREADS * (ROUNDS / 4));
    assert_int_equal(cg_metrics_sum(m, 5), 0);
    cg_metrics_free(m);
    cg_metrics_free(NULL);
}

static void test_shards_on_own_lines(void **state)
{
    struct cg_metrics *m = cg_metrics_new(3, 3);

    (void)state;
    assert_non_null(m);
    for (unsigned i = 0; i < 3; i++) {
        uintptr_t a = (uintptr_t)cg_metrics_shard(m, i)->v;
        assert_int_equal(a % 64, 0);
        if (i > 0)
            assert_true(a - (uintptr_t)cg_metrics_shard(m, i - 1)->v >= 64);
    }
    /* An index past the writers lands on the shared shard, never out of bounds. */
    cg_metrics_add(cg_metrics_shard(m, 7), 2, 5);
    assert_int_equal(cg_metrics_sum(m, 2), 5);
    cg_metrics_free(m);
}

static void test_text_format(void **state)
{
    struct cg_metrics_text t;
    const char *one[] = {"site", "main"};
    const char *two[] = {"site", "a\"b\\c\nd", "code", "403.7"};

    (void)state;
    cg_metrics_text_init(&t, 4096);
    cg_metrics_family(&t, "certgate_x_total", "counter", "Things, with a \\ and a\nline.");
    cg_metrics_sample(&t, "certgate_x_total", NULL, 0, 0);
    cg_metrics_sample(&t, "certgate_x_total", one, 1, 42);
    cg_metrics_sample(&t, "certgate_x_total", two, 2, 18446744073709551615ull);
    assert_false(t.overflow);
    assert_string_equal(t.p,
                        "# HELP certgate_x_total Things, with a \\\\ and a\\nline.\n"
                        "# TYPE certgate_x_total counter\n"
                        "certgate_x_total 0\n"
                        "certgate_x_total{site=\"main\"} 42\n"
                        "certgate_x_total{site=\"a\\\"b\\\\c\\nd\",code=\"403.7\"} "
                        "18446744073709551615\n");
    assert_int_equal(t.len, strlen(t.p));
    cg_metrics_text_free(&t);
}

static void test_text_bound(void **state)
{
    struct cg_metrics_text t;
    const char *lab[] = {"site", "main"};
    size_t len;

    (void)state;
    cg_metrics_text_init(&t, 64);
    cg_metrics_sample(&t, "certgate_y", lab, 1, 1);
    assert_false(t.overflow);
    len = t.len;
    cg_metrics_family(&t, "certgate_y", "gauge", "A help text that does not fit in what is left.");
    assert_true(t.overflow);
    assert_true(t.len <= 63);
    assert_true(t.len >= len);
    cg_metrics_sample(&t, "certgate_y", NULL, 0, 2);   /* ignored once overflowed */
    assert_true(t.overflow);
    cg_metrics_text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sums_over_threads),
        cmocka_unit_test(test_shards_on_own_lines),
        cmocka_unit_test(test_text_format),
        cmocka_unit_test(test_text_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_loop.c: the event loop: timer order, disarm/rearm, I/O readiness,
 * cross-thread wake. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/common.h"
#include "core/loop.h"

#define N_TIMERS 200

struct fired {
    int order[N_TIMERS];
    size_t n;
    size_t expect_total;
};

struct tctx {
    struct cg_timer t;
    int id;
    struct fired *f;
};

static void on_timer(struct cg_loop *loop, struct cg_timer *t)
{
    struct tctx *c = t->data;

    c->f->order[c->f->n++] = c->id;
    if (c->f->n == c->f->expect_total)
        cg_loop_stop(loop);
}

static void test_timers_fire_in_deadline_order(void **state)
{
    struct cg_loop *loop = cg_loop_new(NULL, NULL, NULL);
    static struct tctx ctx[N_TIMERS];
    struct fired f = {.n = 0};
    size_t armed = 0;

    (void)state;
    assert_non_null(loop);
    srand(7);
    for (int i = 0; i < N_TIMERS; i++) {
        ctx[i].id = i;
        ctx[i].f = &f;
        ctx[i].t.cb = on_timer;
        ctx[i].t.data = &ctx[i];
        ctx[i].t.heap_idx = 0;
        /* deadline i ms (ids are their own order), armed in a shuffled way */
    }
    for (int k = 0; k < N_TIMERS; k++) {
        int i = (k * 37) % N_TIMERS;   /* 37 is coprime with 200: a permutation */
        assert_int_equal(cg_timer_arm(loop, &ctx[i].t, (uint64_t)i), CG_OK);
        armed++;
    }
    /* Disarm every 10th; rearm every 7th (not disarmed) to the same deadline. */
    for (int i = 0; i < N_TIMERS; i += 10) {
        cg_timer_disarm(loop, &ctx[i].t);
        assert_false(cg_timer_armed(&ctx[i].t));
        armed--;
    }
    for (int i = 1; i < N_TIMERS; i += 7) {
        if (cg_timer_armed(&ctx[i].t))
            assert_int_equal(cg_timer_arm(loop, &ctx[i].t, (uint64_t)i), CG_OK);
    }
    cg_timer_disarm(loop, &ctx[0].t);   /* disarming twice is a no-op */
    f.expect_total = armed;
    assert_int_equal(cg_loop_run(loop), CG_OK);
    assert_int_equal(f.n, armed);
    for (size_t i = 1; i < f.n; i++)
        assert_true(f.order[i - 1] < f.order[i]);
    for (size_t i = 0; i < f.n; i++)
        assert_true(f.order[i] % 10 != 0);
    cg_loop_free(loop);
}

struct io_ctx {
    struct cg_io io;
    int got;
};

static void on_readable(struct cg_loop *loop, struct cg_io *io, uint32_t events)
{
    struct io_ctx *c = io->data;
    char b;

    assert_true(events & EPOLLIN);
    assert_int_equal(read(io->fd, &b, 1), 1);
    c->got = b;
    cg_io_set(loop, io, 0);
    cg_loop_stop(loop);
}

static void test_io_readiness(void **state)
{
    struct cg_loop *loop = cg_loop_new(NULL, NULL, NULL);
    struct io_ctx c = {.got = 0};
    int p[2];

    (void)state;
    assert_non_null(loop);
    assert_int_equal(pipe(p), 0);
    c.io.fd = p[0];
    c.io.cb = on_readable;
    c.io.data = &c;
    assert_int_equal(cg_io_set(loop, &c.io, EPOLLIN), CG_OK);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(cg_loop_run(loop), CG_OK);
    assert_int_equal(c.got, 'x');
    assert_int_equal(c.io.events, 0);
    close(p[0]);
    close(p[1]);
    cg_loop_free(loop);
}

static int woken;

static void on_wake(struct cg_loop *loop, void *data)
{
    (void)data;
    woken++;
    cg_loop_stop(loop);
}

static void *waker(void *arg)
{
    cg_loop_wake(arg);
    return NULL;
}

static void test_wake_from_another_thread(void **state)
{
    struct cg_loop *loop = cg_loop_new(on_wake, NULL, NULL);
    pthread_t th;

    (void)state;
    assert_non_null(loop);
    woken = 0;
    assert_int_equal(pthread_create(&th, NULL, waker, loop), 0);
    assert_int_equal(cg_loop_run(loop), CG_OK);
    pthread_join(th, NULL);
    assert_int_equal(woken, 1);
    cg_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_fire_in_deadline_order),
        cmocka_unit_test(test_io_readiness),
        cmocka_unit_test(test_wake_from_another_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

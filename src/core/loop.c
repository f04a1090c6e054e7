#include "core/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/common.h"

#define CG_LOOP_MAX_EVENTS 256

struct cg_loop {
    int epfd;
    struct cg_io wake_io;
    cg_wake_cb wake_cb;
    void *wake_data;
    bool stop;
    uint64_t now_ms;
    int64_t wall_s;
    struct cg_timer **heap;   /* min-heap on deadline_ms */
    size_t n_heap, cap_heap;
};

static void update_clock(struct cg_loop *loop)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    loop->now_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    clock_gettime(CLOCK_REALTIME, &ts);
    loop->wall_s = ts.tv_sec;
}

static void on_wake(struct cg_loop *loop, struct cg_io *io, uint32_t events)
{
    uint64_t v;

    (void)events;
    /* Drain the counter first, so a wake during the callback is not lost. */
    if (read(io->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    if (loop->wake_cb != NULL)
        loop->wake_cb(loop, loop->wake_data);
}

struct cg_loop *cg_loop_new(cg_wake_cb wake_cb, void *wake_data, char **err)
{
    struct cg_loop *loop = calloc(1, sizeof(*loop));

    if (loop == NULL) {
        cg_set_err(err, "out of memory");
        return NULL;
    }
    loop->wake_io.fd = -1;
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        cg_set_err(err, "epoll_create1: %s", strerror(errno));
        goto fail;
    }
    loop->wake_io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->wake_io.fd < 0) {
        cg_set_err(err, "eventfd: %s", strerror(errno));
        goto fail;
    }
    loop->wake_io.cb = on_wake;
    loop->wake_cb = wake_cb;
    loop->wake_data = wake_data;
    if (cg_io_set(loop, &loop->wake_io, EPOLLIN) != CG_OK) {
        cg_set_err(err, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    update_clock(loop);
    return loop;
fail:
    cg_loop_free(loop);
    return NULL;
}

void cg_loop_free(struct cg_loop *loop)
{
    if (loop == NULL)
        return;
    if (loop->wake_io.fd >= 0)
        close(loop->wake_io.fd);
    if (loop->epfd >= 0)
        close(loop->epfd);
    free(loop->heap);
    free(loop);
}

void cg_loop_stop(struct cg_loop *loop) { loop->stop = true; }

void cg_loop_wake(struct cg_loop *loop)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is already non-zero: the wake is pending. */
    (void)!write(loop->wake_io.fd, &one, sizeof(one));
}

uint64_t cg_loop_now_ms(const struct cg_loop *loop) { return loop->now_ms; }
int64_t cg_loop_wall_s(const struct cg_loop *loop) { return loop->wall_s; }

int cg_io_set(struct cg_loop *loop, struct cg_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    int op;

    if (events == io->events)
        return CG_OK;
    if (events == 0)
        op = EPOLL_CTL_DEL;
    else if (io->events == 0)
        op = EPOLL_CTL_ADD;
    else
        op = EPOLL_CTL_MOD;
    if (epoll_ctl(loop->epfd, op, io->fd, &ev) < 0)
        return CG_ERR;
    io->events = events;
    return CG_OK;
}

/* ---- timer heap ---------------------------------------------------------- */

static void heap_set(struct cg_loop *loop, size_t i, struct cg_timer *t)
{
    loop->heap[i] = t;
    t->heap_idx = i + 1;
}

static void heap_up(struct cg_loop *loop, size_t i)
{
    struct cg_timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (loop->heap[parent]->deadline_ms <= t->deadline_ms)
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(struct cg_loop *loop, size_t i)
{
    struct cg_timer *t = loop->heap[i];

    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        uint64_t best = t->deadline_ms;
        if (l < loop->n_heap && loop->heap[l]->deadline_ms < best) {
            m = l;
            best = loop->heap[l]->deadline_ms;
        }
        if (r < loop->n_heap && loop->heap[r]->deadline_ms < best)
            m = r;
        if (m == i)
            break;
        heap_set(loop, i, loop->heap[m]);
        i = m;
    }
    heap_set(loop, i, t);
}

void cg_timer_disarm(struct cg_loop *loop, struct cg_timer *t)
{
    size_t i;
    struct cg_timer *last;

    if (t->heap_idx == 0)
        return;
    i = t->heap_idx - 1;
    t->heap_idx = 0;
    last = loop->heap[--loop->n_heap];
    if (i == loop->n_heap)
        return;
    loop->heap[i] = last;
    last->heap_idx = i + 1;
    heap_up(loop, i);
    heap_down(loop, last->heap_idx - 1);
}

int cg_timer_arm(struct cg_loop *loop, struct cg_timer *t, uint64_t after_ms)
{
    uint64_t deadline = loop->now_ms + after_ms;

    if (t->heap_idx != 0) {
        size_t i = t->heap_idx - 1;
        uint64_t old = t->deadline_ms;
        t->deadline_ms = deadline;
        if (deadline < old)
            heap_up(loop, i);
        else
            heap_down(loop, i);
        return CG_OK;
    }
    if (loop->n_heap == loop->cap_heap) {
        size_t cap = loop->cap_heap ? loop->cap_heap * 2 : 64;
        struct cg_timer **h = realloc(loop->heap, cap * sizeof(*h));
        if (h == NULL)
            return CG_ERR;
        loop->heap = h;
        loop->cap_heap = cap;
    }
    t->deadline_ms = deadline;
    loop->heap[loop->n_heap] = t;
    t->heap_idx = ++loop->n_heap;
    heap_up(loop, loop->n_heap - 1);
    return CG_OK;
}

static void run_timers(struct cg_loop *loop)
{
    while (loop->n_heap > 0 && loop->heap[0]->deadline_ms <= loop->now_ms) {
        struct cg_timer *t = loop->heap[0];
        cg_timer_disarm(loop, t);
        t->cb(loop, t);
    }
}

int cg_loop_run(struct cg_loop *loop)
{
    struct epoll_event events[CG_LOOP_MAX_EVENTS];

    loop->stop = false;
    while (!loop->stop) {
        int timeout = -1, n;

        update_clock(loop);
        run_timers(loop);
        if (loop->stop)
            break;
        if (loop->n_heap > 0) {
            uint64_t d = loop->heap[0]->deadline_ms - loop->now_ms;
            timeout = d > 60000 ? 60000 : (int)d;
        }
        n = epoll_wait(loop->epfd, events, CG_LOOP_MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return CG_ERR;
        }
        update_clock(loop);
        for (int i = 0; i < n; i++) {
            struct cg_io *io = events[i].data.ptr;
            io->cb(loop, io, events[i].events);
        }
    }
    return CG_OK;
}

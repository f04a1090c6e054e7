/*
 * loop.h: one event loop per thread: epoll for readiness, a binary min-heap
 * of timers, and an eventfd through which other threads wake it.
 *
 * A loop is owned and run by exactly one thread; nothing here is
 * thread-safe except cg_loop_wake(). Handlers are plain structs embedded in
 * the caller's objects (a connection embeds its cg_io and cg_timer), so the
 * loop allocates nothing per event and never owns the caller's memory.
 */
#ifndef CG_CORE_LOOP_H
#define CG_CORE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cg_loop;
struct cg_io;
struct cg_timer;

/* `events` is the epoll mask that fired (EPOLLIN, EPOLLOUT, EPOLLERR, ...). */
typedef void (*cg_io_cb)(struct cg_loop *loop, struct cg_io *io, uint32_t events);
typedef void (*cg_timer_cb)(struct cg_loop *loop, struct cg_timer *t);
/* Called on the loop thread after another thread called cg_loop_wake(). */
typedef void (*cg_wake_cb)(struct cg_loop *loop, void *data);

struct cg_io {
    int fd;
    uint32_t events;      /* currently registered mask; 0 = not registered */
    cg_io_cb cb;
    void *data;
};

struct cg_timer {
    uint64_t deadline_ms; /* cg_loop_now_ms() clock */
    size_t heap_idx;      /* 0 = not armed; otherwise position + 1 */
    cg_timer_cb cb;
    void *data;
};

/* New loop; wake_cb may be NULL. Returns NULL with *err on failure. */
struct cg_loop *cg_loop_new(cg_wake_cb wake_cb, void *wake_data, char **err);
/* Frees the loop (NULL-safe). Registered fds are not closed: their owners do. */
void cg_loop_free(struct cg_loop *loop);

/* Runs until cg_loop_stop(). CG_OK, or CG_ERR if epoll itself fails. */
int cg_loop_run(struct cg_loop *loop);
void cg_loop_stop(struct cg_loop *loop);
/* Thread-safe: makes the loop call its wake_cb soon. */
void cg_loop_wake(struct cg_loop *loop);

/* Monotonic milliseconds, cached once per loop iteration. */
uint64_t cg_loop_now_ms(const struct cg_loop *loop);
/* Wall-clock seconds, cached once per loop iteration (for Date headers, logs). */
int64_t cg_loop_wall_s(const struct cg_loop *loop);

/* Registers / changes / removes interest in io->fd. `events` 0 removes.
 * Edge cases are the caller's: level-triggered, so leave EPOLLOUT off when
 * there is nothing to write. CG_OK / CG_ERR (errno set). */
int cg_io_set(struct cg_loop *loop, struct cg_io *io, uint32_t events);

/* (Re)arms t to fire `after_ms` from now; disarming an unarmed timer is a no-op.
 * A timer fires once; rearm it from its callback if needed. */
int cg_timer_arm(struct cg_loop *loop, struct cg_timer *t, uint64_t after_ms);
void cg_timer_disarm(struct cg_loop *loop, struct cg_timer *t);
static inline bool cg_timer_armed(const struct cg_timer *t) { return t->heap_idx != 0; }

#endif

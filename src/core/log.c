/*
 * log.c: the error log. The descriptor number stays the same for the life
 * of the process once a file is open (reopen uses dup2), so cg_log() reads it
 * without a lock.
 */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_fd = STDERR_FILENO;
static atomic_int log_level = CG_LOG_INFO;
static pthread_mutex_t log_mutex = PTHREAD_MUTEX_INITIALIZER;
static char *log_path;   /* guarded by log_mutex; NULL: stderr */

static const char *const level_names[] = { "error", "warn", "info", "debug" };

const char *cg_log_level_name(int level)
{
    if (level < 0 || level >= (int)CG_ARRAY_LEN(level_names))
        return "?";
    return level_names[level];
}

static int open_log_file(const char *path, char **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

    if (fd < 0) {
        char buf[128];
        (void)strerror_r(errno, buf, sizeof(buf));
        cg_set_err(err, "cannot open log file %s: %s", path, buf);
    }
    return fd;
}

int cg_log_open(const char *path, int level, char **err)
{
    int fd = -1, rc = CG_ERR;
    char *copy = NULL;

    if (path != NULL) {
        copy = strdup(path);
        if (copy == NULL) {
            cg_set_err(err, "out of memory");
            goto cleanup;
        }
        fd = open_log_file(path, err);
        if (fd < 0)
            goto cleanup;
    }
    pthread_mutex_lock(&log_mutex);
    {
        int old = atomic_load(&log_fd);
        if (fd >= 0 && old != STDERR_FILENO) {
            /* keep the number writers may hold right now */
            if (dup2(fd, old) < 0) {
                pthread_mutex_unlock(&log_mutex);
                cg_set_err(err, "cannot replace the log descriptor");
                goto cleanup;
            }
            close(fd);
            fd = -1;
        } else if (fd >= 0) {
            atomic_store(&log_fd, fd);
            fd = -1;
        } else if (old != STDERR_FILENO) {
            /* back to stderr; a writer racing with this may lose its line */
            atomic_store(&log_fd, STDERR_FILENO);
            close(old);
        }
        free(log_path);
        log_path = copy;
        copy = NULL;
        atomic_store(&log_level, level);
    }
    pthread_mutex_unlock(&log_mutex);
    rc = CG_OK;
cleanup:
    if (fd >= 0)
        close(fd);
    free(copy);
    return rc;
}

int cg_log_reopen(char **err)
{
    int rc = CG_OK, fd = -1;

    pthread_mutex_lock(&log_mutex);
    if (log_path == NULL)
        goto cleanup;
    fd = open_log_file(log_path, err);
    if (fd < 0) {
        rc = CG_ERR;
        goto cleanup;
    }
    if (dup2(fd, atomic_load(&log_fd)) < 0) {
        rc = cg_set_err(err, "cannot replace the log descriptor for %s", log_path);
        goto cleanup;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&log_mutex);
    if (rc != CG_OK)
        cg_log(CG_LOG_ERROR, "log reopen failed, still writing to the old file: %s",
               err != NULL && *err != NULL ? *err : "unknown error");
    return rc;
}

void cg_log_close(void)
{
    pthread_mutex_lock(&log_mutex);
    {
        int old = atomic_exchange(&log_fd, STDERR_FILENO);
        if (old != STDERR_FILENO)
            close(old);
        free(log_path);
        log_path = NULL;
        atomic_store(&log_level, CG_LOG_INFO);
    }
    pthread_mutex_unlock(&log_mutex);
}

void cg_log_set_level(int level)
{
    atomic_store(&log_level, level);
}

bool cg_log_enabled(int level)
{
    return level <= atomic_load(&log_level);
}

/* Copies msg into out, writing control characters as \xNN so that one
 * message is one line whatever it holds. Returns bytes written. */
static size_t escape_into(char *out, size_t cap, const char *msg, size_t len, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c < 0x20 || c == 0x7f) {
            if (o + 4 > cap)
                break;
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            if (o + 1 > cap)
                break;
            out[o++] = (char)c;
        }
    }
    *used = i;
    return o;
}

void cg_log_v(int level, const char *fmt, va_list ap)
{
    char msg[CG_LOG_LINE_MAX];
    char line[CG_LOG_LINE_MAX];
    struct timespec ts;
    struct tm tm;
    size_t n, room;
    int m;

    if (!cg_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    m = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                 tm.tm_sec, ts.tv_nsec / 1000000L, cg_log_level_name(level));
    if (m < 0 || (size_t)m >= sizeof(line))
        return;
    n = (size_t)m;

    m = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (m < 0)
        m = 0;
    room = sizeof(line) - n - 1;   /* keep one byte for '\n' */
    {
        size_t mlen = (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1;
        size_t used;
        size_t w = escape_into(line + n, room, msg, mlen, &used);

        if (used < mlen || (size_t)m >= sizeof(msg)) {
            /* cut: end with "..." so readers know */
            w = escape_into(line + n, room - 3, msg, mlen, &used);
            memcpy(line + n + w, "...", 3);
            w += 3;
        }
        n += w;
    }
    line[n++] = '\n';
    /* one write: O_APPEND keeps concurrent lines whole */
    while (write(atomic_load(&log_fd), line, n) < 0 && errno == EINTR)
        ;
}

void cg_log(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    cg_log_v(level, fmt, ap);
    va_end(ap);
}

/*
 * log.h: the error log. One process-wide log, written by any thread.
 *
 * Lines look like "2026-11-29T12:00:00.123Z [error] message": UTC with
 * milliseconds, the level, the message. Each line is formatted on the
 * caller's stack and written with ONE write(2) to a descriptor opened with
 * O_APPEND, so lines from concurrent threads (and processes) never
 * interleave. A line is bounded (CG_LOG_LINE_MAX); a longer message is cut
 * and ends with "...". Control characters in the message are written as
 * \xNN, so a peer-supplied string cannot forge a line.
 *
 * Levels share their values with cg_log_level_t of conf/config.h, so the
 * configured level can be passed as is; core/ does not include conf/.
 *
 * Before cg_log_open() (and after cg_log_close()) lines go to stderr at
 * level info, so early start-up messages are never lost.
 */
#ifndef CG_CORE_LOG_H
#define CG_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "core/common.h"

enum {
    CG_LOG_ERROR = 0,
    CG_LOG_WARN  = 1,
    CG_LOG_INFO  = 2,
    CG_LOG_DEBUG = 3,
};

#define CG_LOG_LINE_MAX 4096

/*
 * Opens the error log: `path` (created 0640 if missing, appended to) or
 * stderr when path is NULL; messages above `level` are dropped. Replaces a
 * log opened before. CG_OK, or CG_ERR with *err (the previous log stays).
 * Not meant to race with cg_log_reopen()/cg_log_close(); cg_log() may run
 * concurrently with all three.
 */
int cg_log_open(const char *path, int level, char **err);

/*
 * Reopens the log by path (SIGUSR1, after logrotate renamed the file): the
 * new file takes over the same descriptor number (dup2), so writers never
 * see a closed descriptor. On failure the old descriptor keeps working,
 * CG_ERR is returned with *err, and a line saying so is written to it.
 * A no-op returning CG_OK when logging to stderr.
 */
int cg_log_reopen(char **err);

/* Closes the log file; logging goes back to stderr. */
void cg_log_close(void);

/* Changes the level (on reload). */
void cg_log_set_level(int level);

/* True when a message at `level` would be written: test it before
 * building expensive arguments. */
bool cg_log_enabled(int level);

/* Writes one line at `level` (dropped when not enabled). Thread-safe. */
void cg_log(int level, const char *fmt, ...) CG_PRINTF(2, 3);
void cg_log_v(int level, const char *fmt, va_list ap) CG_PRINTF(2, 0);

/* "error", "warn", "info", "debug"; "?" for anything else. */
const char *cg_log_level_name(int level);

#endif

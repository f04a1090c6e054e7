/*
 * access_log.h: one line per request, in W3C extended format with IIS's
 * field names (the default, so existing IIS log tools read it), Apache /
 * nginx `combined`, or JSON lines.
 *
 * Shape: one struct cg_access_log per configured log (shared by all worker
 * threads), and one struct cg_access_log_buffer per worker thread. A request
 * appends its line to its thread's buffer (no lock, no syscall); the buffer
 * goes to the file with ONE write(2) on an O_APPEND descriptor when it is
 * full, when the loop's timer calls cg_access_log_flush() (about once a
 * second), and at shutdown. Lines therefore never interleave, and a flush
 * holds only whole lines.
 *
 * Values are escaped against log injection: control characters, quotes and
 * backslashes never reach the file raw. W3C: spaces become '+' (IIS
 * convention), empty values '-', other bytes < 0x21, 0x7f, '"' and '\\' become
 * %XX. combined: inside quotes, '"' and '\\' are backslash-escaped and
 * control bytes written \xNN (as nginx does). JSON: jansson-escaped;
 * invalid UTF-8 is replaced byte-wise by \xNN text before encoding.
 */
#ifndef CG_CORE_ACCESS_LOG_H
#define CG_CORE_ACCESS_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/common.h"

/* Same values as cg_log_format_t of conf/config.h. */
enum {
    CG_ACCESS_W3C      = 0,
    CG_ACCESS_COMBINED = 1,
    CG_ACCESS_JSON     = 2,
};

/* A borrowed string that need not be NUL-terminated (a slice of the request
 * buffer, for instance). p == NULL or len == 0 is written as "-". */
struct cg_access_str {
    const char *p;
    size_t len;
};

/* From a NUL-terminated string (NULL allowed). */
static inline struct cg_access_str cg_access_str(const char *s)
{
    struct cg_access_str r = { s, s != NULL ? strlen(s) : 0 };
    return r;
}

/*
 * One request. Every string is borrowed for the duration of the append call
 * only. Unknown values: empty strings / zero.
 */
struct cg_access_entry {
    struct timespec time;              /* when the request arrived (CLOCK_REALTIME) */
    struct cg_access_str s_ip;         /* server address, no brackets for IPv6 */
    unsigned s_port;
    struct cg_access_str c_ip;         /* client address */
    unsigned c_port;
    struct cg_access_str method;       /* cs-method */
    struct cg_access_str uri_stem;     /* cs-uri-stem: the path as received */
    struct cg_access_str uri_query;    /* cs-uri-query, without '?' */
    struct cg_access_str protocol;     /* "HTTP/1.1" */
    struct cg_access_str username;     /* cs-username: client certificate subject CN */
    struct cg_access_str user_agent;   /* cs(User-Agent) */
    struct cg_access_str referer;      /* cs(Referer) */
    struct cg_access_str host;         /* cs-host */
    int status, substatus;             /* sc-status, sc-substatus */
    unsigned win32_status;             /* sc-win32-status (0) */
    struct cg_access_str reason;       /* x-reason: slug of reason.h or errors.h, "-" when none */
    uint64_t bytes_sent, bytes_received;   /* sc-bytes, cs-bytes (wire bytes, headers included) */
    uint64_t time_taken_ms;            /* time-taken */
    struct cg_access_str tls_version;  /* x-tls-version: "TLSv1.3"; empty for plain HTTP */
    struct cg_access_str cert_subject; /* x-client-cert-subject (RFC 2253) */
    struct cg_access_str cert_sha256;  /* x-client-cert-sha256 (lower-case hex) */
};

/* The W3C "#Fields:" list, in the order lines are written. */
#define CG_ACCESS_W3C_FIELDS                                                           \
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "      \
    "cs-version cs(User-Agent) cs(Referer) cs-host sc-status sc-substatus "            \
    "sc-win32-status sc-bytes cs-bytes time-taken x-reason x-tls-version "             \
    "x-client-cert-subject x-client-cert-sha256"

/* Longest line written; longer values are cut so that a line always fits. */
#define CG_ACCESS_LINE_MAX 8192
/* Default per-thread buffer size. */
#define CG_ACCESS_BUFFER_DEFAULT (64 * 1024)

struct cg_access_log;

/*
 * Opens `path` (created 0640, appended to; NULL: stdout) for `format`
 * (CG_ACCESS_*). A W3C log gets its header block (#Software, #Version,
 * #Date, #Fields) on every open and reopen, as IIS writes one whenever it
 * starts a file. Returns the log or NULL with *err. Free with
 * cg_access_log_close() after every buffer using it was freed.
 */
struct cg_access_log *cg_access_log_open(const char *path, int format, char **err);

/*
 * Reopens by path (SIGUSR1 after logrotate renamed the file). The new file
 * takes over the same descriptor number, so buffers flushing on other
 * threads at that moment write to the old or the new file, never to a closed
 * descriptor. On failure the old file stays in use and CG_ERR is returned.
 * A no-op for stdout.
 */
int cg_access_log_reopen(struct cg_access_log *log, char **err);

/* NULL-safe. Buffers must have been freed (flushed) before. */
void cg_access_log_close(struct cg_access_log *log);

int cg_access_log_format_of(const struct cg_access_log *log);

/* One per worker thread; not shared. */
struct cg_access_log_buffer {
    struct cg_access_log *log;   /* borrowed */
    char *data;                  /* owned */
    size_t len, cap;
    uint64_t dropped;            /* bytes lost to failed writes (reported in the error log) */
};

/* cap 0: CG_ACCESS_BUFFER_DEFAULT; at least CG_ACCESS_LINE_MAX. CG_OK/CG_ERR. */
int cg_access_log_buffer_init(struct cg_access_log_buffer *b, struct cg_access_log *log,
                              size_t cap);
/* Flushes what is left and frees. NULL-safe; leaves *b zeroed. */
void cg_access_log_buffer_free(struct cg_access_log_buffer *b);

/* Formats the entry and appends the line, flushing first when it would not
 * fit. CG_OK, or CG_ERR when a needed flush failed (the line is still kept
 * if it fits, else dropped and counted). */
int cg_access_log_append(struct cg_access_log_buffer *b, const struct cg_access_entry *e);

/* Writes the buffered lines with one write(2). CG_OK (also when empty) or
 * CG_ERR (the data is dropped and counted, so a full disk cannot grow memory). */
int cg_access_log_flush(struct cg_access_log_buffer *b);

/*
 * Formats one line (with its '\n') into out[0..cap) in `format`; returns the
 * length written, or 0 when cap < CG_ACCESS_LINE_MAX would be needed and the
 * line does not fit. Values too long to fit CG_ACCESS_LINE_MAX are cut.
 * Used by append; exposed for tests and tools.
 */
size_t cg_access_log_format_line(int format, const struct cg_access_entry *e, char *out,
                                 size_t cap);

/* The W3C header block for time `now` into out; returns the length, 0 if it
 * does not fit. */
size_t cg_access_log_w3c_header(time_t now, char *out, size_t cap);

#endif

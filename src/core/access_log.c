/*
 * access_log.c: per-thread buffered access log lines in W3C, combined or
 * JSON format. Formatting never allocates; a line is bounded by per-field
 * budgets that add up to less than CG_ACCESS_LINE_MAX.
 */
#include "core/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"

struct cg_access_log {
    int fd;
    int format;
    char *path;              /* NULL: stdout */
    pthread_mutex_t mutex;   /* serialises reopen */
};

/* Output budgets per value, in bytes written (after escaping). They sum to
 * well under CG_ACCESS_LINE_MAX with the fixed parts of any format. */
enum {
    BUDGET_URI = 1536,
    BUDGET_LONG = 768,       /* user agent, referer, certificate subject */
    BUDGET_SHORT = 256,      /* username, host */
    BUDGET_TINY = 96,        /* addresses, method, protocol, reason, TLS, thumbprint */
};

/* ---- a bounded writer ------------------------------------------------- */

struct writer {
    char *p;
    size_t len, cap;
    bool over;
};

static void put(struct writer *w, const char *s, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void puts_(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static void CG_PRINTF(2, 3) putf(struct writer *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (w->over)
        return;
    va_start(ap, fmt);
    n = vsnprintf(w->p + w->len, w->cap - w->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= w->cap - w->len) {
        w->over = true;
        return;
    }
    w->len += (size_t)n;
}

static const char hexd[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    size_t need;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

typedef enum { ESC_W3C, ESC_QUOTED, ESC_JSON } esc_t;

/*
 * Writes value v escaped for `mode`, at most `budget` output bytes (a value
 * that does not fit is cut at a character boundary). Empty: "-" (W3C,
 * quoted) or nothing (JSON: the caller writes null).
 */
static void put_value(struct writer *w, struct cg_access_str v, size_t budget, esc_t mode)
{
    const unsigned char *s = (const unsigned char *)v.p;
    size_t used = 0;

    if (v.p == NULL || v.len == 0) {
        if (mode != ESC_JSON)
            put(w, "-", 1);
        return;
    }
    for (size_t i = 0; i < v.len;) {
        char tmp[8];
        size_t tn = 0, adv = 1;
        unsigned char c = s[i];

        switch (mode) {
        case ESC_W3C:
            if (c == ' ') {
                tmp[tn++] = '+';
            } else if (c < 0x21 || c == 0x7f || c == '"' || c == '\\') {
                tmp[tn++] = '%';
                tmp[tn++] = hexd[c >> 4];
                tmp[tn++] = hexd[c & 15];
            } else {
                tmp[tn++] = (char)c;
            }
            break;
        case ESC_QUOTED:
            if (c == '"' || c == '\\') {
                tmp[tn++] = '\\';
                tmp[tn++] = (char)c;
            } else if (c < 0x20 || c == 0x7f) {
                tmp[tn++] = '\\';
                tmp[tn++] = 'x';
                tmp[tn++] = hexd[c >> 4];
                tmp[tn++] = hexd[c & 15];
            } else {
                tmp[tn++] = (char)c;
            }
            break;
        case ESC_JSON:
            if (c == '"' || c == '\\') {
                tmp[tn++] = '\\';
                tmp[tn++] = (char)c;
            } else if (c < 0x20 || c == 0x7f) {
                memcpy(tmp, "\\u00", 4);
                tn = 4;
                tmp[tn++] = hexd[c >> 4];
                tmp[tn++] = hexd[c & 15];
            } else if (c >= 0x80) {
                adv = utf8_seq(s + i, v.len - i);
                if (adv == 0) {
                    /* not UTF-8: say which byte it was, as text */
                    adv = 1;
                    memcpy(tmp, "\\\\x", 3);
                    tn = 3;
                    tmp[tn++] = hexd[c >> 4];
                    tmp[tn++] = hexd[c & 15];
                } else {
                    memcpy(tmp, s + i, adv);
                    tn = adv;
                }
            } else {
                tmp[tn++] = (char)c;
            }
            break;
        }
        if (used + tn > budget)
            break;
        put(w, tmp, tn);
        used += tn;
        i += adv;
    }
}

static void put_json_field(struct writer *w, const char *key, struct cg_access_str v,
                           size_t budget, bool first)
{
    if (!first)
        put(w, ",", 1);
    put(w, "\"", 1);
    puts_(w, key);
    put(w, "\":", 2);
    if (v.p == NULL || v.len == 0) {
        puts_(w, "null");
        return;
    }
    put(w, "\"", 1);
    put_value(w, v, budget, ESC_JSON);
    put(w, "\"", 1);
}

/* ---- the three formats -------------------------------------------------- */

static void format_w3c(struct writer *w, const struct cg_access_entry *e, const struct tm *tm)
{
    putf(w, "%04d-%02d-%02d %02d:%02d:%02d ", tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
         tm->tm_hour, tm->tm_min, tm->tm_sec);
    put_value(w, e->s_ip, BUDGET_TINY, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->method, BUDGET_TINY, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->uri_stem, BUDGET_URI, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->uri_query, BUDGET_URI, ESC_W3C);
    putf(w, " %u ", e->s_port);
    put_value(w, e->username, BUDGET_SHORT, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->c_ip, BUDGET_TINY, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->protocol, BUDGET_TINY, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->user_agent, BUDGET_LONG, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->referer, BUDGET_LONG, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->host, BUDGET_SHORT, ESC_W3C);
    putf(w, " %d %d %u %" PRIu64 " %" PRIu64 " %" PRIu64 " ", e->status, e->substatus,
         e->win32_status, e->bytes_sent, e->bytes_received, e->time_taken_ms);
    put_value(w, e->reason, BUDGET_TINY, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->tls_version, BUDGET_TINY, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->cert_subject, BUDGET_LONG, ESC_W3C);
    put(w, " ", 1);
    put_value(w, e->cert_sha256, BUDGET_TINY, ESC_W3C);
    put(w, "\n", 1);
}

static void format_combined(struct writer *w, const struct cg_access_entry *e,
                            const struct tm *tm)
{
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

    /* remote_user is unquoted in this format: the W3C escaping keeps it one token */
    put_value(w, e->c_ip, BUDGET_TINY, ESC_W3C);
    put(w, " - ", 3);
    put_value(w, e->username, BUDGET_SHORT, ESC_W3C);
    putf(w, " [%02d/%s/%04d:%02d:%02d:%02d +0000] \"", tm->tm_mday, months[tm->tm_mon % 12],
         tm->tm_year + 1900, tm->tm_hour, tm->tm_min, tm->tm_sec);
    put_value(w, e->method, BUDGET_TINY, ESC_QUOTED);
    put(w, " ", 1);
    put_value(w, e->uri_stem, BUDGET_URI, ESC_QUOTED);
    if (e->uri_query.p != NULL && e->uri_query.len > 0) {
        put(w, "?", 1);
        put_value(w, e->uri_query, BUDGET_URI, ESC_QUOTED);
    }
    put(w, " ", 1);
    put_value(w, e->protocol, BUDGET_TINY, ESC_QUOTED);
    putf(w, "\" %d %" PRIu64 " \"", e->status, e->bytes_sent);
    put_value(w, e->referer, BUDGET_LONG, ESC_QUOTED);
    put(w, "\" \"", 3);
    put_value(w, e->user_agent, BUDGET_LONG, ESC_QUOTED);
    put(w, "\"\n", 2);
}

static void format_json(struct writer *w, const struct cg_access_entry *e, const struct tm *tm)
{
    putf(w, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"", tm->tm_year + 1900,
         tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec,
         e->time.tv_nsec / 1000000L);
    put_json_field(w, "s_ip", e->s_ip, BUDGET_TINY, false);
    putf(w, ",\"s_port\":%u", e->s_port);
    put_json_field(w, "c_ip", e->c_ip, BUDGET_TINY, false);
    putf(w, ",\"c_port\":%u", e->c_port);
    put_json_field(w, "method", e->method, BUDGET_TINY, false);
    put_json_field(w, "uri_stem", e->uri_stem, BUDGET_URI, false);
    put_json_field(w, "uri_query", e->uri_query, BUDGET_URI, false);
    put_json_field(w, "protocol", e->protocol, BUDGET_TINY, false);
    put_json_field(w, "username", e->username, BUDGET_SHORT, false);
    put_json_field(w, "user_agent", e->user_agent, BUDGET_LONG, false);
    put_json_field(w, "referer", e->referer, BUDGET_LONG, false);
    put_json_field(w, "host", e->host, BUDGET_SHORT, false);
    putf(w, ",\"status\":%d,\"substatus\":%d,\"win32_status\":%u", e->status, e->substatus,
         e->win32_status);
    put_json_field(w, "reason", e->reason, BUDGET_TINY, false);
    putf(w, ",\"bytes_sent\":%" PRIu64 ",\"bytes_received\":%" PRIu64
            ",\"time_taken_ms\":%" PRIu64,
         e->bytes_sent, e->bytes_received, e->time_taken_ms);
    put_json_field(w, "tls_version", e->tls_version, BUDGET_TINY, false);
    put_json_field(w, "client_cert_subject", e->cert_subject, BUDGET_LONG, false);
    put_json_field(w, "client_cert_sha256", e->cert_sha256, BUDGET_TINY, false);
    put(w, "}\n", 2);
}

size_t cg_access_log_format_line(int format, const struct cg_access_entry *e, char *out,
                                 size_t cap)
{
    struct writer w = { out, 0, cap < CG_ACCESS_LINE_MAX ? cap : CG_ACCESS_LINE_MAX, false };
    struct tm tm;
    time_t t = e->time.tv_sec;

    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    switch (format) {
    case CG_ACCESS_COMBINED:
        format_combined(&w, e, &tm);
        break;
    case CG_ACCESS_JSON:
        format_json(&w, e, &tm);
        break;
    default:
        format_w3c(&w, e, &tm);
        break;
    }
    return w.over ? 0 : w.len;
}

size_t cg_access_log_w3c_header(time_t now, char *out, size_t cap)
{
    struct writer w = { out, 0, cap, false };
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL)
        return 0;
    putf(&w,
         "#Software: certgate\n#Version: 1.0\n#Date: %04d-%02d-%02d %02d:%02d:%02d\n"
         "#Fields: %s\n",
         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
         CG_ACCESS_W3C_FIELDS);
    return w.over ? 0 : w.len;
}

/* ---- the shared log --------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return CG_ERR;
        }
        p += r;
        n -= (size_t)r;
    }
    return CG_OK;
}

static int write_header(int fd, int format)
{
    char hdr[512];
    size_t n;

    if (format != CG_ACCESS_W3C)
        return CG_OK;
    n = cg_access_log_w3c_header(time(NULL), hdr, sizeof(hdr));
    return n > 0 ? write_all(fd, hdr, n) : CG_ERR;
}

static int open_file(const char *path, int format, char **err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
    char buf[128];

    if (fd < 0) {
        (void)strerror_r(errno, buf, sizeof(buf));
        cg_set_err(err, "cannot open access log %s: %s", path, buf);
        return -1;
    }
    if (write_header(fd, format) != CG_OK) {
        (void)strerror_r(errno, buf, sizeof(buf));
        cg_set_err(err, "cannot write to access log %s: %s", path, buf);
        close(fd);
        return -1;
    }
    return fd;
}

struct cg_access_log *cg_access_log_open(const char *path, int format, char **err)
{
    struct cg_access_log *log = NULL, *ret = NULL;

    if (format < CG_ACCESS_W3C || format > CG_ACCESS_JSON) {
        cg_set_err(err, "unknown access log format %d", format);
        goto cleanup;
    }
    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        cg_set_err(err, "out of memory");
        goto cleanup;
    }
    log->fd = -1;
    log->format = format;
    pthread_mutex_init(&log->mutex, NULL);
    if (path == NULL) {
        log->fd = STDOUT_FILENO;
        if (write_header(log->fd, format) != CG_OK) {
            cg_set_err(err, "cannot write to the access log on stdout");
            goto cleanup;
        }
    } else {
        log->path = strdup(path);
        if (log->path == NULL) {
            cg_set_err(err, "out of memory");
            goto cleanup;
        }
        log->fd = open_file(path, format, err);
        if (log->fd < 0)
            goto cleanup;
    }
    ret = log;
    log = NULL;
cleanup:
    cg_access_log_close(log);
    return ret;
}

int cg_access_log_reopen(struct cg_access_log *log, char **err)
{
    int fd = -1, rc = CG_OK;

    if (log == NULL || log->path == NULL)
        return CG_OK;
    pthread_mutex_lock(&log->mutex);
    fd = open_file(log->path, log->format, err);
    if (fd < 0) {
        rc = CG_ERR;
        goto cleanup;
    }
    /* same number: a buffer flushing on another thread never sees it closed */
    if (dup2(fd, log->fd) < 0) {
        rc = cg_set_err(err, "cannot replace the access log descriptor for %s", log->path);
        goto cleanup;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    pthread_mutex_unlock(&log->mutex);
    return rc;
}

void cg_access_log_close(struct cg_access_log *log)
{
    if (log == NULL)
        return;
    if (log->path != NULL && log->fd >= 0)
        close(log->fd);
    pthread_mutex_destroy(&log->mutex);
    free(log->path);
    free(log);
}

int cg_access_log_format_of(const struct cg_access_log *log)
{
    return log->format;
}

/* ---- per-thread buffers ------------------------------------------------- */

int cg_access_log_buffer_init(struct cg_access_log_buffer *b, struct cg_access_log *log,
                              size_t cap)
{
    memset(b, 0, sizeof(*b));
    if (cap == 0)
        cap = CG_ACCESS_BUFFER_DEFAULT;
    if (cap < CG_ACCESS_LINE_MAX)
        cap = CG_ACCESS_LINE_MAX;
    b->data = malloc(cap);
    if (b->data == NULL)
        return CG_ERR;
    b->cap = cap;
    b->log = log;
    return CG_OK;
}

void cg_access_log_buffer_free(struct cg_access_log_buffer *b)
{
    if (b == NULL)
        return;
    if (b->data != NULL && b->log != NULL)
        (void)cg_access_log_flush(b);
    free(b->data);
    memset(b, 0, sizeof(*b));
}

int cg_access_log_flush(struct cg_access_log_buffer *b)
{
    int rc = CG_OK;

    if (b->len == 0)
        return CG_OK;
    if (write_all(b->log->fd, b->data, b->len) != CG_OK) {
        int e = errno;
        char buf[128];
        (void)strerror_r(e, buf, sizeof(buf));
        b->dropped += b->len;
        cg_log(CG_LOG_ERROR, "access log %s: write failed (%s); %" PRIu64 " bytes dropped so far",
               b->log->path != NULL ? b->log->path : "(stdout)", buf, b->dropped);
        rc = CG_ERR;
    }
    b->len = 0;
    return rc;
}

int cg_access_log_append(struct cg_access_log_buffer *b, const struct cg_access_entry *e)
{
    int rc = CG_OK;
    size_t n = cg_access_log_format_line(b->log->format, e, b->data + b->len, b->cap - b->len);

    if (n == 0) {
        rc = cg_access_log_flush(b);
        n = cg_access_log_format_line(b->log->format, e, b->data, b->cap);
        if (n == 0) {
            b->dropped += 1;
            return CG_ERR;
        }
    }
    b->len += n;
    return rc;
}

/*
 * static.c: static file resolution beneath a root descriptor, validators,
 * conditional requests and single byte ranges.
 */
#include "http/static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/log.h"
#include "http/filecache.h"
#include "http/uri.h"

struct cg_static_root {
    int fd;                  /* O_PATH | O_DIRECTORY */
    bool follow_symlinks;
    char *path;              /* for log lines */
};

/* Cleared when the kernel says ENOSYS, or by tests. */
static atomic_bool use_openat2 = true;

void cg_static_use_openat2(bool enabled)
{
    atomic_store(&use_openat2, enabled);
}

int cg_static_root_open(const char *path, bool follow_symlinks, struct cg_static_root **out,
                        char **err)
{
    struct cg_static_root *r = NULL;
    int rc = CG_ERR;

    *out = NULL;
    r = calloc(1, sizeof(*r));
    if (r != NULL)
        r->fd = -1;
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        cg_set_err(err, "out of memory");
        goto cleanup;
    }
    r->follow_symlinks = follow_symlinks;
    r->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (r->fd < 0) {
        char buf[128];
        (void)strerror_r(errno, buf, sizeof(buf));
        cg_set_err(err, "cannot open document root %s: %s", path, buf);
        goto cleanup;
    }
    *out = r;
    r = NULL;
    rc = CG_OK;
cleanup:
    cg_static_root_close(r);
    return rc;
}

void cg_static_root_close(struct cg_static_root *root)
{
    if (root == NULL)
        return;
    if (root->fd >= 0)
        close(root->fd);
    free(root->path);
    free(root);
}

void cg_static_result_release(struct cg_static_result *out)
{
    if (out == NULL)
        return;
    if (out->fd >= 0)
        close(out->fd);
    out->fd = -1;
    free(out->location);
    out->location = NULL;
}

/* ---- resolution ------------------------------------------------------- */

#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* Walks rel one component at a time with O_NOFOLLOW: no symlink is ever
 * followed, and without '..' components nothing can leave dirfd. */
static int open_walk(int dirfd, const char *rel)
{
    char comp[NAME_MAX + 1];
    int cur = dirfd, fd = -1;
    const char *p = rel;

    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);
        bool last = slash == NULL || slash[1] == '\0';

        if (n == 0 || n > NAME_MAX) {
            errno = ENOENT;
            fd = -1;
            break;
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        /* a trailing '/' names a directory, as it does for openat2 */
        fd = openat(cur, comp, last ? OPEN_FLAGS | O_NOFOLLOW | (slash != NULL ? O_DIRECTORY : 0)
                                    : O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (cur != dirfd) {
            int e = errno;
            close(cur);
            errno = e;
        }
        if (fd < 0 || last)
            break;
        cur = fd;
        p = slash + 1;
    }
    return fd;
}

/* Opens rel (no leading '/', no '.' or '..' components; "." for the root
 * itself) beneath root with the symlink rules of static.h. -1 with errno. */
static int open_beneath(const struct cg_static_root *root, const char *rel)
{
    if (strcmp(rel, ".") == 0)
        return openat(root->fd, ".", OPEN_FLAGS);
    if (root->follow_symlinks)
        return openat(root->fd, rel, OPEN_FLAGS);
    if (atomic_load(&use_openat2)) {
        struct open_how how = {
            .flags = OPEN_FLAGS,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        for (int attempt = 0; attempt < 2; attempt++) {
            long fd = syscall(SYS_openat2, root->fd, rel, &how, sizeof(how));
            if (fd >= 0)
                return (int)fd;
            if (errno != EAGAIN)
                break;
        }
        if (errno != ENOSYS)
            return -1;
        atomic_store(&use_openat2, false);
    }
    return open_walk(root->fd, rel);
}

/* ---- helpers ---------------------------------------------------------- */

static bool slice_eq(struct cg_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.p != NULL && s.len == n && memcmp(s.p, lit, n) == 0;
}

/*
 * Checks the path and writes the relative form into rel. Refuses what a
 * normalised path never holds ('.', '..', empty components, NUL, '\\') and
 * hidden names (a component starting with '.'), except "/.well-known" as
 * the first component (RFC 8615).
 */
static bool path_to_rel(struct cg_slice path, char *rel, size_t cap)
{
    size_t o = 0, i = 1, comp_start;
    bool first = true;

    if (path.p == NULL || path.len == 0 || path.p[0] != '/' || path.len >= cap)
        return false;
    while (i < path.len) {
        comp_start = i;
        while (i < path.len && path.p[i] != '/') {
            if (path.p[i] == '\0' || path.p[i] == '\\')
                return false;
            i++;
        }
        {
            const char *c = path.p + comp_start;
            size_t n = i - comp_start;
            if (n == 0)
                return false;   /* "//" */
            if (n > NAME_MAX)
                return false;
            if (c[0] == '.' && !(first && n == 11 && memcmp(c, ".well-known", 11) == 0))
                return false;   /* ".", "..", hidden */
            memcpy(rel + o, c, n);
            o += n;
        }
        if (i < path.len) {   /* a '/' */
            rel[o++] = '/';
            i++;
        }
        first = false;
    }
    if (o == 0)
        rel[o++] = '.';
    rel[o] = '\0';
    return true;
}

static void set_error(struct cg_static_result *out, cg_http_error_t e)
{
    if (out->fd >= 0)
        close(out->fd);
    out->fd = -1;
    out->status = cg_http_error_status(e);
    out->error = e;
    out->content_type = NULL;
    out->length = 0;
    out->offset = 0;
    out->accept_ranges = false;
}

static cg_http_error_t errno_to_error(int e, const struct cg_static_root *root,
                                      const char *rel)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:        /* a symlink where none may be followed */
    case EXDEV:        /* a symlink leaving root */
    case ENAMETOOLONG:
    case ENXIO:        /* a socket or an unconnected FIFO */
        return CG_HTTP_ERR_NOT_FOUND;
    case EACCES:
    case EPERM:
        return CG_HTTP_ERR_FORBIDDEN;
    default:
        cg_log(CG_LOG_ERROR, "static: cannot open %s/%s: errno %d", root->path, rel, e);
        return CG_HTTP_ERR_INTERNAL_ERROR;
    }
}

/* The Location of the redirect that adds the trailing slash: the path
 * percent-encoded for a header, plus the query as received. */
static char *make_location(const struct cg_static_request *req)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t qlen = req->query.p != NULL ? req->query.len : 0;
    char *loc = malloc(req->path.len * 3 + 2 + (qlen > 0 ? qlen + 1 : 0) + 1);
    size_t o = 0;

    if (loc == NULL)
        return NULL;
    for (size_t i = 0; i < req->path.len; i++) {
        unsigned char c = (unsigned char)req->path.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~!$&'()*+,;=:@/", c) != NULL) {
            loc[o++] = (char)c;
        } else {
            loc[o++] = '%';
            loc[o++] = hex[c >> 4];
            loc[o++] = hex[c & 15];
        }
    }
    loc[o++] = '/';
    if (qlen > 0) {
        loc[o++] = '?';
        memcpy(loc + o, req->query.p, qlen);
        o += qlen;
    }
    loc[o] = '\0';
    return loc;
}

/* The opaque part of an entity-tag at s (with quotes), weak prefix skipped;
 * returns the position after it, or NULL on bad syntax. */
static const char *next_etag(const char *s, const char *end, const char **tag, size_t *tag_len,
                             bool *weak)
{
    *weak = false;
    if (end - s >= 2 && s[0] == 'W' && s[1] == '/') {
        *weak = true;
        s += 2;
    }
    if (s >= end || *s != '"')
        return NULL;
    *tag = s;
    for (s++; s < end && *s != '"'; s++)
        ;
    if (s >= end)
        return NULL;
    s++;
    *tag_len = (size_t)(s - *tag);
    return s;
}

/* If-None-Match uses the weak comparison (RFC 9110 13.1.2). */
static bool none_match_hits(struct cg_slice v, const char *etag)
{
    const char *s = v.p, *end = v.p + v.len;
    size_t elen = strlen(etag);

    while (s < end) {
        const char *tag;
        size_t tag_len;
        bool weak;

        while (s < end && (*s == ' ' || *s == '\t' || *s == ','))
            s++;
        if (s >= end)
            break;
        if (*s == '*')
            return true;
        s = next_etag(s, end, &tag, &tag_len, &weak);
        if (s == NULL)
            return false;
        if (tag_len == elen && memcmp(tag, etag, elen) == 0)
            return true;
    }
    return false;
}

/* If-Range: a strong entity-tag match, or a date equal to Last-Modified. */
static bool if_range_holds(struct cg_slice v, const char *etag, time_t mtime)
{
    time_t t;

    if (v.len >= 1 && (v.p[0] == '"' || (v.len >= 2 && v.p[0] == 'W' && v.p[1] == '/'))) {
        const char *tag;
        size_t tag_len;
        bool weak;
        const char *after = next_etag(v.p, v.p + v.len, &tag, &tag_len, &weak);
        return after == v.p + v.len && !weak && tag_len == strlen(etag) &&
               memcmp(tag, etag, tag_len) == 0;
    }
    return cg_http_date_parse(v.p, v.len, &t) == CG_OK && t == mtime;
}

/* ---- the decision ----------------------------------------------------- */

static void drop_fd(struct cg_static_result *out)
{
    if (out->fd >= 0)
        close(out->fd);
    out->fd = -1;
}

static void facts_of(const struct stat *st, const char *rel, struct cg_file_facts *f)
{
    f->dev = (uint64_t)st->st_dev;
    f->ino = (uint64_t)st->st_ino;
    f->size = (uint64_t)st->st_size;
    f->mtime = st->st_mtim;
    f->ctime = st->st_ctim;
    f->content_type = cg_static_mime_type(rel, strlen(rel));
    snprintf(f->etag, sizeof(f->etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
             (uint64_t)st->st_ino, (uint64_t)st->st_size,
             (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec);
    if (cg_http_date_format(st->st_mtim.tv_sec, f->last_modified, sizeof(f->last_modified)) !=
        CG_OK)
        f->last_modified[0] = '\0';
}

/*
 * Finds the file for the path in rel (modified: index.html appended for a
 * directory). Returns true with out->fd open on a regular file and *st
 * filled, or false with out holding the answer (an error, or the 301 that
 * adds a directory's trailing slash).
 */
static bool resolve(const struct cg_static_root *root, const struct cg_static_request *req,
                    char *rel, struct stat *st, struct cg_static_result *out)
{
    int fd = open_beneath(root, rel);

    if (fd < 0) {
        set_error(out, errno_to_error(errno, root, rel));
        return false;
    }
    out->fd = fd;
    if (fstat(fd, st) != 0) {
        set_error(out, errno_to_error(errno, root, rel));
        return false;
    }
    if (S_ISDIR(st->st_mode)) {
        size_t n = strlen(rel);
        drop_fd(out);
        if (req->path.p[req->path.len - 1] != '/') {
            out->status = 301;
            out->location = make_location(req);
            if (out->location == NULL)
                set_error(out, CG_HTTP_ERR_INTERNAL_ERROR);
            return false;
        }
        /* index.html under the same rules as any other lookup */
        if (strcmp(rel, ".") == 0)
            n = 0;
        memcpy(rel + n, "index.html", sizeof("index.html"));
        fd = open_beneath(root, rel);
        if (fd < 0) {
            cg_http_error_t e = errno_to_error(errno, root, rel);
            set_error(out, e == CG_HTTP_ERR_NOT_FOUND ? CG_HTTP_ERR_DIRECTORY_LISTING_DENIED : e);
            return false;
        }
        out->fd = fd;
        if (fstat(fd, st) != 0) {
            set_error(out, errno_to_error(errno, root, rel));
            return false;
        }
        if (!S_ISREG(st->st_mode)) {
            set_error(out, CG_HTTP_ERR_DIRECTORY_LISTING_DENIED);
            return false;
        }
    } else if (!S_ISREG(st->st_mode)) {
        set_error(out, CG_HTTP_ERR_NOT_FOUND);   /* FIFOs, sockets, devices */
        return false;
    }
    return true;
}

/* Preconditions and Range for a found file, from its facts alone. The body
 * is out->fd or out->body (whichever the caller set); both are let go when
 * no body is sent. */
static void decide(const struct cg_static_request *req, bool is_head,
                   const struct cg_file_facts *f, struct cg_static_result *out)
{
    out->size = f->size;
    memcpy(out->etag, f->etag, sizeof(out->etag));
    memcpy(out->last_modified, f->last_modified, sizeof(out->last_modified));

    /* preconditions: If-None-Match wins over If-Modified-Since */
    if (req->if_none_match.p != NULL) {
        if (none_match_hits(req->if_none_match, out->etag)) {
            drop_fd(out);
            out->body = NULL;
            out->status = 304;
            return;
        }
    } else if (req->if_modified_since.p != NULL && out->last_modified[0] != '\0') {
        time_t ims;
        if (cg_http_date_parse(req->if_modified_since.p, req->if_modified_since.len, &ims) ==
                CG_OK &&
            f->mtime.tv_sec <= ims) {
            drop_fd(out);
            out->body = NULL;
            out->status = 304;
            return;
        }
    }

    out->status = 200;
    out->offset = 0;
    out->length = out->size;
    out->accept_ranges = true;
    out->content_type = f->content_type;

    if (req->range.p != NULL &&
        (req->if_range.p == NULL || if_range_holds(req->if_range, out->etag, f->mtime.tv_sec))) {
        uint64_t first = 0, last = 0;
        int r = cg_http_range_parse(req->range.p, req->range.len, out->size, &first, &last);
        if (r == CG_OK) {
            out->status = 206;
            out->offset = first;
            out->length = last - first + 1;
            snprintf(out->content_range, sizeof(out->content_range),
                     "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, out->size);
        } else if (r == CG_ERR) {
            set_error(out, CG_HTTP_ERR_RANGE_NOT_SATISFIABLE);
            out->body = NULL;
            snprintf(out->content_range, sizeof(out->content_range), "bytes */%" PRIu64,
                     out->size);
            return;
        }
    }
    if (is_head) {
        drop_fd(out);
        out->body = NULL;
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The file found the normal way (out->fd, *st) into the cache: an entry
 * checked again and unchanged is kept, a changed one replaced (its bytes
 * read while the descriptor is open). Returns the entry to answer from, or
 * NULL to answer from the descriptor (too large, a short read, no memory).
 */
static struct cg_file_cache_entry *cache_fill(struct cg_file_cache *cache, uint64_t site,
                                              const struct cg_static_request *req,
                                              struct cg_file_cache_entry *old,
                                              const struct cg_file_facts *f, int64_t now,
                                              int fd)
{
    unsigned char *buf;
    struct cg_file_cache_entry *e = NULL;
    ssize_t n;

    if (old != NULL && cg_file_cache_same(old, f)) {
        cg_file_cache_touch(old, now);
        return old;
    }
    if (f->size > cg_file_cache_limits(cache)->max_file) {
        if (old != NULL)
            cg_file_cache_drop(cache, site, req->path.p, req->path.len);
        return NULL;
    }
    buf = malloc(f->size > 0 ? (size_t)f->size : 1);
    if (buf == NULL)
        goto dropped;
    n = f->size > 0 ? pread(fd, buf, (size_t)f->size, 0) : 0;
    if (n == (ssize_t)f->size)
        e = cg_file_cache_put(cache, site, req->path.p, req->path.len, f, buf, now);
    free(buf);
    if (e != NULL)
        return e;
dropped:
    cg_file_cache_drop(cache, site, req->path.p, req->path.len);
    return NULL;
}

int cg_static_open_cached(const struct cg_static_root *root, struct cg_file_cache *cache,
                          uint64_t site, const struct cg_static_request *req,
                          struct cg_static_result *out)
{
    char rel[PATH_MAX + 16];
    struct stat st;
    struct cg_file_facts facts;
    struct cg_file_cache_entry *e = NULL;
    int64_t now = 0;
    bool is_head;

    if (out == NULL)
        return CG_ERR;
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (root == NULL || req == NULL)
        return CG_ERR;

    is_head = slice_eq(req->method, "HEAD");
    if (!is_head && !slice_eq(req->method, "GET")) {
        set_error(out, CG_HTTP_ERR_METHOD_NOT_ALLOWED);
        out->allow = "GET, HEAD";
        return CG_OK;
    }

    /* An entry exists only for a path that passed every check below when
     * it was made, and the checks depend on the path alone. */
    if (cache != NULL && req->path.p != NULL) {
        bool fresh;
        now = now_ms();
        e = cg_file_cache_get(cache, site, req->path.p, req->path.len, now, &fresh);
        if (e != NULL && fresh) {
            out->body = e->data;
            decide(req, is_head, &e->facts, out);
            return CG_OK;
        }
    }

    if (!path_to_rel(req->path, rel, PATH_MAX)) {
        set_error(out, CG_HTTP_ERR_NOT_FOUND);
        return CG_OK;
    }
    if (!resolve(root, req, rel, &st, out)) {
        if (e != NULL)   /* gone, forbidden, or no longer a file */
            cg_file_cache_drop(cache, site, req->path.p, req->path.len);
        return CG_OK;
    }
    facts_of(&st, rel, &facts);
    if (cache != NULL) {
        e = cache_fill(cache, site, req, e, &facts, now, out->fd);
        if (e != NULL) {
            drop_fd(out);
            out->body = e->data;
            decide(req, is_head, &e->facts, out);
            return CG_OK;
        }
    }
    decide(req, is_head, &facts, out);
    return CG_OK;
}

int cg_static_open(const struct cg_static_root *root, const struct cg_static_request *req,
                   struct cg_static_result *out)
{
    return cg_static_open_cached(root, NULL, 0, req, out);
}

/* ---- HTTP dates ------------------------------------------------------- */

static const char *const wkdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

int cg_http_date_format(time_t t, char *out, size_t cap)
{
    struct tm tm;
    int n;

    if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
        return CG_ERR;
    n = snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d GMT", wkdays[tm.tm_wday],
                 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
    return n == CG_HTTP_DATE_LEN && (size_t)n < cap ? CG_OK : CG_ERR;
}

struct cursor {
    const char *p, *end;
};

static bool lit(struct cursor *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return false;
    c->p += n;
    return true;
}

static bool digits(struct cursor *c, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return false;
        *v = *v * 10 + (*c->p++ - '0');
    }
    return true;
}

static bool month(struct cursor *c, int *m)
{
    for (int i = 0; i < 12; i++)
        if (lit(c, months[i])) {
            *m = i;
            return true;
        }
    return false;
}

static bool hms(struct cursor *c, struct tm *tm)
{
    return digits(c, 2, &tm->tm_hour) && lit(c, ":") && digits(c, 2, &tm->tm_min) &&
           lit(c, ":") && digits(c, 2, &tm->tm_sec);
}

static bool skip_wkday(struct cursor *c, bool long_form)
{
    static const char *const long_days[] = { "Sunday", "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday" };
    for (int i = 0; i < 7; i++)
        if (lit(c, long_form ? long_days[i] : wkdays[i]))
            return true;
    return false;
}

int cg_http_date_parse(const char *s, size_t len, time_t *out)
{
    struct cursor c = { s, s + len };
    struct tm tm;
    bool ok;

    memset(&tm, 0, sizeof(tm));
    if (s == NULL)
        return CG_ERR;
    if (len >= 4 && s[3] == ',') {
        /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        ok = skip_wkday(&c, false) && lit(&c, ", ") && digits(&c, 2, &tm.tm_mday) &&
             lit(&c, " ") && month(&c, &tm.tm_mon) && lit(&c, " ") &&
             digits(&c, 4, &tm.tm_year) && lit(&c, " ") && hms(&c, &tm) && lit(&c, " GMT");
        tm.tm_year -= 1900;
    } else if (memchr(s, ',', len) != NULL) {
        /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
        ok = skip_wkday(&c, true) && lit(&c, ", ") && digits(&c, 2, &tm.tm_mday) &&
             lit(&c, "-") && month(&c, &tm.tm_mon) && lit(&c, "-") &&
             digits(&c, 2, &tm.tm_year) && lit(&c, " ") && hms(&c, &tm) && lit(&c, " GMT");
        if (ok) {
            /* two-digit year: more than 50 years ahead means the past century */
            struct tm now;
            time_t t = time(NULL);
            int year_now;
            gmtime_r(&t, &now);
            year_now = now.tm_year + 1900;
            tm.tm_year += year_now - year_now % 100;
            if (tm.tm_year > year_now + 50)
                tm.tm_year -= 100;
            tm.tm_year -= 1900;
        }
    } else {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        ok = skip_wkday(&c, false) && lit(&c, " ") && month(&c, &tm.tm_mon) && lit(&c, " ");
        if (ok && c.p < c.end && *c.p == ' ') {
            c.p++;
            ok = digits(&c, 1, &tm.tm_mday);
        } else if (ok) {
            ok = digits(&c, 2, &tm.tm_mday);
        }
        ok = ok && lit(&c, " ") && hms(&c, &tm) && lit(&c, " ") && digits(&c, 4, &tm.tm_year);
        tm.tm_year -= 1900;
    }
    if (!ok || c.p != c.end || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return CG_ERR;
    if (tm.tm_sec == 60)
        tm.tm_sec = 59;   /* a leap second: as close as time_t gets */
    *out = timegm(&tm);
    return CG_OK;
}

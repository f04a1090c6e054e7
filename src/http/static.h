/*
 * static.h: static files, decided without sockets. Given a site root, a
 * decoded and normalised request path, the method and the conditional /
 * range headers, say what to answer: which status, which headers, and which
 * open file and byte range to send.
 *
 * Safe by construction: the root is opened once as a directory descriptor
 * and every lookup resolves beneath it (openat2 with RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS, or a component-by-component openat(O_NOFOLLOW)
 * walk on kernels without openat2). '..' components, empty or NUL bytes in
 * the path and hidden components (a name starting with '.', except
 * "/.well-known") are refused before touching the disk.
 *
 * Symlinks: with follow_symlinks false (the default), a symlink is followed
 * only when its target stays inside root (an absolute target, or one that
 * climbs out, is answered 404); on the fallback walk every symlink is
 * refused. With follow_symlinks true (`symlinks: follow`), symlinks are
 * followed wherever they point: the administrator said so.
 *
 * Validators: the ETag is strong, "<inode>-<size>-<mtime ns>" in hex: it
 * changes whenever the file is replaced or written (mtime has nanosecond
 * resolution), and byte ranges need a strong validator for If-Range.
 */
#ifndef CG_HTTP_STATIC_H
#define CG_HTTP_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/common.h"
#include "http/errors.h"
#include "http/parser.h"

/* A document root, opened once (per config snapshot); immutable and usable
 * from any number of threads at once. A directory renamed over root is seen
 * after the next reload (when the snapshot opens the root again). */
struct cg_static_root;

/* Opens `path` (must be a directory). CG_OK with *out, or CG_ERR with *err. */
int cg_static_root_open(const char *path, bool follow_symlinks, struct cg_static_root **out,
                        char **err);
void cg_static_root_close(struct cg_static_root *root);   /* NULL-safe */

/* The request, as slices of the parsed request (absent header: p NULL). */
struct cg_static_request {
    struct cg_slice method;
    struct cg_slice path;             /* percent-decoded, dot-segments removed, starts with '/' */
    struct cg_slice query;            /* raw query, without '?', kept on a 301 */
    struct cg_slice if_none_match;
    struct cg_slice if_modified_since;
    struct cg_slice range;
    struct cg_slice if_range;
};

#define CG_STATIC_ETAG_MAX 64
#define CG_HTTP_DATE_LEN 29          /* "Sun, 06 Nov 1994 08:49:37 GMT" */

struct cg_static_result {
    int status;                /* 200, 206, 301, 304, or an error status */
    cg_http_error_t error;     /* when status >= 400: 403.14, 404, 405, 416, 500 */
    const unsigned char *body; /* 200/206 on GET answered from the file cache: the
                                  whole file (send length bytes from offset);
                                  borrowed, valid until the next call on that
                                  cache; fd is then -1. NULL otherwise */
    int fd;                    /* 200/206 on GET: open file, OWNED BY THE CALLER
                                  (send length bytes from offset with sendfile or
                                  pread, then close, or call cg_static_result_release;
                                  opened O_NONBLOCK so a FIFO cannot stall the
                                  loop, which changes nothing for regular files);
                                  -1 otherwise (HEAD gets no descriptor) */
    uint64_t offset, length;   /* body bytes to send (also for HEAD: Content-Length) */
    uint64_t size;             /* whole file size */
    const char *content_type;  /* static; NULL when no body of the file */
    char etag[CG_STATIC_ETAG_MAX];          /* with quotes; "" when none */
    char last_modified[CG_HTTP_DATE_LEN + 1];   /* IMF-fixdate; "" when none */
    char content_range[80];    /* 206: "bytes 0-99/1000"; 416: "bytes *\/1000"; else "" */
    const char *allow;         /* 405: "GET, HEAD"; else NULL */
    char *location;            /* 301: heap "/dir/?query", caller frees (or release) */
    bool accept_ranges;        /* send "Accept-Ranges: bytes" (200/206 of a file) */
};

/*
 * Decides the answer for `req` under `root`. Always fills *out (status 500
 * with error INTERNAL_ERROR on an unexpected system error, which is also
 * written to the error log) and returns CG_OK; CG_ERR only when root or req
 * is NULL. Order: method (405), path checks (404), lookup (404 / 403.14 /
 * 301 for a directory without the trailing slash, index.html for one with
 * it), preconditions (If-None-Match takes precedence over If-Modified-Since
 * -> 304), Range (with If-Range) -> 206 / 416 / 200.
 * A Range header that is not a single well-formed bytes range is ignored
 * (200), as RFC 9110 allows; multiple ranges are answered 200 with the whole
 * file.
 */
int cg_static_open(const struct cg_static_root *root, const struct cg_static_request *req,
                   struct cg_static_result *out);

/*
 * The same, with a cache of small files (filecache.h; NULL: none) and the
 * key of this root in it. A fresh entry for req->path answers without
 * touching the disk; otherwise the file is found exactly as above and,
 * when it is a regular file of at most max_file bytes, cached (or its
 * entry refreshed); an entry whose file is gone, forbidden or no longer a
 * file is dropped. Answers are the same as cg_static_open's, except that a
 * cached body comes in out->body instead of out->fd.
 */
struct cg_file_cache;
int cg_static_open_cached(const struct cg_static_root *root, struct cg_file_cache *cache,
                          uint64_t site, const struct cg_static_request *req,
                          struct cg_static_result *out);

/* Closes out->fd (if >= 0) and frees out->location. NULL-safe, idempotent. */
void cg_static_result_release(struct cg_static_result *out);

/* MIME type for a file name by extension (case-insensitive); text types carry
 * "; charset=utf-8"; unknown: "application/octet-stream". Static string. */
const char *cg_static_mime_type(const char *name, size_t len);

/* For tests: false forces the component-by-component fallback walk used on
 * kernels without openat2 (default true: openat2 when the kernel has it). */
void cg_static_use_openat2(bool enabled);

/* IMF-fixdate of t into out (at least CG_HTTP_DATE_LEN + 1 bytes). Returns
 * CG_OK, or CG_ERR when t is out of range. */
int cg_http_date_format(time_t t, char *out, size_t cap);
/* Parses an HTTP date in IMF-fixdate, or the obsolete RFC 850 and asctime
 * forms recipients must accept (RFC 9110 5.6.7). CG_OK with *out, else CG_ERR. */
int cg_http_date_parse(const char *s, size_t len, time_t *out);

#endif

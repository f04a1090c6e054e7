/*
 * errors.h: every error response certgate sends, from ONE place.
 *
 * Two tables feed one renderer: CG_HTTP_ERROR_MAP below for the HTTP-level
 * errors (malformed request, not found, overloaded, ...) and CG_REASON_MAP
 * of cert/reason.h for the client-certificate causes (403.4, 403.7, 403.12,
 * 403.13, 403.16, 403.17). A caller fills a struct cg_error_info from either
 * (cg_error_info_http / cg_error_info_cert) and renders it as an HTML page
 * for browsers or as RFC 9457 application/problem+json for API clients,
 * chosen from the Accept header by cg_error_want_json().
 *
 * The JSON body always has: type ("about:blank"), status, substatus, code
 * ("403.14"), reason (slug), title, detail. With `detailed` and a verdict it
 * also has "path" (one object per element, leaf first: subject, issuer,
 * serial, not_before, not_after, sha256, source, problems[{reason, text}])
 * and "remedy" (array of strings). The HTML page shows the code and title,
 * the text for the person at the browser (for expired / not-yet-valid
 * certificates, the certificate's dates), and with `detailed` the
 * certification path root-down with a mark per element, its problems, and
 * the fix. A friendly (not detailed) page or body never names the path,
 * subjects or thumbprints.
 */
#ifndef CG_HTTP_ERRORS_H
#define CG_HTTP_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "cert/reason.h"
#include "core/common.h"

struct cg_verdict;

/* enum suffix, status, substatus, slug, title, text for the person. */
#define CG_HTTP_ERROR_MAP(XX)                                                              \
    XX(BAD_REQUEST, 400, 0, "bad-request", "Bad request",                                  \
       "The server could not understand the request.")                                     \
    XX(DIRECTORY_LISTING_DENIED, 403, 14, "directory-listing-denied",                      \
       "Directory listing denied",                                                         \
       "This address is a folder, and its contents are not listed.")                       \
    XX(FORBIDDEN, 403, 0, "forbidden", "Forbidden",                                        \
       "You are not allowed to see this page.")                                            \
    XX(NOT_FOUND, 404, 0, "not-found", "Not found",                                        \
       "The page you asked for does not exist. Check the address.")                        \
    XX(METHOD_NOT_ALLOWED, 405, 0, "method-not-allowed", "Method not allowed",             \
       "This address does not accept that kind of request.")                               \
    XX(REQUEST_TIMEOUT, 408, 0, "request-timeout", "Request timeout",                      \
       "The request took too long to arrive.")                                             \
    XX(LENGTH_REQUIRED, 411, 0, "length-required", "Length required",                      \
       "The request has a body but does not say how long it is.")                          \
    XX(BODY_TOO_LARGE, 413, 0, "body-too-large", "Request body too large",                 \
       "The request body is larger than this server accepts.")                             \
    XX(URI_TOO_LONG, 414, 0, "uri-too-long", "URI too long",                               \
       "The address is longer than this server accepts.")                                  \
    XX(RANGE_NOT_SATISFIABLE, 416, 0, "range-not-satisfiable", "Range not satisfiable",    \
       "The requested part of the file lies outside the file.")                            \
    XX(EXPECTATION_FAILED, 417, 0, "expectation-failed", "Expectation failed",            \
       "The request asks the server for something it does not do (an Expect header it "    \
       "does not support).")                                                               \
    XX(MISDIRECTED_REQUEST, 421, 0, "misdirected-request", "Misdirected request",          \
       "This connection was set up for another site. Open the address again in a new "     \
       "window or tab.")                                                                   \
    XX(HEADERS_TOO_LARGE, 431, 0, "headers-too-large", "Request headers too large",        \
       "The request headers are larger than this server accepts. Clearing this site's "    \
       "cookies may help.")                                                                \
    XX(INTERNAL_ERROR, 500, 0, "internal-error", "Internal server error",                  \
       "Something went wrong on the server. Try again later.")                             \
    XX(NOT_IMPLEMENTED, 501, 0, "not-implemented", "Not implemented",                      \
       "The server does not support what the request asks for.")                           \
    XX(BAD_GATEWAY, 502, 0, "bad-gateway", "Bad gateway",                                  \
       "The server behind this one sent an invalid answer. Try again later.")              \
    XX(OVERLOADED, 503, 0, "overloaded", "Service unavailable",                            \
       "The server is too busy right now. Try again in a moment.")                         \
    XX(GATEWAY_TIMEOUT, 504, 0, "gateway-timeout", "Gateway timeout",                      \
       "The server behind this one did not answer in time. Try again later.")              \
    XX(VERSION_NOT_SUPPORTED, 505, 0, "version-not-supported",                             \
       "HTTP version not supported",                                                       \
       "The request uses a version of HTTP this server does not speak.")

typedef enum {
#define CG_HTTP_ERROR_ENUM(name, status, sub, slug, title, user) CG_HTTP_ERR_##name,
    CG_HTTP_ERROR_MAP(CG_HTTP_ERROR_ENUM)
#undef CG_HTTP_ERROR_ENUM
    CG_HTTP_ERR__COUNT
} cg_http_error_t;

int cg_http_error_status(cg_http_error_t e);
int cg_http_error_substatus(cg_http_error_t e);
const char *cg_http_error_slug(cg_http_error_t e);     /* never NULL */
const char *cg_http_error_title(cg_http_error_t e);
const char *cg_http_error_user_text(cg_http_error_t e);
const char *cg_http_error_code(cg_http_error_t e);     /* "403.14", "404": static */
/* The table row for a bare status (as the parser returns: 400, 414, 431,
 * 501, 505, ...); substatus 0 rows first. Unknown 4xx -> BAD_REQUEST,
 * unknown 5xx -> INTERNAL_ERROR. */
cg_http_error_t cg_http_error_from_status(int status);

/* The RFC 9110 reason phrase for a status ("Forbidden"); "Unknown" if none. */
const char *cg_http_status_text(int status);

/*
 * One number per row of both tables, for counters keyed by cause (the
 * metrics): a certificate reason r is r, an HTTP error e is
 * CG_REASON__COUNT + e. Its slug is the row's slug.
 */
#define CG_ERROR_CAUSES (CG_REASON__COUNT + CG_HTTP_ERR__COUNT)
static inline int cg_error_cause_http(cg_http_error_t e) { return CG_REASON__COUNT + (int)e; }

/* What a renderer needs. All strings borrowed; static ones from the tables. */
struct cg_error_info {
    int status, substatus;
    int cause;                 /* the row, as above */
    const char *code;          /* "403.14" */
    const char *reason;        /* slug */
    const char *title;
    const char *detail;        /* one sentence about this request (JSON "detail");
                                  NULL: the verdict's detail when detailed (it names
                                  certificates), else user_text */
    const char *user_text;     /* what the person at the browser can do */
    const struct cg_verdict *verdict;   /* NULL unless a certificate cause */
    bool detailed;             /* include the certification path and the fix */
    const char *allow;         /* for 405: "GET, HEAD" (shown in no body; for the
                                  caller's Allow header) */
};

/* Fills *out from a table row; detail/verdict NULL, detailed false. */
void cg_error_info_http(struct cg_error_info *out, cg_http_error_t e);
/* Fills *out from a certificate reason; `verdict` (may be NULL) gives the
 * detail sentence, the certificate dates and, when `detailed`, the path. */
void cg_error_info_cert(struct cg_error_info *out, cg_reason_t r,
                        const struct cg_verdict *verdict, bool detailed);

/* Largest body rendered; a longer path list is cut with a note. */
#define CG_ERROR_BODY_MAX (64 * 1024)

/*
 * Renders the body. On CG_OK, *body is a NUL-terminated heap string the
 * caller frees, *len its length (<= CG_ERROR_BODY_MAX), *content_type a
 * static "text/html; charset=utf-8" or "application/problem+json".
 * CG_ERR only on allocation failure (*body NULL).
 */
int cg_error_render(const struct cg_error_info *info, bool want_json, char **body,
                    size_t *len, const char **content_type);

/*
 * True when the Accept header value (may be NULL / empty) prefers JSON:
 * application/problem+json, application/json or any +json type has a
 * strictly higher q-value than text/html (and than any wildcard matching
 * text/html). Absent Accept: false (browsers get HTML).
 */
bool cg_error_want_json(const char *accept, size_t len);

#endif

/*
 * errors.c: the two error tables and the one renderer (HTML and RFC 9457
 * problem+json) for every error response.
 */
#include "http/errors.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cert/verdict.h"
#include "cert/verdict_json.h"
#include "http/html.h"
#include "http/json_text.h"
#include "http/uri.h"

/* ---- the table -------------------------------------------------------- */

struct http_error_row {
    int status, substatus;
    const char *slug, *title, *user, *code;
};

static const struct http_error_row http_errors[] = {
#define CG_HTTP_ERROR_ROW(name, st, sub, slug, title, user)                                \
    { st, sub, slug, title, user, (sub) != 0 ? #st "." #sub : #st },
    CG_HTTP_ERROR_MAP(CG_HTTP_ERROR_ROW)
#undef CG_HTTP_ERROR_ROW
};

static const struct http_error_row *row(cg_http_error_t e)
{
    if ((unsigned)e >= CG_ARRAY_LEN(http_errors))
        e = CG_HTTP_ERR_INTERNAL_ERROR;
    return &http_errors[e];
}

int cg_http_error_status(cg_http_error_t e) { return row(e)->status; }
int cg_http_error_substatus(cg_http_error_t e) { return row(e)->substatus; }
const char *cg_http_error_slug(cg_http_error_t e) { return row(e)->slug; }
const char *cg_http_error_title(cg_http_error_t e) { return row(e)->title; }
const char *cg_http_error_user_text(cg_http_error_t e) { return row(e)->user; }
const char *cg_http_error_code(cg_http_error_t e) { return row(e)->code; }

cg_http_error_t cg_http_error_from_status(int status)
{
    for (size_t i = 0; i < CG_ARRAY_LEN(http_errors); i++)
        if (http_errors[i].status == status && http_errors[i].substatus == 0)
            return (cg_http_error_t)i;
    return status >= 500 ? CG_HTTP_ERR_INTERNAL_ERROR : CG_HTTP_ERR_BAD_REQUEST;
}

const char *cg_http_status_text(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void cg_error_info_http(struct cg_error_info *out, cg_http_error_t e)
{
    const struct http_error_row *r = row(e);

    memset(out, 0, sizeof(*out));
    out->status = r->status;
    out->substatus = r->substatus;
    out->code = r->code;
    out->cause = cg_error_cause_http(e);
    out->reason = r->slug;
    out->title = r->title;
    out->user_text = r->user;
    if (e == CG_HTTP_ERR_METHOD_NOT_ALLOWED)
        out->allow = "GET, HEAD";
}

void cg_error_info_cert(struct cg_error_info *out, cg_reason_t r,
                        const struct cg_verdict *verdict, bool detailed)
{
    memset(out, 0, sizeof(*out));
    out->status = cg_reason_status(r);
    out->substatus = cg_reason_substatus(r);
    out->code = cg_reason_code(r);
    out->cause = (int)r;
    out->reason = cg_reason_slug(r);
    out->title = cg_reason_title(r);
    out->user_text = cg_reason_user_text(r);
    out->verdict = verdict;
    out->detailed = detailed;
}

bool cg_error_want_json(const char *accept, size_t len)
{
    if (accept == NULL || len == 0)
        return false;
    return cg_http_prefers_json(accept, len);
}

/* ---- shared helpers --------------------------------------------------- */

/* The detail sentence: the caller's, else the verdict's (only when detailed:
 * it names certificates), else the text for the person. */
static const char *detail_of(const struct cg_error_info *info)
{
    if (info->detail != NULL)
        return info->detail;
    if (info->detailed && info->verdict != NULL && info->verdict->detail != NULL)
        return info->verdict->detail;
    return info->user_text != NULL ? info->user_text : "";
}

/* The element whose dates explain an expired / not-yet-valid headline. */
static const struct cg_path_element *dated_element(const struct cg_verdict *v, bool *is_leaf)
{
    if (v == NULL || (v->reason != CG_REASON_EXPIRED && v->reason != CG_REASON_NOT_YET_VALID))
        return NULL;
    for (size_t i = 0; i < v->path_len; i++) {
        const struct cg_path_element *el = &v->path[i];
        for (size_t j = 0; j < el->n_problems; j++) {
            if (el->problems[j].reason == v->reason && el->not_after[0] != '\0') {
                *is_leaf = i == 0;
                return el;
            }
        }
    }
    return NULL;
}

/* Advisory problems (allowed by the policy) do not make an element bad. */
static bool element_ok(const struct cg_path_element *el)
{
    if (el->source == CG_SOURCE_MISSING)
        return false;
    for (size_t j = 0; j < el->n_problems; j++)
        if (!el->problems[j].advisory)
            return false;
    return true;
}

/* ---- HTML ------------------------------------------------------------- */

static const char html_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
    "background:#f4f5f7;color:#1d2330;line-height:1.5}"
    "main{max-width:46rem;margin:3rem auto;padding:2rem 2.5rem;background:#fff;"
    "border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    ".code{font-size:.9rem;font-weight:600;color:#b42318;letter-spacing:.04em;margin:0}"
    "h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin-top:2rem}"
    ".dates{background:#fff7e6;border-left:4px solid #f0a020;padding:.5rem 1rem}"
    "ol.path{list-style:none;padding:0}ol.path>li{border:1px solid #d8dce3;"
    "border-radius:6px;padding:.6rem .9rem;margin:.5rem 0}"
    "ol.path>li.bad{border-color:#e5484d;background:#fff5f5}"
    "ol.path>li.missing{border-style:dashed}"
    ".mark{font-weight:700;margin-right:.4rem}.ok .mark{color:#1a7f37}"
    ".bad .mark,.missing .mark{color:#b42318}"
    ".meta{font-size:.85rem;color:#4a5160;word-break:break-all}"
    "code{background:#f0f2f5;padding:0 .25rem;border-radius:3px}"
    "footer{margin-top:2rem;font-size:.8rem;color:#6b7280}";

static void html_element(struct cg_html_buf *b, const struct cg_path_element *el)
{
    bool missing = el->source == CG_SOURCE_MISSING;

    cg_html_raw(b, missing          ? "<li class=\"missing\">"
                   : element_ok(el) ? "<li class=\"ok\">"
                                    : "<li class=\"bad\">");
    cg_html_raw(b, "<span class=\"mark\">");
    cg_html_raw(b, missing ? "?" : element_ok(el) ? "&#10004;" : "&#10008;");
    cg_html_raw(b, "</span><strong>");
    cg_html_esc(b, missing ? el->issuer : el->subject);
    cg_html_raw(b, "</strong>");
    if (missing)
        cg_html_raw(b, " <em>(missing: found neither in what the client sent nor in the "
                       "stores)</em>");
    cg_html_raw(b, "<div class=\"meta\">");
    if (!missing) {
        cg_html_raw(b, "Issued by: ");
        cg_html_esc(b, el->issuer);
        cg_html_raw(b, "<br>Valid: ");
        cg_html_esc(b, el->not_before);
        cg_html_raw(b, " to ");
        cg_html_esc(b, el->not_after);
        cg_html_raw(b, "<br>SHA-256: ");
        cg_html_esc(b, el->sha256);
        cg_html_raw(b, "<br>");
    }
    cg_html_raw(b, "Source: ");
    cg_html_esc(b, cg_source_slug(el->source));
    /* What the revocation check found and what it tried (URLs, outcomes,
     * timings): the "could not find out" cases are fixed from this. */
    if (el->revocation.source != CG_REV_SOURCE_NONE || el->revocation.tried != NULL) {
        cg_html_raw(b, "<br>Revocation: ");
        cg_html_esc(b, cg_rev_status_slug(el->revocation.status));
        if (el->revocation.source != CG_REV_SOURCE_NONE) {
            cg_html_raw(b, " from ");
            cg_html_esc(b, cg_rev_source_slug(el->revocation.source));
        }
        if (el->revocation.tried != NULL) {
            cg_html_raw(b, "<br>Tried: ");
            cg_html_esc(b, el->revocation.tried);
        }
    }
    cg_html_raw(b, "</div>");
    if (el->n_problems > 0) {
        cg_html_raw(b, "<ul class=\"problems\">");
        for (size_t j = 0; j < el->n_problems; j++) {
            cg_html_raw(b, "<li><code>");
            cg_html_esc(b, cg_reason_slug(el->problems[j].reason));
            cg_html_raw(b, "</code> ");
            cg_html_esc(b, el->problems[j].text);
            if (el->problems[j].advisory)
                cg_html_raw(b, " <em>(allowed by the policy)</em>");
            cg_html_raw(b, "</li>");
        }
        cg_html_raw(b, "</ul>");
    }
    cg_html_raw(b, "</li>");
}

static void html_details(struct cg_html_buf *b, const struct cg_verdict *v)
{
    /* leave room for the fix and the page end */
    size_t saved_limit = b->limit;

    b->limit = saved_limit > 8192 ? saved_limit - 8192 : saved_limit;
    cg_html_raw(b, "<h2>Certification path</h2><ol class=\"path\">");
    for (size_t i = v->path_len; i-- > 0;) {
        size_t mark = b->len;
        html_element(b, &v->path[i]);
        if (b->over) {
            cg_html_rollback(b, mark);
            cg_html_raw(b, "<li>... (path cut)</li>");
            break;
        }
    }
    cg_html_raw(b, "</ol>");
    b->limit = saved_limit;
    cg_html_raw(b, "<h2>How to fix</h2><ul class=\"remedy\">");
    if (v->n_remedy == 0) {
        cg_html_raw(b, "<li>");
        cg_html_esc(b, cg_reason_admin_text(v->reason));
        cg_html_raw(b, "</li>");
    }
    cg_html_items(b, (const char *const *)v->remedy, v->n_remedy);
    cg_html_raw(b, "</ul>");
}

static int render_html(const struct cg_error_info *info, struct cg_html_buf *b)
{
    const struct cg_path_element *dated;
    bool leaf = false;

    cg_html_raw(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<meta name=\"robots\" content=\"noindex\"><title>");
    cg_html_esc(b, info->code);
    cg_html_raw(b, " - ");
    cg_html_esc(b, info->title);
    cg_html_raw(b, "</title><style>");
    cg_html_raw(b, html_style);
    cg_html_raw(b, "</style></head>\n<body><main>\n<p class=\"code\">");
    cg_html_esc(b, info->code);
    cg_html_raw(b, "</p><h1>");
    cg_html_esc(b, info->title);
    cg_html_raw(b, "</h1>\n<p class=\"user\">");
    cg_html_esc(b, info->user_text);
    cg_html_raw(b, "</p>\n");
    dated = dated_element(info->verdict, &leaf);
    if (dated != NULL) {
        cg_html_raw(b, "<p class=\"dates\">");
        cg_html_raw(b, leaf ? "Your certificate is valid from "
                            : "A certificate of the authority that issued yours is valid from ");
        cg_html_esc(b, dated->not_before);
        cg_html_raw(b, " to ");
        cg_html_esc(b, dated->not_after);
        cg_html_raw(b, ".</p>\n");
    }
    if (info->detail != NULL || (info->detailed && info->verdict != NULL)) {
        cg_html_raw(b, "<p class=\"detail\">");
        cg_html_esc(b, detail_of(info));
        cg_html_raw(b, "</p>\n");
    }
    if (info->detailed && info->verdict != NULL)
        html_details(b, info->verdict);
    cg_html_raw(b, "\n<footer>certgate &middot; ");
    cg_html_esc(b, info->code);
    cg_html_raw(b, " &middot; ");
    cg_html_esc(b, info->reason);
    cg_html_raw(b, "</footer>\n</main></body></html>\n");
    return b->over ? CG_ERR : CG_OK;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *json_path(const struct cg_verdict *v)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr != NULL && i < v->path_len; i++) {
        const struct cg_path_element *el = &v->path[i];
        json_t *o = json_object(), *probs = json_array();
        for (size_t j = 0; probs != NULL && j < el->n_problems; j++) {
            json_t *p = json_object();
            json_object_set_new(p, "reason", json_string(cg_reason_slug(el->problems[j].reason)));
            json_object_set_new(p, "text", cg_json_text_new(el->problems[j].text));
            if (el->problems[j].x509_error != 0)
                json_object_set_new(p, "x509_error", json_integer(el->problems[j].x509_error));
            if (el->problems[j].advisory)
                json_object_set_new(p, "advisory", json_true());
            json_array_append_new(probs, p);
        }
        json_object_set_new(o, "subject", cg_json_text_new(el->subject));
        json_object_set_new(o, "issuer", cg_json_text_new(el->issuer));
        json_object_set_new(o, "serial", cg_json_text_new(el->serial));
        json_object_set_new(o, "not_before", cg_json_text_new(el->not_before));
        json_object_set_new(o, "not_after", cg_json_text_new(el->not_after));
        json_object_set_new(o, "sha256", cg_json_text_new(el->sha256));
        json_object_set_new(o, "source", json_string(cg_source_slug(el->source)));
        json_object_set_new(o, "problems", probs);
        json_array_append_new(arr, o);
    }
    return arr;
}

static int render_json(const struct cg_error_info *info, char **body, size_t *len)
{
    json_t *o = json_object();
    const struct cg_path_element *dated;
    bool leaf = false;
    char *s = NULL;
    int rc = CG_ERR;

    if (o == NULL)
        goto cleanup;
    json_object_set_new(o, "type", json_string("about:blank"));
    json_object_set_new(o, "status", json_integer(info->status));
    json_object_set_new(o, "substatus", json_integer(info->substatus));
    json_object_set_new(o, "code", cg_json_text_new(info->code));
    json_object_set_new(o, "reason", cg_json_text_new(info->reason));
    json_object_set_new(o, "title", cg_json_text_new(info->title));
    json_object_set_new(o, "detail", cg_json_text_new(detail_of(info)));
    dated = dated_element(info->verdict, &leaf);
    if (dated != NULL) {
        json_object_set_new(o, "not_before", cg_json_text_new(dated->not_before));
        json_object_set_new(o, "not_after", cg_json_text_new(dated->not_after));
    }
    if (info->detailed && info->verdict != NULL) {
        /* the engine's own shape, so `certgate verify --json` and this agree */
        json_t *vj = cg_verdict_to_json(info->verdict);
        json_t *path = vj != NULL ? json_object_get(vj, "path") : NULL;
        json_t *rem = vj != NULL ? json_object_get(vj, "remedy") : NULL;

        if (path != NULL && rem != NULL) {
            json_object_set(o, "path", path);
            json_object_set(o, "remedy", rem);
        } else {
            /* strings that are not UTF-8 stop jansson: render them repaired */
            json_object_set_new(o, "path", json_path(info->verdict));
            rem = json_array();
            for (size_t i = 0; i < info->verdict->n_remedy; i++)
                json_array_append_new(rem, cg_json_text_new(info->verdict->remedy[i]));
            json_object_set_new(o, "remedy", rem);
        }
        json_decref(vj);
        rem = json_object_get(o, "remedy");
        if (json_array_size(rem) == 0)
            json_array_append_new(rem, json_string(cg_reason_admin_text(info->verdict->reason)));
    }
    s = json_dumps(o, JSON_COMPACT);
    if (s != NULL && strlen(s) > CG_ERROR_BODY_MAX) {
        /* an absurd chain: keep the answer, drop the path */
        free(s);
        json_object_del(o, "path");
        json_object_set_new(o, "path_truncated", json_true());
        s = json_dumps(o, JSON_COMPACT);
    }
    if (s == NULL || strlen(s) > CG_ERROR_BODY_MAX)
        goto cleanup;
    *len = strlen(s);
    *body = s;
    s = NULL;
    rc = CG_OK;
cleanup:
    free(s);
    json_decref(o);
    return rc;
}

int cg_error_render(const struct cg_error_info *info, bool want_json, char **body,
                    size_t *len, const char **content_type)
{
    struct cg_html_buf b;

    *body = NULL;
    *len = 0;
    cg_html_init(&b, CG_ERROR_BODY_MAX);
    if (want_json) {
        *content_type = "application/problem+json";
        return render_json(info, body, len);
    }
    *content_type = "text/html; charset=utf-8";
    if (render_html(info, &b) != CG_OK) {
        /* too big (a caller's absurd detail): the plain page always fits */
        struct cg_error_info plain = *info;
        plain.detail = NULL;
        plain.detailed = false;
        cg_html_reset(&b);
        if (render_html(&plain, &b) != CG_OK) {
            cg_html_free(&b);
            return CG_ERR;
        }
    }
    *body = b.p;
    *len = b.len;
    return CG_OK;
}

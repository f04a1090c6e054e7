/*
 * certinfo.c: the "who am I" page, HTML or JSON, from a verdict.
 */
#include "http/certinfo.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cert/reason.h"
#include "cert/verdict.h"
#include "cert/verdict_json.h"
#include "core/common.h"
#include "http/html.h"
#include "http/json_text.h"

/* The leaf a page can describe: none when nothing was offered. */
static const struct cg_path_element *leaf_of(const struct cg_verdict *v)
{
    if (v == NULL || v->reason == CG_REASON_CERT_REQUIRED || v->path_len == 0 ||
        v->path[0].source == CG_SOURCE_MISSING)
        return NULL;
    return &v->path[0];
}

static cg_reason_t reason_of(const struct cg_certinfo *ci)
{
    return leaf_of(ci->verdict) != NULL ? ci->verdict->reason : CG_REASON_CERT_REQUIRED;
}

/* One sentence on how to get a certificate in front of this page. */
static const char *help_text(const struct cg_certinfo *ci)
{
    if (!ci->tls)
        return "This request came over plain HTTP, where no client certificate can be "
               "presented. Open this page with https://.";
    if (!ci->asked)
        return "This address does not ask for a client certificate, so none was presented. "
               "A location with client_certificates: accept or require asks for one.";
    if (leaf_of(ci->verdict) == NULL)
        return "No client certificate was offered on this connection. Install the "
               "certificate your administrator issued to you (with its private key), then "
               "open this page again in a new browser window and choose it when asked; "
               "with curl, pass --cert FILE --key FILE.";
    if (ci->verdict->reason == CG_REASON_OK)
        return "Your certificate was accepted.";
    return cg_reason_user_text(ci->verdict->reason);
}

/* ---- HTML ------------------------------------------------------------- */

/* Bytes of one table value shown; an absurd subject is cut, so that the page
 * without the path always fits CG_CERTINFO_BODY_MAX. */
#define CERTINFO_VALUE_MAX 512

static void row(struct cg_html_buf *b, const char *name, const char *value)
{
    char cut[CERTINFO_VALUE_MAX + 1];

    cg_html_raw(b, "<tr><th>");
    cg_html_raw(b, name);
    cg_html_raw(b, "</th><td>");
    if (value != NULL && strlen(value) > CERTINFO_VALUE_MAX) {
        memcpy(cut, value, CERTINFO_VALUE_MAX);
        cut[CERTINFO_VALUE_MAX] = '\0';
        cg_html_esc(b, cut);
        cg_html_raw(b, " ... (cut)");
    } else {
        cg_html_esc(b, value);
    }
    cg_html_raw(b, "</td></tr>");
}

static const char page_style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;"
    "background:#f4f5f7;color:#1d2330;line-height:1.5}"
    "main{max-width:48rem;margin:3rem auto;padding:2rem 2.5rem;background:#fff;"
    "border-radius:8px;box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    ".code{font-size:.9rem;font-weight:600;letter-spacing:.04em;margin:0}"
    ".good{color:#1a7f37}.bad{color:#b42318}"
    "h1{font-size:1.6rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin-top:2rem}"
    "table{border-collapse:collapse;width:100%}th{text-align:left;padding:.2rem 1rem .2rem 0;"
    "vertical-align:top;white-space:nowrap;color:#4a5160;font-weight:500}"
    "td{word-break:break-all}ol.path>li{margin:.4rem 0}"
    "code{background:#f0f2f5;padding:0 .25rem;border-radius:3px}"
    "footer{margin-top:2rem;font-size:.8rem;color:#6b7280}";

static void html_path(struct cg_html_buf *b, const struct cg_verdict *v)
{
    size_t saved = b->limit;

    /* leave room for the fix and the end of the page */
    b->limit = saved > 8192 ? saved - 8192 : saved;
    cg_html_raw(b, "<h2>Certification path</h2><ol class=\"path\">");
    for (size_t i = v->path_len; i-- > 0;) {
        const struct cg_path_element *el = &v->path[i];
        size_t mark = b->len;

        cg_html_raw(b, "<li><strong>");
        cg_html_esc(b, el->source == CG_SOURCE_MISSING ? el->issuer : el->subject);
        cg_html_raw(b, "</strong> <code>");
        cg_html_esc(b, cg_source_slug(el->source));
        cg_html_raw(b, "</code>");
        for (size_t j = 0; j < el->n_problems; j++) {
            cg_html_raw(b, "<br><code>");
            cg_html_esc(b, cg_reason_slug(el->problems[j].reason));
            cg_html_raw(b, "</code> ");
            cg_html_esc(b, el->problems[j].text);
        }
        cg_html_raw(b, "</li>");
        if (b->over) {
            cg_html_rollback(b, mark);
            cg_html_raw(b, "<li>... (path cut)</li>");
            break;
        }
    }
    cg_html_raw(b, "</ol>");
    b->limit = saved;
    if (v->reason == CG_REASON_OK)
        return;
    cg_html_raw(b, "<h2>How to fix</h2><ul>");
    if (v->n_remedy == 0) {
        cg_html_raw(b, "<li>");
        cg_html_esc(b, cg_reason_admin_text(v->reason));
        cg_html_raw(b, "</li>");
    }
    cg_html_items(b, (const char *const *)v->remedy, v->n_remedy);
    cg_html_raw(b, "</ul>");
}

static int render_html(const struct cg_certinfo *ci, bool with_path, struct cg_html_buf *b)
{
    const struct cg_path_element *leaf = leaf_of(ci->verdict);
    cg_reason_t r = reason_of(ci);
    bool good = r == CG_REASON_OK;

    cg_html_raw(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                   "<meta name=\"robots\" content=\"noindex\">"
                   "<title>Your client certificate</title><style>");
    cg_html_raw(b, page_style);
    cg_html_raw(b, "</style></head>\n<body><main>\n<p class=\"code ");
    cg_html_raw(b, good ? "good" : "bad");
    cg_html_raw(b, "\">");
    cg_html_esc(b, leaf != NULL ? cg_reason_code(r) : "no certificate");
    cg_html_raw(b, " &middot; ");
    cg_html_esc(b, cg_reason_slug(r));
    cg_html_raw(b, "</p><h1>");
    cg_html_raw(b, leaf != NULL ? "Your client certificate" : "No client certificate");
    cg_html_raw(b, "</h1>\n<p class=\"help\">");
    cg_html_esc(b, help_text(ci));
    cg_html_raw(b, "</p>\n");
    if (leaf != NULL) {
        cg_html_raw(b, "<table>");
        row(b, "Subject", leaf->subject);
        row(b, "Issuer", leaf->issuer);
        row(b, "Valid from", leaf->not_before);
        row(b, "Valid to", leaf->not_after);
        row(b, "Serial", leaf->serial);
        row(b, "SHA-256", leaf->sha256);
        row(b, "Verdict", cg_reason_code(r));
        row(b, "Reason", cg_reason_slug(r));
        row(b, "Title", cg_reason_title(r));
        if (ci->verdict->detail != NULL)
            row(b, "Detail", ci->verdict->detail);
        cg_html_raw(b, "</table>\n");
    }
    if (ci->required_path != NULL) {
        cg_html_raw(b, "<h2>Where a certificate is required</h2><p class=\"required\">");
        if (good) {
            cg_html_raw(b, "At <a href=\"");
            cg_html_esc(b, ci->required_path);
            cg_html_raw(b, "\"><code>");
            cg_html_esc(b, ci->required_path);
            cg_html_raw(b, "</code></a> you would be let in.");
        } else {
            cg_html_raw(b, "At <code>");
            cg_html_esc(b, ci->required_path);
            cg_html_raw(b, "</code> this connection would be refused with <strong>");
            cg_html_esc(b, cg_reason_code(r));
            cg_html_raw(b, " ");
            cg_html_esc(b, cg_reason_title(r));
            cg_html_raw(b, "</strong> (<code>");
            cg_html_esc(b, cg_reason_slug(r));
            cg_html_raw(b, "</code>).");
        }
        cg_html_raw(b, "</p>\n");
    }
    if (with_path && leaf != NULL)
        html_path(b, ci->verdict);
    cg_html_raw(b, "\n<footer>certgate &middot; certificate-info</footer>\n"
                   "</main></body></html>\n");
    return b->over ? CG_ERR : CG_OK;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *json_leaf(const struct cg_path_element *el)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "subject", cg_json_text_new(el->subject));
    json_object_set_new(o, "issuer", cg_json_text_new(el->issuer));
    json_object_set_new(o, "serial", cg_json_text_new(el->serial));
    json_object_set_new(o, "not_before", cg_json_text_new(el->not_before));
    json_object_set_new(o, "not_after", cg_json_text_new(el->not_after));
    json_object_set_new(o, "sha256", cg_json_text_new(el->sha256));
    return o;
}

static json_t *json_headline(const struct cg_certinfo *ci)
{
    cg_reason_t r = reason_of(ci);
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "status", json_integer(cg_reason_status(r)));
    json_object_set_new(o, "substatus", json_integer(cg_reason_substatus(r)));
    json_object_set_new(o, "code", json_string(cg_reason_code(r)));
    json_object_set_new(o, "reason", json_string(cg_reason_slug(r)));
    json_object_set_new(o, "title", json_string(cg_reason_title(r)));
    json_object_set_new(o, "detail",
                        cg_json_text_new(leaf_of(ci->verdict) != NULL && ci->verdict->detail != NULL
                                 ? ci->verdict->detail
                                 : help_text(ci)));
    return o;
}

static int render_json(const struct cg_certinfo *ci, bool with_path, char **body, size_t *len)
{
    const struct cg_path_element *leaf = leaf_of(ci->verdict);
    cg_reason_t r = reason_of(ci);
    json_t *o = json_object(), *vj = NULL;
    char *s = NULL;
    int rc = CG_ERR;

    if (o == NULL)
        goto cleanup;
    json_object_set_new(o, "tls", json_boolean(ci->tls));
    json_object_set_new(o, "asked", json_boolean(ci->asked));
    json_object_set_new(o, "certificate", leaf != NULL ? json_leaf(leaf) : json_null());
    json_object_set_new(o, "verdict", json_headline(ci));
    if (ci->required_path != NULL) {
        json_t *req = json_object();
        json_object_set_new(req, "path", cg_json_text_new(ci->required_path));
        json_object_set_new(req, "allowed", json_boolean(r == CG_REASON_OK));
        json_object_set_new(req, "code", json_string(cg_reason_code(r)));
        json_object_set_new(req, "reason", json_string(cg_reason_slug(r)));
        json_object_set_new(req, "title", json_string(cg_reason_title(r)));
        json_object_set_new(o, "required_at", req);
    }
    json_object_set_new(o, "help", cg_json_text_new(help_text(ci)));
    if (with_path && leaf != NULL) {
        /* the engine's own shape, so this page and `certgate verify --json` agree */
        vj = cg_verdict_to_json(ci->verdict);
        if (vj != NULL && json_object_get(vj, "path") != NULL) {
            json_object_set(o, "path", json_object_get(vj, "path"));
            json_object_set(o, "remedy", json_object_get(vj, "remedy"));
        }
    }
    s = json_dumps(o, JSON_COMPACT);
    if (s != NULL && strlen(s) > CG_CERTINFO_BODY_MAX) {
        /* an absurd chain: keep the answer, drop the path */
        free(s);
        json_object_del(o, "path");
        json_object_del(o, "remedy");
        json_object_set_new(o, "path_truncated", json_true());
        s = json_dumps(o, JSON_COMPACT);
    }
    if (s == NULL || strlen(s) > CG_CERTINFO_BODY_MAX)
        goto cleanup;
    *len = strlen(s);
    *body = s;
    s = NULL;
    rc = CG_OK;
cleanup:
    free(s);
    json_decref(vj);
    json_decref(o);
    return rc;
}

int cg_certinfo_render(const struct cg_certinfo *ci, bool want_json, char **body, size_t *len,
                       const char **content_type)
{
    struct cg_html_buf b;

    *body = NULL;
    *len = 0;
    cg_html_init(&b, CG_CERTINFO_BODY_MAX);
    if (want_json) {
        *content_type = "application/json";
        return render_json(ci, ci->detailed, body, len);
    }
    *content_type = "text/html; charset=utf-8";
    if (render_html(ci, ci->detailed, &b) != CG_OK) {
        /* too big even after cutting the path: without the path, with every
         * value cut to CERTINFO_VALUE_MAX, the page always fits */
        cg_html_reset(&b);
        if (render_html(ci, false, &b) != CG_OK) {
            cg_html_free(&b);
            return CG_ERR;
        }
    }
    *body = b.p;
    *len = b.len;
    return CG_OK;
}

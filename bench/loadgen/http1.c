/*
 * http1.c: the response head, read strictly (RFC 9112).
 *
 * A load generator that accepted sloppy answers would count broken
 * responses as served requests; this one counts them as parse errors.
 * Only what a static file response needs is supported: a status line,
 * header fields without obsolete line folding, Content-Length, Connection.
 */
#include <string.h>
#include <strings.h>

#include "loadgen.h"

static bool is_tchar(unsigned char c)
{
    /* RFC 9110 5.6.2 token characters */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB / obs-text */
static bool is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool name_is(const char *p, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(p, name, n) == 0;
}

/* Connection: a comma-separated list of tokens; sets *close / *keep. */
static int parse_connection(const char *v, size_t n, bool *close, bool *keep)
{
    size_t i = 0;

    while (i < n) {
        size_t s;

        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        s = i;
        while (i < n && is_tchar((unsigned char)v[i]))
            i++;
        if (i == s) {
            if (i < n)
                return -1;   /* neither a token nor a separator */
            break;
        }
        if (name_is(v + s, i - s, "close"))
            *close = true;
        else if (name_is(v + s, i - s, "keep-alive"))
            *keep = true;
    }
    return 0;
}

static int parse_length(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;

    if (n == 0 || n > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return 0;
}

int lg_http_parse(const char *buf, size_t len, struct lg_http_resp *r, const char **why)
{
    const char *end, *p, *eol;
    bool close = false, keep = false;
    size_t fields = 0;

    memset(r, 0, sizeof(*r));
    end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL) {
        /* A bare LF would never complete the head: refuse it early. */
        for (size_t i = 0; i < len; i++) {
            if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) {
                *why = "bare LF in response head";
                return -1;
            }
        }
        return 0;
    }
    r->head_len = (size_t)(end - buf) + 4;
    end += 2;   /* the CRLF that ends the last line */

    /* status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF */
    if (r->head_len < 16 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
        buf[8] != ' ' || buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' ||
        buf[11] < '0' || buf[11] > '9' || buf[12] != ' ') {
        *why = "bad status line";
        return -1;
    }
    r->minor = buf[7] - '0';
    r->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    eol = memmem(buf, (size_t)(end - buf), "\r\n", 2);
    for (p = buf + 13; p < eol; p++) {
        if (!is_value_char((unsigned char)*p)) {
            *why = "control character in reason phrase";
            return -1;
        }
    }

    for (p = eol + 2; p < end; p = eol + 2) {
        const char *colon, *v, *ve;

        eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (eol == NULL || ++fields > 100) {
            *why = eol == NULL ? "unterminated header line" : "too many header fields";
            return -1;
        }
        colon = p;
        while (colon < eol && is_tchar((unsigned char)*colon))
            colon++;
        if (colon == p || colon == eol || *colon != ':') {
            *why = (*p == ' ' || *p == '\t') ? "obsolete line folding" : "bad header name";
            return -1;
        }
        for (v = colon + 1; v < eol; v++) {
            if (!is_value_char((unsigned char)*v)) {
                *why = "control character in header value";
                return -1;
            }
        }
        v = colon + 1;
        ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (name_is(p, (size_t)(colon - p), "content-length")) {
            uint64_t n;
            if (parse_length(v, (size_t)(ve - v), &n) != 0 ||
                (r->has_length && n != r->content_length)) {
                *why = "bad Content-Length";
                return -1;
            }
            r->has_length = true;
            r->content_length = n;
        } else if (name_is(p, (size_t)(colon - p), "transfer-encoding")) {
            *why = "Transfer-Encoding in a static file response";
            return -1;
        } else if (name_is(p, (size_t)(colon - p), "connection")) {
            if (parse_connection(v, (size_t)(ve - v), &close, &keep) != 0) {
                *why = "bad Connection";
                return -1;
            }
        }
    }

    if (r->status < 200) {
        *why = "interim response";   /* never asked for: no Expect was sent */
        return -1;
    }
    if (r->status == 204 || r->status == 304) {
        r->has_length = true;
        r->content_length = 0;
    }
    if (!r->has_length) {
        *why = "no Content-Length";
        return -1;
    }
    if (r->content_length > LG_MAX_BODY) {
        *why = "Content-Length above the 1 GiB bound";
        return -1;
    }
    r->keep_alive = r->minor == 1 ? !close : (keep && !close);
    return 1;
}

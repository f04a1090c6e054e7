/*
 * parser.c: the strict HTTP/1.1 request-head parser and the chunked body
 * decoder. The strictness choices are listed in parser.h.
 */
#include "http/parser.h"

#include <string.h>

#include "core/common.h"
#include "http/uri.h"

/* Octet classes, one table lookup per octet in the scanning loops. */
enum {
    CT_TOKEN  = 0x01,   /* tchar (RFC 9110 5.6.2) */
    CT_VALUE  = 0x02,   /* field-content octet: HTAB, SP, VCHAR, obs-text */
    CT_TARGET = 0x04,   /* request-target octet: VCHAR except '#' */
};

static const unsigned char cg_ctype[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0,  /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  /* 0x10 */
    2, 7, 6, 3, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6,  /* 0x20 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6,  /* 0x30 */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* 0x40 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7,  /* 0x50 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,  /* 0x60 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0,  /* 0x70 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0x80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0x90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xa0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xb0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xc0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xd0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xe0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,  /* 0xf0 */
};

#define IS(c, cls) (cg_ctype[(unsigned char)(c)] & (cls))
#define IS_OWS(c) ((c) == ' ' || (c) == '\t')

/*
 * Eight octets at a time for the long runs (targets, header values): a word
 * test says whether any octet of the word may end the run; only then does
 * the table loop look at octets one by one. The word is loaded with memcpy
 * (one unaligned load) and only when 8 octets remain before `end`.
 */
#define W_ONES 0x0101010101010101ULL
#define W_HIGH 0x8080808080808080ULL
/* Any octet below n (n <= 128)? Octets >= 0x80 never match. */
#define W_HAS_LESS(w, n) (((w) - W_ONES * (n)) & ~(w) & W_HIGH)
#define W_HAS_ZERO(w) W_HAS_LESS(w, 1)
#define W_HAS_BYTE(w, c) W_HAS_ZERO((w) ^ (W_ONES * (c)))

/* Skips whole words of field-content octets other than HTAB (which the
 * table loop then takes). */
static inline const char *skip_value_words(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if (W_HAS_LESS(w, 0x20) | W_HAS_BYTE(w, 0x7f))
            break;
        p += 8;
    }
    return p;
}

/* Skips whole words of request-target octets (0x21-0x7E but '#'). */
static inline const char *skip_target_words(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        if ((w & W_HIGH) | W_HAS_LESS(w, 0x21) | W_HAS_BYTE(w, 0x7f) | W_HAS_BYTE(w, '#'))
            break;
        p += 8;
    }
    return p;
}

/* The longest Content-Length accepted: what fits an off_t. */
#define CG_CONTENT_LENGTH_MAX ((uint64_t)INT64_MAX)

/* Everything one parse learns besides the request itself. */
struct head_state {
    const char *p, *end;   /* end: buf + min(len, max_header_bytes) */
    int at_limit;          /* len >= max_header_bytes: running out is a 431 */
    int status;
    const char *why;
    unsigned hosts;
    int has_cl, has_te, te_members, te_chunked, te_last_chunked, te_other;
    int conn_close, conn_keep_alive;
};

static int fail(struct head_state *st, int status, const char *why)
{
    st->status = status;
    st->why = why;
    return CG_ERR;
}

/* Running out of bytes: wait for more, unless the head may not grow. */
static int out_of_input(struct head_state *st)
{
    if (st->at_limit)
        return fail(st, 431, "request head too large");
    return CG_AGAIN;
}

/* Case-insensitive comparison of a token with a lower-case literal made of
 * letters, digits and '-'. OR-ing 0x20 folds only letters for such
 * literals: no other token octet lands on a letter, a digit or '-'. */
static int token_eq(const char *s, size_t len, const char *lit, size_t lit_len)
{
    if (len != lit_len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] | 0x20) != (unsigned char)lit[i])
            return 0;
    return 1;
}

#define TOKEN_EQ(s, len, lit) token_eq((s), (len), lit, sizeof(lit) - 1)

/*
 * Walks a comma-separated list (RFC 9110 5.6.1): *elem and *elem_len get the
 * next member without surrounding OWS (possibly empty). Returns 0 when the
 * list is exhausted.
 */
static int list_next(const char **cur, const char *end, const char **elem, size_t *elem_len)
{
    const char *p = *cur;
    if (!p)
        return 0;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *stop = comma ? comma : end;
    const char *b = p, *e = stop;
    while (b < e && IS_OWS(*b))
        b++;
    while (e > b && IS_OWS(e[-1]))
        e--;
    *elem = b;
    *elem_len = (size_t)(e - b);
    *cur = comma ? comma + 1 : NULL;   /* NULL: exhausted */
    return 1;
}

static int all_token(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!IS(s[i], CT_TOKEN))
            return 0;
    return 1;
}

static int on_content_length(struct head_state *st, struct cg_http_request *req,
                             const char *v, size_t len)
{
    const char *cur = v, *end = v + len, *e;
    size_t elen;
    while (list_next(&cur, end, &e, &elen)) {
        if (elen == 0)
            return fail(st, 400, "empty Content-Length");
        uint64_t n = 0;
        for (size_t i = 0; i < elen; i++) {
            unsigned d = (unsigned char)e[i] - '0';
            if (d > 9)
                return fail(st, 400, "Content-Length is not a number");
            if (n > (CG_CONTENT_LENGTH_MAX - d) / 10)
                return fail(st, 400, "Content-Length too large");
            n = n * 10 + d;
        }
        if (st->has_cl && n != req->content_length)
            return fail(st, 400, "differing Content-Length values");
        st->has_cl = 1;
        req->content_length = n;
    }
    return CG_OK;
}

static int on_transfer_encoding(struct head_state *st, const char *v, size_t len)
{
    const char *cur = v, *end = v + len, *e;
    size_t elen;
    st->has_te = 1;
    while (list_next(&cur, end, &e, &elen)) {
        if (elen == 0)
            continue;
        if (!all_token(e, elen))
            return fail(st, 400, "invalid Transfer-Encoding member");
        st->te_members++;
        if (TOKEN_EQ(e, elen, "chunked")) {
            st->te_chunked++;
            st->te_last_chunked = 1;
        } else {
            st->te_other = 1;
            st->te_last_chunked = 0;
        }
    }
    return CG_OK;
}

static int on_connection(struct head_state *st, const char *v, size_t len)
{
    const char *cur = v, *end = v + len, *e;
    size_t elen;
    while (list_next(&cur, end, &e, &elen)) {
        if (elen == 0)
            continue;
        if (!all_token(e, elen))
            return fail(st, 400, "invalid Connection option");
        if (TOKEN_EQ(e, elen, "close"))
            st->conn_close = 1;
        else if (TOKEN_EQ(e, elen, "keep-alive"))
            st->conn_keep_alive = 1;
    }
    return CG_OK;
}

static int on_expect(struct head_state *st, struct cg_http_request *req,
                     const char *v, size_t len)
{
    const char *cur = v, *end = v + len, *e;
    size_t elen;
    if (req->minor_version == 0)
        return CG_OK;
    while (list_next(&cur, end, &e, &elen)) {
        if (elen == 0)
            continue;
        if (!TOKEN_EQ(e, elen, "100-continue"))
            return fail(st, 417, "unsupported expectation");
        req->expect_continue = 1;
    }
    return CG_OK;
}

/* The header fields whose meaning is the parser's business. */
static int on_header(struct head_state *st, struct cg_http_request *req,
                     const struct cg_http_header *h)
{
    const char *n = h->name.p, *v = h->value.p;
    size_t nl = h->name.len, vl = h->value.len;
    switch (nl) {
    case 4:
        if (TOKEN_EQ(n, nl, "host")) {
            if (++st->hosts > 1)
                return fail(st, 400, "more than one Host");
            if (vl > 0 && cg_http_host_normalize(v, vl, NULL, 0, NULL, NULL) != CG_OK)
                return fail(st, 400, "invalid Host");
            if (req->target_form == CG_TARGET_ORIGIN || req->target_form == CG_TARGET_ASTERISK)
                req->host = h->value;
        }
        break;
    case 6:
        if (TOKEN_EQ(n, nl, "expect"))
            return on_expect(st, req, v, vl);
        break;
    case 10:
        if (TOKEN_EQ(n, nl, "connection"))
            return on_connection(st, v, vl);
        break;
    case 14:
        if (TOKEN_EQ(n, nl, "content-length"))
            return on_content_length(st, req, v, vl);
        break;
    case 17:
        if (TOKEN_EQ(n, nl, "transfer-encoding"))
            return on_transfer_encoding(st, v, vl);
        break;
    default:
        break;
    }
    return CG_OK;
}

/* Classifies the request-target and splits it (RFC 9112 3.2). */
static int on_target(struct head_state *st, struct cg_http_request *req)
{
    static const char root[] = "/";
    const char *t = req->target.p, *end = t + req->target.len, *q;
    /* Methods are case-sensitive (RFC 9110 9.1). */
    int is_connect = req->method.len == 7 && memcmp(req->method.p, "CONNECT", 7) == 0;

    if (is_connect) {
        int port;
        if (cg_http_host_normalize(t, req->target.len, NULL, 0, NULL, &port) != CG_OK || port < 0)
            return fail(st, 400, "CONNECT needs host:port");
        req->target_form = CG_TARGET_AUTHORITY;
        req->path = req->target;
        req->host = req->target;
        return CG_OK;
    }
    if (t[0] == '/') {
        req->target_form = CG_TARGET_ORIGIN;
        q = memchr(t, '?', req->target.len);
        goto split;
    }
    if (req->target.len == 1 && t[0] == '*') {
        if (req->method.len != 7 || memcmp(req->method.p, "OPTIONS", 7) != 0)
            return fail(st, 400, "asterisk-form is for OPTIONS only");
        req->target_form = CG_TARGET_ASTERISK;
        req->path = req->target;
        return CG_OK;
    }

    /* absolute-form: "http" ["s"] "://" authority [path-abempty] ["?" query] */
    size_t scheme_len;
    if (req->target.len > 7 && TOKEN_EQ(t, 7, "http://"))
        scheme_len = 7;
    else if (req->target.len > 8 && TOKEN_EQ(t, 8, "https://"))
        scheme_len = 8;
    else
        return fail(st, 400, "invalid request-target");
    const char *a = t + scheme_len, *ae = a;
    while (ae < end && *ae != '/' && *ae != '?')
        ae++;
    if (memchr(a, '@', (size_t)(ae - a)))
        return fail(st, 400, "userinfo in request-target");
    if (cg_http_host_normalize(a, (size_t)(ae - a), NULL, 0, NULL, NULL) != CG_OK)
        return fail(st, 400, "invalid authority in request-target");
    req->target_form = CG_TARGET_ABSOLUTE;
    req->host.p = a;
    req->host.len = (size_t)(ae - a);
    if (ae == end || *ae == '?') {
        /* No path: it means "/" (RFC 9112 3.2.1). */
        req->path.p = root;
        req->path.len = 1;
        if (ae < end) {
            req->query.p = ae + 1;
            req->query.len = (size_t)(end - ae - 1);
        }
        return CG_OK;
    }
    t = ae;
    q = memchr(t, '?', (size_t)(end - t));
split:
    req->path.p = t;
    req->path.len = (size_t)((q ? q : end) - t);
    if (q) {
        req->query.p = q + 1;
        req->query.len = (size_t)(end - q - 1);
    }
    return CG_OK;
}

/* "HTTP/" DIGIT "." DIGIT CRLF, checking each octet as soon as it is there. */
static int parse_version(struct head_state *st, struct cg_http_request *req)
{
    static const char name[] = "HTTP/";
    const char *p = st->p, *end = st->end;
    size_t avail = (size_t)(end - p);
    for (size_t i = 0; i < 5 && i < avail; i++)
        if (p[i] != name[i])
            return fail(st, 400, "invalid HTTP version");
    if (avail < 5)
        return out_of_input(st);
    p += 5;
    if (p == end)
        return out_of_input(st);
    unsigned major = (unsigned char)*p - '0', minor = 0;
    if (major > 9)
        return fail(st, 400, "invalid HTTP version");
    if (++p == end)
        return out_of_input(st);
    if (*p == '.') {
        if (++p == end)
            return out_of_input(st);
        minor = (unsigned char)*p - '0';
        if (minor > 9)
            return fail(st, 400, "invalid HTTP version");
        p++;
    } else if (*p != '\r' || major == 1) {
        return fail(st, 400, "invalid HTTP version");
    }
    if (p == end)
        return out_of_input(st);
    if (*p != '\r')
        return fail(st, 400, *p == '\n' ? "bare LF after request line" : "invalid HTTP version");
    if (++p == end)
        return out_of_input(st);
    if (*p != '\n')
        return fail(st, 400, "bare CR in request line");
    if (major != 1 || minor > 1)
        return fail(st, 505, "HTTP version not supported");
    req->minor_version = (int)minor;
    st->p = p + 1;
    return CG_OK;
}

static int parse_request_line(struct head_state *st, struct cg_http_request *req,
                              size_t max_target)
{
    const char *p = st->p, *end = st->end;

    for (int n = 0;; n++) {
        if (p == end)
            return out_of_input(st);
        if (*p != '\r')
            break;
        if (n == CG_HTTP_MAX_LEADING_CRLF)
            return fail(st, 400, "too many empty lines before request");
        if (++p == end)
            return out_of_input(st);
        if (*p != '\n')
            return fail(st, 400, "bare CR before request");
        p++;
    }

    const char *m = p;
    while (p < end && IS(*p, CT_TOKEN))
        p++;
    if (p == end)
        return out_of_input(st);
    if (*p != ' ' || p == m)
        return fail(st, 400, "invalid method");
    req->method.p = m;
    req->method.len = (size_t)(p - m);

    const char *t = ++p;
    p = skip_target_words(p, end);
    while (p < end && IS(*p, CT_TARGET))
        p++;
    if ((size_t)(p - t) > max_target)
        return fail(st, 414, "request-target too long");
    if (p == end)
        return out_of_input(st);
    if (*p != ' ') {
        if (*p == '\r' || *p == '\n')
            return fail(st, 400, p == t ? "missing request-target" : "missing HTTP version");
        return fail(st, 400, "invalid octet in request-target");
    }
    if (p == t)
        return fail(st, 400, "missing request-target");
    req->target.p = t;
    req->target.len = (size_t)(p - t);
    st->p = p + 1;
    return parse_version(st, req);
}

static int parse_headers(struct head_state *st, struct cg_http_request *req, size_t max_headers)
{
    const char *p = st->p, *end = st->end;

    for (;;) {
        if (p == end)
            goto more;
        if (*p == '\r') {
            if (++p == end)
                goto more;
            if (*p != '\n')
                return fail(st, 400, "bare CR in head");
            st->p = p + 1;
            return CG_OK;
        }
        if (*p == '\n')
            return fail(st, 400, "bare LF in head");
        if (IS_OWS(*p))
            return fail(st, 400, "obs-fold or whitespace before header");

        const char *n = p;
        while (p < end && IS(*p, CT_TOKEN))
            p++;
        if (p == end)
            goto more;
        if (*p != ':') {
            if (p > n && IS_OWS(*p))
                return fail(st, 400, "whitespace before colon");
            return fail(st, 400, "invalid header name");
        }
        if (p == n)
            return fail(st, 400, "empty header name");
        const char *ne = p++;

        while (p < end && IS_OWS(*p))
            p++;
        const char *v = p;
        p = skip_value_words(p, end);
        while (p < end && IS(*p, CT_VALUE))
            p++;
        if (p == end)
            goto more;
        if (*p != '\r')
            return fail(st, 400, *p == '\n' ? "bare LF in head" : "control octet in header value");
        const char *ve = p;
        if (++p == end)
            goto more;
        if (*p != '\n')
            return fail(st, 400, "bare CR in head");
        p++;
        while (ve > v && IS_OWS(ve[-1]))
            ve--;

        if (req->n_headers == max_headers)
            return fail(st, 431, "too many header fields");
        struct cg_http_header *h = &req->headers[req->n_headers++];
        h->name.p = n;
        h->name.len = (size_t)(ne - n);
        h->value.p = v;
        h->value.len = (size_t)(ve - v);
        if (on_header(st, req, h) != CG_OK)
            return CG_ERR;
    }
more:
    return out_of_input(st);
}

/* Framing and connection semantics, once the whole head is known. */
static int finish_head(struct head_state *st, struct cg_http_request *req)
{
    if (req->minor_version == 1 && st->hosts == 0)
        return fail(st, 400, "missing Host");
    if (st->has_te) {
        if (st->has_cl)
            return fail(st, 400, "both Content-Length and Transfer-Encoding");
        if (req->minor_version == 0)
            return fail(st, 400, "Transfer-Encoding in HTTP/1.0");
        if (st->te_members == 0)
            return fail(st, 400, "empty Transfer-Encoding");
        if (st->te_chunked > 1)
            return fail(st, 400, "chunked applied twice");
        if (!st->te_last_chunked)
            return fail(st, 400, "chunked is not the final transfer coding");
        if (st->te_other)
            return fail(st, 501, "unknown transfer coding (only chunked is understood)");
        req->body = CG_BODY_CHUNKED;
    } else if (st->has_cl) {
        req->body = req->content_length > 0 ? CG_BODY_LENGTH : CG_BODY_NONE;
    }
    if (req->minor_version == 1)
        req->keep_alive = !st->conn_close;
    else
        req->keep_alive = st->conn_keep_alive && !st->conn_close;
    return CG_OK;
}

long cg_http_parse_request(const char *buf, size_t len, const struct cg_http_limits *limits,
                           struct cg_http_request *req, int *status, const char **why)
{
    struct head_state st = {0};
    struct cg_http_header *headers = req->headers;
    size_t max_target = limits->max_target_bytes ? limits->max_target_bytes
                                                 : limits->max_header_bytes / 2;
    long rc;

    *req = (struct cg_http_request){ .headers = headers };
    st.p = buf;
    st.end = buf + (len < limits->max_header_bytes ? len : limits->max_header_bytes);
    st.at_limit = len >= limits->max_header_bytes;

    if ((rc = parse_request_line(&st, req, max_target)) != CG_OK)
        goto done;
    if ((rc = on_target(&st, req)) != CG_OK)
        goto done;
    if ((rc = parse_headers(&st, req, limits->max_headers)) != CG_OK)
        goto done;
    if ((rc = finish_head(&st, req)) != CG_OK)
        goto done;
    rc = (long)(st.p - buf);
done:
    if (rc == CG_ERR) {
        if (status)
            *status = st.status;
        if (why)
            *why = st.why;
    }
    return rc;
}

size_t cg_http_head_complete(const char *buf, size_t len, size_t from)
{
    /* The blank line may straddle the previous end. */
    size_t i = from > 3 ? from - 3 : 0;
    while (i < len) {
        const char *cr = memchr(buf + i, '\r', len - i);
        if (!cr)
            return 0;
        i = (size_t)(cr - buf);
        if (len - i < 4)
            return 0;
        if (cr[1] == '\n' && cr[2] == '\r' && cr[3] == '\n')
            return i + 4;
        i++;
    }
    return 0;
}

const struct cg_http_header *cg_http_find_header(const struct cg_http_request *req,
                                                 const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct cg_http_header *h = &req->headers[i];
        if (h->name.len == nl && strncasecmp(h->name.p, name, nl) == 0)
            return h;
    }
    return NULL;
}

/* ---- chunked transfer coding (RFC 9112 7.1) ---- */

enum {
    CK_SIZE_START = 0,   /* first hex digit of chunk-size */
    CK_SIZE,             /* more hex digits */
    CK_EXT_PRE_SEMI,     /* BWS, then ';' */
    CK_EXT_PRE_NAME,     /* BWS, then the extension name */
    CK_EXT_NAME,
    CK_EXT_POST_NAME,    /* BWS, then '=' or ';' */
    CK_EXT_PRE_VALUE,    /* BWS, then a token or a quoted-string */
    CK_EXT_TOKEN,
    CK_EXT_QUOTED,
    CK_EXT_QUOTED_PAIR,
    CK_EXT_AFTER_QUOTED, /* the closing '"' was seen */
    CK_SIZE_LF,          /* the LF of the chunk-size line */
    CK_DATA,
    CK_DATA_CR,
    CK_DATA_LF,
    CK_TRAILER_START,    /* start of a trailer line or the final CRLF */
    CK_TRAILER_NAME,
    CK_TRAILER_VALUE,
    CK_TRAILER_LF,
    CK_END_LF,
    CK_DONE,
};

void cg_chunked_init(struct cg_chunked_decoder *d, size_t max_trailer_bytes)
{
    memset(d, 0, sizeof(*d));
    d->state = CK_SIZE_START;
    d->max_trailer_bytes = max_trailer_bytes;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int chunk_fail(struct cg_chunked_decoder *d, int status, const char *why)
{
    d->status = status;
    d->why = why;
    return CG_ERR;
}

/*
 * One octet of framing (anything but chunk data). Framing is short next to
 * data, so a plain state machine is enough here; data is moved in bulk by
 * the caller.
 */
static int chunk_step(struct cg_chunked_decoder *d, unsigned char c)
{
    int s = d->state, h;

    if (s <= CK_SIZE_LF) {
        if (++d->line_bytes > CG_CHUNK_LINE_MAX)
            return chunk_fail(d, 400, "chunk-size line too long");
    } else if (s >= CK_TRAILER_START && s <= CK_TRAILER_LF && !(s == CK_TRAILER_START && c == '\r')) {
        /* Trailer field lines count; the CRLF that ends the body does not,
         * so that a limit of 0 means "no trailers". */
        if (++d->trailer_bytes > d->max_trailer_bytes)
            return chunk_fail(d, 431, "trailer section too large");
    }

    switch (s) {
    case CK_SIZE_START:
        if ((h = hex_value(c)) < 0)
            return chunk_fail(d, 400, "invalid chunk-size");
        d->remaining = (uint64_t)h;
        d->state = CK_SIZE;
        return CG_OK;
    case CK_SIZE:
        if ((h = hex_value(c)) >= 0) {
            if (d->remaining >> 60)
                return chunk_fail(d, 400, "chunk-size overflow");
            d->remaining = d->remaining << 4 | (uint64_t)h;
            return CG_OK;
        }
        break;
    case CK_EXT_PRE_SEMI:
        if (IS_OWS(c))
            return CG_OK;
        if (c == ';') {
            d->state = CK_EXT_PRE_NAME;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid chunk extension");
    case CK_EXT_PRE_NAME:
        if (IS_OWS(c))
            return CG_OK;
        if (IS(c, CT_TOKEN)) {
            d->state = CK_EXT_NAME;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid chunk extension");
    case CK_EXT_NAME:
        if (IS(c, CT_TOKEN))
            return CG_OK;
        if (IS_OWS(c)) {
            d->state = CK_EXT_POST_NAME;
            return CG_OK;
        }
        if (c == '=') {
            d->state = CK_EXT_PRE_VALUE;
            return CG_OK;
        }
        break;
    case CK_EXT_POST_NAME:
        if (IS_OWS(c))
            return CG_OK;
        if (c == '=') {
            d->state = CK_EXT_PRE_VALUE;
            return CG_OK;
        }
        if (c == ';') {
            d->state = CK_EXT_PRE_NAME;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid chunk extension");
    case CK_EXT_PRE_VALUE:
        if (IS_OWS(c))
            return CG_OK;
        if (c == '"') {
            d->state = CK_EXT_QUOTED;
            return CG_OK;
        }
        if (IS(c, CT_TOKEN)) {
            d->state = CK_EXT_TOKEN;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid chunk extension");
    case CK_EXT_TOKEN:
        if (IS(c, CT_TOKEN))
            return CG_OK;
        break;
    case CK_EXT_QUOTED:
        if (c == '"') {
            d->state = CK_EXT_AFTER_QUOTED;
            return CG_OK;
        }
        if (c == '\\') {
            d->state = CK_EXT_QUOTED_PAIR;
            return CG_OK;
        }
        if (IS(c, CT_VALUE))   /* qdtext: HTAB, SP, VCHAR but '"' '\', obs-text */
            return CG_OK;
        return chunk_fail(d, 400, "invalid octet in chunk extension");
    case CK_EXT_QUOTED_PAIR:
        if (IS(c, CT_VALUE)) {
            d->state = CK_EXT_QUOTED;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid octet in chunk extension");
    case CK_EXT_AFTER_QUOTED:
        break;
    case CK_SIZE_LF:
        if (c != '\n')
            return chunk_fail(d, 400, "bare CR in chunk-size line");
        d->line_bytes = 0;
        d->state = d->remaining ? CK_DATA : CK_TRAILER_START;
        return CG_OK;
    case CK_DATA_CR:
        if (c != '\r')
            return chunk_fail(d, 400, "missing CRLF after chunk data");
        d->state = CK_DATA_LF;
        return CG_OK;
    case CK_DATA_LF:
        if (c != '\n')
            return chunk_fail(d, 400, "missing CRLF after chunk data");
        d->state = CK_SIZE_START;
        return CG_OK;
    case CK_TRAILER_START:
        if (c == '\r') {
            d->state = CK_END_LF;
            return CG_OK;
        }
        if (IS(c, CT_TOKEN)) {
            d->state = CK_TRAILER_NAME;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid trailer field");
    case CK_TRAILER_NAME:
        if (IS(c, CT_TOKEN))
            return CG_OK;
        if (c == ':') {
            d->state = CK_TRAILER_VALUE;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid trailer field name");
    case CK_TRAILER_VALUE:
        if (IS(c, CT_VALUE))
            return CG_OK;
        if (c == '\r') {
            d->state = CK_TRAILER_LF;
            return CG_OK;
        }
        return chunk_fail(d, 400, "invalid octet in trailer field");
    case CK_TRAILER_LF:
        if (c != '\n')
            return chunk_fail(d, 400, "bare CR in trailer section");
        d->state = CK_TRAILER_START;
        return CG_OK;
    case CK_END_LF:
        if (c != '\n')
            return chunk_fail(d, 400, "bare CR in trailer section");
        d->state = CK_DONE;
        return CG_OK;
    default:
        return chunk_fail(d, 400, "chunked decoder misuse");
    }

    /* After the size, a complete extension value, or an extension name:
     * BWS before ';', ';', or the end of the line. */
    if (c == '\r') {
        d->state = CK_SIZE_LF;
        return CG_OK;
    }
    if (c == ';') {
        d->state = CK_EXT_PRE_NAME;
        return CG_OK;
    }
    if (IS_OWS(c)) {
        d->state = CK_EXT_PRE_SEMI;
        return CG_OK;
    }
    return chunk_fail(d, 400, s <= CK_SIZE ? "invalid chunk-size" : "invalid chunk extension");
}

int cg_chunked_decode(struct cg_chunked_decoder *d, char *buf, size_t len,
                      size_t *consumed, size_t *payload)
{
    size_t r = 0, w = 0;
    int rc = CG_AGAIN;

    while (r < len) {
        if (d->state == CK_DONE)
            break;
        if (d->state == CK_DATA) {
            size_t n = len - r;
            if ((uint64_t)n > d->remaining)
                n = (size_t)d->remaining;
            memmove(buf + w, buf + r, n);
            w += n;
            r += n;
            d->remaining -= n;
            if (d->remaining == 0)
                d->state = CK_DATA_CR;
            continue;
        }
        if (chunk_step(d, (unsigned char)buf[r]) != CG_OK) {
            rc = CG_ERR;
            goto done;
        }
        r++;
    }
    if (d->state == CK_DONE)
        rc = CG_OK;
done:
    *consumed = r;
    *payload = w;
    return rc;
}

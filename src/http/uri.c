/*
 * uri.c: request path normalisation, Host, Accept and Range helpers.
 * The choices are listed in uri.h.
 */
#include "http/uri.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/common.h"

#define IS_OWS(c) ((c) == ' ' || (c) == '\t')
#define IS_DIGIT(c) ((unsigned)((unsigned char)(c) - '0') <= 9)

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ---- path ---- */

static int path_fail(int *status, const char **why, int code, const char *reason)
{
    if (status)
        *status = code;
    if (why)
        *why = reason;
    return CG_ERR;
}

/*
 * Ends the segment out[seg..*w): drops it when empty or ".", drops it and
 * its parent for "..". Returns CG_ERR when ".." has no parent.
 * out[seg - 1] is always the '/' that opened the segment.
 */
static int close_segment(char *out, size_t seg, size_t *w, size_t *seg_out)
{
    size_t n = *w - seg;
    if (n == 1 && out[seg] == '.') {
        *w = seg;
    } else if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') {
        if (seg == 1)
            return CG_ERR;
        size_t i = seg - 1;   /* the '/' before "..": find the one before its parent */
        while (out[i - 1] != '/')
            i--;
        *w = i;
    }
    *seg_out = *w;
    return CG_OK;
}

int cg_http_path_normalize(const char *in, size_t len, char *out, size_t out_cap,
                           size_t *out_len, int *status, const char **why)
{
    size_t i = 1, w = 0, seg;
    int rc = CG_ERR;

    if (len == 0 || in[0] != '/') {
        path_fail(status, why, 400, "path does not start with /");
        goto done;
    }
    if (out_cap < 2) {
        path_fail(status, why, 414, "path too long");
        goto done;
    }
    out[w++] = '/';
    seg = w;

    while (i < len) {
        unsigned char c = (unsigned char)in[i];
        int encoded = 0;
        if (c == '%') {
            int hi, lo;
            if (len - i < 3 || (hi = hex_value((unsigned char)in[i + 1])) < 0 ||
                (lo = hex_value((unsigned char)in[i + 2])) < 0) {
                path_fail(status, why, 400, "malformed percent-escape in path");
                goto done;
            }
            c = (unsigned char)(hi << 4 | lo);
            encoded = 1;
            i += 3;
        } else {
            i++;
        }
        if (c < 0x20 || c == 0x7f) {
            path_fail(status, why, 400, c ? "control octet in path" : "NUL in path");
            goto done;
        }
        if (c == '\\') {
            path_fail(status, why, 400, "backslash in path");
            goto done;
        }
        if (c == '/') {
            if (encoded) {
                path_fail(status, why, 400, "encoded slash in path");
                goto done;
            }
            if (w == seg)
                continue;   /* empty segment: "//" collapses */
            if (close_segment(out, seg, &w, &seg) != CG_OK) {
                path_fail(status, why, 400, "path climbs above the root");
                goto done;
            }
            /* A removed "." or ".." leaves w just past a '/'. */
            if (out[w - 1] != '/') {
                if (w + 1 >= out_cap) {
                    path_fail(status, why, 414, "path too long");
                    goto done;
                }
                out[w++] = '/';
                seg = w;
            }
            continue;
        }
        if (w + 1 >= out_cap) {
            path_fail(status, why, 414, "path too long");
            goto done;
        }
        out[w++] = (char)c;
    }
    if (close_segment(out, seg, &w, &seg) != CG_OK) {
        path_fail(status, why, 400, "path climbs above the root");
        goto done;
    }
    out[w] = '\0';
    if (out_len)
        *out_len = w;
    rc = CG_OK;
done:
    return rc;
}

/* ---- Host ---- */

/* Octets of a DNS-style label: letters, digits, '-', '_'. */
static const unsigned char host_char[256] = {
    ['-'] = 1, ['_'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1,
    ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
    ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

static int parse_port(const char *p, const char *end, int *port)
{
    size_t n = (size_t)(end - p);
    long v = 0;
    if (n == 0 || n > 5)
        return CG_ERR;
    for (; p < end; p++) {
        if (!IS_DIGIT(*p))
            return CG_ERR;
        v = v * 10 + (*p - '0');
    }
    if (v > 65535)
        return CG_ERR;
    *port = (int)v;
    return CG_OK;
}

int cg_http_host_normalize(const char *in, size_t len, char *out, size_t out_cap,
                           size_t *out_len, int *port)
{
    const char *end = in + len, *host_end, *rest;
    int p = -1;
    size_t hlen;

    if (len == 0)
        return CG_ERR;
    if (in[0] == '[') {
        char tmp[64];
        unsigned char addr[16];
        const char *close = memchr(in, ']', len);
        if (!close || (size_t)(close - in - 1) >= sizeof(tmp) || close == in + 1)
            return CG_ERR;
        for (const char *c = in + 1; c < close; c++)
            if (hex_value((unsigned char)*c) < 0 && *c != ':' && *c != '.')
                return CG_ERR;   /* no zone ("%25"), no IPvFuture ("v1.") */
        memcpy(tmp, in + 1, (size_t)(close - in - 1));
        tmp[close - in - 1] = '\0';
        if (inet_pton(AF_INET6, tmp, addr) != 1)
            return CG_ERR;
        host_end = close + 1;
        rest = host_end;
    } else {
        const char *c = in, *label = in;
        for (; c < end && *c != ':'; c++) {
            if (*c == '.') {
                if (c == label || c - label > 63)
                    return CG_ERR;
                label = c + 1;
            } else if (!host_char[(unsigned char)*c]) {
                return CG_ERR;
            }
        }
        if (c - label > 63)
            return CG_ERR;
        host_end = c;
        rest = c;
        /* One trailing dot (a fully qualified name) is the same host. */
        if (host_end > in && host_end[-1] == '.')
            host_end--;
        if (host_end == in || host_end - in > 253)
            return CG_ERR;
    }
    if (rest < end) {
        if (*rest != ':' || parse_port(rest + 1, end, &p) != CG_OK)
            return CG_ERR;
    }
    hlen = (size_t)(host_end - in);
    if (out) {
        if (out_cap < hlen + 1)
            return CG_ERR;
        for (size_t i = 0; i < hlen; i++)
            out[i] = (char)lower((unsigned char)in[i]);
        out[hlen] = '\0';
    }
    if (out_len)
        *out_len = hlen;
    if (port)
        *port = p;
    return CG_OK;
}

/* ---- Accept ---- */

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IS_DIGIT(c) ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int ieq(const char *s, size_t len, const char *lit)
{
    size_t n = strlen(lit);
    if (len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != lit[i])
            return 0;
    return 1;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths. */
static int parse_qvalue(const char *s, size_t len, int *q)
{
    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return CG_ERR;
    int v = (s[0] - '0') * 1000, scale = 100;
    if (len > 1) {
        if (s[1] != '.' || len > 5)
            return CG_ERR;
        for (size_t i = 2; i < len; i++, scale /= 10) {
            if (!IS_DIGIT(s[i]))
                return CG_ERR;
            v += (s[i] - '0') * scale;
        }
    }
    if (v > 1000)
        return CG_ERR;
    *q = v;
    return CG_OK;
}

struct accept_target {
    const char *type, *subtype;
    int q, specificity;   /* specificity -1: no range matched yet */
};

/*
 * Reads one media-range with its parameters from m[0..len) and updates the
 * targets it matches. Malformed members change nothing.
 */
static void accept_member(const char *m, size_t len, struct accept_target *t, size_t n_targets)
{
    const char *p = m, *end = m + len, *type, *sub;
    size_t type_len, sub_len;
    int q = 1000;

    type = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    type_len = (size_t)(p - type);
    if (type_len == 0 || p == end || *p != '/')
        return;
    sub = ++p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    sub_len = (size_t)(p - sub);
    if (sub_len == 0)
        return;
    while (p < end) {
        while (p < end && IS_OWS(*p))
            p++;
        if (p == end)
            break;
        if (*p != ';')
            return;
        p++;
        while (p < end && IS_OWS(*p))
            p++;
        const char *name = p;
        while (p < end && is_tchar((unsigned char)*p))
            p++;
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || p == end || *p != '=')
            return;
        const char *val = ++p;
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"'; p++)
                if (*p == '\\' && p + 1 < end)
                    p++;
            if (p == end)
                return;
            p++;
        } else {
            while (p < end && is_tchar((unsigned char)*p))
                p++;
        }
        if (ieq(name, name_len, "q") && parse_qvalue(val, (size_t)(p - val), &q) != CG_OK)
            return;
    }

    int star_type = type_len == 1 && type[0] == '*';
    int star_sub = sub_len == 1 && sub[0] == '*';
    if (star_type && !star_sub)
        return;
    int specificity = star_type ? 0 : star_sub ? 1 : 2;
    for (size_t i = 0; i < n_targets; i++) {
        if (!star_type && !ieq(type, type_len, t[i].type))
            continue;
        if (!star_sub && !ieq(sub, sub_len, t[i].subtype))
            continue;
        if (specificity > t[i].specificity) {
            t[i].specificity = specificity;
            t[i].q = q;
        }
    }
}

bool cg_http_prefers_json(const char *accept, size_t len)
{
    struct accept_target t[] = {
        { "text", "html", 0, -1 },
        { "application", "json", 0, -1 },
        { "application", "problem+json", 0, -1 },
    };
    const char *p = accept, *end = accept ? accept + len : NULL;

    while (p < end) {
        /* A member ends at a comma outside a quoted-string. */
        const char *b = p;
        int quoted = 0;
        for (; p < end; p++) {
            if (quoted && *p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                quoted = !quoted;
            else if (!quoted && *p == ',')
                break;
        }
        const char *e = p;
        while (b < e && IS_OWS(*b))
            b++;
        while (e > b && IS_OWS(e[-1]))
            e--;
        if (e > b)
            accept_member(b, (size_t)(e - b), t, CG_ARRAY_LEN(t));
        if (p == end)
            break;
        p++;
    }
    int json = t[1].q > t[2].q ? t[1].q : t[2].q;
    return json > t[0].q;
}

/* ---- Range ---- */

/* Reads 1*DIGIT, saturating: a number past 2^64 is as unsatisfiable as 2^64. */
static const char *read_u64(const char *p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    const char *b = p;
    for (; p < end && IS_DIGIT(*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return p == b ? NULL : p;
}

int cg_http_range_parse(const char *value, size_t len, uint64_t size,
                        uint64_t *first, uint64_t *last)
{
    const char *p = value, *end = value + len, *eq;
    uint64_t a, b;

    if (!value || !(eq = memchr(value, '=', len)) || !ieq(value, (size_t)(eq - value), "bytes"))
        return CG_DECLINED;
    p = eq + 1;
    if (memchr(p, ',', (size_t)(end - p)))
        return CG_DECLINED;
    while (p < end && IS_OWS(*p))
        p++;
    while (end > p && IS_OWS(end[-1]))
        end--;
    if (p < end && *p == '-') {
        if (!(p = read_u64(p + 1, end, &b)) || p != end)
            return CG_DECLINED;
        if (b == 0 || size == 0)
            return CG_ERR;
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return CG_OK;
    }
    if (!(p = read_u64(p, end, &a)) || p == end || *p != '-')
        return CG_DECLINED;
    p++;
    if (p == end) {
        b = UINT64_MAX;
    } else if (!(p = read_u64(p, end, &b)) || p != end || b < a) {
        return CG_DECLINED;
    }
    if (a >= size)
        return CG_ERR;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return CG_OK;
}

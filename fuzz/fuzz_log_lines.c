/*
 * fuzz_log_lines: HTTP dates and access log lines on arbitrary bytes.
 * A parsed date must format and parse back to itself; every access log
 * line must be bounded, one line, and (for JSON) parse back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/access_log.h"
#include "http/static.h"

static void check_date(const char *in, size_t len)
{
    time_t t, back;
    char out[CG_HTTP_DATE_LEN + 1];

    if (cg_http_date_parse(in, len, &t) != CG_OK)
        return;
    if (cg_http_date_format(t, out, sizeof(out)) != CG_OK)
        return;   /* out of the four-digit year range */
    if (cg_http_date_parse(out, strlen(out), &back) != CG_OK || back != t)
        abort();
}

static void check_lines(const char *in, size_t len)
{
    static char line[CG_ACCESS_LINE_MAX];
    struct cg_access_entry e;
    struct cg_access_str s = { in, len };

    memset(&e, 0, sizeof(e));
    e.method = s;
    e.uri_stem = s;
    e.uri_query = s;
    e.user_agent = s;
    e.referer = s;
    e.username = s;
    e.cert_subject = s;
    e.status = 200;
    for (int f = CG_ACCESS_W3C; f <= CG_ACCESS_JSON; f++) {
        size_t n = cg_access_log_format_line(f, &e, line, sizeof(line));
        if (n == 0 || n > CG_ACCESS_LINE_MAX || line[n - 1] != '\n' ||
            memchr(line, '\n', n - 1) != NULL || memchr(line, '\r', n) != NULL)
            abort();
        if (f == CG_ACCESS_JSON) {
            json_t *j = json_loadb(line, n, JSON_ALLOW_NUL, NULL);   /* \u0000 is valid JSON */
            if (j == NULL)
                abort();
            json_decref(j);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_date((const char *)data, size);
    check_lines((const char *)data, size);
    return 0;
}

/*
 * test_access_log.c: the three access log formats (exact lines, escaping of
 * hostile values, JSON parsed back with jansson), bounded lines, the
 * per-thread buffers against a real file, concurrent flushes, and reopen
 * after a logrotate rename.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/access_log.h"

static char tmpdir[512];

static int setup(void **state)
{
    const char *base = getenv("CG_TMPDIR");
    char tmpl[512];

    if (base == NULL)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpl, sizeof(tmpl), "%s/test_access_log.XXXXXX", base);
    if (mkdtemp(tmpl) == NULL)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static size_t count_char(const char *s, size_t len, char c)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += s[i] == c;
    return n;
}

/* 2026-11-29 12:00:00.123 UTC */
static void sample(struct cg_access_entry *e)
{
    memset(e, 0, sizeof(*e));
    e->time.tv_sec = 1795953600;
    e->time.tv_nsec = 123000000;
    e->s_ip = cg_access_str("127.0.0.1");
    e->s_port = 8443;
    e->c_ip = cg_access_str("192.0.2.7");
    e->c_port = 50123;
    e->method = cg_access_str("GET");
    e->uri_stem = cg_access_str("/secure/report.pdf");
    e->uri_query = cg_access_str("year=2026&q=a b");
    e->protocol = cg_access_str("HTTP/1.1");
    e->username = cg_access_str("alice");
    e->user_agent = cg_access_str("curl/8.0 (x86_64) \"quoted\"");
    e->host = cg_access_str("localhost");
    e->status = 403;
    e->substatus = 17;
    e->reason = cg_access_str("expired");
    e->bytes_sent = 1234;
    e->bytes_received = 321;
    e->time_taken_ms = 5;
    e->tls_version = cg_access_str("TLSv1.3");
    e->cert_subject = cg_access_str("CN=alice,O=Example Corp");
    e->cert_sha256 = cg_access_str("ab01cd");
}

static void test_w3c_line(void **state)
{
    struct cg_access_entry e;
    char line[CG_ACCESS_LINE_MAX];
    size_t n;

    sample(&e);
    n = cg_access_log_format_line(CG_ACCESS_W3C, &e, line, sizeof(line));
    assert_true(n > 0);
    line[n] = '\0';
    assert_string_equal(line,
                        "2026-11-29 12:00:00 127.0.0.1 GET /secure/report.pdf year=2026&q=a+b "
                        "8443 alice 192.0.2.7 HTTP/1.1 curl/8.0+(x86_64)+%22quoted%22 - "
                        "localhost 403 17 0 1234 321 5 expired TLSv1.3 "
                        "CN=alice,O=Example+Corp ab01cd\n");
    /* as many values as #Fields names */
    assert_int_equal(count_char(line, n, ' ') + 1,
                     count_char(CG_ACCESS_W3C_FIELDS, strlen(CG_ACCESS_W3C_FIELDS), ' ') + 1);
}

static void test_w3c_hostile_and_empty(void **state)
{
    struct cg_access_entry e;
    char line[CG_ACCESS_LINE_MAX];
    size_t n;

    memset(&e, 0, sizeof(e));
    e.method = cg_access_str("GET");
    e.uri_stem = cg_access_str("/a\nb\r\tc\\d");
    e.user_agent = cg_access_str("x\n2026-01-01 00:00:00 forged");
    e.status = 400;
    n = cg_access_log_format_line(CG_ACCESS_W3C, &e, line, sizeof(line));
    assert_true(n > 0);
    line[n] = '\0';
    assert_int_equal(count_char(line, n, '\n'), 1);
    assert_non_null(strstr(line, " /a%0ab%0d%09c%5cd "));
    assert_non_null(strstr(line, " x%0a2026-01-01+00:00:00+forged "));
    /* unknowns are '-' */
    assert_non_null(strstr(line, "1970-01-01 00:00:00 - GET "));
    assert_int_equal(count_char(line, n, ' ') + 1,
                     count_char(CG_ACCESS_W3C_FIELDS, strlen(CG_ACCESS_W3C_FIELDS), ' ') + 1);
}

static void test_w3c_header(void **state)
{
    char hdr[512];
    size_t n = cg_access_log_w3c_header(1795953600, hdr, sizeof(hdr));

    assert_true(n > 0);
    assert_string_equal(hdr, "#Software: certgate\n#Version: 1.0\n#Date: 2026-11-29 12:00:00\n"
                             "#Fields: " CG_ACCESS_W3C_FIELDS "\n");
    assert_non_null(strstr(hdr, " sc-status sc-substatus "));
    assert_non_null(strstr(hdr, "x-reason x-tls-version x-client-cert-subject x-client-cert-sha256"));
    assert_int_equal(cg_access_log_w3c_header(1795953600, hdr, 20), 0);
}

static void test_combined_line(void **state)
{
    struct cg_access_entry e;
    char line[CG_ACCESS_LINE_MAX];
    size_t n;

    sample(&e);
    e.referer = cg_access_str("https://example.com/\"x\\y\n");
    n = cg_access_log_format_line(CG_ACCESS_COMBINED, &e, line, sizeof(line));
    assert_true(n > 0);
    line[n] = '\0';
    assert_string_equal(line,
                        "192.0.2.7 - alice [29/Nov/2026:12:00:00 +0000] "
                        "\"GET /secure/report.pdf?year=2026&q=a b HTTP/1.1\" 403 1234 "
                        "\"https://example.com/\\\"x\\\\y\\x0a\" "
                        "\"curl/8.0 (x86_64) \\\"quoted\\\"\"\n");
}

static void test_json_line(void **state)
{
    struct cg_access_entry e;
    char line[CG_ACCESS_LINE_MAX];
    json_error_t jerr;
    json_t *j;
    size_t n;
    static const char bad_utf8[] = "ua \xff\xfe end";
    static const char subject[] = "CN=J\xc3\xbcrgen \xe2\x82\xac,O=\"Q\"";

    sample(&e);
    e.user_agent = cg_access_str(bad_utf8);
    e.cert_subject = cg_access_str(subject);
    e.uri_query = (struct cg_access_str){ NULL, 0 };
    e.referer = cg_access_str("a\x01\n\"b\\");
    n = cg_access_log_format_line(CG_ACCESS_JSON, &e, line, sizeof(line));
    assert_true(n > 0);
    assert_int_equal(line[n - 1], '\n');
    assert_int_equal(count_char(line, n, '\n'), 1);
    j = json_loadb(line, n, 0, &jerr);
    if (j == NULL)
        fail_msg("invalid JSON: %s: %.*s", jerr.text, (int)n, line);
    assert_string_equal(json_string_value(json_object_get(j, "time")), "2026-11-29T12:00:00.123Z");
    assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
    assert_int_equal(json_integer_value(json_object_get(j, "status")), 403);
    assert_int_equal(json_integer_value(json_object_get(j, "substatus")), 17);
    assert_int_equal(json_integer_value(json_object_get(j, "s_port")), 8443);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes_sent")), 1234);
    assert_string_equal(json_string_value(json_object_get(j, "reason")), "expired");
    assert_string_equal(json_string_value(json_object_get(j, "tls_version")), "TLSv1.3");
    assert_string_equal(json_string_value(json_object_get(j, "client_cert_subject")), subject);
    assert_string_equal(json_string_value(json_object_get(j, "user_agent")), "ua \\xff\\xfe end");
    assert_string_equal(json_string_value(json_object_get(j, "referer")), "a\x01\n\"b\\");
    assert_true(json_is_null(json_object_get(j, "uri_query")));
    json_decref(j);
}

static void test_long_values_bounded(void **state)
{
    struct cg_access_entry e;
    char *big = malloc(20000), *line = malloc(CG_ACCESS_LINE_MAX);
    int formats[] = { CG_ACCESS_W3C, CG_ACCESS_COMBINED, CG_ACCESS_JSON };

    assert_non_null(big);
    assert_non_null(line);
    memset(big, '"', 19999);   /* the worst case: every byte escaped */
    big[19999] = '\0';
    sample(&e);
    e.user_agent = cg_access_str(big);
    e.referer = cg_access_str(big);
    e.uri_stem = cg_access_str(big);
    e.uri_query = cg_access_str(big);
    e.cert_subject = cg_access_str(big);
    e.username = cg_access_str(big);
    e.host = cg_access_str(big);
    for (size_t i = 0; i < CG_ARRAY_LEN(formats); i++) {
        size_t n = cg_access_log_format_line(formats[i], &e, line, CG_ACCESS_LINE_MAX);
        assert_true(n > 0);
        assert_true(n <= CG_ACCESS_LINE_MAX);
        assert_int_equal(line[n - 1], '\n');
        assert_int_equal(count_char(line, n, '\n'), 1);
        if (formats[i] == CG_ACCESS_JSON) {
            json_t *j = json_loadb(line, n, 0, NULL);
            assert_non_null(j);
            json_decref(j);
        }
    }
    /* a buffer too small says so instead of writing half a line */
    assert_int_equal(cg_access_log_format_line(CG_ACCESS_W3C, &e, line, 100), 0);
    free(big);
    free(line);
}

static void test_buffer_flush_and_reopen(void **state)
{
    char path[600], rotated[600], *err = NULL, *text;
    struct cg_access_log *log;
    struct cg_access_log_buffer buf;
    struct cg_access_entry e;
    size_t lines = 0;

    snprintf(path, sizeof(path), "%s/access.log", tmpdir);
    snprintf(rotated, sizeof(rotated), "%s/access.log.1", tmpdir);
    log = cg_access_log_open(path, CG_ACCESS_W3C, &err);
    assert_non_null(log);
    assert_int_equal(cg_access_log_format_of(log), CG_ACCESS_W3C);
    assert_int_equal(cg_access_log_buffer_init(&buf, log, 0), CG_OK);
    assert_int_equal(buf.cap, CG_ACCESS_BUFFER_DEFAULT);
    sample(&e);

    /* appended lines stay in memory until a flush */
    assert_int_equal(cg_access_log_append(&buf, &e), CG_OK);
    text = slurp(path);
    assert_non_null(text);
    assert_string_equal(text + strlen(text) - strlen(CG_ACCESS_W3C_FIELDS) - 1,
                        CG_ACCESS_W3C_FIELDS "\n");
    assert_null(strstr(text, "/secure/report.pdf"));
    free(text);
    assert_int_equal(cg_access_log_flush(&buf), CG_OK);
    assert_int_equal(buf.len, 0);
    text = slurp(path);
    assert_non_null(strstr(text, "/secure/report.pdf"));
    free(text);

    /* logrotate: rename, reopen, the next flush goes to a new file with a header */
    assert_int_equal(rename(path, rotated), 0);
    assert_int_equal(cg_access_log_reopen(log, &err), CG_OK);
    e.uri_stem = cg_access_str("/after");
    assert_int_equal(cg_access_log_append(&buf, &e), CG_OK);
    cg_access_log_buffer_free(&buf);   /* flushes */
    assert_null(buf.data);
    cg_access_log_close(log);

    text = slurp(rotated);
    assert_non_null(text);
    assert_null(strstr(text, "/after"));
    free(text);
    text = slurp(path);
    assert_non_null(text);
    assert_memory_equal(text, "#Software: certgate\n", 20);
    assert_non_null(strstr(text, " GET /after "));
    for (char *l = text, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1)
        lines += l[0] != '#';
    assert_int_equal(lines, 1);
    free(text);
}

struct worker_arg {
    struct cg_access_log *log;
    int id;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    struct cg_access_log_buffer buf;
    struct cg_access_entry e;
    char stem[64];

    if (cg_access_log_buffer_init(&buf, a->log, 1) != CG_OK)   /* smallest: many flushes */
        return NULL;
    sample(&e);
    for (int i = 0; i < 400; i++) {
        snprintf(stem, sizeof(stem), "/w%d/%d", a->id, i);
        e.uri_stem = cg_access_str(stem);
        (void)cg_access_log_append(&buf, &e);
    }
    cg_access_log_buffer_free(&buf);
    return NULL;
}

static void test_threads_whole_lines(void **state)
{
    char path[600], *err = NULL, *text;
    struct cg_access_log *log;
    struct worker_arg args[3];
    pthread_t th[3];
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/threads.jsonl", tmpdir);
    log = cg_access_log_open(path, CG_ACCESS_JSON, &err);
    assert_non_null(log);
    for (int i = 0; i < 3; i++) {
        args[i] = (struct worker_arg){ log, i };
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    cg_access_log_close(log);
    text = slurp(path);
    assert_non_null(text);
    for (char *l = text, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1, n++) {
        json_t *j = json_loadb(l, (size_t)(nl - l), 0, NULL);
        assert_non_null(j);
        json_decref(j);
    }
    assert_int_equal(n, 1200);
    free(text);
}

static void test_open_errors(void **state)
{
    char *err = NULL;

    assert_null(cg_access_log_open("/nonexistent-dir/a.log", CG_ACCESS_W3C, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "/nonexistent-dir/a.log"));
    assert_null(cg_access_log_open("/tmp/x.log", 9, &err));
    free(err);
    cg_access_log_close(NULL);
    cg_access_log_buffer_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_w3c_line),
        cmocka_unit_test(test_w3c_hostile_and_empty),
        cmocka_unit_test(test_w3c_header),
        cmocka_unit_test(test_combined_line),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_long_values_bounded),
        cmocka_unit_test(test_buffer_flush_and_reopen),
        cmocka_unit_test(test_threads_whole_lines),
        cmocka_unit_test(test_open_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * test_log.c: the error log against real files: line format, levels,
 * escaping, truncation, concurrent writers, reopen after a logrotate rename
 * and a failed reopen that keeps the old file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static char tmpdir[512];

static int setup(void **state)
{
    const char *base = getenv("CG_TMPDIR");
    char tmpl[512];

    if (base == NULL)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpl, sizeof(tmpl), "%s/test_log.XXXXXX", base);
    if (mkdtemp(tmpl) == NULL)
        return -1;
    snprintf(tmpdir, sizeof(tmpdir), "%s", tmpl);
    return 0;
}

static int teardown(void **state)
{
    char cmd[600];

    cg_log_close();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Reads a whole file into a heap string (test helper). */
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

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

static bool line_ok(const char *line, size_t len)
{
    static regex_t re;
    static bool compiled;
    char buf[CG_LOG_LINE_MAX + 1];

    if (!compiled) {
        assert_int_equal(regcomp(&re,
                                 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                                 "\\[(error|warn|info|debug)\\] [^\n]*$",
                                 REG_EXTENDED | REG_NOSUB),
                         0);
        compiled = true;
    }
    if (len > CG_LOG_LINE_MAX)
        return false;
    memcpy(buf, line, len);
    buf[len] = '\0';
    return regexec(&re, buf, 0, NULL, 0) == 0;
}

static void test_format_and_levels(void **state)
{
    char path[600], *err = NULL, *text;

    snprintf(path, sizeof(path), "%s/levels.log", tmpdir);
    assert_int_equal(cg_log_open(path, CG_LOG_INFO, &err), CG_OK);
    assert_null(err);
    assert_true(cg_log_enabled(CG_LOG_ERROR));
    assert_true(cg_log_enabled(CG_LOG_INFO));
    assert_false(cg_log_enabled(CG_LOG_DEBUG));
    cg_log(CG_LOG_ERROR, "refused %s: %d", "client", 7);
    cg_log(CG_LOG_WARN, "a warning");
    cg_log(CG_LOG_INFO, "started");
    cg_log(CG_LOG_DEBUG, "not written");
    cg_log_set_level(CG_LOG_DEBUG);
    cg_log(CG_LOG_DEBUG, "now written");

    text = slurp(path);
    assert_non_null(text);
    assert_int_equal(count_lines(text), 4);
    assert_non_null(strstr(text, "[error] refused client: 7\n"));
    assert_non_null(strstr(text, "[warn] a warning\n"));
    assert_non_null(strstr(text, "[info] started\n"));
    assert_null(strstr(text, "not written"));
    assert_non_null(strstr(text, "[debug] now written\n"));
    for (char *l = text, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1)
        assert_true(line_ok(l, (size_t)(nl - l)));
    assert_string_equal(cg_log_level_name(CG_LOG_WARN), "warn");
    assert_string_equal(cg_log_level_name(42), "?");
    free(text);
}

static void test_escaping_and_truncation(void **state)
{
    char path[600], *err = NULL, *text, *big;

    snprintf(path, sizeof(path), "%s/escape.log", tmpdir);
    assert_int_equal(cg_log_open(path, CG_LOG_INFO, &err), CG_OK);
    /* a peer-controlled string trying to forge a second line */
    cg_log(CG_LOG_ERROR, "host %s", "evil\n2026-01-01T00:00:00.000Z [info] forged\r\x1b[31m");
    big = malloc(3 * CG_LOG_LINE_MAX);
    assert_non_null(big);
    memset(big, 'a', 3 * CG_LOG_LINE_MAX - 1);
    big[3 * CG_LOG_LINE_MAX - 1] = '\0';
    cg_log(CG_LOG_ERROR, "%s", big);
    free(big);

    text = slurp(path);
    assert_non_null(text);
    assert_int_equal(count_lines(text), 2);
    assert_non_null(strstr(text, "host evil\\x0a2026-01-01T00:00:00.000Z [info] forged\\x0d\\x1b[31m\n"));
    {
        char *second = strchr(text, '\n') + 1;
        size_t len = strlen(second);
        assert_true(len <= CG_LOG_LINE_MAX);
        assert_memory_equal(second + len - 4, "...\n", 4);
        assert_true(line_ok(second, len - 1));
    }
    free(text);
}

static void *writer(void *arg)
{
    for (int i = 0; i < 300; i++)
        cg_log(CG_LOG_INFO, "thread %d line %d %s", (int)(intptr_t)arg, i,
               "padding-padding-padding-padding-padding-padding-padding-padding");
    return NULL;
}

static void test_threads_lines_whole(void **state)
{
    char path[600], *err = NULL, *text;
    pthread_t th[4];
    size_t n = 0;

    snprintf(path, sizeof(path), "%s/threads.log", tmpdir);
    assert_int_equal(cg_log_open(path, CG_LOG_INFO, &err), CG_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    text = slurp(path);
    assert_non_null(text);
    for (char *l = text, *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1, n++)
        assert_true(line_ok(l, (size_t)(nl - l)));
    assert_int_equal(n, 1200);
    free(text);
}

static void test_reopen_after_rename(void **state)
{
    char path[600], rotated[600], *err = NULL, *a, *b;

    snprintf(path, sizeof(path), "%s/rot.log", tmpdir);
    snprintf(rotated, sizeof(rotated), "%s/rot.log.1", tmpdir);
    assert_int_equal(cg_log_open(path, CG_LOG_INFO, &err), CG_OK);
    cg_log(CG_LOG_INFO, "before rotation");
    assert_int_equal(rename(path, rotated), 0);
    cg_log(CG_LOG_INFO, "still the old file");
    assert_int_equal(cg_log_reopen(&err), CG_OK);
    cg_log(CG_LOG_INFO, "after rotation");

    a = slurp(rotated);
    b = slurp(path);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(strstr(a, "before rotation"));
    assert_non_null(strstr(a, "still the old file"));
    assert_null(strstr(a, "after rotation"));
    assert_int_equal(count_lines(b), 1);
    assert_non_null(strstr(b, "after rotation"));
    free(a);
    free(b);
}

static void test_reopen_failure_keeps_old_file(void **state)
{
    char dir[600], moved[600], path[700], old[700], *err = NULL, *text;

    snprintf(dir, sizeof(dir), "%s/sub", tmpdir);
    snprintf(moved, sizeof(moved), "%s/sub-moved", tmpdir);
    snprintf(path, sizeof(path), "%s/error.log", dir);
    snprintf(old, sizeof(old), "%s/error.log", moved);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(cg_log_open(path, CG_LOG_INFO, &err), CG_OK);
    cg_log(CG_LOG_INFO, "first");
    /* the directory goes away: reopening by path must fail */
    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(cg_log_reopen(&err), CG_ERR);
    assert_non_null(err);
    assert_non_null(strstr(err, "error.log"));
    cg_log(CG_LOG_INFO, "second");
    text = slurp(old);
    assert_non_null(text);
    assert_non_null(strstr(text, "first"));
    assert_non_null(strstr(text, "log reopen failed"));
    assert_non_null(strstr(text, "second"));
    free(text);
    free(err);
}

static void test_open_failure(void **state)
{
    char *err = NULL;

    assert_int_equal(cg_log_open("/nonexistent-dir/x/error.log", CG_LOG_INFO, &err), CG_ERR);
    assert_non_null(err);
    assert_non_null(strstr(err, "/nonexistent-dir/x/error.log"));
    free(err);
    /* stderr and back */
    assert_int_equal(cg_log_open(NULL, CG_LOG_WARN, NULL), CG_OK);
    assert_false(cg_log_enabled(CG_LOG_INFO));
    assert_int_equal(cg_log_reopen(NULL), CG_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_levels),
        cmocka_unit_test(test_escaping_and_truncation),
        cmocka_unit_test(test_threads_lines_whole),
        cmocka_unit_test(test_reopen_after_rename),
        cmocka_unit_test(test_reopen_failure_keeps_old_file),
        cmocka_unit_test(test_open_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The location key `handler:` (static files or the certificate-info page):
 * its default, its values, that it is not inherited, and its refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf/config.h"
#include "core/common.h"

static struct cg_conf *load(const char *yaml, char **err)
{
    struct cg_conf *c = NULL;

    *err = NULL;
    if (cg_conf_load_mem_flags("t.yaml", "/base", yaml, strlen(yaml), CG_CONF_NO_FILE_CHECKS, &c,
                               err) != CG_OK)
        return NULL;
    return c;
}

static void test_handler_values(void **state)
{
    static const char yaml[] =
        "sites:\n"
        "  - name: demo\n"
        "    root: www\n"
        "    client_certificates: accept\n"
        "    locations:\n"
        "      - { path: /, handler: certificate-info }\n"
        "      - { path: /secure, client_certificates: require }\n"
        "      - { path: /files, handler: static }\n"
        "    bindings: [{ listen: '127.0.0.1:0' }]\n";
    char *err = NULL;
    struct cg_conf *c = load(yaml, &err);
    const struct cg_conf_site *s;

    (void)state;
    if (c == NULL)
        fail_msg("load: %s", err);
    s = &c->sites[0];
    assert_int_equal(cg_conf_find_location(s, "/", 1)->handler, CG_HANDLER_CERTIFICATE_INFO);
    assert_int_equal(cg_conf_find_location(s, "/whoami", 7)->handler,
                     CG_HANDLER_CERTIFICATE_INFO);
    /* A longer location does not inherit the handler of a shorter one. */
    assert_int_equal(cg_conf_find_location(s, "/secure/", 8)->handler, CG_HANDLER_STATIC);
    assert_int_equal(cg_conf_find_location(s, "/files/a", 8)->handler, CG_HANDLER_STATIC);
    assert_string_equal(cg_conf_handler_name(CG_HANDLER_STATIC), "static");
    assert_string_equal(cg_conf_handler_name(CG_HANDLER_CERTIFICATE_INFO), "certificate-info");
    cg_conf_unref(c);
}

static void test_handler_refused(void **state)
{
    static const char yaml[] =
        "sites:\n"
        "  - name: demo\n"
        "    locations:\n"
        "      - { path: /, handler: whoami }\n"
        "    bindings: [{ listen: '127.0.0.1:0' }]\n";
    char *err = NULL;
    struct cg_conf *c = load(yaml, &err);

    (void)state;
    assert_null(c);
    assert_non_null(err);
    /* The position of the value and the words that would do. */
    if (strstr(err, "t.yaml:4:") == NULL || strstr(err, "handler") == NULL ||
        strstr(err, "certificate-info") == NULL)
        fail_msg("unexpected message: %s", err);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handler_values),
        cmocka_unit_test(test_handler_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

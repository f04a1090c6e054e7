/*
 * The certificate-info page as the server builds it from a site: which
 * place it names as requiring a certificate, and that a handshake that
 * asked nothing is never reported as having asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "conf/config.h"
#include "core/common.h"
#include "server/certinfo_page.h"

static struct cg_conf *load(const char *yaml)
{
    struct cg_conf *c = NULL;
    char *err = NULL;

    if (cg_conf_load_mem_flags("t.yaml", "/base", yaml, strlen(yaml), CG_CONF_NO_FILE_CHECKS, &c,
                               &err) != CG_OK)
        fail_msg("load: %s", err);
    return c;
}

static json_t *page(const struct cg_conf_site *site, bool tls, bool asked)
{
    char *body = NULL;
    const char *ctype = NULL;
    size_t len = 0;
    json_t *j;

    assert_int_equal(cg_server_certinfo_body(site, NULL, tls, asked, false, true, &body, &len,
                                             &ctype),
                     CG_OK);
    j = json_loads(body, 0, NULL);
    assert_non_null(j);
    free(body);
    return j;
}

static void test_required_path(void **state)
{
    static const char yaml[] =
        "sites:\n"
        "  - name: a\n"
        "    hostnames: [a]\n"
        "    client_certificates: accept\n"
        "    locations:\n"
        "      - { path: /, handler: certificate-info }\n"
        "      - { path: /secure/deeper, client_certificates: require }\n"
        "      - { path: /secure, client_certificates: require }\n"
        "    bindings: [{ listen: '127.0.0.1:0' }]\n"
        "  - name: b\n"
        "    client_certificates: require\n"
        "    bindings: [{ listen: '127.0.0.1:0' }]\n"
        "  - name: c\n"
        "    hostnames: [c]\n"
        "    bindings: [{ listen: '127.0.0.1:0' }]\n";
    struct cg_conf *c = load(yaml);
    json_t *j;

    (void)state;
    /* the most general place that requires one */
    j = page(&c->sites[0], true, true);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "required_at"),
                                                          "path")),
                        "/secure");
    assert_true(json_is_true(json_object_get(j, "asked")));
    json_decref(j);
    /* the site itself requires one */
    j = page(&c->sites[1], true, true);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "required_at"),
                                                          "path")),
                        "/");
    json_decref(j);
    /* nowhere; and plain HTTP never asked */
    j = page(&c->sites[2], false, true);
    assert_null(json_object_get(j, "required_at"));
    assert_true(json_is_false(json_object_get(j, "asked")));
    assert_true(json_is_false(json_object_get(j, "tls")));
    json_decref(j);
    cg_conf_unref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_required_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

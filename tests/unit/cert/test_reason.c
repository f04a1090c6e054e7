/* The reason table: every slug parses back to itself, codes and ranks hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cert/reason.h"
#include "core/common.h"

static void test_slugs_round_trip(void **state)
{
    (void)state;
    for (int r = 0; r < CG_REASON__COUNT; r++) {
        cg_reason_t back;
        assert_int_equal(cg_reason_from_slug(cg_reason_slug((cg_reason_t)r), &back), CG_OK);
        assert_int_equal(back, r);
    }
    cg_reason_t unused;
    assert_int_equal(cg_reason_from_slug("no-such-reason", &unused), CG_ERR);
}

static void test_codes(void **state)
{
    (void)state;
    assert_string_equal(cg_reason_code(CG_REASON_OK), "200");
    assert_string_equal(cg_reason_code(CG_REASON_CERT_REQUIRED), "403.7");
    assert_string_equal(cg_reason_code(CG_REASON_SSL_REQUIRED), "403.4");
    assert_string_equal(cg_reason_code(CG_REASON_REVOKED), "403.13");
    assert_string_equal(cg_reason_code(CG_REASON_UNTRUSTED_ROOT), "403.16");
    assert_string_equal(cg_reason_code(CG_REASON_EXPIRED), "403.17");
    assert_int_equal(cg_reason_substatus(CG_REASON_MAPPING_DENIED), 12);
    assert_int_equal(cg_reason_status(CG_REASON_NOT_YET_VALID), 403);
}

static void test_headline_rank(void **state)
{
    (void)state;
    assert_true(cg_reason_rank(CG_REASON_REVOKED) > cg_reason_rank(CG_REASON_UNTRUSTED_ROOT));
    assert_true(cg_reason_rank(CG_REASON_INCOMPLETE_CHAIN) > cg_reason_rank(CG_REASON_EXPIRED));
    assert_true(cg_reason_rank(CG_REASON_EXPIRED) > cg_reason_rank(CG_REASON_OK));
    assert_int_equal(cg_reason_rank(CG_REASON_EXPIRED), cg_reason_rank(CG_REASON_NOT_YET_VALID));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slugs_round_trip),
        cmocka_unit_test(test_codes),
        cmocka_unit_test(test_headline_rank),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

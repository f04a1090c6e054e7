/* test_bufpool.c: the per-thread buffer cache keeps at most `max` buffers,
 * hands them back last-in first-out, and frees them on resize and fini. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/bufpool.h"

static void test_reuse_and_bound(void **state)
{
    struct cg_bufpool p;
    void *a, *b, *c, *d;

    (void)state;
    cg_bufpool_init(&p, 4096, 2);
    a = cg_bufpool_get(&p);
    b = cg_bufpool_get(&p);
    c = cg_bufpool_get(&p);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    memset(a, 1, 4096);   /* really p->size bytes (ASan checks) */
    cg_bufpool_put(&p, a);
    cg_bufpool_put(&p, b);
    cg_bufpool_put(&p, c);   /* over max: freed */
    cg_bufpool_put(&p, NULL);
    assert_int_equal(p.n, 2);
    d = cg_bufpool_get(&p);
    assert_ptr_equal(d, b);
    cg_bufpool_put(&p, d);
    cg_bufpool_resize(&p, 8192);
    assert_int_equal(p.n, 0);
    assert_int_equal(p.size, 8192);
    d = cg_bufpool_get(&p);
    memset(d, 2, 8192);
    cg_bufpool_put(&p, d);
    cg_bufpool_fini(&p);
    assert_int_equal(p.n, 0);
}

static void test_max_clamped(void **state)
{
    struct cg_bufpool p;

    (void)state;
    cg_bufpool_init(&p, 16, 1000);
    assert_int_equal(p.max, CG_BUFPOOL_MAX);
    cg_bufpool_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_and_bound),
        cmocka_unit_test(test_max_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

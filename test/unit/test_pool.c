/*
 * Unit tests for common/pool, common/array and common/str.
 */
#include <check.h>
#include <string.h>

#include "common/array.h"
#include "common/pool.h"
#include "common/str.h"

static int cleaned;

static void
cleanup(void *data)
{
    cleaned += *(int *) data;
}

START_TEST(pool_small_large_cleanup)
{
    pt_pool_t         *p = pt_pool_create(1024, NULL);
    pt_pool_cleanup_t *c;
    u_char            *a, *b;
    int                i;

    ck_assert_ptr_nonnull(p);
    for (i = 0; i < 1000; i++) {
        a = pt_palloc(p, 24);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq((uintptr_t) a % sizeof(void *), 0);
        memset(a, 0xaa, 24);
    }
    b = pt_palloc(p, 100000);
    ck_assert_ptr_nonnull(b);
    memset(b, 0, 100000);
    ck_assert_int_eq(pt_pfree(p, b), PT_OK);

    c = pt_pool_cleanup_add(p, sizeof(int));
    c->handler = cleanup;
    *(int *) c->data = 7;
    cleaned = 0;
    pt_pool_destroy(p);
    ck_assert_int_eq(cleaned, 7);
}
END_TEST

START_TEST(array_grows)
{
    pt_pool_t  *p = pt_pool_create(1024, NULL);
    pt_array_t *a = pt_array_create(p, 1, sizeof(int));
    int         i, *v;

    for (i = 0; i < 100; i++) {
        v = pt_array_push(a);
        *v = i;
    }
    ck_assert_uint_eq(a->nelts, 100);
    for (i = 0; i < 100; i++) {
        ck_assert_int_eq(((int *) a->elts)[i], i);
    }
    pt_pool_destroy(p);
}
END_TEST

START_TEST(str_parsers)
{
    pt_str_t s;

    pt_str_set(&s, "10k");
    ck_assert_int_eq(pt_parse_size(&s), 10240);
    pt_str_set(&s, "2m");
    ck_assert_int_eq(pt_parse_size(&s), 2 * 1024 * 1024);
    pt_str_set(&s, "12x");
    ck_assert_int_eq(pt_parse_size(&s), PT_ERROR);
    pt_str_set(&s, "99999999999999999999");
    ck_assert_int_eq(pt_parse_size(&s), PT_ERROR);
    pt_str_set(&s, "1h 30m");
    ck_assert_int_eq(pt_parse_time(&s, 1), 5400);
    pt_str_set(&s, "500ms");
    ck_assert_int_eq(pt_parse_time(&s, 0), 500);
    pt_str_set(&s, "75");
    ck_assert_int_eq(pt_parse_time(&s, 1), 75);
    ck_assert_int_eq(pt_parse_time(&s, 0), 75);
    pt_str_set(&s, "5q");
    ck_assert_int_eq(pt_parse_time(&s, 0), PT_ERROR);
    pt_str_set(&s, "");
    ck_assert_int_eq(pt_parse_time(&s, 0), PT_ERROR);
    pt_str_set(&s, "123");
    ck_assert_int_eq(pt_atoi(s.data, s.len), 123);
    pt_str_set(&s, "-1");
    ck_assert_int_eq(pt_atoi(s.data, s.len), PT_ERROR);
}
END_TEST

START_TEST(str_put_numbers)
{
    u_char buf[32], *p;

    p = pt_put_uint(buf, 0, 0);
    ck_assert_int_eq(p - buf, 1);
    ck_assert_int_eq(memcmp(buf, "0", 1), 0);
    p = pt_put_uint(buf, 7, 3);
    ck_assert_int_eq(memcmp(buf, "007", 3), 0);
    ck_assert_int_eq(p - buf, 3);
    p = pt_put_uint(buf, 1234, 3);
    ck_assert_int_eq(memcmp(buf, "1234", 4), 0);
    ck_assert_int_eq(p - buf, 4);
    p = pt_put_uint(buf, UINT64_MAX, 0);
    ck_assert_int_eq(p - buf, 20);
    ck_assert_int_eq(memcmp(buf, "18446744073709551615", 20), 0);
    p = pt_put_hex(buf, 0);
    ck_assert_int_eq(p - buf, 1);
    ck_assert_int_eq(buf[0], '0');
    p = pt_put_hex(buf, 0x1aF0);
    ck_assert_int_eq(p - buf, 4);
    ck_assert_int_eq(memcmp(buf, "1af0", 4), 0);
    p = pt_put_hex(buf, UINT64_MAX);
    ck_assert_int_eq(p - buf, 16);
    ck_assert_int_eq(memcmp(buf, "ffffffffffffffff", 16), 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, pool_small_large_cleanup);
    tcase_add_test(tc, array_grows);
    tcase_add_test(tc, str_parsers);
    tcase_add_test(tc, str_put_numbers);
    suite_add_tcase(s, tc);
    return s;
}

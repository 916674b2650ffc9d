/*
 * Unit tests for worker/http_upstream_hash (included to reach its statics):
 * a key always maps to one peer, keys spread by weight, a down peer's keys
 * move, and on the consistent ring removing one of 10 peers remaps about
 * a tenth of the keys, all of them keys that peer had.
 */
#include <check.h>
#include <stdlib.h>

#include "upstream_helpers.h"
#include "worker/http_upstream_hash.c"

static const char *plain_args[] = { "hash", "k", NULL };
static const char *ring_args[] = { "hash", "k", "consistent", NULL };

/* The peer (last octet) chosen for `key`. */
static int
pick(pt_http_upstream_srv_conf_t *us, const char *key)
{
    hash_conf_t *hcf = us->srv_conf[pt_http_upstream_hash_module.index];

    hcf->key->value.data = (u_char *) key;
    hcf->key->value.len = strlen(key);
    return ut_try(us, 0);
}

static pt_http_upstream_srv_conf_t *
hashed(const int *w, int n, const char **args)
{
    pt_http_upstream_srv_conf_t *us = ut_group(w, n, 0);

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_hash_module, args),
                     PT_OK);
    return us;
}

static const char *
key(int i)
{
    static char buf[32];

    snprintf(buf, sizeof(buf), "/item/%d", i);
    return buf;
}

START_TEST(plain_stable_and_weighted)
{
    static const int w[] = { 1, 2, 1 };
    pt_http_upstream_srv_conf_t *us = hashed(w, 3, plain_args);
    int              count[4] = { 0 }, i, p;

    for (i = 0; i < 4000; i++) {
        p = pick(us, key(i));
        ck_assert_int_eq(pick(us, key(i)), p);
        count[p]++;
    }
    /* weight 2 gets about half */
    ck_assert_int_gt(count[2], 1700);
    ck_assert_int_lt(count[2], 2300);
    ck_assert_int_gt(count[1], 800);
    ck_assert_int_gt(count[3], 800);
}
END_TEST

START_TEST(plain_down_moves_only_its_keys)
{
    static const int w[] = { 1, 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = hashed(w, 4, plain_args);
    int              before[1000], i, p;

    for (i = 0; i < 1000; i++) {
        before[i] = pick(us, key(i));
    }
    ut_down(us, 3);
    for (i = 0; i < 1000; i++) {
        p = pick(us, key(i));
        ck_assert_int_ne(p, 3);
        if (before[i] != 3) {
            ck_assert_int_eq(p, before[i]);
        }
    }
}
END_TEST

START_TEST(consistent_remove_one_of_ten)
{
    static const int w[] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    pt_http_upstream_srv_conf_t *all, *nine;
    pt_http_upstream_server_t   *s;
    static int       before[10000];
    int              i, p, moved = 0, gone = 7;

    all = hashed(w, 10, ring_args);
    for (i = 0; i < 10000; i++) {
        before[i] = pick(all, key(i));
    }
    /* the same servers without 127.0.0.7, as after a reload */
    nine = ut_group(w, 10, 0);
    s = nine->servers->elts;
    memmove(&s[gone - 1], &s[gone], (10 - gone) * sizeof(*s));
    nine->servers->nelts = 9;
    ck_assert_int_eq(ut_balancer(nine, &pt_http_upstream_hash_module,
                                 ring_args), PT_OK);
    for (i = 0; i < 10000; i++) {
        p = pick(nine, key(i));
        ck_assert_int_ne(p, gone);
        if (p != before[i]) {
            ck_assert_int_eq(before[i], gone);
            moved++;
        }
    }
    ck_assert_msg(moved >= 500 && moved <= 1500, "moved %d of 10000", moved);
}
END_TEST

START_TEST(consistent_down_moves_only_its_keys)
{
    static const int w[] = { 1, 1, 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = hashed(w, 5, ring_args);
    static int       before[5000];
    int              count[6] = { 0 }, i, p;

    for (i = 0; i < 5000; i++) {
        before[i] = pick(us, key(i));
        count[before[i]]++;
    }
    for (p = 1; p <= 5; p++) {
        ck_assert_int_gt(count[p], 500);
    }
    ut_down(us, 2);
    for (i = 0; i < 5000; i++) {
        p = pick(us, key(i));
        ck_assert_int_ne(p, 2);
        if (before[i] != 2) {
            ck_assert_int_eq(p, before[i]);
        }
    }
}
END_TEST

START_TEST(consistent_weight_points)
{
    static const int w[] = { 1, 3 };
    pt_http_upstream_srv_conf_t *us = hashed(w, 2, ring_args);
    hash_conf_t     *hcf = us->srv_conf[pt_http_upstream_hash_module.index];
    pt_uint_t        i;

    ck_assert_uint_eq(hcf->npoints, 4 * 160);
    for (i = 1; i < hcf->npoints; i++) {
        ck_assert_uint_le(hcf->points[i - 1].hash, hcf->points[i].hash);
    }
}
END_TEST

START_TEST(all_down_busy)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = hashed(w, 2, ring_args);

    ut_down(us, 1);
    ut_down(us, 2);
    ck_assert_int_eq(pick(us, "x"), 0);
}
END_TEST

START_TEST(bad_param)
{
    static const int   w[] = { 1 };
    static const char *bad[] = { "hash", "k", "foo", NULL };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 0);

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_hash_module, bad),
                     PT_ERROR);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_hash");
    TCase *tc = tcase_create("hash");

    tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
    tcase_add_test(tc, plain_stable_and_weighted);
    tcase_add_test(tc, plain_down_moves_only_its_keys);
    tcase_add_test(tc, consistent_remove_one_of_ten);
    tcase_add_test(tc, consistent_down_moves_only_its_keys);
    tcase_add_test(tc, consistent_weight_points);
    tcase_add_test(tc, all_down_busy);
    tcase_add_test(tc, bad_param);
    suite_add_tcase(s, tc);
    return s;
}

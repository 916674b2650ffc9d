/*
 * Unit tests for worker/http_upstream_health (included to reach its
 * statics): one claim per peer per interval (the zone's coordination, here
 * on process memory), a stale claim taken over, `fails` bad probes take a
 * peer out of every balancer's choice, `passes` good ones bring it back,
 * and a passive failure restarts the count of good probes.
 */
#include <check.h>

#include "upstream_helpers.h"
#include "worker/http_upstream_health.c"

static pt_http_upstream_health_check_t check;

static hc_peer_t *
watched(pt_http_upstream_srv_conf_t *us, int octet)
{
    hc_peer_t *hp = pt_pcalloc(ut_pool, sizeof(*hp));

    hp->check = &check;
    hp->peers = us->peer_data;
    hp->peer = &hp->peers->peer[octet - 1];
    hp->log = &ut_log;
    return hp;
}

static void
setup(void)
{
    ut_setup();
    memset(&check, 0, sizeof(check));
    check.interval = 1000;
    check.fails = 2;
    check.passes = 2;
    pt_current_msec = 50000;
}

START_TEST(one_claim_per_interval)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    hc_peer_t                   *a, *b;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    a = watched(us, 1);
    b = watched(us, 1);   /* the same peer seen by another worker */
    ck_assert(claim(a));
    ck_assert(!claim(b));
    verdict(a, 1);
    pt_current_msec += 999;
    ck_assert(!claim(b));
    pt_current_msec += 1;
    ck_assert(claim(b));
    ck_assert(!claim(a));
    /* b's worker vanished mid-probe: taken over an interval late */
    pt_current_msec += 1999;
    ck_assert(!claim(a));
    pt_current_msec += 1;
    ck_assert(claim(a));
}
END_TEST

START_TEST(fails_then_passes)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    hc_peer_t                   *hp;
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    hp = watched(us, 2);
    verdict(hp, 0);
    ck_assert(!hp->peer->st->hc_down);   /* fails=2 */
    verdict(hp, 0);
    ck_assert(hp->peer->st->hc_down);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(ut_try(us, 0), 1);
    }
    verdict(hp, 1);
    ck_assert(hp->peer->st->hc_down);    /* passes=2 */
    verdict(hp, 1);
    ck_assert(!hp->peer->st->hc_down);
    ut_fail_peer(us, 2, 0);
}
END_TEST

START_TEST(passive_failure_cleared_by_good_probes)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    hc_peer_t                   *hp;
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    hp = watched(us, 2);
    verdict(hp, 1);
    verdict(hp, 1);
    /* a request fails on it: out for fail_timeout ... */
    ut_fail_peer(us, 2, PT_PEER_FAILED);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(ut_try(us, 0), 1);
    }
    /* ... unless `passes` probes since say it is good */
    verdict(hp, 1);
    ck_assert_int_eq(ut_try(us, 0), 1);
    verdict(hp, 1);
    ut_fail_peer(us, 2, 0);
}
END_TEST

START_TEST(single_peer_down_is_busy)
{
    static const int w[] = { 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 0);
    hc_peer_t                   *hp;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    hp = watched(us, 1);
    verdict(hp, 0);
    verdict(hp, 0);
    ck_assert_int_eq(ut_try(us, 0), 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_health");
    TCase *tc = tcase_create("health");

    tcase_add_checked_fixture(tc, setup, ut_teardown);
    tcase_add_test(tc, one_claim_per_interval);
    tcase_add_test(tc, fails_then_passes);
    tcase_add_test(tc, passive_failure_cleared_by_good_probes);
    tcase_add_test(tc, single_peer_down_is_busy);
    suite_add_tcase(s, tc);
    return s;
}

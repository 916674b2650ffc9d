/*
 * Unit tests for the least_conn, ip_hash and random balancers, each set up
 * through its directive: choice by load, by client address and by weight,
 * and what happens when peers are down or the primaries are exhausted.
 */
#include <check.h>
#include <stdlib.h>

#include "upstream_helpers.h"

extern pt_module_t pt_http_upstream_least_conn_module;
extern pt_module_t pt_http_upstream_ip_hash_module;
extern pt_module_t pt_http_upstream_random_module;

static const char *lc_args[] = { "least_conn", NULL };
static const char *ip_args[] = { "ip_hash", NULL };
static const char *rnd_args[] = { "random", NULL };
static const char *two_args[] = { "random", "two", "least_conn", NULL };

/* Start a try and keep it open; returns the request. */
static pt_http_upstream_t *
hold(pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_t *u = ut_request(us)->upstream;

    ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
    return u;
}

static void
release(pt_http_upstream_t *u)
{
    u->peer.free(&u->peer, u->peer.data, 0);
}

/* ------------------------------------------------------------ least_conn */

START_TEST(lc_fewest_connections)
{
    static const int    w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0);
    pt_http_upstream_t *a, *b, *c;
    int                 i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_least_conn_module,
                                 lc_args), PT_OK);
    a = hold(us);
    b = hold(us);
    c = hold(us);
    /* one each */
    ck_assert_int_eq(ut_octet(a) + ut_octet(b) + ut_octet(c), 6);
    ck_assert_int_ne(ut_octet(a), ut_octet(b));
    release(b);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(ut_try(us, 0), ut_octet(b));
    }
    release(a);
    release(c);
}
END_TEST

START_TEST(lc_weighted)
{
    static const int    w[] = { 2, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    pt_http_upstream_t *h[3];
    int                 n1 = 0, i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_least_conn_module,
                                 lc_args), PT_OK);
    /* three held: the weight-2 peer takes two of them */
    for (i = 0; i < 3; i++) {
        h[i] = hold(us);
        n1 += ut_octet(h[i]) == 1;
    }
    ck_assert_int_eq(n1, 2);
    /* idle: ties go by weight, 2:1 over a cycle */
    for (i = 0; i < 3; i++) {
        release(h[i]);
    }
    for (n1 = 0, i = 0; i < 30; i++) {
        n1 += ut_try(us, 0) == 1;
    }
    ck_assert_int_eq(n1, 20);
}
END_TEST

START_TEST(lc_backup_and_down)
{
    static const int    w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0x4);
    int                 i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_least_conn_module,
                                 lc_args), PT_OK);
    for (i = 0; i < 6; i++) {
        ck_assert_int_ne(ut_try(us, 0), 3);
    }
    ut_down(us, 1);
    ck_assert_int_eq(ut_try(us, 0), 2);
    ut_fail_peer(us, 2, PT_PEER_FAILED);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(ut_try(us, 0), 3);
    }
}
END_TEST

START_TEST(lc_max_conns_busy)
{
    static const int    w[] = { 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 0);
    pt_http_upstream_server_t   *s = us->servers->elts;
    pt_http_upstream_t          *a;

    s[0].max_conns = 1;
    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_least_conn_module,
                                 lc_args), PT_OK);
    a = hold(us);
    ck_assert_int_eq(ut_try(us, 0), 0);
    release(a);
    ck_assert_int_eq(ut_try(us, 0), 1);
}
END_TEST

/* ------------------------------------------------------------ ip_hash */

START_TEST(ip_hash_same_24_same_peer)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0);
    int              first, i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_ip_hash_module,
                                 ip_args), PT_OK);
    ut_client_v4(0x0a010200);
    first = ut_try(us, 0);
    for (i = 1; i < 256; i++) {
        ut_client_v4(0x0a010200 + i);
        ck_assert_int_eq(ut_try(us, 0), first);
    }
}
END_TEST

START_TEST(ip_hash_spread_and_down)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0);
    int              count[4] = { 0 }, before[600], i, p;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_ip_hash_module,
                                 ip_args), PT_OK);
    for (i = 0; i < 600; i++) {
        ut_client_v4(0x0a000000 + ((uint32_t) i << 8));
        before[i] = ut_try(us, 0);
        count[before[i]]++;
    }
    for (p = 1; p <= 3; p++) {
        ck_assert_int_gt(count[p], 100);
    }
    /* peer 2 down: its clients move, the others stay */
    ut_down(us, 2);
    for (i = 0; i < 600; i++) {
        ut_client_v4(0x0a000000 + ((uint32_t) i << 8));
        p = ut_try(us, 0);
        ck_assert_int_ne(p, 2);
        if (before[i] != 2) {
            ck_assert_int_eq(p, before[i]);
        }
    }
}
END_TEST

START_TEST(ip_hash_ipv6_whole_address)
{
    static const int         w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0);
    struct sockaddr_in6     *sin6 = (struct sockaddr_in6 *) &ut_client;
    int                      seen = 0, i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_ip_hash_module,
                                 ip_args), PT_OK);
    memset(&ut_client, 0, sizeof(ut_client));
    sin6->sin6_family = AF_INET6;
    sin6->sin6_addr.s6_addr[0] = 0x20;
    for (i = 0; i < 64; i++) {
        sin6->sin6_addr.s6_addr[15] = (uint8_t) i;
        seen |= 1 << ut_try(us, 0);
    }
    /* the last byte alone spreads clients over every peer */
    ck_assert_int_eq(seen, 0xe);
}
END_TEST

START_TEST(ip_hash_all_down_falls_back)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_ip_hash_module,
                                 ip_args), PT_OK);
    ut_down(us, 1);
    ut_down(us, 2);
    ck_assert_int_eq(ut_try(us, 0), 0);
}
END_TEST

START_TEST(ip_hash_rejects_backup)
{
    static const int w[] = { 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 0);

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_ip_hash_module,
                                 ip_args), PT_OK);
    ck_assert(!(us->flags & PT_HTTP_UPSTREAM_BACKUP));
    ck_assert(us->flags & PT_HTTP_UPSTREAM_MAX_CONNS);
}
END_TEST

/* ------------------------------------------------------------ random */

START_TEST(random_weighted_distribution)
{
    static const int w[] = { 1, 3 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    int              n1 = 0, i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_random_module,
                                 rnd_args), PT_OK);
    srandom(12345);
    for (i = 0; i < 30000; i++) {
        n1 += ut_try(us, 0) == 1;
    }
    /* expected 7500, sd 75: 4 sd either side */
    ck_assert_int_gt(n1, 7200);
    ck_assert_int_lt(n1, 7800);
}
END_TEST

START_TEST(random_skips_down)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0);
    int              seen = 0, i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_random_module,
                                 rnd_args), PT_OK);
    ut_down(us, 3);
    for (i = 0; i < 200; i++) {
        seen |= 1 << ut_try(us, 0);
    }
    ck_assert_int_eq(seen, 0x6);
    ut_down(us, 1);
    ut_down(us, 2);
    ck_assert_int_eq(ut_try(us, 0), 0);
}
END_TEST

START_TEST(random_two_least_conn)
{
    static const int    w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    pt_http_upstream_t *a;
    int                 i;

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_random_module,
                                 two_args), PT_OK);
    a = hold(us);
    /* two draws of two peers: the idle one always wins */
    for (i = 0; i < 50; i++) {
        ck_assert_int_eq(ut_try(us, 0), 3 - ut_octet(a));
    }
    release(a);
}
END_TEST

START_TEST(random_bad_params)
{
    static const int w[] = { 1 };
    static const char *bad[] = { "random", "two", "foo", NULL };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 0);

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_random_module, bad),
                     PT_ERROR);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_balancers");
    TCase *tc = tcase_create("balancers");

    tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
    tcase_add_test(tc, lc_fewest_connections);
    tcase_add_test(tc, lc_weighted);
    tcase_add_test(tc, lc_backup_and_down);
    tcase_add_test(tc, lc_max_conns_busy);
    tcase_add_test(tc, ip_hash_same_24_same_peer);
    tcase_add_test(tc, ip_hash_spread_and_down);
    tcase_add_test(tc, ip_hash_ipv6_whole_address);
    tcase_add_test(tc, ip_hash_all_down_falls_back);
    tcase_add_test(tc, ip_hash_rejects_backup);
    tcase_add_test(tc, random_weighted_distribution);
    tcase_add_test(tc, random_skips_down);
    tcase_add_test(tc, random_two_least_conn);
    tcase_add_test(tc, random_bad_params);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Unit tests for worker/http_upstream_rr: the exact smooth weighted
 * sequence, backup peers only when every primary is out, max_fails within
 * fail_timeout with a driven clock and the probe after it, max_conns, and
 * one-request groups. Groups are built from server lists, no config text.
 */
#include "upstream_helpers.h"

START_TEST(smooth_sequence)
{
    static const int w[] = { 5, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0);
    char seq[15];
    int  i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    for (i = 0; i < 14; i++) {
        seq[i] = (char) ('a' - 1 + ut_try(us, 0));
    }
    seq[14] = '\0';
    ck_assert_str_eq(seq, "aabacaaaabacaa");
}
END_TEST

START_TEST(equal_weights_alternate)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0);
    char seq[7];
    int  i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    for (i = 0; i < 6; i++) {
        seq[i] = (char) ('a' - 1 + ut_try(us, 0));
    }
    seq[6] = '\0';
    ck_assert_str_eq(seq, "abcabc");
}
END_TEST

START_TEST(tries_and_next)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0x4);
    pt_http_request_t  *r;
    pt_http_upstream_t *u;
    int                 seen = 0, i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    r = ut_request(us);
    u = r->upstream;
    ck_assert_uint_eq(u->peer.tries, 3);
    /* within one request every peer is tried once: primaries, then backup */
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
        seen |= 1 << (ntohl(((struct sockaddr_in *) u->peer.sockaddr)
                                ->sin_addr.s_addr) & 0xff);
        if (i < 2) {
            ck_assert_int_ne(seen & (1 << 3), 1 << 3);
        }
        u->peer.free(&u->peer, u->peer.data, PT_PEER_FAILED | PT_PEER_NEXT);
    }
    ck_assert_int_eq(seen, 0xe);
    ck_assert_uint_eq(u->peer.tries, 0);
    ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_BUSY);
    ck_assert_int_eq(u->peer.name->len, 1);
}
END_TEST

START_TEST(backup_only_when_primaries_out)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 3, 0x4);
    pt_http_upstream_rr_peers_t *peers;
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    peers = us->peer_data;
    ck_assert_uint_eq(peers->number, 2);
    ck_assert_uint_eq(peers->next->number, 1);
    for (i = 0; i < 10; i++) {
        ck_assert_int_ne(ut_try(us, 0), 3);
    }
    /* one primary down: the other takes everything */
    peers->peer[0].down = 1;
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(ut_try(us, 0), 2);
    }
    /* the other fails (max_fails=1): only the backup remains */
    ck_assert_int_eq(ut_try(us, PT_PEER_FAILED), 2);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(ut_try(us, 0), 3);
    }
}
END_TEST

START_TEST(max_fails_fail_timeout)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    pt_http_upstream_rr_peers_t *peers;
    pt_http_upstream_server_t   *s;
    int                          i, a;

    s = us->servers->elts;
    s[0].max_fails = 2;
    s[0].fail_timeout = 30;
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    peers = us->peer_data;

    /* first failure: still in rotation */
    ck_assert_int_eq(ut_try(us, 0), 1);
    ck_assert_int_eq(ut_try(us, 0), 2);
    pt_time_sec += 1;
    ut_fail_peer(us, 1, PT_PEER_FAILED);
    ck_assert_uint_eq(peers->peer[0].st->fails, 1);
    for (a = 0, i = 0; i < 6; i++) {
        a += ut_try(us, 0) == 1;
    }
    ck_assert_int_gt(a, 0);
    /* a success before fail_timeout since the failure does not clear */
    ck_assert_uint_eq(peers->peer[0].st->fails, 1);
    /* second failure: out for fail_timeout */
    ut_fail_peer(us, 1, PT_PEER_FAILED);
    ck_assert_uint_eq(peers->peer[0].st->fails, 2);
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(ut_try(us, 0), 2);
    }
    pt_time_sec += 30;
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(ut_try(us, 0), 2);
    }
    /* after fail_timeout: one probe, then the others wait for it */
    pt_time_sec += 1;
    {
        pt_http_request_t  *r = NULL;
        pt_http_upstream_t *u = NULL;

        for (i = 0; i < 4; i++) {
            r = ut_request(us);
            u = r->upstream;
            ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
            if (u->peer.sockaddr == peers->peer[0].sockaddr) {
                break;
            }
            u->peer.free(&u->peer, u->peer.data, 0);
        }
        ck_assert_int_lt(i, 4);
        for (i = 0; i < 5; i++) {
            ck_assert_int_eq(ut_try(us, 0), 2);
        }
        /* the probe succeeds: fails reset, back in rotation */
        u->peer.free(&u->peer, u->peer.data, 0);
    }
    ck_assert_uint_eq(peers->peer[0].st->fails, 0);
    for (a = 0, i = 0; i < 10; i++) {
        a += ut_try(us, 0) == 1;
    }
    ck_assert_int_ge(a, 4);
}
END_TEST

START_TEST(failed_probe_keeps_out)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    ck_assert_int_eq(ut_try(us, PT_PEER_FAILED), 1);
    pt_time_sec += 11;
    /* the probe fails: out for another fail_timeout */
    ut_fail_peer(us, 1, PT_PEER_FAILED);
    pt_time_sec += 5;
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(ut_try(us, 0), 2);
    }
}
END_TEST

START_TEST(max_conns)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 2, 0);
    pt_http_upstream_server_t   *s = us->servers->elts;
    pt_http_request_t           *r[4];
    pt_http_upstream_t          *u;
    int                          i, n1 = 0;

    s[0].max_conns = 1;
    s[1].max_conns = 2;
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    for (i = 0; i < 3; i++) {
        r[i] = ut_request(us);
        u = r[i]->upstream;
        ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
        n1 += u->peer.sockaddr
              == ((pt_http_upstream_rr_peers_t *) us->peer_data)
                     ->peer[0].sockaddr;
    }
    ck_assert_int_eq(n1, 1);
    r[3] = ut_request(us);
    u = r[3]->upstream;
    ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_BUSY);
    /* one ends: its slot is free again */
    u = r[0]->upstream;
    u->peer.free(&u->peer, u->peer.data, 0);
    u = r[3]->upstream;
    ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
}
END_TEST

START_TEST(single_peer_never_failed)
{
    static const int w[] = { 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 0);
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(ut_try(us, PT_PEER_FAILED), 1);
    }
}
END_TEST

START_TEST(no_primary_is_error)
{
    static const int w[] = { 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 1);

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_ERROR);
}
END_TEST

START_TEST(run_time_peer)
{
    pt_http_request_t  *r = pt_pcalloc(ut_pool, sizeof(*r));
    pt_http_upstream_t *u = pt_pcalloc(ut_pool, sizeof(*u));
    pt_addr_t           a[2];
    pt_str_t            host = { 4, (u_char *) "host" };
    struct sockaddr_in *sin;
    int                 i;

    memset(a, 0, sizeof(a));
    for (i = 0; i < 2; i++) {
        sin = (struct sockaddr_in *) &a[i].sockaddr;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(0x7f000001 + i);
        a[i].socklen = sizeof(*sin);
    }
    r->pool = ut_pool;
    r->upstream = u;
    ck_assert_int_eq(pt_http_upstream_create_round_robin_peer(r, a, 2, &host,
                                                              8081), PT_OK);
    ck_assert_uint_eq(u->peer.tries, 2);
    ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
    ck_assert_int_eq(u->peer.name->len, 14);
    ck_assert_int_eq(memcmp(u->peer.name->data, "127.0.0.1:8081", 14), 0);
    u->peer.free(&u->peer, u->peer.data, PT_PEER_FAILED | PT_PEER_NEXT);
    ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
    ck_assert_int_eq(ntohs(((struct sockaddr_in *) u->peer.sockaddr)->sin_port),
                     8081);
    ck_assert_uint_eq(ntohl(((struct sockaddr_in *) u->peer.sockaddr)
                                ->sin_addr.s_addr), 0x7f000002);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_rr");
    TCase *tc = tcase_create("rr");

    tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
    tcase_add_test(tc, smooth_sequence);
    tcase_add_test(tc, equal_weights_alternate);
    tcase_add_test(tc, tries_and_next);
    tcase_add_test(tc, backup_only_when_primaries_out);
    tcase_add_test(tc, max_fails_fail_timeout);
    tcase_add_test(tc, failed_probe_keeps_out);
    tcase_add_test(tc, max_conns);
    tcase_add_test(tc, single_peer_never_failed);
    tcase_add_test(tc, no_primary_is_error);
    tcase_add_test(tc, run_time_peer);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Unit tests for worker/http_upstream_rr: the exact smooth weighted
 * sequence, backup peers only when every primary is out, max_fails within
 * fail_timeout with a driven clock and the probe after it, max_conns, and
 * one-request groups. Groups are built from server lists, no config text.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "worker/http_upstream.h"
#include "worker/http_upstream_rr.h"

static pt_log_t   log_;
static pt_pool_t *pool;
static pt_conf_t  cf;

static void
setup(void)
{
    log_.fd = -1;
    log_.level = PT_LOG_EMERG;
    pt_log_use_stderr = 0;
    pool = pt_pool_create(4096, &log_);
    memset(&cf, 0, sizeof(cf));
    cf.pool = pool;
    cf.log = &log_;
    /* the log reads the clock once when its cached time is empty: do it
     * now so the driven clock below stays as set */
    pt_time_update();
    pt_time_sec = 1000;
}

static void
teardown(void)
{
    pt_pool_destroy(pool);
}

/* A group of servers 127.0.0.<i+1>:80 with the given weights; `backup`
 * marks server i as backup when bit i is set. */
static pt_http_upstream_srv_conf_t *
group(const int *weights, int n, unsigned backup)
{
    pt_http_upstream_srv_conf_t *us = pt_pcalloc(pool, sizeof(*us));
    pt_http_upstream_server_t   *s;
    struct sockaddr_in          *sin;
    char                         name[32];
    int                          i;

    us->host.data = (u_char *) "g";
    us->host.len = 1;
    us->file = "t.conf";
    us->line = 1;
    us->servers = pt_array_create(pool, 4, sizeof(*s));
    for (i = 0; i < n; i++) {
        s = pt_array_push(us->servers);
        memset(s, 0, sizeof(*s));
        snprintf(name, sizeof(name), "127.0.0.%d", i + 1);
        pt_str_from_cstr(pool, &s->name, name);
        s->addrs = pt_pcalloc(pool, sizeof(pt_addr_t));
        sin = (struct sockaddr_in *) &s->addrs->sockaddr;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(80);
        sin->sin_addr.s_addr = htonl(0x7f000001 + i);
        s->addrs->socklen = sizeof(*sin);
        s->naddrs = 1;
        s->weight = weights[i];
        s->max_fails = 1;
        s->fail_timeout = 10;
        s->backup = (backup >> i) & 1;
    }
    return us;
}

static pt_http_request_t *
request(pt_http_upstream_srv_conf_t *us)
{
    pt_http_request_t  *r = pt_pcalloc(pool, sizeof(*r));
    pt_http_upstream_t *u = pt_pcalloc(pool, sizeof(*u));

    r->pool = pool;
    r->upstream = u;
    u->request = r;
    u->upstream = us;
    ck_assert_int_eq(us->init_peer(r, us), PT_OK);
    return r;
}

/* One whole try: choose, then free with `state`; returns the last octet of
 * the chosen address, or 0 when get said busy. */
static int
try_once(pt_http_upstream_srv_conf_t *us, pt_uint_t state)
{
    pt_http_request_t  *r = request(us);
    pt_http_upstream_t *u = r->upstream;
    int                 rc, octet;

    rc = u->peer.get(&u->peer, u->peer.data);
    if (rc == PT_BUSY) {
        return 0;
    }
    ck_assert_int_eq(rc, PT_OK);
    octet = ntohl(((struct sockaddr_in *) u->peer.sockaddr)->sin_addr.s_addr)
            & 0xff;
    u->peer.free(&u->peer, u->peer.data, state);
    return octet;
}

/* Try until peer `want` is chosen (bounded), ending that try with `state`
 * and the others well. */
static void
fail_peer(pt_http_upstream_srv_conf_t *us, int want, pt_uint_t state)
{
    pt_http_request_t  *r;
    pt_http_upstream_t *u;
    int                 i, octet;

    for (i = 0; i < 20; i++) {
        r = request(us);
        u = r->upstream;
        ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
        octet = ntohl(((struct sockaddr_in *) u->peer.sockaddr)
                          ->sin_addr.s_addr) & 0xff;
        u->peer.free(&u->peer, u->peer.data, octet == want ? state : 0);
        if (octet == want) {
            return;
        }
    }
    ck_abort_msg("peer %d never chosen", want);
}

START_TEST(smooth_sequence)
{
    static const int w[] = { 5, 1, 1 };
    pt_http_upstream_srv_conf_t *us = group(w, 3, 0);
    char seq[15];
    int  i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    for (i = 0; i < 14; i++) {
        seq[i] = (char) ('a' - 1 + try_once(us, 0));
    }
    seq[14] = '\0';
    ck_assert_str_eq(seq, "aabacaaaabacaa");
}
END_TEST

START_TEST(equal_weights_alternate)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = group(w, 3, 0);
    char seq[7];
    int  i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    for (i = 0; i < 6; i++) {
        seq[i] = (char) ('a' - 1 + try_once(us, 0));
    }
    seq[6] = '\0';
    ck_assert_str_eq(seq, "abcabc");
}
END_TEST

START_TEST(tries_and_next)
{
    static const int w[] = { 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = group(w, 3, 0x4);
    pt_http_request_t  *r;
    pt_http_upstream_t *u;
    int                 seen = 0, i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    r = request(us);
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
    pt_http_upstream_srv_conf_t *us = group(w, 3, 0x4);
    pt_http_upstream_rr_peers_t *peers;
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    peers = us->peer_data;
    ck_assert_uint_eq(peers->number, 2);
    ck_assert_uint_eq(peers->next->number, 1);
    for (i = 0; i < 10; i++) {
        ck_assert_int_ne(try_once(us, 0), 3);
    }
    /* one primary down: the other takes everything */
    peers->peer[0].down = 1;
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(try_once(us, 0), 2);
    }
    /* the other fails (max_fails=1): only the backup remains */
    ck_assert_int_eq(try_once(us, PT_PEER_FAILED), 2);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(try_once(us, 0), 3);
    }
}
END_TEST

START_TEST(max_fails_fail_timeout)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = group(w, 2, 0);
    pt_http_upstream_rr_peers_t *peers;
    pt_http_upstream_server_t   *s;
    int                          i, a;

    s = us->servers->elts;
    s[0].max_fails = 2;
    s[0].fail_timeout = 30;
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    peers = us->peer_data;

    /* first failure: still in rotation */
    ck_assert_int_eq(try_once(us, 0), 1);
    ck_assert_int_eq(try_once(us, 0), 2);
    pt_time_sec += 1;
    fail_peer(us, 1, PT_PEER_FAILED);
    ck_assert_uint_eq(peers->peer[0].st->fails, 1);
    for (a = 0, i = 0; i < 6; i++) {
        a += try_once(us, 0) == 1;
    }
    ck_assert_int_gt(a, 0);
    /* a success before fail_timeout since the failure does not clear */
    ck_assert_uint_eq(peers->peer[0].st->fails, 1);
    /* second failure: out for fail_timeout */
    fail_peer(us, 1, PT_PEER_FAILED);
    ck_assert_uint_eq(peers->peer[0].st->fails, 2);
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(try_once(us, 0), 2);
    }
    pt_time_sec += 30;
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(try_once(us, 0), 2);
    }
    /* after fail_timeout: one probe, then the others wait for it */
    pt_time_sec += 1;
    {
        pt_http_request_t  *r = NULL;
        pt_http_upstream_t *u = NULL;

        for (i = 0; i < 4; i++) {
            r = request(us);
            u = r->upstream;
            ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
            if (u->peer.sockaddr == peers->peer[0].sockaddr) {
                break;
            }
            u->peer.free(&u->peer, u->peer.data, 0);
        }
        ck_assert_int_lt(i, 4);
        for (i = 0; i < 5; i++) {
            ck_assert_int_eq(try_once(us, 0), 2);
        }
        /* the probe succeeds: fails reset, back in rotation */
        u->peer.free(&u->peer, u->peer.data, 0);
    }
    ck_assert_uint_eq(peers->peer[0].st->fails, 0);
    for (a = 0, i = 0; i < 10; i++) {
        a += try_once(us, 0) == 1;
    }
    ck_assert_int_ge(a, 4);
}
END_TEST

START_TEST(failed_probe_keeps_out)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = group(w, 2, 0);
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    ck_assert_int_eq(try_once(us, PT_PEER_FAILED), 1);
    pt_time_sec += 11;
    /* the probe fails: out for another fail_timeout */
    fail_peer(us, 1, PT_PEER_FAILED);
    pt_time_sec += 5;
    for (i = 0; i < 10; i++) {
        ck_assert_int_eq(try_once(us, 0), 2);
    }
}
END_TEST

START_TEST(max_conns)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = group(w, 2, 0);
    pt_http_upstream_server_t   *s = us->servers->elts;
    pt_http_request_t           *r[4];
    pt_http_upstream_t          *u;
    int                          i, n1 = 0;

    s[0].max_conns = 1;
    s[1].max_conns = 2;
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    for (i = 0; i < 3; i++) {
        r[i] = request(us);
        u = r[i]->upstream;
        ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
        n1 += u->peer.sockaddr
              == ((pt_http_upstream_rr_peers_t *) us->peer_data)
                     ->peer[0].sockaddr;
    }
    ck_assert_int_eq(n1, 1);
    r[3] = request(us);
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
    pt_http_upstream_srv_conf_t *us = group(w, 1, 0);
    int                          i;

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_OK);
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(try_once(us, PT_PEER_FAILED), 1);
    }
}
END_TEST

START_TEST(no_primary_is_error)
{
    static const int w[] = { 1 };
    pt_http_upstream_srv_conf_t *us = group(w, 1, 1);

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&cf, us), PT_ERROR);
}
END_TEST

START_TEST(run_time_peer)
{
    pt_http_request_t  *r = pt_pcalloc(pool, sizeof(*r));
    pt_http_upstream_t *u = pt_pcalloc(pool, sizeof(*u));
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
    r->pool = pool;
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

    tcase_add_checked_fixture(tc, setup, teardown);
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

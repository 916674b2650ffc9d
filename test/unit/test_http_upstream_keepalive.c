/*
 * Unit tests for worker/http_upstream_keepalive (included to reach its
 * statics): a kept connection is handed to the next request for the same
 * peer, most recently used first; at most N per worker (the oldest goes);
 * a connection the origin closed is dropped (by its read handler, or found
 * dead at get); failures, responses that may not be kept,
 * keepalive_requests and keepalive_time end it; slot shortage and graceful
 * stop close idle ones. Connections are socketpairs in the real table.
 */
#include <check.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream_helpers.h"
#include "worker/http_connection.h"
#include "worker/http_upstream_keepalive.c"

static void
setup(void)
{
    ut_setup();
    pt_timer_init();
    ck_assert_int_eq(pt_event_init(&ut_log, 16), PT_OK);
    ck_assert_int_eq(pt_conn_table_init(8, &ut_log), PT_OK);
    pt_worker_exiting = 0;
}

static void
teardown(void)
{
    pt_conn_table_done();
    pt_event_done();
    ut_teardown();
}

static pt_http_upstream_srv_conf_t *
kept(int npeers, const char *n)
{
    static const int w[] = { 1, 1, 1, 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, npeers, 0);
    const char *args[] = { "keepalive", n, NULL };

    ck_assert_int_eq(ut_balancer(us, &pt_http_upstream_keepalive_module,
                                 args), PT_OK);
    return us;
}

static keepalive_conf_t *
kconf(pt_http_upstream_srv_conf_t *us)
{
    return us->srv_conf[pt_http_upstream_keepalive_module.index];
}

/* A request's try: get; a fresh connection (a socketpair, the origin's
 * end in *origin) when none was cached. */
static pt_http_upstream_t *
start(pt_http_upstream_srv_conf_t *us, int *origin, int *rc)
{
    pt_http_upstream_t *u = ut_request(us)->upstream;
    int                 sv[2];

    u->peer.start_time = pt_current_msec;
    *rc = u->peer.get(&u->peer, u->peer.data);
    if (*rc == PT_OK) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
                                    sv), 0);
        u->peer.connection = pt_conn_get(sv[0], &ut_log);
        ck_assert_ptr_nonnull(u->peer.connection);
        if (origin != NULL) {
            *origin = sv[1];
        }
    }
    return u;
}

static void
finish(pt_http_upstream_t *u, int keep, pt_uint_t state)
{
    u->keepalive = keep;
    u->peer.free(&u->peer, u->peer.data, state);
    if (u->peer.connection != NULL) {
        pt_conn_close(u->peer.connection);
        u->peer.connection = NULL;
    }
}

/* A request whose connection goes back to the cache, kept: that
 * connection (the origin's end in *origin when not NULL). */
static pt_connection_t *
leave_idle(pt_http_upstream_srv_conf_t *us, int *origin)
{
    pt_http_upstream_t *u;
    pt_connection_t    *c;
    int                 rc;

    u = start(us, origin, &rc);
    c = u->peer.connection;
    finish(u, 1, 0);
    return c;
}

START_TEST(reused_for_same_peer)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "4");
    pt_http_upstream_t          *u;
    pt_connection_t             *c;
    int                          rc, origin;

    u = start(us, &origin, &rc);
    ck_assert_int_eq(rc, PT_OK);
    c = u->peer.connection;
    finish(u, 1, 0);
    ck_assert_ptr_null(u->peer.connection);
    ck_assert(c->reusable);
    ck_assert_int_ne(c->fd, -1);

    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_DONE);
    ck_assert_ptr_eq(u->peer.connection, c);
    ck_assert(u->peer.cached);
    ck_assert(!c->reusable);
    ck_assert(!c->read->timer_set);
    finish(u, 0, 0);   /* not keepable: the caller closes it */
    ck_assert_int_eq(c->fd, -1);
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_OK);
    finish(u, 0, 0);
    close(origin);
}
END_TEST

START_TEST(matches_peer_address)
{
    pt_http_upstream_srv_conf_t *us = kept(2, "4");
    pt_http_upstream_t          *u;
    pt_connection_t             *c[2];
    int                          rc, i, p[2];

    for (i = 0; i < 2; i++) {
        u = start(us, NULL, &rc);
        ck_assert_int_eq(rc, PT_OK);
        c[i] = u->peer.connection;
        p[i] = ut_octet(u);
        finish(u, 1, 0);
    }
    ck_assert_int_ne(p[0], p[1]);
    /* round robin alternates: each request gets its peer's connection */
    for (i = 0; i < 4; i++) {
        u = start(us, NULL, &rc);
        ck_assert_int_eq(rc, PT_DONE);
        ck_assert_ptr_eq(u->peer.connection, c[ut_octet(u) == p[0] ? 0 : 1]);
        finish(u, 1, 0);
    }
}
END_TEST

START_TEST(most_recent_first_and_bounded)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_http_upstream_t          *u[3];
    pt_connection_t             *c[3];
    int                          rc, i;

    for (i = 0; i < 3; i++) {
        u[i] = start(us, NULL, &rc);
        ck_assert_int_eq(rc, PT_OK);
        c[i] = u[i]->peer.connection;
    }
    for (i = 0; i < 3; i++) {
        finish(u[i], 1, 0);
    }
    /* three kept into two slots: the first (least recent) stays open
     * until the end of this loop step (a request read in it may still
     * take it), then it is closed */
    ck_assert_int_ne(c[0]->fd, -1);
    pt_event_process_posted();
    ck_assert_int_eq(c[0]->fd, -1);
    u[0] = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_DONE);
    ck_assert_ptr_eq(u[0]->peer.connection, c[2]);
    u[1] = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_DONE);
    ck_assert_ptr_eq(u[1]->peer.connection, c[1]);
    finish(u[0], 0, 0);
    finish(u[1], 0, 0);
}
END_TEST

START_TEST(over_n_reused_within_the_step)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_http_upstream_t          *u[3];
    pt_connection_t             *c[3];
    int                          rc, i;

    for (i = 0; i < 3; i++) {
        u[i] = start(us, NULL, &rc);
        c[i] = u[i]->peer.connection;
    }
    for (i = 0; i < 3; i++) {
        finish(u[i], 1, 0);
    }
    /* requests of the same step take all three, most recent first; the
     * trim then finds nothing over N and closes nothing */
    for (i = 0; i < 3; i++) {
        u[i] = start(us, NULL, &rc);
        ck_assert_int_eq(rc, PT_DONE);
        ck_assert_ptr_eq(u[i]->peer.connection, c[2 - i]);
    }
    pt_event_process_posted();
    for (i = 0; i < 3; i++) {
        ck_assert_int_ne(c[i]->fd, -1);
    }
    for (i = 0; i < 3; i++) {
        finish(u[i], 0, 0);
    }
}
END_TEST

START_TEST(origin_close_seen_by_handler)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_http_upstream_t          *u;
    pt_connection_t             *c;
    int                          rc, origin;

    c = leave_idle(us, &origin);
    /* a spurious wake-up keeps it */
    c->read->handler(c->read);
    ck_assert_int_ne(c->fd, -1);
    close(origin);
    c->read->handler(c->read);
    ck_assert_int_eq(c->fd, -1);
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_OK);
    finish(u, 0, 0);
}
END_TEST

START_TEST(stray_bytes_close)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_connection_t             *c;
    int                          origin;

    c = leave_idle(us, &origin);
    ck_assert_int_eq(write(origin, "x", 1), 1);
    c->read->handler(c->read);
    ck_assert_int_eq(c->fd, -1);
    close(origin);
}
END_TEST

START_TEST(dead_found_at_get)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_http_upstream_t          *u;
    pt_connection_t             *c;
    int                          rc;

    c = leave_idle(us, NULL);
    c->read->eof = 1;   /* the loop saw RDHUP, the handler did not run */
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_OK);
    ck_assert(u->peer.down);
    finish(u, 0, 0);
}
END_TEST

START_TEST(not_kept)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_http_upstream_t          *u;
    pt_connection_t             *c;
    int                          rc;

    /* failed try */
    u = start(us, NULL, &rc);
    c = u->peer.connection;
    u->keepalive = 1;
    u->peer.free(&u->peer, u->peer.data, PT_PEER_FAILED);
    ck_assert_ptr_eq(u->peer.connection, c);
    pt_conn_close(c);
    /* the core says no */
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_OK);
    c = u->peer.connection;
    u->keepalive = 0;
    u->peer.free(&u->peer, u->peer.data, 0);
    ck_assert_ptr_eq(u->peer.connection, c);
    pt_conn_close(c);
    /* shutting down */
    pt_worker_exiting = 1;
    u = start(us, NULL, &rc);
    c = u->peer.connection;
    u->keepalive = 1;
    u->peer.free(&u->peer, u->peer.data, 0);
    ck_assert_ptr_eq(u->peer.connection, c);
    pt_conn_close(c);
}
END_TEST

START_TEST(keepalive_requests_limit)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_http_upstream_t          *u;
    pt_connection_t             *c;
    int                          rc;

    kconf(us)->requests = 3;
    u = start(us, NULL, &rc);
    c = u->peer.connection;
    finish(u, 1, 0);                  /* 1 */
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_DONE);
    finish(u, 1, 0);                  /* 2 */
    ck_assert_int_ne(c->fd, -1);
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_DONE);
    finish(u, 1, 0);                  /* 3: the last */
    ck_assert_int_eq(c->fd, -1);
}
END_TEST

START_TEST(keepalive_time_limit)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_http_upstream_t          *u;
    pt_connection_t             *c;
    int                          rc;

    kconf(us)->time = 1000;
    c = leave_idle(us, NULL);
    pt_current_msec += 1001;
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_DONE);
    finish(u, 1, 0);
    ck_assert_int_eq(c->fd, -1);
}
END_TEST

START_TEST(drained_when_slots_run_out)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "8");
    pt_http_upstream_t          *u;
    pt_connection_t             *c;
    int                          rc;

    c = leave_idle(us, NULL);
    ck_assert_uint_eq(pt_conn_drain_idle(1), 1);
    ck_assert_int_eq(c->fd, -1);
    u = start(us, NULL, &rc);
    ck_assert_int_eq(rc, PT_OK);
    finish(u, 0, 0);
}
END_TEST

START_TEST(idle_timeout)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_connection_t             *c;

    kconf(us)->timeout = 500;
    c = leave_idle(us, NULL);
    ck_assert(c->read->timer_set);
    pt_current_msec += 501;
    pt_timer_expire();
    ck_assert_int_eq(c->fd, -1);
}
END_TEST

START_TEST(closed_on_graceful_stop)
{
    pt_http_upstream_srv_conf_t *us = kept(1, "2");
    pt_connection_t             *c;

    c = leave_idle(us, NULL);
    pt_worker_exiting = 1;
    pt_http_shutdown();
    pt_event_process_posted();
    ck_assert_int_eq(c->fd, -1);
    ck_assert_uint_eq(pt_conn_free_n(), pt_conn_total_n());
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_keepalive");
    TCase *tc = tcase_create("keepalive");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reused_for_same_peer);
    tcase_add_test(tc, matches_peer_address);
    tcase_add_test(tc, most_recent_first_and_bounded);
    tcase_add_test(tc, over_n_reused_within_the_step);
    tcase_add_test(tc, origin_close_seen_by_handler);
    tcase_add_test(tc, stray_bytes_close);
    tcase_add_test(tc, dead_found_at_get);
    tcase_add_test(tc, not_kept);
    tcase_add_test(tc, keepalive_requests_limit);
    tcase_add_test(tc, keepalive_time_limit);
    tcase_add_test(tc, drained_when_slots_run_out);
    tcase_add_test(tc, idle_timeout);
    tcase_add_test(tc, closed_on_graceful_stop);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Unit tests for worker/event, worker/conn and worker/accept on real
 * sockets: socketpairs for edge-triggered I/O, a loopback listener for
 * accept, table exhaustion and idle draining. Every wait is bounded.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/array.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "worker/accept.h"
#include "worker/conn.h"
#include "worker/event.h"
#include "worker/timer.h"

static pt_log_t tlog = { .fd = 2, .level = PT_LOG_WARN };

static void reset_counters(void);

static void
setup(void)
{
    reset_counters();
    pt_log_use_stderr = 0;
    pt_time_update();
    pt_timer_init();
    ck_assert_int_eq(pt_event_init(&tlog, 64), PT_OK);
    ck_assert_int_eq(pt_conn_table_init(8, &tlog), PT_OK);
}

static void
teardown(void)
{
    pt_accept_disable();
    pt_event_done();
    pt_conn_table_done();
}

/* Run loop steps until *counter reaches `target` or `ms` pass. */
static void
run_until(int *counter, int target, pt_msec_t ms)
{
    pt_msec_t end = pt_current_msec + ms;

    while (*counter < target && pt_current_msec < end) {
        ck_assert_int_eq(pt_event_process(20), PT_OK);
    }
}

/* Run loop steps for about `ms`. */
static void
run_for(pt_msec_t ms)
{
    pt_msec_t end = pt_current_msec + ms;

    while (pt_current_msec < end) {
        ck_assert_int_eq(pt_event_process(end - pt_current_msec), PT_OK);
    }
}

/* ---- edge-triggered reads on a socketpair ---- */

static int reads, read_ready, read_eof;

static void
on_read(pt_event_t *ev)
{
    reads++;
    read_ready = ev->ready;
    read_eof = ev->eof;
}

START_TEST(event_edge_triggered_read)
{
    pt_connection_t *c;
    int              sv[2];
    u_char           buf[64];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    c = pt_conn_get(sv[0], &tlog);
    ck_assert_ptr_nonnull(c);
    c->read->handler = on_read;
    ck_assert_int_eq(pt_event_add_conn(c), PT_OK);
    ck_assert(c->read->active && c->write->active);

    run_for(30);
    ck_assert_int_eq(reads, 0);

    ck_assert_int_eq(write(sv[1], "hello", 5), 5);
    run_until(&reads, 1, 1000);
    ck_assert_int_eq(reads, 1);
    ck_assert_int_eq(read_ready, 1);
    ck_assert_int_eq(read_eof, 0);

    /* Not read: edge-triggered, so no second report. */
    run_for(60);
    ck_assert_int_eq(reads, 1);

    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), 5);
    ck_assert_int_eq(c->read->ready, 0);     /* short read drained it */
    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), PT_AGAIN);

    ck_assert_int_eq(write(sv[1], "again", 5), 5);
    run_until(&reads, 2, 1000);
    ck_assert_int_eq(reads, 2);
    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), 5);

    /* Data then close: eof reported, the bytes still readable. */
    ck_assert_int_eq(write(sv[1], "bye", 3), 3);
    close(sv[1]);
    run_until(&reads, 3, 1000);
    ck_assert_int_eq(reads, 3);
    ck_assert_int_eq(read_eof, 1);
    ck_assert_int_eq(c->recv(c, buf, 2), 2);
    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), 1);
    ck_assert_int_eq(c->read->ready, 1);     /* eof: keep reading to 0 */
    ck_assert_int_eq(c->recv(c, buf, sizeof(buf)), 0);
    ck_assert(c->read->eof);

    ck_assert_uint_eq(pt_conn_free_n(), 7);
    pt_conn_close(c);
    ck_assert_uint_eq(pt_conn_free_n(), 8);
    ck_assert_int_eq(c->fd, -1);
}
END_TEST

START_TEST(conn_send_and_writev)
{
    pt_connection_t *c;
    struct iovec     iov[2];
    int              sv[2];
    char             buf[16];

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    c = pt_conn_get(sv[0], &tlog);
    c->write->ready = 1;
    ck_assert_int_eq(c->send(c, (const u_char *) "ab", 2), 2);
    iov[0].iov_base = "cd";
    iov[0].iov_len = 2;
    iov[1].iov_base = "efg";
    iov[1].iov_len = 3;
    ck_assert_int_eq(c->writev(c, iov, 2), 5);
    ck_assert_int_eq(c->sent, 7);
    ck_assert_int_eq(c->write->ready, 1);
    ck_assert_int_eq(read(sv[1], buf, sizeof(buf)), 7);
    ck_assert_int_eq(memcmp(buf, "abcdefg", 7), 0);

    close(sv[1]);
    ck_assert_int_eq(c->send(c, (const u_char *) "x", 1), PT_ERROR);
    ck_assert(c->write->error);
    pt_conn_close(c);
}
END_TEST

/* ---- stale reports within one epoll batch ---- */

static pt_connection_t *pair_conn[2];
static int              pair_fd[2][2];
static int              stale_runs, first_runs;

static void
must_not_run(pt_event_t *ev)
{
    (void) ev;
    stale_runs++;
}

/* Whichever runs first closes the other and takes its slot for a new
 * socket, whose handler the other's queued report must not reach. */
static void
close_other(pt_event_t *ev)
{
    pt_connection_t *c = ev->data, *other, *fresh;
    int              sv[2];

    first_runs++;
    other = (c == pair_conn[0]) ? pair_conn[1] : pair_conn[0];
    pt_conn_close(other);

    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    ck_assert_int_eq(write(sv[1], "z", 1), 1);
    fresh = pt_conn_get(sv[0], &tlog);
    ck_assert_ptr_eq(fresh, other);          /* LIFO: the same slot */
    fresh->read->handler = must_not_run;
    fresh->write->handler = must_not_run;
    ck_assert_int_eq(pt_event_add_conn(fresh), PT_OK);
}

START_TEST(event_stale_report_ignored)
{
    int i;

    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
                                    pair_fd[i]), 0);
        pair_conn[i] = pt_conn_get(pair_fd[i][0], &tlog);
        pair_conn[i]->read->handler = close_other;
        ck_assert_int_eq(pt_event_add_conn(pair_conn[i]), PT_OK);
        ck_assert_int_eq(write(pair_fd[i][1], "x", 1), 1);
    }

    /* Both are ready now, so one wait reports both. */
    ck_assert_int_eq(pt_event_process(1000), PT_OK);
    ck_assert_int_eq(first_runs, 1);
    ck_assert_int_eq(stale_runs, 0);

    /* The fresh connection's own reports do arrive on the next step. */
    run_until(&stale_runs, 1, 1000);
    ck_assert_int_ge(stale_runs, 1);
    ck_assert_int_eq(first_runs, 1);
}
END_TEST

/* ---- timers and posted events through the loop ---- */

static int timer_fired;

static void
on_timer(pt_event_t *ev)
{
    ck_assert(ev->timedout);
    timer_fired++;
}

START_TEST(event_timer_without_io)
{
    pt_event_t ev;
    pt_msec_t  start;
    int        steps = 0;

    memset(&ev, 0, sizeof(ev));
    ev.handler = on_timer;
    ev.log = &tlog;

    start = pt_current_msec;
    pt_timer_add(&ev, 30);
    while (!timer_fired && steps < 50) {
        ck_assert_int_eq(pt_event_process(pt_timer_find()), PT_OK);
        steps++;
    }
    ck_assert_int_eq(timer_fired, 1);
    ck_assert_int_ge(pt_current_msec - start, 30);
    ck_assert_int_le(steps, 3);   /* epoll_wait slept, no busy loop */
    ck_assert_int_eq(pt_timer_find(), -1);
}
END_TEST

static int posted_runs;

static void
on_posted(pt_event_t *ev)
{
    posted_runs++;
    if (posted_runs == 1) {
        pt_event_post(ev);   /* runs on the next step, not this one */
    }
}

START_TEST(event_posted_queue)
{
    pt_event_t ev, gone;

    memset(&ev, 0, sizeof(ev));
    memset(&gone, 0, sizeof(gone));
    ev.handler = on_posted;
    gone.handler = must_not_run;

    pt_event_post(&ev);
    pt_event_post(&ev);              /* once only */
    pt_event_post(&gone);
    pt_event_delete_posted(&gone);
    ck_assert(!gone.posted);

    /* Posted work makes the wait non-blocking despite -1. */
    ck_assert_int_eq(pt_event_process(-1), PT_OK);
    ck_assert_int_eq(posted_runs, 1);
    ck_assert(ev.posted);
    ck_assert_int_eq(pt_event_process(-1), PT_OK);
    ck_assert_int_eq(posted_runs, 2);
    ck_assert(!ev.posted);
    ck_assert(pt_event_posted_empty());
    ck_assert_int_eq(stale_runs, 0);
}
END_TEST

/* ---- accept ---- */

static pt_cycle_t        cycle;
static pt_connection_t  *accepted[16];
static int               naccepted;
static int               idle_closed;

static void
on_accept(pt_connection_t *c)
{
    accepted[naccepted++] = c;
}

/* A keep-alive connection: closes itself when drained. */
static void
idle_read(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;

    if (c->close) {
        idle_closed++;
        pt_conn_close(c);
    }
}

static pt_listening_t *
make_listener(void)
{
    pt_listening_t     *ls;
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd, one = 1;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);

    cycle.pool = pt_pool_create(4096, &tlog);
    cycle.log = &tlog;
    ck_assert_int_eq(pt_array_init(&cycle.listening, cycle.pool, 1,
                                   sizeof(pt_listening_t)), PT_OK);
    ls = pt_array_push(&cycle.listening);
    memset(ls, 0, sizeof(*ls));
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &ls->sockaddr,
                                 &len), 0);
    ls->socklen = len;
    pt_str_set(&ls->addr_text, "127.0.0.1");
    ls->fd = fd;
    ls->worker = -1;
    ls->handler = on_accept;
    return ls;
}

static int
client(pt_listening_t *ls)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *) &ls->sockaddr,
                             ls->socklen), 0);
    return fd;
}

static void
accept_n(int multi)
{
    pt_listening_t *ls = make_listener();
    int             i;

    pt_accept_multi = multi;
    ck_assert_int_eq(pt_accept_enable(&cycle, 0), PT_OK);
    for (i = 0; i < 5; i++) {
        client(ls);
    }
    run_until(&naccepted, 5, 2000);
    ck_assert_int_eq(naccepted, 5);
    ck_assert_uint_eq(pt_conn_free_n(), 3);

    for (i = 0; i < 5; i++) {
        ck_assert_ptr_eq(accepted[i]->listening, ls);
        ck_assert_ptr_nonnull(accepted[i]->pool);
        ck_assert(accepted[i]->read->active);
        ck_assert_int_eq(accepted[i]->addr_text.len, 9);
        ck_assert_int_eq(memcmp(accepted[i]->addr_text.data, "127.0.0.1",
                                9), 0);
        ck_assert_uint_eq(accepted[i]->socklen, sizeof(struct sockaddr_in));
    }
    ck_assert(accepted[0]->number != accepted[1]->number);
}

START_TEST(accept_multi_on)
{
    accept_n(1);
}
END_TEST

START_TEST(accept_multi_off)
{
    accept_n(0);
}
END_TEST

START_TEST(accept_table_exhausted_pauses)
{
    pt_listening_t *ls;
    char            c;
    int             fds[3], i;

    ck_assert_int_eq(pt_conn_table_init(2, &tlog), PT_OK);
    ls = make_listener();
    pt_accept_multi = 1;
    ck_assert_int_eq(pt_accept_enable(&cycle, 0), PT_OK);

    for (i = 0; i < 3; i++) {
        fds[i] = client(ls);
    }
    run_until(&naccepted, 2, 2000);
    ck_assert_int_eq(naccepted, 2);

    /* The third waits in the backlog: not accepted, not reset. */
    run_for(250);
    ck_assert_int_eq(naccepted, 2);
    ck_assert(pt_accept_paused());
    ck_assert_uint_eq(pt_conn_free_n(), 0);

    pt_conn_close(accepted[0]);
    run_until(&naccepted, 3, 2000);
    ck_assert_int_eq(naccepted, 3);
    ck_assert(!pt_accept_paused());

    /* The third client's connection is alive and served. */
    ck_assert_int_eq(write(fds[2], "q", 1), 1);
    ck_assert_int_eq(recv(accepted[2]->fd, &c, 1, MSG_WAITALL), 1);
    ck_assert_int_eq(c, 'q');
    /* The first was closed by us: its client sees EOF. */
    ck_assert_int_eq(read(fds[0], &c, 1), 0);
}
END_TEST

START_TEST(accept_drains_idle_first)
{
    pt_listening_t *ls;
    char            c;
    int             fds[3], i;

    ck_assert_int_eq(pt_conn_table_init(2, &tlog), PT_OK);
    ls = make_listener();
    pt_accept_multi = 1;
    ck_assert_int_eq(pt_accept_enable(&cycle, 0), PT_OK);

    for (i = 0; i < 2; i++) {
        fds[i] = client(ls);
    }
    run_until(&naccepted, 2, 2000);
    ck_assert_int_eq(naccepted, 2);

    /* The first goes idle (keep-alive), the second stays busy. */
    accepted[0]->read->handler = idle_read;
    pt_conn_reusable(accepted[0], 1);
    ck_assert_uint_eq(pt_conn_idle_n(), 1);

    fds[2] = client(ls);
    run_until(&naccepted, 3, 2000);
    ck_assert_int_eq(naccepted, 3);
    ck_assert_int_eq(idle_closed, 1);
    ck_assert_uint_eq(pt_conn_idle_n(), 0);
    ck_assert(!pt_accept_paused());
    ck_assert_int_eq(read(fds[0], &c, 1), 0);   /* idle one was closed */
}
END_TEST

START_TEST(conn_drain_idle_oldest_first)
{
    pt_connection_t *c[3];
    int              i, sv[2];

    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        c[i] = pt_conn_get(sv[0], &tlog);
        c[i]->read->handler = idle_read;
        pt_conn_reusable(c[i], 1);
    }
    pt_conn_reusable(c[0], 0);
    pt_conn_reusable(c[0], 1);   /* c[0] is now the most recent */

    ck_assert_uint_eq(pt_conn_drain_idle(1), 1);
    ck_assert_int_eq(c[1]->fd, -1);
    ck_assert_int_ne(c[2]->fd, -1);
    ck_assert_uint_eq(pt_conn_drain_idle(100), 2);
    ck_assert_int_eq(idle_closed, 3);
    ck_assert_uint_eq(pt_conn_free_n(), 8);
}
END_TEST

START_TEST(accept_disable_and_close)
{
    pt_listening_t *ls = make_listener();

    ck_assert_int_eq(pt_accept_enable(&cycle, 0), PT_OK);
    client(ls);
    run_until(&naccepted, 1, 2000);
    ck_assert_int_eq(naccepted, 1);

    pt_accept_disable();
    client(ls);
    run_for(100);
    ck_assert_int_eq(naccepted, 1);

    /* A listener for another reuseport slot is not ours to poll. */
    ls->worker = 3;
    ck_assert_int_eq(pt_accept_enable(&cycle, 0), PT_OK);
    run_for(100);
    ck_assert_int_eq(naccepted, 1);
    ls->worker = 0;
    ck_assert_int_eq(pt_accept_enable(&cycle, 0), PT_OK);
    run_until(&naccepted, 2, 2000);
    ck_assert_int_eq(naccepted, 2);

    pt_accept_close_listeners(&cycle);
    ck_assert_int_eq(ls->fd, -1);
    ck_assert_int_eq(pt_timer_empty_except_cancelable(), 1);
}
END_TEST

/* Tests also pass with CK_FORK=no (valgrind runs): start from zero. */
static void
reset_counters(void)
{
    reads = read_ready = read_eof = 0;
    stale_runs = first_runs = 0;
    timer_fired = posted_runs = 0;
    naccepted = idle_closed = 0;
    pt_accept_multi = 0;
}

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, event_edge_triggered_read);
    tcase_add_test(tc, conn_send_and_writev);
    tcase_add_test(tc, event_stale_report_ignored);
    tcase_add_test(tc, event_timer_without_io);
    tcase_add_test(tc, event_posted_queue);
    tcase_add_test(tc, accept_multi_on);
    tcase_add_test(tc, accept_multi_off);
    tcase_add_test(tc, accept_table_exhausted_pauses);
    tcase_add_test(tc, accept_drains_idle_first);
    tcase_add_test(tc, conn_drain_idle_oldest_first);
    tcase_add_test(tc, accept_disable_and_close);
    suite_add_tcase(s, tc);
    return s;
}

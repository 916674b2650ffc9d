/*
 * Unit tests for worker/timer, with the cached clock driven by hand.
 */
#include <check.h>

#include "common/time.h"
#include "worker/event.h"
#include "worker/timer.h"

static pt_event_t *fired[16];
static int         nfired;

static void
record(pt_event_t *ev)
{
    ck_assert(ev->timedout);
    ck_assert(!ev->timer_set);
    fired[nfired++] = ev;
}

static void
setup(void)
{
    pt_timer_init();
    pt_current_msec = 1000000;
    nfired = 0;
}

START_TEST(timer_find_and_expire_order)
{
    pt_event_t a = { 0 }, b = { 0 }, c = { 0 };

    a.handler = b.handler = c.handler = record;
    ck_assert_int_eq(pt_timer_find(), -1);

    pt_timer_add(&a, 300);
    pt_timer_add(&b, 100);
    pt_timer_add(&c, 200);
    ck_assert(a.timer_set && b.timer_set && c.timer_set);
    ck_assert_int_eq(pt_timer_find(), 100);

    pt_current_msec += 50;
    ck_assert_int_eq(pt_timer_find(), 50);
    pt_timer_expire();
    ck_assert_int_eq(nfired, 0);

    pt_current_msec += 200;     /* b and c due, a not */
    ck_assert_int_eq(pt_timer_find(), 0);
    pt_timer_expire();
    ck_assert_int_eq(nfired, 2);
    ck_assert_ptr_eq(fired[0], &b);
    ck_assert_ptr_eq(fired[1], &c);
    ck_assert(!a.timedout);
    ck_assert(a.timer_set);
    ck_assert_int_eq(pt_timer_find(), 50);

    pt_current_msec += 50;      /* exactly due */
    pt_timer_expire();
    ck_assert_int_eq(nfired, 3);
    ck_assert_ptr_eq(fired[2], &a);
    ck_assert_int_eq(pt_timer_find(), -1);
}
END_TEST

START_TEST(timer_del_and_readd)
{
    pt_event_t a = { 0 }, b = { 0 };

    a.handler = b.handler = record;

    pt_timer_add(&a, 100);
    pt_timer_add(&b, 200);
    pt_timer_del(&a);
    ck_assert(!a.timer_set);
    pt_timer_del(&a);           /* not armed: no-op */
    ck_assert_int_eq(pt_timer_find(), 200);

    /* Re-adding moves it, in both directions. */
    pt_timer_add(&b, 50);
    ck_assert_int_eq(pt_timer_find(), 50);
    pt_timer_add(&b, 500);
    ck_assert_int_eq(pt_timer_find(), 500);

    /* Within the lazy delay: left where it was. */
    pt_current_msec += 2;
    pt_timer_add(&b, 500);
    ck_assert_int_eq(pt_timer_find(), 498);

    pt_current_msec += 497;
    pt_timer_expire();
    ck_assert_int_eq(nfired, 0);
    pt_current_msec += 1;
    pt_timer_expire();
    ck_assert_int_eq(nfired, 1);
    ck_assert_ptr_eq(fired[0], &b);
}
END_TEST

static pt_event_t chain_b;

/* A handler that re-arms itself once and arms another due timer. */
static void
rearm(pt_event_t *ev)
{
    record(ev);
    if (nfired == 1) {
        ev->timedout = 0;
        pt_timer_add(ev, 10);
        chain_b.handler = record;
        pt_timer_add(&chain_b, 0);   /* due now: fires in this expire */
    }
}

START_TEST(timer_handler_adds_timers)
{
    pt_event_t a = { 0 };

    a.handler = rearm;
    pt_timer_add(&a, 10);
    pt_current_msec += 10;
    pt_timer_expire();
    ck_assert_int_eq(nfired, 2);
    ck_assert_ptr_eq(fired[1], &chain_b);
    ck_assert(a.timer_set);
    ck_assert_int_eq(pt_timer_find(), 10);
}
END_TEST

START_TEST(timer_cancelable)
{
    pt_event_t a = { 0 }, b = { 0 }, c = { 0 };

    a.handler = b.handler = c.handler = record;
    ck_assert(pt_timer_empty_except_cancelable());

    a.cancelable = 1;
    c.cancelable = 1;
    pt_timer_add(&a, 100);
    pt_timer_add(&c, 300);
    ck_assert(pt_timer_empty_except_cancelable());

    pt_timer_add(&b, 200);
    ck_assert(!pt_timer_empty_except_cancelable());

    pt_timer_del(&b);
    ck_assert(pt_timer_empty_except_cancelable());

    pt_timer_add(&b, 50);
    pt_current_msec += 60;
    pt_timer_expire();
    ck_assert_ptr_eq(fired[0], &b);
    ck_assert(pt_timer_empty_except_cancelable());
}
END_TEST

START_TEST(timer_many)
{
    static pt_event_t ev[1000];
    pt_msec_t         start = pt_current_msec;
    int               i, idx, total = 0;

    /* Distinct deadlines (919 is prime to 1000): one expiry per tick. */
    for (i = 0; i < 1000; i++) {
        ev[i].handler = record;
        pt_timer_add(&ev[i], (i * 919) % 1000 + 10);
    }
    for (i = 0; i < 1000; i += 2) {
        pt_timer_del(&ev[i]);
    }
    for (i = 0; i < 1100; i++) {
        pt_current_msec++;
        nfired = 0;
        pt_timer_expire();
        ck_assert_int_le(nfired, 1);
        if (nfired == 1) {
            idx = (int) (fired[0] - ev);
            ck_assert_int_eq(pt_current_msec - start, (idx * 919) % 1000 + 10);
            total++;
        }
    }
    ck_assert_int_eq(total, 500);
    for (i = 0; i < 1000; i++) {
        ck_assert_int_eq(ev[i].timedout, i % 2);
    }
    ck_assert_int_eq(pt_timer_find(), -1);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("timer");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, timer_find_and_expire_order);
    tcase_add_test(tc, timer_del_and_readd);
    tcase_add_test(tc, timer_handler_adds_timers);
    tcase_add_test(tc, timer_cancelable);
    tcase_add_test(tc, timer_many);
    suite_add_tcase(s, tc);
    return s;
}

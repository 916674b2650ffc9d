/*
 * The epoll backend and the loop step. Connections are registered once,
 * edge-triggered for both directions; listeners level-triggered. The epoll
 * data word names a connection slot plus its generation, or a listener's
 * event pointer, so reports for a slot reused within a batch are dropped.
 */
#include <errno.h>
#include <signal.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "pt_auto.h"
#include "timer.h"

/* Listener words have the top bit set above the event pointer (user-space
 * pointers stay below 2^63); connection words are slot << 32 | gen. */
#define LISTEN_TAG ((uint64_t) 1 << 63)

static int                 ep = -1;
static struct epoll_event *event_list;   /* malloc: freed by pt_event_done */
static int                 nevents;
static pt_log_t           *event_log;
static pt_queue_t          posted = { &posted, &posted };
static const sigset_t     *wait_sigmask;     /* NULL: no change */

int
pt_event_init(pt_log_t *log, int n)
{
    pt_event_done();

    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "epoll_create1() failed");
        return PT_ERROR;
    }

    event_list = malloc(sizeof(struct epoll_event) * (size_t) n);
    if (event_list == NULL) {
        pt_log_error(PT_LOG_EMERG, log, errno, "malloc() of %d events failed",
                     n);
        pt_event_done();
        return PT_ERROR;
    }

    nevents = n;
    event_log = log;
    pt_queue_init(&posted);
    return PT_OK;
}

void
pt_event_done(void)
{
    if (ep != -1 && close(ep) == -1) {
        pt_log_error(PT_LOG_ALERT, event_log, errno, "epoll close() failed");
    }
    ep = -1;
    free(event_list);
    event_list = NULL;
    nevents = 0;
}

int
pt_event_add_conn(pt_connection_t *c)
{
    struct epoll_event ee;

    ee.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ee.data.u64 = (uint64_t) (c - pt_conn_slots) << 32 | c->gen;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ee) == -1) {
        pt_log_error(PT_LOG_ALERT, c->log, errno,
                     "epoll_ctl(ADD, %d) failed", c->fd);
        return PT_ERROR;
    }

    c->read->active = 1;
    c->write->active = 1;
    return PT_OK;
}

int
pt_event_del_conn(pt_connection_t *c, int closing)
{
    struct epoll_event ee;
    int                rc = PT_OK;

    if (!closing && (c->read->active || c->write->active)) {
        memset(&ee, 0, sizeof(ee));   /* pre-2.6.9 kernels wanted one */
        if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, &ee) == -1) {
            pt_log_error(PT_LOG_ALERT, c->log, errno,
                         "epoll_ctl(DEL, %d) failed", c->fd);
            rc = PT_ERROR;
        }
    }

    c->read->active = 0;
    c->write->active = 0;
    return rc;
}

int
pt_event_add_listen(pt_listening_t *ls, pt_event_t *ev)
{
    struct epoll_event ee;

    ee.events = EPOLLIN;
#if (PT_HAVE_EPOLLEXCLUSIVE)
    /* One worker woken per connection instead of all of them. */
    if (ls->worker == -1) {
        ee.events |= EPOLLEXCLUSIVE;
    }
#endif
    ee.data.u64 = (uint64_t) (uintptr_t) ev | LISTEN_TAG;

    if (epoll_ctl(ep, EPOLL_CTL_ADD, ls->fd, &ee) == -1) {
        pt_log_error(PT_LOG_ALERT, ev->log, errno,
                     "epoll_ctl(ADD, %d) for %.*s failed", ls->fd,
                     (int) ls->addr_text.len, ls->addr_text.data);
        return PT_ERROR;
    }

    ev->active = 1;
    return PT_OK;
}

int
pt_event_del_listen(pt_listening_t *ls, pt_event_t *ev)
{
    struct epoll_event ee;

    if (!ev->active) {
        return PT_OK;
    }
    ev->active = 0;

    memset(&ee, 0, sizeof(ee));
    if (epoll_ctl(ep, EPOLL_CTL_DEL, ls->fd, &ee) == -1) {
        pt_log_error(PT_LOG_ALERT, ev->log, errno,
                     "epoll_ctl(DEL, %d) for %.*s failed", ls->fd,
                     (int) ls->addr_text.len, ls->addr_text.data);
        return PT_ERROR;
    }
    return PT_OK;
}

/* The connection a report names, or NULL if its slot was closed or
 * reused since the report was queued. */
static pt_connection_t *
report_conn(uint64_t word)
{
    pt_connection_t *c;
    uint64_t         slot = word >> 32;

    if (slot >= pt_conn_slots_n) {
        return NULL;
    }
    c = &pt_conn_slots[slot];
    if (c->fd == -1 || c->gen != (uint32_t) word) {
        return NULL;
    }
    return c;
}

static void
dispatch(struct epoll_event *ee)
{
    pt_connection_t *c;
    pt_event_t      *ev;
    uint32_t         revents = ee->events;

    if (ee->data.u64 & LISTEN_TAG) {
        ev = (pt_event_t *) (uintptr_t) (ee->data.u64 & ~LISTEN_TAG);
        if (ev->active) {   /* not disabled earlier in this batch */
            ev->ready = 1;
            ev->handler(ev);
        }
        return;
    }

    c = report_conn(ee->data.u64);
    if (c == NULL) {
        return;
    }

    /* Errors and hang-ups go to both sides: the next syscall reports
     * what happened. */
    if (revents & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        ev = c->read;
        if (ev->active) {
            ev->ready = 1;
            if (revents & (EPOLLRDHUP | EPOLLHUP)) {
                ev->eof = 1;
            }
            if (revents & EPOLLERR) {
                ev->error = 1;
            }
            ev->handler(ev);

            if (report_conn(ee->data.u64) == NULL) {
                return;   /* the read handler closed it */
            }
        }
    }

    if (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR)) {
        ev = c->write;
        if (ev->active) {
            ev->ready = 1;
            if (revents & EPOLLERR) {
                ev->error = 1;
            }
            ev->handler(ev);
        }
    }
}

/* A report for an outgoing (upstream) connection? */
static int
is_upstream(const struct epoll_event *ee)
{
    pt_connection_t *c;

    if (ee->data.u64 & LISTEN_TAG) {
        return 0;
    }
    c = report_conn(ee->data.u64);
    return c != NULL && c->listening == NULL;
}

void
pt_event_set_wait_sigmask(const sigset_t *mask)
{
    wait_sigmask = mask;
}

int
pt_event_process(pt_msec_t timer_ms)
{
    int timeout, n, i, err;

    if (!pt_queue_empty(&posted)) {
        timeout = 0;
    } else if (timer_ms < 0) {
        timeout = -1;
    } else {
        timeout = timer_ms > INT_MAX ? INT_MAX : (int) timer_ms;
    }

    /* signals blocked elsewhere are let in only while waiting, so one that
     * arrives while handlers run cuts the next wait short instead of
     * being noticed at some later event */
    n = epoll_pwait(ep, event_list, nevents, timeout, wait_sigmask);
    err = (n == -1) ? errno : 0;

    pt_time_update();

    if (err) {
        if (err == EINTR) {
            return PT_OK;
        }
        pt_log_error(PT_LOG_ALERT, event_log, err, "epoll_wait() failed");
        return PT_ERROR;
    }

    /* Upstream connections first: a response read hands its connection
     * back to the keep-alive pool before the requests read in this same
     * step look for one, so they reuse it instead of connecting. */
    for (i = 0; i < n; i++) {
        if (is_upstream(&event_list[i])) {
            dispatch(&event_list[i]);
            event_list[i].events = 0;
        }
    }
    for (i = 0; i < n; i++) {
        if (event_list[i].events != 0) {
            dispatch(&event_list[i]);
        }
    }

    pt_event_process_posted();
    pt_timer_expire();
    return PT_OK;
}

void
pt_event_post(pt_event_t *ev)
{
    if (ev->posted) {
        return;
    }
    ev->posted = 1;
    pt_queue_insert_tail(&posted, &ev->queue);
}

void
pt_event_delete_posted(pt_event_t *ev)
{
    if (!ev->posted) {
        return;
    }
    ev->posted = 0;
    pt_queue_remove(&ev->queue);
}

void
pt_event_process_posted(void)
{
    pt_queue_t  batch, *q;
    pt_event_t *ev;

    /* Take the current queue: an event that re-posts itself waits for the
     * next step (whose wait is then non-blocking) instead of starving I/O. */
    pt_queue_init(&batch);
    pt_queue_splice_tail(&batch, &posted);

    while (!pt_queue_empty(&batch)) {
        q = pt_queue_head(&batch);
        ev = pt_queue_data(q, pt_event_t, queue);
        pt_queue_remove(q);
        ev->posted = 0;
        ev->handler(ev);
    }
}

int
pt_event_posted_empty(void)
{
    return pt_queue_empty(&posted);
}

void
pt_event_empty_handler(pt_event_t *ev)
{
    (void) ev;
}

/*
 * The connection table of one worker: slots and their events allocated at
 * start, a LIFO free list, the idle keep-alive list (oldest at the tail),
 * and plain socket I/O that reports readiness back into the events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/counters.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "timer.h"

pt_connection_t        *pt_conn_slots;
pt_uint_t               pt_conn_slots_n;

static pt_event_t      *read_events;
static pt_event_t      *write_events;
static pt_connection_t *free_list;      /* linked through c->data */
static pt_uint_t        free_n;
static pt_queue_t       idle_queue = { &idle_queue, &idle_queue };
static pt_uint_t        idle_n;
static time_t           last_shortage_alert = -1;

static void init_event(pt_event_t *ev, pt_connection_t *c, pt_log_t *log);

int
pt_conn_table_init(pt_uint_t n, pt_log_t *log)
{
    pt_uint_t i;

    pt_conn_table_done();

    /* Process lifetime: freed by pt_conn_table_done (tests, worker exit). */
    pt_conn_slots = calloc(n, sizeof(pt_connection_t));
    read_events = calloc(n, sizeof(pt_event_t));
    write_events = calloc(n, sizeof(pt_event_t));
    if (pt_conn_slots == NULL || read_events == NULL || write_events == NULL) {
        pt_log_error(PT_LOG_EMERG, log, errno,
                     "calloc() of %lu connections failed", (unsigned long) n);
        pt_conn_table_done();
        return PT_ERROR;
    }

    /* Every slot and its events are set up now, as nginx does: the table
     * is resident from the start and a new connection costs only its
     * pool, not fresh pages of the table. */
    free_list = NULL;
    for (i = n; i-- > 0;) {
        init_event(&read_events[i], &pt_conn_slots[i], log);
        init_event(&write_events[i], &pt_conn_slots[i], log);
        write_events[i].write = 1;
        pt_conn_slots[i].read = &read_events[i];
        pt_conn_slots[i].write = &write_events[i];
        pt_conn_slots[i].fd = -1;
        pt_conn_slots[i].data = free_list;
        pt_queue_init(&pt_conn_slots[i].queue);
        free_list = &pt_conn_slots[i];
    }
    pt_conn_slots_n = n;
    free_n = n;
    pt_queue_init(&idle_queue);
    idle_n = 0;
    return PT_OK;
}

void
pt_conn_table_done(void)
{
    pt_uint_t i;

    /* connections still open are closed: their pools go with them */
    for (i = 0; i < pt_conn_slots_n; i++) {
        if (pt_conn_slots[i].fd != -1) {
            pt_conn_close(&pt_conn_slots[i]);
        }
    }
    free(pt_conn_slots);
    free(read_events);
    free(write_events);
    pt_conn_slots = NULL;
    read_events = NULL;
    write_events = NULL;
    pt_conn_slots_n = 0;
    free_list = NULL;
    free_n = 0;
    pt_queue_init(&idle_queue);
    idle_n = 0;
}

static void
init_event(pt_event_t *ev, pt_connection_t *c, pt_log_t *log)
{
    memset(ev, 0, sizeof(pt_event_t));
    ev->data = c;
    ev->handler = pt_event_empty_handler;
    ev->log = log;
    pt_queue_init(&ev->queue);
}

static time_t last_shortage_warn;

int
pt_conn_reserve(pt_log_t *log)
{
    if (free_list == NULL && idle_n > 0) {
        /* Keep-alive clients can reconnect; new ones cannot wait. */
        if (pt_time_sec != last_shortage_warn) {
            last_shortage_warn = pt_time_sec;
            pt_log_error(PT_LOG_WARN, log, 0,
                         "%lu worker_connections are not enough, reusing "
                         "connections", (unsigned long) pt_conn_slots_n);
        }
        pt_conn_drain_idle(pt_max(1, pt_min(32, idle_n / 8)));
    }

    if (free_list != NULL) {
        return PT_OK;
    }

    if (pt_time_sec != last_shortage_alert) {
        last_shortage_alert = pt_time_sec;
        pt_log_error(PT_LOG_ALERT, log, 0,
                     "%lu worker_connections are not enough",
                     (unsigned long) pt_conn_slots_n);
    }
    return PT_ERROR;
}

pt_connection_t *
pt_conn_get(int fd, pt_log_t *log)
{
    pt_connection_t *c;
    pt_event_t      *rev, *wev;
    uint32_t         gen;

    if (pt_conn_reserve(log) != PT_OK) {
        return NULL;
    }

    c = free_list;
    free_list = c->data;
    free_n--;

    rev = c->read;
    wev = c->write;
    gen = c->gen + 1;

    memset(c, 0, sizeof(pt_connection_t));
    c->read = rev;
    c->write = wev;
    c->gen = gen;
    c->fd = fd;
    c->log = log;
    c->recv = pt_conn_recv;
    c->send = pt_conn_send;
    c->writev = pt_conn_writev;
    c->sendfile = pt_conn_sendfile;
    c->number = pt_counters_next_connection();
    pt_queue_init(&c->queue);

    init_event(rev, c, log);
    init_event(wev, c, log);
    wev->write = 1;
    return c;
}

void
pt_conn_free(pt_connection_t *c)
{
    /* Callers normally come through pt_conn_close; a slot that never got
     * far enough to arm anything is freed directly. */
    pt_timer_del(c->read);
    pt_timer_del(c->write);
    pt_event_delete_posted(c->read);
    pt_event_delete_posted(c->write);
    pt_conn_reusable(c, 0);

    c->fd = -1;
    c->data = free_list;
    free_list = c;
    free_n++;
}

void
pt_conn_close(pt_connection_t *c)
{
    int fd = c->fd;

    if (fd == -1) {
        pt_log_error(PT_LOG_ALERT, c->log, 0, "connection already closed");
        return;
    }

    pt_timer_del(c->read);
    pt_timer_del(c->write);
    pt_event_delete_posted(c->read);
    pt_event_delete_posted(c->write);
    pt_conn_reusable(c, 0);
    pt_event_del_conn(c, 1);
    c->read->closed = 1;
    c->write->closed = 1;

    /* fd = -1 first: a pool cleanup that closes `c` again is a no-op, and
     * a later report for this fd in the same epoll batch is ignored. */
    c->fd = -1;
    c->destroyed = 1;
    if (c->pool != NULL) {
        pt_pool_destroy(c->pool);
        c->pool = NULL;
    }

    if (close(fd) == -1 && errno != ECONNRESET) {
        pt_log_error(PT_LOG_ALERT, c->log, errno, "close() socket %d failed",
                     fd);
    }

    pt_conn_free(c);
}

pt_uint_t
pt_conn_free_n(void)
{
    return free_n;
}

pt_uint_t
pt_conn_total_n(void)
{
    return pt_conn_slots_n;
}

void
pt_conn_reusable(pt_connection_t *c, int reusable)
{
    if (c->reusable) {
        pt_queue_remove(&c->queue);
        c->reusable = 0;
        idle_n--;
    }

    if (reusable) {
        pt_queue_insert_head(&idle_queue, &c->queue);
        c->reusable = 1;
        idle_n++;
    }
}

pt_uint_t
pt_conn_drain_idle(pt_uint_t n)
{
    pt_connection_t *c;
    pt_uint_t        i;

    /* Bound by the count now: a handler that puts its connection back on
     * the list must not keep us looping. */
    n = pt_min(n, idle_n);

    for (i = 0; i < n && !pt_queue_empty(&idle_queue); i++) {
        c = pt_queue_data(pt_queue_last(&idle_queue), pt_connection_t, queue);
        pt_conn_reusable(c, 0);
        c->close = 1;
        c->read->handler(c->read);
    }
    return i;
}

pt_uint_t
pt_conn_idle_n(void)
{
    return idle_n;
}

void
pt_conn_error(pt_connection_t *c, int err, const char *call)
{
    pt_uint_t level;

    switch (err) {
    case ECONNRESET:
    case ENOTCONN:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case EPIPE:
        level = PT_LOG_INFO;   /* the peer's doing, not ours */
        break;
    default:
        level = PT_LOG_ERR;
    }

    if (c->addr_text.len == 0) {
        pt_log_error(level, c->log, err, "%s failed", call);
        return;
    }
    pt_log_error(level, c->log, 0, "%s failed (%d: %s), client: %.*s", call,
                 err, strerror(err), (int) c->addr_text.len,
                 c->addr_text.data);
}

ssize_t
pt_conn_recv(pt_connection_t *c, u_char *buf, size_t size)
{
    pt_event_t *rev = c->read;
    ssize_t     n;

    for (;;) {
        n = recv(c->fd, buf, size, 0);

        if (n > 0) {
            /* Edge-triggered: a short read drained the socket, and new
             * data brings a new report, so skip the EAGAIN round trip.
             * After RDHUP no report follows: keep reading to the 0. */
            if ((size_t) n < size && !rev->eof) {
                rev->ready = 0;
            }
            return n;
        }

        if (n == 0) {
            rev->ready = 0;
            rev->eof = 1;
            return 0;
        }

        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            rev->ready = 0;
            return PT_AGAIN;
        }
        if (errno != EINTR) {
            break;
        }
    }

    rev->ready = 0;
    rev->error = 1;
    pt_conn_error(c, errno, "recv()");
    return PT_ERROR;
}

/* Shared tail of the send family: account for `n` of `size` bytes or
 * classify the failure. */
static ssize_t
sent(pt_connection_t *c, ssize_t n, size_t size, const char *call)
{
    pt_event_t *wev = c->write;

    if (n >= 0) {
        /* A short write means the socket buffer is full: the next report
         * comes when it drains. */
        if ((size_t) n < size) {
            wev->ready = 0;
        }
        c->sent += n;
        return n;
    }

    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wev->ready = 0;
        return PT_AGAIN;
    }

    wev->ready = 0;
    wev->error = 1;
    pt_conn_error(c, errno, call);
    return PT_ERROR;
}

ssize_t
pt_conn_send(pt_connection_t *c, const u_char *buf, size_t size)
{
    ssize_t n;

    do {
        /* MSG_NOSIGNAL: a vanished peer is EPIPE, never SIGPIPE. */
        n = send(c->fd, buf, size, MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);

    return sent(c, n, size, "send()");
}

ssize_t
pt_conn_writev(pt_connection_t *c, const struct iovec *iov, int iovcnt)
{
    struct msghdr msg;
    size_t        size = 0;
    ssize_t       n;
    int           i;

    for (i = 0; i < iovcnt; i++) {
        size += iov[i].iov_len;
    }

    /* sendmsg rather than writev for MSG_NOSIGNAL; same cost. */
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = (struct iovec *) iov;
    msg.msg_iovlen = (size_t) iovcnt;

    do {
        n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);

    return sent(c, n, size, "writev()");
}

ssize_t
pt_conn_sendfile(pt_connection_t *c, int fd, off_t *offset, size_t size)
{
    ssize_t n;

    do {
        n = sendfile(c->fd, fd, offset, size);
    } while (n == -1 && errno == EINTR);

    /* A short sendfile may also mean the file ended early (truncated):
     * keep write->ready so the caller finds out rather than waiting for a
     * report that never comes. Pass size 0 to skip the short-write rule. */
    return sent(c, n, 0, "sendfile()");
}

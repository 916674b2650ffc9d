/*
 * The accept side of a worker: one accept event per listener (a listener's
 * fd is the same number in every worker), the accept loop, and a short
 * pause of all listeners when slots or descriptors run out, so the backlog
 * waits (or goes to another worker) instead of being reset.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "accept.h"
#include "conn.h"
#include "event.h"
#include "pt_auto.h"
#include "timer.h"

#define ACCEPT_OFF    0   /* never enabled, or disabled for shutdown */
#define ACCEPT_ON     1
#define ACCEPT_PAUSED 2   /* out of slots or fds; pause_ev re-enables */

int pt_accept_multi;

static pt_cycle_t *accept_cycle;
static pt_event_t *accept_events;   /* one per cycle->listening element */
static pt_uint_t   accept_n;
static int         accept_state;
static pt_event_t  pause_ev;
static pt_event_t  drain_ev;

/* How long a worker keeps accepting on a surplus reuseport socket (one the
 * master steers no new connections to) before closing its copy: long
 * enough for handshakes that were already under way to land. */
#define DRAIN_TIME 2000

static void resume_handler(pt_event_t *ev);

/* Add every listener we poll that is not in epoll yet. */
static int
listen_all(void)
{
    pt_listening_t *ls = accept_cycle->listening.elts;
    pt_uint_t       i;
    int             rc = PT_OK;

    for (i = 0; i < accept_n; i++) {
        if (accept_events[i].data == NULL || accept_events[i].active) {
            continue;
        }
        if (pt_event_add_listen(&ls[i], &accept_events[i]) != PT_OK) {
            rc = PT_ERROR;
        }
    }
    return rc;
}

static void
unlisten_all(void)
{
    pt_listening_t *ls;
    pt_uint_t       i;

    if (accept_cycle == NULL) {
        return;
    }
    ls = accept_cycle->listening.elts;
    for (i = 0; i < accept_n; i++) {
        pt_event_del_listen(&ls[i], &accept_events[i]);
    }
}

/* The queue of each draining socket we poll has been taken over: stop
 * polling it and close our copy. */
static void
drain_handler(pt_event_t *ev)
{
    pt_listening_t *ls = accept_cycle->listening.elts;
    pt_uint_t       i;

    for (i = 0; i < accept_n; i++) {
        if (accept_events[i].data == NULL || !ls[i].draining) {
            continue;
        }
        pt_event_del_listen(&ls[i], &accept_events[i]);
        accept_events[i].data = NULL;
        if (close(ls[i].fd) == -1) {
            pt_log_error(PT_LOG_ALERT, ev->log, errno,
                         "close() draining socket %.*s failed",
                         (int) ls[i].addr_text.len, ls[i].addr_text.data);
        }
        ls[i].fd = -1;
    }
}

int
pt_accept_enable(pt_cycle_t *cycle, int worker_slot)
{
    pt_listening_t *ls = cycle->listening.elts;
    pt_event_t     *ev;
    pt_uint_t       i;

    if (cycle != accept_cycle || accept_n != cycle->listening.nelts) {
        unlisten_all();
        accept_events = pt_pcalloc(cycle->pool,
                                   sizeof(pt_event_t)
                                   * pt_max(cycle->listening.nelts, 1));
        if (accept_events == NULL) {
            return PT_ERROR;
        }
        accept_cycle = cycle;
        accept_n = cycle->listening.nelts;
    }

    for (i = 0; i < accept_n; i++) {
        ev = &accept_events[i];
        if (ls[i].draining && ls[i].fd != -1 && ls[i].worker != worker_slot)
        {
            /* Another worker drains it: our inherited copy would keep the
             * surplus socket open, unpolled, after that one closes its. */
            if (close(ls[i].fd) == -1) {
                pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                             "close() draining socket %.*s failed",
                             (int) ls[i].addr_text.len, ls[i].addr_text.data);
            }
            ls[i].fd = -1;
        }
        if (ls[i].fd == -1
            || (ls[i].worker != -1 && ls[i].worker != worker_slot))
        {
            ev->data = NULL;
            continue;
        }
        ev->data = &ls[i];
        ev->handler = pt_accept_handler;
        ev->log = cycle->log;
        ev->accept = 1;
    }

    pt_timer_del(&pause_ev);
    pause_ev.handler = resume_handler;
    pause_ev.log = cycle->log;
    pause_ev.cancelable = 1;

    for (i = 0; i < accept_n; i++) {
        if (accept_events[i].data != NULL && ls[i].draining) {
            drain_ev.handler = drain_handler;
            drain_ev.log = cycle->log;
            drain_ev.cancelable = 1;
            pt_timer_add(&drain_ev, DRAIN_TIME);
            break;
        }
    }

    accept_state = ACCEPT_ON;
    return listen_all();
}

void
pt_accept_disable(void)
{
    accept_state = ACCEPT_OFF;
    pt_timer_del(&pause_ev);
    pt_timer_del(&drain_ev);
    unlisten_all();
}

void
pt_accept_close_listeners(pt_cycle_t *cycle)
{
    pt_listening_t *ls = cycle->listening.elts;
    pt_uint_t       i;

    pt_accept_disable();

    for (i = 0; i < cycle->listening.nelts; i++) {
        if (ls[i].fd == -1) {
            continue;
        }
        if (close(ls[i].fd) == -1) {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                         "close() listening socket %.*s failed",
                         (int) ls[i].addr_text.len, ls[i].addr_text.data);
        }
        ls[i].fd = -1;
    }
}

int
pt_accept_paused(void)
{
    return accept_state == ACCEPT_PAUSED;
}

/* Take every listener out of epoll for PT_ACCEPT_PAUSE: level-triggered
 * listeners we cannot serve would otherwise spin the loop. */
static void
pause_accept(void)
{
    if (accept_state != ACCEPT_ON) {
        return;
    }
    accept_state = ACCEPT_PAUSED;
    unlisten_all();
    pt_timer_add(&pause_ev, PT_ACCEPT_PAUSE);
}

static void
resume_handler(pt_event_t *ev)
{
    ev->timedout = 0;

    if (accept_state != ACCEPT_PAUSED) {
        return;
    }

    /* Still full: wait again without touching epoll. */
    if (pt_conn_free_n() == 0 && pt_conn_idle_n() == 0) {
        pt_timer_add(ev, PT_ACCEPT_PAUSE);
        return;
    }

    accept_state = ACCEPT_ON;
    if (listen_all() != PT_OK) {
        pause_accept();   /* try again later rather than stay deaf */
    }
}

/* Dotted quad of `addr` (network order) at p, which has room for 15
 * bytes; returns the length. Every connection pays for it: glibc's
 * inet_ntop goes through sprintf, several times the cost. */
static size_t
ipv4_text(const void *addr, u_char *p)
{
    const u_char *a = addr;
    u_char       *start = p;
    int           i;

    for (i = 0; i < 4; i++) {
        if (a[i] >= 100) {
            *p++ = (u_char) ('0' + a[i] / 100);
        }
        if (a[i] >= 10) {
            *p++ = (u_char) ('0' + a[i] / 10 % 10);
        }
        *p++ = (u_char) ('0' + a[i] % 10);
        if (i < 3) {
            *p++ = '.';
        }
    }
    return (size_t) (p - start);
}

/* "1.2.3.4", "::1" or "unix:" into pool memory. */
static int
peer_text(pt_connection_t *c)
{
    const void *addr;
    size_t      size = INET6_ADDRSTRLEN;
    u_char     *p;

    p = pt_pnalloc(c->pool, size);
    if (p == NULL) {
        return PT_ERROR;
    }

    switch (c->sockaddr->ss_family) {
    case AF_INET:
        addr = &((struct sockaddr_in *) c->sockaddr)->sin_addr;
        break;
    case AF_INET6:
        addr = &((struct sockaddr_in6 *) c->sockaddr)->sin6_addr;
        break;
    case AF_UNIX:
        memcpy(p, "unix:", sizeof("unix:"));
        c->addr_text.len = sizeof("unix:") - 1;
        c->addr_text.data = p;
        return PT_OK;
    default:
        c->addr_text.len = 0;
        c->addr_text.data = p;
        return PT_OK;
    }

    if (c->sockaddr->ss_family == AF_INET) {
        c->addr_text.len = ipv4_text(addr, p);
        c->addr_text.data = p;
        return PT_OK;
    }
    if (inet_ntop(c->sockaddr->ss_family, addr, (char *) p, size) == NULL) {
        return PT_ERROR;
    }
    c->addr_text.len = strlen((char *) p);
    c->addr_text.data = p;
    return PT_OK;
}

/* Wrap an accepted fd in a connection and hand it to the protocol. */
static void
init_connection(pt_listening_t *ls, int fd, struct sockaddr_storage *sa,
                socklen_t len, pt_log_t *log)
{
    pt_connection_t *c;

    c = pt_conn_get(fd, log);
    if (c == NULL) {
        if (close(fd) == -1) {
            pt_log_error(PT_LOG_ALERT, log, errno, "close() socket failed");
        }
        pause_accept();
        return;
    }

    c->pool = pt_pool_create(PT_CONNECTION_POOL_SIZE, log);
    if (c->pool == NULL) {
        pt_conn_close(c);
        return;
    }

    c->sockaddr = pt_pnalloc(c->pool, len);
    if (c->sockaddr == NULL) {
        pt_conn_close(c);
        return;
    }
    memcpy(c->sockaddr, sa, len);
    c->socklen = len;
    c->listening = ls;

    if (peer_text(c) != PT_OK) {
        pt_conn_close(c);
        return;
    }

    /* With deferred accept the request is already queued; a new socket
     * can always take the first write. */
    c->read->ready = ls->deferred;
    c->write->ready = 1;

    if (pt_event_add_conn(c) != PT_OK || ls->handler == NULL) {
        pt_conn_close(c);
        return;
    }

    ls->handler(c);
}

/* Log a failed accept4(); returns 1 when accepting should pause. */
static int
accept_failed(pt_listening_t *ls, pt_log_t *log, int err)
{
    pt_uint_t level;
    int       pause = 0;

    switch (err) {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:          /* firewall rules */
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        level = PT_LOG_INFO;   /* that client's problem: next one */
        break;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        level = PT_LOG_CRIT;
        pause = 1;
        break;
    default:
        level = PT_LOG_ALERT;
        pause = 1;
    }

    pt_log_error(level, log, err, "accept4() on %.*s failed",
                 (int) ls->addr_text.len, ls->addr_text.data);
    return pause;
}

void
pt_accept_handler(pt_event_t *ev)
{
    pt_listening_t          *ls = ev->data;
    struct sockaddr_storage  sa;
    socklen_t                len;
    int                      fd;

    ev->ready = 0;

    for (;;) {
        /* Check for a slot before accept4(): a connection we cannot serve
         * is better left queued than accepted and reset. */
        if (pt_conn_reserve(ev->log) != PT_OK) {
            pause_accept();
            return;
        }

        len = sizeof(sa);
#if (PT_HAVE_ACCEPT4)
        fd = accept4(ls->fd, (struct sockaddr *) &sa, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        fd = accept(ls->fd, (struct sockaddr *) &sa, &len);
        if (fd != -1
            && (fcntl(fd, F_SETFL, O_NONBLOCK) == -1
                || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1))
        {
            pt_log_error(PT_LOG_ALERT, ev->log, errno, "fcntl() failed");
            close(fd);
            continue;
        }
#endif

        if (fd == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return;
            }
            if (errno == EINTR) {
                continue;
            }
            if (accept_failed(ls, ev->log, errno)) {
                pause_accept();
                return;
            }
            if (!pt_accept_multi) {
                return;   /* level-triggered: reported again if queued */
            }
            continue;
        }

        init_connection(ls, fd, &sa, len, ev->log);

        /* Having just taken the last slot is no reason to pause: only a
         * further report (level-triggered) shows someone is waiting. */
        if (!pt_accept_multi || accept_state != ACCEPT_ON
            || pt_conn_free_n() == 0)
        {
            return;
        }
    }
}

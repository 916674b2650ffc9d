/*
 * The worker's event loop: one epoll instance per worker process, events
 * embedded in connections and listeners, the posted-event queue, and the
 * loop step that waits, dispatches I/O, runs posted events and timers.
 */
#ifndef PT_EVENT_H
#define PT_EVENT_H

#include <signal.h>

#include "common/pt_types.h"
#include "common/queue.h"
#include "common/rbtree.h"

typedef void (*pt_event_handler_pt)(pt_event_t *ev);

struct pt_event_s {
    void                *data;        /* the connection, or the listener */
    pt_event_handler_pt  handler;
    pt_log_t            *log;

    unsigned             write:1;      /* the write side of a connection */
    unsigned             accept:1;     /* a listener's accept event */
    unsigned             active:1;     /* registered with epoll */
    unsigned             ready:1;      /* I/O can proceed without EAGAIN */
    unsigned             eof:1;        /* peer sends no more: RDHUP/HUP seen
                                          or recv() returned 0. Queued bytes
                                          may remain: read until 0. */
    unsigned             error:1;      /* EPOLLERR, or a failed syscall */
    unsigned             timedout:1;   /* set by timer expiry; the handler
                                          clears it (as in nginx) */
    unsigned             timer_set:1;  /* in the timer tree */
    unsigned             posted:1;     /* in the posted queue */
    unsigned             cancelable:1; /* timer does not hold up a graceful
                                          shutdown */
    unsigned             closed:1;     /* its connection was closed */
    unsigned             delayed:1;    /* write held back by limit_rate: its
                                          timer is a pause, not a timeout */

    pt_rbtree_node_t     timer;        /* key: absolute deadline (msec) */
    pt_queue_t           queue;        /* link in the posted queue */
};

/* Create the epoll instance and room for `nevents` reports per wait. Call in
 * each worker after fork. PT_ERROR (logged) on failure. */
int pt_event_init(pt_log_t *log, int nevents);
/* Close the epoll instance and free the report array. */
void pt_event_done(void);

/* Register a connection's fd once, edge-triggered for read and write (and
 * RDHUP); both events become active. PT_ERROR (logged) on failure. */
int pt_event_add_conn(pt_connection_t *c);
/* Unregister it; with `closing` the syscall is skipped because close()
 * removes the fd from epoll (worker fds are never shared). */
int pt_event_del_conn(pt_connection_t *c, int closing);

/* Register a listening socket, level-triggered; exclusive wake-up when the
 * socket is shared by all workers (ls->worker == -1). ev->data should be
 * ls and ev->handler the accept handler. */
int pt_event_add_listen(pt_listening_t *ls, pt_event_t *ev);
int pt_event_del_listen(pt_listening_t *ls, pt_event_t *ev);

/*
 * One loop step: wait up to `timer_ms` (-1: no limit; 0 when events are
 * posted), update the cached clock, call the read then write handler of
 * each connection reported (never for one closed earlier in the batch),
 * run the posted queue, then expire timers. PT_OK, also on EINTR (the
 * caller checks its signal flags); PT_ERROR (logged) if epoll_wait fails.
 */
int pt_event_process(pt_msec_t timer_ms);

/* The signal mask in force while the loop waits (epoll_pwait); the caller
 * keeps its signals blocked otherwise. The set must outlive the loop. */
void pt_event_set_wait_sigmask(const sigset_t *mask);

/* Queue `ev` to run at the end of this (or the next) loop step; once. */
void pt_event_post(pt_event_t *ev);
void pt_event_delete_posted(pt_event_t *ev);
/* Run every event posted so far (events posted meanwhile wait a step). */
void pt_event_process_posted(void);
int pt_event_posted_empty(void);

/* A handler that does nothing: the default for new connection events. */
void pt_event_empty_handler(pt_event_t *ev);

#endif /* PT_EVENT_H */

/*
 * Accepting client connections on the listeners this worker polls, and
 * pausing accept when connections or descriptors run out.
 */
#ifndef PT_ACCEPT_H
#define PT_ACCEPT_H

#include "common/pt_types.h"

/* Pool size of each accepted connection. */
#define PT_CONNECTION_POOL_SIZE 224
/* How long accepting stops when no connection slot or fd is left. */
#define PT_ACCEPT_PAUSE 100

/* multi_accept: 1 accepts until EAGAIN per report, 0 one per report. */
extern int pt_accept_multi;

/* Register the cycle's listeners this worker polls: ls->worker == slot or
 * -1 (shared). The accept events live in cycle->pool. PT_ERROR (logged) if
 * one cannot be added. */
int pt_accept_enable(pt_cycle_t *cycle, int worker_slot);
/* Stop accepting for good (graceful shutdown): listeners leave epoll; the
 * fds stay open (the master owns the sockets). */
void pt_accept_disable(void);
/* Disable, then close this worker's copies of every listening fd of the
 * cycle and set ls->fd = -1. */
void pt_accept_close_listeners(pt_cycle_t *cycle);
/* 1 while accepting is paused for lack of connections or fds. */
int pt_accept_paused(void);

/* The listeners' read handler: ev->data is the pt_listening_t. Accepts,
 * fills a connection (pool, peer address), registers it with epoll and
 * hands it to ls->handler. */
void pt_accept_handler(pt_event_t *ev);

#endif /* PT_ACCEPT_H */

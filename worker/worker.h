/*
 * A worker process: drop privileges, run the event loop on this slot's
 * listeners, and stop gracefully (QUIT) or at once (TERM/INT).
 */
#ifndef PT_WORKER_H
#define PT_WORKER_H

#include <signal.h>

#include "common/pt_types.h"

extern volatile sig_atomic_t pt_worker_quit;
extern volatile sig_atomic_t pt_worker_terminate;
extern volatile sig_atomic_t pt_worker_reopen;
/* Set once a graceful stop has begun: handlers answer with
 * "Connection: close" and idle connections go soon. */
extern int pt_worker_exiting;

/* Run worker `slot` on `cycle`; never returns. */
void pt_worker_process(pt_cycle_t *cycle, int slot) __attribute__((noreturn));

/* master_process off: the same loop in the master process itself. */
void pt_worker_single(pt_cycle_t *cycle) __attribute__((noreturn));

#endif /* PT_WORKER_H */

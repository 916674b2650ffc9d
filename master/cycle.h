/*
 * Building a cycle from the configuration, and replacing one on reload:
 * parse, apply, open logs, create shared memory, open listening sockets.
 */
#ifndef PT_MASTER_CYCLE_H
#define PT_MASTER_CYCLE_H

#include "common/cycle.h"

/* Build a new cycle from `old` (the bootstrap cycle holding the command
 * line, or the running one). With `test` set nothing is opened or bound.
 * Returns NULL on error (logged); nothing of `old` is changed then. */
pt_cycle_t *pt_cycle_init(pt_cycle_t *old, int test);

/* Release what the old cycle owns and the new one did not take over:
 * sockets, shm zones, log files, then its pool. */
void pt_cycle_free_old(pt_cycle_t *old, pt_cycle_t *cycle);

/* Write "PID\n" to the pid file / delete it. */
int pt_cycle_create_pidfile(const pt_str_t *name, pt_log_t *log);
void pt_cycle_delete_pidfile(pt_cycle_t *cycle);

/* Read the pid from the pid file and send it the signal named by `name`
 * (stop, quit, reopen, reload). Returns 0 or 1 as an exit status. */
int pt_cycle_signal_process(pt_cycle_t *cycle, const char *name);

#endif /* PT_MASTER_CYCLE_H */

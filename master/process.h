/*
 * The master process: spawns and reaps workers, respawns a worker that
 * dies, and turns signals into reload, reopen, graceful or fast stop,
 * binary upgrade and WINCH.
 */
#ifndef PT_PROCESS_H
#define PT_PROCESS_H

#include "common/pt_types.h"

/* Argument vector and environment the binary was started with, kept for
 * the binary upgrade (set by main). */
extern char **pt_argv;
extern int    pt_argc;
/* Set when this master runs daemonized (WINCH is only honoured then). */
extern int    pt_daemonized;

/* Run the master loop on `cycle`; never returns. */
void pt_master_process(pt_cycle_t *cycle) __attribute__((noreturn));

#endif /* PT_PROCESS_H */

/*
 * Binary upgrade (USR2): rename the pid file to <pid>.oldbin and fork+exec
 * the binary at the path it was started from, with the listening sockets
 * inherited and named in $PORTICO.
 */
#ifndef PT_UPGRADE_H
#define PT_UPGRADE_H

#include <sys/types.h>

#include "common/pt_types.h"

/* The absolute path of argv[0] as given (not resolved through symlinks);
 * computed once at start, before any chdir. */
int pt_upgrade_save_binary(const char *argv0);

/* Start the new binary; returns its pid, or -1 (logged; the pid file is
 * restored). */
pid_t pt_upgrade_exec(pt_cycle_t *cycle, char *const argv[]);

/* The new master exited before the old one: take the pid file back. */
void pt_upgrade_failed(pt_cycle_t *cycle);

#endif /* PT_UPGRADE_H */

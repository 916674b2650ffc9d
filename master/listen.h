/*
 * Listening sockets, owned by the master: opened before fork, kept across
 * reloads while their address stays configured, handed to a new binary on
 * upgrade, and steered with a reuseport BPF program so that a shrinking
 * worker count never resets a queued connection.
 */
#ifndef PT_LISTEN_H
#define PT_LISTEN_H

#include "common/array.h"
#include "common/cycle.h"
#include "common/pt_types.h"

#define PT_LISTEN_ENV "PORTICO"

/* Give each reuseport listener one socket per worker slot. */
int pt_listen_expand_reuseport(pt_cycle_t *cycle, pt_uint_t workers);

/* Open (or adopt from `old`, an array of pt_listening_t that may be NULL)
 * every socket of cycle->listening. Adopted old entries are marked remain;
 * old reuseport sockets of slots beyond `workers` are kept as draining
 * entries of the new cycle. PT_ERROR (logged) when a socket cannot be
 * opened; the caller closes what was opened with pt_listen_close_new(). */
int pt_listen_open(pt_cycle_t *cycle, pt_array_t *old, pt_uint_t workers);

/* Close the sockets of `cycle` that were not adopted from an old cycle. */
void pt_listen_close_new(pt_cycle_t *cycle);

/* Close sockets of an old array that the new cycle did not keep. */
void pt_listen_close_unused(pt_array_t *old);

/* Close every socket of a cycle (at exit). Unix socket files are removed
 * unless a new binary holds the sockets (`unlink_paths` 0). */
void pt_listen_close_all(pt_cycle_t *cycle, int unlink_paths);

/* Close draining sockets in this process (the master, once the workers
 * that drain them have been forked). */
void pt_listen_close_draining(pt_cycle_t *cycle);

/* Sockets passed by an old master in $PORTICO ("fd;fd;..."): fills `out`
 * (pt_listening_t) and returns PT_OK; PT_DECLINED when there is none. */
int pt_listen_inherited(pt_cycle_t *cycle, pt_array_t *out);

/* The "PORTICO=fd;fd;..." string for a new binary, in cycle->pool, with
 * close-on-exec cleared on those sockets. NULL on error. */
char *pt_listen_env(pt_cycle_t *cycle);

#endif /* PT_LISTEN_H */

/*
 * A mutex between processes, living in shared memory. The lock word holds
 * the holder's pid so the master can release it when that holder dies.
 */
#ifndef PT_SHMTX_H
#define PT_SHMTX_H

#include "pt_types.h"

/* The part that lives in shared memory; all zero means "free, no waiters".
 * Both words are only touched with __atomic builtins. */
typedef struct {
    uint32_t  lock;     /* holder's pid, 0 when free; also the futex word */
    uint32_t  wait;     /* processes sleeping (or about to) on `lock` */
} pt_shmtx_sh_t;

/* The handle a process uses; it may itself live in shared memory as long as
 * `sh` points into the same mapping (all processes map it at one address). */
typedef struct {
    pt_shmtx_sh_t  *sh;
    pt_uint_t       spin;   /* CAS attempts before sleeping; 0 on one CPU */
} pt_shmtx_t;

/* Bind `mtx` to `sh` and clear `sh`. Call once, before other processes can
 * see `sh` (the master, before forking workers). */
void pt_shmtx_init(pt_shmtx_t *mtx, pt_shmtx_sh_t *sh);

/* 1 if the lock was taken, 0 if someone holds it. Never blocks. */
int pt_shmtx_trylock(pt_shmtx_t *mtx);

/* Take the lock: spin briefly, then sleep on a futex until woken by the
 * holder's unlock or by pt_shmtx_force_unlock() (a sleeper also rechecks
 * every 500 ms). Not recursive: a holder locking again waits forever. */
void pt_shmtx_lock(pt_shmtx_t *mtx);

/* Release a lock this process holds; does nothing if it does not hold it
 * (for example after the master force-unlocked it). */
void pt_shmtx_unlock(pt_shmtx_t *mtx);

/* Release the lock if `pid` holds it and wake a sleeper; returns 1 if it did,
 * 0 otherwise. For the master after reaping a worker that died: the data
 * the lock protected may be half updated, as in nginx. */
int pt_shmtx_force_unlock(pt_shmtx_t *mtx, pid_t pid);

/* The pid stored in lock words by this process. Cached, and reset in the
 * child by a pthread_atfork() handler, so it is right after fork(). */
pid_t pt_shmtx_pid(void);

#endif /* PT_SHMTX_H */

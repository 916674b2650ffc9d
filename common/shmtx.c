/*
 * Process-shared mutex: a CAS of 0 -> pid on a word in shared memory, a
 * short spin, then a futex sleep. Holding the pid (not just "1") lets the
 * master release the lock of a worker killed while holding it.
 */
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shmtx.h"

#define SHMTX_SPIN      1024
/* A sleeper rechecks the word at least this often. It covers a wakeup lost
 * to a sleeper that was woken and then killed before taking the lock: no
 * one else would ever wake the remaining sleepers. Long enough that the
 * tests can tell a real wakeup from this timeout. */
#define SHMTX_SLEEP_NS  (500 * 1000 * 1000)

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

static pid_t shmtx_pid;
static int   shmtx_pid_nocache;   /* pthread_atfork() failed: no caching */
static int   shmtx_nofutex;       /* the kernel said ENOSYS */

static void
reset_pid(void)
{
    shmtx_pid = 0;
}

/* Runs once at load; the child handler makes the cached pid fork-safe
 * without every caller of fork() having to remember to refresh it. */
__attribute__((constructor)) static void
register_atfork(void)
{
    if (pthread_atfork(NULL, NULL, reset_pid) != 0) {
        shmtx_pid_nocache = 1;
    }
}

pid_t
pt_shmtx_pid(void)
{
    if (shmtx_pid_nocache) {
        return getpid();
    }
    if (shmtx_pid == 0) {
        shmtx_pid = getpid();
    }
    return shmtx_pid;
}

void
pt_shmtx_init(pt_shmtx_t *mtx, pt_shmtx_sh_t *sh)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

    __atomic_store_n(&sh->lock, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&sh->wait, 0, __ATOMIC_SEQ_CST);
    mtx->sh = sh;
    /* Spinning on one CPU only delays the holder; sysconf() failing (-1)
     * is treated as one CPU. */
    mtx->spin = ncpu > 1 ? SHMTX_SPIN : 0;
}

static int
try_take(pt_shmtx_sh_t *sh, uint32_t pid)
{
    uint32_t expected = 0;

    if (__atomic_load_n(&sh->lock, __ATOMIC_RELAXED) != 0) {
        return 0;
    }
    return __atomic_compare_exchange_n(&sh->lock, &expected, pid, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

int
pt_shmtx_trylock(pt_shmtx_t *mtx)
{
    return try_take(mtx->sh, (uint32_t) pt_shmtx_pid());
}

/* Sleep while the lock word still equals `val`. Not a private futex: the
 * word is in a MAP_SHARED mapping seen by other processes. */
static void
sleep_on(pt_shmtx_sh_t *sh, uint32_t val)
{
    struct timespec ts = { 0, SHMTX_SLEEP_NS };

    if (!shmtx_nofutex) {
        if (syscall(SYS_futex, &sh->lock, FUTEX_WAIT, val, &ts, NULL, 0)
            == 0 || errno != ENOSYS)
        {
            /* woken, EAGAIN (word changed), EINTR, ETIMEDOUT: recheck */
            return;
        }
        shmtx_nofutex = 1;
    }

    ts.tv_nsec = 1000 * 1000;
    (void) nanosleep(&ts, NULL);   /* EINTR only shortens the nap */
}

void
pt_shmtx_lock(pt_shmtx_t *mtx)
{
    pt_shmtx_sh_t *sh = mtx->sh;
    uint32_t       pid = (uint32_t) pt_shmtx_pid(), v;
    pt_uint_t      i;

    for (;;) {
        if (try_take(sh, pid)) {
            return;
        }

        for (i = 0; i < mtx->spin; i++) {
            cpu_relax();
            if (try_take(sh, pid)) {
                return;
            }
        }

        /* Announce ourselves before the last look at the word: an unlock
         * that stores 0 after that look is guaranteed to see wait > 0
         * (both sides are seq_cst) and wake us. */
        __atomic_add_fetch(&sh->wait, 1, __ATOMIC_SEQ_CST);
        v = __atomic_load_n(&sh->lock, __ATOMIC_SEQ_CST);
        if (v != 0) {
            sleep_on(sh, v);
        }
        __atomic_sub_fetch(&sh->wait, 1, __ATOMIC_SEQ_CST);
    }
}

static void
wake_one(pt_shmtx_sh_t *sh)
{
    if (__atomic_load_n(&sh->wait, __ATOMIC_SEQ_CST) == 0 || shmtx_nofutex) {
        return;
    }
    /* A failure here is not fatal: sleepers time out and recheck. */
    (void) syscall(SYS_futex, &sh->lock, FUTEX_WAKE, 1, NULL, NULL, 0);
}

void
pt_shmtx_unlock(pt_shmtx_t *mtx)
{
    uint32_t expected = (uint32_t) pt_shmtx_pid();

    if (__atomic_compare_exchange_n(&mtx->sh->lock, &expected, 0, 0,
                                    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
    {
        wake_one(mtx->sh);
    }
}

int
pt_shmtx_force_unlock(pt_shmtx_t *mtx, pid_t pid)
{
    uint32_t expected = (uint32_t) pid;

    if (pid <= 0) {
        return 0;
    }
    if (!__atomic_compare_exchange_n(&mtx->sh->lock, &expected, 0, 0,
                                     __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
    {
        return 0;
    }
    wake_one(mtx->sh);
    return 1;
}

/*
 * Unit tests for common/shm and common/shmtx: zone declaration rules,
 * reuse across a reload, sharing across fork, mutual exclusion between
 * processes, and recovery of a lock whose holder was killed.
 */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/shm.h"
#include "common/shmtx.h"
#include "common/slab.h"

#define ZONE_SIZE (64 * 1024)

static pt_log_t  test_log;
static char      log_text[8192];
static int       tag_a, tag_b;

static void
capture_log(void)
{
    char tmpl[] = "/tmp/pt_test_shm_XXXXXX";

    test_log.fd = mkstemp(tmpl);
    ck_assert_int_ge(test_log.fd, 0);
    unlink(tmpl);
    test_log.level = PT_LOG_DEBUG;
    pt_log_use_stderr = 0;
}

static const char *
read_log(void)
{
    ssize_t n = pread(test_log.fd, log_text, sizeof(log_text) - 1, 0);

    ck_assert_int_ge(n, 0);
    log_text[n] = '\0';
    return log_text;
}

static int
log_has(const char *s)
{
    return strstr(read_log(), s) != NULL;
}

static pt_array_t *
new_zones(pt_pool_t *pool)
{
    pt_array_t *a = pt_array_create(pool, 2, sizeof(pt_shm_zone_t *));

    ck_assert_ptr_nonnull(a);
    return a;
}

static pt_shm_zone_t *
add(pt_pool_t *pool, pt_array_t *zones, const char *name, size_t size,
    void *tag)
{
    pt_str_t n = { strlen(name), (u_char *) name };

    return pt_shm_zone_add(pool, zones, &n, size, tag, &test_log);
}

static void
msleep(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

/* waitpid() with a deadline: a hung child is killed and counted as failed.
 * Returns the exit status, or -1 on timeout or abnormal exit. */
static int
wait_child(pid_t pid, int timeout_ms)
{
    int   status, t;
    pid_t r;

    for (t = 0; t < timeout_ms; t++) {
        r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (r != 0) {
            return -1;
        }
        msleep(1);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

START_TEST(zone_add_rules)
{
    pt_pool_t     *pool = pt_pool_create(4096, NULL);
    pt_array_t    *zones = new_zones(pool);
    pt_shm_zone_t *one, *two;

    capture_log();
    one = add(pool, zones, "one", ZONE_SIZE, &tag_a);
    ck_assert_ptr_nonnull(one);
    ck_assert_uint_eq(one->shm.size, ZONE_SIZE);
    ck_assert_str_eq((char *) one->shm.name.data, "one");
    ck_assert_ptr_eq(add(pool, zones, "one", 0, &tag_a), one);
    ck_assert_ptr_eq(add(pool, zones, "one", ZONE_SIZE, &tag_a), one);

    ck_assert_ptr_null(add(pool, zones, "one", 2 * ZONE_SIZE, &tag_a));
    ck_assert(log_has("[emerg] "));
    ck_assert(log_has("the size 131072 of shared memory zone \"one\" "
                      "conflicts with already declared size 65536"));

    ck_assert_ptr_null(add(pool, zones, "one", ZONE_SIZE, &tag_b));
    ck_assert(log_has("the shared memory zone \"one\" is already declared "
                      "for a different use"));

    /* referenced first (size 0), sized by a later declaration */
    two = add(pool, zones, "two", 0, &tag_a);
    ck_assert_ptr_nonnull(two);
    ck_assert_ptr_ne(two, one);
    ck_assert_uint_eq(two->shm.size, 0);
    ck_assert_ptr_eq(add(pool, zones, "two", ZONE_SIZE, &tag_a), two);
    ck_assert_uint_eq(two->shm.size, ZONE_SIZE);

    ck_assert_ptr_null(add(pool, zones, "tiny",
                           7 * (size_t) sysconf(_SC_PAGESIZE), &tag_a));
    ck_assert(log_has("zone \"tiny\" is too small"));
    ck_assert_uint_eq(zones->nelts, 2);
    pt_pool_destroy(pool);
}
END_TEST

START_TEST(zero_size_zone_fails_init)
{
    pt_pool_t  *pool = pt_pool_create(4096, NULL);
    pt_array_t *zones = new_zones(pool);

    capture_log();
    ck_assert_ptr_nonnull(add(pool, zones, "sized", ZONE_SIZE, &tag_a));
    ck_assert_ptr_nonnull(add(pool, zones, "unsized", 0, &tag_a));
    ck_assert_int_eq(pt_shm_zones_init(zones, NULL, &test_log), PT_ERROR);
    ck_assert(log_has("zero size shared memory zone \"unsized\""));
    /* the zone mapped before the error was unmapped again */
    ck_assert_ptr_null((*(pt_shm_zone_t **) zones->elts)->shm.addr);
    pt_pool_destroy(pool);
}
END_TEST

/* A zone owner: a counter in the zone, found again through old_data. */
static void *init_old_data;
static int   init_calls;

static int
counter_init(pt_shm_zone_t *zone, void *old_data)
{
    pt_slab_pool_t *sp = (pt_slab_pool_t *) zone->shm.addr;
    int            *n;

    init_calls++;
    init_old_data = old_data;
    if (old_data != NULL) {
        zone->data = old_data;
        return PT_OK;
    }
    n = pt_slab_alloc(sp, sizeof(int));
    if (n == NULL) {
        return PT_ERROR;
    }
    *n = 0;
    sp->data = n;
    zone->data = n;
    return PT_OK;
}

static int
failing_init(pt_shm_zone_t *zone, void *old_data)
{
    return PT_ERROR;
}

static pt_shm_zone_t *
add_counter(pt_pool_t *pool, pt_array_t *zones, const char *name,
            size_t size)
{
    pt_shm_zone_t *z = add(pool, zones, name, size, &tag_a);

    ck_assert_ptr_nonnull(z);
    z->init = counter_init;
    return z;
}

START_TEST(reload_reuses_zones)
{
    pt_pool_t     *pool = pt_pool_create(4096, NULL);
    pt_array_t    *z1 = new_zones(pool), *z2 = new_zones(pool);
    pt_array_t    *z3 = new_zones(pool);
    pt_shm_zone_t *keep1, *grow1, *keep2, *grow2, *fresh2, *keep3, *bad3;

    capture_log();
    keep1 = add_counter(pool, z1, "keep", ZONE_SIZE);
    grow1 = add_counter(pool, z1, "grow", ZONE_SIZE);
    ck_assert_int_eq(pt_shm_zones_init(z1, NULL, &test_log), PT_OK);
    ck_assert_int_eq(init_calls, 2);
    ck_assert_ptr_null(init_old_data);
    ck_assert_ptr_nonnull(keep1->shm.addr);
    ck_assert_ptr_eq(pt_slab_log, &test_log);
    *(int *) keep1->data = 42;
    *(int *) grow1->data = 7;

    /* "reload": same keep, bigger grow, a new zone */
    keep2 = add_counter(pool, z2, "keep", ZONE_SIZE);
    grow2 = add_counter(pool, z2, "grow", 2 * ZONE_SIZE);
    fresh2 = add_counter(pool, z2, "fresh", ZONE_SIZE);
    init_calls = 0;
    ck_assert_int_eq(pt_shm_zones_init(z2, z1, &test_log), PT_OK);
    ck_assert_int_eq(init_calls, 3);
    ck_assert_ptr_eq(keep2->shm.addr, keep1->shm.addr);
    ck_assert_ptr_eq(keep2->data, keep1->data);
    ck_assert_int_eq(*(int *) keep2->data, 42);
    ck_assert_ptr_ne(grow2->shm.addr, grow1->shm.addr);
    ck_assert_int_eq(*(int *) grow2->data, 0);
    ck_assert_ptr_nonnull(fresh2->shm.addr);

    pt_shm_zones_free_unused(z1, z2);
    ck_assert_ptr_eq(keep1->shm.addr, keep2->shm.addr);  /* kept */
    ck_assert_ptr_null(grow1->shm.addr);                 /* unmapped */
    ck_assert_int_eq(*(int *) keep2->data, 42);          /* still mapped */

    /* a failing init: the new mapping goes, the taken-over one stays */
    keep3 = add_counter(pool, z3, "keep", ZONE_SIZE);
    bad3 = add(pool, z3, "bad", ZONE_SIZE, &tag_a);
    bad3->init = failing_init;
    ck_assert_int_eq(pt_shm_zones_init(z3, z2, &test_log), PT_ERROR);
    ck_assert_ptr_null(keep3->shm.addr);
    ck_assert_ptr_null(bad3->shm.addr);
    ck_assert_int_eq(*(int *) keep2->data, 42);

    /* noreuse, or another owner, always maps afresh */
    z3 = new_zones(pool);
    keep3 = add_counter(pool, z3, "keep", ZONE_SIZE);
    keep3->noreuse = 1;
    ck_assert_int_eq(pt_shm_zones_init(z3, z2, &test_log), PT_OK);
    ck_assert_ptr_ne(keep3->shm.addr, keep2->shm.addr);
    ck_assert_ptr_null(init_old_data);
    z1 = new_zones(pool);
    ck_assert_ptr_nonnull(add(pool, z1, "keep", ZONE_SIZE, &tag_b));
    ck_assert_int_eq(pt_shm_zones_init(z1, z2, &test_log), PT_OK);
    ck_assert_ptr_ne((*(pt_shm_zone_t **) z1->elts)->shm.addr,
                     keep2->shm.addr);

    pt_shm_zones_free_unused(z2, NULL);
    ck_assert_ptr_null(keep2->shm.addr);
    pt_pool_destroy(pool);
}
END_TEST

START_TEST(memory_shared_across_fork)
{
    pt_shm_t        shm = { NULL, ZONE_SIZE, pt_string("raw"), NULL };
    pt_slab_pool_t *sp;
    char           *s;
    pid_t           pid;

    ck_assert_int_eq(pt_shm_alloc(&shm), PT_OK);
    sp = (pt_slab_pool_t *) shm.addr;
    pt_slab_init(sp, shm.size);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        alarm(5);
        s = pt_slab_alloc(sp, 64);
        if (s == NULL) {
            _exit(1);
        }
        strcpy(s, "written by the child");
        sp->data = s;
        _exit(0);
    }
    ck_assert_int_eq(wait_child(pid, 5000), 0);
    ck_assert_ptr_nonnull(sp->data);
    ck_assert_str_eq((char *) sp->data, "written by the child");
    ck_assert_uint_eq(sp->stats[3].used, 1);   /* 64-byte class */
    pt_shm_free(&shm);
    ck_assert_ptr_null(shm.addr);
}
END_TEST

START_TEST(shm_alloc_failure_is_logged)
{
    pt_shm_t shm = { NULL, 0, pt_string("empty"), &test_log };

    capture_log();
    ck_assert_int_eq(pt_shm_alloc(&shm), PT_ERROR);
    ck_assert(log_has("mmap(MAP_ANONYMOUS|MAP_SHARED, 0) failed"));
    ck_assert(log_has("\"empty\""));
}
END_TEST

/* Shared state for the locking tests, in a zone of its own. */
typedef struct {
    volatile long     counter;
    volatile pid_t    inside;       /* who is in the critical section */
    volatile long     violations;
    volatile pid_t    holder;       /* set once a child holds the lock */
} shared_t;

static pt_slab_pool_t *
lock_zone(pt_pool_t *pool, pt_array_t *zones, shared_t **sh)
{
    pt_shm_zone_t  *z = add(pool, zones, "locky", ZONE_SIZE, &tag_a);
    pt_slab_pool_t *sp;

    ck_assert_ptr_nonnull(z);
    ck_assert_int_eq(pt_shm_zones_init(zones, NULL, &test_log), PT_OK);
    sp = (pt_slab_pool_t *) z->shm.addr;
    *sh = pt_slab_calloc(sp, sizeof(shared_t));
    ck_assert_ptr_nonnull(*sh);
    return sp;
}

enum { WORKERS = 4, ROUNDS = 20000 };

static void
hammer(pt_slab_pool_t *sp, shared_t *sh)
{
    pid_t me = getpid();
    long  v;
    int   i;
    void *p;

    for (i = 0; i < ROUNDS; i++) {
        pt_shmtx_lock(&sp->mutex);
        if (sh->inside != 0 || sp->lock.lock != (uint32_t) me) {
            sh->violations++;
        }
        sh->inside = me;
        v = sh->counter;
        if (i % 256 == 0) {
            sched_yield();   /* widen the window a broken lock would show */
        }
        sh->counter = v + 1;
        sh->inside = 0;
        pt_shmtx_unlock(&sp->mutex);

        if (i % 16 == 0) {   /* the slab under contention, too */
            p = pt_slab_alloc(sp, (size_t) (i % 3000) + 1);
            if (p != NULL) {
                pt_slab_free(sp, p);
            }
        }
    }
}

START_TEST(shmtx_mutual_exclusion)
{
    pt_pool_t      *pool = pt_pool_create(4096, NULL);
    pt_array_t     *zones = new_zones(pool);
    shared_t       *sh;
    pt_slab_pool_t *sp;
    pt_slab_stat_t  st;
    pid_t           pids[WORKERS];
    int             i;

    capture_log();
    sp = lock_zone(pool, zones, &sh);
    /* cache this process's pid: children must not inherit it */
    ck_assert_int_eq(pt_shmtx_pid(), getpid());

    for (i = 0; i < WORKERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            alarm(20);
            if (pt_shmtx_pid() != getpid()) {
                _exit(2);
            }
            hammer(sp, sh);
            _exit(0);
        }
    }
    for (i = 0; i < WORKERS; i++) {
        ck_assert_int_eq(wait_child(pids[i], 20000), 0);
    }

    ck_assert_int_eq(sh->violations, 0);
    ck_assert_int_eq(sh->counter, (long) WORKERS * ROUNDS);
    ck_assert_uint_eq(sp->lock.lock, 0);
    pt_slab_stats(sp, &st);
    ck_assert_uint_eq(st.free_runs, 1);
    ck_assert_uint_eq(st.free_pages, st.pages - 1);   /* sh's page */
    pt_pool_destroy(pool);
}
END_TEST

START_TEST(shmtx_trylock_and_unlock_rules)
{
    pt_shmtx_sh_t word;
    pt_shmtx_t    mtx;

    pt_shmtx_init(&mtx, &word);
    ck_assert_int_eq(pt_shmtx_trylock(&mtx), 1);
    ck_assert_uint_eq(word.lock, (uint32_t) getpid());
    ck_assert_int_eq(pt_shmtx_trylock(&mtx), 0);
    ck_assert_int_eq(pt_shmtx_force_unlock(&mtx, getpid() + 1), 0);
    ck_assert_int_eq(pt_shmtx_force_unlock(&mtx, 0), 0);
    ck_assert_uint_eq(word.lock, (uint32_t) getpid());
    pt_shmtx_unlock(&mtx);
    ck_assert_uint_eq(word.lock, 0);

    /* unlocking a lock someone else holds changes nothing */
    word.lock = (uint32_t) getpid() + 1;
    pt_shmtx_unlock(&mtx);
    ck_assert_uint_eq(word.lock, (uint32_t) getpid() + 1);
    ck_assert_int_eq(pt_shmtx_force_unlock(&mtx, getpid() + 1), 1);
    ck_assert_uint_eq(word.lock, 0);
    pt_shmtx_lock(&mtx);
    ck_assert_uint_eq(word.lock, (uint32_t) getpid());
    pt_shmtx_unlock(&mtx);
}
END_TEST

/* The holder dies with SIGKILL while another child sleeps in lock(): the
 * master-side force unlock must free the zone and wake the sleeper. */
START_TEST(lock_recovery_after_sigkill)
{
    pt_pool_t      *pool = pt_pool_create(4096, NULL);
    pt_array_t     *zones = new_zones(pool);
    shared_t       *sh;
    pt_slab_pool_t *sp;
    pid_t           holder, waiter;
    char            expect[128];
    struct timespec t0, t1;
    int             t;

    capture_log();
    sp = lock_zone(pool, zones, &sh);

    holder = fork();
    ck_assert_int_ge(holder, 0);
    if (holder == 0) {
        alarm(10);
        pt_shmtx_lock(&sp->mutex);
        sh->holder = getpid();
        for (;;) {
            pause();   /* killed here, still holding the lock */
        }
    }
    for (t = 0; t < 5000 && sh->holder == 0; t++) {
        msleep(1);
    }
    ck_assert_int_eq(sh->holder, holder);

    waiter = fork();
    ck_assert_int_ge(waiter, 0);
    if (waiter == 0) {
        alarm(10);
        pt_shmtx_lock(&sp->mutex);
        sh->counter = 1;
        pt_shmtx_unlock(&sp->mutex);
        _exit(0);
    }
    for (t = 0; t < 5000 && sp->lock.wait == 0; t++) {
        msleep(1);
    }
    ck_assert_uint_ge(sp->lock.wait, 1);   /* asleep in pt_shmtx_lock() */

    ck_assert_int_eq(kill(holder, SIGKILL), 0);
    ck_assert_int_eq(wait_child(holder, 5000), -1);
    ck_assert_uint_eq(sp->lock.lock, (uint32_t) holder);
    ck_assert_int_eq(sh->counter, 0);

    /* the wrong pid changes nothing and logs nothing */
    pt_shm_zones_force_unlock(zones, waiter);
    ck_assert_uint_eq(sp->lock.lock, (uint32_t) holder);
    ck_assert(!log_has("was locked by"));

    clock_gettime(CLOCK_MONOTONIC, &t0);
    pt_shm_zones_force_unlock(zones, holder);
    snprintf(expect, sizeof(expect),
             "[alert] %d#%d: shared memory zone \"locky\" was locked by %d",
             (int) getpid(), (int) getpid(), (int) holder);
    ck_assert_msg(log_has(expect), "log: %s", log_text);

    /* woken by the unlock, not by the sleeper's 500 ms safety timeout */
    ck_assert_int_eq(wait_child(waiter, 5000), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000
                     + (t1.tv_nsec - t0.tv_nsec) / 1000000, 250);
    ck_assert_int_eq(sh->counter, 1);
    ck_assert_int_eq(pt_shmtx_trylock(&sp->mutex), 1);
    pt_shmtx_unlock(&sp->mutex);
    ck_assert_ptr_nonnull(pt_slab_alloc(sp, 100));
    pt_pool_destroy(pool);
}
END_TEST

START_TEST(lock_recovery_after_exit)
{
    pt_shmtx_sh_t *word;
    pt_shm_t       shm = { NULL, 4096, pt_string("w"), NULL };
    pt_shmtx_t     mtx;
    pid_t          pid;

    ck_assert_int_eq(pt_shm_alloc(&shm), PT_OK);
    word = (pt_shmtx_sh_t *) shm.addr;
    pt_shmtx_init(&mtx, word);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        pt_shmtx_lock(&mtx);
        _exit(0);   /* forgets to unlock */
    }
    ck_assert_int_eq(wait_child(pid, 5000), 0);
    ck_assert_int_eq(pt_shmtx_trylock(&mtx), 0);
    ck_assert_int_eq(pt_shmtx_force_unlock(&mtx, getpid()), 0);
    ck_assert_int_eq(pt_shmtx_force_unlock(&mtx, pid), 1);
    ck_assert_int_eq(pt_shmtx_force_unlock(&mtx, pid), 0);
    ck_assert_int_eq(pt_shmtx_trylock(&mtx), 1);
    pt_shmtx_unlock(&mtx);
    pt_shm_free(&shm);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("shm");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, zone_add_rules);
    tcase_add_test(tc, zero_size_zone_fails_init);
    tcase_add_test(tc, reload_reuses_zones);
    tcase_add_test(tc, memory_shared_across_fork);
    tcase_add_test(tc, shm_alloc_failure_is_logged);
    tcase_add_test(tc, shmtx_mutual_exclusion);
    tcase_add_test(tc, shmtx_trylock_and_unlock_rules);
    tcase_add_test(tc, lock_recovery_after_sigkill);
    tcase_add_test(tc, lock_recovery_after_exit);
    suite_add_tcase(s, tc);
    return s;
}

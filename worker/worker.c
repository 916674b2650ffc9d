/*
 * The worker process loop. Signals only set flags; the loop acts on them
 * between event-loop steps. A graceful stop stops accepting, lets requests
 * in flight finish, and exits when no connection is left (or when
 * worker_shutdown_timeout passes).
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "accept.h"
#include "common/core_module.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "timer.h"
#include "worker.h"

volatile sig_atomic_t pt_worker_quit;
volatile sig_atomic_t pt_worker_terminate;
volatile sig_atomic_t pt_worker_reopen;
int pt_worker_exiting;

static pt_event_t shutdown_timer;
static sigset_t    wait_mask;        /* empty: all signals during waits */

static void
on_signal(int signo)
{
    switch (signo) {
    case SIGQUIT:
        pt_worker_quit = 1;
        break;
    case SIGTERM:
    case SIGINT:
        pt_worker_terminate = 1;
        break;
    case SIGUSR1:
        pt_worker_reopen = 1;
        break;
    }
}

static int
set_signals(pt_log_t *log)
{
    struct sigaction sa;
    sigset_t         set;
    int              i;
    static const int handled[] = { SIGQUIT, SIGTERM, SIGINT, SIGUSR1 };
    static const int ignored[] = { SIGHUP, SIGUSR2, SIGWINCH, SIGPIPE,
                                   SIGCHLD };

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_signal;
    for (i = 0; i < (int) pt_nelems(handled); i++) {
        if (sigaction(handled[i], &sa, NULL) == -1) {
            pt_log_error(PT_LOG_ALERT, log, errno, "sigaction(%d) failed",
                         handled[i]);
            return PT_ERROR;
        }
    }
    sa.sa_handler = SIG_IGN;
    for (i = 0; i < (int) pt_nelems(ignored); i++) {
        if (sigaction(ignored[i], &sa, NULL) == -1) {
            pt_log_error(PT_LOG_ALERT, log, errno, "sigaction(%d) failed",
                         ignored[i]);
            return PT_ERROR;
        }
    }
    /* the handled signals stay blocked except inside the event loop's
     * wait (no signal is lost between a flag check and the wait) */
    sigemptyset(&set);
    for (i = 0; i < (int) pt_nelems(handled); i++) {
        sigaddset(&set, handled[i]);
    }
    if (sigprocmask(SIG_SETMASK, &set, NULL) == -1) {
        pt_log_error(PT_LOG_ALERT, log, errno, "sigprocmask() failed");
        return PT_ERROR;
    }
    sigemptyset(&wait_mask);
    pt_event_set_wait_sigmask(&wait_mask);
    return PT_OK;
}

/* Limits, priority, CPU and identity: what the process needs before it
 * serves anything. Failing to drop privileges is fatal. */
static int
set_process_state(pt_cycle_t *cycle, pt_core_conf_t *ccf, int slot)
{
    struct rlimit rl;
    cpu_set_t    *cpus;

    if (ccf->priority != 0 && setpriority(PRIO_PROCESS, 0, (int) ccf->priority)
        == -1)
    {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                     "setpriority(%d) failed", (int) ccf->priority);
    }
    if (ccf->rlimit_nofile != PT_CONF_UNSET) {
        rl.rlim_cur = rl.rlim_max = (rlim_t) ccf->rlimit_nofile;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                         "setrlimit(RLIMIT_NOFILE, %ld) failed",
                         (long) ccf->rlimit_nofile);
        }
    }
    cpus = slot >= 0 ? pt_core_cpu_affinity(ccf, (pt_uint_t) slot) : NULL;
    if (cpus != NULL && sched_setaffinity(0, sizeof(cpu_set_t), cpus) == -1) {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                     "sched_setaffinity() failed");
    }

    if (geteuid() == 0 && ccf->user != (uid_t) PT_CONF_UNSET_UINT) {
        if (setgid(ccf->group) == -1) {
            pt_log_error(PT_LOG_EMERG, cycle->log, errno, "setgid(%d) failed",
                         (int) ccf->group);
            return PT_ERROR;
        }
        if (initgroups((char *) ccf->username.data, ccf->group) == -1) {
            pt_log_error(PT_LOG_EMERG, cycle->log, errno,
                         "initgroups(%s, %d) failed", ccf->username.data,
                         (int) ccf->group);
            return PT_ERROR;
        }
        if (setuid(ccf->user) == -1) {
            pt_log_error(PT_LOG_EMERG, cycle->log, errno, "setuid(%d) failed",
                         (int) ccf->user);
            return PT_ERROR;
        }
        /* setuid clears it: core dumps and sanitizer leak checks need it */
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == -1) {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                         "prctl(PR_SET_DUMPABLE) failed");
        }
    }

    if (ccf->working_directory.data != NULL
        && chdir((char *) ccf->working_directory.data) == -1)
    {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno, "chdir(\"%s\") failed",
                     ccf->working_directory.data);
        return PT_ERROR;
    }
    return PT_OK;
}

extern char **environ;

/* Workers see only TZ and what `env` lists (nginx's rule): NAME keeps the
 * master's value, NAME=VALUE sets one. The array lives for the process. */
static int
set_environment(pt_core_conf_t *ccf, pt_log_t *log)
{
    pt_str_t   *e = ccf->env != NULL ? ccf->env->elts : NULL;
    pt_uint_t   n = ccf->env != NULL ? ccf->env->nelts : 0, i, k = 0;
    char      **env, *v;
    size_t      len;

    env = calloc(n + 2, sizeof(char *));
    if (env == NULL) {
        pt_log_error(PT_LOG_ALERT, log, errno, "calloc() failed");
        return PT_ERROR;
    }
    if ((v = getenv("TZ")) != NULL) {
        env[k++] = v - sizeof("TZ=") + 1;
    }
    for (i = 0; i < n; i++) {
        char *name = strndup((char *) e[i].data, e[i].len);

        if (name == NULL) {
            pt_log_error(PT_LOG_ALERT, log, errno, "strndup() failed");
            return PT_ERROR;
        }
        if (strchr(name, '=') != NULL) {
            env[k++] = name;
            continue;
        }
        v = strcmp(name, "TZ") == 0 ? NULL : getenv(name);
        if (v != NULL) {
            len = e[i].len;
            env[k++] = v - len - 1;   /* "NAME=value" as the master has it */
        }
        free(name);
    }
    env[k] = NULL;
    environ = env;
    return PT_OK;
}

static int
init_worker(pt_cycle_t *cycle, int slot)
{
    pt_core_conf_t *ccf = pt_core_conf(cycle);
    pt_uint_t       i;

    if (set_signals(cycle->log) != PT_OK
        || set_environment(ccf, cycle->log) != PT_OK
        || set_process_state(cycle, ccf, slot) != PT_OK)
    {
        return PT_ERROR;
    }
    pt_time_update();
    pt_accept_multi = ccf->multi_accept;

    if (pt_conn_table_init(ccf->connections, cycle->log) != PT_OK
        || pt_event_init(cycle->log, 512) != PT_OK)
    {
        return PT_ERROR;
    }
    for (i = 0; cycle->modules[i] != NULL; i++) {
        if (cycle->modules[i]->init_process != NULL
            && cycle->modules[i]->init_process(cycle) != PT_OK)
        {
            return PT_ERROR;
        }
    }
    return pt_accept_enable(cycle, slot);
}

static void
exit_worker(pt_cycle_t *cycle, int code)
{
    pt_uint_t i;

    for (i = 0; cycle->modules[i] != NULL; i++) {
        if (cycle->modules[i]->exit_process != NULL) {
            cycle->modules[i]->exit_process(cycle);
        }
    }
    pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "exit");
    exit(code);
}

static void
shutdown_timeout_handler(pt_event_t *ev)
{
    pt_cycle_t *cycle = ev->data;

    pt_log_error(PT_LOG_WARN, cycle->log, 0,
                 "worker_shutdown_timeout passed, closing %lu connections",
                 (unsigned long) (pt_conn_total_n() - pt_conn_free_n()));
    pt_http_close_all();
}

static void
begin_graceful_stop(pt_cycle_t *cycle)
{
    pt_core_conf_t *ccf = pt_core_conf(cycle);

    pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "gracefully shutting down");
    pt_proctitle_set("portico: worker process is shutting down");
    pt_worker_exiting = 1;
    pt_accept_disable();
    pt_accept_close_listeners(cycle);
    pt_http_shutdown();

    if (ccf->shutdown_timeout > 0) {
        shutdown_timer.data = cycle;
        shutdown_timer.handler = shutdown_timeout_handler;
        shutdown_timer.log = cycle->log;
        shutdown_timer.cancelable = 1;
        pt_timer_add(&shutdown_timer, ccf->shutdown_timeout);
    }
}

static void
run_loop(pt_cycle_t *cycle)
{
    for (;;) {
        if (pt_worker_exiting && pt_conn_free_n() == pt_conn_total_n()) {
            exit_worker(cycle, 0);
        }

        (void) pt_event_process(pt_timer_find());

        if (pt_worker_terminate) {
            pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "exiting");
            exit_worker(cycle, 0);
        }
        if (pt_worker_quit) {
            pt_worker_quit = 0;
            if (!pt_worker_exiting) {
                begin_graceful_stop(cycle);
            }
        }
        if (pt_worker_reopen) {
            pt_worker_reopen = 0;
            pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "reopening logs");
            pt_log_reopen_files(&cycle->open_files, (uid_t) -1, cycle->log);
        }
    }
}

void
pt_worker_process(pt_cycle_t *cycle, int slot)
{
    pt_proctitle_set("portico: worker process");
    if (init_worker(cycle, slot) != PT_OK) {
        /* exit code 2 tells the master not to respawn this in a loop */
        exit(2);
    }
    run_loop(cycle);
    exit(0);
}

void
pt_worker_single(pt_cycle_t *cycle)
{
    if (init_worker(cycle, 0) != PT_OK) {
        exit(1);
    }
    run_loop(cycle);
    exit(0);
}

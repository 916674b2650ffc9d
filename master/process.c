/*
 * The master loop: signals are blocked except inside sigsuspend(), their
 * handlers only set flags, and the loop acts on the flags. Workers are
 * tracked in a fixed table; a reload starts the new generation before the
 * old one is told to quit, so every socket always has a worker.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/core_module.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/proctitle.h"
#include "common/shm.h"
#include "common/time.h"
#include "cycle.h"
#include "listen.h"
#include "process.h"
#include "upgrade.h"
#include "worker/worker.h"

#define MAX_PROCESSES   1024
/* A worker that dies this soon after its start counts as a quick death;
 * after a few in a row its respawns are spaced out. */
#define QUICK_DEATH_MS  1000
#define QUICK_DEATHS    3
#define RESPAWN_DELAY   500

typedef struct {
    pid_t       pid;           /* 0: free entry */
    int         slot;          /* worker slot (reuseport socket index) */
    pt_cycle_t *cycle;
    pt_msec_t   started;
    pt_msec_t   respawn_at;    /* > 0: dead, respawn due then */
    int         quick_deaths;
    unsigned    exiting:1;     /* told to stop: never respawned */
} proc_t;

char **pt_argv;
int    pt_argc;
int    pt_daemonized;

static proc_t processes[MAX_PROCESSES];
static pid_t  new_binary;
static int    noaccepting;

static volatile sig_atomic_t sig_reap, sig_terminate, sig_quit, sig_reload,
                             sig_reopen, sig_upgrade, sig_noaccept, sig_alarm;

static void
on_signal(int signo)
{
    int saved = errno;

    switch (signo) {
    case SIGCHLD: sig_reap = 1; break;
    case SIGTERM:
    case SIGINT: sig_terminate = 1; break;
    case SIGQUIT: sig_quit = 1; break;
    case SIGHUP: sig_reload = 1; break;
    case SIGUSR1: sig_reopen = 1; break;
    case SIGUSR2: sig_upgrade = 1; break;
    case SIGWINCH: sig_noaccept = 1; break;
    case SIGALRM: sig_alarm = 1; break;
    }
    errno = saved;
}

static const int master_signals[] = {
    SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH,
    SIGALRM
};

static int
init_signals(pt_log_t *log)
{
    struct sigaction sa;
    sigset_t         set;
    size_t           i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigemptyset(&set);
    for (i = 0; i < pt_nelems(master_signals); i++) {
        if (sigaction(master_signals[i], &sa, NULL) == -1) {
            pt_log_error(PT_LOG_EMERG, log, errno, "sigaction(%d) failed",
                         master_signals[i]);
            return PT_ERROR;
        }
        sigaddset(&set, master_signals[i]);
    }
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL) == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "sigaction(SIGPIPE) failed");
        return PT_ERROR;
    }
    if (sigprocmask(SIG_BLOCK, &set, NULL) == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "sigprocmask() failed");
        return PT_ERROR;
    }
    return PT_OK;
}

static void
spawn(proc_t *p, pt_cycle_t *cycle, int slot)
{
    pid_t pid = fork();

    if (pid == -1) {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                     "fork() failed while spawning \"worker process\"");
        p->pid = 0;
        p->respawn_at = pt_current_msec + RESPAWN_DELAY;
        return;
    }
    if (pid == 0) {
        pt_worker_process(cycle, slot);
    }
    p->pid = pid;
    p->slot = slot;
    p->cycle = cycle;
    p->started = pt_current_msec;
    p->respawn_at = 0;
    p->exiting = 0;
    pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "start worker process %d",
                 (int) pid);
}

static void
start_workers(pt_cycle_t *cycle)
{
    pt_core_conf_t *ccf = pt_core_conf(cycle);
    pt_int_t        slot;
    int             i;

    for (slot = 0; slot < ccf->worker_processes; slot++) {
        for (i = 0; i < MAX_PROCESSES; i++) {
            if (processes[i].pid == 0 && processes[i].respawn_at == 0) {
                break;
            }
        }
        if (i == MAX_PROCESSES) {
            pt_log_error(PT_LOG_ALERT, cycle->log, 0, "no more than %d "
                         "processes can be spawned", MAX_PROCESSES);
            return;
        }
        processes[i].quick_deaths = 0;
        spawn(&processes[i], cycle, (int) slot);
    }
}

static void
signal_workers(pt_cycle_t *cycle, int signo)
{
    int i;

    for (i = 0; i < MAX_PROCESSES; i++) {
        if (processes[i].pid <= 0) {
            continue;
        }
        if (signo == SIGQUIT || signo == SIGTERM || signo == SIGKILL) {
            processes[i].exiting = 1;
        }
        if (kill(processes[i].pid, signo) == -1 && errno != ESRCH) {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno, "kill(%d, %d) failed",
                         (int) processes[i].pid, signo);
        }
    }
    /* a pending respawn of a stopped worker is cancelled too */
    if (signo != SIGUSR1) {
        for (i = 0; i < MAX_PROCESSES; i++) {
            if (processes[i].pid == 0) {
                processes[i].respawn_at = 0;
            }
        }
    }
}

static void
log_exit(pt_cycle_t *cycle, pid_t pid, int status)
{
    if (WIFSIGNALED(status)) {
        pt_log_error(PT_LOG_ALERT, cycle->log, 0,
                     "worker process %d exited on signal %d%s", (int) pid,
                     WTERMSIG(status),
                     WCOREDUMP(status) ? " (core dumped)" : "");
    } else {
        pt_log_error(WEXITSTATUS(status) ? PT_LOG_ALERT : PT_LOG_NOTICE,
                     cycle->log, 0, "worker process %d exited with code %d",
                     (int) pid, WEXITSTATUS(status));
    }
}

/* A worker died without being told to: respawn it now, or later if it
 * keeps dying right after its start. */
static void
schedule_respawn(proc_t *p, pt_cycle_t *cycle, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
        pt_log_error(PT_LOG_ALERT, cycle->log, 0, "worker process exited with "
                     "fatal code 2 and cannot be respawned");
        p->respawn_at = 0;
        return;
    }
    if (pt_current_msec - p->started < QUICK_DEATH_MS) {
        p->quick_deaths++;
    } else {
        p->quick_deaths = 0;
    }
    if (p->quick_deaths >= QUICK_DEATHS) {
        pt_log_error(PT_LOG_ALERT, cycle->log, 0, "worker process of slot %d "
                     "keeps dying, respawning it in %d ms", p->slot,
                     RESPAWN_DELAY);
        p->respawn_at = pt_current_msec + RESPAWN_DELAY;
    } else {
        p->respawn_at = pt_current_msec;
    }
}

/* Returns whether any worker is still alive. */
static int
reap(pt_cycle_t *cycle)
{
    pid_t pid;
    int   status, i, live = 0;

    for (;;) {
        pid = waitpid(-1, &status, WNOHANG);
        if (pid == 0) {
            break;
        }
        if (pid == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != ECHILD) {
                pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                             "waitpid() failed");
            }
            break;
        }
        if (pid == new_binary) {
            pt_log_error(PT_LOG_ALERT, cycle->log, 0, "new binary process %d "
                         "exited, the old one takes the pid file back",
                         (int) pid);
            pt_upgrade_failed(cycle);
            new_binary = 0;
            if (noaccepting) {
                noaccepting = 0;
                start_workers(cycle);
            }
            continue;
        }
        for (i = 0; i < MAX_PROCESSES; i++) {
            proc_t *p = &processes[i];

            if (p->pid != pid) {
                continue;
            }
            log_exit(cycle, pid, status);
            /* a lock it held in shared memory must not stay held */
            pt_shm_zones_force_unlock(&cycle->shm_zones, pid);
            p->pid = 0;
            if (!p->exiting && p->cycle == cycle) {
                schedule_respawn(p, cycle, status);
            }
            break;
        }
    }

    for (i = 0; i < MAX_PROCESSES; i++) {
        if (processes[i].pid > 0 || processes[i].respawn_at > 0) {
            live = 1;
        }
    }
    return live;
}

/* Respawn what is due; returns ms until the next pending one, or 0. */
static pt_msec_t
respawn_due(pt_cycle_t *cycle)
{
    pt_msec_t next = 0, left;
    int       i;

    for (i = 0; i < MAX_PROCESSES; i++) {
        proc_t *p = &processes[i];

        if (p->pid != 0 || p->respawn_at == 0) {
            continue;
        }
        left = p->respawn_at - pt_current_msec;
        if (left <= 0) {
            spawn(p, cycle, p->slot);
        } else if (next == 0 || left < next) {
            next = left;
        }
    }
    return next;
}

static void
set_alarm(pt_msec_t ms, pt_log_t *log)
{
    struct itimerval it;

    memset(&it, 0, sizeof(it));
    it.it_value.tv_sec = ms / 1000;
    it.it_value.tv_usec = (ms % 1000) * 1000;
    if (setitimer(ITIMER_REAL, &it, NULL) == -1) {
        pt_log_error(PT_LOG_ALERT, log, errno, "setitimer() failed");
    }
}

static void __attribute__((noreturn))
master_exit(pt_cycle_t *cycle)
{
    pt_core_conf_t *ccf = pt_core_conf(cycle);

    /* after an upgrade the new master owns the pid file */
    if (new_binary) {
        if (unlink((char *) ccf->oldpid.data) == -1 && errno != ENOENT) {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                         "unlink() \"%s\" failed", ccf->oldpid.data);
        }
    } else {
        pt_cycle_delete_pidfile(cycle);
    }
    pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "exit");
    pt_listen_close_all(cycle, new_binary == 0);
    exit(0);
}

static pt_cycle_t *
reload(pt_cycle_t *cycle)
{
    pt_cycle_t     *fresh;
    pt_core_conf_t *old_ccf = pt_core_conf(cycle), *ccf;
    int             i;

    pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "reconfiguring");
    fresh = pt_cycle_init(cycle, 0);
    if (fresh == NULL) {
        pt_log_error(PT_LOG_ALERT, cycle->log, 0, "reload failed: still "
                     "running with the configuration loaded before");
        return cycle;
    }
    ccf = pt_core_conf(fresh);
    if (!pt_str_eq(&ccf->pid, &old_ccf->pid)) {
        if (pt_cycle_create_pidfile(&ccf->pid, fresh->log) == PT_OK) {
            pt_cycle_delete_pidfile(cycle);
        }
    }

    /* the old generation quits only after the new one exists */
    for (i = 0; i < MAX_PROCESSES; i++) {
        if (processes[i].pid > 0) {
            processes[i].exiting = 1;
        } else {
            processes[i].respawn_at = 0;
        }
    }
    start_workers(fresh);
    for (i = 0; i < MAX_PROCESSES; i++) {
        if (processes[i].pid > 0 && processes[i].cycle == cycle
            && kill(processes[i].pid, SIGQUIT) == -1 && errno != ESRCH)
        {
            pt_log_error(PT_LOG_ALERT, fresh->log, errno, "kill(%d, QUIT) "
                         "failed", (int) processes[i].pid);
        }
    }
    /* the new workers have their copies of draining sockets now */
    pt_listen_close_draining(fresh);
    pt_cycle_free_old(cycle, fresh);
    for (i = 0; i < MAX_PROCESSES; i++) {
        if (processes[i].cycle == cycle) {
            processes[i].cycle = NULL;
        }
    }
    return fresh;
}

static void
set_title(void)
{
    char   buf[200];
    size_t n = 0;
    int    i;

    for (i = 0; i < pt_argc && n < sizeof(buf) - 1; i++) {
        int w = snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? " " : "",
                         pt_argv[i]);

        if (w < 0) {
            break;
        }
        n += (size_t) w;
    }
    buf[pt_min(n, sizeof(buf) - 1)] = '\0';
    pt_proctitle_set("portico: master process %s", buf);
}

void
pt_master_process(pt_cycle_t *cycle)
{
    sigset_t        empty;
    pt_msec_t       delay = 0, next;
    int             live = 1, quitting = 0;
    pt_core_conf_t *ccf;

    if (init_signals(cycle->log) != PT_OK) {
        exit(1);
    }
    set_title();
    sigemptyset(&empty);
    pt_time_update();
    start_workers(cycle);
    pt_listen_close_draining(cycle);

    for (;;) {
        if (delay) {
            if (sig_alarm) {
                sig_alarm = 0;
                delay *= 2;
            }
            set_alarm(delay, cycle->log);
        }

        sigsuspend(&empty);
        pt_time_update();

        if (sig_reap) {
            sig_reap = 0;
            live = reap(cycle);
        }
        if (!live && (sig_terminate || quitting)) {
            master_exit(cycle);
        }
        if (sig_terminate) {
            if (delay == 0) {
                delay = 50;
                pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "exiting");
            }
            signal_workers(cycle, delay > 1000 ? SIGKILL : SIGTERM);
            continue;
        }
        if (sig_quit) {
            sig_quit = 0;
            if (!quitting) {
                pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "gracefully "
                             "shutting down");
                quitting = 1;
                signal_workers(cycle, SIGQUIT);
                pt_listen_close_all(cycle, new_binary == 0);
            }
            live = reap(cycle);
            if (!live) {
                master_exit(cycle);
            }
            continue;
        }
        if (quitting) {
            continue;
        }

        if (sig_alarm && !delay) {
            sig_alarm = 0;
        }
        next = respawn_due(cycle);
        if (next > 0 && !delay) {
            set_alarm(next, cycle->log);
        }

        if (sig_reload) {
            sig_reload = 0;
            if (new_binary) {
                /* rollback: the old binary serves again */
                pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "start worker "
                             "processes (rollback from the new binary)");
                start_workers(cycle);
                noaccepting = 0;
            } else if (noaccepting) {
                noaccepting = 0;
                start_workers(cycle);
            } else {
                cycle = reload(cycle);
            }
            live = 1;
        }
        if (sig_reopen) {
            sig_reopen = 0;
            ccf = pt_core_conf(cycle);
            pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "reopening logs");
            pt_log_reopen_files(&cycle->open_files,
                                geteuid() == 0 ? ccf->user : (uid_t) -1,
                                cycle->log);
            signal_workers(cycle, SIGUSR1);
        }
        if (sig_upgrade) {
            sig_upgrade = 0;
            if (new_binary) {
                pt_log_error(PT_LOG_ALERT, cycle->log, 0, "the changing binary "
                             "signal is ignored: you should shutdown or "
                             "terminate before either old or new binary's "
                             "process");
            } else {
                new_binary = pt_upgrade_exec(cycle, pt_argv);
                if (new_binary == -1) {
                    new_binary = 0;
                }
            }
        }
        if (sig_noaccept) {
            sig_noaccept = 0;
            if (pt_daemonized) {
                pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "gracefully "
                             "shutting down worker processes");
                noaccepting = 1;
                signal_workers(cycle, SIGQUIT);
            }
        }
    }
}

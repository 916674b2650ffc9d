/*
 * Binary upgrade. The new master is a child of the old one and does not
 * daemonize again; it adopts the sockets listed in $PORTICO instead of
 * binding, so no connection queued on them is lost.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/core_module.h"
#include "common/cycle.h"
#include "common/log.h"
#include "listen.h"
#include "upgrade.h"

extern char **environ;

static char binary[PATH_MAX];

int
pt_upgrade_save_binary(const char *argv0)
{
    char cwd[PATH_MAX];
    int  n;

    if (argv0[0] == '/') {
        n = snprintf(binary, sizeof(binary), "%s", argv0);
    } else if (strchr(argv0, '/') != NULL) {
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            return PT_ERROR;
        }
        n = snprintf(binary, sizeof(binary), "%s/%s", cwd, argv0);
    } else {
        /* found through $PATH: the shell's lookup gives the same file */
        n = snprintf(binary, sizeof(binary), "%s", argv0);
    }
    return (n < 0 || (size_t) n >= sizeof(binary)) ? PT_ERROR : PT_OK;
}

/* environ plus PORTICO=...; the old value of PORTICO is dropped. */
static char **
build_env(pt_cycle_t *cycle)
{
    char   **env, *var;
    size_t   n, i, k = 0;

    var = pt_listen_env(cycle);
    if (var == NULL) {
        return NULL;
    }
    for (n = 0; environ[n] != NULL; n++) {
        /* count */
    }
    env = malloc((n + 2) * sizeof(char *));
    if (env == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (strncmp(environ[i], PT_LISTEN_ENV "=", sizeof(PT_LISTEN_ENV))
            != 0)
        {
            env[k++] = environ[i];
        }
    }
    env[k++] = var;
    env[k] = NULL;
    return env;
}

pid_t
pt_upgrade_exec(pt_cycle_t *cycle, char *const argv[])
{
    pt_core_conf_t *ccf = pt_core_conf(cycle);
    pid_t           pid;
    char          **env;

    if (rename((char *) ccf->pid.data, (char *) ccf->oldpid.data) == -1) {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                     "rename() %s to %s failed before executing new binary "
                     "process \"%s\"", ccf->pid.data, ccf->oldpid.data,
                     binary);
        return -1;
    }

    pid = fork();
    if (pid == -1) {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                     "fork() failed while executing new binary process "
                     "\"%s\"", binary);
        pt_upgrade_failed(cycle);
        return -1;
    }
    if (pid == 0) {
        sigset_t set;

        /* signals blocked by the master must not stay blocked */
        sigemptyset(&set);
        (void) sigprocmask(SIG_SETMASK, &set, NULL);
        env = build_env(cycle);
        if (env == NULL) {
            pt_log_error(PT_LOG_ALERT, cycle->log, 0,
                         "could not build the environment for \"%s\"", binary);
            _exit(1);
        }
        execve(binary, argv, env);
        pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                     "execve() failed while executing new binary process "
                     "\"%s\"", binary);
        _exit(1);
    }

    pt_log_error(PT_LOG_NOTICE, cycle->log, 0, "start new binary process %d",
                 (int) pid);
    return pid;
}

void
pt_upgrade_failed(pt_cycle_t *cycle)
{
    pt_core_conf_t *ccf = pt_core_conf(cycle);

    if (rename((char *) ccf->oldpid.data, (char *) ccf->pid.data) == -1) {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                     "rename() %s back to %s failed after the new binary "
                     "process \"%s\" exited", ccf->oldpid.data, ccf->pid.data,
                     binary);
    }
}

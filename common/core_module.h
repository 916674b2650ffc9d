/*
 * Main-context and events-block directives: process count and identity,
 * pid file, error_log, daemon mode, worker limits. Read by master and worker.
 */
#ifndef PT_CORE_MODULE_H
#define PT_CORE_MODULE_H

#include <sched.h>
#include <sys/types.h>

#include "array.h"
#include "conf.h"
#include "pt_types.h"
#include "str.h"

typedef struct {
    int          daemon;
    int          master;
    pt_int_t     worker_processes;
    pt_msec_t    shutdown_timeout;        /* worker_shutdown_timeout, 0: none */
    pt_int_t     rlimit_nofile;
    pt_int_t     priority;
    int          pcre_jit;
    uid_t        user;
    gid_t        group;
    pt_str_t     username;
    pt_str_t     pid;                     /* absolute path */
    pt_str_t     oldpid;                  /* pid + ".oldbin" */
    pt_str_t     working_directory;
    pt_array_t  *env;                     /* pt_str_t "NAME" or "NAME=VALUE" */
    pt_array_t  *cpu_affinity;            /* cpu_set_t per worker */
    int          cpu_affinity_auto;
    /* events { } */
    pt_uint_t    connections;             /* worker_connections */
    int          multi_accept;
    int          accept_mutex;
    int          events_seen;
} pt_core_conf_t;

extern pt_module_t pt_core_module;

/* The core conf of a cycle (after configuration). */
pt_core_conf_t *pt_core_conf(pt_cycle_t *cycle);

/* Fill `log` from an error_log directive's arguments (FILE, stderr or
 * syslog:..., and an optional level): shared by every level that takes
 * error_log. Returns a setter result. */
char *pt_core_error_log_target(pt_conf_t *cf, pt_log_t *log);

/* The CPU set for worker `n`, or NULL when no affinity was configured. */
cpu_set_t *pt_core_cpu_affinity(pt_core_conf_t *ccf, pt_uint_t n);

#endif /* PT_CORE_MODULE_H */

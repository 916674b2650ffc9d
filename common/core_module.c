/*
 * The core module: directives of the main context and of the events block.
 * Values are checked and resolved here (user names, paths, CPU masks) so
 * that -t reports every problem before a reload can hit it.
 */
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "core_module.h"
#include "regex.h"
#include "cycle.h"
#include "log.h"
#include "pool.h"
#include "pt_auto.h"
#include "syslog.h"

static void *core_create_conf(pt_conf_t *cf);
static char *core_init_conf(pt_conf_t *cf, void *conf);
static char *set_worker_processes(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_user(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_error_log(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_events(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_use(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_priority(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_cpu_affinity(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_load_module(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_pcre_jit(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static const int notice = 1;   /* post for pt_conf_set_noop: log a notice */

static pt_command_t core_commands[] = {
    { "daemon", PT_CONF_MAIN | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, daemon), NULL },
    { "master_process", PT_CONF_MAIN | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, master), NULL },
    { "worker_processes", PT_CONF_MAIN | PT_CONF_TAKE1, set_worker_processes,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "worker_shutdown_timeout", PT_CONF_MAIN | PT_CONF_TAKE1,
      pt_conf_set_msec, PT_CONF_MAIN_OFFSET,
      offsetof(pt_core_conf_t, shutdown_timeout), NULL },
    { "worker_rlimit_nofile", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_num,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, rlimit_nofile), NULL },
    { "worker_priority", PT_CONF_MAIN | PT_CONF_TAKE1, set_priority,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "worker_cpu_affinity", PT_CONF_MAIN | PT_CONF_1MORE, set_cpu_affinity,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "pcre_jit", PT_CONF_MAIN | PT_CONF_FLAG, set_pcre_jit,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, pcre_jit), NULL },
    { "user", PT_CONF_MAIN | PT_CONF_TAKE12, set_user,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "pid", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, pid), NULL },
    { "error_log", PT_CONF_MAIN | PT_CONF_1MORE, set_error_log,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "env", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_str_array,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, env), NULL },
    { "working_directory", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, working_directory), NULL },
    { "load_module", PT_CONF_MAIN | PT_CONF_TAKE1, set_load_module,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "thread_pool", PT_CONF_MAIN | PT_CONF_TAKE23, pt_conf_set_noop,
      PT_CONF_MAIN_OFFSET, 0, &notice },
    { "lock_file", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "timer_resolution", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "worker_rlimit_core", PT_CONF_MAIN | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "events", PT_CONF_MAIN | PT_CONF_BLOCK | PT_CONF_NOARGS, set_events,
      PT_CONF_MAIN_OFFSET, 0, NULL },

    { "worker_connections", PT_CONF_EVENTS | PT_CONF_TAKE1, pt_conf_set_num,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, connections), NULL },
    { "multi_accept", PT_CONF_EVENTS | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, multi_accept), NULL },
    { "accept_mutex", PT_CONF_EVENTS | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_MAIN_OFFSET, offsetof(pt_core_conf_t, accept_mutex), NULL },
    { "accept_mutex_delay", PT_CONF_EVENTS | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "use", PT_CONF_EVENTS | PT_CONF_TAKE1, set_use,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "worker_aio_requests", PT_CONF_EVENTS | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "debug_connection", PT_CONF_EVENTS | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_core_module = {
    "core", core_commands,
    core_create_conf, core_init_conf,
    NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_CORE, NULL
};

pt_core_conf_t *
pt_core_conf(pt_cycle_t *cycle)
{
    return cycle->conf_ctx[pt_core_module.index];
}

static void *
core_create_conf(pt_conf_t *cf)
{
    pt_core_conf_t *ccf = pt_pcalloc(cf->pool, sizeof(pt_core_conf_t));

    if (ccf == NULL) {
        return NULL;
    }
    ccf->daemon = PT_CONF_UNSET;
    ccf->master = PT_CONF_UNSET;
    ccf->worker_processes = PT_CONF_UNSET;
    ccf->shutdown_timeout = PT_CONF_UNSET_MSEC;
    ccf->rlimit_nofile = PT_CONF_UNSET;
    ccf->priority = 0;
    ccf->pcre_jit = PT_CONF_UNSET;
    ccf->user = (uid_t) PT_CONF_UNSET_UINT;
    ccf->group = (gid_t) PT_CONF_UNSET_UINT;
    ccf->env = PT_CONF_UNSET_PTR;
    ccf->connections = PT_CONF_UNSET_UINT;
    ccf->multi_accept = PT_CONF_UNSET;
    ccf->accept_mutex = PT_CONF_UNSET;
    return ccf;
}

/* Look up `user` (and `group`, or the user's primary group). */
static char *
resolve_user(pt_conf_t *cf, pt_core_conf_t *ccf, const char *user,
             const char *group)
{
    struct passwd *pw;
    struct group  *gr;

    pw = getpwnam(user);
    if (pw == NULL) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "getpwnam(\"%s\") failed",
                          user);
        return PT_CONF_ERROR;
    }
    ccf->user = pw->pw_uid;
    ccf->group = pw->pw_gid;

    if (group != NULL) {
        gr = getgrnam(group);
        if (gr == NULL) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "getgrnam(\"%s\") failed",
                              group);
            return PT_CONF_ERROR;
        }
        ccf->group = gr->gr_gid;
    }
    return PT_CONF_OK;
}

static char *
core_init_conf(pt_conf_t *cf, void *conf)
{
    pt_core_conf_t *ccf = conf;
    pt_str_t        old;

    if (!ccf->events_seen) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0,
                     "no \"events\" section in configuration");
        return PT_CONF_ERROR;
    }

    pt_conf_init_value(ccf->daemon, 1);
    pt_conf_init_value(ccf->master, 1);
    pt_conf_init_value(ccf->worker_processes, 1);
    pt_conf_init_msec(ccf->shutdown_timeout, 0);
    pt_conf_init_value(ccf->pcre_jit, 0);
    pt_conf_init_value(ccf->multi_accept, 0);
    pt_conf_init_value(ccf->accept_mutex, 0);
    if (ccf->connections == PT_CONF_UNSET_UINT) {
        ccf->connections = 512;
    }
    if (ccf->connections < 2) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0,
                     "%lu worker_connections are not enough",
                     (unsigned long) ccf->connections);
        return PT_CONF_ERROR;
    }
    if (ccf->env == PT_CONF_UNSET_PTR) {
        ccf->env = NULL;
    }

    /* nginx's rule: a root master runs its workers as nobody; the group is
     * nobody's primary group (Debian has no group "nobody"). */
    if (ccf->user == (uid_t) PT_CONF_UNSET_UINT && geteuid() == 0) {
        cf->node = NULL;
        if (resolve_user(cf, ccf, "nobody", NULL) != PT_CONF_OK) {
            return PT_CONF_ERROR;
        }
        pt_str_set(&ccf->username, "nobody");
    }

    if (ccf->pid.data == NULL) {
        pt_str_set(&ccf->pid, PT_PID_PATH);
    }
    if (pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix, &ccf->pid)
        != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    old = ccf->pid;
    ccf->oldpid.len = old.len + sizeof(".oldbin") - 1;
    ccf->oldpid.data = pt_pnalloc(cf->pool, ccf->oldpid.len + 1);
    if (ccf->oldpid.data == NULL) {
        return PT_CONF_ERROR;
    }
    memcpy(ccf->oldpid.data, old.data, old.len);
    memcpy(ccf->oldpid.data + old.len, ".oldbin", sizeof(".oldbin"));

    if (ccf->working_directory.data != NULL
        && pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix,
                                    &ccf->working_directory) != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

static char *
set_worker_processes(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_core_conf_t *ccf = conf;
    long            n;

    if (ccf->worker_processes != PT_CONF_UNSET) {
        return "is duplicate";
    }
    if (pt_str_eq_cstr(&cf->args[1], "auto")) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
        ccf->worker_processes = n > 0 ? n : 1;
        return PT_CONF_OK;
    }
    ccf->worker_processes = pt_atoi(cf->args[1].data, cf->args[1].len);
    if (ccf->worker_processes == PT_ERROR || ccf->worker_processes == 0) {
        return "invalid value";
    }
    if (ccf->worker_processes > 1024) {
        return "is too large (at most 1024)";
    }
    return PT_CONF_OK;
}

static char *
set_user(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_core_conf_t *ccf = conf;
    u_char         *user, *group = NULL;

    if (ccf->user != (uid_t) PT_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    if (geteuid() != 0) {
        pt_conf_log_error(PT_LOG_WARN, cf, 0,
                          "the \"user\" directive makes sense only if the "
                          "master process runs with super-user privileges, "
                          "ignored");
        return PT_CONF_OK;
    }

    user = pt_pstrdup(cf->pool, &cf->args[1]);
    if (cf->nargs == 3) {
        group = pt_pstrdup(cf->pool, &cf->args[2]);
    }
    if (user == NULL || (cf->nargs == 3 && group == NULL)) {
        return PT_CONF_ERROR;
    }
    ccf->username.data = user;
    ccf->username.len = cf->args[1].len;
    return resolve_user(cf, ccf, (char *) user, (char *) group);
}

char *
pt_core_error_log_target(pt_conf_t *cf, pt_log_t *log)
{
    pt_str_t  name = cf->args[1];
    pt_int_t  level = PT_LOG_ERR;

    if (cf->nargs > 3) {
        return "has too many levels: only one is supported";
    }
    if (cf->nargs == 3) {
        level = pt_log_level_parse(&cf->args[2]);
        if (level < 0) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid log level \"%.*s\"",
                              (int) cf->args[2].len, cf->args[2].data);
            return PT_CONF_ERROR;
        }
    }
    log->level = (pt_uint_t) level;
    log->fd = -1;
    log->file = NULL;

    if (pt_syslog_is_target(&name)) {
        return pt_syslog_error_log(cf, log, &name) == PT_OK ? PT_CONF_OK
                                                             : PT_CONF_ERROR;
    }
    if (pt_str_eq_cstr(&name, "stderr")) {
        log->fd = 2;
        return PT_CONF_OK;
    }
    if (pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix, &name)
        != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    /* one open file per path, shared by every log that names it */
    log->file = pt_log_open_file(&cf->cycle->open_files, cf->pool, &name);
    return log->file != NULL ? PT_CONF_OK : PT_CONF_ERROR;
}

/* error_log FILE|stderr|syslog:... [LEVEL]: the first one replaces the
 * built-in log, further ones add targets (as nginx). */
static char *
set_error_log(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_cycle_t *cycle = cf->cycle;
    pt_log_t   *log, **tail;

    if (cycle->new_log.level != 0) {
        log = pt_pcalloc(cf->pool, sizeof(pt_log_t));
        if (log == NULL) {
            return PT_CONF_ERROR;
        }
        for (tail = &cycle->new_log.next; *tail; tail = &(*tail)->next) {
            /* append at the end */
        }
        *tail = log;
    } else {
        log = &cycle->new_log;
    }
    return pt_core_error_log_target(cf, log);
}

static char *
set_events(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_core_conf_t *ccf = conf;
    pt_uint_t       saved = cf->ctx_type;
    int             rc;

    if (ccf->events_seen) {
        return "is duplicate";
    }
    ccf->events_seen = 1;

    cf->ctx_type = PT_CONF_EVENTS;
    rc = pt_conf_apply(cf, cf->node->children);
    cf->ctx_type = saved;
    return rc == PT_OK ? PT_CONF_OK : PT_CONF_ERROR;
}

static char *
set_use(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    if (!pt_str_eq_cstr(&cf->args[1], "epoll")) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid event type \"%.*s\"",
                          (int) cf->args[1].len, cf->args[1].data);
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

static char *
set_priority(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_core_conf_t *ccf = conf;
    pt_str_t        v = cf->args[1];
    int             neg = 0;
    pt_int_t        n;

    if (v.len > 0 && (v.data[0] == '-' || v.data[0] == '+')) {
        neg = v.data[0] == '-';
        v.data++;
        v.len--;
    }
    n = pt_atoi(v.data, v.len);
    if (n == PT_ERROR || n > 20) {
        return "invalid number";
    }
    ccf->priority = neg ? -n : n;
    return PT_CONF_OK;
}

/* worker_cpu_affinity auto [mask] | mask... ; masks are binary strings
 * with the rightmost digit for CPU 0. */
static char *
set_cpu_affinity(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_core_conf_t *ccf = conf;
    cpu_set_t      *set;
    pt_uint_t       i, first = 1;
    size_t          k;

    if (ccf->cpu_affinity != NULL || ccf->cpu_affinity_auto) {
        return "is duplicate";
    }
    if (pt_str_eq_cstr(&cf->args[1], "auto")) {
        if (cf->nargs > 3) {
            return "has too many parameters";
        }
        ccf->cpu_affinity_auto = 1;
        first = 2;
    }

    ccf->cpu_affinity = pt_array_create(cf->pool, cf->nargs, sizeof(cpu_set_t));
    if (ccf->cpu_affinity == NULL) {
        return PT_CONF_ERROR;
    }
    for (i = first; i < cf->nargs; i++) {
        pt_str_t *m = &cf->args[i];

        if (m->len > CPU_SETSIZE) {
            return "supports up to 1024 CPUs only";
        }
        set = pt_array_push(ccf->cpu_affinity);
        if (set == NULL) {
            return PT_CONF_ERROR;
        }
        CPU_ZERO(set);
        for (k = 0; k < m->len; k++) {
            u_char ch = m->data[m->len - 1 - k];

            if (ch == '1') {
                CPU_SET(k, set);
            } else if (ch != '0') {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                                  "invalid character \"%c\" in "
                                  "\"worker_cpu_affinity\"", ch);
                return PT_CONF_ERROR;
            }
        }
    }
    return PT_CONF_OK;
}

cpu_set_t *
pt_core_cpu_affinity(pt_core_conf_t *ccf, pt_uint_t n)
{
    static cpu_set_t one;
    cpu_set_t       *sets, *mask = NULL;
    long             ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    pt_uint_t        i, seen = 0;

    if (ccf->cpu_affinity == NULL) {
        return NULL;
    }
    sets = ccf->cpu_affinity->elts;

    if (!ccf->cpu_affinity_auto) {
        if (ccf->cpu_affinity->nelts == 0) {
            return NULL;
        }
        return &sets[pt_min(n, ccf->cpu_affinity->nelts - 1)];
    }

    /* auto: worker n gets the n-th allowed CPU, cycling. */
    if (ccf->cpu_affinity->nelts > 0) {
        mask = &sets[0];
    }
    if (ncpu <= 0) {
        return NULL;
    }
    for (;;) {
        for (i = 0; i < (pt_uint_t) ncpu && i < CPU_SETSIZE; i++) {
            if (mask != NULL && !CPU_ISSET(i, mask)) {
                continue;
            }
            if (seen++ == n) {
                CPU_ZERO(&one);
                CPU_SET(i, &one);
                return &one;
            }
        }
        if (seen == 0) {
            return NULL;
        }
        n %= seen;
        seen = 0;
    }
}

static char *
set_load_module(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                      "load_module \"%.*s\": nginx dynamic modules cannot be "
                      "loaded by portico; the features it supports are built "
                      "in (remove the directive or the file that includes it)",
                      (int) cf->args[1].len, cf->args[1].data);
    return PT_CONF_ERROR;
}

/* pcre_jit applies to the regexes compiled after it, as they are compiled
 * while the configuration is read (put it first, as in nginx's configs). */
static char *
set_pcre_jit(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_core_conf_t *ccf = conf;
    char           *rv = pt_conf_set_flag(cf, cmd, conf);

    if (rv == PT_CONF_OK) {
        pt_regex_jit = ccf->pcre_jit;
    }
    return rv;
}

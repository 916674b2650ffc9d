/*
 * Cycle construction and replacement. A new cycle is built completely
 * (config parsed and applied, files opened, zones and sockets ready) before
 * anything of the old one is released, so a bad reload changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/core_module.h"
#include "common/counters.h"
#include "common/log.h"
#include "common/path.h"
#include "common/pool.h"
#include "common/shm.h"
#include "cycle.h"
#include "listen.h"
#include "worker/modules.h"

static int
open_log_file(pt_open_file_t *file, pt_log_t *log)
{
    file->fd = open((char *) file->name.data,
                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (file->fd == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "open() \"%s\" failed",
                     file->name.data);
        return PT_ERROR;
    }
    return PT_OK;
}

static void
close_files(pt_cycle_t *cycle)
{
    pt_open_file_t **f = cycle->open_files.elts;
    pt_uint_t        i;

    for (i = 0; i < cycle->open_files.nelts; i++) {
        if (f[i]->fd != -1 && close(f[i]->fd) == -1) {
            pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                         "close() \"%s\" failed", f[i]->name.data);
        }
        f[i]->fd = -1;
    }
}

/* No error_log in the config: the built-in path (or -e) at level error. */
static char *
default_error_log(pt_conf_t *cf, pt_cycle_t *cycle)
{
    cycle->new_log.level = PT_LOG_ERR;
    if (pt_str_eq_cstr(&cycle->error_log, "stderr")) {
        cycle->new_log.fd = STDERR_FILENO;
        return PT_CONF_OK;
    }
    cycle->new_log.file = pt_log_open_file(&cycle->open_files, cycle->pool,
                                           &cycle->error_log);
    return cycle->new_log.file != NULL ? PT_CONF_OK : PT_CONF_ERROR;
}

static int
init_arrays(pt_cycle_t *cycle)
{
    pt_pool_t *p = cycle->pool;

    if (pt_array_init(&cycle->listening, p, 8, sizeof(pt_listening_t)) != PT_OK
        || pt_array_init(&cycle->shm_zones, p, 4, sizeof(pt_shm_zone_t *))
           != PT_OK
        || pt_array_init(&cycle->open_files, p, 4, sizeof(pt_open_file_t *))
           != PT_OK
        || pt_array_init(&cycle->conf_files, p, 4, sizeof(pt_conf_file_t))
           != PT_OK
        || pt_array_init(&cycle->paths, p, 4, sizeof(pt_path_t *)) != PT_OK)
    {
        return PT_ERROR;
    }
    return PT_OK;
}

static int
copy_str(pt_pool_t *p, pt_str_t *dst, const pt_str_t *src)
{
    dst->len = src->len;
    dst->data = src->data ? pt_pstrdup(p, src) : NULL;
    return (src->data && dst->data == NULL) ? PT_ERROR : PT_OK;
}

/* Parse -g and the conf file, apply them, then run init_main_conf. */
static int
configure(pt_cycle_t *cycle, pt_log_t *log)
{
    pt_conf_t       cf;
    pt_conf_ctx_t   ctx;
    pt_conf_node_t *tree;
    pt_uint_t       i;
    pt_module_t    *m;
    int             rc = PT_ERROR;

    memset(&cf, 0, sizeof(cf));
    cf.cycle = cycle;
    cf.pool = cycle->pool;
    cf.temp_pool = pt_pool_create(PT_POOL_DEFAULT_SIZE, log);
    if (cf.temp_pool == NULL) {
        return PT_ERROR;
    }
    cf.log = log;
    cf.modules = cycle->modules;
    memset(&ctx, 0, sizeof(ctx));
    ctx.main_conf = cycle->conf_ctx;
    cf.ctx = &ctx;
    cf.ctx_type = PT_CONF_MAIN;
    cf.conf_prefix = cycle->conf_prefix;
    cf.files = &cycle->conf_files;

    for (i = 0; (m = cycle->modules[i]) != NULL; i++) {
        if (m->type == PT_MODULE_CORE && m->create_main_conf != NULL) {
            cycle->conf_ctx[i] = m->create_main_conf(&cf);
            if (cycle->conf_ctx[i] == NULL) {
                goto done;
            }
        }
    }

    if (cycle->conf_param.len > 0) {
        if (pt_conf_parse_buf(&cf, "command line", cycle->conf_param.data,
                              cycle->conf_param.len, &tree) != PT_OK
            || pt_conf_apply(&cf, tree) != PT_OK)
        {
            goto done;
        }
    }
    if (pt_conf_parse_file(&cf, (char *) cycle->conf_file.data, &tree)
        != PT_OK
        || pt_conf_apply(&cf, tree) != PT_OK)
    {
        goto done;
    }

    cf.node = NULL;
    for (i = 0; (m = cycle->modules[i]) != NULL; i++) {
        if (m->type == PT_MODULE_CORE && m->init_main_conf != NULL
            && m->init_main_conf(&cf, cycle->conf_ctx[i]) != PT_CONF_OK)
        {
            goto done;
        }
    }
    if (cycle->new_log.level == 0 && default_error_log(&cf, cycle) != PT_OK) {
        goto done;
    }
    rc = PT_OK;

done:
    pt_pool_destroy(cf.temp_pool);
    return rc;
}

/* Temp directories (client_body_temp...): created if missing, and given
 * to the worker user, which writes into them. */
static int
create_paths(pt_cycle_t *cycle, pt_core_conf_t *ccf, pt_log_t *log)
{
    pt_path_t  **paths = cycle->paths.elts;
    pt_str_t    *p;
    pt_uint_t    i;
    struct stat  st;

    for (i = 0; i < cycle->paths.nelts; i++) {
        p = &paths[i]->name;
        if (mkdir((char *) p->data, 0700) == -1 && errno != EEXIST) {
            pt_log_error(PT_LOG_EMERG, log, errno, "mkdir() \"%s\" failed",
                         p->data);
            return PT_ERROR;
        }
        if (geteuid() != 0 || ccf->user == (uid_t) PT_CONF_UNSET_UINT) {
            continue;
        }
        if (stat((char *) p->data, &st) == -1) {
            pt_log_error(PT_LOG_EMERG, log, errno, "stat() \"%s\" failed",
                         p->data);
            return PT_ERROR;
        }
        if (st.st_uid != ccf->user
            && chown((char *) p->data, ccf->user, (gid_t) -1) == -1)
        {
            pt_log_error(PT_LOG_EMERG, log, errno, "chown(\"%s\", %d) failed",
                         p->data, (int) ccf->user);
            return PT_ERROR;
        }
    }
    return PT_OK;
}

/* Open logs, create zones and sockets: what a test run skips. */
static int
open_resources(pt_cycle_t *cycle, pt_cycle_t *old, pt_log_t *log)
{
    pt_core_conf_t  *ccf = pt_core_conf(cycle);
    pt_open_file_t **f = cycle->open_files.elts;
    pt_array_t       inherited, *prev = NULL;
    pt_uint_t        i, workers;

    for (i = 0; i < cycle->open_files.nelts; i++) {
        if (open_log_file(f[i], log) != PT_OK) {
            return PT_ERROR;
        }
        /* workers reopen these on USR1 as the unprivileged user */
        if (geteuid() == 0 && ccf->user != (uid_t) PT_CONF_UNSET_UINT
            && fchown(f[i]->fd, ccf->user, (gid_t) -1) == -1)
        {
            pt_log_error(PT_LOG_EMERG, log, errno, "chown(\"%s\", %d) failed",
                         f[i]->name.data, (int) ccf->user);
            return PT_ERROR;
        }
    }

    if (create_paths(cycle, ccf, log) != PT_OK) {
        return PT_ERROR;
    }

    if (pt_counters_add(cycle, log) != PT_OK
        || pt_shm_zones_init(&cycle->shm_zones,
                             old->conf_ctx ? &old->shm_zones : NULL, log)
           != PT_OK)
    {
        return PT_ERROR;
    }

    if (old->listening.nelts > 0) {
        prev = &old->listening;
    } else {
        if (pt_array_init(&inherited, cycle->pool, 8, sizeof(pt_listening_t))
            != PT_OK)
        {
            return PT_ERROR;
        }
        if (pt_listen_inherited(cycle, &inherited) == PT_OK) {
            prev = &inherited;
            old->listening = inherited;
        }
    }
    /* without a master, the one process serves slot 0 of everything */
    workers = ccf->master ? (pt_uint_t) ccf->worker_processes : 1;
    if (pt_listen_expand_reuseport(cycle, workers) != PT_OK
        || pt_listen_open(cycle, prev, workers) != PT_OK)
    {
        pt_listen_close_new(cycle);
        return PT_ERROR;
    }
    return PT_OK;
}

pt_cycle_t *
pt_cycle_init(pt_cycle_t *old, int test)
{
    pt_pool_t   *pool;
    pt_cycle_t  *cycle;
    pt_log_t    *log = old->log;
    pt_uint_t    i;

    pool = pt_pool_create(PT_POOL_DEFAULT_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }
    cycle = pt_pcalloc(pool, sizeof(pt_cycle_t));
    if (cycle == NULL) {
        goto failed;
    }
    cycle->pool = pool;
    cycle->log = log;
    cycle->old_cycle = old;
    cycle->new_log.fd = -1;
    cycle->modules = pt_modules;
    cycle->modules_n = pt_modules_init();
    cycle->conf_ctx = pt_pcalloc(pool, cycle->modules_n * sizeof(void *));

    if (cycle->conf_ctx == NULL || init_arrays(cycle) != PT_OK
        || copy_str(pool, &cycle->prefix, &old->prefix) != PT_OK
        || copy_str(pool, &cycle->conf_prefix, &old->conf_prefix) != PT_OK
        || copy_str(pool, &cycle->conf_file, &old->conf_file) != PT_OK
        || copy_str(pool, &cycle->conf_param, &old->conf_param) != PT_OK
        || copy_str(pool, &cycle->error_log, &old->error_log) != PT_OK
        || copy_str(pool, &cycle->hostname, &old->hostname) != PT_OK)
    {
        goto failed;
    }

    if (configure(cycle, log) != PT_OK) {
        goto failed;
    }
    if (test) {
        cycle->log = log;
        return cycle;
    }
    if (open_resources(cycle, old, log) != PT_OK) {
        goto failed;
    }

    for (i = 0; cycle->modules[i] != NULL; i++) {
        if (cycle->modules[i]->init_module != NULL
            && cycle->modules[i]->init_module(cycle) != PT_OK)
        {
            pt_listen_close_new(cycle);
            goto failed;
        }
    }

    cycle->log = &cycle->new_log;
    cycle->connection_n = pt_core_conf(cycle)->connections;
    return cycle;

failed:
    if (cycle != NULL) {
        close_files(cycle);
        if (old->conf_ctx != NULL) {
            pt_shm_zones_free_unused(&cycle->shm_zones, &old->shm_zones);
        }
    }
    pt_pool_destroy(pool);
    return NULL;
}

void
pt_cycle_free_old(pt_cycle_t *old, pt_cycle_t *cycle)
{
    pt_listen_close_unused(&old->listening);
    pt_shm_zones_free_unused(&old->shm_zones, &cycle->shm_zones);
    close_files(old);
    pt_pool_destroy(old->pool);
}

int
pt_cycle_create_pidfile(const pt_str_t *name, pt_log_t *log)
{
    char    buf[PT_INT64_LEN + 2];
    int     fd, n;

    fd = open((char *) name->data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
              0644);
    if (fd == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "open() \"%s\" failed",
                     name->data);
        return PT_ERROR;
    }
    n = snprintf(buf, sizeof(buf), "%d\n", (int) getpid());
    if (write(fd, buf, (size_t) n) != n) {
        pt_log_error(PT_LOG_EMERG, log, errno, "write() \"%s\" failed",
                     name->data);
        close(fd);
        return PT_ERROR;
    }
    if (close(fd) == -1) {
        pt_log_error(PT_LOG_ALERT, log, errno, "close() \"%s\" failed",
                     name->data);
    }
    return PT_OK;
}

void
pt_cycle_delete_pidfile(pt_cycle_t *cycle)
{
    pt_core_conf_t *ccf = pt_core_conf(cycle);

    if (unlink((char *) ccf->pid.data) == -1 && errno != ENOENT) {
        pt_log_error(PT_LOG_ALERT, cycle->log, errno, "unlink() \"%s\" failed",
                     ccf->pid.data);
    }
}

int
pt_cycle_signal_process(pt_cycle_t *cycle, const char *name)
{
    static const struct { const char *name; int signo; } sigs[] = {
        { "stop", SIGTERM }, { "quit", SIGQUIT },
        { "reopen", SIGUSR1 }, { "reload", SIGHUP },
    };
    pt_core_conf_t *ccf = pt_core_conf(cycle);
    char            buf[PT_INT64_LEN + 2], *end;
    ssize_t         n;
    long            pid;
    size_t          i;
    int             fd;

    fd = open((char *) ccf->pid.data, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        pt_log_error(PT_LOG_ERR, cycle->log, errno, "open() \"%s\" failed",
                     ccf->pid.data);
        return 1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    if (n == -1) {
        pt_log_error(PT_LOG_ERR, cycle->log, errno, "read() \"%s\" failed",
                     ccf->pid.data);
    }
    close(fd);
    if (n <= 0) {
        return 1;
    }
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (end == buf || (*end != '\n' && *end != '\0') || pid <= 0) {
        pt_log_error(PT_LOG_ERR, cycle->log, 0, "invalid PID number \"%.*s\" "
                     "in \"%s\"", (int) strcspn(buf, "\n"), buf,
                     ccf->pid.data);
        return 1;
    }

    for (i = 0; i < pt_nelems(sigs); i++) {
        if (strcmp(name, sigs[i].name) == 0) {
            if (kill((pid_t) pid, sigs[i].signo) == -1) {
                pt_log_error(PT_LOG_ALERT, cycle->log, errno,
                             "kill(%ld, %d) failed", pid, sigs[i].signo);
                return 1;
            }
            return 0;
        }
    }
    return 1;
}

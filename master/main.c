/*
 * portico's entry point: the nginx command line (-?hvVtTq -s -p -c -e -g),
 * configuration test and dump, signalling a running master, daemonizing,
 * and handing over to the master loop (or to a single worker loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/core_module.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/proctitle.h"
#include "common/time.h"
#include "common/version.h"
#include "cycle.h"
#include "listen.h"
#include "process.h"
#include "pt_auto.h"
#include "upgrade.h"
#include "worker/worker.h"


typedef struct {
    int          show_help, show_version, show_configure;
    int          test, dump, quiet;
    const char  *signal;
    const char  *prefix, *conf_file, *error_log, *conf_param;
} options_t;

static void
usage(void)
{
    fprintf(stderr,
        "Usage: portico [-?hvVtTq] [-s signal] [-p prefix]\n"
        "               [-e filename] [-c filename] [-g directives]\n\n"
        "Options:\n"
        "  -?,-h         : this help\n"
        "  -v            : show version and exit\n"
        "  -V            : show version and configure options then exit\n"
        "  -t            : test configuration and exit\n"
        "  -T            : test configuration, dump it and exit\n"
        "  -q            : suppress non-error messages during configuration "
        "testing\n"
        "  -s signal     : send signal to a master process: stop, quit, "
        "reopen, reload\n"
        "  -p prefix     : set prefix path (default: " PT_PREFIX ")\n"
        "  -e filename   : set error log file (default: " PT_ERROR_LOG_PATH
        ")\n"
        "  -c filename   : set configuration file (default: " PT_CONF_PATH
        ")\n"
        "  -g directives : set global directives out of configuration file\n"
        "\n");
}

/* The value of an option: the rest of this argument or the next one. */
static const char *
option_value(char *p, int *i, int argc, char **argv)
{
    if (*p != '\0') {
        return p;
    }
    if (*i + 1 < argc) {
        return argv[++*i];
    }
    return NULL;
}

static int
get_options(int argc, char **argv, options_t *o)
{
    static const char *need[] = {
        ['c'] = "file name", ['e'] = "file name", ['g'] = "parameter",
        ['p'] = "directory name", ['s'] = "parameter",
    };
    const char *v;
    char       *p, opt;
    int         i;

    for (i = 1; i < argc; i++) {
        p = argv[i];
        if (*p++ != '-' || *p == '\0') {
            pt_log_stderr(0, "invalid option: \"%s\"", argv[i]);
            return PT_ERROR;
        }
        while (*p != '\0') {
            opt = *p++;
            switch (opt) {
            case '?': case 'h': o->show_help = o->show_version = 1; break;
            case 'v': o->show_version = 1; break;
            case 'V': o->show_version = o->show_configure = 1; break;
            case 't': o->test = 1; break;
            case 'T': o->test = o->dump = 1; break;
            case 'q': o->quiet = 1; break;
            case 'c': case 'e': case 'g': case 'p': case 's':
                v = option_value(p, &i, argc, argv);
                if (v == NULL) {
                    pt_log_stderr(0, "option \"-%c\" requires %s", opt,
                                  need[(int) opt]);
                    return PT_ERROR;
                }
                if (opt == 'c') o->conf_file = v;
                if (opt == 'e') o->error_log = v;
                if (opt == 'g') o->conf_param = v;
                if (opt == 'p') o->prefix = v;
                if (opt == 's') {
                    if (strcmp(v, "stop") && strcmp(v, "quit")
                        && strcmp(v, "reopen") && strcmp(v, "reload"))
                    {
                        pt_log_stderr(0, "invalid option: \"-s %s\"", v);
                        return PT_ERROR;
                    }
                    o->signal = v;
                }
                goto next;
            default:
                pt_log_stderr(0, "invalid option: \"%c\"", opt);
                return PT_ERROR;
            }
        }
    next:
        continue;
    }
    return PT_OK;
}

static void
show_version(options_t *o)
{
    fprintf(stderr, "portico version: portico/" PORTICO_VERSION "\n");
    if (o->show_help) {
        usage();
    }
    if (o->show_configure) {
        fprintf(stderr, "built by %s\n", PT_COMPILER);
        fprintf(stderr, "built with %s (running with %s)\n",
                OPENSSL_VERSION_TEXT, OpenSSL_version(OPENSSL_VERSION));
        fprintf(stderr, "configure arguments: %s\n", PT_CONFIGURE);
    }
}

/* Join `dir` and a trailing "/" into pool memory. */
static int
set_dir(pt_pool_t *pool, pt_str_t *dst, const char *dir, size_t len)
{
    int slash = len > 0 && dir[len - 1] == '/';

    dst->data = pt_pnalloc(pool, len + 2);
    if (dst->data == NULL) {
        return PT_ERROR;
    }
    memcpy(dst->data, dir, len);
    if (!slash) {
        dst->data[len++] = '/';
    }
    dst->data[len] = '\0';
    dst->len = len;
    return PT_OK;
}

/* Fill the bootstrap cycle from the options: prefix, conf file and its
 * directory, -g, the error log path. */
static int
process_options(pt_cycle_t *boot, options_t *o)
{
    pt_pool_t  *pool = boot->pool;
    char        cwd[4096];
    const char *prefix = o->prefix ? o->prefix : PT_PREFIX, *slash;

    if (prefix[0] != '/') {
        /* a relative -p is taken from the current directory */
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            pt_log_stderr(errno, "getcwd() failed");
            return PT_ERROR;
        }
        if (strlen(cwd) + strlen(prefix) + 2 > sizeof(cwd)) {
            return PT_ERROR;
        }
        strcat(cwd, "/");
        strcat(cwd, prefix);
        prefix = cwd;
    }
    if (set_dir(pool, &boot->prefix, prefix, strlen(prefix)) != PT_OK
        || pt_str_from_cstr(pool, &boot->conf_file,
                            o->conf_file ? o->conf_file : PT_CONF_PATH)
           != PT_OK
        || pt_conf_full_name_prefix(pool, &boot->prefix, &boot->conf_file)
           != PT_OK)
    {
        return PT_ERROR;
    }
    slash = strrchr((char *) boot->conf_file.data, '/');
    if (set_dir(pool, &boot->conf_prefix, (char *) boot->conf_file.data,
                (size_t) (slash - (char *) boot->conf_file.data + 1))
        != PT_OK)
    {
        return PT_ERROR;
    }
    if (o->conf_param != NULL
        && pt_str_from_cstr(pool, &boot->conf_param, o->conf_param) != PT_OK)
    {
        return PT_ERROR;
    }
    if (pt_str_from_cstr(pool, &boot->error_log,
                         o->error_log ? o->error_log : PT_ERROR_LOG_PATH)
        != PT_OK)
    {
        return PT_ERROR;
    }
    if (!pt_str_eq_cstr(&boot->error_log, "stderr")
        && pt_conf_full_name_prefix(pool, &boot->prefix, &boot->error_log)
           != PT_OK)
    {
        return PT_ERROR;
    }
    if (gethostname(cwd, sizeof(cwd)) == -1) {
        strcpy(cwd, "localhost");
    }
    cwd[sizeof(cwd) - 1] = '\0';
    return pt_str_from_cstr(pool, &boot->hostname, cwd);
}

/* The log used until the configuration is read: the built-in (or -e)
 * error log, as nginx; stderr when it cannot be opened. */
static pt_log_t *
open_boot_log(pt_cycle_t *boot)
{
    static pt_log_t       log;
    static pt_open_file_t file;

    log.level = PT_LOG_NOTICE;
    log.fd = STDERR_FILENO;
    if (pt_str_eq_cstr(&boot->error_log, "stderr")) {
        return &log;
    }
    file.name = boot->error_log;
    file.fd = open((char *) file.name.data,
                   O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (file.fd == -1) {
        pt_log_stderr(errno, "[alert] could not open error log file: "
                      "open() \"%s\" failed", file.name.data);
        return &log;
    }
    log.file = &file;
    return &log;
}

static int
daemonize(pt_log_t *log)
{
    int fd;

    switch (fork()) {
    case -1:
        pt_log_error(PT_LOG_EMERG, log, errno, "fork() failed");
        return PT_ERROR;
    case 0:
        break;
    default:
        _exit(0);
    }
    if (setsid() == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "setsid() failed");
        return PT_ERROR;
    }
    umask(0);
    fd = open("/dev/null", O_RDWR);
    if (fd == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "open(\"/dev/null\") failed");
        return PT_ERROR;
    }
    if (dup2(fd, STDIN_FILENO) == -1 || dup2(fd, STDOUT_FILENO) == -1) {
        pt_log_error(PT_LOG_EMERG, log, errno, "dup2() failed");
        return PT_ERROR;
    }
    if (fd > STDERR_FILENO) {
        close(fd);
    }
    return PT_OK;
}

static int
test_config(pt_cycle_t *boot, options_t *o)
{
    pt_cycle_t *cycle = pt_cycle_init(boot, 1);
    int         rc = 0;

    if (cycle == NULL) {
        pt_log_stderr(0, "configuration file %s test failed",
                      boot->conf_file.data);
        return 1;
    }
    if (!o->quiet) {
        pt_log_stderr(0, "the configuration file %s syntax is ok",
                      boot->conf_file.data);
        pt_log_stderr(0, "configuration file %s test is successful",
                      boot->conf_file.data);
    }
    if (o->dump) {
        pt_conf_dump(&cycle->conf_files);
    }
    pt_pool_destroy(cycle->pool);
    return rc;
}

/* The bootstrap and running cycles live as long as the process (and are
 * reachable for leak checkers at exit). */
static pt_cycle_t  boot;
static pt_cycle_t *running;

int
main(int argc, char **argv)
{
    options_t       o;
    pt_cycle_t     *cycle;
    pt_core_conf_t *ccf;
    int             inherited;

    memset(&o, 0, sizeof(o));
    if (get_options(argc, argv, &o) != PT_OK) {
        return 1;
    }
    if (o.show_version) {
        show_version(&o);
        return 0;
    }

    pt_time_update();
    pt_argc = argc;
    pt_argv = pt_proctitle_init(argc, argv);
    if (pt_argv == NULL || pt_upgrade_save_binary(argv[0]) != PT_OK) {
        pt_log_stderr(errno, "could not save the command line");
        return 1;
    }

    memset(&boot, 0, sizeof(boot));
    boot.pool = pt_pool_create(PT_POOL_DEFAULT_SIZE, NULL);
    if (boot.pool == NULL || process_options(&boot, &o) != PT_OK) {
        pt_log_stderr(0, "could not process the command line");
        return 1;
    }
    pt_log_quiet = o.quiet;
    boot.log = (o.test || o.signal) ? open_boot_log(&boot) : open_boot_log(&boot);

    if (o.test) {
        return test_config(&boot, &o);
    }

    inherited = getenv(PT_LISTEN_ENV) != NULL;
    cycle = pt_cycle_init(&boot, o.signal != NULL);
    if (cycle == NULL) {
        return 1;
    }
    running = cycle;
    if (o.signal) {
        return pt_cycle_signal_process(cycle, o.signal);
    }

    ccf = pt_core_conf(cycle);
    if (inherited) {
        /* a new binary stays the child of the old master */
        pt_daemonized = 1;
    } else if (ccf->daemon && ccf->master) {
        if (daemonize(cycle->log) != PT_OK) {
            return 1;
        }
        pt_daemonized = 1;
    }
    if (pt_cycle_create_pidfile(&ccf->pid, cycle->log) != PT_OK) {
        return 1;
    }
    if (pt_daemonized && dup2(STDIN_FILENO, STDERR_FILENO) == -1) {
        pt_log_error(PT_LOG_EMERG, cycle->log, errno, "dup2(STDERR) failed");
        return 1;
    }
    pt_log_use_stderr = 0;

    if (ccf->master) {
        pt_master_process(cycle);
    }
    pt_worker_single(cycle);
}

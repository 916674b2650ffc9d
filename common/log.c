/*
 * Error log writer. One write(2) per line so lines from several processes
 * never interleave (O_APPEND files); a copy goes to stderr at startup.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "array.h"
#include "log.h"
#include "pool.h"
#include "time.h"

int pt_log_use_stderr = 1;
int pt_log_quiet;

const char *pt_log_levels[] = {
    "", "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
    NULL
};

pt_int_t
pt_log_level_parse(const pt_str_t *name)
{
    pt_int_t i;

    for (i = 1; pt_log_levels[i] != NULL; i++) {
        if (pt_str_eq_cstr(name, pt_log_levels[i])) {
            return i;
        }
    }
    return -1;
}

u_char *
pt_log_errno(u_char *buf, u_char *end, int err)
{
    return pt_slprintf(buf, end, " (%d: %s)", err, strerror(err));
}

static void
write_all(int fd, const u_char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;   /* nowhere left to report a failing log write */
        }
        p += w;
        n -= (size_t) w;
    }
}

void
pt_log_verror(pt_uint_t level, pt_log_t *log, int err, const char *fmt,
              va_list args)
{
    u_char   line[PT_MAX_ERROR_STR], *p, *end = line + sizeof(line) - 1;
    u_char  *msg;
    va_list  copy;
    int      n, wrote_stderr = 0;
    pt_log_t *l;

    if (pt_cached_err_log_time.len == 0) {
        pt_time_update();
    }

    p = pt_slprintf(line, end, "%.*s [%s] %d#%d: ",
                    (int) pt_cached_err_log_time.len,
                    pt_cached_err_log_time.data, pt_log_levels[level],
                    (int) getpid(), (int) getpid());
    if (log != NULL && log->connection) {
        p = pt_slprintf(p, end, "*%lu ", (unsigned long) log->connection);
    }
    msg = p;

    va_copy(copy, args);
    n = vsnprintf((char *) p, (size_t) (end - p), fmt, copy);
    va_end(copy);
    p = (n < 0) ? p : (n >= end - p ? end - 1 : p + n);
    if (err) {
        p = pt_log_errno(p, end, err);
    }
    if (log != NULL && log->context != NULL) {
        p = log->context(log, p, end);
    }
    *p++ = '\n';

    for (l = log; l != NULL; l = l->next) {
        int fd = l->file != NULL ? l->file->fd : l->fd;

        if (level > l->level) {
            continue;
        }
        if (l->writer != NULL) {
            l->writer(l, level, line, (size_t) (p - line - 1));
            continue;
        }
        if (fd < 0) {
            continue;
        }
        write_all(fd, line, (size_t) (p - line));
        if (fd == STDERR_FILENO) {
            wrote_stderr = 1;
        }
    }

    if (!pt_log_use_stderr || level > PT_LOG_WARN || wrote_stderr) {
        return;
    }

    /* The short form the terminal sees: "portico: [emerg] ..." */
    {
        u_char  head[32];
        int     hn = snprintf((char *) head, sizeof(head), "portico: [%s] ",
                              pt_log_levels[level]);

        write_all(STDERR_FILENO, head, (size_t) hn);
        write_all(STDERR_FILENO, msg, (size_t) (p - msg));
    }
}

void
pt_log_error(pt_uint_t level, pt_log_t *log, int err, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    pt_log_verror(level, log, err, fmt, args);
    va_end(args);
}

void
pt_log_stderr(int err, const char *fmt, ...)
{
    u_char   line[PT_MAX_ERROR_STR], *p, *end = line + sizeof(line) - 1;
    va_list  args;
    int      n;

    p = pt_slprintf(line, end, "portico: ");
    va_start(args, fmt);
    n = vsnprintf((char *) p, (size_t) (end - p), fmt, args);
    va_end(args);
    p = (n < 0) ? p : (n >= end - p ? end - 1 : p + n);
    if (err) {
        p = pt_log_errno(p, end, err);
    }
    *p++ = '\n';
    write_all(STDERR_FILENO, line, (size_t) (p - line));
}

void
pt_log_reopen_files(pt_array_t *files, uid_t user, pt_log_t *log)
{
    pt_open_file_t **f = files->elts;
    pt_uint_t        i;
    int              fd;

    for (i = 0; i < files->nelts; i++) {
        if (f[i]->flush != NULL) {
            f[i]->flush(f[i], log);   /* buffered lines go to the old file */
        }
        fd = open((char *) f[i]->name.data,
                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd == -1) {
            pt_log_error(PT_LOG_EMERG, log, errno, "open() \"%s\" failed",
                         f[i]->name.data);
            continue;
        }
        if (user != (uid_t) -1 && fchown(fd, user, (gid_t) -1) == -1) {
            pt_log_error(PT_LOG_EMERG, log, errno, "chown(\"%s\", %d) failed",
                         f[i]->name.data, (int) user);
        }
        if (f[i]->fd != -1 && close(f[i]->fd) == -1) {
            pt_log_error(PT_LOG_ALERT, log, errno, "close() \"%s\" failed",
                         f[i]->name.data);
        }
        f[i]->fd = fd;
    }
}

pt_open_file_t *
pt_log_open_file(pt_array_t *files, pt_pool_t *pool, const pt_str_t *name)
{
    pt_open_file_t **fp = files->elts, *file;
    pt_uint_t        i;

    for (i = 0; i < files->nelts; i++) {
        if (pt_str_eq(&fp[i]->name, name)) {
            return fp[i];
        }
    }
    file = pt_pcalloc(pool, sizeof(pt_open_file_t));
    fp = pt_array_push(files);
    if (file == NULL || fp == NULL) {
        return NULL;
    }
    file->name = *name;
    file->fd = -1;
    *fp = file;
    return file;
}

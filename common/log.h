/*
 * The error log: levels, nginx's line format, and the copy written to stderr
 * while the process still has a terminal (startup, -t).
 */
#ifndef PT_LOG_H
#define PT_LOG_H

#include <stdarg.h>

#include "pt_types.h"
#include "str.h"

#define PT_LOG_STDERR 0
#define PT_LOG_EMERG  1
#define PT_LOG_ALERT  2
#define PT_LOG_CRIT   3
#define PT_LOG_ERR    4
#define PT_LOG_WARN   5
#define PT_LOG_NOTICE 6
#define PT_LOG_INFO   7
#define PT_LOG_DEBUG  8

#define PT_MAX_ERROR_STR 2048

/* A file opened by the master that USR1 reopens (error and access logs). */
typedef struct pt_open_file_s pt_open_file_t;
struct pt_open_file_s {
    pt_str_t    name;       /* NUL-terminated absolute path; empty: stderr */
    int         fd;
    /* Writes out what a process holds for the file (access log buffers):
     * called before a reopen and at worker exit. NULL: nothing held. */
    void      (*flush)(pt_open_file_t *file, pt_log_t *log);
    void       *data;       /* the flush owner's state */
};

/* Takes a formatted error log line (no trailing newline) instead of fd
 * writes: syslog targets. */
typedef void (*pt_log_writer_pt)(pt_log_t *log, pt_uint_t level,
                                 u_char *buf, size_t len);

struct pt_log_s {
    pt_open_file_t *file;   /* when set, writes go to file->fd (reopenable) */
    int         fd;         /* used when file is NULL; -1: nowhere */
    pt_uint_t   level;      /* messages above this level are dropped */
    pt_str_t    path;       /* NUL-terminated; empty for stderr */
    pt_log_t   *next;       /* further error_log targets (each with a level) */
    pt_log_writer_pt writer;  /* when set, used instead of file and fd */
    void       *wdata;      /* the writer's state (a pt_syslog_peer_t) */
    /* Appends what a message is about (", client: ..., request: ...") to
     * every line logged through this head of the chain. */
    u_char    *(*context)(pt_log_t *log, u_char *buf, u_char *end);
    void       *context_data;
    pt_uint_t   connection; /* when set, lines start "*N " (the client
                               connection's serial), as nginx's */
};

/* Set while messages should also go to stderr as "portico: [level] ...":
 * before daemonizing, and for -t/-T. */
extern int pt_log_use_stderr;
/* Set by -q: suppress non-error messages during -t. */
extern int pt_log_quiet;

void pt_log_error(pt_uint_t level, pt_log_t *log, int err,
                  const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pt_log_verror(pt_uint_t level, pt_log_t *log, int err,
                   const char *fmt, va_list args);
/* "portico: <msg>\n" straight to stderr (CLI messages, -t results). */
void pt_log_stderr(int err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Level names as nginx spells them; returns the level or -1. */
pt_int_t pt_log_level_parse(const pt_str_t *name);
extern const char *pt_log_levels[];

/* Append " (errno: strerror)" to buf, bounded by end. */
u_char *pt_log_errno(u_char *buf, u_char *end, int err);

/* Reopen each pt_open_file_t * of `files` (USR1, for logrotate): the new
 * file replaces the old fd only once it is open; with `user` != -1 the
 * file is chowned to it first (the master does this for the workers). */
void pt_log_reopen_files(pt_array_t *files, uid_t user, pt_log_t *log);

/* The pt_open_file_t of `files` named `name` (absolute, NUL-terminated),
 * added (fd -1, allocated from pool) when none is; NULL on no memory. One
 * per path, shared by every log that names it. */
pt_open_file_t *pt_log_open_file(pt_array_t *files, pt_pool_t *pool,
                                 const pt_str_t *name);

#define pt_log_debug(log, ...)                                                \
    do {                                                                      \
        if ((log)->level >= PT_LOG_DEBUG)                                     \
            pt_log_error(PT_LOG_DEBUG, log, 0, __VA_ARGS__);                  \
    } while (0)

#endif /* PT_LOG_H */

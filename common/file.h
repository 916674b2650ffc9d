/*
 * Open files that buffers refer to (static files, cache entries, request
 * body temp files): the fd and name, closed by a pool cleanup.
 */
#ifndef PT_FILE_H
#define PT_FILE_H

#include <sys/stat.h>

#include "buf.h"
#include "pt_types.h"
#include "str.h"

struct pt_file_s {
    int          fd;
    pt_str_t     name;       /* NUL-terminated, for messages */
    pt_log_t    *log;
};

/* Open `name` read-only (O_NONBLOCK|O_CLOEXEC) into a pt_file_t whose fd
 * is closed when `pool` is destroyed. Returns NULL with errno set. */
pt_file_t *pt_file_open(pt_pool_t *pool, const pt_str_t *name, pt_log_t *log);

/* Create an unnamed temp file in `dir` (O_TMPFILE when available, else
 * mkstemp + unlink), closed with `pool`. Returns NULL with errno set. */
pt_file_t *pt_file_temp(pt_pool_t *pool, const pt_str_t *dir, pt_log_t *log);

#endif /* PT_FILE_H */

/*
 * Open files that buffers refer to (static files, cache entries, request
 * body temp files): the fd and name, closed by a pool cleanup.
 */
#ifndef PT_FILE_H
#define PT_FILE_H

#include <stdint.h>
#include <sys/stat.h>

#include "buf.h"
#include "path.h"
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

/* Create a temp file in `path`: named by a 10-digit number inside the
 * path's level directories (made on demand), then unlinked at once, as
 * nginx's non-persistent temp files. Closed with `pool`; f->name keeps
 * the name it had. Returns NULL with errno set; a failed open() or
 * mkdir() is logged (crit, with the name, as nginx words it). */
pt_file_t *pt_file_temp(pt_pool_t *pool, const pt_path_t *path,
                        pt_log_t *log);

/* Where temp name numbers come from: a process-local counter until the
 * master points this at shared memory (one sequence for all workers). */
extern uint32_t *pt_file_temp_number;

#endif /* PT_FILE_H */

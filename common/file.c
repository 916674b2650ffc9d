/*
 * File helpers: open a file or a temp file owned by a pool (a cleanup
 * closes it), so no path of a request can leak an fd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "pool.h"

static void
close_file(void *data)
{
    pt_file_t *f = data;

    if (f->fd != -1 && close(f->fd) == -1) {
        pt_log_error(PT_LOG_ALERT, f->log, errno, "close() \"%s\" failed",
                     f->name.data);
    }
    f->fd = -1;
}

pt_file_t *
pt_file_open(pt_pool_t *pool, const pt_str_t *name, pt_log_t *log)
{
    pt_pool_cleanup_t *cln = pt_pool_cleanup_add(pool, sizeof(pt_file_t));
    pt_file_t         *f;

    if (cln == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    f = cln->data;
    f->name = *name;
    f->log = log;
    f->fd = open((char *) name->data, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f->fd == -1) {
        return NULL;
    }
    cln->handler = close_file;
    return f;
}

/* Tries before giving up on names taken by files of another instance
 * sharing the directory (ours are unlinked at once). */
#define TEMP_TRIES 64

static uint32_t  local_temp_number;
uint32_t        *pt_file_temp_number = &local_temp_number;

/* The next temp name number: +1, or after a collision a jump by a
 * process-specific step, so two counters that met part again. */
static uint32_t
next_temp_number(int collision)
{
    uint32_t add = collision ? (uint32_t) getpid() * 2654435761u | 1 : 1;

    return __atomic_add_fetch(pt_file_temp_number, add, __ATOMIC_RELAXED);
}

/* Create the file named by the next free number in `full`, making the
 * level directories if they are missing. The fd, or -1 with errno set. */
static int
create_numbered(const pt_path_t *path, u_char *full, pt_log_t *log)
{
    u_char *name = full + path->name.len + path->len + 1;
    int     fd, tries, collision = 0;

    for (tries = 0; tries < TEMP_TRIES; tries++) {
        snprintf((char *) name, PT_PATH_TEMP_NAME_LEN + 1, "%010u",
                 (unsigned) next_temp_number(collision));
        pt_path_hash_name(path, full, PT_PATH_TEMP_NAME_LEN);
        fd = open((char *) full, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
                  0600);
        if (fd == -1 && errno == ENOENT && path->level[0] != 0) {
            /* this name's level directories are new: make them */
            if (pt_path_create_levels(path, full) != PT_OK) {
                pt_log_error(PT_LOG_CRIT, log, errno, "mkdir() \"%s\" failed",
                             full);
                return -1;
            }
            fd = open((char *) full, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC,
                      0600);
        }
        if (fd != -1) {
            return fd;
        }
        if (errno != EEXIST) {
            break;
        }
        collision = 1;
    }
    pt_log_error(PT_LOG_CRIT, log, errno, "open() \"%s\" failed", full);
    return -1;
}

pt_file_t *
pt_file_temp(pt_pool_t *pool, const pt_path_t *path, pt_log_t *log)
{
    pt_pool_cleanup_t *cln = pt_pool_cleanup_add(pool, sizeof(pt_file_t));
    pt_file_t         *f;
    u_char            *full;
    size_t             n;

    if (cln == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    f = cln->data;
    f->log = log;
    n = pt_path_file_len(path, PT_PATH_TEMP_NAME_LEN);
    full = pt_pnalloc(pool, n + 1);
    if (full == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    memcpy(full, path->name.data, path->name.len);
    f->name.data = full;
    f->name.len = n;
    f->fd = create_numbered(path, full, log);
    if (f->fd == -1) {
        return NULL;
    }
    cln->handler = close_file;
    /* not persistent: the name goes at once, the data with the last fd
     * (a failure leaves a file behind, nothing worse: ignored as nginx) */
    (void) unlink((char *) full);
    return f;
}

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

pt_file_t *
pt_file_temp(pt_pool_t *pool, const pt_str_t *dir, pt_log_t *log)
{
    pt_pool_cleanup_t *cln = pt_pool_cleanup_add(pool, sizeof(pt_file_t));
    pt_file_t         *f;
    char              *path;
    size_t             n;

    if (cln == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    f = cln->data;
    f->log = log;
    f->name = *dir;
    f->fd = open((char *) dir->data, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (f->fd == -1 && (errno == EOPNOTSUPP || errno == EISDIR
                        || errno == EINVAL))
    {
        /* no O_TMPFILE on this filesystem: a named file, unlinked at once */
        n = dir->len + sizeof("/portico.XXXXXX");
        path = pt_pnalloc(pool, n);
        if (path == NULL) {
            errno = ENOMEM;
            return NULL;
        }
        snprintf(path, n, "%s/portico.XXXXXX", (char *) dir->data);
        f->fd = mkostemp(path, O_CLOEXEC);
        if (f->fd != -1 && unlink(path) == -1) {
            pt_log_error(PT_LOG_ALERT, log, errno, "unlink() \"%s\" failed",
                         path);
        }
    }
    if (f->fd == -1) {
        return NULL;
    }
    cln->handler = close_file;
    return f;
}

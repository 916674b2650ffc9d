/*
 * The end of the body chain: the chunked encoder, then the writer that
 * gathers memory buffers into one writev and sends file ranges with
 * sendfile, holding small output back (postpone_output) until a flush or
 * the last buffer, so that a head and a small body leave in one syscall.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"

#define MAX_IOVS 64

static pt_chain_t *
link_buf(pt_pool_t *pool, pt_buf_t *b)
{
    pt_chain_t *cl = pt_alloc_chain_link(pool);

    if (cl != NULL) {
        cl->buf = b;
        cl->next = NULL;
    }
    return cl;
}

static pt_buf_t *
memory_buf(pt_pool_t *pool, const char *s, size_t n)
{
    pt_buf_t *b = pt_buf_calloc(pool);

    if (b != NULL) {
        b->pos = b->start = (u_char *) s;
        b->last = b->end = (u_char *) s + n;
        b->memory = 1;
    }
    return b;
}

/* Wrap each call's data in one chunk; the last buffer adds "0\r\n\r\n". */
int
pt_http_chunked_body_filter(pt_http_request_t *r, pt_chain_t *in)
{
    pt_chain_t  *out = NULL, **tail = &out, *cl, *ln;
    pt_buf_t    *b, *last = NULL;
    off_t        size = 0;
    u_char      *hex;
    int          n;

    if (!r->chunked || in == NULL) {
        return pt_http_write_filter(r, in);
    }
    for (cl = in; cl != NULL; cl = cl->next) {
        size += pt_buf_size(cl->buf);
        if (cl->buf->last_buf) {
            last = cl->buf;
        }
    }

    if (size > 0) {
        hex = pt_pnalloc(r->pool, 2 + 16 + 2);
        if (hex == NULL) {
            return PT_ERROR;
        }
        n = sprintf((char *) hex, "%llx\r\n", (unsigned long long) size);
        b = memory_buf(r->pool, (char *) hex, (size_t) n);
        if (b == NULL || (*tail = link_buf(r->pool, b)) == NULL) {
            return PT_ERROR;
        }
        tail = &(*tail)->next;
    }
    for (cl = in; cl != NULL; cl = cl->next) {
        if (cl->buf->last_buf) {
            /* the terminating chunk replaces the flag-only buffer */
            if (pt_buf_size(cl->buf) == 0) {
                continue;
            }
        }
        ln = link_buf(r->pool, cl->buf);
        if (ln == NULL) {
            return PT_ERROR;
        }
        *tail = ln;
        tail = &ln->next;
    }
    if (size > 0 || last != NULL) {
        static const char crlf[] = "\r\n";
        static const char end[] = "\r\n0\r\n\r\n";
        static const char end_nodata[] = "0\r\n\r\n";

        if (last != NULL) {
            last->last_buf = 0;
            b = size > 0 ? memory_buf(r->pool, end, sizeof(end) - 1)
                         : memory_buf(r->pool, end_nodata,
                                      sizeof(end_nodata) - 1);
            if (b != NULL) {
                b->last_buf = 1;
            }
        } else {
            b = memory_buf(r->pool, crlf, 2);
        }
        if (b == NULL || (*tail = link_buf(r->pool, b)) == NULL) {
            return PT_ERROR;
        }
    }
    return pt_http_write_filter(r, out);
}

/* Send as much of r->out as the socket takes. */
static int
send_chain(pt_http_request_t *r)
{
    pt_connection_t    *c = r->connection;
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    struct iovec        iov[MAX_IOVS];
    pt_chain_t         *cl;
    pt_buf_t           *b;
    ssize_t             n;
    size_t              left;
    int                 niov;
    off_t               off;

    while (r->out != NULL) {
        /* drop empty and flag-only buffers at the head */
        while (r->out != NULL && pt_buf_size(r->out->buf) == 0) {
            r->out = r->out->next;
        }
        if (r->out == NULL) {
            break;
        }
        b = r->out->buf;
        if (!pt_buf_in_memory(b) && b->in_file) {
            off = b->file_pos;
            left = (size_t) (b->file_last - b->file_pos);
            if (left > clcf->sendfile_max_chunk && clcf->sendfile_max_chunk) {
                left = clcf->sendfile_max_chunk;
            }
            n = c->sendfile(c, b->file->fd, &off, left);
            if (n == PT_AGAIN) {
                return PT_AGAIN;
            }
            if (n == PT_ERROR) {
                return PT_ERROR;
            }
            if (n == 0) {
                pt_log_error(PT_LOG_ALERT, c->log, 0, "sendfile() reported "
                             "that the file was truncated");
                return PT_ERROR;
            }
            b->file_pos += n;
            continue;
        }

        niov = 0;
        for (cl = r->out; cl != NULL && niov < MAX_IOVS; cl = cl->next) {
            b = cl->buf;
            if (!pt_buf_in_memory(b)) {
                if (b->in_file) {
                    break;
                }
                continue;
            }
            if (b->last == b->pos) {
                continue;
            }
            iov[niov].iov_base = b->pos;
            iov[niov].iov_len = (size_t) (b->last - b->pos);
            niov++;
        }
        n = c->writev(c, iov, niov);
        if (n == PT_AGAIN) {
            return PT_AGAIN;
        }
        if (n == PT_ERROR) {
            return PT_ERROR;
        }
        for (cl = r->out; cl != NULL && n > 0; cl = cl->next) {
            b = cl->buf;
            if (!pt_buf_in_memory(b)) {
                if (b->in_file) {
                    break;
                }
                continue;
            }
            left = (size_t) (b->last - b->pos);
            if ((size_t) n >= left) {
                b->pos = b->last;
                n -= (ssize_t) left;
            } else {
                b->pos += n;
                n = 0;
            }
        }
    }
    return PT_OK;
}

int
pt_http_write_filter(pt_http_request_t *r, pt_chain_t *in)
{
    pt_connection_t    *c = r->connection;
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_chain_t        **tail, *cl, *ln;
    off_t               size = 0;
    int                 flush = 0, last = 0, rc;

    if (c->error) {
        return PT_ERROR;
    }
    for (tail = &r->out; *tail != NULL; tail = &(*tail)->next) {
        size += pt_buf_size((*tail)->buf);
    }
    for (cl = in; cl != NULL; cl = cl->next) {
        ln = link_buf(r->pool, cl->buf);
        if (ln == NULL) {
            return PT_ERROR;
        }
        *tail = ln;
        tail = &ln->next;
        size += pt_buf_size(cl->buf);
        flush |= cl->buf->flush;
        last |= cl->buf->last_buf;
    }
    if (!last && !flush && in != NULL
        && size < (off_t) clcf->postpone_output)
    {
        return PT_OK;    /* wait for more: fewer, larger writes */
    }
    if (size == 0 && !last && !flush) {
        r->out = NULL;
        return PT_OK;
    }
    rc = send_chain(r);
    if (rc == PT_ERROR) {
        c->error = 1;
        return PT_ERROR;
    }
    if (rc == PT_AGAIN || r->out != NULL) {
        return PT_AGAIN;
    }
    return PT_OK;
}

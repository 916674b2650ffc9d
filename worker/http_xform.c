/*
 * The bounded streaming engine of the content-coding filters: input
 * taken buffer by buffer (file ranges read READ_SIZE at a time), output
 * in recycled buffers, back-pressure through r->buffered when all of
 * them are still on the wire.
 */
#include <errno.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "http_core.h"
#include "http_xform.h"

/* File bytes read per step (static files): one read buffer per response */
#define READ_SIZE  32768

void
pt_http_xform_init(pt_http_xform_t *x, void *tag, unsigned buffered,
                   pt_uint_t bufs_num, size_t bufs_size,
                   pt_http_xform_step_pt step,
                   pt_http_output_body_filter_pt next, void *data)
{
    x->last_out = &x->out;
    x->tag = tag;
    x->buffered = buffered;
    x->bufs_num = bufs_num;
    x->bufs_size = bufs_size;
    x->step = step;
    x->next = next;
    x->data = data;
}

static int
read_file_part(pt_http_request_t *r, pt_http_xform_t *x, pt_buf_t *b)
{
    size_t  n = (size_t) pt_min(b->file_last - b->file_pos,
                                (off_t) READ_SIZE);
    ssize_t got;

    if (x->read_buf == NULL) {
        x->read_buf = pt_buf_create_temp(r->pool, READ_SIZE);
        if (x->read_buf == NULL) {
            return PT_ERROR;
        }
    }
    do {
        got = pread(b->file->fd, x->read_buf->start, n, b->file_pos);
    } while (got == -1 && errno == EINTR);
    if (got <= 0) {
        pt_log_error(PT_LOG_CRIT, pt_http_request_log(r),
                     got == 0 ? 0 : errno, "pread() \"%s\" failed%s",
                     b->file->name.data, got == 0 ? ": file truncated" : "");
        return PT_ERROR;
    }
    b->file_pos += got;
    x->next_in = x->read_buf->start;
    x->avail_in = (size_t) got;
    if (b->file_pos == b->file_last) {
        /* its bytes are all in read_buf: the producer may now reuse the
         * descriptor (the proxy does, for its next read), so its flags
         * are taken now and no reference kept; run_step acts on them
         * only once read_buf is used up */
        x->flush |= b->flush;
        x->last |= b->last_buf;
        x->in_buf = NULL;
    }
    return PT_OK;
}

/* More input: the rest of the file buffer, or the next buffer. A
 * buffer's flags apply once its bytes are all taken. PT_OK with input or
 * a flag pending, PT_DECLINED with none, PT_ERROR. */
static int
take_input(pt_http_request_t *r, pt_http_xform_t *x)
{
    pt_buf_t *b = x->in_buf;

    for ( ;; ) {
        if (b != NULL) {
            if (!pt_buf_in_memory(b) && b->in_file
                && b->file_pos < b->file_last)
            {
                return read_file_part(r, x, b);
            }
            if (pt_buf_in_memory(b)) {
                b->pos = b->last;     /* the producer sees it consumed */
            }
            if (b->in_file) {
                b->file_pos = b->file_last;
            }
            x->flush |= b->flush;
            x->last |= b->last_buf;
            x->in_buf = b = NULL;
            if (x->flush || x->last) {
                return PT_OK;
            }
        }
        if (x->in == NULL) {
            return PT_DECLINED;
        }
        b = x->in_buf = x->in->buf;
        x->in = x->in->next;
        if (pt_buf_in_memory(b) && b->last > b->pos) {
            x->next_in = b->pos;
            x->avail_in = (size_t) (b->last - b->pos);
            return PT_OK;
        }
    }
}

/* An output buffer to fill: PT_DECLINED when all of them are busy. */
static int
get_out_buf(pt_http_request_t *r, pt_http_xform_t *x)
{
    pt_chain_t *cl;
    pt_buf_t   *b;

    if (x->free == NULL && x->nbufs >= x->bufs_num) {
        return PT_DECLINED;
    }
    cl = pt_chain_get_free_buf(r->pool, &x->free);
    if (cl == NULL) {
        return PT_ERROR;
    }
    b = cl->buf;
    if (b->start == NULL) {
        b->start = pt_palloc(r->pool, x->bufs_size);
        if (b->start == NULL) {
            return PT_ERROR;
        }
        b->end = b->start + x->bufs_size;
        b->pos = b->last = b->start;
        b->temporary = 1;
        b->tag = x->tag;
        x->nbufs++;
    }
    x->out_cl = cl;
    x->out_buf = b;
    return PT_OK;
}

/* The link came with the buffer from the free list: it goes to busy and
 * back with it, so a long stream allocates no links here. */
static int
queue_out(pt_http_request_t *r, pt_http_xform_t *x)
{
    (void) r;
    x->out_cl->next = NULL;
    *x->last_out = x->out_cl;
    x->last_out = &x->out_cl->next;
    x->out_cl = NULL;
    x->out_buf = NULL;
    return PT_OK;
}

/* One codec step; the output buffer is queued when full, when a flush
 * completes, or when the stream ends. */
static int
run_step(pt_http_request_t *r, pt_http_xform_t *x)
{
    int mode = PT_XFORM_RUN, rc;

    if (x->avail_in == 0 && x->in_buf == NULL) {
        mode = x->last ? PT_XFORM_FINISH
                       : x->flush ? PT_XFORM_FLUSH : PT_XFORM_RUN;
    }
    rc = x->step(r, x, mode);
    if (rc == PT_ERROR) {
        return PT_ERROR;
    }
    if (rc == PT_DONE) {
        x->out_buf->last_buf = 1;
        x->done = 1;
        return queue_out(r, x);
    }
    if (x->out_buf->last == x->out_buf->end) {
        return queue_out(r, x);       /* more may be pending: go on */
    }
    if (mode == PT_XFORM_FLUSH) {
        x->flush = 0;
        x->out_buf->flush = 1;
        return queue_out(r, x);
    }
    if (mode == PT_XFORM_FINISH) {
        pt_log_error(PT_LOG_ALERT, pt_http_request_log(r), 0,
                     "the coded stream did not end with the body");
        return PT_ERROR;
    }
    return PT_OK;
}

/* Transform while there is input and room: PT_OK when the input is used
 * up, PT_AGAIN when every output buffer is busy. */
static int
transform_some(pt_http_request_t *r, pt_http_xform_t *x)
{
    int rc;

    while (!x->done) {
        if (x->avail_in == 0 && !x->flush && !x->last) {
            rc = take_input(r, x);
            if (rc != PT_OK) {
                return rc == PT_DECLINED ? PT_OK : rc;
            }
        }
        if (x->out_buf == NULL) {
            rc = get_out_buf(r, x);
            if (rc != PT_OK) {
                return rc == PT_DECLINED ? PT_AGAIN : rc;
            }
        }
        if (run_step(r, x) != PT_OK) {
            return PT_ERROR;
        }
        if (x->avail_in == 0 && x->in_buf != NULL) {
            rc = take_input(r, x);    /* ends the buffer: its flags */
            if (rc == PT_ERROR) {
                return rc;
            }
        }
    }
    return PT_OK;
}

int
pt_http_xform_body(pt_http_request_t *r, pt_http_xform_t *x, pt_chain_t *in)
{
    int rc, trc;

    if (in != NULL && pt_chain_append(r->pool, &x->in, in) != PT_OK) {
        return PT_ERROR;
    }
    for ( ;; ) {
        trc = transform_some(r, x);
        if (trc == PT_ERROR) {
            return PT_ERROR;
        }
        rc = x->next(r, x->out);
        pt_chain_update(&x->free, &x->busy, &x->out, x->tag);
        x->last_out = &x->out;
        if (rc == PT_ERROR) {
            return PT_ERROR;
        }
        if (trc == PT_OK) {
            r->buffered &= ~x->buffered;
            return rc;
        }
        if (x->free == NULL) {
            /* every buffer is on the wire: the input waits for the
             * socket, and the writer calls again */
            r->buffered |= x->buffered;
            return PT_AGAIN;
        }
    }
}

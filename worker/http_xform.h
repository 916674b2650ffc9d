/*
 * A streaming body transform in bounded memory, for the content-coding
 * filters (gzip, gunzip; brotli later): input buffers (memory or file
 * ranges) are fed to a codec step, output goes out in at most bufs_num
 * recycled buffers of bufs_size, `flush` is honoured at once and
 * `last_buf` ends the stream. The codec is a callback.
 */
#ifndef PT_HTTP_XFORM_H
#define PT_HTTP_XFORM_H

#include "common/buf.h"
#include "common/pt_types.h"
#include "http_request.h"

#define PT_XFORM_RUN     0   /* more input may follow */
#define PT_XFORM_FLUSH   1   /* emit everything taken so far */
#define PT_XFORM_FINISH  2   /* the input is all taken: end the stream */

typedef struct pt_http_xform_s pt_http_xform_t;

/* Run the codec on x->next_in/avail_in into x->out_buf (last..end),
 * advancing both. PT_OK, PT_DONE when the stream ended (its last byte is
 * out), PT_ERROR (logged). In PT_XFORM_FLUSH/FINISH mode a return with
 * room left in out_buf means the flush is complete. */
typedef int (*pt_http_xform_step_pt)(pt_http_request_t *r,
                                     pt_http_xform_t *x, int mode);

struct pt_http_xform_s {
    pt_chain_t                    *in;        /* input not yet taken */
    pt_buf_t                      *in_buf;    /* the input being taken */
    pt_buf_t                      *read_buf;  /* file bytes read for it */
    pt_chain_t                    *free, *busy, *out, **last_out;
    pt_chain_t                    *out_cl;    /* its link, recycled */
    pt_buf_t                      *out_buf;   /* being filled */
    pt_uint_t                      nbufs;     /* output buffers made */
    pt_uint_t                      bufs_num;
    size_t                         bufs_size;
    void                          *tag;       /* the owning module */
    unsigned                       buffered;  /* its r->buffered bit */
    const u_char                  *next_in;
    size_t                         avail_in;
    pt_http_xform_step_pt          step;
    pt_http_output_body_filter_pt  next;      /* the next body filter */
    void                          *data;      /* the codec's state */
    unsigned                       flush:1;   /* a flush is due */
    unsigned                       last:1;    /* the end was taken */
    unsigned                       done:1;    /* the stream ended */
};

/* Set up x (zeroed by the caller) for a codec. */
void pt_http_xform_init(pt_http_xform_t *x, void *tag, unsigned buffered,
                        pt_uint_t bufs_num, size_t bufs_size,
                        pt_http_xform_step_pt step,
                        pt_http_output_body_filter_pt next, void *data);

/* The body filter's work: queue `in`, transform as far as input and free
 * buffers allow, pass the output on (calling the next filter even with
 * nothing new, so that a write event flushes). PT_OK, PT_AGAIN (waiting
 * for the socket: r->buffered has x->buffered), PT_ERROR. */
int pt_http_xform_body(pt_http_request_t *r, pt_http_xform_t *x,
                       pt_chain_t *in);

#endif /* PT_HTTP_XFORM_H */

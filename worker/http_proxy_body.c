/*
 * proxy_request_buffering off: the client's body goes upstream as it
 * arrives, through one buffer, bounded by client_max_body_size; a chunked
 * body is de-chunked and chunked again (HTTP/1.1 upstreams only), so that
 * no framing the proxy did not check reaches the origin.
 */
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_parse.h"
#include "http_proxy.h"
#include "http_request.h"
#include "timer.h"

#define STREAM_BUFFER_SIZE 16384

int
pt_proxy_stream_init(pt_http_request_t *r, pt_proxy_ctx_t *ctx)
{
    pt_http_request_body_t *rb;
    size_t                  size = STREAM_BUFFER_SIZE;

    rb = pt_pcalloc(r->pool, sizeof(pt_http_request_body_t));
    ctx->sraw = pt_buf_create_temp(r->pool, size);
    ctx->sbuf = pt_buf_create_temp(r->pool, size + 64);
    if (rb == NULL || ctx->sraw == NULL || ctx->sbuf == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (pt_http_send_continue(r) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    rb->temp_fd = -1;
    rb->rest = r->headers_in.chunked ? -1 : r->headers_in.content_length_n;
    r->request_body = rb;
    r->reading_body = 1;
    ctx->stream = 1;
    ctx->chunked_out = r->headers_in.chunked;
    return PT_OK;
}

/* Append one chunk of `n` bytes at p to sbuf (framed when chunked_out). */
static void
put_data(pt_proxy_ctx_t *ctx, const u_char *p, size_t n)
{
    pt_buf_t *b = ctx->sbuf;

    if (ctx->chunked_out) {
        b->last = pt_slprintf(b->last, b->end, "%zx\r\n", n);
    }
    memcpy(b->last, p, n);
    b->last += n;
    if (ctx->chunked_out) {
        *b->last++ = '\r';
        *b->last++ = '\n';
    }
}

/* Move body bytes from `in` to sbuf: PT_OK, PT_DONE (the body is over),
 * or an HTTP status (invalid chunked body 400, too large 413). */
static int
take(pt_proxy_ctx_t *ctx, pt_buf_t *in)
{
    pt_http_request_t      *r = ctx->r;
    pt_http_request_body_t *rb = r->request_body;
    off_t                   n;
    int                     rc;

    while (in->pos < in->last || (r->headers_in.chunked && rb->rest != 0)) {
        /* room for a chunk line, data and CRLF is kept by the sizes:
         * sbuf is 64 bytes larger than what one read may bring */
        if (ctx->sbuf->end - ctx->sbuf->last < 64) {
            return PT_OK;   /* full: the rest of `in` waits */
        }
        if (!r->headers_in.chunked) {
            n = pt_min(rb->rest, in->last - in->pos);
            n = pt_min(n, ctx->sbuf->end - ctx->sbuf->last);
            put_data(ctx, in->pos, (size_t) n);
            in->pos += n;
            rb->rest -= n;
            rb->received += n;
            if (rb->rest == 0) {
                return PT_DONE;
            }
            continue;
        }
        rc = pt_http_body_chunk(r, in, &n);
        if (rc == PT_DONE) {
            memcpy(ctx->sbuf->last, "0\r\n\r\n", 5);
            ctx->sbuf->last += 5;
            return PT_DONE;
        }
        if (rc == PT_AGAIN) {
            return PT_OK;
        }
        if (rc != PT_OK) {
            return rc;
        }
        n = pt_min(n, ctx->sbuf->end - ctx->sbuf->last - 32);
        if (n > 0) {
            put_data(ctx, in->pos, (size_t) n);
        }
        in->pos += n;
        rb->chunked.size -= n;
        rb->received += n;
    }
    return PT_OK;
}

int
pt_proxy_stream_read(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t *r = ctx->r;
    pt_connection_t   *c = r->connection;
    pt_buf_t          *raw = ctx->sraw;
    ssize_t            n;
    int                rc;

    if (ctx->stream_done) {
        return PT_DONE;
    }
    ctx->sbuf->pos = ctx->sbuf->last = ctx->sbuf->start;
    ctx->stream_started = 1;
    /* what came with the head first */
    if (r->header_in->pos < r->header_in->last) {
        rc = take(ctx, r->header_in);
        goto taken;
    }
    raw->pos = raw->last = raw->start;
    n = c->recv(c, raw->last, (size_t) (raw->end - raw->last) - 64);
    if (n == PT_AGAIN) {
        return PT_AGAIN;
    }
    if (n == 0 || n == PT_ERROR) {
        if (n == 0) {
            pt_log_error(PT_LOG_INFO, c->log, 0, "client prematurely closed "
                         "connection");
        }
        c->error = 1;
        return PT_HTTP_BAD_REQUEST;
    }
    r->request_length += n;
    raw->last += n;
    rc = take(ctx, raw);
    if (rc == PT_DONE && raw->pos < raw->last) {
        /* a pipelined request after a streamed body: not kept */
        r->keepalive = 0;
    }

taken:
    if (rc == PT_DONE) {
        ctx->stream_done = 1;
        r->reading_body = 0;
        return PT_OK;
    }
    if (rc != PT_OK) {
        return rc;
    }
    return ctx->sbuf->last > ctx->sbuf->pos ? PT_OK : PT_AGAIN;
}

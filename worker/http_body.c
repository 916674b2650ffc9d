/*
 * Request bodies: read whole (memory up to client_body_buffer_size, then a
 * temp file), de-chunked, bounded by client_max_body_size and
 * client_body_timeout; or discarded so the connection can be kept.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "timer.h"

#define DISCARD_BUFFER_SIZE 4096

static void read_body_handler(pt_http_request_t *r);

/* Take body bytes from `b` into the request body (memory or temp file).
 * Returns PT_OK (need more), PT_DONE (complete), or an HTTP status. */
static int
consume(pt_http_request_t *r, pt_buf_t *b)
{
    pt_http_request_body_t *rb = r->request_body;
    off_t                   n;
    int                     rc;

    while (b->pos < b->last || (r->headers_in.chunked && rb->rest != 0)) {
        if (r->headers_in.chunked) {
            rc = pt_http_body_chunk(r, b, &n);
            if (rc == PT_AGAIN) {
                return PT_OK;
            }
            if (rc != PT_OK) {
                return rc;
            }
            rb->chunked.size -= n;
        } else {
            n = pt_min(rb->rest, b->last - b->pos);
            rb->rest -= n;
        }
        if (pt_http_body_store(r, b->pos, (size_t) n) != PT_OK) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        b->pos += n;
        rb->received += n;
        if (!r->headers_in.chunked && rb->rest == 0) {
            return PT_DONE;
        }
    }
    return PT_OK;
}

int
pt_http_body_chunk(pt_http_request_t *r, pt_buf_t *b, off_t *n)
{
    pt_http_request_body_t *rb = r->request_body;
    pt_http_loc_conf_t     *clcf = pt_http_core_loc_conf(r);
    int                     rc;

    rc = pt_http_parse_chunked(&rb->chunked, b);
    if (rc == PT_DONE) {
        rb->rest = 0;
        return PT_DONE;
    }
    if (rc == PT_AGAIN) {
        return PT_AGAIN;
    }
    if (rc == PT_ERROR) {
        pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client sent "
                     "invalid chunked body");
        return PT_HTTP_BAD_REQUEST;
    }
    *n = pt_min(rb->chunked.size, b->last - b->pos);
    if (clcf->client_max_body_size
        && rb->received + *n > clcf->client_max_body_size)
    {
        pt_log_error(PT_LOG_ERR, r->connection->log, 0, "client intended to "
                     "send too large chunked body: %lld bytes",
                     (long long) (rb->received + *n));
        return PT_HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    return PT_OK;
}

/* Append body bytes: in memory while they fit client_body_buffer_size,
 * then everything goes to an unlinked temp file. */
int
pt_http_body_store(pt_http_request_t *r, const u_char *p, size_t n)
{
    pt_http_request_body_t *rb = r->request_body;
    pt_http_loc_conf_t     *clcf = pt_http_core_loc_conf(r);
    pt_file_t              *f;
    ssize_t                 w;

    if (n == 0) {
        return PT_OK;
    }
    if (rb->temp_fd == -1 && rb->buf != NULL
        && (size_t) (rb->buf->end - rb->buf->last) >= n)
    {
        memcpy(rb->buf->last, p, n);
        rb->buf->last += n;
        return PT_OK;
    }
    if (rb->temp_fd == -1) {
        f = pt_file_temp(r->pool, clcf->client_body_temp_path,
                         r->connection->log);
        if (f == NULL) {
            return PT_ERROR;   /* logged */
        }
        pt_log_error(PT_LOG_WARN, r->connection->log, 0, "a client request "
                     "body is buffered to a temporary file %s", f->name.data);
        rb->temp_fd = f->fd;
        f->fd = -1;   /* now owned by the request body (closed at free) */
        if (rb->buf != NULL && rb->buf->last > rb->buf->pos) {
            if (pt_http_body_store(r, rb->buf->pos,
                                   (size_t) (rb->buf->last - rb->buf->pos))
                != PT_OK)
            {
                return PT_ERROR;
            }
            rb->buf->last = rb->buf->pos;
        }
    }
    while (n > 0) {
        w = write(rb->temp_fd, p, n);
        if (w == -1) {
            if (errno == EINTR) {
                continue;
            }
            pt_log_error(PT_LOG_CRIT, r->connection->log, errno, "write() to "
                         "the request body temp file failed");
            return PT_ERROR;
        }
        p += w;
        n -= (size_t) w;
        rb->temp_size += w;
    }
    return PT_OK;
}

int
pt_http_send_continue(pt_http_request_t *r)
{
    static const u_char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    pt_table_elt_t     *e = r->headers_in.expect;
    ssize_t             n;

    if (r->expect_tested || e == NULL || r->http_version < PT_HTTP_VERSION_11
        || e->value.len != 12
        || pt_strncasecmp(e->value.data, (u_char *) "100-continue", 12) != 0)
    {
        return PT_OK;
    }
    r->expect_tested = 1;
    n = r->connection->send(r->connection, line, sizeof(line) - 1);
    if (n == (ssize_t) sizeof(line) - 1) {
        return PT_OK;
    }
    return PT_ERROR;
}

/* Read what the socket has; finishes the body when complete. */
static void
read_body_handler(pt_http_request_t *r)
{
    pt_connection_t        *c = r->connection;
    pt_http_request_body_t *rb = r->request_body;
    u_char                  buf[16384];
    pt_buf_t                b;
    ssize_t                 n;
    int                     rc;

    if (c->read->timedout) {
        c->read->timedout = 0;
        c->timedout = 1;
        pt_log_error(PT_LOG_INFO, c->log, 0, "client timed out");
        r->reading_body = 0;
        pt_http_finalize_request(r, PT_HTTP_REQUEST_TIME_OUT);
        return;
    }
    for (;;) {
        n = c->recv(c, buf, sizeof(buf));
        if (n == PT_AGAIN) {
            pt_timer_add(c->read, pt_http_core_loc_conf(r)->client_body_timeout);
            return;
        }
        if (n == 0 || n == PT_ERROR) {
            if (n == 0) {
                pt_log_error(PT_LOG_INFO, c->log, 0, "client prematurely "
                             "closed connection");
            }
            c->error = 1;
            r->reading_body = 0;
            pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
            return;
        }
        r->request_length += n;
        memset(&b, 0, sizeof(b));
        b.pos = b.start = buf;
        b.last = b.end = buf + n;
        b.temporary = 1;
        rc = consume(r, &b);
        if (rc == PT_OK) {
            continue;
        }
        if (c->read->timer_set) {
            pt_timer_del(c->read);
        }
        r->reading_body = 0;
        r->read_event_handler = pt_http_block_reading;
        if (rc != PT_DONE) {
            pt_http_finalize_request(r, rc);
            return;
        }
        /* bytes after the body are the next pipelined request: this
         * design reads into a stack buffer, so keep-alive ends here */
        if (b.pos < b.last) {
            r->keepalive = 0;
        }
        rb->post_handler(r);
        return;
    }
}

int
pt_http_read_client_request_body(pt_http_request_t *r,
                                 pt_http_client_body_handler_pt handler)
{
    pt_http_loc_conf_t     *clcf = pt_http_core_loc_conf(r);
    pt_http_request_body_t *rb;
    int                     rc;

    rb = pt_pcalloc(r->pool, sizeof(pt_http_request_body_t));
    if (rb == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    rb->temp_fd = -1;
    rb->post_handler = handler;
    r->request_body = rb;

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        handler(r);
        return PT_OK;
    }
    if (pt_http_send_continue(r) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    rb->rest = r->headers_in.chunked ? -1 : r->headers_in.content_length_n;
    rb->buf = pt_buf_create_temp(r->pool, clcf->client_body_buffer_size);
    if (rb->buf == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* what arrived with the head */
    rc = consume(r, r->header_in);
    if (rc == PT_DONE) {
        handler(r);
        return PT_OK;
    }
    if (rc != PT_OK) {
        return rc;
    }
    r->reading_body = 1;
    r->count++;
    r->read_event_handler = read_body_handler;
    read_body_handler(r);
    r->count--;
    return PT_AGAIN;
}

/* Drop body bytes from b: PT_DONE (the body is over), PT_OK (more is to
 * come) or PT_HTTP_BAD_REQUEST (invalid chunked framing). */
static int
discard_buf(pt_http_request_t *r, pt_buf_t *b)
{
    pt_http_request_body_t *rb = r->request_body;
    off_t                   n;
    int                     rc;

    if (!r->headers_in.chunked) {
        n = pt_min(rb->rest, b->last - b->pos);
        b->pos += n;
        rb->rest -= n;
        return rb->rest == 0 ? PT_DONE : PT_OK;
    }
    for (;;) {
        rc = pt_http_parse_chunked(&rb->chunked, b);
        if (rc == PT_OK) {
            n = pt_min(rb->chunked.size, b->last - b->pos);
            b->pos += n;
            rb->chunked.size -= n;
            continue;
        }
        if (rc == PT_DONE) {
            /* the body is gone: $content_length is 0 now, as nginx */
            r->headers_in.content_length_n = 0;
            rb->rest = 0;
            return PT_DONE;
        }
        if (rc == PT_AGAIN) {
            return PT_OK;
        }
        pt_log_error(PT_LOG_ERR, r->connection->log, 0, "client sent "
                     "invalid chunked body");
        return PT_HTTP_BAD_REQUEST;
    }
}

/* Read and drop what the socket has of the body, never past its end (the
 * bytes after it are the next request): PT_DONE, PT_AGAIN,
 * PT_HTTP_BAD_REQUEST, or PT_ERROR (the client closed or failed). */
static int
read_discarded(pt_http_request_t *r)
{
    pt_connection_t        *c = r->connection;
    pt_http_request_body_t *rb = r->request_body;
    u_char                  buf[DISCARD_BUFFER_SIZE];
    pt_buf_t                b;
    off_t                   want;
    ssize_t                 n;
    int                     rc;

    for (;;) {
        if (!c->read->ready) {
            return PT_AGAIN;
        }
        want = r->headers_in.chunked ? rb->chunked.length : rb->rest;
        n = c->recv(c, buf, (size_t) pt_min(want, (off_t) sizeof(buf)));
        if (n == PT_AGAIN) {
            return PT_AGAIN;
        }
        if (n == 0 || n == PT_ERROR) {
            return PT_ERROR;
        }
        r->request_length += n;
        memset(&b, 0, sizeof(b));
        b.pos = b.start = buf;
        b.last = b.end = buf + n;
        rc = discard_buf(r, &b);
        if (rc != PT_OK) {
            return rc;
        }
    }
}

/* The rest of a discarded body arrives, during or after the response. */
static void
discarded_body_handler(pt_http_request_t *r)
{
    pt_connection_t      *c = r->connection;
    pt_http_connection_t *hc = c->data;
    int                   rc;

    if (c->read->timedout || (c->read->timer_set
                              && pt_current_msec >= hc->lingering_deadline))
    {
        c->read->timedout = 0;
        c->timedout = 1;
        c->error = 1;
        pt_http_finalize_request(r, PT_ERROR);
        return;
    }
    rc = read_discarded(r);
    if (rc == PT_AGAIN) {
        if (c->read->timer_set) {
            /* after the response: lingering_timeout between reads */
            pt_timer_add(c->read, pt_http_core_loc_conf(r)->lingering_timeout);
        }
        return;
    }
    r->read_event_handler = pt_http_block_reading;
    if (c->read->timer_set) {
        pt_timer_del(c->read);
    }
    if (rc != PT_DONE) {
        c->error = 1;
        pt_http_finalize_request(r, PT_ERROR);
        return;
    }
    pt_http_finalize_request(r, PT_DONE);   /* the reference it held */
}

int
pt_http_discarding_body(pt_http_request_t *r)
{
    return r->discard_body && r->request_body != NULL
           && r->request_body->rest != 0
           && r->read_event_handler == discarded_body_handler;
}

/* Drop the body, never reading past its end: what came with the head at
 * once, the rest as it arrives, during and after the response (as nginx:
 * the request holds a reference meanwhile, and the connection is kept
 * alive once the body is over; after the response each read must come
 * within lingering_timeout, and all of it within lingering_time). Without
 * keep-alive, the lingering close drops the rest instead. Once per
 * request: r->discard_body records that it ran. Returns PT_OK, or
 * PT_HTTP_BAD_REQUEST when the chunked framing is invalid. */
int
pt_http_discard_request_body(pt_http_request_t *r)
{
    pt_connection_t        *c = r->connection;
    pt_http_connection_t   *hc = c->data;
    pt_http_request_body_t *rb;
    int                     rc;

    if (r->discard_body || r->request_body != NULL) {
        return PT_OK;
    }
    r->discard_body = 1;
    /* nginx answers an Expect: 100-continue even when no body follows */
    if (pt_http_send_continue(r) != PT_OK) {
        r->keepalive = 0;
        r->lingering_close = 1;
        return PT_OK;
    }
    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return PT_OK;
    }
    rb = pt_pcalloc(r->pool, sizeof(pt_http_request_body_t));
    if (rb == NULL) {
        r->keepalive = 0;
        r->lingering_close = 1;
        return PT_OK;
    }
    rb->temp_fd = -1;
    rb->rest = r->headers_in.chunked ? -1 : r->headers_in.content_length_n;
    r->request_body = rb;

    rc = discard_buf(r, r->header_in);
    if (rc == PT_OK && r->keepalive) {
        rc = read_discarded(r);
    }
    if (rc == PT_DONE) {
        return PT_OK;
    }
    if (rc == PT_OK || rc == PT_ERROR || rc == PT_HTTP_BAD_REQUEST) {
        /* no keep-alive, or the body is broken: the lingering close
         * drops the rest */
        r->keepalive = 0;
        r->lingering_close = 1;
        return rc == PT_HTTP_BAD_REQUEST ? rc : PT_OK;
    }
    /* PT_AGAIN */
    hc->lingering_deadline = pt_current_msec
                             + pt_http_core_loc_conf(r)->lingering_time;
    r->read_event_handler = discarded_body_handler;
    r->count++;
    return PT_OK;
}

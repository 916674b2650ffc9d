/*
 * The end of a request: error responses, waiting for pending output, the
 * log phase, then keep-alive (pipelined requests go on at once), lingering
 * close or close. Also the graceful-stop treatment of idle connections.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "timer.h"
#include "tls.h"
#include "worker.h"

#define LINGERING_BUFFER_SIZE 4096

static void writer(pt_http_request_t *r);
static void finalize_connection(pt_http_request_t *r);
static void terminate_request(pt_http_request_t *r, pt_int_t rc);
static void set_keepalive(pt_http_request_t *r);
static void set_lingering_close(pt_connection_t *c, pt_http_loc_conf_t *clcf);

void
pt_http_finalize_request(pt_http_request_t *r, pt_int_t rc)
{
    pt_connection_t *c = r->connection;

    if (rc == PT_DONE) {
        finalize_connection(r);
        return;
    }
    if (rc == PT_DECLINED) {
        r->content_handler = NULL;
        r->write_event_handler = pt_http_core_run_phases;
        pt_http_core_run_phases(r);
        return;
    }
    if (rc == PT_ERROR || rc == PT_HTTP_REQUEST_TIME_OUT
        || rc == PT_HTTP_CLIENT_CLOSED_REQUEST || c->error)
    {
        terminate_request(r, rc);
        return;
    }
    if (rc >= PT_HTTP_SPECIAL_RESPONSE || rc == PT_HTTP_CREATED
        || rc == PT_HTTP_NO_CONTENT)
    {
        if (rc == PT_HTTP_CLOSE) {
            r->headers_out.status = PT_HTTP_CLOSE;
            terminate_request(r, rc);
            return;
        }
        pt_http_finalize_request(r, pt_http_special_response_handler(r, rc));
        return;
    }

    /* PT_OK or PT_AGAIN from a content handler: the response is out or
     * on its way */
    if (r->out != NULL || r->buffered) {
        r->write_event_handler = writer;
        if (!c->write->timer_set) {
            pt_timer_add(c->write, pt_http_core_loc_conf(r)->send_timeout);
        }
        return;
    }
    if (rc == PT_AGAIN && !r->done) {
        return;   /* the handler goes on by itself (reading a body...) */
    }
    r->done = 1;
    r->write_event_handler = pt_http_request_empty_handler;
    if (c->read->timer_set) {
        pt_timer_del(c->read);
    }
    if (c->write->timer_set) {
        pt_timer_del(c->write);
    }
    c->write->delayed = 0;   /* a limit_rate pause ends with the response */
    finalize_connection(r);
}

void
pt_http_request_empty_handler(pt_http_request_t *r)
{
    (void) r;
}

/* Flush what the write filter still holds; finalize once it is out. */
static void
writer(pt_http_request_t *r)
{
    pt_connection_t *c = r->connection;
    int              rc;

    if (pt_http_write_delay_over(c)) {
        /* go on writing */
    } else if (c->write->timedout) {
        c->write->timedout = 0;
        pt_log_error(PT_LOG_INFO, c->log, 0, "client timed out");
        c->timedout = 1;
        terminate_request(r, PT_HTTP_REQUEST_TIME_OUT);
        return;
    }
    rc = pt_http_output_filter(r, NULL);
    if (rc == PT_ERROR) {
        terminate_request(r, PT_ERROR);
        return;
    }
    if (r->out != NULL || r->buffered) {
        if (!c->write->timer_set) {
            pt_timer_add(c->write, pt_http_core_loc_conf(r)->send_timeout);
        }
        return;
    }
    if (c->write->timer_set) {
        pt_timer_del(c->write);
    }
    r->write_event_handler = pt_http_request_empty_handler;
    pt_http_finalize_request(r, PT_OK);
}

/* Run the log phase handlers, once. */
static void
log_request(pt_http_request_t *r)
{
    pt_http_core_main_conf_t *cmcf = pt_http_core_main_conf(r);
    pt_http_handler_pt       *h = cmcf->phases[PT_HTTP_LOG_PHASE].elts;
    pt_uint_t                 i;

    if (r->logged) {
        return;
    }
    r->logged = 1;
    for (i = 0; i < cmcf->phases[PT_HTTP_LOG_PHASE].nelts; i++) {
        h[i](r);
    }
}

void
pt_http_free_request(pt_http_request_t *r)
{
    pt_connection_t      *c = r->connection;
    pt_http_connection_t *hc = c->data;

    log_request(r);
    if (r->request_body != NULL && r->request_body->temp_fd != -1) {
        /* the temp file was unlinked when created */
        if (close(r->request_body->temp_fd) == -1) {
            pt_log_error(PT_LOG_ALERT, c->log, errno, "close() request body "
                         "temp file failed");
        }
        r->request_body->temp_fd = -1;
    }
    if (hc->request == r) {
        hc->request = NULL;
    }
    c->log = hc->log;    /* the request's log copies live in r->pool */
    hc->request_log = NULL;
    pt_pool_destroy(r->pool);
}

void
pt_http_close_connection(pt_connection_t *c)
{
    pt_conn_reusable(c, 0);
    pt_conn_close(c);
}

static void
close_request(pt_http_request_t *r)
{
    pt_connection_t *c = r->connection;

    if (r->count > 1) {
        r->count--;
        return;
    }
    pt_http_free_request(r);
    pt_http_close_connection(c);
}

static void
terminate_request(pt_http_request_t *r, pt_int_t rc)
{
    pt_connection_t    *c = r->connection;
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    struct linger       l = { 1, 0 };

    if (rc > 0 && (r->headers_out.status == 0 || c->error)) {
        r->headers_out.status = (pt_uint_t) rc;
    }
    if (rc == PT_HTTP_REQUEST_TIME_OUT && c->timedout
        && clcf->reset_timedout_connection)
    {
        /* an RST frees the socket's memory at once (as nginx) */
        if (setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l)) == -1) {
            pt_log_error(PT_LOG_ALERT, c->log, errno,
                         "setsockopt(SO_LINGER) failed");
        }
    }
    r->count = 1;
    close_request(r);
}

/* Decide keep-alive, lingering close or close once the request is done. */
static void
finalize_connection(pt_http_request_t *r)
{
    pt_connection_t    *c = r->connection;
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);

    if (r->count > 1) {
        if (pt_http_discarding_body(r) && !c->read->timer_set) {
            /* the response is done, the discarded body still arriving */
            pt_timer_add(c->read, clcf->lingering_timeout);
        }
        r->count--;
        return;
    }
    if (r->reading_body) {
        /* the body is still arriving: the handler finishes later */
        r->keepalive = 0;
        r->lingering_close = 1;
    }
    if (!pt_worker_exiting && r->keepalive && clcf->keepalive_timeout > 0) {
        set_keepalive(r);
        return;
    }
    if (clcf->lingering_close == PT_HTTP_LINGERING_ALWAYS
        || (clcf->lingering_close == PT_HTTP_LINGERING_ON
            && (r->lingering_close || r->header_in->pos < r->header_in->last
                || c->read->ready)))
    {
        pt_http_free_request(r);
        set_lingering_close(c, clcf);
        return;
    }
    close_request(r);
}

/* tcp_nodelay on: once a connection is kept alive, its next small response
 * must not wait for the ACK of this one (Nagle). Once per connection, as
 * nginx: no syscall per request. */
static void
set_nodelay(pt_connection_t *c, pt_http_loc_conf_t *clcf)
{
    int on = 1;

    if (!clcf->tcp_nodelay || c->tcp_nodelay
        || c->sockaddr->ss_family == AF_UNIX)
    {
        return;
    }
    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1) {
        pt_log_error(PT_LOG_ALERT, c->log, errno,
                     "setsockopt(TCP_NODELAY) failed");
        return;
    }
    c->tcp_nodelay = 1;
}

/* The request is done and the connection stays: free the request, then
 * either start the pipelined next one or wait idle, holding no buffer. */
static void
set_keepalive(pt_http_request_t *r)
{
    pt_connection_t      *c = r->connection;
    pt_http_connection_t *hc = c->data;
    pt_http_loc_conf_t   *clcf = pt_http_core_loc_conf(r);
    pt_buf_t             *b = r->header_in;
    pt_msec_t             timeout = clcf->keepalive_timeout;

    if (b != c->buffer) {
        /* pipelined bytes sit in a larger buffer: it becomes the
         * connection's buffer (the old one is empty) */
        if (c->buffer != NULL) {
            (void) pt_pfree(c->pool, c->buffer->start);
        }
        c->buffer = b;
    }
    hc->keepalive_min = clcf->keepalive_min_timeout;
    set_nodelay(c, clcf);
    pt_http_free_request(r);
    c->sent = 0;   /* $bytes_sent is per request, as in nginx */

    c->read->handler = pt_http_wait_request_handler;
    c->write->handler = pt_event_empty_handler;
    if (c->write->timer_set) {
        pt_timer_del(c->write);
    }

    if (c->buffer != NULL && c->buffer->pos < c->buffer->last) {
        pt_event_post(c->read);
        return;
    }
    pt_http_release_buffer(c);
    if (c->tls != NULL) {
        pt_tls_release_buffer(c);
    }

    c->idle = 1;
    pt_conn_reusable(c, 1);
    pt_timer_add(c->read, timeout);
    if (c->read->ready) {
        /* bytes arrived meanwhile: edge-triggered, so go look now */
        pt_event_post(c->read);
    }
}

static void
lingering_close_handler(pt_event_t *ev)
{
    pt_connection_t      *c = ev->data;
    pt_http_connection_t *hc = c->data;
    u_char                buf[LINGERING_BUFFER_SIZE];
    ssize_t               n;
    pt_msec_t             left;

    if (ev->timedout || c->close) {
        pt_http_close_connection(c);
        return;
    }
    left = hc->lingering_deadline - pt_current_msec;
    if (left <= 0) {
        pt_http_close_connection(c);
        return;
    }
    do {
        n = c->recv(c, buf, sizeof(buf));
        if (n == PT_ERROR || n == 0) {
            pt_http_close_connection(c);
            return;
        }
    } while (n != PT_AGAIN);
    pt_timer_add(ev, pt_min(hc->lingering_timeout, left));
}

/* Half-close and read what the client still sends, so that our close
 * does not turn into a reset that destroys the response in flight. */
static void
set_lingering_close(pt_connection_t *c, pt_http_loc_conf_t *clcf)
{
    pt_http_connection_t *hc = c->data;

    if (shutdown(c->fd, SHUT_WR) == -1) {
        pt_log_error(PT_LOG_INFO, c->log, errno, "shutdown() failed");
        pt_http_close_connection(c);
        return;
    }
    hc->lingering_deadline = pt_current_msec + clcf->lingering_time;
    hc->lingering_timeout = clcf->lingering_timeout;
    c->read->handler = lingering_close_handler;
    c->write->handler = pt_event_empty_handler;
    if (c->write->timer_set) {
        pt_timer_del(c->write);
    }
    pt_timer_add(c->read, clcf->lingering_timeout);
    lingering_close_handler(c->read);
}

/* Graceful stop: an idle keep-alive connection may send one more request
 * within keepalive_min_timeout (answered with Connection: close); nginx
 * closes it at once and resets a client already sending. */
void
pt_http_shutdown(void)
{
    pt_connection_t      *c;
    pt_http_connection_t *hc;
    pt_uint_t             i;

    for (i = 0; i < pt_conn_slots_n; i++) {
        c = &pt_conn_slots[i];
        if (c->fd != -1 && c->listening == NULL && c->reusable) {
            /* an idle upstream keep-alive connection (its read handler
             * closes it): it must not hold up the exit */
            c->close = 1;
            pt_event_post(c->read);
            continue;
        }
        if (c->fd == -1 || c->listening == NULL || !c->idle) {
            continue;
        }
        hc = c->data;
        if (hc->keepalive_min == 0) {
            c->close = 1;
            pt_event_post(c->read);
            continue;
        }
        pt_timer_add(c->read, hc->keepalive_min);
    }
}

/* worker_shutdown_timeout: everything goes now. */
void
pt_http_close_all(void)
{
    pt_connection_t      *c;
    pt_http_connection_t *hc;
    pt_uint_t             i;

    for (i = 0; i < pt_conn_slots_n; i++) {
        c = &pt_conn_slots[i];
        if (c->fd == -1 || c->listening == NULL) {
            continue;
        }
        hc = c->data;
        if (hc != NULL && hc->request != NULL) {
            terminate_request(hc->request, PT_HTTP_CLOSE);
        } else {
            pt_http_close_connection(c);
        }
    }
}

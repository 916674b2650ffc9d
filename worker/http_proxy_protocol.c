/*
 * `listen ... proxy_protocol`: reading the PROXY header before the first
 * request (split reads allowed, bounded by the head buffer and
 * client_header_timeout). Its variables are the realip module's.
 */
#include <string.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "http_core.h"
#include "proxy_protocol.h"

#define ACTION " while reading PROXY protocol"

/* Log why the header was refused, in nginx's words, with the client. */
static void
refuse(pt_connection_t *c, const pt_proxy_protocol_t *pp, const pt_buf_t *b)
{
    pt_http_connection_t *hc = c->data;
    pt_log_t             *log;

    log = pt_http_log_with_context(c->pool, hc->log, c);
    if (log == NULL) {
        log = c->log;
    }
    switch (pp->error) {
    case PT_PROXY_PROTOCOL_VERSION:
        pt_log_error(PT_LOG_ERR, log, 0, "unknown PROXY protocol version: "
                     "%u" ACTION, pp->error_value);
        break;
    case PT_PROXY_PROTOCOL_TOO_LARGE:
        pt_log_error(PT_LOG_ERR, log, 0, "header is too large" ACTION);
        break;
    case PT_PROXY_PROTOCOL_COMMAND:
        pt_log_error(PT_LOG_ERR, log, 0, "PROXY protocol v2 unsupported "
                     "command %u" ACTION, pp->error_value);
        break;
    case PT_PROXY_PROTOCOL_FAMILY:
        pt_log_error(PT_LOG_ERR, log, 0, "PROXY protocol v2 unsupported "
                     "address family %u" ACTION, pp->error_value);
        break;
    case PT_PROXY_PROTOCOL_TRANSPORT:
        pt_log_error(PT_LOG_ERR, log, 0, "PROXY protocol v2 unsupported "
                     "transport %u" ACTION, pp->error_value);
        break;
    case PT_PROXY_PROTOCOL_SHORT:
        pt_log_error(PT_LOG_ERR, log, 0, "PROXY protocol v2 header is too "
                     "short: %u bytes of addresses" ACTION, pp->error_value);
        break;
    case PT_PROXY_PROTOCOL_TLV:
        pt_log_error(PT_LOG_ERR, log, 0, "PROXY protocol v2 broken TLV"
                     ACTION);
        break;
    default:
        /* as nginx: what was read, raw */
        pt_log_error(PT_LOG_ERR, log, 0, "broken header: \"%.*s\"" ACTION,
                     (int) (b->last - b->pos), b->pos);
        break;
    }
}

/* Keep what the header says (connection pool: it lasts for every request
 * of the connection), step over it, and go on as a plain connection. */
static int
accept_header(pt_connection_t *c, const pt_proxy_protocol_t *pp)
{
    pt_http_connection_t *hc = c->data;

    if (pp->family != AF_UNSPEC) {
        hc->proxy_protocol = pt_palloc(c->pool, sizeof(*pp));
        if (hc->proxy_protocol == NULL) {
            return PT_ERROR;
        }
        *hc->proxy_protocol = *pp;
    }
    c->buffer->pos += pp->len;
    if (c->buffer->pos == c->buffer->last) {
        c->buffer->pos = c->buffer->last = c->buffer->start;
    }
    return PT_OK;
}

/* The read handler of a proxy_protocol listener's new connection, until
 * the header is complete: then the request is read as on any other. The
 * header must fit the head buffer (client_header_buffer_size), as nginx
 * requires; the timer set at accept (client_header_timeout) bounds it. */
void
pt_http_proxy_protocol_handler(pt_event_t *ev)
{
    pt_connection_t      *c = ev->data;
    pt_http_connection_t *hc = c->data;
    pt_http_srv_conf_t   *scf;
    pt_proxy_protocol_t   pp;
    pt_buf_t             *b;
    ssize_t               n;
    int                   rc;

    if (ev->timedout || c->close) {
        pt_http_close_connection(c);
        return;
    }
    if (c->buffer == NULL) {
        scf = hc->addr->default_server
                  ->ctx->srv_conf[pt_http_core_module.index];
        c->buffer = pt_buf_create_temp(c->pool,
                                       scf->client_header_buffer_size);
        if (c->buffer == NULL) {
            pt_http_close_connection(c);
            return;
        }
    }
    b = c->buffer;

    for (;;) {
        n = c->recv(c, b->last, (size_t) (b->end - b->last));
        if (n == PT_AGAIN) {
            pt_http_release_buffer(c);
            return;
        }
        if (n == PT_ERROR || n == 0) {
            pt_http_close_connection(c);
            return;
        }
        b->last += n;
        rc = pt_proxy_protocol_parse(b->pos, (size_t) (b->last - b->pos),
                                     &pp);
        if (rc == PT_OK) {
            break;
        }
        if (rc == PT_AGAIN && b->last == b->end) {
            pp.error = PT_PROXY_PROTOCOL_TOO_LARGE;
            rc = PT_ERROR;
        }
        if (rc == PT_ERROR) {
            refuse(c, &pp, b);
            pt_http_close_connection(c);
            return;
        }
        if (!ev->ready) {
            return;   /* a short read drained the socket: wait for more */
        }
    }

    if (accept_header(c, &pp) != PT_OK) {
        pt_http_close_connection(c);
        return;
    }
    ev->handler = pt_http_wait_request_handler;
    pt_http_wait_request_handler(ev);
}

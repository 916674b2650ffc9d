/*
 * The per-request upstream machine: peer choice through the group's
 * balancer, the non-blocking connect, sending the request, reading and
 * judging the response head, proxy_next_upstream, timeouts, client abort
 * and the end of the try (keep-alive hand-off or close).
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_proxy.h"
#include "http_proxy_ssl.h"
#include "http_request.h"
#include "timer.h"

#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif

static void connect_peer(pt_proxy_ctx_t *ctx);
static void send_request(pt_proxy_ctx_t *ctx);
static void early_read(pt_proxy_ctx_t *ctx);
static void process_header(pt_proxy_ctx_t *ctx);
static void next_upstream(pt_proxy_ctx_t *ctx, pt_uint_t ft);

/* ", client: A, server: S, request: "R", upstream: "U", host: "H"" after
 * " while ACTION", as nginx's upstream lines read. */
static u_char *
log_context(pt_log_t *log, u_char *p, u_char *end)
{
    pt_proxy_ctx_t     *ctx = log->context_data;
    pt_http_request_t  *r = ctx->r;
    pt_connection_t    *c = r->connection;
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    pt_str_t           *name = ctx->u->peer.name;

    if (ctx->action != NULL) {
        p = pt_slprintf(p, end, " while %s", ctx->action);
    }
    p = pt_slprintf(p, end, ", client: %.*s, server: %.*s",
                    (int) c->addr_text.len, c->addr_text.data,
                    (int) scf->server_name.len, scf->server_name.data);
    if (r->request_line.len > 0) {
        p = pt_slprintf(p, end, ", request: \"%.*s\"",
                        (int) r->request_line.len, r->request_line.data);
    }
    if (name != NULL) {
        p = pt_slprintf(p, end, ", upstream: \"%.*s%.*s%s%.*s\"",
                        (int) ctx->schema.len, ctx->schema.data,
                        (int) name->len, name->data,
                        name->len > 5 && memcmp(name->data, "unix:", 5) == 0
                        ? ":" : "", (int) ctx->uri.len, ctx->uri.data);
    }
    if (r->headers_in.host != NULL) {
        p = pt_slprintf(p, end, ", host: \"%.*s\"",
                        (int) r->headers_in.host->value.len,
                        r->headers_in.host->value.data);
    }
    return p;
}

static void
upstream_event(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;
    pt_proxy_ctx_t  *ctx = c->data;

    if (ev->write) {
        ctx->write_handler(ctx);
    } else {
        ctx->read_handler(ctx);
    }
}

static void
idle_handler(pt_proxy_ctx_t *ctx)
{
    (void) ctx;
}

/* The client went away while the upstream works for it (edge-triggered:
 * reported once, as RDHUP/HUP/ERR). */
static void
check_broken(pt_http_request_t *r)
{
    pt_proxy_ctx_t *ctx = ((pt_http_upstream_t *) r->upstream)->state;
    pt_event_t     *rev = r->connection->read;

    if (!rev->eof && !rev->error) {
        return;
    }
    pt_log_error(PT_LOG_INFO, &ctx->log, 0, "epoll_wait() reported that "
                 "client prematurely closed connection, so upstream "
                 "connection is closed too");
    r->connection->error = 1;
    pt_proxy_finalize(ctx, PT_HTTP_CLIENT_CLOSED_REQUEST);
}

/* More of a streamed body may have arrived. */
static void
stream_client_read(pt_http_request_t *r)
{
    pt_proxy_ctx_t  *ctx = ((pt_http_upstream_t *) r->upstream)->state;
    pt_connection_t *c = r->connection;

    if (c->read->timedout) {
        c->read->timedout = 0;
        c->timedout = 1;
        pt_log_error(PT_LOG_INFO, c->log, 0, "client timed out");
        r->keepalive = 0;
        pt_proxy_finalize(ctx, PT_HTTP_REQUEST_TIME_OUT);
        return;
    }
    if (ctx->u->peer.connection != NULL && !ctx->request_sent
        && !ctx->send_stopped)
    {
        send_request(ctx);
    }
}

/* The request pool goes (the client side ended the request): the upstream
 * connection must not outlive it. */
static void
cleanup(void *data)
{
    pt_proxy_ctx_t *ctx = data;

    if (!ctx->finalized) {
        ctx->finalized = 1;
        pt_proxy_close_peer(ctx, 0);
    }
}

static void
record_end(pt_proxy_ctx_t *ctx)
{
    if (ctx->state != NULL && ctx->state->response_time == -1) {
        ctx->state->response_time = pt_current_msec - ctx->state->start;
    }
}

void
pt_proxy_close_peer(pt_proxy_ctx_t *ctx, int keep)
{
    pt_http_upstream_t   *u = ctx->u;
    pt_peer_connection_t *pc = &u->peer;
    pt_connection_t      *c = pc->connection;

    record_end(ctx);
    if (c != NULL) {
        pt_timer_del(c->read);
        pt_timer_del(c->write);
        if (!keep) {
            pt_conn_close(c);
            pc->connection = NULL;
            c = NULL;
        }
    }
    u->keepalive = keep && c != NULL;
    if (pc->sockaddr != NULL && pc->free != NULL) {
        pc->free(pc, pc->data, 0);
    }
    pc->sockaddr = NULL;
    if (pc->connection != NULL) {
        pt_conn_close(pc->connection);
        pc->connection = NULL;
    }
}

void
pt_proxy_finalize(pt_proxy_ctx_t *ctx, pt_int_t rc)
{
    pt_http_request_t *r = ctx->r;

    if (ctx->finalized) {
        return;
    }
    ctx->finalized = 1;
    pt_proxy_close_peer(ctx, 0);
    ctx->action = NULL;
    r->read_event_handler = pt_http_block_reading;
    r->write_event_handler = pt_http_request_empty_handler;
    if (ctx->header_sent && rc >= PT_HTTP_SPECIAL_RESPONSE
        && rc != PT_HTTP_REQUEST_TIME_OUT
        && rc != PT_HTTP_CLIENT_CLOSED_REQUEST)
    {
        /* part of the response is out: the client must see it cut */
        rc = PT_ERROR;
    }
    if (rc == PT_ERROR && !ctx->header_sent) {
        rc = PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc == PT_ERROR) {
        r->connection->error = 1;
    }
    pt_http_finalize_request(r, rc);
}

/* The body sent upstream: proxy_set_body, the client's (memory or temp
 * file), or none. */
static int
prepare_body(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t      *r = ctx->r;
    pt_http_request_body_t *rb = r->request_body;
    pt_str_t                v;

    if (ctx->stream) {
        ctx->body = ctx->sbuf;
        ctx->body_length = ctx->chunked_out ? -1
                                            : r->headers_in.content_length_n;
        return PT_OK;
    }
    if (ctx->conf->body != NULL) {
        if (pt_http_complex_value(r, ctx->conf->body, &v) != PT_OK) {
            return PT_ERROR;
        }
        ctx->body = pt_buf_calloc(r->pool);
        if (ctx->body == NULL) {
            return PT_ERROR;
        }
        ctx->body->start = ctx->body->pos = v.data;
        ctx->body->end = ctx->body->last = v.data + v.len;
        ctx->body->memory = 1;
        ctx->body_length = (off_t) v.len;
        return PT_OK;
    }
    if (rb == NULL
        || (r->headers_in.content_length_n < 0 && !r->headers_in.chunked))
    {
        return PT_OK;
    }
    ctx->body_length = rb->received;
    if (!ctx->conf->pass_request_body) {
        return PT_OK;
    }
    if (rb->temp_fd != -1) {
        ctx->body_fd = rb->temp_fd;
        ctx->body_file_size = rb->temp_size;
        return PT_OK;
    }
    if (rb->buf != NULL && rb->buf->last > rb->buf->pos) {
        ctx->body = rb->buf;
    }
    return PT_OK;
}

static pt_log_t *
setup_log(pt_proxy_ctx_t *ctx)
{
    ctx->log = *pt_http_request_log(ctx->r);
    ctx->log.context = log_context;
    ctx->log.context_data = ctx;
    ctx->log.connection = ctx->r->connection->number;
    return &ctx->log;
}

int
pt_proxy_start(pt_http_request_t *r, pt_proxy_ctx_t *ctx)
{
    pt_http_upstream_t   *u = ctx->u;
    pt_pool_cleanup_t    *cln;

    setup_log(ctx);
    if (pt_array_init(&ctx->states, r->pool, 2, sizeof(pt_upstream_state_t))
        != PT_OK || prepare_body(ctx) != PT_OK)
    {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return PT_ERROR;
    }
    ctx->request = pt_proxy_create_request(ctx);
    cln = pt_pool_cleanup_add(r->pool, 0);
    if (ctx->request == NULL || cln == NULL) {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return PT_ERROR;
    }
    cln->handler = cleanup;
    cln->data = ctx;
    ctx->start_msec = pt_current_msec;
    ctx->head_request = (r->method & PT_HTTP_HEAD) != 0;

    if (u->peer.get == NULL) {
        if (u->upstream == NULL
            || u->upstream->init_peer(r, u->upstream) != PT_OK)
        {
            pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
            return PT_ERROR;
        }
    }
    u->peer.log = &ctx->log;
    u->peer.start_time = pt_current_msec;
    if (ctx->conf->next_upstream_tries > 0
        && u->peer.tries > ctx->conf->next_upstream_tries)
    {
        u->peer.tries = ctx->conf->next_upstream_tries;
    }
    r->read_event_handler = check_broken;
    connect_peer(ctx);
    return PT_OK;
}

/* Start a new try's figures. */
static int
new_state(pt_proxy_ctx_t *ctx)
{
    pt_upstream_state_t *st = pt_array_push(&ctx->states);

    if (st == NULL) {
        return PT_ERROR;
    }
    memset(st, 0, sizeof(*st));
    st->start = pt_current_msec;
    st->connect_time = -1;
    st->header_time = -1;
    st->response_time = -1;
    ctx->state = st;
    return PT_OK;
}

static void
use_connection(pt_proxy_ctx_t *ctx, pt_connection_t *c)
{
    c->data = ctx;
    c->log = &ctx->log;
    c->read->log = &ctx->log;
    c->write->log = &ctx->log;
    c->read->handler = upstream_event;
    c->write->handler = upstream_event;
    ctx->read_handler = early_read;
    ctx->write_handler = send_request;
}

/* A proxy_bind address: an IP without a port binds to any port. */
static int
local_addr(const pt_str_t *v, pt_addr_t *a, const char **err)
{
    struct sockaddr_in  *sin = (struct sockaddr_in *) &a->sockaddr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &a->sockaddr;
    char                 text[64];

    memset(a, 0, sizeof(*a));
    if (v->len < sizeof(text)) {
        memcpy(text, v->data, v->len);
        text[v->len] = '\0';
        if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            a->socklen = sizeof(struct sockaddr_in);
            return PT_OK;
        }
        if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            a->socklen = sizeof(struct sockaddr_in6);
            return PT_OK;
        }
    }
    return pt_inet_parse_listen(v, a, err);
}

/* proxy_bind: bind the socket before connect. PT_OK, or PT_ERROR (logged). */
static int
bind_local(pt_proxy_ctx_t *ctx, int fd, int family)
{
    pt_str_t   v;
    pt_addr_t  a;
    const char *err = NULL;
    int         on = 1;

    if (ctx->conf->bind == NULL) {
        return PT_OK;
    }
    if (pt_http_complex_value(ctx->r, ctx->conf->bind, &v) != PT_OK) {
        return PT_ERROR;
    }
    if (v.len == 0) {
        return PT_OK;
    }
    if (local_addr(&v, &a, &err) != PT_OK
        || a.sockaddr.ss_family != family)
    {
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "invalid local address \"%.*s\"",
                     (int) v.len, v.data);
        return PT_ERROR;
    }
    if (ctx->conf->transparent
        && setsockopt(fd, family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
                      IP_TRANSPARENT, &on, sizeof(on)) == -1)
    {
        pt_log_error(PT_LOG_ALERT, &ctx->log, errno, "setsockopt("
                     "IP_TRANSPARENT) failed");
        return PT_ERROR;
    }
    if (bind(fd, (struct sockaddr *) &a.sockaddr, a.socklen) == -1) {
        pt_log_error(PT_LOG_CRIT, &ctx->log, errno, "bind(%.*s) failed",
                     (int) v.len, v.data);
        return PT_ERROR;
    }
    return PT_OK;
}

/* A new socket to pc->sockaddr, connecting. PT_OK (connected or in
 * progress), PT_DECLINED (connect failed: next upstream) or PT_ERROR. */
static int
open_socket(pt_proxy_ctx_t *ctx)
{
    pt_peer_connection_t *pc = &ctx->u->peer;
    pt_connection_t      *c;
    int                   fd, err;

    fd = socket(pc->sockaddr->sa_family,
                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        pt_log_error(PT_LOG_ALERT, &ctx->log, errno, "socket() failed");
        return PT_ERROR;
    }
    c = pt_conn_get(fd, &ctx->log);
    if (c == NULL) {
        close(fd);
        return PT_ERROR;
    }
    pc->connection = c;
    use_connection(ctx, c);
    if (bind_local(ctx, fd, pc->sockaddr->sa_family) != PT_OK) {
        return PT_ERROR;
    }
    if (pt_event_add_conn(c) != PT_OK) {
        return PT_ERROR;
    }
    if (connect(fd, pc->sockaddr, pc->socklen) == 0) {
        ctx->connected = 1;
        return PT_OK;
    }
    err = errno;
    if (err == EINPROGRESS) {
        pt_timer_add(c->write, ctx->conf->connect_timeout);
        return PT_OK;
    }
    pt_log_error(err == ECONNREFUSED || err == EAGAIN ? PT_LOG_ERR
                 : PT_LOG_CRIT, &ctx->log, err, "connect() failed");
    return PT_DECLINED;
}

static void
connect_peer(pt_proxy_ctx_t *ctx)
{
    pt_http_upstream_t   *u = ctx->u;
    pt_peer_connection_t *pc = &u->peer;
    int                   rc;

    ctx->action = "connecting to upstream";
    ctx->connected = 0;
    ctx->request_sent = 0;
    ctx->send_stopped = 0;
    ctx->send_err = 0;
    ctx->request_started = 1;
    if (new_state(ctx) != PT_OK) {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    pc->cached = 0;
    pc->connection = NULL;
    rc = pc->get(pc, pc->data);
    if (pc->name != NULL) {
        ctx->state->peer = *pc->name;
    }
    if (rc == PT_BUSY) {
        pt_str_set(&ctx->state->peer, "");
        if (u->upstream != NULL) {
            /* nginx names the group: in $upstream_addr and the log */
            ctx->state->peer = u->upstream->host;
            pc->name = &u->upstream->host;
        }
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "no live upstreams");
        next_upstream(ctx, PT_PROXY_FT_NOLIVE);
        return;
    }
    if (rc == PT_ERROR) {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    if (rc == PT_DONE) {
        use_connection(ctx, pc->connection);
        ctx->connected = 1;
        send_request(ctx);
        return;
    }
    rc = open_socket(ctx);
    if (rc == PT_ERROR) {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    if (rc == PT_DECLINED) {
        next_upstream(ctx, PT_PROXY_FT_ERROR);
        return;
    }
    if (ctx->connected) {
        send_request(ctx);
    }
}

/* Is the method one nginx never retries once the request went out? */
static int
non_idempotent(pt_http_request_t *r)
{
    return (r->method & (PT_HTTP_POST | PT_HTTP_LOCK | PT_HTTP_PATCH)) != 0;
}

static pt_uint_t
ft_status(pt_uint_t ft)
{
    switch (ft) {
    case PT_PROXY_FT_TIMEOUT:   return PT_HTTP_GATEWAY_TIME_OUT;
    case PT_PROXY_FT_HTTP_500:  return PT_HTTP_INTERNAL_SERVER_ERROR;
    case PT_PROXY_FT_HTTP_503:  return PT_HTTP_SERVICE_UNAVAILABLE;
    case PT_PROXY_FT_HTTP_504:  return PT_HTTP_GATEWAY_TIME_OUT;
    case PT_PROXY_FT_HTTP_403:  return PT_HTTP_FORBIDDEN;
    case PT_PROXY_FT_HTTP_404:  return PT_HTTP_NOT_FOUND;
    case PT_PROXY_FT_HTTP_429:  return PT_HTTP_TOO_MANY_REQUESTS;
    default:                    return PT_HTTP_BAD_GATEWAY;
    }
}

/* May this failure be retried on another peer? */
static int
may_retry(pt_proxy_ctx_t *ctx, pt_uint_t ft, int cached_error)
{
    pt_http_proxy_loc_conf_t *conf = ctx->conf;
    pt_peer_connection_t     *pc = &ctx->u->peer;
    pt_uint_t                 mask = ft;

    if (ft == PT_PROXY_FT_NOLIVE || ctx->header_sent || ctx->stream_started) {
        /* a streamed body cannot be sent again */
        return 0;
    }
    if (ctx->request_sent_any && non_idempotent(ctx->r)
        && !(conf->next_upstream & PT_PROXY_FT_NON_IDEMPOTENT))
    {
        return 0;
    }
    if (cached_error) {
        /* a kept-alive connection the origin closed meanwhile: a fresh
         * one is tried without counting a try, as nginx */
        return 1;
    }
    if (pc->tries <= 1 || !(conf->next_upstream & mask)) {
        return 0;
    }
    if (conf->next_upstream_timeout
        && pt_current_msec - pc->start_time >= conf->next_upstream_timeout)
    {
        return 0;
    }
    return 1;
}

/* This try failed with `ft`: record it, then try the next peer or answer
 * with the status the failure maps to. */
static void
next_upstream(pt_proxy_ctx_t *ctx, pt_uint_t ft)
{
    pt_peer_connection_t *pc = &ctx->u->peer;
    pt_uint_t             status = ft_status(ft), state;
    int                   cached_error, retry;

    cached_error = pc->cached && ft == PT_PROXY_FT_ERROR
                   && ctx->state->bytes_received == 0;
    retry = may_retry(ctx, ft, cached_error);
    if (ctx->state != NULL) {
        ctx->state->status = status;
        record_end(ctx);
    }
    if (pc->connection != NULL) {
        pt_conn_close(pc->connection);
        pc->connection = NULL;
    }
    if (ft != PT_PROXY_FT_NOLIVE && pc->sockaddr != NULL) {
        state = (ft == PT_PROXY_FT_HTTP_403 || ft == PT_PROXY_FT_HTTP_404
                 || cached_error) ? 0 : PT_PEER_FAILED;
        if (retry) {
            state |= PT_PEER_NEXT;
        }
        if (cached_error) {
            pc->tries++;
        }
        pc->free(pc, pc->data, state);
        pc->sockaddr = NULL;
    }
    if (!retry || pc->tries == 0) {
        pt_proxy_finalize(ctx, (pt_int_t) status);
        return;
    }
    /* start over: the request from its first byte, a fresh head */
    ctx->request->pos = ctx->request->start;
    ctx->body_file_pos = 0;
    ctx->request_sent_any = 0;
    ctx->head_ready = 0;
    if (ctx->buffer != NULL) {
        ctx->buffer->pos = ctx->buffer->last = ctx->buffer->start;
        ctx->head_parsed = 0;
    }
    connect_peer(ctx);
}

/* The next memory to send: the head, then the body in memory. */
static int
fill_iov(pt_proxy_ctx_t *ctx, struct iovec *iov, off_t *body_sent)
{
    int     n = 0;
    size_t  head = (size_t) (ctx->request->last - ctx->request->pos);
    off_t   done;

    if (head > 0) {
        iov[n].iov_base = ctx->request->pos;
        iov[n].iov_len = head;
        n++;
    }
    if (ctx->body != NULL) {
        done = *body_sent;
        if (done < ctx->body->last - ctx->body->pos) {
            iov[n].iov_base = ctx->body->pos + done;
            iov[n].iov_len = (size_t) (ctx->body->last - ctx->body->pos
                                       - done);
            n++;
        }
    }
    return n;
}

/* Write what the socket takes: PT_OK (all sent), PT_AGAIN, or the errno
 * of a failure (positive). */
static int
write_request(pt_proxy_ctx_t *ctx, pt_connection_t *c)
{
    struct iovec  iov[2];
    ssize_t       n;
    size_t        head;
    off_t         off;
    int           niov, rc;

    for (;;) {
        niov = fill_iov(ctx, iov, &ctx->body_mem_sent);
        if (niov > 0) {
            n = pt_proxy_io_writev(c, iov, niov);
        } else if (ctx->body_fd != -1
                   && ctx->body_file_pos < ctx->body_file_size)
        {
            off = ctx->body_file_pos;
            n = pt_proxy_io_sendfile(c, ctx->body_fd, &off,
                         (size_t) pt_min(ctx->body_file_size - off,
                                         (off_t) 1 << 20));
            if (n > 0) {
                ctx->body_file_pos = off;
                ctx->request_sent_any = 1;
                continue;
            }
        } else if (ctx->stream) {
            rc = pt_proxy_stream_read(ctx);
            if (rc == PT_OK) {
                ctx->body_mem_sent = 0;
                continue;
            }
            if (rc == PT_DONE) {
                return PT_OK;
            }
            if (rc == PT_AGAIN) {
                return PT_DECLINED;   /* the client's turn */
            }
            ctx->stream_status = rc;
            return PT_DONE;
        } else {
            return PT_OK;
        }
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                c->write->ready = 0;
                return PT_AGAIN;
            }
            return errno;
        }
        if (n == 0) {
            return EPIPE;
        }
        ctx->request_sent_any = 1;
        head = (size_t) (ctx->request->last - ctx->request->pos);
        if ((size_t) n <= head) {
            ctx->request->pos += n;
        } else {
            ctx->request->pos = ctx->request->last;
            ctx->body_mem_sent += (off_t) ((size_t) n - head);
        }
    }
}

/* The origin's response head is in while the request is still going out
 * (an early 413, or an answer after the head): the rest is not sent, and
 * the connection is not kept (reusable() wants request_sent), as nginx. A
 * streamed body's rest is left to the client side's lingering close. */
static void
stop_sending(pt_proxy_ctx_t *ctx)
{
    pt_connection_t *c = ctx->u->peer.connection;

    ctx->send_stopped = 1;
    ctx->write_handler = idle_handler;
    pt_timer_del(c->write);
    if (ctx->stream) {
        pt_timer_del(ctx->r->connection->read);
        ctx->r->read_event_handler = check_broken;
    }
}

/* The upstream's read side from the connect on: connect and TLS
 * handshake reports go to send_request; once connected, a response may
 * come before the whole request went out. */
static void
early_read(pt_proxy_ctx_t *ctx)
{
    if (!ctx->connected) {
        send_request(ctx);
        return;
    }
    process_header(ctx);
}

/* The origin stopped taking the request (EPIPE, ECONNRESET): it may have
 * answered first and closed without reading the rest (an early 413).
 * That answer, if whole in the socket, is used; otherwise the write error
 * stands. nginx 1.22 usually answers 502 here (README, differences). */
static void
write_failed(pt_proxy_ctx_t *ctx, int err)
{
    ctx->send_err = err;
    stop_sending(ctx);
    ctx->u->peer.connection->read->ready = 1;
    process_header(ctx);
}

/* process_header found no whole head: after a failed write that is the
 * end of this try, reported as the write error. */
static int
send_error_stands(pt_proxy_ctx_t *ctx)
{
    if (ctx->send_err == 0) {
        return 0;
    }
    ctx->action = "sending request to upstream";
    pt_log_error(PT_LOG_ERR, &ctx->log, ctx->send_err, "writev() failed");
    next_upstream(ctx, PT_PROXY_FT_ERROR);
    return 1;
}

static void
send_request(pt_proxy_ctx_t *ctx)
{
    pt_connection_t *c = ctx->u->peer.connection;
    int              rc;

    if (c->write->timedout || c->read->timedout) {
        c->write->timedout = 0;
        c->read->timedout = 0;
        if (ctx->connected) {
            /* an early read may have named the head meanwhile */
            ctx->action = "sending request to upstream";
        }
        pt_log_error(PT_LOG_ERR, &ctx->log, ETIMEDOUT, "upstream timed out");
        next_upstream(ctx, PT_PROXY_FT_TIMEOUT);
        return;
    }
    /* proxy_ssl: the TLS handshake between connect and request */
    rc = pt_proxy_ssl_connect(ctx);
    if (rc == PT_AGAIN) {
        return;
    }
    if (rc != PT_OK) {
        next_upstream(ctx, PT_PROXY_FT_ERROR);
        return;
    }
    if (!ctx->request_sent_any && ctx->request->pos == ctx->request->start) {
        ctx->body_mem_sent = 0;
    }
    if (ctx->connected) {
        ctx->action = "sending request to upstream";
    }
    rc = write_request(ctx, c);
    if (ctx->request_sent_any && !ctx->connected) {
        ctx->connected = 1;
    }
    if (ctx->connected && ctx->state->connect_time == -1) {
        ctx->state->connect_time = pt_current_msec - ctx->state->start;
    }
    if (rc == PT_DECLINED) {
        /* the upstream takes more than the client has sent so far */
        pt_timer_del(c->write);
        ctx->r->read_event_handler = stream_client_read;
        pt_timer_add(ctx->r->connection->read,
                     pt_http_core_loc_conf(ctx->r)->client_body_timeout);
        return;
    }
    if (rc == PT_DONE) {
        ctx->r->keepalive = 0;
        ctx->r->lingering_close = 1;
        pt_proxy_finalize(ctx, ctx->stream_status);
        return;
    }
    if (rc == PT_AGAIN) {
        if (ctx->connected) {
            ctx->action = "sending request to upstream";
        }
        pt_timer_add(c->write, ctx->connected ? ctx->conf->send_timeout
                                              : ctx->conf->connect_timeout);
        return;
    }
    if (rc != PT_OK) {
        if (ctx->request_sent_any && (rc == EPIPE || rc == ECONNRESET)) {
            write_failed(ctx, rc);
            return;
        }
        pt_log_error(PT_LOG_ERR, &ctx->log, rc, ctx->request_sent_any
                     ? "writev() failed" : "connect() failed");
        next_upstream(ctx, PT_PROXY_FT_ERROR);
        return;
    }
    ctx->request_sent = 1;
    pt_timer_del(c->write);
    if (ctx->stream) {
        pt_timer_del(ctx->r->connection->read);
        ctx->r->read_event_handler = check_broken;
    }
    ctx->action = "reading response header from upstream";
    ctx->write_handler = idle_handler;
    ctx->read_handler = process_header;
    pt_timer_add(c->read, ctx->conf->read_timeout);
    if (c->read->ready) {
        process_header(ctx);
    }
}

ssize_t
pt_proxy_read_done(pt_proxy_ctx_t *ctx, ssize_t n, size_t room,
                   const char *call)
{
    pt_connection_t *c = ctx->u->peer.connection;

    if (n == -1) {
        if (errno == EAGAIN) {
            c->read->ready = 0;
            return PT_AGAIN;
        }
        if (ctx->send_err == 0 || ctx->head_parsed) {
            /* after a failed write, that failure is what gets logged
             * unless an answer was found */
            pt_log_error(PT_LOG_ERR, &ctx->log, errno, "%s failed", call);
        }
        return PT_ERROR;
    }
    if (n == 0) {
        c->read->ready = 0;
        return 0;
    }
    /* edge-triggered: a short read emptied the socket */
    if ((size_t) n < room && !c->read->eof) {
        c->read->ready = 0;
    }
    ctx->state->bytes_received += n;
    return n;
}

ssize_t
pt_proxy_recv(pt_proxy_ctx_t *ctx, pt_buf_t *b)
{
    pt_connection_t *c = ctx->u->peer.connection;
    size_t           size = (size_t) (b->end - b->last);
    ssize_t          n;

    do {
        n = pt_proxy_io_recv(c, b->last, size);
    } while (n == -1 && errno == EINTR);
    n = pt_proxy_read_done(ctx, n, size, "recv()");
    if (n > 0) {
        b->last += n;
    }
    return n;
}

/* A fresh head buffer and parser state for this try. */
static int
init_head(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t     *r = ctx->r;
    pt_proxy_headers_in_t *h = &ctx->headers_in;

    if (ctx->buffer == NULL) {
        ctx->buffer = pt_buf_create_temp(r->pool, ctx->conf->buffer_size);
        if (ctx->buffer == NULL) {
            return PT_ERROR;
        }
    }
    memset(h, 0, sizeof(*h));
    h->content_length_n = -1;
    if (pt_array_init(&h->headers, r->pool, 16, sizeof(pt_table_elt_t))
        != PT_OK)
    {
        return PT_ERROR;
    }
    memset(&ctx->status_parse, 0, sizeof(ctx->status_parse));
    pt_http_parse_init(&ctx->parse);
    ctx->head_parsed = 0;
    ctx->head_done = 0;
    ctx->head_ready = 1;
    return PT_OK;
}

/* nginx's words for an invalid upstream head. */
static void
log_invalid(pt_proxy_ctx_t *ctx, pt_buf_t *b)
{
    pt_proxy_headers_in_t *h = &ctx->headers_in;
    pt_table_elt_t        *e = h->bad, *prev = h->content_length;
    u_char                *start = ctx->parse.line_start;

    switch (h->invalid) {
    case PT_PROXY_BAD_LENGTH:
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent invalid "
                     "\"Content-Length\" header: \"%.*s: %.*s\"",
                     (int) e->key.len, e->key.data, (int) e->value.len,
                     e->value.data);
        return;
    case PT_PROXY_BAD_DUPLICATE:
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent duplicate "
                     "header line: \"%.*s: %.*s\", previous value: "
                     "\"%.*s: %.*s\"", (int) e->key.len, e->key.data,
                     (int) e->value.len, e->value.data, (int) prev->key.len,
                     prev->key.data, (int) prev->value.len,
                     prev->value.data);
        return;
    case PT_PROXY_BAD_BOTH:
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent "
                     "\"Content-Length\" and \"Transfer-Encoding\" headers "
                     "at the same time");
        return;
    case PT_PROXY_BAD_TE:
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent unknown "
                     "\"Transfer-Encoding\": \"%.*s\"", (int) e->value.len,
                     e->value.data);
        return;
    }
    if (start == NULL || start > b->pos || b->pos >= b->last) {
        pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent invalid "
                     "header");
        return;
    }
    pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent invalid header: "
                 "\"%.*s\\x%02x...\"", (int) (b->pos - start), start,
                 (unsigned) *b->pos);
}

/* Parse what the head buffer holds: PT_OK (head complete), PT_AGAIN, or
 * an ft code (positive) for an invalid head. */
static int
parse_head(pt_proxy_ctx_t *ctx)
{
    pt_buf_t *b = ctx->buffer;
    int       rc;

    if (!ctx->head_parsed) {
        rc = pt_proxy_parse_status_line(&ctx->status_parse, b,
                                        &ctx->headers_in);
        if (rc == PT_AGAIN) {
            return PT_AGAIN;
        }
        if (rc != PT_OK) {
            /* as nginx: bytes that are no HTTP/1.x head are an HTTP/0.9
             * response, passed raw */
            pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent no valid "
                         "HTTP/1.0 header");
            ctx->headers_in.status = PT_HTTP_OK;
            ctx->headers_in.version = 9;
            ctx->headers_in.connection_close = 1;
            b->pos = b->start;
            return PT_OK;
        }
        ctx->head_parsed = 1;
    }
    for (;;) {
        rc = pt_http_parse_header_line(&ctx->parse, b);
        if (rc == PT_OK) {
            if (ctx->parse.invalid_header & PT_HTTP_HEADER_BAD_CHAR) {
                goto invalid;
            }
            rc = pt_proxy_add_header(ctx->r->pool, &ctx->headers_in,
                                     &ctx->parse);
            if (rc == PT_ERROR) {
                return PT_ERROR;
            }
            if (rc != PT_OK) {
                goto invalid;
            }
            continue;
        }
        if (rc == PT_HTTP_PARSE_HEADER_DONE) {
            return PT_OK;
        }
        if (rc == PT_AGAIN) {
            return PT_AGAIN;
        }
        goto invalid;
    }

invalid:
    log_invalid(ctx, b);
    return PT_PROXY_FT_INVALID_HEADER;
}

static pt_uint_t
status_ft(pt_uint_t status)
{
    switch (status) {
    case 500: return PT_PROXY_FT_HTTP_500;
    case 502: return PT_PROXY_FT_HTTP_502;
    case 503: return PT_PROXY_FT_HTTP_503;
    case 504: return PT_PROXY_FT_HTTP_504;
    case 403: return PT_PROXY_FT_HTTP_403;
    case 404: return PT_PROXY_FT_HTTP_404;
    case 429: return PT_PROXY_FT_HTTP_429;
    default:  return 0;
    }
}

static int
has_error_page(pt_http_request_t *r, pt_uint_t status)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_http_err_page_t *ep;
    pt_uint_t           i;

    if (clcf->error_pages == NULL || clcf->error_pages == PT_CONF_UNSET_PTR) {
        return 0;
    }
    ep = clcf->error_pages->elts;
    for (i = 0; i < clcf->error_pages->nelts; i++) {
        if (ep[i].status == status) {
            return 1;
        }
    }
    return 0;
}

/* X-Accel-Redirect: the response is replaced by an internal redirect. */
static void
accel_redirect(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t *r = ctx->r;
    pt_str_t           uri = ctx->headers_in.x_accel_redirect->value, args;
    u_char            *q;
    pt_str_t           copy;

    copy.len = uri.len;
    copy.data = pt_pnalloc(r->pool, uri.len + 1);
    if (copy.data == NULL || pt_proxy_copy_redirect_headers(ctx) != PT_OK) {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    memcpy(copy.data, uri.data, uri.len);
    copy.data[uri.len] = '\0';
    ctx->finalized = 1;
    pt_proxy_close_peer(ctx, 0);
    r->upstream = NULL;
    r->read_event_handler = pt_http_block_reading;
    if (copy.len > 0 && copy.data[0] == '@') {
        pt_http_finalize_request(r, pt_http_named_location(r, &copy));
        return;
    }
    args.len = 0;
    args.data = NULL;
    q = memchr(copy.data, '?', copy.len);
    if (q != NULL) {
        args.data = q + 1;
        args.len = (size_t) (copy.data + copy.len - q - 1);
        copy.len = (size_t) (q - copy.data);
    }
    if (!(r->method & PT_HTTP_HEAD)) {
        r->method = PT_HTTP_GET;
        pt_str_set(&r->method_name, "GET");
    }
    pt_http_finalize_request(r, pt_http_internal_redirect(r, &copy,
                                                          q ? &args : NULL));
}

static void
head_complete(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t     *r = ctx->r;
    pt_proxy_headers_in_t *h = &ctx->headers_in;
    pt_uint_t              ft;

    ctx->head_done = 1;
    ctx->state->status = h->status;
    ctx->state->header_time = pt_current_msec - ctx->state->start;
    ft = status_ft(h->status);
    if (ft != 0 && (ctx->conf->next_upstream & ft)
        && may_retry(ctx, ft, 0))
    {
        next_upstream(ctx, ft);
        return;
    }
    if (h->x_accel_redirect != NULL
        && !(ctx->conf->ignore_headers & PT_PROXY_IGN_XA_REDIRECT))
    {
        accel_redirect(ctx);
        return;
    }
    if (h->status >= PT_HTTP_SPECIAL_RESPONSE && ctx->conf->intercept_errors
        && has_error_page(r, h->status))
    {
        pt_proxy_finalize(ctx, (pt_int_t) h->status);
        return;
    }
    if (pt_proxy_body_init(ctx) != PT_OK) {
        return;
    }
    pt_proxy_body_process(ctx);
}

static void
process_header(pt_proxy_ctx_t *ctx)
{
    pt_connection_t *c = ctx->u->peer.connection;
    pt_buf_t        *b;
    ssize_t          n;
    int              rc;

    if (c->read->timedout) {
        c->read->timedout = 0;
        pt_log_error(PT_LOG_ERR, &ctx->log, ETIMEDOUT, "upstream timed out");
        next_upstream(ctx, PT_PROXY_FT_TIMEOUT);
        return;
    }
    ctx->action = "reading response header from upstream";
    if (!ctx->head_ready) {
        /* once per try: reads that bring no byte (early reads while the
         * request goes out, TLS records) must not redo it */
        if (init_head(ctx) != PT_OK) {
            pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }
    b = ctx->buffer;
    for (;;) {
        if (b->last == b->end) {
            pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream sent too big "
                         "header");
            next_upstream(ctx, PT_PROXY_FT_INVALID_HEADER);
            return;
        }
        n = pt_proxy_recv(ctx, b);
        if (n <= 0 && send_error_stands(ctx)) {
            return;
        }
        if (n == PT_AGAIN) {
            return;
        }
        if (n == PT_ERROR) {
            next_upstream(ctx, PT_PROXY_FT_ERROR);
            return;
        }
        if (n == 0) {
            pt_log_error(PT_LOG_ERR, &ctx->log, 0, "upstream prematurely "
                         "closed connection");
            next_upstream(ctx, PT_PROXY_FT_ERROR);
            return;
        }
        rc = parse_head(ctx);
        if (rc == PT_AGAIN) {
            if (!c->read->ready) {
                (void) send_error_stands(ctx);
                return;
            }
            continue;
        }
        if (rc == PT_ERROR) {
            pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        if (rc != PT_OK) {
            next_upstream(ctx, (pt_uint_t) rc);
            return;
        }
        pt_timer_del(c->read);
        if (!ctx->request_sent && !ctx->send_stopped) {
            stop_sending(ctx);
        }
        head_complete(ctx);
        return;
    }
}

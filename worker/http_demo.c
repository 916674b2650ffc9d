/*
 * A minimal HTTP/1.1 responder: enough to prove accept, keep-alive,
 * graceful stop, reload and binary upgrade. Requests are read whole into a
 * 4 KiB buffer and answered from the default server's `return`.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http.h"
#include "http_demo.h"
#include "timer.h"
#include "worker.h"

#define DEMO_BUF_SIZE       4096
#define DEMO_HEADER_TIMEOUT 60000
#define DEMO_KEEPALIVE      75000
/* How long an idle keep-alive connection may still send one request once
 * the worker is stopping (Portico's keepalive_min_timeout default). */
#define DEMO_GRACE          1000

typedef struct {
    pt_buf_t   *in;
    u_char     *out;
    size_t      out_len;
    size_t      out_sent;
    unsigned    keepalive:1;
} demo_t;

static void read_handler(pt_event_t *ev);
static void write_handler(pt_event_t *ev);

static const char *
reason(pt_int_t code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Moved Temporarily";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Temporarily Unavailable";
    default: return "";
    }
}

static pt_http_loc_conf_t *
server_conf(pt_connection_t *c)
{
    pt_http_addr_t *addr = c->listening->servers;

    return addr->default_server->ctx->loc_conf[pt_http_module.index];
}

void
pt_http_demo_init_connection(pt_connection_t *c)
{
    demo_t *d = pt_pcalloc(c->pool, sizeof(demo_t));

    if (d == NULL) {
        pt_conn_close(c);
        return;
    }
    d->in = pt_buf_create_temp(c->pool, DEMO_BUF_SIZE);
    if (d->in == NULL) {
        pt_conn_close(c);
        return;
    }
    c->data = d;
    c->read->handler = read_handler;
    c->write->handler = write_handler;
    pt_timer_add(c->read, DEMO_HEADER_TIMEOUT);
    /* data may already be waiting (deferred accept): try at once */
    read_handler(c->read);
}

/* Body with every "$pid" replaced by this worker's pid. */
static size_t
expand_body(const pt_str_t *text, u_char *out, size_t size)
{
    u_char  pid[PT_INT64_LEN + 1];
    int     pidlen = snprintf((char *) pid, sizeof(pid), "%d", (int) getpid());
    size_t  i, n = 0;

    for (i = 0; i < text->len && n < size; i++) {
        if (text->len - i >= 4 && memcmp(text->data + i, "$pid", 4) == 0
            && n + (size_t) pidlen <= size)
        {
            memcpy(out + n, pid, (size_t) pidlen);
            n += (size_t) pidlen;
            i += 3;
            continue;
        }
        out[n++] = text->data[i];
    }
    return n;
}

static int
build_response(pt_connection_t *c, demo_t *d, int head, int bad)
{
    pt_http_loc_conf_t *lcf = server_conf(c);
    pt_int_t            code = bad ? 400 : lcf->return_code;
    u_char              body[2048];
    size_t              blen = 0, size;
    int                 n, redirect;
    pt_str_t            text = lcf->return_text;

    if (code == PT_CONF_UNSET) {
        code = 404;
        pt_str_set(&text, "");
    }
    redirect = !bad && code >= 301 && code <= 308 && code != 304;
    if (!redirect && !bad) {
        blen = expand_body(&text, body, sizeof(body));
    }
    if (!d->keepalive || pt_worker_exiting) {
        d->keepalive = 0;
    }

    size = 512 + blen + (redirect ? text.len : 0);
    d->out = pt_pnalloc(c->pool, size);
    if (d->out == NULL) {
        return PT_ERROR;
    }
    n = snprintf((char *) d->out, size,
                 "HTTP/1.1 %ld %s\r\nServer: portico\r\nDate: %.*s\r\n"
                 "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "%s%.*s%sConnection: %s\r\n\r\n",
                 (long) code, reason(code),
                 (int) pt_cached_http_time.len, pt_cached_http_time.data,
                 blen, redirect ? "Location: " : "",
                 redirect ? (int) text.len : 0, text.data,
                 redirect ? "\r\n" : "",
                 d->keepalive ? "keep-alive" : "close");
    if (n < 0 || (size_t) n + blen > size) {
        return PT_ERROR;
    }
    if (!head) {
        memcpy(d->out + n, body, blen);
        n += (int) blen;
    }
    d->out_len = (size_t) n;
    d->out_sent = 0;
    return PT_OK;
}

/* Look at a complete head in d->in: the version and Connection header
 * decide keep-alive. Returns the head length, 0 if incomplete. */
static size_t
head_length(demo_t *d, int *head_method, int *bad)
{
    u_char *p = d->in->pos, *end = d->in->last, *eoh, *line_end;
    size_t  n = (size_t) (end - p);

    eoh = memmem(p, n, "\r\n\r\n", 4);
    if (eoh == NULL) {
        return 0;
    }
    line_end = memchr(p, '\n', n);
    *head_method = (n >= 5 && memcmp(p, "HEAD ", 5) == 0);
    *bad = (line_end == NULL || line_end - p < 14
            || memcmp(line_end - 10, " HTTP/1.", 8) != 0);
    d->keepalive = !*bad && line_end[-2] == '1'
                   && memmem(p, (size_t) (eoh - p), "onnection: close", 16)
                      == NULL;
    return (size_t) (eoh + 4 - p);
}

static void
finish_request(pt_connection_t *c, demo_t *d)
{
    if (!d->keepalive) {
        pt_conn_close(c);
        return;
    }
    c->requests++;
    if (d->in->pos == d->in->last) {
        d->in->pos = d->in->last = d->in->start;
    }
    c->idle = 1;
    pt_timer_add(c->read, pt_worker_exiting ? DEMO_GRACE : DEMO_KEEPALIVE);
    if (d->in->pos < d->in->last) {
        /* a pipelined request is already here */
        pt_event_post(c->read);
    }
}

static void
send_response(pt_connection_t *c, demo_t *d)
{
    ssize_t n;

    while (d->out_sent < d->out_len) {
        n = c->send(c, d->out + d->out_sent, d->out_len - d->out_sent);
        if (n == PT_AGAIN) {
            pt_timer_add(c->write, 60000);
            return;
        }
        if (n == PT_ERROR) {
            pt_conn_close(c);
            return;
        }
        d->out_sent += (size_t) n;
    }
    if (c->write->timer_set) {
        pt_timer_del(c->write);
    }
    d->out_len = 0;
    finish_request(c, d);
}

static void
write_handler(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;
    demo_t          *d = c->data;

    if (ev->timedout) {
        pt_conn_close(c);
        return;
    }
    if (d->out_len > 0) {
        send_response(c, d);
    }
}

static void
read_handler(pt_event_t *ev)
{
    pt_connection_t *c = ev->data;
    demo_t          *d = c->data;
    ssize_t          n;
    size_t           len;
    int              head, bad;

    if (ev->timedout || c->close) {
        pt_conn_close(c);
        return;
    }
    if (d->out_len > 0) {
        return;   /* still writing the previous response */
    }

    for (;;) {
        len = head_length(d, &head, &bad);
        if (len > 0) {
            break;
        }
        if (d->in->last == d->in->end) {
            if (d->in->pos > d->in->start) {
                memmove(d->in->start, d->in->pos,
                        (size_t) (d->in->last - d->in->pos));
                d->in->last -= d->in->pos - d->in->start;
                d->in->pos = d->in->start;
                continue;
            }
            d->keepalive = 0;
            bad = 1;
            head = 0;
            len = (size_t) (d->in->last - d->in->pos);
            break;
        }
        n = c->recv(c, d->in->last, (size_t) (d->in->end - d->in->last));
        if (n == PT_AGAIN) {
            if (!c->idle && !ev->timer_set) {
                pt_timer_add(ev, DEMO_HEADER_TIMEOUT);
            }
            return;
        }
        if (n == PT_ERROR || n == 0) {
            pt_conn_close(c);
            return;
        }
        d->in->last += n;
        if (c->idle) {
            c->idle = 0;
            pt_timer_add(ev, DEMO_HEADER_TIMEOUT);
        }
    }

    d->in->pos += len;
    if (ev->timer_set) {
        pt_timer_del(ev);
    }
    c->idle = 0;
    if (build_response(c, d, head, bad) != PT_OK) {
        pt_conn_close(c);
        return;
    }
    send_response(c, d);
}

void
pt_http_demo_shutdown(void)
{
    pt_uint_t        i;
    pt_connection_t *c;

    for (i = 0; i < pt_conn_slots_n; i++) {
        c = &pt_conn_slots[i];
        if (c->fd != -1 && c->listening != NULL && c->idle) {
            pt_timer_add(c->read, DEMO_GRACE);
        }
    }
}

void
pt_http_demo_close_all(void)
{
    pt_uint_t        i;
    pt_connection_t *c;

    for (i = 0; i < pt_conn_slots_n; i++) {
        c = &pt_conn_slots[i];
        if (c->fd != -1 && c->listening != NULL) {
            pt_conn_close(c);
        }
    }
}

/*
 * From a new connection to a request ready for the phases: wait for bytes
 * (holding no buffer while idle), read and parse the request line and
 * headers into one contiguous buffer that grows up to the configured
 * limits, validate the head against request smuggling, pick the server.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/buf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_listen.h"
#include "http_request.h"
#include "http_server_name.h"
#include "http_ssl.h"
#include "http_variables.h"
#include "timer.h"
#include "worker.h"

#define REQUEST_POOL_SIZE 4096

static void process_request_line(pt_event_t *ev);
static void process_request_headers(pt_event_t *ev);
static int process_request_head(pt_http_request_t *r);

/* How a known request header is stored and checked. */
typedef int (*header_handler_pt)(pt_http_request_t *r, pt_table_elt_t *h,
                                 size_t offset);

typedef struct {
    pt_str_t           name;       /* lower case */
    size_t             offset;     /* of the pt_table_elt_t * in headers_in */
    header_handler_pt  handler;
} header_t;

static int header_single(pt_http_request_t *r, pt_table_elt_t *h, size_t o);
static int header_unique(pt_http_request_t *r, pt_table_elt_t *h, size_t o);
static int header_multi(pt_http_request_t *r, pt_table_elt_t *h, size_t o);
static int header_host(pt_http_request_t *r, pt_table_elt_t *h, size_t o);
static int header_connection(pt_http_request_t *r, pt_table_elt_t *h,
                             size_t o);
static int header_user_agent(pt_http_request_t *r, pt_table_elt_t *h,
                             size_t o);

#define IN(f) offsetof(pt_http_headers_in_t, f)

static const header_t known_headers[] = {
    { pt_string("host"), IN(host), header_host },
    { pt_string("connection"), IN(connection), header_connection },
    { pt_string("if-modified-since"), IN(if_modified_since), header_unique },
    { pt_string("if-unmodified-since"), IN(if_unmodified_since),
      header_unique },
    { pt_string("if-match"), IN(if_match), header_single },
    { pt_string("if-none-match"), IN(if_none_match), header_single },
    { pt_string("user-agent"), IN(user_agent), header_user_agent },
    { pt_string("referer"), IN(referer), header_single },
    { pt_string("content-length"), IN(content_length), header_unique },
    { pt_string("content-type"), IN(content_type), header_single },
    { pt_string("range"), IN(range), header_single },
    { pt_string("if-range"), IN(if_range), header_single },
    { pt_string("transfer-encoding"), IN(transfer_encoding), header_unique },
    { pt_string("te"), IN(te), header_single },
    { pt_string("expect"), IN(expect), header_unique },
    { pt_string("upgrade"), IN(upgrade), header_single },
    { pt_string("accept-encoding"), IN(accept_encoding), header_single },
    { pt_string("via"), IN(via), header_single },
    { pt_string("authorization"), IN(authorization), header_unique },
    { pt_string("keep-alive"), IN(keep_alive), header_single },
    { pt_string("x-forwarded-for"), IN(x_forwarded_for), header_multi },
    { pt_string("x-real-ip"), IN(x_real_ip), header_single },
    { pt_string("cookie"), IN(cookie), header_multi },
    { pt_null_string, 0, NULL }
};

/* ", client: A, server: S, request: "R", host: "H"" as nginx adds. */
static u_char *
log_context(pt_log_t *log, u_char *p, u_char *end)
{
    pt_connection_t      *c = log->context_data;
    pt_http_connection_t *hc = c->data;
    pt_http_request_t    *r = hc != NULL ? hc->request : NULL;
    pt_http_srv_conf_t   *scf;

    p = pt_slprintf(p, end, ", client: %.*s", (int) c->addr_text.len,
                    c->addr_text.data);
    if (hc == NULL) {
        return p;
    }
    scf = r != NULL ? pt_http_core_srv_conf(r)
                    : hc->addr->default_server;
    p = pt_slprintf(p, end, ", server: %.*s", (int) scf->server_name.len,
                    scf->server_name.data);
    if (r == NULL) {
        return p;
    }
    if (r->request_line.len > 0) {
        p = pt_slprintf(p, end, ", request: \"%.*s\"",
                        (int) r->request_line.len, r->request_line.data);
    }
    if (r->headers_in.host != NULL) {
        p = pt_slprintf(p, end, ", host: \"%.*s\"",
                        (int) r->headers_in.host->value.len,
                        r->headers_in.host->value.data);
    }
    return p;
}

pt_log_t *
pt_http_log_with_context(pt_pool_t *pool, pt_log_t *log, pt_connection_t *c)
{
    pt_log_t *l = pt_palloc(pool, sizeof(pt_log_t));

    if (l == NULL) {
        return NULL;
    }
    *l = *log;
    l->context = log_context;
    l->context_data = c;
    l->connection = c->number;
    return l;
}

void
pt_http_init_connection(pt_connection_t *c)
{
    pt_http_connection_t *hc;
    pt_http_srv_conf_t   *scf;

    hc = pt_pcalloc(c->pool, sizeof(pt_http_connection_t));
    if (hc == NULL) {
        pt_conn_close(c);
        return;
    }
    hc->addr = pt_http_listen_local_addr(c, c->listening->servers);
    hc->start_msec = pt_current_msec;
    c->data = hc;
    /* the request's copy of it adds the context: an idle connection
     * keeps no log of its own */
    hc->log = c->log;
    c->read->handler = hc->addr->proxy_protocol
                       ? pt_http_proxy_protocol_handler
                       : hc->addr->ssl ? pt_http_ssl_handshake_handler
                                       : pt_http_wait_request_handler;
    c->write->handler = pt_event_empty_handler;

    scf = hc->addr->default_server->ctx->srv_conf[pt_http_core_module.index];
    pt_timer_add(c->read, scf->client_header_timeout);
    pt_conn_reusable(c, 1);

    /* the first bytes may be here already (deferred accept, or a fast
     * client): epoll reports them too, but trying now saves a wait. Not
     * for a TLS handshake: its first wait is never saved (the write
     * readiness reported at registration wakes the loop anyway, and the
     * client's second flight is awaited after it), so a try before the
     * ClientHello is there is only a wasted recv */
    if (!hc->addr->ssl || hc->addr->proxy_protocol) {
        c->read->handler(c->read);
    }
}

/* Release the head buffer of an idle connection: an idle keep-alive
 * connection holds no buffer at all. */
void
pt_http_release_buffer(pt_connection_t *c)
{
    if (c->buffer != NULL && c->buffer->pos == c->buffer->last) {
        (void) pt_pfree(c->pool, c->buffer->start);
        c->buffer = NULL;
    }
}

static pt_http_request_t *
create_request(pt_connection_t *c)
{
    pt_http_connection_t     *hc = c->data;
    pt_http_srv_conf_t       *scf = hc->addr->default_server
                                    ->ctx->srv_conf[pt_http_core_module.index];
    pt_http_core_main_conf_t *cmcf;
    pt_http_request_t        *r;
    pt_pool_t                *pool;

    pool = pt_pool_create(REQUEST_POOL_SIZE, c->log);
    if (pool == NULL) {
        return NULL;
    }
    r = pt_pcalloc(pool, sizeof(pt_http_request_t));
    if (r == NULL) {
        goto failed;
    }
    r->pool = pool;
    r->connection = c;
    r->main = r;
    r->count = 1;
    r->main_conf = scf->ctx->main_conf;
    r->srv_conf = scf->ctx->srv_conf;
    r->loc_conf = scf->ctx->loc_conf;
    r->header_in = c->buffer;
    r->start_sec = pt_time_sec;
    r->start_msec = pt_time_msec;
    /* until the request line says otherwise: an error answered before
     * it is parsed still gets a status line and headers (as nginx) */
    r->http_version = PT_HTTP_VERSION_10;
    r->headers_in.content_length_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
    r->uri_changes = PT_HTTP_MAX_URI_CHANGES + 1;
    r->http_state = PT_HTTP_READING_REQUEST_STATE;

    cmcf = r->main_conf[pt_http_core_module.index];
    r->ctx = pt_pcalloc(pool, sizeof(void *) * pt_http_modules_n);
    r->variables = pt_pcalloc(pool, sizeof(pt_http_variable_value_t)
                                    * pt_http_variables_count(cmcf));
    if (r->ctx == NULL || r->variables == NULL
        || pt_array_init(&r->headers_in.headers, pool, 16,
                         sizeof(pt_table_elt_t)) != PT_OK
        || pt_array_init(&r->headers_out.headers, pool, 16,
                         sizeof(pt_table_elt_t)) != PT_OK
        || pt_array_init(&r->headers_out.trailers, pool, 2,
                         sizeof(pt_table_elt_t)) != PT_OK)
    {
        goto failed;
    }
    pt_http_parse_init(&r->parse);
    hc->request_log = pt_http_log_with_context(pool, hc->log, c);
    if (hc->request_log == NULL) {
        goto failed;
    }
    c->log = hc->request_log;
    hc->request = r;
    c->requests++;
    return r;

failed:
    pt_pool_destroy(pool);
    return NULL;
}

/* Read what the socket has into the head buffer. Returns bytes read,
 * PT_AGAIN, or PT_ERROR (the connection is finished by the caller). */
static ssize_t
read_head(pt_http_request_t *r)
{
    pt_connection_t *c = r->connection;
    pt_buf_t        *b = r->header_in;
    ssize_t          n;

    n = b->last - b->pos;
    if (n > 0) {
        return n;    /* unparsed bytes already buffered (pipelining) */
    }
    if (c->read->ready) {
        n = c->recv(c, b->last, (size_t) (b->end - b->last));
    } else {
        n = PT_AGAIN;
    }
    if (n == PT_AGAIN) {
        if (!c->read->timer_set) {
            pt_timer_add(c->read, pt_http_core_srv_conf(r)->client_header_timeout);
        }
        return PT_AGAIN;
    }
    if (n == 0) {
        pt_log_error(PT_LOG_INFO, c->log, 0, "client prematurely closed "
                     "connection");
    }
    if (n == 0 || n == PT_ERROR) {
        c->error = 1;
        pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
        return PT_ERROR;
    }
    b->last += n;
    return n;
}

void
pt_http_wait_request_handler(pt_event_t *ev)
{
    pt_connection_t      *c = ev->data;
    pt_http_connection_t *hc = c->data;
    pt_http_srv_conf_t   *scf;
    pt_http_request_t    *r;
    ssize_t               n;
    size_t                size;

    if (ev->timedout || c->close) {
        pt_http_close_connection(c);
        return;
    }

    scf = hc->addr->default_server->ctx->srv_conf[pt_http_core_module.index];
    size = scf->client_header_buffer_size;

    if (c->buffer == NULL) {
        c->buffer = pt_buf_create_temp(c->pool, size);
        if (c->buffer == NULL) {
            pt_http_close_connection(c);
            return;
        }
    }
    if (c->buffer->pos == c->buffer->last) {
        c->buffer->pos = c->buffer->last = c->buffer->start;
        n = c->recv(c, c->buffer->last, (size_t) (c->buffer->end
                                                  - c->buffer->last));
        if (n == PT_AGAIN) {
            pt_http_release_buffer(c);
            return;
        }
        if (n == PT_ERROR || n == 0) {
            pt_http_close_connection(c);
            return;
        }
        c->buffer->last += n;
    }

    pt_conn_reusable(c, 0);
    c->idle = 0;
    pt_timer_add(c->read, scf->client_header_timeout);
    r = create_request(c);
    if (r == NULL) {
        pt_http_close_connection(c);
        return;
    }
    ev->handler = process_request_line;
    process_request_line(ev);
}

/* Move the head to a bigger buffer when the current one is full: the head
 * stays contiguous, so every pointer into it is moved by the same delta.
 * Returns PT_OK, PT_DECLINED (the limit is reached) or PT_ERROR. */
static int
grow_head_buffer(pt_http_request_t *r, u_char *keep_from)
{
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    pt_connection_t    *c = r->connection;
    pt_buf_t           *old = r->header_in, *b;
    size_t              cur = (size_t) (old->end - old->start), size, used;
    /* nginx keeps the lines of its first buffer and fills up to num large
     * buffers with the rest: the same total, in one contiguous buffer */
    size_t              limit = scf->client_header_buffer_size
                                + scf->large_client_header_buffers_num
                                  * scf->large_client_header_buffers_size;

    if (keep_from == NULL) {
        keep_from = old->pos;
    }
    used = (size_t) (old->last - keep_from);
    size = cur < scf->large_client_header_buffers_size
           ? scf->large_client_header_buffers_size : cur * 2;
    if (size > limit) {
        size = limit;
    }
    if (size <= used || cur >= limit) {
        return PT_DECLINED;
    }
    b = pt_buf_create_temp(c->pool, size);
    if (b == NULL) {
        return PT_ERROR;
    }
    memcpy(b->start, keep_from, used);
    b->pos = b->start + (old->pos - keep_from);
    b->last = b->start + used;
    pt_http_rebase_request(r, keep_from, old->last, b->start);
    if (old == c->buffer) {
        c->buffer = b;
    }
    (void) pt_pfree(c->pool, old->start);
    r->header_in = b;
    return PT_OK;
}

static void
process_request_line(pt_event_t *ev)
{
    pt_connection_t   *c = ev->data;
    pt_http_connection_t *hc = c->data;
    pt_http_request_t *r = hc->request;
    ssize_t            n;
    int                rc;

    if (ev->timedout) {
        pt_log_error(PT_LOG_INFO, c->log, 0, "client timed out");
        c->timedout = 1;
        pt_http_finalize_request(r, PT_HTTP_REQUEST_TIME_OUT);
        return;
    }

    for (;;) {
        n = read_head(r);
        if (n == PT_AGAIN || n == PT_ERROR) {
            return;
        }
        rc = pt_http_parse_request_line(&r->parse, r->header_in);
        if (rc == PT_OK) {
            if (pt_http_process_request_uri(r) != PT_OK) {
                return;
            }
            ev->handler = process_request_headers;
            process_request_headers(ev);
            return;
        }
        if (rc != PT_AGAIN) {
            pt_http_parse_error(r, rc);
            return;
        }
        if (r->header_in->last == r->header_in->end) {
            /* the request line must fit one large buffer (as nginx) */
            rc = r->parse.request_start != NULL
                 && (size_t) (r->header_in->last - r->parse.request_start)
                    >= pt_http_core_srv_conf(r)
                       ->large_client_header_buffers_size
                 ? PT_DECLINED
                 : grow_head_buffer(r, r->parse.request_start);
            if (rc == PT_DECLINED) {
                pt_log_error(PT_LOG_INFO, c->log, 0, "client sent too long "
                             "URI");
                pt_http_finalize_request(r, PT_HTTP_REQUEST_URI_TOO_LARGE);
                return;
            }
            if (rc == PT_ERROR) {
                pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
        }
    }
}

pt_table_elt_t *
pt_http_push_header(pt_pool_t *pool, pt_array_t *headers, pt_http_parse_t *p)
{
    pt_table_elt_t *h;
    size_t          len = (size_t) (p->header_name_end - p->header_name_start);

    h = pt_array_push(headers);
    if (h == NULL) {
        return NULL;
    }
    h->hash = 1;
    h->key.data = p->header_name_start;
    h->key.len = len;
    h->value.data = p->header_start;
    h->value.len = (size_t) (p->header_end - p->header_start);
    h->next = NULL;
    h->lowcase_key = pt_pnalloc(pool, len + 1);
    if (h->lowcase_key == NULL) {
        return NULL;
    }
    if (len <= PT_HTTP_LC_HEADER_LEN) {
        /* the parser lowercased it on the way */
        memcpy(h->lowcase_key, p->lowcase_header, len);
    } else {
        for (size_t i = 0; i < len; i++) {
            h->lowcase_key[i] = pt_tolower(h->key.data[i]);
        }
    }
    h->lowcase_key[len] = '\0';
    return h;
}

/* Store one parsed header and run its handler. */
static int
store_header(pt_http_request_t *r)
{
    pt_table_elt_t  *h;
    const header_t  *k;
    size_t           len;

    h = pt_http_push_header(r->pool, &r->headers_in.headers, &r->parse);
    if (h == NULL) {
        return PT_ERROR;
    }
    len = h->key.len;

    /* lengths first: most headers are rejected without a byte compare */
    for (k = known_headers; k->name.len != 0; k++) {
        if (k->name.len == len
            && memcmp(k->name.data, h->lowcase_key, len) == 0)
        {
            return k->handler(r, h, k->offset);
        }
    }
    return PT_OK;
}

static void
process_request_headers(pt_event_t *ev)
{
    pt_connection_t      *c = ev->data;
    pt_http_connection_t *hc = c->data;
    pt_http_request_t    *r = hc->request;
    pt_http_srv_conf_t   *scf;
    ssize_t               n;
    int                   rc;

    if (ev->timedout) {
        pt_log_error(PT_LOG_INFO, c->log, 0, "client timed out");
        c->timedout = 1;
        pt_http_finalize_request(r, PT_HTTP_REQUEST_TIME_OUT);
        return;
    }

    for (;;) {
        rc = pt_http_parse_header_line(&r->parse, r->header_in);
        scf = pt_http_core_srv_conf(r);

        if (rc == PT_OK) {
            size_t line = (size_t) (r->parse.header_end
                                    - r->parse.header_name_start);

            r->request_length += line + 2;
            if (line > scf->large_client_header_buffers_size) {
                goto too_large;
            }
            if (r->parse.invalid_header
                && pt_http_skip_invalid_header(r, scf))
            {
                continue;
            }
            if (r->parse.invalid_header) {
                pt_log_error(PT_LOG_INFO, c->log, 0, "client sent invalid "
                             "header line: \"%.*s\"", (int) pt_min(line, 64),
                             r->parse.header_name_start);
                pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
                return;
            }
            if (store_header(r) != PT_OK) {
                return;
            }
            continue;
        }
        if (rc == PT_HTTP_PARSE_HEADER_DONE) {
            r->header_size = (size_t) (r->header_in->pos
                                       - r->parse.request_start);
            r->request_length = (off_t) r->header_size;
            r->http_state = PT_HTTP_PROCESS_REQUEST_STATE;
            if (process_request_head(r) != PT_OK) {
                return;
            }
            pt_http_process_request(r);
            return;
        }
        if (rc != PT_AGAIN) {
            pt_http_parse_error(r, rc);
            return;
        }

        /* PT_AGAIN: the parser took every byte; make room and read more */
        if (r->header_in->last == r->header_in->end) {
            rc = grow_head_buffer(r, r->parse.request_start);
            if (rc == PT_DECLINED) {
                goto too_large;
            }
            if (rc == PT_ERROR) {
                pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
                return;
            }
        }
        n = read_head(r);
        if (n == PT_AGAIN || n == PT_ERROR) {
            return;
        }
    }

too_large:
    pt_log_error(PT_LOG_INFO, c->log, 0, "client sent too large request "
                 "header or cookie");
    pt_http_finalize_request(r, PT_HTTP_REQUEST_HEADER_TOO_LARGE);
}

/* ------------------------------------------------------------------ */
/* Known headers                                                       */

static pt_table_elt_t **
slot_of(pt_http_request_t *r, size_t offset)
{
    return (pt_table_elt_t **) ((u_char *) &r->headers_in + offset);
}

static int
header_single(pt_http_request_t *r, pt_table_elt_t *h, size_t offset)
{
    pt_table_elt_t **ph = slot_of(r, offset);

    if (*ph == NULL) {
        *ph = h;
    }
    return PT_OK;
}

/* Headers whose repetition makes the request ambiguous: 400. */
static int
header_unique(pt_http_request_t *r, pt_table_elt_t *h, size_t offset)
{
    pt_table_elt_t **ph = slot_of(r, offset);

    if (*ph != NULL) {
        pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client sent "
                     "duplicate header line: \"%.*s: %.*s\", previous value: "
                     "\"%.*s: %.*s\"", (int) h->key.len, h->key.data,
                     (int) h->value.len, h->value.data,
                     (int) (*ph)->key.len, (*ph)->key.data,
                     (int) (*ph)->value.len, (*ph)->value.data);
        pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
        return PT_ERROR;
    }
    *ph = h;
    return PT_OK;
}

static int
header_multi(pt_http_request_t *r, pt_table_elt_t *h, size_t offset)
{
    pt_table_elt_t **ph = slot_of(r, offset);

    while (*ph != NULL) {
        ph = &(*ph)->next;
    }
    *ph = h;
    return PT_OK;
}

static int
header_host(pt_http_request_t *r, pt_table_elt_t *h, size_t offset)
{
    u_char  *host;
    ssize_t  n;

    if (r->headers_in.host != NULL) {
        pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client sent "
                     "duplicate host header: \"%.*s: %.*s\"",
                     (int) h->key.len, h->key.data, (int) h->value.len,
                     h->value.data);
        pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
        return PT_ERROR;
    }
    r->headers_in.host = h;

    host = pt_pnalloc(r->pool, h->value.len + 1);
    if (host == NULL) {
        return PT_ERROR;
    }
    n = pt_http_server_name_normalize(h->value.data, h->value.len, host);
    if (n <= 0) {
        pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client sent "
                     "invalid host header");
        pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
        return PT_ERROR;
    }
    if (r->headers_in.server.len > 0) {
        return PT_OK;    /* the absolute-form request line's host wins */
    }
    r->headers_in.server.data = host;
    r->headers_in.server.len = (size_t) n;
    return PT_OK;
}

/* Does a comma-separated list contain token `t` (case-insensitively)? */
int
pt_http_list_has(const pt_str_t *v, const char *t)
{
    size_t  n = strlen(t);
    u_char *p = v->data, *end = v->data + v->len, *s;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }
        s = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t') {
            p++;
        }
        if ((size_t) (p - s) == n && strncasecmp((char *) s, t, n) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
header_connection(pt_http_request_t *r, pt_table_elt_t *h, size_t offset)
{
    header_multi(r, h, offset);
    if (pt_http_list_has(&h->value, "close")) {
        r->headers_in.connection_close = 1;
    } else if (pt_http_list_has(&h->value, "keep-alive")) {
        r->headers_in.connection_keep_alive = 1;
    }
    return PT_OK;
}

static int
header_user_agent(pt_http_request_t *r, pt_table_elt_t *h, size_t offset)
{
    u_char *msie;

    header_single(r, h, offset);
    msie = memmem(h->value.data, h->value.len, "MSIE ", 5);
    if (msie != NULL && msie + 7 < h->value.data + h->value.len) {
        r->headers_in.msie = 1;
        /* nginx's "msie6": MSIE 4, 5 and 6, but not 6 with SV1 (XP SP2,
         * whose gzip and keep-alive work) */
        if (msie[6] == '.' && (msie[5] == '4' || msie[5] == '5'
                               || (msie[5] == '6'
                                   && memmem(msie + 8, (size_t) (h->value.data
                                             + h->value.len - msie - 8),
                                             "SV1", 3) == NULL)))
        {
            r->headers_in.msie6 = 1;
        }
    }
    return PT_OK;
}

/* The checks that only make sense on the whole head: Host presence,
 * body framing, Expect. Finalizes the request and returns PT_ERROR when
 * the head is refused. */
static int
process_request_head(pt_http_request_t *r)
{
    pt_http_headers_in_t *in = &r->headers_in;
    pt_log_t             *log = r->connection->log;
    off_t                 n;

    if (in->host == NULL && r->http_version >= PT_HTTP_VERSION_11) {
        pt_log_error(PT_LOG_INFO, log, 0, "client sent HTTP/1.1 request "
                     "without \"Host\" header");
        goto bad;
    }
    if (pt_http_select_server(r) != PT_OK) {
        return PT_ERROR;
    }

    if (in->content_length != NULL) {
        n = pt_http_parse_content_length(in->content_length->value.data,
                                         in->content_length->value.len);
        if (n < 0) {
            pt_log_error(PT_LOG_INFO, log, 0, "client sent invalid "
                         "\"Content-Length\" header");
            goto bad;
        }
        in->content_length_n = n;
    }

    if (in->transfer_encoding != NULL) {
        if (r->http_version < PT_HTTP_VERSION_11) {
            pt_log_error(PT_LOG_INFO, log, 0, "client sent HTTP/1.0 request "
                         "with \"Transfer-Encoding\" header");
            goto bad;
        }
        if (in->transfer_encoding->value.len != 7
            || strncasecmp((char *) in->transfer_encoding->value.data,
                           "chunked", 7) != 0)
        {
            pt_log_error(PT_LOG_INFO, log, 0, "client sent unknown "
                         "\"Transfer-Encoding\": \"%.*s\"",
                         (int) in->transfer_encoding->value.len,
                         in->transfer_encoding->value.data);
            pt_http_finalize_request(r, PT_HTTP_NOT_IMPLEMENTED);
            return PT_ERROR;
        }
        if (in->content_length != NULL) {
            pt_log_error(PT_LOG_INFO, log, 0, "client sent \"Content-Length\" "
                         "and \"Transfer-Encoding\" headers at the same time");
            goto bad;
        }
        in->chunked = 1;
    }

    if (r->method == PT_HTTP_TRACE) {
        pt_log_error(PT_LOG_INFO, log, 0, "client sent TRACE method");
        pt_http_finalize_request(r, PT_HTTP_NOT_ALLOWED);
        return PT_ERROR;
    }

    if (in->connection_close || (r->http_version < PT_HTTP_VERSION_11
                                 && !in->connection_keep_alive))
    {
        r->keepalive = 0;
    } else {
        r->keepalive = 1;
    }
    return PT_OK;

bad:
    pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
    return PT_ERROR;
}

/* Room for $1..$9 of a regex server_name. */
#define SERVER_NAME_CAPTURES 10

/* Pick the virtual server for the Host (or the default one) and set the
 * server's confs on the request; a regex name's captures become $1... */
/* The named captures of the regex server_name that matched. */
static void
set_name_captures(pt_http_request_t *r, pt_http_srv_conf_t *scf,
                  pt_regex_t *re, pt_str_t *host)
{
    pt_http_regex_t **hre;
    pt_uint_t         i;

    if (scf->name_regexes == NULL) {
        return;
    }
    hre = scf->name_regexes->elts;
    for (i = 0; i < scf->name_regexes->nelts; i++) {
        if (hre[i]->nvariables > 0 && pt_str_eq(&hre[i]->name, &re->pattern)) {
            pt_http_regex_set_vars(r, hre[i], host, (int) (r->ncaptures / 2));
            return;
        }
    }
}

int
pt_http_select_server(pt_http_request_t *r)
{
    pt_http_connection_t     *hc = r->connection->data;
    pt_http_core_main_conf_t *cmcf;
    pt_http_srv_conf_t       *scf = NULL;
    pt_str_t                 *host = &r->headers_in.server;
    pt_regex_t               *re = NULL;
    pt_uint_t                 pairs;
    int                       caps[SERVER_NAME_CAPTURES * 2];

    if (hc->addr->names != NULL) {
        scf = pt_http_server_names_find(hc->addr->names, host->data,
                                        host->len, caps,
                                        SERVER_NAME_CAPTURES, &re);
    }
    if (scf != NULL && re != NULL) {
        /* r->captures serves every later regex too: size it for them */
        cmcf = r->main_conf[pt_http_core_module.index];
        pairs = pt_max(cmcf->ncaptures + 1, SERVER_NAME_CAPTURES);
        if (r->captures == NULL) {
            r->captures = pt_palloc(r->pool, pairs * 3 * sizeof(int));
            if (r->captures == NULL) {
                pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
                return PT_ERROR;
            }
        }
        memcpy(r->captures, caps, sizeof(caps));
        r->ncaptures = pt_min(re->captures + 1, SERVER_NAME_CAPTURES) * 2;
        r->captures_data = host->data;
        set_name_captures(r, scf, re, host);
    }
    if (scf == NULL) {
        scf = hc->addr->default_server;
    }
    if (r->connection->tls != NULL
        && pt_http_ssl_check_server(r, scf) != PT_OK)
    {
        return PT_ERROR;
    }
    r->srv_conf = scf->ctx->srv_conf;
    r->loc_conf = scf->ctx->loc_conf;
    pt_http_update_location_config(r);
    return PT_OK;
}

/* Fill the request's line fields from the parser and normalise the path.
 * Finalizes with 400 and returns PT_ERROR on a bad URI. */
int
pt_http_process_request_uri(pt_http_request_t *r)
{
    pt_http_parse_t    *p = &r->parse;
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    u_char             *path_end, *u;
    size_t              len;

    r->request_line.data = p->request_start;
    r->request_line.len = (size_t) (p->request_end - p->request_start);
    r->method = p->method;
    r->method_name.data = p->request_start;
    r->method_name.len = (size_t) (p->method_end - p->request_start);
    r->http_version = p->http_version;
    r->http_protocol.data = p->uri_end + 1;
    r->http_protocol.len = (size_t) (p->request_end - p->uri_end - 1);
    r->unparsed_uri.data = p->uri_start;
    r->unparsed_uri.len = (size_t) (p->uri_end - p->uri_start);
    r->valid_unparsed_uri = 1;
    if (p->schema_start != NULL) {
        r->schema.data = p->schema_start;
        r->schema.len = (size_t) (p->schema_end - p->schema_start);
    }

    path_end = p->args_start != NULL ? p->args_start - 1 : p->uri_end;
    if (p->args_start != NULL && p->uri_end > p->args_start) {
        /* "/x?" has no args at all ($args is "not found"), as nginx */
        r->args.data = p->args_start;
        r->args.len = (size_t) (p->uri_end - p->args_start);
    }

    r->quoted_uri = p->quoted_uri;
    r->complex_uri = p->complex_uri;
    r->plus_in_uri = p->plus_in_uri;
    len = (size_t) (path_end - p->uri_start);

    if (p->complex_uri || p->quoted_uri || scf->merge_slashes == 0) {
        u = pt_pnalloc(r->pool, len + 1);
        if (u == NULL) {
            pt_http_finalize_request(r, PT_HTTP_INTERNAL_SERVER_ERROR);
            return PT_ERROR;
        }
        if (pt_http_normalize_path(p->uri_start, len, u, &len,
                                   scf->merge_slashes, NULL) != PT_OK)
        {
            pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client sent "
                         "invalid request: \"%.*s\"", (int) r->request_line.len,
                         r->request_line.data);
            pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
            return PT_ERROR;
        }
        r->uri.data = u;
        r->uri.len = len;
    } else {
        r->uri.data = p->uri_start;
        r->uri.len = len;
    }
    if (r->uri.len == 0 || r->uri.data[0] != '/') {
        pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client sent "
                     "invalid request: \"%.*s\"", (int) r->request_line.len,
                     r->request_line.data);
        pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
        return PT_ERROR;
    }
    pt_http_set_exten(r);

    if (p->host_start != NULL) {
        /* absolute-form: the request line's host wins over Host (RFC 9112
         * §3.2.2) */
        ssize_t n;

        u = pt_pnalloc(r->pool, (size_t) (p->host_end - p->host_start) + 1);
        n = u == NULL ? PT_ERROR
                      : pt_http_server_name_normalize(p->host_start,
                                                      (size_t) (p->host_end
                                                                - p->host_start),
                                                      u);
        if (n <= 0) {
            pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
            return PT_ERROR;
        }
        r->headers_in.server.data = u;
        r->headers_in.server.len = (size_t) n;
    }
    return PT_OK;
}

/* r->exten: what follows the last '.' of the last path segment. */
void
pt_http_set_exten(pt_http_request_t *r)
{
    u_char *p;

    r->exten.len = 0;
    r->exten.data = NULL;
    for (p = r->uri.data + r->uri.len - 1; p > r->uri.data; p--) {
        if (*p == '/') {
            return;
        }
        if (*p == '.') {
            r->exten.data = p + 1;
            r->exten.len = (size_t) (r->uri.data + r->uri.len - p - 1);
            return;
        }
    }
}

void
pt_http_parse_error(pt_http_request_t *r, int rc)
{
    pt_log_t *log = r->connection->log;

    switch (rc) {
    case PT_HTTP_PARSE_INVALID_VERSION:
        pt_log_error(PT_LOG_INFO, log, 0, "client sent unsupported HTTP "
                     "version");
        pt_http_finalize_request(r, PT_HTTP_VERSION_NOT_SUPPORTED);
        return;
    case PT_HTTP_PARSE_INVALID_HEADER:
        pt_log_error(PT_LOG_INFO, log, 0, "client sent invalid header line");
        break;
    case PT_HTTP_PARSE_INVALID_METHOD:
        pt_log_error(PT_LOG_INFO, log, 0, "client sent invalid method");
        break;
    default:
        pt_log_error(PT_LOG_INFO, log, 0, "client sent invalid request");
        break;
    }
    pt_http_finalize_request(r, PT_HTTP_BAD_REQUEST);
}

/* An invalid header name: underscores are fine with underscores_in_headers
 * on; others are dropped with ignore_invalid_headers on (returns 1), or
 * refused (returns 0, the caller answers 400). */
int
pt_http_skip_invalid_header(pt_http_request_t *r, pt_http_srv_conf_t *scf)
{
    pt_http_parse_t *p = &r->parse;
    pt_uint_t        bits = p->invalid_header;

    if ((bits & PT_HTTP_HEADER_UNDERSCORE) && scf->underscores_in_headers) {
        bits &= ~(pt_uint_t) PT_HTTP_HEADER_UNDERSCORE;
    }
    p->invalid_header = bits;
    if (bits == 0) {
        return 0;
    }
    /* underscores alone: always dropped; other characters: dropped with
     * ignore_invalid_headers on, refused with it off */
    if (bits != PT_HTTP_HEADER_UNDERSCORE && !scf->ignore_invalid_headers) {
        return 0;
    }
    pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client sent invalid "
                 "header line: \"%.*s\"",
                 (int) pt_min((size_t) (p->header_end - p->header_name_start),
                              64), p->header_name_start);
    return 1;
}

static void
rebase_ptr(u_char **pp, u_char *from, u_char *to, u_char *dst)
{
    if (*pp != NULL && *pp >= from && *pp <= to) {
        *pp = dst + (*pp - from);
    }
}

static void
rebase_str(pt_str_t *s, u_char *from, u_char *to, u_char *dst)
{
    rebase_ptr(&s->data, from, to, dst);
}

/* Every pointer into [from, to] moves to dst + (p - from). */
void
pt_http_rebase_request(pt_http_request_t *r, u_char *from, u_char *to,
                       u_char *dst)
{
    pt_table_elt_t *h = r->headers_in.headers.elts;
    pt_uint_t       i;

    pt_http_parse_rebase(&r->parse, from, to, dst - from);
    rebase_str(&r->request_line, from, to, dst);
    rebase_str(&r->method_name, from, to, dst);
    rebase_str(&r->http_protocol, from, to, dst);
    rebase_str(&r->unparsed_uri, from, to, dst);
    rebase_str(&r->uri, from, to, dst);
    rebase_str(&r->args, from, to, dst);
    rebase_str(&r->exten, from, to, dst);
    rebase_str(&r->schema, from, to, dst);
    for (i = 0; i < r->headers_in.headers.nelts; i++) {
        rebase_str(&h[i].key, from, to, dst);
        rebase_str(&h[i].value, from, to, dst);
    }
}

static void
request_handler(pt_event_t *ev)
{
    pt_connection_t      *c = ev->data;
    pt_http_connection_t *hc = c->data;
    pt_http_request_t    *r = hc->request;

    if (r == NULL) {
        return;
    }
    if (ev->write) {
        r->write_event_handler(r);
    } else {
        r->read_event_handler(r);
    }
}

void
pt_http_block_reading(pt_http_request_t *r)
{
    /* edge-triggered: nothing is read until a handler asks for the body */
    (void) r;
}

/* The head is complete and valid: run the phases. */
void
pt_http_process_request(pt_http_request_t *r)
{
    pt_connection_t *c = r->connection;

    if (c->read->timer_set) {
        pt_timer_del(c->read);
    }
    if ((((pt_http_connection_t *) c->data)->plain_http || c->tls != NULL)
        && pt_http_ssl_check_request(r) != PT_OK)
    {
        return;
    }
    c->read->handler = request_handler;
    c->write->handler = request_handler;
    r->read_event_handler = pt_http_block_reading;
    r->write_event_handler = pt_http_core_run_phases;
    r->phase_handler = 0;
    pt_http_core_run_phases(r);
}

/*
 * The response head: status line, Server, Date, entity headers, framing
 * (Content-Length, chunked, or close-delimited), Connection and Keep-Alive,
 * then the module-added headers. It is the last header filter: it hands
 * the head to the body chain as the first buffer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/http_time.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "common/version.h"
#include "conn.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "worker.h"


pt_http_output_header_filter_pt pt_http_top_header_filter;
pt_http_output_body_filter_pt   pt_http_top_body_filter;

typedef struct {
    pt_uint_t    code;
    pt_str_t     line;
} status_t;

#define S(c, t) { c, pt_string(#c " " t) }

static const status_t statuses[] = {
    S(100, "Continue"), S(101, "Switching Protocols"),
    S(200, "OK"), S(201, "Created"), S(202, "Accepted"),
    S(204, "No Content"), S(206, "Partial Content"),
    /* 300 has no reason phrase in nginx: "300 " */
    S(301, "Moved Permanently"),
    S(302, "Moved Temporarily"), S(303, "See Other"),
    S(304, "Not Modified"), S(307, "Temporary Redirect"),
    S(308, "Permanent Redirect"),
    S(400, "Bad Request"), S(401, "Unauthorized"),
    S(402, "Payment Required"), S(403, "Forbidden"), S(404, "Not Found"),
    S(405, "Not Allowed"), S(406, "Not Acceptable"),
    S(408, "Request Time-out"), S(409, "Conflict"), S(410, "Gone"),
    S(411, "Length Required"), S(412, "Precondition Failed"),
    S(413, "Request Entity Too Large"), S(414, "Request-URI Too Large"),
    S(415, "Unsupported Media Type"),
    S(416, "Requested Range Not Satisfiable"),
    S(421, "Misdirected Request"), S(429, "Too Many Requests"),
    S(500, "Internal Server Error"), S(501, "Not Implemented"),
    S(502, "Bad Gateway"), S(503, "Service Temporarily Unavailable"),
    S(504, "Gateway Time-out"), S(505, "HTTP Version Not Supported"),
    S(507, "Insufficient Storage"),
};

const pt_str_t *
pt_http_status_line(pt_uint_t status)
{
    size_t i;

    for (i = 0; i < pt_nelems(statuses); i++) {
        if (statuses[i].code == status) {
            return &statuses[i].line;
        }
    }
    return NULL;
}

pt_table_elt_t *
pt_http_add_header_out(pt_http_request_t *r, const pt_str_t *key,
                       const pt_str_t *value)
{
    pt_table_elt_t *h = pt_array_push(&r->headers_out.headers);

    if (h == NULL) {
        return NULL;
    }
    h->hash = 1;
    h->key = *key;
    h->value = *value;
    h->lowcase_key = NULL;
    h->next = NULL;
    return h;
}

#define CLEAR(name)                                                           \
    void pt_http_clear_##name(pt_http_request_t *r)                           \
    {                                                                         \
        if (r->headers_out.name != NULL) {                                    \
            r->headers_out.name->hash = 0;                                    \
            r->headers_out.name = NULL;                                       \
        }                                                                     \
    }

void
pt_http_clear_content_length(pt_http_request_t *r)
{
    r->headers_out.content_length_n = -1;
    if (r->headers_out.content_length != NULL) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }
}

void
pt_http_clear_last_modified(pt_http_request_t *r)
{
    r->headers_out.last_modified_time = -1;
    if (r->headers_out.last_modified != NULL) {
        r->headers_out.last_modified->hash = 0;
        r->headers_out.last_modified = NULL;
    }
}

CLEAR(accept_ranges)
CLEAR(etag)
CLEAR(location)

/* Whether the connection stays open after this response. */
static void
decide_keepalive(pt_http_request_t *r)
{
    pt_http_loc_conf_t   *clcf = pt_http_core_loc_conf(r);
    pt_connection_t      *c = r->connection;

    if (!r->keepalive) {
        return;
    }
    if (r->request_body == NULL) {
        /* a body nobody read: drop what is here, or give up keep-alive */
        (void) pt_http_discard_request_body(r);
    }
    if (pt_worker_exiting || clcf->keepalive_timeout == 0
        || c->requests >= clcf->keepalive_requests
        /* keepalive_disable msie6 (nginx's default): old MSIE loses
         * POST bodies on a reused connection, so only a POST closes */
        || (r->headers_in.msie6 && r->method == PT_HTTP_POST)
        || r->reading_body || !r->keepalive)
    {
        r->keepalive = 0;
    }
    if (r->keepalive && clcf->keepalive_time > 0) {
        pt_http_connection_t *hc = c->data;

        if (pt_current_msec - hc->start_msec > clcf->keepalive_time) {
            r->keepalive = 0;
        }
    }
}

/* The local IP address of a connection ("[::1]" for IPv6), for a Location
 * when the request named no host. */
static size_t
local_address(pt_connection_t *c, u_char *buf, size_t size)
{
    struct sockaddr_storage sa;
    socklen_t               len = sizeof(sa);
    char                    ip[INET6_ADDRSTRLEN];
    const void             *a;
    int                     n;

    if (getsockname(c->fd, (struct sockaddr *) &sa, &len) == -1
        || (sa.ss_family != AF_INET && sa.ss_family != AF_INET6))
    {
        return (size_t) snprintf((char *) buf, size, "localhost");
    }
    a = sa.ss_family == AF_INET
        ? (const void *) &((struct sockaddr_in *) &sa)->sin_addr
        : (const void *) &((struct sockaddr_in6 *) &sa)->sin6_addr;
    if (inet_ntop(sa.ss_family, a, ip, sizeof(ip)) == NULL) {
        return (size_t) snprintf((char *) buf, size, "localhost");
    }
    n = snprintf((char *) buf, size, sa.ss_family == AF_INET6 ? "[%s]" : "%s",
                 ip);
    return n < 0 ? 0 : pt_min((size_t) n, size - 1);
}

/* An absolute Location from a relative one, as absolute_redirect on. */
static size_t
location_prefix(pt_http_request_t *r, u_char *buf, size_t size)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    pt_connection_t    *c = r->connection;
    pt_str_t            host = r->headers_in.server;
    const char         *scheme = c->tls != NULL ? "https" : "http";
    unsigned            port = 0;
    struct sockaddr_storage sa;
    socklen_t           len = sizeof(sa);
    u_char              local[INET6_ADDRSTRLEN + 2];
    int                 n;

    /* as nginx: server_name_in_redirect, else the Host, else the local
     * address the client reached */
    if (clcf->server_name_in_redirect) {
        host = scf->server_name;
    } else if (host.len == 0) {
        host.data = local;
        host.len = local_address(c, local, sizeof(local));
    }
    if (clcf->port_in_redirect
        && getsockname(c->fd, (struct sockaddr *) &sa, &len) == 0)
    {
        if (sa.ss_family == AF_INET) {
            port = ntohs(((struct sockaddr_in *) &sa)->sin_port);
        } else if (sa.ss_family == AF_INET6) {
            port = ntohs(((struct sockaddr_in6 *) &sa)->sin6_port);
        }
        if ((port == 80 && c->tls == NULL) || (port == 443 && c->tls)) {
            port = 0;
        }
    }
    if (port) {
        n = snprintf((char *) buf, size, "%s://%.*s:%u", scheme,
                     (int) host.len, host.data, port);
    } else {
        n = snprintf((char *) buf, size, "%s://%.*s", scheme, (int) host.len,
                     host.data);
    }
    return n < 0 ? 0 : pt_min((size_t) n, size - 1);
}

static u_char *
put(u_char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Decimal `v` at p: every response with a length pays for this, and
 * sprintf costs several times as much. */
static u_char *
put_uint(u_char *p, unsigned long long v)
{
    u_char  tmp[20], *t = tmp + sizeof(tmp);

    do {
        *--t = (u_char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return put(p, (const char *) t, (size_t) (tmp + sizeof(tmp) - t));
}

#define PUT_LIT(p, s) put(p, s, sizeof(s) - 1)

static int
header_filter(pt_http_request_t *r)
{
    pt_http_loc_conf_t   *clcf = pt_http_core_loc_conf(r);
    pt_http_headers_out_t *out = &r->headers_out;
    pt_table_elt_t       *h;
    const pt_str_t       *status_line = NULL;
    pt_buf_t             *b;
    pt_chain_t            cl;
    u_char                loc_prefix[300], *p;
    size_t                len, loc_prefix_len = 0;
    pt_uint_t             i, status;
    char                  num[64];

    if (r->header_sent) {
        return PT_OK;
    }
    r->header_sent = 1;

    if (r->http_version < PT_HTTP_VERSION_10) {
        return PT_OK;
    }
    if (r->method & PT_HTTP_HEAD) {
        r->header_only = 1;
    }
    if (out->last_modified_time != -1
        && out->status != PT_HTTP_OK && out->status != PT_HTTP_PARTIAL_CONTENT
        && out->status != PT_HTTP_NOT_MODIFIED)
    {
        out->last_modified_time = -1;
        out->last_modified = NULL;
    }

    status = out->status;
    if (out->status_line.len == 0) {
        if (status == PT_HTTP_NO_CONTENT || status == PT_HTTP_NOT_MODIFIED) {
            r->header_only = 1;
            out->content_type.len = 0;
            out->content_length_n = -1;
            out->last_modified_time = status == PT_HTTP_NOT_MODIFIED
                                      ? out->last_modified_time : -1;
        }
        status_line = pt_http_status_line(status);
    }

    decide_keepalive(r);

    /* framing: length known, chunked (HTTP/1.1), or close-delimited;
     * trailers need chunks, so they override a known length */
    r->chunked = 0;
    if (!r->header_only && status >= 200 && status != 204 && status != 304
        && (r->expect_trailers || (out->content_length_n == -1
                                   && out->content_length == NULL)))
    {
        if (r->http_version >= PT_HTTP_VERSION_11
            && clcf->chunked_transfer_encoding)
        {
            if (r->expect_trailers) {
                pt_http_clear_content_length(r);
            }
            r->chunked = 1;
        } else if (out->content_length_n == -1
                   && out->content_length == NULL)
        {
            r->keepalive = 0;
        }
    }

    if (out->location != NULL && out->location->value.len > 0
        && out->location->value.data[0] == '/' && clcf->absolute_redirect)
    {
        loc_prefix_len = location_prefix(r, loc_prefix, sizeof(loc_prefix));
    }

    /* size */
    len = sizeof("HTTP/1.x 999 \r\n") + 64 + out->status_line.len
          + sizeof("Server: portico/" PORTICO_VERSION "\r\n")
          + sizeof("Date: Mon, 28 Sep 1970 06:00:00 GMT\r\n")
          + sizeof("Content-Type: \r\n") + out->content_type.len
          + sizeof("; charset=") + out->charset.len
          + sizeof("Content-Length: \r\n") + PT_INT64_LEN
          + sizeof("Last-Modified: Mon, 28 Sep 1970 06:00:00 GMT\r\n")
          + sizeof("Location: \r\n") + loc_prefix_len
          + sizeof("Transfer-Encoding: chunked\r\n")
          + sizeof("Connection: keep-alive\r\n")
          + sizeof("Keep-Alive: timeout=\r\n") + PT_INT64_LEN + 2
          + sizeof("Vary: Accept-Encoding\r\n");
    h = out->headers.elts;
    for (i = 0; i < out->headers.nelts; i++) {
        if (h[i].hash != 0) {
            len += h[i].key.len + 2 + h[i].value.len + 2;
        }
    }

    b = pt_buf_create_temp(r->pool, len);
    if (b == NULL) {
        return PT_ERROR;
    }
    p = b->last;

    p = PUT_LIT(p, "HTTP/1.1 ");
    if (status_line != NULL) {
        p = put(p, (char *) status_line->data, status_line->len);
    } else if (out->status_line.len > 0) {
        p = put(p, (char *) out->status_line.data, out->status_line.len);
    } else {
        p += sprintf((char *) p, "%03lu ", (unsigned long) status);
    }
    p = PUT_LIT(p, "\r\n");

    if (out->server == NULL) {
        if (clcf->server_tokens != PT_HTTP_SERVER_TOKENS_OFF) {
            p = PUT_LIT(p, "Server: portico/" PORTICO_VERSION "\r\n");
        } else {
            p = PUT_LIT(p, "Server: portico\r\n");
        }
    }
    if (out->date == NULL) {
        p = PUT_LIT(p, "Date: ");
        p = put(p, (char *) pt_cached_http_time.data, pt_cached_http_time.len);
        p = PUT_LIT(p, "\r\n");
    }
    if (out->content_type.len > 0) {
        p = PUT_LIT(p, "Content-Type: ");
        p = put(p, (char *) out->content_type.data, out->content_type.len);
        if (out->charset.len > 0 && out->content_type_len
            == out->content_type.len)
        {
            p = PUT_LIT(p, "; charset=");
            p = put(p, (char *) out->charset.data, out->charset.len);
        }
        p = PUT_LIT(p, "\r\n");
    }
    if (out->content_length == NULL && out->content_length_n >= 0) {
        p = PUT_LIT(p, "Content-Length: ");
        p = put_uint(p, (unsigned long long) out->content_length_n);
        p = PUT_LIT(p, "\r\n");
    }
    if (out->last_modified == NULL && out->last_modified_time != -1) {
        p = PUT_LIT(p, "Last-Modified: ");
        p = pt_http_format_time(p, out->last_modified_time);
        p = PUT_LIT(p, "\r\n");
    }
    if (loc_prefix_len > 0) {
        /* printed with the header below, prefixed */
        out->location->hash = 0;
        p = PUT_LIT(p, "Location: ");
        p = put(p, (char *) loc_prefix, loc_prefix_len);
        p = put(p, (char *) out->location->value.data,
                out->location->value.len);
        p = PUT_LIT(p, "\r\n");
    }
    if (r->chunked) {
        p = PUT_LIT(p, "Transfer-Encoding: chunked\r\n");
    }
    if (status == PT_HTTP_SWITCHING_PROTOCOLS) {
        p = PUT_LIT(p, "Connection: upgrade\r\n");
    } else if (r->keepalive) {
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
        if (clcf->keepalive_header) {
            int n = snprintf(num, sizeof(num), "Keep-Alive: timeout=%ld\r\n",
                             (long) clcf->keepalive_header);
            p = put(p, num, (size_t) n);
        }
    } else {
        p = PUT_LIT(p, "Connection: close\r\n");
    }
    if (r->gzip_vary) {
        /* set by the gzip modules when gzip_vary is on (nginx's place) */
        p = PUT_LIT(p, "Vary: Accept-Encoding\r\n");
    }

    for (i = 0; i < out->headers.nelts; i++) {
        if (h[i].hash == 0) {
            continue;
        }
        p = put(p, (char *) h[i].key.data, h[i].key.len);
        p = PUT_LIT(p, ": ");
        p = put(p, (char *) h[i].value.data, h[i].value.len);
        p = PUT_LIT(p, "\r\n");
    }
    p = PUT_LIT(p, "\r\n");
    b->last = p;
    r->header_size = (size_t) (b->last - b->pos);

    if (r->header_only) {
        b->last_buf = 1;
    }
    cl.buf = b;
    cl.next = NULL;
    return pt_http_write_filter(r, &cl);
}

int
pt_http_send_header(pt_http_request_t *r)
{
    if (r->header_sent) {
        pt_log_error(PT_LOG_ALERT, r->connection->log, 0, "header already "
                     "sent");
        return PT_ERROR;
    }
    if (r->err_status) {
        r->headers_out.status = r->err_status;
        r->headers_out.status_line.len = 0;
    }
    return pt_http_top_header_filter(r);
}

int
pt_http_output_filter(pt_http_request_t *r, pt_chain_t *in)
{
    int rc = pt_http_top_body_filter(r, in);

    if (rc == PT_ERROR) {
        r->connection->error = 1;
    }
    return rc;
}

/* Set up the last filters: this head writer and the chunked encoder in
 * front of the write filter. Called before modules add their filters. */
void
pt_http_header_filter_init(void)
{
    pt_http_top_header_filter = header_filter;
    pt_http_top_body_filter = pt_http_chunked_body_filter;
}

int
pt_http_send_response(pt_http_request_t *r, pt_uint_t status,
                      const pt_str_t *content_type, const pt_str_t *body)
{
    pt_buf_t   *b;
    pt_chain_t  cl;
    int         rc;

    rc = pt_http_discard_request_body(r);
    if (rc == PT_HTTP_BAD_REQUEST) {
        /* an invalid chunked body: a 400 instead of this response (as
         * nginx), closing the connection */
        return pt_http_send_builtin_page(r, PT_HTTP_BAD_REQUEST);
    }
    if (rc != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->headers_out.status = status;
    if (content_type != NULL) {
        r->headers_out.content_type = *content_type;
        r->headers_out.content_type_len = content_type->len;
    }
    r->headers_out.content_length_n = body != NULL ? (off_t) body->len : 0;

    rc = pt_http_send_header(r);
    if (rc == PT_ERROR || r->header_only || body == NULL || body->len == 0) {
        if (rc != PT_ERROR && !r->header_only) {
            /* an empty body still ends the response */
            b = pt_buf_calloc(r->pool);
            if (b == NULL) {
                return PT_ERROR;
            }
            b->last_buf = 1;
            cl.buf = b;
            cl.next = NULL;
            return pt_http_output_filter(r, &cl);
        }
        return rc;
    }
    b = pt_buf_calloc(r->pool);
    if (b == NULL) {
        return PT_ERROR;
    }
    b->pos = b->start = body->data;
    b->last = b->end = body->data + body->len;
    b->memory = 1;
    b->last_buf = 1;
    cl.buf = b;
    cl.next = NULL;
    return pt_http_output_filter(r, &cl);
}

int
pt_http_set_content_type(pt_http_request_t *r)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_http_type_t     *t;
    pt_uint_t           i;

    if (r->headers_out.content_type.len > 0) {
        return PT_OK;
    }
    if (r->exten.len > 0 && clcf->types != NULL) {
        t = clcf->types->elts;
        for (i = 0; i < clcf->types->nelts; i++) {
            if (t[i].ext.len == r->exten.len
                && pt_strncasecmp(t[i].ext.data, r->exten.data,
                                  r->exten.len) == 0)
            {
                r->headers_out.content_type = t[i].type;
                r->headers_out.content_type_len = t[i].type.len;
                return PT_OK;
            }
        }
    }
    r->headers_out.content_type = clcf->default_type;
    r->headers_out.content_type_len = clcf->default_type.len;
    return PT_OK;
}

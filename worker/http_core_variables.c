/*
 * The built-in variables of nginx's core module ($uri, $remote_addr,
 * $http_*, $sent_http_*, $request_time, ...): their handlers and the
 * table that registers them. The framework is in http_variables.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/array.h"
#include "common/cycle.h"
#include "common/http_time.h"
#include "common/inet.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/regex.h"
#include "common/str.h"
#include "common/time.h"
#include "common/version.h"
#include "conn.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"
#include "http_variables.h"

/* ------------------------------------------------------------------ */
/* Built-in variables: helpers                                         */

/* Print into `max` bytes of request memory. */
static int
value_printf(pt_http_request_t *r, pt_http_variable_value_t *v, size_t max,
             const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
value_printf(pt_http_request_t *r, pt_http_variable_value_t *v, size_t max,
             const char *fmt, ...)
{
    u_char  *p = pt_pnalloc(r->pool, max);
    va_list  args;
    int      n;

    if (p == NULL) {
        return PT_ERROR;
    }
    va_start(args, fmt);
    n = vsnprintf((char *) p, max, fmt, args);
    va_end(args);
    if (n < 0) {
        return PT_ERROR;
    }
    return pt_http_variable_value_set(v, p, pt_min((size_t) n, max - 1));
}

static int
value_copy(pt_http_request_t *r, pt_http_variable_value_t *v,
           const u_char *src, size_t len)
{
    u_char *p = pt_pnalloc(r->pool, len ? len : 1);

    if (p == NULL) {
        return PT_ERROR;
    }
    memcpy(p, src, len);
    return pt_http_variable_value_set(v, p, len);
}

/* ------------------------------------------------------------------ */
/* Built-in variables: the request line and URI                        */

/* A pt_str_t field of the request at offset `data`. */
static int
var_request_str(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_str_t *s = (pt_str_t *) ((u_char *) r + data);

    if (s->data == NULL) {
        return pt_http_variable_value_none(v);
    }
    return pt_http_variable_value_set(v, s->data, s->len);
}

static void
set_request_str(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_str_t *s = (pt_str_t *) ((u_char *) r + data);

    s->data = v->data;
    s->len = v->len;
}

static int
var_is_args(pt_http_request_t *r, pt_http_variable_value_t *v,
            uintptr_t data)
{
    return pt_http_variable_value_set(v, (u_char *) "?", r->args.len ? 1 : 0);
}

static int
var_server_protocol(pt_http_request_t *r, pt_http_variable_value_t *v,
                    uintptr_t data)
{
    if (r->http_protocol.len) {
        return pt_http_variable_value_set(v, r->http_protocol.data,
                                          r->http_protocol.len);
    }
    if (r->http_version == PT_HTTP_VERSION_10) {
        return pt_http_variable_value_set(v, (u_char *) "HTTP/1.0", 8);
    }
    if (r->http_version == PT_HTTP_VERSION_11) {
        return pt_http_variable_value_set(v, (u_char *) "HTTP/1.1", 8);
    }
    return pt_http_variable_value_set(v, (u_char *) "", 0);
}

static int
var_scheme(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    if (r->connection->tls != NULL) {
        return pt_http_variable_value_set(v, (u_char *) "https", 5);
    }
    return pt_http_variable_value_set(v, (u_char *) "http", 4);
}

static int
var_https(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    if (r->connection->tls != NULL) {
        return pt_http_variable_value_set(v, (u_char *) "on", 2);
    }
    return pt_http_variable_value_set(v, (u_char *) "", 0);
}

static int
var_host(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_http_srv_conf_t *cscf;

    if (r->headers_in.server.len) {
        return pt_http_variable_value_set(v, r->headers_in.server.data,
                                          r->headers_in.server.len);
    }
    cscf = r->srv_conf ? pt_http_core_srv_conf(r) : NULL;
    if (cscf != NULL && cscf->server_name.data != NULL) {
        return pt_http_variable_value_set(v, cscf->server_name.data,
                                          cscf->server_name.len);
    }
    return pt_http_variable_value_set(v, (u_char *) "", 0);
}

static int
var_server_name(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_http_srv_conf_t *cscf = r->srv_conf ? pt_http_core_srv_conf(r) : NULL;

    if (cscf != NULL && cscf->server_name.data != NULL) {
        return pt_http_variable_value_set(v, cscf->server_name.data,
                                          cscf->server_name.len);
    }
    return pt_http_variable_value_set(v, (u_char *) "", 0);
}

/* ------------------------------------------------------------------ */
/* Built-in variables: headers, cookies, arguments                     */

/* Does header name `key` spell `name` (lowercase, '_' for '-')? */
static int
header_name_is(const pt_str_t *key, const u_char *name, size_t len)
{
    size_t  i;
    u_char  c;

    if (key->len != len) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        c = pt_tolower(key->data[i]);
        if (c == '-') {
            c = '_';
        }
        if (c != name[i]) {
            return 0;
        }
    }
    return 1;
}

/* The headers of `list` named `name`, joined with ", " ("; " for
 * cookies). Output headers with hash 0 were deleted and are skipped. */
static int
headers_value(pt_http_request_t *r, pt_http_variable_value_t *v,
              pt_array_t *list, const u_char *name, size_t len, int output)
{
    pt_table_elt_t  *h = list->elts, *first = NULL;
    size_t           total = 0, n = 0;
    pt_uint_t        i;
    u_char          *p, sep;

    if (h == NULL) {
        return pt_http_variable_value_none(v);
    }
    for (i = 0; i < list->nelts; i++) {
        if ((output && h[i].hash == 0)
            || !header_name_is(&h[i].key, name, len))
        {
            continue;
        }
        if (first == NULL) {
            first = &h[i];
        }
        total += h[i].value.len + (n ? 2 : 0);
        n++;
    }
    if (first == NULL) {
        return pt_http_variable_value_none(v);
    }
    if (n == 1) {
        return pt_http_variable_value_set(v, first->value.data,
                                          first->value.len);
    }

    sep = (len == 6 && memcmp(name, "cookie", 6) == 0) ? ';' : ',';
    p = pt_pnalloc(r->pool, total);
    if (p == NULL) {
        return PT_ERROR;
    }
    v->data = p;
    for (i = first - h; i < list->nelts; i++) {
        if ((output && h[i].hash == 0)
            || !header_name_is(&h[i].key, name, len))
        {
            continue;
        }
        if (p != v->data) {
            *p++ = sep;
            *p++ = ' ';
        }
        memcpy(p, h[i].value.data, h[i].value.len);
        p += h[i].value.len;
    }
    return pt_http_variable_value_set(v, v->data, total);
}

/* $http_NAME: data is the pt_str_t of the whole variable name. */
static int
var_http_prefix(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_str_t *name = (pt_str_t *) data;

    return headers_value(r, v, &r->headers_in.headers, name->data + 5,
                         name->len - 5, 0);
}

static int
var_sent_http_prefix(pt_http_request_t *r, pt_http_variable_value_t *v,
                     uintptr_t data)
{
    pt_str_t *name = (pt_str_t *) data;

    return headers_value(r, v, &r->headers_out.headers, name->data + 10,
                         name->len - 10, 1);
}

/* Find `name`=value in one Cookie header value (pairs split by ';',
 * spaces allowed around '=', names compared without case). */
static int
cookie_find(const pt_str_t *hv, const u_char *name, size_t len,
            pt_str_t *value)
{
    u_char *p = hv->data, *end = hv->data + hv->len, *start;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ';')) {
            p++;
        }
        start = p;
        while (p < end && *p != ';') {
            p++;
        }
        /* [start, p) is one "name=value" */
        if ((size_t) (p - start) <= len
            || pt_strncasecmp(start, name, len) != 0)
        {
            continue;
        }
        start += len;
        while (start < p && *start == ' ') {
            start++;
        }
        if (start == p || *start != '=') {
            continue;
        }
        start++;
        while (start < p && *start == ' ') {
            start++;
        }
        value->data = start;
        value->len = (size_t) (p - start);
        return PT_OK;
    }
    return PT_DECLINED;
}

static int
var_cookie_prefix(pt_http_request_t *r, pt_http_variable_value_t *v,
                  uintptr_t data)
{
    pt_str_t        *name = (pt_str_t *) data, value;
    pt_table_elt_t  *h = r->headers_in.headers.elts;
    pt_uint_t        i;

    for (i = 0; h != NULL && i < r->headers_in.headers.nelts; i++) {
        if (h[i].key.len == 6
            && pt_strncasecmp(h[i].key.data, (u_char *) "cookie", 6) == 0
            && cookie_find(&h[i].value, name->data + 7, name->len - 7,
                           &value) == PT_OK)
        {
            return pt_http_variable_value_set(v, value.data, value.len);
        }
    }
    return pt_http_variable_value_none(v);
}

static int
var_arg_prefix(pt_http_request_t *r, pt_http_variable_value_t *v,
               uintptr_t data)
{
    pt_str_t *name = (pt_str_t *) data, value;

    if (pt_http_arg(r, name->data + 4, name->len - 4, &value) == PT_OK) {
        return pt_http_variable_value_set(v, value.data, value.len);
    }
    return pt_http_variable_value_none(v);
}

/* A request header by its headers_in pointer at offset `data`. */
static int
var_header_in(pt_http_request_t *r, pt_http_variable_value_t *v,
              uintptr_t data)
{
    pt_table_elt_t *h = *(pt_table_elt_t **) ((u_char *) r + data);

    if (h == NULL) {
        return pt_http_variable_value_none(v);
    }
    return pt_http_variable_value_set(v, h->value.data, h->value.len);
}

static int
var_content_length(pt_http_request_t *r, pt_http_variable_value_t *v,
                   uintptr_t data)
{
    if (r->headers_in.content_length != NULL) {
        return pt_http_variable_value_set(v,
                   r->headers_in.content_length->value.data,
                   r->headers_in.content_length->value.len);
    }
    if (r->headers_in.content_length_n >= 0) {
        return value_printf(r, v, PT_INT64_LEN + 1, "%lld",
                            (long long) r->headers_in.content_length_n);
    }
    return pt_http_variable_value_none(v);
}

/* ------------------------------------------------------------------ */
/* Built-in variables: addresses                                       */

static int
var_remote_addr(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_connection_t *c = r->connection;
    char             text[PT_SOCKADDR_STRLEN];
    size_t           n;

    if (c->addr_text.len) {
        return pt_http_variable_value_set(v, c->addr_text.data,
                                          c->addr_text.len);
    }
    /* no text made at accept: the address without the port */
    if (c->sockaddr->ss_family == AF_INET) {
        if (pt_inet_ntop(AF_INET, &((struct sockaddr_in *) c->sockaddr)
                          ->sin_addr, text, sizeof(text)) == NULL)
        {
            return PT_ERROR;
        }
    } else if (c->sockaddr->ss_family == AF_INET6) {
        if (pt_inet_ntop(AF_INET6, &((struct sockaddr_in6 *) c->sockaddr)
                          ->sin6_addr, text, sizeof(text)) == NULL)
        {
            return PT_ERROR;
        }
    } else {
        n = pt_inet_text((struct sockaddr *) c->sockaddr, c->socklen, text,
                         sizeof(text));
        return value_copy(r, v, (u_char *) text, n);
    }
    return value_copy(r, v, (u_char *) text, strlen(text));
}

static int
var_binary_remote_addr(pt_http_request_t *r, pt_http_variable_value_t *v,
                       uintptr_t data)
{
    struct sockaddr_storage *ss = r->connection->sockaddr;

    switch (ss->ss_family) {
    case AF_INET6:
        return pt_http_variable_value_set(v,
                   ((struct sockaddr_in6 *) ss)->sin6_addr.s6_addr, 16);
    case AF_UNIX:
        return pt_http_variable_value_set(v, r->connection->addr_text.data,
                                          r->connection->addr_text.len);
    default:
        return pt_http_variable_value_set(v,
                   (u_char *) &((struct sockaddr_in *) ss)->sin_addr, 4);
    }
}

static int
sockaddr_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        return ntohs(((const struct sockaddr_in *) ss)->sin_port);
    }
    if (ss->ss_family == AF_INET6) {
        return ntohs(((const struct sockaddr_in6 *) ss)->sin6_port);
    }
    return 0;
}

static int
var_remote_port(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    int port = sockaddr_port(r->connection->sockaddr);

    if (port == 0) {
        return pt_http_variable_value_set(v, (u_char *) "", 0);
    }
    return value_printf(r, v, sizeof("65535"), "%d", port);
}

static int
is_wildcard(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        return ((const struct sockaddr_in *) ss)->sin_addr.s_addr
               == htonl(INADDR_ANY);
    }
    if (ss->ss_family == AF_INET6) {
        return IN6_IS_ADDR_UNSPECIFIED(
            &((const struct sockaddr_in6 *) ss)->sin6_addr);
    }
    return 0;
}

/* The connection's local address: the listener's when it is specific,
 * else getsockname() (once per request: the value is cached). */
static int
local_sockaddr(pt_http_request_t *r, struct sockaddr_storage *ss)
{
    pt_connection_t *c = r->connection;
    socklen_t        len = sizeof(*ss);

    if (c->listening != NULL && !is_wildcard(&c->listening->sockaddr)) {
        memcpy(ss, &c->listening->sockaddr, sizeof(*ss));
        return PT_OK;
    }
    memset(ss, 0, sizeof(*ss));
    if (getsockname(c->fd, (struct sockaddr *) ss, &len) == -1) {
        pt_log_error(PT_LOG_CRIT, c->log, errno, "getsockname() failed");
        return PT_ERROR;
    }
    return PT_OK;
}

static int
var_server_addr(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    struct sockaddr_storage  ss;
    char                     text[PT_SOCKADDR_STRLEN];
    const void              *addr;

    if (local_sockaddr(r, &ss) != PT_OK) {
        return PT_ERROR;
    }
    if (ss.ss_family == AF_INET) {
        addr = &((struct sockaddr_in *) &ss)->sin_addr;
    } else if (ss.ss_family == AF_INET6) {
        addr = &((struct sockaddr_in6 *) &ss)->sin6_addr;
    } else {
        return value_copy(r, v, (u_char *) text,
                          pt_inet_text((struct sockaddr *) &ss, sizeof(ss),
                                       text, sizeof(text)));
    }
    if (pt_inet_ntop(ss.ss_family, addr, text, sizeof(text)) == NULL) {
        return PT_ERROR;
    }
    return value_copy(r, v, (u_char *) text, strlen(text));
}

static int
var_server_port(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    struct sockaddr_storage  ss;
    int                      port;

    if (r->connection->listening != NULL) {
        /* the port is the listener's even on a wildcard address */
        port = sockaddr_port(&r->connection->listening->sockaddr);
    } else if (local_sockaddr(r, &ss) == PT_OK) {
        port = sockaddr_port(&ss);
    } else {
        return PT_ERROR;
    }
    if (port == 0) {
        return pt_http_variable_value_set(v, (u_char *) "", 0);
    }
    return value_printf(r, v, sizeof("65535"), "%d", port);
}

/* ------------------------------------------------------------------ */
/* Built-in variables: numbers, times, identity                        */

/* The numbers of the request and connection, by NUM_* in data. */
#define NUM_REQUEST_LENGTH       0
#define NUM_BYTES_SENT           1
#define NUM_BODY_BYTES_SENT      2
#define NUM_CONNECTION           3
#define NUM_CONNECTION_REQUESTS  4
#define NUM_LIMIT_RATE           5

static int
var_number(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_connection_t *c = r->connection;
    long long        n;

    switch (data) {
    case NUM_REQUEST_LENGTH: n = r->request_length; break;
    case NUM_BYTES_SENT: n = c->sent; break;
    case NUM_BODY_BYTES_SENT:
        n = c->sent - (off_t) r->header_size;
        n = n > 0 ? n : 0;
        break;
    case NUM_CONNECTION: n = (long long) c->number; break;
    case NUM_CONNECTION_REQUESTS: n = (long long) c->requests; break;
    default: n = (long long) r->limit_rate; break;
    }
    return value_printf(r, v, PT_INT64_LEN + 1, "%lld", n);
}

static int
var_status(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_uint_t status = r->err_status ? r->err_status : r->headers_out.status;

    return value_printf(r, v, PT_INT64_LEN + 1, "%03lu",
                        (unsigned long) status);
}

static void
set_limit_rate(pt_http_request_t *r, pt_http_variable_value_t *v,
               uintptr_t data)
{
    pt_str_t  s = { v->len, v->data };
    ssize_t   n = pt_parse_size(&s);

    if (n == PT_ERROR) {
        pt_log_error(PT_LOG_ERR, r->connection->log, 0,
                     "invalid size \"%.*s\"", (int) s.len, s.data);
        return;
    }
    r->limit_rate = (size_t) n;
    r->limit_rate_set = 1;
}

static int
print_msec(pt_http_request_t *r, pt_http_variable_value_t *v, pt_msec_t ms)
{
    return value_printf(r, v, PT_INT64_LEN + 5, "%lld.%03lld",
                        (long long) (ms / 1000), (long long) (ms % 1000));
}

static int
var_request_time(pt_http_request_t *r, pt_http_variable_value_t *v,
                 uintptr_t data)
{
    pt_msec_t start, ms;

    /* start_msec is the milliseconds part of start_sec, as in nginx; a
     * value of 1000 or more can only be an absolute time */
    if (r->start_msec >= 1000) {
        start = r->start_msec;
    } else {
        start = (pt_msec_t) r->start_sec * 1000 + r->start_msec;
    }
    ms = pt_time_msec - start;
    return print_msec(r, v, ms > 0 ? ms : 0);
}

static int
var_msec(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    return print_msec(r, v, pt_time_msec);
}

/* A cached time string (data: its pt_str_t), copied: it changes. */
static int
var_cached_time(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_str_t *s = (pt_str_t *) data;

    if (s->len == 0) {
        pt_time_update();
    }
    return value_copy(r, v, s->data, s->len);
}

/* A string fixed for the configuration (data: its pt_str_t). */
static int
var_conf_str(pt_http_request_t *r, pt_http_variable_value_t *v,
             uintptr_t data)
{
    pt_str_t *s = (pt_str_t *) data;

    if (s == NULL || s->data == NULL) {
        return pt_http_variable_value_set(v, (u_char *) "", 0);
    }
    return pt_http_variable_value_set(v, s->data, s->len);
}

static int
var_pid(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    return value_printf(r, v, PT_INT64_LEN + 1, "%ld", (long) getpid());
}

static int
var_request_id(pt_http_request_t *r, pt_http_variable_value_t *v,
               uintptr_t data)
{
    static const u_char hex[] = "0123456789abcdef";
    u_char              bytes[16], *p;
    int                 i;

    p = pt_pnalloc(r->pool, 32);
    if (p == NULL) {
        return PT_ERROR;
    }
    /* OpenSSL's generator: no syscall per request, fork-safe */
    if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
        pt_log_error(PT_LOG_ERR, r->connection->log, 0,
                     "RAND_bytes() failed");
        return PT_ERROR;
    }
    for (i = 0; i < 16; i++) {
        p[2 * i] = hex[bytes[i] >> 4];
        p[2 * i + 1] = hex[bytes[i] & 0xf];
    }
    return pt_http_variable_value_set(v, p, 32);
}


/* ------------------------------------------------------------------ */
/* Built-in variables: files                                           */

/* The root (or alias) of the location, evaluated when it has variables. */
static int
location_root(pt_http_request_t *r, pt_str_t *root)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);

    if (clcf->root_values == NULL) {
        *root = clcf->root;
        return PT_OK;
    }
    if (pt_http_complex_value(r, clcf->root_values, root) != PT_OK) {
        return PT_ERROR;
    }
    /* a relative result is under the prefix, as the file path is */
    if (root->len == 0 || root->data[0] != '/') {
        return pt_conf_full_name_prefix(r->pool, &pt_http_cycle_prefix, root);
    }
    return PT_OK;
}

static int
var_document_root(pt_http_request_t *r, pt_http_variable_value_t *v,
                  uintptr_t data)
{
    pt_str_t root;

    if (location_root(r, &root) != PT_OK) {
        return PT_ERROR;
    }
    return pt_http_variable_value_set(v, root.data, root.len);
}

static int
var_realpath_root(pt_http_request_t *r, pt_http_variable_value_t *v,
                  uintptr_t data)
{
    pt_str_t  root;
    char      path[PATH_MAX], real[PATH_MAX];

    if (location_root(r, &root) != PT_OK) {
        return PT_ERROR;
    }
    if (root.len >= sizeof(path)) {
        pt_log_error(PT_LOG_CRIT, r->connection->log, ENAMETOOLONG,
                     "realpath() \"%.*s\" failed", (int) root.len, root.data);
        return PT_ERROR;
    }
    memcpy(path, root.data, root.len);
    path[root.len] = '\0';
    if (realpath(path, real) == NULL) {
        pt_log_error(PT_LOG_CRIT, r->connection->log, errno,
                     "realpath() \"%s\" failed", path);
        return PT_ERROR;
    }
    return value_copy(r, v, (u_char *) real, strlen(real));
}

static int
var_request_filename(pt_http_request_t *r, pt_http_variable_value_t *v,
                     uintptr_t data)
{
    pt_str_t  path;
    size_t    root_len;
    u_char   *last;

    last = pt_http_map_uri_to_path(r, &path, &root_len, 0);
    if (last == NULL) {
        return PT_ERROR;
    }
    /* the end pointer, whether or not path.len counts the NUL */
    return pt_http_variable_value_set(v, path.data,
                                      (size_t) (last - path.data));
}

/* ------------------------------------------------------------------ */
/* Built-in variables: response headers nginx keeps outside the list   */

static int
var_sent_content_type(pt_http_request_t *r, pt_http_variable_value_t *v,
                      uintptr_t data)
{
    if (r->headers_out.content_type.len == 0) {
        return pt_http_variable_value_none(v);
    }
    return pt_http_variable_value_set(v, r->headers_out.content_type.data,
                                      r->headers_out.content_type.len);
}

static int
var_sent_content_length(pt_http_request_t *r, pt_http_variable_value_t *v,
                        uintptr_t data)
{
    pt_table_elt_t *h = r->headers_out.content_length;

    if (h != NULL && h->hash) {
        return pt_http_variable_value_set(v, h->value.data, h->value.len);
    }
    if (r->headers_out.content_length_n >= 0) {
        return value_printf(r, v, PT_INT64_LEN + 1, "%lld",
                            (long long) r->headers_out.content_length_n);
    }
    return pt_http_variable_value_none(v);
}

static int
var_sent_location(pt_http_request_t *r, pt_http_variable_value_t *v,
                  uintptr_t data)
{
    pt_table_elt_t *h = r->headers_out.location;

    if (h != NULL && h->hash) {
        return pt_http_variable_value_set(v, h->value.data, h->value.len);
    }
    return headers_value(r, v, &r->headers_out.headers, (u_char *) "location",
                         8, 1);
}

static int
var_sent_last_modified(pt_http_request_t *r, pt_http_variable_value_t *v,
                       uintptr_t data)
{
    pt_table_elt_t *h = r->headers_out.last_modified;
    u_char         *p;

    if (h != NULL && h->hash) {
        return pt_http_variable_value_set(v, h->value.data, h->value.len);
    }
    if (r->headers_out.last_modified_time >= 0) {
        p = pt_pnalloc(r->pool, PT_HTTP_TIME_LEN);
        if (p == NULL) {
            return PT_ERROR;
        }
        pt_http_format_time(p, r->headers_out.last_modified_time);
        return pt_http_variable_value_set(v, p, PT_HTTP_TIME_LEN);
    }
    return pt_http_variable_value_none(v);
}

static int
var_sent_connection(pt_http_request_t *r, pt_http_variable_value_t *v,
                    uintptr_t data)
{
    if (r->headers_out.status == PT_HTTP_SWITCHING_PROTOCOLS) {
        return pt_http_variable_value_set(v, (u_char *) "upgrade", 7);
    }
    if (r->keepalive) {
        return pt_http_variable_value_set(v, (u_char *) "keep-alive", 10);
    }
    return pt_http_variable_value_set(v, (u_char *) "close", 5);
}

static int
var_sent_keep_alive(pt_http_request_t *r, pt_http_variable_value_t *v,
                    uintptr_t data)
{
    pt_http_loc_conf_t *clcf = r->loc_conf ? pt_http_core_loc_conf(r) : NULL;

    if (r->keepalive && clcf != NULL && clcf->keepalive_header) {
        return value_printf(r, v, sizeof("timeout=") + PT_INT64_LEN,
                            "timeout=%lld",
                            (long long) clcf->keepalive_header);
    }
    return pt_http_variable_value_none(v);
}

static int
var_sent_transfer_encoding(pt_http_request_t *r, pt_http_variable_value_t *v,
                           uintptr_t data)
{
    if (r->chunked) {
        return pt_http_variable_value_set(v, (u_char *) "chunked", 7);
    }
    return pt_http_variable_value_none(v);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */

#define NC  PT_HTTP_VAR_NOCACHEABLE
#define CH  PT_HTTP_VAR_CHANGEABLE
#define REQ(field)  offsetof(pt_http_request_t, field)
#define HIN(field)  offsetof(pt_http_request_t, headers_in.field)

static pt_str_t version_str = pt_string(PORTICO_VERSION);

typedef struct {
    const char               *name;
    pt_http_get_variable_pt   get;
    pt_http_set_variable_pt   set;
    uintptr_t                 data;
    pt_uint_t                 flags;
} core_var_t;

static const core_var_t core_vars[] = {
    { "host", var_host, NULL, 0, 0 },
    { "http_", var_http_prefix, NULL, 0, PT_HTTP_VAR_PREFIX },
    { "sent_http_", var_sent_http_prefix, NULL, 0, PT_HTTP_VAR_PREFIX | NC },
    { "cookie_", var_cookie_prefix, NULL, 0, PT_HTTP_VAR_PREFIX },
    { "arg_", var_arg_prefix, NULL, 0, PT_HTTP_VAR_PREFIX | NC },
    { "args", var_request_str, set_request_str, REQ(args), CH | NC },
    { "query_string", var_request_str, set_request_str, REQ(args), CH | NC },
    { "is_args", var_is_args, NULL, 0, NC },
    { "uri", var_request_str, NULL, REQ(uri), NC },
    { "document_uri", var_request_str, NULL, REQ(uri), NC },
    { "request_uri", var_request_str, NULL, REQ(unparsed_uri), 0 },
    { "request_method", var_request_str, NULL, REQ(method_name), NC },
    { "request", var_request_str, NULL, REQ(request_line), 0 },
    { "server_protocol", var_server_protocol, NULL, 0, 0 },
    { "scheme", var_scheme, NULL, 0, 0 },
    { "https", var_https, NULL, 0, 0 },
    { "server_name", var_server_name, NULL, 0, 0 },
    { "server_addr", var_server_addr, NULL, 0, 0 },
    { "server_port", var_server_port, NULL, 0, 0 },
    { "remote_addr", var_remote_addr, NULL, 0, 0 },
    { "remote_port", var_remote_port, NULL, 0, 0 },
    { "binary_remote_addr", var_binary_remote_addr, NULL, 0, 0 },
    { "content_length", var_content_length, NULL, 0, NC },
    { "content_type", var_header_in, NULL, HIN(content_type), 0 },
    { "request_length", var_number, NULL, NUM_REQUEST_LENGTH, NC },
    { "bytes_sent", var_number, NULL, NUM_BYTES_SENT, NC },
    { "body_bytes_sent", var_number, NULL, NUM_BODY_BYTES_SENT, NC },
    { "status", var_status, NULL, 0, NC },
    { "request_time", var_request_time, NULL, 0, NC },
    { "msec", var_msec, NULL, 0, NC },
    { "time_local", var_cached_time, NULL,
      (uintptr_t) &pt_cached_http_log_time, NC },
    { "time_iso8601", var_cached_time, NULL,
      (uintptr_t) &pt_cached_http_log_iso8601, NC },
    { "connection", var_number, NULL, NUM_CONNECTION, 0 },
    { "connection_requests", var_number, NULL, NUM_CONNECTION_REQUESTS,
      0 },
    { "limit_rate", var_number, set_limit_rate, NUM_LIMIT_RATE, CH | NC },
    { "pid", var_pid, NULL, 0, 0 },
    { "request_id", var_request_id, NULL, 0, 0 },
    { "hostname", var_conf_str, NULL, 0, 0 },   /* data set at add time */
    { "portico_version", var_conf_str, NULL, (uintptr_t) &version_str, 0 },
    { "nginx_version", var_conf_str, NULL, (uintptr_t) &version_str, 0 },
    { "document_root", var_document_root, NULL, 0, NC },
    { "realpath_root", var_realpath_root, NULL, 0, NC },
    { "request_filename", var_request_filename, NULL, 0, NC },
    { "sent_http_content_type", var_sent_content_type, NULL, 0, NC },
    { "sent_http_content_length", var_sent_content_length, NULL, 0, NC },
    { "sent_http_location", var_sent_location, NULL, 0, NC },
    { "sent_http_last_modified", var_sent_last_modified, NULL, 0, NC },
    { "sent_http_connection", var_sent_connection, NULL, 0, NC },
    { "sent_http_keep_alive", var_sent_keep_alive, NULL, 0, NC },
    { "sent_http_transfer_encoding", var_sent_transfer_encoding, NULL, 0,
      NC },
};

int
pt_http_variables_add_core_vars(pt_conf_t *cf)
{
    const core_var_t    *cv;
    pt_http_variable_t  *v;
    pt_str_t             name;
    pt_uint_t            i;

    for (i = 0; i < pt_nelems(core_vars); i++) {
        cv = &core_vars[i];
        name.data = (u_char *) cv->name;
        name.len = strlen(cv->name);
        v = pt_http_add_variable(cf, &name, cv->flags);
        if (v == NULL) {
            return PT_ERROR;
        }
        v->get_handler = cv->get;
        v->set_handler = cv->set;
        v->data = cv->data;
        if (cv->get == var_conf_str && cv->data == 0 && cf->cycle != NULL) {
            v->data = (uintptr_t) &cf->cycle->hostname;
        }
    }
    return PT_OK;
}

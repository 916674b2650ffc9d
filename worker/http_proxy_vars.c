/*
 * The proxy's variables: $proxy_host, $proxy_port,
 * $proxy_add_x_forwarded_for, and the $upstream_* figures of every try
 * (joined with ", " as nginx), $upstream_http_NAME from the response head.
 */
#include <string.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "conn.h"
#include "http_core.h"
#include "http_proxy.h"
#include "http_request.h"
#include "http_variables.h"

enum {
    V_ADDR, V_STATUS, V_RESPONSE_TIME, V_CONNECT_TIME, V_HEADER_TIME,
    V_RESPONSE_LENGTH, V_BYTES_RECEIVED
};

static pt_proxy_ctx_t *
proxy_ctx(pt_http_request_t *r)
{
    pt_http_upstream_t *u = r->upstream;

    return u != NULL ? u->state : NULL;
}

static int
not_found(pt_http_variable_value_t *v)
{
    v->valid = 0;
    v->not_found = 1;
    return PT_OK;
}

static int
var_proxy(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_proxy_ctx_t *ctx = proxy_ctx(r);
    pt_str_t       *s;

    if (ctx == NULL) {
        return not_found(v);
    }
    s = data ? &ctx->port_text : &ctx->host_header;
    return pt_http_variable_value_set(v, s->data, s->len);
}

static int
var_add_xff(pt_http_request_t *r, pt_http_variable_value_t *v,
            uintptr_t data)
{
    pt_table_elt_t *h = r->headers_in.headers.elts;
    pt_str_t       *addr = &r->connection->addr_text;
    size_t          len = addr->len;
    pt_uint_t       i;
    u_char         *p, *start;

    (void) data;
    for (i = 0; i < r->headers_in.headers.nelts; i++) {
        if (h[i].key.len == 15
            && memcmp(h[i].lowcase_key, "x-forwarded-for", 15) == 0)
        {
            len += h[i].value.len + 2;
        }
    }
    if (len == addr->len) {
        return pt_http_variable_value_set(v, addr->data, addr->len);
    }
    start = p = pt_pnalloc(r->pool, len);
    if (p == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < r->headers_in.headers.nelts; i++) {
        if (h[i].key.len == 15
            && memcmp(h[i].lowcase_key, "x-forwarded-for", 15) == 0)
        {
            memcpy(p, h[i].value.data, h[i].value.len);
            p += h[i].value.len;
            *p++ = ',';
            *p++ = ' ';
        }
    }
    memcpy(p, addr->data, addr->len);
    p += addr->len;
    return pt_http_variable_value_set(v, start, (size_t) (p - start));
}

/* One try's figure as text into p (room for 32 bytes). */
static u_char *
print_state(u_char *p, pt_upstream_state_t *st, uintptr_t what)
{
    pt_msec_t ms;

    switch (what) {
    case V_STATUS:
        return st->status ? pt_slprintf(p, p + 32, "%lu",
                                        (unsigned long) st->status)
                          : pt_slprintf(p, p + 32, "-");
    case V_RESPONSE_LENGTH:
        return pt_slprintf(p, p + 32, "%lld", (long long) st->response_length);
    case V_BYTES_RECEIVED:
        return pt_slprintf(p, p + 32, "%lld", (long long) st->bytes_received);
    case V_CONNECT_TIME:
        ms = st->connect_time;
        break;
    case V_HEADER_TIME:
        ms = st->header_time;
        break;
    default:
        ms = st->response_time;
    }
    if (ms < 0) {
        return pt_slprintf(p, p + 32, "-");
    }
    return pt_slprintf(p, p + 32, "%lld.%03lld", (long long) (ms / 1000),
                       (long long) (ms % 1000));
}

static int
var_upstream(pt_http_request_t *r, pt_http_variable_value_t *v,
             uintptr_t data)
{
    pt_proxy_ctx_t      *ctx = proxy_ctx(r);
    pt_upstream_state_t *st;
    pt_uint_t            i, n;
    size_t               len = 0;
    u_char              *p, *start;

    if (ctx == NULL || ctx->states.nelts == 0) {
        return not_found(v);
    }
    st = ctx->states.elts;
    n = ctx->states.nelts;
    for (i = 0; i < n; i++) {
        len += (data == V_ADDR ? st[i].peer.len : 32) + 2;
    }
    start = p = pt_pnalloc(r->pool, len);
    if (p == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < n; i++) {
        if (i > 0) {
            *p++ = ',';
            *p++ = ' ';
        }
        if (data == V_ADDR) {
            memcpy(p, st[i].peer.data, st[i].peer.len);
            p += st[i].peer.len;
        } else {
            p = print_state(p, &st[i], data);
        }
    }
    v->no_cacheable = 1;
    pt_http_variable_value_set(v, start, (size_t) (p - start));
    v->no_cacheable = 1;
    return PT_OK;
}

/* $upstream_http_NAME: data is the whole variable name. */
static int
var_upstream_http(pt_http_request_t *r, pt_http_variable_value_t *v,
                  uintptr_t data)
{
    pt_proxy_ctx_t *ctx = proxy_ctx(r);
    pt_str_t       *name = (pt_str_t *) data;
    pt_table_elt_t *h;
    const u_char   *want = name->data + 14;
    size_t          len = name->len - 14, j;
    pt_uint_t       i;

    if (ctx == NULL || ctx->headers_in.headers.elts == NULL) {
        return not_found(v);
    }
    h = ctx->headers_in.headers.elts;
    for (i = 0; i < ctx->headers_in.headers.nelts; i++) {
        if (h[i].key.len != len) {
            continue;
        }
        for (j = 0; j < len; j++) {
            u_char c = h[i].lowcase_key[j];
            if (c != want[j] && !(c == '-' && want[j] == '_')) {
                break;
            }
        }
        if (j == len) {
            return pt_http_variable_value_set(v, h[i].value.data,
                                              h[i].value.len);
        }
    }
    return not_found(v);
}

static const struct {
    const char               *name;
    pt_http_get_variable_pt   get;
    uintptr_t                 data;
    pt_uint_t                 flags;
} vars[] = {
    { "proxy_host", var_proxy, 0, PT_HTTP_VAR_NOCACHEABLE },
    { "proxy_port", var_proxy, 1, PT_HTTP_VAR_NOCACHEABLE },
    { "proxy_add_x_forwarded_for", var_add_xff, 0, PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_addr", var_upstream, V_ADDR, PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_status", var_upstream, V_STATUS, PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_response_time", var_upstream, V_RESPONSE_TIME,
      PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_connect_time", var_upstream, V_CONNECT_TIME,
      PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_header_time", var_upstream, V_HEADER_TIME,
      PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_response_length", var_upstream, V_RESPONSE_LENGTH,
      PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_bytes_received", var_upstream, V_BYTES_RECEIVED,
      PT_HTTP_VAR_NOCACHEABLE },
    { "upstream_http_", var_upstream_http, 0,
      PT_HTTP_VAR_PREFIX | PT_HTTP_VAR_NOCACHEABLE },
};

int
pt_proxy_add_variables(pt_conf_t *cf)
{
    pt_http_variable_t *v;
    pt_str_t            name;
    size_t              i;

    for (i = 0; i < pt_nelems(vars); i++) {
        name.data = (u_char *) vars[i].name;
        name.len = strlen(vars[i].name);
        v = pt_http_add_variable(cf, &name, vars[i].flags);
        if (v == NULL) {
            return PT_ERROR;
        }
        v->get_handler = vars[i].get;
        v->data = vars[i].data;
    }
    return PT_OK;
}

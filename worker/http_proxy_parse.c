/*
 * The proxy's wire formats, free of sockets: the upstream status line and
 * the headers the proxy acts on, the URI sent upstream (nginx's
 * replacement rules) and the request head built from the location's
 * proxy_set_header list and the client's headers.
 */
#include <string.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/pool.h"
#include "common/str.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_proxy.h"
#include "http_request.h"
#include "http_script.h"

#define MAX_HEADERS 128   /* of the request head: evaluated values */

enum {
    ST_START = 0, ST_H, ST_HT, ST_HTT, ST_HTTP, ST_MAJOR_FIRST, ST_MAJOR,
    ST_MINOR_FIRST, ST_MINOR, ST_STATUS_SP, ST_STATUS, ST_SPACE_AFTER,
    ST_REASON, ST_ALMOST_DONE
};

/* nginx's grammar: "HTTP/" 1*DIGIT "." 1*DIGIT SP+ 3DIGIT [SP reason]
 * CRLF (a bare LF ends it too). Anything else is no status line at all. */
int
pt_proxy_parse_status_line(pt_proxy_status_t *st, pt_buf_t *b,
                           pt_proxy_headers_in_t *h)
{
    static const char http[] = "HTTP/";
    u_char           *p, ch;
    pt_uint_t         major = 0, minor = 0, ndigits = 0;

    if (st->state == ST_START) {
        st->start = b->pos;
        h->status = 0;
    }
    /* the line is re-read from its start: it is short, and this keeps no
     * partial numbers in the state */
    st->state = ST_START;
    for (p = st->start; p < b->last; p++) {
        ch = *p;
        switch (st->state) {
        case ST_START: case ST_H: case ST_HT: case ST_HTT: case ST_HTTP:
            if (ch != (u_char) http[st->state]) {
                return PT_DECLINED;
            }
            st->state++;
            break;
        case ST_MAJOR_FIRST: case ST_MAJOR:
            if (ch == '.' && st->state == ST_MAJOR) {
                st->state = ST_MINOR_FIRST;
                break;
            }
            if (ch < '0' || ch > '9' || major > 99) {
                return PT_DECLINED;
            }
            major = major * 10 + (ch - '0');
            st->state = ST_MAJOR;
            break;
        case ST_MINOR_FIRST: case ST_MINOR:
            if (ch == ' ' && st->state == ST_MINOR) {
                st->state = ST_STATUS_SP;
                break;
            }
            if (ch < '0' || ch > '9' || minor > 99) {
                return PT_DECLINED;
            }
            minor = minor * 10 + (ch - '0');
            st->state = ST_MINOR;
            break;
        case ST_STATUS_SP:
            if (ch == ' ') {
                break;
            }
            st->state = ST_STATUS;
            h->status = 0;
            /* fall through */
        case ST_STATUS:
            if (ch < '0' || ch > '9') {
                return PT_DECLINED;
            }
            h->status = h->status * 10 + (ch - '0');
            if (++ndigits == 3) {
                h->status_line.data = p - 2;
                st->state = ST_SPACE_AFTER;
            }
            break;
        case ST_SPACE_AFTER:
            if (ch == ' ') {
                st->state = ST_REASON;
                break;
            }
            if (ch == '\r') {
                st->state = ST_ALMOST_DONE;
                h->status_line.len = (size_t) (p - h->status_line.data);
                break;
            }
            if (ch == '\n') {
                h->status_line.len = (size_t) (p - h->status_line.data);
                goto done;
            }
            return PT_DECLINED;
        case ST_REASON:
            if (ch == '\r') {
                st->state = ST_ALMOST_DONE;
                h->status_line.len = (size_t) (p - h->status_line.data);
                break;
            }
            if (ch == '\n') {
                h->status_line.len = (size_t) (p - h->status_line.data);
                goto done;
            }
            break;
        case ST_ALMOST_DONE:
            if (ch != '\n') {
                return PT_DECLINED;
            }
            goto done;
        }
    }
    return PT_AGAIN;

done:
    if (h->status < 100 || major != 1) {
        return PT_DECLINED;
    }
    h->version = major * 1000 + minor;
    b->pos = p + 1;
    st->state = ST_START;
    return PT_OK;
}

static int
name_is(const pt_str_t *key, const char *name)
{
    size_t n = strlen(name);

    return key->len == n && pt_strncasecmp(key->data, (u_char *) name, n) == 0;
}

/* Note a header the proxy acts on: PT_OK, or PT_DECLINED when it makes
 * the head invalid (h->invalid says why). */
static int
note_header(pt_proxy_headers_in_t *h, pt_table_elt_t *e)
{
    off_t n;

    switch (e->key.len) {
    case 7:
        if (name_is(&e->key, "upgrade")) {
            h->upgrade = e;
        }
        break;
    case 10:
        if (name_is(&e->key, "connection")) {
            if (pt_http_list_has(&e->value, "close")) {
                h->connection_close = 1;
            }
            if (pt_http_list_has(&e->value, "keep-alive")) {
                h->connection_keep_alive = 1;
            }
        }
        break;
    case 14:
        if (name_is(&e->key, "content-length")) {
            n = pt_http_parse_content_length(e->value.data, e->value.len);
            h->bad = e;
            if (n == -1) {
                h->invalid = PT_PROXY_BAD_LENGTH;
                return PT_DECLINED;
            }
            if (h->chunked) {
                h->invalid = PT_PROXY_BAD_BOTH;
                return PT_DECLINED;
            }
            if (h->content_length != NULL) {
                /* stricter than nginx 1.22, which takes any framing: one
                 * length, repeated at most, or the head is invalid */
                if (n == h->content_length_n) {
                    break;
                }
                h->invalid = PT_PROXY_BAD_DUPLICATE;
                return PT_DECLINED;
            }
            h->content_length_n = n;
            h->content_length = e;
        }
        break;
    case 15:
        if (name_is(&e->key, "x-accel-charset")) {
            h->x_accel_charset = e;
        }
        break;
    case 16:
        if (name_is(&e->key, "x-accel-redirect")) {
            h->x_accel_redirect = e;
        }
        break;
    case 17:
        if (name_is(&e->key, "transfer-encoding")) {
            h->bad = e;
            if (e->value.len != 7 || h->chunked
                || pt_strncasecmp(e->value.data, (u_char *) "chunked", 7))
            {
                h->invalid = PT_PROXY_BAD_TE;
                return PT_DECLINED;
            }
            if (h->content_length != NULL) {
                h->invalid = PT_PROXY_BAD_BOTH;
                return PT_DECLINED;
            }
            h->chunked = 1;
        } else if (name_is(&e->key, "x-accel-buffering")) {
            h->x_accel_buffering = e;
        }
        break;
    case 18:
        if (name_is(&e->key, "x-accel-limit-rate")) {
            h->x_accel_limit_rate = e;
        }
        break;
    }
    return PT_OK;
}

int
pt_proxy_add_header(pt_pool_t *pool, pt_proxy_headers_in_t *h,
                    pt_http_parse_t *p)
{
    pt_table_elt_t *e;

    e = pt_http_push_header(pool, &h->headers, p);
    if (e == NULL) {
        return PT_ERROR;
    }
    return note_header(h, e);
}

int
pt_proxy_name_in(pt_array_t *list, const u_char *name, size_t len)
{
    pt_str_t  *s;
    pt_uint_t  i;

    if (list == NULL) {
        return 0;
    }
    s = list->elts;
    for (i = 0; i < list->nelts; i++) {
        if (s[i].len == len && pt_strncasecmp(s[i].data, name, len) == 0) {
            return 1;
        }
    }
    return 0;
}

int
pt_proxy_split_url(const pt_str_t *url, pt_str_t *host, pt_str_t *uri,
                   int *has_uri)
{
    u_char *p = url->data, *end = url->data + url->len, *q;

    *has_uri = 0;
    uri->len = 0;
    uri->data = (u_char *) "";
    if (url->len >= 5 && pt_strncasecmp(p, (u_char *) "unix:", 5) == 0) {
        /* "unix:/path.sock[:/uri]": the path ends at the next ':' */
        q = memchr(p + 5, ':', (size_t) (end - p - 5));
        host->data = p;
        host->len = (size_t) ((q != NULL ? q : end) - p);
        if (q != NULL) {
            uri->data = q + 1;
            uri->len = (size_t) (end - q - 1);
            *has_uri = 1;
        }
        return host->len > 5 ? PT_OK : PT_ERROR;
    }
    for (q = p; q < end && *q != '/' && *q != '?'; q++) {
        /* the host part */
    }
    host->data = p;
    host->len = (size_t) (q - p);
    if (q < end) {
        uri->data = q;
        uri->len = (size_t) (end - q);
        *has_uri = 1;
    }
    return host->len > 0 ? PT_OK : PT_ERROR;
}

int
pt_proxy_build_uri(pt_http_request_t *r, const pt_str_t *part, int has_part,
                   const pt_str_t *location, int with_vars, pt_str_t *out)
{
    size_t  loc_len = 0, escape = 0, len, rest;
    u_char *p;

    if (with_vars && part->len > 0) {
        *out = *part;
        return PT_OK;
    }
    if ((!has_part || part->len == 0) && r->valid_unparsed_uri) {
        *out = r->unparsed_uri;
        return PT_OK;
    }
    if (r->valid_location && has_part && part->len > 0) {
        loc_len = pt_min(location->len, r->uri.len);
    }
    rest = r->uri.len - loc_len;
    if (r->quoted_uri || r->internal) {
        escape = pt_http_escape(NULL, r->uri.data + loc_len, rest,
                                PT_HTTP_ESCAPE_URI);
    } else {
        escape = rest;
    }
    len = (r->valid_location ? part->len : 0) + escape + 1 + r->args.len;
    p = pt_pnalloc(r->pool, len);
    if (p == NULL) {
        return PT_ERROR;
    }
    out->data = p;
    if (r->valid_location && has_part) {
        memcpy(p, part->data, part->len);
        p += part->len;
    }
    if (r->quoted_uri || r->internal) {
        p += pt_http_escape(p, r->uri.data + loc_len, rest,
                            PT_HTTP_ESCAPE_URI);
    } else {
        memcpy(p, r->uri.data + loc_len, rest);
        p += rest;
    }
    if (r->args.len > 0) {
        *p++ = '?';
        memcpy(p, r->args.data, r->args.len);
        p += r->args.len;
    }
    out->len = (size_t) (p - out->data);
    return PT_OK;
}

/* Is the client header `h` replaced or removed by the configured list? */
static int
header_configured(pt_array_t *headers, pt_table_elt_t *h)
{
    pt_proxy_header_t *ph = headers->elts;
    pt_uint_t          i;

    for (i = 0; i < headers->nelts; i++) {
        if (ph[i].lowkey.len == h->key.len
            && memcmp(ph[i].lowkey.data, h->lowcase_key, h->key.len) == 0)
        {
            return 1;
        }
    }
    return 0;
}

static u_char *
put(u_char *p, const void *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* Evaluate the configured headers into vals (an empty value: not sent). */
static int
eval_headers(pt_proxy_ctx_t *ctx, pt_str_t *vals, size_t *len)
{
    pt_http_request_t *r = ctx->r;
    pt_proxy_header_t *ph = ctx->conf->headers->elts;
    pt_uint_t          i;
    u_char            *num;

    for (i = 0; i < ctx->conf->headers->nelts; i++) {
        if (ph[i].chunked_te) {
            vals[i].len = 0;
            if (ctx->chunked_out) {
                pt_str_set(&vals[i], "chunked");
            }
        } else if (ph[i].body_length) {
            vals[i].len = 0;
            if (ctx->body_length >= 0) {
                num = pt_pnalloc(r->pool, PT_INT64_LEN);
                if (num == NULL) {
                    return PT_ERROR;
                }
                vals[i].data = num;
                vals[i].len = (size_t) (pt_slprintf(num, num + PT_INT64_LEN,
                                                    "%lld", (long long)
                                                    ctx->body_length) - num);
            }
        } else if (pt_http_complex_value(r, &ph[i].value, &vals[i])
                   != PT_OK)
        {
            return PT_ERROR;
        }
        if (vals[i].len > 0) {
            *len += ph[i].key.len + 2 + vals[i].len + 2;
        }
    }
    return PT_OK;
}

pt_buf_t *
pt_proxy_create_request(pt_proxy_ctx_t *ctx)
{
    pt_http_request_t        *r = ctx->r;
    pt_http_proxy_loc_conf_t *conf = ctx->conf;
    pt_proxy_header_t        *ph = conf->headers->elts;
    pt_table_elt_t           *h = r->headers_in.headers.elts;
    pt_str_t                  method, vals[MAX_HEADERS];
    pt_uint_t                 i, n = conf->headers->nelts;
    size_t                    len;
    pt_buf_t                 *b;
    u_char                   *p;

    method = r->method_name;
    if (conf->method != NULL
        && pt_http_complex_value(r, conf->method, &method) != PT_OK)
    {
        return NULL;
    }
    len = method.len + 1 + ctx->uri.len + sizeof(" HTTP/1.x\r\n") - 1 + 2;
    if (n > MAX_HEADERS || eval_headers(ctx, vals, &len) != PT_OK) {
        return NULL;
    }
    if (conf->pass_request_headers) {
        for (i = 0; i < r->headers_in.headers.nelts; i++) {
            if (!header_configured(conf->headers, &h[i])) {
                len += h[i].key.len + 2 + h[i].value.len + 2;
            }
        }
    }
    b = pt_buf_create_temp(r->pool, len);
    if (b == NULL) {
        return NULL;
    }
    p = put(b->last, method.data, method.len);
    *p++ = ' ';
    p = put(p, ctx->uri.data, ctx->uri.len);
    p = conf->http_version == PT_HTTP_VERSION_11
        ? put(p, " HTTP/1.1\r\n", 11) : put(p, " HTTP/1.0\r\n", 11);
    for (i = 0; i < n; i++) {
        if (vals[i].len == 0) {
            continue;
        }
        p = put(p, ph[i].key.data, ph[i].key.len);
        p = put(p, ": ", 2);
        p = put(p, vals[i].data, vals[i].len);
        p = put(p, "\r\n", 2);
    }
    if (conf->pass_request_headers) {
        for (i = 0; i < r->headers_in.headers.nelts; i++) {
            if (header_configured(conf->headers, &h[i])) {
                continue;
            }
            p = put(p, h[i].key.data, h[i].key.len);
            p = put(p, ": ", 2);
            p = put(p, h[i].value.data, h[i].value.len);
            p = put(p, "\r\n", 2);
        }
    }
    p = put(p, "\r\n", 2);
    b->last = p;
    return b;
}

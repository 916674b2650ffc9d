/*
 * The decisions the gzip modules share and the unit tests check without a
 * server: gzip_proxied's table, gzip_types matching, and the head of a
 * re-encoded response (Content-Encoding, no length, no ranges, weak ETag).
 */
#include <string.h>
#include <unistd.h>

#include "common/http_time.h"
#include "common/pool.h"
#include "common/str.h"
#include "http_gzip.h"

int
pt_http_header_has_token(const pt_str_t *value, const char *token)
{
    size_t        n = strlen(token);
    const u_char *p = value->data, *end = value->data + value->len, *start;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ',')) {
            p++;
        }
        start = p;
        while (p < end && *p != ',' && *p != ' ' && *p != '\t'
               && *p != '=' && *p != ';')
        {
            p++;
        }
        if ((size_t) (p - start) == n
            && pt_strncasecmp(start, (const u_char *) token, n) == 0)
        {
            return 1;
        }
        while (p < end && *p != ',') {
            p++;                      /* the rest of the element */
        }
    }
    return 0;
}

static int
cache_control_has(const pt_table_elt_t *cc, const char *token)
{
    for (; cc != NULL; cc = cc->next) {
        if (cc->hash != 0 && pt_http_header_has_token(&cc->value, token)) {
            return 1;
        }
    }
    return 0;
}

/* Expires decides alone when present: only an already expired response
 * (Expires before Date) is compressed, and only with "expired". */
static int
expired_ok(pt_uint_t flags, const pt_http_gzip_proxied_in_t *in)
{
    time_t expires, date;

    if (!(flags & PT_GZIP_PROXIED_EXPIRED)) {
        return 0;
    }
    expires = pt_http_parse_time(in->expires->data, in->expires->len);
    if (expires == (time_t) -1) {
        return 0;
    }
    date = in->now;
    if (in->date != NULL) {
        date = pt_http_parse_time(in->date->data, in->date->len);
        if (date == (time_t) -1) {
            return 0;
        }
    }
    return expires < date;
}

int
pt_http_gzip_proxied_ok(pt_uint_t flags, const pt_http_gzip_proxied_in_t *in)
{
    if (flags & PT_GZIP_PROXIED_OFF) {
        return 0;
    }
    if (flags & PT_GZIP_PROXIED_ANY) {
        return 1;
    }
    if (in->authorization && (flags & PT_GZIP_PROXIED_AUTH)) {
        return 1;
    }
    if (in->expires != NULL) {
        return expired_ok(flags, in);
    }
    if (in->cache_control != NULL) {
        return ((flags & PT_GZIP_PROXIED_NO_CACHE)
                && cache_control_has(in->cache_control, "no-cache"))
               || ((flags & PT_GZIP_PROXIED_NO_STORE)
                   && cache_control_has(in->cache_control, "no-store"))
               || ((flags & PT_GZIP_PROXIED_PRIVATE)
                   && cache_control_has(in->cache_control, "private"));
    }
    if ((flags & PT_GZIP_PROXIED_NO_LM) && in->last_modified) {
        return 0;
    }
    if ((flags & PT_GZIP_PROXIED_NO_ETAG) && in->etag) {
        return 0;
    }
    return 1;
}

int
pt_http_gzip_type_ok(const pt_array_t *types, int any_type,
                     const u_char *type, size_t len)
{
    const pt_str_t *t;
    pt_uint_t       i;

    if (any_type) {
        return 1;
    }
    if (types == NULL || len == 0) {
        return 0;
    }
    t = types->elts;
    for (i = 0; i < types->nelts; i++) {
        if (t[i].len == len && pt_strncasecmp(t[i].data, type, len) == 0) {
            return 1;
        }
    }
    return 0;
}

int
pt_http_weak_etag(pt_http_request_t *r)
{
    pt_table_elt_t *etag = r->headers_out.etag;
    u_char         *p;

    if (etag == NULL || etag->hash == 0) {
        return PT_OK;
    }
    if (etag->value.len > 2 && etag->value.data[0] == 'W'
        && etag->value.data[1] == '/')
    {
        return PT_OK;
    }
    if (etag->value.len < 1 || etag->value.data[0] != '"') {
        pt_http_clear_etag(r);
        return PT_OK;
    }
    p = pt_pnalloc(r->pool, etag->value.len + 2);
    if (p == NULL) {
        return PT_ERROR;
    }
    p[0] = 'W';
    p[1] = '/';
    memcpy(p + 2, etag->value.data, etag->value.len);
    etag->value.data = p;
    etag->value.len += 2;
    return PT_OK;
}

int
pt_http_recoded_response(pt_http_request_t *r, const pt_str_t *coding)
{
    pt_str_t        key = pt_string("Content-Encoding");
    pt_table_elt_t *h = r->headers_out.content_encoding;

    if (h != NULL) {
        h->hash = 0;
        r->headers_out.content_encoding = NULL;
    }
    if (coding->len > 0) {
        h = pt_http_add_header_out(r, &key, coding);
        if (h == NULL) {
            return PT_ERROR;
        }
        r->headers_out.content_encoding = h;
    }
    pt_http_clear_content_length(r);
    pt_http_clear_accept_ranges(r);
    r->allow_ranges = 0;
    return pt_http_weak_etag(r);
}

char *
pt_http_conf_set_bufs(pt_conf_t *cf, pt_uint_t *num, size_t *size)
{
    pt_int_t n = pt_atoi(cf->args[1].data, cf->args[1].len);
    ssize_t  sz = pt_parse_size(&cf->args[2]);

    if (n == PT_ERROR || n == 0 || sz == PT_ERROR || sz == 0) {
        return "invalid value";
    }
    *num = (pt_uint_t) n;
    *size = (size_t) sz;
    return PT_CONF_OK;
}

void
pt_http_merge_bufs(pt_uint_t *num, size_t *size, pt_uint_t prev_num,
                   size_t prev_size)
{
    long page;

    if (*num != PT_CONF_UNSET_UINT) {
        return;
    }
    *num = prev_num;
    *size = prev_size;
    if (*num == PT_CONF_UNSET_UINT) {
        page = sysconf(_SC_PAGESIZE);
        *size = page > 0 ? (size_t) page : 4096;
        *num = 128 * 1024 / *size;
    }
}

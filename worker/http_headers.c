/*
 * The headers filter: `expires` (Expires and Cache-Control), `add_header`
 * and `add_trailer`. Headers go on successful and redirect responses only,
 * unless marked `always`; a level with its own list replaces its parent's.
 */
#include <string.h>
#include <time.h>

#include "common/array.h"
#include "common/http_time.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "http.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"

#define EXPIRES_OFF       0
#define EXPIRES_EPOCH     1   /* "Thu, 01 Jan 1970 00:00:01 GMT" */
#define EXPIRES_MAX       2   /* "Thu, 31 Dec 2037 23:55:55 GMT" */
#define EXPIRES_ACCESS    3   /* now + time */
#define EXPIRES_MODIFIED  4   /* Last-Modified + time */
#define EXPIRES_DAILY     5   /* @time of day */
#define EXPIRES_UNSET     6

typedef struct header_val_s header_val_t;

/* Sets one configured header with its evaluated value. */
typedef int (*header_set_pt)(pt_http_request_t *r, header_val_t *hv,
                             pt_str_t *value);

struct header_val_s {
    pt_str_t                 key;
    pt_http_complex_value_t  value;
    header_set_pt            handler;
    size_t                   offset;   /* the headers_out field it keeps */
    unsigned                 always:1;
};

typedef struct {
    pt_uint_t                 expires;        /* EXPIRES_* */
    time_t                    expires_time;   /* seconds, may be < 0 */
    pt_http_complex_value_t  *expires_value;  /* expires with variables */
    pt_array_t               *headers;        /* header_val_t */
    pt_array_t               *trailers;       /* header_val_t */
} headers_loc_conf_t;

static int add_header(pt_http_request_t *r, header_val_t *hv,
                      pt_str_t *value);
static int add_multi_header(pt_http_request_t *r, header_val_t *hv,
                            pt_str_t *value);
static int set_response_header(pt_http_request_t *r, header_val_t *hv,
                               pt_str_t *value);
static int set_last_modified(pt_http_request_t *r, header_val_t *hv,
                             pt_str_t *value);

/* Header names whose value lives in a headers_out field. */
static const struct {
    const char     *name;
    size_t          offset;
    header_set_pt   handler;
} special_headers[] = {
    { "Cache-Control", offsetof(pt_http_headers_out_t, cache_control),
      add_multi_header },
    { "Last-Modified", offsetof(pt_http_headers_out_t, last_modified),
      set_last_modified },
    { "ETag", offsetof(pt_http_headers_out_t, etag), set_response_header },
};

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_expires(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_header(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

#define HEADERS_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION        \
                     | PT_CONF_IF)

static pt_command_t headers_commands[] = {
    { "expires", HEADERS_CTX | PT_CONF_TAKE12, set_expires,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "add_header", HEADERS_CTX | PT_CONF_TAKE23, set_header,
      PT_CONF_LOC_OFFSET, offsetof(headers_loc_conf_t, headers), NULL },
    { "add_trailer", HEADERS_CTX | PT_CONF_TAKE23, set_header,
      PT_CONF_LOC_OFFSET, offsetof(headers_loc_conf_t, trailers), NULL },
    pt_null_command
};

pt_module_t pt_http_headers_filter_module = {
    "http_headers_filter", headers_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static pt_http_output_header_filter_pt next_header_filter;
static pt_http_output_body_filter_pt   next_body_filter;

/* The statuses headers are added to without `always`. */
static int
safe_status(pt_uint_t status)
{
    switch (status) {
    case PT_HTTP_OK:
    case PT_HTTP_CREATED:
    case PT_HTTP_NO_CONTENT:
    case PT_HTTP_PARTIAL_CONTENT:
    case PT_HTTP_MOVED_PERMANENTLY:
    case PT_HTTP_MOVED_TEMPORARILY:
    case PT_HTTP_SEE_OTHER:
    case PT_HTTP_NOT_MODIFIED:
    case PT_HTTP_TEMPORARY_REDIRECT:
    case PT_HTTP_PERMANENT_REDIRECT:
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Expires                                                             */

/*
 * Parse an expires value: epoch, max, off (not after "modified"), or a
 * time with an optional sign, or "@" and a time of day. *expires comes in
 * as EXPIRES_ACCESS or EXPIRES_MODIFIED. Returns NULL or nginx's phrase.
 */
static const char *
parse_expires(pt_str_t *value, pt_uint_t *expires, time_t *expires_time)
{
    pt_str_t  v = *value;
    pt_int_t  t;
    size_t    i;
    int       minus = 0;

    if (*expires != EXPIRES_MODIFIED) {
        if (pt_str_eq_cstr(&v, "epoch")) {
            *expires = EXPIRES_EPOCH;
            return NULL;
        }
        if (pt_str_eq_cstr(&v, "max")) {
            *expires = EXPIRES_MAX;
            return NULL;
        }
        if (pt_str_eq_cstr(&v, "off")) {
            *expires = EXPIRES_OFF;
            return NULL;
        }
    }
    if (v.len > 0 && v.data[0] == '@') {
        if (*expires == EXPIRES_MODIFIED) {
            return "daily time cannot be used with \"modified\" parameter";
        }
        *expires = EXPIRES_DAILY;
        v.data++;
        v.len--;
    } else if (v.len > 0 && (v.data[0] == '+' || v.data[0] == '-')) {
        minus = v.data[0] == '-';
        v.data++;
        v.len--;
    }
    /* seconds: milliseconds are no unit here */
    for (i = 0; i + 1 < v.len; i++) {
        if (v.data[i] == 'm' && v.data[i + 1] == 's') {
            return "invalid value";
        }
    }
    t = pt_parse_time(&v, 1);
    if (t == PT_ERROR) {
        return "invalid value";
    }
    if (*expires == EXPIRES_DAILY && t > 24 * 60 * 60) {
        return "daily time value must be less than 24 hours";
    }
    *expires_time = (time_t) (minus ? -t : t);
    return NULL;
}

/* The next time the local clock shows `when` seconds past midnight. */
static time_t
next_daily_time(time_t now, time_t when)
{
    struct tm tm;
    time_t    next;

    if (localtime_r(&now, &tm) == NULL) {
        return -1;
    }
    tm.tm_hour = (int) (when / 3600);
    tm.tm_min = (int) (when % 3600 / 60);
    tm.tm_sec = (int) (when % 60);
    next = mktime(&tm);
    if (next == -1 || next > now) {
        return next;
    }
    tm.tm_mday++;     /* mktime normalizes the 32nd and the like */
    return mktime(&tm);
}

/* The Cache-Control element expires rewrites: the first one, with any
 * further ones dropped, or a new one. */
static pt_table_elt_t *
expires_cache_control(pt_http_request_t *r)
{
    pt_table_elt_t *cc = r->headers_out.cache_control, *h;
    pt_str_t        key = pt_string("Cache-Control"), none = pt_null_string;

    if (cc == NULL) {
        cc = pt_http_add_header_out(r, &key, &none);
        r->headers_out.cache_control = cc;
        return cc;
    }
    for (h = cc->next; h != NULL; h = h->next) {
        h->hash = 0;
    }
    cc->next = NULL;
    return cc;
}

/* Expires and max-age of a relative or daily setting into e and cc:
 * from now, from Last-Modified (when known) or at the next time of day. */
static int
set_expires_time(pt_http_request_t *r, headers_loc_conf_t *conf,
                 pt_table_elt_t *e, pt_table_elt_t *cc, pt_uint_t expires,
                 time_t expires_time)
{
    time_t  now = pt_time_sec, max_age;
    size_t  size = sizeof("max-age=") + PT_INT64_LEN;
    u_char *p;

    if (expires == EXPIRES_DAILY) {
        expires_time = next_daily_time(now, expires_time);
        max_age = expires_time - now;
    } else if (expires == EXPIRES_ACCESS
               || r->headers_out.last_modified_time == -1)
    {
        max_age = expires_time;
        expires_time += now;
    } else {
        expires_time += r->headers_out.last_modified_time;
        max_age = expires_time - now;
    }

    p = pt_pnalloc(r->pool, PT_HTTP_TIME_LEN);
    if (p == NULL) {
        return PT_ERROR;
    }
    e->value.data = p;
    e->value.len = (size_t) (pt_http_format_time(p, expires_time) - p);

    /* as nginx: a negative configured time means no-cache even when the
     * variable form gave another */
    if (conf->expires_time < 0 || max_age < 0) {
        pt_str_set(&cc->value, "no-cache");
        return PT_OK;
    }
    p = pt_pnalloc(r->pool, size);
    if (p == NULL) {
        return PT_ERROR;
    }
    cc->value.data = p;
    cc->value.len = (size_t) (pt_slprintf(p, p + size, "max-age=%lld",
                                          (long long) max_age) - p);
    return PT_OK;
}

/* Set Expires and Cache-Control for the response. PT_OK or PT_ERROR. */
static int
set_expires_headers(pt_http_request_t *r, headers_loc_conf_t *conf)
{
    pt_uint_t       expires = conf->expires;
    time_t          expires_time = conf->expires_time;
    pt_str_t        key = pt_string("Expires"), none = pt_null_string, v;
    pt_table_elt_t *e, *cc;
    u_char         *p;

    if (conf->expires_value != NULL) {
        if (pt_http_complex_value(r, conf->expires_value, &v) != PT_OK) {
            return PT_ERROR;
        }
        /* a value that does not parse leaves the response alone */
        if (parse_expires(&v, &expires, &expires_time) != NULL
            || expires == EXPIRES_OFF)
        {
            return PT_OK;
        }
    }

    e = r->headers_out.expires;
    if (e == NULL) {
        e = pt_http_add_header_out(r, &key, &none);
        if (e == NULL) {
            return PT_ERROR;
        }
        r->headers_out.expires = e;
    }
    cc = expires_cache_control(r);
    if (cc == NULL) {
        return PT_ERROR;
    }

    if (expires == EXPIRES_EPOCH) {
        pt_str_set(&e->value, "Thu, 01 Jan 1970 00:00:01 GMT");
        pt_str_set(&cc->value, "no-cache");
        return PT_OK;
    }
    if (expires == EXPIRES_MAX) {
        pt_str_set(&e->value, "Thu, 31 Dec 2037 23:55:55 GMT");
        pt_str_set(&cc->value, "max-age=315360000");   /* 10 years */
        return PT_OK;
    }
    if (expires_time != 0 || expires == EXPIRES_DAILY) {
        return set_expires_time(r, conf, e, cc, expires, expires_time);
    }

    /* the cached string changes with the second: copy it */
    p = pt_pnalloc(r->pool, pt_cached_http_time.len);
    if (p == NULL) {
        return PT_ERROR;
    }
    memcpy(p, pt_cached_http_time.data, pt_cached_http_time.len);
    e->value.data = p;
    e->value.len = pt_cached_http_time.len;
    pt_str_set(&cc->value, "max-age=0");
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Header handlers                                                     */

static pt_table_elt_t **
header_field(pt_http_request_t *r, header_val_t *hv)
{
    return (pt_table_elt_t **) ((u_char *) &r->headers_out + hv->offset);
}

/* Any other name: one more header line; an empty value adds nothing. */
static int
add_header(pt_http_request_t *r, header_val_t *hv, pt_str_t *value)
{
    if (value->len == 0) {
        return PT_OK;
    }
    return pt_http_add_header_out(r, &hv->key, value) != NULL
           ? PT_OK : PT_ERROR;
}

/* Cache-Control: one more line, linked after the ones already there. */
static int
add_multi_header(pt_http_request_t *r, header_val_t *hv, pt_str_t *value)
{
    pt_table_elt_t *h, **ph;

    if (value->len == 0) {
        return PT_OK;
    }
    h = pt_http_add_header_out(r, &hv->key, value);
    if (h == NULL) {
        return PT_ERROR;
    }
    for (ph = header_field(r, hv); *ph != NULL; ph = &(*ph)->next) {
        /* void */
    }
    *ph = h;
    return PT_OK;
}

/* ETag: replaces the response's one; an empty value removes it. */
static int
set_response_header(pt_http_request_t *r, header_val_t *hv, pt_str_t *value)
{
    pt_table_elt_t **old = header_field(r, hv), *h;

    if (value->len == 0) {
        if (*old != NULL) {
            (*old)->hash = 0;
            *old = NULL;
        }
        return PT_OK;
    }
    h = *old;
    if (h == NULL) {
        h = pt_http_add_header_out(r, &hv->key, value);
        if (h == NULL) {
            return PT_ERROR;
        }
        *old = h;
    }
    h->hash = 1;
    h->key = hv->key;
    h->value = *value;
    h->next = NULL;
    return PT_OK;
}

/* Last-Modified: as ETag, and the time conditional requests compare. */
static int
set_last_modified(pt_http_request_t *r, header_val_t *hv, pt_str_t *value)
{
    if (set_response_header(r, hv, value) != PT_OK) {
        return PT_ERROR;
    }
    r->headers_out.last_modified_time =
        value->len > 0 ? pt_http_parse_time(value->data, value->len) : -1;
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Filters                                                             */

static int
header_filter(pt_http_request_t *r)
{
    headers_loc_conf_t *conf;
    header_val_t       *hv;
    pt_str_t            value;
    pt_uint_t           i;
    int                 safe;

    conf = pt_http_get_module_loc_conf(r, pt_http_headers_filter_module);
    if (r != r->main || (conf->expires == EXPIRES_OFF
                         && conf->headers == NULL && conf->trailers == NULL))
    {
        return next_header_filter(r);
    }
    safe = safe_status(r->headers_out.status);

    if (conf->expires != EXPIRES_OFF && safe
        && set_expires_headers(r, conf) != PT_OK)
    {
        return PT_ERROR;
    }
    if (conf->headers != NULL) {
        hv = conf->headers->elts;
        for (i = 0; i < conf->headers->nelts; i++) {
            if (!safe && !hv[i].always) {
                continue;
            }
            if (pt_http_complex_value(r, &hv[i].value, &value) != PT_OK
                || hv[i].handler(r, &hv[i], &value) != PT_OK)
            {
                return PT_ERROR;
            }
        }
    }
    if (conf->trailers != NULL) {
        hv = conf->trailers->elts;
        for (i = 0; i < conf->trailers->nelts; i++) {
            if (safe || hv[i].always) {
                /* the framing goes chunked to carry them */
                r->expect_trailers = 1;
                break;
            }
        }
    }
    return next_header_filter(r);
}

/* Evaluate the trailers when the last buffer passes (the chunked encoder
 * writes r->headers_out.trailers after the last chunk). */
static int
trailers_filter(pt_http_request_t *r, pt_chain_t *in)
{
    headers_loc_conf_t *conf;
    header_val_t       *hv;
    pt_table_elt_t     *t;
    pt_chain_t         *cl;
    pt_str_t            value;
    pt_uint_t           i;
    int                 safe;

    conf = pt_http_get_module_loc_conf(r, pt_http_headers_filter_module);
    if (in == NULL || conf->trailers == NULL || !r->expect_trailers
        || r->header_only)
    {
        return next_body_filter(r, in);
    }
    for (cl = in; cl != NULL && !cl->buf->last_buf; cl = cl->next) {
        /* void */
    }
    if (cl == NULL) {
        return next_body_filter(r, in);
    }
    safe = safe_status(r->headers_out.status);
    hv = conf->trailers->elts;
    for (i = 0; i < conf->trailers->nelts; i++) {
        if (!safe && !hv[i].always) {
            continue;
        }
        if (pt_http_complex_value(r, &hv[i].value, &value) != PT_OK) {
            return PT_ERROR;
        }
        if (value.len == 0) {
            continue;
        }
        t = pt_array_push(&r->headers_out.trailers);
        if (t == NULL) {
            return PT_ERROR;
        }
        memset(t, 0, sizeof(*t));
        t->hash = 1;
        t->key = hv[i].key;
        t->value = value;
    }
    return next_body_filter(r, in);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static void *
create_loc_conf(pt_conf_t *cf)
{
    headers_loc_conf_t *conf = pt_pcalloc(cf->pool, sizeof(*conf));

    if (conf != NULL) {
        conf->expires = EXPIRES_UNSET;
    }
    return conf;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    headers_loc_conf_t *prev = parent, *conf = child;

    if (conf->expires == EXPIRES_UNSET) {
        conf->expires = prev->expires;
        conf->expires_time = prev->expires_time;
        conf->expires_value = prev->expires_value;
        if (conf->expires == EXPIRES_UNSET) {
            conf->expires = EXPIRES_OFF;
        }
    }
    if (conf->headers == NULL) {
        conf->headers = prev->headers;
    }
    if (conf->trailers == NULL) {
        conf->trailers = prev->trailers;
    }
    return PT_CONF_OK;
}

/* expires [modified] TIME | epoch | max | off | @TIME */
static char *
set_expires(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    headers_loc_conf_t      *hcf = conf;
    pt_str_t                *v = &cf->args[1];
    pt_http_complex_value_t  cv;

    if (hcf->expires != EXPIRES_UNSET) {
        return "is duplicate";
    }
    hcf->expires = EXPIRES_ACCESS;
    if (cf->nargs == 3) {
        if (!pt_str_eq_cstr(v, "modified")) {
            return "invalid value";
        }
        hcf->expires = EXPIRES_MODIFIED;
        v = &cf->args[2];
    }
    memset(&cv, 0, sizeof(cv));
    if (pt_http_compile_complex_value(cf, v, &cv) != PT_OK) {
        return PT_CONF_ERROR;
    }
    if (cv.has_vars) {
        hcf->expires_value = pt_palloc(cf->pool, sizeof(cv));
        if (hcf->expires_value == NULL) {
            return PT_CONF_ERROR;
        }
        *hcf->expires_value = cv;
        return PT_CONF_OK;
    }
    return (char *) parse_expires(v, &hcf->expires, &hcf->expires_time);
}

/* add_header|add_trailer NAME VALUE [always] */
static char *
set_header(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_array_t  **list = (pt_array_t **) ((u_char *) conf + cmd->offset);
    header_val_t *hv;
    pt_str_t     *name = &cf->args[1];
    size_t        i;

    if (*list == NULL) {
        *list = pt_array_create(cf->pool, 2, sizeof(header_val_t));
        if (*list == NULL) {
            return PT_CONF_ERROR;
        }
    }
    hv = pt_array_push(*list);
    if (hv == NULL) {
        return PT_CONF_ERROR;
    }
    memset(hv, 0, sizeof(*hv));
    hv->key = *name;
    hv->handler = add_header;
    if (cmd->offset == offsetof(headers_loc_conf_t, headers)) {
        for (i = 0; i < pt_nelems(special_headers); i++) {
            if (name->len == strlen(special_headers[i].name)
                && pt_strncasecmp(name->data,
                                  (u_char *) special_headers[i].name,
                                  name->len) == 0)
            {
                hv->offset = special_headers[i].offset;
                hv->handler = special_headers[i].handler;
                break;
            }
        }
    }
    if (pt_http_compile_complex_value(cf, &cf->args[2], &hv->value)
        != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    if (cf->nargs == 3) {
        return PT_CONF_OK;
    }
    if (!pt_str_eq_cstr(&cf->args[3], "always")) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                          (int) cf->args[3].len, cf->args[3].data);
        return PT_CONF_ERROR;
    }
    hv->always = 1;
    return PT_CONF_OK;
}

static int
postconfiguration(pt_conf_t *cf)
{
    next_header_filter = pt_http_top_header_filter;
    pt_http_top_header_filter = header_filter;
    next_body_filter = pt_http_top_body_filter;
    pt_http_top_body_filter = trailers_filter;
    return PT_OK;
}

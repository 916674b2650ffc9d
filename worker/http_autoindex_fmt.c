/*
 * Autoindex rendering. Every format is written by one function run twice
 * over a small writer: first counting bytes, then filling a buffer of
 * exactly that size, so size and content cannot disagree.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/http_time.h"
#include "common/pool.h"
#include "http_autoindex_fmt.h"

/* html: names longer than this are cut to NAME_LEN - 3 and "..>" */
#define NAME_LEN 50

typedef struct {
    u_char  *p;     /* NULL while counting */
    size_t   n;     /* bytes counted or written */
} writer_t;

static void
put(writer_t *w, const void *data, size_t len)
{
    if (w->p != NULL) {
        memcpy(w->p + w->n, data, len);
    }
    w->n += len;
}

#define put_lit(w, s) put(w, s, sizeof(s) - 1)

static void
put_str(writer_t *w, const pt_str_t *s)
{
    put(w, s->data, s->len);
}

static void
put_fill(writer_t *w, u_char c, size_t len)
{
    if (w->p != NULL) {
        memset(w->p + w->n, c, len);
    }
    w->n += len;
}

static void
putf(writer_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
putf(writer_t *w, const char *fmt, ...)
{
    char    tmp[64];
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    put(w, tmp, (size_t) pt_min(n, (int) sizeof(tmp) - 1));
}

/* < > & " as entities, the rest as is (nginx's ngx_escape_html). */
static void
put_html(writer_t *w, const u_char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        switch (s[i]) {
        case '<': put_lit(w, "&lt;"); break;
        case '>': put_lit(w, "&gt;"); break;
        case '&': put_lit(w, "&amp;"); break;
        case '"': put_lit(w, "&quot;"); break;
        default: put(w, &s[i], 1); break;
        }
    }
}

/* An href path segment: everything but RFC 3986's unreserved characters
 * is %XX-escaped (what nginx's URI component escaping amounts to). */
static void
put_uri_component(writer_t *w, const u_char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    u_char            esc[3];
    size_t            i;
    u_char            c;

    for (i = 0; i < len; i++) {
        c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            put(w, &c, 1);
            continue;
        }
        esc[0] = '%';
        esc[1] = (u_char) hex[c >> 4];
        esc[2] = (u_char) hex[c & 0xf];
        put(w, esc, 3);
    }
}

/* A JSON string body: \" \\ and control characters escaped, bytes >= 0x80
 * and DEL passed through (nginx's ngx_escape_json). */
static void
put_json(writer_t *w, const u_char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    u_char            esc[6];
    size_t            i;
    u_char            c;

    for (i = 0; i < len; i++) {
        c = s[i];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = c;
            put(w, esc, 2);
            continue;
        }
        if (c >= 0x20) {
            put(w, &c, 1);
            continue;
        }
        switch (c) {
        case '\n': put_lit(w, "\\n"); break;
        case '\r': put_lit(w, "\\r"); break;
        case '\t': put_lit(w, "\\t"); break;
        case '\b': put_lit(w, "\\b"); break;
        case '\f': put_lit(w, "\\f"); break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = (u_char) hex[c >> 4];
            esc[5] = (u_char) hex[c & 0xf];
            put(w, esc, 6);
            break;
        }
    }
}

/*
 * Bytes of the UTF-8 character at p (n bytes left), or 0 when invalid.
 * This is nginx's decoder, lenient in the same places so names are cut at
 * the same points: continuation bytes are only checked for the high bit,
 * surrogates pass, overlong forms and values above U+10FFFF do not.
 */
static size_t
utf8_char(const u_char *p, size_t n)
{
    uint32_t  v, min;
    size_t    need, i;

    if (p[0] < 0x80) {
        return 1;
    }
    if (p[0] >= 0xf0) {
        need = 3; v = p[0] & 0x07; min = 0x10000;
    } else if (p[0] >= 0xe0) {
        need = 2; v = p[0] & 0x0f; min = 0x800;
    } else if (p[0] >= 0xc2) {
        need = 1; v = p[0] & 0x1f; min = 0x80;
    } else {
        return 0;
    }
    if (n - 1 < need) {
        return 0;
    }
    for (i = 1; i <= need; i++) {
        if (p[i] < 0x80) {
            return 0;
        }
        v = (v << 6) | (p[i] & 0x3f);
    }
    return v >= min && v <= 0x10ffff ? need + 1 : 0;
}

/* Characters in s, or its byte length when it is not valid UTF-8. */
static size_t
utf8_length(const pt_str_t *s)
{
    size_t i = 0, chars = 0, k;

    while (i < s->len) {
        k = utf8_char(s->data + i, s->len - i);
        if (k == 0) {
            return s->len;
        }
        i += k;
        chars++;
    }
    return chars;
}

/* Bytes taken by the first `chars` characters of valid UTF-8 s. */
static size_t
utf8_prefix(const pt_str_t *s, size_t chars)
{
    size_t i = 0;

    while (chars-- && i < s->len) {
        i += utf8_char(s->data + i, s->len - i);
    }
    return i;
}

/* The size column without autoindex_exact_size: rounded K/M/G. */
static void
put_human_size(writer_t *w, off_t size)
{
    static const struct {
        off_t  unit;
        off_t  above;   /* scale when size > above */
        char   c;
    } scales[] = {
        { 1024LL * 1024 * 1024, 1024LL * 1024 * 1024 - 1, 'G' },
        { 1024 * 1024, 1024 * 1024 - 1, 'M' },
        { 1024, 9999, 'K' },
    };
    long long v;
    size_t    i;

    for (i = 0; i < pt_nelems(scales); i++) {
        if (size > scales[i].above) {
            /* round half up */
            v = size / scales[i].unit
                + (size % scales[i].unit >= scales[i].unit / 2);
            putf(w, "%6lld%c", v, scales[i].c);
            return;
        }
    }
    putf(w, " %6lld", (long long) size);
}

static void
html_entry(writer_t *w, const pt_autoindex_entry_t *e,
           const pt_autoindex_conf_t *conf)
{
    pt_tm_t  tm;
    size_t   len, cut;
    int      dir = e->type == PT_AUTOINDEX_DIR;

    put_lit(w, "<a href=\"");
    put_uri_component(w, e->name.data, e->name.len);
    if (dir) {
        put_lit(w, "/");
    }
    put_lit(w, "\">");

    len = conf->utf8 ? utf8_length(&e->name) : e->name.len;

    if (len > NAME_LEN) {
        /* counted in characters only when the name is valid UTF-8 */
        cut = len != e->name.len ? utf8_prefix(&e->name, NAME_LEN - 3)
                                 : NAME_LEN - 3;
        put_html(w, e->name.data, cut);
        put_lit(w, "..&gt;</a>");

    } else {
        put_html(w, e->name.data, e->name.len);
        if (dir && len < NAME_LEN) {
            put_lit(w, "/");
            len++;
        }
        put_lit(w, "</a>");
        put_fill(w, ' ', NAME_LEN - len);
    }
    put_lit(w, " ");

    pt_http_gmtime(e->mtime + (conf->localtime ? conf->gmtoff : 0), &tm);
    putf(w, "%02d-%s-%d %02d:%02d ", tm.mday, pt_http_months[tm.mon - 1],
         tm.year, tm.hour, tm.min);

    if (conf->exact_size) {
        if (dir) {
            putf(w, "%19s", "-");
        } else {
            putf(w, "%19lld", (long long) e->size);
        }
    } else if (dir) {
        putf(w, "%7s", "-");
    } else {
        put_human_size(w, e->size);
    }
    put_lit(w, "\r\n");
}

static void
render_html(writer_t *w, const pt_str_t *uri, const pt_autoindex_entry_t *e,
            pt_uint_t n, const pt_autoindex_conf_t *conf)
{
    pt_uint_t i;

    put_lit(w, "<html>\r\n<head><title>Index of ");
    put_html(w, uri->data, uri->len);
    put_lit(w, "</title></head>\r\n<body>\r\n<h1>Index of ");
    put_html(w, uri->data, uri->len);
    put_lit(w, "</h1><hr><pre><a href=\"../\">../</a>\r\n");

    for (i = 0; i < n; i++) {
        html_entry(w, &e[i], conf);
    }

    put_lit(w, "</pre><hr></body>\r\n</html>\r\n");
}

static const char *
type_name(const pt_autoindex_entry_t *e)
{
    switch (e->type) {
    case PT_AUTOINDEX_DIR: return "directory";
    case PT_AUTOINDEX_FILE: return "file";
    default: return "other";
    }
}

static void
render_json(writer_t *w, const pt_autoindex_entry_t *e, pt_uint_t n,
            const pt_autoindex_conf_t *conf)
{
    u_char    date[PT_HTTP_TIME_LEN];
    pt_uint_t i;
    int       jsonp = conf->format == PT_AUTOINDEX_JSONP
                      && conf->callback.len > 0;

    if (jsonp) {
        put_lit(w, "/* callback */\r\n");
        put_str(w, &conf->callback);
        put_lit(w, "(");
    }
    put_lit(w, "[");

    for (i = 0; i < n; i++) {
        if (i > 0) {
            put_lit(w, ",");
        }
        put_lit(w, "\r\n{ \"name\":\"");
        put_json(w, e[i].name.data, e[i].name.len);
        put_lit(w, "\", \"type\":\"");
        put(w, type_name(&e[i]), strlen(type_name(&e[i])));
        put_lit(w, "\", \"mtime\":\"");
        pt_http_format_time(date, e[i].mtime);
        put(w, date, PT_HTTP_TIME_LEN);
        if (e[i].type == PT_AUTOINDEX_FILE) {
            putf(w, "\", \"size\":%lld", (long long) e[i].size);
        } else {
            put_lit(w, "\"");
        }
        put_lit(w, " }");
    }

    put_lit(w, "\r\n]");
    if (jsonp) {
        put_lit(w, ");");
    }
}

static void
render_xml(writer_t *w, const pt_autoindex_entry_t *e, pt_uint_t n)
{
    const char *type;
    pt_tm_t     tm;
    pt_uint_t   i;

    put_lit(w, "<?xml version=\"1.0\"?>\r\n<list>\r\n");

    for (i = 0; i < n; i++) {
        type = type_name(&e[i]);
        pt_http_gmtime(e[i].mtime, &tm);
        putf(w, "<%s mtime=\"%4d-%02d-%02dT%02d:%02d:%02dZ\"", type,
             tm.year, tm.mon, tm.mday, tm.hour, tm.min, tm.sec);
        if (e[i].type == PT_AUTOINDEX_FILE) {
            putf(w, " size=\"%lld\"", (long long) e[i].size);
        }
        put_lit(w, ">");
        put_html(w, e[i].name.data, e[i].name.len);
        putf(w, "</%s>\r\n", type);
    }

    put_lit(w, "</list>\r\n");
}

static void
render(writer_t *w, const pt_str_t *uri, const pt_autoindex_entry_t *e,
       pt_uint_t n, const pt_autoindex_conf_t *conf)
{
    switch (conf->format) {
    case PT_AUTOINDEX_JSON:
    case PT_AUTOINDEX_JSONP:
        render_json(w, e, n, conf);
        break;
    case PT_AUTOINDEX_XML:
        render_xml(w, e, n);
        break;
    default:
        render_html(w, uri, e, n, conf);
        break;
    }
}

static int
cmp_entries(const void *one, const void *two)
{
    const pt_autoindex_entry_t *a = one, *b = two;
    int                         adir = a->type == PT_AUTOINDEX_DIR;
    int                         bdir = b->type == PT_AUTOINDEX_DIR;
    int                         c;

    if (adir != bdir) {
        return adir ? -1 : 1;
    }
    c = memcmp(a->name.data, b->name.data, pt_min(a->name.len, b->name.len));
    if (c != 0) {
        return c;
    }
    return a->name.len < b->name.len ? -1 : a->name.len > b->name.len;
}

void
pt_autoindex_sort(pt_autoindex_entry_t *entries, pt_uint_t n)
{
    if (n > 1) {
        qsort(entries, n, sizeof(pt_autoindex_entry_t), cmp_entries);
    }
}

pt_buf_t *
pt_autoindex_render(pt_pool_t *pool, const pt_str_t *uri,
                    pt_array_t *entries, const pt_autoindex_conf_t *conf)
{
    writer_t  w = { NULL, 0 };
    pt_buf_t *b;

    pt_autoindex_sort(entries->elts, entries->nelts);

    render(&w, uri, entries->elts, entries->nelts, conf);

    b = pt_buf_create_temp(pool, w.n ? w.n : 1);
    if (b == NULL) {
        return NULL;
    }

    w.p = b->pos;
    w.n = 0;
    render(&w, uri, entries->elts, entries->nelts, conf);
    b->last = b->pos + w.n;
    return b;
}

int
pt_autoindex_callback_ok(const pt_str_t *cb)
{
    size_t i;
    u_char c;

    if (cb->len > PT_AUTOINDEX_CALLBACK_MAX) {
        return 0;
    }
    for (i = 0; i < cb->len; i++) {
        c = cb->data[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.'))
        {
            return 0;
        }
    }
    return 1;
}

void
pt_autoindex_content_type(const pt_autoindex_conf_t *conf, pt_str_t *type,
                          pt_str_t *charset)
{
    charset->len = 0;
    charset->data = NULL;

    switch (conf->format) {
    case PT_AUTOINDEX_JSONP:
        if (conf->callback.len) {
            pt_str_set(type, "application/javascript");
            break;
        }
        /* fall through */
    case PT_AUTOINDEX_JSON:
        pt_str_set(type, "application/json");
        break;
    case PT_AUTOINDEX_XML:
        pt_str_set(type, "text/xml");
        pt_str_set(charset, "utf-8");
        break;
    default:
        pt_str_set(type, "text/html");
        break;
    }
}

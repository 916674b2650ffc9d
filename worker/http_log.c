/*
 * pt_http_log_module: log_format and access_log. A format compiles to
 * literal and variable-index ops; each request is logged once, at its end,
 * to files (one write(2) per line or per buffer), to paths with variables
 * or to syslog. Also $remote_user, which the combined format needs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "common/syslog.h"
#include "common/time.h"
#include "conn.h"
#include "event.h"
#include "http.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"
#include "http_variables.h"
#include "pt_auto.h"
#include "timer.h"

#define LOG_ESCAPE_DEFAULT  0   /* " \ CTL and 8-bit as \xHH; unset: "-" */
#define LOG_ESCAPE_JSON     1   /* JSON string escapes; unset: empty */
#define LOG_ESCAPE_NONE     2   /* as is; unset: empty */

#define LOG_GZIP_BUFFER     (64 * 1024)   /* gzip without buffer= */
#define LOG_ERROR_INTERVAL  60            /* seconds between write alerts */

/* One piece of a format: literal text, or a variable (data NULL). */
typedef struct {
    u_char      *data;
    size_t       len;
    pt_uint_t    index;
} log_op_t;

typedef struct {
    pt_str_t     name;
    pt_uint_t    escape;     /* LOG_ESCAPE_* */
    pt_array_t  *ops;        /* log_op_t; NULL until compiled (combined) */
} log_fmt_t;

/* buffer=: lines of one file collected by a worker. */
typedef struct {
    u_char      *start, *pos, *last;
    pt_event_t  *event;      /* flush= timer, NULL without flush= */
    pt_msec_t    flush;
    int          gzip;       /* compression level, 0: none */
    time_t       error_time; /* of the last alert about a failed write */
} log_buf_t;

/* One access_log directive. Exactly one of file, path and syslog. */
typedef struct {
    pt_open_file_t           *file;
    pt_http_complex_value_t  *path;      /* a path with variables */
    pt_syslog_peer_t         *syslog;
    log_fmt_t                *format;
    pt_http_complex_value_t  *filter;    /* if= */
    time_t                    error_time;
} log_t;

typedef struct {
    pt_array_t  *logs;       /* log_t; NULL: inherited or the default */
    int          off;
} log_loc_conf_t;

typedef struct {
    pt_array_t   formats;    /* log_fmt_t *; [0] is "combined" */
} log_main_conf_t;

static void *create_main_conf(pt_conf_t *cf);
static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_log_format(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_access_log(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static void exit_process(pt_cycle_t *cycle);
static int postconfiguration(pt_conf_t *cf);
static void buffer_flush(pt_open_file_t *file, pt_log_t *log);

static const int notice = 1;

static pt_command_t log_commands[] = {
    { "log_format", PT_CONF_HTTP | PT_CONF_2MORE, set_log_format,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "access_log", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION
      | PT_CONF_IF | PT_CONF_LMT | PT_CONF_1MORE, set_access_log,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "open_log_file_cache", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION
      | PT_CONF_TAKE1234, pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, &notice },
    pt_null_command
};

pt_module_t pt_http_log_module = {
    "http_log", log_commands,
    create_main_conf, NULL, NULL, NULL, create_loc_conf, merge_loc_conf,
    NULL, NULL, exit_process, 0, PT_MODULE_HTTP, postconfiguration
};

static const char combined_text[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\"";

/* ------------------------------------------------------------------ */
/* Formats                                                             */

static int
push_literal(pt_array_t *ops, u_char *data, size_t len)
{
    log_op_t *op;

    if (len == 0) {
        return PT_OK;
    }
    op = ops->nelts ? (log_op_t *) ops->elts + ops->nelts - 1 : NULL;
    if (op != NULL && op->data != NULL && op->data + op->len == data) {
        op->len += len;     /* the rest of the same string */
        return PT_OK;
    }
    op = pt_array_push(ops);
    if (op == NULL) {
        return PT_ERROR;
    }
    op->data = data;
    op->len = len;
    op->index = 0;
    return PT_OK;
}

static int
is_name_char(u_char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '_';
}

/* Compile one string of a format into ops: $name and ${name} become
 * variable indexes (checked once the http block is read). The text must
 * live as long as the configuration. PT_OK or PT_ERROR (logged). */
static int
compile_string(pt_conf_t *cf, pt_array_t *ops, pt_str_t *s)
{
    u_char   *p = s->data, *end = s->data + s->len, *lit = p;
    pt_str_t  name;
    pt_int_t  index;
    log_op_t *op;
    int       bracket;

    while (p < end) {
        if (*p != '$') {
            p++;
            continue;
        }
        if (push_literal(ops, lit, (size_t) (p - lit)) != PT_OK) {
            return PT_ERROR;
        }
        bracket = 0;
        if (++p == end) {
            goto invalid;
        }
        if (*p == '{') {
            bracket = 1;
            if (++p == end) {
                goto invalid;
            }
        }
        name.data = p;
        while (p < end && is_name_char(*p)) {
            p++;
        }
        name.len = (size_t) (p - name.data);
        if (bracket) {
            if (p == end || *p != '}') {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "the closing bracket "
                                  "in \"%.*s\" variable is missing",
                                  (int) name.len, name.data);
                return PT_ERROR;
            }
            p++;
        }
        if (name.len == 0) {
            goto invalid;
        }
        index = pt_http_get_variable_index(cf, &name);
        op = index == PT_ERROR ? NULL : pt_array_push(ops);
        if (op == NULL) {
            return PT_ERROR;
        }
        op->data = NULL;
        op->len = 0;
        op->index = (pt_uint_t) index;
        lit = p;
    }
    return push_literal(ops, lit, (size_t) (p - lit));

invalid:
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                      (int) s->len, s->data);
    return PT_ERROR;
}

/* [escape=default|json|none] STRING...: args[first...] into fmt. */
static int
compile_format(pt_conf_t *cf, log_fmt_t *fmt, pt_str_t *args, pt_uint_t n)
{
    pt_uint_t i = 0;
    pt_str_t  e;

    fmt->escape = LOG_ESCAPE_DEFAULT;
    if (n > 0 && args[0].len >= 7 && memcmp(args[0].data, "escape=", 7) == 0) {
        e.data = args[0].data + 7;
        e.len = args[0].len - 7;
        if (pt_str_eq_cstr(&e, "json")) {
            fmt->escape = LOG_ESCAPE_JSON;
        } else if (pt_str_eq_cstr(&e, "none")) {
            fmt->escape = LOG_ESCAPE_NONE;
        } else if (!pt_str_eq_cstr(&e, "default")) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unknown log format "
                              "escaping \"%.*s\"", (int) e.len, e.data);
            return PT_ERROR;
        }
        i = 1;
    }
    fmt->ops = pt_array_create(cf->pool, 16, sizeof(log_op_t));
    if (fmt->ops == NULL) {
        return PT_ERROR;
    }
    for (; i < n; i++) {
        if (compile_string(cf, fmt->ops, &args[i]) != PT_OK) {
            return PT_ERROR;
        }
    }
    return PT_OK;
}

static void *
create_main_conf(pt_conf_t *cf)
{
    log_main_conf_t  *lmcf = pt_pcalloc(cf->pool, sizeof(log_main_conf_t));
    log_fmt_t        *fmt, **slot;

    if (lmcf == NULL
        || pt_array_init(&lmcf->formats, cf->pool, 4, sizeof(log_fmt_t *))
           != PT_OK)
    {
        return NULL;
    }
    /* compiled when first used: variable indexes need the http context */
    fmt = pt_pcalloc(cf->pool, sizeof(log_fmt_t));
    slot = pt_array_push(&lmcf->formats);
    if (fmt == NULL || slot == NULL) {
        return NULL;
    }
    pt_str_set(&fmt->name, "combined");
    *slot = fmt;
    return lmcf;
}

/* The format called `name`, compiling combined on its first use; NULL
 * when there is none (or on no memory: ops stay NULL then). */
static log_fmt_t *
find_format(pt_conf_t *cf, log_main_conf_t *lmcf, const pt_str_t *name)
{
    log_fmt_t **fmt = lmcf->formats.elts;
    pt_uint_t   i;
    pt_str_t    text;

    for (i = 0; i < lmcf->formats.nelts; i++) {
        if (pt_str_eq(&fmt[i]->name, name)) {
            break;
        }
    }
    if (i == lmcf->formats.nelts) {
        return NULL;
    }
    if (fmt[i]->ops == NULL) {
        pt_str_set(&text, combined_text);
        if (compile_format(cf, fmt[i], &text, 1) != PT_OK) {
            fmt[i]->ops = NULL;
        }
    }
    return fmt[i];
}

static char *
set_log_format(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    log_main_conf_t  *lmcf = conf;
    log_fmt_t       **fmt = lmcf->formats.elts, *f, **slot;
    pt_uint_t         i;

    for (i = 0; i < lmcf->formats.nelts; i++) {
        if (pt_str_eq(&fmt[i]->name, &cf->args[1])) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "duplicate \"log_format\" "
                              "name \"%.*s\"", (int) cf->args[1].len,
                              cf->args[1].data);
            return PT_CONF_ERROR;
        }
    }
    f = pt_pcalloc(cf->pool, sizeof(log_fmt_t));
    slot = pt_array_push(&lmcf->formats);
    if (f == NULL || slot == NULL) {
        return PT_CONF_ERROR;
    }
    f->name = cf->args[1];
    *slot = f;
    if (compile_format(cf, f, &cf->args[2], cf->nargs - 2) != PT_OK) {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* ------------------------------------------------------------------ */
/* access_log                                                          */

/* The target: syslog:..., a path with variables, or a file. */
static char *
set_target(pt_conf_t *cf, log_t *log, pt_str_t *value)
{
    pt_str_t name = *value, args;

    if (pt_syslog_is_target(&name)) {
        args.data = name.data + 7;
        args.len = name.len - 7;
        log->syslog = pt_syslog_parse(cf, &args);
        return log->syslog != NULL ? PT_CONF_OK : PT_CONF_ERROR;
    }
    if (pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix, &name)
        != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    if (memchr(name.data, '$', name.len) != NULL) {
        /* relative paths are under the prefix, as nginx resolves them
         * before the variables (so "$dir/x.log" is too) */
        log->path = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
        if (log->path == NULL
            || pt_http_compile_complex_value(cf, &name, log->path) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
        return PT_CONF_OK;
    }
    log->file = pt_log_open_file(&cf->cycle->open_files, cf->pool, &name);
    return log->file != NULL ? PT_CONF_OK : PT_CONF_ERROR;
}

static void
flush_handler(pt_event_t *ev)
{
    ev->timedout = 0;
    buffer_flush(ev->data, ev->log);
}

/* buffer=/flush=/gzip: one buffer per file, whichever access_log set it
 * first; others naming the file must agree (as nginx). */
static char *
set_buffer(pt_conf_t *cf, log_t *log, size_t size, pt_msec_t flush, int gzip)
{
    log_buf_t *buf;

    if (log->path != NULL || log->syslog != NULL) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s", log->path != NULL
                          ? "buffered logs cannot have variables in name"
                          : "logs to syslog cannot be buffered");
        return PT_CONF_ERROR;
    }
    if (log->file->data != NULL) {
        buf = log->file->data;
        if ((size_t) (buf->last - buf->start) != size || buf->flush != flush
            || buf->gzip != gzip)
        {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "access_log \"%.*s\" "
                              "already defined with conflicting parameters",
                              (int) cf->args[1].len, cf->args[1].data);
            return PT_CONF_ERROR;
        }
        return PT_CONF_OK;
    }
    buf = pt_pcalloc(cf->pool, sizeof(log_buf_t));
    if (buf == NULL || (buf->start = pt_pnalloc(cf->pool, size)) == NULL) {
        return PT_CONF_ERROR;
    }
    buf->pos = buf->start;
    buf->last = buf->start + size;
    buf->flush = flush;
    buf->gzip = gzip;
    if (flush) {
        buf->event = pt_pcalloc(cf->pool, sizeof(pt_event_t));
        if (buf->event == NULL) {
            return PT_CONF_ERROR;
        }
        buf->event->data = log->file;
        buf->event->handler = flush_handler;
        buf->event->log = &cf->cycle->new_log;
        buf->event->cancelable = 1;
    }
    log->file->flush = buffer_flush;
    log->file->data = buf;
    return PT_CONF_OK;
}

/* "<what> "<v>"" in file:line; returns PT_CONF_ERROR. */
static char *
invalid(pt_conf_t *cf, const char *what, const pt_str_t *v)
{
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s \"%.*s\"", what, (int) v->len,
                      v->data);
    return PT_CONF_ERROR;
}

/* The parameters after the format: buffer=, flush=, gzip[=], if=. */
static char *
set_params(pt_conf_t *cf, log_t *log, ssize_t *size, pt_int_t *flush,
           pt_int_t *gzip)
{
    pt_str_t   s;
    pt_uint_t  i;

    for (i = 3; i < cf->nargs; i++) {
        s = cf->args[i];
        if (s.len > 7 && memcmp(s.data, "buffer=", 7) == 0) {
            s.data += 7;
            s.len -= 7;
            *size = pt_parse_size(&s);
            if (*size == PT_ERROR) {
                return invalid(cf, "invalid buffer size", &s);
            }
        } else if (s.len > 6 && memcmp(s.data, "flush=", 6) == 0) {
            s.data += 6;
            s.len -= 6;
            *flush = pt_parse_time(&s, 0);
            if (*flush == PT_ERROR || *flush == 0) {
                return invalid(cf, "invalid flush time", &s);
            }
        } else if (s.len >= 4 && memcmp(s.data, "gzip", 4) == 0
                   && (s.len == 4 || s.data[4] == '='))
        {
            if (*size == 0) {
                *size = LOG_GZIP_BUFFER;
            }
            *gzip = Z_BEST_SPEED;
            if (s.len > 4) {
                s.data += 5;
                s.len -= 5;
                *gzip = pt_atoi(s.data, s.len);
                if (*gzip < 1 || *gzip > 9) {
                    return invalid(cf, "invalid compression level", &s);
                }
            }
        } else if (s.len > 3 && memcmp(s.data, "if=", 3) == 0) {
            s.data += 3;
            s.len -= 3;
            log->filter = pt_pcalloc(cf->pool,
                                     sizeof(pt_http_complex_value_t));
            if (log->filter == NULL
                || pt_http_compile_complex_value(cf, &s, log->filter) != PT_OK)
            {
                return PT_CONF_ERROR;
            }
        } else {
            return invalid(cf, "invalid parameter", &s);
        }
    }
    return PT_CONF_OK;
}

/* access_log off | PATH [FORMAT [buffer=SIZE] [gzip[=LEVEL]] [flush=TIME]
 * [if=COND]] | syslog:... [FORMAT [if=COND]] */
static char *
set_access_log(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    log_loc_conf_t   *llcf = conf;
    log_main_conf_t  *lmcf;
    log_t            *log;
    pt_str_t         *value = cf->args, name;
    ssize_t           size = 0;
    pt_int_t          flush = 0, gzip = 0;
    char             *rv;

    if (pt_str_eq_cstr(&value[1], "off")) {
        llcf->off = 1;
        if (cf->nargs == 2) {
            return PT_CONF_OK;
        }
        return invalid(cf, "invalid parameter", &value[2]);
    }
    if (llcf->logs == NULL) {
        llcf->logs = pt_array_create(cf->pool, 2, sizeof(log_t));
        if (llcf->logs == NULL) {
            return PT_CONF_ERROR;
        }
    }
    log = pt_array_push(llcf->logs);
    if (log == NULL) {
        return PT_CONF_ERROR;
    }
    memset(log, 0, sizeof(log_t));
    rv = set_target(cf, log, &value[1]);
    if (rv != PT_CONF_OK) {
        return rv;
    }

    lmcf = pt_http_conf_get_module_main_conf(cf, pt_http_log_module);
    pt_str_set(&name, "combined");
    if (cf->nargs >= 3) {
        name = value[2];
    }
    log->format = find_format(cf, lmcf, &name);
    if (log->format == NULL) {
        return invalid(cf, "unknown log format", &name);
    }
    if (log->format->ops == NULL) {
        return PT_CONF_ERROR;
    }

    rv = set_params(cf, log, &size, &flush, &gzip);
    if (rv != PT_CONF_OK) {
        return rv;
    }
    if (flush && size == 0) {
        return invalid(cf, "no buffer is defined for access_log", &value[1]);
    }
    if (size > 0) {
        return set_buffer(cf, log, (size_t) size, (pt_msec_t) flush,
                          (int) gzip);
    }
    return PT_CONF_OK;
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    return pt_pcalloc(cf->pool, sizeof(log_loc_conf_t));
}

/* A level with its own access_log (or "off") keeps it; others inherit the
 * parent's; with none anywhere above, logs/access.log in combined. */
static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    log_loc_conf_t   *prev = parent, *conf = child;
    log_main_conf_t  *lmcf;
    log_t            *log;
    pt_str_t          name;

    if (conf->logs != NULL || conf->off) {
        return PT_CONF_OK;
    }
    conf->logs = prev->logs;
    conf->off = prev->off;
    if (conf->logs != NULL || conf->off) {
        return PT_CONF_OK;
    }

    conf->logs = pt_array_create(cf->pool, 1, sizeof(log_t));
    log = conf->logs ? pt_array_push(conf->logs) : NULL;
    if (log == NULL) {
        return PT_CONF_ERROR;
    }
    memset(log, 0, sizeof(log_t));
    pt_str_set(&name, PT_HTTP_LOG_PATH);
    if (pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix, &name)
        != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    log->file = pt_log_open_file(&cf->cycle->open_files, cf->pool, &name);
    lmcf = pt_http_conf_get_module_main_conf(cf, pt_http_log_module);
    pt_str_set(&name, "combined");
    log->format = find_format(cf, lmcf, &name);
    if (log->file == NULL || log->format->ops == NULL) {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */

/* nginx's escape=json: " \ and CTL as JSON escapes, \u00XX in upper
 * case; other bytes as they are. With dst NULL, only the length. */
static size_t
json_escape(u_char *dst, const u_char *src, size_t n)
{
    static const u_char  hex[] = "0123456789ABCDEF";
    size_t               len = 0, i;
    u_char               c, e;

    for (i = 0; i < n; i++) {
        c = src[i];
        switch (c) {
        case '"': e = '"'; break;
        case '\\': e = '\\'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        case '\b': e = 'b'; break;
        case '\f': e = 'f'; break;
        default: e = c < 0x20 ? 'u' : 0; break;
        }
        if (e == 0) {
            if (dst) {
                dst[len] = c;
            }
            len++;
        } else if (e != 'u') {
            if (dst) {
                dst[len] = '\\';
                dst[len + 1] = e;
            }
            len += 2;
        } else {
            if (dst) {
                memcpy(dst + len, "\\u00", 4);
                dst[len + 4] = hex[c >> 4];
                dst[len + 5] = hex[c & 0xf];
            }
            len += 6;
        }
    }
    return len;
}

/* The bytes a variable's value takes in a line. */
static size_t
value_len(const pt_http_variable_value_t *v, pt_uint_t escape)
{
    if (v->not_found || !v->valid) {
        return escape == LOG_ESCAPE_DEFAULT ? 1 : 0;
    }
    switch (escape) {
    case LOG_ESCAPE_DEFAULT:
        return pt_http_escape(NULL, v->data, v->len, PT_HTTP_ESCAPE_LOG);
    case LOG_ESCAPE_JSON:
        return json_escape(NULL, v->data, v->len);
    default:
        return v->len;
    }
}

static u_char *
value_write(u_char *p, const pt_http_variable_value_t *v, pt_uint_t escape)
{
    if (v->not_found || !v->valid) {
        if (escape == LOG_ESCAPE_DEFAULT) {
            *p++ = '-';
        }
        return p;
    }
    switch (escape) {
    case LOG_ESCAPE_DEFAULT:
        return p + pt_http_escape(p, v->data, v->len, PT_HTTP_ESCAPE_LOG);
    case LOG_ESCAPE_JSON:
        return p + json_escape(p, v->data, v->len);
    default:
        memcpy(p, v->data, v->len);
        return p + v->len;
    }
}

/* Evaluate the format's variables into vals (one slot per op, copies:
 * a no_cacheable variable used twice may change between uses); returns
 * the length of the line without its newline, or (size_t) -1. */
static size_t
evaluate(pt_http_request_t *r, log_fmt_t *fmt, pt_http_variable_value_t **out)
{
    log_op_t                  *op = fmt->ops->elts;
    pt_uint_t                  i, n = fmt->ops->nelts;
    pt_http_variable_value_t  *vals, *v;
    size_t                     len = 0;

    vals = pt_pcalloc(r->pool, (n + 1) * sizeof(pt_http_variable_value_t));
    if (vals == NULL) {
        return (size_t) -1;
    }
    for (i = 0; i < n; i++) {
        if (op[i].data != NULL) {
            len += op[i].len;
            continue;
        }
        v = pt_http_get_flushed_variable(r, op[i].index);
        if (v != NULL) {
            vals[i] = *v;
        } else {
            vals[i].not_found = 1;   /* a failed variable logs as unset */
        }
        len += value_len(&vals[i], fmt->escape);
    }
    *out = vals;
    return len;
}

/* Write the line evaluate() measured at p; returns its end. */
static u_char *
render(u_char *p, log_fmt_t *fmt, const pt_http_variable_value_t *vals)
{
    log_op_t  *op = fmt->ops->elts;
    pt_uint_t  i;

    for (i = 0; i < fmt->ops->nelts; i++) {
        if (op[i].data != NULL) {
            memcpy(p, op[i].data, op[i].len);
            p += op[i].len;
        } else {
            p = value_write(p, &vals[i], fmt->escape);
        }
    }
    return p;
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

/* Compress buf as one gzip member and write it (members concatenate into
 * a valid .gz file). Returns len when all was written, else -1 (errno) or
 * the short count of compressed bytes. */
static ssize_t
gzip_write(int fd, u_char *buf, size_t len, int level, pt_log_t *log)
{
    z_stream  zs;
    u_char   *out;
    size_t    size;
    ssize_t   n;

    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, level, Z_DEFLATED, MAX_WBITS + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
    {
        pt_log_error(PT_LOG_ALERT, log, 0, "deflateInit2() failed");
        errno = ENOMEM;
        return -1;
    }
    size = deflateBound(&zs, (uLong) len);
    /* transient: freed below, before returning (pools have no free) */
    out = malloc(size);
    if (out == NULL) {
        (void) deflateEnd(&zs);
        errno = ENOMEM;
        return -1;
    }
    zs.next_in = buf;
    zs.avail_in = (uInt) len;
    zs.next_out = out;
    zs.avail_out = (uInt) size;
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
        pt_log_error(PT_LOG_ALERT, log, 0, "deflate() failed");
        n = -1;
        errno = EIO;
    } else {
        size -= zs.avail_out;
        n = write(fd, out, size);
        n = n == (ssize_t) size ? (ssize_t) len : n;
    }
    (void) deflateEnd(&zs);
    free(out);
    return n;
}

/* Alert about a failed write, at most once a minute per log. */
static void
write_failed(pt_log_t *log, time_t *last, const u_char *name, ssize_t n,
             size_t len, int err)
{
    time_t now = pt_time_sec;

    if (now - *last < LOG_ERROR_INTERVAL) {
        return;
    }
    *last = now;
    if (n == -1) {
        pt_log_error(PT_LOG_ALERT, log, err, "write() to \"%s\" failed",
                     name);
    } else {
        pt_log_error(PT_LOG_ALERT, log, 0, "write() to \"%s\" was "
                     "incomplete: %zd of %zu", name, n, len);
    }
}

static ssize_t
file_write(pt_open_file_t *file, u_char *buf, size_t len, pt_log_t *log)
{
    log_buf_t *lb = file->data;

    if (lb != NULL && lb->gzip) {
        return gzip_write(file->fd, buf, len, lb->gzip, log);
    }
    return write(file->fd, buf, len);
}

/* pt_open_file_t.flush: write out a worker's buffered lines (one write),
 * before a reopen, at exit, when the buffer fills or flush= passes. */
static void
buffer_flush(pt_open_file_t *file, pt_log_t *log)
{
    log_buf_t *lb = file->data;
    size_t     len = (size_t) (lb->pos - lb->start);
    ssize_t    n;

    if (len == 0) {
        return;
    }
    if (lb->event != NULL && lb->event->timer_set) {
        pt_timer_del(lb->event);
    }
    n = file_write(file, lb->start, len, log);
    if (n != (ssize_t) len) {
        write_failed(log, &lb->error_time, file->name.data, n, len, errno);
    }
    lb->pos = lb->start;
}

/* A path with variables: the file is opened and closed for each line, as
 * nginx does without open_log_file_cache. As nginx, nothing is logged
 * while the location's root does not exist (a request for a mistyped
 * host must not create logs in its name). Returns what write(2) did, or
 * len when the line is dropped on purpose. */
static ssize_t
path_write(pt_http_request_t *r, log_t *log, u_char *buf, size_t len,
           u_char **name)
{
    pt_str_t     path, root;
    size_t       root_len;
    struct stat  st;
    ssize_t      n;
    int          fd, err;

    if (!r->root_tested) {
        if (pt_http_map_uri_to_path(r, &root, &root_len, 0) == NULL) {
            return (ssize_t) len;
        }
        root.data[root_len] = '\0';
        err = stat((char *) root.data, &st) == -1 ? errno
              : !S_ISDIR(st.st_mode) ? ENOTDIR : 0;
        if (err != 0) {
            pt_log_error(PT_LOG_ERR, r->connection->log, err,
                         "testing \"%s\" existence failed", root.data);
            return (ssize_t) len;
        }
    }
    if (pt_http_complex_value(r, log->path, &path) != PT_OK) {
        return (ssize_t) len;
    }
    *name = pt_pstrdup(r->pool, &path);   /* NUL-terminated copy */
    if (*name == NULL) {
        return (ssize_t) len;
    }
    fd = open((char *) *name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
              0644);
    if (fd == -1) {
        pt_log_error(PT_LOG_CRIT, r->connection->log, errno,
                     "open() \"%s\" failed", *name);
        return (ssize_t) len;
    }
    n = write(fd, buf, len);
    err = errno;
    (void) close(fd);
    errno = err;
    return n;
}

static void
line_write(pt_http_request_t *r, log_t *log, u_char *buf, size_t len)
{
    u_char  *name;
    ssize_t  n;

    if (log->path != NULL) {
        name = (u_char *) "";
        n = path_write(r, log, buf, len, &name);
    } else {
        name = log->file->name.data;
        n = file_write(log->file, buf, len, r->connection->log);
    }
    if (n != (ssize_t) len) {
        write_failed(r->connection->log, &log->error_time, name, n, len,
                     errno);
    }
}

/* One line of one access_log: into the file's buffer when there is one
 * and the line fits, else written (or sent) whole at once. */
static void
log_line(pt_http_request_t *r, log_t *log)
{
    pt_http_variable_value_t *vals;
    log_buf_t                *lb;
    u_char                   *line, *p;
    size_t                    len;

    len = evaluate(r, log->format, &vals);
    if (len == (size_t) -1) {
        return;
    }
    if (log->syslog != NULL) {
        line = pt_pnalloc(r->pool, pt_syslog_header_len(log->syslog) + len
                                   + 1);
        if (line == NULL) {
            return;
        }
        p = pt_syslog_add_header(log->syslog, line, log->syslog->severity);
        p = render(p, log->format, vals);
        (void) pt_syslog_send(log->syslog, line, (size_t) (p - line));
        return;
    }

    len++;   /* the newline */
    lb = log->file != NULL ? log->file->data : NULL;
    if (lb != NULL) {
        if (len > (size_t) (lb->last - lb->pos)) {
            buffer_flush(log->file, r->connection->log);
        }
        if (len <= (size_t) (lb->last - lb->pos)) {
            if (lb->event != NULL && lb->pos == lb->start) {
                pt_timer_add(lb->event, lb->flush);
            }
            p = render(lb->pos, log->format, vals);
            *p++ = '\n';
            lb->pos = p;
            return;
        }
    }
    line = pt_pnalloc(r->pool, len);
    if (line == NULL) {
        return;
    }
    p = render(line, log->format, vals);
    *p++ = '\n';
    line_write(r, log, line, (size_t) (p - line));
}

/* The log phase handler: every access_log of the request's location. */
static int
log_handler(pt_http_request_t *r)
{
    log_loc_conf_t *llcf = pt_http_get_module_loc_conf(r, pt_http_log_module);
    log_t          *log;
    pt_str_t        val;
    pt_uint_t       i;

    if (llcf->off || llcf->logs == NULL) {
        return PT_OK;
    }
    if (r != r->main && !pt_http_core_loc_conf(r)->log_subrequest) {
        return PT_OK;
    }
    log = llcf->logs->elts;
    for (i = 0; i < llcf->logs->nelts; i++) {
        if (log[i].filter != NULL) {
            if (pt_http_complex_value(r, log[i].filter, &val) != PT_OK) {
                return PT_ERROR;
            }
            if (val.len == 0 || (val.len == 1 && val.data[0] == '0')) {
                continue;
            }
        }
        log_line(r, &log[i]);
    }
    return PT_OK;
}

static void
exit_process(pt_cycle_t *cycle)
{
    pt_open_file_t **f = cycle->open_files.elts;
    pt_uint_t        i;

    for (i = 0; i < cycle->open_files.nelts; i++) {
        if (f[i]->flush == buffer_flush) {
            buffer_flush(f[i], cycle->log);
        }
    }
}

/* ------------------------------------------------------------------ */
/* $remote_user                                                        */

/* Decode base64 (standard alphabet) up to the first "=" as nginx does;
 * returns the decoded length or (size_t) -1 on a bad character. */
static size_t
base64_decode(u_char *dst, const u_char *src, size_t n)
{
    static const char  alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t           acc = 0;
    size_t             i, len = 0, bits = 0;
    const char        *c;

    for (i = 0; i < n && src[i] != '='; i++) {
        c = src[i] ? strchr(alphabet, src[i]) : NULL;
        if (c == NULL) {
            return (size_t) -1;
        }
        acc = (acc << 6) | (uint32_t) (c - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[len++] = (u_char) (acc >> bits);
        }
    }
    return i % 4 == 1 ? (size_t) -1 : len;
}

/* The user of "Authorization: Basic": unset without one, or when it does
 * not decode to "user:password" with a non-empty user. */
static int
var_remote_user(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_table_elt_t *h = r->headers_in.authorization;
    u_char         *p, *dst, *colon;
    size_t          len, n;

    v->valid = 0;
    v->not_found = 1;
    if (h == NULL || h->value.len < 6
        || pt_strncasecmp(h->value.data, (u_char *) "Basic ", 6) != 0)
    {
        return PT_OK;
    }
    p = h->value.data + 6;
    len = h->value.len - 6;
    while (len > 0 && *p == ' ') {
        p++;
        len--;
    }
    dst = pt_pnalloc(r->pool, len / 4 * 3 + 3);
    if (dst == NULL) {
        return PT_ERROR;
    }
    n = len > 0 ? base64_decode(dst, p, len) : (size_t) -1;
    colon = n != (size_t) -1 ? memchr(dst, ':', n) : NULL;
    if (colon == NULL || colon == dst) {
        return PT_OK;
    }
    v->data = dst;
    v->len = (unsigned) (colon - dst);
    v->valid = 1;
    v->not_found = 0;
    v->no_cacheable = 0;
    return PT_OK;
}

/* Register the log phase handler and $remote_user (nginx has it in its
 * core variables; here until auth_basic lives beside it). */
static int
postconfiguration(pt_conf_t *cf)
{
    pt_http_variable_t *v;
    pt_str_t            name;

    pt_str_set(&name, "remote_user");
    v = pt_http_add_variable(cf, &name, 0);
    if (v == NULL) {
        return PT_ERROR;
    }
    v->get_handler = var_remote_user;
    return pt_http_add_phase_handler(cf, PT_HTTP_LOG_PHASE, log_handler);
}

/*
 * The rewrite module: rewrite, return, set, break and if, compiled per
 * server or location into a list of ops run in order, at the server-rewrite
 * phase for the server's own and at the rewrite phase for a location's;
 * they are not inherited. An "if" in a location has a conf of its own that
 * becomes the request's when the condition holds (http_rewrite_if.c has
 * the conditions and makes the block's confs).
 */
#include <string.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "http_rewrite_if.h"
#include "http_script.h"
#include "http_variables.h"

#define OP_REWRITE  0
#define OP_RETURN   1
#define OP_SET      2
#define OP_BREAK    3
#define OP_IF       4

typedef struct {
    pt_uint_t   type;
    pt_uint_t   next;        /* OP_IF: the op after its block */
    void       *data;        /* rewrite_t, return_t, set_t or if_t */
} rewrite_op_t;

typedef struct {
    pt_array_t *ops;         /* rewrite_op_t; an "if" block inside adds to
                                its parent's while it is read */
    int         log;         /* rewrite_log */
    int         uninitialized_variable_warn;
} rewrite_loc_conf_t;

/* Parts of a rewrite replacement. */
#define PART_LITERAL  PT_HTTP_PART_LITERAL
#define PART_VAR      PT_HTTP_PART_VAR
#define PART_CAPTURE  PT_HTTP_PART_CAPTURE
#define PART_ARGS     PT_HTTP_PART_USER  /* the "?" starting new arguments */

typedef pt_http_script_part_t part_t;

typedef struct {
    pt_http_regex_t  regex;
    part_t          *parts;
    pt_uint_t        nparts;
    pt_uint_t        status;        /* 301 or 302 for a redirect, else 0 */
    unsigned         break_cycle:1; /* "break" flag */
    unsigned         stop:1;        /* any flag: no more ops after a match */
    unsigned         add_args:1;    /* no trailing "?": keep the old args */
    unsigned         args:1;        /* a "?" in the replacement */
} rewrite_t;

typedef struct {
    pt_uint_t                 code;
    pt_http_complex_value_t  *text;     /* NULL: none */
} return_t;

typedef struct {
    pt_uint_t                 index;
    pt_http_set_variable_pt   set_handler;   /* NULL: r->variables */
    uintptr_t                 data;
    pt_http_complex_value_t   value;
} set_t;

typedef struct {
    pt_http_rewrite_cond_t   *cond;
    void                    **loc_conf;      /* NULL at the server level */
} if_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *prev, void *conf);
static char *set_rewrite(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_return(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_break(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_set(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_if(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

#define REWRITE_CTX  (PT_CONF_SERVER | PT_CONF_LOCATION | PT_CONF_IF)

static pt_command_t rewrite_commands[] = {
    { "rewrite", REWRITE_CTX | PT_CONF_TAKE23, set_rewrite,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "return", REWRITE_CTX | PT_CONF_TAKE12, set_return,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "break", REWRITE_CTX | PT_CONF_NOARGS, set_break,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "set", REWRITE_CTX | PT_CONF_TAKE2, set_set,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "if", PT_CONF_SERVER | PT_CONF_LOCATION | PT_CONF_BLOCK
      | PT_CONF_1MORE, set_if, PT_CONF_LOC_OFFSET, 0, NULL },
    { "rewrite_log", PT_CONF_HTTP | REWRITE_CTX | PT_CONF_FLAG,
      pt_conf_set_flag, PT_CONF_LOC_OFFSET,
      offsetof(rewrite_loc_conf_t, log), NULL },
    { "uninitialized_variable_warn", PT_CONF_HTTP | REWRITE_CTX
      | PT_CONF_FLAG, pt_conf_set_flag, PT_CONF_LOC_OFFSET,
      offsetof(rewrite_loc_conf_t, uninitialized_variable_warn), NULL },
    pt_null_command
};

pt_module_t pt_http_rewrite_module = {
    "http_rewrite", rewrite_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static void *
create_loc_conf(pt_conf_t *cf)
{
    rewrite_loc_conf_t *rlcf = pt_pcalloc(cf->pool, sizeof(*rlcf));

    if (rlcf != NULL) {
        rlcf->log = PT_CONF_UNSET;
        rlcf->uninitialized_variable_warn = PT_CONF_UNSET;
    }
    return rlcf;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *prev, void *conf)
{
    rewrite_loc_conf_t *p = prev, *c = conf;

    pt_conf_merge_value(c->log, p->log, 0);
    pt_conf_merge_value(c->uninitialized_variable_warn,
                        p->uninitialized_variable_warn, 1);
    return PT_CONF_OK;
}

/* A new op at the end of the level's list (created on first use). */
static rewrite_op_t *
add_op(pt_conf_t *cf, rewrite_loc_conf_t *rlcf, pt_uint_t type, void *data)
{
    rewrite_op_t *op;

    if (rlcf->ops == NULL) {
        rlcf->ops = pt_array_create(cf->pool, 4, sizeof(rewrite_op_t));
        if (rlcf->ops == NULL) {
            return NULL;
        }
    }
    op = pt_array_push(rlcf->ops);
    if (op != NULL) {
        op->type = type;
        op->next = 0;
        op->data = data;
    }
    return op;
}

static int
is_url(const pt_str_t *v)
{
    return (v->len >= 7 && memcmp(v->data, "http://", 7) == 0)
           || (v->len >= 8 && memcmp(v->data, "https://", 8) == 0)
           || (v->len >= 7 && memcmp(v->data, "$scheme", 7) == 0);
}

/* ------------------------------------------------------------------ */
/* rewrite: compilation                                                */

/* Split the replacement into parts. The first "?" of its text starts the
 * new arguments, unless the rewrite is a redirect (then it is text, but
 * still means the old arguments are joined with "&"). */
static int
compile_replacement(pt_conf_t *cf, rewrite_t *rw, pt_str_t *v)
{
    pt_array_t  parts;
    size_t      i = 0, lit = 0;
    int         args_part = rw->status == 0;

    if (pt_array_init(&parts, cf->pool, 4, sizeof(part_t)) != PT_OK) {
        return PT_ERROR;
    }
    while (i < v->len) {
        if (v->data[i] == '?') {
            rw->args = 1;
            if (args_part) {
                args_part = 0;
                if (pt_http_script_add_part(&parts, PART_LITERAL, 0, v->data + lit, i - lit)
                    != PT_OK
                    || pt_http_script_add_part(&parts, PART_ARGS, 0, NULL, 0) != PT_OK)
                {
                    return PT_ERROR;
                }
                lit = i + 1;
            }
            i++;
            continue;
        }
        if (v->data[i] != '$') {
            i++;
            continue;
        }
        if (pt_http_script_add_part(&parts, PART_LITERAL, 0, v->data + lit, i - lit)
            != PT_OK)
        {
            return PT_ERROR;
        }
        i++;
        if (pt_http_script_compile_variable(cf, v, &i, &parts) != PT_OK) {
            return PT_ERROR;
        }
        lit = i;
    }
    if (pt_http_script_add_part(&parts, PART_LITERAL, 0, v->data + lit, i - lit) != PT_OK) {
        return PT_ERROR;
    }
    rw->parts = parts.elts;
    rw->nparts = parts.nelts;
    return PT_OK;
}

/* rewrite REGEX REPLACEMENT [last|break|redirect|permanent] */
static char *
set_rewrite(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    rewrite_loc_conf_t *rlcf = conf;
    rewrite_t          *rw;
    pt_str_t            repl = cf->args[2], *flag = &cf->args[3];

    rw = pt_pcalloc(cf->pool, sizeof(*rw));
    if (rw == NULL || add_op(cf, rlcf, OP_REWRITE, rw) == NULL) {
        return PT_CONF_ERROR;
    }
    if (repl.len == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "empty replacement");
        return PT_CONF_ERROR;
    }
    if (pt_http_regex_compile(cf, &rw->regex, &cf->args[1], 0) != PT_OK) {
        return PT_CONF_ERROR;
    }
    if (repl.data[repl.len - 1] == '?') {
        repl.len--;    /* the last "?" drops the original arguments */
    } else {
        rw->add_args = 1;
    }
    if (is_url(&repl)) {
        rw->status = PT_HTTP_MOVED_TEMPORARILY;
        rw->stop = 1;
    }
    if (cf->nargs == 4) {
        if (pt_str_eq_cstr(flag, "last")) {
            rw->stop = 1;
        } else if (pt_str_eq_cstr(flag, "break")) {
            rw->break_cycle = 1;
            rw->stop = 1;
        } else if (pt_str_eq_cstr(flag, "redirect")) {
            rw->status = PT_HTTP_MOVED_TEMPORARILY;
            rw->stop = 1;
        } else if (pt_str_eq_cstr(flag, "permanent")) {
            rw->status = PT_HTTP_MOVED_PERMANENTLY;
            rw->stop = 1;
        } else {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter "
                              "\"%.*s\"", (int) flag->len, flag->data);
            return PT_CONF_ERROR;
        }
    }
    return compile_replacement(cf, rw, &repl) == PT_OK ? PT_CONF_OK
                                                       : PT_CONF_ERROR;
}

/* ------------------------------------------------------------------ */
/* rewrite: run time                                                   */

static int
hex_value(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c |= 0x20;
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Unescape a redirect in place as nginx does: %XX of a printable byte
 * above "%" is decoded, other escapes stay; a malformed escape is
 * dropped; from the first "?" on (arguments) nothing changes. Returns the
 * new length. */
static size_t
unescape_redirect(u_char *buf, size_t len)
{
    u_char *s = buf, *d = buf, *end = buf + len;
    int     hi, lo, ch;

    while (s < end) {
        ch = *s++;
        if (ch == '?') {
            *d++ = '?';
            break;
        }
        if (ch != '%') {
            *d++ = (u_char) ch;
            continue;
        }
        if (s == end) {
            break;
        }
        hi = hex_value(*s);
        if (hi < 0) {
            *d++ = *s++;              /* "%" dropped, the byte kept */
            continue;
        }
        if (++s == end) {
            break;
        }
        lo = hex_value(*s++);
        if (lo < 0) {
            continue;                 /* "%Xz" dropped whole */
        }
        ch = hi * 16 + lo;
        if (ch == '?') {
            *d++ = '?';
            break;
        }
        if (ch > '%' && ch < 0x7f) {
            *d++ = (u_char) ch;
        } else {
            d[0] = '%';
            d[1] = s[-2];
            d[2] = s[-1];
            d += 3;
        }
    }
    if (s < end) {
        memmove(d, s, (size_t) (end - s));
        d += end - s;
    }
    return (size_t) (d - buf);
}

/* The value of one part into *s; returns its length once written, which
 * grows when a capture is escaped. */
static size_t
part_value(pt_http_request_t *r, part_t *p, int escape, pt_str_t *s)
{
    pt_http_variable_value_t *vv;
    pt_uint_t                 n;

    s->len = 0;
    s->data = NULL;
    switch (p->type) {
    case PART_LITERAL:
        *s = p->text;
        return s->len;
    case PART_VAR:
        vv = pt_http_get_flushed_variable(r, p->n);
        if (vv != NULL && !vv->not_found) {
            s->data = vv->data;
            s->len = vv->len;
        }
        return s->len;
    case PART_CAPTURE:
        n = p->n * 2;
        if (n < r->ncaptures && r->captures[n] >= 0) {
            s->data = r->captures_data + r->captures[n];
            s->len = (size_t) (r->captures[n + 1] - r->captures[n]);
        }
        return escape ? pt_http_escape(NULL, s->data, s->len,
                                       PT_HTTP_ESCAPE_ARGS)
                      : s->len;
    default:
        return 0;
    }
}

/* Build the replacement into one allocation with room for the old
 * arguments. *args_at: where the new arguments start, or NULL. Captures
 * are escaped (as arguments) in a redirect or after the "?", when the
 * URI they come from was %-decoded. */
static int
build_replacement(pt_http_request_t *r, rewrite_t *rw, pt_str_t *out,
                  u_char **args_at)
{
    pt_str_t   *vals;
    size_t      len = 0, n;
    int         quoted = r->quoted_uri || r->plus_in_uri;
    int         escape = quoted && rw->status != 0;
    pt_uint_t   i;
    u_char     *d;

    vals = pt_palloc(r->pool, rw->nparts * sizeof(pt_str_t) + 1);
    if (vals == NULL) {
        return PT_ERROR;
    }
    /* each value is taken once: both passes see the same bytes */
    for (i = 0; i < rw->nparts; i++) {
        len += part_value(r, &rw->parts[i], escape, &vals[i]);
        if (rw->parts[i].type == PART_ARGS) {
            escape = quoted;
        }
    }
    if (rw->add_args) {
        len += r->args.len + 1;
    }
    d = pt_pnalloc(r->pool, len ? len : 1);
    if (d == NULL) {
        return PT_ERROR;
    }
    out->data = d;
    *args_at = NULL;
    escape = quoted && rw->status != 0;
    for (i = 0; i < rw->nparts; i++) {
        n = vals[i].len;
        if (rw->parts[i].type == PART_ARGS) {
            *args_at = d;
            escape = quoted;
        } else if (rw->parts[i].type == PART_CAPTURE && escape) {
            d += pt_http_escape(d, vals[i].data, n, PT_HTTP_ESCAPE_ARGS);
        } else if (n > 0) {
            memcpy(d, vals[i].data, n);
            d += n;
        }
    }
    out->len = (size_t) (d - out->data);
    return PT_OK;
}

/* A redirect: Location is the replacement, unescaped, with the old
 * arguments unless dropped. Returns the status to answer with. */
static int
rewrite_redirect(pt_http_request_t *r, rewrite_t *rw, pt_str_t *v, int log)
{
    pt_str_t        key = pt_string("Location");
    pt_table_elt_t *h;

    v->len = unescape_redirect(v->data, v->len);
    if (rw->add_args && r->args.len) {
        v->data[v->len++] = rw->args ? '&' : '?';
        memcpy(v->data + v->len, r->args.data, r->args.len);
        v->len += r->args.len;
    }
    if (log) {
        pt_log_error(PT_LOG_NOTICE, pt_http_request_log(r), 0,
                     "rewritten redirect: \"%.*s\"", (int) v->len, v->data);
    }
    pt_http_clear_location(r);
    h = pt_http_add_header_out(r, &key, v);
    if (h == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->headers_out.location = h;
    return (int) rw->status;
}

/* A new URI (and maybe arguments) for the request. */
static int
rewrite_uri(pt_http_request_t *r, rewrite_t *rw, pt_str_t *v,
            u_char *args_at, int log)
{
    u_char *end = v->data + v->len;

    if (args_at != NULL) {
        v->len = (size_t) (args_at - v->data);
        if (rw->add_args && r->args.len) {
            *end++ = '&';
            memcpy(end, r->args.data, r->args.len);
            end += r->args.len;
        }
        r->args.data = args_at;
        r->args.len = (size_t) (end - args_at);
    } else if (!rw->add_args) {
        r->args.len = 0;
    }
    if (log) {
        pt_log_error(PT_LOG_NOTICE, pt_http_request_log(r), 0,
                     "rewritten data: \"%.*s\", args: \"%.*s\"",
                     (int) v->len, v->data, (int) r->args.len, r->args.data);
    }
    if (v->len == 0) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0,
                     "the rewritten URI has a zero length");
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->uri = *v;
    pt_http_set_exten(r);
    return PT_DECLINED;
}

/* Match r->uri and rewrite it. Returns PT_DECLINED to go on (*stop set
 * after a match with a flag), or the status to finalize with. */
static int
run_rewrite(pt_http_request_t *r, rewrite_t *rw, int log, int *stop)
{
    pt_str_t  uri = r->uri, v;
    u_char   *args_at;
    int       rc;

    rc = pt_http_regex_exec(r, &rw->regex, &uri);
    if (rc == PT_ERROR) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (log) {
        pt_log_error(PT_LOG_NOTICE, pt_http_request_log(r), 0,
                     "\"%.*s\" %s \"%.*s\"", (int) rw->regex.name.len,
                     rw->regex.name.data,
                     rc == PT_OK ? "matches" : "does not match",
                     (int) uri.len, uri.data);
    }
    if (rc == PT_DECLINED) {
        r->ncaptures = 0;
        return PT_DECLINED;
    }

    r->internal = 1;
    r->valid_unparsed_uri = 0;
    if (rw->break_cycle) {
        r->valid_location = 0;
        r->uri_changed = 0;
    } else {
        r->uri_changed = 1;
    }
    *stop = rw->stop;

    if (build_replacement(r, rw, &v, &args_at) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rw->status != 0) {
        *stop = 1;
        return rewrite_redirect(r, rw, &v, log);
    }
    return rewrite_uri(r, rw, &v, args_at, log);
}

/* ------------------------------------------------------------------ */
/* return                                                              */

/* return CODE [TEXT] | return CODE URL | return URL */
static char *
set_return(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    rewrite_loc_conf_t *rlcf = conf;
    pt_str_t           *a = &cf->args[1], *text = NULL;
    return_t           *ret;
    pt_int_t            code;

    ret = pt_pcalloc(cf->pool, sizeof(*ret));
    if (ret == NULL || add_op(cf, rlcf, OP_RETURN, ret) == NULL) {
        return PT_CONF_ERROR;
    }
    code = pt_atoi(a->data, a->len);
    if (code == PT_ERROR) {
        if (cf->nargs != 2 || !is_url(a)) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid return code "
                              "\"%.*s\"", (int) a->len, a->data);
            return PT_CONF_ERROR;
        }
        code = PT_HTTP_MOVED_TEMPORARILY;
        text = a;
    } else if (code > 999) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid return code \"%.*s\"",
                          (int) a->len, a->data);
        return PT_CONF_ERROR;
    } else if (cf->nargs == 3) {
        text = &cf->args[2];
    }
    ret->code = (pt_uint_t) code;
    if (text != NULL) {
        ret->text = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
        if (ret->text == NULL
            || pt_http_compile_complex_value(cf, text, ret->text) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    }
    return PT_CONF_OK;
}

/* nginx: a code below 400 or any text is answered here (a redirect gets
 * Location, even empty); an error code alone gets the error page. */
static int
run_return(pt_http_request_t *r, return_t *ret)
{
    pt_str_t        text = pt_null_string, key = pt_string("Location");
    pt_table_elt_t *h;
    pt_uint_t       code = ret->code;
    int             rc;

    if (code >= PT_HTTP_BAD_REQUEST
        && (ret->text == NULL
            || (!ret->text->has_vars && ret->text->value.len == 0)))
    {
        return (int) code;
    }
    /* the body goes first, as nginx: variables in the text then see it
     * gone ($content_length of a chunked body reads 0) */
    rc = pt_http_discard_request_body(r);
    if (rc != PT_OK) {
        return rc == PT_HTTP_BAD_REQUEST ? rc : PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ret->text != NULL
        && pt_http_complex_value(r, ret->text, &text) != PT_OK)
    {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (code == PT_HTTP_MOVED_PERMANENTLY || code == PT_HTTP_MOVED_TEMPORARILY
        || code == PT_HTTP_SEE_OTHER || code == PT_HTTP_TEMPORARY_REDIRECT
        || code == PT_HTTP_PERMANENT_REDIRECT)
    {
        pt_http_clear_location(r);
        if (text.data == NULL) {
            text.data = (u_char *) "";
        }
        h = pt_http_add_header_out(r, &key, &text);
        if (h == NULL) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        r->headers_out.location = h;
        return (int) code;
    }
    if (pt_http_set_content_type(r) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    return pt_http_send_response(r, code, NULL, &text) == PT_ERROR
           ? PT_ERROR : PT_OK;
}

/* ------------------------------------------------------------------ */
/* break, set                                                          */

static char *
set_break(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    return add_op(cf, conf, OP_BREAK, NULL) != NULL ? PT_CONF_OK
                                                    : PT_CONF_ERROR;
}

/* A variable only "set" defines, read before any "set" ran. */
static int
var_uninitialized(pt_http_request_t *r, pt_http_variable_value_t *v,
                  uintptr_t data)
{
    pt_http_core_main_conf_t *cmcf = pt_http_core_main_conf(r);
    rewrite_loc_conf_t       *rlcf;
    pt_http_variable_t       *var = cmcf->variables.elts;

    rlcf = r->loc_conf[pt_http_rewrite_module.index];
    if (rlcf->uninitialized_variable_warn) {
        pt_log_error(PT_LOG_WARN, pt_http_request_log(r), 0,
                     "using uninitialized \"%.*s\" variable",
                     (int) var[data].name.len, var[data].name.data);
    }
    v->data = (u_char *) "";
    v->len = 0;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return PT_OK;
}

/* set $VARIABLE VALUE */
static char *
set_set(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    rewrite_loc_conf_t *rlcf = conf;
    pt_str_t            name = cf->args[1];
    pt_http_variable_t *v;
    pt_int_t            index;
    set_t              *set;

    if (name.len == 0 || name.data[0] != '$') {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid variable name "
                          "\"%.*s\"", (int) name.len, name.data);
        return PT_CONF_ERROR;
    }
    name.data++;
    name.len--;
    v = pt_http_add_variable(cf, &name, PT_HTTP_VAR_CHANGEABLE
                                        | PT_HTTP_VAR_WEAK);
    if (v == NULL) {
        return PT_CONF_ERROR;
    }
    index = pt_http_get_variable_index(cf, &name);
    if (index == PT_ERROR) {
        return PT_CONF_ERROR;
    }
    if (v->get_handler == NULL) {
        v->get_handler = var_uninitialized;
        v->data = (uintptr_t) index;
    }
    set = pt_pcalloc(cf->pool, sizeof(*set));
    if (set == NULL || add_op(cf, rlcf, OP_SET, set) == NULL
        || pt_http_compile_complex_value(cf, &cf->args[2], &set->value)
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    set->index = (pt_uint_t) index;
    set->set_handler = v->set_handler;
    set->data = v->data;
    return PT_CONF_OK;
}

static int
run_set(pt_http_request_t *r, set_t *set)
{
    pt_http_variable_value_t  val, *vv;
    pt_str_t                  s;

    if (pt_http_complex_value(r, &set->value, &s) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    vv = set->set_handler != NULL ? &val : &r->variables[set->index];
    vv->data = s.data != NULL ? s.data : (u_char *) "";
    vv->len = (unsigned) s.len;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
    vv->escape = 0;
    if (set->set_handler != NULL) {
        set->set_handler(r, &val, set->data);
    }
    return PT_DECLINED;
}

/* ------------------------------------------------------------------ */
/* if                                                                  */

/* if (CONDITION) { ... }: the block's directives go into the parent's op
 * list, after the test that skips them. */
static char *
set_if(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    rewrite_loc_conf_t *rlcf = conf, *nlcf;
    pt_conf_ctx_t      *ctx, *saved_ctx = cf->ctx;
    pt_uint_t           saved_type = cf->ctx_type, at;
    pt_conf_node_t     *node = cf->node;
    rewrite_op_t       *op;
    if_t               *ifc;
    int                 rc;

    ifc = pt_pcalloc(cf->pool, sizeof(*ifc));
    ctx = ifc != NULL ? pt_http_rewrite_if_ctx(cf) : NULL;
    if (ctx == NULL) {
        return PT_CONF_ERROR;
    }
    ifc->cond = pt_http_rewrite_cond_compile(cf);
    if (ifc->cond == NULL) {
        return PT_CONF_ERROR;
    }
    if (cf->ctx_type == PT_CONF_SERVER) {
        if (pt_http_rewrite_if_check_server(cf, &pt_http_rewrite_module)
            != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    } else {
        ifc->loc_conf = ctx->loc_conf;
    }
    op = add_op(cf, rlcf, OP_IF, ifc);
    if (op == NULL) {
        return PT_CONF_ERROR;
    }
    at = rlcf->ops->nelts - 1;

    nlcf = ctx->loc_conf[pt_http_rewrite_module.index];
    nlcf->ops = rlcf->ops;
    cf->ctx = ctx;
    cf->ctx_type = PT_CONF_IF;
    rc = pt_conf_apply(cf, node->children);
    cf->ctx = saved_ctx;
    cf->ctx_type = saved_type;
    cf->node = node;
    /* the ops belong to the parent: the if conf runs none of its own */
    nlcf->ops = NULL;
    if (rc != PT_OK) {
        return PT_CONF_ERROR;
    }
    op = rlcf->ops->elts;
    op[at].next = rlcf->ops->nelts;
    return PT_CONF_OK;
}

static int
run_if(pt_http_request_t *r, if_t *ifc, int log)
{
    int rc = pt_http_rewrite_cond_eval(r, ifc->cond, log);

    if (rc == 1 && ifc->loc_conf != NULL) {
        r->loc_conf = ifc->loc_conf;
        pt_http_update_location_config(r);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* The engine                                                          */

/* Run a level's ops in order. PT_DECLINED when they ran out or stopped
 * (the request goes on), else what to finalize the request with. */
static int
run_ops(pt_http_request_t *r, rewrite_loc_conf_t *rlcf)
{
    rewrite_op_t *op = rlcf->ops->elts;
    pt_uint_t     i = 0, n = rlcf->ops->nelts;
    int           log = rlcf->log, rc, stop = 0;

    while (i < n) {
        switch (op[i].type) {
        case OP_REWRITE:
            rc = run_rewrite(r, op[i].data, log, &stop);
            if (rc != PT_DECLINED || stop) {
                return rc;
            }
            i++;
            break;
        case OP_IF:
            rc = run_if(r, op[i].data, log);
            if (rc == PT_ERROR) {
                return PT_HTTP_INTERNAL_SERVER_ERROR;
            }
            i = rc ? i + 1 : op[i].next;
            break;
        case OP_SET:
            rc = run_set(r, op[i].data);
            if (rc != PT_DECLINED) {
                return rc;
            }
            i++;
            break;
        case OP_RETURN:
            return run_return(r, op[i].data);
        default:   /* OP_BREAK */
            if (r->uri_changed) {
                r->valid_location = 0;
                r->uri_changed = 0;
            }
            return PT_DECLINED;
        }
    }
    return PT_DECLINED;
}

/* Location level; a request no location took has run the server's ops
 * already. */
static int
rewrite_handler(pt_http_request_t *r)
{
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    rewrite_loc_conf_t *rlcf;

    if (r->loc_conf == scf->ctx->loc_conf) {
        return PT_DECLINED;
    }
    rlcf = r->loc_conf[pt_http_rewrite_module.index];
    return rlcf->ops != NULL ? run_ops(r, rlcf) : PT_DECLINED;
}

/* Server level: the server's own directives, before a location is found. */
static int
server_rewrite_handler(pt_http_request_t *r)
{
    pt_http_srv_conf_t *scf = pt_http_core_srv_conf(r);
    rewrite_loc_conf_t *rlcf;

    rlcf = scf->ctx->loc_conf[pt_http_rewrite_module.index];
    return rlcf->ops != NULL ? run_ops(r, rlcf) : PT_DECLINED;
}

static int
postconfiguration(pt_conf_t *cf)
{
    if (pt_http_add_phase_handler(cf, PT_HTTP_SERVER_REWRITE_PHASE,
                                  server_rewrite_handler) != PT_OK
        || pt_http_add_phase_handler(cf, PT_HTTP_REWRITE_PHASE,
                                     rewrite_handler) != PT_OK)
    {
        return PT_ERROR;
    }
    return PT_OK;
}

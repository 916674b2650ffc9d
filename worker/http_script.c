/*
 * Complex values: "$var", "${var}" and "$1".."$9" inside configuration
 * strings, compiled into a list of parts once and evaluated per request
 * with a single allocation. Also the URI/HTML/JSON/log escapes and the
 * query-argument lookup shared by variables and logs.
 */
#include <string.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "conn.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"
#include "http_variables.h"

#define PART_LITERAL  PT_HTTP_PART_LITERAL
#define PART_VAR      PT_HTTP_PART_VAR
#define PART_CAPTURE  PT_HTTP_PART_CAPTURE

typedef pt_http_script_part_t script_part_t;

/* ------------------------------------------------------------------ */
/* Compilation                                                         */

static int
name_char(u_char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}

int
pt_http_script_add_part(pt_array_t *parts, pt_uint_t type, pt_uint_t n, u_char *text,
         size_t len)
{
    script_part_t *p;

    if (type == PART_LITERAL && len == 0) {
        return PT_OK;
    }
    p = pt_array_push(parts);
    if (p == NULL) {
        return PT_ERROR;
    }
    p->type = type;
    p->n = n;
    p->text.data = text;
    p->text.len = len;
    return PT_OK;
}

/* Parse the variable after the '$' at value->data[*pos - 1] and add it. */
int
pt_http_script_compile_variable(pt_conf_t *cf, pt_str_t *value, size_t *pos,
                 pt_array_t *parts)
{
    size_t     i = *pos;
    int        bracket = 0;
    pt_str_t   name;
    pt_int_t   index;

    if (i < value->len && value->data[i] >= '1' && value->data[i] <= '9') {
        *pos = i + 1;
        return pt_http_script_add_part(parts, PART_CAPTURE, value->data[i] - '0', NULL, 0);
    }
    if (i < value->len && value->data[i] == '{') {
        bracket = 1;
        i++;
    }
    name.data = value->data + i;
    name.len = 0;
    for (; i < value->len; i++, name.len++) {
        if (bracket && value->data[i] == '}') {
            i++;
            bracket = 0;
            break;
        }
        if (!name_char(value->data[i])) {
            break;
        }
    }
    if (bracket) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "the closing bracket in \"%.*s\" variable is "
                          "missing", (int) name.len, name.data);
        return PT_ERROR;
    }
    if (name.len == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "invalid variable name in \"%.*s\"",
                          (int) value->len, value->data);
        return PT_ERROR;
    }
    index = pt_http_get_variable_index(cf, &name);
    if (index == PT_ERROR) {
        return PT_ERROR;
    }
    *pos = i;
    return pt_http_script_add_part(parts, PART_VAR, (pt_uint_t) index, NULL, 0);
}

int
pt_http_compile_complex_value(pt_conf_t *cf, pt_str_t *value,
                              pt_http_complex_value_t *cv)
{
    pt_array_t  parts;
    size_t      i, lit;

    memset(cv, 0, sizeof(*cv));
    cv->value = *value;
    if (value->len == 0 || memchr(value->data, '$', value->len) == NULL) {
        return PT_OK;
    }

    if (pt_array_init(&parts, cf->pool, 4, sizeof(script_part_t)) != PT_OK) {
        return PT_ERROR;
    }
    i = lit = 0;
    while (i < value->len) {
        if (value->data[i] != '$') {
            i++;
            continue;
        }
        if (pt_http_script_add_part(&parts, PART_LITERAL, 0, value->data + lit, i - lit)
            != PT_OK)
        {
            return PT_ERROR;
        }
        i++;
        if (pt_http_script_compile_variable(cf, value, &i, &parts) != PT_OK) {
            return PT_ERROR;
        }
        lit = i;
    }
    if (pt_http_script_add_part(&parts, PART_LITERAL, 0, value->data + lit, i - lit)
        != PT_OK)
    {
        return PT_ERROR;
    }

    cv->parts = parts.elts;
    cv->nparts = parts.nelts;
    cv->has_vars = 1;
    return PT_OK;
}

char *
pt_http_set_complex_value_slot(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_complex_value_t **field, *cv;

    field = (pt_http_complex_value_t **) ((u_char *) conf + cmd->offset);
    if (*field != NULL && *field != PT_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    cv = pt_palloc(cf->pool, sizeof(pt_http_complex_value_t));
    if (cv == NULL
        || pt_http_compile_complex_value(cf, &cf->args[1], cv) != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    *field = cv;
    return PT_CONF_OK;
}

/* ------------------------------------------------------------------ */
/* Evaluation                                                          */

/* Forget the cached values of no_cacheable variables, once per
 * evaluation, so that both passes below see the same fresh value. */
static void
flush_parts(pt_http_request_t *r, pt_http_complex_value_t *cv)
{
    pt_http_core_main_conf_t  *cmcf = pt_http_core_main_conf(r);
    script_part_t             *p = cv->parts;
    pt_http_variable_value_t  *vv;
    pt_uint_t                  i;

    for (i = 0; i < cv->nparts; i++) {
        if (p[i].type != PART_VAR
            || p[i].n >= pt_http_variables_count(cmcf))
        {
            continue;
        }
        vv = &r->variables[p[i].n];
        if (vv->no_cacheable) {
            vv->valid = 0;
            vv->not_found = 0;
        }
    }
}

/* One part's value: its bytes, or an empty string. PT_ERROR when a
 * variable failed. */
static int
part_value(pt_http_request_t *r, script_part_t *p, pt_str_t *s)
{
    pt_http_variable_value_t  *vv;
    pt_uint_t                  n;

    s->len = 0;
    s->data = NULL;
    switch (p->type) {
    case PART_LITERAL:
        *s = p->text;
        return PT_OK;
    case PART_VAR:
        vv = pt_http_get_indexed_variable(r, p->n);
        if (vv == NULL) {
            return PT_ERROR;
        }
        if (!vv->not_found) {
            s->data = vv->data;
            s->len = vv->len;
        }
        return PT_OK;
    default:
        n = p->n * 2;
        if (r->captures != NULL && n < r->ncaptures && r->captures[n] >= 0) {
            s->data = r->captures_data + r->captures[n];
            s->len = (size_t) (r->captures[n + 1] - r->captures[n]);
        }
        return PT_OK;
    }
}

static size_t
value_length(pt_http_request_t *r, pt_http_complex_value_t *cv)
{
    script_part_t  *p = cv->parts;
    pt_str_t        s;
    size_t          len = 0;
    pt_uint_t       i;

    for (i = 0; i < cv->nparts; i++) {
        if (part_value(r, &p[i], &s) != PT_OK) {
            return (size_t) -1;
        }
        len += s.len;
    }
    return len;
}

size_t
pt_http_complex_value_size(pt_http_request_t *r, pt_http_complex_value_t *cv)
{
    if (!cv->has_vars) {
        return cv->value.len;
    }
    flush_parts(r, cv);
    return value_length(r, cv);
}

int
pt_http_complex_value(pt_http_request_t *r, pt_http_complex_value_t *cv,
                      pt_str_t *out)
{
    script_part_t  *p = cv->parts;
    pt_str_t        s;
    size_t          len;
    u_char         *d;
    pt_uint_t       i;

    if (!cv->has_vars) {
        *out = cv->value;
        return PT_OK;
    }
    flush_parts(r, cv);
    len = value_length(r, cv);
    if (len == (size_t) -1) {
        return PT_ERROR;
    }
    d = pt_pnalloc(r->pool, len ? len : 1);
    if (d == NULL) {
        return PT_ERROR;
    }
    out->data = d;
    out->len = len;
    /* the second pass reads the values cached by the first */
    for (i = 0; i < cv->nparts; i++) {
        if (part_value(r, &p[i], &s) != PT_OK) {
            return PT_ERROR;
        }
        if (s.len) {
            memcpy(d, s.data, s.len);
            d += s.len;
        }
    }
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Escapes                                                             */

/* Does `type` (a %XX escape) escape byte c? */
static int
percent_escaped(u_char c, pt_uint_t type)
{
    if (c <= 0x20 || c >= 0x7f) {
        return 1;   /* space, controls, DEL and 8-bit in every type */
    }
    switch (type) {
    case PT_HTTP_ESCAPE_URI:
        return c == '#' || c == '%' || c == '?';
    case PT_HTTP_ESCAPE_ARGS:
        return c == '#' || c == '%' || c == '&' || c == '+' || c == ';'
               || c == '?';
    case PT_HTTP_ESCAPE_URI_COMPONENT:
        return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                 || (c >= '0' && c <= '9') || c == '-' || c == '.'
                 || c == '_' || c == '~');
    default:   /* PT_HTTP_ESCAPE_HTML_URI */
        return c == '#' || c == '"' || c == '%' || c == '\'';
    }
}

/* The replacement of c for the text escapes, written to out (up to 6
 * bytes); returns its length, 1 for c itself. */
static size_t
text_escape(u_char c, pt_uint_t type, u_char *out)
{
    static const u_char  upper[] = "0123456789ABCDEF";
    const char          *e = NULL;

    if (type == PT_HTTP_ESCAPE_HTML) {
        switch (c) {
        case '&': e = "&amp;"; break;
        case '<': e = "&lt;"; break;
        case '>': e = "&gt;"; break;
        case '"': e = "&quot;"; break;
        default: break;
        }
    } else if (type == PT_HTTP_ESCAPE_JSON) {
        switch (c) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        default:
            if (c < 0x20) {
                /* nginx writes these in upper case: \u001B */
                memcpy(out, "\\u00", 4);
                out[4] = "0123456789ABCDEF"[c >> 4];
                out[5] = "0123456789ABCDEF"[c & 0xf];
                return 6;
            }
            break;
        }
    } else if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
        /* PT_HTTP_ESCAPE_LOG */
        out[0] = '\\';
        out[1] = 'x';
        out[2] = upper[c >> 4];
        out[3] = upper[c & 0xf];
        return 4;
    }
    if (e == NULL) {
        out[0] = c;
        return 1;
    }
    memcpy(out, e, strlen(e));
    return strlen(e);
}

size_t
pt_http_escape(u_char *dst, const u_char *src, size_t n, pt_uint_t type)
{
    static const u_char  hex[] = "0123456789ABCDEF";
    u_char               buf[8];
    size_t               len = 0, k, i;

    if (type <= PT_HTTP_ESCAPE_HTML_URI) {
        for (i = 0; i < n; i++) {
            if (!percent_escaped(src[i], type)) {
                if (dst) {
                    dst[len] = src[i];
                }
                len++;
                continue;
            }
            if (dst) {
                dst[len] = '%';
                dst[len + 1] = hex[src[i] >> 4];
                dst[len + 2] = hex[src[i] & 0xf];
            }
            len += 3;
        }
        return len;
    }

    for (i = 0; i < n; i++) {
        k = text_escape(src[i], type, buf);
        if (dst) {
            memcpy(dst + len, buf, k);
        }
        len += k;
    }
    return len;
}

/* ------------------------------------------------------------------ */
/* Query arguments                                                     */

int
pt_http_arg(pt_http_request_t *r, const u_char *name, size_t len,
            pt_str_t *value)
{
    u_char *p = r->args.data, *end = r->args.data + r->args.len, *amp;

    if (len == 0 || p == NULL) {
        return PT_DECLINED;
    }
    while (p < end) {
        amp = memchr(p, '&', (size_t) (end - p));
        if (amp == NULL) {
            amp = end;
        }
        /* [p, amp) is one "name=value"; a bare "name" has no value */
        if ((size_t) (amp - p) > len && p[len] == '='
            && pt_strncasecmp(p, name, len) == 0)
        {
            value->data = p + len + 1;
            value->len = (size_t) (amp - value->data);
            return PT_OK;
        }
        p = amp + 1;
    }
    return PT_DECLINED;
}

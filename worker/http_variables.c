/*
 * The variables framework: definitions and indexes at configuration time,
 * the per-request value cache, lookup by name, and regexes whose captures
 * become variables; then the built-in variables (nginx's core module
 * list) and the table that registers them.
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
/* Configuration time                                                  */

/* The core main conf of the http block being read, its variable arrays
 * created on first use (NULL, logged, outside an http context). */
static pt_http_core_main_conf_t *
conf_cmcf(pt_conf_t *cf)
{
    pt_http_core_main_conf_t *cmcf = NULL;

    if (cf->ctx != NULL && cf->ctx->main_conf != NULL) {
        cmcf = pt_http_conf_get_module_main_conf(cf, pt_http_core_module);
    }
    if (cmcf == NULL) {
        pt_conf_log_error(PT_LOG_ALERT, cf, 0,
                          "variables used outside of the http block");
        return NULL;
    }
    if ((cmcf->variables.elts == NULL
         && pt_array_init(&cmcf->variables, cf->pool, 64,
                          sizeof(pt_http_variable_t)) != PT_OK)
        || (cmcf->all_variables.elts == NULL
            && pt_array_init(&cmcf->all_variables, cf->pool, 128,
                             sizeof(pt_http_variable_t *)) != PT_OK)
        || (cmcf->prefix_variables.elts == NULL
            && pt_array_init(&cmcf->prefix_variables, cf->pool, 8,
                             sizeof(pt_http_variable_t)) != PT_OK))
    {
        return NULL;
    }
    return cmcf;
}

static int
lowcase_copy(pt_conf_t *cf, pt_str_t *dst, const pt_str_t *src)
{
    size_t i;

    dst->data = pt_pnalloc(cf->pool, src->len + 1);
    if (dst->data == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < src->len; i++) {
        dst->data[i] = pt_tolower(src->data[i]);
    }
    dst->data[i] = '\0';
    dst->len = src->len;
    return PT_OK;
}

static int
name_eq(const pt_str_t *a, const pt_str_t *b)
{
    return a->len == b->len && pt_strncasecmp(a->data, b->data, a->len) == 0;
}

/* The existing definition of `name` among all_variables or the prefix
 * variables, or NULL. */
static pt_http_variable_t *
find_definition(pt_http_core_main_conf_t *cmcf, const pt_str_t *name,
                int prefix)
{
    pt_http_variable_t  **all, *pv;
    pt_uint_t             i;

    if (prefix) {
        pv = cmcf->prefix_variables.elts;
        for (i = 0; i < cmcf->prefix_variables.nelts; i++) {
            if (name_eq(&pv[i].name, name)) {
                return &pv[i];
            }
        }
        return NULL;
    }
    all = cmcf->all_variables.elts;
    for (i = 0; i < cmcf->all_variables.nelts; i++) {
        if (name_eq(&all[i]->name, name)) {
            return all[i];
        }
    }
    return NULL;
}

pt_http_variable_t *
pt_http_add_variable(pt_conf_t *cf, pt_str_t *name, pt_uint_t flags)
{
    pt_http_core_main_conf_t  *cmcf;
    pt_http_variable_t        *v, **slot;
    int                        prefix = (flags & PT_HTTP_VAR_PREFIX) != 0;

    if (name->len == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid variable name \"$\"");
        return NULL;
    }
    cmcf = conf_cmcf(cf);
    if (cmcf == NULL) {
        return NULL;
    }

    v = find_definition(cmcf, name, prefix);
    if (v != NULL) {
        if (!(v->flags & PT_HTTP_VAR_CHANGEABLE)
            || !(flags & PT_HTTP_VAR_CHANGEABLE))
        {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "the duplicate \"%.*s\" variable",
                              (int) name->len, name->data);
            return NULL;
        }
        return v;
    }

    if (prefix) {
        v = pt_array_push(&cmcf->prefix_variables);
    } else {
        v = pt_palloc(cf->pool, sizeof(pt_http_variable_t));
        slot = v ? pt_array_push(&cmcf->all_variables) : NULL;
        if (slot == NULL) {
            return NULL;
        }
        *slot = v;
    }
    if (v == NULL) {
        return NULL;
    }
    memset(v, 0, sizeof(*v));
    if (lowcase_copy(cf, &v->name, name) != PT_OK) {
        return NULL;
    }
    v->flags = flags & ~PT_HTTP_VAR_INDEXED;
    return v;
}

pt_int_t
pt_http_get_variable_index(pt_conf_t *cf, pt_str_t *name)
{
    pt_http_core_main_conf_t  *cmcf;
    pt_http_variable_t        *v;
    pt_uint_t                  i;

    if (name->len == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid variable name \"$\"");
        return PT_ERROR;
    }
    cmcf = conf_cmcf(cf);
    if (cmcf == NULL) {
        return PT_ERROR;
    }

    v = cmcf->variables.elts;
    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (name_eq(&v[i].name, name)) {
            return (pt_int_t) i;
        }
    }

    v = pt_array_push(&cmcf->variables);
    if (v == NULL) {
        return PT_ERROR;
    }
    memset(v, 0, sizeof(*v));
    if (lowcase_copy(cf, &v->name, name) != PT_OK) {
        return PT_ERROR;
    }
    v->index = cmcf->variables.nelts - 1;
    /* remembered for "unknown variable", reported after the http block */
    if (cf->parse_file != NULL) {
        v->file = cf->parse_file;
        v->line = cf->parse_line;
    } else if (cf->node != NULL) {
        v->file = cf->node->file;
        v->line = cf->node->line;
    }
    return (pt_int_t) v->index;
}

static int var_capture(pt_http_request_t *r, pt_http_variable_value_t *v,
                       uintptr_t data);

/* The prefix variable with the longest name `name` starts with. */
static pt_http_variable_t *
find_prefix(pt_http_core_main_conf_t *cmcf, const pt_str_t *name)
{
    pt_http_variable_t  *pv, *best = NULL;
    pt_uint_t            i;

    pv = cmcf->prefix_variables.elts;
    for (i = 0; i < cmcf->prefix_variables.nelts; i++) {
        if (name->len > pv[i].name.len
            && pt_strncasecmp(name->data, pv[i].name.data, pv[i].name.len) == 0
            && (best == NULL || pv[i].name.len > best->name.len))
        {
            best = &pv[i];
        }
    }
    return best;
}

static void
unknown_variable(pt_conf_t *cf, pt_http_variable_t *v)
{
    pt_conf_node_t   node, *saved_node = cf->node;
    const char      *saved_file = cf->parse_file;

    /* name the first use, not the end of the http block */
    memset(&node, 0, sizeof(node));
    node.file = v->file;
    node.line = v->line;
    cf->node = v->file ? &node : NULL;
    cf->parse_file = NULL;
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unknown \"%.*s\" variable",
                      (int) v->name.len, v->name.data);
    cf->node = saved_node;
    cf->parse_file = saved_file;
}

int
pt_http_variables_init_vars(pt_conf_t *cf)
{
    pt_http_core_main_conf_t  *cmcf;
    pt_http_variable_t        *v, *av;
    pt_uint_t                  i;

    cmcf = conf_cmcf(cf);
    if (cmcf == NULL) {
        return PT_ERROR;
    }

    v = cmcf->variables.elts;
    for (i = 0; i < cmcf->variables.nelts; i++) {
        av = find_definition(cmcf, &v[i].name, 0);
        /* "set $arg_x" keeps $arg_x reading the argument until it runs */
        if (av != NULL && av->get_handler != NULL
            && (!(av->flags & PT_HTTP_VAR_WEAK)
                || find_prefix(cmcf, &v[i].name) == NULL))
        {
            av->flags |= PT_HTTP_VAR_INDEXED;
            av->index = i;
            v[i].get_handler = av->get_handler;
            v[i].set_handler = av->set_handler;
            v[i].data = av->data;
            v[i].flags = av->flags;
            continue;
        }

        av = find_prefix(cmcf, &v[i].name);
        if (av != NULL) {
            v[i].get_handler = av->get_handler;
            v[i].set_handler = av->set_handler;
            /* the array is final now: the name stays where it is */
            v[i].data = (uintptr_t) &v[i].name;
            v[i].flags = av->flags | PT_HTTP_VAR_INDEXED;
            continue;
        }

        if (v[i].name.len == 1 && v[i].name.data[0] >= '0'
            && v[i].name.data[0] <= '9')
        {
            v[i].get_handler = var_capture;
            v[i].data = v[i].name.data[0] - '0';
            v[i].flags = PT_HTTP_VAR_NOCACHEABLE | PT_HTTP_VAR_INDEXED;
            continue;
        }

        unknown_variable(cf, &v[i]);
        return PT_ERROR;
    }
    return PT_OK;
}

pt_uint_t
pt_http_variables_count(pt_http_core_main_conf_t *cmcf)
{
    return cmcf->variables.nelts;
}

/* ------------------------------------------------------------------ */
/* Run time                                                            */

pt_http_variable_value_t *
pt_http_get_indexed_variable(pt_http_request_t *r, pt_uint_t index)
{
    pt_http_core_main_conf_t  *cmcf = pt_http_core_main_conf(r);
    pt_http_variable_t        *v;
    pt_http_variable_value_t  *vv;

    if (index >= cmcf->variables.nelts) {
        pt_log_error(PT_LOG_ALERT, r->connection->log, 0,
                     "unknown variable index: %lu", (unsigned long) index);
        return NULL;
    }
    vv = &r->variables[index];
    if (vv->valid || vv->not_found) {
        return vv;
    }

    v = cmcf->variables.elts;
    if (v[index].get_handler == NULL) {
        vv->not_found = 1;
        return vv;
    }
    if (v[index].get_handler(r, vv, v[index].data) == PT_OK) {
        if (v[index].flags & PT_HTTP_VAR_NOCACHEABLE) {
            vv->no_cacheable = 1;
        }
        return vv;
    }
    /* a failed evaluation is not retried within the request */
    vv->valid = 0;
    vv->not_found = 1;
    return NULL;
}

pt_http_variable_value_t *
pt_http_get_flushed_variable(pt_http_request_t *r, pt_uint_t index)
{
    pt_http_core_main_conf_t  *cmcf = pt_http_core_main_conf(r);
    pt_http_variable_value_t  *vv;

    if (index < cmcf->variables.nelts) {
        vv = &r->variables[index];
        if (vv->valid || vv->not_found) {
            if (!vv->no_cacheable) {
                return vv;
            }
            vv->valid = 0;
            vv->not_found = 0;
        }
    }
    return pt_http_get_indexed_variable(r, index);
}

pt_http_variable_value_t *
pt_http_get_variable(pt_http_request_t *r, pt_str_t *name)
{
    pt_http_core_main_conf_t  *cmcf = pt_http_core_main_conf(r);
    pt_http_variable_t        *v;
    pt_http_variable_value_t  *vv;
    uintptr_t                  data;
    pt_uint_t                  i;

    /* indexed ones (prefix and captures included) share the cache */
    v = cmcf->variables.elts;
    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (name_eq(&v[i].name, name) && v[i].get_handler != NULL
            && !(v[i].flags & PT_HTTP_VAR_NOHASH))
        {
            return pt_http_get_flushed_variable(r, i);
        }
    }

    v = find_definition(cmcf, name, 0);
    if (v != NULL && !(v->flags & PT_HTTP_VAR_NOHASH)) {
        data = v->data;
    } else {
        v = find_prefix(cmcf, name);
        data = (uintptr_t) name;
    }

    vv = pt_pcalloc(r->pool, sizeof(pt_http_variable_value_t));
    if (vv == NULL) {
        return NULL;
    }
    if (v != NULL && v->get_handler != NULL) {
        return v->get_handler(r, vv, data) == PT_OK ? vv : NULL;
    }
    if (name->len == 1 && name->data[0] >= '0' && name->data[0] <= '9') {
        return var_capture(r, vv, name->data[0] - '0') == PT_OK ? vv : NULL;
    }
    vv->not_found = 1;
    return vv;
}

/* ------------------------------------------------------------------ */
/* Regexes                                                             */

static int
var_not_found(pt_http_request_t *r, pt_http_variable_value_t *v,
              uintptr_t data)
{
    v->not_found = 1;
    return PT_OK;
}

int
pt_http_regex_compile(pt_conf_t *cf, pt_http_regex_t *re, pt_str_t *pattern,
                      int caseless)
{
    pt_regex_t  *regex;
    u_char       err[PT_MAX_ERROR_STR];

    regex = pt_palloc(cf->pool, sizeof(pt_regex_t));
    if (regex == NULL) {
        return PT_ERROR;
    }
    err[0] = '\0';
    if (pt_regex_compile(cf->pool, regex, pattern, caseless, err,
                         sizeof(err)) != PT_OK)
    {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s", (char *) err);
        return PT_ERROR;
    }
    return pt_http_regex_adopt(cf, re, regex);
}

int
pt_http_regex_adopt(pt_conf_t *cf, pt_http_regex_t *re, pt_regex_t *regex)
{
    pt_http_core_main_conf_t  *cmcf;
    pt_http_variable_t        *v;
    pt_int_t                   index;
    pt_uint_t                  i;

    memset(re, 0, sizeof(*re));
    cmcf = conf_cmcf(cf);
    if (cmcf == NULL) {
        return PT_ERROR;
    }
    re->regex = regex;
    re->name = regex->pattern;
    re->ncaptures = re->regex->captures;
    cmcf->ncaptures = pt_max(cmcf->ncaptures, re->ncaptures);

    if (re->regex->nnames == 0) {
        return PT_OK;
    }
    re->variables = pt_palloc(cf->pool, re->regex->nnames
                                        * sizeof(pt_http_regex_variable_t));
    if (re->variables == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < re->regex->nnames; i++) {
        v = pt_http_add_variable(cf, &re->regex->names[i].name,
                                 PT_HTTP_VAR_CHANGEABLE);
        if (v == NULL) {
            return PT_ERROR;
        }
        if (v->get_handler == NULL) {
            v->get_handler = var_not_found;   /* until a match sets it */
        }
        index = pt_http_get_variable_index(cf, &re->regex->names[i].name);
        if (index == PT_ERROR) {
            return PT_ERROR;
        }
        re->variables[i].capture = re->regex->names[i].index;
        re->variables[i].index = (pt_uint_t) index;
    }
    re->nvariables = re->regex->nnames;
    return PT_OK;
}

void
pt_http_regex_set_vars(pt_http_request_t *r, pt_http_regex_t *re,
                       pt_str_t *s, int rc)
{
    pt_http_variable_value_t  *vv;
    pt_uint_t                  i, n;

    for (i = 0; i < re->nvariables; i++) {
        n = re->variables[i].capture * 2;
        vv = &r->variables[re->variables[i].index];
        vv->valid = 1;
        vv->not_found = 0;
        vv->no_cacheable = 0;
        vv->escape = 0;
        if ((pt_uint_t) rc * 2 > n && r->captures[n] >= 0) {
            vv->data = s->data + r->captures[n];
            vv->len = (unsigned) (r->captures[n + 1] - r->captures[n]);
        } else {
            vv->data = s->data;
            vv->len = 0;
        }
    }
}

int
pt_http_regex_exec(pt_http_request_t *r, pt_http_regex_t *re, pt_str_t *s)
{
    pt_http_core_main_conf_t  *cmcf = pt_http_core_main_conf(r);
    pt_uint_t                  pairs = 0;
    int                        rc;

    if (re->ncaptures || re->nvariables) {
        /* compile raised cmcf->ncaptures to cover every regex */
        pairs = cmcf->ncaptures + 1;
        if (r->captures == NULL) {
            /* (ncaptures + 1) * 3 ints: the size PCRE's ovector had */
            r->captures = pt_palloc(r->pool, pairs * 3 * sizeof(int));
            if (r->captures == NULL) {
                return PT_ERROR;
            }
        }
    }

    rc = pt_regex_exec(re->regex, s->data ? s->data : (u_char *) "", s->len,
                       r->captures, pairs);
    if (rc == PT_DECLINED) {
        return PT_DECLINED;
    }
    if (rc < 0) {
        pt_log_error(PT_LOG_ALERT, r->connection->log, 0,
                     "regex \"%.*s\" failed on \"%.*s\"",
                     (int) re->name.len, re->name.data, (int) s->len, s->data);
        return PT_ERROR;
    }

    pt_http_regex_set_vars(r, re, s, rc);

    /* as nginx: a match without groups hides the $1.. of the last one */
    r->ncaptures = (pt_uint_t) rc * 2;
    r->captures_data = s->data;
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Built-in variables: helpers                                         */

static int
value_set(pt_http_variable_value_t *v, u_char *data, size_t len)
{
    v->data = data;
    v->len = (unsigned) len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return PT_OK;
}

static int
value_none(pt_http_variable_value_t *v)
{
    v->valid = 0;
    v->not_found = 1;
    return PT_OK;
}

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
    return value_set(v, p, pt_min((size_t) n, max - 1));
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
    return value_set(v, p, len);
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
        return value_none(v);
    }
    return value_set(v, s->data, s->len);
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
    return value_set(v, (u_char *) "?", r->args.len ? 1 : 0);
}

static int
var_server_protocol(pt_http_request_t *r, pt_http_variable_value_t *v,
                    uintptr_t data)
{
    if (r->http_protocol.len) {
        return value_set(v, r->http_protocol.data, r->http_protocol.len);
    }
    if (r->http_version == PT_HTTP_VERSION_10) {
        return value_set(v, (u_char *) "HTTP/1.0", 8);
    }
    if (r->http_version == PT_HTTP_VERSION_11) {
        return value_set(v, (u_char *) "HTTP/1.1", 8);
    }
    return value_set(v, (u_char *) "", 0);
}

static int
var_scheme(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    if (r->connection->tls != NULL) {
        return value_set(v, (u_char *) "https", 5);
    }
    return value_set(v, (u_char *) "http", 4);
}

static int
var_https(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    if (r->connection->tls != NULL) {
        return value_set(v, (u_char *) "on", 2);
    }
    return value_set(v, (u_char *) "", 0);
}

static int
var_host(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_http_srv_conf_t *cscf;

    if (r->headers_in.server.len) {
        return value_set(v, r->headers_in.server.data,
                         r->headers_in.server.len);
    }
    cscf = r->srv_conf ? pt_http_core_srv_conf(r) : NULL;
    if (cscf != NULL && cscf->server_name.data != NULL) {
        return value_set(v, cscf->server_name.data, cscf->server_name.len);
    }
    return value_set(v, (u_char *) "", 0);
}

static int
var_server_name(pt_http_request_t *r, pt_http_variable_value_t *v,
                uintptr_t data)
{
    pt_http_srv_conf_t *cscf = r->srv_conf ? pt_http_core_srv_conf(r) : NULL;

    if (cscf != NULL && cscf->server_name.data != NULL) {
        return value_set(v, cscf->server_name.data, cscf->server_name.len);
    }
    return value_set(v, (u_char *) "", 0);
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
        return value_none(v);
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
        return value_none(v);
    }
    if (n == 1) {
        return value_set(v, first->value.data, first->value.len);
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
    return value_set(v, v->data, total);
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
            return value_set(v, value.data, value.len);
        }
    }
    return value_none(v);
}

static int
var_arg_prefix(pt_http_request_t *r, pt_http_variable_value_t *v,
               uintptr_t data)
{
    pt_str_t *name = (pt_str_t *) data, value;

    if (pt_http_arg(r, name->data + 4, name->len - 4, &value) == PT_OK) {
        return value_set(v, value.data, value.len);
    }
    return value_none(v);
}

/* A request header by its headers_in pointer at offset `data`. */
static int
var_header_in(pt_http_request_t *r, pt_http_variable_value_t *v,
              uintptr_t data)
{
    pt_table_elt_t *h = *(pt_table_elt_t **) ((u_char *) r + data);

    if (h == NULL) {
        return value_none(v);
    }
    return value_set(v, h->value.data, h->value.len);
}

static int
var_content_length(pt_http_request_t *r, pt_http_variable_value_t *v,
                   uintptr_t data)
{
    if (r->headers_in.content_length != NULL) {
        return value_set(v, r->headers_in.content_length->value.data,
                         r->headers_in.content_length->value.len);
    }
    if (r->headers_in.content_length_n >= 0) {
        return value_printf(r, v, PT_INT64_LEN + 1, "%lld",
                            (long long) r->headers_in.content_length_n);
    }
    return value_none(v);
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
        return value_set(v, c->addr_text.data, c->addr_text.len);
    }
    /* no text made at accept: the address without the port */
    if (c->sockaddr->ss_family == AF_INET) {
        if (inet_ntop(AF_INET, &((struct sockaddr_in *) c->sockaddr)
                          ->sin_addr, text, sizeof(text)) == NULL)
        {
            return PT_ERROR;
        }
    } else if (c->sockaddr->ss_family == AF_INET6) {
        if (inet_ntop(AF_INET6, &((struct sockaddr_in6 *) c->sockaddr)
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
        return value_set(v, ((struct sockaddr_in6 *) ss)->sin6_addr.s6_addr,
                         16);
    case AF_UNIX:
        return value_set(v, r->connection->addr_text.data,
                         r->connection->addr_text.len);
    default:
        return value_set(v, (u_char *) &((struct sockaddr_in *) ss)->sin_addr,
                         4);
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
        return value_set(v, (u_char *) "", 0);
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
    if (inet_ntop(ss.ss_family, addr, text, sizeof(text)) == NULL) {
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
        return value_set(v, (u_char *) "", 0);
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
        return value_set(v, (u_char *) "", 0);
    }
    return value_set(v, s->data, s->len);
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
    return value_set(v, p, 32);
}

static int
var_capture(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_uint_t n = data * 2;

    if (r->captures == NULL || n >= r->ncaptures) {
        return value_none(v);
    }
    if (r->captures[n] < 0) {
        return value_set(v, (u_char *) "", 0);
    }
    return value_set(v, r->captures_data + r->captures[n],
                     (size_t) (r->captures[n + 1] - r->captures[n]));
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
    return value_set(v, root.data, root.len);
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
    return value_set(v, path.data, (size_t) (last - path.data));
}

/* ------------------------------------------------------------------ */
/* Built-in variables: response headers nginx keeps outside the list   */

static int
var_sent_content_type(pt_http_request_t *r, pt_http_variable_value_t *v,
                      uintptr_t data)
{
    if (r->headers_out.content_type.len == 0) {
        return value_none(v);
    }
    return value_set(v, r->headers_out.content_type.data,
                     r->headers_out.content_type.len);
}

static int
var_sent_content_length(pt_http_request_t *r, pt_http_variable_value_t *v,
                        uintptr_t data)
{
    pt_table_elt_t *h = r->headers_out.content_length;

    if (h != NULL && h->hash) {
        return value_set(v, h->value.data, h->value.len);
    }
    if (r->headers_out.content_length_n >= 0) {
        return value_printf(r, v, PT_INT64_LEN + 1, "%lld",
                            (long long) r->headers_out.content_length_n);
    }
    return value_none(v);
}

static int
var_sent_location(pt_http_request_t *r, pt_http_variable_value_t *v,
                  uintptr_t data)
{
    pt_table_elt_t *h = r->headers_out.location;

    if (h != NULL && h->hash) {
        return value_set(v, h->value.data, h->value.len);
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
        return value_set(v, h->value.data, h->value.len);
    }
    if (r->headers_out.last_modified_time >= 0) {
        p = pt_pnalloc(r->pool, PT_HTTP_TIME_LEN);
        if (p == NULL) {
            return PT_ERROR;
        }
        pt_http_format_time(p, r->headers_out.last_modified_time);
        return value_set(v, p, PT_HTTP_TIME_LEN);
    }
    return value_none(v);
}

static int
var_sent_connection(pt_http_request_t *r, pt_http_variable_value_t *v,
                    uintptr_t data)
{
    if (r->headers_out.status == PT_HTTP_SWITCHING_PROTOCOLS) {
        return value_set(v, (u_char *) "upgrade", 7);
    }
    if (r->keepalive) {
        return value_set(v, (u_char *) "keep-alive", 10);
    }
    return value_set(v, (u_char *) "close", 5);
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
    return value_none(v);
}

static int
var_sent_transfer_encoding(pt_http_request_t *r, pt_http_variable_value_t *v,
                           uintptr_t data)
{
    if (r->chunked) {
        return value_set(v, (u_char *) "chunked", 7);
    }
    return value_none(v);
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
pt_http_add_variables(pt_conf_t *cf, const pt_http_variable_def_t *defs,
                      pt_uint_t n)
{
    pt_http_variable_t *v;
    pt_str_t            name;
    pt_uint_t           i;

    for (i = 0; i < n; i++) {
        name.data = (u_char *) defs[i].name;
        name.len = strlen(defs[i].name);
        v = pt_http_add_variable(cf, &name, 0);
        if (v == NULL) {
            return PT_ERROR;
        }
        v->get_handler = defs[i].get;
        v->data = defs[i].data;
    }
    return PT_OK;
}

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

/*
 * The variables framework: definitions and indexes at configuration time,
 * the per-request value cache, lookup by name, regexes whose captures
 * become variables, and the registration of a module's variable table.
 * The built-in variables live in http_core_variables.c.
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

/* $1..$9: the groups of the last regex match. */
static int
var_capture(pt_http_request_t *r, pt_http_variable_value_t *v, uintptr_t data)
{
    pt_uint_t n = data * 2;

    if (r->captures == NULL || n >= r->ncaptures) {
        return pt_http_variable_value_none(v);
    }
    if (r->captures[n] < 0) {
        return pt_http_variable_value_set(v, (u_char *) "", 0);
    }
    return pt_http_variable_value_set(v, r->captures_data + r->captures[n],
                                      (size_t) (r->captures[n + 1]
                                                - r->captures[n]));
}

int
pt_http_variable_value_set(pt_http_variable_value_t *v, u_char *data,
                           size_t len)
{
    v->data = data;
    v->len = (unsigned) len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return PT_OK;
}

int
pt_http_variable_value_none(pt_http_variable_value_t *v)
{
    v->valid = 0;
    v->not_found = 1;
    return PT_OK;
}

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

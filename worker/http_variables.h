/*
 * Variables: definition at configuration time, indexes resolved once the
 * http block is read, per-request evaluation cached in r->variables, the
 * built-in variables of nginx's core module and regex named captures.
 */
#ifndef PT_HTTP_VARIABLES_H
#define PT_HTTP_VARIABLES_H

#include "common/conf.h"
#include "common/pt_types.h"
#include "common/regex.h"
#include "common/str.h"
#include "http_core.h"
#include "http_request.h"

/* One evaluated value. data is owned by the request (or static). */
struct pt_http_variable_value_s {
    unsigned     len:28;
    unsigned     valid:1;          /* data/len hold the value */
    unsigned     no_cacheable:1;   /* re-evaluate on a flushed read */
    unsigned     not_found:1;      /* evaluated: the variable is unset */
    unsigned     escape:1;         /* free for consumers (e.g. a log) */
    u_char      *data;
};

/* Helpers for get handlers: v holds data/len (valid), or is unset
 * (not_found). Both return PT_OK. */
int pt_http_variable_value_set(pt_http_variable_value_t *v, u_char *data,
                               size_t len);
int pt_http_variable_value_none(pt_http_variable_value_t *v);

/* Fill v (valid or not_found); PT_OK, or PT_ERROR (nothing is cached). */
typedef int (*pt_http_get_variable_pt)(pt_http_request_t *r,
                                       pt_http_variable_value_t *v,
                                       uintptr_t data);
/* Store v (owned by the request from now on) as the new value. */
typedef void (*pt_http_set_variable_pt)(pt_http_request_t *r,
                                        pt_http_variable_value_t *v,
                                        uintptr_t data);

#define PT_HTTP_VAR_CHANGEABLE   1   /* `set` may define it again */
#define PT_HTTP_VAR_NOCACHEABLE  2   /* value may change within a request */
#define PT_HTTP_VAR_INDEXED      4   /* has an index (set at init) */
#define PT_HTTP_VAR_NOHASH       8   /* not reachable by name at run time */
#define PT_HTTP_VAR_PREFIX       16  /* name is a prefix: "http_" etc. */
#define PT_HTTP_VAR_WEAK         32  /* made by "set": a prefix variable
                                        the name starts with reads it */

typedef struct {
    pt_str_t                 name;   /* lowercase */
    pt_http_set_variable_pt  set_handler;
    pt_http_get_variable_pt  get_handler;
    uintptr_t                data;
    pt_uint_t                flags;
    pt_uint_t                index;
    /* first use, for "unknown variable" (indexed entries only) */
    const char              *file;
    pt_uint_t                line;
} pt_http_variable_t;

/* Define a variable (create_main_conf time, once the core main conf exists,
 * or postconfiguration). A second definition of the same name is allowed
 * only when both carry PT_HTTP_VAR_CHANGEABLE (the first one is returned);
 * otherwise NULL with `the duplicate "NAME" variable` logged. The caller
 * sets the handlers on the result. Owned by cf->pool. */
pt_http_variable_t *pt_http_add_variable(pt_conf_t *cf, pt_str_t *name,
                                         pt_uint_t flags);
/* A module's read-only variables, defined by one call. */
typedef struct {
    const char               *name;
    pt_http_get_variable_pt   get;
    uintptr_t                 data;
} pt_http_variable_def_t;

/* Define each of the n (flags 0); PT_OK, or PT_ERROR (logged). */
int pt_http_add_variables(pt_conf_t *cf, const pt_http_variable_def_t *defs,
                          pt_uint_t n);

/* The index of a variable for run-time access; it may be defined later in
 * the configuration (checked by pt_http_variables_init_vars). A leading
 * "$" is not part of the name. PT_ERROR on allocation failure or an empty
 * name (logged). */
pt_int_t pt_http_get_variable_index(pt_conf_t *cf, pt_str_t *name);

/* The value of an indexed variable, cached in r->variables[index] (NULL on
 * an error: the handler failed or the index is out of range). */
pt_http_variable_value_t *pt_http_get_indexed_variable(pt_http_request_t *r,
                                                       pt_uint_t index);
/* Same, but a value marked no_cacheable is evaluated again. */
pt_http_variable_value_t *pt_http_get_flushed_variable(pt_http_request_t *r,
                                                       pt_uint_t index);
/* Look a variable up by (lowercase) name at run time: indexed ones come
 * from the cache, others (including prefix variables) are evaluated into a
 * value allocated from r->pool. NULL on an error; an unknown name yields a
 * not_found value. */
pt_http_variable_value_t *pt_http_get_variable(pt_http_request_t *r,
                                               pt_str_t *name);

/* Register the built-in variables: call with cf->ctx the http context and
 * the core main conf already in it (before the http block's directives). */
int pt_http_variables_add_core_vars(pt_conf_t *cf);
/* After the http block (and every postconfiguration): bind each index to
 * its definition, a prefix variable or a capture ("1".."9"); an unknown
 * name is `unknown "NAME" variable` in the file:line of its first use. */
int pt_http_variables_init_vars(pt_conf_t *cf);
/* Entries r->variables must have (allocated zeroed by the request code). */
pt_uint_t pt_http_variables_count(pt_http_core_main_conf_t *cmcf);

/* Regexes with captures as variables. */
typedef struct {
    pt_uint_t  capture;   /* group number */
    pt_uint_t  index;     /* variable index */
} pt_http_regex_variable_t;

typedef struct {
    pt_regex_t                *regex;
    pt_uint_t                  ncaptures;   /* groups, $0 not counted */
    pt_http_regex_variable_t  *variables;   /* named groups */
    pt_uint_t                  nvariables;
    pt_str_t                   name;        /* the pattern */
} pt_http_regex_t;

/* Compile `pattern` (caseless: PCRE2_CASELESS) into re and define a
 * changeable variable for each named group; raises the core main conf's
 * ncaptures. PT_OK or PT_ERROR (logged with the file:line). */
int pt_http_regex_compile(pt_conf_t *cf, pt_http_regex_t *re,
                          pt_str_t *pattern, int caseless);
/* Match s; on success r->captures/ncaptures/captures_data describe the
 * groups (s must outlive their use) and named-group variables are set.
 * PT_OK on a match, PT_DECLINED on none, PT_ERROR (logged). */
/* Set the named-capture variables of `re` from r->captures after a match
 * of `s` that filled `rc` pairs (locations match through their own index). */
/* The same for a regex compiled elsewhere (a location's): its named
 * groups become variables; no second compilation. */
int pt_http_regex_adopt(pt_conf_t *cf, pt_http_regex_t *re,
                        pt_regex_t *regex);
void pt_http_regex_set_vars(pt_http_request_t *r, pt_http_regex_t *re,
                            pt_str_t *s, int rc);
int pt_http_regex_exec(pt_http_request_t *r, pt_http_regex_t *re,
                       pt_str_t *s);

#endif /* PT_HTTP_VARIABLES_H */

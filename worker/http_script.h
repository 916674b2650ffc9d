/*
 * Complex values: configuration strings with $var, ${var} and $1..$9,
 * compiled once and evaluated per request into one allocation; plus the
 * escapes and the query-argument lookup that values and logs share.
 */
#ifndef PT_HTTP_SCRIPT_H
#define PT_HTTP_SCRIPT_H

#include "common/conf.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_request.h"

typedef struct {
    pt_str_t    value;       /* the raw text */
    void       *parts;       /* compiled parts (http_script.c) */
    pt_uint_t   nparts;
    unsigned    has_vars:1;  /* 0: value is the result, as is */
} pt_http_complex_value_t;

/* Compile `value` into cv (parts in cf->pool; value->data must live as long
 * as the configuration). PT_OK, or PT_ERROR logged with nginx's wording:
 * invalid variable name in "...", the closing bracket in "x" variable is
 * missing. Variable names are checked later, by init_vars. */
int pt_http_compile_complex_value(pt_conf_t *cf, pt_str_t *value,
                                  pt_http_complex_value_t *cv);

/* Evaluate cv into out: a value without variables is returned as is
 * (no copy); otherwise out is one allocation from r->pool. Unset variables
 * and captures count as empty. PT_OK, or PT_ERROR (a variable failed). */
int pt_http_complex_value(pt_http_request_t *r, pt_http_complex_value_t *cv,
                          pt_str_t *out);

/* The length pt_http_complex_value would produce, or (size_t) -1 on an
 * error. Evaluates the variables (their values stay cached). */
size_t pt_http_complex_value_size(pt_http_request_t *r,
                                  pt_http_complex_value_t *cv);

/* Directive setter: the field at cmd->offset is a pt_http_complex_value_t *
 * (NULL or PT_CONF_UNSET_PTR mean unset; anything else is a duplicate). */
char *pt_http_set_complex_value_slot(pt_conf_t *cf, pt_command_t *cmd,
                                     void *conf);

/* pt_http_escape types. */
#define PT_HTTP_ESCAPE_URI            0  /* path: SP # % ? CTL, 8-bit */
#define PT_HTTP_ESCAPE_ARGS           1  /* query: also & + ; */
#define PT_HTTP_ESCAPE_URI_COMPONENT  2  /* all but ALPHA DIGIT - . _ ~ */
#define PT_HTTP_ESCAPE_HTML_URI       3  /* href: SP # " % ' CTL, 8-bit */
#define PT_HTTP_ESCAPE_HTML           4  /* text: & < > " as entities */
#define PT_HTTP_ESCAPE_JSON           5  /* " \ and CTL as JSON escapes */
#define PT_HTTP_ESCAPE_LOG            6  /* access log default: " \ CTL,
                                            DEL and 8-bit as \xHH */

/* Escape n bytes of src into dst as `type` says; returns the length of the
 * result. With dst NULL nothing is written: size the buffer with it. */
size_t pt_http_escape(u_char *dst, const u_char *src, size_t n,
                      pt_uint_t type);

/* The value of query argument `name` (case-insensitive) in r->args:
 * PT_OK with value pointing into the args, or PT_DECLINED. */
int pt_http_arg(pt_http_request_t *r, const u_char *name, size_t len,
                pt_str_t *value);

/* The compiled form of a value: literal slices, variable indexes and
 * capture numbers, in order. Rewrite replacements use it too, with part
 * types of their own from PT_HTTP_PART_USER on. */
#define PT_HTTP_PART_LITERAL  0
#define PT_HTTP_PART_VAR      1   /* n: variable index */
#define PT_HTTP_PART_CAPTURE  2   /* n: capture number */
#define PT_HTTP_PART_USER     3

typedef struct {
    pt_uint_t  type;
    pt_uint_t  n;
    pt_str_t   text;      /* PT_HTTP_PART_LITERAL: a slice of the value */
} pt_http_script_part_t;

/* Append a part (an empty literal is skipped). PT_OK or PT_ERROR. */
int pt_http_script_add_part(pt_array_t *parts, pt_uint_t type, pt_uint_t n,
                            u_char *text, size_t len);
/* Compile the "$1".."$9", "$name" or "${name}" just after the '$' at
 * value->data[*pos - 1], advancing *pos; nginx's messages on errors. */
int pt_http_script_compile_variable(pt_conf_t *cf, pt_str_t *value,
                                    size_t *pos, pt_array_t *parts);

#endif /* PT_HTTP_SCRIPT_H */

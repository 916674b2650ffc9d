/*
 * The conditions of the rewrite module's "if": parsed from the directive's
 * arguments at configuration time, evaluated per request.
 */
#ifndef PT_HTTP_REWRITE_IF_H
#define PT_HTTP_REWRITE_IF_H

#include "common/conf.h"
#include "common/pt_types.h"
#include "http_request.h"

typedef struct pt_http_rewrite_cond_s pt_http_rewrite_cond_t;

/* Compile the condition in cf->args[1..nargs) of an "if" directive:
 * "($var)", "($var = str)", "($var != str)", "($var ~ re)" (also ~*, !~,
 * !~*), "(-f path)" (also -d -e -x and their "!" forms). The result lives
 * in cf->pool; NULL on an error, logged with nginx's wording (invalid
 * condition "x", unexpected "x" in condition, a regex message). */
pt_http_rewrite_cond_t *pt_http_rewrite_cond_compile(pt_conf_t *cf);

/* Evaluate c for r: 1 true, 0 false, PT_ERROR (logged; answer 500). A
 * regex that matches leaves its captures in r; one that does not clears
 * them. `log`: rewrite_log is on (notice-level match messages). */
int pt_http_rewrite_cond_eval(pt_http_request_t *r, pt_http_rewrite_cond_t *c,
                              int log);

#endif /* PT_HTTP_REWRITE_IF_H */

/*
 * The rewrite module's "if": its conditions, parsed from the directive's
 * arguments and evaluated per request, and the conf arrays of its block.
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

/* The conf arrays of an "if" block in the current context: every http
 * module's loc conf (cf->pool), the core's named after its parent's and
 * listed in the parent's `nested`, so the http block merges them from
 * it. NULL on allocation failure. */
pt_conf_ctx_t *pt_http_rewrite_if_ctx(pt_conf_t *cf);

/* A server-level "if" block admits only `module`'s directives that carry
 * PT_CONF_IF (nginx's SIF context): PT_OK, or PT_ERROR logged at the
 * first other directive ("not allowed here", or unknown). */
int pt_http_rewrite_if_check_server(pt_conf_t *cf, pt_module_t *module);

#endif /* PT_HTTP_REWRITE_IF_H */

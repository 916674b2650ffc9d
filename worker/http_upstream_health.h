/*
 * Active health checks (worker/http_upstream_health.c) and the `match`
 * blocks that judge a probe's response (worker/http_upstream_match.c).
 */
#ifndef PT_HTTP_UPSTREAM_HEALTH_H
#define PT_HTTP_UPSTREAM_HEALTH_H

#include "common/array.h"
#include "common/conf.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_upstream.h"

typedef struct pt_http_upstream_match_s pt_http_upstream_match_t;

/* One `health_check` directive. */
typedef struct {
    pt_msec_t                     interval;   /* default 5s */
    pt_uint_t                     fails;      /* default 1 */
    pt_uint_t                     passes;     /* default 1 */
    pt_str_t                      uri;        /* default "/" */
    in_port_t                     port;       /* 0: the peer's */
    pt_str_t                      match_name;
    pt_http_upstream_match_t     *match;      /* NULL: 2xx or 3xx */
    void                        **loc_conf;   /* its location's confs */
    pt_http_upstream_srv_conf_t  *upstream;
    const char                   *file;
    pt_uint_t                     line;
} pt_http_upstream_health_check_t;

typedef struct {
    pt_array_t  checks;    /* pt_http_upstream_health_check_t * */
    pt_array_t  matches;   /* pt_http_upstream_match_t * */
} pt_http_upstream_health_main_conf_t;

extern pt_module_t pt_http_upstream_health_module;

/* `match NAME { ... }` (http level): the block setter. */
char *pt_http_upstream_match_block(pt_conf_t *cf, pt_command_t *cmd,
                                   void *conf);
pt_http_upstream_match_t *pt_http_upstream_match_find(
    pt_http_upstream_health_main_conf_t *hmcf, const pt_str_t *name);
/* Does the response read so far (status line, headers, body bytes) pass?
 * `m` NULL: a 2xx or 3xx status. 1 or 0. */
int pt_http_upstream_match_test(pt_http_upstream_match_t *m,
                                const u_char *resp, size_t len);

#endif /* PT_HTTP_UPSTREAM_HEALTH_H */

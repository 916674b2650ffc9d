/*
 * The module list. Order matters: the core module first, then the http
 * core, then http modules. Filters run in reverse order of this list (each
 * one's postconfiguration puts it in front of those registered before it),
 * so the response head passes not_modified, headers, gunzip, charset,
 * gzip, range, then the core's chunked/head writer, as in nginx's
 * ngx_modules (range_header, gzip, ..., charset, ..., gunzip, ...,
 * headers, ..., not_modified). So gunzip sees the origin's gzip before
 * charset would label it; gzip runs after charset set the final type and
 * before range: a compressed response has lost its length and ranges, so
 * the range filter leaves it whole (200); chunked then frames gzip's
 * output. Another encoder (brotli) goes beside gzip, listed after it so
 * that it sees the response first and can take it (gzip then finds a
 * Content-Encoding and passes).
 */
#include "common/core_module.h"
#include "modules.h"

extern pt_module_t pt_http_core_module;
extern pt_module_t pt_http_log_module;
extern pt_module_t pt_http_ssl_module;
extern pt_module_t pt_http_map_module;
extern pt_module_t pt_http_upstream_module;
extern pt_module_t pt_http_upstream_hash_module;
extern pt_module_t pt_http_upstream_ip_hash_module;
extern pt_module_t pt_http_upstream_least_conn_module;
extern pt_module_t pt_http_upstream_random_module;
extern pt_module_t pt_http_upstream_keepalive_module;
extern pt_module_t pt_http_upstream_zone_module;
extern pt_module_t pt_http_upstream_health_module;
extern pt_module_t pt_http_access_module;
extern pt_module_t pt_http_resolver_module;
extern pt_module_t pt_http_realip_module;
extern pt_module_t pt_http_rewrite_module;
extern pt_module_t pt_http_proxy_rewrite_module;
extern pt_module_t pt_http_try_files_module;
extern pt_module_t pt_http_static_module;
extern pt_module_t pt_http_autoindex_module;
extern pt_module_t pt_http_index_module;
extern pt_module_t pt_http_gzip_static_module;
extern pt_module_t pt_http_proxy_module;
extern pt_module_t pt_http_proxy_ssl_module;
extern pt_module_t pt_http_range_filter_module;
extern pt_module_t pt_http_gzip_filter_module;
extern pt_module_t pt_http_charset_filter_module;
extern pt_module_t pt_http_gunzip_filter_module;
extern pt_module_t pt_http_headers_filter_module;
extern pt_module_t pt_http_not_modified_filter_module;

pt_module_t *pt_modules[] = {
    &pt_core_module,
    &pt_http_core_module,
    &pt_http_log_module,
    &pt_http_ssl_module,
    &pt_http_map_module,
    /* upstream groups, then the balancers and wrappers that act on them */
    &pt_http_upstream_module,
    &pt_http_upstream_hash_module,
    &pt_http_upstream_ip_hash_module,
    &pt_http_upstream_least_conn_module,
    &pt_http_upstream_random_module,
    &pt_http_upstream_keepalive_module,
    &pt_http_upstream_zone_module,
    &pt_http_upstream_health_module,
    &pt_http_access_module,
    &pt_http_resolver_module,
    /* after limit_req/limit_conn when they come: its preaccess handler
     * must run before theirs (the last registered runs first) */
    &pt_http_realip_module,
    &pt_http_rewrite_module,
    &pt_http_proxy_rewrite_module,   /* confs only: the proxy calls it */
    &pt_http_try_files_module,
    /* within a phase the last registered runs first: index, then
     * autoindex, then static (as nginx) */
    &pt_http_static_module,
    &pt_http_autoindex_module,
    &pt_http_index_module,
    &pt_http_gzip_static_module,     /* before index and static: its .gz */
    /* location content handlers (proxy_pass) */
    &pt_http_proxy_module,
    &pt_http_proxy_ssl_module,      /* confs only: the proxy calls it */
    /* filters: the last one listed sees the response first */
    &pt_http_range_filter_module,
    &pt_http_gzip_filter_module,
    &pt_http_charset_filter_module,
    &pt_http_gunzip_filter_module,
    &pt_http_headers_filter_module,
    &pt_http_not_modified_filter_module,
    NULL
};

pt_uint_t
pt_modules_init(void)
{
    pt_uint_t i;

    for (i = 0; pt_modules[i] != NULL; i++) {
        pt_modules[i]->index = i;
    }
    return i;
}

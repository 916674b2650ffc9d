/*
 * The http core module's confs (main, server, location), the phase engine
 * and the core directives' values every other http module reads.
 */
#ifndef PT_HTTP_CORE_H
#define PT_HTTP_CORE_H

#include "common/array.h"
#include "common/conf.h"
#include "common/inet.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_request.h"

typedef struct pt_http_srv_conf_s  pt_http_srv_conf_t;
typedef struct pt_http_loc_conf_s  pt_http_loc_conf_t;

typedef enum {
    PT_HTTP_POST_READ_PHASE = 0,   /* realip */
    PT_HTTP_SERVER_REWRITE_PHASE,  /* rewrite module at server level */
    PT_HTTP_FIND_CONFIG_PHASE,     /* location lookup (core only) */
    PT_HTTP_REWRITE_PHASE,         /* rewrite module in the location */
    PT_HTTP_POST_REWRITE_PHASE,    /* back to find-config on a new URI */
    PT_HTTP_PREACCESS_PHASE,       /* limit_req, limit_conn */
    PT_HTTP_ACCESS_PHASE,          /* allow/deny, auth */
    PT_HTTP_POST_ACCESS_PHASE,     /* satisfy any|all verdict */
    PT_HTTP_PRECONTENT_PHASE,      /* try_files */
    PT_HTTP_CONTENT_PHASE,         /* static, index, autoindex, proxy */
    PT_HTTP_LOG_PHASE              /* access log */
} pt_http_phases_e;

#define PT_HTTP_PHASES (PT_HTTP_LOG_PHASE + 1)

typedef struct pt_http_phase_handler_s pt_http_phase_handler_t;
typedef int (*pt_http_phase_checker_pt)(pt_http_request_t *r,
                                        pt_http_phase_handler_t *ph);

struct pt_http_phase_handler_s {
    pt_http_phase_checker_pt  checker;
    pt_http_handler_pt        handler;
    pt_uint_t                 next;     /* first handler of the next phase */
};

/* A `listen` address and the servers on it (worker/http_listen.c). */
typedef struct {
    pt_addr_t            addr;
    pt_str_t             text;
    pt_http_srv_conf_t  *default_server;
    pt_array_t           servers;       /* pt_http_srv_conf_t * */
    void                *names;         /* pt_http_server_names_t * */
    pt_array_t          *subaddrs;      /* wildcard only: the specific
                                           addresses of this port that have
                                           no socket of their own (picked
                                           by getsockname per connection) */
    int                  backlog;
    int                  rcvbuf, sndbuf, fastopen, ipv6only;
    int                  keepalive, keepidle, keepintvl, keepcnt;
    unsigned             reuseport:1, deferred:1, bind:1, set_options:1;
    unsigned             ssl:1, proxy_protocol:1, http2:1;
    unsigned             folded:1;      /* served by a wildcard's socket */
} pt_http_addr_t;

typedef struct {
    pt_array_t                servers;    /* pt_http_srv_conf_t * */
    pt_array_t                addrs;      /* pt_http_addr_t * */
    pt_array_t                phases[PT_HTTP_PHASES];  /* pt_http_handler_pt */
    pt_http_phase_handler_t  *phase_engine;
    pt_uint_t                 phase_engine_n;
    pt_uint_t                 server_rewrite_index;  /* in phase_engine:
                                                       internal redirects
                                                       start there */
    pt_uint_t                 find_config_index;  /* in phase_engine */
    pt_uint_t                 location_rewrite_index;
    pt_array_t                variables;  /* pt_http_variable_t, indexed */
    pt_array_t                all_variables;  /* pt_http_variable_t *, defined */
    pt_array_t                prefix_variables;
    pt_uint_t                 ncaptures;  /* most captures of any regex */
    pt_array_t               *default_types;  /* without any "types" */
} pt_http_core_main_conf_t;

struct pt_http_srv_conf_s {
    pt_conf_ctx_t   *ctx;              /* this server's conf arrays */
    pt_array_t       names;            /* pt_str_t server_name values */
    pt_str_t         server_name;      /* the first name ($server_name) */
    const char      *file;             /* where the server block starts */
    pt_uint_t        line;
    void            *locations;        /* pt_http_location index (root) */

    size_t           client_header_buffer_size;
    size_t           large_client_header_buffers_num;
    size_t           large_client_header_buffers_size;
    pt_msec_t        client_header_timeout;
    int              ignore_invalid_headers;
    int              merge_slashes;
    int              underscores_in_headers;

    unsigned         listen:1;         /* has a listen directive */
    unsigned         captures:1;       /* a regex server_name with captures */
    pt_array_t      *name_regexes;     /* pt_http_regex_t *: regex
                                          server_names, for their named
                                          captures */
};

/* error_page CODE... [=[RESPONSE]] URI */
typedef struct {
    pt_uint_t        status;
    pt_int_t         overwrite;        /* -1: keep; 0: "=" (from target) */
    void            *value;            /* pt_http_complex_value_t * */
} pt_http_err_page_t;

/* try_files FILE... URI|=CODE */
typedef struct {
    void            *value;            /* pt_http_complex_value_t * */
    unsigned         test_dir:1;       /* ends with "/" */
} pt_http_try_file_t;

/* One extension of a "types" block: what Content-Type it maps to. */
typedef struct {
    pt_str_t         ext;
    pt_str_t         type;
} pt_http_type_t;

struct pt_http_loc_conf_s {
    pt_str_t         name;             /* location's URI or @name; "" for
                                          the server level */
    void            *location;         /* pt_http_location_t *, NULL at the
                                          server and http levels */
    void           **loc_conf;         /* this level's conf array */
    void            *locations;        /* nested locations' index */
    void            *regex;            /* pt_http_regex_t *: a regex
                                          location's named captures */
    pt_array_t      *nested;           /* void **: conf arrays of the
                                          "if" blocks inside, merged from
                                          this level (nginx's unnamed
                                          locations) */

    unsigned         exact_match:1;
    unsigned         noregex:1;
    unsigned         named:1;
    unsigned         internal:1;       /* "internal" directive */
    unsigned         alias:1;          /* root holds an alias */
    unsigned         regex_location:1;

    /* the location's content handler (proxy_pass...): runs before the
     * content phase's handlers and instead of them */
    pt_http_handler_pt handler;

    pt_str_t         root;             /* NUL-terminated, absolute */
    void            *root_values;      /* pt_http_complex_value_t *, when
                                          root/alias has variables */
    pt_str_t         default_type;
    pt_array_t      *types;            /* pt_http_type_t */

    off_t            client_max_body_size;
    size_t           client_body_buffer_size;
    pt_msec_t        client_body_timeout;
    pt_path_t       *client_body_temp_path;
    pt_msec_t        send_timeout;
    pt_msec_t        keepalive_timeout;
    time_t           keepalive_header;   /* Keep-Alive: timeout=N, 0: none */
    pt_uint_t        keepalive_requests;
    pt_msec_t        keepalive_time;
    pt_msec_t        keepalive_min_timeout;
    pt_uint_t        lingering_close;    /* PT_HTTP_LINGERING_* */
    pt_msec_t        lingering_time;
    pt_msec_t        lingering_timeout;
    int              reset_timedout_connection;
    pt_uint_t        server_tokens;      /* PT_HTTP_SERVER_TOKENS_* */
    int              sendfile;
    int              tcp_nopush;
    int              tcp_nodelay;
    int              log_not_found;
    int              log_subrequest;
    int              recursive_error_pages;
    int              chunked_transfer_encoding;
    int              etag;
    pt_uint_t        if_modified_since;  /* PT_HTTP_IMS_* */
    pt_uint_t        max_ranges;
    int              absolute_redirect;
    int              port_in_redirect;
    int              server_name_in_redirect;
    int              msie_padding;
    int              msie_refresh;
    pt_uint_t        satisfy;            /* PT_HTTP_SATISFY_* */
    size_t           postpone_output;
    size_t           limit_rate;
    size_t           limit_rate_after;
    void            *limit_rate_cv;      /* pt_http_complex_value_t *, when
                                            the value has variables */
    void            *limit_rate_after_cv;
    size_t           sendfile_max_chunk;
    pt_array_t      *error_pages;        /* pt_http_err_page_t */
    pt_array_t      *try_files;          /* pt_http_try_file_t; last is the
                                            fallback URI or =code */
    pt_log_t        *error_log;          /* NULL: the server's */
};

#define PT_HTTP_LINGERING_OFF     0
#define PT_HTTP_LINGERING_ON      1
#define PT_HTTP_LINGERING_ALWAYS  2

#define PT_HTTP_SERVER_TOKENS_OFF   0
#define PT_HTTP_SERVER_TOKENS_ON    1
#define PT_HTTP_SERVER_TOKENS_BUILD 2

#define PT_HTTP_IMS_OFF     0
#define PT_HTTP_IMS_EXACT   1
#define PT_HTTP_IMS_BEFORE  2

#define PT_HTTP_SATISFY_ALL 0
#define PT_HTTP_SATISFY_ANY 1

extern pt_module_t pt_http_core_module;

#define pt_http_core_loc_conf(r)                                              \
    ((pt_http_loc_conf_t *) (r)->loc_conf[pt_http_core_module.index])
#define pt_http_core_srv_conf(r)                                              \
    ((pt_http_srv_conf_t *) (r)->srv_conf[pt_http_core_module.index])
#define pt_http_core_main_conf(r)                                             \
    ((pt_http_core_main_conf_t *) (r)->main_conf[pt_http_core_module.index])

/* The conf of module m in the conf context being parsed. */
#define pt_http_conf_get_module_main_conf(cf, m)                              \
    ((cf)->ctx->main_conf[(m).index])
#define pt_http_conf_get_module_srv_conf(cf, m)                               \
    ((cf)->ctx->srv_conf[(m).index])
#define pt_http_conf_get_module_loc_conf(cf, m)                               \
    ((cf)->ctx->loc_conf[(m).index])

/* Set r->loc_conf (and limits that depend on it) after a location match. */
void pt_http_update_location_config(pt_http_request_t *r);

/* The location's error log (for messages about this request). */
pt_log_t *pt_http_request_log(pt_http_request_t *r);

#endif /* PT_HTTP_CORE_H */

/*
 * The http core module's directives: paths, types, limits and timeouts,
 * keep-alive and lingering close, error pages and try_files. Blocks
 * (http, server, location) and listen live in http.c and http_listen.c.
 */
#include <string.h>

#include "common/array.h"
#include "common/core_module.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/path.h"
#include "common/pool.h"
#include "common/syslog.h"
#include "http.h"
#include "http_core.h"
#include "http_listen.h"
#include "http_script.h"
#include "http_variables.h"

static void *create_main_conf(pt_conf_t *cf);
static void *create_srv_conf(pt_conf_t *cf);
static char *merge_srv_conf(pt_conf_t *cf, void *prev, void *conf);
static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *prev, void *conf);
static char *set_root(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_rate_size(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_types(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_keepalive(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_large_buffers(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_error_page(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_try_files(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_internal(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_error_log(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_server_name(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static const pt_conf_enum_t lingering_values[] = {
    { "off", PT_HTTP_LINGERING_OFF }, { "on", PT_HTTP_LINGERING_ON },
    { "always", PT_HTTP_LINGERING_ALWAYS }, { NULL, 0 }
};
static const pt_conf_enum_t tokens_values[] = {
    { "off", PT_HTTP_SERVER_TOKENS_OFF }, { "on", PT_HTTP_SERVER_TOKENS_ON },
    { "build", PT_HTTP_SERVER_TOKENS_BUILD }, { NULL, 0 }
};
static const pt_conf_enum_t ims_values[] = {
    { "off", PT_HTTP_IMS_OFF }, { "exact", PT_HTTP_IMS_EXACT },
    { "before", PT_HTTP_IMS_BEFORE }, { NULL, 0 }
};
static const pt_conf_enum_t satisfy_values[] = {
    { "all", PT_HTTP_SATISFY_ALL }, { "any", PT_HTTP_SATISFY_ANY },
    { NULL, 0 }
};
static const int notice = 1;

#define HTTP_ALL   (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)
#define LOC(f)     PT_CONF_LOC_OFFSET, offsetof(pt_http_loc_conf_t, f)
#define SRV(f)     PT_CONF_SRV_OFFSET, offsetof(pt_http_srv_conf_t, f)

static pt_command_t core_commands[] = {
    { "http", PT_CONF_MAIN | PT_CONF_BLOCK | PT_CONF_NOARGS | PT_CONF_DIRECT,
      pt_http_block, PT_CONF_MAIN_OFFSET, 0, NULL },
    { "server", PT_CONF_HTTP | PT_CONF_BLOCK | PT_CONF_NOARGS,
      pt_http_server_block, PT_CONF_MAIN_OFFSET, 0, NULL },
    { "location", PT_CONF_SERVER | PT_CONF_LOCATION | PT_CONF_BLOCK
      | PT_CONF_TAKE12, pt_http_location_block, PT_CONF_LOC_OFFSET, 0, NULL },
    { "listen", PT_CONF_SERVER | PT_CONF_1MORE, pt_http_listen_set,
      PT_CONF_SRV_OFFSET, 0, NULL },
    { "server_name", PT_CONF_SERVER | PT_CONF_1MORE, set_server_name,
      PT_CONF_SRV_OFFSET, 0, NULL },

    { "client_header_buffer_size", PT_CONF_HTTP | PT_CONF_SERVER
      | PT_CONF_TAKE1, pt_conf_set_size, SRV(client_header_buffer_size), NULL },
    { "large_client_header_buffers", PT_CONF_HTTP | PT_CONF_SERVER
      | PT_CONF_TAKE2, set_large_buffers, PT_CONF_SRV_OFFSET, 0, NULL },
    { "client_header_timeout", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_TAKE1,
      pt_conf_set_msec, SRV(client_header_timeout), NULL },
    { "ignore_invalid_headers", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_FLAG,
      pt_conf_set_flag, SRV(ignore_invalid_headers), NULL },
    { "merge_slashes", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_FLAG,
      pt_conf_set_flag, SRV(merge_slashes), NULL },
    { "underscores_in_headers", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_FLAG,
      pt_conf_set_flag, SRV(underscores_in_headers), NULL },

    { "root", HTTP_ALL | PT_CONF_IF | PT_CONF_TAKE1, set_root,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "alias", PT_CONF_LOCATION | PT_CONF_TAKE1, set_root,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "types", HTTP_ALL | PT_CONF_BLOCK | PT_CONF_NOARGS, set_types,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "default_type", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_str,
      LOC(default_type), NULL },
    { "client_max_body_size", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_off,
      LOC(client_max_body_size), NULL },
    { "client_body_buffer_size", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_size,
      LOC(client_body_buffer_size), NULL },
    { "client_body_timeout", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_msec,
      LOC(client_body_timeout), NULL },
    { "client_body_temp_path", HTTP_ALL | PT_CONF_TAKE1234, pt_path_conf_set,
      LOC(client_body_temp_path), NULL },
    { "send_timeout", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_msec,
      LOC(send_timeout), NULL },
    { "keepalive_timeout", HTTP_ALL | PT_CONF_TAKE12, set_keepalive,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "keepalive_requests", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_num,
      LOC(keepalive_requests), NULL },
    { "keepalive_time", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_msec,
      LOC(keepalive_time), NULL },
    { "keepalive_min_timeout", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_msec,
      LOC(keepalive_min_timeout), NULL },
    { "keepalive_disable", HTTP_ALL | PT_CONF_TAKE12, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "lingering_close", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_enum,
      LOC(lingering_close), lingering_values },
    { "lingering_time", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_msec,
      LOC(lingering_time), NULL },
    { "lingering_timeout", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_msec,
      LOC(lingering_timeout), NULL },
    { "reset_timedout_connection", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(reset_timedout_connection), NULL },
    { "server_tokens", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_enum,
      LOC(server_tokens), tokens_values },
    { "sendfile", HTTP_ALL | PT_CONF_IF | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(sendfile), NULL },
    { "sendfile_max_chunk", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_size,
      LOC(sendfile_max_chunk), NULL },
    { "tcp_nopush", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(tcp_nopush), NULL },
    { "tcp_nodelay", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(tcp_nodelay), NULL },
    { "log_not_found", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(log_not_found), NULL },
    { "log_subrequest", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(log_subrequest), NULL },
    { "recursive_error_pages", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(recursive_error_pages), NULL },
    { "chunked_transfer_encoding", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(chunked_transfer_encoding), NULL },
    { "etag", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag, LOC(etag), NULL },
    { "if_modified_since", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_enum,
      LOC(if_modified_since), ims_values },
    { "max_ranges", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_num,
      LOC(max_ranges), NULL },
    { "absolute_redirect", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(absolute_redirect), NULL },
    { "port_in_redirect", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(port_in_redirect), NULL },
    { "server_name_in_redirect", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(server_name_in_redirect), NULL },
    { "msie_padding", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(msie_padding), NULL },
    { "msie_refresh", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_flag,
      LOC(msie_refresh), NULL },
    { "satisfy", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_enum, LOC(satisfy),
      satisfy_values },
    { "postpone_output", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_size,
      LOC(postpone_output), NULL },
    { "limit_rate", HTTP_ALL | PT_CONF_IF | PT_CONF_TAKE1, set_rate_size,
      LOC(limit_rate), NULL },
    { "limit_rate_after", HTTP_ALL | PT_CONF_IF | PT_CONF_TAKE1,
      set_rate_size, LOC(limit_rate_after), NULL },
    { "error_page", HTTP_ALL | PT_CONF_IF | PT_CONF_2MORE, set_error_page,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "try_files", PT_CONF_SERVER | PT_CONF_LOCATION | PT_CONF_2MORE,
      set_try_files, PT_CONF_LOC_OFFSET, 0, NULL },
    { "internal", PT_CONF_LOCATION | PT_CONF_NOARGS, set_internal,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "error_log", HTTP_ALL | PT_CONF_1MORE, set_error_log,
      PT_CONF_LOC_OFFSET, 0, NULL },

    /* accepted with a notice: no effect in Portico (yet) */
    { "open_file_cache", HTTP_ALL | PT_CONF_TAKE12, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, &notice },
    { "open_file_cache_valid", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "open_file_cache_min_uses", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "open_file_cache_errors", HTTP_ALL | PT_CONF_FLAG, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "output_buffers", HTTP_ALL | PT_CONF_TAKE2, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "directio", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, &notice },
    { "aio", HTTP_ALL | PT_CONF_TAKE12, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, &notice },
    { "send_lowat", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    /* nginx's hash tuning has no meaning here but appears in real configs */
    { "types_hash_max_size", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "types_hash_bucket_size", HTTP_ALL | PT_CONF_TAKE1, pt_conf_set_noop,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "server_names_hash_max_size", PT_CONF_HTTP | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "server_names_hash_bucket_size", PT_CONF_HTTP | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "variables_hash_max_size", PT_CONF_HTTP | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "variables_hash_bucket_size", PT_CONF_HTTP | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_headers_hash_max_size", HTTP_ALL | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_headers_hash_bucket_size", HTTP_ALL | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_core_module = {
    "http_core", core_commands,
    create_main_conf, NULL,
    create_srv_conf, merge_srv_conf,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

static void *
create_main_conf(pt_conf_t *cf)
{
    pt_http_core_main_conf_t *cmcf = pt_pcalloc(cf->pool, sizeof(*cmcf));
    pt_uint_t                 i;

    if (cmcf == NULL
        || pt_array_init(&cmcf->servers, cf->pool, 4, sizeof(void *)) != PT_OK
        || pt_array_init(&cmcf->addrs, cf->pool, 4, sizeof(void *)) != PT_OK
        || pt_array_init(&cmcf->variables, cf->pool, 16,
                         sizeof(pt_http_variable_t)) != PT_OK
        || pt_array_init(&cmcf->all_variables, cf->pool, 64, sizeof(void *))
           != PT_OK
        || pt_array_init(&cmcf->prefix_variables, cf->pool, 8,
                         sizeof(pt_http_variable_t)) != PT_OK)
    {
        return NULL;
    }
    for (i = 0; i < PT_HTTP_PHASES; i++) {
        if (pt_array_init(&cmcf->phases[i], cf->pool, 2,
                          sizeof(pt_http_handler_pt)) != PT_OK)
        {
            return NULL;
        }
    }
    return cmcf;
}

static void *
create_srv_conf(pt_conf_t *cf)
{
    pt_http_srv_conf_t *scf = pt_pcalloc(cf->pool, sizeof(*scf));

    if (scf == NULL
        || pt_array_init(&scf->names, cf->pool, 2, sizeof(pt_str_t)) != PT_OK)
    {
        return NULL;
    }
    scf->client_header_buffer_size = PT_CONF_UNSET_SIZE;
    scf->large_client_header_buffers_num = PT_CONF_UNSET_SIZE;
    scf->large_client_header_buffers_size = PT_CONF_UNSET_SIZE;
    scf->client_header_timeout = PT_CONF_UNSET_MSEC;
    scf->ignore_invalid_headers = PT_CONF_UNSET;
    scf->merge_slashes = PT_CONF_UNSET;
    scf->underscores_in_headers = PT_CONF_UNSET;
    return scf;
}

static char *
merge_srv_conf(pt_conf_t *cf, void *prev, void *conf)
{
    pt_http_srv_conf_t *p = prev, *c = conf;

    pt_conf_merge_size(c->client_header_buffer_size,
                       p->client_header_buffer_size, 1024);
    pt_conf_merge_size(c->large_client_header_buffers_num,
                       p->large_client_header_buffers_num, 4);
    pt_conf_merge_size(c->large_client_header_buffers_size,
                       p->large_client_header_buffers_size, 8192);
    pt_conf_merge_msec(c->client_header_timeout, p->client_header_timeout,
                       60000);
    pt_conf_merge_value(c->ignore_invalid_headers, p->ignore_invalid_headers,
                        1);
    pt_conf_merge_value(c->merge_slashes, p->merge_slashes, 1);
    pt_conf_merge_value(c->underscores_in_headers, p->underscores_in_headers,
                        0);
    if (c->large_client_header_buffers_size < c->client_header_buffer_size) {
        /* a line that did not fit the first buffer must fit a large one */
        c->large_client_header_buffers_size = c->client_header_buffer_size;
    }
    if (c->names.nelts > 0) {
        c->server_name = ((pt_str_t *) c->names.elts)[0];
        if (c->server_name.len > 1 && c->server_name.data[0] == '.') {
            /* ".example.com" names example.com ($server_name), as nginx */
            c->server_name.data++;
            c->server_name.len--;
        }
    }
    return PT_CONF_OK;
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    pt_http_loc_conf_t *l = pt_pcalloc(cf->pool, sizeof(*l));

    if (l == NULL) {
        return NULL;
    }
    l->root_values = PT_CONF_UNSET_PTR;
    l->types = PT_CONF_UNSET_PTR;
    l->client_max_body_size = PT_CONF_UNSET;
    l->client_body_buffer_size = PT_CONF_UNSET_SIZE;
    l->client_body_timeout = PT_CONF_UNSET_MSEC;
    l->send_timeout = PT_CONF_UNSET_MSEC;
    l->keepalive_timeout = PT_CONF_UNSET_MSEC;
    l->keepalive_header = PT_CONF_UNSET;
    l->keepalive_requests = PT_CONF_UNSET_UINT;
    l->keepalive_time = PT_CONF_UNSET_MSEC;
    l->keepalive_min_timeout = PT_CONF_UNSET_MSEC;
    l->lingering_close = PT_CONF_UNSET_UINT;
    l->lingering_time = PT_CONF_UNSET_MSEC;
    l->lingering_timeout = PT_CONF_UNSET_MSEC;
    l->reset_timedout_connection = PT_CONF_UNSET;
    l->server_tokens = PT_CONF_UNSET_UINT;
    l->sendfile = PT_CONF_UNSET;
    l->sendfile_max_chunk = PT_CONF_UNSET_SIZE;
    l->tcp_nopush = PT_CONF_UNSET;
    l->tcp_nodelay = PT_CONF_UNSET;
    l->log_not_found = PT_CONF_UNSET;
    l->log_subrequest = PT_CONF_UNSET;
    l->recursive_error_pages = PT_CONF_UNSET;
    l->chunked_transfer_encoding = PT_CONF_UNSET;
    l->etag = PT_CONF_UNSET;
    l->if_modified_since = PT_CONF_UNSET_UINT;
    l->max_ranges = PT_CONF_UNSET_UINT;
    l->absolute_redirect = PT_CONF_UNSET;
    l->port_in_redirect = PT_CONF_UNSET;
    l->server_name_in_redirect = PT_CONF_UNSET;
    l->msie_padding = PT_CONF_UNSET;
    l->msie_refresh = PT_CONF_UNSET;
    l->satisfy = PT_CONF_UNSET_UINT;
    l->postpone_output = PT_CONF_UNSET_SIZE;
    l->limit_rate = PT_CONF_UNSET_SIZE;
    l->limit_rate_after = PT_CONF_UNSET_SIZE;
    l->error_pages = PT_CONF_UNSET_PTR;
    l->try_files = PT_CONF_UNSET_PTR;
    l->error_log = PT_CONF_UNSET_PTR;
    return l;
}

#define merge_uint(c, p, d)                                                   \
    do { if ((c) == PT_CONF_UNSET_UINT)                                       \
         (c) = ((p) == PT_CONF_UNSET_UINT) ? (d) : (p); } while (0)

/* nginx's types when no "types" block is given anywhere: html, gif, jpg
 * (one array per http block, shared by its locations). */
static pt_array_t *
default_types(pt_conf_t *cf)
{
    static const char *pairs[][2] = {
        { "html", "text/html" }, { "gif", "image/gif" },
        { "jpg", "image/jpeg" },
    };
    pt_http_core_main_conf_t *cmcf;
    pt_http_type_t             *t;
    size_t                    i;

    cmcf = pt_http_conf_get_module_main_conf(cf, pt_http_core_module);
    if (cmcf->default_types != NULL) {
        return cmcf->default_types;
    }
    cmcf->default_types = pt_array_create(cf->pool, 3, sizeof(pt_http_type_t));
    if (cmcf->default_types == NULL) {
        return NULL;
    }
    for (i = 0; i < pt_nelems(pairs); i++) {
        t = pt_array_push(cmcf->default_types);
        if (t == NULL) {
            return NULL;
        }
        t->ext.data = (u_char *) pairs[i][0];
        t->ext.len = strlen(pairs[i][0]);
        t->type.data = (u_char *) pairs[i][1];
        t->type.len = strlen(pairs[i][1]);
    }
    return cmcf->default_types;
}

/* Paths and types: inherited as a whole, as nginx. */
static char *
merge_paths(pt_conf_t *cf, pt_http_loc_conf_t *p, pt_http_loc_conf_t *c)
{
    pt_str_t def;

    if (c->root.data == NULL) {
        c->alias = p->alias;
        c->root = p->root;
        c->root_values = p->root_values;
        if (c->root.data == NULL) {
            pt_str_set(&def, "html");
            c->root = def;
            c->root_values = NULL;
            if (pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix,
                                         &c->root) != PT_OK)
            {
                return PT_CONF_ERROR;
            }
        }
    }
    if (c->root_values == PT_CONF_UNSET_PTR) {
        c->root_values = NULL;
    }
    pt_conf_merge_ptr(c->types, p->types, NULL);
    if (c->types == NULL) {
        c->types = default_types(cf);
        if (c->types == NULL) {
            return PT_CONF_ERROR;
        }
    }
    pt_conf_merge_str(c->default_type, p->default_type, "text/plain");
    /* nginx's default has no levels */
    return pt_path_merge(cf, &c->client_body_temp_path,
                         p->client_body_temp_path, "client_body_temp", 0, 0);
}

static char *
merge_loc_conf(pt_conf_t *cf, void *prev, void *conf)
{
    pt_http_loc_conf_t *p = prev, *c = conf;

    if (merge_paths(cf, p, c) != PT_CONF_OK) {
        return PT_CONF_ERROR;
    }
    if (c->handler == NULL && c->location != NULL
        && c->location == p->location)
    {
        /* an "if" block runs its location's content handler (nginx's
         * unnamed locations inherit proxy_pass) */
        c->handler = p->handler;
    }
    pt_conf_merge_value(c->client_max_body_size, p->client_max_body_size,
                        1024 * 1024);
    pt_conf_merge_size(c->client_body_buffer_size, p->client_body_buffer_size,
                       16384);
    pt_conf_merge_msec(c->client_body_timeout, p->client_body_timeout, 60000);
    pt_conf_merge_msec(c->send_timeout, p->send_timeout, 60000);
    pt_conf_merge_msec(c->keepalive_timeout, p->keepalive_timeout, 75000);
    pt_conf_merge_value(c->keepalive_header, p->keepalive_header, 0);
    merge_uint(c->keepalive_requests, p->keepalive_requests, 1000);
    pt_conf_merge_msec(c->keepalive_time, p->keepalive_time, 3600000);
    /* Portico's default is non-zero (README, Differences from nginx) */
    pt_conf_merge_msec(c->keepalive_min_timeout, p->keepalive_min_timeout,
                       1000);
    merge_uint(c->lingering_close, p->lingering_close, PT_HTTP_LINGERING_ON);
    pt_conf_merge_msec(c->lingering_time, p->lingering_time, 30000);
    pt_conf_merge_msec(c->lingering_timeout, p->lingering_timeout, 5000);
    pt_conf_merge_value(c->reset_timedout_connection,
                        p->reset_timedout_connection, 0);
    merge_uint(c->server_tokens, p->server_tokens, PT_HTTP_SERVER_TOKENS_ON);
    pt_conf_merge_value(c->sendfile, p->sendfile, 0);
    pt_conf_merge_size(c->sendfile_max_chunk, p->sendfile_max_chunk,
                       2 * 1024 * 1024);
    pt_conf_merge_value(c->tcp_nopush, p->tcp_nopush, 0);
    pt_conf_merge_value(c->tcp_nodelay, p->tcp_nodelay, 1);
    pt_conf_merge_value(c->log_not_found, p->log_not_found, 1);
    pt_conf_merge_value(c->log_subrequest, p->log_subrequest, 0);
    pt_conf_merge_value(c->recursive_error_pages, p->recursive_error_pages, 0);
    pt_conf_merge_value(c->chunked_transfer_encoding,
                        p->chunked_transfer_encoding, 1);
    pt_conf_merge_value(c->etag, p->etag, 1);
    merge_uint(c->if_modified_since, p->if_modified_since, PT_HTTP_IMS_EXACT);
    merge_uint(c->max_ranges, p->max_ranges, (pt_uint_t) PT_MAX_INT_T);
    pt_conf_merge_value(c->absolute_redirect, p->absolute_redirect, 1);
    pt_conf_merge_value(c->port_in_redirect, p->port_in_redirect, 1);
    pt_conf_merge_value(c->server_name_in_redirect,
                        p->server_name_in_redirect, 0);
    pt_conf_merge_value(c->msie_padding, p->msie_padding, 1);
    pt_conf_merge_value(c->msie_refresh, p->msie_refresh, 0);
    merge_uint(c->satisfy, p->satisfy, PT_HTTP_SATISFY_ALL);
    pt_conf_merge_size(c->postpone_output, p->postpone_output, 1460);
    if (c->limit_rate == PT_CONF_UNSET_SIZE) {
        c->limit_rate_cv = p->limit_rate_cv;
    }
    if (c->limit_rate_after == PT_CONF_UNSET_SIZE) {
        c->limit_rate_after_cv = p->limit_rate_after_cv;
    }
    pt_conf_merge_size(c->limit_rate, p->limit_rate, 0);
    pt_conf_merge_size(c->limit_rate_after, p->limit_rate_after, 0);
    pt_conf_merge_ptr(c->error_pages, p->error_pages, NULL);
    pt_conf_merge_ptr(c->try_files, p->try_files, NULL);
    pt_conf_merge_ptr(c->error_log, p->error_log, NULL);
    return PT_CONF_OK;
}

/* A regex server_name is also compiled through the variables module now,
 * while variables can still be defined: its named captures become
 * variables, set when it selects the server (http_request.c). */
static int
add_name_regex(pt_conf_t *cf, pt_http_srv_conf_t *scf, pt_str_t *name)
{
    pt_http_regex_t **re;
    pt_str_t          pattern;

    if (scf->name_regexes == NULL) {
        scf->name_regexes = pt_array_create(cf->pool, 2, sizeof(void *));
        if (scf->name_regexes == NULL) {
            return PT_ERROR;
        }
    }
    re = pt_array_push(scf->name_regexes);
    if (re == NULL) {
        return PT_ERROR;
    }
    *re = pt_pcalloc(cf->pool, sizeof(pt_http_regex_t));
    if (*re == NULL) {
        return PT_ERROR;
    }
    pattern.data = name->data + 1;
    pattern.len = name->len - 1;
    /* server names match without regard to case, as in nginx */
    return pt_http_regex_compile(cf, *re, &pattern, 1);
}

static char *
set_server_name(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_srv_conf_t *scf = conf;
    pt_str_t           *name;
    pt_uint_t           i;

    for (i = 1; i < cf->nargs; i++) {
        if (cf->args[i].len > 0 && cf->args[i].data[0] == '$') {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "server name \"%.*s\" has "
                              "suspicious symbols", (int) cf->args[i].len,
                              cf->args[i].data);
            return PT_CONF_ERROR;
        }
        name = pt_array_push(&scf->names);
        if (name == NULL) {
            return PT_CONF_ERROR;
        }
        *name = cf->args[i];
        if (name->len > 1 && name->data[0] == '~'
            && add_name_regex(cf, scf, name) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    }
    return PT_CONF_OK;
}

/* root PATH / alias PATH: relative paths are taken from the prefix; a path
 * with variables is evaluated per request. */
/* limit_rate, limit_rate_after: a size, or (nginx 1.17.0+) a value with
 * variables, evaluated when the response is first written. */
static char *
set_rate_size(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t      *lcf = conf;
    pt_http_complex_value_t *cv;
    size_t                  *size = (size_t *) ((char *) conf + cmd->offset);
    pt_str_t                 value = cf->args[1];

    if (memchr(value.data, '$', value.len) == NULL) {
        return pt_conf_set_size(cf, cmd, conf);
    }
    if (*size != PT_CONF_UNSET_SIZE) {
        return "is duplicate";
    }
    cv = pt_pcalloc(cf->pool, sizeof(*cv));
    if (cv == NULL || pt_http_compile_complex_value(cf, &value, cv) != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    *size = 0;
    if (size == &lcf->limit_rate) {
        lcf->limit_rate_cv = cv;
    } else {
        lcf->limit_rate_after_cv = cv;
    }
    return PT_CONF_OK;
}

static char *
set_root(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t       *lcf = conf;
    pt_http_complex_value_t  *cv;
    pt_str_t                  value = cf->args[1];
    int                       alias = strcmp(cmd->name, "alias") == 0;

    if (lcf->root.data != NULL) {
        if ((lcf->alias != 0) != alias) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"%s\" directive is "
                              "duplicate, \"%s\" directive was specified "
                              "earlier", cmd->name, lcf->alias ? "alias"
                                                               : "root");
            return PT_CONF_ERROR;
        }
        return "is duplicate";
    }
    if (lcf->named && alias) {
        return "is not allowed inside named location";
    }
    if (!alias && value.len > 0 && value.data[value.len - 1] == '/') {
        value.len--;   /* root "/www/" is root "/www" */
    }
    lcf->alias = alias;

    if (memchr(value.data, '$', value.len) != NULL) {
        cv = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
        if (cv == NULL || pt_http_compile_complex_value(cf, &value, cv)
                          != PT_OK)
        {
            return PT_CONF_ERROR;
        }
        lcf->root_values = cv;
        lcf->root = value;
        return PT_CONF_OK;
    }
    lcf->root_values = NULL;
    lcf->root = value;
    if (pt_conf_full_name_prefix(cf->pool, &cf->cycle->prefix, &lcf->root)
        != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* types { TYPE EXT...; ... }: the block's lines are data, not directives. */
static char *
set_types(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t *lcf = conf;
    pt_conf_node_t     *n;
    pt_http_type_t       *t, *e;
    pt_uint_t           i, j;

    if (lcf->types == PT_CONF_UNSET_PTR || lcf->types == NULL) {
        lcf->types = pt_array_create(cf->pool, 64, sizeof(pt_http_type_t));
        if (lcf->types == NULL) {
            return PT_CONF_ERROR;
        }
    }
    for (n = cf->node->children; n != NULL; n = n->next) {
        if (n->block || n->nargs < 2) {
            pt_log_error(PT_LOG_EMERG, cf->log, 0, "invalid number of "
                         "arguments in \"%.*s\" directive in %s:%lu",
                         (int) n->args[0].len, n->args[0].data, n->file,
                         (unsigned long) n->line);
            return PT_CONF_ERROR;
        }
        if (pt_str_eq_cstr(&n->args[0], "include")) {
            continue;   /* the parser expanded it already */
        }
        for (i = 1; i < n->nargs; i++) {
            e = lcf->types->elts;
            for (j = 0; j < lcf->types->nelts; j++) {
                if (pt_str_eq(&e[j].ext, &n->args[i])) {
                    pt_log_error(PT_LOG_WARN, cf->log, 0, "duplicate "
                                 "extension \"%.*s\", content type: \"%.*s\","
                                 " previous content type: \"%.*s\" in %s:%lu",
                                 (int) n->args[i].len, n->args[i].data,
                                 (int) n->args[0].len, n->args[0].data,
                                 (int) e[j].type.len, e[j].type.data,
                                 n->file, (unsigned long) n->line);
                    e[j].type = n->args[0];
                    goto next_ext;
                }
            }
            t = pt_array_push(lcf->types);
            if (t == NULL) {
                return PT_CONF_ERROR;
            }
            t->ext = n->args[i];
            t->type = n->args[0];
        next_ext:
            continue;
        }
    }
    return PT_CONF_OK;
}

/* keepalive_timeout TIMEOUT [HEADER_TIMEOUT] */
static char *
set_keepalive(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t *lcf = conf;
    pt_int_t            t;

    if (lcf->keepalive_timeout != PT_CONF_UNSET_MSEC) {
        return "is duplicate";
    }
    t = pt_parse_time(&cf->args[1], 0);
    if (t == PT_ERROR) {
        return "invalid value";
    }
    lcf->keepalive_timeout = t;
    if (cf->nargs == 3) {
        t = pt_parse_time(&cf->args[2], 1);
        if (t == PT_ERROR) {
            return "invalid value";
        }
        lcf->keepalive_header = t;
    }
    return PT_CONF_OK;
}

static char *
set_large_buffers(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_srv_conf_t *scf = conf;
    pt_int_t            n;
    ssize_t             size;

    if (scf->large_client_header_buffers_num != PT_CONF_UNSET_SIZE) {
        return "is duplicate";
    }
    n = pt_atoi(cf->args[1].data, cf->args[1].len);
    size = pt_parse_size(&cf->args[2]);
    if (n == PT_ERROR || n == 0 || size == PT_ERROR || size == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid value \"%.*s %.*s\"",
                          (int) cf->args[1].len, cf->args[1].data,
                          (int) cf->args[2].len, cf->args[2].data);
        return PT_CONF_ERROR;
    }
    if (size <= 1) {
        return "value must be greater than 1";
    }
    scf->large_client_header_buffers_num = (size_t) n;
    scf->large_client_header_buffers_size = (size_t) size;
    return PT_CONF_OK;
}

/* error_page CODE ... [=[RESPONSE]] URI */
static char *
set_error_page(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t       *lcf = conf;
    pt_http_err_page_t       *page;
    pt_http_complex_value_t  *cv;
    pt_str_t                 *uri = &cf->args[cf->nargs - 1], *a;
    pt_uint_t                 i, last = cf->nargs - 1;
    pt_int_t                  overwrite = -1, code;

    if (lcf->error_pages == PT_CONF_UNSET_PTR || lcf->error_pages == NULL) {
        lcf->error_pages = pt_array_create(cf->pool, 4,
                                           sizeof(pt_http_err_page_t));
        if (lcf->error_pages == NULL) {
            return PT_CONF_ERROR;
        }
    }
    a = &cf->args[last - 1];
    if (a->len > 0 && a->data[0] == '=') {
        last--;
        if (a->len == 1) {
            overwrite = 0;
        } else {
            overwrite = pt_atoi(a->data + 1, a->len - 1);
            if (overwrite == PT_ERROR || overwrite < 200 || overwrite > 599) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid value "
                                  "\"%.*s\"", (int) a->len, a->data);
                return PT_CONF_ERROR;
            }
        }
        if (last < 2) {
            return "invalid number of arguments";
        }
    }

    cv = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
    if (cv == NULL || pt_http_compile_complex_value(cf, uri, cv) != PT_OK) {
        return PT_CONF_ERROR;
    }

    for (i = 1; i < last; i++) {
        code = pt_atoi(cf->args[i].data, cf->args[i].len);
        if (code == PT_ERROR || code < 300 || code > 599 || code == 499) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "value \"%.*s\" must be "
                              "between 300 and 599", (int) cf->args[i].len,
                              cf->args[i].data);
            return PT_CONF_ERROR;
        }
        page = pt_array_push(lcf->error_pages);
        if (page == NULL) {
            return PT_CONF_ERROR;
        }
        page->status = (pt_uint_t) code;
        /* a named location or a full URL keeps the status as nginx does */
        page->overwrite = overwrite;
        if (overwrite == -1 && (uri->data[0] == '@' || code == 494
                                || code == 495 || code == 496 || code == 497))
        {
            page->overwrite = -1;
        }
        page->value = cv;
    }
    return PT_CONF_OK;
}

/* try_files FILE ... URI | =CODE */
static char *
set_try_files(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t       *lcf = conf;
    pt_http_try_file_t       *tf;
    pt_http_complex_value_t  *cv;
    pt_str_t                  v;
    pt_uint_t                 i;
    pt_int_t                  code;

    if (lcf->try_files != PT_CONF_UNSET_PTR) {
        return "is duplicate";
    }
    lcf->try_files = pt_array_create(cf->pool, cf->nargs,
                                     sizeof(pt_http_try_file_t));
    if (lcf->try_files == NULL) {
        return PT_CONF_ERROR;
    }
    for (i = 1; i < cf->nargs; i++) {
        v = cf->args[i];
        tf = pt_array_push(lcf->try_files);
        cv = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
        if (tf == NULL || cv == NULL) {
            return PT_CONF_ERROR;
        }
        tf->test_dir = i + 1 < cf->nargs && v.len > 0
                       && v.data[v.len - 1] == '/';
        if (tf->test_dir) {
            v.len--;
        }
        if (i + 1 == cf->nargs && v.len > 0 && v.data[0] == '=') {
            code = pt_atoi(v.data + 1, v.len - 1);
            if (code == PT_ERROR || code > 999) {
                pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid code "
                                  "\"%.*s\"", (int) v.len, v.data);
                return PT_CONF_ERROR;
            }
        }
        if (pt_http_compile_complex_value(cf, &v, cv) != PT_OK) {
            return PT_CONF_ERROR;
        }
        tf->value = cv;
    }
    return PT_CONF_OK;
}

static char *
set_internal(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t *lcf = conf;

    if (lcf->internal) {
        return "is duplicate";
    }
    lcf->internal = 1;
    return PT_CONF_OK;
}

/* error_log at http/server/location: a log chain of its own. */
static char *
set_error_log(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_loc_conf_t *lcf = conf;
    pt_log_t           *log;

    log = pt_pcalloc(cf->pool, sizeof(pt_log_t));
    if (log == NULL) {
        return PT_CONF_ERROR;
    }
    if (lcf->error_log != PT_CONF_UNSET_PTR && lcf->error_log != NULL) {
        log->next = lcf->error_log;
    }
    lcf->error_log = log;
    return pt_core_error_log_target(cf, log);
}

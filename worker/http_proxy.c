/*
 * The proxy module: its directives and their inheritance, the proxy_pass
 * target (literal, unix socket, upstream name, or with variables), and
 * the content handler that reads the client body and starts the upstream
 * machine (http_upstream.c).
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/path.h"
#include "common/pool.h"
#include "common/str.h"
#include "conn.h"
#include "event.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_proxy.h"
#include "http_proxy_rewrite.h"
#include "http_proxy_ssl.h"
#include "http_request.h"
#include "http_script.h"
#include "http_upstream.h"
#include "resolver.h"

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *prev, void *conf);
static char *set_pass(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_header(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_buffers(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_bind(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_next_upstream(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

#define PROXY_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)
#define OFF(f) offsetof(pt_http_proxy_loc_conf_t, f)

static const pt_conf_enum_t http_versions[] = {
    { "1.0", PT_HTTP_VERSION_10 }, { "1.1", PT_HTTP_VERSION_11 },
    { NULL, 0 }
};

static const pt_conf_enum_t next_upstream_masks[] = {
    { "error", PT_PROXY_FT_ERROR }, { "timeout", PT_PROXY_FT_TIMEOUT },
    { "invalid_header", PT_PROXY_FT_INVALID_HEADER },
    { "http_500", PT_PROXY_FT_HTTP_500 }, { "http_502", PT_PROXY_FT_HTTP_502 },
    { "http_503", PT_PROXY_FT_HTTP_503 }, { "http_504", PT_PROXY_FT_HTTP_504 },
    { "http_403", PT_PROXY_FT_HTTP_403 }, { "http_404", PT_PROXY_FT_HTTP_404 },
    { "http_429", PT_PROXY_FT_HTTP_429 },
    { "non_idempotent", PT_PROXY_FT_NON_IDEMPOTENT },
    { "off", PT_PROXY_FT_OFF },
    { NULL, 0 }
};

static const pt_conf_enum_t ignore_masks[] = {
    { "X-Accel-Redirect", PT_PROXY_IGN_XA_REDIRECT },
    { "X-Accel-Expires", PT_PROXY_IGN_XA_EXPIRES },
    { "X-Accel-Limit-Rate", PT_PROXY_IGN_XA_LIMIT_RATE },
    { "X-Accel-Buffering", PT_PROXY_IGN_XA_BUFFERING },
    { "X-Accel-Charset", PT_PROXY_IGN_XA_CHARSET },
    { "Expires", PT_PROXY_IGN_EXPIRES },
    { "Cache-Control", PT_PROXY_IGN_CACHE_CONTROL },
    { "Set-Cookie", PT_PROXY_IGN_SET_COOKIE },
    { "Vary", PT_PROXY_IGN_VARY },
    { NULL, 0 }
};

static const pt_conf_bounds_t tries_bounds = { 0, -1 };

static pt_command_t proxy_commands[] = {
    { "proxy_pass", PT_CONF_LOCATION | PT_CONF_IF | PT_CONF_TAKE1, set_pass,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_set_header", PROXY_CTX | PT_CONF_TAKE2, set_header,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_pass_request_headers", PROXY_CTX | PT_CONF_FLAG,
      pt_conf_set_flag, PT_CONF_LOC_OFFSET, OFF(pass_request_headers),
      NULL },
    { "proxy_pass_request_body", PROXY_CTX | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, OFF(pass_request_body), NULL },
    { "proxy_hide_header", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_str_array,
      PT_CONF_LOC_OFFSET, OFF(hide_headers), NULL },
    { "proxy_pass_header", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_str_array,
      PT_CONF_LOC_OFFSET, OFF(pass_headers), NULL },
    { "proxy_ignore_headers", PROXY_CTX | PT_CONF_1MORE, pt_conf_set_bitmask,
      PT_CONF_LOC_OFFSET, OFF(ignore_headers), ignore_masks },
    { "proxy_http_version", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_enum,
      PT_CONF_LOC_OFFSET, OFF(http_version), http_versions },
    { "proxy_method", PROXY_CTX | PT_CONF_TAKE1,
      pt_http_set_complex_value_slot, PT_CONF_LOC_OFFSET, OFF(method), NULL },
    { "proxy_set_body", PROXY_CTX | PT_CONF_TAKE1,
      pt_http_set_complex_value_slot, PT_CONF_LOC_OFFSET, OFF(body), NULL },
    { "proxy_connect_timeout", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_msec,
      PT_CONF_LOC_OFFSET, OFF(connect_timeout), NULL },
    { "proxy_send_timeout", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_msec,
      PT_CONF_LOC_OFFSET, OFF(send_timeout), NULL },
    { "proxy_read_timeout", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_msec,
      PT_CONF_LOC_OFFSET, OFF(read_timeout), NULL },
    { "proxy_next_upstream", PROXY_CTX | PT_CONF_1MORE, set_next_upstream,
      PT_CONF_LOC_OFFSET, OFF(next_upstream), next_upstream_masks },
    { "proxy_next_upstream_tries", PROXY_CTX | PT_CONF_TAKE1,
      pt_conf_set_num, PT_CONF_LOC_OFFSET, OFF(next_upstream_tries),
      &tries_bounds },
    { "proxy_next_upstream_timeout", PROXY_CTX | PT_CONF_TAKE1,
      pt_conf_set_msec, PT_CONF_LOC_OFFSET, OFF(next_upstream_timeout),
      NULL },
    { "proxy_intercept_errors", PROXY_CTX | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, OFF(intercept_errors), NULL },
    { "proxy_buffering", PROXY_CTX | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, OFF(buffering), NULL },
    { "proxy_request_buffering", PROXY_CTX | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, OFF(request_buffering), NULL },
    { "proxy_buffer_size", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_size,
      PT_CONF_LOC_OFFSET, OFF(buffer_size), NULL },
    { "proxy_buffers", PROXY_CTX | PT_CONF_TAKE2, set_buffers,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_busy_buffers_size", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_size,
      PT_CONF_LOC_OFFSET, OFF(busy_buffers_size), NULL },
    { "proxy_max_temp_file_size", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_off,
      PT_CONF_LOC_OFFSET, OFF(max_temp_file_size), NULL },
    { "proxy_temp_file_write_size", PROXY_CTX | PT_CONF_TAKE1,
      pt_conf_set_size, PT_CONF_LOC_OFFSET, OFF(temp_file_write_size), NULL },
    { "proxy_temp_path", PROXY_CTX | PT_CONF_TAKE1234, pt_path_conf_set,
      PT_CONF_LOC_OFFSET, OFF(temp_path), NULL },
    { "proxy_bind", PROXY_CTX | PT_CONF_TAKE12, set_bind,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_limit_rate", PROXY_CTX | PT_CONF_TAKE1, pt_conf_set_size,
      PT_CONF_LOC_OFFSET, OFF(limit_rate), NULL },
    { "proxy_headers_hash_max_size", PROXY_CTX | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_headers_hash_bucket_size", PROXY_CTX | PT_CONF_TAKE1,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_ignore_client_abort", PROXY_CTX | PT_CONF_FLAG,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_socket_keepalive", PROXY_CTX | PT_CONF_FLAG,
      pt_conf_set_noop, PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_proxy_module = {
    "http_proxy", proxy_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

/* nginx's defaults under any proxy_set_header list: an empty value keeps
 * the client's header of that name from being passed. */
static const struct {
    const char *key;
    const char *value;
    int         body_length;   /* 1: Content-Length, 2: Transfer-Encoding */
} default_headers[] = {
    { "Host", "$proxy_host", 0 },
    { "Connection", "close", 0 },
    { "Content-Length", "", 1 },
    { "Transfer-Encoding", "", 2 },
    { "TE", "", 0 },
    { "Keep-Alive", "", 0 },
    { "Expect", "", 0 },
    { "Upgrade", "", 0 },
};

/* Headers nginx's proxy never passes to the client unless
 * proxy_pass_header names them. */
static const char *default_hidden[] = {
    "Date", "Server", "X-Pad", "X-Accel-Expires", "X-Accel-Redirect",
    "X-Accel-Limit-Rate", "X-Accel-Buffering", "X-Accel-Charset",
};

static void *
create_loc_conf(pt_conf_t *cf)
{
    pt_http_proxy_loc_conf_t *c = pt_pcalloc(cf->pool, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->headers_source = PT_CONF_UNSET_PTR;
    c->pass_request_headers = PT_CONF_UNSET;
    c->pass_request_body = PT_CONF_UNSET;
    c->hide_headers = PT_CONF_UNSET_PTR;
    c->pass_headers = PT_CONF_UNSET_PTR;
    c->ignore_headers = PT_CONF_UNSET_UINT;
    c->http_version = PT_CONF_UNSET_UINT;
    c->method = PT_CONF_UNSET_PTR;
    c->body = PT_CONF_UNSET_PTR;
    c->connect_timeout = PT_CONF_UNSET_MSEC;
    c->send_timeout = PT_CONF_UNSET_MSEC;
    c->read_timeout = PT_CONF_UNSET_MSEC;
    c->next_upstream = PT_CONF_UNSET_UINT;
    c->next_upstream_tries = PT_CONF_UNSET_UINT;
    c->next_upstream_timeout = PT_CONF_UNSET_MSEC;
    c->intercept_errors = PT_CONF_UNSET;
    c->buffering = PT_CONF_UNSET;
    c->request_buffering = PT_CONF_UNSET;
    c->buffer_size = PT_CONF_UNSET_SIZE;
    c->bufs_num = PT_CONF_UNSET_UINT;
    c->busy_buffers_size = PT_CONF_UNSET_SIZE;
    c->max_temp_file_size = PT_CONF_UNSET;
    c->temp_file_write_size = PT_CONF_UNSET_SIZE;
    c->bind_set = PT_CONF_UNSET;
    c->limit_rate = PT_CONF_UNSET_SIZE;
    return c;
}

static int
push_header(pt_conf_t *cf, pt_array_t *a, const pt_str_t *key,
            pt_str_t *value, int body_length)
{
    pt_proxy_header_t *h = pt_array_push(a);
    size_t             i;

    if (h == NULL) {
        return PT_ERROR;
    }
    memset(h, 0, sizeof(*h));
    h->key = *key;
    h->lowkey.data = pt_pnalloc(cf->pool, key->len + 1);
    if (h->lowkey.data == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < key->len; i++) {
        h->lowkey.data[i] = pt_tolower(key->data[i]);
    }
    h->lowkey.len = key->len;
    h->body_length = body_length == 1;
    h->chunked_te = body_length == 2;
    return pt_http_compile_complex_value(cf, value, &h->value);
}

static int
name_in_headers(pt_array_t *headers, const pt_str_t *key)
{
    pt_proxy_header_t *h = headers->elts;
    pt_uint_t          i;

    for (i = 0; i < headers->nelts; i++) {
        if (h[i].key.len == key->len
            && pt_strncasecmp(h[i].key.data, key->data, key->len) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/* The level's own list first, then each default it does not name. */
static int
merge_headers(pt_conf_t *cf, pt_http_proxy_loc_conf_t *conf,
              pt_http_proxy_loc_conf_t *prev)
{
    pt_proxy_header_t *src;
    pt_str_t           key, value;
    pt_uint_t          i, n = 0;

    if (conf->headers_source == PT_CONF_UNSET_PTR) {
        conf->headers_source = prev->headers_source == PT_CONF_UNSET_PTR
                               ? NULL : prev->headers_source;
        if (prev->headers != NULL) {
            conf->headers = prev->headers;
            return PT_OK;
        }
    }
    conf->headers = pt_array_create(cf->pool, 12, sizeof(pt_proxy_header_t));
    if (conf->headers == NULL) {
        return PT_ERROR;
    }
    if (conf->headers_source != NULL) {
        src = conf->headers_source->elts;
        n = conf->headers_source->nelts;
        for (i = 0; i < n; i++) {
            if (pt_array_push(conf->headers) == NULL) {
                return PT_ERROR;
            }
            ((pt_proxy_header_t *) conf->headers->elts)[i] = src[i];
        }
    }
    for (i = 0; i < pt_nelems(default_headers); i++) {
        key.data = (u_char *) default_headers[i].key;
        key.len = strlen(default_headers[i].key);
        if (conf->headers_source != NULL
            && name_in_headers(conf->headers_source, &key))
        {
            continue;
        }
        value.data = (u_char *) default_headers[i].value;
        value.len = strlen(default_headers[i].value);
        if (push_header(cf, conf->headers, &key, &value,
                        default_headers[i].body_length) != PT_OK)
        {
            return PT_ERROR;
        }
    }
    return PT_OK;
}

static int
merge_hidden(pt_conf_t *cf, pt_http_proxy_loc_conf_t *conf)
{
    pt_str_t  *s, *h;
    pt_uint_t  i;

    conf->hidden = pt_array_create(cf->pool, 16, sizeof(pt_str_t));
    if (conf->hidden == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < pt_nelems(default_hidden); i++) {
        if (pt_proxy_name_in(conf->pass_headers, (u_char *) default_hidden[i],
                             strlen(default_hidden[i])))
        {
            continue;
        }
        if ((h = pt_array_push(conf->hidden)) == NULL) {
            return PT_ERROR;
        }
        h->data = (u_char *) default_hidden[i];
        h->len = strlen(default_hidden[i]);
    }
    if (conf->hide_headers != NULL) {
        s = conf->hide_headers->elts;
        for (i = 0; i < conf->hide_headers->nelts; i++) {
            if ((h = pt_array_push(conf->hidden)) == NULL) {
                return PT_ERROR;
            }
            *h = s[i];
        }
    }
    return PT_OK;
}

static void
merge_pass(pt_http_proxy_loc_conf_t *conf, pt_http_proxy_loc_conf_t *prev)
{
    if (conf->pass_set || !prev->pass_set) {
        return;
    }
    /* "if" blocks inside a proxied location proxy the same way (the core
     * gives them the location's handler) */
    conf->upstream = prev->upstream;
    conf->pass_cv = prev->pass_cv;
    conf->url = prev->url;
    conf->host_header = prev->host_header;
    conf->port_text = prev->port_text;
    conf->uri = prev->uri;
    conf->location = prev->location;
    conf->has_uri = prev->has_uri;
    conf->pass_set = 1;
}

/* nginx's rules between the buffer sizes, in its words. */
static char *
check_buffers(pt_conf_t *cf, pt_http_proxy_loc_conf_t *conf)
{
    size_t size = pt_max(conf->buffer_size, conf->bufs_size);

    if (conf->bufs_num < 2) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "there must be at least 2 "
                          "\"proxy_buffers\"");
        return PT_CONF_ERROR;
    }
    if (conf->busy_size < size) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"proxy_busy_buffers_size\" "
                          "must be equal to or greater than the maximum of "
                          "the value of \"proxy_buffer_size\" and one of "
                          "the \"proxy_buffers\"");
        return PT_CONF_ERROR;
    }
    if (conf->busy_size >= (conf->bufs_num - 1) * conf->bufs_size) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"proxy_busy_buffers_size\" "
                          "must be less than the size of all "
                          "\"proxy_buffers\" minus one buffer");
        return PT_CONF_ERROR;
    }
    if (conf->temp_write_size < size) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"proxy_temp_file_write_"
                          "size\" must be equal to or greater than the "
                          "maximum of the value of \"proxy_buffer_size\" "
                          "and one of the \"proxy_buffers\"");
        return PT_CONF_ERROR;
    }
    if (conf->max_temp_file_size != 0
        && conf->max_temp_file_size < (off_t) size)
    {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"proxy_max_temp_file_size\" "
                          "must be equal to zero to disable temporary files "
                          "usage or must be equal to or greater than the "
                          "maximum of the value of \"proxy_buffer_size\" "
                          "and one of the \"proxy_buffers\"");
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    pt_http_proxy_loc_conf_t *prev = parent, *conf = child;
    size_t                    size;

    merge_pass(conf, prev);
    if (merge_headers(cf, conf, prev) != PT_OK) {
        return PT_CONF_ERROR;
    }
    pt_conf_merge_value(conf->pass_request_headers,
                        prev->pass_request_headers, 1);
    pt_conf_merge_value(conf->pass_request_body, prev->pass_request_body, 1);
    pt_conf_merge_ptr(conf->hide_headers, prev->hide_headers, NULL);
    pt_conf_merge_ptr(conf->pass_headers, prev->pass_headers, NULL);
    if (merge_hidden(cf, conf) != PT_OK) {
        return PT_CONF_ERROR;
    }
    if (conf->ignore_headers == PT_CONF_UNSET_UINT) {
        conf->ignore_headers = prev->ignore_headers == PT_CONF_UNSET_UINT
                               ? 0 : prev->ignore_headers;
    }
    if (conf->http_version == PT_CONF_UNSET_UINT) {
        conf->http_version = prev->http_version == PT_CONF_UNSET_UINT
                             ? PT_HTTP_VERSION_10 : prev->http_version;
    }
    pt_conf_merge_ptr(conf->method, prev->method, NULL);
    pt_conf_merge_ptr(conf->body, prev->body, NULL);
    pt_conf_merge_msec(conf->connect_timeout, prev->connect_timeout, 60000);
    pt_conf_merge_msec(conf->send_timeout, prev->send_timeout, 60000);
    pt_conf_merge_msec(conf->read_timeout, prev->read_timeout, 60000);
    if (conf->next_upstream == PT_CONF_UNSET_UINT) {
        conf->next_upstream = prev->next_upstream == PT_CONF_UNSET_UINT
                              ? (PT_PROXY_FT_ERROR | PT_PROXY_FT_TIMEOUT)
                              : prev->next_upstream;
    }
    if (conf->next_upstream & PT_PROXY_FT_OFF) {
        conf->next_upstream = PT_PROXY_FT_OFF;
    }
    if (conf->next_upstream_tries == PT_CONF_UNSET_UINT) {
        conf->next_upstream_tries =
            prev->next_upstream_tries == PT_CONF_UNSET_UINT
            ? 0 : prev->next_upstream_tries;
    }
    pt_conf_merge_msec(conf->next_upstream_timeout,
                       prev->next_upstream_timeout, 0);
    pt_conf_merge_value(conf->intercept_errors, prev->intercept_errors, 0);
    pt_conf_merge_value(conf->buffering, prev->buffering, 1);
    pt_conf_merge_value(conf->request_buffering, prev->request_buffering, 1);
    pt_conf_merge_size(conf->buffer_size, prev->buffer_size, 4096);
    if (conf->bufs_num == PT_CONF_UNSET_UINT) {
        conf->bufs_num = prev->bufs_num == PT_CONF_UNSET_UINT
                         ? 8 : prev->bufs_num;
        conf->bufs_size = prev->bufs_num == PT_CONF_UNSET_UINT
                          ? 4096 : prev->bufs_size;
    }
    /* unset ones stay unset, so that a level below with other buffer
     * sizes gets defaults from its own, as nginx */
    pt_conf_merge_size(conf->busy_buffers_size, prev->busy_buffers_size,
                       PT_CONF_UNSET_SIZE);
    pt_conf_merge_value(conf->max_temp_file_size, prev->max_temp_file_size,
                        1024 * 1024 * 1024);
    pt_conf_merge_size(conf->temp_file_write_size,
                       prev->temp_file_write_size, PT_CONF_UNSET_SIZE);
    size = 2 * pt_max(conf->buffer_size, conf->bufs_size);
    conf->busy_size = conf->busy_buffers_size != PT_CONF_UNSET_SIZE
                      ? conf->busy_buffers_size : size;
    conf->temp_write_size = conf->temp_file_write_size != PT_CONF_UNSET_SIZE
                            ? conf->temp_file_write_size : size;
    /* nginx's default levels for proxy_temp: 1 2 */
    if (pt_path_merge(cf, &conf->temp_path, prev->temp_path, "proxy_temp",
                      1, 2) != PT_CONF_OK)
    {
        return PT_CONF_ERROR;
    }
    if (conf->bind_set == PT_CONF_UNSET) {
        conf->bind_set = prev->bind_set;
        conf->bind = prev->bind;
        conf->transparent = prev->transparent;
    }
    pt_conf_merge_size(conf->limit_rate, prev->limit_rate, 0);
    return check_buffers(cf, conf);
}

/* "host:port" -> the Host header nginx sends ($proxy_host) and the port
 * ($proxy_port): the port is left out of the header when it is 80. */
static int
target_names(pt_conf_t *cf, pt_http_proxy_loc_conf_t *plcf, pt_str_t *host,
             pt_int_t default_port)
{
    u_char *colon = NULL, *p;

    if (host->len >= 5 && pt_strncasecmp(host->data, (u_char *) "unix:", 5)
                          == 0)
    {
        pt_str_set(&plcf->host_header, "localhost");
        plcf->port_text.len = 0;
        plcf->port_text.data = (u_char *) "";
        return PT_OK;
    }
    for (p = host->data + host->len; p > host->data; p--) {
        if (p[-1] == ':') {
            colon = p - 1;
            break;
        }
        if (p[-1] == ']') {
            break;
        }
    }
    if (colon == NULL) {
        plcf->host_header = *host;
        if (default_port == 443) {
            pt_str_set(&plcf->port_text, "443");
        } else {
            pt_str_set(&plcf->port_text, "80");
        }
        return PT_OK;
    }
    plcf->port_text.data = colon + 1;
    plcf->port_text.len = (size_t) (host->data + host->len - colon - 1);
    if (pt_atoi(plcf->port_text.data, plcf->port_text.len) == default_port) {
        plcf->host_header.data = host->data;
        plcf->host_header.len = (size_t) (colon - host->data);
    } else {
        plcf->host_header = *host;
    }
    (void) cf;
    return PT_OK;
}

static char *
set_pass(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_proxy_loc_conf_t *plcf = conf;
    pt_http_loc_conf_t       *clcf;
    pt_str_t                 *url = &cf->args[1], rest, host;
    int                       has_uri, https;

    (void) cmd;
    if (plcf->pass_set) {
        return "is duplicate";
    }
    clcf = pt_http_conf_get_module_loc_conf(cf, pt_http_core_module);
    clcf->handler = pt_http_proxy_handler;
    plcf->pass_set = 1;
    plcf->url = *url;
    plcf->location = clcf->name;

    if (memchr(url->data, '$', url->len) != NULL) {
        plcf->pass_cv = pt_palloc(cf->pool, sizeof(pt_http_complex_value_t));
        if (plcf->pass_cv == NULL
            || pt_http_compile_complex_value(cf, url, plcf->pass_cv)
               != PT_OK)
        {
            return PT_CONF_ERROR;
        }
        /* https:// or not is known per request (a context is made) */
        if (pt_proxy_ssl_pass(cf, PT_PROXY_SSL_MAYBE) != PT_OK) {
            return PT_CONF_ERROR;
        }
        pt_http_proxy_rewrite_pass(cf, NULL);
        return PT_CONF_OK;
    }
    /* proxy_ssl: https:// (http_proxy_ssl.c builds its TLS context) */
    https = url->len >= 8
            && pt_strncasecmp(url->data, (u_char *) "https://", 8) == 0;
    if (pt_proxy_ssl_pass(cf, https) != PT_OK) {
        return PT_CONF_ERROR;
    }
    if (!https
        && (url->len < 7
            || pt_strncasecmp(url->data, (u_char *) "http://", 7)))
    {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid URL prefix");
        return PT_CONF_ERROR;
    }
    rest.data = url->data + 7 + https;
    rest.len = url->len - 7 - https;
    if (pt_proxy_split_url(&rest, &host, &plcf->uri, &has_uri) != PT_OK) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "no host in upstream \"%.*s\"",
                          (int) rest.len, rest.data);
        return PT_CONF_ERROR;
    }
    plcf->has_uri = has_uri;
    if (has_uri && (clcf->regex_location || clcf->named
                    || cf->ctx_type == PT_CONF_IF))
    {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"proxy_pass\" cannot have "
                          "URI part in location given by regular expression, "
                          "or inside named location, or inside \"if\" "
                          "statement, or inside \"limit_except\" block");
        return PT_CONF_ERROR;
    }
    if (target_names(cf, plcf, &host, https ? 443 : 80) != PT_OK) {
        return PT_CONF_ERROR;
    }
    plcf->upstream = pt_http_upstream_add(cf, &host, https ? 443 : 80);
    if (plcf->upstream == NULL) {
        return PT_CONF_ERROR;
    }
    pt_http_proxy_rewrite_pass(cf, url);
    return PT_CONF_OK;
}

static char *
set_header(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_proxy_loc_conf_t *plcf = conf;

    (void) cmd;
    if (plcf->headers_source == PT_CONF_UNSET_PTR) {
        plcf->headers_source = pt_array_create(cf->pool, 4,
                                               sizeof(pt_proxy_header_t));
        if (plcf->headers_source == NULL) {
            return PT_CONF_ERROR;
        }
    }
    if (push_header(cf, plcf->headers_source, &cf->args[1], &cf->args[2], 0)
        != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

static char *
set_buffers(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_proxy_loc_conf_t *plcf = conf;
    pt_int_t                  n;
    ssize_t                   size;

    (void) cmd;
    if (plcf->bufs_num != PT_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    n = pt_atoi(cf->args[1].data, cf->args[1].len);
    size = pt_parse_size(&cf->args[2]);
    if (n == PT_ERROR || n == 0 || size == PT_ERROR || size == 0) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid value \"%s %s\"",
                          (char *) cf->args[1].data,
                          (char *) cf->args[2].data);
        return PT_CONF_ERROR;
    }
    plcf->bufs_num = (pt_uint_t) n;
    plcf->bufs_size = (size_t) size;
    return PT_CONF_OK;
}

static char *
set_bind(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_proxy_loc_conf_t *plcf = conf;

    (void) cmd;
    if (plcf->bind_set != PT_CONF_UNSET) {
        return "is duplicate";
    }
    plcf->bind_set = 1;
    if (pt_str_eq_cstr(&cf->args[1], "off")) {
        plcf->bind = NULL;
        return PT_CONF_OK;
    }
    if (cf->nargs == 3) {
        if (!pt_str_eq_cstr(&cf->args[2], "transparent")) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%s\"",
                              (char *) cf->args[2].data);
            return PT_CONF_ERROR;
        }
        plcf->transparent = 1;
    }
    plcf->bind = pt_palloc(cf->pool, sizeof(pt_http_complex_value_t));
    if (plcf->bind == NULL
        || pt_http_compile_complex_value(cf, &cf->args[1], plcf->bind)
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

static char *
set_next_upstream(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_proxy_loc_conf_t *plcf = conf;

    if (plcf->next_upstream != PT_CONF_UNSET_UINT) {
        return "is duplicate";
    }
    return pt_conf_set_bitmask(cf, cmd, conf);
}

static int
postconfiguration(pt_conf_t *cf)
{
    return pt_proxy_add_variables(cf);
}

/* ------------------------------------------------------------------ */
/* The content handler                                                 */

/* 443 for https:// (proxy_ssl), else 80. */
static pt_int_t
default_port(pt_proxy_ctx_t *ctx)
{
    return ctx->schema.len == sizeof("https://") - 1 ? 443 : 80;
}

/* A literal address of a proxy_pass with variables: "1.2.3.4[:port]",
 * "[::1][:port]" or "unix:/path". PT_DECLINED for a name. */
static int
literal_addr(const pt_str_t *host, pt_addr_t *addr, pt_str_t *port_text,
             pt_int_t default_port)
{
    struct sockaddr_in  *sin = (struct sockaddr_in *) &addr->sockaddr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &addr->sockaddr;
    struct sockaddr_un  *sun = (struct sockaddr_un *) &addr->sockaddr;
    char                 text[64];
    u_char              *colon = NULL, *end = host->data + host->len, *a;
    size_t               alen;
    pt_int_t             port = default_port;

    memset(addr, 0, sizeof(*addr));
    if (host->len > 5 && pt_strncasecmp(host->data, (u_char *) "unix:", 5)
                         == 0)
    {
        if (host->len - 5 >= sizeof(sun->sun_path)) {
            return PT_DECLINED;
        }
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, host->data + 5, host->len - 5);
        addr->socklen = (socklen_t) sizeof(struct sockaddr_un);
        port_text->len = 0;
        return PT_OK;
    }
    a = host->data;
    if (a < end && *a == '[') {
        colon = memchr(a, ']', host->len);
        if (colon == NULL) {
            return PT_DECLINED;
        }
        alen = (size_t) (colon - a - 1);
        a++;
        colon = colon + 1 < end && colon[1] == ':' ? colon + 1 : NULL;
    } else {
        colon = memchr(a, ':', host->len);
        alen = (size_t) ((colon != NULL ? colon : end) - a);
    }
    if (colon != NULL) {
        port = pt_atoi(colon + 1, (size_t) (end - colon - 1));
        if (port < 1 || port > 65535) {
            return PT_DECLINED;
        }
        port_text->data = colon + 1;
        port_text->len = (size_t) (end - colon - 1);
    }
    if (alen == 0 || alen >= sizeof(text)) {
        return PT_DECLINED;
    }
    memcpy(text, a, alen);
    text[alen] = '\0';
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((in_port_t) port);
        addr->socklen = (socklen_t) sizeof(struct sockaddr_in);
        return PT_OK;
    }
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((in_port_t) port);
        addr->socklen = (socklen_t) sizeof(struct sockaddr_in6);
        return PT_OK;
    }
    return PT_DECLINED;
}

/* A host name of a proxy_pass with variables: looked up once the body is
 * in (the location's resolver), or 502 when there is none. */
static int
need_resolve(pt_http_request_t *r, pt_proxy_ctx_t *ctx, pt_str_t *host)
{
    u_char   *colon = memchr(host->data, ':', host->len);
    pt_int_t  port = default_port(ctx);

    ctx->resolve_name = *host;
    if (colon != NULL) {
        ctx->resolve_name.len = (size_t) (colon - host->data);
        ctx->port_text.data = colon + 1;
        ctx->port_text.len = (size_t) (host->data + host->len - colon - 1);
        port = pt_atoi(ctx->port_text.data, ctx->port_text.len);
        if (port < 1 || port > 65535) {
            pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "invalid "
                         "port in upstream \"%.*s\"", (int) host->len,
                         host->data);
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        if (port == default_port(ctx)) {
            ctx->host_header = ctx->resolve_name;
        }
    }
    ctx->resolve_port = (in_port_t) port;
    if (pt_http_resolver(r) == NULL) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "no resolver "
                     "defined to resolve %.*s", (int) ctx->resolve_name.len,
                     ctx->resolve_name.data);
        return PT_HTTP_BAD_GATEWAY;
    }
    return PT_OK;
}

/* The lookup is over: a one-request group of every address, then the
 * upstream machine. */
static void
resolved(pt_resolver_ctx_t *rctx)
{
    pt_proxy_ctx_t    *ctx = rctx->data;
    pt_http_request_t *r = ctx->r;
    pt_addr_t         *addrs;
    pt_uint_t          n = rctx->naddrs;

    ctx->resolve = NULL;
    if (rctx->state != PT_RESOLVE_OK || n == 0) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "%.*s could not "
                     "be resolved (%d: %s)", (int) ctx->resolve_name.len,
                     ctx->resolve_name.data, rctx->state,
                     pt_resolver_strerror(rctx->state));
        pt_resolve_name_done(rctx);
        pt_proxy_finalize(ctx, PT_HTTP_BAD_GATEWAY);
        return;
    }
    addrs = pt_palloc(r->pool, n * sizeof(pt_addr_t));
    if (addrs == NULL) {
        pt_resolve_name_done(rctx);
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    memcpy(addrs, rctx->addrs, n * sizeof(pt_addr_t));
    pt_resolve_name_done(rctx);
    if (pt_http_upstream_create_round_robin_peer(r, addrs, n,
                                                 &ctx->resolve_name,
                                                 ctx->resolve_port) != PT_OK)
    {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    (void) pt_proxy_start(r, ctx);
}

/* The request ends while its lookup is pending: the resolver must forget
 * the waiter before the pool that holds it goes. */
static void
resolve_cleanup(void *data)
{
    pt_proxy_ctx_t *ctx = data;

    if (ctx->resolve != NULL) {
        pt_resolve_name_done(ctx->resolve);
        ctx->resolve = NULL;
    }
}

/* Start the lookup; `resolved` may run before this returns. */
static void
start_resolve(pt_http_request_t *r, pt_proxy_ctx_t *ctx)
{
    pt_resolver_ctx_t *rctx;
    pt_pool_cleanup_t *cln;

    rctx = pt_resolve_start(pt_http_resolver(r), r->pool);
    cln = pt_pool_cleanup_add(r->pool, 0);
    if (rctx == NULL || cln == NULL) {
        pt_proxy_finalize(ctx, PT_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    rctx->name = ctx->resolve_name;
    rctx->handler = resolved;
    rctx->data = ctx;
    ctx->resolve = rctx;
    cln->handler = resolve_cleanup;
    cln->data = ctx;
    if (pt_resolve_name(rctx) != PT_OK) {
        ctx->resolve = NULL;
        pt_proxy_finalize(ctx, PT_HTTP_BAD_GATEWAY);
    }
}

/* proxy_pass with variables: the evaluated URL picks an upstream block
 * by name, or a literal address; names need a resolver. */
static int
eval_target(pt_http_request_t *r, pt_proxy_ctx_t *ctx)
{
    pt_http_upstream_t *u = ctx->u;
    pt_str_t            url, host;
    pt_addr_t          *addr;
    int                 has_uri, https;

    if (pt_http_complex_value(r, ctx->conf->pass_cv, &url) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    /* proxy_ssl: https:// when the location has a TLS context */
    https = url.len >= 8 && pt_proxy_ssl_enabled(r)
            && pt_strncasecmp(url.data, (u_char *) "https://", 8) == 0;
    if (https) {
        pt_str_set(&ctx->schema, "https://");
    } else if (url.len < 7
               || pt_strncasecmp(url.data, (u_char *) "http://", 7))
    {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "invalid URL "
                     "prefix in \"%.*s\"", (int) url.len, url.data);
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    url.data += 7 + https;
    url.len -= 7 + https;
    if (pt_proxy_split_url(&url, &host, &ctx->uri_part, &has_uri) != PT_OK) {
        pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "no host in "
                     "upstream \"%.*s\"", (int) url.len, url.data);
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ctx->uri_part.len > 0 && ctx->uri_part.data[0] == '?') {
        /* "http://h?a" sends "/?a" */
        u_char *p = pt_pnalloc(r->pool, ctx->uri_part.len + 1);
        if (p == NULL) {
            return PT_HTTP_INTERNAL_SERVER_ERROR;
        }
        p[0] = '/';
        memcpy(p + 1, ctx->uri_part.data, ctx->uri_part.len);
        ctx->uri_part.data = p;
        ctx->uri_part.len++;
    }
    ctx->host_header = host;
    if (https) {
        pt_str_set(&ctx->port_text, "443");
    } else {
        pt_str_set(&ctx->port_text, "80");
    }
    u->upstream = pt_http_upstream_find(r, &host);
    if (u->upstream != NULL) {
        return PT_OK;
    }
    addr = pt_palloc(r->pool, sizeof(pt_addr_t));
    if (addr == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (literal_addr(&host, addr, &ctx->port_text, default_port(ctx))
        != PT_OK)
    {
        return need_resolve(r, ctx, &host);
    }
    if (addr->sockaddr.ss_family == AF_UNIX) {
        pt_str_set(&ctx->host_header, "localhost");
    }
    if (ctx->port_text.len > 0
        && pt_atoi(ctx->port_text.data, ctx->port_text.len)
           == default_port(ctx))
    {
        /* $proxy_host leaves the default port out, as nginx */
        u_char *c = memchr(host.data, ':', host.len);
        if (c != NULL && host.data[0] != '[') {
            ctx->host_header.len = (size_t) (c - host.data);
        }
    }
    if (pt_http_upstream_create_round_robin_peer(r, addr, 1, &host,
            (in_port_t) (ctx->port_text.len > 0
                         ? pt_atoi(ctx->port_text.data, ctx->port_text.len)
                         : 0))
        != PT_OK)
    {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    return PT_OK;
}

/* The body is in (or not wanted): go upstream, but never from within the
 * handler's own call, whose caller still uses r after it returns. */
static void
deferred_start(pt_http_request_t *r)
{
    pt_http_upstream_t *u = r->upstream;
    pt_proxy_ctx_t     *ctx = u->state;

    if (ctx->request_started || ctx->finalized || ctx->in_handler) {
        return;
    }
    ctx->request_started = 1;
    r->write_event_handler = pt_http_request_empty_handler;
    if (ctx->resolve_name.len > 0) {
        start_resolve(r, ctx);
        return;
    }
    (void) pt_proxy_start(r, ctx);
}

static void
body_ready(pt_http_request_t *r)
{
    pt_proxy_ctx_t *ctx = ((pt_http_upstream_t *) r->upstream)->state;

    r->write_event_handler = deferred_start;
    if (ctx->in_handler) {
        pt_event_post(r->connection->write);
        return;
    }
    deferred_start(r);
}

int
pt_http_proxy_handler(pt_http_request_t *r)
{
    pt_http_proxy_loc_conf_t *plcf;
    pt_http_upstream_t       *u;
    pt_proxy_ctx_t           *ctx;
    int                       rc;

    plcf = pt_http_get_module_loc_conf(r, pt_http_proxy_module);
    u = pt_pcalloc(r->pool, sizeof(pt_http_upstream_t));
    ctx = pt_pcalloc(r->pool, sizeof(pt_proxy_ctx_t));
    if (u == NULL || ctx == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    u->request = r;
    u->state = ctx;
    ctx->u = u;
    ctx->r = r;
    ctx->conf = plcf;
    ctx->body_fd = -1;
    ctx->body_length = -1;
    pt_str_set(&ctx->schema, "http://");
    if (plcf->pass_cv == NULL && pt_proxy_ssl_enabled(r)) {
        pt_str_set(&ctx->schema, "https://");
    }
    r->upstream = u;

    if (plcf->pass_cv != NULL) {
        rc = eval_target(r, ctx);
        if (rc != PT_OK) {
            r->upstream = NULL;
            return rc;
        }
    } else {
        u->upstream = plcf->upstream;
        ctx->host_header = plcf->host_header;
        ctx->port_text = plcf->port_text;
        ctx->uri_part = plcf->uri;
    }
    if (pt_proxy_build_uri(r, &ctx->uri_part, plcf->pass_cv != NULL
                           || plcf->has_uri, &plcf->location,
                           plcf->pass_cv != NULL, &ctx->uri) != PT_OK)
    {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->in_handler = 1;
    r->count++;
    if (plcf->pass_request_body && plcf->body == NULL
        && !plcf->request_buffering
        && (r->headers_in.content_length_n > 0
            || (r->headers_in.chunked
                && plcf->http_version == PT_HTTP_VERSION_11)))
    {
        /* a chunked body to an HTTP/1.0 upstream is read whole, as nginx */
        rc = pt_proxy_stream_init(r, ctx);
        if (rc == PT_OK) {
            body_ready(r);
        }
    } else if (plcf->body == NULL) {
        /* as nginx, also with proxy_pass_request_body off: the body is
         * read, and its length sent without it */
        rc = pt_http_read_client_request_body(r, body_ready);
    } else {
        rc = pt_http_discard_request_body(r);
        if (rc == PT_OK) {
            body_ready(r);
        }
    }
    ctx->in_handler = 0;
    if (rc >= PT_HTTP_SPECIAL_RESPONSE) {
        r->count--;
        ctx->finalized = 1;
        return rc;
    }
    return PT_DONE;
}

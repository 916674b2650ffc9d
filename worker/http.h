/*
 * The http block: server and location structure, listen addresses, and the
 * per-level conf contexts every http module's create/merge callbacks fill.
 * (Request handling beyond the first response lands with the HTTP core.)
 */
#ifndef PT_HTTP_H
#define PT_HTTP_H

#include "common/array.h"
#include "common/conf.h"
#include "common/inet.h"
#include "common/pt_types.h"
#include "common/str.h"

typedef struct pt_http_srv_conf_s pt_http_srv_conf_t;

typedef struct {
    pt_str_t     name;          /* "/" for the server level */
    pt_int_t     return_code;   /* -1: none */
    pt_str_t     return_text;
} pt_http_loc_conf_t;

struct pt_http_srv_conf_s {
    pt_conf_ctx_t   *ctx;          /* this server's conf arrays */
    pt_array_t       names;        /* pt_str_t server_name values */
    const char      *file;         /* where the server block starts */
    pt_uint_t        line;
    unsigned         listen:1;     /* has a listen directive */
};

/* One listen address and the servers on it. */
typedef struct {
    pt_addr_t            addr;
    pt_str_t             text;
    pt_http_srv_conf_t  *default_server;
    pt_array_t           servers;       /* pt_http_srv_conf_t * */
    /* socket options; at most one listen of the address may set them */
    int                  backlog;
    int                  rcvbuf, sndbuf, fastopen, ipv6only;
    int                  keepalive, keepidle, keepintvl, keepcnt;
    unsigned             reuseport:1, deferred:1, bind:1, set_options:1;
    unsigned             ssl:1, proxy_protocol:1, http2:1;
} pt_http_addr_t;

typedef struct {
    pt_array_t   servers;     /* pt_http_srv_conf_t * */
    pt_array_t   addrs;       /* pt_http_addr_t * */
} pt_http_main_conf_t;

extern pt_module_t pt_http_module;

#endif /* PT_HTTP_H */

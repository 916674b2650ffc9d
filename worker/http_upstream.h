/*
 * Upstreams: the contract between the proxy (worker/http_upstream*.c,
 * worker/http_proxy*.c), upstream groups and their balancers
 * (worker/http_upstream_rr.c and the balancer modules), the keep-alive
 * pool and the shared-memory peer state. Config side: `upstream` blocks
 * and the implicit groups proxy_pass makes. Run-time side: a request's
 * peer connection, which a balancer fills and the proxy connects.
 */
#ifndef PT_HTTP_UPSTREAM_H
#define PT_HTTP_UPSTREAM_H

#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/inet.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_request.h"

typedef struct pt_peer_connection_s        pt_peer_connection_t;
typedef struct pt_http_upstream_srv_conf_s pt_http_upstream_srv_conf_t;
typedef struct pt_http_upstream_s          pt_http_upstream_t;

/* ------------------------------------------------------------ peers */

/*
 * get: choose a peer for the next try. Returns
 *   PT_OK    pc->sockaddr/socklen/name are set: connect to it;
 *   PT_DONE  pc->connection is a pooled keep-alive connection to use as is
 *            (sockaddr/socklen/name set too, for logs and $upstream_addr);
 *   PT_BUSY  no peer may be tried ("no live upstreams": 502);
 *   PT_ERROR allocation failure (500).
 * free: the try is over. `state` is 0 (success), PT_PEER_FAILED (counts
 * toward max_fails) and/or PT_PEER_NEXT (another try follows); pc->connection
 * is the upstream connection, still open, or NULL when the caller closed it.
 * A keep-alive module may take pc->connection (it sets pc->connection to
 * NULL); otherwise the caller closes it after free returns.
 */
typedef int  (*pt_peer_get_pt)(pt_peer_connection_t *pc, void *data);
typedef void (*pt_peer_free_pt)(pt_peer_connection_t *pc, void *data,
                                pt_uint_t state);

/* get's "no peer may be tried" (not in pt_types.h: only peers use it) */
#ifndef PT_BUSY
#define PT_BUSY         -5
#endif

#define PT_PEER_FAILED   1
#define PT_PEER_NEXT     2

struct pt_peer_connection_s {
    pt_connection_t     *connection;  /* the connection to the peer */

    struct sockaddr     *sockaddr;    /* chosen peer (owned by the balancer) */
    socklen_t            socklen;
    pt_str_t            *name;        /* "127.0.0.1:8080", "unix:/x.sock" */

    pt_uint_t            tries;       /* tries left; the balancer sets it
                                         from the number of peers, the
                                         proxy caps it with
                                         proxy_next_upstream_tries */
    pt_msec_t            start_time;  /* first try (next_upstream_timeout) */

    pt_peer_get_pt       get;
    pt_peer_free_pt      free;
    void                *data;        /* the balancer's per-request state */

    pt_addr_t           *local;       /* proxy_bind address, or NULL */
    unsigned             transparent:1;   /* proxy_bind ... transparent */
    unsigned             cached:1;    /* connection came from the pool */
    unsigned             down:1;      /* health: a pooled connection found
                                         dead (EOF/error) was dropped */

    pt_log_t            *log;
};

/* --------------------------------------------------- upstream groups */

/* One `server` line of an upstream block (or the implicit group of a
 * proxy_pass with a literal address): every address its name resolved to
 * at config load becomes one peer. */
typedef struct {
    pt_str_t             name;        /* as written: "backend:8080" */
    pt_addr_t           *addrs;
    pt_uint_t            naddrs;
    pt_uint_t            weight;      /* default 1 */
    pt_uint_t            max_fails;   /* default 1; 0: never counted */
    time_t               fail_timeout;  /* seconds, default 10 */
    pt_uint_t            max_conns;   /* 0: no limit */
    unsigned             down:1;
    unsigned             backup:1;
    const char          *file;        /* for messages */
    pt_uint_t            line;
} pt_http_upstream_server_t;

/* Parameters a balancer accepts on `server` lines (us->flags): a balancer
 * directive that comes after a server line using a parameter it does not
 * support is an error, as in nginx. */
#define PT_HTTP_UPSTREAM_CREATE        0x0001  /* an `upstream` block */
#define PT_HTTP_UPSTREAM_WEIGHT        0x0002
#define PT_HTTP_UPSTREAM_MAX_FAILS     0x0004
#define PT_HTTP_UPSTREAM_FAIL_TIMEOUT  0x0008
#define PT_HTTP_UPSTREAM_DOWN          0x0010
#define PT_HTTP_UPSTREAM_BACKUP        0x0020
#define PT_HTTP_UPSTREAM_MAX_CONNS     0x0040

/* Config time: build the group's peers from us->servers (called once the
 * http block is read, for every group). Run time: set up
 * r->upstream->peer (get, free, data, tries) for one request. */
typedef int (*pt_http_upstream_init_pt)(pt_conf_t *cf,
                                        pt_http_upstream_srv_conf_t *us);
typedef int (*pt_http_upstream_init_peer_pt)(pt_http_request_t *r,
                                   pt_http_upstream_srv_conf_t *us);

struct pt_http_upstream_srv_conf_s {
    pt_str_t                       host;    /* upstream name, or the host of
                                               an implicit group */
    in_port_t                      port;    /* implicit groups: the port */
    pt_array_t                    *servers; /* pt_http_upstream_server_t */
    pt_uint_t                      flags;   /* PT_HTTP_UPSTREAM_* */

    /* the balancer: round robin unless a balancer directive sets others;
     * a wrapper (keepalive) saves the previous pair and calls it */
    pt_http_upstream_init_pt       init;
    pt_http_upstream_init_peer_pt  init_peer;
    void                          *peer_data;  /* the balancer's peers */

    void                         **srv_conf;   /* the block's srv confs:
                                                  upstream-level directives
                                                  of other modules */
    pt_shm_zone_t                 *shm_zone;   /* `zone NAME SIZE` */

    const char                    *file;       /* where it was defined */
    pt_uint_t                      line;
    unsigned                       implicit:1;  /* made by proxy_pass */
    unsigned                       no_port:1;   /* proxy_pass host without
                                                  a port: 80 is assumed */
};

/* The upstream module's main conf: every group of the http block. */
typedef struct {
    pt_array_t  upstreams;   /* pt_http_upstream_srv_conf_t * */
} pt_http_upstream_main_conf_t;

/* The upstream module's loc conf: the group the location's proxy_pass
 * named (set by pt_http_upstream_add; NULL with variables or no proxy). */
typedef struct {
    pt_http_upstream_srv_conf_t  *upstream;
} pt_http_upstream_loc_conf_t;

extern pt_module_t pt_http_upstream_module;

/*
 * Find or make the group for a proxy_pass target (config time). `url` is
 * the host part after the scheme: "name", "host:port", "[::1]:port" or
 * "unix:/path". A plain name without a port matches an `upstream NAME`
 * block, defined before or after; otherwise an implicit group is made
 * (shared by identical targets) whose one server has every address the
 * name resolves to (error "host not found in upstream "X"" with file and
 * line). `default_port` is 80 for http, 443 for https. NULL (logged) on
 * error.
 */
pt_http_upstream_srv_conf_t *pt_http_upstream_add(pt_conf_t *cf,
                                                  pt_str_t *url,
                                                  in_port_t default_port);

/* Run time: the `upstream` block named `name` (proxy_pass with variables);
 * NULL when there is none. */
pt_http_upstream_srv_conf_t *pt_http_upstream_find(pt_http_request_t *r,
                                                   const pt_str_t *name);

/* Round robin, the default balancer (worker/http_upstream_rr.c); other
 * balancers build on its peer list. */
int pt_http_upstream_init_round_robin(pt_conf_t *cf,
                                      pt_http_upstream_srv_conf_t *us);
int pt_http_upstream_init_round_robin_peer(pt_http_request_t *r,
                                           pt_http_upstream_srv_conf_t *us);
/* A one-request group for an address known only at run time (proxy_pass
 * with variables: a literal address or a resolved name). `addrs` must
 * live as long as r->pool. */
int pt_http_upstream_create_round_robin_peer(pt_http_request_t *r,
                                             pt_addr_t *addrs,
                                             pt_uint_t naddrs,
                                             pt_str_t *host,
                                             in_port_t port);

/* --------------------------------------------- per-request upstream */

/*
 * r->upstream while a request is proxied. Owned by the proxy core
 * (worker/http_upstream.c), which may add members after these: a balancer
 * or the keep-alive module reads only `peer`, `upstream` and `request`.
 */
struct pt_http_upstream_s {
    pt_peer_connection_t           peer;
    pt_http_upstream_srv_conf_t   *upstream;   /* the group in use */
    pt_http_request_t             *request;
    void                          *state;      /* the core's own state */
    /* set by the core for balancers and the keep-alive module: may the
     * connection be kept after this response (framing complete, no
     * Connection: close, proxy_http_version 1.1) */
    unsigned                       keepalive:1;
};

#endif /* PT_HTTP_UPSTREAM_H */

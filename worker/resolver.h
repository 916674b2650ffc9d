/*
 * The asynchronous DNS client behind `resolver`: A/AAAA lookups over UDP
 * from each worker, answers cached by lowercase name for their TTL (or
 * valid=), concurrent lookups of one name sharing a query.
 */
#ifndef PT_RESOLVER_H
#define PT_RESOLVER_H

#include "common/inet.h"
#include "common/pt_types.h"
#include "common/queue.h"
#include "common/str.h"
#include "event.h"

typedef struct pt_http_request_s pt_http_request_t;

typedef struct pt_resolver_s pt_resolver_t;
typedef struct pt_resolver_ctx_s pt_resolver_ctx_t;
typedef void (*pt_resolver_handler_pt)(pt_resolver_ctx_t *ctx);

/* Results (ctx->state): 0, the DNS RCODEs, or a timeout, numbered as
 * nginx numbers them so messages read the same. */
#define PT_RESOLVE_OK        0
#define PT_RESOLVE_FORMERR   1
#define PT_RESOLVE_SERVFAIL  2
#define PT_RESOLVE_NXDOMAIN  3
#define PT_RESOLVE_NOTIMP    4
#define PT_RESOLVE_REFUSED   5
#define PT_RESOLVE_TIMEDOUT  110

struct pt_resolver_ctx_s {
    pt_str_t                name;      /* set by the caller before
                                          pt_resolve_name */
    pt_resolver_handler_pt  handler;   /* set by the caller */
    void                   *data;      /* set by the caller */
    int                     state;     /* PT_RESOLVE_OK or an error code */
    pt_addr_t              *addrs;     /* results, port 0; valid only inside
                                          the handler: copy */
    pt_uint_t               naddrs;

    /* private */
    pt_resolver_t          *resolver;
    pt_pool_t              *pool;
    void                   *node;      /* the name's cache node, waiting */
    pt_queue_t              queue;     /* link in the node's waiters */
    pt_event_t              timer;     /* resolver_timeout */
    pt_addr_t               literal;   /* an IP literal's result */
    unsigned                waiting:1;
    unsigned                done:1;
};

/* The location's `resolver`, or NULL when none is configured. */
pt_resolver_t *pt_http_resolver(pt_http_request_t *r);

/* A lookup context in `pool` (which also cancels it if destroyed first);
 * NULL on allocation failure. */
pt_resolver_ctx_t *pt_resolve_start(pt_resolver_t *res, pt_pool_t *pool);
/* Look up ctx->name. PT_OK: the handler will run, possibly before this
 * returns (a cached answer, or an IP literal); PT_ERROR: it will not
 * (allocation failure, logged). */
int pt_resolve_name(pt_resolver_ctx_t *ctx);
/* After the handler, or to cancel a pending lookup: no handler call after
 * it. May be called more than once. */
void pt_resolve_name_done(pt_resolver_ctx_t *ctx);
/* "Host not found", "Operation timed out", ... for `state`. */
const char *pt_resolver_strerror(int state);

/* ---- construction (the http module, and tests) ---- */

#define PT_RESOLVER_MAX_SERVERS   32
#define PT_RESOLVER_DEFAULT_PORT  53

typedef struct {
    pt_addr_t  *servers;      /* with ports; copied */
    pt_uint_t   nservers;
    time_t      valid;        /* seconds; 0: the answers' TTLs */
    pt_uint_t   max_entries;  /* cache bound; 0: the default */
    unsigned    ipv4:1;       /* query A */
    unsigned    ipv6:1;       /* query AAAA */
} pt_resolver_conf_t;

/* A resolver and its (empty) cache in `pool`; its sockets are opened at
 * the first query, in the process that makes it. A pool cleanup frees the
 * cache and closes the sockets. NULL on allocation failure (logged). */
pt_resolver_t *pt_resolver_create(pt_pool_t *pool, pt_log_t *log,
                                  const pt_resolver_conf_t *conf);
/* A handle on `res` whose lookups give up after `timeout` ms: the cache
 * and the sockets are shared. NULL on allocation failure. */
pt_resolver_t *pt_resolver_with_timeout(pt_pool_t *pool, pt_resolver_t *res,
                                        pt_msec_t timeout);
/* Cached names (answers and lookups in flight), for tests. */
pt_uint_t pt_resolver_cache_size(pt_resolver_t *res);

#endif /* PT_RESOLVER_H */

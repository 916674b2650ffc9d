/*
 * Round-robin peers: the peer lists every balancer builds on (primary and
 * backup), the mutable per-peer state (process memory, or a `zone`'s shared
 * memory) and the per-request data of the round-robin choice.
 */
#ifndef PT_HTTP_UPSTREAM_RR_H
#define PT_HTTP_UPSTREAM_RR_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "common/pt_types.h"
#include "common/shmtx.h"
#include "common/str.h"
#include "http_upstream.h"

/*
 * What changes while peers are used. Without a zone each worker has its
 * own copy (process memory); with one, every worker shares one copy in the
 * zone, under the group's lock. Holds no pointer: it may live in shm.
 */
typedef struct {
    pt_int_t    current_weight;   /* smooth WRR */
    pt_int_t    effective_weight; /* lowered on failure, recovers */
    pt_uint_t   conns;            /* active connections (least_conn,
                                     max_conns) */
    pt_uint_t   fails;            /* failures within fail_timeout */
    time_t      accessed;         /* last failure (seconds) */
    time_t      checked;          /* last try after a failure */
    uint64_t    requests;         /* tries sent to it */
    uint64_t    responses;        /* tries that ended well */
    uint64_t    failures;         /* tries that failed */
    uint64_t    bytes_sent;       /* counters the proxy may add to */
    uint64_t    bytes_received;
    /* active health checks (worker/http_upstream_health.c, later) */
    unsigned    hc_down:1;        /* out of rotation until hc_passes */
    unsigned    hc_checking:1;    /* a probe is in flight */
    pt_uint_t   hc_fails;         /* consecutive failed probes */
    pt_uint_t   hc_passes;        /* consecutive good probes */
    pt_msec_t   hc_next;          /* wall clock ms of the next probe */
    pid_t       hc_owner;         /* the worker probing now */
} pt_http_upstream_peer_state_t;

typedef struct pt_http_upstream_rr_peer_s  pt_http_upstream_rr_peer_t;
typedef struct pt_http_upstream_rr_peers_s pt_http_upstream_rr_peers_t;

/* One address of one `server` line. Fixed for the config's life, except
 * through `st`. */
struct pt_http_upstream_rr_peer_s {
    struct sockaddr                *sockaddr;
    socklen_t                       socklen;
    pt_str_t                        name;     /* "127.0.0.1:8080" */
    pt_str_t                        server;   /* the server line's text */
    pt_int_t                        weight;
    pt_uint_t                       max_conns;
    pt_uint_t                       max_fails;
    time_t                          fail_timeout;
    unsigned                        down:1;   /* `down` parameter */
    pt_http_upstream_peer_state_t  *st;       /* never NULL after init */
};

/* The primary peers of a group; `next` is the backup list (or NULL). */
struct pt_http_upstream_rr_peers_s {
    pt_uint_t                       number;
    pt_uint_t                       total_weight;  /* of peers not down */
    unsigned                        single:1;   /* one peer, no backup */
    unsigned                        weighted:1; /* some weight != 1 */
    unsigned                        backup:1;   /* this is a backup list */
    pt_str_t                       *name;       /* the group's name */
    pt_http_upstream_rr_peer_t     *peer;       /* `number` peers */
    pt_http_upstream_rr_peers_t    *next;
    pt_shmtx_t                     *lock;       /* zone: held around
                                                   reads and writes of
                                                   `st`; NULL otherwise */
};

/* Per request: which peers were tried, and the one in use. */
typedef struct {
    pt_http_upstream_rr_peers_t    *peers;
    pt_http_upstream_rr_peer_t     *current;
    uintptr_t                      *tried;   /* bitmap over the larger of
                                                the primary/backup lists */
    uintptr_t                       data;    /* tried, when it fits */
} pt_http_upstream_rr_peer_data_t;

#define PT_RR_TRIED_BITS (8 * sizeof(uintptr_t))

static inline int
pt_rr_tried(const pt_http_upstream_rr_peer_data_t *rrp, pt_uint_t i)
{
    return (rrp->tried[i / PT_RR_TRIED_BITS] >> (i % PT_RR_TRIED_BITS)) & 1;
}

static inline void
pt_rr_set_tried(pt_http_upstream_rr_peer_data_t *rrp, pt_uint_t i)
{
    rrp->tried[i / PT_RR_TRIED_BITS] |= (uintptr_t) 1 << (i % PT_RR_TRIED_BITS);
}

static inline void
pt_rr_lock(pt_http_upstream_rr_peers_t *peers)
{
    if (peers->lock != NULL) {
        pt_shmtx_lock(peers->lock);
    }
}

static inline void
pt_rr_unlock(pt_http_upstream_rr_peers_t *peers)
{
    if (peers->lock != NULL) {
        pt_shmtx_unlock(peers->lock);
    }
}

/* May `peer` be chosen now (not down, not failed within fail_timeout, under
 * max_conns)? Called with the lock held; `now` in seconds. */
int pt_http_upstream_rr_peer_usable(pt_http_upstream_rr_peer_t *peer,
                                    time_t now);

/* Set up r->upstream->peer for round robin over `peers` (the group's data)
 * without choosing: other balancers call it, then replace get. `size` is
 * that of the balancer's per-request struct, which starts with a
 * pt_http_upstream_rr_peer_data_t (zeroed beyond it; in r->pool). */
int pt_http_upstream_rr_peer_data_init(pt_http_request_t *r,
                                       pt_http_upstream_rr_peers_t *peers,
                                       size_t size);

/* Round robin's get and free (other balancers fall back to get and reuse
 * free). */
int pt_http_upstream_get_round_robin_peer(pt_peer_connection_t *pc,
                                          void *data);
void pt_http_upstream_free_round_robin_peer(pt_peer_connection_t *pc,
                                            void *data, pt_uint_t state);

/* Mark `peer` as chosen: count the connection, fill pc. Lock held. */
void pt_http_upstream_rr_use(pt_peer_connection_t *pc,
                             pt_http_upstream_rr_peer_data_t *rrp,
                             pt_http_upstream_rr_peer_t *peer, pt_uint_t i);

/* Flags of the default balancer: every server parameter. */
#define PT_HTTP_UPSTREAM_RR_FLAGS                                             \
    (PT_HTTP_UPSTREAM_CREATE | PT_HTTP_UPSTREAM_WEIGHT                        \
     | PT_HTTP_UPSTREAM_MAX_FAILS | PT_HTTP_UPSTREAM_FAIL_TIMEOUT             \
     | PT_HTTP_UPSTREAM_DOWN | PT_HTTP_UPSTREAM_BACKUP                        \
     | PT_HTTP_UPSTREAM_MAX_CONNS)

/* Config time, inside an `upstream` block: the group being defined. */
pt_http_upstream_srv_conf_t *pt_http_upstream_conf_group(pt_conf_t *cf);

/* A balancer directive's setter calls it first: warns "load balancing
 * method redefined" when another balancer was set, then installs `init`
 * and `flags`. */
void pt_http_upstream_set_balancer(pt_conf_t *cf,
                                   pt_http_upstream_srv_conf_t *us,
                                   pt_http_upstream_init_pt init,
                                   pt_uint_t flags);

#endif /* PT_HTTP_UPSTREAM_RR_H */

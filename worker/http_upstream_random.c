/*
 * `random [two [least_conn]]`: a peer drawn at random in proportion to its
 * weight; with `two`, two are drawn and the one with fewer connections for
 * its weight is used. After 20 unusable draws round robin takes over.
 */
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"

#define RANDOM_FLAGS                                                          \
    (PT_HTTP_UPSTREAM_CREATE | PT_HTTP_UPSTREAM_WEIGHT                        \
     | PT_HTTP_UPSTREAM_MAX_FAILS | PT_HTTP_UPSTREAM_FAIL_TIMEOUT             \
     | PT_HTTP_UPSTREAM_DOWN | PT_HTTP_UPSTREAM_MAX_CONNS)

#define RANDOM_MAX_TRIES 20

typedef struct {
    unsigned    two:1;
    pt_uint_t  *ranges;   /* cumulative weights of the primary peers */
} random_conf_t;

typedef struct {
    pt_http_upstream_rr_peer_data_t  rrp;   /* first: rr's free takes it */
    random_conf_t                   *conf;
    pt_uint_t                        tries;
} random_data_t;

static void *create_srv_conf(pt_conf_t *cf);
static int   init_process(pt_cycle_t *cycle);
static char *random_cmd(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_command_t commands[] = {
    { "random", PT_CONF_UPSTREAM | PT_CONF_NOARGS | PT_CONF_TAKE12,
      random_cmd, PT_CONF_SRV_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_random_module = {
    .name = "http_upstream_random",
    .commands = commands,
    .create_srv_conf = create_srv_conf,
    .init_process = init_process,
    .type = PT_MODULE_HTTP,
};

/* Workers are forked with the master's random() state: without a seed of
 * their own they would all draw the same sequence. */
static int
init_process(pt_cycle_t *cycle)
{
    (void) cycle;
    srandom((unsigned) getpid() ^ (unsigned) pt_current_msec);
    return PT_OK;
}

static void *
create_srv_conf(pt_conf_t *cf)
{
    return pt_pcalloc(cf->pool, sizeof(random_conf_t));
}

/* A peer index drawn by weight: binary search of the cumulative weights. */
static pt_uint_t
draw(random_conf_t *rcf, pt_http_upstream_rr_peers_t *peers)
{
    pt_uint_t x = (pt_uint_t) random() % peers->total_weight;
    pt_uint_t lo = 0, hi = peers->number - 1, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (x < rcf->ranges[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return lo;
}

/* A usable untried peer by weight, other than `not` when possible. Lock
 * held. (pt_uint_t) -1 after too many draws. */
static pt_uint_t
draw_usable(random_data_t *rd, pt_uint_t not)
{
    pt_http_upstream_rr_peers_t *peers = rd->rrp.peers;
    pt_uint_t                    p;

    while (rd->tries++ < RANDOM_MAX_TRIES) {
        p = draw(rd->conf, peers);
        if (p != not && !pt_rr_tried(&rd->rrp, p)
            && pt_http_upstream_rr_peer_usable(&peers->peer[p], pt_time_sec))
        {
            return p;
        }
    }
    return (pt_uint_t) -1;
}

static int
random_get(pt_peer_connection_t *pc, void *data)
{
    random_data_t               *rd = data;
    pt_http_upstream_rr_peers_t *peers = rd->rrp.peers;
    pt_http_upstream_rr_peer_t  *a, *b;
    pt_uint_t                    p, q;

    if (peers->single || rd->tries >= RANDOM_MAX_TRIES) {
        return pt_http_upstream_get_round_robin_peer(pc, &rd->rrp);
    }
    pc->cached = 0;
    pc->connection = NULL;
    pt_rr_lock(peers);
    p = draw_usable(rd, (pt_uint_t) -1);
    if (p != (pt_uint_t) -1 && rd->conf->two) {
        q = draw_usable(rd, p);
        if (q != (pt_uint_t) -1) {
            a = &peers->peer[p];
            b = &peers->peer[q];
            /* fewer connections per unit of weight wins */
            if (b->st->conns * (pt_uint_t) a->weight
                < a->st->conns * (pt_uint_t) b->weight)
            {
                p = q;
            }
        }
    }
    if (p == (pt_uint_t) -1) {
        pt_rr_unlock(peers);
        return pt_http_upstream_get_round_robin_peer(pc, &rd->rrp);
    }
    pt_http_upstream_rr_use(pc, &rd->rrp, &peers->peer[p], p);
    pt_rr_unlock(peers);
    return PT_OK;
}

static int
random_init_peer(pt_http_request_t *r, pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_t *u = r->upstream;
    random_data_t      *rd;

    if (pt_http_upstream_rr_peer_data_init(r, us->peer_data, sizeof(*rd))
        != PT_OK)
    {
        return PT_ERROR;
    }
    rd = u->peer.data;
    rd->conf = us->srv_conf[pt_http_upstream_random_module.index];
    u->peer.get = random_get;
    return PT_OK;
}

static int
random_init(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us)
{
    random_conf_t               *rcf;
    pt_http_upstream_rr_peers_t *peers;
    pt_uint_t                    i, sum = 0;

    if (pt_http_upstream_init_round_robin(cf, us) != PT_OK) {
        return PT_ERROR;
    }
    us->init_peer = random_init_peer;
    rcf = us->srv_conf[pt_http_upstream_random_module.index];
    peers = us->peer_data;
    rcf->ranges = pt_palloc(cf->pool, peers->number * sizeof(pt_uint_t));
    if (rcf->ranges == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < peers->number; i++) {
        sum += (pt_uint_t) peers->peer[i].weight;
        rcf->ranges[i] = sum;
    }
    return PT_OK;
}

static char *
random_cmd(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    random_conf_t *rcf = conf;
    pt_uint_t      i;

    (void) cmd;
    for (i = 1; i < cf->nargs; i++) {
        if ((i == 1 && pt_str_eq_cstr(&cf->args[i], "two"))
            || (i == 2 && pt_str_eq_cstr(&cf->args[i], "least_conn")))
        {
            continue;
        }
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                          (int) cf->args[i].len, cf->args[i].data);
        return PT_CONF_ERROR;
    }
    rcf->two = cf->nargs > 1;
    pt_http_upstream_set_balancer(cf, pt_http_upstream_conf_group(cf),
                                  random_init, RANDOM_FLAGS);
    return PT_CONF_OK;
}

/*
 * `least_conn`: the peer with the fewest active connections for its weight;
 * ties are broken by smooth weighted round robin among the tied peers.
 * Backup peers are chosen by round robin once no primary is usable.
 */
#include "common/log.h"
#include "common/time.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"

static char *least_conn(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_command_t commands[] = {
    { "least_conn", PT_CONF_UPSTREAM | PT_CONF_NOARGS,
      least_conn, PT_CONF_SRV_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_least_conn_module = {
    .name = "http_upstream_least_conn",
    .commands = commands,
    .type = PT_MODULE_HTTP,
};

static int lc_get(pt_peer_connection_t *pc, void *data);

static int
lc_init_peer(pt_http_request_t *r, pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_t *u = r->upstream;

    if (pt_http_upstream_rr_peer_data_init(r, us->peer_data, 0) != PT_OK) {
        return PT_ERROR;
    }
    u->peer.get = lc_get;
    return PT_OK;
}

static int
lc_init(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us)
{
    if (pt_http_upstream_init_round_robin(cf, us) != PT_OK) {
        return PT_ERROR;
    }
    us->init_peer = lc_init_peer;
    return PT_OK;
}

/* Is a fewer than b, comparing connections per unit of weight? */
static int
fewer(pt_http_upstream_rr_peer_t *a, pt_http_upstream_rr_peer_t *b)
{
    return a->st->conns * (pt_uint_t) b->weight
           < b->st->conns * (pt_uint_t) a->weight;
}

static int
same(pt_http_upstream_rr_peer_t *a, pt_http_upstream_rr_peer_t *b)
{
    return a->st->conns * (pt_uint_t) b->weight
           == b->st->conns * (pt_uint_t) a->weight;
}

/* Among the usable untried peers as loaded as the least loaded one, the
 * smooth weighted choice. Lock held. (pt_uint_t) -1 when none. */
static pt_uint_t
lc_choose(pt_http_upstream_rr_peer_data_t *rrp, time_t now)
{
    pt_http_upstream_rr_peers_t *peers = rrp->peers;
    pt_http_upstream_rr_peer_t  *peer, *best = NULL, *wbest = NULL;
    pt_uint_t                    i, p = (pt_uint_t) -1;
    pt_int_t                     total = 0;

    for (i = 0; i < peers->number; i++) {
        peer = &peers->peer[i];
        if (!pt_rr_tried(rrp, i)
            && pt_http_upstream_rr_peer_usable(peer, now)
            && (best == NULL || fewer(peer, best)))
        {
            best = peer;
        }
    }
    if (best == NULL) {
        return p;
    }
    for (i = 0; i < peers->number; i++) {
        peer = &peers->peer[i];
        if (pt_rr_tried(rrp, i) || !pt_http_upstream_rr_peer_usable(peer, now)
            || !same(peer, best))
        {
            continue;
        }
        peer->st->current_weight += peer->st->effective_weight;
        total += peer->st->effective_weight;
        if (peer->st->effective_weight < peer->weight) {
            peer->st->effective_weight++;
        }
        if (wbest == NULL
            || peer->st->current_weight > wbest->st->current_weight)
        {
            wbest = peer;
            p = i;
        }
    }
    wbest->st->current_weight -= total;
    return p;
}

static int
lc_get(pt_peer_connection_t *pc, void *data)
{
    pt_http_upstream_rr_peer_data_t *rrp = data;
    pt_http_upstream_rr_peers_t     *peers = rrp->peers;
    pt_uint_t                        i;

    if (peers->backup) {
        return pt_http_upstream_get_round_robin_peer(pc, data);
    }
    pc->cached = 0;
    pc->connection = NULL;
    pt_rr_lock(peers);
    i = lc_choose(rrp, pt_time_sec);
    if (i != (pt_uint_t) -1) {
        pt_http_upstream_rr_use(pc, rrp, &peers->peer[i], i);
        pt_rr_unlock(peers);
        return PT_OK;
    }
    pt_rr_unlock(peers);
    if (peers->next != NULL) {
        /* round robin moves to the backups when no primary is left */
        return pt_http_upstream_get_round_robin_peer(pc, data);
    }
    pc->name = peers->name;
    return PT_BUSY;
}

static char *
least_conn(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    (void) cmd;
    (void) conf;
    pt_http_upstream_set_balancer(cf, pt_http_upstream_conf_group(cf),
                                  lc_init, PT_HTTP_UPSTREAM_RR_FLAGS);
    return PT_CONF_OK;
}

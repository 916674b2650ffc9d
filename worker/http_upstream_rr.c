/*
 * Smooth weighted round robin, the default balancer: the peer lists of a
 * group (primary, then backup), passive health (max_fails within
 * fail_timeout, then one probe), max_conns, and one-request groups for
 * addresses known only at run time.
 */
#include <string.h>
#include <netinet/in.h>

#include "common/inet.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"

/* ------------------------------------------------------------ init */

static int
count_peers(pt_http_upstream_srv_conf_t *us, int backup, pt_uint_t *n,
            pt_uint_t *w)
{
    pt_http_upstream_server_t *s = us->servers->elts;
    pt_uint_t                  i;
    int                        weighted = 0;

    *n = 0;
    *w = 0;
    for (i = 0; i < us->servers->nelts; i++) {
        if ((int) s[i].backup != backup) {
            continue;
        }
        *n += s[i].naddrs;
        *w += s[i].naddrs * s[i].weight;
        weighted |= s[i].weight != 1;
    }
    return weighted;
}

/* Fill one peer from an address; its state starts fresh in `pool`. */
static int
init_peer_entry(pt_pool_t *pool, pt_http_upstream_rr_peer_t *peer,
                pt_addr_t *addr, const pt_str_t *server, pt_uint_t weight)
{
    char text[PT_SOCKADDR_STRLEN];
    size_t len;

    peer->sockaddr = (struct sockaddr *) &addr->sockaddr;
    peer->socklen = addr->socklen;
    len = pt_inet_text(peer->sockaddr, peer->socklen, text, sizeof(text));
    peer->name.data = pt_pnalloc(pool, len);
    peer->st = pt_pcalloc(pool, sizeof(*peer->st));
    if (peer->name.data == NULL || peer->st == NULL) {
        return PT_ERROR;
    }
    memcpy(peer->name.data, text, len);
    peer->name.len = len;
    peer->server = *server;
    peer->weight = (pt_int_t) weight;
    peer->st->effective_weight = (pt_int_t) weight;
    return PT_OK;
}

static pt_http_upstream_rr_peers_t *
build_peers(pt_pool_t *pool, pt_http_upstream_srv_conf_t *us, int backup)
{
    pt_http_upstream_server_t   *s = us->servers->elts;
    pt_http_upstream_rr_peers_t *peers;
    pt_http_upstream_rr_peer_t  *peer;
    pt_uint_t                    i, j, n, w;
    int                          weighted;

    weighted = count_peers(us, backup, &n, &w);
    if (n == 0) {
        return NULL;
    }
    peers = pt_pcalloc(pool, sizeof(*peers));
    peer = pt_pcalloc(pool, n * sizeof(*peer));
    if (peers == NULL || peer == NULL) {
        return NULL;
    }
    peers->number = n;
    peers->total_weight = w;
    peers->weighted = weighted;
    peers->backup = backup;
    peers->single = n == 1;
    peers->name = &us->host;
    peers->peer = peer;

    n = 0;
    for (i = 0; i < us->servers->nelts; i++) {
        if ((int) s[i].backup != backup) {
            continue;
        }
        for (j = 0; j < s[i].naddrs; j++, n++) {
            if (init_peer_entry(pool, &peer[n], &s[i].addrs[j], &s[i].name,
                                s[i].weight) != PT_OK)
            {
                return NULL;
            }
            peer[n].max_fails = s[i].max_fails;
            peer[n].fail_timeout = s[i].fail_timeout;
            peer[n].max_conns = s[i].max_conns;
            peer[n].down = s[i].down;
        }
    }
    return peers;
}

/* Config time: the group's peers from its servers. */
int
pt_http_upstream_init_round_robin(pt_conf_t *cf,
                                  pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_rr_peers_t *peers;
    pt_uint_t                    n, w;

    us->init_peer = pt_http_upstream_init_round_robin_peer;
    count_peers(us, 0, &n, &w);
    if (n == 0) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0,
                     "no servers in upstream \"%.*s\" in %s:%lu",
                     (int) us->host.len, us->host.data, us->file,
                     (unsigned long) us->line);
        return PT_ERROR;
    }
    peers = build_peers(cf->pool, us, 0);
    if (peers == NULL) {
        return PT_ERROR;
    }
    count_peers(us, 1, &n, &w);
    if (n > 0) {
        peers->next = build_peers(cf->pool, us, 1);
        if (peers->next == NULL) {
            return PT_ERROR;
        }
        /* a request reaches the backups only after trying primaries:
         * the tried bitmap must count there too */
        peers->next->single = 0;
        peers->single = 0;
    }
    us->peer_data = peers;
    return PT_OK;
}

/* ------------------------------------------------------------ per request */

static pt_uint_t
live_count(pt_http_upstream_rr_peers_t *peers)
{
    pt_uint_t i, n = 0;

    for (i = 0; i < peers->number; i++) {
        n += !peers->peer[i].down;
    }
    return n;
}

int
pt_http_upstream_rr_peer_data_init(pt_http_request_t *r,
                                   pt_http_upstream_rr_peers_t *peers,
                                   size_t size)
{
    pt_http_upstream_t              *u = r->upstream;
    pt_http_upstream_rr_peer_data_t *rrp;
    pt_uint_t                        n;

    rrp = pt_pcalloc(r->pool, pt_max(size, sizeof(*rrp)));
    if (rrp == NULL) {
        return PT_ERROR;
    }
    rrp->peers = peers;
    n = peers->number;
    if (peers->next != NULL && peers->next->number > n) {
        n = peers->next->number;
    }
    if (n <= PT_RR_TRIED_BITS) {
        rrp->tried = &rrp->data;
    } else {
        rrp->tried = pt_pcalloc(r->pool, (n + PT_RR_TRIED_BITS - 1)
                                             / PT_RR_TRIED_BITS
                                             * sizeof(uintptr_t));
        if (rrp->tried == NULL) {
            return PT_ERROR;
        }
    }
    u->peer.data = rrp;
    u->peer.get = pt_http_upstream_get_round_robin_peer;
    u->peer.free = pt_http_upstream_free_round_robin_peer;
    u->peer.tries = live_count(peers)
                    + (peers->next != NULL ? live_count(peers->next) : 0);
    return PT_OK;
}

int
pt_http_upstream_init_round_robin_peer(pt_http_request_t *r,
                                       pt_http_upstream_srv_conf_t *us)
{
    return pt_http_upstream_rr_peer_data_init(r, us->peer_data, 0);
}

int
pt_http_upstream_rr_peer_usable(pt_http_upstream_rr_peer_t *peer, time_t now)
{
    pt_http_upstream_peer_state_t *st = peer->st;

    if (peer->down || st->hc_down) {
        return 0;
    }
    if (peer->max_fails && st->fails >= peer->max_fails
        && now - st->checked <= peer->fail_timeout)
    {
        return 0;
    }
    return !(peer->max_conns && st->conns >= peer->max_conns);
}

void
pt_http_upstream_rr_use(pt_peer_connection_t *pc,
                        pt_http_upstream_rr_peer_data_t *rrp,
                        pt_http_upstream_rr_peer_t *peer, pt_uint_t i)
{
    time_t now = pt_time_sec;

    rrp->current = peer;
    pt_rr_set_tried(rrp, i);
    /* the first try after fail_timeout is the probe: others wait for it */
    if (now - peer->st->checked > peer->fail_timeout) {
        peer->st->checked = now;
    }
    peer->st->conns++;
    peer->st->requests++;
    pc->sockaddr = peer->sockaddr;
    pc->socklen = peer->socklen;
    pc->name = &peer->name;
}

/* The smooth weighted choice among the untried usable peers: each gains
 * its effective weight, the richest wins and pays the total. */
static pt_uint_t
choose(pt_http_upstream_rr_peer_data_t *rrp, time_t now)
{
    pt_http_upstream_rr_peers_t *peers = rrp->peers;
    pt_http_upstream_rr_peer_t  *peer, *best = NULL;
    pt_uint_t                    i, p = 0;
    pt_int_t                     total = 0;

    for (i = 0; i < peers->number; i++) {
        peer = &peers->peer[i];
        if (pt_rr_tried(rrp, i) || !pt_http_upstream_rr_peer_usable(peer, now))
        {
            continue;
        }
        peer->st->current_weight += peer->st->effective_weight;
        total += peer->st->effective_weight;
        /* a peer that failed earns its weight back one step per choice */
        if (peer->st->effective_weight < peer->weight) {
            peer->st->effective_weight++;
        }
        if (best == NULL
            || peer->st->current_weight > best->st->current_weight)
        {
            best = peer;
            p = i;
        }
    }
    if (best == NULL) {
        return (pt_uint_t) -1;
    }
    best->st->current_weight -= total;
    return p;
}

/* Switch a request to the backup list, with nothing tried there yet. */
static int
to_backup(pt_http_upstream_rr_peer_data_t *rrp)
{
    pt_uint_t n;

    if (rrp->peers->next == NULL) {
        return 0;
    }
    rrp->peers = rrp->peers->next;
    n = (rrp->peers->number + PT_RR_TRIED_BITS - 1) / PT_RR_TRIED_BITS;
    memset(rrp->tried, 0, n * sizeof(uintptr_t));
    return 1;
}

int
pt_http_upstream_get_round_robin_peer(pt_peer_connection_t *pc, void *data)
{
    pt_http_upstream_rr_peer_data_t *rrp = data;
    pt_http_upstream_rr_peers_t     *peers;
    pt_http_upstream_rr_peer_t      *peer;
    pt_uint_t                        i;

    pc->cached = 0;
    pc->connection = NULL;
    for (;;) {
        peers = rrp->peers;
        pt_rr_lock(peers);
        if (peers->single) {
            peer = &peers->peer[0];
            /* one peer: failures never take it out, as in nginx */
            i = (!peer->down && !peer->st->hc_down
                 && !(peer->max_conns && peer->st->conns >= peer->max_conns))
                    ? 0 : (pt_uint_t) -1;
        } else {
            i = choose(rrp, pt_time_sec);
        }
        if (i != (pt_uint_t) -1) {
            pt_http_upstream_rr_use(pc, rrp, &peers->peer[i], i);
            pt_rr_unlock(peers);
            return PT_OK;
        }
        pt_rr_unlock(peers);
        if (!to_backup(rrp)) {
            break;
        }
    }
    pc->name = peers->name;
    return PT_BUSY;
}

/* Record the end of a try: a failure lowers the peer's effective weight
 * and counts toward max_fails; a success after the probe clears fails. */
void
pt_http_upstream_free_round_robin_peer(pt_peer_connection_t *pc, void *data,
                                       pt_uint_t state)
{
    pt_http_upstream_rr_peer_data_t *rrp = data;
    pt_http_upstream_rr_peer_t      *peer = rrp->current;
    pt_http_upstream_peer_state_t   *st;
    time_t                           now = pt_time_sec;

    if (peer == NULL) {
        return;
    }
    st = peer->st;
    pt_rr_lock(rrp->peers);
    if (state & PT_PEER_FAILED) {
        st->failures++;
        st->hc_passes = 0;   /* an active check must see it good again */
        if (!rrp->peers->single) {
            st->fails++;
            st->accessed = now;
            st->checked = now;
            if (peer->max_fails) {
                st->effective_weight -= peer->weight
                                        / (pt_int_t) peer->max_fails;
                if (st->fails >= peer->max_fails) {
                    /* the log's context names the request and peer */
                    pt_log_error(PT_LOG_WARN, pc->log, 0,
                                 "upstream server temporarily disabled");
                }
            }
            if (st->effective_weight < 0) {
                st->effective_weight = 0;
            }
        }
    } else {
        st->responses++;
        if (st->accessed < st->checked) {
            st->fails = 0;
        }
    }
    if (st->conns > 0) {
        st->conns--;
    }
    pt_rr_unlock(rrp->peers);
    rrp->current = NULL;
    if (rrp->peers->single && !(state & PT_PEER_NEXT)) {
        /* one peer: nothing else to try (a retry the caller still wants,
         * e.g. after a dead pooled connection, says PT_PEER_NEXT) */
        pc->tries = 0;
    } else if (pc->tries > 0) {
        pc->tries--;
    }
}

/* ------------------------------------------------------------ run time */

int
pt_http_upstream_create_round_robin_peer(pt_http_request_t *r,
                                         pt_addr_t *addrs, pt_uint_t naddrs,
                                         pt_str_t *host, in_port_t port)
{
    pt_http_upstream_rr_peers_t *peers;
    pt_http_upstream_rr_peer_t  *peer;
    pt_addr_t                   *a;
    pt_uint_t                    i;

    peers = pt_pcalloc(r->pool, sizeof(*peers));
    peer = pt_pcalloc(r->pool, naddrs * sizeof(*peer));
    a = pt_palloc(r->pool, naddrs * sizeof(*a));
    if (peers == NULL || peer == NULL || a == NULL || naddrs == 0) {
        return PT_ERROR;
    }
    for (i = 0; i < naddrs; i++) {
        a[i] = addrs[i];
        if (port != 0 && a[i].sockaddr.ss_family == AF_INET) {
            ((struct sockaddr_in *) &a[i].sockaddr)->sin_port = htons(port);
        } else if (port != 0 && a[i].sockaddr.ss_family == AF_INET6) {
            ((struct sockaddr_in6 *) &a[i].sockaddr)->sin6_port = htons(port);
        }
        if (init_peer_entry(r->pool, &peer[i], &a[i], host, 1) != PT_OK) {
            return PT_ERROR;
        }
        peer[i].max_fails = 1;
        peer[i].fail_timeout = 10;
    }
    peers->number = naddrs;
    peers->total_weight = naddrs;
    peers->single = naddrs == 1;
    peers->name = host;
    peers->peer = peer;
    return pt_http_upstream_rr_peer_data_init(r, peers, 0);
}

/*
 * `ip_hash`: the client address picks the peer (IPv4 by its first three
 * octets, IPv6 by the whole address), weighted; an unusable pick is
 * rehashed, and after 20 rehashes round robin takes over.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "common/pool.h"
#include "common/time.h"
#include "worker/conn.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"

#define IP_HASH_FLAGS                                                         \
    (PT_HTTP_UPSTREAM_CREATE | PT_HTTP_UPSTREAM_WEIGHT                        \
     | PT_HTTP_UPSTREAM_MAX_FAILS | PT_HTTP_UPSTREAM_FAIL_TIMEOUT             \
     | PT_HTTP_UPSTREAM_DOWN | PT_HTTP_UPSTREAM_MAX_CONNS)

static char *ip_hash(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_command_t commands[] = {
    { "ip_hash", PT_CONF_UPSTREAM | PT_CONF_NOARGS,
      ip_hash, PT_CONF_SRV_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_ip_hash_module = {
    .name = "http_upstream_ip_hash",
    .commands = commands,
    .type = PT_MODULE_HTTP,
};

typedef struct {
    pt_http_upstream_rr_peer_data_t  rrp;   /* first: rr's free takes it */
    pt_uint_t                        hash;
    pt_uint_t                        rehashes;
    u_char                           addr[16];
    size_t                           addrlen;
} ip_hash_data_t;

static int ip_hash_get(pt_peer_connection_t *pc, void *data);

static int
ip_hash_init_peer(pt_http_request_t *r, pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_t       *u = r->upstream;
    ip_hash_data_t           *iph;
    const struct sockaddr    *sa;

    if (pt_http_upstream_rr_peer_data_init(r, us->peer_data, sizeof(*iph))
        != PT_OK)
    {
        return PT_ERROR;
    }
    iph = u->peer.data;
    sa = r->connection != NULL && r->connection->sockaddr != NULL
             ? (const struct sockaddr *) r->connection->sockaddr : NULL;
    if (sa != NULL && sa->sa_family == AF_INET) {
        memcpy(iph->addr,
               &((const struct sockaddr_in *) sa)->sin_addr.s_addr, 3);
        iph->addrlen = 3;
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        memcpy(iph->addr,
               ((const struct sockaddr_in6 *) sa)->sin6_addr.s6_addr, 16);
        iph->addrlen = 16;
    } else {
        iph->addrlen = 3;   /* unix clients: all on one peer, as nginx */
    }
    iph->hash = 89;
    u->peer.get = ip_hash_get;
    return PT_OK;
}

static int
ip_hash_init(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us)
{
    if (pt_http_upstream_init_round_robin(cf, us) != PT_OK) {
        return PT_ERROR;
    }
    us->init_peer = ip_hash_init_peer;
    return PT_OK;
}

/* The peer a weight offset falls on. */
static pt_uint_t
weighted_index(pt_http_upstream_rr_peers_t *peers, pt_uint_t w)
{
    pt_uint_t i = 0;

    while (w >= (pt_uint_t) peers->peer[i].weight) {
        w -= (pt_uint_t) peers->peer[i].weight;
        i++;
    }
    return i;
}

static int
ip_hash_get(pt_peer_connection_t *pc, void *data)
{
    ip_hash_data_t              *iph = data;
    pt_http_upstream_rr_peers_t *peers = iph->rrp.peers;
    pt_uint_t                    i, p;

    if (iph->rehashes > 20 || peers->single || peers->backup) {
        return pt_http_upstream_get_round_robin_peer(pc, &iph->rrp);
    }
    pc->cached = 0;
    pc->connection = NULL;
    pt_rr_lock(peers);
    for (;;) {
        for (i = 0; i < iph->addrlen; i++) {
            iph->hash = (iph->hash * 113 + iph->addr[i]) % 6271;
        }
        p = weighted_index(peers, iph->hash % peers->total_weight);
        if (!pt_rr_tried(&iph->rrp, p)
            && pt_http_upstream_rr_peer_usable(&peers->peer[p], pt_time_sec))
        {
            break;
        }
        if (++iph->rehashes > 20) {
            pt_rr_unlock(peers);
            return pt_http_upstream_get_round_robin_peer(pc, &iph->rrp);
        }
    }
    pt_http_upstream_rr_use(pc, &iph->rrp, &peers->peer[p], p);
    pt_rr_unlock(peers);
    return PT_OK;
}

static char *
ip_hash(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    (void) cmd;
    (void) conf;
    pt_http_upstream_set_balancer(cf, pt_http_upstream_conf_group(cf),
                                  ip_hash_init, IP_HASH_FLAGS);
    return PT_CONF_OK;
}

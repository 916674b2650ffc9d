/*
 * `hash KEY [consistent]`: a complex value picks the peer. Plain: the
 * weighted position of a CRC32-based hash, rehashed when the peer is not
 * usable. Consistent: a ring of 160 points per unit of weight, each peer's
 * points derived from its address alone, so removing one of N peers moves
 * only the keys it had (about 1/N).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/time.h"
#include "http_script.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"

#define HASH_FLAGS                                                            \
    (PT_HTTP_UPSTREAM_CREATE | PT_HTTP_UPSTREAM_WEIGHT                        \
     | PT_HTTP_UPSTREAM_MAX_FAILS | PT_HTTP_UPSTREAM_FAIL_TIMEOUT             \
     | PT_HTTP_UPSTREAM_DOWN | PT_HTTP_UPSTREAM_MAX_CONNS)

#define HASH_POINTS_PER_WEIGHT 160
#define HASH_MAX_TRIES         20

typedef struct {
    uint32_t   hash;
    pt_uint_t  peer;      /* index in the primary list */
} hash_point_t;

typedef struct {
    pt_http_complex_value_t  *key;
    unsigned                  consistent:1;
    hash_point_t             *points;     /* sorted by hash */
    pt_uint_t                 npoints;
} hash_conf_t;

typedef struct {
    pt_http_upstream_rr_peer_data_t  rrp;   /* first: rr's free takes it */
    hash_conf_t                     *conf;
    pt_str_t                         key;
    uint32_t                         hash;  /* plain: running sum; ring:
                                               point index */
    pt_uint_t                        rehash;
    pt_uint_t                        tries;
} hash_data_t;

static void *create_srv_conf(pt_conf_t *cf);
static char *hash(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_command_t commands[] = {
    { "hash", PT_CONF_UPSTREAM | PT_CONF_TAKE12,
      hash, PT_CONF_SRV_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_hash_module = {
    .name = "http_upstream_hash",
    .commands = commands,
    .create_srv_conf = create_srv_conf,
    .type = PT_MODULE_HTTP,
};

static void *
create_srv_conf(pt_conf_t *cf)
{
    return pt_pcalloc(cf->pool, sizeof(hash_conf_t));
}

static uint32_t
crc(uint32_t seed, const void *p, size_t n)
{
    return (uint32_t) crc32(seed, p, (uInt) n);
}

/* ------------------------------------------------------------ ring */

static int
point_cmp(const void *a, const void *b)
{
    const hash_point_t *x = a, *y = b;

    if (x->hash != y->hash) {
        return x->hash < y->hash ? -1 : 1;
    }
    return x->peer < y->peer ? -1 : (x->peer > y->peer);
}

/* Each peer's points: a chain of CRC32s seeded by its address text, so
 * they do not depend on the other peers or their order. */
static int
build_ring(pt_conf_t *cf, hash_conf_t *hcf, pt_http_upstream_rr_peers_t *peers)
{
    pt_http_upstream_rr_peer_t *peer;
    pt_uint_t                   i, j, n = 0, k = 0;
    uint32_t                    base, prev;

    for (i = 0; i < peers->number; i++) {
        n += (pt_uint_t) peers->peer[i].weight * HASH_POINTS_PER_WEIGHT;
    }
    hcf->points = pt_palloc(cf->pool, n * sizeof(hash_point_t));
    if (hcf->points == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < peers->number; i++) {
        peer = &peers->peer[i];
        base = crc(0, peer->name.data, peer->name.len);
        prev = 0;
        for (j = 0; j < (pt_uint_t) peer->weight * HASH_POINTS_PER_WEIGHT;
             j++)
        {
            prev = crc(base, &prev, sizeof(prev));
            hcf->points[k].hash = prev;
            hcf->points[k].peer = i;
            k++;
        }
    }
    qsort(hcf->points, n, sizeof(hash_point_t), point_cmp);
    hcf->npoints = n;
    return PT_OK;
}

/* The first point at or after `h`, wrapping. */
static pt_uint_t
ring_find(hash_conf_t *hcf, uint32_t h)
{
    pt_uint_t lo = 0, hi = hcf->npoints, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (hcf->points[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo % hcf->npoints;
}

/* ------------------------------------------------------------ choice */

static int
usable(hash_data_t *hd, pt_uint_t p)
{
    return !pt_rr_tried(&hd->rrp, p)
           && pt_http_upstream_rr_peer_usable(&hd->rrp.peers->peer[p],
                                              pt_time_sec);
}

/* Plain hashing: each round adds CRC32 of "[rehash]key" (upper half) to
 * the running hash and takes its weighted position. */
static pt_uint_t
next_plain(hash_data_t *hd)
{
    pt_http_upstream_rr_peers_t *peers = hd->rrp.peers;
    char                         num[32];
    uint32_t                     h = 0;
    pt_uint_t                    w, i = 0;
    int                          n;

    if (hd->rehash > 0) {
        n = snprintf(num, sizeof(num), "%lu", (unsigned long) hd->rehash);
        h = crc(h, num, (size_t) n);
    }
    h = crc(h, hd->key.data, hd->key.len);
    hd->hash += (h >> 16) & 0x7fff;
    hd->rehash++;
    w = hd->hash % peers->total_weight;
    while (w >= (pt_uint_t) peers->peer[i].weight) {
        w -= (pt_uint_t) peers->peer[i].weight;
        i++;
    }
    return i;
}

static int
hash_get(pt_peer_connection_t *pc, void *data)
{
    hash_data_t                 *hd = data;
    pt_http_upstream_rr_peers_t *peers = hd->rrp.peers;
    pt_uint_t                    p;

    if (hd->tries > HASH_MAX_TRIES || peers->single || peers->backup) {
        return pt_http_upstream_get_round_robin_peer(pc, &hd->rrp);
    }
    pc->cached = 0;
    pc->connection = NULL;
    pt_rr_lock(peers);
    for (;;) {
        if (hd->conf->consistent) {
            p = hd->conf->points[hd->hash % hd->conf->npoints].peer;
        } else {
            p = next_plain(hd);
        }
        if (usable(hd, p)) {
            break;
        }
        if (hd->conf->consistent) {
            hd->hash++;
        }
        if (++hd->tries > HASH_MAX_TRIES) {
            pt_rr_unlock(peers);
            return pt_http_upstream_get_round_robin_peer(pc, &hd->rrp);
        }
    }
    pt_http_upstream_rr_use(pc, &hd->rrp, &peers->peer[p], p);
    pt_rr_unlock(peers);
    return PT_OK;
}

static int
hash_init_peer(pt_http_request_t *r, pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_t *u = r->upstream;
    hash_data_t        *hd;

    if (pt_http_upstream_rr_peer_data_init(r, us->peer_data, sizeof(*hd))
        != PT_OK)
    {
        return PT_ERROR;
    }
    hd = u->peer.data;
    hd->conf = us->srv_conf[pt_http_upstream_hash_module.index];
    if (pt_http_complex_value(r, hd->conf->key, &hd->key) != PT_OK) {
        return PT_ERROR;
    }
    if (hd->conf->consistent) {
        hd->hash = (uint32_t) ring_find(hd->conf,
                                        crc(0, hd->key.data, hd->key.len));
    }
    u->peer.get = hash_get;
    return PT_OK;
}

static int
hash_init(pt_conf_t *cf, pt_http_upstream_srv_conf_t *us)
{
    hash_conf_t *hcf = us->srv_conf[pt_http_upstream_hash_module.index];

    if (pt_http_upstream_init_round_robin(cf, us) != PT_OK) {
        return PT_ERROR;
    }
    us->init_peer = hash_init_peer;
    if (hcf->consistent) {
        return build_ring(cf, hcf, us->peer_data);
    }
    return PT_OK;
}

static char *
hash(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    hash_conf_t *hcf = conf;

    (void) cmd;
    if (cf->nargs == 3) {
        if (!pt_str_eq_cstr(&cf->args[2], "consistent")) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "invalid parameter \"%.*s\"",
                              (int) cf->args[2].len, cf->args[2].data);
            return PT_CONF_ERROR;
        }
        hcf->consistent = 1;
    }
    hcf->key = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
    if (hcf->key == NULL
        || pt_http_compile_complex_value(cf, &cf->args[1], hcf->key) != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    pt_http_upstream_set_balancer(cf, pt_http_upstream_conf_group(cf),
                                  hash_init, HASH_FLAGS);
    return PT_CONF_OK;
}

/*
 * `zone NAME [SIZE]` in an upstream block: the mutable state of the
 * group's peers (weights, failures, connection counts, counters, health)
 * lives in a shared-memory zone, so every worker sees and updates one copy
 * under the zone's lock. Entries are keyed by upstream name and peer
 * address: across a reload that keeps the zone a peer keeps its state, a
 * new one starts fresh, and a removed one is freed once no worker of the
 * configuration before can still use it.
 */
#include <string.h>
#include <unistd.h>

#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/shm.h"
#include "common/shmtx.h"
#include "common/slab.h"
#include "http_upstream.h"
#include "http_upstream_rr.h"
#include "http_upstream_zone.h"

static char *zone(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_command_t commands[] = {
    { "zone", PT_CONF_UPSTREAM | PT_CONF_TAKE12,
      zone, PT_CONF_SRV_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_upstream_zone_module = {
    .name = "http_upstream_zone",
    .commands = commands,
    .type = PT_MODULE_HTTP,
};

/* ------------------------------------------------------------ entries */

static pt_http_upstream_zone_entry_t *
find_entry(pt_http_upstream_zone_root_t *root, const u_char *key, size_t len)
{
    pt_http_upstream_zone_entry_t *e;

    for (e = root->entries; e != NULL; e = e->next) {
        if (e->keylen == len && memcmp(e->key, key, len) == 0) {
            return e;
        }
    }
    return NULL;
}

/* The entry of one peer: kept (weight changes restart its smooth WRR
 * state) or made fresh. Zone lock held. NULL when the zone is full. */
static pt_http_upstream_zone_entry_t *
peer_entry(pt_slab_pool_t *sp, pt_http_upstream_zone_root_t *root,
           const pt_str_t *group, pt_http_upstream_rr_peer_t *peer)
{
    pt_http_upstream_zone_entry_t *e;
    u_char                         key[512];
    size_t                         len;

    len = group->len + 1 + peer->name.len;
    if (len > sizeof(key)) {
        len = sizeof(key);   /* names this long are not told apart */
    }
    memcpy(key, group->data, pt_min(group->len, sizeof(key)));
    if (group->len < sizeof(key)) {
        key[group->len] = '\0';
        memcpy(key + group->len + 1, peer->name.data,
               len - group->len - 1);
    }
    e = find_entry(root, key, len);
    if (e == NULL) {
        e = pt_slab_calloc_locked(sp, sizeof(*e) + len);
        if (e == NULL) {
            return NULL;
        }
        memcpy(e->key, key, len);
        e->keylen = len;
        e->next = root->entries;
        root->entries = e;
        e->weight = peer->weight;
        e->st.effective_weight = peer->weight;
    } else if (e->weight != peer->weight) {
        e->weight = peer->weight;
        e->st.effective_weight = peer->weight;
        e->st.current_weight = 0;
    }
    e->seen = root->generation;
    return e;
}

static int
bind_peers(pt_slab_pool_t *sp, pt_http_upstream_zone_root_t *root,
           pt_http_upstream_srv_conf_t *us)
{
    pt_http_upstream_rr_peers_t   *peers;
    pt_http_upstream_zone_entry_t *e;
    pt_uint_t                      i;

    for (peers = us->peer_data; peers != NULL; peers = peers->next) {
        for (i = 0; i < peers->number; i++) {
            e = peer_entry(sp, root, &us->host, &peers->peer[i]);
            if (e == NULL) {
                return PT_ERROR;
            }
            peers->peer[i].st = &e->st;
        }
        peers->lock = &sp->mutex;
    }
    return PT_OK;
}

/* Entries no configuration of the last two generations used, with no
 * connection open: the workers of the configuration before this one may
 * still be finishing requests with theirs. Zone lock held. */
static void
sweep(pt_slab_pool_t *sp, pt_http_upstream_zone_root_t *root)
{
    pt_http_upstream_zone_entry_t **ep = &root->entries, *e;

    while ((e = *ep) != NULL) {
        if (e->seen + 1 < root->generation && e->st.conns == 0
            && !e->st.hc_checking)
        {
            *ep = e->next;
            pt_slab_free_locked(sp, e);
            continue;
        }
        ep = &e->next;
    }
}

/*
 * The zone's init (master, after the config is read; also on a reload that
 * keeps the mapping, with old workers running): find or make the root,
 * bind every group's peers to their entries, free stale entries.
 */
static int
init_zone(pt_shm_zone_t *shm_zone, void *old_data)
{
    pt_slab_pool_t                *sp = (pt_slab_pool_t *) shm_zone->shm.addr;
    pt_http_upstream_zone_root_t  *root;
    pt_array_t                    *groups = shm_zone->data;
    pt_http_upstream_srv_conf_t  **us;
    pt_uint_t                      i;
    int                            rc = PT_OK;

    (void) old_data;
    pt_shmtx_lock(&sp->mutex);
    root = sp->data;
    if (root == NULL) {
        root = pt_slab_calloc_locked(sp, sizeof(*root));
        sp->data = root;
    }
    if (root != NULL) {
        root->generation++;
        us = groups->elts;
        for (i = 0; i < groups->nelts && rc == PT_OK; i++) {
            rc = bind_peers(sp, root, us[i]);
        }
        if (rc == PT_OK) {
            sweep(sp, root);
        }
    }
    pt_shmtx_unlock(&sp->mutex);
    if (root == NULL || rc != PT_OK) {
        pt_log_error(PT_LOG_EMERG, shm_zone->shm.log, 0,
                     "could not allocate peers in upstream zone \"%.*s\"",
                     (int) shm_zone->shm.name.len, shm_zone->shm.name.data);
        return PT_ERROR;
    }
    return PT_OK;
}

int
pt_http_upstream_zone_bind(pt_shm_zone_t *shm_zone)
{
    return init_zone(shm_zone, NULL);
}

/* ------------------------------------------------------------ directive */

static char *
zone(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_upstream_srv_conf_t  *us = pt_http_upstream_conf_group(cf);
    pt_http_upstream_srv_conf_t **usp;
    pt_shm_zone_t                *z;
    ssize_t                       size = 0;
    long                          page = sysconf(_SC_PAGESIZE);

    (void) cmd;
    (void) conf;
    if (us->shm_zone != NULL) {
        return "is duplicate";
    }
    if (cf->nargs == 3) {
        size = pt_parse_size(&cf->args[2]);
        if (size == PT_ERROR) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "invalid zone size \"%.*s\"",
                              (int) cf->args[2].len, cf->args[2].data);
            return PT_CONF_ERROR;
        }
        if ((size_t) size < 8 * (size_t) (page > 0 ? page : 4096)) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "zone \"%.*s\" is too small",
                              (int) cf->args[1].len, cf->args[1].data);
            return PT_CONF_ERROR;
        }
    }
    z = pt_shm_zone_add(cf->pool, &cf->cycle->shm_zones, &cf->args[1],
                        (size_t) size, &pt_http_upstream_zone_module,
                        cf->log);
    if (z == NULL) {
        return PT_CONF_ERROR;
    }
    if (z->data == NULL) {
        z->data = pt_array_create(cf->pool, 2, sizeof(void *));
        if (z->data == NULL) {
            return PT_CONF_ERROR;
        }
        z->init = init_zone;
    }
    usp = pt_array_push(z->data);
    if (usp == NULL) {
        return PT_CONF_ERROR;
    }
    *usp = us;
    us->shm_zone = z;
    return PT_CONF_OK;
}

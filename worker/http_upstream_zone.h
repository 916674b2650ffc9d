/*
 * The layout of an upstream `zone`: a root with the list of peer entries,
 * each keyed by "upstream name\0peer address" and holding that peer's
 * shared state. For readers outside the zone module (health checks,
 * status pages): take the zone's slab mutex while walking the list.
 */
#ifndef PT_HTTP_UPSTREAM_ZONE_H
#define PT_HTTP_UPSTREAM_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "common/pt_types.h"
#include "http_upstream_rr.h"

typedef struct pt_http_upstream_zone_entry_s pt_http_upstream_zone_entry_t;

struct pt_http_upstream_zone_entry_s {
    pt_http_upstream_zone_entry_t  *next;
    uint64_t                        seen;     /* last generation using it */
    pt_int_t                        weight;   /* at the last binding */
    pt_http_upstream_peer_state_t   st;
    size_t                          keylen;
    u_char                          key[];
};

/* sp->data of the zone's slab pool. */
typedef struct {
    uint64_t                        generation;  /* bumped per binding */
    pt_http_upstream_zone_entry_t  *entries;
} pt_http_upstream_zone_root_t;

extern pt_module_t pt_http_upstream_zone_module;

/* Bind the peers of every group using `shm_zone` to their entries (what
 * the zone's init does; for tests that map a zone by hand). */
int pt_http_upstream_zone_bind(pt_shm_zone_t *shm_zone);

#endif /* PT_HTTP_UPSTREAM_ZONE_H */

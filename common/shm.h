/*
 * Shared memory: anonymous MAP_SHARED mappings made by the master before it
 * forks, and the named zones modules declare while parsing the config,
 * each kept across reloads while its name, owner and size stay the same.
 */
#ifndef PT_SHM_H
#define PT_SHM_H

#include "pt_types.h"
#include "str.h"

/* Smallest zone, in pages: header and descriptors plus a few pages. */
#define PT_SHM_ZONE_MIN_PAGES 8

typedef struct {
    u_char     *addr;   /* NULL until mapped */
    size_t      size;
    pt_str_t    name;   /* NUL-terminated */
    pt_log_t   *log;
} pt_shm_t;

/* Fill the zone's contents: `old_data` is the previous cycle's zone->data
 * when the mapping was kept across a reload (its contents too), else NULL
 * and the zone holds a fresh slab pool. Set zone->data; PT_OK/PT_ERROR. */
typedef int (*pt_shm_zone_init_pt)(pt_shm_zone_t *zone, void *old_data);

struct pt_shm_zone_s {
    void                *data;    /* owner's root object (process memory
                                     or in the zone; the owner decides) */
    pt_shm_t             shm;
    pt_shm_zone_init_pt  init;    /* may be NULL: nothing to set up */
    void                *tag;     /* owner's identity, usually its module */
    unsigned             noreuse:1;  /* always map afresh on reload */
};

/* Map shm->size bytes shared and zeroed; PT_OK, or PT_ERROR logged. */
int pt_shm_alloc(pt_shm_t *shm);
/* Unmap (failure is logged); addr becomes NULL. */
void pt_shm_free(pt_shm_t *shm);

/* Declare zone `name` in `zones` (an array of pt_shm_zone_t *) for `tag`.
 * Size 0 means "declared elsewhere": a later declaration gives it. Returns
 * the existing zone for a repeat with the same tag; NULL (logged at emerg)
 * on a size or tag conflict, a too small size, or allocation failure. The
 * zone is allocated from `pool`; the caller sets init and data. */
pt_shm_zone_t *pt_shm_zone_add(pt_pool_t *pool, pt_array_t *zones,
                               pt_str_t *name, size_t size, void *tag,
                               pt_log_t *log);

/* Map the zones of a new cycle (master, before forking): a zone whose
 * name, tag and size match one in `old_zones` (may be NULL) takes over its
 * mapping and gets init(zone, old->data); others get a new mapping with a
 * slab pool and init(zone, NULL). Also sets pt_slab_log to `log`. On error,
 * mappings made by this call are unmapped; old ones are never touched. */
int pt_shm_zones_init(pt_array_t *zones, pt_array_t *old_zones, pt_log_t *log);

/* Unmap the zones of `old_zones` that `new_zones` (may be NULL) did not
 * take over, once the old cycle's processes no longer use them. */
void pt_shm_zones_free_unused(pt_array_t *old_zones, pt_array_t *new_zones);

/* Release every zone lock held by `pid`, a process that died; logs each at
 * alert. For the master when it reaps a worker (or helper) process. */
void pt_shm_zones_force_unlock(pt_array_t *zones, pid_t pid);

#endif /* PT_SHM_H */

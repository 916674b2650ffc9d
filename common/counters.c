/*
 * The shared counters' zone: declared like any named zone, so it is mapped
 * before fork, kept across reloads and force-unlocked like the others.
 */
#include <stdint.h>
#include <unistd.h>

#include "counters.h"
#include "cycle.h"
#include "file.h"
#include "shm.h"
#include "slab.h"
#include "str.h"

typedef struct {
    pt_uint_t  connections;
    uint32_t   temp_names;
} counters_t;

static pt_uint_t  local_connections;
pt_uint_t        *pt_connection_counter = &local_connections;

/* The zone's identity: no configuration token holds a NUL byte, so no
 * user zone meets this name (a quoted one may start with a space). */
static int        counters_tag;
static pt_str_t   zone_name = pt_string("\0portico counters");

static int
init_zone(pt_shm_zone_t *zone, void *old_data)
{
    pt_slab_pool_t *sp = (pt_slab_pool_t *) zone->shm.addr;
    counters_t     *c = old_data;

    if (c == NULL) {
        c = pt_slab_calloc(sp, sizeof(*c));
        if (c == NULL) {
            return PT_ERROR;
        }
    }
    zone->data = c;
    pt_connection_counter = &c->connections;
    pt_file_temp_number = &c->temp_names;
    return PT_OK;
}

int
pt_counters_add(pt_cycle_t *cycle, pt_log_t *log)
{
    long           page = sysconf(_SC_PAGESIZE);
    pt_shm_zone_t *z;

    z = pt_shm_zone_add(cycle->pool, &cycle->shm_zones, &zone_name,
                        PT_SHM_ZONE_MIN_PAGES * (size_t) (page > 0 ? page
                                                                 : 4096),
                        &counters_tag, log);
    if (z == NULL) {
        return PT_ERROR;
    }
    z->init = init_zone;
    return PT_OK;
}

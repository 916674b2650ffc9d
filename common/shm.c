/*
 * Shared memory mappings and the registry of named zones: declaration while
 * parsing, mapping (or takeover from the old cycle) by the master, unmapping
 * of zones a reload dropped, and lock recovery after a worker dies.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "array.h"
#include "log.h"
#include "pool.h"
#include "shm.h"
#include "shmtx.h"
#include "slab.h"

int
pt_shm_alloc(pt_shm_t *shm)
{
    void *p;

    p = mmap(NULL, shm->size, PROT_READ | PROT_WRITE,
             MAP_ANONYMOUS | MAP_SHARED, -1, 0);
    if (p == MAP_FAILED) {
        pt_log_error(PT_LOG_ALERT, shm->log, errno,
                     "mmap(MAP_ANONYMOUS|MAP_SHARED, %zu) failed for "
                     "shared memory zone \"%.*s\"", shm->size,
                     (int) shm->name.len, (char *) shm->name.data);
        return PT_ERROR;
    }
    shm->addr = p;
    return PT_OK;
}

void
pt_shm_free(pt_shm_t *shm)
{
    if (shm->addr == NULL) {
        return;
    }
    if (munmap(shm->addr, shm->size) == -1) {
        pt_log_error(PT_LOG_ALERT, shm->log, errno,
                     "munmap(%p, %zu) failed", (void *) shm->addr, shm->size);
    }
    shm->addr = NULL;
}

static size_t
page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);

    return ps > 0 ? (size_t) ps : 4096;
}

pt_shm_zone_t *
pt_shm_zone_add(pt_pool_t *pool, pt_array_t *zones, pt_str_t *name,
                size_t size, void *tag, pt_log_t *log)
{
    pt_shm_zone_t **zp, *z;
    pt_uint_t       i;

    if (size != 0 && size < PT_SHM_ZONE_MIN_PAGES * page_size()) {
        pt_log_error(PT_LOG_EMERG, log, 0, "zone \"%.*s\" is too small",
                     (int) name->len, (char *) name->data);
        return NULL;
    }

    zp = zones->elts;
    for (i = 0; i < zones->nelts; i++) {
        z = zp[i];
        if (!pt_str_eq(&z->shm.name, name)) {
            continue;
        }
        if (z->tag != tag) {
            pt_log_error(PT_LOG_EMERG, log, 0,
                         "the shared memory zone \"%.*s\" is "
                         "already declared for a different use",
                         (int) name->len, (char *) name->data);
            return NULL;
        }
        if (size != 0 && z->shm.size != 0 && size != z->shm.size) {
            pt_log_error(PT_LOG_EMERG, log, 0,
                         "the size %zu of shared memory zone \"%.*s\" "
                         "conflicts with already declared size %zu",
                         size, (int) name->len, (char *) name->data,
                         z->shm.size);
            return NULL;
        }
        if (z->shm.size == 0) {
            z->shm.size = size;
        }
        return z;
    }

    z = pt_pcalloc(pool, sizeof(pt_shm_zone_t));
    if (z == NULL) {
        return NULL;
    }
    z->shm.name.data = pt_pstrdup(pool, name);
    zp = pt_array_push(zones);
    if (z->shm.name.data == NULL || zp == NULL) {
        return NULL;
    }
    z->shm.name.len = name->len;
    z->shm.size = size;
    z->shm.log = log;
    z->tag = tag;
    *zp = z;
    return z;
}

/* The zone of `zones` mapped at `addr`, if any. */
static pt_shm_zone_t *
zone_at(pt_array_t *zones, u_char *addr)
{
    pt_shm_zone_t **zp;
    pt_uint_t       i;

    if (zones == NULL || addr == NULL) {
        return NULL;
    }
    zp = zones->elts;
    for (i = 0; i < zones->nelts; i++) {
        if (zp[i]->shm.addr == addr) {
            return zp[i];
        }
    }
    return NULL;
}

/* The old zone `z` may take over: same name, owner and size. */
static pt_shm_zone_t *
reusable(pt_shm_zone_t *z, pt_array_t *old_zones)
{
    pt_shm_zone_t **op, *o;
    pt_uint_t       i;

    if (old_zones == NULL || z->noreuse) {
        return NULL;
    }
    op = old_zones->elts;
    for (i = 0; i < old_zones->nelts; i++) {
        o = op[i];
        if (o->shm.addr != NULL && !o->noreuse && o->tag == z->tag
            && o->shm.size == z->shm.size && pt_str_eq(&o->shm.name,
                                                       &z->shm.name))
        {
            return o;
        }
    }
    return NULL;
}

/* Map `z` afresh and lay a slab pool over it. */
static int
zone_map(pt_shm_zone_t *z)
{
    pt_slab_pool_t *sp;

    if (pt_shm_alloc(&z->shm) != PT_OK) {
        return PT_ERROR;
    }
    sp = (pt_slab_pool_t *) z->shm.addr;
    pt_slab_init(sp, z->shm.size);
    snprintf(sp->log_ctx, sizeof(sp->log_ctx), " in zone \"%.*s\"",
             (int) z->shm.name.len, (char *) z->shm.name.data);
    return PT_OK;
}

int
pt_shm_zones_init(pt_array_t *zones, pt_array_t *old_zones, pt_log_t *log)
{
    pt_shm_zone_t **zp, *z, *old;
    pt_uint_t       i;

    pt_slab_log = log;
    zp = zones->elts;

    for (i = 0; i < zones->nelts; i++) {
        z = zp[i];
        z->shm.log = log;

        if (z->shm.size == 0) {
            pt_log_error(PT_LOG_EMERG, log, 0,
                         "zero size shared memory zone \"%.*s\"",
                         (int) z->shm.name.len, (char *) z->shm.name.data);
            goto failed;
        }

        old = reusable(z, old_zones);
        if (old != NULL) {
            z->shm.addr = old->shm.addr;
            if (z->init != NULL && z->init(z, old->data) != PT_OK) {
                goto failed;
            }
            continue;
        }

        if (zone_map(z) != PT_OK) {
            goto failed;
        }
        if (z->init != NULL && z->init(z, NULL) != PT_OK) {
            goto failed;
        }
    }

    return PT_OK;

failed:
    /* Unmap what this call mapped; mappings taken over stay with the old
     * cycle, which is still the one in force. */
    for (i = 0; i < zones->nelts; i++) {
        z = zp[i];
        if (zone_at(old_zones, z->shm.addr) == NULL) {
            pt_shm_free(&z->shm);
        }
        z->shm.addr = NULL;
    }
    return PT_ERROR;
}

void
pt_shm_zones_free_unused(pt_array_t *old_zones, pt_array_t *new_zones)
{
    pt_shm_zone_t **op;
    pt_uint_t       i;

    op = old_zones->elts;
    for (i = 0; i < old_zones->nelts; i++) {
        if (op[i]->shm.addr != NULL
            && zone_at(new_zones, op[i]->shm.addr) == NULL)
        {
            pt_shm_free(&op[i]->shm);
        }
    }
}

void
pt_shm_zones_force_unlock(pt_array_t *zones, pid_t pid)
{
    pt_shm_zone_t **zp;
    pt_slab_pool_t *sp;
    pt_uint_t       i;

    zp = zones->elts;
    for (i = 0; i < zones->nelts; i++) {
        if (zp[i]->shm.addr == NULL) {
            continue;
        }
        sp = (pt_slab_pool_t *) zp[i]->shm.addr;
        if (pt_shmtx_force_unlock(&sp->mutex, pid)) {
            pt_log_error(PT_LOG_ALERT, zp[i]->shm.log, 0,
                         "shared memory zone \"%.*s\" was locked by %d",
                         (int) zp[i]->shm.name.len,
                         (char *) zp[i]->shm.name.data, (int) pid);
        }
    }
}

/*
 * Growable arrays of fixed-size elements, owned by a pool.
 */
#ifndef PT_ARRAY_H
#define PT_ARRAY_H

#include "pt_types.h"

struct pt_array_s {
    void       *elts;
    pt_uint_t   nelts;
    size_t      size;
    pt_uint_t   nalloc;
    pt_pool_t  *pool;
};

/* Returns NULL on allocation failure. */
pt_array_t *pt_array_create(pt_pool_t *p, pt_uint_t n, size_t size);
int pt_array_init(pt_array_t *a, pt_pool_t *p, pt_uint_t n, size_t size);
/* Room for one more element (uninitialised); NULL on allocation failure. */
void *pt_array_push(pt_array_t *a);

#endif /* PT_ARRAY_H */

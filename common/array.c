/*
 * Growable arrays in pool memory: growth copies into a block twice the size
 * (the old block stays in the pool until the pool goes).
 */
#include <string.h>

#include "array.h"
#include "pool.h"

int
pt_array_init(pt_array_t *a, pt_pool_t *p, pt_uint_t n, size_t size)
{
    if (n == 0) {
        n = 1;
    }
    a->nelts = 0;
    a->size = size;
    a->nalloc = n;
    a->pool = p;
    a->elts = pt_palloc(p, n * size);
    return a->elts == NULL ? PT_ERROR : PT_OK;
}

pt_array_t *
pt_array_create(pt_pool_t *p, pt_uint_t n, size_t size)
{
    pt_array_t *a = pt_palloc(p, sizeof(pt_array_t));

    if (a == NULL || pt_array_init(a, p, n, size) != PT_OK) {
        return NULL;
    }
    return a;
}

void *
pt_array_push(pt_array_t *a)
{
    void *elts;

    if (a->nelts == a->nalloc) {
        elts = pt_palloc(a->pool, 2 * a->nalloc * a->size);
        if (elts == NULL) {
            return NULL;
        }
        memcpy(elts, a->elts, a->nelts * a->size);
        a->elts = elts;
        a->nalloc *= 2;
    }

    return (u_char *) a->elts + a->size * a->nelts++;
}

/*
 * Buffer and chain-link allocation from pools, and the free/busy recycling
 * filters use so steady-state streaming allocates nothing.
 */
#include <string.h>

#include "buf.h"
#include "pool.h"

pt_buf_t *
pt_buf_calloc(pt_pool_t *pool)
{
    return pt_pcalloc(pool, sizeof(pt_buf_t));
}

pt_buf_t *
pt_buf_create_temp(pt_pool_t *pool, size_t size)
{
    pt_buf_t *b;

    b = pt_buf_calloc(pool);
    if (b == NULL) {
        return NULL;
    }

    b->start = pt_palloc(pool, size);
    if (b->start == NULL) {
        return NULL;
    }

    b->pos = b->start;
    b->last = b->start;
    b->end = b->start + size;
    b->temporary = 1;
    return b;
}

pt_chain_t *
pt_alloc_chain_link(pt_pool_t *pool)
{
    return pt_palloc(pool, sizeof(pt_chain_t));
}

int
pt_chain_append(pt_pool_t *pool, pt_chain_t **chain, pt_chain_t *in)
{
    pt_chain_t **ll = chain, *cl;

    while (*ll != NULL) {
        ll = &(*ll)->next;
    }

    for (; in != NULL; in = in->next) {
        cl = pt_alloc_chain_link(pool);
        if (cl == NULL) {
            *ll = NULL;
            return PT_ERROR;
        }
        cl->buf = in->buf;
        *ll = cl;
        ll = &cl->next;
    }

    *ll = NULL;
    return PT_OK;
}

off_t
pt_chain_size(pt_chain_t *cl)
{
    off_t size = 0;

    for (; cl != NULL; cl = cl->next) {
        size += pt_buf_size(cl->buf);
    }
    return size;
}

pt_chain_t *
pt_chain_get_free_buf(pt_pool_t *pool, pt_chain_t **free)
{
    pt_chain_t *cl;

    if (*free != NULL) {
        cl = *free;
        *free = cl->next;
        cl->next = NULL;
        return cl;
    }

    cl = pt_alloc_chain_link(pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = pt_buf_calloc(pool);
    if (cl->buf == NULL) {
        return NULL;
    }
    cl->next = NULL;
    return cl;
}

void
pt_chain_update(pt_chain_t **free, pt_chain_t **busy, pt_chain_t **out,
                void *tag)
{
    pt_chain_t **ll, *cl;
    pt_buf_t    *b;

    if (*out != NULL) {
        for (ll = busy; *ll != NULL; ll = &(*ll)->next) {
            /* find the tail */
        }
        *ll = *out;
        *out = NULL;
    }

    /* Buffers leave busy in order: the first one not yet sent stops us. */
    while (*busy != NULL) {
        cl = *busy;
        b = cl->buf;

        if (pt_buf_size(b) != 0) {
            break;
        }

        *busy = cl->next;

        if (b->tag != tag) {
            continue;   /* another module's buffer: not ours to recycle */
        }

        b->pos = b->start;
        b->last = b->start;
        b->file_pos = 0;
        b->file_last = 0;
        b->flush = 0;
        b->sync = 0;
        b->last_buf = 0;
        b->last_in_chain = 0;
        b->in_file = 0;

        cl->next = *free;
        *free = cl;
    }
}

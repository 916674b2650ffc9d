/*
 * Arena allocator: a chain of fixed-size blocks for small objects, a list of
 * separately malloc'ed large objects, and cleanup handlers run at destroy.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pool.h"

typedef struct pool_block_s pool_block_t;
typedef struct pool_large_s pool_large_t;

struct pool_block_s {
    u_char        *last;
    u_char        *end;
    pool_block_t  *next;
    pt_uint_t      failed;   /* times this block could not satisfy a request */
};

struct pool_large_s {
    pool_large_t  *next;
    void          *alloc;
};

struct pt_pool_s {
    pool_block_t        first;
    size_t              max;       /* larger requests go to the large list */
    pool_block_t       *current;
    pool_large_t       *large;
    pt_pool_cleanup_t  *cleanup;
    pt_log_t           *log;
};

pt_pool_t *
pt_pool_create(size_t size, pt_log_t *log)
{
    pt_pool_t *p;

    /* small pools are fine (an idle connection's is one of them): a
     * request that does not fit grows the pool by another block */
    if (size < sizeof(pt_pool_t) + 64) {
        size = sizeof(pt_pool_t) + 64;
    }

    p = malloc(size);
    if (p == NULL) {
        if (log != NULL) {
            pt_log_error(PT_LOG_EMERG, log, 0, "malloc(%zu) failed", size);
        }
        return NULL;
    }

    p->first.last = (u_char *) p + sizeof(pt_pool_t);
    p->first.end = (u_char *) p + size;
    p->first.next = NULL;
    p->first.failed = 0;
    p->max = pt_min(size - sizeof(pt_pool_t), 4096);
    p->current = &p->first;
    p->large = NULL;
    p->cleanup = NULL;
    p->log = log;
    return p;
}

void
pt_pool_destroy(pt_pool_t *pool)
{
    pt_pool_cleanup_t *c;
    pool_large_t      *l;
    pool_block_t      *b, *n;

    for (c = pool->cleanup; c != NULL; c = c->next) {
        if (c->handler != NULL) {
            c->handler(c->data);
        }
    }

    for (l = pool->large; l != NULL; l = l->next) {
        free(l->alloc);
    }

    for (b = pool->first.next; b != NULL; b = n) {
        n = b->next;
        free(b);
    }

    free(pool);
}

void
pt_pool_reset(pt_pool_t *pool)
{
    pool_large_t *l;
    pool_block_t *b, *n;

    for (l = pool->large; l != NULL; l = l->next) {
        free(l->alloc);
    }
    for (b = pool->first.next; b != NULL; b = n) {
        n = b->next;
        free(b);
    }

    pool->first.last = (u_char *) pool + sizeof(pt_pool_t);
    pool->first.next = NULL;
    pool->first.failed = 0;
    pool->current = &pool->first;
    pool->large = NULL;
    pool->cleanup = NULL;
}

/* Add a block of the same size as the first and allocate from it. */
static void *
alloc_block(pt_pool_t *pool, size_t size, size_t align)
{
    size_t        bsize = (size_t) (pool->first.end - (u_char *) pool);
    pool_block_t *b, *p;
    u_char       *m;

    b = malloc(bsize);
    if (b == NULL) {
        pt_log_error(PT_LOG_EMERG, pool->log, 0, "malloc(%zu) failed", bsize);
        return NULL;
    }

    b->end = (u_char *) b + bsize;
    b->next = NULL;
    b->failed = 0;
    m = (u_char *) b + sizeof(pool_block_t);
    if (align) {
        m = pt_align_ptr(m, PT_ALIGNMENT);
    }
    b->last = m + size;

    /* Blocks that keep failing are skipped from then on. */
    for (p = pool->current; p->next != NULL; p = p->next) {
        if (p->failed++ > 4) {
            pool->current = p->next;
        }
    }
    p->next = b;
    return m;
}

static void *
alloc_large(pt_pool_t *pool, size_t size)
{
    pool_large_t *l;
    void         *m;
    pt_uint_t     n;

    m = malloc(size);
    if (m == NULL) {
        pt_log_error(PT_LOG_EMERG, pool->log, 0, "malloc(%zu) failed", size);
        return NULL;
    }

    /* a slot freed by pt_pfree is reused (a keep-alive connection
     * allocates and frees its read buffer once per request) */
    for (l = pool->large, n = 0; l != NULL && n < 4; l = l->next, n++) {
        if (l->alloc == NULL) {
            l->alloc = m;
            return m;
        }
    }

    l = pt_palloc(pool, sizeof(pool_large_t));
    if (l == NULL) {
        free(m);
        return NULL;
    }
    l->alloc = m;
    l->next = pool->large;
    pool->large = l;
    return m;
}

static void *
alloc_small(pt_pool_t *pool, size_t size, int align)
{
    pool_block_t *b;
    u_char       *m;

    for (b = pool->current; b != NULL; b = b->next) {
        m = b->last;
        if (align) {
            m = pt_align_ptr(m, PT_ALIGNMENT);
        }
        if ((size_t) (b->end - m) >= size) {
            b->last = m + size;
            return m;
        }
    }
    return alloc_block(pool, size, align);
}

void *
pt_palloc(pt_pool_t *pool, size_t size)
{
    if (size <= pool->max) {
        return alloc_small(pool, size, 1);
    }
    return alloc_large(pool, size);
}

void *
pt_pnalloc(pt_pool_t *pool, size_t size)
{
    if (size <= pool->max) {
        return alloc_small(pool, size, 0);
    }
    return alloc_large(pool, size);
}

void *
pt_pcalloc(pt_pool_t *pool, size_t size)
{
    void *p = pt_palloc(pool, size);

    if (p != NULL) {
        memset(p, 0, size);
    }
    return p;
}

int
pt_pfree(pt_pool_t *pool, void *p)
{
    pool_large_t *l;

    for (l = pool->large; l != NULL; l = l->next) {
        if (l->alloc == p) {
            free(l->alloc);
            l->alloc = NULL;
            return PT_OK;
        }
    }
    return PT_DECLINED;
}

pt_pool_cleanup_t *
pt_pool_cleanup_add(pt_pool_t *pool, size_t size)
{
    pt_pool_cleanup_t *c;

    c = pt_palloc(pool, sizeof(pt_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    c->data = NULL;
    if (size > 0) {
        c->data = pt_palloc(pool, size);
        if (c->data == NULL) {
            return NULL;
        }
    }

    c->handler = NULL;
    c->next = pool->cleanup;
    pool->cleanup = c;
    return c;
}

pt_log_t *
pt_pool_log(pt_pool_t *pool)
{
    return pool->log;
}

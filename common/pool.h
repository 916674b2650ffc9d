/*
 * Arena allocator with cleanups: one pool per cycle, connection and request.
 * Small objects are bump-allocated; large ones are listed and freed with the
 * pool; resources (fds, temp files) register a cleanup run at destroy.
 */
#ifndef PT_POOL_H
#define PT_POOL_H

#include "pt_types.h"

#define PT_POOL_DEFAULT_SIZE (16 * 1024)

typedef void (*pt_pool_cleanup_pt)(void *data);

typedef struct pt_pool_cleanup_s pt_pool_cleanup_t;

struct pt_pool_cleanup_s {
    pt_pool_cleanup_pt  handler;
    void               *data;
    pt_pool_cleanup_t  *next;
};

/* Create a pool whose blocks are `size` bytes; NULL (logged) on failure. */
pt_pool_t *pt_pool_create(size_t size, pt_log_t *log);
/* Run cleanups in reverse order of registration, then free all memory. */
void pt_pool_destroy(pt_pool_t *pool);
/* Forget everything allocated (runs no cleanups, keeps the first block). */
void pt_pool_reset(pt_pool_t *pool);

void *pt_palloc(pt_pool_t *pool, size_t size);   /* aligned */
void *pt_pnalloc(pt_pool_t *pool, size_t size);  /* unaligned, for strings */
void *pt_pcalloc(pt_pool_t *pool, size_t size);  /* zeroed */
/* Free a large allocation early; PT_DECLINED if it was a small one. */
int pt_pfree(pt_pool_t *pool, void *p);

/* Register a cleanup; `size` bytes of data are allocated for it when > 0.
 * Returns NULL on allocation failure. */
pt_pool_cleanup_t *pt_pool_cleanup_add(pt_pool_t *pool, size_t size);

pt_log_t *pt_pool_log(pt_pool_t *pool);

#endif /* PT_POOL_H */

/*
 * Slab allocator over one shared-memory zone: power-of-two chunks from 8
 * bytes to half a page carved from pages with a bitmap, and runs of whole
 * pages for anything bigger, coalesced again when freed.
 */
#ifndef PT_SLAB_H
#define PT_SLAB_H

#include "pt_types.h"
#include "shmtx.h"

#define PT_SLAB_MIN_SHIFT   3      /* smallest chunk: 8 bytes */
#define PT_SLAB_MAX_CLASSES 16     /* chunk classes 8 B .. page/2, any page */
#define PT_SLAB_LOG_CTX_LEN 64

typedef struct pt_slab_page_s pt_slab_page_t;

/* One per page of the zone; it lives in the zone too. */
struct pt_slab_page_s {
    uint64_t         bitmap;   /* chunk page with <= 64 chunks: busy bits */
    uint32_t         npages;   /* run length on a run's first (and, free,
                                  last) page; 0 elsewhere */
    uint16_t         type;     /* PT_SLAB_PAGE_* (slab.c) */
    uint16_t         shift;    /* chunk page: log2 of the chunk size */
    uint32_t         nfree;    /* chunk page: chunks still free */
    pt_slab_page_t  *next;     /* free runs, or partly used chunk pages */
    pt_slab_page_t  *prev;
};

typedef struct {
    pt_uint_t   used;      /* chunks handed out now */
    pt_uint_t   reqs;      /* allocations asked of this class */
    pt_uint_t   fails;     /* of which failed for lack of pages */
} pt_slab_class_stat_t;

/* The header at the start of a zone. Pointers here point into the zone
 * itself: every process maps it at the same address (inherited by fork). */
struct pt_slab_pool_s {
    pt_shmtx_sh_t          lock;
    pt_shmtx_t             mutex;
    size_t                 page_size;
    pt_uint_t              page_shift;
    pt_uint_t              nclasses;    /* 8 B .. page_size / 2 */
    pt_uint_t              npages;
    pt_uint_t              pfree;       /* pages not in use */
    pt_slab_page_t        *pages;       /* npages descriptors */
    u_char                *start;       /* first page (page aligned) */
    u_char                *end;
    pt_slab_page_t         free;        /* sentinel: list of free runs */
    pt_slab_page_t         slots[PT_SLAB_MAX_CLASSES];  /* sentinels: chunk
                                           pages with a free chunk */
    pt_slab_class_stat_t   stats[PT_SLAB_MAX_CLASSES];
    pt_uint_t              big_reqs, big_fails;   /* whole-page requests */
    void                  *data;        /* the zone owner's root object */
    unsigned               log_nomem:1; /* log allocation failures (default) */
    char                   log_ctx[PT_SLAB_LOG_CTX_LEN];  /* " in zone ..." */
};

/* A snapshot for tests and status pages. */
typedef struct {
    pt_uint_t   pages;         /* usable pages in the zone */
    pt_uint_t   free_pages;
    pt_uint_t   free_runs;     /* fragmentation: runs in the free list */
    pt_uint_t   max_free_run;  /* biggest multi-page allocation possible */
} pt_slab_stat_t;

/* Where allocation failures and bad frees are reported. A pointer to
 * process memory cannot live in the zone, so it is per process; set by
 * pt_shm_zones_init() in the master and inherited by workers. May be NULL. */
extern pt_log_t *pt_slab_log;

/* Lay out a pool over `size` bytes starting at `pool` (the zone's start):
 * header, page descriptors, then page-aligned pages, all free. */
void pt_slab_init(pt_slab_pool_t *pool, size_t size);

/* Chunks of `size` bytes, aligned to min(size rounded up to a power of
 * two, page size); NULL when the zone is full. The pool owns the memory
 * until pt_slab_free(). The plain forms take the pool's mutex. */
void *pt_slab_alloc(pt_slab_pool_t *pool, size_t size);
void *pt_slab_alloc_locked(pt_slab_pool_t *pool, size_t size);
void *pt_slab_calloc(pt_slab_pool_t *pool, size_t size);
void *pt_slab_calloc_locked(pt_slab_pool_t *pool, size_t size);
/* Return a chunk; bad pointers and double frees are logged and ignored. */
void pt_slab_free(pt_slab_pool_t *pool, void *p);
void pt_slab_free_locked(pt_slab_pool_t *pool, void *p);

/* Fill `st` (takes the mutex). */
void pt_slab_stats(pt_slab_pool_t *pool, pt_slab_stat_t *st);

#endif /* PT_SLAB_H */

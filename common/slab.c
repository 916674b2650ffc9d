/*
 * Slab allocator for shared-memory zones. Pages are handed out first-fit
 * from a list of free runs; chunk pages hold one power-of-two size each and
 * track their chunks in a bitmap. Everything lives inside the zone.
 */
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "slab.h"

#define PT_SLAB_PAGE_FREE   1   /* in a free run */
#define PT_SLAB_PAGE_CHUNK  2   /* carved into chunks of 1 << shift */
#define PT_SLAB_PAGE_RUN    3   /* first page of a multi-page allocation */
#define PT_SLAB_PAGE_BUSY   4   /* further page of a multi-page allocation */

pt_log_t *pt_slab_log;

/* ---- lists: free runs and partly used chunk pages, with sentinels ---- */

static void
list_init(pt_slab_page_t *head)
{
    head->next = head;
    head->prev = head;
}

static void
list_insert(pt_slab_page_t *head, pt_slab_page_t *page)
{
    page->next = head->next;
    page->prev = head;
    head->next->prev = page;
    head->next = page;
}

static void
list_remove(pt_slab_page_t *page)
{
    page->prev->next = page->next;
    page->next->prev = page->prev;
    page->next = NULL;
    page->prev = NULL;
}

static u_char *
page_addr(pt_slab_pool_t *pool, pt_slab_page_t *page)
{
    return pool->start + ((size_t) (page - pool->pages) << pool->page_shift);
}

/* ---- page runs ---- */

/* Record [first, first + n) as one free run. Its interior pages must
 * already be marked free; only the ends carry the length, which is what
 * a neighbour being freed looks at to merge. */
static void
set_free_run(pt_slab_pool_t *pool, pt_slab_page_t *first, pt_uint_t n)
{
    pt_slab_page_t *last = first + n - 1;

    last->type = PT_SLAB_PAGE_FREE;
    last->npages = (uint32_t) n;
    first->type = PT_SLAB_PAGE_FREE;
    first->npages = (uint32_t) n;
    list_insert(&pool->free, first);
}

/* First fit: take n pages from the front of the first run big enough and
 * put the rest back. Returns the first page's descriptor or NULL. */
static pt_slab_page_t *
alloc_pages(pt_slab_pool_t *pool, pt_uint_t n)
{
    pt_slab_page_t *run;
    pt_uint_t       i, left;

    for (run = pool->free.next; run != &pool->free; run = run->next) {
        if (run->npages < n) {
            continue;
        }

        left = run->npages - n;
        list_remove(run);
        if (left > 0) {
            set_free_run(pool, run + n, left);
        }

        run->type = PT_SLAB_PAGE_RUN;
        run->npages = (uint32_t) n;
        for (i = 1; i < n; i++) {
            run[i].type = PT_SLAB_PAGE_BUSY;
            run[i].npages = 0;
        }
        pool->pfree -= n;
        return run;
    }

    return NULL;
}

/* Return n pages starting at `page`, merging with free neighbours so that
 * freed memory can serve big requests again. */
static void
free_pages(pt_slab_pool_t *pool, pt_slab_page_t *page, pt_uint_t n)
{
    pt_slab_page_t *next, *prev_last, *prev_first;
    pt_uint_t       i;

    for (i = 0; i < n; i++) {
        page[i].type = PT_SLAB_PAGE_FREE;
        page[i].npages = 0;
        page[i].shift = 0;
        page[i].nfree = 0;
        page[i].bitmap = 0;
    }
    pool->pfree += n;

    next = page + n;
    if (next < pool->pages + pool->npages
        && next->type == PT_SLAB_PAGE_FREE)
    {
        /* next is the first page of the following free run */
        list_remove(next);
        n += next->npages;
        next->npages = 0;
    }

    if (page > pool->pages && page[-1].type == PT_SLAB_PAGE_FREE) {
        /* page[-1] is the last page of the preceding free run */
        prev_last = page - 1;
        prev_first = page - prev_last->npages;
        list_remove(prev_first);
        n += prev_first->npages;
        prev_last->npages = 0;
        page = prev_first;
    }

    set_free_run(pool, page, n);
}

/* ---- chunk pages ---- */

/* Chunk pages of more than 64 chunks keep their bitmap in their own first
 * chunks; smaller ones use the descriptor's word. Returns the bitmap and
 * sets how many words it has and how many chunks it reserves. */
static uint64_t *
chunk_bitmap(pt_slab_pool_t *pool, pt_slab_page_t *page, pt_uint_t *nwords,
             pt_uint_t *reserved)
{
    pt_uint_t nchunks = pool->page_size >> page->shift;
    size_t    bytes;

    if (nchunks <= 64) {
        *nwords = 1;
        *reserved = 0;
        return &page->bitmap;
    }

    *nwords = nchunks / 64;
    bytes = *nwords * sizeof(uint64_t);
    *reserved = (bytes + ((size_t) 1 << page->shift) - 1) >> page->shift;
    return (uint64_t *) page_addr(pool, page);
}

static void
chunk_page_init(pt_slab_pool_t *pool, pt_slab_page_t *page, pt_uint_t shift)
{
    pt_uint_t  nchunks = pool->page_size >> shift, nwords, reserved, i;
    uint64_t  *bm;

    page->type = PT_SLAB_PAGE_CHUNK;
    page->shift = (uint16_t) shift;
    page->npages = 0;
    bm = chunk_bitmap(pool, page, &nwords, &reserved);

    memset(bm, 0, nwords * sizeof(uint64_t));
    if (nchunks < 64) {
        *bm = ~(uint64_t) 0 << nchunks;   /* bits past the page: never free */
    }
    for (i = 0; i < reserved; i++) {
        bm[i / 64] |= (uint64_t) 1 << (i % 64);   /* the bitmap itself */
    }
    page->nfree = (uint32_t) (nchunks - reserved);
}

static void *
alloc_chunk(pt_slab_pool_t *pool, pt_uint_t shift)
{
    pt_slab_page_t *head = &pool->slots[shift - PT_SLAB_MIN_SHIFT];
    pt_slab_page_t *page = head->next;
    pt_uint_t       nwords, reserved, w, bit;
    uint64_t       *bm;

    if (page == head) {
        page = alloc_pages(pool, 1);
        if (page == NULL) {
            return NULL;
        }
        chunk_page_init(pool, page, shift);
        list_insert(head, page);
    }

    bm = chunk_bitmap(pool, page, &nwords, &reserved);
    for (w = 0; w < nwords; w++) {
        if (bm[w] != ~(uint64_t) 0) {
            break;
        }
    }
    /* A page on the list has nfree > 0, so some word has a zero bit. */
    bit = (pt_uint_t) __builtin_ctzll(~bm[w]);
    bm[w] |= (uint64_t) 1 << bit;

    if (--page->nfree == 0) {
        list_remove(page);   /* full pages sit on no list */
    }
    return page_addr(pool, page) + ((w * 64 + bit) << shift);
}

static void
bad_free(pt_slab_pool_t *pool, const char *what)
{
    pt_log_error(PT_LOG_ALERT, pt_slab_log, 0, "pt_slab_free(): %s%s", what,
                 pool->log_ctx);
}

static void
free_chunk(pt_slab_pool_t *pool, pt_slab_page_t *page, u_char *p)
{
    pt_uint_t  shift = page->shift, cls = shift - PT_SLAB_MIN_SHIFT;
    pt_uint_t  nchunks = pool->page_size >> shift, nwords, reserved, n;
    size_t     off = (size_t) (p - page_addr(pool, page));
    uint64_t  *bm, mask;

    bm = chunk_bitmap(pool, page, &nwords, &reserved);
    n = off >> shift;
    if ((off & (((size_t) 1 << shift) - 1)) != 0 || n < reserved) {
        bad_free(pool, "pointer to wrong chunk");
        return;
    }

    mask = (uint64_t) 1 << (n % 64);
    if ((bm[n / 64] & mask) == 0) {
        bad_free(pool, "chunk is already free");
        return;
    }
    bm[n / 64] &= ~mask;
    pool->stats[cls].used--;

    if (page->nfree++ == 0) {
        list_insert(&pool->slots[cls], page);
    }
    if (page->nfree == nchunks - reserved) {
        /* Empty: give the page back so big requests can use it. */
        list_remove(page);
        free_pages(pool, page, 1);
    }
}

/* ---- public ---- */

void
pt_slab_init(pt_slab_pool_t *pool, size_t size)
{
    long       ps = sysconf(_SC_PAGESIZE);
    u_char    *p, *end = (u_char *) pool + size, *start;
    pt_uint_t  n, i;

    memset(pool, 0, sizeof(pt_slab_pool_t));
    pool->page_size = ps > 0 ? (size_t) ps : 4096;
    pool->page_shift = (pt_uint_t) __builtin_ctzl(pool->page_size);
    pool->nclasses = pt_min(pool->page_shift - PT_SLAB_MIN_SHIFT,
                            (pt_uint_t) PT_SLAB_MAX_CLASSES);
    pool->log_nomem = 1;
    pt_shmtx_init(&pool->mutex, &pool->lock);

    list_init(&pool->free);
    for (i = 0; i < PT_SLAB_MAX_CLASSES; i++) {
        list_init(&pool->slots[i]);
    }

    /* Descriptors follow the header; pages start at the next page
     * boundary. Shrink n until descriptors and pages both fit. */
    p = pt_align_ptr((u_char *) pool + sizeof(pt_slab_pool_t), 16);
    n = end > p ? (size_t) (end - p)
                  / (pool->page_size + sizeof(pt_slab_page_t)) : 0;
    for (;;) {
        start = pt_align_ptr(p + n * sizeof(pt_slab_page_t), pool->page_size);
        if (n == 0 || start + (n << pool->page_shift) <= end) {
            break;
        }
        n--;
    }

    pool->pages = (pt_slab_page_t *) p;
    pool->npages = n;
    pool->start = start;
    pool->end = start + (n << pool->page_shift);
    memset(pool->pages, 0, n * sizeof(pt_slab_page_t));
    for (i = 0; i < n; i++) {
        pool->pages[i].type = PT_SLAB_PAGE_FREE;
    }
    if (n > 0) {
        set_free_run(pool, pool->pages, n);
    }
    pool->pfree = n;
}

void *
pt_slab_alloc_locked(pt_slab_pool_t *pool, size_t size)
{
    pt_slab_page_t *page;
    pt_uint_t       shift, cls;
    void           *p;

    /* page_size / 2 unless pages are too big for PT_SLAB_MAX_CLASSES */
    if (size > (size_t) 1 << (PT_SLAB_MIN_SHIFT + pool->nclasses - 1)) {
        pool->big_reqs++;
        page = NULL;
        if (size <= (size_t) pool->npages << pool->page_shift) {
            page = alloc_pages(pool, (size + pool->page_size - 1)
                                     >> pool->page_shift);
        }
        if (page != NULL) {
            return page_addr(pool, page);
        }
        pool->big_fails++;
        goto failed;
    }

    shift = PT_SLAB_MIN_SHIFT;
    while (((size_t) 1 << shift) < size) {
        shift++;
    }
    cls = shift - PT_SLAB_MIN_SHIFT;

    pool->stats[cls].reqs++;
    p = alloc_chunk(pool, shift);
    if (p != NULL) {
        pool->stats[cls].used++;
        return p;
    }
    pool->stats[cls].fails++;

failed:
    if (pool->log_nomem) {
        pt_log_error(PT_LOG_CRIT, pt_slab_log, 0,
                     "pt_slab_alloc() failed: no memory%s", pool->log_ctx);
    }
    return NULL;
}

void *
pt_slab_alloc(pt_slab_pool_t *pool, size_t size)
{
    void *p;

    pt_shmtx_lock(&pool->mutex);
    p = pt_slab_alloc_locked(pool, size);
    pt_shmtx_unlock(&pool->mutex);
    return p;
}

void *
pt_slab_calloc_locked(pt_slab_pool_t *pool, size_t size)
{
    void *p = pt_slab_alloc_locked(pool, size);

    if (p != NULL) {
        memset(p, 0, size);
    }
    return p;
}

void *
pt_slab_calloc(pt_slab_pool_t *pool, size_t size)
{
    void *p;

    pt_shmtx_lock(&pool->mutex);
    p = pt_slab_calloc_locked(pool, size);
    pt_shmtx_unlock(&pool->mutex);
    return p;
}

void
pt_slab_free_locked(pt_slab_pool_t *pool, void *ptr)
{
    u_char         *p = ptr;
    pt_slab_page_t *page;

    if (p < pool->start || p >= pool->end) {
        bad_free(pool, "outside of pool");
        return;
    }

    page = &pool->pages[(size_t) (p - pool->start) >> pool->page_shift];

    switch (page->type) {
    case PT_SLAB_PAGE_CHUNK:
        free_chunk(pool, page, p);
        return;
    case PT_SLAB_PAGE_RUN:
        if (p != page_addr(pool, page)) {
            bad_free(pool, "pointer to wrong page");
            return;
        }
        free_pages(pool, page, page->npages);
        return;
    case PT_SLAB_PAGE_BUSY:
        bad_free(pool, "pointer to wrong page");
        return;
    default:
        bad_free(pool, "page is already free");
        return;
    }
}

void
pt_slab_free(pt_slab_pool_t *pool, void *p)
{
    pt_shmtx_lock(&pool->mutex);
    pt_slab_free_locked(pool, p);
    pt_shmtx_unlock(&pool->mutex);
}

void
pt_slab_stats(pt_slab_pool_t *pool, pt_slab_stat_t *st)
{
    pt_slab_page_t *run;

    memset(st, 0, sizeof(pt_slab_stat_t));
    pt_shmtx_lock(&pool->mutex);
    st->pages = pool->npages;
    st->free_pages = pool->pfree;
    for (run = pool->free.next; run != &pool->free; run = run->next) {
        st->free_runs++;
        st->max_free_run = pt_max(st->max_free_run, (pt_uint_t) run->npages);
    }
    pt_shmtx_unlock(&pool->mutex);
}

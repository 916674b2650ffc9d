/*
 * Unit tests for common/slab: size classes, alignment, no overlap, no leak,
 * exhaustion and recovery, coalescing, bad frees, and a seeded stress run.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "common/slab.h"

#define ZONE_SIZE (256 * 1024)

static pt_slab_pool_t *
new_pool(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    ck_assert_ptr_ne(p, MAP_FAILED);
    pt_slab_init(p, size);
    return p;
}

/* Route slab messages to a temp file; returns its fd for read_log(). */
static pt_log_t  test_log;
static char      log_text[8192];

static void
capture_log(void)
{
    char tmpl[] = "/tmp/pt_test_slab_XXXXXX";

    test_log.fd = mkstemp(tmpl);
    ck_assert_int_ge(test_log.fd, 0);
    unlink(tmpl);
    test_log.level = PT_LOG_DEBUG;
    pt_log_use_stderr = 0;
    pt_slab_log = &test_log;
}

static const char *
read_log(void)
{
    ssize_t n = pread(test_log.fd, log_text, sizeof(log_text) - 1, 0);

    ck_assert_int_ge(n, 0);
    log_text[n] = '\0';
    return log_text;
}

/* The free list must account for every free page, and no two free runs
 * may touch (they would have been merged). */
static void
check_free_list(pt_slab_pool_t *pool)
{
    pt_slab_page_t *run, *other;
    pt_uint_t       sum = 0, a, b;

    for (run = pool->free.next; run != &pool->free; run = run->next) {
        ck_assert_uint_gt(run->npages, 0);
        ck_assert_ptr_eq(run->next->prev, run);
        a = (pt_uint_t) (run - pool->pages);
        ck_assert_uint_le(a + run->npages, pool->npages);
        sum += run->npages;
        for (other = pool->free.next; other != &pool->free;
             other = other->next)
        {
            b = (pt_uint_t) (other - pool->pages);
            ck_assert(b + other->npages != a);
            ck_assert(a + run->npages != b);
        }
    }
    ck_assert_uint_eq(sum, pool->pfree);
}

static void
check_all_free(pt_slab_pool_t *pool)
{
    pt_slab_stat_t st;
    pt_uint_t      i;

    pt_slab_stats(pool, &st);
    ck_assert_uint_eq(st.free_pages, st.pages);
    ck_assert_uint_eq(st.free_runs, 1);
    ck_assert_uint_eq(st.max_free_run, st.pages);
    for (i = 0; i < pool->nclasses; i++) {
        ck_assert_uint_eq(pool->stats[i].used, 0);
        ck_assert_ptr_eq(pool->slots[i].next, &pool->slots[i]);
    }
    check_free_list(pool);
}

/* One assertion per block: Check records every assertion it passes. */
static int
filled_with(const u_char *p, size_t n, u_char v)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (p[i] != v) {
            return 0;
        }
    }
    return 1;
}

static size_t
pow2_at_least(size_t n)
{
    size_t p = 8;

    while (p < n) {
        p <<= 1;
    }
    return p;
}

START_TEST(layout)
{
    pt_slab_pool_t *pool = new_pool(ZONE_SIZE);
    pt_slab_stat_t  st;

    ck_assert_uint_eq((uintptr_t) pool->start % pool->page_size, 0);
    ck_assert(pool->end <= (u_char *) pool + ZONE_SIZE);
    ck_assert(pool->start >= (u_char *) (pool->pages + pool->npages));
    /* overhead: the header plus ~1% of descriptors, so one page or two */
    ck_assert_uint_ge(pool->npages, ZONE_SIZE / pool->page_size - 2);
    ck_assert_uint_eq(pool->nclasses, pool->page_shift - 3);
    pt_slab_stats(pool, &st);
    ck_assert_uint_eq(st.pages, pool->npages);
    check_all_free(pool);
}
END_TEST

START_TEST(sizes_no_overlap_no_leak)
{
    pt_slab_pool_t *pool = new_pool(ZONE_SIZE);
    size_t          ps = pool->page_size;
    size_t          sizes[] = { 1, 7, 8, 9, 16, 24, 33, 64, 100, 128, 200,
                                256, 511, 512, 1000, 1024, ps / 2 - 1,
                                ps / 2, ps / 2 + 1, ps, ps + 1, 2 * ps,
                                3 * ps + 17 };
    void           *p[pt_nelems(sizes) * 4];
    size_t          sz[pt_nelems(sizes) * 4], a;
    pt_uint_t       i, j, n = 0;

    for (j = 0; j < 4; j++) {
        for (i = 0; i < pt_nelems(sizes); i++) {
            sz[n] = sizes[i];
            p[n] = pt_slab_alloc(pool, sz[n]);
            ck_assert_ptr_nonnull(p[n]);
            ck_assert((u_char *) p[n] >= pool->start);
            ck_assert((u_char *) p[n] + sz[n] <= pool->end);
            a = sz[n] > ps / 2 ? ps : pow2_at_least(sz[n]);
            ck_assert_uint_eq((uintptr_t) p[n] % a, 0);
            memset(p[n], (int) (n + 1), sz[n]);
            n++;
        }
    }

    for (i = 0; i < n; i++) {
        ck_assert(filled_with(p[i], sz[i], (u_char) (i + 1)));
    }
    check_free_list(pool);

    for (i = 0; i < n; i += 2) {
        pt_slab_free(pool, p[i]);
    }
    for (i = 1; i < n; i += 2) {
        pt_slab_free(pool, p[i]);
    }
    check_all_free(pool);
}
END_TEST

START_TEST(calloc_zeroes)
{
    pt_slab_pool_t *pool = new_pool(ZONE_SIZE);
    u_char         *p, *q;

    p = pt_slab_alloc(pool, 300);
    memset(p, 0xff, 300);
    pt_slab_free(pool, p);
    /* a neighbour keeps the page (and its dirty chunk) in use */
    q = pt_slab_alloc(pool, 300);
    ck_assert_ptr_eq(q, p);
    memset(q, 0xff, 300);
    p = pt_slab_alloc(pool, 300);
    pt_slab_free(pool, q);
    q = pt_slab_calloc(pool, 300);
    ck_assert_ptr_nonnull(q);
    ck_assert(filled_with(q, 300, 0));
    pt_slab_free(pool, q);
    pt_slab_free(pool, p);
    check_all_free(pool);
}
END_TEST

START_TEST(exhaustion_and_recovery)
{
    pt_slab_pool_t *pool;
    void          **pages, *p;
    pt_uint_t       i, n, per_page, count;

    capture_log();
    pool = new_pool(ZONE_SIZE);
    snprintf(pool->log_ctx, sizeof(pool->log_ctx), " in zone \"t\"");
    pages = calloc(pool->npages + 1, sizeof(void *));

    for (n = 0; (p = pt_slab_alloc(pool, pool->page_size)) != NULL; n++) {
        ck_assert_uint_lt(n, pool->npages);
        pages[n] = p;
    }
    ck_assert_uint_eq(n, pool->npages);
    ck_assert_ptr_null(pt_slab_alloc(pool, 8));
    ck_assert_ptr_null(pt_slab_alloc(pool, (size_t) -1));
    ck_assert_ptr_nonnull(strstr(read_log(),
        "[crit] "));
    ck_assert_ptr_nonnull(strstr(read_log(),
        "pt_slab_alloc() failed: no memory in zone \"t\""));

    /* one page back: chunks again, then full again */
    pt_slab_free(pool, pages[n / 2]);
    per_page = pool->page_size / 8 - pool->page_size / 512;
    for (count = 0; pt_slab_alloc(pool, 8) != NULL; count++) {
        ck_assert_uint_le(count, per_page);
    }
    ck_assert_uint_eq(count, per_page);
    ck_assert_uint_eq(pool->stats[0].used, per_page);
    ck_assert_uint_gt(pool->stats[0].fails, 0);

    /* a two-page hole made of non-adjacent pages does not fit 2 pages */
    pt_slab_free(pool, pages[0]);
    pt_slab_free(pool, pages[2]);
    ck_assert_ptr_null(pt_slab_alloc(pool, 2 * pool->page_size));
    pt_slab_free(pool, pages[1]);
    p = pt_slab_alloc(pool, 3 * pool->page_size);
    ck_assert_ptr_eq(p, pages[0]);
    pt_slab_free(pool, p);

    for (i = 3; i < n; i++) {
        if (i != n / 2) {
            pt_slab_free(pool, pages[i]);
        }
    }
    /* the last 8-byte chunks still hold one page */
    ck_assert_uint_eq(pool->pfree, pool->npages - 1);
    check_free_list(pool);
    free(pages);
}
END_TEST

START_TEST(coalescing)
{
    pt_slab_pool_t *pool = new_pool(ZONE_SIZE);
    void          **pages, *all;
    pt_uint_t       i, n = pool->npages;

    pages = calloc(n, sizeof(void *));
    for (i = 0; i < n; i++) {
        pages[i] = pt_slab_alloc(pool, pool->page_size);
        ck_assert_ptr_nonnull(pages[i]);
    }
    /* free odd pages, then the even ones from the top down: each even
     * page must merge with both neighbours */
    for (i = 1; i < n; i += 2) {
        pt_slab_free(pool, pages[i]);
    }
    check_free_list(pool);
    for (i = (n - 1) & ~(pt_uint_t) 1; ; i -= 2) {
        pt_slab_free(pool, pages[i]);
        check_free_list(pool);
        if (i == 0) {
            break;
        }
    }
    check_all_free(pool);

    all = pt_slab_alloc(pool, n * pool->page_size);
    ck_assert_ptr_eq(all, pool->start);
    ck_assert_uint_eq(pool->pfree, 0);
    pt_slab_free(pool, all);
    check_all_free(pool);
    free(pages);
}
END_TEST

START_TEST(bad_frees_are_ignored)
{
    pt_slab_pool_t *pool;
    u_char         *a, *b, *big, outside;

    capture_log();
    pool = new_pool(ZONE_SIZE);
    a = pt_slab_alloc(pool, 32);
    b = pt_slab_alloc(pool, 32);
    big = pt_slab_alloc(pool, 2 * pool->page_size);

    pt_slab_free(pool, a);
    pt_slab_free(pool, a);
    ck_assert_ptr_nonnull(strstr(read_log(), "chunk is already free"));
    pt_slab_free(pool, b + 1);
    ck_assert_ptr_nonnull(strstr(read_log(), "pointer to wrong chunk"));
    pt_slab_free(pool, big + pool->page_size);
    ck_assert_ptr_nonnull(strstr(read_log(), "pointer to wrong page"));
    pt_slab_free(pool, &outside);
    ck_assert_ptr_nonnull(strstr(read_log(), "outside of pool"));
    ck_assert_uint_eq(pool->stats[2].used, 1);

    pt_slab_free(pool, b);
    pt_slab_free(pool, big);
    pt_slab_free(pool, big);
    ck_assert_ptr_nonnull(strstr(read_log(), "page is already free"));
    check_all_free(pool);
}
END_TEST

/* Random sizes, mostly small, alloc/free interleaved; every live block
 * keeps its fill byte, and freeing everything leaves no page behind. */
START_TEST(random_stress)
{
    enum { SLOTS = 1500, ROUNDS = 60000 };
    pt_slab_pool_t *pool;
    u_char         *p[SLOTS];
    size_t          sz[SLOTS];
    pt_uint_t       i, k, fails = 0;

    pool = new_pool(1024 * 1024);
    pool->log_nomem = 0;
    memset(p, 0, sizeof(p));
    srandom(12345);

    for (i = 0; i < ROUNDS; i++) {
        k = (pt_uint_t) random() % SLOTS;
        if (p[k] != NULL) {
            ck_assert(filled_with(p[k], sz[k], (u_char) k));
            pt_slab_free(pool, p[k]);
            p[k] = NULL;
            continue;
        }
        switch (random() % 8) {
        case 0:
            sz[k] = 1 + (size_t) random() % (3 * pool->page_size);
            break;
        case 1:
        case 2:
            sz[k] = 1 + (size_t) random() % (pool->page_size / 2);
            break;
        default:
            sz[k] = 1 + (size_t) random() % 64;
        }
        p[k] = pt_slab_alloc(pool, sz[k]);
        if (p[k] == NULL) {
            fails++;
            continue;
        }
        memset(p[k], (int) k, sz[k]);
        if (i % 5000 == 0) {
            check_free_list(pool);
        }
    }

    for (k = 0; k < SLOTS; k++) {
        if (p[k] != NULL) {
            ck_assert(filled_with(p[k], sz[k], (u_char) k));
            pt_slab_free(pool, p[k]);
        }
    }
    check_all_free(pool);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("slab");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, layout);
    tcase_add_test(tc, sizes_no_overlap_no_leak);
    tcase_add_test(tc, calloc_zeroes);
    tcase_add_test(tc, exhaustion_and_recovery);
    tcase_add_test(tc, coalescing);
    tcase_add_test(tc, bad_frees_are_ignored);
    tcase_add_test(tc, random_stress);
    suite_add_tcase(s, tc);
    return s;
}

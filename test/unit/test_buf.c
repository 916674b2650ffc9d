/*
 * Unit tests for common/buf: sizes, chain append, free/busy recycling.
 */
#include <check.h>

#include "common/buf.h"
#include "common/pool.h"

START_TEST(buf_sizes)
{
    pt_pool_t *p = pt_pool_create(1024, NULL);
    pt_buf_t  *b, *f;

    b = pt_buf_create_temp(p, 100);
    ck_assert_ptr_nonnull(b);
    ck_assert(b->temporary);
    ck_assert_ptr_eq(b->pos, b->start);
    ck_assert_ptr_eq(b->last, b->start);
    ck_assert_int_eq(b->end - b->start, 100);
    ck_assert_int_eq(pt_buf_size(b), 0);
    b->last += 40;
    b->pos += 15;
    ck_assert_int_eq(pt_buf_size(b), 25);
    ck_assert(pt_buf_in_memory_only(b));
    ck_assert(!pt_buf_special(b));

    f = pt_buf_calloc(p);
    ck_assert_ptr_nonnull(f);
    f->in_file = 1;
    f->file_pos = 100;
    f->file_last = 4196;
    ck_assert_int_eq(pt_buf_size(f), 4096);
    ck_assert(!pt_buf_in_memory(f));

    f = pt_buf_calloc(p);
    f->last_buf = 1;
    ck_assert(pt_buf_special(f));
    ck_assert_int_eq(pt_buf_size(f), 0);

    /* Larger than the pool's small limit: still works. */
    b = pt_buf_create_temp(p, 64 * 1024);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->end - b->start, 64 * 1024);
    pt_pool_destroy(p);
}
END_TEST

START_TEST(chain_append)
{
    pt_pool_t  *p = pt_pool_create(1024, NULL);
    pt_chain_t *chain = NULL, *in = NULL, *cl;
    pt_buf_t   *b[3];
    int         i;

    for (i = 0; i < 3; i++) {
        b[i] = pt_buf_create_temp(p, 10);
        b[i]->last += i + 1;
    }

    for (i = 2; i >= 0; i--) {
        cl = pt_alloc_chain_link(p);
        cl->buf = b[i];
        cl->next = in;
        in = cl;
    }

    ck_assert_int_eq(pt_chain_append(p, &chain, in), PT_OK);
    ck_assert_int_eq(pt_chain_append(p, &chain, in->next), PT_OK);
    ck_assert_int_eq(pt_chain_append(p, &chain, NULL), PT_OK);

    /* b0 b1 b2 b1 b2: copies of the links, the same buffers */
    i = 0;
    for (cl = chain; cl != NULL; cl = cl->next) {
        ck_assert_ptr_ne(cl, in);
        i++;
    }
    ck_assert_int_eq(i, 5);
    ck_assert_ptr_eq(chain->buf, b[0]);
    ck_assert_ptr_eq(chain->next->next->next->buf, b[1]);
    ck_assert_int_eq(pt_chain_size(chain), 1 + 2 + 3 + 2 + 3);
    ck_assert_int_eq(pt_chain_size(in), 6);
    pt_pool_destroy(p);
}
END_TEST

START_TEST(chain_recycle)
{
    pt_pool_t  *p = pt_pool_create(1024, NULL);
    pt_chain_t *free = NULL, *busy = NULL, *out, *a, *b;
    int         tag, other;

    a = pt_chain_get_free_buf(p, &free);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(pt_buf_size(a->buf), 0);
    a->buf->start = pt_palloc(p, 32);
    a->buf->pos = a->buf->last = a->buf->start;
    a->buf->end = a->buf->start + 32;
    a->buf->temporary = 1;
    a->buf->tag = &tag;
    a->buf->last += 10;

    b = pt_chain_get_free_buf(p, &free);
    b->buf->memory = 1;
    b->buf->tag = &other;
    b->buf->pos = (u_char *) "x";
    b->buf->last = b->buf->pos + 1;

    a->next = b;
    out = a;
    pt_chain_update(&free, &busy, &out, &tag);
    ck_assert_ptr_null(out);
    ck_assert_ptr_eq(busy, a);   /* nothing sent yet */
    ck_assert_ptr_null(free);

    a->buf->pos = a->buf->last;  /* a fully sent, b not */
    pt_chain_update(&free, &busy, &out, &tag);
    ck_assert_ptr_eq(free, a);
    ck_assert_ptr_eq(busy, b);
    ck_assert_ptr_eq(a->buf->last, a->buf->start);

    b->buf->pos = b->buf->last;  /* not ours: leaves busy, not to free */
    pt_chain_update(&free, &busy, &out, &tag);
    ck_assert_ptr_null(busy);
    ck_assert_ptr_eq(free, a);
    ck_assert_ptr_null(free->next);

    ck_assert_ptr_eq(pt_chain_get_free_buf(p, &free), a);
    ck_assert_ptr_null(free);
    ck_assert_int_eq(a->buf->end - a->buf->start, 32);   /* memory kept */
    pt_pool_destroy(p);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("buf");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, buf_sizes);
    tcase_add_test(tc, chain_append);
    tcase_add_test(tc, chain_recycle);
    suite_add_tcase(s, tc);
    return s;
}

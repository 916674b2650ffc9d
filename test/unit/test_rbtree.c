/*
 * Unit tests for common/rbtree and common/queue: random inserts and
 * deletes with the red-black invariants checked after every step.
 */
#include <check.h>
#include <stdlib.h>

#include "common/queue.h"
#include "common/rbtree.h"

#define N 2000

typedef struct {
    pt_rbtree_node_t node;
    int              in;
} item_t;

static item_t items[N];

/* Black height of the subtree, or -1 when an invariant is broken. */
static int
black_height(pt_rbtree_node_t *n, pt_rbtree_node_t *sentinel,
             pt_rbtree_node_t *parent)
{
    int l, r;

    if (n == sentinel) {
        return 1;
    }
    if (n->parent != parent) {
        return -1;
    }
    if (n->color == PT_RBTREE_RED
        && (n->left->color == PT_RBTREE_RED
            || n->right->color == PT_RBTREE_RED))
    {
        return -1;
    }
    if ((n->left != sentinel && n->left->key > n->key)
        || (n->right != sentinel && n->right->key < n->key))
    {
        return -1;
    }
    l = black_height(n->left, sentinel, n);
    r = black_height(n->right, sentinel, n);
    if (l < 0 || r < 0 || l != r) {
        return -1;
    }
    return l + (n->color == PT_RBTREE_BLACK);
}

static void
check_tree(pt_rbtree_t *t, int expect_n)
{
    pt_rbtree_node_t *n, *prev = NULL;
    pt_rbtree_key_t   min = (pt_rbtree_key_t) -1;
    int               i, count = 0;

    ck_assert_int_eq(t->sentinel->color, PT_RBTREE_BLACK);
    ck_assert(t->root == t->sentinel || t->root->color == PT_RBTREE_BLACK);
    ck_assert_int_gt(black_height(t->root, t->sentinel, NULL), 0);

    for (i = 0; i < N; i++) {
        if (items[i].in && items[i].node.key < min) {
            min = items[i].node.key;
        }
    }

    if (expect_n == 0) {
        ck_assert(pt_rbtree_empty(t));
        return;
    }

    n = pt_rbtree_min(t->root, t->sentinel);
    ck_assert_uint_eq(n->key, min);
    for (; n != NULL; n = pt_rbtree_next(t, n)) {
        if (prev != NULL) {
            ck_assert_uint_le(prev->key, n->key);
        }
        prev = n;
        count++;
    }
    ck_assert_int_eq(count, expect_n);
}

START_TEST(rbtree_random)
{
    pt_rbtree_t      t;
    pt_rbtree_node_t sentinel;
    int              i, k, in = 0;

    srandom(12345);
    pt_rbtree_init(&t, &sentinel, pt_rbtree_insert_value);
    check_tree(&t, 0);

    for (i = 0; i < N; i++) {
        items[i].node.key = (pt_rbtree_key_t) (random() % 500); /* dups */
        pt_rbtree_insert(&t, &items[i].node);
        items[i].in = 1;
        in++;
        if (i % 97 == 0) {
            check_tree(&t, in);
        }
    }
    check_tree(&t, in);

    for (i = 0; i < 4 * N; i++) {
        k = (int) (random() % N);
        if (items[k].in) {
            pt_rbtree_delete(&t, &items[k].node);
            items[k].in = 0;
            in--;
        } else {
            items[k].node.key = (pt_rbtree_key_t) (random() % 100000);
            pt_rbtree_insert(&t, &items[k].node);
            items[k].in = 1;
            in++;
        }
        if (i % 13 == 0) {
            check_tree(&t, in);
        }
    }
    check_tree(&t, in);

    /* Empty it by always deleting the minimum. */
    while (!pt_rbtree_empty(&t)) {
        pt_rbtree_node_t *m = pt_rbtree_min(t.root, t.sentinel);
        item_t           *it = (item_t *) m;

        pt_rbtree_delete(&t, m);
        it->in = 0;
        in--;
        if (in % 50 == 0) {
            check_tree(&t, in);
        }
    }
    ck_assert_int_eq(in, 0);
    check_tree(&t, 0);
}
END_TEST

START_TEST(rbtree_timer_order_wraps)
{
    pt_rbtree_t      t;
    pt_rbtree_node_t sentinel, a, b, c;

    pt_rbtree_init(&t, &sentinel, pt_rbtree_insert_timer_value);
    a.key = (pt_rbtree_key_t) -10;   /* just before the wrap */
    b.key = 5;                       /* just after it */
    c.key = (pt_rbtree_key_t) -2;
    pt_rbtree_insert(&t, &b);
    pt_rbtree_insert(&t, &a);
    pt_rbtree_insert(&t, &c);
    ck_assert_ptr_eq(pt_rbtree_min(t.root, t.sentinel), &a);
    ck_assert_ptr_eq(pt_rbtree_next(&t, &a), &c);
    ck_assert_ptr_eq(pt_rbtree_next(&t, &c), &b);
    ck_assert_ptr_null(pt_rbtree_next(&t, &b));
}
END_TEST

typedef struct {
    int        v;
    pt_queue_t link;
} qitem_t;

START_TEST(queue_basic)
{
    pt_queue_t  h, h2, *q;
    qitem_t     it[4];
    int         i, expect[] = { 2, 0, 1, 3 }, n = 0;

    pt_queue_init(&h);
    ck_assert(pt_queue_empty(&h));
    for (i = 0; i < 4; i++) {
        it[i].v = i;
    }
    pt_queue_insert_tail(&h, &it[0].link);
    pt_queue_insert_tail(&h, &it[1].link);
    pt_queue_insert_head(&h, &it[2].link);
    pt_queue_insert_tail(&h, &it[3].link);
    ck_assert(!pt_queue_empty(&h));

    for (q = pt_queue_head(&h); q != pt_queue_sentinel(&h);
         q = pt_queue_next(q))
    {
        ck_assert_int_eq(pt_queue_data(q, qitem_t, link)->v, expect[n++]);
    }
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(pt_queue_data(pt_queue_last(&h), qitem_t, link)->v, 3);

    pt_queue_remove(&it[0].link);
    pt_queue_remove(&it[0].link);   /* twice is harmless */
    ck_assert_int_eq(pt_queue_data(pt_queue_next(pt_queue_head(&h)),
                                   qitem_t, link)->v, 1);

    pt_queue_init(&h2);
    pt_queue_insert_tail(&h2, &it[0].link);
    pt_queue_splice_tail(&h2, &h);
    ck_assert(pt_queue_empty(&h));
    n = 0;
    for (q = pt_queue_head(&h2); q != &h2; q = pt_queue_next(q)) {
        n++;
    }
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(pt_queue_data(pt_queue_last(&h2), qitem_t, link)->v, 3);
    ck_assert_ptr_eq(pt_queue_prev(pt_queue_head(&h2)), &h2);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("rbtree");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, rbtree_random);
    tcase_add_test(tc, rbtree_timer_order_wraps);
    tcase_add_test(tc, queue_basic);
    suite_add_tcase(s, tc);
    return s;
}

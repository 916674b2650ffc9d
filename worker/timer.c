/*
 * Event timers in a red-black tree ordered by deadline (wrap-safe signed
 * comparison). Per-process state: one event loop per worker.
 */
#include <stddef.h>

#include "common/rbtree.h"
#include "common/time.h"
#include "event.h"
#include "timer.h"

static pt_rbtree_node_t timer_sentinel;   /* zeroed: black */
static pt_rbtree_t      timer_tree = {
    &timer_sentinel, &timer_sentinel, pt_rbtree_insert_timer_value
};

#define timer_event(node)                                                     \
    ((pt_event_t *) ((u_char *) (node) - offsetof(pt_event_t, timer)))

void
pt_timer_init(void)
{
    pt_rbtree_init(&timer_tree, &timer_sentinel,
                   pt_rbtree_insert_timer_value);
}

void
pt_timer_add(pt_event_t *ev, pt_msec_t timeout_ms)
{
    pt_rbtree_key_t     key;
    pt_rbtree_key_int_t diff;

    key = (pt_rbtree_key_t) (pt_current_msec + timeout_ms);

    if (ev->timer_set) {
        /* Keep-alive and read timeouts are re-armed on every read; a tiny
         * shift is not worth a delete and an insert. */
        diff = (pt_rbtree_key_int_t) (key - ev->timer.key);
        if (diff > -PT_TIMER_LAZY_DELAY && diff < PT_TIMER_LAZY_DELAY) {
            return;
        }
        pt_rbtree_delete(&timer_tree, &ev->timer);
    }

    ev->timer.key = key;
    pt_rbtree_insert(&timer_tree, &ev->timer);
    ev->timer_set = 1;
}

void
pt_timer_del(pt_event_t *ev)
{
    if (!ev->timer_set) {
        return;
    }
    pt_rbtree_delete(&timer_tree, &ev->timer);
    ev->timer_set = 0;
}

pt_msec_t
pt_timer_find(void)
{
    pt_rbtree_node_t    *node;
    pt_rbtree_key_int_t  left;

    if (pt_rbtree_empty(&timer_tree)) {
        return -1;
    }

    node = pt_rbtree_min(timer_tree.root, &timer_sentinel);
    left = (pt_rbtree_key_int_t) (node->key
                                  - (pt_rbtree_key_t) pt_current_msec);
    return left > 0 ? (pt_msec_t) left : 0;
}

void
pt_timer_expire(void)
{
    pt_rbtree_node_t *node;
    pt_event_t       *ev;

    /* Handlers may add and delete timers: look up the minimum afresh. */
    while (!pt_rbtree_empty(&timer_tree)) {
        node = pt_rbtree_min(timer_tree.root, &timer_sentinel);

        if ((pt_rbtree_key_int_t) (node->key
                                   - (pt_rbtree_key_t) pt_current_msec) > 0)
        {
            return;
        }

        ev = timer_event(node);
        pt_rbtree_delete(&timer_tree, node);
        ev->timer_set = 0;
        ev->timedout = 1;
        ev->handler(ev);
    }
}

int
pt_timer_empty_except_cancelable(void)
{
    pt_rbtree_node_t *node;

    if (pt_rbtree_empty(&timer_tree)) {
        return 1;
    }

    for (node = pt_rbtree_min(timer_tree.root, &timer_sentinel);
         node != NULL;
         node = pt_rbtree_next(&timer_tree, node))
    {
        if (!timer_event(node)->cancelable) {
            return 0;
        }
    }
    return 1;
}

/*
 * Intrusive red-black tree with a sentinel leaf. Nodes live inside their
 * owners (events, cache nodes, limit states); ordering is pluggable through
 * the tree's insert function. Used by timers, caches and rate limits.
 */
#ifndef PT_RBTREE_H
#define PT_RBTREE_H

#include "pt_types.h"

typedef pt_uint_t pt_rbtree_key_t;
typedef pt_int_t  pt_rbtree_key_int_t;

#define PT_RBTREE_BLACK 0   /* zero, so a static sentinel starts black */
#define PT_RBTREE_RED   1

struct pt_rbtree_node_s {
    pt_rbtree_key_t    key;
    pt_rbtree_node_t  *left;
    pt_rbtree_node_t  *right;
    pt_rbtree_node_t  *parent;   /* NULL at the root */
    u_char             color;
    u_char             data;     /* spare byte for the owner */
};

/*
 * Places `node` below `root` (never the sentinel) by the tree's order:
 * it must set node->parent, both children to the sentinel, colour red.
 * pt_rbtree_link() does that last step.
 */
typedef void (*pt_rbtree_insert_pt)(pt_rbtree_node_t *root,
                                    pt_rbtree_node_t *node,
                                    pt_rbtree_node_t *sentinel);

struct pt_rbtree_s {
    pt_rbtree_node_t    *root;
    pt_rbtree_node_t    *sentinel;
    pt_rbtree_insert_pt  insert;
};

static inline void
pt_rbtree_init(pt_rbtree_t *tree, pt_rbtree_node_t *sentinel,
               pt_rbtree_insert_pt insert)
{
    sentinel->color = PT_RBTREE_BLACK;
    sentinel->left = sentinel->right = sentinel->parent = NULL;
    tree->root = sentinel;
    tree->sentinel = sentinel;
    tree->insert = insert;
}

#define pt_rbtree_empty(tree) ((tree)->root == (tree)->sentinel)

/* Hang `node` at *link under `parent` as a red leaf (for insert functions). */
static inline void
pt_rbtree_link(pt_rbtree_node_t *parent, pt_rbtree_node_t **link,
               pt_rbtree_node_t *node, pt_rbtree_node_t *sentinel)
{
    *link = node;
    node->parent = parent;
    node->left = sentinel;
    node->right = sentinel;
    node->color = PT_RBTREE_RED;
}

/* Leftmost node of the subtree at `node` (which must not be the sentinel). */
static inline pt_rbtree_node_t *
pt_rbtree_min(pt_rbtree_node_t *node, pt_rbtree_node_t *sentinel)
{
    while (node->left != sentinel) {
        node = node->left;
    }
    return node;
}

void pt_rbtree_insert(pt_rbtree_t *tree, pt_rbtree_node_t *node);
void pt_rbtree_delete(pt_rbtree_t *tree, pt_rbtree_node_t *node);
/* In-order successor of `node`, NULL after the last one. */
pt_rbtree_node_t *pt_rbtree_next(pt_rbtree_t *tree, pt_rbtree_node_t *node);

/* Ascending unsigned keys; equal keys go after the existing ones. */
void pt_rbtree_insert_value(pt_rbtree_node_t *root, pt_rbtree_node_t *node,
                            pt_rbtree_node_t *sentinel);
/* Keys compared as a signed difference, so they may wrap (deadlines). */
void pt_rbtree_insert_timer_value(pt_rbtree_node_t *root,
                                  pt_rbtree_node_t *node,
                                  pt_rbtree_node_t *sentinel);

#endif /* PT_RBTREE_H */

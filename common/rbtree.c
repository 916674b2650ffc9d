/*
 * Red-black tree balancing (insert and delete fix-ups as in CLRS, with a
 * shared black sentinel for every leaf) and the stock insert functions.
 */
#include "rbtree.h"

#define is_red(n)   ((n)->color == PT_RBTREE_RED)
#define is_black(n) ((n)->color == PT_RBTREE_BLACK)

/* Replace `old` by `new` in old's parent (or as the root). */
static void
replace_child(pt_rbtree_node_t **root, pt_rbtree_node_t *old,
              pt_rbtree_node_t *new)
{
    if (old->parent == NULL) {
        *root = new;
    } else if (old == old->parent->left) {
        old->parent->left = new;
    } else {
        old->parent->right = new;
    }
}

static void
rotate_left(pt_rbtree_node_t **root, pt_rbtree_node_t *sentinel,
            pt_rbtree_node_t *x)
{
    pt_rbtree_node_t *y = x->right;

    x->right = y->left;
    if (y->left != sentinel) {
        y->left->parent = x;
    }
    y->parent = x->parent;
    replace_child(root, x, y);
    y->left = x;
    x->parent = y;
}

static void
rotate_right(pt_rbtree_node_t **root, pt_rbtree_node_t *sentinel,
             pt_rbtree_node_t *x)
{
    pt_rbtree_node_t *y = x->left;

    x->left = y->right;
    if (y->right != sentinel) {
        y->right->parent = x;
    }
    y->parent = x->parent;
    replace_child(root, x, y);
    y->right = x;
    x->parent = y;
}

void
pt_rbtree_insert(pt_rbtree_t *tree, pt_rbtree_node_t *node)
{
    pt_rbtree_node_t **root = &tree->root, *sentinel = tree->sentinel;
    pt_rbtree_node_t  *p, *g, *u;

    if (*root == sentinel) {
        node->parent = NULL;
        node->left = sentinel;
        node->right = sentinel;
        node->color = PT_RBTREE_BLACK;
        *root = node;
        return;
    }

    tree->insert(*root, node, sentinel);

    /* A red node under a red parent: recolour while the uncle is red,
     * otherwise rotate once or twice and stop. */
    while (node != *root && is_red(node->parent)) {
        p = node->parent;
        g = p->parent;

        if (p == g->left) {
            u = g->right;
            if (is_red(u)) {
                p->color = PT_RBTREE_BLACK;
                u->color = PT_RBTREE_BLACK;
                g->color = PT_RBTREE_RED;
                node = g;
                continue;
            }
            if (node == p->right) {
                node = p;
                rotate_left(root, sentinel, node);
                p = node->parent;
            }
            p->color = PT_RBTREE_BLACK;
            g->color = PT_RBTREE_RED;
            rotate_right(root, sentinel, g);

        } else {
            u = g->left;
            if (is_red(u)) {
                p->color = PT_RBTREE_BLACK;
                u->color = PT_RBTREE_BLACK;
                g->color = PT_RBTREE_RED;
                node = g;
                continue;
            }
            if (node == p->left) {
                node = p;
                rotate_right(root, sentinel, node);
                p = node->parent;
            }
            p->color = PT_RBTREE_BLACK;
            g->color = PT_RBTREE_RED;
            rotate_left(root, sentinel, g);
        }
    }

    (*root)->color = PT_RBTREE_BLACK;
}

/* `x` carries an extra black after a black node was unlinked above it;
 * push it up or resolve it with the sibling. The sentinel may be `x`: its
 * parent pointer was set by the caller for this purpose. */
static void
delete_fixup(pt_rbtree_node_t **root, pt_rbtree_node_t *sentinel,
             pt_rbtree_node_t *x)
{
    pt_rbtree_node_t *p, *w;

    while (x != *root && is_black(x)) {
        p = x->parent;

        if (x == p->left) {
            w = p->right;
            if (is_red(w)) {
                w->color = PT_RBTREE_BLACK;
                p->color = PT_RBTREE_RED;
                rotate_left(root, sentinel, p);
                w = p->right;
            }
            if (is_black(w->left) && is_black(w->right)) {
                w->color = PT_RBTREE_RED;
                x = p;
                continue;
            }
            if (is_black(w->right)) {
                w->left->color = PT_RBTREE_BLACK;
                w->color = PT_RBTREE_RED;
                rotate_right(root, sentinel, w);
                w = p->right;
            }
            w->color = p->color;
            p->color = PT_RBTREE_BLACK;
            w->right->color = PT_RBTREE_BLACK;
            rotate_left(root, sentinel, p);
            x = *root;

        } else {
            w = p->left;
            if (is_red(w)) {
                w->color = PT_RBTREE_BLACK;
                p->color = PT_RBTREE_RED;
                rotate_right(root, sentinel, p);
                w = p->left;
            }
            if (is_black(w->left) && is_black(w->right)) {
                w->color = PT_RBTREE_RED;
                x = p;
                continue;
            }
            if (is_black(w->left)) {
                w->right->color = PT_RBTREE_BLACK;
                w->color = PT_RBTREE_RED;
                rotate_left(root, sentinel, w);
                w = p->left;
            }
            w->color = p->color;
            p->color = PT_RBTREE_BLACK;
            w->left->color = PT_RBTREE_BLACK;
            rotate_right(root, sentinel, p);
            x = *root;
        }
    }

    x->color = PT_RBTREE_BLACK;
}

void
pt_rbtree_delete(pt_rbtree_t *tree, pt_rbtree_node_t *node)
{
    pt_rbtree_node_t **root = &tree->root, *sentinel = tree->sentinel;
    pt_rbtree_node_t  *x, *y;
    u_char             removed_color;

    if (node->left == sentinel || node->right == sentinel) {
        /* At most one child: it takes the node's place. */
        x = (node->left == sentinel) ? node->right : node->left;
        removed_color = node->color;
        replace_child(root, node, x);
        x->parent = node->parent;

    } else {
        /* Two children: the successor y (no left child) moves into the
         * node's place and keeps its colour; y's old spot loses a node. */
        y = pt_rbtree_min(node->right, sentinel);
        removed_color = y->color;
        x = y->right;

        if (y->parent == node) {
            x->parent = y;
        } else {
            replace_child(root, y, x);
            x->parent = y->parent;
            y->right = node->right;
            y->right->parent = y;
        }

        replace_child(root, node, y);
        y->parent = node->parent;
        y->left = node->left;
        y->left->parent = y;
        y->color = node->color;
    }

    node->left = NULL;
    node->right = NULL;
    node->parent = NULL;
    node->key = 0;

    if (removed_color == PT_RBTREE_BLACK) {
        delete_fixup(root, sentinel, x);
    }
}

pt_rbtree_node_t *
pt_rbtree_next(pt_rbtree_t *tree, pt_rbtree_node_t *node)
{
    pt_rbtree_node_t *sentinel = tree->sentinel, *p;

    if (node->right != sentinel) {
        return pt_rbtree_min(node->right, sentinel);
    }

    for (p = node->parent; p != NULL && node == p->right; p = p->parent) {
        node = p;
    }
    return p;
}

void
pt_rbtree_insert_value(pt_rbtree_node_t *temp, pt_rbtree_node_t *node,
                       pt_rbtree_node_t *sentinel)
{
    pt_rbtree_node_t **link;

    for (;;) {
        link = (node->key < temp->key) ? &temp->left : &temp->right;
        if (*link == sentinel) {
            break;
        }
        temp = *link;
    }
    pt_rbtree_link(temp, link, node, sentinel);
}

void
pt_rbtree_insert_timer_value(pt_rbtree_node_t *temp, pt_rbtree_node_t *node,
                             pt_rbtree_node_t *sentinel)
{
    pt_rbtree_node_t **link;

    for (;;) {
        link = ((pt_rbtree_key_int_t) (node->key - temp->key) < 0)
               ? &temp->left : &temp->right;
        if (*link == sentinel) {
            break;
        }
        temp = *link;
    }
    pt_rbtree_link(temp, link, node, sentinel);
}

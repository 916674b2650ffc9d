/*
 * Intrusive circular doubly linked list. A list is a pt_queue_t head; each
 * element embeds a pt_queue_t link and is recovered with pt_queue_data().
 * No allocation, O(1) insert and remove.
 */
#ifndef PT_QUEUE_H
#define PT_QUEUE_H

#include <stddef.h>

#include "pt_types.h"

typedef struct pt_queue_s pt_queue_t;

struct pt_queue_s {
    pt_queue_t  *prev;
    pt_queue_t  *next;
};

/* An empty list (or an unlinked element) points to itself. */
static inline void
pt_queue_init(pt_queue_t *q)
{
    q->prev = q;
    q->next = q;
}

static inline int
pt_queue_empty(const pt_queue_t *h)
{
    return h->next == h;
}

static inline void
pt_queue_insert_head(pt_queue_t *h, pt_queue_t *x)
{
    x->next = h->next;
    x->next->prev = x;
    x->prev = h;
    h->next = x;
}

static inline void
pt_queue_insert_tail(pt_queue_t *h, pt_queue_t *x)
{
    x->prev = h->prev;
    x->prev->next = x;
    x->next = h;
    h->prev = x;
}

/* Unlink `x` from whatever list holds it; `x` is left pointing to itself,
 * so removing it twice is harmless. */
static inline void
pt_queue_remove(pt_queue_t *x)
{
    x->next->prev = x->prev;
    x->prev->next = x->next;
    x->prev = x;
    x->next = x;
}

/* Move every element of `from` to the tail of `to`; `from` ends empty. */
static inline void
pt_queue_splice_tail(pt_queue_t *to, pt_queue_t *from)
{
    if (pt_queue_empty(from)) {
        return;
    }
    from->next->prev = to->prev;
    to->prev->next = from->next;
    from->prev->next = to;
    to->prev = from->prev;
    pt_queue_init(from);
}

#define pt_queue_head(h)     ((h)->next)
#define pt_queue_last(h)     ((h)->prev)
#define pt_queue_sentinel(h) (h)
#define pt_queue_next(q)     ((q)->next)
#define pt_queue_prev(q)     ((q)->prev)

/* The element of `type` whose member `link` is `q`. */
#define pt_queue_data(q, type, link)                                          \
    ((type *) ((u_char *) (q) - offsetof(type, link)))

#endif /* PT_QUEUE_H */

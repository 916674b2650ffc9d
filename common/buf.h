/*
 * Buffer descriptors and chains. A buffer describes memory (start/pos/last/
 * end) and/or a file range (file_pos/file_last); it never owns the bytes.
 * Chains link descriptors into what filters and writers pass along.
 */
#ifndef PT_BUF_H
#define PT_BUF_H

#include <sys/types.h>

#include "pt_types.h"

/* An open file a buffer refers to; defined by common/file.h. */
typedef struct pt_file_s pt_file_t;

struct pt_buf_s {
    u_char      *pos;          /* first unconsumed byte in memory */
    u_char      *last;         /* one past the last valid byte */
    off_t        file_pos;     /* first unsent byte of the file range */
    off_t        file_last;    /* end of the file range */
    u_char      *start;        /* whole memory block: start..end */
    u_char      *end;
    pt_file_t   *file;         /* when in_file */
    void        *tag;          /* owner (module), for free/busy recycling */
    pt_buf_t    *shadow;       /* buffer this one was copied/derived from */

    unsigned     temporary:1;      /* memory is the owner's to modify */
    unsigned     memory:1;         /* memory is read-only (static, cache) */
    unsigned     in_file:1;        /* data is the file range */
    unsigned     flush:1;          /* write out everything so far */
    unsigned     sync:1;           /* carries no data, only a signal */
    unsigned     last_buf:1;       /* end of the response body */
    unsigned     last_in_chain:1;  /* end of this chain (subrequests) */
    unsigned     recycled:1;       /* reused from a free list: send soon */
};

struct pt_chain_s {
    pt_buf_t    *buf;
    pt_chain_t  *next;
};

#define pt_buf_in_memory(b)      ((b)->temporary || (b)->memory)
#define pt_buf_in_memory_only(b) (pt_buf_in_memory(b) && !(b)->in_file)
/* A buffer that only carries flags (flush, last_buf, sync). */
#define pt_buf_special(b)                                                     \
    (((b)->flush || (b)->last_buf || (b)->sync)                               \
     && !pt_buf_in_memory(b) && !(b)->in_file)
/* Bytes still to deliver: memory when in memory, otherwise the file range. */
#define pt_buf_size(b)                                                        \
    (pt_buf_in_memory(b) ? (off_t) ((b)->last - (b)->pos)                     \
                         : ((b)->file_last - (b)->file_pos))

/* A zeroed descriptor from the pool; NULL on allocation failure. */
pt_buf_t *pt_buf_calloc(pt_pool_t *pool);
/* A descriptor plus `size` writable bytes, both from the pool, marked
 * temporary with pos = last = start. NULL on allocation failure. */
pt_buf_t *pt_buf_create_temp(pt_pool_t *pool, size_t size);

/* A chain link from the pool (buf and next unset); NULL on failure. */
pt_chain_t *pt_alloc_chain_link(pt_pool_t *pool);
/* Append copies of the links of `in` (same buffers) to *chain. */
int pt_chain_append(pt_pool_t *pool, pt_chain_t **chain, pt_chain_t *in);
/* Sum of pt_buf_size() over a chain. */
off_t pt_chain_size(pt_chain_t *cl);

/*
 * Recycling for filters. get_free_buf takes a link from *free (its buffer
 * keeps its memory, emptied) or makes one with a zeroed descriptor; NULL on
 * allocation failure. After a write, update moves *out to the tail of *busy,
 * then moves fully sent buffers tagged `tag` from the head of *busy to *free
 * (fully sent ones of other owners are just dropped from busy).
 */
pt_chain_t *pt_chain_get_free_buf(pt_pool_t *pool, pt_chain_t **free);
void pt_chain_update(pt_chain_t **free, pt_chain_t **busy, pt_chain_t **out,
                     void *tag);

#endif /* PT_BUF_H */

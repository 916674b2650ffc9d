/*
 * Forward typedefs, return codes and small helpers shared by every module.
 * Include this instead of another module's header when a pointer is enough.
 */
#ifndef PT_TYPES_H
#define PT_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PT_OK        0
#define PT_ERROR    -1
#define PT_AGAIN    -2
#define PT_DECLINED -3
#define PT_DONE     -4

typedef intptr_t  pt_int_t;
typedef uintptr_t pt_uint_t;
typedef int64_t   pt_msec_t;     /* milliseconds, monotonic or wall clock */
typedef unsigned char u_char;

typedef struct pt_pool_s        pt_pool_t;
typedef struct pt_log_s         pt_log_t;
typedef struct pt_array_s       pt_array_t;
typedef struct pt_buf_s         pt_buf_t;
typedef struct pt_chain_s       pt_chain_t;
typedef struct pt_cycle_s       pt_cycle_t;
typedef struct pt_conf_s        pt_conf_t;
typedef struct pt_conf_node_s   pt_conf_node_t;
typedef struct pt_command_s     pt_command_t;
typedef struct pt_module_s      pt_module_t;
typedef struct pt_listening_s   pt_listening_t;
typedef struct pt_shm_zone_s    pt_shm_zone_t;
typedef struct pt_slab_pool_s   pt_slab_pool_t;
typedef struct pt_event_s       pt_event_t;
typedef struct pt_connection_s  pt_connection_t;
typedef struct pt_rbtree_s      pt_rbtree_t;
typedef struct pt_rbtree_node_s pt_rbtree_node_t;
typedef struct pt_path_s        pt_path_t;

#define pt_min(a, b) ((a) < (b) ? (a) : (b))
#define pt_max(a, b) ((a) > (b) ? (a) : (b))
#define pt_nelems(a) (sizeof(a) / sizeof((a)[0]))
#define pt_align(n, a) (((n) + ((a) - 1)) & ~((uintptr_t) (a) - 1))
#define pt_align_ptr(p, a)                                                    \
    (u_char *) (((uintptr_t) (p) + ((uintptr_t) (a) - 1))                     \
                & ~((uintptr_t) (a) - 1))

#define PT_ALIGNMENT sizeof(uintptr_t)

#define PT_INT64_LEN   (sizeof("-9223372036854775808") - 1)
#define PT_MAX_INT_T   INTPTR_MAX

#endif /* PT_TYPES_H */

/*
 * The nginx configuration language: lexer and parser into a directive tree
 * (file and line on every node), dispatch of nodes to module directive
 * tables, generic setters, and nginx-worded errors. Knows no module by name.
 */
#ifndef PT_CONF_H
#define PT_CONF_H

#include "array.h"
#include "log.h"
#include "pt_types.h"
#include "str.h"

/* Contexts a directive may appear in (pt_command_t.type, low bits). */
#define PT_CONF_MAIN       0x00000001
#define PT_CONF_EVENTS     0x00000002
#define PT_CONF_HTTP       0x00000004
#define PT_CONF_SERVER     0x00000008
#define PT_CONF_LOCATION   0x00000010
#define PT_CONF_UPSTREAM   0x00000020
#define PT_CONF_IF         0x00000040  /* "if" inside server or location */
#define PT_CONF_LMT        0x00000080  /* limit_except */
#define PT_CONF_ANY_CTX    0x000000ff

/* Argument counts (pt_command_t.type, high bits). TAKEn may be or-ed. */
#define PT_CONF_NOARGS     0x00000100
#define PT_CONF_TAKE1      0x00000200
#define PT_CONF_TAKE2      0x00000400
#define PT_CONF_TAKE3      0x00000800
#define PT_CONF_TAKE4      0x00001000
#define PT_CONF_TAKE5      0x00002000
#define PT_CONF_TAKE6      0x00004000
#define PT_CONF_TAKE7      0x00008000
#define PT_CONF_TAKE12     (PT_CONF_TAKE1 | PT_CONF_TAKE2)
#define PT_CONF_TAKE13     (PT_CONF_TAKE1 | PT_CONF_TAKE3)
#define PT_CONF_TAKE23     (PT_CONF_TAKE2 | PT_CONF_TAKE3)
#define PT_CONF_TAKE123    (PT_CONF_TAKE12 | PT_CONF_TAKE3)
#define PT_CONF_TAKE1234   (PT_CONF_TAKE123 | PT_CONF_TAKE4)
#define PT_CONF_ARGS_NUMBER 0x0000ff00
#define PT_CONF_BLOCK      0x00010000  /* must be followed by { ... } */
#define PT_CONF_FLAG       0x00020000  /* exactly one arg, on|off */
#define PT_CONF_ANY        0x00040000  /* any number of args, incl. none */
#define PT_CONF_1MORE      0x00080000
#define PT_CONF_2MORE      0x00100000
#define PT_CONF_DIRECT     0x00200000  /* setter gets ctx->main_conf[] slot
                                          address (for main-level modules) */

/* Which conf array of the current context a command's conf lands in. */
#define PT_CONF_MAIN_OFFSET 0   /* ctx->main_conf[module->index] */
#define PT_CONF_SRV_OFFSET  1   /* ctx->srv_conf[module->index] */
#define PT_CONF_LOC_OFFSET  2   /* ctx->loc_conf[module->index] */

#define PT_CONF_OK    NULL
#define PT_CONF_ERROR ((char *) -1)

/* "Unset" sentinels for create/merge. */
#define PT_CONF_UNSET       -1
#define PT_CONF_UNSET_UINT  ((pt_uint_t) -1)
#define PT_CONF_UNSET_PTR   ((void *) -1)
#define PT_CONF_UNSET_SIZE  ((size_t) -1)
#define PT_CONF_UNSET_MSEC  ((pt_msec_t) -1)

#define pt_conf_init_value(v, d)  do { if ((v) == PT_CONF_UNSET) (v) = (d); } while (0)
#define pt_conf_init_size(v, d)   do { if ((v) == PT_CONF_UNSET_SIZE) (v) = (d); } while (0)
#define pt_conf_init_msec(v, d)   do { if ((v) == PT_CONF_UNSET_MSEC) (v) = (d); } while (0)
#define pt_conf_init_ptr(v, d)    do { if ((v) == PT_CONF_UNSET_PTR) (v) = (d); } while (0)
#define pt_conf_merge_value(c, p, d)                                          \
    do { if ((c) == PT_CONF_UNSET) (c) = ((p) == PT_CONF_UNSET) ? (d) : (p); } while (0)
#define pt_conf_merge_size(c, p, d)                                           \
    do { if ((c) == PT_CONF_UNSET_SIZE) (c) = ((p) == PT_CONF_UNSET_SIZE) ? (d) : (p); } while (0)
#define pt_conf_merge_msec(c, p, d)                                           \
    do { if ((c) == PT_CONF_UNSET_MSEC) (c) = ((p) == PT_CONF_UNSET_MSEC) ? (d) : (p); } while (0)
#define pt_conf_merge_ptr(c, p, d)                                            \
    do { if ((c) == PT_CONF_UNSET_PTR) (c) = ((p) == PT_CONF_UNSET_PTR) ? (d) : (p); } while (0)
#define pt_conf_merge_str(c, p, d)                                            \
    do { if ((c).data == NULL) { if ((p).data) (c) = (p);                     \
         else { (c).len = sizeof(d) - 1; (c).data = (u_char *) (d); } } } while (0)

typedef char *(*pt_conf_set_pt)(pt_conf_t *cf, pt_command_t *cmd, void *conf);

struct pt_command_s {
    const char      *name;
    pt_uint_t        type;     /* contexts | argument counts | flags */
    pt_conf_set_pt   set;
    pt_uint_t        conf;     /* PT_CONF_{MAIN,SRV,LOC}_OFFSET */
    size_t           offset;   /* field in the module's conf struct */
    const void      *post;     /* setter-specific: bounds, enum table */
};

#define pt_null_command { NULL, 0, NULL, 0, 0, NULL }

/* Bounds for pt_conf_set_num/size/off/msec/sec (post), in the field's unit
 * (ms for msec); high < 0 means no upper bound. */
typedef struct {
    pt_int_t  low;
    pt_int_t  high;
} pt_conf_bounds_t;

/* Enum table for pt_conf_set_enum and pt_conf_set_bitmask (post). */
typedef struct {
    const char *name;
    pt_uint_t   value;
} pt_conf_enum_t;

/* A parsed directive: args[0] is its name. */
struct pt_conf_node_s {
    pt_str_t        *args;
    pt_uint_t        nargs;
    const char      *file;      /* NUL-terminated path, owned by the cycle */
    pt_uint_t        line;
    pt_uint_t        end_line;  /* a block's closing "}" */
    unsigned         block:1;   /* followed by { ... } (children may be NULL) */
    pt_conf_node_t  *children;  /* first directive inside the block */
    pt_conf_node_t  *next;      /* next sibling */
};

/* Every file the parser read, for -T. */
typedef struct {
    pt_str_t  name;
    pt_str_t  content;
} pt_conf_file_t;

/* The conf arrays of the current context, indexed by module index.
 * The main context uses main_conf only; http levels use all three. */
typedef struct {
    void **main_conf;
    void **srv_conf;
    void **loc_conf;
} pt_conf_ctx_t;

/* Module descriptor: its directives and how its conf is created and merged.
 * Main-level modules fill create_main_conf/init_main_conf; http modules
 * also the srv/loc callbacks (the http module drives those). */
struct pt_module_s {
    const char     *name;
    pt_command_t   *commands;
    void          *(*create_main_conf)(pt_conf_t *cf);
    char          *(*init_main_conf)(pt_conf_t *cf, void *conf);
    void          *(*create_srv_conf)(pt_conf_t *cf);
    char          *(*merge_srv_conf)(pt_conf_t *cf, void *prev, void *conf);
    void          *(*create_loc_conf)(pt_conf_t *cf);
    char          *(*merge_loc_conf)(pt_conf_t *cf, void *prev, void *conf);
    /* Runtime hooks (may be NULL). */
    int           (*init_module)(pt_cycle_t *cycle);   /* master, per cycle */
    int           (*init_process)(pt_cycle_t *cycle);  /* each worker */
    void          (*exit_process)(pt_cycle_t *cycle);  /* each worker */
    pt_uint_t       index;      /* position in the module list, set at start */
    pt_uint_t       type;       /* PT_MODULE_CORE (0) or PT_MODULE_HTTP: whose
                                   create_main_conf runs in which context */
    /* http modules: after the http block is read and merged, to register
     * phase handlers and filters, and check cross-directive rules. */
    int           (*postconfiguration)(pt_conf_t *cf);
};

#define PT_MODULE_CORE 0
#define PT_MODULE_HTTP 1

/* The parser and dispatcher state while a configuration is read. */
struct pt_conf_s {
    pt_cycle_t       *cycle;
    pt_pool_t        *pool;        /* owns the tree and every conf struct */
    pt_pool_t        *temp_pool;   /* freed after the config is applied */
    pt_log_t         *log;
    pt_module_t     **modules;     /* NULL-terminated, index order */
    pt_conf_ctx_t    *ctx;         /* conf arrays of the current context */
    pt_uint_t         ctx_type;    /* PT_CONF_MAIN, PT_CONF_HTTP, ... */
    pt_conf_node_t   *node;        /* directive being handled */
    pt_str_t         *args;        /* == node->args, for setters */
    pt_uint_t         nargs;
    pt_str_t          conf_prefix; /* includes are relative to it; ends "/" */
    pt_array_t       *files;       /* pt_conf_file_t, for -T */
    void             *handler_data; /* free for a block setter's use */
    /* Position for messages while parsing (set by the parser only; while
     * NULL, messages name cf->node's file and line). */
    const char       *parse_file;
    pt_uint_t         parse_line;
};

/* The name pt_conf_parse_buf takes for -g text: such text may not open
 * blocks, and its messages end " in command line" (as nginx's). */
#define PT_CONF_CMDLINE "command line"

/* Parse a file into a tree. Includes are expanded in place (a glob that
 * matches nothing is fine, a missing plain file is an error). Every file
 * read is appended to cf->files (created in cf->pool if NULL; a file
 * included twice is listed once). Returns PT_ERROR on error, logged at
 * emerg with file:line. An empty file yields an empty tree: *out = NULL,
 * PT_OK. A node's line is that of its ";" or "{", as nginx reports. */
int pt_conf_parse_file(pt_conf_t *cf, const char *path, pt_conf_node_t **out);
/* Parse a buffer (e.g. -g "directives;"); `name` is used in messages
 * ("command line"). */
int pt_conf_parse_buf(pt_conf_t *cf, const char *name, const u_char *buf,
                      size_t len, pt_conf_node_t **out);

/* Dispatch each node of a list to its directive in cf->modules, checking
 * context (cf->ctx_type) and argument count; block directives' setters
 * call pt_conf_apply on node->children with a new ctx/ctx_type.
 * Returns PT_OK or PT_ERROR (already logged). */
int pt_conf_apply(pt_conf_t *cf, pt_conf_node_t *list);

/* Log "<message> in <file>:<line>" for the current node, at `level`. */
void pt_conf_log_error(pt_uint_t level, pt_conf_t *cf, int err,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Resolve `name` against cf->conf_prefix unless absolute; NUL-terminated
 * result in cf->pool. PT_ERROR on allocation failure. */
int pt_conf_full_name(pt_conf_t *cf, pt_str_t *name);
/* Same against an arbitrary prefix (e.g. the -p prefix). */
int pt_conf_full_name_prefix(pt_pool_t *pool, const pt_str_t *prefix,
                             pt_str_t *name);

/* Write the -T dump of cf->files to stdout ("# configuration file X:"). */
void pt_conf_dump(pt_array_t *files);

/* Generic setters: the field at cmd->offset in conf. */
char *pt_conf_set_flag(pt_conf_t *cf, pt_command_t *cmd, void *conf);   /* int */
char *pt_conf_set_num(pt_conf_t *cf, pt_command_t *cmd, void *conf);    /* pt_int_t */
char *pt_conf_set_size(pt_conf_t *cf, pt_command_t *cmd, void *conf);   /* size_t */
char *pt_conf_set_off(pt_conf_t *cf, pt_command_t *cmd, void *conf);    /* off_t */
char *pt_conf_set_msec(pt_conf_t *cf, pt_command_t *cmd, void *conf);   /* pt_msec_t */
char *pt_conf_set_sec(pt_conf_t *cf, pt_command_t *cmd, void *conf);    /* time_t */
char *pt_conf_set_str(pt_conf_t *cf, pt_command_t *cmd, void *conf);    /* pt_str_t */
char *pt_conf_set_enum(pt_conf_t *cf, pt_command_t *cmd, void *conf);   /* pt_uint_t */
char *pt_conf_set_bitmask(pt_conf_t *cf, pt_command_t *cmd, void *conf);/* pt_uint_t */
char *pt_conf_set_str_array(pt_conf_t *cf, pt_command_t *cmd, void *conf); /* pt_array_t * of pt_str_t */
/* Accepted and ignored, with a notice naming the directive. */
char *pt_conf_set_noop(pt_conf_t *cf, pt_command_t *cmd, void *conf);

#endif /* PT_CONF_H */

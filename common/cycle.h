/*
 * The runtime built from one configuration: pools, logs, listening sockets,
 * shared-memory zones and module confs. The master builds a new cycle on
 * reload (master/cycle.c) and workers run on the one they were forked with.
 */
#ifndef PT_CYCLE_H
#define PT_CYCLE_H

#include <sys/socket.h>

#include "array.h"
#include "conf.h"
#include "log.h"
#include "pt_types.h"
#include "str.h"

/* Called by a worker for each accepted connection on a listener. */
typedef void (*pt_connection_handler_pt)(pt_connection_t *c);

struct pt_listening_s {
    struct sockaddr_storage  sockaddr;
    socklen_t                socklen;
    pt_str_t                 addr_text;   /* "127.0.0.1:8080", "unix:/p" */
    int                      fd;          /* -1 until opened */
    int                      backlog;
    int                      rcvbuf;      /* -1: leave the kernel default */
    int                      sndbuf;
    int                      fastopen;    /* -1: off */
    int                      keepalive;   /* so_keepalive: 0 unset, 1 on, 2 off */
    int                      keepidle, keepintvl, keepcnt;
    int                      ipv6only;    /* 1 by default, as nginx */
    int                      worker;      /* reuseport slot, -1: shared */
    unsigned                 reuseport:1;
    unsigned                 deferred:1;
    unsigned                 bind:1;
    unsigned                 inherited:1; /* adopted from an old master */
    unsigned                 remain:1;    /* kept across this reload */
    unsigned                 draining:1;  /* surplus reuseport slot: accept
                                             what is queued, then close */
    pt_connection_handler_pt handler;     /* protocol entry (http) */
    void                    *servers;     /* protocol's per-address data */
    pt_listening_t          *previous;    /* same socket in the old cycle */
};

struct pt_cycle_s {
    pt_pool_t      *pool;
    pt_log_t       *log;            /* the error_log chain in force */
    pt_log_t        new_log;        /* main error_log of this cycle */
    void          **conf_ctx;       /* main confs, by module index */
    pt_module_t   **modules;        /* NULL-terminated */
    pt_uint_t       modules_n;
    pt_array_t      listening;      /* pt_listening_t */
    pt_array_t      shm_zones;      /* pt_shm_zone_t * */
    pt_array_t      open_files;     /* pt_open_file_t *, reopened on USR1 */
    pt_array_t      conf_files;     /* pt_conf_file_t, for -T */
    pt_array_t      paths;          /* pt_path_t *: temp dirs to create */
    pt_cycle_t     *old_cycle;
    pt_str_t        prefix;         /* -p, ends with "/" */
    pt_str_t        conf_prefix;    /* dir of conf_file, ends with "/" */
    pt_str_t        conf_file;
    pt_str_t        conf_param;     /* -g */
    pt_str_t        error_log;      /* -e or built-in default */
    pt_str_t        hostname;
    pt_uint_t       connection_n;   /* worker_connections */
};

#endif /* PT_CYCLE_H */

/*
 * Connections: the worker's preallocated table (worker_connections slots,
 * each with its read and write event), the free list, the idle keep-alive
 * list, and the plain-socket I/O vtable that TLS replaces per connection.
 */
#ifndef PT_CONN_H
#define PT_CONN_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "common/pt_types.h"
#include "common/queue.h"
#include "common/str.h"

/* recv: bytes read, 0 at EOF (sets read->eof), PT_AGAIN (clears
 * read->ready) or PT_ERROR (logged, sets read->error). send, writev and
 * sendfile: bytes written (a short write clears write->ready), PT_AGAIN
 * or PT_ERROR likewise on the write event. */
typedef ssize_t (*pt_recv_pt)(pt_connection_t *c, u_char *buf, size_t size);
typedef ssize_t (*pt_send_pt)(pt_connection_t *c, const u_char *buf,
                              size_t size);
typedef ssize_t (*pt_writev_pt)(pt_connection_t *c, const struct iovec *iov,
                                int iovcnt);
/* Sends up to `size` bytes of file `fd` from *offset, advancing it; a short
 * count leaves write->ready set (it may mean a truncated file: 0 does). */
typedef ssize_t (*pt_sendfile_pt)(pt_connection_t *c, int fd, off_t *offset,
                                  size_t size);

struct pt_connection_s {
    void                    *data;       /* protocol state (request); next
                                            free slot while on the free list */
    pt_event_t              *read;
    pt_event_t              *write;
    int                      fd;         /* -1 when free or closed */

    pt_recv_pt               recv;
    pt_send_pt               send;
    pt_writev_pt             writev;
    pt_sendfile_pt           sendfile;
    void                    *tls;        /* TLS state, owned by worker/tls */

    pt_listening_t          *listening;  /* NULL for upstream connections */
    struct sockaddr_storage *sockaddr;   /* peer: socklen bytes in the
                                            pool (an idle connection pays
                                            for 16, not 128) */
    socklen_t                socklen;
    pt_str_t                 addr_text;  /* peer address without port */

    pt_pool_t               *pool;       /* destroyed by pt_conn_close */
    pt_log_t                *log;
    pt_buf_t                *buffer;     /* read buffer, dropped when idle */
    off_t                    sent;       /* bytes sent so far */

    uint32_t                 gen;        /* bumped on each reuse of the slot:
                                            epoll reports carry it, so one
                                            for an earlier occupant is
                                            ignored */
    pt_uint_t                number;     /* serial, for logs */
    pt_uint_t                requests;   /* requests served */
    pt_queue_t               queue;      /* link in the idle list */

    unsigned                 idle:1;       /* keep-alive, between requests */
    unsigned                 reusable:1;   /* on the idle list */
    unsigned                 close:1;      /* close asap (drain, shutdown) */
    unsigned                 destroyed:1;  /* pool gone, being freed */
    unsigned                 timedout:1;
    unsigned                 error:1;
    unsigned                 sendfile_on:1;
    unsigned                 tcp_nodelay:1;  /* TCP_NODELAY already set */
};

/* The table, for the event loop's slot lookup. */
extern pt_connection_t *pt_conn_slots;
extern pt_uint_t        pt_conn_slots_n;

/* Allocate `n` connection slots and their events (process lifetime; freed
 * by pt_conn_table_done). PT_ERROR (logged) on failure. */
int pt_conn_table_init(pt_uint_t n, pt_log_t *log);
void pt_conn_table_done(void);

/* A cleared slot for `fd` with plain I/O, empty handlers and a new serial.
 * When none is free, idle connections are drained first; NULL (alert,
 * at most once a second) if that frees nothing. */
pt_connection_t *pt_conn_get(int fd, pt_log_t *log);
/* PT_OK when a slot is free, draining idle connections if needed;
 * PT_ERROR (the alert above) when none can be had. */
int pt_conn_reserve(pt_log_t *log);
/* Return a slot to the free list (the fd is not touched). */
void pt_conn_free(pt_connection_t *c);
/* Disarm timers and posted events, leave the idle list, close the fd,
 * destroy the pool, free the slot. */
void pt_conn_close(pt_connection_t *c);
pt_uint_t pt_conn_free_n(void);
pt_uint_t pt_conn_total_n(void);

/* Put `c` on (1) or take it off (0) the idle list, most recent first. */
void pt_conn_reusable(pt_connection_t *c, int reusable);
/* Close the `n` longest-idle connections: each gets c->close = 1 and its
 * read handler called, which must close it. Returns how many were told. */
pt_uint_t pt_conn_drain_idle(pt_uint_t n);
pt_uint_t pt_conn_idle_n(void);

/* Plain socket I/O (the defaults of c->recv, c->send, ...). */
ssize_t pt_conn_recv(pt_connection_t *c, u_char *buf, size_t size);
ssize_t pt_conn_send(pt_connection_t *c, const u_char *buf, size_t size);
ssize_t pt_conn_writev(pt_connection_t *c, const struct iovec *iov,
                       int iovcnt);
ssize_t pt_conn_sendfile(pt_connection_t *c, int fd, off_t *offset,
                         size_t size);

/* Log a failed socket call on `c` at the level nginx uses for `err` (info
 * for resets and the like, error otherwise), naming the client. */
void pt_conn_error(pt_connection_t *c, int err, const char *call);

#endif /* PT_CONN_H */

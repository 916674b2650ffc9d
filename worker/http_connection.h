/*
 * Per-connection HTTP state and the request-reading internals shared by
 * http_request.c (reading the head) and http_finalize.c (keep-alive,
 * lingering close).
 */
#ifndef PT_HTTP_CONNECTION_H
#define PT_HTTP_CONNECTION_H

#include "common/pt_types.h"
#include "http_core.h"
#include "http_request.h"
#include "proxy_protocol.h"

typedef struct {
    pt_http_addr_t     *addr;          /* listen address: its servers */
    pt_log_t           *log;           /* the connection's log (the
                                          default server's) */
    pt_log_t           *request_log;   /* the current request's copy of
                                          it, with context; in r->pool */
    pt_msec_t           start_msec;    /* accepted at (keepalive_time) */
    pt_http_request_t  *request;       /* current request, or NULL */
    pt_msec_t           keepalive_min; /* grace when the worker stops */
    pt_msec_t           lingering_deadline;
    pt_msec_t           lingering_timeout;
    pt_proxy_protocol_t *proxy_protocol;  /* the PROXY header's addresses
                                          (c->pool); NULL: none came */
    void               *realip;        /* the realip module's saved peer
                                          address while the current
                                          request has another (r->pool) */
    unsigned            plain_http:1;  /* plain text on an ssl port: the
                                          request gets 497 */
} pt_http_connection_t;

/* Where a request is, for $status of requests that never got one and for
 * the log of a timeout. */
#define PT_HTTP_INITING_REQUEST_STATE  0
#define PT_HTTP_READING_REQUEST_STATE  1
#define PT_HTTP_PROCESS_REQUEST_STATE  2

/* Number of modules: the size of r->ctx (set when the http block is read). */
extern pt_uint_t pt_http_modules_n;
/* The -p prefix, for paths computed per request (root with variables). */
extern pt_str_t pt_http_cycle_prefix;

int pt_http_write_filter(pt_http_request_t *r, pt_chain_t *in);
int pt_http_chunked_body_filter(pt_http_request_t *r, pt_chain_t *in);
void pt_http_header_filter_init(void);
int pt_http_body_store(pt_http_request_t *r, const u_char *p, size_t n);
/* One step of a chunked request body at b->pos: PT_OK with *n data bytes
 * at b->pos (within client_max_body_size; the caller takes them and takes
 * them off rb->chunked.size), PT_DONE at its end (rb->rest = 0), PT_AGAIN
 * for more bytes, or 400 / 413 (logged). */
int pt_http_body_chunk(pt_http_request_t *r, pt_buf_t *b, off_t *n);
/* "100 Continue" to an HTTP/1.1 client that expects it, once; PT_OK or
 * PT_ERROR. */
int pt_http_send_continue(pt_http_request_t *r);
/* Is a discarded body still arriving (the request holds a reference)? */
int pt_http_discarding_body(pt_http_request_t *r);

void pt_http_wait_request_handler(pt_event_t *ev);
/* Reads the PROXY header first on a proxy_protocol listener
 * (worker/http_proxy_protocol.c), then goes on as the one above. */
void pt_http_proxy_protocol_handler(pt_event_t *ev);
void pt_http_close_connection(pt_connection_t *c);
void pt_http_release_buffer(pt_connection_t *c);
void pt_http_free_request(pt_http_request_t *r);
void pt_http_request_empty_handler(pt_http_request_t *r);
void pt_http_block_reading(pt_http_request_t *r);

int pt_http_process_request_uri(pt_http_request_t *r);
/* Append the header line the parser just returned (name, value and a
 * lowercase copy of the name, which comes from `pool`) to `headers`;
 * NULL on allocation failure. */
pt_table_elt_t *pt_http_push_header(pt_pool_t *pool, pt_array_t *headers,
                                    pt_http_parse_t *p);
void pt_http_process_request(pt_http_request_t *r);
void pt_http_parse_error(pt_http_request_t *r, int rc);
int pt_http_skip_invalid_header(pt_http_request_t *r, pt_http_srv_conf_t *scf);
void pt_http_rebase_request(pt_http_request_t *r, u_char *from, u_char *to,
                            u_char *dst);
int pt_http_select_server(pt_http_request_t *r);
void pt_http_set_exten(pt_http_request_t *r);

/* A copy of `log` (in `pool`) whose lines end with the client, server,
 * request and host of connection `c`, as nginx's do. NULL on failure. */
pt_log_t *pt_http_log_with_context(pt_pool_t *pool, pt_log_t *log,
                                   pt_connection_t *c);

/* Is a `charset` directive in force for r's location (the charset
 * filter)? The proxy passes X-Accel-Charset on only then, as nginx. */
int pt_http_charset_on(pt_http_request_t *r);
/* Does the comma-separated list `v` hold token `t` (any case)? */
int pt_http_list_has(const pt_str_t *v, const char *t);

/* Error pages: error_page targets or the built-in page for `status`.
 * Returns what to finalize the request with next. */
pt_int_t pt_http_special_response_handler(pt_http_request_t *r, pt_int_t rc);
/* The built-in page alone (no error_page), sent at once. */
int pt_http_send_builtin_page(pt_http_request_t *r, pt_uint_t status);

/* Graceful stop of the worker, and its timeout. */
void pt_http_shutdown(void);
void pt_http_close_all(void);

#endif /* PT_HTTP_CONNECTION_H */

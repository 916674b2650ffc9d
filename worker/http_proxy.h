/*
 * The proxy module's internals shared by its files: the location conf
 * (http_proxy.c), the request builder and response-head parser
 * (http_proxy_parse.c), the upstream machine (http_upstream.c) and the
 * body relay (http_upstream_body.c).
 */
#ifndef PT_HTTP_PROXY_H
#define PT_HTTP_PROXY_H

#include <netinet/in.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/conf.h"
#include "common/inet.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_parse.h"
#include "http_request.h"
#include "http_script.h"
#include "http_upstream.h"

/* proxy_next_upstream bits */
#define PT_PROXY_FT_ERROR           0x0002
#define PT_PROXY_FT_TIMEOUT         0x0004
#define PT_PROXY_FT_INVALID_HEADER  0x0008
#define PT_PROXY_FT_HTTP_500        0x0010
#define PT_PROXY_FT_HTTP_502        0x0020
#define PT_PROXY_FT_HTTP_503        0x0040
#define PT_PROXY_FT_HTTP_504        0x0080
#define PT_PROXY_FT_HTTP_403        0x0100
#define PT_PROXY_FT_HTTP_404        0x0200
#define PT_PROXY_FT_HTTP_429        0x0400
#define PT_PROXY_FT_NON_IDEMPOTENT  0x1000
#define PT_PROXY_FT_OFF             0x2000
#define PT_PROXY_FT_NOLIVE          0x4000   /* internal: no live peer */

/* proxy_ignore_headers bits */
#define PT_PROXY_IGN_XA_REDIRECT    0x0002
#define PT_PROXY_IGN_XA_EXPIRES     0x0004
#define PT_PROXY_IGN_EXPIRES        0x0008
#define PT_PROXY_IGN_CACHE_CONTROL  0x0010
#define PT_PROXY_IGN_SET_COOKIE     0x0020
#define PT_PROXY_IGN_XA_LIMIT_RATE  0x0040
#define PT_PROXY_IGN_XA_BUFFERING   0x0080
#define PT_PROXY_IGN_XA_CHARSET     0x0100
#define PT_PROXY_IGN_VARY           0x0200

/* One proxy_set_header (or default) entry. */
typedef struct {
    pt_str_t                 key;
    pt_str_t                 lowkey;   /* the key in lower case */
    pt_http_complex_value_t  value;    /* empty: the header is not sent */
    unsigned                 body_length:1;  /* Content-Length: the length
                                                of the body sent */
    unsigned                 chunked_te:1;   /* Transfer-Encoding: chunked
                                                when the body streams */
} pt_proxy_header_t;

typedef struct {
    /* proxy_pass */
    pt_http_upstream_srv_conf_t *upstream;   /* literal target */
    pt_http_complex_value_t     *pass_cv;    /* target with variables */
    pt_str_t                     url;        /* as configured */
    pt_str_t                     host_header;  /* $proxy_host */
    pt_str_t                     port_text;    /* $proxy_port */
    pt_str_t                     uri;        /* URI part of the target */
    pt_str_t                     location;   /* the location's name */
    unsigned                     has_uri:1;  /* a URI part was given */
    unsigned                     pass_set:1; /* this conf has proxy_pass */

    pt_array_t                  *headers_source;  /* pt_proxy_header_t, the
                                                     level's own list */
    pt_array_t                  *headers;    /* merged with the defaults */
    int                          pass_request_headers;
    int                          pass_request_body;
    pt_array_t                  *hide_headers;   /* pt_str_t */
    pt_array_t                  *pass_headers;   /* pt_str_t */
    pt_array_t                  *hidden;     /* pt_str_t: the effective set */
    pt_uint_t                    ignore_headers;
    pt_uint_t                    http_version;
    pt_http_complex_value_t     *method;
    pt_http_complex_value_t     *body;

    pt_msec_t                    connect_timeout;
    pt_msec_t                    send_timeout;
    pt_msec_t                    read_timeout;
    pt_uint_t                    next_upstream;
    pt_uint_t                    next_upstream_tries;
    pt_msec_t                    next_upstream_timeout;
    int                          intercept_errors;
    int                          buffering;
    int                          request_buffering;
    size_t                       buffer_size;
    pt_uint_t                    bufs_num;
    size_t                       bufs_size;
    size_t                       busy_buffers_size;   /* as set, or */
    off_t                        max_temp_file_size;
    size_t                       temp_file_write_size;  /* unset */
    size_t                       busy_size;        /* in effect: the */
    size_t                       temp_write_size;  /* above or defaults */
    pt_path_t                   *temp_path;
    pt_http_complex_value_t     *bind;       /* NULL: none or off */
    int                          bind_set;
    int                          transparent;
    size_t                       limit_rate;
} pt_http_proxy_loc_conf_t;

extern pt_module_t pt_http_proxy_module;

/* One try's figures, for the $upstream_* variables. */
typedef struct {
    pt_str_t     peer;            /* "127.0.0.1:8080" */
    pt_uint_t    status;
    pt_msec_t    start;
    pt_msec_t    connect_time;    /* -1: not connected */
    pt_msec_t    header_time;     /* -1: no head */
    pt_msec_t    response_time;
    off_t        bytes_received;
    off_t        response_length;
} pt_upstream_state_t;

/* The parsed upstream response head. */
typedef struct {
    pt_uint_t          status;
    pt_str_t           status_line;   /* "200 OK", after the version */
    pt_uint_t          version;       /* PT_HTTP_VERSION_1x; 9 for none */
    pt_array_t         headers;       /* pt_table_elt_t */
    off_t              content_length_n;  /* -1: none */
    pt_table_elt_t    *x_accel_redirect;
    pt_table_elt_t    *x_accel_limit_rate;
    pt_table_elt_t    *x_accel_buffering;
    pt_table_elt_t    *x_accel_charset;
    pt_table_elt_t    *upgrade;
    pt_table_elt_t    *content_length;
    pt_table_elt_t    *bad;           /* the header that made it invalid */
    pt_uint_t          invalid;       /* PT_PROXY_BAD_* */
    unsigned           chunked:1;
    unsigned           connection_close:1;
    unsigned           connection_keep_alive:1;
} pt_proxy_headers_in_t;

/* Why pt_proxy_add_header found a head invalid (nginx's messages). */
#define PT_PROXY_BAD_LENGTH     1   /* invalid "Content-Length" */
#define PT_PROXY_BAD_DUPLICATE  2   /* a second Content-Length */
#define PT_PROXY_BAD_BOTH       3   /* Content-Length and chunked */
#define PT_PROXY_BAD_TE         4   /* unknown Transfer-Encoding */

/* The status line parser's state. */
typedef struct {
    pt_uint_t   state;
    u_char     *start;
} pt_proxy_status_t;

/* The proxy's per-request state: r->upstream->state. */
typedef struct pt_proxy_ctx_s pt_proxy_ctx_t;
typedef void (*pt_proxy_handler_pt)(pt_proxy_ctx_t *ctx);

struct pt_proxy_ctx_s {
    pt_http_upstream_t           *u;
    pt_http_request_t            *r;
    pt_http_proxy_loc_conf_t     *conf;
    pt_log_t                      log;       /* the request's, with the
                                                upstream in its context */
    const char                   *action;    /* "connecting to upstream" */

    pt_proxy_handler_pt           read_handler;
    pt_proxy_handler_pt           write_handler;

    /* target */
    pt_str_t                      schema;    /* "http://" */
    pt_str_t                      host_header;
    pt_str_t                      port_text;
    pt_str_t                      uri_part;  /* the target's URI part */
    pt_str_t                      uri;       /* what was sent */

    /* a proxy_pass with variables naming a host: resolved at run time */
    void                         *resolve;   /* pt_resolver_ctx_t *, while
                                                a lookup is pending */
    pt_str_t                      resolve_name;
    in_port_t                     resolve_port;

    /* request */
    pt_buf_t                     *request;   /* the head */
    pt_buf_t                     *body;      /* in memory, or NULL */
    off_t                         body_file_pos;
    off_t                         body_file_size;
    int                           body_fd;   /* -1: none */
    off_t                         body_length;  /* -1: none */
    off_t                         body_mem_sent;  /* of ctx->body */

    int                           stream_status;  /* a body error */
    int                           send_err;  /* errno of a failed write
                                                whose answer is looked for */
    pt_buf_t                     *sraw;      /* streamed body: as read */
    pt_buf_t                     *sbuf;      /* streamed body: to send */

    /* response */
    pt_buf_t                     *buffer;    /* proxy_buffer_size */
    pt_proxy_status_t             status_parse;
    pt_http_parse_t               parse;
    pt_proxy_headers_in_t         headers_in;
    pt_http_chunked_t             chunked;
    off_t                         rest;      /* body bytes to come, -1:
                                                until close or chunked end */
    pt_array_t                    states;    /* pt_upstream_state_t */
    pt_upstream_state_t          *state;     /* this try's */
    pt_uint_t                     ft_mask;   /* proxy_next_upstream */
    pt_msec_t                     start_msec;

    /* body relay */
    pt_chain_t                   *raws;      /* raw read buffers made */
    pt_buf_t                     *cur;       /* the one being filled */
    pt_chain_t                   *free_desc; /* spare body descriptors */
    pt_chain_t                   *busy;      /* descriptors handed out */
    pt_chain_t                  **busy_tail;
    pt_buf_t                      flag_buf;  /* flush marks */
    pt_buf_t                      last_buf;  /* the end of the body */
    pt_chain_t                    flag_link;
    pt_uint_t                     bufs_made;
    pt_uint_t                     bufs_max;
    size_t                        buf_size;
    size_t                        limit_rate;

    /* proxy_buffering: what the buffers cannot hold waits in a file */
    pt_buf_t                     *spill;     /* raw buffer for spilled reads */
    void                         *temp_file; /* pt_file_t *, unlinked */
    off_t                         temp_size;

    /* upgrade tunnel: client -> upstream bytes */
    pt_buf_t                     *up_buf;

    unsigned                      request_sent:1;
    unsigned                      send_stopped:1;  /* the head came before
                                                      the whole request
                                                      went out */
    unsigned                      request_sent_any:1;  /* this try */
    unsigned                      head_parsed:1;  /* status line read */
    unsigned                      head_ready:1;   /* init_head() done for
                                                     this try */
    unsigned                      request_started:1;  /* a byte went out */
    unsigned                      connected:1;
    unsigned                      head_done:1;
    unsigned                      header_sent:1;  /* to the client */
    unsigned                      upstream_done:1;
    unsigned                      upstream_eof:1;
    unsigned                      buffering:1;
    unsigned                      upgrade:1;
    unsigned                      client_eof:1;
    unsigned                      finalized:1;
    unsigned                      in_handler:1;
    unsigned                      head_request:1;
    unsigned                      no_body:1;
    unsigned                      extra:1;   /* bytes after the body */
    unsigned                      stream:1;  /* request_buffering off */
    unsigned                      chunked_out:1;  /* body sent chunked */
    unsigned                      stream_started:1;  /* a body byte was
                                                        taken: no retry */
    unsigned                      stream_done:1;
    unsigned                      conf_no_spill:1;  /* no temp file */
    unsigned                      rate_delayed:1;   /* proxy_limit_rate */
};

#define PT_PROXY_STATUS_OK          0
#define PT_PROXY_STATUS_AGAIN       PT_AGAIN
#define PT_PROXY_STATUS_INVALID     PT_ERROR
#define PT_PROXY_STATUS_NONE        PT_DECLINED   /* no status line: 0.9 */

/* http_proxy_parse.c: pure functions, unit-tested. */

/* Parse "HTTP/1.x NNN reason CRLF" at b->pos. PT_OK (b->pos past the line;
 * status, version and status_line set in h), PT_AGAIN, PT_ERROR (invalid),
 * or PT_DECLINED (the bytes are no status line: HTTP/0.9). */
int pt_proxy_parse_status_line(pt_proxy_status_t *st, pt_buf_t *b,
                               pt_proxy_headers_in_t *h);

/* Record one parsed header line (p holds its name and value, in memory
 * that outlives the request) in h, noting those the proxy acts on.
 * PT_OK, PT_DECLINED (an invalid framing header: the head is invalid) or
 * PT_ERROR (allocation). */
int pt_proxy_add_header(pt_pool_t *pool, pt_proxy_headers_in_t *h,
                        pt_http_parse_t *p);

/* The URI sent upstream for r (nginx's replacement rules): `part` is the
 * target's URI part (empty when none), `location` the location's name,
 * `with_vars` set when the target had variables. NULL on allocation
 * failure. */
int pt_proxy_build_uri(pt_http_request_t *r, const pt_str_t *part,
                       int has_part, const pt_str_t *location,
                       int with_vars, pt_str_t *out);

/* Split "http://host[:port][/uri]" (the schema already checked) into the
 * host part and the URI part; unix: targets keep "unix:/path" as host. */
int pt_proxy_split_url(const pt_str_t *url, pt_str_t *host, pt_str_t *uri,
                       int *has_uri);

/* The request head for ctx (request line, configured and client headers,
 * the blank line) in one buffer from r->pool; NULL on failure. */
pt_buf_t *pt_proxy_create_request(pt_proxy_ctx_t *ctx);

/* Is `name` (any case) in the list of pt_str_t? */
int pt_proxy_name_in(pt_array_t *list, const u_char *name, size_t len);

/* http_upstream.c */
/* recv from the upstream into b (counted in $upstream_bytes_received):
 * bytes read, 0 at EOF, PT_AGAIN, or PT_ERROR (logged). */
ssize_t pt_proxy_recv(pt_proxy_ctx_t *ctx, pt_buf_t *b);
/* The outcome of a read of up to `room` bytes from the origin that
 * returned n (errno set when -1): n, 0 at EOF, PT_AGAIN, or PT_ERROR
 * (logged as `call` failed); readiness and the byte count kept. */
ssize_t pt_proxy_read_done(pt_proxy_ctx_t *ctx, ssize_t n, size_t room,
                           const char *call);
int pt_proxy_start(pt_http_request_t *r, pt_proxy_ctx_t *ctx);
void pt_proxy_finalize(pt_proxy_ctx_t *ctx, pt_int_t rc);
void pt_proxy_close_peer(pt_proxy_ctx_t *ctx, int keep);
int pt_proxy_add_variables(pt_conf_t *cf);

/* http_proxy_body.c: proxy_request_buffering off. */
int pt_proxy_stream_init(pt_http_request_t *r, pt_proxy_ctx_t *ctx);
/* Refill ctx->sbuf from the client: PT_OK (bytes to send), PT_AGAIN,
 * PT_DONE (nothing more), or an HTTP status. */
int pt_proxy_stream_read(pt_proxy_ctx_t *ctx);

/* http_upstream_body.c */
/* X-Accel-Redirect: the origin's headers nginx keeps for the new
 * location (Content-Type, Set-Cookie, Content-Disposition, Cache-Control,
 * Expires, Accept-Ranges). PT_OK or PT_ERROR. */
int pt_proxy_copy_redirect_headers(pt_proxy_ctx_t *ctx);
int pt_proxy_body_init(pt_proxy_ctx_t *ctx);
void pt_proxy_body_process(pt_proxy_ctx_t *ctx);
void pt_proxy_tunnel_init(pt_proxy_ctx_t *ctx);
void pt_proxy_tunnel(pt_proxy_ctx_t *ctx);

/* The handler a location with proxy_pass runs (http_proxy.c). */
int pt_http_proxy_handler(pt_http_request_t *r);

#endif /* PT_HTTP_PROXY_H */

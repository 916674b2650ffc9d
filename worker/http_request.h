/*
 * One HTTP request: its parsed head, the response head being built, the
 * confs that apply to it, and the lifecycle entry points (phases, output
 * filters, finalization) every http module uses.
 */
#ifndef PT_HTTP_REQUEST_H
#define PT_HTTP_REQUEST_H

#include <time.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_parse.h"

/* Status codes with a meaning beyond the wire. */
#define PT_HTTP_CONTINUE              100
#define PT_HTTP_SWITCHING_PROTOCOLS   101
#define PT_HTTP_OK                    200
#define PT_HTTP_CREATED               201
#define PT_HTTP_NO_CONTENT            204
#define PT_HTTP_PARTIAL_CONTENT       206
#define PT_HTTP_SPECIAL_RESPONSE      300
#define PT_HTTP_MOVED_PERMANENTLY     301
#define PT_HTTP_MOVED_TEMPORARILY     302
#define PT_HTTP_SEE_OTHER             303
#define PT_HTTP_NOT_MODIFIED          304
#define PT_HTTP_TEMPORARY_REDIRECT    307
#define PT_HTTP_PERMANENT_REDIRECT    308
#define PT_HTTP_BAD_REQUEST           400
#define PT_HTTP_UNAUTHORIZED          401
#define PT_HTTP_FORBIDDEN             403
#define PT_HTTP_NOT_FOUND             404
#define PT_HTTP_NOT_ALLOWED           405
#define PT_HTTP_REQUEST_TIME_OUT      408
#define PT_HTTP_CONFLICT              409
#define PT_HTTP_LENGTH_REQUIRED       411
#define PT_HTTP_PRECONDITION_FAILED   412
#define PT_HTTP_REQUEST_ENTITY_TOO_LARGE 413
#define PT_HTTP_REQUEST_URI_TOO_LARGE 414
#define PT_HTTP_UNSUPPORTED_MEDIA_TYPE 415
#define PT_HTTP_RANGE_NOT_SATISFIABLE 416
#define PT_HTTP_MISDIRECTED_REQUEST   421
#define PT_HTTP_TOO_MANY_REQUESTS     429
/* nginx's internal codes: never sent as such */
#define PT_HTTP_CLOSE                 444  /* close without a response */
#define PT_HTTP_REQUEST_HEADER_TOO_LARGE 494
#define PT_HTTPS_CERT_ERROR           495
#define PT_HTTPS_NO_CERT              496
#define PT_HTTP_TO_HTTPS              497
#define PT_HTTP_CLIENT_CLOSED_REQUEST 499
#define PT_HTTP_INTERNAL_SERVER_ERROR 500
#define PT_HTTP_NOT_IMPLEMENTED       501
#define PT_HTTP_BAD_GATEWAY           502
#define PT_HTTP_SERVICE_UNAVAILABLE   503
#define PT_HTTP_GATEWAY_TIME_OUT      504
#define PT_HTTP_VERSION_NOT_SUPPORTED 505
#define PT_HTTP_INSUFFICIENT_STORAGE  507

#define PT_HTTP_VERSION_10 1000
#define PT_HTTP_VERSION_11 1001

#define PT_HTTP_MAX_URI_CHANGES 10    /* rewrite cycles before a 500 */

typedef struct pt_http_request_s pt_http_request_t;
typedef struct pt_http_variable_value_s pt_http_variable_value_t;

/* A header: key/value point into the request buffer (or pool memory). */
typedef struct pt_table_elt_s pt_table_elt_t;
struct pt_table_elt_s {
    pt_uint_t        hash;        /* 0: deleted (output headers) */
    pt_str_t         key;
    pt_str_t         value;
    u_char          *lowcase_key;
    pt_table_elt_t  *next;        /* next header of the same name */
};

typedef struct {
    pt_array_t       headers;     /* pt_table_elt_t, in arrival order */

    pt_table_elt_t  *host;
    pt_table_elt_t  *connection;
    pt_table_elt_t  *if_modified_since;
    pt_table_elt_t  *if_unmodified_since;
    pt_table_elt_t  *if_match;
    pt_table_elt_t  *if_none_match;
    pt_table_elt_t  *user_agent;
    pt_table_elt_t  *referer;
    pt_table_elt_t  *content_length;
    pt_table_elt_t  *content_type;
    pt_table_elt_t  *range;
    pt_table_elt_t  *if_range;
    pt_table_elt_t  *transfer_encoding;
    pt_table_elt_t  *te;
    pt_table_elt_t  *expect;
    pt_table_elt_t  *upgrade;
    pt_table_elt_t  *accept_encoding;
    pt_table_elt_t  *via;
    pt_table_elt_t  *authorization;
    pt_table_elt_t  *keep_alive;
    pt_table_elt_t  *x_forwarded_for;
    pt_table_elt_t  *x_real_ip;
    pt_table_elt_t  *cookie;

    pt_str_t         server;      /* Host, lowercased, without port */
    off_t            content_length_n;   /* -1: none */

    unsigned         connection_close:1;
    unsigned         connection_keep_alive:1;
    unsigned         chunked:1;
    unsigned         msie:1;
    unsigned         msie6:1;
} pt_http_headers_in_t;

typedef struct {
    pt_array_t       headers;     /* pt_table_elt_t */
    pt_array_t       trailers;    /* pt_table_elt_t */

    pt_uint_t        status;
    pt_str_t         status_line; /* set to override "NNN Reason" */

    pt_table_elt_t  *server;
    pt_table_elt_t  *date;
    pt_table_elt_t  *content_length;
    pt_table_elt_t  *content_encoding;
    pt_table_elt_t  *location;
    pt_table_elt_t  *refresh;
    pt_table_elt_t  *last_modified;
    pt_table_elt_t  *content_range;
    pt_table_elt_t  *accept_ranges;
    pt_table_elt_t  *www_authenticate;
    pt_table_elt_t  *expires;
    pt_table_elt_t  *etag;
    pt_table_elt_t  *cache_control;

    pt_str_t         content_type;
    pt_str_t         charset;
    size_t           content_type_len;  /* content_type without "; charset" */
    off_t            content_length_n;  /* -1: unknown */
    time_t           date_time;
    time_t           last_modified_time;  /* -1: none */
} pt_http_headers_out_t;

/* Reading the request body (worker/http_body.c). */
typedef void (*pt_http_client_body_handler_pt)(pt_http_request_t *r);

typedef struct {
    pt_chain_t                      *bufs;       /* the body read so far */
    pt_buf_t                        *buf;        /* being filled */
    int                              temp_fd;    /* -1, or the temp file */
    pt_str_t                         temp_name;
    off_t                            temp_size;
    off_t                            rest;       /* bytes still to read */
    off_t                            received;
    pt_http_chunked_t                chunked;
    pt_http_client_body_handler_pt   post_handler;
} pt_http_request_body_t;

typedef int (*pt_http_handler_pt)(pt_http_request_t *r);
typedef void (*pt_http_event_handler_pt)(pt_http_request_t *r);

struct pt_http_request_s {
    pt_connection_t         *connection;
    pt_pool_t               *pool;

    void                   **main_conf;
    void                   **srv_conf;
    void                   **loc_conf;
    void                   **ctx;           /* per-module state, by index */

    pt_http_event_handler_pt read_event_handler;
    pt_http_event_handler_pt write_event_handler;

    pt_buf_t                *header_in;     /* buffer holding the head */
    pt_http_parse_t          parse;

    pt_http_headers_in_t     headers_in;
    pt_http_headers_out_t    headers_out;
    pt_http_request_body_t  *request_body;

    time_t                   start_sec;
    pt_msec_t                start_msec;

    pt_uint_t                method;
    pt_uint_t                http_version;

    pt_str_t                 request_line;
    pt_str_t                 uri;           /* decoded, normalised path */
    pt_str_t                 args;
    pt_str_t                 exten;
    pt_str_t                 unparsed_uri;
    pt_str_t                 method_name;
    pt_str_t                 http_protocol;
    pt_str_t                 schema;

    pt_chain_t              *out;           /* unsent output (write filter) */
    pt_chain_t              *free_links;    /* write/chunked filters' spare
                                               links: a long streamed body
                                               costs no pool growth */
    pt_chain_t              *free_chunk_bufs;  /* spare chunk-size bufs */
    pt_http_request_t       *main;          /* == r: no subrequests yet */

    pt_http_variable_value_t *variables;    /* cached values, by index */

    /* regex captures of the last match (location, server_name, rewrite,
     * if): offsets into captures_data */
    int                     *captures;
    pt_uint_t                ncaptures;     /* pairs * 2 */
    u_char                  *captures_data;

    size_t                   limit_rate;
    size_t                   header_size;
    off_t                    request_length;
    pt_uint_t                err_status;

    pt_int_t                 phase_handler;  /* index in the phase engine */
    pt_http_handler_pt       content_handler;
    pt_uint_t                access_code;

    void                    *upstream;      /* pt_http_upstream_t, while
                                               proxying */
    void                    *http_connection;  /* pt_http_connection_t */
    void                    *location;          /* pt_http_location_t */

    unsigned                 count:16;       /* references (body reader...) */
    unsigned                 uri_changes:4;  /* counts down from 11 */

    unsigned                 keepalive:1;
    unsigned                 lingering_close:1;
    unsigned                 discard_body:1;
    unsigned                 reading_body:1;
    unsigned                 internal:1;
    unsigned                 error_page:1;
    unsigned                 uri_changed:1;
    unsigned                 valid_location:1;
    unsigned                 valid_unparsed_uri:1;
    unsigned                 quoted_uri:1;
    unsigned                 complex_uri:1;
    unsigned                 plus_in_uri:1;
    unsigned                 header_only:1;   /* HEAD, 204, 304 */
    unsigned                 header_sent:1;
    unsigned                 chunked:1;        /* response is chunked */
    unsigned                 expect_trailers:1; /* chunked even with a length:
                                                 trailers follow the body */
    unsigned                 expect_tested:1;
    unsigned                 root_tested:1;
    unsigned                 done:1;
    unsigned                 logged:1;
    unsigned                 terminated:1;
    unsigned                 filter_need_in_memory:1;
    unsigned                 allow_ranges:1;
    unsigned                 single_range:1;
    unsigned                 disable_not_modified:1;
    unsigned                 buffered:4;       /* filters holding data */
    unsigned                 zero_in_uri:1;
    unsigned                 add_uri_to_alias:1;
    unsigned                 headers_done:1;
    unsigned                 http_state:4;
    /* gzip negotiation (worker/http_gzip_filter.c): "Vary:
     * Accept-Encoding" is due, the client was tested, and it takes gzip */
    unsigned                 gzip_vary:1;
    unsigned                 gzip_tested:1;
    unsigned                 gzip_ok:1;
};

/* Per-request state of a module (r->ctx[module.index]). */
#define pt_http_get_module_ctx(r, m)    ((r)->ctx[(m).index])
#define pt_http_set_ctx(r, c, m)        ((r)->ctx[(m).index] = (c))
#define pt_http_get_module_loc_conf(r, m) ((r)->loc_conf[(m).index])
#define pt_http_get_module_srv_conf(r, m) ((r)->srv_conf[(m).index])
#define pt_http_get_module_main_conf(r, m) ((r)->main_conf[(m).index])

/* Listener entry point: a new client connection. */
void pt_http_init_connection(pt_connection_t *c);

/* Finish the request with `rc`: PT_DONE/PT_OK (handler finished), an HTTP
 * status >= 300 to send a (special) response, PT_HTTP_CLOSE to close,
 * PT_ERROR to abort. Safe to call more than once per request (the count
 * decides when the request is really freed). */
void pt_http_finalize_request(pt_http_request_t *r, pt_int_t rc);

/* Run the phase engine from r->phase_handler (used after an internal
 * redirect or when a handler that returned PT_AGAIN resumes). */
void pt_http_core_run_phases(pt_http_request_t *r);

/* Restart processing at server-rewrite with a new URI (and args, NULL to
 * keep none). Returns PT_DONE; the request goes on asynchronously. It
 * takes a reference (r->count): the caller must finalize with PT_DONE. */
int pt_http_internal_redirect(pt_http_request_t *r, pt_str_t *uri,
                              pt_str_t *args);
/* Same to a named location ("@name"). */
int pt_http_named_location(pt_http_request_t *r, pt_str_t *name);

/* Output: head then body through the filter chains. */
typedef int (*pt_http_output_header_filter_pt)(pt_http_request_t *r);
typedef int (*pt_http_output_body_filter_pt)(pt_http_request_t *r,
                                             pt_chain_t *in);
extern pt_http_output_header_filter_pt pt_http_top_header_filter;
extern pt_http_output_body_filter_pt   pt_http_top_body_filter;

int pt_http_send_header(pt_http_request_t *r);
int pt_http_output_filter(pt_http_request_t *r, pt_chain_t *in);

/* Send a complete response with a body from memory (return, errors). */
int pt_http_send_response(pt_http_request_t *r, pt_uint_t status,
                          const pt_str_t *content_type, const pt_str_t *body);

/* Output headers: add one (key and value must outlive the request). */
pt_table_elt_t *pt_http_add_header_out(pt_http_request_t *r,
                                       const pt_str_t *key,
                                       const pt_str_t *value);
/* Clear the entity headers before an error page or a redirect. */
void pt_http_clear_content_length(pt_http_request_t *r);
void pt_http_clear_accept_ranges(pt_http_request_t *r);
void pt_http_clear_last_modified(pt_http_request_t *r);
void pt_http_clear_etag(pt_http_request_t *r);
void pt_http_clear_location(pt_http_request_t *r);

/* Discard the request body (keep-alive stays possible). */
int pt_http_discard_request_body(pt_http_request_t *r);
/* Read the whole body, then call post_handler (worker/http_body.c). */
int pt_http_read_client_request_body(pt_http_request_t *r,
                                     pt_http_client_body_handler_pt handler);

/* The reason phrase of a status ("404 Not Found"), or NULL. */
const pt_str_t *pt_http_status_line(pt_uint_t status);

/* Set Content-Type from the location's types and default_type by r->exten. */
int pt_http_set_content_type(pt_http_request_t *r);

/* Map the URI to a file path under root/alias; `reserved` extra bytes are
 * left free at the end. Returns a pointer to the end of the path, or NULL. */
u_char *pt_http_map_uri_to_path(pt_http_request_t *r, pt_str_t *path,
                                size_t *root_length, size_t reserved);

#endif /* PT_HTTP_REQUEST_H */

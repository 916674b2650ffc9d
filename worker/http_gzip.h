/*
 * What the gzip modules (filter, gzip_static, gunzip) share: the settings
 * nginx keeps in its core module (gzip_vary, gzip_http_version,
 * gzip_proxied, gzip_disable), the client test, the response transform
 * any content encoder applies, and the pure rules the unit tests reach.
 */
#ifndef PT_HTTP_GZIP_H
#define PT_HTTP_GZIP_H

#include <time.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_request.h"

/* gzip_proxied flags */
#define PT_GZIP_PROXIED_OFF       0x0002
#define PT_GZIP_PROXIED_EXPIRED   0x0004
#define PT_GZIP_PROXIED_NO_CACHE  0x0008
#define PT_GZIP_PROXIED_NO_STORE  0x0010
#define PT_GZIP_PROXIED_PRIVATE   0x0020
#define PT_GZIP_PROXIED_NO_LM     0x0040
#define PT_GZIP_PROXIED_NO_ETAG   0x0080
#define PT_GZIP_PROXIED_AUTH      0x0100
#define PT_GZIP_PROXIED_ANY       0x0200

/* The response facts gzip_proxied decides on. */
typedef struct {
    int                    authorization;  /* the request has one */
    const pt_str_t        *expires;        /* NULL: none */
    const pt_str_t        *date;           /* NULL: none (now is used) */
    time_t                 now;
    const pt_table_elt_t  *cache_control;  /* first line, ->next the rest */
    int                    last_modified;
    int                    etag;
} pt_http_gzip_proxied_in_t;

/* Whether a request that came through a proxy (Via) may get a compressed
 * response under the gzip_proxied flags (nginx's rules). */
int pt_http_gzip_proxied_ok(pt_uint_t flags,
                            const pt_http_gzip_proxied_in_t *in);

/* Whether a comma-separated header value lists `token` (any case). */
int pt_http_header_has_token(const pt_str_t *value, const char *token);

/* Whether a Content-Type (without parameters: content_type_len bytes) is
 * one of `types` (lowercase pt_str_t), or any_type. */
int pt_http_gzip_type_ok(const pt_array_t *types, int any_type,
                         const u_char *type, size_t len);

/* The client test of nginx's ngx_http_gzip_ok: Accept-Encoding takes
 * gzip, gzip_disable (msie6, regexes) and gzip_http_version allow it,
 * and gzip_proxied for a request with Via. Sets r->gzip_tested and
 * r->gzip_ok; PT_OK when gzip may be sent, PT_DECLINED otherwise. */
int pt_http_gzip_ok(pt_http_request_t *r);

/* Mark the response as one gzip would apply to: "Vary: Accept-Encoding"
 * goes out when gzip_vary is on. */
void pt_http_gzip_vary(pt_http_request_t *r);

/* The head of a response whose body is re-encoded on the fly (gzip now,
 * another coding later): Content-Encoding set to `coding` (an empty one
 * removes it), no Content-Length (the framing becomes chunked or
 * close-delimited), no ranges, a strong ETag weakened. PT_OK/PT_ERROR. */
int pt_http_recoded_response(pt_http_request_t *r, const pt_str_t *coding);

/* A strong ETag becomes weak ("W/" prefix); one that is not a quoted
 * string is dropped, as nginx does. PT_OK/PT_ERROR. */
int pt_http_weak_etag(pt_http_request_t *r);

/* "NUMBER SIZE" of gzip_buffers and gunzip_buffers into num/size; a
 * directive's return (PT_CONF_OK or nginx's "invalid value"). */
char *pt_http_conf_set_bufs(pt_conf_t *cf, pt_uint_t *num, size_t *size);
/* Inherit bufs, or nginx's default: 128 KiB in pages (32 4k on x86_64). */
void pt_http_merge_bufs(pt_uint_t *num, size_t *size, pt_uint_t prev_num,
                        size_t prev_size);

#endif /* PT_HTTP_GZIP_H */

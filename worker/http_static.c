/*
 * The static module: a GET or HEAD of a file under root or alias is
 * answered with the file itself (one in-file buffer, sent by sendfile or
 * read by the write filter), a directory's URI without its slash with a
 * redirect to the URI with it. URIs ending in "/" are index's/autoindex's.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_cond.h"
#include "http_core.h"
#include "http_request.h"

static int postconfiguration(pt_conf_t *cf);

pt_module_t pt_http_static_module = {
    "http_static", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

/* The status for a failed open() and the level nginx logs it at. */
static int
open_error(pt_http_request_t *r, const pt_str_t *path, int err)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_uint_t           level;
    int                 rc;

    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        level = PT_LOG_ERR;
        rc = PT_HTTP_NOT_FOUND;
        break;
    case EACCES:
    case ELOOP:       /* a symlink loop, as nginx built with openat() */
    case EMLINK:
        level = PT_LOG_ERR;
        rc = PT_HTTP_FORBIDDEN;
        break;
    default:
        level = PT_LOG_CRIT;
        rc = PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (rc != PT_HTTP_NOT_FOUND || clcf->log_not_found) {
        pt_log_error(level, pt_http_request_log(r), err, "open() \"%s\" "
                     "failed", path->data);
    }
    return rc;
}

/* What nginx 1.22 escapes in the path of a directory redirect: SP " # %
 * < > ? \ ^ ` { | }, controls, DEL and 8-bit bytes (a wider set than
 * PT_HTTP_ESCAPE_URI's, which follows older nginx). */
static int
must_escape(u_char c)
{
    return c <= ' ' || c >= 0x7f || strchr("\"#%<>?\\^`{|}", c) != NULL;
}

/* 301 to the URI with a slash added (and the args kept as they came):
 * the header filter makes the Location absolute when absolute_redirect
 * is on. */
static int
redirect_dir(pt_http_request_t *r)
{
    static const char hex[] = "0123456789ABCDEF";
    pt_str_t          key = pt_string("Location"), loc;
    pt_table_elt_t   *h;
    size_t            i, n = 0;
    u_char           *p;

    for (i = 0; i < r->uri.len; i++) {
        n += must_escape(r->uri.data[i]);
    }
    loc.len = r->uri.len + 2 * n + 1
              + (r->args.len > 0 ? r->args.len + 1 : 0);
    loc.data = pt_pnalloc(r->pool, loc.len);
    if (loc.data == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    p = loc.data;
    for (i = 0; i < r->uri.len; i++) {
        if (must_escape(r->uri.data[i])) {
            *p++ = '%';
            *p++ = (u_char) hex[r->uri.data[i] >> 4];
            *p++ = (u_char) hex[r->uri.data[i] & 0xf];
        } else {
            *p++ = r->uri.data[i];
        }
    }
    *p++ = '/';
    if (r->args.len > 0) {
        *p++ = '?';
        memcpy(p, r->args.data, r->args.len);
    }
    pt_http_clear_location(r);
    h = pt_http_add_header_out(r, &key, &loc);
    if (h == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->headers_out.location = h;
    return PT_HTTP_MOVED_PERMANENTLY;
}

/* ETag "<mtime hex>-<size hex>", as nginx's ngx_http_set_etag. */
static int
set_etag(pt_http_request_t *r)
{
    pt_str_t        key = pt_string("ETag"), value;
    pt_table_elt_t *h;

    if (!pt_http_core_loc_conf(r)->etag) {
        return PT_OK;
    }
    value.data = pt_pnalloc(r->pool, PT_HTTP_ETAG_MAX_LEN);
    if (value.data == NULL) {
        return PT_ERROR;
    }
    value.len = (size_t) (pt_http_etag_make(value.data,
                                            r->headers_out.last_modified_time,
                                            r->headers_out.content_length_n)
                          - value.data);
    pt_http_clear_etag(r);
    h = pt_http_add_header_out(r, &key, &value);
    if (h == NULL) {
        return PT_ERROR;
    }
    r->headers_out.etag = h;
    return PT_OK;
}

/*
 * The content handler. Symlinks are followed wherever they point:
 * disable_symlinks is not supported. Returns what the content phase
 * finalizes with: PT_DECLINED for a URI ending in "/", an HTTP status, or
 * the output filter's result.
 */
static int
static_handler(pt_http_request_t *r)
{
    pt_log_t   *log = pt_http_request_log(r);
    pt_str_t    path;
    pt_file_t  *file;
    pt_buf_t   *b;
    pt_chain_t  out;
    struct stat st;
    size_t      root;
    u_char     *last;
    int         rc;

    if (!(r->method & (PT_HTTP_GET | PT_HTTP_HEAD | PT_HTTP_POST))) {
        return PT_HTTP_NOT_ALLOWED;
    }
    if (r->uri.data[r->uri.len - 1] == '/') {
        return PT_DECLINED;
    }

    last = pt_http_map_uri_to_path(r, &path, &root, 0);
    if (last == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    path.len = (size_t) (last - path.data);

    file = pt_file_open(r->pool, &path, log);
    if (file == NULL) {
        return open_error(r, &path, errno);
    }
    if (fstat(file->fd, &st) == -1) {
        pt_log_error(PT_LOG_CRIT, log, errno, "fstat() \"%s\" failed",
                     path.data);
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->root_tested = !r->error_page;

    if (S_ISDIR(st.st_mode)) {
        return redirect_dir(r);
    }
    if (!S_ISREG(st.st_mode)) {
        pt_log_error(PT_LOG_CRIT, log, 0, "\"%s\" is not a regular file",
                     path.data);
        return PT_HTTP_NOT_FOUND;
    }
    if (r->method == PT_HTTP_POST) {
        return PT_HTTP_NOT_ALLOWED;
    }
    if (pt_http_discard_request_body(r) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = PT_HTTP_OK;
    r->headers_out.content_length_n = st.st_size;
    r->headers_out.last_modified_time = st.st_mtime;
    if (set_etag(r) != PT_OK || pt_http_set_content_type(r) != PT_OK) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->allow_ranges = 1;

    b = pt_buf_calloc(r->pool);
    if (b == NULL) {
        return PT_HTTP_INTERNAL_SERVER_ERROR;
    }
    rc = pt_http_send_header(r);
    if (rc == PT_ERROR || rc > PT_OK || r->header_only) {
        return rc;
    }

    /* an empty file leaves a flag-only last buffer */
    b->file = file;
    b->file_pos = 0;
    b->file_last = st.st_size;
    b->in_file = st.st_size > 0;
    b->last_buf = 1;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;
    return pt_http_output_filter(r, &out);
}

static int
postconfiguration(pt_conf_t *cf)
{
    return pt_http_add_phase_handler(cf, PT_HTTP_CONTENT_PHASE,
                                     static_handler);
}

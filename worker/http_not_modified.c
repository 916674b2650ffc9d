/*
 * The not_modified header filter: conditional requests against a 200
 * response's ETag and Last-Modified. "Not modified" turns the response
 * into a body-less 304; a failed If-Match or If-Unmodified-Since replaces
 * it with a 412 page, after which the connection is closed, as nginx does.
 */
#include <string.h>

#include "common/array.h"
#include "common/log.h"
#include "http.h"
#include "http_cond.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"

static int postconfiguration(pt_conf_t *cf);

pt_module_t pt_http_not_modified_filter_module = {
    "http_not_modified_filter", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static pt_http_output_header_filter_pt next_header_filter;

static const pt_str_t *
value_of(const pt_table_elt_t *h)
{
    return h != NULL ? &h->value : NULL;
}

/* Forget the response built so far (nginx's ngx_http_clean_header): the
 * 412 page gets none of its headers. */
static void
clean_header(pt_http_request_t *r)
{
    pt_array_t headers = r->headers_out.headers;
    pt_array_t trailers = r->headers_out.trailers;

    memset(&r->headers_out, 0, sizeof(r->headers_out));
    headers.nelts = 0;
    trailers.nelts = 0;
    r->headers_out.headers = headers;
    r->headers_out.trailers = trailers;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
}

/* 304: the head of the 200 without its entity headers, but with ETag and
 * Last-Modified; the header filter marks it header-only. */
static void
not_modified(pt_http_request_t *r)
{
    r->headers_out.status = PT_HTTP_NOT_MODIFIED;
    r->headers_out.status_line.len = 0;
    r->headers_out.content_type.len = 0;
    pt_http_clear_content_length(r);
    pt_http_clear_accept_ranges(r);
    if (r->headers_out.content_encoding != NULL) {
        r->headers_out.content_encoding->hash = 0;
        r->headers_out.content_encoding = NULL;
    }
}

/*
 * Returns the next filter's result, or PT_ERROR once a 412 page went out
 * (or failed): the handler stops there and the request ends with the
 * connection, as after nginx's filter finalization.
 */
static int
not_modified_header_filter(pt_http_request_t *r)
{
    pt_http_headers_in_t *in = &r->headers_in;
    pt_http_cond_t        cond;

    if (r->headers_out.status != PT_HTTP_OK || r != r->main
        || r->disable_not_modified)
    {
        return next_header_filter(r);
    }
    if (in->if_match == NULL && in->if_none_match == NULL
        && in->if_modified_since == NULL && in->if_unmodified_since == NULL)
    {
        return next_header_filter(r);
    }

    memset(&cond, 0, sizeof(cond));
    cond.if_match = value_of(in->if_match);
    cond.if_none_match = value_of(in->if_none_match);
    cond.if_modified_since = value_of(in->if_modified_since);
    cond.if_unmodified_since = value_of(in->if_unmodified_since);
    cond.etag = value_of(r->headers_out.etag);
    cond.last_modified = r->headers_out.last_modified_time;
    cond.ims_mode = pt_http_core_loc_conf(r)->if_modified_since;
    /* nginx 1.22 applies the GET rules whatever the method (a POST to
     * "return 200" with If-None-Match: * gets a 304 there too) */
    cond.get_or_head = 1;

    switch (pt_http_cond_eval(&cond)) {
    case PT_HTTP_NOT_MODIFIED:
        not_modified(r);
        return next_header_filter(r);

    case PT_HTTP_PRECONDITION_FAILED:
        clean_header(r);
        memset(r->ctx, 0, sizeof(void *) * pt_http_modules_n);
        (void) pt_http_special_response_handler(r,
                                                PT_HTTP_PRECONDITION_FAILED);
        return PT_ERROR;

    default:
        return next_header_filter(r);
    }
}

static int
postconfiguration(pt_conf_t *cf)
{
    next_header_filter = pt_http_top_header_filter;
    pt_http_top_header_filter = not_modified_header_filter;
    return PT_OK;
}

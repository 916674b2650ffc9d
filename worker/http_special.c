/*
 * Error and special responses: error_page targets (a URI, a named location
 * or a redirect), else the built-in page for the status, as nginx words
 * them. Also the mapping of a URI to a file path under root or alias.
 */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/version.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"


/* Titles of the built-in pages where the status line would mislead, or
 * where nginx words them otherwise. */
static const char *
page_title(pt_uint_t status)
{
    const pt_str_t *line;

    switch (status) {
    case PT_HTTP_MOVED_TEMPORARILY:
        return "302 Found";
    case PT_HTTP_UNAUTHORIZED:
        return "401 Authorization Required";
    case PT_HTTP_REQUEST_HEADER_TOO_LARGE:
        return "400 Request Header Or Cookie Too Large";
    case PT_HTTPS_CERT_ERROR:
        return "400 The SSL certificate error";
    case PT_HTTPS_NO_CERT:
        return "400 No required SSL certificate was sent";
    case PT_HTTP_TO_HTTPS:
        return "400 The plain HTTP request was sent to HTTPS port";
    }
    line = pt_http_status_line(status);
    return line != NULL ? (const char *) line->data : NULL;
}

static pt_uint_t
wire_status(pt_uint_t status)
{
    switch (status) {
    case PT_HTTP_REQUEST_HEADER_TOO_LARGE:
    case PT_HTTPS_CERT_ERROR:
    case PT_HTTPS_NO_CERT:
    case PT_HTTP_TO_HTTPS:
        return PT_HTTP_BAD_REQUEST;
    }
    return status;
}

int
pt_http_send_builtin_page(pt_http_request_t *r, pt_uint_t status)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    const char         *title = page_title(status);
    pt_str_t            body, type = pt_string("text/html");
    int                 n;

    r->headers_out.status = wire_status(status);
    r->err_status = r->headers_out.status;
    pt_http_clear_accept_ranges(r);
    pt_http_clear_last_modified(r);
    pt_http_clear_etag(r);
    pt_http_clear_content_length(r);

    if (status == PT_HTTP_NO_CONTENT || status == PT_HTTP_NOT_MODIFIED
        || title == NULL)
    {
        r->header_only = 1;
        return pt_http_send_response(r, r->headers_out.status, NULL, NULL);
    }

    body.data = pt_pnalloc(r->pool, 512);
    if (body.data == NULL) {
        return PT_ERROR;
    }
    /* the title is the status line's "NNN Text"; the 400 variants (494...)
     * say "400 Bad Request" as the heading and their own text below it, as
     * nginx */
    n = snprintf((char *) body.data, 512,
                 "<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n"
                 "<center><h1>%s</h1></center>\r\n%s%s%s"
                 "<hr><center>%s</center>\r\n</body>\r\n</html>\r\n",
                 title, wire_status(status) != status
                        ? "400 Bad Request" : title,
                 wire_status(status) != status ? "<center>" : "",
                 wire_status(status) != status ? title + 4 : "",
                 wire_status(status) != status ? "</center>\r\n" : "",
                 clcf->server_tokens != PT_HTTP_SERVER_TOKENS_OFF
                 ? "portico/" PORTICO_VERSION : "portico");
    if (n < 0 || n >= 512) {
        return PT_ERROR;
    }
    body.len = (size_t) n;
    return pt_http_send_response(r, r->headers_out.status, &type, &body);
}

static int
send_error_page(pt_http_request_t *r, pt_http_err_page_t *page)
{
    pt_str_t    uri, args, *loc;
    pt_int_t    overwrite = page->overwrite;
    u_char     *q;
    pt_table_elt_t *h;
    pt_str_t    key = pt_string("Location");

    r->err_status = overwrite >= 0 ? (pt_uint_t) overwrite : r->err_status;
    if (pt_http_complex_value(r, page->value, &uri) != PT_OK) {
        return PT_ERROR;
    }

    if (uri.len > 0 && uri.data[0] == '/') {
        args.len = 0;
        args.data = NULL;
        q = memchr(uri.data, '?', uri.len);
        if (q != NULL) {
            args.data = q + 1;
            args.len = (size_t) (uri.data + uri.len - q - 1);
            uri.len = (size_t) (q - uri.data);
        }
        if (r->method != PT_HTTP_HEAD) {
            r->method = PT_HTTP_GET;
            pt_str_set(&r->method_name, "GET");
        }
        /* the page describes itself: nothing of the failed response's
         * entity headers stays */
        r->headers_out.content_type.len = 0;
        r->headers_out.content_type_len = 0;
        r->headers_out.charset.len = 0;
        pt_http_clear_content_length(r);
        pt_http_clear_last_modified(r);
        pt_http_clear_etag(r);
        pt_http_clear_accept_ranges(r);
        return pt_http_internal_redirect(r, &uri, q != NULL ? &args : NULL);
    }
    if (uri.len > 0 && uri.data[0] == '@') {
        return pt_http_named_location(r, &uri);
    }

    /* a URL: redirect to it */
    pt_http_clear_location(r);
    if (overwrite != PT_HTTP_MOVED_PERMANENTLY
        && overwrite != PT_HTTP_MOVED_TEMPORARILY
        && overwrite != PT_HTTP_SEE_OTHER
        && overwrite != PT_HTTP_TEMPORARY_REDIRECT
        && overwrite != PT_HTTP_PERMANENT_REDIRECT)
    {
        r->err_status = PT_HTTP_MOVED_TEMPORARILY;
    }
    loc = &uri;
    h = pt_http_add_header_out(r, &key, loc);
    if (h == NULL) {
        return PT_ERROR;
    }
    r->headers_out.location = h;
    return pt_http_send_builtin_page(r, r->err_status);
}

pt_int_t
pt_http_special_response_handler(pt_http_request_t *r, pt_int_t rc)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_http_err_page_t *page;
    pt_uint_t           i, status = (pt_uint_t) rc;

    r->err_status = status;
    if (r->header_sent) {
        /* too late for a page: the response in progress is cut */
        r->keepalive = 0;
        return PT_ERROR;
    }

    if (r->keepalive) {
        switch (status) {
        case PT_HTTP_BAD_REQUEST:
        case PT_HTTP_REQUEST_ENTITY_TOO_LARGE:
        case PT_HTTP_REQUEST_URI_TOO_LARGE:
        case PT_HTTP_REQUEST_HEADER_TOO_LARGE:
        case PT_HTTP_TO_HTTPS:
        case PT_HTTPS_CERT_ERROR:
        case PT_HTTPS_NO_CERT:
        case PT_HTTP_INTERNAL_SERVER_ERROR:
        case PT_HTTP_NOT_IMPLEMENTED:
        case PT_HTTP_VERSION_NOT_SUPPORTED:
            r->keepalive = 0;
        }
    }
    if (status == PT_HTTP_BAD_REQUEST || status == PT_HTTP_REQUEST_HEADER_TOO_LARGE
        || status == PT_HTTP_REQUEST_ENTITY_TOO_LARGE)
    {
        r->lingering_close = 1;
    }
    r->expect_tested = 1;   /* no 100 Continue before an error */
    if (r->http_state != PT_HTTP_PROCESS_REQUEST_STATE) {
        /* the head was never read whole: no body to discard */
        r->keepalive = 0;
        r->lingering_close = 1;
    } else if (pt_http_discard_request_body(r) != PT_OK) {
        r->keepalive = 0;
    }

    /* as nginx: error pages stop applying once an error was handled in a
     * location with recursive_error_pages off */
    if (clcf->error_pages != NULL && !r->error_page && r->uri_changes != 0) {
        page = clcf->error_pages->elts;
        for (i = 0; i < clcf->error_pages->nelts; i++) {
            if (page[i].status == status) {
                if (!clcf->recursive_error_pages) {
                    r->error_page = 1;
                }
                return send_error_page(r, &page[i]);
            }
        }
    }
    return pt_http_send_builtin_page(r, status);
}

u_char *
pt_http_map_uri_to_path(pt_http_request_t *r, pt_str_t *path,
                        size_t *root_length, size_t reserved)
{
    pt_http_loc_conf_t *clcf = pt_http_core_loc_conf(r);
    pt_str_t            root = clcf->root, uri = r->uri;
    size_t              alias = 0;
    u_char             *p;

    if (clcf->root_values != NULL) {
        if (pt_http_complex_value(r, clcf->root_values, &root) != PT_OK) {
            return NULL;
        }
        if (root.len == 0 || root.data[0] != '/') {
            /* relative roots with variables are taken from the prefix */
            pt_str_t full = root;

            if (pt_conf_full_name_prefix(r->pool,
                                         &pt_http_cycle_prefix, &full)
                != PT_OK)
            {
                return NULL;
            }
            root = full;
        }
        if (clcf->alias && clcf->regex_location && !r->add_uri_to_alias) {
            /* an alias with captures names the whole file (try_files
             * asks for its file's URI to be added) */
            uri.len = 0;
        }
    }
    if (clcf->alias && uri.len > 0) {
        alias = clcf->name.len;
        if (clcf->regex_location || alias > uri.len) {
            alias = 0;
            if (clcf->regex_location && clcf->root_values == NULL
                && !r->add_uri_to_alias)
            {
                uri.len = 0;
            }
        }
    }
    *root_length = root.len;
    path->len = root.len + (uri.len - alias) + reserved + 1;
    path->data = pt_pnalloc(r->pool, path->len);
    if (path->data == NULL) {
        return NULL;
    }
    p = path->data;
    memcpy(p, root.data, root.len);
    p += root.len;
    memcpy(p, uri.data + alias, uri.len - alias);
    p += uri.len - alias;
    *p = '\0';
    path->len = (size_t) (p - path->data);
    return p;
}

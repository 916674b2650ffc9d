/*
 * Unit tests for the proxy's wire formats (worker/http_proxy_parse.c):
 * upstream status lines, the response headers that decide framing, the
 * split of proxy_pass targets and nginx's URI replacement rules.
 */
#include <check.h>
#include <string.h>

#include "common/array.h"
#include "common/buf.h"
#include "common/log.h"
#include "common/pool.h"
#include "conf_helper.h"
#include "worker/http_parse.h"
#include "worker/http_proxy.h"
#include "worker/http_request.h"


static void
setup(void)
{
    tc_conf_setup("proxy", NULL, PT_CONF_HTTP);
}

static void
buf_of(pt_buf_t *b, const char *s)
{
    memset(b, 0, sizeof(*b));
    b->start = b->pos = (u_char *) s;
    b->end = b->last = (u_char *) s + strlen(s);
    b->memory = 1;
}

static const struct {
    const char *line;
    int         rc;
    pt_uint_t   status;
    const char *status_line;
    pt_uint_t   version;
} status_cases[] = {
    { "HTTP/1.1 200 OK\r\n", PT_OK, 200, "200 OK", 1001 },
    { "HTTP/1.0 404 Not Found\r\n", PT_OK, 404, "404 Not Found", 1000 },
    { "HTTP/1.1 204\r\n", PT_OK, 204, "204", 1001 },
    { "HTTP/1.1 200 OK\n", PT_OK, 200, "200 OK", 1001 },
    { "HTTP/1.1 599 Whatever it is\r\n", PT_OK, 599, "599 Whatever it is",
      1001 },
    { "HTTP/1.1 200 OK", PT_AGAIN, 0, NULL, 0 },
    { "HTT", PT_AGAIN, 0, NULL, 0 },
    { "HTTP/1.1 20", PT_AGAIN, 0, NULL, 0 },
    { "hello world\r\n", PT_DECLINED, 0, NULL, 0 },
    { "HTTP/2.0 200 OK\r\n", PT_DECLINED, 0, NULL, 0 },
    { "HTTP/1.1 20x OK\r\n", PT_DECLINED, 0, NULL, 0 },
    { "HTTP/1.1 099 Low\r\n", PT_DECLINED, 0, NULL, 0 },
    { "HTTP/1.1 2000 OK\r\n", PT_DECLINED, 0, NULL, 0 },
    { "HTTP/1.x 200 OK\r\n", PT_DECLINED, 0, NULL, 0 },
    { "HTTP/1.1 200 OK\rX", PT_DECLINED, 0, NULL, 0 },
    { "<html>", PT_DECLINED, 0, NULL, 0 },
};

START_TEST(test_status_line)
{
    pt_proxy_status_t     st;
    pt_proxy_headers_in_t h;
    pt_buf_t              b;
    int                   rc;

    memset(&st, 0, sizeof(st));
    memset(&h, 0, sizeof(h));
    buf_of(&b, status_cases[_i].line);
    rc = pt_proxy_parse_status_line(&st, &b, &h);
    ck_assert_msg(rc == status_cases[_i].rc, "%s: rc %d",
                  status_cases[_i].line, rc);
    if (rc == PT_OK) {
        ck_assert_uint_eq(h.status, status_cases[_i].status);
        ck_assert_uint_eq(h.version, status_cases[_i].version);
        ck_assert_uint_eq(h.status_line.len,
                          strlen(status_cases[_i].status_line));
        ck_assert(memcmp(h.status_line.data, status_cases[_i].status_line,
                         h.status_line.len) == 0);
        ck_assert_ptr_eq(b.pos, b.last);
    }
}
END_TEST

START_TEST(test_status_line_in_pieces)
{
    const char           *full = "HTTP/1.1 301 Moved\r\nLocation: /x\r\n";
    pt_proxy_status_t     st;
    pt_proxy_headers_in_t h;
    pt_buf_t              b;
    size_t                n;
    int                   rc = PT_AGAIN;

    memset(&st, 0, sizeof(st));
    memset(&h, 0, sizeof(h));
    buf_of(&b, full);
    for (n = 1; n <= strlen(full) && rc == PT_AGAIN; n++) {
        b.last = (u_char *) full + n;
        rc = pt_proxy_parse_status_line(&st, &b, &h);
    }
    ck_assert_int_eq(rc, PT_OK);
    ck_assert_uint_eq(h.status, 301);
    ck_assert_str_eq((char *) b.pos, "Location: /x\r\n");
}
END_TEST

/* Parse a whole header block into h; the last pt_proxy_add_header code. */
static int
headers(pt_proxy_headers_in_t *h, const char *text)
{
    pt_http_parse_t p;
    pt_buf_t        b;
    int             rc;

    memset(h, 0, sizeof(*h));
    h->content_length_n = -1;
    ck_assert_int_eq(pt_array_init(&h->headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    pt_http_parse_init(&p);
    buf_of(&b, text);
    for (;;) {
        rc = pt_http_parse_header_line(&p, &b);
        if (rc == PT_HTTP_PARSE_HEADER_DONE) {
            return PT_OK;
        }
        if (rc != PT_OK) {
            return PT_ERROR;
        }
        rc = pt_proxy_add_header(tc_pool, h, &p);
        if (rc != PT_OK) {
            return rc;
        }
    }
}

START_TEST(test_framing_headers)
{
    pt_proxy_headers_in_t h;

    ck_assert_int_eq(headers(&h, "Content-Length: 12\r\n\r\n"), PT_OK);
    ck_assert_int_eq(h.content_length_n, 12);
    ck_assert_int_eq(headers(&h, "Content-Length: 12\r\n"
                                 "content-length: 12\r\n\r\n"), PT_OK);
    ck_assert_int_eq(headers(&h, "Content-Length: 12\r\n"
                                 "Content-Length: 13\r\n\r\n"), PT_DECLINED);
    ck_assert_uint_eq(h.invalid, PT_PROXY_BAD_DUPLICATE);
    ck_assert_int_eq(headers(&h, "Content-Length: -1\r\n\r\n"), PT_DECLINED);
    ck_assert_uint_eq(h.invalid, PT_PROXY_BAD_LENGTH);
    ck_assert_int_eq(headers(&h, "Content-Length: 1 2\r\n\r\n"), PT_DECLINED);
    ck_assert_int_eq(headers(&h, "Transfer-Encoding: Chunked\r\n\r\n"),
                     PT_OK);
    ck_assert(h.chunked);
    ck_assert_int_eq(headers(&h, "Transfer-Encoding: gzip, chunked\r\n\r\n"),
                     PT_DECLINED);
    ck_assert_uint_eq(h.invalid, PT_PROXY_BAD_TE);
    ck_assert_int_eq(headers(&h, "Transfer-Encoding: chunked\r\n"
                                 "Content-Length: 5\r\n\r\n"), PT_DECLINED);
    ck_assert_int_eq(headers(&h, "Content-Length: 5\r\n"
                                 "Transfer-Encoding: chunked\r\n\r\n"),
                     PT_DECLINED);
    ck_assert_uint_eq(h.invalid, PT_PROXY_BAD_BOTH);
    ck_assert_int_eq(headers(&h, "Connection: Keep-Alive, Close\r\n"
                                 "X-Accel-Redirect: /in\r\n"
                                 "X-Accel-Buffering: no\r\n"
                                 "Upgrade: websocket\r\n\r\n"), PT_OK);
    ck_assert(h.connection_close && h.connection_keep_alive);
    ck_assert_ptr_nonnull(h.x_accel_redirect);
    ck_assert_ptr_nonnull(h.x_accel_buffering);
    ck_assert_ptr_nonnull(h.upgrade);
    ck_assert_uint_eq(h.headers.nelts, 4);
    /* obsolete line folding is an invalid head */
    ck_assert_int_eq(headers(&h, "X-A: 1\r\n folded\r\n\r\n"), PT_ERROR);
}
END_TEST

START_TEST(test_split_url)
{
    pt_str_t in, host, uri;
    int      has;

    pt_str_set(&in, "127.0.0.1:8080");
    ck_assert_int_eq(pt_proxy_split_url(&in, &host, &uri, &has), PT_OK);
    ck_assert(pt_str_eq_cstr(&host, "127.0.0.1:8080") && !has);
    pt_str_set(&in, "backend/app/");
    ck_assert_int_eq(pt_proxy_split_url(&in, &host, &uri, &has), PT_OK);
    ck_assert(pt_str_eq_cstr(&host, "backend") && has);
    ck_assert(pt_str_eq_cstr(&uri, "/app/"));
    pt_str_set(&in, "[::1]:81/");
    ck_assert_int_eq(pt_proxy_split_url(&in, &host, &uri, &has), PT_OK);
    ck_assert(pt_str_eq_cstr(&host, "[::1]:81") && pt_str_eq_cstr(&uri, "/"));
    pt_str_set(&in, "unix:/run/a.sock");
    ck_assert_int_eq(pt_proxy_split_url(&in, &host, &uri, &has), PT_OK);
    ck_assert(pt_str_eq_cstr(&host, "unix:/run/a.sock") && !has);
    pt_str_set(&in, "unix:/run/a.sock:/x");
    ck_assert_int_eq(pt_proxy_split_url(&in, &host, &uri, &has), PT_OK);
    ck_assert(pt_str_eq_cstr(&host, "unix:/run/a.sock") && has);
    ck_assert(pt_str_eq_cstr(&uri, "/x"));
    pt_str_set(&in, "/nohost");
    ck_assert_int_eq(pt_proxy_split_url(&in, &host, &uri, &has), PT_ERROR);
}
END_TEST

/* nginx's replacement rules, one row per case: the request's URI state,
 * the target's URI part and the location, and what goes upstream. */
static const struct {
    const char *uri;            /* r->uri (decoded) */
    const char *args;
    const char *unparsed;       /* r->unparsed_uri */
    int         valid_unparsed; /* the URI was not rewritten */
    int         valid_location; /* no rewrite ... break */
    int         internal;
    const char *part;           /* NULL: no URI part */
    const char *location;
    int         vars;
    const char *expect;
} uri_cases[] = {
    /* no URI part: the request's URI as the client sent it */
    { "/a b", "", "/a%20b", 1, 1, 0, NULL, "/", 0, "/a%20b" },
    { "/x/y", "q=1", "/x/y?q=1", 1, 1, 0, NULL, "/x/", 0, "/x/y?q=1" },
    /* rewritten: the current URI, escaped, with its args */
    { "/new path", "k=v", "/old", 0, 1, 1, NULL, "/", 0, "/new%20path?k=v" },
    /* a URI part replaces the location's prefix */
    { "/app/page", "", "/app/page", 1, 1, 0, "/", "/app/", 0, "/page" },
    { "/app/page", "a=1", "/app/page?a=1", 1, 1, 0, "/v2/", "/app/", 0,
      "/v2/page?a=1" },
    { "/app", "", "/app", 1, 1, 0, "/base", "/app", 0, "/base" },
    /* after rewrite ... break: the whole new URI, the part dropped */
    { "/other/z", "", "/app/z", 0, 0, 1, "/v2/", "/app/", 0, "/other/z" },
    /* with variables: the evaluated URI part as is */
    { "/any", "", "/any", 1, 1, 0, "/fixed?x=1", "/", 1, "/fixed?x=1" },
    { "/any", "b=2", "/any?b=2", 1, 1, 0, "", "/", 1, "/any?b=2" },
};

START_TEST(test_build_uri)
{
    pt_http_request_t r;
    pt_str_t          part, loc, out;

    memset(&r, 0, sizeof(r));
    r.pool = tc_pool;
    r.uri.data = (u_char *) uri_cases[_i].uri;
    r.uri.len = strlen(uri_cases[_i].uri);
    r.args.data = (u_char *) uri_cases[_i].args;
    r.args.len = strlen(uri_cases[_i].args);
    r.unparsed_uri.data = (u_char *) uri_cases[_i].unparsed;
    r.unparsed_uri.len = strlen(uri_cases[_i].unparsed);
    r.valid_unparsed_uri = uri_cases[_i].valid_unparsed;
    r.valid_location = uri_cases[_i].valid_location;
    r.internal = uri_cases[_i].internal;
    part.data = (u_char *) (uri_cases[_i].part ? uri_cases[_i].part : "");
    part.len = strlen((char *) part.data);
    loc.data = (u_char *) uri_cases[_i].location;
    loc.len = strlen(uri_cases[_i].location);
    ck_assert_int_eq(pt_proxy_build_uri(&r, &part,
                                        uri_cases[_i].part != NULL, &loc,
                                        uri_cases[_i].vars, &out), PT_OK);
    ck_assert_msg(out.len == strlen(uri_cases[_i].expect)
                  && memcmp(out.data, uri_cases[_i].expect, out.len) == 0,
                  "case %d: got \"%.*s\", want \"%s\"", _i, (int) out.len,
                  out.data, uri_cases[_i].expect);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_proxy");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, tc_conf_teardown);
    tcase_add_loop_test(tc, test_status_line, 0, pt_nelems(status_cases));
    tcase_add_test(tc, test_status_line_in_pieces);
    tcase_add_test(tc, test_framing_headers);
    tcase_add_test(tc, test_split_url);
    tcase_add_loop_test(tc, test_build_uri, 0, pt_nelems(uri_cases));
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Unit tests for worker/http_variables: definitions, indexes and their
 * errors, the per-request cache, prefix variables, every built-in variable
 * on a fake request (no sockets but one for getsockname), and regexes
 * with named captures.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "common/time.h"
#include "conf_helper.h"
#include "worker/conn.h"
#include "worker/http_connection.h"
#include "worker/http_core.h"
#include "worker/http_request.h"
#include "worker/http_script.h"
#include "worker/http_variables.h"

/* ------------------------------------------------------------------ */
/* Fixture: a conf with a core main conf, a fake connection and request */

#define NMODULES 4

static char                      dir[256];
static void                     *main_conf[NMODULES];
static void                     *srv_conf[NMODULES];
static void                     *loc_conf[NMODULES];
static pt_http_core_main_conf_t *cmcf;
static pt_http_srv_conf_t        cscf;
static pt_http_loc_conf_t        clcf;
static struct sockaddr_storage peer;
static pt_connection_t           conn;
static pt_listening_t            ls;
static pt_http_request_t        *r;

/* Names indexed before init_vars, as directives would. */
static const char *used[] = {
    "host", "http_user_agent", "http_x_forwarded_for", "http_cookie",
    "http_x_custom_header", "http_missing", "cookie_session", "cookie_ab",
    "cookie_abc", "arg_a", "arg_b", "arg_c", "args", "query_string",
    "is_args", "uri", "document_uri", "request_uri", "request_method",
    "request", "scheme", "https", "server_name", "server_port",
    "server_addr", "remote_addr", "remote_port", "binary_remote_addr",
    "request_length", "bytes_sent", "body_bytes_sent", "status",
    "request_time", "msec", "time_local", "time_iso8601", "connection",
    "connection_requests", "content_length", "content_type", "hostname",
    "pid", "request_id", "sent_http_x_foo", "sent_http_content_type",
    "sent_http_content_length", "sent_http_location",
    "sent_http_last_modified", "sent_http_connection",
    "sent_http_keep_alive", "sent_http_transfer_encoding",
    "document_root", "realpath_root", "request_filename",
    "server_protocol", "limit_rate", "nginx_version", "portico_version",
    "1", "2", "9", NULL
};

static void
add_header(pt_array_t *a, const char *key, const char *value, pt_uint_t hash)
{
    pt_table_elt_t *h = pt_array_push(a);

    ck_assert_ptr_nonnull(h);
    memset(h, 0, sizeof(*h));
    h->hash = hash;
    h->key = S(key);
    h->value = S(value);
}

static void
conf_setup(void)
{
    tc_conf_setup("vars", NULL, PT_CONF_HTTP);
    strcpy(dir, "/tmp/pt_vars_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tc_cycle.hostname = S("testhost");

    pt_http_core_module.index = 2;
    cmcf = pt_pcalloc(tc_pool, sizeof(*cmcf));
    memset(main_conf, 0, sizeof(main_conf));
    main_conf[2] = cmcf;
    tc_ctx.main_conf = main_conf;
    tc_ctx.srv_conf = srv_conf;
    tc_ctx.loc_conf = loc_conf;
    tc_cf.temp_pool = tc_pool;
    ck_assert_int_eq(pt_http_variables_add_core_vars(&tc_cf), PT_OK);
}

static pt_int_t
index_of(const char *name)
{
    pt_str_t n = S(name);

    return pt_http_get_variable_index(&tc_cf, &n);
}

/* A fresh request on the fake connection (r->variables zeroed). */
static void
new_request(void)
{
    r = pt_pcalloc(tc_pool, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    r->pool = tc_pool;
    r->connection = &conn;
    r->main_conf = main_conf;
    r->srv_conf = srv_conf;
    r->loc_conf = loc_conf;
    r->main = r;
    r->variables = pt_pcalloc(tc_pool, pt_http_variables_count(cmcf)
                                       * sizeof(pt_http_variable_value_t));
    ck_assert_ptr_nonnull(r->variables);
    ck_assert_int_eq(pt_array_init(&r->headers_in.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    ck_assert_int_eq(pt_array_init(&r->headers_out.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    r->headers_in.content_length_n = -1;
    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
}

static void
setup(void)
{
    struct sockaddr_in *sin;
    pt_uint_t           i;

    conf_setup();
    for (i = 0; used[i] != NULL; i++) {
        ck_assert_int_ge(index_of(used[i]), 0);
    }

    memset(&cscf, 0, sizeof(cscf));
    cscf.server_name = S("srv.example");
    memset(&clcf, 0, sizeof(clcf));
    clcf.root = S("/var/www");
    srv_conf[2] = &cscf;
    loc_conf[2] = &clcf;

    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    conn.log = &tc_log;
    conn.pool = tc_pool;
    conn.sockaddr = &peer;
    sin = (struct sockaddr_in *) conn.sockaddr;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(54321);
    inet_pton(AF_INET, "10.0.0.7", &sin->sin_addr);
    conn.socklen = sizeof(*sin);
    conn.addr_text = S("10.0.0.7");
    conn.number = 42;
    conn.requests = 3;

    memset(&ls, 0, sizeof(ls));
    sin = (struct sockaddr_in *) &ls.sockaddr;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(8080);
    inet_pton(AF_INET, "127.0.0.2", &sin->sin_addr);
    ls.socklen = sizeof(*sin);
    conn.listening = &ls;
}

static void
init(void)
{
    ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_OK);
    new_request();
}

static void
teardown(void)
{
    char cmd[300];

    tc_conf_teardown();
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The index of a name indexed before init (never a new one: r->variables
 * has no room for it). */
static pt_uint_t
indexed(const char *name)
{
    pt_http_variable_t *v = cmcf->variables.elts;
    pt_uint_t           i;

    for (i = 0; i < cmcf->variables.nelts; i++) {
        if (v[i].name.len == strlen(name)
            && strncasecmp((char *) v[i].name.data, name, v[i].name.len) == 0)
        {
            return i;
        }
    }
    ck_abort_msg("\"%s\" was not indexed", name);
    return 0;
}

/* The (flushed) value of an indexed variable, "<none>" when not found. */
static const char *
val(const char *name)
{
    static char                buf[4][512];
    static int                 k;
    pt_http_variable_value_t  *v;
    char                      *b = buf[k++ & 3];

    v = pt_http_get_flushed_variable(r, indexed(name));
    if (v == NULL) {
        return "<error>";
    }
    if (v->not_found) {
        return "<none>";
    }
    ck_assert(v->valid);
    snprintf(b, 512, "%.*s", (int) v->len, v->data);
    return b;
}

#define ck_val(name, want) ck_assert_str_eq(val(name), (want))

/* ------------------------------------------------------------------ */
/* Definitions and indexes                                             */

START_TEST(duplicate_variable)
{
    pt_str_t            n = S("host"), m = S("mine");
    pt_http_variable_t *a, *b;

    ck_assert_ptr_null(pt_http_add_variable(&tc_cf, &n, 0));
    ck_log_has("the duplicate \"host\" variable");
    /* changeable twice is one variable */
    a = pt_http_add_variable(&tc_cf, &m, PT_HTTP_VAR_CHANGEABLE);
    b = pt_http_add_variable(&tc_cf, &m, PT_HTTP_VAR_CHANGEABLE);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(a, b);
    /* but not once changeable, once not */
    ck_assert_ptr_null(pt_http_add_variable(&tc_cf, &m, 0));
    n = S("args");   /* the built-in $args is changeable */
    ck_assert_ptr_nonnull(pt_http_add_variable(&tc_cf, &n,
                                               PT_HTTP_VAR_CHANGEABLE));
}
END_TEST

START_TEST(index_reuse_and_case)
{
    pt_int_t a = index_of("uri"), b = index_of("URI");

    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(a, b);
    ck_assert_int_ne(index_of("args"), a);
    ck_assert_int_eq(index_of(""), PT_ERROR);
}
END_TEST

START_TEST(unknown_variable_names_first_use)
{
    pt_conf_node_t node;

    memset(&node, 0, sizeof(node));
    node.file = "/etc/portico/site.conf";
    node.line = 12;
    tc_cf.node = &node;
    ck_assert_int_ge(index_of("nosuch"), 0);
    node.line = 30;   /* a later use is not the one reported */
    ck_assert_int_ge(index_of("nosuch"), 0);
    tc_cf.node = NULL;
    ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_ERROR);
    ck_log_has("unknown \"nosuch\" variable in /etc/portico/site.conf:12");
}
END_TEST

START_TEST(variable_defined_after_use)
{
    pt_str_t            n = S("late");
    pt_http_variable_t *v;
    pt_int_t            i = index_of("late");

    ck_assert_int_ge(i, 0);
    v = pt_http_add_variable(&tc_cf, &n, 0);
    ck_assert_ptr_nonnull(v);
    v->get_handler = NULL;
    /* without a handler the name stays unknown */
    ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_ERROR);
    ck_log_has("unknown \"late\" variable");
}
END_TEST

static int counter;

static int
get_counter(pt_http_request_t *rr, pt_http_variable_value_t *v,
            uintptr_t data)
{
    u_char *p = pt_pnalloc(rr->pool, 16);

    v->len = snprintf((char *) p, 16, "%d", ++counter);
    v->data = p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return PT_OK;
}

static int
get_fail(pt_http_request_t *rr, pt_http_variable_value_t *v, uintptr_t data)
{
    counter++;
    return PT_ERROR;
}

START_TEST(cache_and_flush)
{
    pt_str_t             a = S("cached_ctr"), b = S("flushed_ctr");
    pt_str_t             c = S("failing");
    pt_http_variable_t  *v;
    pt_int_t             ia, ib, ic;
    pt_http_variable_value_t *vv;

    v = pt_http_add_variable(&tc_cf, &a, 0);
    v->get_handler = get_counter;
    v = pt_http_add_variable(&tc_cf, &b, PT_HTTP_VAR_NOCACHEABLE);
    v->get_handler = get_counter;
    v = pt_http_add_variable(&tc_cf, &c, 0);
    v->get_handler = get_fail;
    ia = index_of("cached_ctr");
    ib = index_of("flushed_ctr");
    ic = index_of("failing");
    init();

    counter = 0;
    ck_val("cached_ctr", "1");
    ck_val("cached_ctr", "1");
    ck_val("flushed_ctr", "2");
    ck_val("flushed_ctr", "3");
    /* the indexed read does not re-evaluate a no_cacheable value */
    vv = pt_http_get_indexed_variable(r, (pt_uint_t) ib);
    ck_assert_int_eq(vv->len, 1);
    ck_assert_int_eq(vv->data[0], '3');
    ck_assert(vv->no_cacheable);
    ck_assert(!r->variables[ia].no_cacheable);
    /* a failure is reported once, then the value is "not found" */
    ck_assert_ptr_null(pt_http_get_indexed_variable(r, (pt_uint_t) ic));
    vv = pt_http_get_indexed_variable(r, (pt_uint_t) ic);
    ck_assert_ptr_nonnull(vv);
    ck_assert(vv->not_found);
    ck_assert_int_eq(counter, 4);
    /* out of range */
    ck_assert_ptr_null(pt_http_get_indexed_variable(r, 100000));
    ck_log_has("unknown variable index: 100000");
    /* a new request evaluates again */
    new_request();
    ck_val("cached_ctr", "5");
}
END_TEST

START_TEST(cacheable_vs_nocacheable_builtins)
{
    init();
    r->unparsed_uri = S("/orig?x=1");
    r->uri = S("/orig");
    ck_val("request_uri", "/orig?x=1");
    ck_val("uri", "/orig");
    r->unparsed_uri = S("/changed");
    r->uri = S("/changed");
    ck_val("request_uri", "/orig?x=1");   /* cacheable */
    ck_val("uri", "/changed");            /* no_cacheable */
    ck_val("document_uri", "/changed");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Built-in variables                                                  */

START_TEST(request_line_vars)
{
    init();
    r->request_line = S("GET /a/b?x=1&y=2 HTTP/1.1");
    r->method_name = S("GET");
    r->unparsed_uri = S("/a/b?x=1&y=2");
    r->uri = S("/a/b");
    r->args = S("x=1&y=2");
    r->http_protocol = S("HTTP/1.1");
    ck_val("request", "GET /a/b?x=1&y=2 HTTP/1.1");
    ck_val("request_method", "GET");
    ck_val("request_uri", "/a/b?x=1&y=2");
    ck_val("uri", "/a/b");
    ck_val("args", "x=1&y=2");
    ck_val("query_string", "x=1&y=2");
    ck_val("is_args", "?");
    ck_val("server_protocol", "HTTP/1.1");
    r->args = S("");
    ck_val("is_args", "");
    r->http_protocol.len = 0;
    r->http_protocol.data = NULL;
    r->http_version = PT_HTTP_VERSION_10;
    new_request();
    r->http_version = PT_HTTP_VERSION_10;
    ck_val("server_protocol", "HTTP/1.0");
    ck_val("args", "<none>");
    ck_val("nginx_version", "0.1.0");
    ck_val("portico_version", "0.1.0");
}
END_TEST

START_TEST(set_args_and_limit_rate)
{
    pt_http_core_main_conf_t *m;
    pt_http_variable_t       *v;
    pt_http_variable_value_t  nv;
    pt_int_t                  ia, il;

    ia = index_of("args");
    il = index_of("limit_rate");
    init();
    m = cmcf;
    v = m->variables.elts;
    r->args = S("a=1");
    ck_val("args", "a=1");
    ck_assert_ptr_nonnull(v[ia].set_handler);
    ck_assert(v[ia].flags & PT_HTTP_VAR_CHANGEABLE);
    memset(&nv, 0, sizeof(nv));
    nv.data = (u_char *) "b=2&c=3";
    nv.len = 7;
    v[ia].set_handler(r, &nv, v[ia].data);
    ck_assert_int_eq(r->args.len, 7);
    ck_val("args", "b=2&c=3");
    ck_val("query_string", "b=2&c=3");
    ck_val("arg_c", "3");

    r->limit_rate = 0;
    ck_val("limit_rate", "0");
    nv.data = (u_char *) "10k";
    nv.len = 3;
    v[il].set_handler(r, &nv, v[il].data);
    ck_assert_uint_eq(r->limit_rate, 10240);
    ck_val("limit_rate", "10240");
    nv.data = (u_char *) "fast";
    nv.len = 4;
    v[il].set_handler(r, &nv, v[il].data);
    ck_assert_uint_eq(r->limit_rate, 10240);
    ck_log_has("invalid size \"fast\"");
}
END_TEST

START_TEST(host_and_server_vars)
{
    init();
    r->headers_in.server = S("www.example.com");
    ck_val("host", "www.example.com");
    ck_val("server_name", "srv.example");
    new_request();
    ck_val("host", "srv.example");
    ck_val("hostname", "testhost");
    ck_val("server_addr", "127.0.0.2");
    ck_val("server_port", "8080");
}
END_TEST

START_TEST(server_addr_wildcard_uses_getsockname)
{
    struct sockaddr_in  sin;
    socklen_t           len = sizeof(sin);
    int                 fd = socket(AF_INET, SOCK_STREAM, 0);
    char                port[16];

    ck_assert_int_ge(fd, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    conn.fd = fd;
    ((struct sockaddr_in *) &ls.sockaddr)->sin_addr.s_addr = INADDR_ANY;
    init();
    ck_val("server_addr", "127.0.0.1");
    ck_val("server_port", "8080");   /* the listener's port */
    conn.listening = NULL;
    new_request();
    snprintf(port, sizeof(port), "%d", ntohs(sin.sin_port));
    ck_val("server_port", port);
    conn.fd = -1;
    new_request();
    ck_val("server_addr", "<error>");
    ck_log_has("getsockname() failed");
    close(fd);
}
END_TEST

START_TEST(remote_addr_vars)
{
    struct sockaddr_in6 *sin6;
    pt_http_variable_value_t *v;

    init();
    ck_val("remote_addr", "10.0.0.7");
    ck_val("remote_port", "54321");
    v = pt_http_get_flushed_variable(r, indexed("binary_remote_addr"));
    ck_assert_int_eq(v->len, 4);
    ck_assert_int_eq(memcmp(v->data, "\x0a\x00\x00\x07", 4), 0);

    memset(conn.sockaddr, 0, sizeof(*conn.sockaddr));
    sin6 = (struct sockaddr_in6 *) conn.sockaddr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(443);
    inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
    conn.addr_text.len = 0;
    new_request();
    ck_val("remote_addr", "2001:db8::1");
    ck_val("remote_port", "443");
    v = pt_http_get_flushed_variable(r, indexed("binary_remote_addr"));
    ck_assert_int_eq(v->len, 16);
    ck_assert_int_eq(v->data[0], 0x20);
    ck_assert_int_eq(v->data[15], 1);
}
END_TEST

START_TEST(scheme_https)
{
    init();
    ck_val("scheme", "http");
    ck_val("https", "");
    conn.tls = (void *) 1;
    new_request();
    ck_val("scheme", "https");
    ck_val("https", "on");
    conn.tls = NULL;
}
END_TEST

START_TEST(http_prefix_headers)
{
    pt_str_t                  n;
    pt_http_variable_value_t *v;

    init();
    add_header(&r->headers_in.headers, "User-Agent", "curl/8", 1);
    add_header(&r->headers_in.headers, "X-Forwarded-For", "1.1.1.1", 1);
    add_header(&r->headers_in.headers, "Cookie", "a=1", 1);
    add_header(&r->headers_in.headers, "x-forwarded-for", "2.2.2.2", 1);
    add_header(&r->headers_in.headers, "X-CUSTOM-Header", "yes", 1);
    add_header(&r->headers_in.headers, "Cookie", "b=2", 1);
    ck_val("http_user_agent", "curl/8");
    ck_val("http_x_forwarded_for", "1.1.1.1, 2.2.2.2");
    ck_val("http_cookie", "a=1; b=2");
    ck_val("http_x_custom_header", "yes");
    ck_val("http_missing", "<none>");

    /* by name at run time, not indexed */
    n = S("http_x_custom_header");
    v = pt_http_get_variable(r, &n);
    ck_assert_ptr_nonnull(v);
    ck_assert(v->valid);
    ck_assert_int_eq(v->len, 3);
    n = S("http_not_here");
    v = pt_http_get_variable(r, &n);
    ck_assert(v->not_found);
    n = S("no_such_variable");
    v = pt_http_get_variable(r, &n);
    ck_assert(v->not_found);
    /* an indexed one by name comes from the cache */
    n = S("http_user_agent");
    v = pt_http_get_variable(r, &n);
    ck_assert_ptr_eq(v, &r->variables[indexed("http_user_agent")]);
    n = S("request_id");   /* defined, and indexed */
    v = pt_http_get_variable(r, &n);
    ck_assert_int_eq(v->len, 32);
}
END_TEST

START_TEST(cookie_vars)
{
    init();
    add_header(&r->headers_in.headers, "Cookie", "x=0; abc=2", 1);
    add_header(&r->headers_in.headers, "COOKIE",
               "SESSION = xyz;other=1", 1);
    ck_val("cookie_session", "xyz");
    ck_val("cookie_abc", "2");
    ck_val("cookie_ab", "<none>");
}
END_TEST

START_TEST(arg_vars)
{
    pt_str_t v;

    init();
    r->args = S("a=1&bb=2&c&B=3&a=9");
    ck_val("arg_a", "1");
    ck_val("arg_b", "3");
    ck_val("arg_c", "<none>");
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "bb", 2, &v), PT_OK);
    ck_assert_int_eq(v.len, 1);
    ck_assert_int_eq(v.data[0], '2');
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "d", 1, &v), PT_DECLINED);
    r->args = S("a=");
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "a", 1, &v), PT_OK);
    ck_assert_int_eq(v.len, 0);
}
END_TEST

START_TEST(content_vars)
{
    pt_table_elt_t ct = { 1, pt_string("Content-Type"),
                          pt_string("text/plain"), NULL, NULL };
    pt_table_elt_t cl = { 1, pt_string("Content-Length"), pt_string("12"),
                          NULL, NULL };

    init();
    ck_val("content_type", "<none>");
    ck_val("content_length", "<none>");
    new_request();
    r->headers_in.content_type = &ct;
    r->headers_in.content_length = &cl;
    ck_val("content_type", "text/plain");
    ck_val("content_length", "12");
    new_request();
    r->headers_in.content_length_n = 77;
    ck_val("content_length", "77");
}
END_TEST

START_TEST(number_vars)
{
    init();
    r->request_length = 345;
    conn.sent = 1000;
    r->header_size = 200;
    ck_val("request_length", "345");
    ck_val("bytes_sent", "1000");
    ck_val("body_bytes_sent", "800");
    conn.sent = 100;
    ck_val("body_bytes_sent", "0");
    ck_val("connection", "42");
    ck_val("connection_requests", "3");
    r->headers_out.status = 200;
    ck_val("status", "200");
    r->err_status = 404;
    ck_val("status", "404");
    r->err_status = 0;
    r->headers_out.status = 0;
    ck_val("status", "000");
    r->headers_out.status = 99;
    ck_val("status", "099");
}
END_TEST

START_TEST(time_vars)
{
    char want[64];

    init();
    pt_time_update();
    pt_time_msec = 1234567;
    ck_val("msec", "1234.567");
    r->start_sec = 1000;
    r->start_msec = 250;
    pt_time_msec = 1002300;
    ck_val("request_time", "2.050");
    pt_time_msec = 999000;   /* a clock step back: not negative */
    ck_val("request_time", "0.000");
    snprintf(want, sizeof(want), "%.*s", (int) pt_cached_http_log_time.len,
             pt_cached_http_log_time.data);
    ck_val("time_local", want);
    snprintf(want, sizeof(want), "%.*s",
             (int) pt_cached_http_log_iso8601.len,
             pt_cached_http_log_iso8601.data);
    ck_val("time_iso8601", want);
    ck_assert_int_eq(strlen(want), 25);
}
END_TEST

START_TEST(pid_and_request_id)
{
    char want[32];
    char first[64];
    const char *id;
    size_t i;

    init();
    snprintf(want, sizeof(want), "%d", (int) getpid());
    ck_val("pid", want);
    id = val("request_id");
    ck_assert_int_eq(strlen(id), 32);
    for (i = 0; i < 32; i++) {
        ck_assert(strchr("0123456789abcdef", id[i]) != NULL);
    }
    strcpy(first, id);
    ck_val("request_id", first);    /* the same within the request */
    new_request();
    ck_assert_str_ne(val("request_id"), first);
}
END_TEST

START_TEST(sent_http_vars)
{
    pt_table_elt_t *loc;

    init();
    add_header(&r->headers_out.headers, "X-Foo", "gone", 0);   /* deleted */
    add_header(&r->headers_out.headers, "X-Foo", "bar", 1);
    ck_val("sent_http_x_foo", "bar");
    ck_val("sent_http_content_type", "<none>");
    ck_val("sent_http_content_length", "<none>");
    ck_val("sent_http_location", "<none>");
    ck_val("sent_http_last_modified", "<none>");
    ck_val("sent_http_transfer_encoding", "<none>");
    ck_val("sent_http_keep_alive", "<none>");
    ck_val("sent_http_connection", "close");

    r->headers_out.content_type = S("text/html");
    r->headers_out.content_length_n = 1234;
    r->headers_out.last_modified_time = 784111777;
    add_header(&r->headers_out.headers, "Location", "/next", 1);
    r->chunked = 1;
    r->keepalive = 1;
    clcf.keepalive_header = 75;
    ck_val("sent_http_content_type", "text/html");
    ck_val("sent_http_content_length", "1234");
    ck_val("sent_http_last_modified", "Sun, 06 Nov 1994 08:49:37 GMT");
    ck_val("sent_http_location", "/next");
    ck_val("sent_http_transfer_encoding", "chunked");
    ck_val("sent_http_connection", "keep-alive");
    ck_val("sent_http_keep_alive", "timeout=75");
    loc = r->headers_out.headers.elts;
    loc[2].hash = 0;   /* cleared */
    ck_val("sent_http_location", "<none>");
    r->headers_out.status = PT_HTTP_SWITCHING_PROTOCOLS;
    ck_val("sent_http_connection", "upgrade");
}
END_TEST

START_TEST(captures_as_variables)
{
    static int caps[] = { 0, 9, 1, 4, 5, 9 };

    init();
    ck_val("1", "<none>");
    r->captures = caps;
    r->ncaptures = 6;
    r->captures_data = (u_char *) "/abc/def";
    ck_val("1", "abc");
    ck_val("2", "def");
    ck_val("9", "<none>");
}
END_TEST

START_TEST(file_vars)
{
    char real[300], link[300];

    init();
    ck_val("document_root", "/var/www");
    r->uri = S("/a/b.html");
    ck_val("request_filename", "/var/www/a/b.html");

    snprintf(real, sizeof(real), "%s/real", dir);
    snprintf(link, sizeof(link), "%s/link", dir);
    ck_assert_int_eq(mkdir(real, 0755), 0);
    ck_assert_int_eq(symlink(real, link), 0);
    clcf.root = S(link);
    new_request();
    ck_val("document_root", link);
    ck_val("realpath_root", real);
    clcf.root = S("/nonexistent/portico/root");
    new_request();
    ck_val("realpath_root", "<error>");
    ck_log_has("realpath() \"/nonexistent/portico/root\" failed");
}
END_TEST

START_TEST(document_root_with_variables)
{
    pt_http_complex_value_t cv;
    pt_str_t                value = S("/srv/$host");

    ck_assert_int_eq(pt_http_compile_complex_value(&tc_cf, &value, &cv), PT_OK);
    clcf.root_values = &cv;
    init();
    r->headers_in.server = S("a.example");
    ck_val("document_root", "/srv/a.example");

    /* relative: under the prefix, like the file path */
    pt_http_cycle_prefix = S("/usr/local/portico/");
    value = S("html/$host");
    ck_assert_int_eq(pt_http_compile_complex_value(&tc_cf, &value, &cv), PT_OK);
    new_request();
    r->headers_in.server = S("b.example");
    ck_val("document_root", "/usr/local/portico/html/b.example");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Regexes                                                             */

START_TEST(regex_named_captures)
{
    pt_http_regex_t  re, re2;
    pt_str_t         pat = S("^/(?<user>[a-z]+)/(\\d+)$");
    pt_str_t         pat2 = S("^/x(?<USER>.)");
    pt_str_t         s;

    ck_assert_int_eq(pt_http_regex_compile(&tc_cf, &re, &pat, 0), PT_OK);
    ck_assert_uint_eq(re.ncaptures, 2);
    ck_assert_uint_eq(re.nvariables, 1);
    ck_assert_uint_eq(cmcf->ncaptures, 2);
    /* the same name in another regex is the same (changeable) variable */
    ck_assert_int_eq(pt_http_regex_compile(&tc_cf, &re2, &pat2, 1), PT_OK);
    ck_assert_uint_eq(cmcf->ncaptures, 2);
    init();

    ck_val("user", "<none>");
    s = S("/bob/42");
    ck_assert_int_eq(pt_http_regex_exec(r, &re, &s), PT_OK);
    ck_assert_ptr_nonnull(r->captures);
    ck_assert_uint_eq(r->ncaptures, 6);
    ck_assert_ptr_eq(r->captures_data, s.data);
    ck_val("user", "bob");
    ck_val("User", "bob");
    ck_val("1", "bob");
    ck_val("2", "42");

    s = S("/Bob/42");
    ck_assert_int_eq(pt_http_regex_exec(r, &re, &s), PT_DECLINED);
    ck_val("user", "bob");   /* unchanged by a failed match */
    s = S("/XZ");            /* caseless */
    ck_assert_int_eq(pt_http_regex_exec(r, &re2, &s), PT_OK);
    ck_val("user", "Z");
    ck_val("2", "<none>");
}
END_TEST

START_TEST(regex_errors)
{
    pt_http_regex_t  re;
    pt_str_t         bad = S("(abc"), dup = S("(?<host>.)");

    ck_assert_int_eq(pt_http_regex_compile(&tc_cf, &re, &bad, 0), PT_ERROR);
    ck_log_has("pcre2_compile() failed");
    ck_assert_int_eq(pt_http_regex_compile(&tc_cf, &re, &dup, 0), PT_ERROR);
    ck_log_has("the duplicate \"host\" variable");
}
END_TEST

START_TEST(regex_without_captures)
{
    pt_http_regex_t  re;
    pt_str_t         pat = S("\\.php$"), s = S("/index.php");

    ck_assert_int_eq(pt_http_regex_compile(&tc_cf, &re, &pat, 0), PT_OK);
    init();
    ck_assert_int_eq(pt_http_regex_exec(r, &re, &s), PT_OK);
    ck_assert_ptr_null(r->captures);
    s = S("/index.html");
    ck_assert_int_eq(pt_http_regex_exec(r, &re, &s), PT_DECLINED);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_variables");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, duplicate_variable);
    tcase_add_test(tc, index_reuse_and_case);
    tcase_add_test(tc, unknown_variable_names_first_use);
    tcase_add_test(tc, variable_defined_after_use);
    tcase_add_test(tc, cache_and_flush);
    tcase_add_test(tc, cacheable_vs_nocacheable_builtins);
    tcase_add_test(tc, request_line_vars);
    tcase_add_test(tc, set_args_and_limit_rate);
    tcase_add_test(tc, host_and_server_vars);
    tcase_add_test(tc, server_addr_wildcard_uses_getsockname);
    tcase_add_test(tc, remote_addr_vars);
    tcase_add_test(tc, scheme_https);
    tcase_add_test(tc, http_prefix_headers);
    tcase_add_test(tc, cookie_vars);
    tcase_add_test(tc, arg_vars);
    tcase_add_test(tc, content_vars);
    tcase_add_test(tc, number_vars);
    tcase_add_test(tc, time_vars);
    tcase_add_test(tc, pid_and_request_id);
    tcase_add_test(tc, sent_http_vars);
    tcase_add_test(tc, captures_as_variables);
    tcase_add_test(tc, file_vars);
    tcase_add_test(tc, document_root_with_variables);
    tcase_add_test(tc, regex_named_captures);
    tcase_add_test(tc, regex_errors);
    tcase_add_test(tc, regex_without_captures);
    suite_add_tcase(s, tc);
    return s;
}

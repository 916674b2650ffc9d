/*
 * Unit tests for worker/http_script: complex values (literals, $var,
 * ${var}, captures, the '$' edge cases and their nginx-worded errors,
 * one evaluation per value), the complex value setter, the escapes and
 * query-argument lookup.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "conf_helper.h"
#include "worker/conn.h"
#include "worker/http_core.h"
#include "worker/http_request.h"
#include "worker/http_script.h"
#include "worker/http_variables.h"

#define NMODULES 4

static void                     *main_conf[NMODULES];
static pt_http_core_main_conf_t *cmcf;
static pt_connection_t           conn;
static pt_http_request_t        *r;
static int                       counter;

/* $ctr: a new number on each evaluation (no_cacheable). */
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

static void
setup(void)
{
    pt_str_t            name = S("ctr");
    pt_http_variable_t *v;

    tc_conf_setup("script", NULL, PT_CONF_HTTP);

    pt_http_core_module.index = 1;
    cmcf = pt_pcalloc(tc_pool, sizeof(*cmcf));
    main_conf[1] = cmcf;
    tc_ctx.main_conf = main_conf;
    ck_assert_int_eq(pt_http_variables_add_core_vars(&tc_cf), PT_OK);
    v = pt_http_add_variable(&tc_cf, &name, PT_HTTP_VAR_NOCACHEABLE);
    ck_assert_ptr_nonnull(v);
    v->get_handler = get_counter;
    counter = 0;

    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    conn.log = &tc_log;
}

static void
teardown(void)
{
    tc_conf_teardown();
}

static void
new_request(void)
{
    r = pt_pcalloc(tc_pool, sizeof(*r));
    r->pool = tc_pool;
    r->connection = &conn;
    r->main_conf = main_conf;
    r->main = r;
    r->variables = pt_pcalloc(tc_pool, pt_http_variables_count(cmcf)
                                       * sizeof(pt_http_variable_value_t) + 1);
    ck_assert_int_eq(pt_array_init(&r->headers_in.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    r->uri = S("/p/q");
    r->args = S("a=1");
    r->headers_in.server = S("h.example");
}

static void
compile_ok(const char *text, pt_http_complex_value_t *cv)
{
    pt_str_t v = S(text);

    ck_assert_int_eq(pt_http_compile_complex_value(&tc_cf, &v, cv), PT_OK);
}

static void
compile_err(const char *text, const char *msg)
{
    pt_http_complex_value_t cv;
    pt_str_t                v = S(text);

    ck_assert_int_eq(pt_http_compile_complex_value(&tc_cf, &v, &cv), PT_ERROR);
    ck_log_has(msg);
}

static void
init(void)
{
    ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_OK);
    new_request();
}

static const char *
eval(pt_http_complex_value_t *cv)
{
    static char buf[512];
    pt_str_t    out;

    ck_assert_int_eq(pt_http_complex_value(r, cv, &out), PT_OK);
    snprintf(buf, sizeof(buf), "%.*s", (int) out.len, out.data);
    return buf;
}

START_TEST(literal_is_not_copied)
{
    pt_http_complex_value_t cv;
    pt_str_t                out;

    compile_ok("plain text", &cv);
    ck_assert(!cv.has_vars);
    init();
    ck_assert_int_eq(pt_http_complex_value(r, &cv, &out), PT_OK);
    ck_assert_ptr_eq(out.data, cv.value.data);
    ck_assert_uint_eq(out.len, 10);
    compile_ok("", &cv);
    ck_assert_int_eq(pt_http_complex_value(r, &cv, &out), PT_OK);
    ck_assert_uint_eq(out.len, 0);
}
END_TEST

START_TEST(variables_and_braces)
{
    pt_http_complex_value_t a, b, c, d, e;

    compile_ok("a$uri-b", &a);
    compile_ok("${uri}suffix", &b);
    compile_ok("$uri$args", &c);
    compile_ok("[$http_nothing]${host}", &d);
    compile_ok("$host", &e);
    ck_assert(a.has_vars);
    ck_assert_uint_eq(a.nparts, 3);
    init();
    ck_assert_str_eq(eval(&a), "a/p/q-b");
    ck_assert_str_eq(eval(&b), "/p/qsuffix");
    ck_assert_str_eq(eval(&c), "/p/qa=1");
    ck_assert_str_eq(eval(&d), "[]h.example");
    ck_assert_str_eq(eval(&e), "h.example");
    ck_assert_uint_eq(pt_http_complex_value_size(r, &a), 7);
    /* $uri is no_cacheable: a changed URI shows at once */
    r->uri = S("/new");
    ck_assert_str_eq(eval(&a), "a/new-b");
}
END_TEST

START_TEST(captures)
{
    pt_http_complex_value_t cv, cv2;
    static int              caps[] = { 0, 7, 1, 3, 4, 7 };

    compile_ok("$1-$2x$12$9", &cv);
    compile_ok("${1}0", &cv2);   /* a capture by name, Portico's extension */
    init();
    ck_assert_str_eq(eval(&cv), "-x2");   /* no match yet: empty */
    r->captures = caps;
    r->ncaptures = 6;
    r->captures_data = (u_char *) "abc/def";
    ck_assert_str_eq(eval(&cv), "bc-defxbc2");
    ck_assert_str_eq(eval(&cv2), "bc0");
}
END_TEST

START_TEST(dollar_edge_cases)
{
    compile_err("$", "invalid variable name in \"$\"");
    compile_err("abc$", "invalid variable name in \"abc$\"");
    compile_err("$$", "invalid variable name in \"$$\"");
    compile_err("a$-b", "invalid variable name in \"a$-b\"");
    compile_err("${}", "invalid variable name in \"${}\"");
    compile_err("${uri", "the closing bracket in \"uri\" variable is missing");
    compile_err("${ur-i}", "the closing bracket in \"ur\" variable is "
                "missing");
}
END_TEST

START_TEST(unknown_variable_in_value)
{
    pt_http_complex_value_t cv;
    pt_conf_node_t          node;

    memset(&node, 0, sizeof(node));
    node.file = "/etc/p.conf";
    node.line = 7;
    tc_cf.node = &node;
    compile_ok("x$nosuch", &cv);
    tc_cf.node = NULL;
    ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_ERROR);
    ck_log_has("unknown \"nosuch\" variable in /etc/p.conf:7");
}
END_TEST

START_TEST(one_evaluation_per_value)
{
    pt_http_complex_value_t cv;

    compile_ok("$ctr-$ctr-${ctr}", &cv);
    init();
    /* both passes and every occurrence see one evaluation */
    ck_assert_str_eq(eval(&cv), "1-1-1");
    ck_assert_str_eq(eval(&cv), "2-2-2");
    ck_assert_uint_eq(pt_http_complex_value_size(r, &cv), 5);
    ck_assert_int_eq(counter, 3);
}
END_TEST

START_TEST(setter)
{
    struct {
        int                      pad;
        pt_http_complex_value_t *cv;
    } conf;
    pt_command_t  cmd = { "x", 0, pt_http_set_complex_value_slot, 0,
                          offsetof(__typeof__(conf), cv), NULL };
    pt_str_t      args[2] = { pt_string("x"), pt_string("v=$uri") };

    tc_cf.args = args;
    tc_cf.nargs = 2;
    conf.cv = PT_CONF_UNSET_PTR;
    ck_assert_ptr_null(pt_http_set_complex_value_slot(&tc_cf, &cmd, &conf));
    ck_assert_ptr_nonnull(conf.cv);
    ck_assert(conf.cv->has_vars);
    ck_assert_str_eq(pt_http_set_complex_value_slot(&tc_cf, &cmd, &conf),
                     "is duplicate");
    conf.cv = NULL;
    args[1] = S("bad$");
    ck_assert_ptr_eq(pt_http_set_complex_value_slot(&tc_cf, &cmd, &conf),
                     PT_CONF_ERROR);
    ck_assert_ptr_null(conf.cv);
}
END_TEST

static const char *
esc(const char *in, size_t n, pt_uint_t type)
{
    static char  out[512];
    size_t       want = pt_http_escape(NULL, (const u_char *) in, n, type);
    size_t       got;

    memset(out, 'Z', sizeof(out));
    got = pt_http_escape((u_char *) out, (const u_char *) in, n, type);
    ck_assert_uint_eq(got, want);
    ck_assert_int_eq(out[got], 'Z');   /* nothing written past the end */
    out[got] = '\0';
    return out;
}

#define ESC(s, t) esc((s), sizeof(s) - 1, (t))

START_TEST(escapes)
{
    ck_assert_str_eq(ESC("/a b#c%d?e&f+g;h\x01\xff~", PT_HTTP_ESCAPE_URI),
                     "/a%20b%23c%25d%3Fe&f+g;h%01%FF~");
    ck_assert_str_eq(ESC("/a b#c%d?e&f+g;h=i", PT_HTTP_ESCAPE_ARGS),
                     "/a%20b%23c%25d%3Fe%26f%2Bg%3Bh=i");
    ck_assert_str_eq(ESC("aZ0-._~/?=& ", PT_HTTP_ESCAPE_URI_COMPONENT),
                     "aZ0-._~%2F%3F%3D%26%20");
    ck_assert_str_eq(ESC("a b\"c'd#e%f<g>", PT_HTTP_ESCAPE_HTML_URI),
                     "a%20b%22c%27d%23e%25f<g>");
    ck_assert_str_eq(ESC("<a href=\"x\">&amp;'", PT_HTTP_ESCAPE_HTML),
                     "&lt;a href=&quot;x&quot;&gt;&amp;amp;'");
    ck_assert_str_eq(ESC("q\"b\\n\n\r\t\b\f\x01\x1f\xc3\xa9",
                         PT_HTTP_ESCAPE_JSON),
                     "q\\\"b\\\\n\\n\\r\\t\\b\\f\\u0001\\u001F\xc3\xa9");
    ck_assert_str_eq(ESC("GET \"/\\x\"\x7f\x1b\xe9 ok", PT_HTTP_ESCAPE_LOG),
                     "GET \\x22/\\x5Cx\\x22\\x7F\\x1B\\xE9 ok");
    ck_assert_uint_eq(pt_http_escape(NULL, (u_char *) "abc", 3,
                                     PT_HTTP_ESCAPE_URI), 3);
    ck_assert_uint_eq(pt_http_escape(NULL, (u_char *) "", 0,
                                     PT_HTTP_ESCAPE_JSON), 0);
}
END_TEST

START_TEST(args_lookup)
{
    pt_str_t v;

    init();
    r->args = S("x=1&foo=bar&Foo=no&empty=&flag&last=end");
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "foo", 3, &v), PT_OK);
    ck_assert_int_eq(v.len, 3);
    ck_assert_int_eq(memcmp(v.data, "bar", 3), 0);
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "FOO", 3, &v), PT_OK);
    ck_assert_int_eq(memcmp(v.data, "bar", 3), 0);
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "empty", 5, &v), PT_OK);
    ck_assert_int_eq(v.len, 0);
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "flag", 4, &v), PT_DECLINED);
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "fo", 2, &v), PT_DECLINED);
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "last", 4, &v), PT_OK);
    ck_assert_int_eq(memcmp(v.data, "end", 3), 0);
    ck_assert_int_eq(v.len, 3);
    r->args.len = 0;
    r->args.data = NULL;
    ck_assert_int_eq(pt_http_arg(r, (u_char *) "x", 1, &v), PT_DECLINED);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_script");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, literal_is_not_copied);
    tcase_add_test(tc, variables_and_braces);
    tcase_add_test(tc, captures);
    tcase_add_test(tc, dollar_edge_cases);
    tcase_add_test(tc, unknown_variable_in_value);
    tcase_add_test(tc, one_evaluation_per_value);
    tcase_add_test(tc, setter);
    tcase_add_test(tc, escapes);
    tcase_add_test(tc, args_lookup);
    suite_add_tcase(s, tc);
    return s;
}

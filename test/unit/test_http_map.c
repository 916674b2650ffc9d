/*
 * Unit tests for worker/http_map (included to reach its statics): the
 * kinds of hostnames keys, lookups (exact keys in any case, wildcards by
 * precedence, regexes in order with captures, the default), volatile
 * maps, include inside the block and the nginx-worded config errors.
 * Maps are parsed from text and applied as in an http block.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "conf_helper.h"
#include "worker/conn.h"
#include "worker/http_map.c"

static char                      incpath[64];
static void                     *main_conf[2];
static pt_module_t              *modules[2];
static pt_http_core_main_conf_t *cmcf;
static pt_connection_t           conn;
static pt_http_request_t        *r;

static void
setup(void)
{
    tc_conf_setup("map", modules, PT_CONF_HTTP);
    incpath[0] = '\0';

    /* core 0 (its main conf only), map 1 */
    pt_http_core_module.index = 0;
    pt_http_map_module.index = 1;
    modules[0] = &pt_http_map_module;
    modules[1] = NULL;

    cmcf = pt_pcalloc(tc_pool, sizeof(*cmcf));
    main_conf[0] = cmcf;
    tc_ctx.main_conf = main_conf;
    main_conf[1] = create_main_conf(&tc_cf);
    ck_assert_int_eq(pt_http_variables_add_core_vars(&tc_cf), PT_OK);

    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    conn.log = &tc_log;
}

static void
teardown(void)
{
    if (incpath[0]) {
        unlink(incpath);
    }
    tc_conf_teardown();
}

static int
apply(const char *text)
{
    int rc = tc_apply(text);

    if (rc == PT_OK) {
        ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_OK);
    }
    return rc;
}

static void
new_request(const char *uri, const char *args, const char *host)
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
    r->uri = S(uri);
    r->args = S(args);
    r->headers_in.server = S(host);
}

static const char *
var(const char *name)
{
    static char               buf[256];
    pt_str_t                  n = S(name);
    pt_http_variable_value_t *vv = pt_http_get_variable(r, &n);

    ck_assert_ptr_nonnull(vv);
    ck_assert(!vv->not_found);
    snprintf(buf, sizeof(buf), "%.*s", (int) vv->len, vv->data);
    return buf;
}

/* $m for the query argument k=arg. */
static const char *
lookup(const char *arg)
{
    static char args[128];

    snprintf(args, sizeof(args), "k=%s", arg);
    new_request("/", args, "h");
    return var("m");
}

/* $h for the host. */
static const char *
host(const char *name)
{
    new_request("/", "", name);
    return var("h");
}

static int
kind(const char *key, const char *cut, int domain)
{
    pt_str_t k = S(key);
    int      d, rc = wildcard_kind(&k, &d);

    if (rc != PT_ERROR) {
        ck_assert_int_eq((int) k.len, (int) strlen(cut));
        ck_assert(memcmp(k.data, cut, k.len) == 0);
        ck_assert_int_eq(d, domain);
    }
    return rc;
}

START_TEST(hostname_key_kinds)
{
    ck_assert_int_eq(kind("example.com", "example.com", 0), KEY_EXACT);
    ck_assert_int_eq(kind("*.example.com", "example.com", 0), KEY_HEAD);
    ck_assert_int_eq(kind(".example.com", "example.com", 1), KEY_HEAD);
    ck_assert_int_eq(kind("www.example.*", "www.example", 0), KEY_TAIL);
    ck_assert_int_eq(kind(".", ".", 0), KEY_EXACT);
    ck_assert_int_eq(kind("a*b", "", 0), PT_ERROR);
    ck_assert_int_eq(kind("*.a.*", "", 0), PT_ERROR);
    ck_assert_int_eq(kind("a..b", "", 0), PT_ERROR);
    ck_assert_int_eq(kind("*", "", 0), PT_ERROR);
}
END_TEST

START_TEST(exact_regex_default)
{
    ck_assert_int_eq(apply("map $arg_k $m {"
                           "  default def;"
                           "  Foo upper;"
                           "  \\default escaped;"
                           "  ~^r(\\d+)$ \"num $1\";"
                           "  ~*^R(?<rest>.*)$ \"any $rest\";"
                           "  ~^r second;"
                           "  \"\" empty;"
                           "}"), PT_OK);
    ck_assert_str_eq(lookup("foo"), "upper");
    ck_assert_str_eq(lookup("FOO"), "upper");
    ck_assert_str_eq(lookup("default"), "escaped");
    ck_assert_str_eq(lookup("r12"), "num 12");
    ck_assert_str_eq(lookup("Rx"), "any x");
    ck_assert_str_eq(lookup("rx"), "any x");
    ck_assert_str_eq(lookup("zz"), "def");
    ck_assert_str_eq(lookup(""), "empty");
}
END_TEST

START_TEST(empty_source_skips_regexes)
{
    ck_assert_int_eq(apply("map $arg_k $m { ~.* any; }"), PT_OK);
    ck_assert_str_eq(lookup("x"), "any");
    /* no default: the empty string */
    ck_assert_str_eq(lookup(""), "");
}
END_TEST

START_TEST(hostnames_precedence)
{
    ck_assert_int_eq(apply("map $host $h {"
                           "  hostnames;"
                           "  default none;"
                           "  a.example.com exact;"
                           "  *.example.com star;"
                           "  *.b.example.com deep;"
                           "  .example.org dot;"
                           "  www.example.* tail;"
                           "  www.example.co.* longtail;"
                           "}"), PT_OK);
    ck_assert_str_eq(host("a.example.com"), "exact");
    ck_assert_str_eq(host("z.a.example.com"), "star");
    ck_assert_str_eq(host("x.y.b.example.com"), "deep");
    ck_assert_str_eq(host("b.example.com"), "star");
    ck_assert_str_eq(host("example.com"), "none");
    ck_assert_str_eq(host("example.org"), "dot");
    ck_assert_str_eq(host("q.example.org"), "dot");
    /* head wildcards win over tail ones */
    ck_assert_str_eq(host("www.example.com"), "star");
    ck_assert_str_eq(host("www.example.net"), "tail");
    ck_assert_str_eq(host("www.example.co.uk"), "longtail");
    ck_assert_str_eq(host("www.example"), "none");
    /* the trailing dot of a source is ignored */
    ck_assert_str_eq(host("a.example.com."), "exact");
}
END_TEST

START_TEST(values_with_variables)
{
    ck_assert_int_eq(apply("map $uri$arg_k $m {"
                           "  /a1 \"uri $uri\";"
                           "  default \"[$arg_k]\";"
                           "}"), PT_OK);
    new_request("/a", "k=1", "h");
    ck_assert_str_eq(var("m"), "uri /a");
    new_request("/b", "k=2", "h");
    ck_assert_str_eq(var("m"), "[2]");
}
END_TEST

START_TEST(volatile_is_evaluated_again)
{
    pt_http_core_main_conf_t *c = cmcf;
    pt_http_variable_t       *v;
    pt_uint_t                 i;

    /* the third map only gives $m and $mv an index (a cache slot) */
    ck_assert_int_eq(apply("map $uri $m { /a A; default other; }"
                           "map $uri $mv { volatile; /a A; default other; }"
                           "map \"$m $mv\" $use { }"), PT_OK);
    v = c->variables.elts;
    for (i = 0; i < c->variables.nelts; i++) {
        if (v[i].name.len == 2 && memcmp(v[i].name.data, "mv", 2) == 0) {
            ck_assert(v[i].flags & PT_HTTP_VAR_NOCACHEABLE);
        }
        if (v[i].name.len == 1 && v[i].name.data[0] == 'm') {
            ck_assert(!(v[i].flags & PT_HTTP_VAR_NOCACHEABLE));
        }
    }
    new_request("/a", "", "h");
    ck_assert_str_eq(var("m"), "A");
    ck_assert_str_eq(var("mv"), "A");
    r->uri = S("/b");
    ck_assert_str_eq(var("m"), "A");
    ck_assert_str_eq(var("mv"), "other");
}
END_TEST

START_TEST(include_in_block)
{
    char text[256];
    int  fd;

    strcpy(incpath, "/tmp/pt_map_inc_XXXXXX");
    fd = mkstemp(incpath);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "inc included;\n", 14), 14);
    close(fd);
    snprintf(text, sizeof(text), "map $arg_k $m { include %s; x y; }",
             incpath);
    ck_assert_int_eq(apply(text), PT_OK);
    ck_assert_str_eq(lookup("inc"), "included");
    ck_assert_str_eq(lookup("x"), "y");
}
END_TEST

START_TEST(config_errors)
{
    tc_apply_err("map $a b { }", "invalid variable name \"b\"");
    tc_apply_err("map $a $b { a; }", "invalid number of the map parameters");
    tc_apply_err("map $a $b { a b c; }",
                 "invalid number of the map parameters");
    tc_apply_err("map $a $b { default a; default b; }",
                 "duplicate default map parameter");
    tc_apply_err("map $a $b { x 1; X 2; }", "conflicting parameter \"x\"");
    tc_apply_err("map $a $b { hostnames; .a.com 1; a.com 2; }",
                 "conflicting parameter \"a.com\"");
    tc_apply_err("map $a $b { hostnames; *.a.com 1; .A.com 2; }",
                 "conflicting parameter \".a.com\"");
    tc_apply_err("map $a $b { hostnames; a*b 1; }",
                 "invalid hostname or wildcard \"a*b\"");
    tc_apply_err("map $a $b { ~( 1; }", "missing closing parenthesis");
    tc_apply_err("map $a $b { k { } }", "unexpected \"{\"");
    tc_apply_err("map $a $uri { }", "the duplicate \"uri\" variable");
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_map");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, hostname_key_kinds);
    tcase_add_test(tc, exact_regex_default);
    tcase_add_test(tc, empty_source_skips_regexes);
    tcase_add_test(tc, hostnames_precedence);
    tcase_add_test(tc, values_with_variables);
    tcase_add_test(tc, volatile_is_evaluated_again);
    tcase_add_test(tc, include_in_block);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    return s;
}

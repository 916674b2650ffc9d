/*
 * Unit tests for worker/http_rewrite (included to reach its statics) and
 * the conditions of http_rewrite_if: redirect unescaping, replacements
 * with captures and arguments, the flags, set, break, if blocks that
 * switch the request's conf, every condition and the config errors. The
 * directives are parsed from text and applied as in a location block.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "conf_helper.h"
#include "worker/conn.h"
#include "worker/http_rewrite.c"

static char                      dirpath[64];
static void                     *main_conf[2];
static pt_module_t              *modules[3];
static pt_http_core_main_conf_t *cmcf;
static pt_connection_t           conn;
static pt_http_request_t        *r;

static void
setup(void)
{
    tc_conf_setup("rewrite", modules, PT_CONF_HTTP);

    tc_cycle.modules_n = 2;

    /* the module list of this test: core 0, rewrite 1 */
    pt_http_core_module.index = 0;
    pt_http_rewrite_module.index = 1;
    modules[0] = &pt_http_core_module;
    modules[1] = &pt_http_rewrite_module;
    modules[2] = NULL;

    cmcf = pt_pcalloc(tc_pool, sizeof(*cmcf));
    main_conf[0] = cmcf;
    tc_ctx.main_conf = main_conf;
    ck_assert_int_eq(pt_http_variables_add_core_vars(&tc_cf), PT_OK);

    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    conn.log = &tc_log;

    strcpy(dirpath, "/tmp/pt_rewrite_dir_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dirpath));
}

static void
teardown(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/file", dirpath);
    unlink(path);
    snprintf(path, sizeof(path), "%s/exe", dirpath);
    unlink(path);
    rmdir(dirpath);
    tc_conf_teardown();
}

/* Merge a level and the "if" confs inside it, as the http block does. */
static void
merge(void **parent, void **conf)
{
    pt_http_loc_conf_t  *clcf;
    void              ***nested;
    pt_uint_t            i, m;

    for (m = 0; modules[m] != NULL; m++) {
        ck_assert_ptr_eq(modules[m]->merge_loc_conf(&tc_cf, parent[m], conf[m]),
                         PT_CONF_OK);
    }
    clcf = conf[0];
    nested = clcf->nested ? clcf->nested->elts : NULL;
    for (i = 0; nested && i < clcf->nested->nelts; i++) {
        merge(conf, nested[i]);
    }
}

/* The directives of `text` as a location's (PT_OK), or the apply error. */
static int
apply(const char *text)
{
    static void *srv[2];
    int          rc;
    pt_uint_t    m;

    tc_ctx.loc_conf = pt_pcalloc(tc_pool, 2 * sizeof(void *));
    for (m = 0; m < 2; m++) {
        srv[m] = modules[m]->create_loc_conf(&tc_cf);
        tc_ctx.loc_conf[m] = modules[m]->create_loc_conf(&tc_cf);
    }
    tc_cf.ctx_type = PT_CONF_LOCATION;
    rc = tc_apply(text);
    if (rc != PT_OK) {
        return rc;
    }
    merge(srv, tc_ctx.loc_conf);
    ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_OK);
    return PT_OK;
}

static void
new_request(const char *uri, const char *args)
{
    r = pt_pcalloc(tc_pool, sizeof(*r));
    r->pool = tc_pool;
    r->connection = &conn;
    r->main_conf = main_conf;
    r->loc_conf = tc_ctx.loc_conf;
    r->main = r;
    r->method = PT_HTTP_GET;
    r->variables = pt_pcalloc(tc_pool, pt_http_variables_count(cmcf)
                                       * sizeof(pt_http_variable_value_t) + 1);
    ck_assert_int_eq(pt_array_init(&r->headers_in.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    ck_assert_int_eq(pt_array_init(&r->headers_out.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    r->uri = S(uri);
    r->args = S(args);
    r->headers_in.server = S("h.example");
}

static int
run(void)
{
    rewrite_loc_conf_t *rlcf = tc_ctx.loc_conf[1];

    return rlcf->ops != NULL ? run_ops(r, rlcf) : PT_DECLINED;
}

static const char *
var(const char *name)
{
    static char               buf[256];
    pt_str_t                  n = S(name);
    pt_http_variable_value_t *vv = pt_http_get_variable(r, &n);

    ck_assert_ptr_nonnull(vv);
    snprintf(buf, sizeof(buf), "%.*s", vv->not_found ? 0 : (int) vv->len,
             vv->data);
    return buf;
}

static const char *
str(pt_str_t *s)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%.*s", (int) s->len, s->data);
    return buf;
}

static const char *
location(void)
{
    ck_assert_ptr_nonnull(r->headers_out.location);
    return str(&r->headers_out.location->value);
}

static const char *
unescaped(const char *in)
{
    static u_char buf[128];
    size_t        n = strlen(in);

    memcpy(buf, in, n);
    n = unescape_redirect(buf, n);
    buf[n] = '\0';
    return (char *) buf;
}

START_TEST(redirect_unescaping)
{
    ck_assert_str_eq(unescaped("/a%41%7e%7E"), "/aA~~");
    /* space, "%", controls and 8-bit bytes stay escaped */
    ck_assert_str_eq(unescaped("/a%20b%25%0a%C3%A9"), "/a%20b%25%0a%C3%A9");
    ck_assert_str_eq(unescaped("/a%2Fb%2fc"), "/a/b/c");
    /* malformed escapes are dropped, as nginx drops them */
    ck_assert_str_eq(unescaped("/x%zz"), "/xzz");
    ck_assert_str_eq(unescaped("/x%4zy"), "/xy");
    ck_assert_str_eq(unescaped("/x%4"), "/x");
    ck_assert_str_eq(unescaped("/x%"), "/x");
    /* the arguments are left alone, and "%3F" starts them */
    ck_assert_str_eq(unescaped("/x?a=%41%20"), "/x?a=%41%20");
    ck_assert_str_eq(unescaped("/x%3Fa=%41"), "/x?a=%41");
}
END_TEST

START_TEST(rewrite_last_with_args)
{
    ck_assert_int_eq(apply("rewrite ^/p/(.*)$ /x/$1?k=$1 last;"
                           "return 404;"), PT_OK);
    new_request("/p/q", "a=1");
    ck_assert_int_eq(run(), PT_DECLINED);
    ck_assert_str_eq(str(&r->uri), "/x/q");
    ck_assert_str_eq(str(&r->args), "k=q&a=1");
    ck_assert(r->uri_changed);
    ck_assert(r->internal);

    /* no match: the next directive runs */
    new_request("/other", "");
    ck_assert_int_eq(run(), 404);
}
END_TEST

START_TEST(rewrite_args_dropped_or_replaced)
{
    ck_assert_int_eq(apply("rewrite ^/a$ /b? last;"
                           "rewrite ^/c$ /d?n=1? last;"
                           "rewrite ^/e$ /f last;"), PT_OK);
    new_request("/a", "o=1");
    run();
    ck_assert_str_eq(str(&r->uri), "/b");
    ck_assert_uint_eq(r->args.len, 0);
    new_request("/c", "o=1");
    run();
    ck_assert_str_eq(str(&r->uri), "/d");
    ck_assert_str_eq(str(&r->args), "n=1");
    new_request("/e", "o=1");
    run();
    ck_assert_str_eq(str(&r->uri), "/f");
    ck_assert_str_eq(str(&r->args), "o=1");
}
END_TEST

START_TEST(rewrite_flags)
{
    ck_assert_int_eq(apply("rewrite ^/red/(.*)$ /t/$1 redirect;"
                           "rewrite ^/perm/(.*)$ /t/$1 permanent;"
                           "rewrite ^/url/(.*)$ https://x.test/$1?v=1;"
                           "rewrite ^/brk/(.*)$ /t/$1 break;"
                           "rewrite ^/go/(.*)$ /t/$1;"
                           "return 404;"), PT_OK);
    new_request("/red/a", "o=1");
    ck_assert_int_eq(run(), 302);
    ck_assert_str_eq(location(), "/t/a?o=1");
    new_request("/perm/a", "");
    ck_assert_int_eq(run(), 301);
    ck_assert_str_eq(location(), "/t/a");
    /* a "?" in a redirect joins the old arguments with "&" */
    new_request("/url/a", "o=1");
    ck_assert_int_eq(run(), 302);
    ck_assert_str_eq(location(), "https://x.test/a?v=1&o=1");
    new_request("/brk/a", "");
    ck_assert_int_eq(run(), PT_DECLINED);
    ck_assert_str_eq(str(&r->uri), "/t/a");
    ck_assert(!r->uri_changed);
    /* no flag: the directives after it run on the new URI */
    new_request("/go/a", "");
    ck_assert_int_eq(run(), 404);
    ck_assert_str_eq(str(&r->uri), "/t/a");
    ck_assert(r->uri_changed);
}
END_TEST

START_TEST(captures_escaped_in_args_and_redirects)
{
    ck_assert_int_eq(apply("rewrite ^/r/(.*)$ /t/$1 redirect;"
                           "rewrite ^/a/(.*)$ /t/$1?v=$1 last;"), PT_OK);
    /* "/r/a b+c" was "%20"-quoted on the wire */
    new_request("/r/a b+c", "");
    r->quoted_uri = 1;
    ck_assert_int_eq(run(), 302);
    ck_assert_str_eq(location(), "/t/a%20b+c");
    new_request("/a/x&y z", "");
    r->quoted_uri = 1;
    run();
    ck_assert_str_eq(str(&r->uri), "/t/x&y z");
    ck_assert_str_eq(str(&r->args), "v=x%26y%20z");
    /* an unquoted URI's captures are copied as they are */
    new_request("/a/x&y", "");
    run();
    ck_assert_str_eq(str(&r->args), "v=x&y");
}
END_TEST

START_TEST(zero_length_uri_is_an_error)
{
    ck_assert_int_eq(apply("rewrite ^ ? last;"), PT_OK);
    new_request("/z", "a=1");
    ck_assert_int_eq(run(), PT_HTTP_INTERNAL_SERVER_ERROR);
    ck_log_has("the rewritten URI has a zero length");
}
END_TEST

START_TEST(set_break_and_variables)
{
    ck_assert_int_eq(apply("set $a A;"
                           "set $b \"$a-$uri\";"
                           "set $a A2;"
                           "set $args x=1;"
                           "if ($arg_stop) { break; }"
                           "set $c after;"), PT_OK);
    new_request("/p", "stop=1");
    ck_assert_int_eq(run(), PT_DECLINED);
    ck_assert_str_eq(var("a"), "A2");
    ck_assert_str_eq(var("b"), "A-/p");
    ck_assert_str_eq(str(&r->args), "x=1");
    /* "set $args" replaced the arguments the if tests: $arg_stop is gone */
    ck_assert_str_eq(var("c"), "after");
}
END_TEST

START_TEST(uninitialized_variable)
{
    ck_assert_int_eq(apply("if ($arg_x) { set $never 1; }"), PT_OK);
    new_request("/p", "");
    ck_assert_int_eq(run(), PT_DECLINED);
    ck_assert_str_eq(var("never"), "");
    ck_log_has("using uninitialized \"never\" variable");
}
END_TEST

START_TEST(set_of_a_prefix_variable)
{
    /* $arg_x reads the argument until "set" gives it a value (nginx's
     * weak definition) */
    ck_assert_int_eq(apply("if ($arg_q) { set $arg_x s; }"), PT_OK);
    new_request("/p", "x=1");
    run();
    ck_assert_str_eq(var("arg_x"), "1");
    new_request("/p", "x=1&q=1");
    run();
    ck_assert_str_eq(var("arg_x"), "s");
}
END_TEST

START_TEST(if_switches_the_conf)
{
    pt_http_loc_conf_t *clcf;

    ck_assert_int_eq(apply("root /outer;"
                           "if ($arg_in = yes) { root /inner; sendfile on; }"
                           "set $after done;"), PT_OK);
    new_request("/p", "in=yes");
    ck_assert_int_eq(run(), PT_DECLINED);
    clcf = pt_http_core_loc_conf(r);
    ck_assert_ptr_ne(r->loc_conf, tc_ctx.loc_conf);
    ck_assert_str_eq((char *) clcf->root.data, "/inner");
    ck_assert_int_eq(clcf->sendfile, 1);
    /* the ops after the block still run */
    ck_assert_str_eq(var("after"), "done");

    new_request("/p", "in=no");
    ck_assert_int_eq(run(), PT_DECLINED);
    ck_assert_ptr_eq(r->loc_conf, tc_ctx.loc_conf);
    ck_assert_str_eq((char *) pt_http_core_loc_conf(r)->root.data, "/outer");
}
END_TEST

START_TEST(if_conf_inherits_from_its_location)
{
    ck_assert_int_eq(apply("root /outer; sendfile on;"
                           "if ($arg_a) { limit_rate 5; }"), PT_OK);
    new_request("/p", "a=1");
    run();
    ck_assert_str_eq((char *) pt_http_core_loc_conf(r)->root.data, "/outer");
    ck_assert_int_eq(pt_http_core_loc_conf(r)->sendfile, 1);
    ck_assert_uint_eq(r->limit_rate, 5);
}
END_TEST

START_TEST(conditions)
{
    ck_assert_int_eq(apply("set $r '';"
                           "if ($arg_v) { set $r \"${r}v\"; }"
                           "if ($arg_v = abc) { set $r \"${r}=\"; }"
                           "if ($arg_v != abc) { set $r \"${r}!\"; }"
                           "if ($arg_v ~ ^a(b)) { set $r \"${r}~$1\"; }"
                           "if ($arg_v ~* ^A(?<nb>B)) { set $r \"${r}*$nb\"; }"
                           "if ($arg_v !~ ^x) { set $r \"${r}n[$1]\"; }"
                           "if ($arg_v !~* ^X) { set $r \"${r}N\"; }"),
                     PT_OK);
    new_request("/p", "v=abc");
    run();
    ck_assert_str_eq(var("r"), "v=~b*bn[]N");
    new_request("/p", "v=0");
    run();
    ck_assert_str_eq(var("r"), "!n[]N");
    new_request("/p", "v=");
    run();
    ck_assert_str_eq(var("r"), "!n[]N");
}
END_TEST

START_TEST(file_conditions)
{
    char conf[1024], path[128];
    int  fd;

    snprintf(path, sizeof(path), "%s/file", dirpath);
    fd = open(path, O_CREAT | O_WRONLY, 0644);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(path, sizeof(path), "%s/exe", dirpath);
    fd = open(path, O_CREAT | O_WRONLY, 0755);
    ck_assert_int_ge(fd, 0);
    close(fd);

    snprintf(conf, sizeof(conf),
             "set $d %s; set $r '';"
             "if (-f $d/$arg_n) { set $r \"${r}f\"; }"
             "if (!-f $d/$arg_n) { set $r \"${r}F\"; }"
             "if (-d $d/$arg_n) { set $r \"${r}d\"; }"
             "if (!-d $d/$arg_n) { set $r \"${r}D\"; }"
             "if (-e $d/$arg_n) { set $r \"${r}e\"; }"
             "if (!-e $d/$arg_n) { set $r \"${r}E\"; }"
             "if (-x $d/$arg_n) { set $r \"${r}x\"; }"
             "if (!-x $d/$arg_n) { set $r \"${r}X\"; }", dirpath);
    ck_assert_int_eq(apply(conf), PT_OK);
    new_request("/p", "n=file");
    run();
    ck_assert_str_eq(var("r"), "fDeX");
    new_request("/p", "n=exe");
    run();
    ck_assert_str_eq(var("r"), "fDex");
    new_request("/p", "n=");
    run();
    ck_assert_str_eq(var("r"), "Fdex");
    new_request("/p", "n=none");
    run();
    ck_assert_str_eq(var("r"), "FDEX");
}
END_TEST

START_TEST(return_forms)
{
    ck_assert_int_eq(apply("if ($arg_c = 1) { return 404; }"
                           "if ($arg_c = 2) { return 404 \"\"; }"
                           "if ($arg_c = 3) { return 301; }"
                           "if ($arg_c = 4) { return http://x.test/$uri; }"
                           "return 500;"), PT_OK);
    new_request("/p", "c=1");
    ck_assert_int_eq(run(), 404);
    new_request("/p", "c=2");
    ck_assert_int_eq(run(), 404);
    /* a redirect code alone still sets Location, empty (nginx) */
    new_request("/p", "c=3");
    ck_assert_int_eq(run(), 301);
    ck_assert_str_eq(location(), "");
    new_request("/p", "c=4");
    ck_assert_int_eq(run(), 302);
    ck_assert_str_eq(location(), "http://x.test//p");
    new_request("/p", "c=5");
    ck_assert_int_eq(run(), 500);
}
END_TEST

static void
apply_err(const char *text, const char *msg)
{
    ck_assert_int_eq(apply(text), PT_ERROR);
    ck_log_has(msg);
}

START_TEST(config_errors)
{
    apply_err("if $a { }", "invalid condition \"$a\"");
    apply_err("if ($a ~ ) { }", "invalid condition \"$a\"");
    apply_err("if ($a ! b) { }", "unexpected \"!\" in condition");
    apply_err("if (-z $a) { }", "invalid condition \"-z\"");
    apply_err("if ( ) { }", "invalid condition \")\"");
    apply_err("if ($a) { if ($b) { } }", "\"if\" directive is not allowed");
    apply_err("rewrite ^ \"\";", "empty replacement");
    apply_err("rewrite ^ /x foo;", "invalid parameter \"foo\"");
    apply_err("rewrite ( /x;", "missing closing parenthesis");
    apply_err("set a b;", "invalid variable name \"a\"");
    apply_err("set $uri b;", "the duplicate \"uri\" variable");
    apply_err("return 1000;", "invalid return code \"1000\"");
    apply_err("return abc;", "invalid return code \"abc\"");
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_rewrite");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, redirect_unescaping);
    tcase_add_test(tc, rewrite_last_with_args);
    tcase_add_test(tc, rewrite_args_dropped_or_replaced);
    tcase_add_test(tc, rewrite_flags);
    tcase_add_test(tc, captures_escaped_in_args_and_redirects);
    tcase_add_test(tc, zero_length_uri_is_an_error);
    tcase_add_test(tc, set_break_and_variables);
    tcase_add_test(tc, uninitialized_variable);
    tcase_add_test(tc, set_of_a_prefix_variable);
    tcase_add_test(tc, if_switches_the_conf);
    tcase_add_test(tc, if_conf_inherits_from_its_location);
    tcase_add_test(tc, conditions);
    tcase_add_test(tc, file_conditions);
    tcase_add_test(tc, return_forms);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Unit tests for worker/http_upstream_conf (included to reach its statics):
 * upstream blocks and server parameters, every address of a name, the
 * implicit groups of proxy_pass targets (before and after a block of that
 * name), run-time lookup, and nginx's wording for config errors.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "conf_helper.h"
#include "worker/http_upstream_conf.c"

static void       *main_conf[2];
static pt_module_t *modules[2];
static pt_http_upstream_main_conf_t *umcf;

static void
setup(void)
{
    tc_conf_setup("upconf", modules, PT_CONF_HTTP);

    tc_cycle.modules_n = 1;
    pt_http_upstream_module.index = 0;
    modules[0] = &pt_http_upstream_module;
    modules[1] = NULL;

    tc_ctx.main_conf = main_conf;
    umcf = create_main_conf(&tc_cf);
    main_conf[0] = umcf;
}

static void
teardown(void)
{
    tc_conf_teardown();
}

/* proxy_pass's call, as if made at line `line` of t.conf. */
static pt_http_upstream_srv_conf_t *
add(const char *url, pt_uint_t line)
{
    static pt_conf_node_t node;
    pt_str_t              u = S(url);

    memset(&node, 0, sizeof(node));
    node.file = "t.conf";
    node.line = line;
    tc_cf.node = &node;
    return pt_http_upstream_add(&tc_cf, &u, 80);
}

static pt_http_upstream_srv_conf_t *
find(const char *name)
{
    pt_http_request_t r;
    pt_str_t          n = S(name);

    memset(&r, 0, sizeof(r));
    r.main_conf = main_conf;
    return pt_http_upstream_find(&r, &n);
}

START_TEST(block_and_params)
{
    pt_http_upstream_srv_conf_t *us;
    pt_http_upstream_server_t   *s;
    pt_http_upstream_rr_peers_t *peers;

    ck_assert_int_eq(tc_apply("upstream b {\n"
                           "  server 127.0.0.1:8080 weight=3 max_fails=2"
                           " fail_timeout=5s max_conns=7;\n"
                           "  server unix:/tmp/x.sock down;\n"
                           "  server [::1]:81 backup;\n"
                           "}\n"), PT_OK);
    ck_assert_int_eq(init_upstreams(&tc_cf), PT_OK);
    us = find("b");
    ck_assert_ptr_nonnull(us);
    ck_assert_ptr_null(find("c"));
    ck_assert_uint_eq(us->servers->nelts, 3);
    s = us->servers->elts;
    ck_assert_uint_eq(s[0].weight, 3);
    ck_assert_uint_eq(s[0].max_fails, 2);
    ck_assert_int_eq(s[0].fail_timeout, 5);
    ck_assert_uint_eq(s[0].max_conns, 7);
    ck_assert(s[1].down);
    ck_assert(s[2].backup);
    ck_assert_uint_eq(s[1].weight, 1);
    ck_assert_uint_eq(s[1].max_fails, 1);
    ck_assert_int_eq(s[1].fail_timeout, 10);

    peers = us->peer_data;
    ck_assert_uint_eq(peers->number, 2);
    ck_assert_uint_eq(peers->total_weight, 4);
    ck_assert_int_eq((int) peers->peer[0].name.len, 14);
    ck_assert(memcmp(peers->peer[0].name.data, "127.0.0.1:8080", 14) == 0);
    ck_assert(memcmp(peers->peer[1].name.data, "unix:/tmp/x.sock", 16) == 0);
    ck_assert(peers->peer[1].down);
    ck_assert_uint_eq(peers->next->number, 1);
    ck_assert(memcmp(peers->next->peer[0].name.data, "[::1]:81", 8) == 0);
    ck_assert_ptr_eq(us->srv_conf[0], us);
}
END_TEST

START_TEST(every_address_of_a_name)
{
    pt_http_upstream_srv_conf_t *us;
    pt_http_upstream_server_t   *s;

    ck_assert_int_eq(tc_apply("upstream b { server localhost:9; }"), PT_OK);
    ck_assert_int_eq(init_upstreams(&tc_cf), PT_OK);
    us = find("b");
    s = us->servers->elts;
    ck_assert_uint_ge(s[0].naddrs, 1);
    ck_assert_uint_eq(((pt_http_upstream_rr_peers_t *) us->peer_data)->number,
                      s[0].naddrs);
}
END_TEST

START_TEST(errors)
{
    tc_apply_err("upstream b {\n\n}\n", "no servers are inside upstream in "
                                     "t.conf:3");
}
END_TEST

START_TEST(error_duplicate)
{
    tc_apply_err("upstream b { server 127.0.0.1; }\n"
                 "upstream b { server 127.0.0.1; }\n",
                 "duplicate upstream \"b\" in t.conf:2");
}
END_TEST

START_TEST(error_params)
{
    tc_apply_err("upstream b { server 127.0.0.1 weight=0; }",
                 "invalid parameter \"weight=0\" in t.conf:1");
}
END_TEST

START_TEST(error_params2)
{
    tc_apply_err("upstream b {\nserver 127.0.0.1 fail_timeout=x; }",
                 "invalid parameter \"fail_timeout=x\" in t.conf:2");
}
END_TEST

START_TEST(error_host)
{
    tc_apply_err("upstream b { server nosuchhost.invalid; }",
                 "host not found in upstream \"nosuchhost.invalid\" "
                 "in t.conf:1");
}
END_TEST

START_TEST(error_port)
{
    tc_apply_err("upstream b { server 127.0.0.1:0; }",
                 "invalid port in upstream \"127.0.0.1:0\" in t.conf:1");
}
END_TEST

START_TEST(error_only_backup)
{
    ck_assert_int_eq(tc_apply("upstream b {\nserver 127.0.0.1 backup; }"),
                     PT_OK);
    ck_assert_int_eq(init_upstreams(&tc_cf), PT_ERROR);
    ck_log_has("no servers in upstream \"b\" in t.conf:1");
}
END_TEST

START_TEST(implicit_groups)
{
    pt_http_upstream_srv_conf_t *a, *b, *c, *u;
    pt_http_upstream_rr_peers_t *peers;

    a = add("127.0.0.1:8080", 5);
    b = add("127.0.0.1:8080", 6);
    c = add("127.0.0.1:8081", 7);
    u = add("unix:/tmp/s.sock", 8);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(a, b);
    ck_assert_ptr_ne(a, c);
    ck_assert_int_eq(init_upstreams(&tc_cf), PT_OK);
    peers = a->peer_data;
    ck_assert_uint_eq(peers->number, 1);
    ck_assert(memcmp(peers->peer[0].name.data, "127.0.0.1:8080", 14) == 0);
    peers = u->peer_data;
    ck_assert(memcmp(peers->peer[0].name.data, "unix:/tmp/s.sock", 16) == 0);
    /* implicit groups are not found by name at run time */
    ck_assert_ptr_null(find("127.0.0.1"));
}
END_TEST

START_TEST(name_before_and_after_block)
{
    pt_http_upstream_srv_conf_t *before, *after, *found;

    before = add("b", 3);
    ck_assert_int_eq(tc_apply("upstream b { server 127.0.0.1:9000; }"), PT_OK);
    after = add("b", 9);
    ck_assert_int_eq(init_upstreams(&tc_cf), PT_OK);
    found = find("b");
    ck_assert_ptr_eq(after, found);
    ck_assert_ptr_eq(before, found);
    ck_assert(memcmp(((pt_http_upstream_rr_peers_t *) before->peer_data)
                         ->peer[0].name.data, "127.0.0.1:9000", 14) == 0);
}
END_TEST

START_TEST(port_on_block_name_after)
{
    ck_assert_int_eq(tc_apply("upstream b { server 127.0.0.1:9000; }"), PT_OK);
    ck_assert_ptr_null(add("b:80", 12));
    ck_log_has("upstream \"b\" may not have port 80 in t.conf:12");
}
END_TEST

START_TEST(port_on_block_name_before)
{
    ck_assert_ptr_nonnull(add("b:8080", 4));
    tc_apply_err("upstream b { server 127.0.0.1:9000; }",
                 "upstream \"b\" may not have port 8080 in t.conf:4");
}
END_TEST

START_TEST(implicit_host_not_found)
{
    ck_assert_ptr_nonnull(add("nosuch.invalid", 21));
    ck_assert_int_eq(init_upstreams(&tc_cf), PT_ERROR);
    ck_log_has("host not found in upstream \"nosuch.invalid\" in t.conf:21");
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_conf");
    TCase *tc = tcase_create("conf");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, block_and_params);
    tcase_add_test(tc, every_address_of_a_name);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, error_duplicate);
    tcase_add_test(tc, error_params);
    tcase_add_test(tc, error_params2);
    tcase_add_test(tc, error_host);
    tcase_add_test(tc, error_port);
    tcase_add_test(tc, error_only_backup);
    tcase_add_test(tc, implicit_groups);
    tcase_add_test(tc, name_before_and_after_block);
    tcase_add_test(tc, port_on_block_name_after);
    tcase_add_test(tc, port_on_block_name_before);
    tcase_add_test(tc, implicit_host_not_found);
    suite_add_tcase(s, tc);
    return s;
}

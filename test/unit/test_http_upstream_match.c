/*
 * Unit tests for worker/http_upstream_match and the health_check
 * directive's parameters: match blocks parsed from text, responses judged
 * by status ranges (and their negation), header presence, equality and
 * regexes, body regexes; the default verdict (2xx/3xx); config errors.
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
#include "worker/http_upstream_health.h"

static void          *main_conf[1];
static void          *loc_conf[1];
static pt_module_t   *modules[2];
static pt_http_upstream_health_main_conf_t *hmcf;

static void
setup(void)
{
    tc_conf_setup("match", modules, PT_CONF_HTTP);
    tc_cycle.modules_n = 1;
    pt_http_upstream_health_module.index = 0;
    modules[0] = &pt_http_upstream_health_module;
    modules[1] = NULL;
    tc_ctx.main_conf = main_conf;
    tc_ctx.loc_conf = loc_conf;
    hmcf = pt_http_upstream_health_module.create_main_conf(&tc_cf);
    main_conf[0] = hmcf;
}

static void
teardown(void)
{
    tc_conf_teardown();
}

static pt_http_upstream_match_t *
match(const char *text)
{
    pt_str_t name = { 1, (u_char *) "m" };

    ck_assert_int_eq(tc_apply(text), PT_OK);
    return pt_http_upstream_match_find(hmcf, &name);
}

static int
judge(pt_http_upstream_match_t *m, const char *resp)
{
    return pt_http_upstream_match_test(m, (const u_char *) resp,
                                       strlen(resp));
}

#define R200 "HTTP/1.1 200 OK\r\nX-Origin: o2\r\nContent-Type: text/plain" \
             "\r\n\r\no2 body"

START_TEST(default_verdict)
{
    ck_assert_int_eq(judge(NULL, R200), 1);
    ck_assert_int_eq(judge(NULL, "HTTP/1.0 302 Found\r\n\r\n"), 1);
    ck_assert_int_eq(judge(NULL, "HTTP/1.0 404 Not Found\r\n\r\n"), 0);
    ck_assert_int_eq(judge(NULL, "HTTP/1.0 503 X\r\n\r\n"), 0);
    ck_assert_int_eq(judge(NULL, "garbage"), 0);
    ck_assert_int_eq(judge(NULL, "HTTP/1.1 200 OK\r\nX: y\r\n"), 0);
}
END_TEST

START_TEST(status_ranges)
{
    pt_http_upstream_match_t *m = match("match m { status 200-399 418; }");

    ck_assert_int_eq(judge(m, R200), 1);
    ck_assert_int_eq(judge(m, "HTTP/1.1 418 T\r\n\r\n"), 1);
    ck_assert_int_eq(judge(m, "HTTP/1.1 404 N\r\n\r\n"), 0);
}
END_TEST

START_TEST(status_negated)
{
    pt_http_upstream_match_t *m = match("match m { status ! 500-599; }");

    ck_assert_int_eq(judge(m, "HTTP/1.1 404 N\r\n\r\n"), 1);
    ck_assert_int_eq(judge(m, "HTTP/1.1 503 N\r\n\r\n"), 0);
}
END_TEST

START_TEST(headers_and_body)
{
    pt_http_upstream_match_t *m;

    m = match("match m { status 200; header X-Origin ~ \"^o\";\n"
              "header content-type = text/plain; header ! X-Bad;\n"
              "header X-Origin; body ~ \"^o[0-9] body$\"; }");
    ck_assert_int_eq(judge(m, R200), 1);
    ck_assert_int_eq(judge(m, "HTTP/1.1 200 OK\r\nX-Origin: p\r\n"
                              "Content-Type: text/plain\r\n\r\no2 body"), 0);
    ck_assert_int_eq(judge(m, "HTTP/1.1 200 OK\r\nX-Origin: o\r\n"
                              "Content-Type: text/html\r\n\r\no2 body"), 0);
    ck_assert_int_eq(judge(m, "HTTP/1.1 200 OK\r\nX-Origin: o\r\nX-Bad: 1\r\n"
                              "Content-Type: text/plain\r\n\r\no2 body"), 0);
    ck_assert_int_eq(judge(m, "HTTP/1.1 200 OK\r\nX-Origin: o\r\n"
                              "Content-Type: text/plain\r\n\r\nx"), 0);
}
END_TEST

START_TEST(negated_tests)
{
    pt_http_upstream_match_t *m;

    m = match("match m { header X-Origin != o1; body !~ down; }");
    ck_assert_int_eq(judge(m, R200), 1);
    ck_assert_int_eq(judge(m, "HTTP/1.1 200 OK\r\nX-Origin: o1\r\n\r\n"), 0);
    ck_assert_int_eq(judge(m, "HTTP/1.1 500 OK\r\n\r\nall down"), 0);
    /* no status condition: any status */
    ck_assert_int_eq(judge(m, "HTTP/1.1 500 OK\r\nX-Origin: o2\r\n\r\nfine"), 1);
}
END_TEST

START_TEST(errors)
{
    ck_assert_int_eq(tc_apply("match m { status 99; }"), PT_ERROR);
    ck_assert_ptr_nonnull(strstr(tc_log_text(),
                                 "invalid parameter \"99\" in t.conf:1"));
    ck_assert_int_eq(tc_apply("match n {\nfoo;\n}"), PT_ERROR);
    ck_assert_ptr_nonnull(strstr(tc_log_text(),
                                 "unknown directive \"foo\" in t.conf:2"));
    ck_assert_int_eq(tc_apply("match o { body x; }"), PT_ERROR);
    ck_assert_int_eq(tc_apply("match p { body ~ \"(\"; }"), PT_ERROR);
    ck_assert_ptr_nonnull(strstr(tc_log_text(), "pcre2_compile() failed"));
    ck_assert_int_eq(tc_apply("match q { } match q { }"), PT_ERROR);
    ck_assert_ptr_nonnull(strstr(tc_log_text(), "duplicate match \"q\""));
}
END_TEST

START_TEST(health_check_params)
{
    pt_http_upstream_health_check_t **hc;

    tc_cf.ctx_type = PT_CONF_LOCATION;
    ck_assert_int_eq(tc_apply("health_check interval=2s fails=3 passes=2 "
                           "uri=/h port=8081 match=m;"), PT_OK);
    hc = hmcf->checks.elts;
    ck_assert_int_eq(hc[0]->interval, 2000);
    ck_assert_uint_eq(hc[0]->fails, 3);
    ck_assert_uint_eq(hc[0]->passes, 2);
    ck_assert_uint_eq(hc[0]->port, 8081);
    ck_assert_int_eq((int) hc[0]->uri.len, 2);
    ck_assert_int_eq((int) hc[0]->match_name.len, 1);
    ck_assert_int_eq(tc_apply("health_check;"), PT_OK);
    ck_assert_int_eq(hc[1]->interval, 5000);
    ck_assert_int_eq(tc_apply("health_check fails=0;"), PT_ERROR);
    ck_assert_ptr_nonnull(strstr(tc_log_text(),
                                 "invalid parameter \"fails=0\" in t.conf:1"));
    ck_assert_int_eq(tc_apply("health_check uri=x;"), PT_ERROR);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_match");
    TCase *tc = tcase_create("match");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, default_verdict);
    tcase_add_test(tc, status_ranges);
    tcase_add_test(tc, status_negated);
    tcase_add_test(tc, headers_and_body);
    tcase_add_test(tc, negated_tests);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, health_check_params);
    suite_add_tcase(s, tc);
    return s;
}

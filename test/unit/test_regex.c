/*
 * Unit tests for common/regex: compile errors worded as nginx's, matches
 * and captures, unset groups, named captures, caseless and JIT modes.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/pool.h"
#include "common/regex.h"
#include "common/str.h"

static pt_regex_t *
compile(pt_pool_t *p, const char *pat, int caseless)
{
    pt_regex_t *re = pt_palloc(p, sizeof(pt_regex_t));
    pt_str_t    s;
    u_char      err[256];

    s.data = (u_char *) pat;
    s.len = strlen(pat);
    err[0] = '\0';
    ck_assert_int_eq(pt_regex_compile(p, re, &s, caseless, err, sizeof(err)),
                     PT_OK);
    return re;
}

static int
exec(pt_regex_t *re, const char *s, int *caps, pt_uint_t n)
{
    return pt_regex_exec(re, (const u_char *) s, strlen(s), caps, n);
}

START_TEST(compile_errors)
{
    pt_pool_t  *p = pt_pool_create(1024, NULL);
    pt_regex_t  re;
    pt_str_t    s;
    u_char      err[256];

    pt_str_set(&s, "(abc");
    ck_assert_int_eq(pt_regex_compile(p, &re, &s, 0, err, sizeof(err)),
                     PT_ERROR);
    ck_assert_str_eq((char *) err, "pcre2_compile() failed: missing closing "
                     "parenthesis in \"(abc\"");

    /* An error before the end names the rest of the pattern. */
    pt_str_set(&s, "a{2,1}b");
    ck_assert_int_eq(pt_regex_compile(p, &re, &s, 0, err, sizeof(err)),
                     PT_ERROR);
    ck_assert_msg(strncmp((char *) err, "pcre2_compile() failed: ", 24) == 0,
                  "%s", err);
    ck_assert_msg(strstr((char *) err, " in \"a{2,1}b\" at \"") != NULL,
                  "%s", err);

    /* A short buffer truncates, never overflows. */
    pt_str_set(&s, "(abc");
    memset(err, 'x', sizeof(err));
    ck_assert_int_eq(pt_regex_compile(p, &re, &s, 0, err, 10), PT_ERROR);
    ck_assert_uint_eq(strlen((char *) err), 9);
    ck_assert_int_eq(err[10], 'x');
    pt_pool_destroy(p);
}
END_TEST

START_TEST(match_and_captures)
{
    pt_pool_t  *p = pt_pool_create(1024, NULL);
    pt_regex_t *re;
    int         caps[8];

    re = compile(p, "^/img/(\\w+)\\.(png|gif)$", 0);
    ck_assert_uint_eq(re->captures, 2);
    ck_assert_str_eq((char *) re->pattern.data, "^/img/(\\w+)\\.(png|gif)$");

    ck_assert_int_eq(exec(re, "/img/logo.png", caps, 4), 3);
    ck_assert_int_eq(caps[0], 0);
    ck_assert_int_eq(caps[1], 13);
    ck_assert_int_eq(caps[2], 5);
    ck_assert_int_eq(caps[3], 9);
    ck_assert_int_eq(caps[4], 10);
    ck_assert_int_eq(caps[5], 13);
    ck_assert_int_eq(caps[6], -1);   /* past the regex's groups */
    ck_assert_int_eq(caps[7], -1);

    ck_assert_int_eq(exec(re, "/img/logo.PNG", caps, 4), PT_DECLINED);
    ck_assert_int_eq(exec(re, "/img/logo.png", NULL, 0), 3);

    /* Only the requested pairs are written. */
    caps[2] = 777;
    ck_assert_int_eq(exec(re, "/img/a.gif", caps, 1), 3);
    ck_assert_int_eq(caps[2], 777);

    /* Length, not NUL, bounds the subject. */
    ck_assert_int_eq(pt_regex_exec(re, (const u_char *) "/img/a.gifX", 10,
                                   caps, 4), 3);

    /* An unset group in the middle reads -1. */
    re = compile(p, "^(a)?(b)$", 0);
    ck_assert_int_eq(exec(re, "b", caps, 3), 3);
    ck_assert_int_eq(caps[2], -1);
    ck_assert_int_eq(caps[3], -1);
    ck_assert_int_eq(caps[4], 0);
    ck_assert_int_eq(caps[5], 1);
    pt_pool_destroy(p);
}
END_TEST

START_TEST(caseless_named_jit)
{
    pt_pool_t  *p = pt_pool_create(1024, NULL);
    pt_regex_t *re;
    pt_str_t    name;
    int         caps[6], jit;

    for (jit = 0; jit <= 1; jit++) {
        pt_regex_jit = jit;
        re = compile(p, "^(?<user>[a-z]+)\\.(?<zone>example)\\.net$", 1);
        ck_assert_uint_eq(re->captures, 2);
        ck_assert_uint_eq(re->nnames, 2);
        pt_str_set(&name, "user");
        ck_assert_int_eq(pt_regex_named(re, &name), 1);
        pt_str_set(&name, "zone");
        ck_assert_int_eq(pt_regex_named(re, &name), 2);
        pt_str_set(&name, "nope");
        ck_assert_int_eq(pt_regex_named(re, &name), -1);

        ck_assert_int_eq(exec(re, "Bob.EXAMPLE.net", caps, 3), 3);
        ck_assert_int_eq(caps[2], 0);
        ck_assert_int_eq(caps[3], 3);
        ck_assert_int_eq(exec(re, "bob.example.org", caps, 3), PT_DECLINED);
    }
    pt_regex_jit = 0;
    pt_pool_destroy(p);
}
END_TEST

START_TEST(match_data_grows)
{
    pt_pool_t  *p = pt_pool_create(1024, NULL);
    pt_regex_t *small, *big;
    char        pat[512], subj[64], *q = pat;
    int         caps[2 * 41], i;

    small = compile(p, "(a)", 0);
    for (i = 0; i < 40; i++) {
        q += sprintf(q, "(%c)", 'a' + i % 26);
        subj[i] = 'a' + i % 26;
    }
    subj[40] = '\0';
    big = compile(p, pat, 0);
    ck_assert_uint_eq(big->captures, 40);
    ck_assert_int_eq(exec(big, subj, caps, 41), 41);
    ck_assert_int_eq(caps[80], 39);
    ck_assert_int_eq(caps[81], 40);
    ck_assert_int_eq(exec(small, "xa", caps, 2), 2);
    ck_assert_int_eq(caps[2], 1);
    ck_assert_int_eq(caps[3], 2);
    pt_pool_destroy(p);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("regex");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, compile_errors);
    tcase_add_test(tc, match_and_captures);
    tcase_add_test(tc, caseless_named_jit);
    tcase_add_test(tc, match_data_grows);
    suite_add_tcase(s, tc);
    return s;
}

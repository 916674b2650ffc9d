/*
 * Unit tests for worker/http_cond. Rows in the "nginx" part of the table
 * are nginx 1.22.1's answers for a 10-byte static file with
 * Last-Modified: Thu, 15 Jan 2026 10:20:30 GMT and ETag: "6968bf6e-a"
 * (if_modified_since exact, before and off in three locations).
 */
#include <check.h>
#include <string.h>

#include "common/str.h"
#include "worker/http_cond.h"
#include "worker/http_core.h"
#include "worker/http_request.h"

#define E     "\"6968bf6e-a\""
#define WE    "W/\"6968bf6e-a\""
#define LM    "Thu, 15 Jan 2026 10:20:30 GMT"
#define OLD   "Thu, 15 Jan 2026 10:20:29 GMT"
#define NEW   "Thu, 15 Jan 2026 10:20:31 GMT"
#define MTIME ((time_t) 1768472430)

#define EXACT  PT_HTTP_IMS_EXACT
#define BEFORE PT_HTTP_IMS_BEFORE
#define OFF    PT_HTTP_IMS_OFF

/* The representation, unless a row says otherwise. */
#define STD   E, MTIME, 1

static const struct {
    const char *if_match;
    const char *if_none_match;
    const char *if_modified_since;
    const char *if_unmodified_since;
    pt_uint_t   mode;
    int         status;
    /* representation: etag, last_modified, GET/HEAD (0: e.g. PUT) */
    const char *etag;
    time_t      mtime;
    int         get_or_head;
} cases[] = {
    /* nginx 1.22.1 */
    { NULL, E, NULL, NULL, EXACT, 304, STD },
    { NULL, WE, NULL, NULL, EXACT, 304, STD },
    { NULL, "*", NULL, NULL, EXACT, 304, STD },
    { NULL, "\"x\", " E, NULL, NULL, EXACT, 304, STD },
    { NULL, "\"x\"," E " , \"y\"", NULL, NULL, EXACT, 304, STD },
    { NULL, "\"x\",W/" E, NULL, NULL, EXACT, 304, STD },
    { NULL, E "x", NULL, NULL, EXACT, 200, STD },
    { NULL, "\"6968bf6e-A\"", NULL, NULL, EXACT, 200, STD },
    { NULL, "\"6968bf6e\"", NULL, NULL, EXACT, 200, STD },
    { NULL, "", NULL, NULL, EXACT, 200, STD },
    { NULL, "\"a\", \"b\"", NULL, NULL, EXACT, 200, STD },
    { E, NULL, NULL, NULL, EXACT, 200, STD },
    { WE, NULL, NULL, NULL, EXACT, 412, STD },
    { "*", NULL, NULL, NULL, EXACT, 200, STD },
    { "\"nope\"", NULL, NULL, NULL, EXACT, 412, STD },
    { "\"nope\", " E, NULL, NULL, NULL, EXACT, 200, STD },
    { NULL, NULL, LM, NULL, EXACT, 304, STD },
    { NULL, NULL, NEW, NULL, EXACT, 200, STD },
    { NULL, NULL, OLD, NULL, EXACT, 200, STD },
    { NULL, NULL, NEW, NULL, BEFORE, 304, STD },
    { NULL, NULL, OLD, NULL, BEFORE, 200, STD },
    { NULL, NULL, LM, NULL, BEFORE, 304, STD },
    { NULL, NULL, LM, NULL, OFF, 200, STD },
    { NULL, NULL, "garbage", NULL, EXACT, 200, STD },
    { NULL, NULL, "garbage", NULL, BEFORE, 200, STD },
    { NULL, NULL, "Thursday, 15-Jan-26 10:20:30 GMT", NULL, EXACT, 304, STD },
    { NULL, NULL, "Thu Jan 15 10:20:30 2026", NULL, EXACT, 304, STD },
    { NULL, NULL, NULL, LM, EXACT, 200, STD },
    { NULL, NULL, NULL, NEW, EXACT, 200, STD },
    { NULL, NULL, NULL, OLD, EXACT, 412, STD },
    { NULL, NULL, NULL, "garbage", EXACT, 412, STD },
    { NULL, E, OLD, NULL, EXACT, 200, STD },
    { NULL, E, LM, NULL, EXACT, 304, STD },
    { NULL, "\"zz\"", LM, NULL, EXACT, 200, STD },
    { NULL, E, LM, NULL, OFF, 200, STD },
    { NULL, E, NEW, NULL, BEFORE, 304, STD },
    { "\"zz\"", E, NULL, NULL, EXACT, 412, STD },
    { E, E, NULL, NULL, EXACT, 304, STD },
    { E, NULL, NULL, OLD, EXACT, 412, STD },
    { E, NULL, NULL, NEW, EXACT, 200, STD },
    { "\"zz\"", NULL, NULL, NEW, EXACT, 412, STD },
    { "*", NULL, NULL, OLD, EXACT, 412, STD },
    { NULL, E, NULL, OLD, EXACT, 412, STD },
    { NULL, NULL, LM, OLD, EXACT, 412, STD },
    { E, E, LM, LM, EXACT, 304, STD },
    /* beyond nginx's static files (which it never serves to PUT and
     * whose ETag is strong): RFC 9110 and nginx's code */
    { NULL, E, NULL, NULL, EXACT, 412, E, MTIME, 0 },
    { NULL, "*", NULL, NULL, EXACT, 412, E, MTIME, 0 },
    { NULL, "\"zz\"", NULL, NULL, EXACT, 200, E, MTIME, 0 },
    { NULL, NULL, LM, NULL, EXACT, 200, E, MTIME, 0 },
    { E, NULL, NULL, NULL, EXACT, 200, E, MTIME, 0 },
    { "\"zz\"", NULL, NULL, NULL, EXACT, 412, E, MTIME, 0 },
    { NULL, NULL, NULL, OLD, EXACT, 412, E, MTIME, 0 },
    { NULL, E, NULL, NULL, EXACT, 304, WE, MTIME, 1 },
    { NULL, WE, NULL, NULL, EXACT, 304, WE, MTIME, 1 },
    { E, NULL, NULL, NULL, EXACT, 412, WE, MTIME, 1 },
    { WE, NULL, NULL, NULL, EXACT, 200, WE, MTIME, 1 },
    { NULL, E, NULL, NULL, EXACT, 200, NULL, MTIME, 1 },
    { NULL, "*", NULL, NULL, EXACT, 304, NULL, MTIME, 1 },
    { "*", NULL, NULL, NULL, EXACT, 200, NULL, MTIME, 1 },
    { E, NULL, NULL, NULL, EXACT, 412, NULL, MTIME, 1 },
    { NULL, NULL, LM, NULL, EXACT, 200, E, -1, 1 },
    { NULL, NULL, NULL, LM, EXACT, 412, E, -1, 1 },
    { NULL, "\"a\",\t" E, NULL, NULL, EXACT, 304, E, MTIME, 1 },
    { NULL, "\"a\" ,," E "\t", NULL, NULL, EXACT, 304, E, MTIME, 1 },
    { NULL, NULL, NULL, NULL, EXACT, 200, E, MTIME, 1 },
};

static const pt_str_t *
opt(pt_str_t *s, const char *v)
{
    if (v == NULL) {
        return NULL;
    }
    s->data = (u_char *) v;
    s->len = strlen(v);
    return s;
}

START_TEST(eval_table)
{
    pt_str_t       im, inm, ims, ius, etag;
    pt_http_cond_t c;
    int            rc;

    memset(&c, 0, sizeof(c));
    c.if_match = opt(&im, cases[_i].if_match);
    c.if_none_match = opt(&inm, cases[_i].if_none_match);
    c.if_modified_since = opt(&ims, cases[_i].if_modified_since);
    c.if_unmodified_since = opt(&ius, cases[_i].if_unmodified_since);
    c.etag = opt(&etag, cases[_i].etag);
    c.last_modified = cases[_i].mtime;
    c.get_or_head = cases[_i].get_or_head;
    c.ims_mode = cases[_i].mode;

    rc = pt_http_cond_eval(&c);
    ck_assert_msg(rc == cases[_i].status,
                  "row %d: If-Match %s If-None-Match %s IMS %s IUS %s: %d, "
                  "expected %d", _i, cases[_i].if_match,
                  cases[_i].if_none_match, cases[_i].if_modified_since,
                  cases[_i].if_unmodified_since, rc, cases[_i].status);
}
END_TEST

/* If-Range against E and MTIME: nginx 1.22.1 with "Range: bytes=0-1",
 * 206 when honoured, 200 otherwise. */
static const struct {
    const char *value;
    int         ok;
} if_range[] = {
    { E, 1 },
    { WE, 0 },
    { "\"6968bf6e-b\"", 0 },
    { LM, 1 },
    { NEW, 0 },
    { OLD, 0 },
    { "Thursday, 15-Jan-26 10:20:30 GMT", 1 },
    { "junk", 0 },
    { "\"", 0 },
    { "x\"", 0 },
};

START_TEST(if_range_table)
{
    pt_str_t v, etag = pt_string(E);

    opt(&v, if_range[_i].value);
    ck_assert_msg(pt_http_if_range_ok(&v, &etag, MTIME) == if_range[_i].ok,
                  "If-Range: %s", if_range[_i].value);
}
END_TEST

START_TEST(if_range_unknown)
{
    pt_str_t v = pt_string(E), date = pt_string(LM);
    pt_str_t weak = pt_string(WE);

    ck_assert_int_eq(pt_http_if_range_ok(&v, NULL, MTIME), 0);
    ck_assert_int_eq(pt_http_if_range_ok(&date, &v, -1), 0);
    /* nginx compares bytes: a weak tag matches itself */
    ck_assert_int_eq(pt_http_if_range_ok(&weak, &weak, MTIME), 1);
}
END_TEST

START_TEST(etag_make)
{
    u_char buf[PT_HTTP_ETAG_MAX_LEN + 1], *end;

    end = pt_http_etag_make(buf, MTIME, 10);
    *end = '\0';
    ck_assert_str_eq((char *) buf, E);                  /* nginx */

    end = pt_http_etag_make(buf, MTIME, 0);
    *end = '\0';
    ck_assert_str_eq((char *) buf, "\"6968bf6e-0\"");   /* nginx */

    end = pt_http_etag_make(buf, 4294967296LL, 12345678901LL);
    *end = '\0';
    ck_assert_str_eq((char *) buf, "\"100000000-2dfdc1c35\"");

    memset(buf, 'z', sizeof(buf));
    end = pt_http_etag_make(buf, (time_t) 0x7fffffffffffffffLL,
                            (off_t) 0x7fffffffffffffffLL);
    ck_assert_int_eq(end - buf, PT_HTTP_ETAG_MAX_LEN);
    ck_assert_int_eq(buf[PT_HTTP_ETAG_MAX_LEN], 'z');
}
END_TEST

START_TEST(etag_compare)
{
    pt_str_t a = pt_string("\"1\""), wa = pt_string("W/\"1\"");
    pt_str_t b = pt_string("\"2\""), wb = pt_string("W/\"2\"");

    /* RFC 9110 8.8.3.2's table */
    ck_assert_int_eq(pt_http_etag_eq(&wa, &wa, 0), 0);
    ck_assert_int_eq(pt_http_etag_eq(&wa, &wa, 1), 1);
    ck_assert_int_eq(pt_http_etag_eq(&wa, &wb, 0), 0);
    ck_assert_int_eq(pt_http_etag_eq(&wa, &wb, 1), 0);
    ck_assert_int_eq(pt_http_etag_eq(&wa, &a, 0), 0);
    ck_assert_int_eq(pt_http_etag_eq(&wa, &a, 1), 1);
    ck_assert_int_eq(pt_http_etag_eq(&a, &a, 0), 1);
    ck_assert_int_eq(pt_http_etag_eq(&a, &a, 1), 1);
    ck_assert_int_eq(pt_http_etag_eq(&a, &b, 1), 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_cond");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, eval_table, 0, (int) (sizeof(cases)
                                                  / sizeof(cases[0])));
    tcase_add_loop_test(tc, if_range_table, 0, (int) (sizeof(if_range)
                                                      / sizeof(if_range[0])));
    tcase_add_test(tc, if_range_unknown);
    tcase_add_test(tc, etag_make);
    tcase_add_test(tc, etag_compare);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * Unit tests for worker/http_accept_encoding (the q a request gives a
 * coding) and the pure gzip rules of worker/http_gzip_rules.c: the
 * gzip_proxied decision table and gzip_types matching.
 */
#include <check.h>
#include <string.h>

#include "common/array.h"
#include "common/pool.h"
#include "worker/http_accept_encoding.h"
#include "worker/http_gzip.h"

static const struct {
    const char *header;
    const char *coding;
    pt_int_t    q;
} ae_cases[] = {
    { "gzip", "gzip", 1000 },
    { "GZIP", "gzip", 1000 },
    { "gzip, deflate, br", "gzip", 1000 },
    { "deflate, gzip", "gzip", 1000 },
    { "deflate,gzip,br", "gzip", 1000 },
    { "  gzip  ,  br  ", "gzip", 1000 },
    { "\tgzip\t", "gzip", 1000 },
    { "x-gzip", "gzip", 1000 },
    { "X-Gzip;q=0.5", "gzip", 500 },
    { "gzip;q=0.5", "gzip", 500 },
    { "gzip; q=0.5", "gzip", 500 },
    { "gzip ; q = 0.5", "gzip", 500 },
    { "gzip;Q=0.25", "gzip", 250 },
    { "gzip;q=1", "gzip", 1000 },
    { "gzip;q=1.0", "gzip", 1000 },
    { "gzip;q=1.000", "gzip", 1000 },
    { "gzip;q=0.001", "gzip", 1 },
    { "gzip;q=0", "gzip", 0 },
    { "gzip;q=0.0", "gzip", 0 },
    { "gzip;q=0.000", "gzip", 0 },
    { "gzip;q=", "gzip", 0 },               /* malformed q: refused */
    { "gzip;q=1.5", "gzip", 0 },
    { "gzip;q=1.001", "gzip", 0 },
    { "gzip;q=0.0001", "gzip", 0 },
    { "gzip;q=2", "gzip", 0 },
    { "gzip;q=-1", "gzip", 0 },
    { "gzip;q=abc", "gzip", 0 },
    { "gzip;q=.5", "gzip", 0 },
    { "gzip;level=9", "gzip", 0 },          /* a weight only (RFC 9110) */
    { "gzip;level=9;q=0.3", "gzip", 0 },
    { "br;level=9, gzip", "gzip", 1000 },
    { "gzipx", "gzip", PT_AE_NOT_LISTED },  /* whole tokens only */
    { "xgzip", "gzip", PT_AE_NOT_LISTED },
    { "gzip2, deflate", "gzip", PT_AE_NOT_LISTED },
    { "deflate", "gzip", PT_AE_NOT_LISTED },
    { "", "gzip", PT_AE_NOT_LISTED },
    { ",,, ,", "gzip", PT_AE_NOT_LISTED },
    { "*", "gzip", 1000 },
    { "*;q=0.2", "gzip", 200 },
    { "*;q=0", "gzip", 0 },
    { "br, *;q=0.1", "gzip", 100 },
    { "gzip;q=0, *", "gzip", 0 },           /* its own entry wins */
    { "*, gzip;q=0", "gzip", 0 },
    { "*;q=0, gzip", "gzip", 1000 },
    { "gzip;q=0.5, gzip;q=1", "gzip", 500 },/* the first entry counts */
    { "identity", "gzip", PT_AE_NOT_LISTED },
    { "identity;q=0", "identity", 0 },
    { "identity", "identity", 1000 },
    { "gzip junk, br", "gzip", 0 },         /* junk after the coding */
    { "gzip,", "gzip", 1000 },
    { ";q=1, gzip", "gzip", 1000 },
    { "gzip;q=0.5 , deflate", "gzip", 500 },
    { "deflate;q=0.5;gzip", "gzip", PT_AE_NOT_LISTED },
};

START_TEST(ae_table)
{
    const char *h = ae_cases[_i].header;
    pt_int_t    q = pt_http_accept_encoding_q((const u_char *) h, strlen(h),
                                              ae_cases[_i].coding);

    ck_assert_msg(q == ae_cases[_i].q, "\"%s\" for %s: %ld, want %ld", h,
                  ae_cases[_i].coding, (long) q, (long) ae_cases[_i].q);
}
END_TEST

START_TEST(ae_ok_and_identity)
{
#define OK(h, c) pt_http_accept_encoding_ok((const u_char *) h, strlen(h), c)
#define ID(h) pt_http_accept_identity((const u_char *) h, strlen(h))
    ck_assert(OK("gzip", "gzip"));
    ck_assert(!OK("gzip;q=0", "gzip"));
    ck_assert(!OK("br", "gzip"));
    ck_assert(OK("*", "gzip"));
    ck_assert(ID("gzip"));
    ck_assert(ID(""));
    ck_assert(!ID("identity;q=0"));
    ck_assert(!ID("gzip, *;q=0"));
    ck_assert(ID("identity, *;q=0"));
#undef OK
#undef ID
}
END_TEST

START_TEST(ae_not_nul_terminated)
{
    const char buf[] = "gzip;q=0.5XXXX";

    /* the value ends before the junk: q is read from the given length */
    ck_assert_int_eq(pt_http_accept_encoding_q((const u_char *) buf, 10,
                                               "gzip"), 500);
    ck_assert_int_eq(pt_http_accept_encoding_q((const u_char *) buf, 2,
                                               "gzip"), PT_AE_NOT_LISTED);
}
END_TEST

/* gzip_proxied: flags, then the response facts, then the verdict. */
#define P(x) PT_GZIP_PROXIED_##x
static pt_table_elt_t cc_no_cache = { 1, pt_string("Cache-Control"),
                                      pt_string("no-cache"), NULL, NULL };
static pt_table_elt_t cc_max_age = { 1, pt_string("Cache-Control"),
                                     pt_string("max-age=60"), NULL, NULL };
static pt_table_elt_t cc_private2 = { 1, pt_string("Cache-Control"),
                                      pt_string("Private, max-age=0"), NULL,
                                      NULL };
static pt_table_elt_t cc_multi = { 1, pt_string("Cache-Control"),
                                   pt_string("public"), NULL, &cc_no_cache };
static pt_table_elt_t cc_store = { 1, pt_string("Cache-Control"),
                                   pt_string("no-store"), NULL, NULL };
static pt_str_t past = pt_string("Thu, 01 Jan 1970 00:00:01 GMT");
static pt_str_t future = pt_string("Fri, 01 Jan 2100 00:00:00 GMT");
static pt_str_t bad_time = pt_string("soon");
static pt_str_t date_2000 = pt_string("Sat, 01 Jan 2000 00:00:00 GMT");

static const struct {
    pt_uint_t        flags;
    int              auth;
    pt_str_t        *expires;
    pt_str_t        *date;
    pt_table_elt_t  *cc;
    int              lm, etag;
    int              ok;
} proxied_cases[] = {
    { P(OFF), 0, NULL, NULL, NULL, 0, 0, 0 },
    { P(OFF) | P(ANY), 0, NULL, NULL, NULL, 0, 0, 0 },
    { P(ANY), 0, &future, NULL, &cc_max_age, 1, 1, 1 },
    { P(AUTH), 1, &future, NULL, NULL, 1, 1, 1 },
    { P(AUTH), 0, NULL, NULL, &cc_max_age, 0, 0, 0 },
    { P(EXPIRED), 0, &past, NULL, NULL, 0, 0, 1 },
    { P(EXPIRED), 0, &future, NULL, NULL, 0, 0, 0 },
    { P(EXPIRED), 0, &bad_time, NULL, NULL, 0, 0, 0 },
    { P(EXPIRED), 0, &past, &bad_time, NULL, 0, 0, 0 },
    { P(EXPIRED), 0, &date_2000, &future, NULL, 0, 0, 1 },
    { P(NO_CACHE), 0, &past, NULL, NULL, 0, 0, 0 },   /* Expires decides */
    { P(NO_CACHE), 0, NULL, NULL, &cc_no_cache, 0, 0, 1 },
    { P(NO_CACHE), 0, NULL, NULL, &cc_multi, 0, 0, 1 },
    { P(NO_CACHE), 0, NULL, NULL, &cc_max_age, 0, 0, 0 },
    { P(NO_STORE), 0, NULL, NULL, &cc_store, 0, 0, 1 },
    { P(NO_STORE), 0, NULL, NULL, &cc_no_cache, 0, 0, 0 },
    { P(PRIVATE), 0, NULL, NULL, &cc_private2, 0, 0, 1 },
    { P(PRIVATE) | P(NO_STORE), 0, NULL, NULL, &cc_store, 0, 0, 1 },
    { P(NO_LM), 0, NULL, NULL, NULL, 1, 0, 0 },
    { P(NO_LM), 0, NULL, NULL, NULL, 0, 1, 1 },
    { P(NO_ETAG), 0, NULL, NULL, NULL, 0, 1, 0 },
    { P(NO_ETAG), 0, NULL, NULL, NULL, 1, 0, 1 },
    { P(NO_LM) | P(NO_ETAG), 0, NULL, NULL, NULL, 0, 0, 1 },
    /* nginx falls through to "compress" when no rule refuses */
    { P(EXPIRED), 0, NULL, NULL, NULL, 1, 1, 1 },
    { P(NO_CACHE), 0, NULL, NULL, NULL, 0, 0, 1 },
};

START_TEST(proxied_table)
{
    pt_http_gzip_proxied_in_t in;

    memset(&in, 0, sizeof(in));
    in.authorization = proxied_cases[_i].auth;
    in.expires = proxied_cases[_i].expires;
    in.date = proxied_cases[_i].date;
    in.now = 1700000000;
    in.cache_control = proxied_cases[_i].cc;
    in.last_modified = proxied_cases[_i].lm;
    in.etag = proxied_cases[_i].etag;
    ck_assert_msg(pt_http_gzip_proxied_ok(proxied_cases[_i].flags, &in)
                  == proxied_cases[_i].ok, "row %d", _i);
}
END_TEST

START_TEST(token_search)
{
    pt_str_t v = pt_string("public, no-cache=\"Set-Cookie\", max-age=0");
    pt_str_t w = pt_string("no-cachex, xno-store");

    ck_assert(pt_http_header_has_token(&v, "no-cache"));
    ck_assert(pt_http_header_has_token(&v, "MAX-AGE"));
    ck_assert(!pt_http_header_has_token(&v, "private"));
    ck_assert(!pt_http_header_has_token(&w, "no-cache"));
    ck_assert(!pt_http_header_has_token(&w, "no-store"));
}
END_TEST

START_TEST(types_match)
{
    pt_pool_t  *pool = pt_pool_create(1024, NULL);
    pt_array_t *a = pt_array_create(pool, 2, sizeof(pt_str_t));
    pt_str_t   *t;

    ck_assert_ptr_nonnull(a);
    t = pt_array_push(a);
    pt_str_set(t, "text/html");
    t = pt_array_push(a);
    pt_str_set(t, "application/json");
#define T(s, n) pt_http_gzip_type_ok(a, 0, (const u_char *) s, n)
    ck_assert(T("text/html", 9));
    ck_assert(T("Text/HTML", 9));
    ck_assert(T("application/json; charset=utf-8", 16));
    ck_assert(!T("text/htm", 8));
    ck_assert(!T("text/plain", 10));
    ck_assert(!T("", 0));
    ck_assert(pt_http_gzip_type_ok(a, 1, (const u_char *) "image/png", 9));
    ck_assert(!pt_http_gzip_type_ok(NULL, 0, (const u_char *) "a/b", 3));
#undef T
    pt_pool_destroy(pool);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_accept_encoding");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, ae_table, 0,
                        (int) (sizeof(ae_cases) / sizeof(ae_cases[0])));
    tcase_add_test(tc, ae_ok_and_identity);
    tcase_add_test(tc, ae_not_nul_terminated);
    tcase_add_loop_test(tc, proxied_table, 0,
                        (int) (sizeof(proxied_cases)
                               / sizeof(proxied_cases[0])));
    tcase_add_test(tc, token_search);
    tcase_add_test(tc, types_match);
    suite_add_tcase(s, tc);
    return s;
}

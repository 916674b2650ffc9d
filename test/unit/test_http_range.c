/*
 * Unit tests for worker/http_range. Every row of the table below marked
 * as such was produced by nginx 1.22.1 (Debian 12) serving static files of
 * 0, 1, 10 and 100 bytes: the verdict from the status (206/200/416) and
 * the ranges from Content-Range (single part) or the parts' headers
 * (multipart), "max_ranges 2;" for the rows with 2.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/array.h"
#include "common/pool.h"
#include "worker/http_range.h"
#include "worker/http_request.h"

#define ANY PT_HTTP_RANGES_UNLIMITED

static const struct {
    const char *header;
    off_t       len;
    pt_uint_t   max_ranges;
    int         rc;
    const char *ranges;     /* "start-end ..." with exclusive ends */
} cases[] = {
    /* checked against nginx 1.22.1 */
    { "bytes=0-0", 10, ANY, PT_OK, "0-1" },
    { "bytes=0-9", 10, ANY, PT_OK, "0-10" },
    { "bytes=0-", 10, ANY, PT_OK, "0-10" },
    { "bytes=9-", 10, ANY, PT_OK, "9-10" },
    { "bytes=-1", 10, ANY, PT_OK, "9-10" },
    { "bytes=-10", 10, ANY, PT_OK, "0-10" },
    { "bytes=-999", 10, ANY, PT_OK, "0-10" },
    { "bytes=-0", 10, ANY, 416, "" },
    { "bytes=3-5", 10, ANY, PT_OK, "3-6" },
    { "bytes=5-100", 10, ANY, PT_OK, "5-10" },
    { "bytes=10-", 10, ANY, 416, "" },
    { "bytes=10-20", 10, ANY, 416, "" },
    { "bytes=5-1", 10, ANY, 416, "" },
    { "bytes=0-0,-1", 10, ANY, PT_OK, "0-1 9-10" },
    { "bytes=0-0,-1", 1, ANY, PT_DECLINED, "" },
    { "bytes=0-5,3-8", 10, ANY, PT_DECLINED, "" },
    { "bytes=0-5,3-8", 100, ANY, PT_OK, "0-6 3-9" },
    { "bytes=0-4,5-9", 10, ANY, PT_OK, "0-5 5-10" },
    { "bytes=0-4,5-9,0-0", 10, ANY, PT_DECLINED, "" },
    { "bytes=0-0,0-0,0-0", 10, ANY, PT_OK, "0-1 0-1 0-1" },
    { "bytes=3-2,5-6", 10, ANY, PT_OK, "5-7" },
    { "bytes=0-1,3-2", 10, ANY, PT_OK, "0-2" },
    { "bytes=20-30,1-1", 10, ANY, PT_OK, "1-2" },
    { "bytes=20-30,40-", 10, ANY, 416, "" },
    { "BYTES=1-2", 10, ANY, PT_OK, "1-3" },
    { "Bytes=1-2", 10, ANY, PT_OK, "1-3" },
    { "bytes=", 10, ANY, PT_DECLINED, "" },
    { "bytes = 1-2", 10, ANY, PT_DECLINED, "" },
    { "bites=1-2", 10, ANY, PT_DECLINED, "" },
    { "bytes=abc", 10, ANY, 416, "" },
    { "bytes=1-2,", 10, ANY, 416, "" },
    { "bytes=1-2,,3-4", 10, ANY, 416, "" },
    { "bytes=,1-2", 10, ANY, 416, "" },
    { "bytes=\t1-2", 10, ANY, 416, "" },
    { "bytes= 1 - 2 , 4-5", 10, ANY, PT_OK, "1-3 4-6" },
    { "bytes=1-2 ", 10, ANY, PT_OK, "1-3" },
    { "bytes=--1", 10, ANY, 416, "" },
    { "bytes=1--2", 10, ANY, 416, "" },
    { "bytes=1-2-3", 10, ANY, 416, "" },
    { "bytes=0-0;x", 10, ANY, 416, "" },
    { "bytes=-", 10, ANY, 416, "" },
    { "bytes=1-x", 10, ANY, 416, "" },
    { "bytes=1 2-3", 10, ANY, 416, "" },
    { "bytes=9223372036854775807-", 10, ANY, 416, "" },
    { "bytes=9223372036854775808-", 10, ANY, 416, "" },
    { "bytes=-9223372036854775807", 10, ANY, PT_OK, "0-10" },
    { "bytes=-9223372036854775808", 10, ANY, 416, "" },
    { "bytes=0-9223372036854775807", 10, ANY, PT_OK, "0-10" },
    { "bytes=0-9223372036854775808", 10, ANY, 416, "" },
    { "bytes=0-99999999999999999999", 10, ANY, 416, "" },
    { "bytes=0-", 0, ANY, PT_DECLINED, "" },
    { "bytes=-0", 0, ANY, PT_DECLINED, "" },
    { "bytes=-5", 0, ANY, PT_DECLINED, "" },
    { "bytes=1-", 0, ANY, 416, "" },
    { "bytes=0-0", 0, ANY, PT_DECLINED, "" },
    { "bytes=5-9,0-", 0, ANY, PT_DECLINED, "" },
    { "bytes=0-0", 1, ANY, PT_OK, "0-1" },
    { "bytes=-1", 1, ANY, PT_OK, "0-1" },
    { "bytes=1-", 1, ANY, 416, "" },
    { "bytes=0-0,2-2", 10, 2, PT_OK, "0-1 2-3" },
    { "bytes=0-0,2-2,4-4", 10, 2, PT_DECLINED, "" },
    { "bytes=0-0,20-30,4-4", 10, 2, PT_OK, "0-1 4-5" },
    { "bytes=0-0,2-2,4-4,x", 10, 2, PT_DECLINED, "" },
    { "bytes=0-49,50-99", 100, ANY, PT_OK, "0-50 50-100" },
    { "bytes=0-49,50-99,99-99", 100, ANY, PT_DECLINED, "" },
    { "bytes=-50,0-49", 100, ANY, PT_OK, "50-100 0-50" },
    { "bytes=90-,-5", 100, ANY, PT_OK, "90-100 95-100" },
    { "bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9", 10, ANY, PT_OK,
      "0-1 1-2 2-3 3-4 4-5 5-6 6-7 7-8 8-9 9-10" },
    { "bytes=00005-00006", 10, ANY, PT_OK, "5-7" },
    /* beyond what a test file can show */
    { "bytes=0-,0-,0-", 4611686018427387904LL, ANY, PT_DECLINED, "" },
    { "bytes=0-,1-", 9223372036854775807LL, ANY, PT_DECLINED, "" },
    { "bytes=9223372036854775806-", 9223372036854775807LL, ANY, PT_OK,
      "9223372036854775806-9223372036854775807" },
    { "bytes=-9223372036854775807", 9223372036854775807LL, ANY, PT_OK,
      "0-9223372036854775807" },
    { "bytes=0-0", 10, 0, PT_DECLINED, "" },
    { "bytes=0-0,2-2", 10, 1, PT_DECLINED, "" },
    { "bytes=0-0", 10, 1, PT_OK, "0-1" },
    { "bytes=x", 10, ANY, 416, "" },
};

static void
format_ranges(pt_array_t *a, char *buf, size_t size)
{
    pt_http_range_t *r = a->elts;
    size_t           n = 0;
    pt_uint_t        i;

    buf[0] = '\0';
    for (i = 0; i < a->nelts; i++) {
        n += snprintf(buf + n, size - n, "%s%lld-%lld", i ? " " : "",
                      (long long) r[i].start, (long long) r[i].end);
    }
}

START_TEST(parse_table)
{
    pt_pool_t  *pool = pt_pool_create(1024, NULL);
    pt_array_t *a = pt_array_create(pool, 2, sizeof(pt_http_range_t));
    char        got[512];
    int         rc;

    rc = pt_http_range_parse((const u_char *) cases[_i].header,
                             strlen(cases[_i].header), cases[_i].len,
                             cases[_i].max_ranges, a);
    ck_assert_msg(rc == cases[_i].rc, "\"%s\" len %lld: rc %d, expected %d",
                  cases[_i].header, (long long) cases[_i].len, rc,
                  cases[_i].rc);
    if (rc == PT_OK) {
        format_ranges(a, got, sizeof(got));
        ck_assert_msg(strcmp(got, cases[_i].ranges) == 0,
                      "\"%s\": ranges \"%s\", expected \"%s\"",
                      cases[_i].header, got, cases[_i].ranges);
    }
    pt_pool_destroy(pool);
}
END_TEST

START_TEST(parse_not_nul_terminated)
{
    pt_pool_t       *pool = pt_pool_create(1024, NULL);
    pt_array_t      *a = pt_array_create(pool, 2, sizeof(pt_http_range_t));
    pt_http_range_t *r;

    /* "bytes=1-2" followed by more digits the parser must not see */
    ck_assert_int_eq(pt_http_range_parse((const u_char *) "bytes=1-2999", 9,
                                         10, ANY, a), PT_OK);
    r = a->elts;
    ck_assert_int_eq(a->nelts, 1);
    ck_assert_int_eq(r[0].start, 1);
    ck_assert_int_eq(r[0].end, 3);
    /* "bytes=1-" cut right after the dash: to the end */
    ck_assert_int_eq(pt_http_range_parse((const u_char *) "bytes=1-2", 8,
                                         10, ANY, a), PT_OK);
    ck_assert_int_eq(r[0].end, 10);
    pt_pool_destroy(pool);
}
END_TEST

START_TEST(content_range)
{
    pt_pool_t       *pool = pt_pool_create(1024, NULL);
    pt_http_range_t  r = { 0, 10 };
    pt_http_range_t  big = { 9223372036854775806LL, 9223372036854775807LL };
    pt_str_t         s;

    ck_assert_int_eq(pt_http_range_content_range(pool, &r, 10, &s), PT_OK);
    ck_assert_int_eq(s.len, sizeof("bytes 0-9/10") - 1);
    ck_assert(memcmp(s.data, "bytes 0-9/10", s.len) == 0);

    ck_assert_int_eq(pt_http_range_content_range(pool, NULL, 10, &s), PT_OK);
    ck_assert(pt_str_eq_cstr(&s, "bytes */10"));

    ck_assert_int_eq(pt_http_range_content_range(pool, &big, big.end, &s),
                     PT_OK);
    ck_assert(pt_str_eq_cstr(&s, "bytes 9223372036854775806-"
                                 "9223372036854775806/9223372036854775807"));
    pt_pool_destroy(pool);
}
END_TEST

/* Concatenate the multipart body with the data of `content`. */
static size_t
assemble(pt_http_multipart_t *mp, pt_array_t *a, const char *content,
         char *out)
{
    pt_http_range_t *r = a->elts;
    size_t           n = 0;
    pt_uint_t        i;

    for (i = 0; i < mp->nheaders; i++) {
        memcpy(out + n, mp->headers[i].data, mp->headers[i].len);
        n += mp->headers[i].len;
        memcpy(out + n, content + r[i].start, r[i].end - r[i].start);
        n += r[i].end - r[i].start;
    }
    memcpy(out + n, mp->trailer.data, mp->trailer.len);
    return n + mp->trailer.len;
}

/* nginx 1.22.1, GET of a 10-byte text/plain file "0123456789" with
 * "Range: bytes=0-0,-1" as the first multipart response of the instance:
 * Content-Type: multipart/byteranges; boundary=00000000000000000001
 * Content-Length: 196 and this body. */
static const char nginx_body[] =
    "\r\n--00000000000000000001\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Range: bytes 0-0/10\r\n\r\n"
    "0"
    "\r\n--00000000000000000001\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Range: bytes 9-9/10\r\n\r\n"
    "9"
    "\r\n--00000000000000000001--\r\n";

START_TEST(multipart_like_nginx)
{
    pt_pool_t           *pool = pt_pool_create(1024, NULL);
    pt_array_t          *a = pt_array_create(pool, 2, sizeof(pt_http_range_t));
    pt_str_t             type = pt_string("text/plain");
    pt_http_multipart_t  mp;
    char                 body[1024];
    size_t               n;

    ck_assert_int_eq(pt_http_range_parse((const u_char *) "bytes=0-0,-1", 12,
                                         10, ANY, a), PT_OK);
    ck_assert_int_eq(pt_http_range_multipart(pool, a, &type, NULL, 10, 1,
                                             &mp), PT_OK);
    ck_assert(pt_str_eq_cstr(&mp.content_type,
              "multipart/byteranges; boundary=00000000000000000001"));
    ck_assert_int_eq(mp.nheaders, 2);
    ck_assert_int_eq(mp.content_length, 196);

    n = assemble(&mp, a, "0123456789", body);
    ck_assert_int_eq(n, sizeof(nginx_body) - 1);
    ck_assert(memcmp(body, nginx_body, n) == 0);
    pt_pool_destroy(pool);
}
END_TEST

START_TEST(multipart_charset_and_no_type)
{
    pt_pool_t           *pool = pt_pool_create(1024, NULL);
    pt_array_t          *a = pt_array_create(pool, 2, sizeof(pt_http_range_t));
    pt_str_t             type = pt_string("text/plain");
    pt_str_t             charset = pt_string("utf-8");
    pt_str_t             none = pt_null_string;
    pt_http_multipart_t  mp;
    char                 body[1024];
    size_t               n;

    ck_assert_int_eq(pt_http_range_parse((const u_char *) "bytes=0-0,1-1", 13,
                                         10, ANY, a), PT_OK);

    /* nginx 1.22.1 with "charset utf-8;": Content-Length: 226, boundary
     * 00000000000000000006 */
    ck_assert_int_eq(pt_http_range_multipart(pool, a, &type, &charset, 10, 6,
                                             &mp), PT_OK);
    ck_assert_int_eq(mp.content_length, 226);
    ck_assert(pt_str_eq_cstr(&mp.headers[0],
              "\r\n--00000000000000000006\r\n"
              "Content-Type: text/plain; charset=utf-8\r\n"
              "Content-Range: bytes 0-0/10\r\n\r\n"));
    ck_assert(pt_str_eq_cstr(&mp.trailer, "\r\n--00000000000000000006--\r\n"));

    /* no type: no Content-Type line in the parts */
    ck_assert_int_eq(pt_http_range_multipart(pool, a, &none, &charset, 10,
                                             18446744073709551615ULL, &mp),
                     PT_OK);
    ck_assert(pt_str_eq_cstr(&mp.headers[1],
              "\r\n--18446744073709551615\r\n"
              "Content-Range: bytes 1-1/10\r\n\r\n"));
    n = assemble(&mp, a, "0123456789", body);
    ck_assert_int_eq((off_t) n, mp.content_length);
    pt_pool_destroy(pool);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_range");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, parse_table, 0, (int) (sizeof(cases)
                                                   / sizeof(cases[0])));
    tcase_add_test(tc, parse_not_nul_terminated);
    tcase_add_test(tc, content_range);
    tcase_add_test(tc, multipart_like_nginx);
    tcase_add_test(tc, multipart_charset_and_no_type);
    suite_add_tcase(s, tc);
    return s;
}

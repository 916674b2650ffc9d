/*
 * Unit tests for common/http_time. Accept/reject verdicts marked "nginx"
 * were checked against nginx 1.22.1 (If-Unmodified-Since with a future
 * date: 200 when parsed, 412 when rejected).
 */
#include <check.h>
#include <string.h>
#include <time.h>

#include "common/http_time.h"

static time_t
parse(const char *s)
{
    return pt_http_parse_time((const u_char *) s, strlen(s));
}

/* 2026-01-15 10:20:30 UTC */
#define T2026 ((time_t) 1768472430)

static const struct {
    const char *text;
    time_t      expect;
} dates[] = {
    /* the three formats, the RFC 9110 example */
    { "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 },
    { "Sunday, 06-Nov-94 08:49:37 GMT", 784111777 },
    { "Sun Nov  6 08:49:37 1994", 784111777 },
    { "Sun Nov 6 08:49:37 1994", 784111777 },        /* nginx */
    { "Sun Nov 06 08:49:37 1994", 784111777 },       /* nginx */
    { "Sun  Nov  6 08:49:37 1994", 784111777 },      /* nginx */
    { "Sun Nov  6 08:49:37 1994 GMT", 784111777 },   /* nginx */
    { "Thu, 15 Jan 2026 10:20:30 GMT", T2026 },
    { "Thursday, 15-Jan-26 10:20:30 GMT", T2026 },
    { "Thu Jan 15 10:20:30 2026", T2026 },
    /* nginx's leniency: weekday unchecked, zone and trailer ignored */
    { "Xyz, 15 Jan 2026 10:20:30 GMT", T2026 },
    { "Thu, 15 Jan 2026 10:20:30", T2026 },
    { "Thu, 15 Jan 2026 10:20:30 XYZ", T2026 },
    { "Thu, 15 Jan 2026 10:20:30 GMT; length=10", T2026 },
    { "Thu,15 Jan 2026 10:20:30 GMT", T2026 },
    { "Thu,   15 Jan 2026 10:20:30 GMT", T2026 },
    { " Thu, 15 Jan 2026 10:20:30 GMT", T2026 },
    /* epoch, leap years, 2038 and beyond */
    { "Thu, 01 Jan 1970 00:00:00 GMT", 0 },
    { "Thu, 29 Feb 2024 12:00:00 GMT", 1709208000 },
    { "Tue, 29 Feb 2000 00:00:00 GMT", 951782400 },
    { "Tue, 29 Feb 2028 10:20:30 GMT", 1835432430 },        /* nginx */
    { "Tue, 19 Jan 2038 03:14:07 GMT", 2147483647 },
    { "Tue, 19 Jan 2038 03:14:08 GMT", 2147483648LL },
    { "Sun, 07 Feb 2106 06:28:16 GMT", 4294967296LL },
    { "Tue, 29 Feb 2400 10:20:30 GMT", 13574600430LL },     /* nginx */
    { "Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL },
    { "Sat, 31 Dec 2016 23:59:59 GMT", 1483228799 },
    /* RFC 850 two-digit years: 69 -> 2069, 70 -> 1970 */
    { "Tuesday, 01-Jan-69 00:00:00 GMT", 3124224000LL },    /* nginx */
    { "Thursday, 01-Jan-70 00:00:00 GMT", 0 },
    /* invalid */
    { "", -1 },
    { "garbage", -1 },
    { "15 Jan 2026 10:20:30 GMT", -1 },                     /* nginx */
    { "Thu, 31 Feb 2030 10:20:30 GMT", -1 },                /* nginx */
    { "Thu, 29 Feb 2030 10:20:30 GMT", -1 },                /* nginx */
    { "Thu, 29 Feb 2100 10:20:30 GMT", -1 },                /* nginx */
    { "Thu, 31 Apr 2030 10:20:30 GMT", -1 },                /* nginx */
    { "Thu, 32 Jan 2030 10:20:30 GMT", -1 },
    { "Thu, 01 Jan 2030 24:00:00 GMT", -1 },                /* nginx */
    { "Thu, 01 Jan 2030 23:60:00 GMT", -1 },                /* nginx */
    { "Thu, 01 Jan 2030 23:59:60 GMT", -1 },                /* nginx */
    { "Thu, 01 Jan 2030 10:20:3", -1 },                     /* nginx */
    { "Thu, 1 Jan 2030 10:20:30 GMT", -1 },                 /* nginx */
    { "Thu, 01 Jan 30 10:20:30 GMT", -1 },                  /* nginx */
    { "Thursday, 01-Jan-2030 10:20:30 GMT", -1 },           /* nginx */
    { "Thu, 01-Jan-2030 10:20:30 GMT", -1 },                /* nginx */
    { "Thu Jan  1 10:20:30 30", -1 },                       /* nginx */
    { "Thu, 01 Jan 2030 1:20:30 GMT", -1 },                 /* nginx */
    { "Thu, 01 Jan  2030 10:20:30 GMT", -1 },               /* nginx */
    { "Thu, 01  Jan 2030 10:20:30 GMT", -1 },               /* nginx */
    { "Thu, 01 Janu 2030 10:20:30 GMT", -1 },               /* nginx */
    { "Thu, 01 Jan 2030  10:20:30 GMT", -1 },               /* nginx */
    { "Thu, 15 jan 2026 10:20:30 GMT", -1 },                /* nginx */
    { "Thu, 01 Dec 1969 10:20:30 GMT", -1 },                /* < 1970 */
    /* stricter than nginx, which takes day 00 as the previous day's
     * date and "Jxx" as July */
    { "Thu, 00 Jan 2030 10:20:30 GMT", -1 },
    { "Thu, 01 Jxx 2030 10:20:30 GMT", -1 },
};

START_TEST(parse_table)
{
    time_t t = parse(dates[_i].text);

    ck_assert_msg(t == dates[_i].expect, "\"%s\": %lld, expected %lld",
                  dates[_i].text, (long long) t,
                  (long long) dates[_i].expect);
}
END_TEST

START_TEST(parse_not_nul_terminated)
{
    const char *s = "Thu, 15 Jan 2026 10:20:30 GMT";

    /* cut inside the seconds: must not read past n */
    ck_assert_int_eq(pt_http_parse_time((const u_char *) s, 24), -1);
    ck_assert_int_eq(pt_http_parse_time((const u_char *) s, 25), T2026);
    ck_assert_int_eq(pt_http_parse_time((const u_char *) s, 0), -1);
}
END_TEST

static void
check_format(time_t t, const char *expect)
{
    u_char buf[PT_HTTP_TIME_LEN + 1], *end;

    memset(buf, 'z', sizeof(buf));
    end = pt_http_format_time(buf, t);
    ck_assert_int_eq(end - buf, PT_HTTP_TIME_LEN);
    ck_assert_int_eq(buf[PT_HTTP_TIME_LEN], 'z');
    *end = '\0';
    ck_assert_str_eq((char *) buf, expect);
}

START_TEST(format)
{
    check_format(0, "Thu, 01 Jan 1970 00:00:00 GMT");
    check_format(784111777, "Sun, 06 Nov 1994 08:49:37 GMT");
    check_format(T2026, "Thu, 15 Jan 2026 10:20:30 GMT");
    check_format(951782400, "Tue, 29 Feb 2000 00:00:00 GMT");
    check_format(1709208000, "Thu, 29 Feb 2024 12:00:00 GMT");
    check_format(2147483647, "Tue, 19 Jan 2038 03:14:07 GMT");
    check_format(2147483648LL, "Tue, 19 Jan 2038 03:14:08 GMT");
    check_format(4102444800LL, "Fri, 01 Jan 2100 00:00:00 GMT");
    check_format(253402300799LL, "Fri, 31 Dec 9999 23:59:59 GMT");
    /* clamped to keep 29 bytes */
    check_format(-5, "Thu, 01 Jan 1970 00:00:00 GMT");
    check_format(253402300800LL, "Fri, 31 Dec 9999 23:59:59 GMT");
}
END_TEST

/* Format and parse are inverse, and agree with libc's gmtime_r, over
 * 1970-2500: a step of 3 days and an odd number of seconds walks every
 * weekday, month, leap day and a spread of times of day (a one-day step
 * took too long under sanitizers on a loaded machine). */
START_TEST(round_trip)
{
    u_char    buf[PT_HTTP_TIME_LEN];
    struct tm ref;
    pt_tm_t   tm;
    time_t    t;

    for (t = 0; t < 16725225600LL; t += 3 * 86400 + 3607) {
        pt_http_gmtime(t, &tm);
        ck_assert_ptr_nonnull(gmtime_r(&t, &ref));
        ck_assert_int_eq(tm.year, ref.tm_year + 1900);
        ck_assert_int_eq(tm.mon, ref.tm_mon + 1);
        ck_assert_int_eq(tm.mday, ref.tm_mday);
        ck_assert_int_eq(tm.hour, ref.tm_hour);
        ck_assert_int_eq(tm.min, ref.tm_min);
        ck_assert_int_eq(tm.sec, ref.tm_sec);
        ck_assert_int_eq(tm.wday, ref.tm_wday);

        pt_http_format_time(buf, t);
        ck_assert_int_eq(pt_http_parse_time(buf, sizeof(buf)), t);
    }
}
END_TEST

START_TEST(gmtime_negative)
{
    pt_tm_t tm;

    pt_http_gmtime(-1, &tm);
    ck_assert_int_eq(tm.year, 1969);
    ck_assert_int_eq(tm.mon, 12);
    ck_assert_int_eq(tm.mday, 31);
    ck_assert_int_eq(tm.hour, 23);
    ck_assert_int_eq(tm.sec, 59);
    ck_assert_int_eq(tm.wday, 3);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_time");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);

    tcase_add_loop_test(tc, parse_table, 0, (int) (sizeof(dates)
                                                   / sizeof(dates[0])));
    tcase_add_test(tc, parse_not_nul_terminated);
    tcase_add_test(tc, format);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, gmtime_negative);
    suite_add_tcase(s, tc);
    return s;
}

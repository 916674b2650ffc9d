/*
 * HTTP date parsing and formatting. The calendar arithmetic counts days in
 * 400-year Gregorian cycles starting on March 1st, so that February (and
 * its leap day) is the last month of each computational year.
 */
#include <string.h>

#include "http_time.h"

const char pt_http_months[12][4] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

const char pt_http_wdays[7][4] = {
    "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

#define DAYS_PER_ERA    146097   /* days in 400 Gregorian years */
#define EPOCH_SHIFT     719468   /* days from 0000-03-01 to 1970-01-01 */

static int
is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int
days_in_month(int year, int mon)
{
    static const u_char mdays[12] = {
        31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
    };

    return mon == 2 && is_leap(year) ? 29 : mdays[mon - 1];
}

/* Days since 1970-01-01 of a valid date (year >= 0). */
static int64_t
days_from_civil(int year, int mon, int mday)
{
    int64_t era, yoe, doy;

    /* March-based year: Jan and Feb belong to the previous one */
    if (mon <= 2) {
        year--;
    }
    era = year / 400;
    yoe = year - era * 400;
    /* day of the March-based year: month lengths repeat 31,30,31,30,31 */
    doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + mday - 1;

    return era * DAYS_PER_ERA + yoe * 365 + yoe / 4 - yoe / 100 + doy
           - EPOCH_SHIFT;
}

/* The inverse of days_from_civil, for any day count. */
static void
civil_from_days(int64_t days, pt_tm_t *tm)
{
    int64_t era, doe, yoe, doy, mp;

    days += EPOCH_SHIFT;
    era = (days >= 0 ? days : days - (DAYS_PER_ERA - 1)) / DAYS_PER_ERA;
    doe = days - era * DAYS_PER_ERA;
    /* remove the leap days before doe: one per 4 years but per 100 years,
     * plus the one at the end of the era */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / (DAYS_PER_ERA - 1)) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;

    tm->mday = (int) (doy - (153 * mp + 2) / 5 + 1);
    tm->mon = (int) (mp < 10 ? mp + 3 : mp - 9);
    tm->year = (int) (yoe + era * 400 + (tm->mon <= 2));
}

void
pt_http_gmtime(time_t t, pt_tm_t *tm)
{
    int64_t days = (int64_t) t / 86400;
    int64_t secs = (int64_t) t % 86400;

    if (secs < 0) {
        secs += 86400;
        days--;
    }

    tm->hour = (int) (secs / 3600);
    tm->min = (int) (secs / 60 % 60);
    tm->sec = (int) (secs % 60);
    /* 1970-01-01 was a Thursday */
    tm->wday = (int) ((days % 7 + 7 + 4) % 7);
    civil_from_days(days, tm);
}

static u_char *
put_digits(u_char *p, int v, int width)
{
    int i;

    for (i = width - 1; i >= 0; i--) {
        p[i] = (u_char) ('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

u_char *
pt_http_format_time(u_char *buf, time_t t)
{
    pt_tm_t  tm;
    u_char  *p = buf;

    if (t < 0) {
        t = 0;
    } else if (t > PT_HTTP_TIME_MAX) {
        t = PT_HTTP_TIME_MAX;
    }
    pt_http_gmtime(t, &tm);

    memcpy(p, pt_http_wdays[tm.wday], 3);
    p += 3;
    *p++ = ',';
    *p++ = ' ';
    p = put_digits(p, tm.mday, 2);
    *p++ = ' ';
    memcpy(p, pt_http_months[tm.mon - 1], 3);
    p += 3;
    *p++ = ' ';
    p = put_digits(p, tm.year, 4);
    *p++ = ' ';
    p = put_digits(p, tm.hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.min, 2);
    *p++ = ':';
    p = put_digits(p, tm.sec, 2);
    memcpy(p, " GMT", 4);
    return p + 4;
}

/* The parser's cursor helpers: each consumes input only on success. */

static int
digits(const u_char **pp, const u_char *end, int count, int *v)
{
    const u_char *p = *pp;
    int           n = 0, i;

    if (end - p < count) {
        return 0;
    }
    for (i = 0; i < count; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
        n = n * 10 + (p[i] - '0');
    }
    *pp = p + count;
    *v = n;
    return 1;
}

static int
expect(const u_char **pp, const u_char *end, u_char c)
{
    if (*pp == end || **pp != c) {
        return 0;
    }
    (*pp)++;
    return 1;
}

/* A month name, exactly as written in pt_http_months (case matters, as in
 * nginx). */
static int
month(const u_char **pp, const u_char *end, int *mon)
{
    int i;

    if (end - *pp < 3) {
        return 0;
    }
    for (i = 0; i < 12; i++) {
        if (memcmp(*pp, pt_http_months[i], 3) == 0) {
            *pp += 3;
            *mon = i + 1;
            return 1;
        }
    }
    return 0;
}

/* "HH:MM:SS" */
static int
clock_time(const u_char **pp, const u_char *end, int *h, int *m, int *s)
{
    return digits(pp, end, 2, h) && expect(pp, end, ':')
           && digits(pp, end, 2, m) && expect(pp, end, ':')
           && digits(pp, end, 2, s);
}

static const u_char *
skip_spaces(const u_char *p, const u_char *end)
{
    while (p < end && *p == ' ') {
        p++;
    }
    return p;
}

/* "DD Mon YYYY HH:MM:SS" or "DD-Mon-YY HH:MM:SS", after "<weekday>,". */
static int
parse_imf_or_850(const u_char *p, const u_char *end, int *f)
{
    p = skip_spaces(p, end);
    if (!digits(&p, end, 2, &f[2])) {
        return 0;
    }

    if (expect(&p, end, ' ')) {
        if (!month(&p, end, &f[1]) || !expect(&p, end, ' ')
            || !digits(&p, end, 4, &f[0]))
        {
            return 0;
        }

    } else if (expect(&p, end, '-')) {
        if (!month(&p, end, &f[1]) || !expect(&p, end, '-')
            || !digits(&p, end, 2, &f[0]))
        {
            return 0;
        }
        /* RFC 850's two-digit years: 70-99 are 19xx, the rest 20xx */
        f[0] += f[0] < 70 ? 2000 : 1900;

    } else {
        return 0;
    }

    return expect(&p, end, ' ') && clock_time(&p, end, &f[3], &f[4], &f[5]);
}

/* "Mon  D HH:MM:SS YYYY" (day space-padded or not), after "<weekday> ". */
static int
parse_asctime(const u_char *p, const u_char *end, int *f)
{
    p = skip_spaces(p, end);
    if (!month(&p, end, &f[1]) || !expect(&p, end, ' ')) {
        return 0;
    }
    (void) expect(&p, end, ' ');
    if (!digits(&p, end, 1, &f[2])) {
        return 0;
    }
    if (p < end && *p >= '0' && *p <= '9') {
        f[2] = f[2] * 10 + (*p++ - '0');
    }

    return expect(&p, end, ' ') && clock_time(&p, end, &f[3], &f[4], &f[5])
           && expect(&p, end, ' ') && digits(&p, end, 4, &f[0]);
}

time_t
pt_http_parse_time(const u_char *p, size_t n)
{
    const u_char *end = p + n;
    int           f[6];   /* year, mon, mday, hour, min, sec */
    int           ok;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    /* the weekday ends at ',' (IMF-fixdate, RFC 850) or ' ' (asctime) */
    while (p < end && *p != ',' && *p != ' ') {
        p++;
    }
    if (p == end) {
        return -1;
    }

    ok = *p == ',' ? parse_imf_or_850(p + 1, end, f)
                   : parse_asctime(p + 1, end, f);
    if (!ok) {
        return -1;
    }

    if (f[0] < 1970 || f[3] > 23 || f[4] > 59 || f[5] > 59
        || f[2] < 1 || f[2] > days_in_month(f[0], f[1]))
    {
        return -1;
    }

    return (time_t) (days_from_civil(f[0], f[1], f[2]) * 86400
                     + f[3] * 3600 + f[4] * 60 + f[5]);
}

/*
 * HTTP dates (RFC 9110 section 5.6.7): parsing the three formats a client
 * may send, formatting IMF-fixdate, and the UTC calendar both rest on.
 */
#ifndef PT_HTTP_TIME_H
#define PT_HTTP_TIME_H

#include <time.h>

#include "pt_types.h"

/* "Thu, 01 Jan 1970 00:00:00 GMT" */
#define PT_HTTP_TIME_LEN 29

/* The largest time formatted as is: 9999-12-31 23:59:59 UTC. */
#define PT_HTTP_TIME_MAX ((time_t) 253402300799LL)

/* A UTC calendar breakdown (proleptic Gregorian, any year). */
typedef struct {
    int  year;
    int  mon;     /* 1-12 */
    int  mday;    /* 1-31 */
    int  hour;
    int  min;
    int  sec;
    int  wday;    /* 0 = Sunday */
} pt_tm_t;

/* "Jan".."Dec" and "Sun".."Sat", three letters each. */
extern const char pt_http_months[12][4];
extern const char pt_http_wdays[7][4];

/*
 * Parse an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT") or asctime ("Sun Nov  6 08:49:37
 * 1994") date. Like nginx, the weekday is not checked and text after the
 * time (IMF, RFC 850) or the year (asctime) is ignored, so "GMT" may be
 * missing. Returns seconds since the epoch, or -1 when the text is none of
 * the formats, names a day the month lacks, or falls before 1970.
 */
time_t pt_http_parse_time(const u_char *p, size_t n);

/*
 * Write t as IMF-fixdate into buf (PT_HTTP_TIME_LEN bytes, no NUL);
 * returns buf + PT_HTTP_TIME_LEN. Times outside 0..PT_HTTP_TIME_MAX are
 * clamped so the output always has its fixed width.
 */
u_char *pt_http_format_time(u_char *buf, time_t t);

/* Break t (seconds since the epoch, may be negative) down in UTC. */
void pt_http_gmtime(time_t t, pt_tm_t *tm);

#endif /* PT_HTTP_TIME_H */

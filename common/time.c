/*
 * The cached clock. Every reader uses these values; only the event loop
 * (once per iteration) and the master call pt_time_update().
 */
#include <stdio.h>
#include <time.h>

#include "time.h"

volatile pt_msec_t pt_current_msec;
volatile time_t    pt_time_sec;
volatile pt_msec_t pt_time_msec;

static u_char err_log_time[sizeof("1970/09/28 12:00:00")];
static u_char http_time[sizeof("Mon, 28 Sep 1970 06:00:00 GMT")];
static u_char http_log_time[sizeof("28/Sep/1970:12:00:00 +0600")];
static u_char http_log_iso8601[sizeof("1970-09-28T12:00:00+06:00")];

pt_str_t pt_cached_err_log_time = { 0, err_log_time };
pt_str_t pt_cached_http_time = { 0, http_time };
pt_str_t pt_cached_http_log_time = { 0, http_log_time };
pt_str_t pt_cached_http_log_iso8601 = { 0, http_log_iso8601 };

static time_t formatted_sec = -1;

static void
format_times(time_t sec)
{
    struct tm   lt, gt;
    long        off;
    char        sign;

    localtime_r(&sec, &lt);
    gmtime_r(&sec, &gt);

    pt_cached_err_log_time.len = strftime((char *) err_log_time,
                                          sizeof(err_log_time),
                                          "%Y/%m/%d %H:%M:%S", &lt);
    pt_cached_http_time.len = strftime((char *) http_time, sizeof(http_time),
                                       "%a, %d %b %Y %H:%M:%S GMT", &gt);

    off = lt.tm_gmtoff / 60;
    sign = off < 0 ? '-' : '+';
    off = off < 0 ? -off : off;

    pt_cached_http_log_time.len = strftime((char *) http_log_time,
                                           sizeof(http_log_time),
                                           "%d/%b/%Y:%H:%M:%S ", &lt);
    pt_cached_http_log_time.len +=
        snprintf((char *) http_log_time + pt_cached_http_log_time.len,
                 sizeof(http_log_time) - pt_cached_http_log_time.len,
                 "%c%02ld%02ld", sign, off / 60, off % 60);

    pt_cached_http_log_iso8601.len = strftime((char *) http_log_iso8601,
                                              sizeof(http_log_iso8601),
                                              "%Y-%m-%dT%H:%M:%S", &lt);
    pt_cached_http_log_iso8601.len +=
        snprintf((char *) http_log_iso8601 + pt_cached_http_log_iso8601.len,
                 sizeof(http_log_iso8601) - pt_cached_http_log_iso8601.len,
                 "%c%02ld:%02ld", sign, off / 60, off % 60);
}

void
pt_time_update(void)
{
    struct timespec mono, real;

    /* Both calls use the vDSO: no kernel entry. Failure is impossible
     * for these clock ids, so the result is not checked twice. */
    if (clock_gettime(CLOCK_MONOTONIC, &mono) != 0
        || clock_gettime(CLOCK_REALTIME, &real) != 0)
    {
        return;
    }

    pt_current_msec = (pt_msec_t) mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
    pt_time_sec = real.tv_sec;
    pt_time_msec = (pt_msec_t) real.tv_sec * 1000 + real.tv_nsec / 1000000;

    if (real.tv_sec != formatted_sec) {
        formatted_sec = real.tv_sec;
        format_times(real.tv_sec);
    }
}

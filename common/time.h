/*
 * The cached clock: updated once per event-loop iteration (and on demand),
 * read everywhere else without a syscall.
 */
#ifndef PT_TIME_H
#define PT_TIME_H

#include <time.h>

#include "pt_types.h"
#include "str.h"

extern volatile pt_msec_t pt_current_msec;   /* monotonic, milliseconds */
extern volatile time_t    pt_time_sec;        /* wall clock, seconds */
extern volatile pt_msec_t pt_time_msec;       /* wall clock, milliseconds */

/* "2026/11/26 22:40:58" for the error log */
extern pt_str_t pt_cached_err_log_time;
/* "Thu, 26 Nov 2026 22:40:58 GMT" for Date and Last-Modified */
extern pt_str_t pt_cached_http_time;
/* "26/Nov/2026:22:40:58 +0000" for $time_local */
extern pt_str_t pt_cached_http_log_time;
/* "2026-11-26T22:40:58+00:00" for $time_iso8601 */
extern pt_str_t pt_cached_http_log_iso8601;

/* Read the clocks and refresh the cached strings when the second changed. */
void pt_time_update(void);

#endif /* PT_TIME_H */

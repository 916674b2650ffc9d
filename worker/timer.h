/*
 * Event timers: one tree per worker keyed by absolute deadlines on the
 * cached monotonic clock (pt_current_msec).
 */
#ifndef PT_TIMER_H
#define PT_TIMER_H

#include "common/pt_types.h"

/* Re-arming a timer whose deadline moves by less than this is skipped. */
#define PT_TIMER_LAZY_DELAY 5

/* Forget every timer (events are not touched); for a fresh process. */
void pt_timer_init(void);
/* Arm `ev` to fire `timeout_ms` after pt_current_msec; moves an armed one. */
void pt_timer_add(pt_event_t *ev, pt_msec_t timeout_ms);
/* Disarm `ev` if armed. */
void pt_timer_del(pt_event_t *ev);
/* Milliseconds until the nearest deadline, 0 if one passed, -1 if none. */
pt_msec_t pt_timer_find(void);
/* Fire every timer whose deadline is pt_current_msec or earlier, nearest
 * first: each is disarmed, gets timedout = 1, and its handler is called. */
void pt_timer_expire(void);
/* 1 when every armed timer is cancelable (or none is armed): a worker in
 * graceful shutdown may exit then. */
int pt_timer_empty_except_cancelable(void);

#endif /* PT_TIMER_H */

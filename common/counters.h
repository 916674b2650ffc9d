/*
 * Counters every process of an instance shares, in one small shm zone the
 * master makes before forking: connection numbers (the "*N" of error log
 * lines) and temp file name numbers, one sequence each, as nginx's.
 */
#ifndef PT_COUNTERS_H
#define PT_COUNTERS_H

#include "pt_types.h"

/* The last connection number given: a process-local counter until
 * pt_counters_add's zone is mapped, then the shared one. */
extern pt_uint_t *pt_connection_counter;

/* Declare the counters' zone in cycle->shm_zones (master, before the
 * zones are mapped). A reload keeps it, and so the sequences go on; its
 * init points pt_connection_counter and pt_file_temp_number into it.
 * PT_OK, or PT_ERROR logged. */
int pt_counters_add(pt_cycle_t *cycle, pt_log_t *log);

/* The next connection number (from 1 on). */
static inline pt_uint_t
pt_counters_next_connection(void)
{
    return __atomic_add_fetch(pt_connection_counter, 1, __ATOMIC_RELAXED);
}

#endif /* PT_COUNTERS_H */

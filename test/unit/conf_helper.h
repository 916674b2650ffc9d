/*
 * The fixture the unit suites that read confs from text share: an error
 * log captured in a temp file, a pool, a cycle and a pt_conf_t over the
 * suite's module list, and the helpers to apply text and read the log.
 */
#ifndef PT_TEST_CONF_HELPER_H
#define PT_TEST_CONF_HELPER_H

#include <check.h>
#include <string.h>

#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/str.h"

extern pt_log_t       tc_log;
extern pt_pool_t     *tc_pool;
extern pt_cycle_t     tc_cycle;
extern pt_conf_t      tc_cf;
extern pt_conf_ctx_t  tc_ctx;

/* Open a fresh log (/tmp/pt_<name>_log_XXXXXX, debug level), make the
 * pool and cycle (with empty paths, shm_zones and open_files arrays) and
 * a conf at `ctx_type` over the NULL-terminated `modules` (which may be
 * NULL), with the conf arrays zeroed in tc_ctx for the suite to fill. */
void tc_conf_setup(const char *name, pt_module_t **modules,
                   pt_uint_t ctx_type);
/* Free the pool, close and remove the log. */
void tc_conf_teardown(void);

/* The log's whole text (a static buffer, overwritten by the next call). */
char *tc_log_text(void);

/* Parse `text` (as file "t.conf") and apply it at tc_cf's context:
 * PT_OK or PT_ERROR (logged). A parse error fails the test. */
int tc_apply(const char *text);
/* Apply `text` and want it refused with `msg` in the log. */
void tc_apply_err(const char *text, const char *msg);

static inline pt_str_t
S(const char *s)
{
    pt_str_t str;

    str.len = strlen(s);
    str.data = (u_char *) s;
    return str;
}

#define ck_log_has(s)                                                         \
    ck_assert_msg(strstr(tc_log_text(), (s)) != NULL,                         \
                  "want \"%s\" in log:\n%s", (s), tc_log_text())

#endif /* PT_TEST_CONF_HELPER_H */

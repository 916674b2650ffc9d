/*
 * The conf-parsing fixture of the unit suites (see conf_helper.h): one
 * copy of what each suite used to set up and tear down by itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/array.h"
#include "common/pool.h"
#include "common/shm.h"
#include "conf_helper.h"

pt_log_t       tc_log;
pt_pool_t     *tc_pool;
pt_cycle_t     tc_cycle;
pt_conf_t      tc_cf;
pt_conf_ctx_t  tc_ctx;

static char    logpath[64];

void
tc_conf_setup(const char *name, pt_module_t **modules, pt_uint_t ctx_type)
{
    pt_uint_t n = 0;

    snprintf(logpath, sizeof(logpath), "/tmp/pt_%s_log_XXXXXX", name);
    memset(&tc_log, 0, sizeof(tc_log));
    tc_log.fd = mkstemp(logpath);
    ck_assert_int_ge(tc_log.fd, 0);
    tc_log.level = PT_LOG_DEBUG;
    pt_log_use_stderr = 0;

    tc_pool = pt_pool_create(4096, &tc_log);
    ck_assert_ptr_nonnull(tc_pool);
    memset(&tc_cycle, 0, sizeof(tc_cycle));
    tc_cycle.pool = tc_pool;
    tc_cycle.log = &tc_log;
    while (modules != NULL && modules[n] != NULL) {
        n++;
    }
    tc_cycle.modules_n = n;
    ck_assert_int_eq(pt_array_init(&tc_cycle.paths, tc_pool, 2,
                                   sizeof(pt_path_t *)), PT_OK);
    ck_assert_int_eq(pt_array_init(&tc_cycle.shm_zones, tc_pool, 2,
                                   sizeof(pt_shm_zone_t *)), PT_OK);
    ck_assert_int_eq(pt_array_init(&tc_cycle.open_files, tc_pool, 4,
                                   sizeof(pt_open_file_t *)), PT_OK);

    memset(&tc_ctx, 0, sizeof(tc_ctx));
    memset(&tc_cf, 0, sizeof(tc_cf));
    tc_cf.cycle = &tc_cycle;
    tc_cf.pool = tc_pool;
    tc_cf.log = &tc_log;
    tc_cf.ctx = &tc_ctx;
    tc_cf.modules = modules;
    tc_cf.ctx_type = ctx_type;
}

void
tc_conf_teardown(void)
{
    pt_pool_destroy(tc_pool);
    tc_pool = NULL;
    close(tc_log.fd);
    unlink(logpath);
}

char *
tc_log_text(void)
{
    static char buf[16384];
    ssize_t     n = pread(tc_log.fd, buf, sizeof(buf) - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

int
tc_apply(const char *text)
{
    pt_conf_node_t *tree;

    ck_assert_int_eq(pt_conf_parse_buf(&tc_cf, "t.conf", (u_char *) text,
                                       strlen(text), &tree), PT_OK);
    return pt_conf_apply(&tc_cf, tree);
}

void
tc_apply_err(const char *text, const char *msg)
{
    ck_assert_int_eq(tc_apply(text), PT_ERROR);
    ck_log_has(msg);
}

/*
 * Unit tests for worker/http_ssl (included to reach its statics): the
 * directives' parsing and nginx-worded errors (protocols, session cache,
 * conf commands), the defaults after merging, and the context built from
 * them: the default suites are all ECDHE with an AEAD cipher.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "conf_helper.h"
#include "worker/http_ssl.c"

static void                   *srv_conf[1];
static pt_module_t            *modules[2];
static pt_http_ssl_srv_conf_t *sscf;

static void
setup(void)
{
    tc_conf_setup("ssl", modules, PT_CONF_SERVER);

    pt_http_ssl_module.index = 0;
    modules[0] = &pt_http_ssl_module;
    modules[1] = NULL;
    tc_ctx.srv_conf = srv_conf;
    tc_cf.conf_prefix.data = (u_char *) "/";
    tc_cf.conf_prefix.len = 1;
    sscf = create_srv_conf(&tc_cf);
    srv_conf[0] = sscf;
    ck_assert_int_eq(pt_tls_init(&tc_log), PT_OK);
    ck_assert_int_eq(pt_tls_session_init(), PT_OK);
    if (pt_http_ssl_ctx_index == -1) {
        pt_http_ssl_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL,
                                                         NULL, NULL);
    }
}

static void
teardown(void)
{
    tc_conf_teardown();
}

/* Merge with an empty http level. */
static void
merge(void)
{
    pt_http_ssl_srv_conf_t *http = create_srv_conf(&tc_cf);

    ck_assert_ptr_eq(merge_srv_conf(&tc_cf, http, sscf), PT_CONF_OK);
}

START_TEST(protocols_parse)
{
    ck_assert_int_eq(tc_apply("ssl_protocols TLSv1.2 TLSv1.3;"), PT_OK);
    ck_assert_uint_eq(sscf->protocols, PT_SSL_TLSv1_2 | PT_SSL_TLSv1_3);
}
END_TEST

START_TEST(protocols_invalid)
{
    ck_assert_int_eq(tc_apply("ssl_protocols TLSv1.2 TLSv9;"), PT_ERROR);
    ck_log_has("invalid value \"TLSv9\" in t.conf:1");
}
END_TEST

START_TEST(defaults)
{
    merge();
    ck_assert_uint_eq(sscf->protocols, PT_SSL_TLSv1_2 | PT_SSL_TLSv1_3);
    ck_assert_str_eq((char *) sscf->ciphers.data, DEFAULT_CIPHERS);
    ck_assert_int_eq(sscf->builtin_session_cache, PT_SSL_SCACHE_NONE);
    ck_assert_int_eq(sscf->session_timeout, 300);
    ck_assert_int_eq(sscf->session_tickets, 1);
    ck_assert_uint_eq(sscf->verify, PT_SSL_VERIFY_OFF);
    ck_assert_int_eq(sscf->verify_depth, 1);
    ck_assert_uint_eq(sscf->buffer_size, 16384);
}
END_TEST

START_TEST(session_cache)
{
    ck_assert_int_eq(tc_apply("ssl_session_cache builtin:1000 shared:S:1m;"),
                     PT_OK);
    ck_assert_int_eq(sscf->builtin_session_cache, 1000);
    ck_assert_ptr_nonnull(sscf->shm_zone);
    ck_assert_uint_eq(sscf->shm_zone->shm.size, 1024 * 1024);
    ck_assert_ptr_eq((void *) sscf->shm_zone->init,
                     (void *) pt_tls_session_zone_init);
    ck_assert_uint_eq(tc_cycle.shm_zones.nelts, 1);
}
END_TEST

START_TEST(session_cache_invalid)
{
    ck_assert_int_eq(tc_apply("ssl_session_cache shared:X;"), PT_ERROR);
    ck_log_has("invalid session cache \"shared:X\" in t.conf:1");
    sscf->builtin_session_cache = PT_SSL_SCACHE_UNSET;
    ck_assert_int_eq(tc_apply("ssl_session_cache foo;"), PT_ERROR);
    ck_log_has("invalid session cache \"foo\"");
    sscf->builtin_session_cache = PT_SSL_SCACHE_UNSET;
    ck_assert_int_eq(tc_apply("ssl_session_cache builtin:x;"), PT_ERROR);
    sscf->builtin_session_cache = PT_SSL_SCACHE_UNSET;
    ck_assert_int_eq(tc_apply("ssl_session_cache off;"), PT_OK);
    ck_assert_int_eq(sscf->builtin_session_cache, PT_SSL_SCACHE_OFF);
}
END_TEST

START_TEST(default_suites_are_aead_ecdhe)
{
    pt_http_srv_conf_t   scf;
    STACK_OF(SSL_CIPHER) *list;
    const SSL_CIPHER     *ci;
    int                   i, tls12 = 0;

    merge();
    memset(&scf, 0, sizeof(scf));
    scf.file = "t.conf";
    scf.line = 1;
    ck_assert_int_eq(build_ctx(&tc_cf, sscf, &scf), PT_OK);
    list = SSL_CTX_get_ciphers(sscf->ctx);
    for (i = 0; i < sk_SSL_CIPHER_num(list); i++) {
        ci = sk_SSL_CIPHER_value(list, i);
        ck_assert_msg(SSL_CIPHER_is_aead(ci), "%s", SSL_CIPHER_get_name(ci));
        if (SSL_CIPHER_get_kx_nid(ci) != NID_kx_any) {   /* not 1.3 */
            tls12++;
            ck_assert_int_eq(SSL_CIPHER_get_kx_nid(ci), NID_kx_ecdhe);
        }
    }
    ck_assert_int_eq(tls12, 6);
    /* TLSv1 and TLSv1.1 off */
    ck_assert(SSL_CTX_get_options(sscf->ctx) & SSL_OP_NO_TLSv1);
    ck_assert(SSL_CTX_get_options(sscf->ctx) & SSL_OP_NO_TLSv1_1);
    ck_assert(!(SSL_CTX_get_options(sscf->ctx) & SSL_OP_NO_TLSv1_2));
}
END_TEST

START_TEST(bad_ciphers_and_conf_command)
{
    pt_http_srv_conf_t scf;

    ck_assert_int_eq(tc_apply("ssl_ciphers BOGUS;"), PT_OK);
    merge();
    memset(&scf, 0, sizeof(scf));
    scf.file = "t.conf";
    scf.line = 1;
    ck_assert_int_eq(build_ctx(&tc_cf, sscf, &scf), PT_ERROR);
    ck_log_has("SSL_CTX_set_cipher_list(\"BOGUS\") failed (SSL: error:");
    ck_log_has("no cipher match)");

    sscf = create_srv_conf(&tc_cf);
    srv_conf[0] = sscf;
    ck_assert_int_eq(tc_apply("ssl_conf_command Options -Bogus;"), PT_OK);
    merge();
    ck_assert_int_eq(build_ctx(&tc_cf, sscf, &scf), PT_ERROR);
    ck_log_has("SSL_CONF_cmd(\"Options\", \"-Bogus\") failed");
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_ssl");
    TCase *t = tcase_create("conf");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, protocols_parse);
    tcase_add_test(t, protocols_invalid);
    tcase_add_test(t, defaults);
    tcase_add_test(t, session_cache);
    tcase_add_test(t, session_cache_invalid);
    tcase_add_test(t, default_suites_are_aead_ecdhe);
    tcase_add_test(t, bad_ciphers_and_conf_command);
    suite_add_tcase(s, t);
    return s;
}

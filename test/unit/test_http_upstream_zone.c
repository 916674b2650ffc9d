/*
 * Unit tests for worker/http_upstream_zone: peers bound to entries in a
 * zone mapped by hand; smooth weighted round robin stays exact across
 * processes; failures seen by one process take the peer out for the
 * other; a rebinding (reload) keeps the state of peers that stay, starts
 * new ones fresh and frees removed ones after the grace generation.
 */
#include <check.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/shm.h"
#include "common/slab.h"
#include "upstream_helpers.h"
#include "worker/http_upstream_zone.h"

static pt_shm_zone_t zone;

static void
setup(void)
{
    ut_setup();
    memset(&zone, 0, sizeof(zone));
    zone.shm.size = 64 * 1024;
    zone.shm.name.data = (u_char *) "z";
    zone.shm.name.len = 1;
    zone.shm.log = &ut_log;
    ck_assert_int_eq(pt_shm_alloc(&zone.shm), PT_OK);
    pt_slab_init((pt_slab_pool_t *) zone.shm.addr, zone.shm.size);
    zone.data = pt_array_create(ut_pool, 2, sizeof(void *));
}

static void
teardown(void)
{
    pt_shm_free(&zone.shm);
    ut_teardown();
}

/* Bind `n` groups to the zone, as its init does after a (re)load. */
static void
bind_groups(pt_http_upstream_srv_conf_t **us, int n)
{
    pt_array_t *groups = zone.data;
    int         i;

    groups->nelts = 0;
    for (i = 0; i < n; i++) {
        *(pt_http_upstream_srv_conf_t **) pt_array_push(groups) = us[i];
        us[i]->shm_zone = &zone;
    }
    ck_assert_int_eq(pt_http_upstream_zone_bind(&zone), PT_OK);
}

static pt_http_upstream_srv_conf_t *
zoned(const int *w, int n)
{
    pt_http_upstream_srv_conf_t *us = ut_group(w, n, 0);

    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    bind_groups(&us, 1);
    return us;
}

static int
in_zone(void *p)
{
    return (u_char *) p >= zone.shm.addr
           && (u_char *) p < zone.shm.addr + zone.shm.size;
}

static pt_uint_t
nentries(void)
{
    pt_http_upstream_zone_root_t  *root;
    pt_http_upstream_zone_entry_t *e;
    pt_uint_t                      n = 0;

    root = ((pt_slab_pool_t *) zone.shm.addr)->data;
    for (e = root->entries; e != NULL; e = e->next) {
        n++;
    }
    return n;
}

START_TEST(peers_live_in_zone)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = zoned(w, 2);
    pt_http_upstream_rr_peers_t *peers = us->peer_data;

    ck_assert(in_zone(peers->peer[0].st));
    ck_assert(in_zone(peers->peer[1].st));
    ck_assert_ptr_ne(peers->peer[0].st, peers->peer[1].st);
    ck_assert_ptr_nonnull(peers->lock);
    ck_assert_int_eq(peers->peer[0].st->effective_weight, 1);
    ck_assert_uint_eq(nentries(), 2);
}
END_TEST

START_TEST(exact_across_processes)
{
    static const int w[] = { 5, 1, 1 };
    pt_http_upstream_srv_conf_t *us = zoned(w, 3);
    char                         seq[5];
    pid_t                        pid;
    int                          status, i;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* the child takes the first three of the cycle */
        int ok = ut_try(us, 0) == 1 && ut_try(us, 0) == 1
                 && ut_try(us, 0) == 2;
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (i = 0; i < 4; i++) {
        seq[i] = (char) ('a' - 1 + ut_try(us, 0));
    }
    seq[4] = '\0';
    ck_assert_str_eq(seq, "acaa");
}
END_TEST

START_TEST(failure_seen_by_other_process)
{
    static const int w[] = { 1, 1 };
    pt_http_upstream_srv_conf_t *us = zoned(w, 2);
    pid_t                        pid;
    int                          status, i;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        ut_fail_peer(us, 1, PT_PEER_FAILED);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (i = 0; i < 6; i++) {
        ck_assert_int_eq(ut_try(us, 0), 2);
    }
}
END_TEST

START_TEST(conns_shared)
{
    static const int w[] = { 1 };
    pt_http_upstream_srv_conf_t *us = ut_group(w, 1, 0);
    pt_http_upstream_server_t   *s = us->servers->elts;
    pt_http_upstream_t          *u;
    pid_t                        pid;
    int                          status;

    s[0].max_conns = 1;
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us), PT_OK);
    bind_groups(&us, 1);
    u = ut_request(us)->upstream;
    ck_assert_int_eq(u->peer.get(&u->peer, u->peer.data), PT_OK);
    pid = fork();
    if (pid == 0) {
        /* the parent's connection counts here too: busy */
        _exit(ut_try(us, 0) == 0 ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    u->peer.free(&u->peer, u->peer.data, 0);
}
END_TEST

START_TEST(reload_keeps_state_by_name_and_address)
{
    static const int w[] = { 1, 1, 1, 1 };
    pt_http_upstream_srv_conf_t *old, *new;
    pt_http_upstream_server_t   *s;
    pt_http_upstream_rr_peers_t *op, *np;

    old = zoned(w, 3);   /* .1 .2 .3 */
    op = old->peer_data;
    op->peer[0].st->requests = 7;
    op->peer[0].st->fails = 1;
    op->peer[2].st->requests = 9;

    /* the reload: .1 .3 .4 (.2 removed, .4 new), in another order */
    new = ut_group(w, 4, 0);
    s = new->servers->elts;
    s[1] = s[3];
    new->servers->nelts = 3;
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, new), PT_OK);
    bind_groups(&new, 1);
    np = new->peer_data;
    ck_assert_ptr_eq(np->peer[0].st, op->peer[0].st);
    ck_assert_uint_eq(np->peer[0].st->requests, 7);
    ck_assert_uint_eq(np->peer[0].st->fails, 1);
    ck_assert_ptr_eq(np->peer[2].st, op->peer[2].st);
    ck_assert_uint_eq(np->peer[1].st->requests, 0);   /* .4 fresh */
    /* .2 is kept one generation for the old workers, then freed */
    ck_assert_uint_eq(nentries(), 4);
    bind_groups(&new, 1);
    ck_assert_uint_eq(nentries(), 3);
    ck_assert_uint_eq(np->peer[0].st->requests, 7);
}
END_TEST

START_TEST(groups_apart)
{
    static const int w[] = { 1 };
    pt_http_upstream_srv_conf_t *us[2];

    us[0] = ut_group(w, 1, 0);
    us[1] = ut_group(w, 1, 0);
    us[1]->host.data = (u_char *) "h";
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us[0]), PT_OK);
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, us[1]), PT_OK);
    bind_groups(us, 2);
    /* the same address in two upstreams: two entries */
    ck_assert_ptr_ne(((pt_http_upstream_rr_peers_t *) us[0]->peer_data)
                         ->peer[0].st,
                     ((pt_http_upstream_rr_peers_t *) us[1]->peer_data)
                         ->peer[0].st);
    ck_assert_uint_eq(nentries(), 2);
}
END_TEST

START_TEST(weight_change_restarts_wrr)
{
    static const int w[] = { 1, 1 };
    static const int w2[] = { 3, 1 };
    pt_http_upstream_srv_conf_t *us = zoned(w, 2), *again;

    ((pt_http_upstream_rr_peers_t *) us->peer_data)->peer[0].st
        ->current_weight = 5;
    again = ut_group(w2, 2, 0);
    ck_assert_int_eq(pt_http_upstream_init_round_robin(&ut_cf, again), PT_OK);
    bind_groups(&again, 1);
    ck_assert_int_eq(((pt_http_upstream_rr_peers_t *) again->peer_data)
                         ->peer[0].st->effective_weight, 3);
    ck_assert_int_eq(((pt_http_upstream_rr_peers_t *) again->peer_data)
                         ->peer[0].st->current_weight, 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_upstream_zone");
    TCase *tc = tcase_create("zone");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, peers_live_in_zone);
    tcase_add_test(tc, exact_across_processes);
    tcase_add_test(tc, failure_seen_by_other_process);
    tcase_add_test(tc, conns_shared);
    tcase_add_test(tc, reload_keeps_state_by_name_and_address);
    tcase_add_test(tc, groups_apart);
    tcase_add_test(tc, weight_change_restarts_wrr);
    suite_add_tcase(s, tc);
    return s;
}

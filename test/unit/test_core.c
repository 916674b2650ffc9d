/*
 * Unit tests for the core and http directives through the real module list
 * and master/cycle's test mode (nothing is bound): defaults, values, listen
 * parsing, nginx-worded errors read back from the log. Also common/inet.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/core_module.h"
#include "common/cycle.h"
#include "common/inet.h"
#include "common/log.h"
#include "common/pool.h"
#include "master/cycle.h"
#include "worker/http_core.h"

static char        dir[256];
static char        logpath[300];
static pt_cycle_t  boot;
static pt_log_t    log_;

static void
setup(void)
{
    char conf[300];

    strcpy(dir, "/tmp/pt_core_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(logpath, sizeof(logpath), "%s/log", dir);
    log_.fd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    log_.level = PT_LOG_DEBUG;
    pt_log_use_stderr = 0;

    memset(&boot, 0, sizeof(boot));
    boot.pool = pt_pool_create(4096, &log_);
    boot.log = &log_;
    snprintf(conf, sizeof(conf), "%s/", dir);
    pt_str_from_cstr(boot.pool, &boot.prefix, conf);
    pt_str_from_cstr(boot.pool, &boot.conf_prefix, conf);
    snprintf(conf, sizeof(conf), "%s/t.conf", dir);
    pt_str_from_cstr(boot.pool, &boot.conf_file, conf);
    pt_str_from_cstr(boot.pool, &boot.error_log, "stderr");
}

/* Write the config and build a test cycle from it. */
static pt_cycle_t *last;

/* Write the config and build a test cycle from it (the previous one is
 * released). */
static pt_cycle_t *
load(const char *text)
{
    FILE *f = fopen((char *) boot.conf_file.data, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    if (last != NULL) {
        pt_pool_destroy(last->pool);
    }
    last = pt_cycle_init(&boot, 1);
    return last;
}

static void
teardown(void)
{
    if (last != NULL) {
        pt_pool_destroy(last->pool);
        last = NULL;
    }
    pt_pool_destroy(boot.pool);
    close(log_.fd);
}

static char *
read_log(void)
{
    static char buf[8192];
    ssize_t     n = pread(log_.fd, buf, sizeof(buf) - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void
expect_error(const char *text, const char *msg)
{
    char want[600];

    ck_assert_ptr_null(load(text));
    snprintf(want, sizeof(want), msg, boot.conf_file.data);
    ck_assert_msg(strstr(read_log(), want) != NULL, "want \"%s\" in log:\n%s",
                  want, read_log());
}

START_TEST(core_defaults)
{
    pt_cycle_t     *c = load("events {}\n");
    pt_core_conf_t *ccf;
    char            pid[300];

    ck_assert_ptr_nonnull(c);
    ccf = pt_core_conf(c);
    ck_assert_int_eq(ccf->worker_processes, 1);
    ck_assert_uint_eq(ccf->connections, 512);
    ck_assert_int_eq(ccf->daemon, 1);
    ck_assert_int_eq(ccf->master, 1);
    ck_assert_int_eq(ccf->multi_accept, 0);
    ck_assert_int_eq(ccf->shutdown_timeout, 0);
    snprintf(pid, sizeof(pid), "%s/logs/portico.pid", dir);
    ck_assert_str_eq((char *) ccf->pid.data, pid);
    strcat(pid, ".oldbin");
    ck_assert_str_eq((char *) ccf->oldpid.data, pid);
    if (geteuid() == 0) {
        ck_assert_str_eq((char *) ccf->username.data, "nobody");
    }
}
END_TEST

START_TEST(core_values)
{
    pt_cycle_t     *c;
    pt_core_conf_t *ccf;
    cpu_set_t      *set;

    c = load("worker_processes auto; daemon off; master_process off;\n"
             "worker_shutdown_timeout 10s; worker_rlimit_nofile 4096;\n"
             "worker_priority -5; pid /run/x.pid; thread_pool p threads=4;\n"
             "worker_cpu_affinity 0101 1010; env TZ; env A=b;\n"
             "events { worker_connections 2048; multi_accept on; use epoll;"
             " accept_mutex off; }\n");
    ck_assert_ptr_nonnull(c);
    ccf = pt_core_conf(c);
    ck_assert_int_eq(ccf->worker_processes, sysconf(_SC_NPROCESSORS_ONLN));
    ck_assert_int_eq(ccf->daemon, 0);
    ck_assert_int_eq(ccf->master, 0);
    ck_assert_int_eq(ccf->shutdown_timeout, 10000);
    ck_assert_int_eq(ccf->rlimit_nofile, 4096);
    ck_assert_int_eq(ccf->priority, -5);
    ck_assert_str_eq((char *) ccf->pid.data, "/run/x.pid");
    ck_assert_uint_eq(ccf->connections, 2048);
    ck_assert_int_eq(ccf->multi_accept, 1);
    ck_assert_uint_eq(ccf->env->nelts, 2);
    set = pt_core_cpu_affinity(ccf, 0);
    ck_assert(CPU_ISSET(0, set) && CPU_ISSET(2, set) && !CPU_ISSET(1, set));
    set = pt_core_cpu_affinity(ccf, 1);
    ck_assert(CPU_ISSET(1, set) && CPU_ISSET(3, set) && !CPU_ISSET(0, set));
    /* more workers than masks: the last mask */
    ck_assert_ptr_eq(pt_core_cpu_affinity(ccf, 5), set);
    ck_assert_ptr_nonnull(strstr(read_log(), "\"thread_pool\" directive is "
                                             "ignored"));
}
END_TEST

START_TEST(core_errors)
{
    expect_error("worker_processes 0;\nevents {}\n",
                 "\"worker_processes\" directive invalid value in %s:1");
    expect_error("worker_processes 1; worker_processes 2;\nevents {}\n",
                 "\"worker_processes\" directive is duplicate in %s:1");
    expect_error("daemon maybe;\nevents {}\n",
                 "invalid value \"maybe\" in \"daemon\" directive, it must be "
                 "\"on\" or \"off\" in %s:1");
    expect_error("worker_processes 1;\n", "no \"events\" section in "
                 "configuration");
    expect_error("events { use kqueue; }\n", "invalid event type \"kqueue\" "
                 "in %s:1");
    expect_error("events {}\nevents {}\n", "\"events\" directive is duplicate "
                 "in %s:2");
    expect_error("events {}\nerror_log x.log loud;\n", "invalid log level "
                 "\"loud\" in %s:2");
    expect_error("events {}\nworker_cpu_affinity 10x1;\n",
                 "invalid character \"x\" in \"worker_cpu_affinity\" in %s:2");
    expect_error("events {}\n\nload_module modules/ngx_stream_module.so;\n",
                 "load_module \"modules/ngx_stream_module.so\": nginx dynamic "
                 "modules cannot be loaded");
    expect_error("events { worker_connections 1; }\n",
                 "1 worker_connections are not enough");
    if (geteuid() == 0) {
        expect_error("user nosuchuser1;\nevents {}\n",
                     "getpwnam(\"nosuchuser1\") failed in %s:1");
    }
}
END_TEST

static pt_listening_t *
listener(pt_cycle_t *c, pt_uint_t i)
{
    ck_assert_uint_gt(c->listening.nelts, i);
    return (pt_listening_t *) c->listening.elts + i;
}

START_TEST(listen_parsing)
{
    pt_cycle_t     *c;
    pt_listening_t *ls;

    c = load("events {}\nhttp {\n"
             " server { listen 127.0.0.1:8080 reuseport backlog=100 "
             "rcvbuf=64k sndbuf=1m deferred fastopen=16 "
             "so_keepalive=30m::10; }\n"
             " server { listen 127.0.0.1:8080 default_server; "
             "server_name a b; }\n"
             " server { listen [::1]:8081 ipv6only=on; listen 8082; "
             "listen unix:/tmp/pt.sock; return 200 \"x\"; }\n"
             "}\n");
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->listening.nelts, 4);

    ls = listener(c, 0);
    ck_assert_str_eq((char *) ls->addr_text.data, "127.0.0.1:8080");
    ck_assert(ls->reuseport && ls->deferred);
    ck_assert_int_eq(ls->backlog, 100);
    ck_assert_int_eq(ls->rcvbuf, 65536);
    ck_assert_int_eq(ls->sndbuf, 1048576);
    ck_assert_int_eq(ls->fastopen, 16);
    ck_assert_int_eq(ls->keepalive, 1);
    ck_assert_int_eq(ls->keepidle, 1800);
    ck_assert_int_eq(ls->keepintvl, 0);
    ck_assert_int_eq(ls->keepcnt, 10);
    ck_assert_int_eq(ls->worker, -1);
    /* two servers on it; the second is the default */
    ck_assert_uint_eq(((pt_http_addr_t *) ls->servers)->servers.nelts, 2);
    ck_assert_ptr_eq(((pt_http_addr_t *) ls->servers)->default_server,
                     ((pt_http_srv_conf_t **)
                      ((pt_http_addr_t *) ls->servers)->servers.elts)[1]);

    ck_assert_str_eq((char *) listener(c, 1)->addr_text.data, "[::1]:8081");
    ck_assert_int_eq(listener(c, 1)->ipv6only, 1);
    ck_assert_int_eq(listener(c, 1)->backlog, 511);
    ck_assert_str_eq((char *) listener(c, 2)->addr_text.data, "0.0.0.0:8082");
    ck_assert_str_eq((char *) listener(c, 3)->addr_text.data,
                     "unix:/tmp/pt.sock");
}
END_TEST

START_TEST(listen_errors)
{
    expect_error("events {}\nhttp { server { listen 127.0.0.1:8080 "
                 "default_server; }\nserver { listen 127.0.0.1:8080 "
                 "default_server; } }\n", "a duplicate default server for "
                 "127.0.0.1:8080 in %s:3");
    expect_error("events {}\nhttp { server { listen 8080 backlog=5; }\n"
                 "server { listen 8080 backlog=6; } }\n",
                 "duplicate listen options for 0.0.0.0:8080 in %s:3");
    expect_error("events {}\nhttp { server { listen 8080 foo; } }\n",
                 "invalid parameter \"foo\" in %s:2");
    expect_error("events {}\nhttp { server { listen 127.0.0.1:99999; } }\n",
                 "invalid port in \"127.0.0.1:99999\" of the \"listen\" "
                 "directive in %s:2");
    expect_error("events {}\nhttp { server { listen 1.2.3.4:80; "
                 "listen 1.2.3.4:80; } }\n", "a duplicate listen 1.2.3.4:80 "
                 "in %s:2");
    expect_error("events {}\nhttp { listen 80; }\n",
                 "\"listen\" directive is not allowed here in %s:2");
    expect_error("events {}\nhttp { server { return abc; } }\n",
                 "invalid return code \"abc\" in %s:2");
    expect_error("events {}\nhttp { server { location / { listen 80; } } }\n",
                 "\"listen\" directive is not allowed here in %s:2");
}
END_TEST

START_TEST(core_http_values)
{
    pt_cycle_t         *c;
    pt_http_addr_t     *a;
    pt_http_srv_conf_t *scf;
    pt_http_loc_conf_t *clcf;
    char                root[300];

    c = load("events {}\nhttp { keepalive_timeout 10s 5; root www/;\n"
             "client_max_body_size 2m; large_client_header_buffers 2 4k;\n"
             "types { text/html html htm; image/png png; }\n"
             "server { listen 8090; server_name a.example b.example; "
             "location /x { } } }\n");
    ck_assert_ptr_nonnull(c);
    a = listener(c, 0)->servers;
    scf = a->default_server;
    ck_assert_str_eq((char *) scf->server_name.data, "a.example");
    ck_assert_uint_eq(scf->client_header_buffer_size, 1024);
    ck_assert_uint_eq(scf->large_client_header_buffers_num, 2);
    ck_assert_uint_eq(scf->large_client_header_buffers_size, 4096);
    clcf = scf->ctx->loc_conf[pt_http_core_module.index];
    ck_assert_int_eq(clcf->keepalive_timeout, 10000);
    ck_assert_int_eq(clcf->keepalive_header, 5);
    ck_assert_int_eq(clcf->client_max_body_size, 2 * 1024 * 1024);
    ck_assert_int_eq(clcf->send_timeout, 60000);
    ck_assert_uint_eq(clcf->keepalive_requests, 1000);
    ck_assert_int_eq(clcf->keepalive_min_timeout, 1000);
    snprintf(root, sizeof(root), "%s/www", dir);
    ck_assert_str_eq((char *) clcf->root.data, root);
    ck_assert_uint_eq(clcf->types->nelts, 3);
    ck_assert(pt_str_eq_cstr(&clcf->default_type, "text/plain"));
}
END_TEST

START_TEST(inet_parse_print)
{
    static const struct { const char *in, *out; } ok[] = {
        { "127.0.0.1:80", "127.0.0.1:80" },
        { "8080", "0.0.0.0:8080" },
        { "*:81", "0.0.0.0:81" },
        { "[::1]:443", "[::1]:443" },
        { "[::]", "[::]:80" },
        { "10.1.2.3", "10.1.2.3:80" },
        { "localhost:9000", "127.0.0.1:9000" },
        { "unix:/run/p.sock", "unix:/run/p.sock" },
    };
    static const char *bad[] = {
        "127.0.0.1:0", "127.0.0.1:65536", "[::1", "[::1]x", ":80", "unix:",
        "1.2.3.4:8a", "no.such.host.invalid:80",
    };
    pt_addr_t   a, b;
    pt_str_t    s;
    const char *err;
    char        text[PT_SOCKADDR_STRLEN];
    size_t      i;

    for (i = 0; i < pt_nelems(ok); i++) {
        s.data = (u_char *) ok[i].in;
        s.len = strlen(ok[i].in);
        ck_assert_msg(pt_inet_parse_listen(&s, &a, &err) == PT_OK, "%s",
                      ok[i].in);
        pt_inet_text((struct sockaddr *) &a.sockaddr, a.socklen, text,
                     sizeof(text));
        ck_assert_str_eq(text, ok[i].out);
        ck_assert_int_eq(pt_inet_parse_listen(&s, &b, &err), PT_OK);
        ck_assert(pt_inet_addr_eq((struct sockaddr *) &a.sockaddr, a.socklen,
                                  (struct sockaddr *) &b.sockaddr, b.socklen));
    }
    for (i = 0; i < pt_nelems(bad); i++) {
        s.data = (u_char *) bad[i];
        s.len = strlen(bad[i]);
        ck_assert_msg(pt_inet_parse_listen(&s, &a, &err) == PT_ERROR, "%s",
                      bad[i]);
    }
    s.data = (u_char *) "127.0.0.1:80";
    s.len = 12;
    pt_inet_parse_listen(&s, &a, &err);
    s.data = (u_char *) "127.0.0.1:81";
    pt_inet_parse_listen(&s, &b, &err);
    ck_assert(!pt_inet_addr_eq((struct sockaddr *) &a.sockaddr, a.socklen,
                               (struct sockaddr *) &b.sockaddr, b.socklen));
}
END_TEST

START_TEST(inet_ntop_ipv4)
{
    const u_char a[4][4] = { {0, 0, 0, 0}, {127, 0, 0, 1},
                             {255, 255, 255, 255}, {10, 20, 199, 9} };
    const char  *want[4] = { "0.0.0.0", "127.0.0.1", "255.255.255.255",
                             "10.20.199.9" };
    char         buf[INET6_ADDRSTRLEN], small[8];
    u_char       v6[16] = { 0 };
    int          i;

    for (i = 0; i < 4; i++) {
        ck_assert_ptr_eq(pt_inet_ntop(AF_INET, a[i], buf, sizeof(buf)), buf);
        ck_assert_str_eq(buf, want[i]);
    }
    /* too small for "127.0.0.1" and its NUL: refused as inet_ntop does */
    ck_assert_ptr_null(pt_inet_ntop(AF_INET, a[1], small, sizeof(small)));
    ck_assert_ptr_null(pt_inet_ntop(AF_INET, a[1], buf, 9));
    ck_assert_ptr_eq(pt_inet_ntop(AF_INET, a[1], buf, 10), buf);
    v6[15] = 1;
    ck_assert_ptr_eq(pt_inet_ntop(AF_INET6, v6, buf, sizeof(buf)), buf);
    ck_assert_str_eq(buf, "::1");
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, core_defaults);
    tcase_add_test(tc, core_values);
    tcase_add_test(tc, core_errors);
    tcase_add_test(tc, listen_parsing);
    tcase_add_test(tc, listen_errors);
    tcase_add_test(tc, core_http_values);
    tcase_add_test(tc, inet_parse_print);
    tcase_add_test(tc, inet_ntop_ipv4);
    suite_add_tcase(s, tc);
    return s;
}

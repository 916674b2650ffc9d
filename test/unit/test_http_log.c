/*
 * Unit tests for worker/http_log (included to reach its statics): format
 * compilation and its nginx-worded errors, the three escapes, unset
 * values, $time_local, $remote_user, the combined line, if=, buffers
 * (gzip included), and common/syslog's parsing and header.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "conf_helper.h"
#include "worker/http_log.c"

static char                      outpath[64];
static void                     *main_conf[4];
static void                     *loc_conf[4];
static pt_http_core_main_conf_t *cmcf;
static log_main_conf_t          *lmcf;
static pt_connection_t           conn;
static pt_http_request_t        *r;
static const char               *t_value;   /* $t; NULL: unset */

static char *
read_fd(int fd)
{
    static char buf[16384];
    ssize_t     n = pread(fd, buf, sizeof(buf) - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static int
get_t(pt_http_request_t *rr, pt_http_variable_value_t *v, uintptr_t data)
{
    if (t_value == NULL) {
        v->valid = 0;
        v->not_found = 1;
        return PT_OK;
    }
    v->data = (u_char *) t_value;
    v->len = strlen(t_value);
    v->valid = 1;
    v->not_found = 0;
    return PT_OK;
}

static void
setup(void)
{
    pt_str_t            name = S("t");
    pt_http_variable_t *v;

    tc_conf_setup("log_err", NULL, PT_CONF_HTTP);
    strcpy(outpath, "/tmp/pt_log_out_XXXXXX");
    close(mkstemp(outpath));

    pt_str_set(&tc_cycle.hostname, "testhost");
    pt_str_set(&tc_cycle.prefix, "/tmp/");

    pt_http_core_module.index = 1;
    pt_http_log_module.index = 2;
    cmcf = pt_pcalloc(tc_pool, sizeof(*cmcf));
    ck_assert_int_eq(pt_array_init(&cmcf->phases[PT_HTTP_LOG_PHASE], tc_pool,
                                   1, sizeof(pt_http_handler_pt)), PT_OK);
    main_conf[1] = cmcf;
    tc_ctx.main_conf = main_conf;
    ck_assert_int_eq(pt_http_variables_add_core_vars(&tc_cf), PT_OK);
    v = pt_http_add_variable(&tc_cf, &name, PT_HTTP_VAR_NOCACHEABLE);
    ck_assert_ptr_nonnull(v);
    v->get_handler = get_t;
    t_value = NULL;
    lmcf = create_main_conf(&tc_cf);
    ck_assert_ptr_nonnull(lmcf);
    main_conf[2] = lmcf;
    loc_conf[2] = create_loc_conf(&tc_cf);
    ck_assert_int_eq(postconfiguration(&tc_cf), PT_OK);

    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    conn.log = &tc_log;
    pt_str_set(&conn.addr_text, "192.0.2.7");
}

static void
teardown(void)
{
    tc_conf_teardown();
    unlink(outpath);
}

static void
add_header(pt_table_elt_t **slot, const char *key, const char *value)
{
    pt_table_elt_t *h = pt_array_push(&r->headers_in.headers);

    memset(h, 0, sizeof(*h));
    h->hash = 1;
    h->key = S(key);
    h->value = S(value);
    h->lowcase_key = (u_char *) key;
    if (slot != NULL) {
        *slot = h;
    }
}

/* Bind the variable indexes, then make a request "GET /p?a=1". */
static void
init(void)
{
    ck_assert_int_eq(pt_http_variables_init_vars(&tc_cf), PT_OK);
    r = pt_pcalloc(tc_pool, sizeof(*r));
    r->pool = tc_pool;
    r->connection = &conn;
    r->main_conf = main_conf;
    r->loc_conf = loc_conf;
    r->main = r;
    r->variables = pt_pcalloc(tc_pool, pt_http_variables_count(cmcf)
                                       * sizeof(pt_http_variable_value_t) + 1);
    ck_assert_int_eq(pt_array_init(&r->headers_in.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    r->request_line = S("GET /p?a=1 HTTP/1.1");
    r->uri = S("/p");
    r->args = S("a=1");
    r->headers_out.status = 200;
    r->header_size = 100;
    conn.sent = 142;
}

static log_fmt_t *
format(const char *a, const char *b)
{
    pt_str_t   args[2];
    log_fmt_t *fmt = pt_pcalloc(tc_pool, sizeof(log_fmt_t));

    args[0] = S(a);
    args[1] = b ? S(b) : S("");
    ck_assert_int_eq(compile_format(&tc_cf, fmt, args, b ? 2 : 1), PT_OK);
    return fmt;
}

/* The line a format gives for r. */
static const char *
line(log_fmt_t *fmt)
{
    static char                buf[4096];
    pt_http_variable_value_t  *vals;
    size_t                     len = evaluate(r, fmt, &vals);
    u_char                    *end;

    ck_assert_uint_lt(len, sizeof(buf));
    end = render((u_char *) buf, fmt, vals);
    ck_assert_uint_eq((size_t) (end - (u_char *) buf), len);
    *end = '\0';
    return buf;
}

START_TEST(compile_ops)
{
    log_fmt_t *f = format("a $t ${t}b", "[$t]");
    log_op_t  *op = f->ops->elts;

    ck_assert_uint_eq(f->escape, LOG_ESCAPE_DEFAULT);
    /* "a " t " " t "b" "[" t "]" */
    ck_assert_uint_eq(f->ops->nelts, 8);
    ck_assert(op[0].data && op[0].len == 2);
    ck_assert_ptr_null(op[1].data);
    ck_assert_ptr_null(op[3].data);
    ck_assert_uint_eq(op[1].index, op[3].index);
    ck_assert(op[4].data && op[4].len == 1 && op[4].data[0] == 'b');
    ck_assert(op[5].data && op[5].data[0] == '[');
    ck_assert_uint_eq(format("escape=json", "x")->escape, LOG_ESCAPE_JSON);
    ck_assert_uint_eq(format("escape=none", "x")->escape, LOG_ESCAPE_NONE);
    ck_assert_uint_eq(format("escape=default", "x")->escape,
                      LOG_ESCAPE_DEFAULT);
    /* escape= alone: an empty format */
    ck_assert_uint_eq(format("escape=json", NULL)->ops->nelts, 0);
    t_value = "v";
    init();
    ck_assert_str_eq(line(f), "a v vb[v]");
}
END_TEST

static void
compile_err(const char *text, const char *msg)
{
    pt_str_t  arg = S(text);
    log_fmt_t fmt;

    memset(&fmt, 0, sizeof(fmt));
    ck_assert_int_eq(compile_format(&tc_cf, &fmt, &arg, 1), PT_ERROR);
    ck_log_has(msg);
}

START_TEST(compile_errors)
{
    compile_err("$", "invalid parameter \"$\"");
    compile_err("a$-b", "invalid parameter \"a$-b\"");
    compile_err("$$", "invalid parameter \"$$\"");
    compile_err("${}", "invalid parameter \"${}\"");
    compile_err("${x", "the closing bracket in \"x\" variable is missing");
    compile_err("${ur-i}", "the closing bracket in \"ur\" variable is "
                "missing");
    compile_err("escape=xml", "unknown log format escaping \"xml\"");
}
END_TEST

START_TEST(escape_default)
{
    log_fmt_t *f = format("<$t>", NULL);

    t_value = "a\"b\\c\x01\x1f\x7f\xc3\xa9 ~z";
    init();
    ck_assert_str_eq(line(f), "<a\\x22b\\x5Cc\\x01\\x1F\\x7F\\xC3\\xA9 ~z>");
}
END_TEST

START_TEST(escape_json)
{
    log_fmt_t *f = format("escape=json", "{\"v\":\"$t\"}");

    t_value = "a\"b\\c\n\r\t\b\f\x01\x1b\x7f\xc3\xa9/";
    init();
    ck_assert_str_eq(line(f), "{\"v\":\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001"
                     "\\u001B\x7f\xc3\xa9/\"}");
}
END_TEST

START_TEST(escape_none)
{
    log_fmt_t *f = format("escape=none", "<$t>");

    t_value = "a\"b\\\x01\xc3\xa9";
    init();
    ck_assert_str_eq(line(f), "<a\"b\\\x01\xc3\xa9>");
}
END_TEST

START_TEST(unset_values)
{
    log_fmt_t *d = format("[$t][$http_x_none][$arg_nope]", NULL);
    log_fmt_t *j = format("escape=json", "[$t][$http_x_none]");
    log_fmt_t *n = format("escape=none", "[$t][$http_x_none]");
    log_fmt_t *e = format("[$t]", NULL);

    init();
    ck_assert_str_eq(line(d), "[-][-][-]");
    ck_assert_str_eq(line(j), "[][]");
    ck_assert_str_eq(line(n), "[][]");
    /* set but empty: nothing, not "-" */
    t_value = "";
    ck_assert_str_eq(line(e), "[]");
}
END_TEST

START_TEST(time_local)
{
    log_fmt_t  *f = format("$time_local", NULL);
    regex_t     re;
    const char *s;

    init();
    pt_time_update();
    s = line(f);
    ck_assert_int_eq(regcomp(&re, "^[0-3][0-9]/(Jan|Feb|Mar|Apr|May|Jun|Jul|"
                             "Aug|Sep|Oct|Nov|Dec)/[0-9]{4}:[0-2][0-9]:"
                             "[0-5][0-9]:[0-6][0-9] [-+][0-9]{4}$",
                             REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&re, s, 0, NULL, 0) == 0, "$time_local \"%s\"", s);
    regfree(&re);
    ck_assert_uint_eq(strlen(s), sizeof("28/Sep/1970:12:00:00 +0600") - 1);
}
END_TEST

START_TEST(combined_line)
{
    log_fmt_t *f;
    pt_str_t   name = S("combined");

    f = find_format(&tc_cf, lmcf, &name);
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(f->ops);
    init();
    add_header(&r->headers_in.user_agent, "User-Agent", "curl/8 \"x\"");
    pt_time_update();
    {
        char want[512];

        snprintf(want, sizeof(want), "192.0.2.7 - - [%.*s] \"GET /p?a=1 "
                 "HTTP/1.1\" 200 42 \"-\" \"curl/8 \\x22x\\x22\"",
                 (int) pt_cached_http_log_time.len,
                 pt_cached_http_log_time.data);
        ck_assert_str_eq(line(f), want);
    }
}
END_TEST

static const char *
remote_user(const char *auth)
{
    static char                buf[64];
    pt_http_variable_value_t   v;

    init();
    if (auth != NULL) {
        add_header(&r->headers_in.authorization, "Authorization", auth);
    }
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(var_remote_user(r, &v, 0), PT_OK);
    if (v.not_found) {
        return "(unset)";
    }
    snprintf(buf, sizeof(buf), "%.*s", (int) v.len, v.data);
    return buf;
}

START_TEST(remote_user_variable)
{
    ck_assert_str_eq(remote_user(NULL), "(unset)");
    ck_assert_str_eq(remote_user("Basic Ym9iOnB3"), "bob");
    ck_assert_str_eq(remote_user("basic   Ym9iOng="), "bob");
    ck_assert_str_eq(remote_user("Basic Ym9iOg=="), "bob");   /* "bob:" */
    ck_assert_str_eq(remote_user("Basic Ym9i"), "(unset)");   /* no ":" */
    ck_assert_str_eq(remote_user("Basic OnB3"), "(unset)");   /* ":pw" */
    ck_assert_str_eq(remote_user("Basic Ym9*OnB3"), "(unset)");
    ck_assert_str_eq(remote_user("Basic "), "(unset)");
    ck_assert_str_eq(remote_user("Bearer Ym9iOnB3"), "(unset)");
}
END_TEST

/* A log_t writing to outpath in format f. */
static log_t *
file_log(log_fmt_t *f)
{
    log_t    *log = pt_pcalloc(tc_pool, sizeof(log_t));
    pt_str_t  name = S(outpath);

    log->file = pt_log_open_file(&tc_cycle.open_files, tc_pool, &name);
    ck_assert_ptr_nonnull(log->file);
    if (log->file->fd == -1) {
        log->file->fd = open(outpath, O_WRONLY | O_APPEND);
        ck_assert_int_ge(log->file->fd, 0);
    }
    log->format = f;
    return log;
}

static char *
read_out(void)
{
    int   fd = open(outpath, O_RDONLY);
    char *s;

    ck_assert_int_ge(fd, 0);
    s = read_fd(fd);
    close(fd);
    return s;
}

START_TEST(file_lines)
{
    log_t *log = file_log(format("$t", NULL));

    init();
    t_value = "one";
    log_line(r, log);
    t_value = "two";
    log_line(r, log);
    ck_assert_str_eq(read_out(), "one\ntwo\n");
    close(log->file->fd);
}
END_TEST

START_TEST(buffered_lines)
{
    log_t *log = file_log(format("$t", NULL));
    log_t *other;

    init();
    /* buffer=10: two 4-byte lines fit, the third flushes them first */
    ck_assert_ptr_eq(set_buffer(&tc_cf, log, 10, 0, 0), PT_CONF_OK);
    ck_assert_ptr_eq(log->file->flush, buffer_flush);
    t_value = "aaa";
    log_line(r, log);
    t_value = "bbb";
    log_line(r, log);
    ck_assert_str_eq(read_out(), "");
    t_value = "ccc";
    log_line(r, log);
    ck_assert_str_eq(read_out(), "aaa\nbbb\n");
    /* a line longer than the whole buffer goes straight out, after it */
    t_value = "0123456789abc";
    log_line(r, log);
    ck_assert_str_eq(read_out(), "aaa\nbbb\nccc\n0123456789abc\n");
    t_value = "ddd";
    log_line(r, log);
    /* what a reopen or the exit does */
    exit_process(&tc_cycle);
    ck_assert_str_eq(read_out(), "aaa\nbbb\nccc\n0123456789abc\nddd\n");
    /* the same file with another buffer size is a conflict */
    other = file_log(format("$t", NULL));
    tc_cf.args = pt_pcalloc(tc_pool, 2 * sizeof(pt_str_t));
    tc_cf.args[1] = S(outpath);
    ck_assert_ptr_eq(set_buffer(&tc_cf, other, 20, 0, 0), PT_CONF_ERROR);
    ck_log_has("already defined with conflicting parameters");
    ck_assert_ptr_eq(set_buffer(&tc_cf, other, 10, 0, 0), PT_CONF_OK);
    close(log->file->fd);
}
END_TEST

START_TEST(gzip_buffer)
{
    log_t        *log = file_log(format("$t", NULL));
    char         *raw, out[256];
    z_stream      zs;
    struct stat   st;
    int           fd;
    u_char        in[256];
    ssize_t       n;

    init();
    ck_assert_ptr_eq(set_buffer(&tc_cf, log, 1024, 0, 1), PT_CONF_OK);
    t_value = "first line";
    log_line(r, log);
    buffer_flush(log->file, &tc_log);
    t_value = "second line";
    log_line(r, log);
    buffer_flush(log->file, &tc_log);
    close(log->file->fd);

    /* two gzip members that inflate into both lines */
    fd = open(outpath, O_RDONLY);
    ck_assert_int_eq(fstat(fd, &st), 0);
    n = read(fd, in, sizeof(in));
    close(fd);
    ck_assert_int_eq(n, st.st_size);
    ck_assert(in[0] == 0x1f && in[1] == 0x8b);
    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(inflateInit2(&zs, MAX_WBITS + 16), Z_OK);
    zs.next_in = in;
    zs.avail_in = (uInt) n;
    zs.next_out = (u_char *) out;
    zs.avail_out = sizeof(out) - 1;
    ck_assert_int_eq(inflate(&zs, Z_NO_FLUSH), Z_STREAM_END);
    ck_assert_int_eq(inflateReset(&zs), Z_OK);
    ck_assert_int_eq(inflate(&zs, Z_NO_FLUSH), Z_STREAM_END);
    out[sizeof(out) - 1 - zs.avail_out] = '\0';
    inflateEnd(&zs);
    raw = out;
    ck_assert_str_eq(raw, "first line\nsecond line\n");
}
END_TEST

START_TEST(if_filter)
{
    log_t                    *log = file_log(format("$t", NULL));
    log_loc_conf_t           *llcf = loc_conf[2];
    pt_str_t                  cond = S("$arg_log");

    log->filter = pt_pcalloc(tc_pool, sizeof(pt_http_complex_value_t));
    ck_assert_int_eq(pt_http_compile_complex_value(&tc_cf, &cond, log->filter),
                     PT_OK);
    llcf->logs = pt_array_create(tc_pool, 1, sizeof(log_t));
    *(log_t *) pt_array_push(llcf->logs) = *log;
    t_value = "x";
    init();
    r->args = S("log=0");
    ck_assert_int_eq(log_handler(r), PT_OK);
    init();
    r->args = S("a=1");
    ck_assert_int_eq(log_handler(r), PT_OK);
    ck_assert_str_eq(read_out(), "");
    init();
    r->args = S("log=yes");
    ck_assert_int_eq(log_handler(r), PT_OK);
    ck_assert_str_eq(read_out(), "x\n");
    llcf->off = 1;
    ck_assert_int_eq(log_handler(r), PT_OK);
    ck_assert_str_eq(read_out(), "x\n");
    close(log->file->fd);
}
END_TEST

static pt_syslog_peer_t *
syslog_peer(const char *text)
{
    pt_str_t s = S(text);

    return pt_syslog_parse(&tc_cf, &s);
}

static void
syslog_err(const char *text, const char *msg)
{
    ck_assert_ptr_null(syslog_peer(text));
    ck_log_has(msg);
}

START_TEST(syslog_parse)
{
    pt_syslog_peer_t *p;

    p = syslog_peer("server=127.0.0.1");
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(p->facility, 23);
    ck_assert_uint_eq(p->severity, 6);
    ck_assert_int_eq(ntohs(((struct sockaddr_in *) &p->server.sockaddr)
                           ->sin_port), 514);
    ck_assert_int_eq(p->tag.len, 7);
    p = syslog_peer("server=[::1]:5140,facility=local0,severity=warn,"
                    "tag=ab_C9,nohostname");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->server.sockaddr.ss_family, AF_INET6);
    ck_assert_int_eq(ntohs(((struct sockaddr_in6 *) &p->server.sockaddr)
                           ->sin6_port), 5140);
    ck_assert_uint_eq(p->facility, 16);
    ck_assert_uint_eq(p->severity, 4);
    ck_assert(p->nohostname);
    p = syslog_peer("server=unix:/dev/log");
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(p->server.sockaddr.ss_family, AF_UNIX);

    syslog_err("", "unknown syslog parameter \"\"");
    syslog_err("facility=local1", "no syslog server specified");
    syslog_err("server=1.2.3.4,foo", "unknown syslog parameter \"foo\"");
    syslog_err("server=1.2.3.4,facility=bad,tag=x",
               "unknown syslog facility \"bad,tag=x\"");
    syslog_err("server=1.2.3.4,facility=loc",
               "unknown syslog facility \"loc\"");
    syslog_err("server=1.2.3.4,severity=bad",
               "unknown syslog severity \"bad\"");
    syslog_err("server=1.2.3.4,tag=a-b", "syslog \"tag\" only allows "
               "alphanumeric characters and underscore");
    syslog_err("server=1.2.3.4,tag=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
               "syslog tag length exceeds 32");
    syslog_err("server=1.2.3.4,server=1.2.3.5", "duplicate syslog \"server\"");
    syslog_err("server=1.2.3.4:99999",
               "invalid port in syslog server \"1.2.3.4:99999\"");
    syslog_err("server=,tag=x", "no host in syslog server \"\"");
}
END_TEST

START_TEST(syslog_header)
{
    pt_syslog_peer_t *p = syslog_peer("server=127.0.0.1,tag=web");
    u_char            buf[256], *end;
    regex_t           re;

    ck_assert_ptr_nonnull(p);
    pt_time_update();
    end = pt_syslog_add_header(p, buf, 6);
    *end = '\0';
    ck_assert_uint_le((size_t) (end - buf), pt_syslog_header_len(p));
    ck_assert_int_eq(regcomp(&re, "^<190>(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|"
                             "Sep|Oct|Nov|Dec) [ 1-3][0-9] [0-2][0-9]:"
                             "[0-5][0-9]:[0-6][0-9] testhost web: $",
                             REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&re, (char *) buf, 0, NULL, 0) == 0, "header %s",
                  buf);
    regfree(&re);
    p->nohostname = 1;
    p->facility = 0;
    end = pt_syslog_add_header(p, buf, 3);
    *end = '\0';
    ck_assert_msg(strncmp((char *) buf, "<3>", 3) == 0
                  && strstr((char *) buf, " web: ") == (char *) end - 6
                  && strstr((char *) buf, "testhost") == NULL, "%s", buf);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_log");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, compile_ops);
    tcase_add_test(tc, compile_errors);
    tcase_add_test(tc, escape_default);
    tcase_add_test(tc, escape_json);
    tcase_add_test(tc, escape_none);
    tcase_add_test(tc, unset_values);
    tcase_add_test(tc, time_local);
    tcase_add_test(tc, combined_line);
    tcase_add_test(tc, remote_user_variable);
    tcase_add_test(tc, file_lines);
    tcase_add_test(tc, buffered_lines);
    tcase_add_test(tc, gzip_buffer);
    tcase_add_test(tc, if_filter);
    tcase_add_test(tc, syslog_parse);
    tcase_add_test(tc, syslog_header);
    suite_add_tcase(s, tc);
    return s;
}

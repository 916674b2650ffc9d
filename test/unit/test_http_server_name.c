/*
 * Unit tests for worker/http_server_name: precedence of exact, wildcard and
 * regex names, conflicts and invalid names, and Host normalization.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/pool.h"
#include "common/regex.h"
#include "common/str.h"
#include "worker/http_server_name.h"

/* Servers are identified by a letter; each adds its names in order. */
typedef struct {
    const char *server;
    const char *name;
} name_t;

static const name_t names_conf[] = {
    { "A", "example.com" },
    { "A", "www.example.com" },
    { "B", "*.example.com" },
    { "C", ".example.org" },
    { "D", "www.example.*" },
    { "E", "mail.*" },
    { "F", "~^(?<user>[a-z]+)\\.example\\.net$" },
    { "G", "~^www\\d+\\.example\\.com$" },
    { "H", "*.sub.example.com" },
    { "I", "" },
    { "J", "www.example.co.*" },
    { "K", "~^api\\." },
    { "L", "Upper.Example.COM" },
    { "M", "*.com" },
    { "N", "~^(www\\.)?shop\\.(?<tld>[a-z]+)$" },
    { "O", "~^mail\\." },
};

typedef struct {
    const char *host;
    const char *server;     /* NULL: no match */
    const char *cap1;       /* capture 1 of a regex match */
} host_row_t;

static const host_row_t host_rows[] = {
    { "example.com", "A", NULL },
    { "www.example.com", "A", NULL },         /* exact beats *.example.com */
    { "foo.example.com", "B", NULL },
    { "a.b.example.com", "B", NULL },         /* "*" spans labels */
    { "x.sub.example.com", "H", NULL },       /* longest leading wildcard */
    { "a.b.sub.example.com", "H", NULL },
    { "sub.example.com", "B", NULL },         /* "*." needs a label */
    { "example.org", "C", NULL },             /* ".x" matches x itself */
    { "a.example.org", "C", NULL },
    { "a.b.example.org", "C", NULL },
    { "xexample.org", NULL, NULL },           /* only on a dot border */
    { "www.example.net", "D", NULL },         /* trailing beats regex F */
    { "bob.example.net", "F", "bob" },
    { "www.example.co.uk", "J", NULL },       /* longest trailing */
    { "www.example.de", "D", NULL },
    { "www.example", NULL, NULL },            /* "x.*" needs a label */
    { "mail.foo.bar", "E", NULL },            /* trailing beats regex O */
    { "mail", NULL, NULL },
    { "www12.example.com", "B", NULL },       /* wildcard beats regex G */
    { "", "I", NULL },
    { "upper.example.com", "L", NULL },
    { "foo.com", "M", NULL },
    { "notexample.com", "M", NULL },
    { "com", NULL, NULL },
    { "api.test", "K", NULL },
    { "bob.example.net.evil", NULL, NULL },
    { "shop.de", "N", NULL },                 /* unset group 1 */
    { "www.shop.de", "N", "www." },
    { "BOB.example.net", "F", "BOB" },        /* regex names: caseless */
    { "unknown.host", NULL, NULL },
    { "[::1]", NULL, NULL },
};

static pt_http_server_names_t *
build(pt_pool_t *p)
{
    pt_http_server_names_t *names = pt_http_server_names_create(p);
    pt_str_t                s;
    u_char                  err[256];
    pt_uint_t               i;

    ck_assert_ptr_nonnull(names);
    for (i = 0; i < pt_nelems(names_conf); i++) {
        s.data = (u_char *) names_conf[i].name;
        s.len = strlen(names_conf[i].name);
        ck_assert_msg(pt_http_server_names_add(names, &s,
                                               (void *) names_conf[i].server,
                                               err, sizeof(err))
                      == PT_OK, "name %u: %s", (unsigned) i, err);
        ck_assert_int_eq(err[0], '\0');
    }
    return names;
}

START_TEST(selection)
{
    pt_pool_t              *p = pt_pool_create(1024, NULL);
    pt_http_server_names_t *names = build(p);
    pt_regex_t             *re;
    const host_row_t       *r;
    const char             *got;
    int                     caps[6];
    pt_uint_t               i;

    for (i = 0; i < pt_nelems(host_rows); i++) {
        r = &host_rows[i];
        re = (pt_regex_t *) 1;
        got = pt_http_server_names_find(names, (const u_char *) r->host,
                                        strlen(r->host), caps, 3, &re);
        ck_assert_msg((got == NULL) == (r->server == NULL)
                      && (got == NULL || strcmp(got, r->server) == 0),
                      "row %u \"%s\": got %s, want %s", (unsigned) i,
                      r->host, got ? got : "-", r->server ? r->server : "-");
        if (got != NULL && (*got == 'F' || *got == 'G' || *got == 'K'
                            || *got == 'N' || *got == 'O'))
        {
            ck_assert_ptr_nonnull(re);
        } else {
            ck_assert_ptr_null(re);
        }
        if (r->cap1 != NULL) {
            ck_assert_int_eq(caps[3] - caps[2], (int) strlen(r->cap1));
            ck_assert_msg(memcmp(r->host + caps[2], r->cap1, strlen(r->cap1))
                          == 0, "row %u: capture", (unsigned) i);
        }
    }
    pt_pool_destroy(p);
}
END_TEST

START_TEST(named_captures)
{
    pt_pool_t              *p = pt_pool_create(1024, NULL);
    pt_http_server_names_t *names = build(p);
    pt_regex_t             *re = NULL;
    pt_str_t                n;
    const char             *host = "www.shop.de";
    int                     caps[6], idx;

    ck_assert_str_eq(pt_http_server_names_find(names, (const u_char *) host,
                                               strlen(host), caps, 3, &re),
                     "N");
    ck_assert_ptr_nonnull(re);
    pt_str_set(&n, "tld");
    idx = pt_regex_named(re, &n);
    ck_assert_int_eq(idx, 2);
    ck_assert_int_eq(caps[2 * idx], 9);
    ck_assert_int_eq(caps[2 * idx + 1], 11);

    host = "shop.de";
    ck_assert_str_eq(pt_http_server_names_find(names, (const u_char *) host,
                                               strlen(host), caps, 3, &re),
                     "N");
    ck_assert_int_eq(caps[2], -1);

    /* No capture buffer and no regex out-pointer are fine. */
    host = "bob.example.net";
    ck_assert_str_eq(pt_http_server_names_find(names, (const u_char *) host,
                                               strlen(host), NULL, 0, NULL),
                     "F");

    /* Regex names are caseless, like nginx's. */
    host = "API.x";
    ck_assert_str_eq(pt_http_server_names_find(names, (const u_char *) host,
                                               strlen(host), NULL, 0, NULL),
                     "K");
    pt_pool_destroy(p);
}
END_TEST

typedef struct {
    const char *name;
    int         rc;
    const char *err;
} add_row_t;

static const add_row_t add_rows[] = {
    { "example.com", PT_DECLINED, "conflicting server name \"example.com\"" },
    { "EXAMPLE.com", PT_DECLINED, "conflicting server name \"example.com\"" },
    { ".example.com", PT_DECLINED,
      "conflicting server name \".example.com\"" },
    { "*.example.org", PT_DECLINED,
      "conflicting server name \"*.example.org\"" },
    { "example.org", PT_DECLINED, "conflicting server name \"example.org\"" },
    { "mail.*", PT_DECLINED, "conflicting server name \"mail.*\"" },
    { "*.example.com", PT_DECLINED,
      "conflicting server name \"*.example.com\"" },
    { "", PT_DECLINED, "conflicting server name \"\"" },
    { "ww*.x", PT_ERROR, "invalid server name or wildcard \"ww*.x\"" },
    { "www.*.example.org", PT_ERROR,
      "invalid server name or wildcard \"www.*.example.org\"" },
    { "*.example.*", PT_ERROR,
      "invalid server name or wildcard \"*.example.*\"" },
    { "www.example*", PT_ERROR,
      "invalid server name or wildcard \"www.example*\"" },
    { "a..b", PT_ERROR, "invalid server name or wildcard \"a..b\"" },
    { "*example.com", PT_ERROR, "server name \"*example.com\" is invalid" },
    { "*.", PT_ERROR, "server name \"*.\" is invalid" },
    { "*", PT_ERROR, "server name \"*\" is invalid" },
    { ".", PT_ERROR, "server name \".\" is invalid" },
    { "~", PT_ERROR, "empty regex in server name \"~\"" },
    { "~(abc", PT_ERROR, "pcre2_compile() failed: missing closing "
                         "parenthesis in \"(abc\"" },
    { "a/b", PT_OK, "server name \"a/b\" has suspicious symbols" },
    { "example.net", PT_OK, "" },
    { "*.example.net", PT_OK, "" },   /* exact and "*." can coexist */
    { "~^example\\.com$", PT_OK, "" },  /* regexes are never conflicts */
};

START_TEST(add_errors)
{
    pt_pool_t              *p = pt_pool_create(1024, NULL);
    pt_http_server_names_t *names = build(p);
    pt_str_t                s;
    u_char                  err[256];
    const char             *host;
    pt_uint_t               i;
    int                     rc;

    for (i = 0; i < pt_nelems(add_rows); i++) {
        s.data = (u_char *) add_rows[i].name;
        s.len = strlen(add_rows[i].name);
        memset(err, 'x', sizeof(err));
        rc = pt_http_server_names_add(names, &s, "Z", err, sizeof(err));
        ck_assert_msg(rc == add_rows[i].rc, "add %u \"%s\": rc %d",
                      (unsigned) i, add_rows[i].name, rc);
        ck_assert_msg(strcmp((char *) err, add_rows[i].err) == 0,
                      "add %u: \"%s\"", (unsigned) i, err);
    }

    /* A conflicting name is ignored: the first server keeps it. */
    host = "example.com";
    ck_assert_str_eq(pt_http_server_names_find(names, (const u_char *) host,
                                               strlen(host), NULL, 0, NULL),
                     "A");
    host = "x.example.net";
    ck_assert_str_eq(pt_http_server_names_find(names, (const u_char *) host,
                                               strlen(host), NULL, 0, NULL),
                     "Z");
    pt_pool_destroy(p);
}
END_TEST

START_TEST(many_names)
{
    pt_pool_t              *p = pt_pool_create(1024, NULL);
    pt_http_server_names_t *names = pt_http_server_names_create(p);
    static int              servers[1000];
    char                    buf[64];
    pt_str_t                s;
    u_char                  err[256];
    int                     i;

    for (i = 0; i < 1000; i++) {
        s.len = (size_t) sprintf(buf, i % 2 ? "host%d.example.com"
                                            : "*.zone%d.example.com", i);
        s.data = (u_char *) buf;
        ck_assert_int_eq(pt_http_server_names_add(names, &s, &servers[i],
                                                  err, sizeof(err)), PT_OK);
    }
    for (i = 0; i < 1000; i++) {
        size_t len = (size_t) sprintf(buf, i % 2 ? "host%d.example.com"
                                                 : "a.zone%d.example.com", i);

        ck_assert_ptr_eq(pt_http_server_names_find(names, (u_char *) buf, len,
                                                   NULL, 0, NULL),
                         &servers[i]);
    }
    ck_assert_ptr_null(pt_http_server_names_find(names,
                                                 (u_char *) "host2.example.com",
                                                 17, NULL, 0, NULL));
    pt_pool_destroy(p);
}
END_TEST

typedef struct {
    const char *in;
    size_t      len;        /* 0: strlen(in) */
    const char *out;        /* NULL: invalid */
} norm_row_t;

static const norm_row_t norm_rows[] = {
    { "Example.COM", 0, "example.com" },
    { "example.com:8080", 0, "example.com" },
    { "example.com.", 0, "example.com" },
    { "example.com.:80", 0, "example.com" },
    { "[::1]:80", 0, "[::1]" },
    { "[::1]", 0, "[::1]" },
    { "[::FFFF:1.2.3.4]:443", 0, "[::ffff:1.2.3.4]" },
    { "1.2.3.4:80", 0, "1.2.3.4" },
    { "localhost", 0, "localhost" },
    { "h\xc3\xa9.com", 0, "h\xc3\xa9.com" },
    { "a-b_c.example", 0, "a-b_c.example" },
    { "a..b", 0, NULL },
    { "a.b..", 0, NULL },
    { "a/b", 0, NULL },
    { "a\\b", 0, NULL },
    { "a\0b", 3, NULL },
    { "a b", 0, NULL },
    { "a\tb", 0, NULL },
    { "a\x7f", 0, NULL },
    { "a\r", 0, NULL },
    { "", 0, NULL },
    { ":80", 0, NULL },
    { ".", 0, NULL },
    { "example.com:8/0", 0, NULL },   /* the port part is checked too */
};

START_TEST(normalize)
{
    u_char   out[64];
    ssize_t  n;
    size_t   len;
    pt_uint_t i;

    for (i = 0; i < pt_nelems(norm_rows); i++) {
        len = norm_rows[i].len ? norm_rows[i].len : strlen(norm_rows[i].in);
        n = pt_http_server_name_normalize((const u_char *) norm_rows[i].in,
                                          len, out);
        if (norm_rows[i].out == NULL) {
            ck_assert_msg(n == PT_ERROR, "norm %u: accepted", (unsigned) i);
            continue;
        }
        ck_assert_msg(n == (ssize_t) strlen(norm_rows[i].out)
                      && memcmp(out, norm_rows[i].out, (size_t) n) == 0,
                      "norm %u: got \"%.*s\"", (unsigned) i,
                      n > 0 ? (int) n : 0, out);
    }

    /* In place. */
    memcpy(out, "WWW.Example.Org.:443", 20);
    n = pt_http_server_name_normalize(out, 20, out);
    ck_assert_int_eq(n, 15);
    ck_assert_int_eq(memcmp(out, "www.example.org", 15), 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_server_name");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, selection);
    tcase_add_test(tc, named_captures);
    tcase_add_test(tc, add_errors);
    tcase_add_test(tc, many_names);
    tcase_add_test(tc, normalize);
    suite_add_tcase(s, tc);
    return s;
}

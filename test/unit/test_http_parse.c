/*
 * Unit tests for worker/http_parse: request and header lines (whole, split
 * at every byte, byte by byte, with the buffer moving), invalid input with
 * the exact code and line, path normalisation, chunked, Content-Length.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "test/fuzz/http_parse_driver.h"
#include "worker/http_parse.h"

#define S(s) (s), sizeof(s) - 1

/* ---- helpers ---- */

/* "METHOD target version hN|" per request, "!rc@req.line" for an error,
 * "$" when the input ends inside a request. */
static void
summarize(const drv_log_t *log, const u_char *in, char *out, size_t size)
{
    const drv_event_t *e;
    size_t             len = 0;
    int                i, req = 0, line = 0;

    out[0] = '\0';
    for (i = 0; i < log->nev && len < size; i++) {
        e = &log->ev[i];
        if (e->kind == DRV_REQUEST && e->rc == PT_OK) {
            len += snprintf(out + len, size - len, "%.*s %.*s %lu ",
                            (int) (e->off[3] - e->off[2]), in + e->off[2],
                            (int) (e->off[5] - e->off[3] - 1),
                            in + e->off[3] + 1, (unsigned long) e->version);
            line = 0;
        } else if (e->kind == DRV_HEADER && e->rc == PT_OK) {
            line++;
        } else if (e->kind == DRV_HEADER
                   && e->rc == PT_HTTP_PARSE_HEADER_DONE)
        {
            len += snprintf(out + len, size - len, "h%d|", line);
            req++;
            line = 0;
        } else if (e->kind == DRV_END) {
            if (i > 0 && log->ev[i - 1].rc == PT_OK) {
                len += snprintf(out + len, size - len, "$");
            }
        } else {
            len += snprintf(out + len, size - len, "!%d@%d.%d", e->rc, req,
                            e->kind == DRV_REQUEST ? 0 : line + 1);
        }
    }
}

static drv_log_t whole, part;

/* Parse whole, then split at every byte (moving the buffer), then byte by
 * byte: every log must equal the whole one and break no invariant. */
static void
check_splits(const u_char *in, size_t n)
{
    size_t  k, *cuts;
    int     d;

    drv_run(&whole, in, n, NULL, 0);
    ck_assert_msg(whole.violation == NULL, "whole: %s", whole.violation);

    for (k = 0; k <= n; k++) {
        drv_run(&part, in, n, &k, 1);
        d = drv_diff(&whole, &part);
        ck_assert_msg(d == -1, "split at %zu: event %d differs", k, d);
        ck_assert_msg(part.violation == NULL, "split %zu: %s", k,
                      part.violation);
    }

    cuts = malloc(sizeof(size_t) * (n + 1));
    for (k = 0; k <= n; k++) {
        cuts[k] = k;
    }
    drv_run(&part, in, n, cuts, n + 1);
    free(cuts);
    ck_assert_msg(drv_diff(&whole, &part) == -1, "byte by byte differs");
    ck_assert_msg(part.violation == NULL, "bytewise: %s", part.violation);
}

/* ---- valid requests ---- */

typedef struct {
    const char  *in;
    const char  *expect;
} req_case_t;

static const req_case_t valid[] = {
    { "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET / 1001 h1|" },
    { "GET /index.html HTTP/1.0\r\n\r\n", "GET /index.html 1000 h0|" },
    { "HEAD /a/b/c.txt?x=1&y=2 HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n",
      "HEAD /a/b/c.txt?x=1&y=2 1001 h2|" },
    { "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
      "POST /submit 1001 h2|" },
    { "PUT /f HTTP/1.1\r\n\r\n", "PUT /f 1001 h0|" },
    { "DELETE /f HTTP/1.1\r\n\r\n", "DELETE /f 1001 h0|" },
    { "MKCOL /d/ HTTP/1.1\r\n\r\n", "MKCOL /d/ 1001 h0|" },
    { "COPY /a HTTP/1.1\r\nDestination: /b\r\n\r\n", "COPY /a 1001 h1|" },
    { "MOVE /a HTTP/1.1\r\nDestination: /b\r\n\r\n", "MOVE /a 1001 h1|" },
    { "OPTIONS /x HTTP/1.1\r\n\r\n", "OPTIONS /x 1001 h0|" },
    { "PROPFIND /x HTTP/1.1\r\nDepth: 1\r\n\r\n", "PROPFIND /x 1001 h1|" },
    { "PROPPATCH /x HTTP/1.1\r\n\r\n", "PROPPATCH /x 1001 h0|" },
    { "LOCK /x HTTP/1.1\r\n\r\nUNLOCK /x HTTP/1.1\r\n\r\n",
      "LOCK /x 1001 h0|UNLOCK /x 1001 h0|" },
    { "PATCH /x HTTP/1.1\r\n\r\n", "PATCH /x 1001 h0|" },
    { "TRACE /x HTTP/1.1\r\n\r\n", "TRACE /x 1001 h0|" },
    { "CONNECT / HTTP/1.1\r\n\r\n", "CONNECT / 1001 h0|" },
    { "FOO-BAR_X /x HTTP/1.1\r\n\r\n", "FOO-BAR_X /x 1001 h0|" },
    { "GET http://example.com/path?q HTTP/1.1\r\nHost: example.com\r\n\r\n",
      "GET http://example.com/path?q 1001 h1|" },
    { "GET http://example.com:8080/p HTTP/1.1\r\n\r\n",
      "GET http://example.com:8080/p 1001 h0|" },
    { "GET http://Example.COM HTTP/1.1\r\n\r\n",
      "GET http://Example.COM 1001 h0|" },
    { "GET http://example.com?a=b HTTP/1.1\r\n\r\n",
      "GET http://example.com?a=b 1001 h0|" },
    { "GET http://[::1]:80/ HTTP/1.1\r\n\r\n",
      "GET http://[::1]:80/ 1001 h0|" },
    { "GET svn+ssh.x-y://h/x HTTP/1.1\r\n\r\n",
      "GET svn+ssh.x-y://h/x 1001 h0|" },
    { "\r\n\r\n\nGET / HTTP/1.1\r\n\r\n", "GET / 1001 h0|" },
    { "GET /lf HTTP/1.1\nHost: x\nA: b\n\n", "GET /lf 1001 h2|" },
    { "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
      "GET /1 1001 h1|GET /2 1001 h1|" },
    { "GET /1 HTTP/1.1\n\n\r\nHEAD /2 HTTP/1.0\r\nA: 1\nB: 2\r\n\r\n"
      "POST /3 HTTP/1.1\r\n\n",
      "GET /1 1001 h0|HEAD /2 1000 h2|POST /3 1001 h0|" },
    { "GET /a/./b/../c//d HTTP/1.1\r\n\r\n", "GET /a/./b/../c//d 1001 h0|" },
    { "GET /%41%42?x=%20 HTTP/1.1\r\n\r\n", "GET /%41%42?x=%20 1001 h0|" },
    { "GET /a+b?c+d HTTP/1.1\r\n\r\n", "GET /a+b?c+d 1001 h0|" },
    { "GET /a#frag?x HTTP/1.1\r\n\r\n", "GET /a#frag?x 1001 h0|" },
    { "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", "GET /caf\xc3\xa9 1001 h0|" },
    { "GET / HTTP/1.1\r\nX-Empty:\r\nX-Spaces:   \r\nX-Lf:\n\r\n",
      "GET / 1001 h3|" },
    { "GET / HTTP/1.1\r\nX: a \t b \t\r\nY:\tz\r\n\r\n", "GET / 1001 h2|" },
    { "GET / HTTP/1.1\r\nX_Under: 1\r\nX(y): 2\r\nUser-Agent: \xff\xfe\r\n\r\n",
      "GET / 1001 h3|" },
    { "GET / HTTP/1.9\r\n\r\n", "GET / 1009 h0|" },
    { "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET / 1000 h1|" },
    { "GET /dir/ HTTP/1.1\r\n\r\n", "GET /dir/ 1001 h0|" },
    { "GET /a.b/c HTTP/1.1\r\n\r\nGET /a/b.tar.gz HTTP/1.1\r\n\r\n",
      "GET /a.b/c 1001 h0|GET /a/b.tar.gz 1001 h0|" },
    { "GET /p?a?b&c=/../ HTTP/1.1\r\n\r\n", "GET /p?a?b&c=/../ 1001 h0|" },
    { "GET / HTTP/1.1\r\nDate: Tue, 15 Nov 1994 08:12:31 GMT\r\n"
      "Cookie: a=b; c=d\r\n\r\n", "GET / 1001 h2|" },
    { "GET /x HTTP/1.1\r\n\r\n\r\nGET /y HTTP/1.1\r\n\r\n",
      "GET /x 1001 h0|GET /y 1001 h0|" },
    { "GET /half HTTP/1.1\r\nHost: x\r\n", "GET /half 1001 $" },
    { "GET /a/.. HTTP/1.1\r\n\r\n", "GET /a/.. 1001 h0|" },
};

START_TEST(valid_requests)
{
    const req_case_t *c = &valid[_i];
    char              sum[1024];

    check_splits((const u_char *) c->in, strlen(c->in));
    summarize(&whole, (const u_char *) c->in, sum, sizeof(sum));
    ck_assert_str_eq(sum, c->expect);
}
END_TEST

/* Generated: many headers, a long value, a long name. */
START_TEST(valid_generated)
{
    static char  in[16384];
    char         sum[256];
    size_t       n;
    int          i;

    n = (size_t) sprintf(in, "GET /many HTTP/1.1\r\n");
    for (i = 0; i < 60; i++) {
        n += sprintf(in + n, "X-Header-%d: value %d\r\n", i, i);
    }
    n += sprintf(in + n, "\r\n");
    check_splits((u_char *) in, n);
    summarize(&whole, (u_char *) in, sum, sizeof(sum));
    ck_assert_str_eq(sum, "GET /many 1001 h60|");

    n = (size_t) sprintf(in, "GET /long HTTP/1.1\r\nX-Long: ");
    memset(in + n, 'v', 3000);
    n += 3000;
    n += sprintf(in + n, "\r\n%s: y\r\n\r\n",
                 "X-A-Very-Long-Header-Name-Beyond-Thirty-Two-Bytes");
    check_splits((u_char *) in, n);
    summarize(&whole, (u_char *) in, sum, sizeof(sum));
    ck_assert_str_eq(sum, "GET /long 1001 h2|");
    ck_assert_int_eq(whole.ev[1].off[3] - whole.ev[1].off[2], 3000);
    ck_assert_uint_eq(whole.ev[2].lcidx, PT_HTTP_LC_HEADER_LEN);
}
END_TEST

/* ---- field values ---- */

static pt_http_parse_t  pr;
static pt_buf_t         pb;

static int
parse_line(const char *s)
{
    pt_http_parse_init(&pr);
    memset(&pb, 0, sizeof(pb));
    pb.start = pb.pos = (u_char *) s;
    pb.last = pb.end = (u_char *) s + strlen(s);
    return pt_http_parse_request_line(&pr, &pb);
}

static int
span_eq(const u_char *a, const u_char *b, const char *s)
{
    if (a == NULL) {
        return s == NULL;
    }
    return s != NULL && (size_t) (b - a) == strlen(s)
           && memcmp(a, s, b - a) == 0;
}

#define ck_span(a, b, s)                                                      \
    ck_assert_msg(span_eq(a, b, s), "%s: \"%.*s\" != \"%s\"", #a,            \
                  (a) ? (int) ((b) - (a)) : 4, (a) ? (char *) (a) : "NULL",  \
                  (s) ? (s) : "NULL")

START_TEST(request_line_fields)
{
    ck_assert_int_eq(parse_line("GET http://a.example:8080/p/x.html?q=1 "
                                "HTTP/1.1\r\n"), PT_OK);
    ck_assert_uint_eq(pr.method, PT_HTTP_GET);
    ck_span(pr.method_start, pr.method_end, "GET");
    ck_span(pr.schema_start, pr.schema_end, "http");
    ck_span(pr.host_start, pr.host_end, "a.example");
    ck_span(pr.port_start, pr.port_end, "8080");
    ck_span(pr.uri_start, pr.uri_end, "/p/x.html?q=1");
    ck_span(pr.args_start, pr.uri_end, "q=1");
    ck_span(pr.uri_ext, pr.args_start - 1, "html");
    ck_span(pr.request_start, pr.request_end,
            "GET http://a.example:8080/p/x.html?q=1 HTTP/1.1");
    ck_assert_uint_eq(pr.http_version, 1001);
    ck_assert_int_eq(pr.complex_uri | pr.quoted_uri | pr.plus_in_uri, 0);

    ck_assert_int_eq(parse_line("GET http://[::1] HTTP/1.0\n"), PT_OK);
    ck_span(pr.host_start, pr.host_end, "[::1]");
    ck_assert_ptr_null(pr.port_start);
    ck_assert_int_eq(pr.empty_path_in_uri, 1);
    ck_span(pr.uri_start, pr.uri_end, "");
    ck_assert_uint_eq(pr.http_version, 1000);

    ck_assert_int_eq(parse_line("GET https://h?a=b HTTP/1.1\r\n"), PT_OK);
    ck_assert_int_eq(pr.empty_path_in_uri, 1);
    ck_span(pr.uri_start, pr.uri_end, "?a=b");
    ck_span(pr.args_start, pr.uri_end, "a=b");

    ck_assert_int_eq(parse_line("\r\nXYZ / HTTP/1.1\r\n"), PT_OK);
    ck_assert_uint_eq(pr.method, PT_HTTP_UNKNOWN);
    ck_span(pr.request_start, pr.request_end, "XYZ / HTTP/1.1");

    ck_assert_int_eq(parse_line("GETS / HTTP/1.1\r\n"), PT_OK);
    ck_assert_uint_eq(pr.method, PT_HTTP_UNKNOWN);
    ck_assert_int_eq(parse_line("CONNECT / HTTP/1.1\r\n"), PT_OK);
    ck_assert_uint_eq(pr.method, PT_HTTP_CONNECT);
    ck_assert_int_eq(parse_line("PROPPATCH / HTTP/1.1\r\n"), PT_OK);
    ck_assert_uint_eq(pr.method, PT_HTTP_PROPPATCH);

    /* 505 still reports the line */
    ck_assert_int_eq(parse_line("GET / HTTP/2.0\r\n"),
                     PT_HTTP_PARSE_INVALID_VERSION);
    ck_assert_uint_eq(pr.http_major, 2);
    ck_assert_uint_eq(pr.http_version, 2000);
    ck_span(pr.uri_start, pr.uri_end, "/");
    ck_assert_ptr_eq(pb.pos, pb.last);
}
END_TEST

typedef struct {
    const char  *uri;
    int          complex, quoted, plus;
    const char  *ext;        /* uri_ext up to the path end, NULL: none */
    const char  *args;
} uri_case_t;

static const uri_case_t uris[] = {
    { "/", 0, 0, 0, NULL, NULL },
    { "/a/b.html", 0, 0, 0, "html", NULL },
    { "/a.b/c", 0, 0, 0, NULL, NULL },
    { "/a/b.", 0, 0, 0, "", NULL },
    { "/a/b.tar.gz?x.y", 0, 0, 0, "gz", "x.y" },
    { "/a/./b", 1, 0, 0, NULL, NULL },
    { "/a/../b", 1, 0, 0, NULL, NULL },
    { "/a//b", 1, 0, 0, NULL, NULL },
    { "/.hidden", 1, 0, 0, NULL, NULL },
    { "/%41", 1, 1, 0, NULL, NULL },
    { "/a?%41", 0, 0, 0, NULL, "%41" },
    { "/a?/./", 0, 0, 0, NULL, "/./" },
    { "/a+b", 0, 0, 1, NULL, NULL },
    { "/a?b+c", 0, 0, 0, NULL, "b+c" },
    { "/a#x", 1, 0, 0, NULL, NULL },
    { "/a#x?y", 1, 0, 0, NULL, NULL },
    { "/a?b#c", 0, 0, 0, NULL, "b#c" },
    { "/x.y?", 0, 0, 0, "y", "" },
    { "/a.b/", 0, 0, 0, NULL, NULL },
};

START_TEST(uri_flags)
{
    const uri_case_t *c = &uris[_i];
    char              line[256];
    u_char           *path_end;

    snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\n", c->uri);
    ck_assert_int_eq(parse_line(line), PT_OK);
    ck_span(pr.uri_start, pr.uri_end, c->uri);
    ck_assert_int_eq(pr.complex_uri, c->complex);
    ck_assert_int_eq(pr.quoted_uri, c->quoted);
    ck_assert_int_eq(pr.plus_in_uri, c->plus);
    if (c->args) {
        ck_span(pr.args_start, pr.uri_end, c->args);
    } else {
        ck_assert_ptr_null(pr.args_start);
    }
    if (c->ext && !c->complex) {
        path_end = pr.args_start ? pr.args_start - 1 : pr.uri_end;
        ck_span(pr.uri_ext, path_end, c->ext);
    } else if (!c->complex) {
        ck_assert_ptr_null(pr.uri_ext);
    }
}
END_TEST

static int
parse_header(const char *s)
{
    memset(&pb, 0, sizeof(pb));
    pb.start = pb.pos = (u_char *) s;
    pb.last = pb.end = (u_char *) s + strlen(s);
    return pt_http_parse_header_line(&pr, &pb);
}

static pt_uint_t
hash_of(const char *s)
{
    pt_uint_t h = 0;

    while (*s) {
        h = PT_HTTP_HASH(h, (u_char) *s++);
    }
    return h;
}

START_TEST(header_fields)
{
    const char *name40 = "Abcdefghij-Abcdefghij-Abcdefghij-ABCDEFG: v\r\n";

    pt_http_parse_init(&pr);
    ck_assert_int_eq(parse_header("Content-Type:  text/html; q=1 \t \r\n"),
                     PT_OK);
    ck_span(pr.header_name_start, pr.header_name_end, "Content-Type");
    ck_span(pr.header_start, pr.header_end, "text/html; q=1");
    ck_assert_uint_eq(pr.lowcase_index, 12);
    ck_assert_int_eq(memcmp(pr.lowcase_header, "content-type", 12), 0);
    ck_assert_uint_eq(pr.header_hash, hash_of("content-type"));
    ck_assert_uint_eq(pr.invalid_header, 0);
    ck_assert_ptr_eq(pb.pos, pb.last);

    ck_assert_int_eq(parse_header("X-Empty: \t \n"), PT_OK);
    ck_assert_ptr_eq(pr.header_start, pr.header_end);
    ck_assert_ptr_eq(pr.header_start, pr.header_name_end + 1);

    ck_assert_int_eq(parse_header("X_Forwarded_For: 1.2.3.4\r\n"), PT_OK);
    ck_assert_uint_eq(pr.invalid_header, PT_HTTP_HEADER_UNDERSCORE);
    ck_assert_uint_eq(pr.header_hash, hash_of("x_forwarded_for"));

    ck_assert_int_eq(parse_header("X.Y@_Z: 1\r\n"), PT_OK);
    ck_assert_uint_eq(pr.invalid_header,
                      PT_HTTP_HEADER_UNDERSCORE | PT_HTTP_HEADER_BAD_CHAR);
    ck_assert_int_eq(memcmp(pr.lowcase_header, "x.y@_z", 6), 0);

    ck_assert_int_eq(parse_header("Caf\xc3\xa9: 1\r\n"), PT_OK);
    ck_assert_uint_eq(pr.invalid_header, PT_HTTP_HEADER_BAD_CHAR);

    ck_assert_int_eq(parse_header(name40), PT_OK);
    ck_assert_uint_eq(pr.lowcase_index, PT_HTTP_LC_HEADER_LEN);
    ck_assert_int_eq(memcmp(pr.lowcase_header,
                            "abcdefghij-abcdefghij-abcdefghij", 32), 0);
    ck_assert_uint_eq(pr.header_hash,
                      hash_of("abcdefghij-abcdefghij-abcdefghij-abcdefg"));

    /* a value keeps inner spaces and tabs, and colons */
    ck_assert_int_eq(parse_header("Host:example.com:8080\r\n"), PT_OK);
    ck_span(pr.header_start, pr.header_end, "example.com:8080");
    ck_assert_int_eq(parse_header("X: a \t b\r\n"), PT_OK);
    ck_span(pr.header_start, pr.header_end, "a \t b");

    ck_assert_int_eq(parse_header("\r\nGET"), PT_HTTP_PARSE_HEADER_DONE);
    ck_assert_int_eq(*pb.pos, 'G');
    ck_assert_int_eq(parse_header("\n"), PT_HTTP_PARSE_HEADER_DONE);
}
END_TEST

/* The caller moves a partial line: rebased pointers follow it, pointers
 * outside the moved range stay. */
START_TEST(rebase_moves_line)
{
    char    a[64], bbuf[64], *rl = "GET /keep HTTP/1.1\r\n";
    u_char *old;

    pt_http_parse_init(&pr);
    memset(&pb, 0, sizeof(pb));
    pb.pos = (u_char *) rl;
    pb.last = (u_char *) rl + strlen(rl);
    ck_assert_int_eq(pt_http_parse_request_line(&pr, &pb), PT_OK);

    strcpy(a, "Content-Le");
    pb.pos = (u_char *) a;
    pb.last = (u_char *) a + strlen(a);
    ck_assert_int_eq(pt_http_parse_header_line(&pr, &pb), PT_AGAIN);
    ck_assert_ptr_eq(pr.line_start, (u_char *) a);

    old = (u_char *) a;
    strcpy(bbuf, "Content-Length: 42\r\n");
    memset(a, 'z', sizeof(a));      /* the old copy is gone */
    pt_http_parse_rebase(&pr, old, old + 10,
                         (u_char *) bbuf - (u_char *) a);
    pb.pos = (u_char *) bbuf + 10;
    pb.last = (u_char *) bbuf + strlen(bbuf);
    ck_assert_int_eq(pt_http_parse_header_line(&pr, &pb), PT_OK);
    ck_span(pr.header_name_start, pr.header_name_end, "Content-Length");
    ck_span(pr.header_start, pr.header_end, "42");
    ck_span(pr.uri_start, pr.uri_end, "/keep");  /* not moved */

    /* a request line moved halfway through the URI */
    strcpy(a, "GET /abc.d");
    pt_http_parse_init(&pr);
    pb.pos = (u_char *) a;
    pb.last = (u_char *) a + strlen(a);
    ck_assert_int_eq(pt_http_parse_request_line(&pr, &pb), PT_AGAIN);
    strcpy(bbuf, "GET /abc.def?x HTTP/1.1\r\n");
    pt_http_parse_rebase(&pr, (u_char *) a, (u_char *) a + 10,
                         (u_char *) bbuf - (u_char *) a);
    memset(a, 'z', sizeof(a));
    pb.pos = (u_char *) bbuf + 10;
    pb.last = (u_char *) bbuf + strlen(bbuf);
    ck_assert_int_eq(pt_http_parse_request_line(&pr, &pb), PT_OK);
    ck_span(pr.uri_start, pr.uri_end, "/abc.def?x");
    ck_span(pr.uri_ext, pr.args_start - 1, "def");
    ck_span(pr.method_start, pr.method_end, "GET");
}
END_TEST

/* ---- invalid input ---- */

typedef struct {
    const char  *in;
    size_t       len;
    int          rc;
    int          req;        /* which request (pipelining) */
    int          line;       /* 0: request line, N: Nth header line */
} bad_case_t;

#define BAD(s, rc, req, line) { s, sizeof(s) - 1, rc, req, line }
#define M_ PT_HTTP_PARSE_INVALID_METHOD
#define R_ PT_HTTP_PARSE_INVALID_REQUEST
#define V_ PT_HTTP_PARSE_INVALID_VERSION
#define H_ PT_HTTP_PARSE_INVALID_HEADER
#define OKL "GET / HTTP/1.1\r\n"

static const bad_case_t bad[] = {
    BAD("get / HTTP/1.1\r\n\r\n", M_, 0, 0),
    BAD(" GET / HTTP/1.1\r\n\r\n", M_, 0, 0),
    BAD("GET\t/ HTTP/1.1\r\n\r\n", M_, 0, 0),
    BAD("G\x80T / HTTP/1.1\r\n\r\n", M_, 0, 0),
    BAD("GET\r\n\r\n", M_, 0, 0),
    BAD("\x16\x03\x01\x02\x00", M_, 0, 0),
    BAD("GET  / HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTP/1.1 \r\n\r\n", R_, 0, 0),
    BAD("GET /  HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /\r\n\r\n", R_, 0, 0),
    BAD("GET /index.html\n\n", R_, 0, 0),
    BAD("GET / HTTP/2.0\r\n\r\n", V_, 0, 0),
    BAD("GET / HTTP/3.0\r\n\r\n", V_, 0, 0),
    BAD("GET / HTTP/10.1\r\n\r\n", V_, 0, 0),
    BAD("GET / HTTP/0.9\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTP/01.1\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTP/1.\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTP/1\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTP/1.1000\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTP/1000.1\r\n\r\n", R_, 0, 0),
    BAD("GET / http/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTPS/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET / HTTP/1.1\rX\n\r\n", R_, 0, 0),
    BAD("GET /a\x01z HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /a\x7fz HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /a\0z HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /a?b\0 HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /a#\x1b HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /a b HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /a?b c HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET /a\tHTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("OPTIONS * HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http:/x HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http:///x HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http://user@host/ HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http://h:80x/ HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http://h:80:81/ HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http://[]/ HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http://[::1/ HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET http://h_x/ HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("GET 1http://h/ HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("CONNECT h:443 HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD("\r\r\nGET / HTTP/1.1\r\n\r\n", R_, 0, 0),
    BAD(OKL "Host : x\r\n\r\n", H_, 0, 1),
    BAD(OKL " Host: x\r\n\r\n", H_, 0, 1),
    BAD(OKL "\tHost: x\r\n\r\n", H_, 0, 1),
    BAD(OKL "Host: x\r\n folded\r\n\r\n", H_, 0, 2),
    BAD(OKL "A: 1\r\nB: 2\r\nC: 3\r\n\tD\r\n\r\n", H_, 0, 4),
    BAD(OKL ": value\r\n\r\n", H_, 0, 1),
    BAD(OKL "Host: a\0b\r\n\r\n", H_, 0, 1),
    BAD(OKL "X\0: y\r\n\r\n", H_, 0, 1),
    BAD(OKL "\0X: y\r\n\r\n", H_, 0, 1),
    BAD(OKL "Host: a\rb\r\n\r\n", H_, 0, 1),
    BAD(OKL "Host: ab\r\r\n\r\n", H_, 0, 1),
    BAD(OKL "Host: x\r\nNoColon\r\n\r\n", H_, 0, 2),
    BAD(OKL "NoColon\n\n", H_, 0, 1),
    BAD(OKL "X: y\r\n\rX", R_, 0, 2),
    BAD(OKL "X: a\x01z\r\n\r\n", H_, 0, 1),
    BAD(OKL "X: a\x7fz\r\n\r\n", H_, 0, 1),
    BAD(OKL "X:\x0bz\r\n\r\n", H_, 0, 1),
    BAD(OKL "X\t: y\r\n\r\n", H_, 0, 1),
    BAD(OKL "X y: z\r\n\r\n", H_, 0, 1),
    BAD(OKL "X\x7f: z\r\n\r\n", H_, 0, 1),
    BAD(OKL "\r\nBAD REQUEST\r\n\r\n", R_, 1, 0),
    BAD(OKL "\r\nGET / HTTP/1.1\r\nA: 1\r\nB : 2\r\n\r\n", H_, 1, 2),
    BAD(OKL "Transfer-Encoding: chunked\r\n"
        "Transfer-Encoding : identity\r\n\r\n", H_, 0, 2),
};

START_TEST(invalid_requests)
{
    const bad_case_t *c = &bad[_i];
    char              sum[512], want[32];
    const char       *err;

    check_splits((const u_char *) c->in, c->len);
    summarize(&whole, (const u_char *) c->in, sum, sizeof(sum));
    err = strchr(sum, '!');
    snprintf(want, sizeof(want), "!%d@%d.%d", c->rc, c->req, c->line);
    ck_assert_msg(err != NULL && strcmp(err, want) == 0,
                  "case %d: got \"%s\", want \"%s\"", _i, sum, want);
}
END_TEST

/* The error position points at the offending byte. */
START_TEST(invalid_position)
{
    ck_assert_int_eq(parse_line("GET /a\x01z HTTP/1.1\r\n"),
                     PT_HTTP_PARSE_INVALID_REQUEST);
    ck_assert_int_eq(*pb.pos, 0x01);
    ck_assert_int_eq(parse_line("GET  / HTTP/1.1\r\n"),
                     PT_HTTP_PARSE_INVALID_REQUEST);
    ck_assert_int_eq(pb.pos - pb.start, 4);
    pt_http_parse_init(&pr);
    ck_assert_int_eq(parse_header("Ab c: d\r\n"),
                     PT_HTTP_PARSE_INVALID_HEADER);
    ck_assert_int_eq(pb.pos - pb.start, 2);
    /* incomplete is AGAIN, not an error, until the offending byte */
    ck_assert_int_eq(parse_line("GET / HTTP/1.1\r"), PT_AGAIN);
    ck_assert_int_eq(parse_line("GET / HTTP/2.0"), PT_AGAIN);
}
END_TEST

/* ---- path normalisation ---- */

typedef struct {
    const char  *in;
    size_t       len;
    int          merge;
    const char  *out;        /* NULL: PT_ERROR */
    const char  *ext;        /* NULL: none */
} norm_case_t;

#define N(in, merge, out, ext) { in, sizeof(in) - 1, merge, out, ext }

static const norm_case_t norms[] = {
    N("/", 1, "/", NULL),
    N("/a/./b", 1, "/a/b", NULL),
    N("/a/../b", 1, "/b", NULL),
    N("/..", 1, NULL, NULL),
    N("/../a", 0, NULL, NULL),
    N("/%2e%2e/x", 1, NULL, NULL),
    N("/%2E%2E", 1, NULL, NULL),
    N("/a/%2e%2e/x", 1, "/x", NULL),
    N("/a/.%2e/b", 1, "/b", NULL),
    N("/a%2Fb", 1, "/a/b", NULL),
    N("/a%2fb", 0, "/a/b", NULL),
    N("/a%2F..%2Fb", 1, "/b", NULL),
    N("/%zz", 1, NULL, NULL),
    N("/%4", 1, NULL, NULL),
    N("/%", 1, NULL, NULL),
    N("/a%g1", 1, NULL, NULL),
    N("/%00", 1, NULL, NULL),
    N("/a\0b", 1, NULL, NULL),
    N("/a/.", 1, "/a/", NULL),
    N("/a/%2E", 1, "/a/", NULL),
    N("/a/..", 1, "/", NULL),
    N("/a/b/..", 1, "/a/", NULL),
    N("//a///b", 1, "/a/b", NULL),
    N("//a///b", 0, "//a///b", NULL),
    N("/a%2F%2Fb", 1, "/a/b", NULL),
    N("/a/b/../../..", 1, NULL, NULL),
    N("/a/b/../../", 1, "/", NULL),
    N("/./", 1, "/", NULL),
    N("/./", 0, "/", NULL),
    N("/.", 1, "/", NULL),
    N("/./..", 1, NULL, NULL),
    N("/a//../b", 0, "/a/b", NULL),
    N("/a//../b", 1, "/b", NULL),
    N("/a/./../b", 1, "/b", NULL),
    N("/a.b/c", 1, "/a.b/c", NULL),
    N("/a/b.txt", 1, "/a/b.txt", "txt"),
    N("/a/b.tar.gz", 1, "/a/b.tar.gz", "gz"),
    N("/a/b%2etxt", 1, "/a/b.txt", "txt"),
    N("/.hidden", 1, "/.hidden", NULL),
    N("/.hidden.txt", 1, "/.hidden.txt", "txt"),
    N("/a/b.", 1, "/a/b.", ""),
    N("/a/..b", 1, "/a/..b", "b"),
    N("/...", 1, "/...", ""),
    N("/a.d/", 1, "/a.d/", NULL),
    N("/a%20b", 1, "/a b", NULL),
    N("/a+b", 1, "/a+b", NULL),
    N("/a#frag", 1, "/a", NULL),
    N("/a/#/../..", 1, "/a/", NULL),
    N("/a%23b", 1, "/a#b", NULL),
    N("/a?b", 1, "/a?b", NULL),
    N("/%C3%A9.Html", 1, "/\xc3\xa9.Html", "Html"),
    N("", 1, NULL, NULL),
    N("a/b", 1, NULL, NULL),
    N("%2Fa", 1, NULL, NULL),
};

START_TEST(normalize_paths)
{
    const norm_case_t *c = &norms[_i];
    u_char             dst[64], *ext = (u_char *) "x";
    size_t             n = 12345;
    int                rc;

    memset(dst, 0xee, sizeof(dst));
    rc = pt_http_normalize_path((const u_char *) c->in, c->len, dst, &n,
                                c->merge, &ext);
    if (c->out == NULL) {
        ck_assert_msg(rc == PT_ERROR, "%s: want error, got \"%.*s\"",
                      c->in, (int) n, dst);
        return;
    }
    ck_assert_msg(rc == PT_OK, "%s: error", c->in);
    ck_assert_msg(n == strlen(c->out) && memcmp(dst, c->out, n) == 0,
                  "%s -> \"%.*s\", want \"%s\"", c->in, (int) n, dst,
                  c->out);
    ck_assert_uint_le(n, c->len);
    ck_assert_int_eq(dst[c->len], 0xee);      /* wrote within len bytes */
    if (c->ext == NULL) {
        ck_assert_ptr_null(ext);
    } else {
        ck_span(ext, dst + n, c->ext);
    }
    /* ext is optional; in place works (the output never overtakes) */
    if (c->len < sizeof(dst)) {
        memcpy(dst, c->in, c->len);
        ck_assert_int_eq(pt_http_normalize_path(dst, c->len, dst, &n,
                                                c->merge, NULL), PT_OK);
        ck_assert_int_eq(memcmp(dst, c->out, n), 0);
    }
}
END_TEST

/* ---- chunked ---- */

typedef struct {
    const char  *in;
    size_t       len;
    const char  *data;       /* NULL: PT_ERROR */
    size_t       consumed;   /* 0: all of the input */
} chunk_case_t;

#define C(in, data) { in, sizeof(in) - 1, data, 0 }

static const chunk_case_t chunks[] = {
    C("0\r\n\r\n", ""),
    C("0\n\n", ""),
    C("5\r\nhello\r\n0\r\n\r\n", "hello"),
    C("5\nhello\n0\n\n", "hello"),
    C("3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", "abcdefg"),
    C("A\r\n0123456789\r\n0\r\n\r\n", "0123456789"),
    C("a;ext=1\r\n0123456789\r\n0;last\r\n\r\n", "0123456789"),
    C("5 ;x\r\nhello\r\n0\r\n\r\n", "hello"),
    C("5\t; x=\"q r\"\t;y\r\nhello\r\n0\r\n\r\n", "hello"),
    C("0\r\nX-Trailer: v\r\nY:w\r\n\r\n", ""),
    C("2\r\nab\r\n0\r\nZ: \t\r\n\n", "ab"),
    C("0005\r\nhello\r\n0000\r\n\r\n", "hello"),
    C("1\r\n\n\r\n1\r\n\r\r\n0\r\n\r\n", "\n\r"),
    { "0\r\n\r\nGET / HTTP/1.1\r\n", 21, "", 5 },
    { "1\r\nx\r\n0\n\nPOST", 13, "x", 9 },
};

START_TEST(chunked_valid)
{
    const chunk_case_t *c = &chunks[_i];
    drv_chunked_t       w, s;
    u_char              out[64], out2[64];
    size_t              k, cuts[64], consumed;

    consumed = c->consumed ? c->consumed : c->len;
    drv_chunked(&w, (const u_char *) c->in, c->len, NULL, 0, out, -1);
    ck_assert_int_eq(w.rc, PT_DONE);
    ck_assert_uint_eq(w.consumed, consumed);
    ck_assert_ptr_null(w.violation);
    ck_assert_uint_eq(w.out_len, strlen(c->data));
    ck_assert_int_eq(memcmp(out, c->data, w.out_len), 0);

    for (k = 0; k <= c->len; k++) {
        drv_chunked(&s, (const u_char *) c->in, c->len, &k, 1, out2,
                    (long) consumed);
        ck_assert_msg(s.rc == PT_DONE && s.consumed == consumed
                      && s.out_len == w.out_len
                      && memcmp(out, out2, w.out_len) == 0
                      && s.violation == NULL,
                      "split at %zu: rc %d %s", k, s.rc,
                      s.violation ? s.violation : "");
    }
    for (k = 0; k < c->len && k < 64; k++) {
        cuts[k] = k;
    }
    drv_chunked(&s, (const u_char *) c->in, c->len, cuts, k, out2,
                (long) consumed);
    ck_assert_int_eq(s.rc, PT_DONE);
    ck_assert_int_eq(memcmp(out, out2, w.out_len), 0);
    ck_assert_ptr_null(s.violation);
}
END_TEST

static char big_ext[5000], big_trailer[9000], big_zeros[5000];

static void
make_big(void)
{
    memcpy(big_ext, "5;", 2);
    memset(big_ext + 2, 'a', sizeof(big_ext) - 2);
    memcpy(big_ext + sizeof(big_ext) - 3, "\r\n", 3);

    memcpy(big_trailer, "0\r\nX: ", 6);
    memset(big_trailer + 6, 'a', sizeof(big_trailer) - 6);
    memcpy(big_trailer + sizeof(big_trailer) - 5, "\r\n\r\n", 5);

    memset(big_zeros, '0', sizeof(big_zeros));
    memcpy(big_zeros + sizeof(big_zeros) - 3, "\r\n", 3);
}

static const chunk_case_t bad_chunks[] = {
    C("ffffffffffffffffff\r\n", NULL),
    C("10000000000000000\r\n", NULL),
    C("7fffffffffffffff\r\n", NULL),
    C("-1\r\n", NULL),
    C("0x10\r\n", NULL),
    C("+5\r\n", NULL),
    C(" 5\r\n", NULL),
    C("5 \r\n", NULL),
    C("5 x\r\n", NULL),
    C("\r\n", NULL),
    C("g\r\n", NULL),
    C("5\rX", NULL),
    C("5\r\nhelloX\r\n0\r\n\r\n", NULL),
    C("5\r\nhello\r0\r\n\r\n", NULL),
    C("5\r\nhello0\r\n\r\n", NULL),
    C("5;a\0b\r\nhello\r\n0\r\n\r\n", NULL),
    C("5;a\x01\r\nhello\r\n0\r\n\r\n", NULL),
    C("0\r\n folded\r\n\r\n", NULL),
    C("0\r\nX : y\r\n\r\n", NULL),
    C("0\r\n:x\r\n\r\n", NULL),
    C("0\r\nX: a\0b\r\n\r\n", NULL),
    C("0\r\nX: a\rb\r\n\r\n", NULL),
    C("0\r\nNoColon\r\n\r\n", NULL),
    C("0\r\n\rX", NULL),
    C("0\r\nX: y\r\n\rX", NULL),
};

static void
expect_chunk_error(const char *in, size_t len)
{
    drv_chunked_t  r;
    u_char        *out = malloc(len + 1);
    size_t         k;

    drv_chunked(&r, (const u_char *) in, len, NULL, 0, out, -1);
    ck_assert_msg(r.rc == PT_ERROR, "\"%.20s\": rc %d", in, r.rc);
    ck_assert_ptr_null(r.violation);
    for (k = 0; k <= len; k++) {
        drv_chunked(&r, (const u_char *) in, len, &k, 1, out, -1);
        ck_assert_msg(r.rc == PT_ERROR, "\"%.20s\" split %zu: rc %d", in, k,
                      r.rc);
    }
    free(out);
}

START_TEST(chunked_invalid)
{
    expect_chunk_error(bad_chunks[_i].in, bad_chunks[_i].len);
}
END_TEST

START_TEST(chunked_limits)
{
    pt_http_chunked_t  ctx;
    pt_buf_t           b;
    const char        *s;

    make_big();
    expect_chunk_error(big_ext, sizeof(big_ext) - 1);
    expect_chunk_error(big_trailer, sizeof(big_trailer) - 1);
    expect_chunk_error(big_zeros, sizeof(big_zeros) - 1);

    /* 15 significant hex digits fit, and leading zeros do not count */
    memset(&ctx, 0, sizeof(ctx));
    s = "000fffffffffffffff\r\n";
    b.pos = (u_char *) s;
    b.last = (u_char *) s + strlen(s);
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_AGAIN);
    ck_assert(ctx.size == ((off_t) 1 << 60) - 1);
    ck_assert(ctx.length == ctx.size + 4);

    /* smaller limits set by the caller */
    memset(&ctx, 0, sizeof(ctx));
    ctx.line_max = 8;
    s = "5;abcdefgh\r\n";
    b.pos = (u_char *) s;
    b.last = (u_char *) s + strlen(s);
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_ERROR);
    ck_assert_int_eq(b.pos - (u_char *) s, 8);
}
END_TEST

/* The PT_OK contract: size is the rest of the chunk, data at b->pos. */
START_TEST(chunked_consume)
{
    pt_http_chunked_t  ctx;
    pt_buf_t           b;
    const char        *s = "a\r\n0123";

    memset(&ctx, 0, sizeof(ctx));
    b.pos = (u_char *) s;
    b.last = (u_char *) s + strlen(s);
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_OK);
    ck_assert(ctx.size == 10);
    ck_assert(ctx.length == 14);
    ck_assert_int_eq(*b.pos, '0');
    b.pos += 4;
    ctx.size -= 4;
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_AGAIN);
    ck_assert(ctx.length == 6 + 4);

    s = "456789\r\n0\r\n";
    b.pos = (u_char *) s;
    b.last = (u_char *) s + strlen(s);
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_OK);
    b.pos += 6;
    ctx.size = 0;
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_AGAIN);
    ck_assert(ctx.length == 1);

    s = "\r\n";
    b.pos = (u_char *) s;
    b.last = (u_char *) s + 2;
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_DONE);
    ck_assert(ctx.length == 0);
    ck_assert_ptr_eq(b.pos, b.last);
    /* done stays done and consumes nothing */
    b.pos = (u_char *) s;
    ck_assert_int_eq(pt_http_parse_chunked(&ctx, &b), PT_DONE);
    ck_assert_ptr_eq(b.pos, (u_char *) s);
}
END_TEST

/* ---- Content-Length ---- */

START_TEST(content_length)
{
    static const struct {
        const char  *s;
        off_t        v;
    } t[] = {
        { "0", 0 }, { "123", 123 }, { "007", 7 }, { "+1", -1 },
        { "-1", -1 }, { " 1", -1 }, { "1 ", -1 }, { "", -1 },
        { "1,1", -1 }, { "0x10", -1 }, { "1e3", -1 }, { "12a", -1 },
        { "9223372036854775807", INT64_MAX },
        { "9223372036854775808", -1 },
        { "99999999999999999999", -1 },
        { "00000000000000000000000000042", 42 },
    };
    size_t i;

    for (i = 0; i < pt_nelems(t); i++) {
        ck_assert_msg(pt_http_parse_content_length((const u_char *) t[i].s,
                                                   strlen(t[i].s)) == t[i].v,
                      "\"%s\"", t[i].s);
    }
    /* n bounds the parse: the byte after is not read */
    ck_assert(pt_http_parse_content_length((const u_char *) "12x", 2) == 12);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_parse");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, valid_requests, 0, (int) pt_nelems(valid));
    tcase_add_test(tc, valid_generated);
    tcase_add_test(tc, request_line_fields);
    tcase_add_loop_test(tc, uri_flags, 0, (int) pt_nelems(uris));
    tcase_add_test(tc, header_fields);
    tcase_add_test(tc, rebase_moves_line);
    tcase_add_loop_test(tc, invalid_requests, 0, (int) pt_nelems(bad));
    tcase_add_test(tc, invalid_position);
    tcase_add_loop_test(tc, normalize_paths, 0, (int) pt_nelems(norms));
    tcase_add_loop_test(tc, chunked_valid, 0, (int) pt_nelems(chunks));
    tcase_add_loop_test(tc, chunked_invalid, 0, (int) pt_nelems(bad_chunks));
    tcase_add_test(tc, chunked_limits);
    tcase_add_test(tc, chunked_consume);
    tcase_add_test(tc, content_length);
    suite_add_tcase(s, tc);
    return s;
}

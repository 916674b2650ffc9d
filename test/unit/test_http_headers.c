/*
 * Unit tests for worker/http_headers (included to reach its statics): the
 * expires parser and the Expires/Cache-Control values, the statuses
 * headers go on, the special header names (Cache-Control, ETag,
 * Last-Modified), empty values, and the trailers taken at the last buffer.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/http_time.h"
#include "common/pool.h"
#include "common/time.h"
#include "worker/http_headers.c"

#define NOW ((time_t) 1700000000)   /* Tue, 14 Nov 2023 22:13:20 GMT */

static pt_log_t           log_;
static pt_pool_t         *pool;
static pt_http_request_t *r;
static void              *loc_conf[1];
static headers_loc_conf_t *hcf;
static int                next_called;
static u_char             now_text[] = "Tue, 14 Nov 2023 22:13:20 GMT";

static pt_str_t
S(const char *s)
{
    pt_str_t str;

    str.len = strlen(s);
    str.data = (u_char *) s;
    return str;
}

static int
next_header(pt_http_request_t *rr)
{
    next_called++;
    return PT_OK;
}

static int
next_body(pt_http_request_t *rr, pt_chain_t *in)
{
    next_called++;
    return PT_OK;
}

static void
setup(void)
{
    log_.fd = -1;
    log_.level = PT_LOG_EMERG;
    pool = pt_pool_create(4096, &log_);
    ck_assert_ptr_nonnull(pool);

    pt_http_headers_filter_module.index = 0;
    hcf = pt_pcalloc(pool, sizeof(*hcf));
    hcf->expires = EXPIRES_OFF;
    loc_conf[0] = hcf;

    r = pt_pcalloc(pool, sizeof(*r));
    r->pool = pool;
    r->main = r;
    r->loc_conf = loc_conf;
    r->headers_out.status = PT_HTTP_OK;
    r->headers_out.last_modified_time = -1;
    r->headers_out.content_length_n = -1;
    ck_assert_int_eq(pt_array_init(&r->headers_out.headers, pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    ck_assert_int_eq(pt_array_init(&r->headers_out.trailers, pool, 2,
                                   sizeof(pt_table_elt_t)), PT_OK);

    pt_time_sec = NOW;
    pt_cached_http_time.data = now_text;
    pt_cached_http_time.len = sizeof(now_text) - 1;
    next_header_filter = next_header;
    next_body_filter = next_body;
    next_called = 0;
}

static void
teardown(void)
{
    pt_pool_destroy(pool);
}

/* A fresh request and conf within one test. */
static void
reset(void)
{
    teardown();
    setup();
}

/* The value of the live output header `key`, or NULL; *n counts them. */
static pt_str_t *
out_header(const char *key, pt_uint_t *n)
{
    pt_table_elt_t *h = r->headers_out.headers.elts;
    pt_str_t       *found = NULL;
    pt_uint_t       i, count = 0;

    for (i = 0; i < r->headers_out.headers.nelts; i++) {
        if (h[i].hash != 0 && h[i].key.len == strlen(key)
            && strncasecmp((char *) h[i].key.data, key, h[i].key.len) == 0)
        {
            if (found == NULL) {
                found = &h[i].value;
            }
            count++;
        }
    }
    if (n != NULL) {
        *n = count;
    }
    return found;
}

#define ck_header(key, want)                                                  \
    do {                                                                      \
        pt_str_t *v_ = out_header(key, NULL);                                 \
        ck_assert_msg(v_ != NULL, "no %s header", key);                       \
        ck_assert_msg(v_->len == strlen(want)                                 \
                      && memcmp(v_->data, want, v_->len) == 0,                \
                      "%s: \"%.*s\", want \"%s\"", key, (int) v_->len,        \
                      v_->data, want);                                        \
    } while (0)

static const char *
fmt_time(time_t t)
{
    static char buf[PT_HTTP_TIME_LEN + 1];

    pt_http_format_time((u_char *) buf, t);
    buf[PT_HTTP_TIME_LEN] = '\0';
    return buf;
}

/* A configured header: literal value, handler as set_header picks it. */
static void
add_conf(pt_array_t **list, const char *key, const char *value, int always)
{
    header_val_t *hv;
    size_t        i;

    if (*list == NULL) {
        *list = pt_array_create(pool, 2, sizeof(header_val_t));
    }
    hv = pt_array_push(*list);
    memset(hv, 0, sizeof(*hv));
    hv->key = S(key);
    hv->value.value = S(value);
    hv->handler = add_header;
    hv->always = always;
    for (i = 0; list == &hcf->headers && i < pt_nelems(special_headers);
         i++)
    {
        if (strcasecmp(key, special_headers[i].name) == 0) {
            hv->offset = special_headers[i].offset;
            hv->handler = special_headers[i].handler;
        }
    }
}

static const char *
expires_parse(const char *text, pt_uint_t *type, time_t *t)
{
    pt_str_t v = S(text);

    return parse_expires(&v, type, t);
}

START_TEST(parse_values)
{
    pt_uint_t type;
    time_t    t;

    type = EXPIRES_ACCESS;
    ck_assert_ptr_null(expires_parse("epoch", &type, &t));
    ck_assert_uint_eq(type, EXPIRES_EPOCH);
    type = EXPIRES_ACCESS;
    ck_assert_ptr_null(expires_parse("max", &type, &t));
    ck_assert_uint_eq(type, EXPIRES_MAX);
    type = EXPIRES_ACCESS;
    ck_assert_ptr_null(expires_parse("off", &type, &t));
    ck_assert_uint_eq(type, EXPIRES_OFF);

    type = EXPIRES_ACCESS;
    ck_assert_ptr_null(expires_parse("1h 30m", &type, &t));
    ck_assert_uint_eq(type, EXPIRES_ACCESS);
    ck_assert_int_eq(t, 5400);
    ck_assert_ptr_null(expires_parse("-1d", &type, &t));
    ck_assert_int_eq(t, -86400);
    ck_assert_ptr_null(expires_parse("+90", &type, &t));
    ck_assert_int_eq(t, 90);
    ck_assert_ptr_null(expires_parse("0", &type, &t));
    ck_assert_int_eq(t, 0);

    ck_assert_ptr_null(expires_parse("@15h30m", &type, &t));
    ck_assert_uint_eq(type, EXPIRES_DAILY);
    ck_assert_int_eq(t, 55800);
    type = EXPIRES_ACCESS;
    ck_assert_ptr_null(expires_parse("@24h", &type, &t));
    type = EXPIRES_ACCESS;
    ck_assert_str_eq(expires_parse("@24h1s", &type, &t),
                     "daily time value must be less than 24 hours");

    /* after "modified" the keywords are times, and times of day refused */
    type = EXPIRES_MODIFIED;
    ck_assert_str_eq(expires_parse("max", &type, &t), "invalid value");
    type = EXPIRES_MODIFIED;
    ck_assert_str_eq(expires_parse("@1h", &type, &t),
                     "daily time cannot be used with \"modified\" "
                     "parameter");
    type = EXPIRES_MODIFIED;
    ck_assert_ptr_null(expires_parse("-5m", &type, &t));
    ck_assert_uint_eq(type, EXPIRES_MODIFIED);
    ck_assert_int_eq(t, -300);

    type = EXPIRES_ACCESS;
    ck_assert_str_eq(expires_parse("", &type, &t), "invalid value");
    ck_assert_str_eq(expires_parse("soon", &type, &t), "invalid value");
    ck_assert_str_eq(expires_parse("500ms", &type, &t), "invalid value");
    ck_assert_str_eq(expires_parse("-", &type, &t), "invalid value");
    ck_assert_str_eq(expires_parse("Max", &type, &t), "invalid value");
}
END_TEST

START_TEST(expires_access)
{
    hcf->expires = EXPIRES_ACCESS;
    hcf->expires_time = 3600;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_int_eq(next_called, 1);
    ck_header("Expires", fmt_time(NOW + 3600));
    ck_header("Cache-Control", "max-age=3600");
    ck_assert_ptr_nonnull(r->headers_out.expires);
    ck_assert_ptr_nonnull(r->headers_out.cache_control);
}
END_TEST

START_TEST(expires_negative_and_zero)
{
    hcf->expires = EXPIRES_ACCESS;
    hcf->expires_time = -60;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Expires", fmt_time(NOW - 60));
    ck_header("Cache-Control", "no-cache");

    reset();
    hcf->expires = EXPIRES_ACCESS;
    hcf->expires_time = 0;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Expires", (char *) now_text);
    ck_header("Cache-Control", "max-age=0");
}
END_TEST

START_TEST(expires_epoch_max)
{
    hcf->expires = EXPIRES_EPOCH;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Expires", "Thu, 01 Jan 1970 00:00:01 GMT");
    ck_header("Cache-Control", "no-cache");

    reset();
    hcf->expires = EXPIRES_MAX;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Expires", "Thu, 31 Dec 2037 23:55:55 GMT");
    ck_header("Cache-Control", "max-age=315360000");
}
END_TEST

START_TEST(expires_modified)
{
    hcf->expires = EXPIRES_MODIFIED;
    hcf->expires_time = 7200;
    r->headers_out.last_modified_time = NOW - 3600;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Expires", fmt_time(NOW + 3600));
    ck_header("Cache-Control", "max-age=3600");

    /* already past: the date stays, the cache says no */
    reset();
    hcf->expires = EXPIRES_MODIFIED;
    hcf->expires_time = 60;
    r->headers_out.last_modified_time = NOW - 3600;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Expires", fmt_time(NOW - 3540));
    ck_header("Cache-Control", "no-cache");

    /* no Last-Modified: counted from now */
    reset();
    hcf->expires = EXPIRES_MODIFIED;
    hcf->expires_time = 60;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Expires", fmt_time(NOW + 60));
    ck_header("Cache-Control", "max-age=60");
}
END_TEST

START_TEST(expires_daily)
{
    pt_str_t *cc;
    long      age;

    hcf->expires = EXPIRES_DAILY;
    hcf->expires_time = 0;
    ck_assert_int_eq(header_filter(r), PT_OK);
    cc = out_header("Cache-Control", NULL);
    ck_assert_ptr_nonnull(cc);
    ck_assert(cc->len > 8 && memcmp(cc->data, "max-age=", 8) == 0);
    age = strtol((char *) cc->data + 8, NULL, 10);
    ck_assert(age > 0 && age <= 86400 + 3600);
    ck_header("Expires", fmt_time(NOW + age));
}
END_TEST

START_TEST(expires_rewrites_existing)
{
    pt_str_t        k1 = S("Cache-Control"), v1 = S("private");
    pt_str_t        v2 = S("no-transform"), ke = S("Expires"), ve = S("x");
    pt_table_elt_t *a, *b, *e;
    pt_uint_t       n;

    a = pt_http_add_header_out(r, &k1, &v1);
    b = pt_http_add_header_out(r, &k1, &v2);
    e = pt_http_add_header_out(r, &ke, &ve);
    /* the array may have moved the first ones: take them again */
    a = &((pt_table_elt_t *) r->headers_out.headers.elts)[0];
    b = &((pt_table_elt_t *) r->headers_out.headers.elts)[1];
    a->next = b;
    r->headers_out.cache_control = a;
    r->headers_out.expires = e;

    hcf->expires = EXPIRES_ACCESS;
    hcf->expires_time = 10;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_ptr_eq(out_header("Cache-Control", &n), &a->value);
    ck_assert_uint_eq(n, 1);
    ck_header("Cache-Control", "max-age=10");
    ck_assert_uint_eq(b->hash, 0);
    ck_assert_ptr_null(a->next);
    out_header("Expires", &n);
    ck_assert_uint_eq(n, 1);
    ck_header("Expires", fmt_time(NOW + 10));
}
END_TEST

START_TEST(status_rules)
{
    static const pt_uint_t safe[] = { 200, 201, 204, 206, 301, 302, 303, 304,
                                      307, 308 };
    static const pt_uint_t unsafe[] = { 100, 202, 300, 305, 400, 403, 404,
                                        500, 502 };
    size_t i;

    for (i = 0; i < pt_nelems(safe); i++) {
        ck_assert_msg(safe_status(safe[i]), "%lu", (unsigned long) safe[i]);
    }
    for (i = 0; i < pt_nelems(unsafe); i++) {
        ck_assert_msg(!safe_status(unsafe[i]), "%lu",
                      (unsigned long) unsafe[i]);
    }

    add_conf(&hcf->headers, "X-Ok", "1", 0);
    add_conf(&hcf->headers, "X-Always", "2", 1);
    hcf->expires = EXPIRES_ACCESS;
    hcf->expires_time = 5;
    r->headers_out.status = PT_HTTP_NOT_FOUND;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_ptr_null(out_header("X-Ok", NULL));
    ck_assert_ptr_null(out_header("Expires", NULL));
    ck_assert_ptr_null(out_header("Cache-Control", NULL));
    ck_header("X-Always", "2");

    r->headers_out.headers.nelts = 0;
    r->headers_out.expires = NULL;
    r->headers_out.cache_control = NULL;
    r->headers_out.status = PT_HTTP_NOT_MODIFIED;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("X-Ok", "1");
    ck_header("X-Always", "2");
    ck_header("Cache-Control", "max-age=5");
}
END_TEST

START_TEST(empty_values_and_order)
{
    pt_table_elt_t *h;
    pt_uint_t       n;

    add_conf(&hcf->headers, "X-Empty", "", 1);
    add_conf(&hcf->headers, "X-Dup", "a", 0);
    add_conf(&hcf->headers, "X-Dup", "b", 0);
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_ptr_null(out_header("X-Empty", NULL));
    out_header("X-Dup", &n);
    ck_assert_uint_eq(n, 2);
    h = r->headers_out.headers.elts;
    ck_assert_uint_eq(r->headers_out.headers.nelts, 2);
    ck_assert(h[0].value.data[0] == 'a' && h[1].value.data[0] == 'b');
    /* the key is kept as written */
    ck_assert(memcmp(h[0].key.data, "X-Dup", 5) == 0);
}
END_TEST

START_TEST(cache_control_appends)
{
    pt_str_t        k = S("Cache-Control"), v = S("private");
    pt_table_elt_t *first;
    pt_uint_t       n;

    first = pt_http_add_header_out(r, &k, &v);
    r->headers_out.cache_control = first;
    add_conf(&hcf->headers, "cache-control", "no-store", 0);
    add_conf(&hcf->headers, "Cache-Control", "", 0);
    ck_assert_int_eq(header_filter(r), PT_OK);
    first = r->headers_out.headers.elts;
    out_header("Cache-Control", &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_ptr_nonnull(first->next);
    ck_assert(first->next->value.len == 8
              && memcmp(first->next->value.data, "no-store", 8) == 0);
    ck_assert_ptr_null(first->next->next);
}
END_TEST

START_TEST(etag_and_last_modified_replace)
{
    pt_str_t        k = S("ETag"), v = S("\"old\"");
    pt_table_elt_t *h;
    pt_uint_t       n;

    h = pt_http_add_header_out(r, &k, &v);
    r->headers_out.etag = h;
    r->headers_out.last_modified_time = 12345;
    add_conf(&hcf->headers, "etag", "\"new\"", 0);
    add_conf(&hcf->headers, "Last-Modified",
             "Wed, 21 Oct 2015 07:28:00 GMT", 0);
    ck_assert_int_eq(header_filter(r), PT_OK);
    out_header("ETag", &n);
    ck_assert_uint_eq(n, 1);
    ck_header("ETag", "\"new\"");
    ck_assert_ptr_nonnull(r->headers_out.etag);
    ck_assert_ptr_nonnull(r->headers_out.last_modified);
    ck_assert_int_eq(r->headers_out.last_modified_time, 1445412480);
    ck_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT");
}
END_TEST

START_TEST(empty_special_removes)
{
    pt_str_t        k = S("ETag"), v = S("\"old\"");
    pt_table_elt_t *h;

    h = pt_http_add_header_out(r, &k, &v);
    r->headers_out.etag = h;
    r->headers_out.last_modified_time = 12345;
    add_conf(&hcf->headers, "ETag", "", 0);
    add_conf(&hcf->headers, "Last-Modified", "", 0);
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_ptr_null(r->headers_out.etag);
    ck_assert_ptr_null(out_header("ETag", NULL));
    ck_assert_ptr_null(r->headers_out.last_modified);
    ck_assert_int_eq(r->headers_out.last_modified_time, -1);

    /* an unparsable date still replaces the header; no time to compare */
    reset();
    add_conf(&hcf->headers, "Last-Modified", "yesterday", 0);
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_header("Last-Modified", "yesterday");
    ck_assert_int_eq(r->headers_out.last_modified_time, -1);
}
END_TEST

START_TEST(trailers_at_last_buffer)
{
    pt_buf_t        b1, b2;
    pt_chain_t      c1, c2;
    pt_table_elt_t *t;

    add_conf(&hcf->trailers, "X-T", "v", 0);
    add_conf(&hcf->trailers, "X-Empty", "", 0);
    add_conf(&hcf->trailers, "X-A", "always", 1);
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_uint_eq(r->expect_trailers, 1);
    /* trailers are not headers */
    ck_assert_uint_eq(r->headers_out.headers.nelts, 0);

    memset(&b1, 0, sizeof(b1));
    memset(&b2, 0, sizeof(b2));
    c1.buf = &b1;
    c1.next = NULL;
    ck_assert_int_eq(trailers_filter(r, &c1), PT_OK);
    ck_assert_uint_eq(r->headers_out.trailers.nelts, 0);

    b2.last_buf = 1;
    c1.next = &c2;
    c2.buf = &b2;
    c2.next = NULL;
    ck_assert_int_eq(trailers_filter(r, &c1), PT_OK);
    ck_assert_int_eq(next_called, 3);
    ck_assert_uint_eq(r->headers_out.trailers.nelts, 2);
    t = r->headers_out.trailers.elts;
    ck_assert(t[0].hash == 1 && t[0].key.len == 3 && t[0].value.len == 1);
    ck_assert(t[1].value.len == 6);
}
END_TEST

START_TEST(trailers_by_status)
{
    pt_buf_t   b;
    pt_chain_t c;

    add_conf(&hcf->trailers, "X-T", "v", 0);
    r->headers_out.status = PT_HTTP_NOT_FOUND;
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_uint_eq(r->expect_trailers, 0);

    /* an always one makes the response carry trailers; only it is sent */
    add_conf(&hcf->trailers, "X-A", "a", 1);
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_uint_eq(r->expect_trailers, 1);
    memset(&b, 0, sizeof(b));
    b.last_buf = 1;
    c.buf = &b;
    c.next = NULL;
    ck_assert_int_eq(trailers_filter(r, &c), PT_OK);
    ck_assert_uint_eq(r->headers_out.trailers.nelts, 1);

    /* HEAD: no body, no trailers */
    reset();
    add_conf(&hcf->trailers, "X-T", "v", 0);
    r->expect_trailers = 1;
    r->header_only = 1;
    ck_assert_int_eq(trailers_filter(r, &c), PT_OK);
    ck_assert_uint_eq(r->headers_out.trailers.nelts, 0);
}
END_TEST

START_TEST(nothing_configured)
{
    ck_assert_int_eq(header_filter(r), PT_OK);
    ck_assert_int_eq(next_called, 1);
    ck_assert_uint_eq(r->headers_out.headers.nelts, 0);
    ck_assert_uint_eq(r->expect_trailers, 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_headers");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, parse_values);
    tcase_add_test(tc, expires_access);
    tcase_add_test(tc, expires_negative_and_zero);
    tcase_add_test(tc, expires_epoch_max);
    tcase_add_test(tc, expires_modified);
    tcase_add_test(tc, expires_daily);
    tcase_add_test(tc, expires_rewrites_existing);
    tcase_add_test(tc, status_rules);
    tcase_add_test(tc, empty_values_and_order);
    tcase_add_test(tc, cache_control_appends);
    tcase_add_test(tc, etag_and_last_modified_replace);
    tcase_add_test(tc, empty_special_removes);
    tcase_add_test(tc, trailers_at_last_buffer);
    tcase_add_test(tc, trailers_by_status);
    tcase_add_test(tc, nothing_configured);
    suite_add_tcase(s, tc);
    return s;
}

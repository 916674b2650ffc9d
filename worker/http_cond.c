/*
 * Conditional request evaluation, following nginx 1.22's not_modified
 * filter (order, date and tag comparisons) and its range filter's If-Range
 * test; where the two differ from RFC 9110 the header says how.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/http_time.h"
#include "http_cond.h"
#include "http_core.h"
#include "http_request.h"

static int
has_etag(const pt_str_t *etag)
{
    return etag != NULL && etag->len > 0;
}

static int
is_weak(const pt_str_t *tag)
{
    return tag->len > 2 && tag->data[0] == 'W' && tag->data[1] == '/';
}

static int
is_list_space(u_char c)
{
    return c == ' ' || c == '\t';
}

int
pt_http_etag_match(const pt_str_t *list, const pt_str_t *etag, int weak)
{
    const u_char *p = list->data, *end = list->data + list->len;
    pt_str_t      tag;

    /* header values come trimmed; be lenient anyway for "*" */
    while (p < end && is_list_space(*p)) {
        p++;
    }
    while (end > p && is_list_space(end[-1])) {
        end--;
    }
    if (end - p == 1 && *p == '*') {
        return 1;
    }
    if (!has_etag(etag)) {
        return 0;
    }

    tag = *etag;
    if (weak && is_weak(&tag)) {
        tag.data += 2;
        tag.len -= 2;
    }

    while (p < end) {
        if (weak && end - p > 2 && p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        if ((size_t) (end - p) >= tag.len
            && memcmp(p, tag.data, tag.len) == 0)
        {
            p += tag.len;
            while (p < end && is_list_space(*p)) {
                p++;
            }
            if (p == end || *p == ',') {
                return 1;
            }
        }

        /* on to the next member, past the ',' and blanks */
        while (p < end && *p != ',') {
            p++;
        }
        while (p < end && (*p == ',' || is_list_space(*p))) {
            p++;
        }
    }

    return 0;
}

int
pt_http_etag_eq(const pt_str_t *a, const pt_str_t *b, int weak)
{
    pt_str_t x = *a, y = *b;

    if (is_weak(&x)) {
        if (!weak) {
            return 0;
        }
        x.data += 2;
        x.len -= 2;
    }
    if (is_weak(&y)) {
        if (!weak) {
            return 0;
        }
        y.data += 2;
        y.len -= 2;
    }
    return x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
}

/* If-Unmodified-Since passes: the date parses and is not older than the
 * representation. */
static int
unmodified_since(const pt_http_cond_t *c)
{
    time_t t;

    if (c->last_modified == (time_t) -1) {
        return 0;
    }
    t = pt_http_parse_time(c->if_unmodified_since->data,
                           c->if_unmodified_since->len);
    return t != (time_t) -1 && t >= c->last_modified;
}

/* If-Modified-Since says "modified" (send the body). */
static int
modified_since(const pt_http_cond_t *c)
{
    time_t t;

    if (c->last_modified == (time_t) -1 || c->ims_mode == PT_HTTP_IMS_OFF) {
        return 1;
    }
    t = pt_http_parse_time(c->if_modified_since->data,
                           c->if_modified_since->len);
    if (t == c->last_modified) {
        return 0;
    }
    /* "before": any date not older than the file means unchanged */
    return c->ims_mode == PT_HTTP_IMS_EXACT || t < c->last_modified;
}

int
pt_http_cond_eval(const pt_http_cond_t *c)
{
    if (c->if_unmodified_since != NULL && !unmodified_since(c)) {
        return PT_HTTP_PRECONDITION_FAILED;
    }

    if (c->if_match != NULL && !pt_http_etag_match(c->if_match, c->etag, 0)) {
        return PT_HTTP_PRECONDITION_FAILED;
    }

    if (!c->get_or_head) {
        /* RFC 9110 13.1.2: a matching If-None-Match fails other methods;
         * If-Modified-Since applies to GET and HEAD only */
        if (c->if_none_match != NULL
            && pt_http_etag_match(c->if_none_match, c->etag, 1))
        {
            return PT_HTTP_PRECONDITION_FAILED;
        }
        return PT_HTTP_OK;
    }

    if (c->if_modified_since == NULL && c->if_none_match == NULL) {
        return PT_HTTP_OK;
    }
    if (c->if_modified_since != NULL && modified_since(c)) {
        return PT_HTTP_OK;
    }
    if (c->if_none_match != NULL
        && !pt_http_etag_match(c->if_none_match, c->etag, 1))
    {
        return PT_HTTP_OK;
    }
    return PT_HTTP_NOT_MODIFIED;
}

int
pt_http_if_range_ok(const pt_str_t *value, const pt_str_t *etag,
                    time_t last_modified)
{
    if (value->len >= 2 && value->data[value->len - 1] == '"') {
        return has_etag(etag) && etag->len == value->len
               && memcmp(etag->data, value->data, value->len) == 0;
    }

    if (last_modified == (time_t) -1) {
        return 0;
    }
    return pt_http_parse_time(value->data, value->len) == last_modified;
}

u_char *
pt_http_etag_make(u_char *buf, time_t mtime, off_t size)
{
    char tmp[PT_HTTP_ETAG_MAX_LEN + 1];
    int  n;

    /* nginx prints both as unsigned hex; size < 2^63 and mtime > 0 in
     * practice, so 16 digits each always suffice */
    n = snprintf(tmp, sizeof(tmp), "\"%" PRIx64 "-%" PRIx64 "\"",
                 (uint64_t) mtime, (uint64_t) size);
    memcpy(buf, tmp, (size_t) n);
    return buf + n;
}

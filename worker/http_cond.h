/*
 * Conditional requests (RFC 9110 section 13) for a representation known by
 * its entity tag and modification time: If-Match, If-None-Match,
 * If-Modified-Since, If-Unmodified-Since and If-Range, evaluated as nginx
 * 1.22's not_modified and range filters do. Also nginx's ETag format.
 */
#ifndef PT_HTTP_COND_H
#define PT_HTTP_COND_H

#include <sys/types.h>
#include <time.h>

#include "common/pt_types.h"
#include "common/str.h"

/* '"' + 16 hex digits + '-' + 16 hex digits + '"' */
#define PT_HTTP_ETAG_MAX_LEN (2 * 16 + 3)

/* The raw header values of a request (NULL when the header is absent)
 * and the representation they are evaluated against. */
typedef struct {
    const pt_str_t  *if_match;
    const pt_str_t  *if_none_match;
    const pt_str_t  *if_modified_since;
    const pt_str_t  *if_unmodified_since;

    const pt_str_t  *etag;            /* with quotes, "W/" when weak;
                                         NULL or empty: none */
    time_t           last_modified;   /* -1: unknown */
    unsigned         get_or_head:1;   /* the method is GET or HEAD */
    pt_uint_t        ims_mode;        /* if_modified_since: PT_HTTP_IMS_OFF,
                                         _EXACT or _BEFORE (http_core.h) */
} pt_http_cond_t;

/*
 * The verdict on a 200 response: PT_HTTP_OK (200, proceed), 304 (not
 * modified: send the head without body) or 412 (precondition failed).
 *
 * The order and comparisons are nginx's, which differ from RFC 9110
 * section 13.2.2 in three places:
 *  - If-Unmodified-Since is checked even when If-Match is present, and an
 *    unparseable date in it fails (412) instead of being ignored;
 *  - If-Match compares bytes (a weak tag equal to the header's weak tag
 *    matches), where the RFC asks for a strong comparison;
 *  - when both If-None-Match and If-Modified-Since are present, both must
 *    say "not modified" for a 304, where the RFC ignores the date.
 * For methods other than GET and HEAD (which nginx's static handler never
 * lets through) the RFC applies: a matching If-None-Match gives 412 and
 * If-Modified-Since is ignored.
 */
int pt_http_cond_eval(const pt_http_cond_t *c);

/*
 * Does an If-Match (weak == 0) or If-None-Match (weak == 1) list contain
 * etag? "*" matches anything; otherwise a missing etag never matches. With
 * weak, a "W/" prefix on either side is ignored.
 */
int pt_http_etag_match(const pt_str_t *list, const pt_str_t *etag, int weak);

/*
 * Should a Range be honoured given this If-Range value? A value ending in
 * '"' is an entity tag and must equal etag byte for byte (so a weak tag
 * never matches a strong one); anything else must parse as an HTTP date
 * equal to last_modified. Returns 1 (honour Range) or 0 (send 200).
 */
int pt_http_if_range_ok(const pt_str_t *value, const pt_str_t *etag,
                        time_t last_modified);

/*
 * Write nginx's strong ETag "<mtime hex>-<size hex>" (quotes included,
 * lower-case hex) into buf (PT_HTTP_ETAG_MAX_LEN bytes); returns the end.
 */
u_char *pt_http_etag_make(u_char *buf, time_t mtime, off_t size);

/*
 * Entity-tag comparison of two single tags (RFC 9110 section 8.8.3.2):
 * strong (weak == 0) needs both strong and equal; weak ignores "W/".
 */
int pt_http_etag_eq(const pt_str_t *a, const pt_str_t *b, int weak);

#endif /* PT_HTTP_COND_H */

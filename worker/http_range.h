/*
 * Byte ranges: parsing a Range header against a known length exactly as
 * nginx's range filter does, and the Content-Range values and
 * multipart/byteranges framing of a 206 response. If-Range is the
 * caller's (see http_cond.h); no I/O here.
 */
#ifndef PT_HTTP_RANGE_H
#define PT_HTTP_RANGE_H

#include <sys/types.h>

#include "common/pt_types.h"
#include "common/str.h"

/* Digits in a multipart boundary: nginx prints its 64-bit counter
 * zero-padded to 20 digits ("00000000000000000001"). */
#define PT_HTTP_RANGE_BOUNDARY_LEN 20

/* max_ranges meaning "no limit" (nginx's default). */
#define PT_HTTP_RANGES_UNLIMITED ((pt_uint_t) -1)

typedef struct {
    off_t  start;
    off_t  end;      /* exclusive */
} pt_http_range_t;

/*
 * Evaluate a Range header value (n bytes at p; NUL not needed) for a
 * representation of `len` bytes. `ranges` is an initialised array of
 * pt_http_range_t that receives the ranges in header order (overlaps are
 * kept, as nginx does). max_ranges is the directive's value: 0 disables
 * ranges, PT_HTTP_RANGES_UNLIMITED has no limit.
 *
 * Returns
 *   PT_OK        ranges holds >= 1 range: send 206;
 *   PT_DECLINED  ignore the header, send 200 with the whole body: the unit
 *                is not "bytes=" (case-insensitive) or nothing follows it,
 *                a range starting at 0 is empty (any range on an empty
 *                body), more than max_ranges ranges, or the ranges add up
 *                to more than len;
 *   PT_HTTP_RANGE_NOT_SATISFIABLE (416)  a syntax error anywhere (nginx
 *                answers 416, not 200, to "bytes=abc" or "bytes=1-2,"), or
 *                no range starts before len;
 *   PT_ERROR     allocation failure.
 * On anything but PT_OK the array's contents are meaningless.
 */
int pt_http_range_parse(const u_char *p, size_t n, off_t len,
                        pt_uint_t max_ranges, pt_array_t *ranges);

/*
 * The Content-Range value "bytes START-LAST/LEN" of one range or, when r
 * is NULL, the 416 form ("bytes *" then "/LEN"), in pool memory. PT_OK or
 * PT_ERROR (allocation).
 */
int pt_http_range_content_range(pt_pool_t *pool, const pt_http_range_t *r,
                                off_t len, pt_str_t *out);

/* The framing of a multipart/byteranges body; all strings are pool
 * memory. The body is, for each range i, headers[i] then the range's
 * bytes, and then the trailer. */
typedef struct {
    pt_str_t   content_type;    /* "multipart/byteranges; boundary=B" */
    pt_str_t  *headers;         /* "\r\n--B\r\nContent-Type: T\r\n"
                                   "Content-Range: bytes S-L/LEN\r\n\r\n" */
    pt_uint_t  nheaders;        /* == ranges->nelts */
    pt_str_t   trailer;         /* "\r\n--B--\r\n" */
    off_t      content_length;  /* of the whole body */
} pt_http_multipart_t;

/*
 * Build the framing for `ranges` of a representation of `len` bytes whose
 * Content-Type is type (may be empty: no Content-Type line in the parts)
 * and charset (may be NULL or empty; else "; charset=" is appended to
 * type, as nginx does). boundary is the caller's counter value, printed
 * as PT_HTTP_RANGE_BOUNDARY_LEN zero-padded digits. PT_OK or PT_ERROR.
 */
int pt_http_range_multipart(pt_pool_t *pool, const pt_array_t *ranges,
                            const pt_str_t *type, const pt_str_t *charset,
                            off_t len, uint64_t boundary,
                            pt_http_multipart_t *mp);

#endif /* PT_HTTP_RANGE_H */

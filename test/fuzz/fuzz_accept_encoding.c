/*
 * libFuzzer harness for pt_http_accept_encoding_q (and _ok, _identity).
 * The input is an Accept-Encoding value, copied into an exact-size heap
 * buffer so ASan catches any read past its end. Checks:
 *  - every q is PT_AE_NOT_LISTED or within 0..1000, and _ok/_identity
 *    agree with it;
 *  - the result does not depend on letter case (codings and the q
 *    parameter are case-insensitive; qvalues are digits);
 *  - the first entry of a coding decides: "gzip, " before the value
 *    gives 1000, "gzip;q=0, " gives 0, whatever follows;
 *  - a value that lists no "gzip"/"x-gzip" and no "*" entry says
 *    PT_AE_NOT_LISTED for gzip after ", br" is appended.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/http_accept_encoding.h"

static const char *codings[] = { "gzip", "identity", "br", "deflate" };

static u_char *
copy(const u_char *prefix, size_t plen, const uint8_t *data, size_t size,
     const char *suffix)
{
    size_t  slen = strlen(suffix);
    u_char *p = malloc(plen + size + slen + 1);

    if (p == NULL) {
        abort();
    }
    if (plen > 0) {
        memcpy(p, prefix, plen);
    }
    if (size > 0) {
        memcpy(p + plen, data, size);
    }
    memcpy(p + plen + size, suffix, slen);
    return p;
}

static void
check_ranges(const u_char *v, size_t n)
{
    pt_int_t q;
    size_t   i;

    for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
        q = pt_http_accept_encoding_q(v, n, codings[i]);
        if (q != PT_AE_NOT_LISTED && (q < 0 || q > 1000)) {
            abort();
        }
        if (pt_http_accept_encoding_ok(v, n, codings[i]) != (q > 0)) {
            abort();
        }
    }
    q = pt_http_accept_encoding_q(v, n, "identity");
    if (pt_http_accept_identity(v, n) != (q != 0)) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char   *v, *upper;
    pt_int_t  q;
    size_t    i;

    v = copy(NULL, 0, data, size, "");
    check_ranges(v, size);

    upper = copy(NULL, 0, data, size, "");
    for (i = 0; i < size; i++) {
        upper[i] = (u_char) toupper(upper[i]);
    }
    for (i = 0; i < sizeof(codings) / sizeof(codings[0]); i++) {
        if (pt_http_accept_encoding_q(v, size, codings[i])
            != pt_http_accept_encoding_q(upper, size, codings[i]))
        {
            abort();
        }
    }
    free(upper);

    upper = copy((const u_char *) "gzip, ", 6, data, size, "");
    if (pt_http_accept_encoding_q(upper, size + 6, "gzip") != 1000) {
        abort();
    }
    free(upper);
    upper = copy((const u_char *) "gzip;q=0, ", 10, data, size, "");
    if (pt_http_accept_encoding_q(upper, size + 10, "gzip") != 0) {
        abort();
    }
    free(upper);

    q = pt_http_accept_encoding_q(v, size, "gzip");
    if (q == PT_AE_NOT_LISTED) {
        upper = copy(NULL, 0, data, size, ", br");
        if (pt_http_accept_encoding_q(upper, size + 4, "gzip")
            != PT_AE_NOT_LISTED)
        {
            abort();
        }
        free(upper);
    }
    free(v);
    return 0;
}

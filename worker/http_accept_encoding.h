/*
 * Accept-Encoding negotiation (RFC 9110 12.5.3): the q value a request
 * gives one content coding. Pure functions over the header value, so the
 * unit tests and the fuzzer reach them without a request.
 */
#ifndef PT_HTTP_ACCEPT_ENCODING_H
#define PT_HTTP_ACCEPT_ENCODING_H

#include <stddef.h>

#include "common/pt_types.h"

#define PT_AE_NOT_LISTED  -1

/*
 * The q value (0..1000, thousandths) `value` gives `coding` (lowercase,
 * e.g. "gzip"): its own entry's (the first one when repeated), else that
 * of "*", else PT_AE_NOT_LISTED. "x-gzip" counts as "gzip". A q that is
 * not a valid qvalue, or a parameter other than q, counts as q=0, as
 * nginx takes them: the coding is refused rather than guessed at. Codings are matched case-insensitively;
 * malformed elements are skipped.
 */
pt_int_t pt_http_accept_encoding_q(const u_char *value, size_t len,
                                   const char *coding);

/* Whether a response in `coding` may be sent: a q above 0. */
int pt_http_accept_encoding_ok(const u_char *value, size_t len,
                               const char *coding);

/* Whether the unencoded response is acceptable: identity is unless it (or
 * "*" with no identity entry) has q=0. */
int pt_http_accept_identity(const u_char *value, size_t len);

#endif /* PT_HTTP_ACCEPT_ENCODING_H */

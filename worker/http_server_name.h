/*
 * Virtual server selection by Host among the servers of one address:
 * exact names, "*.x" / ".x" / "x.*" wildcards and "~regex" names with
 * nginx's precedence, and validation of the Host value itself.
 */
#ifndef PT_HTTP_SERVER_NAME_H
#define PT_HTTP_SERVER_NAME_H

#include "common/pt_types.h"
#include "common/regex.h"
#include "common/str.h"

typedef struct pt_http_server_names_s pt_http_server_names_t;

/* An empty set in `pool`, which owns it and everything added; NULL on
 * allocation failure. */
pt_http_server_names_t *pt_http_server_names_create(pt_pool_t *pool);

/*
 * Register one server_name argument for `server` (not NULL): "example.com",
 * "*.example.com", ".example.com" (both the bare name and its subdomains),
 * "www.example.*", "~regex" (caseless, named captures) or "" (requests
 * without Host). Names are lowercased. Returns
 *   PT_OK       added; err[0] != '\0' then holds a warning to log
 *               (server name "x/y" has suspicious symbols);
 *   PT_DECLINED the name is already taken on this address: err holds
 *               conflicting server name "x" (the caller appends
 *               " on <addr>, ignored" and warns, as nginx does);
 *   PT_ERROR    err holds: server name "*x" is invalid, invalid server
 *               name or wildcard "ww*.x", empty regex in server name "~",
 *               or a pcre2_compile() message.
 */
int pt_http_server_names_add(pt_http_server_names_t *names,
                             const pt_str_t *name, void *server, u_char *err,
                             size_t errlen);

/*
 * The server for a normalized host (lowercase, no port, no trailing dot;
 * see below): exact name, else the longest "*.x"/".x" wildcard, else the
 * longest "x.*" wildcard, else the first matching regex in the order added
 * (not tried for an empty host). NULL: no match, use the default server.
 * On a regex match *matched_re (may be NULL) is the regex and captures
 * (2*ncap ints, see pt_regex_exec) hold its captures; else *matched_re is
 * NULL. A regex that fails to run counts as no match.
 */
void *pt_http_server_names_find(pt_http_server_names_t *names,
                                const u_char *host, size_t len, int *captures,
                                pt_uint_t ncap, pt_regex_t **matched_re);

/*
 * Validate a Host header value (or request-line host) as nginx does and
 * write its normalized form to `out` (room for len bytes; may be host):
 * lowercased, ":port" removed, one trailing dot removed; an IPv6 literal
 * keeps its brackets ("[::1]:80" -> "[::1]"). Returns the new length
 * (> 0), or PT_ERROR for "..", "/", "\\", NUL, control characters, space
 * or an empty result: the caller answers 400.
 */
ssize_t pt_http_server_name_normalize(const u_char *host, size_t len,
                                      u_char *out);

#endif /* PT_HTTP_SERVER_NAME_H */

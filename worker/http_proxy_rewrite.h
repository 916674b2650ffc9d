/*
 * Rewriting of a proxied response head as nginx's proxy module does it:
 * proxy_redirect (Location, Refresh) and proxy_cookie_domain, _path and
 * _flags (Set-Cookie). The proxy calls in here; this module owns the confs.
 */
#ifndef PT_HTTP_PROXY_REWRITE_H
#define PT_HTTP_PROXY_REWRITE_H

#include "common/conf.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "http_request.h"

/*
 * Rewrite the Location and Refresh headers (proxy_redirect) and the
 * Set-Cookie headers (proxy_cookie_*) of r->headers_out.headers, once the
 * upstream's head was copied there and before the head is sent.
 *
 * url: the proxy_pass URL as configured ("http://backend:8080/app/"), or
 * NULL when proxy_pass has variables. It matters only when the proxy did
 * not call pt_http_proxy_rewrite_pass at config time (which fixes the
 * "default" rules then): the implicit "proxy_redirect default" (no
 * proxy_redirect at any level, and not "off") is then made from it, as
 * nginx only makes that rule for a proxy_pass without variables. With url
 * NULL and no rule, Location and Refresh are left as they are.
 *
 * Every header is looked at, in order, by name (case-insensitive); deleted
 * ones (hash 0) are skipped. A rewritten value is a new r->pool string; the
 * element stays where it is. r->headers_out.location and .refresh are set
 * here, as nginx sets them (so the proxy leaves them alone):
 *  - with redirect rules, location/refresh point to the last header a rule
 *    rewrote; a header no rule matched is not pointed to (so the header
 *    filter leaves a relative value relative);
 *  - without rules, location points to the last Location not starting with
 *    "/", refresh to the last Refresh.
 * Refresh is rewritten after its "url=" (case-insensitive); without one it
 * is left alone. A rewritten Location that starts with "/" is made absolute
 * by the header filter (absolute_redirect), as in nginx.
 *
 * Returns PT_OK, or PT_ERROR on allocation failure (answer 500/502 then).
 */
int pt_http_proxy_rewrite_headers(pt_http_request_t *r, const pt_str_t *url);

/*
 * Config time: the proxy_pass setter calls this once it has accepted its
 * argument, in the same conf context: url is the URL as configured (it must
 * live as long as the configuration: the directive's argument does), NULL
 * when it has variables. With it this module:
 *  - checks "proxy_redirect default" as nginx ("should be placed after the
 *    "proxy_pass" directive", "cannot be used with "proxy_pass" directive
 *    with variables");
 *  - makes the default rules at config time from this URL and the
 *    location's name, so they are inherited exactly as in nginx (a nested
 *    location with no proxy_redirect takes its parent's rules, implicit
 *    default included).
 * Without the call, a location whose content handler is already set counts
 * as having a proxy_pass without variables, and the default rules are made
 * per request from the url given to pt_http_proxy_rewrite_headers.
 */
void pt_http_proxy_rewrite_pass(pt_conf_t *cf, const pt_str_t *url);

#endif /* PT_HTTP_PROXY_REWRITE_H */

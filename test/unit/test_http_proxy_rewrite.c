/*
 * Unit tests for worker/http_proxy_rewrite (included to reach its statics):
 * proxy_redirect (default with and without a URI part, literal, regex,
 * variables, off, inheritance, Refresh) and proxy_cookie_domain/path/flags
 * on Set-Cookie values, plus the config errors in nginx's words. Confs are
 * parsed from text at a server and a location level, then merged.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "conf_helper.h"
#include "worker/conn.h"
#include "worker/http_proxy_rewrite.c"

#define NMOD 3   /* core, proxy_rewrite, a stand-in proxy_pass */

static void                     *main_conf[NMOD];
static pt_module_t              *modules[NMOD + 1];
static pt_http_core_main_conf_t *cmcf;
static pt_connection_t           conn;
static pt_http_request_t        *r;

/* proxy_pass as the proxy module will read it: the URL, and the call that
 * lets "proxy_redirect default" be checked. */
static char *
fake_proxy_pass(pt_conf_t *cfp, pt_command_t *cmd, void *conf)
{
    (void) cmd;
    (void) conf;
    pt_http_proxy_rewrite_pass(cfp, memchr(cfp->args[1].data, '$',
                                           cfp->args[1].len) != NULL
                                    ? NULL : &cfp->args[1]);
    return PT_CONF_OK;
}

static pt_command_t fake_commands[] = {
    { "proxy_pass", PT_CONF_LOCATION | PT_CONF_TAKE1, fake_proxy_pass,
      PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

static pt_module_t fake_proxy_module = {
    "fake_proxy", fake_commands, NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

static void
setup(void)
{
    tc_conf_setup("prw", modules, PT_CONF_HTTP);

    tc_cycle.modules_n = NMOD;

    pt_http_core_module.index = 0;
    pt_http_proxy_rewrite_module.index = 1;
    fake_proxy_module.index = 2;
    modules[0] = &pt_http_core_module;
    modules[1] = &pt_http_proxy_rewrite_module;
    modules[2] = &fake_proxy_module;
    modules[3] = NULL;

    cmcf = pt_pcalloc(tc_pool, sizeof(*cmcf));
    main_conf[0] = cmcf;
    tc_ctx.main_conf = main_conf;
    ck_assert_int_eq(pt_http_variables_add_core_vars(&tc_cf), PT_OK);

    memset(&conn, 0, sizeof(conn));
    conn.fd = -1;
    conn.log = &tc_log;
}

static void
teardown(void)
{
    tc_conf_teardown();
}

/* Create a level's confs (the core's named `name`, as a location block
 * is before its directives) and apply `text` to them at `level`. */
static int
apply_level(void ***confs, const char *text, pt_uint_t level,
            const char *name)
{
    pt_conf_node_t     *tree;
    pt_http_loc_conf_t *clcf;
    pt_uint_t           m;

    *confs = pt_pcalloc(tc_pool, NMOD * sizeof(void *));
    for (m = 0; m < 2; m++) {
        (*confs)[m] = modules[m]->create_loc_conf(&tc_cf);
    }
    clcf = (*confs)[0];
    clcf->name = S(name);
    tc_ctx.loc_conf = *confs;
    ck_assert_int_eq(pt_conf_parse_buf(&tc_cf, "t.conf", (u_char *) text,
                                       strlen(text), &tree), PT_OK);
    tc_cf.ctx_type = level;
    return pt_conf_apply(&tc_cf, tree);
}

/* Parent-level (a server, or a location "/p/" when `parent_level` says so)
 * then location-level directives, merged as the http block merges them;
 * the location is named "/loc/". PT_OK or the apply error. */
static int
apply_in(pt_uint_t parent_level, const char *server, const char *location)
{
    void      **top, **srv, **loc;
    pt_uint_t   m;

    if (apply_level(&top, "", PT_CONF_HTTP, "") != PT_OK
        || apply_level(&srv, server, parent_level,
                    parent_level == PT_CONF_LOCATION ? "/p/" : "") != PT_OK
        || apply_level(&loc, location, PT_CONF_LOCATION, "/loc/") != PT_OK)
    {
        return PT_ERROR;
    }
    for (m = 0; m < 2; m++) {
        ck_assert_ptr_eq(modules[m]->merge_loc_conf(&tc_cf, top[m], srv[m]),
                         PT_CONF_OK);
        ck_assert_ptr_eq(modules[m]->merge_loc_conf(&tc_cf, srv[m], loc[m]),
                         PT_CONF_OK);
    }
    tc_ctx.loc_conf = loc;
    return pt_http_variables_init_vars(&tc_cf);
}

static int
apply2(const char *server, const char *location)
{
    return apply_in(PT_CONF_SERVER, server, location);
}

static int
apply(const char *location)
{
    return apply2("", location);
}

static void
new_request(void)
{
    r = pt_pcalloc(tc_pool, sizeof(*r));
    r->pool = tc_pool;
    r->connection = &conn;
    r->main_conf = main_conf;
    r->loc_conf = tc_ctx.loc_conf;
    r->main = r;
    r->variables = pt_pcalloc(tc_pool, pt_http_variables_count(cmcf)
                                       * sizeof(pt_http_variable_value_t) + 1);
    ck_assert_int_eq(pt_array_init(&r->headers_in.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    ck_assert_int_eq(pt_array_init(&r->headers_out.headers, tc_pool, 4,
                                   sizeof(pt_table_elt_t)), PT_OK);
    r->headers_in.server = S("h.example");
}

/* An upstream header as the proxy copies it (not NUL-terminated, in a
 * buffer the rewrite must not write to). */
static pt_table_elt_t *
add(const char *key, const char *value)
{
    pt_table_elt_t *h = pt_array_push(&r->headers_out.headers);
    size_t          n = strlen(value);
    u_char         *p = pt_pnalloc(tc_pool, n + 1);

    memcpy(p, value, n);
    p[n] = '#';
    memset(h, 0, sizeof(*h));
    h->hash = 1;
    h->key = S(key);
    h->value.data = p;
    h->value.len = n;
    return h;
}

static const char *
val(pt_table_elt_t *h)
{
    static char buf[4][512];
    static int  next;
    char       *b = buf[next++ % 4];

    snprintf(b, sizeof(buf[0]), "%.*s", (int) h->value.len, h->value.data);
    return b;
}

static int
run(const char *url)
{
    pt_str_t u = url ? S(url) : (pt_str_t) pt_null_string;

    return pt_http_proxy_rewrite_headers(r, url ? &u : NULL);
}

/* Rewrite one Location value under `url`; the result. */
static const char *
location(const char *url, const char *value)
{
    pt_table_elt_t *h;

    new_request();
    h = add("Location", value);
    ck_assert_int_eq(run(url), PT_OK);
    return val(h);
}

/* Rewrite one Set-Cookie value; the result. */
static const char *
cookie(const char *value)
{
    pt_table_elt_t *h;

    new_request();
    h = add("Set-Cookie", value);
    ck_assert_int_eq(run("http://b"), PT_OK);
    return val(h);
}

#define URL "http://b:8080/app/"

/* ------------------------------------------------------------------ */
/* proxy_redirect                                                      */

START_TEST(default_with_uri)
{
    ck_assert_int_eq(apply("proxy_pass " URL "; proxy_redirect default;"),
                     PT_OK);
    ck_assert_str_eq(location(URL, "http://b:8080/app/x?y=1"), "/loc/x?y=1");
    ck_assert_ptr_nonnull(r->headers_out.location);
    ck_assert_str_eq(location(URL, "http://b:8080/app/"), "/loc/");
    /* another host, port or path: untouched, and not made absolute */
    ck_assert_str_eq(location(URL, "http://other/app/x"), "http://other/app/x");
    ck_assert_ptr_null(r->headers_out.location);
    ck_assert_str_eq(location(URL, "http://b/app/x"), "http://b/app/x");
    ck_assert_str_eq(location(URL, "http://b:8080/ap"), "http://b:8080/ap");
    ck_assert_str_eq(location(URL, "/app/x"), "/app/x");
    ck_assert_ptr_null(r->headers_out.location);
}
END_TEST

START_TEST(default_without_uri)
{
    ck_assert_int_eq(apply(""), PT_OK);   /* the implicit default */
    ck_assert_str_eq(location("http://b:8080", "http://b:8080/x/y"), "/x/y");
    ck_assert_ptr_nonnull(r->headers_out.location);
    ck_assert_str_eq(location("http://b:8080", "http://b:8080"),
                     "http://b:8080");
    ck_assert_str_eq(location("http://b:8080", "http://b:80801/x"),
                     "http://b:80801/x");
    /* with a URI part, even "/" alone, the location name replaces it */
    ck_assert_str_eq(location("http://b/", "http://b/z"), "/loc/z");
    ck_assert_str_eq(location("http://unix:/s.sock:/u/", "http://unix:/s.sock:/u/z"),
                     "/loc/z");
    ck_assert_str_eq(location("http://unix:/s.sock", "http://unix:/s.sock/z"),
                     "/z");
}
END_TEST

START_TEST(default_needs_url)
{
    pt_table_elt_t *a, *rel;

    /* proxy_pass with variables: no rule at all, as nginx */
    ck_assert_int_eq(apply(""), PT_OK);
    new_request();
    a = add("Location", "http://b:8080/x");
    rel = add("location", "/rel");
    ck_assert_int_eq(run(NULL), PT_OK);
    ck_assert_str_eq(val(a), "http://b:8080/x");
    ck_assert_str_eq(val(rel), "/rel");
    /* without rules an absolute Location is the response's location */
    ck_assert_ptr_eq(r->headers_out.location, a);
}
END_TEST

START_TEST(redirect_off)
{
    pt_table_elt_t *h;

    ck_assert_int_eq(apply("proxy_pass " URL "; proxy_redirect off;"), PT_OK);
    ck_assert_str_eq(location(URL, URL "x"), URL "x");
    ck_assert_ptr_nonnull(r->headers_out.location);
    ck_assert_str_eq(location(URL, "/x"), "/x");
    ck_assert_ptr_null(r->headers_out.location);

    /* off at the server level reaches the location */
    ck_assert_int_eq(apply2("proxy_redirect off;", "proxy_pass " URL ";"),
                     PT_OK);
    ck_assert_str_eq(location(URL, URL "x"), URL "x");

    /* a refresh without rules is kept as the response's refresh */
    new_request();
    h = add("Refresh", "3; url=" URL "x");
    ck_assert_int_eq(run(URL), PT_OK);
    ck_assert_str_eq(val(h), "3; url=" URL "x");
    ck_assert_ptr_eq(r->headers_out.refresh, h);
}
END_TEST

START_TEST(literal_rules_first_match)
{
    ck_assert_int_eq(apply("proxy_redirect http://b/one/ /1/;"
                           "proxy_redirect http://b/ /root/;"
                           "proxy_redirect http://b/one/two/ /never/;"),
                     PT_OK);
    ck_assert_str_eq(location(URL, "http://b/one/two/x"), "/1/two/x");
    ck_assert_str_eq(location(URL, "http://b/x"), "/root/x");
    ck_assert_str_eq(location(URL, "http://b/"), "/root/");
    /* case-sensitive, and the default is not added to explicit rules */
    ck_assert_str_eq(location(URL, "HTTP://B/x"), "HTTP://B/x");
    ck_assert_str_eq(location(URL, URL "x"), URL "x");
    ck_assert_ptr_null(r->headers_out.location);
    /* a rule may rewrite relative values: they become the location */
    ck_assert_int_eq(apply("proxy_redirect / /pre/;"), PT_OK);
    ck_assert_str_eq(location(URL, "/x"), "/pre/x");
    ck_assert_ptr_nonnull(r->headers_out.location);
}
END_TEST

START_TEST(default_mixed_with_rules)
{
    ck_assert_int_eq(apply("proxy_pass " URL "; proxy_redirect default;"
                           "proxy_redirect http://b:8080/ /top/;"), PT_OK);
    ck_assert_str_eq(location(URL, URL "x"), "/loc/x");
    ck_assert_str_eq(location(URL, "http://b:8080/y"), "/top/y");
}
END_TEST

START_TEST(regex_rules)
{
    ck_assert_int_eq(apply("proxy_redirect ~^http://b/(\\w+)/(.*)$ /$2/$1;"
                           "proxy_redirect ~*^HTTP://C/ /c;"), PT_OK);
    ck_assert_str_eq(location(URL, "http://b/first/rest?q"), "/rest?q/first");
    /* case-sensitive "~" */
    ck_assert_str_eq(location(URL, "http://B/first/rest"), "http://B/first/rest");
    /* "~*": the whole value is replaced, not just what matched */
    ck_assert_str_eq(location(URL, "http://c/anything"), "/c");
    ck_assert_str_eq(location(URL, "http://C/anything"), "/c");
    ck_assert_str_eq(location(URL, "http://d/"), "http://d/");
}
END_TEST

START_TEST(variables_in_rules)
{
    ck_assert_int_eq(apply("proxy_redirect http://$host/ $scheme://$host:81/;"
                           "proxy_redirect ~^http://up/(.*) "
                           "$scheme://$host/$1;"), PT_OK);
    ck_assert_str_eq(location(URL, "http://h.example/x"),
                     "http://h.example:81/x");
    ck_assert_str_eq(location(URL, "http://up/p/q"), "http://h.example/p/q");
    ck_assert_str_eq(location(URL, "http://other.example/x"),
                     "http://other.example/x");
}
END_TEST

START_TEST(inheritance)
{
    /* no rules of its own: the server's */
    ck_assert_int_eq(apply2("proxy_redirect http://b/ /s/;", ""), PT_OK);
    ck_assert_str_eq(location("http://b", "http://b/x"), "/s/x");
    /* its own replace the server's, and the default is not implicit */
    ck_assert_int_eq(apply2("proxy_redirect http://b/ /s/;",
                            "proxy_redirect http://c/ /l/;"), PT_OK);
    ck_assert_str_eq(location("http://b", "http://b/x"), "http://b/x");
    ck_assert_str_eq(location("http://b", "http://c/x"), "/l/x");
    /* off at the location hides the server's rules */
    ck_assert_int_eq(apply2("proxy_redirect http://b/ /s/;",
                            "proxy_redirect off;"), PT_OK);
    ck_assert_str_eq(location("http://b", "http://b/x"), "http://b/x");
    /* off at the server, rules at the location */
    ck_assert_int_eq(apply2("proxy_redirect off;",
                            "proxy_redirect http://b/ /l/;"), PT_OK);
    ck_assert_str_eq(location("http://b", "http://b/x"), "/l/x");
}
END_TEST

START_TEST(nested_location_inherits_default)
{
    /* as nginx: the parent's implicit default is inherited, and the
     * nested location's own proxy_pass makes none */
    ck_assert_int_eq(apply_in(PT_CONF_LOCATION, "proxy_pass http://p/x/;",
                              "proxy_pass http://c/;"), PT_OK);
    ck_assert_str_eq(location("http://c/", "http://p/x/y"), "/p/y");
    ck_assert_str_eq(location("http://c/", "http://c/y"), "http://c/y");
    /* the rules made at config time win over the url of the request */
    ck_assert_int_eq(apply("proxy_pass http://b/;"), PT_OK);
    ck_assert_str_eq(location("http://other/", "http://b/y"), "/loc/y");
    /* a proxy_pass with variables makes no default */
    ck_assert_int_eq(apply("proxy_pass http://$host;"), PT_OK);
    ck_assert_str_eq(location(NULL, "http://h.example/y"),
                     "http://h.example/y");
    ck_assert_ptr_nonnull(r->headers_out.location);
}
END_TEST

START_TEST(refresh)
{
    pt_table_elt_t *h, *none, *loc;

    ck_assert_int_eq(apply("proxy_pass " URL ";"), PT_OK);
    new_request();
    h = add("Refresh", "5; url=" URL "next");
    none = add("refresh", "5");
    loc = add("LOCATION", URL "a");
    ck_assert_int_eq(run(URL), PT_OK);
    ck_assert_str_eq(val(h), "5; url=/loc/next");
    ck_assert_str_eq(val(none), "5");
    ck_assert_str_eq(val(loc), "/loc/a");
    ck_assert_ptr_eq(r->headers_out.refresh, h);
    ck_assert_ptr_eq(r->headers_out.location, loc);

    new_request();
    h = add("Refresh", "0;URL=" URL);
    ck_assert_int_eq(run(URL), PT_OK);
    ck_assert_str_eq(val(h), "0;URL=/loc/");

    /* a regex sees only what follows "url=" */
    ck_assert_int_eq(apply("proxy_redirect ~^http://x/(.*)$ /$1;"), PT_OK);
    new_request();
    h = add("Refresh", "1; url=http://x/y");
    ck_assert_int_eq(run(URL), PT_OK);
    ck_assert_str_eq(val(h), "1; url=/y");
}
END_TEST

START_TEST(deleted_and_other_headers)
{
    pt_table_elt_t *gone, *other;

    ck_assert_int_eq(apply("proxy_redirect http://b/ /;"), PT_OK);
    new_request();
    gone = add("Location", "http://b/x");
    gone->hash = 0;
    other = add("Content-Location", "http://b/x");
    ck_assert_int_eq(run(URL), PT_OK);
    ck_assert_str_eq(val(gone), "http://b/x");
    ck_assert_str_eq(val(other), "http://b/x");
    ck_assert_ptr_null(r->headers_out.location);
}
END_TEST

START_TEST(helpers)
{
    pt_str_t u;

    u = S("http://b");
    ck_assert_int_eq(url_has_uri(&u), 0);
    u = S("http://b:1/");
    ck_assert_int_eq(url_has_uri(&u), 1);
    u = S("https://b?x");
    ck_assert_int_eq(url_has_uri(&u), 1);
    u = S("http://unix:/tmp/s.sock");
    ck_assert_int_eq(url_has_uri(&u), 0);
    u = S("http://unix:/tmp/s.sock:/x");
    ck_assert_int_eq(url_has_uri(&u), 1);
    u = S("5; url=x");
    ck_assert_uint_eq(refresh_url(&u), 7);
    u = S("5");
    ck_assert_uint_eq(refresh_url(&u), 0);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Set-Cookie                                                          */

START_TEST(cookie_domain)
{
    ck_assert_int_eq(apply("proxy_cookie_domain .b.internal .example.com;"),
                     PT_OK);
    ck_assert_str_eq(cookie("a=1; Domain=b.internal; Path=/"),
                     "a=1; Domain=example.com; Path=/");
    /* the cookie's leading dot stays; names and values match caseless */
    ck_assert_str_eq(cookie("a=1;  domain = .B.Internal ;path=/"),
                     "a=1; domain=.example.com; path=/");
    /* the whole domain must match */
    ck_assert_str_eq(cookie("a=1; Domain=x.b.internal"),
                     "a=1; Domain=x.b.internal");

    ck_assert_int_eq(apply("proxy_cookie_domain ~^(\\w+)\\.INTERNAL$ "
                           "$1.example.org;"), PT_OK);
    ck_assert_str_eq(cookie("s=2; domain=api.internal; Secure"),
                     "s=2; domain=api.example.org; Secure");
}
END_TEST

START_TEST(cookie_path)
{
    ck_assert_int_eq(apply("proxy_cookie_path /app/ /;"
                           "proxy_cookie_path ~*^/OLD(.*)$ /new$1;"), PT_OK);
    ck_assert_str_eq(cookie("a=1; Path=/app/x; HttpOnly"),
                     "a=1; Path=/x; HttpOnly");
    ck_assert_str_eq(cookie("a=1; path=/old/y"), "a=1; path=/new/y");
    /* a literal prefix is case-sensitive */
    ck_assert_str_eq(cookie("a=1; path=/APP/x"), "a=1; path=/APP/x");
    /* "~" is case-sensitive */
    ck_assert_int_eq(apply("proxy_cookie_path ~^/A(.*) /a$1;"), PT_OK);
    ck_assert_str_eq(cookie("a=1; path=/a/x"), "a=1; path=/a/x");
    ck_assert_str_eq(cookie("a=1; path=/A/x"), "a=1; path=/a/x");
}
END_TEST

START_TEST(cookie_flags_add)
{
    ck_assert_int_eq(apply("proxy_cookie_flags one secure httponly "
                           "samesite=strict;"), PT_OK);
    ck_assert_str_eq(cookie("one=1; Path=/"),
                     "one=1; Path=/; Secure; HttpOnly; SameSite=Strict");
    /* present ones are kept where they are, SameSite's value replaced */
    ck_assert_str_eq(cookie("ONE=1; secure; SameSite=Lax; Path=/"),
                     "ONE=1; secure; SameSite=Strict; Path=/; HttpOnly");
    ck_assert_str_eq(cookie("one=1; samesite=STRICT"),
                     "one=1; samesite=STRICT; Secure; HttpOnly");
    /* another cookie, or no "=" in the first pair: untouched */
    ck_assert_str_eq(cookie("two=2;path=/"), "two=2;path=/");
    ck_assert_str_eq(cookie("one"), "one");
}
END_TEST

START_TEST(cookie_flags_remove)
{
    ck_assert_int_eq(apply("proxy_cookie_flags ~^s nosecure nohttponly "
                           "nosamesite;"
                           "proxy_cookie_flags ~ samesite=none;"), PT_OK);
    ck_assert_str_eq(cookie("sid=1; Secure; HTTPONLY; SameSite=Lax; Path=/"),
                     "sid=1; Path=/");
    /* first match only: the second entry is not applied to "sid" */
    ck_assert_str_eq(cookie("sid=1"), "sid=1");
    ck_assert_str_eq(cookie("x=1; SameSite=Strict"), "x=1; SameSite=None");
    ck_assert_str_eq(cookie("x=1"), "x=1; SameSite=None");
}
END_TEST

START_TEST(cookie_flags_variables_and_unknown)
{
    ck_assert_int_eq(apply("proxy_cookie_flags $host bogus $scheme secure;"),
                     PT_OK);
    /* $host is the cookie name; "bogus" and "http" are ignored */
    ck_assert_str_eq(cookie("H.example=v"), "H.example=v; Secure");
    ck_assert_int_eq(apply("proxy_cookie_flags a bogus;"), PT_OK);
    ck_assert_str_eq(cookie("a=1;path=/"), "a=1;path=/");
}
END_TEST

START_TEST(several_cookies_all_directives)
{
    pt_table_elt_t *c1, *c2, *c3;

    ck_assert_int_eq(apply2("proxy_cookie_domain b.internal example.com;"
                            "proxy_cookie_path /app/ /;",
                            "proxy_cookie_flags ~ secure;"), PT_OK);
    new_request();
    c1 = add("Set-Cookie", "a=1; Domain=b.internal; Path=/app/");
    c2 = add("set-cookie", "b=2");
    c3 = add("Set-Cookie", "c=3; Secure");
    ck_assert_int_eq(run(URL), PT_OK);
    ck_assert_str_eq(val(c1), "a=1; Domain=example.com; Path=/; Secure");
    ck_assert_str_eq(val(c2), "b=2; Secure");
    ck_assert_str_eq(val(c3), "c=3; Secure");
}
END_TEST

START_TEST(cookie_off_clears_inherited)
{
    ck_assert_int_eq(apply2("proxy_cookie_domain b example.com;"
                            "proxy_cookie_path / /x/;"
                            "proxy_cookie_flags ~ secure;",
                            "proxy_cookie_domain off; proxy_cookie_path off;"
                            "proxy_cookie_flags off;"), PT_OK);
    ck_assert_str_eq(cookie("a=1; domain=b; path=/"), "a=1; domain=b; path=/");
    ck_assert_int_eq(apply2("proxy_cookie_path / /x/;", ""), PT_OK);
    ck_assert_str_eq(cookie("a=1; path=/"), "a=1; path=/x/");
}
END_TEST

START_TEST(nothing_configured)
{
    pt_table_elt_t *c;

    ck_assert_int_eq(apply(""), PT_OK);
    new_request();
    c = add("Set-Cookie", "a=1;domain=b;  path=/");
    ck_assert_int_eq(run(URL), PT_OK);
    ck_assert_str_eq(val(c), "a=1;domain=b;  path=/");
    ck_assert_int_eq(c->value.data[c->value.len], '#');
}
END_TEST

/* ------------------------------------------------------------------ */
/* Config errors                                                       */

static void
fails(const char *server, const char *location, const char *message)
{
    /* only this case's messages in the log */
    ck_assert_int_eq(ftruncate(tc_log.fd, 0), 0);
    ck_assert_int_eq(lseek(tc_log.fd, 0, SEEK_SET), 0);
    ck_assert_int_eq(apply2(server, location), PT_ERROR);
    ck_log_has(message);
}

START_TEST(config_errors)
{
    fails("", "proxy_redirect x;", "invalid parameter \"x\" in t.conf:1");
    fails("", "proxy_redirect;",
          "invalid number of arguments in \"proxy_redirect\" directive");
    fails("", "proxy_redirect a b c;",
          "invalid number of arguments in \"proxy_redirect\" directive");
    fails("", "proxy_redirect off; proxy_redirect a b;",
          "\"proxy_redirect\" directive is duplicate in t.conf:1");
    fails("", "proxy_redirect a b;\nproxy_redirect off;",
          "\"proxy_redirect\" directive is duplicate in t.conf:2");
    fails("", "proxy_redirect default; proxy_pass http://b;",
          "\"proxy_redirect default\" should be placed after the "
          "\"proxy_pass\" directive in t.conf:1");
    fails("proxy_redirect default;", "proxy_pass http://b;",
          "\"proxy_redirect default\" should be placed after the "
          "\"proxy_pass\" directive");
    fails("", "proxy_pass http://$host; proxy_redirect default;",
          "\"proxy_redirect default\" cannot be used with \"proxy_pass\" "
          "directive with variables");
    fails("", "proxy_redirect ~(a b;",
          "pcre2_compile() failed: missing closing parenthesis in \"(a\"");
    fails("", "proxy_redirect a $nope;", "unknown \"nope\" variable");
    fails("", "proxy_redirect a ${x;",
          "the closing bracket in \"x\" variable is missing");
    fails("", "proxy_cookie_domain x;", "invalid parameter \"x\"");
    fails("", "proxy_cookie_domain off; proxy_cookie_domain a b;",
          "\"proxy_cookie_domain\" directive is duplicate");
    fails("", "proxy_cookie_domain a b; proxy_cookie_domain off;",
          "\"proxy_cookie_domain\" directive is duplicate");
    fails("", "proxy_cookie_domain ~*a b;",
          "pcre2_compile() failed: quantifier does not follow a repeatable "
          "item in \"*a\"");
    fails("", "proxy_cookie_path off; proxy_cookie_path off;",
          "\"proxy_cookie_path\" directive is duplicate");
    fails("", "proxy_cookie_path a b c;",
          "invalid number of arguments in \"proxy_cookie_path\" directive");
    fails("", "proxy_cookie_flags x;", "invalid parameter \"x\"");
    fails("", "proxy_cookie_flags a b c d e;",
          "invalid number of arguments in \"proxy_cookie_flags\" directive");
    fails("", "proxy_cookie_flags off; proxy_cookie_flags a secure;",
          "\"proxy_cookie_flags\" directive is duplicate");
    fails("", "proxy_cookie_flags ~*a secure;",
          "pcre2_compile() failed: quantifier does not follow");
}
END_TEST

START_TEST(config_accepted)
{
    ck_assert_int_eq(apply("proxy_pass http://b; proxy_redirect default;"
                           "proxy_redirect default;"), PT_OK);
    ck_assert_int_eq(apply("proxy_cookie_flags a secure httponly "
                           "samesite=lax;"), PT_OK);
    /* "if" is not one of the contexts */
    ck_assert_int_eq(rewrite_commands[0].type & PT_CONF_IF, 0);
}
END_TEST

Suite *
pt_test_suite(void)
{
    Suite *s = suite_create("http_proxy_rewrite");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, default_with_uri);
    tcase_add_test(tc, default_without_uri);
    tcase_add_test(tc, default_needs_url);
    tcase_add_test(tc, redirect_off);
    tcase_add_test(tc, literal_rules_first_match);
    tcase_add_test(tc, default_mixed_with_rules);
    tcase_add_test(tc, regex_rules);
    tcase_add_test(tc, variables_in_rules);
    tcase_add_test(tc, inheritance);
    tcase_add_test(tc, nested_location_inherits_default);
    tcase_add_test(tc, refresh);
    tcase_add_test(tc, deleted_and_other_headers);
    tcase_add_test(tc, helpers);
    tcase_add_test(tc, cookie_domain);
    tcase_add_test(tc, cookie_path);
    tcase_add_test(tc, cookie_flags_add);
    tcase_add_test(tc, cookie_flags_remove);
    tcase_add_test(tc, cookie_flags_variables_and_unknown);
    tcase_add_test(tc, several_cookies_all_directives);
    tcase_add_test(tc, cookie_off_clears_inherited);
    tcase_add_test(tc, nothing_configured);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, config_accepted);
    suite_add_tcase(s, tc);
    return s;
}

/*
 * proxy_redirect, proxy_cookie_domain, proxy_cookie_path and
 * proxy_cookie_flags: their confs (http, server, location) and the rewrite
 * of a proxied head's Location, Refresh and Set-Cookie values.
 */
#include <string.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "http_core.h"
#include "http_proxy_rewrite.h"
#include "http_request.h"
#include "http_script.h"
#include "http_variables.h"

/* How a rule's pattern is matched (rule_t.type). */
#define RULE_PREFIX   0   /* complex value, case-sensitive prefix */
#define RULE_REGEX    1   /* regex over the whole value, which it replaces */
#define RULE_DOMAIN   2   /* complex value, whole domain, caseless, "."
                             in front ignored */
#define RULE_DEFAULT  3   /* "proxy_redirect default": from the URL */

/* proxy_cookie_flags operations (one bit each). */
#define FLAG_SECURE_ON        0x01
#define FLAG_SECURE_OFF       0x02
#define FLAG_HTTPONLY_ON      0x04
#define FLAG_HTTPONLY_OFF     0x08
#define FLAG_SAMESITE_STRICT  0x10
#define FLAG_SAMESITE_LAX     0x20
#define FLAG_SAMESITE_NONE    0x40
#define FLAG_SAMESITE_OFF     0x80
#define FLAG_SAMESITE_ON      (FLAG_SAMESITE_STRICT | FLAG_SAMESITE_LAX      \
                               | FLAG_SAMESITE_NONE)

#define MAX_FLAGS 3   /* proxy_cookie_flags takes 1 to 4 arguments */

typedef struct {
    pt_uint_t                type;         /* RULE_* */
    pt_http_complex_value_t  pattern;      /* PREFIX, DOMAIN */
    pt_http_regex_t          regex;        /* REGEX */
    pt_http_complex_value_t  replacement;  /* all but DEFAULT */
    pt_str_t                 from;         /* DEFAULT: the URL [+ "/"], or */
    pt_str_t                 to;           /* NULL: made at run time */
} rule_t;

typedef struct {
    pt_http_complex_value_t  cookie;       /* name, unless regex is set */
    pt_http_regex_t         *regex;        /* caseless */
    pt_http_complex_value_t  flags[MAX_FLAGS];
    pt_uint_t                nflags;
} cookie_flags_t;

typedef struct {
    int           redirect;        /* PT_CONF_UNSET, 0 "off", 1 */
    pt_array_t   *redirects;       /* rule_t; NULL: none at this level */
    /* PT_CONF_UNSET_PTR, NULL ("off"), or rule_t / cookie_flags_t */
    pt_array_t   *cookie_domains;
    pt_array_t   *cookie_paths;
    pt_array_t   *cookie_flags;
    pt_str_t      pass_url;        /* proxy_pass URL at this level (no
                                      variables), from the proxy's call */
    pt_str_t      pass_name;       /* the location's name then */
    unsigned      pass:1;          /* proxy_pass read at this level */
} rewrite_loc_conf_t;

/* One "key[=value]" of a Set-Cookie value; key.data NULL: dropped,
 * value.data NULL: no "=". */
typedef struct {
    pt_str_t  key;
    pt_str_t  value;
} cookie_attr_t;

static void *create_loc_conf(pt_conf_t *cf);
static rule_t *push_rule(pt_conf_t *cf, pt_array_t **rules);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_redirect(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_cookie_rewrite(pt_conf_t *cf, pt_command_t *cmd,
                                void *conf);
static char *set_cookie_flags(pt_conf_t *cf, pt_command_t *cmd, void *conf);

#define REWRITE_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)

static pt_command_t rewrite_commands[] = {
    { "proxy_redirect", REWRITE_CTX | PT_CONF_TAKE12, set_redirect,
      PT_CONF_LOC_OFFSET, 0, NULL },
    { "proxy_cookie_domain", REWRITE_CTX | PT_CONF_TAKE12,
      set_cookie_rewrite, PT_CONF_LOC_OFFSET,
      offsetof(rewrite_loc_conf_t, cookie_domains), NULL },
    { "proxy_cookie_path", REWRITE_CTX | PT_CONF_TAKE12, set_cookie_rewrite,
      PT_CONF_LOC_OFFSET, offsetof(rewrite_loc_conf_t, cookie_paths), NULL },
    { "proxy_cookie_flags", REWRITE_CTX | PT_CONF_TAKE1234,
      set_cookie_flags, PT_CONF_LOC_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_proxy_rewrite_module = {
    "http_proxy_rewrite", rewrite_commands,
    NULL, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

/* ------------------------------------------------------------------ */
/* proxy_pass URLs                                                     */

/* Whether a proxy_pass URL has a URI part: "http://h:1/x" does,
 * "http://h:1" and "http://unix:/s.sock" do not. */
static int
url_has_uri(const pt_str_t *url)
{
    u_char *p = url->data, *end = url->data + url->len, *s;

    s = memmem(p, url->len, "://", 3);
    p = s != NULL ? s + 3 : p;
    if ((size_t) (end - p) >= 5 && pt_strncasecmp(p, (u_char *) "unix:", 5)
                                   == 0)
    {
        s = memchr(p + 5, ':', (size_t) (end - p - 5));
        return s != NULL && s + 1 < end;
    }
    for ( /* void */ ; p < end; p++) {
        if (*p == '/' || *p == '?') {
            return 1;
        }
    }
    return 0;
}

/* The FROM and TO of "proxy_redirect default" for a proxy_pass URL: the
 * URL becomes the location's name when it has a URI part, URL + "/"
 * becomes "/" otherwise. from may be allocated from pool. */
static int
default_rule(pt_pool_t *pool, const pt_str_t *url, const pt_str_t *name,
             pt_str_t *from, pt_str_t *to)
{
    if (url_has_uri(url)) {
        *from = *url;
        *to = *name;
        return PT_OK;
    }
    from->data = pt_pnalloc(pool, url->len + 1);
    if (from->data == NULL) {
        return PT_ERROR;
    }
    memcpy(from->data, url->data, url->len);
    from->data[url->len] = '/';
    from->len = url->len + 1;
    pt_str_set(to, "/");
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static void *
create_loc_conf(pt_conf_t *cf)
{
    rewrite_loc_conf_t *conf = pt_pcalloc(cf->pool, sizeof(*conf));

    if (conf == NULL) {
        return NULL;
    }
    conf->redirect = PT_CONF_UNSET;
    conf->cookie_domains = PT_CONF_UNSET_PTR;
    conf->cookie_paths = PT_CONF_UNSET_PTR;
    conf->cookie_flags = PT_CONF_UNSET_PTR;
    return conf;
}

/* A level with proxy_redirect rules of its own (or "off") does not see its
 * parent's; a level with none gets the implicit "default" when it has a
 * proxy_pass without variables (or at run time, from the URL, when the
 * proxy did not tell us about its proxy_pass). */
static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    rewrite_loc_conf_t *prev = parent, *conf = child;
    rule_t             *rule;

    pt_conf_merge_value(conf->redirect, prev->redirect, 1);
    if (conf->redirect && conf->redirects == NULL) {
        conf->redirects = prev->redirects;
    }
    /* the implicit default, made where nginx makes it: so a nested
     * location with a proxy_pass of its own still inherits its parent's */
    if (conf->redirect && conf->redirects == NULL && conf->pass_url.data) {
        rule = push_rule(cf, &conf->redirects);
        if (rule == NULL
            || default_rule(cf->pool, &conf->pass_url, &conf->pass_name,
                            &rule->from, &rule->to) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
        rule->type = RULE_DEFAULT;
    }
    pt_conf_merge_ptr(conf->cookie_domains, prev->cookie_domains, NULL);
    pt_conf_merge_ptr(conf->cookie_paths, prev->cookie_paths, NULL);
    pt_conf_merge_ptr(conf->cookie_flags, prev->cookie_flags, NULL);
    return PT_CONF_OK;
}

void
pt_http_proxy_rewrite_pass(pt_conf_t *cf, const pt_str_t *url)
{
    rewrite_loc_conf_t *conf;
    pt_http_loc_conf_t *clcf;

    conf = pt_http_conf_get_module_loc_conf(cf, pt_http_proxy_rewrite_module);
    clcf = pt_http_conf_get_module_loc_conf(cf, pt_http_core_module);
    conf->pass = 1;
    if (url != NULL) {
        conf->pass_url = *url;
        conf->pass_name = clcf->name;
    }
}

/* "proxy_redirect default" needs a proxy_pass without variables before it
 * in the same block. NULL, or PT_CONF_ERROR logged in nginx's words. */
static char *
check_default(pt_conf_t *cf, rewrite_loc_conf_t *conf)
{
    pt_http_loc_conf_t *clcf;

    clcf = pt_http_conf_get_module_loc_conf(cf, pt_http_core_module);
    if (conf->pass && conf->pass_url.data == NULL) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "\"proxy_redirect default\" cannot be used with "
                          "\"proxy_pass\" directive with variables");
        return PT_CONF_ERROR;
    }
    if (!conf->pass && clcf->handler == NULL) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                          "\"proxy_redirect default\" should be placed "
                          "after the \"proxy_pass\" directive");
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* Compile a rule's pattern: "~" (caseless when `caseless`, or with "~*"
 * when `star` allows it) is a regex, anything else a complex value. */
static int
compile_pattern(pt_conf_t *cf, rule_t *rule, pt_str_t pattern, int star,
                int caseless)
{
    if (pattern.len > 0 && pattern.data[0] == '~') {
        pattern.data++;
        pattern.len--;
        if (star && pattern.len > 0 && pattern.data[0] == '*') {
            pattern.data++;
            pattern.len--;
            caseless = 1;
        }
        rule->type = RULE_REGEX;
        return pt_http_regex_compile(cf, &rule->regex, &pattern, caseless);
    }
    return pt_http_compile_complex_value(cf, &pattern, &rule->pattern);
}

static rule_t *
push_rule(pt_conf_t *cf, pt_array_t **rules)
{
    rule_t *rule;

    if (*rules == NULL || *rules == PT_CONF_UNSET_PTR) {
        *rules = pt_array_create(cf->pool, 2, sizeof(rule_t));
        if (*rules == NULL) {
            return NULL;
        }
    }
    rule = pt_array_push(*rules);
    if (rule != NULL) {
        memset(rule, 0, sizeof(*rule));
    }
    return rule;
}

/* proxy_redirect default | off | FROM TO. "off" clears the inherited
 * rules; anything after "off" in the same block is a duplicate. */
static char *
set_redirect(pt_conf_t *cf, pt_command_t *cmd, void *c)
{
    rewrite_loc_conf_t *conf = c;
    pt_str_t           *value = cf->args;
    rule_t             *rule;

    (void) cmd;
    if (conf->redirect == 0) {
        return "is duplicate";
    }
    conf->redirect = 1;

    if (cf->nargs == 2) {
        if (pt_str_eq_cstr(&value[1], "off")) {
            if (conf->redirects != NULL) {
                return "is duplicate";
            }
            conf->redirect = 0;
            return PT_CONF_OK;
        }
        if (!pt_str_eq_cstr(&value[1], "default")) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                              (int) value[1].len, value[1].data);
            return PT_CONF_ERROR;
        }
        if (check_default(cf, conf) != PT_CONF_OK) {
            return PT_CONF_ERROR;
        }
    }

    rule = push_rule(cf, &conf->redirects);
    if (rule == NULL) {
        return PT_CONF_ERROR;
    }
    if (cf->nargs == 2) {
        rule->type = RULE_DEFAULT;
        if (conf->pass && default_rule(cf->pool, &conf->pass_url,
                                       &conf->pass_name, &rule->from,
                                       &rule->to) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
        return PT_CONF_OK;
    }
    if (compile_pattern(cf, rule, value[1], 1, 0) != PT_OK
        || pt_http_compile_complex_value(cf, &value[2], &rule->replacement)
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* proxy_cookie_domain|proxy_cookie_path off | FROM TO. A domain regex is
 * "~" and always caseless; a literal domain and its replacement lose a
 * leading "." (the cookie's own is kept). A path regex is "~" or "~*". */
static char *
set_cookie_rewrite(pt_conf_t *cf, pt_command_t *cmd, void *c)
{
    pt_array_t **rules = (pt_array_t **) ((char *) c + cmd->offset);
    pt_str_t    *value = cf->args, from, to;
    int          domain = cmd->offset
                          == offsetof(rewrite_loc_conf_t, cookie_domains);
    rule_t      *rule;

    if (*rules == NULL) {
        return "is duplicate";
    }
    if (cf->nargs == 2) {
        if (pt_str_eq_cstr(&value[1], "off")) {
            if (*rules != PT_CONF_UNSET_PTR) {
                return "is duplicate";
            }
            *rules = NULL;
            return PT_CONF_OK;
        }
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                          (int) value[1].len, value[1].data);
        return PT_CONF_ERROR;
    }

    rule = push_rule(cf, rules);
    if (rule == NULL) {
        return PT_CONF_ERROR;
    }
    from = value[1];
    to = value[2];
    if (domain && !(from.len > 0 && from.data[0] == '~')) {
        if (from.len > 0 && from.data[0] == '.') {
            from.data++;
            from.len--;
        }
        if (to.len > 0 && to.data[0] == '.') {
            to.data++;
            to.len--;
        }
        rule->type = RULE_DOMAIN;
    }
    if (compile_pattern(cf, rule, from, !domain, domain) != PT_OK
        || pt_http_compile_complex_value(cf, &to, &rule->replacement)
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* proxy_cookie_flags off | COOKIE FLAG... The flags may have variables,
 * so they are only read at run time (an unknown one is ignored there). */
static char *
set_cookie_flags(pt_conf_t *cf, pt_command_t *cmd, void *c)
{
    rewrite_loc_conf_t *conf = c;
    pt_str_t           *value = cf->args, name;
    cookie_flags_t     *cfl;
    pt_uint_t           i;

    (void) cmd;
    if (conf->cookie_flags == NULL) {
        return "is duplicate";
    }
    if (cf->nargs == 2) {
        if (pt_str_eq_cstr(&value[1], "off")) {
            if (conf->cookie_flags != PT_CONF_UNSET_PTR) {
                return "is duplicate";
            }
            conf->cookie_flags = NULL;
            return PT_CONF_OK;
        }
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                          (int) value[1].len, value[1].data);
        return PT_CONF_ERROR;
    }

    if (conf->cookie_flags == PT_CONF_UNSET_PTR) {
        conf->cookie_flags = pt_array_create(cf->pool, 2,
                                             sizeof(cookie_flags_t));
        if (conf->cookie_flags == NULL) {
            return PT_CONF_ERROR;
        }
    }
    cfl = pt_array_push(conf->cookie_flags);
    if (cfl == NULL) {
        return PT_CONF_ERROR;
    }
    memset(cfl, 0, sizeof(*cfl));

    name = value[1];
    if (name.len > 0 && name.data[0] == '~') {
        name.data++;
        name.len--;
        cfl->regex = pt_palloc(cf->pool, sizeof(pt_http_regex_t));
        if (cfl->regex == NULL
            || pt_http_regex_compile(cf, cfl->regex, &name, 1) != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    } else if (pt_http_compile_complex_value(cf, &name, &cfl->cookie)
               != PT_OK)
    {
        return PT_CONF_ERROR;
    }

    for (i = 2; i < cf->nargs && cfl->nflags < MAX_FLAGS; i++) {
        if (pt_http_compile_complex_value(cf, &value[i],
                                          &cfl->flags[cfl->nflags++])
            != PT_OK)
        {
            return PT_CONF_ERROR;
        }
    }
    return PT_CONF_OK;
}

/* ------------------------------------------------------------------ */
/* Rewriting a value                                                   */

/* value[prefix, prefix + len) becomes `with`, in a new r->pool string
 * (the old one may live in the upstream's buffer: never written to). */
static int
replace(pt_http_request_t *r, pt_str_t *value, size_t prefix, size_t len,
        const pt_str_t *with)
{
    size_t  tail = value->len - prefix - len;
    u_char *p;

    if (prefix == 0 && tail == 0) {
        *value = *with;
        return PT_OK;
    }
    p = pt_pnalloc(r->pool, prefix + with->len + tail + 1);
    if (p == NULL) {
        return PT_ERROR;
    }
    memcpy(p, value->data, prefix);
    memcpy(p + prefix, with->data, with->len);
    memcpy(p + prefix + with->len, value->data + prefix + len, tail);
    p[prefix + with->len + tail] = '\0';
    value->data = p;
    value->len = prefix + with->len + tail;
    return PT_OK;
}

/* "proxy_redirect default" with FROM and TO from the rule, or made from
 * the proxy's URL and the location's name when the rule has none (the
 * proxy did not report its proxy_pass, or the default is implicit). */
static int
rewrite_default(pt_http_request_t *r, rule_t *rule, const pt_str_t *url,
                pt_str_t *value, size_t prefix)
{
    pt_str_t  from, to;

    if (rule != NULL && rule->from.data != NULL) {
        from = rule->from;
        to = rule->to;
    } else if (url == NULL) {
        return PT_DECLINED;
    } else if (default_rule(r->pool, url, &pt_http_core_loc_conf(r)->name,
                            &from, &to) != PT_OK)
    {
        return PT_ERROR;
    }
    if (from.len > value->len - prefix
        || memcmp(value->data + prefix, from.data, from.len) != 0)
    {
        return PT_DECLINED;
    }
    return replace(r, value, prefix, from.len, &to);
}

/* One rule against value[prefix..]: PT_OK (rewritten), PT_DECLINED (no
 * match) or PT_ERROR. */
static int
apply_rule(pt_http_request_t *r, rule_t *rule, const pt_str_t *url,
           pt_str_t *value, size_t prefix)
{
    pt_str_t  pattern, with, s;
    size_t    len = value->len - prefix;

    switch (rule->type) {
    case RULE_DEFAULT:
        return rewrite_default(r, rule, url, value, prefix);

    case RULE_REGEX:
        s.data = value->data + prefix;
        s.len = len;
        if (pt_http_regex_exec(r, &rule->regex, &s) != PT_OK) {
            return PT_DECLINED;
        }
        break;

    case RULE_DOMAIN:
        if (len > 0 && value->data[prefix] == '.') {
            prefix++;
            len--;
        }
        if (pt_http_complex_value(r, &rule->pattern, &pattern) != PT_OK) {
            return PT_ERROR;
        }
        if (pattern.len != len
            || pt_strncasecmp(pattern.data, value->data + prefix, len) != 0)
        {
            return PT_DECLINED;
        }
        break;

    default: /* RULE_PREFIX */
        if (pt_http_complex_value(r, &rule->pattern, &pattern) != PT_OK) {
            return PT_ERROR;
        }
        if (pattern.len > len
            || memcmp(value->data + prefix, pattern.data, pattern.len) != 0)
        {
            return PT_DECLINED;
        }
        len = pattern.len;
        break;
    }

    if (pt_http_complex_value(r, &rule->replacement, &with) != PT_OK) {
        return PT_ERROR;
    }
    return replace(r, value, prefix, len, &with);
}

/* The first rule of `rules` that matches rewrites value[prefix..]. With
 * rules NULL, the implicit default. PT_OK, PT_DECLINED or PT_ERROR. */
static int
apply_rules(pt_http_request_t *r, pt_array_t *rules, const pt_str_t *url,
            pt_str_t *value, size_t prefix)
{
    rule_t    *rule;
    pt_uint_t  i;
    int        rc;

    if (rules == NULL) {
        return rewrite_default(r, NULL, url, value, prefix);
    }
    rule = rules->elts;
    for (i = 0; i < rules->nelts; i++) {
        rc = apply_rule(r, &rule[i], url, value, prefix);
        if (rc != PT_DECLINED) {
            return rc;
        }
    }
    return PT_DECLINED;
}

/* ------------------------------------------------------------------ */
/* Set-Cookie                                                          */

static pt_str_t
trim_spaces(u_char *start, u_char *end)
{
    pt_str_t s;

    while (start < end && *start == ' ') {
        start++;
    }
    while (end > start && end[-1] == ' ') {
        end--;
    }
    s.data = start;
    s.len = (size_t) (end - start);
    return s;
}

/* Split a Set-Cookie value at ";" into trimmed key[=value] pairs. */
static int
parse_cookie(pt_str_t *value, pt_array_t *attrs)
{
    u_char        *start = value->data, *end = value->data + value->len;
    u_char        *last, *eq;
    cookie_attr_t *a;

    for ( ;; ) {
        last = memchr(start, ';', (size_t) (end - start));
        if (last == NULL) {
            last = end;
        }
        a = pt_array_push(attrs);
        if (a == NULL) {
            return PT_ERROR;
        }
        eq = memchr(start, '=', (size_t) (last - start));
        if (eq != NULL) {
            a->key = trim_spaces(start, eq);
            a->value = trim_spaces(eq + 1, last);
        } else {
            a->key = trim_spaces(start, last);
            a->value.data = NULL;
            a->value.len = 0;
        }
        if (last == end) {
            return PT_OK;
        }
        start = last + 1;
    }
}

/* The flags of the first proxy_cookie_flags entry naming the cookie, as
 * FLAG_* bits: 0 when none matches or none of its flags is known. */
static int
cookie_flags(pt_http_request_t *r, pt_array_t *entries, pt_str_t *name,
             pt_uint_t *flags)
{
    static const struct {
        const char *name;
        pt_uint_t   bit;
    } known[] = {
        { "secure", FLAG_SECURE_ON }, { "nosecure", FLAG_SECURE_OFF },
        { "httponly", FLAG_HTTPONLY_ON }, { "nohttponly", FLAG_HTTPONLY_OFF },
        { "samesite=strict", FLAG_SAMESITE_STRICT },
        { "samesite=lax", FLAG_SAMESITE_LAX },
        { "samesite=none", FLAG_SAMESITE_NONE },
        { "nosamesite", FLAG_SAMESITE_OFF },
    };
    cookie_flags_t *e = entries->elts;
    pt_str_t        s;
    pt_uint_t       i, k;
    int             rc;

    *flags = 0;
    for (i = 0; i < entries->nelts; i++, e++) {
        if (e->regex != NULL) {
            rc = pt_http_regex_exec(r, e->regex, name);
            if (rc == PT_ERROR) {
                return PT_ERROR;
            }
            if (rc == PT_OK) {
                break;
            }
            continue;
        }
        if (pt_http_complex_value(r, &e->cookie, &s) != PT_OK) {
            return PT_ERROR;
        }
        if (s.len == name->len && pt_strncasecmp(s.data, name->data, s.len)
                                  == 0)
        {
            break;
        }
    }
    if (i == entries->nelts) {
        return PT_OK;
    }
    for (i = 0; i < e->nflags; i++) {
        if (pt_http_complex_value(r, &e->flags[i], &s) != PT_OK) {
            return PT_ERROR;
        }
        for (k = 0; k < sizeof(known) / sizeof(known[0]); k++) {
            if (s.len == strlen(known[k].name)
                && pt_strncasecmp(s.data, (u_char *) known[k].name, s.len)
                   == 0)
            {
                *flags |= known[k].bit;
                break;
            }
        }
    }
    return PT_OK;
}

static int
key_is(const pt_str_t *key, const char *name)
{
    size_t n = strlen(name);

    return key->data != NULL && key->len == n
           && pt_strncasecmp(key->data, (u_char *) name, n) == 0;
}

/* SameSite as `flags` asks for, on an existing attribute. */
static void
edit_samesite(cookie_attr_t *a, pt_uint_t *flags)
{
    static const struct {
        pt_uint_t   bit;
        const char *value;
    } modes[] = {
        { FLAG_SAMESITE_STRICT, "Strict" },
        { FLAG_SAMESITE_LAX, "Lax" },
        { FLAG_SAMESITE_NONE, "None" },
    };
    pt_uint_t i;

    for (i = 0; i < 3; i++) {
        if (!(*flags & modes[i].bit)) {
            continue;
        }
        *flags &= ~modes[i].bit;
        if (!key_is(&a->value, modes[i].value)) {
            pt_str_set(&a->key, "SameSite");
            a->value.data = (u_char *) modes[i].value;
            a->value.len = strlen(modes[i].value);
        }
        return;
    }
    if (*flags & FLAG_SAMESITE_OFF) {
        a->key.data = NULL;
    }
}

static int
push_attr(pt_array_t *attrs, const char *key, const char *value)
{
    cookie_attr_t *a = pt_array_push(attrs);

    if (a == NULL) {
        return PT_ERROR;
    }
    a->key.data = (u_char *) key;
    a->key.len = strlen(key);
    a->value.data = (u_char *) value;
    a->value.len = value ? strlen(value) : 0;
    return PT_OK;
}

/* Apply FLAG_* to the attributes (those of the cookie name excepted):
 * present flags are kept, replaced or dropped; missing ones appended. */
static int
edit_flags(pt_array_t *attrs, pt_uint_t flags)
{
    cookie_attr_t *a = attrs->elts;
    pt_uint_t      i, n = attrs->nelts;
    const char    *samesite;

    for (i = 1; i < n; i++) {
        if (key_is(&a[i].key, "secure")) {
            if (flags & FLAG_SECURE_ON) {
                flags &= ~FLAG_SECURE_ON;
            } else if (flags & FLAG_SECURE_OFF) {
                a[i].key.data = NULL;
            }
        } else if (key_is(&a[i].key, "httponly")) {
            if (flags & FLAG_HTTPONLY_ON) {
                flags &= ~FLAG_HTTPONLY_ON;
            } else if (flags & FLAG_HTTPONLY_OFF) {
                a[i].key.data = NULL;
            }
        } else if (key_is(&a[i].key, "samesite")) {
            edit_samesite(&a[i], &flags);
        }
    }

    if ((flags & FLAG_SECURE_ON)
        && push_attr(attrs, "Secure", NULL) != PT_OK)
    {
        return PT_ERROR;
    }
    if ((flags & FLAG_HTTPONLY_ON)
        && push_attr(attrs, "HttpOnly", NULL) != PT_OK)
    {
        return PT_ERROR;
    }
    if (flags & FLAG_SAMESITE_ON) {
        samesite = (flags & FLAG_SAMESITE_STRICT) ? "Strict"
                   : (flags & FLAG_SAMESITE_LAX) ? "Lax" : "None";
        if (push_attr(attrs, "SameSite", samesite) != PT_OK) {
            return PT_ERROR;
        }
    }
    return PT_OK;
}

/* Join the attributes back with "; " into a new r->pool string. */
static int
join_cookie(pt_http_request_t *r, pt_array_t *attrs, pt_str_t *out)
{
    cookie_attr_t *a = attrs->elts;
    size_t         len = 0;
    pt_uint_t      i;
    u_char        *p;

    for (i = 0; i < attrs->nelts; i++) {
        if (a[i].key.data != NULL) {
            len += (i > 0 ? 2 : 0) + a[i].key.len
                   + (a[i].value.data ? 1 + a[i].value.len : 0);
        }
    }
    p = pt_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return PT_ERROR;
    }
    out->data = p;
    out->len = len;
    for (i = 0; i < attrs->nelts; i++) {
        if (a[i].key.data == NULL) {
            continue;
        }
        if (i > 0) {
            *p++ = ';';
            *p++ = ' ';
        }
        memcpy(p, a[i].key.data, a[i].key.len);
        p += a[i].key.len;
        if (a[i].value.data != NULL) {
            *p++ = '=';
            memcpy(p, a[i].value.data, a[i].value.len);
            p += a[i].value.len;
        }
    }
    *p = '\0';
    return PT_OK;
}

/* Domain and Path by their rules, then the flags. The value is rebuilt
 * (normalised to "k=v; k2") only when something changed, as nginx. */
static int
rewrite_cookie(pt_http_request_t *r, rewrite_loc_conf_t *conf, pt_str_t *v)
{
    pt_array_t     attrs;
    cookie_attr_t *a;
    pt_uint_t      i, flags;
    int            rc, changed = 0;
    pt_array_t    *rules;

    if (pt_array_init(&attrs, r->pool, 4, sizeof(cookie_attr_t)) != PT_OK
        || parse_cookie(v, &attrs) != PT_OK)
    {
        return PT_ERROR;
    }
    a = attrs.elts;
    if (a[0].value.data == NULL) {
        return PT_OK;   /* not "name=value": left alone */
    }
    for (i = 1; i < attrs.nelts; i++) {
        rules = key_is(&a[i].key, "domain") ? conf->cookie_domains
                : key_is(&a[i].key, "path") ? conf->cookie_paths : NULL;
        if (rules == NULL || a[i].value.data == NULL) {
            continue;
        }
        rc = apply_rules(r, rules, NULL, &a[i].value, 0);
        if (rc == PT_ERROR) {
            return PT_ERROR;
        }
        changed |= rc == PT_OK;
    }
    if (conf->cookie_flags != NULL) {
        if (cookie_flags(r, conf->cookie_flags, &a[0].key, &flags) != PT_OK) {
            return PT_ERROR;
        }
        if (flags != 0) {
            if (edit_flags(&attrs, flags) != PT_OK) {
                return PT_ERROR;
            }
            changed = 1;
        }
    }
    return changed ? join_cookie(r, &attrs, v) : PT_OK;
}

/* ------------------------------------------------------------------ */
/* The headers                                                         */

/* The offset of what follows "url=" (any case) in a Refresh value, or 0
 * when there is none. */
static size_t
refresh_url(const pt_str_t *v)
{
    size_t i;

    for (i = 0; i + 4 <= v->len; i++) {
        if (pt_strncasecmp(v->data + i, (u_char *) "url=", 4) == 0) {
            return i + 4;
        }
    }
    return 0;
}

int
pt_http_proxy_rewrite_headers(pt_http_request_t *r, const pt_str_t *url)
{
    rewrite_loc_conf_t *conf;
    pt_table_elt_t     *h;
    pt_array_t         *rules;
    pt_uint_t           i;
    size_t              prefix;
    int                 redirect, cookies, rc;

    conf = pt_http_get_module_loc_conf(r, pt_http_proxy_rewrite_module);
    rules = conf->redirect ? conf->redirects : NULL;
    redirect = conf->redirect && (rules != NULL || url != NULL);
    cookies = conf->cookie_domains || conf->cookie_paths
              || conf->cookie_flags;

    r->headers_out.location = NULL;
    r->headers_out.refresh = NULL;
    h = r->headers_out.headers.elts;
    for (i = 0; i < r->headers_out.headers.nelts; i++) {
        if (h[i].hash == 0) {
            continue;
        }
        if (key_is(&h[i].key, "set-cookie")) {
            if (cookies && rewrite_cookie(r, conf, &h[i].value) != PT_OK) {
                return PT_ERROR;
            }
            continue;
        }
        if (key_is(&h[i].key, "location")) {
            if (!redirect) {
                if (h[i].value.len == 0 || h[i].value.data[0] != '/') {
                    r->headers_out.location = &h[i];
                }
                continue;
            }
            prefix = 0;
        } else if (key_is(&h[i].key, "refresh")) {
            if (!redirect) {
                r->headers_out.refresh = &h[i];
                continue;
            }
            prefix = refresh_url(&h[i].value);
            if (prefix == 0) {
                continue;
            }
        } else {
            continue;
        }

        rc = apply_rules(r, rules, url, &h[i].value, prefix);
        if (rc == PT_ERROR) {
            return PT_ERROR;
        }
        if (rc == PT_OK) {
            if (prefix == 0) {
                r->headers_out.location = &h[i];
            } else {
                r->headers_out.refresh = &h[i];
            }
        }
    }
    return PT_OK;
}

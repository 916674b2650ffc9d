/*
 * The charset filter: `charset` adds "; charset=NAME" to the Content-Type
 * of the charset_types responses that carry none. Portico converts no
 * bodies: source_charset, override_charset and charset_map are accepted
 * (with a notice), and a response whose body would need converting is
 * labelled with the charset it is really in.
 */
#include <string.h>

#include "common/array.h"
#include "common/log.h"
#include "common/pool.h"
#include "http.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"

#define CHARSET_UNSET  -1
#define CHARSET_OFF    -2
#define CHARSET_VAR    -3   /* named by a complex value */

/* A charset setting: an index into the known names, or one of above. */
typedef struct {
    pt_int_t                  index;
    pt_http_complex_value_t  *value;   /* CHARSET_VAR */
} charset_ref_t;

typedef struct {
    pt_int_t   src;
    pt_int_t   dst;
} charset_pair_t;

typedef struct {
    pt_array_t   names;     /* pt_str_t: every charset the config names */
    pt_array_t   maps;      /* charset_pair_t: charset_map blocks */
    pt_array_t   recodes;   /* charset_pair_t: static charset pairs that
                               would need converting */
} charset_main_conf_t;

typedef struct {
    charset_ref_t  charset;
    charset_ref_t  source_charset;
    int            override_charset;
    pt_array_t    *types;      /* pt_str_t, lowercase; NULL: unset */
    unsigned       any_type:1; /* charset_types * */
} charset_loc_conf_t;

static void *create_main_conf(pt_conf_t *cf);
static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);
static char *set_charset(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_override(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_types(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_map(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static int postconfiguration(pt_conf_t *cf);

#define CHARSET_CTX (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION        \
                     | PT_CONF_IF)

static pt_command_t charset_commands[] = {
    { "charset", CHARSET_CTX | PT_CONF_TAKE1, set_charset,
      PT_CONF_LOC_OFFSET, offsetof(charset_loc_conf_t, charset), NULL },
    { "source_charset", CHARSET_CTX | PT_CONF_TAKE1, set_charset,
      PT_CONF_LOC_OFFSET, offsetof(charset_loc_conf_t, source_charset),
      NULL },
    { "override_charset", CHARSET_CTX | PT_CONF_FLAG, set_override,
      PT_CONF_LOC_OFFSET, offsetof(charset_loc_conf_t, override_charset),
      NULL },
    { "charset_types", PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION
      | PT_CONF_1MORE, set_types, PT_CONF_LOC_OFFSET, 0, NULL },
    { "charset_map", PT_CONF_HTTP | PT_CONF_BLOCK | PT_CONF_TAKE2, set_map,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    pt_null_command
};

pt_module_t pt_http_charset_filter_module = {
    "http_charset_filter", charset_commands,
    create_main_conf, NULL, NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static const char *default_types[] = {
    "text/html", "text/xml", "text/plain", "text/vnd.wap.wml",
    "application/javascript", "application/rss+xml",
};

static pt_http_output_header_filter_pt next_header_filter;

/* ------------------------------------------------------------------ */
/* Known charsets                                                      */

/* The index of a charset name (case-insensitive), or PT_DECLINED. */
static pt_int_t
find_charset(pt_array_t *names, const pt_str_t *name)
{
    pt_str_t  *n = names->elts;
    pt_uint_t  i;

    for (i = 0; i < names->nelts; i++) {
        if (n[i].len == name->len
            && pt_strncasecmp(n[i].data, name->data, name->len) == 0)
        {
            return (pt_int_t) i;
        }
    }
    return PT_DECLINED;
}

/* The index of a name, adding it on first sight; PT_ERROR on OOM. */
static pt_int_t
add_charset(pt_conf_t *cf, const pt_str_t *name)
{
    charset_main_conf_t *mcf;
    pt_str_t            *n;
    pt_int_t             i;

    mcf = pt_http_conf_get_module_main_conf(cf, pt_http_charset_filter_module);
    i = find_charset(&mcf->names, name);
    if (i != PT_DECLINED) {
        return i;
    }
    n = pt_array_push(&mcf->names);
    if (n == NULL) {
        return PT_ERROR;
    }
    *n = *name;
    return (pt_int_t) mcf->names.nelts - 1;
}

static int
have_map(charset_main_conf_t *mcf, pt_int_t a, pt_int_t b)
{
    charset_pair_t *m = mcf->maps.elts;
    pt_uint_t       i;

    for (i = 0; i < mcf->maps.nelts; i++) {
        if ((m[i].src == a && m[i].dst == b)
            || (m[i].src == b && m[i].dst == a))
        {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Filter                                                              */

static int
type_matches(pt_http_request_t *r, charset_loc_conf_t *lcf)
{
    pt_str_t  *t = lcf->types->elts;
    size_t     len = r->headers_out.content_type_len;
    pt_uint_t  i;

    if (lcf->any_type) {
        return 1;
    }
    for (i = 0; i < lcf->types->nelts; i++) {
        if (t[i].len == len
            && pt_strncasecmp(t[i].data, r->headers_out.content_type.data,
                              len) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/* A charset setting's name and index (PT_DECLINED: a name the config
 * never mentions). A variable's value is kept as it is spelled, a static
 * name as the configuration first spelled it. PT_ERROR when the
 * variables fail. */
static int
resolve(pt_http_request_t *r, charset_main_conf_t *mcf, charset_ref_t *ref,
        pt_str_t *name, pt_int_t *index)
{
    pt_str_t *names = mcf->names.elts;

    if (ref->index >= 0) {
        *name = names[ref->index];
        *index = ref->index;
        return PT_OK;
    }
    if (pt_http_complex_value(r, ref->value, name) != PT_OK) {
        return PT_ERROR;
    }
    *index = find_charset(&mcf->names, name);
    return PT_OK;
}

int
pt_http_charset_on(pt_http_request_t *r)
{
    charset_loc_conf_t *lcf;

    lcf = pt_http_get_module_loc_conf(r, pt_http_charset_filter_module);
    return lcf->charset.index != CHARSET_OFF;
}

static void
set_response_charset(pt_http_request_t *r, const pt_str_t *charset)
{
    if (r->headers_out.status == PT_HTTP_MOVED_PERMANENTLY
        || r->headers_out.status == PT_HTTP_MOVED_TEMPORARILY)
    {
        /* old browsers took a redirect's charset for the next page's */
        r->headers_out.charset.len = 0;
        return;
    }
    r->headers_out.charset = *charset;
}

static int
header_filter(pt_http_request_t *r)
{
    charset_main_conf_t *mcf;
    charset_loc_conf_t  *lcf;
    pt_str_t             dst, src = pt_null_string;
    pt_int_t             di, si = CHARSET_OFF;
    pt_table_elt_t      *ce = r->headers_out.content_encoding;

    lcf = pt_http_get_module_loc_conf(r, pt_http_charset_filter_module);
    if (r != r->main || lcf->charset.index == CHARSET_OFF
        || r->headers_out.content_type.len == 0
        || (ce != NULL && ce->value.len > 0))
    {
        return next_header_filter(r);
    }
    if (r->headers_out.charset.len > 0 ? !lcf->override_charset
                                       : !type_matches(r, lcf))
    {
        return next_header_filter(r);
    }

    mcf = pt_http_get_module_main_conf(r, pt_http_charset_filter_module);
    if (resolve(r, mcf, &lcf->charset, &dst, &di) != PT_OK) {
        return PT_ERROR;
    }
    if (r->headers_out.charset.len > 0) {
        src = r->headers_out.charset;
        si = find_charset(&mcf->names, &src);
    } else if (lcf->source_charset.index != CHARSET_OFF
               && resolve(r, mcf, &lcf->source_charset, &src, &si) != PT_OK)
    {
        return PT_ERROR;
    }

    if (si == CHARSET_OFF || (si == di && si >= 0)) {
        set_response_charset(r, &dst);
    } else if (si < 0 || di < 0) {
        /* a name no directive mentions has no map: only the same name on
         * both sides passes (nginx's rule for variables) */
        if (dst.len == 0 || (src.len == dst.len
                             && pt_strncasecmp(src.data, dst.data, dst.len)
                                == 0))
        {
            set_response_charset(r, &dst);
        } else {
            goto no_map;
        }
    } else if (have_map(mcf, si, di)) {
        /* no conversion: the body stays in, and is labelled, src */
        set_response_charset(r, &src);
    } else {
        goto no_map;
    }
    return next_header_filter(r);

no_map:
    pt_log_error(PT_LOG_ERR, pt_http_request_log(r), 0, "no \"charset_map\" "
                 "between the charsets \"%.*s\" and \"%.*s\"",
                 (int) src.len, src.data, (int) dst.len, dst.data);
    return next_header_filter(r);
}

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

static void *
create_main_conf(pt_conf_t *cf)
{
    charset_main_conf_t *mcf = pt_pcalloc(cf->pool, sizeof(*mcf));

    if (mcf == NULL
        || pt_array_init(&mcf->names, cf->pool, 4, sizeof(pt_str_t)) != PT_OK
        || pt_array_init(&mcf->maps, cf->pool, 2, sizeof(charset_pair_t))
           != PT_OK
        || pt_array_init(&mcf->recodes, cf->pool, 2, sizeof(charset_pair_t))
           != PT_OK)
    {
        return NULL;
    }
    return mcf;
}

static void *
create_loc_conf(pt_conf_t *cf)
{
    charset_loc_conf_t *lcf = pt_pcalloc(cf->pool, sizeof(*lcf));

    if (lcf != NULL) {
        lcf->charset.index = CHARSET_UNSET;
        lcf->source_charset.index = CHARSET_UNSET;
        lcf->override_charset = PT_CONF_UNSET;
    }
    return lcf;
}

static int
default_type_list(pt_conf_t *cf, charset_loc_conf_t *conf)
{
    pt_str_t  *t;
    size_t     i;

    conf->types = pt_array_create(cf->pool, pt_nelems(default_types),
                                  sizeof(pt_str_t));
    if (conf->types == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < pt_nelems(default_types); i++) {
        t = pt_array_push(conf->types);
        if (t == NULL) {
            return PT_ERROR;
        }
        t->data = (u_char *) default_types[i];
        t->len = strlen(default_types[i]);
    }
    return PT_OK;
}

/* Remember a static pair that would need converting, for the check in
 * postconfiguration (a map must exist, as nginx requires). */
static int
add_recode(pt_conf_t *cf, pt_int_t src, pt_int_t dst)
{
    charset_main_conf_t *mcf;
    charset_pair_t      *p;
    pt_uint_t            i;

    mcf = pt_http_conf_get_module_main_conf(cf, pt_http_charset_filter_module);
    p = mcf->recodes.elts;
    for (i = 0; i < mcf->recodes.nelts; i++) {
        if (p[i].src == src && p[i].dst == dst) {
            return PT_OK;
        }
    }
    p = pt_array_push(&mcf->recodes);
    if (p == NULL) {
        return PT_ERROR;
    }
    p->src = src;
    p->dst = dst;
    return PT_OK;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    charset_loc_conf_t *prev = parent, *conf = child;

    if (conf->types == NULL) {
        conf->types = prev->types;
        conf->any_type = prev->any_type;
        if (conf->types == NULL && default_type_list(cf, conf) != PT_OK) {
            return PT_CONF_ERROR;
        }
    }
    if (conf->charset.index == CHARSET_UNSET) {
        conf->charset = prev->charset.index == CHARSET_UNSET
                        ? (charset_ref_t) { CHARSET_OFF, NULL }
                        : prev->charset;
    }
    if (conf->source_charset.index == CHARSET_UNSET) {
        conf->source_charset = prev->source_charset.index == CHARSET_UNSET
                               ? (charset_ref_t) { CHARSET_OFF, NULL }
                               : prev->source_charset;
    }
    pt_conf_merge_value(conf->override_charset, prev->override_charset, 0);

    if (conf->charset.index >= 0 && conf->source_charset.index >= 0
        && conf->charset.index != conf->source_charset.index
        && add_recode(cf, conf->source_charset.index, conf->charset.index)
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    return PT_CONF_OK;
}

/* charset|source_charset NAME | off | $variable */
static char *
set_charset(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    charset_ref_t *ref = (charset_ref_t *) ((u_char *) conf + cmd->offset);
    pt_str_t      *v = &cf->args[1];

    if (ref->index != CHARSET_UNSET) {
        return "is duplicate";
    }
    if (cmd->offset == offsetof(charset_loc_conf_t, charset)
        && pt_str_eq_cstr(v, "off"))
    {
        ref->index = CHARSET_OFF;
        return PT_CONF_OK;
    }
    ref->value = pt_pcalloc(cf->pool, sizeof(pt_http_complex_value_t));
    if (ref->value == NULL
        || pt_http_compile_complex_value(cf, v, ref->value) != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    if (ref->value->has_vars) {
        ref->index = CHARSET_VAR;
        return PT_CONF_OK;
    }
    ref->index = add_charset(cf, v);
    return ref->index == PT_ERROR ? PT_CONF_ERROR : PT_CONF_OK;
}

static char *
set_override(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    charset_loc_conf_t *lcf = conf;
    char               *rv = pt_conf_set_flag(cf, cmd, conf);

    if (rv == PT_CONF_OK && lcf->override_charset) {
        pt_conf_log_error(PT_LOG_NOTICE, cf, 0, "\"override_charset\" "
                          "converts nothing: portico does not convert "
                          "charsets");
    }
    return rv;
}

/* charset_types MIME... ("*": any); text/html is always one of them, and
 * a second directive at the same level adds to the first */
static char *
set_types(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    charset_loc_conf_t *lcf = conf;
    pt_str_t           *t, html = pt_string("text/html");
    pt_uint_t           i, j;
    size_t              k;

    if (lcf->types == NULL) {
        lcf->types = pt_array_create(cf->pool, cf->nargs, sizeof(pt_str_t));
        if (lcf->types == NULL || (t = pt_array_push(lcf->types)) == NULL) {
            return PT_CONF_ERROR;
        }
        *t = html;
    }
    for (i = 1; i < cf->nargs; i++) {
        if (pt_str_eq_cstr(&cf->args[i], "*")) {
            lcf->any_type = 1;
            continue;
        }
        for (k = 0; k < cf->args[i].len; k++) {
            cf->args[i].data[k] = pt_tolower(cf->args[i].data[k]);
        }
        t = lcf->types->elts;
        for (j = 0; j < lcf->types->nelts; j++) {
            if (pt_str_eq(&t[j], &cf->args[i])) {
                pt_conf_log_error(PT_LOG_WARN, cf, 0, "duplicate MIME type "
                                  "\"%.*s\"", (int) cf->args[i].len,
                                  cf->args[i].data);
                goto next;
            }
        }
        t = pt_array_push(lcf->types);
        if (t == NULL) {
            return PT_CONF_ERROR;
        }
        *t = cf->args[i];
    next:
        continue;
    }
    return PT_CONF_OK;
}

static int
hex_value(const pt_str_t *s, size_t from, size_t n)
{
    int     v = 0;
    size_t  i;
    u_char  c;

    for (i = from; i < from + n; i++) {
        c = pt_tolower(s->data[i]);
        if (c >= '0' && c <= '9') {
            v = v * 16 + (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v = v * 16 + (c - 'a' + 10);
        } else {
            return -1;
        }
    }
    return v;
}

/* One "SRC DST" line of a map: hex byte codes, or for a map to utf-8
 * the hex of up to three UTF-8 bytes. PT_OK, or PT_ERROR (logged). */
static int
check_map_line(pt_conf_t *cf, pt_conf_node_t *n, int to_utf8)
{
    pt_str_t *bad;
    size_t    max = to_utf8 ? 6 : 2;

    if (n->block || n->nargs != 2) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "invalid parameters number "
                     "in %s:%lu", n->file, (unsigned long) n->line);
        return PT_ERROR;
    }
    bad = &n->args[0];
    if (bad->len > 0 && bad->len <= 2 && hex_value(bad, 0, bad->len) >= 0) {
        bad = &n->args[1];
        if (bad->len > 0 && bad->len <= max && (!to_utf8 || bad->len % 2 == 0)
            && hex_value(bad, 0, bad->len) >= 0)
        {
            return PT_OK;
        }
    }
    pt_log_error(PT_LOG_EMERG, cf->log, 0, "invalid value \"%.*s\" in %s:%lu",
                 (int) bad->len, bad->data, n->file, (unsigned long) n->line);
    return PT_ERROR;
}

/* charset_map SRC DST { ... }: checked and kept as a known pair, the
 * table itself is unused. */
static char *
set_map(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    charset_main_conf_t *mcf;
    charset_pair_t      *p;
    pt_conf_node_t      *n;
    pt_str_t            *a = cf->args;
    pt_int_t             src, dst;
    int                  to_utf8 = pt_str_eq_cstr(&a[2], "utf-8")
                                   || pt_str_eq_cstr(&a[2], "UTF-8");

    mcf = pt_http_conf_get_module_main_conf(cf, pt_http_charset_filter_module);
    src = add_charset(cf, &a[1]);
    dst = add_charset(cf, &a[2]);
    if (src == PT_ERROR || dst == PT_ERROR) {
        return PT_CONF_ERROR;
    }
    if (src == dst) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "\"charset_map\" between the "
                          "same charsets \"%.*s\" and \"%.*s\"",
                          (int) a[1].len, a[1].data, (int) a[2].len,
                          a[2].data);
        return PT_CONF_ERROR;
    }
    if (have_map(mcf, src, dst)) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "duplicate \"charset_map\" "
                          "between \"%.*s\" and \"%.*s\"",
                          (int) a[1].len, a[1].data, (int) a[2].len,
                          a[2].data);
        return PT_CONF_ERROR;
    }
    for (n = cf->node->children; n != NULL; n = n->next) {
        if (check_map_line(cf, n, to_utf8) != PT_OK) {
            return PT_CONF_ERROR;
        }
    }
    p = pt_array_push(&mcf->maps);
    if (p == NULL) {
        return PT_CONF_ERROR;
    }
    p->src = src;
    p->dst = dst;
    pt_conf_log_error(PT_LOG_NOTICE, cf, 0, "\"charset_map\" is accepted but "
                      "portico does not convert charsets");
    return PT_CONF_OK;
}

/* Every static charset/source_charset pair needs a charset_map, as in
 * nginx; a pair that has one is served unconverted (noticed once). */
static int
postconfiguration(pt_conf_t *cf)
{
    charset_main_conf_t *mcf;
    charset_pair_t      *p;
    pt_str_t            *names;
    pt_uint_t            i;

    mcf = pt_http_conf_get_module_main_conf(cf, pt_http_charset_filter_module);
    names = mcf->names.elts;
    p = mcf->recodes.elts;
    for (i = 0; i < mcf->recodes.nelts; i++) {
        if (!have_map(mcf, p[i].src, p[i].dst)) {
            pt_log_error(PT_LOG_EMERG, cf->log, 0, "no \"charset_map\" "
                         "between the charsets \"%.*s\" and \"%.*s\"",
                         (int) names[p[i].src].len, names[p[i].src].data,
                         (int) names[p[i].dst].len, names[p[i].dst].data);
            return PT_ERROR;
        }
    }
    if (mcf->recodes.nelts > 0) {
        pt_log_error(PT_LOG_NOTICE, cf->log, 0, "portico does not convert "
                     "charsets: responses in \"%.*s\" keep that charset "
                     "instead of \"%.*s\"",
                     (int) names[p[0].src].len, names[p[0].src].data,
                     (int) names[p[0].dst].len, names[p[0].dst].data);
    }
    next_header_filter = pt_http_top_header_filter;
    pt_http_top_header_filter = header_filter;
    return PT_OK;
}

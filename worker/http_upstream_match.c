/*
 * `match NAME { status ...; header ...; body ...; }` blocks for active
 * health checks: parsing the conditions and testing a probe's response
 * (status line, header lines and the body bytes read) against them.
 */
#include <string.h>

#include "common/log.h"
#include "common/pool.h"
#include "common/regex.h"
#include "http_upstream_health.h"

/* header and body tests */
#define OP_EXISTS   0   /* header NAME */
#define OP_ABSENT   1   /* header ! NAME */
#define OP_EQ       2   /* = */
#define OP_NE       3   /* != */
#define OP_RE       4   /* ~ */
#define OP_NRE      5   /* !~ */

typedef struct {
    pt_uint_t   lo, hi;
} status_range_t;

typedef struct {
    pt_str_t     name;      /* header name; empty for the body */
    pt_uint_t    op;
    pt_str_t     value;
    pt_regex_t  *re;
} match_test_t;

struct pt_http_upstream_match_s {
    pt_str_t     name;
    pt_array_t  *status;        /* status_range_t; NULL: any */
    unsigned     status_not:1;
    pt_array_t   tests;         /* match_test_t */
};

/* ------------------------------------------------------------ parsing */

static int
parse_status(pt_conf_t *cf, pt_http_upstream_match_t *m)
{
    status_range_t *sr;
    pt_str_t       *a = cf->node->args;
    pt_uint_t       i = 1;
    u_char         *dash;
    pt_int_t        lo, hi;

    if (m->status == NULL) {
        m->status = pt_array_create(cf->pool, 2, sizeof(status_range_t));
        if (m->status == NULL) {
            return PT_ERROR;
        }
    }
    if (cf->node->nargs > 1 && pt_str_eq_cstr(&a[1], "!")) {
        m->status_not = 1;
        i++;
    }
    if (i >= cf->node->nargs) {
        goto invalid;
    }
    for (; i < cf->node->nargs; i++) {
        dash = memchr(a[i].data, '-', a[i].len);
        lo = pt_atoi(a[i].data, dash ? (size_t) (dash - a[i].data) : a[i].len);
        hi = dash ? pt_atoi(dash + 1, a[i].len - (size_t) (dash + 1 - a[i].data))
                  : lo;
        if (lo < 100 || hi > 999 || hi < lo) {
            goto invalid;
        }
        sr = pt_array_push(m->status);
        if (sr == NULL) {
            return PT_ERROR;
        }
        sr->lo = (pt_uint_t) lo;
        sr->hi = (pt_uint_t) hi;
    }
    return PT_OK;
invalid:
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid parameter \"%.*s\"",
                      (int) (i < cf->node->nargs ? a[i].len : a[0].len),
                      i < cf->node->nargs ? a[i].data : a[0].data);
    return PT_ERROR;
}

static int
parse_op(const pt_str_t *s, pt_uint_t *op)
{
    static const char *ops[] = { "", "", "=", "!=", "~", "!~" };
    pt_uint_t          i;

    for (i = OP_EQ; i <= OP_NRE; i++) {
        if (pt_str_eq_cstr(s, ops[i])) {
            *op = i;
            return PT_OK;
        }
    }
    return PT_ERROR;
}

/* header NAME | header ! NAME | header NAME OP VALUE | body OP VALUE */
static int
parse_test(pt_conf_t *cf, pt_http_upstream_match_t *m, int body)
{
    match_test_t *t;
    pt_str_t     *a = cf->node->args;
    pt_uint_t     n = cf->node->nargs;
    u_char        err[256];

    t = pt_array_push(&m->tests);
    if (t == NULL) {
        return PT_ERROR;
    }
    memset(t, 0, sizeof(*t));
    if (body) {
        if (n != 3 || parse_op(&a[1], &t->op) != PT_OK || t->op < OP_RE) {
            goto invalid;
        }
        t->value = a[2];
    } else if (n == 2) {
        t->name = a[1];
        t->op = OP_EXISTS;
    } else if (n == 3 && pt_str_eq_cstr(&a[1], "!")) {
        t->name = a[2];
        t->op = OP_ABSENT;
    } else if (n == 4 && parse_op(&a[2], &t->op) == PT_OK) {
        t->name = a[1];
        t->value = a[3];
    } else {
        goto invalid;
    }
    if (t->op == OP_RE || t->op == OP_NRE) {
        t->re = pt_pcalloc(cf->pool, sizeof(pt_regex_t));
        if (t->re == NULL) {
            return PT_ERROR;
        }
        if (pt_regex_compile(cf->pool, t->re, &t->value, 0, err, sizeof(err))
            != PT_OK)
        {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "%s", (char *) err);
            return PT_ERROR;
        }
    }
    return PT_OK;
invalid:
    pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                      "invalid number of arguments in \"%.*s\" directive",
                      (int) a[0].len, a[0].data);
    return PT_ERROR;
}

char *
pt_http_upstream_match_block(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_upstream_health_main_conf_t *hmcf = conf;
    pt_http_upstream_match_t            *m, **mp;
    pt_conf_node_t                      *block = cf->node, *n;
    int                                  rc = PT_OK;

    (void) cmd;
    if (pt_http_upstream_match_find(hmcf, &cf->args[1]) != NULL) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "duplicate match \"%.*s\"",
                          (int) cf->args[1].len, cf->args[1].data);
        return PT_CONF_ERROR;
    }
    m = pt_pcalloc(cf->pool, sizeof(*m));
    mp = pt_array_push(&hmcf->matches);
    if (m == NULL || mp == NULL
        || pt_array_init(&m->tests, cf->pool, 2, sizeof(match_test_t))
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    m->name = cf->args[1];
    *mp = m;

    for (n = block->children; n != NULL && rc == PT_OK; n = n->next) {
        cf->node = n;
        if (n->block) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0,
                              "directive \"%.*s\" is not terminated by \";\"",
                              (int) n->args[0].len, n->args[0].data);
            rc = PT_ERROR;
        } else if (pt_str_eq_cstr(&n->args[0], "status")) {
            rc = parse_status(cf, m);
        } else if (pt_str_eq_cstr(&n->args[0], "header")
                   || pt_str_eq_cstr(&n->args[0], "body"))
        {
            rc = parse_test(cf, m, n->args[0].data[0] == 'b');
        } else {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unknown directive "
                              "\"%.*s\"", (int) n->args[0].len,
                              n->args[0].data);
            rc = PT_ERROR;
        }
    }
    cf->node = block;
    return rc == PT_OK ? PT_CONF_OK : PT_CONF_ERROR;
}

pt_http_upstream_match_t *
pt_http_upstream_match_find(pt_http_upstream_health_main_conf_t *hmcf,
                            const pt_str_t *name)
{
    pt_http_upstream_match_t **m = hmcf->matches.elts;
    pt_uint_t                  i;

    for (i = 0; i < hmcf->matches.nelts; i++) {
        if (pt_str_eq(&m[i]->name, name)) {
            return m[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ testing */

static int
test_value(match_test_t *t, const u_char *v, size_t len)
{
    int rc;

    switch (t->op) {
    case OP_EQ:
    case OP_NE:
        rc = len == t->value.len && memcmp(v, t->value.data, len) == 0;
        return t->op == OP_EQ ? rc : !rc;
    default:
        rc = pt_regex_exec(t->re, v, len, NULL, 0);
        if (rc == PT_ERROR) {
            return 0;
        }
        return t->op == OP_RE ? rc >= 0 : rc == PT_DECLINED;
    }
}

/* The value of header `name` in the header lines [p, end), or NULL. */
static const u_char *
header_value(const u_char *p, const u_char *end, const pt_str_t *name,
             size_t *len)
{
    const u_char *eol, *colon, *v;

    for (; p < end; p = eol + 1) {
        eol = memchr(p, '\n', (size_t) (end - p));
        if (eol == NULL) {
            eol = end;
        }
        colon = memchr(p, ':', (size_t) (eol - p));
        if (colon == NULL || (size_t) (colon - p) != name->len
            || pt_strncasecmp(p, name->data, name->len) != 0)
        {
            continue;
        }
        for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++) {
        }
        *len = (size_t) (eol - v);
        while (*len > 0 && (v[*len - 1] == '\r' || v[*len - 1] == ' ')) {
            (*len)--;
        }
        return v;
    }
    return NULL;
}

static int
status_ok(pt_http_upstream_match_t *m, pt_uint_t status)
{
    status_range_t *sr;
    pt_uint_t       i;
    int             in = 0;

    if (m == NULL || m->status == NULL) {
        /* no status condition: 2xx and 3xx are good, as nginx */
        return m != NULL || (status >= 200 && status < 400);
    }
    sr = m->status->elts;
    for (i = 0; i < m->status->nelts && !in; i++) {
        in = status >= sr[i].lo && status <= sr[i].hi;
    }
    return m->status_not ? !in : in;
}

int
pt_http_upstream_match_test(pt_http_upstream_match_t *m, const u_char *resp,
                            size_t len)
{
    const u_char *end = resp + len, *hdr, *body, *v;
    match_test_t *t;
    pt_int_t      status;
    size_t        vlen;
    pt_uint_t     i;

    /* "HTTP/1.x SSS ..." then headers up to the blank line */
    if (len < 12 || memcmp(resp, "HTTP/", 5) != 0 || resp[8] != ' ') {
        return 0;
    }
    status = pt_atoi(resp + 9, 3);
    hdr = memchr(resp, '\n', len);
    body = memmem(resp, len, "\r\n\r\n", 4);
    if (status == PT_ERROR || hdr == NULL || body == NULL) {
        return 0;
    }
    hdr++;
    body += 4;
    if (!status_ok(m, (pt_uint_t) status)) {
        return 0;
    }
    if (m == NULL) {
        return 1;
    }
    t = m->tests.elts;
    for (i = 0; i < m->tests.nelts; i++) {
        if (t[i].name.len == 0) {
            if (!test_value(&t[i], body, (size_t) (end - body))) {
                return 0;
            }
            continue;
        }
        v = header_value(hdr, body, &t[i].name, &vlen);
        if (t[i].op == OP_EXISTS || t[i].op == OP_ABSENT) {
            if ((v != NULL) != (t[i].op == OP_EXISTS)) {
                return 0;
            }
            continue;
        }
        if (v == NULL || !test_value(&t[i], v, vlen)) {
            return 0;
        }
    }
    return 1;
}

/*
 * The map module: "map SOURCE $var { ... }" defines $var, evaluated when
 * first read: the source is looked up among exact keys (any case), then,
 * with "hostnames", "*.example.com"/".example.com" and "www.example.*"
 * wildcards, then regexes in order; else the default (empty if none).
 */
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "http_core.h"
#include "http_request.h"
#include "http_script.h"
#include "http_variables.h"

typedef struct {
    pt_int_t  hash_max_size;      /* map_hash_max_size: accepted, unused */
    pt_int_t  hash_bucket_size;   /* map_hash_bucket_size: the same */
} map_main_conf_t;

/* A value: text as is, or a complex value when it has variables. */
typedef struct {
    pt_str_t                  text;
    pt_http_complex_value_t  *cv;
} map_value_t;

typedef struct {
    pt_str_t         key;          /* lowercase; wildcards without "*." or
                                      "." or ".*" */
    map_value_t     *value;
    pt_str_t         name;         /* the key as declared, lowercase */
    pt_conf_node_t  *node;         /* where it was declared (messages) */
    pt_uint_t        seq;          /* declaration order in the block */
    unsigned         with_domain:1; /* ".example.com": example.com too */
} map_key_t;

typedef struct {
    pt_http_regex_t  regex;
    map_value_t     *value;
} map_regex_t;

typedef struct {
    pt_http_complex_value_t  source;
    map_key_t               *exact;     /* sorted: binary search */
    pt_uint_t                nexact;
    map_key_t               *head;      /* "*.example.com", ".example.com" */
    pt_uint_t                nhead;
    map_key_t               *tail;      /* "www.example.*" */
    pt_uint_t                ntail;
    map_regex_t             *regexes;   /* in declaration order */
    pt_uint_t                nregexes;
    map_value_t             *default_value;  /* NULL: empty */
    unsigned                 hostnames:1;
    unsigned                 no_cacheable:1; /* "volatile" */
} map_t;

/* The keys while the block is read. */
typedef struct {
    pt_array_t  exact, head, tail, regexes;
    pt_uint_t   nkeys;
} map_build_t;

static void *create_main_conf(pt_conf_t *cf);
static char *set_map(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_command_t map_commands[] = {
    { "map", PT_CONF_HTTP | PT_CONF_BLOCK | PT_CONF_TAKE2, set_map,
      PT_CONF_MAIN_OFFSET, 0, NULL },
    { "map_hash_max_size", PT_CONF_HTTP | PT_CONF_TAKE1, pt_conf_set_num,
      PT_CONF_MAIN_OFFSET, offsetof(map_main_conf_t, hash_max_size), NULL },
    { "map_hash_bucket_size", PT_CONF_HTTP | PT_CONF_TAKE1, pt_conf_set_num,
      PT_CONF_MAIN_OFFSET, offsetof(map_main_conf_t, hash_bucket_size),
      NULL },
    pt_null_command
};

pt_module_t pt_http_map_module = {
    "http_map", map_commands,
    create_main_conf, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

static void *
create_main_conf(pt_conf_t *cf)
{
    map_main_conf_t *mcf = pt_pcalloc(cf->pool, sizeof(*mcf));

    if (mcf != NULL) {
        mcf->hash_max_size = PT_CONF_UNSET;
        mcf->hash_bucket_size = PT_CONF_UNSET;
    }
    return mcf;
}

/* ------------------------------------------------------------------ */
/* Keys                                                                */

static int
key_cmp(const pt_str_t *a, const pt_str_t *b)
{
    int rc = memcmp(a->data, b->data, pt_min(a->len, b->len));

    if (rc != 0) {
        return rc;
    }
    return a->len < b->len ? -1 : a->len > b->len;
}

static int
key_sort(const void *a, const void *b)
{
    const map_key_t *x = a, *y = b;
    int              rc = key_cmp(&x->key, &y->key);

    /* equal keys stay in declaration order: the second is the conflict */
    if (rc == 0) {
        return x->seq < y->seq ? -1 : x->seq > y->seq;
    }
    return rc;
}

/* The key equal to s[0..len) in a sorted array, or NULL. */
static map_key_t *
key_find(map_key_t *keys, pt_uint_t n, const u_char *s, size_t len)
{
    pt_str_t   want;
    pt_uint_t  lo = 0, hi = n, mid;
    int        rc;

    want.data = (u_char *) s;
    want.len = len;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rc = key_cmp(&want, &keys[mid].key);
        if (rc == 0) {
            return &keys[mid];
        }
        if (rc < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

#define KEY_EXACT  0
#define KEY_HEAD   1   /* "*.example.com", ".example.com" */
#define KEY_TAIL   2   /* "www.example.*" */

/* The kind of a "hostnames" key, nginx's rules: one "*" at most, no
 * "..", and a "*" only as "*." in front or ".*" at the end. *key is cut
 * to the part that is matched. PT_ERROR for an invalid key. */
static int
wildcard_kind(pt_str_t *key, int *with_domain)
{
    pt_uint_t i, stars = 0;

    *with_domain = 0;
    for (i = 0; i < key->len; i++) {
        if (key->data[i] == '*' && ++stars > 1) {
            return PT_ERROR;
        }
        if ((key->data[i] == '.' && i + 1 < key->len
             && key->data[i + 1] == '.') || key->data[i] == '\0')
        {
            return PT_ERROR;
        }
    }
    if (key->len > 1 && key->data[0] == '.') {
        *with_domain = 1;
        key->data++;
        key->len--;
        return KEY_HEAD;
    }
    if (key->len > 2 && key->data[0] == '*' && key->data[1] == '.') {
        key->data += 2;
        key->len -= 2;
        return KEY_HEAD;
    }
    if (key->len > 2 && key->data[key->len - 2] == '.'
        && key->data[key->len - 1] == '*')
    {
        key->len -= 2;
        return KEY_TAIL;
    }
    return stars ? PT_ERROR : KEY_EXACT;
}

/* "conflicting parameter", named as the later of the two was declared. */
static int
conflict(pt_conf_t *cf, map_key_t *a, map_key_t *b)
{
    map_key_t *later = a->seq > b->seq ? a : b;

    cf->node = later->node;
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "conflicting parameter \"%.*s\"",
                      (int) later->name.len, later->name.data);
    return PT_ERROR;
}

/* Sort keys and refuse a second one equal to another. */
static int
sort_keys(pt_conf_t *cf, pt_array_t *a)
{
    map_key_t *k = a->elts;
    pt_uint_t  i;

    if (a->nelts > 1) {
        qsort(k, a->nelts, sizeof(map_key_t), key_sort);
    }
    for (i = 1; i < a->nelts; i++) {
        if (key_cmp(&k[i].key, &k[i - 1].key) == 0) {
            return conflict(cf, &k[i], &k[i - 1]);
        }
    }
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* The block                                                           */

static map_value_t *
compile_value(pt_conf_t *cf, pt_str_t *v)
{
    map_value_t *mv = pt_pcalloc(cf->pool, sizeof(*mv));

    if (mv == NULL) {
        return NULL;
    }
    mv->text = *v;
    if (memchr(v->data, '$', v->len) == NULL) {
        return mv;
    }
    mv->cv = pt_palloc(cf->pool, sizeof(pt_http_complex_value_t));
    if (mv->cv == NULL
        || pt_http_compile_complex_value(cf, v, mv->cv) != PT_OK)
    {
        return NULL;
    }
    return mv;
}

static int
add_regex(pt_conf_t *cf, map_build_t *b, pt_str_t *key, map_value_t *mv)
{
    map_regex_t *re = pt_array_push(&b->regexes);
    pt_str_t     pattern = *key;
    int          caseless = 0;

    if (re == NULL) {
        return PT_ERROR;
    }
    pattern.data++;
    pattern.len--;
    if (pattern.len > 0 && pattern.data[0] == '*') {
        pattern.data++;
        pattern.len--;
        caseless = 1;
    }
    re->value = mv;
    return pt_http_regex_compile(cf, &re->regex, &pattern, caseless);
}

static int
add_key(pt_conf_t *cf, map_t *map, map_build_t *b, pt_str_t *key,
        map_value_t *mv)
{
    pt_str_t    k = *key, name;
    map_key_t  *mk;
    pt_array_t *a = &b->exact;
    int         kind = KEY_EXACT, with_domain = 0;
    size_t      i;

    if (k.len > 0 && k.data[0] == '\\') {
        k.data++;
        k.len--;
    }
    name = k;
    if (map->hostnames) {
        kind = wildcard_kind(&k, &with_domain);
        if (kind == PT_ERROR) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid hostname or "
                              "wildcard \"%.*s\"", (int) key->len,
                              key->data);
            return PT_ERROR;
        }
        a = kind == KEY_HEAD ? &b->head : kind == KEY_TAIL ? &b->tail : a;
    }
    mk = pt_array_push(a);
    if (mk == NULL) {
        return PT_ERROR;
    }
    mk->name.data = pt_pnalloc(cf->pool, name.len + 1);
    if (mk->name.data == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < name.len; i++) {
        mk->name.data[i] = pt_tolower(name.data[i]);
    }
    mk->name.len = name.len;
    /* the matched part is a slice of the lowercase name */
    mk->key.data = mk->name.data + (k.data - name.data);
    mk->key.len = k.len;
    mk->value = mv;
    mk->node = cf->node;
    mk->seq = b->nkeys++;
    mk->with_domain = with_domain;
    return PT_OK;
}

/* One line of the block: "KEY VALUE;", "hostnames;" or "volatile;". */
static int
map_entry(pt_conf_t *cf, map_t *map, map_build_t *b, pt_conf_node_t *node)
{
    pt_str_t    *a = node->args;
    map_value_t *mv;

    if (node->block) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "unexpected \"{\"");
        return PT_ERROR;
    }
    if (node->nargs == 1 && pt_str_eq_cstr(&a[0], "hostnames")) {
        map->hostnames = 1;
        return PT_OK;
    }
    if (node->nargs == 1 && pt_str_eq_cstr(&a[0], "volatile")) {
        map->no_cacheable = 1;
        return PT_OK;
    }
    if (node->nargs != 2) {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid number of the map "
                          "parameters");
        return PT_ERROR;
    }
    mv = compile_value(cf, &a[1]);
    if (mv == NULL) {
        return PT_ERROR;
    }
    if (pt_str_eq_cstr(&a[0], "default")) {
        if (map->default_value != NULL) {
            pt_conf_log_error(PT_LOG_EMERG, cf, 0, "duplicate default map "
                              "parameter");
            return PT_ERROR;
        }
        map->default_value = mv;
        return PT_OK;
    }
    if (a[0].len > 0 && a[0].data[0] == '~') {
        return add_regex(cf, b, &a[0], mv);
    }
    return add_key(cf, map, b, &a[0], mv);
}

/* Sort the keys, check conflicts and move everything into the map. */
static int
map_finish(pt_conf_t *cf, map_t *map, map_build_t *b)
{
    map_key_t *h, *e;
    pt_uint_t  i;

    if (sort_keys(cf, &b->exact) != PT_OK
        || sort_keys(cf, &b->head) != PT_OK
        || sort_keys(cf, &b->tail) != PT_OK)
    {
        return PT_ERROR;
    }
    map->exact = b->exact.elts;
    map->nexact = b->exact.nelts;
    map->head = b->head.elts;
    map->nhead = b->head.nelts;
    map->tail = b->tail.elts;
    map->ntail = b->tail.nelts;
    map->regexes = b->regexes.elts;
    map->nregexes = b->regexes.nelts;

    /* ".example.com" also stands for the exact "example.com" */
    h = map->head;
    for (i = 0; i < map->nhead; i++) {
        e = h[i].with_domain ? key_find(map->exact, map->nexact,
                                        h[i].key.data, h[i].key.len)
                             : NULL;
        if (e != NULL) {
            return conflict(cf, &h[i], e);
        }
    }
    return PT_OK;
}

/* ------------------------------------------------------------------ */
/* Lookup                                                              */

/* A head wildcard for the lowercase name: ".name" itself, then the
 * longest suffix after a dot ("*.b.example.com" before "*.example.com"). */
static map_key_t *
find_head(map_t *map, const u_char *name, size_t len)
{
    map_key_t *k;
    size_t     i;

    k = key_find(map->head, map->nhead, name, len);
    if (k != NULL && k->with_domain) {
        return k;
    }
    for (i = 0; i < len; i++) {
        if (name[i] != '.') {
            continue;
        }
        k = key_find(map->head, map->nhead, name + i + 1, len - i - 1);
        if (k != NULL) {
            return k;
        }
    }
    return NULL;
}

/* A tail wildcard: the longest prefix before a dot ("www.example.*"). */
static map_key_t *
find_tail(map_t *map, const u_char *name, size_t len)
{
    map_key_t *k;
    size_t     i;

    for (i = len; i-- > 0;) {
        if (name[i] != '.') {
            continue;
        }
        k = key_find(map->tail, map->ntail, name, i);
        if (k != NULL) {
            return k;
        }
    }
    return NULL;
}

/* The value `s` selects, NULL for the default; *err on a failure. */
static map_value_t *
map_find(pt_http_request_t *r, map_t *map, pt_str_t *s, int *err)
{
    map_key_t *k;
    u_char    *low;
    pt_uint_t  i;
    int        rc;

    *err = 0;
    low = pt_pnalloc(r->pool, s->len ? s->len : 1);
    if (low == NULL) {
        *err = 1;
        return NULL;
    }
    for (i = 0; i < s->len; i++) {
        low[i] = pt_tolower(s->data[i]);
    }
    k = key_find(map->exact, map->nexact, low, s->len);
    if (k == NULL && map->nhead > 0) {
        k = find_head(map, low, s->len);
    }
    if (k == NULL && map->ntail > 0) {
        k = find_tail(map, low, s->len);
    }
    if (k != NULL) {
        return k->value;
    }
    /* nginx tries no regex on an empty source */
    for (i = 0; s->len > 0 && i < map->nregexes; i++) {
        rc = pt_http_regex_exec(r, &map->regexes[i].regex, s);
        if (rc == PT_OK) {
            return map->regexes[i].value;
        }
        if (rc == PT_ERROR) {
            return NULL;   /* the default, as nginx */
        }
    }
    return NULL;
}

/* $var of a map. */
static int
map_variable(pt_http_request_t *r, pt_http_variable_value_t *v,
             uintptr_t data)
{
    map_t       *map = (map_t *) data;
    map_value_t *mv;
    pt_str_t     src, val;
    int          err;

    if (pt_http_complex_value(r, &map->source, &src) != PT_OK) {
        return PT_ERROR;
    }
    if (map->hostnames && src.len > 0 && src.data[src.len - 1] == '.') {
        src.len--;
    }
    mv = map_find(r, map, &src, &err);
    if (err) {
        return PT_ERROR;
    }
    if (mv == NULL) {
        mv = map->default_value;
    }
    val.data = (u_char *) "";
    val.len = 0;
    if (mv != NULL && mv->cv != NULL) {
        if (pt_http_complex_value(r, mv->cv, &val) != PT_OK) {
            return PT_ERROR;
        }
    } else if (mv != NULL) {
        val = mv->text;
    }
    v->data = val.data;
    v->len = (unsigned) val.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return PT_OK;
}

/* map SOURCE $VARIABLE { ... } */
static char *
set_map(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_conf_node_t     *node, *saved = cf->node;
    pt_http_variable_t *var;
    map_build_t         b;
    pt_str_t            name = cf->args[2];
    map_t              *map;
    int                 rc = PT_OK;

    map = pt_pcalloc(cf->pool, sizeof(*map));
    if (map == NULL
        || pt_http_compile_complex_value(cf, &cf->args[1], &map->source)
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }
    if (name.len == 0 || name.data[0] != '$') {
        pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid variable name "
                          "\"%.*s\"", (int) name.len, name.data);
        return PT_CONF_ERROR;
    }
    name.data++;
    name.len--;
    var = pt_http_add_variable(cf, &name, PT_HTTP_VAR_CHANGEABLE);
    if (var == NULL) {
        return PT_CONF_ERROR;
    }
    b.nkeys = 0;
    if (pt_array_init(&b.exact, cf->pool, 8, sizeof(map_key_t)) != PT_OK
        || pt_array_init(&b.head, cf->pool, 2, sizeof(map_key_t)) != PT_OK
        || pt_array_init(&b.tail, cf->pool, 2, sizeof(map_key_t)) != PT_OK
        || pt_array_init(&b.regexes, cf->pool, 2, sizeof(map_regex_t))
           != PT_OK)
    {
        return PT_CONF_ERROR;
    }

    /* messages name the line of the block they are about */
    for (node = saved->children; node != NULL && rc == PT_OK;
         node = node->next)
    {
        cf->node = node;
        rc = map_entry(cf, map, &b, node);
    }
    if (rc == PT_OK) {
        rc = map_finish(cf, map, &b);
    }
    cf->node = saved;
    if (rc != PT_OK) {
        return PT_CONF_ERROR;
    }

    var->get_handler = map_variable;
    var->data = (uintptr_t) map;
    if (map->no_cacheable) {
        var->flags |= PT_HTTP_VAR_NOCACHEABLE;
    }
    return PT_CONF_OK;
}

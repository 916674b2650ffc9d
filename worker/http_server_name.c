/*
 * Server names of one address: three hash tables (exact names, the suffix
 * of "*.x"/".x", the prefix of "x.*") probed label by label from the
 * longest candidate, then regexes in the order they were added.
 */
#include <string.h>

#include "common/array.h"
#include "common/pool.h"
#include "common/regex.h"
#include "common/str.h"
#include "worker/http_server_name.h"

typedef struct {
    pt_str_t   name;        /* data NULL: free slot */
    void      *server;
    uint32_t   hash;
} entry_t;

/* Open addressing, linear probing, power-of-two size, at most half full.
 * Growing leaves the old slots in the pool (config time only). */
typedef struct {
    entry_t   *slots;
    pt_uint_t  size;
    pt_uint_t  n;
} table_t;

typedef struct {
    pt_regex_t  *re;
    void        *server;
} regex_name_t;

struct pt_http_server_names_s {
    pt_pool_t   *pool;
    table_t      exact;     /* "example.com", and "example.com" of ".x" */
    table_t      head;      /* "example.com" of "*.example.com", ".x" */
    table_t      tail;      /* "www.example" of "www.example.*" */
    pt_array_t   regexes;   /* regex_name_t, in order added */
};

static uint32_t
hash_bytes(const u_char *p, size_t len)
{
    uint32_t h = 2166136261u;     /* FNV-1a */

    while (len--) {
        h ^= *p++;
        h *= 16777619u;
    }
    return h;
}

static entry_t *
table_lookup(const table_t *t, const u_char *name, size_t len, uint32_t hash)
{
    pt_uint_t i, mask;
    entry_t  *e;

    if (t->n == 0) {
        return NULL;
    }
    mask = t->size - 1;
    for (i = hash & mask;; i = (i + 1) & mask) {
        e = &t->slots[i];
        if (e->name.data == NULL) {
            return NULL;
        }
        if (e->hash == hash && e->name.len == len
            && (len == 0 || memcmp(e->name.data, name, len) == 0))
        {
            return e;
        }
    }
}

static entry_t *
table_find(const table_t *t, const u_char *name, size_t len)
{
    return table_lookup(t, name, len, hash_bytes(name, len));
}

static void
table_put(table_t *t, const entry_t *src)
{
    pt_uint_t i, mask = t->size - 1;

    for (i = src->hash & mask; t->slots[i].name.data != NULL;
         i = (i + 1) & mask)
    {
        /* void */
    }
    t->slots[i] = *src;
    t->n++;
}

/* Add name (pool memory, not already present); PT_ERROR on no memory. */
static int
table_add(pt_pool_t *pool, table_t *t, const pt_str_t *name, void *server)
{
    entry_t    e, *old = t->slots;
    pt_uint_t  i, oldsize = t->size;

    if (2 * (t->n + 1) > t->size) {
        t->size = oldsize ? 2 * oldsize : 16;
        t->slots = pt_pcalloc(pool, t->size * sizeof(entry_t));
        if (t->slots == NULL) {
            return PT_ERROR;
        }
        t->n = 0;
        for (i = 0; i < oldsize; i++) {
            if (old[i].name.data != NULL) {
                table_put(t, &old[i]);
            }
        }
    }
    e.name = *name;
    e.server = server;
    e.hash = hash_bytes(name->data, name->len);
    table_put(t, &e);
    return PT_OK;
}

pt_http_server_names_t *
pt_http_server_names_create(pt_pool_t *pool)
{
    pt_http_server_names_t *names;

    names = pt_pcalloc(pool, sizeof(pt_http_server_names_t));
    if (names == NULL
        || pt_array_init(&names->regexes, pool, 2, sizeof(regex_name_t))
           != PT_OK)
    {
        return NULL;
    }
    names->pool = pool;
    return names;
}

static int
add_regex(pt_http_server_names_t *names, const pt_str_t *name, void *server,
          u_char *err, size_t errlen)
{
    regex_name_t *rn;
    pt_str_t      src;

    if (name->len == 1) {
        pt_slprintf(err, err + errlen, "empty regex in server name \"%.*s\"",
                    (int) name->len, name->data);
        return PT_ERROR;
    }
    src.data = name->data + 1;
    src.len = name->len - 1;

    rn = pt_array_push(&names->regexes);
    if (rn == NULL) {
        goto nomem;
    }
    rn->server = server;
    rn->re = pt_palloc(names->pool, sizeof(pt_regex_t));
    if (rn->re == NULL) {
        names->regexes.nelts--;
        goto nomem;
    }
    if (pt_regex_compile(names->pool, rn->re, &src, 1, err, errlen)
        != PT_OK)
    {
        names->regexes.nelts--;
        return PT_ERROR;
    }
    return PT_OK;

nomem:
    pt_slprintf(err, err + errlen, "out of memory");
    return PT_ERROR;
}

/*
 * Which table a (lowercased) wildcard or exact name goes to, with the
 * key: 'e' exact, 'h' "*.x" head, 'd' ".x" (exact and head), 't' "x.*".
 * Returns 0 for an invalid name (a misplaced or second "*", "..", NUL).
 */
static int
classify(const pt_str_t *name, pt_str_t *key)
{
    size_t i, stars = 0;

    for (i = 0; i < name->len; i++) {
        if (name->data[i] == '*') {
            stars++;
        } else if (name->data[i] == '\0') {
            return 0;
        } else if (name->data[i] == '.' && i + 1 < name->len
                   && name->data[i + 1] == '.')
        {
            return 0;
        }
    }
    if (stars > 1) {
        return 0;
    }

    *key = *name;
    if (name->len > 1 && name->data[0] == '.') {
        key->data++;
        key->len--;
        return stars ? 0 : 'd';
    }
    if (name->len > 2 && name->data[0] == '*' && name->data[1] == '.') {
        key->data += 2;
        key->len -= 2;
        return 'h';
    }
    if (name->len > 2 && name->data[name->len - 2] == '.'
        && name->data[name->len - 1] == '*')
    {
        key->len -= 2;
        return 't';
    }
    return stars ? 0 : 'e';
}

int
pt_http_server_names_add(pt_http_server_names_t *names, const pt_str_t *name,
                         void *server, u_char *err, size_t errlen)
{
    pt_str_t   low, key;
    size_t     i;
    int        kind, rc = PT_OK;

    if (errlen) {
        err[0] = '\0';
    }
    if (name->len && name->data[0] == '~') {
        return add_regex(names, name, server, err, errlen);
    }
    if (name->len
        && ((name->data[0] == '*' && (name->len < 3 || name->data[1] != '.'))
            || (name->data[0] == '.' && name->len < 2)))
    {
        pt_slprintf(err, err + errlen, "server name \"%.*s\" is invalid",
                    (int) name->len, name->data);
        return PT_ERROR;
    }

    low.len = name->len;
    low.data = pt_pnalloc(names->pool, name->len + 1);
    if (low.data == NULL) {
        pt_slprintf(err, err + errlen, "out of memory");
        return PT_ERROR;
    }
    for (i = 0; i < name->len; i++) {
        low.data[i] = pt_tolower(name->data[i]);
    }
    low.data[name->len] = '\0';

    kind = classify(&low, &key);
    if (kind == 0) {
        pt_slprintf(err, err + errlen,
                    "invalid server name or wildcard \"%.*s\"",
                    (int) low.len, low.data);
        return PT_ERROR;
    }

    /* Check every table the name goes to before adding to any. */
    if (((kind == 'e' || kind == 'd')
         && table_find(&names->exact, key.data, key.len) != NULL)
        || ((kind == 'h' || kind == 'd')
            && table_find(&names->head, key.data, key.len) != NULL)
        || (kind == 't'
            && table_find(&names->tail, key.data, key.len) != NULL))
    {
        pt_slprintf(err, err + errlen, "conflicting server name \"%.*s\"",
                    (int) low.len, low.data);
        return PT_DECLINED;
    }

    if (kind == 'e' || kind == 'd') {
        rc = table_add(names->pool, &names->exact, &key, server);
    }
    if (rc == PT_OK && (kind == 'h' || kind == 'd')) {
        rc = table_add(names->pool, &names->head, &key, server);
    }
    if (rc == PT_OK && kind == 't') {
        rc = table_add(names->pool, &names->tail, &key, server);
    }
    if (rc != PT_OK) {
        pt_slprintf(err, err + errlen, "out of memory");
        return PT_ERROR;
    }

    if (memchr(low.data, '/', low.len) != NULL) {
        pt_slprintf(err, err + errlen,
                    "server name \"%.*s\" has suspicious symbols",
                    (int) low.len, low.data);
    }
    return PT_OK;
}

void *
pt_http_server_names_find(pt_http_server_names_t *names, const u_char *host,
                          size_t len, int *captures, pt_uint_t ncap,
                          pt_regex_t **matched_re)
{
    regex_name_t *rn;
    entry_t      *e;
    size_t        i;
    pt_uint_t     r;
    int           rc;

    if (matched_re != NULL) {
        *matched_re = NULL;
    }

    e = table_find(&names->exact, host, len);
    if (e != NULL) {
        return e->server;
    }

    /* "*.x": the longest suffix after a dot first, i.e. the first dot. */
    if (names->head.n) {
        for (i = 0; i < len; i++) {
            if (host[i] == '.') {
                e = table_find(&names->head, host + i + 1, len - i - 1);
                if (e != NULL) {
                    return e->server;
                }
            }
        }
    }

    /* "x.*": the longest prefix before a dot first, i.e. the last dot. */
    if (names->tail.n) {
        for (i = len; i-- > 0;) {
            if (host[i] == '.') {
                e = table_find(&names->tail, host, i);
                if (e != NULL) {
                    return e->server;
                }
            }
        }
    }

    if (len == 0) {
        return NULL;
    }
    rn = names->regexes.elts;
    for (r = 0; r < names->regexes.nelts; r++) {
        rc = pt_regex_exec(rn[r].re, host, len, captures,
                           captures != NULL ? ncap : 0);
        if (rc > 0) {
            if (matched_re != NULL) {
                *matched_re = rn[r].re;
            }
            return rn[r].server;
        }
    }
    return NULL;
}

ssize_t
pt_http_server_name_normalize(const u_char *host, size_t len, u_char *out)
{
    enum { usual, literal, rest } state = usual;
    size_t  i, hlen = len;
    u_char  ch;

    for (i = 0; i < len; i++) {
        ch = host[i];
        switch (ch) {
        case '.':
            if (i > 0 && host[i - 1] == '.') {
                return PT_ERROR;
            }
            break;
        case ':':
            if (state == usual) {
                hlen = i;
                state = rest;
            }
            break;
        case '[':
            if (i == 0) {
                state = literal;
            }
            break;
        case ']':
            if (state == literal) {
                hlen = i + 1;
                state = rest;
            }
            break;
        case '/':
        case '\\':
            return PT_ERROR;
        default:
            if (ch <= 0x20 || ch == 0x7f) {
                return PT_ERROR;
            }
            break;
        }
    }

    if (hlen > 0 && host[hlen - 1] == '.') {
        hlen--;
    }
    if (hlen == 0) {
        return PT_ERROR;
    }
    for (i = 0; i < hlen; i++) {
        out[i] = pt_tolower(host[i]);
    }
    return (ssize_t) hlen;
}

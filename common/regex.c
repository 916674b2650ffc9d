/*
 * PCRE2 wrapper: compile (optionally JIT) into pool-owned pt_regex_t with
 * its named-capture table, and match through one per-process match data
 * block that only grows, so matching in a worker never allocates.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <string.h>

#include "log.h"
#include "pool.h"
#include "regex.h"
#include "str.h"

int pt_regex_jit;

/*
 * The match data every pt_regex_exec uses, sized for the regex with the
 * most capture groups compiled so far (pairs, group 0 included). Allocated
 * by PCRE2 with malloc, it outlives every pool: it lives as long as the
 * process, is inherited by workers across fork, and is only replaced (old
 * one freed) when a regex needing more pairs is compiled or matched.
 */
static pcre2_match_data *match_data;
static uint32_t          match_pairs;

static void
code_free(void *data)
{
    pcre2_code_free(data);
}

static int
match_data_reserve(uint32_t pairs)
{
    pcre2_match_data *md;

    if (match_data != NULL && match_pairs >= pairs) {
        return PT_OK;
    }
    md = pcre2_match_data_create(pairs, NULL);
    if (md == NULL) {
        return PT_ERROR;
    }
    if (match_data != NULL) {
        pcre2_match_data_free(match_data);
    }
    match_data = md;
    match_pairs = pairs;
    return PT_OK;
}

/* Copy PCRE2's name table (entries of a 2-byte big-endian group number and
 * a NUL-terminated name, each `size` bytes) into re->names. */
static int
read_names(pt_pool_t *pool, pt_regex_t *re, pcre2_code *code)
{
    uint32_t     n, size, i;
    PCRE2_SPTR   table;
    size_t       len;

    if (pcre2_pattern_info(code, PCRE2_INFO_NAMECOUNT, &n) != 0
        || pcre2_pattern_info(code, PCRE2_INFO_NAMEENTRYSIZE, &size) != 0
        || pcre2_pattern_info(code, PCRE2_INFO_NAMETABLE, &table) != 0)
    {
        return PT_ERROR;
    }
    re->nnames = n;
    if (n == 0) {
        return PT_OK;
    }
    re->names = pt_palloc(pool, n * sizeof(pt_regex_name_t));
    if (re->names == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < n; i++) {
        const u_char *e = table + (size_t) i * size;
        pt_str_t      name;

        len = strnlen((const char *) e + 2, size - 2);
        name.len = len;
        name.data = (u_char *) e + 2;
        re->names[i].index = ((pt_uint_t) e[0] << 8) | e[1];
        re->names[i].name.len = len;
        re->names[i].name.data = pt_pstrdup(pool, &name);
        if (re->names[i].name.data == NULL) {
            return PT_ERROR;
        }
    }
    return PT_OK;
}

int
pt_regex_compile(pt_pool_t *pool, pt_regex_t *re, const pt_str_t *pattern,
                 int caseless, u_char *err, size_t errlen)
{
    pcre2_code        *code;
    pt_pool_cleanup_t *cln;
    PCRE2_SIZE         erroff;
    uint32_t           captures;
    u_char             msg[256];
    int                errcode, rc;

    memset(re, 0, sizeof(pt_regex_t));
    re->pattern.len = pattern->len;
    re->pattern.data = pt_pstrdup(pool, pattern);
    if (re->pattern.data == NULL) {
        goto nomem;
    }

    code = pcre2_compile(re->pattern.data, pattern->len,
                         caseless ? PCRE2_CASELESS : 0, &errcode, &erroff,
                         NULL);
    if (code == NULL) {
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0) {
            pt_slprintf(msg, msg + sizeof(msg), "error %d", errcode);
        }
        if (erroff >= pattern->len) {
            pt_slprintf(err, err + errlen,
                        "pcre2_compile() failed: %s in \"%s\"", msg,
                        re->pattern.data);
        } else {
            pt_slprintf(err, err + errlen,
                        "pcre2_compile() failed: %s in \"%s\" at \"%s\"",
                        msg, re->pattern.data, re->pattern.data + erroff);
        }
        return PT_ERROR;
    }

    cln = pt_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        pcre2_code_free(code);
        goto nomem;
    }
    cln->handler = code_free;
    cln->data = code;
    re->code = code;

    if (pt_regex_jit) {
        rc = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
        if (rc != 0) {
            pt_log_error(PT_LOG_WARN, pt_pool_log(pool), 0,
                         "pcre2_jit_compile() failed: %d in \"%s\", ignored",
                         rc, re->pattern.data);
        }
    }

    if (pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures) != 0) {
        pt_slprintf(err, err + errlen,
                    "pcre2_pattern_info() failed in \"%s\"", re->pattern.data);
        return PT_ERROR;
    }
    re->captures = captures;

    if (read_names(pool, re, code) != PT_OK
        || match_data_reserve(captures + 1) != PT_OK)
    {
        goto nomem;
    }
    return PT_OK;

nomem:
    pt_slprintf(err, err + errlen, "out of memory compiling regex \"%.*s\"",
                (int) pattern->len, pattern->data);
    return PT_ERROR;
}

int
pt_regex_exec(pt_regex_t *re, const u_char *s, size_t len, int *captures,
              pt_uint_t ncaptures)
{
    PCRE2_SIZE *ov;
    pt_uint_t   i, n;
    int         rc;

    /* Reserved at compile time; this only allocates if the regex was
     * compiled in a process that has not compiled it (never in practice). */
    if (match_data_reserve(re->captures + 1) != PT_OK) {
        return PT_ERROR;
    }

    rc = pcre2_match(re->code, s, len, 0, 0, match_data, NULL);
    if (rc == PCRE2_ERROR_NOMATCH) {
        return PT_DECLINED;
    }
    if (rc < 0) {
        return PT_ERROR;
    }
    if (rc == 0) {
        /* The ovector was too small: cannot happen with the reservation
         * above, but then every pair it holds is set. */
        rc = (int) pcre2_get_ovector_count(match_data);
    }

    ov = pcre2_get_ovector_pointer(match_data);
    n = pt_min(ncaptures, (pt_uint_t) pcre2_get_ovector_count(match_data));
    for (i = 0; i < n; i++) {
        if (i < (pt_uint_t) rc && ov[2 * i] != PCRE2_UNSET) {
            captures[2 * i] = (int) ov[2 * i];
            captures[2 * i + 1] = (int) ov[2 * i + 1];
        } else {
            captures[2 * i] = -1;
            captures[2 * i + 1] = -1;
        }
    }
    for (; i < ncaptures; i++) {
        captures[2 * i] = -1;
        captures[2 * i + 1] = -1;
    }
    return rc;
}

int
pt_regex_named(const pt_regex_t *re, const pt_str_t *name)
{
    pt_uint_t i;

    for (i = 0; i < re->nnames; i++) {
        if (pt_str_eq(&re->names[i].name, name)) {
            return (int) re->names[i].index;
        }
    }
    return -1;
}

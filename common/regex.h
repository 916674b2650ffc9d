/*
 * PCRE2 (8-bit) regular expressions: compiled into pool-owned descriptors,
 * matched through one per-process match block so a match never allocates.
 */
#ifndef PT_REGEX_H
#define PT_REGEX_H

#include "pt_types.h"
#include "str.h"

/* A named capture: (?<name>...) is capture pair `index`. */
typedef struct {
    pt_str_t   name;            /* NUL-terminated, in the regex's pool */
    pt_uint_t  index;
} pt_regex_name_t;

typedef struct {
    void             *code;     /* pcre2_code *, freed by a pool cleanup */
    pt_uint_t         captures; /* capture groups, not counting group 0 */
    pt_str_t          pattern;  /* NUL-terminated copy, for messages */
    pt_uint_t         nnames;
    pt_regex_name_t  *names;    /* sorted as PCRE2 sorts them (by name) */
} pt_regex_t;

/* Set from the main "pcre_jit" directive before regexes are compiled. */
extern int pt_regex_jit;

/* Compile `pattern` into `re`; everything it keeps lives in `pool`, the
 * compiled code is freed by a cleanup of `pool`. Returns PT_OK, or
 * PT_ERROR with nginx's wording in err, e.g.
 *   pcre2_compile() failed: missing closing parenthesis in "(abc"
 * A failed JIT compile is logged as a warning and the regex still works. */
int pt_regex_compile(pt_pool_t *pool, pt_regex_t *re, const pt_str_t *pattern,
                     int caseless, u_char *err, size_t errlen);

/* Match s[0..len). On a match returns the number of capture pairs the match
 * set (>= 1, group 0 included) and copies the first `ncaptures` pairs into
 * captures[0 .. 2*ncaptures) as start/end offsets, -1/-1 for unset groups.
 * Returns PT_DECLINED on no match, PT_ERROR on a matching error (e.g. a
 * limit was hit). */
int pt_regex_exec(pt_regex_t *re, const u_char *s, size_t len, int *captures,
                  pt_uint_t ncaptures);

/* The capture index of a named group, or -1. */
int pt_regex_named(const pt_regex_t *re, const pt_str_t *name);

#endif /* PT_REGEX_H */

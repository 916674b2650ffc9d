/*
 * Length-counted strings (not NUL-terminated unless said) and the number,
 * size and time parsers the config setters share.
 */
#ifndef PT_STR_H
#define PT_STR_H

#include <string.h>

#include "pt_types.h"

typedef struct {
    size_t  len;
    u_char *data;
} pt_str_t;

#define pt_string(s) { sizeof(s) - 1, (u_char *) (s) }
#define pt_null_string { 0, NULL }
#define pt_str_set(str, text)                                                 \
    do { (str)->len = sizeof(text) - 1; (str)->data = (u_char *) (text); }    \
    while (0)

#define pt_tolower(c) ((u_char) (((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c)))

/* Equal length and bytes. */
int pt_str_eq(const pt_str_t *a, const pt_str_t *b);
/* Equal to a C string. */
int pt_str_eq_cstr(const pt_str_t *a, const char *s);
int pt_strncasecmp(const u_char *a, const u_char *b, size_t n);

/* Copy into pool memory with a terminating NUL (not counted in len).
 * Returns NULL on allocation failure. */
u_char *pt_pstrdup(pt_pool_t *pool, const pt_str_t *src);
/* Same from a C string. */
int pt_str_from_cstr(pt_pool_t *pool, pt_str_t *dst, const char *src);

/* Parse a decimal non-negative integer; PT_ERROR on junk or overflow. */
pt_int_t pt_atoi(const u_char *p, size_t n);
/* "10", "10k", "10m", "1g" (nginx's sizes); PT_ERROR on junk/overflow. */
ssize_t pt_parse_size(const pt_str_t *s);
/* "1h 30m", "500ms", "10" (seconds by default in nginx when is_sec),
 * returns milliseconds (or seconds when is_sec); PT_ERROR on junk. */
pt_int_t pt_parse_time(const pt_str_t *s, int is_sec);

/* n in decimal (at least `width` digits, zero-padded) or lower-case hex
 * at p, which has room (20 bytes for any uint64_t); returns the end. For
 * the per-response numbers (status, Content-Length, chunk sizes), where
 * printf's cost showed. */
u_char *pt_put_uint(u_char *p, uint64_t n, size_t width);
u_char *pt_put_hex(u_char *p, uint64_t n);

/* snprintf into a bounded buffer; returns a pointer past the last byte
 * written (never past end). */
u_char *pt_slprintf(u_char *buf, u_char *end, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* PT_STR_H */

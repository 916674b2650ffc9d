/*
 * Counted-string helpers and the size/time/number parsers shared by config
 * setters (nginx's units: k/m/g sizes, ms/s/m/h/d/w/M/y times).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "pool.h"
#include "str.h"

int
pt_str_eq(const pt_str_t *a, const pt_str_t *b)
{
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

int
pt_str_eq_cstr(const pt_str_t *a, const char *s)
{
    size_t n = strlen(s);

    return a->len == n && memcmp(a->data, s, n) == 0;
}

int
pt_strncasecmp(const u_char *a, const u_char *b, size_t n)
{
    return strncasecmp((const char *) a, (const char *) b, n);
}

u_char *
pt_pstrdup(pt_pool_t *pool, const pt_str_t *src)
{
    u_char *d = pt_pnalloc(pool, src->len + 1);

    if (d == NULL) {
        return NULL;
    }
    if (src->len) {
        memcpy(d, src->data, src->len);
    }
    d[src->len] = '\0';
    return d;
}

int
pt_str_from_cstr(pt_pool_t *pool, pt_str_t *dst, const char *src)
{
    pt_str_t s;

    s.len = strlen(src);
    s.data = (u_char *) src;
    dst->data = pt_pstrdup(pool, &s);
    dst->len = s.len;
    return dst->data == NULL ? PT_ERROR : PT_OK;
}

pt_int_t
pt_atoi(const u_char *p, size_t n)
{
    pt_int_t v = 0;

    if (n == 0) {
        return PT_ERROR;
    }
    for (; n--; p++) {
        if (*p < '0' || *p > '9') {
            return PT_ERROR;
        }
        if (v > (PT_MAX_INT_T - (*p - '0')) / 10) {
            return PT_ERROR;
        }
        v = v * 10 + (*p - '0');
    }
    return v;
}

ssize_t
pt_parse_size(const pt_str_t *s)
{
    size_t   len = s->len;
    pt_int_t scale = 1, v;

    if (len == 0) {
        return PT_ERROR;
    }
    switch (s->data[len - 1]) {
    case 'k': case 'K': scale = 1024; len--; break;
    case 'm': case 'M': scale = 1024 * 1024; len--; break;
    case 'g': case 'G': scale = 1024 * 1024 * 1024; len--; break;
    default: break;
    }

    v = pt_atoi(s->data, len);
    if (v == PT_ERROR || v > PT_MAX_INT_T / scale) {
        return PT_ERROR;
    }
    return (ssize_t) (v * scale);
}

/* One "<number><unit>" term of a time value, in milliseconds. */
static pt_int_t
time_unit_ms(u_char unit, int ms_suffix, int is_sec, pt_int_t *scale)
{
    if (ms_suffix) {
        *scale = 1;
        return PT_OK;
    }
    switch (unit) {
    case 'y': *scale = 365LL * 24 * 3600 * 1000; break;
    case 'M': *scale = 30LL * 24 * 3600 * 1000; break;
    case 'w': *scale = 7LL * 24 * 3600 * 1000; break;
    case 'd': *scale = 24LL * 3600 * 1000; break;
    case 'h': *scale = 3600LL * 1000; break;
    case 'm': *scale = 60LL * 1000; break;
    case 's': *scale = 1000; break;
    case 0: *scale = is_sec ? 1000 : 1; break;
    default: return PT_ERROR;
    }
    return PT_OK;
}

pt_int_t
pt_parse_time(const pt_str_t *s, int is_sec)
{
    u_char   *p = s->data, *end = s->data + s->len;
    pt_int_t  total = 0, v, scale;
    int       ms, any = 0;

    while (p < end) {
        while (p < end && *p == ' ') {
            p++;
        }
        if (p == end) {
            break;
        }
        if (*p < '0' || *p > '9') {
            return PT_ERROR;
        }
        v = 0;
        while (p < end && *p >= '0' && *p <= '9') {
            if (v > (PT_MAX_INT_T - 9) / 10) {
                return PT_ERROR;
            }
            v = v * 10 + (*p++ - '0');
        }
        ms = (end - p >= 2 && p[0] == 'm' && p[1] == 's');
        if (time_unit_ms(p < end && *p != ' ' ? *p : 0, ms, is_sec, &scale)
            != PT_OK)
        {
            return PT_ERROR;
        }
        p += ms ? 2 : (p < end && *p != ' ');
        if (v > (PT_MAX_INT_T - total) / scale) {
            return PT_ERROR;
        }
        total += v * scale;
        any = 1;
    }

    if (!any) {
        return PT_ERROR;
    }
    return is_sec ? total / 1000 : total;
}

u_char *
pt_put_uint(u_char *p, uint64_t n, size_t width)
{
    u_char  tmp[20], *t = tmp + sizeof(tmp);
    size_t  len;

    do {
        *--t = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n != 0);
    len = (size_t) (tmp + sizeof(tmp) - t);
    for (; width > len && width <= sizeof(tmp); width--) {
        *p++ = '0';
    }
    memcpy(p, t, len);
    return p + len;
}

u_char *
pt_put_hex(u_char *p, uint64_t n)
{
    static const char digits[] = "0123456789abcdef";
    u_char  tmp[16], *t = tmp + sizeof(tmp);
    size_t  len;

    do {
        *--t = (u_char) digits[n & 0xf];
        n >>= 4;
    } while (n != 0);
    len = (size_t) (tmp + sizeof(tmp) - t);
    memcpy(p, t, len);
    return p + len;
}

u_char *
pt_slprintf(u_char *buf, u_char *end, const char *fmt, ...)
{
    va_list args;
    int     n;

    if (buf >= end) {
        return end;
    }
    va_start(args, fmt);
    n = vsnprintf((char *) buf, (size_t) (end - buf), fmt, args);
    va_end(args);
    if (n < 0) {
        return buf;
    }
    return (size_t) n >= (size_t) (end - buf) ? end - 1 : buf + n;
}

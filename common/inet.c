/*
 * Address parsing and printing for listen, upstream and access rules.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "inet.h"
#include "str.h"

static int
parse_port(const u_char *p, size_t n, in_port_t *port)
{
    pt_int_t v = pt_atoi(p, n);

    if (v == PT_ERROR || v < 1 || v > 65535) {
        return PT_ERROR;
    }
    *port = htons((uint16_t) v);
    return PT_OK;
}

static int
parse_unix(const pt_str_t *text, pt_addr_t *addr, const char **err)
{
    struct sockaddr_un *sun = (struct sockaddr_un *) &addr->sockaddr;
    size_t              n = text->len - 5;

    if (n == 0) {
        *err = "no path in the unix domain socket";
        return PT_ERROR;
    }
    if (n >= sizeof(sun->sun_path)) {
        *err = "too long path in the unix domain socket";
        return PT_ERROR;
    }
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, text->data + 5, n);
    addr->socklen = sizeof(struct sockaddr_un);
    return PT_OK;
}

static int
resolve_host(const char *host, in_port_t port, pt_addr_t *addr,
             const char **err)
{
    struct addrinfo  hints, *res;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) {
        *err = "host not found";
        return PT_ERROR;
    }
    memcpy(&addr->sockaddr, res->ai_addr, res->ai_addrlen);
    addr->socklen = res->ai_addrlen;
    if (res->ai_family == AF_INET) {
        ((struct sockaddr_in *) &addr->sockaddr)->sin_port = port;
    } else {
        ((struct sockaddr_in6 *) &addr->sockaddr)->sin6_port = port;
    }
    freeaddrinfo(res);
    return PT_OK;
}

int
pt_inet_parse_listen(const pt_str_t *text, pt_addr_t *addr, const char **err)
{
    struct sockaddr_in  *sin = (struct sockaddr_in *) &addr->sockaddr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &addr->sockaddr;
    char                 host[256];
    u_char              *p = text->data, *end = text->data + text->len, *colon;
    in_port_t            port;

    memset(addr, 0, sizeof(*addr));
    *err = "invalid address";

    if (text->len >= 5 && memcmp(p, "unix:", 5) == 0) {
        return parse_unix(text, addr, err);
    }

    if (text->len > 0 && p[0] == '[') {
        u_char *rb = memchr(p, ']', text->len);

        if (rb == NULL || rb - p - 1 >= (ptrdiff_t) sizeof(host)) {
            return PT_ERROR;
        }
        memcpy(host, p + 1, (size_t) (rb - p - 1));
        host[rb - p - 1] = '\0';
        port = htons(80);
        if (rb + 1 < end) {
            if (rb[1] != ':' || parse_port(rb + 2, (size_t) (end - rb - 2),
                                           &port) != PT_OK)
            {
                *err = "invalid port";
                return PT_ERROR;
            }
        }
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = port;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
            return PT_ERROR;
        }
        addr->socklen = sizeof(struct sockaddr_in6);
        return PT_OK;
    }

    colon = memrchr(p, ':', text->len);
    if (colon == NULL) {
        /* a bare port, or a bare host on the default port */
        if (parse_port(p, text->len, &port) == PT_OK) {
            sin->sin_family = AF_INET;
            sin->sin_port = port;
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
            addr->socklen = sizeof(struct sockaddr_in);
            return PT_OK;
        }
        colon = end;
        port = htons(80);
    } else if (parse_port(colon + 1, (size_t) (end - colon - 1), &port)
               != PT_OK)
    {
        *err = "invalid port";
        return PT_ERROR;
    }

    if (colon - p == 0 || colon - p >= (ptrdiff_t) sizeof(host)) {
        *err = colon - p == 0 ? "no host" : "invalid host";
        return PT_ERROR;
    }
    memcpy(host, p, (size_t) (colon - p));
    host[colon - p] = '\0';

    sin->sin_family = AF_INET;
    sin->sin_port = port;
    addr->socklen = sizeof(struct sockaddr_in);
    if (strcmp(host, "*") == 0) {
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        return PT_OK;
    }
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        return PT_OK;
    }
    return resolve_host(host, port, addr, err);
}

const char *
pt_inet_ntop(int family, const void *addr, char *buf, socklen_t size)
{
    const u_char *b = addr;
    u_char        tmp[INET_ADDRSTRLEN], *p = tmp;
    int           i;

    if (family != AF_INET) {
        return inet_ntop(family, addr, buf, size);
    }
    for (i = 0; i < 4; i++) {
        if (i > 0) {
            *p++ = '.';
        }
        p = pt_put_uint(p, b[i], 0);
    }
    if ((size_t) (p - tmp) >= (size_t) size) {
        errno = ENOSPC;
        return NULL;
    }
    memcpy(buf, tmp, (size_t) (p - tmp));
    buf[p - tmp] = '\0';
    return buf;
}

size_t
pt_inet_text(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    int  n;

    switch (sa->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;

        pt_inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        n = snprintf(buf, size, "%s:%u", ip, ntohs(sin->sin_port));
        break;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;

        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
        n = snprintf(buf, size, "[%s]:%u", ip, ntohs(sin6->sin6_port));
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *sun = (const struct sockaddr_un *) sa;

        n = snprintf(buf, size, "unix:%.*s",
                     (int) (len > offsetof(struct sockaddr_un, sun_path)
                            ? len - offsetof(struct sockaddr_un, sun_path)
                            : 0),
                     sun->sun_path);
        break;
    }
    default:
        n = snprintf(buf, size, "unknown");
    }
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    if ((size_t) n >= size) {
        n = (int) size - 1;
    }
    /* unix paths are NUL padded: trim to the string */
    return strlen(buf) < (size_t) n ? strlen(buf) : (size_t) n;
}

int
pt_inet_addr_eq(const struct sockaddr *a, socklen_t alen,
                const struct sockaddr *b, socklen_t blen)
{
    if (a->sa_family != b->sa_family) {
        return 0;
    }
    switch (a->sa_family) {
    case AF_INET: {
        const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;

        return x->sin_port == y->sin_port
               && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    case AF_INET6: {
        const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;

        return x->sin6_port == y->sin6_port
               && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    case AF_UNIX: {
        const struct sockaddr_un *x = (const void *) a, *y = (const void *) b;

        return strncmp(x->sun_path, y->sun_path, sizeof(x->sun_path)) == 0;
    }
    }
    return alen == blen && memcmp(a, b, alen) == 0;
}

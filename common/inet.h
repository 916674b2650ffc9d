/*
 * Socket addresses: parsing "host:port", "[v6]:port", "port", "*:port" and
 * "unix:/path" as nginx's listen and upstream directives take them, and
 * printing them back.
 */
#ifndef PT_INET_H
#define PT_INET_H

#include <sys/socket.h>

#include "pt_types.h"
#include "str.h"

#define PT_SOCKADDR_STRLEN (sizeof("unix:") + 108 + 8)

typedef struct {
    struct sockaddr_storage  sockaddr;
    socklen_t                socklen;
} pt_addr_t;

/* Parse a listen-style address. A hostname resolves to its first address
 * (getaddrinfo); a bare port means 0.0.0.0:port. On success fills *addr;
 * on error returns PT_ERROR and sets *err to a short phrase. */
int pt_inet_parse_listen(const pt_str_t *text, pt_addr_t *addr,
                         const char **err);

/* Print an address as "127.0.0.1:80", "[::1]:80" or "unix:/path" into buf
 * (at least PT_SOCKADDR_STRLEN bytes, NUL-terminated); returns its length. */
/* inet_ntop(), with IPv4 formatted here rather than through printf (it
 * runs for every accepted connection). */
const char *pt_inet_ntop(int family, const void *addr, char *buf,
                         socklen_t size);
size_t pt_inet_text(const struct sockaddr *sa, socklen_t len, char *buf,
                    size_t size);

/* Same address family, address and port (or path). */
int pt_inet_addr_eq(const struct sockaddr *a, socklen_t alen,
                    const struct sockaddr *b, socklen_t blen);

#endif /* PT_INET_H */

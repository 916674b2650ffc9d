/*
 * CIDR parsing and matching, shared by the access, realip and geo
 * modules. Addresses stay in network order so a match is a masked compare.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"
#include "str.h"

/* A dotted quad: four decimal octets of at most 255 (leading zeros are
 * fine, as nginx's parser takes them). PT_OK with *addr in network
 * order, or PT_ERROR. */
static int
parse_in(const u_char *p, size_t n, uint32_t *addr)
{
    const u_char *end = p + n;
    uint32_t      a = 0, octet = 0;
    pt_uint_t     dots = 0, digits = 0;

    for (; p < end; p++) {
        if (*p >= '0' && *p <= '9') {
            octet = octet * 10 + (uint32_t) (*p - '0');
            if (octet > 255) {
                return PT_ERROR;
            }
            digits++;
            continue;
        }
        if (*p != '.' || digits == 0 || ++dots > 3) {
            return PT_ERROR;
        }
        a = (a << 8) | octet;
        octet = 0;
        digits = 0;
    }
    if (dots != 3 || digits == 0) {
        return PT_ERROR;
    }
    *addr = htonl((a << 8) | octet);
    return PT_OK;
}

/* An IPv6 address in any RFC 4291 text form (inet_pton needs a C
 * string: the text is copied). */
static int
parse_in6(const u_char *p, size_t n, u_char *addr)
{
    char buf[INET6_ADDRSTRLEN];

    if (n == 0 || n >= sizeof(buf)) {
        return PT_ERROR;
    }
    memcpy(buf, p, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, addr) == 1 ? PT_OK : PT_ERROR;
}

int
pt_cidr_parse(const u_char *p, size_t len, pt_cidr_t *cidr)
{
    const u_char *slash = memchr(p, '/', len);
    size_t        alen = slash != NULL ? (size_t) (slash - p) : len;
    pt_int_t      shift = -1;
    int           rc = PT_OK;
    pt_uint_t     i;
    u_char        m;

    memset(cidr, 0, sizeof(*cidr));
    if (slash != NULL) {
        shift = pt_atoi(slash + 1, len - alen - 1);
        if (shift == PT_ERROR) {
            return PT_ERROR;
        }
    }

    if (parse_in(p, alen, &cidr->u.in.addr) == PT_OK) {
        if (shift > 32) {
            return PT_ERROR;
        }
        cidr->family = AF_INET;
        if (shift == -1) {
            shift = 32;
        }
        /* a shift by 32 is undefined: /0 is spelled out */
        cidr->u.in.mask = shift == 0 ? 0
                          : htonl(0xffffffffu << (32 - shift));
        if ((cidr->u.in.addr & cidr->u.in.mask) != cidr->u.in.addr) {
            cidr->u.in.addr &= cidr->u.in.mask;
            rc = PT_DONE;
        }
        return rc;
    }

    if (parse_in6(p, alen, cidr->u.in6.addr) != PT_OK || shift > 128) {
        return PT_ERROR;
    }
    cidr->family = AF_INET6;
    if (shift == -1) {
        shift = 128;
    }
    for (i = 0; i < 16; i++) {
        m = shift >= 8 ? 0xff : (u_char) (0xff00 >> shift);
        shift = shift >= 8 ? shift - 8 : 0;
        cidr->u.in6.mask[i] = m;
        if ((cidr->u.in6.addr[i] & m) != cidr->u.in6.addr[i]) {
            cidr->u.in6.addr[i] &= m;
            rc = PT_DONE;
        }
    }
    return rc;
}

int
pt_cidr_match_in(const pt_cidr_t *cidr, uint32_t addr)
{
    return cidr->family == AF_INET
           && (addr & cidr->u.in.mask) == cidr->u.in.addr;
}

int
pt_cidr_v4_mapped(const u_char *addr, uint32_t *v4)
{
    static const u_char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0xff, 0xff };

    if (memcmp(addr, prefix, sizeof(prefix)) != 0) {
        return 0;
    }
    memcpy(v4, addr + 12, 4);
    return 1;
}

int
pt_cidr_match_in6(const pt_cidr_t *cidr, const u_char *addr)
{
    uint32_t  v4;
    pt_uint_t i;

    if (cidr->family == AF_INET) {
        return pt_cidr_v4_mapped(addr, &v4) && pt_cidr_match_in(cidr, v4);
    }
    if (cidr->family != AF_INET6) {
        return 0;
    }
    for (i = 0; i < 16; i++) {
        if ((addr[i] & cidr->u.in6.mask[i]) != cidr->u.in6.addr[i]) {
            return 0;
        }
    }
    return 1;
}

int
pt_cidr_match(const pt_cidr_t *cidr, const struct sockaddr *sa)
{
    switch (sa->sa_family) {
    case AF_INET:
        return pt_cidr_match_in(cidr,
                                ((const struct sockaddr_in *) sa)
                                ->sin_addr.s_addr);
    case AF_INET6:
        return pt_cidr_match_in6(cidr,
                                 ((const struct sockaddr_in6 *) sa)
                                 ->sin6_addr.s6_addr);
    default:
        return 0;
    }
}

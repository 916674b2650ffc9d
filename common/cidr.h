/*
 * CIDR blocks: "addr" and "addr/len" for IPv4 and IPv6 as nginx's allow,
 * deny, set_real_ip_from and geo take them, and matching an address
 * against a block (an IPv4 block also matches a v4-mapped IPv6 address).
 */
#ifndef PT_CIDR_H
#define PT_CIDR_H

#include <stdint.h>
#include <sys/socket.h>

#include "pt_types.h"

typedef struct {
    int  family;                     /* AF_INET or AF_INET6 */
    union {
        struct {
            uint32_t  addr;          /* network order, host bits clear */
            uint32_t  mask;
        } in;
        struct {
            u_char    addr[16];
            u_char    mask[16];
        } in6;
    } u;
} pt_cidr_t;

/*
 * Parse "addr" (a full-length block) or "addr/len". Returns PT_OK;
 * PT_DONE when the address had bits set beyond the prefix: they are
 * cleared in *cidr and the caller warns as nginx does ("low address bits
 * of X are meaningless"); PT_ERROR for anything that is not an IPv4 dotted
 * quad or an IPv6 address with a length of at most 32 or 128.
 */
int pt_cidr_parse(const u_char *p, size_t len, pt_cidr_t *cidr);

/* Whether a network-order IPv4 address lies in the block (never for an
 * IPv6 block). */
int pt_cidr_match_in(const pt_cidr_t *cidr, uint32_t addr);

/* Whether a 16-byte IPv6 address lies in the block; an IPv4 block
 * matches the v4-mapped form (::ffff:a.b.c.d) of its addresses. */
int pt_cidr_match_in6(const pt_cidr_t *cidr, const u_char *addr);

/* The IPv4 address of a v4-mapped IPv6 address into *addr (network
 * order): 1, or 0 when addr is not v4-mapped. */
int pt_cidr_v4_mapped(const u_char *addr, uint32_t *v4);

/* Whether a socket address (AF_INET or AF_INET6; anything else never
 * matches) lies in the block. */
int pt_cidr_match(const pt_cidr_t *cidr, const struct sockaddr *sa);

#endif /* PT_CIDR_H */

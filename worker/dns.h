/*
 * DNS messages for the resolver: encoding A/AAAA queries and validating
 * and parsing responses (compression, CNAME chains, SOA minimum). Pure
 * functions over bytes: every length comes from the packet and is checked.
 */
#ifndef PT_DNS_H
#define PT_DNS_H

#include <stdint.h>

#include "common/pt_types.h"

#define PT_DNS_TYPE_A       1
#define PT_DNS_TYPE_CNAME   5
#define PT_DNS_TYPE_SOA     6
#define PT_DNS_TYPE_AAAA    28
#define PT_DNS_CLASS_IN     1

#define PT_DNS_HEADER_LEN   12
#define PT_DNS_WIRE_MAX     255   /* an encoded name, final 0 included */
#define PT_DNS_QUERY_MAX    (PT_DNS_HEADER_LEN + PT_DNS_WIRE_MAX + 4)
#define PT_DNS_MAX_ADDRS    16    /* addresses kept per answer; the rest
                                     are ignored, as nginx keeps a bounded
                                     set too */
#define PT_DNS_MAX_CNAMES   8     /* aliases followed within one answer */
#define PT_DNS_MAX_RECORDS  256   /* records examined per section */
#define PT_DNS_NO_TTL       UINT32_MAX

typedef struct {
    int       rcode;      /* the header's RCODE (0-15) */
    pt_uint_t naddrs;
    uint32_t  ttl;        /* smallest TTL of the records used, or
                             PT_DNS_NO_TTL when none */
    uint32_t  neg_ttl;    /* negative answers: min(SOA TTL, SOA minimum)
                             from the authority section, or PT_DNS_NO_TTL */
    unsigned  truncated:1;   /* TC: the records that fit were used */
    u_char    addrs[PT_DNS_MAX_ADDRS][16];   /* 4 bytes each for A */
} pt_dns_answer_t;

/* Encode dotted `name` (a trailing dot is allowed) as a lowercase wire
 * name into out[PT_DNS_WIRE_MAX]. Returns its length, or PT_ERROR for an
 * empty label, a label over 63 bytes, a name over 255 bytes encoded, or
 * a byte that is a control character, a space or DEL. */
ssize_t pt_dns_encode_name(const u_char *name, size_t len, u_char *out);

/* A recursive query for (wire name, qtype) with `id` into buf (at least
 * PT_DNS_QUERY_MAX bytes). Returns its length. */
size_t pt_dns_build_query(u_char *buf, uint16_t id, const u_char *wire,
                          size_t wlen, uint16_t qtype);

/* Read the name at *off of a packet into out[PT_DNS_WIRE_MAX] (wire form,
 * lowercase, no compression). Pointers must point before the name part
 * that holds them, so every name ends. *off moves past the name as it
 * sits at *off. Returns the length, or PT_ERROR if malformed. */
ssize_t pt_dns_read_name(const u_char *pkt, size_t len, size_t *off,
                         u_char *out);

/*
 * Parse a response to the query (id, wire name, qtype).
 *   PT_OK        it answers the query: ans->rcode, and for rcode 0 the
 *                addresses of qtype reached from the name through CNAMEs
 *                (possibly none: no data);
 *   PT_DECLINED  not a response to this query (id, QR bit, question);
 *   PT_ERROR     malformed.
 */
int pt_dns_parse_response(const u_char *pkt, size_t len, uint16_t id,
                          const u_char *wire, size_t wlen, uint16_t qtype,
                          pt_dns_answer_t *ans);

#endif /* PT_DNS_H */

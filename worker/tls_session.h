/*
 * TLS session resumption state shared by the workers: the session cache in
 * a shared-memory zone (ssl_session_cache shared:NAME:SIZE) and the
 * session ticket keys read from ssl_session_ticket_key files.
 */
#ifndef PT_TLS_SESSION_H
#define PT_TLS_SESSION_H

#include <time.h>

#include <openssl/ssl.h>

#include "common/pt_types.h"

/* Longest session (DER) the shared cache keeps; bigger ones (a long
 * client certificate chain) are not cached. */
#define PT_TLS_SESSION_MAX_DER 4096
#define PT_TLS_SESSION_ID_MAX  32

/* Zone init (pt_shm_zone_init_pt): a kept zone keeps its sessions. */
int pt_tls_session_zone_init(pt_shm_zone_t *zone, void *old_data);

/* Store, find, drop one session in the zone's slab pool `sp` (whose data
 * is the cache root, see pt_tls_session_zone_init). store replaces a
 * session with the same id and evicts the oldest when the zone is full:
 * PT_OK or PT_ERROR (nothing could make room). lookup copies the DER into
 * out (size bytes) and returns its length, or PT_DECLINED (none, expired or
 * too long). Times are wall-clock seconds. */
int pt_tls_session_store(pt_slab_pool_t *sp, const u_char *id, size_t id_len,
                         const u_char *der, size_t len, time_t expire,
                         time_t now);
ssize_t pt_tls_session_lookup(pt_slab_pool_t *sp, const u_char *id,
                              size_t id_len, u_char *out, size_t size,
                              time_t now);
void pt_tls_session_remove(pt_slab_pool_t *sp, const u_char *id,
                           size_t id_len);
/* Sessions in the cache now (tests). */
pt_uint_t pt_tls_session_count(pt_slab_pool_t *sp);

/* Use `zone` as the external cache of `ctx` (callbacks for new, get and
 * removed sessions). PT_OK or PT_ERROR. */
int pt_tls_session_cache_set(SSL_CTX *ctx, pt_shm_zone_t *zone);

/* A ticket key as nginx's files hold it: 48 bytes (name, HMAC-SHA256 key,
 * AES-128-CBC key, 16 each) or 80 bytes (name 16, HMAC 32, AES-256 32). */
typedef struct {
    u_char  name[16];
    u_char  hmac_key[32];
    u_char  aes_key[32];
    size_t  size;        /* 48 or 80 */
} pt_tls_ticket_key_t;

/* Split the contents of a key file. PT_OK, or PT_ERROR for another size. */
int pt_tls_ticket_key_parse(const u_char *buf, size_t len,
                            pt_tls_ticket_key_t *key);
typedef struct {
    pt_tls_ticket_key_t *keys;
    pt_uint_t            n;
} pt_tls_ticket_keys_t;

/* Encrypt new tickets with keys[0], accept tickets of any of the n keys
 * (those of another key are renewed). `tk` must outlive ctx (both belong
 * to the cycle). */
int pt_tls_ticket_keys_set(SSL_CTX *ctx, pt_tls_ticket_keys_t *tk);

/* Process-wide ex_data indexes; PT_OK or PT_ERROR. */
int pt_tls_session_init(void);

#endif /* PT_TLS_SESSION_H */

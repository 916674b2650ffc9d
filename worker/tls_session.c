/*
 * The shared TLS session cache (a hash of session ids over a slab zone,
 * oldest first in an expiry queue, all under the zone's lock) with its
 * OpenSSL callbacks, and session ticket keys with their callback.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/queue.h"
#include "common/shm.h"
#include "common/slab.h"
#include "common/time.h"
#include "tls_session.h"

typedef struct entry_s entry_t;

struct entry_s {
    pt_queue_t   queue;       /* in root->expire, oldest at the tail */
    entry_t     *next;        /* same bucket */
    time_t       expire;
    uint32_t     hash;
    uint16_t     id_len;
    uint16_t     len;
    u_char       id[PT_TLS_SESSION_ID_MAX];
    u_char       der[];
};

/* The zone's root (sp->data), in the zone itself. */
typedef struct {
    pt_queue_t   expire;      /* newest at the head */
    pt_uint_t    count;
    uint32_t     nbuckets;    /* a power of two */
    entry_t     *buckets[];
} cache_root_t;

static int zone_index = -1;   /* SSL_CTX ex_data: its pt_shm_zone_t */
static int keys_index = -1;   /* SSL_CTX ex_data: its ticket keys */

int
pt_tls_session_init(void)
{
    if (zone_index == -1) {
        zone_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    if (keys_index == -1) {
        keys_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    }
    return zone_index == -1 || keys_index == -1 ? PT_ERROR : PT_OK;
}

int
pt_tls_session_zone_init(pt_shm_zone_t *zone, void *old_data)
{
    pt_slab_pool_t *sp = (pt_slab_pool_t *) zone->shm.addr;
    cache_root_t   *root;
    uint32_t        n = 64;

    if (old_data != NULL) {
        zone->data = old_data;
        return PT_OK;
    }
    /* a bucket per ~1 KB of zone: a session takes about that much */
    while (n < zone->shm.size / 1024 && n < (1u << 20)) {
        n <<= 1;
    }
    root = pt_slab_calloc(sp, sizeof(cache_root_t) + n * sizeof(entry_t *));
    if (root == NULL) {
        return PT_ERROR;
    }
    pt_queue_init(&root->expire);
    root->nbuckets = n;
    /* a full cache is its normal state: eviction, not an error */
    sp->log_nomem = 0;
    sp->data = root;
    zone->data = root;
    return PT_OK;
}

static uint32_t
hash_id(const u_char *id, size_t len)
{
    uint32_t h = 2166136261u;   /* FNV-1a: ids are random already */
    size_t   i;

    for (i = 0; i < len; i++) {
        h = (h ^ id[i]) * 16777619u;
    }
    return h;
}

static entry_t **
find_slot(cache_root_t *root, const u_char *id, size_t id_len, uint32_t h)
{
    entry_t **pp = &root->buckets[h & (root->nbuckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->hash == h && (*pp)->id_len == id_len
            && memcmp((*pp)->id, id, id_len) == 0)
        {
            break;
        }
    }
    return pp;
}

/* Unlink and free the entry at *pp (locked). */
static void
drop(pt_slab_pool_t *sp, cache_root_t *root, entry_t **pp)
{
    entry_t *e = *pp;

    *pp = e->next;
    pt_queue_remove(&e->queue);
    root->count--;
    pt_slab_free_locked(sp, e);
}

static void
drop_entry(pt_slab_pool_t *sp, cache_root_t *root, entry_t *e)
{
    entry_t **pp = find_slot(root, e->id, e->id_len, e->hash);

    if (*pp == e) {
        drop(sp, root, pp);
    }
}

/* Drop the oldest entry if it expired (or if `force`); 1 if one went. */
static int
drop_oldest(pt_slab_pool_t *sp, cache_root_t *root, time_t now, int force)
{
    entry_t *e;

    if (pt_queue_empty(&root->expire)) {
        return 0;
    }
    e = pt_queue_data(root->expire.prev, entry_t, queue);
    if (!force && e->expire > now) {
        return 0;
    }
    drop_entry(sp, root, e);
    return 1;
}

int
pt_tls_session_store(pt_slab_pool_t *sp, const u_char *id, size_t id_len,
                     const u_char *der, size_t len, time_t expire,
                     time_t now)
{
    cache_root_t *root = sp->data;
    entry_t     **pp, *e = NULL;
    uint32_t      h;
    int           i;

    if (id_len == 0 || id_len > PT_TLS_SESSION_ID_MAX
        || len > PT_TLS_SESSION_MAX_DER)
    {
        return PT_ERROR;
    }
    h = hash_id(id, id_len);
    pt_shmtx_lock(&sp->mutex);
    /* a couple of expired sessions go with each new one, as nginx does */
    for (i = 0; i < 2 && drop_oldest(sp, root, now, 0); i++) {
        /* void */
    }
    pp = find_slot(root, id, id_len, h);
    if (*pp != NULL) {
        drop(sp, root, pp);
    }
    /* a full zone gives up its oldest sessions, a bounded few */
    for (i = 0; i < 16; i++) {
        e = pt_slab_alloc_locked(sp, sizeof(entry_t) + len);
        if (e != NULL || !drop_oldest(sp, root, now, 1)) {
            break;
        }
    }
    if (e == NULL) {
        pt_shmtx_unlock(&sp->mutex);
        return PT_ERROR;
    }
    e->expire = expire;
    e->hash = h;
    e->id_len = (uint16_t) id_len;
    e->len = (uint16_t) len;
    memcpy(e->id, id, id_len);
    memcpy(e->der, der, len);
    pp = &root->buckets[h & (root->nbuckets - 1)];
    e->next = *pp;
    *pp = e;
    pt_queue_insert_head(&root->expire, &e->queue);
    root->count++;
    pt_shmtx_unlock(&sp->mutex);
    return PT_OK;
}

ssize_t
pt_tls_session_lookup(pt_slab_pool_t *sp, const u_char *id, size_t id_len,
                      u_char *out, size_t size, time_t now)
{
    cache_root_t *root = sp->data;
    entry_t     **pp;
    ssize_t       rc = PT_DECLINED;

    if (id_len == 0 || id_len > PT_TLS_SESSION_ID_MAX) {
        return PT_DECLINED;
    }
    pt_shmtx_lock(&sp->mutex);
    pp = find_slot(root, id, id_len, hash_id(id, id_len));
    if (*pp != NULL) {
        if ((*pp)->expire <= now) {
            drop(sp, root, pp);
        } else if ((*pp)->len <= size) {
            memcpy(out, (*pp)->der, (*pp)->len);
            rc = (*pp)->len;
        }
    }
    pt_shmtx_unlock(&sp->mutex);
    return rc;
}

void
pt_tls_session_remove(pt_slab_pool_t *sp, const u_char *id, size_t id_len)
{
    cache_root_t *root = sp->data;
    entry_t     **pp;

    if (id_len == 0 || id_len > PT_TLS_SESSION_ID_MAX) {
        return;
    }
    pt_shmtx_lock(&sp->mutex);
    pp = find_slot(root, id, id_len, hash_id(id, id_len));
    if (*pp != NULL) {
        drop(sp, root, pp);
    }
    pt_shmtx_unlock(&sp->mutex);
}

pt_uint_t
pt_tls_session_count(pt_slab_pool_t *sp)
{
    return ((cache_root_t *) sp->data)->count;
}

static pt_slab_pool_t *
ctx_pool(SSL_CTX *ctx)
{
    pt_shm_zone_t *zone = SSL_CTX_get_ex_data(ctx, zone_index);

    if (zone == NULL || zone->shm.addr == NULL || zone->data == NULL) {
        return NULL;    /* -t, or a zone not mapped */
    }
    return (pt_slab_pool_t *) zone->shm.addr;
}

/* OpenSSL hands over each new session: keep its DER in the zone. Returns
 * 0: OpenSSL keeps no extra reference. */
static int
new_session(SSL *ssl, SSL_SESSION *sess)
{
    pt_slab_pool_t *sp = ctx_pool(SSL_get_SSL_CTX(ssl));
    const u_char   *id;
    u_char          der[PT_TLS_SESSION_MAX_DER], *p = der;
    unsigned int    id_len;
    int             len;

    if (sp == NULL) {
        return 0;
    }
    len = i2d_SSL_SESSION(sess, NULL);
    if (len <= 0 || len > PT_TLS_SESSION_MAX_DER) {
        return 0;
    }
    if (i2d_SSL_SESSION(sess, &p) != len) {
        return 0;
    }
    id = SSL_SESSION_get_id(sess, &id_len);
    (void) pt_tls_session_store(sp, id, id_len, der, (size_t) len,
                                pt_time_sec + SSL_SESSION_get_timeout(sess),
                                pt_time_sec);
    return 0;
}

static SSL_SESSION *
get_session(SSL *ssl, const unsigned char *id, int id_len, int *copy)
{
    pt_slab_pool_t *sp = ctx_pool(SSL_get_SSL_CTX(ssl));
    u_char          der[PT_TLS_SESSION_MAX_DER];
    const u_char   *p = der;
    ssize_t         len;

    *copy = 0;
    if (sp == NULL || id_len <= 0) {
        return NULL;
    }
    len = pt_tls_session_lookup(sp, id, (size_t) id_len, der, sizeof(der),
                                pt_time_sec);
    if (len <= 0) {
        return NULL;
    }
    return d2i_SSL_SESSION(NULL, &p, len);
}

static void
remove_session(SSL_CTX *ctx, SSL_SESSION *sess)
{
    pt_slab_pool_t *sp = ctx_pool(ctx);
    const u_char   *id;
    unsigned int    id_len;

    if (sp != NULL) {
        id = SSL_SESSION_get_id(sess, &id_len);
        pt_tls_session_remove(sp, id, id_len);
    }
}

int
pt_tls_session_cache_set(SSL_CTX *ctx, pt_shm_zone_t *zone)
{
    if (SSL_CTX_set_ex_data(ctx, zone_index, zone) != 1) {
        return PT_ERROR;
    }
    SSL_CTX_sess_set_new_cb(ctx, new_session);
    SSL_CTX_sess_set_get_cb(ctx, get_session);
    SSL_CTX_sess_set_remove_cb(ctx, remove_session);
    return PT_OK;
}

int
pt_tls_ticket_key_parse(const u_char *buf, size_t len,
                        pt_tls_ticket_key_t *key)
{
    memset(key, 0, sizeof(*key));
    if (len == 48) {
        memcpy(key->name, buf, 16);
        memcpy(key->hmac_key, buf + 16, 16);
        memcpy(key->aes_key, buf + 32, 16);
    } else if (len == 80) {
        memcpy(key->name, buf, 16);
        memcpy(key->hmac_key, buf + 16, 32);
        memcpy(key->aes_key, buf + 48, 32);
    } else {
        return PT_ERROR;
    }
    key->size = len;
    return PT_OK;
}

static int
set_mac(EVP_MAC_CTX *hctx, pt_tls_ticket_key_t *k)
{
    OSSL_PARAM params[3];

    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
                                                  k->hmac_key,
                                                  k->size == 48 ? 16 : 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, params);
}

/* OpenSSL's ticket callback: enc 1 fills name/iv and sets up encryption
 * with the first key; enc 0 finds the named key: 1 (use it), 2 (use it
 * and issue a new ticket: not the current key), 0 (unknown: full
 * handshake), -1 on failure. */
static int
ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
          EVP_CIPHER_CTX *ectx, EVP_MAC_CTX *hctx, int enc)
{
    pt_tls_ticket_keys_t *tk = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
                                                  keys_index);
    pt_tls_ticket_key_t *k;
    const EVP_CIPHER    *cipher;
    pt_uint_t            i;

    if (tk == NULL || tk->n == 0) {
        return enc ? -1 : 0;
    }
    if (enc) {
        k = &tk->keys[0];
        cipher = k->size == 48 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) != 1
            || EVP_EncryptInit_ex(ectx, cipher, NULL, k->aes_key, iv) != 1
            || set_mac(hctx, k) != 1)
        {
            return -1;
        }
        memcpy(name, k->name, 16);
        return 1;
    }
    for (i = 0; i < tk->n; i++) {
        if (memcmp(name, tk->keys[i].name, 16) == 0) {
            break;
        }
    }
    if (i == tk->n) {
        return 0;
    }
    k = &tk->keys[i];
    cipher = k->size == 48 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
    if (set_mac(hctx, k) != 1
        || EVP_DecryptInit_ex(ectx, cipher, NULL, k->aes_key, iv) != 1)
    {
        return -1;
    }
    return i == 0 ? 1 : 2;
}

int
pt_tls_ticket_keys_set(SSL_CTX *ctx, pt_tls_ticket_keys_t *tk)
{
    if (SSL_CTX_set_ex_data(ctx, keys_index, tk) != 1
        || SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1)
    {
        return PT_ERROR;
    }
    return PT_OK;
}

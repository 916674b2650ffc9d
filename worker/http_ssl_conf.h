/*
 * The http ssl module's server conf, shared by its directive side
 * (http_ssl.c: contexts built at config time) and its run-time side
 * (http_ssl_conn.c: handshake start, SNI, ALPN, checks, variables).
 */
#ifndef PT_HTTP_SSL_CONF_H
#define PT_HTTP_SSL_CONF_H

#include <openssl/ssl.h>

#include "common/array.h"
#include "common/conf.h"
#include "common/pt_types.h"
#include "common/str.h"
#include "tls_session.h"

/* ssl_protocols bits */
#define PT_SSL_SSLv2    0x0002
#define PT_SSL_SSLv3    0x0004
#define PT_SSL_TLSv1    0x0008
#define PT_SSL_TLSv1_1  0x0010
#define PT_SSL_TLSv1_2  0x0020
#define PT_SSL_TLSv1_3  0x0040

/* ssl_verify_client */
#define PT_SSL_VERIFY_OFF            0
#define PT_SSL_VERIFY_ON             1
#define PT_SSL_VERIFY_OPTIONAL       2
#define PT_SSL_VERIFY_OPTIONAL_NO_CA 3

/* builtin_session_cache: a size (> 0) or one of these */
#define PT_SSL_SCACHE_UNSET      -1
#define PT_SSL_SCACHE_OFF        -2   /* "off": sessions never reused */
#define PT_SSL_SCACHE_NONE       -3   /* "none" (nginx's default) */
#define PT_SSL_SCACHE_NO_BUILTIN -4   /* "shared" alone */

typedef struct {
    SSL_CTX                *ctx;     /* NULL: this server has no TLS of
                                        its own (SNI keeps the default's) */
    int                     enable;  /* "ssl on" */
    pt_array_t             *certificates;      /* pt_str_t */
    pt_array_t             *certificate_keys;  /* pt_str_t */
    const char             *cert_file;  /* where ssl_certificate is, for */
    pt_uint_t               cert_line;  /* messages about loading it */
    pt_str_t                password_file;
    pt_array_t             *passwords;         /* pt_str_t, cf->pool */
    pt_uint_t               protocols;
    pt_str_t                ciphers;
    pt_array_t             *conf_commands;     /* pt_str_t name, value */
    int                     prefer_server_ciphers;
    pt_str_t                ecdh_curve;
    pt_str_t                dhparam;
    pt_int_t                builtin_session_cache;
    pt_shm_zone_t          *shm_zone;
    time_t                  session_timeout;
    int                     session_tickets;
    pt_array_t             *ticket_key_files;  /* pt_str_t */
    const char             *ticket_file;       /* where the first is */
    pt_uint_t               ticket_line;
    pt_tls_ticket_keys_t   *ticket_keys;
    int                     stapling;
    pt_str_t                stapling_file;
    u_char                 *ocsp;              /* DER response, cf->pool */
    size_t                  ocsp_len;
    pt_str_t                client_certificate;
    pt_str_t                trusted_certificate;
    pt_str_t                crl;
    pt_uint_t               verify;
    pt_int_t                verify_depth;
    int                     reject_handshake;
    size_t                  buffer_size;
    int                     early_data;
} pt_http_ssl_srv_conf_t;

extern pt_module_t pt_http_ssl_module;
/* SSL_CTX ex_data: the pt_http_ssl_srv_conf_t it was built from. */
extern int pt_http_ssl_ctx_index;

/* Callbacks installed on every server context (http_ssl_conn.c). */
int pt_http_ssl_servername_cb(SSL *ssl, int *ad, void *arg);
int pt_http_ssl_alpn_cb(SSL *ssl, const unsigned char **out,
                        unsigned char *outlen, const unsigned char *in,
                        unsigned int inlen, void *arg);
int pt_http_ssl_status_cb(SSL *ssl, void *arg);
/* The $ssl_* variables. */
int pt_http_ssl_vars_init(pt_conf_t *cf);

/* Shared by the server side and proxy_ssl_*: the conf_command setter (a
 * pt_array_t * at cmd->offset), the PEM password callback (u: the
 * pt_str_t password) and the protocol mask applied as OpenSSL options. */
char *pt_http_ssl_set_conf_command(pt_conf_t *cf, pt_command_t *cmd,
                                   void *conf);
int pt_http_ssl_password_cb(char *buf, int size, int rwflag, void *u);
/* ssl_password_file and proxy_ssl_password_file: one password a line
 * (64 at most) in cf->pool; NULL (logged) on failure. */
pt_array_t *pt_http_ssl_read_passwords(pt_conf_t *cf, const pt_str_t *file);
/* A path as nginx resolves it (relative to the prefix), NUL-terminated. */
const char *pt_http_ssl_full_path(pt_conf_t *cf, const pt_str_t *name);
/* "MSG (SSL: ...) in F:L" at emerg, F:L naming the directive (none when
 * file is NULL). */
void pt_http_ssl_conf_error(pt_conf_t *cf, const char *file, pt_uint_t line,
                            const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pt_http_ssl_set_protocols(SSL_CTX *ctx, pt_uint_t p);

#endif /* PT_HTTP_SSL_CONF_H */

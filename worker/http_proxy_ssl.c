/*
 * TLS to upstreams: the proxy_ssl_* directives, the client SSL_CTX of a
 * location that proxies to https://, the handshake of an upstream
 * connection with SNI and certificate checks, and the per-peer session
 * kept for resumption (proxy_ssl_session_reuse).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/array.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/str.h"
#include "conn.h"
#include "http_core.h"
#include "http_proxy_ssl.h"
#include "http_script.h"
#include "http_ssl_conf.h"
#include "timer.h"
#include "tls.h"

/* The server side's secure default (AEAD with forward secrecy for TLS 1.2;
 * TLS 1.3 has only AEAD suites): nginx's is "DEFAULT". */
#define DEFAULT_CIPHERS                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"              \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"              \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define SESSION_SLOTS   32     /* peers whose last session is kept */
#define CONN_POOL_SIZE  1024

/* The last session with one peer (per worker: sessions are made at run
 * time, after fork). */
typedef struct {
    struct sockaddr_storage  addr;
    socklen_t                socklen;
    SSL_SESSION             *session;
} session_slot_t;

typedef struct {
    int                       https;      /* proxy_pass https:// */
    const char               *file;       /* where proxy_pass is */
    pt_uint_t                 line;
    int                       server_name;
    pt_http_complex_value_t  *name;       /* NULL: $proxy_host */
    int                       verify;
    pt_int_t                  verify_depth;
    pt_str_t                  trusted_certificate;
    pt_uint_t                 protocols;
    pt_str_t                  ciphers;
    pt_str_t                  certificate;
    pt_str_t                  certificate_key;
    pt_str_t                  password_file;
    pt_str_t                  crl;
    pt_array_t               *conf_commands;   /* pt_str_t name, value */
    int                       session_reuse;

    SSL_CTX                  *ctx;
    pt_log_t                 *log;        /* the cycle's: for the pools of
                                             pooled connections */
    session_slot_t           *sessions;   /* SESSION_SLOTS, cf->pool */
    pt_uint_t                 next_slot;
} proxy_ssl_conf_t;

/* What the new-session callback needs of its connection (c->pool). */
typedef struct {
    proxy_ssl_conf_t         *conf;
    struct sockaddr_storage   addr;
    socklen_t                 socklen;
} conn_peer_t;

static void *create_loc_conf(pt_conf_t *cf);
static char *merge_loc_conf(pt_conf_t *cf, void *parent, void *child);

static int peer_index = -1;    /* SSL ex_data: conn_peer_t */

static pt_conf_enum_t protocols[] = {
    { "SSLv2", PT_SSL_SSLv2 },
    { "SSLv3", PT_SSL_SSLv3 },
    { "TLSv1", PT_SSL_TLSv1 },
    { "TLSv1.1", PT_SSL_TLSv1_1 },
    { "TLSv1.2", PT_SSL_TLSv1_2 },
    { "TLSv1.3", PT_SSL_TLSv1_3 },
    { NULL, 0 }
};

#define LOC_CTX_ (PT_CONF_HTTP | PT_CONF_SERVER | PT_CONF_LOCATION)
#define LOC(f) offsetof(proxy_ssl_conf_t, f)

static pt_command_t proxy_ssl_commands[] = {
    { "proxy_ssl_server_name", LOC_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, LOC(server_name), NULL },
    { "proxy_ssl_name", LOC_CTX_ | PT_CONF_TAKE1,
      pt_http_set_complex_value_slot, PT_CONF_LOC_OFFSET, LOC(name), NULL },
    { "proxy_ssl_verify", LOC_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, LOC(verify), NULL },
    { "proxy_ssl_verify_depth", LOC_CTX_ | PT_CONF_TAKE1, pt_conf_set_num,
      PT_CONF_LOC_OFFSET, LOC(verify_depth), NULL },
    { "proxy_ssl_trusted_certificate", LOC_CTX_ | PT_CONF_TAKE1,
      pt_conf_set_str, PT_CONF_LOC_OFFSET, LOC(trusted_certificate), NULL },
    { "proxy_ssl_protocols", LOC_CTX_ | PT_CONF_1MORE, pt_conf_set_bitmask,
      PT_CONF_LOC_OFFSET, LOC(protocols), protocols },
    { "proxy_ssl_ciphers", LOC_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_LOC_OFFSET, LOC(ciphers), NULL },
    { "proxy_ssl_certificate", LOC_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_LOC_OFFSET, LOC(certificate), NULL },
    { "proxy_ssl_certificate_key", LOC_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_LOC_OFFSET, LOC(certificate_key), NULL },
    { "proxy_ssl_password_file", LOC_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_LOC_OFFSET, LOC(password_file), NULL },
    { "proxy_ssl_crl", LOC_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_LOC_OFFSET, LOC(crl), NULL },
    { "proxy_ssl_conf_command", LOC_CTX_ | PT_CONF_TAKE2,
      pt_http_ssl_set_conf_command,
      PT_CONF_LOC_OFFSET, LOC(conf_commands), NULL },
    { "proxy_ssl_session_reuse", LOC_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_LOC_OFFSET, LOC(session_reuse), NULL },
    pt_null_command
};

pt_module_t pt_http_proxy_ssl_module = {
    "http_proxy_ssl", proxy_ssl_commands,
    NULL, NULL,
    NULL, NULL,
    create_loc_conf, merge_loc_conf,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

/* ------------------------------------------------------------ config */

static void *
create_loc_conf(pt_conf_t *cf)
{
    proxy_ssl_conf_t *c = pt_pcalloc(cf->pool, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->https = PT_CONF_UNSET;
    c->server_name = PT_CONF_UNSET;
    c->name = PT_CONF_UNSET_PTR;
    c->verify = PT_CONF_UNSET;
    c->verify_depth = PT_CONF_UNSET;
    c->protocols = PT_CONF_UNSET_UINT;
    c->conf_commands = PT_CONF_UNSET_PTR;
    c->session_reuse = PT_CONF_UNSET;
    return c;
}

int
pt_proxy_ssl_pass(pt_conf_t *cf, int https)
{
    proxy_ssl_conf_t *c;

    c = pt_http_conf_get_module_loc_conf(cf, pt_http_proxy_ssl_module);
    c->https = https;
    c->file = cf->node->file;
    c->line = cf->node->line;
    return PT_OK;
}

/* "MSG (SSL: ...) in F:L" at emerg, F:L being the proxy_pass line. */
#define CTX_ERROR(...) pt_http_ssl_conf_error(cf, c->file, c->line,           \
                                              __VA_ARGS__)

static EVP_PKEY *
read_key(pt_conf_t *cf, proxy_ssl_conf_t *c, const char *path)
{
    pt_array_t *pws = NULL;
    pt_str_t   *pw = NULL;
    pt_uint_t   i, n = 1;
    EVP_PKEY   *pkey = NULL;
    BIO        *bio;

    if (c->password_file.len) {
        pws = pt_http_ssl_read_passwords(cf, &c->password_file);
        if (pws == NULL) {
            return NULL;
        }
        pw = pws->elts;
        n = pws->nelts;
    }
    for (i = 0; i < n && pkey == NULL; i++) {
        bio = BIO_new_file(path, "r");
        if (bio == NULL) {
            CTX_ERROR("cannot load certificate key \"%s\": "
                      "BIO_new_file() failed", path);
            return NULL;
        }
        pkey = PEM_read_bio_PrivateKey(bio, NULL, pt_http_ssl_password_cb,
                                       pw != NULL ? &pw[i] : NULL);
        BIO_free(bio);
        if (pkey == NULL && i + 1 < n) {
            ERR_clear_error();
        }
    }
    if (pkey == NULL) {
        CTX_ERROR("cannot load certificate key \"%s\": "
                  "PEM_read_bio_PrivateKey() failed", path);
    }
    return pkey;
}

/* proxy_ssl_certificate and its key: the client certificate. */
static int
load_client_cert(pt_conf_t *cf, proxy_ssl_conf_t *c)
{
    const char *cpath, *kpath;
    EVP_PKEY   *pkey;
    BIO        *bio;

    if (c->certificate.len == 0) {
        return PT_OK;
    }
    if (c->certificate_key.len == 0) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "no \"proxy_ssl_certificate_"
                     "key\" is defined for certificate \"%.*s\" in %s:%lu",
                     (int) c->certificate.len, c->certificate.data,
                     c->file, (unsigned long) c->line);
        return PT_ERROR;
    }
    cpath = pt_http_ssl_full_path(cf, &c->certificate);
    kpath = pt_http_ssl_full_path(cf, &c->certificate_key);
    if (cpath == NULL || kpath == NULL) {
        return PT_ERROR;
    }
    bio = BIO_new_file(cpath, "r");
    if (bio == NULL) {
        CTX_ERROR("cannot load certificate \"%s\": BIO_new_file() "
                  "failed", cpath);
        return PT_ERROR;
    }
    BIO_free(bio);
    if (SSL_CTX_use_certificate_chain_file(c->ctx, cpath) != 1) {
        CTX_ERROR("cannot load certificate \"%s\": "
                  "PEM_read_bio_X509_AUX() failed", cpath);
        return PT_ERROR;
    }
    pkey = read_key(cf, c, kpath);
    if (pkey == NULL) {
        return PT_ERROR;
    }
    if (SSL_CTX_use_PrivateKey(c->ctx, pkey) != 1) {
        CTX_ERROR("SSL_CTX_use_PrivateKey(\"%s\") failed", kpath);
        EVP_PKEY_free(pkey);
        return PT_ERROR;
    }
    EVP_PKEY_free(pkey);
    return PT_OK;
}

/* The verdict is read after the handshake, as nginx does, so that the log
 * says why. */
static int
verify_cb(int ok, X509_STORE_CTX *store)
{
    (void) ok;
    (void) store;
    return 1;
}

static int
set_verify(pt_conf_t *cf, proxy_ssl_conf_t *c)
{
    const char *path;
    X509_STORE *store;

    if (!c->verify) {
        return PT_OK;
    }
    if (c->trusted_certificate.len == 0) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "no proxy_ssl_trusted_"
                     "certificate for proxy_ssl_verify in %s:%lu", c->file,
                     (unsigned long) c->line);
        return PT_ERROR;
    }
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, verify_cb);
    SSL_CTX_set_verify_depth(c->ctx, (int) c->verify_depth);
    path = pt_http_ssl_full_path(cf, &c->trusted_certificate);
    if (path == NULL
        || SSL_CTX_load_verify_locations(c->ctx, path, NULL) != 1)
    {
        CTX_ERROR("SSL_CTX_load_verify_locations(\"%s\") failed",
                  path ? path : "");
        return PT_ERROR;
    }
    if (c->crl.len) {
        /* as nginx: a CRL counts only where certificates are verified */
        path = pt_http_ssl_full_path(cf, &c->crl);
        store = SSL_CTX_get_cert_store(c->ctx);
        if (path == NULL || X509_STORE_load_file(store, path) != 1) {
            CTX_ERROR("X509_LOOKUP_load_file(\"%s\") failed",
                      path ? path : "");
            return PT_ERROR;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK
                                    | X509_V_FLAG_CRL_CHECK_ALL);
    }
    ERR_clear_error();
    return PT_OK;
}

static int
apply_conf_commands(pt_conf_t *cf, proxy_ssl_conf_t *c)
{
    SSL_CONF_CTX *cctx;
    pt_str_t     *p;
    pt_uint_t     i;
    int           rc = PT_OK;

    if (c->conf_commands == NULL) {
        return PT_OK;
    }
    cctx = SSL_CONF_CTX_new();
    if (cctx == NULL) {
        return PT_ERROR;
    }
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_CLIENT
                                 | SSL_CONF_FLAG_CERTIFICATE
                                 | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx, c->ctx);
    p = c->conf_commands->elts;
    for (i = 0; i + 1 < c->conf_commands->nelts && rc == PT_OK; i += 2) {
        if (SSL_CONF_cmd(cctx, (const char *) p[i].data,
                         (const char *) p[i + 1].data) <= 0)
        {
            CTX_ERROR("SSL_CONF_cmd(\"%s\", \"%s\") failed",
                      (const char *) p[i].data, (const char *) p[i + 1].data);
            rc = PT_ERROR;
        }
    }
    if (rc == PT_OK && SSL_CONF_CTX_finish(cctx) != 1) {
        CTX_ERROR("SSL_CONF_finish() failed");
        rc = PT_ERROR;
    }
    SSL_CONF_CTX_free(cctx);
    return rc;
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess);

/* At cycle end: the context and the sessions kept with it. */
static void
ctx_cleanup(void *data)
{
    proxy_ssl_conf_t *c = data;
    pt_uint_t         i;

    for (i = 0; c->sessions != NULL && i < SESSION_SLOTS; i++) {
        if (c->sessions[i].session != NULL) {
            SSL_SESSION_free(c->sessions[i].session);
            c->sessions[i].session = NULL;
        }
    }
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
}

/* The location's client context, owned by cf->pool. */
static int
build_ctx(pt_conf_t *cf, proxy_ssl_conf_t *c)
{
    pt_pool_cleanup_t *cln;

    if (pt_tls_init(cf->log) != PT_OK) {
        return PT_ERROR;
    }
    if (peer_index == -1) {
        peer_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (peer_index == -1) {
            return PT_ERROR;
        }
    }
    c->log = cf->cycle != NULL ? cf->cycle->log : cf->log;
    ERR_clear_error();
    c->ctx = SSL_CTX_new(TLS_client_method());
    cln = pt_pool_cleanup_add(cf->pool, 0);
    c->sessions = pt_pcalloc(cf->pool, sizeof(session_slot_t)
                                       * SESSION_SLOTS);
    if (c->ctx == NULL || cln == NULL || c->sessions == NULL) {
        CTX_ERROR("SSL_CTX_new() failed");
        SSL_CTX_free(c->ctx);
        c->ctx = NULL;
        return PT_ERROR;
    }
    cln->handler = ctx_cleanup;
    cln->data = c;
    SSL_CTX_set_options(c->ctx, SSL_OP_NO_COMPRESSION
                                | SSL_OP_NO_RENEGOTIATION
                                | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                             | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                             | SSL_MODE_RELEASE_BUFFERS);
    pt_http_ssl_set_protocols(c->ctx, c->protocols);
    if (SSL_CTX_set_cipher_list(c->ctx, (const char *) c->ciphers.data)
        != 1)
    {
        CTX_ERROR("SSL_CTX_set_cipher_list(\"%s\") failed",
                  (const char *) c->ciphers.data);
        return PT_ERROR;
    }
    if (c->session_reuse) {
        /* sessions come through the callback (TLS 1.3 tickets arrive
         * after the handshake); OpenSSL keeps none itself */
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_CLIENT
                                       | SSL_SESS_CACHE_NO_INTERNAL);
        SSL_CTX_sess_set_new_cb(c->ctx, new_session_cb);
    } else {
        SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
    }
    if (load_client_cert(cf, c) != PT_OK || set_verify(cf, c) != PT_OK
        || apply_conf_commands(cf, c) != PT_OK)
    {
        return PT_ERROR;
    }
    return PT_OK;
}

static char *
merge_loc_conf(pt_conf_t *cf, void *parent, void *child)
{
    proxy_ssl_conf_t *prev = parent, *conf = child;

    if (conf->https == PT_CONF_UNSET) {
        conf->https = prev->https;
        conf->file = prev->file;
        conf->line = prev->line;
    }
    pt_conf_merge_value(conf->server_name, prev->server_name, 0);
    pt_conf_merge_ptr(conf->name, prev->name, NULL);
    pt_conf_merge_value(conf->verify, prev->verify, 0);
    pt_conf_merge_value(conf->verify_depth, prev->verify_depth, 1);
    pt_conf_merge_str(conf->trusted_certificate, prev->trusted_certificate,
                      "");
    if (conf->protocols == PT_CONF_UNSET_UINT) {
        conf->protocols = prev->protocols == PT_CONF_UNSET_UINT
                          ? (PT_SSL_TLSv1_2 | PT_SSL_TLSv1_3)
                          : prev->protocols;
    }
    pt_conf_merge_str(conf->ciphers, prev->ciphers, DEFAULT_CIPHERS);
    pt_conf_merge_str(conf->certificate, prev->certificate, "");
    pt_conf_merge_str(conf->certificate_key, prev->certificate_key, "");
    pt_conf_merge_str(conf->password_file, prev->password_file, "");
    pt_conf_merge_str(conf->crl, prev->crl, "");
    pt_conf_merge_ptr(conf->conf_commands, prev->conf_commands, NULL);
    pt_conf_merge_value(conf->session_reuse, prev->session_reuse, 1);

    if (conf->https != 1 && conf->https != PT_PROXY_SSL_MAYBE) {
        return PT_CONF_OK;
    }
    if (prev->ctx != NULL && prev->https == conf->https
        && prev->file == conf->file
        && prev->line == conf->line)
    {
        /* an "if" inside the location: the same proxy_pass, one context */
        conf->ctx = prev->ctx;
        conf->log = prev->log;
        conf->sessions = prev->sessions;
        return PT_CONF_OK;
    }
    return build_ctx(cf, conf) == PT_OK ? PT_CONF_OK : PT_CONF_ERROR;
}

/* ----------------------------------------------------------- run time */

static proxy_ssl_conf_t *
loc_conf(pt_http_request_t *r)
{
    return pt_http_get_module_loc_conf(r, pt_http_proxy_ssl_module);
}

int
pt_proxy_ssl_enabled(pt_http_request_t *r)
{
    proxy_ssl_conf_t *c = loc_conf(r);

    return c->https > 0 && c->ctx != NULL;
}

static session_slot_t *
find_slot(proxy_ssl_conf_t *c, const struct sockaddr *sa, socklen_t len,
          int make)
{
    session_slot_t *s;
    pt_uint_t       i;

    for (i = 0; i < SESSION_SLOTS; i++) {
        s = &c->sessions[i];
        if (s->socklen == len && memcmp(&s->addr, sa, len) == 0) {
            return s;
        }
    }
    if (!make) {
        return NULL;
    }
    /* a new peer takes the next slot in turn */
    s = &c->sessions[c->next_slot++ % SESSION_SLOTS];
    if (s->session != NULL) {
        SSL_SESSION_free(s->session);
        s->session = NULL;
    }
    memcpy(&s->addr, sa, len);
    s->socklen = len;
    return s;
}

/* A session to resume later arrived (after the handshake in TLS 1.2, with
 * a ticket in TLS 1.3): it replaces the peer's previous one. 1: kept. */
static int
new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    conn_peer_t    *cp = SSL_get_ex_data(ssl, peer_index);
    session_slot_t *s;

    if (cp == NULL || cp->conf->sessions == NULL
        || !SSL_SESSION_is_resumable(sess))
    {
        return 0;
    }
    s = find_slot(cp->conf, (struct sockaddr *) &cp->addr, cp->socklen, 1);
    if (s->session != NULL) {
        SSL_SESSION_free(s->session);
    }
    s->session = sess;
    return 1;
}

/* proxy_ssl_name, or $proxy_host, without a port (and brackets). */
static int
ssl_name(pt_proxy_ctx_t *ctx, proxy_ssl_conf_t *c, pt_str_t *name)
{
    u_char *p;

    if (c->name != NULL) {
        if (pt_http_complex_value(ctx->r, c->name, name) != PT_OK) {
            return PT_ERROR;
        }
    } else {
        *name = ctx->host_header;
    }
    if (name->len > 0 && name->data[0] == '[') {
        p = memchr(name->data, ']', name->len);
        if (p != NULL) {
            name->data++;
            name->len = (size_t) (p - name->data);
        }
        return PT_OK;
    }
    p = memchr(name->data, ':', name->len);
    if (p != NULL) {
        name->len = (size_t) (p - name->data);
    }
    return PT_OK;
}

static int
is_address(const char *name)
{
    u_char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, name, buf) == 1
           || inet_pton(AF_INET6, name, buf) == 1;
}

/* The TLS state of an upstream connection, in a pool of its own (upstream
 * connections have none until TLS needs one; it goes with the connection,
 * pt_conn_close). */
static int
tls_state(pt_connection_t *pcn, proxy_ssl_conf_t *c)
{
    if (pcn->pool == NULL) {
        pcn->pool = pt_pool_create(CONN_POOL_SIZE, c->log);
        if (pcn->pool == NULL) {
            return PT_ERROR;
        }
    }
    return pt_tls_create(pcn, c->ctx, 0, 0);
}

/* The TLS state of a new upstream connection: SNI, the name to check,
 * the peer's last session. */
static int
create(pt_proxy_ctx_t *ctx, proxy_ssl_conf_t *c, pt_connection_t *pcn)
{
    pt_peer_connection_t *pc = &ctx->u->peer;
    pt_tls_t             *tls;
    conn_peer_t          *cp;
    session_slot_t       *s;
    pt_str_t              name;
    char                 *host;

    if (tls_state(pcn, c) != PT_OK || ssl_name(ctx, c, &name) != PT_OK) {
        return PT_ERROR;
    }
    tls = pcn->tls;
    cp = pt_pcalloc(pcn->pool, sizeof(conn_peer_t));
    host = pt_pnalloc(pcn->pool, name.len + 1);
    if (cp == NULL || host == NULL || pc->socklen > sizeof(cp->addr)) {
        return PT_ERROR;
    }
    memcpy(host, name.data, name.len);
    host[name.len] = '\0';
    cp->conf = c;
    memcpy(&cp->addr, pc->sockaddr, pc->socklen);
    cp->socklen = pc->socklen;
    if (SSL_set_ex_data(tls->ssl, peer_index, cp) != 1) {
        return PT_ERROR;
    }
    /* RFC 6066: no address as a server name */
    if (c->server_name && name.len > 0 && !is_address(host)
        && SSL_set_tlsext_host_name(tls->ssl, host) != 1)
    {
        pt_tls_error(PT_LOG_ERR, &ctx->log, 0, "SSL_set_tlsext_host_name"
                     "(\"%s\") failed", host);
        return PT_ERROR;
    }
    tls->data = host;    /* for the certificate's name check */
    if (c->session_reuse) {
        s = find_slot(c, pc->sockaddr, pc->socklen, 0);
        if (s != NULL && s->session != NULL
            && SSL_set_session(tls->ssl, s->session) != 1)
        {
            ERR_clear_error();
        }
    }
    return PT_OK;
}

/* proxy_ssl_verify: the chain, then the name, in nginx's words. */
static int
check_peer(pt_log_t *log, proxy_ssl_conf_t *c, pt_tls_t *tls)
{
    const char *host = tls->data;
    X509       *cert;
    long        rc;
    int         ok;

    if (!c->verify) {
        return PT_OK;
    }
    rc = SSL_get_verify_result(tls->ssl);
    if (rc != X509_V_OK) {
        pt_log_error(PT_LOG_ERR, log, 0, "upstream SSL certificate "
                     "verify error: (%ld:%s)", rc,
                     X509_verify_cert_error_string(rc));
        return PT_ERROR;
    }
    cert = SSL_get1_peer_certificate(tls->ssl);
    if (cert == NULL) {
        pt_log_error(PT_LOG_ERR, log, 0, "upstream SSL certificate "
                     "verify error: (0:no certificate)");
        return PT_ERROR;
    }
    ok = is_address(host) ? X509_check_ip_asc(cert, host, 0) == 1
                          : X509_check_host(cert, host, 0, 0, NULL) == 1;
    X509_free(cert);
    if (!ok) {
        pt_log_error(PT_LOG_ERR, log, 0, "upstream SSL certificate "
                     "does not match \"%s\"", host);
        return PT_ERROR;
    }
    return PT_OK;
}

/* A connect still in progress when an event came: did it fail? */
static int
connect_failed(pt_proxy_ctx_t *ctx, pt_connection_t *pcn)
{
    int       err = 0;
    socklen_t len = sizeof(err);

    if (getsockopt(pcn->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1) {
        err = errno;
    }
    if (err != 0) {
        pt_log_error(PT_LOG_ERR, &ctx->log, err, "connect() failed");
        return 1;
    }
    return 0;
}

static void
handshake_done(pt_connection_t *c, int rc)
{
    /* not used: the proxy's own handlers drive the handshake */
    (void) c;
    (void) rc;
}

int
pt_proxy_ssl_connect(pt_proxy_ctx_t *ctx)
{
    pt_connection_t    *pcn = ctx->u->peer.connection;
    proxy_ssl_conf_t   *c = loc_conf(ctx->r);
    pt_event_handler_pt rh, wh;
    pt_tls_t           *tls = pcn->tls;
    int                 rc;

    if (ctx->schema.len != sizeof("https://") - 1 || c->ctx == NULL
        || (tls != NULL && tls->done))
    {
        return PT_OK;
    }
    if (tls == NULL) {
        if (!ctx->connected && connect_failed(ctx, pcn)) {
            return PT_ERROR;
        }
        ctx->connected = 0;
        ctx->action = "SSL handshaking to upstream";
        if (create(ctx, c, pcn) != PT_OK) {
            return PT_ERROR;
        }
        tls = pcn->tls;
        if (!pcn->write->timer_set) {
            /* proxy_connect_timeout bounds connect and handshake */
            pt_timer_add(pcn->write, ctx->conf->connect_timeout);
        }
    }
    rh = pcn->read->handler;
    wh = pcn->write->handler;
    rc = pt_tls_handshake(pcn, handshake_done);
    pcn->read->handler = rh;
    pcn->write->handler = wh;
    if (rc != PT_OK) {
        return rc;
    }
    if (check_peer(&ctx->log, c, tls) != PT_OK) {
        tls->no_shutdown = 1;
        return PT_ERROR;
    }
    ctx->connected = 1;
    ctx->action = "connecting to upstream";
    return PT_OK;
}

/* ------------------------------------------------------------------ I/O */

/* A connection-layer result as a syscall's: PT_AGAIN is EAGAIN, PT_ERROR
 * (logged by TLS) is EIO. */
static ssize_t
as_syscall(ssize_t n)
{
    if (n == PT_AGAIN) {
        errno = EAGAIN;
        return -1;
    }
    if (n < 0) {
        errno = EIO;
        return -1;
    }
    return n;
}

ssize_t
pt_proxy_io_recv(pt_connection_t *c, u_char *buf, size_t size)
{
    if (c->tls == NULL) {
        return recv(c->fd, buf, size, 0);
    }
    return as_syscall(c->recv(c, buf, size));
}

ssize_t
pt_proxy_io_send(pt_connection_t *c, const u_char *buf, size_t size)
{
    if (c->tls == NULL) {
        return send(c->fd, buf, size, MSG_NOSIGNAL);
    }
    return as_syscall(c->send(c, buf, size));
}

ssize_t
pt_proxy_io_writev(pt_connection_t *c, const struct iovec *iov, int iovcnt)
{
    if (c->tls == NULL) {
        return writev(c->fd, iov, iovcnt);
    }
    return as_syscall(c->writev(c, iov, iovcnt));
}

ssize_t
pt_proxy_io_sendfile(pt_connection_t *c, int fd, off_t *offset, size_t size)
{
    if (c->tls == NULL) {
        return sendfile(c->fd, fd, offset, size);
    }
    return as_syscall(c->sendfile(c, fd, offset, size));
}

/* ------------------------------------------------------- health probes */

/* The probe's name: a proxy_ssl_name without variables, else the group's
 * name ($proxy_host of an upstream block), NUL-terminated in pcn->pool. */
static char *
probe_name(pt_connection_t *pcn, proxy_ssl_conf_t *c, const pt_str_t *host)
{
    const pt_str_t *v = host;
    char           *name;

    if (c->name != NULL && !c->name->has_vars) {
        v = &c->name->value;
    }
    name = pt_pnalloc(pcn->pool, v->len + 1);
    if (name != NULL) {
        memcpy(name, v->data, v->len);
        name[v->len] = '\0';
    }
    return name;
}

int
pt_proxy_ssl_probe(pt_connection_t *pcn, void **loc_conf,
                   const pt_str_t *host, pt_event_handler_pt read_handler,
                   pt_log_t *log)
{
    proxy_ssl_conf_t   *c = loc_conf[pt_http_proxy_ssl_module.index];
    pt_tls_t           *tls = pcn->tls;
    pt_event_handler_pt wh = pcn->write->handler;
    char               *name;
    int                 rc;

    if (c->https != 1 || c->ctx == NULL || (tls != NULL && tls->done)) {
        return PT_OK;
    }
    if (tls == NULL) {
        if (tls_state(pcn, c) != PT_OK
            || (name = probe_name(pcn, c, host)) == NULL)
        {
            return PT_ERROR;
        }
        tls = pcn->tls;
        tls->data = name;
        if (c->server_name && *name != '\0' && !is_address(name)
            && SSL_set_tlsext_host_name(tls->ssl, name) != 1)
        {
            return PT_ERROR;
        }
    }
    pcn->log = log;
    rc = pt_tls_handshake(pcn, handshake_done);
    /* until it is done, either event goes on with it (the write handler) */
    pcn->write->handler = wh;
    pcn->read->handler = rc == PT_AGAIN ? wh : read_handler;
    if (rc == PT_OK && check_peer(log, c, tls) != PT_OK) {
        tls->no_shutdown = 1;
        return PT_ERROR;
    }
    return rc;
}

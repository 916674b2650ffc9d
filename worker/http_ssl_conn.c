/*
 * The http ssl module at run time: TLS or plain HTTP on an ssl port, the
 * handshake start and end, SNI choosing the server and its certificate,
 * ALPN, the stapled OCSP response, the request checks nginx makes
 * (497, 495, 496, 421) and the $ssl_* variables.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/pool.h"
#include "conn.h"
#include "event.h"
#include "http.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_server_name.h"
#include "http_ssl.h"
#include "http_ssl_conf.h"
#include "http_variables.h"
#include "tls.h"

int pt_http_ssl_ctx_index = -1;

/* What SNI chose, for the Host check and $ssl_server_name (c->pool). */
typedef struct {
    pt_http_srv_conf_t *server;
    pt_str_t            name;
    unsigned            matched:1;   /* a server_name matched the name */
} sni_t;

static pt_http_ssl_srv_conf_t *
ssl_conf_of(pt_http_srv_conf_t *scf)
{
    return scf->ctx->srv_conf[pt_http_ssl_module.index];
}

static void handshake_done(pt_connection_t *c, int rc);

static void
start_tls(pt_connection_t *c)
{
    pt_http_connection_t   *hc = c->data;
    pt_http_ssl_srv_conf_t *sscf = ssl_conf_of(hc->addr->default_server);
    int                     rc;

    if (sscf->ctx == NULL
        || pt_tls_create(c, sscf->ctx, 1, sscf->buffer_size) != PT_OK)
    {
        pt_http_close_connection(c);
        return;
    }
    rc = pt_tls_handshake(c, handshake_done);
    if (rc != PT_AGAIN) {
        handshake_done(c, rc);
    }
}

void
pt_http_ssl_handshake_handler(pt_event_t *ev)
{
    pt_connection_t      *c = ev->data;
    pt_http_connection_t *hc = c->data;
    u_char                b;
    ssize_t               n;

    if (ev->timedout || c->close) {
        pt_http_close_connection(c);
        return;
    }
    do {
        n = recv(c->fd, &b, 1, MSG_PEEK);
    } while (n == -1 && errno == EINTR);

    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        ev->ready = 0;
        return;    /* the timer set at accept bounds the wait */
    }
    if (n == -1) {
        pt_conn_error(c, errno, "recv()");
        pt_http_close_connection(c);
        return;
    }
    if (n == 0) {
        pt_log_error(PT_LOG_INFO, c->log, 0, "client closed connection "
                     "while SSL handshaking, client: %.*s",
                     (int) c->addr_text.len, c->addr_text.data);
        pt_http_close_connection(c);
        return;
    }
    /* a TLS record starts with 0x16 (handshake); 0x80 marks an SSLv2
     * hello. Anything else is plain text: answered with 497 later. */
    if (b == 0x16 || (b & 0x80)) {
        start_tls(c);
        return;
    }
    hc->plain_http = 1;
    ev->handler = pt_http_wait_request_handler;
    pt_http_wait_request_handler(ev);
}

static void
handshake_done(pt_connection_t *c, int rc)
{
    pt_tls_t               *tls = c->tls;
    sni_t                  *sni;
    pt_http_ssl_srv_conf_t *sscf;

    if (rc != PT_OK) {
        pt_http_close_connection(c);
        return;
    }
    sni = tls->data;
    if (sni != NULL && sni->server != NULL && tls->buf == NULL) {
        sscf = ssl_conf_of(sni->server);
        tls->buf_size = sscf->buffer_size;
    }
    c->read->handler = pt_http_wait_request_handler;
    c->write->handler = pt_event_empty_handler;
    pt_http_wait_request_handler(c->read);
}

/* Switch the connection to the context of the server SNI picked, with
 * its verify settings and options (the cipher list stays the one the
 * handshake began with, as with nginx). */
static void
switch_ctx(SSL *ssl, SSL_CTX *ctx)
{
    if (SSL_get_SSL_CTX(ssl) == ctx) {
        return;
    }
    SSL_set_SSL_CTX(ssl, ctx);
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx),
                   SSL_CTX_get_verify_callback(ctx));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
    SSL_clear_options(ssl, SSL_get_options(ssl) & ~SSL_CTX_get_options(ctx));
    SSL_set_options(ssl, SSL_CTX_get_options(ctx));
    /* the count was copied from the first context (none when that server
     * keeps no sessions) */
    (void) SSL_set_num_tickets(ssl, SSL_CTX_get_num_tickets(ctx));
}

int
pt_http_ssl_servername_cb(SSL *ssl, int *ad, void *arg)
{
    pt_connection_t        *c = SSL_get_ex_data(ssl, pt_tls_conn_index);
    pt_http_connection_t   *hc;
    pt_http_srv_conf_t     *scf = NULL;
    pt_http_ssl_srv_conf_t *sscf;
    pt_regex_t             *re;
    pt_tls_t               *tls;
    sni_t                  *sni;
    const char             *name;
    ssize_t                 len;
    int                     caps[30];

    if (c == NULL || c->listening == NULL) {
        return SSL_TLSEXT_ERR_NOACK;   /* not ours (a client side) */
    }
    hc = c->data;
    tls = c->tls;
    name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    sni = pt_pcalloc(c->pool, sizeof(sni_t));
    if (sni == NULL) {
        *ad = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    tls->data = sni;
    if (name != NULL && *name != '\0') {
        len = (ssize_t) strlen(name);
        sni->name.data = pt_pnalloc(c->pool, (size_t) len);
        if (sni->name.data == NULL) {
            *ad = SSL_AD_INTERNAL_ERROR;
            return SSL_TLSEXT_ERR_ALERT_FATAL;
        }
        len = pt_http_server_name_normalize((const u_char *) name,
                                            (size_t) len, sni->name.data);
        if (len > 0) {
            sni->name.len = (size_t) len;
            if (hc->addr->names != NULL) {
                scf = pt_http_server_names_find(hc->addr->names,
                                                sni->name.data, sni->name.len,
                                                caps, 10, &re);
            }
        }
    }
    sni->matched = scf != NULL;
    if (scf == NULL) {
        scf = hc->addr->default_server;
    }
    sni->server = scf;
    sscf = ssl_conf_of(scf);
    if (sscf->reject_handshake) {
        tls->rejected = 1;
        *ad = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    if (sscf->ctx != NULL) {
        switch_ctx(ssl, sscf->ctx);
    }
    return name != NULL ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_NOACK;
}

/* ALPN: HTTP/1.x only (no h2 yet); a client that offers none of them is
 * refused, as nginx refuses one offering only unknown protocols. */
int
pt_http_ssl_alpn_cb(SSL *ssl, const unsigned char **out,
                    unsigned char *outlen, const unsigned char *in,
                    unsigned int inlen, void *arg)
{
    static const unsigned char ours[] =
        "\x08http/1.1\x08http/1.0\x08http/0.9";
    unsigned char *sel;

    if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in,
                              inlen) != OPENSSL_NPN_NEGOTIATED)
    {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* The stapled response, when the client asked for one. */
int
pt_http_ssl_status_cb(SSL *ssl, void *arg)
{
    pt_http_ssl_srv_conf_t *sscf;
    u_char                 *p;

    sscf = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pt_http_ssl_ctx_index);
    if (sscf == NULL || sscf->ocsp == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    /* OpenSSL frees it with the connection */
    p = OPENSSL_malloc(sscf->ocsp_len);
    if (p == NULL) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    memcpy(p, sscf->ocsp, sscf->ocsp_len);
    if (SSL_set_tlsext_status_ocsp_resp(ssl, p, (long) sscf->ocsp_len) != 1) {
        OPENSSL_free(p);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

/* Errors ssl_verify_client optional_no_ca lets through. */
static int
optional_error(long rc)
{
    return rc == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
           || rc == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
           || rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
           || rc == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
           || rc == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

int
pt_http_ssl_check_request(pt_http_request_t *r)
{
    pt_connection_t        *c = r->connection;
    pt_http_connection_t   *hc = c->data;
    pt_http_ssl_srv_conf_t *sscf;
    pt_tls_t               *tls = c->tls;
    X509                   *cert;
    long                    rc;

    if (hc->plain_http) {
        pt_log_error(PT_LOG_INFO, c->log, 0, "client sent plain HTTP "
                     "request to HTTPS port");
        pt_http_finalize_request(r, PT_HTTP_TO_HTTPS);
        return PT_ERROR;
    }
    if (tls == NULL) {
        return PT_OK;
    }
    sscf = pt_http_get_module_srv_conf(r, pt_http_ssl_module);
    if (sscf->verify == PT_SSL_VERIFY_OFF) {
        return PT_OK;
    }
    rc = SSL_get_verify_result(tls->ssl);
    cert = SSL_get0_peer_certificate(tls->ssl);
    if (cert != NULL && rc != X509_V_OK
        && (sscf->verify != PT_SSL_VERIFY_OPTIONAL_NO_CA
            || !optional_error(rc)))
    {
        pt_log_error(PT_LOG_INFO, c->log, 0, "client SSL certificate verify "
                     "error: (%ld:%s)", rc, X509_verify_cert_error_string(rc));
        SSL_CTX_remove_session(SSL_get_SSL_CTX(tls->ssl),
                               SSL_get_session(tls->ssl));
        pt_http_finalize_request(r, PT_HTTPS_CERT_ERROR);
        return PT_ERROR;
    }
    if (sscf->verify == PT_SSL_VERIFY_ON && cert == NULL) {
        pt_log_error(PT_LOG_INFO, c->log, 0, "client sent no required SSL "
                     "certificate");
        SSL_CTX_remove_session(SSL_get_SSL_CTX(tls->ssl),
                               SSL_get_session(tls->ssl));
        pt_http_finalize_request(r, PT_HTTPS_NO_CERT);
        return PT_ERROR;
    }
    return PT_OK;
}

int
pt_http_ssl_check_server(pt_http_request_t *r, pt_http_srv_conf_t *scf)
{
    pt_tls_t               *tls = r->connection->tls;
    sni_t                  *sni;
    pt_str_t               *host = &r->headers_in.server;
    pt_http_ssl_srv_conf_t *sscf;

    /* only a name that chose a server counts, as in nginx */
    if (tls == NULL || (sni = tls->data) == NULL || !sni->matched) {
        return PT_OK;
    }
    if (sni->name.len == host->len
        && memcmp(sni->name.data, host->data, host->len) == 0)
    {
        return PT_OK;
    }
    sscf = ssl_conf_of(scf);
    if (sscf->verify != PT_SSL_VERIFY_OFF) {
        pt_log_error(PT_LOG_INFO, r->connection->log, 0, "client attempted "
                     "to request the server name different from the one "
                     "that was negotiated");
        pt_http_finalize_request(r, PT_HTTP_MISDIRECTED_REQUEST);
        return PT_ERROR;
    }
    return PT_OK;
}

/* --- variables ---------------------------------------------------------- */

static int
not_found(pt_http_variable_value_t *v)
{
    v->not_found = 1;
    return PT_OK;
}

static int
set_cstr(pt_http_request_t *r, pt_http_variable_value_t *v, const char *s)
{
    pt_str_t  in;
    u_char   *p;

    if (s == NULL) {
        return not_found(v);
    }
    in.data = (u_char *) s;
    in.len = strlen(s);
    p = pt_pstrdup(r->pool, &in);
    if (p == NULL) {
        return PT_ERROR;
    }
    return pt_http_variable_value_set(v, p, in.len);
}

static SSL *
ssl_of(pt_http_request_t *r)
{
    pt_tls_t *tls = r->connection->tls;

    return tls != NULL ? tls->ssl : NULL;
}

static int
hex_value(pt_http_request_t *r, pt_http_variable_value_t *v,
          const u_char *bin, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    u_char           *p;
    size_t            i;

    p = pt_pnalloc(r->pool, n * 2 + 1);
    if (p == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < n; i++) {
        p[2 * i] = (u_char) hex[bin[i] >> 4];
        p[2 * i + 1] = (u_char) hex[bin[i] & 0xf];
    }
    return pt_http_variable_value_set(v, p, n * 2);
}

/* The contents of a memory BIO as the value. */
static int
bio_value(pt_http_request_t *r, pt_http_variable_value_t *v, BIO *bio)
{
    char   *data;
    long    len = BIO_get_mem_data(bio, &data);
    u_char *p;

    if (len < 0) {
        BIO_free(bio);
        return PT_ERROR;
    }
    p = pt_pnalloc(r->pool, (size_t) len + 1);
    if (p == NULL) {
        BIO_free(bio);
        return PT_ERROR;
    }
    memcpy(p, data, (size_t) len);
    BIO_free(bio);
    return pt_http_variable_value_set(v, p, (size_t) len);
}

enum {
    VAR_PROTOCOL, VAR_CIPHER, VAR_SERVER_NAME, VAR_REUSED, VAR_SESSION_ID,
    VAR_VERIFY, VAR_S_DN, VAR_I_DN, VAR_FINGERPRINT, VAR_CERT, VAR_RAW_CERT,
    VAR_SERIAL, VAR_ALPN
};

static int
var_session(pt_http_request_t *r, pt_http_variable_value_t *v,
            uintptr_t data)
{
    SSL                *ssl = ssl_of(r);
    pt_tls_t           *tls = r->connection->tls;
    sni_t              *sni;
    const u_char       *p;
    unsigned int        n;

    if (ssl == NULL) {
        return not_found(v);
    }
    switch (data) {
    case VAR_PROTOCOL:
        return set_cstr(r, v, SSL_get_version(ssl));
    case VAR_CIPHER:
        return set_cstr(r, v, SSL_get_cipher_name(ssl));
    case VAR_SERVER_NAME:
        sni = tls->data;
        if (sni == NULL || sni->name.len == 0) {
            return not_found(v);
        }
        return pt_http_variable_value_set(v, sni->name.data, sni->name.len);
    case VAR_REUSED:
        return pt_http_variable_value_set(v, (u_char *)
                   (SSL_session_reused(ssl) ? "r" : "."), 1);
    case VAR_SESSION_ID:
        if (SSL_get_session(ssl) == NULL) {
            return not_found(v);
        }
        p = SSL_SESSION_get_id(SSL_get_session(ssl), &n);
        return hex_value(r, v, p, n);
    case VAR_ALPN:
        SSL_get0_alpn_selected(ssl, &p, &n);
        if (n == 0) {
            return not_found(v);
        }
        return pt_http_variable_value_set(v, (u_char *) p, n);
    }
    return not_found(v);
}

static int
var_verify(pt_http_request_t *r, SSL *ssl, pt_http_variable_value_t *v)
{
    const char *s;
    u_char     *p;
    size_t      len;
    long        rc = SSL_get_verify_result(ssl);

    if (SSL_get0_peer_certificate(ssl) == NULL) {
        return pt_http_variable_value_set(v, (u_char *) "NONE", 4);
    }
    if (rc == X509_V_OK) {
        return pt_http_variable_value_set(v, (u_char *) "SUCCESS", 7);
    }
    s = X509_verify_cert_error_string(rc);
    len = sizeof("FAILED:") - 1 + strlen(s);
    p = pt_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return PT_ERROR;
    }
    memcpy(p, "FAILED:", 7);
    memcpy(p + 7, s, len - 7);
    return pt_http_variable_value_set(v, p, len);
}

/* PEM with every line after the first indented by a tab (the old form
 * of $ssl_client_cert, fit for a header value). */
static int
var_cert_tabbed(pt_http_request_t *r, pt_http_variable_value_t *v)
{
    size_t  i, n = 0, len = v->len;
    u_char *p, *src = v->data;

    if (len > 0 && src[len - 1] == '\n') {
        len--;
    }
    for (i = 0; i < len; i++) {
        n += src[i] == '\n';
    }
    p = pt_pnalloc(r->pool, len + n + 1);
    if (p == NULL) {
        return PT_ERROR;
    }
    v->data = p;
    v->len = len + n;
    for (i = 0; i < len; i++) {
        *p++ = src[i];
        if (src[i] == '\n') {
            *p++ = '\t';
        }
    }
    return PT_OK;
}

static int
var_client(pt_http_request_t *r, pt_http_variable_value_t *v,
           uintptr_t data)
{
    SSL          *ssl = ssl_of(r);
    X509         *cert;
    BIO          *bio;
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  mdlen;

    if (ssl == NULL) {
        return not_found(v);
    }
    if (data == VAR_VERIFY) {
        return var_verify(r, ssl, v);
    }
    cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL) {
        return pt_http_variable_value_set(v, (u_char *) "", 0);
    }
    if (data == VAR_FINGERPRINT) {
        if (X509_digest(cert, EVP_sha1(), md, &mdlen) != 1) {
            return PT_ERROR;
        }
        return hex_value(r, v, md, mdlen);
    }
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return PT_ERROR;
    }
    switch (data) {
    case VAR_S_DN:
        (void) X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
                                  XN_FLAG_RFC2253);
        break;
    case VAR_I_DN:
        (void) X509_NAME_print_ex(bio, X509_get_issuer_name(cert), 0,
                                  XN_FLAG_RFC2253);
        break;
    case VAR_SERIAL:
        (void) i2a_ASN1_INTEGER(bio, X509_get0_serialNumber(cert));
        break;
    default:
        (void) PEM_write_bio_X509(bio, cert);
    }
    if (bio_value(r, v, bio) != PT_OK) {
        return PT_ERROR;
    }
    return data == VAR_CERT ? var_cert_tabbed(r, v) : PT_OK;
}

int
pt_http_ssl_vars_init(pt_conf_t *cf)
{
    static const pt_http_variable_def_t vars[] = {
        { "ssl_protocol", var_session, VAR_PROTOCOL },
        { "ssl_cipher", var_session, VAR_CIPHER },
        { "ssl_server_name", var_session, VAR_SERVER_NAME },
        { "ssl_session_reused", var_session, VAR_REUSED },
        { "ssl_session_id", var_session, VAR_SESSION_ID },
        { "ssl_alpn_protocol", var_session, VAR_ALPN },
        { "ssl_client_verify", var_client, VAR_VERIFY },
        { "ssl_client_s_dn", var_client, VAR_S_DN },
        { "ssl_client_i_dn", var_client, VAR_I_DN },
        { "ssl_client_fingerprint", var_client, VAR_FINGERPRINT },
        { "ssl_client_cert", var_client, VAR_CERT },
        { "ssl_client_raw_cert", var_client, VAR_RAW_CERT },
        { "ssl_client_serial", var_client, VAR_SERIAL },
    };

    return pt_http_add_variables(cf, vars, pt_nelems(vars));
}

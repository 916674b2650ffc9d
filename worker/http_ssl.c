/*
 * The http ssl module: the ssl_* directives (http and server levels), one
 * SSL_CTX per server on a `listen ... ssl` address, built when the config
 * is read so that a reload picks up renewed certificates while old workers
 * keep the contexts of their own cycle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/array.h"
#include "common/cycle.h"
#include "common/log.h"
#include "common/pool.h"
#include "common/shm.h"
#include "http.h"
#include "http_core.h"
#include "http_ssl_conf.h"
#include "tls.h"
#include "tls_session.h"

/* AEAD suites with forward secrecy for TLS 1.2 (TLS 1.3 has only AEAD):
 * Mozilla's "intermediate" list without DHE. */
#define DEFAULT_CIPHERS                                                       \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"              \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"              \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define BUILTIN_CACHE_DEFAULT 20480
#define PASSWORDS_MAX         64

static void *create_srv_conf(pt_conf_t *cf);
static char *merge_srv_conf(pt_conf_t *cf, void *parent, void *child);
static int postconfiguration(pt_conf_t *cf);
static char *set_session_cache(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_file_list(pt_conf_t *cf, pt_command_t *cmd, void *conf);
static char *set_ssl(pt_conf_t *cf, pt_command_t *cmd, void *conf);

static pt_conf_enum_t protocols[] = {
    { "SSLv2", PT_SSL_SSLv2 },
    { "SSLv3", PT_SSL_SSLv3 },
    { "TLSv1", PT_SSL_TLSv1 },
    { "TLSv1.1", PT_SSL_TLSv1_1 },
    { "TLSv1.2", PT_SSL_TLSv1_2 },
    { "TLSv1.3", PT_SSL_TLSv1_3 },
    { NULL, 0 }
};

static pt_conf_enum_t verify_modes[] = {
    { "off", PT_SSL_VERIFY_OFF },
    { "on", PT_SSL_VERIFY_ON },
    { "optional", PT_SSL_VERIFY_OPTIONAL },
    { "optional_no_ca", PT_SSL_VERIFY_OPTIONAL_NO_CA },
    { NULL, 0 }
};

static pt_conf_bounds_t depth_bounds = { 0, 100 };

#define SSL_CTX_ (PT_CONF_HTTP | PT_CONF_SERVER)
#define SRV(f) offsetof(pt_http_ssl_srv_conf_t, f)

static pt_command_t ssl_commands[] = {
    { "ssl", SSL_CTX_ | PT_CONF_FLAG, set_ssl, PT_CONF_SRV_OFFSET,
      SRV(enable), NULL },
    { "ssl_certificate", SSL_CTX_ | PT_CONF_TAKE1, set_file_list,
      PT_CONF_SRV_OFFSET, SRV(certificates), NULL },
    { "ssl_certificate_key", SSL_CTX_ | PT_CONF_TAKE1, set_file_list,
      PT_CONF_SRV_OFFSET, SRV(certificate_keys), NULL },
    { "ssl_password_file", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(password_file), NULL },
    { "ssl_protocols", SSL_CTX_ | PT_CONF_1MORE, pt_conf_set_bitmask,
      PT_CONF_SRV_OFFSET, SRV(protocols), protocols },
    { "ssl_ciphers", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(ciphers), NULL },
    { "ssl_conf_command", SSL_CTX_ | PT_CONF_TAKE2,
      pt_http_ssl_set_conf_command,
      PT_CONF_SRV_OFFSET, SRV(conf_commands), NULL },
    { "ssl_prefer_server_ciphers", SSL_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_SRV_OFFSET, SRV(prefer_server_ciphers), NULL },
    { "ssl_ecdh_curve", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(ecdh_curve), NULL },
    { "ssl_dhparam", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(dhparam), NULL },
    { "ssl_session_cache", SSL_CTX_ | PT_CONF_TAKE12, set_session_cache,
      PT_CONF_SRV_OFFSET, 0, NULL },
    { "ssl_session_timeout", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_sec,
      PT_CONF_SRV_OFFSET, SRV(session_timeout), NULL },
    { "ssl_session_tickets", SSL_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_SRV_OFFSET, SRV(session_tickets), NULL },
    { "ssl_session_ticket_key", SSL_CTX_ | PT_CONF_TAKE1, set_file_list,
      PT_CONF_SRV_OFFSET, SRV(ticket_key_files), NULL },
    { "ssl_stapling", SSL_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_SRV_OFFSET, SRV(stapling), NULL },
    { "ssl_stapling_file", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(stapling_file), NULL },
    { "ssl_stapling_verify", SSL_CTX_ | PT_CONF_FLAG, pt_conf_set_noop,
      PT_CONF_SRV_OFFSET, 0, NULL },
    { "ssl_client_certificate", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(client_certificate), NULL },
    { "ssl_trusted_certificate", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(trusted_certificate), NULL },
    { "ssl_crl", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_str,
      PT_CONF_SRV_OFFSET, SRV(crl), NULL },
    { "ssl_verify_client", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_enum,
      PT_CONF_SRV_OFFSET, SRV(verify), verify_modes },
    { "ssl_verify_depth", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_num,
      PT_CONF_SRV_OFFSET, SRV(verify_depth), &depth_bounds },
    { "ssl_reject_handshake", SSL_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_SRV_OFFSET, SRV(reject_handshake), NULL },
    { "ssl_buffer_size", SSL_CTX_ | PT_CONF_TAKE1, pt_conf_set_size,
      PT_CONF_SRV_OFFSET, SRV(buffer_size), NULL },
    { "ssl_early_data", SSL_CTX_ | PT_CONF_FLAG, pt_conf_set_flag,
      PT_CONF_SRV_OFFSET, SRV(early_data), NULL },
    pt_null_command
};

pt_module_t pt_http_ssl_module = {
    "http_ssl", ssl_commands,
    NULL, NULL,
    create_srv_conf, merge_srv_conf,
    NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, postconfiguration
};

static void *
create_srv_conf(pt_conf_t *cf)
{
    pt_http_ssl_srv_conf_t *sscf;

    sscf = pt_pcalloc(cf->pool, sizeof(pt_http_ssl_srv_conf_t));
    if (sscf == NULL) {
        return NULL;
    }
    sscf->enable = PT_CONF_UNSET;
    sscf->certificates = PT_CONF_UNSET_PTR;
    sscf->certificate_keys = PT_CONF_UNSET_PTR;
    sscf->protocols = PT_CONF_UNSET_UINT;
    sscf->conf_commands = PT_CONF_UNSET_PTR;
    sscf->prefer_server_ciphers = PT_CONF_UNSET;
    sscf->builtin_session_cache = PT_SSL_SCACHE_UNSET;
    sscf->session_timeout = PT_CONF_UNSET;
    sscf->session_tickets = PT_CONF_UNSET;
    sscf->ticket_key_files = PT_CONF_UNSET_PTR;
    sscf->stapling = PT_CONF_UNSET;
    sscf->verify = PT_CONF_UNSET_UINT;
    sscf->verify_depth = PT_CONF_UNSET;
    sscf->reject_handshake = PT_CONF_UNSET;
    sscf->buffer_size = PT_CONF_UNSET_SIZE;
    sscf->early_data = PT_CONF_UNSET;
    return sscf;
}

static char *
merge_srv_conf(pt_conf_t *cf, void *parent, void *child)
{
    pt_http_ssl_srv_conf_t *prev = parent, *conf = child;

    pt_conf_merge_value(conf->enable, prev->enable, 0);
    if (conf->certificates == PT_CONF_UNSET_PTR) {
        conf->certificates = prev->certificates;
        conf->certificate_keys = prev->certificate_keys;
        conf->cert_file = prev->cert_file;
        conf->cert_line = prev->cert_line;
    }
    pt_conf_merge_ptr(conf->certificates, prev->certificates, NULL);
    pt_conf_merge_ptr(conf->certificate_keys, prev->certificate_keys, NULL);
    pt_conf_merge_str(conf->password_file, prev->password_file, "");
    if (conf->protocols == PT_CONF_UNSET_UINT) {
        conf->protocols = prev->protocols == PT_CONF_UNSET_UINT
                          ? (PT_SSL_TLSv1_2 | PT_SSL_TLSv1_3)
                          : prev->protocols;
    }
    pt_conf_merge_str(conf->ciphers, prev->ciphers, DEFAULT_CIPHERS);
    pt_conf_merge_ptr(conf->conf_commands, prev->conf_commands, NULL);
    pt_conf_merge_value(conf->prefer_server_ciphers,
                        prev->prefer_server_ciphers, 0);
    pt_conf_merge_str(conf->ecdh_curve, prev->ecdh_curve, "auto");
    pt_conf_merge_str(conf->dhparam, prev->dhparam, "");
    if (conf->builtin_session_cache == PT_SSL_SCACHE_UNSET) {
        conf->builtin_session_cache = prev->builtin_session_cache;
        conf->shm_zone = prev->shm_zone;
    }
    if (conf->builtin_session_cache == PT_SSL_SCACHE_UNSET) {
        conf->builtin_session_cache = PT_SSL_SCACHE_NONE;
    }
    if (conf->session_timeout == PT_CONF_UNSET) {
        conf->session_timeout = prev->session_timeout == PT_CONF_UNSET
                                ? 300 : prev->session_timeout;
    }
    pt_conf_merge_value(conf->session_tickets, prev->session_tickets, 1);
    if (conf->ticket_key_files == PT_CONF_UNSET_PTR) {
        conf->ticket_file = prev->ticket_file;
        conf->ticket_line = prev->ticket_line;
    }
    pt_conf_merge_ptr(conf->ticket_key_files, prev->ticket_key_files, NULL);
    pt_conf_merge_value(conf->stapling, prev->stapling, 0);
    pt_conf_merge_str(conf->stapling_file, prev->stapling_file, "");
    pt_conf_merge_str(conf->client_certificate, prev->client_certificate,
                      "");
    pt_conf_merge_str(conf->trusted_certificate, prev->trusted_certificate,
                      "");
    pt_conf_merge_str(conf->crl, prev->crl, "");
    if (conf->verify == PT_CONF_UNSET_UINT) {
        conf->verify = prev->verify == PT_CONF_UNSET_UINT
                       ? PT_SSL_VERIFY_OFF : prev->verify;
    }
    pt_conf_merge_value(conf->verify_depth, prev->verify_depth, 1);
    pt_conf_merge_value(conf->reject_handshake, prev->reject_handshake, 0);
    pt_conf_merge_size(conf->buffer_size, prev->buffer_size,
                       PT_TLS_DEFAULT_BUFFER);
    pt_conf_merge_value(conf->early_data, prev->early_data, 0);

    if (conf->early_data) {
        pt_conf_log_error(PT_LOG_WARN, cf, 0, "\"ssl_early_data\" is not "
                          "supported, ignored");
        conf->early_data = 0;
    }
    if (conf->buffer_size < 512) {
        conf->buffer_size = 512;
    }
    return PT_CONF_OK;
}

/* "ssl on": nginx's old form of "listen ... ssl" for every address of the
 * server (removed in nginx 1.25; a warning, as nginx 1.22 gives). */
static char *
set_ssl(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_conf_log_error(PT_LOG_WARN, cf, 0, "the \"ssl\" directive is "
                      "deprecated, use the \"listen ... ssl\" directive "
                      "instead");
    return pt_conf_set_flag(cf, cmd, conf);
}

/* ssl_certificate, ssl_certificate_key, ssl_session_ticket_key: each adds
 * a file to its list (certificates and keys pair by position, as in
 * nginx). Files are read when the context is built: where the first
 * certificate and ticket key are named is kept for messages. */
static char *
set_file_list(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_ssl_srv_conf_t *sscf = conf;
    const char            **file = NULL;
    pt_uint_t              *line = NULL;

    if (cmd->offset == SRV(certificates)) {
        file = &sscf->cert_file;
        line = &sscf->cert_line;
    } else if (cmd->offset == SRV(ticket_key_files)) {
        file = &sscf->ticket_file;
        line = &sscf->ticket_line;
    }
    if (file != NULL && *file == NULL) {
        *file = cf->node->file;
        *line = cf->node->line;
    }
    return pt_conf_set_str_array(cf, cmd, conf);
}

/* ssl_conf_command and proxy_ssl_conf_command: name/value pairs appended
 * to the pt_array_t * at cmd->offset. */
char *
pt_http_ssl_set_conf_command(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_array_t **a = (pt_array_t **) ((char *) conf + cmd->offset);
    pt_str_t    *p;
    pt_uint_t    i;

    if (*a == PT_CONF_UNSET_PTR) {
        *a = pt_array_create(cf->pool, 4, sizeof(pt_str_t));
        if (*a == NULL) {
            return PT_CONF_ERROR;
        }
    }
    for (i = 1; i <= 2; i++) {     /* name, value */
        p = pt_array_push(*a);
        if (p == NULL) {
            return PT_CONF_ERROR;
        }
        *p = cf->args[i];
    }
    return PT_CONF_OK;
}

/* off | none | builtin[:N] | shared:NAME:SIZE, the last two combinable. */
static char *
set_session_cache(pt_conf_t *cf, pt_command_t *cmd, void *conf)
{
    pt_http_ssl_srv_conf_t *sscf = conf;
    pt_str_t               *v, name, size_s;
    pt_uint_t               i;
    ssize_t                 size;
    pt_int_t                n;
    u_char                 *colon;

    if (sscf->builtin_session_cache != PT_SSL_SCACHE_UNSET) {
        return "is duplicate";
    }
    sscf->builtin_session_cache = PT_SSL_SCACHE_NO_BUILTIN;
    for (i = 1; i < cf->nargs; i++) {
        v = &cf->args[i];
        if (pt_str_eq_cstr(v, "off")) {
            sscf->builtin_session_cache = PT_SSL_SCACHE_OFF;
            continue;
        }
        if (pt_str_eq_cstr(v, "none")) {
            sscf->builtin_session_cache = PT_SSL_SCACHE_NONE;
            continue;
        }
        if (pt_str_eq_cstr(v, "builtin")) {
            sscf->builtin_session_cache = BUILTIN_CACHE_DEFAULT;
            continue;
        }
        if (v->len > 8 && memcmp(v->data, "builtin:", 8) == 0) {
            n = pt_atoi(v->data + 8, v->len - 8);
            if (n <= 0) {
                goto invalid;
            }
            sscf->builtin_session_cache = n;
            continue;
        }
        if (v->len > 7 && memcmp(v->data, "shared:", 7) == 0) {
            name.data = v->data + 7;
            colon = memchr(name.data, ':', v->len - 7);
            if (colon == NULL || colon == name.data) {
                goto invalid;
            }
            name.len = (size_t) (colon - name.data);
            size_s.data = colon + 1;
            size_s.len = (size_t) (v->data + v->len - size_s.data);
            size = pt_parse_size(&size_s);
            if (size <= 0) {
                goto invalid;
            }
            sscf->shm_zone = pt_shm_zone_add(cf->pool, &cf->cycle->shm_zones,
                                             &name, (size_t) size,
                                             &pt_http_ssl_module, cf->log);
            if (sscf->shm_zone == NULL) {
                return PT_CONF_ERROR;
            }
            sscf->shm_zone->init = pt_tls_session_zone_init;
            continue;
        }
        goto invalid;
    }
    if (sscf->shm_zone != NULL
        && sscf->builtin_session_cache < PT_SSL_SCACHE_NO_BUILTIN)
    {
        goto invalid;    /* "off shared:..." makes no sense */
    }
    return PT_CONF_OK;

invalid:
    pt_conf_log_error(PT_LOG_EMERG, cf, 0, "invalid session cache \"%.*s\"",
                      (int) cf->args[i].len, cf->args[i].data);
    return PT_CONF_ERROR;
}

void
pt_http_ssl_conf_error(pt_conf_t *cf, const char *file, pt_uint_t line,
                       const char *fmt, ...)
{
    u_char  msg[2048], *p, *end = msg + sizeof(msg) - 1;
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf((char *) msg, sizeof(msg) - 1, fmt, ap);
    va_end(ap);
    p = msg + pt_min((size_t) pt_max(n, 0), sizeof(msg) - 1);
    p = pt_tls_error_text(p, end);
    if (file != NULL) {
        p = pt_slprintf(p, end, " in %s:%lu", file, (unsigned long) line);
    }
    *p = '\0';
    pt_log_error(PT_LOG_EMERG, cf->log, 0, "%s", msg);
}

#define CTX_ERROR(...) pt_http_ssl_conf_error(cf, sscf->cert_file,           \
                                              sscf->cert_line, __VA_ARGS__)

const char *
pt_http_ssl_full_path(pt_conf_t *cf, const pt_str_t *name)
{
    pt_str_t n = *name;

    if (pt_conf_full_name(cf, &n) != PT_OK) {
        return NULL;
    }
    return (const char *) n.data;
}

/* The whole of a small file (key files, passwords, OCSP responses) in
 * cf->pool; NULL (logged, with the nginx wording of `what`) on failure. */
static u_char *
read_small_file(pt_conf_t *cf, const char *path, size_t max, size_t *len)
{
    u_char  *buf;
    ssize_t  n;
    size_t   got = 0;
    int      fd;

    buf = pt_pnalloc(cf->pool, max + 1);
    if (buf == NULL) {
        return NULL;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        pt_conf_log_error(PT_LOG_EMERG, cf, errno, "open() \"%s\" failed",
                          path);
        return NULL;
    }
    while (got <= max) {
        n = read(fd, buf + got, max + 1 - got);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            pt_conf_log_error(PT_LOG_EMERG, cf, errno, "read() \"%s\" failed",
                              path);
            (void) close(fd);
            return NULL;
        }
        if (n == 0) {
            break;
        }
        got += (size_t) n;
    }
    (void) close(fd);
    *len = got;
    return buf;
}

pt_array_t *
pt_http_ssl_read_passwords(pt_conf_t *cf, const pt_str_t *file)
{
    u_char     *buf, *p, *end, *nl;
    size_t      len;
    pt_str_t   *pw;
    pt_array_t *list;

    buf = read_small_file(cf, pt_http_ssl_full_path(cf, file), 65536, &len);
    if (buf == NULL) {
        return NULL;
    }
    list = pt_array_create(cf->pool, 4, sizeof(pt_str_t));
    if (list == NULL) {
        return NULL;
    }
    for (p = buf, end = buf + len; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t) (end - p));
        if (nl == NULL) {
            nl = end;
        }
        len = (size_t) (nl - p);
        if (len > 0 && p[len - 1] == '\r') {
            len--;
        }
        if (len == 0) {
            continue;
        }
        if (list->nelts == PASSWORDS_MAX) {
            break;
        }
        pw = pt_array_push(list);
        if (pw == NULL) {
            return NULL;
        }
        pw->data = p;
        pw->len = len;
    }
    if (list->nelts == 0) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "empty file \"%s\"",
                     pt_http_ssl_full_path(cf, file));
        return NULL;
    }
    return list;
}

/* ssl_password_file: read once per server. */
static int
load_passwords(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf)
{
    if (sscf->password_file.len == 0 || sscf->passwords != NULL) {
        return PT_OK;
    }
    sscf->passwords = pt_http_ssl_read_passwords(cf, &sscf->password_file);
    return sscf->passwords != NULL ? PT_OK : PT_ERROR;
}

/* pem_password_cb: the password in `u`, never a prompt on the terminal. */
int
pt_http_ssl_password_cb(char *buf, int size, int rwflag, void *u)
{
    pt_str_t *pw = u;

    if (pw == NULL || (size_t) size < pw->len) {
        return 0;
    }
    memcpy(buf, pw->data, pw->len);
    return (int) pw->len;
}

static EVP_PKEY *
load_key(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf, const char *path)
{
    pt_str_t *pw = NULL;
    pt_uint_t i, n = 1;
    EVP_PKEY *pkey = NULL;
    BIO      *bio;

    if (sscf->passwords != NULL) {
        pw = sscf->passwords->elts;
        n = sscf->passwords->nelts;
    }
    for (i = 0; i < n && pkey == NULL; i++) {
        bio = BIO_new_file(path, "r");
        if (bio == NULL) {
            CTX_ERROR("cannot load certificate key \"%s\": BIO_new_file() "
                      "failed", path);
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

/* One certificate (with its chain) and its key. */
static int
load_pair(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf, const pt_str_t *cert,
          const pt_str_t *key)
{
    const char *cpath = pt_http_ssl_full_path(cf, cert), *kpath = pt_http_ssl_full_path(cf, key);
    X509       *x, *ca;
    EVP_PKEY   *pkey;
    BIO        *bio;
    unsigned long e;

    if (cpath == NULL || kpath == NULL) {
        return PT_ERROR;
    }
    ERR_clear_error();
    bio = BIO_new_file(cpath, "r");
    if (bio == NULL) {
        CTX_ERROR("cannot load certificate \"%s\": BIO_new_file() failed",
                  cpath);
        return PT_ERROR;
    }
    x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
    if (x == NULL) {
        CTX_ERROR("cannot load certificate \"%s\": PEM_read_bio_X509_AUX() "
                  "failed", cpath);
        BIO_free(bio);
        return PT_ERROR;
    }
    if (SSL_CTX_use_certificate(sscf->ctx, x) != 1) {
        CTX_ERROR("SSL_CTX_use_certificate(\"%s\") failed", cpath);
        X509_free(x);
        BIO_free(bio);
        return PT_ERROR;
    }
    X509_free(x);
    /* the chain: the rest of the file, attached to this certificate */
    if (SSL_CTX_clear_chain_certs(sscf->ctx) != 1) {
        BIO_free(bio);
        return PT_ERROR;
    }
    while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add0_chain_cert(sscf->ctx, ca) != 1) {
            CTX_ERROR("SSL_CTX_add0_chain_cert(\"%s\") failed", cpath);
            X509_free(ca);
            BIO_free(bio);
            return PT_ERROR;
        }
    }
    BIO_free(bio);
    e = ERR_peek_last_error();
    if (ERR_GET_LIB(e) == ERR_LIB_PEM
        && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
    {
        ERR_clear_error();
    } else if (e != 0) {
        CTX_ERROR("cannot load certificate \"%s\": PEM_read_bio_X509() "
                  "failed", cpath);
        return PT_ERROR;
    }

    pkey = load_key(cf, sscf, kpath);
    if (pkey == NULL) {
        return PT_ERROR;
    }
    if (SSL_CTX_use_PrivateKey(sscf->ctx, pkey) != 1) {
        CTX_ERROR("SSL_CTX_use_PrivateKey(\"%s\") failed", kpath);
        EVP_PKEY_free(pkey);
        return PT_ERROR;
    }
    EVP_PKEY_free(pkey);
    return PT_OK;
}

static int
load_certificates(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf)
{
    pt_str_t *cert, *key;
    pt_uint_t i, nkeys;

    if (sscf->certificates == NULL) {
        return PT_OK;
    }
    cert = sscf->certificates->elts;
    key = sscf->certificate_keys != NULL ? sscf->certificate_keys->elts
                                         : NULL;
    nkeys = sscf->certificate_keys != NULL ? sscf->certificate_keys->nelts
                                           : 0;
    if (nkeys < sscf->certificates->nelts) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "no \"ssl_certificate_key\" "
                     "is defined for certificate \"%.*s\" in %s:%lu",
                     (int) cert[nkeys].len, cert[nkeys].data,
                     sscf->cert_file, (unsigned long) sscf->cert_line);
        return PT_ERROR;
    }
    if (load_passwords(cf, sscf) != PT_OK) {
        return PT_ERROR;
    }
    for (i = 0; i < sscf->certificates->nelts; i++) {
        if (load_pair(cf, sscf, &cert[i], &key[i]) != PT_OK) {
            return PT_ERROR;
        }
    }
    return PT_OK;
}

/* Protocol versions: those not listed are switched off one by one. */
void
pt_http_ssl_set_protocols(SSL_CTX *ctx, pt_uint_t p)
{
    long off = 0;

    /* OpenSSL's own floor is TLSv1.2 only at security level 2; the
     * options below are what decides, as nginx's do */
    (void) SSL_CTX_set_min_proto_version(ctx, 0);
    (void) SSL_CTX_set_max_proto_version(ctx, 0);
    off |= SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3;
    if (!(p & PT_SSL_TLSv1)) {
        off |= SSL_OP_NO_TLSv1;
    }
    if (!(p & PT_SSL_TLSv1_1)) {
        off |= SSL_OP_NO_TLSv1_1;
    }
    if (!(p & PT_SSL_TLSv1_2)) {
        off |= SSL_OP_NO_TLSv1_2;
    }
    if (!(p & PT_SSL_TLSv1_3)) {
        off |= SSL_OP_NO_TLSv1_3;
    }
    SSL_CTX_set_options(ctx, off);
}

static int
set_dhparam(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf)
{
    const char *path;
    EVP_PKEY   *dh;
    BIO        *bio;

    if (sscf->dhparam.len == 0) {
        return PT_OK;
    }
    path = pt_http_ssl_full_path(cf, &sscf->dhparam);
    bio = path != NULL ? BIO_new_file(path, "r") : NULL;
    if (bio == NULL) {
        CTX_ERROR("BIO_new_file(\"%s\") failed", path ? path : "");
        return PT_ERROR;
    }
    dh = PEM_read_bio_Parameters(bio, NULL);
    BIO_free(bio);
    if (dh == NULL) {
        CTX_ERROR("PEM_read_bio_DHparams(\"%s\") failed", path);
        return PT_ERROR;
    }
    if (SSL_CTX_set0_tmp_dh_pkey(sscf->ctx, dh) != 1) {
        CTX_ERROR("SSL_CTX_set0_tmp_dh_pkey(\"%s\") failed", path);
        EVP_PKEY_free(dh);
        return PT_ERROR;
    }
    return PT_OK;
}

/* Accept what the chain says; the verdict is read per request (495). */
static int
verify_cb(int ok, X509_STORE_CTX *store)
{
    return 1;
}

static int
set_client_verify(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf)
{
    STACK_OF(X509_NAME) *names;
    const char          *path;
    X509_STORE          *store;

    if (sscf->verify != PT_SSL_VERIFY_OFF) {
        if (sscf->client_certificate.len == 0
            && sscf->verify != PT_SSL_VERIFY_OPTIONAL_NO_CA
            && sscf->trusted_certificate.len == 0)
        {
            pt_log_error(PT_LOG_EMERG, cf->log, 0, "no "
                         "ssl_client_certificate for ssl_verify_client");
            return PT_ERROR;
        }
        SSL_CTX_set_verify(sscf->ctx, SSL_VERIFY_PEER, verify_cb);
        SSL_CTX_set_verify_depth(sscf->ctx, (int) sscf->verify_depth);
    }
    if (sscf->client_certificate.len) {
        path = pt_http_ssl_full_path(cf, &sscf->client_certificate);
        if (SSL_CTX_load_verify_locations(sscf->ctx, path, NULL) != 1) {
            CTX_ERROR("SSL_CTX_load_verify_locations(\"%s\") failed", path);
            return PT_ERROR;
        }
        /* the CA names go to the client in the certificate request */
        names = SSL_load_client_CA_file(path);
        if (names == NULL) {
            CTX_ERROR("SSL_load_client_CA_file(\"%s\") failed", path);
            return PT_ERROR;
        }
        SSL_CTX_set_client_CA_list(sscf->ctx, names);
    }
    if (sscf->trusted_certificate.len) {
        path = pt_http_ssl_full_path(cf, &sscf->trusted_certificate);
        if (SSL_CTX_load_verify_locations(sscf->ctx, path, NULL) != 1) {
            CTX_ERROR("SSL_CTX_load_verify_locations(\"%s\") failed", path);
            return PT_ERROR;
        }
    }
    if (sscf->crl.len) {
        path = pt_http_ssl_full_path(cf, &sscf->crl);
        store = SSL_CTX_get_cert_store(sscf->ctx);
        if (X509_STORE_load_file(store, path) != 1) {
            CTX_ERROR("X509_LOOKUP_load_file(\"%s\") failed", path);
            return PT_ERROR;
        }
        X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK
                                    | X509_V_FLAG_CRL_CHECK_ALL);
    }
    ERR_clear_error();
    return PT_OK;
}

static int
set_session_cache_ctx(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf,
                      pt_http_srv_conf_t *scf)
{
    SSL_CTX      *ctx = sscf->ctx;
    u_char        sid[EVP_MAX_MD_SIZE];
    unsigned int  sid_len = 0;
    long          mode;

    /* sessions resume only on the server (certificates, CA) that made
     * them: the context is the server's name and where its block is */
    if (EVP_Digest(scf->file, strlen(scf->file), sid, &sid_len,
                   EVP_sha256(), NULL) != 1)
    {
        return PT_ERROR;
    }
    sid[0] ^= (u_char) scf->line;
    sid[1] ^= (u_char) (scf->line >> 8);
    if (SSL_CTX_set_session_id_context(ctx, sid, pt_min(sid_len, 32u)) != 1) {
        CTX_ERROR("SSL_CTX_set_session_id_context() failed");
        return PT_ERROR;
    }
    (void) SSL_CTX_set_timeout(ctx, (long) sscf->session_timeout);

    if (sscf->builtin_session_cache == PT_SSL_SCACHE_OFF) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        return PT_OK;
    }
    mode = SSL_SESS_CACHE_SERVER;
    if (sscf->shm_zone != NULL
        && sscf->builtin_session_cache == PT_SSL_SCACHE_NO_BUILTIN)
    {
        mode |= SSL_SESS_CACHE_NO_INTERNAL;
    }
    if (sscf->builtin_session_cache == PT_SSL_SCACHE_NONE) {
        mode |= SSL_SESS_CACHE_NO_INTERNAL_STORE;
    }
    SSL_CTX_set_session_cache_mode(ctx, mode);
    if (sscf->builtin_session_cache > 0) {
        SSL_CTX_sess_set_cache_size(ctx, sscf->builtin_session_cache);
    }
    if (sscf->shm_zone != NULL
        && pt_tls_session_cache_set(ctx, sscf->shm_zone) != PT_OK)
    {
        return PT_ERROR;
    }
    return PT_OK;
}

static int
set_tickets(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf)
{
    pt_str_t            *file;
    pt_tls_ticket_key_t *keys;
    const char          *path;
    u_char              *buf;
    size_t               len;
    pt_uint_t            i;

    if (!sscf->session_tickets) {
        SSL_CTX_set_options(sscf->ctx, SSL_OP_NO_TICKET);
        /* TLS 1.3 would still send two stateful tickets, which name a
         * session kept nowhere when there is no cache: no client could
         * resume with them, and each costs a record and a write */
        if (sscf->shm_zone == NULL
            && (sscf->builtin_session_cache == PT_SSL_SCACHE_OFF
                || sscf->builtin_session_cache == PT_SSL_SCACHE_NONE)
            && SSL_CTX_set_num_tickets(sscf->ctx, 0) != 1)
        {
            return PT_ERROR;
        }
        return PT_OK;
    }
    if (sscf->ticket_key_files == NULL) {
        return PT_OK;    /* OpenSSL's random keys: made before fork, so
                            every worker shares them */
    }
    file = sscf->ticket_key_files->elts;
    sscf->ticket_keys = pt_pcalloc(cf->pool, sizeof(pt_tls_ticket_keys_t));
    keys = pt_pcalloc(cf->pool, sizeof(pt_tls_ticket_key_t)
                                * sscf->ticket_key_files->nelts);
    if (sscf->ticket_keys == NULL || keys == NULL) {
        return PT_ERROR;
    }
    for (i = 0; i < sscf->ticket_key_files->nelts; i++) {
        path = pt_http_ssl_full_path(cf, &file[i]);
        if (path == NULL) {
            return PT_ERROR;
        }
        buf = read_small_file(cf, path, 80, &len);
        if (buf == NULL) {
            return PT_ERROR;
        }
        if (pt_tls_ticket_key_parse(buf, len, &keys[i]) != PT_OK) {
            pt_log_error(PT_LOG_EMERG, cf->log, 0, "\"%s\" must be 48 or 80 "
                         "bytes in %s:%lu", path, sscf->ticket_file,
                         (unsigned long) sscf->ticket_line);
            return PT_ERROR;
        }
        memset(buf, 0, len);
    }
    sscf->ticket_keys->keys = keys;
    sscf->ticket_keys->n = sscf->ticket_key_files->nelts;
    if (pt_tls_ticket_keys_set(sscf->ctx, sscf->ticket_keys) != PT_OK) {
        CTX_ERROR("SSL_CTX_set_tlsext_ticket_key_evp_cb() failed");
        return PT_ERROR;
    }
    return PT_OK;
}

/* ssl_stapling_file: the DER response is sent as is. */
static int
set_stapling(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf)
{
    const char *path;
    size_t      len;

    if (!sscf->stapling) {
        return PT_OK;
    }
    if (sscf->stapling_file.len == 0) {
        pt_log_error(PT_LOG_WARN, cf->log, 0, "\"ssl_stapling\" ignored, no "
                     "\"ssl_stapling_file\" (OCSP responders are not "
                     "queried) in %s:%lu", sscf->cert_file,
                     (unsigned long) sscf->cert_line);
        return PT_OK;
    }
    path = pt_http_ssl_full_path(cf, &sscf->stapling_file);
    if (path == NULL) {
        return PT_ERROR;
    }
    sscf->ocsp = read_small_file(cf, path, 65536, &len);
    if (sscf->ocsp == NULL) {
        return PT_ERROR;
    }
    if (len == 0 || len > 65536) {
        pt_log_error(PT_LOG_EMERG, cf->log, 0, "invalid OCSP response file "
                     "\"%s\"", path);
        return PT_ERROR;
    }
    sscf->ocsp_len = len;
    SSL_CTX_set_tlsext_status_cb(sscf->ctx, pt_http_ssl_status_cb);
    return PT_OK;
}

static int
apply_conf_commands(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf)
{
    SSL_CONF_CTX *cctx;
    pt_str_t     *p;
    pt_uint_t     i;

    if (sscf->conf_commands == NULL) {
        return PT_OK;
    }
    cctx = SSL_CONF_CTX_new();
    if (cctx == NULL) {
        return PT_ERROR;
    }
    SSL_CONF_CTX_set_flags(cctx, SSL_CONF_FLAG_FILE | SSL_CONF_FLAG_SERVER
                                 | SSL_CONF_FLAG_CERTIFICATE
                                 | SSL_CONF_FLAG_SHOW_ERRORS);
    SSL_CONF_CTX_set_ssl_ctx(cctx, sscf->ctx);
    p = sscf->conf_commands->elts;
    for (i = 0; i + 1 < sscf->conf_commands->nelts; i += 2) {
        if (SSL_CONF_cmd(cctx, (const char *) p[i].data,
                         (const char *) p[i + 1].data) <= 0)
        {
            CTX_ERROR("SSL_CONF_cmd(\"%s\", \"%s\") failed",
                      (const char *) p[i].data, (const char *) p[i + 1].data);
            SSL_CONF_CTX_free(cctx);
            return PT_ERROR;
        }
    }
    if (SSL_CONF_CTX_finish(cctx) != 1) {
        CTX_ERROR("SSL_CONF_finish() failed");
        SSL_CONF_CTX_free(cctx);
        return PT_ERROR;
    }
    SSL_CONF_CTX_free(cctx);
    return PT_OK;
}

static void
ctx_cleanup(void *data)
{
    SSL_CTX_free(data);
}

/* The server's SSL_CTX, owned by the cycle pool (a reload makes new ones;
 * old workers keep theirs). PT_OK or PT_ERROR (logged). */
static int
build_ctx(pt_conf_t *cf, pt_http_ssl_srv_conf_t *sscf,
          pt_http_srv_conf_t *scf)
{
    pt_pool_cleanup_t *cln;
    SSL_CTX           *ctx;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_server_method());
    cln = pt_pool_cleanup_add(cf->pool, 0);
    if (ctx == NULL || cln == NULL) {
        pt_http_ssl_conf_error(cf, NULL, 0, "SSL_CTX_new() failed");
        SSL_CTX_free(ctx);
        return PT_ERROR;
    }
    cln->handler = ctx_cleanup;
    cln->data = ctx;
    sscf->ctx = ctx;
    if (SSL_CTX_set_ex_data(ctx, pt_http_ssl_ctx_index, sscf) != 1) {
        return PT_ERROR;
    }

    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                             | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* no auto chain: only what ssl_certificate holds is sent, as nginx
     * does, and no chain is built from the trusted store per handshake */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                          | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                          | SSL_MODE_RELEASE_BUFFERS
                          | SSL_MODE_NO_AUTO_CHAIN);
    SSL_CTX_set_default_passwd_cb(ctx, pt_http_ssl_password_cb);
    pt_http_ssl_set_protocols(ctx, sscf->protocols);
    if (sscf->prefer_server_ciphers) {
        SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    }
    if (SSL_CTX_set_cipher_list(ctx, (const char *) sscf->ciphers.data)
        != 1)
    {
        CTX_ERROR("SSL_CTX_set_cipher_list(\"%s\") failed",
                  (const char *) sscf->ciphers.data);
        return PT_ERROR;
    }
    if (!pt_str_eq_cstr(&sscf->ecdh_curve, "auto")
        && SSL_CTX_set1_groups_list(ctx,
                                    (const char *) sscf->ecdh_curve.data)
           != 1)
    {
        CTX_ERROR("SSL_CTX_set1_curves_list(\"%s\") failed",
                  (const char *) sscf->ecdh_curve.data);
        return PT_ERROR;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, pt_http_ssl_servername_cb);
    SSL_CTX_set_alpn_select_cb(ctx, pt_http_ssl_alpn_cb, NULL);

    if (load_certificates(cf, sscf) != PT_OK
        || set_dhparam(cf, sscf) != PT_OK
        || set_client_verify(cf, sscf) != PT_OK
        || set_session_cache_ctx(cf, sscf, scf) != PT_OK
        || set_tickets(cf, sscf) != PT_OK
        || set_stapling(cf, sscf) != PT_OK
        || apply_conf_commands(cf, sscf) != PT_OK)
    {
        return PT_ERROR;
    }
    return PT_OK;
}

/* Every server on an ssl address gets its context; a default server needs
 * a certificate unless it rejects handshakes. */
static int
postconfiguration(pt_conf_t *cf)
{
    pt_http_core_main_conf_t *cmcf;
    pt_http_addr_t          **addr;
    pt_http_srv_conf_t      **sp, *dflt;
    pt_http_ssl_srv_conf_t   *sscf;
    pt_uint_t                 i, j;

    if (pt_tls_init(cf->log) != PT_OK || pt_tls_session_init() != PT_OK
        || pt_http_ssl_vars_init(cf) != PT_OK)
    {
        return PT_ERROR;
    }
    if (pt_http_ssl_ctx_index == -1) {
        pt_http_ssl_ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
                                                         NULL);
        if (pt_http_ssl_ctx_index == -1) {
            return PT_ERROR;
        }
    }
    cmcf = pt_http_conf_get_module_main_conf(cf, pt_http_core_module);
    addr = cmcf->addrs.elts;
    for (i = 0; i < cmcf->addrs.nelts; i++) {
        sp = addr[i]->servers.elts;
        for (j = 0; j < addr[i]->servers.nelts; j++) {
            sscf = sp[j]->ctx->srv_conf[pt_http_ssl_module.index];
            addr[i]->ssl |= sscf->enable == 1;
        }
    }
    for (i = 0; i < cmcf->addrs.nelts; i++) {
        if (!addr[i]->ssl) {
            continue;
        }
        sp = addr[i]->servers.elts;
        dflt = addr[i]->default_server != NULL ? addr[i]->default_server
                                               : sp[0];
        for (j = 0; j < addr[i]->servers.nelts; j++) {
            sscf = sp[j]->ctx->srv_conf[pt_http_ssl_module.index];
            if (sscf->ctx != NULL) {
                continue;
            }
            if (sscf->certificates == NULL && !sscf->reject_handshake) {
                if (sp[j] != dflt) {
                    continue;   /* SNI keeps the default's context */
                }
                pt_log_error(PT_LOG_EMERG, cf->log, 0, "no "
                             "\"ssl_certificate\" is defined for the "
                             "\"listen ... ssl\" directive in %s:%lu",
                             sp[j]->file, (unsigned long) sp[j]->line);
                return PT_ERROR;
            }
            if (build_ctx(cf, sscf, sp[j]) != PT_OK) {
                return PT_ERROR;
            }
        }
    }
    return PT_OK;
}

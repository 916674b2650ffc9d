/*
 * The http ssl module's hooks into the request path: the TLS start of a
 * connection on a `listen ... ssl` address, and the checks nginx makes on
 * a request that came over it (plain HTTP, client certificate, SNI/Host).
 */
#ifndef PT_HTTP_SSL_H
#define PT_HTTP_SSL_H

#include "common/pt_types.h"
#include "http_core.h"
#include "http_request.h"

/* Read handler of a new connection on an ssl address: tell TLS from plain
 * HTTP by the first byte, run the handshake, then wait for the request. */
void pt_http_ssl_handshake_handler(pt_event_t *ev);

/* Once the head is read: 497 for plain HTTP on an ssl port, 495/496 for
 * client certificates the server requires. PT_OK, or PT_ERROR (the request
 * is finalized). */
int pt_http_ssl_check_request(pt_http_request_t *r);

/* nginx's rule when Host picks another server than SNI did: 421 if that
 * server verifies client certificates. PT_OK, or PT_ERROR (finalized). */
int pt_http_ssl_check_server(pt_http_request_t *r, pt_http_srv_conf_t *scf);

#endif /* PT_HTTP_SSL_H */

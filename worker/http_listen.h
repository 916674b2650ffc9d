/*
 * The listen directive: addresses and socket options, one default server
 * per address, and the listening entries the master opens for them.
 */
#ifndef PT_HTTP_LISTEN_H
#define PT_HTTP_LISTEN_H

#include "http_core.h"

char *pt_http_listen_set(pt_conf_t *cf, pt_command_t *cmd, void *conf);
/* A server without listen gets *:80 as root, *:8000 otherwise (nginx). */
char *pt_http_listen_default(pt_conf_t *cf, pt_http_srv_conf_t *scf);
/* Push one pt_listening_t per address into the cycle. */
char *pt_http_listen_add(pt_conf_t *cf, pt_http_core_main_conf_t *mcf);

/* The more specific address a connection on a wildcard socket reached
 * (getsockname), or `wild` itself. */
pt_http_addr_t *pt_http_listen_local_addr(pt_connection_t *c,
                                          pt_http_addr_t *wild);

#endif /* PT_HTTP_LISTEN_H */

/*
 * The http block and its server and location blocks: conf creation and
 * merging for every http module, and what is built once the block is
 * read (location indexes, server names, variables, the phase engine).
 */
#ifndef PT_HTTP_H
#define PT_HTTP_H

#include "common/conf.h"
#include "common/pt_types.h"
#include "http_core.h"
#include "http_location.h"
#include "http_request.h"

char *pt_http_block(pt_conf_t *cf, pt_command_t *cmd, void *conf);
char *pt_http_server_block(pt_conf_t *cf, pt_command_t *cmd, void *conf);
char *pt_http_location_block(pt_conf_t *cf, pt_command_t *cmd, void *conf);

/* Build the phase engine from the handlers modules registered. */
int pt_http_init_phase_engine(pt_conf_t *cf, pt_http_core_main_conf_t *cmcf);

/* The location r->uri selects in `block` (captures go to r). */
pt_http_location_t *pt_http_find_location(pt_http_request_t *r,
                                          pt_http_locations_t *block);

/* Register a handler for a phase (modules call it in postconfiguration). */
int pt_http_add_phase_handler(pt_conf_t *cf, pt_http_phases_e phase,
                              pt_http_handler_pt handler);

#endif /* PT_HTTP_H */

/*
 * pt_http_autoindex_module: placeholder registered in worker/modules.c; the
 * module's directives and handlers land here.
 */
#include "common/conf.h"

pt_module_t pt_http_autoindex_module = {
    "http_autoindex", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

/*
 * pt_http_access_module: placeholder registered in worker/modules.c; the
 * module's directives and handlers land here.
 */
#include "common/conf.h"

pt_module_t pt_http_access_module = {
    "http_access", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

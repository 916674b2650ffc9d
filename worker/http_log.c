/*
 * pt_http_log_module: placeholder registered in worker/modules.c; the
 * module's directives and handlers land here.
 */
#include "common/conf.h"

pt_module_t pt_http_log_module = {
    "http_log", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

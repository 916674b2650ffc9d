/*
 * pt_http_try_files_module: placeholder registered in worker/modules.c; the
 * module's directives and handlers land here.
 */
#include "common/conf.h"

pt_module_t pt_http_try_files_module = {
    "http_try_files", NULL,
    NULL, NULL, NULL, NULL, NULL, NULL,
    NULL, NULL, NULL, 0, PT_MODULE_HTTP, NULL
};

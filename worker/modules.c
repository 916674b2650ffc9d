/*
 * The module list. Order matters: the core module first, then the http
 * core, then http modules; filters run in reverse order of this list (each
 * inserts itself in front of the ones registered before it).
 */
#include "common/core_module.h"
#include "modules.h"

extern pt_module_t pt_http_core_module;
extern pt_module_t pt_http_rewrite_module;

pt_module_t *pt_modules[] = {
    &pt_core_module,
    &pt_http_core_module,
    &pt_http_rewrite_module,
    NULL
};

pt_uint_t
pt_modules_init(void)
{
    pt_uint_t i;

    for (i = 0; pt_modules[i] != NULL; i++) {
        pt_modules[i]->index = i;
    }
    return i;
}

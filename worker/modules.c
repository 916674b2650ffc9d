/*
 * The module list. Order matters: the core module first, then http, whose
 * own sub-modules follow as they are added.
 */
#include "common/core_module.h"
#include "http.h"
#include "modules.h"

pt_module_t *pt_modules[] = {
    &pt_core_module,
    &pt_http_module,
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

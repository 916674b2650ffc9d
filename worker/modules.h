/*
 * The one list of modules, in the order their directives are looked up and
 * their confs are created, initialised and run.
 */
#ifndef PT_MODULES_H
#define PT_MODULES_H

#include "common/conf.h"

extern pt_module_t *pt_modules[];

/* Number the modules (pt_module_t.index); returns how many there are. */
pt_uint_t pt_modules_init(void);

#endif /* PT_MODULES_H */

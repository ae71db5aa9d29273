/* SPDX-License-Identifier: BSD-2-Clause */
/* Handler modules: shared objects whose FPMD_ROUTE / FPMD_HANDLER
 * constructors register with the running binary when dlopen() maps them.
 * Only worker processes (and one-shot checks) load them: the master never
 * does, so a reload maps the file as it is now in fresh processes instead
 * of finding the old copy already mapped under the same path. A module
 * stays mapped for the life of its process. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "fpmd/module.h"

int
fpmd_modules_load(const struct fpmd_conf *conf, char *err, size_t errlen)
{
    size_t off = strlen(err);
    int rc = FPMD_OK;

    for (size_t i = 0; i < conf->nmodules; i++) {
        const struct fpmd_conf_module *m = &conf->modules[i];

        /* RTLD_NOW: a missing symbol fails here, not in a request. */
        if (dlopen(m->path, RTLD_NOW | RTLD_LOCAL) != NULL)
            continue;
        rc = FPMD_ERROR;
        if (off < errlen) {
            int n = snprintf(err + off, errlen - off, "%s:%u:%u: module: %s\n",
                             m->pos.file ? m->pos.file : conf->file,
                             m->pos.line, m->pos.column, dlerror());

            if (n > 0)
                off += (size_t) n;
        }
    }
    return rc;
}

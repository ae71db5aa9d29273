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

#include "fpmd/fpmd.h"
#include "fpmd/module.h"

/* A module built against another fpmd.h may lay out the structs it hands
 * over differently, or mean something else by a call: FPMD_OK only when
 * it was built for this FPMD_API_VERSION, else why is set. */
static int
check_api_version(void *module, char *why, size_t whylen)
{
    const int *v = dlsym(module, "fpmd_module_api_version");

    if (v == NULL)
        snprintf(why, whylen, "built without fpmd/fpmd.h's API version, "
                 "this fpmd is %d", FPMD_API_VERSION);
    else if (*v != FPMD_API_VERSION)
        snprintf(why, whylen, "built for API %d, this fpmd is %d", *v,
                 FPMD_API_VERSION);
    else
        return FPMD_OK;
    return FPMD_ERROR;
}

int
fpmd_modules_load(const struct fpmd_conf *conf, char *err, size_t errlen)
{
    size_t off = strlen(err);
    int rc = FPMD_OK;

    for (size_t i = 0; i < conf->nmodules; i++) {
        const struct fpmd_conf_module *m = &conf->modules[i];
        /* RTLD_NOW: a missing symbol fails here, not in a request. */
        void *module = dlopen(m->path, RTLD_NOW | RTLD_LOCAL);
        char why[128];
        const char *reason = why;

        if (module == NULL)
            reason = dlerror();
        else if (check_api_version(module, why, sizeof(why)) == FPMD_OK)
            continue;
        /* A refused module's constructors have run and registered its
         * handlers, but the load fails as a whole: the process only
         * reports it, or exits, and never builds routes with them. */
        rc = FPMD_ERROR;
        if (off < errlen) {
            int n = snprintf(err + off, errlen - off, "%s:%u:%u: module: %s\n",
                             m->pos.file ? m->pos.file : conf->file,
                             m->pos.line, m->pos.column, reason);

            if (n > 0)
                off += (size_t) n;
        }
    }
    return rc;
}

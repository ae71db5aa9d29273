/* SPDX-License-Identifier: BSD-2-Clause */
/* Hook registration and the request's path through them. Hooks register
 * from constructors (built in, or a module's at dlopen), so the sorted
 * order is computed lazily and again after a module adds some. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fpmd/hooks.h"
#include "fpmd/req.h"

static const struct fpmd_hook_def **hooks;
static size_t nhooks, hooks_cap;
static int hooks_sorted;

void
fpmd_hook_register(const struct fpmd_hook_def *def)
{
    if (nhooks == hooks_cap) {
        size_t cap = hooks_cap ? hooks_cap * 2 : 8;
        const struct fpmd_hook_def **grown = realloc(hooks,
                                                     cap * sizeof(*grown));

        FPMD_ASSERT(grown != NULL);
        hooks = grown;
        hooks_cap = cap;
    }
    hooks[nhooks++] = def;
    hooks_sorted = 0;
}

static int
cmp_hook(const void *a, const void *b)
{
    const struct fpmd_hook_def *const *x = a, *const *y = b;

    if ((*x)->priority != (*y)->priority)
        return (*x)->priority < (*y)->priority ? -1 : 1;
    return strcmp((*x)->name, (*y)->name);
}

static void
sort_hooks(void)
{
    if (hooks_sorted)
        return;
    if (nhooks > 0)
        qsort(hooks, nhooks, sizeof(*hooks), cmp_hook);
    hooks_sorted = 1;
}

static void
run_reverse(struct fpmd_req *req, enum fpmd_hook_kind kind)
{
    for (size_t i = nhooks; i > 0; i--) {
        if (hooks[i - 1]->kind != kind)
            continue;
        if (kind == FPMD_HOOK_ERROR && fpmd_resp_started(req))
            break;
        hooks[i - 1]->fn(req);
    }
}

int
fpmd_hooks_run(struct fpmd_req *req, fpmd_handler_fn handler)
{
    int rc = FPMD_OK;

    sort_hooks();
    for (size_t i = 0; i < nhooks && rc == FPMD_OK; i++) {
        if (hooks[i]->kind == FPMD_HOOK_BEFORE)
            rc = hooks[i]->fn(req);
    }
    if (rc == FPMD_OK)
        rc = handler(req);
    else if (rc == FPMD_DONE)
        rc = FPMD_OK;
    if (rc != FPMD_OK && !req->aborted) {
        /* Once the head is out, an answer that does not end cleanly is
         * the only way left to tell the client it is not whole; before,
         * the error hooks may still answer in full. */
        if (req->head_sent)
            req->cut_short = 1;
        else
            run_reverse(req, FPMD_HOOK_ERROR);
    }
    run_reverse(req, FPMD_HOOK_AFTER);
    return rc;
}

size_t
fpmd_hooks_list(const struct fpmd_hook_def ***out)
{
    sort_hooks();
    *out = hooks;
    return nhooks;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* What a readiness probe asks of the pool itself (README "Health
 * probes"): that it is not stopping and that some worker accepts. The
 * backend pools' side is pools/pool.c's fpmd_pool_reachable. */
#include "config.h"

#include "fpmd/fpmd.h"
#include "fpmd/process.h"
#include "fpmd/worker.h"

const char *
fpmd_health_unready(void)
{
    const struct fpmd_scoreboard *sb = fpmd_process.sb;

    /* The listeners are closed by now, so only a request on a connection
     * taken before the stop gets here: it tells a balancer holding that
     * connection to send no more. */
    if (fpmd_worker_stopping())
        return "stopping";
    if (sb == NULL)
        return NULL;
    for (uint32_t i = 0; i < sb->nslots; i++) {
        /* in place, without the seqlock: one aligned word, and a stale
         * state costs one probe's answer */
        uint32_t state = __atomic_load_n(&sb->slots[i].state,
                                         __ATOMIC_RELAXED);

        if (state == FPMD_SB_IDLE || state == FPMD_SB_BUSY)
            return NULL;
    }
    return "no worker accepts";
}

const char *const *
fpmd_health_ready_pools(void)
{
    static const char *const none[] = {NULL};
    char **pools = fpmd_process.conf->status.ready_pools;

    return pools != NULL ? (const char *const *) pools : none;
}

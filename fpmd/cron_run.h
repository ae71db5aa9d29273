/* SPDX-License-Identifier: BSD-2-Clause */
/* cron: entries run. The master keeps the schedule: it alone decides
 * when an entry is due, so a tick fires once whatever the workers do
 * (reloads, crashes, recycling), and it asks one worker of the current
 * generation to run it with a queued signal (FPMD_SIG_CRON, the entry,
 * a run number and the tick in its value). The worker runs the entry's
 * handler as a background request and answers with the same signal when
 * it is over. */
#ifndef FPMD_CRON_RUN_H
#define FPMD_CRON_RUN_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "fpmd/conf.h"

/* Blocked in the master and the workers, read through their signalfds. */
#define FPMD_SIG_CRON (SIGRTMIN + 2)

/* --- master ------------------------------------------------------------ */

/* Takes conf's entries (at start and at each reload). An entry whose name
 * and schedule are unchanged keeps its next tick and its running runs, so
 * a reload neither repeats nor drops a tick; a new or changed one starts
 * from now. Ticks missed while fpmd was not running are not replayed. */
void fpmd_cron_load(const struct fpmd_conf *conf);

/* Milliseconds until the next entry is due (0: now), or -1 for none. */
int fpmd_cron_timeout_ms(void);

/* Fires each due entry in the worker pick() names (0: none to ask; the
 * tick is then skipped and logged). An entry still running its last
 * tick skips this one unless it allows overlap. */
void fpmd_cron_fire(pid_t (*pick)(void *arg), void *arg);

/* A worker's FPMD_SIG_CRON: the run in value is over. */
void fpmd_cron_done(pid_t pid, uint64_t value);

/* pid exited: its runs are lost, and logged. */
void fpmd_cron_reaped(pid_t pid);

/* At the master's exit. */
void fpmd_cron_free(void);

/* --- worker ------------------------------------------------------------ */

/* The master's FPMD_SIG_CRON: runs the entry, even at max_concurrency,
 * and reports to the master when it is over (at once if it cannot run). */
void fpmd_cron_run(uint64_t value);

#endif

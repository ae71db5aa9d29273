/* SPDX-License-Identifier: BSD-2-Clause */
/* sd_notify(3), sd_watchdog_enabled(3) and sd_listen_fds(3) for the
 * master. The notices go out of the master's poll loop, never from a
 * worker: systemd takes them from the main pid only (NotifyAccess=main). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "fpmd/clock.h"
#include "fpmd/log.h"
#include "fpmd/systemd.h"

uint64_t
fpmd_systemd_now_us(void)
{
    return fpmd_mono_ns() / 1000;
}

void
fpmd_systemd_init(struct fpmd_systemd *sd)
{
    uint64_t usec = 0;
    uint64_t now = fpmd_systemd_now_us();

    memset(sd, 0, sizeof(*sd));
    sd->notify = getenv("NOTIFY_SOCKET") != NULL;
    if (sd->notify && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
        /* half the interval, sd_watchdog_enabled(3)'s advice: one late
         * pass of the loop does not cost a restart */
        sd->watchdog_us = usec / 2;
        sd->next_watchdog_us = now;
    }
    sd->status_us = now;
    sd->next_status_us = now + FPMD_SYSTEMD_STATUS_US;
}

void
fpmd_systemd_notify(const char *fmt, ...)
{
    static bool warned;
    char msg[512];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rc = sd_notify(0, msg);
    if (rc < 0 && !warned) {
        warned = true;
        errno = -rc;
        fpmd_log_errno(FPMD_LOG_WARNING, "systemd: cannot send \"%.*s\" to "
                       "$NOTIFY_SOCKET", (int) strcspn(msg, "\n"), msg);
    }
}

void
fpmd_systemd_reloading(void)
{
    fpmd_systemd_notify("RELOADING=1\nMONOTONIC_USEC=%llu",
                        (unsigned long long) fpmd_systemd_now_us());
}

int
fpmd_systemd_timeout_ms(const struct fpmd_systemd *sd, uint64_t now)
{
    uint64_t next;

    if (!sd->notify)
        return -1;
    next = sd->next_status_us;
    if (sd->watchdog_us != 0 && sd->next_watchdog_us < next)
        next = sd->next_watchdog_us;
    return next > now ? (int) ((next - now) / 1000) + 1 : 0;
}

void
fpmd_systemd_watchdog(struct fpmd_systemd *sd, uint64_t now)
{
    if (sd->watchdog_us == 0 || now < sd->next_watchdog_us)
        return;
    fpmd_systemd_notify("WATCHDOG=1");
    sd->next_watchdog_us = now + sd->watchdog_us;
}

bool
fpmd_systemd_status_due(const struct fpmd_systemd *sd, uint64_t now)
{
    return sd->notify && now >= sd->next_status_us;
}

void
fpmd_systemd_status(struct fpmd_systemd *sd, uint64_t now, bool ready,
                    const char *note, unsigned active, unsigned idle,
                    uint64_t requests, uint64_t slow)
{
    double secs = (double) (now - sd->status_us) / 1e6;
    double rate = 0.0;

    if (requests > sd->status_requests && secs > 0.0)
        rate = (double) (requests - sd->status_requests) / secs;
    fpmd_systemd_notify("%sSTATUS=%sProcesses active: %u, idle: %u, "
                        "Requests: %llu, slow: %llu, Traffic: %.3greq/sec",
                        ready ? "READY=1\n" : "", note, active, idle,
                        (unsigned long long) requests,
                        (unsigned long long) slow, rate);
    sd->status_us = now;
    sd->status_requests = requests;
    sd->next_status_us = now + FPMD_SYSTEMD_STATUS_US;
}

int
fpmd_systemd_listen_fds(void)
{
    int n = sd_listen_fds(1);

    if (n < 0) {
        errno = -n;
        fpmd_log_errno(FPMD_LOG_ALERT, "systemd: the sockets passed in "
                       "$LISTEN_FDS");
        return -1;
    }
    return n;
}

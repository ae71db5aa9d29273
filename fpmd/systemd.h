/* SPDX-License-Identifier: BSD-2-Clause */
/* The master's side of systemd: the state notices of a Type=notify
 * service (READY, RELOADING, STOPPING, STATUS), watchdog pings, and the
 * listening sockets a socket unit passes (socket activation). Outside
 * systemd (no $NOTIFY_SOCKET, no $LISTEN_FDS) every call is a no-op. */
#ifndef FPMD_SYSTEMD_H
#define FPMD_SYSTEMD_H

#include <stdbool.h>
#include <stdint.h>

/* How often the STATUS line is refreshed. */
#define FPMD_SYSTEMD_STATUS_US 5000000

struct fpmd_systemd {
    bool notify;                /* $NOTIFY_SOCKET is set */
    uint64_t watchdog_us;       /* ping period (half of $WATCHDOG_USEC);
                                 * 0: no watchdog for this process */
    uint64_t next_watchdog_us;  /* on fpmd_systemd_now_us()'s clock */
    uint64_t next_status_us;
    uint64_t status_us;         /* when the last STATUS was sent */
    uint64_t status_requests;   /* the request total then */
};

/* The monotonic microseconds the deadlines below are kept in: a wall
 * clock set back must not hold the watchdog's pings. */
uint64_t fpmd_systemd_now_us(void);

/* Reads the environment systemd set for this process (the watchdog
 * applies only when $WATCHDOG_PID, if set, is this pid). */
void fpmd_systemd_init(struct fpmd_systemd *sd);

/* Sends one notice, lines of "KEY=value" (sd_notify(3)); nothing
 * without $NOTIFY_SOCKET. The first failure to send is logged. */
void fpmd_systemd_notify(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* "RELOADING=1" with the MONOTONIC_USEC that Type=notify-reload
 * (systemd 253) asks for. */
void fpmd_systemd_reloading(void);

/* Milliseconds until the next ping or STATUS is due, -1: none ever. */
int fpmd_systemd_timeout_ms(const struct fpmd_systemd *sd, uint64_t now);

/* "WATCHDOG=1" when the period has passed. Called from each pass of the
 * master's loop, so a loop that stops turning stops the pings. */
void fpmd_systemd_watchdog(struct fpmd_systemd *sd, uint64_t now);

/* true when the STATUS line is due. */
bool fpmd_systemd_status_due(const struct fpmd_systemd *sd, uint64_t now);

/* Sends php-fpm's STATUS line (fpm_systemd.c: "Processes active: 1,
 * idle: 3, Requests: 120, slow: 0, Traffic: 2.5req/sec") headed by note
 * ("" for none), after READY=1 when ready; requests is a running total,
 * the traffic its rise since the last call. */
void fpmd_systemd_status(struct fpmd_systemd *sd, uint64_t now, bool ready,
                         const char *note, unsigned active, unsigned idle,
                         uint64_t requests, uint64_t slow);

/* Socket activation: how many listening sockets systemd passed, from
 * fd 3 (SD_LISTEN_FDS_START) on; they are made close-on-exec and
 * $LISTEN_FDS/$LISTEN_PID are unset, so no child sees them. 0: none;
 * -1 (logged): the variables are malformed. */
int fpmd_systemd_listen_fds(void);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/* The error log: php-fpm's line shape ("[22-Nov-2026 15:10:58] NOTICE:
 * ..."), shared by the master and its workers through one O_APPEND file so
 * lines never interleave. Every message is escaped (escape.h): one call,
 * one line, whatever the text it carries. Also owns the access and slow log descriptors so
 * USR1 reopens all three in one place. */
#ifndef FPMD_LOG_H
#define FPMD_LOG_H

#include <stdint.h>

#include "fpmd/conf.h"

/* Opens (or reopens) the logs named in conf. A log that cannot be opened
 * keeps its previous descriptor and FPMD_ERROR is returned after one line
 * to stderr naming the path and errno. */
int fpmd_log_open(const struct fpmd_conf *conf);
/* USR1: reopens the same paths (after logrotate moved them). */
int fpmd_log_reopen(void);
void fpmd_log_close(void);

void fpmd_log_set_level(enum fpmd_log_level level);
/* Prefix for every line of this process, e.g. "[pool www] " in workers. */
void fpmd_log_set_prefix(const char *prefix);

void fpmd_log(enum fpmd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, appending ": strerror(errno)". */
void fpmd_log_errno(enum fpmd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logs each line of text (a config check's errors, one a line) as its own
 * log line, after head. */
void fpmd_log_lines(enum fpmd_log_level level, const char *head,
                    const char *text);

/* An event that may repeat thousands of times a second (a refused accept,
 * a slow connection cut) is logged as a count: the first one at once,
 * then at most one line a second saying how many there were. A tally is
 * static storage of its caller; fpmd_log_tally_flush() (once a second)
 * writes what is still counted. */
struct fpmd_log_tally {
    struct fpmd_log_tally *next;    /* registered on first use */
    enum fpmd_log_level level;
    unsigned registered:1;
    uint64_t pending;               /* counted, not yet in a line */
    uint64_t since_us;              /* start of the counted period */
    uint64_t last_line_us;
    char msg[256];                  /* the latest event's text */
};

/* Counts one event described by fmt; writes a line now when the last one
 * for this tally is a second old or more. */
void fpmd_log_tally(struct fpmd_log_tally *t, enum fpmd_log_level level,
                    const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes a line for every tally with events counted since its last. */
void fpmd_log_tally_flush(void);

/* Writes one already formatted line to the access / slow log, if open. */
void fpmd_log_access_write(const char *line, size_t len);
void fpmd_log_slow_write(const char *line, size_t len);
bool fpmd_log_access_enabled(void);

/* The error log's descriptor, for async-signal-safe writes from a fault
 * handler. */
int fpmd_log_error_fd(void);

/* php-fpm's level names, for messages and config. */
const char *fpmd_log_level_name(enum fpmd_log_level level);

#endif

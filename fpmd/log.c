/* SPDX-License-Identifier: BSD-2-Clause */
/* Error, access and slow logs. Each line is formatted into one buffer and
 * written with a single write(2) on an O_APPEND descriptor: concurrent
 * writers (master and workers) never interleave within a line. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fpmd/escape.h"
#include "fpmd/log.h"

#define LOG_LINE_MAX 2048

struct log_file {
    char *path;     /* NULL: stderr for the error log, off for the others */
    int fd;
};

static struct log_file error_log = {NULL, STDERR_FILENO};
static struct log_file access_log = {NULL, -1};
static struct log_file slow_log = {NULL, -1};
static enum fpmd_log_level min_level = FPMD_LOG_NOTICE;
static char prefix[96];

static const char *const level_names[] = {
    "DEBUG", "NOTICE", "WARNING", "ERROR", "ALERT",
};

const char *
fpmd_log_level_name(enum fpmd_log_level level)
{
    if ((unsigned) level >= FPMD_ARRAY_LEN(level_names))
        return "UNKNOWN";
    return level_names[level];
}

static int
open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

/* Replaces lf's descriptor with a fresh one on path; the old descriptor
 * stays when the open fails, so a full disk does not silence the log. */
static int
reopen_one(struct log_file *lf, int fallback)
{
    int fd;

    if (lf->path == NULL) {
        if (lf->fd >= 0 && lf->fd != fallback && lf->fd != STDERR_FILENO)
            close(lf->fd);
        lf->fd = fallback;
        return FPMD_OK;
    }
    fd = open_append(lf->path);
    if (fd < 0) {
        dprintf(STDERR_FILENO, "fpmd: cannot open log %s: %s\n", lf->path,
                strerror(errno));
        return FPMD_ERROR;
    }
    if (lf->fd >= 0 && lf->fd != STDERR_FILENO)
        close(lf->fd);
    lf->fd = fd;
    return FPMD_OK;
}

static void
set_path(struct log_file *lf, const char *path)
{
    free(lf->path);
    lf->path = path ? strdup(path) : NULL;
}

int
fpmd_log_open(const struct fpmd_conf *conf)
{
    set_path(&error_log, conf->log.error);
    set_path(&access_log, conf->log.access);
    set_path(&slow_log, conf->log.slow);
    min_level = conf->log.level;
    return fpmd_log_reopen();
}

int
fpmd_log_reopen(void)
{
    int rc = FPMD_OK;

    if (reopen_one(&error_log, STDERR_FILENO) != FPMD_OK)
        rc = FPMD_ERROR;
    if (reopen_one(&access_log, -1) != FPMD_OK)
        rc = FPMD_ERROR;
    if (reopen_one(&slow_log, -1) != FPMD_OK)
        rc = FPMD_ERROR;
    return rc;
}

void
fpmd_log_close(void)
{
    struct log_file *all[] = {&error_log, &access_log, &slow_log};

    for (size_t i = 0; i < FPMD_ARRAY_LEN(all); i++) {
        if (all[i]->fd >= 0 && all[i]->fd != STDERR_FILENO)
            close(all[i]->fd);
        all[i]->fd = all[i] == &error_log ? STDERR_FILENO : -1;
        free(all[i]->path);
        all[i]->path = NULL;
    }
}

void
fpmd_log_set_level(enum fpmd_log_level level)
{
    min_level = level;
}

void
fpmd_log_set_prefix(const char *p)
{
    snprintf(prefix, sizeof(prefix), "%s", p ? p : "");
}

static void
vlog(enum fpmd_log_level level, int errnum, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX], msg[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    size_t n, m;
    int r;

    if (level < min_level)
        return;
    r = snprintf(msg, sizeof(msg), "%s", prefix);
    m = r > 0 ? (size_t) r : 0;
    r = vsnprintf(msg + m, sizeof(msg) - m, fmt, ap);
    if (r > 0)
        m += (size_t) r < sizeof(msg) - m ? (size_t) r : sizeof(msg) - m - 1;
    if (errnum != 0 && m < sizeof(msg) - 1) {
        r = snprintf(msg + m, sizeof(msg) - m, ": %s", strerror(errnum));
        if (r > 0)
            m += (size_t) r < sizeof(msg) - m ? (size_t) r
                                                : sizeof(msg) - m - 1;
    }
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "[%d-%b-%Y %H:%M:%S] ", &tm);
    r = snprintf(line + n, sizeof(line) - n, "%s: ",
                 fpmd_log_level_name(level));
    if (r > 0)
        n += (size_t) r < sizeof(line) - n ? (size_t) r : sizeof(line) - n - 1;
    /* A message may carry request-derived text (a URI, a header, a
     * backend's stderr): escaped, no byte of it can end this line or
     * forge another. One byte is kept for the newline. */
    n += fpmd_escape(line + n, sizeof(line) - n - 1, msg, m, 0);
    line[n++] = '\n';
    if (write(error_log.fd, line, n) < 0)
        return;
}

void
fpmd_log(enum fpmd_log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(level, 0, fmt, ap);
    va_end(ap);
}

void
fpmd_log_errno(enum fpmd_log_level level, const char *fmt, ...)
{
    int errnum = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(level, errnum, fmt, ap);
    va_end(ap);
}

void
fpmd_log_lines(enum fpmd_log_level level, const char *head, const char *text)
{
    while (*text != '\0') {
        size_t len = strcspn(text, "\n");

        if (len > 0)
            fpmd_log(level, "%s%.*s", head, (int) len, text);
        text += len;
        if (*text == '\n')
            text++;
    }
}

static struct fpmd_log_tally *tallies;

static uint64_t
wall_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (uint64_t) tv.tv_sec * 1000000 + (uint64_t) tv.tv_usec;
}

static void
tally_line(struct fpmd_log_tally *t, uint64_t now)
{
    if (t->pending == 1)
        fpmd_log(t->level, "%s", t->msg);
    else
        fpmd_log(t->level, "%s (%" PRIu64 " times in the last %.1f s)",
                 t->msg, t->pending, (double) (now - t->since_us) / 1e6);
    t->pending = 0;
    t->last_line_us = now;
}

void
fpmd_log_tally(struct fpmd_log_tally *t, enum fpmd_log_level level,
               const char *fmt, ...)
{
    uint64_t now = wall_us();
    va_list ap;

    if (level < min_level)
        return;
    if (!t->registered) {
        t->registered = 1;
        t->next = tallies;
        tallies = t;
    }
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
    va_end(ap);
    t->level = level;
    if (t->pending++ == 0)
        t->since_us = now;
    if (now - t->last_line_us >= 1000000)
        tally_line(t, now);
}

void
fpmd_log_tally_flush(void)
{
    uint64_t now = wall_us();

    for (struct fpmd_log_tally *t = tallies; t != NULL; t = t->next) {
        if (t->pending > 0 && now - t->last_line_us >= 1000000)
            tally_line(t, now);
    }
}

static void
write_line(int fd, const char *line, size_t len)
{
    if (fd < 0)
        return;
    if (write(fd, line, len) < 0)
        return;
}

void
fpmd_log_access_write(const char *line, size_t len)
{
    write_line(access_log.fd, line, len);
}

void
fpmd_log_slow_write(const char *line, size_t len)
{
    write_line(slow_log.fd >= 0 ? slow_log.fd : error_log.fd, line, len);
}

int
fpmd_log_error_fd(void)
{
    return error_log.fd;
}

bool
fpmd_log_access_enabled(void)
{
    return access_log.fd >= 0;
}

void
fpmd_assert_fail(const char *expr, const char *file, int line)
{
    fpmd_log(FPMD_LOG_ALERT, "assertion \"%s\" failed at %s:%d", expr, file,
             line);
    abort();
}

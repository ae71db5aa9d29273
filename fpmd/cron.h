/* SPDX-License-Identifier: BSD-2-Clause */
/* Crontab expressions and when they fire next, for the cron: section.
 * A parsed expression is plain data (bitsets and flags), made without
 * allocating and never freed; the fire times follow cronie (Vixie cron)
 * in a named IANA time zone, daylight saving changes included. */
#ifndef FPMD_CRON_H
#define FPMD_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Longest expression fpmd_cron_parse takes, in bytes. */
#define FPMD_CRON_EXPR_MAX 256
/* Longest time zone name fpmd_cron_tz_valid accepts, in bytes. */
#define FPMD_CRON_TZ_MAX 128

/* Bit n of a set stands for value n. */
struct fpmd_cron {
    uint64_t sec;  /* 0-59; {0} in the 5-field form */
    uint64_t min;  /* 0-59 */
    uint32_t hour; /* 0-23 */
    uint32_t dom;  /* 1-31 */
    uint16_t mon;  /* 1-12 */
    uint8_t dow;   /* 0-6, Sunday 0 (a 7 in the expression is stored as 0) */
    /* The day field does not start with '*'. With both restricted, a day
     * matches when either field does; otherwise when both do: a field
     * starting with '*', with a step or not, narrows the other one. */
    bool dom_restricted;
    bool dow_restricted;
    /* The second (6-field form), minute or hour field starts with '*':
     * the job is interval-like for the daylight saving rules below. */
    bool interval;
};

/* Parses expr into *c:
 *   min hour dom mon dow         (5 fields, fires at second 0)
 *   sec min hour dom mon dow     (6 fields, seconds first as in Quartz)
 * separated by spaces or tabs, or one of @yearly (@annually), @monthly,
 * @weekly, @daily (@midnight), @hourly. A field is a comma list of "*",
 * "N" and "N-M", each with an optional step "/S" ("N/S" runs from N to
 * the field's end). JAN-DEC and SUN-SAT, in any case, name months and
 * weekdays, also in ranges; 7 is Sunday as well as 0, and SUN ending a
 * range is 7 (FRI-SUN). Ranges do not wrap (FRI-MON is refused); a step
 * is 1 to the field's span minus one. At most FPMD_CRON_EXPR_MAX bytes
 * are read, never past the NUL. Returns FPMD_OK, or FPMD_ERROR with a
 * message naming the field, the bad token and what was expected in err
 * (errlen bytes, NUL-terminated, printable ASCII only; err may be NULL if
 * errlen is 0) and the 1-based column of expr where that token starts in
 * *errcol (may be NULL). *c is left unspecified on error. */
int fpmd_cron_parse(struct fpmd_cron *c, const char *expr, char *err,
                    size_t errlen, size_t *errcol);

/* Sets *next to the first instant strictly after `after` (a time between
 * 1970 and 9999) at which c fires, with local times read in time zone tz
 * (an IANA name, "Europe/Berlin"; NULL or "" is the process's zone).
 * Returns FPMD_OK, or FPMD_ERROR when tz is not a zone
 * (fpmd_cron_tz_valid), after is out of range, or c does not fire within
 * 8 years (the longest wait a satisfiable expression has: Feb 29 across
 * 2100), e.g. "0 0 30 2 *".
 *
 * Daylight saving, cronie's rules; a job is interval-like when its
 * second, minute or hour field starts with '*' (c->interval), fixed-time
 * otherwise:
 *  - A local time skipped by a jump forward (02:30 when 02:00 becomes
 *    03:00): a fixed-time job fires once, at the first instant after the
 *    jump (03:00 local); an interval-like job does not fire for it.
 *  - A local time repeated by a jump back (01:30 when 02:00 becomes 01:00):
 *    a fixed-time job fires at its first occurrence only; an interval-like
 *    job fires at both, so it keeps its pace in real time.
 * At most one change of UTC offset per 24 hours is assumed, as in every
 * current zone.
 *
 * Not thread-safe: glibc has no per-call time zone, so this sets TZ and
 * calls tzset(), then restores both before returning; no other thread may
 * use local time meanwhile. */
int fpmd_cron_next(const struct fpmd_cron *c, const char *tz, time_t after,
                   time_t *next);

/* true when tz can be given to fpmd_cron_next: NULL, "", or the name of a
 * TZif file under $TZDIR or /usr/share/zoneinfo made of [A-Za-z0-9_+-]
 * components separated by single '/' (so no "..", no absolute path), at
 * most FPMD_CRON_TZ_MAX bytes, outside right/ (leap-second zones count
 * time differently from the system clock). For the config loader to
 * report an unknown zone at load time. */
bool fpmd_cron_tz_valid(const char *tz);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/* Crontab expressions: every syntax parses to the sets it names or is
 * refused at the right column with a message naming the token; next fire
 * times match a table computed with Python's zoneinfo, independently of
 * fpmd, and a literal scan of every minute across daylight saving
 * changes in zones that change by an hour, half an hour, two hours and
 * at midnight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fpmd/common.h"
#include "fpmd/cron.h"

#define NY "America/New_York"
#define BERLIN "Europe/Berlin"
#define LORD_HOWE "Australia/Lord_Howe"

#define B(n) (UINT64_C(1) << (n))

/* lo..hi every step, as a bitset */
static uint64_t
bits(int lo, int hi, int step)
{
    uint64_t set = 0;

    for (int v = lo; v <= hi; v += step)
        set |= (uint64_t) 1 << v;
    return set;
}

/* Parses a heap copy of exactly strlen + 1 bytes, so that ASan sees a
 * read past the NUL. */
static int
parse(struct fpmd_cron *c, const char *expr, char *err, size_t errlen,
      size_t *errcol)
{
    size_t len = strlen(expr);
    char *copy = malloc(len + 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, expr, len + 1);
    rc = fpmd_cron_parse(c, copy, err, errlen, errcol);
    free(copy);
    return rc;
}

/* "2026-03-08T03:00:00-04:00" or "...Z" as a time_t */
static time_t
iso(const char *s)
{
    struct tm tm = { 0 };
    int n = 0, oh = 0, om = 0;
    long off = 0;

    if (sscanf(s, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
        fail_msg("bad time %s", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if (s[n] != 'Z') {
        if (sscanf(s + n + 1, "%d:%d", &oh, &om) != 2)
            fail_msg("bad offset in %s", s);
        off = (oh * 3600L + om * 60L) * (s[n] == '-' ? -1 : 1);
    }
    return timegm(&tm) - off;
}

static const char *
utc(time_t t, char *buf, size_t cap)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static void
parse_fills_the_sets(void **state)
{
    static const struct {
        const char *expr;
        uint64_t sec, min, hour, dom, mon, dow;
        bool dom_restricted, dow_restricted, interval;
    } rows[] = {
        { "* * * * *", B(0), 0, 0, 0, 0, 0, false, false, true },
        { "0 0 * * 7", B(0), B(0), B(0), 0, 0, B(0), false, true, false },
        { "0 0 * * 5-7", B(0), B(0), B(0), 0, 0, B(5) | B(6) | B(0), false,
          true, false },
        { "0 0 * * fri-SUN", B(0), B(0), B(0), 0, 0, B(5) | B(6) | B(0),
          false, true, false },
        { "0 0 * * */2", B(0), B(0), B(0), 0, 0, B(0) | B(2) | B(4) | B(6),
          false, false, false },
        { "0 0 * * 1/2", B(0), B(0), B(0), 0, 0, B(1) | B(3) | B(5), false,
          true, false },
        { "0 0 * * 7/2", B(0), B(0), B(0), 0, 0, B(0), false, true, false },
        { "0 0 * * 0,7,SUN", B(0), B(0), B(0), 0, 0, B(0), false, true,
          false },
        { "50/4 12 1 1 MON-FRI", B(0), B(50) | B(54) | B(58), B(12), B(1),
          B(1), B(1) | B(2) | B(3) | B(4) | B(5), true, true, false },
        { "1 2 3 4 5 6", B(1), B(2), B(3), B(4), B(5), B(6), true, true,
          false },
        { "* 0 3 * * *", 0, B(0), B(3), 0, 0, 0, false, false, true },
        { "0 0 3 * * *", B(0), B(0), B(3), 0, 0, 0, false, false, false },
        { "5 * 1,15 * *", B(0), B(5), 0, B(1) | B(15), 0, 0, true, false,
          true },
        { "@weekly", B(0), B(0), B(0), 0, 0, B(0), false, true, false },
        { "@hourly", B(0), B(0), 0, 0, 0, 0, false, false, true },
        { "@YEARLY", B(0), B(0), B(0), B(1), B(1), 0, true, false, false },
    };
    struct fpmd_cron c;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(rows); i++) {
        /* 0 stands for the whole field */
        uint64_t sec = rows[i].sec ? rows[i].sec : bits(0, 59, 1);
        uint64_t min = rows[i].min ? rows[i].min : bits(0, 59, 1);
        uint64_t hour = rows[i].hour ? rows[i].hour : bits(0, 23, 1);
        uint64_t dom = rows[i].dom ? rows[i].dom : bits(1, 31, 1);
        uint64_t mon = rows[i].mon ? rows[i].mon : bits(1, 12, 1);
        uint64_t dow = rows[i].dow ? rows[i].dow : bits(0, 6, 1);

        if (parse(&c, rows[i].expr, NULL, 0, NULL) != FPMD_OK)
            fail_msg("%s: refused", rows[i].expr);
        if (c.sec != sec || c.min != min || c.hour != hour || c.dom != dom
            || c.mon != mon || c.dow != dow
            || c.dom_restricted != rows[i].dom_restricted
            || c.dow_restricted != rows[i].dow_restricted
            || c.interval != rows[i].interval)
            fail_msg("%s: sec %#llx min %#llx hour %#x dom %#x mon %#x "
                     "dow %#x restricted %d/%d interval %d", rows[i].expr,
                     (unsigned long long) c.sec, (unsigned long long) c.min,
                     c.hour, c.dom, c.mon, c.dow, c.dom_restricted,
                     c.dow_restricted, c.interval);
    }
    /* steps over names and whole fields */
    assert_int_equal(parse(&c, "*/5 */15 */6 1-31/10 JAN-DEC/3 *", NULL, 0,
                           NULL), FPMD_OK);
    assert_true(c.sec == bits(0, 59, 5) && c.min == bits(0, 59, 15));
    assert_true(c.hour == bits(0, 23, 6) && c.dom == bits(1, 31, 10));
    assert_true(c.mon == bits(1, 12, 3) && c.interval);
}

static void
parse_refuses_naming_the_token_and_its_column(void **state)
{
    static const struct {
        const char *expr, *msg;
        size_t col;
    } rows[] = {
        { "", "empty expression", 1 },
        { "  \t ", "empty expression", 1 },
        { "*", "1 field: expected 5", 2 },
        { "* * * *", "4 fields: expected 5 (minute hour day-of-month month "
          "day-of-week) or 6 (second first)", 8 },
        { "* * * * * * *", "more than 6 fields", 13 },
        { "61 * * * *", "minute field: 61 is out of range 0-59", 1 },
        { "0 24 * * *", "hour field: 24 is out of range 0-23", 3 },
        { "0 0 0 * *", "day-of-month field: 0 is out of range 1-31", 5 },
        { "0 0 32 * *", "day-of-month field: 32 is out of range 1-31", 5 },
        { "0 0 * 13 *", "month field: 13 is out of range 1-12", 7 },
        { "0 0 * * 8", "day-of-week field: 8 is out of range 0-7", 9 },
        { "60 * * * * *", "second field: 60 is out of range 0-59", 1 },
        { "0 60 * * * *", "minute field: 60 is out of range 0-59", 3 },
        { "99999999999999999999 * * * *",
          "minute field: 99999999999999999999 is out of range 0-59", 1 },
        { "5x * * * *", "minute field: '5x' is not a number 0-59", 1 },
        { "MON * * * *", "minute field: 'MON' is not a number 0-59", 1 },
        { "0 0 L * *", "day-of-month field: 'L' is not a number 1-31", 5 },
        { "0 0 * FOO *", "month field: 'FOO' is not a month name (JAN-DEC) "
          "or a number 1-12", 7 },
        { "0 0 * * MONDAY", "day-of-week field: 'MONDAY' is not a day name "
          "(SUN-SAT) or a number 0-7", 9 },
        { "0 0 * * SUN-MONDAY", "'MONDAY' is not a day name", 13 },
        { "0 0 1,,2 * *", "day-of-month field: empty list item", 7 },
        { ",1 * * * *", "minute field: empty list item", 1 },
        { "1, * * * *", "minute field: empty list item", 3 },
        { "* * * * FRI-MON", "day-of-week field: range FRI-MON runs "
          "backwards (5 > 1); ranges do not wrap", 9 },
        { "0 0 * * 5-0", "range 5-0 runs backwards (5 > 0)", 9 },
        { "30-10 * * * *", "minute field: range 30-10 runs backwards", 1 },
        { "0 0 * NOV-FEB *", "month field: range NOV-FEB runs backwards", 7 },
        { "*/0 * * * *", "minute field: step 0 is out of range 1-59", 3 },
        { "0 */24 * * *", "hour field: step 24 is out of range 1-23", 5 },
        { "0 0 */31 * *", "day-of-month field: step 31 is out of range "
          "1-30", 7 },
        { "0 0 * */12 *", "month field: step 12 is out of range 1-11", 9 },
        { "0 0 * * */7", "day-of-week field: step 7 is out of range 1-6",
          11 },
        { "*/99999999999 * * * *", "step 99999999999 is out of range", 3 },
        { "*/ * * * *", "minute field: expected a step 1-59 after '/', "
          "found the end of the field", 3 },
        { "1-5/x * * * *", "minute field: step 'x' is not a number 1-59",
          5 },
        { "1- * * * *", "minute field: expected a number after '-', found "
          "the end of the field", 3 },
        { "0 0 * * MON-", "day-of-week field: expected a number or a name "
          "after '-'", 13 },
        { "0 0 ? * MON", "day-of-month field: '?' (Quartz's \"no value\") "
          "is not supported, write '*'", 5 },
        { "5# * * * *", "minute field: unexpected '#', expected ',', '-', "
          "'/', a blank or the end", 2 },
        { "*-5 * * * *", "minute field: unexpected '-', expected ',', '/', "
          "a blank or the end", 2 },
        { "1/2/3 * * * *", "minute field: unexpected '/', expected ',', a "
          "blank or the end", 4 },
        { "0 0 * * 1#2", "day-of-week field: unexpected '#'", 10 },
        { "0 0 * * *\n", "day-of-week field: unexpected byte 0x0A", 10 },
        { "0 0 * * \x01", "day-of-week field: unexpected byte 0x01, "
          "expected a number, a name or '*'", 9 },
        { "@reboot", "@reboot is not supported", 1 },
        { " @Reboot", "@reboot is not supported", 2 },
        { "  @daily x", "unexpected 'x' after @daily: a macro stands alone",
          10 },
        { "@fortnightly", "unknown macro '@fortnightly', expected @yearly",
          1 },
        { "@", "unknown macro '@'", 1 },
    };
    struct fpmd_cron c;
    char err[256];
    size_t col;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(rows); i++) {
        col = 0;
        err[0] = '\0';
        if (parse(&c, rows[i].expr, err, sizeof(err), &col) != FPMD_ERROR)
            fail_msg("row %zu (%s): accepted", i, rows[i].expr);
        if (strstr(err, rows[i].msg) == NULL || col != rows[i].col)
            fail_msg("row %zu (%s): column %zu, \"%s\"", i, rows[i].expr,
                     col, err);
        for (const char *p = err; *p != '\0'; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
    }
}

static void
parse_bounds_the_length_and_the_message(void **state)
{
    char expr[FPMD_CRON_EXPR_MAX + 2], err[16], msg[256];
    struct fpmd_cron c;
    size_t col = 0;

    (void) state;
    memset(expr, ' ', sizeof(expr));
    memcpy(expr, "* * * * *", 9);
    expr[FPMD_CRON_EXPR_MAX] = '\0';
    assert_int_equal(parse(&c, expr, NULL, 0, NULL), FPMD_OK);
    expr[FPMD_CRON_EXPR_MAX] = ' ';
    expr[FPMD_CRON_EXPR_MAX + 1] = '\0';
    assert_int_equal(parse(&c, expr, NULL, 0, &col), FPMD_ERROR);
    assert_int_equal(col, FPMD_CRON_EXPR_MAX + 1);
    /* a short buffer gets a cut message, still NUL-terminated */
    assert_int_equal(parse(&c, "61 * * * *", err, sizeof(err), NULL),
                     FPMD_ERROR);
    assert_string_equal(err, "minute field: 6");
    /* a long token is quoted cut, not whole */
    memset(expr, '7', 200);
    memcpy(expr + 200, " * * * *", 9);
    assert_int_equal(parse(&c, expr, msg, sizeof(msg), &col), FPMD_ERROR);
    assert_int_equal(col, 1);
    assert_true(strlen(msg) < 100);
    assert_non_null(strstr(msg, "777..."));
}

static void
next_matches_the_table(void **state)
{
    /* expected values from Python's zoneinfo, the rules of cron.h read
     * literally over every minute (second) after `after` */
    static const struct {
        const char *expr, *tz, *after, *next;
    } rows[] = {
    /* every field syntax, a step wrapping at the end of an hour, a day,
     * a month, a year; month lengths and leap years */
    { "* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z" },
    { "* * * * *", "UTC", "2026-01-01T00:00:30Z", "2026-01-01T00:01:00Z" },
    { "5 * * * *", "UTC", "2026-01-01T00:05:00Z", "2026-01-01T01:05:00Z" },
    { "5 * * * *", "UTC", "2026-01-01T00:04:59Z", "2026-01-01T00:05:00Z" },
    { "*/15 * * * *", "UTC", "2026-01-01T00:50:00Z", "2026-01-01T01:00:00Z" },
    { "10-20/5 * * * *", "UTC",
      "2026-01-01T00:16:00Z", "2026-01-01T00:20:00Z" },
    { "10-20/5 * * * *", "UTC",
      "2026-01-01T00:20:00Z", "2026-01-01T01:10:00Z" },
    { "50/4 * * * *", "UTC", "2026-01-01T00:58:00Z", "2026-01-01T01:50:00Z" },
    { "0,30 9-17/4 * * *", "UTC",
      "2026-01-01T17:30:00Z", "2026-01-02T09:00:00Z" },
    { "0 */5 * * *", "UTC", "2026-01-01T20:00:00Z", "2026-01-02T00:00:00Z" },
    { "0 0 */10 * *", "UTC", "2026-01-31T00:00:00Z", "2026-02-01T00:00:00Z" },
    { "0 0 */10 * *", "UTC", "2026-02-21T00:00:00Z", "2026-03-01T00:00:00Z" },
    { "0 0 1 */5 *", "UTC", "2026-11-01T00:00:00Z", "2027-01-01T00:00:00Z" },
    { "59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z" },
    { "0 0 * * *", "UTC", "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z" },
    { "0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z" },
    { "0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z" },
    { "0 0 31 * *", "UTC", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z" },
    { "0 0 31 * *", "UTC", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z" },
    /* names in any case, 7 and SUN-ending ranges as Sunday, the day rule:
     * both restricted fire on either, a field starting with "*" narrows
     * the other */
    { "0 12 * JAN,jul *", "UTC",
      "2026-01-31T12:00:00Z", "2026-07-01T12:00:00Z" },
    { "0 0 1 FEB-apr/2 *", "UTC",
      "2026-02-01T00:00:00Z", "2026-04-01T00:00:00Z" },
    { "0 9 * * MON-FRI", "UTC",
      "2026-01-02T09:00:00Z", "2026-01-05T09:00:00Z" },
    { "0 9 * * 7", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T09:00:00Z" },
    { "0 9 * * 0", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T09:00:00Z" },
    { "0 9 * * sun", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T09:00:00Z" },
    { "0 9 * * FRI-SUN", "UTC",
      "2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z" },
    { "0 9 * * 5-7", "UTC", "2026-01-03T09:00:00Z", "2026-01-04T09:00:00Z" },
    { "0 0 13 * FRI", "UTC", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z" },
    { "0 0 13 * FRI", "UTC", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z" },
    { "0 0 13 * *", "UTC", "2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z" },
    { "0 0 */2 * MON", "UTC", "2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z" },
    { "0 0 * 1 MON", "UTC", "2026-01-26T00:00:00Z", "2027-01-04T00:00:00Z" },
    /* macros, the 6-field form, blanks */
    { "@yearly", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z" },
    { "@annually", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z" },
    { "@monthly", "UTC", "2026-01-15T10:00:00Z", "2026-02-01T00:00:00Z" },
    { "@weekly", "UTC", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z" },
    { "@daily", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z" },
    { "@midnight", "UTC", "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z" },
    { "@hourly", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z" },
    { "*/15 * * * * *", "UTC",
      "2026-01-01T00:00:50Z", "2026-01-01T00:01:00Z" },
    { "30 5 4 * * *", "UTC", "2026-01-01T04:05:30Z", "2026-01-02T04:05:30Z" },
    { "0-10/5 0 0 1 1 *", "UTC",
      "2026-01-01T00:00:10Z", "2027-01-01T00:00:00Z" },
    { "\t 0  12\t* * *  ", "UTC",
      "2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z" },
    /* zones without a change nearby, half-hour and +14 offsets */
    { "0 9 * * *", "Asia/Kolkata",
      "2026-01-01T00:00:00Z", "2026-01-01T09:00:00+05:30" },
    { "0 9 * * *", BERLIN,
      "2026-06-01T00:00:00Z", "2026-06-01T09:00:00+02:00" },
    { "0 0 1 1 *", "Pacific/Kiritimati",
      "2026-06-01T00:00:00Z", "2027-01-01T00:00:00+14:00" },
    /* New York, 2026-03-08 02:00 EST -> 03:00 EDT: fixed-time jobs in the
     * gap fire at 03:00, interval-like ones skip it */
    { "30 2 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00" },
    { "0 2 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00" },
    { "59 2 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00" },
    { "0 3 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00" },
    { "15 3 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-08T03:15:00-04:00" },
    { "30 1 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-08T01:30:00-05:00" },
    { "15 * * * *", NY,
      "2026-03-08T01:15:00-05:00", "2026-03-08T03:15:00-04:00" },
    { "*/20 * * * *", NY,
      "2026-03-08T01:40:00-05:00", "2026-03-08T03:00:00-04:00" },
    { "* 2 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-09T02:00:00-04:00" },
    { "0 30 2 * * *", NY,
      "2026-03-08T00:00:00-05:00", "2026-03-08T03:00:00-04:00" },
    { "30 2 * * *", NY,
      "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00" },
    /* New York, 2026-11-01 02:00 EDT -> 01:00 EST: fixed-time jobs fire
     * at the first 01:xx only, interval-like ones at both */
    { "30 1 * * *", NY,
      "2026-11-01T00:00:00-04:00", "2026-11-01T01:30:00-04:00" },
    { "30 1 * * *", NY,
      "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00" },
    { "30 1 * * *", NY,
      "2026-11-01T01:10:00-05:00", "2026-11-02T01:30:00-05:00" },
    { "15 1 * * *", NY,
      "2026-11-01T01:20:00-04:00", "2026-11-02T01:15:00-05:00" },
    { "*/20 * * * *", NY,
      "2026-11-01T01:40:00-04:00", "2026-11-01T01:00:00-05:00" },
    { "0 * * * *", NY,
      "2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00" },
    { "0 2 * * *", NY,
      "2026-11-01T00:00:00-04:00", "2026-11-01T02:00:00-05:00" },
    /* Berlin, 2026-03-29 02:00 -> 03:00 and 2026-10-25 03:00 -> 02:00 */
    { "30 2 * * *", BERLIN,
      "2026-03-29T00:00:00+01:00", "2026-03-29T03:00:00+02:00" },
    { "*/30 * * * *", BERLIN,
      "2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00" },
    { "30 2 * * *", BERLIN,
      "2026-10-25T00:00:00+02:00", "2026-10-25T02:30:00+02:00" },
    { "30 2 * * *", BERLIN,
      "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00" },
    { "*/30 * * * *", BERLIN,
      "2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00" },
    /* Lord Howe: half-hour changes, 2026-10-04 02:00 -> 02:30 and
     * 2026-04-05 02:00 -> 01:30 */
    { "15 2 * * *", LORD_HOWE,
      "2026-10-04T00:00:00+10:30", "2026-10-04T02:30:00+11:00" },
    { "45 2 * * *", LORD_HOWE,
      "2026-10-04T00:00:00+10:30", "2026-10-04T02:45:00+11:00" },
    { "45 1 * * *", LORD_HOWE,
      "2026-04-05T00:00:00+11:00", "2026-04-05T01:45:00+11:00" },
    { "45 1 * * *", LORD_HOWE,
      "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30" },
    { "*/30 * * * *", LORD_HOWE,
      "2026-04-05T01:30:00+11:00", "2026-04-05T01:30:00+10:30" },
    /* Santiago changes at midnight (00:00 -> 01:00, 24:00 -> 23:00);
     * Troll by two hours */
    { "0 0 * * *", "America/Santiago",
      "2026-09-05T12:00:00-04:00", "2026-09-06T01:00:00-03:00" },
    { "30 23 * * *", "America/Santiago",
      "2026-04-04T23:30:00-03:00", "2026-04-05T23:30:00-04:00" },
    { "0 2 * * *", "Antarctica/Troll",
      "2026-03-29T00:00:00+00:00", "2026-03-29T03:00:00+02:00" },
    };
    struct fpmd_cron c;
    time_t next;
    char got[32], want[32];

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(rows); i++) {
        if (parse(&c, rows[i].expr, NULL, 0, NULL) != FPMD_OK)
            fail_msg("row %zu (%s): refused", i, rows[i].expr);
        if (fpmd_cron_next(&c, rows[i].tz, iso(rows[i].after), &next)
                != FPMD_OK)
            fail_msg("row %zu (%s in %s after %s): no next", i,
                     rows[i].expr, rows[i].tz, rows[i].after);
        if (next != iso(rows[i].next))
            fail_msg("row %zu (%s in %s after %s): got %s, want %s (%s)", i,
                     rows[i].expr, rows[i].tz, rows[i].after,
                     utc(next, got, sizeof(got)),
                     utc(iso(rows[i].next), want, sizeof(want)),
                     rows[i].next);
    }
}

static void
next_follows_a_job_across_a_change(void **state)
{
    static const struct {
        const char *expr, *tz, *from, *next[6];
    } rows[] = {
        /* once on the day the clocks go back */
        { "30 1 * * *", NY, "2026-10-31T00:00:00-04:00",
          { "2026-10-31T01:30:00-04:00", "2026-11-01T01:30:00-04:00",
            "2026-11-02T01:30:00-05:00" } },
        /* at 03:00 on the day 02:30 does not exist */
        { "30 2 * * *", NY, "2026-03-07T00:00:00-05:00",
          { "2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00",
            "2026-03-09T02:30:00-04:00" } },
        { "*/30 * * * *", NY, "2026-11-01T00:45:00-04:00",
          { "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
            "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00",
            "2026-11-01T02:00:00-05:00" } },
        { "*/30 * * * *", NY, "2026-03-08T01:15:00-05:00",
          { "2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00",
            "2026-03-08T03:30:00-04:00" } },
        { "0 2 * * *", BERLIN, "2026-10-24T12:00:00+02:00",
          { "2026-10-25T02:00:00+02:00", "2026-10-26T02:00:00+01:00" } },
        { "*/30 1-2 * * *", LORD_HOWE, "2026-04-05T00:50:00+11:00",
          { "2026-04-05T01:00:00+11:00", "2026-04-05T01:30:00+11:00",
            "2026-04-05T01:30:00+10:30", "2026-04-05T02:00:00+10:30",
            "2026-04-05T02:30:00+10:30", "2026-04-06T01:00:00+10:30" } },
        { "0 */6 * * *", "America/Santiago", "2026-04-04T12:00:00-03:00",
          { "2026-04-04T18:00:00-03:00", "2026-04-05T00:00:00-04:00",
            "2026-04-05T06:00:00-04:00", "2026-04-05T12:00:00-04:00",
            "2026-04-05T18:00:00-04:00" } },
    };
    struct fpmd_cron c;
    time_t at, next;
    char got[32];

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(rows); i++) {
        assert_int_equal(parse(&c, rows[i].expr, NULL, 0, NULL), FPMD_OK);
        at = iso(rows[i].from);
        for (size_t j = 0; j < 6 && rows[i].next[j] != NULL; j++) {
            if (fpmd_cron_next(&c, rows[i].tz, at, &next) != FPMD_OK
                || next != iso(rows[i].next[j]))
                fail_msg("%s in %s, fire %zu: got %s, want %s",
                         rows[i].expr, rows[i].tz, j,
                         utc(next, got, sizeof(got)), rows[i].next[j]);
            at = next;
        }
    }
}

/* cron.h's rules read literally against the zone's own clock: */
static bool
wall_matches(const struct fpmd_cron *c, time_t wall)
{
    struct tm tm;
    bool dom, dow;

    gmtime_r(&wall, &tm);
    dom = c->dom >> tm.tm_mday & 1;
    dow = c->dow >> tm.tm_wday & 1;
    return (c->sec >> tm.tm_sec & 1) && (c->min >> tm.tm_min & 1)
           && (c->hour >> tm.tm_hour & 1) && (c->mon >> (tm.tm_mon + 1) & 1)
           && (c->dom_restricted && c->dow_restricted ? dom || dow
                                                      : dom && dow);
}

static time_t
wall_of(time_t t)
{
    struct tm tm;

    localtime_r(&t, &tm);
    return t + tm.tm_gmtoff;
}

/* Every instant from `from` to `to`, a minute apart (a second for the
 * 6-field form): one fires when its wall time matches and the job is
 * interval-like or the wall time is new, above all seen before; a
 * fixed-time job also fires where the clock jumps forward to, if a wall
 * time it skipped matches. next() from each fire must give the next. */
static unsigned
check_scan(const char *expr, const char *tz, time_t from, time_t to)
{
    struct fpmd_cron c;
    char zone[64], a[32], b[32];
    time_t step, seen, prev, w, next, at = from;
    unsigned fires = 0;

    assert_int_equal(parse(&c, expr, NULL, 0, NULL), FPMD_OK);
    step = c.sec == 1 ? 60 : 1;
    snprintf(zone, sizeof(zone), ":%s", tz);
    setenv("TZ", zone, 1);
    tzset();
    /* from a day before, to know the wall times seen before from */
    prev = seen = wall_of(from - 86400);
    for (time_t t = from - 86400 + step; t <= to; t += step) {
        bool fire;

        w = wall_of(t);
        fire = wall_matches(&c, w) && (c.interval || w > seen);
        for (time_t g = prev + step; !fire && !c.interval && g < w;
             g += step)
            fire = wall_matches(&c, g);
        seen = w > seen ? w : seen;
        prev = w;
        if (!fire || t <= from)
            continue;
        if (fpmd_cron_next(&c, tz, at, &next) != FPMD_OK || next != t)
            fail_msg("%s in %s after %s: got %s, want %s", expr, tz,
                     utc(at, a, sizeof(a)), utc(next, b, sizeof(b)),
                     utc(t, zone, sizeof(zone)));
        at = t;
        fires++;
    }
    if (fpmd_cron_next(&c, tz, at, &next) == FPMD_OK && next <= to)
        fail_msg("%s in %s after %s: got %s, want none before %s", expr, tz,
                 utc(at, a, sizeof(a)), utc(next, b, sizeof(b)),
                 utc(to, zone, sizeof(zone)));
    unsetenv("TZ");
    tzset();
    return fires;
}

static void
next_agrees_with_a_scan_of_every_minute(void **state)
{
    /* the instants the offset changes at, in UTC */
    static const struct {
        const char *tz, *change;
    } changes[] = {
        { NY, "2026-03-08T07:00:00Z" },
        { NY, "2026-11-01T06:00:00Z" },
        { BERLIN, "2026-03-29T01:00:00Z" },
        { BERLIN, "2026-10-25T01:00:00Z" },
        { LORD_HOWE, "2026-04-04T15:00:00Z" },
        { LORD_HOWE, "2026-10-03T15:30:00Z" },
        { "America/Santiago", "2026-04-05T03:00:00Z" },
        { "America/Santiago", "2026-09-06T04:00:00Z" },
        { "Antarctica/Troll", "2026-03-29T01:00:00Z" },
        { "Antarctica/Troll", "2026-10-25T01:00:00Z" },
        { "Asia/Kolkata", "2026-03-29T01:00:00Z" },
        { "UTC", "2026-12-31T12:00:00Z" },
    };
    static const char *const minutes[] = {
        "30 2 * * *", "0 2 * * *", "30 1 * * *", "0 3 * * *",
        "45 1,2 * * *", "0 0 * * *", "30 0 * * *", "59 23 * * *",
        "30 23 * * *", "5 0 * * SUN", "0 2 1-10 * SAT", "@daily",
        "*/10 * * * *", "15 * * * *", "* 1 * * *", "0,30 0-3 * * *",
        "*/7 1-2 * * *", "@hourly",
    };
    static const char *const seconds[] = {
        "0 30 2 * * *", "*/30 59 1 * * *", "15 */20 1-2 * * *",
        "0 0 0 * * *",
    };

    unsigned fires = 0;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(changes); i++) {
        time_t t = iso(changes[i].change);

        for (size_t j = 0; j < FPMD_ARRAY_LEN(minutes); j++)
            fires += check_scan(minutes[j], changes[i].tz, t - 26 * 3600,
                                t + 26 * 3600);
        for (size_t j = 0; j < FPMD_ARRAY_LEN(seconds); j++)
            fires += check_scan(seconds[j], changes[i].tz, t - 3 * 3600,
                                t + 3 * 3600);
    }
    print_message("%u fires checked\n", fires);
    assert_true(fires > 5000);
}

static void
next_refuses_what_never_fires_and_bad_input(void **state)
{
    struct fpmd_cron c;
    time_t next = 0;

    (void) state;
    assert_int_equal(parse(&c, "0 0 30 2 *", NULL, 0, NULL), FPMD_OK);
    assert_int_equal(fpmd_cron_next(&c, "UTC", 0, &next), FPMD_ERROR);
    assert_int_equal(parse(&c, "0 0 31 2,4,6,9,11 *", NULL, 0, NULL),
                     FPMD_OK);
    assert_int_equal(fpmd_cron_next(&c, "UTC", 0, &next), FPMD_ERROR);
    assert_int_equal(next, 0);
    assert_int_equal(parse(&c, "* * * * *", NULL, 0, NULL), FPMD_OK);
    assert_int_equal(fpmd_cron_next(&c, "Mars/Olympus_Mons", 0, &next),
                     FPMD_ERROR);
    assert_int_equal(fpmd_cron_next(&c, "UTC", -1, &next), FPMD_ERROR);
    assert_int_equal(fpmd_cron_next(&c, "UTC", (time_t) 253402300800LL,
                                    &next), FPMD_ERROR);
    /* the last accepted time fires in year 10000 */
    assert_int_equal(fpmd_cron_next(&c, "UTC", (time_t) 253402300799LL,
                                    &next), FPMD_OK);
    assert_int_equal(next, 253402300800LL);
}

static void
next_puts_tz_back(void **state)
{
    struct fpmd_cron c;
    time_t next;
    struct tm tm;
    const char *tz;

    (void) state;
    assert_int_equal(parse(&c, "0 9 * * *", NULL, 0, NULL), FPMD_OK);
    setenv("TZ", ":Asia/Tokyo", 1);
    tzset();
    assert_int_equal(fpmd_cron_next(&c, NY, iso("2026-01-01T00:00:00Z"),
                                    &next), FPMD_OK);
    assert_int_equal(next, iso("2026-01-01T09:00:00-05:00"));
    tz = getenv("TZ");
    assert_non_null(tz);
    assert_string_equal(tz, ":Asia/Tokyo");
    localtime_r(&next, &tm);
    assert_int_equal(tm.tm_gmtoff, 9 * 3600);
    /* NULL and "": the process's zone */
    assert_int_equal(fpmd_cron_next(&c, NULL, iso("2025-12-31T12:00:00Z"),
                                    &next), FPMD_OK);
    assert_int_equal(next, iso("2026-01-01T09:00:00+09:00"));
    assert_int_equal(fpmd_cron_next(&c, "", iso("2025-12-31T12:00:00Z"),
                                    &next), FPMD_OK);
    assert_int_equal(next, iso("2026-01-01T09:00:00+09:00"));
    /* a refused zone leaves TZ alone too */
    assert_int_equal(fpmd_cron_next(&c, "Nowhere", 0, &next), FPMD_ERROR);
    assert_string_equal(getenv("TZ"), ":Asia/Tokyo");
    unsetenv("TZ");
    tzset();
    assert_int_equal(fpmd_cron_next(&c, BERLIN, 0, &next), FPMD_OK);
    assert_null(getenv("TZ"));
}

static void
tz_valid_takes_zone_names_only(void **state)
{
    static const char *const good[] = {
        "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires",
        "Etc/GMT+5", "Etc/GMT-14", "America/Port-au-Prince", "",
    };
    static const char *const bad[] = {
        "Mars/Olympus_Mons", "../../../etc/passwd", "/etc/localtime",
        "/usr/share/zoneinfo/UTC", "Europe/", "Europe//Berlin", "Europe",
        "zone.tab", "./UTC", "right/UTC", "Europe/Berlin\n", "Europe/Ber lin",
        "leapseconds", ":UTC", "EST5EDT,M3.2.0,M11.1.0",
    };
    char longname[FPMD_CRON_TZ_MAX + 8];

    (void) state;
    assert_true(fpmd_cron_tz_valid(NULL));
    for (size_t i = 0; i < FPMD_ARRAY_LEN(good); i++)
        if (!fpmd_cron_tz_valid(good[i]))
            fail_msg("%s refused", good[i]);
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad); i++)
        if (fpmd_cron_tz_valid(bad[i]))
            fail_msg("%s accepted", bad[i]);
    memset(longname, 'A', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_false(fpmd_cron_tz_valid(longname));
    /* TZDIR moves the zones, as it does for glibc */
    setenv("TZDIR", "/nonexistent", 1);
    assert_false(fpmd_cron_tz_valid("UTC"));
    unsetenv("TZDIR");
    assert_true(fpmd_cron_tz_valid("UTC"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_fills_the_sets),
        cmocka_unit_test(parse_refuses_naming_the_token_and_its_column),
        cmocka_unit_test(parse_bounds_the_length_and_the_message),
        cmocka_unit_test(next_matches_the_table),
        cmocka_unit_test(next_follows_a_job_across_a_change),
        cmocka_unit_test(next_agrees_with_a_scan_of_every_minute),
        cmocka_unit_test(next_refuses_what_never_fires_and_bad_input),
        cmocka_unit_test(next_puts_tz_back),
        cmocka_unit_test(tz_valid_takes_zone_names_only),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

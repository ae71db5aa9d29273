/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for fpmd_cron: an expression is refused with a
 * printable message and a column inside it, or parses to sets that are
 * non-empty and within their fields; its next fire time, from a few
 * fixed instants, is later than the start and matches the sets (in UTC;
 * in New York, or is where the clock jumps forward for a fixed-time
 * job), and no second in between matches when the wait is short. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fpmd/common.h"
#include "fpmd/cron.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
matches(const struct fpmd_cron *c, const struct tm *tm)
{
    bool dom = c->dom >> tm->tm_mday & 1, dow = c->dow >> tm->tm_wday & 1;

    return (c->sec >> tm->tm_sec & 1) && (c->min >> tm->tm_min & 1)
           && (c->hour >> tm->tm_hour & 1) && (c->mon >> (tm->tm_mon + 1) & 1)
           && (c->dom_restricted && c->dow_restricted ? dom || dow
                                                      : dom && dow);
}

static void
check_utc(const struct fpmd_cron *c, time_t start)
{
    time_t next, after;
    struct tm tm;

    if (fpmd_cron_next(c, "UTC", start, &next) != FPMD_OK)
        return;
    assert(next > start);
    gmtime_r(&next, &tm);
    assert(matches(c, &tm));
    if (next - start <= 3600) {
        for (time_t t = start + 1; t < next; t++) {
            gmtime_r(&t, &tm);
            assert(!matches(c, &tm));
        }
    }
    if (fpmd_cron_next(c, "UTC", next, &after) == FPMD_OK)
        assert(after > next);
}

static void
check_new_york(const struct fpmd_cron *c, time_t start)
{
    time_t next, before, after;
    struct tm tm, prev;

    if (fpmd_cron_next(c, "America/New_York", start, &next) != FPMD_OK)
        return;
    assert(next > start);
    /* TZ is New York already, see below */
    localtime_r(&next, &tm);
    before = next - 1;
    localtime_r(&before, &prev);
    assert(matches(c, &tm)
           || (!c->interval && prev.tm_gmtoff < tm.tm_gmtoff));
    if (fpmd_cron_next(c, "America/New_York", next, &after) == FPMD_OK)
        assert(after > next);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 2026-01-01, 2026-03-08 01:59:59 EST (before the jump forward),
     * 2026-11-01 01:59:59 EDT (before the jump back), 2099-12-31 */
    static const time_t starts[] = { 1767225600, 1772953199, 1793512799,
                                     4102444799 };
    char *expr = malloc(size + 1), err[128];
    struct fpmd_cron c;
    size_t col = 0;

    if (expr == NULL)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    memset(err, 'x', sizeof(err));
    if (fpmd_cron_parse(&c, expr, err, sizeof(err), &col) != FPMD_OK) {
        assert(col >= 1 && col <= strlen(expr) + 1);
        assert(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
        for (const char *p = err; *p != '\0'; p++)
            assert(*p >= 0x20 && *p < 0x7f);
        free(expr);
        return 0;
    }
    assert(c.sec != 0 && c.sec >> 60 == 0);
    assert(c.min != 0 && c.min >> 60 == 0);
    assert(c.hour != 0 && c.hour >> 24 == 0);
    assert(c.dom != 0 && (c.dom & 1) == 0);
    assert(c.mon != 0 && (c.mon & 1) == 0 && c.mon >> 13 == 0);
    assert(c.dow != 0 && c.dow >> 7 == 0);
    /* TZ set to the zone asked for spares next() a switch and back */
    setenv("TZ", ":UTC", 1);
    tzset();
    for (size_t i = 0; i < FPMD_ARRAY_LEN(starts); i++)
        check_utc(&c, starts[i]);
    setenv("TZ", ":America/New_York", 1);
    tzset();
    for (size_t i = 0; i < FPMD_ARRAY_LEN(starts); i++)
        check_new_york(&c, starts[i]);
    free(expr);
    return 0;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Crontab expressions (cron.h). The parser fills bitsets; the search for
 * the next fire time walks the local calendar field by field, then checks
 * the UTC offset over the span it covers and, where it changes, restarts
 * from the change with cronie's daylight saving rules. */
#include "config.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fpmd/common.h"
#include "fpmd/cron.h"

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };

struct field {
    const char *name;
    int lo, hi;       /* the values a number may have */
    int star_hi;      /* where '*' and N/S end: 6 for weekdays, 7 is Sunday */
    const char *kind; /* what its names are, NULL: numbers only */
    const char *const *names;
    int names_len;
    int first_name;   /* the value of names[0] */
};

static const char *const month_names[] = {
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN",
    "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
};
static const char *const day_names[] = {
    "SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT",
};

static const struct field fields[] = {
    [F_SEC] = { "second", 0, 59, 59, NULL, NULL, 0, 0 },
    [F_MIN] = { "minute", 0, 59, 59, NULL, NULL, 0, 0 },
    [F_HOUR] = { "hour", 0, 23, 23, NULL, NULL, 0, 0 },
    [F_DOM] = { "day-of-month", 1, 31, 31, NULL, NULL, 0, 0 },
    [F_MON] = { "month", 1, 12, 12, "month name (JAN-DEC)", month_names,
                FPMD_ARRAY_LEN(month_names), 1 },
    [F_DOW] = { "day-of-week", 0, 7, 6, "day name (SUN-SAT)", day_names,
                FPMD_ARRAY_LEN(day_names), 0 },
};

static const struct {
    const char *name;
    const char *fields;
} macros[] = {
    { "@yearly", "0 0 1 1 *" },
    { "@annually", "0 0 1 1 *" },
    { "@monthly", "0 0 1 * *" },
    { "@weekly", "0 0 * * 0" },
    { "@daily", "0 0 * * *" },
    { "@midnight", "0 0 * * *" },
    { "@hourly", "0 * * * *" },
};

#define FIELDS_EXPECTED \
    "expected 5 (minute hour day-of-month month day-of-week) or 6 " \
    "(second first)"

/* Where a message goes, and what its columns count from. */
struct parser {
    const char *expr;
    char *err;
    size_t errlen;
    size_t *errcol;
};

/* Quoted text in a message stays printable and short, whatever the
 * expression held: the message ends up in a log. */
struct shown {
    char s[40];
};

static int
fail(const struct parser *p, const char *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(const struct parser *p, const char *at, const char *fmt, ...)
{
    va_list ap;

    if (p->errcol != NULL)
        *p->errcol = (size_t) (at - p->expr) + 1;
    if (p->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(p->err, p->errlen, fmt, ap);
        va_end(ap);
    }
    return FPMD_ERROR;
}

static bool
blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool
ends_field(char ch)
{
    return ch == '\0' || blank(ch);
}

static bool
alnum(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')
        || (ch >= 'a' && ch <= 'z');
}

static char
upper(char ch)
{
    return ch >= 'a' && ch <= 'z' ? (char) (ch - 'a' + 'A') : ch;
}

/* ASCII only: the locale's case rules (Turkish dotless i) stay out. */
static bool
same_word(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (upper(a[i]) != upper(b[i]))
            return false;
    return true;
}

static void
show_token(struct shown *out, const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n < sizeof(out->s) - 4; i++) {
        unsigned char ch = (unsigned char) s[i];

        out->s[n++] = ch >= 0x20 && ch < 0x7f ? (char) ch : '?';
    }
    if (n < len) {
        memcpy(out->s + n, "...", 3);
        n += 3;
    }
    out->s[n] = '\0';
}

static void
show_char(struct shown *out, char ch)
{
    unsigned char u = (unsigned char) ch;

    if (ends_field(ch))
        snprintf(out->s, sizeof(out->s), "the end of the field");
    else if (u > 0x20 && u < 0x7f)
        snprintf(out->s, sizeof(out->s), "'%c'", ch);
    else
        snprintf(out->s, sizeof(out->s), "byte 0x%02X", u);
}

/* Reads the number or name at *s into *v and moves *s past it. A run of
 * letters and digits is one token, so "5x" is refused whole. range_end:
 * the token ends a range, where SUN is 7. */
static int
read_value(const struct parser *p, const struct field *f, const char **s,
           int *v, bool range_end)
{
    const char *t = *s;
    size_t n = 0;
    bool digits = true;
    struct shown tok;

    for (; alnum(t[n]); n++)
        digits = digits && t[n] >= '0' && t[n] <= '9';
    if (n == 0) {
        show_char(&tok, *t);
        if (range_end)
            return fail(p, t, "%s field: expected a number%s after '-', "
                        "found %s", f->name, f->names ? " or a name" : "",
                        tok.s);
        if (*t == '?')
            return fail(p, t, "%s field: '?' (Quartz's \"no value\") is "
                        "not supported, write '*'", f->name);
        return fail(p, t, "%s field: unexpected %s, expected a number%s "
                    "or '*'", f->name, tok.s, f->names ? ", a name" : "");
    }
    show_token(&tok, t, n);
    *s = t + n;
    if (digits) {
        /* saturates: 99999999999999999999 is out of range, not UB */
        *v = 0;
        for (size_t i = 0; i < n; i++)
            *v = *v > 999 ? 10000 : *v * 10 + (t[i] - '0');
        if (*v < f->lo || *v > f->hi)
            return fail(p, t, "%s field: %s is out of range %d-%d",
                        f->name, tok.s, f->lo, f->hi);
        return FPMD_OK;
    }
    for (int i = 0; n == 3 && i < f->names_len; i++) {
        if (same_word(t, f->names[i], 3)) {
            *v = f->first_name + i;
            if (range_end && f == &fields[F_DOW] && *v == 0)
                *v = 7;
            return FPMD_OK;
        }
    }
    if (f->names != NULL)
        return fail(p, t, "%s field: '%s' is not a %s or a number %d-%d",
                    f->name, tok.s, f->kind, f->lo, f->hi);
    return fail(p, t, "%s field: '%s' is not a number %d-%d", f->name,
                tok.s, f->lo, f->hi);
}

static int
read_step(const struct parser *p, const struct field *f, const char **s,
          int *step)
{
    const char *t = *s;
    size_t n = 0;
    int max = f->star_hi - f->lo;
    bool digits = true;
    struct shown tok;

    for (; alnum(t[n]); n++)
        digits = digits && t[n] >= '0' && t[n] <= '9';
    if (n == 0) {
        show_char(&tok, *t);
        return fail(p, t, "%s field: expected a step 1-%d after '/', "
                    "found %s", f->name, max, tok.s);
    }
    show_token(&tok, t, n);
    if (!digits)
        return fail(p, t, "%s field: step '%s' is not a number 1-%d",
                    f->name, tok.s, max);
    *step = 0;
    for (size_t i = 0; i < n; i++)
        *step = *step > 999 ? 10000 : *step * 10 + (t[i] - '0');
    if (*step < 1 || *step > max)
        return fail(p, t, "%s field: step %s is out of range 1-%d", f->name,
                    tok.s, max);
    *s = t + n;
    return FPMD_OK;
}

/* One field, from s to the next blank or the end: a comma list of
 * "*", "N" or "N-M", each with an optional "/S". */
static int
parse_field(const struct parser *p, int fi, const char *s, uint64_t *set)
{
    static const char after_value[] = "',', '-', '/', a blank or the end";
    static const char after_range[] = "',', '/', a blank or the end";
    static const char after_step[] = "',', a blank or the end";
    const struct field *f = &fields[fi];
    struct shown tok, lo_tok, hi_tok;

    *set = 0;
    for (;;) {
        const char *item = s, *hi_at, *expect = after_range;
        int lo, hi, step = 1;

        if (*s == ',' || ends_field(*s))
            return fail(p, s, "%s field: empty list item", f->name);
        if (*s == '*') {
            lo = f->lo;
            hi = f->star_hi;
            s++;
        } else {
            if (read_value(p, f, &s, &lo, false) != FPMD_OK)
                return FPMD_ERROR;
            hi = lo;
            expect = after_value;
            if (*s == '-') {
                hi_at = ++s;
                if (read_value(p, f, &s, &hi, true) != FPMD_OK)
                    return FPMD_ERROR;
                if (hi < lo) {
                    show_token(&lo_tok, item, (size_t) (hi_at - 1 - item));
                    show_token(&hi_tok, hi_at, (size_t) (s - hi_at));
                    return fail(p, item, "%s field: range %s-%s runs "
                                "backwards (%d > %d); ranges do not wrap, "
                                "split it in two", f->name, lo_tok.s,
                                hi_tok.s, lo, hi);
                }
                expect = after_range;
            } else if (*s == '/' && hi < f->star_hi) {
                hi = f->star_hi;
            }
        }
        if (*s == '/') {
            s++;
            if (read_step(p, f, &s, &step) != FPMD_OK)
                return FPMD_ERROR;
            expect = after_step;
        }
        for (int v = lo; v <= hi; v += step)
            *set |= (uint64_t) 1 << v;
        if (*s == ',') {
            s++;
            continue;
        }
        if (ends_field(*s))
            break;
        show_char(&tok, *s);
        return fail(p, s, "%s field: unexpected %s, expected %s", f->name,
                    tok.s, expect);
    }
    /* 7 is Sunday's other number */
    if (fi == F_DOW && (*set & (1u << 7)))
        *set = (*set & ~(uint64_t) (1u << 7)) | 1;
    return FPMD_OK;
}

/* Splits s, blanks already skipped, into 5 or 6 fields and parses them. */
static int
parse_fields(const struct parser *p, struct fpmd_cron *c, const char *s)
{
    const char *start[6];
    uint64_t sets[6];
    int n = 0, first;

    while (*s != '\0') {
        if (n == 6)
            return fail(p, s, "more than 6 fields: " FIELDS_EXPECTED);
        start[n++] = s;
        while (!ends_field(*s))
            s++;
        while (blank(*s))
            s++;
    }
    if (n < 5)
        return fail(p, s, "%d field%s: " FIELDS_EXPECTED, n,
                    n == 1 ? "" : "s");
    first = n == 6 ? F_SEC : F_MIN;
    sets[F_SEC] = 1;
    for (int i = 0; i < n; i++)
        if (parse_field(p, first + i, start[i], &sets[first + i]) != FPMD_OK)
            return FPMD_ERROR;
    c->sec = sets[F_SEC];
    c->min = sets[F_MIN];
    c->hour = (uint32_t) sets[F_HOUR];
    c->dom = (uint32_t) sets[F_DOM];
    c->mon = (uint16_t) sets[F_MON];
    c->dow = (uint8_t) sets[F_DOW];
    /* cronie's DOM_STAR / DOW_STAR and MIN_STAR / HR_STAR: the first
     * character decides, as in Vixie cron's entry.c */
    c->dom_restricted = *start[n - 3] != '*';
    c->dow_restricted = *start[n - 1] != '*';
    c->interval = *start[n - 5] == '*' || *start[n - 4] == '*'
                  || (n == 6 && *start[0] == '*');
    return FPMD_OK;
}

static int
parse_macro(const struct parser *p, struct fpmd_cron *c, const char *s)
{
    const char *rest;
    size_t n = 0;
    struct shown tok;

    while (!ends_field(s[n]))
        n++;
    show_token(&tok, s, n);
    for (rest = s + n; blank(*rest); rest++)
        continue;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(macros); i++) {
        const struct parser expansion = { macros[i].fields, NULL, 0, NULL };

        if (strlen(macros[i].name) != n || !same_word(s, macros[i].name, n))
            continue;
        if (*rest != '\0') {
            for (n = 0; !ends_field(rest[n]); n++)
                continue;
            show_token(&tok, rest, n);
            return fail(p, rest, "unexpected '%s' after %s: a macro stands "
                        "alone", tok.s, macros[i].name);
        }
        return parse_fields(&expansion, c, macros[i].fields);
    }
    if (n == 7 && same_word(s, "@reboot", 7))
        return fail(p, s, "@reboot is not supported: fpmd's cron jobs run "
                    "by the clock only");
    return fail(p, s, "unknown macro '%s', expected @yearly, @annually, "
                "@monthly, @weekly, @daily, @midnight or @hourly", tok.s);
}

int
fpmd_cron_parse(struct fpmd_cron *c, const char *expr, char *err,
                size_t errlen, size_t *errcol)
{
    const struct parser p = { expr, err, errlen, errcol };
    const char *s = expr;

    if (strnlen(expr, FPMD_CRON_EXPR_MAX + 1) > FPMD_CRON_EXPR_MAX)
        return fail(&p, expr + FPMD_CRON_EXPR_MAX,
                    "expression is longer than %d bytes",
                    FPMD_CRON_EXPR_MAX);
    while (blank(*s))
        s++;
    if (*s == '\0')
        return fail(&p, expr, "empty expression: " FIELDS_EXPECTED
                    ", or a @macro");
    if (*s == '@')
        return parse_macro(&p, c, s);
    return parse_fields(&p, c, s);
}

/* Local times are counted as seconds since 1970-01-01 00:00 on the wall
 * clock ("wall"), instants as time_t; wall = instant + UTC offset. */

static int64_t
floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

/* Days since 1970-01-01 of a Gregorian date, and back: Howard Hinnant's
 * days_from_civil and civil_from_days. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy;

    y -= m <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int
month_days(int64_t y, int m)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                31 };

    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        return 29;
    return days[m - 1];
}

/* The smallest n >= from in set, n <= max; -1 if none. */
static int
next_bit(uint64_t set, int from, int max)
{
    int n;

    if (from > max)
        return -1;
    set &= ~(uint64_t) 0 << from;
    if (set == 0)
        return -1;
    n = __builtin_ctzll(set);
    return n <= max ? n : -1;
}

/* Vixie cron's day rule (cron.h, dom_restricted). */
static bool
day_matches(const struct fpmd_cron *c, int mday, int wday)
{
    bool dom = c->dom >> mday & 1, dow = c->dow >> wday & 1;

    if (c->dom_restricted && c->dow_restricted)
        return dom || dow;
    return dom && dow;
}

static int
next_day(const struct fpmd_cron *c, int64_t y, int m, int d)
{
    int last = month_days(y, m);
    int wday = (int) ((days_from_civil(y, m, d) % 7 + 11) % 7);

    for (; d <= last; d++, wday = (wday + 1) % 7)
        if (day_matches(c, d, wday))
            return d;
    return -1;
}

/* The first wall time at or after w that c matches; none within 8
 * years is an error. A step moves to the next candidate of the field
 * that failed and resets the ones below it, so the cost is at most a
 * day per day, not a second per second. */
static int
next_match(const struct fpmd_cron *c, int64_t w, int64_t *out)
{
    int64_t days = floor_div(w, 86400), y, last_year;
    int rest = (int) (w - days * 86400), mon, d, n;
    int h = rest / 3600, mi = rest / 60 % 60, s = rest % 60;

    civil_from_days(days, &y, &mon, &d);
    last_year = y + 8;
    for (;;) {
        if (y > last_year)
            return FPMD_ERROR;
        n = next_bit(c->mon, mon, 12);
        if (n < 0) {
            y++;
            mon = d = 1;
            h = mi = s = 0;
            continue;
        }
        if (n != mon) {
            mon = n;
            d = 1;
            h = mi = s = 0;
        }
        n = next_day(c, y, mon, d);
        if (n < 0) {
            mon++;
            d = 1;
            h = mi = s = 0;
            continue;
        }
        if (n != d) {
            d = n;
            h = mi = s = 0;
        }
        n = next_bit(c->hour, h, 23);
        if (n < 0) {
            d++;
            h = mi = s = 0;
            continue;
        }
        if (n != h) {
            h = n;
            mi = s = 0;
        }
        n = next_bit(c->min, mi, 59);
        if (n < 0) {
            h++;
            mi = s = 0;
            continue;
        }
        if (n != mi) {
            mi = n;
            s = 0;
        }
        n = next_bit(c->sec, s, 59);
        if (n < 0) {
            mi++;
            s = 0;
            continue;
        }
        *out = days_from_civil(y, mon, d) * 86400 + h * 3600 + mi * 60 + n;
        return FPMD_OK;
    }
}

static int
offset_at(int64_t t, long *off)
{
    time_t tt = (time_t) t;
    struct tm tm;

    if ((int64_t) tt != t || localtime_r(&tt, &tm) == NULL)
        return FPMD_ERROR;
    *off = tm.tm_gmtoff;
    return FPMD_OK;
}

/* The first instant in (from, to] whose UTC offset is not off, the one
 * at from, in *at; *found false if none. Probes a day apart (cron.h's
 * one change a day), then bisects to the second. */
static int
find_change(int64_t from, int64_t to, long off, int64_t *at, bool *found)
{
    int64_t lo = from, hi, mid;
    long o;

    *found = false;
    while (lo < to) {
        hi = to - lo > 86400 ? lo + 86400 : to;
        if (offset_at(hi, &o) != FPMD_OK)
            return FPMD_ERROR;
        if (o == off) {
            lo = hi;
            continue;
        }
        while (hi - lo > 1) {
            mid = lo + (hi - lo) / 2;
            if (offset_at(mid, &o) != FPMD_OK)
                return FPMD_ERROR;
            if (o == off)
                lo = mid;
            else
                hi = mid;
        }
        *at = hi;
        *found = true;
        return FPMD_OK;
    }
    return FPMD_OK;
}

/* fpmd_cron_next with TZ in place. Between two offset changes wall time
 * runs with the instants, so the first matching wall time from `due` on
 * is the answer unless the offset changes before it; then the search
 * restarts at the change, under the new offset. `due` is the first wall
 * time still to fire: for a fixed-time job it never goes back, so times
 * repeated by a jump back fire once. */
static int
search(const struct fpmd_cron *c, int64_t after, int64_t *next)
{
    int64_t from = after, due, m, x, change, passed;
    long off, to;
    bool found;

    if (offset_at(from, &off) != FPMD_OK)
        return FPMD_ERROR;
    due = from + off + 1;
    if (!c->interval) {
        /* after may be in the second pass of times repeated by a jump
         * back within the last day: their first pass has fired */
        if (offset_at(from - 86400, &to) != FPMD_OK)
            return FPMD_ERROR;
        if (to > off) {
            if (find_change(from - 86400, from, to, &change, &found)
                != FPMD_OK)
                return FPMD_ERROR;
            if (found && change + to > due)
                due = change + to;
        }
    }
    /* each round passes an offset change: 8 years hold about 16 */
    for (int round = 0; round < 64; round++) {
        if (next_match(c, due, &m) != FPMD_OK)
            return FPMD_ERROR;
        x = m - off;
        if (find_change(from, x, off, &change, &found) != FPMD_OK)
            return FPMD_ERROR;
        if (!found) {
            *next = x;
            return FPMD_OK;
        }
        if (offset_at(change, &to) != FPMD_OK)
            return FPMD_ERROR;
        /* m >= change + off; below change + to, a jump forward skips it */
        if (m < change + to && !c->interval) {
            *next = change;
            return FPMD_OK;
        }
        /* the wall clock restarts at change + to; a fixed-time job has
         * had every wall time below change + off already */
        passed = change + (to > off ? to : off);
        if (c->interval)
            due = change + to;
        else if (passed > due)
            due = passed;
        from = change;
        off = to;
    }
    return FPMD_ERROR;
}

/* The TZ fpmd_cron_next found, to put back. */
struct tz_saved {
    bool changed;
    bool had;
    char value[4096];
};

static bool
zone_char(char ch)
{
    return alnum(ch) || ch == '_' || ch == '+' || ch == '-';
}

bool
fpmd_cron_tz_valid(const char *tz)
{
    const char *dir = getenv("TZDIR");
    char path[4096];
    unsigned char magic[4];
    struct stat st;
    size_t len;
    bool ok;
    int fd, n;

    if (tz == NULL || tz[0] == '\0')
        return true;
    len = strnlen(tz, FPMD_CRON_TZ_MAX + 1);
    if (len > FPMD_CRON_TZ_MAX || tz[0] == '/' || tz[len - 1] == '/'
        || strncmp(tz, "right/", 6) == 0)
        return false;
    /* no '.' at all, so no ".." either */
    for (size_t i = 0; i < len; i++)
        if (tz[i] == '/' ? tz[i + 1] == '/' : !zone_char(tz[i]))
            return false;
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    n = snprintf(path, sizeof(path), "%s/%s", dir, tz);
    if (n < 0 || (size_t) n >= sizeof(path))
        return false;
    /* O_NONBLOCK: a FIFO by that name must not hang the loader */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return false;
    ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
         && read(fd, magic, sizeof(magic)) == (ssize_t) sizeof(magic)
         && memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

static int
switch_tz(struct tz_saved *sv, const char *tz)
{
    char want[FPMD_CRON_TZ_MAX + 2];
    const char *old = getenv("TZ");
    size_t len;

    sv->changed = false;
    if (tz != NULL && tz[0] != '\0') {
        if (!fpmd_cron_tz_valid(tz))
            return FPMD_ERROR;
        /* ':' has glibc read a file under TZDIR, never a POSIX rule */
        want[0] = ':';
        len = strlen(tz);
        memcpy(want + 1, tz, len + 1);
        if (old == NULL || strcmp(old + (old[0] == ':'), tz) != 0) {
            sv->had = old != NULL;
            if (old != NULL) {
                len = strlen(old);
                if (len >= sizeof(sv->value))
                    return FPMD_ERROR;
                memcpy(sv->value, old, len + 1);
            }
            if (setenv("TZ", want, 1) != 0)
                return FPMD_ERROR;
            sv->changed = true;
        }
    }
    /* also when TZ stays: localtime_r reads TZ only through tzset */
    tzset();
    return FPMD_OK;
}

static void
restore_tz(const struct tz_saved *sv)
{
    if (!sv->changed)
        return;
    if (sv->had)
        setenv("TZ", sv->value, 1);
    else
        unsetenv("TZ");
    tzset();
}

int
fpmd_cron_next(const struct fpmd_cron *c, const char *tz, time_t after,
               time_t *next)
{
    struct tz_saved sv;
    int64_t t;
    int rc;

    /* 9999-12-31 23:59:59 UTC: keeps every year we compute in range */
    if (after < 0 || (int64_t) after > INT64_C(253402300799))
        return FPMD_ERROR;
    if (switch_tz(&sv, tz) != FPMD_OK)
        return FPMD_ERROR;
    rc = search(c, after, &t);
    restore_tz(&sv);
    if (rc != FPMD_OK)
        return FPMD_ERROR;
    *next = (time_t) t;
    return FPMD_OK;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Access log formatting with php-fpm's %-codes (fpm_log.c): %{arg}X takes an
 * argument, unknown codes are refused at load time. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "fpmd/access_log.h"
#include "fpmd/escape.h"

const char fpmd_access_log_default_format[] = "%R - %u %t \"%m %r\" %s";

static const char codes[] = "%CdefflmMnopPqQrRstTux";

int
fpmd_access_log_validate(const char *fmt, char *err, size_t errlen)
{
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == '{') {
            const char *end = strchr(p, '}');

            if (end == NULL) {
                snprintf(err, errlen, "access_format: unterminated %%{ at "
                         "offset %zu", (size_t) (p - fmt - 1));
                return FPMD_ERROR;
            }
            p = end + 1;
        }
        if (*p == '\0' || strchr(codes, *p) == NULL) {
            snprintf(err, errlen, "access_format: unknown code %%%c at "
                     "offset %zu", *p ? *p : '?', (size_t) (p - fmt));
            return FPMD_ERROR;
        }
    }
    return FPMD_OK;
}

/* Request text goes out escaped (escape.h), '"' included: a field can
 * neither end the line nor close the format's quotes. */
static void
add_escaped(struct evbuffer *out, const char *s)
{
    char buf[4 * 256 + 1];
    size_t len;

    if (s == NULL || *s == '\0') {
        evbuffer_add(out, "-", 1);
        return;
    }
    len = strlen(s);
    for (size_t off = 0; off < len; off += 256) {
        size_t n = len - off < 256 ? len - off : 256;

        evbuffer_add(out, buf, fpmd_escape(buf, sizeof(buf), s + off, n,
                                           FPMD_ESCAPE_QUOTE));
    }
}

static void
add_time(struct evbuffer *out, uint64_t us, const char *arg)
{
    time_t t = (time_t) (us / 1000000);
    char buf[256];
    struct tm tm;
    size_t n;

    localtime_r(&t, &tm);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    /* The strftime pattern is the operator's, from the config. */
    n = strftime(buf, sizeof(buf), arg ? arg : "[%d/%b/%Y:%H:%M:%S %z]", &tm);
#pragma GCC diagnostic pop
    evbuffer_add(out, buf, n);
}

static int
arg_is(const char *arg, const char *a, const char *b)
{
    return arg != NULL && (strcmp(arg, a) == 0 || (b && strcmp(arg, b) == 0));
}

int
fpmd_access_log_format(struct evbuffer *out, const char *fmt,
                       const struct fpmd_access_info *ai)
{
    char arg[128];

    for (const char *p = fmt; *p != '\0'; p++) {
        const char *a = NULL;
        uint64_t dur = ai->end_us - ai->start_us;

        if (*p != '%') {
            const char *next = strchr(p, '%');
            size_t len = next ? (size_t) (next - p) : strlen(p);

            evbuffer_add(out, p, len);
            p += len - 1;
            continue;
        }
        p++;
        if (*p == '{') {
            const char *end = strchr(p, '}');
            size_t len;

            if (end == NULL)
                break;
            len = (size_t) (end - p - 1);
            if (len >= sizeof(arg))
                len = sizeof(arg) - 1;
            memcpy(arg, p + 1, len);
            arg[len] = '\0';
            a = arg;
            p = end + 1;
        }
        switch (*p) {
        case '%':
            evbuffer_add(out, "%", 1);
            break;
        case 'C':
            /* fpmd measures the worker's CPU over the request; php-fpm
             * prints it as a percentage of the wall time. */
            evbuffer_add_printf(out, "%.2f", dur ? 100.0 * (double) ai->cpu_us
                                                     / (double) dur : 0.0);
            break;
        case 'd':
            if (arg_is(a, "seconds", NULL))
                evbuffer_add_printf(out, "%.3f", (double) dur / 1e6);
            else if (arg_is(a, "milliseconds", "milli") || a == NULL)
                evbuffer_add_printf(out, "%.3f", (double) dur / 1e3);
            else
                evbuffer_add_printf(out, "%llu", (unsigned long long) dur);
            break;
        case 'e':
            add_escaped(out, a && ai->param ? ai->param(ai->ctx, a) : NULL);
            break;
        case 'f':
            add_escaped(out, ai->script);
            break;
        case 'l':
            evbuffer_add_printf(out, "%llu",
                                (unsigned long long) ai->content_length);
            break;
        case 'm':
            add_escaped(out, ai->method);
            break;
        case 'M':
            if (arg_is(a, "kilo", "kilobytes"))
                evbuffer_add_printf(out, "%llu", (unsigned long long)
                                    (ai->memory / 1024));
            else if (arg_is(a, "mega", "megabytes"))
                evbuffer_add_printf(out, "%llu", (unsigned long long)
                                    (ai->memory / (1024 * 1024)));
            else
                evbuffer_add_printf(out, "%llu",
                                    (unsigned long long) ai->memory);
            break;
        case 'n':
            add_escaped(out, ai->pool);
            break;
        case 'o':
            add_escaped(out, a && ai->out_header
                                 ? ai->out_header(ai->ctx, a) : NULL);
            break;
        case 'p':
            evbuffer_add_printf(out, "%ld", (long) ai->pid);
            break;
        case 'P':
            evbuffer_add_printf(out, "%ld", (long) ai->ppid);
            break;
        case 'q':
            if (ai->query != NULL && ai->query[0] != '\0')
                add_escaped(out, ai->query);
            break;
        case 'Q':
            if (ai->query != NULL && ai->query[0] != '\0')
                evbuffer_add(out, "?", 1);
            break;
        case 'r': {
            /* php-fpm: the URI without its query (%Q%q add it back) */
            const char *q = ai->uri ? strchr(ai->uri, '?') : NULL;
            char path[2048];

            if (q != NULL && (size_t) (q - ai->uri) < sizeof(path)) {
                memcpy(path, ai->uri, (size_t) (q - ai->uri));
                path[q - ai->uri] = '\0';
                add_escaped(out, path);
            } else {
                add_escaped(out, ai->uri);
            }
            break;
        }
        case 'R':
            add_escaped(out, ai->remote_addr);
            break;
        case 's':
            evbuffer_add_printf(out, "%d", ai->status);
            break;
        case 't':
            add_time(out, ai->start_us, a);
            break;
        case 'T':
            add_time(out, ai->end_us, a);
            break;
        case 'u':
            add_escaped(out, ai->remote_user);
            break;
        case 'x':
            /* fpmd's own: the W3C trace context, not php-fpm's */
            add_escaped(out, ai->trace ? ai->trace(ai->ctx, a) : NULL);
            break;
        default:
            evbuffer_add(out, p - 1, 2);
            break;
        }
        if (*p == '\0')
            break;
    }
    return evbuffer_add(out, "\n", 1) == 0 ? FPMD_OK : FPMD_ERROR;
}

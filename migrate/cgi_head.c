/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "migrate/cgi_head.h"

void
fpmd_cgi_head_init(struct fpmd_cgi_head *h, size_t max)
{
    memset(h, 0, sizeof(*h));
    h->max = max;
    h->status = 200;
}

void
fpmd_cgi_head_free(struct fpmd_cgi_head *h)
{
    free(h->buf);
    free(h->text);
    free(h->headers);
    h->buf = NULL;
    h->text = NULL;
    h->headers = NULL;
    h->raw = NULL;
}

static int
fail(struct fpmd_cgi_head *h, const char *why)
{
    h->err = why;
    return FPMD_ERROR;
}

/* RFC 9110 tchar. */
static bool
is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c)
                                      != NULL);
}

/* One line, its end of line removed and NUL-terminated in place. */
static int
parse_line(struct fpmd_cgi_head *h, char *line, size_t n, int *has_status,
           int *has_location)
{
    char *colon, *v, *end;

    if (line[0] == ' ' || line[0] == '\t')
        return fail(h, "a folded header line");
    if (memchr(line, '\r', n) != NULL)
        return fail(h, "a bare CR in a header line");
    colon = memchr(line, ':', n);
    if (colon == NULL || colon == line)
        return fail(h, "a header line without a name");
    for (char *p = line; p < colon; p++) {
        if (!is_tchar((unsigned char) *p))
            return fail(h, "a header name that is not a token");
    }
    *colon = '\0';
    v = colon + 1;
    end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *end = '\0';
    if (strcasecmp(line, "Status") == 0) {
        if (*has_status)
            return fail(h, "two Status lines");
        if (end - v < 3 || v[0] < '1' || v[0] > '9' || v[1] < '0'
            || v[1] > '9' || v[2] < '0' || v[2] > '9'
            || (v[3] != '\0' && v[3] != ' '))
            return fail(h, "a Status that is not a 3-digit code");
        h->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
        *has_status = 1;
        return FPMD_OK;
    }
    if (strcasecmp(line, "Location") == 0)
        *has_location = 1;
    h->headers[h->nheaders].name = line;
    h->headers[h->nheaders++].value = v;
    return FPMD_OK;
}

/* The head is buf[0..len): split a copy of it into lines, check and keep
 * them. */
static int
parse(struct fpmd_cgi_head *h)
{
    size_t lines = 0, pos = 0;
    int has_status = 0, has_location = 0;

    if (memchr(h->buf, '\0', h->len) != NULL)
        return fail(h, "a NUL in the head");
    for (size_t i = 0; i < h->len; i++)
        lines += h->buf[i] == '\n';
    h->headers = calloc(lines + 1, sizeof(*h->headers));
    h->text = malloc(h->len);
    if (h->headers == NULL || h->text == NULL)
        return fail(h, "out of memory");
    memcpy(h->text, h->buf, h->len);
    while (pos < h->len) {
        char *line = h->text + pos, *nl = memchr(line, '\n', h->len - pos);
        size_t n = (size_t) (nl - line);

        pos += n + 1;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        if (n == 0)
            break;          /* the empty line that ends the head */
        if (parse_line(h, line, n, &has_status, &has_location) != FPMD_OK)
            return FPMD_ERROR;
    }
    if (!has_status && has_location)
        h->status = 302;
    h->raw = h->buf;
    h->raw_len = h->len;
    return FPMD_OK;
}

int
fpmd_cgi_head_feed(struct fpmd_cgi_head *h, const void *data, size_t len,
                   size_t *used)
{
    size_t old = h->len, take = h->max - h->len;
    char *grown;

    if (h->err != NULL)
        return FPMD_ERROR;
    if (take > len)
        take = len;
    grown = realloc(h->buf, h->len + take + 1);
    if (grown == NULL)
        return fail(h, "out of memory");
    h->buf = grown;
    memcpy(h->buf + h->len, data, take);
    h->len += take;
    /* Whole lines from where the last call stopped; an empty one ends the
     * head, and what follows it is body. */
    for (;;) {
        char *line = h->buf + h->scan;
        char *nl = memchr(line, '\n', h->len - h->scan);
        size_t n;

        if (nl == NULL)
            break;
        n = (size_t) (nl - line);
        h->scan += n + 1;
        if (n == 0 || (n == 1 && line[0] == '\r')) {
            *used = h->scan - old;
            h->len = h->scan;
            return parse(h);
        }
    }
    if (h->len >= h->max)
        return fail(h, "the head is larger than its limit");
    return FPMD_AGAIN;
}

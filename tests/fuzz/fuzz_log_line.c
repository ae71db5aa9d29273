/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for access log lines: the input's first line is a
 * log_format (empty: combined), every other line a log line. A line that
 * is refused is left as it was; one accepted has a valid method and a
 * target within it; a PHP route's key is printable ASCII without '"' or
 * '\', within FPMD_LOG_KEY_MAX, and its script ends in ".php". */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/tool/log_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_route(const struct fpmd_log_entry *e, struct fpmd_log_route *r)
{
    static const char *const params[] = {"r", "action", "page"};
    int rc = fpmd_log_route_of(e, params, 3, r);

    if (rc != FPMD_OK)
        return;
    assert(r->key_len <= FPMD_LOG_KEY_MAX);
    assert(strlen(r->key) == r->key_len);
    for (size_t i = 0; i < r->key_len; i++)
        assert(r->key[i] > 0x20 && r->key[i] < 0x7f && r->key[i] != '"'
               && r->key[i] != '\\');
    assert(r->path[0] == '/' && strlen(r->path) == r->path_len);
    assert(r->script_len >= 5 && r->script_len <= r->path_len);
    assert(memcmp(r->path + r->script_len - 4, ".php", 4) == 0);
    assert(r->query_off == 0 || r->key[r->query_off - 1] == '?');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size), *p, *end = data + size;
    struct fpmd_log_format *f;
    struct fpmd_log_route *r;
    char fmt[FPMD_LOG_FORMAT_MAX + 1], err[256], *line;
    size_t flen = nl != NULL ? (size_t) (nl - data) : size;

    if (flen > FPMD_LOG_FORMAT_MAX || memchr(data, '\0', flen) != NULL)
        return 0;
    memcpy(fmt, data, flen);
    fmt[flen] = '\0';
    f = fpmd_log_format_compile(flen > 0 ? fmt : NULL, err, sizeof(err));
    if (f == NULL) {
        assert(err[0] != '\0');
        return 0;
    }
    r = malloc(sizeof(*r));
    line = malloc(size + 1);
    assert(r != NULL && line != NULL);
    for (p = nl != NULL ? nl + 1 : end; p < end;) {
        const uint8_t *e = memchr(p, '\n', (size_t) (end - p));
        size_t len = (size_t) ((e != NULL ? e : end) - p);
        struct fpmd_log_entry ent;
        const char *why = NULL;
        int rc;

        memcpy(line, p, len);
        rc = fpmd_log_line_parse(f, line, len, &ent, &why);
        assert(why != NULL || rc == FPMD_OK);
        if (rc == FPMD_ERROR)
            assert(memcmp(line, p, len) == 0);
        if (rc == FPMD_OK) {
            assert(ent.method >= line && ent.method_len > 0
                   && ent.method_len <= FPMD_LOG_METHOD_MAX);
            assert(ent.target >= line && ent.target_len > 0
                   && ent.target + ent.target_len <= line + len);
            assert(ent.status >= 0 && ent.status <= 999);
            assert(ent.time_us >= -1);
            check_route(&ent, r);
        }
        p = e != NULL ? e + 1 : end;
    }
    free(line);
    free(r);
    fpmd_log_format_free(f);
    return 0;
}

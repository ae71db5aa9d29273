/* SPDX-License-Identifier: BSD-2-Clause */
/* Shadow comparison of two bodies (see compare.h). */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "migrate/compare.h"

struct walk {
    char *const *ignore;
    size_t nignore;
    char fields[1024];      /* dotted object keys down to here */
    char *where;
    size_t wlen;
};

static int
blanks(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    }
    return 1;
}

static struct json_object *
parse(const char *s, size_t len)
{
    struct json_tokener *tok = json_tokener_new_ex(FPMD_COMPARE_DEPTH);
    struct json_object *o;

    if (tok == NULL || len > INT32_MAX) {
        json_tokener_free(tok);
        return NULL;
    }
    o = json_tokener_parse_ex(tok, s, (int) len);
    /* Trailing bytes (but blanks) make it something else than JSON. The
     * body is not NUL-terminated: lengths only. */
    if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success
                      || !blanks(s + json_tokener_get_parse_end(tok),
                                 len - json_tokener_get_parse_end(tok)))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

static int
ignored(const struct walk *w, const char *key)
{
    size_t flen = strlen(w->fields), klen = strlen(key);

    for (size_t i = 0; i < w->nignore; i++) {
        const char *ig = w->ignore[i];

        if (flen == 0 ? strcmp(ig, key) == 0
                      : strncmp(ig, w->fields, flen) == 0 && ig[flen] == '.'
                            && strlen(ig + flen + 1) == klen
                            && memcmp(ig + flen + 1, key, klen) == 0)
            return 1;
    }
    return 0;
}

static int
numbers_equal(struct json_object *a, struct json_object *b)
{
    if (json_object_is_type(a, json_type_int)
        && json_object_is_type(b, json_type_int))
        return json_object_get_int64(a) == json_object_get_int64(b);
    /* json-c reads NaN, which would not equal itself */
    return json_object_get_double(a) == json_object_get_double(b)
        || (isnan(json_object_get_double(a))
            && isnan(json_object_get_double(b)));
}

static bool
is_number(struct json_object *o)
{
    return json_object_is_type(o, json_type_int)
        || json_object_is_type(o, json_type_double);
}

/* Append to where (a JSON path) and return where it ended, so that a
 * caller can cut it back. */
static size_t
path_key(struct walk *w, const char *key)
{
    size_t len = strlen(w->where);

    if (len < w->wlen)
        snprintf(w->where + len, w->wlen - len, ".%s", key);
    return len;
}

static size_t
path_index(struct walk *w, size_t idx)
{
    size_t len = strlen(w->where);

    if (len < w->wlen)
        snprintf(w->where + len, w->wlen - len, "[%zu]", idx);
    return len;
}

static int equal(struct walk *w, struct json_object *a,
                 struct json_object *b);

static int
objects_equal(struct walk *w, struct json_object *a, struct json_object *b)
{
    size_t flen = strlen(w->fields);

    /* Every key of a in b, and b has no key a lacks. */
    for (int pass = 0; pass < 2; pass++) {
        struct json_object *x = pass ? b : a, *y = pass ? a : b;

        json_object_object_foreach(x, key, xv) {
            struct json_object *yv;
            size_t mark;

            if (ignored(w, key))
                continue;
            mark = path_key(w, key);
            if (!json_object_object_get_ex(y, key, &yv))
                return 0;
            if (pass == 0) {
                snprintf(w->fields + flen, sizeof(w->fields) - flen, "%s%s",
                         flen ? "." : "", key);
                if (!equal(w, xv, yv))
                    return 0;
                w->fields[flen] = '\0';
            }
            w->where[mark] = '\0';
        }
    }
    return 1;
}

static int
equal(struct walk *w, struct json_object *a, struct json_object *b)
{
    size_t n;

    if (is_number(a) && is_number(b))
        return numbers_equal(a, b);
    if (json_object_get_type(a) != json_object_get_type(b))
        return 0;
    switch (json_object_get_type(a)) {
    case json_type_null:
        return 1;
    case json_type_boolean:
        return json_object_get_boolean(a) == json_object_get_boolean(b);
    case json_type_string:
        return json_object_get_string_len(a) == json_object_get_string_len(b)
            && memcmp(json_object_get_string(a), json_object_get_string(b),
                      (size_t) json_object_get_string_len(a)) == 0;
    case json_type_object:
        return objects_equal(w, a, b);
    case json_type_array:
        n = json_object_array_length(a);
        if (n != json_object_array_length(b)) {
            path_key(w, "length");
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            size_t mark = path_index(w, i);

            if (!equal(w, json_object_array_get_idx(a, i),
                       json_object_array_get_idx(b, i)))
                return 0;
            w->where[mark] = '\0';
        }
        return 1;
    default:
        return 0;
    }
}

int
fpmd_compare_bodies(const char *a, size_t alen, const char *b, size_t blen,
                    int json, char *const *ignore, size_t nignore,
                    char *where, size_t wlen)
{
    struct json_object *ja = json ? parse(a, alen) : NULL;
    struct json_object *jb = ja != NULL ? parse(b, blen) : NULL;
    size_t i;

    if (wlen == 0)
        return -1;
    where[0] = '\0';
    if (ja != NULL && jb != NULL) {
        struct walk w = {ignore, nignore, "", where, wlen};
        int same;

        snprintf(where, wlen, "$");
        same = equal(&w, ja, jb);
        json_object_put(ja);
        json_object_put(jb);
        if (same)
            where[0] = '\0';
        return same;
    }
    json_object_put(ja);
    json_object_put(jb);
    for (i = 0; i < alen && i < blen && a[i] == b[i]; i++)
        ;
    if (i == alen && i == blen)
        return 1;
    snprintf(where, wlen, "byte %zu", i);
    return 0;
}

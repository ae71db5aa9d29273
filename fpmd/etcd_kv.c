/* SPDX-License-Identifier: BSD-2-Clause */
/* etcd's gateway JSON (etcd_kv.h). The gateway is grpc-gateway: int64
 * fields come as strings, bytes fields as base64, a field at its zero
 * value (a PUT event's type, an empty value) is left out. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "fpmd/common.h"
#include "fpmd/conf.h"
#include "fpmd/etcd_kv.h"

struct entry {
    unsigned char *key;
    size_t key_len;
    struct fpmd_discovered server;  /* url "": names no HTTP server */
};

struct fpmd_etcd_set {
    struct entry *e;
    size_t n, max;
    size_t dropped;
};

static void say(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

/* --- base64 ------------------------------------------------------------ */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
fpmd_etcd_b64_encode(const void *in, size_t len, char *out)
{
    const unsigned char *p = in;
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16
            | (i + 1 < len ? (uint32_t) p[i + 1] << 8 : 0)
            | (i + 2 < len ? p[i + 2] : 0);

        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}

static int
b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64, c) : NULL;

    return p != NULL ? (int) (p - b64) : -1;
}

long
fpmd_etcd_b64_decode(const char *in, size_t len, unsigned char *out)
{
    size_t o = 0;

    if (len % 4 != 0 || len / 4 * 3 > (size_t) LONG_MAX)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        bool last = i + 4 == len;

        for (int k = 0; k < 4; k++)
            v[k] = b64_value(in[i + k]);
        /* padding only at the very end: "x===" is not base64 */
        if (v[0] < 0 || v[1] < 0
            || (v[2] < 0 && !(last && in[i + 2] == '=' && in[i + 3] == '='))
            || (v[3] < 0 && !(last && in[i + 3] == '=')))
            return -1;
        out[o++] = (unsigned char) (v[0] << 2 | v[1] >> 4);
        if (v[2] >= 0)
            out[o++] = (unsigned char) ((v[1] & 15) << 4 | v[2] >> 2);
        if (v[2] >= 0 && v[3] >= 0)
            out[o++] = (unsigned char) ((v[2] & 3) << 6 | v[3]);
    }
    return (long) o;
}

void
fpmd_etcd_range_end(const char *prefix, size_t len, char *out)
{
    memcpy(out, prefix, len);
    /* a prefix is printable ASCII (the loader's check): no carry */
    out[len - 1] = (char) (out[len - 1] + 1);
}

/* --- the set ------------------------------------------------------------ */

struct fpmd_etcd_set *
fpmd_etcd_set_new(size_t max_keys)
{
    struct fpmd_etcd_set *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->max = max_keys;
    return s;
}

static void
clear(struct fpmd_etcd_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->e[i].key);
    free(s->e);
    s->e = NULL;
    s->n = 0;
}

void
fpmd_etcd_set_free(struct fpmd_etcd_set *s)
{
    if (s == NULL)
        return;
    clear(s);
    free(s);
}

size_t
fpmd_etcd_set_dropped(const struct fpmd_etcd_set *s)
{
    return s->dropped;
}

static struct json_object *
parse(const char *json, size_t len)
{
    struct json_tokener *tok;
    struct json_object *o;

    while (len > 0 && (json[len - 1] == '\n' || json[len - 1] == '\r'
                       || json[len - 1] == ' '))
        len--;
    if (len == 0 || len > INT_MAX
        || (tok = json_tokener_new_ex(FPMD_ETCD_JSON_DEPTH)) == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    o = json_tokener_parse_ex(tok, json, (int) len);
    if (o != NULL && (json_tokener_get_error(tok) != json_tokener_success
                      || json_tokener_get_parse_end(tok) != len
                      || !json_object_is_type(o, json_type_object))) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* An int64 field the gateway sends as a string (or, other gateways, a
 * number): FPMD_OK with *out, FPMD_ERROR when absent or not one. */
static int
get_int64(struct json_object *o, const char *name, int64_t *out)
{
    struct json_object *v;
    const char *s;
    char *end;
    long long n;

    if (!json_object_object_get_ex(o, name, &v))
        return FPMD_ERROR;
    if (json_object_is_type(v, json_type_int)) {
        *out = json_object_get_int64(v);
        return FPMD_OK;
    }
    if (!json_object_is_type(v, json_type_string))
        return FPMD_ERROR;
    s = json_object_get_string(v);
    errno = 0;
    n = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return FPMD_ERROR;
    *out = n;
    return FPMD_OK;
}

/* The revision of message o's header. */
static int
header_revision(struct json_object *o, int64_t *out)
{
    struct json_object *h;

    return json_object_object_get_ex(o, "header", &h)
        && json_object_is_type(h, json_type_object)
        && get_int64(h, "revision", out) == FPMD_OK && *out >= 0
        ? FPMD_OK : FPMD_ERROR;
}

/* An http(s) URL the client may call: what the loader takes in
 * servers:, and short enough for a slot. */
static bool
url_ok(const char *u, size_t len)
{
    return len < FPMD_DISCOVERY_URL_MAX && strlen(u) == len
        && fpmd_conf_http_url_valid(u);
}

/* The server value v names, into *out (url "" when none). */
static void
server_of(const unsigned char *v, size_t len, struct fpmd_discovered *out)
{
    struct json_object *o, *f;
    char *text;

    memset(out, 0, sizeof(*out));
    out->weight = 1;
    if (len > 0 && v[0] != '{') {
        text = len < FPMD_DISCOVERY_URL_MAX ? strndup((const char *) v, len)
                                            : NULL;
        if (text != NULL && url_ok(text, len))
            memcpy(out->url, text, len + 1);
        free(text);
        return;
    }
    o = parse((const char *) v, len);
    if (o == NULL)
        return;
    if (json_object_object_get_ex(o, "url", &f)
        && json_object_is_type(f, json_type_string)
        && url_ok(json_object_get_string(f),
                  (size_t) json_object_get_string_len(f))) {
        struct json_object *w;
        int64_t weight = 1;

        if (json_object_object_get_ex(o, "weight", &w)
            && (get_int64(o, "weight", &weight) != FPMD_OK || weight < 1
                || weight > 1000)) {
            json_object_put(o);
            return;
        }
        memcpy(out->url, json_object_get_string(f),
               (size_t) json_object_get_string_len(f) + 1);
        out->weight = (unsigned) weight;
    }
    json_object_put(o);
}

/* A base64 field of kv, decoded into buf (room for max bytes): its
 * length, 0 when absent (the gateway's empty), -1 when it is not base64,
 * -2 when it may be longer than max. */
static long
get_bytes(struct json_object *kv, const char *name, unsigned char *buf,
          size_t max)
{
    struct json_object *v;
    size_t len;

    if (!json_object_object_get_ex(kv, name, &v))
        return 0;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    len = (size_t) json_object_get_string_len(v);
    if (len / 4 * 3 > max)
        return -2;
    return fpmd_etcd_b64_decode(json_object_get_string(v), len, buf);
}

static long
find(const struct fpmd_etcd_set *s, const unsigned char *key, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->e[i].key_len == len && memcmp(s->e[i].key, key, len) == 0)
            return (long) i;
    }
    return -1;
}

/* kv put (or, del, taken out) in s. FPMD_ERROR for a kv that is not
 * one; a key left out is no error. */
static int
apply_kv(struct fpmd_etcd_set *s, struct json_object *kv, bool del)
{
    unsigned char key[FPMD_ETCD_KEY_MAX + 3];
    unsigned char value[FPMD_ETCD_VALUE_MAX + 3];
    struct entry *e;
    long klen, vlen, at;

    if (!json_object_is_type(kv, json_type_object))
        return FPMD_ERROR;
    klen = get_bytes(kv, "key", key, sizeof(key));
    vlen = get_bytes(kv, "value", value, sizeof(value));
    if (klen == 0 || klen == -1 || vlen == -1)
        return FPMD_ERROR;
    if (klen == -2 || (size_t) klen > FPMD_ETCD_KEY_MAX) {
        s->dropped++;
        return FPMD_OK;
    }
    at = find(s, key, (size_t) klen);
    if (del) {
        if (at >= 0) {
            free(s->e[at].key);
            s->e[at] = s->e[--s->n];
        }
        return FPMD_OK;
    }
    if (at < 0) {
        struct entry *grown;

        if (s->n == s->max) {
            s->dropped++;
            return FPMD_OK;
        }
        grown = realloc(s->e, (s->n + 1) * sizeof(*grown));
        if (grown == NULL)
            return FPMD_ERROR;
        s->e = grown;
        e = &s->e[s->n];
        e->key = malloc((size_t) klen);
        if (e->key == NULL)
            return FPMD_ERROR;
        memcpy(e->key, key, (size_t) klen);
        e->key_len = (size_t) klen;
        s->n++;
    } else {
        e = &s->e[at];
    }
    if (vlen == -2 || (size_t) vlen > FPMD_ETCD_VALUE_MAX)
        memset(&e->server, 0, sizeof(e->server));
    else
        server_of(value, (size_t) vlen, &e->server);
    return FPMD_OK;
}

int
fpmd_etcd_set_load(struct fpmd_etcd_set *s, const char *json, size_t len,
                   int64_t *revision, char *why, size_t whylen)
{
    struct json_object *o = parse(json, len), *kvs;
    struct fpmd_etcd_set next = {.max = s->max};
    int64_t rev;

    if (o == NULL) {
        say(why, whylen, "the range's answer is not a JSON object");
        return FPMD_ERROR;
    }
    if (header_revision(o, &rev) != FPMD_OK) {
        say(why, whylen, "the range's answer has no revision");
        json_object_put(o);
        return FPMD_ERROR;
    }
    /* no kvs: nothing under the prefix */
    if (json_object_object_get_ex(o, "kvs", &kvs)) {
        if (!json_object_is_type(kvs, json_type_array)) {
            say(why, whylen, "the range's kvs is not an array");
            json_object_put(o);
            return FPMD_ERROR;
        }
        for (size_t i = 0; i < json_object_array_length(kvs); i++) {
            if (apply_kv(&next, json_object_array_get_idx(kvs, i), false)
                != FPMD_OK) {
                say(why, whylen, "the range's kv %zu is not one", i);
                clear(&next);
                json_object_put(o);
                return FPMD_ERROR;
            }
        }
    }
    json_object_put(o);
    clear(s);
    s->e = next.e;
    s->n = next.n;
    s->dropped += next.dropped;
    *revision = rev;
    return FPMD_OK;
}

int
fpmd_etcd_set_apply(struct fpmd_etcd_set *s, const char *json, size_t len,
                    int64_t *revision, char *why, size_t whylen)
{
    struct json_object *o = parse(json, len), *r, *events, *v;
    int64_t rev = 0, compact = 0;
    int rc = FPMD_ERROR;

    if (o == NULL) {
        say(why, whylen, "a watch message is not a JSON object");
        return FPMD_ERROR;
    }
    if (!json_object_object_get_ex(o, "result", &r)
        || !json_object_is_type(r, json_type_object)) {
        say(why, whylen, "a watch message has no result%s",
            json_object_object_get_ex(o, "error", &v) ? " but an error"
                                                       : "");
        goto out;
    }
    if (header_revision(r, &rev) != FPMD_OK) {
        say(why, whylen, "a watch message has no revision");
        goto out;
    }
    if ((get_int64(r, "compact_revision", &compact) == FPMD_OK
         && compact > 0)
        || (json_object_object_get_ex(r, "canceled", &v)
            && json_object_is_type(v, json_type_boolean)
            && json_object_get_boolean(v))) {
        say(why, whylen, compact > 0 ? "the watch's start was compacted "
            "(revision %lld)" : "etcd canceled the watch", (long long) compact);
        rc = FPMD_AGAIN;
        goto out;
    }
    if (json_object_object_get_ex(r, "events", &events)) {
        size_t n;

        if (!json_object_is_type(events, json_type_array)) {
            say(why, whylen, "a watch message's events is not an array");
            goto out;
        }
        n = json_object_array_length(events);
        for (size_t i = 0; i < n; i++) {
            struct json_object *ev = json_object_array_get_idx(events, i);
            struct json_object *kv, *type;
            bool del = false;

            if (!json_object_is_type(ev, json_type_object)
                || !json_object_object_get_ex(ev, "kv", &kv)) {
                say(why, whylen, "a watch event has no kv");
                goto out;
            }
            if (json_object_object_get_ex(ev, "type", &type)) {
                const char *t = json_object_get_string(type);

                del = t != NULL && strcmp(t, "DELETE") == 0;
                if (!del && (t == NULL || strcmp(t, "PUT") != 0)) {
                    say(why, whylen, "a watch event's type is neither PUT "
                        "nor DELETE");
                    goto out;
                }
            }
            if (apply_kv(s, kv, del) != FPMD_OK) {
                say(why, whylen, "a watch event's kv is not one");
                goto out;
            }
        }
    }
    if (rev > *revision)
        *revision = rev;
    rc = FPMD_OK;
out:
    json_object_put(o);
    return rc;
}

static int
key_cmp(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *) a;
    const struct entry *y = *(const struct entry *const *) b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);

    return c != 0 ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

size_t
fpmd_etcd_set_servers(const struct fpmd_etcd_set *s,
                      struct fpmd_discovered *out, size_t max)
{
    const struct entry **order = malloc((s->n ? s->n : 1) * sizeof(*order));
    size_t k = 0;

    if (order == NULL)
        return 0;
    for (size_t i = 0; i < s->n; i++)
        order[i] = &s->e[i];
    qsort(order, s->n, sizeof(*order), key_cmp);
    for (size_t i = 0; i < s->n && k < max; i++) {
        bool dup = false;

        if (order[i]->server.url[0] == '\0')
            continue;
        /* two keys naming one server: one slot */
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(out[j].url, order[i]->server.url) == 0;
        if (!dup)
            out[k++] = order[i]->server;
    }
    free(order);
    return k;
}

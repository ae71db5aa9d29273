/* SPDX-License-Identifier: BSD-2-Clause */
/* etcd's gateway JSON: base64 both ways for every short length and the
 * RFC 4648 vectors, and refused when it is not base64; a range's answer
 * and a watch's messages as etcd sends them, the servers their values
 * name, and every refusal leaving the set as it was; the bounds on keys,
 * values and nesting. Every message handed to the parser is a heap copy
 * of exactly its bytes, no NUL after them, so that ASan sees a read past
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/common.h"
#include "fpmd/etcd_kv.h"

/* The strings a test builds, freed after it. */
static char *kept[256];
static size_t nkept;

static int
free_kept(void **state)
{
    (void) state;
    while (nkept > 0)
        free(kept[--nkept]);
    return 0;
}

static char *
keep(char *p)
{
    assert_non_null(p);
    assert_true(nkept < sizeof(kept) / sizeof(kept[0]));
    kept[nkept++] = p;
    return p;
}

static char *text(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *
text(const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    p = keep(malloc((size_t) n + 1));
    va_start(ap, fmt);
    vsnprintf(p, (size_t) n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static char *
b64(const void *s, size_t len)
{
    char *out = keep(malloc(FPMD_ETCD_B64_LEN(len)));

    fpmd_etcd_b64_encode(s, len, out);
    return out;
}

static char *
b64s(const char *s)
{
    return b64(s, strlen(s));
}

/* A kv as the gateway sends it; value NULL: absent (an empty value). */
static char *
kv(const char *key, const char *value)
{
    if (value == NULL)
        return text("{\"key\":\"%s\",\"create_revision\":\"2\","
                    "\"mod_revision\":\"5\",\"version\":\"1\"}", b64s(key));
    return text("{\"key\":\"%s\",\"create_revision\":\"2\","
                "\"mod_revision\":\"5\",\"version\":\"1\",\"value\":\"%s\"}",
                b64s(key), b64s(value));
}

/* A range's answer at revision 5 with kvs (the array's insides; NULL: no
 * kvs field, as the gateway leaves out an empty one). */
static char *
range(const char *kvs)
{
    static const char head[] = "{\"header\":{\"cluster_id\":\"1\","
        "\"member_id\":\"2\",\"revision\":\"5\",\"raft_term\":\"2\"}";

    return kvs != NULL ? text("%s,\"kvs\":[%s],\"count\":\"1\"}", head, kvs)
                       : text("%s}", head);
}

/* A watch message at revision rev with events (the array's insides). */
static char *
watch(int rev, const char *events)
{
    return text("{\"result\":{\"header\":{\"cluster_id\":\"1\","
                "\"member_id\":\"2\",\"revision\":\"%d\",\"raft_term\":\"2\"},"
                "\"events\":[%s]}}", rev, events);
}

static char *
put(const char *key, const char *value)
{
    return text("{\"kv\":%s}", kv(key, value));
}

static char *
del(const char *key)
{
    return text("{\"type\":\"DELETE\",\"kv\":{\"key\":\"%s\","
                "\"mod_revision\":\"6\"}}", b64s(key));
}

static int
load(struct fpmd_etcd_set *s, const char *json, int64_t *rev)
{
    size_t len = strlen(json);
    char *copy = malloc(len > 0 ? len : 1), why[256] = "";
    int rc;

    assert_non_null(copy);
    memcpy(copy, json, len);
    rc = fpmd_etcd_set_load(s, copy, len, rev, why, sizeof(why));
    free(copy);
    assert_true(rc == FPMD_OK || rc == FPMD_ERROR);
    assert_true((rc == FPMD_OK) == (why[0] == '\0'));
    return rc;
}

static int
apply(struct fpmd_etcd_set *s, const char *json, int64_t *rev)
{
    size_t len = strlen(json);
    char *copy = malloc(len > 0 ? len : 1), why[256] = "";
    int rc;

    assert_non_null(copy);
    memcpy(copy, json, len);
    rc = fpmd_etcd_set_apply(s, copy, len, rev, why, sizeof(why));
    free(copy);
    assert_true((rc == FPMD_OK) == (why[0] == '\0'));
    return rc;
}

/* The set's servers as "url weight" lines, to compare in one go. */
static const char *
listed(const struct fpmd_etcd_set *s)
{
    struct fpmd_discovered out[16];
    size_t n = fpmd_etcd_set_servers(s, out, 16);
    char *p = keep(calloc(16, FPMD_DISCOVERY_URL_MAX + 16));
    size_t o = 0;

    for (size_t i = 0; i < n; i++)
        o += (size_t) sprintf(p + o, "%s %u\n", out[i].url, out[i].weight);
    return p;
}

static struct fpmd_etcd_set *
set_of(size_t max_keys, const char *range_json)
{
    struct fpmd_etcd_set *s = fpmd_etcd_set_new(max_keys);
    int64_t rev = 0;

    assert_non_null(s);
    if (range_json != NULL)
        assert_int_equal(load(s, range_json, &rev), FPMD_OK);
    return s;
}

/* --- base64 --------------------------------------------------------- */

static void
b64_round_trips_every_length_to_64(void **state)
{
    uint32_t x = 12345;

    (void) state;
    for (size_t len = 0; len <= 64; len++) {
        for (int round = 0; round < 8; round++) {
            unsigned char *in = malloc(len + 1), *back;
            char *enc = malloc(FPMD_ETCD_B64_LEN(len));
            size_t n;

            assert_non_null(in);
            assert_non_null(enc);
            for (size_t i = 0; i < len; i++) {
                x = x * 1103515245u + 12345u;
                in[i] = (unsigned char) (x >> 16);
            }
            n = fpmd_etcd_b64_encode(in, len, enc);
            assert_int_equal(n, FPMD_ETCD_B64_LEN(len) - 1);
            assert_int_equal(enc[n], '\0');
            assert_int_equal(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "abcdefghijklmnopqrstuvwxyz0123456789+/"),
                             n - (len % 3 == 0 ? 0 : 3 - len % 3));
            /* exactly the room the contract gives the decoder */
            back = malloc(n / 4 * 3 + 1);
            assert_non_null(back);
            assert_int_equal(fpmd_etcd_b64_decode(enc, n, back), (long) len);
            if (len > 0)
                assert_memory_equal(back, in, len);
            free(back);
            free(enc);
            free(in);
        }
    }
}

static void
b64_gives_the_rfc_4648_vectors(void **state)
{
    static const char *const vec[][2] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };

    (void) state;
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        char enc[16];
        unsigned char dec[16];
        size_t len = strlen(vec[i][0]);

        assert_int_equal(fpmd_etcd_b64_encode(vec[i][0], len, enc),
                         strlen(vec[i][1]));
        assert_string_equal(enc, vec[i][1]);
        assert_int_equal(fpmd_etcd_b64_decode(vec[i][1], strlen(vec[i][1]),
                                              dec), (long) len);
        assert_memory_equal(dec, vec[i][0], len);
    }
}

static void
b64_refuses_what_is_not_base64(void **state)
{
    static const char *const bad[] = {
        "Zm9v!A==", "Zm 9", "-_ab", "Zm9\xff", "Zm\0v",
        "Zg==Zm8=", "Zg=AZm8=", "Z===", "====", "=AAA", "Zg=a",
        "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYg===",
    };
    static const size_t len[] = { 8, 4, 4, 4, 4, 8, 8, 4, 4, 4, 4, 3, 5, 7,
                                  9 };

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        unsigned char out[16];

        if (fpmd_etcd_b64_decode(bad[i], len[i], out) != -1)
            fail_msg("\"%s\" decoded", bad[i]);
    }
}

static void
range_end_raises_the_last_byte(void **state)
{
    char out[9] = "xxxxxxxx";

    (void) state;
    fpmd_etcd_range_end("/svc/a/", 7, out);
    assert_memory_equal(out, "/svc/a0x", 8);
}

/* --- a range's answer --------------------------------------------------- */

static void
load_takes_a_range_with_no_kvs_one_or_many(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, NULL);
    int64_t rev = 0;

    (void) state;
    assert_int_equal(load(s, range(NULL), &rev), FPMD_OK);
    assert_int_equal(rev, 5);
    assert_string_equal(listed(s), "");
    assert_int_equal(load(s, range(kv("/s/a/1", "http://10.0.0.1:8080")),
                          &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://10.0.0.1:8080 1\n");
    assert_int_equal(load(s, range(text("%s,%s,%s",
        kv("/s/a/1", "http://10.0.0.1:8080"),
        kv("/s/a/2", "{\"url\":\"https://b.example/api\",\"weight\":3}"),
        kv("/s/a/3", "http://10.0.0.3"))), &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://10.0.0.1:8080 1\n"
                        "https://b.example/api 3\nhttp://10.0.0.3 1\n");
    /* the range is the whole set: what it leaves out is gone */
    assert_int_equal(load(s, range(NULL), &rev), FPMD_OK);
    assert_string_equal(listed(s), "");
    assert_int_equal(fpmd_etcd_set_dropped(s), 0);
    fpmd_etcd_set_free(s);
}

static void
load_keeps_a_key_without_value_as_no_server(void **state)
{
    struct fpmd_etcd_set *s = set_of(1, NULL);
    int64_t rev = 0;

    (void) state;
    /* the key takes the set's one place: the next one is left out */
    assert_int_equal(load(s, range(text("%s,%s", kv("/s/a/1", NULL),
        kv("/s/a/2", "http://10.0.0.2"))), &rev), FPMD_OK);
    assert_string_equal(listed(s), "");
    assert_int_equal(fpmd_etcd_set_dropped(s), 1);
    fpmd_etcd_set_free(s);
}

static void
load_reads_the_revision_as_a_string_or_a_number(void **state)
{
    static const char *const good[] = {
        "\"0\"", "7", "\"9223372036854775807\"", "9223372036854775807",
    };
    static const int64_t want[] = { 0, 7, INT64_MAX, INT64_MAX };
    struct fpmd_etcd_set *s = set_of(16, NULL);

    (void) state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t rev = -1;

        assert_int_equal(load(s, text("{\"header\":{\"revision\":%s}}",
                                      good[i]), &rev), FPMD_OK);
        assert_true(rev == want[i]);
    }
    fpmd_etcd_set_free(s);
}

static void
load_refuses_what_is_no_answer_and_keeps_the_set(void **state)
{
    static const char *const bad[] = {
        "", "\n", "[]", "\"x\"", "{", "{} {}", "{}x", "nul",
        "{\"header\":{\"revision\":\"5\"}}\x01",
        "{}", "{\"header\":{}}", "{\"header\":\"5\"}",
        "{\"header\":{\"revision\":\"-1\"}}",
        "{\"header\":{\"revision\":-1}}",
        "{\"header\":{\"revision\":\"5x\"}}",
        "{\"header\":{\"revision\":\"\"}}",
        "{\"header\":{\"revision\":\"99999999999999999999\"}}",
        "{\"header\":{\"revision\":5.5}}",
        "{\"header\":{\"revision\":true}}",
        "{\"header\":{\"revision\":null}}",
        "{\"error\":\"etcdserver: mvcc: required revision has been "
        "compacted\",\"code\":11,\"message\":\"etcdserver: mvcc: required "
        "revision has been compacted\"}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":{}}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":[1]}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":[{}]}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":\"\"}]}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":7}]}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":\"L2E=\","
        "\"value\":\"!!!!\"}]}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":\"L2E\"}]}",
        "{\"header\":{\"revision\":\"5\"},\"kvs\":[{\"key\":\"L2E=\","
        "\"value\":[]}]}",
    };
    struct fpmd_etcd_set *s = set_of(16, range(text("%s,%s",
        kv("/s/a/1", "http://10.0.0.1"), kv("/s/a/2", "http://10.0.0.2"))));

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t rev = 42;

        if (load(s, bad[i], &rev) != FPMD_ERROR)
            fail_msg("took %s", bad[i]);
        assert_int_equal(rev, 42);
        assert_string_equal(listed(s), "http://10.0.0.1 1\nhttp://10.0.0.2 1\n");
    }
    /* a bad kv after good ones leaves the set as it was too */
    {
        int64_t rev = 42;

        assert_int_equal(load(s, range(text("%s,{}", kv("/s/a/3",
            "http://10.0.0.3"))), &rev), FPMD_ERROR);
        assert_int_equal(rev, 42);
        assert_string_equal(listed(s),
                            "http://10.0.0.1 1\nhttp://10.0.0.2 1\n");
    }
    fpmd_etcd_set_free(s);
}

/* --- values: the servers they name ------------------------------------ */

/* The server value names, as listed() has it ("" for none). */
static const char *
server_of(const char *value)
{
    struct fpmd_etcd_set *s = set_of(4, range(kv("/s/a/1", value)));
    const char *l = listed(s);

    fpmd_etcd_set_free(s);
    return l;
}

static void
a_value_names_a_server_by_object_or_bare_url(void **state)
{
    char url[FPMD_DISCOVERY_URL_MAX + 1];

    (void) state;
    assert_string_equal(server_of("{\"url\":\"http://10.0.0.1:8080\","
        "\"weight\":7}"), "http://10.0.0.1:8080 7\n");
    assert_string_equal(server_of("{\"url\":\"https://api.example/v1\"}"),
                        "https://api.example/v1 1\n");
    assert_string_equal(server_of("{\"weight\":1,\"url\":\"http://a\","
        "\"zone\":\"x\",\"meta\":{\"k\":[1,2]}}"), "http://a 1\n");
    assert_string_equal(server_of("{\"url\":\"http://a\",\"weight\":1000}"),
                        "http://a 1000\n");
    assert_string_equal(server_of("http://10.0.0.1:8080/base"),
                        "http://10.0.0.1:8080/base 1\n");
    assert_string_equal(server_of("HTTPS://[::1]:8443"),
                        "HTTPS://[::1]:8443 1\n");
    /* the longest URL a slot holds, and one byte more */
    memset(url, 'a', sizeof(url));
    memcpy(url, "http://", 7);
    url[FPMD_DISCOVERY_URL_MAX - 1] = '\0';
    assert_string_equal(server_of(url), text("%s 1\n", url));
    assert_string_equal(server_of(text("{\"url\":\"%s\"}", url)),
                        text("%s 1\n", url));
    url[FPMD_DISCOVERY_URL_MAX - 1] = 'a';
    url[FPMD_DISCOVERY_URL_MAX] = '\0';
    assert_string_equal(server_of(url), "");
    assert_string_equal(server_of(text("{\"url\":\"%s\"}", url)), "");
}

static void
other_values_name_no_server(void **state)
{
    static const char *const none[] = {
        "fcgi://10.0.0.1:9000", "{\"url\":\"fcgi://10.0.0.1:9000\"}",
        "tcp://10.0.0.1:80", "10.0.0.1:80", "garbage", " http://a",
        "\"http://a\"", "http://a?x=1", "http://a#f", "http://a b",
        "http://", "http:///a", "{\"url\":\"http://a?x\"}",
        "{}", "{\"url\":7}", "{\"url\":null}", "{\"url\":[\"http://a\"]}",
        "{\"url\":\"http://a\\u0000b\"}", "{\"url\":\"http://a\\nb\"}",
        "{\"url\":\"http://a\",\"weight\":0}",
        "{\"url\":\"http://a\",\"weight\":1001}",
        "{\"url\":\"http://a\",\"weight\":-1}",
        "{\"url\":\"http://a\",\"weight\":\"abc\"}",
        "{\"url\":\"http://a\",\"weight\":1.5}",
        "{\"url\":\"http://a\",\"weight\":true}",
        "{\"url\":\"http://a\",\"weight\":null}",
        "{\"url\":\"http://a\",\"weight\":{}}",
        "{\"url\":\"http://a\"", "{\"url\":\"http://a\"}x", "{", "[]",
    };

    (void) state;
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        const char *l = server_of(none[i]);

        if (l[0] != '\0')
            fail_msg("%s named %s", none[i], l);
    }
}

static void
servers_come_in_key_order_once_each_and_at_most_max(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, range(text("%s,%s,%s,%s,%s,%s",
        kv("/s/c", "http://c"), kv("/s/a/b", "http://ab"),
        kv("/s/\xc3\xa9", "http://e-acute"), kv("/s/a", "http://a"),
        kv("/s/b", "{\"url\":\"http://a\",\"weight\":9}"),
        kv("/s/d", "fcgi://d"))));
    struct fpmd_discovered *out = malloc(2 * sizeof(*out));

    (void) state;
    /* bytes compared unsigned, a key before the longer ones it starts;
     * /s/b names /s/a's server again: the first key's weight stays */
    assert_string_equal(listed(s), "http://a 1\nhttp://ab 1\nhttp://c 1\n"
                        "http://e-acute 1\n");
    assert_non_null(out);
    assert_int_equal(fpmd_etcd_set_servers(s, out, 2), 2);
    assert_string_equal(out[0].url, "http://a");
    assert_string_equal(out[1].url, "http://ab");
    assert_int_equal(fpmd_etcd_set_servers(s, out, 0), 0);
    free(out);
    fpmd_etcd_set_free(s);
}

/* --- a watch's messages ------------------------------------------------- */

static void
watch_applies_puts_and_deletes_in_order(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, range(kv("/s/a", "http://a")));
    int64_t rev = 5;

    (void) state;
    /* the first message says the watch is made: no events */
    assert_int_equal(apply(s, "{\"result\":{\"header\":{\"cluster_id\":\"1\","
        "\"member_id\":\"2\",\"revision\":\"5\",\"raft_term\":\"2\"},"
        "\"created\":true}}", &rev), FPMD_OK);
    assert_int_equal(rev, 5);
    assert_string_equal(listed(s), "http://a 1\n");
    /* a PUT has no type (the gateway leaves a zero enum out) */
    assert_int_equal(apply(s, watch(6, put("/s/b", "http://b")), &rev),
                     FPMD_OK);
    assert_int_equal(rev, 6);
    assert_string_equal(listed(s), "http://a 1\nhttp://b 1\n");
    assert_int_equal(apply(s, watch(7, text("{\"type\":\"PUT\",\"kv\":%s}",
        kv("/s/a", "{\"url\":\"http://a2\",\"weight\":4}"))), &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://a2 4\nhttp://b 1\n");
    assert_int_equal(apply(s, watch(8, del("/s/a")), &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://b 1\n");
    /* several events: applied one after the other */
    assert_int_equal(apply(s, watch(9, text("%s,%s,%s,%s", put("/s/c",
        "http://c"), del("/s/b"), del("/s/c"), put("/s/b", "http://b2"))),
        &rev), FPMD_OK);
    assert_int_equal(rev, 9);
    assert_string_equal(listed(s), "http://b2 1\n");
    /* a key with a value naming no server takes it out of the list */
    assert_int_equal(apply(s, watch(10, put("/s/b", "fcgi://b")), &rev),
                     FPMD_OK);
    assert_string_equal(listed(s), "");
    assert_int_equal(fpmd_etcd_set_dropped(s), 0);
    fpmd_etcd_set_free(s);
}

static void
watch_takes_events_for_keys_it_does_not_have(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, range(kv("/s/a", "http://a")));
    int64_t rev = 5;

    (void) state;
    assert_int_equal(apply(s, watch(6, del("/s/zz")), &rev), FPMD_OK);
    assert_int_equal(apply(s, watch(7, text("%s,%s", del("/s/b"),
        del("/s/b"))), &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://a 1\n");
    assert_int_equal(apply(s, watch(8, put("/s/new", "http://new")), &rev),
                     FPMD_OK);
    assert_string_equal(listed(s), "http://a 1\nhttp://new 1\n");
    fpmd_etcd_set_free(s);
}

static void
watch_over_gives_again_and_keeps_the_set(void **state)
{
    static const char *const over[] = {
        "{\"result\":{\"header\":{\"revision\":\"9\"},"
        "\"compact_revision\":\"3\",\"canceled\":true}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},"
        "\"compact_revision\":3}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"canceled\":true,"
        "\"cancel_reason\":\"etcdserver: permission denied\"}}",
    };
    struct fpmd_etcd_set *s = set_of(16, range(kv("/s/a", "http://a")));

    (void) state;
    for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
        int64_t rev = 5;

        assert_int_equal(apply(s, over[i], &rev), FPMD_AGAIN);
        assert_int_equal(rev, 5);
        assert_string_equal(listed(s), "http://a 1\n");
    }
    {
        int64_t rev = 5;

        assert_int_equal(apply(s, "{\"result\":{\"header\":{\"revision\":"
            "\"9\"},\"compact_revision\":\"0\",\"canceled\":false}}", &rev),
            FPMD_OK);
        assert_int_equal(rev, 9);
    }
    fpmd_etcd_set_free(s);
}

static void
watch_refuses_what_is_no_message(void **state)
{
    static const char *const bad[] = {
        "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":"
        "\"etcdserver: leader changed\",\"http_status\":\"Service "
        "Unavailable\"}}",
        "", "\r\n", "[]", "{}", "{\"result\":[]}", "{\"result\":{}}",
        "{\"result\":{\"header\":{\"revision\":\"x\"}}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":{}}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":[1]}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":[{}]}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":"
        "[{\"kv\":[]}]}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":"
        "[{\"type\":\"EXPIRE\",\"kv\":{\"key\":\"L2E=\"}}]}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":"
        "[{\"type\":null,\"kv\":{\"key\":\"L2E=\"}}]}}",
        "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":"
        "[{\"type\":1,\"kv\":{\"key\":\"L2E=\"}}]}}",
    };
    struct fpmd_etcd_set *s = set_of(16, range(kv("/s/a", "http://a")));

    (void) state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t rev = 5;

        if (apply(s, bad[i], &rev) != FPMD_ERROR)
            fail_msg("took %s", bad[i]);
        assert_int_equal(rev, 5);
        assert_string_equal(listed(s), "http://a 1\n");
    }
    fpmd_etcd_set_free(s);
}

static void
watch_applies_the_events_before_a_bad_one(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, NULL);
    int64_t rev = 5;

    (void) state;
    assert_int_equal(apply(s, watch(9, text("%s,{\"kv\":{}},%s",
        put("/s/a", "http://a"), put("/s/b", "http://b"))), &rev),
        FPMD_ERROR);
    assert_int_equal(rev, 5);
    assert_string_equal(listed(s), "http://a 1\n");
    fpmd_etcd_set_free(s);
}

static void
watch_revision_only_rises(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, NULL);
    int64_t rev = 10;

    (void) state;
    assert_int_equal(apply(s, watch(5, put("/s/a", "http://a")), &rev),
                     FPMD_OK);
    assert_int_equal(rev, 10);
    assert_string_equal(listed(s), "http://a 1\n");
    assert_int_equal(apply(s, watch(12, ""), &rev), FPMD_OK);
    assert_int_equal(rev, 12);
    assert_int_equal(apply(s, watch(11, ""), &rev), FPMD_OK);
    assert_int_equal(rev, 12);
    fpmd_etcd_set_free(s);
}

static void
watch_takes_a_line_ending_but_nothing_else_after_it(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, NULL);
    const char *msg = watch(6, put("/s/a", "http://a"));
    int64_t rev = 5;

    (void) state;
    assert_int_equal(apply(s, text("%s\n", msg), &rev), FPMD_OK);
    assert_int_equal(apply(s, text("%s\r\n", msg), &rev), FPMD_OK);
    assert_int_equal(apply(s, text("  %s \r\n\n", msg), &rev), FPMD_OK);
    assert_int_equal(apply(s, text("%s\n%s\n", msg, msg), &rev),
                     FPMD_ERROR);
    assert_int_equal(apply(s, text("%s%s", msg, msg), &rev), FPMD_ERROR);
    assert_int_equal(apply(s, text("%s\nx", msg), &rev), FPMD_ERROR);
    assert_string_equal(listed(s), "http://a 1\n");
    fpmd_etcd_set_free(s);
}

/* --- bounds --------------------------------------------------------- */

static void
max_keys_bounds_the_set_and_counts_the_rest(void **state)
{
    struct fpmd_etcd_set *s = set_of(2, NULL), *none = set_of(0, NULL);
    int64_t rev = 0;

    (void) state;
    assert_int_equal(load(s, range(text("%s,%s,%s,%s",
        kv("/s/d", "http://d"), kv("/s/c", "http://c"),
        kv("/s/b", "http://b"), kv("/s/a", "http://a"))), &rev), FPMD_OK);
    /* the first ones the answer lists */
    assert_string_equal(listed(s), "http://c 1\nhttp://d 1\n");
    assert_int_equal(fpmd_etcd_set_dropped(s), 2);
    assert_int_equal(apply(s, watch(6, put("/s/e", "http://e")), &rev),
                     FPMD_OK);
    assert_int_equal(fpmd_etcd_set_dropped(s), 3);
    /* a key it has may change; a key gone makes room */
    assert_int_equal(apply(s, watch(7, text("%s,%s,%s",
        put("/s/c", "http://c2"), del("/s/d"), put("/s/e", "http://e"))),
        &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://c2 1\nhttp://e 1\n");
    assert_int_equal(fpmd_etcd_set_dropped(s), 3);
    assert_int_equal(load(none, range(kv("/s/a", "http://a")), &rev),
                     FPMD_OK);
    assert_string_equal(listed(none), "");
    assert_int_equal(fpmd_etcd_set_dropped(none), 1);
    fpmd_etcd_set_free(s);
    fpmd_etcd_set_free(none);
}

static void
a_key_past_key_max_is_left_out(void **state)
{
    char *key = keep(malloc(4 * FPMD_ETCD_KEY_MAX + 1));
    struct fpmd_etcd_set *s = set_of(16, NULL);
    int64_t rev = 0;

    (void) state;
    memset(key, 'k', 4 * FPMD_ETCD_KEY_MAX);
    key[0] = '/';
    key[FPMD_ETCD_KEY_MAX] = '\0';
    assert_int_equal(load(s, range(kv(key, "http://max")), &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://max 1\n");
    key[FPMD_ETCD_KEY_MAX] = 'k';
    for (size_t len = FPMD_ETCD_KEY_MAX + 1; len <= FPMD_ETCD_KEY_MAX + 4;
         len++) {
        key[len] = '\0';
        assert_int_equal(apply(s, watch(6, put(key, "http://long")), &rev),
                         FPMD_OK);
        key[len] = 'k';
    }
    key[4 * FPMD_ETCD_KEY_MAX] = '\0';
    assert_int_equal(load(s, range(text("%s,%s", kv(key, "http://long"),
        kv("/s/a", "http://a"))), &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://a 1\n");
    assert_int_equal(fpmd_etcd_set_dropped(s), 5);
    fpmd_etcd_set_free(s);
}

/* A value of exactly len bytes naming http://a with weight 2. */
static const char *
padded_value(size_t len)
{
    static const char head[] = "{\"url\":\"http://a\",\"weight\":2";
    char *v = keep(malloc(len + 1));

    memcpy(v, head, sizeof(head) - 1);
    memset(v + sizeof(head) - 1, ' ', len - sizeof(head));
    v[len - 1] = '}';
    v[len] = '\0';
    return v;
}

static void
a_value_past_value_max_names_no_server(void **state)
{
    struct fpmd_etcd_set *s = set_of(16, NULL);
    int64_t rev = 0;

    (void) state;
    assert_int_equal(load(s, range(kv("/s/a",
        padded_value(FPMD_ETCD_VALUE_MAX))), &rev), FPMD_OK);
    assert_string_equal(listed(s), "http://a 2\n");
    for (size_t len = FPMD_ETCD_VALUE_MAX + 1;
         len <= FPMD_ETCD_VALUE_MAX + 4; len++) {
        assert_int_equal(load(s, range(kv("/s/a", padded_value(len))), &rev),
                         FPMD_OK);
        assert_string_equal(listed(s), "");
    }
    /* a PUT past the bound takes the key's server away */
    assert_int_equal(load(s, range(kv("/s/a", "http://a")), &rev), FPMD_OK);
    assert_int_equal(apply(s, watch(6, put("/s/a",
        padded_value(4 * FPMD_ETCD_VALUE_MAX))), &rev), FPMD_OK);
    assert_string_equal(listed(s), "");
    assert_int_equal(fpmd_etcd_set_dropped(s), 0);
    fpmd_etcd_set_free(s);
}

/* n arrays one in the other. */
static const char *
arrays(size_t n)
{
    char *p = keep(malloc(2 * n + 1));

    memset(p, '[', n);
    memset(p + n, ']', n);
    p[2 * n] = '\0';
    return p;
}

static void
json_nested_past_the_depth_is_refused(void **state)
{
    static const char msg[] = "{\"result\":{\"header\":{\"revision\":"
        "\"9\"}}";
    struct fpmd_etcd_set *s = set_of(16, NULL);
    int64_t rev = 5;

    (void) state;
    /* the message's object is one level, its field's arrays the rest */
    assert_int_equal(apply(s, text("%s,\"x\":%s}", msg,
        arrays(FPMD_ETCD_JSON_DEPTH - 1)), &rev), FPMD_OK);
    assert_int_equal(apply(s, text("%s,\"x\":%s}", msg,
        arrays(FPMD_ETCD_JSON_DEPTH)), &rev), FPMD_ERROR);
    assert_int_equal(apply(s, text("%s,\"x\":%s}", msg, arrays(100000)),
                     &rev), FPMD_ERROR);
    assert_int_equal(load(s, text("{\"header\":{\"revision\":\"9\"},"
        "\"x\":%s}", arrays(FPMD_ETCD_JSON_DEPTH)), &rev), FPMD_ERROR);
    /* a value is a message of its own: as deep, and no deeper */
    assert_string_equal(server_of(text("{\"url\":\"http://a\",\"x\":%s}",
        arrays(FPMD_ETCD_JSON_DEPTH - 1))), "http://a 1\n");
    assert_string_equal(server_of(text("{\"url\":\"http://a\",\"x\":%s}",
        arrays(FPMD_ETCD_JSON_DEPTH))), "");
    fpmd_etcd_set_free(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(b64_round_trips_every_length_to_64,
                                  free_kept),
        cmocka_unit_test_teardown(b64_gives_the_rfc_4648_vectors, free_kept),
        cmocka_unit_test_teardown(b64_refuses_what_is_not_base64, free_kept),
        cmocka_unit_test_teardown(range_end_raises_the_last_byte, free_kept),
        cmocka_unit_test_teardown(load_takes_a_range_with_no_kvs_one_or_many,
                                  free_kept),
        cmocka_unit_test_teardown(load_keeps_a_key_without_value_as_no_server,
                                  free_kept),
        cmocka_unit_test_teardown(
            load_reads_the_revision_as_a_string_or_a_number, free_kept),
        cmocka_unit_test_teardown(
            load_refuses_what_is_no_answer_and_keeps_the_set, free_kept),
        cmocka_unit_test_teardown(
            a_value_names_a_server_by_object_or_bare_url, free_kept),
        cmocka_unit_test_teardown(other_values_name_no_server, free_kept),
        cmocka_unit_test_teardown(
            servers_come_in_key_order_once_each_and_at_most_max, free_kept),
        cmocka_unit_test_teardown(watch_applies_puts_and_deletes_in_order,
                                  free_kept),
        cmocka_unit_test_teardown(
            watch_takes_events_for_keys_it_does_not_have, free_kept),
        cmocka_unit_test_teardown(watch_over_gives_again_and_keeps_the_set,
                                  free_kept),
        cmocka_unit_test_teardown(watch_refuses_what_is_no_message,
                                  free_kept),
        cmocka_unit_test_teardown(watch_applies_the_events_before_a_bad_one,
                                  free_kept),
        cmocka_unit_test_teardown(watch_revision_only_rises, free_kept),
        cmocka_unit_test_teardown(
            watch_takes_a_line_ending_but_nothing_else_after_it, free_kept),
        cmocka_unit_test_teardown(
            max_keys_bounds_the_set_and_counts_the_rest, free_kept),
        cmocka_unit_test_teardown(a_key_past_key_max_is_left_out, free_kept),
        cmocka_unit_test_teardown(a_value_past_value_max_names_no_server,
                                  free_kept),
        cmocka_unit_test_teardown(json_nested_past_the_depth_is_refused,
                                  free_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

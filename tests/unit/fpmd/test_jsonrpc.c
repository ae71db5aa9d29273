/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON-RPC 2.0: every example of the spec's section 7 gets the answer the
 * spec shows (compared as parsed JSON, through a small dispatcher of the
 * spec's methods); the rules of the Request object and the limits of a
 * message hold one by one; answers come out in call order, without the
 * notifications'; both framings wait on every prefix, take a stream cut
 * anywhere, and refuse what cannot be a frame as soon as the bytes that
 * prove it are in. Every buffer handed to the decoders and the parser is
 * a heap copy of exactly the bytes they may read, so that ASan sees a
 * read past them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/common.h"
#include "fpmd/jsonrpc.h"

#define DEPTH 32
#define BATCH 100

static char *
copy(const void *src, size_t len)
{
    /* a 0-byte text still gets a pointer of its own */
    char *p = malloc(len > 0 ? len : 1);

    assert_non_null(p);
    if (len > 0)
        memcpy(p, src, len);
    return p;
}

static struct fpmd_jsonrpc_msg *
parse_n(const char *text, size_t len, unsigned depth, size_t max_batch)
{
    char *p = copy(text, len);
    struct fpmd_jsonrpc_msg *msg = fpmd_jsonrpc_parse(p, len, depth,
                                                      max_batch);

    /* the message must not point into the text it came from */
    free(p);
    assert_non_null(msg);
    return msg;
}

static struct fpmd_jsonrpc_msg *
parse(const char *text)
{
    return parse_n(text, strlen(text), DEPTH, BATCH);
}

static bool
method_is(const struct fpmd_jsonrpc_call *c, const char *name)
{
    return c->method_len == strlen(name)
           && memcmp(c->method, name, c->method_len) == 0;
}

static int64_t
param(struct json_object *params, size_t i, const char *name)
{
    if (json_object_is_type(params, json_type_array))
        return json_object_get_int64(json_object_array_get_idx(params, i));
    return json_object_get_int64(json_object_object_get(params, name));
}

/* The spec's example methods, answered as section 7 shows. */
static void
dispatch(struct fpmd_jsonrpc_out *out, size_t i,
         const struct fpmd_jsonrpc_call *c)
{
    struct json_object *p = c->params, *r;
    int rc;

    if (method_is(c, "subtract") && p != NULL) {
        rc = fpmd_jsonrpc_out_result(out, i, json_object_new_int64(
            param(p, 0, "minuend") - param(p, 1, "subtrahend")));
    } else if (method_is(c, "sum")
               && json_object_is_type(p, json_type_array)) {
        int64_t sum = 0;

        for (size_t k = 0; k < json_object_array_length(p); k++)
            sum += json_object_get_int64(json_object_array_get_idx(p, k));
        rc = fpmd_jsonrpc_out_result(out, i, json_object_new_int64(sum));
    } else if (method_is(c, "get_data")) {
        r = json_object_new_array();
        json_object_array_add(r, json_object_new_string("hello"));
        json_object_array_add(r, json_object_new_int(5));
        rc = fpmd_jsonrpc_out_result(out, i, r);
    } else if (method_is(c, "update") || method_is(c, "notify_hello")
               || method_is(c, "notify_sum")) {
        rc = fpmd_jsonrpc_out_result(out, i, NULL);
    } else if (method_is(c, "subtract") || method_is(c, "sum")) {
        rc = fpmd_jsonrpc_out_error(out, i, FPMD_JSONRPC_INVALID_PARAMS,
                                    NULL, NULL);
    } else {
        rc = fpmd_jsonrpc_out_error(out, i, FPMD_JSONRPC_METHOD_NOT_FOUND,
                                    NULL, NULL);
    }
    assert_int_equal(rc, FPMD_OK);
}

/* The answer to request as a heap string, NULL when there is none. The
 * message is freed before the answer is written: the answers keep what
 * they need of it. */
static char *
serve_n(const char *request, size_t len, unsigned depth, size_t max_batch)
{
    struct fpmd_jsonrpc_msg *msg = parse_n(request, len, depth, max_batch);
    struct fpmd_jsonrpc_out *out = fpmd_jsonrpc_out_new(msg);
    const char *text = NULL;
    size_t tlen = 0;
    char *answer = NULL;
    int rc;

    assert_non_null(out);
    for (size_t i = 0; i < msg->ncalls; i++) {
        if (msg->calls[i].error == 0)
            dispatch(out, i, &msg->calls[i]);
    }
    fpmd_jsonrpc_msg_free(msg);
    rc = fpmd_jsonrpc_out_text(out, &text, &tlen);
    if (rc == FPMD_OK) {
        assert_int_equal(strlen(text), tlen);
        assert_null(memchr(text, '\n', tlen));
        answer = strdup(text);
        assert_non_null(answer);
    } else {
        assert_int_equal(rc, FPMD_DECLINED);
    }
    fpmd_jsonrpc_out_free(out);
    return answer;
}

static char *
serve(const char *request)
{
    return serve_n(request, strlen(request), DEPTH, BATCH);
}

static void
assert_json_equal(const char *got, const char *want)
{
    struct json_object *g, *w;

    assert_non_null(got);
    g = json_tokener_parse(got);
    w = json_tokener_parse(want);
    assert_non_null(g);
    assert_non_null(w);
    if (!json_object_equal(g, w))
        fail_msg("got %s\nwant %s", got, want);
    json_object_put(g);
    json_object_put(w);
}

/* request answers want (parsed JSON compared), or nothing when want is
 * NULL. */
static void
assert_serves(const char *request, const char *want)
{
    char *got = serve(request);

    if (want == NULL) {
        if (got != NULL)
            fail_msg("%s: got %s, want no answer", request, got);
    } else {
        assert_json_equal(got, want);
    }
    free(got);
}

#define INVALID_NULL \
    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": " \
    "\"Invalid Request\"}, \"id\": null}"
#define PARSE_NULL \
    "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": " \
    "\"Parse error\"}, \"id\": null}"

static void
spec_call_with_positional_parameters(void **state)
{
    (void) state;
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", "
                  "\"params\": [42, 23], \"id\": 1}",
                  "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 1}");
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", "
                  "\"params\": [23, 42], \"id\": 2}",
                  "{\"jsonrpc\": \"2.0\", \"result\": -19, \"id\": 2}");
}

static void
spec_call_with_named_parameters(void **state)
{
    (void) state;
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", "
                  "\"params\": {\"subtrahend\": 23, \"minuend\": 42}, "
                  "\"id\": 3}",
                  "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 3}");
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", "
                  "\"params\": {\"minuend\": 42, \"subtrahend\": 23}, "
                  "\"id\": 4}",
                  "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 4}");
}

static void
spec_notifications_get_no_answer(void **state)
{
    (void) state;
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"update\", "
                  "\"params\": [1,2,3,4,5]}", NULL);
    /* foobar is not found: still no answer */
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}", NULL);
}

static void
spec_call_of_a_non_existent_method(void **state)
{
    (void) state;
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", "
                  "\"id\": \"1\"}",
                  "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, "
                  "\"message\": \"Method not found\"}, \"id\": \"1\"}");
}

static void
spec_call_with_invalid_json(void **state)
{
    (void) state;
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": \"foobar, "
                  "\"params\": \"bar\", \"baz]", PARSE_NULL);
}

static void
spec_call_with_invalid_request_object(void **state)
{
    (void) state;
    assert_serves("{\"jsonrpc\": \"2.0\", \"method\": 1, "
                  "\"params\": \"bar\"}", INVALID_NULL);
}

static void
spec_batch_with_invalid_json(void **state)
{
    (void) state;
    assert_serves("[\n"
                  "  {\"jsonrpc\": \"2.0\", \"method\": \"sum\", "
                  "\"params\": [1,2,4], \"id\": \"1\"},\n"
                  "  {\"jsonrpc\": \"2.0\", \"method\"\n"
                  "]", PARSE_NULL);
}

static void
spec_call_with_an_empty_array(void **state)
{
    (void) state;
    assert_serves("[]", INVALID_NULL);
}

static void
spec_invalid_batch_but_not_empty(void **state)
{
    (void) state;
    assert_serves("[1]", "[" INVALID_NULL "]");
}

static void
spec_invalid_batch(void **state)
{
    (void) state;
    assert_serves("[1,2,3]",
                  "[" INVALID_NULL "," INVALID_NULL "," INVALID_NULL "]");
}

static void
spec_mixed_batch(void **state)
{
    (void) state;
    assert_serves(
        "[\n"
        "  {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], "
        "\"id\": \"1\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", "
        "\"params\": [7]},\n"
        "  {\"jsonrpc\": \"2.0\", \"method\": \"subtract\", "
        "\"params\": [42,23], \"id\": \"2\"},\n"
        "  {\"foo\": \"boo\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", "
        "\"params\": {\"name\": \"myself\"}, \"id\": \"5\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"}\n"
        "]",
        "[\n"
        "  {\"jsonrpc\": \"2.0\", \"result\": 7, \"id\": \"1\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": \"2\"},\n"
        "  " INVALID_NULL ",\n"
        "  {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, "
        "\"message\": \"Method not found\"}, \"id\": \"5\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"result\": [\"hello\", 5], \"id\": \"9\"}\n"
        "]");
}

static void
spec_batch_of_notifications_only(void **state)
{
    (void) state;
    assert_serves("[\n"
                  "  {\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", "
                  "\"params\": [1,2,4]},\n"
                  "  {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", "
                  "\"params\": [7]}\n"
                  "]", NULL);
}

static void
parse_lends_method_params_and_id_from_the_root(void **state)
{
    struct fpmd_jsonrpc_msg *msg = parse(
        "[{\"jsonrpc\":\"2.0\",\"method\":\"a.b\",\"params\":[1],\"id\":\"x\"},"
        " {\"method\":\"n\",\"jsonrpc\":\"2.0\",\"params\":{}},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"\",\"id\":null,\"extra\":1}]");
    struct json_object *e;

    (void) state;
    assert_int_equal(msg->error, 0);
    assert_true(msg->batch);
    assert_int_equal(msg->ncalls, 3);

    e = json_object_array_get_idx(msg->root, 0);
    assert_int_equal(msg->calls[0].error, 0);
    assert_string_equal(msg->calls[0].why, "");
    assert_string_equal(msg->calls[0].method, "a.b");
    assert_int_equal(msg->calls[0].method_len, 3);
    assert_ptr_equal(msg->calls[0].params, json_object_object_get(e, "params"));
    assert_ptr_equal(msg->calls[0].id, json_object_object_get(e, "id"));
    assert_false(msg->calls[0].notification);

    e = json_object_array_get_idx(msg->root, 1);
    assert_string_equal(msg->calls[1].method, "n");
    assert_true(json_object_is_type(msg->calls[1].params, json_type_object));
    assert_ptr_equal(msg->calls[1].params, json_object_object_get(e, "params"));
    assert_null(msg->calls[1].id);
    assert_true(msg->calls[1].notification);

    /* an id of null is an id: not a notification; members the spec does
     * not name are let be */
    assert_int_equal(msg->calls[2].error, 0);
    assert_string_equal(msg->calls[2].method, "");
    assert_int_equal(msg->calls[2].method_len, 0);
    assert_null(msg->calls[2].params);
    assert_null(msg->calls[2].id);
    assert_false(msg->calls[2].notification);
    fpmd_jsonrpc_msg_free(msg);
    fpmd_jsonrpc_msg_free(NULL);

    msg = parse("{\"jsonrpc\":\"2.0\",\"method\":\"sum\\u0000x\",\"id\":1}");
    assert_false(msg->batch);
    assert_int_equal(msg->ncalls, 1);
    assert_int_equal(msg->calls[0].method_len, 5);
    assert_memory_equal(msg->calls[0].method, "sum\0x", 5);
    assert_true(json_object_is_type(msg->calls[0].id, json_type_int));
    fpmd_jsonrpc_msg_free(msg);
}

static void
ids_are_echoed_as_sent(void **state)
{
    static const struct {
        const char *id;
        const char *wire;       /* as it must appear in the answer */
    } ids[] = {
        { "\"abc\"", "\"id\":\"abc\"" },
        { "\"\"", "\"id\":\"\"" },
        { "\"a\\\"\\u00e9/\"", "\"id\":\"a\\\"\xc3\xa9/\"" },
        { "7", "\"id\":7" },
        { "-3", "\"id\":-3" },
        { "0", "\"id\":0" },
        { "9223372036854775807", "\"id\":9223372036854775807" },
        { "1.50", "\"id\":1.50" },
        { "-0.0", "\"id\":-0.0" },
        { "1e2", "\"id\":1e2" },
        { "2.5E-3", "\"id\":2.5E-3" },
        { "null", "\"id\":null" },
        /* an integer comes back as its value, held in 64 bits */
        { "-0", "\"id\":0" },
        { "18446744073709551616", "\"id\":18446744073709551615" },
    };

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(ids); i++) {
        char req[128], want[160], *got;

        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":%s}",
                 ids[i].id);
        snprintf(want, sizeof(want),
                 "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],%s}",
                 ids[i].wire);
        got = serve(req);
        assert_non_null(got);
        if (strcmp(got, want) != 0)
            fail_msg("id %s: got %s, want %s", ids[i].id, got, want);
        free(got);
    }
}

static void
ids_of_other_types_are_invalid_with_id_null(void **state)
{
    static const char *const ids[] = { "{}", "{\"a\":1}", "[]", "[1]", "true",
                                       "false" };

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(ids); i++) {
        char req[128];
        struct fpmd_jsonrpc_msg *msg;

        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":%s}",
                 ids[i]);
        msg = parse(req);
        assert_int_equal(msg->ncalls, 1);
        assert_int_equal(msg->calls[0].error, FPMD_JSONRPC_INVALID_REQUEST);
        assert_string_equal(msg->calls[0].why,
                            "\"id\" is neither a string, a number nor null");
        assert_null(msg->calls[0].id);
        assert_null(msg->calls[0].method);
        assert_false(msg->calls[0].notification);
        fpmd_jsonrpc_msg_free(msg);
        assert_serves(req, INVALID_NULL);
    }
}

/* Each request breaks one rule and carries id 7: refused with its id. */
static void
assert_call_refused(const char *req, const char *why)
{
    struct fpmd_jsonrpc_msg *msg = parse(req);

    assert_int_equal(msg->error, 0);
    assert_int_equal(msg->ncalls, 1);
    if (msg->calls[0].error != FPMD_JSONRPC_INVALID_REQUEST)
        fail_msg("%s: taken", req);
    assert_string_equal(msg->calls[0].why, why);
    assert_null(msg->calls[0].method);
    assert_null(msg->calls[0].params);
    assert_false(msg->calls[0].notification);
    fpmd_jsonrpc_msg_free(msg);
    assert_serves(req, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,"
                       "\"message\":\"Invalid Request\"},\"id\":7}");
}

static void
jsonrpc_must_be_exactly_2_0(void **state)
{
    static const char *const versions[] = {
        "\"1.0\"", "\"2\"", "\"2.0 \"", "\" 2.0\"", "\"2.00\"",
        "\"2.0\\u0000\"", "2.0", "2", "null", "[\"2.0\"]",
    };
    const char *why = "\"jsonrpc\" is not \"2.0\"";

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(versions); i++) {
        char req[128];

        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":%s,\"method\":\"get_data\",\"id\":7}",
                 versions[i]);
        assert_call_refused(req, why);
    }
    assert_call_refused("{\"method\":\"get_data\",\"id\":7}", why);
    /* JSON-RPC 1.0's request: no version member, params an array */
    assert_call_refused("{\"method\":\"sum\",\"params\":[1],\"id\":7}", why);
}

static void
method_must_be_a_string(void **state)
{
    static const char *const methods[] = { "1", "null", "true", "[\"sum\"]",
                                           "{}" };
    const char *why = "\"method\" is not a string";
    struct fpmd_jsonrpc_msg *msg;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(methods); i++) {
        char req[128];

        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"method\":%s,\"id\":7}", methods[i]);
        assert_call_refused(req, why);
    }
    assert_call_refused("{\"jsonrpc\":\"2.0\",\"id\":7}", why);
    /* a reserved name is a call like any: no method is found for it */
    msg = parse("{\"jsonrpc\":\"2.0\",\"method\":\"rpc.discover\",\"id\":7}");
    assert_int_equal(msg->calls[0].error, 0);
    assert_string_equal(msg->calls[0].method, "rpc.discover");
    fpmd_jsonrpc_msg_free(msg);
    assert_serves("{\"jsonrpc\":\"2.0\",\"method\":\"rpc.discover\",\"id\":7}",
                  "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,"
                  "\"message\":\"Method not found\"},\"id\":7}");
}

static void
params_must_be_an_array_or_an_object(void **state)
{
    static const char *const params[] = { "\"bar\"", "3", "1.5", "null",
                                          "true" };
    const char *why = "\"params\" is neither an array nor an object";
    struct fpmd_jsonrpc_msg *msg;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(params); i++) {
        char req[128];

        snprintf(req, sizeof(req),
                 "{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":%s,"
                 "\"id\":7}", params[i]);
        assert_call_refused(req, why);
    }
    /* wrong params for a method are the method's to refuse, with -32602 */
    assert_serves("{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":{},"
                  "\"id\":7}",
                  "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,"
                  "\"message\":\"Invalid params\"},\"id\":7}");
    msg = parse("{\"jsonrpc\":\"2.0\",\"method\":\"sum\",\"params\":[],"
                "\"id\":7}");
    assert_int_equal(msg->calls[0].error, 0);
    assert_true(json_object_is_type(msg->calls[0].params, json_type_array));
    fpmd_jsonrpc_msg_free(msg);
}

static void
a_refused_call_without_id_is_answered_all_the_same(void **state)
{
    (void) state;
    assert_serves("{\"jsonrpc\":\"1.0\",\"method\":\"update\"}", INVALID_NULL);
    assert_serves("[{\"jsonrpc\":\"2.0\",\"method\":\"update\"},"
                  " {\"jsonrpc\":\"2.0\",\"method\":\"update\",\"params\":1}]",
                  "[" INVALID_NULL "]");
}

static void
a_message_neither_object_nor_array_is_invalid(void **state)
{
    static const char *const texts[] = { "1", " 1.5 ", "\"x\"", "true",
                                         "null", " null\r\n", "-0" };

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(texts); i++) {
        struct fpmd_jsonrpc_msg *msg = parse(texts[i]);

        assert_int_equal(msg->error, FPMD_JSONRPC_INVALID_REQUEST);
        assert_string_equal(msg->message, "Invalid Request");
        assert_int_equal(msg->ncalls, 0);
        assert_false(msg->batch);
        fpmd_jsonrpc_msg_free(msg);
        assert_serves(texts[i], INVALID_NULL);
    }
}

static void
text_that_is_not_json_is_a_parse_error(void **state)
{
    static const struct {
        const char *text;
        size_t len;
    } bad[] = {
#define T(s) { s, sizeof(s) - 1 }
        T(""), T(" "), T("\r\n"), T("{"), T("["), T("{}{}"), T("{} x"),
        T("[] []"), T("{}\0"), T("{} \0 "), T("\0{}"),
        /* what json-c 0.16's strict mode would still take */
        T("{'jsonrpc':\"2.0\",\"method\":\"a\"}"),
        T("{\"jsonrpc\":\"2.0\",\"method\":\"a\nb\"}"),
        T("{\"jsonrpc\":\"2.0\",\"method\":\"a\tb\"}"),
        T("\f{}"), T("{}\v"), T("[1.e2]"), T("[-.5]"), T("[1.]"),
        T("[.5]"), T("[1.5.]"),
        /* and what it refuses already */
        T("['a']"), T("[1,]"), T("{\"a\":1,}"), T("[01]"), T("[+1]"),
        T("[NaN]"), T("[Infinity]"), T("[0x10]"), T("[TRUE]"),
        T("/* c */ {}"), T("{} // c"), T("[\"\\x\"]"), T("[\"\\u12\"]"),
        T("[\"a\0b\"]"), T("[\"\xff\"]"), T("[\"\xc3\"]"),
        T("\xef\xbb\xbf{}"),
        /* json-c 0.16 takes these too */
        T("[NaN]"), T("[Infinity]"), T("[-Infinity]"), T("[00.5]"),
        T("[-01.5]"), T("{\"a\":1}\0junk"),
        T("[\"\xc0\xaf\"]"), T("[\"\xe0\x80\xaf\"]"),
        T("[\"\xed\xa0\x80\"]"), T("[\"\xf4\x90\x80\x80\"]"),
        /* and these not */
        T("[nulls]"), T("[true1]"), T("[1true]"), T("[1e]"), T("[1e+]"),
        T("[-]"), T("[--1]"), T("[1-2]"), T("[0x]"), T("[1:2]"),
        T("[\"a\"\"b\"]"), T("[\"a]"), T("{\"a\":1 \"b\":2}"), T("[1]]"),
#undef T
    };

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad); i++) {
        struct fpmd_jsonrpc_msg *msg = parse_n(bad[i].text, bad[i].len,
                                               DEPTH, BATCH);
        char *got;

        if (msg->error != FPMD_JSONRPC_PARSE_ERROR)
            fail_msg("text %zu (%s): error %d", i, bad[i].text, msg->error);
        assert_string_equal(msg->message, "Parse error");
        assert_null(msg->root);
        assert_int_equal(msg->ncalls, 0);
        fpmd_jsonrpc_msg_free(msg);
        got = serve_n(bad[i].text, bad[i].len, DEPTH, BATCH);
        assert_json_equal(got, PARSE_NULL);
        free(got);
    }
    /* the same rules leave strings and numbers alone where they are
     * right */
    assert_serves("{\"jsonrpc\":\"2.0\",\"method\":\"it's\\n.\\u0000\","
                  "\"params\":[1.5e2,-0.5,0,-0,0.0,1E+2,1e-05,\"'.'\","
                  "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\","
                  "true,false,null,[],{}],\"id\":\"'\"}",
                  "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,"
                  "\"message\":\"Method not found\"},\"id\":\"'\"}");
}

static void
nesting_is_bounded(void **state)
{
    /* "myself" is in an object in an object in an array: 4 deep */
    static const char batch[] =
        "[{\"jsonrpc\":\"2.0\",\"method\":\"foo.get\","
        "\"params\":{\"name\":\"myself\"},\"id\":\"5\"}]";
    static const char deep[] =
        "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":[[[1]]],\"id\":1}";
    struct fpmd_jsonrpc_msg *msg;
    char *got;

    (void) state;
    msg = parse_n(batch, sizeof(batch) - 1, 4, BATCH);
    assert_int_equal(msg->error, 0);
    assert_int_equal(msg->ncalls, 1);
    fpmd_jsonrpc_msg_free(msg);
    msg = parse_n(batch, sizeof(batch) - 1, 3, BATCH);
    assert_int_equal(msg->error, FPMD_JSONRPC_PARSE_ERROR);
    assert_string_equal(msg->message, "Parse error: nested deeper than 3");
    assert_int_equal(msg->ncalls, 0);
    assert_null(msg->root);
    fpmd_jsonrpc_msg_free(msg);
    got = serve_n(batch, sizeof(batch) - 1, 3, BATCH);
    assert_json_equal(got, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32700,"
                           "\"message\":\"Parse error: nested deeper than 3\"},"
                           "\"id\":null}");
    free(got);

    msg = parse_n(deep, sizeof(deep) - 1, 5, BATCH);
    assert_int_equal(msg->error, 0);
    fpmd_jsonrpc_msg_free(msg);
    msg = parse_n(deep, sizeof(deep) - 1, 4, BATCH);
    assert_int_equal(msg->error, FPMD_JSONRPC_PARSE_ERROR);
    assert_string_equal(msg->message, "Parse error: nested deeper than 4");
    fpmd_jsonrpc_msg_free(msg);
    /* a bare scalar is 1 deep, and invalid as a message, not too deep */
    msg = parse_n("7", 1, 1, BATCH);
    assert_int_equal(msg->error, FPMD_JSONRPC_INVALID_REQUEST);
    fpmd_jsonrpc_msg_free(msg);
}

static void
batches_are_bounded(void **state)
{
    static const char call[] =
        "{\"jsonrpc\":\"2.0\",\"method\":\"get_data\",\"id\":1}";
    char text[512], want[512];
    struct fpmd_jsonrpc_msg *msg;
    char *got;

    (void) state;
    snprintf(text, sizeof(text), "[%s,%s,%s]", call, call, call);
    msg = parse_n(text, strlen(text), DEPTH, 3);
    assert_int_equal(msg->error, 0);
    assert_true(msg->batch);
    assert_int_equal(msg->ncalls, 3);
    fpmd_jsonrpc_msg_free(msg);

    snprintf(text, sizeof(text), "[%s,%s,%s,%s]", call, call, call, call);
    msg = parse_n(text, strlen(text), DEPTH, 3);
    assert_int_equal(msg->error, FPMD_JSONRPC_INVALID_REQUEST);
    assert_string_equal(msg->message,
                        "Invalid Request: a batch of more than 3 calls");
    assert_int_equal(msg->ncalls, 0);
    assert_false(msg->batch);
    fpmd_jsonrpc_msg_free(msg);
    /* one answer for the message, not an array */
    got = serve_n(text, strlen(text), DEPTH, 3);
    assert_json_equal(got, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,"
                           "\"message\":\"Invalid Request: a batch of more "
                           "than 3 calls\"},\"id\":null}");
    free(got);

    /* a single call is not a batch: any limit takes it */
    got = serve_n(call, sizeof(call) - 1, DEPTH, 0);
    assert_json_equal(got, "{\"jsonrpc\":\"2.0\",\"result\":[\"hello\",5],"
                           "\"id\":1}");
    free(got);
    snprintf(text, sizeof(text), "[%s]", call);
    got = serve_n(text, strlen(text), DEPTH, 0);
    snprintf(want, sizeof(want),
             "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32600,\"message\":"
             "\"Invalid Request: a batch of more than 0 calls\"},"
             "\"id\":null}");
    assert_json_equal(got, want);
    free(got);
}

/* text's calls answered in reverse, the even ones with an error. */
static char *
answer_backwards(const char *text)
{
    struct fpmd_jsonrpc_msg *msg = parse(text);
    struct fpmd_jsonrpc_out *out = fpmd_jsonrpc_out_new(msg);
    const char *wire;
    size_t len;
    char *got = NULL;

    assert_non_null(out);
    for (size_t i = msg->ncalls; i-- > 0;) {
        if (msg->calls[i].error != 0)
            continue;
        if (i % 2 == 0)
            assert_int_equal(fpmd_jsonrpc_out_error(
                out, i, -32050, NULL, json_object_new_int((int) i)), FPMD_OK);
        else
            assert_int_equal(fpmd_jsonrpc_out_result(
                out, i, json_object_new_string(msg->calls[i].method)),
                FPMD_OK);
    }
    if (fpmd_jsonrpc_out_text(out, &wire, &len) == FPMD_OK)
        got = strdup(wire);
    fpmd_jsonrpc_out_free(out);
    fpmd_jsonrpc_msg_free(msg);
    return got;
}

static void
answers_keep_call_order_and_drop_notifications(void **state)
{
    char *got = answer_backwards(
        "[{\"jsonrpc\":\"2.0\",\"method\":\"m0\",\"id\":0},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"m1\",\"id\":1},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"m2\"},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"m3\"},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"m4\",\"id\":4},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"m5\",\"id\":5},"
        " {\"method\":\"m6\"}]");

    (void) state;
    assert_json_equal(got,
        "[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32050,"
        "\"message\":\"Server error\",\"data\":0},\"id\":0},"
        " {\"jsonrpc\":\"2.0\",\"result\":\"m1\",\"id\":1},"
        " {\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32050,"
        "\"message\":\"Server error\",\"data\":4},\"id\":4},"
        " {\"jsonrpc\":\"2.0\",\"result\":\"m5\",\"id\":5},"
        " " INVALID_NULL "]");
    free(got);
    /* an error for a notification goes nowhere either */
    assert_null(answer_backwards("{\"jsonrpc\":\"2.0\",\"method\":\"m\"}"));
    assert_null(answer_backwards("[{\"jsonrpc\":\"2.0\",\"method\":\"m\"},"
                                 " {\"jsonrpc\":\"2.0\",\"method\":\"m\"}]"));
    /* a batch of one is still answered with an array */
    got = answer_backwards("[{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"id\":1}]");
    assert_json_equal(got, "[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32050,"
                           "\"message\":\"Server error\",\"data\":0},"
                           "\"id\":1}]");
    free(got);
}

static void
errors_name_their_codes_unless_told(void **state)
{
    static const struct {
        int code;
        const char *message;
    } codes[] = {
        { FPMD_JSONRPC_PARSE_ERROR, "Parse error" },
        { FPMD_JSONRPC_INVALID_REQUEST, "Invalid Request" },
        { FPMD_JSONRPC_METHOD_NOT_FOUND, "Method not found" },
        { FPMD_JSONRPC_INVALID_PARAMS, "Invalid params" },
        { FPMD_JSONRPC_INTERNAL_ERROR, "Internal error" },
        { FPMD_JSONRPC_SERVER_BUSY, "Server busy" },
        { FPMD_JSONRPC_TIMEOUT, "Timeout" },
        { -32002, "Server error" },
        { -32099, "Server error" },
        { -32100, "Error" },
        { -31999, "Error" },
        { 42, "Error" },
    };
    struct fpmd_jsonrpc_msg *msg = parse(
        "[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"b\",\"id\":2}]");
    struct fpmd_jsonrpc_out *out;
    const char *text;
    size_t len;
    char message[32];

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(codes); i++) {
        char want[256];

        out = fpmd_jsonrpc_out_new(msg);
        assert_non_null(out);
        assert_int_equal(fpmd_jsonrpc_out_error(out, 0, codes[i].code, NULL,
                                                NULL), FPMD_OK);
        assert_int_equal(fpmd_jsonrpc_out_result(out, 1, NULL), FPMD_OK);
        assert_int_equal(fpmd_jsonrpc_out_text(out, &text, &len), FPMD_OK);
        snprintf(want, sizeof(want),
                 "[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":%d,\"message\":"
                 "\"%s\"},\"id\":1},{\"jsonrpc\":\"2.0\",\"result\":null,"
                 "\"id\":2}]", codes[i].code, codes[i].message);
        assert_string_equal(text, want);
        fpmd_jsonrpc_out_free(out);
    }

    /* a message of the caller's is copied, data taken as it is */
    out = fpmd_jsonrpc_out_new(msg);
    assert_non_null(out);
    snprintf(message, sizeof(message), "pool %s is down", "main");
    assert_int_equal(fpmd_jsonrpc_out_error(
        out, 1, FPMD_JSONRPC_SERVER_BUSY, message,
        json_tokener_parse("{\"retry_ms\":250}")), FPMD_OK);
    memset(message, 'x', sizeof(message) - 1);
    assert_int_equal(fpmd_jsonrpc_out_text(out, &text, &len), FPMD_OK);
    assert_string_equal(text,
        "[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":"
        "\"Internal error\"},\"id\":1},{\"jsonrpc\":\"2.0\",\"error\":"
        "{\"code\":-32000,\"message\":\"pool main is down\",\"data\":"
        "{\"retry_ms\":250}},\"id\":2}]");
    fpmd_jsonrpc_out_free(out);
    fpmd_jsonrpc_msg_free(msg);
}

static void
answers_outlive_their_message_and_have_no_newline(void **state)
{
    struct fpmd_jsonrpc_msg *msg = parse(
        "{\"jsonrpc\":\"2.0\",\"method\":\"echo\","
        "\"params\":[\"a\\nb\\r\\u2028/\"],\"id\":\"i\\nd\"}");
    struct fpmd_jsonrpc_out *out = fpmd_jsonrpc_out_new(msg);
    const char *text, *again;
    size_t len, len2;

    (void) state;
    assert_non_null(out);
    assert_int_equal(fpmd_jsonrpc_out_result(
        out, 0, json_object_get(msg->calls[0].params)), FPMD_OK);
    fpmd_jsonrpc_msg_free(msg);
    assert_int_equal(fpmd_jsonrpc_out_text(out, &text, &len), FPMD_OK);
    assert_int_equal(len, strlen(text));
    assert_null(memchr(text, '\n', len));
    assert_json_equal(text, "{\"jsonrpc\":\"2.0\",\"result\":"
                            "[\"a\\nb\\r\\u2028/\"],\"id\":\"i\\nd\"}");
    /* written again, the same */
    assert_int_equal(fpmd_jsonrpc_out_text(out, &again, &len2), FPMD_OK);
    assert_int_equal(len2, len);
    assert_string_equal(again, text);
    fpmd_jsonrpc_out_free(out);
    fpmd_jsonrpc_out_free(NULL);
}

static void
a_call_left_unanswered_gets_an_internal_error(void **state)
{
    struct fpmd_jsonrpc_msg *msg = parse(
        "[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":\"a\"},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"b\"},"
        " {\"jsonrpc\":\"2.0\",\"method\":\"c\",\"id\":\"c\"}]");
    struct fpmd_jsonrpc_out *out = fpmd_jsonrpc_out_new(msg);
    const char *text;
    size_t len;

    (void) state;
    assert_non_null(out);
    assert_int_equal(fpmd_jsonrpc_out_result(out, 2, json_object_new_int(3)),
                     FPMD_OK);
    assert_int_equal(fpmd_jsonrpc_out_text(out, &text, &len), FPMD_OK);
    assert_json_equal(text,
        "[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,"
        "\"message\":\"Internal error\"},\"id\":\"a\"},"
        " {\"jsonrpc\":\"2.0\",\"result\":3,\"id\":\"c\"}]");
    fpmd_jsonrpc_out_free(out);
    fpmd_jsonrpc_msg_free(msg);
}

/* The frames a reader gets from data arriving in two writes, cut at cut:
 * its buffer grows by what arrives and loses what each decode used, and
 * every decode sees a heap buffer of exactly the bytes held. */
struct frames {
    size_t n;
    char *text[8];
    size_t len[8];
    int rc;             /* the last decode's: FPMD_AGAIN or FPMD_ERROR */
    const char *why;
};

static void
decode_stream(enum fpmd_jsonrpc_framing framing, const char *data,
              size_t len, size_t cut, size_t max, struct frames *got)
{
    char *held = malloc(len + 1);
    size_t nheld = 0, fed = 0, bound;

    assert_non_null(held);
    bound = framing == FPMD_JSONRPC_LINES ? max + 1
                                          : FPMD_JSONRPC_HEAD_MAX + max;
    memset(got, 0, sizeof(*got));
    for (int piece = 0; piece < 2; piece++) {
        size_t upto = piece == 0 ? cut : len;

        memcpy(held + nheld, data + fed, upto - fed);
        nheld += upto - fed;
        fed = upto;
        for (;;) {
            char *p = copy(held, nheld);
            const char *frame = NULL;
            size_t flen = 0, used = 99999;
            int rc = fpmd_jsonrpc_frame_parse(framing, p, nheld, max, &frame,
                                              &flen, &used, &got->why);

            got->rc = rc;
            if (rc == FPMD_ERROR) {
                free(p);
                free(held);
                return;
            }
            assert_true(used <= nheld);
            assert_string_equal(got->why, "");
            if (rc == FPMD_OK) {
                assert_true(frame >= p && frame + flen <= p + used);
                assert_true(flen <= max);
                assert_true(got->n < FPMD_ARRAY_LEN(got->text));
                got->text[got->n] = copy(frame, flen);
                got->len[got->n++] = flen;
            } else {
                assert_int_equal(rc, FPMD_AGAIN);
                assert_true(nheld - used <= bound);
            }
            free(p);
            memmove(held, held + used, nheld - used);
            nheld -= used;
            if (rc == FPMD_AGAIN)
                break;
        }
    }
    free(held);
}

static void
frames_free(struct frames *got)
{
    for (size_t i = 0; i < got->n; i++)
        free(got->text[i]);
}

/* data, cut anywhere, decodes to exactly want[] and then waits. */
static void
assert_stream_at_every_cut(enum fpmd_jsonrpc_framing framing,
                           const char *data, size_t len, size_t max,
                           const char *const *want, size_t nwant)
{
    for (size_t cut = 0; cut <= len; cut++) {
        struct frames got;

        decode_stream(framing, data, len, cut, max, &got);
        if (got.rc != FPMD_AGAIN)
            fail_msg("cut at %zu: %d (%s)", cut, got.rc, got.why);
        if (got.n != nwant)
            fail_msg("cut at %zu: %zu frames, want %zu", cut, got.n, nwant);
        for (size_t i = 0; i < nwant; i++) {
            assert_int_equal(got.len[i], strlen(want[i]));
            assert_memory_equal(got.text[i], want[i], got.len[i]);
        }
        frames_free(&got);
    }
}

/* data, cut anywhere, is refused with why after the frames in want[]. */
static void
assert_refused_at_every_cut(enum fpmd_jsonrpc_framing framing,
                            const char *data, size_t len, size_t max,
                            size_t nwant, const char *why)
{
    for (size_t cut = 0; cut <= len; cut++) {
        struct frames got;

        decode_stream(framing, data, len, cut, max, &got);
        if (got.rc != FPMD_ERROR)
            fail_msg("%s, cut at %zu: %d", data, cut, got.rc);
        assert_string_equal(got.why, why);
        assert_int_equal(got.n, nwant);
        frames_free(&got);
    }
}

static int
frame1(enum fpmd_jsonrpc_framing framing, const char *data, size_t len,
       size_t max, size_t *flen, size_t *used, const char **why)
{
    char *p = copy(data, len);
    const char *frame;
    int rc = fpmd_jsonrpc_frame_parse(framing, p, len, max, &frame, flen,
                                      used, why);

    free(p);
    return rc;
}

static void
lines_take_a_stream_cut_anywhere(void **state)
{
    static const char data[] =
        "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}\n"
        "\n\r\n\n"
        "[1,\r2]\r\n"
        "x\r\r\n"
        "\r\n"
        "{}\n"
        "tail-without-newline";
    static const char *const want[] = {
        "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}", "[1,\r2]", "x\r", "{}",
    };

    (void) state;
    assert_stream_at_every_cut(FPMD_JSONRPC_LINES, data, sizeof(data) - 1,
                               64, want, FPMD_ARRAY_LEN(want));
    /* the limit is the longest line's, without its "\n" */
    assert_stream_at_every_cut(FPMD_JSONRPC_LINES, data, sizeof(data) - 1,
                               30, want, FPMD_ARRAY_LEN(want));
}

static void
lines_skip_empty_lines_and_wait(void **state)
{
    static const struct {
        const char *data;
        int rc;
        size_t used, flen;
    } cases[] = {
        { "", FPMD_AGAIN, 0, 0 },
        { "\n", FPMD_AGAIN, 1, 0 },
        { "\r", FPMD_AGAIN, 0, 0 },
        { "\r\n\n\r\n", FPMD_AGAIN, 5, 0 },
        { "\n\r", FPMD_AGAIN, 1, 0 },
        { "\n\n{}", FPMD_AGAIN, 2, 0 },
        { "\n\n{}\r", FPMD_AGAIN, 2, 0 },
        { "\n\n{}\r\n", FPMD_OK, 6, 2 },
        { "{}\n\n", FPMD_OK, 3, 2 },
        { "\r\r\n", FPMD_OK, 3, 1 },
        { " \n", FPMD_OK, 2, 1 },
    };

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(cases); i++) {
        size_t flen = 0, used = 0;
        const char *why;
        int rc = frame1(FPMD_JSONRPC_LINES, cases[i].data,
                        strlen(cases[i].data), 16, &flen, &used, &why);

        if (rc != cases[i].rc || used != cases[i].used)
            fail_msg("case %zu: %d used %zu", i, rc, used);
        if (rc == FPMD_OK)
            assert_int_equal(flen, cases[i].flen);
        assert_string_equal(why, "");
    }
}

static void
lines_refuse_a_line_over_the_limit_at_once(void **state)
{
    static const struct {
        const char *data;
        int rc;
    } cases[] = {
        { "abcd", FPMD_AGAIN },
        { "abcd\n", FPMD_OK },
        { "abcd\r", FPMD_AGAIN },
        { "abcd\r\n", FPMD_OK },
        /* a fifth byte that is not "\r" convicts it, newline or not */
        { "abcde", FPMD_ERROR },
        { "abcde\n", FPMD_ERROR },
        { "abcd\rx", FPMD_ERROR },
        { "abcd\r\r", FPMD_ERROR },
        { "abcd\r\r\n", FPMD_ERROR },
        { "\n\nabcde", FPMD_ERROR },
        { "\r\nabcd\r", FPMD_AGAIN },
    };
    static const char twice[] = "ab\nabcd\r\nabcdef\n";
    size_t flen, used;
    const char *why;

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(cases); i++) {
        int rc = frame1(FPMD_JSONRPC_LINES, cases[i].data,
                        strlen(cases[i].data), 4, &flen, &used, &why);

        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %d", i, cases[i].data, rc);
        assert_string_equal(why, rc == FPMD_ERROR
                                 ? "line longer than the limit" : "");
    }
    /* "ab" and "abcd" come first, wherever the stream is cut */
    assert_refused_at_every_cut(FPMD_JSONRPC_LINES, twice, sizeof(twice) - 1,
                                4, 2, "line longer than the limit");
    /* a limit of 0 takes no text at all, but still skips empty lines */
    assert_int_equal(frame1(FPMD_JSONRPC_LINES, "\n\r\n", 3, 0, &flen, &used,
                            &why), FPMD_AGAIN);
    assert_int_equal(used, 3);
    assert_int_equal(frame1(FPMD_JSONRPC_LINES, "\n1", 2, 0, &flen, &used,
                            &why), FPMD_ERROR);
}

static void
netstrings_take_a_stream_cut_anywhere(void **state)
{
    static const char data[] =
        "30:{\"jsonrpc\":\"2.0\",\"method\":\"a\"},"
        "2:{},"
        "0:,"
        "9:[\"a,b:c\"],"
        "7:[1,\n2]\n,"
        "12:incomplete";
    static const char *const want[] = {
        "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}", "{}", "", "[\"a,b:c\"]",
        "[1,\n2]\n",
    };

    (void) state;
    /* the limit is exactly the longest text's */
    assert_stream_at_every_cut(FPMD_JSONRPC_NETSTRING, data, sizeof(data) - 1,
                               30, want, FPMD_ARRAY_LEN(want));
}

static void
netstrings_refuse_bad_heads_at_once(void **state)
{
    static const struct {
        const char *data;
        size_t max;
        int rc;
        const char *why;
    } cases[] = {
        { "0", 9, FPMD_AGAIN, "" },
        { "0:", 9, FPMD_AGAIN, "" },
        { "0:,", 9, FPMD_OK, "" },
        { "9", 9, FPMD_AGAIN, "" },
        { "9:", 9, FPMD_AGAIN, "" },
        { "9:123456789", 9, FPMD_AGAIN, "" },
        { "9:123456789,", 9, FPMD_OK, "" },
        { "00", 9, FPMD_ERROR, "netstring length with a leading zero" },
        { "01:a,", 9, FPMD_ERROR, "netstring length with a leading zero" },
        { "007", 99, FPMD_ERROR, "netstring length with a leading zero" },
        { ":", 9, FPMD_ERROR, "netstring not starting with its length" },
        { ":,", 9, FPMD_ERROR, "netstring not starting with its length" },
        { "x", 9, FPMD_ERROR, "netstring not starting with its length" },
        { " 1:a,", 9, FPMD_ERROR, "netstring not starting with its length" },
        { "-1:a,", 9, FPMD_ERROR, "netstring not starting with its length" },
        { "\n", 9, FPMD_ERROR, "netstring not starting with its length" },
        { "5x", 9, FPMD_ERROR, "no ':' after the netstring length" },
        { "1 :a,", 9, FPMD_ERROR, "no ':' after the netstring length" },
        { "1,", 9, FPMD_ERROR, "no ':' after the netstring length" },
        { "3:abc;", 9, FPMD_ERROR, "no ',' after the netstring" },
        { "3:abcd,", 9, FPMD_ERROR, "no ',' after the netstring" },
        { "3:abc\n", 9, FPMD_ERROR, "no ',' after the netstring" },
        { "0:x", 9, FPMD_ERROR, "no ',' after the netstring" },
        /* the length is judged before its ':' */
        { "10", 9, FPMD_ERROR, "netstring length over the limit" },
        { "6", 5, FPMD_ERROR, "netstring length over the limit" },
        { "1", 0, FPMD_ERROR, "netstring length over the limit" },
        { "100", 99, FPMD_ERROR, "netstring length over the limit" },
        { "99", 99, FPMD_AGAIN, "" },
        { "18446744073709551616", SIZE_MAX, FPMD_ERROR,
          "netstring length over the limit" },
        { "99999999999999999999999", SIZE_MAX, FPMD_ERROR,
          "netstring length over the limit" },
        { "18446744073709551615", SIZE_MAX, FPMD_AGAIN, "" },
    };

    (void) state;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(cases); i++) {
        size_t flen = 0, used = 0;
        const char *why;
        int rc = frame1(FPMD_JSONRPC_NETSTRING, cases[i].data,
                        strlen(cases[i].data), cases[i].max, &flen, &used,
                        &why);

        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): %d (%s)", i, cases[i].data, rc, why);
        assert_string_equal(why, cases[i].why);
        if (rc == FPMD_OK)
            assert_int_equal(used, strlen(cases[i].data));
    }
    /* after good frames, a bad one is refused wherever the stream is cut */
    assert_refused_at_every_cut(FPMD_JSONRPC_NETSTRING, "2:{},3:[1],01:x,",
                                16, 9, 2,
                                "netstring length with a leading zero");
    assert_refused_at_every_cut(FPMD_JSONRPC_NETSTRING, "2:{},3:[1]\n", 11,
                                9, 1, "no ',' after the netstring");
    assert_refused_at_every_cut(FPMD_JSONRPC_NETSTRING, "2:{},2:{},\n2:{},",
                                16, 9, 2,
                                "netstring not starting with its length");
}

static void
an_empty_netstring_is_a_parse_error(void **state)
{
    char *got = serve_n("", 0, DEPTH, BATCH);

    (void) state;
    assert_json_equal(got, PARSE_NULL);
    free(got);
}

/* head + text + tail, decoded: the text again, all of it used. */
static void
assert_round_trip(enum fpmd_jsonrpc_framing framing, const char *text,
                  size_t len)
{
    char head[FPMD_JSONRPC_HEAD_MAX], *wire;
    size_t n = fpmd_jsonrpc_frame_head(framing, len, head), flen = 0,
           used = 0;
    const char *frame = NULL, *why;

    wire = malloc(n + len + 1);
    assert_non_null(wire);
    memcpy(wire, head, n);
    memcpy(wire + n, text, len);
    wire[n + len] = fpmd_jsonrpc_frame_tail(framing);
    assert_int_equal(fpmd_jsonrpc_frame_parse(framing, wire, n + len + 1, len,
                                              &frame, &flen, &used, &why),
                     FPMD_OK);
    assert_int_equal(used, n + len + 1);
    assert_ptr_equal(frame, wire + n);
    assert_int_equal(flen, len);
    assert_memory_equal(frame, text, len);
    /* one byte short it waits */
    assert_int_equal(fpmd_jsonrpc_frame_parse(framing, wire, n + len, len,
                                              &frame, &flen, &used, &why),
                     FPMD_AGAIN);
    free(wire);
}

static void
encoders_round_trip_through_the_decoders(void **state)
{
    static const size_t lens[] = { 1, 9, 10, 11, 99, 100, 101, 1000, 4096 };
    static char text[4096];
    char head[FPMD_JSONRPC_HEAD_MAX];
    const char *answer;
    size_t len;
    struct fpmd_jsonrpc_msg *msg;
    struct fpmd_jsonrpc_out *out;

    (void) state;
    memset(text, 'j', sizeof(text));
    for (size_t i = 0; i < FPMD_ARRAY_LEN(lens); i++) {
        assert_round_trip(FPMD_JSONRPC_LINES, text, lens[i]);
        assert_round_trip(FPMD_JSONRPC_NETSTRING, text, lens[i]);
    }
    assert_int_equal(fpmd_jsonrpc_frame_head(FPMD_JSONRPC_NETSTRING, 0, head),
                     2);
    assert_memory_equal(head, "0:", 2);
    assert_int_equal(fpmd_jsonrpc_frame_head(FPMD_JSONRPC_NETSTRING, 1234,
                                             head), 5);
    assert_memory_equal(head, "1234:", 5);
    assert_int_equal(fpmd_jsonrpc_frame_head(FPMD_JSONRPC_NETSTRING, SIZE_MAX,
                                             head), FPMD_JSONRPC_HEAD_MAX);
    assert_memory_equal(head, "18446744073709551615:", FPMD_JSONRPC_HEAD_MAX);
    assert_int_equal(fpmd_jsonrpc_frame_head(FPMD_JSONRPC_LINES, 1234, head),
                     0);
    assert_int_equal(fpmd_jsonrpc_frame_tail(FPMD_JSONRPC_LINES), '\n');
    assert_int_equal(fpmd_jsonrpc_frame_tail(FPMD_JSONRPC_NETSTRING), ',');

    /* an answer with newlines in its strings still fits on a line */
    msg = parse("[{\"jsonrpc\":\"2.0\",\"method\":\"a\\nb\",\"id\":\"\\r\\n\"}]");
    out = fpmd_jsonrpc_out_new(msg);
    assert_non_null(out);
    assert_int_equal(fpmd_jsonrpc_out_result(
        out, 0, json_object_new_string(msg->calls[0].method)), FPMD_OK);
    assert_int_equal(fpmd_jsonrpc_out_text(out, &answer, &len), FPMD_OK);
    assert_round_trip(FPMD_JSONRPC_LINES, answer, len);
    assert_round_trip(FPMD_JSONRPC_NETSTRING, answer, len);
    fpmd_jsonrpc_out_free(out);
    fpmd_jsonrpc_msg_free(msg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spec_call_with_positional_parameters),
        cmocka_unit_test(spec_call_with_named_parameters),
        cmocka_unit_test(spec_notifications_get_no_answer),
        cmocka_unit_test(spec_call_of_a_non_existent_method),
        cmocka_unit_test(spec_call_with_invalid_json),
        cmocka_unit_test(spec_call_with_invalid_request_object),
        cmocka_unit_test(spec_batch_with_invalid_json),
        cmocka_unit_test(spec_call_with_an_empty_array),
        cmocka_unit_test(spec_invalid_batch_but_not_empty),
        cmocka_unit_test(spec_invalid_batch),
        cmocka_unit_test(spec_mixed_batch),
        cmocka_unit_test(spec_batch_of_notifications_only),
        cmocka_unit_test(parse_lends_method_params_and_id_from_the_root),
        cmocka_unit_test(ids_are_echoed_as_sent),
        cmocka_unit_test(ids_of_other_types_are_invalid_with_id_null),
        cmocka_unit_test(jsonrpc_must_be_exactly_2_0),
        cmocka_unit_test(method_must_be_a_string),
        cmocka_unit_test(params_must_be_an_array_or_an_object),
        cmocka_unit_test(a_refused_call_without_id_is_answered_all_the_same),
        cmocka_unit_test(a_message_neither_object_nor_array_is_invalid),
        cmocka_unit_test(text_that_is_not_json_is_a_parse_error),
        cmocka_unit_test(nesting_is_bounded),
        cmocka_unit_test(batches_are_bounded),
        cmocka_unit_test(answers_keep_call_order_and_drop_notifications),
        cmocka_unit_test(errors_name_their_codes_unless_told),
        cmocka_unit_test(answers_outlive_their_message_and_have_no_newline),
        cmocka_unit_test(a_call_left_unanswered_gets_an_internal_error),
        cmocka_unit_test(lines_take_a_stream_cut_anywhere),
        cmocka_unit_test(lines_skip_empty_lines_and_wait),
        cmocka_unit_test(lines_refuse_a_line_over_the_limit_at_once),
        cmocka_unit_test(netstrings_take_a_stream_cut_anywhere),
        cmocka_unit_test(netstrings_refuse_bad_heads_at_once),
        cmocka_unit_test(an_empty_netstring_is_a_parse_error),
        cmocka_unit_test(encoders_round_trip_through_the_decoders),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

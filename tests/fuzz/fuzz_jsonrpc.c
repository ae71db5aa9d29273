/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the JSON-RPC codec. The first byte picks the
 * framing (bit 0: lines or netstrings), the frame limit (bits 1-3: 16 to
 * 2048 bytes), the depth limit (bits 4-5: 1, 4, 7 or 10) and the batch
 * limit (bits 6-7: 0, 3, 6 or 9); the rest is decoded as a stream of
 * frames until one is incomplete or refused, each frame parsed as a
 * message and answered as a server would: an error for the calls whose
 * method hashes odd, their params back for the others. Every frame lies
 * inside what is left of the input and keeps to its limit; a message
 * keeps to its limits and the Request rules; the answer is one object, an
 * array with one answer per call that is not a notification, in call
 * order and with the call's id, or nothing when every call was one; it
 * parses back as JSON and goes through both framings unchanged. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/common.h"
#include "fpmd/jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t
hash(const char *p, size_t len)
{
    uint32_t h = 2166136261u;       /* FNV-1a */

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) p[i]) * 16777619u;
    return h;
}

static void
check_call(const struct fpmd_jsonrpc_call *c)
{
    enum json_type t = json_object_get_type(c->id);

    assert(t == json_type_null || t == json_type_string
           || t == json_type_int || t == json_type_double);
    if (c->error != 0) {
        assert(c->error == FPMD_JSONRPC_INVALID_REQUEST);
        assert(c->why[0] != '\0');
        assert(c->method == NULL && c->params == NULL);
        assert(!c->notification);
        return;
    }
    assert(c->why[0] == '\0');
    assert(c->method != NULL && strlen(c->method) <= c->method_len);
    assert(c->params == NULL
           || json_object_is_type(c->params, json_type_array)
           || json_object_is_type(c->params, json_type_object));
    assert(!c->notification || c->id == NULL);
}

static void
check_msg(const struct fpmd_jsonrpc_msg *msg, size_t max_batch)
{
    if (msg->error != 0) {
        assert(msg->error == FPMD_JSONRPC_PARSE_ERROR
               || msg->error == FPMD_JSONRPC_INVALID_REQUEST);
        assert(msg->message[0] != '\0');
        assert(msg->ncalls == 0 && !msg->batch);
        return;
    }
    assert(msg->root != NULL);
    assert(msg->batch ? msg->ncalls >= 1 && msg->ncalls <= max_batch
                      : msg->ncalls == 1);
    for (size_t i = 0; i < msg->ncalls; i++)
        check_call(&msg->calls[i]);
}

/* text through framing and back: the same bytes, all of the wire used */
static void
check_reframes(enum fpmd_jsonrpc_framing framing, const char *text,
               size_t len)
{
    char head[FPMD_JSONRPC_HEAD_MAX], *wire;
    size_t n = fpmd_jsonrpc_frame_head(framing, len, head), flen = 0,
           used = 0;
    const char *frame = NULL, *why;

    wire = malloc(n + len + 1);
    assert(wire != NULL);
    memcpy(wire, head, n);
    memcpy(wire + n, text, len);
    wire[n + len] = fpmd_jsonrpc_frame_tail(framing);
    assert(fpmd_jsonrpc_frame_parse(framing, wire, n + len + 1, len, &frame,
                                    &flen, &used, &why) == FPMD_OK);
    assert(used == n + len + 1 && frame == wire + n && flen == len);
    assert(memcmp(frame, text, len) == 0);
    free(wire);
}

/* want[0..nwant) are the ids of the calls that get an answer (NULL for
 * null), in order. */
static void
check_answer(const char *text, size_t len, bool batch,
             struct json_object **want, size_t nwant)
{
    struct json_tokener *tok = json_tokener_new_ex(64);
    struct json_object *a;

    assert(tok != NULL);
    assert(strlen(text) == len && memchr(text, '\n', len) == NULL);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    a = json_tokener_parse_ex(tok, text, (int) len);
    assert(a != NULL && json_tokener_get_error(tok) == json_tokener_success);
    assert(json_tokener_get_parse_end(tok) == len);
    json_tokener_free(tok);
    if (batch)
        assert(json_object_is_type(a, json_type_array)
               && json_object_array_length(a) == nwant);
    else
        assert(json_object_is_type(a, json_type_object) && nwant == 1);
    for (size_t i = 0; i < nwant; i++) {
        struct json_object *r = batch ? json_object_array_get_idx(a, i) : a;
        struct json_object *v, *e;

        assert(json_object_object_length(r) == 3);
        assert(json_object_object_get_ex(r, "jsonrpc", &v)
               && strcmp(json_object_get_string(v), "2.0") == 0);
        assert(json_object_object_get_ex(r, "id", &v)
               && json_object_equal(v, want[i]));
        if (json_object_object_get_ex(r, "error", &e)) {
            assert(json_object_object_get_ex(e, "code", &v)
                   && json_object_is_type(v, json_type_int));
            assert(json_object_object_get_ex(e, "message", &v)
                   && json_object_is_type(v, json_type_string));
        } else {
            assert(json_object_object_get_ex(r, "result", &v));
        }
    }
    json_object_put(a);
    check_reframes(FPMD_JSONRPC_LINES, text, len);
    check_reframes(FPMD_JSONRPC_NETSTRING, text, len);
}

static void
serve(const char *frame, size_t len, unsigned depth, size_t max_batch)
{
    struct fpmd_jsonrpc_msg *msg = fpmd_jsonrpc_parse(frame, len, depth,
                                                      max_batch);
    struct fpmd_jsonrpc_out *out;
    struct json_object **want;
    size_t nwant = 0;
    const char *text;
    size_t tlen;
    bool batch;
    int rc;

    assert(msg != NULL);
    check_msg(msg, max_batch);
    out = fpmd_jsonrpc_out_new(msg);
    assert(out != NULL);
    want = calloc(msg->ncalls + 1, sizeof(*want));
    assert(want != NULL);
    if (msg->error != 0)
        nwant = 1;
    for (size_t i = 0; i < msg->ncalls; i++) {
        const struct fpmd_jsonrpc_call *c = &msg->calls[i];
        uint32_t h;

        if (!c->notification)
            want[nwant++] = json_object_get(c->id);
        if (c->error != 0)
            continue;
        h = hash(c->method, c->method_len);
        if (h & 1)
            rc = fpmd_jsonrpc_out_error(out, i, -(int) (h >> 17),
                                        h & 2 ? c->method : NULL,
                                        h & 4 ? json_object_get(c->params)
                                              : NULL);
        else
            rc = fpmd_jsonrpc_out_result(out, i, json_object_get(c->params));
        assert(rc == FPMD_OK);
    }
    /* the answers hold what they need of the message */
    batch = msg->batch;
    fpmd_jsonrpc_msg_free(msg);
    rc = fpmd_jsonrpc_out_text(out, &text, &tlen);
    if (nwant == 0) {
        assert(rc == FPMD_DECLINED);
    } else {
        assert(rc == FPMD_OK);
        check_answer(text, tlen, batch, want, nwant);
    }
    for (size_t i = 0; i < nwant; i++)
        json_object_put(want[i]);
    free(want);
    fpmd_jsonrpc_out_free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum fpmd_jsonrpc_framing framing;
    size_t max, max_batch, off = 0;
    unsigned depth;

    if (size == 0)
        return 0;
    framing = data[0] & 1 ? FPMD_JSONRPC_NETSTRING : FPMD_JSONRPC_LINES;
    max = (size_t) 16 << ((data[0] >> 1) & 7);
    depth = 1 + 3 * ((data[0] >> 4) & 3);
    max_batch = 3 * (size_t) (data[0] >> 6);
    data++;
    size--;
    for (;;) {
        const char *p = (const char *) data + off, *frame = NULL, *why = NULL;
        size_t left = size - off, flen = 0, used = 0;
        int rc = fpmd_jsonrpc_frame_parse(framing, p, left, max, &frame,
                                          &flen, &used, &why);

        assert(why != NULL && used <= left);
        if (rc == FPMD_ERROR) {
            assert(why[0] != '\0');
            return 0;
        }
        assert(why[0] == '\0');
        if (rc == FPMD_AGAIN) {
            /* what the caller still holds is bounded by the limit */
            assert(left - used <= (framing == FPMD_JSONRPC_LINES
                                   ? max + 1 : FPMD_JSONRPC_HEAD_MAX + max));
            return 0;
        }
        assert(rc == FPMD_OK && flen <= max);
        assert(frame >= p && frame + flen < p + used);
        assert(p[used - 1] == fpmd_jsonrpc_frame_tail(framing));
        if (framing == FPMD_JSONRPC_LINES)
            assert(flen > 0 && memchr(frame, '\n', flen) == NULL);
        else
            assert(frame + flen == p + used - 1);
        serve(frame, flen, depth, max_batch);
        off += used;
    }
}

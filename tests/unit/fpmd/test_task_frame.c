/* SPDX-License-Identifier: BSD-2-Clause */
/* Task frames: run and result frames survive a round trip field for
 * field; a decoder fed a stream waits on every prefix of a valid frame
 * and refuses a bad magic, kind, length, name, flag or code, and a
 * payload over the limit, as soon as the bytes that prove it are in.
 * Every buffer handed to the decoder is a heap copy of exactly the bytes
 * it may read, so that ASan sees a read past them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fpmd/common.h"
#include "fpmd/task_frame.h"

/* The head's fields, as task_frame.c lays them out; written here
 * independently so that a change of the wire format fails a test. */
#define OFF_KIND 4
#define OFF_CODE 5
#define OFF_TEXT_LEN 6
#define OFF_SENDER 8
#define OFF_LEN 12
#define OFF_ID 16

#define HEAD_CAP (FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX)

static uint8_t *
copy(const void *src, size_t len)
{
    /* a 0-byte prefix still gets a pointer of its own */
    uint8_t *p = malloc(len > 0 ? len : 1);

    assert_non_null(p);
    if (len > 0)
        memcpy(p, src, len);
    return p;
}

/* f's head, text and payload in one heap buffer of exactly the frame's
 * length. */
static uint8_t *
encode(const struct fpmd_task_frame *f, size_t *total)
{
    uint8_t head[HEAD_CAP], *buf;
    size_t n = fpmd_task_frame_head(f, head);

    assert_true(n >= FPMD_TASK_FRAME_HEAD);
    buf = malloc(n + f->len);
    assert_non_null(buf);
    memcpy(buf, head, n);
    if (f->len > 0)
        memcpy(buf + n, f->payload, f->len);
    *total = n + f->len;
    return buf;
}

static int
parse_copy(const void *buf, size_t len, size_t max_payload,
           struct fpmd_task_frame *f, size_t *used, const char **why)
{
    uint8_t *p = copy(buf, len);
    int rc = fpmd_task_frame_parse(p, len, max_payload, f, used, why);

    /* f points into p: callers only look at its numbers after this */
    free(p);
    return rc;
}

/* Parses buf in place and checks every field against want; the text and
 * payload must point into buf where the encoder put them. */
static void
assert_parses_to(const uint8_t *buf, size_t total,
                 const struct fpmd_task_frame *want, size_t want_text_len)
{
    struct fpmd_task_frame f;
    size_t used = 0;
    const char *why = NULL;

    assert_int_equal(fpmd_task_frame_parse(buf, total, want->len, &f, &used,
                                           &why), FPMD_OK);
    assert_int_equal(used, total);
    assert_string_equal(why, "");
    assert_int_equal(f.kind, want->kind);
    assert_int_equal(f.code, want->code);
    assert_int_equal(f.sender, want->sender);
    assert_true(f.id == want->id);
    assert_int_equal(f.text_len, want_text_len);
    assert_ptr_equal(f.text, (const char *) buf + FPMD_TASK_FRAME_HEAD);
    if (want_text_len > 0)
        assert_memory_equal(f.text, want->text, want_text_len);
    assert_int_equal(f.len, want->len);
    assert_ptr_equal(f.payload, buf + FPMD_TASK_FRAME_HEAD + want_text_len);
    if (want->len > 0)
        assert_memory_equal(f.payload, want->payload, want->len);
}

static void
round_trips_a_run_frame(void **state)
{
    static const char input[] = "{\"to\":\"a@example.org\"}";
    const struct fpmd_task_frame run = {
        .kind = FPMD_TASK_FRAME_RUN,
        .code = FPMD_TASK_NOREPLY,
        .sender = 4242,
        .id = UINT64_C(0xfedcba9876543210),
        .text = "mail.send-welcome_v2",
        .text_len = 20,
        .payload = input,
        .len = sizeof(input) - 1,
    };
    size_t total;
    uint8_t *buf = encode(&run, &total);

    (void) state;
    assert_int_equal(total, FPMD_TASK_FRAME_HEAD + 20 + sizeof(input) - 1);
    assert_parses_to(buf, total, &run, 20);
    free(buf);
}

static void
round_trips_result_frames(void **state)
{
    static const char output[] = { 'o', 'k', '\0', '\xff' };
    const struct fpmd_task_frame failed = {
        .kind = FPMD_TASK_FRAME_RESULT,
        .code = FPMD_TASK_FAILED,
        .sender = -1,
        .id = 7,
        .text = "SMTP 451: try again later",
        .text_len = 25,
        .payload = "partial",
        .len = 7,
    };
    const struct fpmd_task_frame done = {
        .kind = FPMD_TASK_FRAME_RESULT,
        .code = FPMD_TASK_DONE,
        .sender = INT32_MAX,
        .id = UINT64_MAX,
        .payload = output,
        .len = sizeof(output),
    };
    size_t total;
    uint8_t *buf;

    (void) state;
    buf = encode(&failed, &total);
    assert_int_equal(total, FPMD_TASK_FRAME_HEAD + 25 + 7);
    assert_parses_to(buf, total, &failed, 25);
    free(buf);
    buf = encode(&done, &total);
    assert_int_equal(total, FPMD_TASK_FRAME_HEAD + sizeof(output));
    assert_parses_to(buf, total, &done, 0);
    free(buf);
}

static void
head_writes_the_documented_layout(void **state)
{
    const struct fpmd_task_frame run = {
        .kind = FPMD_TASK_FRAME_RUN,
        .code = FPMD_TASK_NOREPLY,
        .sender = 0x01020304,
        .id = UINT64_C(0x1112131415161718),
        .text = "a.b",
        .text_len = 3,
        .len = 0x0a0b0c0d,
    };
    uint32_t magic = FPMD_TASK_FRAME_MAGIC, len = 0x0a0b0c0d;
    uint16_t tl = 3;
    int32_t sender = 0x01020304;
    uint64_t id = UINT64_C(0x1112131415161718);
    uint8_t want[FPMD_TASK_FRAME_HEAD + 3], out[HEAD_CAP];

    (void) state;
    memcpy(want, &magic, 4);
    want[OFF_KIND] = FPMD_TASK_FRAME_RUN;
    want[OFF_CODE] = FPMD_TASK_NOREPLY;
    memcpy(want + OFF_TEXT_LEN, &tl, 2);
    memcpy(want + OFF_SENDER, &sender, 4);
    memcpy(want + OFF_LEN, &len, 4);
    memcpy(want + OFF_ID, &id, 8);
    memcpy(want + FPMD_TASK_FRAME_HEAD, "a.b", 3);
    assert_int_equal(fpmd_task_frame_head(&run, out), sizeof(want));
    assert_memory_equal(out, want, sizeof(want));
}

/* Every proper prefix of buf[0..total) is FPMD_AGAIN, the whole of it
 * FPMD_OK. */
static void
assert_waits_for_every_byte(const uint8_t *buf, size_t total,
                            size_t max_payload)
{
    struct fpmd_task_frame f;
    size_t used = 0;
    const char *why;

    for (size_t n = 0; n < total; n++) {
        int rc = parse_copy(buf, n, max_payload, &f, &used, &why);

        if (rc != FPMD_AGAIN)
            fail_msg("prefix of %zu of %zu bytes: %d (%s)", n, total, rc,
                     why);
    }
    assert_int_equal(parse_copy(buf, total, max_payload, &f, &used, &why),
                     FPMD_OK);
    assert_int_equal(used, total);
}

static void
parse_waits_for_every_prefix(void **state)
{
    const struct fpmd_task_frame run = {
        .kind = FPMD_TASK_FRAME_RUN,
        .code = 0,
        .sender = 99,
        .id = 1,
        .text = "resize",
        .text_len = 6,
        .payload = "img/1.png",
        .len = 9,
    };
    const struct fpmd_task_frame result = {
        .kind = FPMD_TASK_FRAME_RESULT,
        .code = FPMD_TASK_UNKNOWN,
        .sender = 99,
        .id = 1,
        .text = "no task resize",
        .text_len = 14,
    };
    size_t total;
    uint8_t *buf;

    (void) state;
    buf = encode(&run, &total);
    assert_waits_for_every_byte(buf, total, 9);
    free(buf);
    buf = encode(&result, &total);
    assert_waits_for_every_byte(buf, total, 0);
    free(buf);
}

static void
parse_takes_frames_back_to_back(void **state)
{
    const struct fpmd_task_frame run = {
        .kind = FPMD_TASK_FRAME_RUN,
        .code = FPMD_TASK_NOREPLY,
        .sender = 10,
        .id = 2,
        .text = "first",
        .text_len = 5,
        .payload = "abc",
        .len = 3,
    };
    const struct fpmd_task_frame result = {
        .kind = FPMD_TASK_FRAME_RESULT,
        .code = FPMD_TASK_DIED,
        .sender = 10,
        .id = 3,
        .text = "killed by signal 9",
        .text_len = 18,
    };
    size_t n1, n2, used = 0;
    uint8_t *one = encode(&run, &n1), *two = encode(&result, &n2);
    uint8_t *both = malloc(n1 + n2);
    struct fpmd_task_frame f;
    const char *why;

    (void) state;
    assert_non_null(both);
    memcpy(both, one, n1);
    memcpy(both + n1, two, n2);
    assert_int_equal(fpmd_task_frame_parse(both, n1 + n2, 3, &f, &used,
                                           &why), FPMD_OK);
    assert_int_equal(used, n1);
    assert_int_equal(f.kind, FPMD_TASK_FRAME_RUN);
    assert_int_equal(f.id, 2);
    assert_int_equal(f.len, 3);
    assert_memory_equal(f.payload, "abc", 3);
    assert_int_equal(fpmd_task_frame_parse(both + used, n1 + n2 - used, 3,
                                           &f, &used, &why), FPMD_OK);
    assert_int_equal(used, n2);
    assert_int_equal(f.kind, FPMD_TASK_FRAME_RESULT);
    assert_int_equal(f.code, FPMD_TASK_DIED);
    assert_int_equal(f.id, 3);
    assert_int_equal(f.text_len, 18);
    assert_memory_equal(f.text, "killed by signal 9", 18);
    assert_int_equal(f.len, 0);
    free(both);
    free(two);
    free(one);
}

static void
parse_bounds_the_payload_from_the_head(void **state)
{
    enum { MAX = 100 };
    static uint8_t payload[MAX + 1];
    struct fpmd_task_frame run = {
        .kind = FPMD_TASK_FRAME_RUN,
        .code = 0,
        .sender = 5,
        .id = 6,
        .text = "thumbnail",
        .text_len = 9,
        .payload = payload,
        .len = MAX + 1,
    };
    struct fpmd_task_frame f;
    size_t total, used = 0;
    const char *why = NULL;
    uint8_t *buf = encode(&run, &total);

    (void) state;
    /* the head alone convicts it: neither the name nor a payload byte
     * is needed */
    for (size_t n = 0; n < FPMD_TASK_FRAME_HEAD; n++)
        assert_int_equal(parse_copy(buf, n, MAX, &f, &used, &why),
                         FPMD_AGAIN);
    assert_int_equal(parse_copy(buf, FPMD_TASK_FRAME_HEAD, MAX, &f, &used,
                                &why), FPMD_ERROR);
    assert_string_equal(why, "payload over tasks.max_payload");
    assert_int_equal(parse_copy(buf, total, MAX, &f, &used, &why),
                     FPMD_ERROR);
    assert_string_equal(why, "payload over tasks.max_payload");
    free(buf);

    run.len = MAX;
    buf = encode(&run, &total);
    assert_waits_for_every_byte(buf, total, MAX);
    free(buf);

    run.len = 0;
    run.payload = NULL;
    buf = encode(&run, &total);
    assert_int_equal(total, FPMD_TASK_FRAME_HEAD + 9);
    assert_waits_for_every_byte(buf, total, 0);
    free(buf);

    run.len = 1;
    run.payload = payload;
    buf = encode(&run, &total);
    assert_int_equal(parse_copy(buf, FPMD_TASK_FRAME_HEAD, 0, &f, &used,
                                &why), FPMD_ERROR);
    assert_string_equal(why, "payload over tasks.max_payload");
    free(buf);
}

static void
parse_refuses_a_bad_magic_at_once(void **state)
{
    const struct fpmd_task_frame result = {
        .kind = FPMD_TASK_FRAME_RESULT,
        .code = FPMD_TASK_DONE,
    };
    struct fpmd_task_frame f;
    size_t total, used = 0;
    const char *why = NULL;
    uint8_t *buf = encode(&result, &total);

    (void) state;
    for (size_t n = 1; n <= 3; n++) {
        assert_int_equal(parse_copy(buf, n, 0, &f, &used, &why), FPMD_AGAIN);
        assert_string_equal(why, "");
    }
    /* a wrong byte at any of the magic's places, on the shortest prefix
     * that holds it and on the whole frame */
    for (size_t i = 0; i < 4; i++) {
        uint8_t *bad = copy(buf, total);

        bad[i] ^= 0x20;
        assert_int_equal(parse_copy(bad, i + 1, 0, &f, &used, &why),
                         FPMD_ERROR);
        assert_string_equal(why, "not a task frame");
        assert_int_equal(parse_copy(bad, total, 0, &f, &used, &why),
                         FPMD_ERROR);
        assert_string_equal(why, "not a task frame");
        free(bad);
    }
    assert_int_equal(parse_copy("GET / HTTP/1.1\r\n", 1, 0, &f, &used, &why),
                     FPMD_ERROR);
    assert_string_equal(why, "not a task frame");
    free(buf);
}

/* buf with one head field overwritten, parsed whole and as far as the
 * head only: both are refused with why. */
static void
assert_patch_refused(const uint8_t *buf, size_t total, size_t off,
                     const void *val, size_t vlen, const char *want_why)
{
    uint8_t *bad = copy(buf, total);
    struct fpmd_task_frame f;
    size_t used = 0;
    const char *why = NULL;

    memcpy(bad + off, val, vlen);
    assert_int_equal(parse_copy(bad, total, 1000, &f, &used, &why),
                     FPMD_ERROR);
    assert_string_equal(why, want_why);
    if (off < FPMD_TASK_FRAME_HEAD) {
        assert_int_equal(parse_copy(bad, FPMD_TASK_FRAME_HEAD, 1000, &f,
                                    &used, &why), FPMD_ERROR);
        assert_string_equal(why, want_why);
    }
    free(bad);
}

static void
parse_refuses_bad_heads_and_names(void **state)
{
    static char name[FPMD_TASK_NAME_MAX], text[FPMD_TASK_TEXT_MAX + 1];
    static const uint8_t bad_kinds[] = { 0, 3, 255 };
    static const uint8_t bad_flags[] = { 2, 3, 0x80, 0xff };
    static const uint8_t bad_codes[] = { FPMD_TASK_DIED + 1, 0x80, 0xff };
    static const uint8_t bad_name_bytes[] = { '/', ' ', 0x00, 0xff, '@',
                                              '{', ':', '\n' };
    static const uint16_t bad_name_lens[] = { 0, FPMD_TASK_NAME_MAX + 1,
                                              UINT16_MAX };
    static const size_t name_places[] = { 0, 31, FPMD_TASK_NAME_MAX - 1 };
    const uint16_t long_text = FPMD_TASK_TEXT_MAX + 1;
    struct fpmd_task_frame run = {
        .kind = FPMD_TASK_FRAME_RUN,
        .text = name,
        .text_len = sizeof(name),
        .payload = "x",
        .len = 1,
    };
    struct fpmd_task_frame result = {
        .kind = FPMD_TASK_FRAME_RESULT,
        .code = FPMD_TASK_DIED,
        .text = text,
        .text_len = FPMD_TASK_TEXT_MAX,
    };
    size_t rtotal, ttotal;
    uint8_t *rbuf, *tbuf;

    (void) state;
    memset(name, 'n', sizeof(name));
    memset(text, 't', sizeof(text));
    /* the limits themselves are taken */
    rbuf = encode(&run, &rtotal);
    assert_parses_to(rbuf, rtotal, &run, FPMD_TASK_NAME_MAX);
    tbuf = encode(&result, &ttotal);
    assert_parses_to(tbuf, ttotal, &result, FPMD_TASK_TEXT_MAX);

    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad_kinds); i++) {
        assert_patch_refused(rbuf, rtotal, OFF_KIND, &bad_kinds[i], 1,
                             "unknown frame kind");
        assert_patch_refused(tbuf, ttotal, OFF_KIND, &bad_kinds[i], 1,
                             "unknown frame kind");
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad_name_lens); i++)
        assert_patch_refused(rbuf, rtotal, OFF_TEXT_LEN, &bad_name_lens[i], 2,
                             "bad task name length or flags");
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad_flags); i++)
        assert_patch_refused(rbuf, rtotal, OFF_CODE, &bad_flags[i], 1,
                             "bad task name length or flags");
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad_name_bytes); i++) {
        for (size_t j = 0; j < FPMD_ARRAY_LEN(name_places); j++)
            assert_patch_refused(rbuf, rtotal,
                                 FPMD_TASK_FRAME_HEAD + name_places[j],
                                 &bad_name_bytes[i], 1, "bad task name");
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad_codes); i++)
        assert_patch_refused(tbuf, ttotal, OFF_CODE, &bad_codes[i], 1,
                             "bad result text or code");
    assert_patch_refused(tbuf, ttotal, OFF_TEXT_LEN, &long_text, 2,
                         "bad result text or code");
    free(tbuf);
    free(rbuf);
}

static void
head_refuses_a_bad_name_and_cuts_a_long_text(void **state)
{
    static char long_name[FPMD_TASK_NAME_MAX + 1], text[300];
    static const struct {
        const char *name;
        size_t len;
    } bad[] = {
        { "a/b", 3 },
        { "", 0 },
        { NULL, 0 },
        { "has space", 9 },
        { "nul\0", 4 },
        { long_name, sizeof(long_name) },
    };
    static const size_t long_texts[] = { FPMD_TASK_TEXT_MAX + 1,
                                         sizeof(text) };
    struct fpmd_task_frame f = { .kind = FPMD_TASK_FRAME_RUN };
    uint8_t out[HEAD_CAP];
    size_t n, used = 0;
    const char *why;

    (void) state;
    memset(long_name, 'a', sizeof(long_name));
    for (size_t i = 0; i < FPMD_ARRAY_LEN(bad); i++) {
        f.text = bad[i].name;
        f.text_len = bad[i].len;
        assert_int_equal(fpmd_task_frame_head(&f, out), 0);
    }

    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char) ('a' + i % 26);
    for (size_t i = 0; i < FPMD_ARRAY_LEN(long_texts); i++) {
        f = (struct fpmd_task_frame) {
            .kind = FPMD_TASK_FRAME_RESULT,
            .code = FPMD_TASK_FAILED,
            .id = 77,
            .text = text,
            .text_len = long_texts[i],
        };
        n = fpmd_task_frame_head(&f, out);
        assert_int_equal(n, FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX);
        assert_int_equal(parse_copy(out, n, 0, &f, &used, &why), FPMD_OK);
        assert_int_equal(used, n);
        assert_int_equal(f.text_len, FPMD_TASK_TEXT_MAX);
        assert_int_equal(f.id, 77);
        assert_memory_equal(out + FPMD_TASK_FRAME_HEAD, text,
                            FPMD_TASK_TEXT_MAX);
    }
}

static void
name_valid_takes_the_set_and_the_length(void **state)
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
    char name[FPMD_TASK_NAME_MAX + 1];

    (void) state;
    /* every byte value alone, against the set spelled out */
    for (unsigned c = 0; c < 256; c++) {
        char ch = (char) c;
        bool want = memchr(set, (int) c, sizeof(set) - 1) != NULL;

        if (fpmd_task_name_valid(&ch, 1) != want)
            fail_msg("byte %#x: want %d", c, want);
    }
    /* the set is 65 bytes long: one over */
    assert_true(fpmd_task_name_valid(set + 1, FPMD_TASK_NAME_MAX));
    assert_false(fpmd_task_name_valid(set, sizeof(set) - 1));
    memset(name, 'x', sizeof(name));
    assert_true(fpmd_task_name_valid(name, 1));
    assert_true(fpmd_task_name_valid(name, FPMD_TASK_NAME_MAX));
    assert_false(fpmd_task_name_valid(name, FPMD_TASK_NAME_MAX + 1));
    assert_false(fpmd_task_name_valid(name, 0));
    assert_false(fpmd_task_name_valid("", 0));
    /* one bad byte anywhere, the last included */
    assert_false(fpmd_task_name_valid("ok/", 3));
    assert_false(fpmd_task_name_valid("o k", 3));
    assert_false(fpmd_task_name_valid("ok\0", 3));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trips_a_run_frame),
        cmocka_unit_test(round_trips_result_frames),
        cmocka_unit_test(head_writes_the_documented_layout),
        cmocka_unit_test(parse_waits_for_every_prefix),
        cmocka_unit_test(parse_takes_frames_back_to_back),
        cmocka_unit_test(parse_bounds_the_payload_from_the_head),
        cmocka_unit_test(parse_refuses_a_bad_magic_at_once),
        cmocka_unit_test(parse_refuses_bad_heads_and_names),
        cmocka_unit_test(head_refuses_a_bad_name_and_cuts_a_long_text),
        cmocka_unit_test(name_valid_takes_the_set_and_the_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

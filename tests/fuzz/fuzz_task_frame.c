/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for the task frame codec: the first byte sets the
 * payload limit (0 to 255 * 256, so that both a refused and an exactly
 * full payload are within reach), the rest is decoded as a stream of
 * frames until one is incomplete or refused. Every frame decoded lies
 * inside what is left of the input, keeps to its limits, is incomplete
 * one byte short, and encodes back to the same head and text. */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fpmd/common.h"
#include "fpmd/task_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char name_set[] = "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";

static void
check_frame(const uint8_t *p, size_t left, size_t max_payload,
            const struct fpmd_task_frame *f, size_t used)
{
    const uint8_t *text = (const uint8_t *) f->text;
    const uint8_t *payload = f->payload;
    uint8_t head[FPMD_TASK_FRAME_HEAD + FPMD_TASK_TEXT_MAX];
    struct fpmd_task_frame shorter;
    size_t n, used2 = 0;
    const char *why;

    assert(used >= FPMD_TASK_FRAME_HEAD && used <= left);
    assert(used == FPMD_TASK_FRAME_HEAD + f->text_len + f->len);
    assert(text == p + FPMD_TASK_FRAME_HEAD);
    assert(payload == text + f->text_len);
    assert(f->len <= max_payload);
    if (f->kind == FPMD_TASK_FRAME_RUN) {
        assert(f->text_len >= 1 && f->text_len <= FPMD_TASK_NAME_MAX);
        /* spelled out here rather than asking fpmd_task_name_valid, the
         * function under test */
        for (size_t i = 0; i < f->text_len; i++)
            assert(memchr(name_set, text[i], sizeof(name_set) - 1) != NULL);
        assert((f->code & ~(unsigned) FPMD_TASK_NOREPLY) == 0);
    } else {
        assert(f->kind == FPMD_TASK_FRAME_RESULT);
        assert(f->text_len <= FPMD_TASK_TEXT_MAX);
        assert(f->code <= FPMD_TASK_DIED);
    }
    /* a frame's end is where its head says, not where the input stops */
    assert(fpmd_task_frame_parse(p, used - 1, max_payload, &shorter, &used2,
                                 &why) == FPMD_AGAIN);
    n = fpmd_task_frame_head(f, head);
    assert(n == FPMD_TASK_FRAME_HEAD + f->text_len);
    assert(memcmp(head, p, n) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max_payload, off = 0;

    if (size == 0)
        return 0;
    max_payload = (size_t) data[0] * 256;
    data++;
    size--;
    for (;;) {
        struct fpmd_task_frame f;
        size_t used = 0;
        const char *why = NULL;
        int rc = fpmd_task_frame_parse(data + off, size - off, max_payload,
                                       &f, &used, &why);

        assert(why != NULL);
        if (rc != FPMD_OK) {
            assert(rc == FPMD_AGAIN || rc == FPMD_ERROR);
            assert((rc == FPMD_ERROR) == (why[0] != '\0'));
            return 0;
        }
        check_frame(data + off, size - off, max_payload, &f, used);
        off += used;
    }
}

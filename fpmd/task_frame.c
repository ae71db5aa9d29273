/* SPDX-License-Identifier: BSD-2-Clause */
/* The task queue's frame codec (task_frame.h). The head:
 *   u32 magic, u8 kind, u8 code, u16 text length, i32 sender,
 *   u32 payload length, u64 id
 * then the text (a run's task name, a result's error text), then the
 * payload. */
#include "config.h"

#include <string.h>

#include "fpmd/task_frame.h"

bool
fpmd_task_name_valid(const char *name, size_t len)
{
    if (len == 0 || len > FPMD_TASK_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.'
              || ch == '-'))
            return false;
    }
    return true;
}

size_t
fpmd_task_frame_head(const struct fpmd_task_frame *f, uint8_t *out)
{
    uint32_t magic = FPMD_TASK_FRAME_MAGIC, len = (uint32_t) f->len;
    size_t text_len = f->text_len;
    uint16_t tl;

    if (f->kind == FPMD_TASK_FRAME_RUN
        && !fpmd_task_name_valid(f->text, f->text_len))
        return 0;
    if (text_len > FPMD_TASK_TEXT_MAX)
        text_len = FPMD_TASK_TEXT_MAX;
    tl = (uint16_t) text_len;
    memcpy(out, &magic, 4);
    out[4] = (uint8_t) f->kind;
    out[5] = (uint8_t) f->code;
    memcpy(out + 6, &tl, 2);
    memcpy(out + 8, &f->sender, 4);
    memcpy(out + 12, &len, 4);
    memcpy(out + 16, &f->id, 8);
    if (text_len > 0)
        memcpy(out + FPMD_TASK_FRAME_HEAD, f->text, text_len);
    return FPMD_TASK_FRAME_HEAD + text_len;
}

static int
bad_magic(const char **why)
{
    *why = "not a task frame";
    return FPMD_ERROR;
}

int
fpmd_task_frame_parse(const void *buf, size_t len, size_t max_payload,
                      struct fpmd_task_frame *f, size_t *used,
                      const char **why)
{
    const uint8_t *p = buf;
    uint32_t magic, plen;
    uint16_t tl;

    *why = "";
    /* the magic first, so that a stream of garbage fails at once */
    magic = FPMD_TASK_FRAME_MAGIC;
    if (len < 4)
        return memcmp(p, &magic, len) == 0 ? FPMD_AGAIN : bad_magic(why);
    memcpy(&magic, p, 4);
    if (magic != FPMD_TASK_FRAME_MAGIC)
        return bad_magic(why);
    if (len < FPMD_TASK_FRAME_HEAD)
        return FPMD_AGAIN;
    memset(f, 0, sizeof(*f));
    f->kind = p[4];
    f->code = p[5];
    memcpy(&tl, p + 6, 2);
    memcpy(&f->sender, p + 8, 4);
    memcpy(&plen, p + 12, 4);
    memcpy(&f->id, p + 16, 8);
    if (f->kind != FPMD_TASK_FRAME_RUN && f->kind != FPMD_TASK_FRAME_RESULT) {
        *why = "unknown frame kind";
        return FPMD_ERROR;
    }
    if (f->kind == FPMD_TASK_FRAME_RUN
        ? (tl == 0 || tl > FPMD_TASK_NAME_MAX
           || (f->code & ~(unsigned) FPMD_TASK_NOREPLY) != 0)
        : (tl > FPMD_TASK_TEXT_MAX || f->code > FPMD_TASK_DIED)) {
        *why = f->kind == FPMD_TASK_FRAME_RUN ? "bad task name length or flags"
                                              : "bad result text or code";
        return FPMD_ERROR;
    }
    if (plen > max_payload) {
        *why = "payload over tasks.max_payload";
        return FPMD_ERROR;
    }
    if (len - FPMD_TASK_FRAME_HEAD < tl)
        return FPMD_AGAIN;
    f->text = (const char *) p + FPMD_TASK_FRAME_HEAD;
    f->text_len = tl;
    if (f->kind == FPMD_TASK_FRAME_RUN
        && !fpmd_task_name_valid(f->text, f->text_len)) {
        *why = "bad task name";
        return FPMD_ERROR;
    }
    if (len - FPMD_TASK_FRAME_HEAD - tl < plen)
        return FPMD_AGAIN;
    f->payload = p + FPMD_TASK_FRAME_HEAD + tl;
    f->len = plen;
    *used = FPMD_TASK_FRAME_HEAD + tl + plen;
    return FPMD_OK;
}

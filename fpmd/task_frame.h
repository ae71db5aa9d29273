/* SPDX-License-Identifier: BSD-2-Clause */
/* The task queue's frames (README "Tasks"): a run frame takes a task's
 * name and input from a worker to a task process, a result frame takes
 * its output (or an error text) back. One SOCK_SEQPACKET message carries
 * exactly one frame, so a frame is never read in pieces there; the
 * decoder still works on a prefix of a stream (FPMD_AGAIN until the frame
 * is complete) and checks every length against its bounds before it
 * looks past the head, since any process of the pool may write to the
 * queue. Integers are in the host's order: both ends are this host. */
#ifndef FPMD_TASK_FRAME_H
#define FPMD_TASK_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "fpmd/common.h"

#define FPMD_TASK_FRAME_MAGIC 0x6b736174u  /* "task" */
#define FPMD_TASK_FRAME_HEAD 24
/* A run frame's task name: 1 to 64 of [A-Za-z0-9_.-]. */
#define FPMD_TASK_NAME_MAX 64
/* A result frame's error text. */
#define FPMD_TASK_TEXT_MAX 255

enum fpmd_task_frame_kind {
    FPMD_TASK_FRAME_RUN = 1,
    FPMD_TASK_FRAME_RESULT = 2,
};

/* A run frame's code: flags. */
#define FPMD_TASK_NOREPLY 0x1       /* posted: nobody awaits the result */

/* A result frame's code. */
enum fpmd_task_result {
    FPMD_TASK_DONE = 0,         /* payload: the task's output */
    FPMD_TASK_FAILED = 1,       /* text: why */
    FPMD_TASK_UNKNOWN = 2,      /* no such task in the task process */
    FPMD_TASK_REFUSED = 3,      /* a frame the task process could not take */
    FPMD_TASK_DIED = 4,         /* its process died running it (from the
                                 * master) */
};

struct fpmd_task_frame {
    unsigned kind;              /* enum fpmd_task_frame_kind */
    unsigned code;              /* flags (run), enum fpmd_task_result */
    int32_t sender;             /* run: the pid awaiting the result */
    uint64_t id;                /* the sender's, echoed in the result */
    const char *text;           /* run: the name; result: an error text */
    size_t text_len;
    const void *payload;
    size_t len;
};

/* Writes f's head and text into out (FPMD_TASK_FRAME_HEAD +
 * FPMD_TASK_TEXT_MAX bytes at least): the payload follows them on the
 * wire, sent from where it is. Returns the bytes written. Longer texts
 * are cut (a result's) or refused with 0 (a run's name, which the sender
 * checked). */
size_t fpmd_task_frame_head(const struct fpmd_task_frame *f, uint8_t *out);

/* Decodes the frame at the start of buf[0..len): FPMD_OK with *f (its
 * pointers into buf) and *used its length; FPMD_AGAIN when buf holds only
 * a prefix of a valid frame; FPMD_ERROR when it cannot be one (a bad
 * magic, kind or name, a text longer than allowed, a payload over
 * max_payload), with the reason in *why. */
int fpmd_task_frame_parse(const void *buf, size_t len, size_t max_payload,
                          struct fpmd_task_frame *f, size_t *used,
                          const char **why);

/* true when name is a valid task name. */
bool fpmd_task_name_valid(const char *name, size_t len);

#endif

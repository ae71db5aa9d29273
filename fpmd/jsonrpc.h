/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON-RPC 2.0 (https://www.jsonrpc.org/specification) as a server sees
 * it, with no I/O: a message parsed into its calls, the answers collected
 * in call order and written out as the spec wants them (one object, an
 * array, or nothing when only notifications came), and the two framings
 * of the raw TCP listener. The HTTP handler and the TCP codec own the
 * sockets; everything here works on bytes they hand in. Whatever a peer
 * sends is bounded before it is kept: the frame by its framing's max, the
 * nesting by max_depth, a batch by max_batch. */
#ifndef FPMD_JSONRPC_H
#define FPMD_JSONRPC_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "fpmd/common.h"

/* The spec's error codes (§5.1). */
#define FPMD_JSONRPC_PARSE_ERROR      -32700
#define FPMD_JSONRPC_INVALID_REQUEST  -32600
#define FPMD_JSONRPC_METHOD_NOT_FOUND -32601
#define FPMD_JSONRPC_INVALID_PARAMS   -32602
#define FPMD_JSONRPC_INTERNAL_ERROR   -32603
/* -32000 to -32099 are the spec's "Server error" range, left to each
 * implementation. fpmd's own, so far: */
#define FPMD_JSONRPC_SERVER_BUSY      -32000  /* refused, nothing ran: the
                                               * call may be sent again */
#define FPMD_JSONRPC_TIMEOUT          -32001  /* ran out of time: it may
                                               * have had effects */

/* One element of a message. Its pointers are borrowed from the message's
 * root and live as long as the message does (json_object_get one to keep
 * it longer). */
struct fpmd_jsonrpc_call {
    /* NUL-terminated, but a "\u0000" in the text puts a NUL inside it:
     * compare method_len too. Names beginning "rpc." are the spec's
     * (§4), and fpmd defines none: they come through as any method, for
     * the dispatcher to answer FPMD_JSONRPC_METHOD_NOT_FOUND. NULL when
     * error is set. */
    const char *method;
    size_t method_len;
    struct json_object *params;     /* an array, an object or NULL (no
                                     * "params") */
    /* Echoed in the answer; NULL: null. A number with a fraction or an
     * exponent comes back as it was written (json-c keeps its text), an
     * integer as its value, which json-c holds in 64 bits: one past them
     * comes back clamped. A lone surrogate escaped in a string comes back
     * as U+FFFD. */
    struct json_object *id;
    bool notification;              /* a valid call with no "id": nobody
                                     * gets an answer, not even an error */
    int error;                      /* 0, or FPMD_JSONRPC_INVALID_REQUEST:
                                     * answered already by
                                     * fpmd_jsonrpc_out_new, not to be
                                     * dispatched */
    const char *why;                /* with error: which rule it broke, a
                                     * static text for the log */
};

struct fpmd_jsonrpc_msg {
    struct json_object *root;       /* the parsed text, owned; NULL when it
                                     * did not parse, or was a bare null */
    bool batch;                     /* an array: answered with an array */
    /* FPMD_JSONRPC_PARSE_ERROR or FPMD_JSONRPC_INVALID_REQUEST when the
     * message as a whole is refused (not JSON, nested deeper than allowed,
     * neither an object nor an array, an empty array, a batch over the
     * limit), with message the error's message; it is then answered with
     * that one error and id null, and has no calls. 0 otherwise. */
    int error;
    char message[80];
    size_t ncalls;
    struct fpmd_jsonrpc_call calls[];
};

/* Parses data[0..len) as one JSON text (RFC 8259, strictly: nothing but
 * whitespace after it, valid UTF-8 only, at most max_depth deep as
 * json_tokener_new_ex counts it: a value inside n arrays and objects is
 * n + 1 deep, so a batch of calls whose params hold numbers needs 4) and
 * splits it into calls, a batch of at most max_batch of them. Invalid calls are kept, with their error, in their
 * place: a batch is answered element for element. Returns the message,
 * freed with fpmd_jsonrpc_msg_free (which puts the root, so every
 * borrowed params and id with it), or NULL when memory is out. */
struct fpmd_jsonrpc_msg *fpmd_jsonrpc_parse(const char *data, size_t len,
                                            unsigned max_depth,
                                            size_t max_batch);

void fpmd_jsonrpc_msg_free(struct fpmd_jsonrpc_msg *msg);

/* The answers to one message. */
struct fpmd_jsonrpc_out;

/* Answers for msg, with the calls msg refused answered already; the ids
 * are referenced, so msg may be freed first. NULL when memory is out. */
struct fpmd_jsonrpc_out *fpmd_jsonrpc_out_new(
    const struct fpmd_jsonrpc_msg *msg);

/* msg->calls[i]'s answer: a result (NULL is JSON null) or an error
 * (message NULL: the name the spec or this header gives code, else
 * "Server error" within -32000..-32099 and "Error" outside it; data NULL:
 * no "data" member). Takes result and data in every case; the message is
 * copied. A notification's answer is dropped. Answering a call twice, a
 * call msg refused (error set) or one that is not there (i not below
 * msg->ncalls) fails an FPMD_ASSERT. FPMD_ERROR when memory is out, the
 * call left unanswered. */
int fpmd_jsonrpc_out_result(struct fpmd_jsonrpc_out *out, size_t i,
                            struct json_object *result);
int fpmd_jsonrpc_out_error(struct fpmd_jsonrpc_out *out, size_t i, int code,
                           const char *message, struct json_object *data);

/* The answers as one JSON text in *text, *len bytes (NUL-terminated; no
 * newline in it: escaped within strings, none between tokens), owned by
 * out and valid until it is freed: an object for a message that was not
 * a batch, an array of the answers in call order for one that was. A
 * call left unanswered answers FPMD_JSONRPC_INTERNAL_ERROR. FPMD_DECLINED
 * when there is nothing to send (only notifications: HTTP answers 204,
 * TCP nothing), FPMD_ERROR when memory is out. */
int fpmd_jsonrpc_out_text(struct fpmd_jsonrpc_out *out, const char **text,
                          size_t *len);

void fpmd_jsonrpc_out_free(struct fpmd_jsonrpc_out *out);

/* The raw TCP listener's framings, one per listener. */
enum fpmd_jsonrpc_framing {
    /* One JSON text per line, ended by "\n" or "\r\n"; empty lines are
     * skipped. */
    FPMD_JSONRPC_LINES = 1,
    /* Netstrings (cr.yp.to/proto/netstrings.txt): the text's length in
     * decimal without leading zeros, ':', the text, ','. Nothing between
     * two of them. "0:," is an empty text, not skipped: it answers
     * FPMD_JSONRPC_PARSE_ERROR. */
    FPMD_JSONRPC_NETSTRING = 2,
};

/* A netstring's head for a 64-bit length: 20 digits and ':'. */
#define FPMD_JSONRPC_HEAD_MAX 21

/* Decodes the frame at the start of buf[0..len), a text of at most max
 * bytes (a line's without its "\r\n"): FPMD_OK with the text in
 * *frame[0..*frame_len) (pointing into buf) and *used the bytes up to and
 * with its end; FPMD_AGAIN when buf holds only the start of a valid frame;
 * FPMD_ERROR when it cannot be one (a line over max, a bad netstring
 * head, a length over max, no ',' after the text), with the reason in
 * *why, and the stream cannot be resynchronised: close it. *used is set
 * with FPMD_AGAIN too: the empty lines taken already, which the caller
 * drops so that a peer sending nothing else cannot fill its buffer. So
 * what a caller holds while it waits is at most max + 1 bytes of a line
 * (the text and a '\r'), FPMD_JSONRPC_HEAD_MAX + max of a
 * netstring. */
int fpmd_jsonrpc_frame_parse(enum fpmd_jsonrpc_framing framing,
                             const void *buf, size_t len, size_t max,
                             const char **frame, size_t *frame_len,
                             size_t *used, const char **why);

/* What goes before a len-byte text on the wire, written into head
 * (FPMD_JSONRPC_HEAD_MAX bytes at least): its length (nothing for a
 * line, a netstring's "len:"). The text follows, sent from where it is,
 * then fpmd_jsonrpc_frame_tail. A line can carry only a non-empty text
 * without "\n" that does not end in "\r", as fpmd_jsonrpc_out_text
 * writes them. */
size_t fpmd_jsonrpc_frame_head(enum fpmd_jsonrpc_framing framing, size_t len,
                               char *head);

/* The byte after a text: '\n' or ','. */
char fpmd_jsonrpc_frame_tail(enum fpmd_jsonrpc_framing framing);

#endif

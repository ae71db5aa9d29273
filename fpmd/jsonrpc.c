/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON-RPC 2.0 messages, answers and framings (jsonrpc.h). A message
 * keeps its parsed root and lends pieces of it to its calls; the answers
 * hold references of their own, so each side frees on its own schedule.
 * Every call of a message has exactly one slot in its answers, in call
 * order, answered at most once. */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fpmd/jsonrpc.h"

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The bytes of the UTF-8 sequence at p, 0 when there is none: Unicode's
 * table 3-7, so no overlong form, no surrogate, nothing past U+10FFFF. */
static size_t
utf8_len(const unsigned char *p, size_t len)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = c == 0xe0 ? 0xa0 : lo;
        hi = c == 0xed ? 0x9f : hi;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = c == 0xf0 ? 0x90 : lo;
        hi = c == 0xf4 ? 0x8f : hi;
    } else {
        return 0;
    }
    if (len < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    }
    return n;
}

/* The string at p[0] == '"' with its quotes, 0 when it is not one. */
static size_t
string_len(const unsigned char *p, size_t len)
{
    size_t i = 1, n;

    while (i < len) {
        if (p[i] == '"')
            return i + 1;
        if (p[i] < 0x20)
            return 0;
        if (p[i] == '\\') {
            i += 2;         /* json-c checks the escape itself */
            continue;
        }
        n = utf8_len(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return 0;
}

static size_t
digits_len(const char *p, size_t len)
{
    size_t i = 0;

    while (i < len && is_digit(p[i]))
        i++;
    return i;
}

/* The number at p (RFC 8259 §6), 0 when there is none. */
static size_t
number_len(const char *p, size_t len)
{
    size_t i = 0, n;

    if (p[0] == '-')
        i++;
    if (i < len && p[i] == '0')
        i++;
    else if (i < len && p[i] >= '1' && p[i] <= '9')
        i += digits_len(p + i, len - i);
    else
        return 0;
    if (i < len && p[i] == '.') {
        n = digits_len(p + i + 1, len - i - 1);
        if (n == 0)
            return 0;
        i += 1 + n;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        n = digits_len(p + i, len - i);
        if (n == 0)
            return 0;
        i += n;
    }
    return i;
}

static size_t
literal_len(const char *p, size_t len)
{
    static const char *const words[] = { "true", "false", "null" };

    for (size_t i = 0; i < FPMD_ARRAY_LEN(words); i++) {
        size_t n = strlen(words[i]);

        if (len >= n && memcmp(p, words[i], n) == 0)
            return n;
    }
    return 0;
}

/* Only what RFC 8259 calls JSON goes to json-c: its strict mode (0.16)
 * still takes NaN, Infinity, "00.5", "1.e2", "-.5", single-quoted member
 * names, control characters raw in strings or between tokens, overlong
 * and surrogate UTF-8, and it stops at a NUL byte as if the text ended
 * there. The tokens are checked here (§2, §3, §6, §7, §8.1), their order
 * is json-c's to check. */
static bool
tokens_json(const char *text, size_t len)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t i = 0, n;

    while (i < len) {
        unsigned char c = p[i];

        if (memchr(" \t\n\r,:[]{}", c, 10) != NULL) {
            i++;
            continue;
        }
        if (c == '"') {
            n = string_len(p + i, len - i);
        } else {
            n = c == '-' || is_digit((char) c)
                ? number_len(text + i, len - i)
                : literal_len(text + i, len - i);
            /* it must end there: json-c would read "00.5", which is two
             * numbers to this scan, as one */
            if (n > 0 && i + n < len
                && memchr(" \t\n\r,]}", p[i + n], 7) == NULL)
                n = 0;
        }
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

enum text_status {
    TEXT_JSON,
    TEXT_BAD,
    TEXT_DEEP,
    TEXT_NOMEM,
};

/* data as one JSON value in *root (NULL for a bare null) with TEXT_JSON,
 * as fpmd_json_parse does it but telling a nesting too deep from bad
 * JSON, and taking a bare scalar: a message's own error says which. */
static enum text_status
parse_text(const char *data, size_t len, unsigned max_depth,
           struct json_object **root)
{
    struct json_tokener *tok;
    enum json_tokener_error err;

    *root = NULL;
    if (len > INT32_MAX || !tokens_json(data, len))
        return TEXT_BAD;
    tok = json_tokener_new_ex(max_depth > INT_MAX ? INT_MAX : (int) max_depth);
    if (tok == NULL)
        return TEXT_NOMEM;
    /* strict: nothing but whitespace after the value (json-c would stop
     * at a NUL, but tokens_json let none through) */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    *root = json_tokener_parse_ex(tok, data, (int) len);
    err = json_tokener_get_error(tok);
    if (err == json_tokener_continue) {
        /* json-c takes a number or literal at the very end as whole only
         * once it has seen the byte after it */
        *root = json_tokener_parse_ex(tok, " ", 1);
        err = json_tokener_get_error(tok);
    }
    json_tokener_free(tok);
    if (err == json_tokener_success)
        return TEXT_JSON;
    return err == json_tokener_error_depth ? TEXT_DEEP : TEXT_BAD;
}

/* The Request object's rules, spec §4: NULL when o keeps them all, else
 * the one it broke. The id first: a call refused for any other rule is
 * answered with the id it was sent with, as the spec wants null only
 * when the id itself could not be told (§5). */
static const char *
check_call(struct json_object *o, struct fpmd_jsonrpc_call *c)
{
    struct json_object *v;
    bool has_id;

    if (!json_object_is_type(o, json_type_object))
        return "not an object";
    has_id = json_object_object_get_ex(o, "id", &v);
    if (has_id) {
        switch (json_object_get_type(v)) {
        case json_type_null:
        case json_type_string:
        case json_type_int:
        case json_type_double:
            c->id = v;
            break;
        default:
            return "\"id\" is neither a string, a number nor null";
        }
    }
    if (!json_object_object_get_ex(o, "jsonrpc", &v)
        || !json_object_is_type(v, json_type_string)
        || json_object_get_string_len(v) != 3
        || memcmp(json_object_get_string(v), "2.0", 3) != 0)
        return "\"jsonrpc\" is not \"2.0\"";
    if (!json_object_object_get_ex(o, "method", &v)
        || !json_object_is_type(v, json_type_string))
        return "\"method\" is not a string";
    c->method = json_object_get_string(v);
    c->method_len = (size_t) json_object_get_string_len(v);
    /* an omitted "params" is the only way to send none: null is not a
     * Structured value (§4.2) */
    if (!json_object_object_get_ex(o, "params", &v))
        v = NULL;
    else if (!json_object_is_type(v, json_type_array)
             && !json_object_is_type(v, json_type_object))
        return "\"params\" is neither an array nor an object";
    c->params = v;
    c->notification = !has_id;
    return NULL;
}

/* c from o, in place in its message. A refused call is answered even
 * without an id: only a valid Request object is a notification (§7's
 * "rpc call with invalid Request object" has no id and gets an
 * answer). */
static void
take_call(struct json_object *o, struct fpmd_jsonrpc_call *c)
{
    const char *why = check_call(o, c);

    c->why = "";
    if (why != NULL) {
        c->method = NULL;
        c->method_len = 0;
        c->params = NULL;
        c->notification = false;
        c->error = FPMD_JSONRPC_INVALID_REQUEST;
        c->why = why;
    }
}

static void
refuse(struct fpmd_jsonrpc_msg *msg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
refuse(struct fpmd_jsonrpc_msg *msg, int code, const char *fmt, ...)
{
    va_list ap;

    msg->error = code;
    va_start(ap, fmt);
    vsnprintf(msg->message, sizeof(msg->message), fmt, ap);
    va_end(ap);
}

struct fpmd_jsonrpc_msg *
fpmd_jsonrpc_parse(const char *data, size_t len, unsigned max_depth,
                   size_t max_batch)
{
    struct fpmd_jsonrpc_msg *msg;
    struct json_object *root;
    enum text_status st = parse_text(data, len, max_depth, &root);
    bool batch = st == TEXT_JSON && json_object_is_type(root, json_type_array);
    bool single = st == TEXT_JSON
                  && json_object_is_type(root, json_type_object);
    size_t n = batch ? json_object_array_length(root) : single ? 1 : 0;
    size_t ncalls = n <= max_batch || single ? n : 0;

    if (st == TEXT_NOMEM)
        return NULL;
    /* n is bounded by len, so the size cannot wrap */
    msg = calloc(1, sizeof(*msg) + ncalls * sizeof(msg->calls[0]));
    if (msg == NULL) {
        json_object_put(root);
        return NULL;
    }
    msg->root = root;
    if (st == TEXT_BAD) {
        refuse(msg, FPMD_JSONRPC_PARSE_ERROR, "Parse error");
    } else if (st == TEXT_DEEP) {
        refuse(msg, FPMD_JSONRPC_PARSE_ERROR,
               "Parse error: nested deeper than %u", max_depth);
    } else if (n == 0) {
        /* a scalar, null or [] (§6: an empty array is one Invalid
         * Request, not an empty answer) */
        refuse(msg, FPMD_JSONRPC_INVALID_REQUEST, "Invalid Request");
    } else if (ncalls == 0) {
        refuse(msg, FPMD_JSONRPC_INVALID_REQUEST,
               "Invalid Request: a batch of more than %zu calls",
               max_batch);
    } else if (single) {
        msg->ncalls = 1;
        take_call(root, &msg->calls[0]);
    } else {
        msg->batch = true;
        msg->ncalls = ncalls;
        for (size_t i = 0; i < ncalls; i++)
            take_call(json_object_array_get_idx(root, i), &msg->calls[i]);
    }
    return msg;
}

void
fpmd_jsonrpc_msg_free(struct fpmd_jsonrpc_msg *msg)
{
    if (msg == NULL)
        return;
    json_object_put(msg->root);
    free(msg);
}

struct slot {
    struct json_object *id;         /* referenced */
    struct json_object *answer;     /* the Response object; stays NULL for
                                     * a notification */
    bool notification;
    bool answered;
};

struct fpmd_jsonrpc_out {
    bool batch;
    size_t nslots;
    struct json_object *wire;       /* what out_text wrote last */
    struct slot slots[];
};

/* json-c's object_add leaves val with the caller when it fails; here it is
 * taken either way, so that a sequence of adds needs no bookkeeping. */
static int
add(struct json_object *o, const char *key, struct json_object *val)
{
    if (json_object_object_add(o, key, val) != 0) {
        json_object_put(val);
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

static const char *
code_message(int code)
{
    switch (code) {
    case FPMD_JSONRPC_PARSE_ERROR:
        return "Parse error";
    case FPMD_JSONRPC_INVALID_REQUEST:
        return "Invalid Request";
    case FPMD_JSONRPC_METHOD_NOT_FOUND:
        return "Method not found";
    case FPMD_JSONRPC_INVALID_PARAMS:
        return "Invalid params";
    case FPMD_JSONRPC_INTERNAL_ERROR:
        return "Internal error";
    case FPMD_JSONRPC_SERVER_BUSY:
        return "Server busy";
    case FPMD_JSONRPC_TIMEOUT:
        return "Timeout";
    default:
        return code >= -32099 && code <= -32000 ? "Server error" : "Error";
    }
}

/* The Error object (§5.1); takes data. */
static struct json_object *
error_new(int code, const char *message, struct json_object *data)
{
    struct json_object *e = json_object_new_object();
    struct json_object *c = json_object_new_int(code);
    struct json_object *m = json_object_new_string(
        message != NULL ? message : code_message(code));
    int rc = FPMD_OK;

    if (e == NULL || c == NULL || m == NULL) {
        json_object_put(e);
        json_object_put(c);
        json_object_put(m);
        json_object_put(data);
        return NULL;
    }
    rc |= add(e, "code", c);
    rc |= add(e, "message", m);
    if (data != NULL)
        rc |= add(e, "data", data);
    if (rc != FPMD_OK) {
        json_object_put(e);
        return NULL;
    }
    return e;
}

/* The Response object (§5), members in the spec's order; takes value. */
static struct json_object *
response_new(struct json_object *id, const char *member,
             struct json_object *value)
{
    struct json_object *r = json_object_new_object();
    struct json_object *version = json_object_new_string("2.0");
    int rc = FPMD_OK;

    if (r == NULL || version == NULL) {
        json_object_put(r);
        json_object_put(version);
        json_object_put(value);
        return NULL;
    }
    rc |= add(r, "jsonrpc", version);
    rc |= add(r, member, value);
    rc |= add(r, "id", json_object_get(id));
    if (rc != FPMD_OK) {
        json_object_put(r);
        return NULL;
    }
    return r;
}

static struct slot *
open_slot(struct fpmd_jsonrpc_out *out, size_t i)
{
    FPMD_ASSERT(i < out->nslots && !out->slots[i].answered);
    return &out->slots[i];
}

/* Takes value. */
static int
settle(struct slot *s, const char *member, struct json_object *value)
{
    /* §4.1: not even an error goes back for a notification */
    if (s->notification) {
        json_object_put(value);
        s->answered = true;
        return FPMD_OK;
    }
    s->answer = response_new(s->id, member, value);
    if (s->answer == NULL)
        return FPMD_ERROR;
    s->answered = true;
    return FPMD_OK;
}

static int
settle_error(struct slot *s, int code, const char *message,
             struct json_object *data)
{
    struct json_object *e = error_new(code, message, data);

    return e != NULL ? settle(s, "error", e) : FPMD_ERROR;
}

struct fpmd_jsonrpc_out *
fpmd_jsonrpc_out_new(const struct fpmd_jsonrpc_msg *msg)
{
    /* a message refused as a whole has one answer and no call */
    size_t n = msg->error != 0 ? 1 : msg->ncalls;
    struct fpmd_jsonrpc_out *out = calloc(1, sizeof(*out)
                                             + n * sizeof(out->slots[0]));

    if (out == NULL)
        return NULL;
    out->batch = msg->batch;
    out->nslots = n;
    if (msg->error != 0) {
        if (settle_error(&out->slots[0], msg->error, msg->message, NULL)
            != FPMD_OK) {
            fpmd_jsonrpc_out_free(out);
            return NULL;
        }
        return out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct fpmd_jsonrpc_call *c = &msg->calls[i];
        struct slot *s = &out->slots[i];

        s->id = json_object_get(c->id);
        s->notification = c->notification;
        if (c->error != 0
            && settle_error(s, c->error, NULL, NULL) != FPMD_OK) {
            fpmd_jsonrpc_out_free(out);
            return NULL;
        }
    }
    return out;
}

int
fpmd_jsonrpc_out_result(struct fpmd_jsonrpc_out *out, size_t i,
                        struct json_object *result)
{
    return settle(open_slot(out, i), "result", result);
}

int
fpmd_jsonrpc_out_error(struct fpmd_jsonrpc_out *out, size_t i, int code,
                       const char *message, struct json_object *data)
{
    return settle_error(open_slot(out, i), code, message, data);
}

int
fpmd_jsonrpc_out_text(struct fpmd_jsonrpc_out *out, const char **text,
                      size_t *len)
{
    struct json_object *wire;
    size_t sent = 0;

    for (size_t i = 0; i < out->nslots; i++) {
        struct slot *s = &out->slots[i];

        if (s->notification)
            continue;
        /* a caller that lost a call still owes its client an answer */
        if (!s->answered
            && settle_error(s, FPMD_JSONRPC_INTERNAL_ERROR, NULL, NULL)
               != FPMD_OK)
            return FPMD_ERROR;
        sent++;
    }
    if (sent == 0)
        return FPMD_DECLINED;
    if (!out->batch) {
        wire = json_object_get(out->slots[0].answer);
    } else {
        wire = json_object_new_array_ext((int) sent);
        if (wire == NULL)
            return FPMD_ERROR;
        for (size_t i = 0; i < out->nslots; i++) {
            struct json_object *a = out->slots[i].answer;

            if (a != NULL && json_object_array_add(wire, json_object_get(a))
                             != 0) {
                json_object_put(a);
                json_object_put(wire);
                return FPMD_ERROR;
            }
        }
    }
    json_object_put(out->wire);
    out->wire = wire;
    *text = json_object_to_json_string_length(
        wire, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, len);
    return *text != NULL ? FPMD_OK : FPMD_ERROR;
}

void
fpmd_jsonrpc_out_free(struct fpmd_jsonrpc_out *out)
{
    if (out == NULL)
        return;
    for (size_t i = 0; i < out->nslots; i++) {
        json_object_put(out->slots[i].id);
        json_object_put(out->slots[i].answer);
    }
    json_object_put(out->wire);
    free(out);
}

static int
frame_error(const char **why, const char *text)
{
    *why = text;
    return FPMD_ERROR;
}

static int
parse_line(const char *p, size_t len, size_t max, const char **frame,
           size_t *frame_len, size_t *used, const char **why)
{
    size_t start = 0;

    for (;;) {
        size_t rest = len - start, look, n;
        const char *nl;

        /* a line of max bytes ends at the latest after "\r\n": nothing
         * past that needs looking at to know this one is too long */
        look = rest > max && rest - max > 2 ? max + 2 : rest;
        nl = memchr(p + start, '\n', look);
        *used = start;
        if (nl == NULL) {
            if (rest <= max || (rest - max == 1 && p[start + max] == '\r'))
                return FPMD_AGAIN;
            return frame_error(why, "line longer than the limit");
        }
        n = (size_t) (nl - (p + start));
        if (n > 0 && p[start + n - 1] == '\r')
            n--;
        if (n > max)
            return frame_error(why, "line longer than the limit");
        if (n > 0) {
            *frame = p + start;
            *frame_len = n;
            *used = (size_t) (nl - p) + 1;
            return FPMD_OK;
        }
        start = (size_t) (nl - p) + 1;
    }
}

static int
parse_netstring(const char *p, size_t len, size_t max, const char **frame,
                size_t *frame_len, size_t *used, const char **why)
{
    size_t n = 0, i;

    /* the head is judged digit by digit, so that a peer cannot make the
     * caller wait on a length it would refuse */
    for (i = 0; i < len && is_digit(p[i]); i++) {
        size_t d = (size_t) (p[i] - '0');

        if (i == 1 && p[0] == '0')
            return frame_error(why, "netstring length with a leading zero");
        if (d > max || n > (max - d) / 10)
            return frame_error(why, "netstring length over the limit");
        n = n * 10 + d;
    }
    if (i == len)
        return FPMD_AGAIN;
    if (i == 0)
        return frame_error(why, "netstring not starting with its length");
    if (p[i] != ':')
        return frame_error(why, "no ':' after the netstring length");
    if (len - i - 1 <= n)
        return FPMD_AGAIN;
    if (p[i + 1 + n] != ',')
        return frame_error(why, "no ',' after the netstring");
    *frame = p + i + 1;
    *frame_len = n;
    *used = i + n + 2;
    return FPMD_OK;
}

int
fpmd_jsonrpc_frame_parse(enum fpmd_jsonrpc_framing framing, const void *buf,
                         size_t len, size_t max, const char **frame,
                         size_t *frame_len, size_t *used, const char **why)
{
    *why = "";
    *used = 0;
    if (framing == FPMD_JSONRPC_LINES)
        return parse_line(buf, len, max, frame, frame_len, used, why);
    return parse_netstring(buf, len, max, frame, frame_len, used, why);
}

size_t
fpmd_jsonrpc_frame_head(enum fpmd_jsonrpc_framing framing, size_t len,
                        char *head)
{
    char digits[FPMD_JSONRPC_HEAD_MAX - 1];
    size_t n = 0;

    if (framing == FPMD_JSONRPC_LINES)
        return 0;
    do {
        digits[n++] = (char) ('0' + len % 10);
        len /= 10;
    } while (len > 0);
    for (size_t i = 0; i < n; i++)
        head[i] = digits[n - 1 - i];
    head[n] = ':';
    return n + 1;
}

char
fpmd_jsonrpc_frame_tail(enum fpmd_jsonrpc_framing framing)
{
    return framing == FPMD_JSONRPC_LINES ? '\n' : ',';
}

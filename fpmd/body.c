/* SPDX-License-Identifier: BSD-2-Clause */
/* Request bodies read whole and parsed on demand: urlencoded forms and
 * JSON. Each parse happens once per request and is bounded by the limits
 * in the config, so a handler calling them costs what it asks for and a
 * client cannot make a worker hold more than limits.parsed_body for it. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <json-c/json.h>

#include "fpmd/req.h"
#include "fpmd/process.h"
#include "fpmd/clock.h"

/* What to answer when the arena refused: the request's own cap makes
 * the body too large for this server (413). Never 0: the caller has a
 * refusal in hand. */
static int
refused_status(struct fpmd_req *req)
{
    int status;

    fpmd_req_memory_refused(req);
    status = fpmd_req_refused_status(req, 413);
    return status != 0 ? status : 500;
}

/* A body of unknown length (chunked) is gathered in an evbuffer, charged
 * to the arena as it grows, and copied once into the arena at its end:
 * growing one arena block by doubling would keep every smaller copy until
 * the request ends. */
static int
read_unsized(struct fpmd_req *req, size_t max, char **out, size_t *len)
{
    struct evbuffer *acc = evbuffer_new();
    size_t used = 0, charged = 0;
    char chunk[16384];
    int status = 0;
    ssize_t n;

    if (acc == NULL)
        return 500;
    while ((n = fpmd_req_body_read(req, chunk, sizeof(chunk))) > 0) {
        if ((size_t) n > max - used) {
            status = 413;
            break;
        }
        if (fpmd_arena_charge(&req->arena, n) != FPMD_OK) {
            status = refused_status(req);
            break;
        }
        charged += (size_t) n;
        if (evbuffer_add(acc, chunk, (size_t) n) != 0) {
            status = 500;
            break;
        }
        used += (size_t) n;
    }
    if (status == 0 && n < 0)
        status = req->body_too_large ? 413 : 400;
    fpmd_arena_charge(&req->arena, -(ptrdiff_t) charged);
    if (status == 0) {
        if ((*out = fpmd_alloc(req, used + 1)) == NULL)
            status = refused_status(req);
        else
            evbuffer_remove(acc, *out, used);
    }
    evbuffer_free(acc);
    *len = used;
    return status;
}

int
fpmd_req_body_whole(struct fpmd_req *req, size_t max, const char **data,
                    size_t *len, int *status)
{
    size_t used = 0;
    char *buf;

    if (req->body_done)
        goto out;
    req->body_done = 1;
    if (req->content_length < 0) {
        req->body_status = read_unsized(req, max, &buf, &used);
        if (req->body_status != 0)
            goto out;
    } else {
        char probe;
        ssize_t n;

        if ((uint64_t) req->content_length > max) {
            req->body_status = 413;
            goto out;
        }
        buf = fpmd_alloc(req, (size_t) req->content_length + 1);
        if (buf == NULL) {
            req->body_status = refused_status(req);
            goto out;
        }
        while (used < (size_t) req->content_length
               && (n = fpmd_req_body_read(req, buf + used,
                                          (size_t) req->content_length
                                              - used)) > 0)
            used += (size_t) n;
        /* One byte past the length means the stream lied. */
        n = fpmd_req_body_read(req, &probe, 1);
        if (used < (size_t) req->content_length || n != 0) {
            req->body_status = n > 0 || req->body_too_large ? 413 : 400;
            goto out;
        }
    }
    buf[used] = '\0';
    req->body_data = buf;
    req->body_len = used;
    req->body_status = 200;
out:
    *data = req->body_status == 200 ? req->body_data : NULL;
    *len = req->body_status == 200 ? req->body_len : 0;
    *status = req->body_status;
    return req->body_status == 200 ? FPMD_OK : FPMD_ERROR;
}

/* 1 when the Content-Type's media type is type (parameters ignored). */
static bool
content_type_is(struct fpmd_req *req, const char *type)
{
    const char *ct = fpmd_req_header(req, "Content-Type");
    size_t len = strlen(type);

    if (ct == NULL)
        return false;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, type, len) == 0
        && (ct[len] == '\0' || ct[len] == ';' || ct[len] == ' ');
}

/* form_status: 200 once parsed, else what to answer. */
static int
parse_form(struct fpmd_req *req)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    const char *data;
    size_t len;
    int rc;

    if (!content_type_is(req, "application/x-www-form-urlencoded"))
        return 415;
    if (fpmd_req_body_whole(req, conf->limits.parsed_body, &data, &len,
                            &rc) != FPMD_OK)
        return rc;
    rc = fpmd_req_parse_pairs(req, data, len, conf->limits.form_fields,
                              &req->form, &req->nform);
    if (rc != FPMD_OK) {
        req->nform = 0;
        return rc == FPMD_AGAIN ? 413 : 500;
    }
    return 200;
}

int
fpmd_req_form_parse(struct fpmd_req *req, int *status)
{
    if (!req->form_done) {
        req->form_done = 1;
        req->form_status = parse_form(req);
    }
    *status = req->form_status;
    return req->form_status == 200 ? FPMD_OK : FPMD_ERROR;
}

const char *
fpmd_req_form(struct fpmd_req *req, const char *name)
{
    int status;

    if (fpmd_req_form_parse(req, &status) != FPMD_OK)
        return NULL;
    for (size_t i = 0; i < req->nform; i++) {
        if (strcmp(req->form[i].name, name) == 0)
            return req->form[i].value;
    }
    return NULL;
}

size_t
fpmd_req_nform(struct fpmd_req *req)
{
    int status;

    return fpmd_req_form_parse(req, &status) == FPMD_OK ? req->nform : 0;
}

int
fpmd_req_form_at(struct fpmd_req *req, size_t i, const char **name,
                 const char **value)
{
    if (i >= fpmd_req_nform(req))
        return FPMD_ERROR;
    *name = req->form[i].name;
    *value = req->form[i].value;
    return FPMD_OK;
}

static bool
only_space(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return false;
    }
    return true;
}

static void
json_put(void *obj)
{
    json_object_put(obj);
}

struct json_object *
fpmd_json_parse(const char *data, size_t len, unsigned depth)
{
    struct json_tokener *tok;
    struct json_object *obj;

    if (len > INT32_MAX || (tok = json_tokener_new_ex((int) depth)) == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    obj = json_tokener_parse_ex(tok, data, (int) len);
    /* A top-level null is refused with the rest: handlers expect a value
     * they can walk. Bytes after the value must be whitespace. */
    if (obj != NULL && (json_tokener_get_error(tok) != json_tokener_success
                        || !only_space(data + json_tokener_get_parse_end(tok),
                                       len - json_tokener_get_parse_end(tok)))) {
        json_object_put(obj);
        obj = NULL;
    }
    json_tokener_free(tok);
    return obj;
}

struct json_object *
fpmd_req_json_keep(struct fpmd_req *req, struct json_object *obj)
{
    if (obj != NULL && fpmd_defer(req, json_put, obj) != FPMD_OK) {
        json_object_put(obj);
        return NULL;
    }
    return obj;
}

struct json_object *
fpmd_req_json(struct fpmd_req *req, int *status)
{
    const struct fpmd_conf *conf = fpmd_process.conf;
    struct json_object *obj;
    const char *data;
    size_t len;
    int rc;

    if (req->json_done) {
        *status = req->json_status;
        return req->json;
    }
    req->json_done = 1;
    if (!content_type_is(req, "application/json")) {
        *status = req->json_status = 415;
        return NULL;
    }
    if (fpmd_req_body_whole(req, conf->limits.parsed_body, &data, &len,
                            &rc) != FPMD_OK) {
        *status = req->json_status = rc;
        return NULL;
    }
    req->json_status = 400;
    obj = fpmd_req_json_keep(req, fpmd_json_parse(data, len,
                                                  conf->limits.json_depth));
    if (obj == NULL) {
        *status = req->json_status;
        return NULL;
    }
    req->json = obj;
    *status = req->json_status = FPMD_OK;
    return obj;
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* The inside of struct fpmd_req, shared by the worker and the codecs. A
 * request belongs to its connection's codec until it is started; from then
 * on the worker drives its coroutine, and the codec only feeds it body bytes
 * and carries its output. fpmd_req_free() is the one place it ends. */
#ifndef FPMD_REQ_H
#define FPMD_REQ_H

#include <event2/event.h>
#include <event2/event_struct.h>

#include "fpmd/arena.h"
#include "fpmd/coro.h"
#include "fpmd/fpmd.h"
#include "fpmd/router.h"

struct evbuffer;

struct fpmd_param {
    const char *name;
    const char *value;
};

struct fpmd_resp_header {
    struct fpmd_resp_header *next;
    const char *name;
    const char *value;
};

/* What a codec does with a request's output. */
struct fpmd_req_ops {
    /* Appends the head (req->status, req->headers) and, when blen > 0,
     * the first body bytes. FPMD_ERROR when the connection is gone. */
    int (*write_head)(struct fpmd_req *req, const void *body, size_t blen);
    /* Appends body bytes (blen > 0). */
    int (*write_body)(struct fpmd_req *req, const void *body, size_t blen);
    /* The response is complete: terminate it on the wire. */
    void (*finish)(struct fpmd_req *req);
    /* The worker is done with req: unlink and free it. */
    void (*release)(struct fpmd_req *req);
    /* 1 while the connection's output is above its high-water mark. */
    bool (*congested)(struct fpmd_req *req);
    /* Lets more body bytes flow after the handler consumed some. */
    void (*body_consumed)(struct fpmd_req *req);
    /* Optional: queues len bytes of fd (which it takes) after the head
     * without copying them; NULL when the codec must frame them. */
    int (*write_file)(struct fpmd_req *req, int fd, off_t offset, off_t len);
    /* Optional: appends len > 0 bytes of the answer's error stream
     * (FastCGI STDERR), before or after the head; NULL when the protocol
     * has none. FPMD_ERROR when the connection is gone. */
    int (*write_stderr)(struct fpmd_req *req, const void *data, size_t len);
};

struct fpmd_defer;

struct fpmd_kv {
    struct fpmd_kv *next;
    const char *key;
    void *value;
};

enum fpmd_req_wait {
    FPMD_WAIT_NONE = 0,
    FPMD_WAIT_SLEEP,
    FPMD_WAIT_BODY,
    FPMD_WAIT_DRAIN,
    FPMD_WAIT_EXTERNAL,             /* fpmd_req_suspend */
};

/* Writes what arg (an outbound call) is into buf, terminated, at most
 * len - 1 bytes, unescaped: "redis pool cache, server 127.0.0.1:6379,
 * GET user:42". */
typedef void (*fpmd_req_waiting_fn)(const void *arg, char *buf, size_t len);

struct fpmd_req {
    const struct fpmd_req_ops *ops;
    void *conn;                     /* the codec's connection */
    struct fpmd_req *next;          /* in the connection's list */
    struct fpmd_req *queue_next;    /* waiting for a max_concurrency slot */
    /* In flight, oldest first (sched.c): the scoreboard lists the oldest
     * and shows the first in php-fpm's row. */
    struct fpmd_req *flight_prev, *flight_next;
    uint8_t flight_entry;           /* its scoreboard entry + 1; 0: none */
    uint16_t id;                    /* FastCGI request id */
    unsigned keep_conn:1;
    unsigned started:1;             /* handler coroutine created */
    unsigned head_sent:1;
    unsigned finished:1;            /* response terminated */
    unsigned cut_short:1;           /* the handler failed after the head */
    unsigned aborted:1;
    unsigned client_gone:1;         /* its connection closed first */
    unsigned body_eof:1;
    unsigned body_too_large:1;
    unsigned memory_refused:1;      /* its arena refused: logged once */
    unsigned memory_full:1;         /* ...because the worker's requests
                                     * hold limits.requests_memory: 503 */
    unsigned terminated:1;          /* request_terminate_timeout fired */
    unsigned is_head:1;
    unsigned whole:1;               /* fpmd_reply: the first write is all */
    unsigned body_done:1;           /* fpmd_req_body_whole ran */
    unsigned form_done:1;
    unsigned json_done:1;
    unsigned served_legacy:1;       /* answered by a legacy backend */
    unsigned route_counted:1;       /* in its route's in_flight (its
                                     * concurrency: bound) */
    unsigned background:1;          /* no client: fpmd_req_new_background */
    unsigned capture_over:1;        /* more than capture_max went by */
    unsigned request_id_done:1;     /* request_id is what it will be */

    struct fpmd_arena arena;
    struct fpmd_defer *defers;
    struct fpmd_kv *kv;             /* fpmd_req_set */

    /* request */
    struct fpmd_param *params;
    size_t nparams, params_cap;     /* params_cap: room in params */
    const char *method, *path, *uri, *query, *remote_addr;
    const char *script, *path_info; /* fpmd_req_split; NULL until then */
    const char *request_id;         /* fpmd_worker_request_id; NULL: not
                                     * asked yet, or ids are off */
    struct fpmd_req_trace *trace;   /* request_id.c; NULL: not asked yet */
    int64_t content_length;
    struct evbuffer *params_raw;    /* FastCGI PARAMS stream until it ends */
    struct evbuffer *body;          /* received, not yet read by handler */
    uint64_t body_received;
    struct fpmd_param *query_args;  /* parsed on first use */
    size_t nquery_args;
    bool query_parsed;
    const char *body_data;          /* fpmd_req_body_whole */
    size_t body_len;
    int body_status;                /* once body_done: 200, 400, 413 */
    struct fpmd_param *form;        /* fpmd_req_form */
    size_t nform;
    int form_status;                /* once form_done: 200, 4xx, 500 */
    struct json_object *json;       /* fpmd_req_json */
    int json_status;

    /* routing */
    struct fpmd_route_match match;
    int route_status;               /* 200, 404, 405, or a codec's error */

    /* response */
    int status;
    struct fpmd_resp_header *headers, **headers_tail;
    uint64_t bytes_sent;
    /* fpmd_resp_cgi_head: the head as a CGI backend sent it, and how many
     * of headers were set before it; NULL: none. */
    const char *cgi_head;
    size_t cgi_head_len;
    size_t cgi_head_after;

    /* A copy of the body read and the answer written, for shadow
     * comparison (fpmd_req_capture); NULL: none. */
    struct evbuffer *capture_in, *capture_out;
    size_t capture_max;
    fpmd_handler_fn background_fn;  /* what a background request runs */

    /* execution */
    struct fpmd_coro *co;
    enum fpmd_req_wait wait;
    struct event wake_ev;           /* sleep timer and wakeups */
    struct event term_ev;           /* request_terminate_timeout */
    struct event slow_ev;           /* request_slowlog_timeout */
    bool wake_armed, term_armed, slow_armed;
    uint64_t start_us;
    uint64_t queued_ns;             /* when it began waiting for a slot */
    uint64_t oncpu_ns;              /* time spent running its handler */
    /* The outbound call the parked handler waits on (fpmd_req_suspend_on),
     * for the slow log: described only when an entry is written, so a
     * wait costs a few stores. waiting_fn NULL: none now; waiting_arg
     * stays, so that waits on one call count from its first. */
    fpmd_req_waiting_fn waiting_fn;
    const void *waiting_arg;
    uint64_t waiting_since_ns;      /* fpmd_mono_ns */
};

/* A fresh request on conn (from the worker's free list); NULL when out of
 * memory. */
struct fpmd_req *fpmd_req_new(const struct fpmd_req_ops *ops, void *conn,
                              uint16_t id);
/* What continues a parked request's handler when its wait ends (the
 * request engine registers it; requests never call up into it). */
void fpmd_req_on_wake(void (*fn)(struct fpmd_req *req));

/* Requests on this process's free list (0 in debug-alloc builds). */
size_t fpmd_req_cached(void);
/* Frees spare requests beyond keep; returns how many. */
size_t fpmd_req_trim(size_t keep);

/* Ends a request: cancels its coroutine if it still exists, runs defers,
 * returns memory. The codec must have unlinked it. */
void fpmd_req_free(struct fpmd_req *req);

/* Appends one CGI param (copied into the arena). FPMD_ERROR when memory
 * or limits are out. */
int fpmd_req_add_param(struct fpmd_req *req, const void *name, size_t nlen,
                       const void *value, size_t vlen);
/* Once every param is in: derives method, uri, query, path (see README
 * "Routing" for the order) and content length. */
void fpmd_req_derive(struct fpmd_req *req);

/* The value of a response header set so far (the first, by name in any
 * case); NULL when none. */
const char *fpmd_req_resp_header(const struct fpmd_req *req,
                                 const char *name);

/* A new evbuffer freed when req ends; NULL when memory is out. */
struct evbuffer *fpmd_req_evbuffer(struct fpmd_req *req);

/* From now on, keeps a copy of the body bytes the handler reads and of
 * the answer's body it writes, up to max bytes each (capture_over is set
 * past that, and for answers sent from files). FPMD_ERROR when memory is
 * out. */
int fpmd_req_capture(struct fpmd_req *req, size_t max);

/* data as one JSON value (strict, at most depth deep, only whitespace
 * after it); NULL when it is not one or memory is out. The caller owns
 * the result. */
struct json_object *fpmd_json_parse(const char *data, size_t len,
                                    unsigned depth);
/* obj put when req ends; obj itself, or NULL (obj put now) when memory is
 * out. NULL stays NULL. */
struct json_object *fpmd_req_json_keep(struct fpmd_req *req,
                                       struct json_object *obj);

/* A request no client waits for (a shadow call): fill its params and
 * body with fpmd_req_add_param, fpmd_req_derive, fpmd_req_body_feed and
 * fpmd_req_body_end, then fpmd_worker_start_background. What it writes
 * goes nowhere. NULL when memory is out. */
struct fpmd_req *fpmd_req_new_background(void);

/* A background request for the process's own work (a timer's run, a
 * cron run, a user process's call), ready to start: REQUEST_METHOD
 * method plus params, name and value pairs ending with NULL, derived,
 * without a body. NULL when memory is out. */
struct fpmd_req *fpmd_req_new_run(const char *method,
                                  const char *const *params);

/* Sets req->script and req->path_info (fpmd/cgi_path.h) on first use;
 * path_info stays NULL when there is none. FPMD_ERROR when memory is
 * out. */
int fpmd_req_split(struct fpmd_req *req);

/* limits.request_memory, or what it is when unset. */
size_t fpmd_req_memory_cap(const struct fpmd_conf *conf);
/* Logs, once per request, why its arena refused (req->arena.refused);
 * notes a refusal for the worker's bound (the answer is then 503). */
void fpmd_req_memory_refused(struct fpmd_req *req);
/* The answer to a request its arena refused: over_cap past its own cap,
 * 503 past the worker's bound (a moment's shortage), 500 when malloc
 * failed; 0 when nothing was refused. */
int fpmd_req_refused_status(const struct fpmd_req *req, int over_cap);

/* Appends received body bytes / marks the end; wakes a waiting handler.
 * Returns 1 when the buffered amount is over the window and the codec
 * should stop reading for now. */
int fpmd_req_body_feed(struct fpmd_req *req, const void *data, size_t len);
void fpmd_req_body_end(struct fpmd_req *req);

/* fpmd_req_suspend, naming meanwhile what the handler waits on: arg, as
 * fn describes it (valid until the request ends). */
int fpmd_req_suspend_on(struct fpmd_req *req, fpmd_req_waiting_fn fn,
                        const void *arg);

/* Stops the request: its writes and calls fail from now on, and its
 * handler is woken so it can return. */
void fpmd_req_abort(struct fpmd_req *req);
/* The request's connection is gone (the client closed it, or sent
 * FCGI_ABORT_REQUEST): aborted, and logged 499 unless its head went out,
 * as nginx logs a client that closed the request. */
void fpmd_req_client_gone(struct fpmd_req *req);

/* The codec's output drained below its low-water mark. */
void fpmd_req_drained(struct fpmd_req *req);

/* The CGI head ("Status: ...\r\nName: value\r\n...\r\n", no Status line
 * for a 200 without a Location) of req: its length, and when it fits in
 * len bytes, the text in buf. After fpmd_resp_cgi_head, the headers set
 * before it, then that head as it came. */
size_t fpmd_req_format_cgi_head(const struct fpmd_req *req, char *buf,
                                size_t len);

/* A legacy pass-through's answer head, called once its status and its
 * headers (the last nown of req's) are set from head, a backend's CGI
 * head (len bytes, its empty line included, valid until the request
 * ends): those are what an HTTP client gets and the access log sees,
 * while a FastCGI web server gets head byte for byte, after the headers
 * set before them (a hook's). FPMD_ERROR once the head is out, or when
 * req has fewer than nown headers. */
int fpmd_resp_cgi_head(struct fpmd_req *req, const char *head, size_t len,
                       size_t nown);

/* Sends len > 0 bytes of the answer's error stream (php-fpm's stderr)
 * where the protocol has one: FPMD_OK, suspending like fpmd_resp_write
 * under backpressure; FPMD_DECLINED when it has none (HTTP); FPMD_ERROR
 * once the client is gone. */
int fpmd_resp_stderr(struct fpmd_req *req, const void *data, size_t len);

/* Splits "a=1&b=2" (len bytes) into decoded pairs in req's arena, at
 * most max of them: FPMD_OK, FPMD_AGAIN when there were more, FPMD_ERROR
 * when memory is out. */
int fpmd_req_parse_pairs(struct fpmd_req *req, const char *s, size_t len,
                         size_t max, struct fpmd_param **out, size_t *n);

/* Header validation shared with other codecs: 1 when name is an HTTP
 * token and value has no CR, LF or NUL. */
int fpmd_header_valid(const char *name, const char *value);

#endif

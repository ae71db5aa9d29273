/* SPDX-License-Identifier: BSD-2-Clause */
/* A request's id, as the access log and a legacy pool with
 * send_request_id get it, and its W3C trace context (README "Trace
 * context"). */
#ifndef FPMD_REQUEST_ID_H
#define FPMD_REQUEST_ID_H

struct fpmd_req;

/* The CGI param carrying the request id ("HTTP_X_REQUEST_ID"); NULL when
 * request ids are off. */
const char *fpmd_request_id_param(void);
/* req's id, taken or made on first use; NULL when request ids are off. */
const char *fpmd_request_id(struct fpmd_req *req);

/* A request's place in a trace: the trace id from its valid traceparent
 * header or a new random one, and a span id of its own, in the request's
 * arena. */
struct fpmd_req_trace {
    char trace_id[33];              /* 32 hex digits */
    char traceparent[56];           /* "00-<trace>-<this span>-<flags>" */
    char parent[56];                /* the traceparent it came with, as
                                     * parsed; "" when none was valid */
};

/* req's trace, made on first use; NULL when memory is out. */
const struct fpmd_req_trace *fpmd_request_trace(struct fpmd_req *req);

/* A traceparent for one outbound call of req: its trace, a new span id,
 * its flags; out has room for 56 bytes. FPMD_ERROR when memory is out. */
int fpmd_request_trace_child(struct fpmd_req *req, char *out);

#endif

/* SPDX-License-Identifier: BSD-2-Clause */
/* A request's id, as the access log and a legacy pool with
 * send_request_id get it. */
#ifndef FPMD_REQUEST_ID_H
#define FPMD_REQUEST_ID_H

struct fpmd_req;

/* The CGI param carrying the request id ("HTTP_X_REQUEST_ID"); NULL when
 * request ids are off. */
const char *fpmd_request_id_param(void);
/* req's id, taken or made on first use; NULL when request ids are off. */
const char *fpmd_request_id(struct fpmd_req *req);

#endif

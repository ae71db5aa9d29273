/* SPDX-License-Identifier: BSD-2-Clause */
/* What fpmd reads of etcd's HTTP/JSON gateway (v3): a range's answer and
 * a watch's messages, into the set of keys under a prefix and the server
 * each names; and the base64 the gateway puts keys and values in. Pure
 * code on bytes from the network: no I/O, every size bounded. */
#ifndef FPMD_ETCD_KV_H
#define FPMD_ETCD_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fpmd/discovery.h"

/* A key or a value longer than this is not a server's (and is left
 * out). */
#define FPMD_ETCD_KEY_MAX 1024
#define FPMD_ETCD_VALUE_MAX 4096
/* The nesting a message may have: the gateway's go to 5. */
#define FPMD_ETCD_JSON_DEPTH 16

struct fpmd_etcd_set;

/* An empty set keeping at most max_keys keys (the rest of a range, and
 * new keys past it, are left out and counted). NULL when memory is out. */
struct fpmd_etcd_set *fpmd_etcd_set_new(size_t max_keys);
void fpmd_etcd_set_free(struct fpmd_etcd_set *s);

/* A range's answer (POST /v3/kv/range): the set becomes its kvs, and
 * *revision the store's revision it was read at. FPMD_OK; FPMD_ERROR
 * when it is no such answer (an error from etcd, bad JSON, a missing
 * revision), why saying what, the set unchanged. */
int fpmd_etcd_set_load(struct fpmd_etcd_set *s, const char *json,
                       size_t len, int64_t *revision, char *why,
                       size_t whylen);

/* One message of a watch (POST /v3/watch, one JSON object a line): its
 * events applied in order (a PUT adds or replaces a key, a DELETE takes
 * it out), *revision raised to its header's. FPMD_OK (a message without
 * events, as the first one, changes nothing); FPMD_AGAIN when the watch
 * is over (canceled, or its start revision compacted: read the whole
 * range again), why saying why; FPMD_ERROR for a message that is not one
 * (why; the events before the bad one applied: read the whole range
 * again). */
int fpmd_etcd_set_apply(struct fpmd_etcd_set *s, const char *json,
                        size_t len, int64_t *revision, char *why,
                        size_t whylen);

/* The servers the keys name, in key order, at most max: a value that is
 * a JSON object {"url": "http(s)://...", "weight": 1..1000} (weight 1
 * when absent) or a bare http(s) URL string. Other values (fpmd's own
 * FastCGI and JSON-RPC listeners, anything else) name no HTTP server. */
size_t fpmd_etcd_set_servers(const struct fpmd_etcd_set *s,
                             struct fpmd_discovered *out, size_t max);

/* Keys left out since the set was made (past max_keys or too long). */
size_t fpmd_etcd_set_dropped(const struct fpmd_etcd_set *s);

/* Base64 (RFC 4648, padded) of len bytes into out, which holds
 * FPMD_ETCD_B64_LEN(len) bytes: the length written, NUL after it. */
#define FPMD_ETCD_B64_LEN(len) (((len) + 2) / 3 * 4 + 1)
size_t fpmd_etcd_b64_encode(const void *in, size_t len, char *out);
/* Decodes len bytes of padded base64 into out (room for len / 4 * 3):
 * the length, or -1 when it is not base64. */
long fpmd_etcd_b64_decode(const char *in, size_t len, unsigned char *out);

/* The key that ends the range of keys starting with prefix (etcd's
 * range_end): prefix with its last byte raised by one; len bytes at
 * out, which holds len. */
void fpmd_etcd_range_end(const char *prefix, size_t len, char *out);

#endif

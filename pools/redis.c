/* SPDX-License-Identifier: BSD-2-Clause */
/* The Redis driver: hiredis's async API on the worker's libevent base.
 * hiredis 0.14 has no timeouts (the pool's timers bound every wait), no
 * reconnect that re-applies AUTH and SELECT (every connection runs its own
 * handshake), and frees a context itself when the server goes away, so
 * nothing here frees one from inside hiredis's disconnect callback.
 *
 * Each command sent carries a ticket naming its connection. Replies come
 * in order, one callback per ticket; a connection that is closed first
 * detaches its tickets, so a late callback (hiredis runs them all, with no
 * reply, when a context is freed) finds nothing to touch.
 *
 * hiredis's own libevent adapter adds and deletes a write event around
 * every command and re-adds a one-shot read event after every reply: four
 * epoll_ctl calls per round trip. The adapter here keeps one persistent
 * read event and writes a command at once when it is sent, arming a write
 * event only when the socket is full or still connecting. */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "fpmd/balance.h"
#include "pools/pool.h"
#include "pools/redis_sentinel.h"

enum ticket_kind {
    T_HANDSHAKE,
    T_ROLE,                     /* a sentinel pool's check of the server */
    T_CALL,
};

struct rconn;

struct ticket {
    struct ticket *next;
    struct rconn *rc;           /* NULL once the connection is closed */
    enum ticket_kind kind;
    size_t index;               /* T_CALL: the command's place in its call */
};

struct rconn {
    redisAsyncContext *ac;      /* NULL once hiredis let go of it */
    struct fpmd_pool_conn *pc;
    struct event rev, wev, flush;
    unsigned rev_added:1, wev_added:1, flush_added:1;
    struct ticket *head, **tail;    /* replies due, oldest first */
    unsigned handshake;         /* replies due before the connection is up */
    unsigned due;               /* replies due to the current call */
    unsigned in_multi:1;        /* MULTI sent, no EXEC or DISCARD yet */
    unsigned watching:1;
    unsigned db_changed:1;      /* SELECT by a handler */
    unsigned readonly:1;        /* answered READONLY: demoted meanwhile */
    struct fpmd_sentinel *sentinel;     /* a sentinel pool's, else NULL */
    int slot;                   /* sentinel: -1 the master, else the
                                 * replica slot it reads from */
    struct fpmd_sentinel_waiter wait;   /* waiting for the master */
    bool waiting;
    uint64_t epoch;             /* the server it was made for */
};

struct rcmd {
    char *buf;                  /* RESP, in the request's arena */
    size_t len;
};

struct rcall {
    struct rcmd *cmds;
    size_t ncmds, cap;
    unsigned flags;
    const char *refused;        /* a command that may not go through a pool */
    struct fpmd_redis_reply **replies;
};

/* --- RESP of our own formatted commands ------------------------------- */

/* Argument i of a command hiredis formatted ("*N\r\n$L\r\narg\r\n..."). */
static int
resp_arg(const char *buf, size_t len, unsigned i, const char **arg,
         size_t *alen)
{
    const char *p = buf, *end = buf + len;
    unsigned long n, l;
    char *e;

    if (p >= end || *p != '*')
        return FPMD_ERROR;
    n = strtoul(p + 1, &e, 10);
    if (i >= n)
        return FPMD_ERROR;
    p = e + 2;
    for (unsigned k = 0; p < end && *p == '$'; k++) {
        l = strtoul(p + 1, &e, 10);
        p = e + 2;
        if ((size_t) (end - p) < l + 2)
            return FPMD_ERROR;
        if (k == i) {
            *arg = p;
            *alen = l;
            return FPMD_OK;
        }
        p += l + 2;
    }
    return FPMD_ERROR;
}

static int
arg_is(const char *arg, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(arg, word, len) == 0;
}

/* Commands that turn the connection into something else (a subscriber,
 * a monitor, a replica) or break reply order: not through a pool. */
static const char *
refused(const char *buf, size_t len)
{
    static const char *const words[] = {
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE",
        "PUNSUBSCRIBE", "SUNSUBSCRIBE", "MONITOR", "QUIT", "SYNC", "PSYNC",
        "RESET", "HELLO", "AUTH",
    };
    const char *a0, *a1;
    size_t l0, l1;

    if (resp_arg(buf, len, 0, &a0, &l0) != FPMD_OK)
        return "an empty command";
    for (size_t i = 0; i < FPMD_ARRAY_LEN(words); i++) {
        if (arg_is(a0, l0, words[i]))
            return words[i];
    }
    if (arg_is(a0, l0, "CLIENT") && resp_arg(buf, len, 1, &a1, &l1) == FPMD_OK
        && arg_is(a1, l1, "REPLY"))
        return "CLIENT REPLY";
    return NULL;
}

/* --- sharding --------------------------------------------------------- */

/* Where a command's keys are among its arguments: from first to last
 * (negative: counted from the end, -1 the last), every step-th; or, with
 * numkeys, the count is argument numkeys and the keys follow it. */
struct keyspec {
    const char *cmd;
    int first, last;
    unsigned step, numkeys;
};

static const struct keyspec keyspecs[] = {
    {"MGET", 1, -1, 1, 0}, {"DEL", 1, -1, 1, 0}, {"UNLINK", 1, -1, 1, 0},
    {"EXISTS", 1, -1, 1, 0}, {"TOUCH", 1, -1, 1, 0}, {"WATCH", 1, -1, 1, 0},
    {"MSET", 1, -1, 2, 0}, {"MSETNX", 1, -1, 2, 0},
    {"SINTER", 1, -1, 1, 0}, {"SUNION", 1, -1, 1, 0}, {"SDIFF", 1, -1, 1, 0},
    {"SINTERSTORE", 1, -1, 1, 0}, {"SUNIONSTORE", 1, -1, 1, 0},
    {"SDIFFSTORE", 1, -1, 1, 0}, {"PFCOUNT", 1, -1, 1, 0},
    {"PFMERGE", 1, -1, 1, 0}, {"RENAME", 1, 2, 1, 0},
    {"RENAMENX", 1, 2, 1, 0}, {"SMOVE", 1, 2, 1, 0},
    {"RPOPLPUSH", 1, 2, 1, 0}, {"LMOVE", 1, 2, 1, 0},
    {"BLMOVE", 1, 2, 1, 0}, {"BRPOPLPUSH", 1, 2, 1, 0}, {"COPY", 1, 2, 1, 0},
    {"BLPOP", 1, -2, 1, 0}, {"BRPOP", 1, -2, 1, 0},
    {"BZPOPMIN", 1, -2, 1, 0}, {"BZPOPMAX", 1, -2, 1, 0},
    {"EVAL", 0, 0, 1, 2}, {"EVALSHA", 0, 0, 1, 2}, {"EVAL_RO", 0, 0, 1, 2},
    {"EVALSHA_RO", 0, 0, 1, 2}, {"FCALL", 0, 0, 1, 2},
    {"FCALL_RO", 0, 0, 1, 2}, {"SINTERCARD", 0, 0, 1, 1},
    {"LMPOP", 0, 0, 1, 1}, {"ZMPOP", 0, 0, 1, 1},
    {"ZUNION", 0, 0, 1, 1}, {"ZINTER", 0, 0, 1, 1}, {"ZDIFF", 0, 0, 1, 1},
};

/* Keys of these are not where a table like the above can find them:
 * on a sharded pool they are refused rather than sent to one shard. */
static const char *const unroutable[] = {
    "ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE", "BLMPOP", "BZMPOP",
    "XREAD", "XREADGROUP", "GEORADIUS", "GEORADIUSBYMEMBER", "SORT",
    "MIGRATE", "OBJECT",
};

/* Redis Cluster's hash tag: only what is inside the first {...} (when
 * not empty) picks the shard, so that related keys can share one. */
static void
hash_tag(const char **key, size_t *len)
{
    const char *open = memchr(*key, '{', *len), *close;

    if (open == NULL)
        return;
    close = memchr(open + 1, '}', *len - (size_t) (open + 1 - *key));
    if (close == NULL || close == open + 1)
        return;
    *key = open + 1;
    *len = (size_t) (close - open - 1);
}

static unsigned long
resp_argc(const char *buf, size_t len)
{
    return len > 0 && buf[0] == '*' ? strtoul(buf + 1, NULL, 10) : 0;
}

/* The node a key of cmd picks, checked against *node (NULL: the first
 * key met). FPMD_ERROR when it picks another. */
static int
same_shard(struct fpmd_pool *pool, const char *key, size_t len,
           struct fpmd_pool_node **node)
{
    struct fpmd_pool_node *n;

    hash_tag(&key, &len);
    n = fpmd_pool_shard(pool, key, len);
    if (*node == NULL)
        *node = n;
    return n == *node ? FPMD_OK : FPMD_ERROR;
}

/* Where the keys of the command in buf are: arguments first to last,
 * every step-th (none when first > last). FPMD_ERROR for a command
 * whose keys a table cannot find (unroutable). */
static int
key_args(const char *buf, size_t len, long *first, long *last, long *step)
{
    const struct keyspec *spec = NULL;
    const char *a0, *k;
    size_t l0, kl;

    *first = *last = *step = 1;
    if (resp_arg(buf, len, 0, &a0, &l0) != FPMD_OK) {
        *last = 0;
        return FPMD_OK;
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(unroutable); i++) {
        if (arg_is(a0, l0, unroutable[i]))
            return FPMD_ERROR;
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(keyspecs) && !spec; i++)
        if (arg_is(a0, l0, keyspecs[i].cmd))
            spec = &keyspecs[i];
    if (spec != NULL && spec->numkeys != 0) {
        if (resp_arg(buf, len, spec->numkeys, &k, &kl) != FPMD_OK) {
            *last = 0;
            return FPMD_OK;
        }
        *first = (long) spec->numkeys + 1;
        *last = *first + strtol(k, NULL, 10) - 1;
    } else if (spec != NULL) {
        *first = spec->first;
        *last = spec->last < 0 ? (long) resp_argc(buf, len) + spec->last
                               : spec->last;
        *step = spec->step;
    }
    return FPMD_OK;
}

/* The shard of a call on a sharded pool: the one all the keys of all its
 * commands map to. NULL, with why, when they map to more than one or
 * cannot be found; the primary for a call without keys. */
static struct fpmd_pool_node *
shard_node(struct fpmd_call *call, char *why, size_t wlen)
{
    struct rcall *data = call->driver;
    struct fpmd_pool_node *node = NULL;

    for (size_t c = 0; c < data->ncmds; c++) {
        const char *buf = data->cmds[c].buf, *a0, *k;
        size_t len = data->cmds[c].len, l0, kl;
        unsigned long argc = resp_argc(buf, len);
        long first, last, step;

        if (key_args(buf, len, &first, &last, &step) != FPMD_OK) {
            resp_arg(buf, len, 0, &a0, &l0);
            snprintf(why, wlen, "%.*s: its keys cannot be routed on a "
                     "sharded pool", (int) (l0 < 32 ? l0 : 32), a0);
            return NULL;
        }
        for (long i = first; i <= last && (unsigned long) i < argc;
             i += step) {
            if (resp_arg(buf, len, (unsigned) i, &k, &kl) != FPMD_OK)
                break;
            if (same_shard(call->pool, k, kl, &node) != FPMD_OK) {
                resp_arg(buf, len, 0, &a0, &l0);
                snprintf(why, wlen, "%.*s: its keys are on different shards "
                         "(put the part they share in {braces}: a hash tag)",
                         (int) (l0 < 32 ? l0 : 32), a0);
                return NULL;
            }
        }
    }
    return node != NULL ? node : fpmd_pool_primary(call->pool, NULL, 0);
}

/* What balancer: hash hashes: the first key of the call's first command
 * (its hash tag, as for a shard, so that {user:7}:a and {user:7}:b share
 * a server). false for a command without keys. */
static bool
first_key(const struct rcall *data, const char **key, size_t *len)
{
    const char *buf = data->cmds[0].buf;
    size_t blen = data->cmds[0].len;
    long first, last, step;

    if (key_args(buf, blen, &first, &last, &step) != FPMD_OK
        || first > last || (unsigned long) first >= resp_argc(buf, blen)
        || resp_arg(buf, blen, (unsigned) first, key, len) != FPMD_OK)
        return false;
    hash_tag(key, len);
    return true;
}

/* Session state a command leaves behind, for reusable(). */
static void
track(struct rconn *rc, const char *buf, size_t len)
{
    const char *a0;
    size_t l0;

    if (resp_arg(buf, len, 0, &a0, &l0) != FPMD_OK)
        return;
    if (arg_is(a0, l0, "MULTI")) {
        rc->in_multi = 1;
    } else if (arg_is(a0, l0, "EXEC") || arg_is(a0, l0, "DISCARD")) {
        rc->in_multi = 0;
        rc->watching = 0;
    } else if (arg_is(a0, l0, "WATCH")) {
        rc->watching = 1;
    } else if (arg_is(a0, l0, "UNWATCH")) {
        rc->watching = 0;
    } else if (arg_is(a0, l0, "SELECT") || arg_is(a0, l0, "SWAPDB")) {
        rc->db_changed = 1;
    }
}

/* --- replies ---------------------------------------------------------- */

static const char too_large_msg[] = "ERR fpmd: the reply does not fit "
                                    "the request's memory (limits.params)";
static const struct fpmd_redis_reply too_large = {
    FPMD_REDIS_ERROR, 0, too_large_msg, sizeof(too_large_msg) - 1, 0, NULL,
};

static struct fpmd_redis_reply *
copy_reply(struct fpmd_req *req, const redisReply *r)
{
    struct fpmd_redis_reply *out = fpmd_alloc(req, sizeof(*out));

    if (out == NULL)
        return NULL;
    memset(out, 0, sizeof(*out));
    out->type = (enum fpmd_redis_type) r->type;
    out->integer = r->integer;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS
        || r->type == REDIS_REPLY_ERROR) {
        char *s = fpmd_alloc(req, r->len + 1);

        if (s == NULL)
            return NULL;
        memcpy(s, r->str, r->len);
        s[r->len] = '\0';
        out->str = s;
        out->len = r->len;
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
        if (r->elements > SIZE_MAX / sizeof(*out->element))
            return NULL;
        out->element = fpmd_alloc(req, r->elements * sizeof(*out->element));
        if (out->element == NULL)
            return NULL;
        /* hiredis's reader bounds the nesting (7 levels). */
        for (size_t i = 0; i < r->elements; i++) {
            out->element[i] = copy_reply(req, r->element[i]);
            if (out->element[i] == NULL)
                return NULL;
        }
        out->elements = r->elements;
    }
    return out;
}

/* --- the event adapter ------------------------------------------------ */

/* The connection a write is being flushed on right now, from send. */
static struct rconn *flushing;

static void
on_rev(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;

    (void) fd;
    (void) what;
    redisAsyncHandleRead(rc->ac);
}

static void
on_wev(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;

    (void) fd;
    (void) what;
    rc->wev_added = 0;
    redisAsyncHandleWrite(rc->ac);
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;

    (void) fd;
    (void) what;
    rc->flush_added = 0;
    flushing = rc;
    redisAsyncHandleWrite(rc->ac);
    flushing = NULL;
}

static void
ad_add_read(void *priv)
{
    struct rconn *rc = priv;

    if (rc != NULL && !rc->rev_added) {
        event_assign(&rc->rev, fpmd_pool_base(), rc->ac->c.fd,
                     EV_READ | EV_PERSIST, on_rev, rc);
        event_add(&rc->rev, NULL);
        rc->rev_added = 1;
    }
}

static void
ad_del_read(void *priv)
{
    struct rconn *rc = priv;

    if (rc != NULL && rc->rev_added) {
        event_del(&rc->rev);
        rc->rev_added = 0;
    }
}

/* hiredis wants to write. Connecting, or called back from a write that
 * could not finish: wait for the socket. Otherwise a command was queued:
 * flush it on this loop pass (no syscall to arm), unless send does now. */
static void
ad_add_write(void *priv)
{
    struct rconn *rc = priv;

    if (rc == NULL)
        return;
    if (!(rc->ac->c.flags & REDIS_CONNECTED) || flushing == rc) {
        if (!rc->wev_added) {
            event_assign(&rc->wev, fpmd_pool_base(), rc->ac->c.fd, EV_WRITE,
                         on_wev, rc);
            event_add(&rc->wev, NULL);
            rc->wev_added = 1;
        }
    } else if (!rc->flush_added) {
        evtimer_assign(&rc->flush, fpmd_pool_base(), on_flush, rc);
        event_active(&rc->flush, EV_TIMEOUT, 0);
        rc->flush_added = 1;
    }
}

static void
ad_del_write(void *priv)
{
    struct rconn *rc = priv;

    if (rc == NULL)
        return;
    if (rc->wev_added) {
        event_del(&rc->wev);
        rc->wev_added = 0;
    }
    if (rc->flush_added) {
        event_del(&rc->flush);
        rc->flush_added = 0;
    }
}

static void
ad_cleanup(void *priv)
{
    ad_del_read(priv);
    ad_del_write(priv);
}

static void
attach(struct rconn *rc)
{
    redisAsyncContext *ac = rc->ac;

    ac->ev.addRead = ad_add_read;
    ac->ev.delRead = ad_del_read;
    ac->ev.addWrite = ad_add_write;
    ac->ev.delWrite = ad_del_write;
    ac->ev.cleanup = ad_cleanup;
    ac->ev.data = rc;
    ad_add_read(rc);
    ad_add_write(rc);
}

/* --- connections ------------------------------------------------------ */

/* After this nothing of ac reaches rc: no callback, no event. */
static void
detach(struct rconn *rc)
{
    for (struct ticket *t = rc->head; t != NULL; t = t->next)
        t->rc = NULL;
    rc->head = NULL;
    rc->tail = &rc->head;
    ad_cleanup(rc);
    if (flushing == rc)
        flushing = NULL;
    if (rc->ac != NULL) {
        rc->ac->data = NULL;
        rc->ac->ev.data = NULL;
    }
}

/* hiredis is freeing the context itself (server gone, I/O error). */
static void
gone(struct rconn *rc, const char *why)
{
    char msg[128];

    snprintf(msg, sizeof(msg), "%s", why != NULL && why[0] ? why
                                                          : "connection closed");
    detach(rc);
    rc->ac = NULL;
    /* the server refused or went away: a failover may be under way, or
     * the replica be gone */
    if (rc->sentinel != NULL && rc->slot < 0)
        fpmd_sentinel_stale(rc->sentinel);
    else if (rc->sentinel != NULL)
        fpmd_sentinel_replicas_stale(rc->sentinel);
    fpmd_pool_conn_lost(rc->pc, msg);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int
send_cmd(struct rconn *rc, enum ticket_kind kind, size_t index,
         const char *cmd, size_t len)
{
    struct ticket *t = malloc(sizeof(*t));

    if (t == NULL)
        return FPMD_ERROR;
    t->next = NULL;
    t->rc = rc;
    t->kind = kind;
    t->index = index;
    if (redisAsyncFormattedCommand(rc->ac, on_reply, t, cmd, len)
        != REDIS_OK) {
        free(t);
        return FPMD_ERROR;
    }
    *rc->tail = t;
    rc->tail = &t->next;
    return FPMD_OK;
}

static void
on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct ticket *t = privdata;
    struct rconn *rc = t->rc;
    const redisReply *r = reply;
    struct fpmd_call *call;
    struct rcall *data;

    if (rc == NULL) {
        free(t);
        return;
    }
    rc->head = t->next;
    if (rc->head == NULL)
        rc->tail = &rc->head;
    if (r == NULL) {
        free(t);
        gone(rc, ac->errstr);
        return;
    }
    if (t->kind == T_ROLE) {
        const char *role = rc->slot < 0 ? "master" : "slave";

        free(t);
        if (r->type != REDIS_REPLY_ARRAY || r->elements == 0
            || r->element[0]->type != REDIS_REPLY_STRING
            || strcmp(r->element[0]->str, role) != 0) {
            /* a demoted master, or a replica the sentinels named before
             * it was promoted: no write goes there; a promoted replica:
             * its slot is for replica reads */
            if (rc->slot < 0)
                fpmd_sentinel_stale(rc->sentinel);
            else
                fpmd_sentinel_replicas_stale(rc->sentinel);
            fpmd_pool_conn_lost(rc->pc, rc->slot < 0
                                ? "not the master (its ROLE says otherwise): "
                                  "asking the sentinels again"
                                : "not a replica (its ROLE says otherwise): "
                                  "asking the sentinels again");
        } else if (--rc->handshake == 0) {
            fpmd_pool_conn_up(rc->pc);
        }
        return;
    }
    if (t->kind == T_HANDSHAKE) {
        free(t);
        if (r->type == REDIS_REPLY_ERROR) {
            char msg[160];

            snprintf(msg, sizeof(msg), "handshake refused: %.*s",
                     (int) r->len, r->str);
            fpmd_pool_conn_lost(rc->pc, msg);
        } else if (--rc->handshake == 0) {
            fpmd_pool_conn_up(rc->pc);
        }
        return;
    }
    /* (a replica's READONLY is a write sent with a replica read) */
    if (rc->sentinel != NULL && rc->slot < 0 && r->type == REDIS_REPLY_ERROR
        && strncmp(r->str, "READONLY", 8) == 0) {
        rc->readonly = 1;
        fpmd_sentinel_stale(rc->sentinel);
    }
    call = rc->pc->call;
    if (call != NULL) {
        data = call->driver;
        data->replies[t->index] = copy_reply(call->req, r);
        if (data->replies[t->index] == NULL)
            data->replies[t->index] =
                (struct fpmd_redis_reply *) &too_large;
    }
    free(t);
    if (--rc->due == 0)
        fpmd_pool_conn_done(rc->pc);
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;

    /* Success waits for the handshake replies. A failure is followed by
     * hiredis freeing the context, with no disconnect callback. */
    if (rc == NULL || status == REDIS_OK)
        return;
    gone(rc, ac->errstr);
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;

    (void) status;
    if (rc != NULL)
        gone(rc, ac->errstr);
}

static int
send_argv(struct rconn *rc, int argc, const char **argv)
{
    size_t lens[3];
    char *cmd;
    int n, rv;

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0)
        return FPMD_ERROR;
    rv = send_cmd(rc, T_HANDSHAKE, 0, cmd, (size_t) n);
    redisFreeCommand(cmd);
    if (rv == FPMD_OK)
        rc->handshake++;
    return rv;
}

/* AUTH and SELECT on every connection: hiredis keeps neither across a
 * reconnect. With neither, a PING, so that the connection counts as up
 * once the server answers, not once the kernel accepted: a stopped server
 * fails connect_timeout rather than every call's timeout. */
static int
handshake(struct rconn *rc, const struct fpmd_conf_backend *conf)
{
    const char *argv[3];
    int argc = 0;

    if (conf->password != NULL) {
        argv[argc++] = "AUTH";
        if (conf->user != NULL)
            argv[argc++] = conf->user;
        argv[argc++] = conf->password;
        if (send_argv(rc, argc, argv) != FPMD_OK)
            return FPMD_ERROR;
    }
    if (conf->database != NULL && strcmp(conf->database, "0") != 0) {
        argv[0] = "SELECT";
        argv[1] = conf->database;
        if (send_argv(rc, 2, argv) != FPMD_OK)
            return FPMD_ERROR;
    }
    if (rc->sentinel != NULL) {
        static const char role[] = "*1\r\n$4\r\nROLE\r\n";

        if (send_cmd(rc, T_ROLE, 0, role, sizeof(role) - 1) != FPMD_OK)
            return FPMD_ERROR;
        rc->handshake++;
    }
    if (rc->handshake == 0) {
        argv[0] = "PING";
        return send_argv(rc, 1, argv);
    }
    return FPMD_OK;
}

/* Connects rc to host:port (path: a unix socket) and starts its
 * handshake. FPMD_ERROR with error when that cannot start. */
static int
start_connect(struct rconn *rc, const char *host, unsigned port,
              const char *path, char *error, size_t len)
{
    struct fpmd_pool_conn *pc = rc->pc;
    redisAsyncContext *ac = path != NULL ? redisAsyncConnectUnix(path)
                                         : redisAsyncConnect(host, (int) port);

    if (ac == NULL || ac->err) {
        snprintf(error, len, "%s", ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        return FPMD_ERROR;
    }
    rc->ac = ac;
    ac->data = rc;
    attach(rc);
    if (redisAsyncSetConnectCallback(ac, on_connect) != REDIS_OK
        || redisAsyncSetDisconnectCallback(ac, on_disconnect) != REDIS_OK
        || handshake(rc, fpmd_pool_conn_conf(pc)) != FPMD_OK) {
        snprintf(error, len, "connection setup failed");
        detach(rc);
        ac->data = NULL;
        redisAsyncFree(ac);
        rc->ac = NULL;
        return FPMD_ERROR;
    }
    return FPMD_OK;
}

/* The sentinels answered (or could not) for a connection waiting. */
static void
on_master(struct fpmd_sentinel_waiter *w, bool ok, const char *why)
{
    struct rconn *rc = (struct rconn *) ((char *) w
                                         - offsetof(struct rconn, wait));
    const char *host;
    unsigned port;
    char error[256];

    rc->waiting = false;
    if (!ok) {
        snprintf(error, sizeof(error), "no master: %s", why);
        fpmd_pool_conn_lost(rc->pc, error);
        return;
    }
    fpmd_sentinel_master(rc->sentinel, &host, &port);
    rc->epoch = fpmd_sentinel_epoch(rc->sentinel, -1);
    if (start_connect(rc, host, port, NULL, error, sizeof(error)) != FPMD_OK)
        fpmd_pool_conn_lost(rc->pc, error);
}

static int
drv_connect(struct fpmd_pool_conn *pc, char *error, size_t len)
{
    const struct fpmd_conf_backend *conf = fpmd_pool_conn_conf(pc);
    const struct fpmd_conf_server *s = fpmd_pool_node_conf(pc->node);
    struct rconn *rc = calloc(1, sizeof(*rc));
    const char *host;
    unsigned port;

    if (rc == NULL) {
        snprintf(error, len, "out of memory");
        return FPMD_ERROR;
    }
    rc->pc = pc;
    rc->tail = &rc->head;
    pc->driver = rc;
    if (conf->nsentinels > 0) {
        rc->sentinel = fpmd_sentinel_of(conf);
        if (rc->sentinel == NULL) {
            snprintf(error, len, "out of memory");
            goto fail;
        }
        /* node 0 is the master, the others replica slots */
        rc->slot = (int) (s - conf->servers) - 1;
        if (rc->slot >= 0
            && !fpmd_sentinel_replica(rc->sentinel, rc->slot, &host, &port)) {
            snprintf(error, len, "no replica in this slot now");
            goto fail;
        }
        /* the master's address comes from the sentinels, first */
        if (rc->slot < 0 && !fpmd_sentinel_master(rc->sentinel, &host,
                                                  &port)) {
            rc->wait.cb = on_master;
            rc->waiting = true;
            fpmd_sentinel_wait(rc->sentinel, &rc->wait);
            return FPMD_OK;
        }
        rc->epoch = fpmd_sentinel_epoch(rc->sentinel, rc->slot);
        if (start_connect(rc, host, port, NULL, error, len) != FPMD_OK)
            goto fail;
        return FPMD_OK;
    }
    if (start_connect(rc, s->host, s->port, s->path, error, len) == FPMD_OK)
        return FPMD_OK;
fail:
    free(rc);
    pc->driver = NULL;
    return FPMD_ERROR;
}

static int
drv_send(struct fpmd_pool_conn *pc)
{
    struct rconn *rc = pc->driver;
    struct rcall *data = pc->call->driver;

    if (rc->ac == NULL)
        return FPMD_ERROR;
    data->replies = fpmd_alloc(pc->call->req,
                               data->ncmds * sizeof(*data->replies));
    if (data->replies == NULL)
        return FPMD_ERROR;
    memset(data->replies, 0, data->ncmds * sizeof(*data->replies));
    for (size_t i = 0; i < data->ncmds; i++) {
        if (send_cmd(rc, T_CALL, i, data->cmds[i].buf, data->cmds[i].len)
            != FPMD_OK)
            return FPMD_ERROR;
        rc->due++;
        track(rc, data->cmds[i].buf, data->cmds[i].len);
    }
    /* Written now, not on the next loop pass, outside hiredis's own
     * callbacks (the flush event covers those). A failed write may free
     * rc: nothing of it after. */
    if ((rc->ac->c.flags & REDIS_CONNECTED)
        && !(rc->ac->c.flags & REDIS_IN_CALLBACK)) {
        flushing = rc;
        redisAsyncHandleWrite(rc->ac);
        flushing = NULL;
    }
    return FPMD_OK;
}

static int
drv_abandon(struct fpmd_pool_conn *pc)
{
    struct rconn *rc = pc->driver;

    return rc->ac != NULL;
}

static int
drv_reusable(struct fpmd_pool_conn *pc)
{
    struct rconn *rc = pc->driver;

    return rc->ac != NULL && !rc->in_multi && !rc->watching
        && !rc->db_changed && !rc->readonly
        && (rc->sentinel == NULL
            || rc->epoch == fpmd_sentinel_epoch(rc->sentinel, rc->slot));
}

static void
drv_close(struct fpmd_pool_conn *pc)
{
    struct rconn *rc = pc->driver;
    redisAsyncContext *ac;

    if (rc == NULL)
        return;
    if (rc->waiting)
        fpmd_sentinel_unwait(rc->sentinel, &rc->wait);
    ac = rc->ac;
    detach(rc);
    rc->ac = NULL;
    /* Safe inside one of ac's reply callbacks: hiredis defers it. */
    if (ac != NULL)
        redisAsyncFree(ac);
    free(rc);
    pc->driver = NULL;
}

/* The first command's name and first key (truncated), and how many
 * commands follow it: what a key names is the request's business, but
 * the rest of the arguments (values, scripts) is left out. */
static void
drv_describe(const struct fpmd_call *call, char *buf, size_t len)
{
    const struct rcall *data = call->driver;
    const char *cmd = data->cmds[0].buf, *name, *key = "";
    size_t clen = data->cmds[0].len, nlen, klen = 0;
    long first, last, step;
    int n;

    if (resp_arg(cmd, clen, 0, &name, &nlen) != FPMD_OK) {
        name = "";
        nlen = 0;
    }
    if (key_args(cmd, clen, &first, &last, &step) != FPMD_OK || first > last
        || resp_arg(cmd, clen, (unsigned) first, &key, &klen) != FPMD_OK)
        klen = 0;
    n = snprintf(buf, len, "%.*s%s%.*s", (int) (nlen < 32 ? nlen : 32), name,
                 klen > 0 ? " " : "", (int) (klen < 64 ? klen : 64), key);
    if (data->ncmds > 1 && n > 0 && (size_t) n < len)
        snprintf(buf + n, len - (size_t) n, " (and %zu more)",
                 data->ncmds - 1);
}

static const struct fpmd_pool_driver redis_driver = {
    "redis", drv_connect, drv_send, drv_abandon, drv_reusable, drv_close,
    fpmd_sentinel_stop_all, drv_describe,
};

__attribute__((constructor)) static void
register_redis(void)
{
    fpmd_pool_driver_register(FPMD_DRIVER_REDIS, &redis_driver);
}

/* --- the handler API -------------------------------------------------- */

struct fpmd_call *
fpmd_redis_new(struct fpmd_req *req, const char *pool, unsigned flags)
{
    struct rcall *data = fpmd_alloc(req, sizeof(*data));

    if (data == NULL)
        return NULL;
    memset(data, 0, sizeof(*data));
    data->flags = flags;
    return fpmd_pool_call_new(req, pool, &redis_driver, data);
}

static int
add_formatted(struct fpmd_call *call, char *cmd, int len)
{
    struct rcall *data = call->driver;
    const char *why;

    if (len < 0)
        return FPMD_ERROR;
    if (call->state != FPMD_CALLST_NEW) {
        redisFreeCommand(cmd);
        return FPMD_ERROR;
    }
    if (data->ncmds == data->cap) {
        size_t cap = data->cap ? data->cap * 2 : 4;
        struct rcmd *grown = fpmd_alloc(call->req, cap * sizeof(*grown));

        if (grown == NULL) {
            redisFreeCommand(cmd);
            return FPMD_ERROR;
        }
        if (data->ncmds > 0)
            memcpy(grown, data->cmds, data->ncmds * sizeof(*grown));
        data->cmds = grown;
        data->cap = cap;
    }
    if ((why = refused(cmd, (size_t) len)) != NULL && data->refused == NULL)
        data->refused = why;
    data->cmds[data->ncmds].buf = fpmd_strndup(call->req, cmd, (size_t) len);
    data->cmds[data->ncmds].len = (size_t) len;
    redisFreeCommand(cmd);
    if (data->cmds[data->ncmds].buf == NULL)
        return FPMD_ERROR;
    data->ncmds++;
    return FPMD_OK;
}

int
fpmd_redis_add(struct fpmd_call *call, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    int len;

    va_start(ap, fmt);
    len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return add_formatted(call, cmd, len);
}

int
fpmd_redis_addv(struct fpmd_call *call, int argc, const char **argv,
                const size_t *lens)
{
    char *cmd = NULL;
    int len;

    if (argc <= 0)
        return FPMD_ERROR;
    len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    return add_formatted(call, cmd, len);
}

void
fpmd_redis_send(struct fpmd_call *call)
{
    struct rcall *data = call->driver;
    struct fpmd_pool_node *node;

    if (call->state != FPMD_CALLST_NEW)
        return;
    if (data->ncmds == 0) {
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "no command to send");
        return;
    }
    if (data->refused != NULL) {
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "%s is not available "
                            "through a pool", data->refused);
        return;
    }
    if (fpmd_pool_conf(call->pool)->shard) {
        char why[160];

        node = shard_node(call, why, sizeof(why));
        if (node == NULL) {
            fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "%s", why);
            return;
        }
    } else {
        const struct fpmd_conf_backend *conf = fpmd_pool_conf(call->pool);
        const char *key = NULL;
        size_t len = 0;

        /* a sentinel pool learns its replicas once a read asks for one;
         * until then (and while none is up) reads go to the master */
        if ((data->flags & FPMD_REDIS_READ_REPLICA) && conf->nsentinels > 0) {
            struct fpmd_sentinel *s = fpmd_sentinel_of(conf);

            if (s != NULL)
                fpmd_sentinel_want_replicas(s);
        }
        if (conf->balanced && conf->balancer == FPMD_BALANCE_HASH
            && !first_key(data, &key, &len))
            key = NULL;
        node = data->flags & FPMD_REDIS_READ_REPLICA
            ? fpmd_pool_replica(call->pool, key, len)
            : fpmd_pool_primary(call->pool, key, len);
    }
    fpmd_pool_call_start(call, node);
}

const struct fpmd_redis_reply *
fpmd_redis_reply(const struct fpmd_call *call, size_t i)
{
    const struct rcall *data = call->driver;

    if (call->status != FPMD_CALL_OK || data == NULL || i >= data->ncmds
        || data->replies == NULL)
        return NULL;
    return data->replies[i];
}

static struct fpmd_call *
startv(struct fpmd_req *req, const char *pool, const char *fmt, va_list ap)
{
    struct fpmd_call *call = fpmd_redis_new(req, pool, 0);
    char *cmd = NULL;
    int len;

    if (call == NULL)
        return NULL;
    len = redisvFormatCommand(&cmd, fmt, ap);
    if (add_formatted(call, cmd, len) != FPMD_OK)
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "bad command format "
                            "or out of memory");
    else
        fpmd_redis_send(call);
    return call;
}

struct fpmd_call *
fpmd_redis_start(struct fpmd_req *req, const char *pool, const char *fmt, ...)
{
    struct fpmd_call *call;
    va_list ap;

    va_start(ap, fmt);
    call = startv(req, pool, fmt, ap);
    va_end(ap);
    return call;
}

const struct fpmd_redis_reply *
fpmd_redis(struct fpmd_req *req, const char *pool, const char *fmt, ...)
{
    struct fpmd_call *call;
    va_list ap;

    va_start(ap, fmt);
    call = startv(req, pool, fmt, ap);
    va_end(ap);
    if (call == NULL || fpmd_await(req, call) != FPMD_OK)
        return NULL;
    return fpmd_redis_reply(call, 0);
}

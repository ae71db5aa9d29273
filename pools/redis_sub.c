/* SPDX-License-Identifier: BSD-2-Clause */
/* Redis subscriptions (fpmd.h, fpmd_redis_subscribe): a connection of a
 * subscription's own, outside the pool (a subscribed connection takes no
 * other command), to the pool's first server, with the pool's AUTH. It
 * connects again after a loss, with a back-off, and subscribes again;
 * what was published meanwhile is lost, as Redis pub/sub has it.
 * Messages wait in a bounded queue of the subscription until
 * fpmd_redis_sub_next takes them. hiredis 0.14 has no async timeouts
 * (NOTES-LIBS §1): a timer of our own bounds the connect. */
#include "config.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "fpmd/log.h"
#include "pools/pool.h"
#include "pools/redis_sentinel.h"

#define QUEUE_MAX 1024          /* messages waiting; beyond, the oldest go */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define SUBS_MAX 64

struct message {
    char *channel;
    char *data;
    size_t len;
};

struct fpmd_redis_sub {
    const struct fpmd_conf_backend *conf;
    char *subs[SUBS_MAX];       /* channels, and patterns (with * ? [) */
    size_t nsubs;
    redisAsyncContext *ac;      /* NULL while down */
    bool up;                    /* subscribed, as far as we know */
    struct event timer;         /* connect deadline, then the back-off */
    uint64_t backoff_ms;
    struct message queue[QUEUE_MAX];
    size_t head, count;
    uint64_t dropped;
    struct fpmd_req *waiter;
    bool closing;
    struct fpmd_sentinel_waiter master;     /* a sentinel pool: waiting for
                                             * its master's address */
    bool waiting_master;
};

static void connect_now(struct fpmd_redis_sub *s);

static bool
is_pattern(const char *sub)
{
    return strpbrk(sub, "*?[") != NULL;
}

static void
arm(struct fpmd_redis_sub *s, uint64_t ms)
{
    struct timeval tv = {(time_t) (ms / 1000),
                         (suseconds_t) (ms % 1000) * 1000};

    evtimer_add(&s->timer, &tv);
}

/* Down: connect again after the back-off, which doubles up to its max
 * until a subscription goes through. */
static void
retry_later(struct fpmd_redis_sub *s, const char *why)
{
    if (s->up || s->backoff_ms == BACKOFF_MIN_MS)
        fpmd_log(FPMD_LOG_WARNING, "redis subscription on %s: %s; "
                 "connecting again", s->conf->name, why);
    s->up = false;
    s->ac = NULL;
    if (s->closing)
        return;
    arm(s, s->backoff_ms);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                       : s->backoff_ms * 2;
}

static void
push(struct fpmd_redis_sub *s, const redisReply *ch, const redisReply *data)
{
    static struct fpmd_log_tally dropped;
    struct message *m;

    if (s->count == QUEUE_MAX) {
        m = &s->queue[s->head];
        free(m->channel);
        free(m->data);
        s->head = (s->head + 1) % QUEUE_MAX;
        s->count--;
        s->dropped++;
        fpmd_log_tally(&dropped, FPMD_LOG_WARNING, "redis subscription on "
                       "%s: %d messages wait unread; the oldest are dropped",
                       s->conf->name, QUEUE_MAX);
    }
    m = &s->queue[(s->head + s->count) % QUEUE_MAX];
    m->channel = strndup(ch->str, ch->len);
    m->data = malloc(data->len + 1);
    if (m->channel == NULL || m->data == NULL) {
        free(m->channel);
        free(m->data);
        return;
    }
    memcpy(m->data, data->str, data->len);
    m->data[data->len] = '\0';
    m->len = data->len;
    s->count++;
    if (s->waiter != NULL)
        fpmd_req_wake(s->waiter);
}

/* Every reply of a subscribed connection: its subscribe confirmations,
 * then messages, for as long as it lives. */
static void
on_message(redisAsyncContext *ac, void *r, void *priv)
{
    struct fpmd_redis_sub *s = priv;
    const redisReply *reply = r;

    (void) ac;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 3)
        return;
    if (reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(reply->element[0]->str, "message") == 0)
        push(s, reply->element[1], reply->element[2]);
    else if (strcmp(reply->element[0]->str, "pmessage") == 0
             && reply->elements == 4)
        push(s, reply->element[2], reply->element[3]);
    else if (!s->up && (strcmp(reply->element[0]->str, "subscribe") == 0
                        || strcmp(reply->element[0]->str, "psubscribe") == 0)) {
        s->up = true;
        s->backoff_ms = BACKOFF_MIN_MS;
        evtimer_del(&s->timer);
    }
}

static void
on_auth(redisAsyncContext *ac, void *r, void *priv)
{
    struct fpmd_redis_sub *s = priv;
    const redisReply *reply = r;

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        fpmd_log(FPMD_LOG_WARNING, "redis subscription on %s: AUTH: %s",
                 s->conf->name, reply->str);
        redisAsyncDisconnect(ac);
    }
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
    struct fpmd_redis_sub *s = ac->data;

    if (s != NULL && status != REDIS_OK)
        retry_later(s, ac->errstr);     /* hiredis frees ac after this */
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    struct fpmd_redis_sub *s = ac->data;

    (void) status;
    if (s != NULL)
        retry_later(s, ac->errstr[0] ? ac->errstr : "connection closed");
}

/* Fires at the connect deadline (the connection is dropped and tried
 * again) or at the end of a back-off (a new connection). */
static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_redis_sub *s = arg;
    redisAsyncContext *ac = s->ac;

    (void) fd;
    (void) what;
    if (ac == NULL) {
        connect_now(s);
        return;
    }
    if (s->up)
        return;
    /* no callback of a dropped connection may reach s */
    ac->data = NULL;
    s->ac = NULL;
    redisAsyncFree(ac);
    retry_later(s, "no subscription within connect_timeout");
}

static void
on_master(struct fpmd_sentinel_waiter *w, bool ok, const char *why)
{
    struct fpmd_redis_sub *s = (struct fpmd_redis_sub *) ((char *) w
        - offsetof(struct fpmd_redis_sub, master));

    s->waiting_master = false;
    if (ok)
        connect_now(s);
    else
        retry_later(s, why);
}

static void
connect_now(struct fpmd_redis_sub *s)
{
    const struct fpmd_conf_server *srv = &s->conf->servers[0];
    const char *host = srv->host;
    unsigned port = srv->port;
    redisAsyncContext *ac;
    int ok;

    /* a sentinel pool's subscriptions go to its master */
    if (s->conf->nsentinels > 0) {
        struct fpmd_sentinel *sn = fpmd_sentinel_of(s->conf);

        if (sn == NULL) {
            retry_later(s, "out of memory");
            return;
        }
        if (!fpmd_sentinel_master(sn, &host, &port)) {
            s->master.cb = on_master;
            s->waiting_master = true;
            fpmd_sentinel_wait(sn, &s->master);
            return;
        }
    }
    ac = srv->path != NULL ? redisAsyncConnectUnix(srv->path)
                           : redisAsyncConnect(host, (int) port);

    if (ac == NULL || ac->err) {
        if (ac != NULL)
            redisAsyncFree(ac);
        retry_later(s, "cannot connect");
        return;
    }
    ac->data = s;
    ok = redisLibeventAttach(ac, fpmd_pool_base()) == REDIS_OK
        && redisAsyncSetConnectCallback(ac, on_connect) == REDIS_OK
        && redisAsyncSetDisconnectCallback(ac, on_disconnect) == REDIS_OK;
    if (ok && s->conf->password != NULL)
        ok = (s->conf->user != NULL
                  ? redisAsyncCommand(ac, on_auth, s, "AUTH %s %s",
                                      s->conf->user, s->conf->password)
                  : redisAsyncCommand(ac, on_auth, s, "AUTH %s",
                                      s->conf->password)) == REDIS_OK;
    for (size_t i = 0; ok && i < s->nsubs; i++)
        ok = redisAsyncCommand(ac, on_message, s, is_pattern(s->subs[i])
                               ? "PSUBSCRIBE %s" : "SUBSCRIBE %s",
                               s->subs[i]) == REDIS_OK;
    if (!ok) {
        ac->data = NULL;
        redisAsyncFree(ac);
        retry_later(s, "connection setup failed");
        return;
    }
    s->ac = ac;
    arm(s, s->conf->connect_timeout_ms ? s->conf->connect_timeout_ms : 1000);
}

struct fpmd_redis_sub *
fpmd_redis_subscribe(const char *pool, const char *channels)
{
    struct fpmd_pool *p = fpmd_pool_find(pool);
    const struct fpmd_conf_backend *conf = p ? fpmd_pool_conf(p) : NULL;
    struct fpmd_redis_sub *s;
    char *copy, *save = NULL;

    if (conf == NULL || conf->driver != FPMD_DRIVER_REDIS
        || conf->nservers == 0 || fpmd_pool_base() == NULL)
        return NULL;
    s = calloc(1, sizeof(*s));
    copy = strdup(channels);
    if (s == NULL || copy == NULL) {
        free(s);
        free(copy);
        return NULL;
    }
    s->conf = conf;
    evtimer_assign(&s->timer, fpmd_pool_base(), on_timer, s);
    for (char *w = strtok_r(copy, " ", &save); w != NULL;
         w = strtok_r(NULL, " ", &save)) {
        if (s->nsubs == SUBS_MAX || (s->subs[s->nsubs] = strdup(w)) == NULL) {
            free(copy);
            fpmd_redis_unsubscribe(s);
            return NULL;
        }
        s->nsubs++;
    }
    free(copy);
    if (s->nsubs == 0) {
        fpmd_redis_unsubscribe(s);
        return NULL;
    }
    s->backoff_ms = BACKOFF_MIN_MS;
    connect_now(s);
    return s;
}

static void
on_wait_over(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    fpmd_req_wake(arg);
}

int
fpmd_redis_sub_next(struct fpmd_req *req, struct fpmd_redis_sub *s,
                    uint64_t timeout_ms, const char **channel,
                    const char **data, size_t *len)
{
    struct event deadline;
    struct message *m;
    char *copy;
    bool timed_out = false;
    int rc = FPMD_OK;

    if (s->count == 0 && timeout_ms > 0) {
        struct timeval tv = {(time_t) (timeout_ms / 1000),
                             (suseconds_t) (timeout_ms % 1000) * 1000};

        /* on this coroutine's stack: it stays while the coroutine waits */
        evtimer_assign(&deadline, fpmd_pool_base(), on_wait_over, req);
        evtimer_add(&deadline, &tv);
        s->waiter = req;
        while (s->count == 0 && rc == FPMD_OK && !timed_out) {
            rc = fpmd_req_suspend(req);
            timed_out = !evtimer_pending(&deadline, NULL);
        }
        s->waiter = NULL;
        evtimer_del(&deadline);
    }
    if (rc != FPMD_OK)
        return FPMD_ERROR;
    if (s->count == 0)
        return FPMD_AGAIN;
    m = &s->queue[s->head];
    *channel = fpmd_strdup(req, m->channel);
    copy = fpmd_alloc(req, m->len + 1);
    if (*channel == NULL || copy == NULL)
        return FPMD_ERROR;
    memcpy(copy, m->data, m->len + 1);
    *data = copy;
    *len = m->len;
    free(m->channel);
    free(m->data);
    s->head = (s->head + 1) % QUEUE_MAX;
    s->count--;
    return FPMD_OK;
}

void
fpmd_redis_unsubscribe(struct fpmd_redis_sub *s)
{
    if (s == NULL)
        return;
    s->closing = true;
    evtimer_del(&s->timer);
    if (s->waiting_master)
        fpmd_sentinel_unwait(fpmd_sentinel_of(s->conf), &s->master);
    if (s->ac != NULL) {
        redisAsyncContext *ac = s->ac;

        ac->data = NULL;
        s->ac = NULL;
        redisAsyncFree(ac);
    }
    for (; s->count > 0; s->count--) {
        free(s->queue[s->head].channel);
        free(s->queue[s->head].data);
        s->head = (s->head + 1) % QUEUE_MAX;
    }
    for (size_t i = 0; i < s->nsubs; i++)
        free(s->subs[i]);
    free(s);
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* Redis Sentinel for a redis pool (redis_sentinel.h). Two kinds of
 * connections to the sentinels, each its own hiredis context on the
 * worker's loop: a short query (SENTINEL get-master-addr-by-name) when
 * the master is not known, tried on each sentinel in turn; and one
 * subscription to +switch-master, kept up with a back-off, through which
 * a failover is heard at once. A subscription that comes (back) up also
 * puts what was heard in doubt: a switch may have been missed while it
 * was down. hiredis 0.14 has no async timeouts (NOTES-LIBS §1): a timer
 * of our own bounds each query. */
#include "config.h"

#include <stdio.h>
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

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct fpmd_sentinel {
    const struct fpmd_conf_backend *conf;
    char host[64];
    unsigned port;
    bool known;
    uint64_t epoch;
    struct fpmd_sentinel_waiter *waiters;
    /* the query */
    redisAsyncContext *query;
    struct event query_timer;
    size_t asked;               /* sentinels asked in this round */
    size_t next;                /* the sentinel asked next */
    char why[160];              /* the last refusal of this round */
    /* the subscription */
    redisAsyncContext *sub;
    struct event sub_timer;     /* the back-off */
    uint64_t backoff_ms;
    size_t sub_next;
    bool sub_up;
    struct fpmd_sentinel *list;
};

static struct fpmd_sentinel *all;

static void query_next(struct fpmd_sentinel *s);
static void sub_connect(struct fpmd_sentinel *s);

static redisAsyncContext *
connect_to(struct fpmd_sentinel *s, const struct fpmd_conf_server *srv)
{
    redisAsyncContext *ac = srv->path != NULL
        ? redisAsyncConnectUnix(srv->path)
        : redisAsyncConnect(srv->host, (int) srv->port);

    if (ac == NULL || ac->err) {
        if (ac != NULL)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = s;
    if (redisLibeventAttach(ac, fpmd_pool_base()) != REDIS_OK
        || (s->conf->sentinel_password != NULL
            && redisAsyncCommand(ac, NULL, NULL, "AUTH %s",
                                 s->conf->sentinel_password) != REDIS_OK)) {
        ac->data = NULL;
        redisAsyncFree(ac);
        return NULL;
    }
    return ac;
}

/* Drops a context from outside its callbacks: none of them reaches s. */
static void
drop(redisAsyncContext **acp)
{
    redisAsyncContext *ac = *acp;

    *acp = NULL;
    if (ac != NULL) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
}

/* --- the query --------------------------------------------------------- */

static void
round_over(struct fpmd_sentinel *s, bool ok)
{
    struct fpmd_sentinel_waiter *w = s->waiters;

    evtimer_del(&s->query_timer);
    s->asked = 0;
    if (!ok)
        fpmd_log(FPMD_LOG_WARNING, "redis pool %s: no sentinel names master "
                 "%s (%s)", s->conf->name, s->conf->master_name, s->why);
    /* waiters may wait again from their callbacks: a list of their own */
    s->waiters = NULL;
    while (w != NULL) {
        struct fpmd_sentinel_waiter *next = w->next;

        w->cb(w, ok, ok ? "" : s->why);
        w = next;
    }
}

static void
set_master(struct fpmd_sentinel *s, const char *host, size_t hlen,
           unsigned port, const char *how)
{
    /* the same address heard again (a doubt cleared) changes nothing */
    bool changed = s->port != port || strlen(s->host) != hlen
        || strncmp(s->host, host, hlen) != 0;

    if (hlen >= sizeof(s->host) || port == 0 || port > 65535)
        return;
    if (changed)
        fpmd_log(FPMD_LOG_NOTICE, "redis pool %s: master %s is %.*s:%u "
                 "(%s)", s->conf->name, s->conf->master_name, (int) hlen,
                 host, port, how);
    memcpy(s->host, host, hlen);
    s->host[hlen] = '\0';
    s->port = port;
    s->known = true;
    if (changed) {
        struct fpmd_pool *p = fpmd_pool_find(s->conf->name);

        s->epoch++;
        /* nothing idle may go to the old master again */
        if (p != NULL)
            fpmd_pool_close_idle(p);
    }
}

static void
on_answer(redisAsyncContext *ac, void *r, void *priv)
{
    struct fpmd_sentinel *s = ac->data;
    const redisReply *reply = r;

    (void) priv;
    if (s == NULL || s->query != ac)
        return;
    s->query = NULL;
    ac->data = NULL;
    redisAsyncDisconnect(ac);
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY
        && reply->elements == 2
        && reply->element[0]->type == REDIS_REPLY_STRING
        && reply->element[1]->type == REDIS_REPLY_STRING) {
        set_master(s, reply->element[0]->str, reply->element[0]->len,
                   (unsigned) strtoul(reply->element[1]->str, NULL, 10),
                   "asked a sentinel");
        round_over(s, s->known);
        return;
    }
    snprintf(s->why, sizeof(s->why), "%s", reply == NULL ? "no answer"
             : reply->type == REDIS_REPLY_ERROR ? reply->str
             : "it does not know the name");
    query_next(s);
}

static void
on_query_connect(const redisAsyncContext *ac, int status)
{
    struct fpmd_sentinel *s = ac->data;

    if (s != NULL && status != REDIS_OK && s->query == ac) {
        s->query = NULL;        /* hiredis frees it after this */
        snprintf(s->why, sizeof(s->why), "%s", ac->errstr);
        query_next(s);
    }
}

static void
on_query_disconnect(const redisAsyncContext *ac, int status)
{
    struct fpmd_sentinel *s = ac->data;

    (void) status;
    if (s != NULL && s->query == ac) {
        s->query = NULL;
        snprintf(s->why, sizeof(s->why), "%s", ac->errstr[0] ? ac->errstr
                 : "connection closed");
        query_next(s);
    }
}

static void
on_query_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_sentinel *s = arg;

    (void) fd;
    (void) what;
    drop(&s->query);
    snprintf(s->why, sizeof(s->why), "no answer within connect_timeout");
    query_next(s);
}

/* Asks the next sentinel of this round; the round fails once each was
 * asked. */
static void
query_next(struct fpmd_sentinel *s)
{
    const struct fpmd_conf_backend *c = s->conf;
    uint64_t ms = c->connect_timeout_ms + c->timeout_ms;
    struct timeval tv = {(time_t) (ms / 1000),
                         (suseconds_t) (ms % 1000) * 1000};

    while (s->asked < c->nsentinels) {
        const struct fpmd_conf_server *srv = &c->sentinels[s->next];

        s->next = (s->next + 1) % c->nsentinels;
        s->asked++;
        s->query = connect_to(s, srv);
        if (s->query == NULL) {
            snprintf(s->why, sizeof(s->why), "cannot connect");
            continue;
        }
        if (redisAsyncSetConnectCallback(s->query, on_query_connect)
                == REDIS_OK
            && redisAsyncSetDisconnectCallback(s->query, on_query_disconnect)
                == REDIS_OK
            && redisAsyncCommand(s->query, on_answer, NULL,
                                 "SENTINEL get-master-addr-by-name %s",
                                 c->master_name) == REDIS_OK) {
            evtimer_add(&s->query_timer, &tv);
            return;
        }
        drop(&s->query);
    }
    round_over(s, false);
}

/* --- the subscription -------------------------------------------------- */

static void
sub_later(struct fpmd_sentinel *s)
{
    struct timeval tv = {(time_t) (s->backoff_ms / 1000),
                         (suseconds_t) (s->backoff_ms % 1000) * 1000};

    s->sub_up = false;
    s->sub_next = (s->sub_next + 1) % s->conf->nsentinels;
    evtimer_add(&s->sub_timer, &tv);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                       : s->backoff_ms * 2;
}

/* "+switch-master" messages: "NAME OLD-IP OLD-PORT NEW-IP NEW-PORT". */
static void
on_switch(redisAsyncContext *ac, void *r, void *priv)
{
    struct fpmd_sentinel *s = ac->data;
    const redisReply *reply = r;
    char name[256], ip[64];
    unsigned port;

    (void) priv;
    if (s == NULL || reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 3
        || reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(reply->element[0]->str, "subscribe") == 0) {
        s->sub_up = true;
        s->backoff_ms = BACKOFF_MIN_MS;
        /* a switch may have come while nobody listened */
        fpmd_sentinel_stale(s);
        return;
    }
    if (strcmp(reply->element[0]->str, "message") != 0
        || reply->element[2]->type != REDIS_REPLY_STRING
        || sscanf(reply->element[2]->str, "%255s %*s %*s %63s %u", name, ip,
                  &port) != 3
        || strcmp(name, s->conf->master_name) != 0)
        return;
    set_master(s, ip, strlen(ip), port, "+switch-master");
}

static void
on_sub_connect(const redisAsyncContext *ac, int status)
{
    struct fpmd_sentinel *s = ac->data;

    if (s != NULL && status != REDIS_OK && s->sub == ac) {
        s->sub = NULL;
        sub_later(s);
    }
}

static void
on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    struct fpmd_sentinel *s = ac->data;

    (void) status;
    if (s != NULL && s->sub == ac) {
        s->sub = NULL;
        if (s->sub_up)
            fpmd_log(FPMD_LOG_WARNING, "redis pool %s: the sentinel "
                     "subscription was lost (%s); subscribing again",
                     s->conf->name, ac->errstr[0] ? ac->errstr : "closed");
        sub_later(s);
    }
}

static void
on_sub_timer(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    sub_connect(arg);
}

static void
sub_connect(struct fpmd_sentinel *s)
{
    s->sub = connect_to(s, &s->conf->sentinels[s->sub_next]);
    if (s->sub != NULL
        && redisAsyncSetConnectCallback(s->sub, on_sub_connect) == REDIS_OK
        && redisAsyncSetDisconnectCallback(s->sub, on_sub_disconnect)
            == REDIS_OK
        && redisAsyncCommand(s->sub, on_switch, NULL,
                             "SUBSCRIBE +switch-master") == REDIS_OK)
        return;
    drop(&s->sub);
    sub_later(s);
}

/* --- the driver's side -------------------------------------------------- */

struct fpmd_sentinel *
fpmd_sentinel_of(const struct fpmd_conf_backend *conf)
{
    struct fpmd_sentinel *s;

    for (s = all; s != NULL; s = s->list) {
        if (s->conf == conf)
            return s;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->conf = conf;
    s->backoff_ms = BACKOFF_MIN_MS;
    evtimer_assign(&s->query_timer, fpmd_pool_base(), on_query_timer, s);
    evtimer_assign(&s->sub_timer, fpmd_pool_base(), on_sub_timer, s);
    s->list = all;
    all = s;
    sub_connect(s);
    return s;
}

bool
fpmd_sentinel_master(const struct fpmd_sentinel *s, const char **host,
                     unsigned *port)
{
    *host = s->host;
    *port = s->port;
    return s->known;
}

uint64_t
fpmd_sentinel_epoch(const struct fpmd_sentinel *s)
{
    return s->epoch;
}

void
fpmd_sentinel_wait(struct fpmd_sentinel *s, struct fpmd_sentinel_waiter *w)
{
    w->next = s->waiters;
    s->waiters = w;
    if (s->query == NULL && s->asked == 0)
        query_next(s);
}

void
fpmd_sentinel_unwait(struct fpmd_sentinel *s, struct fpmd_sentinel_waiter *w)
{
    for (struct fpmd_sentinel_waiter **pp = &s->waiters; *pp != NULL;
         pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

void
fpmd_sentinel_stale(struct fpmd_sentinel *s)
{
    s->known = false;
}

void
fpmd_sentinel_stop_all(void)
{
    while (all != NULL) {
        struct fpmd_sentinel *s = all;

        all = s->list;
        evtimer_del(&s->query_timer);
        evtimer_del(&s->sub_timer);
        drop(&s->query);
        drop(&s->sub);
        free(s);
    }
}

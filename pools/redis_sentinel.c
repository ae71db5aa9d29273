/* SPDX-License-Identifier: BSD-2-Clause */
/* Redis Sentinel for a redis pool (redis_sentinel.h). Two kinds of
 * connections to the sentinels, each its own hiredis context on the
 * worker's loop: short queries (SENTINEL get-master-addr-by-name when the
 * master is not known, SENTINEL replicas once replica reads were asked
 * for), each round trying the sentinels in turn; and one subscription,
 * kept up with a back-off, through which a failover (+switch-master) and
 * a replica going down, coming back or appearing (+sdown, -sdown,
 * +slave) are heard at once. A subscription that comes (back) up also
 * puts what was heard in doubt: a switch may have been missed while it
 * was down. A replica's link to its master coming up (in sync again after
 * a failover) has no event: the replicas are also asked for every
 * REPLICAS_REFRESH_MS. hiredis 0.14 has no async timeouts (NOTES-LIBS
 * §1): a timer of our own bounds each query. */
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
#include "pools/sentinel_replicas.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define REPLICAS_REFRESH_MS 2000

/* A query round: each sentinel asked in turn until one answers. */
struct query {
    struct fpmd_sentinel *s;
    const char *what;           /* SENTINEL's subcommand */
    /* One sentinel's answer: true when it settles the round. */
    bool (*answer)(struct fpmd_sentinel *s, const redisReply *r);
    /* The round is over: ok when a sentinel answered. */
    void (*over)(struct fpmd_sentinel *s, bool ok);
    redisAsyncContext *ac;
    struct event timer;
    size_t asked;               /* sentinels asked in this round */
    size_t next;                /* the sentinel asked next */
    char why[160];              /* the last refusal of this round */
};

struct fpmd_sentinel {
    const struct fpmd_conf_backend *conf;
    char host[64];
    unsigned port;
    bool known;
    uint64_t epoch;
    struct fpmd_sentinel_waiter *waiters;
    struct query master_q;
    /* the replicas, once replica reads were asked for */
    bool want_replicas;
    bool replicas_failed;       /* the last round failed: said once */
    struct query replicas_q;
    struct event refresh_timer;
    struct fpmd_replica_slot slots[FPMD_SENTINEL_MAX_REPLICAS];
    /* the subscription */
    redisAsyncContext *sub;
    struct event sub_timer;     /* the back-off */
    uint64_t backoff_ms;
    size_t sub_next;
    bool sub_up;
    struct fpmd_sentinel *list;
};

static struct fpmd_sentinel *all;

static void query_next(struct query *q);
static void sub_connect(struct fpmd_sentinel *s);

static redisAsyncContext *
connect_to(struct fpmd_sentinel *s, const struct fpmd_conf_server *srv,
           void *data)
{
    redisAsyncContext *ac = srv->path != NULL
        ? redisAsyncConnectUnix(srv->path)
        : redisAsyncConnect(srv->host, (int) srv->port);

    if (ac == NULL || ac->err) {
        if (ac != NULL)
            redisAsyncFree(ac);
        return NULL;
    }
    ac->data = data;
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

/* --- queries ------------------------------------------------------------ */

static void
round_over(struct query *q, bool ok)
{
    evtimer_del(&q->timer);
    q->asked = 0;
    q->over(q->s, ok);
}

static void
on_answer(redisAsyncContext *ac, void *r, void *priv)
{
    struct query *q = ac->data;
    const redisReply *reply = r;

    (void) priv;
    if (q == NULL || q->ac != ac)
        return;
    q->ac = NULL;
    ac->data = NULL;
    redisAsyncDisconnect(ac);
    if (reply != NULL && q->answer(q->s, reply)) {
        round_over(q, true);
        return;
    }
    snprintf(q->why, sizeof(q->why), "%s", reply == NULL ? "no answer"
             : reply->type == REDIS_REPLY_ERROR ? reply->str
             : "it does not know the name");
    query_next(q);
}

static void
on_query_connect(const redisAsyncContext *ac, int status)
{
    struct query *q = ac->data;

    if (q != NULL && status != REDIS_OK && q->ac == ac) {
        q->ac = NULL;           /* hiredis frees it after this */
        snprintf(q->why, sizeof(q->why), "%s", ac->errstr);
        query_next(q);
    }
}

static void
on_query_disconnect(const redisAsyncContext *ac, int status)
{
    struct query *q = ac->data;

    (void) status;
    if (q != NULL && q->ac == ac) {
        q->ac = NULL;
        snprintf(q->why, sizeof(q->why), "%s", ac->errstr[0] ? ac->errstr
                 : "connection closed");
        query_next(q);
    }
}

static void
on_query_timer(evutil_socket_t fd, short what, void *arg)
{
    struct query *q = arg;

    (void) fd;
    (void) what;
    drop(&q->ac);
    snprintf(q->why, sizeof(q->why), "no answer within connect_timeout");
    query_next(q);
}

/* Asks the next sentinel of this round; the round fails once each was
 * asked. */
static void
query_next(struct query *q)
{
    const struct fpmd_conf_backend *c = q->s->conf;
    uint64_t ms = c->connect_timeout_ms + c->timeout_ms;
    struct timeval tv = {(time_t) (ms / 1000),
                         (suseconds_t) (ms % 1000) * 1000};

    while (q->asked < c->nsentinels) {
        const struct fpmd_conf_server *srv = &c->sentinels[q->next];

        q->next = (q->next + 1) % c->nsentinels;
        q->asked++;
        q->ac = connect_to(q->s, srv, q);
        if (q->ac == NULL) {
            snprintf(q->why, sizeof(q->why), "cannot connect");
            continue;
        }
        if (redisAsyncSetConnectCallback(q->ac, on_query_connect) == REDIS_OK
            && redisAsyncSetDisconnectCallback(q->ac, on_query_disconnect)
                == REDIS_OK
            && redisAsyncCommand(q->ac, on_answer, NULL, "SENTINEL %s %s",
                                 q->what, c->master_name) == REDIS_OK) {
            evtimer_add(&q->timer, &tv);
            return;
        }
        drop(&q->ac);
    }
    round_over(q, false);
}

/* A round starts unless one runs. */
static void
query_start(struct query *q)
{
    if (q->ac == NULL && q->asked == 0)
        query_next(q);
}

static void
query_init(struct query *q, struct fpmd_sentinel *s, const char *what,
           bool (*answer)(struct fpmd_sentinel *, const redisReply *),
           void (*over)(struct fpmd_sentinel *, bool))
{
    q->s = s;
    q->what = what;
    q->answer = answer;
    q->over = over;
    evtimer_assign(&q->timer, fpmd_pool_base(), on_query_timer, q);
}

/* --- the master ---------------------------------------------------------- */

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

static bool
master_answer(struct fpmd_sentinel *s, const redisReply *reply)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
        return false;
    set_master(s, reply->element[0]->str, reply->element[0]->len,
               (unsigned) strtoul(reply->element[1]->str, NULL, 10),
               "asked a sentinel");
    return s->known;
}

static void
master_over(struct fpmd_sentinel *s, bool ok)
{
    struct fpmd_sentinel_waiter *w = s->waiters;

    if (!ok)
        fpmd_log(FPMD_LOG_WARNING, "redis pool %s: no sentinel names master "
                 "%s (%s)", s->conf->name, s->conf->master_name,
                 s->master_q.why);
    /* waiters may wait again from their callbacks: a list of their own */
    s->waiters = NULL;
    while (w != NULL) {
        struct fpmd_sentinel_waiter *next = w->next;

        w->cb(w, ok, ok ? "" : s->master_q.why);
        w = next;
    }
}

/* --- the replicas -------------------------------------------------------- */

/* A field of one entry of SENTINEL replicas (a flat name, value list). */
static const char *
field(const redisReply *entry, const char *name)
{
    for (size_t i = 0; i + 1 < entry->elements; i += 2) {
        if (entry->element[i]->type == REDIS_REPLY_STRING
            && entry->element[i + 1]->type == REDIS_REPLY_STRING
            && strcmp(entry->element[i]->str, name) == 0)
            return entry->element[i + 1]->str;
    }
    return NULL;
}

static bool
replicas_answer(struct fpmd_sentinel *s, const redisReply *reply)
{
    struct fpmd_replica_addr up[FPMD_MAX_BACKEND_SERVERS];
    bool changed[FPMD_SENTINEL_MAX_REPLICAS];
    struct fpmd_pool *p = fpmd_pool_find(s->conf->name);
    size_t nup = 0;

    if (reply->type != REDIS_REPLY_ARRAY)
        return false;
    for (size_t i = 0; i < reply->elements && nup < FPMD_ARRAY_LEN(up);
         i++) {
        const redisReply *e = reply->element[i];
        const char *ip, *port;

        if (e->type != REDIS_REPLY_ARRAY
            || !fpmd_replica_up(field(e, "flags"),
                                field(e, "master-link-status"))
            || (ip = field(e, "ip")) == NULL
            || (port = field(e, "port")) == NULL)
            continue;
        up[nup].host = ip;
        up[nup].hlen = strlen(ip);
        up[nup].port = (unsigned) strtoul(port, NULL, 10);
        nup++;
    }
    fpmd_replica_slots_update(s->slots, FPMD_ARRAY_LEN(s->slots), up, nup,
                              changed);
    for (size_t i = 0; i < FPMD_ARRAY_LEN(s->slots); i++) {
        if (!changed[i])
            continue;
        if (s->slots[i].filled)
            fpmd_log(FPMD_LOG_NOTICE, "redis pool %s: replica %s:%u of %s "
                     "reads in slot %zu", s->conf->name, s->slots[i].host,
                     s->slots[i].port, s->conf->master_name, i + 1);
        else
            fpmd_log(FPMD_LOG_NOTICE, "redis pool %s: slot %zu of %s's "
                     "replicas is empty", s->conf->name, i + 1,
                     s->conf->master_name);
        if (p != NULL)
            fpmd_pool_node_fill(p, 1 + i, s->slots[i].filled);
    }
    return true;
}

static void
replicas_over(struct fpmd_sentinel *s, bool ok)
{
    struct timeval tv = {REPLICAS_REFRESH_MS / 1000,
                         (REPLICAS_REFRESH_MS % 1000) * 1000};

    /* the slots stay as they were: their servers may well be fine */
    if (!ok && !s->replicas_failed)
        fpmd_log(FPMD_LOG_WARNING, "redis pool %s: no sentinel lists the "
                 "replicas of %s (%s); asking every %d ms", s->conf->name,
                 s->conf->master_name, s->replicas_q.why,
                 REPLICAS_REFRESH_MS);
    s->replicas_failed = !ok;
    evtimer_add(&s->refresh_timer, &tv);
}

static void
on_refresh_timer(evutil_socket_t fd, short what, void *arg)
{
    struct fpmd_sentinel *s = arg;

    (void) fd;
    (void) what;
    query_start(&s->replicas_q);
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

/* +sdown, -sdown and +slave: "slave NAME IP PORT @ MASTER IP PORT" for a
 * replica, "master NAME IP PORT" for a master. Ours when its master's
 * name (or its own, a master's) is the pool's. */
static bool
about_us(const struct fpmd_sentinel *s, const char *msg)
{
    char type[16], name[256], master[256];
    int n = sscanf(msg, "%15s %255s %*s %*s @ %255s", type, name, master);

    if (n >= 2 && strcmp(type, "master") == 0)
        return strcmp(name, s->conf->master_name) == 0;
    return n == 3 && strcmp(master, s->conf->master_name) == 0;
}

/* Messages: "+switch-master NAME OLD-IP OLD-PORT NEW-IP NEW-PORT", and
 * the replicas' events (about_us). */
static void
on_event(redisAsyncContext *ac, void *r, void *priv)
{
    struct fpmd_sentinel *s = ac->data;
    const redisReply *reply = r;
    const char *channel, *msg;
    char name[256], ip[64];
    unsigned port;

    (void) priv;
    if (s == NULL || reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 3
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(reply->element[0]->str, "subscribe") == 0) {
        s->sub_up = true;
        s->backoff_ms = BACKOFF_MIN_MS;
        /* a switch may have come while nobody listened */
        fpmd_sentinel_stale(s);
        fpmd_sentinel_replicas_stale(s);
        return;
    }
    if (strcmp(reply->element[0]->str, "message") != 0
        || reply->element[2]->type != REDIS_REPLY_STRING)
        return;
    channel = reply->element[1]->str;
    msg = reply->element[2]->str;
    if (strcmp(channel, "+switch-master") != 0) {
        if (about_us(s, msg))
            fpmd_sentinel_replicas_stale(s);
        return;
    }
    if (sscanf(msg, "%255s %*s %*s %63s %u", name, ip, &port) != 3
        || strcmp(name, s->conf->master_name) != 0)
        return;
    set_master(s, ip, strlen(ip), port, "+switch-master");
    /* the old master is a replica now, and the promoted one is not */
    fpmd_sentinel_replicas_stale(s);
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
    s->sub = connect_to(s, &s->conf->sentinels[s->sub_next], s);
    if (s->sub != NULL
        && redisAsyncSetConnectCallback(s->sub, on_sub_connect) == REDIS_OK
        && redisAsyncSetDisconnectCallback(s->sub, on_sub_disconnect)
            == REDIS_OK
        && redisAsyncCommand(s->sub, on_event, NULL,
                             "SUBSCRIBE +switch-master +sdown -sdown "
                             "+slave") == REDIS_OK)
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
    query_init(&s->master_q, s, "get-master-addr-by-name", master_answer,
               master_over);
    query_init(&s->replicas_q, s, "replicas", replicas_answer,
               replicas_over);
    evtimer_assign(&s->refresh_timer, fpmd_pool_base(), on_refresh_timer, s);
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
fpmd_sentinel_epoch(const struct fpmd_sentinel *s, int slot)
{
    return slot < 0 ? s->epoch : s->slots[slot].epoch;
}

void
fpmd_sentinel_want_replicas(struct fpmd_sentinel *s)
{
    if (s->want_replicas)
        return;
    s->want_replicas = true;
    query_start(&s->replicas_q);
}

bool
fpmd_sentinel_replica(const struct fpmd_sentinel *s, int slot,
                      const char **host, unsigned *port)
{
    *host = s->slots[slot].host;
    *port = s->slots[slot].port;
    return s->slots[slot].filled;
}

void
fpmd_sentinel_wait(struct fpmd_sentinel *s, struct fpmd_sentinel_waiter *w)
{
    w->next = s->waiters;
    s->waiters = w;
    query_start(&s->master_q);
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
fpmd_sentinel_replicas_stale(struct fpmd_sentinel *s)
{
    if (s->want_replicas)
        query_start(&s->replicas_q);
}

void
fpmd_sentinel_stop_all(void)
{
    while (all != NULL) {
        struct fpmd_sentinel *s = all;

        all = s->list;
        evtimer_del(&s->master_q.timer);
        evtimer_del(&s->replicas_q.timer);
        evtimer_del(&s->refresh_timer);
        evtimer_del(&s->sub_timer);
        drop(&s->master_q.ac);
        drop(&s->replicas_q.ac);
        drop(&s->sub);
        free(s);
    }
}

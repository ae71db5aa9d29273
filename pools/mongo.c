/* SPDX-License-Identifier: BSD-2-Clause */
/* The MongoDB driver. mongo-c-driver only blocks, so each mongo pool of a
 * worker owns a mongoc_client_pool_t (created in the worker, after fork)
 * and a few threads that run the blocking calls. The loop thread never
 * blocks:
 * - it takes clients with try_pop, never waiting, since the pool's max is
 *   the client pool's maxPoolSize;
 * - it hands jobs to the threads through a mutex-guarded queue;
 * - it gets finished jobs back through an eventfd.
 *
 * Every wait of the driver itself is bounded by URI options taken from the
 * pool's timeouts: serverSelectionTimeoutMS and connectTimeoutMS from
 * connect_timeout, socketTimeoutMS from timeout, waitQueueTimeoutMS from
 * wait_timeout. A connection is one client. A job still running when its
 * connection is closed (timeout, request gone) orphans it: the thread
 * finishes, and the client goes back to the client pool then.
 *
 * Documents cross as JSON text: json-c on the loop side, BSON on the
 * thread side, and nothing the request owns is touched by a thread. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <json-c/json.h>
#include <mongoc/mongoc.h>

#include "fpmd/log.h"
#include "pools/pool.h"

/* Above this many bytes of JSON a find fails rather than fill memory. */
#define RESULT_MAX (16u * 1024 * 1024)

enum job_kind {
    JOB_PING,                   /* a new connection proves the server */
    JOB_OP,
};

struct mpool;
struct mconn;

struct job {
    struct job *next;
    struct mconn *mc;
    enum job_kind kind;
    enum fpmd_mongo_op op;
    char *db, *coll;
    bson_t *filter, *doc, *opts;
    bool many;
    /* filled by the thread */
    bool ok;                    /* the server answered */
    int refused;                /* ...with an error of its own */
    uint32_t code;
    char msg[sizeof(((bson_error_t *) 0)->message)];
    char *json;                 /* the answer, malloc'd */
};

struct mpool {
    struct mpool *next;
    const struct fpmd_conf_backend *conf;
    mongoc_client_pool_t *clients;
    unsigned outstanding;       /* clients popped, not pushed back */
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *todo, **todo_tail, *done, **done_tail;
    int stopping;
    int efd;
    struct event efd_ev;
};

struct mconn {
    struct mpool *mp;
    struct fpmd_pool_conn *pc;
    mongoc_client_t *client;
    struct job *job;            /* in flight */
    int orphan;                 /* closed while its job runs */
    int broken;
};

struct mcall {
    enum fpmd_mongo_op op;
    char *coll;
    bson_t *filter, *doc, *opts;
    bool many;
    struct json_object *result;
    int refused;
    int code;
    const char *msg;
};

static struct mpool *mpools;
static int mongoc_ready;

/* --- the threads ------------------------------------------------------ */

static void
fail_job(struct job *j, const bson_error_t *err)
{
    /* Transport and selection errors say the server is not reachable;
     * anything else is the server's refusal. */
    j->ok = !(err->domain == MONGOC_ERROR_STREAM
              || err->domain == MONGOC_ERROR_SERVER_SELECTION
              || err->domain == MONGOC_ERROR_CLIENT);
    j->refused = j->ok;
    j->code = err->code;
    memcpy(j->msg, err->message, sizeof(j->msg));
    j->msg[sizeof(j->msg) - 1] = '\0';
}

static char *
append(char *buf, size_t *len, const char *s, size_t slen)
{
    char *grown;

    if (*len + slen + 1 > RESULT_MAX)
        return NULL;
    grown = realloc(buf, *len + slen + 1);
    if (grown == NULL)
        return NULL;
    memcpy(grown + *len, s, slen);
    *len += slen;
    grown[*len] = '\0';
    return grown;
}

static void
run_find(struct job *j, mongoc_collection_t *coll)
{
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(
        coll, j->filter, j->opts, NULL);
    const bson_t *doc;
    bson_error_t err;
    size_t len = 0;
    char *out = append(NULL, &len, "[", 1);

    while (out != NULL && mongoc_cursor_next(cur, &doc)) {
        size_t dlen;
        char *s = bson_as_relaxed_extended_json(doc, &dlen);

        if (s == NULL || (len > 1 && (out = append(out, &len, ",", 1))
                          == NULL)) {
            bson_free(s);
            break;
        }
        out = append(out, &len, s, dlen);
        bson_free(s);
    }
    if (mongoc_cursor_error(cur, &err)) {
        fail_job(j, &err);
        free(out);
    } else if (out == NULL || (out = append(out, &len, "]", 1)) == NULL) {
        j->ok = 1;
        j->refused = 1;
        snprintf(j->msg, sizeof(j->msg), "result over %u bytes of JSON",
                 RESULT_MAX);
    } else {
        j->ok = 1;
        j->json = out;
    }
    mongoc_cursor_destroy(cur);
}

static void
run_job(struct job *j)
{
    mongoc_client_t *client = j->mc->client;
    mongoc_collection_t *coll = NULL;
    bson_t reply = BSON_INITIALIZER;
    bson_error_t err;
    bool ok = true;
    int64_t n;

    if (j->kind == JOB_PING) {
        bson_t *ping = BCON_NEW("ping", BCON_INT32(1));

        ok = mongoc_client_command_simple(client, "admin", ping, NULL,
                                          &reply, &err);
        bson_destroy(ping);
        if (!ok)
            fail_job(j, &err);
        else
            j->ok = 1;
        bson_destroy(&reply);
        return;
    }
    if (j->coll != NULL)
        coll = mongoc_client_get_collection(client, j->db, j->coll);
    switch (j->op) {
    case FPMD_MONGO_FIND:
        run_find(j, coll);
        mongoc_collection_destroy(coll);
        bson_destroy(&reply);
        return;
    case FPMD_MONGO_INSERT:
        ok = mongoc_collection_insert_one(coll, j->doc, NULL, &reply, &err);
        break;
    case FPMD_MONGO_UPDATE:
        ok = j->many ? mongoc_collection_update_many(coll, j->filter, j->doc,
                                                     NULL, &reply, &err)
                     : mongoc_collection_update_one(coll, j->filter, j->doc,
                                                    NULL, &reply, &err);
        break;
    case FPMD_MONGO_DELETE:
        ok = j->many ? mongoc_collection_delete_many(coll, j->filter, NULL,
                                                     &reply, &err)
                     : mongoc_collection_delete_one(coll, j->filter, NULL,
                                                    &reply, &err);
        break;
    case FPMD_MONGO_COUNT:
        n = mongoc_collection_count_documents(coll, j->filter, NULL, NULL,
                                              &reply, &err);
        ok = n >= 0;
        if (ok) {
            bson_reinit(&reply);
            BSON_APPEND_INT64(&reply, "n", n);
        }
        break;
    case FPMD_MONGO_COMMAND:
        ok = mongoc_client_command_simple(client, j->db, j->doc, NULL,
                                          &reply, &err);
        break;
    }
    if (ok) {
        j->ok = 1;
        j->json = bson_as_relaxed_extended_json(&reply, NULL);
    } else {
        fail_job(j, &err);
    }
    bson_destroy(&reply);
    if (coll != NULL)
        mongoc_collection_destroy(coll);
}

static void *
thread_main(void *arg)
{
    struct mpool *mp = arg;
    uint64_t one = 1;

    pthread_mutex_lock(&mp->lock);
    for (;;) {
        struct job *j;
        int orphan;

        while (mp->todo == NULL && !mp->stopping)
            pthread_cond_wait(&mp->cond, &mp->lock);
        if (mp->todo == NULL)
            break;
        j = mp->todo;
        mp->todo = j->next;
        if (mp->todo == NULL)
            mp->todo_tail = &mp->todo;
        orphan = j->mc->orphan;
        pthread_mutex_unlock(&mp->lock);
        if (!orphan)
            run_job(j);
        pthread_mutex_lock(&mp->lock);
        j->next = NULL;
        *mp->done_tail = j;
        mp->done_tail = &j->next;
        if (write(mp->efd, &one, sizeof(one)) < 0)
            break;
    }
    pthread_mutex_unlock(&mp->lock);
    return NULL;
}

/* --- the loop side ---------------------------------------------------- */

static void
free_job(struct job *j)
{
    free(j->db);
    free(j->coll);
    if (j->filter != NULL)
        bson_destroy(j->filter);
    if (j->doc != NULL)
        bson_destroy(j->doc);
    if (j->opts != NULL)
        bson_destroy(j->opts);
    bson_free(j->json);
    free(j);
}

static void
release_client(struct mconn *mc)
{
    mongoc_client_pool_push(mc->mp->clients, mc->client);
    mc->mp->outstanding--;
    free(mc);
}

static void
put_json(void *o)
{
    json_object_put(o);
}

/* A finished job back on the loop: report it to the pool. */
static void
job_done(struct job *j)
{
    struct mconn *mc = j->mc;
    struct fpmd_pool_conn *pc = mc->pc;
    struct fpmd_call *call;
    struct mcall *d;

    mc->job = NULL;
    if (mc->orphan) {
        release_client(mc);
        return;
    }
    if (!j->ok) {
        mc->broken = 1;
        fpmd_pool_conn_lost(pc, j->msg);
        return;
    }
    if (j->kind == JOB_PING) {
        fpmd_pool_conn_up(pc);
        return;
    }
    call = pc->call;
    if (call != NULL) {
        d = call->driver;
        if (j->refused) {
            d->refused = 1;
            d->code = (int) j->code;
            d->msg = fpmd_strdup(call->req, j->msg);
        } else {
            d->result = json_tokener_parse(j->json ? j->json : "null");
            if (d->result != NULL
                && fpmd_defer(call->req, put_json, d->result) != FPMD_OK) {
                json_object_put(d->result);
                d->result = NULL;
            }
            if (d->result == NULL) {
                d->refused = 1;
                d->msg = "the answer could not be read back";
            }
        }
    }
    fpmd_pool_conn_done(pc);
}

static void
on_efd(evutil_socket_t fd, short what, void *arg)
{
    struct mpool *mp = arg;
    struct job *list, *next;
    uint64_t n;

    (void) what;
    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&mp->lock);
    list = mp->done;
    mp->done = NULL;
    mp->done_tail = &mp->done;
    pthread_mutex_unlock(&mp->lock);
    for (; list != NULL; list = next) {
        next = list->next;
        job_done(list);
        free_job(list);
    }
}

static void
submit(struct mpool *mp, struct job *j)
{
    j->next = NULL;
    j->mc->job = j;
    pthread_mutex_lock(&mp->lock);
    *mp->todo_tail = j;
    mp->todo_tail = &j->next;
    pthread_cond_signal(&mp->cond);
    pthread_mutex_unlock(&mp->lock);
}

/* mongo-c-driver logs to stdout by default, every 500 ms while a server
 * is down; only its warnings and errors reach fpmd's log. */
static void
on_mongoc_log(mongoc_log_level_t level, const char *domain,
              const char *message, void *user)
{
    (void) user;
    if (level <= MONGOC_LOG_LEVEL_WARNING)
        fpmd_log(level <= MONGOC_LOG_LEVEL_CRITICAL ? FPMD_LOG_ERROR
                                                    : FPMD_LOG_WARNING,
                 "mongoc %s: %s", domain, message);
}

/* RFC 3986 percent-encoding of everything but unreserved bytes. */
static void
put_escaped(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char) *s;

        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
            || (ch >= '0' && ch <= '9') || strchr("-._~", ch) != NULL)
            fputc(ch, f);
        else
            fprintf(f, "%%%02X", ch);
    }
}

static char *
uri_of(const struct fpmd_conf_backend *b)
{
    char *uri = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&uri, &len);

    if (f == NULL)
        return NULL;
    fputs("mongodb://", f);
    if (b->user != NULL) {
        put_escaped(f, b->user);
        if (b->password != NULL) {
            fputc(':', f);
            put_escaped(f, b->password);
        }
        fputc('@', f);
    }
    for (size_t i = 0; i < b->nservers; i++) {
        const struct fpmd_conf_server *s = &b->servers[i];

        if (i > 0)
            fputc(',', f);
        if (s->path != NULL)
            put_escaped(f, s->path);
        else
            fprintf(f, strchr(s->host, ':') ? "[%s]:%u" : "%s:%u", s->host,
                    s->port);
    }
    fprintf(f, "/?serverSelectionTimeoutMS=%llu&connectTimeoutMS=%llu"
            "&socketTimeoutMS=%llu&waitQueueTimeoutMS=%llu&maxPoolSize=%u",
            (unsigned long long) b->connect_timeout_ms,
            (unsigned long long) b->connect_timeout_ms,
            (unsigned long long) b->timeout_ms,
            (unsigned long long) b->wait_timeout_ms, b->max);
    if (fclose(f) != 0) {
        free(uri);
        return NULL;
    }
    return uri;
}

static struct mpool *
mpool_for(const struct fpmd_conf_backend *b, char *error, size_t len)
{
    struct mpool *mp;
    mongoc_uri_t *uri;
    bson_error_t err;
    char *text;

    for (mp = mpools; mp != NULL; mp = mp->next) {
        if (mp->conf == b)
            return mp;
    }
    if (!mongoc_ready) {
        mongoc_init();
        mongoc_log_set_handler(on_mongoc_log, NULL);
        mongoc_ready = 1;
    }
    mp = calloc(1, sizeof(*mp));
    text = uri_of(b);
    if (mp == NULL || text == NULL) {
        free(mp);
        free(text);
        snprintf(error, len, "out of memory");
        return NULL;
    }
    uri = mongoc_uri_new_with_error(text, &err);
    free(text);
    mp->conf = b;
    mp->clients = uri ? mongoc_client_pool_new_with_error(uri, &err) : NULL;
    mongoc_uri_destroy(uri);
    if (mp->clients == NULL) {
        snprintf(error, len, "%s", err.message);
        free(mp);
        return NULL;
    }
    mongoc_client_pool_set_error_api(mp->clients, MONGOC_ERROR_API_VERSION_2);
    mp->todo_tail = &mp->todo;
    mp->done_tail = &mp->done;
    pthread_mutex_init(&mp->lock, NULL);
    pthread_cond_init(&mp->cond, NULL);
    mp->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    mp->threads = calloc(b->threads, sizeof(*mp->threads));
    if (mp->efd < 0 || mp->threads == NULL) {
        snprintf(error, len, "eventfd or memory: %s", strerror(errno));
        mongoc_client_pool_destroy(mp->clients);
        if (mp->efd >= 0)
            close(mp->efd);
        free(mp->threads);
        free(mp);
        return NULL;
    }
    event_assign(&mp->efd_ev, fpmd_pool_base(), mp->efd,
                 EV_READ | EV_PERSIST, on_efd, mp);
    event_add(&mp->efd_ev, NULL);
    for (; mp->nthreads < b->threads; mp->nthreads++) {
        if (pthread_create(&mp->threads[mp->nthreads], NULL, thread_main,
                           mp) != 0)
            break;
    }
    mp->next = mpools;
    mpools = mp;
    return mp;
}

static int
drv_connect(struct fpmd_pool_conn *pc, char *error, size_t len)
{
    struct mpool *mp = mpool_for(fpmd_pool_conn_conf(pc), error, len);
    struct mconn *mc;
    struct job *j;

    if (mp == NULL)
        return FPMD_ERROR;
    if (mp->nthreads == 0) {
        snprintf(error, len, "no driver thread could start");
        return FPMD_ERROR;
    }
    mc = calloc(1, sizeof(*mc));
    j = calloc(1, sizeof(*j));
    if (mc == NULL || j == NULL) {
        free(mc);
        free(j);
        snprintf(error, len, "out of memory");
        return FPMD_ERROR;
    }
    mc->client = mongoc_client_pool_try_pop(mp->clients);
    if (mc->client == NULL) {
        free(mc);
        free(j);
        snprintf(error, len, "no client left in the client pool");
        return FPMD_ERROR;
    }
    mp->outstanding++;
    mc->mp = mp;
    mc->pc = pc;
    pc->driver = mc;
    j->mc = mc;
    j->kind = JOB_PING;
    submit(mp, j);
    return FPMD_OK;
}

static bson_t *
copy_bson(const bson_t *b)
{
    return b != NULL ? bson_copy(b) : NULL;
}

static int
drv_send(struct fpmd_pool_conn *pc)
{
    struct mconn *mc = pc->driver;
    struct mcall *d = pc->call->driver;
    const struct fpmd_conf_backend *conf = fpmd_pool_conn_conf(pc);
    struct job *j = calloc(1, sizeof(*j));

    if (j == NULL)
        return FPMD_ERROR;
    j->mc = mc;
    j->kind = JOB_OP;
    j->op = d->op;
    j->many = d->many;
    j->db = strdup(conf->database);
    j->coll = d->coll != NULL ? strdup(d->coll) : NULL;
    j->filter = copy_bson(d->filter);
    j->doc = copy_bson(d->doc);
    j->opts = copy_bson(d->opts);
    if (j->db == NULL || (d->coll != NULL && j->coll == NULL)) {
        free_job(j);
        return FPMD_ERROR;
    }
    submit(mc->mp, j);
    return FPMD_OK;
}

static int
drv_abandon(struct fpmd_pool_conn *pc)
{
    (void) pc;
    return 1;       /* the thread finishes; its answer is dropped */
}

static int
drv_reusable(struct fpmd_pool_conn *pc)
{
    struct mconn *mc = pc->driver;

    return !mc->broken;
}

static void
drv_close(struct fpmd_pool_conn *pc)
{
    struct mconn *mc = pc->driver;

    if (mc == NULL)
        return;
    pc->driver = NULL;
    if (mc->job != NULL) {
        pthread_mutex_lock(&mc->mp->lock);
        mc->orphan = 1;
        pthread_mutex_unlock(&mc->mp->lock);
        return;
    }
    release_client(mc);
}

static void
drv_stop(void)
{
    struct mpool *mp, *next;

    for (mp = mpools; mp != NULL; mp = next) {
        next = mp->next;
        pthread_mutex_lock(&mp->lock);
        mp->stopping = 1;
        pthread_cond_broadcast(&mp->cond);
        pthread_mutex_unlock(&mp->lock);
        /* Bounded: a running job ends within socketTimeoutMS. */
        for (unsigned i = 0; i < mp->nthreads; i++)
            pthread_join(mp->threads[i], NULL);
        /* The pools are gone: only orphans still have someone to answer. */
        while (mp->done != NULL) {
            struct job *j = mp->done;

            mp->done = j->next;
            if (j->mc->orphan)
                release_client(j->mc);
            free_job(j);
        }
        event_del(&mp->efd_ev);
        close(mp->efd);
        /* Clients still out belong to jobs that never came back. */
        if (mp->outstanding == 0)
            mongoc_client_pool_destroy(mp->clients);
        pthread_mutex_destroy(&mp->lock);
        pthread_cond_destroy(&mp->cond);
        free(mp->threads);
        free(mp);
    }
    mpools = NULL;
}

/* The operation and its collection; for a command, its name: the
 * command document's first key (the job's thread has a copy of its
 * own). */
static void
drv_describe(const struct fpmd_call *call, char *buf, size_t len)
{
    static const char *const names[] = {
        [FPMD_MONGO_FIND] = "find", [FPMD_MONGO_INSERT] = "insert",
        [FPMD_MONGO_UPDATE] = "update", [FPMD_MONGO_DELETE] = "delete",
        [FPMD_MONGO_COUNT] = "count", [FPMD_MONGO_COMMAND] = "command",
    };
    const struct mcall *d = call->driver;
    bson_iter_t it;

    if (d->op == FPMD_MONGO_COMMAND)
        snprintf(buf, len, "command %.64s",
                 bson_iter_init(&it, d->doc) && bson_iter_next(&it)
                     ? bson_iter_key(&it) : "");
    else
        snprintf(buf, len, "%s %.64s", names[d->op], d->coll);
}

static const struct fpmd_pool_driver mongo_driver = {
    "mongo", drv_connect, drv_send, drv_abandon, drv_reusable, drv_close,
    drv_stop, drv_describe,
};

__attribute__((constructor)) static void
register_mongo(void)
{
    fpmd_pool_driver_register(FPMD_DRIVER_MONGO, &mongo_driver);
}

/* --- the handler API -------------------------------------------------- */

static void
bson_put(void *b)
{
    bson_destroy(b);
}

/* NULL for a NULL object; *bad set when the JSON does not convert. */
static bson_t *
to_bson(struct fpmd_req *req, struct json_object *o, int *bad)
{
    const char *text;
    bson_error_t err;
    bson_t *b;

    if (o == NULL)
        return NULL;
    text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    b = bson_new_from_json((const uint8_t *) text, -1, &err);
    if (b == NULL || fpmd_defer(req, bson_put, b) != FPMD_OK) {
        if (b != NULL)
            bson_destroy(b);
        *bad = 1;
        return NULL;
    }
    return b;
}

struct fpmd_call *
fpmd_mongo_start(struct fpmd_req *req, const char *pool,
                 enum fpmd_mongo_op op, const struct fpmd_mongo_query *q)
{
    struct mcall *d = fpmd_alloc(req, sizeof(*d));
    struct fpmd_call *call;
    int bad = 0;

    if (d == NULL)
        return NULL;
    memset(d, 0, sizeof(*d));
    call = fpmd_pool_call_new(req, pool, &mongo_driver, d);
    if (call == NULL || call->state != FPMD_CALLST_NEW)
        return call;
    d->op = op;
    d->many = q->many;
    if (op != FPMD_MONGO_COMMAND) {
        if (q->collection == NULL || q->collection[0] == '\0') {
            fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "no collection");
            return call;
        }
        d->coll = fpmd_strdup(req, q->collection);
        if (d->coll == NULL)
            return NULL;
    }
    d->filter = to_bson(req, q->filter, &bad);
    d->doc = to_bson(req, q->doc, &bad);
    if (op == FPMD_MONGO_FIND && (q->projection || q->sort || q->limit)) {
        d->opts = bson_new();
        if (d->opts == NULL || fpmd_defer(req, bson_put, d->opts) != FPMD_OK)
            return NULL;
        if (q->projection != NULL) {
            bson_t *p = to_bson(req, q->projection, &bad);

            if (p != NULL)
                BSON_APPEND_DOCUMENT(d->opts, "projection", p);
        }
        if (q->sort != NULL) {
            bson_t *s = to_bson(req, q->sort, &bad);

            if (s != NULL)
                BSON_APPEND_DOCUMENT(d->opts, "sort", s);
        }
        if (q->limit != 0)
            BSON_APPEND_INT64(d->opts, "limit", q->limit);
    }
    if (d->filter == NULL && !bad && op != FPMD_MONGO_INSERT
        && op != FPMD_MONGO_COMMAND) {
        d->filter = bson_new();
        if (d->filter == NULL
            || fpmd_defer(req, bson_put, d->filter) != FPMD_OK)
            return NULL;
    }
    if (bad)
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "a document is not "
                            "valid JSON for BSON");
    else if (d->doc == NULL && (op == FPMD_MONGO_INSERT
                                || op == FPMD_MONGO_UPDATE
                                || op == FPMD_MONGO_COMMAND))
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "no document");
    else
        fpmd_pool_call_start(call, fpmd_pool_primary(call->pool, NULL, 0));
    return call;
}

struct json_object *
fpmd_mongo_result(const struct fpmd_call *call)
{
    const struct mcall *d = call->driver;

    return call->status == FPMD_CALL_OK && d != NULL && !d->refused
        ? d->result : NULL;
}

const char *
fpmd_mongo_error(const struct fpmd_call *call, int *code)
{
    const struct mcall *d = call->driver;

    if (call->status != FPMD_CALL_OK || d == NULL || !d->refused)
        return NULL;
    if (code != NULL)
        *code = d->code;
    return d->msg;
}

struct json_object *
fpmd_mongo(struct fpmd_req *req, const char *pool, enum fpmd_mongo_op op,
           const struct fpmd_mongo_query *q)
{
    struct fpmd_call *call = fpmd_mongo_start(req, pool, op, q);

    if (call == NULL || fpmd_await(req, call) != FPMD_OK)
        return NULL;
    return fpmd_mongo_result(call);
}

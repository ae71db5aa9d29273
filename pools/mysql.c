/* SPDX-License-Identifier: BSD-2-Clause */
/* The MySQL/MariaDB driver: MariaDB Connector/C's non-blocking API
 * (MYSQL_OPT_NONBLOCK, the _start/_cont pairs) on the worker's libevent
 * base, no threads. The connector's own timeouts are left unset: the
 * pool's timers bound every wait. Reconnect is off, as it must be: a
 * silent reconnect inside a transaction loses its first half (NOTES-LIBS
 * §2). A connection whose session changed (user variables, SET, USE,
 * LOCK...) is closed after its call rather than lent to someone else. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <json-c/json.h>
#include <mysql.h>

#include "fpmd/clock.h"
#include "fpmd/process.h"
#include "pools/mysql_scan.h"
#include "pools/pool.h"

enum op {
    OP_NONE,
    OP_CONNECT,
    OP_QUERY,
    OP_STORE,
};

/* The socket's read event stays armed for the connection's life: it
 * continues a statement waiting for the server, and on an idle connection
 * it reports that the server closed it (wait_timeout, KILL, a restart)
 * before anyone sends on it. Write waits are rare and one-shot. Keeping
 * the read event saves two epoll_ctl calls per statement. */
struct mconn {
    MYSQL *m;
    struct fpmd_pool_conn *pc;
    struct event rev, wev, later;
    unsigned rev_added:1, wev_added:1, later_added:1;
    int fd;                     /* the socket rev and wev watch */
    /* What the connector's suspended operation waits for; 0 when none is
     * suspended. A _cont call without one fails with 2014 ("commands out
     * of sync") and leaves the connection unusable, so events that come
     * while nothing waits are not passed on. */
    bool waiting;
    enum op op;
    /* the finished step's outcome, for a completion run later */
    MYSQL *connect_ret;
    int query_err;
    MYSQL_RES *res;
    unsigned dirty:1;           /* session state left behind */
    unsigned in_txn:1;
};

struct mcall {
    const char *sql;
    const char *const *params;
    size_t nparams;
    bool read;                  /* may go to a replica, may be retried */
    struct fpmd_mysql_result *result;
};

struct fpmd_mysql_txn {
    struct fpmd_req *req;
    const char *pool;
    struct fpmd_pool_pin pin;
};

static const struct fpmd_pool_driver mysql_driver;

static void step(struct mconn *mc, int ready);

/* --- statements ------------------------------------------------------- */

static int
word_at(const char *s, const char *word)
{
    size_t len = strlen(word);

    return strncasecmp(s, word, len) == 0
        && !isalnum((unsigned char) s[len]) && s[len] != '_';
}

static const char *
first_word(const char *sql)
{
    while (isspace((unsigned char) *sql) || *sql == '(')
        sql++;
    return sql;
}

static int
contains_word(const char *sql, const char *word)
{
    size_t len = strlen(word);

    for (const char *p = sql; *p != '\0'; p++) {
        if ((p == sql || !isalnum((unsigned char) p[-1]))
            && strncasecmp(p, word, len) == 0
            && !isalnum((unsigned char) p[len]))
            return 1;
    }
    return 0;
}

/* Reads change nothing, so they may go to a replica and be tried again
 * on a fresh connection. */
static bool
is_read(const char *sql)
{
    const char *w = first_word(sql);

    if (word_at(w, "SHOW") || word_at(w, "DESCRIBE") || word_at(w, "DESC")
        || word_at(w, "EXPLAIN"))
        return true;
    return word_at(w, "SELECT") && !contains_word(sql, "UPDATE")
        && !contains_word(sql, "SHARE") && !contains_word(sql, "INTO")
        && strchr(sql, '@') == NULL;
}

/* What the statement leaves in the session after it. */
static void
track(struct mconn *mc, const char *sql)
{
    static const char *const session[] = {
        "SET", "USE", "LOCK", "UNLOCK", "PREPARE", "DEALLOCATE", "HANDLER",
        "XA", "SAVEPOINT",
    };
    const char *w = first_word(sql);

    if (word_at(w, "BEGIN") || (word_at(w, "START")
                                && contains_word(sql, "TRANSACTION"))) {
        mc->in_txn = 1;
        return;
    }
    if (word_at(w, "COMMIT") || word_at(w, "ROLLBACK")) {
        mc->in_txn = 0;
        return;
    }
    for (size_t i = 0; i < FPMD_ARRAY_LEN(session); i++) {
        if (word_at(w, session[i]))
            mc->dirty = 1;
    }
    if (strchr(sql, '@') != NULL || (word_at(w, "CREATE")
                                     && contains_word(sql, "TEMPORARY")))
        mc->dirty = 1;
}

/* sql with its placeholders replaced, escaped for this connection. */
static char *
expand(struct mconn *mc, struct fpmd_req *req, const struct mcall *d,
       size_t *outlen)
{
    size_t offs[64], len = strlen(d->sql), need = len + 1, pos = 0, o = 0;
    char *out;

    if (d->nparams > FPMD_ARRAY_LEN(offs))
        return NULL;
    fpmd_mysql_scan_placeholders(d->sql, offs, FPMD_ARRAY_LEN(offs));
    for (size_t i = 0; i < d->nparams; i++)
        need += d->params[i] != NULL ? 2 * strlen(d->params[i]) + 2 : 4;
    out = fpmd_alloc(req, need);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < d->nparams; i++) {
        memcpy(out + o, d->sql + pos, offs[i] - pos);
        o += offs[i] - pos;
        pos = offs[i] + 1;
        if (d->params[i] == NULL) {
            memcpy(out + o, "NULL", 4);
            o += 4;
            continue;
        }
        out[o++] = '\'';
        o += mysql_real_escape_string(mc->m, out + o, d->params[i],
                                      strlen(d->params[i]));
        out[o++] = '\'';
    }
    memcpy(out + o, d->sql + pos, len - pos);
    o += len - pos;
    out[o] = '\0';
    *outlen = o;
    return out;
}

/* --- results ---------------------------------------------------------- */

static enum fpmd_mysql_type
type_of(enum enum_field_types t)
{
    switch (t) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_YEAR:
        return FPMD_MYSQL_INT;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
        return FPMD_MYSQL_REAL;
    default:
        return FPMD_MYSQL_TEXT;
    }
}

static struct fpmd_mysql_result *
new_result(struct fpmd_req *req, MYSQL *m)
{
    struct fpmd_mysql_result *r = fpmd_alloc(req, sizeof(*r));

    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->errcode = mysql_errno(m);
    r->sqlstate = fpmd_strdup(req, mysql_sqlstate(m));
    r->error = fpmd_strdup(req, mysql_error(m));
    if (r->sqlstate == NULL || r->error == NULL)
        return NULL;
    return r;
}

static int
copy_rows(struct fpmd_req *req, struct fpmd_mysql_result *r, MYSQL_RES *res)
{
    MYSQL_FIELD *fields = mysql_fetch_fields(res);
    unsigned ncols = mysql_num_fields(res);
    uint64_t nrows = mysql_num_rows(res);
    const char **cols = fpmd_alloc(req, (ncols + 1) * sizeof(*cols));
    enum fpmd_mysql_type *types = fpmd_alloc(req, (ncols + 1)
                                                  * sizeof(*types));
    const char ***rows;
    size_t **lens;
    MYSQL_ROW row;

    if (cols == NULL || types == NULL
        || nrows > SIZE_MAX / sizeof(*rows) / 2)
        return FPMD_ERROR;
    rows = fpmd_alloc(req, (size_t) (nrows + 1) * sizeof(*rows));
    lens = fpmd_alloc(req, (size_t) (nrows + 1) * sizeof(*lens));
    if (rows == NULL || lens == NULL)
        return FPMD_ERROR;
    for (unsigned j = 0; j < ncols; j++) {
        cols[j] = fpmd_strdup(req, fields[j].name);
        types[j] = type_of(fields[j].type);
        if (cols[j] == NULL)
            return FPMD_ERROR;
    }
    for (uint64_t i = 0; i < nrows && (row = mysql_fetch_row(res)) != NULL;
         i++) {
        unsigned long *l = mysql_fetch_lengths(res);

        rows[i] = fpmd_alloc(req, (ncols + 1) * sizeof(**rows));
        lens[i] = fpmd_alloc(req, (ncols + 1) * sizeof(**lens));
        if (rows[i] == NULL || lens[i] == NULL)
            return FPMD_ERROR;
        for (unsigned j = 0; j < ncols; j++) {
            lens[i][j] = l[j];
            rows[i][j] = row[j] != NULL
                ? fpmd_strndup(req, row[j], l[j]) : NULL;
            if (row[j] != NULL && rows[i][j] == NULL)
                return FPMD_ERROR;
        }
    }
    r->ncols = ncols;
    r->cols = cols;
    r->types = types;
    r->nrows = nrows;
    r->rows = (const char *const *const *) rows;
    r->lens = (const size_t *const *) lens;
    return FPMD_OK;
}

/* --- the connection's steps ------------------------------------------- */

static int stale(struct mconn *mc);

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
    struct mconn *mc = arg;

    (void) fd;
    (void) what;
    /* Idle, readable: the server closed it, unless the bytes were taken
     * already by a step that ran on the write event in this loop pass. */
    if (mc->op == OP_NONE) {
        if (stale(mc))
            fpmd_pool_conn_lost(mc->pc, "closed by the server while idle");
    } else if (mc->waiting != 0) {
        step(mc, MYSQL_WAIT_READ);
    }
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
    struct mconn *mc = arg;

    (void) fd;
    (void) what;
    mc->wev_added = 0;
    if (mc->waiting != 0)
        step(mc, MYSQL_WAIT_WRITE);
}

static void
on_later(evutil_socket_t fd, short what, void *arg)
{
    struct mconn *mc = arg;

    (void) fd;
    (void) what;
    mc->later_added = 0;
    step(mc, 0);
}

/* The connector closes its socket itself when the connection fails. Our
 * events must go before control returns to the loop: the next accept may
 * get the same descriptor number, and libevent, still counting our
 * interest in it, would never register the newcomer with epoll. */
static void
sync_fd(struct mconn *mc)
{
    if (mysql_get_socket(mc->m) == mc->fd)
        return;
    if (mc->rev_added)
        event_del(&mc->rev);
    if (mc->wev_added)
        event_del(&mc->wev);
    mc->rev_added = mc->wev_added = 0;
}

static void
wait_io(struct mconn *mc, int status)
{
    mc->waiting = status;
    sync_fd(mc);
    mc->fd = mysql_get_socket(mc->m);
    if (!mc->rev_added && mc->fd >= 0) {
        event_assign(&mc->rev, fpmd_pool_base(), mc->fd,
                     EV_READ | EV_PERSIST, on_read, mc);
        event_add(&mc->rev, NULL);
        mc->rev_added = 1;
    }
    if ((status & MYSQL_WAIT_WRITE) && !mc->wev_added && mc->fd >= 0) {
        event_assign(&mc->wev, fpmd_pool_base(), mc->fd,
                     EV_WRITE, on_write, mc);
        event_add(&mc->wev, NULL);
        mc->wev_added = 1;
    }
}

/* A step that finished inside the driver's own entry point reports on the
 * next loop pass, never on the pool's stack. */
static void
step_later(struct mconn *mc)
{
    wait_io(mc, 0);
    evtimer_assign(&mc->later, fpmd_pool_base(), on_later, mc);
    event_active(&mc->later, EV_TIMEOUT, 0);
    mc->later_added = 1;
}

static int
lost_code(unsigned code)
{
    return code == 2006 || code == 2013 || code == 2055;
}

/* The connection died under the current call. */
static void
died(struct mconn *mc)
{
    struct fpmd_pool_conn *pc = mc->pc;
    struct mcall *d = pc->call != NULL ? pc->call->driver : NULL;
    char msg[256];

    snprintf(msg, sizeof(msg), "%u %s", mysql_errno(mc->m),
             mysql_error(mc->m));
    mc->op = OP_NONE;
    if (d != NULL && d->read && !mc->in_txn && pc->pin == NULL)
        fpmd_pool_conn_retry(pc, msg);
    else
        fpmd_pool_conn_lost(pc, msg);
}

static void
finish(struct mconn *mc)
{
    struct fpmd_pool_conn *pc = mc->pc;
    struct fpmd_call *call = pc->call;
    struct mcall *d = call != NULL ? call->driver : NULL;
    MYSQL_RES *res = mc->res;

    mc->op = OP_NONE;
    mc->res = NULL;
    if (d != NULL) {
        d->result = new_result(call->req, mc->m);
        if (d->result != NULL) {
            if (d->result->errcode == 0)
                d->result->affected_rows = mysql_affected_rows(mc->m);
            d->result->insert_id = mysql_insert_id(mc->m);
            d->result->warnings = mysql_warning_count(mc->m);
            if (res != NULL && copy_rows(call->req, d->result, res)
                != FPMD_OK)
                d->result = NULL;
        }
    }
    if (res != NULL)
        mysql_free_result(res);
    if (d != NULL && d->result == NULL) {
        fpmd_pool_conn_lost(pc, "result too large for the request's memory");
        return;
    }
    fpmd_pool_conn_done(pc);
}

static void
store_done(struct mconn *mc)
{
    if (mc->res == NULL && mysql_field_count(mc->m) != 0
        && lost_code(mysql_errno(mc->m)))
        died(mc);
    else
        finish(mc);
}

/* Continues the connection's operation with the events that came (0: its
 * _start finished it already). */
static void
step(struct mconn *mc, int ready)
{
    char msg[256];
    int status = 0;

    mc->waiting = 0;
    switch (mc->op) {
    case OP_CONNECT:
        if (ready != 0)
            status = mysql_real_connect_cont(&mc->connect_ret, mc->m, ready);
        sync_fd(mc);
        if (status != 0)
            break;
        mc->op = OP_NONE;
        if (mc->connect_ret != NULL) {
            fpmd_pool_conn_up(mc->pc);
            return;
        }
        snprintf(msg, sizeof(msg), "%u %s", mysql_errno(mc->m),
                 mysql_error(mc->m));
        fpmd_pool_conn_lost(mc->pc, msg);
        return;
    case OP_QUERY:
        if (ready != 0)
            status = mysql_real_query_cont(&mc->query_err, mc->m, ready);
        sync_fd(mc);
        if (status != 0)
            break;
        if (mc->query_err != 0) {
            if (lost_code(mysql_errno(mc->m)))
                died(mc);
            else
                finish(mc);     /* the server's refusal is the answer */
            return;
        }
        mc->op = OP_STORE;
        status = mysql_store_result_start(&mc->res, mc->m);
        sync_fd(mc);
        if (status == 0)
            store_done(mc);
        break;
    case OP_STORE:
        status = mysql_store_result_cont(&mc->res, mc->m, ready);
        sync_fd(mc);
        if (status == 0)
            store_done(mc);
        break;
    default:
        return;
    }
    if (status != 0)
        wait_io(mc, status);
}

/* --- driver ----------------------------------------------------------- */

static int
drv_connect(struct fpmd_pool_conn *pc, char *error, size_t len)
{
    const struct fpmd_conf_backend *conf = fpmd_pool_conn_conf(pc);
    const struct fpmd_conf_server *s = fpmd_pool_node_conf(pc->node);
    struct mconn *mc = calloc(1, sizeof(*mc));
    unsigned proto = MYSQL_PROTOCOL_TCP;
    int status;

    if (mc == NULL || (mc->m = mysql_init(NULL)) == NULL) {
        free(mc);
        snprintf(error, len, "out of memory");
        return FPMD_ERROR;
    }
    mc->pc = pc;
    pc->driver = mc;
    mysql_options(mc->m, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(mc->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (s->path == NULL)
        mysql_options(mc->m, MYSQL_OPT_PROTOCOL, &proto);
    mc->op = OP_CONNECT;
    mc->fd = -1;
    status = mysql_real_connect_start(&mc->connect_ret, mc->m, s->host,
                                      conf->user, conf->password,
                                      conf->database, s->port, s->path, 0);
    if (status == 0 && mc->connect_ret == NULL) {
        snprintf(error, len, "%u %s", mysql_errno(mc->m),
                 mysql_error(mc->m));
        mysql_close(mc->m);
        free(mc);
        pc->driver = NULL;
        return FPMD_ERROR;
    }
    if (status == 0)
        step_later(mc);
    else
        wait_io(mc, status);
    return FPMD_OK;
}

/* The read event reports a server's close on its next loop pass; a
 * connection idle for a while is also checked right before use, so that a
 * close that has not been reported yet cannot take a write with it. */
static int
stale(struct mconn *mc)
{
    char b;
    ssize_t n = recv(mysql_get_socket(mc->m), &b, 1,
                     MSG_PEEK | MSG_DONTWAIT);

    return n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

static int
drv_send(struct fpmd_pool_conn *pc)
{
    struct mconn *mc = pc->driver;
    struct fpmd_call *call = pc->call;
    struct mcall *d = call->driver;
    size_t len;
    char *sql;
    int status;

    if (fpmd_mono_ns() / 1000 - pc->idle_since_us > 1000000 && stale(mc))
        return FPMD_AGAIN;
    sql = expand(mc, call->req, d, &len);
    if (sql == NULL)
        return FPMD_ERROR;
    track(mc, d->sql);
    mc->op = OP_QUERY;
    mc->query_err = 0;
    status = mysql_real_query_start(&mc->query_err, mc->m, sql, len);
    sync_fd(mc);
    if (status == 0)
        step_later(mc);
    else
        wait_io(mc, status);
    return FPMD_OK;
}

static int
drv_abandon(struct fpmd_pool_conn *pc)
{
    (void) pc;
    return 1;       /* the statement runs on; its result is dropped */
}

static int
drv_reusable(struct fpmd_pool_conn *pc)
{
    struct mconn *mc = pc->driver;

    return mc->op == OP_NONE && !mc->dirty && !mc->in_txn;
}

static void
drv_close(struct fpmd_pool_conn *pc)
{
    struct mconn *mc = pc->driver;

    if (mc == NULL)
        return;
    if (mc->rev_added)
        event_del(&mc->rev);
    if (mc->wev_added)
        event_del(&mc->wev);
    if (mc->later_added)
        event_del(&mc->later);
    if (mc->res != NULL)
        mysql_free_result(mc->res);
    /* Mid-statement the connector would write COM_QUIT into a half-done
     * exchange: cut the socket first so that nothing blocks. */
    if (mc->op != OP_NONE && mysql_get_socket(mc->m) >= 0)
        shutdown(mysql_get_socket(mc->m), SHUT_RDWR);
    mysql_close(mc->m);
    free(mc);
    pc->driver = NULL;
}

/* The statement's first 80 bytes, as the handler wrote it: parameters
 * stay out. */
static void
drv_describe(const struct fpmd_call *call, char *buf, size_t len)
{
    const struct mcall *d = call->driver;

    snprintf(buf, len, "%.80s%s", d->sql,
             strnlen(d->sql, 81) > 80 ? "..." : "");
}

static const struct fpmd_pool_driver mysql_driver = {
    "mysql", drv_connect, drv_send, drv_abandon, drv_reusable, drv_close,
    NULL, drv_describe,
};

__attribute__((constructor)) static void
register_mysql(void)
{
    fpmd_pool_driver_register(FPMD_DRIVER_MYSQL, &mysql_driver);
}

/* --- the handler API -------------------------------------------------- */

static struct fpmd_call *
new_call(struct fpmd_req *req, const char *pool, const char *sql,
         size_t nparams, const char *const *params,
         struct fpmd_pool_pin *pin)
{
    struct mcall *d = fpmd_alloc(req, sizeof(*d));
    struct fpmd_call *call;
    const char **copy;
    size_t holes;

    if (d == NULL)
        return NULL;
    memset(d, 0, sizeof(*d));
    call = fpmd_pool_call_new(req, pool, &mysql_driver, d);
    if (call == NULL || call->state != FPMD_CALLST_NEW)
        return call;
    call->pin = pin;
    d->sql = fpmd_strdup(req, sql != NULL ? sql : "");
    copy = fpmd_alloc(req, (nparams + 1) * sizeof(*copy));
    if (d->sql == NULL || copy == NULL)
        return NULL;
    for (size_t i = 0; i < nparams; i++) {
        copy[i] = params[i] != NULL ? fpmd_strdup(req, params[i]) : NULL;
        if (params[i] != NULL && copy[i] == NULL)
            return NULL;
    }
    d->params = copy;
    d->nparams = nparams;
    d->read = pin == NULL && is_read(d->sql);
    holes = fpmd_mysql_scan_placeholders(d->sql, NULL, 0);
    if (sql == NULL || holes != nparams)
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "%zu parameters for "
                            "%zu placeholders", nparams, holes);
    else if (nparams > 64)
        fpmd_pool_call_fail(call, FPMD_CALL_INVALID, "more than 64 "
                            "parameters");
    return call;
}

/* A statement's server. balancer: hash has no key in the statement: it
 * hashes the client's address, so that one client's reads stay on one
 * replica (and see its writes once that replica has them). */
static struct fpmd_pool_node *
pick(struct fpmd_call *call, bool replica)
{
    const char *addr = fpmd_req_remote_addr(call->req);
    size_t len = strlen(addr);
    const void *key = len > 0 ? addr : NULL;

    return replica ? fpmd_pool_replica(call->pool, key, len)
                   : fpmd_pool_primary(call->pool, key, len);
}

struct fpmd_call *
fpmd_mysql_start(struct fpmd_req *req, const char *pool, unsigned flags,
                 const char *sql, size_t nparams, const char *const *params)
{
    struct fpmd_call *call = new_call(req, pool, sql, nparams, params, NULL);
    const struct mcall *d;

    if (call == NULL || call->state != FPMD_CALLST_NEW)
        return call;
    d = call->driver;
    fpmd_pool_call_start(call, pick(call, d->read
                                          && !(flags & FPMD_MYSQL_PRIMARY)));
    return call;
}

const struct fpmd_mysql_result *
fpmd_mysql_result(const struct fpmd_call *call)
{
    const struct mcall *d = call->driver;

    return call->status == FPMD_CALL_OK && d != NULL ? d->result : NULL;
}

/* The const char * arguments after sql, one per placeholder. */
static const char **
va_params(struct fpmd_req *req, const char *sql, size_t *n, va_list ap)
{
    const char **params;

    *n = sql != NULL ? fpmd_mysql_scan_placeholders(sql, NULL, 0) : 0;
    params = fpmd_alloc(req, (*n + 1) * sizeof(*params));
    if (params == NULL)
        return NULL;
    for (size_t i = 0; i < *n; i++)
        params[i] = va_arg(ap, const char *);
    return params;
}

static const struct fpmd_mysql_result *
run(struct fpmd_req *req, struct fpmd_call *call)
{
    if (call == NULL || fpmd_await(req, call) != FPMD_OK)
        return NULL;
    return fpmd_mysql_result(call);
}

const struct fpmd_mysql_result *
fpmd_mysql(struct fpmd_req *req, const char *pool, const char *sql, ...)
{
    const char **params;
    va_list ap;
    size_t n;

    va_start(ap, sql);
    params = va_params(req, sql, &n, ap);
    va_end(ap);
    if (params == NULL)
        return NULL;
    return run(req, fpmd_mysql_start(req, pool, 0, sql, n, params));
}

static void
json_put(void *o)
{
    json_object_put(o);
}

struct json_object *
fpmd_mysql_json(struct fpmd_req *req, const struct fpmd_mysql_result *r)
{
    struct json_object *rows = json_object_new_array();

    if (rows == NULL || fpmd_defer(req, json_put, rows) != FPMD_OK) {
        json_object_put(rows);
        return NULL;
    }
    for (uint64_t i = 0; i < r->nrows; i++) {
        struct json_object *o = json_object_new_object(), *v;

        if (o == NULL)
            return NULL;
        json_object_array_add(rows, o);
        for (unsigned j = 0; j < r->ncols; j++) {
            const char *s = r->rows[i][j];

            if (s == NULL)
                v = NULL;
            else if (r->types[j] == FPMD_MYSQL_INT)
                v = json_object_new_int64(strtoll(s, NULL, 10));
            else if (r->types[j] == FPMD_MYSQL_REAL)
                v = json_object_new_double(strtod(s, NULL));
            else
                v = json_object_new_string_len(s, (int) r->lens[i][j]);
            json_object_object_add(o, r->cols[j], v);
        }
    }
    return rows;
}

/* --- transactions ----------------------------------------------------- */

static void
txn_end(void *arg)
{
    struct fpmd_mysql_txn *txn = arg;

    /* Still open when the request ends: the server rolls back when the
     * connection closes. */
    fpmd_pool_unpin(&txn->pin, 1);
}

static const struct fpmd_mysql_result *
txn_run(struct fpmd_mysql_txn *txn, const char *sql, size_t n,
        const char *const *params)
{
    struct fpmd_call *call = new_call(txn->req, txn->pool, sql, n, params,
                                      &txn->pin);

    if (call != NULL && call->state == FPMD_CALLST_NEW)
        fpmd_pool_call_start(call, pick(call, false));
    return run(txn->req, call);
}

struct fpmd_mysql_txn *
fpmd_mysql_begin(struct fpmd_req *req, const char *pool)
{
    struct fpmd_mysql_txn *txn = fpmd_alloc(req, sizeof(*txn));
    const struct fpmd_mysql_result *r;

    if (txn == NULL)
        return NULL;
    memset(txn, 0, sizeof(*txn));
    txn->req = req;
    txn->pool = pool;
    if (fpmd_defer(req, txn_end, txn) != FPMD_OK)
        return NULL;
    r = txn_run(txn, "BEGIN", 0, NULL);
    if (r == NULL || r->errcode != 0) {
        fpmd_pool_unpin(&txn->pin, 1);
        return NULL;
    }
    return txn;
}

const struct fpmd_mysql_result *
fpmd_mysql_txn(struct fpmd_mysql_txn *txn, const char *sql, ...)
{
    const char **params;
    va_list ap;
    size_t n;

    va_start(ap, sql);
    params = va_params(txn->req, sql, &n, ap);
    va_end(ap);
    if (params == NULL)
        return NULL;
    return txn_run(txn, sql, n, params);
}

static int
txn_finish(struct fpmd_mysql_txn *txn, const char *sql)
{
    const struct fpmd_mysql_result *r = txn_run(txn, sql, 0, NULL);
    int ok = r != NULL && r->errcode == 0;

    fpmd_pool_unpin(&txn->pin, !ok);
    return ok ? FPMD_OK : FPMD_ERROR;
}

int
fpmd_mysql_commit(struct fpmd_mysql_txn *txn)
{
    return txn_finish(txn, "COMMIT");
}

int
fpmd_mysql_rollback(struct fpmd_mysql_txn *txn)
{
    return txn_finish(txn, "ROLLBACK");
}

/* SPDX-License-Identifier: BSD-2-Clause */
/* The generic pool's state machine with a driver whose faults the test
 * picks: connects that fail at once, fail later or never finish; replies
 * that come, never come, or lose the connection. Requests are real: they
 * arrive over a socketpair at a worker set up in this process and run a
 * handler (below) that makes the calls, so waits, timeouts and aborts go
 * through the same event loop and coroutines as in the daemon. The fake
 * driver registers in place of the redis one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "fpmd/balance.h"
#include "fpmd/service.h"
#include "pools/pool.h"
#include "tests/worker_harness.h"

enum connect_mode { CONNECT_OK, CONNECT_FAIL_NOW, CONNECT_FAIL_LATER,
                    CONNECT_NEVER };
enum reply_mode { REPLY_OK, REPLY_NEVER, REPLY_LOST };

static struct {
    enum connect_mode connect;
    enum reply_mode reply;
    unsigned reply_ms;
    int reusable;
    unsigned refuse;        /* connects to the servers whose port's bit
                             * is set fail at once */
    unsigned connects, sends, closes, abandons;
    unsigned sent_to[4];    /* calls sent, by the server's port */
} fake;

/* A fake connection: its pending report is one timer event. */
struct fconn {
    struct fpmd_pool_conn *pc;
    struct event ev;
    int what;               /* 0 connect ok, 1 connect failed, 2 reply,
                             * 3 lost */
};

static void
on_fake(evutil_socket_t fd, short what, void *arg)
{
    struct fconn *f = arg;

    (void) fd;
    (void) what;
    switch (f->what) {
    case 0:
        fpmd_pool_conn_up(f->pc);
        break;
    case 1:
        fpmd_pool_conn_lost(f->pc, "refused later");
        break;
    case 2:
        fpmd_pool_conn_done(f->pc);
        break;
    default:
        fpmd_pool_conn_lost(f->pc, "reset");
        break;
    }
}

static void
later(struct fconn *f, int what, unsigned ms)
{
    struct timeval tv = {0, (suseconds_t) ms * 1000};

    f->what = what;
    evtimer_add(&f->ev, &tv);
}

static int
fake_connect(struct fpmd_pool_conn *pc, char *error, size_t len)
{
    struct fconn *f;

    fake.connects++;
    if (fake.connect == CONNECT_FAIL_NOW
        || (fake.refuse >> fpmd_pool_node_conf(pc->node)->port & 1) != 0) {
        snprintf(error, len, "refused");
        return FPMD_ERROR;
    }
    f = calloc(1, sizeof(*f));
    assert_non_null(f);
    f->pc = pc;
    pc->driver = f;
    evtimer_assign(&f->ev, fpmd_pool_base(), on_fake, f);
    if (fake.connect == CONNECT_OK)
        later(f, 0, 0);
    else if (fake.connect == CONNECT_FAIL_LATER)
        later(f, 1, 0);
    return FPMD_OK;
}

static int
fake_send(struct fpmd_pool_conn *pc)
{
    struct fconn *f = pc->driver;

    fake.sends++;
    fake.sent_to[fpmd_pool_node_conf(pc->node)->port]++;
    if (fake.reply == REPLY_OK)
        later(f, 2, fake.reply_ms);
    else if (fake.reply == REPLY_LOST)
        later(f, 3, 0);
    return FPMD_OK;
}

static int
fake_abandon(struct fpmd_pool_conn *pc)
{
    (void) pc;
    fake.abandons++;
    return 1;
}

static int
fake_reusable(struct fpmd_pool_conn *pc)
{
    (void) pc;
    return fake.reusable;
}

static void
fake_close(struct fpmd_pool_conn *pc)
{
    struct fconn *f = pc->driver;

    fake.closes++;
    if (f != NULL) {
        event_del(&f->ev);
        free(f);
    }
}

static const struct fpmd_pool_driver fake_driver = {
    "redis", fake_connect, fake_send, fake_abandon, fake_reusable,
    fake_close, NULL, NULL,
};


/* --- the handler making the calls ------------------------------------- */

#define MAX_CALLS 8

static enum fpmd_call_status results[MAX_CALLS];
static size_t nresults;

/* /u/calls?n=N: N calls at once on pool p, then wait for all; with
 * replica=1, reads that may go to a replica. */
FPMD_ROUTE(u_calls, "GET", "/u/calls")
{
    const char *n_arg = fpmd_req_query_arg(req, "n");
    size_t n = n_arg ? (size_t) atoi(n_arg) : 1;
    bool replica = fpmd_req_query_arg(req, "replica") != NULL;
    struct fpmd_call *calls[MAX_CALLS];

    for (size_t i = 0; i < n && i < MAX_CALLS; i++) {
        struct fpmd_pool *p = fpmd_pool_find("p");

        calls[i] = fpmd_pool_call_new(req, "p", &fake_driver, NULL);
        if (calls[i] == NULL)
            return FPMD_ERROR;
        fpmd_pool_call_start(calls[i], replica
                                           ? fpmd_pool_replica(p, NULL, 0)
                                           : fpmd_pool_primary(p, NULL, 0));
    }
    fpmd_await_all(req);
    nresults = 0;
    for (size_t i = 0; i < n && i < MAX_CALLS; i++)
        results[nresults++] = fpmd_call_status(calls[i]);
    return fpmd_reply(req, 200, "text/plain", "done\n", 5);
}

/* --- driving it ------------------------------------------------------- */

/* Told apart by their ports; the tests but the balancer's use the first. */
static struct fpmd_conf_server servers[3] = {
    {.host = "127.0.0.1", .port = 1}, {.host = "127.0.0.1", .port = 2},
    {.host = "127.0.0.1", .port = 3},
};
static struct fpmd_conf_backend backend;

static void
run_ms(unsigned ms)
{
    struct timeval tv = {0, (suseconds_t) ms * 1000};

    event_base_loopexit(fpmd_process.base, &tv);
    event_base_dispatch(fpmd_process.base);
}

/* Starts the pool afresh with backend's settings and a clean fake. */
static void
restart_pool(void)
{
    fpmd_services_stop();
    memset(&fake, 0, sizeof(fake));
    fake.reusable = 1;
    assert_int_equal(fpmd_services_start(fpmd_process.conf,
                                         fpmd_process.base), FPMD_OK);
}

static int
setup(void **state)
{
    struct fpmd_conf *conf;

    (void) state;
    signal(SIGPIPE, SIG_IGN);
    if (fpmd_test_worker_setup() != FPMD_OK)
        return -1;
    conf = (struct fpmd_conf *) fpmd_process.conf;
    backend.name = "p";
    backend.driver = FPMD_DRIVER_REDIS;
    backend.servers = servers;
    backend.nservers = 1;
    conf->backends = &backend;
    conf->nbackends = 1;
    fpmd_pool_driver_register(FPMD_DRIVER_REDIS, &fake_driver);
    return 0;
}

static void
defaults(void)
{
    backend.min = 0;
    backend.max = 4;
    backend.wait_queue = 8;
    backend.wait_timeout_ms = 100;
    backend.connect_timeout_ms = 50;
    backend.timeout_ms = 100;
    backend.idle_timeout_ms = 60000;
    backend.max_lifetime_ms = 0;
    backend.nservers = 1;
    backend.balanced = false;
    for (size_t i = 0; i < FPMD_ARRAY_LEN(servers); i++) {
        servers[i].role = FPMD_ROLE_PRIMARY;
        servers[i].weight = 0;
    }
    restart_pool();
}

/* n servers, picked by kind (or in failover order: balanced false). */
static void
servers_of(size_t n, bool balanced, enum fpmd_balance_kind kind)
{
    defaults();
    backend.nservers = n;
    backend.balanced = balanced;
    backend.balancer = kind;
    restart_pool();
}

/* Sends GET path, runs the loop until the answer is in (or 2 s). With
 * abort_after_ms, closes the client side that long after sending and
 * returns 0 without waiting for an answer. */
static int
request(const char *path, unsigned abort_after_ms)
{
    char buf[512], out[4096];
    int sv[2], done = 0;
    size_t used = 0;

    nresults = 0;
    snprintf(buf, sizeof(buf), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
                     0);
    assert_int_equal(fpmd_worker_take(sv[0], "test", FPMD_PROTO_HTTP),
                     FPMD_OK);
    assert_int_equal(write(sv[1], buf, strlen(buf)), (ssize_t) strlen(buf));
    if (abort_after_ms > 0) {
        run_ms(abort_after_ms);
        close(sv[1]);
        run_ms(5);
        return 0;
    }
    for (int turn = 0; turn < 400 && !done; turn++) {
        ssize_t n;

        run_ms(5);
        while ((n = read(sv[1], out + used, sizeof(out) - 1 - used)) > 0)
            used += (size_t) n;
        out[used] = '\0';
        done = strstr(out, "done\n") != NULL || strstr(out, " 500 ") != NULL;
    }
    close(sv[1]);
    run_ms(1);
    return done;
}

/* path requested until its n calls all succeed, at most 10 times: a
 * machine slow enough to let a back-off run out between two requests
 * sees the refusing server tried (and failing) again, and each failure
 * doubles its back-off, so the calls settle on the others. */
static bool
requests_all_ok(const char *path, size_t n)
{
    for (int tries = 0; tries < 10; tries++) {
        size_t ok = 0;

        assert_true(request(path, 0));
        for (size_t i = 0; i < n; i++)
            ok += results[i] == FPMD_CALL_OK;
        if (ok == n)
            return true;
    }
    return false;
}

static void
connect_failures_back_off_and_fail_fast(void **state)
{
    (void) state;
    defaults();
    struct timespec t0, t1;
    long elapsed_ms;
    int connects;

    fake.connect = CONNECT_FAIL_NOW;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_DOWN);
    assert_int_equal(fake.connects, 1);
    /* backed off for 50 ms: no connect attempt, an immediate 503 */
    assert_true(request("/u/calls?n=2", 0));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    elapsed_ms = (t1.tv_sec - t0.tv_sec) * 1000
        + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_int_equal(results[0], FPMD_CALL_DOWN);
    assert_int_equal(results[1], FPMD_CALL_DOWN);
    /* a machine too busy to make the second request within the back-off
     * sees one more (failed) attempt, and the next back-off doubled */
    if (elapsed_ms < 50)
        assert_int_equal(fake.connects, 1);
    else
        assert_in_range(fake.connects, 1, 2);
    connects = fake.connects;
    run_ms(connects == 1 ? 120 : 220);
    fake.connect = CONNECT_OK;
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_OK);
    assert_int_equal(fake.connects, connects + 1);
}

static void
connects_that_fail_later_or_hang_fail_their_waiters(void **state)
{
    (void) state;
    defaults();
    fake.connect = CONNECT_FAIL_LATER;
    assert_true(request("/u/calls?n=2", 0));
    assert_int_equal(results[0], FPMD_CALL_DOWN);
    assert_int_equal(results[1], FPMD_CALL_DOWN);

    defaults();
    backend.wait_timeout_ms = 1000;
    restart_pool();
    fake.connect = CONNECT_NEVER;
    assert_true(request("/u/calls?n=1", 0));
    /* connect_timeout (50 ms), well before wait_timeout (1 s) */
    assert_int_equal(results[0], FPMD_CALL_DOWN);
    assert_int_equal(fake.closes, 1);
}

static void
reply_timeout_closes_the_connection(void **state)
{
    (void) state;
    defaults();
    fake.reply = REPLY_NEVER;
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_TIMEOUT);
    assert_int_equal(fake.closes, 1);
    /* a late reply cannot reach the next call: it gets a new connection */
    fake.reply = REPLY_OK;
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_OK);
    assert_int_equal(fake.connects, 2);
}

static void
wait_queue_is_bounded_and_has_a_deadline(void **state)
{
    (void) state;
    defaults();
    backend.max = 1;
    backend.wait_queue = 1;
    backend.wait_timeout_ms = 50;
    backend.timeout_ms = 200;
    restart_pool();
    fake.reply = REPLY_NEVER;
    assert_true(request("/u/calls?n=3", 0));
    assert_int_equal(results[0], FPMD_CALL_TIMEOUT);     /* sent */
    assert_int_equal(results[1], FPMD_CALL_EXHAUSTED);   /* waited 50 ms */
    assert_int_equal(results[2], FPMD_CALL_EXHAUSTED);   /* queue full */
    assert_int_equal(fake.connects, 1);
}

static void
connections_are_reused_unless_the_driver_says_no(void **state)
{
    (void) state;
    defaults();
    for (int i = 0; i < 3; i++) {
        assert_true(request("/u/calls?n=1", 0));
        assert_int_equal(results[0], FPMD_CALL_OK);
    }
    assert_int_equal(fake.connects, 1);
    fake.reusable = 0;
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(fake.closes, 1);
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(fake.connects, 2);
}

static void
connection_lost_mid_call_fails_the_call(void **state)
{
    (void) state;
    defaults();
    fake.reply = REPLY_LOST;
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_FAILED);
    assert_int_equal(fake.closes, 1);
}

static void
aborted_request_drains_then_lends_the_connection_again(void **state)
{
    (void) state;
    defaults();
    fake.reply_ms = 40;
    request("/u/calls?n=1", 10);    /* client gone while the call is out */
    assert_int_equal(fake.abandons, 1);
    run_ms(60);                     /* the late reply drains */
    fake.reply_ms = 0;
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_OK);
    assert_int_equal(fake.connects, 1);
    assert_int_equal(fake.closes, 0);
}

static void
expired_connections_are_not_lent(void **state)
{
    (void) state;
    defaults();
    backend.max_lifetime_ms = 30;
    restart_pool();
    assert_true(request("/u/calls?n=1", 0));
    run_ms(50);
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_OK);
    assert_int_equal(fake.connects, 2);
    assert_true(fake.closes >= 1);
}

static void
without_a_balancer_primaries_go_in_failover_order(void **state)
{
    (void) state;
    servers_of(3, false, FPMD_BALANCE_ROUND_ROBIN);
    assert_true(request("/u/calls?n=6", 0));
    assert_int_equal(fake.sent_to[1], 6);
    /* the first refuses: backed off, it is passed over for the second */
    servers_of(3, false, FPMD_BALANCE_ROUND_ROBIN);
    fake.refuse = 1u << 1;
    assert_true(request("/u/calls?n=1", 0));
    assert_int_equal(results[0], FPMD_CALL_DOWN);
    assert_true(requests_all_ok("/u/calls?n=4", 4));
    assert_true(fake.sent_to[2] >= 4);
    assert_int_equal(fake.sent_to[3], 0);
}

static void
round_robin_spreads_calls_and_skips_a_backed_off_server(void **state)
{
    (void) state;
    servers_of(3, true, FPMD_BALANCE_ROUND_ROBIN);
    assert_true(request("/u/calls?n=6", 0));
    assert_int_equal(fake.sent_to[1], 2);
    assert_int_equal(fake.sent_to[2], 2);
    assert_int_equal(fake.sent_to[3], 2);
    servers_of(3, true, FPMD_BALANCE_ROUND_ROBIN);
    fake.refuse = 1u << 2;
    assert_true(request("/u/calls?n=3", 0));
    assert_int_equal(results[1], FPMD_CALL_DOWN);
    assert_true(requests_all_ok("/u/calls?n=4", 4));
    assert_int_equal(fake.sent_to[2], 0);
    /* the two left take turns */
    assert_in_range(fake.sent_to[1], fake.sent_to[3] - 1,
                    fake.sent_to[3] + 1);
}

static void
weighted_follows_the_weights(void **state)
{
    (void) state;
    servers_of(2, true, FPMD_BALANCE_WEIGHTED);
    servers[0].weight = 3;
    restart_pool();
    assert_true(request("/u/calls?n=8", 0));
    assert_int_equal(fake.sent_to[1], 6);
    assert_int_equal(fake.sent_to[2], 2);
}

static void
replica_reads_take_turns_then_fall_back_to_the_primary(void **state)
{
    (void) state;
    servers_of(3, false, FPMD_BALANCE_ROUND_ROBIN);
    servers[1].role = servers[2].role = FPMD_ROLE_REPLICA;
    restart_pool();
    assert_true(request("/u/calls?n=4&replica=1", 0));
    assert_int_equal(fake.sent_to[1], 0);
    assert_int_equal(fake.sent_to[2], 2);
    assert_int_equal(fake.sent_to[3], 2);
    /* writes never go to a replica */
    assert_true(request("/u/calls?n=2", 0));
    assert_int_equal(fake.sent_to[1], 2);
    /* both replicas refuse: once they are backed off, reads go to the
     * primary */
    restart_pool();
    fake.refuse = 1u << 2 | 1u << 3;
    assert_true(requests_all_ok("/u/calls?n=2&replica=1", 2));
    assert_true(fake.sent_to[1] >= 2);
    assert_int_equal(fake.sent_to[2] + fake.sent_to[3], 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_failures_back_off_and_fail_fast),
        cmocka_unit_test(connects_that_fail_later_or_hang_fail_their_waiters),
        cmocka_unit_test(reply_timeout_closes_the_connection),
        cmocka_unit_test(wait_queue_is_bounded_and_has_a_deadline),
        cmocka_unit_test(connections_are_reused_unless_the_driver_says_no),
        cmocka_unit_test(connection_lost_mid_call_fails_the_call),
        cmocka_unit_test(aborted_request_drains_then_lends_the_connection_again),
        cmocka_unit_test(expired_connections_are_not_lent),
        cmocka_unit_test(without_a_balancer_primaries_go_in_failover_order),
        cmocka_unit_test(
            round_robin_spreads_calls_and_skips_a_backed_off_server),
        cmocka_unit_test(weighted_follows_the_weights),
        cmocka_unit_test(
            replica_reads_take_turns_then_fall_back_to_the_primary),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}

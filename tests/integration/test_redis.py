# SPDX-License-Identifier: BSD-2-Clause
"""The Redis pool against real redis-server processes, driven through real
HTTP and FastCGI requests (tests/handlers/backends.c): handshake on every
connection, restarts, a stopped server, connections killed by the server,
exhaustion, session state that must not leak, replica reads and sharding
checked on the servers themselves, parallel calls, client aborts."""

import json
import os
import re
import socket
import threading
import time
import urllib.parse

import pytest

import fcgi_client as fc
from backends import (RECOVERY, Redis, many_clients,  # noqa: F401
                      no_worker_died, restart_under_load, start_fpmd,
                      wait_backend)
from conftest import (TIME_SCALE, config_check, connects_to, http_request,
                      wait_for)


def pool_yaml(name, *redis, **opts):
    lines = ["pools:", "  %s:" % name, "    driver: redis", "    servers:"]
    for r in redis:
        if isinstance(r, tuple):
            lines.append("      - { address: %s, role: %s }" % (r[0].address,
                                                                r[1]))
        else:
            lines.append("      - %s" % r.address)
    for k, v in opts.items():
        lines.append("    %s: %s" % (k, v))
    return "\n".join(lines) + "\n"


def url(path, pool, *cmds, **extra):
    q = [("pool", pool)] + [("cmd", c) for c in cmds] + list(extra.items())
    return path + "?" + urllib.parse.urlencode(q)


def call(hport, pool, *cmds, path="/t/redis", **extra):
    status, _, body = http_request(hport, "GET", url(path, pool, *cmds,
                                                     **extra), timeout=10)
    return status, json.loads(body)


@pytest.fixture
def redis(tmpdir_path, servers):
    r = Redis(tmpdir_path).start()
    servers.append(r)
    return r


def test_commands_pipeline_and_both_protocols(tmpdir_path, servers, redis):
    _, hport, fport = start_fpmd(tmpdir_path, servers,
                                 pool_yaml("cache", redis, max=4))
    status, j = call(hport, "cache", "SET k1 v1", "GET k1", "INCR n",
                     "GET missing", "NOSUCHCMD")
    assert status == 200, j
    assert j["replies"][:4] == ["OK", "v1", 1, None]
    assert "error" in j["replies"][4]          # the server's own answer
    assert redis.cmd("GET", "k1") == "v1"
    # the same handler over FastCGI
    r = fc.request(("127.0.0.1", fport), uri=url("/t/redis", "cache",
                                                 "GET k1"))
    st, _, body = r.split()
    assert st == 200 and json.loads(body)["replies"] == ["v1"]
    b = wait_backend(hport, "cache", lambda b: b["calls"] == 2
                     and b["in use"] == 0)
    assert b["size"] >= 1 and b["idle"] == b["size"]
    assert b["errors"] == 0



def test_slow_log_names_the_command_waited_on(tmpdir_path, servers, redis):
    f, hport, _ = start_fpmd(tmpdir_path, servers,
                             "timeouts: { slowlog: 1s }\n"
                             + pool_yaml("cache", redis, timeout="5s"))
    # a key a client made up, with a quote and a control byte, and a
    # pipeline behind it
    status, j = call(hport, "cache", 'BLPOP jobs:"x"\x1b[2J 2', "GET k")
    assert status == 200 and j["replies"] == [None, None], j
    m = f.wait_log(r"^waiting on: (.*) \(for (\d+\.\d\d) s\)$")
    assert m[0].group(1) == (
        "redis pool cache, server %s, BLPOP jobs:\\x22x\\x22\\x1B[2J "
        "(and 1 more)" % redis.address), f.logs()
    # the wait began after the request did, at most 1 s before the entry
    assert 0.5 <= float(m[0].group(2)) <= 1.0 + 0.9 * TIME_SCALE
    # in the entry, after its request line
    assert re.search(r'^request = "GET /t/redis\?.*"\nwaiting on: redis ',
                     f.log_text(), re.M)

def test_auth_and_select_on_every_connection(tmpdir_path, servers):
    r = Redis(tmpdir_path, password="s3cret").start()
    servers.append(r)
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", r, password="s3cret", database=3))
    assert call(hport, "cache", "SET where three")[0] == 200
    assert r.cmd("GET", "where", db=3) == "three"
    assert r.cmd("GET", "where") is None
    # restart on the same port: hiredis would not re-apply AUTH/SELECT
    r.stop()
    r.start()
    wait_for(lambda: call(hport, "cache", "SET again yes")[0] == 200, 10,
             "pool back after restart")
    assert r.cmd("GET", "again", db=3) == "yes"
    # a wrong password is a failed connect, not a served call
    bad = Redis(tmpdir_path, "bad", password="other").start()
    servers.append(bad)
    f2, h2, _ = start_fpmd(os.path.join(tmpdir_path, "b"), servers,
                           pool_yaml("cache", bad, password="nope"))
    status, j = call(h2, "cache", "GET x")
    assert status == 503 and "handshake refused" in j["error"], j


def test_restart_under_load_fails_fast_and_recovers(tmpdir_path, servers,
                                                    redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, timeout="500ms", connect_timeout="300ms"))
    results, back = restart_under_load(
        redis, lambda: call(hport, "cache", "INCR load")[0])
    failed = [r for r in results if r[2] != 200]
    assert failed, "the down window should fail calls"
    assert {r[2] for r in failed} <= {502, 503}, failed[:5]
    # no call waited much past its timeout (500 ms, 300 ms to connect)
    assert max(r[1] for r in results) < 2.0
    # recovery: every call started RECOVERY s after the server came back
    # succeeded
    late = [r for r in results if r[0] > back + RECOVERY]
    assert late and all(r[2] == 200 for r in late), late[:5]


def test_stopped_server_times_out_and_recovers(tmpdir_path, servers, redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, timeout="300ms", connect_timeout="300ms",
        wait_timeout="300ms"))
    assert call(hport, "cache", "SET a 1")[0] == 200
    redis.pause()
    try:
        for _ in range(3):
            t0 = time.time()
            status, j = call(hport, "cache", "GET a")
            took = time.time() - t0
            assert status in (503, 504), j
            # 300 ms timeouts, not the client's 10 s
            assert took < 2.0, took
    finally:
        redis.resume()
    t0 = time.time()
    wait_for(lambda: call(hport, "cache", "GET a")[0] == 200, RECOVERY,
             "recovery within %.1f s of SIGCONT" % RECOVERY)
    assert time.time() - t0 < RECOVERY
    wait_backend(hport, "cache", lambda b: b["timeouts"] >= 1)


def test_a_failing_server_gets_one_connect_at_a_time(tmpdir_path, servers,
                                                     redis):
    """Once a connect to it failed, a server gets one connect at a time
    until one succeeds, however many calls wait: a stopped server got one
    per waiting call (8 here), each abandoned at connect_timeout and
    opened again after the back-off."""
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, max=16, timeout="300ms", connect_timeout="400ms",
        wait_timeout="2s"))
    assert call(hport, "cache", "SET a 1")[0] == 200
    stop, seen = threading.Event(), []

    def load():
        while not stop.is_set():
            call(hport, "cache", "GET a")
    threads = [threading.Thread(target=load) for _ in range(8)]
    redis.pause()
    try:
        # its connection times out (504), then a connect to it does (503)
        wait_for(lambda: call(hport, "cache", "GET a")[0] == 503, 10,
                 "a failed connect")
        # the connection whose call timed out may still be closing
        before = connects_to(redis.port)
        for t in threads:
            t.start()
        end = time.time() + 1.5 * TIME_SCALE
        while time.time() < end:
            seen.append(len(connects_to(redis.port) - before))
            time.sleep(0.01)
    finally:
        stop.set()
        redis.resume()
        for t in threads:
            if t.ident is not None:
                t.join()
    assert max(seen) == 1, seen
    wait_for(lambda: call(hport, "cache", "GET a")[0] == 200, RECOVERY,
             "recovery within %.1f s of SIGCONT" % RECOVERY)


def test_connections_killed_by_the_server_are_replaced(tmpdir_path, servers,
                                                       redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, min=2))

    def pool_clients():
        """The ids of redis's clients but the one asking."""
        return {line.split()[0] for line in
                redis.cmd("CLIENT", "LIST").splitlines()
                if "cmd=client|list" not in line}

    old = wait_for(lambda: len(pool_clients()) >= 2 and pool_clients(), 10,
                   "min connections")
    assert redis.cmd("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes") >= 2
    # the idle connections saw EOF and left the pool, which opened min
    # anew: no call fails
    wait_for(lambda: len(pool_clients()) >= 2 and not pool_clients() & old,
             10, "min connections opened anew")
    for _ in range(5):
        assert call(hport, "cache", "PING")[0] == 200
    wait_backend(hport, "cache", lambda b: b["reconnects"] >= 1
                 and b["size"] >= 2)


def test_exhaustion_queues_then_answers_503(tmpdir_path, servers, redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, max=1, wait_queue=1, wait_timeout="200ms",
        timeout="3s"))
    # three calls at once on one connection: one runs (BLPOP 1 s), one
    # waits 200 ms then gives up, the third finds the queue full
    status, j = call(hport, "cache", "BLPOP nothing 1", "BLPOP nothing 1",
                     "BLPOP nothing 1", path="/t/redis-par")
    assert status == 503, j
    assert "wait_timeout" in j["error"] or "calls waiting" in j["error"], j
    b = wait_backend(hport, "cache", lambda b: b["exhausted"] >= 2)
    assert b["exhausted"] == 2 and b["size"] == 1


def test_exhaustion_is_warned_at_most_once_a_minute(tmpdir_path, servers,
                                                   redis):
    f, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, max=1, wait_queue=8, wait_timeout="5s",
        timeout="3s"))
    burst = ("BLPOP nothing 0.1",) * 3
    # three calls at once on one connection: two wait their turn
    status, j = call(hport, "cache", *burst, path="/t/redis-par")
    assert status == 200, j
    f.wait_log(r"pool cache exhausted 2 times in the last 1 s \(calls found "
               r"all max 1 connections busy; 0 failed at wait_queue or "
               r"wait_timeout\); consider raising max$")
    # more within the minute: counted, not said again
    assert call(hport, "cache", *burst, path="/t/redis-par")[0] == 200
    # the pool published the calls, so its tick has seen the waits
    wait_backend(hport, "cache", lambda b: b["calls"] == 6)
    assert f.log_text().count("pool cache exhausted") == 1


def test_session_state_never_leaks(tmpdir_path, servers, redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, max=1, database=1))
    # a MULTI left open: the next borrower must not be queued in it
    status, j = call(hport, "cache", "MULTI", "SET tx 1")
    assert j["replies"] == ["OK", "QUEUED"]
    status, j = call(hport, "cache", "GET tx")
    assert j["replies"] == [None]
    assert redis.cmd("GET", "tx", db=1) is None
    # SELECT by a handler: the next borrower is back in database 1
    call(hport, "cache", "SELECT 7", "SET moved 1")
    call(hport, "cache", "SET home 1")
    assert redis.cmd("GET", "home", db=1) == "1"
    assert redis.cmd("GET", "home", db=7) is None
    # WATCH left set: the next EXEC is not spoiled by it
    call(hport, "cache", "WATCH w")
    redis.cmd("SET", "w", "changed", db=1)
    status, j = call(hport, "cache", "MULTI", "SET w mine", "EXEC")
    assert j["replies"][2] == ["OK"]
    # subscribe and friends are refused outright
    status, j = call(hport, "cache", "SUBSCRIBE ch")
    assert status == 500 and "SUBSCRIBE" in j["error"]


def test_replica_reads_and_primary_writes(tmpdir_path, servers):
    primary = Redis(tmpdir_path, "primary").start()
    replica = Redis(tmpdir_path, "replica").start()
    servers += [primary, replica]
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", (primary, "primary"), (replica, "replica")))
    replica.cmd("SET", "where", "replica")
    primary.cmd("SET", "where", "primary")
    assert call(hport, "cache", "GET where", replica=1)[1]["replies"] == [
        "replica"]
    assert call(hport, "cache", "GET where")[1]["replies"] == ["primary"]
    call(hport, "cache", "SET written yes")
    assert primary.cmd("GET", "written") == "yes"
    assert replica.cmd("GET", "written") is None
    # replica gone: reads fall back to the primary
    replica.stop()
    wait_for(lambda: call(hport, "cache", "GET where", replica=1)[1].get(
        "replies") == ["primary"], 10, "fallback to the primary")


def test_sharding_spreads_keys_across_primaries(tmpdir_path, servers):
    shards = [Redis(tmpdir_path, "s%d" % i).start() for i in range(3)]
    servers += shards
    _, hport, _ = start_fpmd(tmpdir_path, servers,
                             pool_yaml("cache", *shards, shard="true"))
    keys = ["user:%d" % i for i in range(60)]
    for k in keys:
        assert call(hport, "cache", "SET %s %s" % (k, k))[0] == 200
    held = [set(s.cmd("KEYS", "user:*")) for s in shards]
    assert all(held), [len(h) for h in held]
    assert sum(len(h) for h in held) == 60
    assert set().union(*held) == set(keys)
    for k in keys[:10]:
        assert call(hport, "cache", "GET %s" % k)[1]["replies"] == [k]
    # a multi-key command whose keys are on different shards is refused,
    # never sent to one of them; a hash tag puts keys on one shard
    k0, k1 = sorted(held[0])[0], sorted(held[1])[0]
    status, body = call(hport, "cache", "MGET %s %s" % (k0, k1))
    assert status == 500 and "MGET: its keys are on different shards" in \
        body["error"], body
    status, j = call(hport, "cache", "MSET {cart:7}:items 3 {cart:7}:total 9",
                     "MGET {cart:7}:items {cart:7}:total")
    assert status == 200 and j["replies"] == ["OK", ["3", "9"]], j
    assert [bool(s.cmd("EXISTS", "{cart:7}:items")) for s in shards].count(
        True) == 1
    # every command of a pipeline goes to the same shard, or none does
    status, body = call(hport, "cache", "GET %s" % k0, "GET %s" % k1)
    assert status == 500 and "different shards" in body["error"], body
    status, body = call(hport, "cache", "EVAL return 2 %s %s" % (k0, k1))
    assert status == 500 and "EVAL: its keys are on different" in \
        body["error"], body
    status, body = call(hport, "cache", "ZUNIONSTORE d 2 a b")
    assert status == 500 and "cannot be routed on a sharded pool" in \
        body["error"], body


def balanced_yaml(servers, balancer, weights=None, role="primary"):
    lines = ["pools:", "  cache:", "    driver: redis",
             "    balancer: %s" % balancer, "    servers:"]
    for i, r in enumerate(servers):
        lines.append("      - { address: %s, role: %s%s }" % (
            r.address, role, ", weight: %d" % weights[i] if weights else ""))
    return "\n".join(lines) + "\n"


def hits(servers, key):
    return [int(r.cmd("GET", key) or 0) for r in servers]


def test_balancer_round_robin_spreads_and_skips_a_stopped_server(
        tmpdir_path, servers):
    rs = [Redis(tmpdir_path, "b%d" % i).start() for i in range(3)]
    servers += rs
    _, hport, _ = start_fpmd(tmpdir_path, servers,
                             balanced_yaml(rs, "round_robin"))
    for _ in range(30):
        assert call(hport, "cache", "INCR hits")[0] == 200
    assert hits(rs, "hits") == [10, 10, 10]
    rs[1].stop()
    t0, statuses = time.time(), []
    for _ in range(60):
        statuses.append(call(hport, "cache", "INCR after")[0])
    elapsed = time.time() - t0
    # the stopped one is backed off (50 ms doubling to 500 ms) and passed
    # over meanwhile: a call fails only when it is tried again
    failed = len([st for st in statuses if st != 200])
    assert failed <= 5 + elapsed / 0.5, (failed, elapsed)
    after = hits([rs[0], rs[2]], "after")
    assert sum(after) == 60 - failed and abs(after[0] - after[1]) <= 2, after


def test_balancer_weighted_spreads_by_weight(tmpdir_path, servers):
    rs = [Redis(tmpdir_path, "w%d" % i).start() for i in range(2)]
    servers += rs
    _, hport, _ = start_fpmd(tmpdir_path, servers,
                             balanced_yaml(rs, "weighted", weights=[3, 1]))
    for _ in range(40):
        assert call(hport, "cache", "INCR hits")[0] == 200
    assert hits(rs, "hits") == [30, 10]


def test_balancer_hash_keeps_keys_and_moves_only_a_stopped_servers(
        tmpdir_path, servers):
    rs = [Redis(tmpdir_path, "h%d" % i).start() for i in range(3)]
    servers += rs
    _, hport, _ = start_fpmd(tmpdir_path, servers, balanced_yaml(rs, "hash"))
    keys = ["k:%d" % i for i in range(60)]
    for k in keys:
        assert call(hport, "cache", "INCR %s" % k)[0] == 200

    def owners():
        return {k: [i for i, r in enumerate(rs) if r.cmd("EXISTS", k)]
                for k in keys}
    before = owners()
    # each key on one server, and every server holds some
    assert all(len(o) == 1 for o in before.values()), before
    assert {o[0] for o in before.values()} == {0, 1, 2}
    # the same key goes to the same server every time
    for k in keys[:20]:
        assert call(hport, "cache", "INCR %s" % k)[1]["replies"] == [2]
    # a hash tag decides: {u:7}:a and {u:7}:b share a server
    call(hport, "cache", "SET {u:7}:a 1")
    call(hport, "cache", "SET {u:7}:b 1")
    assert [bool(r.cmd("EXISTS", "{u:7}:a")) and bool(r.cmd(
        "EXISTS", "{u:7}:b")) for r in rs].count(True) == 1
    # server 1 stops: its keys move, the others' stay where they were
    rs[1].stop()
    for k in keys:
        wait_for(lambda: call(hport, "cache", "SET %s moved" % k)[0] == 200,
                 10, "SET %s" % k)
    for k in keys:
        held = [i for i in (0, 2) if rs[i].cmd("GET", k) == "moved"]
        if before[k] == [1]:
            assert len(held) == 1, (k, held)
        else:
            assert held == before[k], (k, held, before[k])


def test_balancer_config_errors(tmpdir_path):
    for extra, msg in (
            ("balancer: hash\n    shard: true",
             r"pools.cache: balancer: is not for a sharded pool"),
            ("balancer: fastest",
             r"balancer: \"fastest\" is not one of round_robin"),
            ("servers: [{ address: 127.0.0.1:1, weight: 2 }]",
             r"pools.cache: weight: goes with balancer:"),
            ("balancer: hash\n    servers: [127.0.0.1:1, 127.0.0.1:1]",
             r"balancer: hash needs each server once"),
            ("balancer: random\n"
             "    servers: [{ address: 127.0.0.1:1, weight: 1001 }]",
             r"weight")):
        yaml = "pools:\n  cache:\n    driver: redis\n    %s\n" % extra
        if "servers:" not in extra:
            yaml += "    servers: [127.0.0.1:1, 127.0.0.1:2]\n"
        rc, err, conf = config_check(tmpdir_path, yaml)
        assert rc == 78 and re.search(re.escape(conf) + r":\d+:\d+: .*"
                                      + msg, err), (extra, err)


def test_parallel_calls_take_the_slowest_not_the_sum(tmpdir_path, servers,
                                                     redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, timeout="5s"))
    status, j = call(hport, "cache", "BLPOP a 1", "BLPOP b 1", "BLPOP c 1",
                     path="/t/redis-par")
    assert status == 200 and j["replies"] == [None, None, None]
    # three 1 s waits in a row would be 3 s
    assert 950 <= j["ms"] < 2500, j


def test_client_abort_returns_the_connection_clean(tmpdir_path, servers,
                                                   redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, max=1, timeout="3s", wait_timeout="3s"))
    first = call(hport, "cache", "CLIENT ID")[1]["replies"][0]
    s = socket.create_connection(("127.0.0.1", hport))
    s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % url(
        "/t/redis", "cache", "BLPOP q 1")).encode())
    # the call is in flight on the only connection: redis has it blocked
    wait_for(lambda: int(redis.cmd("INFO", "clients").split(
        "blocked_clients:")[1].split()[0]) == 1, 10, "BLPOP blocked")
    s.close()
    # the pool drains BLPOP's late reply, then lends the same connection:
    # neither closed nor confused by the reply meant for the aborted call
    status, j = call(hport, "cache", "CLIENT ID", "RPUSH q x", "LPOP q")
    assert status == 200 and j["replies"] == [first, 1, "x"], j
    # three calls, the last one over
    b = wait_backend(hport, "cache", lambda b: b["calls"] >= 3
                     and b["in use"] == 0)
    assert b["size"] == 1 and b["errors"] == 0


def test_unknown_pool_is_a_clear_500(tmpdir_path, servers, redis):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml("cache", redis))
    status, j = call(hport, "nope", "GET a")
    assert status == 500 and "no pool named" in j["error"]


def test_concurrent_load_every_reply_is_its_own(tmpdir_path, servers, redis):
    """Many clients at once, each writing and reading back its own keys in
    pipelines: a reply is never handed to another caller, whether its
    connection was lent, queued for, or newly opened."""
    # the pool's timeouts are not what this tests: out of the way of a
    # loaded sanitizer build
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        "cache", redis, max=12, wait_timeout="10s", timeout="10s"))

    def ask(k, i):
        key, val = "c%d:%d" % (k, i), "v%d-%d" % (k, i)
        return [(url("/t/redis", "cache", "SET %s %s" % (key, val),
                      "GET %s" % key, "STRLEN %s" % key),
                 lambda j: j["replies"] == ["OK", val, len(val)])]

    wrong = many_clients(hport, 48, 100, ask)
    assert not wrong, wrong[:3]

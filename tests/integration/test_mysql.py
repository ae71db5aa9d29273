# SPDX-License-Identifier: BSD-2-Clause
"""The MySQL pool against real mariadbd processes, driven through HTTP
requests to tests/handlers/backends.c: escaping, server errors, results,
parallel statements, transactions (commit, rollback, left open, connection
lost inside one), connections the server closes, a stopped and a restarted
server, session state that must not leak, and the read/write split checked
on the servers themselves."""

import json
import threading
import time
import urllib.parse

import pytest

from backends import (RECOVERY, Mariadb, many_clients,  # noqa: F401
                      no_worker_died, restart_under_load, start_fpmd,
                      wait_backend)
from conftest import (TIME_SCALE, Fpmd, demo_conf, free_port, http_request,
                      wait_for)


def pool_yaml(*servers, **opts):
    lines = ["pools:", "  db:", "    driver: mysql", "    servers:"]
    for s in servers:
        if isinstance(s, tuple):
            lines.append("      - { address: %s, role: %s }" % (s[0].address,
                                                                s[1]))
        else:
            lines.append("      - %s" % s.address)
    opts = dict({"user": "bench", "password": "bench", "database": "bench"},
                **opts)
    for k, v in opts.items():
        lines.append("    %s: %s" % (k, v))
    return "\n".join(lines) + "\n"


def get(hport, path, **q):
    items = []
    for k, v in q.items():
        for x in (v if isinstance(v, list) else [v]):
            items.append((k, x))
    status, _, body = http_request(hport, "GET", path + "?" +
                                   urllib.parse.urlencode(items), timeout=15)
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"text": body.decode(errors="replace")}


def query(hport, sql, *params, **extra):
    return get(hport, "/t/mysql", pool="db", sql=sql, p=list(params),
               **extra)


@pytest.fixture
def db(tmpdir_path, servers):
    m = Mariadb(tmpdir_path).start()
    servers.append(m)
    return m


def test_results_params_and_server_errors(tmpdir_path, servers, db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(db))
    status, j = query(hport, "SELECT id, name, price, qty FROM items "
                      "WHERE id = ?", "42")
    assert status == 200 and j["errcode"] == 0
    assert j["rows"] == [{"id": 42, "name": "item-42", "price": "52.50",
                          "qty": 420}]
    # escaping: quotes, backslashes, NULL, a ? inside quotes left alone
    hostile = "it's a \\ '; DROP TABLE items; -- ?"
    status, j = query(hport, "SELECT ? AS a, ? AS b, '?' AS c", hostile,
                      "\\N")
    assert j["rows"] == [{"a": hostile, "b": None, "c": "?"}], j
    assert db.sql("SELECT COUNT(*) FROM bench.items") == [["100"]]
    # the server's refusal is an answer, not a transport failure
    status, j = query(hport, "SELEC 1")
    assert status == 200 and j["errcode"] == 1064
    status, j = query(hport, "INSERT INTO items VALUES (101, 'x', 1, 1)")
    assert j["errcode"] == 0 and j["affected"] == 1
    status, j = query(hport, "INSERT INTO items VALUES (101, 'x', 1, 1)")
    assert j["errcode"] == 1062 and "Duplicate" in j["message"]
    # placeholders and parameters must agree
    status, j = query(hport, "SELECT ?")
    assert status == 500 and "placeholders" in j["error"]


def test_parallel_statements_take_the_slowest(tmpdir_path, servers, db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        db, timeout="5s"))
    status, j = get(hport, "/t/mysql-par", pool="db",
                    sql=["SELECT SLEEP(1)"] * 3)
    # in a row: 3 s
    assert status == 200 and 950 <= j["ms"] < 2500 * TIME_SCALE, j



def test_slow_log_names_the_statement_waited_on(tmpdir_path, servers, db):
    f, hport, _ = start_fpmd(tmpdir_path, servers,
                             "timeouts: { slowlog: 1s }\n"
                             + pool_yaml(db, timeout="5s"))
    sql = ("SELECT SLEEP(2) AS slept, ? AS secret /* the first 80 bytes "
           "of this go to the slow log */")
    status, j = query(hport, sql, "hunter2")
    assert status == 200 and j["rows"] == [{"slept": 0,
                                            "secret": "hunter2"}], j
    m = f.wait_log(r"^waiting on: (.*) \(for (\d+\.\d\d) s\)$")
    # the statement as written, truncated: its parameters stay out
    assert m[0].group(1) == "mysql pool db, server %s, %s..." % (
        db.address, sql[:80]), f.logs()
    # the wait began after the request did, at most 1 s before the entry
    assert 0.5 <= float(m[0].group(2)) <= 1.0 + 0.9 * TIME_SCALE

def test_transactions_commit_rollback_and_left_open(tmpdir_path, servers,
                                                    db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(db, max=1))
    ins = "INSERT INTO items VALUES (%d, 't', 1, 1)"
    assert get(hport, "/t/mysql-txn", pool="db", sql=ins % 201,
               end="commit")[0] == 200
    assert get(hport, "/t/mysql-txn", pool="db", sql=ins % 202,
               end="rollback")[0] == 200
    # the handler returns with the transaction open: rolled back, and the
    # only connection is not lent to the next request inside it
    assert get(hport, "/t/mysql-txn", pool="db", sql=ins % 203,
               end="open")[0] == 200
    status, j = query(hport, "SELECT COUNT(*) AS n FROM items "
                      "WHERE id IN (201, 202, 203)")
    assert j["rows"] == [{"n": 1}], j
    ids = db.sql("SELECT id FROM bench.items WHERE id > 200")
    assert ids == [["201"]]


def test_connection_lost_inside_a_transaction_fails_it(tmpdir_path, servers,
                                                       db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        db, timeout="2s"))
    result = {}

    def txn():
        result["r"] = get(hport, "/t/mysql-txn", pool="db",
                          sql=["INSERT INTO items VALUES (301, 'a', 1, 1)",
                               "INSERT INTO items VALUES (302, 'b', 1, 1)"],
                          end="commit", sleep_ms="3000")

    t = threading.Thread(target=txn)
    t.start()
    def first_insert_done():
        # InnoDB refreshes what innodb_trx shows only when nobody read it
        # in the last 0.1 s: ask less often than that
        time.sleep(0.15)
        return db.sql(
            "SELECT t.trx_id FROM information_schema.innodb_trx t JOIN "
            "information_schema.processlist p ON p.id = "
            "t.trx_mysql_thread_id WHERE p.user = 'bench' AND "
            "t.trx_rows_modified > 0")

    # first INSERT done (a transaction of bench's holds a row), the
    # handler sleeps
    wait_for(first_insert_done, 10, "the first INSERT in its transaction")
    ids = [r[0] for r in db.sql("SELECT id FROM information_schema.processlist"
                                " WHERE user = 'bench'")]
    for i in ids:
        db.sql("KILL %s" % i)
    t.join()
    status, body = result["r"]
    assert status == 502, body
    # neither half landed: no reconnect carried the second INSERT alone
    assert db.sql("SELECT id FROM bench.items WHERE id IN (301, 302)") == []


def test_idle_connections_closed_by_the_server(tmpdir_path, servers, db):
    # wait_timeout is copied into a session when it starts
    db.sql("SET GLOBAL wait_timeout = 1")

    def bench():
        return {r[0] for r in db.sql("SELECT id FROM information_schema."
                                     "processlist WHERE user = 'bench'")}

    def closed_by_the_server(ids):
        wait_for(lambda: not bench() & ids, 15,
                 "the server to close %r" % sorted(ids))

    try:
        _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(db, min=2))
        ids = wait_for(lambda: len(bench()) >= 2 and bench(), 10,
                       "min connections")
        closed_by_the_server(ids)
        for _ in range(4):
            status, j = query(hport, "SELECT 1 AS one")
            assert status == 200 and j["rows"] == [{"one": 1}], j
        # a write on a connection the server closed is not lost either
        closed_by_the_server(bench())
        status, j = query(hport, "INSERT INTO items VALUES (401, 'w', 1, 1)")
        assert status == 200 and j["errcode"] == 0, j
    finally:
        db.sql("SET GLOBAL wait_timeout = 28800")
    wait_backend(hport, "db", lambda b: b["reconnects"] >= 1)


def test_stopped_and_restarted_server(tmpdir_path, servers, db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        db, timeout="300ms", connect_timeout="300ms", wait_timeout="300ms"))
    assert query(hport, "SELECT 1")[0] == 200
    db.pause()
    try:
        t0 = time.time()
        status, j = query(hport, "SELECT 1")
        assert status in (503, 504), j
        # 300 ms timeouts, not the client's 15 s
        assert time.time() - t0 < 2.0
    finally:
        db.resume()
    wait_for(lambda: query(hport, "SELECT 1")[0] == 200, RECOVERY,
             "recovery within %.1f s of SIGCONT" % RECOVERY)
    db.stop()
    t0 = time.time()
    status, j = query(hport, "SELECT 1")
    assert status in (502, 503) and time.time() - t0 < 2.0, j
    db.start()
    wait_for(lambda: query(hport, "SELECT 1")[0] == 200, RECOVERY,
             "recovery within %.1f s of the restart" % RECOVERY)


def test_session_state_never_leaks(tmpdir_path, servers, db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(db, max=1))
    query(hport, "SET @x = 5")
    assert query(hport, "SELECT @x AS x")[1]["rows"] == [{"x": None}]
    query(hport, "USE mysql")
    assert query(hport, "SELECT DATABASE() AS d")[1]["rows"] == [
        {"d": "bench"}]
    query(hport, "SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'")
    hostile = "a\\'b"
    assert query(hport, "SELECT ? AS v", hostile)[1]["rows"] == [
        {"v": hostile}]


def labelled(tmp, servers, *names):
    """Servers whose item 1 is named on-NAME, to tell reads apart."""
    started = [Mariadb(tmp, name).start() for name in names]
    servers += started
    for name, m in zip(names, started):
        m.sql("UPDATE bench.items SET name = 'on-%s' WHERE id = 1" % name)
    return started


def test_reads_go_to_replicas_writes_to_the_primary(tmpdir_path, servers):
    primary, replica = labelled(tmpdir_path, servers, "primary", "replica")
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        (primary, "primary"), (replica, "replica")))
    sel = "SELECT name FROM items WHERE id = 1"
    assert query(hport, sel)[1]["rows"] == [{"name": "on-replica"}]
    assert query(hport, sel, primary="1")[1]["rows"] == [
        {"name": "on-primary"}]
    assert query(hport, sel + " FOR UPDATE")[1]["rows"] == [
        {"name": "on-primary"}]
    query(hport, "INSERT INTO items VALUES (501, 'w', 1, 1)")
    assert primary.sql("SELECT id FROM bench.items WHERE id = 501") == [
        ["501"]]
    assert replica.sql("SELECT id FROM bench.items WHERE id = 501") == []
    status, j = get(hport, "/t/mysql-txn", pool="db",
                    sql="INSERT INTO items VALUES (502, 't', 1, 1)",
                    end="commit")
    assert status == 200
    assert primary.sql("SELECT id FROM bench.items WHERE id = 502") == [
        ["502"]]


def test_replica_reads_are_balanced(tmpdir_path, servers):
    a, b = labelled(tmpdir_path, servers, "a", "b")
    # a is the primary and one of the replicas: round-robin over both
    # replicas, weighted 3:1
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        (a, "primary"), (a, "replica, weight: 3"), (b, "replica"),
        balancer="weighted"))
    sel = "SELECT name FROM items WHERE id = 1"
    names = [query(hport, sel)[1]["rows"][0]["name"] for _ in range(12)]
    assert names.count("on-a") == 9 and names.count("on-b") == 3, names
    # writes go to the one primary
    query(hport, "INSERT INTO items VALUES (601, 'w', 1, 1)")
    assert a.sql("SELECT id FROM bench.items WHERE id = 601") == [["601"]]
    assert b.sql("SELECT id FROM bench.items WHERE id = 601") == []
    # b stopped: reads go to the replica left; b fails a read only when
    # its back-off (50 ms doubling) runs out
    b.stop()
    statuses = [query(hport, sel) for _ in range(8)]
    ok = [j["rows"][0]["name"] for st, j in statuses if st == 200]
    assert len(ok) >= 5 and set(ok) == {"on-a"}, statuses


def test_varargs_are_read_only_for_real_placeholders(tmpdir_path, servers,
                                                     db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(db))
    # fpmd_mysql with two varargs; the statement's other seven ? are in a
    # comment, strings, an identifier, a "-- " and a # comment
    for _ in range(3):
        status, j = get(hport, "/t/mysql-comments", pool="db", a="it's",
                        d="x?y")
        assert status == 200, j
        assert j == [{"a": "it's", "b?": "?'?'?", "c": "?", "d": "x?y"}]


def test_placeholders_in_comments_are_not_counted(tmpdir_path, servers, db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(db))
    for sql, params, rows in (
            ("SELECT 1 AS one -- why?", (), [{"one": 1}]),
            ("SELECT 1 AS one # why?", (), [{"one": 1}]),
            ("SELECT ? AS one /* ? */", ("1",), [{"one": "1"}]),
            ("SELECT 2--?\n AS two", (), None),   # 2 - (-?): not a comment
            ("SELECT 2--?\n AS two", ("1",), [{"two": 3}])):
        status, j = query(hport, sql, *params)
        if rows is None:
            assert status == 400 or "placeholder" in json.dumps(j), j
        else:
            assert status == 200 and j["rows"] == rows, (sql, j)


def test_benchmark_routes(tmpdir_path, servers, db):
    from backends import Redis
    cache = Redis(tmpdir_path).start()
    servers.append(cache)
    for n in (1, 2, 3):
        cache.cmd("SET", "bench:k%d" % n,
                  "value-%d-abcdefghijklmnopqrstuvwxyz" % n)
    # the routes, pools and credentials of conf/demo.yaml, as the
    # benchmark runs them
    hport = free_port()
    f = Fpmd(tmpdir_path, demo_conf(free_port(), hport, {
        "cache": cache.address, "db": db.address}))
    servers.append(f)
    f.start(("127.0.0.1", hport))
    status, _, body = http_request(hport, "GET", "/io-fast")
    assert status == 200, body
    assert json.loads(body) == {
        "k1": "value-1-abcdefghijklmnopqrstuvwxyz",
        "k2": "value-2-abcdefghijklmnopqrstuvwxyz",
        "k3": "value-3-abcdefghijklmnopqrstuvwxyz",
        "item": {"id": 42, "name": "item-42", "price": "52.50", "qty": 420}}
    status, _, body = http_request(hport, "GET", "/io-wait")
    assert status == 200 and json.loads(body) == {"db1": 0, "redis": None,
                                                  "db2": 0}, body
    cache.stop()
    status, _, body = http_request(hport, "GET", "/io-fast")
    assert status in (502, 503) and b"cache" in body, body


def test_concurrent_load_every_answer_right(tmpdir_path, servers, db):
    """Many requests at once: connections open while others are lent,
    waiters get connections handed over as statements finish; every
    answer is the right one."""
    # every answer right, however long: the timeouts are far out of the way
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        db, max=200, timeout="15s", connect_timeout="10s",
        wait_timeout="15s"))

    def ask(k, i):
        n = 1 + (k * 150 + i) % 100
        path = "/t/mysql?" + urllib.parse.urlencode(
            [("pool", "db"), ("sql", "SELECT id, qty FROM items WHERE id = ?"),
             ("p", str(n))])
        return [(path, lambda j: j["rows"] == [{"id": n, "qty": n * 10}])]

    wrong = many_clients(hport, 64, 150, ask)
    assert not wrong, wrong[:3]


def test_gone_away_reads_retry_once_writes_do_not(tmpdir_path, servers, db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        db, timeout="5s"))
    db.sql("CREATE TABLE bench.t (id INT AUTO_INCREMENT PRIMARY KEY, "
           "v INT)")
    status, j = query(hport, "INSERT INTO t (v) VALUES (?)", "7")
    assert j["insert_id"] == 1 and j["affected"] == 1
    status, j = query(hport, "INSERT INTO t (v) VALUES (8), (9)")
    assert j["insert_id"] == 2 and j["affected"] == 2

    def kill_bench_later():
        # once the statement runs on the server
        for (i,) in wait_for(lambda: db.sql(
                "SELECT id FROM information_schema.processlist WHERE user = "
                "'bench' AND info LIKE '%SLEEP%'"), 10, "the statement"):
            db.sql("KILL %s" % i)

    # a read killed under way runs again on a fresh connection
    k = threading.Thread(target=kill_bench_later)
    k.start()
    status, j = query(hport, "SELECT SLEEP(2) AS s")
    k.join()
    assert status == 200 and j["rows"] == [{"s": 0}], j
    # a write killed under way is reported, never run a second time
    k = threading.Thread(target=kill_bench_later)
    k.start()
    status, j = query(hport, "UPDATE t SET v = v + 100 + SLEEP(2) "
                      "WHERE id = 1")
    k.join()
    assert status == 502, j
    # killed: 7 (rolled back) or 107/108 (finished); twice would be 200+
    assert int(db.sql("SELECT v FROM bench.t WHERE id = 1")[0][0]) < 200


def test_restart_under_load_fails_fast_and_recovers(tmpdir_path, servers,
                                                    db):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        db, timeout="500ms", connect_timeout="300ms"))
    results, back = restart_under_load(db, lambda: query(
        hport, "SELECT id FROM items WHERE id = ?", "7")[0])
    failed = [r for r in results if r[2] != 200]
    assert failed, "the down window should fail calls"
    assert {r[2] for r in failed} <= {502, 503}, [
        r for r in failed if r[2] not in (502, 503)]
    # no call waited much past its timeout (500 ms, 300 ms to connect)
    assert max(r[1] for r in results) < 2.0 * TIME_SCALE
    late = [r for r in results if r[0] > back + RECOVERY]
    assert late and all(r[2] == 200 for r in late), late[:5]

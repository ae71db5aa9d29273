# SPDX-License-Identifier: BSD-2-Clause
"""seccomp: the workers' system call filter. With it on, native,
static, pool (redis-server, mariadbd, the mongo driver's threads) and
pass-through (php-fpm) requests are served as without it; a handler
that makes a call off the list (tests/handlers/faults.c, /fault/execve)
kills its worker with SIGSYS, which the master names and replaces;
seccomp: log lets the call through, seccomp_allow adds to the list, and
a bad value is a config error with its file:line:column. The whole
suite also runs with the filter on (FPMD_TEST_SECCOMP, run-all.sh)."""

import json
import os
import re

import conftest
from backends import Mariadb, PhpFpm, Redis, start_fpmd
from conftest import config_check, http_request, wait_for
from test_faults import answer, start
from test_mongo import Responder, op as mongo_op

SECCOMP_KILL = (r"child (\d+) exited on signal 31 \(SIGSYS\) after [\d.]+ "
                r"seconds from start: killed by seccomp, a system call "
                r"outside the allow-list .*run with seccomp: log")


def filter_mode(pid):
    """The Seccomp: line of each thread of pid (2: a filter), by thread;
    a thread that ends meanwhile (a resolver's) is left out."""
    modes = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                text = f.read()
        except FileNotFoundError:
            continue
        modes[int(tid)] = int(re.search(r"^Seccomp:\s+(\d+)", text,
                                        re.M).group(1))
    return modes


def get(hport, path):
    status, _, body = http_request(hport, "GET", path, timeout=15)
    return status, body


def test_pools_static_files_and_pass_through_under_the_filter(tmpdir_path,
                                                              servers):
    redis = Redis(tmpdir_path).start()
    servers.append(redis)
    db = Mariadb(tmpdir_path).start()
    servers.append(db)
    mongo = Responder().start()
    servers.append(mongo)
    php = PhpFpm(tmpdir_path, {"hi.php": "<?php echo 'php says hi';"})
    servers.append(php.start())
    www = os.path.join(tmpdir_path, "www")
    os.makedirs(www)
    with open(os.path.join(www, "a.txt"), "w") as fh:
        fh.write("static text\n")
    f, hport, fport = start_fpmd(tmpdir_path, servers, """
seccomp: on
pools:
  cache:
    driver: redis
    servers: [%s]
  db:
    driver: mysql
    servers: [%s]
    user: bench
    password: bench
    database: bench
  docs:
    driver: mongo
    servers: [%s]
    database: app
legacy:
  fastcgi: %s
  document_root: %s
""" % (redis.address, db.address, mongo.address, php.address, php.www))
    text = open(f.conf).read().replace("routes:\n", """routes:
  - match: GET /files/*
    static:
      root: %s
  - match: GET /t/http
    handler: t_http
  - match: "*"
    to: legacy
""" % www, 1)
    f.stop()
    f.write_conf(text)
    f.start(("127.0.0.1", hport))
    workers = wait_for(lambda: f.workers(), 10, "the worker")

    assert get(hport, "/hello") == (200, b"hello world\n")
    assert answer(("127.0.0.1", fport), "/json")[0] == 200
    assert get(hport, "/files/a.txt") == (200, b"static text\n")
    status, body = get(hport, "/t/redis?pool=cache&cmd=SET+k+v&cmd=GET+k")
    assert status == 200 and json.loads(body)["replies"] == ["OK", "v"]
    status, body = get(hport, "/t/mysql?pool=db&sql=SELECT+%3F+AS+a&p=7")
    assert status == 200 and json.loads(body)["rows"] == [{"a": "7"}], body
    status, j = mongo_op(hport, "insert", coll="c", doc={"a": 1})
    assert status == 200 and j["result"]["insertedCount"] == 1, j
    status, j = mongo_op(hport, "find", coll="c")
    assert [d["a"] for d in j["result"]] == [1], j
    assert get(hport, "/hi.php") == (200, b"php says hi")
    # the HTTP client, a host name to resolve (libcurl's resolver thread)
    status, body = get(hport, "/t/http?url=http://localhost:%d/hello"
                       % hport)
    assert status == 200, body
    assert json.loads(body)["answers"][0]["body"] == "hello world\n", body

    # the same worker served it all, and every thread of it (the mongo
    # driver's too) runs under the filter
    assert f.workers() == workers
    modes = filter_mode(workers[0])
    assert len(modes) > 1 and set(modes.values()) == {2}, modes
    assert "SIGSYS" not in f.log_text()


def test_a_call_off_the_list_kills_the_worker_and_it_is_replaced(
        tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers, "seccomp: on\n")
    before = set(f.workers())
    assert answer(addr, "/fault/execve") is None
    m = f.wait_log(SECCOMP_KILL)[0]
    assert int(m.group(1)) in before
    wait_for(lambda: len(f.workers()) == 2 and set(f.workers()) != before,
             5, "a new worker")
    assert answer(addr, "/hello")[2] == b"hello world\n"
    assert "not found" not in f.log_text()


def test_log_mode_lets_the_call_through(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers, "seccomp: log\n")
    before = set(f.workers())
    st, _, body = answer(addr, "/fault/execve")
    assert (st, body) == (200, b"execve: No such file or directory\n")
    assert set(f.workers()) == before
    # each worker loads its filter as its start ends, served yet or not
    wait_for(lambda: all(set(filter_mode(p).values()) == {2}
                         for p in before), 5, "both workers' filters")


def test_seccomp_allow_adds_to_the_list(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers,
                    "seccomp: on\nseccomp_allow: [execve, execveat]\n")
    before = set(f.workers())
    st, _, body = answer(addr, "/fault/execve")
    assert (st, body) == (200, b"execve: No such file or directory\n")
    assert set(f.workers()) == before


def test_off_by_default(tmpdir_path, servers, monkeypatch):
    monkeypatch.setattr(conftest, "SECCOMP", "")
    f, addr = start(tmpdir_path, servers, "")
    assert set(filter_mode(f.workers()[0]).values()) == {0}
    assert answer(addr, "/fault/execve")[0] == 200


def test_config_errors_name_their_place(tmpdir_path):
    rc, err, path = config_check(tmpdir_path, "seccomp: strict\n"
                                 "seccomp_allow:\n  - read\n  - exceve\n")
    assert rc == 78
    lines = open(path).read().split("\n")
    row = lines.index("seccomp: strict") + 1
    assert "%s:%d:10: seccomp: \"strict\" is not one of off, on, log" % (
        path, row) in err, err
    assert ("%s:%d:5: seccomp_allow: \"exceve\" is not a system call "
            "libseccomp knows" % (path, row + 3)) in err, err

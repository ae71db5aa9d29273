# SPDX-License-Identifier: BSD-2-Clause
"""The mongo pool: the real mongo-c-driver inside fpmd against
mongo_responder.py (no MongoDB server is packaged for Debian 12; the
responder's header says what it speaks). Operations and their results,
a stalled reply, a reply cut in the middle, a server that goes away and
comes back, and a worker loop that keeps serving meanwhile."""

import json
import os
import select
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from backends import (many_clients, no_worker_died,  # noqa: F401
                      start_fpmd, wait_backend)
from conftest import free_port, http_request, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


class Responder:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "mongo_responder.py"),
             str(self.port)], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        assert self.proc.stdout.readline().strip() == b"ready"
        return self

    def wait_line(self, line, timeout=10):
        """Waits for the responder to print line (it says "stalling" as a
        stalled reply starts)."""
        end = time.time() + timeout
        while time.time() < end:
            if select.select([self.proc.stdout], [], [],
                             max(0, end - time.time()))[0]:
                got = self.proc.stdout.readline()
                if got.strip() == line.encode():
                    return
                assert got, "the responder exited"
        raise TimeoutError("the responder never said %r" % line)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def logs(self):
        return ""


@pytest.fixture
def mongo(servers):
    r = Responder().start()
    servers.append(r)
    return r


def pool_yaml(r, **opts):
    lines = ["pools:", "  docs:", "    driver: mongo",
             "    servers: [%s]" % r.address, "    database: app"]
    lines += ["    %s: %s" % (k, v) for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def op(hport, name, **q):
    q = dict(q, pool="docs", op=name)
    for k in ("filter", "doc", "projection", "sort"):
        if k in q:
            q[k] = json.dumps(q[k])
    status, _, body = http_request(hport, "GET", "/t/mongo?" +
                                   urllib.parse.urlencode(q), timeout=15)
    return status, json.loads(body)


def test_operations_and_results(tmpdir_path, servers, mongo):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(mongo))
    for n in range(1, 6):
        status, j = op(hport, "insert", coll="items",
                       doc={"n": n, "name": "item-%d" % n, "even": n % 2 == 0})
        assert status == 200 and j["result"]["insertedCount"] == 1, j
    status, j = op(hport, "find", coll="items", filter={"even": True},
                   projection={"n": 1, "_id": 0}, sort={"n": -1})
    assert j["result"] == [{"n": 4}, {"n": 2}], j
    status, j = op(hport, "find", coll="items", sort={"n": 1}, limit=2,
                   projection={"name": 1, "_id": 0})
    assert j["result"] == [{"name": "item-1"}, {"name": "item-2"}], j
    assert op(hport, "count", coll="items", filter={"even": False})[1][
        "result"] == {"n": 3}
    status, j = op(hport, "update", coll="items", filter={"even": True},
                   doc={"$set": {"tag": "x"}}, many=1)
    assert j["result"]["modifiedCount"] == 2, j
    assert op(hport, "count", coll="items", filter={"tag": "x"})[1][
        "result"] == {"n": 2}
    status, j = op(hport, "delete", coll="items", filter={"n": 1})
    assert j["result"]["deletedCount"] == 1, j
    assert op(hport, "command", doc={"ping": 1})[1]["result"]["ok"] == 1
    # the server's refusal is its answer, with its code
    status, j = op(hport, "command", doc={"nosuch": 1})
    assert status == 200 and j["code"] == 59 and "nosuch" in j["refused"]
    # bad input never reaches the driver
    status, j = op(hport, "insert", coll="items")
    assert status == 500 and "no document" in j["error"]


def test_stalled_reply_times_out_and_the_loop_keeps_serving(
        tmpdir_path, servers, mongo):
    # the responder holds the reply 6 s: the call is cut at 2 s
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        mongo, timeout="2s"))
    assert op(hport, "command", doc={"ping": 1})[0] == 200
    result = {}

    def stalled():
        t0 = time.time()
        result["r"] = op(hport, "find", coll="stall")
        result["took"] = time.time() - t0

    t = threading.Thread(target=stalled)
    t.start()
    mongo.wait_line("stalling")
    # the driver thread is blocked; the worker's loop is not: /hello comes
    # back while the call waits, long before its 2 s are up
    t0 = time.time()
    status, _, body = http_request(hport, "GET", "/hello")
    assert status == 200 and time.time() - t0 < 1.0
    assert t.is_alive()
    t.join()
    status, j = result["r"]
    assert status in (502, 504), j
    # at the timeout, not at the reply 6 s later
    assert 1.9 < result["took"] < 4.5, result["took"]
    # later calls get a connection that works
    wait_for(lambda: op(hport, "count", coll="items")[0] == 200, 10,
             "pool usable after the stall")


def test_reply_cut_midway_fails_the_call_only(tmpdir_path, servers, mongo):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(mongo))
    status, j = op(hport, "find", coll="close")
    assert status == 502, j
    assert op(hport, "count", coll="items")[0] == 200


def test_server_down_and_back(tmpdir_path, servers, mongo):
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        mongo, connect_timeout="300ms", timeout="500ms"))
    assert op(hport, "command", doc={"ping": 1})[0] == 200
    mongo.stop()
    t0 = time.time()
    status, j = op(hport, "command", doc={"ping": 1})
    assert status in (502, 503), j
    # refused, or 300 ms to connect: not the client's 15 s
    assert time.time() - t0 < 3.0
    mongo.start()
    wait_for(lambda: op(hport, "command", doc={"ping": 1})[0] == 200, 10,
             "recovery once the server is back")
    wait_backend(hport, "docs", lambda b: b["errors"] >= 1)


def test_concurrent_calls_each_get_their_own_answer(tmpdir_path, servers,
                                                    mongo):
    """More requests at once than driver threads and clients: jobs queue,
    answers come back through the eventfd to the right request."""
    _, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(
        mongo, max=6, threads=3))

    def ask(k, i):
        def path(**q):
            return "/t/mongo?" + urllib.parse.urlencode(dict(
                q, pool="docs", coll="c%d" % k))

        return [(path(op="insert", doc=json.dumps({"k": k, "i": i})), None),
                (path(op="count"), lambda j: j["result"] == {"n": i + 1})]

    wrong = many_clients(hport, 16, 15, ask)
    assert not wrong, wrong[:3]

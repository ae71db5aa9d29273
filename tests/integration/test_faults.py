# SPDX-License-Identifier: BSD-2-Clause
"""Handlers that fail on purpose (tests/handlers/faults.c, linked into
tests/fpmd-test): a coroutine stack overflow is a logged crash of that
worker, and a handler that never yields is ended by the master; either
way the pool keeps serving."""

import os
import re
import time

import fcgi_client as fc
from conftest import (FPMD_TEST_BIN, Fpmd, base_conf, free_port, status_json,
                      wait_for)


def start(tmp, servers, extra, pm_extra=""):
    port = free_port()
    text = base_conf(port, os.path.join(tmp, "f.sock"), extra).replace(
        "  max_children: 2\n", "  max_children: 2\n" + pm_extra)
    f = Fpmd(tmp, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", port))
    wait_for(lambda: len(f.workers()) == 2, 10, "workers")
    return f, ("127.0.0.1", port)


def answer(addr, uri):
    try:
        r = fc.request(addr, uri=uri)
    except (ConnectionResetError, TimeoutError):
        return None
    return r.split() if r is not None and r.ended else None


def test_stack_overflow_is_a_logged_worker_crash(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers, "")
    f.stop()
    with open(f.conf) as fh:
        text = fh.read()
    with open(f.conf, "w") as fh:
        fh.write(text.replace("max_children: 2",
                              "max_children: 2\n  stack_size: 64k"))
    f.start(addr)
    wait_for(lambda: len(f.workers()) == 2, 10, "workers")
    before = set(f.workers())
    assert answer(addr, "/fault/overflow") is None
    wait_for(lambda: "coroutine stack overflow" in f.log_text(), 5, "log")
    wait_for(lambda: re.search(r"exited on signal 11 \(SIGSEGV\)",
                               f.log_text()), 5, "the master's log line")
    wait_for(lambda: len(f.workers()) == 2 and set(f.workers()) != before,
             5, "respawn")
    assert answer(addr, "/hello")[2] == b"hello world\n"


def test_handler_that_never_yields_is_ended_by_the_master(tmpdir_path,
                                                          servers):
    f, addr = start(tmpdir_path, servers,
                    "timeouts: { request_terminate: 1s }\n")
    before = set(f.workers())
    assert answer(addr, "/fault/spin?ms=20000") is None
    log = f.log_text()
    assert "event loop blocked" in log and "/fault/spin" in log
    wait_for(lambda: len(f.workers()) == 2 and set(f.workers()) != before,
             5, "respawn")
    assert answer(addr, "/hello")[2] == b"hello world\n"


def test_blocked_loop_ends_the_worker_without_request_terminate(
        tmpdir_path, servers):
    """timeouts.blocked_loop holds with request_terminate_timeout off. The
    handler stops yielding between an older request (php-fpm's row) and a
    newer one (started last) on the same worker: the master names the one
    that blocks, neither of those."""
    f, addr = start(tmpdir_path, servers, "timeouts: { blocked_loop: 2s }\n")
    before = set(f.workers())
    c = fc.Conn(addr, timeout=30)
    c.send(fc.request_bytes(1, fc.cgi_params(
        uri="/probe?sleep_ms=60000&n=1"), keep_conn=True)
        + fc.request_bytes(2, fc.cgi_params(
            uri="/fault/spin?after_ms=300&ms=60000"), keep_conn=True)
        + fc.request_bytes(3, fc.cgi_params(
            uri="/probe?sleep_ms=60000&n=3"), keep_conn=True))
    t0 = time.time()
    assert c.is_closed(40)
    # killed at its 2 s bound, long before the handler's 60 s
    assert time.time() - t0 < 30
    c.close()
    f.wait_log(r"child \d+, script '/fault/spin' \(request: \"GET "
               r"/fault/spin\?after_ms=300&ms=60000\"\) event loop blocked "
               r"\(\d+\.\d+ sec\), killing it with SIGKILL$")
    f.wait_log(r"exited on signal 9 \(SIGKILL\)")
    wait_for(lambda: len(f.workers()) == 2 and set(f.workers()) != before,
             5, "respawn")
    assert answer(addr, "/hello")[2] == b"hello world\n"
    log = f.log_text()
    # a kill of the master's own: no crash loop, no OOM kill
    assert "keep dying" not in log and "OOM" not in log


def test_max_memory_recycles_a_grown_worker_after_its_requests(
        tmpdir_path, servers):
    """A worker whose resident set grew past pm.max_memory is recycled
    between requests: the one in flight is answered, then the worker
    leaves and a new one serves."""
    # workers start at 5-20 MiB (sanitized ones at the top of that)
    limit = 64
    f, addr = start(tmpdir_path, servers,
                    "timeouts: { slowlog: 100ms }\n",
                    "  max_memory: %dm\n" % limit)
    before = set(f.workers())
    c = fc.Conn(addr, timeout=30)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=5000"),
                            keep_conn=True))
    f.wait_log("executing too slow")
    # on the same connection, so the same worker
    c.send(fc.request_bytes(2, fc.cgi_params(
        uri="/fault/hold?mb=%d" % (limit + 64)), keep_conn=True))
    assert c.wait([2], deadline=20)[0].split()[0] == 200
    f.wait_log(r"child \d+ uses [\d.]+ MiB \(pm\.max_memory %d\.0 MiB\), "
               r"recycling after its requests$" % limit)
    # the sibling's status page shows it finishing with the request on
    wait_for(lambda: [p for p in status_json(addr)["processes"]
                      if p["state"] == "Finishing" and p["in flight"] == 1],
             10, "a worker finishing with its request in flight")
    # the request in flight is answered whole, not cut
    (r,) = c.wait([1], deadline=20)
    assert r.split()[0] == 200 and r.protocol_status == fc.REQUEST_COMPLETE
    c.close()
    f.wait_log(r"child \d+ exited with code 0")
    wait_for(lambda: len(f.workers()) == 2 and set(f.workers()) != before,
             10, "replacement")
    assert answer(addr, "/hello")[2] == b"hello world\n"


def test_terminate_after_the_head_cuts_the_answer_short(tmpdir_path,
                                                         servers):
    """request_terminate_timeout once an answer has started: the client
    learns it is not whole (over FastCGI, no END_REQUEST and the
    connection closes), and the route counts an error."""
    f, addr = start(tmpdir_path, servers,
                    "timeouts: { request_terminate: 1s }\n")
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/fault/stall")))
    assert c.is_closed(5)
    r = c.responses[1]
    assert b"started\n" in bytes(r.stdout)
    assert not r.ended
    assert "execution timed out" in f.log_text()
    assert answer(addr, "/hello")[2] == b"hello world\n"

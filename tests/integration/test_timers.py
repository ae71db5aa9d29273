# SPDX-License-Identifier: BSD-2-Clause
"""A worker's timers on the real daemon, counted in a shared table by the
test handlers of tests/handlers/api.c: FPMD_TIMER t_tick runs in every
worker; fpmd_timer_after runs once, fpmd_timer_every until cancelled, and
cancelling says whether there was something to cancel."""

import json
import os
import time

import fcgi_client as fc
from conftest import FPMD_TEST_BIN, Fpmd, base_conf, free_port, wait_for

TABLE = """
tables:
  timers:
    rows: 64
    columns:
      - { name: hits, type: int }
"""


def start(tmp, servers, children):
    port = free_port()
    f = Fpmd(tmp, base_conf(port, os.path.join(tmp, "fpmd.sock"), TABLE)
             .replace("max_children: 2", "max_children: %d" % children),
             binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", port))
    return f, ("127.0.0.1", port)


def get(addr, uri):
    status, _, body = fc.request(addr, uri=uri).split()
    return status, (json.loads(body) if status == 200 else body)


def hits(addr, key):
    status, j = get(addr, "/t/table?t=timers&op=get&key=" + key)
    return j["value"] if status == 200 else 0


def test_a_declared_timer_runs_in_every_worker(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers, 2)
    pids = wait_for(lambda: len(f.workers()) == 2 and f.workers(), 10,
                    "both workers")
    # every 100 ms in each: 5 runs each take half a second
    wait_for(lambda: all(hits(addr, "tick:%d" % p) >= 5 for p in pids), 10,
             "5 runs of t_tick in each worker")


def test_after_runs_once_and_every_until_cancelled(tmpdir_path, servers):
    _, addr = start(tmpdir_path, servers, 1)
    status, once = get(addr, "/t/timer?op=after&ms=50&key=once")
    assert status == 200, once
    status, kept = get(addr, "/t/timer?op=after&ms=60000&key=never")
    status, every = get(addr, "/t/timer?op=every&ms=20&key=every")
    assert status == 200, every
    wait_for(lambda: hits(addr, "once") == 1, 5, "the one-shot run")
    wait_for(lambda: hits(addr, "every") >= 5, 5, "5 runs every 20 ms")
    # a one-shot that ran is gone; a pending one and a repeating one are
    # there to cancel, once
    assert get(addr, "/t/timer?op=cancel&id=%d" % once["id"])[1] == {
        "cancelled": False}
    assert get(addr, "/t/timer?op=cancel&id=%d" % kept["id"])[1] == {
        "cancelled": True}
    assert get(addr, "/t/timer?op=cancel&id=%d" % every["id"])[1] == {
        "cancelled": True}
    assert get(addr, "/t/timer?op=cancel&id=%d" % every["id"])[1] == {
        "cancelled": False}
    stopped = hits(addr, "every")
    # ten of its intervals: a run would have come
    time.sleep(0.2)
    assert hits(addr, "every") == stopped
    assert hits(addr, "once") == 1
    assert hits(addr, "never") == 0

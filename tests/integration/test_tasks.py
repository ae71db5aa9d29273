# SPDX-License-Identifier: BSD-2-Clause
"""tasks: the task processes and their queue, on the real daemon with the
test tasks of tests/handlers/tasks.c: a handler awaits a task that blocks
its process while the worker answers other requests, with a Redis and a
MySQL call in the same await; a crash, a timeout, a full queue, a failure
each come back at once with their status; a reload and a graceful stop
lose no queued task; fpmd task runs one from the shell; a cron entry runs
a task once per tick. The status page counts it all."""

import json
import os
import re
import signal
import subprocess
import textwrap
import threading
import time
import urllib.parse

import pytest

import fcgi_client as fc
from backends import Mariadb, Redis
from conftest import (FPMD_TEST_BIN, Fpmd, alive, base_conf, config_check,
                      free_port, need, status_json, wait_for)
from test_status import PHP_FPM_LINT, promtool_lint

# more of base_conf's routes: it ends with its list
ROUTES = """\
  - match: GET /t/task
    handler: t_task
  - match: GET /t/task-mix
    handler: t_task_mix
  - match: GET /t/task-post
    handler: t_task_post
"""


@pytest.fixture
def redis(tmpdir_path, servers):
    r = Redis(tmpdir_path).start()
    servers.append(r)
    return r


def start(tmp, servers, tasks, extra="", children=2):
    port = free_port()
    text = base_conf(port, os.path.join(tmp, "fpmd.sock"),
                     ROUTES + "tasks:\n" + tasks + textwrap.dedent(extra))
    text = text.replace("max_children: 2", "max_children: %d" % children)
    f = Fpmd(tmp, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", port))
    f.addr = ("127.0.0.1", port)
    wait_for(lambda: status(f).get("task processes") == task_workers(tasks),
             10, "the task processes up")
    return f


def task_workers(tasks):
    return int(re.search(r"workers: (\d+)", tasks).group(1))


def status(f):
    return status_json(f.addr, full=False)


def get(f, path, **query):
    uri = path + ("?" + urllib.parse.urlencode(query) if query else "")
    code, _, body = fc.request(f.addr, uri=uri).split()
    return code, body.decode(errors="replace")


def task(f, name, data="", **kw):
    return get(f, "/t/task", name=name, **{"in": data}, **kw)


def sleep_input(ms):
    return json.dumps({"ms": ms})


def task_pids(f):
    """The task processes' pids, in the order they started."""
    return [int(pid) for pid in re.findall(
        r"task process \d+ started \(pid (\d+)\)", f.log_text())]


def test_a_blocking_task_leaves_the_worker_answering(tmpdir_path, servers,
                                                     redis):
    db = Mariadb(tmpdir_path).start()
    servers.append(db)
    f = start(tmpdir_path, servers, "  workers: 1\n  timeout: 10s\n", """
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
        """ % (redis.address, db.address), children=1)
    out = {}

    def mix():
        out["r"] = get(f, "/t/task-mix", ms="2000", key="mixed")

    t = threading.Thread(target=mix)
    t0 = time.monotonic()
    t.start()
    wait_for(lambda: status(f)["tasks running"] == 1, 5, "the task running")
    # the one worker answers while its request waits on the blocked task
    # process: each at once, however long the task takes
    for _ in range(20):
        s = time.monotonic()
        code, body = get(f, "/hello")
        assert code == 200 and time.monotonic() - s < 0.5
    assert t.is_alive(), "the task should still be running"
    t.join(15)
    code, body = out["r"]
    assert code == 200, body
    j = json.loads(body)
    # the task, the Redis call and the SQL statement, awaited together
    assert j["task"]["slept"] == 2000 and j["incr"] == 1 and j["sql"] == "42"
    assert j["task"]["pid"] in task_pids(f)
    assert 1.9 < time.monotonic() - t0 < 5


def test_crash_timeout_full_queue_and_failure(tmpdir_path, servers):
    f = start(tmpdir_path, servers, "  workers: 1\n  timeout: 1s\n"
              "  queue: 2\n  max_payload: 1k\n")
    # a task process that dies mid-task: the master answers for it at once
    first = task_pids(f)[-1]
    s = time.monotonic()
    code, body = task(f, "t_crash")
    assert code == 502, body
    assert re.match(r"task t_crash lost: its task process %d died on "
                    r"signal 9$" % first, body), body
    assert time.monotonic() - s < 0.9
    f.wait_log(r"WARNING: \[pool www\] task t_crash lost: its task process "
               r"%d died on signal 9 \(id \d+ from \d+\)$" % first)
    wait_for(lambda: len(task_pids(f)) == 2, 5, "a new task process")

    # a task past tasks.timeout: 504 at the timeout; its process is killed
    # a second later and replaced at once
    second = task_pids(f)[-1]
    s = time.monotonic()
    code, body = task(f, "t_sleep", sleep_input(5000))
    took = time.monotonic() - s
    assert code == 504 and 0.9 < took < 1.8, (code, body, took)
    assert body == "no result of task t_sleep within tasks.timeout (1000 ms)"
    f.wait_log(r"task t_sleep \(id \d+\) still running [\d.]+ s after its "
               r"start \(tasks.timeout 1.0 s\): killing task process %d"
               % second, timeout=5)
    wait_for(lambda: len(task_pids(f)) == 3 and status(f)[
        "task processes"] == 1, 5, "a third task process")

    # the queue holds 2 beside the one running; the next is refused at once
    results = []

    def run(ms):
        results.append(task(f, "t_sleep", sleep_input(ms)))

    threads = [threading.Thread(target=run, args=(300,)) for _ in range(3)]
    threads[0].start()
    wait_for(lambda: status(f)["tasks running"] == 1, 5, "one running")
    for t in threads[1:]:
        t.start()
    wait_for(lambda: status(f)["tasks queued"] == 2, 5, "two queued")
    s = time.monotonic()
    code, body = task(f, "t_echo", "x")
    assert code == 503 and time.monotonic() - s < 0.2, (code, body)
    assert body == "task t_echo: the task queue is full (tasks.queue)"
    for t in threads:
        t.join(10)
    assert [c for c, _ in results] == [200, 200, 200], results

    # a failure, an unknown task, an input over max_payload
    assert task(f, "t_fail") == (502, "task t_fail failed")
    assert task(f, "t_nosuch") == (500, "task t_nosuch: no such FPMD_TASK")
    code, body = task(f, "t_echo", "y" * 1025)
    assert (code, body) == (500, "task t_echo: its input is over "
                                 "tasks.max_payload")
    assert task(f, "t_echo", "y" * 1024) == (200, "y" * 1024)

    st = status(f)
    assert {k: st[k] for k in st if k.startswith("task")} == {
        "task processes": 1, "tasks running": 0, "tasks queued": 0,
        "tasks done": 4, "tasks failed": 2, "tasks timed out": 1,
        "tasks rejected": 1, "tasks dropped": 1}, st
    code, _, body = fc.request(f.addr, uri="/status?openmetrics").split()
    assert code == 200 and promtool_lint(body) == PHP_FPM_LINT
    text = body.decode()
    for line in ("fpmd_task_processes 1", "fpmd_tasks_done_total 4",
                 "fpmd_tasks_failed_total 2", "fpmd_tasks_timed_out_total 1",
                 "fpmd_tasks_rejected_total 1", "fpmd_tasks_dropped_total 1"):
        assert "\n" + line + "\n" in text, text
    for fmt in ("", "?xml"):
        code, _, body = fc.request(f.addr, uri="/status" + fmt).split()
        assert b"tasks dropped" in body or b"<tasks-dropped>" in body, body


def test_a_reload_and_a_stop_lose_no_queued_task(tmpdir_path, servers,
                                                 redis):
    f = start(tmpdir_path, servers, "  workers: 1\n", """
        pools:
          cache:
            driver: redis
            servers: [%s]
        """ % redis.address)
    old = task_pids(f)[-1]
    # the task process is busy, 20 posted tasks wait behind it, and the
    # reload comes: the old process finishes its task, the new takes the
    # queue
    assert get(f, "/t/task-post", name="t_sleep", **{"in": sleep_input(800)})[
        0] == 202
    wait_for(lambda: status(f)["tasks running"] == 1, 5, "the sleep running")
    for _ in range(20):
        assert get(f, "/t/task-post", name="t_incr", **{"in": "n"})[0] == 202
    assert status(f)["tasks queued"] == 20
    f.signal(signal.SIGUSR2)
    f.wait_log(r"configuration reloaded \(generation 2\)")
    wait_for(lambda: redis.cmd("GET", "n") == "20", 10, "all 20 run")
    wait_for(lambda: not alive(old), 5, "the old task process gone")
    assert task_pids(f)[-1] != old
    st = status(f)
    assert st["tasks done"] == 21 and st["tasks dropped"] == 0, st

    # a graceful stop: the workers finish, then the task processes empty
    # the queue before they go
    assert get(f, "/t/task-post", name="t_sleep", **{"in": sleep_input(800)})[
        0] == 202
    wait_for(lambda: status(f)["tasks running"] == 1, 5, "the sleep running")
    for _ in range(10):
        assert get(f, "/t/task-post", name="t_incr", **{"in": "m"})[0] == 202
    assert f.stop(signal.SIGQUIT) == 0
    assert redis.cmd("GET", "m") == "10"
    assert "dropped" not in f.log_text()


def test_a_fast_stop_logs_what_it_drops(tmpdir_path, servers):
    f = start(tmpdir_path, servers, "  workers: 1\n")
    assert get(f, "/t/task-post", name="t_sleep", **{"in": sleep_input(3000)})[
        0] == 202
    wait_for(lambda: status(f)["tasks running"] == 1, 5, "the sleep running")
    for _ in range(3):
        assert get(f, "/t/task-post", name="t_echo", **{"in": "z"})[0] == 202
    assert f.stop(signal.SIGTERM) == 0
    lines = re.findall(r"WARNING: task t_echo \(id \d+ from \d+\) dropped: "
                       r"fpmd stopped before it ran$", f.log_text(), re.M)
    assert len(lines) == 3, f.log_text()


def test_fpmd_task_runs_one_from_the_shell(tmpdir_path, servers, redis):
    need(FPMD_TEST_BIN, "fpmd")
    port = free_port()
    f = Fpmd(tmpdir_path, base_conf(port, os.path.join(tmpdir_path, "x.sock"),
                                    ROUTES + textwrap.dedent("""
        pools:
          cache:
            driver: redis
            servers: [%s]
        """) % redis.address), binary=FPMD_TEST_BIN)

    def run(*args, stdin=None):
        r = subprocess.run([FPMD_TEST_BIN, "-y", f.conf, *args],
                           capture_output=True, text=True, timeout=15,
                           input=stdin)
        return r.returncode, r.stdout, r.stderr

    assert run("task", "t_echo", '{"a": 1}')[:2] == (0, '{"a": 1}')
    assert run("task", "t_echo", "-", stdin="from stdin")[:2] == (
        0, "from stdin")
    # a task with the pools, as in a task process
    assert run("task", "t_incr", "k")[:2] == (0, "1")
    assert run("task", "t_incr", "k")[:2] == (0, "2")
    rc, out, err = run("task", "t_fail")
    assert (rc, out) == (1, "") and "task t_fail failed" in err
    rc, out, err = run("task", "t_nosuch")
    assert rc == 64 and 'no FPMD_TASK named "t_nosuch"' in err
    # fpmd run: the handler's task runs in the same process
    rc, out, err = run("run", "GET", "/t/task?name=t_incr&in=k")
    assert rc == 0 and out.endswith("\n\n3"), (out, err)


def test_a_cron_entry_runs_a_task_once_per_tick(tmpdir_path, servers, redis):
    f = start(tmpdir_path, servers, "  workers: 2\n", """
        pools:
          cache:
            driver: redis
            servers: [%s]
        cron:
          - name: ticker
            schedule: "* * * * * *"
            task: t_cron_task
        """ % redis.address)

    def runs():
        return [tuple(int(x) for x in i.split(":")) for i in
                redis.cmd("LRANGE", "crontask:ticker", "0", "-1")]

    wait_for(lambda: len(runs()) >= 3, 10, "3 runs")
    f.signal(signal.SIGUSR2)
    f.wait_log(r"configuration reloaded \(generation 2\)")
    n = len(runs())
    wait_for(lambda: len(runs()) >= n + 2, 10, "2 runs after the reload")
    f.stop(signal.SIGQUIT)
    ticks = [t for t, _ in runs()]
    assert len(ticks) == len(set(ticks)), runs()
    # run by the task processes, not by the workers
    assert {p for _, p in runs()} <= set(task_pids(f)), runs()


@pytest.mark.parametrize("extra,message", [
    ("tasks:\n  workers: 65\n", r":\d+:12: workers: .*65"),
    ("tasks:\n  workers: 1\n  timeout: 0\n", r":\d+:12: tasks.timeout: a task "
     r"needs a bound"),
    ("tasks:\n  workers: 1\n  max_payload: 17m\n", r":\d+:16: "
     r"tasks.max_payload: at most 16m"),
    ("cron:\n  - { name: c, every: 1s, task: t_nosuch }\ntasks:\n"
     "  workers: 1\n", r":\d+:5: cron c: unknown task \"t_nosuch\""),
    ("cron:\n  - { name: c, every: 1s, task: t_cron_task }\n",
     r":\d+:5: cron c: a task entry needs task processes \(tasks.workers\)"),
    ("cron:\n  - { name: c, every: 1s, task: t_cron_task, handler: hello }\n",
     r":\d+:5: cron: each entry needs a name: and one of handler: or task:"),
])
def test_config_errors_name_file_line_column(tmpdir_path, extra, message):
    rc, err, conf = config_check(tmpdir_path, extra)
    assert rc == 78, err
    assert re.search(re.escape(conf) + message, err), err

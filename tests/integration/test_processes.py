# SPDX-License-Identifier: BSD-2-Clause
"""processes: user processes the master supervises, on the real daemon
with a real redis-server: the test consumer (t_consumer in
tests/handlers/backends.c) moves items from "jobs" to "done" with the
reliable-queue pattern, handing each to a task, and loses none when
killed; a failing process is
started again after a growing back-off; a reload replaces the processes
and a stop ends them at once."""

import os
import re
import signal
import time

import fcgi_client as fc
from backends import Redis
from conftest import (FPMD_TEST_BIN, Fpmd, alive, base_conf, config_check,
                      free_port, status_json, wait_for)
from test_status import PHP_FPM_LINT, promtool_lint


def start(tmp, servers, redis, processes):
    port = free_port()
    f = Fpmd(tmp, base_conf(port, os.path.join(tmp, "fpmd.sock"), """
        pools:
          cache:
            driver: redis
            servers: [%s]
            timeout: 5s
        tasks:
          workers: 2
        processes:
        """ % redis.address + processes), binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", port))
    return f


def started(f, name):
    """{instance: pid} of the latest start of each instance."""
    out = {}
    for inst, pid in re.findall(r"process %s (\d+) started \(pid (\d+)\)"
                                % name, f.log_text()):
        out[int(inst)] = int(pid)
    return out


def addr(f):
    return ("127.0.0.1", int(re.search(r"fastcgi: 127.0.0.1:(\d+)",
                                       open(f.conf).read()).group(1)))


def push(redis, items):
    redis.cmd("RPUSH", "jobs", *items)


def done(redis):
    return redis.cmd("LRANGE", "done", "0", "-1")


def test_a_killed_consumer_loses_no_item(tmpdir_path, servers):
    redis = Redis(tmpdir_path).start()
    servers.append(redis)
    f = start(tmpdir_path, servers, redis,
              "  - { name: t_consumer, count: 2 }\n")
    wait_for(lambda: len(started(f, "t_consumer")) == 2, 10, "2 consumers")
    first = ["a%d" % i for i in range(100)]
    push(redis, first)
    wait_for(lambda: len(done(redis)) == 100, 10, "100 items done")
    assert sorted(done(redis)) == sorted(first)

    # one dies holding an item: the item comes back through its successor
    victim = started(f, "t_consumer")[0]
    os.kill(victim, signal.SIGKILL)
    f.wait_log(r"process t_consumer 0 \(pid %d\) died on signal 9 after "
               r"[\d.]+ s; starting it again in [\d.]+ s" % victim)
    wait_for(lambda: started(f, "t_consumer")[0] != victim, 10,
             "a new consumer 0")
    second = ["b%d" % i for i in range(100)]
    push(redis, second[:50] + ["crash"] + second[50:])
    wait_for(lambda: len(done(redis)) == 201, 15, "every item done")
    # the status page lists them, with the restarts
    rows = wait_for(lambda: (lambda r: r if len(r) == 2 and all(
        u["pid"] for u in r) else None)(status_json(
            addr(f), full=False).get("user_processes", [])), 10,
        "both consumers running on the status page")
    assert [(u["name"], u["instance"], u["state"]) for u in rows] == [
        ("t_consumer", 0, "running"), ("t_consumer", 1, "running")]
    # the kill of instance 0, and "crash" in whichever took it
    assert rows[0]["restarts"] >= 1, rows
    assert rows[0]["restarts"] + rows[1]["restarts"] == 2, rows
    code, _, body = fc.request(addr(f), uri="/status?openmetrics").split()
    assert code == 200
    assert promtool_lint(body) == PHP_FPM_LINT
    assert ('fpmd_user_process_up{process="t_consumer",instance="1"} 1\n'
            in body.decode())
    assert sorted(done(redis)) == sorted(first + second + ["crashed"])
    assert redis.cmd("LLEN", "processing:0") == 0
    assert redis.cmd("LLEN", "processing:1") == 0

    # a reload replaces them; a stop ends them without waiting their BLMOVE
    before = set(started(f, "t_consumer").values())
    f.signal(signal.SIGUSR2)
    f.wait_log(r"configuration reloaded \(generation 2\)")
    wait_for(lambda: not any(alive(p) for p in before), 10,
             "the old consumers gone")
    now = started(f, "t_consumer")
    assert len(now) == 2 and not set(now.values()) & before
    push(redis, ["c1", "c2"])
    wait_for(lambda: len(done(redis)) == 203, 10, "items after the reload")
    t0 = time.time()
    assert f.stop(signal.SIGQUIT) == 0
    assert time.time() - t0 < 3
    assert not any(alive(p) for p in now.values())


def test_a_failing_process_backs_off(tmpdir_path, servers):
    redis = Redis(tmpdir_path).start()
    servers.append(redis)
    f = start(tmpdir_path, servers, redis, "  - { name: t_failing }\n")
    lines = f.wait_log(r"process t_failing 0 \(pid \d+\) exited with code 1 "
                       r"after [\d.]+ s; starting it again in ([\d.]+) s",
                       count=4, timeout=20)
    delays = [float(m.group(1)) for m in lines[:4]]
    assert delays == [0.2, 0.4, 0.8, 1.6], delays


def test_an_unknown_process_is_a_config_error(tmpdir_path):
    rc, err, conf = config_check(tmpdir_path,
                                 "processes:\n  - { name: nosuch }\n")
    assert rc == 78, err
    assert re.search(re.escape(conf) + r':\d+:5: processes: no FPMD_PROCESS '
                     r'named "nosuch"', err), err


def test_a_subscriber_subscribes_again_after_a_restart(tmpdir_path, servers):
    redis = Redis(tmpdir_path).start()
    servers.append(redis)
    f = start(tmpdir_path, servers, redis, "  - { name: t_subscriber }\n")

    def subscribed():
        return (redis.cmd("PUBSUB", "NUMPAT") == 1
                and redis.cmd("PUBSUB", "NUMSUB", "alerts")[1] == 1)
    wait_for(subscribed, 10, "the subscriber on the server")
    for ch, msg in (("news.a", "m1"), ("alerts", "a1"), ("other", "x")):
        redis.cmd("PUBLISH", ch, msg)
    wait_for(lambda: redis.cmd("LRANGE", "got:news.a", "0", "-1") == ["m1"]
             and redis.cmd("LRANGE", "got:alerts", "0", "-1") == ["a1"], 10,
             "the messages handled")
    assert redis.cmd("EXISTS", "got:other") == 0

    # the server restarts (empty): the subscription comes back by itself
    redis.stop()
    again = Redis(tmpdir_path, name="redis2", port=redis.port).start()
    servers.append(again)
    f.wait_log(r"redis subscription on cache: .*; connecting again")
    wait_for(lambda: again.cmd("PUBSUB", "NUMPAT") == 1, 15,
             "subscribed again")
    again.cmd("PUBLISH", "news.b", "m2")
    wait_for(lambda: again.cmd("LRANGE", "got:news.b", "0", "-1") == ["m2"],
             10, "a message after the restart")

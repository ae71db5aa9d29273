# SPDX-License-Identifier: BSD-2-Clause
"""A redis pool behind Redis Sentinel, against real servers started here:
a master, two replicas and three redis-sentinel processes (quorum 2).
fpmd asks the sentinels for the master, writes there, follows a failover
(kill -9 of the master under a write load): writes resume on the new
master within a second of the sentinels' switch, and every write that
succeeded is on it, none lost to a second master. A subscription of the
pool follows the master too."""

import os
import re
import signal
import threading
import time

from backends import Redis, Sentinel, start_fpmd
from conftest import config_check, wait_for
from test_redis import call


def replicas_of(master):
    info = master.cmd("INFO", "replication")
    return int(re.search(r"connected_slaves:(\d+)", info).group(1))


def sentinel_set(tmp, servers):
    master = Redis(tmp, "r0").start()
    servers.append(master)
    replicas = [Redis(tmp, "r%d" % i, replicaof=master).start()
                for i in (1, 2)]
    servers += replicas
    wait_for(lambda: replicas_of(master) == 2, 10, "two replicas in sync")
    sentinels = [Sentinel(tmp, "s%d" % i, master).start() for i in range(3)]
    servers += sentinels

    def all_met():
        for s in sentinels:
            fields = s.cmd("SENTINEL", "master", "mymaster")
            info = dict(zip(fields[::2], fields[1::2]))
            if (int(info["num-other-sentinels"]) != 2
                    or int(info["num-slaves"]) != 2):
                return False
        return True
    wait_for(all_met, 20, "the sentinels to know each other and the "
             "replicas")
    return master, replicas, sentinels


def pool_yaml(sentinels):
    return """
        pools:
          cache:
            driver: redis
            sentinels: [%s]
            master: mymaster
            timeout: 500ms
            connect_timeout: 300ms
        """ % ", ".join(s.address for s in sentinels)


def incr(hport):
    try:
        status, j = call(hport, "cache", "INCR n")
    except (OSError, ValueError):
        return None
    if status != 200 or not isinstance(j.get("replies", [None])[0], int):
        return None
    return j["replies"][0]


def test_writes_follow_a_failover(tmpdir_path, servers):
    master, replicas, sentinels = sentinel_set(tmpdir_path, servers)
    f, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(sentinels))
    assert incr(hport) == 1
    assert master.cmd("GET", "n") == "1"

    results, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            t0 = time.time()
            results.append((t0, incr(hport)))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: sum(v is not None for _, v in results) >= 20, 10,
                 "writes before the kill")
        os.kill(master.proc.pid, signal.SIGKILL)
        killed = time.time()
        # the sentinels' switch, as they report it
        new = wait_for(lambda: (lambda p: p if p not in (None, master.port)
                                else None)(sentinels[0].master_port()), 30,
                       "the failover")
        switched = time.time()
        promoted = [r for r in replicas if r.port == new][0]
        wait_for(lambda: any(t > switched and v is not None
                             for t, v in results), 5, "writes again")
        first_ok = min(t for t, v in results if t > killed and v is not None)
        wait_for(lambda: sum(t > first_ok and v is not None
                             for t, v in results) >= 20, 10,
                 "writes after the failover")
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    # resumed within a second of the switch (a write that started before
    # it may end after it: its start counts)
    assert first_ok - switched < 1.0, (first_ok - switched,
                                       switched - killed)
    # every write after the failover went to the new master, in order:
    # no value twice, and its counter is the last one handed out
    after = [v for t, v in results if t >= first_ok and v is not None]
    assert len(after) == len(set(after)), after
    assert int(promoted.cmd("GET", "n")) == max(after)
    # heard through the subscription, or from a sentinel asked again after
    # the old master's connection broke, whichever came first
    f.wait_log(r"NOTICE: \[pool www\] redis pool cache: master mymaster is "
               r"127\.0\.0\.1:%d \((\+switch-master|asked a sentinel)\)"
               % new)


def calls_of(server, cmd):
    """How many cmd the server ran since its last CONFIG RESETSTAT."""
    info = server.cmd("INFO", "commandstats")
    m = re.search(r"cmdstat_%s:calls=(\d+)" % cmd, info)
    return int(m.group(1)) if m else 0


def spread(hport, everyone, n=10):
    """n replica reads and one write: where the GETs and the INCR ran."""
    for r in everyone:
        r.cmd("CONFIG", "RESETSTAT")
    for _ in range(n):
        status, j = call(hport, "cache", "GET n", replica=1)
        assert status == 200, j
    assert incr(hport) is not None
    return ([calls_of(r, "get") for r in everyone],
            [calls_of(r, "incr") for r in everyone])


def test_replica_reads_go_to_the_replicas_and_follow_a_failover(
        tmpdir_path, servers):
    master, replicas, sentinels = sentinel_set(tmpdir_path, servers)
    f, hport, _ = start_fpmd(tmpdir_path, servers, pool_yaml(sentinels))
    everyone = [master] + replicas
    assert incr(hport) == 1
    # the first replica read has the pool ask for the replicas (it goes to
    # the master meanwhile); then reads take turns on the two replicas,
    # and writes stay on the master (replicas run the INCR they are sent
    # too, through replication: only the master's count says who wrote)
    wait_for(lambda: spread(hport, everyone)[0] == [0, 5, 5], 20,
             "replica reads on the replicas")
    gets, incrs = spread(hport, everyone)
    assert gets == [0, 5, 5] and incrs[0] == 1, (gets, incrs)
    f.wait_log(r"redis pool cache: replica 127\.0\.0\.1:%d of mymaster "
               r"reads in slot" % replicas[0].port)

    os.kill(master.proc.pid, signal.SIGKILL)
    new = wait_for(lambda: (lambda p: p if p not in (None, master.port)
                            else None)(sentinels[0].master_port()), 30,
                   "the failover")
    promoted = [r for r in replicas if r.port == new][0]
    other = [r for r in replicas if r.port != new][0]
    # writes follow the new master; replica reads go to the replica left
    # once the sentinels see it in sync with the new master
    wait_for(lambda: incr(hport) is not None, 10, "writes again")

    def after():
        try:
            gets, incrs = spread(hport, [promoted, other])
        except AssertionError:
            return False
        return gets == [0, 10] and incrs[0] == 1
    wait_for(after, 30, "replica reads on the replica left")
    before = int(promoted.cmd("GET", "n"))
    assert incr(hport) == before + 1


def test_sentinel_config_errors(tmpdir_path):
    rc, err, conf = config_check(tmpdir_path, """
        pools:
          cache:
            driver: redis
            sentinels: [127.0.0.1:26379]
            servers: [127.0.0.1:6379]
            master: mymaster
        """)
    assert rc == 78 and re.search(
        re.escape(conf) + r":\d+:\d+: pools.cache: sentinels: is for a redis "
        r"pool without servers: or shard:, with master:", err), err
    rc, err, conf = config_check(tmpdir_path, """
        pools:
          cache:
            driver: redis
            sentinels: [127.0.0.1:26379]
        """)
    assert rc == 78 and "with master:" in err, err

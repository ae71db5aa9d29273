# SPDX-License-Identifier: BSD-2-Clause
"""cron: entries, run by the real daemon against a real redis-server: each
run of the test handler t_cron (tests/handlers/backends.c) pushes its
tick and its worker's pid to a Redis list, so the server, not the daemon,
says how often each tick ran: once, across reloads and a killed worker;
not while the last run goes on (overlap: false); every: at its pace.
Config errors name file:line:column."""

import os
import re
import signal

import pytest

from backends import Redis
from conftest import (FPMD_TEST_BIN, Fpmd, alive, base_conf, config_check,
                      free_port, wait_for)


@pytest.fixture
def redis(tmpdir_path, servers):
    r = Redis(tmpdir_path).start()
    servers.append(r)
    return r


def start(tmp, servers, redis, cron, children=2):
    port = free_port()
    text = base_conf(port, os.path.join(tmp, "fpmd.sock"), """
        pools:
          cache:
            driver: redis
            servers: [%s]
        cron:
        """ % redis.address + cron).replace(
        "max_children: 2", "max_children: %d" % children)
    f = Fpmd(tmp, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", port))
    return f


def runs(redis, name):
    """[(tick, pid)] in the order the runs pushed them."""
    return [tuple(int(x) for x in item.split(":"))
            for item in redis.cmd("LRANGE", "cron:" + name, "0", "-1")]


def wait_runs(redis, name, n, timeout=15):
    return wait_for(lambda: len(runs(redis, name)) >= n and runs(redis, name),
                    timeout, "%d runs of %s" % (n, name))


def test_each_tick_runs_once_across_reloads_and_a_killed_worker(
        tmpdir_path, servers, redis):
    # overlap: a tick the master is late for on a loaded machine runs
    # right after the one before, whose answer may not have come yet
    f = start(tmpdir_path, servers, redis, """
          - name: tick
            schedule: "* * * * * *"
            handler: t_cron
            overlap: true
        """)
    wait_runs(redis, "tick", 2)
    for gen in (2, 3, 4):
        f.signal(signal.SIGUSR2)
        f.wait_log(r"configuration reloaded \(generation %d\)" % gen)
        wait_runs(redis, "tick", len(runs(redis, "tick")) + 2)
        victim = f.workers()[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not alive(victim), 5, "the killed worker gone")
        wait_runs(redis, "tick", len(runs(redis, "tick")) + 2)
    f.stop(signal.SIGQUIT)
    got = runs(redis, "tick")
    ticks = [t for t, _ in got]
    assert len(ticks) == len(set(ticks)), got
    # every tick from the first to the last ran; one may be missing only
    # where a killed worker was running it, and then the master said so
    lost = set(range(ticks[0], ticks[-1] + 1)) - set(ticks)
    text = f.log_text()
    for t in lost:
        assert "exited before its run of" in text, (t, got, text)
    assert len(lost) <= 3, got
    # the runs went to more than one process: workers of 4 generations
    assert len({p for _, p in got}) >= 4, got


def test_a_tick_is_skipped_while_the_last_run_goes_on(tmpdir_path, servers,
                                                      redis):
    f = start(tmpdir_path, servers, redis, """
          - name: slow
            schedule: "* * * * * *"
            handler: t_cron
        """)
    got = wait_runs(redis, "slow", 3)
    ticks = [t for t, _ in got]
    # each run takes 1.5 s: the tick after its start finds it running
    assert all(b - a >= 2 for a, b in zip(ticks, ticks[1:])), got
    f.wait_log(r"cron slow: its last run is still going; this tick is "
               r"skipped \(overlap: false\)")


def test_overlap_runs_every_tick(tmpdir_path, servers, redis):
    start(tmpdir_path, servers, redis, """
          - name: slow
            schedule: "* * * * * *"
            handler: t_cron
            overlap: true
        """, children=1)
    got = wait_runs(redis, "slow", 4)
    ticks = [t for t, _ in got]
    # each run takes 1.5 s: runs a second apart overlap in the worker
    assert len(set(ticks)) == len(ticks), got
    assert any(b - a == 1 for a, b in zip(ticks, ticks[1:])), got


def test_every_runs_at_its_pace_in_one_process_at_a_time(tmpdir_path,
                                                         servers, redis):
    start(tmpdir_path, servers, redis, """
          - name: often
            every: 200ms
            handler: t_cron
        """)
    first = wait_runs(redis, "often", 1)
    got = wait_runs(redis, "often", 11)
    # 10 intervals of 200 ms after the first run, within 2 s and a bit;
    # never two runs for one interval
    assert len(got) <= 11 + 2, got


def test_a_failed_run_is_logged(tmpdir_path, servers, redis):
    f = start(tmpdir_path, servers, redis, """
          - name: fail
            every: 100ms
            handler: t_cron
        """)
    f.wait_log(r"WARNING: cron fail: the run of \S+ \S+ failed in child \d+")
    assert runs(redis, "fail") == []


@pytest.mark.parametrize("entry,message", [
    ('  - {name: a, handler: t_cron, schedule: "0 61 * * *"}\n',
     r':\d+:45: schedule: hour field: 61 is out of range 0-23'),
    ("  - {name: a, handler: t_cron, schedule: '* * * * FRI-MON'}\n",
     r':\d+:51: schedule: day-of-week field: range FRI-MON runs backwards'),
    ('  - {name: a, handler: t_cron, schedule: "@reboot"}\n',
     r':\d+:43: schedule: @reboot is not supported'),
    ('  - {name: a, handler: t_cron, every: 1s, schedule: "* * * * *"}\n',
     r':\d+:5: cron: each entry needs exactly one of schedule: or every:'),
    ('  - {name: a, handler: t_cron}\n',
     r':\d+:5: cron: each entry needs exactly one of schedule: or every:'),
    ('  - {name: a, handler: t_cron, every: 5ms}\n',
     r':\d+:\d+: every: at least 10 ms'),
    ('  - {name: a, handler: t_cron, schedule: "0 3 * * *",'
     ' timezone: Mars/Olympus}\n',
     r':\d+:\d+: timezone: unknown time zone "Mars/Olympus"'),
    ('  - {name: a, handler: t_cron, every: 1s}\n'
     '  - {name: a, handler: t_cron, every: 2s}\n',
     r':\d+:5: cron: a second entry named "a" \(the first is at line '
     r'\d+\)'),
    ('  - {name: a, handler: nosuch, every: 1s}\n',
     r':\d+:5: cron a: unknown handler "nosuch"'),
])
def test_config_errors_name_file_line_column(tmpdir_path, entry, message):
    rc, err, conf = config_check(tmpdir_path, "cron:\n" + entry)
    assert rc == 78, err
    assert re.search(re.escape(conf) + message, err), err


def test_a_good_entry_passes_the_check(tmpdir_path):
    rc, err, _ = config_check(tmpdir_path,
                              'cron:\n'
                              '  - {name: a, handler: t_cron, schedule: '
                              '"30 2 * * 1-5", timezone: Europe/Berlin}\n'
                              '  - {name: b, handler: t_cron, every: 90s}\n')
    assert rc == 0, err

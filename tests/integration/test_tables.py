# SPDX-License-Identifier: BSD-2-Clause
"""tables: shared by every worker, on the real daemon through the test
handler /t/table (tests/handlers/api.c): increments from every worker,
task process and user process at once add up exactly; a table outlives a killed worker and a reload that
leaves its layout alone, and starts empty when its layout changes; a full
table refuses a new key; config errors name file:line:column."""

import json
import os
import re
import signal
import threading

import pytest

import fcgi_client as fc
from conftest import (FPMD_TEST_BIN, Fpmd, alive, base_conf, config_check,
                      free_port, status_json, wait_for)

TABLES = """
tables:
  counters:
    rows: 1024
    key_size: 32
    columns:
      - { name: hits, type: int }
      - { name: note, type: bytes, size: 16 }
  small:
    rows: 2
    columns:
      - { name: hits, type: int }
"""


def start(tmp, servers, tables=TABLES, children=2):
    port = free_port()
    f = Fpmd(tmp, base_conf(port, os.path.join(tmp, "fpmd.sock"), tables)
             .replace("max_children: 2", "max_children: %d" % children),
             binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", port))
    return f, ("127.0.0.1", port)


def table(addr, **q):
    uri = "/t/table?" + "&".join("%s=%s" % kv for kv in q.items())
    status, _, body = fc.request(addr, uri=uri).split()
    return status, (json.loads(body) if status == 200 else body)


def test_increments_from_every_process_add_up(tmpdir_path, servers):
    # the workers, two task processes and a user process, all at once
    f, addr = start(tmpdir_path, servers, "  - match: GET /t/task\n"
                    "    handler: t_task\n" + TABLES + "tasks:\n  workers: 2\n"
                    "processes:\n  - { name: t_table_hammer }\n")
    wait_for(lambda: len(f.workers()) == 5, 10, "2 workers, 2 task "
             "processes and a user process")
    pids, wrong = set(), []

    def client():
        for _ in range(25):
            status, j = table(addr, t="counters", key="k", op="incr", n=200)
            if status != 200:
                wrong.append((status, j))
            else:
                pids.add(j["pid"])

    def tasks():
        for _ in range(10):
            status, _, body = fc.request(
                addr, uri="/t/task?name=t_table_incr&in=200").split()
            if status != 200:
                wrong.append((status, body))
            else:
                pids.add(int(body))

    threads = ([threading.Thread(target=client) for _ in range(8)]
               + [threading.Thread(target=tasks) for _ in range(4)])
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    # 8 x 25 x 200 from the workers, 4 x 10 x 200 from the task processes,
    # 25 x 200 from the user process
    wait_for(lambda: table(addr, t="counters", key="k", op="get")[1][
        "value"] == 53000, 10, "every increment in")
    assert len(pids) >= 3, pids
    assert pids <= set(f.workers()), (pids, f.workers())


def test_a_table_outlives_workers_and_reloads_of_its_layout(tmpdir_path,
                                                            servers):
    f, addr = start(tmpdir_path, servers)
    table(addr, t="counters", key="a", op="set", v=41)
    table(addr, t="small", key="a", op="set", v=7)
    for pid in f.workers():
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not alive(pid), 5, "a killed worker gone")
    wait_for(lambda: len(f.workers()) == 2, 10, "workers back")
    assert table(addr, t="counters", key="a", op="get")[1]["value"] == 41

    # the same layout (a column of "small" changes): counters is kept
    f.write_conf(base_conf(addr[1], os.path.join(tmpdir_path, "fpmd.sock"),
                           TABLES.replace("rows: 2", "rows: 3")))
    f.signal(signal.SIGUSR2)
    f.wait_log(r"configuration reloaded \(generation 2\)")
    f.wait_log(r"table counters kept: 1 of 1024 rows in use")
    f.wait_log(r"table small starts empty \(new, or its layout changed\)")
    wait_for(lambda: table(addr, t="small", key="a", op="get")[0] == 404, 10,
             "the new generation's workers answering")
    assert table(addr, t="counters", key="a", op="get")[1]["value"] == 41
    assert table(addr, t="counters", key="a", op="incr")[1]["value"] == 42


def test_a_full_table_refuses_a_new_key(tmpdir_path, servers):
    _, addr = start(tmpdir_path, servers)
    assert table(addr, t="small", key="a", op="incr")[0] == 200
    assert table(addr, t="small", key="b", op="incr")[0] == 200
    status, body = table(addr, t="small", key="c", op="incr")
    assert status == 507, body
    assert b"full" in body
    # the status page counts it, after php-fpm's keys
    small = [t for t in status_json(addr, full=False)["tables"]
             if t["name"] == "small"]
    assert small == [{"name": "small", "rows": 2, "rows used": 2,
                      "memory": small[0]["memory"], "full": 1,
                      "expired": 0, "recovered": 0}], small
    # a delete makes room; nothing else was touched
    assert table(addr, t="small", key="a", op="del")[0] == 200
    assert table(addr, t="small", key="c", op="incr")[1]["value"] == 1
    assert table(addr, t="small", key="b", op="get")[1]["value"] == 1


@pytest.mark.parametrize("tables,message", [
    ("tables:\n  t:\n    columns: []\n",
     r":\d+:5: tables: t: rows: is needed"),
    ("tables:\n  t: {rows: 0}\n",
     r":\d+:\d+: rows: "),
    ("tables:\n  t: {rows: 10, key_size: 2000}\n",
     r":\d+:\d+: key_size: "),
    ("tables:\n  t:\n    rows: 10\n    columns:\n"
     "      - { name: a, type: string }\n",
     r':\d+:\d+: type: "string" is not int, float or bytes'),
    ("tables:\n  t:\n    rows: 10\n    columns:\n"
     "      - { name: a, type: bytes }\n",
     r":\d+:9: columns: a: size: is needed for bytes"),
    ("tables:\n  t:\n    rows: 10\n    columns:\n"
     "      - { name: a, type: int }\n      - { name: a, type: float }\n",
     r':\d+:9: columns: a second column named "a"'),
])
def test_config_errors_name_file_line_column(tmpdir_path, tables, message):
    rc, err, conf = config_check(tmpdir_path, tables)
    assert rc == 78, err
    assert re.search(re.escape(conf) + message, err), err


def test_a_table_too_large_fails_the_start(tmpdir_path, servers):
    f = Fpmd(tmpdir_path, base_conf(free_port(), os.path.join(
        tmpdir_path, "fpmd.sock"), "tables:\n  huge:\n    rows: 1000000000\n"
        "    key_size: 1024\n"), binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start()
    assert f.proc.wait(10) == 78
    assert re.search(r"ERROR: .*huge", f.log_text()), f.log_text()

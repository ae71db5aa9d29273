# SPDX-License-Identifier: BSD-2-Clause
"""A task's round trip (handler -> task process -> handler) and how many
tasks a second the pool runs: fpmd on conf/demo.yaml with one worker and
TASK_WORKERS task processes (tasks: added), GET /task-echo on it (the
demo's echo task, 64 bytes each way; handlers/demo.c):

  - round trip: runs=5000 tasks one after another in one request, each
    timed from fpmd_task_start to its result in the handler;
  - the same while wrk -t1 -c64 loads /hello on the same worker;
  - tasks/s: wrk -t1 -c8 on /task-echo?n=32 (each request starts 32
    tasks at once and awaits them), tasks/s = 32 x requests/s.

    /usr/bin/python3 tests/bench/tasks.py   (FPMD=fpmd/fpmd, TASK_WORKERS=1)
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
FPMD = os.environ.get("FPMD", os.path.join(TOP, "fpmd", "fpmd"))
TASK_WORKERS = int(os.environ.get("TASK_WORKERS", "1"))
PER_REQUEST = 32


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def round_trip(port, runs=5000):
    with urllib.request.urlopen("http://127.0.0.1:%d/task-echo?runs=%d"
                                % (port, runs), timeout=120) as r:
        return json.load(r)


def wrk(binary, url, conns, secs):
    out = subprocess.run([binary, "-t1", "-c%d" % conns, "-d%ds" % secs,
                          url], capture_output=True, text=True).stdout
    rate = [line for line in out.splitlines() if "Requests/sec" in line]
    errors = [line for line in out.splitlines() if "Non-2xx" in line
              or "Socket errors" in line]
    if errors:
        sys.exit("wrk saw errors: %s" % errors)
    return float(rate[0].split()[-1]) if rate else 0.0


def main():
    binary = shutil.which("wrk")
    if not os.access(FPMD, os.X_OK) or binary is None:
        sys.exit("needs %s (build it) and wrk (apt-get install -y wrk)" % FPMD)
    tmp = tempfile.mkdtemp(prefix="fpmd-tasks-")
    port = free_port()
    with open(os.path.join(TOP, "conf", "demo.yaml")) as f:
        text = f.read()
    text = text.replace("  - fastcgi: 127.0.0.1:9000\n", "").replace(
        "127.0.0.1:8080", "127.0.0.1:%d" % port).replace(
        "pm:\n  mode: static\n", "pm:\n  mode: static\n  max_children: 1\n")
    text = text.replace("routes:\n", "routes:\n  - match: GET /task-echo\n"
                        "    handler: task_echo\n", 1)
    text += "tasks:\n  workers: %d\n  queue: 4096\n" % TASK_WORKERS
    conf = os.path.join(tmp, "fpmd.yaml")
    with open(conf, "w") as f:
        f.write(text)
    proc = subprocess.Popen([FPMD, "-F", "-R", "-y", conf],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        round_trip(port, 500)
        idle = round_trip(port)
        loaded = {}
        load = threading.Thread(target=lambda: loaded.update(
            rate=wrk(binary, "http://127.0.0.1:%d/hello" % port, 64, 8)))
        load.start()
        time.sleep(1)
        busy = round_trip(port)
        load.join()
        per_s = PER_REQUEST * wrk(binary, "http://127.0.0.1:%d/task-echo?n=%d"
                                  % (port, PER_REQUEST), 8, 10)
        print("task round trip (64 bytes each way), one worker, %d task "
              "process(es); us" % TASK_WORKERS)
        print("| worker | p50 | p99 | max |")
        print("|---|---:|---:|---:|")
        for name, r in (("idle", idle),
                        ("serving /hello, wrk -t1 -c64 (%.0f req/s)"
                         % loaded.get("rate", 0), busy)):
            print("| %s | %d | %d | %d |" % (name, r["p50_us"], r["p99_us"],
                                             r["max_us"]))
        print()
        print("tasks/s: %.0f (wrk -t1 -c8, %d tasks per request)"
              % (per_s, PER_REQUEST))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

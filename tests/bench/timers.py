# SPDX-License-Identifier: BSD-2-Clause
"""How late a worker's timers run, idle and while the worker serves /hello
at full load: one fpmd worker (conf/demo.yaml) on an HTTP port of its own,
GET /timer-lateness?every=10&runs=N on it (a 10 ms fpmd_timer_every, each
run's lateness after its planned time), first alone, then while wrk
-t1 -c64 loads /hello on the same worker. Prints the quantiles.

    /usr/bin/python3 tests/bench/timers.py      (FPMD=fpmd/fpmd, RUNS=500)
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
RUNS = int(os.environ.get("RUNS", "500"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lateness(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/timer-lateness?every=10"
                                "&runs=%d" % (port, RUNS), timeout=60) as r:
        return json.load(r)


def main():
    wrk = shutil.which("wrk")
    if not os.access(FPMD, os.X_OK) or wrk is None:
        sys.exit("needs %s (build it) and wrk (apt-get install -y wrk)" % FPMD)
    tmp = tempfile.mkdtemp(prefix="fpmd-timers-")
    port = free_port()
    with open(os.path.join(TOP, "conf", "demo.yaml")) as f:
        text = f.read()
    text = text.replace("  - fastcgi: 127.0.0.1:9000\n", "").replace(
        "127.0.0.1:8080", "127.0.0.1:%d" % port).replace(
        "pm:\n  mode: static\n", "pm:\n  mode: static\n  max_children: 1\n")
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
        idle = lateness(port)
        load = subprocess.Popen([wrk, "-t1", "-c64", "-d%ds" % (RUNS // 100
                                                               + 4),
                                 "http://127.0.0.1:%d/hello" % port],
                                stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        loaded = {}
        t = threading.Thread(target=lambda: loaded.update(lateness(port)))
        t.start()
        t.join()
        out = load.communicate()[0]
        rate = [line for line in out.splitlines() if "Requests/sec" in line]
        print("timer every 10 ms, %d runs, one worker; lateness in us" % RUNS)
        print("| worker | p50 | p99 | max |")
        print("|---|---:|---:|---:|")
        for name, r in (("idle", idle), ("serving /hello, wrk -t1 -c64 (%s)"
                                         % (rate[0].split()[-1] + " req/s"
                                            if rate else "?"), loaded)):
            print("| %s | %d | %d | %d |" % (name, r["p50_us"], r["p99_us"],
                                             r["max_us"]))
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

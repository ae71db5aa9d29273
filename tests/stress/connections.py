#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Connections: many idle ones, slow ones, and running out of descriptors.

1. Baseline: wrk -t1 -c64 on /hello at fpmd's HTTP listener (two workers).
2. IDLE (10,000) kept-alive connections, each having had one answer, and
   SLOW (1,000) slowloris connections (a request head sent a byte every
   DRIP seconds) held while the same wrk runs again: its rate and errors
   against the baseline; the workers' RSS growth per idle connection; when
   the server closed each slowloris connection (timeouts.header_read, 10 s
   by default, counted from accept whatever drips in).
3. Descriptor exhaustion: a second fpmd, one worker, under prlimit
   --nofile=NOFILE. HELD connections park a request
   (/probe?sleep_ms=...), which fpmd may not close to make room, then as
   many more ask for /hello: the worker runs out of descriptors. Its
   error log must say it paused accepting, its CPU time must stay low
   while the extra connections wait (no spin on a readable listener),
   and once the parked requests end every waiting connection and a new
   one must be answered.

limits.connections is raised to 8192 a worker (4096 by default) and
timeouts.keepalive to 300 s so that the idle connections stay for the
run; this script raises its own RLIMIT_NOFILE to the hard limit.
Environment: IDLE (10000), SLOW (1000), DRIP (2 s), SECONDS (wrk's, 10),
NOFILE (256), FPMD_BUILD. Exits 1 when an aim fails.
"""

import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

import common as c

IDLE = int(os.environ.get("IDLE", "10000"))
SLOW = int(os.environ.get("SLOW", "1000"))
DRIP = float(os.environ.get("DRIP", "2"))
SECONDS = int(os.environ.get("SECONDS", "10"))
NOFILE = int(os.environ.get("NOFILE", "256"))
HEADER_READ = 10.0
SETTINGS = {"pm": {"max_children": 2},
            "limits": {"connections": 8192},
            "timeouts": {"keepalive": "300s",
                         "header_read": "%ds" % HEADER_READ}}
REQ = b"GET /hello HTTP/1.1\r\nHost: stress\r\n\r\n"


def connect_many(port, n, send=b""):
    """n connections to port, send written on each; connects wait for
    each other in batches so the listen queue (4096) never overflows."""
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(True)
        s.connect(("127.0.0.1", port))
        if send:
            s.sendall(send)
        socks.append(s)
    return socks


def read_answers(socks, timeout=30):
    """Reads one HTTP answer from each (a /hello: small, in one segment);
    returns how many came with 200."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    ok, left, end = 0, len(socks), time.time() + timeout
    while left and time.time() < end:
        for key, _ in sel.select(1):
            try:
                data = key.fileobj.recv(4096)
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 200"):
                ok += 1
            sel.unregister(key.fileobj)
            left -= 1
    sel.close()
    return ok


class Slowloris(threading.Thread):
    """Drips a request head a byte at a time on each connection and notes
    when the server closed it."""

    HEAD = b"GET /hello HTTP/1.1\r\nHost: stress\r\nX-Slow: " + b"a" * 200

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.socks = connect_many(port, n)
        self.opened = time.monotonic()
        self.closed = {}          # sock -> seconds after opening
        self.stop = False

    def run(self):
        pos = 0
        while not self.stop and len(self.closed) < len(self.socks):
            for s in self.socks:
                if s in self.closed:
                    continue
                try:
                    s.send(self.HEAD[pos:pos + 1])
                    s.setblocking(False)
                    # closed, or answered 408 on its way out
                    data = s.recv(4096, socket.MSG_PEEK)
                    if data == b"" or data.startswith(b"HTTP/"):
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    self.closed[s] = time.monotonic() - self.opened
            pos = min(pos + 1, len(self.HEAD) - 1)
            time.sleep(DRIP)

    def close(self):
        self.stop = True
        self.join()
        for s in self.socks:
            s.close()


def cpu_ticks(pids):
    return c.b.cpu_seconds(pids)


def exhaustion(st, aims, rows):
    fp = c.Fpmd(st, {"pm": {"max_children": 1}}, prefix=(
        "prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE)), name="fpmd-nofile")
    held_n = NOFILE - 40      # what is left of the worker's descriptors
    extra_n = NOFILE
    t0 = time.monotonic()
    held = connect_many(fp.http_port, held_n, (
        "GET /probe?sleep_ms=%d HTTP/1.1\r\nHost: stress\r\n\r\n"
        % 8000).encode())
    time.sleep(1)
    extra = connect_many(fp.http_port, extra_n, REQ)
    pids = [fp.pid] + fp.workers()
    cpu0, w0 = cpu_ticks(pids), time.monotonic()
    time.sleep(4)
    cpu = (cpu_ticks(pids) - cpu0) / (time.monotonic() - w0)
    with open(fp.error_log) as f:
        log = f.read()
    paused = [ln for ln in log.splitlines() if "accepting paused" in ln
              or "Too many open files" in ln]
    held_ok = read_answers(held, 30)
    extra_ok = read_answers(extra, 30)
    new_ok = read_answers(connect_many(fp.http_port, 10, REQ), 10)
    for s in held + extra:
        s.close()
    rows.append(("descriptor exhaustion (nofile %d, 1 worker)" % NOFILE,
                 "%d parked + %d more" % (held_n, extra_n),
                 "CPU %.1f%% of a core while waiting; parked answered %d, "
                 "waiting answered %d, new answered %d/10 after %.0f s" % (
                     cpu * 100, held_ok, extra_ok, new_ok,
                     time.monotonic() - t0)))
    aims.append(("out of descriptors, fpmd logs a back-off",
                 bool(paused), paused[0][:160] if paused
                 else "no EMFILE line in the error log"))
    aims.append(("out of descriptors, no spin: CPU < 10% of a core",
                 cpu < 0.10, "%.1f%%" % (cpu * 100)))
    aims.append(("recovers: every waiting and new connection answered",
                 held_ok == held_n and extra_ok == extra_n and new_ok == 10,
                 "%d/%d parked, %d/%d waiting, %d/10 new" % (
                     held_ok, held_n, extra_ok, extra_n, new_ok)))


def main():
    c.need_build()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE + SLOW + NOFILE * 2 + 512
    if hard < need:
        sys.exit("RLIMIT_NOFILE hard limit %d < %d: run as root or raise "
                 "it (ulimit -Hn)" % (hard, need))
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    aims, rows = [], []
    with c.Stage("connections") as st:
        fp = c.Fpmd(st, SETTINGS)
        url = fp.url("/hello")
        base = c.wrk(url, 64, SECONDS)
        workers = fp.workers()
        rss0 = c.rss_each(workers)
        t = time.monotonic()
        idle = connect_many(fp.http_port, IDLE, REQ)
        idle_ok = read_answers(idle, 60)
        time.sleep(1.5)         # past the free lists' one-second trim
        rss1 = c.rss_each(workers)
        per_conn = (sum(rss1.values()) - sum(rss0.values())) * 1024 / IDLE
        opened = time.monotonic() - t
        slow = Slowloris(fp.http_port, SLOW)
        slow.start()
        loaded = c.wrk(url, 64, SECONDS)
        # the slowloris ones are cut at header_read from their accept
        end = slow.opened + HEADER_READ + 2 * DRIP + 2
        while time.monotonic() < end and len(slow.closed) < SLOW:
            time.sleep(0.5)
        slow.close()
        times = sorted(slow.closed.values())
        # still there after wrk and the slowloris: an idle one answers
        probe = idle[:100]
        for s in probe:
            s.setblocking(True)
            s.sendall(REQ)
        reused = read_answers(probe, 10)
        lost = set(workers) - set(fp.workers())
        for s in idle:
            s.close()
        rows.append(("baseline /hello (wrk -c64)", "—",
                     "%.0f req/s, p99 %.2f ms, %d errors" % (
                         base["rps"], base["p99"],
                         base["non2xx"] + base["sockerr"])))
        rows.append(("%d idle kept-alive" % IDLE,
                     "%d answered first, opened in %.1f s" % (idle_ok,
                                                               opened),
                     "workers' RSS %.1f → %.1f MiB: %.0f bytes per idle "
                     "connection" % (sum(rss0.values()) / 1024,
                                     sum(rss1.values()) / 1024, per_conn)))
        rows.append(("+ %d slowloris, /hello under wrk -c64" % SLOW,
                     "byte every %.0f s" % DRIP,
                     "%.0f req/s (%.0f%% of baseline), p99 %.2f ms, %d "
                     "errors; %d/%d idle still answer" % (
                         loaded["rps"], 100 * loaded["rps"]
                         / max(base["rps"], 1), loaded["p99"],
                         loaded["non2xx"] + loaded["sockerr"], reused,
                         len(probe))))
        rows.append(("slowloris cut by the server", "header_read %.0f s"
                     % HEADER_READ,
                     "%d/%d closed, first at %.1f s, last at %.1f s" % (
                         len(times), SLOW, times[0] if times else 0,
                         times[-1] if times else 0)))
        aims.append(("service continued: rate ≥ 70% of baseline, no "
                     "errors", loaded["rps"] >= 0.7 * base["rps"]
                     and loaded["non2xx"] + loaded["sockerr"] == 0,
                     "%.0f vs %.0f req/s, %d errors" % (
                         loaded["rps"], base["rps"],
                         loaded["non2xx"] + loaded["sockerr"])))
        aims.append(("idle connections all answered and kept",
                     idle_ok == IDLE and reused == len(probe),
                     "%d/%d, %d/%d reused" % (idle_ok, IDLE, reused,
                                              len(probe))))
        aims.append(("per idle connection < 4 KiB of worker RSS",
                     per_conn < 4096, "%.0f bytes" % per_conn))
        aims.append(("slowloris all cut by header_read (within 2 drips)",
                     len(times) == SLOW and times[-1] <= HEADER_READ
                     + 2 * DRIP + 1, "%d/%d by %.1f s" % (
                         len(times), SLOW, times[-1] if times else 0)))
        aims.append(("no worker lost", not lost, "%d lost" % len(lost)))
        exhaustion(st, aims, rows)

    print("\n## connections: %d cores (shared)\n" % os.cpu_count())
    c.table(["phase", "setup", "measured"], rows)
    sys.exit(0 if c.verdicts(aims) else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Soak: 70% of capacity (--load) for N minutes, reloads and log rotations
throughout, workers recycling, and nothing may grow or fail.

One nginx worker (FastCGI, kept-alive) in front of fpmd (two workers) on
conf/demo.yaml, whose pools reach a redis-server and a mariadbd and whose
legacy pass-through reaches a php-fpm 8.2 (pm static, 16 children), all
started as tests/bench/run.py starts them. The mix: /hello and /json
(native), /io-fast (pools), /hello.php (pass-through). The capacity of
the mix is measured first unless RATE is given, as the highest rate the
soak's own generators sustain (see capacity()); then one
tests/stress/openloop per route sends a quarter of --load (70%) of it
for the whole run, each answer given 5 s from its send (-w).
Meanwhile:

- SIGUSR2 (graceful reload) every minute;
- every minute, 30 s after each reload, the error and access logs are
  renamed (as logrotate does) and SIGUSR1 makes fpmd reopen them;
- pm.max_requests makes each worker recycle every 20 to 40 s
  (max_requests_jitter spreads the two workers).

Every 2 s: RSS and open descriptors of the master and the workers, each
descriptor sorted (an open TCP connection to a backend, another open
connection, anything else: /proc/PID/fd against /proc/net/tcp), and the
connections the pools say they hold (the status page's backend_size).
The aims: not one error (non-2xx, timeout or socket error); after the
first third (warm-up), the last third's mean RSS within 5% of the
middle third's once the backend connections' cost is taken out (pools
follow the load; each connection's cost is fitted over both thirds);
the descriptors besides open connections, the master's and a worker's
median, no more than 2 over the middle third's; every backend
connection held by a pool (open less the pools' count: median 1 at
most), and never over two generations of the pools' max (cache and db:
32 a worker; legacy: 8 a worker).

  soak.py [--minutes N] [--load F]   (30 and 0.7; CI: 3 and 0.5)

--load is the fraction of the measured capacity sent. The summary also
lists the slowest moments (100 ms slices with a 2xx slower than 1 s or a
failure, merged when less than a second apart) with the reloads, log
renames and recycles (from fpmd's error logs) in the 10 s before each,
and a table of the cores each program used (and the host took) and of
the connections nginx and fpmd held, in each third and around the
slowest moments (tests/stress/common.py CpuMix; every second of it in
the stage's cpu.tsv).

Environment: RATE (total req/s, instead of measuring), FPMD_BUILD.
Exits 1 when an aim fails.
"""

import argparse
import datetime
import glob
import os
import re
import signal
import statistics
import sys
import threading
import time
import urllib.request

import common as c

ROUTES = ("/hello", "/json", "/io-fast", "/hello.php")
SAMPLE = 2     # seconds: the medians want many samples a third
SHOWN = 10     # seconds between the table's rows
# A generator's connections at most, as wrk's for the capacity. Its
# requests wait for a free one in plan order, 5 s at most, and then have
# 5 s for the answer (openloop -w). With what was left of the 5 s
# instead, a slowdown left pass-through failing wholly for minutes,
# across reloads that replaced every worker: each request left the
# queue nearly expired and was cut (stress README). 512 a route (the
# servers then seeing the whole plan) opened ~2,000 connections through
# nginx at the first slowdown and made it worse.
CONNS = 64
POOL_MAX = 32
# A pass-through call holds one of these for its whole round trip, so
# they bound its throughput at children / round trip: with 8, a round
# trip stretched past 3.6 ms by two shared cores at 2,200 pass-through
# requests a second let the queue grow for tens of seconds
# (stress README).
PHP_CHILDREN = 16
# the status page's name for the pool that reaches each backend
POOL_OF = {"redis": "cache", "mariadb": "db", "php-fpm": "legacy"}
# The capacity's probes: how long each runs (a thirtieth of the run,
# from 10 to 60 s), how many halve the range, and what a rate must keep
# to hold. A rate past what the stack sustains by a fraction f queues
# f * seconds by the end: 500 ms in 60 s hides 0.8% at most (1 s in
# 10 s hid 10%). 20-s probes through a reload held 10,576 req/s, and 30
# minutes at 70% of it failed from the first reload on: what the stack
# holds for 20 s after a quiet moment it does not hold for minutes
# (stress README).
PROBE_MIN_S, PROBE_MAX_S = 10, 60
PROBES = 5
HELD_P99_MS = 500


def start_mix(port, rate, seconds, series=None):
    """One openloop a route, a quarter of rate each, CONNS connections,
    every answer given 5 s from its send: (threads started, results by
    route, filled in as each ends)."""
    results = {}

    def load(path):
        results[path] = c.openloop(port, path, rate / len(ROUTES), seconds,
                                   CONNS, 5000, from_send=True,
                                   series=series and series[path])
    threads = [threading.Thread(target=load, args=(p,)) for p in ROUTES]
    for t in threads:
        t.start()
    return threads, results


def recycle_after(fp, requests):
    """pm.max_requests for fp's next generation: each worker recycles
    after requests to twice that (the jitter spreads the two, as an
    operator's would: recycled together, both start with cold pools at
    once)."""
    fp.conf["pm"]["max_requests"] = max(100, int(requests))
    fp.conf["pm"]["max_requests_jitter"] = fp.conf["pm"]["max_requests"]


def probe(fp, port, rate, seconds):
    """seconds of the mix at rate with the run's faults, denser: a
    SIGUSR2 a quarter in, and pm.max_requests set so that each new worker
    recycles a quarter to half of seconds after it (the run: a reload a
    minute, a recycle every 20 to 40 s a worker). Quiet probes held
    11,801 req/s and the run at 70% of it failed 1.2% of its requests
    (stress README): reloads and recycles cost the stack more than a
    quiet moment shows. (failed, highest p99 ms, every route
    reported)."""
    recycle_after(fp, rate * seconds / 8)
    fp.write()
    threads, results = start_mix(port, rate, seconds)
    time.sleep(seconds / 4)
    os.kill(fp.pid, signal.SIGUSR2)
    for t in threads:
        t.join()
    failed = sum(r.get("planned", 0) - sum(
        v for k, v in r.items() if k.startswith("status_2"))
        for r in results.values())
    p99 = max(r.get("p99_ms", 0) for r in results.values())
    return failed, p99, len(results) == len(ROUTES)


def capacity(fp, port, lua, seconds):
    """The highest rate the soak's generators sustain for seconds
    through a reload and recycles (probe()) with no failure and every
    route's p99 within HELD_P99_MS: (that rate, the closed loop's burst). A closed loop (wrk,
    64 connections, 3 s) sends each request as the last is answered, so
    the servers take them in batches; paced requests each wake nginx,
    fpmd and the backends on their own and cost more. A stack whose
    bursts read 10,200 to 12,700 2xx/s held an open loop at 7,500/s and
    failed it at 8,500 (stress README): 70% of a burst was up to all it
    sustained. So the burst
    only bounds the search: PROBES runs halve the range from 30% of it
    to 125% (bursts read 7,975 to 12,734 on one day). The first burst
    after start read lowest (10,218 2xx/s, those after it 11,146 to
    12,734): 2 s of the same load go first, uncounted."""
    url = "http://127.0.0.1:%d/" % port
    c.wrk(url, 64, 2, "-s", lua)
    burst = c.wrk(url, 64, 3, "-s", lua)
    lo, hi = 0.3 * burst["good_rps"], 1.25 * burst["good_rps"]
    print("closed-loop burst %.0f 2xx/s (%d non-2xx); open-loop probes "
          "of %d s, a reload and recycles in each:" % (
              burst["good_rps"], burst["non2xx"], seconds),
          flush=True)
    for _ in range(PROBES):
        rate = (lo + hi) / 2
        failed, p99, reported = probe(fp, port, rate, seconds)
        held = reported and failed == 0 and p99 <= HELD_P99_MS
        print("  %.0f req/s: %s (%d failed, highest p99 %.0f ms)" % (
            rate, "held" if held else "not held", failed, p99), flush=True)
        if held:
            lo = rate
        else:
            hi = rate
    return lo, burst["good_rps"]


def pools_size(fp):
    """Connections fpmd's pools say they hold, by pool, summed over the
    workers of every generation (the status page's backend_size); None
    when the page did not answer."""
    try:
        with urllib.request.urlopen(fp.url("/status?openmetrics"),
                                    timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^fpmd_backend_size\{backend="([^"]*)"\} (\d+)$', text, re.M)}


def sample(fp, ports, t0):
    """Each of fpmd's descriptors sorted: an open TCP connection to a
    backend, another open TCP connection (nginx's, not counted), or
    anything else (listeners, logs, pipes, a socket its peer closed)."""
    workers = fp.workers()
    backend_of = {port: name for name, port in ports.items()}
    backend, other, fds = dict.fromkeys(ports, 0), {}, 0
    socks = c.tcp_sockets()
    for pid in [fp.pid] + workers:
        other[pid] = 0
        for target in c.fd_targets(pid):
            fds += 1
            sock = socks.get(target[len("socket:["):-1]) \
                if target.startswith("socket:[") else None
            if sock is None or sock[2] != "01":
                other[pid] += 1
            elif sock[1] in backend_of:
                backend[backend_of[sock[1]]] += 1
    return {"t": time.monotonic() - t0,
            "rss_master": c.b.rss_kib([fp.pid]),
            "rss_workers": c.b.rss_kib(workers),
            "workers": workers,
            "fds": fds,
            "other": other, "backend": backend,
            "pools": pools_size(fp)}


def rotate(logs, k):
    """Renamed as logrotate does; the error log's kept (.k) for the
    recycles it names, the access log's overwritten (.1)."""
    for path, keep in logs:
        if os.path.exists(path):
            os.rename(path, "%s.%d" % (path, k if keep else 1))


RECYCLE = re.compile(r"^\[(\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d)\] NOTICE: "
                     r".* child (\d+) served \d+ requests .*recycling$")


def recycles(error_log, wall_minus_mono):
    """(monotonic time, "worker N recycled") from fpmd's error logs."""
    out = []
    for path in glob.glob(error_log + "*"):
        with open(path, errors="replace") as f:
            for line in f:
                m = RECYCLE.match(line.rstrip("\n"))
                if m:
                    wall = datetime.datetime.strptime(
                        m.group(1), "%d-%b-%Y %H:%M:%S").replace(
                        tzinfo=datetime.timezone.utc).timestamp()
                    out.append((wall - wall_minus_mono,
                                "worker %s recycled" % m.group(2)))
    return out


def slow_moments(series, events, t0, top=8):
    """Rows for the slowest moments: slices with a 2xx over 1 s or a
    failure, merged when under a second apart, worst first."""
    bad = sorted((t, name, ok_max, failed)
                 for name, (_, slices) in series.items()
                 for t, _, _, failed, ok_max in slices
                 if ok_max > 1 or failed)
    spans = []
    for t, name, ok_max, failed in bad:
        if spans and t - spans[-1]["end"] < 1:
            sp = spans[-1]
        else:
            sp = {"start": t, "routes": set(), "worst": 0, "failed": 0}
            spans.append(sp)
        sp["end"] = t + 0.1
        sp["routes"].add(name)
        sp["worst"] = max(sp["worst"], ok_max)
        sp["failed"] += failed
    rows, worst = [], sorted(spans, key=lambda x: -x["worst"])[:top]
    for sp in worst:
        before = ["%s %.1f s before" % (what, sp["start"] - t)
                  for t, what in events
                  if sp["start"] - 10 <= t <= sp["start"] + 0.1]
        rows.append(("%.1f" % (sp["start"] - t0),
                     "%.1f" % (sp["end"] - sp["start"]),
                     ", ".join(sorted(sp["routes"])),
                     "%.2f" % sp["worst"], sp["failed"],
                     "; ".join(before) or "—"))
    return rows, worst


def cpu_rows(cpu, t0, seconds, spans):
    """The CPU and connection table: each third's mean, then the 10 s
    before and the first 30 s of each of the slowest spans."""
    windows = [("%s third" % name, t0 + seconds * i / 3,
                t0 + seconds * (i + 1) / 3)
               for i, name in enumerate(("first", "middle", "last"))]
    for sp in spans[:4]:
        at = sp["start"] - t0
        windows.append(("10 s before %.0f s" % at, sp["start"] - 10,
                        sp["start"]))
        windows.append(("%.0f s + %.0f s" % (at, min(sp["end"] - sp["start"],
                                                     30)),
                        sp["start"], min(sp["end"], sp["start"] + 30)))
    rows = []
    for name, a, z in windows:
        m = cpu.mean(a, z)
        if m:
            rows.append([name] + ["%.2f" % m[k] if "est" not in k and
                                  "tw" not in k else "%.0f" % m[k]
                                  for k in cpu.columns() + ["slow max"]])
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--load", type=float, default=0.7)
    args = ap.parse_args()
    minutes = args.minutes
    seconds = int(minutes * 60)
    c.need_build()
    aims, samples, events = [], [], []
    with c.Stage("soak") as st:
        backends, php = c.start_backends(st, PHP_CHILDREN)
        access = st.path("fpmd-access.log")
        settings = {
            "pm": {"max_children": 2},
            "log": {"access": access},
            # php-fpm serves one kept connection per child: its children
            # over fpmd's two workers, or half the connections wait in
            # its listen queue behind kept ones (run.py does the same)
            "legacy": {"fastcgi": php.address, "max": PHP_CHILDREN // 2,
                       "timeout": "60s"},
        }
        # what an operator would give two workers, not the bench's 256
        for pool in ("cache", "db"):
            settings.setdefault("pools", {})[pool] = {"max": POOL_MAX}
        fp = c.Fpmd(st, settings, backends,
                    more_routes=[{"match": "*", "to": "legacy"}])
        rate = float(os.environ.get("RATE", "0"))
        # nginx keeps at most keepalive idle connections to fpmd and
        # closes the others as their requests end: with php-fpm's 32,
        # the requests in flight beyond 32 each cost a connection, and
        # at 7,600 req/s about 200 a second were opened (12,000 in
        # TIME_WAIT) and every route slowed to seconds within a minute.
        # fpmd serves any number of connections a worker, so the soak's
        # nginx keeps one for each the generators may use.
        port = c.start_nginx(st, "127.0.0.1:%d" % fp.fcgi_port,
                             connections=2 * len(ROUTES) * CONNS + 64,
                             keepalive=len(ROUTES) * CONNS)
        if not rate:
            with open(st.path("mix.lua"), "w") as f:
                f.write(c.mix_lua(ROUTES))
            sustained, burst = capacity(
                fp, port, st.path("mix.lua"),
                min(PROBE_MAX_S, max(PROBE_MIN_S, seconds // 30)))
            rate = args.load * sustained
            print("mix capacity %.0f req/s sustained (%.0f%% of the "
                  "burst): running at %.0f" % (
                      sustained, 100 * sustained / burst, rate), flush=True)
        # each worker recycles every 20 to 40 s at this rate
        recycle_after(fp, rate * 20 / 2)
        fp.reload()
        ports = {"redis": backends.redis_port,
                 "mariadb": backends.mysql_port,
                 "php-fpm": int(php.address.rsplit(":", 1)[1])}
        series_files = {p: st.path("series%s" % p.replace("/", "-"))
                        for p in ROUTES}
        cpu = c.CpuMix({"nginx": port, "fpmd": fp.fcgi_port},
                       st.path("cpu.tsv"))
        cpu.start()
        t0 = time.monotonic()
        wall_minus_mono = time.time() - t0
        threads, results = start_mix(port, rate, seconds, series_files)
        seen = set(fp.workers())
        next_sample, next_reload, next_reopen = 0, 60, 30
        while time.monotonic() - t0 < seconds:
            now = time.monotonic() - t0
            if now >= next_sample:
                s = sample(fp, ports, t0)
                seen.update(s["workers"])
                samples.append(s)
                next_sample += SAMPLE
            if now >= next_reload:
                os.kill(fp.pid, signal.SIGUSR2)
                events.append((t0 + now, "SIGUSR2"))
                next_reload += 60
            if now >= next_reopen:
                rotate(((fp.error_log, True), (access, False)),
                       next_reopen // 60 + 1)
                os.kill(fp.pid, signal.SIGUSR1)
                events.append((t0 + now, "logs renamed, SIGUSR1"))
                next_reopen += 60
            time.sleep(0.5)
        for t in threads:
            t.join()
        cpu.stop()
        time.sleep(1)
        reopened = all(os.path.getsize(p) > 0 for p in (access,)) and \
            os.path.exists(fp.error_log)
        alive = fp.proc.poll() is None
        series = {p: c.read_series(f) for p, f in series_files.items()
                  if os.path.exists(f)}
        moments, spans = slow_moments(series, sorted(
            events + recycles(fp.error_log, wall_minus_mono)), t0)

    print("\n## soak: %.0f min at %.0f req/s (a quarter each on %s), "
          "through one nginx worker, %d cores (shared)\n" % (
              minutes, rate, ", ".join(ROUTES), os.cpu_count()))
    rows, errors = [], 0
    for path in ROUTES:
        r = results.get(path, {})
        ok = sum(v for k, v in r.items()
                 if k.startswith("status_2"))
        bad = (r.get("planned", 0) - ok)
        errors += bad
        rows.append((path, "%.0f" % (r.get("planned", 0) / seconds),
                     "%.0f" % ok, "%.0f" % bad, ", ".join(
                         "%s %d" % (k, v) for k, v in sorted(r.items())
                         if (k.startswith("status_") and
                             not k.startswith("status_2")) or
                         (k in ("timeouts", "connect_errors",
                                "read_errors", "unsent") and v)) or "—",
                     "%.1f" % r.get("p50_ms", 0),
                     "%.1f" % r.get("p99_ms", 0)))
    c.table(["route", "req/s", "2xx", "errors", "error mix", "p50 ms",
             "p99 ms"], rows)
    srows = []
    for s in samples[::SHOWN // SAMPLE]:
        srows.append(("%.0f" % s["t"], "%.1f" % (s["rss_master"] / 1024),
                      "%.1f" % (s["rss_workers"] / 1024), len(s["workers"]),
                      s["fds"], sum(s["other"].values()), ", ".join(
                          "%s %d" % kv for kv in sorted(s["backend"].items())),
                      "—" if s["pools"] is None else ", ".join(
                          "%s %d" % kv for kv in sorted(s["pools"].items()))))
    c.table(["t s", "master RSS MiB", "workers RSS MiB", "workers",
             "fds (all)", "fds not connections", "backend connections",
             "pools hold"], srows)
    print("events: " + "; ".join("%.0f s: %s" % (t - t0, what)
                                 for t, what in events) + "\n")
    if moments:
        print("slowest moments:\n")
        c.table(["t s", "for s", "routes", "slowest 2xx s", "failed",
                 "in the 10 s before"], moments)
        print()
    print("cores used (of %d; steal: taken by the host, as it says) and "
          "connections (est: accepted and open, tw: in TIME_WAIT), means; "
          "slow: a fixed piece of work's time at real-time priority over "
          "its fastest (interrupts and the host), mean and worst "
          "second:\n" % os.cpu_count())
    c.table(["when"] + cpu.columns() + ["slow max"],
            cpu_rows(cpu, t0, seconds, spans))

    n = len(samples)
    mid, last = samples[n // 3:2 * n // 3], samples[2 * n // 3:]
    steady = mid + last

    def mean(xs):
        xs = list(xs)
        return sum(xs) / max(len(xs), 1)

    def median(xs):
        return statistics.median(list(xs))

    def rss(s):
        return s["rss_master"] + s["rss_workers"]

    def held(s):
        return sum(s["backend"].values())
    aims.append(("no errors (non-2xx, timeouts, socket errors)",
                 errors == 0, "%d of %d" % (errors, sum(
                     r.get("planned", 0) for r in results.values()))))
    # A pooled connection holds its client library's buffers, and the
    # pools grow with the requests in flight: a last third slowed by its
    # neighbours (pools at 92 connections against 50) read 36.6 → 39.5
    # MiB with nothing growing. So RSS is compared at equal backend
    # connections: their cost, fitted over both thirds, is taken out.
    try:
        per_conn = max(statistics.linear_regression(
            [held(s) for s in steady], [rss(s) for s in steady]).slope, 0)
    except statistics.StatisticsError:
        per_conn = 0
    h0 = mean(map(held, steady))

    def rss_at(s):
        return rss(s) - per_conn * (held(s) - h0)
    m_rss, l_rss = mean(map(rss_at, mid)), mean(map(rss_at, last))
    aims.append(("RSS flat after warm-up: last third within 5% of the "
                 "middle, at equal backend connections",
                 abs(l_rss - m_rss) <= 0.05 * m_rss,
                 "%.1f → %.1f MiB (%.0f KiB a backend connection; as "
                 "read %.1f → %.1f)" % (
                     m_rss / 1024, l_rss / 1024, per_conn,
                     mean(map(rss, mid)) / 1024,
                     mean(map(rss, last)) / 1024)))
    # What a process holds besides open connections (listeners, logs,
    # pipes, a socket its peer closed) is fixed; connections follow nginx
    # and the pools. A worker starting or exiting holds a few more for a
    # moment, which the medians leave out.
    other = {}
    for name, third in (("middle", mid), ("last", last)):
        other[name] = (
            median(s["other"].get(fp.pid, 0) for s in third),
            median(k for s in third for pid, k in s["other"].items()
                   if pid != fp.pid))
    aims.append(("descriptors besides open connections flat: the last "
                 "third's median, the master's and a worker's, ≤ the "
                 "middle's + 2",
                 all(z <= a + 2 for a, z in zip(other["middle"],
                                                other["last"])),
                 "master %.0f → %.0f, a worker %.0f → %.0f, all "
                 "processes' highest %d" % (
                     other["middle"][0], other["last"][0],
                     other["middle"][1], other["last"][1],
                     max(sum(s["other"].values()) for s in samples))))
    # The pools' count follows the load and each worker's age (pools
    # start empty at each recycle and reload): one CI run's thirds
    # swung 28–99 alike, their medians 47 and 72 with nothing leaked. A
    # leaked connection is one no pool holds, so each sample compares
    # fpmd's open connections to the backends with the status page's
    # backend_size of their pools (both generations). That page is
    # written once a second, so a pool that just grew or a worker that
    # just exited reads apart for a sample; the median does not.
    bound = 2 * 2 * (2 * POOL_MAX + PHP_CHILDREN // 2)
    apart = [held(s) - sum(s["pools"].get(POOL_OF[b], 0)
                           for b in s["backend"])
             for s in steady if s["pools"] is not None]
    top = max(map(held, samples))
    aims.append(("backend connections all held by a pool: open less the "
                 "pools' count, median after warm-up ≤ 1; never over "
                 "%d (2 generations of 2 workers' pools)" % bound,
                 len(apart) * 2 > len(steady) and median(apart) <= 1
                 and top <= bound,
                 "median %s, most %s (%d of %d samples read the status "
                 "page); highest %d" % (
                     median(apart) if apart else "—",
                     max(apart) if apart else "—", len(apart),
                     len(steady), top)))
    aims.append(("workers recycled and reloaded (pm.max_requests %d)"
                 % fp.conf["pm"]["max_requests"], len(seen) > 2,
                 "%d worker processes seen" % len(seen)))
    aims.append(("logs reopened after rename, master alive",
                 reopened and alive, "access log written: %s, master "
                 "alive: %s" % (reopened, alive)))
    sys.exit(0 if c.verdicts(aims) else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Soak: 70% of capacity for N minutes, reloads and log rotations
throughout, workers recycling, and nothing may grow or fail.

One nginx worker (FastCGI, kept-alive) in front of fpmd (two workers) on
conf/demo.yaml, whose pools reach a redis-server and a mariadbd and whose
legacy pass-through reaches a php-fpm 8.2 (pm static, 8 children), all
started as tests/bench/run.py starts them. The mix: /hello and /json
(native), /io-fast (pools), /hello.php (pass-through). The capacity of
the mix is measured first (closed-loop wrk, 3 s) unless RATE is given;
then one tests/stress/openloop per route sends a quarter of 70% of it for
the whole run. Meanwhile:

- SIGUSR2 (graceful reload) every minute;
- every minute, 30 s after each reload, the error and access logs are
  renamed (as logrotate does) and SIGUSR1 makes fpmd reopen them;
- pm.max_requests makes each worker recycle about every 20 s.

Every 10 s: RSS and open descriptors of the master and the workers, and
the established TCP connections to redis, mariadb and php-fpm. The aims:
not one error (non-2xx, timeout or socket error); after the first third
(warm-up), RSS, descriptors and backend connections flat: the last
third's mean RSS within 5% of the middle third's, its lowest descriptor
and backend connection counts no more than 10% (+4) over the middle
third's
(pools follow the load; a reload briefly holds two generations), and
backend connections never over two generations of the pools' max
(cache and db: 32 a worker; legacy: 4 a worker).

  soak.py [--minutes N]   (30; 3 for the short run)

Environment: RATE (total req/s, instead of measuring), FPMD_BUILD.
Exits 1 when an aim fails.
"""

import argparse
import os
import signal
import sys
import threading
import time

import common as c

ROUTES = ("/hello", "/json", "/io-fast", "/hello.php")
SAMPLE = 10
POOL_MAX = 32


def sample(fp, ports, t0):
    workers = fp.workers()
    return {"t": time.monotonic() - t0,
            "rss_master": c.b.rss_kib([fp.pid]),
            "rss_workers": c.b.rss_kib(workers),
            "workers": workers,
            "fds": c.fds(fp.pid) + sum(c.fds(w) for w in workers),
            "backend": {name: c.established(p)
                        for name, p in ports.items()}}


def rotate(logs):
    for path in logs:
        if os.path.exists(path):
            os.rename(path, path + ".1")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    minutes = ap.parse_args().minutes
    seconds = int(minutes * 60)
    c.need_build()
    aims, samples, events = [], [], []
    with c.Stage("soak") as st:
        backends, php = c.start_backends(st)
        access = st.path("fpmd-access.log")
        settings = {
            "pm": {"max_children": 2},
            "log": {"access": access},
            # php-fpm serves one kept connection per child: its 8
            # children over fpmd's two workers, or half the connections
            # wait in its listen queue behind kept ones (run.py does same)
            "legacy": {"fastcgi": php.address, "max": 4, "timeout": "60s"},
        }
        # what an operator would give two workers, not the bench's 256
        for pool in ("cache", "db"):
            settings.setdefault("pools", {})[pool] = {"max": POOL_MAX}
        fp = c.Fpmd(st, settings, backends,
                    more_routes=[{"match": "*", "to": "legacy"}])
        rate = float(os.environ.get("RATE", "0"))
        port = c.start_nginx(st, "127.0.0.1:%d" % fp.fcgi_port)
        if not rate:
            with open(st.path("mix.lua"), "w") as f:
                f.write(c.mix_lua(ROUTES))
            r = c.wrk("http://127.0.0.1:%d/" % port, 64, 3,
                      "-s", st.path("mix.lua"))
            rate = 0.7 * r["good_rps"]
            print("mix capacity %.0f 2xx/s (%d non-2xx): running at %.0f"
                  % (r["good_rps"], r["non2xx"], rate), flush=True)
        # each worker recycles about every 20 s at this rate
        fp.conf["pm"]["max_requests"] = max(100, int(rate * 20 / 2))
        fp.reload()
        ports = {"redis": backends.redis_port,
                 "mariadb": backends.mysql_port,
                 "php-fpm": int(php.address.rsplit(":", 1)[1])}
        results = {}

        def load(path):
            results[path] = c.openloop(port, path, rate / len(ROUTES),
                                       seconds, 64, 5000)
        threads = [threading.Thread(target=load, args=(p,))
                   for p in ROUTES]
        t0 = time.monotonic()
        for t in threads:
            t.start()
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
                events.append("%.0f s: SIGUSR2" % now)
                next_reload += 60
            if now >= next_reopen:
                rotate((fp.error_log, access))
                os.kill(fp.pid, signal.SIGUSR1)
                events.append("%.0f s: logs renamed, SIGUSR1" % now)
                next_reopen += 60
            time.sleep(0.5)
        for t in threads:
            t.join()
        time.sleep(1)
        reopened = all(os.path.getsize(p) > 0 for p in (access,)) and \
            os.path.exists(fp.error_log)
        alive = fp.proc.poll() is None

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
    for s in samples:
        srows.append(("%.0f" % s["t"], "%.1f" % (s["rss_master"] / 1024),
                      "%.1f" % (s["rss_workers"] / 1024), len(s["workers"]),
                      s["fds"], ", ".join("%s %d" % kv for kv in
                                          sorted(s["backend"].items()))))
    c.table(["t s", "master RSS MiB", "workers RSS MiB", "workers",
             "fds (all)", "backend connections"], srows)
    print("events: " + "; ".join(events) + "\n")

    n = len(samples)
    mid, last = samples[n // 3:2 * n // 3], samples[2 * n // 3:]

    def mean(xs):
        return sum(xs) / max(len(xs), 1)

    def rss(s):
        return s["rss_master"] + s["rss_workers"]
    aims.append(("no errors (non-2xx, timeouts, socket errors)",
                 errors == 0, "%d of %d" % (errors, sum(
                     r.get("planned", 0) for r in results.values()))))
    m_rss, l_rss = mean([rss(s) for s in mid]), mean([rss(s) for s in last])
    aims.append(("RSS flat after warm-up: last third within 5% of the "
                 "middle", abs(l_rss - m_rss) <= 0.05 * m_rss,
                 "%.1f → %.1f MiB" % (m_rss / 1024, l_rss / 1024)))
    # Pools open and close connections with the load, and after a reload
    # the draining generation's descriptors are counted too: a third's
    # mean swings with when its few samples fell. A leak raises the floor,
    # so flat means the lowest sample does not creep, and no sample
    # exceeds the configured bound.
    bound = {"fds": None,
             "backend connections": 2 * 2 * (2 * POOL_MAX + 4)}
    for what, key in (("fds", lambda s: s["fds"]),
                      ("backend connections",
                       lambda s: sum(s["backend"].values()))):
        a, z = min(map(key, mid)), min(map(key, last))
        top = max(map(key, samples))
        ok = z <= a * 1.1 + 4 and (bound[what] is None or top <= bound[what])
        aims.append(("%s flat: last third's lowest ≤ middle's + 10%% + 4%s"
                     % (what, ", never over %d (2 generations of 2 "
                        "workers' pools)" % bound[what] if bound[what]
                        else ""), ok,
                     "%d → %d, highest %d" % (a, z, top)))
    aims.append(("workers recycled and reloaded (pm.max_requests %d)"
                 % fp.conf["pm"]["max_requests"], len(seen) > 2,
                 "%d worker processes seen" % len(seen)))
    aims.append(("logs reopened after rename, master alive",
                 reopened and alive, "access log written: %s, master "
                 "alive: %s" % (reopened, alive)))
    sys.exit(0 if c.verdicts(aims) else 1)


if __name__ == "__main__":
    main()

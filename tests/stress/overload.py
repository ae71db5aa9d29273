#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Overload: what fpmd does at 1x, 2x and 4x what it can serve.

For /hello, /io-fast (redis + mariadb, as tests/bench starts them) and a
slow route (/probe?sleep_ms=50), through one nginx worker (FastCGI,
kept-alive) and on fpmd's own HTTP listener: first the capacity, with
closed-loop wrk at rising connections until the 2xx rate stops rising;
then tests/stress/openloop at 1x, 2x and 4x that rate. Open loop, because
wrk sends a request only once the last one is answered, so it slows down
with the server and never overloads it.

fpmd's admission limits, as an operator would set them for two workers:
pm.max_concurrency 32 (what /probe?sleep_ms=50 can run at once: 32 / 50
ms = 640 req/s a worker), pm.max_queue 32 (at most one more round of
work waits) and timeouts.queue 250ms (a queued request is refused once
it could no longer be answered quickly).

Environment: PHASE (s per open-loop phase, 10), PROBE (s per capacity
step, 3), ROUTES (hello,io-fast,slow), FRONTS (nginx,http), FPMD_BUILD
(build dir, build/plain). Exits 1 when an aim fails.
"""

import os
import sys

import common as c

PHASE = int(os.environ.get("PHASE", "10"))
PROBE = int(os.environ.get("PROBE", "3"))
ROUTES = os.environ.get("ROUTES", "hello,io-fast,slow").split(",")
FRONTS = os.environ.get("FRONTS", "nginx,http").split(",")
PATHS = {"hello": "/hello", "io-fast": "/io-fast",
         "slow": "/probe?sleep_ms=50"}
QUEUE_MS = 250
ADMISSION = {"pm": {"max_children": 2, "max_concurrency": 32,
                    "max_queue": 32},
             "timeouts": {"queue": "%dms" % QUEUE_MS},
             "limits": {"connections": 8192}}
# the client's patience: an answer later than this is a timeout
TIMEOUT_MS = 2000
# enough connections to carry 4x the rate at the refused answers' pace,
# and the queue's worth of admitted ones
OPEN_CONNS = 1024


def capacity(port, path):
    """Best 2xx rate of closed-loop wrk, connections doubling from 8
    until the rate gains less than 5%."""
    best, conns, steps = 0.0, 8, []
    while conns <= 512:
        r = c.wrk("http://127.0.0.1:%d%s" % (port, path), conns, PROBE)
        steps.append("c%d: %.0f" % (conns, r["good_rps"]))
        if r["good_rps"] < best * 1.05:
            best = max(best, r["good_rps"])
            break
        best = r["good_rps"]
        conns *= 2
    return best, steps


def mix(r):
    codes = {int(k[7:]): int(v) for k, v in r.items()
             if k.startswith("status_")}
    ok = sum(n for s, n in codes.items() if 200 <= s < 300)
    other = sum(codes.values()) - ok
    named = {s: codes.get(s, 0) for s in (503, 429, 502, 504)}
    return ok, named, other - sum(named.values())


def main():
    c.need_build()
    results, aims = [], []
    with c.Stage("overload") as st:
        backends = None
        if "io-fast" in ROUTES:
            backends = c.b.Backends(st.tmp, st.log)
            st.procs.extend(backends.procs)
        fpmd = c.Fpmd(st, ADMISSION, backends)
        ports = {"http": fpmd.http_port}
        if "nginx" in FRONTS:
            ports["nginx"] = c.start_nginx(st, "127.0.0.1:%d"
                                           % fpmd.fcgi_port)
        pids0 = [fpmd.pid] + fpmd.workers()
        rss0 = c.b.rss_kib(pids0)
        for route in ROUTES:
            for front in FRONTS:
                port, path = ports[front], PATHS[route]
                cap, steps = capacity(port, path)
                print("%s via %s: capacity %.0f 2xx/s (%s)" % (
                    route, front, cap, ", ".join(steps)), flush=True)
                case = {"route": route, "front": front, "cap": cap,
                        "phases": {}}
                for k in (1, 2, 4):
                    workers = fpmd.workers()
                    rss = c.b.rss_kib([fpmd.pid] + workers)
                    r = c.openloop(port, path, k * cap, PHASE, OPEN_CONNS,
                                   TIMEOUT_MS)
                    after = fpmd.workers()
                    ok, named, other = mix(r)
                    ph = {"offered": r["planned"] / PHASE,
                          "sent": r["sent"] / PHASE,
                          "good": ok / PHASE, "p50": r["p50_ms"],
                          "p99": r["p99_ms"], "err_p99": r["err_p99_ms"],
                          "named": named, "other": other,
                          "timeouts": int(r["timeouts"] + r["unsent"]),
                          "sock": int(r["connect_errors"]
                                      + r["read_errors"]),
                          "planned": r["planned"],
                          "lost": len(set(workers) - set(after)),
                          "rss0": rss, "rss1": c.b.rss_kib(
                              [fpmd.pid] + after)}
                    case["phases"][k] = ph
                    print("  %dx: offered %.0f/s, 2xx %.0f/s p99 %.1f ms, "
                          "503 %d, timeouts %d, socket errors %d" % (
                              k, ph["offered"], ph["good"], ph["p99"],
                              named[503], ph["timeouts"], ph["sock"]),
                          flush=True)
                results.append(case)
        pids1 = [fpmd.pid] + fpmd.workers()
        rss1 = c.b.rss_kib(pids1)
        workers_lost = len(set(pids0) - set(pids1))

    print("\n## overload: %d s per phase, %d cores (shared), fpmd 2 "
          "workers, max_concurrency 32, max_queue 32, queue %d ms\n"
          % (PHASE, os.cpu_count(), QUEUE_MS))
    rows = []
    for case in results:
        for k, ph in case["phases"].items():
            n = ph["named"]
            rows.append((
                "%s via %s %dx" % (case["route"], case["front"], k),
                "%.0f" % (k * case["cap"]), "%.0f" % ph["sent"],
                "%.0f" % ph["good"], "%.1f" % ph["p50"], "%.1f" % ph["p99"],
                n[503], n[429], n[502], n[504], ph["other"],
                "%.1f" % ph["err_p99"] if n[503] + n[429] else "",
                ph["timeouts"], ph["sock"], ph["lost"],
                "%.1f → %.1f" % (ph["rss0"] / 1024, ph["rss1"] / 1024)))
    c.table(["case", "target/s", "sent/s", "2xx/s", "2xx p50 ms",
             "2xx p99 ms", "503", "429", "502", "504", "other non-2xx",
             "refusal p99 ms", "timeouts", "socket errors", "workers lost",
             "RSS MiB before → after"], rows)

    for case in results:
        one, four = case["phases"][1], case["phases"][4]
        name = "%s via %s" % (case["route"], case["front"])
        bound = 2 * one["p99"] + QUEUE_MS
        aims.append(("%s: admitted p99 at 4x ≤ 2 × p99 at 1x + queue "
                     "timeout" % name, four["p99"] <= bound,
                     "%.1f ms (bound %.1f ms)" % (four["p99"], bound)))
        excess = four["planned"] - four["good"] * PHASE
        refused = four["named"][503] + four["named"][429]
        late = four["timeouts"] + four["sock"]
        aims.append(("%s: excess at 4x refused (503/429) promptly, ≤ 1%% "
                     "timeouts or socket errors" % name,
                     late <= 0.01 * four["planned"]
                     and (refused == 0 or four["err_p99"] <= QUEUE_MS + 100),
                     "%d refused (p99 %.1f ms), %d timeouts/socket errors "
                     "of %d planned (excess %d)" % (
                         refused, four["err_p99"], late, four["planned"],
                         excess)))
        aims.append(("%s: goodput at 4x ≥ 90%% of 1x" % name,
                     four["good"] >= 0.9 * one["good"],
                     "%.0f vs %.0f 2xx/s" % (four["good"], one["good"])))
    aims.append(("no worker lost", workers_lost == 0 and all(
        ph["lost"] == 0 for case in results
        for ph in case["phases"].values()),
        "%d of %d processes replaced" % (workers_lost, len(pids0))))
    aims.append(("memory bounded: master+workers RSS after ≤ 1.5 × before "
                 "+ 16 MiB", rss1 <= 1.5 * rss0 + 16384,
                 "%.1f → %.1f MiB" % (rss0 / 1024, rss1 / 1024)))
    sys.exit(0 if c.verdicts(aims) else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Chaos: faults under load, in turn and then together, and what the
clients see of each.

One nginx worker (FastCGI, kept alive) in front of fpmd (two workers,
tests/fpmd-test: fpmd with tests/handlers/ linked in, on conf/demo.yaml),
whose pools reach a redis-server and a mariadbd and whose legacy
pass-through reaches a php-fpm 8.2 (8 static children), all started as
tests/bench/run.py starts them. One tests/stress/openloop per route sends
a steady rate through nginx for the whole run and writes down every
failed request with its planned time and latency (openloop -s):

  /hello              nothing behind it
  redis GET           /t/redis?cmd=GET bench:k1              redis
  redis SET           /t/redis?cmd=SET chaos:w x             redis (writes)
  mariadb SELECT      /t/mysql?sql=SELECT ... WHERE id = 42  mariadb
  /hello.php          legacy pass-through                    php-fpm

(error_status=503 on the redis and mariadb routes: a server's error reply
is answered 503 with its text, as an application would.) fpmd's access
log gives, for each answer, its status and how long fpmd took.

The faults, each after a quiet window (QUIET s) and followed by a
recovery window (RECOVER s):

  kill            kill -9 a random worker every second, KILLS times
  stop php-fpm    SIGSTOP its master and children for STOP s, then SIGCONT
  stop redis      the same for redis-server
  stop mariadb    the same for mariadbd
  restart X       X stopped (SIGTERM, by pid) and started again on the same
                  port and data; the fault ends when it accepts connections
  redis maxmemory maxmemory set 2 MiB above what is used (noeviction)
                  and filled by a side client (64 KiB values until OOM),
                  then lowered 1 MiB under what is used, so that a small
                  write cannot slip in as buffers shrink; for HOLD s; then
                  the values deleted
  mariadb full    max_connections at 10, all 10 held by a side client,
                  for HOLD s: once with fpmd's connections kept (they go
                  on serving), once with them killed (KILL USER): every
                  call then needs a new connection, and is refused. The
                  fault ends when a new client is served again. The side
                  client's connections are not killed (KILL USER made
                  mariadbd keep new clients waiting for 1 to 13 s): they
                  end by themselves 10 s after the fault
  together        kills every second for 12 s, with a redis stop, mariadb
                  full, a php-fpm stop and redis maxmemory overlapping

The pools' and the legacy pass-through's connect_timeout, timeout and
wait_timeout are 1 s (the pools' defaults; the pass-through's are 60 s).
A route's bound is the longest those let a request wait: wait_timeout +
timeout (a MariaDB read twice that: one that lost its connection is
tried once more), plus MARGIN (500 ms) for timers that run late on a
busy machine.

The aims, for each fault:
- only the routes that use the faulted part fail, or, for a kill, the
  requests in flight at a kill (planned before it, answered after);
- every failure the clients see is a 5xx (no timeout at the generator,
  no connection lost); fpmd answers each 5xx within its route's bound;
  a kill's 502s (nginx's, from a reset) come within 1 s of the kill;
- service is back within 1 s of the fault's end: no request planned more
  than 1 s after it fails, and one planned after it gets a 2xx within
  1 s (to 0.1 s).
And for the run: no failure in the quiet windows; backend connections at
the end within the pools' max for two workers; fpmd's master and two
workers alive, no worker having died but by the kills.

  chaos.py            (about 3 minutes)

Environment: RATE (total req/s, 1000), or LOAD (a fraction of the mix's
capacity, measured first with closed-loop wrk for 3 s), STOP (3), HOLD
(4), KILLS (10), MARGIN (ms, 500), FPMD_BUILD, KEEP_TMP. Needs
tests/fpmd-test and tests/stress/openloop built (make tests/fpmd-test
tests/stress/openloop). Exits 1 when an aim fails.
"""

import os
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

import common as c

RATE = float(os.environ.get("RATE", "1000"))
LOAD = float(os.environ.get("LOAD", "0"))
STOP = float(os.environ.get("STOP", "3"))
HOLD = float(os.environ.get("HOLD", "4"))
KILLS = int(os.environ.get("KILLS", "10"))
# A worker's timers run late when other jobs hold the cores: on the
# shared 2-core machine, answers for a 1 s wait_timeout took up to 1.4 s.
MARGIN = float(os.environ.get("MARGIN", "500")) / 1000
QUIET, RECOVER, BACK = 3.0, 5.0, 1.0
GEN_TIMEOUT_MS = 5000
POOL = {"max": 32, "connect_timeout": "1s", "timeout": "1s",
        "wait_timeout": "1s"}
POOL_WAIT = 1.0 + 1.0
LEGACY_WAIT = 1.0 + 1.0
# fpmd's own account of each answer: its end (epoch s), status, ms taken
ACCESS_FORMAT = "%{%s}T %s %{milli}d %r%Q%q"
HOLDERS = 10        # MariaDB's lowest max_connections
NGINX_CONNS = 16384

# name, path, the parts it uses, its bound (s)
ROUTES = (
    ("/hello", "/hello", set(), 0.0),
    ("redis GET", "/t/redis?pool=cache&cmd=GET%20bench:k1&error_status=503",
     {"redis"}, POOL_WAIT),
    ("redis SET",
     "/t/redis?pool=cache&cmd=SET%20chaos:w%20x&error_status=503",
     {"redis", "redis writes"}, POOL_WAIT),
    ("mariadb SELECT",
     "/t/mysql?pool=db&sql=SELECT%20id,name%20FROM%20items%20WHERE%20id"
     "%3D42&error_status=503", {"mariadb"}, 2 * POOL_WAIT),
    ("/hello.php", "/hello.php", {"php-fpm"}, LEGACY_WAIT),
)

def now():
    return time.monotonic()       # openloop's clock (CLOCK_MONOTONIC)


def sleep_until(t):
    while True:
        left = t - now()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


def wait_listening(port, limit=30):
    end = now() + limit
    while now() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.05):
                return now()
        except OSError:
            time.sleep(0.005)
    raise RuntimeError("nothing listens on %d after %d s" % (port, limit))


def mariadb_serves(port, limit=30):
    """The moment a new client (bench) has logged in to mariadbd and had
    a SELECT answered."""
    end = now() + limit
    while now() < end:
        if subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1",
                           "-P%d" % port, "-ubench", "-pbench",
                           "--connect-timeout=%d" % limit, "-e", "SELECT 1"],
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0:
            return now()
        time.sleep(0.005)
    raise RuntimeError("mariadbd serves no new client after %d s" % limit)


def thread_states(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            yield f.read().rsplit(")", 1)[1].split()[0]


def stop_all(pids):
    """SIGSTOP, and back once every thread of every pid is stopped (the
    signal is delivered asynchronously)."""
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    end = now() + 5
    while now() < end:
        try:
            if all(s in "tT" for p in pids for s in thread_states(p)):
                return
        except OSError:
            pass
        time.sleep(0.005)


def redis_cli(port, *args):
    """A side client's command to redis-server: its reply as text (an
    error reply is its message: "OOM command not allowed ...")."""
    return subprocess.run(["redis-cli", "-p", str(port), *map(str, args)],
                          capture_output=True, text=True,
                          check=True).stdout.strip()


class Sql:
    """A mariadb client session as root over the server's socket, kept
    open so that it can run statements when no connection is left."""

    def __init__(self, sock, log):
        self.p = subprocess.Popen(
            ["mariadb", "--no-defaults", "-S", sock, "-uroot", "--batch",
             "--unbuffered", "--skip-column-names", "--force"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            text=True)
        self.n = 0

    def run(self, sql):
        self.n += 1
        mark = "done-%d" % self.n
        self.p.stdin.write("%s;\nSELECT '%s';\n" % (sql, mark))
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            line = line.rstrip("\n")
            if line == mark:
                return out
            out.append(line)
        raise RuntimeError("mariadb session ended: %s" % out)

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


class Fault:
    """One fault's record: the parts it takes away, when, and kills."""

    def __init__(self, name, parts):
        self.name, self.parts = name, parts
        self.start = self.end = None
        self.kills = []


class Chaos:
    def __init__(self, st, backends, php, fp):
        self.st, self.backends, self.php, self.fp = st, backends, php, fp
        self.sock = os.path.join(st.tmp, "mysqld.sock")

    # -- faults: each fills in its record, from its start to its end

    def kill(self, f, n):
        f.start = now()
        for i in range(n):
            sleep_until(f.start + i)
            workers = self.fp.workers()
            if workers:
                pid = random.choice(workers)
                t = now()
                try:
                    os.kill(pid, signal.SIGKILL)
                    f.kills.append(t)
                except ProcessLookupError:
                    pass
        f.end = f.kills[-1] if f.kills else now()

    def stop(self, f, pids, seconds):
        f.start = now()
        stop_all(pids)
        sleep_until(f.start + seconds)
        for p in pids:
            os.kill(p, signal.SIGCONT)
        f.end = now()

    def restart(self, f, which):
        proc, port = {
            "redis": (lambda: self.backends.redis, self.backends.redis_port),
            "mariadb": (lambda: self.backends.mysql,
                        self.backends.mysql_port),
            "php-fpm": (lambda: self.php.proc,
                        int(self.php.address.rsplit(":", 1)[1])),
        }[which]
        old = proc()
        f.start = now()
        old.terminate()
        old.wait(60)
        new = c.b.start(old.args, self.st.log)
        self.st.procs[self.st.procs.index(old)] = new
        if which == "redis":
            self.backends.redis = new
        elif which == "mariadb":
            self.backends.mysql = new
        else:
            self.php.proc = new
        f.end = wait_listening(port)

    def maxmemory(self, f, seconds):
        port = self.backends.redis_port

        def used():
            return int(next(line.split(":")[1] for line in
                            redis_cli(port, "INFO", "memory").splitlines()
                            if line.startswith("used_memory:")))
        redis_cli(port, "CONFIG", "SET", "maxmemory-policy", "noeviction")
        redis_cli(port, "CONFIG", "SET", "maxmemory", used() + (2 << 20))
        keys = []
        while True:
            keys.append("chaos:fill:%d" % len(keys))
            if redis_cli(port, "SET", keys[-1], "x" * 65536) != "OK":
                break
        # Full, but only just: a small write fits again as soon as a
        # client's buffers shrink. The limit goes 1 MiB under what is
        # used, and stays full until the values are deleted.
        redis_cli(port, "CONFIG", "SET", "maxmemory", used() - (1 << 20))
        f.start = now()
        f.detail = "the side client's write: " + redis_cli(
            port, "SET", "chaos:probe", "1")
        sleep_until(f.start + seconds)
        redis_cli(port, "DEL", *keys)
        f.end = now()
        redis_cli(port, "CONFIG", "SET", "maxmemory", 0)

    def mariadb_full(self, f, seconds, drop=True):
        admin = Sql(self.sock, self.st.log)
        # Tagged, to be told from an earlier fault's, which sleep on a few
        # seconds after theirs: KILL USER on them kept mariadbd from
        # serving new clients for 1 to 13 s, so they end by themselves.
        tag = "chaos-%d" % admin.p.pid
        holders = [subprocess.Popen(
            ["mariadb", "--no-defaults", "-h127.0.0.1",
             "-P%d" % self.backends.mysql_port, "-uholder", "-pholder",
             "-e", "SELECT SLEEP(%d), '%s'" % (seconds + 10, tag)],
            stdout=subprocess.DEVNULL, stderr=self.st.log)
            for _ in range(HOLDERS)]
        end = now() + 10
        while admin.run(
                "SELECT COUNT(*) FROM information_schema.processlist "
                "WHERE info LIKE '%%%s%%' AND command = 'Query' "
                "AND user = 'holder'" % tag) != [str(HOLDERS)]:
            if now() > end:
                raise RuntimeError("the side client's %d connections did "
                                   "not come up" % HOLDERS)
            time.sleep(0.05)
        f.start = now()
        admin.run("SET GLOBAL max_connections = %d" % HOLDERS)
        if drop:
            admin.run("KILL USER bench")
        sleep_until(f.start + seconds)
        admin.run("SET GLOBAL max_connections = 2000")
        # The fault ends when mariadbd serves a new client again.
        raised = now()
        f.end = mariadb_serves(self.backends.mysql_port)
        f.detail = "a new client served %.2f s after max_connections " \
            "was raised" % (f.end - raised)
        for h in holders:
            h.terminate()
            h.wait(10)
        admin.close()

    # -- the plan

    def pids_php(self):
        return c.b.tree(self.php.proc.pid)

    def phases(self):
        """(name, [(fault, parts, offset, run)]): each run(f) in a thread
        of its own, offset s after the phase begins."""
        redis = {"redis", "redis writes"}
        return [
            ("kill -9 a worker every 1 s", [
                ("kill", set(), 0, lambda f: self.kill(f, KILLS))]),
            ("SIGSTOP php-fpm %g s" % STOP, [
                ("stop php-fpm", {"php-fpm"}, 0,
                 lambda f: self.stop(f, self.pids_php(), STOP))]),
            ("SIGSTOP redis-server %g s" % STOP, [
                ("stop redis", redis, 0, lambda f: self.stop(
                    f, [self.backends.redis.pid], STOP))]),
            ("SIGSTOP mariadbd %g s" % STOP, [
                ("stop mariadb", {"mariadb"}, 0, lambda f: self.stop(
                    f, [self.backends.mysql.pid], STOP))]),
            ("restart php-fpm", [
                ("restart php-fpm", {"php-fpm"}, 0,
                 lambda f: self.restart(f, "php-fpm"))]),
            ("restart redis-server", [
                ("restart redis", redis, 0,
                 lambda f: self.restart(f, "redis"))]),
            ("restart mariadbd", [
                ("restart mariadb", {"mariadb"}, 0,
                 lambda f: self.restart(f, "mariadb"))]),
            ("redis maxmemory full %g s" % HOLD, [
                ("maxmemory", {"redis writes"}, 0,
                 lambda f: self.maxmemory(f, HOLD))]),
            ("mariadb max_connections reached %g s, fpmd's connections "
             "kept" % HOLD, [
                 ("mariadb full", {"mariadb"}, 0,
                  lambda f: self.mariadb_full(f, HOLD, drop=False))]),
            ("mariadb max_connections reached %g s, fpmd's connections "
             "killed" % HOLD, [
                 ("mariadb full", {"mariadb"}, 0,
                  lambda f: self.mariadb_full(f, HOLD))]),
            ("together", [
                ("kill", set(), 0, lambda f: self.kill(f, 12)),
                ("stop redis", redis, 1, lambda f: self.stop(
                    f, [self.backends.redis.pid], STOP)),
                ("mariadb full", {"mariadb"}, 2,
                 lambda f: self.mariadb_full(f, HOLD)),
                ("stop php-fpm", {"php-fpm"}, 4,
                 lambda f: self.stop(f, self.pids_php(), STOP)),
                ("maxmemory", {"redis writes"}, 6,
                 lambda f: self.maxmemory(f, STOP))]),
        ]

    def run_phase(self, faults):
        t0 = now()
        recs, threads = [], []
        for name, parts, offset, run in faults:
            f = Fault(name, parts)
            recs.append(f)

            def go(f=f, offset=offset, run=run):
                sleep_until(t0 + offset)
                try:
                    run(f)
                except Exception as e:
                    f.error = repr(e)
            threads.append(threading.Thread(target=go))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for f in recs:
            if getattr(f, "error", None) or f.end is None:
                sys.exit("fault %s could not be made: %s" % (
                    f.name, getattr(f, "error", "it did not end")))
        return recs


class CpuSampler(threading.Thread):
    """Every half second: how many cores the machine used, and how many
    of them this run's processes (the stage's, with their children):
    others' jobs share the machine, and a row is read against them."""

    def __init__(self, st):
        super().__init__(daemon=True)
        self.st, self.samples, self.halt = st, [], threading.Event()

    @staticmethod
    def machine():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v) - v[3] - v[4], sum(v)        # busy, all (jiffies)

    def ours(self):
        pids = [q for p in self.st.procs if p.poll() is None
                for q in c.b.tree(p.pid)]
        return {p: c.b.cpu_seconds([p]) for p in pids}

    def run(self):
        cores = os.cpu_count()
        busy0, all0 = self.machine()
        cpu0, t0 = self.ours(), now()
        while not self.halt.wait(0.5):
            busy, total = self.machine()
            cpu, t = self.ours(), now()
            # a pid seen for the first time (or used again) counts from
            # its next sample
            used = sum(max(v - cpu0.get(p, v), 0.0) for p, v in cpu.items())
            machine = cores * (busy - busy0) / max(total - all0, 1)
            self.samples.append((t, machine, min(used / (t - t0), machine)))
            busy0, all0, cpu0, t0 = busy, total, cpu, t

    def between(self, a, z):
        """Mean cores in use from a to z: the machine's, and this run's."""
        xs = [(m, o) for t, m, o in self.samples if a <= t <= z]
        if not xs:
            return None
        return (sum(m for m, _ in xs) / len(xs),
                sum(o for _, o in xs) / len(xs))


def read_access(path, offset):
    """fpmd's access log: (end, status, ms, route), end on the monotonic
    clock as the whole second it fell in (its start)."""
    paths = {r[1]: r[0] for r in ROUTES}
    out = []
    with open(path, errors="replace") as f:
        for line in f:
            w = line.split(" ", 3)
            if len(w) == 4 and w[3].strip() in paths:
                out.append((int(w[0]) - offset, int(w[1]), float(w[2]),
                            paths[w[3].strip()]))
    return out


def is_5xx(kind):
    return kind.isdigit() and 500 <= int(kind) <= 599


def judge(phase, recs, window_end, series, access, kills_all, cpu):
    """One row of the table: what the clients and fpmd saw from the
    phase's first fault to the next quiet window, and the three aims."""
    start = min(f.start for f in recs)
    end = max(f.end for f in recs)
    kills = [k for f in recs for k in f.kills]
    bounds = {r[0]: r[3] for r in ROUTES}
    planned = failed = 0
    by_route, unexplained, bad_kind, late = {}, [], [], []
    client_worst, recovery, first_ok = 0.0, 0.0, None
    for name, _, parts, _ in ROUTES:
        fails, slices = series[name]
        hit = [f for f in recs if f.parts & parts]
        planned += sum(s[1] for s in slices if start <= s[0] < window_end)
        mine = [x for x in fails if x[0] + x[1] >= start and
                x[0] < window_end]
        failed += len(mine)
        kinds = {}
        for t, lat, kind in mine:
            kinds[kind] = kinds.get(kind, 0) + 1
            client_worst = max(client_worst, lat)
            # in flight at a kill: sent before it, answered after it
            killed = [k for k in kills_all if t - 0.05 <= k <= t + lat + 0.05]
            if not (killed or any(f.start - lat <= t <= f.end + BACK + RECOVER
                                  for f in hit)):
                unexplained.append((name, t - start, kind))
            if not is_5xx(kind):
                bad_kind.append((name, t - start, kind))
            elif killed and not hit and t + lat - max(killed) > BACK:
                late.append((name, t - start, kind,
                             "%.0f ms after the kill" % (
                                 (t + lat - max(killed)) * 1000)))
        if kinds:
            by_route[name] = ", ".join("%s×%d" % (k, n) for k, n in
                                       sorted(kinds.items()))
        if not hit and not kills:
            continue
        # back: from the end of the last fault this route depends on
        r_end = max([f.end for f in hit] + ([max(kills)] if kills else []))
        last = max([x[0] for x in mine], default=r_end)
        recovery = max(recovery, last - r_end)
        if hit:
            oks = [s[0] for s in slices if s[0] >= r_end - 1e-9 and s[2] > 0]
            first_ok = max(first_ok or 0.0, (oks[0] + 0.1 - r_end) if oks
                           else float("inf"))
    # fpmd's side: each 5xx it answered, within its route's bound
    fpmd_worst = None
    for sec, status, ms, name in access:
        if not (500 <= status <= 599 and sec + 1 > start
                and sec < window_end):
            continue
        bound = bounds[name] + MARGIN
        if ms / 1000 > bound:
            late.append((name, sec - start, str(status),
                         "%.0f ms in fpmd" % ms))
        if fpmd_worst is None or ms / 1000 / bound > (fpmd_worst[0]
                                                      / fpmd_worst[1]):
            fpmd_worst = (ms / 1000, bound, name)
    return {
        "phase": phase, "seconds": end - start, "planned": planned,
        "failed": failed, "by_route": by_route, "fpmd_worst": fpmd_worst,
        "client_worst": client_worst, "recovery": recovery,
        "first_ok": first_ok,
        "ok": (not unexplained, not bad_kind and not late,
               recovery <= BACK and (first_ok or 0.0) <= BACK),
        "unexplained": unexplained, "bad_kind": bad_kind, "late": late,
        "cpu": cpu.between(start, window_end),
        "faults": [(f.name, f.start, f.end, len(f.kills),
                    getattr(f, "detail", None)) for f in recs],
    }


def quiet_failures(windows, series):
    out = []
    for a, z in windows:
        for name, *_ in ROUTES:
            out += [(name, t, lat, kind) for t, lat, kind in series[name][0]
                    if a <= t and t + lat < z]
    return out


def report(rate, per, results, totals, t0):
    print("\n## chaos: %.0f req/s (%.0f on each of %d routes) through one "
          "nginx worker, fpmd 2 workers, %d cores (shared)\n"
          % (rate, per, len(ROUTES), os.cpu_count()))
    rows = []
    for r in results:
        lat, bound, where = r["fpmd_worst"] or (0, 0, None)
        rows.append((
            r["phase"], "%.1f" % r["seconds"], r["planned"], r["failed"],
            "; ".join("%s: %s" % kv for kv in r["by_route"].items()) or "—",
            "%.0f / %.0f (%s)" % (lat * 1000, bound * 1000, where)
            if where else "—",
            "%.0f" % (r["client_worst"] * 1000) if r["failed"] else "—",
            "%.2f" % r["recovery"],
            "%.1f" % r["first_ok"] if r["first_ok"] is not None else "—",
            "%.1f / %.1f" % r["cpu"] if r["cpu"] else "—",
            *("PASS" if ok else "FAIL" for ok in r["ok"])))
    c.table(["fault", "s", "requests", "failed", "failures by route "
             "(status or kind × n)", "slowest 5xx in fpmd ms / bound",
             "slowest failure at the client ms", "back after s",
             "first 2xx after s", "cores busy: all / this run's",
             "only its routes", "5xx within bound",
             "back ≤ 1 s"], rows)
    for r in results:
        print("%s: %s" % (r["phase"], "; ".join(
            "%s +%.2f..+%.2f s%s%s" % (
                name, a - t0, z - t0, " (%d kills)" % k if k else "",
                " (%s)" % d if d else "")
            for name, a, z, k, d in r["faults"])))
        for what in ("unexplained", "bad_kind", "late"):
            if r[what]:
                print("  %s: %s" % (what, ", ".join(
                    "%s at +%.2f s %s%s" % (x[0], x[1], x[2], " (%s)" % x[3]
                                           if len(x) > 3 else "")
                    for x in r[what][:6])
                    + (" and %d more" % (len(r[what]) - 6)
                       if len(r[what]) > 6 else "")))
    print()
    rows = []
    for name, t in totals.items():
        ok = sum(int(v) for k, v in t.items() if k.startswith("status_2"))
        rows.append((name, t.get("planned"), ok,
                     int(t.get("planned", 0)) - ok, ", ".join(
                         "%s %s" % (k[7:], v) for k, v in sorted(t.items())
                         if k.startswith("status_")
                         and not k.startswith("status_2")) or "—",
                     t.get("timeouts"), t.get("read_errors"),
                     t.get("p50_ms"), t.get("p99_ms")))
    c.table(["route", "planned", "2xx", "failed", "non-2xx", "timeouts",
             "read errors", "p50 ms", "p99 ms"], rows)


def main():
    c.need_build(c.FPMD_TEST)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows, kills_all = [], []
    with c.Stage("chaos") as st:
        backends, php = c.start_backends(st)
        subprocess.run(["mariadb", "--no-defaults", "-S",
                        st.path("mysqld.sock"), "-uroot", "-e",
                        "CREATE USER holder@'%' IDENTIFIED BY 'holder'"],
                       check=True)
        access = st.path("fpmd-access.log")
        settings = {
            "pm": {"max_children": 2, "max_concurrency": 4096},
            "limits": {"connections": 16384},
            "log": {"access": access, "access_format": ACCESS_FORMAT},
            # php-fpm serves one kept connection per child: 8 over 2
            "legacy": {"fastcgi": php.address, "max": 4, "timeout": "1s",
                       "wait_timeout": "1s", "connect_timeout": "1s"},
            "pools": {"cache": dict(POOL), "db": dict(POOL)},
        }
        fp = c.Fpmd(st, settings, backends, binary=c.FPMD_TEST,
                    more_routes=[{"match": "*", "to": "legacy"}])
        port = c.start_nginx(st, "127.0.0.1:%d" % fp.fcgi_port,
                             NGINX_CONNS)
        rate = RATE
        if LOAD:
            with open(st.path("mix.lua"), "w") as f:
                f.write(c.mix_lua(r[1] for r in ROUTES))
            r = c.wrk("http://127.0.0.1:%d/" % port, 64, 3,
                      "-s", st.path("mix.lua"))
            rate = LOAD * r["good_rps"]
            print("mix capacity %.0f 2xx/s (%d non-2xx): running at %.0f"
                  % (r["good_rps"], r["non2xx"], rate), flush=True)
        per = rate / len(ROUTES)
        # room for every request a stalled backend holds, at the bound,
        # within nginx's connections (client and upstream ones): past
        # them, a stall of the machine turned into a pile-up of
        # connections nginx never got out of
        conns = min(int(per * (max(r[3] for r in ROUTES) + 1)) + 64,
                    NGINX_CONNS // 2 // len(ROUTES) - 100)
        chaos = Chaos(st, backends, php, fp)
        gens = {}
        for name, path, *_ in ROUTES:
            base = st.path("openloop-" + name.replace(" ", "_")
                           .replace("/", ""))
            out = open(base + ".out", "w+")
            gens[name] = (subprocess.Popen(
                [c.OPENLOOP, "-r", "%.0f" % per, "-c", str(conns),
                 "-d", "3600", "-t", str(GEN_TIMEOUT_MS),
                 # a connection unused since the last fault's burst is not
                 # sent on as nginx closes it (keepalive_timeout 75 s)
                 "-k", "10000", "-s",
                 base + ".series", "127.0.0.1", str(port), path],
                stdout=out, stderr=st.log), out, base + ".series")
            st.procs.append(gens[name][0])      # stopped first on exit
        cpu = CpuSampler(st)
        cpu.start()
        t0 = now()
        offset = time.time() - now()
        workers0 = set(fp.workers())
        time.sleep(QUIET)                       # warm-up: not judged
        ports = {"redis": backends.redis_port,
                 "mariadb": backends.mysql_port,
                 "php-fpm": int(php.address.rsplit(":", 1)[1])}

        def backend_conns():
            return {k: c.established(v) for k, v in ports.items()}
        conns0 = backend_conns()
        fds0 = sum(c.fds(p) for p in [fp.pid] + fp.workers())
        windows = []
        for phase, faults in chaos.phases():
            q0 = now()
            time.sleep(QUIET)
            windows.append((q0, now()))
            print("%s ..." % phase, flush=True)
            recs = chaos.run_phase(faults)
            kills_all += [k for f in recs for k in f.kills]
            rows.append((phase, recs))
            sleep_until(max(f.end for f in recs) + RECOVER)
        q0 = now()
        time.sleep(QUIET)
        windows.append((q0, now()))
        cpu.halt.set()
        conns1 = backend_conns()
        fds1 = sum(c.fds(p) for p in [fp.pid] + fp.workers())
        for p, out, _ in gens.values():
            p.send_signal(signal.SIGINT)
        totals = {}
        for name, (p, out, spath) in gens.items():
            p.wait(GEN_TIMEOUT_MS / 1000 + 30)
            out.seek(0)
            totals[name] = dict(line.strip().split("=", 1)
                                for line in out if "=" in line)
        series = {name: c.read_series(g[2]) for name, g in gens.items()}
        time.sleep(1)
        alive = fp.proc.poll() is None
        workers = fp.workers()
        with open(fp.error_log, errors="replace") as f:
            deaths = [line for line in f if "exited on signal" in line]
        answers = read_access(access, offset)
        quiet = quiet_failures(windows, series)

    results = []
    for i, (phase, recs) in enumerate(rows):
        results.append(judge(phase, recs, windows[i + 1][0], series,
                             answers, kills_all, cpu))
    report(rate, per, results, totals, t0)
    if cpu.samples:
        whole = cpu.between(t0, float("inf"))
        print("cores busy over the run (of %d): %.2f, %.2f of them this "
              "run's; others' jobs at most %.2f in a half second\n" % (
                  os.cpu_count(), whole[0], whole[1],
                  max(m - o for _, m, o in cpu.samples)))
    sigkills = sum("signal 9 (SIGKILL)" in d for d in deaths)
    aims = []
    for i, what in enumerate(("only the routes using the faulted part "
                              "fail (a kill: requests in flight at it)",
                              "every failure a 5xx, fpmd's within the "
                              "route's bound (+ %.0f ms), a kill's within "
                              "%.0f s" % (MARGIN * 1000, BACK),
                              "back within %.0f s of the fault's end"
                              % BACK)):
        aims.append(("each fault: " + what,
                     all(r["ok"][i] for r in results), "%d of %d faults%s" % (
                         sum(r["ok"][i] for r in results), len(results),
                         "; not: " + ", ".join(r["phase"] for r in results
                                               if not r["ok"][i])
                         if not all(r["ok"][i] for r in results) else "")))
    bound = {"redis": 2 * POOL["max"], "mariadb": 2 * POOL["max"],
             "php-fpm": 2 * 4}
    aims += [
        ("no backend connection left over: at the end, at most the pools' "
         "max for 2 workers (%s)" % ", ".join("%s %d" % kv
                                             for kv in bound.items()),
         all(conns1[k] <= bound[k] for k in bound),
         "before the first fault → at the end: %s; fpmd's descriptors "
         "%d → %d" % (", ".join("%s %d → %d" % (k, conns0[k], conns1[k])
                                for k in bound), fds0, fds1)),
        ("quiet windows (%.0f s before each fault, and at the end): no "
         "failure" % QUIET, not quiet, "%d failures%s" % (len(quiet), (
             ": " + ", ".join("%s %s at +%.2f s" % (q[0], q[3], q[1] - t0)
                              for q in quiet[:5])) if quiet else "")),
        ("fpmd alive with 2 workers; no worker died but by the %d kills"
         % len(kills_all), alive and len(workers) == 2
         and sigkills == len(kills_all) and len(deaths) == sigkills,
         "master alive: %s, workers %d (%d at start, %d new), %d deaths "
         "logged, %d by SIGKILL" % (
             alive, len(workers), len(workers0), len(
                 set(workers) - workers0), len(deaths), sigkills)),
    ]
    sys.exit(0 if c.verdicts(aims) else 1)


if __name__ == "__main__":
    main()

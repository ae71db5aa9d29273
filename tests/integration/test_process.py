# SPDX-License-Identifier: BSD-2-Clause
"""Process manager, signals and CLI: php-fpm's operator contract, checked
on the real daemon."""

import ctypes
import errno
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import threading
import time

import pytest

import fcgi_client as fc
from conftest import (FPMD_BIN, FPMD_TEST_BIN, Fpmd, Nginx, alive, base_conf,
                      can_connect, free_port, need, status_json, wait_for,
                      wait_taken)


BASE_PM = """pm:
  mode: static
  max_children: 2
"""


def start(tmp, servers, extra="", children=2, name="fpmd", pm=None,
          log="", env=None, binary=None):
    """fpmd (or binary) with base_conf, its pm block replaced by pm (YAML
    text), extra top-level keys and extra log keys."""
    port = free_port()
    sock = os.path.join(tmp, name + ".sock")
    text = base_conf(port, sock, extra)
    if pm is None:
        pm = BASE_PM.replace("max_children: 2", "max_children: %d" % children)
    text = text.replace(BASE_PM, pm).replace("log:\n", "log:\n" + log)
    f = Fpmd(tmp, text, name, binary)
    servers.append(f)
    f.start(("127.0.0.1", port), env=env)
    return f, ("127.0.0.1", port)


def probe(addr, uri="/probe"):
    r = fc.request(addr, uri=uri)
    status, _, body = r.split()
    return status, body


def wait_workers(f, n, timeout=10):
    return wait_for(lambda: len(f.workers()) == n and f.workers(), timeout,
                    "%d workers (have %r)" % (n, f.workers()))


def live_workers(f):
    """The master's children minus those dead and not yet reaped."""
    return [p for p in f.workers() if alive(p)]


def start_ticks(pid):
    """When pid started, in clock ticks since boot (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as fh:
        return int(fh.read().rsplit(") ", 1)[1].split()[19])


def test_static_pool_respawns_a_killed_worker(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers)
    before = wait_workers(f, 2)
    os.kill(before[0], signal.SIGKILL)
    after = wait_for(lambda: len(f.workers()) == 2
                     and before[0] not in f.workers() and f.workers(), 10,
                     "respawn")
    assert before[1] in after
    assert re.search(r"child %d exited on signal 9 \(SIGKILL\)" % before[0],
                     f.log_text())
    assert probe(addr, "/hello")[1] == b"hello world\n"


def test_kill_under_load_fails_only_requests_in_flight(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers)
    wait_workers(f, 2)
    results = []
    lock = threading.Lock()

    def client():
        for _ in range(40):
            try:
                s, _ = probe(addr, "/probe?sleep_ms=20")
            except Exception:       # the killed worker's in-flight ones
                s = 0
            with lock:
                results.append(s)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    # the load is on: answers are coming back, and a worker holds some
    wait_for(lambda: len(results) >= 8, 10, "answers under load")
    victim = f.workers()[0]
    os.kill(victim, signal.SIGKILL)
    for t in threads:
        t.join()
    failed = [s for s in results if s != 200]
    # at most the 8 requests that could be in flight on the victim
    assert len(failed) <= 8, failed
    assert len(results) == 320
    assert probe(addr, "/hello")[1] == b"hello world\n"


def test_dynamic_pool_keeps_spares_between_bounds(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers, pm="""pm:
  mode: dynamic
  max_children: 5
  start_servers: 2
  min_spare_servers: 2
  max_spare_servers: 3
  max_concurrency: 1
""")
    wait_workers(f, 2)
    # load: 4 requests parked for 3 s, one worker each (max_concurrency 1)
    conns = []
    for i in range(4):
        c = fc.Conn(addr)
        c.send(fc.request_bytes(1, fc.cgi_params(
            uri="/probe?sleep_ms=6000&i=%d" % i)))
        conns.append(c)
    wait_for(lambda: len(f.workers()) == 5, 5, "spawn up to max_children")
    j = status_json(addr)
    assert j["process manager"] == "dynamic"
    assert j["active processes"] >= 4
    for c in conns:
        c.wait([1])
        c.close()
    # idle again: one idle worker above max_spare is stopped per second
    wait_for(lambda: len(f.workers()) == 3, 10, "reap down to max_spare")
    assert re.search(r"max_children|seems busy|started", f.log_text())


def test_ondemand_spawns_on_connection_and_reaps_idle(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers, pm="""pm:
  mode: ondemand
  max_children: 3
  process_idle_timeout: 1s
""")
    # the harness's connect to see the socket makes the first spawn
    wait_for(lambda: len(f.workers()) == 1, 10, "spawn on connect")
    wait_for(lambda: f.workers() == [], 6, "idle worker reaped")
    # nothing to wait for: this checks that no worker comes unasked
    time.sleep(0.3)
    assert f.workers() == []
    assert probe(addr, "/hello")[1] == b"hello world\n"
    assert len(f.workers()) == 1
    wait_for(lambda: f.workers() == [], 6, "idle worker reaped")


def test_reload_swaps_config_and_workers(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers)
    old = wait_workers(f, 2)
    assert probe(addr, "/ping")[1] == b"pong"
    text = open(f.conf).read().replace("log:", "status: { ping_response: "
                                       "reloaded }\nlog:")
    with open(f.conf, "w") as fh:
        fh.write(text)
    f.signal(signal.SIGUSR2)
    wait_for(lambda: probe(addr, "/ping")[1] == b"reloaded", 10, "reload")
    wait_for(lambda: not any(p in f.workers() for p in old), 10,
             "old workers gone")
    assert "configuration reloaded" in f.log_text()


def test_bad_config_on_reload_keeps_serving(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers)
    old = wait_workers(f, 2)
    with open(f.conf, "a") as fh:
        fh.write("pm:\n  mode: stattic\n")
    f.signal(signal.SIGUSR2)
    wait_for(lambda: "reload failed" in f.log_text(), 10, "reload failure")
    assert re.search(r"fpmd\.yaml:\d+:\d+", f.log_text())
    assert probe(addr, "/hello")[1] == b"hello world\n"
    assert sorted(f.workers()) == sorted(old)


def test_reloads_under_load_through_nginx_drop_nothing(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers)
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    nginx = Nginx(tmpdir_path, addr[1], sock)
    servers.append(nginx)
    nginx.start()
    results = {"ok": 0, "bad": []}
    stop = threading.Event()
    lock = threading.Lock()

    def client(port):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            try:
                conn.request("GET", "/hello")
                r = conn.getresponse()
                body = r.read()
                good = r.status == 200 and body == b"hello world\n"
            except Exception as e:
                good = False
                body = repr(e).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=10)
            with lock:
                if good:
                    results["ok"] += 1
                else:
                    results["bad"].append(body[:200])
        conn.close()

    threads = [threading.Thread(target=client, args=(nginx.ports[v],))
               for v in Nginx.VARIANTS for _ in range(2)]
    def answered(n):
        """Waits for n more good answers than there are now."""
        with lock:
            goal = results["ok"] + n
        wait_for(lambda: results["ok"] >= goal or results["bad"], 10,
                 "%d more answers" % n)

    for t in threads:
        t.start()
    try:
        for i in range(1, 11):
            answered(10)
            old = f.workers()
            f.signal(signal.SIGUSR2)
            # each reload done, old workers gone, before the next one
            f.wait_log(r"configuration reloaded", i)
            wait_for(lambda: not set(old) & set(f.workers()), 10,
                     "old workers gone")
        answered(20)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert results["bad"] == []
    assert results["ok"] > 100
    assert f.log_text().count("configuration reloaded") == 10


def test_sigquit_finishes_requests_in_flight(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers)
    wait_workers(f, 2)
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=800")))
    wait_taken(addr)
    f.signal(signal.SIGQUIT)
    (r,) = c.wait([1])
    assert r.split()[0] == 200
    assert f.proc.wait(10) == 0
    assert not os.path.exists(os.path.join(tmpdir_path, "fpmd.sock"))


def test_sigterm_stops_fast(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers)
    kids = wait_workers(f, 2)
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=30000")))
    wait_taken(addr)
    t0 = time.time()
    f.signal(signal.SIGTERM)
    assert f.proc.wait(15) == 0
    # workers get 1 s before SIGKILL; the request would take 30 s
    assert time.time() - t0 < 5
    assert not any(alive(k) for k in kids)


def test_usr1_reopens_logs(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers,
                    log="  access: @DIR@/access.log\n")
    probe(addr, "/hello")
    access = os.path.join(f.dir, "access.log")
    wait_for(lambda: os.path.exists(access) and os.path.getsize(access) > 0,
             5, "access log line")
    os.rename(access, access + ".1")
    os.rename(f.error_log, f.error_log + ".1")
    f.signal(signal.SIGUSR1)
    wait_for(lambda: os.path.exists(f.error_log), 10, "error log reopened")
    # the master forwards the signal: a worker's line lands in the old file
    # until that worker has reopened, so ask until one reaches the new one
    wait_for(lambda: probe(addr, "/hello")[0] == 200 and os.path.exists(
        access) and os.path.getsize(access) > 0, 10, "access log reopened")
    line = open(access).read()
    assert re.match(r'127\.0\.0\.1 - .* "GET /hello" 200', line), line


def test_max_requests_recycles_between_requests(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers,
                    pm="pm:\n  mode: static\n  max_children: 1\n"
                       "  max_requests: 5\n")
    first = wait_workers(f, 1)
    statuses = [probe(addr, "/hello")[0] for _ in range(12)]
    assert statuses == [200] * 12
    wait_for(lambda: f.workers() and f.workers() != first, 10, "recycled")


def test_max_requests_jitter_recycles_workers_apart(tmpdir_path, servers):
    """Two workers with the same max_requests get different shares of the
    jitter (consecutive forks are spread over it, reproducibly), so they
    recycle at different counts."""
    f, addr = start(tmpdir_path, servers,
                    pm="pm:\n  mode: static\n  max_children: 2\n"
                       "  max_requests: 5\n  max_requests_jitter: 4\n")
    wait_workers(f, 2)

    def recycled():
        assert probe(addr, "/hello")[0] == 200
        found = re.findall(r"child (\d+) served (\d+) requests "
                           r"\(pm\.max_requests 5, jitter 4\), recycling",
                           f.log_text())
        return found if len(found) >= 2 else None
    found = wait_for(recycled, 30, "two workers recycled")
    (pid1, n1), (pid2, n2) = found[:2]
    assert pid1 != pid2 and n1 != n2, found
    assert all(5 <= int(n) <= 9 for _, n in found), found


class KeptConns:
    """FastCGI connections kept alive (FCGI_KEEP_CONN), as a web server's
    upstream ones; ask(i) sends /hello on the i-th and waits for its 200."""

    def __init__(self, addr, n):
        self.conns = [fc.Conn(addr) for _ in range(n)]
        self.sent = [0] * n

    def ask(self, i):
        self.sent[i] += 1
        self.conns[i].send(fc.request_bytes(
            self.sent[i], fc.cgi_params(uri="/hello"), keep_conn=True))
        r = self.conns[i].wait([self.sent[i]])[0]
        assert r is not None and r.split()[0] == 200
        return r

    def close(self):
        for c in self.conns:
            c.close()


def requests_by_worker(addr):
    return {p["pid"]: p["requests"] for p in status_json(addr)["processes"]}


def test_kept_connections_spread_over_workers_again_after_a_recycle(
        tmpdir_path, servers):
    """A recycling worker hands its kept-alive connections to its sibling,
    its replacement being forked once it has left; the sibling then
    passes half of those in use on to the replacement. Else one worker
    would serve all of a web server's kept connections, on one core and
    with its own pools, until they close (the soak, stress README)."""
    f, addr = start(tmpdir_path, servers,
                    pm="pm:\n  mode: static\n  max_children: 2\n"
                       "  max_requests: 2000\n")
    first = wait_workers(f, 2)
    kc = KeptConns(addr, 24)
    for i in range(len(kc.conns)):
        kc.ask(i)
    # the first connection's worker reaches max_requests and recycles
    for _ in range(2000):
        kc.ask(0)
    wait_for(lambda: len(live_workers(f)) == 2
             and set(live_workers(f)) != set(first), 10, "a recycle")

    def held():
        # each in use, as a web server busy enough to need them all (the
        # workers are far from their next recycle)
        for i in range(len(kc.conns)):
            kc.ask(i)
        rows = {p["pid"]: p["connections"]
                for p in status_json(addr)["processes"]}
        counts = [rows.get(pid, 0) for pid in live_workers(f)]
        return len(counts) == 2 and min(counts) >= 8 and counts
    wait_for(held, 10, "kept connections on both workers")
    kc.close()


def test_the_connections_in_use_spread_not_only_their_count(tmpdir_path,
                                                             servers):
    """nginx reuses the upstream connection it released last (its
    keepalive cache is a stack), so of those a worker holds a few carry
    the load and the others wait, cold. A worker that holds them all when
    a sibling comes passes on half of those in use: half of the count,
    taken among the cold ones, left every request where it was."""
    f, addr = start(tmpdir_path, servers, pm="""pm:
  mode: dynamic
  max_children: 2
  start_servers: 1
  min_spare_servers: 1
  max_spare_servers: 2
""")
    one, = wait_workers(f, 1)
    # the only worker takes them all: the hot ones first, the cold ones
    # used once
    hot = KeptConns(addr, 8)
    cold = KeptConns(addr, 32)
    for kc in (cold, hot):
        for i in range(len(kc.conns)):
            kc.ask(i)

    def use_hot():
        for i in range(len(hot.conns)):
            hot.ask(i)
        return True
    # a request in flight leaves no spare: a second worker is forked
    slow = fc.Conn(addr)
    slow.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=2000")))
    other, = wait_for(lambda: use_hot() and len(live_workers(f)) == 2
                      and [p for p in live_workers(f) if p != one],
                      10, "a second worker")

    def shared():
        before = requests_by_worker(addr)
        for _ in range(5):
            use_hot()
        after = requests_by_worker(addr)
        done = [after.get(p, 0) - before.get(p, 0) for p in (one, other)]
        # 40 asked: a quarter each at least (a status request or two
        # count too)
        return min(done) >= 10 and done
    wait_for(shared, 10, "the hot connections' requests on both workers")
    slow.wait([1])
    for c in (slow, hot, cold):
        c.close()


def test_a_burst_of_connections_spreads_over_the_workers(tmpdir_path,
                                                         servers):
    """A worker that holds a few connections more than its sibling leaves
    new ones to it; the sibling, having held more a moment before, takes
    them again at once rather than at its next event or tick, else the
    other took a whole burst (10,000 idle ones: all but a few, past
    limits.connections, so the oldest were closed; stress README)."""
    f, addr = start(tmpdir_path, servers)
    wait_workers(f, 2)
    kc = KeptConns(addr, 400)
    for i in range(len(kc.conns)):
        kc.ask(i)
    counts = sorted(p["connections"]
                    for p in status_json(addr)["processes"])
    # a quarter at least (the status request's own connection is one of
    # them); the burst went 394 to 6 before
    assert len(counts) == 2 and counts[0] >= 100, counts
    kc.close()


def test_request_terminate_timeout_answers_504_and_frees_capacity(
        tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers, """
        timeouts: { request_terminate: 1s, slowlog: 300ms }
    """, children=1)
    t0 = time.time()
    status, _ = probe(addr, "/probe?sleep_ms=30000")
    assert status == 504
    # cut at 1 s, not let run its 30 s
    assert 0.9 < time.time() - t0 < 10
    log = f.log_text()
    assert "route 'probe'" in log and "execution timed out" in log
    assert "executing too slow" in log
    assert probe(addr, "/hello")[1] == b"hello world\n"
    assert status_json(addr)["slow requests"] >= 1


def test_max_concurrency_one_serializes_requests(tmpdir_path, servers):
    f, addr = start(tmpdir_path, servers,
                    pm="pm:\n  mode: static\n  max_children: 1\n"
                       "  max_concurrency: 1\n")
    t0 = time.time()
    conns = []
    for i in range(3):
        c = fc.Conn(addr)
        c.send(fc.request_bytes(1, fc.cgi_params(
            uri="/probe?sleep_ms=300")))
        conns.append(c)
    for c in conns:
        assert c.wait([1])[0].split()[0] == 200
        c.close()
    assert time.time() - t0 >= 0.85


def test_allowed_clients_drops_other_peers(tmpdir_path, servers):
    port = free_port()
    text = base_conf(port, os.path.join(tmpdir_path, "a.sock")).replace(
        "  - fastcgi: 127.0.0.1:%d\n" % port,
        "  - fastcgi: 127.0.0.1:%d\n    allowed_clients: [127.0.0.2]\n" % port)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", port))
    c = fc.Conn(("127.0.0.1", port))
    c.send(fc.request_bytes(1, fc.cgi_params()))
    assert c.is_closed(10)
    assert c.responses == {}
    wait_for(lambda: "Connection disallowed: IP address '127.0.0.1'"
             in f.log_text(), 10, "log line")
    # unix sockets are always allowed
    r = fc.request(os.path.join(tmpdir_path, "a.sock"))
    assert r.split()[2] == b"hello world\n"


def test_unix_socket_mode(tmpdir_path, servers):
    port = free_port()
    sock = os.path.join(tmpdir_path, "m.sock")
    text = base_conf(port, sock).replace(
        "  - fastcgi: %s\n" % sock, "  - fastcgi: %s\n    mode: \"0600\"\n"
        % sock)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", port))
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600


def test_cli_test_flag_reports_success_and_every_error(tmpdir_path):
    need(FPMD_BIN, "fpmd")
    good = os.path.join(tmpdir_path, "good.yaml")
    with open(good, "w") as fh:
        fh.write(base_conf(9999, "/tmp/x.sock").replace("@DIR@", tmpdir_path))
    out = subprocess.run([FPMD_BIN, "-t", "-R", "-y", good], capture_output=True,
                         text=True)
    assert out.returncode == 0
    assert "test is successful" in out.stdout + out.stderr
    bad = os.path.join(tmpdir_path, "bad.yaml")
    with open(bad, "w") as fh:
        fh.write("listen:\n  - fastcgi: 127.0.0.1:99999\npm:\n"
                 "  mode: stattic\n  max_chidren: 3\n")
    out = subprocess.run([FPMD_BIN, "-t", "-R", "-y", bad], capture_output=True,
                         text=True)
    assert out.returncode == 78
    errors = re.findall(r"bad\.yaml:\d+:\d+: .*", out.stderr)
    assert len(errors) >= 3, out.stderr
    out = subprocess.run([FPMD_BIN, "-t", "--routes"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "/hello" in out.stdout
    assert subprocess.run([FPMD_BIN, "-v"], capture_output=True,
                          text=True).stdout.startswith("fpmd ")
    assert "Usage" in subprocess.run([FPMD_BIN, "-h"], capture_output=True,
                                     text=True).stdout
    assert subprocess.run([FPMD_BIN, "--bogus"],
                          capture_output=True).returncode == 64


def test_daemonize_with_pid_file(tmpdir_path):
    need(FPMD_BIN, "fpmd")
    port = free_port()
    conf = os.path.join(tmpdir_path, "d.yaml")
    pidfile = os.path.join(tmpdir_path, "fpmd.pid")
    with open(conf, "w") as fh:
        fh.write(base_conf(port, os.path.join(tmpdir_path, "d.sock"))
                 .replace("@DIR@", tmpdir_path))
    out = subprocess.run([FPMD_BIN, "-D", "-R", "-y", conf, "-g", pidfile],
                         timeout=15)
    assert out.returncode == 0
    pid = int(open(pidfile).read())
    try:
        assert alive(pid)
        wait_for(lambda: can_connect(("127.0.0.1", port)), 10, "listen")
        r = fc.request(("127.0.0.1", port))
        assert r.split()[2] == b"hello world\n"
    finally:
        os.kill(pid, signal.SIGQUIT)
        wait_for(lambda: not alive(pid), 10, "daemon exit")
    assert not os.path.exists(pidfile)


def drop_setuid_capabilities():
    """Takes CAP_SETGID and CAP_SETUID out of the bounding set: the root
    process exec'd next has neither, so its workers' privilege drop fails
    (the master resolves the user; only the switch is refused)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (6, 7):                  # CAP_SETGID, CAP_SETUID
        if libc.prctl(24, cap, 0, 0, 0) != 0:      # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def test_crash_loop_backs_off(tmpdir_path, servers):
    if os.geteuid() != 0:
        pytest.skip("needs root to make workers fail at privilege drop")
    port = free_port()
    text = "user: nobody\n" + base_conf(
        port, os.path.join(tmpdir_path, "c.sock"))
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", port), preexec=drop_setuid_capabilities)
    # the delay doubles from 0.1 s with each failure in a row: wait until
    # it has reached 1.6 s (about 1.5 s of a crash loop)
    f.wait_log(r"children keep dying at start \(\d+ in a row\); next spawn "
               r"in ([2-9]|1\.[6-9]|\d\d+)", timeout=30)
    started = f.log_text().count("started")
    assert started < 30, started


def longest_empty(counts):
    """The longest time worker counts [(t, n)] read 0, from the first 0 to
    the next sample that is not."""
    longest, since = 0.0, None
    for t, n in counts:
        if n == 0 and since is None:
            since = t
        elif n != 0 and since is not None:
            longest, since = max(longest, t - since), None
    return longest


@pytest.mark.parametrize("victims", ["youngest", "all"])
def test_killed_workers_come_back_at_once(tmpdir_path, servers, victims):
    """SIGKILL from outside (an operator, the OOM killer) is no failure to
    start: however young the victims, the master respawns at once, never
    backs off, and the pool keeps answering."""
    f, addr = start(tmpdir_path, servers)
    wait_workers(f, 2)
    done = threading.Event()
    counts, answers, kills = [], [], []

    def sample():
        while not done.is_set():
            counts.append((time.monotonic(), len(live_workers(f))))
            time.sleep(0.005)       # the sampling interval

    def ask():
        while not done.is_set():
            t0 = time.monotonic()
            try:
                ok = probe(addr, "/hello")[1] == b"hello world\n"
            except Exception:       # cut short by a kill
                ok = False
            answers.append((ok, t0, time.monotonic()))
            time.sleep(0.05)        # a steady trickle of requests

    threads = [threading.Thread(target=sample), threading.Thread(target=ask)]
    for t in threads:
        t.start()
    end = time.monotonic() + 6
    while time.monotonic() < end:
        live = live_workers(f)
        if victims == "youngest" and live:
            live = [max(live, key=lambda p: (start_ticks(p), p))]
        t0 = time.monotonic()
        for p in live:
            os.kill(p, signal.SIGKILL)
        kills.append((t0, time.monotonic(), len(live)))
        time.sleep(0.2)     # the kill rate: young victims, again and again
    stopped = time.monotonic()
    try:
        wait_for(lambda: len(live_workers(f)) == 2, 2.0, "2 workers again")
        back = time.monotonic() - stopped
    finally:
        done.set()
        for t in threads:
            t.join()
    empty = longest_empty(counts)
    full = sum(n == 2 for _, n in counts) / len(counts)
    failed = [(t0, t1) for ok, t0, t1 in answers if not ok]
    slowest = max(t1 - t0 for ok, t0, t1 in answers if ok)
    print("%s: %d kills, min %d workers, longest at 0 %.3f s, %.0f%% of "
          "samples at 2, back to 2 in %.3f s, %d/%d requests failed, "
          "slowest %.3f s" % (victims, sum(n for _, _, n in kills),
                              min(n for _, n in counts), empty, full * 100,
                              back, len(failed), len(answers), slowest))
    assert "keep dying at start" not in f.log_text()
    # empty only between a reap and the fork after it (milliseconds; the
    # sampling adds its own, and a loaded sanitizer build more), and full
    # most of the time: a back-off would leave the pool short for seconds
    # (0.4 s at the third kill in a row, then 0.8, 1.6, 3.2)
    assert empty <= 1.0, empty
    assert full >= 0.5, full
    # The only requests that may fail are those in flight when a kill was
    # sent (a worker had accepted them); the rest, even one sent while no
    # worker was alive, wait in the listen queue and get their answer.
    assert all(any(t0 <= k1 and k0 <= t1 for k0, k1, _ in kills)
               for t0, t1 in failed), (failed, kills)
    # a back-off would hold them for seconds (3.2 s by the sixth kill in a
    # row); the margin is for a loaded sanitizer build
    assert slowest < 3.0, slowest


def cgroup_mounts():
    """{2: the cgroup v2 mount, 1: the v1 mount with the memory controller}
    as far as they are mounted."""
    mounts = {}
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields, _, fs = line.partition(" - ")
            fstype, _, opts = fs.split()[:3]
            if fstype == "cgroup2":
                mounts.setdefault(2, fields.split()[4])
            elif fstype == "cgroup" and "memory" in opts.split(","):
                mounts.setdefault(1, fields.split()[4])
    return mounts


def swap_on():
    with open("/proc/swaps") as fh:
        return any(line.startswith("/") for line in fh)


def memory_cgroup(limit):
    """A new child of this process's memory cgroup, v2 or else v1, held to
    limit bytes and no swap, so that going over it gets a process of the
    cgroup OOM-killed and nothing outside it. Skips the test when no such
    cgroup can be made here."""
    mounts, why = cgroup_mounts(), []
    name = "fpmd-oom-%d" % os.getpid()
    with open("/proc/self/cgroup") as fh:
        own = [line.rstrip("\n").split(":", 2) for line in fh]
    for _, controllers, path in own:
        version = 2 if controllers == "" else 1
        if version not in mounts or (
                version == 1 and "memory" not in controllers.split(",")):
            continue
        d = os.path.join(mounts[version] + path, name)
        limits = (["memory.max", "memory.swap.max"] if version == 2 else
                  ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"])
        try:
            os.mkdir(d)
        except OSError as e:
            why.append("cgroup v%d: %s" % (version, e))
            continue
        try:
            if not os.path.exists(os.path.join(d, limits[0])):
                raise OSError("no memory controller under %s" % path)
            with open(os.path.join(d, limits[0]), "w") as fh:
                fh.write(str(limit))
            if os.path.exists(os.path.join(d, limits[1])):
                with open(os.path.join(d, limits[1]), "w") as fh:
                    fh.write("0" if version == 2 else str(limit))
            elif swap_on():
                raise OSError("swap is on and the cgroup cannot limit it")
            with open(os.path.join(d, limits[0])) as fh:
                if int(fh.read()) > limit:
                    raise OSError("%s did not take" % limits[0])
            return d
        except OSError as e:
            why.append("cgroup v%d: %s" % (version, e))
            os.rmdir(d)
    pytest.skip("cannot make a memory-limited cgroup: %s"
                % ("; ".join(why) or "no cgroup hierarchy with memory"))


def remove_cgroup(d):
    def gone():
        try:
            os.rmdir(d)
        except OSError as e:
            if e.errno != errno.EBUSY:      # its last process still exiting
                raise
            return False
        return True
    wait_for(gone, 5, "cgroup %s removed" % d)


def test_oom_kill_is_logged_as_such(tmpdir_path, servers):
    if os.geteuid() != 0:
        pytest.skip("needs root to make a memory-limited cgroup")
    limit = 128 << 20
    cgroup = memory_cgroup(limit)
    try:
        f, addr = start(tmpdir_path, servers, binary=FPMD_TEST_BIN)
        old = wait_workers(f, 2)
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as fh:
            fh.write(str(f.pid))
        # a reload forks every worker anew, now inside the cgroup
        f.signal(signal.SIGUSR2)
        workers = wait_for(lambda: len(live_workers(f)) == 2
                           and not set(old) & set(f.workers())
                           and live_workers(f), 10, "workers in the cgroup")
        for w in workers:
            with open("/proc/%d/cgroup" % w) as fh:
                assert os.path.basename(cgroup) in fh.read()
            # the victim must be a worker, never the master
            with open("/proc/%d/oom_score_adj" % w, "w") as fh:
                fh.write("1000")
        try:
            got = probe(addr, "/fault/alloc?mb=%d" % (4 * limit >> 20))
        except Exception:           # the worker died under the request
            got = None
        assert got is None, got
        line = wait_for(lambda: re.search(
            r"WARNING: \[pool www\] child (\d+) was killed by the OOM killer "
            r"\(SIGKILL\) after [\d.]+ seconds from start; lower "
            r"pm.max_children or memory use", f.log_text()), 10, "OOM line")
        assert int(line.group(1)) in workers
        assert "child %s exited on signal 9" % line.group(1) \
            not in f.log_text()
        # a SIGKILL with no OOM kill behind it is only a signal
        victim = wait_workers(f, 2)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: re.search(r"child %d exited on signal 9 \(SIGKILL\)"
                                   % victim, f.log_text()), 10, "kill line")
        assert "child %d was killed by the OOM" % victim not in f.log_text()
        assert probe(addr, "/hello")[1] == b"hello world\n"
    finally:
        for s in servers:
            s.stop()
        remove_cgroup(cgroup)


def test_emergency_restart_threshold_reloads(tmpdir_path, servers):
    # under ASan a SIGSEGV must kill the worker, not be reported and
    # turned into an exit code
    asan = os.environ.get("ASAN_OPTIONS", "")
    f, addr = start(tmpdir_path, servers, """
        emergency_restart_threshold: 2
        emergency_restart_interval: 10s
    """, env={"ASAN_OPTIONS": asan + ":handle_segv=0"})
    for _ in range(2):
        w = wait_workers(f, 2)
        os.kill(w[0], signal.SIGSEGV)
        wait_for(lambda: w[0] not in f.workers(), 10, "worker died")
    f.wait_log("failed processes threshold")
    f.wait_log("configuration reloaded")
    assert probe(addr, "/hello")[1] == b"hello world\n"


def test_ipv6_listener(tmpdir_path, servers):
    port = free_port()
    text = base_conf(port, os.path.join(tmpdir_path, "6.sock")).replace(
        "  - fastcgi: 127.0.0.1:%d\n" % port, "  - fastcgi: '[::1]:%d'\n" % port)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start()
    wait_for(lambda: can_connect(os.path.join(tmpdir_path, "6.sock")), 10,
             "listen")
    try:
        r = fc.request(("::1", port))
    except OSError as e:
        pytest.skip("no IPv6 loopback here: %s" % e)
    assert r.split()[2] == b"hello world\n"


def test_process_control_timeout_bounds_a_graceful_stop(tmpdir_path,
                                                         servers):
    f, addr = start(tmpdir_path, servers, """
        timeouts: { process_control: 1s }
    """)
    wait_workers(f, 2)
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=30000")))
    wait_taken(addr)
    t0 = time.time()
    f.signal(signal.SIGQUIT)
    assert f.proc.wait(20) == 0
    # ended at the 1 s bound, not after the request's 30 s
    assert 0.9 < time.time() - t0 < 10
    assert "still running after process_control_timeout" in f.log_text()
    c.close()


def test_multiplexed_requests_over_the_cap_wait_their_turn(tmpdir_path,
                                                          servers):
    f, addr = start(tmpdir_path, servers,
                    pm="pm:\n  mode: static\n  max_children: 1\n"
                       "  max_concurrency: 2\n")
    c = fc.Conn(addr)
    wire = b""
    for i in range(1, 6):
        wire += fc.request_bytes(i, fc.cgi_params(
            uri="/probe?sleep_ms=200&i=%d" % i), keep_conn=True)
    t0 = time.time()
    c.send(wire)
    rs = c.wait([1, 2, 3, 4, 5])
    elapsed = time.time() - t0
    for i, r in enumerate(rs, 1):
        assert json.loads(r.split()[2])["query"] == "sleep_ms=200&i=%d" % i
    # two at a time: three rounds of 200 ms, not one
    assert elapsed >= 0.55, elapsed
    c.close()

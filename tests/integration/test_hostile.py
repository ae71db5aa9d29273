# SPDX-License-Identifier: BSD-2-Clause
"""Hostile and unlucky traffic: slow peers by the thousand, descriptors
running out, reloads, recycling and stops under non-idempotent load (POST:
nginx cannot retry it), floods. Real fpmd, real nginx in front."""

import http.client
import json
import os
import resource
import signal
import socket
import struct
import threading
import time

import pytest

import fcgi_client as fc
from conftest import (SANITIZED, Fpmd, Nginx, base_conf, can_connect,
                      free_port, read_all, wait_for)


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def start(tmp, servers, extra="", children=2, nofile=None, pm_extra="",
          mode="static"):
    """fpmd with an HTTP listener next to base_conf's FastCGI ones."""
    hport, fport = free_port(), free_port()
    sock = os.path.join(tmp, "fpmd.sock")
    text = base_conf(fport, sock, extra).replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1).replace(
        "max_children: 2", "max_children: %d%s" % (children, pm_extra)).replace(
        "mode: static", "mode: " + mode)
    f = Fpmd(tmp, text)
    servers.append(f)
    preexec = None
    if nofile is not None:
        def preexec():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    f.start(("127.0.0.1", hport), preexec=preexec)
    wait_for(lambda: can_connect(sock), 5, "unix socket")
    return f, hport, fport, sock


def hello_http(port, timeout=1.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                  b"\r\n")
        out = read_all(s)
        # nginx answers chunked, fpmd with a length
        return out.startswith(b"HTTP/1.1 200 ") and b"hello world\n" in out
    finally:
        s.close()


def hello_fcgi(port, timeout=1.0):
    c = fc.Conn(("127.0.0.1", port), timeout=timeout)
    try:
        c.send(fc.request_bytes(1, fc.cgi_params(uri="/hello")))
        (r,) = c.wait([1], deadline=timeout)
        return r is not None and r.split()[2] == b"hello world\n"
    finally:
        c.close()


def timed(fn, *args):
    t0 = time.time()
    ok = fn(*args)
    return ok, time.time() - t0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_closed(s):
    """1 when the server closed (or answered and closed), 0 when open."""
    try:
        data = s.recv(65536, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return 0, b""
    except (ConnectionResetError, BrokenPipeError):
        return 1, b""
    if not data:
        return 1, b""
    more = data
    while more:
        try:
            more = s.recv(65536, socket.MSG_DONTWAIT)
        except (BlockingIOError, ConnectionResetError):
            break
        data += more
    return 1, data


class Slow:
    """Connections that send the start of a request and then one byte at a
    time, forever."""

    def __init__(self):
        self.socks = []
        self.closed = {}

    def open_http(self, port, n):
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            s.setblocking(False)
            self.socks.append(("http", s))

    def open_fcgi(self, port, n):
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            # a PARAMS record announcing 4000 bytes that come one by one
            s.sendall(fc.begin(1, flags=fc.KEEP_CONN)
                      + struct.pack(">BBHHBx", 1, fc.PARAMS, 1, 4000, 0))
            s.setblocking(False)
            self.socks.append(("fcgi", s))

    def drip(self):
        for i, (_, s) in enumerate(self.socks):
            if i in self.closed:
                continue
            try:
                s.send(b"a")
            except BlockingIOError:
                pass
            except OSError:
                self.closed[i] = b""

    def collect(self):
        for i, (_, s) in enumerate(self.socks):
            if i not in self.closed:
                done, data = server_closed(s)
                if done:
                    self.closed[i] = data

    def still_open(self):
        return len(self.socks) - len(self.closed)

    def close(self):
        for _, s in self.socks:
            s.close()


def test_thousands_of_slow_connections_leave_hello_answering(tmpdir_path,
                                                             servers):
    """3,000 drip-fed connections over both listeners (more than the
    pending bound of the two workers): /hello keeps answering within a
    second over HTTP and through nginx, every slow connection is cut by
    its header_read deadline whatever it drips, with a 408 where the
    protocol allows, and the log counts instead of writing a line each."""
    have = raise_nofile(8192)
    if have < 4000:
        pytest.skip("needs 4,000 descriptors, the hard limit is %d" % have)
    f, hport, fport, sock = start(tmpdir_path, servers, """
        timeouts: { header_read: 3s }
    """)
    nginx = Nginx(tmpdir_path, fport, sock)
    servers.append(nginx)
    nginx.start()
    nport = nginx.ports[("tcp", True)]
    slow = Slow()
    try:
        slow.open_http(hport, 2000)
        slow.open_fcgi(fport, 1000)
        t_opened = time.time()
        worst = 0.0
        while time.time() < t_opened + 3 + 2.5:
            slow.drip()
            for fn, port in ((hello_http, hport), (hello_http, nport),
                             (hello_fcgi, fport)):
                ok, took = timed(fn, port)
                assert ok, (fn.__name__, port)
                worst = max(worst, took)
            time.sleep(0.2)
            slow.collect()
        assert worst < 1.0, worst
        # every one cut by its deadline, however it dripped
        assert slow.still_open() == 0, slow.still_open()
        http_408 = sum(1 for i, (kind, _) in enumerate(slow.socks)
                       if kind == "http" and
                       slow.closed[i].startswith(b"HTTP/1.1 408 "))
        fcgi_408 = sum(1 for i, (kind, _) in enumerate(slow.socks)
                       if kind == "fcgi" and b"Status: 408" in slow.closed[i])
        assert http_408 > 100 and fcgi_408 > 100, (http_408, fcgi_408)
    finally:
        slow.close()
    log = f.log_text()
    cut = [line for line in log.splitlines()
           if "header_read" in line or "pending_connections" in line]
    assert 0 < len(cut) < 60, len(cut)
    assert "times in the last" in log


def test_slow_connections_never_take_request_capacity(tmpdir_path, servers):
    """With php-fpm's one request per process, silent and slow peers do not
    count: the worker still takes and answers real requests."""
    f, hport, fport, _ = start(tmpdir_path, servers, children=1,
                               pm_extra="\n  max_concurrency: 1")
    slow = Slow()
    try:
        slow.open_http(hport, 50)
        slow.open_fcgi(fport, 50)
        silent = [socket.create_connection(("127.0.0.1", p))
                  for p in (hport, fport) for _ in range(20)]
        for _ in range(5):
            slow.drip()
            for fn, port in ((hello_http, hport), (hello_fcgi, fport)):
                ok, took = timed(fn, port)
                assert ok and took < 1.0, (fn.__name__, took)
        for s in silent:
            s.close()
    finally:
        slow.close()


def test_fastcgi_params_deadline_answers_408(tmpdir_path, servers):
    f, _, fport, _ = start(tmpdir_path, servers, """
        timeouts: { header_read: 1s }
    """)
    c = fc.Conn(("127.0.0.1", fport))
    params = fc.encode_pairs(fc.cgi_params().items())
    c.send(fc.begin(7, flags=fc.KEEP_CONN)
           + struct.pack(">BBHHBx", 1, fc.PARAMS, 7, len(params), 0))
    t0 = time.time()
    for b in params[:10]:
        c.send(bytes([b]))
        time.sleep(0.2)
    (r,) = c.wait([7], deadline=5)
    assert r.split()[0] == 408
    assert time.time() - t0 < 2.5
    assert c.is_closed(3)


def test_drip_fed_body_is_cut_but_a_steady_upload_goes_on(tmpdir_path,
                                                          servers):
    f, hport, _, _ = start(tmpdir_path, servers, """
        timeouts: { body_read: 1s }
        limits: { body_min_rate: 16k }
    """)
    s = socket.create_connection(("127.0.0.1", hport), timeout=5)
    s.sendall(b"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n"
              b"\r\n")
    t0 = time.time()
    closed = False
    while time.time() < t0 + 4 and not closed:
        try:
            s.sendall(b"x")
        except OSError:
            closed = True
            break
        time.sleep(0.2)
        closed = server_closed(s)[0] == 1
    assert closed and time.time() - t0 < 2.5
    s.close()

    # 128k at 64k/s: two seconds, over body_read, within its extension
    body = b"y" * 131072
    s = socket.create_connection(("127.0.0.1", hport), timeout=10)
    s.sendall(b"POST /probe HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 8192):
        s.sendall(body[i:i + 8192])
        time.sleep(0.125)
    out = read_all(s)
    s.close()
    assert out.startswith(b"HTTP/1.1 200 ")
    assert json.loads(out.partition(b"\r\n\r\n")[2])["body_length"] == \
        len(body)


def test_out_of_descriptors_pauses_and_recovers(tmpdir_path, servers):
    """A worker with 64 descriptors and 120 clients holding requests:
    accepting pauses (no spinning, a counted log line a second) and every
    client is served as descriptors come back; silent connections are
    closed to make room for a real request."""
    f, hport, fport, _ = start(tmpdir_path, servers, children=1, nofile=64)
    worker = wait_for(lambda: f.workers(), 5, "worker")[0]
    size0 = os.path.getsize(f.error_log)
    conns = []
    for i in range(120):
        c = fc.Conn(("127.0.0.1", fport), timeout=30)
        c.send(fc.request_bytes(1, fc.cgi_params(
            uri="/probe?sleep_ms=1500&i=%d" % i)))
        conns.append(c)
    wait_for(lambda: "Too many open files" in f.log_text(), 10,
             "the worker out of descriptors")
    cpu0, t0 = cpu_seconds(worker), time.time()
    time.sleep(1.0)
    cpu = (cpu_seconds(worker) - cpu0) / (time.time() - t0)
    for c in conns:
        (r,) = c.wait([1], deadline=30)
        assert r.split()[0] == 200
        c.close()
    assert cpu < 0.3, cpu
    log = f.log_text()
    assert "Too many open files" in log
    emfile = [line for line in log.splitlines()
              if "Too many open files" in line]
    assert len(emfile) < 20, len(emfile)
    assert os.path.getsize(f.error_log) - size0 < 20000

    # silent connections up to the limit: the oldest goes for a request
    silent = []
    for _ in range(80):
        try:
            silent.append(socket.create_connection(("127.0.0.1", hport),
                                                   timeout=1))
        except OSError:
            break
    time.sleep(1.2)         # older than a just-accepted request
    ok, took = timed(hello_http, hport, 3.0)
    assert ok and took < 1.5, took
    for s in silent:
        s.close()
    assert hello_fcgi(fport)


# --- reloads, recycling and stops under POST load -------------------------

BODY = b"p" * 2048


class PostLoad:
    """Clients that POST without pause, each on its own kept-alive
    connection: direct HTTP ones, and through nginx's variants. A failure
    is any answer but the right 200."""

    def __init__(self, ports):
        self.ports = ports
        self.ok = 0
        self.bad = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(p,))
                        for p in ports]

    def client(self, port):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                conn.request("POST", "/probe?n=%d" % n, body=BODY,
                             headers={"Content-Type": "text/plain"})
                r = conn.getresponse()
                body = r.read()
                good = (r.status == 200 and
                        json.loads(body)["body_length"] == len(BODY))
                why = "%d %r" % (r.status, body[:120])
            except Exception as e:      # noqa: BLE001 - any failure counts
                good, why = False, repr(e)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port,
                                                  timeout=15)
            with self.lock:
                if good:
                    self.ok += 1
                else:
                    self.bad.append((port, why))
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join()


def post_ports(tmpdir_path, servers, f, hport, fport, sock):
    nginx = Nginx(tmpdir_path, fport, sock)
    servers.append(nginx)
    nginx.start()
    # keep-conn on (TCP and unix) and off, and HTTP keep-alive directly
    return [hport, hport, nginx.ports[("tcp", True)],
            nginx.ports[("unix", True)], nginx.ports[("tcp", False)],
            nginx.ports[("unix", False)]]


def test_reloads_under_post_load_fail_nothing(tmpdir_path, servers):
    f, hport, fport, sock = start(tmpdir_path, servers)
    ports = post_ports(tmpdir_path, servers, f, hport, fport, sock)
    with PostLoad(ports) as load:
        for i in range(10):
            ok = load.ok
            wait_for(lambda: load.ok > ok + 30, 10, "answers before reload "
                     "%d" % (i + 1))
            f.signal(signal.SIGUSR2)
            wait_for(lambda: f.log_text().count("configuration reloaded")
                     == i + 1, 10, "reload %d" % (i + 1))
        ok = load.ok
        wait_for(lambda: load.ok > ok + 30, 10, "answers after the reloads")
    assert load.bad == []


def test_max_requests_recycling_under_post_load_fails_nothing(tmpdir_path,
                                                              servers):
    f, hport, fport, sock = start(tmpdir_path, servers,
                                  pm_extra="\n  max_requests: 40")
    ports = post_ports(tmpdir_path, servers, f, hport, fport, sock)
    with PostLoad(ports) as load:
        wait_for(lambda: f.log_text().count("started") >= 12, 20,
                 "ten recycles")
    assert load.bad == []


def test_graceful_stop_never_cuts_a_kept_alive_request(tmpdir_path, servers):
    """SIGQUIT under POST load on kept-alive HTTP connections: each either
    gets its answers until one says Connection: close, or none at all; no
    client ever sees its connection go under a request it sent."""
    f, hport, _, _ = start(tmpdir_path, servers)
    results, lock = [], threading.Lock()
    go = threading.Event()
    answers = [0]

    def client():
        s = socket.create_connection(("127.0.0.1", hport), timeout=10)
        req = (b"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n"
               b"\r\n" % len(BODY)) + BODY
        answered, outcome = 0, "open"
        go.wait()
        try:
            while outcome == "open":
                s.sendall(req)
                resp = http.client.HTTPResponse(s)
                resp.begin()
                resp.read()
                answered += 1
                with lock:
                    answers[0] += 1
                if resp.getheader("Connection", "").lower() == "close":
                    outcome = "told to close"
        except Exception as e:      # noqa: BLE001 - any failure counts
            outcome = repr(e)
        s.close()
        with lock:
            results.append((outcome, answered))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    go.set()
    wait_for(lambda: answers[0] > 100, 10, "load under way")
    f.signal(signal.SIGQUIT)
    for t in threads:
        t.join()
    assert f.proc.wait(15) == 0
    assert all(o == "told to close" for o, _ in results), results
    assert all(n > 0 for _, n in results), results


def test_worker_memory_returns_after_a_flood(tmpdir_path, servers):
    """5,000 connections with half a request each, then gone: the worker's
    resident memory comes back near where it was."""
    if SANITIZED:
        pytest.skip("ASan's allocator keeps freed memory in quarantine")
    have = raise_nofile(8192)
    if have < 5500:
        pytest.skip("needs 5,500 descriptors, the hard limit is %d" % have)
    f, hport, fport, _ = start(tmpdir_path, servers, """
        limits: { pending_connections: 8000, connections: 8000 }
    """, children=1)
    worker = wait_for(lambda: f.workers(), 5, "worker")[0]

    def rss_kb():
        with open("/proc/%d/status" % worker) as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    for _ in range(50):
        assert hello_http(hport) and hello_fcgi(fport)
    idle = rss_kb()
    socks = []
    for i in range(5000):
        s = socket.create_connection(("127.0.0.1", hport if i % 2 else fport))
        s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\nX: " if i % 2
                  else fc.begin(1))
        socks.append(s)
    wait_for(lambda: rss_kb() > idle + 20000, 10, "the flood's memory")
    peak = rss_kb()
    for s in socks:
        s.close()
    # libevent's record for each descriptor number stays (event_alloc.c
    # keeps those few pages together); the rest goes back.
    try:
        wait_for(lambda: rss_kb() < idle + 4000, 10, "memory back near idle")
    except TimeoutError:
        pytest.fail("memory not back near idle: idle %d kB, peak %d kB, "
                    "after %d kB" % (idle, peak, rss_kb()))
    assert hello_http(hport)


def test_ondemand_reaps_to_zero_with_nginx_holding_connections(
        tmpdir_path, servers):
    """An ondemand worker stopped for idleness closes its kept-alive
    connections (nobody should be forked just to hold them), and the
    next request through nginx still gets a worker."""
    f, hport, fport, sock = start(tmpdir_path, servers, mode="ondemand",
                                  pm_extra="\n  process_idle_timeout: 1s")
    nginx = Nginx(tmpdir_path, fport, sock)
    servers.append(nginx)
    nginx.start()
    port = nginx.ports[("tcp", True)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", "/probe", body=BODY)
    assert conn.getresponse().read() and f.workers()
    wait_for(lambda: f.workers() == [], 8, "idle worker reaped")
    started = f.log_text().count(" started")
    time.sleep(2.5)
    assert f.workers() == [] and f.log_text().count(" started") == started
    conn.request("POST", "/probe", body=BODY)
    r = conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["body_length"] == \
        len(BODY)
    conn.close()


def test_graceful_stop_behind_nginx_fails_only_new_connections(tmpdir_path,
                                                               servers):
    """SIGQUIT under POST load through nginx, kept connections or not:
    what nginx sent on a connection fpmd had is answered; once the stop
    has begun, new connections are refused at once (nginx would try its
    next server) instead of waiting in a queue to be reset. A kept TCP
    connection's last answer leaves with its FIN, so nginx does not reuse
    it but in a rare pass of its loop; over a unix socket the two cannot
    go at once. Either way a request nginx writes in that instant may meet
    the close: at most one per kept client connection, and only on the
    kept variants (README "Reloads and recycling")."""
    f, hport, fport, sock = start(tmpdir_path, servers)
    nginx = Nginx(tmpdir_path, fport, sock)
    servers.append(nginx)
    nginx.start()
    ports = [nginx.ports[v] for v in Nginx.VARIANTS]
    with PostLoad(ports * 2) as load:
        wait_for(lambda: load.ok > 200, 10, "load under way")
        f.signal(signal.SIGQUIT)
        assert f.proc.wait(15) == 0
        time.sleep(0.3)
    assert load.ok > 200
    with open(os.path.join(nginx.dir, "error.log")) as fh:
        # a unix socket gone is a "crit" connect() failure to nginx
        errors = [line for line in fh
                  if "[error]" in line or "[crit]" in line]
    refused = [e for e in errors if "connect() " in e]
    raced = [e for e in errors if e not in refused]
    kept = {'host: "127.0.0.1:%d"' % nginx.ports[v]
            for v in Nginx.VARIANTS if v[1]}
    assert all(any(h in e for h in kept) for e in raced), raced
    assert len(raced) <= 4, raced       # the four kept clients
    assert len(load.bad) == len(errors), (load.bad[:3], errors[:3])

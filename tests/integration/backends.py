# SPDX-License-Identifier: BSD-2-Clause
"""Real backend servers for the pool tests: Debian's redis-server and
mariadbd on free 127.0.0.1 ports with their own temp dirs, stopped by their
pids, with a way to look at the server's side (a minimal RESP client, the
mariadb CLI); and fpmd-test started with a pools: block."""

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import (FPMD_TEST_BIN, NGINX_BIN, Fpmd, base_conf,
                      can_connect, children_of, free_port, need, status_json,
                      wait_for)


def start_fpmd(tmp, servers, pools_yaml):
    """fpmd-test (tests/handlers/ linked in) with one worker, FastCGI and
    HTTP listeners, and the given pools: block."""
    hport, fport = free_port(), free_port()
    sock = os.path.join(tmp, "fpmd.sock")
    text = base_conf(fport, sock, pools_yaml).replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1).replace(
        "max_children: 2", "max_children: 1")
    f = Fpmd(tmp, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    return f, hport, fport


def many_clients(hport, clients, rounds, ask):
    """clients threads, each with its own keep-alive HTTP connection to
    hport, make rounds of requests: ask(k, i) gives client k's requests
    for round i as (path, right) pairs, right(answer JSON) true when the
    answer is the right one, None for no check. Returns the wrong
    answers."""
    wrong = []

    def client(k):
        c = http.client.HTTPConnection("127.0.0.1", hport, timeout=15)
        for i in range(rounds):
            for path, right in ask(k, i):
                c.request("GET", path)
                r = c.getresponse()
                body = r.read()
                if right is not None and (r.status != 200
                                          or not right(json.loads(body))):
                    wrong.append((r.status, body[:200]))
        c.close()

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return wrong


def backend(hport, name):
    for b in status_json(hport, full=False).get("backends", []):
        if b["name"] == name:
            return b
    return None


def wait_backend(hport, name, ready, timeout=10):
    """The backend's status row once ready(row) holds. Workers publish
    their pool counts once a second, so a row read at once may show the
    state before what the test just did: ready should hold only after it
    (a counter that moved, say), and may name the state the test expects
    as a whole, which then has to come within timeout."""
    seen = []

    def look():
        b = backend(hport, name)
        seen[:] = [b]
        return b if b is not None and ready(b) else None
    try:
        return wait_for(look, timeout, "backend %s" % name)
    except TimeoutError:
        raise AssertionError("backend %s never got there; last seen: %r"
                             % (name, seen[0] if seen else None)) from None


# Connections come back within the pool's connect back-off (at most
# 0.5 s) of a server's return; the bound leaves room for a loaded machine.
RECOVERY = 2.0


def restart_under_load(server, ask, threads=4):
    """Calls ask() -> status from several threads while server is stopped
    and started again: waits for answers before the stop, for failures
    while it is down, and for a dozen calls started RECOVERY s after it
    came back. Returns [(start, seconds, status)] and that moment."""
    stop, results = threading.Event(), []

    def load():
        while not stop.is_set():
            t0 = time.time()
            try:
                status = ask()
            except (OSError, ValueError):
                status = -1
            results.append((t0, time.time() - t0, status))

    workers = [threading.Thread(target=load) for _ in range(threads)]
    for t in workers:
        t.start()
    try:
        wait_for(lambda: sum(r[2] == 200 for r in results) >= 10, 10,
                 "answers before the stop")
        server.stop()
        down = time.time()
        wait_for(lambda: any(r[0] > down and r[2] != 200
                             for r in list(results)), 10,
                 "calls failing while the server is down")
        server.start()
        back = time.time()
        wait_for(lambda: sum(r[0] > back + RECOVERY for r in list(results))
                 >= 12, 30, "calls after the recovery")
    finally:
        stop.set()
        for t in workers:
            t.join()
    return results, back


@pytest.fixture(autouse=True)
def no_worker_died(servers):
    """Whatever a test does to the backends, no worker crashes over it (and
    in the sanitizer build, no report)."""
    yield
    for s in servers:
        if isinstance(s, Fpmd):
            text = s.log_text()
            for bad in ("exited on signal", "AddressSanitizer",
                        "runtime error:"):
                assert bad not in text, s.logs()


def stop_process(pid):
    """SIGSTOP, and wait until every thread of pid has stopped: the signal
    is delivered asynchronously."""
    os.kill(pid, signal.SIGSTOP)

    def stopped():
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] not in "tT":
                        return False
        except OSError:
            return False
        return True

    wait_for(stopped, 5, "pid %d to stop" % pid)


class Server:
    """What the backend servers share: a process of their own, paused and
    resumed, stopped by its pid, and the tail of a log for failed tests.
    Subclasses set proc, log, label, and may change stop_signal and
    stop_wait."""

    stop_signal = signal.SIGTERM
    stop_wait = 10

    def pause(self):
        stop_process(self.proc.pid)

    def resume(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(self.stop_wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self):
        try:
            with open(self.log, errors="replace") as f:
                return "---- %s\n%s" % (self.label, f.read()[-5000:])
        except OSError:
            return ""


REDIS_BIN = "/usr/bin/redis-server"


def resp_encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class RespReader:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("bad RESP line %r" % line)


class Redis(Server):
    """One redis-server; cmd() talks to it directly, bypassing fpmd."""

    def __init__(self, tmp, name="redis", password=None, port=None,
                 replicaof=None):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port or free_port()
        self.password = password
        self.replicaof = replicaof
        self.log = os.path.join(self.dir, "redis.log")
        self.label = "redis %d" % self.port
        self.proc = None

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        need(REDIS_BIN, "redis-server")
        args = [REDIS_BIN, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.dir,
                "--logfile", self.log, "--daemonize", "no"]
        if self.password:
            args += ["--requirepass", self.password]
        if self.replicaof:
            args += ["--replicaof", "127.0.0.1", str(self.replicaof.port)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: self._pings() or self.proc.poll() is not None, 10,
                 "redis-server on %d" % self.port)
        assert self.proc.poll() is None, self.logs()
        return self

    def _pings(self):
        try:
            return self.cmd("PING") == "PONG"
        except OSError:
            return False

    def cmd(self, *args, db=0):
        with socket.create_connection(("127.0.0.1", self.port), 2) as s:
            r = RespReader(s)
            pre = []
            if self.password:
                pre.append(("AUTH", self.password))
            if db:
                pre.append(("SELECT", db))
            for p in pre:
                s.sendall(resp_encode(p))
                r.read()
            s.sendall(resp_encode(args))
            return r.read()



SENTINEL_BIN = "/usr/bin/redis-sentinel"


class Sentinel(Redis):
    """One redis-sentinel watching master (a Redis) as mymaster, quorum
    2, down after 1 s, in its own dir (it rewrites its config file)."""

    def __init__(self, tmp, name, master):
        super().__init__(tmp, name)
        self.master = master
        self.label = "sentinel %d" % self.port
        self.log = os.path.join(self.dir, "sentinel.log")

    def start(self):
        need(SENTINEL_BIN, "redis-sentinel")
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                    "logfile %s\n"
                    "sentinel monitor mymaster 127.0.0.1 %d 2\n"
                    "sentinel down-after-milliseconds mymaster 1000\n"
                    "sentinel failover-timeout mymaster 5000\n"
                    "sentinel parallel-syncs mymaster 1\n"
                    % (self.port, self.dir, self.log, self.master.port))
        self.proc = subprocess.Popen([SENTINEL_BIN, conf],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: self._pings() or self.proc.poll() is not None, 10,
                 "redis-sentinel on %d" % self.port)
        assert self.proc.poll() is None, self.logs()
        return self

    def master_port(self):
        addr = self.cmd("SENTINEL", "get-master-addr-by-name", "mymaster")
        return int(addr[1]) if addr else None


MARIADBD_BIN = "/usr/sbin/mariadbd"
INSTALL_DB_BIN = "/usr/bin/mariadb-install-db"
MARIADB_BIN = "/usr/bin/mariadb"

# BENCH-CONTRACT's data: user bench/bench, database bench, items 1..100.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "bench", "seed.sql")) as _f:
    SEED = _f.read()


ETCD_BIN = "/usr/bin/etcd"


def b64(text):
    return base64.b64encode(text.encode()).decode()


class Etcd(Server):
    """One etcd-server member on free ports with its own data dir: stop()
    and start() again keep the data, as a restarted etcd does. api()
    talks to its HTTP/JSON gateway directly, bypassing fpmd."""

    def __init__(self, tmp, name="etcd"):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port, self.peer = free_port(), free_port()
        self.log = os.path.join(self.dir, "etcd.log")
        self.label = "etcd %d" % self.port
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        need(ETCD_BIN, "etcd-server")
        peer = "http://127.0.0.1:%d" % self.peer
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [ETCD_BIN, "--name", "t", "--data-dir",
                 os.path.join(self.dir, "data"),
                 "--listen-client-urls", self.url,
                 "--advertise-client-urls", self.url,
                 "--listen-peer-urls", peer,
                 "--initial-advertise-peer-urls", peer,
                 "--initial-cluster", "t=" + peer],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: self._healthy() or self.proc.poll() is not None,
                 30, "etcd on %d" % self.port)
        assert self.proc.poll() is None, self.logs()
        return self

    def _healthy(self):
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                return json.load(r).get("health") == "true"
        except (OSError, ValueError):
            return False

    def api(self, path, body):
        req = urllib.request.Request(self.url + path,
                                     json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.load(r)

    def put(self, key, value):
        return self.api("/v3/kv/put", {"key": b64(key), "value": b64(value)})

    def delete(self, key):
        return self.api("/v3/kv/deleterange", {"key": b64(key)})

    def under(self, prefix):
        """{key: value} of the keys under prefix/, and the leases."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        got = self.api("/v3/kv/range", {"key": b64(prefix),
                                        "range_end": b64(end)})
        return {base64.b64decode(kv["key"]).decode():
                (base64.b64decode(kv.get("value", "")).decode(),
                 kv.get("lease"))
                for kv in got.get("kvs", [])}


class Mariadb(Server):
    """One mariadbd with its own datadir, seeded with the bench data;
    sql() runs statements as root over its unix socket (mariadb CLI)."""

    stop_wait = 30

    def __init__(self, tmp, name="mariadb"):
        self.dir = os.path.join(tmp, name)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        self.log = os.path.join(self.dir, "error.log")
        self.port = free_port()
        self.label = "mariadbd %d" % self.port
        self.proc = None
        self.seeded = False

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def start(self):
        need(MARIADBD_BIN, "mariadbd")
        if not os.path.isdir(self.data):
            os.makedirs(self.dir, exist_ok=True)
            # --force: a minimal machine may resolve no host name at all
            subprocess.run([INSTALL_DB_BIN, "--no-defaults", "--force",
                            "--datadir=" + self.data,
                            "--auth-root-authentication-method=normal",
                            "--skip-test-db", "--user=root"],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=True)
        self.proc = subprocess.Popen(
            [MARIADBD_BIN, "--no-defaults", "--datadir=" + self.data,
             "--socket=" + self.sock, "--port=%d" % self.port,
             "--bind-address=127.0.0.1", "--user=root",
             "--pid-file=" + os.path.join(self.dir, "mysqld.pid"),
             "--log-error=" + self.log, "--skip-log-bin",
             "--skip-name-resolve",
             "--innodb-buffer-pool-size=16M", "--max-connections=500"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self._answers() or self.proc.poll() is not None,
                 30, "mariadbd on %d" % self.port)
        assert self.proc.poll() is None, self.logs()
        if not self.seeded:
            self.sql(SEED)
            self.seeded = True
        return self

    def _answers(self):
        try:
            self.sql("SELECT 1")
            return True
        except subprocess.CalledProcessError:
            return False

    def sql(self, text):
        out = subprocess.run([MARIADB_BIN, "--no-defaults", "-S", self.sock,
                              "-uroot", "-N", "-B", "-e", text],
                             capture_output=True, text=True, check=True)
        return [line.split("\t") for line in out.stdout.splitlines()]



PHP_FPM_BIN = "/usr/sbin/php-fpm8.2"


NGINX_CONF = """
{user}
worker_processes 1;
error_log {dir}/error.log info;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    {extra}
    client_body_temp_path {dir}/body;
    fastcgi_temp_path {dir}/fastcgi;
    proxy_temp_path {dir}/proxy;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    client_max_body_size 64m;
    upstream fpmd {{ server {fpmd_upstream}; keepalive 8; }}
{servers}
}}
"""


class NginxFront(Server):
    """Debian's nginx with the given server blocks (and an upstream "fpmd"
    with keep-alive to fpmd_upstream), in its own directory."""

    def __init__(self, tmp, fpmd_upstream, servers_conf, http_extra=""):
        need(NGINX_BIN, "nginx")
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(self.dir, exist_ok=True)
        self.log = os.path.join(self.dir, "error.log")
        self.access_log = os.path.join(self.dir, "access.log")
        self.label = "nginx"
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as fh:
            fh.write(NGINX_CONF.format(
                user="user root;" if os.geteuid() == 0 else "", dir=self.dir,
                fpmd_upstream=fpmd_upstream, extra=http_extra,
                servers=servers_conf))
        self.proc = None

    def start(self, ports):
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-p", self.dir, "-c", self.conf, "-g",
             "daemon off;"], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        for p in ports:
            wait_for(lambda: can_connect(("127.0.0.1", p)), 10, "nginx")
        return self


class PhpFpm(Server):
    """Debian's php-fpm 8.2, one static pool (named pool) of 2 children on
    a free port, serving the scripts in its own www directory."""

    stop_signal = signal.SIGQUIT       # php-fpm's graceful stop

    def __init__(self, tmp, scripts, unix=False, pool_extra="",
                 pool="legacy"):
        self.dir = os.path.join(tmp, "php")
        self.www = os.path.join(self.dir, "www")
        os.makedirs(self.www, exist_ok=True)
        os.chmod(tmp, 0o755)
        os.chmod(self.dir, 0o755)
        os.chmod(self.www, 0o755)
        for name, text in scripts.items():
            path = os.path.join(self.www, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o644)
        self.port = free_port()
        self.sock = os.path.join(self.dir, "php-fpm.sock") if unix else None
        self.log = os.path.join(self.dir, "php-fpm.log")
        self.label = "php-fpm"
        self.conf = os.path.join(self.dir, "php-fpm.conf")
        user = "www-data" if os.geteuid() == 0 else None
        with open(self.conf, "w") as f:
            f.write("[global]\npid = %s/php-fpm.pid\nerror_log = %s\n"
                    "daemonize = no\n[%s]\nlisten = %s\n"
                    "listen.mode = 0666\n"
                    "pm = static\npm.max_children = 2\n"
                    "catch_workers_output = yes\n%s%s" % (
                        self.dir, self.log, pool, self.address,
                        "user = %s\ngroup = %s\n" % (user, user) if user
                        else "", pool_extra))
        self.proc = None

    @property
    def address(self):
        return self.sock or "127.0.0.1:%d" % self.port

    @property
    def nginx_address(self):
        return "unix:" + self.sock if self.sock else self.address

    def children(self):
        return children_of(self.proc.pid)

    def start(self):
        need(PHP_FPM_BIN, "php-fpm8.2")
        self.proc = subprocess.Popen([PHP_FPM_BIN, "-F", "-y", self.conf]
                                     + (["-R"] if os.geteuid() == 0 else []),
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(lambda: can_connect(self.sock or ("127.0.0.1", self.port))
                 or self.proc.poll() is not None, 10, "php-fpm")
        assert self.proc.poll() is None, self.logs()
        return self

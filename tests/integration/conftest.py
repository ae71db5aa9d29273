# SPDX-License-Identifier: BSD-2-Clause
"""Harness for integration tests: starts the real fpmd (FPMD_BIN) and the
real Debian nginx on free 127.0.0.1 ports with their own temp dirs, waits on
sockets (no fixed sleeps), stops every process by its pid and prints every
log when a test fails. A missing server binary skips locally and fails in
CI (CI=true)."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import time

import pytest

import fcgi_client

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FPMD_BIN = os.environ.get("FPMD_BIN", os.path.join(TOP, "fpmd", "fpmd"))
# the daemon with tests/handlers/ linked in, built by make check
FPMD_TEST_BIN = os.environ.get("FPMD_TEST_BIN", os.path.join(
    os.path.dirname(os.path.dirname(FPMD_BIN)), "tests", "fpmd-test"))
# fpmd's verdict on one HTTP message (test_http_differential.py)
FPMD_HTTP_VERDICT_BIN = os.environ.get("FPMD_HTTP_VERDICT_BIN", os.path.join(
    os.path.dirname(os.path.dirname(FPMD_BIN)), "tests", "http-verdict"))
NGINX_BIN = "/usr/sbin/nginx"
SANITIZED = os.environ.get("FPMD_SANITIZED") == "1"
# FPMD_VALGRIND=1 (tests/stress/valgrind.sh): every fpmd runs under
# valgrind's memcheck, which follows the workers' forks; each process
# writes its report to vg.<pid>.log in the Fpmd's dir, and a test whose
# fpmd had an error or a definite leak fails at its end. The daemon runs
# 20 to 50 times slower: waits are stretched by TIME_SCALE.
VALGRIND = os.environ.get("FPMD_VALGRIND") == "1"
VALGRIND_ARGS = ["valgrind", "--tool=memcheck", "--trace-children=yes",
                 "--error-exitcode=99", "--leak-check=full",
                 "--show-leak-kinds=definite",
                 "--errors-for-leak-kinds=definite", "--num-callers=30",
                 "--max-stackframe=131072",
                 "--suppressions=" + os.path.join(TOP, "tests",
                                                  "valgrind.supp")]
TIME_SCALE = 5 if VALGRIND else 1
# FPMD_TEST_SECCOMP=on (or log): every config a test writes gets that
# seccomp: setting, unless it has one of its own, so that the whole suite
# runs with the workers' system call filter (tests/run-all.sh).
SECCOMP = os.environ.get("FPMD_TEST_SECCOMP", "")
# libmongoc's load-time counters file is /dev/shm/mongoc-<pid>; the tests
# kill processes with SIGKILL, which leaves such files behind, and a later
# process given the same pid prints a warning into the stderr the tests
# read. The README tells operators the same.
os.environ["MONGOC_DISABLE_SHM"] = "1"


def with_seccomp(yaml_text):
    """yaml_text with FPMD_TEST_SECCOMP's seccomp: line added, when that
    is set and the text has none."""
    if not SECCOMP or re.search(r"^seccomp:", yaml_text, re.M):
        return yaml_text
    return yaml_text.rstrip("\n") + "\nseccomp: %s\n" % SECCOMP


def need(path, what):
    """Skips the test when what is not at path, but for a run after
    install-deps.sh (run-all.sh) or in CI, where that is a failure."""
    if not os.access(path, os.X_OK):
        if (os.environ.get("CI") == "true"
                or os.environ.get("FPMD_TESTS_INSTALLED") == "1"):
            pytest.fail("%s not found at %s" % (what, path))
        pytest.skip("%s not found at %s" % (what, path))


def _port_range():
    """Ports for the tests' listeners: below the kernel's ephemeral range,
    which the client sockets of every test draw from (a port taken from
    there can be some connection's source port by the time a server binds
    it: "Address already in use")."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return 10000, max(low, 10001)


_PORTS = {"range": _port_range(), "next": None}


def free_port():
    """A 127.0.0.1 port nobody listens on, never the same twice in a run
    (until the range wraps): handed out in turn from a random start, each
    checked by binding it."""
    low, high = _PORTS["range"]
    if _PORTS["next"] is None:
        _PORTS["next"] = low + int.from_bytes(os.urandom(2), "big") % (
            high - low)
    for _ in range(high - low):
        port = _PORTS["next"]
        _PORTS["next"] = low + (port + 1 - low) % (high - low)
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in %d-%d" % (low, high))


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.time() + timeout * TIME_SCALE
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise TimeoutError("timed out waiting for " + what)


def can_connect(address):
    fam = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            s.connect(address)
            return True
    except OSError:
        return False


def log_tails(dir, label, names, limit):
    """The last limit characters of each log in names under dir that
    exists, each after a line naming it: for a failed test's report."""
    out = ""
    for name in names:
        p = os.path.join(dir, name)
        if os.path.exists(p):
            with open(p, errors="replace") as f:
                out += "---- %s %s\n%s" % (label, name, f.read()[-limit:])
    return out


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


class Fpmd:
    """One fpmd master started from a YAML config in its own dir."""

    def __init__(self, tmp, yaml_text, name="fpmd", binary=None):
        self.binary = binary or FPMD_BIN
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.conf = os.path.join(self.dir, "fpmd.yaml")
        self.error_log = os.path.join(self.dir, "error.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.write_conf(yaml_text)
        self.proc = None

    def write_conf(self, yaml_text):
        with open(self.conf, "w") as f:
            f.write(with_seccomp(textwrap.dedent(yaml_text))
                    .replace("@DIR@", self.dir))

    def start(self, wait_address=None, args=(), env=None, preexec=None,
              allow_root=True):
        """allow_root: pass -R, since the test configs name no user: and
        CI runs them as root (workers then stay root, like the tests)."""
        need(self.binary, "fpmd")
        self.stderr = open(self.stderr_path, "ab")
        vg = VALGRIND_ARGS + ["--log-file=" + os.path.join(
            self.dir, "vg.%p.log")] if VALGRIND else []
        self.proc = subprocess.Popen([*vg, self.binary, "-F", "-y", self.conf,
                                      *(["-R"] if allow_root else []), *args],
                                     stdout=self.stderr, stderr=self.stderr,
                                     env=dict(os.environ, **(env or {})),
                                     preexec_fn=preexec)
        if wait_address is not None:
            # every listener, not only the one named: the master opens
            # them one after another, a unix socket after the TCP port
            for address in [wait_address] + self.unix_sockets():
                wait_for(lambda: can_connect(address) or self.proc.poll()
                         is not None, 15, "fpmd to listen on %r" % (address,))
                assert self.proc.poll() is None, self.logs()
        return self

    def unix_sockets(self):
        """The unix socket paths its config listens on."""
        with open(self.conf) as f:
            return re.findall(r"^\s*- (?:fastcgi|http): (/\S+)\s*$", f.read(),
                              re.M)

    @property
    def pid(self):
        return self.proc.pid

    def workers(self):
        return children_of(self.proc.pid)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self, sig=None, timeout=15):
        # Under valgrind a worker's exit (its leak check) takes longer
        # than a fast stop waits before its SIGKILL, which would lose the
        # report: a graceful stop lets it finish.
        sig = sig or (signal.SIGQUIT if VALGRIND else signal.SIGTERM)
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        kids = self.workers()
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout * TIME_SCALE)
        except subprocess.TimeoutExpired:
            for k in kids:
                if alive(k):
                    os.kill(k, signal.SIGKILL)
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()
        return self.proc.returncode

    def valgrind_reports(self):
        """What valgrind found in this fpmd's processes that ended: the
        reports with an error or a definite leak, each after its file's
        name. Processes killed with SIGKILL write no summary."""
        bad = ""
        for name in sorted(os.listdir(self.dir)):
            if not re.match(r"vg\.\d+\.log$", name):
                continue
            with open(os.path.join(self.dir, name), errors="replace") as f:
                text = f.read()
            errors = re.search(r"ERROR SUMMARY: ([\d,]+) errors", text)
            lost = re.search(r"definitely lost: ([\d,]+) bytes", text)
            if ((errors and errors.group(1) != "0")
                    or (lost and lost.group(1) != "0")):
                bad += "---- %s\n%s" % (name, text)
        return bad

    def log_text(self):
        out = ""
        for p in (self.error_log, self.stderr_path):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out += f.read()
        return out

    def logs(self):
        return "---- fpmd logs (%s)\n%s" % (self.dir, self.log_text())

    def wait_log(self, pattern, count=1, timeout=10):
        """Waits until the regular expression pattern matches count times
        in the logs (lines are ^...$); returns the matches."""
        def found():
            m = list(re.finditer(pattern, self.log_text(), re.M))
            return m if len(m) >= count else None
        return wait_for(found, timeout, "%d log line(s) matching %r"
                        % (count, pattern))


NGINX_CONF = """
@USER@
worker_processes 1;
error_log @DIR@/error.log info;
pid @DIR@/nginx.pid;
events { worker_connections 1024; }
http {
    access_log @DIR@/access.log;
    client_body_temp_path @DIR@/body;
    fastcgi_temp_path @DIR@/fastcgi;
    proxy_temp_path @DIR@/proxy;
    uwsgi_temp_path @DIR@/uwsgi;
    scgi_temp_path @DIR@/scgi;
    client_max_body_size 64m;
    upstream fpmd_tcp { server 127.0.0.1:@FCGI_PORT@; keepalive 16; }
    upstream fpmd_unix { server unix:@SOCK@; keepalive 16; }
@SERVERS@
}
"""

SERVER = """
    server {
        listen 127.0.0.1:@PORT@;
        root @DIR@/www;
        location ~ [^/]\\.php(/|$) {
            include snippets/fastcgi-php.conf;
            @KEEP@
            fastcgi_pass @UPSTREAM@;
        }
        location / {
            include fastcgi_params;
            @KEEP@
            fastcgi_pass @UPSTREAM@;
        }
    }
"""


class Nginx:
    """Debian's nginx with its stock fastcgi_params and
    snippets/fastcgi-php.conf, one server per (transport, keep-conn)."""

    VARIANTS = [("tcp", False), ("tcp", True), ("unix", False),
                ("unix", True)]

    def __init__(self, tmp, fcgi_port, sock):
        self.dir = os.path.join(tmp, "nginx")
        os.makedirs(os.path.join(self.dir, "www"), exist_ok=True)
        # snippets/fastcgi-php.conf does try_files on the script
        for name in ("index.php", "probe.php"):
            open(os.path.join(self.dir, "www", name), "w").close()
        # Debian's stock files, unchanged: relative includes inside them
        # resolve against this directory, so link them in.
        for name in ("fastcgi_params", "fastcgi.conf", "snippets"):
            os.symlink(os.path.join("/etc/nginx", name),
                       os.path.join(self.dir, name))
        self.ports = {}
        servers = ""
        for transport, keep in self.VARIANTS:
            port = free_port()
            self.ports[(transport, keep)] = port
            upstream = "fpmd_tcp" if transport == "tcp" else "fpmd_unix"
            if not keep:
                upstream = ("127.0.0.1:%d" % fcgi_port if transport == "tcp"
                            else "unix:" + sock)
            servers += (SERVER.replace("@PORT@", str(port))
                        .replace("@UPSTREAM@", upstream)
                        .replace("@KEEP@", "fastcgi_keep_conn on;" if keep
                                 else ""))
        conf = (NGINX_CONF.replace("@SERVERS@", servers)
                .replace("@FCGI_PORT@", str(fcgi_port))
                .replace("@SOCK@", sock).replace("@DIR@", self.dir)
                # as root nginx would drop its workers to www-data, which
                # may not open the test's 0660 root-owned socket
                .replace("@USER@", "user root;" if os.geteuid() == 0
                         else ""))
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.proc = None

    def start(self):
        need(NGINX_BIN, "nginx")
        self.proc = subprocess.Popen(
            [NGINX_BIN, "-p", self.dir, "-c", self.conf, "-g",
             "daemon off;"], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "stderr.log"), "ab"))
        for port in self.ports.values():
            wait_for(lambda: can_connect(("127.0.0.1", port))
                     or self.proc.poll() is not None, 10, "nginx")
        assert self.proc.poll() is None, self.logs()
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def logs(self):
        return log_tails(self.dir, "nginx", ("error.log", "stderr.log"),
                         20000)


def read_all(sock):
    """What the peer sends until it closes (a reset ends it too)."""
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except ConnectionResetError:
        pass
    return out


def http_request(port, method, path, body=None, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read()
    finally:
        conn.close()


def status_json(address, full=True):
    """The daemon's status page as JSON (with its per-process rows when
    full): over HTTP when address is a port number, else over FastCGI at
    a (host, port) pair or a unix socket path."""
    uri = "/status?json" + ("&full" if full else "")
    if isinstance(address, int):
        code, _, body = http_request(address, "GET", uri)
    else:
        code, _, body = fcgi_client.request(address, uri=uri).split()
    assert code == 200, body
    return json.loads(body)


def connects_to(port):
    """The local ports of client sockets to 127.0.0.1:port being set up or
    up (SYN_SENT, ESTABLISHED in /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        return {int(line.split()[1].split(":")[1], 16)
                for line in list(f)[1:]
                if int(line.split()[2].split(":")[1], 16) == port
                and line.split()[3] in ("01", "02")}


def open_connections(address):
    """Connections the workers hold open, leaving out the status request's
    own (the per-process "connections" are counted as they open and
    close, not once a second)."""
    rows = status_json(address)["processes"]
    return sum(p["connections"] for p in rows) - 1


def wait_taken(address, n=1, timeout=10):
    """Waits until the workers hold n connections besides the status
    request's: a request sent whole on them is in a worker's hands."""
    return wait_for(lambda: open_connections(address) >= n, timeout,
                    "%d connection(s) taken by a worker" % n)


@pytest.fixture
def tmpdir_path():
    d = tempfile.mkdtemp(prefix="fpmd-it-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


_servers = []


@pytest.fixture
def servers(tmpdir_path):
    """Register started servers here; they are stopped after the test, and
    their logs printed if it failed. Before their temp dir goes (an
    autouse fixture may ask for servers first): their last words, such as
    valgrind's reports, are written at their exit."""
    started = []
    _servers.append(started)
    yield started
    for s in reversed(started):
        s.stop()
    _servers.remove(started)
    if VALGRIND:
        reports = "".join(s.valgrind_reports() for s in started
                          if isinstance(s, Fpmd))
        if reports:
            pytest.fail("valgrind found errors:\n" + reports,
                        pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for started in _servers:
            for s in started:
                rep.sections.append(("server logs", s.logs()))


BASE_CONF = """
pool: www
listen:
  - fastcgi: 127.0.0.1:@PORT@
  - fastcgi: @SOCK@
pm:
  mode: static
  max_children: 2
log:
  error: @DIR@/error.log
routes:
  - match: GET /hello
    handler: hello
  - match: GET /json
    handler: json
  - match: /probe
    handler: probe
  - match: /index.php
    handler: probe
"""


DEMO_CONF = os.path.join(TOP, "conf", "demo.yaml")


def demo_conf(fcgi_port, http_port, backends=None):
    """conf/demo.yaml (the probe and the benchmark routes) as a test runs
    it: its listeners on the given 127.0.0.1 ports, its error log in the
    Fpmd's dir (@DIR@), its pools' servers replaced by backends ({pool:
    address})."""
    import yaml
    with open(DEMO_CONF) as f:
        conf = yaml.safe_load(f)
    conf["listen"] = [{"fastcgi": "127.0.0.1:%d" % fcgi_port},
                      {"http": "127.0.0.1:%d" % http_port}]
    conf["log"] = {"error": "@DIR@/error.log"}
    for name, address in (backends or {}).items():
        conf["pools"][name]["servers"] = [address]
    return yaml.safe_dump(conf, sort_keys=False)


def base_conf(port, sock, extra=""):
    return (BASE_CONF.replace("@PORT@", str(port)).replace("@SOCK@", sock)
            + textwrap.dedent(extra))


def config_check(tmp, extra, binary=None):
    """fpmd -t (-R) on base_conf plus extra: (exit code, stderr, the
    config's path), for tests of config errors' file:line:column."""
    binary = binary or FPMD_TEST_BIN
    need(binary, "fpmd")
    f = Fpmd(tmp, base_conf(free_port(), os.path.join(tmp, "x.sock"), extra),
             binary=binary)
    r = subprocess.run([binary, "-t", "-R", "-y", f.conf],
                       capture_output=True, text=True, timeout=10)
    return r.returncode, r.stderr, f.conf


@pytest.fixture
def stack(tmpdir_path, servers):
    """fpmd on TCP and a unix socket behind nginx's four variants."""
    port = free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    fpmd = Fpmd(tmpdir_path, base_conf(port, sock))
    servers.append(fpmd)
    fpmd.start(("127.0.0.1", port))
    wait_for(lambda: can_connect(sock), 5, "unix socket")
    nginx = Nginx(tmpdir_path, port, sock)
    servers.append(nginx)
    nginx.start()
    return fpmd, nginx, port, sock

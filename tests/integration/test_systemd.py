# SPDX-License-Identifier: BSD-2-Clause
"""fpmd under systemd, with the test in systemd's place: a datagram socket
as $NOTIFY_SOCKET records the master's notices (READY only once a worker
accepts, RELOADING/READY around reloads, a failed reload's STATUS, the
STATUS line's traffic, STOPPING, watchdog pings at half WATCHDOG_USEC);
sockets the test binds are passed as $LISTEN_FDS (socket activation);
systemd-analyze checks the unit files and logrotate the rotation file."""

import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

import fcgi_client
from conftest import (FPMD_BIN, TOP, Fpmd, can_connect, free_port,
                      http_request, need, wait_for)
from test_modules import api_version

CONF = """
pool: www
listen:
  - http: 127.0.0.1:@PORT@
pm:
  mode: static
  max_children: 2
log:
  error: @DIR@/error.log
routes:
  - match: GET /hello
    handler: hello
"""

STATUS_RE = re.compile(r"Processes active: (\d+), idle: (\d+), Requests: "
                       r"(\d+), slow: (\d+), Traffic: ([0-9.e+-]+)req/sec$")

# How long the slow module holds each process that loads it.
SLOW_START_S = 1.5


class Notify:
    """systemd's end of $NOTIFY_SOCKET: records each datagram as
    (arrival time, sender pid, {key: value})."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        # the kernel then tells each datagram's sender
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.settimeout(0.1)
        self.notices = []
        self.lock = threading.Lock()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done:
            try:
                msg, anc, _, _ = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(12))
            except socket.timeout:
                continue
            pid = None
            for level, kind, data in anc:
                if (level, kind) == (socket.SOL_SOCKET,
                                     socket.SCM_CREDENTIALS):
                    pid = struct.unpack("iII", data[:12])[0]
            fields = dict(line.split("=", 1) for line in
                          msg.decode().split("\n") if "=" in line)
            with self.lock:
                self.notices.append((time.monotonic(), pid, fields))

    def close(self):
        self.done = True
        self.thread.join()
        self.sock.close()

    def all(self):
        with self.lock:
            return list(self.notices)

    def find(self, pred, after=0):
        """Index and notice of the first one from index after on whose
        fields satisfy pred, or None."""
        for i, n in enumerate(self.all()[after:], after):
            if pred(n[2]):
                return i, n
        return None

    def wait(self, pred, after=0, timeout=15, what="a notice"):
        return wait_for(lambda: self.find(pred, after), timeout, what)


def ready(f):
    return f.get("READY") == "1"


def status(f):
    m = STATUS_RE.search(f.get("STATUS", ""))
    return m and tuple(float(x) for x in m.groups())


def slow_module(tmp):
    """A handler module whose constructor sleeps SLOW_START_S: the
    config check and every worker take that long to load it."""
    need("/usr/bin/cc", "cc")
    src = os.path.join(tmp, "slow.c")
    with open(src, "w") as fh:
        fh.write("#include <time.h>\n"
                 "const int fpmd_module_api_version = %s;\n"
                 "__attribute__((constructor)) static void slow(void)\n"
                 "{\n    struct timespec ts = {%d, %d};\n"
                 "    nanosleep(&ts, 0);\n}\n"
                 % (api_version(), int(SLOW_START_S),
                    int(SLOW_START_S % 1 * 1e9)))
    out = os.path.join(tmp, "slow.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", out, src], check=True)
    return out


def start(tmp, servers, extra="", env=None):
    port = free_port()
    n = Notify(tmp)
    f = Fpmd(tmp, CONF.replace("@PORT@", str(port)) + extra)
    servers.append(f)
    f.start(env=dict({"NOTIFY_SOCKET": n.path}, **(env or {})))
    return f, n, port


def test_ready_comes_once_a_worker_accepts_and_stop_says_stopping(
        tmpdir_path, servers):
    so = slow_module(tmpdir_path)
    f, n, port = start(tmpdir_path, servers, "modules:\n  - %s\n" % so)
    try:
        wait_for(lambda: can_connect(("127.0.0.1", port))
                 or f.proc.poll() is not None, 15, "the listener")
        bound = time.monotonic()
        assert f.proc.poll() is None, f.logs()
        # queued until a worker has loaded the module, then answered
        assert http_request(port, "GET", "/hello")[0] == 200
        _, (at, pid, fields) = n.wait(ready, what="READY=1")
        assert pid == f.pid
        # a READY sent as the workers were forked would have come right
        # after the bind, while they still load the module
        assert at - bound > SLOW_START_S / 2, (at - bound, f.logs())
        assert status(fields), fields
        f.wait_log("ready to handle connections")

        f.signal(signal.SIGQUIT)
        _, (_, pid, fields) = n.wait(lambda x: x.get("STOPPING") == "1",
                                     what="STOPPING=1")
        assert pid == f.pid and fields["STATUS"] == "Finishing"
        assert f.proc.wait(15) == 0
        # no watchdog without WATCHDOG_USEC; one READY only
        assert not n.find(lambda x: "WATCHDOG" in x)
        assert len([x for x in n.all() if ready(x[2])]) == 1
    finally:
        n.close()


def test_reload_says_reloading_then_ready_and_a_failed_one_says_so(
        tmpdir_path, servers):
    f, n, port = start(tmpdir_path, servers)
    try:
        first, _ = n.wait(ready, what="READY=1")

        f.write_conf(CONF.replace("@PORT@", str(port))
                     + "  - match: GET /json\n    handler: json\n")
        f.signal(signal.SIGUSR2)
        i, (_, pid, fields) = n.wait(lambda x: x.get("RELOADING") == "1",
                                     first + 1, what="RELOADING=1")
        assert pid == f.pid and int(fields["MONOTONIC_USEC"]) > 0
        j, (_, _, fields) = n.wait(ready, i + 1, what="READY=1 (reload)")
        assert "Reload failed" not in fields["STATUS"]
        # the new generation serves
        assert http_request(port, "GET", "/json", timeout=5)[0] == 200

        with open(f.conf, "a") as fh:
            fh.write("pm: [broken\n")
        f.signal(signal.SIGUSR2)
        i, _ = n.wait(lambda x: x.get("RELOADING") == "1", j + 1,
                      what="RELOADING=1 (broken config)")
        j, (_, _, fields) = n.wait(ready, i + 1, what="READY=1 (failed)")
        assert fields["STATUS"].startswith(
            "Reload failed, generation 2 keeps serving (see the error "
            "log); Processes active: "), fields
        f.wait_log("reload failed, keeping the running configuration")
        assert http_request(port, "GET", "/json", timeout=5)[0] == 200
        # the refreshed STATUS keeps saying it
        _, (_, _, fields) = n.wait(lambda x: "STATUS" in x, j + 1,
                                   what="STATUS after the failed reload")
        assert fields["STATUS"].startswith("Reload failed"), fields

        f.write_conf(CONF.replace("@PORT@", str(port)))
        f.signal(signal.SIGUSR2)
        i, _ = n.wait(lambda x: x.get("RELOADING") == "1", j + 1,
                      what="RELOADING=1 (fixed config)")
        _, (_, _, fields) = n.wait(ready, i + 1, what="READY=1 (fixed)")
        assert not fields["STATUS"].startswith("Reload failed"), fields
        f.wait_log(r"configuration reloaded \(generation 3\)")
    finally:
        n.close()


def test_status_line_counts_requests_and_workers(tmpdir_path, servers):
    f, n, port = start(tmpdir_path, servers)
    try:
        first, _ = n.wait(ready, what="READY=1")
        for _ in range(30):
            assert http_request(port, "GET", "/hello")[0] == 200
        _, (_, pid, fields) = n.wait(
            lambda x: status(x) and status(x)[2] >= 30 and status(x)[4] > 0,
            first + 1, 15, "a STATUS with the 30 requests")
        active, idle, requests, slow, traffic = status(fields)
        assert pid == f.pid
        assert (active + idle, slow) == (2, 0)
        # some of them over an interval of about 5 s
        assert traffic <= 30 / 4, fields
    finally:
        n.close()


def test_watchdog_pings_at_half_the_interval(tmpdir_path, servers):
    # only WATCHDOG_USEC: with no WATCHDOG_PID it applies to the process
    # that reads it, the master; its workers never ping
    f, n, _ = start(tmpdir_path, servers, env={"WATCHDOG_USEC": "1000000"})
    try:
        n.wait(lambda x: len([y for y in n.all()
                              if y[2].get("WATCHDOG") == "1"]) >= 8,
               what="8 watchdog pings")
        pings = [(t, pid) for t, pid, x in n.all()
                 if x.get("WATCHDOG") == "1"]
        assert {pid for _, pid in pings} == {f.pid}
        gaps = [b[0] - a[0] for a, b in zip(pings, pings[1:])]
        assert 0.4 <= statistics.median(gaps) <= 0.65, gaps
        # never late enough for systemd to kill it
        assert max(gaps) < 1.0, gaps
    finally:
        n.close()


# LISTEN_PID must be fpmd's pid, which only the child knows: this moves
# the passed sockets to fd 3, 4, ... as systemd does, sets the variables
# and becomes fpmd.
ACTIVATE = r"""
import os, sys
fds = [int(x) for x in sys.argv[1].split(",")]
high = [os.dup(fd) for fd in fds]
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)
    os.set_inheritable(3 + i, True)     # dup2 onto itself keeps CLOEXEC
for fd in set(high + fds) - set(range(3, 3 + len(fds))):
    os.close(fd)
os.environ.update(LISTEN_FDS=str(len(fds)), LISTEN_PID=str(os.getpid()))
os.execv(sys.argv[2], sys.argv[2:])
"""


def activate(f, socks):
    """Starts f's fpmd with socks passed as systemd would pass them."""
    need(f.binary, "fpmd")
    fds = [s.fileno() for s in socks]
    f.stderr = open(f.stderr_path, "ab")
    f.proc = subprocess.Popen(
        [sys.executable, "-c", ACTIVATE, ",".join(map(str, fds)), f.binary,
         "-F", "-y", f.conf, "-R"], pass_fds=fds, stdout=f.stderr,
        stderr=f.stderr)
    return f


def listening(address):
    fam = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind(address)
    s.listen(64)
    return s


def test_socket_activation_serves_on_the_passed_sockets(tmpdir_path,
                                                        servers):
    port, own = free_port(), free_port()
    path = os.path.join(tmpdir_path, "www.sock")
    # no SO_REUSEADDR, no SO_REUSEPORT: while these are open, a bind of
    # fpmd's own to either address fails
    tcp, unix = listening(("127.0.0.1", port)), listening(path)
    os.chmod(path, 0o600)
    conf = (CONF.replace("@PORT@", str(port))
            .replace("listen:\n", "listen:\n  - fastcgi: %s\n"
                     "  - http: 127.0.0.1:%d\n" % (path, own)))
    f = Fpmd(tmpdir_path, conf)
    servers.append(f)
    try:
        activate(f, [tcp, unix])
        wait_for(lambda: can_connect(("127.0.0.1", own))
                 or f.proc.poll() is not None, 15, "fpmd's own listener")
        assert f.proc.poll() is None, f.logs()

        def serves():
            return (http_request(port, "GET", "/hello", timeout=5)[0] == 200
                    and fcgi_client.request(path).split()[0] == 200
                    and http_request(own, "GET", "/hello",
                                     timeout=5)[0] == 200)
        assert serves()
        assert "bind()" not in f.log_text()
        # the socket unit's mode stays; fpmd's default would be 0660
        assert os.stat(path).st_mode & 0o777 == 0o600

        f.signal(signal.SIGUSR2)
        f.wait_log(r"configuration reloaded \(generation 2\)")
        assert serves()

        # a config that drops a passed address is refused
        f.write_conf(conf.replace("  - http: 127.0.0.1:%d\n" % port, ""))
        f.signal(signal.SIGUSR2)
        f.wait_log(r"listen 127.0.0.1:%d: the socket systemd passed for it "
                   r"is named by no listener of the new configuration"
                   % port)
        f.wait_log("reload failed, keeping the running configuration")
        assert serves()

        assert f.stop(signal.SIGQUIT) == 0
        # passed sockets stay as the socket unit made them: the path not
        # unlinked, and the test's copies still take connections
        assert can_connect(path) and can_connect(("127.0.0.1", port))
        assert not can_connect(("127.0.0.1", own))
    finally:
        tcp.close()
        unix.close()


def test_a_passed_socket_no_listener_names_fails_the_start(tmpdir_path,
                                                           servers):
    port, other = free_port(), free_port()
    tcp, stray = listening(("127.0.0.1", port)), listening(("127.0.0.1",
                                                            other))
    f = Fpmd(tmpdir_path, CONF.replace("@PORT@", str(port)))
    servers.append(f)
    try:
        activate(f, [tcp, stray])
        assert f.proc.wait(15) == 78
        f.wait_log(r"systemd passed a socket no listener names: fd 4, "
                   r"127\.0\.0\.1:%d \(add its address to listen:, or "
                   r"remove it from the socket unit\)" % other)
    finally:
        tcp.close()
        stray.close()


def test_unit_files_verify(tmpdir_path):
    analyze = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
    need(analyze, "systemd-analyze")
    need(FPMD_BIN, "fpmd")
    # the unit's ExecStart= must exist: the built binary in its place
    for name in ("fpmd.service", "fpmd.socket"):
        with open(os.path.join(TOP, "conf", "systemd", name)) as fh:
            text = fh.read()
        if name == "fpmd.service":
            assert "ExecStart=/usr/sbin/fpmd -F -y /etc/fpmd/fpmd.yaml\n" \
                in text
            text = text.replace("/usr/sbin/fpmd", os.path.abspath(FPMD_BIN))
        with open(os.path.join(tmpdir_path, name), "w") as fh:
            fh.write(text)
    units = [os.path.join(tmpdir_path, n)
             for n in ("fpmd.service", "fpmd.socket")]
    r = subprocess.run([analyze, "verify", *units], capture_output=True,
                       text=True, timeout=60)
    # unknown keys and bad values are only warnings: none may name ours
    ours = [line for line in (r.stdout + r.stderr).splitlines()
            if "fpmd." in line]
    assert (r.returncode, ours) == (0, []), r.stdout + r.stderr


def test_logrotate_file_parses(tmpdir_path):
    need("/usr/sbin/logrotate", "logrotate")
    r = subprocess.run(["/usr/sbin/logrotate", "-d", "-s",
                        os.path.join(tmpdir_path, "state"),
                        os.path.join(TOP, "conf", "logrotate.d", "fpmd")],
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "error" not in out.lower(), out
    assert "/var/log/fpmd/*.log" in out, out

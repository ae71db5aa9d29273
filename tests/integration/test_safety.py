# SPDX-License-Identifier: BSD-2-Clause
"""php-fpm's safety rules, kept or bettered: no worker runs as root unless
told (-R), a unix socket someone still accepts on is never taken over."""

import ctypes
import json
import os
import pwd
import re
import signal
import socket
import subprocess
import sys

import pytest

import fcgi_client as fc
from conftest import (FPMD_BIN, Fpmd, Nginx, base_conf, demo_conf,
                      free_port, http_request, need, read_all, wait_for)


def uids(pid):
    """The real and effective uid and gid of a process."""
    with open("/proc/%d/status" % pid) as f:
        fields = dict(line.split(":", 1) for line in f)
    return (tuple(int(x) for x in fields["Uid"].split()[:2]),
            tuple(int(x) for x in fields["Gid"].split()[:2]))


def hello(addr):
    status, _, body = fc.request(addr, uri="/hello").split()
    return status, body


need_root = pytest.mark.skipif(os.geteuid() != 0,
                               reason="the rule is about a master run as root")


def conf_text(tmp, extra=""):
    port = free_port()
    sock = os.path.join(tmp, "fpmd.sock")
    return base_conf(port, sock, extra), ("127.0.0.1", port)


def refused_start(f, line):
    """Starts f without -R: it exits 78 having said line, then php-fpm's
    FPM initialization failed."""
    f.start(allow_root=False)
    assert f.proc.wait(15) == 78, f.logs()
    log = f.log_text()
    assert line in log, log
    assert "ERROR: FPM initialization failed" in log, log
    assert log.index(line) < log.index("FPM initialization failed")


@need_root
def test_root_without_user_refuses_to_start(tmpdir_path, servers):
    text, _ = conf_text(tmpdir_path)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    refused_start(f, "ALERT: [pool www] user has not been defined")
    # -t says the same, as php-fpm -t does
    out = subprocess.run([FPMD_BIN, "-t", "-y", f.conf], capture_output=True,
                         text=True)
    assert out.returncode == 78
    assert "[pool www] user has not been defined" in out.stderr
    assert "test failed" in out.stderr


@need_root
@pytest.mark.parametrize("who", ["user: root\n",
                                 "user: nobody\ngroup: root\n"])
def test_root_as_user_or_group_refuses_to_start(tmpdir_path, servers, who):
    text, _ = conf_text(tmpdir_path, who)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    refused_start(f, "ERROR: [pool www] please specify user and group other "
                  "than root")


@need_root
def test_unknown_user_is_refused_by_the_master(tmpdir_path, servers):
    text, _ = conf_text(tmpdir_path, "user: no-such-user-fpmd\n")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    refused_start(f, "ERROR: [pool www] cannot get uid for user "
                  "'no-such-user-fpmd'")


@need_root
def test_workers_run_as_the_configured_user(tmpdir_path, servers):
    nobody = pwd.getpwnam("nobody")
    text, addr = conf_text(tmpdir_path, "user: nobody\n")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(addr, allow_root=False)
    want = ((nobody.pw_uid,) * 2, (nobody.pw_gid,) * 2)
    # a worker just forked may still be switching (groups first)
    wait_for(lambda: len(f.workers()) == 2
             and all(uids(pid) == want for pid in f.workers()), 10,
             "two workers running as nobody")
    assert hello(addr) == (200, b"hello world\n")
    assert uids(f.pid)[0] == (0, 0)


@need_root
def test_allow_to_run_as_root_flag(tmpdir_path, servers):
    text, addr = conf_text(tmpdir_path)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(addr, args=["--allow-to-run-as-root"], allow_root=False)
    wait_for(lambda: len(f.workers()) == 2, 10, "two workers")
    assert hello(addr) == (200, b"hello world\n")
    assert all(uids(pid)[0] == (0, 0) for pid in f.workers())


@need_root
def test_reload_to_a_root_config_keeps_serving(tmpdir_path, servers):
    text, addr = conf_text(tmpdir_path, "user: nobody\n")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(addr, allow_root=False)
    old = wait_for(lambda: len(f.workers()) == 2 and f.workers(), 10,
                   "two workers")
    f.write_conf(text.replace("user: nobody\n", ""))
    f.signal(signal.SIGUSR2)
    f.wait_log(r"user has not been defined")
    f.wait_log(r"reload failed, keeping the running configuration")
    assert hello(addr) == (200, b"hello world\n")
    assert sorted(f.workers()) == sorted(old)


def test_embedded_default_config_names_a_user():
    need(FPMD_BIN, "fpmd")
    out = subprocess.run([FPMD_BIN, "-t"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "test is successful" in out.stdout


def listening_unix(path):
    """Something else accepting on path: a plain listening socket."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    return s


def still_accepts(s, path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(5)
        c.connect(path)
        peer, _ = s.accept()
        peer.close()
    return True


def test_unix_socket_of_another_fpmd_is_not_taken(tmpdir_path, servers):
    sock = os.path.join(tmpdir_path, "shared.sock")
    a = Fpmd(tmpdir_path, base_conf(free_port(), sock), "a")
    servers.append(a)
    a.start(sock)
    b = Fpmd(tmpdir_path, base_conf(free_port(), sock), "b")
    servers.append(b)
    b.start()
    assert b.proc.wait(15) == 78, b.logs()
    assert ("listen %s: another process seems to already listen on it"
            % sock) in b.log_text()
    assert "FPM initialization failed" in b.log_text()
    # a keeps its socket: same inode, still answering
    assert hello(sock) == (200, b"hello world\n")


def test_unix_socket_someone_accepts_on_is_not_taken(tmpdir_path, servers):
    sock = os.path.join(tmpdir_path, "other.sock")
    other = listening_unix(sock)
    try:
        inode = os.stat(sock).st_ino
        f = Fpmd(tmpdir_path, base_conf(free_port(), sock))
        servers.append(f)
        f.start()
        assert f.proc.wait(15) == 78, f.logs()
        assert sock in f.log_text() and "already listen" in f.log_text()
        assert os.stat(sock).st_ino == inode
        assert still_accepts(other, sock)
    finally:
        other.close()


def test_stale_unix_socket_file_is_replaced(tmpdir_path, servers):
    sock = os.path.join(tmpdir_path, "stale.sock")
    listening_unix(sock).close()      # the file stays, nobody accepts
    with pytest.raises(ConnectionRefusedError):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.connect(sock)
    port = free_port()
    f = Fpmd(tmpdir_path, base_conf(port, sock))
    servers.append(f)
    f.start(("127.0.0.1", port))
    assert hello(sock) == (200, b"hello world\n")


def test_reload_keeps_its_own_socket_and_refuses_a_taken_one(tmpdir_path,
                                                             servers):
    port = free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    text = base_conf(port, sock)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", port))
    inode = os.stat(sock).st_ino
    # its own socket, now spoken over HTTP: the same descriptor is kept
    f.write_conf(text.replace("- fastcgi: " + sock, "- http: " + sock))
    f.signal(signal.SIGUSR2)
    f.wait_log(r"configuration reloaded \(generation 2\)")
    assert os.stat(sock).st_ino == inode
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(5)
        c.connect(sock)
        c.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close"
                  b"\r\n\r\n")
        assert b"hello world" in read_all(c)
    # a second path, which another server holds: the reload fails
    taken = os.path.join(tmpdir_path, "taken.sock")
    other = listening_unix(taken)
    try:
        f.write_conf(text.replace("listen:\n", "listen:\n  - fastcgi: %s\n"
                                  % taken))
        f.signal(signal.SIGUSR2)
        f.wait_log(r"listen %s: another process seems to already listen "
                   r"on it" % re.escape(taken))
        f.wait_log(r"reload failed, keeping the running configuration")
        assert still_accepts(other, taken)
        assert hello(("127.0.0.1", port)) == (200, b"hello world\n")
    finally:
        other.close()


def test_embedded_default_routes_only_the_minimal_set():
    need(FPMD_BIN, "fpmd")
    out = subprocess.run([FPMD_BIN, "-t", "--routes"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    paths = re.findall(r"(?m)^\S+\s+(/\S*)\s", out.stdout)
    assert sorted(paths) == ["/hello", "/json", "/ping", "/status"], \
        out.stdout


def test_demo_config_adds_probe_and_bench_routes(tmpdir_path, servers):
    port, hport = free_port(), free_port()
    # the pools point at ports nobody listens on: /io-* answer 503
    f = Fpmd(tmpdir_path, demo_conf(port, hport, {
        "cache": "127.0.0.1:%d" % free_port(),
        "db": "127.0.0.1:%d" % free_port()}))
    servers.append(f)
    f.start(("127.0.0.1", hport), allow_root=False)
    status, _, body = http_request(hport, "GET", "/probe?a=1",
                                   headers={"Authorization": "Basic eDp5"})
    assert status == 200
    assert json.loads(body)["headers"]["AUTHORIZATION"] == "Basic eDp5"
    status, _, body = fc.request(("127.0.0.1", port),
                                 uri="/probe?size=5").split()
    assert (status, body) == (200, b"abcde")
    # the knobs are bounded
    for q in ("size=%d" % ((64 << 20) + 1), "sleep_ms=60001"):
        assert http_request(hport, "GET", "/probe?" + q)[0] == 400
    assert http_request(hport, "GET", "/io-fast")[0] == 503
    assert http_request(hport, "GET", "/hello")[2] == b"hello world\n"


LOG_CONF = """pool: www
listen:
  - fastcgi: 127.0.0.1:@PORT@
  - fastcgi: @SOCK@
pm:
  mode: static
  max_children: 1
timeouts:
  slowlog: 100ms
log:
  error: @DIR@/error.log
  slow: @DIR@/slow.log
  access: @DIR@/access.log
  access_format: '%R "%m %r%Q%q" %s %f "%{HTTP_X_EVIL}e"'
routes:
  - match: "*"
    handler: probe
"""

ERROR_LINE = re.compile(rb"\[\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d\] "
                        rb"(DEBUG|NOTICE|WARNING|ERROR|ALERT): \S")
ACCESS_LINE = re.compile(rb'127\.0\.0\.1 "GET /.*" 200 /.* ".*"')
SLOW_LINES = [re.compile(rb""),
              re.compile(rb"\[\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d\]  \[pool www\] "
                         rb"pid \d+"),
              re.compile(rb"script_filename = /.*"),
              re.compile(rb"route = probe"),
              re.compile(rb'request = "GET /.*"')]


def log_lines(path):
    """The log's lines; each must hold nothing but printable ASCII."""
    with open(path, "rb") as f:
        data = f.read()
    assert data.endswith(b"\n"), data
    lines = data[:-1].split(b"\n")
    for line in lines:
        assert all(0x20 <= b < 0x7f for b in line), line
    return lines


def test_request_bytes_cannot_forge_log_lines(tmpdir_path, servers):
    """Bytes that nginx decodes into SCRIPT_NAME / SCRIPT_FILENAME (%0A,
    %0D, %1B), a header value with control bytes, and a raw FastCGI client's
    params with newlines: every log keeps one line per line it means to
    write, and no control byte."""
    port = free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    f = Fpmd(tmpdir_path, LOG_CONF.replace("@PORT@", str(port))
             .replace("@SOCK@", sock))
    servers.append(f)
    f.start(("127.0.0.1", port))
    nginx = Nginx(tmpdir_path, port, sock)
    servers.append(nginx)
    # nginx's .php location runs try_files: the script must exist
    open(os.path.join(nginx.dir, "www", "a\nb\r\x1bc.php"), "w").close()
    nginx.start()
    web = nginx.ports[("tcp", False)]
    sent = 0
    for path, evil in (("/index.php", "plain"),
                       ("/a%0Ab%0D%1Bc.php", "v\x1b[2J\x7f\xe9"),
                       ("/x%0A%5B05-Dec-2026%2000:00:00%5D%20ALERT:%20forged",
                        "a\tb")):
        status, _, body = http_request(web, "GET", path + "?sleep_ms=300",
                                       headers={"X-Evil": evil})
        assert status == 200, body
        sent += 1
    # a client speaking FastCGI itself sends any byte in any param
    r = fc.request(("127.0.0.1", port), uri="/r?sleep_ms=300", extra={
        "REQUEST_URI": "/r\n[05-Dec-2026 00:00:00] ALERT: forged\r?x",
        "SCRIPT_NAME": "/r\nforged",
        "SCRIPT_FILENAME": "/srv/r\n\x1b[2Jforged",
        "REQUEST_METHOD": "GET",
        "HTTP_X_EVIL": "line\nforged\x00"})
    assert r.split()[0] == 200
    sent += 1
    access = os.path.join(f.dir, "access.log")
    wait_for(lambda: os.path.exists(access)
             and open(access, "rb").read().count(b"\n") >= sent, 10,
             "every request in the access log")

    lines = log_lines(access)
    assert len(lines) == sent, lines
    assert all(ACCESS_LINE.fullmatch(line) for line in lines), lines
    assert b"/a\\x0Ab\\x0D\\x1Bc.php" in lines[1]
    assert b'"v\\x1B[2J\\x7F\\xE9"' in lines[1], lines[1]

    lines = log_lines(os.path.join(f.dir, "slow.log"))
    assert len(lines) == len(SLOW_LINES) * sent, lines
    for i, line in enumerate(lines):
        assert SLOW_LINES[i % len(SLOW_LINES)].fullmatch(line), lines
    assert b"script_filename = /srv/r\\x0A\\x1B[2Jforged" in lines

    lines = log_lines(f.error_log)
    assert all(ERROR_LINE.match(line) for line in lines), lines
    slow = [line for line in lines if b"executing too slow" in line]
    assert len(slow) == sent, lines
    assert any(b"/r\\x0A[05-Dec-2026 00:00:00] ALERT: forged\\x0D?x" in line
               for line in slow), slow


SWAPPER = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
print("ready", flush=True)
while True:
    # RENAME_EXCHANGE: the directory and the symlink trade names at once
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        sys.exit("renameat2: %s" % os.strerror(ctypes.get_errno()))
"""


def no_openat2():
    """A seccomp filter answering openat2 with ENOSYS, as a kernel before
    5.6 does (inherited by the exec'd fpmd and its workers)."""
    import platform
    import struct
    arch = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}[platform.machine()]

    def insn(code, jt, jf, k):
        return struct.pack("HBBI", code, jt, jf, k)
    prog = b"".join([
        insn(0x20, 0, 0, 4),            # ld arch
        insn(0x15, 0, 3, arch),         # jeq arch, else allow
        insn(0x20, 0, 0, 0),            # ld nr
        insn(0x15, 0, 1, 437),          # jeq __NR_openat2
        insn(0x06, 0, 0, 0x00050000 | 38),  # ret ERRNO(ENOSYS)
        insn(0x06, 0, 0, 0x7fff0000),   # ret ALLOW
    ])
    buf = ctypes.create_string_buffer(prog)

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(38, 1, 0, 0, 0) != 0:         # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) != 0:  # SECCOMP_FILTER
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


@pytest.mark.parametrize("kernel", ["openat2", "walk"])
def test_static_never_serves_outside_the_root_under_a_swap_race(
        tmpdir_path, servers, kernel):
    """A directory under the root and a symlink to outside it trade places
    in a loop while requests run: each answer is the file inside, or a
    refusal; the file outside is never served."""
    import http.client
    import threading
    www = os.path.join(tmpdir_path, "www")
    os.makedirs(os.path.join(www, "d"))
    os.makedirs(os.path.join(tmpdir_path, "outside"))
    with open(os.path.join(www, "d", "f.txt"), "w") as fh:
        fh.write("inside\n")
    with open(os.path.join(tmpdir_path, "outside", "f.txt"), "w") as fh:
        fh.write("SECRET\n")
    os.symlink("../outside", os.path.join(www, "s"))
    port, hport = free_port(), free_port()
    text = base_conf(port, os.path.join(tmpdir_path, "fpmd.sock")).replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1).replace(
        "routes:\n", "routes:\n  - match: GET /static/*\n"
        "    static: { root: %s }\n" % www, 1)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", hport),
            preexec=no_openat2 if kernel == "walk" else None)
    swapper = subprocess.Popen([sys.executable, "-c", SWAPPER,
                                os.path.join(www, "d"),
                                os.path.join(www, "s")],
                               stdout=subprocess.PIPE)
    answers = {}
    lock = threading.Lock()

    def client():
        c = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
        seen = {}
        for _ in range(1500):
            c.request("GET", "/static/d/f.txt")
            r = c.getresponse()
            body = r.read()
            key = (r.status, body if r.status == 200 or b"SECRET" in body
                   else b"")
            seen[key] = seen.get(key, 0) + 1
        c.close()
        with lock:
            for k, v in seen.items():
                answers[k] = answers.get(k, 0) + v
    try:
        assert swapper.stdout.readline() == b"ready\n"
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        swapper.kill()
        swapper.wait()
    assert not any(b"SECRET" in body for _, body in answers), answers
    # both states were met: the race ran
    assert answers.get((200, b"inside\n"), 0) > 0, answers
    assert answers.get((403, b""), 0) > 0, answers
    assert set(answers) <= {(200, b"inside\n"), (403, b""), (404, b"")}, \
        answers


def get_values(addr):
    c = fc.Conn(addr)
    try:
        c.send(fc.record(fc.GET_VALUES, 0, fc.encode_pairs(
            [("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""),
             ("FCGI_MPXS_CONNS", "")])))
        (rtype, content), = c.wait_management(1)
        assert rtype == fc.GET_VALUES_RESULT
        return fc.decode_pairs(content)
    finally:
        c.close()


def multiplex(addr, n):
    """n requests at once on one connection, each sleeping long enough
    that all are in flight together: {id: (protocol status, HTTP
    status)}."""
    c = fc.Conn(addr)
    try:
        c.send(b"".join(fc.request_bytes(i, fc.cgi_params(
            uri="/probe?sleep_ms=300&i=%d" % i), keep_conn=True)
            for i in range(1, n + 1)))
        out = {}
        for i, r in enumerate(c.wait(list(range(1, n + 1))), 1):
            out[i] = (r.protocol_status,
                      r.split()[0] if r.protocol_status == fc.REQUEST_COMPLETE
                      else None)
        return out
    finally:
        c.close()


@pytest.mark.parametrize("extra,values,accepted,refusal", [
    # the defaults: a connection is refused past 128, whatever
    # pm.max_concurrency (1024) would run
    ("", {"FCGI_MAX_CONNS": "4096", "FCGI_MAX_REQS": "128",
          "FCGI_MPXS_CONNS": "1"}, 128, fc.OVERLOADED),
    ("limits: { fastcgi_requests: 3, connections: 50 }\n"
     "pm:\n  mode: static\n  max_children: 1\n  max_concurrency: 2\n",
     {"FCGI_MAX_CONNS": "50", "FCGI_MAX_REQS": "2", "FCGI_MPXS_CONNS": "1"},
     3, fc.OVERLOADED),
    ("limits: { fastcgi_requests: 1 }\n",
     {"FCGI_MAX_CONNS": "4096", "FCGI_MAX_REQS": "1",
      "FCGI_MPXS_CONNS": "0"}, 1, fc.CANT_MPX_CONN),
])
def test_get_values_tells_what_is_enforced(tmpdir_path, servers, extra,
                                           values, accepted, refusal):
    port = free_port()
    text = base_conf(port, os.path.join(tmpdir_path, "fpmd.sock"))
    if "pm:" in extra:
        text = text.replace("pm:\n  mode: static\n  max_children: 2\n", "")
    f = Fpmd(tmpdir_path, text + extra)
    servers.append(f)
    f.start(("127.0.0.1", port))
    addr = ("127.0.0.1", port)
    assert get_values(addr) == values
    # what the answer says is what a connection gets: that many at once
    # are served, one more is refused
    out = multiplex(addr, accepted + 1)
    assert [out[i] for i in range(1, accepted + 1)] == \
        [(fc.REQUEST_COMPLETE, 200)] * accepted, out
    assert out[accepted + 1] == (refusal, None), out

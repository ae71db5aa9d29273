# SPDX-License-Identifier: BSD-2-Clause
"""The legacy pass-through: real nginx → fpmd (match "*", to: legacy) →
real php-fpm 8.2, against real nginx → php-fpm directly, for the same
requests. The client must not see the difference: status, body bytes and
headers (Date left out) are compared; a body goes up and a large answer
comes down without either sitting whole in fpmd."""

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import threading
import time

import pytest

import fcgi_client as fc
from backends import (NginxFront, PhpFpm, no_worker_died,  # noqa: F401
                      start_fpmd, wait_backend)
from conftest import connects_to, free_port, wait_for, wait_taken

PROBE = r"""<?php
if (isset($_GET['nap'])) usleep((int)$_GET['nap'] * 1000);
if (isset($_GET['status'])) http_response_code((int)$_GET['status']);
header('X-Probe: 1');
setcookie('a', '1');
setcookie('b', '2');
if (isset($_GET['stderr'])) error_log('probe stderr line');
if (isset($_GET['bighead'])) header('X-Big: ' . str_repeat('h', (int)$_GET['bighead']));
if (isset($_GET['slow'])) {
    echo "start\n";
    flush();
    // "start" is out: say so where the test can see it
    if (isset($_GET['tag']))
        file_put_contents(__DIR__ . '/../run/' . $_GET['tag'], getmypid());
    sleep(5);
    echo "end\n";
    exit;
}
if (isset($_GET['size'])) {
    header('Content-Type: text/plain');
    $chunk = str_repeat('abcdefghijklmnopqrstuvwxyz', 2521);
    for ($left = (int)$_GET['size']; $left > 0; $left -= strlen($chunk))
        echo substr($chunk, 0, min($left, strlen($chunk)));
    exit;
}
$body = file_get_contents('php://input');
header('Content-Type: application/json');
echo json_encode(['method' => $_SERVER['REQUEST_METHOD'],
    'uri' => $_SERVER['REQUEST_URI'], 'query' => $_SERVER['QUERY_STRING'],
    'script' => $_SERVER['SCRIPT_NAME'],
    'path_info' => $_SERVER['PATH_INFO'] ?? null,
    'ctype' => $_SERVER['CONTENT_TYPE'] ?? null,
    'clen' => $_SERVER['CONTENT_LENGTH'] ?? null,
    'header' => $_SERVER['HTTP_X_TRACE'] ?? null,
    'post' => $_POST, 'files' => array_map(fn($f) => $f['size'], $_FILES),
    'len' => strlen($body), 'sha' => hash('sha256', $body)]);
"""

# Writes its own pid where the test can find the child serving it, then
# sleeps: before any output, or after a head and some body went out.
DIES = r"""<?php
file_put_contents(__DIR__ . '/../run/' . $_GET['tag'], getmypid());
if (isset($_GET['early'])) { sleep(30); exit; }
header('Content-Type: text/plain');
echo str_repeat('x', 1000), "\n";
while (ob_get_level()) ob_end_flush();
flush();
sleep(30);
echo "end\n";
"""

# Heads PHP writes itself: no status set; names in any case, repeated,
# blanks around a value; cookies three ways.
PLAIN = "<?php echo \"plain\\n\";\n"

HEADERS = r"""<?php
header('x-lower: a');
header('X-Rep: 1', false);
header('X-Rep: 2', false);
header('X-MiXeD-CaSe:   spaced  ');
setcookie('a', '1');
setcookie('b', '2', ['path' => '/x', 'httponly' => true]);
header('Set-Cookie: c=3', false);
echo "headers\n";
"""

# STDERR before the head, between two pieces of body, and at the end:
# error_log() with no error_log set goes to php-fpm's SAPI logger, a
# warning too (log_errors).
STDERR = r"""<?php
error_log('first ' . ($_GET['tag'] ?? ''));
echo str_repeat('a', 20000);
error_log("second\nline");
echo $undefined;
echo str_repeat('b', 100);
error_log('third');
"""

# What PHP sees of the request.
SERVER_DUMP = r"""<?php
header('Content-Type: application/json');
echo json_encode($_SERVER);
"""

SCRIPTS = {"probe.php": PROBE, "dies.php": DIES, "plain.php": PLAIN,
           "headers.php": HEADERS, "stderr.php": STDERR,
           "server.php": SERVER_DUMP}

SERVER = """
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location ~ \\.php(/|$) {{
            fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $fastcgi_path_info;
            {keep}
            fastcgi_pass {upstream};
        }}
    }}
"""


def start_legacy_fpmd(tmp, servers, legacy_yaml):
    """fpmd-test with legacy_yaml and every request routed to legacy:
    (fpmd, its HTTP port, its FastCGI port)."""
    f, hport, fport = start_fpmd(tmp, servers, legacy_yaml)
    text = open(f.conf).read().replace(
        "routes:\n", "routes:\n  - match: \"*\"\n    to: legacy\n", 1)
    f.stop()
    f.write_conf(text)
    f.start(("127.0.0.1", fport))
    return f, hport, fport


@pytest.fixture(params=["tcp", "unix"])
def sides(request, tmpdir_path, servers):
    """php-fpm, fpmd in front of it, and nginx with a server straight to
    php-fpm and servers to fpmd (keep-conn off and on); over TCP or unix
    sockets on both hops, fpmd keeping its connections to php-fpm over
    TCP."""
    unix = request.param == "unix"
    php = PhpFpm(tmpdir_path, SCRIPTS, unix=unix).start()
    servers.append(php)
    # over TCP, connections to php-fpm are kept (its 2 children, one per
    # connection); over unix sockets, one per request
    f, hport, fport = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: {}
  timeout: 3s
  wait_timeout: 1s
  document_root: {}
  {}
""".format(php.address, php.www, "keep_alive: false" if unix
           else "max: 2"))
    fpmd_addr = ("unix:" + os.path.join(tmpdir_path, "fpmd.sock") if unix
                 else "127.0.0.1:%d" % fport)
    ports = {name: free_port() for name in ("direct", "fpmd", "fpmd_keep")}
    servers_conf = "".join(SERVER.format(
        port=ports[name], www=php.www,
        keep="fastcgi_keep_conn on;" if name == "fpmd_keep" else "",
        upstream=php.nginx_address if name == "direct"
        else "fpmd" if name == "fpmd_keep" else fpmd_addr)
        for name in ports)
    servers.append(NginxFront(tmpdir_path, fpmd_addr, servers_conf).start(
        ports.values()))
    return ports, f, hport


def fetch(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    hdrs = [(k.lower(), v) for k, v in r.getheaders()
            if k.lower() not in ("date", "connection", "keep-alive")]
    c.close()
    return r.status, hdrs, data


def failure_logged(f, request, rid, what):
    """The one line that says how the pass-through of request ("GET /x")
    with id rid failed: what matches its tail. Waited for, as the client
    may see the failure before the line is written."""
    line = (r"WARNING: \[pool www\] %s: legacy legacy \(route /\*, request "
            r"id %s\): " % (re.escape(request), rid))
    wait_for(lambda: re.search(line + what, f.log_text(), re.M), 10,
             "log line " + line + what)
    assert f.log_text().count("request id %s)" % rid) == 1, f.logs()


CASES = [
    ("GET", "/probe.php?a=1&b=%20x", None, {}),
    ("GET", "/probe.php/extra/path?x=1", None, {"X-Trace": "abc"}),
    ("POST", "/probe.php", b"k=v&x=" + b"y" * 1000,
     {"Content-Type": "application/x-www-form-urlencoded"}),
    ("POST", "/probe.php", os.urandom(1 << 20),
     {"Content-Type": "application/octet-stream"}),
    ("POST", "/probe.php", os.urandom(8 << 20),
     {"Content-Type": "application/octet-stream"}),
    ("PUT", "/probe.php", b"", {}),
    ("HEAD", "/probe.php?size=5000", None, {}),
    ("GET", "/probe.php?status=204", None, {}),
    ("GET", "/probe.php?status=301", None, {}),
    ("GET", "/probe.php", None, {"Cookie": "c=" + "k" * 6000}),
    ("GET", "/probe.php?status=404", None, {}),
    ("GET", "/probe.php?status=201&stderr=1", None, {}),
    ("GET", "/probe.php?status=500", None, {}),
    ("GET", "/missing.php", None, {}),
    ("GET", "/probe.php?size=1048576", None, {}),
    ("GET", "/probe.php?size=16777216", None, {}),
    ("GET", "/probe.php?bighead=2000", None, {}),
    ("GET", "/probe.php?bighead=20000", None, {}),    # nginx: too big, 502
    ("GET", "/probe.php", None, {"X-H%d" % i: "v" * 100 for i in range(60)}),
    ("POST", "/probe.php", (
        b"--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
        b"--XYZ\r\nContent-Disposition: form-data; name=\"f\"; "
        b"filename=\"f.bin\"\r\nContent-Type: application/octet-stream"
        b"\r\n\r\n" + b"\0\1\2" * 3000 + b"\r\n--XYZ--\r\n"),
     {"Content-Type": "multipart/form-data; boundary=XYZ"}),
]



@pytest.mark.parametrize("via", ["fpmd", "fpmd_keep"])
def test_answers_through_fpmd_match_php_fpm_directly(sides, via):
    ports, f, _ = sides
    for method, path, body, headers in CASES:
        direct = fetch(ports["direct"], method, path, body, headers)
        through = fetch(ports[via], method, path, body, headers)
        assert through[0] == direct[0], (method, path, through[0])
        assert through[1] == direct[1], (method, path)
        assert hashlib.sha256(through[2]).digest() == hashlib.sha256(
            direct[2]).digest(), (method, path, through[2][:200])
    # php-fpm's stderr lines are logged with the request they came with
    assert re.search(r"GET /probe.php\?status=201&stderr=1: legacy stderr "
                     r"\(route /\*, request id [0-9a-f]{32}\): .*probe "
                     r"stderr line", f.log_text()), f.log_text()[-2000:]


def test_standalone_http_requests_reach_php_fpm_like_nginx_sends_them(
        sides):
    """fpmd's own HTTP listener, no web server in front: document_root
    gives php-fpm the script nginx would name, and a chunked body is read
    whole and sent with its length. PHP sees what it sees through nginx."""
    ports, f, hport = sides

    def chunks(data):
        for i in range(0, len(data), 1000):
            yield data[i:i + 1000]

    def ask(port, method, path, body=None, headers=None, chunked=False):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request(method, path, body=chunks(body) if chunked else body,
                  headers=headers or {}, encode_chunked=chunked)
        r = c.getresponse()
        out = (r.status, r.read())
        c.close()
        return out

    form = b"k=v&x=" + b"y" * 3000
    ctype = {"Content-Type": "application/x-www-form-urlencoded"}
    for method, path, body, headers, chunked in [
            ("GET", "/probe.php?a=1&b=%20x", None, {}, False),
            ("GET", "/probe.php/extra/path?x=1", None, {"X-Trace": "t"},
             False),
            ("POST", "/probe.php", form, ctype, False),
            ("POST", "/probe.php", form, ctype, True),
            ("PUT", "/probe.php", os.urandom(100000), {}, True),
            ("GET", "/probe.php?status=201", None, {}, False),
            ("GET", "/missing.php", None, {}, False)]:
        direct = ask(ports["direct"], method, path, body, headers, chunked)
        alone = ask(hport, method, path, body, headers, chunked)
        assert alone == direct, (method, path, alone[:1], alone[1][:300])


def test_standalone_repeated_header_reaches_php_fpm_joined(sides):
    """A header on two lines is one CGI param, joined as nginx 1.23+ joins
    it: PHP sees the value fpmd's own handlers see."""
    _, _, hport = sides
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=30)
    c.putrequest("GET", "/probe.php")
    c.putheader("X-Trace", "a")
    c.putheader("X-Trace", "b")
    c.endheaders()
    r = c.getresponse()
    status, body = r.status, r.read()
    c.close()
    assert status == 200 and json.loads(body)["header"] == "a, b"


def test_a_streamed_body_without_length_reaches_php_fpm_as_sent(
        sides, servers):
    """What nginx sends for a chunked client body with
    fastcgi_request_buffering off: no CONTENT_LENGTH, STDIN records as the
    body arrives. (Through nginx itself, whether it buffers such a body
    depends on timing, so nginx is left out here.) fpmd forwards the
    records as they come: PHP answers exactly as when they go to php-fpm
    directly."""
    import fcgi_client
    ports, f, _ = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    fpmd_addr = ("127.0.0.1", int(re.search(
        r"fastcgi: 127.0.0.1:(\d+)", open(f.conf).read()).group(1)))
    php_addr = php.sock or ("127.0.0.1", php.port)
    params = fcgi_client.cgi_params("POST", "/probe.php", extra={
        "SCRIPT_FILENAME": os.path.join(php.www, "probe.php"),
        "DOCUMENT_ROOT": php.www, "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_TYPE": "application/octet-stream"})
    del params["CONTENT_LENGTH"]
    pieces = [os.urandom(3000), os.urandom(70000), b"end"]

    def ask(address):
        c = fcgi_client.Conn(address)
        try:
            c.send(fcgi_client.begin(1) + fcgi_client.stream(
                fcgi_client.PARAMS, 1,
                fcgi_client.encode_pairs(params.items())))
            for piece in pieces:
                time.sleep(0.2)     # apart, as a streamed body comes
                c.send(fcgi_client.stream(fcgi_client.STDIN, 1, piece)[:-8])
            c.send(fcgi_client.record(fcgi_client.STDIN, 1))
            (r,) = c.wait([1])
            return r.split()[0], r.split()[2]
        finally:
            c.close()

    direct, through = ask(php_addr), ask(fpmd_addr)
    assert through == direct, (through[0], through[1][:300])


def test_php_fpm_gone_is_a_clear_error_and_comes_back(sides, servers):
    ports, f, hport = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    assert fetch(ports["fpmd"], "GET", "/probe.php")[0] == 200
    php.stop()
    t0 = time.time()
    status, _, _ = fetch(ports["fpmd"], "GET", "/probe.php",
                         headers={"X-Request-Id": "gone"})
    # refused at once: well before the legacy timeout (3 s)
    assert status in (502, 503) and time.time() - t0 < 2.5
    failure_logged(f, "GET /probe.php", "gone",
                   r".*, before any answer: the client gets a %d$" % status)
    php.start()
    wait_for(lambda: fetch(ports["fpmd"], "GET", "/probe.php")[0] == 200,
             10, "legacy back")
    wait_backend(hport, "legacy", lambda b: b["errors"] >= 1)


def test_a_reloads_finishing_worker_gives_php_fpm_its_children_back(
        tmpdir_path, servers):
    """php-fpm serves one kept connection per child: with fpmd holding a
    connection to each of its two, a reload's old worker, still finishing
    a slow request, must close its idle ones at once (as an exiting nginx
    worker does), or the new worker's requests wait in php-fpm's backlog
    until the old one is gone."""
    php = PhpFpm(tmpdir_path, SCRIPTS).start()
    servers.append(php)
    f, hport, _ = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: {}
  max: 2
  timeout: 20s
  wait_timeout: 20s
  document_root: {}
""".format(php.address, php.www))
    # the old worker says when it starts to finish (and stops accepting)
    text = open(f.conf).read().replace("log:\n", "log:\n  level: debug\n", 1)
    f.stop()
    f.write_conf(text)
    f.start(("127.0.0.1", hport))
    warm = [threading.Thread(target=fetch, args=(
        hport, "GET", "/probe.php?nap=300")) for _ in range(2)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    assert len(connects_to(php.port)) == 2
    slow = []
    t = threading.Thread(target=lambda: slow.append(fetch(
        hport, "GET", "/fault/spin?after_ms=6000&ms=0")[0]))
    t.start()
    wait_taken(hport)
    old = f.workers()
    f.signal(signal.SIGUSR2)
    f.wait_log(r"worker %d finishing" % old[0])
    t0 = time.time()
    status, _, body = fetch(hport, "GET", "/probe.php")
    took = time.time() - t0
    assert status == 200 and took < 3, (status, took, body)
    assert old[0] in f.workers(), "the old worker is still finishing"
    t.join()
    assert slow == [200]


def test_php_fpm_at_max_children_is_a_bounded_wait(sides, servers):
    """Both children busy: kept-alive connections (TCP) are all lent, so
    the next request waits for one in fpmd's queue, wait_timeout (1 s),
    then gets a 503; a connection per request (unix) waits in php-fpm's
    backlog until the legacy timeout (3 s of silence): a 504."""
    ports, f, _ = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    run_dir(php)
    unix = "keep_alive: false" in open(f.conf).read()
    done = []

    def slow(tag):
        done.append(fetch(ports["fpmd"], "GET", "/probe.php?slow=1&tag="
                          + tag)[0])

    threads = [threading.Thread(target=slow, args=("busy%d" % i,))
               for i in range(2)]
    for t in threads:
        t.start()
    # both children in the script
    pids = {serving_child(php, "busy%d" % i) for i in range(2)}
    assert len(pids) == 2
    t0 = time.time()
    status, _, body = fetch(ports["fpmd"], "GET", "/probe.php",
                            headers={"X-Request-Id": "busy"})
    took = time.time() - t0
    if unix:
        assert status == 504 and 2.5 < took < 8, (status, took, body)
        failure_logged(f, "GET /probe.php", "busy",
                       r"no reply from legacy within timeout \(3000 ms\), "
                       r"before any answer: the client gets a 504$")
    else:
        assert status == 503 and 0.8 < took < 5, (status, took, body)
        failure_logged(f, "GET /probe.php", "busy",
                       r"no connection to legacy within wait_timeout "
                       r"\(1000 ms\), before any answer: the client gets "
                       r"a 503$")
    for t in threads:
        t.join()
    # the two slow ones are silent for 5 s after their first line
    assert done == [504, 504]
    wait_for(lambda: fetch(ports["fpmd"], "GET", "/probe.php")[0] == 200, 10,
             "children free again")


def test_paused_backend_times_out_and_a_killed_child_fails_one_request(
        sides, servers):
    from backends import stop_process
    ports, f, _ = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    procs = [php.proc.pid] + php.children()
    for pid in procs:
        stop_process(pid)
    try:
        t0 = time.time()
        status, _, _ = fetch(ports["fpmd"], "GET", "/probe.php",
                             headers={"X-Request-Id": "paused"})
        # at the legacy timeout (3 s), not at the client's own (30 s)
        assert status == 504 and 2.5 < time.time() - t0 < 10
    finally:
        for pid in procs:
            os.kill(pid, signal.SIGCONT)
    failure_logged(f, "GET /probe.php", "paused",
                   r"no reply from legacy within timeout \(3000 ms\), before "
                   r"any answer: the client gets a 504$")
    wait_for(lambda: fetch(ports["fpmd"], "GET", "/probe.php")[0] == 200, 10,
             "legacy answers again")
    run_dir(php)
    result = {}

    def slow():
        result["r"] = fetch(ports["fpmd"], "GET",
                            "/probe.php?slow=1&tag=killed")

    t = threading.Thread(target=slow)
    t.start()
    serving_child(php, "killed")    # "start" is out, the child sleeps
    for pid in php.children():
        os.kill(pid, signal.SIGKILL)
    t.join()
    assert result["r"][2] != b"start\nend\n"    # never passed off as whole
    wait_for(lambda: fetch(ports["fpmd"], "GET", "/probe.php")[0] == 200, 10,
             "the next request is served")


def serving_child(php, tag):
    """The pid of the php-fpm child running dies.php?tag=TAG, which it
    writes first thing."""
    path = os.path.join(php.dir, "run", tag)

    def pid():
        try:
            with open(path) as fh:
                return int(fh.read() or 0)
        except (OSError, ValueError):
            return 0
    return wait_for(pid, 10, "dies.php to write its pid")


def run_dir(php):
    d = os.path.join(php.dir, "run")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o777)      # php-fpm's children may run as www-data


# A child's death before END_REQUEST: php-fpm closes the connection, or
# resets it when the request's STDIN end is still unread.
LOST = r"connection lost: (closed|reset) by the backend before END_REQUEST, "


@pytest.mark.parametrize("via", ["http", "fpmd_keep"])
def test_a_child_killed_mid_answer_cuts_it_short_and_is_logged(
        sides, servers, via):
    """The head and some body went out when php-fpm's child dies: the
    client's answer ends without its end (no last chunk, straight from
    fpmd's HTTP or from nginx, told over FastCGI by a close before
    END_REQUEST), and the log says so with the route, the request id and
    the URI."""
    ports, f, hport = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    run_dir(php)
    tag = "mid-" + via
    port = hport if via == "http" else ports[via]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/dies.php?tag=" + tag, headers={"X-Request-Id": tag})
    r = c.getresponse()
    assert r.status == 200
    assert r.read(1001) == b"x" * 1000 + b"\n"
    os.kill(serving_child(php, tag), signal.SIGKILL)
    with pytest.raises(http.client.IncompleteRead):
        r.read()
    c.close()
    failure_logged(f, "GET /dies.php?tag=" + tag, tag,
                   LOST + r"after \d+ bytes of answer: the client's answer "
                   r"is cut short$")
    wait_for(lambda: fetch(port, "GET", "/probe.php")[0] == 200, 10,
             "the next request is served")


@pytest.mark.parametrize("via", ["http", "fpmd_keep"])
def test_a_child_killed_before_any_answer_is_a_502_and_logged(
        sides, servers, via):
    """Killed while its script sleeps before any output: the client gets
    a 502, and the log says nothing of the answer had come."""
    ports, f, hport = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    run_dir(php)
    tag = "early-" + via
    result = {}

    def ask():
        result["r"] = fetch(hport if via == "http" else ports[via], "GET",
                            "/dies.php?early=1&tag=" + tag,
                            headers={"X-Request-Id": tag})

    t = threading.Thread(target=ask)
    t.start()
    os.kill(serving_child(php, tag), signal.SIGKILL)
    t.join()
    assert result["r"][0] == 502
    failure_logged(f, "GET /dies.php?early=1&tag=" + tag, tag,
                   LOST + r"before any answer: the client gets a 502$")


@pytest.mark.parametrize("via", ["http", "fpmd_keep"])
def test_a_client_that_leaves_before_any_answer_is_logged_499(
        sides, servers, via):
    """The client goes while the script sleeps before any output: fpmd's
    access log says 499, as nginx's does, and no failure of php-fpm is
    logged; a 502 there would send an operator after the backend."""
    ports, f, hport = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    run_dir(php)
    access = os.path.join(f.dir, "access.log")
    text = open(f.conf).read().replace(
        "log:\n", "log:\n  access: %s\n" % access, 1)
    f.stop()
    f.write_conf(text)
    f.start(("127.0.0.1", hport))
    tag = "gone-" + via
    c = socket.create_connection(
        ("127.0.0.1", hport if via == "http" else ports[via]), timeout=10)
    c.sendall(("GET /dies.php?early=1&tag=%s HTTP/1.1\r\nHost: x\r\n"
               "X-Request-Id: %s\r\n\r\n" % (tag, tag)).encode())
    child = serving_child(php, tag)
    c.close()

    def line():
        try:
            with open(access) as fh:
                return [x for x in fh if "/dies.php" in x]
        except FileNotFoundError:
            return []
    logged = wait_for(line, 10, "the request's access log line")
    assert len(logged) == 1 and logged[0].rstrip().endswith('" 499'), logged
    assert "request id %s)" % tag not in f.log_text(), f.logs()
    os.kill(child, signal.SIGKILL)
    wait_for(lambda: fetch(hport, "GET", "/probe.php")[0] == 200, 10,
             "the next request is served")


def test_php_fpm_refusing_connections_is_a_503_for_each_request_logged(
        tmpdir_path, servers):
    """Nothing listens: every request gets its 503 and its own line, on
    top of the pool's one line about the server."""
    port = free_port()
    f, hport, _ = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: 127.0.0.1:%d
  document_root: /srv
""" % port)
    for rid in ("refused-1", "refused-2"):
        assert fetch(hport, "GET", "/x.php",
                     headers={"X-Request-Id": rid})[0] == 503
        failure_logged(f, "GET /x.php", rid, r"127.0.0.1:%d(: Connection "
                       r"refused| is down \(retry in \d+ ms\)), before any "
                       r"answer: the client gets a 503$" % port)
    assert f.log_text().count("pool legacy: 127.0.0.1:%d: Connection "
                              "refused" % port) == 1


class FakePhpFpm:
    """A FastCGI server for what php-fpm does not send: serve(conn) answers
    each connection once the request's records are in, then the
    connection closes when fpmd closes it."""

    def __init__(self, serve):
        self.serve = serve
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return      # stopped
            with conn:
                try:
                    self._answer(conn)
                except OSError:
                    pass    # fpmd gave up first: its test says so

    def _answer(self, conn):
        conn.settimeout(10)
        buf = b""
        # the request ends with an empty STDIN record
        while fc.record(fc.STDIN, 1) not in buf:
            more = conn.recv(65536)
            if not more:
                return
            buf += more
        self.serve(conn)
        while conn.recv(65536):     # until fpmd closes
            pass

    def stop(self):
        self.sock.shutdown(socket.SHUT_RDWR)    # wakes the accept()
        self.sock.close()
        self.thread.join(15)

    def logs(self):
        return ""


END = fc.record(fc.END_REQUEST, 1, struct.pack(">IB3x", 0,
                                                fc.REQUEST_COMPLETE))

# What php-fpm never sends, and the line each gets.
BROKEN = [
    (fc.record(fc.STDOUT, 1, b"Status: 200\r\n\r\n", version=2),
     r"connection lost: protocol error: unsupported record version, before "
     r"any answer"),
    (fc.stream(fc.STDOUT, 1, b"Status: 20x\r\n\r\n") + END,
     r"the backend sent an invalid head: a Status that is not a 3-digit "
     r"code, after 15 bytes of answer"),
    (fc.stream(fc.STDOUT, 1, b"Content-Type: text/plain\r\n") + END,
     r"the backend sent no complete head, after 26 bytes of answer"),
]


@pytest.mark.parametrize("answer,what", BROKEN,
                         ids=["version", "head", "no-head"])
def test_a_broken_answer_is_a_502_and_logged(tmpdir_path, servers, answer,
                                             what):
    fake = FakePhpFpm(lambda conn: conn.sendall(answer))
    servers.append(fake)
    f, hport, _ = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: %s
  keep_alive: false
  document_root: /srv
""" % fake.address)
    assert fetch(hport, "GET", "/x.php",
                 headers={"X-Request-Id": "broken"})[0] == 502
    failure_logged(f, "GET /x.php", "broken",
                   what + r": the client gets a 502$")


def test_an_answer_is_whole_at_end_request_not_at_the_end_of_stdout(
        tmpdir_path, servers):
    """STDOUT's end and END_REQUEST may come in two reads: the answer is
    whole (last chunk, nothing logged) once END_REQUEST came, not taken
    for cut short in between."""
    body_seen = threading.Event()

    def serve(conn):
        conn.sendall(fc.stream(fc.STDOUT, 1, b"Content-Type: text/plain"
                               b"\r\n\r\nhello"))
        body_seen.wait(10)
        conn.sendall(END)

    fake = FakePhpFpm(serve)
    servers.append(fake)
    f, hport, _ = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: %s
  keep_alive: false
  document_root: /srv
""" % fake.address)
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=30)
    c.request("GET", "/x.php")
    r = c.getresponse()
    assert r.status == 200 and r.read(5) == b"hello"
    body_seen.set()
    assert r.read() == b""
    c.close()
    assert "legacy legacy" not in f.log_text()

# SPDX-License-Identifier: BSD-2-Clause
"""The front matrix: every web server php-fpm users run (nginx with
keep-conn off and on, Apache's SetHandler and ProxyPassMatch, lighttpd,
Caddy's php_fastcgi and reverse_proxy, h2o, HAProxy with and without
multiplexing), each over TCP and a unix socket, in front of fpmd, each
compared with the same front talking to php-fpm 8.2 directly.

Every front serves two sites with the same config but for the backend:
"php" (php-fpm) and "fpmd". fpmd answers /native.php with its built-in
probe handler and passes everything else through to php-fpm (a pool of
the same php-fpm). For each case, the client sends the same bytes to the
two sites and compares:

- legacy (fpmd passing through to php-fpm): status, every header but
  Date and Server (and, behind HAProxy, the framing ones: see
  unframed()), the body bytes, and what the script saw ($_SERVER,
  $_POST, $_FILES, the body's length and sha256), all of which come back
  in the body. The two sites differ in their port, which is written as
  PORT on both sides before comparing.
- native (fpmd's probe handler): on the php site, native.php is the same
  script as probe.php, which answers ?size=N and ?status=N as the probe
  handler does (N bytes of the alphabet, application/octet-stream, no
  Content-Length): there, status, headers and body are compared as for
  legacy, so the front shows fpmd's own answer as it shows PHP's. The
  request dumps differ in shape (the probe's JSON, PHP's $_SERVER), so
  there only what the front sent is compared: the CGI params (less what
  php-fpm adds or rewrites itself), the body's length and sha256.

Then what each front shows when fpmd answers for php-fpm (down, silent,
a head over 1 MiB), Caddy's chunked bodies, and bursts of concurrent
requests.

A combination whose reference never answers is left out of the matrix
(OUT_OF_MATRIX) and has a test of its own. Servers: one php-fpm, one fpmd, each front
started the first time a test needs it; all of them for the module."""

import hashlib
import json
import os
import select
import shutil
import socket
import tempfile
import threading

import pytest

import conftest
from backends import PhpFpm
from conftest import Fpmd, can_connect, free_port, wait_for
from fronts import Apache, Caddy, H2o, Haproxy, Lighttpd, NginxPhp

# One script answers for both: native.php is what fpmd's probe handler
# does (?size, ?status), and more.
PROBE = r"""<?php
$q = $_GET;
header_remove('X-Powered-By');
if (isset($q['status'])) http_response_code((int)$q['status']);
if (isset($q['location'])) header('Location: ' . $q['location']);
if (isset($q['cookies'])) {
    setcookie('a', '1');
    setcookie('b', '2', ['path' => '/x', 'httponly' => true]);
    header('Set-Cookie: c=3', false);
}
if (isset($q['bighead']))
    header('X-Big: ' . str_repeat('h', (int)$q['bighead']));
if (isset($q['stderr'])) error_log('fronts: stderr before the head');
if (isset($q['exit'])) {
    header('Content-Type: text/plain');
    echo str_repeat('x', (int)$q['exit']);
    flush();
    exit;
}
if (isset($q['fatal'])) {
    header('Content-Type: text/plain');
    echo str_repeat('x', 1000);
    flush();
    no_such_function();
}
if (isset($q['size'])) {
    header('Content-Type: application/octet-stream');
    if (isset($q['cl'])) header('Content-Length: ' . (int)$q['size']);
    $chunk = str_repeat('abcdefghijklmnopqrstuvwxyz', 2520);
    for ($left = (int)$q['size']; $left > 0; $left -= strlen($chunk))
        echo substr($chunk, 0, min($left, strlen($chunk)));
    if (isset($q['stderr'])) error_log('fronts: stderr after the body');
    exit;
}
$body = file_get_contents('php://input');
$server = $_SERVER;
// the clock, and the front's own port towards the client: neither is
// the same twice
unset($server['REQUEST_TIME'], $server['REQUEST_TIME_FLOAT'],
      $server['REMOTE_PORT']);
ksort($server);
header('Content-Type: application/json');
echo json_encode(['server' => $server, 'post' => $_POST,
    'files' => array_map(fn($f) => [$f['name'], $f['size'], $f['error'],
        hash_file('sha256', $f['tmp_name'])], $_FILES),
    'cookie' => $_COOKIE, 'len' => strlen($body),
    'sha' => hash('sha256', $body)], JSON_PRETTY_PRINT);
"""

# down.php and silent.php are there for the fronts that look for the
# script before they ask the backend; fpmd sends them elsewhere.
SCRIPTS = {"probe.php": PROBE, "native.php": PROBE, "down.php": PROBE,
           "silent.php": PROBE, "hang.php": PROBE}

# php-fpm pools: "direct" (TCP) and "direct_unix" for the fronts' php
# sites, "legacy" for fpmd. Fronts that keep connections hold a child
# each while idle (nginx's keepalive, HAProxy's kept ones), and
# fpmd keeps workers (2) x max (2).
POOL = """
[{name}]
listen = {listen}
listen.mode = 0666
pm = static
pm.max_children = {children}
catch_workers_output = yes
php_admin_value[post_max_size] = 64M
{user}"""


def pool(name, listen, children):
    user = ("user = www-data\ngroup = www-data\n" if os.geteuid() == 0
            else "")
    return POOL.format(name=name, listen=listen, children=children,
                       user=user)


FPMD_CONF = """
pool: www
listen:
  - fastcgi: 127.0.0.1:{port}
  - fastcgi: {sock}
    mode: "0666"
pm:
  mode: static
  max_children: 2
log:
  error: @DIR@/error.log
legacy:
  legacy:
    fastcgi: {legacy}
    max: 2
    timeout: 20s
  # nothing listens there
  down:
    fastcgi: 127.0.0.1:{down}
  # a listener that never accepts: connections wait in its backlog
  silent:
    fastcgi: 127.0.0.1:{silent}
    timeout: 300ms
    keep_alive: false
  # php-fpm itself, with a short timeout: for a body php-fpm waits on
  short:
    fastcgi: {legacy}
    timeout: 1s
routes:
  # a shim: the script whatever the front makes of PATH_INFO (Apache's
  # ProxyPassMatch sends it inside SCRIPT_NAME)
  - match: {{ script: /native.php }}
    handler: probe
  - match: {{ script: /down.php }}
    to: legacy:down
  - match: {{ script: /silent.php }}
    to: legacy:silent
  - match: {{ script: /hang.php }}
    to: legacy:short
  - match: "*"
    to: legacy
"""

# front name -> (class, its variants); every variant over TCP and a unix
# socket (each of them reaches a FastCGI backend on either).
FRONTS = {
    "nginx": (NginxPhp, ["close", "keep"]),
    "apache": (Apache, ["sethandler", "proxypass"]),
    "lighttpd": (Lighttpd, ["default"]),
    "caddy": (Caddy, ["php_fastcgi", "reverse_proxy"]),
    "h2o": (H2o, ["default"]),
    "haproxy": (Haproxy, ["default", "mpx"]),
}

MATRIX = [(front, variant, transport) for front, (_, variants)
          in FRONTS.items() for variant in variants
          for transport in ("tcp", "unix")]


def matrix_id(fv):
    front, variant, transport = fv
    return "-".join([front] + ([variant] if variant != "default" else [])
                    + [transport])


@pytest.fixture(scope="module")
def world():
    """php-fpm and fpmd, for the module; the fronts started on demand
    (front()), all stopped at the end."""
    tmp = tempfile.mkdtemp(prefix="fpmd-fronts-")
    os.chmod(tmp, 0o755)
    started = []
    w = {"tmp": tmp, "fronts": {}, "started": started}
    try:
        php_dir = os.path.join(tmp, "php")
        legacy_port = free_port()
        direct_sock = os.path.join(php_dir, "direct.sock")
        php = PhpFpm(tmp, SCRIPTS, pool="direct", pool_extra=(
            "pm.max_children = 6\nphp_admin_value[post_max_size] = 64M\n"
            + pool("direct_unix", direct_sock, 6)
            + pool("legacy", "127.0.0.1:%d" % legacy_port, 4)))
        started.append(php)
        php.start()
        for address in (direct_sock, ("127.0.0.1", legacy_port)):
            wait_for(lambda: can_connect(address), 10, "php-fpm's pools")
        silent = socket.create_server(("127.0.0.1", 0), backlog=128)
        w["silent"] = silent
        fport = free_port()
        sock = os.path.join(tmp, "fpmd.sock")
        fpmd = Fpmd(tmp, FPMD_CONF.format(
            port=fport, sock=sock, legacy="127.0.0.1:%d" % legacy_port,
            down=free_port(), silent=silent.getsockname()[1]))
        started.append(fpmd)
        fpmd.start(("127.0.0.1", fport))
        w.update(php=php, fpmd=fpmd, backends={
            ("php", "tcp"): php.address, ("php", "unix"): direct_sock,
            ("fpmd", "tcp"): "127.0.0.1:%d" % fport,
            ("fpmd", "unix"): sock})
        yield w
    finally:
        for s in reversed(started):
            s.stop()
        if "silent" in w:
            w["silent"].close()
        shutil.rmtree(tmp, ignore_errors=True)


def front(world, name):
    """The front called name, started with a site per variant, transport
    and backend ("php", "fpmd")."""
    if name not in world["fronts"]:
        cls, variants = FRONTS[name]
        sites = {(variant, transport, side):
                 (world["backends"][(side, transport)], variant)
                 for variant in variants for transport in ("tcp", "unix")
                 for side in ("php", "fpmd")}
        f = cls(world["tmp"], sites=sites, www=world["php"].www, name=name)
        world["started"].append(f)
        # a front that does not start fails each of its tests at once
        world["fronts"][name] = f
        f.failed = True
        f.start()
        f.failed = False
    f = world["fronts"][name]
    assert not f.failed, f.logs()
    return f


@pytest.fixture
def sites(world):
    """For the test's front, variant and transport: (front, php site's
    port, fpmd site's port). Its logs, php-fpm's and fpmd's are printed
    when the test fails; no fpmd worker may die over it."""
    shown = [world["php"], world["fpmd"]]
    conftest._servers.append(shown)

    def get(fv):
        name, variant, transport = fv
        f = front(world, name)
        shown.append(f)
        return (f, f.ports[(variant, transport, "php")],
                f.ports[(variant, transport, "fpmd")])
    yield get
    conftest._servers.remove(shown)
    text = world["fpmd"].log_text()
    for bad in ("exited on signal", "AddressSanitizer", "runtime error:"):
        assert bad not in text, world["fpmd"].logs()


# ---- a small HTTP/1.x client that shows the framing


class Answer:
    def __init__(self):
        self.status = None
        self.headers = []       # (lower-case name, value), in order
        self.body = b""
        self.complete = False   # the framing's end came
        self.interim = []       # 1xx statuses before the answer

    def header(self, name):
        return [v for n, v in self.headers if n == name]


class Client:
    """Reads what comes into a buffer and takes it from a position in it:
    linear in the answer's size, whatever pieces it comes in."""

    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = bytearray()
        self.pos = 0
        self.closed = False

    def _more(self):
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
        if self.pos > (1 << 20):
            del self.buf[:self.pos]
            self.pos = 0
        self.buf += data
        return bool(data)

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                break
            if not self._more():
                raise EOFError("closed in a head or a chunk size")
        line = bytes(self.buf[self.pos:end])
        self.pos = end + 2
        return line

    def _exact(self, n):
        while len(self.buf) - self.pos < n:
            if not self._more():
                raise EOFError("closed in a body")
        out = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return out

    def _rest(self):
        out = bytes(self.buf[self.pos:])
        self.buf, self.pos = bytearray(), 0
        return out

    def head(self, a):
        line = self._line()
        a.status = int(line.split(b" ")[1])
        while True:
            line = self._line()
            if not line:
                return
            name, _, value = line.decode("latin-1").partition(":")
            a.headers.append((name.lower(), value.strip()))

    def answer(self, method):
        """The next answer on the connection, interim ones first."""
        a = Answer()
        while True:
            a.headers = []
            self.head(a)
            if a.status >= 200:
                break
            a.interim.append(a.status)
        body = bytearray()
        try:
            if method == "HEAD" or a.status in (204, 304):
                a.complete = True
            elif "chunked" in ",".join(a.header("transfer-encoding")):
                while True:
                    size = int(self._line().split(b";")[0], 16)
                    if size == 0:
                        while self._line():
                            pass        # trailers
                        break
                    body += self._exact(size)
                    self._exact(2)
                a.complete = True
            elif a.header("content-length"):
                body += self._exact(int(a.header("content-length")[0]))
                a.complete = True
            else:
                while self._more():
                    pass
                body += self._rest()
                a.complete = True   # close-delimited: the close is its end
        except EOFError:
            body += self._rest()
        a.body = bytes(body)
        return a

    def interim_comes(self, timeout):
        """Whether something comes to read within timeout."""
        return bool(select.select([self.sock], [], [], timeout)[0])

    def close(self):
        self.sock.close()


class Req:
    """One request: the target's {s} is the script's name; body None for
    none; chunks: the body goes chunked in these pieces; expect: with
    Expect: 100-continue, its body sent once a 100 came (or none came
    within EXPECT_WAIT, as curl does)."""

    def __init__(self, method, target, headers=(), body=None, chunks=None,
                 version="HTTP/1.1", expect=False, host=True):
        self.method, self.target, self.headers = method, target, headers
        self.body, self.chunks, self.version = body, chunks, version
        self.expect, self.host = expect, host

    def head(self, port, script):
        lines = ["%s %s %s" % (self.method, self.target.format(s=script),
                               self.version)]
        if self.host:
            lines.append("Host: 127.0.0.1:%d" % port)
        lines.append("User-Agent: fronts-test")
        lines += ["%s: %s" % h for h in self.headers]
        if self.chunks is not None:
            lines.append("Transfer-Encoding: chunked")
        elif self.body is not None:
            lines.append("Content-Length: %d" % len(self.body))
        if self.expect:
            lines.append("Expect: 100-continue")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def payload(self):
        if self.chunks is not None:
            return b"".join(b"%x\r\n%s\r\n" % (len(c), c)
                            for c in self.chunks) + b"0\r\n\r\n"
        return self.body or b""


EXPECT_WAIT = 2.0


def exchange(port, reqs, script):
    """Sends reqs one after the other on one connection: their answers
    (fewer when the front closed it)."""
    c = Client(port)
    out = []
    try:
        for r in reqs:
            if r.expect:
                c.sock.sendall(r.head(port, script))
                if c.interim_comes(EXPECT_WAIT):
                    a = Answer()
                    c.head(a)
                    if a.status >= 200:
                        # a final answer instead: no body goes
                        rest = c.answer(r.method)
                        a.body, a.complete = rest.body, rest.complete
                        out.append(a)
                        break
                    c.sock.sendall(r.payload())
                    a2 = c.answer(r.method)
                    a2.interim = [a.status] + a2.interim
                    out.append(a2)
                    continue
                c.sock.sendall(r.payload())
            else:
                c.sock.sendall(r.head(port, script) + r.payload())
            out.append(c.answer(r.method))
            if c.closed:
                break
    finally:
        c.close()
    return out


# ---- the cases

def form(n):
    return b"k=v&x=" + b"y" * n


MULTIPART = (
    b"--XYZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
    b"--XYZ\r\nContent-Disposition: form-data; name=\"f\"; "
    b"filename=\"f.bin\"\r\nContent-Type: application/octet-stream"
    b"\r\n\r\n" + b"\0\1\2" * 3000 + b"\r\n--XYZ--\r\n")
FORM = ("Content-Type", "application/x-www-form-urlencoded")
OCTETS = ("Content-Type", "application/octet-stream")
MiB = 1 << 20
BIG_BODY = os.urandom(8 * MiB)

BOTH, LEGACY = ("legacy", "native"), ("legacy",)

# (id, kinds, requests): "native" ones also go to /native.php
CASES = [
    ("get-query", BOTH, [Req("GET", "/{s}?a=1&b=%20x&c=%C3%A9&d&e[]=1")]),
    ("path-info", BOTH, [Req("GET", "/{s}/extra/path?x=1")]),
    ("path-info-encoded", BOTH, [Req("GET", "/{s}/a%20b/c%2Bd%25e?x=%2F")]),
    ("path-info-slash", BOTH, [Req("GET", "/{s}/dir/")]),
    ("path-info-utf8", BOTH,
     [Req("GET", "/{s}/caf%C3%A9/%E2%82%AC?q=%E2%82%AC")]),
    ("head", BOTH, [Req("HEAD", "/{s}?size=5000")]),
    ("post-urlencoded", BOTH, [Req("POST", "/{s}", [FORM], form(3000))]),
    ("post-multipart", BOTH, [Req("POST", "/{s}", [
        ("Content-Type", "multipart/form-data; boundary=XYZ")],
        MULTIPART)]),
    ("post-empty", BOTH, [Req("POST", "/{s}", [OCTETS], b"")]),
    ("post-1m", BOTH, [Req("POST", "/{s}", [OCTETS], os.urandom(MiB))]),
    ("post-8m", BOTH, [Req("POST", "/{s}", [OCTETS], BIG_BODY)]),
    ("chunked-empty", BOTH, [Req("POST", "/{s}", [OCTETS], chunks=[])]),
    ("chunked", BOTH, [Req("POST", "/{s}", [OCTETS], chunks=[
        os.urandom(3000), os.urandom(70000), b"end"])]),
    ("chunked-form", LEGACY, [Req("POST", "/{s}", [FORM], chunks=[
        form(100), b"&z=1"])]),
    ("expect-100", BOTH, [Req("POST", "/{s}", [OCTETS], os.urandom(100000),
                              expect=True)]),
    ("http10", BOTH, [Req("GET", "/{s}?v=10", version="HTTP/1.0",
                          host=False)]),
    ("http10-size", BOTH, [Req("GET", "/{s}?size=3000",
                               version="HTTP/1.0", host=False)]),
    ("keepalive", BOTH, [Req("GET", "/{s}?n=1"),
                         Req("POST", "/{s}?n=2", [FORM], form(1000)),
                         Req("GET", "/{s}?size=100000"),
                         Req("GET", "/{s}?n=4")]),
    ("many-headers", BOTH, [Req("GET", "/{s}", [
        ("X-H%d" % i, "v" * 100) for i in range(60)])]),
    ("large-header", BOTH, [Req("GET", "/{s}", [
        ("Cookie", "c=" + "k" * 6000), ("X-Large", "l" * 4000)])]),
    ("duplicate-headers", BOTH, [Req("GET", "/{s}", [
        ("X-Trace", "a"), ("X-Trace", "b"), ("Cookie", "c1=1"),
        ("Cookie", "c2=2; c3=3"), ("Accept", "text/html"),
        ("Accept", "application/json")])]),
    ("underscore-header", BOTH, [Req("GET", "/{s}", [
        ("X_Under", "u"), ("X-Dash", "d")])]),
    ("set-cookies", LEGACY, [Req("GET", "/{s}?cookies=1")]),
    ("answer-0", BOTH, [Req("GET", "/{s}?size=0")]),
    ("answer-0-cl", LEGACY, [Req("GET", "/{s}?size=0&cl=1")]),
    ("answer-odd", BOTH, [Req("GET", "/{s}?size=12345")]),
    ("answer-odd-cl", LEGACY, [Req("GET", "/{s}?size=12345&cl=1")]),
    ("answer-1m", BOTH, [Req("GET", "/{s}?size=%d" % MiB)]),
    ("answer-1m-cl", LEGACY, [Req("GET", "/{s}?size=%d&cl=1" % MiB)]),
    ("answer-16m", BOTH, [Req("GET", "/{s}?size=%d" % (16 * MiB))]),
    ("status-204", BOTH, [Req("GET", "/{s}?status=204&size=0")]),
    ("status-301", LEGACY, [Req("GET", "/{s}?status=301&location=/there")]),
    ("status-301-native", BOTH, [Req("GET", "/{s}?status=301&size=10")]),
    ("status-404", BOTH, [Req("GET", "/{s}?status=404&size=10")]),
    ("status-500", BOTH, [Req("GET", "/{s}?status=500&size=10")]),
    ("status-500-dump", LEGACY, [Req("GET", "/{s}?status=500")]),
    ("stderr", LEGACY, [Req("GET", "/{s}?stderr=1&size=30000")]),
    ("missing-script", LEGACY, [Req("GET", "/missing.php")]),
    ("exit-mid-answer", LEGACY, [Req("GET", "/{s}?exit=20000")]),
    ("fatal-mid-answer", LEGACY, [Req("GET", "/{s}?fatal=1")]),
    ("options", BOTH, [Req("OPTIONS", "/{s}")]),
    ("put", BOTH, [Req("PUT", "/{s}", [OCTETS], os.urandom(50000))]),
    ("patch", BOTH, [Req("PATCH", "/{s}", [("Content-Type",
                                            "application/json")],
                         b'{"a": 1}')]),
    ("delete", BOTH, [Req("DELETE", "/{s}?id=3")]),
    ("header-2k", LEGACY, [Req("GET", "/{s}?bighead=2000")]),
    ("header-20k", LEGACY, [Req("GET", "/{s}?bighead=20000")]),
    ("header-70k", LEGACY, [Req("GET", "/{s}?bighead=70000")]),
    ("header-300k", LEGACY, [Req("GET", "/{s}?bighead=300000")]),
]

# ---- comparing

# Headers whose values are the front's own, not the backend's: the clock
# and the front's name.
OWN_HEADERS = ("date", "server")


def normalized(answer, ports):
    """status, headers (less OWN_HEADERS) and body with either site's
    port written PORT."""
    def norm(b):
        for p in ports:
            b = b.replace(b"%d" % p, b"PORT")
        return b
    headers = [(n, norm(v.encode("latin-1")).decode("latin-1"))
               for n, v in answer.headers if n not in OWN_HEADERS]
    return answer.status, headers, norm(answer.body), answer.complete


def unframed(n):
    """A normalized answer without the headers that frame its body:
    HAProxy sends a length when the backend's whole answer came in
    before it sent the head, else chunks, and that depends on how the
    backend's writes fall."""
    status, headers, body, complete = n
    return status, [(h, v) for h, v in headers if h not in (
        "content-length", "transfer-encoding")], body, complete


def describe(a):
    return "%s %r %r%s" % (a.status, [(n, v[:80]) for n, v in a.headers],
                           a.body[:200], "" if a.complete else
                           " (cut short)")


def assert_same(front, ref, got, ports, what):
    assert len(got) == len(ref), (what, [describe(a) for a in got],
                                  [describe(a) for a in ref])
    for i, (r, g) in enumerate(zip(ref, got)):
        rn, gn = normalized(r, ports), normalized(g, ports)
        if front.FRAMING_VARIES:
            rn, gn = unframed(rn), unframed(gn)
        assert gn[0] == rn[0], (what, i, "status", describe(g), describe(r))
        assert gn[1] == rn[1], (what, i, "headers", describe(g),
                                describe(r))
        assert g.interim == r.interim, (what, i, "interim answers")
        if gn[2] != rn[2] and r.header("content-type") == [
                "application/json"]:
            # the script's view: say which entries differ
            seen, want = json.loads(gn[2]), json.loads(rn[2])
            assert seen == want, (what, i, "the script saw")
        assert hashlib.sha256(gn[2]).hexdigest() == hashlib.sha256(
            rn[2]).hexdigest(), (what, i, "body", g.body[:300], r.body[:300])
        assert gn[3] == rn[3], (what, i, "complete")


# Caddy 2.6 sends CONTENT_LENGTH -1 with a chunked body, and php-fpm 8.2
# then waits for more body forever: Caddy -> php-fpm never answers, so
# there is no reference to compare with (test_caddy_chunked_body).
OUT_OF_MATRIX = {("caddy", "chunked"), ("caddy", "chunked-form")}


def params(kind):
    """(front variant, case id, requests) for the cases of kind, each
    named front-variant-transport-case."""
    out = []
    for fv in MATRIX:
        for cid, kinds, reqs in CASES:
            if kind not in kinds or (fv[0], cid) in OUT_OF_MATRIX:
                continue
            out.append(pytest.param(fv, cid, reqs,
                                    id="%s-%s" % (matrix_id(fv), cid)))
    return out


@pytest.mark.parametrize("fv,cid,reqs", params("legacy"))
def test_legacy(sites, fv, cid, reqs):
    """front -> fpmd -> php-fpm answers as front -> php-fpm."""
    f, php_port, fpmd_port = sites(fv)
    ref = exchange(php_port, reqs, "probe.php")
    got = exchange(fpmd_port, reqs, "probe.php")
    assert_same(f, ref, got, (php_port, fpmd_port), cid)


def view(answer, ports):
    """What the script saw of the request, from a PHP dump or the probe
    handler's JSON: the CGI params the front sent, the body's length and
    sha256 (None when PHP parsed a multipart body itself)."""
    body = answer.body
    for p in ports:
        body = body.replace(b"%d" % p, b"PORT")
    d = json.loads(body)
    if "server" in d:
        seen = dict(d["server"])
        body = (d["len"], d["sha"])
    else:
        seen = dict(d["params"])
        seen.pop("REMOTE_PORT", None)   # PHP's dump leaves it out
        body = (d["body_length"], d["body_sha256"])
    if seen.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
        body = None
    return seen, body


# What php-fpm adds to $_SERVER beside what the front sent, and what it
# rewrites (cgi.fix_pathinfo: the script's file and path info out of
# Apache's "proxy:fcgi://..." or lighttpd's SCRIPT_FILENAME).
PHP_ADDS = ("PHP_SELF", "FCGI_ROLE", "HOME", "USER", "ORIG_PATH_INFO",
            "ORIG_SCRIPT_NAME", "ORIG_SCRIPT_FILENAME",
            "ORIG_PATH_TRANSLATED", "argv", "argc")
PHP_REWRITES = ("SCRIPT_FILENAME", "PATH_TRANSLATED", "PATH_INFO",
                "SCRIPT_NAME")


@pytest.mark.parametrize("fv,cid,reqs", params("native"))
def test_native(sites, fv, cid, reqs):
    """front -> fpmd's probe handler against front -> php-fpm running the
    same answers in PHP (native.php): ?size and ?status answers are
    compared whole; of a request's dump, what the front sent."""
    f, php_port, fpmd_port = sites(fv)
    ports = (php_port, fpmd_port)
    ref = exchange(php_port, reqs, "native.php")
    got = exchange(fpmd_port, reqs, "native.php")
    assert len(got) == len(ref), (cid, [describe(a) for a in got],
                                  [describe(a) for a in ref])
    for i, (r, g) in enumerate(zip(ref, got)):
        if r.header("content-type") != ["application/json"]:
            assert_same(f, [r], [g], ports, (cid, i))
            continue
        assert (g.status, g.interim, g.complete) == (
            r.status, r.interim, r.complete), (cid, i, describe(g),
                                               describe(r))
        (php_seen, php_body), (seen, body) = view(r, ports), view(g, ports)
        if "CONTENT_LENGTH" not in seen and reqs[i].chunks:
            # Apache sends a chunked body without CONTENT_LENGTH: PHP
            # reads none of it, the handler all of it
            sent = b"".join(reqs[i].chunks)
            php_body = (len(sent), hashlib.sha256(sent).hexdigest())
        for name in PHP_ADDS + PHP_REWRITES:
            php_seen.pop(name, None)
        for name in PHP_REWRITES:
            seen.pop(name, None)
        assert seen == php_seen, (cid, i, "the front sent")
        assert body == php_body, (cid, i, "the body")


# What fpmd answers itself when php-fpm cannot: nothing listens (503),
# php-fpm silent past legacy.timeout (504), a head fpmd refuses (502).
FPMD_ANSWERS = [
    ("down", "/down.php", 503, b"503 Service Unavailable: down: "),
    ("silent", "/silent.php", 504, b"504 Gateway Timeout: no reply from "
     b"silent within timeout (300 ms)\n"),
    ("head-over-1m", "/probe.php?bighead=1100000", 502,
     b"502 Bad Gateway: the backend sent an invalid head\n"),
]


@pytest.mark.parametrize("fv,what,target,status,text", [
    pytest.param(fv, *a, id="%s-%s" % (matrix_id(fv), a[0]))
    for fv in MATRIX for a in FPMD_ANSWERS])
def test_fpmd_answers_for_php_fpm(sites, fv, what, target, status, text):
    """Where php-fpm cannot answer, fpmd does, with a FastCGI answer like
    any other: each front shows its status and fpmd's text, where it
    would show its own error page for php-fpm (README, "Web servers")."""
    _, _, fpmd_port = sites(fv)
    (a,) = exchange(fpmd_port, [Req("GET", target)], "")
    assert (a.status, a.complete) == (status, True), describe(a)
    assert a.body.startswith(text), describe(a)
    assert a.header("content-type") == ["text/plain; charset=utf-8"]


CADDY = [fv for fv in MATRIX if fv[0] == "caddy"]


@pytest.mark.parametrize("fv", CADDY, ids=[matrix_id(fv) for fv in CADDY])
def test_caddy_chunked_body(sites, fv):
    """Caddy sends a chunked body with CONTENT_LENGTH -1, which php-fpm
    8.2 waits on forever (Caddy -> php-fpm never answers). fpmd's handler
    reads the body to its end; passed through, the params go as received
    and php-fpm hangs as it would, until fpmd's 504 at legacy.timeout
    (README, "Web servers")."""
    _, _, fpmd_port = sites(fv)
    chunks = [os.urandom(3000), os.urandom(70000), b"end"]
    sent = b"".join(chunks)
    (a,) = exchange(fpmd_port, [Req("POST", "/{s}", [OCTETS],
                                    chunks=chunks)], "native.php")
    assert (a.status, a.complete) == (200, True), describe(a)
    seen, body = view(a, (fpmd_port,))
    assert seen["CONTENT_LENGTH"] == "-1"
    assert body == (len(sent), hashlib.sha256(sent).hexdigest())
    (a,) = exchange(fpmd_port, [Req("POST", "/{s}", [OCTETS],
                                    chunks=chunks)], "hang.php")
    assert (a.status, a.complete) == (504, True), describe(a)
    assert a.body.startswith(b"504 Gateway Timeout: no reply from short "
                             b"within timeout (1000 ms)"), describe(a)


ALPHABET = b"abcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize("fv", MATRIX, ids=[matrix_id(fv) for fv in MATRIX])
def test_concurrent_answers_stay_apart(sites, fv):
    """Clients at once, native and legacy answers of different sizes: each
    gets its own, whole (with HAProxy's "mpx", several requests share a
    connection to fpmd). A connection per request: under load a front
    may close a kept-alive one between answers, as HTTP lets it."""
    _, _, fpmd_port = sites(fv)
    wrong = []

    def client(k):
        for i in range(4):
            for script in ("native.php", "probe.php"):
                size = 1000 * k + 7 * i
                try:
                    (a,) = exchange(fpmd_port, [Req(
                        "GET", "/%s?size=%d" % (script, size))], "")
                except (OSError, EOFError) as e:
                    wrong.append((script, size, repr(e)))
                    continue
                if (a.status, a.complete, a.body) != (
                        200, True, (ALPHABET * (size // 26 + 1))[:size]):
                    wrong.append((script, size, describe(a)))

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(1, 13)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, wrong[:3]

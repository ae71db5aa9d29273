# SPDX-License-Identifier: BSD-2-Clause
"""Standalone HTTP/1.1 over raw sockets: keep-alive, pipelining, bodies,
and the framing table (RFC 9112) each case also sent one byte at a time;
then the same handlers over HTTP and over FastCGI behind real nginx give
the same answers."""

import hashlib
import json
import os
import re
import socket
import time

import pytest

import fcgi_client as fc
from conftest import (SANITIZED, Fpmd, Nginx, base_conf, free_port,
                      http_request, read_all, status_json, wait_for)


# base_conf's FastCGI pool, plus an HTTP listener and tight HTTP limits.
EXTRA = """
timeouts: { header_read: 1s, body_read: 1s }
limits: { uri: 1k, header: 4k, headers: 20, body: 1m }
"""


@pytest.fixture
def web(tmpdir_path, servers):
    hport, fport = free_port(), free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    text = base_conf(fport, sock, EXTRA).replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    return f, hport, fport, sock


def exchange(port, data, split=None, timeout=5.0, quiet=0.5):
    """Sends data (whole or byte by byte), reads until the server closes or
    goes quiet for quiet seconds; returns the bytes and whether it
    closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            if split:
                for i in range(0, len(data), split):
                    s.sendall(data[i:i + split])
            else:
                s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass        # refused midway: read what it answered
        out, closed = b"", False
        s.settimeout(quiet)
        end = time.time() + timeout
        while time.time() < end:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
        return out, closed
    finally:
        s.close()


def statuses(raw):
    return [int(m.group(1)) for m in
            re.finditer(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*\r\n", raw)]


def test_keep_alive_and_connection_close(web):
    _, port, _, _ = web
    req = b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"
    out, closed = exchange(port, req * 3)
    assert statuses(out) == [200, 200, 200] and not closed
    assert out.count(b"hello world\n") == 3
    assert b"Server: fpmd\r\n" in out and b"Date: " in out
    out, closed = exchange(port, b"GET /hello HTTP/1.1\r\nHost: a\r\n"
                           b"Connection: close\r\n\r\n")
    assert statuses(out) == [200] and closed
    assert b"Connection: close" in out


def test_http10_closes_unless_keep_alive(web):
    _, port, _, _ = web
    out, closed = exchange(port, b"GET /hello HTTP/1.0\r\n\r\n")
    assert statuses(out) == [200] and closed
    out, closed = exchange(port, b"GET /hello HTTP/1.0\r\n"
                           b"Connection: keep-alive\r\n\r\n")
    assert statuses(out) == [200] and not closed
    assert b"Connection: keep-alive" in out


def test_hundred_pipelined_requests_answer_in_order(web):
    _, port, _, _ = web
    data = b"".join(b"GET /probe?i=%d HTTP/1.1\r\nHost: a\r\n%s\r\n"
                    % (i, b"Connection: close\r\n" if i == 99 else b"")
                    for i in range(100))
    # the last one closes: read to the end, however slow the machine
    out, closed = exchange(port, data, timeout=20, quiet=20)
    assert closed
    bodies = []
    while out:
        head, _, rest = out.partition(b"\r\n\r\n")
        length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")][0])
        bodies.append(json.loads(rest[:length]))
        out = rest[length:]
    assert [b["query"] for b in bodies] == ["i=%d" % i for i in range(100)]


def test_head_has_length_and_no_body(web):
    _, port, _, _ = web
    out, _ = exchange(port, b"HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n"
                      b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
    first, _, rest = out.partition(b"\r\n\r\n")
    assert b"Content-Length: 12" in first
    assert rest.startswith(b"HTTP/1.1 200 OK")


def test_chunked_and_length_bodies(web):
    _, port, _, _ = web
    body = os.urandom(5000)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 999]),
                                           body[i:i + 999])
                       for i in range(0, len(body), 999)) + b"0\r\n\r\n"
    for data in (b"POST /probe HTTP/1.1\r\nHost: a\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n" + chunked,
                 b"POST /probe HTTP/1.1\r\nHost: a\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body):
        out, _ = exchange(port, data)
        assert statuses(out) == [200]
        p = json.loads(out.partition(b"\r\n\r\n")[2])
        assert p["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_large_bodies_flow_through_the_body_window(web):
    _, port, _, _ = web
    body = os.urandom(900000)
    for split in (None, 65536):
        out, _ = exchange(port, b"POST /probe HTTP/1.1\r\nHost: a\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(body) + body,
                          split=split, timeout=10)
        assert statuses(out) == [200]
        p = json.loads(out.partition(b"\r\n\r\n")[2])
        assert p["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_expect_100_continue(web):
    _, port, _, _ = web
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
              b"Expect: 100-continue\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
    s.sendall(b"abc")
    out = b""
    while b"body_sha256" not in out:
        out += s.recv(65536)
    assert out.startswith(b"HTTP/1.1 200")
    s.close()


def test_streamed_answer_is_chunked(web):
    _, port, _, _ = web
    out, _ = exchange(port, b"GET /probe?size=100000 HTTP/1.1\r\nHost: a\r\n"
                      b"Connection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    data = b""
    while True:
        size, _, body = body.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            break
        data += body[:n]
        body = body[n + 2:]
    alphabet = b"abcdefghijklmnopqrstuvwxyz"
    assert data == (alphabet * 4000)[:100000]


# RFC 9112 framing: what is refused, and with what. Every case closes the
# connection after the error answer.
FRAMING = [
    ("te-and-cl", b"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("cl-and-te", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400),
    ("dup-cl", b"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
     b"Content-Length: 4\r\n\r\nabcd", 400),
    ("cl-plus", b"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n"
     b"\r\nabc", 400),
    ("chunk-0x", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk-plus", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk-underscore", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"x" * 16 +
     b"\r\n0\r\n\r\n", 400),
    ("chunk-overflow", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n1000000000000000000\r\nx\r\n", 400),
    ("chunk-no-crlf", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400),
    ("bare-lf", b"GET /hello HTTP/1.1\nHost: a\n\n", 400),
    ("bare-lf-header", b"GET /hello HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400),
    ("bare-cr", b"GET /hello HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400),
    ("space-before-colon", b"GET /hello HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("obs-fold", b"GET /hello HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n",
     400),
    ("unknown-te", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: gzip\r\n\r\n", 501),
    ("no-host", b"GET /hello HTTP/1.1\r\n\r\n", 400),
    ("http10-chunked", b"POST /probe HTTP/1.0\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
    ("above-root", b"GET /a/../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
     400),
    ("escaped-nul", b"GET /hello%00.txt HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("bad-escape", b"GET /hello%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("bad-version", b"GET /hello HTTP/1.2\r\nHost: a\r\n\r\n", 505),
    ("http2-version", b"GET /hello HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ("no-version", b"GET /hello\r\nHost: a\r\n\r\n", 505),
    ("trailers", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n" +
     b"".join(b"T-%d: %s\r\n" % (i, b"v" * 100) for i in range(50)) +
     b"\r\n", 400),
    ("long-uri", b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
     414),
    ("many-headers", b"GET /hello HTTP/1.1\r\nHost: a\r\n" +
     b"".join(b"X-%d: v\r\n" % i for i in range(30)) + b"\r\n", 431),
    ("big-header", b"GET /hello HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 5000 +
     b"\r\n\r\n", 431),
    ("big-body", b"POST /probe HTTP/1.1\r\nHost: a\r\nContent-Length: "
     b"2000000\r\n\r\n", 413),
    ("two-hosts", b"GET /hello HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400),
    ("two-hosts-http10", b"GET /hello HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
     400),
    ("bad-host", b"GET /hello HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
    ("absolute-form-userinfo", b"GET http://u@a/hello HTTP/1.1\r\n"
     b"Host: a\r\n\r\n", 400),
    ("absolute-form-empty-host", b"GET http:///hello HTTP/1.1\r\n"
     b"Host: a\r\n\r\n", 400),
    ("absolute-form-no-host", b"GET http://a/hello HTTP/1.1\r\n\r\n", 400),
    ("absolute-form-bad-host", b"GET http://a/hello HTTP/1.1\r\n"
     b"Host: a/b\r\n\r\n", 400),
    ("two-sp-before-target", b"GET  /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("two-sp-before-version", b"GET /hello  HTTP/1.1\r\nHost: a\r\n\r\n",
     400),
    ("sp-before-method", b" GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("sp-after-version", b"GET /hello HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
    ("tab-in-request-line", b"GET\t/hello HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    # repeated Transfer-Encoding lines are one list, judged as one line is
    ("te-gzip-then-chunked", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 501),
    ("te-chunked-then-gzip", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n"
     b"0\r\n\r\n", 400),
    ("te-chunked-twice", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"0\r\n\r\n", 400),
    ("chunk-extension", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n1;e=" + b"x" * 5000 +
     b"\r\nx\r\n0\r\n\r\n", 400),
    ("chunk-extensions", b"POST /probe HTTP/1.1\r\nHost: a\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n" +
     (b"1;e=" + b"x" * 300 + b"\r\nx\r\n") * 20 + b"0\r\n\r\n", 400),
    ("connect", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 501),
]


@pytest.mark.parametrize("split", [None, 1], ids=["whole", "bytewise"])
@pytest.mark.parametrize("name,data,status", FRAMING,
                         ids=[f[0] for f in FRAMING])
def test_framing_errors_answer_and_close(web, name, data, status, split):
    _, port, _, _ = web
    out, closed = exchange(port, data, split=split)
    assert statuses(out)[-1:] == [status], out[:300]
    assert closed
    if status != 413:
        # nothing behind the bad request is ever answered
        assert len(statuses(out)) == 1


def test_empty_line_before_the_request_line_is_let_be(web):
    _, port, _, _ = web
    out, closed = exchange(port, b"\r\nGET /hello HTTP/1.1\r\nHost: a\r\n"
                           b"\r\n\r\nGET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
    assert statuses(out) == [200, 200] and not closed


def probe(port, head):
    """/probe's view of a request: its JSON, or None when refused."""
    out, _ = exchange(port, head)
    if statuses(out) != [200]:
        return None
    return json.loads(out.partition(b"\r\n\r\n")[2])


@pytest.mark.parametrize("host", [
    b"a b", b"a/b", b"u@a", b"a?b", b"a#b", b"a\x80b", b"a\x7fb", b"a\\b",
    b"a%zz", b"a:8x", b"a:80:80", b"[::1", b"[::g]:80", b"[::1]x", b"[]",
    b"[a.b]"])
def test_invalid_host_is_refused(web, host):
    _, port, _, _ = web
    out, closed = exchange(port, b"GET /probe HTTP/1.1\r\nHost: %s\r\n\r\n"
                           % host)
    assert statuses(out) == [400] and closed


def test_valid_hosts_pass_as_sent(web):
    _, port, _, _ = web
    for host in (b"", b"a.example", b"a.example:8080", b"127.0.0.1:80",
                 b"[::1]:8080", b"[::ffff:1.2.3.4]", b"[v1.x]", b"a%2Db:",
                 b"a-b_c~!$&'()*+,;=.x"):
        p = probe(port, b"GET /probe HTTP/1.1\r\nHost: %s\r\n\r\n" % host)
        assert p is not None, host
        assert p["params"]["HTTP_HOST"] == host.decode(), host


def test_absolute_form_authority_is_the_host(web):
    """RFC 9112 §3.2.2: the target's authority, not Host, is what handlers
    see; Host must still be there and valid."""
    _, port, _, _ = web
    for target, host, want, uri in (
            (b"http://h.example/probe?x=1", b"other", "h.example",
             "/probe?x=1"),
            (b"HTTP://h.example:8080/probe", b"h.example", "h.example:8080",
             "/probe"),
            (b"https://[::1]:8443/probe", b"", "[::1]:8443", "/probe")):
        p = probe(port, b"GET %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                  % (target, host))
        assert p["params"]["HTTP_HOST"] == want
        assert p["headers"]["HOST"] == want
        assert p["path"] == "/probe"
        # REQUEST_URI as nginx's $request_uri: the path and query only
        assert p["params"]["REQUEST_URI"] == uri
    p = probe(port, b"GET http://h.example/probe HTTP/1.0\r\n\r\n")
    assert p["params"]["HTTP_HOST"] == "h.example"


def test_repeated_fields_are_joined_as_one(web):
    """RFC 9110 §5.3, as nginx 1.23+ passes them: ", " between values,
    "; " between cookies; names with "_" still dropped."""
    _, port, _, _ = web
    p = probe(port, b"GET /probe HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n"
              b"Cookie: a=1\r\nX-B: b\r\nx-a: 2\r\nCookie: b=2\r\n"
              b"X_A: 9\r\nX-A: 3 \r\nProxy: x\r\nProxy: y\r\n\r\n")
    assert p["params"]["HTTP_X_A"] == "1, 2, 3"
    assert p["params"]["HTTP_COOKIE"] == "a=1; b=2"
    assert p["params"]["HTTP_X_B"] == "b"
    assert "HTTP_PROXY" not in p["params"]


def test_chunk_extensions_are_bounded(web):
    _, port, _, _ = web
    p = probe(port, b"POST /probe HTTP/1.1\r\nHost: a\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n"
              b"5;c;a=b\r\nhello\r\n0;d=\"e\"\r\n\r\n")
    assert p["body_sha256"] == hashlib.sha256(b"hello").hexdigest()
    # a megabyte of extension is refused once past limits.header (4k)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"POST /probe HTTP/1.1\r\nHost: a\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n1;e=")
    try:
        for _ in range(64):
            s.sendall(b"x" * 16384)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = read_all(s)
    s.close()
    assert statuses(out) == [400], out[:300]


def test_slow_header_gets_408(web):
    _, port, _, _ = web
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n")
    t0 = time.time()
    out = s.recv(65536)
    assert out.startswith(b"HTTP/1.1 408")
    # header_read is 1 s, counted from the connection's start
    assert 0.5 < time.time() - t0 < 6
    s.close()


def test_no_httpoxy(web):
    _, port, _, _ = web
    out, _ = exchange(port, b"GET /probe HTTP/1.1\r\nHost: a\r\n"
                      b"Proxy: http://evil/\r\nX_Foo: 1\r\n\r\n")
    p = json.loads(out.partition(b"\r\n\r\n")[2])
    assert "HTTP_PROXY" not in p["params"]
    assert "HTTP_X_FOO" not in p["params"]


def test_same_answers_over_http_and_fastcgi_behind_nginx(web, tmpdir_path,
                                                         servers):
    f, hport, fport, sock = web
    nginx = Nginx(tmpdir_path, fport, sock)
    servers.append(nginx)
    nginx.start()
    for path in ("/hello", "/json", "/probe?status=201&size=1000",
                 "/nowhere"):
        direct = http_request(hport, "GET", path)
        for variant in Nginx.VARIANTS:
            proxied = http_request(nginx.ports[variant], "GET", path)
            assert proxied[0] == direct[0], (path, variant)
            assert proxied[2] == direct[2], (path, variant)
            dh, ph = dict(direct[1]), dict(proxied[1])
            assert ph.get("Content-Type") == dh.get("Content-Type")
    status, headers, _ = http_request(hport, "POST", "/hello", body=b"x")
    assert status == 405 and dict(headers)["Allow"] == "GET, HEAD"


def test_connection_objects_come_back_through_free_lists(tmpdir_path,
                                                         servers):
    hport, fport = free_port(), free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    text = base_conf(fport, sock).replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1).replace(
        "max_children: 2", "max_children: 1")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", hport))

    # The worker publishes its free-list counts once a second; the status
    # request's own connection is off the list while it is open, which a
    # count published meanwhile shows (hence the slack of 2 below).
    def spare():
        return status_json(hport)["free connections"]

    def burst(n):
        """n connections of each codec open at once, one request each,
        all kept open (keep-conn, keep-alive) until close() is called."""
        fcgi = [fc.Conn(("127.0.0.1", fport)) for _ in range(n)]
        web = [socket.create_connection(("127.0.0.1", hport), timeout=5)
               for _ in range(n)]
        for c in fcgi:
            c.send(fc.request_bytes(1, fc.cgi_params(uri="/hello"),
                                    keep_conn=True))
        for s in web:
            s.sendall(b"GET /hello HTTP/1.1\r\nHost: a\r\n\r\n")
        for c in fcgi:
            assert c.wait([1])[0].split()[0] == 200
        for s in web:
            assert s.recv(65536).startswith(b"HTTP/1.1 200 ")

        def close():
            for c in fcgi:
                c.close()
            for s in web:
                s.close()
        return close

    burst(20)()
    if SANITIZED:       # debug-alloc builds keep no spares, by design
        # nothing published shows a tick has passed here: wait one out
        time.sleep(1.5)
        assert spare() == 0
        return
    settled = wait_for(lambda: (lambda n: n >= 40 and n)(spare()), 10,
                       "40 connections back on the lists")
    close = burst(20)
    # the lists drain while the 40 are open: taken, not allocated afresh
    wait_for(lambda: spare() <= settled - 38, 10,
             "40 connections taken from the lists")
    close()
    wait_for(lambda: spare() >= settled - 2, 10,
             "the connections given back")
    # and given back to the lists, nothing more
    assert settled - 2 <= spare() <= settled + 2

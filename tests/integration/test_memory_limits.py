# SPDX-License-Identifier: BSD-2-Clause
"""What a request, and all of a worker's requests together, may hold in
memory: limits.request_memory and limits.requests_memory, each with its
answer (413, 503) and its log line, and nothing held once a request is
over. Driven through the case that holds the most: a chunked body sent
to fpmd's own HTTP listener for a legacy route is read whole before it
goes to a real php-fpm 8.2 (PHP reads CONTENT_LENGTH bytes)."""

import hashlib
import http.client
import json
import os
import socket

import pytest

import fcgi_client as fc
from backends import PhpFpm, no_worker_died, start_fpmd  # noqa: F401
from conftest import wait_for

ECHO = r"""<?php
$body = file_get_contents('php://input');
header('Content-Type: application/json');
echo json_encode(['clen' => $_SERVER['CONTENT_LENGTH'] ?? null,
                  'len' => strlen($body), 'sha' => hash('sha256', $body)]);
"""


def legacy_fpmd(tmp, servers, limits=""):
    php = PhpFpm(tmp, {"echo.php": ECHO}, pool_extra=(
        "php_admin_value[post_max_size] = 64M\n")).start()
    servers.append(php)
    f, hport, _ = start_fpmd(tmp, servers, """
legacy:
  fastcgi: {}
  timeout: 20s
  document_root: {}
{}""".format(php.address, php.www, limits))
    text = open(f.conf).read().replace(
        "routes:\n", "routes:\n  - match: \"*\"\n    to: legacy\n", 1)
    f.stop()
    f.write_conf(text)
    f.start(("127.0.0.1", hport))
    return f, hport


def chunked_head(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"POST /echo.php HTTP/1.1\r\nHost: x\r\n"
              b"Content-Type: application/octet-stream\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    return s


def send_chunks(s, data, end=True):
    for i in range(0, len(data), 1 << 16):
        piece = data[i:i + (1 << 16)]
        try:
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except (BrokenPipeError, ConnectionResetError):
            return
    if end:
        s.sendall(b"0\r\n\r\n")


def answer(s):
    r = http.client.HTTPResponse(s)
    r.begin()
    return r.status, r.read()


def taken_in(s):
    """Every byte sent on s read by the server: nothing queued on either
    side of the connection (/proc/net/tcp, tx_queue:rx_queue)."""
    mine = s.getsockname()[1]
    peer = s.getpeername()[1]
    queued = 0
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            ports = (int(fields[1].rsplit(":", 1)[1], 16),
                     int(fields[2].rsplit(":", 1)[1], 16))
            if ports in ((mine, peer), (peer, mine)):
                tx, rx = fields[4].split(":")
                queued += int(tx, 16) + int(rx, 16)
    return queued == 0


def post_chunked(port, data):
    s = chunked_head(port)
    send_chunks(s, data)
    out = answer(s)
    s.close()
    return out


def test_a_chunked_body_past_16m_reaches_php_fpm_whole(tmpdir_path,
                                                       servers):
    """Within limits.body (64m by default), a body of unknown length is
    read whole and passed on: one copy in the request's memory, where it
    once grew by doubling and ran into a fixed 16 MiB cap (a 400)."""
    f, hport = legacy_fpmd(tmpdir_path, servers)
    data = os.urandom(24 << 20)
    status, body = post_chunked(hport, data)
    assert status == 200, (status, body[:300], f.logs())
    got = json.loads(body)
    assert got["clen"] == str(len(data)) and got["len"] == len(data)
    assert got["sha"] == hashlib.sha256(data).hexdigest()


def test_request_memory_bounds_one_request_with_a_413(tmpdir_path, servers):
    f, hport = legacy_fpmd(tmpdir_path, servers, """
limits:
  request_memory: 2m
""")
    status, _ = post_chunked(hport, os.urandom(3 << 20))
    assert status == 413
    f.wait_log(r"POST /echo.php: request memory over limits.request_memory "
               r"\(2097152 bytes\)")
    data = os.urandom(1 << 20)
    status, body = post_chunked(hport, data)
    assert status == 200 and json.loads(body)["len"] == len(data), body[:300]


def test_requests_memory_bounds_a_worker_with_a_503_and_frees(tmpdir_path,
                                                             servers):
    """One worker; a first upload holds 6 MiB unfinished, so a second one
    of 6 MiB would take the worker's requests past 8m: 503, logged. The
    first then completes, and once it is over its memory is free again."""
    f, hport = legacy_fpmd(tmpdir_path, servers, """
limits:
  requests_memory: 8m
""")
    first, second = os.urandom(6 << 20), os.urandom(6 << 20)
    s1 = chunked_head(hport)
    send_chunks(s1, first, end=False)
    wait_for(lambda: taken_in(s1), 10, "the first upload read by fpmd")
    status, _ = post_chunked(hport, second)
    assert status == 503
    f.wait_log(r"POST /echo.php: this worker's requests hold "
               r"limits.requests_memory \(8388608 bytes, \d+ held\): "
               r"refused")
    s1.sendall(b"0\r\n\r\n")
    status, body = answer(s1)
    s1.close()
    assert status == 200 and json.loads(body)["len"] == len(first)
    status, body = post_chunked(hport, second)
    assert status == 200, (status, body[:300])
    assert json.loads(body)["sha"] == hashlib.sha256(second).hexdigest()


def test_params_past_the_worker_bound_get_a_503_not_a_cut(tmpdir_path,
                                                           servers):
    """Params or headers the worker has no room for are that request's
    503, logged as such: a FastCGI connection goes on with its next
    request, where it was once closed as if the params were malformed,
    and an HTTP request is not told it was a bad one (400)."""
    f, hport, fport = start_fpmd(tmpdir_path, servers, """
limits:
  requests_memory: 1m
  params: 2m
  header: 2m
""")
    big = "v" * (1200 * 1024)
    c = fc.Conn(("127.0.0.1", fport))
    c.send(fc.request_bytes(1, fc.cgi_params(extra={"HTTP_X_BIG": big}),
                            keep_conn=True))
    (r,) = c.wait([1])
    assert r is not None and r.split()[0] == 503, f.logs()
    c.send(fc.request_bytes(2, fc.cgi_params(), keep_conn=True))
    (r,) = c.wait([2])
    assert r is not None and r.split()[0] == 200
    assert r.split()[2] == b"hello world\n"
    c.close()
    f.wait_log(r"- \(head\): this worker's requests hold "
               r"limits.requests_memory \(1048576 bytes, \d+ held\): refused")
    assert "malformed" not in f.logs()

    s = socket.create_connection(("127.0.0.1", hport), timeout=10)
    s.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n"
              % big.encode())
    assert answer(s)[0] == 503
    s.close()
    f.wait_log(r"http 127\.0\.0\.1: 503 Service Unavailable: no memory "
               r"for the request's head")
    conn = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
    conn.request("GET", "/hello")
    assert conn.getresponse().status == 200
    conn.close()


def test_many_params_cost_their_size_not_its_square(tmpdir_path, servers):
    """30,000 tiny params nearly fill limits.params (256k). Their array,
    grown 32 at a time with every outgrown copy kept until the request
    ends, held some 220 MiB: past the request's own cap, so it was
    refused. Grown by doubling, it holds about twice its size."""
    f, hport, fport = start_fpmd(tmpdir_path, servers, "")
    extra = {"p%05d" % i: "" for i in range(30000)}
    r = fc.request(("127.0.0.1", fport), extra=extra)
    assert r is not None and r.split()[0] == 200, f.logs()[-2000:]
    assert "refused" not in f.logs() and "over limits" not in f.logs()


@pytest.mark.parametrize("key,value,msg", [
    ("request_memory", "1k", "limits.request_memory: must be at least 64k"),
    ("requests_memory", "100k",
     "limits.requests_memory: must be 0 (no bound) or at least 1m"),
])
def test_memory_limits_config_errors(tmpdir_path, key, value, msg):
    from conftest import config_check
    rc, err, path = config_check(tmpdir_path, "limits:\n  %s: %s\n"
                                 % (key, value))
    assert rc != 0
    wait_for(lambda: msg in err, 1, msg)
    assert path + ":" in err, err

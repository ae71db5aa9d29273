# SPDX-License-Identifier: BSD-2-Clause
"""The HTTP client (pools/http.c, libcurl on the worker's loop) against
real servers started here: nginx as a plain and a TLS upstream (a
self-signed certificate made by openssl for the test), and a second fpmd
whose /probe answers slowly, with any status or a large body. Through the
test handler /t/http (tests/handlers/http.c): answers with their headers
and bodies, parallel calls taking the slowest one's time, connections
kept across requests, the balancer's turns, a refused server skipped,
timeouts as 504, a body over max_body as 502 with a log line, TLS
verified or not, a client that leaves cancelling the transfer, and the
upstream's row on the status page. Streams through /t/http/stream: a
body far over max_body read in pieces in bounded memory, a slow upstream
seen piece by piece, uploads written in pieces, a client that leaves
mid-stream, timeouts, and calls out of order."""

import json
import os
import re
import socket
import subprocess
import textwrap
import time
import urllib.parse
import zlib

import pytest

import fcgi_client as fc
from backends import NginxFront, start_fpmd
from test_status import PHP_FPM_LINT, promtool_lint
from conftest import (FPMD_TEST_BIN, SANITIZED, TIME_SCALE, VALGRIND, Fpmd,
                      alive, base_conf, config_check, free_port, status_json,
                      wait_for)

NGINX_SERVERS = """
    log_format conn '$connection $request';
    server {{
        listen 127.0.0.1:{plain};
        access_log {dir}/plain.log conn;
        keepalive_requests 10000;
        location /hello {{ add_header X-Who plain; return 200 "hello\\n"; }}
        location /echo {{ return 200 "$request_method $request_uri $http_x_test\\n"; }}
        location /big {{ return 200 "{big}"; }}
        location /files/ {{ alias {dir}/files/; }}
    }}
    server {{
        listen 127.0.0.1:{other};
        location /hello {{ add_header X-Who other; return 200 "other\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{tls} ssl;
        ssl_certificate {dir}/cert.pem;
        ssl_certificate_key {dir}/key.pem;
        location /hello {{ add_header X-Who tls; return 200 "secure\\n"; }}
    }}
"""


@pytest.fixture
def web(tmpdir_path, servers):
    """nginx with a plain server, a second plain one and a TLS one."""
    ports = {"plain": free_port(), "other": free_port(), "tls": free_port()}
    d = os.path.join(tmpdir_path, "nginx")
    os.makedirs(d, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", os.path.join(d, "key.pem"),
                    "-out", os.path.join(d, "cert.pem")],
                   check=True, capture_output=True)
    n = NginxFront(tmpdir_path, "127.0.0.1:1", NGINX_SERVERS.format(
        dir=d, big="x" * 3000, **ports))
    servers.append(n)
    n.start(ports.values())
    n.ports = ports
    n.cert = os.path.join(d, "cert.pem")
    n.files = os.path.join(d, "files")
    os.makedirs(n.files, exist_ok=True)
    return n


def client(tmp, servers, upstreams="", children=1):
    """fpmd-test routing /t/http, with the given upstreams: block:
    (Fpmd, its HTTP port); its FastCGI port in f.fport."""
    hport, fport = free_port(), free_port()
    # the comment at column 0 keeps base_conf's dedent off the route,
    # which continues its routes: list
    text = base_conf(fport, os.path.join(tmp, "fpmd.sock"),
                     "# the HTTP client's\n  - match: GET /t/http\n"
                     "    handler: t_http\n"
                     "  - match: GET /t/http/stream\n"
                     "    handler: t_http_stream\n" + textwrap.dedent(upstreams))
    text = text.replace("listen:\n", "listen:\n  - http: 127.0.0.1:%d\n"
                        % hport, 1).replace("max_children: 2",
                                            "max_children: %d" % children)
    f = Fpmd(tmp, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    f.fport = fport
    return f, hport


def call(hport, path="/t/http", **q):
    items = []
    for k, v in q.items():
        for x in (v if isinstance(v, list) else [v]):
            items.append((k, x))
    conn_t0 = time.monotonic()
    status, body = _get(hport, path + "?" + urllib.parse.urlencode(items))
    took = time.monotonic() - conn_t0
    try:
        return status, json.loads(body), took
    except ValueError:
        return status, body.decode(errors="replace"), took


def _get(hport, path):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=30)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_plain_urls_answers_headers_and_kept_connections(tmpdir_path,
                                                         servers, web):
    _, hport = client(tmpdir_path, servers)
    base = "http://127.0.0.1:%d" % web.ports["plain"]
    status, j, _ = call(hport, url=base + "/hello")
    assert status == 200, j
    a = j["answers"][0]
    assert (a["status"], a["body"], a["server"]) == (200, "hello\n", None)
    assert a["headers"]["X-Who"] == "plain"
    assert a["headers"]["Content-Length"] == "6"
    # method, request headers, any status is an answer
    status, j, _ = call(hport, url=base + "/echo?x=1", method="PUT",
                        h="X-Test: yes", body="data")
    assert j["answers"][0]["body"] == "PUT /echo?x=1 yes\n"
    status, j, _ = call(hport, url=base + "/nothing")
    assert status == 200 and j["answers"][0]["status"] == 404
    # connections live across requests: 30 calls, few connections
    for _ in range(30):
        assert call(hport, url=base + "/hello")[0] == 200
    with open(os.path.join(web.dir, "plain.log")) as f:
        conns = {line.split()[0] for line in f}
    assert len(conns) <= 3, conns
    # a header with CR or LF never reaches the wire
    status, body, _ = call(hport, url=base + "/hello", h="X-A: b\r\nX-B: c")
    assert status == 500 and "not a valid Name: value" in body


def test_parallel_calls_take_the_slowest(tmpdir_path, servers):
    os.makedirs(tmpdir_path + "/slow")
    _, sport, _ = start_fpmd(tmpdir_path + "/slow", servers, "")
    _, hport = client(tmpdir_path, servers)
    url = "http://127.0.0.1:%d/probe?sleep_ms=400" % sport
    status, j, took = call(hport, url=url, n=3)
    assert status == 200, j
    assert [a["status"] for a in j["answers"]] == [200] * 3
    # one after another: 1.2 s (under valgrind the calls' own work takes
    # longer than that)
    assert 0.39 <= took < 1.1 * TIME_SCALE, took


def test_an_upstream_balances_skips_a_refused_server_and_times_out(
        tmpdir_path, servers, web):
    os.makedirs(tmpdir_path + "/slow")
    _, sport, _ = start_fpmd(tmpdir_path + "/slow", servers, "")
    dead = free_port()
    f, hport = client(tmpdir_path, servers, """
        upstreams:
          web:
            servers:
              - http://127.0.0.1:%d
              - http://127.0.0.1:%d
          halfdead:
            servers: [http://127.0.0.1:%d, http://127.0.0.1:%d]
            retries: 1
          slow:
            servers: [http://127.0.0.1:%d]
            timeout: 500ms
            max_body: 1k
        """ % (web.ports["plain"], web.ports["other"], dead,
               web.ports["plain"], sport))
    # round robin over the two
    whos = [call(hport, upstream="web", url="/hello")[1]["answers"][0][
        "headers"]["X-Who"] for _ in range(4)]
    assert whos == ["plain", "other", "plain", "other"], whos
    # a refused connect goes to the other server
    for _ in range(4):
        status, j, _ = call(hport, upstream="halfdead", url="/hello")
        assert status == 200 and j["answers"][0]["body"] == "hello\n", j
        assert j["answers"][0]["server"] == "http://127.0.0.1:%d" % \
            web.ports["plain"]
    # too slow: 504 at the timeout
    status, body, took = call(hport, upstream="slow",
                              url="/probe?sleep_ms=3000")
    assert status == 504 and 0.45 < took < 1.5, (status, body, took)
    assert "Timeout" in body or "timed out" in body, body
    # too large: 502 and a log line
    status, body, _ = call(hport, upstream="slow", url="/probe?size=5000")
    assert status == 502 and "over max_body (1024 bytes)" in body, body
    f.wait_log(r"WARNING: \[pool www\] http http://127.0.0.1:%d: the "
               r"answer's body is over max_body \(1024 bytes\)" % sport)
    # an upstream's call needs a path; an unknown upstream is refused
    assert call(hport, upstream="web", url="http://x/")[0] == 500
    assert call(hport, upstream="nosuch", url="/")[0] == 500
    rows = {b["name"]: b for b in wait_for(lambda: (lambda r: r if any(
        b["name"] == "slow" and b["timeouts"] == 1 for b in r) else None)(
            status_json(hport, full=False).get("backends", [])), 5,
        "the upstreams' rows")}
    assert rows["web"]["calls"] == 4 and rows["web"]["errors"] == 0
    assert rows["halfdead"]["reconnects"] >= 1
    assert rows["slow"]["errors"] == 1


def test_tls_verified_with_the_ca_refused_without(tmpdir_path, servers, web):
    _, hport = client(tmpdir_path, servers, """
        upstreams:
          good:
            servers: [https://127.0.0.1:%d]
            tls: { ca: %s }
          strict:
            servers: [https://127.0.0.1:%d]
            connect_timeout: %ds
          lax:
            servers: [https://127.0.0.1:%d]
            tls: { verify: false }
        """ % (web.ports["tls"], web.cert, web.ports["tls"],
               # the handshake reads the system's CA bundle: seconds under
               # valgrind
               TIME_SCALE, web.ports["tls"]))
    status, j, _ = call(hport, upstream="good", url="/hello")
    assert status == 200 and j["answers"][0]["body"] == "secure\n", j
    status, body, _ = call(hport, upstream="strict", url="/hello")
    assert status == 502 and "certificate" in body.lower(), body
    status, j, _ = call(hport, upstream="lax", url="/hello")
    assert status == 200 and j["answers"][0]["body"] == "secure\n", j


def test_a_client_that_leaves_cancels_the_transfer(tmpdir_path, servers):
    os.makedirs(tmpdir_path + "/slow")
    _, sport, _ = start_fpmd(tmpdir_path + "/slow", servers, "")
    f, hport = client(tmpdir_path, servers)
    workers = f.workers()
    s = socket.create_connection(("127.0.0.1", hport))
    s.sendall(b"GET /t/http?url=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fprobe%%3F"
              b"sleep_ms%%3D20000 HTTP/1.1\r\nHost: x\r\n\r\n" % sport)
    wait_for(lambda: status_json(sport, full=False)["in flight requests"]
             == 2, 5, "the slow call in flight upstream")
    s.close()
    # the upstream sees its client (the transfer) go at once
    wait_for(lambda: status_json(sport, full=False)["in flight requests"]
             == 1, 5, "the upstream's request cancelled")
    # the handler, back from fpmd_await_all with an error, asked
    # fpmd_call_failed what failed: an answer, not a NULL, in the same
    # turn of the loop as the cancel
    assert all(alive(p) for p in workers), f.logs()


def test_a_breaker_opens_for_every_worker_falls_back_and_closes(
        tmpdir_path, servers):
    os.makedirs(tmpdir_path + "/flaky")
    _, sport, _ = start_fpmd(tmpdir_path + "/flaky", servers, "")
    up = """
        upstreams:
          flaky:
            servers: [http://127.0.0.1:%d]
            breaker: { failures: 3, open: 1500ms }
          kind:
            servers: [http://127.0.0.1:%d]
            breaker: { failures: 3, open: 1500ms }
            fallback: { status: 200, content_type: application/json,
                        body: '{"items": []}' }
        """ % (sport, sport)
    f, hport = client(tmpdir_path, servers, up, children=2)
    fport = f.fport
    wait_for(lambda: len(f.workers()) == 2, 10, "two workers")
    # three 5xx answers in a row (each an answer to its caller) open it
    for _ in range(3):
        status, j, _ = call(hport, upstream="flaky", url="/probe?status=500")
        assert status == 200 and j["answers"][0]["status"] == 500, j
    f.wait_log(r"WARNING: \[pool www\] upstream flaky: server "
               r"http://127.0.0.1:%d: circuit open: calls to it fail at once"
               % sport)
    # the status page shows it, in every format
    rows = {(r["name"], r["server"]): r for r in status_json(
        hport, full=False)["upstream_servers"]}
    flaky = rows[("flaky", "http://127.0.0.1:%d" % sport)]
    assert (flaky["circuit"], flaky["circuit opened"]) == ("open", 1), rows
    code, _, body = fc.request(("127.0.0.1", fport),
                               uri="/status?openmetrics").split()
    assert code == 200 and promtool_lint(body) == PHP_FPM_LINT
    assert ('fpmd_upstream_circuit{upstream="flaky",server="http://127.0.0.1'
            ':%d",state="open"} 1\n' % sport) in body.decode()
    # open for both workers: at once, a 503 naming the circuit
    # (each call on a new connection: whichever worker accepts it, until
    # both have answered)
    pids, calls = set(), 0
    while calls < 12 or (len(pids) < 2 and calls < 60):
        status, body, took = call(hport, upstream="flaky", url="/probe")
        assert status == 503 and took < 0.5, (status, body)
        assert "every server's circuit is open" in body, body
        pids.add(int(re.match(r"pid (\d+):", body).group(1)))
        calls += 1
    assert len(pids) == 2, pids
    # with a fallback: answers from it meanwhile
    for _ in range(3):
        call(hport, upstream="kind", url="/probe?status=503")
    status, j, _ = call(hport, upstream="kind", url="/probe")
    a = j["answers"][0]
    assert (status, a["status"], a["fallback"], a["body"]) == (
        200, 200, True, '{"items": []}'), j
    # once open has passed, one probe goes, succeeds, and closes it
    wait_for(lambda: call(hport, upstream="flaky", url="/probe")[0] == 200,
             5, "the circuit half-open and its probe answered")
    f.wait_log(r"NOTICE: \[pool www\] upstream flaky: server "
               r"http://127.0.0.1:%d: circuit closed$" % sport)
    for _ in range(4):
        assert call(hport, upstream="flaky", url="/probe")[0] == 200
    rows = {b["name"]: b for b in status_json(hport, full=False)["backends"]}
    assert rows["flaky"]["exhausted"] >= 12, rows
    circuits = {r["name"]: r for r in status_json(
        hport, full=False)["upstream_servers"]}
    assert circuits["flaky"]["circuit"] == "closed", circuits
    assert circuits["flaky"]["circuit refused"] >= 12, circuits


@pytest.mark.parametrize("extra,message", [
    ("upstreams:\n  u: { servers: [ftp://x] }\n",
     r":\d+:18: servers: \"ftp://x\" is not an http:// or https:// URL"),
    ("upstreams:\n  u: { servers: [http://a], balancer: fastest }\n",
     r":\d+:\d+: balancer: \"fastest\" is not one of round_robin"),
    ("upstreams:\n  u: { timeout: 1s }\n",
     r":\d+:3: upstreams.u: one of servers: or discover: is needed"),
])
def test_config_errors_name_file_line_column(tmpdir_path, extra, message):
    rc, err, conf = config_check(tmpdir_path, extra)
    assert rc == 78, err
    assert re.search(re.escape(conf) + message, err), err


# --- streams -------------------------------------------------------------

def stream(hport, **q):
    return call(hport, path="/t/http/stream", **q)


def start_drip(tmp, servers):
    """A second fpmd-test whose /t/drip answers pieces with pauses
    between them, written as they go: (Fpmd, its HTTP port)."""
    d = os.path.join(tmp, "drip")
    os.makedirs(d)
    f, sport, _ = start_fpmd(d, servers, "# a slow streaming answer\n"
                             "  - match: GET /t/drip\n"
                             "    handler: t_drip\n")
    return f, sport


def test_a_stream_reads_a_body_far_over_max_body_in_bounded_memory(
        tmpdir_path, servers, web):
    # text (the answer shows its first bytes in JSON)
    data = os.urandom(10 << 20).hex().encode()
    with open(os.path.join(web.files, "big.bin"), "wb") as f:
        f.write(data)
    _, hport = client(tmpdir_path, servers, """
        upstreams:
          files:
            servers: [http://127.0.0.1:%d]
            max_body: 1m
        """ % web.ports["plain"])
    # a whole call cannot take it
    status, body, _ = call(hport, upstream="files", url="/files/big.bin")
    assert status == 502 and "over max_body" in body, body
    status, j, _ = stream(hport, upstream="files", url="/files/big.bin")
    assert status == 200, j
    assert j["status"] == 200 and j["bytes"] == len(data), j
    assert j["adler32"] == zlib.adler32(data), j
    # the worker never held the body: its peak grew by far less (under
    # valgrind the peak counts valgrind's own memory too)
    grown = j["hwm_after_kb"] - j["hwm_before_kb"]
    assert grown < (12 if SANITIZED or VALGRIND else 4) * 1024, j
    # and the same from a plain URL, twice over one kept connection
    for _ in range(2):
        status, j, _ = stream(hport, url="http://127.0.0.1:%d/files/big.bin"
                              % web.ports["plain"])
        assert (status, j["bytes"], j["adler32"]) == (
            200, len(data), zlib.adler32(data)), j
    # an answer without a body, and one with a short one
    status, j, _ = stream(hport, upstream="files", url="/nothing")
    assert (status, j["status"]) == (200, 404), j
    status, j, _ = stream(hport, url="http://127.0.0.1:%d/hello"
                          % web.ports["plain"])
    assert (j["status"], j["bytes"], j["head"]) == (200, 6, "hello\n"), j
    rows = {b["name"]: b for b in wait_for(lambda: (lambda r: r if any(
        b["name"] == "files" and b["calls"] == 3 for b in r) else None)(
            status_json(hport, full=False).get("backends", [])), 5,
        "the upstream's row")}
    assert (rows["files"]["errors"], rows["files"]["timeouts"]) == (1, 0)


def test_a_slow_upstream_is_read_piece_by_piece(tmpdir_path, servers):
    _, sport = start_drip(tmpdir_path, servers)
    _, hport = client(tmpdir_path, servers)
    status, j, _ = stream(hport, url="http://127.0.0.1:%d/t/drip?pieces=3&"
                          "size=1000&sleep_ms=700" % sport)
    assert status == 200 and j["status"] == 200, j
    assert j["bytes"] == 3000 and j["head"] == "a" * 1000 + "b" * 1000 \
        + "c" * 1000, j
    # the first read had the first piece alone, long before the last one
    # was written
    assert j["first_len"] == 1000, j
    assert j["end_ms"] - j["first_ms"] >= 1300, j


@pytest.mark.parametrize("length", [False, True])
def test_a_stream_uploads_a_body_written_in_pieces(tmpdir_path, servers,
                                                   length):
    os.makedirs(tmpdir_path + "/up")
    _, sport, _ = start_fpmd(tmpdir_path + "/up", servers, "")
    _, hport = client(tmpdir_path, servers, """
        upstreams:
          up:
            servers: [http://127.0.0.1:%d]
        """ % sport)
    size = 5 * 1000 * 1000 + 17
    data = (bytes(range(251)) * (size // 251 + 1))[:size]
    q = {"upstream": "up", "url": "/probe", "upload": size, "piece": 60000}
    if length:
        q["length"] = 1
    status, j, _ = stream(hport, **q)
    assert status == 200 and j["status"] == 200, j
    got = json.loads(j["head"])
    assert got["method"] == "POST", got
    assert got["body_length"] == size, got
    import hashlib
    assert got["body_sha256"] == hashlib.sha256(data).hexdigest(), got
    if length:
        assert got["params"]["CONTENT_LENGTH"] == str(size), got["params"]
    else:
        assert got["headers"]["TRANSFER_ENCODING"] == "chunked", got


@pytest.mark.parametrize("idle", [False, True])
def test_a_client_that_leaves_cancels_the_stream(tmpdir_path, servers, idle):
    _, sport = start_drip(tmpdir_path, servers)
    _, hport = client(tmpdir_path, servers)
    # reading (parked in fpmd_http_stream_read), or between the head and
    # its first read with the stream left open
    q = urllib.parse.urlencode({
        "url": "http://127.0.0.1:%d/t/drip?pieces=2&size=10&sleep_ms=20000"
        % sport, "idle_ms": 30000 if idle else 0})
    s = socket.create_connection(("127.0.0.1", hport))
    s.sendall(b"GET /t/http/stream?%s HTTP/1.1\r\nHost: x\r\n\r\n"
              % q.encode())
    wait_for(lambda: status_json(sport, full=False)["in flight requests"]
             == 2, 5, "the stream in flight upstream")
    s.close()
    wait_for(lambda: status_json(sport, full=False)["in flight requests"]
             == 1, 5, "the upstream's request cancelled")
    # the worker goes on serving
    status, j, _ = stream(hport, url="http://127.0.0.1:%d/t/drip?pieces=1"
                          % sport)
    assert (status, j["bytes"]) == (200, 100), j


def test_a_stream_times_out_as_504_unless_told_not_to(tmpdir_path, servers):
    _, sport = start_drip(tmpdir_path, servers)
    _, hport = client(tmpdir_path, servers, """
        upstreams:
          slow:
            servers: [http://127.0.0.1:%d]
            timeout: 600ms
        """ % sport)
    drip = "/t/drip?pieces=2&size=10&sleep_ms=3000"
    # the head and a first piece came: the read times out
    status, body, took = stream(hport, upstream="slow", url=drip)
    assert status == 504 and 0.55 < took < 2, (status, body, took)
    assert "Timeout" in body or "timed out" in body, body
    # the call's own timeout, shorter than the plain URLs' 10 s
    status, body, took = stream(hport, url="http://127.0.0.1:%d%s"
                                % (sport, drip), timeout_ms=300)
    assert status == 504 and 0.25 < took < 1.5, (status, body, took)
    # and none at all: past the upstream's 600 ms
    status, j, took = stream(hport, upstream="slow", timeout_ms=2 ** 64 - 1,
                             url="/t/drip?pieces=3&size=10&sleep_ms=500")
    assert status == 200 and j["bytes"] == 30 and took >= 0.95, (j, took)
    rows = {b["name"]: b for b in wait_for(lambda: (lambda r: r if any(
        b["name"] == "slow" and b["calls"] == 2 for b in r) else None)(
            status_json(hport, full=False).get("backends", [])), 5,
        "the upstream's row")}
    assert (rows["slow"]["timeouts"], rows["slow"]["errors"]) == (1, 0), rows


@pytest.mark.parametrize("misuse,message", [
    ("read_first", "fpmd_http_stream_read before fpmd_http_stream_response"),
    ("write_after_end", "fpmd_http_stream_write after fpmd_http_stream_end"),
])
def test_stream_calls_out_of_order_fail_clearly(tmpdir_path, servers, web,
                                                misuse, message):
    f, hport = client(tmpdir_path, servers)
    status, body, _ = stream(hport, misuse=misuse, url="http://127.0.0.1:%d"
                             "/echo" % web.ports["plain"])
    assert status == 500 and message in body, (status, body)
    f.wait_log(r"ERROR: .*http stream: " + re.escape(message))

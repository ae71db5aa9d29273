# SPDX-License-Identifier: BSD-2-Clause
"""FastCGI protocol cases against the real daemon over raw sockets, plus
libfcgi's cgi-fcgi as an independent client."""

import fcntl
import hashlib
import json
import os
import resource
import socket
import struct
import subprocess
import termios
import time

import pytest

import fcgi_client as fc
from conftest import (SANITIZED, Fpmd, base_conf, free_port, need,
                      open_connections, wait_for, wait_taken)


@pytest.fixture
def daemon(tmpdir_path, servers):
    port = free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    fpmd = Fpmd(tmpdir_path, base_conf(port, sock, """
        limits: { params: 8k, body: 1m }
        timeouts: { header_read: 1s, keepalive: 2s }
    """))
    servers.append(fpmd)
    fpmd.start(("127.0.0.1", port))
    return fpmd, ("127.0.0.1", port), sock


def body_of(r):
    status, headers, body = r.split()
    return status, dict(headers), body


def test_get_values_answers_the_three_known_names(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    query = fc.encode_pairs([("FCGI_MAX_CONNS", ""), ("FCGI_MAX_REQS", ""),
                             ("FCGI_MPXS_CONNS", ""), ("OTHER", "")])
    c.send(fc.record(fc.GET_VALUES, 0, query))
    (rtype, content), = c.wait_management(1)
    assert rtype == fc.GET_VALUES_RESULT
    values = fc.decode_pairs(content)
    # a connection carries 128 requests at once (limits.fastcgi_requests),
    # fewer than pm.max_concurrency's 1024
    assert values == {"FCGI_MAX_CONNS": "4096", "FCGI_MAX_REQS": "128",
                      "FCGI_MPXS_CONNS": "1"}
    c.close()


def test_without_keep_conn_the_connection_closes_after_end_request(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/hello")))
    (r,) = c.wait([1])
    assert body_of(r)[2] == b"hello world\n"
    assert r.protocol_status == fc.REQUEST_COMPLETE
    assert r.empty_stdout_records == 1
    assert c.is_closed()
    assert c.records_after_end == 0


def test_no_request_is_taken_after_one_without_keep_conn(daemon):
    # A BEGIN_REQUEST sent behind a request without FCGI_KEEP_CONN: the
    # connection closes after the first answer, as php-fpm's does, instead
    # of holding the second's unfinished params until header_read (1 s
    # here) answers it 408.
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/hello"))
           + fc.begin(2, flags=fc.KEEP_CONN)
           + fc.record(fc.PARAMS, 2, fc.encode_pairs(
               [("REQUEST_METHOD", "GET")])))
    (r,) = c.wait([1])
    assert body_of(r)[2] == b"hello world\n"
    assert c.is_closed(3.0)
    assert sorted(c.responses) == [1]
    assert c.records_after_end == 0


def test_keep_conn_serves_many_requests_on_one_connection(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    for i in range(1, 6):
        c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?n=%d" % i),
                                keep_conn=True))
        (r,) = c.wait([1])
        status, _, body = body_of(r)
        assert status == 200
        p = json.loads(body)
        # nothing of the previous request leaks into the next one
        assert p["query"] == "n=%d" % i
        c.responses.clear()
    assert not c.is_closed(0.3)
    c.close()


def test_interleaved_requests_on_one_connection(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    a = fc.request_bytes(1, fc.cgi_params(uri="/probe?id=1&sleep_ms=100"),
                         keep_conn=True)
    b = fc.request_bytes(2, fc.cgi_params(uri="/probe?id=2"),
                         keep_conn=True)
    # records of the two requests alternate on the wire (mpxs-conns)
    recs_a, recs_b = split_records(a), split_records(b)
    wire = b""
    for i in range(max(len(recs_a), len(recs_b))):
        wire += (recs_a[i] if i < len(recs_a) else b"")
        wire += (recs_b[i] if i < len(recs_b) else b"")
    c.send(wire)
    r1, r2 = c.wait([1, 2])
    assert json.loads(body_of(r1)[2])["query"] == "id=1&sleep_ms=100"
    assert json.loads(body_of(r2)[2])["query"] == "id=2"
    c.close()


def split_records(data):
    out = []
    while data:
        clen, plen = struct.unpack(">HB", data[4:7])
        out.append(data[:8 + clen + plen])
        data = data[8 + clen + plen:]
    return out


@pytest.mark.parametrize("split", [1, 3, 7, 8, 9, 13])
def test_records_split_at_any_byte_boundary(daemon, split):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    body = os.urandom(3000)
    c.send(fc.request_bytes(1, fc.cgi_params("POST", "/probe", body), body),
           split=split)
    (r,) = c.wait([1])
    p = json.loads(body_of(r)[2])
    assert p["body_sha256"] == hashlib.sha256(body).hexdigest()
    c.close()


def test_params_straddling_records_and_long_lengths(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    params = fc.cgi_params(uri="/probe", extra={"HTTP_X_LONG": "v" * 1000,
                                                "X" * 200: "y"})
    encoded = fc.encode_pairs(params.items())
    wire = fc.begin(1)
    # PARAMS content cut into 5-byte records: names, values and 4-byte
    # lengths straddle record boundaries
    for i in range(0, len(encoded), 5):
        wire += fc.record(fc.PARAMS, 1, encoded[i:i + 5])
    wire += fc.record(fc.PARAMS, 1) + fc.record(fc.STDIN, 1)
    c.send(wire)
    (r,) = c.wait([1])
    p = json.loads(body_of(r)[2])
    assert p["headers"]["X_LONG"] == "v" * 1000
    assert p["params"]["X" * 200] == "y"
    c.close()


def test_abort_gets_exactly_one_end_request(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=30000"),
                            keep_conn=True))
    wait_taken(addr)
    t0 = time.time()
    c.send(fc.record(fc.ABORT_REQUEST, 1))
    (r,) = c.wait([1], deadline=15)
    # ended by the abort, not by the handler's 30 s
    assert time.time() - t0 < 10
    assert r.end_count == 1
    # the connection still works and nothing more came for id 1
    c.send(fc.request_bytes(2, fc.cgi_params(uri="/hello"), keep_conn=True))
    (r2,) = c.wait([2])
    assert body_of(r2)[2] == b"hello world\n"
    assert c.responses[1].end_count == 1
    c.close()


def test_unknown_record_type_gets_unknown_type(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.record(42, 0, b"whatever"))
    (rtype, content), = c.wait_management(1)
    assert rtype == fc.UNKNOWN_TYPE and content[0] == 42
    c.close()


@pytest.mark.parametrize("role", [fc.AUTHORIZER, fc.FILTER, 7])
def test_other_roles_get_unknown_role(daemon, role):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.begin(1, role=role))
    (r,) = c.wait([1])
    assert r.protocol_status == fc.UNKNOWN_ROLE
    c.close()


@pytest.mark.parametrize("bad", [
    fc.record(fc.BEGIN_REQUEST, 1, b"\0\1\0\0\0\0\0\0", version=2),
    fc.record(fc.BEGIN_REQUEST, 1, b"\0\1\0"),
    fc.record(fc.STDOUT, 1, b"x"),
    fc.begin(1) + fc.record(fc.PARAMS, 1, b"\x85\x01abc") + fc.record(
        fc.PARAMS, 1),
], ids=["version2", "short-begin", "stdout-to-server", "truncated-pair"])
def test_malformed_input_closes_only_that_connection(daemon, bad):
    _, addr, _ = daemon
    other = fc.Conn(addr)
    other.send(fc.begin(1, flags=fc.KEEP_CONN))
    c = fc.Conn(addr)
    c.send(bad)
    assert c.is_closed(10)
    # the half-sent request on the other connection completes normally
    params = fc.encode_pairs(fc.cgi_params(uri="/hello").items())
    other.send(fc.stream(fc.PARAMS, 1, params) + fc.record(fc.STDIN, 1))
    (r,) = other.wait([1])
    assert body_of(r)[2] == b"hello world\n"
    other.close()


def test_params_over_limit_get_431(daemon):
    _, addr, _ = daemon
    r = fc.request(addr, uri="/probe", extra={"HTTP_X_BIG": "x" * 10000})
    assert body_of(r)[0] == 431


def test_body_over_limit_gets_413(daemon):
    _, addr, _ = daemon
    body = b"x" * (2 << 20)
    r = fc.request(addr, "POST", "/probe", body)
    assert body_of(r)[0] == 413
    # also when CONTENT_LENGTH understates the stream
    c = fc.Conn(addr)
    params = fc.cgi_params("POST", "/probe", b"x")
    c.send(fc.begin(1) + fc.stream(fc.PARAMS, 1,
                                   fc.encode_pairs(params.items())))
    c.send(fc.stream(fc.STDIN, 1, body))
    (r,) = c.wait([1])
    assert body_of(r)[0] == 413
    c.close()


def test_content_length_0_needs_no_stdin(daemon):
    """CONTENT_LENGTH 0: the request runs without any STDIN record, as
    php-fpm answers it (HAProxy 2.6 sends none for an empty chunked
    body); STDIN that comes anyway is not body, and the connection goes
    on with the next request."""
    _, addr, _ = daemon
    c = fc.Conn(addr)
    params = fc.cgi_params("POST", "/probe", extra={"CONTENT_LENGTH": "0"})
    c.send(fc.begin(1, flags=fc.KEEP_CONN) + fc.stream(
        fc.PARAMS, 1, fc.encode_pairs(params.items())))
    (r,) = c.wait([1])
    p = json.loads(body_of(r)[2])
    assert p["body_length"] == 0 and p["params"]["CONTENT_LENGTH"] == "0"
    c.responses.clear()
    c.send(fc.begin(2, flags=fc.KEEP_CONN) + fc.stream(
        fc.PARAMS, 2, fc.encode_pairs(params.items()))
        + fc.stream(fc.STDIN, 2, b"not body"))
    (r,) = c.wait([2])
    assert json.loads(body_of(r)[2])["body_length"] == 0
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/hello"), keep_conn=True))
    (r,) = c.wait([1])
    assert body_of(r)[2] == b"hello world\n"
    c.close()


def test_head_gets_no_body(daemon):
    """HEAD: the head, no body bytes (RFC 3875 4.3.3), as php-fpm
    answers: HAProxy 2.6 fails a HEAD answer with a body."""
    _, addr, _ = daemon
    r = fc.request(addr, "HEAD", "/probe?size=5000")
    assert bytes(r.stdout) == (b"Content-Type: application/octet-stream"
                               b"\r\n\r\n")
    assert r.protocol_status == fc.REQUEST_COMPLETE
    r = fc.request(addr, "HEAD", "/hello")
    assert bytes(r.stdout).endswith(b"\r\n\r\n")


def test_header_read_timeout_closes_a_silent_connection(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.begin(1))
    t0 = time.time()
    assert c.is_closed(15)
    # header_read is 1 s, counted from the connection's start
    assert 0.5 < time.time() - t0 < 6


def test_idle_keep_conn_connection_is_closed_after_keepalive(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(), keep_conn=True))
    c.wait([1])
    t0 = time.time()
    assert c.is_closed(15)
    # keepalive is 2 s
    assert 1.5 < time.time() - t0 < 8


def test_keepalive_counts_from_the_last_answer(daemon):
    """A kept connection in steady use is never idle for keepalive (2 s),
    however long it has been open: each answer starts the count again,
    even one given before the read that brought its request ended."""
    _, addr, _ = daemon
    c = fc.Conn(addr)
    end = time.monotonic() + 5
    n = 0
    # the traffic: a request every 200 ms for 5 s
    while time.monotonic() < end:
        n += 1
        c.send(fc.request_bytes(n, fc.cgi_params(uri="/hello"),
                                keep_conn=True))
        r, = c.wait([n])
        assert r is not None and r.split()[0] == 200, n
        time.sleep(0.2)
    c.close()


def test_stdout_records_are_padded_and_bounded(daemon):
    _, addr, _ = daemon
    c = fc.Conn(addr)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?size=200000")))
    sizes, paddings = [], []
    while True:
        rec = c.read_record()
        assert rec is not None
        version, rtype, req_id, content, plen = rec
        if rtype == fc.STDOUT:
            sizes.append(len(content))
            paddings.append(plen)
        if rtype == fc.END_REQUEST:
            break
    assert max(sizes) <= 65535
    assert sizes.count(0) == 1 and sizes[-1] == 0
    assert all((s + p) % 8 == 0 for s, p in zip(sizes, paddings))
    c.close()


def test_unix_socket_and_cgi_fcgi_client(daemon):
    _, _, sock = daemon
    r = fc.request(sock, uri="/hello")
    assert body_of(r)[2] == b"hello world\n"
    tool = "/usr/bin/cgi-fcgi"
    need(tool, "libfcgi's cgi-fcgi")
    body = b"a=1&b=2"
    out = subprocess.run(
        [tool, "-bind", "-connect", sock],
        env={"REQUEST_METHOD": "POST", "SCRIPT_NAME": "/probe",
             "REQUEST_URI": "/probe", "CONTENT_LENGTH": str(len(body)),
             "CONTENT_TYPE": "application/x-www-form-urlencoded"},
        input=body, capture_output=True, timeout=10)
    head, _, payload = out.stdout.partition(b"\r\n\r\n")
    # a 200 has no Status line, as php-fpm sends it
    assert head.startswith(b"Content-Type: application/json")
    p = json.loads(payload)
    assert p["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert out.returncode == 0


def test_a_thousand_sleeping_requests_on_one_worker(tmpdir_path, servers):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)),
                                                hard))
    port = free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    fpmd = Fpmd(tmpdir_path, base_conf(port, sock).replace(
        "max_children: 2", "max_children: 1"))
    servers.append(fpmd)
    fpmd.start(("127.0.0.1", port))
    conns = []
    t0 = time.time()
    for i in range(1000):
        c = fc.Conn(("127.0.0.1", port))
        c.send(fc.request_bytes(1, fc.cgi_params(
            uri="/probe?sleep_ms=200&i=%d" % i)))
        conns.append(c)
    for i, c in enumerate(conns):
        (r,) = c.wait([1])
        assert json.loads(body_of(r)[2])["query"] == \
            "sleep_ms=200&i=%d" % i
        c.close()
    elapsed = time.time() - t0
    # one after another they would take 200 s: the bound proves they ran
    # concurrently; the figure itself is printed, not asserted
    print("1000 x sleep_ms=200 on one worker: %.3f s" % elapsed)
    assert elapsed < 30, elapsed
    assert len(fpmd.workers()) == 1


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_reader_gets_backpressure_not_buffering(daemon):
    fpmd, addr, _ = daemon
    size = 32 << 20
    # the master listens before its workers are all up
    wait_for(lambda: len(fpmd.workers()) == 2, 10, "both workers")
    before = {p: rss_kib(p) for p in fpmd.workers()}
    c = fc.Conn(addr)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?size=%d" % size)))

    def unread():
        return struct.unpack("i", fcntl.ioctl(c.sock, termios.FIONREAD,
                                              b"\0\0\0\0"))[0]
    # the answer has filled this socket's small receive buffer
    wait_for(lambda: unread() >= 32768, 10, "a full receive buffer")
    # a worker that buffered the answer instead of waiting would be
    # growing now: give it the time to show
    time.sleep(0.5)
    # the handler is parked on a full socket: the worker holds at most its
    # high-water mark, not the 32 MiB answer (ASan's shadow and quarantine
    # add several MiB to a worker's first big answer)
    grown = max(rss_kib(p) - before[p] for p in fpmd.workers())
    assert grown < (16 if SANITIZED else 8) * 1024, grown
    # meanwhile the worker serves others
    assert body_of(fc.request(addr, uri="/hello"))[2] == b"hello world\n"
    c.sock.settimeout(30)
    (r,) = c.wait([1], deadline=60)
    assert len(body_of(r)[2]) == size
    c.close()


def test_connections_are_released_after_async_answers(daemon):
    _, addr, _ = daemon
    for i in range(5):
        r = fc.request(addr, uri="/probe?sleep_ms=20&i=%d" % i)
        assert body_of(r)[0] == 200

    wait_for(lambda: open_connections(addr) == 0, 10,
             "connections released")

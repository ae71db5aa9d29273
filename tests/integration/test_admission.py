# SPDX-License-Identifier: BSD-2-Clause
"""Admission control: a worker at pm.max_concurrency queues requests up to
pm.max_queue, each for timeouts.queue at most; past either bound the answer
is a prompt 503 with Retry-After (an HTTP status line, or a FastCGI Status
head and its END_REQUEST), logged as a count, and shown on the status page.
When every worker is at its cap, new connections are taken and answered
instead of being left in the listen queue."""

import os
import socket
import time

import fcgi_client as fc
from conftest import (Fpmd, base_conf, free_port, http_request, status_json,
                      wait_for)


def start(tmp, servers, pm, extra=""):
    """fpmd with a FastCGI and an HTTP listener and the given pm keys."""
    fport, hport = free_port(), free_port()
    text = base_conf(fport, os.path.join(tmp, "a.sock"), extra).replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1).replace(
        "  max_children: 2\n", pm)
    f = Fpmd(tmp, text)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    return f, ("127.0.0.1", fport), hport


def ends_in_order(c, ids, deadline=20):
    """Reads c until every id has its END_REQUEST; returns the ids in the
    order their END_REQUESTs came."""
    order = []
    end = time.time() + deadline
    while len(order) < len(ids):
        assert time.time() < end, "END_REQUEST missing: %r" % (order,)
        rec = c.read_record()
        assert rec is not None, "connection closed after %r" % (order,)
        c._dispatch(rec)
        if rec[1] == fc.END_REQUEST:
            order.append(rec[2])
    return order


def http_get(port, path, timeout=20):
    """One HTTP/1.1 request on a new connection: (status, headers as a
    lower-cased dict, body, seconds taken)."""
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                  % path.encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    took = time.time() - t0
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body, took


def test_fastcgi_request_beyond_the_queue_gets_503_at_once(tmpdir_path,
                                                           servers):
    f, addr, hport = start(tmpdir_path, servers,
                           "  max_children: 1\n  max_concurrency: 2\n"
                           "  max_queue: 1\n", "timeouts: { queue: 60s }\n")
    c = fc.Conn(addr, timeout=20)
    wire = b""
    for i in range(1, 5):
        wire += fc.request_bytes(i, fc.cgi_params(
            uri="/probe?sleep_ms=1500&i=%d" % i), keep_conn=True)
    c.send(wire)
    # two run, one waits, the fourth is refused before any of them ends
    order = ends_in_order(c, [1, 2, 3, 4])
    assert order[0] == 4 and order[3] == 3, order
    status, headers, body = c.responses[4].split()
    assert status == 503, body
    assert ("Retry-After", "1") in headers
    assert c.responses[4].protocol_status == fc.REQUEST_COMPLETE
    for i in (1, 2, 3):
        assert c.responses[i].split()[0] == 200
    c.close()
    f.wait_log(r"server reached pm\.max_queue \(1 requests waiting, "
               r"2 running\): answered 503")
    j = status_json(hport, full=False)
    assert j["refused requests"] == 1
    assert j["max listen queue"] >= 1
    assert j["listen queue"] == 0
    # the bound: the backlogs of the two TCP listeners, and max_queue
    assert j["listen queue len"] == 511 + 511 + 1
    # an fpmd figure: among fpmd's keys after php-fpm's, and in OpenMetrics
    # a counter of fpmd's, the phpfpm_ names being php-fpm's own series
    keys = list(j)
    assert keys.index("slow requests") < keys.index("in flight requests")
    assert keys.index("refused requests") == keys.index(
        "in flight requests") + 1
    code, _, body = http_request(hport, "GET", "/status?openmetrics")
    assert code == 200
    assert ("# TYPE fpmd_refused_requests_total counter\n"
            "fpmd_refused_requests_total 1\n") in body.decode()
    assert "phpfpm_refused" not in body.decode()


def test_http_request_waits_timeouts_queue_then_gets_503(tmpdir_path,
                                                         servers):
    f, addr, hport = start(tmpdir_path, servers,
                           "  max_children: 1\n  max_concurrency: 2\n",
                           "timeouts: { queue: 500ms, slowlog: 100ms }\n")
    c = fc.Conn(addr, timeout=20)
    c.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=4000"),
                            keep_conn=True)
           + fc.request_bytes(2, fc.cgi_params(uri="/probe?sleep_ms=4000"),
                              keep_conn=True))
    # both slots taken: each running request gets its slow-log line
    f.wait_log("executing too slow", count=2)
    status, headers, body, took = http_get(hport, "/hello")
    assert status == 503, body
    assert headers["retry-after"] == "1"
    # it waited the queue's deadline, not for a slot (4 s away)
    assert 0.4 < took < 3.5, took
    assert not c.responses, "the sleepers ended before the 503"
    assert [r.split()[0] for r in c.wait([1, 2])] == [200, 200]
    c.close()
    f.wait_log(r"waited timeouts\.queue \(0\.500 sec\) for one of "
               r"pm\.max_concurrency \(2\) slots: answered 503")
    assert status_json(hport, full=False)["refused requests"] == 1


def test_saturated_pool_answers_new_connections_instead_of_leaving_them(
        tmpdir_path, servers):
    """Two workers of one request each, no queue: a request reaches the
    worker with room while there is one; once both are busy a new
    connection is taken and refused at once, not left in the listen queue
    until a request ends."""
    f, addr, hport = start(tmpdir_path, servers,
                           "  max_children: 2\n  max_concurrency: 1\n"
                           "  max_queue: 0\n",
                           "timeouts: { slowlog: 100ms }\n")
    wait_for(lambda: len(f.workers()) == 2, 10, "workers")
    first = fc.Conn(addr, timeout=20)
    first.send(fc.request_bytes(1, fc.cgi_params(uri="/probe?sleep_ms=4000")))
    f.wait_log("executing too slow", count=1)
    # one worker is busy: the other serves
    status, _, body, _ = http_get(hport, "/hello")
    assert (status, body) == (200, b"hello world\n")
    second = fc.Conn(addr, timeout=20)
    second.send(fc.request_bytes(1, fc.cgi_params(
        uri="/probe?sleep_ms=4000")))
    f.wait_log("executing too slow", count=2)
    status, headers, _, took = http_get(hport, "/hello")
    assert status == 503 and headers["retry-after"] == "1"
    assert took < 3.0, took
    assert not first.responses and not second.responses
    for c in (first, second):
        assert c.wait([1])[0].split()[0] == 200
        c.close()
    assert status_json(hport, full=False)["refused requests"] == 1

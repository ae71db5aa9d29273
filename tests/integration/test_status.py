# SPDX-License-Identifier: BSD-2-Clause
"""The status page of a worker that runs many requests at once: php-fpm's
row of a process is its oldest request in flight, fpmd's list beside it
holds the oldest FPMD_SB_FLIGHTS (16) of them, and the OpenMetrics page
passes promtool's lint but for php-fpm's own counter names. One worker,
so that every status request lands where the long requests run."""

import os
import re
import socket
import subprocess

import pytest

import fcgi_client
from backends import no_worker_died  # noqa: F401
from conftest import (Fpmd, base_conf, free_port, http_request, need,
                      status_json, wait_for)

PROMTOOL = "/usr/bin/promtool"
FLIGHTS = 16

# promtool's lint of php-fpm's own series, which fpmd keeps as php-fpm
# names them: dashboards and php-fpm_exporter users query these names.
PHP_FPM_LINT = {
    'phpfpm_accepted_connections counter metrics should have "_total" '
    'suffix',
    'phpfpm_max_active_processes counter metrics should have "_total" '
    'suffix',
    'phpfpm_max_children_reached counter metrics should have "_total" '
    'suffix',
    'phpfpm_max_listen_queue counter metrics should have "_total" suffix',
    'phpfpm_slow_requests counter metrics should have "_total" suffix',
    'phpfpm_start_since counter metrics should have "_total" suffix',
}


def start_fpmd(tmp, servers, workers):
    """fpmd with HTTP and FastCGI listeners, a Redis pool nothing
    connects to (min 0: its series show, zero) and a shared table."""
    hport, fport = free_port(), free_port()
    sock = os.path.join(tmp, "fpmd.sock")
    text = base_conf(fport, sock, """
        pools:
          cache:
            driver: redis
            servers: [127.0.0.1:9]
            min: 0
        tables:
          hits:
            rows: 16
            columns:
              - { name: n, type: int }
        """).replace("listen:\n", "listen:\n  - http: 127.0.0.1:%d\n"
                     % hport, 1).replace("max_children: 2",
                                         "max_children: %d" % workers)
    f = Fpmd(tmp, text)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    return f, hport


@pytest.fixture
def one_worker(tmpdir_path, servers):
    return start_fpmd(tmpdir_path, servers, 1)


class Requests:
    """Requests sent whole on connections of their own and left running;
    closed at the end."""

    def __init__(self, port):
        self.port = port
        self.socks = []

    def send(self, path):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                   % path).encode())
        self.socks.append(s)
        return s

    def close(self):
        for s in self.socks:
            s.close()


@pytest.fixture
def requests_sent(one_worker):
    r = Requests(one_worker[1])
    yield r
    r.close()


def the_process(hport):
    j = status_json(hport)
    assert len(j["processes"]) == 1, j
    return j["processes"][0]


def listed(proc):
    return [f["uri"] for f in proc["oldest in flight"]]


def wait_listed(hport, uri):
    return wait_for(lambda: uri in listed(the_process(hport)), 10,
                    "%s in the in-flight list" % uri)


def test_row_is_the_oldest_request_in_flight(one_worker, requests_sent):
    f, hport = one_worker
    long_uri = "/probe?sleep_ms=20000&long=1"
    requests_sent.send(long_uri)
    # php-fpm's row alone: a status request on the same worker starts
    # after the long one, and must not hide it
    wait_for(lambda: the_process(hport)["request uri"] == long_uri, 10,
             "the long request in php-fpm's row")
    before = 0
    # every status request runs on the same worker, newer than the long
    # one: the row stays the long one, its duration counting
    for _ in range(5):
        p = the_process(hport)
        assert p["state"] == "Running"
        assert p["request uri"] == long_uri, p
        assert p["request method"] == "GET" and p["script"] == "/probe"
        assert p["request duration"] > before
        before = p["request duration"]
        assert p["last request cpu"] == 0 and p["last request memory"] == 0
        assert p["in flight"] == 2
        first, second = p["oldest in flight"]
        assert first == {"duration": first["duration"], "method": "GET",
                         "uri": long_uri, "route": "/probe"}
        assert first["duration"] >= p["request duration"]
        assert second["uri"] == "/status?json&full"
        assert second["route"] == "/status"
        assert 0 <= second["duration"] < first["duration"]
    for query in ("full", "xml&full", "html&full"):
        code, _, body = http_request(hport, "GET", "/status?" + query)
        assert code == 200
        text = body.decode()
        row = {"full": "request URI:          " + long_uri + "\n",
               "xml&full": "<request-uri>" + long_uri.replace("&", "&amp;")
               + "</request-uri>",
               "html&full": "<td>" + long_uri.replace("&", "&amp;")
               + "</td>"}[query]
        assert row in text, text
    code, _, body = http_request(hport, "GET", "/status?openmetrics&full")
    assert ('fpmd_process_request_info{pid="%d",method="GET",uri="%s",'
            'script="/probe",user=""} 1\n' % (p["pid"], long_uri)
            in body.decode())


def test_idle_row_keeps_the_last_request(tmpdir_path, servers):
    """Two workers: the one not running the status request is idle, and
    its row is its last request with php-fpm's figures."""
    f, hport = start_fpmd(tmpdir_path, servers, 2)

    def idle_row_of(uri):
        for p in status_json(hport)["processes"]:
            if p["state"] == "Idle" and p["request uri"] == uri:
                return p
        return None

    def probe_seen_idle():
        uri = "/probe?sleep_ms=20&n=%d" % next(count)
        code, _, _ = http_request(hport, "GET", uri)
        assert code == 200
        return idle_row_of(uri)

    count = iter(range(1000))
    p = wait_for(probe_seen_idle, 20, "a probe's worker idle under a "
                 "status request")
    assert p["request method"] == "GET" and p["script"] == "/probe"
    # libevent plans a timer on its coarse clock (4 ms ticks): a 20 ms
    # sleep may end a tick early by the request's own clock
    assert p["request duration"] >= 15000
    assert p["last request memory"] > 0
    assert p["in flight"] == 0 and p["oldest in flight"] == []


def test_in_flight_list_keeps_the_oldest(one_worker, requests_sent):
    f, hport = one_worker
    uris = ["/probe?sleep_ms=%d&n=%d" % (1500 if i == 0 else 20000, i)
            for i in range(FLIGHTS + 4)]
    first = requests_sent.send(uris[0])
    wait_listed(hport, uris[0])
    for i, uri in enumerate(uris[1:], 1):
        requests_sent.send(uri)
        # in start order: each one in flight before the next is sent
        wait_for(lambda: the_process(hport)["in flight"] >= i + 2, 10,
                 "request %d in flight" % i)
    p = the_process(hport)
    assert p["in flight"] == len(uris) + 1      # and this status request
    assert listed(p) == uris[:FLIGHTS]
    assert p["request uri"] == uris[0]
    # the oldest ends: the next oldest is the row, the list takes the
    # oldest one it did not hold
    first.settimeout(10)
    head = b""
    while len(head) < 12:
        chunk = first.recv(12 - len(head))
        assert chunk, head
        head += chunk
    assert head == b"HTTP/1.1 200"
    p = wait_for(lambda: (lambda q: q if uris[0] not in listed(q)
                          else None)(the_process(hport)), 10,
                 "the first request to leave the list")
    assert listed(p) == uris[1:FLIGHTS + 1]
    assert p["request uri"] == uris[1]
    assert p["in flight"] == len(uris)


def promtool_lint(body):
    """promtool's lint of a page: its problems as a set of lines; a page
    it cannot parse fails the test."""
    need(PROMTOOL, "promtool (Debian package prometheus)")
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body,
                       capture_output=True, timeout=30)
    out = (r.stdout + r.stderr).decode()
    # 0: clean; 3: lint problems only; anything else: not parsed
    assert r.returncode in (0, 3), out
    return {line.strip() for line in out.splitlines() if line.strip()}


@pytest.mark.parametrize("query", ["openmetrics", "openmetrics&full"])
def test_openmetrics_passes_promtool(one_worker, query):
    f, hport = one_worker
    fport = int(re.search(r"fastcgi: 127.0.0.1:(\d+)",
                          open(f.conf).read()).group(1))
    code, _, _ = http_request(hport, "GET", "/probe?sleep_ms=1")
    assert code == 200
    # the row is this request: its URI, as a FastCGI client may send it,
    # goes into a label
    code, headers, body = fcgi_client.request(
        ("127.0.0.1", fport), uri="/status?" + query,
        extra={"REQUEST_URI": b'/status?%s&x="\\\n\xff\x01' % query.encode(),
               "SCRIPT_FILENAME": b"/www/st\xc3\xa4tus"}).split()
    assert code == 200
    assert dict(headers)["Content-Type"] == (
        "application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert promtool_lint(body) == PHP_FPM_LINT
    text = body.decode()
    assert 'fpmd_table_rows{table="hits"} 16\n' in text
    names = set(re.findall(r"^([a-z_]+)[{ ]", text, re.M))
    # fpmd's own series are fpmd_'s; php-fpm's keep their names
    assert {n for n in names if not n.startswith("fpmd_")} == {
        "phpfpm_" + n for n in (
            "up", "start_since", "accepted_connections", "listen_queue",
            "max_listen_queue", "listen_queue_length", "idle_processes",
            "active_processes", "total_processes", "max_active_processes",
            "max_children_reached", "slow_requests")}
    assert ('fpmd_route_duration_seconds_count{route="/probe",'
            'handler="probe",side="native"} 1\n') in text
    assert 'fpmd_backend_calls_total{backend="cache"} 0\n' in text
    if query.endswith("full"):
        assert ('uri="/status?openmetrics&full&x=\\"\\\\\\n??",'
                'script="/www/st\u00e4tus"') in text
    else:
        assert "fpmd_process_" not in text

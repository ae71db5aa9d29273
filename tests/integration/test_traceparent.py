# SPDX-License-Identifier: BSD-2-Clause
"""W3C trace context: a request's valid traceparent gives its trace id,
which the access log writes (%{trace_id}x) and the HTTP client sends on
with a span id of its own (received here by fpmd itself: /probe echoes
the headers it got); a malformed one starts a new trace; a legacy pool
with send_traceparent: true gives php-fpm the request's own span
(HTTP_TRACEPARENT), and without it php-fpm sees the header as sent."""

import json
import os
import re

from backends import PhpFpm
from conftest import FPMD_TEST_BIN, Fpmd, base_conf, free_port, wait_for
from test_legacy import fetch, start_legacy_fpmd

TRACE = "0af7651916cd43dd8448eb211c80319c"
INCOMING = "00-%s-b7ad6b7169203331-01" % TRACE
TP = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def start(tmp, servers):
    """fpmd-test with /t/http, an upstream that is fpmd itself, and an
    access log of the trace fields."""
    hport, fport = free_port(), free_port()
    text = base_conf(fport, os.path.join(tmp, "fpmd.sock"),
                     "# the HTTP client's\n  - match: GET /t/http\n"
                     "    handler: t_http\n"
                     "upstreams:\n  self:\n"
                     "    servers: [http://127.0.0.1:%d]\n" % hport)
    text = text.replace("listen:\n", "listen:\n  - http: 127.0.0.1:%d\n"
                        % hport, 1).replace("max_children: 2",
                                            "max_children: 1")
    text = text.replace("log:\n", "log:\n  access: @DIR@/access.log\n"
                        "  access_format: '%{trace_id}x %{parent}x "
                        "%{traceparent}x %r'\n", 1)
    f = Fpmd(tmp, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    return f, hport


def access_lines(f, path):
    with open(os.path.join(f.dir, "access.log")) as fh:
        return [line.split() for line in fh if line.split()[3] == path]


def call_self(f, hport, headers):
    status, _, body = fetch(hport, "GET", "/t/http?upstream=self&url=/probe",
                            headers=headers)
    assert status == 200, body
    out = json.loads(body)
    probe = json.loads(out["answers"][0]["body"])
    return out, probe["headers"].get("TRACEPARENT")


def test_a_valid_traceparent_is_logged_and_sent_on(tmpdir_path, servers):
    f, hport = start(tmpdir_path, servers)
    out, sent = call_self(f, hport, {"traceparent": INCOMING})
    # the handler sees the trace, and a span of its own
    assert out["trace_id"] == TRACE
    mine = TP.fullmatch(out["traceparent"])
    assert mine.group(1) == TRACE and mine.group(3) == "01"
    assert mine.group(2) != "b7ad6b7169203331"
    # the call carries the trace with another new span
    call = TP.fullmatch(sent)
    assert call.group(1) == TRACE and call.group(3) == "01"
    assert call.group(2) not in ("b7ad6b7169203331", mine.group(2))
    lines = wait_for(lambda: access_lines(f, "/t/http") and
                     access_lines(f, "/probe"), 5, "both access lines")
    (outer,) = access_lines(f, "/t/http")
    assert outer[:3] == [TRACE, INCOMING, out["traceparent"]]
    # the upstream (fpmd itself) logs the call's span as its parent
    (inner,) = access_lines(f, "/probe")
    assert inner[:2] == [TRACE, sent]
    assert lines


def test_a_malformed_traceparent_starts_a_new_trace(tmpdir_path, servers):
    f, hport = start(tmpdir_path, servers)
    for bad in ("00-%s-0000000000000000-01" % TRACE,
                "00-%s-b7ad6b7169203331-01" % TRACE.upper(),
                "00-00000000000000000000000000000000-b7ad6b7169203331-01",
                "ff-%s-b7ad6b7169203331-01" % TRACE, "garbage"):
        out, sent = call_self(f, hport, {"traceparent": bad})
        assert re.fullmatch(r"[0-9a-f]{32}", out["trace_id"])
        assert out["trace_id"] not in (TRACE, "0" * 32)
        assert TP.fullmatch(sent).group(1) == out["trace_id"]
        assert TP.fullmatch(sent).group(3) == "00"
    # no header at all: a new trace too, each request its own
    a, _ = call_self(f, hport, {})
    b, _ = call_self(f, hport, {})
    assert a["trace_id"] != b["trace_id"]
    lines = access_lines(f, "/t/http")
    assert [line[1] for line in lines] == ["-"] * 7
    assert lines[-1][0] == b["trace_id"]


ECHO = """<?php
header('Content-Type: text/plain');
echo $_SERVER['HTTP_TRACEPARENT'] ?? '-';
"""


def php_behind_fpmd(tmp, servers, extra=""):
    """php-fpm with tp.php behind fpmd's HTTP listener: fpmd's port."""
    php = PhpFpm(tmp, {"tp.php": ECHO}).start()
    servers.append(php)
    _, hport, _ = start_legacy_fpmd(tmp, servers, """
legacy:
  fastcgi: %s
  document_root: %s
%s""" % (php.address, php.www, extra))
    return hport


def test_send_traceparent_gives_php_fpm_the_requests_span(tmpdir_path,
                                                          servers):
    hport = php_behind_fpmd(tmpdir_path, servers,
                            "  send_traceparent: true\n")
    status, _, body = fetch(hport, "GET", "/tp.php",
                            headers={"traceparent": INCOMING})
    assert status == 200, body
    seen = TP.fullmatch(body.decode())
    assert seen.group(1) == TRACE and seen.group(3) == "01"
    assert seen.group(2) != "b7ad6b7169203331"
    # without a header php-fpm still gets the request's new trace
    status, _, body = fetch(hport, "GET", "/tp.php")
    assert TP.fullmatch(body.decode()).group(1) != TRACE


def test_without_send_traceparent_php_fpm_sees_the_header_as_sent(
        tmpdir_path, servers):
    hport = php_behind_fpmd(tmpdir_path, servers)
    status, _, body = fetch(hport, "GET", "/tp.php",
                            headers={"traceparent": INCOMING})
    assert (status, body) == (200, INCOMING.encode())
    status, _, body = fetch(hport, "GET", "/tp.php")
    assert (status, body) == (200, b"-")

# SPDX-License-Identifier: BSD-2-Clause
"""The legacy pass-through changes nothing on the wire by default: a raw
FastCGI client gets from fpmd the STDOUT php-fpm sends (its head as
written, byte for byte) and the same STDERR, in the same order; nginx
logs php-fpm's stderr through fpmd as it does without it; PHP's $_SERVER
is the same through fpmd (a request id only when the pool asks for one);
and Apache's mod_proxy_fcgi, which sends a chunked body as STDIN without
CONTENT_LENGTH, gets php-fpm's answers through fpmd too."""

import http.client
import json
import os
import re

import pytest

import fcgi_client as fc
from backends import NginxFront, PhpFpm, no_worker_died  # noqa: F401
from conftest import wait_for
from fronts import Apache
from test_legacy import (SCRIPTS, fetch, sides,  # noqa: F401
                         start_legacy_fpmd)


def fastcgi_address(f):
    """fpmd's FastCGI listener on TCP."""
    text = open(f.conf).read()
    m = re.search(r"- fastcgi: 127.0.0.1:(\d+)", text)
    return ("127.0.0.1", int(m.group(1)))


def php_address(php):
    return php.sock or ("127.0.0.1", php.port)


def ask(address, method, uri, php, body=b"", extra=None, keep_conn=False):
    """One request as a web server sends it for a script under php's www,
    on a connection of its own: the whole Response."""
    script = uri.partition("?")[0]
    params = fc.cgi_params(method, uri, body, dict({
        "SCRIPT_FILENAME": php.www + script, "DOCUMENT_ROOT": php.www},
        **(extra or {})))
    c = fc.Conn(address)
    try:
        c.send(fc.request_bytes(1, params, body, keep_conn))
        (r,) = c.wait([1])
        return r
    finally:
        c.close()


# What a web server may ask: a head PHP writes without a status, repeats
# and case, cookies, each status php-fpm writes a Status line for, a
# script php-fpm does not find (its own 404 and a STDERR line), stderr
# before, inside and after the body, HEAD, and a body.
RAW_CASES = [
    ("GET", "/plain.php", b""),
    ("GET", "/headers.php", b""),
    ("GET", "/probe.php?status=204", b""),
    ("GET", "/probe.php?status=301", b""),
    ("GET", "/probe.php?status=404", b""),
    ("GET", "/probe.php?status=500", b""),
    ("GET", "/missing.php", b""),
    ("GET", "/stderr.php?tag=raw", b""),
    ("HEAD", "/probe.php?size=5000", b""),
    ("POST", "/probe.php?stderr=1", b"k=v&x=" + b"y" * 70000),
]


@pytest.mark.parametrize("keep_conn", [False, True], ids=["close", "keep"])
def test_a_raw_client_gets_php_fpms_records_unchanged(sides, servers,
                                                      keep_conn):
    _, f, _ = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    for method, uri, body in RAW_CASES:
        direct = ask(php_address(php), method, uri, php, body,
                     keep_conn=keep_conn)
        through = ask(fastcgi_address(f), method, uri, php, body,
                      keep_conn=keep_conn)
        assert bytes(through.stdout) == bytes(direct.stdout), (
            method, uri, bytes(through.stdout[:300]),
            bytes(direct.stdout[:300]))
        assert bytes(through.stderr) == bytes(direct.stderr), (method, uri)
        # the same turns between STDOUT and STDERR, record sizes aside
        assert through.streams() == direct.streams(), (method, uri)
        assert (through.app_status, through.protocol_status) == (
            direct.app_status, direct.protocol_status)
    # the ones php-fpm sent STDERR for really had some
    assert b"first raw" in bytes(ask(fastcgi_address(f), "GET",
                                     "/stderr.php?tag=raw", php).stderr)


def test_nginx_logs_php_fpms_stderr_through_fpmd(sides, servers):
    """nginx writes a backend's STDERR records into its error log: it
    does so through fpmd as for php-fpm directly, and fpmd still logs
    them (log_stderr, default true)."""
    ports, f, _ = sides
    nginx = next(s for s in servers if isinstance(s, NginxFront))
    for via in ("direct", "fpmd", "fpmd_keep"):
        status, _, body = fetch(ports[via], "GET", "/stderr.php?tag=" + via)
        assert status == 200 and body.endswith(b"b" * 100)
        wait_for(lambda: 'FastCGI sent in stderr: "PHP message: first %s'
                 % via in open(nginx.log).read(), 10,
                 "nginx to log the stderr of " + via)
    for via in ("fpmd", "fpmd_keep"):
        assert re.search(r"GET /stderr.php\?tag=%s: legacy stderr \(route "
                         r"/\*, request id [0-9a-f]{32}\): PHP message: "
                         r"first %s$" % (via, via), f.log_text(), re.M), \
            f.log_text()[-2000:]


def server_vars(r):
    assert r.split()[0] == 200, bytes(r.stdout[:300])
    seen = json.loads(r.split()[2])
    # the clock
    for name in ("REQUEST_TIME", "REQUEST_TIME_FLOAT"):
        seen.pop(name)
    return seen


def test_php_sees_the_same_server_vars_through_fpmd(sides, servers):
    """Every param fpmd forwards is the one the web server sent, and it
    adds none: with the default config, $_SERVER through fpmd is
    $_SERVER without it, but for the clock; through nginx, but for what
    the two nginx servers differ in (their ports)."""
    ports, f, _ = sides
    php = next(s for s in servers if isinstance(s, PhpFpm))
    for extra in ({}, {"HTTP_X_REQUEST_ID": "given-1"},
                  {"HTTP_X_REQUEST_ID": "not a valid id!"}):
        direct = server_vars(ask(php_address(php), "GET", "/server.php?a=1",
                                 php, extra=extra))
        through = server_vars(ask(fastcgi_address(f), "GET",
                                  "/server.php?a=1", php, extra=extra))
        assert through == direct
        assert through.get("HTTP_X_REQUEST_ID") == extra.get(
            "HTTP_X_REQUEST_ID")
    ignore = ("REMOTE_PORT", "SERVER_PORT", "HTTP_HOST")
    seen = {}
    for via in ("direct", "fpmd", "fpmd_keep"):
        status, _, body = fetch(ports[via], "GET", "/server.php?b=2",
                                headers={"X-Trace": "t"})
        assert status == 200, body
        seen[via] = {k: v for k, v in json.loads(body).items()
                     if k not in ignore and not k.startswith("REQUEST_TIME")}
    assert seen["fpmd"] == seen["direct"] == seen["fpmd_keep"]
    assert "HTTP_X_REQUEST_ID" not in seen["fpmd"]


def test_send_request_id_adds_the_id_to_what_php_fpm_gets(
        tmpdir_path, servers):
    """send_request_id: true: php-fpm gets the request id fpmd uses, the
    web server's when it is a valid one, else made up."""
    php = PhpFpm(tmpdir_path, SCRIPTS).start()
    servers.append(php)
    f, _, _ = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: %s
  send_request_id: true
""" % php.address)
    seen = server_vars(ask(fastcgi_address(f), "GET", "/server.php", php))
    assert re.fullmatch(r"[0-9a-f]{32}", seen["HTTP_X_REQUEST_ID"]), seen
    seen = server_vars(ask(fastcgi_address(f), "GET", "/server.php", php,
                           extra={"HTTP_X_REQUEST_ID": "given-2"}))
    assert seen["HTTP_X_REQUEST_ID"] == "given-2"


def test_log_stderr_off_leaves_it_to_the_web_server(tmpdir_path, servers):
    """log_stderr: false: php-fpm's stderr still reaches a FastCGI client,
    and fpmd's log has none of it; over fpmd's own HTTP listener it has
    nowhere else to go, and is logged still."""
    php = PhpFpm(tmpdir_path, SCRIPTS).start()
    servers.append(php)
    f, hport, _ = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: %s
  document_root: %s
  log_stderr: false
""" % (php.address, php.www))
    r = ask(fastcgi_address(f), "GET", "/stderr.php?tag=fcgi", php)
    assert b"PHP message: first fcgi" in bytes(r.stderr)
    status, _, body = fetch(hport, "GET", "/stderr.php?tag=http")
    assert status == 200 and body.endswith(b"b" * 100)
    f.wait_log(r"GET /stderr.php\?tag=http: legacy stderr .*: PHP message: "
               r"first http$")
    assert "first fcgi" not in f.log_text()


@pytest.fixture
def apache_sides(tmpdir_path, servers):
    """php-fpm over TCP, fpmd passing everything to it on kept
    connections (the default), and one Apache straight to php-fpm, one to
    fpmd."""
    php = PhpFpm(tmpdir_path, SCRIPTS).start()
    servers.append(php)
    f, hport, fport = start_legacy_fpmd(tmpdir_path, servers, """
legacy:
  fastcgi: %s
  timeout: 10s
""" % php.address)
    direct = Apache(tmpdir_path, php.address, php.www, "apache-direct")
    servers.append(direct.start())
    through = Apache(tmpdir_path, "127.0.0.1:%d" % fport, php.www,
                     "apache-fpmd")
    servers.append(through.start())
    return direct, through, f, hport


def apache_ask(port, method, path, body=None):
    """A request to Apache, its body (a list of pieces) sent chunked:
    (status, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=iter(body) if body is not None else None,
                  headers={"Content-Type": "application/octet-stream"},
                  encode_chunked=body is not None)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


@pytest.mark.parametrize("path", ["/probe.php", "/pp/probe.php"],
                         ids=["sethandler", "proxypass"])
def test_apache_chunked_post_through_fpmd_is_answered_as_by_php_fpm(
        apache_sides, path):
    """Apache's mod_proxy_fcgi sends a chunked request body as STDIN
    records without CONTENT_LENGTH. php-fpm does not read such a body: it
    answers at once, and on a kept connection closes it at the next STDIN
    record, maybe while fpmd is still sending them (a race: fpmd used to
    fail a few such POSTs of 4 MiB in ten, hence the rounds). Each
    chunked POST, and the GET after it, gets php-fpm's answer through
    fpmd as without it."""
    direct, through, f, _ = apache_sides
    pieces = [os.urandom(16384)] * 256      # 4 MiB
    # Apache straight to php-fpm, once: it takes up to seconds a POST
    # (not through fpmd), and the answers do not change.
    want = {method: apache_ask(direct.port, method, path, body)
            for method, body in (("POST", pieces), ("GET", None))}
    assert want["POST"][0] == want["GET"][0] == 200, want
    for _ in range(50):
        for method, body in (("POST", pieces), ("GET", None)):
            got = apache_ask(through.port, method, path, body)
            assert got == want[method], (method, got[0], got[1][:300])
    assert "legacy legacy" not in f.log_text(), f.log_text()[-2000:]

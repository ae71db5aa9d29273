# SPDX-License-Identifier: BSD-2-Clause
"""The handler API end to end (tests/handlers/api.c in tests/fpmd-test):
route params, query, repeated headers, cookies, form and JSON bodies with
their limits, redirects, JSON errors, hooks in priority order, the
response writer refusing a split header; static files; each answer the
same over direct HTTP and over FastCGI behind real nginx."""

import json
import os
import socket

import pytest

from conftest import (FPMD_TEST_BIN, Fpmd, Nginx, base_conf, free_port,
                      http_request, read_all)

EXTRA = """
limits: { parsed_body: 2k, form_fields: 5, json_depth: 4 }
routes:
  - match: GET /static/*
    static:
      root: ../www
      index: index.html
  - match: GET /loose/*
    static:
      root: ../www
      follow_symlinks: true
      deny_extensions: [.php, .inc]
"""


@pytest.fixture
def api(tmpdir_path, servers):
    hport, fport = free_port(), free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    www = os.path.join(tmpdir_path, "www")
    os.makedirs(os.path.join(www, "docs"))
    os.makedirs(os.path.join(tmpdir_path, "outside"))
    files = {
        "a.txt": b"0123456789abcdef\n",
        "style.css": b"body{}\n",
        "secret.php": b"<?php $password = 1;\n",
        "lib.inc": b"include me\n",
        "docs/index.html": b"<h1>docs</h1>\n",
        "../outside/s.txt": b"outside\n",
    }
    for name, data in files.items():
        with open(os.path.join(www, name), "wb") as fh:
            fh.write(data)
    os.symlink("../outside/s.txt", os.path.join(www, "out.txt"))
    os.symlink("a.txt", os.path.join(www, "in.txt"))
    # base_conf has routes: already; static routes join that list
    text = base_conf(fport, sock, "").replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1)
    extra_routes = EXTRA.split("routes:\n", 1)[1]
    text = text.replace("routes:\n", "routes:\n" + extra_routes, 1)
    text += EXTRA.split("routes:\n", 1)[0]
    # one worker, so the after hook's counter sees every request
    text = text.replace("max_children: 2", "max_children: 1")
    f = Fpmd(tmpdir_path, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    return f, hport, fport, sock


def get_json(port, method, path, body=None, headers=None):
    status, hdrs, data = http_request(port, method, path, body, headers)
    return status, dict(hdrs), json.loads(data) if data else None


def test_route_params_query_headers_cookies_and_hooks(api):
    _, port, _, _ = api
    status, h, o = get_json(
        port, "GET", "/api/users/42?q=a%20b&x=1&x=2",
        headers={"Cookie": "a=1; sid=\"s3\"; z=2", "X-User": "ada"})
    assert status == 200 and h["Content-Type"] == "application/json"
    assert o["id"] == "42" and o["handler"] == "api_user"
    assert o["q"] == "a b" and o["nquery"] == 3
    assert o["sid"] == "s3" and o["user"] == "ada"
    # a before hook answering ends the request before the handler
    status, _, o = get_json(port, "GET", "/api/users/1",
                            headers={"X-Deny": "1"})
    assert status == 401 and o["error"]["message"] == "denied by api_auth"
    status, _, body = http_request(port, "GET", "/api/files/a/b%20c.txt")
    assert status == 200 and body == b"a/b c.txt"


def raw_get(port, target, headers=b""):
    """One request with the target sent as is (http.client would encode
    it), on a connection the server closes; returns all it answered."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET %s HTTP/1.1\r\nHost: a\r\n%sConnection: close\r\n\r\n"
              % (target.encode(), headers))
    out = read_all(s)
    s.close()
    return out


def test_repeated_headers_keep_every_value(api):
    """Over fpmd's own HTTP listener repeats arrive joined, as nginx 1.23+
    sends them: one value, every line of it, cookies too."""
    _, port, _, _ = api
    out = raw_get(port, "/api/users/7", b"X-Multi: one\r\nX-Multi: two\r\n"
                  b"Cookie: a=1\r\nCookie: sid=s2\r\n")
    body = json.loads(out.partition(b"\r\n\r\n")[2])
    assert body["multi"] == "one, two"
    assert body["sid"] == "s2"


def test_form_and_json_bodies_with_limits(api):
    _, port, _, _ = api
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, o = get_json(port, "POST", "/api/form", b"a=1&b=x+y&c=%26",
                            form)
    assert status == 200 and o == {"a": "1", "b": "x y", "c": "&"}
    status, _, o = get_json(port, "POST", "/api/form", b"&".join(
        b"f%d=1" % i for i in range(6)), form)
    assert status == 413                        # form_fields: 5
    status, _, _ = get_json(port, "POST", "/api/form", b"a=" + b"x" * 3000,
                            form)
    assert status == 413                        # parsed_body: 2k
    status, _, _ = get_json(port, "POST", "/api/form", b"a=1",
                            {"Content-Type": "text/plain"})
    assert status == 415
    js = {"Content-Type": "application/json; charset=utf-8"}
    status, _, o = get_json(port, "POST", "/api/json", b'{"k": [1, 2]}\n', js)
    assert status == 200 and o == {"echo": {"k": [1, 2]}, "type": "object"}
    for bad in (b'{"k": 1', b'{"k": 1} x', b"[[[[[1]]]]]", b"null"):
        status, _, o = get_json(port, "POST", "/api/json", bad, js)
        assert status == 400, bad
        assert o["error"]["status"] == 400
    status, _, _ = get_json(port, "POST", "/api/json", b"{}", form)
    assert status == 415


def test_redirect_error_hooks_and_header_injection(api):
    f, port, _, _ = api
    status, h, _ = http_request(port, "GET", "/api/redirect")
    assert status == 302 and dict(h)["Location"] == "/api/users/1"
    _, _, before = http_request(port, "GET", "/api/hooks")
    status, h, body = http_request(port, "GET", "/api/fail")
    assert status == 500 and json.loads(body)["error"]["message"] == \
        "handler failed"
    status, h, body = http_request(port, "GET", "/api/split")
    assert status == 500 and "X-Evil" not in dict(h)
    assert "Set-Cookie" not in dict(h)
    _, _, after = http_request(port, "GET", "/api/hooks")
    # the after hook ran for every request, failed ones included
    assert int(after) - int(before) == 3
    assert "handler tried to send an invalid header" in f.log_text()


def test_static_files(api):
    _, port, _, _ = api
    status, h, body = http_request(port, "GET", "/static/a.txt")
    h = dict(h)
    assert status == 200 and body == b"0123456789abcdef\n"
    assert h["Content-Type"].startswith("text/plain")
    assert h["Content-Length"] == "17" and h["Accept-Ranges"] == "bytes"
    etag, lastmod = h["ETag"], h["Last-Modified"]
    assert http_request(port, "GET", "/static/a.txt",
                        headers={"If-None-Match": etag})[0] == 304
    assert http_request(port, "GET", "/static/a.txt",
                        headers={"If-Modified-Since": lastmod})[0] == 304
    assert http_request(port, "GET", "/static/a.txt",
                        headers={"If-None-Match": '"other"'})[0] == 200
    status, h, body = http_request(port, "GET", "/static/a.txt",
                                   headers={"Range": "bytes=2-5"})
    assert status == 206 and body == b"2345"
    assert dict(h)["Content-Range"] == "bytes 2-5/17"
    status, h, body = http_request(port, "GET", "/static/a.txt",
                                   headers={"Range": "bytes=-3"})
    assert status == 206 and body == b"ef\n"
    status, h, _ = http_request(port, "GET", "/static/a.txt",
                                headers={"Range": "bytes=99-"})
    assert status == 416 and dict(h)["Content-Range"] == "bytes */17"
    # a stale If-Range gets the whole file
    status, _, body = http_request(port, "GET", "/static/a.txt", headers={
        "Range": "bytes=2-5", "If-Range": '"stale"'})
    assert status == 200 and len(body) == 17
    status, h, body = http_request(port, "HEAD", "/static/style.css")
    assert status == 200 and body == b""
    assert dict(h)["Content-Length"] == "7"
    assert dict(h)["Content-Type"].startswith("text/css")
    status, h, _ = http_request(port, "GET", "/static/docs")
    assert status == 301 and dict(h)["Location"] == "/static/docs/"
    assert http_request(port, "GET", "/static/docs/")[2] == b"<h1>docs</h1>\n"
    # follow_symlinks off: no symlink is crossed, even one staying inside
    assert http_request(port, "GET", "/static/in.txt")[0] == 403
    assert http_request(port, "GET", "/loose/in.txt")[0] == 200


@pytest.mark.parametrize("path,status", [
    ("/static/secret.php", 403),
    ("/static/SECRET.PHP", 403),
    ("/static/out.txt", 403),           # symlink out of the root
    ("/loose/out.txt", 200),            # follow_symlinks: true
    ("/loose/secret.php", 403),
    ("/loose/lib.inc", 403),
    ("/static/lib.inc", 200),           # .inc is only denied on /loose
    # climbing above "/" is a bad request target, as nginx has it
    ("/static/..%2f..%2foutside/s.txt", 400),
    ("/static/%2e%2e/%2e%2e/outside/s.txt", 400),
    ("/static/docs/..%2fa.txt", 404),   # encoded slash
    ("/static/docs/%2e%2e/a.txt", 200),  # stays inside: /static/a.txt
    ("/static/docs%5c..%5ca.txt", 404),
    ("/static/a.txt%00.css", 400),
    ("/static/../outside/s.txt", 404),
    ("/static/nope.txt", 404),
    ("/static/", 404),                  # no index.html at the top
])
def test_static_paths_never_leave_the_root(api, path, status):
    _, port, _, _ = api
    out = raw_get(port, path)
    assert int(out.split(b" ", 2)[1]) == status, out[:200]
    if status != 200:
        assert b"<?php" not in out and b"outside" not in out.split(
            b"\r\n\r\n", 1)[1]


def test_api_and_static_same_over_http_and_fastcgi_behind_nginx(
        api, tmpdir_path, servers):
    _, hport, fport, sock = api
    nginx = Nginx(tmpdir_path, fport, sock)
    servers.append(nginx)
    nginx.start()
    cases = [
        ("GET", "/api/users/5?q=x", None, {"Cookie": "sid=abc"}),
        ("GET", "/api/users/5", None, {"X-Deny": "1"}),
        ("POST", "/api/form", b"a=1&b=2",
         {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/api/json", b'{"x": true}',
         {"Content-Type": "application/json"}),
        ("POST", "/api/json", b"{", {"Content-Type": "application/json"}),
        ("GET", "/api/redirect", None, None),
        ("GET", "/api/fail", None, None),
        ("GET", "/static/a.txt", None, None),
        ("GET", "/static/a.txt", None, {"Range": "bytes=1-3"}),
        ("DELETE", "/api/users/5", None, None),
    ]
    relevant = ("Content-Type", "Content-Length", "Location", "ETag",
                "Last-Modified", "Content-Range", "Allow")
    for method, path, body, headers in cases:
        direct = http_request(hport, method, path, body, headers)
        for variant in Nginx.VARIANTS:
            proxied = http_request(nginx.ports[variant], method, path, body,
                                   headers)
            assert proxied[0] == direct[0], (path, variant)
            assert proxied[2] == direct[2], (path, variant)
            dh, ph = dict(direct[1]), dict(proxied[1])
            for name in relevant:
                if name == "Content-Length" and name not in ph:
                    continue    # nginx may chunk what fpmd sized
                assert ph.get(name) == dh.get(name), (path, variant, name)

# SPDX-License-Identifier: BSD-2-Clause
"""Route shims, named legacy pools, to: 410 and request ids, behind real
nginx (fastcgi_split_path_info) with a real php-fpm 8.2 as the legacy
backend: legacy script routes reach C handlers with their matched values
as params, everything else reaches php-fpm unchanged, and with
send_request_id one request id shows in fpmd's and php-fpm's access logs.
Also php-src's CVE-2019-11043 case, sent raw to fpmd."""

import json
import os
import re
import subprocess

import pytest

from backends import NginxFront, PhpFpm, no_worker_died  # noqa: F401
from conftest import FPMD_TEST_BIN, Fpmd, free_port, http_request, wait_for
import fcgi_client
from test_legacy import PROBE, SERVER

FPMD_CONF = """
pool: www
listen:
  - fastcgi: 127.0.0.1:{fport}
pm: {{ mode: static, max_children: 1 }}
log:
  error: @DIR@/error.log
  access: @DIR@/access.log
  access_format: "%{{HTTP_X_REQUEST_ID}}e %m %{{REQUEST_URI}}e %s"
legacy:
  # php-fpm has 2 children, each held by a kept-alive connection
  main: {{ fastcgi: {php}, timeout: 5s, max: 1 }}
  admin: {{ fastcgi: {php}, max: 1, send_request_id: true }}
routes:
"""

ROUTES = """
  - match: {{ script: /api/user.php, method: GET, query: {{ action: show }} }}
    handler: shim_echo
  - match: {{ script: /index.php, query: {{ r: post/view, id: "*" }} }}
    handler: shim_echo
  - match: {{ script: /app.php, path_info: "/users/{{id}}" }}
    handler: shim_echo
  - match: {{ script: /cve.php }}
    handler: shim_echo
  - match: {{ prefix: /admin/ }}
    to: legacy:admin
    params: {{ HTTP_X_TRACE: admin-pool }}
  - match: GET /gone.php
    to: 410
  - match: "*"
    to: legacy:main
"""


def start_site(tmpdir_path, servers, scripts, routes):
    """php-fpm serving scripts (name: text, subdirectories made) with an
    access log showing the request id; fpmd-test with one worker, the
    given routes and two legacy pools (main, admin) on that php-fpm; nginx
    to fpmd. Returns nginx's port, fpmd and php-fpm."""
    php = PhpFpm(tmpdir_path, {}, pool_extra='access.log = %s/php-access.log\n'
                 'access.format = "%%{HTTP_X_REQUEST_ID}e %%m %%r%%Q%%q"\n'
                 % os.path.join(tmpdir_path, "php"))
    for sub, text in scripts.items():
        path = os.path.join(php.www, sub)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o644)
    servers.append(php.start())
    fport = free_port()
    f = Fpmd(tmpdir_path, FPMD_CONF.format(fport=fport, php=php.address)
             + routes, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", fport))
    port = free_port()
    servers.append(NginxFront(tmpdir_path, "127.0.0.1:%d" % fport,
                              SERVER.format(port=port, www=php.www, keep="",
                                            upstream="fpmd")).start([port]))
    return port, f, php


@pytest.fixture
def site(tmpdir_path, servers):
    """The probe under several script names, shims in front of it."""
    return start_site(tmpdir_path, servers, {name: PROBE for name in (
        "probe.php", "index.php", "app.php", "cve.php", "api/user.php",
        "admin/x.php")}, ROUTES.format())


def get(port, path, method="GET", headers=None):
    status, hdrs, body = http_request(port, method, path, headers=headers)
    return status, body


def native(port, path, method="GET"):
    status, body = get(port, path, method)
    assert status == 200, body
    out = json.loads(body)
    assert out.get("handler") == "shim_echo", out
    return out


def legacy(port, path, method="GET", headers=None):
    status, body = get(port, path, method, headers)
    assert status == 200, body
    out = json.loads(body)
    assert "handler" not in out and "script" in out, out
    return out


def test_shims_take_legacy_script_routes(site, no_worker_died):
    port, f, _ = site
    out = native(port, "/api/user.php?id=5&action=show")
    assert out["script"] == "/api/user.php"
    assert out["params"] == {"action": "show"}
    assert out["path_info"] in (None, "")
    # another action, another method: php-fpm answers, unchanged
    assert legacy(port, "/api/user.php?action=edit")["script"] == \
        "/api/user.php"
    assert legacy(port, "/api/user.php?action=show", "POST")["method"] == \
        "POST"

    # front controller, the value form-decoded before it is compared
    out = native(port, "/index.php?r=post%2Fview&id=9")
    assert out["params"] == {"r": "post/view", "id": "9"}
    assert legacy(port, "/index.php?r=post/view")["query"] == "r=post/view"
    assert legacy(port, "/index.php?r=post/edit&id=9")["script"] == \
        "/index.php"

    # PATH_INFO pattern (nginx split it off SCRIPT_NAME)
    out = native(port, "/app.php/users/42")
    assert out["params"] == {"id": "42"}
    assert out["path_info"] == "/users/42"
    assert out["script"] == "/app.php"
    assert legacy(port, "/app.php/users/42/posts")["path_info"] == \
        "/users/42/posts"

    # a prefix to a named legacy pool, with a param it overrides
    out = legacy(port, "/admin/x.php", headers={"X-Trace": "client"})
    assert out["header"] == "admin-pool"
    assert legacy(port, "/probe.php", headers={"X-Trace": "client"})[
        "header"] == "client"

    status, body = get(port, "/gone.php")
    assert status == 410
    # GET only: a POST goes on to php-fpm, which has no such script
    assert get(port, "/gone.php", "POST")[0] == 404

    routes = subprocess.run([FPMD_TEST_BIN, "-t", "-R", "--routes", "-y", f.conf],
                            capture_output=True, text=True)
    assert routes.returncode == 0, routes.stderr
    assert re.search(r"GET\s+/api/user.php\?action=show\s+shim_echo\s+"
                     r"\S+:\d+:\d+ \(shim\)", routes.stdout), routes.stdout
    assert "/index.php?r=post/view&id=*" in routes.stdout
    assert "/app.php path_info=/users/{id}" in routes.stdout


def test_request_id_in_both_access_logs(site, no_worker_died):
    """fpmd's access log has each request's id, the client's or made up.
    php-fpm gets the params as nginx sent them (main): the client's id,
    or none; a pool with send_request_id (admin) gets fpmd's id, so both
    logs show the same one."""
    port, f, php = site
    fpmd_log = os.path.join(f.dir, "access.log")
    php_log = os.path.join(php.dir, "php-access.log")

    def lines(path, after):
        """uri: id, from lines of an id, then the method, the uri and
        what follows, after fields in all (an id a client sent may have
        blanks)."""
        try:
            with open(path) as fh:
                parts = [l.rsplit(" ", after) for l in fh.read().splitlines()]
        except OSError:
            return {}
        return {p[2]: p[0] for p in parts}

    for pool in ("/probe.php", "/admin/x.php"):
        legacy(port, pool + "?given", headers={"X-Request-Id": "abc-123.4"})
        legacy(port, pool + "?made")
        legacy(port, pool + "?bad", headers={"X-Request-Id": "bad id!"})
    out = native(port, "/api/user.php?action=show")
    assert re.fullmatch(r"[0-9a-f]{32}", out["request_id"])
    _, _, body = http_request(port, "GET", "/api/user.php?action=show",
                              headers={"X-Request-Id": "trace-1"})
    assert json.loads(body)["request_id"] == "trace-1"

    wait_for(lambda: len(lines(php_log, 2)) >= 6
             and len(lines(fpmd_log, 3)) >= 7, 5, "access logs")
    ours, theirs = lines(fpmd_log, 3), lines(php_log, 2)
    ids = set()
    for pool in ("/probe.php", "/admin/x.php"):
        assert ours[pool + "?given"] == "abc-123.4" == \
            theirs[pool + "?given"], (ours, theirs)
        for case in ("made", "bad"):
            ids.add(ours[pool + "?" + case])
            assert re.fullmatch(r"[0-9a-f]{32}", ours[pool + "?" + case])
    # as received
    assert theirs["/probe.php?made"] == "-"
    assert theirs["/probe.php?bad"] == "bad id!"
    # fpmd's
    assert theirs["/admin/x.php?made"] == ours["/admin/x.php?made"]
    assert theirs["/admin/x.php?bad"] == ours["/admin/x.php?bad"]
    ids.add(ours["/api/user.php?action=show"])
    assert len(ids) == 5


def test_cve_2019_11043_path_info_stays_empty(site, no_worker_died):
    """php-src's sapi/fpm/tests/bug78599-path-info-underflow.phpt: a
    SCRIPT_FILENAME running 35 bytes past the script, an empty PATH_INFO
    and a 5000-byte header. Through to php-fpm and into a shim, PATH_INFO
    stays empty."""
    _, f, php = site
    address = ("127.0.0.1", int(re.search(r"fastcgi: 127.0.0.1:(\d+)",
                                          open(f.conf).read()).group(1)))
    for script in ("/probe.php", "/cve.php"):
        extra = {"SCRIPT_FILENAME": php.www + script + "/" + "A" * 35,
                 "PATH_INFO": "", "HTTP_HUI": "PTEST" * 1000,
                 "DOCUMENT_ROOT": php.www}
        status, _, body = fcgi_client.request(
            address, "GET", script + "/" + "A" * 35, extra=extra).split()
        assert status == 200, body[:300]
        out = json.loads(body)
        assert out["path_info"] == "", out
        assert out.get("handler", "php") == (
            "shim_echo" if script == "/cve.php" else "php")
        # without SCRIPT_NAME: the script comes from SCRIPT_FILENAME under
        # DOCUMENT_ROOT, still with the empty PATH_INFO the server sent
        extra["SCRIPT_NAME"] = ""
        extra["DOCUMENT_URI"] = ""
        status, _, body = fcgi_client.request(
            address, "GET", script + "/" + "A" * 35, extra=extra).split()
        assert status == 200, body[:300]
        out = json.loads(body)
        assert out["path_info"] == "", out
        if script == "/cve.php":
            assert out["script"] == "/cve.php"


def test_status_page_counts_each_route_by_side(site, no_worker_died):
    port, f, _ = site
    address = ("127.0.0.1", int(re.search(r"fastcgi: 127.0.0.1:(\d+)",
                                          open(f.conf).read()).group(1)))
    for _ in range(7):
        native(port, "/api/user.php?action=show")
    for _ in range(3):
        legacy(port, "/probe.php")
    assert get(port, "/probe.php?status=503")[0] == 503
    assert get(port, "/gone.php")[0] == 410
    status, _, body = fcgi_client.request(address, "GET",
                                          "/status?json").split()
    assert status == 200
    routes = {r["name"]: r for r in json.loads(body)["routes"]}
    shim = routes["GET /api/user.php?action=show"]
    assert shim["handler"] == "shim_echo"
    assert shim["native requests"] == 7 and shim["legacy requests"] == 0
    assert 0 < shim["native p50 ms"] <= shim["native p99 ms"] < 1000
    rest = routes["/*"]
    assert rest["handler"] == "legacy:main"
    assert rest["legacy requests"] == 4 and rest["legacy errors"] == 1
    assert rest["native requests"] == 0 and rest["legacy p99 ms"] > 0
    assert routes["GET /gone.php"]["native requests"] == 1
    assert routes["/admin/*"]["handler"] == "legacy:admin"
    status, _, body = fcgi_client.request(address, "GET",
                                          "/status?openmetrics").split()
    assert ('fpmd_route_duration_seconds_count{route="/*",'
            'handler="legacy:main",side="legacy"} 4\n') in body.decode()
    assert ('fpmd_route_errors_total{route="/*",handler="legacy:main",'
            'side="legacy"} 1\n') in body.decode()


def test_path_route_params_come_from_the_path_after_a_shim_fails(
        tmpdir_path, servers, no_worker_died):
    """A shim whose query condition holds and whose PATH_INFO one does not
    leaves the request to the path routes, which match SCRIPT_NAME over
    FastCGI: api_files (/api/files/*) answers its "*", read from that
    path. It was read from the query string at the path's offset, past
    the query's end, and the route cache kept that for the next request
    of the path."""
    _, f, _ = start_site(tmpdir_path, servers, {"probe.php": PROBE}, """
  - match: { script: /api/files/f.php, query: { v: "*" }, path_info: /n }
    handler: shim_echo
""")
    address = ("127.0.0.1", int(re.search(r"fastcgi: 127.0.0.1:(\d+)",
                                          open(f.conf).read()).group(1)))
    for uri in ("/api/files/f.php/x?v=1", "/api/files/f.php/x",
                "/api/files/f.php/x?v=1"):
        status, _, body = fcgi_client.request(
            address, "GET", uri, extra={"SCRIPT_NAME": "/api/files/f.php",
                                        "PATH_INFO": "/x"}).split()
        assert (status, body) == (200, b"f.php"), (uri, status, body)
    status, _, body = fcgi_client.request(
        address, "GET", "/api/files/f.php/n?v=1",
        extra={"SCRIPT_NAME": "/api/files/f.php", "PATH_INFO": "/n"}).split()
    assert status == 200 and json.loads(body)["handler"] == "shim_echo"

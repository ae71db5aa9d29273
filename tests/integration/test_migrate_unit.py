# SPDX-License-Identifier: BSD-2-Clause
"""fpmd-migrate import-unit on NGINX Unit configs written after Unit's
documentation (WordPress with share and a PHP fallback, Laravel with
targets, matches on method, uri, host and arguments, return and location,
processes as an object and a number, limits, a TLS listener, a proxy
action, upstreams): the YAML and php-fpm pool written, the report line of
each object by its JSON pointer, fpmd -t on the result, and fpmd started
on it serving a static file and passing a .php request to the real
php-fpm 8.2 started on the pool file written. Bad JSON and wrong types:
exit 1 with where; a missing file: 66; a result that does not load: 78."""

import json
import os
import re
import subprocess

import pytest

from backends import PHP_FPM_BIN, no_worker_died  # noqa: F401
from conftest import FPMD_BIN, Fpmd, http_request, need, free_port
from test_migrate_import import (MIGRATE_BIN, PhpFpmProcess, fpmd_test,
                                 read, write)


def run_unit(*args):
    need(MIGRATE_BIN, "fpmd-migrate")
    p = subprocess.run([MIGRATE_BIN, "import-unit", *args],
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def unit_import(tmp, config, *args):
    """config (a dict) through import-unit with -o: (rc, yaml, pool,
    report)."""
    src = os.path.join(tmp, "unit.json")
    out = os.path.join(tmp, "fpmd.yaml")
    write(src, json.dumps(config, indent=2))
    rc, stdout, report = run_unit("-o", out, "--socket-dir", tmp, *args, src)
    assert stdout == ""
    pool = os.path.join(tmp, "fpmd.php-fpm.conf")
    return (rc, read(out) if os.path.exists(out) else None,
            read(pool) if os.path.exists(pool) else None, report)


def said(report, pointer):
    """The report's text for the object at pointer."""
    m = re.search(r"(?m)^%s: (.*)$" % re.escape(pointer), report)
    assert m, "%s not in the report:\n%s" % (pointer, report)
    return m.group(1)


def body(yaml):
    """The YAML less its report comments."""
    return "".join(line + "\n" for line in yaml.splitlines()
                   if not line.startswith("#")).lstrip("\n")


def checks(out):
    rc, text = fpmd_test(out)
    assert rc == 0, text


def wordpress(root):
    # unit.nginx.org/howto/wordpress/
    return {
        "listeners": {"*:%d" % free_port(): {"pass": "routes"}},
        "routes": [
            {"match": {"uri": ["*.php", "*.php/*", "/wp-admin/"]},
             "action": {"pass": "applications/wordpress/direct"}},
            {"action": {"share": root + "$uri",
                        "fallback": {"pass": "applications/wordpress/index"}}},
        ],
        "applications": {"wordpress": {
            "type": "php",
            "targets": {
                "direct": {"root": root + "/"},
                "index": {"root": root + "/", "script": "index.php"},
            },
        }},
    }


def test_wordpress_share_with_php_fallback(tmpdir_path):
    root = os.path.join(tmpdir_path, "wp")
    os.makedirs(root)
    rc, yaml, pool, report = unit_import(tmpdir_path, wordpress(root))
    assert rc == 0, report
    y = body(yaml)
    sock = os.path.join(tmpdir_path, "unit-wordpress.sock")
    assert ("legacy:\n  wordpress_direct:\n    fastcgi: %s\n"
            "    document_root: %s/\n    max: 1\n" % (sock, root)) in y
    assert ('routes:\n  - match: /wp-admin/\n'
            '    to: "legacy:wordpress_direct"\n'
            '  - match: "/*"\n    static:\n      root: %s\n'
            '      index: index.html\n      follow_symlinks: true\n'
            % root) in y
    assert said(report, "/routes/0/match/uri/0").startswith(
        "unsupported: *.php: a wildcard before the path")
    assert said(report, "/routes/0/match/uri/2") == \
        "mapped to match: /wp-admin/"
    assert said(report, "/routes/1/action/fallback").startswith(
        "unsupported: fpmd's static route answers 404 for a missing file")
    assert said(report, "/applications/wordpress/targets/index/script") \
        .startswith("mapped to params SCRIPT_FILENAME and SCRIPT_NAME")
    assert "[wordpress]\nlisten = %s\nlisten.mode = 0660\n" % sock in pool
    assert "pm = static\npm.max_children = 1\n" in pool
    # the report heads the YAML too
    assert "# /routes/1/action/fallback: unsupported: " in yaml
    assert re.search(r"(?m)^summary: \d+ mapped, \d+ applied, \d+ "
                     r"unsupported$", report)
    checks(os.path.join(tmpdir_path, "fpmd.yaml"))


def test_laravel_targets_processes_limits_and_settings(tmpdir_path):
    public = os.path.join(tmpdir_path, "laravel", "public")
    # Unit serves public$uri; fpmd's /build/* serves under public/build
    os.makedirs(os.path.join(public, "build"))
    config = {
        "listeners": {"127.0.0.1:%d" % free_port(): {"pass": "routes/app"},
                      "unix:%s/unit.sock" % tmpdir_path:
                          {"pass": "routes/app"}},
        "routes": {"app": [
            {"match": {"uri": "/build/*"},
             "action": {"share": public + "$uri", "index": "app.html",
                        "types": ["image/*", "text/css"]}},
            {"match": {"method": ["POST", "put"], "uri": "/api/*"},
             "action": {"pass": "applications/laravel/index"}},
            {"action": {"pass": "applications/laravel/index"}},
        ]},
        "applications": {"laravel": {
            "type": "php 8.2",
            "user": "www-data", "group": "www-data",
            "working_directory": os.path.dirname(public),
            "processes": {"max": 10, "spare": 3, "idle_timeout": 30},
            "limits": {"timeout": 20, "requests": 1000},
            "environment": {"APP_ENV": "production"},
            "options": {"admin": {"memory_limit": "256M"},
                        "user": {"display_errors": "0"},
                        "file": "/etc/php/php.ini"},
            "targets": {"index": {"root": public, "script": "index.php"}},
        }},
        "settings": {"http": {"header_read_timeout": 15,
                              "body_read_timeout": 30, "idle_timeout": 120,
                              "send_timeout": 30,
                              "max_body_size": 16777216,
                              "server_version": False}},
        "access_log": {"path": "/var/log/unit/access.log",
                       "format": "$remote_addr $request_line $status"},
    }
    rc, yaml, pool, report = unit_import(tmpdir_path, config)
    assert rc == 0, report
    y = body(yaml)
    assert ("listen:\n  - http: \"127.0.0.1:%s\"\n  - http: %s/unit.sock\n"
            % (list(config["listeners"])[0].split(":")[1], tmpdir_path)) in y
    # fpmd's pm follows the pool's: its workers x legacy max stay within
    # php-fpm's children
    assert ("pm:\n  mode: dynamic\n  max_children: 10\n  start_servers: 3\n"
            "  min_spare_servers: 3\n  max_spare_servers: 3\n") in y
    assert ("timeouts:\n  header_read: 15s\n  body_read: 30s\n"
            "  keepalive: 120s\nlimits:\n  body: 16777216\n"
            "server_token: null\n") in y
    assert "log:\n  access: /var/log/unit/access.log\n" in y
    assert "    max: 1\n    timeout: 20s\n" in y
    assert ('  - match: "POST,PUT /api/*"\n    to: "legacy:laravel_index"\n'
            '    params:\n      SCRIPT_FILENAME: %s/index.php\n'
            '      SCRIPT_NAME: /index.php\n' % public) in y
    assert ('  - match: "/build/*"\n    static:\n      root: %s/build\n'
            '      index: app.html\n' % public) in y
    for line in ["user = www-data", "group = www-data",
                 "chdir = %s" % os.path.dirname(public),
                 "pm = dynamic", "pm.max_children = 10",
                 "pm.start_servers = 3", "pm.min_spare_servers = 3",
                 "pm.max_spare_servers = 3", "pm.max_requests = 1000",
                 "request_terminate_timeout = 20s",
                 "env[APP_ENV] = production",
                 "php_admin_value[memory_limit] = 256M",
                 "php_value[display_errors] = 0"]:
        assert "\n%s\n" % line in pool, line
    assert said(report, "/applications/laravel/processes/idle_timeout") \
        .startswith("unsupported: php-fpm's pm = dynamic stops idle")
    assert said(report, "/applications/laravel/options/file").startswith(
        "unsupported: php-fpm reads one php.ini")
    assert said(report, "/settings/http/send_timeout").startswith(
        "unsupported: fpmd has no send timeout")
    assert said(report, "/access_log/format").startswith(
        "unsupported: fpmd writes php-fpm's access.format")
    assert said(report, "/routes/app/0/action/types").startswith(
        "unsupported: fpmd filters by extension")
    assert said(report, "/routes/app/1/match/method") == \
        "mapped to match: POST,PUT"
    assert said(report, "/listeners/unix:%s~1unit.sock"
                % tmpdir_path.replace("/", "~1")).startswith(
        "mapped to listen[].http: %s/unit.sock" % tmpdir_path)
    checks(os.path.join(tmpdir_path, "fpmd.yaml"))


def test_matches_fpmd_routes_and_those_it_cannot(tmpdir_path):
    config = {
        "listeners": {"*:%d" % free_port(): {"pass": "routes"}},
        "routes": [
            {"match": {"host": "admin.example.com"},
             "action": {"return": 403}},
            {"match": {"host": "*", "scheme": "http", "uri": "/search",
                       "arguments": {"q": "*", "lang": "en"}},
             "action": {"return": 404}},
            {"match": {"uri": "/blog*", "method": "GET"},
             "action": {"pass": "applications/blog"}},
            {"match": {"headers": {"Accept": "*json*"}},
             "action": {"return": 406}},
            {"match": {"uri": ["/api/*", "~^/v[0-9]+/", "!/private/*"]},
             "action": {"pass": "applications/blog"}},
            {"match": {"uri": "/api/users"},
             "action": {"return": 410}},
            {"match": {"scheme": "https"}, "action": {"return": 400}},
            {"action": {"pass": "applications/blog"}},
        ],
        "applications": {"blog": {"type": "php", "root": "/srv/blog",
                                  "processes": 4}},
    }
    rc, yaml, pool, report = unit_import(tmpdir_path, config)
    assert rc == 0, report
    y = body(yaml)
    assert ("  - match:\n      script: /search\n      query:\n"
            "        q: \"*\"\n        lang: en\n    to: 404\n") in y
    assert ("  - match:\n      prefix: /blog\n      method: GET\n"
            "    to: \"legacy:blog\"\n") in y
    # the steps left out are not routes (the listener's free port may
    # hold the same digits)
    assert all("to: %d" % status not in y for status in (403, 406, 410))
    assert said(report, "/routes/0/match/host").startswith(
        "unsupported: fpmd routes on method and path, not host; the step "
        "is left out")
    assert said(report, "/routes/0/action") == \
        "unsupported: the step is left out for its match"
    assert said(report, "/routes/1/match/host") == \
        "applied: \"*\" matches every request"
    assert said(report, "/routes/1/match/scheme").startswith("applied:")
    assert said(report, "/routes/3/match/headers").startswith(
        "unsupported: fpmd routes on method and path, not headers")
    assert said(report, "/routes/4/match/uri/1").startswith(
        "unsupported: ~^/v[0-9]+/: a regular expression")
    assert said(report, "/routes/4/match/uri/2").startswith(
        "unsupported: !/private/*: a negation")
    assert said(report, "/routes/5").startswith(
        "applied: /api/users is never reached: /routes/4 takes every "
        "request it matches first; left out")
    assert said(report, "/routes/6/match/scheme").startswith(
        "unsupported: fpmd has no TLS listener: no request is https")
    # processes as a number: static, in the pool and in fpmd's pm
    assert "pm = static\npm.max_children = 4\n" in pool
    assert "pm:\n  mode: static\n  max_children: 4\n" in y
    # the php app has no root of its own on this machine; fpmd does not
    # look at document_root when it loads
    checks(os.path.join(tmpdir_path, "fpmd.yaml"))


def test_return_tls_proxy_and_upstreams(tmpdir_path):
    config = {
        "listeners": {
            "*:%d" % free_port(): {"pass": "routes"},
            "*:443": {"pass": "routes",
                      "tls": {"certificate": "bundle"}},
            "127.0.0.1:%d" % free_port(): {"pass": "upstreams/rr"},
        },
        "routes": [
            {"match": {"uri": "/old/*"},
             "action": {"return": 301, "location": "https://example.com/"}},
            {"match": {"uri": "/gone"},
             "action": {"return": 410, "location": "/elsewhere"}},
            {"match": {"uri": "/app/*"},
             "action": {"proxy": "http://127.0.0.1:8081"}},
            {"match": {"uri": "/u/*"}, "action": {"pass": "upstreams/rr"}},
            {"action": {"return": 404}},
        ],
        "upstreams": {"rr": {"servers": {"127.0.0.1:8081": {"weight": 2},
                                         "127.0.0.1:8082": {}}}},
    }
    rc, yaml, pool, report = unit_import(tmpdir_path, config)
    assert rc == 0, report
    y = body(yaml)
    assert pool is None
    assert y.count("  - http: ") == 1
    assert ('routes:\n  - match: /gone\n    to: 410\n'
            '  - match: "/*"\n    to: 404\n') in y
    assert "legacy:" not in y and "301" not in y
    assert said(report, "/listeners/*:443/tls").startswith(
        "unsupported: fpmd has no TLS server")
    listener = [k for k in config["listeners"] if k.startswith("127.")][0]
    assert said(report, "/listeners/" + listener).startswith(
        "unsupported: passes to upstreams/rr, and ")
    assert said(report, "/routes/0/action/return").startswith(
        "unsupported: 301: fpmd's to: answers a status from 400 to 599")
    assert said(report, "/routes/1/action/location").startswith(
        "unsupported: fpmd's to: answers a status with no Location")
    assert said(report, "/routes/2/action/proxy").startswith(
        "unsupported: fpmd's routes do not proxy HTTP")
    assert said(report, "/routes/3/action/pass").startswith(
        "unsupported: upstreams/rr: fpmd's routes pass to php-fpm pools "
        "only")
    assert said(report, "/upstreams/rr").startswith(
        "unsupported: fpmd's routes do not proxy")
    checks(os.path.join(tmpdir_path, "fpmd.yaml"))


INDEX = """<?php
header('Content-Type: text/plain');
echo 'php ', php_sapi_name(), ' ', $_SERVER['SCRIPT_NAME'], ' ',
    $_SERVER['REQUEST_URI'], ' ', getenv('UNIT_MARK'), ' ',
    ini_get('memory_limit');
"""


def test_fpmd_on_the_import_serves_static_and_passes_php(
        tmpdir_path, servers):
    need(PHP_FPM_BIN, "php-fpm8.2")
    need(FPMD_BIN, "fpmd")
    d = tmpdir_path
    os.chmod(d, 0o755)
    app = os.path.join(d, "app")
    write(os.path.join(app, "index.php"), INDEX)
    write(os.path.join(app, "info.php"), INDEX)
    write(os.path.join(app, "static", "hello.txt"), "hello from share\n")
    for p in [app, os.path.join(app, "static")]:
        os.chmod(p, 0o755)
    port = free_port()
    user = {"user": "www-data", "group": "www-data"} \
        if os.geteuid() == 0 else {}
    config = {
        "listeners": {"127.0.0.1:%d" % port: {"pass": "routes"}},
        "routes": [
            {"match": {"uri": "/static/*"},
             "action": {"share": app + "$uri"}},
            {"match": {"uri": "/info.php"},
             "action": {"pass": "applications/site/direct"}},
            {"action": {"pass": "applications/site/front"}},
        ],
        "applications": {"site": dict(user, **{
            "type": "php",
            "processes": {"max": 2, "spare": 0, "idle_timeout": 10},
            "environment": {"UNIT_MARK": "from-unit"},
            "options": {"admin": {"memory_limit": "48M"}},
            "targets": {"direct": {"root": app},
                        "front": {"root": app, "script": "index.php"}},
        })},
    }
    rc, yaml, pool, report = unit_import(d, config)
    assert rc == 0, report
    assert "pm = ondemand\npm.max_children = 2\n" \
        "pm.process_idle_timeout = 10s\n" in pool
    conf = os.path.join(d, "php-fpm.conf")
    write(conf, "[global]\npid = %s/php-fpm.pid\nerror_log = %s/php-fpm.log"
          "\ndaemonize = no\ninclude = %s/fpmd.php-fpm.conf\n" % (d, d, d))
    php = PhpFpmProcess(conf, os.path.join(d, "php-fpm.log"))
    servers.append(php)
    php.start(os.path.join(d, "unit-site.sock"))
    f = Fpmd(d, yaml, binary=FPMD_BIN)
    servers.append(f)
    f.start(("127.0.0.1", port))

    status, _, got = http_request(port, "GET", "/static/hello.txt")
    assert (status, got) == (200, b"hello from share\n")
    status, _, got = http_request(port, "GET", "/info.php?x=1")
    assert (status, got) == (
        200, b"php fpm-fcgi /info.php /info.php?x=1 from-unit 48M"), got
    # the script target: every other path runs index.php
    status, _, got = http_request(port, "GET", "/users/7")
    assert (status, got) == (
        200, b"php fpm-fcgi /index.php /users/7 from-unit 48M"), got
    assert f.proc.poll() is None


def test_a_result_that_does_not_load_exits_78(tmpdir_path):
    config = {"listeners": {"*:%d" % free_port(): {"pass": "routes"}},
              "routes": [{"action": {"share": "/nonexistent/www$uri"}}]}
    rc, yaml, pool, report = unit_import(tmpdir_path, config)
    assert rc == 78, report
    assert "does not load in this fpmd" in report
    assert "/nonexistent/www" in report


@pytest.mark.parametrize("text,where", [
    ('{"listeners": {"*:80": {"pass": "routes"}}', "unit.json:1:43: not "
     "JSON"),
    ('{\n  "listeners": {\n    "*:80" {}\n}', "unit.json:3:12: not JSON"),
    ('{"listeners": []}', "/listeners: expected an object, not an array"),
    ('{"listeners": {"*:80": {"pass": "routes"}}, "routes": '
     '[{"match": {"uri": 7}, "action": {"return": 404}}]}',
     "/routes/0/match/uri: expected a string or an array of strings, not "
     "a number"),
    ('{"listeners": {"*:80": {"pass": "applications/a"}}, "applications": '
     '{"a": {"type": "php", "root": "/srv", "processes": {"max": "8"}}}}',
     "/applications/a/processes/max: expected a whole number, not a "
     "string"),
    ("[" * 5000, "unit.json:1:33: not JSON: nesting too deep"),
    ('"\\u0000"', "/: expected an object"),
])
def test_bad_input_says_where_and_exits_1(tmpdir_path, text, where):
    src = os.path.join(tmpdir_path, "unit.json")
    write(src, text)
    rc, stdout, err = run_unit("-o", os.path.join(tmpdir_path, "o.yaml"),
                               src)
    assert rc == 1, err
    assert stdout == ""
    assert where in err.replace(src, "unit.json"), err
    assert not os.path.exists(os.path.join(tmpdir_path, "o.yaml"))


def test_a_missing_file_exits_66_and_usage_64(tmpdir_path):
    rc, _, err = run_unit(os.path.join(tmpdir_path, "none.json"))
    assert rc == 66 and "No such file" in err
    rc, _, err = run_unit()
    assert rc == 64 and "no UNIT.json" in err
    rc, out, _ = run_unit("--help")
    assert rc == 0 and "--php-fpm-pool" in out
    p = subprocess.run([MIGRATE_BIN, "-h"], capture_output=True, text=True)
    assert p.returncode == 0 and "import-unit" in p.stdout


def test_report_to_a_file_and_pool_where_asked(tmpdir_path):
    src = os.path.join(tmpdir_path, "unit.json")
    write(src, json.dumps({
        "listeners": {"*:%d" % free_port(): {"application": "legacy"}},
        "applications": {"legacy": {"type": "php", "root": "/srv/old"}}}))
    rep = os.path.join(tmpdir_path, "report.txt")
    pool = os.path.join(tmpdir_path, "pools", "unit.conf")
    os.makedirs(os.path.dirname(pool))
    rc, stdout, err = run_unit("-r", rep, "--php-fpm-pool", pool, src)
    assert rc == 0, err
    assert err == ""
    assert stdout.endswith('routes:\n  - match: "/*"\n'
                           '    to: "legacy:legacy"\n')
    text = read(rep)
    assert said(text, "/listeners/*:%s/application"
                % stdout.split('http: "*:')[1].split('"')[0]) == \
        "applied: the listener's requests go to applications/legacy"
    assert "[legacy]\nlisten = /run/php/unit-legacy.sock\n" in read(pool)

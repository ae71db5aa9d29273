# SPDX-License-Identifier: BSD-2-Clause
"""fpmd-migrate import-fpm on real php-fpm configs: Debian's own
php-fpm.conf and pool.d/www.conf, and hand-written pools (several pools,
globbed includes, $pool, env[], php_admin_value, time suffixes, a unix
socket and a TCP listen). The report accounts for every directive, the
YAML passes fpmd -t, and fpmd started on it in front of the real php-fpm
8.2, moved to the legacy address as the report says, passes requests
through to PHP. Bad input: file:line:column and exit 1; a missing file:
exit 66."""

import os
import re
import signal
import subprocess

import pytest

import fcgi_client as fc
from backends import PHP_FPM_BIN, Server, no_worker_died  # noqa: F401
from conftest import FPMD_BIN, Fpmd, can_connect, free_port, need, wait_for

# fpmd-migrate is built next to fpmd: <builddir>/migrate/fpmd-migrate
MIGRATE_BIN = os.path.join(os.path.dirname(os.path.dirname(FPMD_BIN)),
                           "migrate", "fpmd-migrate")
DEBIAN_CONF = "/etc/php/8.2/fpm/php-fpm.conf"
DEBIAN_POOL = "/etc/php/8.2/fpm/pool.d/www.conf"


def run_import(*args, env=None):
    need(MIGRATE_BIN, "fpmd-migrate")
    p = subprocess.run([MIGRATE_BIN, "import-fpm", *args],
                       capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    return p.returncode, p.stdout, p.stderr


def fpmd_test(path):
    """fpmd -t on the YAML written, less its user: and group: lines: as
    root fpmd -t resolves them, and the pools' users (api...) need not
    exist here."""
    need(FPMD_BIN, "fpmd")
    with open(path) as f:
        text = re.sub(r"(?m)^(user|group): .*\n", "", f.read())
    checked = path + ".checked.yaml"
    with open(checked, "w") as f:
        f.write(text)
    p = subprocess.run([FPMD_BIN, "-t", "-R", "-y", checked],
                       capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


def directive_lines(path):
    """(line number, text) of every line php-fpm reads as a directive."""
    return [(n, line) for n, line in enumerate(read(path).splitlines(), 1)
            if re.match(r"\s*[^\s;#\[]", line)]


def assert_every_directive_reported(report, paths):
    """Nothing silently dropped: each directive line of each file has its
    line in the report, mapped, applied, overridden or unsupported."""
    for path in paths:
        for n, line in directive_lines(path):
            m = re.search(r"(?m)^%s:%d:\d+: \[[^]]*\] \S+: (.*)$"
                          % (re.escape(path), n), report)
            assert m, "%s:%d (%s) missing from the report:\n%s" % (
                path, n, line, report)
            assert re.match(r"(mapped to |applied: |unsupported: \S|"
                            r"overridden by )", m.group(1)), m.group(0)


def report_line(report, path, name):
    """The report's text for the directive name of path."""
    m = re.search(r"(?m)^%s:\d+:\d+: \[[^]]*\] %s: (.*)$"
                  % (re.escape(path), re.escape(name)), report)
    assert m, "%s of %s not in the report:\n%s" % (name, path, report)
    return m.group(1)


def test_debian_php_fpm_conf_imports_and_loads(tmpdir_path):
    if not (os.path.exists(DEBIAN_CONF) and os.path.exists(DEBIAN_POOL)):
        need("/nonexistent/php8.2-fpm", "Debian's php8.2-fpm config")
    conf = os.path.join(tmpdir_path, "php-fpm.conf")
    pool = os.path.join(tmpdir_path, "pool.d", "www.conf")
    # the test owns its copies: the include points at its own pool.d
    text, n = re.subn(r"(?m)^include=.*$", "include=%s/pool.d/*.conf"
                      % tmpdir_path, read(DEBIAN_CONF))
    assert n == 1
    write(conf, text)
    write(pool, read(DEBIAN_POOL))
    out = os.path.join(tmpdir_path, "fpmd.yaml")
    rc, stdout, report = run_import("-o", out, conf)
    assert rc == 0, report
    assert stdout == ""
    yaml = read(out)
    assert ("\npool: www\nuser: www-data\ngroup: www-data\n"
            "pid: /run/php/php8.2-fpm.fpmd.pid\n") in yaml
    assert ("\nlisten:\n  - fastcgi: /run/php/php8.2-fpm.sock\n"
            "    owner: www-data\n    group: www-data\n") in yaml
    assert ("\npm:\n  mode: dynamic\n  max_children: 5\n"
            "  start_servers: 2\n  min_spare_servers: 1\n"
            "  max_spare_servers: 3\n") in yaml
    assert "\nstatus:\n  path: null\n  ping: null\n" in yaml
    assert "\nlog:\n  error: /var/log/php8.2-fpm.fpmd.log\n" in yaml
    # one pool: the plain legacy form, at the socket beside the old one;
    # 5 fpmd workers x 1 connection within php-fpm's 5 children
    assert ("\nlegacy:\n  fastcgi: /run/php/php8.2-fpm-legacy.sock\n"
            "  max: 1\n") in yaml
    assert yaml.endswith('\nroutes:\n  - match: "*"\n    to: legacy\n')
    assert_every_directive_reported(report, [conf, pool])
    assert report_line(report, conf, "include") == \
        "applied: read 1 file(s) here"
    assert report_line(report, pool, "listen") == (
        "mapped to listen[].fastcgi: /run/php/php8.2-fpm.sock (fpmd takes "
        "this address; php-fpm moves to legacy.fastcgi: "
        "/run/php/php8.2-fpm-legacy.sock)")
    assert ("to do: move php-fpm's [www] listen (%s:%d) from "
            "/run/php/php8.2-fpm.sock to /run/php/php8.2-fpm-legacy.sock"
            % (pool, [n for n, line in directive_lines(pool)
                      if line.startswith("listen =")][0])) in report
    # the same report heads the YAML, as comments
    for line in report.splitlines():
        assert "\n# " + line + "\n" in yaml
    rc, said = fpmd_test(out)
    assert rc == 0, said


POOLS = {
    "php-fpm.conf": """\
[global]
pid = {d}/run/php-fpm.pid
; relative: php-fpm's prefix (-p, here --prefix)
error_log = log/php-fpm.log
log_level = notice
emergency_restart_threshold = 10
emergency_restart_interval = 1m
process_control_timeout = 20s
daemonize = no
rlimit_core = unlimited
include = pool.d/*.conf
""",
    "pool.d/10-www.conf": """\
; the site
[www]
user = www-data
group = www-data
listen = {d}/run/$pool.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = dynamic
pm.max_children = 10
pm.start_servers = 4
pm.min_spare_servers = 2
pm.max_spare_servers = 6
pm.process_idle_timeout = 30s
pm.max_requests = 500
pm.status_path = /status-$pool
ping.path = /ping
ping.response = "pong: # 'ok'"
request_terminate_timeout = 5m
request_slowlog_timeout = 30
slowlog = {d}/log/$pool.slow
access.log = {d}/log/$pool.access
access.format = "%R - %u %t \\"%m %r\\" %s"
catch_workers_output = yes
clear_env = no
chdir = /
security.limit_extensions = .php
rlimit_files = 4096
env[PATH] = /usr/local/bin:/usr/bin:/bin
env[APP_ENV] = prod-$pool
php_admin_value[memory_limit] = 256M
php_admin_flag[log_errors] = on
php_value[session.save_path] = "/var/lib/php/sessions/$pool"
pm.max_requests = 1000
""",
    "pool.d/20-api.conf": """\
[api]
user = api
listen = 127.0.0.1:${{API_PORT}}
listen.allowed_clients = 127.0.0.1
pm = ondemand
pm.max_children = 20
pm.process_idle_timeout = 1d
request_terminate_timeout = 2h
""",
    "pool.d/README": "not a .conf file: the glob leaves it out\n",
}


@pytest.fixture
def pools(tmpdir_path):
    for name, text in POOLS.items():
        write(os.path.join(tmpdir_path, name), text.format(d=tmpdir_path))
    return tmpdir_path


def test_several_pools_map_and_report_every_directive(pools):
    d = pools
    conf = os.path.join(d, "php-fpm.conf")
    www = os.path.join(d, "pool.d", "10-www.conf")
    api = os.path.join(d, "pool.d", "20-api.conf")
    out = os.path.join(d, "fpmd.yaml")
    rc, _, report = run_import("--prefix", d, "-o", out, conf,
                               env={"API_PORT": "9100"})
    assert rc == 0, report
    yaml = read(out)
    assert ("\npool: www\nuser: www-data\ngroup: www-data\n"
            "pid: %s/run/php-fpm.fpmd.pid\ndaemonize: false\n"
            "emergency_restart_threshold: 10\n"
            "emergency_restart_interval: 1m\n" % d) in yaml
    # $pool in a unix socket path; owner, group and the mode quoted
    assert ('\nlisten:\n  - fastcgi: %s/run/www.sock\n'
            '    owner: www-data\n    group: www-data\n    mode: "0660"\n'
            % d) in yaml
    # the later pm.max_requests wins; process_idle_timeout is ondemand's
    assert ("\npm:\n  mode: dynamic\n  max_children: 10\n"
            "  start_servers: 4\n  min_spare_servers: 2\n"
            "  max_spare_servers: 6\n  max_requests: 1000\n") in yaml
    # time suffixes: 5m stays, a bare 30 is seconds, 20s stays
    assert ("\ntimeouts:\n  request_terminate: 5m\n  slowlog: 30s\n"
            "  process_control: 20s\n") in yaml
    assert ('\nstatus:\n  path: /status-www\n  ping: /ping\n'
            '  ping_response: "pong: # \'ok\'"\n') in yaml
    # fpmd's own logs beside php-fpm's (which keeps running); the
    # relative error_log resolved against --prefix as php-fpm's -p
    assert ('\nlog:\n  error: {d}/log/php-fpm.fpmd.log\n  level: notice\n'
            '  access: {d}/log/www.fpmd.access\n'
            '  access_format: "%R - %u %t \\"%m %r\\" %s"\n'
            '  slow: {d}/log/www.fpmd.slow\n'.format(d=d)) in yaml
    # several pools: the named form; api stays where it is (1d -> 24h,
    # 2h as its legacy timeout, 20 children / 10 workers = 2)
    assert ('\nlegacy:\n  www:\n    fastcgi: %s/run/www-legacy.sock\n'
            '    max: 1\n    timeout: 5m\n'
            '  api:\n    fastcgi: "127.0.0.1:9100"\n    max: 2\n'
            '    timeout: 2h\n' % d) in yaml
    assert yaml.endswith('\nroutes:\n  - match: "*"\n'
                         '    to: "legacy:www"\n')

    assert_every_directive_reported(report, [conf, www, api])
    assert "pool.d/README" not in report
    assert report_line(report, conf, "include") == \
        "applied: read 2 file(s) here"
    assert report_line(report, conf, "rlimit_core").startswith(
        "unsupported: fpmd sets no resource limits")
    for name, why in [
            ("env[PATH]", "passed to the legacy php-fpm's own pool"),
            ("env[APP_ENV]", "passed to the legacy php-fpm's own pool"),
            ("php_admin_value[memory_limit]",
             "stays with php-fpm (PHP ini setting)"),
            ("php_admin_flag[log_errors]",
             "stays with php-fpm (PHP ini setting)"),
            ("php_value[session.save_path]",
             "stays with php-fpm (PHP ini setting)"),
            ("catch_workers_output", "about php-fpm's children's stdout"),
            ("clear_env", "the environment of PHP's workers"),
            ("chdir", "fpmd's workers do not chdir"),
            ("security.limit_extensions", "fpmd runs no scripts"),
            ("rlimit_files", "fpmd sets no resource limits"),
            ("pm.process_idle_timeout",
             "php-fpm reads it only with pm = ondemand")]:
        assert report_line(report, www, name).startswith(
            "unsupported: " + why), name
    # env values (secrets, often) are not repeated in the report
    assert "prod-www" not in report
    assert re.search(r"10-www.conf:\d+:1: \[www\] pm.max_requests: "
                     r"overridden by .*10-www.conf:\d+", report)
    assert report_line(report, api, "listen") == (
        'mapped to legacy.api.fastcgi: "127.0.0.1:9100" (unchanged: pool '
        'api stays in php-fpm where it is)')
    assert report_line(report, api, "pm").startswith(
        "unsupported: pool api stays in php-fpm")
    assert "several pools: legacy: names each" in report
    assert re.search(r"(?m)^summary: \d+ mapped, \d+ applied, \d+ "
                     r"unsupported, 1 overridden$", report)
    rc, said = fpmd_test(out)
    assert rc == 0, said

    # --pool api: api becomes fpmd's pool, on its TCP port; www stays
    rc, yaml, report = run_import("--prefix", d, "--pool", "api", conf,
                                  env={"API_PORT": "9100"})
    assert rc == 0, report
    assert '\npool: api\nuser: api\n' in yaml
    assert ('\nlisten:\n  - fastcgi: "127.0.0.1:9100"\n'
            '    allowed_clients: ["127.0.0.1"]\n') in yaml
    assert "\npm:\n  mode: ondemand\n  max_children: 20\n" \
        "  process_idle_timeout: 24h\n" in yaml
    assert ('\n  api:\n    fastcgi: "127.0.0.1:9101"\n    max: 1\n'
            '    timeout: 2h\n') in yaml
    assert '\n  www:\n    fastcgi: %s/run/www.sock\n' % d in yaml
    assert "listen.owner: unsupported: pool www stays in php-fpm" \
        in report
    out = os.path.join(d, "api.yaml")
    write(out, yaml)
    rc, said = fpmd_test(out)
    assert rc == 0, said


PROBE = """<?php
header('Content-Type: text/plain');
echo 'php-fpm ', getenv('APP_MARK'), ' ', php_sapi_name(), ' ',
    $_SERVER['REQUEST_URI'], ' ', ini_get('memory_limit');
"""

# Leading blanks, a colon, a hash, both quotes, a tab and UTF-8: what
# YAML must quote and escape, checked byte for byte through fpmd's ping.
PONG = "  pong: #1 \"q\" 'x'\tü"


class PhpFpmProcess(Server):
    """php-fpm 8.2 on the test's own php-fpm.conf."""

    stop_signal = signal.SIGQUIT

    def __init__(self, conf, log):
        self.conf, self.log, self.label, self.proc = conf, log, "php-fpm", None

    def start(self, address):
        need(PHP_FPM_BIN, "php-fpm8.2")
        self.proc = subprocess.Popen(
            [PHP_FPM_BIN, "-F", "-y", self.conf]
            + (["-R"] if os.geteuid() == 0 else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: can_connect(address) or self.proc.poll() is not None,
                 10, "php-fpm")
        assert self.proc.poll() is None, self.logs()


def fcgi_get(address, uri, extra=None):
    c = fc.Conn(address)
    c.send(fc.request_bytes(1, fc.cgi_params("GET", uri, extra=extra)))
    r = c.wait([1])[0]
    c.sock.close()
    assert r is not None and r.ended
    return r.split()


def as_address(text):
    if text.startswith("/"):
        return text
    host, port = text.rsplit(":", 1)
    return (host, int(port))


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_fpmd_on_the_import_passes_requests_to_the_moved_php_fpm(
        tmpdir_path, servers, transport):
    need(PHP_FPM_BIN, "php-fpm8.2")
    need(FPMD_BIN, "fpmd")
    d = tmpdir_path
    os.chmod(d, 0o755)
    www = os.path.join(d, "www")
    write(os.path.join(www, "probe.php"), PROBE)
    os.chmod(www, 0o755)
    os.chmod(os.path.join(www, "probe.php"), 0o644)
    port = free_port()
    listen = ("127.0.0.1:%d" % port if transport == "tcp"
              else os.path.join(d, "app.sock"))
    user = "user = www-data\ngroup = www-data\n" if os.geteuid() == 0 else ""
    conf = os.path.join(d, "php-fpm.conf")
    pool = os.path.join(d, "pool.d", "app.conf")
    # php-fpm resolves a relative include against its own prefix (/usr)
    write(conf, "[global]\npid = %s/php-fpm.pid\nerror_log = %s/php-fpm.log"
          "\ndaemonize = no\ninclude = %s/pool.d/*.conf\n" % (d, d, d))
    write(pool, "[app]\n%slisten = %s\nlisten.mode = 0666\npm = static\n"
          "pm.max_children = 2\nrequest_terminate_timeout = 30s\n"
          "ping.path = /ping-$pool\n"
          "ping.response = \"%s\"\n"
          "env[APP_MARK] = from-$pool\n"
          "php_admin_value[memory_limit] = 64M\n"
          "catch_workers_output = yes\n" % (
              user, listen, PONG.replace('"', '\\"')))
    out = os.path.join(d, "fpmd.yaml")
    args = ["-o", out, conf]
    if transport == "tcp":
        args = ["--legacy", "127.0.0.1:%d" % free_port()] + args
    rc, _, report = run_import(*args)
    assert rc == 0, report
    rc, said = fpmd_test(out)
    assert rc == 0, said
    legacy = re.search(r"\(listen = (\S+)\)", report).group(1)
    if transport == "tcp":
        assert legacy == args[1]
    else:
        assert legacy == os.path.join(d, "app-legacy.sock")
    assert report_line(report, pool, "env[APP_MARK]") == \
        "unsupported: passed to the legacy php-fpm's own pool"

    # the operator's step from the report: php-fpm's listen moves
    text, n = re.subn(r"(?m)^listen = .*$", "listen = " + legacy,
                      read(pool))
    assert n == 1
    write(pool, text)
    php = PhpFpmProcess(conf, os.path.join(d, "php-fpm.log"))
    servers.append(php)
    php.start(as_address(legacy))
    f = Fpmd(d, read(out), binary=FPMD_BIN)
    servers.append(f)
    f.start(as_address(listen))

    params = {"SCRIPT_FILENAME": os.path.join(www, "probe.php"),
              "DOCUMENT_ROOT": www}
    for i in range(3):
        status, _, body = fcgi_get(as_address(listen), "/probe.php?i=%d" % i,
                                   params)
        # PHP ran in php-fpm's pool, with that pool's env[] and
        # php_admin_value, which stayed with php-fpm
        assert (status, body) == (200, b"php-fpm from-app fpm-fcgi "
                                  b"/probe.php?i=%d 64M" % i), body
    # fpmd answers the ping page itself, from the YAML the import wrote
    status, _, body = fcgi_get(as_address(listen), "/ping-app")
    assert (status, body) == (200, PONG.encode()), body
    # php-fpm no longer answers at the old address: fpmd does
    assert f.proc.poll() is None


def test_a_bad_line_names_file_line_column(tmpdir_path):
    bad = os.path.join(tmpdir_path, "bad.conf")
    out = os.path.join(tmpdir_path, "out.yaml")
    write(bad, "[www]\nlisten = 127.0.0.1:9000\npm static\n"
          "pm.max_children = many\nping.response = \"open\n")
    rc, stdout, err = run_import("-o", out, bad)
    assert rc == 1
    assert stdout == ""
    assert not os.path.exists(out)
    assert err.splitlines() == [
        '%s:3:4: expected "=" after "pm"' % bad,
        "%s:5:17: a double-quoted value must end on its line (php-fpm "
        "reads one line at a time)" % bad,
    ]
    # the lines read, a value php-fpm refuses: the same form
    write(bad, "[www]\nlisten = 127.0.0.1:9000\npm = static\n"
          "pm.max_children = many\n")
    rc, _, err = run_import(bad)
    assert rc == 1
    assert err == ('%s:4:19: [www] pm.max_children: "many" is not a whole '
                   'number\n' % bad)


def test_a_missing_file_exits_66(tmpdir_path):
    missing = os.path.join(tmpdir_path, "nope.conf")
    rc, stdout, err = run_import(missing)
    assert rc == 66
    assert stdout == ""
    assert err == "%s: cannot open: No such file or directory\n" % missing
    # an include whose directory is not there stops php-fpm too
    conf = os.path.join(tmpdir_path, "php-fpm.conf")
    write(conf, "[global]\ninclude = %s/none/*.conf\n" % tmpdir_path)
    rc, _, err = run_import(conf)
    assert rc == 66
    assert err.startswith("%s:2:11: include \"" % conf)

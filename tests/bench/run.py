#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Side-by-side benchmark: one nginx (1 worker) in front of php-fpm 8.2
(pm static), a bare libfcgi C responder (8 processes) and fpmd, on the same
machine in one run, each route with and without FastCGI keep-alive, loaded
by wrk. Rows run round-robin, REPEAT times each, medians reported, as a
Markdown table with fpmd/php-fpm ratios. Every server is started here on
free 127.0.0.1 ports in a temp dir and stopped by its pid.

The IO-bound routes (/io-fast, /io-wait) need a redis-server (hz 500, so
that a 10 ms BLPOP takes 10 ms) and a mariadbd with the contract's data,
both started here too; php-fpm reaches them with persistent phpredis and
mysqli connections, fpmd through its pools.

Environment: DURATION (s per wrk run, 10), REPEAT (3), CONNECTIONS (64),
IO_CONNECTIONS (the IO routes', "64,256"), CHILDREN (php-fpm children,
"8,32"), FPMD (binary), BENCH_OUT (raw output dir, /tmp/fpmd-bench), ROUTES
("hello,json,io-fast,io-wait").
"""

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
DURATION = int(os.environ.get("DURATION", "10"))
REPEAT = int(os.environ.get("REPEAT", "3"))
CONNS = int(os.environ.get("CONNECTIONS", "64"))
IO_CONNS = [int(c) for c in os.environ.get("IO_CONNECTIONS",
                                           "64,256").split(",")]
IO_ROUTES = ("io-fast", "io-wait")
CHILDREN = [int(c) for c in os.environ.get("CHILDREN", "8,32").split(",")]
FPMD = os.environ.get("FPMD", os.path.join(TOP, "fpmd", "fpmd"))
DEMO_CONF = os.path.join(TOP, "conf", "demo.yaml")
OUT = os.environ.get("BENCH_OUT", "/tmp/fpmd-bench")
ROUTES = os.environ.get("ROUTES", "hello,json,io-fast,io-wait").split(",")
PHP_FPM = "/usr/sbin/php-fpm8.2"
NGINX = "/usr/sbin/nginx"
PACKAGES = ("nginx-light php8.2-fpm php8.2-opcache wrk libfcgi-dev "
            "libfcgi-bin gcc redis-server mariadb-server php8.2-redis "
            "php8.2-mysql python3-yaml")
REDIS_SERVER = "/usr/bin/redis-server"
MARIADBD = "/usr/sbin/mariadbd"

HELLO_PHP = '<?php\nheader("Content-Type: text/plain");\necho "hello world\\n";\n'
JSON_PHP = """<?php
$items = [];
for ($n = 1; $n <= 10; $n++) {
    $items[] = ["id" => $n, "name" => "item-$n", "price" => $n * 1.25,
                "active" => $n % 2 == 0, "tags" => ["alpha", "beta"]];
}
header("Content-Type: application/json");
echo json_encode($items);
"""

# BENCH-CONTRACT's IO routes. INT columns come back as numbers, as fpmd's
# fpmd_mysql_json gives them; DECIMAL stays a string on both sides.
IO_FAST_PHP = """<?php
$r = new Redis();
$r->pconnect('127.0.0.1', {redis_port});
$k1 = $r->get('bench:k1');
$k2 = $r->get('bench:k2');
$k3 = $r->get('bench:k3');
$db = mysqli_init();
$db->options(MYSQLI_OPT_INT_AND_FLOAT_NATIVE, 1);
$db->real_connect('p:127.0.0.1', 'bench', 'bench', 'bench', {mysql_port});
$item = $db->query('SELECT id, name, price, qty FROM items WHERE id = 42')
    ->fetch_assoc();
header('Content-Type: application/json');
echo json_encode(['k1' => $k1, 'k2' => $k2, 'k3' => $k3, 'item' => $item]);
"""
IO_WAIT_PHP = """<?php
$db = mysqli_init();
$db->options(MYSQLI_OPT_INT_AND_FLOAT_NATIVE, 1);
$db->real_connect('p:127.0.0.1', 'bench', 'bench', 'bench', {mysql_port});
$r = new Redis();
$r->pconnect('127.0.0.1', {redis_port});
$db1 = $db->query('SELECT SLEEP(0.01)')->fetch_row()[0];
$redis = $r->rawCommand('BLPOP', 'bench:empty', '0.01');
$db2 = $db->query('SELECT SLEEP(0.01)')->fetch_row()[0];
header('Content-Type: application/json');
echo json_encode(['db1' => $db1, 'redis' => $redis ?: null, 'db2' => $db2]);
"""
# BENCH-CONTRACT's data, shared with the integration tests.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "seed.sql")) as _f:
    SEED_SQL = _f.read()

LIBFCGI_C = r"""
/* Bare libfcgi responder: the raw-C reference. Binds once, forks N
 * processes that each run the classic blocking FCGX_Accept_r loop. */
#include <fcgiapp.h>
#include <stdlib.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
    int n = argc > 2 ? atoi(argv[2]) : 8, fd;
    FCGX_Request r;

    FCGX_Init();
    fd = FCGX_OpenSocket(argv[1], 511);
    for (int i = 1; i < n; i++)
        if (fork() == 0)
            break;
    FCGX_InitRequest(&r, fd, 0);
    while (FCGX_Accept_r(&r) >= 0) {
        FCGX_FPrintF(r.out, "Content-Type: text/plain\r\n\r\nhello world\n");
        FCGX_Finish_r(&r);
    }
    return 0;
}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            sys.exit("%s exited early (see %s)" % (what, OUT))
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    sys.exit("%s did not listen on %d" % (what, port))


def tree(pid):
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def cpu_seconds(pids):
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])   # utime, stime
        except OSError:
            pass
    return total / tick


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Side:
    """A backend: its processes, its FastCGI address, its routes."""

    def __init__(self, name, proc, address, routes):
        self.name, self.proc, self.address, self.routes = (
            name, proc, address, routes)

    def pids(self):
        return tree(self.proc.pid)


def start(cmd, log, **kw):
    return subprocess.Popen(cmd, stdout=log, stderr=log, **kw)


class Backends:
    """The redis-server and mariadbd both sides call."""

    def __init__(self, tmp, log):
        self.redis_port, self.mysql_port = free_port(), free_port()
        data = os.path.join(tmp, "mysql")
        sock = os.path.join(tmp, "mysqld.sock")
        self.procs = []
        self.redis = start([REDIS_SERVER, "--port", str(self.redis_port),
                            "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--hz", "500",
                            "--dir", tmp, "--maxclients", "10000"], log)
        self.procs.append(self.redis)
        subprocess.run(["mariadb-install-db", "--no-defaults", "--force",
                        "--datadir=" + data, "--skip-test-db",
                        "--auth-root-authentication-method=normal",
                        "--user=" + ("root" if os.geteuid() == 0
                                     else os.getlogin())],
                       stdout=log, stderr=log, check=True)
        self.mysql = start([MARIADBD, "--no-defaults", "--datadir=" + data,
                            "--socket=" + sock,
                            "--port=%d" % self.mysql_port,
                            "--bind-address=127.0.0.1", "--user=root",
                            "--skip-log-bin", "--max-connections=2000",
                            "--skip-name-resolve",
                            "--innodb-buffer-pool-size=64M",
                            "--log-error=" + os.path.join(tmp, "mysqld.log")],
                           log)
        self.procs.append(self.mysql)
        wait_port(self.redis_port, self.redis, "redis-server")
        wait_port(self.mysql_port, self.mysql, "mariadbd")
        subprocess.run(["mariadb", "--no-defaults", "-S", sock, "-uroot",
                        "-e", SEED_SQL], check=True)
        for n in (1, 2, 3):
            subprocess.run(["redis-cli", "-p", str(self.redis_port), "SET",
                            "bench:k%d" % n,
                            "value-%d-abcdefghijklmnopqrstuvwxyz" % n],
                           stdout=subprocess.DEVNULL, check=True)


def start_php(tmp, children, log, tag=""):
    port = free_port()
    www = os.path.join(tmp, "www")
    conf = os.path.join(tmp, "php-fpm-%d%s.conf" % (children, tag))
    with open(conf, "w") as f:
        f.write("""[global]
pid = {tmp}/php-fpm-{n}{tag}.pid
error_log = {tmp}/php-fpm-{n}{tag}.log
daemonize = no
[bench]
listen = 127.0.0.1:{port}
listen.backlog = 511
pm = static
pm.max_children = {n}
user = {user}
group = {group}
php_admin_value[opcache.enable] = 1
php_admin_value[opcache.validate_timestamps] = 0
chdir = {www}
""".format(tmp=tmp, n=children, tag=tag, port=port, www=www,
           user="www-data" if os.geteuid() == 0 else os.getlogin(),
           group="www-data" if os.geteuid() == 0 else os.getlogin()))
    proc = start([PHP_FPM, "-F", "-y", conf, "-R"], log)
    wait_port(port, proc, "php-fpm")
    side = Side("php-fpm x%d" % children, proc, "127.0.0.1:%d" % port,
                {"hello": "/hello.php", "json": "/json.php",
                 "io-fast": "/io-fast.php", "io-wait": "/io-wait.php"})
    side.children = children
    return side


def start_libfcgi(tmp, log):
    src = os.path.join(tmp, "libfcgi_hello.c")
    exe = os.path.join(tmp, "libfcgi_hello")
    with open(src, "w") as f:
        f.write(LIBFCGI_C)
    subprocess.run(["cc", "-O2", "-o", exe, src, "-lfcgi"], check=True)
    port = free_port()
    proc = start([exe, "127.0.0.1:%d" % port, "8"], log)
    wait_port(port, proc, "libfcgi responder")
    return Side("libfcgi x8", proc, "127.0.0.1:%d" % port,
                {"hello": "/hello"})


def demo_conf(listen, pm, error_log, backends=None):
    """fpmd's demo and benchmark config, conf/demo.yaml, as the bench runs
    it: its routes as they are, the bench's listeners, pm and error log,
    and its pools (credentials included) on this run's redis-server and
    mariadbd, max 256 connections each; without backends, no pools."""
    import yaml
    with open(DEMO_CONF) as f:
        conf = yaml.safe_load(f)
    conf.update(pool="bench", listen=listen, pm=pm, log={"error": error_log})
    if backends:
        conf["pools"]["cache"]["servers"] = [
            "127.0.0.1:%d" % backends.redis_port]
        conf["pools"]["db"]["servers"] = [
            "127.0.0.1:%d" % backends.mysql_port]
        for pool in conf["pools"].values():
            pool["max"] = 256
    else:
        del conf["pools"]
    return yaml.safe_dump(conf, sort_keys=False)


def start_fpmd(tmp, log, children=0, backends=None):
    """fpmd on conf/demo.yaml with one worker per core (children 0) on
    FastCGI and HTTP, or with N workers on HTTP only: one worker is nginx's
    own setting here. With backends, its pools too."""
    port, hport = free_port(), free_port()
    name = "fpmd x%d" % children if children else "fpmd"
    base = name.replace(" ", "-")
    listen = [{"http": "127.0.0.1:%d" % hport, "backlog": 4096}]
    pm = {"mode": "static"}
    if children:
        pm["max_children"] = children
    else:
        listen.insert(0, {"fastcgi": "127.0.0.1:%d" % port, "backlog": 511})
    conf = os.path.join(tmp, base + ".yaml")
    with open(conf, "w") as f:
        f.write(demo_conf(listen, pm, "%s/%s-error.log" % (tmp, base),
                          backends))
    # demo.yaml names its user: as root, its workers run as nobody
    proc = start([FPMD, "-F", "-y", conf], log)
    wait_port(hport, proc, name)
    routes = {"hello": "/hello", "json": "/json"}
    if backends:
        routes.update({"io-fast": "/io-fast", "io-wait": "/io-wait"})
    side = Side(name, proc, "127.0.0.1:%d" % port, routes)
    side.http_port = hport
    side.fastcgi = not children
    return side


def start_fpmd_legacy(tmp, log, php):
    """fpmd before a php-fpm of its own (same settings as the php-fpm side
    it is compared with), passing everything through (match "*", to:
    legacy): the cost of the extra hop on the same PHP scripts. Its own,
    since nginx's kept-alive connections to the other one hold every
    child."""
    port = free_port()
    conf = os.path.join(tmp, "fpmd-legacy.yaml")
    with open(conf, "w") as f:
        f.write("""pool: bench
listen:
  - fastcgi: 127.0.0.1:{port}
    backlog: 511
pm:
  mode: static
log:
  error: {tmp}/fpmd-legacy-error.log
legacy:
  fastcgi: {php}
  # {children} php-fpm children over fpmd's workers (one per core)
  max: {max}
  timeout: 60s
routes:
  - match: "*"
    to: legacy
""".format(port=port, tmp=tmp, php=php.address, children=php.children,
           max=max(1, php.children // (os.cpu_count() or 1))))
    proc = start([FPMD, "-F", "-R", "-y", conf], log)
    wait_port(port, proc, "fpmd legacy")
    return Side("fpmd→%s" % php.name, proc, "127.0.0.1:%d" % port,
                {k: v for k, v in php.routes.items()
                 if k in ("hello", "json")})


NGINX_CONF = """
{user}
worker_processes 1;
error_log {tmp}/nginx-error.log warn;
pid {tmp}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    log_format st '$status';
    client_body_temp_path {tmp}/body;
    fastcgi_temp_path {tmp}/fastcgi;
    proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{upstreams}
{servers}
}}
"""


def nginx_server(port, body):
    return ("    server {\n        listen 127.0.0.1:%d backlog=4096;\n"
            "        access_log %s/access-%d.log st;\n%s    }\n"
            % (port, TMP, port, body))


def fastcgi_location(upstream, keep):
    return ("        root %s/www;\n        location / {\n"
            "            include /etc/nginx/fastcgi_params;\n"
            "            fastcgi_param SCRIPT_FILENAME "
            "$document_root$fastcgi_script_name;\n"
            "%s            fastcgi_pass %s;\n        }\n"
            % (TMP, "            fastcgi_keep_conn on;\n" if keep else "",
               upstream))


def parse_wrk(text):
    def num(pattern, default=0.0):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else default

    def lat(pct):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)]

    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+),"
                     r" timeout (\d+)", text)
    return {
        "rps": num(r"Requests/sec:\s+([\d.]+)"),
        "requests": num(r"(\d+) requests in"),
        "p50": lat(50), "p99": lat(99),
        "non2xx": num(r"Non-2xx or 3xx responses: (\d+)"),
        "sockerr": sum(int(x) for x in sock.groups()) if sock else 0,
    }


def count_statuses(path):
    good = bad = s499 = 0
    try:
        with open(path) as f:
            for line in f:
                code = line.strip()
                if code.startswith("2"):
                    good += 1
                elif code == "499":
                    s499 += 1
                else:
                    bad += 1
    except OSError:
        pass
    return good, bad, s499


def main():
    global TMP
    for tool in (NGINX, PHP_FPM, shutil.which("wrk") or "/usr/bin/wrk"):
        if not os.access(tool, os.X_OK):
            sys.exit("missing %s: apt-get install -y %s" % (tool, PACKAGES))
    os.makedirs(OUT, exist_ok=True)
    TMP = tempfile.mkdtemp(prefix="fpmd-bench-")
    os.chmod(TMP, 0o755)
    www = os.path.join(TMP, "www")
    os.makedirs(www)
    for name, text in (("hello.php", HELLO_PHP), ("json.php", JSON_PHP)):
        with open(os.path.join(www, name), "w") as f:
            f.write(text)
    log = open(os.path.join(OUT, "servers.log"), "ab")
    sides, nginx, backends = [], None, None
    try:
        if any(r in IO_ROUTES for r in ROUTES):
            backends = Backends(TMP, log)
            for name, text in (("io-fast.php", IO_FAST_PHP),
                               ("io-wait.php", IO_WAIT_PHP)):
                with open(os.path.join(www, name), "w") as f:
                    f.write(text.replace("{redis_port}",
                                         str(backends.redis_port))
                            .replace("{mysql_port}",
                                     str(backends.mysql_port)))
        for n in CHILDREN:
            sides.append(start_php(TMP, n, log))
        sides.append(start_libfcgi(TMP, log))
        if os.access(FPMD, os.X_OK):
            sides.append(start_fpmd(TMP, log, backends=backends))
            sides.append(start_fpmd(TMP, log, children=1))
            legacy_php = start_php(TMP, CHILDREN[0], log, tag="-legacy")
            side = start_fpmd_legacy(TMP, log, legacy_php)
            side.name = "fpmd→php-fpm x%d" % CHILDREN[0]
            side.behind = legacy_php
            sides.append(side)
        else:
            print("fpmd skipped: %s not found (build it first)" % FPMD)

        rows, upstreams, servers = [], "", ""
        for i, side in enumerate(sides):
            if not getattr(side, "fastcgi", True):
                continue
            upstreams += ("    upstream b%d { server %s; keepalive 32; }\n"
                          % (i, side.address))
            for keep in (False, True):
                port = free_port()
                servers += nginx_server(port, fastcgi_location(
                    "b%d" % i if keep else side.address, keep))
                for route in ROUTES:
                    if route not in side.routes or (
                            route in IO_ROUTES and backends is None):
                        continue
                    for conns in (IO_CONNS if route in IO_ROUTES
                                  else [CONNS]):
                        rows.append({"side": side, "keep": keep,
                                     "route": route, "port": port,
                                     "conns": conns,
                                     "path": side.routes[route], "runs": []})
        for side in sides:
            for route in ROUTES:
                # standalone: wrk straight at fpmd's HTTP listener
                if (getattr(side, "http_port", None) and route in side.routes
                        and route not in IO_ROUTES):
                    rows.append({"side": side, "keep": False,
                                 "direct": True, "route": route,
                                 "conns": CONNS,
                                 "port": side.http_port,
                                 "path": side.routes[route], "runs": []})
        ret_port = free_port()
        servers += nginx_server(ret_port, "        location / { return 200 "
                                "\"hello world\\n\"; }\n")
        rows.append({"side": None, "keep": False, "route": "hello",
                     "port": ret_port, "path": "/hello", "conns": CONNS,
                     "runs": []})
        conf = os.path.join(TMP, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(
                tmp=TMP, upstreams=upstreams, servers=servers,
                user="user root;" if os.geteuid() == 0 else ""))
        nginx = start([NGINX, "-p", TMP, "-c", conf, "-g", "daemon off;"],
                      log)
        wait_port(ret_port, nginx, "nginx")

        for rep in range(REPEAT):
            for row in rows:
                run_row(row, nginx, rep)
        print_table(rows, sides)
    finally:
        procs = [nginx] + [s.proc for s in sides] + [
            s.behind.proc for s in sides if getattr(s, "behind", None)]
        if backends is not None:
            procs += backends.procs
        for p in procs:
            if p is not None and p.poll() is None:
                for child in tree(p.pid)[1:]:
                    try:
                        os.kill(child, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                p.send_signal(signal.SIGQUIT if p is nginx else signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        shutil.rmtree(TMP, ignore_errors=True)


def row_name(row):
    side = row["side"].name if row["side"] else "nginx return 200"
    if row["side"] is None:
        return side
    if row.get("direct"):
        return "%s %s standalone HTTP" % (side, row["route"])
    return "%s %s%s%s" % (side, row["route"], " c%d" % row["conns"]
                          if row["route"] in IO_ROUTES else "",
                          " keepalive" if row["keep"] else "")


def run_row(row, nginx, rep):
    side = row["side"]
    url = "http://127.0.0.1:%d%s" % (row["port"], row["path"])
    back = side.pids() if side else []
    ngx = tree(nginx.pid)
    access = os.path.join(TMP, "access-%d.log" % row["port"])
    if rep == 0:        # warm-up: opcache, keep-alive pools, page cache
        subprocess.run(["wrk", "-t1", "-c%d" % row["conns"], "-d1s", url],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    open(access, "w").close()
    b0, n0 = cpu_seconds(back), cpu_seconds(ngx)
    out = subprocess.run(["wrk", "-t1", "-c%d" % row["conns"],
                          "-d%ds" % DURATION,
                          "--latency", url], capture_output=True, text=True)
    b1, n1 = cpu_seconds(back), cpu_seconds(ngx)
    time.sleep(0.5)     # let nginx finish logging closed connections
    r = parse_wrk(out.stdout)
    if row.get("direct"):
        r["good"], r["bad"], r["499"] = r["requests"] - r["non2xx"], 0, 0
    else:
        r["good"], r["bad"], r["499"] = count_statuses(access)
    reqs = max(r["requests"], 1)
    r["cpu_us"] = (b1 - b0) / reqs * 1e6
    r["ngx_us"] = (n1 - n0) / reqs * 1e6
    r["rss"] = rss_kib(back) if side else rss_kib(ngx)
    row["runs"].append(r)
    with open(os.path.join(OUT, "wrk-%s-%d.txt" % (
            re.sub(r"\W+", "_", row_name(row)), rep)), "w") as f:
        f.write(out.stdout)
    print("%-36s run %d: %8.0f req/s p99 %8.2f ms" % (
        row_name(row), rep + 1, r["rps"], r["p99"]), flush=True)


def med(row, key):
    return statistics.median(r[key] for r in row["runs"])


def print_table(rows, sides):
    def find(name, route, keep, direct=False, conns=CONNS):
        for row in rows:
            if (row["side"] is not None and row["side"].name == name
                    and row["route"] == route and row["keep"] == keep
                    and row.get("direct", False) == direct
                    and row["conns"] == conns):
                return row
        return None

    php_names = [s.name for s in sides if s.name.startswith("php-fpm")]
    print()
    print("wrk -t1 -c%d (IO routes: -c as named) -d%ds, %d runs per row "
          "(medians), one nginx worker, %d cores" % (
              CONNS, DURATION, REPEAT, os.cpu_count()))
    print()
    print("| row | req/s | p50 ms | p99 ms | non-2xx | 499 | sock err |"
          " backend CPU µs/req | nginx CPU µs/req | backend RSS MiB |"
          " fpmd ÷ this |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        ratio = ""
        if (row["side"] is not None
                and not row["side"].name.startswith("fpmd")
                and not row.get("direct")):
            f = find("fpmd", row["route"], row["keep"], conns=row["conns"])
            if f is not None:
                ratio = "%.2f×" % (med(f, "rps") / max(med(row, "rps"), 1))
        print("| %s | %.0f | %.2f | %.2f | %d | %d | %d | %s | %.1f | %.1f |"
              " %s |" % (
                  row_name(row), med(row, "rps"), med(row, "p50"),
                  med(row, "p99"), med(row, "non2xx") + med(row, "bad"),
                  med(row, "499"), med(row, "sockerr"),
                  "%.1f" % med(row, "cpu_us") if row["side"] else "—",
                  med(row, "ngx_us"), med(row, "rss") / 1024.0, ratio))
    for name in php_names:
        for route in ROUTES:
            for keep in (False, True):
                for conns in IO_CONNS if route in IO_ROUTES else [CONNS]:
                    p = find(name, route, keep, conns=conns)
                    f = find("fpmd", route, keep, conns=conns)
                    if not p or not f:
                        continue
                    print("\nfpmd/%s %s%s%s: %.2f× req/s, %.2f× CPU per "
                          "request, %.2f× RSS" % (
                              name, route, " c%d" % conns
                              if route in IO_ROUTES else "",
                              " keepalive" if keep else "",
                              med(f, "rps") / max(med(p, "rps"), 1),
                              med(f, "cpu_us") / max(med(p, "cpu_us"), 1e-9),
                              med(f, "rss") / max(med(p, "rss"), 1)),
                          end="")
    for side in sides:
        if not side.name.startswith("fpmd→"):
            continue
        php = side.name.split("→", 1)[1]
        for route in ROUTES:
            for keep in (False, True):
                p, f = find(php, route, keep), find(side.name, route, keep)
                if p and f:
                    print("\npass-through %s%s: %.2f× php-fpm's req/s, "
                          "p99 %+.2f ms" % (
                              route, " keepalive" if keep else "",
                              med(f, "rps") / max(med(p, "rps"), 1),
                              med(f, "p99") - med(p, "p99")), end="")
    ceiling = [r for r in rows if r["side"] is None]
    for name in ("fpmd", "fpmd x1"):
        for route in ROUTES:
            d = find(name, route, False, direct=True)
            if d and ceiling:
                print("\n%s standalone HTTP %s / nginx return 200 (one "
                      "worker): %.2f× req/s" % (
                          name, route,
                          med(d, "rps") / max(med(ceiling[0], "rps"), 1)),
                      end="")
    print()


if __name__ == "__main__":
    main()

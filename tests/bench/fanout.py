# SPDX-License-Identifier: BSD-2-Clause
"""A fan-out route: each request calls three upstream HTTP endpoints that
answer after 10 ms (a second fpmd's /probe?sleep_ms=10, the same server
for every side), through one nginx (1 worker), in one run:

  - php-fpm 8.2, pm static x32, with curl_multi (the three at once);
  - the same pool with three curl_exec in a row, as most PHP code does;
  - fpmd (one worker per core), conf/demo.yaml's /fanout: three
    fpmd_http_start on an upstream, fpmd_await_all.

wrk -t1 -c256 -d10s --latency, each row REPEAT times interleaved,
medians: requests/s, p50, p99, errors, and each side's CPU time per
request (its process tree's utime + stime over the run, divided by the
answers).

    /usr/bin/python3 tests/bench/fanout.py   (FPMD=fpmd/fpmd, REPEAT=3)

Needs nginx-light, php8.2-fpm, php8.2-curl and wrk.
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import run as b  # noqa: E402

REPEAT = int(os.environ.get("REPEAT", "3"))
CONNS = int(os.environ.get("CONNECTIONS", "256"))
DURATION = int(os.environ.get("DURATION", "10"))

MULTI_PHP = """<?php
$mh = curl_multi_init();
$hs = [];
foreach (["a", "b", "c"] as $k) {
    $h = curl_init("http://127.0.0.1:{up}/probe?sleep_ms=10");
    curl_setopt($h, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($h, CURLOPT_TIMEOUT_MS, 10000);
    curl_multi_add_handle($mh, $h);
    $hs[$k] = $h;
}
do {
    $st = curl_multi_exec($mh, $running);
    if ($running) curl_multi_select($mh, 1.0);
} while ($running && $st == CURLM_OK);
$out = [];
foreach ($hs as $k => $h) {
    $out[$k] = strlen(curl_multi_getcontent($h));
    curl_multi_remove_handle($mh, $h);
}
header("Content-Type: application/json");
echo json_encode($out), "\\n";
"""

SEQ_PHP = """<?php
$out = [];
foreach (["a", "b", "c"] as $k) {
    $h = curl_init("http://127.0.0.1:{up}/probe?sleep_ms=10");
    curl_setopt($h, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($h, CURLOPT_TIMEOUT_MS, 10000);
    $out[$k] = strlen(curl_exec($h));
}
header("Content-Type: application/json");
echo json_encode($out), "\\n";
"""


def start_upstream(tmp, log):
    """The endpoint every side calls: fpmd's /probe (it suspends the
    request for sleep_ms), on HTTP, one worker per core."""
    port = b.free_port()
    conf = os.path.join(tmp, "upstream.yaml")
    with open(conf, "w") as f:
        f.write("pool: upstream\nlisten:\n  - http: 127.0.0.1:%d\n"
                "    backlog: 4096\npm:\n  mode: static\nlog:\n"
                "  error: %s/upstream-error.log\nroutes:\n"
                "  - match: /probe\n    handler: probe\n" % (port, tmp))
    proc = b.start([b.FPMD, "-F", "-R", "-y", conf], log)
    b.wait_port(port, proc, "the upstream fpmd")
    return proc, port


def start_fpmd(tmp, log, up):
    port = b.free_port()
    conf = os.path.join(tmp, "fanout.yaml")
    with open(conf, "w") as f:
        f.write("pool: bench\nlisten:\n  - fastcgi: 127.0.0.1:%d\n"
                "    backlog: 511\npm:\n  mode: static\nlog:\n"
                "  error: %s/fanout-error.log\nroutes:\n"
                "  - match: GET /fanout\n    handler: fanout\n"
                "upstreams:\n  fanout:\n    servers: [http://127.0.0.1:%d]\n"
                "    max_connections: 256\n    breaker: off\n"
                % (port, tmp, up))
    proc = b.start([b.FPMD, "-F", "-R", "-y", conf], log)
    b.wait_port(port, proc, "fpmd")
    return b.Side("fpmd", proc, "127.0.0.1:%d" % port, {"fanout": "/fanout"})


def main():
    for tool in (b.NGINX, b.PHP_FPM, shutil.which("wrk") or "/usr/bin/wrk",
                 b.FPMD):
        if not os.access(tool, os.X_OK):
            sys.exit("missing %s: build fpmd, apt-get install -y "
                     "nginx-light php8.2-fpm php8.2-curl wrk" % tool)
    os.makedirs(b.OUT, exist_ok=True)
    tmp = b.TMP = tempfile.mkdtemp(prefix="fpmd-fanout-")
    os.chmod(tmp, 0o755)
    www = os.path.join(tmp, "www")
    os.makedirs(www)
    log = open(os.path.join(b.OUT, "fanout-servers.log"), "ab")
    procs = []
    try:
        up_proc, up = start_upstream(tmp, log)
        procs.append(up_proc)
        for name, text in (("multi.php", MULTI_PHP), ("seq.php", SEQ_PHP)):
            with open(os.path.join(www, name), "w") as f:
                f.write(text.replace("{up}", str(up)))
        php = b.start_php(tmp, 32, log)
        procs.append(php.proc)
        fpmd = start_fpmd(tmp, log, up)
        procs.append(fpmd.proc)
        rows = [("php-fpm x32, curl_multi", php, "/multi.php"),
                ("php-fpm x32, curl in a row", php, "/seq.php"),
                ("fpmd, fpmd_await_all", fpmd, "/fanout")]
        results = compare.measure(tmp, log, procs, rows, CONNS, DURATION,
                                  REPEAT)
        compare.print_table("fan-out: 3 upstream calls of 10 ms each, wrk "
                            "-t1 -c%d -d%ds, medians of %d"
                            % (CONNS, DURATION, REPEAT), rows, results)
    finally:
        compare.stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: BSD-2-Clause
"""The JSON-RPC server on one method, demo.add [a, b], against a php-fpm
8.2 endpoint doing the same (php://input, json_decode, the spec's checks
a JSON-RPC endpoint makes, json_encode), through one nginx (1 worker):
wrk -t1 -c64 -d10s --latency with tests/bench/jsonrpc.lua (one call per
POST), each row REPEAT times interleaved, medians, with each side's CPU
time per request; and fpmd's worker once more on its own HTTP listener,
without nginx.

    /usr/bin/python3 tests/bench/jsonrpc.py   (FPMD=fpmd/fpmd, REPEAT=3)
"""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402
import run as b  # noqa: E402

REPEAT = int(os.environ.get("REPEAT", "3"))
CONNS = int(os.environ.get("CONNECTIONS", "64"))
DURATION = int(os.environ.get("DURATION", "10"))
LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jsonrpc.lua")

RPC_PHP = """<?php
header("Content-Type: application/json");
$req = json_decode(file_get_contents("php://input"), true, 64);
function answer($id, $key, $value) {
    echo json_encode(["jsonrpc" => "2.0", $key => $value, "id" => $id]);
}
if (!is_array($req)) {
    answer(null, "error", ["code" => -32700, "message" => "Parse error"]);
} elseif (($req["jsonrpc"] ?? null) !== "2.0" || !is_string($req["method"] ?? null)) {
    answer($req["id"] ?? null, "error", ["code" => -32600, "message" => "Invalid Request"]);
} elseif ($req["method"] !== "demo.add") {
    answer($req["id"] ?? null, "error", ["code" => -32601, "message" => "Method not found"]);
} elseif (!is_array($req["params"] ?? null) || count($req["params"]) != 2) {
    answer($req["id"] ?? null, "error", ["code" => -32602, "message" => "demo.add takes [a, b]"]);
} else {
    answer($req["id"] ?? null, "result", intval($req["params"][0]) + intval($req["params"][1]));
}
"""


def start_fpmd(tmp, log):
    """fpmd on FastCGI for nginx, and on HTTP of its own: the side, and
    its HTTP port."""
    port, hport = b.free_port(), b.free_port()
    conf = os.path.join(tmp, "rpc.yaml")
    with open(conf, "w") as f:
        f.write("pool: bench\nlisten:\n  - fastcgi: 127.0.0.1:%d\n"
                "    backlog: 511\n  - http: 127.0.0.1:%d\n"
                "    backlog: 511\npm:\n  mode: static\nlog:\n"
                "  error: %s/rpc-error.log\nroutes:\n"
                "  - match: POST /rpc\n    handler: jsonrpc\n"
                % (port, hport, tmp))
    proc = b.start([b.FPMD, "-F", "-R", "-y", conf], log)
    b.wait_port(port, proc, "fpmd")
    b.wait_port(hport, proc, "fpmd")
    return b.Side("fpmd", proc, "127.0.0.1:%d" % port, {}), hport


def main():
    for tool in (b.NGINX, b.PHP_FPM, shutil.which("wrk") or "/usr/bin/wrk",
                 b.FPMD):
        if not os.access(tool, os.X_OK):
            sys.exit("missing %s: build fpmd, apt-get install -y "
                     "nginx-light php8.2-fpm wrk" % tool)
    os.makedirs(b.OUT, exist_ok=True)
    tmp = b.TMP = tempfile.mkdtemp(prefix="fpmd-rpc-")
    os.chmod(tmp, 0o755)
    os.makedirs(os.path.join(tmp, "www"))
    with open(os.path.join(tmp, "www", "rpc.php"), "w") as f:
        f.write(RPC_PHP)
    log = open(os.path.join(b.OUT, "jsonrpc-servers.log"), "ab")
    procs = []
    try:
        rows = []
        for n in (8, 32):
            php = b.start_php(tmp, n, log)
            procs.append(php.proc)
            rows.append(("php-fpm x%d" % n, php, "/rpc.php"))
        fpmd, hport = start_fpmd(tmp, log)
        procs.append(fpmd.proc)
        rows.append(("fpmd", fpmd, "/rpc"))
        # the same worker on its own HTTP listener: what it does when
        # nginx's one worker is not the ceiling
        rows.append(("fpmd, HTTP without nginx", fpmd, "/rpc",
                     "http://127.0.0.1:%d/rpc" % hport))
        results = compare.measure(tmp, log, procs, rows, CONNS, DURATION,
                                  REPEAT, ("-s", LUA))
        compare.print_table("JSON-RPC demo.add, one call per POST, wrk -t1 "
                            "-c%d -d%ds, medians of %d"
                            % (CONNS, DURATION, REPEAT), rows, results)
    finally:
        compare.stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

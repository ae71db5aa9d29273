# SPDX-License-Identifier: BSD-2-Clause
"""What fanout.py and jsonrpc.py share: sides behind one nginx (1 worker,
keep-alive to each), each row measured with wrk REPEAT times
interleaved, and the medians printed as a table with each side's CPU
time per request (its process tree's utime + stime over the run, divided
by the answers)."""

import os
import subprocess
import time

import run as b


def measure(tmp, log, procs, rows, conns, duration, repeat, wrk_args=()):
    """rows: (name, side, path), or (name, side, path, url) for a side
    measured without nginx, at url. nginx is started here and added to
    procs. Returns {name: [wrk result with cpu_us]}."""
    ports = [b.free_port() for _ in rows]
    upstreams = "".join("    upstream s%d { server %s; keepalive 32; }\n"
                        % (i, side.address)
                        for i, (_, side, *_) in enumerate(rows))
    servers = "".join(b.nginx_server(ports[i], b.fastcgi_location(
        "s%d" % i, True)) for i in range(len(rows)))
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(b.NGINX_CONF.format(
            user="user root;" if os.geteuid() == 0 else "", tmp=tmp,
            upstreams=upstreams, servers=servers))
    nginx = b.start([b.NGINX, "-c", conf, "-g", "daemon off;"], log)
    procs.append(nginx)
    for p in ports:
        b.wait_port(p, nginx, "nginx")
    results = {row[0]: [] for row in rows}
    for _ in range(repeat):
        for i, (name, side, path, *direct) in enumerate(rows):
            pids = side.pids()
            cpu0 = b.cpu_seconds(pids)
            out = subprocess.run(
                ["wrk", "-t1", "-c%d" % conns, "-d%ds" % duration,
                 "--latency", *wrk_args,
                 direct[0] if direct
                 else "http://127.0.0.1:%d%s" % (ports[i], path)],
                capture_output=True, text=True).stdout
            r = b.parse_wrk(out)
            r["cpu_us"] = ((b.cpu_seconds(pids) - cpu0) * 1e6
                           / max(r["requests"], 1))
            results[name].append(r)
            time.sleep(1)
    return results


def print_table(title, rows, results):
    print(title)
    print("| side | req/s | p50 ms | p99 ms | errors | CPU µs/req |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, *_ in rows:
        rs = results[name]

        def med(key):
            v = sorted(x[key] for x in rs)
            return v[len(v) // 2]
        print("| %s | %.0f | %.2f | %.2f | %d | %.0f |" % (
            name, med("rps"), med("p50"), med("p99"),
            med("non2xx") + med("sockerr"), med("cpu_us")))


def stop(procs):
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()

# SPDX-License-Identifier: BSD-2-Clause
"""What the stress scripts share, on top of tests/bench/run.py's helpers
(servers on free loopback ports in a temp dir, wrk's output, process
trees): fpmd started on conf/demo.yaml with a script's own settings, one
nginx worker in front of it, per-process samples from /proc, and the
summary table with a PASS/FAIL line per aim. Everything started is
stopped by its pid."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "bench"))
import run as b  # noqa: E402  (tests/bench/run.py)

BUILD = os.environ.get("FPMD_BUILD", os.path.join(TOP, "build", "plain"))
FPMD = os.environ.get("FPMD", os.path.join(BUILD, "fpmd", "fpmd"))
OPENLOOP = os.environ.get("OPENLOOP", os.path.join(
    BUILD, "tests", "stress", "openloop"))
# fpmd with tests/handlers/ linked in (make tests/fpmd-test)
FPMD_TEST = os.environ.get("FPMD_TEST", os.path.join(BUILD, "tests",
                                                     "fpmd-test"))


class Stage:
    """A temp dir, a log of every server's output, and the processes
    started in it, stopped (by pid, children first) on exit."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="fpmd-%s-" % name)
        os.chmod(self.tmp, 0o755)
        # run.py's nginx helpers and messages name these
        b.TMP = b.OUT = self.tmp
        self.log = open(os.path.join(self.tmp, "servers.log"), "ab")
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    for child in b.tree(p.pid):
                        try:
                            os.kill(child, signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    p.wait()
        if exc[0] is None and not os.environ.get("KEEP_TMP"):
            subprocess.run(["rm", "-rf", self.tmp])
        else:
            print("servers' files and logs kept in %s" % self.tmp)
        return False

    def start(self, cmd, **kw):
        p = b.start(cmd, self.log, **kw)
        self.procs.append(p)
        return p

    def path(self, name):
        return os.path.join(self.tmp, name)


def deep_update(d, extra):
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            deep_update(d[k], v)
        else:
            d[k] = v
    return d


class Fpmd:
    """fpmd on conf/demo.yaml (run.demo_conf: its routes, pools on the
    stage's backends) with an HTTP and a FastCGI listener and the given
    settings merged over it; prefix runs it under a wrapper (prlimit),
    binary is fpmd or another build of it (FPMD_TEST)."""

    def __init__(self, stage, settings=None, backends=None, prefix=(),
                 name="fpmd", more_routes=(), binary=FPMD):
        import yaml
        self.http_port, self.fcgi_port = b.free_port(), b.free_port()
        self.error_log = stage.path(name + "-error.log")
        listen = [{"fastcgi": "127.0.0.1:%d" % self.fcgi_port,
                   "backlog": 4096},
                  {"http": "127.0.0.1:%d" % self.http_port,
                   "backlog": 4096}]
        conf = yaml.safe_load(b.demo_conf(listen, {"mode": "static"},
                                          self.error_log, backends))
        deep_update(conf, settings or {})
        conf["routes"].extend(more_routes)
        self.conf_path = stage.path(name + ".yaml")
        self.conf = conf
        self.write()
        self.proc = stage.start([*prefix, binary, "-F", "-y",
                                 self.conf_path])
        b.wait_port(self.http_port, self.proc, name)
        b.wait_port(self.fcgi_port, self.proc, name)

    def write(self):
        import yaml
        with open(self.conf_path, "w") as f:
            yaml.safe_dump(self.conf, f, sort_keys=False)

    def reload(self):
        """self.conf written and applied (SIGUSR2); back once every
        worker is a new one."""
        old = set(self.workers())
        self.write()
        os.kill(self.pid, signal.SIGUSR2)
        end = time.time() + 15
        while time.time() < end:
            now = self.workers()
            if now and not old & set(now):
                return
            time.sleep(0.1)
        sys.exit("fpmd: reload did not replace the workers")

    @property
    def pid(self):
        """the master's (under a wrapper that execs, the same)"""
        return self.proc.pid

    def workers(self):
        return sorted(b.tree(self.pid)[1:])

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.http_port, path)


def start_backends(stage, php_children=8):
    """redis-server and mariadbd with BENCH-CONTRACT's data, and a php-fpm
    8.2 (php_children static children) serving www/hello.php, as run.py
    starts them: (Backends, its php-fpm Side)."""
    backends = b.Backends(stage.tmp, stage.log)
    stage.procs.extend(backends.procs)
    os.makedirs(stage.path("www"))
    with open(stage.path("www/hello.php"), "w") as f:
        f.write(b.HELLO_PHP)
    php = b.start_php(stage.tmp, php_children, stage.log)
    stage.procs.append(php.proc)
    return backends, php


def start_nginx(stage, fcgi_address, connections=4096, keepalive=32):
    """One nginx worker passing everything to fcgi_address with
    keep-alive (fastcgi_keep_conn, upstream keepalive: 32, as php-fpm
    users run it), with worker_connections connections (client and
    upstream ones) and descriptors for them. Returns its port."""
    port = b.free_port()
    conf = stage.path("nginx.conf")
    with open(conf, "w") as f:
        f.write(b.NGINX_CONF.format(
            user="user root;" if os.geteuid() == 0 else "", tmp=stage.tmp,
            upstreams="    upstream fpmd { server %s; keepalive %d; }\n"
            % (fcgi_address, keepalive),
            servers=b.nginx_server(port, b.fastcgi_location("fpmd", True)))
            .replace("events {", "worker_rlimit_nofile %d;\nevents {"
                     % (connections + 64))
            .replace("worker_connections 4096;",
                     "worker_connections %d;" % connections))
    # run.py's template counts a status per request in an access log;
    # nginx's open files: connections (client and upstream) and that log
    proc = stage.start([b.NGINX, "-c", conf, "-g", "daemon off;"])
    b.wait_port(port, proc, "nginx")
    return port


def rss_each(pids):
    return {p: b.rss_kib([p]) for p in pids}


def fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def tcp_sockets():
    """Every IPv4 TCP socket by inode: (local port, remote port, state;
    01 is ESTABLISHED), from /proc/net/tcp: ss is not in a minimal
    Debian."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            x = line.split()
            out[x[9]] = (int(x[1].rsplit(":", 1)[1], 16),
                         int(x[2].rsplit(":", 1)[1], 16), x[3])
    return out


def fd_targets(pid):
    """What a process's descriptors point at ("socket:[INODE]",
    "pipe:[INODE]", a path...); nothing once it is gone."""
    d = "/proc/%d/fd" % pid
    out = []
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for n in names:
        try:
            out.append(os.readlink(os.path.join(d, n)))
        except OSError:
            pass
    return out


def established(port):
    """TCP connections to 127.0.0.1:port, client sides (fpmd's)."""
    return sum(1 for _, remote, state in tcp_sockets().values()
               if state == "01" and remote == port)


# Programs by the name the kernel gives them (/proc/PID/comm, 15 bytes)
PROGRAMS = (("nginx", "nginx"), ("fpmd", "fpmd"), ("php-fpm", "php-fpm"),
            ("redis", "redis-server"), ("mariadb", "mariadbd"),
            ("openloop", "openloop"))


def _proc_cpu():
    """{pid: (program, utime + stime in ticks)} for the programs above."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        comm = head.split("(", 1)[1]
        for name, prefix in PROGRAMS:
            if comm.startswith(prefix):
                w = rest.split()
                out[int(pid)] = (name, int(w[11]) + int(w[12]))
                break
    return out


def _tcp_states(ports):
    """{port: (established, time_wait)}: a listener's accepted
    connections, and the closed ones either side of it still holds."""
    n = {p: [0, 0] for p in ports}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            w = line.split()
            local = int(w[1].rsplit(":", 1)[1], 16)
            remote = int(w[2].rsplit(":", 1)[1], 16)
            if w[3] == "01" and local in n:
                n[local][0] += 1
            elif w[3] == "06":
                for p in (local, remote):
                    if p in n:
                        n[p][1] += 1
    return {p: tuple(v) for p, v in n.items()}


def _unit():
    """Seconds a fixed piece of work takes."""
    t = time.perf_counter()
    sum(i * i for i in range(20000))
    return time.perf_counter() - t


class CpuMix(threading.Thread):
    """Every second: the cores the machine used and those the host says
    it took (steal), how the used ones split among the stack's programs
    (the rest, kernel threads and everything else, is "other"), the
    connections each listener in ports holds ({label: port}), and
    "slow": how much longer than its fastest a fixed piece of work took
    at real-time priority (where root may set it), which none of the
    stack's processes can delay, only interrupts (the loopback's
    packets are softirq work) and the host: a "slow" near 1 while the
    machine is busy says its cores were the stack's. Written to path as
    one tab-separated line a second when stopped."""

    def __init__(self, ports, path):
        super().__init__(daemon=True)
        self.ports, self.path = ports, path
        self.samples, self.halt = [], threading.Event()

    @staticmethod
    def _stat():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal
        return sum(v[:8]) - v[3] - v[4] - v[7], v[7], sum(v[:8])

    @staticmethod
    def _units(n):
        """n times _unit() at real-time priority, where it may be set:
        only these, for the reading of /proc must not take the CPU from
        the stack."""
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        except OSError:
            return sorted(_unit() for _ in range(n))
        try:
            return sorted(_unit() for _ in range(n))
        finally:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))

    def run(self):
        tick, cores = os.sysconf("SC_CLK_TCK"), os.cpu_count()
        fastest = self._units(20)[0]
        busy0, steal0, all0 = self._stat()
        procs0 = _proc_cpu()
        while not self.halt.wait(1.0):
            busy, steal, total = self._stat()
            procs = _proc_cpu()
            span = max(total - all0, 1)
            s = {"t": time.monotonic(),
                 "busy": cores * (busy - busy0) / span,
                 "steal": cores * (steal - steal0) / span}
            wall = span / cores / tick
            for name, _ in PROGRAMS:
                s[name] = 0.0
            for pid, (name, j) in procs.items():
                # a process born since the last sample counts whole
                j0 = procs0[pid][1] if pid in procs0 else 0
                s[name] += max(j - j0, 0) / tick / wall
            s["other"] = max(s["busy"] - sum(s[n] for n, _ in PROGRAMS),
                             0.0)
            units = self._units(5)
            fastest = min(fastest, units[0])
            s["slow"] = units[2] / fastest
            for label, (est, tw) in zip(self.ports, _tcp_states(
                    self.ports.values()).values()):
                s[label + " est"], s[label + " tw"] = est, tw
            self.samples.append(s)
            busy0, steal0, all0, procs0 = busy, steal, total, procs

    def stop(self):
        self.halt.set()
        self.join()
        if self.samples:
            keys = list(self.samples[0])
            with open(self.path, "w") as f:
                f.write("\t".join(keys) + "\n")
                for s in self.samples:
                    f.write("\t".join("%.3f" % s[k] if isinstance(
                        s[k], float) else str(s[k]) for k in keys) + "\n")

    def columns(self):
        return [k for k in (self.samples[0] if self.samples else ())
                if k != "t"]

    def mean(self, a, z):
        """{column: mean} over the samples from a to z (monotonic), and
        "slow max": the probe's worst second in it (interrupts and the
        host)."""
        xs = [s for s in self.samples if a <= s["t"] < z]
        if not xs:
            return None
        m = {k: sum(s[k] for s in xs) / len(xs) for k in self.columns()}
        m["slow max"] = max(s["slow"] for s in xs)
        return m


def mix_lua(paths):
    """A wrk script sending paths in turn."""
    return """
local paths = {%s}
local i = 0
request = function()
   i = i %% #paths + 1
   return wrk.format("GET", paths[i])
end
""" % ", ".join('"%s"' % p for p in paths)


def wrk(url, conns, seconds, *args):
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
                          "--latency", *args, url],
                         capture_output=True, text=True).stdout
    r = b.parse_wrk(out)
    r["good_rps"] = (r["requests"] - r["non2xx"]) / seconds
    return r


def openloop(port, path, rate, seconds, conns, timeout_ms=2000,
             series=None, from_send=False):
    """tests/stress/openloop's answer as a dict of numbers; series: a
    file for its -s series (read_series); from_send: its -w (an answer's
    timeout runs from its send)."""
    out = subprocess.run([OPENLOOP, "-r", "%.0f" % rate, "-c", str(conns),
                          "-d", str(seconds), "-t", str(timeout_ms)]
                         + (["-s", series] if series else [])
                         + (["-w"] if from_send else [])
                         + ["127.0.0.1", str(port), path],
                         capture_output=True, text=True, check=True).stdout
    r = {}
    for line in out.split():
        k, v = line.split("=", 1)
        r[k] = float(v)
    return r


def read_series(path):
    """openloop's -s file: the failures (CLOCK_MONOTONIC time planned,
    latency s, kind) and the 100 ms slices (time, planned, 2xx, failed,
    slowest 2xx s)."""
    start, fails, slices = 0.0, [], []
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == "start":
                start = float(w[1])
            elif w[0] == "f":
                fails.append((start + float(w[1]), float(w[2]) / 1000,
                              w[3]))
            elif w[0] == "b":
                slices.append((start + float(w[1]), int(w[2]), int(w[3]),
                               int(w[4]), float(w[5]) / 1000))
    return fails, slices


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:"
                         for i in range(len(header))) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print()


def verdicts(aims):
    """aims: (aim, ok, what was measured). Prints them; True if all met."""
    table(["aim", "result", "measured"],
          [(a, "PASS" if ok else "FAIL", m) for a, ok, m in aims])
    return all(ok for _, ok, _ in aims)


def need_build(*more):
    for exe in (FPMD, OPENLOOP) + more:
        if not os.access(exe, os.X_OK):
            sys.exit("%s not built: build fpmd (README) and make "
                     "tests/stress/openloop (and tests/fpmd-test for "
                     "chaos.py) in %s" % (exe, BUILD))

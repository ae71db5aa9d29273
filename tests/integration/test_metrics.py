# SPDX-License-Identifier: BSD-2-Clause
"""fpmd's histograms on the OpenMetrics page (route latency, pool wait,
event-loop lag): cumulative buckets up to le="+Inf" equal to _count,
clean under promtool; a real Prometheus (Debian's) scrapes the page
every second and answers rate() and histogram_quantile() of them after
traffic; and conf/grafana/fpmd-dashboard.json queries only series fpmd
exports."""

import json
import os
import re
import subprocess
import urllib.parse
import urllib.request

import pytest

from backends import Redis, start_fpmd
from conftest import TOP, free_port, http_request, need, wait_for
from test_status import PHP_FPM_LINT, promtool_lint

PROMETHEUS = "/usr/bin/prometheus"
DASHBOARD = os.path.join(TOP, "conf", "grafana", "fpmd-dashboard.json")

POOLS = """
    pools:
      cache:
        driver: redis
        servers: [127.0.0.1:%d]
        min: 0
        max: 1
    upstreams:
      api:
        servers: [http://127.0.0.1:9]
    """


@pytest.fixture
def fpmd_redis(tmpdir_path, servers):
    redis = Redis(tmpdir_path)
    servers.append(redis)
    redis.start()
    f, hport, _ = start_fpmd(tmpdir_path, servers, POOLS % redis.port)
    return f, hport


def openmetrics(hport):
    code, _, body = http_request(hport, "GET", "/status?openmetrics")
    assert code == 200
    return body


def samples(text, name):
    """{labels text: value} of one series name."""
    return {m.group(1) or "": float(m.group(2)) for m in re.finditer(
        r"^%s(?:\{(.*)\})? (\S+)$" % re.escape(name), text, re.M)}


def check_histogram(text, family, labels):
    """The family's buckets for labels are cumulative and end with +Inf
    equal to _count; returns _count."""
    buckets = [(le, v) for k, v in samples(text, family + "_bucket").items()
               for le in re.findall(r'le="([^"]+)"', k)
               if k.startswith(labels)]
    assert buckets, (family, labels)
    assert buckets[-1][0] == "+Inf"
    values = [v for _, v in buckets]
    assert values == sorted(values)
    count = samples(text, family + "_count")[labels.rstrip(",")]
    assert values[-1] == count
    return count


def test_histograms_are_cumulative_and_lint_clean(fpmd_redis):
    f, hport = fpmd_redis
    for _ in range(5):
        assert http_request(hport, "GET", "/probe?sleep_ms=3")[0] == 200
    # the test handler's redis call takes the pool's connection
    code, _, body = http_request(hport, "GET", "/t/redis?pool=cache&cmd=PING")
    assert code == 200, body
    text = wait_for(lambda: (lambda t: t if 'pool="cache"} 1\n' in t
                             .split("fpmd_pool_wait_seconds_count")[1]
                             else None)(openmetrics(hport).decode()), 5,
                    "the pool's wait counted (published each second)")
    assert promtool_lint(text.encode()) == PHP_FPM_LINT
    assert check_histogram(
        text, "fpmd_route_request_duration_seconds",
        'route="/probe",handler="probe",side="native",') == 5
    # 3 ms each at least: none below 1.6 ms (and, on a loaded machine
    # too, all below the last finite bound)
    b = samples(text, "fpmd_route_request_duration_seconds_bucket")
    base = 'route="/probe",handler="probe",side="native",'
    assert b[base + 'le="0.0016"'] == 0
    assert b[base + 'le="1.6384"'] == 5
    assert check_histogram(text, "fpmd_pool_wait_seconds",
                           'pool="cache",') == 1
    assert check_histogram(text, "fpmd_loop_lag_seconds", "") > 0
    lag = samples(text, "fpmd_loop_lag_max_seconds")
    assert len(lag) == 1 and list(lag.values())[0] >= 0
    # the summary stays for dashboards built on it
    assert samples(text, "fpmd_route_duration_seconds_count")[
        'route="/probe",handler="probe",side="native"'] == 5


class Prometheus:
    """Debian's prometheus on a free 127.0.0.1 port with its own data
    dir, scraping one target every second; stopped by its pid."""

    def __init__(self, tmp, target, path):
        self.dir = os.path.join(tmp, "prometheus")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.log = os.path.join(self.dir, "prometheus.log")
        conf = os.path.join(self.dir, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global: { scrape_interval: 1s, evaluation_interval: 1s }"
                    "\nscrape_configs:\n  - job_name: fpmd\n"
                    "    metrics_path: %s\n    params: { openmetrics: [''] }"
                    "\n    static_configs: [{ targets: ['%s'] }]\n"
                    % (path, target))
        self.args = [PROMETHEUS, "--config.file=" + conf,
                     "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
                     "--web.listen-address=127.0.0.1:%d" % self.port]
        self.proc = None

    def start(self):
        need(PROMETHEUS, "prometheus")
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.logf,
                                     stderr=self.logf)
        wait_for(lambda: self.ready() or self.proc.poll() is not None, 30,
                 "prometheus ready")
        assert self.proc.poll() is None, self.logs()
        return self

    def ready(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/-/ready"
                                        % self.port, timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def query(self, expr):
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (
            self.port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]["result"]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.logf.close()

    def logs(self):
        try:
            with open(self.log, errors="replace") as f:
                return "---- prometheus\n" + f.read()[-5000:]
        except OSError:
            return ""


def value(result):
    return float(result[0]["value"][1]) if result else 0.0


def test_prometheus_scrapes_rates_and_quantiles(fpmd_redis, tmpdir_path,
                                                servers):
    f, hport = fpmd_redis
    prom = Prometheus(tmpdir_path, "127.0.0.1:%d" % hport, "/status")
    servers.append(prom)
    prom.start()
    wait_for(lambda: prom.query('up{job="fpmd"}') and value(
        prom.query('up{job="fpmd"}')) == 1, 30, "a first scrape")

    def traffic_seen():
        for _ in range(5):
            http_request(hport, "GET", "/probe?sleep_ms=2")
        return value(prom.query(
            'sum(rate(fpmd_route_request_duration_seconds_count'
            '{handler="probe"}[5s]))')) > 0
    wait_for(traffic_seen, 30, "a rate above 0")
    p99 = value(prom.query(
        'histogram_quantile(0.99, sum by (le) (rate('
        'fpmd_route_request_duration_seconds_bucket{handler="probe"}'
        '[5s])))'))
    # 2 ms asked: the quantile lands in the 1.6..3.2 ms bucket or above
    assert 0.0016 <= p99 < 1.7, p99
    assert value(prom.query("sum(rate(fpmd_loop_lag_seconds_count[5s]))")) > 0


def exported_names(text):
    """Metric names a scrape holds, histograms' and summaries' with their
    _bucket, _sum and _count."""
    return set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.M))


def test_dashboard_queries_only_exported_series(fpmd_redis, tmpdir_path):
    f, hport = fpmd_redis
    # a config route, a pool and an upstream: every family fpmd has shows
    http_request(hport, "GET", "/probe")
    names = exported_names(openmetrics(hport).decode())
    with open(DASHBOARD) as fh:
        dash = json.load(fh)
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 8
    used = set()
    for e in exprs:
        # label matchers, quoted strings and ranges name no metric;
        # PromQL's functions and keywords have no fpmd_/phpfpm_ prefix
        bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\"[^\"]*\"", "", e)
        used |= set(re.findall(r"\b(?:fpmd|phpfpm)_[a-zA-Z0-9_]*", bare))
    assert used - names == set()
    # what the dashboard promises to show
    assert {"fpmd_route_request_duration_seconds_bucket",
            "fpmd_route_request_duration_seconds_count",
            "fpmd_route_errors_total", "phpfpm_active_processes",
            "fpmd_loop_lag_max_seconds", "fpmd_pool_wait_seconds_bucket",
            "fpmd_upstream_circuit"} <= used

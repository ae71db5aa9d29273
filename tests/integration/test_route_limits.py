# SPDX-License-Identifier: BSD-2-Clause
"""Routes' rate_limit: and concurrency:, on the real daemon with two
workers: a token bucket per client address, header or route shared by
every worker (exactly burst requests pass from a full bucket, whichever
worker takes them; 429 with Retry-After for the rest), buckets apart per
key, a concurrency bound for the whole pool (503 at once beyond it), the
counts on the status page, config errors with file:line:column."""

import http.client
import os
import re
import threading
import time

import pytest

from conftest import (base_conf, config_check, free_port, status_json,
                      wait_for, Fpmd)


def start(tmp, servers, routes):
    hport, fport = free_port(), free_port()
    # the comment at column 0 keeps base_conf's dedent off the routes,
    # which continue its routes: list
    text = base_conf(fport, os.path.join(tmp, "fpmd.sock"),
                     "# limited routes\n" + routes)
    text = text.replace("listen:\n", "listen:\n  - http: 127.0.0.1:%d\n"
                        % hport, 1)
    f = Fpmd(tmp, text)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    wait_for(lambda: len(f.workers()) == 2, 10, "two workers")
    return f, hport


def get(hport, path, headers=None):
    """On a new connection each time, so that both workers take some."""
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=30)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def route_row(hport, label):
    for r in status_json(hport, full=False)["routes"]:
        if r["name"] == label:
            return r
    return None


def test_a_bucket_is_exact_across_workers_and_per_key(tmpdir_path, servers):
    f, hport = start(tmpdir_path, servers, """\
  - match: GET /slowly
    handler: probe
    rate_limit: { rate: 1/m, burst: 3, key: addr }
  - match: GET /per-key
    handler: probe
    rate_limit: { rate: 1/h, burst: 2, key: "header:X-Api-Key" }
  - match: GET /quick
    handler: probe
    rate_limit: { rate: 20/s, burst: 1 }
""")
    got = [get(hport, "/slowly") for _ in range(10)]
    assert [s for s, _, _ in got] == [200] * 3 + [429] * 7, got
    # a token comes in 60 s: the client is told when, in whole seconds
    after = int(got[3][1]["Retry-After"])
    assert 55 <= after <= 60, got[3][1]
    # one bucket per key value; none (no header) is a key of its own
    for key in ("a", "b", None):
        h = {"X-Api-Key": key} if key else {}
        assert [get(hport, "/per-key", h)[0] for _ in range(3)] == [
            200, 200, 429], key
    # a refill: after a 429, the next token is there within its 50 ms
    codes = [get(hport, "/quick")[0] for _ in range(2)]
    assert codes[0] == 200
    wait_for(lambda: get(hport, "/quick")[0] == 200, 2, "a token again")
    wait_for(lambda: (route_row(hport, "GET /slowly") or {}).get(
        "rate limited") == 7, 5, "the refusals counted")
    assert route_row(hport, "GET /per-key")["rate limited"] == 3
    # a refusal is one of the route's answers, not an error
    row = route_row(hport, "GET /slowly")
    assert (row["native requests"], row["native errors"]) == (10, 0), row


def test_concurrency_bounds_the_pool(tmpdir_path, servers):
    f, hport = start(tmpdir_path, servers, """\
  - match: GET /narrow
    handler: probe
    concurrency: 2
""")
    results = []

    def slow():
        results.append(get(hport, "/narrow?sleep_ms=1500")[0])

    threads = [threading.Thread(target=slow) for _ in range(2)]
    for t in threads:
        t.start()
    wait_for(lambda: status_json(hport, full=False)["in flight requests"]
             >= 3, 5, "both slow requests in flight")
    t0 = time.monotonic()
    status, headers, body = get(hport, "/narrow")
    assert status == 503 and time.monotonic() - t0 < 0.5, (status, body)
    assert headers["Retry-After"] == "1"
    for t in threads:
        t.join(10)
    assert results == [200, 200], results
    # the slots came back
    assert get(hport, "/narrow")[0] == 200
    wait_for(lambda: (route_row(hport, "GET /narrow") or {}).get(
        "concurrency refused") == 1, 5, "the refusal counted")


@pytest.mark.parametrize("extra,message", [
    ("  - match: GET /x\n    handler: hello\n    rate_limit: { rate: fast }\n",
     r":\d+:25: rate_limit.rate: \"fast\" is not a positive N/s, N/m or N/h"),
    ("  - match: GET /x\n    handler: hello\n    rate_limit: { burst: 2 }\n",
     r":\d+:17: routes.rate_limit: rate: is required"),
    ("  - match: GET /x\n    handler: hello\n"
     "    rate_limit: { rate: 1/s, key: cookie }\n",
     r":\d+:\d+: rate_limit.key: \"cookie\" is not route, addr, "
     r"header:NAME or param:NAME"),
    ("  - match: GET /x\n    handler: hello\n    concurrency: 0\n",
     r":\d+:18: concurrency: "),
])
def test_config_errors_name_file_line_column(tmpdir_path, extra, message):
    rc, err, conf = config_check(tmpdir_path, "# more routes\n" + extra)
    assert rc == 78, err
    assert re.search(re.escape(conf) + message, err), err

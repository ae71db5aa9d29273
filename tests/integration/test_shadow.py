# SPDX-License-Identifier: BSD-2-Clause
"""Shadow and canary routes behind real nginx, with a real php-fpm 8.2 as
the legacy side: a shadowed C handler's answers are compared with the PHP
script's (a deliberately wrong one is caught, counted and logged; the
others, JSON in another key order with an ignored field, are not), and a
canary route shares its requests as configured and falls back to legacy
when the C handler fails."""

import json
import os
import re
import time

from backends import no_worker_died  # noqa: F401
from conftest import http_request, wait_for
import fcgi_client
from test_shims import start_site

USER_PHP = r"""<?php
header('Content-Type: application/json');
$id = $_GET['id'] ?? '';
echo json_encode(['id' => $id, 'name' => "user $id",
                  'generated_at' => time()]);
"""

CANARY_PHP = "<?php header('Content-Type: text/plain'); echo \"legacy\\n\";"

ROUTES = """
  - match: { script: /user.php }
    handler: shadow_user
    shadow:
      legacy: main
      ignore: [generated_at]
      # all 20 of the test's calls may be under way at once: none skipped
      max_in_flight: 32
  - match: { script: /canary.php }
    handler: canary_c
    canary:
      percent: 30%
      legacy: main
      max_error_rate: 20%
      min_requests: 20
      window: 2s
      cooldown: 2s
  - match: { script: /slow.php }
    handler: canary_c
    canary: { percent: 100%, legacy: main, max_p99: 20ms, min_requests: 5,
              cooldown: 1s }
  - match: "*"
    to: legacy:main
"""


def status(f):
    address = ("127.0.0.1", int(re.search(r"fastcgi: 127.0.0.1:(\d+)",
                                          open(f.conf).read()).group(1)))
    code, _, body = fcgi_client.request(address, "GET",
                                        "/status?json").split()
    assert code == 200
    return {r["name"]: r for r in json.loads(body)["routes"]}


def site(tmpdir_path, servers):
    return start_site(tmpdir_path, servers, {"user.php": USER_PHP,
                                             "canary.php": CANARY_PHP,
                                             "slow.php": CANARY_PHP},
                      ROUTES)


def test_shadow_compares_and_counts_mismatches(tmpdir_path, servers,
                                               no_worker_died):
    port, f, php = site(tmpdir_path, servers)
    for i in range(1, 21):
        code, headers, body = http_request(port, "GET", "/user.php?id=%d" % i,
                                           headers={"X-Request-Id":
                                                    "shadow-%d" % i})
        assert code == 200
        assert dict(headers).get("X-Served-By") == "fpmd"   # the C answer
        assert json.loads(body)["name"] == ("User 13" if i == 13
                                            else "user %d" % i)
    # not a shadowed method: answered, never sent to legacy
    code, _, _ = http_request(port, "POST", "/user.php?id=99", body=b"x=1")
    assert code == 200

    wait_for(lambda: status(f)["/user.php"]["shadow compared"]
             + status(f)["/user.php"]["shadow errors"] >= 20, 10,
             "20 shadow comparisons")
    row = status(f)["/user.php"]
    assert row["shadow compared"] == 20, sorted(row.items())
    assert row["shadow mismatches"] == 1, row
    assert row["shadow errors"] == 0, row
    assert row["native requests"] == 21 and row["legacy requests"] == 0
    with open(f.error_log) as fh:
        log = fh.read()
    mismatch = [l for l in log.splitlines() if "shadow: route" in l]
    assert len(mismatch) == 1, log
    assert "GET /user.php?id=13 (request id shadow-13) differs at $.name" \
        in mismatch[0]
    assert 'native 200 "{' in mismatch[0] and '"name":"User 13"' in \
        mismatch[0] and 'user 13' in mismatch[0]

    # php-fpm saw each GET once, with the client's request id; not the POST
    with open(os.path.join(php.dir, "php-access.log")) as fh:
        seen = fh.read().splitlines()
    assert sorted(l.split()[0] for l in seen) == sorted(
        "shadow-%d" % i for i in range(1, 21))


def test_shadow_counts_a_failing_legacy_as_an_error(tmpdir_path, servers,
                                                    no_worker_died):
    port, f, php = site(tmpdir_path, servers)
    php.stop()
    code, _, body = http_request(port, "GET", "/user.php?id=1")
    assert code == 200 and json.loads(body)["name"] == "user 1"
    wait_for(lambda: status(f)["/user.php"]["shadow errors"] == 1, 10,
             "a shadow error")
    assert status(f)["/user.php"]["shadow compared"] == 0


def test_canary_shares_and_falls_back(tmpdir_path, servers, no_worker_died):
    port, f, _ = site(tmpdir_path, servers)

    def ask(query=""):
        code, _, body = http_request(port, "GET", "/canary.php" + query)
        return code, body.decode().strip()

    answers = [ask() for _ in range(2000)]
    assert all(code == 200 for code, _ in answers)
    native = sum(1 for _, who in answers if who == "native")
    assert set(who for _, who in answers) == {"native", "legacy"}
    assert 500 <= native <= 700, native          # 30% of 2000, +-5%
    row = status(f)["/canary.php"]
    assert row["native requests"] == native
    assert row["legacy requests"] == 2000 - native
    assert row["canary fallbacks"] == 0

    # the handler starts failing (in a window of its own): once 20 native
    # answers are in with more than 20% errors, everything goes to legacy
    # for the cooldown
    time.sleep(2.1)     # the 2 s window of the answers above runs out
    failed = 0
    for _ in range(400):
        sent = time.time()
        code, who = ask("?fail=1")
        failed += code == 500
        if status(f)["/canary.php"]["canary fallbacks"] == 1:
            break
    assert status(f)["/canary.php"]["canary fallbacks"] == 1
    # 20 within one window; a slow run may need another window
    assert 20 <= failed <= 40, failed
    # the cooldown runs 2 s from the fallback, which came after sent: what
    # is asked within 1 s of that goes to legacy, failing handler or not
    during = []
    while not during or time.time() < sent + 1.0:
        during.append(ask("?fail=1"))
    assert set(during) == {(200, "legacy")}, during
    with open(f.error_log) as fh:
        assert "canary: route /canary.php falls back to legacy for 2.0s: " \
            "error rate 100.00% (bound 20.00%)" in fh.read()

    # after the cooldown the canary resumes
    wait_for(lambda: ask()[1] == "native", 15, "a native answer again")
    assert time.time() - sent > 1.9
    with open(f.error_log) as fh:
        assert "canary: route /canary.php: back to 30.00% to its handler" \
            in fh.read()


def test_canary_falls_back_when_p99_crosses_its_bound(tmpdir_path, servers,
                                                      no_worker_died):
    port, f, _ = site(tmpdir_path, servers)

    def ask():
        code, _, body = http_request(port, "GET", "/slow.php?sleep_ms=40")
        assert code == 200
        return body.decode().strip()

    # 100% to the handler, which takes 40 ms against a 20 ms bound: the
    # fifth answer completes a window to judge, and the route falls back
    sent = time.time()
    assert [ask() for _ in range(5)] == ["native"] * 5
    assert ask() == "legacy"
    row = status(f)["/slow.php"]
    assert row["canary fallbacks"] == 1 and row["native p99 ms"] > 20
    with open(f.error_log) as fh:
        assert "canary: route /slow.php falls back to legacy for 1.0s" \
            in fh.read()
    # after the cooldown (1 s from the fallback, after sent), to the
    # handler again
    wait_for(lambda: ask() == "native", 10, "a native answer again")
    assert time.time() - sent > 0.9

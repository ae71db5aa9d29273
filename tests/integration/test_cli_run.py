# SPDX-License-Identifier: BSD-2-Clause
"""fpmd run METHOD PATH: one request through the router, hooks, handlers
and pools of the config, in the command's own process, its answer on
stdout and its status class in the exit code."""

import hashlib
import json
import os
import subprocess

from backends import Redis
from conftest import (FPMD_BIN, FPMD_TEST_BIN, Fpmd, base_conf, free_port,
                      need)


def run(binary, *args, conf=None, stdin=None):
    need(binary, "fpmd")
    r = subprocess.run([binary] + (["-y", conf] if conf else []) +
                       ["run", *args], input=stdin, capture_output=True,
                       timeout=30)
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    return r.returncode, head.decode(), body, r.stderr.decode()


def test_the_default_config_answers(tmpdir_path):
    rc, head, body, _ = run(FPMD_BIN, "GET", "/hello")
    assert (rc, body) == (0, b"hello world\n")
    assert head.startswith("HTTP/1.1 200 OK\r\n")
    rc, head, _, _ = run(FPMD_BIN, "GET", "/nothing-here")
    assert rc == 4 and head.startswith("HTTP/1.1 404 ")


def test_headers_body_and_a_failing_handler(tmpdir_path):
    conf = Fpmd(tmpdir_path, base_conf(free_port(), os.path.join(
        tmpdir_path, "x.sock"))).conf
    data = os.urandom(1 << 20)
    rc, _, body, err = run(FPMD_TEST_BIN, "POST", "/probe?q=1", "-H",
                           "X-Trace: abc", "--body", "-", conf=conf,
                           stdin=data)
    assert rc == 0, err
    p = json.loads(body)
    assert p["params"]["HTTP_X_TRACE"] == "abc"
    assert p["params"]["QUERY_STRING"] == "q=1"
    assert p["body_sha256"] == hashlib.sha256(data).hexdigest()
    rc, head, _, _ = run(FPMD_TEST_BIN, "GET", "/api/fail", conf=conf)
    assert rc == 5 and head.startswith("HTTP/1.1 500 ")


def test_pools_are_the_configs(tmpdir_path, servers):
    redis = Redis(tmpdir_path).start()
    servers.append(redis)
    conf = Fpmd(tmpdir_path, base_conf(free_port(), os.path.join(
        tmpdir_path, "x.sock"), "pools:\n  cache:\n    driver: redis\n"
        "    servers: [%s]\n" % redis.address)).conf
    for want in (1, 2):
        rc, _, body, err = run(FPMD_TEST_BIN, "GET",
                               "/t/redis?pool=cache&cmd=INCR%20runs",
                               conf=conf)
        assert rc == 0, err
        assert json.loads(body)["replies"] == [want]
    assert redis.cmd("GET", "runs") == "2"


def test_usage_errors():
    assert run(FPMD_BIN, "GET")[0] == 64
    assert run(FPMD_BIN, "GET", "no-slash")[0] == 64
    assert run(FPMD_BIN, "GET", "/x", "--nope")[0] == 64
    rc, _, _, err = run(FPMD_BIN, "GET", "/x", "-d", "/no/such/file")
    assert rc == 78 and "/no/such/file: No such file" in err

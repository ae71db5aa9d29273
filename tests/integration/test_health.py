# SPDX-License-Identifier: BSD-2-Clause
"""The liveness and readiness probes (status.live, status.ready,
status.ready_pools) against a real redis-server: ready while the pool it
requires answers, 503 with the reason once it is gone, ready again when
it is back; 503 "stopping" on a kept connection during a graceful stop;
off unless configured; an unknown pool in ready_pools is a config
error."""

import os
import signal
import socket

from backends import Redis, start_fpmd
from conftest import (FPMD_BIN, Fpmd, base_conf, can_connect, config_check,
                      free_port, http_request, need, status_json,
                      wait_for)


def pools_yaml(redis_port):
    return """
        status:
          live: /live
          ready: /ready
          ready_pools: [cache]
        pools:
          cache:
            driver: redis
            servers: [127.0.0.1:%d]
            min: 0
            connect_timeout: 500ms
        """ % redis_port


def get(hport, path):
    code, _, body = http_request(hport, "GET", path, timeout=10)
    return code, body.decode()


def test_ready_follows_the_required_pool(tmpdir_path, servers):
    redis = Redis(tmpdir_path)
    servers.append(redis)
    redis.start()
    _, hport, _ = start_fpmd(tmpdir_path, servers, pools_yaml(redis.port))
    assert get(hport, "/live") == (200, "live\n")
    # min 0: nothing open yet; the probe opens a connection and waits
    assert get(hport, "/ready") == (200, "ready\n")
    redis.stop()
    # the idle connection goes when redis closes it; then every connect
    # is refused and the pool is backed off
    wait_for(lambda: get(hport, "/ready")[0] == 503, 10, "/ready 503")
    code, body = get(hport, "/ready")
    assert code == 503
    assert body == "pool cache: every server is down (connects failed)\n"
    # liveness is the process, not its backends
    assert get(hport, "/live") == (200, "live\n")
    redis = Redis(tmpdir_path, port=redis.port)
    servers.append(redis)
    redis.start()
    wait_for(lambda: get(hport, "/ready") == (200, "ready\n"), 10,
             "/ready 200 again")


def test_not_ready_when_the_pool_was_never_reached(tmpdir_path, servers):
    # nothing listens there: the probe's own connect is refused
    _, hport, _ = start_fpmd(tmpdir_path, servers, pools_yaml(free_port()))
    assert get(hport, "/ready") == (
        503, "pool cache: every server is down (connects failed)\n")
    assert get(hport, "/live") == (200, "live\n")


def test_probes_are_off_by_default(tmpdir_path, servers):
    need(FPMD_BIN, "fpmd")
    port = free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    hport = free_port()
    text = base_conf(port, sock).replace(
        "listen:\n", "listen:\n  - http: 127.0.0.1:%d\n" % hport, 1)
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    assert get(hport, "/live")[0] == 404
    assert get(hport, "/ready")[0] == 404


def test_ready_is_503_while_a_graceful_stop_drains(tmpdir_path, servers):
    need(FPMD_BIN, "fpmd")
    port = free_port()
    sock = os.path.join(tmpdir_path, "fpmd.sock")
    hport = free_port()
    text = base_conf(port, sock, """
        status: { live: /live, ready: /ready }
        """).replace("listen:\n", "listen:\n  - http: 127.0.0.1:%d\n"
                     % hport, 1).replace("max_children: 2",
                                         "max_children: 1")
    f = Fpmd(tmpdir_path, text)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    kept = socket.create_connection(("127.0.0.1", hport), timeout=10)
    kept.sendall(b"GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
    first = kept.recv(65536)
    assert first.startswith(b"HTTP/1.1 200"), first
    # a request in flight keeps the worker draining
    slow = socket.create_connection(("127.0.0.1", hport), timeout=10)
    slow.sendall(b"GET /probe?sleep_ms=3000 HTTP/1.1\r\nHost: t\r\n"
                 b"Connection: close\r\n\r\n")
    wait_for(lambda: status_json(hport)["in flight requests"] >= 2, 10,
             "the slow request in flight")
    f.signal(signal.SIGQUIT)
    # the listeners close at once: new connections are refused...
    wait_for(lambda: not can_connect(("127.0.0.1", hport)), 5,
             "the listener to close")
    # ...and a balancer's kept connection hears "stopping"
    kept.sendall(b"GET /ready HTTP/1.1\r\nHost: t\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"\n"):
        chunk = kept.recv(65536)
        if not chunk:
            break
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 503"), answer
    assert answer.endswith(b"\r\n\r\nstopping\n"), answer
    kept.close()
    slow.close()


def test_ready_pools_must_exist(tmpdir_path):
    code, err, conf = config_check(tmpdir_path, """
        status: { ready: /ready, ready_pools: [nope] }
        """)
    assert code != 0
    assert 'status.ready_pools: no such pool "nope"' in err, err

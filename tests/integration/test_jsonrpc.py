# SPDX-License-Identifier: BSD-2-Clause
"""JSON-RPC 2.0 on the real daemon: the test methods of
tests/handlers/rpc.c served by a route with handler: jsonrpc over HTTP
and FastCGI (single calls, notifications, batches, the spec's errors,
the batch limit) and over raw TCP listeners in both framings (pipelined
frames answered in order, a framing error closing the stream), and
called back through fpmd_rpc_call over the HTTP client, with the
server's errors and a timeout as codes."""

import http.client
import json
import os
import socket

import fcgi_client as fc
from conftest import FPMD_TEST_BIN, Fpmd, base_conf, free_port


def start(tmp, servers, extra=""):
    hport, fport = free_port(), free_port()
    text = base_conf(fport, os.path.join(tmp, "fpmd.sock"), """\
# JSON-RPC
  - match: POST /rpc
    handler: jsonrpc
  - match: GET /t/rpc
    handler: t_rpc_call
limits:
  rpc_batch: 3
upstreams:
  self:
    servers: [http://127.0.0.1:%d]
    timeout: 400ms
""" % hport + extra)
    text = text.replace("listen:\n", "listen:\n  - http: 127.0.0.1:%d\n"
                        % hport, 1)
    f = Fpmd(tmp, text, binary=FPMD_TEST_BIN)
    servers.append(f)
    f.start(("127.0.0.1", hport))
    return f, hport, fport


def post(hport, body):
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
    try:
        c.request("POST", "/rpc", body=body,
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        return r.status, json.loads(data) if data else None
    finally:
        c.close()


def test_the_server_answers_as_the_spec_says(tmpdir_path, servers):
    _, hport, fport = start(tmpdir_path, servers)
    assert post(hport, '{"jsonrpc": "2.0", "method": "math.add", '
                '"params": [42, 23], "id": 1}') == (
        200, {"jsonrpc": "2.0", "result": 65, "id": 1})
    # a notification: nothing to answer
    assert post(hport, '{"jsonrpc": "2.0", "method": "math.add", '
                '"params": [1, 2]}') == (204, None)
    status, j = post(hport, '{"jsonrpc": "2.0", "method": "nope", "id": "a"}')
    assert j == {"jsonrpc": "2.0", "id": "a", "error": {
        "code": -32601, "message": "Method not found"}}
    status, j = post(hport, '{"jsonrpc": "2.0", "method": "math.add", '
                     '"params": "x", "id": 2}')
    assert j["error"]["code"] == -32600, j
    status, j = post(hport, '{"jsonrpc": "2.0", "method": "math.add", '
                     '"params": [1], "id": 3}')
    assert j["error"] == {"code": -32602, "message": "math.add takes [a, b]"}
    status, j = post(hport, '{"jsonrpc": "2.0", "method": "test.fail", '
                     '"id": 4}')
    assert j["error"] == {"code": -32050, "message": "failing on purpose"}
    status, j = post(hport, '{"jsonrpc": "2.0", "method"')
    assert status == 200 and j["error"]["code"] == -32700 and \
        j["id"] is None
    # a batch: answers in call order, the notification left out
    status, j = post(hport, json.dumps([
        {"jsonrpc": "2.0", "method": "test.echo", "params": {"a": 1},
         "id": "x"},
        {"jsonrpc": "2.0", "method": "math.add", "params": [1, 1]},
        1]))
    assert j == [{"jsonrpc": "2.0", "result": {"a": 1}, "id": "x"},
                 {"jsonrpc": "2.0", "id": None, "error": {
                     "code": -32600, "message": "Invalid Request"}}], j
    status, j = post(hport, json.dumps([{"jsonrpc": "2.0",
                                         "method": "math.add",
                                         "params": [1, 1], "id": i}
                                        for i in range(4)]))
    assert j["error"]["code"] == -32600 and "3" in j["error"]["message"], j
    # over FastCGI, the same
    body = b'{"jsonrpc": "2.0", "method": "math.add", "params": [2, 2], ' \
        b'"id": 9}'
    code, _, out = fc.request(("127.0.0.1", fport), method="POST",
                              uri="/rpc", body=body,
                              extra={"CONTENT_TYPE": "application/json"}
                              ).split()
    assert code == 200 and json.loads(out) == {"jsonrpc": "2.0",
                                               "result": 4, "id": 9}


def test_the_client_calls_through_an_upstream(tmpdir_path, servers):
    _, hport, _ = start(tmpdir_path, servers)

    def call(method, params=None):
        q = "/t/rpc?upstream=self&method=" + method
        if params is not None:
            q += "&params=" + json.dumps(params).replace(" ", "")
        c = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
        c.request("GET", q)
        r = c.getresponse()
        return json.loads(r.read())

    assert call("math.add", [20, 22]) == {"result": 42}
    assert call("test.echo", {"k": [1, 2]}) == {"result": {"k": [1, 2]}}
    assert call("test.fail") == {"code": -32050,
                                 "message": "failing on purpose"}
    assert call("nope")["code"] == -32601
    j = call("test.sleep", {"ms": 2000})
    assert j["code"] == -32001, j


def read_until(s, n_lines=None, netstrings=None, timeout=5):
    """What the peer sends until n_lines newlines, or netstrings complete
    netstrings, have come."""
    s.settimeout(timeout)
    data = b""
    while True:
        if n_lines is not None and data.count(b"\n") >= n_lines:
            return data
        if netstrings is not None:
            rest, count = data, 0
            while b":" in rest:
                head, _, tail = rest.partition(b":")
                size = int(head)
                if len(tail) < size + 1:
                    break
                rest, count = tail[size + 1:], count + 1
            if count >= netstrings:
                return data
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_the_raw_tcp_listener_in_both_framings(tmpdir_path, servers):
    lport, nport = free_port(), free_port()
    f2 = Fpmd(tmpdir_path, base_conf(free_port(), os.path.join(
        tmpdir_path, "b.sock"), """\
# JSON-RPC
  - match: POST /rpc
    handler: jsonrpc
""").replace("listen:\n", "listen:\n  - jsonrpc: 127.0.0.1:%d\n"
             "  - jsonrpc: 127.0.0.1:%d\n    framing: netstring\n"
             % (lport, nport), 1), name="tcp", binary=FPMD_TEST_BIN)
    servers.append(f2)
    f2.start(("127.0.0.1", lport))
    call = b'{"jsonrpc":"2.0","method":"math.add","params":[%d,1],"id":%d}'
    # lines: two calls and a notification in one write, answered in order
    s = socket.create_connection(("127.0.0.1", lport))
    s.sendall(call % (1, 1) + b"\n\n" + call % (2, 2) + b"\r\n"
              + b'{"jsonrpc":"2.0","method":"math.add","params":[0,0]}\n'
              + b'[' + call % (3, 3) + b',' + call % (4, 4) + b']\n')
    got = read_until(s, n_lines=3).split(b"\n")
    assert [json.loads(x) for x in got[:3]] == [
        {"jsonrpc": "2.0", "result": 2, "id": 1},
        {"jsonrpc": "2.0", "result": 3, "id": 2},
        [{"jsonrpc": "2.0", "result": 4, "id": 3},
         {"jsonrpc": "2.0", "result": 5, "id": 4}]], got
    # not JSON: an error, and the connection goes on
    s.sendall(b"{nope\n" + call % (9, 9) + b"\n")
    got = read_until(s, n_lines=2).split(b"\n")
    assert json.loads(got[0])["error"]["code"] == -32700
    assert json.loads(got[1])["result"] == 10
    s.close()
    # netstrings
    s = socket.create_connection(("127.0.0.1", nport))
    one = call % (5, 5)
    s.sendall(b"%d:%s," % (len(one), one))
    got = read_until(s, netstrings=1)
    size, _, rest = got.partition(b":")
    assert json.loads(rest[:int(size)]) == {"jsonrpc": "2.0", "result": 6,
                                            "id": 5}
    assert rest[int(size):] == b","
    # a framing error: the stream cannot go on
    s.sendall(b"05:hello,")
    assert read_until(s, netstrings=1) == b""
    s.close()
    f2.wait_log(r"jsonrpc 127\.0\.0\.1: netstring length with a leading "
                r"zero; connection closed")

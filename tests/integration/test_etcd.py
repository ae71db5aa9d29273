# SPDX-License-Identifier: BSD-2-Clause
"""Service discovery with a real etcd-server (fpmd/etcd_agent.c): an fpmd
registers its TCP listeners under a lease it keeps alive and revokes on a
graceful stop; another discovers them (discover: etcd:/PREFIX) and calls
them; a discovered list follows puts and deletes, keeps to max_servers,
and keeps serving, through a reload too, while etcd is down, until the
watch resumes when it is back. Calls go through /t/http
(tests/handlers/http.c), the upstream servers being nginx (the web
fixture of test_http_client) and fpmd-test itself."""

import json
import os
import re
import signal
import textwrap
import time

import pytest

from backends import Etcd
from conftest import config_check, status_json, wait_for
from test_http_client import call, client, web  # noqa: F401 (a fixture)


@pytest.fixture
def etcd(tmpdir_path, servers):
    e = Etcd(tmpdir_path).start()
    servers.append(e)
    return e


def etcd_block(etcd, extra=""):
    return ("etcd:\n  endpoints: [%s]\n  retry: 100ms\n  timeout: 500ms\n"
            % etcd.url) + extra


def who(hport, upstream):
    """The X-Who of one call through upstream, or its status."""
    status, j, _ = call(hport, upstream=upstream, url="/hello")
    if status != 200:
        return status
    return j["answers"][0]["headers"].get("X-Who")


def lease_ttl(etcd, lease):
    return int(etcd.api("/v3/lease/timetolive", {"ID": lease}).get("TTL", -1))


def test_registers_is_discovered_and_revokes(tmpdir_path, servers, etcd):
    os.makedirs(tmpdir_path + "/x")
    x, xport = client(tmpdir_path + "/x", servers, etcd_block(
        etcd, "  prefix: /services/x\n  ttl: 3s\n  weight: 7\n"))
    keys = wait_for(lambda: (lambda k: k if len(k) == 2 else None)(
        etcd.under("/services/x/")), 10, "x's two TCP listeners registered")
    # the unix socket is no one else's to reach: not registered
    http_key = "/services/x/127.0.0.1:%d" % xport
    fcgi_key = "/services/x/127.0.0.1:%d" % x.fport
    assert set(keys) == {http_key, fcgi_key}, keys
    v = json.loads(keys[http_key][0])
    assert (v["url"], v["protocol"], v["weight"], v["pool"], v["pid"]) == (
        "http://127.0.0.1:%d" % xport, "http", 7, "www", x.pid), v
    v = json.loads(keys[fcgi_key][0])
    assert (v["url"], v["protocol"]) == (
        "fcgi://127.0.0.1:%d" % x.fport, "fastcgi"), v
    lease = keys[http_key][1]
    assert lease == keys[fcgi_key][1] and lease, keys
    x.wait_log(r"NOTICE: etcd agent \d+: 2 listeners registered under "
               r"/services/x/ \(lease %s, ttl 3 s\)" % lease)
    # kept alive: a span longer than the ttl, every look finds it living
    # (what is tested is time passing: no condition could end it sooner)
    end = time.monotonic() + 4.5
    while time.monotonic() < end:
        assert lease_ttl(etcd, lease) > 0
        time.sleep(0.25)
    assert etcd.under("/services/x/").keys() == {http_key, fcgi_key}

    # another fpmd finds x there and calls it; the fastcgi key names no
    # HTTP server
    os.makedirs(tmpdir_path + "/y")
    y, yport = client(tmpdir_path + "/y", servers, textwrap.dedent("""
        upstreams:
          x:
            discover: etcd:/services/x/
        """) + etcd_block(etcd))
    status, j, _ = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        call(yport, upstream="x", url="/probe")), 10, "y to call x")
    assert j["answers"][0]["server"] == "http://127.0.0.1:%d" % xport, j
    rows = [r for r in status_json(yport, full=False)["upstream_servers"]
            if r["name"] == "x"]
    assert [r["server"] for r in rows] == ["http://127.0.0.1:%d" % xport], \
        rows

    # a graceful stop revokes the lease at once, long before the ttl
    assert x.stop(signal.SIGQUIT) == 0, x.logs()
    assert etcd.under("/services/x/") == {}
    assert re.search(r"etcd agent \d+: lease %s revoked" % lease,
                     x.log_text()), x.logs()
    # and y's list follows: x is gone from it
    status, body, _ = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(
        call(yport, upstream="x", url="/probe")), 10, "x gone from y's list")
    assert "no server discovered under /services/x" in body, body


def test_a_list_follows_puts_and_deletes(tmpdir_path, servers, etcd, web):
    plain = "http://127.0.0.1:%d" % web.ports["plain"]
    other = "http://127.0.0.1:%d" % web.ports["other"]
    f, hport = client(tmpdir_path, servers, textwrap.dedent("""
        upstreams:
          web:
            discover: etcd:/services/web
            max_servers: 2
        """) + etcd_block(etcd))
    # nothing there yet
    status, body, _ = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(
        call(hport, upstream="web", url="/hello")), 10, "an empty list")
    assert "no server discovered under /services/web/" in body, body
    etcd.put("/services/web/a", json.dumps({"url": plain}))
    wait_for(lambda: who(hport, "web") == "plain", 10, "a discovered")
    # a bare URL is a server too; round robin takes both in turn
    etcd.put("/services/web/b", other)
    wait_for(lambda: {who(hport, "web"), who(hport, "web")}
             == {"plain", "other"}, 10, "b discovered")
    f.wait_log(r"etcd agent \d+: upstream web: 2 servers under "
               r"/services/web/$")
    # a FastCGI listener's key, or a value that is no server, is passed
    # over; a third server is one more than max_servers
    etcd.put("/services/web/c", json.dumps({"url": "fcgi://127.0.0.1:1"}))
    etcd.put("/services/web/d", "not a URL")
    etcd.put("/services/web/e", "http://127.0.0.1:1")
    f.wait_log(r"etcd agent \d+: upstream web: 1 servers left out "
               r"\(max_servers 2\)")
    for _ in range(4):
        assert who(hport, "web") in ("plain", "other")
    # a watch message larger than the agent's first buffer (64 KiB)
    etcd.put("/services/web/big", "x" * 300000)
    # a gets deleted: its slot goes to e, which refuses connections, so
    # every call ends on b
    etcd.delete("/services/web/a")
    wait_for(lambda: sorted(r["server"] for r in status_json(
        hport, full=False)["upstream_servers"] if r["name"] == "web")
        == sorted([other, "http://127.0.0.1:1"]), 10, "a replaced by e")
    for _ in range(6):
        assert who(hport, "web") == "other"
    etcd.delete("/services/web/b")
    etcd.delete("/services/web/e")
    wait_for(lambda: who(hport, "web") == 503, 10, "an empty list again")
    # all of it followed by one watch: no range read again
    assert "keeps its last list" not in f.log_text(), f.logs()


def test_etcd_down_keeps_the_list_across_a_reload(tmpdir_path, servers,
                                                  etcd, web):
    etcd.put("/services/web/a", "http://127.0.0.1:%d" % web.ports["plain"])
    etcd.put("/services/web/b", "http://127.0.0.1:%d" % web.ports["other"])
    f, hport = client(tmpdir_path, servers, textwrap.dedent("""
        upstreams:
          web:
            discover: etcd:/services/web
        """) + etcd_block(etcd, "  prefix: /services/caller\n  ttl: 2s\n"))
    wait_for(lambda: {who(hport, "web"), who(hport, "web")}
             == {"plain", "other"}, 10, "both discovered")
    etcd.stop()
    f.wait_log(r"WARNING: etcd agent \d+: upstream web keeps its last "
               r"list: .*; trying again every 100 ms")
    for _ in range(6):
        assert who(hport, "web") in ("plain", "other")
    # a new generation starts from the last one's list, etcd or not
    f.signal(signal.SIGUSR2)
    f.wait_log(r"configuration reloaded \(generation 2\)")
    f.wait_log(r"WARNING: etcd agent \d+: upstream web keeps its last "
               r"list", count=2)
    assert {who(hport, "web") for _ in range(6)} == {"plain", "other"}
    etcd.start()
    f.wait_log(r"NOTICE: etcd agent \d+: etcd answers again; upstream web "
               r"followed")
    # said once per agent, however many rounds failed meanwhile
    assert len(re.findall(r"upstream web keeps its last list",
                          f.log_text())) == 2, f.logs()
    # the watch is back: a delete reaches the list
    etcd.delete("/services/web/a")
    wait_for(lambda: all(who(hport, "web") == "other" for _ in range(4)),
             10, "a's delete followed")
    # and the registration came back under a new lease (the old one
    # expired while etcd was down, or lives on)
    wait_for(lambda: len(etcd.under("/services/caller/")) == 2, 10,
             "the listeners registered again")


@pytest.mark.parametrize("extra,message", [
    ("upstreams:\n  u: { discover: etcd:/s }\n",
     r":\d+:3: upstreams.u: discover: needs etcd: with its endpoints"),
    ("upstreams:\n  u: { discover: consul:/s }\n"
     "etcd: { endpoints: [http://127.0.0.1:2379] }\n",
     r":\d+:\d+: discover: \"consul:/s\" is not etcd:/PREFIX"),
    ("upstreams:\n  u: { discover: etcd:/s, servers: [http://a] }\n"
     "etcd: { endpoints: [http://127.0.0.1:2379] }\n",
     r":\d+:3: upstreams.u: one of servers: or discover: is needed"),
    ("etcd: { endpoints: [http://127.0.0.1:2379], prefix: services }\n",
     r":\d+:\d+: prefix: a key prefix, /\.\.\."),
    ("etcd: { prefix: /services }\n",
     r":\d+:\d+: etcd: endpoints: is required"),
    ("etcd: { endpoints: [http://127.0.0.1:2379/v3] }\n",
     r":\d+:\d+: endpoints: \"http://127.0.0.1:2379/v3\" is not an http:// "
     r"or https:// URL of host and port"),
    ("etcd: { endpoints: [http://127.0.0.1:2379], ttl: 1s }\n",
     r":\d+:\d+: etcd: ttl: 2s to 1h"),
    ("etcd: { endpoints: [http://127.0.0.1:2379], ttl: 3s, timeout: 2s }\n",
     r":\d+:\d+: etcd: timeout: at most a third of ttl:"),
])
def test_config_errors_name_file_line_column(tmpdir_path, extra, message):
    rc, err, conf = config_check(tmpdir_path, extra)
    assert rc == 78, err
    assert re.search(re.escape(conf) + message, err), err

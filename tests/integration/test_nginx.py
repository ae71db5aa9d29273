# SPDX-License-Identifier: BSD-2-Clause
"""Real nginx (stock fastcgi_params and snippets/fastcgi-php.conf) in front
of real fpmd, over TCP and a unix socket, fastcgi_keep_conn on and off."""

import hashlib
import json
import os
import threading
import xml.dom.minidom

import pytest

from conftest import Nginx, http_request

VARIANTS = Nginx.VARIANTS
IDS = ["%s-%s" % (t, "keep" if k else "nokeep") for t, k in VARIANTS]


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_builtin_routes_answer_through_nginx(stack, variant):
    fpmd, nginx, _, _ = stack
    port = nginx.ports[variant]
    for _ in range(3):      # several requests per upstream connection
        status, headers, body = http_request(port, "GET", "/hello")
        assert status == 200
        assert body == b"hello world\n"
        assert dict(headers)["Content-Type"] == "text/plain"

    status, headers, body = http_request(port, "GET", "/json")
    assert status == 200
    assert dict(headers)["Content-Type"] == "application/json"
    records = json.loads(body)
    assert len(records) == 10
    assert records[1] == {"id": 2, "name": "item-2", "price": 2.5,
                          "active": True, "tags": ["alpha", "beta"]}

    status, headers, body = http_request(port, "GET", "/ping")
    assert (status, body) == (200, b"pong")
    assert "no-cache" in dict(headers)["Cache-Control"]

    status, _, body = http_request(port, "GET", "/nowhere")
    assert status == 404
    status, headers, _ = http_request(port, "POST", "/hello", body=b"x")
    assert status == 405
    assert dict(headers)["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_probe_sees_what_nginx_sent(stack, variant):
    fpmd, nginx, _, _ = stack
    port = nginx.ports[variant]
    status, _, body = http_request(port, "GET", "/probe?a=1&b=%20x",
                                   headers={"X-Trace": "t-1",
                                            "Cookie": "s=1"})
    assert status == 200
    p = json.loads(body)
    assert p["method"] == "GET"
    assert p["uri"] == "/probe?a=1&b=%20x"
    assert p["query"] == "a=1&b=%20x"
    assert p["path"] == "/probe"
    assert p["headers"]["X_TRACE"] == "t-1"
    assert p["headers"]["COOKIE"] == "s=1"
    assert p["params"]["SERVER_SOFTWARE"].startswith("nginx/")
    assert p["params"]["REMOTE_ADDR"] == "127.0.0.1"
    assert p["body_length"] == 0
    assert p["body_sha256"] == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_php_snippet_routes_by_script_name(stack, variant):
    fpmd, nginx, _, _ = stack
    status, _, body = http_request(nginx.ports[variant], "GET",
                                   "/index.php/extra/path?r=post/view")
    assert status == 200
    p = json.loads(body)
    assert p["path"] == "/index.php"
    assert p["params"]["PATH_INFO"] == "/extra/path"
    assert p["params"]["SCRIPT_FILENAME"].endswith("/www/index.php")


@pytest.mark.parametrize("size", [0, 1 << 20, 10 << 20])
@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_post_bodies_reach_the_handler_intact(stack, variant, size):
    fpmd, nginx, _, _ = stack
    body = os.urandom(size)
    status, _, out = http_request(nginx.ports[variant], "POST", "/probe",
                                  body=body,
                                  headers={"Content-Type":
                                           "application/octet-stream"})
    assert status == 200, out[:500]
    p = json.loads(out)
    assert p["body_length"] == size
    assert p["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert p["params"]["CONTENT_LENGTH"] == (str(size) if size else "0")


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_large_streamed_response_and_status(stack, variant):
    fpmd, nginx, _, _ = stack
    port = nginx.ports[variant]
    status, _, body = http_request(port, "GET", "/probe?size=3000000")
    assert status == 200
    alphabet = b"abcdefghijklmnopqrstuvwxyz"
    assert body == (alphabet * (3000000 // 26 + 1))[:3000000]
    status, _, body = http_request(port, "GET", "/probe?status=201&size=5")
    assert (status, body) == (201, b"abcde")


@pytest.mark.parametrize("variant", VARIANTS, ids=IDS)
def test_concurrent_requests_each_get_their_own_answer(stack, variant):
    fpmd, nginx, _, _ = stack
    port = nginx.ports[variant]
    results = {}

    def one(i):
        status, _, body = http_request(port, "GET",
                                       "/probe?i=%d&sleep_ms=50" % i)
        results[i] = (status, json.loads(body)["query"])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: (200, "i=%d&sleep_ms=50" % i) for i in range(50)}


def test_status_page_formats(stack):
    fpmd, nginx, _, _ = stack
    port = nginx.ports[("tcp", True)]
    http_request(port, "GET", "/probe?uri=%3Cscript%3E%22")

    status, headers, body = http_request(port, "GET", "/status")
    assert status == 200
    text = body.decode()
    for field in ("pool:", "process manager:", "start time:", "start since:",
                  "accepted conn:", "listen queue:", "max listen queue:",
                  "listen queue len:", "idle processes:",
                  "active processes:", "total processes:",
                  "max active processes:", "max children reached:",
                  "slow requests:"):
        assert field in text, field
    assert "pool:                 www" in text
    assert "process manager:      static" in text
    assert "total processes:      2" in text

    status, headers, body = http_request(port, "GET", "/status?json&full")
    assert status == 200
    assert dict(headers)["Content-Type"] == "application/json"
    j = json.loads(body)
    assert j["pool"] == "www" and j["total processes"] == 2
    assert len(j["processes"]) == 2
    assert {"pid", "state", "requests", "request uri"} <= set(
        j["processes"][0])

    status, headers, body = http_request(port, "GET", "/status?xml&full")
    assert status == 200
    doc = xml.dom.minidom.parseString(body)
    assert doc.getElementsByTagName("pool")[0].firstChild.data == "www"

    status, headers, body = http_request(port, "GET", "/status?openmetrics")
    assert status == 200
    assert b"phpfpm_up" in body and body.rstrip().endswith(b"# EOF")

    status, headers, body = http_request(port, "GET", "/status?html&full")
    assert status == 200
    assert b"<script>alert" not in body

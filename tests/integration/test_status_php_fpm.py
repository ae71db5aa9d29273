# SPDX-License-Identifier: BSD-2-Clause
"""fpmd's status page against php-fpm 8.2's, side by side behind one nginx:
every format, with and without full, compared key by key and in order.
Values differ; the shape may not: php-fpm's keys, in php-fpm's order, with
values of the same type and format (start time, integers, microseconds,
two-decimal CPU, php-fpm's state names), the same headers. fpmd's own
figures may only follow php-fpm's, in each object (the pool, a process),
as tables, elements or series after them."""

import html.parser
import json
import re
import xml.etree.ElementTree as ET

import pytest

from backends import NginxFront, PhpFpm, no_worker_died  # noqa: F401
from conftest import Fpmd, base_conf, free_port, http_request
from test_status import PHP_FPM_LINT, promtool_lint

QUERIES = ["", "full", "json", "json&full", "xml", "xml&full", "html",
           "html&full", "openmetrics", "openmetrics&full"]
# php-fpm's request stages (fpm_request.c): what a "state" may be
STATES = {"Idle", "Running", "Reading headers",
          "Getting request information", "Ending", "Finishing"}

SERVER = """
    server {{
        listen 127.0.0.1:{port};
        root {www};
        location / {{
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_pass {upstream};
        }}
    }}
"""


@pytest.fixture
def both(tmpdir_path, servers):
    """php-fpm (pool www, pm static, 2 children, pm.status_path) and fpmd
    (pool www, static, 2 workers), each behind a server of one nginx;
    each has answered a request, so that rows hold one."""
    php = PhpFpm(tmpdir_path, {"index.php": "<?php echo 'hi';"},
                 pool="www", pool_extra="pm.status_path = /status\n").start()
    servers.append(php)
    fport = free_port()
    f = Fpmd(tmpdir_path, base_conf(fport, "@DIR@/fpmd.sock"))
    servers.append(f)
    f.start(("127.0.0.1", fport))
    ports = {"php-fpm": free_port(), "fpmd": free_port()}
    servers.append(NginxFront(tmpdir_path, "127.0.0.1:%d" % fport, "".join(
        SERVER.format(port=ports[name], www=php.www,
                      upstream=php.nginx_address if name == "php-fpm"
                      else "fpmd") for name in ports)).start(ports.values()))
    for name, path in (("php-fpm", "/index.php"), ("fpmd", "/probe")):
        for _ in range(4):
            assert http_request(ports[name], "GET", path)[0] == 200
    return ports


def fetch(port, query):
    code, headers, body = http_request(port, "GET", "/status" +
                                       ("?" + query if query else ""))
    assert code == 200, body
    h = {k.lower(): v for k, v in headers}
    return {k: h.get(k) for k in ("content-type", "expires",
                                  "cache-control")}, body.decode()


def kind(value):
    """A value's type and format, as php-fpm prints them."""
    if re.fullmatch(r"\d+", value):
        return "integer"
    if re.fullmatch(r"\d+\.\d\d", value):
        return "2 decimals"
    if re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}",
                    value):
        return "time"
    return "text"


def check_state(pairs):
    for k, v in pairs:
        if k == "state":
            assert v in STATES, v


def assert_prefix(php, fpmd, where):
    """php's shape (a list of (name, shape) or of shapes) begins fpmd's."""
    assert len(fpmd) >= len(php), "%s: fpmd has less than php-fpm:\n%r\n%r" \
        % (where, php, fpmd)
    for i, (a, b) in enumerate(zip(php, fpmd)):
        at = "%s[%d]" % (where, i)
        if isinstance(a, list):
            assert isinstance(b, list), at
            assert_prefix(a, b, at)
        elif isinstance(a, tuple):
            assert isinstance(b, tuple) and a[0] == b[0], \
                "%s: php-fpm has %r where fpmd has %r" % (at, a, b)
            if isinstance(a[1], list):
                assert isinstance(b[1], list), at
                assert_prefix(a[1], b[1], "%s.%s" % (where, a[0]))
            else:
                assert a[1] == b[1], "%s: %r vs %r" % (at, a, b)
        else:
            assert a == b, "%s: %r vs %r" % (at, a, b)


# --- plain text --------------------------------------------------------

def text_shape(body):
    """Sections (the pool, then one per process after php-fpm's row of
    stars), each a list of (key, kind) from "key:" padded to column 22."""
    sections = []
    for part in body.split("\n************************\n"):
        pairs = []
        for line in part.split("\n"):
            if line == "":
                continue
            key, _, _ = line.partition(":")
            assert line[:22] == (key + ":").ljust(22), line
            pairs.append((key, line[22:]))
        check_state(pairs)
        sections.append([(k, kind(v)) for k, v in pairs])
    return sections


# --- JSON --------------------------------------------------------------

def json_shape(value):
    if isinstance(value, list) and all(isinstance(x, tuple) and len(x) == 2
                                       for x in value) and value:
        check_state(value)
        return [(k, json_shape(v)) for k, v in value]
    if isinstance(value, list):
        return [json_shape(v) for v in value]
    return type(value).__name__


# --- XML ---------------------------------------------------------------

def xml_shape(elem):
    if len(elem):
        check_state([(c.tag, c.text) for c in elem])
        return [(c.tag, xml_shape(c)) for c in elem]
    return kind(elem.text or "")


# --- HTML --------------------------------------------------------------

class Tables(html.parser.HTMLParser):
    """Tables, each a list of rows, each a list of (tag, text) cells."""

    def __init__(self):
        super().__init__()
        self.tables = []
        self.cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("th", "td"):
            self.cell = [tag, ""]

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self.tables[-1][-1].append(tuple(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[1] += data


def html_shape(body):
    p = Tables()
    p.feed(body)
    shape = []
    for table in p.tables:
        if all(len(r) == 2 and r[0][0] == "th" for r in table):
            # name/value rows: the pool's table
            check_state([(r[0][1], r[1][1]) for r in table])
            shape.append([(r[0][1], kind(r[1][1])) for r in table])
            continue
        header = [c[1] for c in table[0]]
        rows = [[(h, kind(c[1])) for h, c in zip(header, r)]
                for r in table[1:]]
        for r in table[1:]:
            check_state(list(zip(header, (c[1] for c in r))))
        shape.append([("header", [(h, "th") for h in header])]
                     + [("row", r) for r in rows])
    return shape


# --- OpenMetrics -------------------------------------------------------

def metric_lines(body):
    lines = body.split("\n")
    assert lines[-2:] == ["# EOF", ""], lines[-3:]
    return lines[:-2]


@pytest.mark.parametrize("query", QUERIES)
def test_status_has_php_fpm_shape(both, query):
    php_headers, php = fetch(both["php-fpm"], query)
    fpmd_headers, fpmd = fetch(both["fpmd"], query)
    assert fpmd_headers == php_headers
    fmt = query.split("&")[0]
    full = query.endswith("full")
    if fmt in ("", "full"):
        php_s, fpmd_s = text_shape(php), text_shape(fpmd)
        assert len(php_s) == len(fpmd_s) == (3 if full else 1)
        assert_prefix(php_s, fpmd_s, "text")
    elif fmt == "json":
        php_s = json_shape(json.loads(php, object_pairs_hook=list))
        fpmd_s = json_shape(json.loads(fpmd, object_pairs_hook=list))
        assert_prefix(php_s, fpmd_s, "json")
        # the layout php-fpm_exporter's request URI fix-up relies on
        for body in (php, fpmd):
            assert (", \"processes\":[{\"pid\":" in body) == full
            assert len(re.findall(r',"request uri":".*?","content length":',
                                  body)) == (2 if full else 0)
    elif fmt == "xml":
        php_s, fpmd_s = xml_shape(ET.fromstring(php)), \
            xml_shape(ET.fromstring(fpmd))
        assert_prefix(php_s, fpmd_s, "xml")
        assert fpmd.startswith('<?xml version="1.0" ?>\n<status>\n<pool>')
        assert fpmd.endswith("</status>")
    elif fmt == "html":
        head = php[:php.index("<table>")]
        assert fpmd.startswith(head)
        php_s, fpmd_s = html_shape(php), html_shape(fpmd)
        assert len(php_s) == (2 if full else 1)
        assert_prefix(php_s, fpmd_s, "html")
    else:
        php_l, fpmd_l = metric_lines(php), metric_lines(fpmd)
        assert len(fpmd_l) > len(php_l)
        for a, b in zip(php_l, fpmd_l):
            if a.startswith("#"):
                assert a == b
            else:
                name, value = a.split(" ")
                assert b.split(" ")[0] == name
                assert re.fullmatch(r"\d+", b.split(" ")[1]), b
        for b in fpmd_l[len(php_l):]:
            assert re.match(r"(# (HELP|TYPE) )?fpmd_", b), b
        assert promtool_lint(php.encode()) == PHP_FPM_LINT
        assert promtool_lint(fpmd.encode()) == PHP_FPM_LINT


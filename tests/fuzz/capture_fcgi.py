#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Captures real FastCGI traffic for the fuzz corpora
(tests/fuzz/corpus/README.md):

- fcgi: what real web servers send a FastCGI backend. Each front of the
  integration suite (tests/integration/fronts.py: nginx, Apache with
  mod_proxy_fcgi, lighttpd, Caddy, h2o, HAProxy's fcgi-app; each from
  Debian) is started in a temp dir, pointed at a capturing listener on a
  free 127.0.0.1 port, and sent a set of HTTP requests (query strings,
  urlencoded and multipart POSTs, a chunked upload, many headers, long
  cookies, HEAD, keep-alive sequences, non-ASCII path bytes...). The
  listener records the bytes of each connection and answers each request
  with a small valid response. Each connection becomes
  corpus/fcgi/cap-<front>-<n>: fuzz_fcgi's input, one byte that picks the
  parser's piece size, then the record stream.
- fcgi_response: what php-fpm 8.2 (Debian) answers. It runs a few scripts
  (headers, statuses, a large body, stderr output, repeated header lines,
  flushed chunks) and each answer becomes corpus/fcgi_response/
  cap-php-fpm-<n>: fuzz_fcgi_response's input, one byte that picks the
  cut, then the records php-fpm wrote for request id 1.

Servers are started and stopped by pid; identical captures are written
once; files of an earlier run with the same prefix are replaced.

    /usr/bin/python3 tests/fuzz/capture_fcgi.py [--only nginx,h2o,...]
"""

import argparse
import glob
import hashlib
import http.client
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import fcgi_client as fc  # noqa: E402
import fronts  # noqa: E402
from backends import PhpFpm  # noqa: E402
from conftest import free_port, wait_for  # noqa: E402

CORPUS = os.path.join(HERE, "corpus")

# Each front and the variants (how it reaches FastCGI) captured.
FRONTS = {
    "nginx": (fronts.NginxPhp, ("close", "keep")),
    "apache": (fronts.Apache, ("sethandler", "proxypass")),
    "lighttpd": (fronts.Lighttpd, ("default",)),
    "caddy": (fronts.Caddy, ("php_fastcgi",)),
    "h2o": (fronts.H2o, ("default",)),
    "haproxy": (fronts.Haproxy, ("default", "mpx")),
}

ANSWER = b"Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n"


class Capture:
    """A FastCGI listener that keeps every connection's bytes and answers
    each request once its STDIN stream ended (several at once on one
    connection too), closing unless the request asked to keep it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.port = free_port()
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(64)
        self.conns = []             # [bytearray, open]
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            entry = [bytearray(), True]
            with self.lock:
                self.conns.append(entry)
            threading.Thread(target=self._serve, args=(s, entry),
                             daemon=True).start()

    @staticmethod
    def _answer(s, rtype, req_id, content, keep):
        """The reply to one complete record: False once the connection
        is to close."""
        if rtype == fc.GET_VALUES:
            s.sendall(fc.record(fc.GET_VALUES_RESULT, 0, fc.encode_pairs(
                [("FCGI_MAX_CONNS", "10"), ("FCGI_MAX_REQS", "10"),
                 ("FCGI_MPXS_CONNS", "1")])))
        elif rtype == fc.STDIN and not content:
            s.sendall(fc.stream(fc.STDOUT, req_id, ANSWER)
                      + fc.record(fc.END_REQUEST, req_id,
                                  struct.pack(">IB3x", 0, 0)))
            return keep.pop(req_id, False)
        return True

    def _serve(self, s, entry):
        buf, keep = b"", {}
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                entry[0] += data
                buf += data
                while len(buf) >= 8:
                    _, rtype, req_id, clen, plen = struct.unpack(
                        ">BBHHBx", buf[:8])
                    if len(buf) < 8 + clen + plen:
                        break
                    content = buf[8:8 + clen]
                    buf = buf[8 + clen + plen:]
                    if rtype == fc.BEGIN_REQUEST:
                        keep[req_id] = bool(content[2] & fc.KEEP_CONN)
                    if not self._answer(s, rtype, req_id, content, keep):
                        raise EOFError
        except (OSError, EOFError, IndexError):
            pass
        finally:
            s.close()
            entry[1] = False

    def all_closed(self):
        with self.lock:
            return not any(open_ for _, open_ in self.conns)

    def take(self):
        with self.lock:
            out = [bytes(b) for b, _ in self.conns if b]
            self.conns = []
        return out

    def close(self):
        self.sock.close()


def requests():
    """(name, [raw HTTP requests on one client connection])."""
    def req(method, target, headers=(), body=b"", close=True):
        h = [b"Host: 127.0.0.1", b"User-Agent: capture/1"] + list(headers)
        if body and not any(x.lower().startswith(b"transfer-encoding")
                            for x in headers):
            h.append(b"Content-Length: %d" % len(body))
        if close:
            h.append(b"Connection: close")
        return b"%s %s HTTP/1.1\r\n%s\r\n\r\n%s" % (
            method, target, b"\r\n".join(h), body)

    form = b"a=1&b=%C3%A9t%C3%A9&c=x+y&empty=&list[]=1&list[]=2"
    boundary = b"----capture7MA4YWxkTrZu0gW"
    multipart = (b"--" + boundary + b"\r\nContent-Disposition: form-data; "
                 b"name=\"field\"\r\n\r\nvalue\r\n--" + boundary
                 + b"\r\nContent-Disposition: form-data; name=\"file\"; "
                 b"filename=\"a.bin\"\r\nContent-Type: application/"
                 b"octet-stream\r\n\r\n" + bytes(range(256)) + b"\r\n--"
                 + boundary + b"--\r\n")
    chunks = b"".join(b"%x\r\n%s\r\n" % (n, b"z" * n)
                      for n in (1, 100, 4096, 7)) + b"0\r\n\r\n"
    return [
        ("get-query", [req(b"GET", b"/x.php?a=1&b=%20x&c[]=2#frag")]),
        ("post-form", [req(b"POST", b"/x.php", [
            b"Content-Type: application/x-www-form-urlencoded"], form)]),
        ("post-multipart", [req(b"POST", b"/x.php", [
            b"Content-Type: multipart/form-data; boundary=" + boundary],
            multipart)]),
        ("chunked-upload", [req(b"PUT", b"/x.php", [
            b"Transfer-Encoding: chunked",
            b"Content-Type: application/octet-stream"], chunks)]),
        ("many-headers", [req(b"GET", b"/x.php", [
            b"X-Header-%02d: value %d" % (i, i) for i in range(60)]
            + [b"Accept: text/html", b"Accept: application/json",
               b"Accept-Language: fr-CH, fr;q=0.9, en;q=0.8"])]),
        ("long-cookie", [req(b"GET", b"/x.php", [
            b"Cookie: session=" + b"s" * 3000,
            b"Cookie: theme=dark; lang=en",
            b"Authorization: Basic dXNlcjpwYXNz"])]),
        ("head", [req(b"HEAD", b"/x.php?head=1")]),
        ("path-info", [req(b"GET", b"/x.php/extra/p%41th?q")]),
        ("non-ascii", [req(b"GET", b"/x.php/caf\xc3\xa9/%C3%A9?n=\xc3\xa9")]),
        ("expect", [req(b"POST", b"/x.php", [b"Expect: 100-continue"],
                        b"expected")]),
        ("methods", [req(m, b"/x.php", body=b"{}" if m != b"DELETE"
                         else b"", close=False)
                     for m in (b"OPTIONS", b"PATCH", b"DELETE")]
         + [req(b"GET", b"/x.php?last")]),
        ("keep-alive", [req(b"GET", b"/x.php?k=%d" % i, close=False)
                        for i in range(3)] + [req(b"GET", b"/x.php?k=end")]),
        ("http10", [b"GET /x.php?v=10 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"]),
        ("index", [req(b"GET", b"/")]),
    ]


def exchange(port, raws):
    """Sends each request on one connection, reading each answer first."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for raw in raws:
            s.sendall(raw)
            method = raw.split(b" ", 1)[0].decode()
            r = http.client.HTTPResponse(s, method=method)
            try:
                r.begin()
                r.read()
            except (http.client.HTTPException, OSError):
                return      # the front refused it: nothing more on here
            if r.will_close:
                return


def capture_front(name, cls, variant, www, tmp):
    cap = Capture()
    front = cls(tmp, {"main": ("127.0.0.1:%d" % cap.port, variant)}, www,
                "%s-%s" % (name, variant)) if cls is not fronts.Apache \
        else cls(tmp, sites={"main": ("127.0.0.1:%d" % cap.port, variant)},
                 www=www, name="%s-%s" % (name, variant))
    front.start()
    try:
        for _, raws in requests():
            exchange(front.ports["main"], raws)
    finally:
        front.stop()
    # a front keeps idle backend connections until it stops
    wait_for(cap.all_closed, 15, "%s's backend connections to close" % name)
    cap.close()
    return cap.take()


PHP_SCRIPTS = {
    "headers.php": "<?php header('X-A: 1'); header('Content-Type: "
                   "application/json'); echo json_encode($_SERVER);",
    "status.php": "<?php http_response_code((int) ($_GET['s'] ?? 404)); "
                  "echo 'status';",
    "large.php": "<?php echo str_repeat('0123456789abcdef', 2000);",
    "stderr.php": "<?php error_log('to the web server: ' . str_repeat('e',"
                  " 100)); trigger_error('a warning', E_USER_WARNING); "
                  "echo 'after';",
    "cookies.php": "<?php header('Set-Cookie: a=1', false); "
                   "header('Set-Cookie: b=2', false); header('Set-Cookie: "
                   "c=3; HttpOnly', false); header('Vary: Accept', false); "
                   "header('Vary: Cookie', false); echo 'c';",
    "chunks.php": "<?php for ($i = 0; $i < 5; $i++) { echo str_repeat("
                  "chr(65 + $i), 1000 * ($i + 1)); flush(); }",
    "redirect.php": "<?php header('Location: /elsewhere', true, 302);",
    "empty.php": "<?php exit(0);",
    "fatal.php": "<?php undefined_function();",
    "post.php": "<?php echo strlen(file_get_contents('php://input')), ' ', "
                "count($_POST);",
}


def php_requests(www):
    """(params, body) of each request php-fpm is asked."""
    def req(script, method="GET", query="", body=b"", ctype=""):
        p = fc.cgi_params(method, "/%s%s" % (script, "?" + query
                                              if query else ""), body)
        p["SCRIPT_FILENAME"] = os.path.join(www, script)
        p["DOCUMENT_ROOT"] = www
        if ctype:
            p["CONTENT_TYPE"] = ctype
        return p, body

    return [
        req("headers.php", query="x=1"),
        req("status.php", query="s=404"),
        req("status.php", query="s=503"),
        req("large.php"),
        req("stderr.php"),
        req("cookies.php"),
        req("chunks.php"),
        req("redirect.php"),
        req("empty.php"),
        req("fatal.php"),
        req("missing.php"),
        req("post.php", "POST", body=b"a=1&b=2&c=%C3%A9",
            ctype="application/x-www-form-urlencoded"),
        req("post.php", "POST", body=b"x" * 70000,
            ctype="application/octet-stream"),
        req("headers.php", "HEAD"),
    ]


def capture_php(tmp):
    fpm = PhpFpm(tmp, PHP_SCRIPTS, pool_extra=(
        "php_admin_value[log_errors] = on\n"
        "php_admin_value[display_errors] = off\n"
        "php_admin_value[output_buffering] = 0\n")).start()
    out = []
    try:
        for params, body in php_requests(fpm.www):
            got = bytearray()
            with socket.create_connection(("127.0.0.1", fpm.port),
                                          timeout=10) as s:
                s.sendall(fc.request_bytes(1, params, body))
                while True:     # php-fpm closes: no FCGI_KEEP_CONN asked
                    data = s.recv(65536)
                    if not data:
                        break
                    got += data
            out.append(bytes(got))
    finally:
        fpm.stop()
    return out


def write(kind, prefix, blobs, first_byte):
    """Writes blobs as corpus/kind/prefix-<n>, each after its lead byte
    (first_byte(n)), once per distinct blob; removes older ones."""
    d = os.path.join(CORPUS, kind)
    for old in glob.glob(os.path.join(d, prefix + "-*")):
        os.unlink(old)
    seen, n = set(), 0
    for blob in blobs:
        digest = hashlib.sha1(blob).digest()
        if digest in seen:
            continue
        seen.add(digest)
        with open(os.path.join(d, "%s-%d" % (prefix, n)), "wb") as f:
            f.write(bytes([first_byte(n)]) + blob)
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated: " + ", ".join(
        list(FRONTS) + ["php-fpm"]))
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    tmp = tempfile.mkdtemp(prefix="fpmd-capture-")
    os.chmod(tmp, 0o755)
    try:
        www = os.path.join(tmp, "www")
        os.makedirs(www)
        os.chmod(www, 0o755)
        for script in ("x.php", "index.php"):
            with open(os.path.join(www, script), "w") as f:
                f.write("<?php echo 'captured';\n")
        for name, (cls, variants) in FRONTS.items():
            if only and name not in only:
                continue
            blobs = []
            for variant in variants:
                blobs += capture_front(name, cls, variant, www, tmp)
            # piece sizes 17, 1, 6...: whole records and splits alike
            n = write("fcgi", "cap-" + name, blobs,
                      lambda i: (16 + 5 * i) % 256)
            print("%-9s %3d connections" % (name, n))
        if not only or "php-fpm" in only:
            blobs = capture_php(tmp)
            # cut points: the start, inside a header, later on
            n = write("fcgi_response", "cap-php-fpm", blobs,
                      lambda i: (0, 5, 13, 40, 200)[i % 5])
            print("%-9s %3d answers" % ("php-fpm", n))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

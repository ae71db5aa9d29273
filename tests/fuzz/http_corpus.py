#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Writes the HTTP/1 request corpus drawn from public research into
tests/fuzz/corpus/http (fuzz_http's input: the raw bytes a client sends),
as the files named in tests/fuzz/corpus/README.md:

  smuggle-*  Transfer-Encoding obfuscations, each in a request that also
             carries a Content-Length (the CL.TE/TE.CL probes of request
             smuggling research; the gadget list follows the one in
             defparam/smuggler's configs/exhaustive.py, MIT).
  classic-*  the desync shapes of HTTP request smuggling write-ups
             (CL.TE, TE.CL, TE.TE, CL.CL, chunk-size and line-ending
             tricks, obs-fold, NUL, spaces before the colon).
  ngx-*      the request-parsing cases of nginx-tests (BSD-2-Clause):
             Host and absolute-form authorities (http_host.t), targets
             (http_uri.t), transfer codings and bad chunks
             (body_chunked.t), methods (http_method.t).

Messages are facts; these files are written here from the cases, no
code of those projects is used. h2o's fuzz/http1-corpus (MIT) is
imported by hand with libFuzzer's -merge (the README says how), not by
this script. Running it again rewrites the same files.

    /usr/bin/python3 tests/fuzz/http_corpus.py [DIR]
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RN = b"\r\n"


def request(head_lines, body=b"", method=b"POST", target=b"/probe",
            version=b"HTTP/1.1", host=b"localhost"):
    """A request: the request line, Host (unless host is None), then the
    given lines as they are, an empty line, body."""
    out = method + b" " + target + b" " + version + RN
    if host is not None:
        out += b"Host: " + host + RN
    for line in head_lines:
        out += line + RN
    return out + RN + body


def get(head_lines=(), **kw):
    return request(list(head_lines), method=b"GET", **kw)


def chunk(data):
    return b"%x" % len(data) + RN + data + RN


LAST = b"0" + RN + RN

# Transfer-Encoding written the ways smuggling scanners try, so that one
# reader takes it for chunked and another not.
SMUGGLE_NAMED = {
    "nameprefix1": b" Transfer-Encoding: chunked",
    "tabprefix1": b"Transfer-Encoding:\tchunked",
    "tabprefix2": b"Transfer-Encoding\t:\tchunked",
    "spacejoin1": b"Transfer Encoding: chunked",
    "underjoin1": b"Transfer_Encoding: chunked",
    "smashed": b"Transfer Encoding:chunked",
    "space1": b"Transfer-Encoding : chunked",
    "valueprefix1": b"Transfer-Encoding:  chunked",
    "vertprefix1": b"Transfer-Encoding:\x0bchunked",
    "commaCow": b"Transfer-Encoding: chunked, cow",
    "cowComma": b"Transfer-Encoding: cow, chunked",
    "contentEnc": b"Content-Encoding: chunked",
    "linewrapped1": b"Transfer-Encoding:\n chunked",
    "quoted": b'Transfer-Encoding: "chunked"',
    "aposed": b"Transfer-Encoding: 'chunked'",
    "lazygrep": b"Transfer-Encoding: chunk",
    "sarcasm": b"TrAnSFer-EnCODinG: cHuNkeD",
    "yelling": b"TRANSFER-ENCODING: CHUNKED",
    "0dsuffix": b"Transfer-Encoding: chunked\r",
    "tabsuffix": b"Transfer-Encoding: chunked\t",
    "revdualchunk": b"Transfer-Encoding: cow\r\nTransfer-Encoding: chunked",
    "0dspam": b"Transfer\r-Encoding: chunked",
    "nested": b"Transfer-Encoding: cow chunked bar",
    "spaceFF": b"Transfer-Encoding:\xffchunked",
    "accentCH": b"Transfer-Encoding: ch\x96nked",
    "accentTE": b"Transf\x82r-Encoding: chunked",
    "x-rout": b"X:X\rTransfer-Encoding: chunked",
    "x-nout": b"X:X\nTransfer-Encoding: chunked",
    "dualchunk": b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    "chunked-identity": b"Transfer-Encoding: chunked, identity",
    "identity-chunked": b"Transfer-Encoding: identity, chunked",
    "comma-empty": b"Transfer-Encoding: chunked,",
    "xchunked": b"Transfer-Encoding: xchunked",
    "chunked-semicolon": b"Transfer-Encoding: chunked;q=1",
}

# The bytes tried in each position (a sample of smuggler's 0x01-0x20 and
# 0x7f-0xff sweeps: the classes, not every byte).
SWEEP = (0x00, 0x01, 0x09, 0x0b, 0x0c, 0x0d, 0x0a, 0x20, 0x7f, 0x80, 0xa0,
         0xff)
POSITIONS = {
    "midspace": b"Transfer-Encoding:%cchunked",
    "postspace": b"Transfer-Encoding%c: chunked",
    "prespace": b"%cTransfer-Encoding: chunked",
    "endspace": b"Transfer-Encoding: chunked%c",
}


def smuggle_cases():
    gadgets = dict(SMUGGLE_NAMED)
    for pos, fmt in POSITIONS.items():
        for b in SWEEP:
            gadgets["%s-%02x" % (pos, b)] = fmt % b
    for name, gadget in gadgets.items():
        # TE.CL: a reader of the chunks stops at the last chunk and sees
        # "X" start the next request; a reader of the length takes it
        body = LAST + b"X"
        yield "smuggle-tecl-" + name, request(
            [gadget, b"Content-Type: application/x-www-form-urlencoded",
             b"Content-Length: %d" % len(body)], body)
        # CL.TE: a reader of the length stops inside the chunk
        body = chunk(b"Z") + LAST
        yield "smuggle-clte-" + name, request(
            [gadget, b"Content-Type: application/x-www-form-urlencoded",
             b"Content-Length: 4"], body)


def classic_cases():
    smuggled = b"GET /admin HTTP/1.1" + RN + b"Host: localhost" + RN + RN
    yield "classic-clte", request(
        [b"Content-Length: %d" % len(LAST + smuggled),
         b"Transfer-Encoding: chunked"], LAST + smuggled)
    yield "classic-tecl", request(
        [b"Content-Length: 3", b"Transfer-Encoding: chunked"],
        chunk(smuggled) + LAST)
    yield "classic-tete", request(
        [b"Transfer-Encoding: chunked", b"Transfer-encoding: cow",
         b"Content-Length: 4"], chunk(b"Z") + LAST)
    yield "classic-clcl-differ", request(
        [b"Content-Length: 5", b"Content-Length: 6"], b"hello!")
    yield "classic-clcl-same", request(
        [b"Content-Length: 5", b"Content-Length: 5"], b"hello")
    yield "classic-cl-list", request([b"Content-Length: 5, 5"], b"hello")
    yield "classic-cl-list-differ", request([b"Content-Length: 5, 6"],
                                            b"hello!")
    yield "classic-cl-plus", request([b"Content-Length: +5"], b"hello")
    yield "classic-cl-minus", request([b"Content-Length: -1"], b"")
    yield "classic-cl-hex", request([b"Content-Length: 0x5"], b"hello")
    yield "classic-cl-space-inside", request([b"Content-Length: 1 0"],
                                             b"0123456789")
    yield "classic-cl-leading-zero", request([b"Content-Length: 0005"],
                                             b"hello")
    yield "classic-cl-huge", request(
        [b"Content-Length: 18446744073709551617"], b"x")
    yield "classic-cl-empty", request([b"Content-Length:"], b"")
    yield "classic-cl-on-get", request([b"Content-Length: 5"], b"hello",
                                       method=b"GET")
    yield "classic-cl-space-before-colon", request(
        [b"Content-Length : 5"], b"hello")
    yield "classic-chunk-size-overflow", request(
        [b"Transfer-Encoding: chunked"],
        b"10000000000000005" + RN + b"hello" + RN + LAST)
    yield "classic-chunk-size-negative", request(
        [b"Transfer-Encoding: chunked"], b"-5" + RN + b"hello" + RN + LAST)
    yield "classic-chunk-size-leading-space", request(
        [b"Transfer-Encoding: chunked"], b" 5" + RN + b"hello" + RN + LAST)
    yield "classic-chunk-size-trailing-space", request(
        [b"Transfer-Encoding: chunked"], b"5 " + RN + b"hello" + RN + LAST)
    yield "classic-chunk-size-0x", request(
        [b"Transfer-Encoding: chunked"], b"0x5" + RN + b"hello" + RN + LAST)
    yield "classic-chunk-size-empty", request(
        [b"Transfer-Encoding: chunked"], RN + b"hello" + RN + LAST)
    yield "classic-chunk-ext-bare", request(
        [b"Transfer-Encoding: chunked"], b"5;" + RN + b"hello" + RN + LAST)
    yield "classic-chunk-ext-quoted", request(
        [b"Transfer-Encoding: chunked"],
        b'5;a="b;c"' + RN + b"hello" + RN + LAST)
    yield "classic-chunk-ext-lf", request(
        [b"Transfer-Encoding: chunked"],
        b"5;a\nb" + RN + b"hello" + RN + LAST)
    yield "classic-chunk-data-bare-lf", request(
        [b"Transfer-Encoding: chunked"], b"5" + RN + b"hello\n" + LAST)
    yield "classic-chunk-data-no-crlf", request(
        [b"Transfer-Encoding: chunked"], b"5" + RN + b"helloXX" + LAST)
    yield "classic-chunk-size-bare-lf", request(
        [b"Transfer-Encoding: chunked"], b"5\nhello" + RN + LAST)
    yield "classic-chunk-last-bare-lf", request(
        [b"Transfer-Encoding: chunked"], chunk(b"hello") + b"0\n\n")
    yield "classic-chunk-too-long", request(
        [b"Transfer-Encoding: chunked"], b"3" + RN + b"hello" + RN + LAST)
    yield "classic-chunk-trailer-te", request(
        [b"Transfer-Encoding: chunked"],
        chunk(b"hello") + b"0" + RN + b"Content-Length: 5" + RN + RN)
    yield "classic-chunk-trailer-bad", request(
        [b"Transfer-Encoding: chunked"],
        chunk(b"hello") + b"0" + RN + b"Bad Name: x" + RN + RN)
    yield "classic-obs-fold-value", request(
        [b"X-Fold: a", b" b"], method=b"GET")
    yield "classic-obs-fold-te", request(
        [b"Transfer-Encoding:", b" chunked", b"Content-Length: 4"],
        chunk(b"Z") + LAST)
    yield "classic-obs-fold-first", b"GET / HTTP/1.1" + RN + b" X: y" + RN \
        + b"Host: localhost" + RN + RN
    yield "classic-nul-value", get([b"X-Nul: a\x00b"])
    yield "classic-nul-name", get([b"X-N\x00ul: a"])
    yield "classic-nul-target", get(target=b"/a\x00b")
    yield "classic-bare-cr-value", get([b"X-Cr: a\rb"])
    yield "classic-bare-lf-value", get([b"X-Lf: a\nb: c"])
    yield "classic-bare-lf-request-line", b"GET / HTTP/1.1\nHost: x" + RN + RN
    yield "classic-bare-lf-everywhere", b"GET / HTTP/1.1\nHost: x\n\n"
    yield "classic-bare-cr-line-end", b"GET / HTTP/1.1\rHost: x\r\r"
    yield "classic-space-before-colon", get([b"X-Sp : a"])
    yield "classic-tab-before-colon", get([b"X-Tab\t: a"])
    yield "classic-empty-name", get([b": a"])
    yield "classic-no-colon", get([b"X-No-Colon"])
    yield "classic-name-with-slash", get([b"X/Y: a"])
    yield "classic-host-twice", get([b"Host: evil"])
    yield "classic-host-missing", get(host=None)
    yield "classic-host-empty", get(host=b"")
    yield "classic-host-userinfo", get(host=b"user@localhost")
    yield "classic-host-path", get(host=b"a/b")
    yield "classic-http10-no-host", get(version=b"HTTP/1.0", host=None)
    yield "classic-http10-te", request(
        [b"Transfer-Encoding: chunked"], chunk(b"hello") + LAST,
        version=b"HTTP/1.0")
    yield "classic-http09", b"GET /" + RN
    yield "classic-http12", get(version=b"HTTP/1.2")
    yield "classic-http2-line", get(version=b"HTTP/2.0")
    yield "classic-version-lower", get(version=b"http/1.1")
    yield "classic-version-space", get(version=b"HTTP/ 1.1")
    yield "classic-method-lower", request([], method=b"get")
    yield "classic-method-unknown", request([], method=b"FOO")
    yield "classic-method-token", request([], method=b"M-SEARCH")
    yield "classic-target-asterisk", request([], method=b"OPTIONS",
                                             target=b"*")
    yield "classic-target-space", get(target=b"/a b")
    yield "classic-target-tab", get(target=b"/a\tb")
    yield "classic-target-high-bytes", get(target=b"/\xc3\xa9t\xe9")
    yield "classic-target-fragment", get(target=b"/a#frag")
    yield "classic-target-no-slash", get(target=b"a")
    yield "classic-expect-other", get([b"Expect: 200-ok"])
    yield "classic-upgrade", request(
        [b"Connection: Upgrade", b"Upgrade: websocket"], method=b"GET")
    yield "classic-te-then-pipelined", request(
        [b"Transfer-Encoding: chunked"], chunk(b"hello") + LAST
        + b"GET /second HTTP/1.1" + RN + b"Host: localhost" + RN + RN)
    yield "classic-leading-crlf", RN + RN + get()
    yield "classic-leading-lf", b"\n" + get()
    yield "classic-cookie-split", request(
        [b"Cookie: a=1", b"Cookie: b=2", b"X-Rep: 1", b"X-Rep: 2"],
        method=b"GET")
    yield "classic-underscore-name", request(
        [b"X_Forwarded_For: 1.2.3.4", b"X-Forwarded-For: 5.6.7.8"],
        method=b"GET")
    yield "classic-proxy-header", get([b"Proxy: http://evil"])


def ngx_host(host, absolute):
    if absolute:
        return get(target=b"http://" + host + b"/",
                       version=b"HTTP/1.0", host=b"localhost")
    return get(target=b"/", version=b"HTTP/1.0",
                   host=host)


NGX_HOSTS = (
    b"", b"l", b"L", b"abcd-ef.g02.xyz:", b"123.40.56.78:",
    b"www.abcd-ef.g02.xyz", b"abcd-ef.g02.xyz:8080", b"www.abcd-ef.g02.xyz.",
    b"abcd-ef.g02.xyz.:88", b"example.com.:1.2", b".",
    b"AbC-d93.0.34ZhGt-s.nk.Ru:88", b"123.49.0.78:98777",
    b"123.40.56.78:9000:80", b"[abcd::ef98:0:7654:321]",
    b"[abcd::ef98:0:7654:321]:80", b"[::ffff:12.30.67.89]",
    b"[::123.45.67.89]:4321", b"example.com/\\:552", b"\\e/xample.com",
    b"..examp-LE.com", b"com.exa-m.45..:", b"[abcd::e\\f98:0/:7654:321]",
    b"[abcd::ef98:0:7654:321].", b"[abcd::ef98:0:7654:321].:98",
    b"[abcd::ef98:0:7654:321]..:98", b"[ab..cd::ef98:0:7654:321]",
    b"extra[abcd::ef98:0:7654:321]:98", b"[abcd::ef98:0:7654:321",
    b"[v0123456789aBcDeF.!$&'()*+,;=-._~AbCdEfGhIjKlMnOpQrStUvWxYz"
    b"0123456789:]",
    b"localhost\r\nHost: again", b"localhost\x02",
)

NGX_URIS = (
    b"/foo/bar%", b"/foo/bar%1", b"/foo/bar/.?args", b"/foo/bar/.#frag",
    b"/foo/bar/..?args", b"/foo/bar/..#frag", b"/foo/bar/.", b"/foo/bar/..",
    b"http://localhost", b"http://localhost/", b"http://localhost?args",
    b"http://localhost?args#frag", b"http://localhost:8080",
    b"http://localhost:8080?args#frag", b"/ /", b"/\x02", b"/%02",
)


def ngx_cases():
    for i, host in enumerate(NGX_HOSTS):
        yield "ngx-host-header-%02d" % i, ngx_host(host, False)
        if b"\r" not in host:
            yield "ngx-host-absolute-%02d" % i, ngx_host(host, True)
    for i, uri in enumerate(NGX_URIS):
        yield "ngx-uri-%02d" % i, get(target=uri,
                                          host=b"localhost")
    for name, te, version in (
            ("identity", b"identity", b"HTTP/1.1"),
            ("repeat", b"chunked\r\nTransfer-Encoding: chunked", b"HTTP/1.1"),
            ("list", b"chunked, identity", b"HTTP/1.1"),
            ("with-cl", b"chunked\r\nContent-Length: 5", b"HTTP/1.1"),
            ("http10", b"chunked", b"HTTP/1.0")):
        yield "ngx-te-" + name, request(
            [b"Connection: close", b"Transfer-Encoding: " + te],
            chunk(b"0123456789") + LAST, method=b"GET", target=b"/",
            version=version)
    yield "ngx-runaway-chunk", request(
        [b"Connection: close", b"Transfer-Encoding: chunked"],
        b"4" + RN + b"SEE-THIS" + RN + LAST, method=b"GET", target=b"/")
    yield "ngx-chunks-sizes", request(
        [b"Connection: close", b"Transfer-Encoding: chunked"],
        chunk(b"0123456789") + chunk(b"0123456789" * 128)
        + chunk(b"0123456789" * 512) + LAST, method=b"GET", target=b"/")
    for name, line in (("trace", b"TRACE / HTTP/1.1"),
                       ("connect", b"CONNECT localhost:8080 HTTP/1.1"),
                       ("connect-uri", b"CONNECT / HTTP/1.1"),
                       ("connect-no-port", b"CONNECT localhost HTTP/1.1")):
        yield "ngx-method-" + name, line + RN + b"Host: localhost" + RN + RN


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "corpus", "http")
    os.makedirs(out, exist_ok=True)
    seen = {}
    for name in os.listdir(out):
        if not name.startswith(("smuggle-", "classic-", "ngx-")):
            with open(os.path.join(out, name), "rb") as f:
                seen[f.read()] = name   # the seeds written by hand stay
    ours = 0
    for gen in (smuggle_cases, classic_cases, ngx_cases):
        for name, data in gen():
            if data in seen:
                continue        # one file per distinct message
            seen[data] = name
            ours += 1
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
    print("%d files written in %s" % (ours, out))


if __name__ == "__main__":
    main()

# SPDX-License-Identifier: BSD-2-Clause
"""Differential check of fpmd's HTTP/1 request parsing against a strict
reference, h11 (Debian's python3-h11): for every message of
tests/fuzz/corpus/http, tests/fuzz/regression/http and the TRICKY cases
below, fpmd's verdict (tests/http-verdict, the listener's own code path)
and h11's must agree, or the disagreement must match an entry of
EXPLAINED, which says why the two differ. An unexplained disagreement
fails the test; so does an entry no message needs any more.

What is compared, for the first request of a message only:
- accept or reject (statuses are not compared: the two say 400, 501 or
  505 for different reasons; a message that ends before its request is
  complete is a reject for both);
- when both accept: the method, the target (REQUEST_URI as fpmd passes
  it: an absolute-form target less its scheme and authority, which
  become the Host), the version, the decoded body, and the headers as a
  handler sees them. h11's header list is put in fpmd's form first: CGI
  names (HTTP_ + upper case, '-' to '_'; CONTENT_TYPE, CONTENT_LENGTH),
  names with '_', Proxy and names longer than 250 bytes dropped, the
  values of a repeated name joined in order with ", " ("; " for
  Cookie), as fpmd passes them on to a handler. Values are compared as
  both give them: leading and trailing SP/HTAB stripped; h11 lower-cases
  Transfer-Encoding, so its case is not compared. obs-fold is never
  compared: fpmd refuses it (an EXPLAINED class);
- when both accept it alike, where the first request ends: each reader's
  verdict on the bytes after it (unless it closes the connection), on
  the next request's head: accepted by both with the same method and
  target, refused or incomplete for both, or an EXPLAINED class. A
  desync (one reader taking body bytes for a request) shows here.

The summary (messages, agreements, explained disagreements by class) is
printed with -s, and by tests/fuzz/corpus/README.md's command."""

import collections
import json
import os
import re
import subprocess

from conftest import FPMD_HTTP_VERDICT_BIN, TOP, need

try:
    import h11
except ImportError:
    h11 = None

CORPUS_DIRS = [os.path.join(TOP, "tests", "fuzz", d, "http")
               for d in ("corpus", "regression")]
RN = b"\r\n"


def _req(*lines, body=b"", line=b"POST /p HTTP/1.1"):
    return line + RN + b"".join(x + RN for x in lines) + RN + body


def _chunked(body):
    return _req(b"Host: a", b"Transfer-Encoding: chunked", body=body)


# Hand-written cases beside the corpus: where two readers of one message
# have been seen to differ.
TRICKY = {
    "get": _req(b"Host: a", line=b"GET /a?b=c HTTP/1.1"),
    "cl-body": _req(b"Host: a", b"Content-Length: 3", body=b"abc"),
    "chunked": _chunked(b"3\r\nabc\r\n0\r\n\r\n"),
    "chunked-upper-te": _req(b"Host: a", b"Transfer-Encoding: CHUNKED",
                             body=b"3\r\nabc\r\n0\r\n\r\n"),
    "chunked-ext": _chunked(b"3;x=y\r\nabc\r\n0\r\n\r\n"),
    "chunked-trailer": _chunked(b"3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"),
    "chunk-hex-upper": _chunked(b"A\r\n0123456789\r\n0\r\n\r\n"),
    "chunk-size-leading-zeros": _chunked(b"0003\r\nabc\r\n0\r\n\r\n"),
    "chunk-crlf-missing": _chunked(b"3\r\nabcXX0\r\n\r\n"),
    "chunk-size-lf": _chunked(b"3\nabc\r\n0\r\n\r\n"),
    "chunk-data-lf": _chunked(b"3\r\nabc\n0\r\n\r\n"),
    "chunk-size-space": _chunked(b"3 \r\nabc\r\n0\r\n\r\n"),
    "chunk-size-overflow": _chunked(b"1" + b"0" * 16 + b"3\r\nabc\r\n"
                                b"0\r\n\r\n"),
    "cl-te": _req(b"Host: a", b"Content-Length: 3",
                  b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "te-cl": _req(b"Host: a", b"Transfer-Encoding: chunked",
                  b"Content-Length: 3", body=b"0\r\n\r\n"),
    "te-twice": _req(b"Host: a", b"Transfer-Encoding: chunked",
                     b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
    "te-gzip-chunked": _req(b"Host: a", b"Transfer-Encoding: gzip, chunked",
                            body=b"0\r\n\r\n"),
    "te-identity": _req(b"Host: a", b"Transfer-Encoding: identity",
                        body=b""),
    "te-space-colon": _req(b"Host: a", b"Transfer-Encoding : chunked",
                           b"Content-Length: 5", body=b"0\r\n\r\n"),
    "te-vtab": _req(b"Host: a", b"Transfer-Encoding:\x0bchunked",
                    b"Content-Length: 5", body=b"0\r\n\r\n"),
    "te-obs-fold": _req(b"Host: a", b"Transfer-Encoding:", b" chunked",
                        b"Content-Length: 5", body=b"0\r\n\r\n"),
    "cl-twice-same": _req(b"Host: a", b"Content-Length: 3",
                          b"Content-Length: 3", body=b"abc"),
    "cl-twice-differ": _req(b"Host: a", b"Content-Length: 3",
                            b"Content-Length: 4", body=b"abcd"),
    "cl-list": _req(b"Host: a", b"Content-Length: 3, 3", body=b"abc"),
    "cl-plus": _req(b"Host: a", b"Content-Length: +3", body=b"abc"),
    "cl-trailing-space": _req(b"Host: a", b"Content-Length: 3 ", body=b"abc"),
    "cl-short-body": _req(b"Host: a", b"Content-Length: 9", body=b"abc"),
    "cl-extra-bytes": _req(b"Host: a", b"Content-Length: 1", body=b"abc"),
    "space-before-colon": _req(b"Host: a", b"X-A : b"),
    "tab-in-value": _req(b"Host: a", b"X-A: b\tc"),
    "trailing-ws": _req(b"Host: a", b"X-A: b \t "),
    "empty-value": _req(b"Host: a", b"X-A:"),
    "high-bytes-value": _req(b"Host: a", b"X-A: \xc3\xa9\xff"),
    "nul-value": _req(b"Host: a", b"X-A: b\x00c"),
    "ctl-value": _req(b"Host: a", b"X-A: b\x01c"),
    "del-value": _req(b"Host: a", b"X-A: b\x7fc"),
    "bare-cr-value": _req(b"Host: a", b"X-A: b\rc"),
    "bare-lf-lines": b"GET / HTTP/1.1\nHost: a\n\n",
    "bare-lf-last": b"GET / HTTP/1.1\r\nHost: a\r\n\n",
    "obs-fold": _req(b"Host: a", b"X-A: b", b"\tc"),
    "repeat-joined": _req(b"Host: a", b"X-A: 1", b"X-B: 2", b"x-a: 3"),
    "cookies-joined": _req(b"Host: a", b"Cookie: a=1", b"Cookie: b=2"),
    "underscore-name": _req(b"Host: a", b"X_A: 1", b"X-A: 2"),
    "no-host-11": _req(line=b"GET / HTTP/1.1"),
    "no-host-10": _req(line=b"GET / HTTP/1.0"),
    "two-hosts": _req(b"Host: a", b"Host: b"),
    "host-bad": _req(b"Host: a/b"),
    "absolute-form": _req(b"Host: other", line=b"GET http://h:8/x?y HTTP/1.1"),
    "absolute-no-path": _req(b"Host: h", line=b"GET http://h HTTP/1.1"),
    "asterisk": _req(b"Host: a", line=b"OPTIONS * HTTP/1.1"),
    "http10": _req(line=b"GET / HTTP/1.0"),
    "http10-te": _req(b"Transfer-Encoding: chunked", body=b"0\r\n\r\n",
                      line=b"POST / HTTP/1.0"),
    "http12": _req(b"Host: a", line=b"GET / HTTP/1.2"),
    "http20": _req(b"Host: a", line=b"GET / HTTP/2.0"),
    "http09": b"GET /\r\n\r\n",
    "method-lower": _req(b"Host: a", line=b"get / HTTP/1.1"),
    "method-unknown": _req(b"Host: a", line=b"FOO / HTTP/1.1"),
    "request-line-two-spaces": _req(b"Host: a", line=b"GET  / HTTP/1.1"),
    "request-line-tab": _req(b"Host: a", line=b"GET\t/ HTTP/1.1"),
    "target-space": _req(b"Host: a", line=b"GET /a b HTTP/1.1"),
    "target-high-bytes": _req(b"Host: a", line=b"GET /\xe9 HTTP/1.1"),
    "target-dotdot": _req(b"Host: a", line=b"GET /../etc HTTP/1.1"),
    "target-pct-bad": _req(b"Host: a", line=b"GET /%zz HTTP/1.1"),
    "leading-crlf": RN + _req(b"Host: a", line=b"GET / HTTP/1.1"),
    "upgrade": _req(b"Host: a", b"Connection: upgrade", b"Upgrade: h2c",
                    line=b"GET / HTTP/1.1"),
    "connect": _req(b"Host: a:443", line=b"CONNECT a:443 HTTP/1.1"),
    "expect-continue": _req(b"Host: a", b"Expect: 100-continue",
                            b"Content-Length: 1", body=b"x"),
    "expect-other": _req(b"Host: a", b"Expect: nothing"),
    "pipelined": _req(b"Host: a", line=b"GET /1 HTTP/1.1")
    + _req(b"Host: a", line=b"GET /2 HTTP/1.1"),
    "chunk-ext-high-byte": _chunked(b"3;e=\xff\r\nabc\r\n0\r\n\r\n"),
    "chunk-ext-quoted-control": _chunked(b'3;e="\x02"\r\nabc\r\n0\r\n\r\n'),
    "trailer-bare-lf": _chunked(b"1\r\nx\r\n0\r\nT: v\n\r\n"),
    "target-over-limit": _req(b"Host: a", line=b"GET /" + b"u" * 8192
                              + b" HTTP/1.1"),
    "fields-over-limit": _req(b"Host: a", *[b"X-%d: v" % i
                                            for i in range(100)]),
    "truncated-head": b"GET / HTTP/1.1\r\nHost: a\r\n",
    "empty": b"",
}


# --- the two verdicts ---------------------------------------------------

def fpmd_verdicts(paths):
    """fpmd's verdict on each file, from one http-verdict run."""
    out = subprocess.run([FPMD_HTTP_VERDICT_BIN] + paths,
                         stdout=subprocess.PIPE,
                         check=True, timeout=120).stdout
    # json-c writes bytes >= 0x80 as they are and escapes the rest: as
    # latin-1 every code point is the byte it stands for
    lines = out.decode("latin-1").splitlines()
    assert len(lines) == len(paths)
    verdicts = []
    for line in lines:
        v = json.loads(line)
        if v["accept"]:
            v["headers"] = [(n, val.encode("latin-1"))
                            for n, val in v["headers"]]
            v["target"] = v["target"].encode("latin-1")
            v["body"] = bytes.fromhex(v["body"])
            if v["next"] and v["next"]["accept"]:
                v["next"]["target"] = v["next"]["target"].encode("latin-1")
        verdicts.append(v)
    return verdicts


NOTHING = {"accept": False, "status": 0, "reason": ""}


def h11_verdict(data, head_only=False):
    """h11's verdict on the first request of data (then end of input): on
    its head alone, or on the whole request; an accepted whole request
    also says what follows it ("trailing", None when the connection is
    to close after it)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    conn.receive_data(b"")
    req, body = None, b""
    try:
        while True:
            ev = conn.next_event()
            if isinstance(ev, h11.Request):
                req = ev
                if head_only:
                    return {"accept": True, "request": req}
            elif isinstance(ev, h11.Data):
                body += ev.data
            elif isinstance(ev, h11.EndOfMessage):
                trailing = (None if conn.their_state is h11.MUST_CLOSE
                            else conn.trailing_data[0])
                return {"accept": True, "request": req, "body": body,
                        "trailing": trailing}
            else:
                return dict(NOTHING, reason="incomplete (%r)" % (ev,))
    except h11.RemoteProtocolError as e:
        return {"accept": False, "status": e.error_status_hint,
                "reason": str(e)}


def cgi_name(name):
    upper = name.upper()
    if upper in (b"CONTENT-TYPE", b"CONTENT-LENGTH"):
        return upper.replace(b"-", b"_").decode()
    return "HTTP_" + upper.replace(b"-", b"_").decode("latin-1")


def origin_form(target):
    """An absolute-form target as fpmd passes REQUEST_URI (less scheme
    and authority, "/" when no path) and its authority (None when the
    target was not absolute-form)."""
    m = re.match(rb"(?i)https?://([^/?]*)(.*)", target, re.S)
    if not m:
        return target, None
    rest = m.group(2)
    return (rest if rest.startswith(b"/") else b"/" + rest), m.group(1)


def h11_as_fpmd(v):
    """h11's accepted request in the form fpmd hands a handler."""
    req = v["request"]
    target, authority = origin_form(req.target)
    joined = collections.OrderedDict()
    for name, value in req.headers.raw_items():
        if b"_" in name or name.lower() == b"proxy" or len(name) > 250:
            continue
        key = cgi_name(name)
        if key == "HTTP_HOST" and authority is not None:
            value = authority
        if key in joined:
            joined[key] += (b"; " if key == "HTTP_COOKIE" else b", ") + value
        else:
            joined[key] = value
    return {"method": req.method.decode("latin-1"), "target": target,
            "version": "HTTP/" + req.http_version.decode(),
            "headers": list(joined.items()), "body": v["body"]}


def differences(fv, hv):
    """What differs between two accepted requests: a list of field names."""
    h = h11_as_fpmd(hv)
    # h11 keeps Transfer-Encoding lower-cased: its case says nothing
    f = dict(fv, headers=[(n, v.lower() if n == "HTTP_TRANSFER_ENCODING"
                           else v) for n, v in fv["headers"]])
    return [k for k in ("method", "target", "version", "headers", "body")
            if f[k] != h[k]]


# --- the explained disagreements ----------------------------------------

class Explained:
    """A class of disagreement and why it is right. It matches a message
    when fpmd's side matches fpmd ("accepts", or a regex on the reason it
    logged for its refusal), h11's side matches h11 (likewise, on the
    RemoteProtocolError's text), and, where given, the message matches
    data (a regex on its bytes)."""

    def __init__(self, name, fpmd, h11, data, why):
        self.name, self.fpmd, self.h11, self.why = name, fpmd, h11, why
        self.data = re.compile(data, re.S) if data else None

    @staticmethod
    def _side(want, v):
        if want == "accepts":
            return v["accept"]
        return not v["accept"] and re.search(want, v["reason"]) is not None

    def matches(self, data, fv, hv):
        return (self._side(self.fpmd, fv) and self._side(self.h11, hv)
                and (self.data is None or self.data.search(data)))


EXPLAINED = [
    # --- fpmd refuses, h11 accepts: fpmd is the stricter reader ---------
    Explained("bare-lf", "^bare LF$", "accepts", rb"(?<!\r)\n", """
        RFC 9112 §2.2 lets a recipient take a bare LF as a line end; fpmd
        refuses it (400), since a front that does not is a desync away.
        h11 takes LF and CRLF alike."""),
    Explained("bare-lf-trailer", "^Invalid header value char$", "accepts",
              rb"\n0+(;[^\n]*)?\r\n(?:[^\r\n]*\r\n)*[^\r\n]*(?<!\r)\n", """
        The bare-lf class in a chunked body's trailer section, which
        fpmd's head check does not read: llhttp refuses the LF as a byte
        of the field's value, so the reason is its own."""),
    Explained("obs-fold", "^obs-fold$", "accepts", rb"\n[ \t]", """
        RFC 9112 §5.2: a server may refuse obs-fold with a 400, which fpmd
        does (one reader's continuation line is another's new field); h11
        unfolds it with a SP."""),
    Explained("cl-and-te", "^Content-Length can't be present with "
              "Transfer-Encoding$", "accepts",
              rb"(?i)content-length.*transfer-encoding|"
              rb"transfer-encoding.*content-length", """
        RFC 9112 §6.1: a request with both is a smuggling attempt or a
        broken client, and a server may refuse it; fpmd (llhttp) does.
        h11 lets chunked win and ignores Content-Length."""),
    Explained("content-length-repeated", "^(Duplicate Content-Length|"
              "Invalid character in Content-Length)$", "accepts",
              rb"(?i)content-length:[^\n]*(\n[^\n]*)*content-length:|"
              rb"content-length: *\d+ *,", """
        RFC 9110 §8.6 allows taking repeated identical Content-Length
        values ("5, 5", or two lines) as one; fpmd (llhttp) refuses any
        repeat, h11 accepts identical ones."""),
    Explained("te-trailing-htab", "^Transfer-Encoding not read as "
              "chunked$", "accepts", rb"(?i)transfer-encoding:[^\n]*\t\r\n",
              """
        RFC 9110 §5.5 strips a trailing HTAB from a field value, so
        "chunked<HTAB>" is chunked; llhttp reads a coding other than
        chunked and refuses the request. fpmd refuses it before any
        handler runs (400), h11 strips the HTAB."""),
    Explained("chunk-size-whitespace", "^Invalid character in chunk size$",
              "accepts", rb"\n[0-9a-fA-F]+[ \t]+\r?\n", """
        RFC 9112 §7.1: chunk-size is 1*HEXDIG; whitespace after it is
        allowed only before a chunk extension's ";". fpmd refuses "5 ",
        h11 strips the whitespace."""),
    Explained("chunk-ext-syntax", "^Invalid character in chunk "
              "extensions( value| quoted value)?$", "accepts",
              rb"\n[0-9a-fA-F]+;", """
        RFC 9112 §7.1.1: a chunk extension is a token, "=" and a token or
        quoted-string (no control bytes in it); fpmd (llhttp) refuses "5;"
        or bytes outside those, h11 skips extensions unread."""),
    Explained("limits", "over limits\\.(header|headers|uri)$", "accepts",
              None, """
        fpmd's configurable limits (limits.uri 8k, limits.header 32k for
        the head and for chunk extensions and trailers, limits.headers
        100 fields), answered 414, 431 or 400; h11 bounds only the head
        (16 KiB)."""),
    Explained("host-syntax", "^(Host is not a host\\[:port\\]|request "
              "target's authority is not a host|userinfo in the request "
              "target|Unexpected char in url server)$", "accepts", None, """
        fpmd checks Host and an absolute-form target's authority against
        RFC 9110 §7.2 / RFC 3986's host [":" port] (as nginx-tests'
        http_host.t expects of nginx), since handlers, redirects and logs
        read HTTP_HOST; h11 checks only that one Host is there."""),
    Explained("target-normalize", "^request target does not normalize$",
              "accepts", None, """
        fpmd decodes and normalizes the path as nginx does for
        DOCUMENT_URI: dot-segments above the root, an encoded NUL or a
        bad %-escape are a 400. h11 takes any run of visible bytes."""),
    Explained("target-form", "^(Unexpected char in url schema|Invalid "
              "characters in url)$", "accepts", None, """
        llhttp takes origin-form ("/..."), absolute-form with a scheme,
        and "*" only (RFC 9112 §3.2); h11 takes any visible bytes as a
        target ("a", "ab:c")."""),
    Explained("method-table", "^(Invalid method encountered|Expected space "
              "after method)$", "accepts", None, """
        llhttp knows a fixed table of methods, matched case-sensitively;
        any other token is a 400. h11 accepts any token (RFC 9110 §9
        lets a server answer 501 for a method it does not know)."""),
    Explained("version", "^(Invalid HTTP version|HTTP version other than "
              "1.0 and 1.1)$", "accepts", None, """
        fpmd serves HTTP/1.0 and 1.1 and answers 505 to any other version
        (RFC 9110 §15.6.6); h11 reads any DIGIT.DIGIT."""),
    Explained("http10-chunked", "^HTTP/1.0 body without Content-Length$",
              "accepts", rb"HTTP/1\.0\r?\n", """
        RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is
        faulty framing; fpmd answers 411 (as nginx-tests' body_chunked.t
        expects a 400 of nginx). h11 decodes the chunks."""),
    Explained("value-control-bytes", "^Invalid header value char$",
              "accepts", rb"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", """
        RFC 9110 §5.5: CTLs in a field value are invalid; fpmd (llhttp)
        refuses them. h11 accepts any byte but NUL and whitespace."""),
    Explained("expect-unknown", "^$", "accepts", rb"(?i)\nexpect:", """
        fpmd answers 417 to an Expect other than 100-continue (RFC 9110
        §10.1.1); h11 leaves Expect to the application."""),
    Explained("upgrade-connect", "^(upgrade|CONNECT) is not served$",
              "accepts", None, """
        fpmd serves neither Upgrade nor CONNECT (501); h11 hands the
        request over and pauses for the protocol switch."""),
    # --- fpmd accepts, h11 refuses: each one a leniency RFC 9112 asks ---
    Explained("leading-empty-line", "accepts", "^no request line received$",
              rb"^\r?\n", """
        RFC 9112 §2.2: a server SHOULD ignore at least one empty line
        before the request line; fpmd ignores CRLFs there (never a bare
        LF), h11 refuses them."""),
]


# --- what is compared, and the summary ---------------------------------

def messages():
    out = []
    for d in CORPUS_DIRS:
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                path = os.path.join(d, name)
                with open(path, "rb") as f:
                    out.append((os.path.relpath(path, TOP), path, f.read()))
    return out


def judge(data, fv, hv):
    """The outcome of two verdicts that differ in accepting: an
    Explained's name, or None."""
    cls = next((e for e in EXPLAINED if e.matches(data, fv, hv)), None)
    return cls.name if cls else None


def same_head(a, b):
    return a["accept"] == b["accept"] and (not a["accept"] or (
        a["method"], a["target"]) == (b["method"], b["target"]))


def judge_next(fv, hv, alone):
    """Where two accepted first requests end, seen from what each reader
    makes of the bytes after it: (outcome, why, the bytes, fpmd's and
    h11's verdicts on them). Only the next request's head is compared:
    accepted or not, and its method and target. fpmd must also judge it
    as it judges the same bytes first on a connection (alone), or its
    own checks would not hold for pipelined requests."""
    trailing = hv["trailing"]
    fn = fv.get("next") or NOTHING
    hn = h11_verdict(trailing, head_only=True) if trailing else NOTHING
    if trailing and not same_head(fn, alone[trailing]):
        return (None, "fpmd judges the next request unlike the same bytes "
                "first on a connection (%r)" % (alone[trailing],),
                trailing, fn, hn)
    if not fn["accept"] and not hn["accept"]:
        return "agree-accept", None, trailing, fn, hn
    if fn["accept"] and hn["accept"]:
        target = origin_form(hn["request"].target)[0]
        same = (fn["method"] == hn["request"].method.decode("latin-1")
                and fn["target"] == target)
        return ("agree-accept" if same else None,
                "the next request differs", trailing, fn, hn)
    return (judge(trailing, fn, hn), "fpmd %s the next request, h11 %s" % (
        "accepts" if fn["accept"] else "refuses",
        "accepts" if hn["accept"] else "refuses"), trailing, fn, hn)


def compare(cases, verdicts, alone):
    """Each message's outcome: "agree-accept", "agree-reject", an
    Explained's name, or "unexplained"; with the details of the last."""
    counts = collections.Counter()
    unexplained = []
    for (label, _, data), fv in zip(cases, verdicts):
        hv = h11_verdict(data)
        shown = data
        if fv["accept"] and hv["accept"]:
            diff = differences(fv, hv)
            if diff:
                outcome, why = None, "both accept; they differ in %s" % (
                    ", ".join(diff))
                fv, hv = dict(fv, next=None), h11_as_fpmd(hv)
            else:
                outcome, why, shown, fv, hv = judge_next(fv, hv, alone)
        elif not fv["accept"] and not hv["accept"]:
            outcome = "agree-reject"
        else:
            outcome = judge(data, fv, hv)
            why = "fpmd %s, h11 %s" % (
                "accepts" if fv["accept"] else "refuses",
                "accepts" if hv["accept"] else "refuses")
        counts[outcome or "unexplained"] += 1
        if outcome is None:
            hv = {k: v for k, v in hv.items() if k != "request"}
            unexplained.append("%s: %s\n    message: %r\n    fpmd: %r\n"
                               "    h11:  %r" % (label, why, shown[:300], fv,
                                                 hv))
    return counts, unexplained


def summary(counts):
    total = sum(counts.values())
    lines = ["%-28s %5d" % ("messages", total)]
    for key in ("agree-accept", "agree-reject"):
        lines.append("%-28s %5d" % (key, counts[key]))
    for e in EXPLAINED:
        lines.append("%-28s %5d  explained" % (e.name, counts[e.name]))
    lines.append("%-28s %5d" % ("unexplained", counts["unexplained"]))
    return "\n".join(lines)


def write_all(tmp, named):
    """Writes each (name, bytes) to a file in tmp; the paths."""
    paths = []
    for name, data in named:
        paths.append(os.path.join(tmp, name))
        with open(paths[-1], "wb") as f:
            f.write(data)
    return paths


def run(tmp):
    need(FPMD_HTTP_VERDICT_BIN, "http-verdict (make check builds it)")
    # Debian's python3-h11 (tests/install-deps.sh) is a package directory
    need(os.path.dirname(h11.__file__) if h11 else "/nonexistent/h11",
         "python3-h11")
    cases = messages()
    paths = write_all(tmp, TRICKY.items())
    cases += [("tricky:" + name, path, data)
              for (name, data), path in zip(TRICKY.items(), paths)]
    verdicts = fpmd_verdicts([path for _, path, _ in cases])
    # what follows each request both accept, judged by fpmd alone
    trailing = list(collections.OrderedDict.fromkeys(
        hv["trailing"] for hv in (h11_verdict(data) for _, _, data in cases)
        if hv["accept"] and hv["trailing"]))
    paths = write_all(tmp, (("next-%d" % i, t)
                            for i, t in enumerate(trailing)))
    alone = dict(zip(trailing, fpmd_verdicts(paths)))
    return compare(cases, verdicts, alone)


def test_http_differential(tmp_path):
    counts, unexplained = run(str(tmp_path))
    print("\n" + summary(counts))
    assert not unexplained, "\n".join(unexplained)
    idle = [e.name for e in EXPLAINED if counts[e.name] == 0]
    assert not idle, "explained classes no message needs: %s" % idle


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        counts, unexplained = run(d)
    print("\n".join(unexplained))
    print(summary(counts))

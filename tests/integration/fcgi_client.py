# SPDX-License-Identifier: BSD-2-Clause
"""A small FastCGI client for protocol tests: it builds records byte by byte
(so tests can also build malformed ones) and reads responses back into
per-request stdout/stderr/end-request results."""

import socket
import struct
import time

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, \
    DATA, GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = range(1, 12)
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
REQUEST_COMPLETE, CANT_MPX_CONN, OVERLOADED, UNKNOWN_ROLE = range(4)


def record(rtype, req_id, content=b"", padding=None, version=VERSION):
    if padding is None:
        padding = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", version, rtype, req_id, len(content),
                       padding) + content + b"\0" * padding


def nv_len(n):
    return bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)


def encode_pairs(pairs):
    out = b""
    for name, value in pairs:
        name = name.encode() if isinstance(name, str) else name
        value = value.encode() if isinstance(value, str) else value
        out += nv_len(len(name)) + nv_len(len(value)) + name + value
    return out


def decode_pairs(data):
    pairs, i = {}, 0
    while i < len(data):
        lens = []
        for _ in range(2):
            if data[i] & 0x80:
                lens.append(struct.unpack(">I", data[i:i + 4])[0] & 0x7fffffff)
                i += 4
            else:
                lens.append(data[i])
                i += 1
        name = data[i:i + lens[0]]
        value = data[i + lens[0]:i + lens[0] + lens[1]]
        i += lens[0] + lens[1]
        pairs[name.decode()] = value.decode()
    return pairs


def stream(rtype, req_id, data, chunk=65535):
    """A whole stream: content records of at most chunk bytes, then the
    empty terminator."""
    out = b""
    for i in range(0, len(data), chunk):
        out += record(rtype, req_id, data[i:i + chunk])
    return out + record(rtype, req_id)


def begin(req_id, role=RESPONDER, flags=0):
    return record(BEGIN_REQUEST, req_id, struct.pack(">HB5x", role, flags))


def request_bytes(req_id, params, body=b"", keep_conn=False):
    return (begin(req_id, flags=KEEP_CONN if keep_conn else 0)
            + stream(PARAMS, req_id, encode_pairs(params.items()))
            + stream(STDIN, req_id, body))


def cgi_params(method="GET", uri="/hello", body=b"", extra=None):
    path, _, query = uri.partition("?")
    p = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": path,
        "REQUEST_URI": uri,
        "QUERY_STRING": query,
        "DOCUMENT_URI": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "SERVER_ADDR": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_NAME": "localhost",
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "CONTENT_TYPE": "application/octet-stream" if body else "",
        "HTTP_HOST": "localhost",
    }
    p.update(extra or {})
    return p


class Response:
    def __init__(self):
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.app_status = None
        self.protocol_status = None
        self.ended = False
        self.end_count = 0
        self.empty_stdout_records = 0
        self.records = []       # (type, content) in arrival order

    def streams(self):
        """The STDOUT and STDERR contents in the order they came, as
        (type, bytes) runs: where records of one stream end and the other
        begin, whatever their sizes; empty records left out."""
        runs = []
        for rtype, content in self.records:
            if rtype not in (STDOUT, STDERR) or not content:
                continue
            if runs and runs[-1][0] == rtype:
                runs[-1] = (rtype, runs[-1][1] + content)
            else:
                runs.append((rtype, content))
        return runs

    def split(self):
        """(status, headers list, body) from the CGI response."""
        head, _, body = bytes(self.stdout).partition(b"\r\n\r\n")
        headers = []
        status = 200
        for line in head.split(b"\r\n"):
            name, _, value = line.decode().partition(":")
            value = value.strip()
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value))
        return status, headers, body


class Conn:
    def __init__(self, address, timeout=10.0):
        if isinstance(address, str):
            family = socket.AF_UNIX
        elif ":" in address[0]:
            family = socket.AF_INET6
        else:
            family = socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.buf = bytearray()
        self.responses = {}
        self.management = []
        self.records_after_end = 0
        self.closed = False

    def send(self, data, split=None, delay=0.0):
        """Sends data whole, or in pieces of split bytes."""
        if split is None:
            self.sock.sendall(data)
            return
        for i in range(0, len(data), split):
            self.sock.sendall(data[i:i + split])
            if delay:
                time.sleep(delay)

    def _read_more(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            self.closed = True
        self.buf += chunk
        return bool(chunk)

    def read_record(self):
        while len(self.buf) < 8:
            if not self._read_more():
                return None
        version, rtype, req_id, clen, plen = struct.unpack(
            ">BBHHBx", bytes(self.buf[:8]))
        while len(self.buf) < 8 + clen + plen:
            if not self._read_more():
                return None
        content = bytes(self.buf[8:8 + clen])
        del self.buf[:8 + clen + plen]
        return version, rtype, req_id, content, plen

    def _dispatch(self, rec):
        version, rtype, req_id, content, _ = rec
        if req_id == 0:
            self.management.append((rtype, content))
            return
        r = self.responses.setdefault(req_id, Response())
        if r.ended:
            self.records_after_end += 1
        r.records.append((rtype, content))
        if rtype == STDOUT:
            if not content:
                r.empty_stdout_records += 1
            r.stdout += content
        elif rtype == STDERR:
            r.stderr += content
        elif rtype == END_REQUEST:
            r.app_status, r.protocol_status = struct.unpack(">IB3x", content)
            r.ended = True
            r.end_count += 1

    def wait(self, req_ids, deadline=10.0):
        """Reads until every id in req_ids has its END_REQUEST."""
        end = time.time() + deadline
        while not all(self.responses.get(i, Response()).ended
                      for i in req_ids):
            if time.time() > end:
                raise TimeoutError("no END_REQUEST for %r" % (req_ids,))
            rec = self.read_record()
            if rec is None:
                break
            self._dispatch(rec)
        return [self.responses.get(i) for i in req_ids]

    def wait_management(self, count=1):
        while len(self.management) < count:
            rec = self.read_record()
            if rec is None:
                break
            self._dispatch(rec)
        return self.management

    def is_closed(self, timeout=2.0):
        """True when the peer closes within timeout (records read on the
        way are dispatched)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                rec = self.read_record()
                if rec is None:
                    return True
                self._dispatch(rec)
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def request(address, method="GET", uri="/hello", body=b"", extra=None,
            keep_conn=False):
    c = Conn(address)
    try:
        c.send(request_bytes(1, cgi_params(method, uri, body, extra), body,
                             keep_conn))
        (r,) = c.wait([1])
        return r
    finally:
        c.close()

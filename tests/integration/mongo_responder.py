#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A small MongoDB wire-protocol responder for the mongo pool's tests.

Debian 12 packages no MongoDB server, so the real mongo-c-driver inside
fpmd talks to this instead. It is not a database: it speaks what the
driver sends for the calls fpmd makes, and keeps documents in memory.

- OP_QUERY isMaster on admin.$cmd, answered with OP_REPLY (the 1.23
  driver's handshake), and OP_MSG for everything after.
- Commands: hello/isMaster, ping, endSessions, buildInfo, find (equality
  filter, inclusion projection, sort, limit), insert, update ($set),
  delete, aggregate (count_documents' $match + $group).
- Faults, by collection name: "stall" holds the reply STALL seconds
  (default 6), "close" sends half a reply and closes the connection.

Usage: mongo_responder.py PORT; prints "ready" once listening, and
"stalling" as a stalled reply starts."""

import socketserver
import struct
import sys
import threading
import time

STALL = 6.0


class ObjectId(bytes):
    pass


def _cstring(data, i):
    end = data.index(b"\0", i)
    return data[i:end].decode(), end + 1


def decode(data, i=0, as_list=False):
    size = struct.unpack_from("<i", data, i)[0]
    end, i = i + size - 1, i + 4
    out = {}
    while i < end:
        kind = data[i]
        name, i = _cstring(data, i + 1)
        if kind == 0x01:
            v = struct.unpack_from("<d", data, i)[0]
            i += 8
        elif kind == 0x02:
            n = struct.unpack_from("<i", data, i)[0]
            v = data[i + 4:i + 3 + n].decode()
            i += 4 + n
        elif kind in (0x03, 0x04):
            n = struct.unpack_from("<i", data, i)[0]
            v = decode(data, i, kind == 0x04)
            i += n
        elif kind == 0x05:
            n = struct.unpack_from("<i", data, i)[0]
            v = bytes(data[i + 5:i + 5 + n])
            i += 5 + n
        elif kind == 0x07:
            v = ObjectId(data[i:i + 12])
            i += 12
        elif kind == 0x08:
            v = data[i] == 1
            i += 1
        elif kind in (0x09, 0x12):
            v = struct.unpack_from("<q", data, i)[0]
            i += 8
        elif kind == 0x0A:
            v = None
        elif kind == 0x10:
            v = struct.unpack_from("<i", data, i)[0]
            i += 4
        elif kind == 0x11:
            v = struct.unpack_from("<Q", data, i)[0]
            i += 8
        else:
            raise ValueError("BSON type 0x%02x not handled" % kind)
        out[name] = v
    return list(out.values()) if as_list else out


def _element(name, v):
    key = name.encode() + b"\0"
    if isinstance(v, bool):
        return b"\x08" + key + (b"\x01" if v else b"\x00")
    if isinstance(v, ObjectId):
        return b"\x07" + key + bytes(v)
    if isinstance(v, bytes):
        return b"\x05" + key + struct.pack("<i", len(v)) + b"\0" + v
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return b"\x10" + key + struct.pack("<i", v)
        return b"\x12" + key + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x01" + key + struct.pack("<d", v)
    if isinstance(v, str):
        s = v.encode() + b"\0"
        return b"\x02" + key + struct.pack("<i", len(s)) + s
    if v is None:
        return b"\x0a" + key
    if isinstance(v, dict):
        return b"\x03" + key + encode(v)
    if isinstance(v, list):
        return b"\x04" + key + encode({str(i): x for i, x in enumerate(v)})
    raise TypeError("cannot encode %r" % (v,))


def encode(doc):
    body = b"".join(_element(k, v) for k, v in doc.items())
    return struct.pack("<i", len(body) + 5) + body + b"\0"


HELLO = {"ismaster": True, "isWritablePrimary": True,
         "maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000,
         "maxWriteBatchSize": 100000, "minWireVersion": 0,
         "maxWireVersion": 13, "readOnly": False, "ok": 1.0}

store = {}
lock = threading.Lock()


def matches(doc, flt):
    return all(doc.get(k) == v for k, v in flt.items())


def find(coll, body):
    with lock:
        docs = [dict(d) for d in store.get(coll, []) if
                matches(d, body.get("filter", {}))]
    for key, order in reversed(list(body.get("sort", {}).items())):
        docs.sort(key=lambda d: (d.get(key) is None, d.get(key)),
                  reverse=order < 0)
    if body.get("limit"):
        docs = docs[:abs(int(body["limit"]))]
    proj = body.get("projection")
    if proj:
        keep = [k for k, v in proj.items() if v]
        if keep:
            docs = [{k: d[k] for k in d if k in keep or
                     (k == "_id" and proj.get("_id", 1))} for d in docs]
    return docs


def command(body, docs_section, db):
    name = next(iter(body))
    coll = body[name] if isinstance(body[name], str) else None
    if coll == "stall":
        print("stalling", flush=True)
        time.sleep(STALL)
    lname = name.lower()
    ns = "%s.%s" % (db, coll)
    if lname in ("hello", "ismaster"):
        return dict(HELLO)
    if lname in ("ping", "endsessions", "buildinfo", "killcursors"):
        return {"version": "5.0.0", "ok": 1.0}
    if lname == "find":
        return {"cursor": {"firstBatch": find(coll, body), "id": 0,
                           "ns": ns}, "ok": 1.0}
    if lname == "insert":
        new = body.get("documents", []) + docs_section.get("documents", [])
        with lock:
            store.setdefault(coll, []).extend(new)
        return {"n": len(new), "ok": 1.0}
    if lname == "update":
        n = 0
        for u in body.get("updates", []) + docs_section.get("updates", []):
            with lock:
                for d in store.get(coll, []):
                    if matches(d, u.get("q", {})):
                        d.update(u.get("u", {}).get("$set", {}))
                        n += 1
                        if not u.get("multi"):
                            break
        return {"n": n, "nModified": n, "ok": 1.0}
    if lname == "delete":
        n = 0
        for x in body.get("deletes", []) + docs_section.get("deletes", []):
            with lock:
                kept, docs = [], store.get(coll, [])
                for d in docs:
                    if matches(d, x.get("q", {})) and (
                            not x.get("limit") or n < 1):
                        n += 1
                    else:
                        kept.append(d)
                store[coll] = kept
        return {"n": n, "ok": 1.0}
    if lname == "aggregate":
        flt = {}
        for stage in body.get("pipeline", []):
            flt.update(stage.get("$match", {}))
        body = {"filter": flt}
        count = len(find(coll, body))
        return {"cursor": {"firstBatch": [{"_id": 1, "n": count}]
                           if count else [], "id": 0, "ns": ns}, "ok": 1.0}
    return {"ok": 0.0, "errmsg": "no such command: '%s'" % name,
            "code": 59, "codeName": "CommandNotFound"}


class Handler(socketserver.BaseRequestHandler):
    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.request.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def reply(self, request_id, opcode, payload, close_midway=False):
        msg = struct.pack("<iiii", 16 + len(payload), 0, request_id,
                          opcode) + payload
        if close_midway:
            self.request.sendall(msg[:len(msg) // 2])
            self.request.close()
            raise ConnectionError
        self.request.sendall(msg)

    def handle(self):
        try:
            while True:
                length, request_id, _, opcode = struct.unpack(
                    "<iiii", self.recv_exact(16))
                data = self.recv_exact(length - 16)
                if opcode == 2004:          # OP_QUERY: the handshake
                    _, i = _cstring(data, 4)
                    out = command(decode(data, i + 8), {}, "admin")
                    self.reply(request_id, 1, struct.pack(
                        "<iqii", 0, 0, 0, 1) + encode(out))
                    continue
                if opcode != 2013:
                    return
                flags, i, body, docs = struct.unpack_from("<I", data)[0], \
                    4, None, {}
                end = len(data) - (4 if flags & 1 else 0)
                while i < end:
                    kind, i = data[i], i + 1
                    if kind == 0:
                        body = decode(data, i)
                        i += struct.unpack_from("<i", data, i)[0]
                    else:
                        size = struct.unpack_from("<i", data, i)[0]
                        ident, j = _cstring(data, i + 4)
                        items = []
                        while j < i + size:
                            items.append(decode(data, j))
                            j += struct.unpack_from("<i", data, j)[0]
                        docs[ident] = items
                        i += size
                out = command(body, docs, body.get("$db", "test"))
                name = next(iter(body))
                self.reply(request_id, 2013, struct.pack("<I", 0) + b"\0" +
                           encode(out), body.get(name) == "close")
        except (ConnectionError, OSError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    srv = Server(("127.0.0.1", int(sys.argv[1])), Handler)
    print("ready", flush=True)
    srv.serve_forever()

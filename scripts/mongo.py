"""The few admin commands the scripts send to the local mongod, with no driver to install.

    python3 scripts/mongo.py ping PORT       exit 0 when a mongod answers on 127.0.0.1:PORT
    python3 scripts/mongo.py initiate PORT   make it a one-member replica set `rs0` (if it is
                                             not one yet) and wait until it is primary
    python3 scripts/mongo.py forget-slow PORT DATABASE NAME...
                                             delete the slow operations logged for these
                                             order names (the benchmarks' pages stay the same)

Speaks OP_MSG with a minimal BSON encoder and decoder: strings, numbers, booleans, null,
documents and arrays are all these commands need.
"""

import socket
import struct
import sys
import time


def encode(doc):
    out = b""
    for key, value in doc.items():
        name = key.encode() + b"\x00"
        if isinstance(value, bool):
            out += b"\x08" + name + (b"\x01" if value else b"\x00")
        elif isinstance(value, int):
            out += b"\x12" + name + struct.pack("<q", value)
        elif isinstance(value, float):
            out += b"\x01" + name + struct.pack("<d", value)
        elif isinstance(value, str):
            data = value.encode() + b"\x00"
            out += b"\x02" + name + struct.pack("<i", len(data)) + data
        elif isinstance(value, dict):
            out += b"\x03" + name + encode(value)
        elif isinstance(value, list):
            out += b"\x04" + name + encode({str(i): v for i, v in enumerate(value)})
        else:
            raise TypeError(f"cannot encode {type(value).__name__}")
    return struct.pack("<i", len(out) + 5) + out + b"\x00"


def decode(data, pos=0):
    """The document at `pos`; values of types these replies carry, others skipped by size."""
    size = struct.unpack_from("<i", data, pos)[0]
    end, pos, doc = pos + size - 1, pos + 4, {}
    fixed = {0x01: 8, 0x07: 12, 0x09: 8, 0x11: 8, 0x12: 8, 0x10: 4, 0x08: 1, 0x0A: 0, 0x13: 16}
    while pos < end:
        kind = data[pos]
        name_end = data.index(b"\x00", pos + 1)
        key, pos = data[pos + 1:name_end].decode(), name_end + 1
        if kind == 0x02:
            n = struct.unpack_from("<i", data, pos)[0]
            doc[key], pos = data[pos + 4:pos + 4 + n - 1].decode(errors="replace"), pos + 4 + n
        elif kind in (0x03, 0x04):
            n = struct.unpack_from("<i", data, pos)[0]
            sub = decode(data, pos)
            doc[key], pos = (list(sub.values()) if kind == 0x04 else sub), pos + n
        elif kind == 0x01:
            doc[key], pos = struct.unpack_from("<d", data, pos)[0], pos + 8
        elif kind == 0x10:
            doc[key], pos = struct.unpack_from("<i", data, pos)[0], pos + 4
        elif kind == 0x12:
            doc[key], pos = struct.unpack_from("<q", data, pos)[0], pos + 8
        elif kind == 0x08:
            doc[key], pos = data[pos] == 1, pos + 1
        elif kind in fixed:
            doc[key], pos = None, pos + fixed[kind]
        elif kind == 0x05:
            n = struct.unpack_from("<i", data, pos)[0]
            doc[key], pos = None, pos + 5 + n
        else:
            raise ValueError(f"unexpected BSON type {kind:#x} in a reply")
    return doc


def command(port, doc, timeout=5, db="admin"):
    body = b"\x00\x00\x00\x00" + b"\x00" + encode({**doc, "$db": db})
    header = struct.pack("<iiii", 16 + len(body), 1, 0, 2013)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(header + body)
        head = b""
        while len(head) < 4:
            head += s.recv(4 - len(head)) or sys.exit("mongod closed the connection")
        total = struct.unpack("<i", head)[0]
        data = head
        while len(data) < total:
            data += s.recv(total - len(data)) or sys.exit("mongod closed the connection")
    # header (16) + flag bits (4) + section kind (1), then the reply document.
    return decode(data, 21)


def ping(port):
    try:
        return command(port, {"ping": 1}, timeout=2).get("ok") == 1.0
    except OSError:
        return False


def initiate(port):
    status = command(port, {"replSetGetStatus": 1})
    if status.get("ok") != 1.0:
        if status.get("code") == 93:  # InvalidReplicaSetConfig: not a member of its own set
            sys.exit(
                f"mongod on port {port} keeps a replica set whose only member is on another port "
                "(its data directory was set up by a mongod on that port)"
            )
        if status.get("code") != 94:  # NotYetInitialized
            sys.exit(f"mongod on port {port} is not started as a replica set: {status.get('errmsg')}")
        config = {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]}
        reply = command(port, {"replSetInitiate": config})
        if reply.get("ok") != 1.0 and reply.get("code") != 23:  # AlreadyInitialized
            sys.exit(f"replSetInitiate failed: {reply.get('errmsg')}")
    deadline = time.time() + 30
    while time.time() < deadline:
        if command(port, {"hello": 1}).get("isWritablePrimary"):
            return
        time.sleep(0.2)
    sys.exit(f"the replica set on port {port} elected no primary within 30 s")


def forget_slow(port, db, names):
    deletes = [{"q": {"order": {"$in": names}}, "limit": 0}]
    reply = command(port, {"delete": "slow_queries", "deletes": deletes}, db=db)
    if reply.get("ok") != 1.0:
        sys.exit(f"could not delete the slow operations of {names}: {reply.get('errmsg')}")


# Each command: how many arguments it takes after PORT (fewest, most: None for no limit), and
# what it does with them.
COMMANDS = {
    "ping": (0, 0, lambda port, args: sys.exit(0 if ping(port) else 1)),
    "initiate": (0, 0, lambda port, args: initiate(port)),
    "forget-slow": (2, None, lambda port, args: forget_slow(port, args[0], args[1:])),
}


if __name__ == "__main__":
    name, rest = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else (None, [])
    if name not in COMMANDS or not rest or not rest[0].isdigit():
        sys.exit(__doc__)
    fewest, most, run = COMMANDS[name]
    args = rest[1:]
    if len(args) < fewest or (most is not None and len(args) > most):
        sys.exit(__doc__)
    run(int(rest[0]), args)

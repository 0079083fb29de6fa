"""The order in which one turn's recipients are written: the last to get data first, as Redis.

Nothing in a client's bytes shows when its neighbours got theirs, but the kernel does: with
SO_TIMESTAMPNS each segment a socket receives carries the time it arrived, and on loopback a
segment arrives while the server's `send` for it runs, so the times order the server's writes.
"""

from __future__ import annotations

import json
import socket
import struct

from tests.transport.netutil import TIMEOUT, running_server

# Linux's SO_TIMESTAMPNS (asm-generic/socket.h), which the socket module does not name; the
# control message it adds has the same type number.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")


def _member(address: tuple[str, int], name: str, room: str) -> socket.socket:
    """A raw client connected as `name` to `room`, its connect reply read, stamping arrivals."""
    sock = socket.create_connection(address, timeout=TIMEOUT)
    connect = {"action": "connect", "user_name": name, "targets": [room]}
    sock.sendall(json.dumps(connect).encode() + b"\n")
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(4096)
        assert chunk, f"{name}: closed before the reply to connect"
        reply += chunk
    assert json.loads(reply)["status"] == "chat", reply
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return sock


def _arrival_ns(sock: socket.socket) -> tuple[int, bytes]:
    data, ancillary, _flags, _address = sock.recvmsg(4096, socket.CMSG_SPACE(_TIMESPEC.size))
    (level, kind, stamp), *_ = ancillary
    assert (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS)
    seconds, nanoseconds = _TIMESPEC.unpack(stamp[: _TIMESPEC.size])
    return seconds * 1_000_000_000 + nanoseconds, data


def test_one_turn_writes_the_last_member_to_get_data_first() -> None:
    with running_server() as server:
        members = [_member(server.address, f"@m{i}", "#order") for i in range(8)]
        sender = _member(server.address, "@sender", "#order")
        try:
            message = {"action": "message", "user_name": "@sender", "target": "#order"}
            sender.sendall(json.dumps({**message, "message": "hi"}).encode() + b"\n")
            arrivals = [_arrival_ns(sock) for sock in members]
        finally:
            for sock in [*members, sender]:
                sock.close()
    for _, data in arrivals:
        assert json.loads(data)["history"] == [
            {"target": "#order", "from": "@sender", "message": "hi"}
        ]
    # The room hands the delivery to its members in join order; Redis's pending-write list
    # (and now ours) writes them from the last one queued, so the first to join gets it last.
    order = sorted(range(len(members)), key=lambda i: arrivals[i][0])
    assert order == list(reversed(range(len(members)))), order

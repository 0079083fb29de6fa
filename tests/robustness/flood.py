"""Raw sockets for floods: many connections from a chosen loopback address, read to the end.

Linux routes all of 127.0.0.0/8 to the loopback interface, so binding the client side to
127.0.0.2, 127.0.0.3, ... gives each group of connections an address of its own, which is what
`max_connections_per_address` counts.
"""

from __future__ import annotations

import socket

from conformance.kit.shapes import DISCONNECTED, error
from conformance.kit.wire import encode
from tests.transport.netutil import TIMEOUT

SERVER_FULL = [encode(error("server_full")), encode(DISCONNECTED)]


def dial(address: tuple[str, int], source: str, count: int) -> list[socket.socket]:
    return [socket.create_connection(address, TIMEOUT, (source, 0)) for _ in range(count)]


def greeting(sock: socket.socket, timeout: float = TIMEOUT) -> tuple[list[bytes], bool]:
    """The lines a new connection got, up to a welcome or the close; and whether it closed."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
            if data.startswith(b'{"status":"welcome"') and data.endswith(b"\n"):
                return data.splitlines(), False  # accepted: the server will say no more
    except TimeoutError:
        return data.splitlines(), False
    return data.splitlines(), True


def last_words(sock: socket.socket, timeout: float = TIMEOUT) -> list[bytes] | None:
    """Every line up to the server's close, or None if it is still open after `timeout`."""
    lines, closed = greeting(sock, timeout)
    return lines if closed else None


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed its side (without consuming anything)."""
    sock.settimeout(0)
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False

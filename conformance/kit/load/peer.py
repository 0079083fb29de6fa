"""One non-blocking client socket on a shared selector: JSON lines in, JSON lines out.

The server sends one compact JSON object per line (FRAME-9), so lines are split and decoded with
orjson; anything else is handed on as a `garbage` packet for the owner to report.
"""

from __future__ import annotations

import selectors
import socket
import struct
from typing import Any

import orjson

_READ, _BOTH = selectors.EVENT_READ, selectors.EVENT_READ | selectors.EVENT_WRITE


class Peer:
    def __init__(self, selector: selectors.BaseSelector) -> None:
        self.selector = selector
        self.sock: socket.socket | None = None
        self.out = bytearray()
        self.pending = b""  # an unfinished line
        self.writing = False

    def on_packet(self, value: dict[str, Any]) -> None:
        raise NotImplementedError

    def on_closed(self) -> None:
        raise NotImplementedError

    def connect(self, address: tuple[str, int]) -> None:
        sock = socket.create_connection(address, timeout=10)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.out, self.pending, self.writing = sock, bytearray(), b"", False
        self.selector.register(sock, _READ, self)

    def send(self, document: dict[str, Any]) -> None:
        self.send_bytes(orjson.dumps(document) + b"\n")

    def send_bytes(self, data: bytes) -> None:
        self.out += data
        self.flush()

    def flush(self) -> None:
        if self.sock is None:
            return
        try:
            sent = self.sock.send(self.out)
            del self.out[:sent]
        except BlockingIOError:
            pass
        except OSError:
            self.out.clear()  # the server is gone; reading will tell
        if bool(self.out) != self.writing:
            self.writing = bool(self.out)
            self.selector.modify(self.sock, _BOTH if self.writing else _READ, self)

    def ready(self, mask: int) -> None:
        if mask & selectors.EVENT_WRITE:
            self.flush()
        if mask & selectors.EVENT_READ and self.sock is not None:
            self.read()

    def read(self) -> None:
        assert self.sock is not None
        try:
            data = self.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.on_closed()
            return
        *lines, self.pending = (self.pending + data).split(b"\n")
        for line in lines:
            if self.sock is None:
                return  # the owner closed it on an earlier line
            try:
                value = orjson.loads(line)
            except orjson.JSONDecodeError:
                value = None
            self.on_packet(
                value if isinstance(value, dict) else {"status": "garbage", "line": line}
            )

    def reset(self) -> None:
        """Close with a TCP RST: what the server had not read yet is lost."""
        if self.sock is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            self.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None

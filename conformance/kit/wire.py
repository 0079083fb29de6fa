"""A test client that speaks the protocol byte-exactly, for servers that may be broken.

Everything is bounded: every read has a deadline, and a server that closes, resets, hangs or sends
garbage gives an answer (`Closed`, `None`, a `Garbage` packet), never a hang or a crash. What it
sends and receives can be recorded byte for byte in a `Transcript`, which `jsonchat replay` plays
back.

Servers send one JSON object per line (FRAME-9), but older course servers send objects with no
separator, so the reader splits the stream on objects, not lines.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.kit.transcript import Transcript

_DECODER = json.JSONDecoder()
_WHITESPACE = b" \t\r\n"


def encode(document: Any) -> bytes:
    """Compact JSON, UTF-8 unescaped: the form servers send (FRAME-9) and clients usually do."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def frame(document: Any) -> bytes:
    """`document` as one client frame: compact JSON and its newline."""
    return encode(document) + b"\n"


class Closed(Exception):
    """The server closed (or reset) the connection."""


@dataclass(frozen=True)
class Packet:
    """One message from the server: the decoded object, or `Garbage` bytes."""

    value: Any
    raw: bytes


@dataclass(frozen=True)
class Garbage:
    """Bytes that are not a JSON value; the rest of that line is skipped."""

    data: bytes


class PacketReader:
    """Splits a byte stream into packets: JSON values, each possibly followed by `\\n`."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> list[Packet]:
        self._buffer += data
        packets: list[Packet] = []
        while True:
            buffer = self._buffer.lstrip(_WHITESPACE)
            if not buffer:
                self._buffer = b""
                return packets
            packet, rest = _split_one(buffer)
            if packet is None:
                self._buffer = buffer
                return packets
            packets.append(packet)
            self._buffer = rest


def _split_one(buffer: bytes) -> tuple[Packet | None, bytes]:
    """The first packet of `buffer` and what follows, or (None, buffer) if it is incomplete."""
    newline = buffer.find(b"\n")
    if newline > 0:  # the usual case, one value per line: decode only that line
        line = buffer[:newline]
        try:
            return Packet(json.loads(line), line), buffer[newline + 1 :]
        except ValueError:
            pass  # several values on one line, a value spread over lines, or garbage
    try:
        text = buffer.decode("utf-8")
    except UnicodeDecodeError as error:
        text = buffer[: error.start].decode("utf-8")
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError:
        if newline < 0:
            return None, buffer  # perhaps the rest has not arrived yet
        return Packet(Garbage(buffer[:newline]), buffer[:newline]), buffer[newline + 1 :]
    size = len(text[:end].encode("utf-8"))
    ends_line = buffer[size : size + 1] == b"\n"
    return Packet(value, buffer[:size]), buffer[size + ends_line :]


class WireClient:
    """One TCP connection to the server under test."""

    def __init__(
        self,
        address: tuple[str, int],
        label: str = "client",
        timeout: float = 2.0,
        transcript: Transcript | None = None,
        sock: socket.socket | None = None,
        source: str | None = None,
    ) -> None:
        """Connect to `address`, or take over `sock`, a connection to it opened before.

        `source` is the local IP address to connect from (another loopback address, to be a
        client of another address for the server's per-address limits); the transcript's `open`
        keeps it, so that a replay connects from it too."""
        self.label = label
        self.timeout = timeout
        self.transcript = transcript or Transcript()
        bind = (source, 0) if source else None
        self.sock = sock or socket.create_connection(address, timeout, bind)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.closed = False
        self.received_bytes = 0
        self._reader = PacketReader()
        self._inbox: deque[Packet] = deque()
        self.transcript.record(label, "open", source.encode() if source else b"")

    # -- sending ------------------------------------------------------------------------------

    def send(self, document: Any) -> None:
        self.send_bytes(frame(document))

    def send_bytes(self, data: bytes) -> None:
        self.transcript.record(self.label, "send", data)
        try:
            self.sock.sendall(data)
        except OSError as error:
            self.closed = True
            raise Closed(str(error)) from error

    # -- receiving ----------------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Packet | None:
        """The next packet, or None if none arrives in time; `Closed` once the server closed."""
        packet = self.peek(timeout)
        if packet is not None:
            self._inbox.popleft()
        return packet

    def peek(self, timeout: float | None = None) -> Packet | None:
        """The next packet, left in place: None if none comes in time, `Closed` once closed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self._inbox:
            if self.closed:
                raise Closed("closed by the server")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._read(remaining)
        return self._inbox[0]

    def recv_value(self, timeout: float | None = None) -> Any:
        packet = self.recv(timeout)
        return None if packet is None else packet.value

    def recv_until(self, wanted: Callable[[Any], bool], timeout: float | None = None) -> list[Any]:
        """Every value up to and including the first `wanted` one; raises TimeoutError if none."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        seen: list[Any] = []
        while True:
            packet = self.recv(max(deadline - time.monotonic(), 0.0))
            if packet is None:
                raise TimeoutError(f"{self.label}: no matching packet; got {seen!r}")
            seen.append(packet.value)
            if wanted(packet.value):
                return seen

    def wait_closed(self, timeout: float | None = None) -> bool:
        """True once the server has closed the connection (packets before that are kept)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._read(remaining)
        return True

    def wait_bytes(self, count: int, timeout: float | None = None) -> bool:
        """True once `count` bytes in all have arrived (packets are kept); False if closed first."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while self.received_bytes < count and not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._read(remaining)
        return self.received_bytes >= count

    def _read(self, timeout: float) -> None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return
        except OSError:
            data = b""
        if not data:
            self.closed = True
            self.transcript.record(self.label, "closed")
            return
        self.received_bytes += len(data)
        self.transcript.record(self.label, "recv", data)
        self._inbox.extend(self._reader.feed(data))

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        if not self.closed:
            self.transcript.record(self.label, "close")
        self.closed = True
        self.sock.close()

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN (SO_LINGER with a zero timeout)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transcript.record(self.label, "reset")
        self.closed = True
        self.sock.close()

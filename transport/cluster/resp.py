"""One connection to Redis: RESP commands out, pipelined, and replies in, parsed by hiredis.

Sans-IO parsing (`hiredis.Reader`) on a non-blocking socket, so that the server's one epoll loop
serves it like a client connection: no threads, no blocking reads. Only opening the connection
blocks, for at most the connect timeout. It knows nothing of what the commands mean.
"""

from __future__ import annotations

import socket
from typing import Any, cast

import hiredis

from transport.cluster.address import RedisAddress

READ_BYTES = 262144
Reply = Any  # what hiredis.Reader gives: bytes, int, list, None, or a hiredis.ReplyError


def pack(*parts: str | bytes | int) -> bytes:
    """One command in RESP (hiredis's stub types its argument as a tuple of one element)."""
    packed: bytes = hiredis.pack_command(cast(Any, parts))
    return packed


class BrokerLost(OSError):
    """The connection to Redis is closed or broken."""


class RespConnection:
    """A socket to Redis with its outbound bytes and its reply parser."""

    def __init__(self, address: RedisAddress, timeout_s: float, label: str) -> None:
        self.label = label
        self.sock = socket.create_connection((address.host, address.port), timeout=timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.reader = hiredis.Reader()
        self.out = bytearray()
        self.eof = False  # Redis closed it: the replies read before still count

    def send(self, command: bytes) -> None:
        self.out += command

    def flush(self) -> bool:
        """Write what the socket takes now; True when nothing is left. BrokerLost if broken."""
        out = self.out
        while out:
            try:
                sent = self.sock.send(out)
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as error:
                raise BrokerLost(str(error)) from error
            del out[:sent]
        return True

    def read(self) -> list[Reply]:
        """Every whole reply that has arrived; sets `eof` when Redis closed the connection
        (BrokerLost when it broke), after which the replies before the close are still given."""
        replies: list[Reply] = []
        reader = self.reader
        while True:
            try:
                data = self.sock.recv(READ_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as error:
                raise BrokerLost(str(error)) from error
            if not data:
                self.eof = True
                break
            try:
                reader.feed(data)
                while (reply := reader.gets()) is not False:
                    replies.append(reply)
            except hiredis.ProtocolError as error:
                raise BrokerLost(f"{self.label}: {error}") from error
            if len(data) < READ_BYTES:
                break
        return replies

    def close(self) -> None:
        self.sock.close()

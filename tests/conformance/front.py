"""A test-only front: a second address for one server, so that a "cluster" of two targets is in
fact one server, and a suite spread over both must pass as against the server alone.

It forwards each connection it accepts to the server, byte for byte, keeping what the suite
tells servers by: a half-close stays a half-close (FIN for FIN), a reset stays a reset (RST for
RST, both ways), and a reader that stops reading stops the writer (at most `BUFFER` bytes are
held each way, so a server's outbound limits still see a slow client). One thread, non-blocking
sockets and a selector, so no direction of any connection ever waits on another.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading

BUFFER = 65536  # held each way before the front stops reading that side
BACKLOG = 4096  # as the reference server's: the suite opens connections by the thousand
READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE


class _Side:
    """One socket of a forwarded connection, and the bytes waiting to be written to it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = bytearray()
        self.ended = False  # it sent its FIN: nothing more comes from it
        self.mask = 0


class _Link:
    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.a, self.b = _Side(client), _Side(server)
        self.closed = False

    def other(self, side: _Side) -> _Side:
        return self.b if side is self.a else self.a


class Front:
    """Listens on `host`:`port` (a free one by default) and forwards to `upstream`."""

    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1", port: int = 0) -> None:
        self.upstream = upstream
        self.accepted = 0  # connections forwarded: how a test shows that clients came this way
        self._selector = selectors.DefaultSelector()
        self._listener = socket.create_server((host, port), backlog=BACKLOG)
        self._listener.setblocking(False)
        self._selector.register(self._listener, READ, None)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._stop = False
        self._thread = threading.Thread(target=self._serve, name="front", daemon=True)

    def __enter__(self) -> Front:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._thread.join(5)

    def _serve(self) -> None:
        try:
            while not self._stop:
                for key, mask in self._selector.select(0.05):
                    if key.data is None:
                        self._accept()
                    else:
                        link, side = key.data
                        self._on_ready(link, side, mask)
        finally:
            for key in list(self._selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            self._selector.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except BlockingIOError:
                return
            self._forward(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=5)
        except OSError:
            _reset(client)
            return
        self.accepted += 1
        link = _Link(client, server)
        for side in (link.a, link.b):
            side.sock.setblocking(False)
            side.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._update(link)

    def _on_ready(self, link: _Link, side: _Side, mask: int) -> None:
        if link.closed:
            return
        other = link.other(side)
        if mask & WRITE and side.pending:
            try:
                sent = side.sock.send(side.pending)
            except OSError:
                return self._abort(link)
            del side.pending[:sent]
            if not side.pending and other.ended:
                with contextlib.suppress(OSError):
                    side.sock.shutdown(socket.SHUT_WR)
        if mask & READ and not side.ended:
            try:
                data = side.sock.recv(BUFFER)
            except BlockingIOError:
                data = None
            except OSError:  # reset: the other end gets a reset too
                return self._abort(link)
            if data == b"":
                side.ended = True
                if not other.pending:
                    with contextlib.suppress(OSError):
                        other.sock.shutdown(socket.SHUT_WR)
            elif data:
                other.pending += data
        if side.ended and other.ended and not side.pending and not other.pending:
            self._close(link, reset=False)
            return
        self._update(link)

    def _update(self, link: _Link) -> None:
        for side in (link.a, link.b):
            other = link.other(side)
            mask = (READ if not side.ended and len(other.pending) < BUFFER else 0) | (
                WRITE if side.pending else 0
            )
            if mask == side.mask:
                continue
            if side.mask == 0:
                self._selector.register(side.sock, mask, (link, side))
            elif mask == 0:
                self._selector.unregister(side.sock)
            else:
                self._selector.modify(side.sock, mask, (link, side))
            side.mask = mask

    def _abort(self, link: _Link) -> None:
        self._close(link, reset=True)

    def _close(self, link: _Link, reset: bool) -> None:
        link.closed = True
        for side in (link.a, link.b):
            if side.mask:
                self._selector.unregister(side.sock)
                side.mask = 0
            _reset(side.sock) if reset else side.sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with a reset (RST), not a FIN: what a reset on the other side becomes."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()

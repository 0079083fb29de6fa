"""A TCP front for several nodes: each new connection goes to the next node in turn, so that a
client program (the conformance suite) spreads its connections over the cluster unawares.

Bytes are copied as they come, both ways; a FIN is passed on as a FIN (half-close), a reset as
a close. Two threads per connection: enough for a test, not a load balancer.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Sequence


class RoundRobin:
    def __init__(self, nodes: Sequence[tuple[str, int]]) -> None:
        self._nodes = itertools.cycle(nodes)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True, name="roundrobin").start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(next(self._nodes), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_copy, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        self._stopped = True
        self._listener.close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)  # the peer's FIN, passed on
    except OSError:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_RDWR)  # a reset: the other side closes too

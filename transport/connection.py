"""One client socket and its outbound queue, bounded in bytes.

The engine hands out the same bytes object for every recipient of a delivery; the queue keeps
references, not copies, and `flush` writes everything queued with one `sendmsg` call (one system
call for many frames), keeping only what the kernel did not take.
"""

from __future__ import annotations

import socket

# sendmsg takes at most IOV_MAX buffers (1024 on Linux); the rest waits for the next flush.
IOV_MAX = 1024


class Connection:
    __slots__ = (
        "closing",
        "deadline",
        "id",
        "name",
        "out",
        "peer",
        "queued",
        "read_size",
        "sock",
        "waiting",
    )

    def __init__(self, conn_id: int, sock: socket.socket, peer: str, read_size: int) -> None:
        self.id = conn_id
        self.sock = sock
        self.peer = peer
        self.name: str | None = None
        self.out: list[bytes | memoryview] = []
        self.queued = 0  # bytes in `out`
        self.waiting = False  # the kernel's buffer is full: flush again when writable
        self.closing = False  # the engine closed it: flush, then shut down
        self.deadline = 0.0  # when closing, drop it at this time even if not flushed
        self.read_size = read_size  # bytes to read next turn; the server adapts it

    def flush(self) -> None:
        """Write what the socket takes now; raises OSError when the peer is gone."""
        out = self.out
        sent = self.sock.sendmsg(out if len(out) <= IOV_MAX else out[:IOV_MAX])
        if sent == self.queued:  # the usual case: everything went, nothing to count
            out.clear()
            self.queued = 0
            self.waiting = False
            return
        self.queued -= sent
        done = 0
        for buffer in out:
            size = len(buffer)
            if sent < size:
                break
            sent -= size
            done += 1
        del out[:done]
        if sent:  # FRAME-9, ROUTE-10: the rest of a frame stays in front, so frames stay whole
            out[0] = memoryview(out[0])[sent:]
        self.waiting = bool(out)

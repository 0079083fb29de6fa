"""One client socket and its outbound queue, bounded in bytes.

The engine hands out the same bytes object for every recipient of a delivery; the queue keeps
references, not copies, and `flush` writes everything queued with one system call (`send` of
the one buffer there usually is, `sendmsg` of several), keeping only what the kernel did not
take. The server joins a run of deliveries to the same recipients into one `Joined` buffer, so
that one buffer is written rather than one per frame.
"""

from __future__ import annotations

import socket
from bisect import bisect_right
from itertools import accumulate

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
        if len(out) == 1:  # the usual case: `send` costs less than `sendmsg` of a list of one
            sent = self.sock.send(out[0])
        else:
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

    def drop_backlog(self) -> None:
        """Forget everything queued but the rest of a Send's data that is partly written, so
        that frames stay whole (LIMIT-4: the kicked client's last words come next).

        That rest is at the start of the memoryview `flush` left in front. When that buffer is
        a `Joined` run of several Sends' data, only the rest of the Send it cuts into stays.
        """
        out = self.out
        front = out[0] if out and type(out[0]) is memoryview else None
        out.clear()
        self.queued = 0
        if front is None:
            return
        whole = front.obj
        if type(whole) is Joined:
            start = len(whole) - len(front)  # `flush` only ever cuts a buffer's head off
            ends = whole.ends
            i = bisect_right(ends, start)
            if i and ends[i - 1] == start:
                return  # cut between two Sends: nothing of the next one is written yet
            front = front[: ends[i] - start]
        out.append(front)
        self.queued = len(front)


class Joined(bytes):
    """The data of a run of Sends to the same recipients, queued as one buffer, and the end of
    each Send's data in it (`drop_backlog` keeps a partly written Send whole)."""

    ends: list[int]

    @classmethod
    def of(cls, parts: list[bytes]) -> Joined:
        joined = cls(b"".join(parts))
        joined.ends = list(accumulate(map(len, parts)))
        return joined

"""LIMIT-4's kick drops a connection's backlog but keeps the rest of a Send that is partly
written, so the kicked client never sees a frame cut short; the server queues a run of Sends to
the same recipients as one `Joined` buffer, and the cut must still fall where a Send ends."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from transport.connection import Connection, Joined

SENDS = [b'{"a":1}\n', b'{"b":22}\n{"c":3}\n', b'{"d":4444}\n']


@pytest.fixture
def conn() -> Iterator[Connection]:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield Connection(1, ours, "peer", 4096)


def queue(conn: Connection, *buffers: bytes) -> None:
    conn.out += buffers
    conn.queued = sum(map(len, buffers))


def written(conn: Connection, count: int) -> None:
    """As `flush` leaves the queue when the kernel took `count` bytes of the first buffer."""
    conn.out[0] = memoryview(conn.out[0])[count:]
    conn.queued -= count


def test_nothing_written_drops_everything(conn: Connection) -> None:
    queue(conn, Joined.of(SENDS), b"more\n")
    conn.drop_backlog()
    assert conn.out == [] and conn.queued == 0


def test_a_plain_buffer_cut_into_keeps_its_rest(conn: Connection) -> None:
    queue(conn, SENDS[1], b"more\n")
    written(conn, 3)
    conn.drop_backlog()
    assert [bytes(b) for b in conn.out] == [SENDS[1][3:]] and conn.queued == len(SENDS[1]) - 3


@pytest.mark.parametrize("cut", range(1, sum(map(len, SENDS))))
def test_a_joined_buffer_keeps_the_rest_of_the_send_it_cuts_into(
    conn: Connection, cut: int
) -> None:
    queue(conn, Joined.of(SENDS), b"more\n")
    written(conn, cut)
    conn.drop_backlog()
    end = 0
    for data in SENDS:  # what Send-by-Send queuing keeps: the rest of the Send cut into
        start, end = end, end + len(data)
        if start < cut < end:
            rest = data[cut - start :]
            break
    else:
        rest = b""
    kept = b"".join(bytes(b) for b in conn.out)
    assert kept == rest and conn.queued == len(rest)


def test_a_partly_written_rest_is_cut_where_its_send_ends(conn: Connection) -> None:
    queue(conn, Joined.of(SENDS))
    written(conn, 2)
    written(conn, 3)  # a second partial write: a view of a view
    conn.drop_backlog()
    assert b"".join(bytes(b) for b in conn.out) == SENDS[0][5:]

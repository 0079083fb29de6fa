"""Connect/disconnect cycles in every way a connection can end, from several threads.

Each cycle uses a new user name and one of fifty rooms, so that a session, a name, a room or a
per-address count that the server failed to release would accumulate over thousands of cycles.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from conformance.kit.shapes import DISCONNECTED, error
from conformance.kit.wire import Closed, WireClient
from tests.transport.netutil import TIMEOUT, connect, say

Address = tuple[str, int]


def clean(address: Address, name: str, room: str) -> str | None:
    """Connect, post, disconnect, get the answer and the close; room-mates' posts may come."""
    client = connect(address, name, room)
    say(client, room, "hi")
    client.send({"action": "disconnect"})
    got = client.recv_until(lambda v: v == DISCONNECTED)
    closed = client.wait_closed()
    client.close()
    others = [v for v in got[:-1] if v["history"][0]["target"] != room or v["status"] != "chat"]
    return None if closed and not others else f"{name}: {got!r}, closed {closed}"


def reset(address: Address, name: str, room: str) -> str | None:
    """Connect, then reset the connection with half a frame unread by the server."""
    client = connect(address, name, room)
    client.send_bytes(b'{"action":"message","user_name":"' + name.encode())
    client.reset()
    return None


def silent(address: Address, name: str, room: str) -> str | None:
    """Open and close without a byte."""
    WireClient(address, label=name, timeout=TIMEOUT).close()
    return None


def garbage(address: Address, name: str, room: str) -> str | None:
    """Send a bad frame, read its error, close."""
    client = WireClient(address, label=name, timeout=TIMEOUT)
    client.send_bytes(b"\xff\xfe garbage\n")
    got = client.recv_value()
    if isinstance(got, dict) and got.get("status") == "welcome":
        got = client.recv_value()
    client.close()
    return None if got == error("malformed_utf8") else repr(got)


KINDS: tuple[Callable[[Address, str, str], str | None], ...] = (clean, reset, silent, garbage)


def churn(address: Address, cycles: int, workers: int = 6, tag: str = "c") -> list[str]:
    """`cycles` cycles over `workers` threads, kinds in turn; the failures seen."""
    failures: list[str] = []

    def work(worker: int) -> None:
        for i in range(worker, cycles, workers):
            name, room = f"@{tag}{i}", f"#churn{i % 50}"
            try:
                failure = KINDS[i % len(KINDS)](address, name, room)
            except (Closed, OSError, AssertionError) as error:
                failure = f"{name}: {type(error).__name__}: {error}"
            if failure:
                failures.append(failure)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return failures

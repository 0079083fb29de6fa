"""Settling: knowing, by round trips and not by sleeping, that the target has done everything.

A connected client sends a direct message to itself (the oracle is fed it too, so it is part of
the expected stream): once it comes back, everything the target owed that client before it has
arrived, because a connection's packets keep their order. A client without a name cannot do that;
it waits for as many packets as the oracle predicts, and a surplus shows at a later settle.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from conformance.fuzz.oracle import Oracle
from conformance.timing import direct
from conformance.wire import Closed, Garbage, WireClient, frame

BARRIER_TEXT = "\u2063settle"  # an invisible separator, unlikely in generated texts


@dataclass
class Live:
    """A fuzzer client: its connection and every packet the target has sent it."""

    wire: WireClient
    packets: list[Any] = field(default_factory=list)
    saw_first: bool = False
    dropped: bool = False  # we closed it
    round_trips: int = 0

    def pull(self, count: int, timeout: float, last: Any = None) -> None:
        """Read until `count` packets are held, or `last` arrives, or `timeout`.

        `last` is the round trip's echo: once it is here, anything still missing is missing for
        good, and waiting out the timeout would only slow down finding (and shrinking) the bug.
        A first `welcome` is not counted.
        """
        start = len(self.packets)
        while len(self.packets) < count and (
            last is None or len(self.packets) == start or self.packets[-1] != last
        ):
            try:
                packet = self.wire.recv(timeout)
            except Closed:
                return
            if packet is None:
                return
            value = packet.value
            first, self.saw_first = not self.saw_first, True
            if first and isinstance(value, dict) and value.get("status") == "welcome":
                continue  # WELCOME-1 is a SHOULD: the oracle sends none
            self.packets.append(repr(value.data) if isinstance(value, Garbage) else value)


def settle(live: dict[str, Live], oracle: Oracle, timeout: float, actors: set[str]) -> list[str]:
    """Bring every client up to date with the oracle; what differs, in words (empty if nothing).

    The clients that wrote in this step settle first: once their round trips are back, the
    target has handled what they wrote, so what it owes the others is already queued for them
    when their own round trips start. (Settling all at once would let the target read another
    client's round trip before the actor's message, an order the oracle cannot know.)
    """
    first = [label for label in live if label in actors]
    return _settle(live, oracle, timeout, first) + _settle(
        live, oracle, timeout, [label for label in live if label not in actors]
    )


def _settle(live: dict[str, Live], oracle: Oracle, timeout: float, labels: list[str]) -> list[str]:
    echoed = set()
    for label in labels:
        client, name = live[label], oracle.name_of(label)
        if client.dropped or label in oracle.gone or name is None:
            continue
        client.round_trips += 1  # each echo differs from the last, so it cannot be mistaken
        text = f"{BARRIER_TEXT} {client.round_trips}"
        data = frame(direct(name, text))
        oracle.send(label, data)
        with contextlib.suppress(Closed):
            client.wire.send_bytes(data)
        echoed.add(label)
    problems = []
    for label in labels:
        client = live[label]
        if client.dropped:
            continue
        expected = oracle.expected[label]
        echo = expected[-1] if label in echoed else None
        client.pull(len(expected), timeout, echo)
        if client.packets != expected:
            problems.append(_difference(label, expected, client.packets))
        elif label in oracle.closed_by_server and not client.wire.wait_closed(timeout):
            problems.append(f"{label}: the target should have closed the connection")
        elif label not in oracle.gone and client.wire.closed:
            problems.append(f"{label}: the target closed the connection, it should not have")
    return problems


def _difference(label: str, expected: list[Any], got: list[Any]) -> str:
    same = 0
    while same < min(len(expected), len(got)) and expected[same] == got[same]:
        same += 1
    return (
        f"{label}: after {same} matching packets, expected {expected[same : same + 3]!r}, "
        f"got {got[same : same + 3]!r}"
    )

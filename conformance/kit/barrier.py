"""The self-echo barrier: how a client learns that the target has handled all it sent.

A connected client sends a direct message to itself (ROUTE-6) and reads up to its echo. A
connection's packets keep their order, and the target answers in the order it reads, so once the
echo is back the target has read everything the client wrote before it, and everything it owed
the client before it has arrived. No wait ends on a fixed delay: the echo ends it, or the
deadline does.

`Barrier` is the round trip's message and the echo that ends it; `read_to_echo` reads up to that
echo and returns what came first. Each driver decides what a missing echo means (a Violation in
the suite, a difference in the fuzzer, a failed test) and what to do with what came before it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from conformance.kit.messages import direct, is_echo
from conformance.kit.wire import Closed, WireClient, frame

__all__ = ["Barrier", "EchoClosed", "EchoTimeout", "NoEcho", "read_to_echo"]


@dataclass(frozen=True)
class Barrier:
    """One round trip of `name`: a direct message to itself with `text`, which must differ from
    that of every other round trip still in flight, so that no echo is taken for another's."""

    name: str
    text: str

    @property
    def document(self) -> dict[str, Any]:
        return direct(self.name, self.text)

    @property
    def frame(self) -> bytes:
        return frame(self.document)

    def is_echo(self, value: Any) -> bool:
        return is_echo(value, self.name, self.text)


class NoEcho(Exception):
    """The echo did not come; `seen` is every value that came before. Raised as one of its two
    kinds, which are also what a plain read raises in their place: `EchoClosed` (a `Closed`),
    `EchoTimeout` (a `TimeoutError`)."""

    closed = False

    def __init__(self, barrier: Barrier, seen: list[Any]) -> None:
        how = "the connection closed" if self.closed else "the deadline passed"
        super().__init__(f"{barrier.name}: {how} before its echo came; it got {seen!r}")
        self.seen = seen


class EchoClosed(NoEcho, Closed):
    """The connection closed before the echo came."""

    closed = True


class EchoTimeout(NoEcho, TimeoutError):
    """The deadline passed before the echo came."""


def read_to_echo(client: WireClient, barrier: Barrier, timeout: float) -> list[Any]:
    """Every value `client` receives before `barrier`'s echo, which is read too.

    Bounded by `timeout` seconds in all: `EchoTimeout` then, or `EchoClosed` if the connection
    closes first. The barrier's message must have been sent already, by the caller, as it sends.
    """
    deadline = time.monotonic() + timeout
    seen: list[Any] = []
    while True:
        try:
            packet = client.recv(max(deadline - time.monotonic(), 0.0))
        except Closed:
            raise EchoClosed(barrier, seen) from None
        if packet is None:
            raise EchoTimeout(barrier, seen)
        if barrier.is_echo(packet.value):
            return seen
        seen.append(packet.value)

"""The fuzzer's hold on its target: starting it, noticing that it died, restarting it, syncing.

A crash is the commonest bug of a course server (an unhandled `KeyError` when a client hangs up),
so the fuzzer must survive it: a death is a finding, with what the server printed last, and the
next example gets a fresh process, so that Hypothesis can still shrink the program that killed it.
A `tcp:` target cannot be restarted: its death ends the search.

Nothing here hangs up on the target without saying goodbye: a readiness check that connects and
closes at once is, for the servers above, the crash itself. A started command is ready when /proc
shows it listening, and a `tcp:` target is checked as the suite checks it
(`conformance.kit.target.still_accepts`: a `disconnect`, then a wait for the close).

`sync()` is a round trip on a connection of the fuzzer's own (a direct message to itself,
ROUTE-6): once it is back, a `select()` loop has read everything the fuzzer wrote before it. A
`core` server need not handle two frames that arrive in one read (FRAME-4 is `full`), and one
that answers nothing to `connect` gives no other way to know that a frame was read on its own.
Two round trips, not one: a loop that found both sockets readable may have answered the first
round trip before it read the other socket, never the second.

Against several targets (a cluster's nodes) each is a `Node` of its own: started, restarted and
synced on its own (a round trip on one node says nothing of another's reads), and a death is
that node's, named `#2`.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conformance.kit import cluster
from conformance.kit.messages import connect_doc, direct, is_echo
from conformance.kit.probe import Capabilities
from conformance.kit.shapes import is_error
from conformance.kit.target import (
    POLL_S,
    READY_TIMEOUT_S,
    ServerProcess,
    TargetError,
    TargetSpec,
    still_accepts,
)
from conformance.kit.wire import Closed, WireClient

TAIL_LINES = 20  # of the server's stdout and of its stderr: enough for a Python traceback
SYNC_ROUNDS = 2
PACER_TRIES = 2
MIN_PAUSE_S = 0.005  # between the pacer's connect and its first message, at the first try


class TargetGone(BaseException):
    """A `tcp:` target stopped accepting: nothing can be restarted, the search ends here.

    A BaseException, like record.StopShrinking: Hypothesis lets it through, which ends the run
    with the failures recorded so far."""


@dataclass(frozen=True)
class Death:
    """How the target stopped serving, and what it printed last (for a Python server, the
    traceback)."""

    description: str
    output: tuple[str, ...] = ()


class Lifeline:
    """The fuzzer's hold on its target, or on every node of a cluster (`more`)."""

    def __init__(
        self,
        spec: TargetSpec,
        ready_timeout: float = READY_TIMEOUT_S,
        more: Sequence[TargetSpec] = (),
    ) -> None:
        self.nodes = [Node(node, ready_timeout) for node in (spec, *more)]

    @property
    def address(self) -> tuple[str, int]:
        return self.nodes[0].address

    def address_of(self, index: int) -> tuple[str, int]:
        """Where the `index`-th client of an example (from 0) connects: round-robin."""
        return self.nodes[cluster.place(index, len(self.nodes)) - 1].address

    @property
    def restarts(self) -> int:
        return sum(node.restarts for node in self.nodes)

    def pace(self, caps: Capabilities, timeout: float) -> None:
        """What every node's pacer needs: what the probe found, and how long to wait for its
        round trips."""
        for node in self.nodes:
            node.caps, node.timeout = caps, timeout

    def up(self) -> None:
        for node in self.nodes:
            node.up()

    def death(self, wait: float) -> Death | None:
        """How a target died, if one did: the first dead node's, named if there are several.

        The nodes are watched together, `wait` s in all: waited for one after another, a death
        of the last would be seen only once every other node's wait was over. A `tcp:` node is
        asked once (a connection, itself up to `wait`); started ones are polled until one exits."""
        deadline = time.monotonic() + wait
        watched = list(enumerate(self.nodes, 1))
        while True:
            for number, node in watched:
                death = node.death(wait)
                if death is not None:
                    if len(self.nodes) == 1:
                        return death
                    return Death(f"{cluster.name(number)} {death.description}", death.output)
            # only a started process can still die: a `tcp:` node was asked once
            watched = [(number, node) for number, node in watched if node.process is not None]
            if not watched or time.monotonic() >= deadline:
                return None
            time.sleep(POLL_S)

    def sync(self) -> bool:
        """Round trips on each node: every node has read what it was sent."""
        return all([node.sync() for node in self.nodes])

    def close(self) -> None:
        for node in self.nodes:
            node.close()


class Node:
    """One target: started if it is a command, restarted when it died, synced by a pacer."""

    def __init__(self, spec: TargetSpec, ready_timeout: float = READY_TIMEOUT_S) -> None:
        self.spec = spec
        self.ready_timeout = ready_timeout
        self.process: ServerProcess | None = None
        self.restarts = 0
        self.caps: Capabilities | None = None  # set once probed; the pacer needs it
        self.timeout = 1.0  # the pacer's wait for its round trips
        self._pacer: _Pacer | None = None
        self._pacer_failed: tuple[str, int] | None = None  # the address where it could not be

    @property
    def address(self) -> tuple[str, int]:
        return self.process.address if self.process else (self.spec.host, self.spec.port)

    def up(self) -> None:
        """Start the command if it is not running (TargetError if it cannot be started);
        TargetGone if a `tcp:` target does not accept."""
        if self.spec.kind == "tcp":
            if not still_accepts(self.address, self.ready_timeout):
                raise TargetGone(f"nothing accepts connections at {self.spec.text[4:]}")
            return
        if self.process is not None and self.process.alive():
            return
        if self.process is not None:
            self.restarts += 1
        self._retire()
        process = ServerProcess(self.spec.command, self.spec.host)
        try:
            process.wait_ready(self.ready_timeout)  # by /proc: it does not hang up on the target
        except TargetError:
            process.close()
            raise
        self.process = process

    def death(self, wait: float) -> Death | None:
        """How the target died, if it has: a `tcp:` one is asked (a connection, up to `wait` s),
        a started one is not waited for (Lifeline.death polls every node's process at once)."""
        if self.spec.kind == "tcp":
            if still_accepts(self.address, wait):
                return None
            return Death(f"{self.spec.text[4:]} stopped accepting connections")
        process = self.process
        if process is None or process.alive():
            return None
        stdout, stderr = process.output()
        lines: list[str] = []
        for name, text in (("stdout", stdout), ("stderr", stderr)):
            tail = text.rstrip().splitlines()[-TAIL_LINES:]
            if tail:
                lines += [f"{name}:", *(f"  {line}" for line in tail)]
        return Death(process.describe_exit(), tuple(lines) or ("(it printed nothing)",))

    def sync(self) -> bool:
        """Round trips on the fuzzer's own connection; False if they could not be made."""
        pacer = self._pacer_for_now()
        if pacer is None:
            return False
        if all(pacer.round_trip() for _ in range(SYNC_ROUNDS)):
            return True
        pacer.close()
        self._pacer = None
        return False

    def close(self) -> None:
        self._retire()

    def _pacer_for_now(self) -> _Pacer | None:
        if self._pacer is not None and self._pacer.address != self.address:
            self._pacer.close()  # from before a restart
            self._pacer = None
        if self._pacer is None and self.caps is not None and self._pacer_failed != self.address:
            self._pacer = _Pacer.start(self.address, self.caps, self.timeout)
            # One that cannot be made now will not be on this process (it closes every
            # connection, answers nothing, or has just died): the examples find out why, with a
            # transcript; a restarted process, on its new address, gets a new try.
            self._pacer_failed = None if self._pacer else self.address
        return self._pacer

    def _retire(self) -> None:
        if self._pacer is not None:
            self._pacer.close()
            self._pacer = None
        if self.process is not None:
            self.process.close()
            self.process = None


class _Pacer:
    """The fuzzer's own client: a name of its own and nothing else, for round trips."""

    def __init__(self, address: tuple[str, int], wire: WireClient, name: str) -> None:
        self.address, self.wire, self.name = address, wire, name
        self._count = 0

    @classmethod
    def start(cls, address: tuple[str, int], caps: Capabilities, timeout: float) -> _Pacer | None:
        """Connected, and one round trip made. Without an answer to `connect` to wait for, the
        first message follows after a pause, longer at each try, so that the two frames are
        read apart."""
        pause = max(caps.timing.pace, MIN_PAUSE_S)
        for _ in range(PACER_TRIES):
            name = f"@sync.{uuid.uuid4().hex[:8]}"
            try:
                wire = WireClient(address, "sync", timeout)
            except OSError:
                return None
            pacer = cls(address, wire, name)
            try:
                wire.send(connect_doc(name, []))
                if caps.answers_connect:
                    wire.recv_until(lambda v: isinstance(v, dict) and v.get("status") == "chat")
                else:
                    time.sleep(pause)
                if pacer.round_trip():
                    return pacer
            except (Closed, TimeoutError, OSError):
                pass
            pacer.close()
            pause = min(pause * 10, 0.5)
        return None

    def round_trip(self) -> bool:
        self._count += 1
        text = f"sync {self._count}"
        try:
            self.wire.send(direct(self.name, text))
            seen = self.wire.recv_until(lambda v: is_echo(v, self.name, text) or is_error(v))
        except (Closed, TimeoutError, OSError):
            return False
        return is_echo(seen[-1], self.name, text)  # an error: the message was not read alone

    def close(self) -> None:
        with contextlib.suppress(Closed, OSError):
            self.wire.send({"action": "disconnect"})
        self.wire.close()

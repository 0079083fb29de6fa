"""Settling: knowing, by round trips and not by sleeping, that the target has done everything.

A connected client sends a direct message to itself (a `kit.barrier.Barrier`; the oracle is fed
it too, so it is part of the expected stream): once it comes back, everything the target owed that
client before it has arrived, because a connection's packets keep their order. A client without a
name cannot do that; it waits for as many packets as the oracle predicts, and a surplus shows at a
later settle. Here the packets before the echo are kept and compared with the oracle's.

Under `--profile full` every client's packets must equal the oracle's. Under `core` (`settle_core`)
only what core rules owe is compared, step by step: every delivery the oracle labels (ROUTE-1, -5,
-6) must arrive, unchanged (ROUTE-9); a delivery it does not predict must not, unless it is the
sender's own room message (ROUTE-3 is `full`); every packet must be a valid server message
(FRAME-10, ERROR-1); a `disconnect` must close (DISCONNECT-1). The answer to `connect`, errors and
the reply to `disconnect` are `full`, so they may be missing or different. An error answering a
valid `connect` is a finding only if the name then does not work (its own message does not come
back): the rules it broke are the ones the step names (`Blame`).
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from typing import Any

from conformance.fuzz.oracle import Oracle
from conformance.fuzz.record import SERVES_OTHERS
from conformance.kit.barrier import Barrier
from conformance.kit.wire import Closed, Garbage, WireClient
from protocol.validator import is_valid

BARRIER_TEXT = "\u2063settle"  # an invisible separator, unlikely in generated texts


@dataclass
class Live:
    """A fuzzer client: its connection and every packet the target has sent it."""

    wire: WireClient
    packets: list[Any] = field(default_factory=list)
    saw_first: bool = False
    dropped: bool = False  # we closed it
    round_trips: int = 0
    judged: int = 0  # packets already compared (core)
    owed_from: int = 0  # the oracle's packets already compared (core)

    def pull(self, count: int, timeout: float, last: Any = None, or_error: bool = False) -> None:
        """Read until `count` packets are held, or `last` arrives, or `timeout`.

        `last` is the round trip's echo: once it is here, anything still missing is missing for
        good, and waiting out the timeout would only slow down finding (and shrinking) the bug.
        With `or_error`, an error also ends the wait: everything sent before the round trip had
        been read and answered on its own (core, lifeline.py), so an error now answers the round
        trip itself, and its echo will not come. A first `welcome` is not counted.
        """
        start = len(self.packets)
        while len(self.packets) < count and (
            last is None
            or len(self.packets) == start
            or (self.packets[-1] != last and not (or_error and _is_error(self.packets[-1])))
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
        data = Barrier(name, f"{BARRIER_TEXT} {client.round_trips}").frame
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


@dataclass(frozen=True)
class Problem:
    """One difference, in words, and the rules it breaks."""

    text: str
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Blame:
    """What the step did, so that a core difference can name its rule.

    `connect_rules`: if the actor sent a `connect`, the core rules that make the target owe it
    the name (ROUTE-6, checked by its own message), its rooms (ROUTE-1) and long names
    (VALIDATE-8). `long_text`: the step's text is near the 3800-byte limit (VALIDATE-8).
    `write_rule`: how the actor wrote (FRAME-1 a whole frame, FRAME-2 one with no newline).
    """

    actor: str | None = None
    connecting: bool = False
    connect_rules: tuple[str, ...] = ()
    long_text: bool = False
    write_rule: str = "FRAME-1"


def settle_core(
    live: dict[str, Live], oracle: Oracle, timeout: float, actors: set[str], blame: Blame
) -> list[Problem]:
    """`settle` for `--profile core`: what each client got in this step, judged on core rules."""
    first = [label for label in live if label in actors]
    rest = [label for label in live if label not in actors]
    return _settle_core(live, oracle, timeout, first, blame) + _settle_core(
        live, oracle, timeout, rest, blame
    )


def _settle_core(
    live: dict[str, Live], oracle: Oracle, timeout: float, labels: list[str], blame: Blame
) -> list[Problem]:
    echoes: dict[str, Any] = {}
    for label in labels:
        client, name = live[label], oracle.name_of(label)
        if client.dropped or label in oracle.gone or name is None:
            continue
        client.pull(sys.maxsize, 0.0)  # what came before the round trip, so that it is told apart
        client.round_trips += 1
        data = Barrier(name, f"{BARRIER_TEXT} {client.round_trips}").frame
        oracle.send(label, data)
        with contextlib.suppress(Closed):
            client.wire.send_bytes(data)
        echoes[label] = oracle.expected[label][-1]
    problems: list[Problem] = []
    for label in labels:
        client = live[label]
        if client.dropped:
            continue
        if label in echoes:
            client.pull(sys.maxsize, timeout, echoes[label], or_error=True)
        elif label in oracle.closed_by_server:
            client.wire.wait_closed(timeout)
        client.pull(sys.maxsize, 0.0)  # whatever else is already here
        start = client.owed_from
        owed = list(zip(oracle.expected[label][start:], oracle.kinds[label][start:], strict=True))
        got = client.packets[client.judged :]
        client.owed_from, client.judged = len(oracle.expected[label]), len(client.packets)
        problems += _judge(label, owed, got, oracle.name_of(label), blame)
        if label in oracle.closed_by_server and not client.wire.closed:
            problems.append(
                Problem(f"{label}: the target did not close the connection", ("DISCONNECT-1",))
            )
        elif label not in oracle.gone and client.wire.closed:
            rules = (blame.write_rule,) if label == blame.actor else (SERVES_OTHERS,)
            problems.append(Problem(f"{label}: the target closed the connection", rules))
    return problems


def _judge(
    label: str, owed: list[tuple[Any, str | None]], got: list[Any], name: str | None, blame: Blame
) -> list[Problem]:
    problems: list[Problem] = []
    rest = list(got)
    missing = []
    for packet, rule in owed:
        if rule is None:
            continue
        if packet in rest:
            rest.remove(packet)
        else:
            missing.append((packet, rule))
    replies = [packet for packet, rule in owed if rule is None]
    errors, unexpected = [], []
    for packet in rest:
        wrong = _malformed(packet)
        if wrong:
            problems.append(Problem(f"{label}: {wrong}: {packet!r}", (wrong.split(" ")[0],)))
        elif packet in replies:
            replies.remove(packet)
        elif packet.get("status") == "error":
            errors.append(packet)
        elif _is_delivery(packet) and not _own_room_echo(packet, name):
            answers_connect = label == blame.actor and blame.connecting
            if not answers_connect:
                unexpected.append(packet)
    for packet, rule in missing:
        rules = [rule]
        if label == blame.actor and errors and rule == "ROUTE-6" and blame.connecting:
            rules += blame.connect_rules  # the connect was refused: its name does not work
        if blame.long_text:
            rules.append("VALIDATE-8")
        answer = f"; it got {_few(errors + unexpected)}" if errors or unexpected else ""
        problems.append(
            Problem(f"{label}: {rule} owes it {packet!r}, which did not come{answer}", tuple(rules))
        )
    for packet in unexpected:
        target = packet["history"][0].get("target")
        rule = "ROUTE-2" if isinstance(target, str) and target.startswith("#") else "ROUTE-5"
        problems.append(
            Problem(f"{label}: {rule}: a delivery it should not get: {packet!r}", (rule,))
        )
    return problems


def _malformed(packet: Any) -> str | None:
    """FRAME-10 or ERROR-1, with why, if `packet` is not a valid server message."""
    if not isinstance(packet, dict):
        return "FRAME-10 not a JSON object"
    status = packet.get("status")
    if status not in ("welcome", "chat", "error", "disconnect"):
        return "FRAME-10 no known status"
    if not is_valid(f"server/{status}", packet):
        return f"{'ERROR-1' if status == 'error' else 'FRAME-10'} not a valid `{status}`"
    return None


def _is_error(packet: Any) -> bool:
    return isinstance(packet, dict) and packet.get("status") == "error"


def _is_delivery(packet: Any) -> bool:
    history = packet.get("history") if packet.get("status") == "chat" else None
    return isinstance(history, list) and len(history) == 1


def _own_room_echo(packet: Any, name: str | None) -> bool:
    entry = packet["history"][0]
    target = entry.get("target")
    return entry.get("from") == name and isinstance(target, str) and target.startswith("#")


def _few(packets: list[Any]) -> str:
    shown = ", ".join(repr(p) for p in packets[:3])
    return shown + (f" and {len(packets) - 3} more" if len(packets) > 3 else "")

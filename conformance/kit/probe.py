"""How long to wait for a target, and what it can do, measured once at the start of a run.

Every wait of the suite is bounded by `Timing.reply`, scaled from a round trip measured here, so
a fast server is tested fast and a slow one is not failed for being slow. Waits end as soon as
the awaited packet arrives; the bound only matters when it never does. The probe also learns
what the cases may rely on: whether the target echoes a direct message to its sender (ROUTE-6,
the only way to know it has handled everything a client sent), answers `connect`, sends a
`welcome`. Core servers may do neither of the last two, so neither is assumed.

It also learns whether the target reads several frames that arrive together (FRAME-4, a `full`
rule): many course servers do one `json.loads` per `recv`. Against such a target every case
sends one frame per read (`Capabilities.reads_coalesced`, used by `harness.Client`), so that a
`core` verdict never depends on a `full` rule; only the cases about coalescing send frames
together.
"""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import protocol
from conformance.kit.messages import Tokens, connect_doc, direct, is_echo
from conformance.kit.shapes import is_chat, is_error, is_server_message, is_welcome, show
from conformance.kit.transcript import Transcript
from conformance.kit.wire import Closed, PacketReader, WireClient, frame

PROBE_TIMEOUT_S = 3.0  # before the round trip is known: generous, paid once by a silent target
FLOOR_S, CEILING_S, RTT_FACTOR = 0.3, 5.0, 20.0


@dataclass(frozen=True)
class Timing:
    rtt: float  # TCP connect plus one request and its answer
    reply: float  # the longest wait for an answer that should come

    @classmethod
    def from_rtt(cls, rtt: float, floor: float = FLOOR_S) -> Timing:
        return cls(rtt, min(max(RTT_FACTOR * rtt, floor), CEILING_S))

    @property
    def pace(self) -> float:
        """A gap between two writes so a server probably reads them apart; never a sync point."""
        return min(2 * self.rtt, 0.05)


@dataclass(frozen=True)
class Capabilities:
    echoes_self: bool  # ROUTE-6: a direct message to oneself comes back
    answers_connect: bool  # CONNECT-2: a `chat` answers a good `connect`
    sends_welcome: bool  # WELCOME-1
    timing: Timing
    notes: tuple[str, ...] = ()
    # The defaults of limits.json, overridden by what the target's welcome announced.
    limits: Mapping[str, int] = field(default_factory=protocol.limits)
    # FRAME-4: a `connect` and a message that arrived in one write were both handled. When not,
    # the harness never lets two frames of a connection meet in one read of the target.
    reads_coalesced: bool = True
    # The first thing the probe got that is no server message (FRAME-10), shown; "" if none.
    # A target that sends such things breaks FRAME-10 whatever else it lacks.
    stray: str = ""


def probe(
    address: tuple[str, int],
    tokens: Tokens,
    first_sock: socket.socket | None = None,
    transcript: Transcript | None = None,
) -> Capabilities:
    """Coalesced first (connect and a self-message in one write), one step at a time if that fails.

    One write, not two sends: two sends may or may not arrive in one read, and the answer must
    not depend on that. Some course servers read one message per `recv` and break when two
    arrive together; the careful second try keeps them testable, and says so in
    `reads_coalesced`. `first_sock` is a connection already open (the one that showed the target
    was up: the suite does not hang up on a server to check it), and `transcript` records both
    clients, for a report if the target dies meanwhile.
    """
    started = time.monotonic()
    first = WireClient(
        address, label="probe", timeout=PROBE_TIMEOUT_S, transcript=transcript, sock=first_sock
    )
    connect_time = time.monotonic() - started if first_sock is None else 0.0
    try:
        name = f"@probe{tokens.next()}"
        sent = time.monotonic()
        first.send_bytes(frame(connect_doc(name, [])) + frame(direct(name, "probe")))
        seen = _until_echo(first, name, give_up_on_error=True)
        if seen is not None:
            elapsed = time.monotonic() - sent
            return _capabilities(seen, True, connect_time + elapsed)
        answered = _capabilities(first_packets(first), False, connect_time + _answer_time(first))
        if answered.answers_connect:
            # it read the connect despite the message right behind it: the echo is just missing
            return answered
    finally:
        first.close()
    return careful_probe(address, tokens, transcript)


def careful_probe(
    address: tuple[str, int], tokens: Tokens, transcript: Transcript | None = None
) -> Capabilities:
    """One step at a time: also what a run falls back to after the pipelined probe killed the
    target."""
    started = time.monotonic()
    client = WireClient(
        address, label="probe-careful", timeout=PROBE_TIMEOUT_S, transcript=transcript
    )
    try:
        name = f"@probe{tokens.next()}"
        client.send(connect_doc(name, []))
        packets: list[Any] = []
        while len(packets) < 2:
            value = _next_value(client)
            if value is None:
                break
            packets.append(value)
            if not is_welcome(value):
                break
        rtt = time.monotonic() - started
        answered = any(not is_welcome(v) for v in packets)
        client.send(direct(name, "probe"))
        sent = time.monotonic()
        seen = _until_echo(client, name)
        if seen is not None and not answered:
            rtt = time.monotonic() - sent
        notes = (
            "the target broke when a connect and a message arrived together: "
            "every case but those about coalescing (FRAME-4) sends one frame per read",
        )
        echoes = seen is not None
        caps = _capabilities(packets + (seen or []), echoes, rtt, notes if echoes else ())
        return dataclasses.replace(caps, reads_coalesced=False)
    finally:
        client.close()


def _capabilities(
    seen: list[Any], echoes: bool, rtt: float, notes: tuple[str, ...] = ()
) -> Capabilities:
    welcome = bool(seen) and is_welcome(seen[0])
    replies = seen[1 if welcome else 0 :]
    answers = any(is_chat(v) for v in replies[:1])
    announced = seen[0].get("limits") if welcome else None
    limits = dict(protocol.limits())
    if isinstance(announced, dict):
        limits.update({k: v for k, v in announced.items() if k in limits and type(v) is int})
    stray = next((show(v) for v in seen if not is_server_message(v)), "")
    if stray:
        notes += (f"the target sent {stray}, which is no server message (FRAME-10)",)
    return Capabilities(echoes, answers, welcome, Timing.from_rtt(rtt), notes, limits, stray=stray)


def first_packets(client: WireClient) -> list[Any]:
    """What a client has received, decoded from its transcript."""
    return [p.value for p in PacketReader().feed(client.transcript.received(client.label))]


def _answer_time(client: WireClient) -> float:
    """Seconds from the first send to the first bytes received after it, per the transcript."""
    records = client.transcript.records
    sent = next(r.t for r in records if r.event == "send")
    return next((r.t - sent for r in records if r.event == "recv" and r.t >= sent), 0.0)


def _until_echo(client: WireClient, name: str, give_up_on_error: bool = False) -> list[Any] | None:
    """What came before the echo of the probe's message to itself; None if it never came.

    `give_up_on_error`: an error answering a valid connect and message written together means
    the target could not take them together, and no echo will follow: stop at once rather than
    wait out the probe's generous timeout (the careful probe comes next)."""
    seen: list[Any] = []
    while True:
        value = _next_value(client)
        if value is None or (give_up_on_error and is_error(value)):
            return None
        if is_echo(value, name, "probe"):
            return seen
        seen.append(value)


def _next_value(client: WireClient) -> Any:
    try:
        packet = client.recv()
    except Closed:
        return None
    return None if packet is None else packet.value

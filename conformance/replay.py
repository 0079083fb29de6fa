"""`jsonchat replay FILE TARGET`: play a transcript's bytes to a server, compare what comes back.

The recording fixes the order of every client's sends; the server's timing is not recorded but
matched: before each send (or close) of a client, replay waits (bounded) until that client has
received as many bytes as it had at that point of the recording. What each client got is then
compared byte for byte with the recording, and whether the server closed it. The format is the
one conformance cases and the fuzzer write (conformance/transcript.py).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from conformance.target import Target, TargetError, parse_target
from conformance.transcript import Transcript
from conformance.wire import Closed, PacketReader, WireClient

DEFAULT_TIMEOUT_S = 2.0
MAX_PAUSE_S = 0.05  # the longest gap between two recorded writes that replay keeps
FEW_CLIENTS = 8  # up to this many, every client's packets are shown


@dataclass
class Expected:
    received: bytes = b""
    closed_by_server: bool = False


@dataclass
class Outcome:
    """Per client: what the recording says it got, and what it got now."""

    expected: dict[str, Expected] = field(default_factory=dict)
    actual: dict[str, Expected] = field(default_factory=dict)
    skipped_events: list[str] = field(default_factory=list)

    @property
    def reproduced(self) -> bool:
        return self.expected == self.actual


def replay(transcript: Transcript, address: tuple[str, int], timeout: float) -> Outcome:
    outcome = Outcome()
    live = Transcript()
    clients: dict[str, WireClient] = {}
    last_send: dict[str, float | None] = {}  # when a client's previous event was a send
    waited: dict[str, int] = {}  # the byte counts already waited for (in vain or not)
    opened: dict[str, WireClient] = {}  # the clients not closed by us yet
    for record in transcript.records:
        label, event = record.client, record.event
        expected = outcome.expected.setdefault(label, Expected())
        if event != "send":
            last_send[label] = None
        if event == "recv":
            expected.received += record.data  # what it had received so far in the recording
        elif event == "closed":
            expected.closed_by_server = True
        elif event == "open":
            clients[label] = opened[label] = WireClient(address, label, timeout, transcript=live)
        elif event in ("send", "close", "reset") and label in clients:
            client = clients[label]
            _catch_up(opened, outcome.expected, waited, timeout)
            before = last_send.get(label)
            if event == "send" and before is not None:
                # Writes the recording spaced out (a frame split on purpose) stay apart, so
                # that the server reads them separately again.
                time.sleep(min(max(record.t - before, 0.0), MAX_PAUSE_S))
            if event == "send":
                last_send[label] = record.t
            if event != "send" and expected.closed_by_server:
                client.wait_closed(timeout)  # the server closed it first in the recording
            with contextlib.suppress(Closed):
                if event == "send":
                    client.send_bytes(record.data)
                elif event == "close":
                    client.close()
                else:
                    client.reset()
            if event != "send":
                del opened[label]
        else:
            outcome.skipped_events.append(f"{label} {event}")
    for label, client in clients.items():
        wanted = outcome.expected[label]
        if not client.closed or client.received_bytes < len(wanted.received):
            client.wait_bytes(len(wanted.received), timeout)
            if wanted.closed_by_server:
                client.wait_closed(timeout)
        client.close()
    outcome.actual = {label: Expected() for label in clients}
    for record in live.records:  # one pass: a fuzzer's history holds thousands of clients
        if record.event == "recv":
            outcome.actual[record.client].received += record.data
        elif record.event == "closed":
            outcome.actual[record.client].closed_by_server = True
    return outcome


def _catch_up(
    clients: dict[str, WireClient],
    recorded: dict[str, Expected],
    waited: dict[str, int],
    timeout: float,
) -> None:
    """Wait until every open client has what it had at this point of the recording.

    Waiting for the sender alone would not do: the server reads its connections in its own
    order, so another client's earlier bytes could be handled after this send, unlike in the
    recording (and a bug that depends on that order would not reproduce). A count that did not
    come in time is not waited for twice.
    """
    for label, client in clients.items():
        wanted = len(recorded[label].received)
        if client.received_bytes >= wanted or client.closed or waited.get(label) == wanted:
            continue
        waited[label] = wanted
        client.wait_bytes(wanted, timeout)


def describe(outcome: Outcome) -> list[str]:
    lines = []
    for label, expected in outcome.expected.items():
        actual = outcome.actual.get(label, Expected())
        same = expected == actual
        lines.append(
            f"{label}: {'matches the recording' if same else 'DIFFERS from the recording'}"
        )
        if same and len(outcome.expected) > FEW_CLIENTS:
            continue  # a fuzzer's history: show only the clients that differ
        for packet in PacketReader().feed(actual.received):
            lines.append(f"  < {packet.raw.decode('utf-8', 'backslashreplace')}")
        if actual.closed_by_server:
            lines.append("  < (closed by the server)")
        if not same:
            lines.append(
                f"  recorded {len(expected.received)} bytes"
                f"{', then closed by the server' if expected.closed_by_server else ''}; "
                f"got {len(actual.received)}{', then closed' if actual.closed_by_server else ''}"
            )
            at = _first_difference(expected.received, actual.received)
            lines.append(
                f"  first difference at byte {at}: recorded "
                f"{expected.received[at : at + 60]!r}, got {actual.received[at : at + 60]!r}"
            )
    lines.extend(f"not replayed: {event}" for event in outcome.skipped_events)
    lines.append("reproduced" if outcome.reproduced else "NOT reproduced")
    return lines


def _first_difference(a: bytes, b: bytes) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="replay a transcript against a server",
        description="Send a transcript's bytes to TARGET in order and compare what comes back; "
        "exit 0 if it reproduces the recording exactly, 1 if not.",
    )
    parser.add_argument("file", type=Path, help="a .jsonl transcript")
    parser.add_argument("target", help="tcp:HOST:PORT or cmd:'COMMAND {host} {port}'")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for each step (default {DEFAULT_TIMEOUT_S})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        header, transcript = Transcript.read(args.file)
        target = Target(parse_target(args.target))
        target.ensure_up()
    except (OSError, ValueError, TargetError) as error:
        print(f"jsonchat replay: {error}")
        return 2
    try:
        print(f"replaying {args.file} ({header.get('case', 'no case named')}) to {args.target}")
        outcome = replay(transcript, target.address, args.timeout)
    except OSError as error:
        print(f"jsonchat replay: {error}")
        return 2
    finally:
        target.retire()
    for line in describe(outcome):
        print(line)
    return 0 if outcome.reproduced else 1

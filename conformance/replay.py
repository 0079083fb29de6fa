"""`jsonchat replay FILE TARGET [TARGET ...]`: is the failure a transcript recorded fixed?

Two questions, answered apart. *Do the bytes match?* The recording fixes the order of every
client's sends; the server's timing is not recorded but matched: before each send (or close) of a
client, replay waits (bounded) until that client has received as many bytes as it had at that
point of the recording, then compares what each client got, byte for byte, and whether the
server closed it. *Is it fixed?* Bytes that differ from a recording of a failure do not make a
fix (a server that now answers garbage differs too), so the verdict comes from the expectation
the transcript was judged by:

- a conformance case (its node ID is in the header): the case is run again against TARGET,
  through the plugin, with the profile of the recording. The case is the expectation: its names
  are fresh, its waits are the run's, and a server that now dies after it is caught as in a run.
- the probe (a target that died under it): the same bytes are sent, and TARGET must outlive
  them (DISCONNECT-7).
- the fuzzer (`"source": "fuzz"`): the engine is the oracle, as it was in the fuzz run: it is
  fed the clients' recorded sends and closes, and every client must have got what it predicts.

A transcript of a run against several targets (a cluster) names them and says which target each
client was on (`conformance.kit.cluster`): it is replayed against as many targets, every client on
the target of the same number, a case run again against all of them, and every `cmd:` target must
outlive the bytes.

Exit 0 when TARGET now behaves as the spec says, 1 when the failure is still there (the table
of conformance/kit/exitcodes.py, shared with `conformance` and `fuzz`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.fuzz.oracle import Oracle
from conformance.kit import cluster
from conformance.kit.exitcodes import TABLE, ExitStatus
from conformance.kit.shapes import is_welcome
from conformance.kit.target import Target, TargetError, parse_target
from conformance.kit.transcript import Transcript
from conformance.kit.wire import Closed, PacketReader, WireClient

SURVIVE_S = 1.0  # how long a target gets to die of the replayed bytes before it is called alive

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
    refused: list[str] = field(default_factory=list)  # clients that could not connect

    @property
    def reproduced(self) -> bool:
        return self.expected == self.actual and not self.refused


def replay(
    transcript: Transcript,
    nodes: Sequence[tuple[str, int]],
    timeout: float,
    expected_packets: dict[str, int] | None = None,
    placement: Mapping[str, int] | None = None,
    held: Mapping[int, socket.socket] | None = None,
) -> Outcome:
    """Play the clients' events in order against the targets at `nodes`, each client on the
    target its `placement` numbers (from 1; the first if it has none). With `expected_packets`
    (per client, welcome not counted) each client also waits for that many packets before it is
    closed: the recording's byte counts are a poor guide on a server whose bytes differ (a fix).

    `held` (by target number) are connections that showed a `tcp:` target was up, never hung up
    on: each becomes the first client on its target."""
    outcome = Outcome()
    spare = dict(held or {})
    live = Transcript()
    clients: dict[str, WireClient] = {}
    last_send: dict[str, float | None] = {}  # when a client's previous event was a send
    waited: dict[str, int] = {}  # the packet counts already waited for (in vain or not)
    opened: dict[str, WireClient] = {}  # the clients not closed by us yet
    # Per client, the packets (welcome aside) it had received so far in the recording. Counted in
    # packets, not bytes: a server's welcome announces its limits, so its length differs from
    # the recording's whenever the limits do, and a byte count would end a wait one packet early.
    readers: dict[str, PacketReader] = {}
    recorded: dict[str, int] = {}
    for record in transcript.records:
        label, event = record.client, record.event
        expected = outcome.expected.setdefault(label, Expected())
        if event != "send":
            last_send[label] = None
        if event == "recv":
            expected.received += record.data  # what it had received so far in the recording
            packets = readers.setdefault(label, PacketReader()).feed(record.data)
            recorded[label] = recorded.get(label, 0) + len(
                [p for p in packets if not is_welcome(p.value)]
            )
        elif event == "closed":
            expected.closed_by_server = True
        elif event == "open":
            number = (placement or {}).get(label, 1)
            sock = spare.pop(number, None)
            where = nodes[number - 1]
            try:
                source = record.data.decode() or None  # the address it connected from
                client = WireClient(where, label, timeout, live, sock, source)
            except OSError as error:  # it died of what came before, or stopped accepting
                outcome.refused.append(f"{label}: {error}")
                continue
            clients[label] = opened[label] = client
        elif event in ("send", "close", "reset") and label in clients:
            client = clients[label]
            _catch_up(opened, live, recorded, waited, timeout)
            before = last_send.get(label)
            if event == "send" and before is not None:
                # Writes the recording spaced out (a frame split on purpose) stay apart, so
                # that the server reads them separately again.
                time.sleep(min(max(record.t - before, 0.0), MAX_PAUSE_S))
            if event == "send":
                last_send[label] = record.t
            if event != "send" and expected.closed_by_server:
                client.wait_closed(timeout)  # the server closed it first in the recording
            if event != "send" and expected_packets is not None:
                # Everything the oracle predicts for this client comes before its close: a
                # client closed without waiting for it would lose its last packets, and a
                # server that now behaves would be called still failing.
                _wait_packets(client, live, expected_packets.get(label, 0), timeout)
            with contextlib.suppress(Closed):
                if event == "send":
                    client.send_bytes(record.data)
                elif event == "close":
                    client.close()
                else:
                    client.reset()
            if event != "send":
                del opened[label]
        elif not any(r.startswith(f"{label}: ") for r in outcome.refused):
            outcome.skipped_events.append(f"{label} {event}")
    for sock in spare.values():  # a target none of the clients went to: end as a session does
        sock.close()
    for label, client in clients.items():
        wanted = outcome.expected[label]
        if not client.closed:
            _wait_packets(client, live, recorded.get(label, 0), timeout)
            if wanted.closed_by_server:
                client.wait_closed(timeout)
        if expected_packets is not None:  # the oracle's count, not the recording's bytes
            _wait_packets(client, live, expected_packets.get(label, 0), timeout)
        client.close()
    outcome.actual = {label: Expected() for label in clients}
    for record in live.records:  # one pass: a fuzzer's history holds thousands of clients
        if record.event == "recv":
            outcome.actual[record.client].received += record.data
        elif record.event == "closed":
            outcome.actual[record.client].closed_by_server = True
    return outcome


def _live_packets(client: WireClient, live: Transcript) -> int:
    """The packets (welcome aside) `client` has received so far in this replay."""
    packets = PacketReader().feed(live.received(client.label))
    return len([p for p in packets if not is_welcome(p.value)])


def _wait_packets(client: WireClient, live: Transcript, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not client.closed and time.monotonic() < deadline:
        if _live_packets(client, live) >= count:
            return True
        client.wait_bytes(client.received_bytes + 1, max(deadline - time.monotonic(), 0.0))
    return _live_packets(client, live) >= count


def _catch_up(
    clients: dict[str, WireClient],
    live: Transcript,
    recorded: dict[str, int],
    waited: dict[str, int],
    timeout: float,
) -> None:
    """Wait until every open client has the packets it had at this point of the recording.

    Waiting for the sender alone would not do: the server reads its connections in its own
    order, so another client's earlier bytes could be handled after this send, unlike in the
    recording (and a bug that depends on that order would not reproduce). A count that did not
    come in time is not waited for twice.
    """
    for label, client in clients.items():
        wanted = recorded.get(label, 0)
        if client.closed or waited.get(label) == wanted:
            continue
        if _live_packets(client, live) >= wanted:
            continue
        waited[label] = wanted
        _wait_packets(client, live, wanted, timeout)


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
    lines.extend(f"could not connect: {refused}" for refused in outcome.refused)
    lines.append(
        "the bytes match the recording"
        if outcome.reproduced
        else "the bytes differ from the recording"
    )
    return lines


def _first_difference(a: bytes, b: bytes) -> int:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


@dataclass(frozen=True)
class Judgement:
    fixed: bool | None  # None: the expectation could not be checked
    lines: list[str]


def rerun_case(header: dict[str, Any], specs: Sequence[str], verbose: bool) -> Judgement:
    """Run the recorded case again against `specs` (a cluster's, or one) through the plugin;
    fixed when it passes and the target did not die of it (no row of the run failed)."""
    import pytest  # here: replaying a fuzzer transcript needs no pytest

    import conformance.cases

    nodeid = str(header["case"])
    file, _, name = nodeid.partition("::")
    path = Path(conformance.cases.__file__).parent / Path(file).name
    if not path.exists():
        path = Path(file)
    if not path.exists():
        return Judgement(None, [f"the case {nodeid} is not in this version of the suite"])
    with tempfile.TemporaryDirectory(prefix="jsonchat-replay-") as folder:
        report = Path(folder) / "report.json"
        argv = [f"{path}::{name}", "-p", "no:jsonchat", "-p", "conformance.suite.plugin"]
        argv += ["-p", "no:cacheprovider", "-q", "--no-header", "--tb=no", "--rootdir", folder]
        for text in specs:
            argv += ["--jsonchat-target", text]
        argv += ["--jsonchat-json", str(report)]
        argv += ["--jsonchat-profile", str(header.get("profile", "full"))]
        argv += ["--jsonchat-transcripts", str(Path(folder) / "transcripts")]
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            code = pytest.main(argv)
        if verbose:
            print(output.getvalue())
        if not report.exists():
            last = output.getvalue().strip().splitlines()[-1:] or [f"pytest exit {code}"]
            return Judgement(None, [f"the case could not be run again: {last[0]}"])
        results = json.loads(report.read_text())["cases"]
    lines = [f"the case again ({nodeid}):"]
    for result in results:
        stage = f" ({result['stage']})" if result.get("stage") else ""
        broken = f" {result['broken']}" if result.get("broken") else ""
        lines.append(f"  {result['verdict'].upper()}{broken}{stage} {result['reason']}".rstrip())
    verdicts = {r["verdict"] for r in results}
    if verdicts & {"fail", "error"}:
        return Judgement(False, lines)
    if "pass" in verdicts or "non-strict" in verdicts or "informational" in verdicts:
        return Judgement(True, lines)
    return Judgement(None, [*lines, "  (the case was skipped: nothing was checked)"])


def check_survival(target: Target) -> Judgement:
    """After the replayed bytes: the target must still run (DISCONNECT-7)."""
    process = target.process
    if process is not None:
        process.wait_exit(SURVIVE_S)
        if not process.alive():
            output = process.last_output()
            lines = [f"the target died of these bytes: {process.describe_exit()}"]
            return Judgement(False, lines + [f"  {line}" for line in output.splitlines()])
        return Judgement(True, ["the target outlived these bytes (DISCONNECT-7)"])
    if target.still_accepts():
        return Judgement(True, ["the target still accepts connections (DISCONNECT-7)"])
    return Judgement(False, ["the target stopped accepting connections (DISCONNECT-7)"])


def _packets(data: bytes) -> tuple[list[Any], dict[str, Any]]:
    """The packets in `data` with a first welcome set apart (PROTOCOL.md lets servers choose)."""
    packets = [p.value for p in PacketReader().feed(data)]
    if packets and isinstance(packets[0], dict) and packets[0].get("status") == "welcome":
        return packets[1:], packets[0]
    return packets, {}


def predict(transcript: Transcript, received: dict[str, bytes]) -> Oracle:
    """The engine fed the recorded sends and closes, with the limits a welcome announced."""
    welcomes = [_packets(data)[1] for data in received.values()]
    limits = next((w["limits"] for w in welcomes if isinstance(w.get("limits"), dict)), None)
    oracle = Oracle(limits)
    for record in transcript.records:
        if record.event == "open":
            oracle.open(record.client)
        elif record.event == "send":
            oracle.send(record.client, record.data)
        elif record.event in ("close", "reset") and record.client not in oracle.gone:
            oracle.lost(record.client)
    return oracle


def check_with_engine(transcript: Transcript, outcome: Outcome) -> Judgement:
    """The fuzzer's oracle: the engine, fed the recorded sends and closes of every client, with
    the limits the target announced now."""
    oracle = predict(transcript, {label: got.received for label, got in outcome.actual.items()})
    actual = {label: _packets(got.received)[0] for label, got in outcome.actual.items()}
    lines = []
    for label, predicted in oracle.expected.items():
        got = actual.get(label, [])
        closed = outcome.actual.get(label, Expected()).closed_by_server
        if got != predicted:
            same = 0
            while same < min(len(got), len(predicted)) and got[same] == predicted[same]:
                same += 1
            lines.append(
                f"{label}: after {same} packets as the engine predicts, expected "
                f"{predicted[same : same + 2]!r}, got {got[same : same + 2]!r}"
            )
        elif label in oracle.closed_by_server and not closed:
            lines.append(f"{label}: the engine closes this connection; the target did not")
    if lines:
        return Judgement(False, ["the engine disagrees with the target:", *lines])
    return Judgement(True, ["every client got what the engine predicts"])


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="check whether a recorded failure is fixed",
        description="Replay a transcript (of a failed conformance case, the probe or a fuzz "
        "finding) against TARGET: say whether the bytes match the recording, and whether TARGET "
        "now behaves as the spec says. A case is run again with the suite's own expectation; a "
        "fuzz finding is checked against the engine.",
        epilog=TABLE,
    )
    parser.add_argument("file", type=Path, help="a .jsonl transcript")
    parser.add_argument(
        "target",
        nargs="+",
        help="tcp:HOST:PORT or cmd:'COMMAND {host} {port}'; a transcript of a cluster's run "
        "(it names its targets) is replayed against as many, each client on the target of the "
        "same number",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"seconds to wait for each step (default {DEFAULT_TIMEOUT_S})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show the case's own run")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        header, transcript = Transcript.read(args.file)
        specs = [parse_target(text) for text in args.target]
    except (OSError, ValueError, TargetError) as error:
        print(f"jsonchat replay: {error}")
        return ExitStatus.USAGE
    recorded_targets = header.get("targets")
    wanted = len(recorded_targets) if isinstance(recorded_targets, list) else 1
    if len(specs) != wanted:
        print(
            f"jsonchat replay: {args.file} was recorded against {wanted} target"
            f"{'s' if wanted != 1 else ''}; give as many (got {len(specs)})"
        )
        return ExitStatus.USAGE
    targets = [Target(spec) for spec in specs]
    try:
        for target in targets:
            target.ensure_up()
    except TargetError as error:
        for target in targets:
            target.retire()
        print(f"jsonchat replay: {error}")
        return ExitStatus.UNREACHABLE
    case = str(header.get("case", ""))
    source = "fuzz finding" if header.get("source") == "fuzz" else case or "no case named"
    print(f"replaying {args.file} ({source}) to {' '.join(args.target)}")
    labels = list(dict.fromkeys(r.client for r in transcript.records))
    placement = cluster.placement_of(header, labels, len(targets))
    try:
        expected_packets = None
        if header.get("source") == "fuzz":  # the recording's welcome gives the limits to wait by
            recorded = {r.client: b"" for r in transcript.records}
            for record in transcript.records:
                if record.event == "recv":
                    recorded[record.client] += record.data
            oracle = predict(transcript, recorded)
            expected_packets = {label: len(p) for label, p in oracle.expected.items()}
        held = {n: s for n, t in enumerate(targets, 1) if (s := t.take_held()) is not None}
        nodes = [target.address for target in targets]
        outcome = replay(transcript, nodes, args.timeout, expected_packets, placement, held)
        for line in describe(outcome):
            print(line)
        if header.get("source") == "fuzz":
            judgement = check_with_engine(transcript, outcome)
        elif "::" not in case:
            judgements = [check_survival(target) for target in targets]
            judgement = Judgement(
                all(j.fixed for j in judgements), [line for j in judgements for line in j.lines]
            )
        else:
            judgement = None
    except OSError as error:
        print(f"jsonchat replay: the target stopped answering: {error}")
        judgement = Judgement(False, [f"the target stopped answering the replay: {error}"])
    finally:
        for target in targets:
            target.retire()
    if judgement is None:
        judgement = rerun_case(header, args.target, args.verbose)
    for line in judgement.lines:
        print(line)
    if judgement.fixed is None:
        print("cannot tell whether it is fixed: nothing was checked")
        return ExitStatus.NOTHING_RAN
    if judgement.fixed:
        print("fixed: the target now behaves as the spec says")
        return ExitStatus.OK
    print("still failing")
    return ExitStatus.FAILED

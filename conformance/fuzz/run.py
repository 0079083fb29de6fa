"""Running the fuzzer for a while: batches of Hypothesis examples, progress, and the finding.

Hypothesis has no time budget, so the run is a series of batches, each seeded from `seed` and its
number: the same seed against the same target replays the same run. On a failure Hypothesis
shrinks, for at most `shrink_seconds`; the run reports the shortest failing example it saw
(record.py), written as two transcripts: that example alone, and all the traffic up to the first
failure (for bugs that need the target's earlier state to show).

What the target can do is learned by the suite's own probe (conformance/kit/probe.py), and waits are
scaled from its round trip by the suite's rule (`Timing.from_rtt`), with a floor of 1 s instead
of 0.3: a correct run never waits it out (every wait ends when the predicted packets or a round
trip's echo arrive), so only findings pay for it, each time Hypothesis replays one while shrinking,
and a loaded machine can stall a correct target for a few hundred milliseconds.

Against several targets (a cluster) the clients of each example go to them round-robin (`c1` to
#1, `c2` to #2, ...), the oracle is still one engine (a cluster must behave as one server), and
a finding's transcripts name the targets and each client's (`placement`), for `jsonchat replay`.
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hypothesis import HealthCheck, seed, settings
from hypothesis.errors import HypothesisException
from hypothesis.stateful import get_state_machine_test

from conformance.fuzz.lifeline import Death, Lifeline, TargetGone
from conformance.fuzz.machine import ChatFuzzer, FuzzSettings
from conformance.fuzz.record import SERVES_OTHERS, Failure, Finding, RunRecord, StopShrinking
from conformance.kit import cluster
from conformance.kit.probe import Capabilities, Timing
from conformance.kit.statusline import StatusLine
from conformance.kit.transcript import Transcript
from protocol import Profile

EXAMPLES_PER_BATCH = 20
STEPS_PER_EXAMPLE = 40
MIN_TIMEOUT_S = 1.0
LIVE_PERIOD_S = 0.25  # how often the live line on a terminal is rewritten


def wait_limit(caps: Capabilities) -> float:
    """How long a packet may be late before it counts as missing (see above). A target that
    never echoed in the probe gave no round trip to scale from: the floor."""
    rtt = caps.timing.rtt if caps.echoes_self else 0.0
    return Timing.from_rtt(rtt, floor=MIN_TIMEOUT_S).reply


@dataclass
class FuzzResult:
    record: RunRecord
    seconds: float = 0.0
    transcripts: list[Path] = field(default_factory=list)
    restarts: int = 0  # of a cmd: target that died
    ended: str = ""  # why the search stopped early, if it did (a tcp: target that died)
    targets: list[str] = field(default_factory=list)  # as given: several for a cluster
    # Of the shortest failing example's clients, against several targets: each one's target
    # number (its transcript's header says it too); empty against one target.
    placement: dict[str, int] = field(default_factory=dict)

    @property
    def failure(self) -> Failure | None:
        return self.record.best

    @property
    def steps_per_second(self) -> float:
        return self.record.steps / self.seconds if self.seconds else 0.0


def fuzz(
    lifeline: Lifeline,
    caps: Capabilities,
    seconds: float,
    seed_value: int,
    clients: int = 4,
    transcript_dir: Path = Path("jsonchat-transcripts"),
    shrink_seconds: float = 30.0,
    out: TextIO = sys.stderr,
    profile: Profile = "full",
) -> FuzzResult:
    """Search for `seconds`, then shrink a finding; `lifeline` is up and `caps` is what every
    one of its nodes can do (`cluster.common` of their probes)."""
    timeout = wait_limit(caps)
    lifeline.pace(caps, timeout)
    ChatFuzzer.settings_ = FuzzSettings(
        lifeline=lifeline,
        profile=profile,
        timeout=timeout,
        max_clients=clients,
        limits=dict(caps.limits),
        limits_announced=caps.sends_welcome,
        tag=f"s{seed_value:x}.",
        pause=max(0.002, caps.timing.pace),
    )
    ChatFuzzer.run = record = RunRecord(shrink_seconds=shrink_seconds)
    result = FuzzResult(record, targets=[node.spec.text for node in lifeline.nodes])
    with _live_progress(result, seconds, out) as live:
        _search(result, lifeline, seconds, seed_value, clients, out, live)
    if live:  # the last state of the live line, kept on the screen
        print(_progress(result, clients), file=out, flush=True)
    if record.first is None:
        return result
    return _write_transcripts(result, transcript_dir, seed_value)


def _search(
    result: FuzzResult,
    lifeline: Lifeline,
    seconds: float,
    seed_value: int,
    clients: int,
    out: TextIO,
    live: bool,
) -> None:
    """Batches until the time is up or a finding (shrunk within its budget) ends the search."""
    record = result.record
    batch = 0
    while record.first is None and time.monotonic() - record.started < seconds:
        test = get_state_machine_test(ChatFuzzer, settings=_settings())
        # Whatever ends the search (Hypothesis's own report, an inconsistent replay, the
        # shrinking budget), the failures it met are in `record`.
        try:
            with contextlib.suppress(AssertionError, HypothesisException, StopShrinking):
                seed(seed_value * 1_000_003 + batch)(test)()
        except TargetGone as gone:
            result.ended = str(gone)
            if record.first is None:
                # It accepted connections (the probe's, at least) and then stopped: that is
                # a finding too, though there is no program to show for it.
                death = Death(f"{gone} (it did before the search began)")
                finding = Finding(
                    [f"the target stopped serving: {death.description}"], [SERVES_OTHERS], death
                )
                record.failed(
                    finding, ["# the probe's clients closed their connections"], Transcript()
                )
                record.history_to_first = None
            break
        finally:
            batch += 1
            result.seconds = time.monotonic() - record.started
            result.restarts = lifeline.restarts
            if not live:  # on a terminal, the live line says it; piped, a line a batch
                print(_progress(result, clients), file=out, flush=True)


def _write_transcripts(result: FuzzResult, transcript_dir: Path, seed_value: int) -> FuzzResult:
    record = result.record
    assert record.first is not None
    if record.best is not None:
        result.placement = placement(record.best.transcript, result.targets)
        result.transcripts.append(
            _write(
                record.best.transcript,
                record.best,
                transcript_dir,
                f"fuzz-seed{seed_value}.jsonl",
                seed_value,
                result.targets,
                result.placement,
            )
        )
    if record.history_to_first is not None:
        result.transcripts.append(
            _write(
                record.history_to_first,
                record.first,
                transcript_dir,
                f"fuzz-seed{seed_value}-history.jsonl",
                seed_value,
                result.targets,
                placement(record.history_to_first, result.targets),
            )
        )
    return result


@contextlib.contextmanager
def _live_progress(result: FuzzResult, budget: float, out: TextIO) -> Iterator[bool]:
    """On a terminal, one line rewritten four times a second while the search runs (True);
    elsewhere nothing (False), and the caller prints a plain line per batch as before."""
    line = StatusLine(out)
    if not line.active:
        yield False
        return
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(LIVE_PERIOD_S):
            line.show(_live(result, budget))

    ticker = threading.Thread(target=tick, name="fuzz-progress", daemon=True)
    ticker.start()
    try:
        yield True
    finally:
        stop.set()
        ticker.join()
        line.clear()


def _live(result: FuzzResult, budget: float) -> str:
    record = result.record
    elapsed = time.monotonic() - record.started
    rate = record.steps / elapsed if elapsed else 0.0
    found = "1 finding, shrinking" if record.first is not None else "0 findings"
    return (
        f"fuzz  {min(elapsed, budget):5.1f} of {budget:.0f} s  {rate:5.0f} steps/s"
        f"  {record.examples} examples  {len(record.hits)} requirement IDs exercised  {found}"
    )


def _settings() -> settings:
    return settings(
        max_examples=EXAMPLES_PER_BATCH,
        stateful_step_count=STEPS_PER_EXAMPLE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
    )


def _progress(result: FuzzResult, clients: int) -> str:
    record = result.record
    return (
        f"fuzz: {result.seconds:5.1f}s  {record.steps} steps ({result.steps_per_second:.0f}/s)"
        f"  {record.examples} examples  {clients} clients"
        f"  findings: {int(record.first is not None)}"
    )


def placement(transcript: Transcript, targets: Sequence[str]) -> dict[str, int]:
    """The target number of each client of a transcript against several targets (none against
    one): `c3` (or `e5.c3` in the history, the third client of its example) was opened third,
    so it went where the third goes."""
    count = len(targets)
    if count < 2:
        return {}
    labels = dict.fromkeys(record.client for record in transcript.records)
    numbers = {label: re.search(r"(?:^|\.)c(\d+)$", label) for label in labels}
    return {
        label: cluster.place(int(found.group(1)) - 1, count)
        for label, found in numbers.items()
        if found is not None
    }


def _write(
    transcript: Transcript,
    failure: Failure,
    directory: Path,
    name: str,
    seed_value: int,
    targets: list[str],
    spread: dict[str, int],
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    header = {
        "source": "fuzz",
        "seed": seed_value,
        "requirements": failure.finding.requirements,
        "finding": failure.finding.problems,
        "program": list(failure.program),
    }
    if failure.finding.death is not None:
        header["server_output"] = list(failure.finding.death.output)
    if len(targets) > 1:
        header["targets"] = list(targets)
        header["placement"] = spread
    transcript.write(path, header)
    return path

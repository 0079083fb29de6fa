"""Running the fuzzer for a while: batches of Hypothesis examples, progress, and the finding.

Hypothesis has no time budget, so the run is a series of batches, each seeded from `seed` and its
number: the same seed against the same target replays the same run. On a failure Hypothesis
shrinks, for at most `shrink_seconds`; the run reports the shortest failing example it saw
(record.py), written as two transcripts: that example alone, and all the traffic up to the first
failure (for bugs that need the target's earlier state to show).
"""

from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hypothesis import HealthCheck, seed, settings
from hypothesis.errors import HypothesisException
from hypothesis.stateful import get_state_machine_test

from conformance.fuzz.machine import ChatFuzzer, FuzzSettings
from conformance.fuzz.probe import Probe
from conformance.fuzz.record import Failure, RunRecord, StopShrinking
from conformance.transcript import Transcript

EXAMPLES_PER_BATCH = 20
STEPS_PER_EXAMPLE = 40


@dataclass
class FuzzResult:
    record: RunRecord
    seconds: float = 0.0
    transcripts: list[Path] = field(default_factory=list)

    @property
    def failure(self) -> Failure | None:
        return self.record.best

    @property
    def steps_per_second(self) -> float:
        return self.record.steps / self.seconds if self.seconds else 0.0


def fuzz(
    probe: Probe,
    seconds: float,
    seed_value: int,
    clients: int = 4,
    transcript_dir: Path = Path("jsonchat-transcripts"),
    shrink_seconds: float = 30.0,
    out: TextIO = sys.stderr,
) -> FuzzResult:
    ChatFuzzer.settings_ = FuzzSettings(
        address=probe.address,
        timeout=probe.timeout,
        max_clients=clients,
        limits=probe.limits,
        tag=f"s{seed_value:x}.",
        pause=max(0.002, 2 * probe.rtt),
    )
    ChatFuzzer.run = record = RunRecord(shrink_seconds=shrink_seconds)
    result = FuzzResult(record)
    batch = 0
    while record.first is None and time.monotonic() - record.started < seconds:
        test = get_state_machine_test(ChatFuzzer, settings=_settings())
        # Whatever ends the search (Hypothesis's own report, an inconsistent replay, the
        # shrinking budget), the failures it met are in `record`.
        with contextlib.suppress(AssertionError, HypothesisException, StopShrinking):
            seed(seed_value * 1_000_003 + batch)(test)()
        batch += 1
        result.seconds = time.monotonic() - record.started
        print(_progress(result, clients), file=out, flush=True)
    if record.first is None:
        return result
    if record.best is not None:
        result.transcripts.append(
            _write(
                record.best.transcript,
                record.best,
                transcript_dir,
                f"fuzz-seed{seed_value}.jsonl",
                seed_value,
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
            )
        )
    return result


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


def _write(
    transcript: Transcript, failure: Failure, directory: Path, name: str, seed_value: int
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
    transcript.write(path, header)
    return path

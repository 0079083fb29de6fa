"""What a fuzz run remembers across Hypothesis examples: counts, history, and its failures.

Shrinking replays examples against a live target, which is slow (each replay waits for what the
target fails to send) and not always faithful (a target whose bug depends on earlier traffic, or
on how reads fall, fails differently each time). So the run keeps the shortest failing example
it has seen, with its own record of the steps and its transcript, instead of relying on
Hypothesis's final replay; and it stops shrinking after a time budget.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from conformance.fuzz.lifeline import Death
from conformance.kit.transcript import Transcript

# The rule a target breaks when one client's hang-up, reset or bad frame costs the others their
# service, or kills the server: DISCONNECT-7 (`core`), the rule the suite blames a death on too.
SERVES_OTHERS = "DISCONNECT-7"


class Finding(AssertionError):
    """The target differed from the oracle after a step; `requirements` are the step's rules."""

    def __init__(
        self, problems: list[str], requirements: list[str], death: Death | None = None
    ) -> None:
        lines = [*problems, f"requirements involved: {', '.join(requirements)}"]
        super().__init__("\n".join(lines))
        self.problems = problems
        self.requirements = requirements
        self.death = death  # the target died (or stopped accepting) in this example


class StopShrinking(BaseException):
    """Raised from a new example once the shrinking budget is spent; Hypothesis lets
    BaseExceptions through, which ends the search with the best failure found so far."""


@dataclass(frozen=True)
class Failure:
    finding: Finding
    program: tuple[str, ...]  # the example's steps, as calls on the machine
    transcript: Transcript
    found_after: float  # seconds into the run

    @property
    def size(self) -> tuple[int, int]:
        sent = sum(len(r.data) for r in self.transcript.records if r.event == "send")
        return len(self.program), sent


@dataclass
class RunRecord:
    started: float = field(default_factory=time.monotonic)
    shrink_seconds: float = 30.0
    examples: int = 0
    steps: int = 0
    hits: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)  # steps that wrote each way
    history: Transcript = field(default_factory=Transcript)  # every example, in order
    first: Failure | None = None
    best: Failure | None = None
    history_to_first: Transcript | None = None  # all traffic up to the first failure

    def failed(self, finding: Finding, program: list[str], transcript: Transcript) -> None:
        failure = Failure(finding, tuple(program), transcript, time.monotonic() - self.started)
        if self.first is None:
            self.first = failure
        if self.best is None or failure.size < self.best.size:
            self.best = failure

    def example_done(self, transcript: Transcript, hits: Mapping[str, int]) -> None:
        self.hits.update(hits)
        self.history.extend(transcript, prefix=f"e{self.examples}.")
        if self.first is not None and self.history_to_first is None:
            self.history_to_first = Transcript(self.history.records)

    def check_budget(self) -> None:
        first = self.first
        if first and time.monotonic() - self.started > first.found_after + self.shrink_seconds:
            raise StopShrinking()

"""Several targets meant to behave as one server (a cluster): which client goes to which.

Every driver (the suite's cases, the fuzzer, a replay) spreads its clients the same way:
round-robin in the order they are opened, the first on target #1, the second on #2, and so on.
With two nodes, then, most exchanges between two clients cross nodes, which is the point: a rule
that holds only among clients of one node is a rule the cluster breaks. What each client was on
is its *placement*, kept in transcripts (`"placement": {"@alice-x1": 1, ...}`, numbered from 1
as the report numbers targets) so that a replay puts every client back on the same target.

With one target everything is on #1 and nothing of this shows: no placement in transcripts, no
target numbers in reports.

The probe runs on every target; `common` keeps what all of them can do, so a capability the
cases rely on holds on every node (a cluster whose nodes differ is judged by the weakest).
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from conformance.kit.probe import Capabilities

__all__ = [
    "Spreader",
    "command_line",
    "common",
    "name",
    "place",
    "placement_of",
    "placement_text",
    "targets_text",
]


def place(index: int, count: int) -> int:
    """The target number (from 1) of the `index`-th client (from 0) of `count` targets."""
    return index % max(count, 1) + 1


def name(number: int) -> str:
    """How reports name a target: `#2`."""
    return f"#{number}"


def command_line(targets: str | Sequence[str]) -> str:
    """The target, or a cluster's targets in order, quoted as a shell command line takes them
    (for the replay commands the reports print)."""
    texts = [targets] if isinstance(targets, str) else list(targets)
    return " ".join(shlex.quote(text) for text in texts)


def targets_text(targets: Sequence[str]) -> str:
    """`target tcp:...`, or for a cluster `targets #1 tcp:..., #2 tcp:...` (as given)."""
    if len(targets) == 1:
        return f"target {targets[0]}"
    return "targets " + ", ".join(f"{name(n)} {text}" for n, text in enumerate(targets, 1))


def placement_text(placement: Mapping[str, int], shown: int | None = None) -> str:
    """`@alice-x1 on #1, @bob-x2 on #2`: which target each client was on; with `shown`, only
    the first `shown` of a case that opened hundreds (the transcript and --json have them all)."""
    said = [f"{label} on {name(number)}" for label, number in list(placement.items())[:shown]]
    more = len(placement) - len(said)
    return ", ".join(said) + (f" and {more} more, round-robin (all in --json)" if more > 0 else "")


class Spreader:
    """Hands out targets round-robin, remembering each client's (its `placement`)."""

    def __init__(self, count: int) -> None:
        self.count = max(count, 1)
        self.placement: dict[str, int] = {}
        self._opened = 0

    def next(self, label: str) -> int:
        """The target number of a new client called `label`: the next in turn."""
        number = place(self._opened, self.count)
        self._opened += 1
        self.placement[label] = number
        return number

    def pin(self, label: str, number: int) -> int:
        """A client that must be on target `number` (a witness of that node): not a turn."""
        self.placement[label] = number
        return number


def placement_of(header: Mapping[str, Any], labels: Sequence[str], count: int) -> dict[str, int]:
    """Where a transcript's clients go in a replay against `count` targets: where the header
    says they were, else round-robin in the order they first appear (a transcript of a run
    against one target, replayed against several, is spread as a new run would be)."""
    recorded = header.get("placement")
    recorded = recorded if isinstance(recorded, Mapping) else {}
    spreader = Spreader(count)
    for label in labels:
        number = recorded.get(label)
        if isinstance(number, int) and 1 <= number <= count:
            spreader.pin(label, number)
        else:
            spreader.next(label)
    return spreader.placement


def common(found: Sequence[Capabilities]) -> Capabilities:
    """What every target can do: each capability only if all have it, the slowest round trip,
    the smallest limit each announced, and the notes of each, naming its target."""
    if len(found) == 1:
        return found[0]
    slowest = max(found, key=lambda caps: caps.timing.rtt)
    limits = {key: min(caps.limits[key] for caps in found) for key in found[0].limits}
    notes = tuple(
        f"{name(number)}: {note}" for number, caps in enumerate(found, 1) for note in caps.notes
    )
    return dataclasses.replace(
        found[0],
        echoes_self=all(caps.echoes_self for caps in found),
        answers_connect=all(caps.answers_connect for caps in found),
        sends_welcome=all(caps.sends_welcome for caps in found),
        reads_coalesced=all(caps.reads_coalesced for caps in found),
        timing=slowest.timing,
        notes=notes,
        limits=limits,
        stray=next((caps.stray for caps in found if caps.stray), ""),
    )

"""The fuzzer against the reference server (nothing to find) and against broken ones (each bug
found within 60 seconds, and its transcript replays it)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from conformance.fuzz.probe import probe
from conformance.fuzz.run import fuzz
from conformance.target import started
from tests.conformance.suiterun import REFERENCE, broken, jsonchat

SEARCH_S = 60
SHRINK_S = 10


def test_a_short_session_against_the_reference_finds_nothing_at_speed() -> None:
    done = jsonchat("fuzz", REFERENCE, "--seconds", "6", "--seed", "11")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no finding" in done.stdout
    rate = re.search(r"steps in [\d.]+ s \((\d+)/s\)", done.stdout)
    assert rate is not None and int(rate.group(1)) >= 200, done.stdout
    assert re.search(r"requirements exercised \((\d+) of", done.stdout)


@pytest.mark.parametrize(
    ("variant", "involved"),
    [
        ("drop_one_direct_in_fifty", "ROUTE-5"),
        ("keep_members_who_left", "ROUTE-2"),
        ("decode_each_read_alone", "FRAME-3"),  # the failing step wrote a frame in pieces
    ],
)
def test_a_bug_is_found_and_its_transcript_replays_it(
    tmp_path: Path, variant: str, involved: str
) -> None:
    command = broken(variant)[len("cmd:") :]
    with started(command) as server:
        result = fuzz(
            probe(server.address),
            SEARCH_S,
            1,
            transcript_dir=tmp_path,
            shrink_seconds=SHRINK_S,
            out=sys.stderr,
        )
    failure = result.failure
    assert failure is not None, f"{variant}: nothing found in {SEARCH_S} s"
    assert result.record.first is not None and result.record.first.found_after < SEARCH_S
    assert involved in failure.finding.requirements
    # replay's verdict is the engine's, as in the fuzz run: still failing (1) on the broken
    # server, fixed (0) on the reference
    replays = [jsonchat("replay", str(path), broken(variant)) for path in result.transcripts]
    assert any(r.returncode == 1 for r in replays), [r.stdout[-2000:] for r in replays]
    shortest = result.transcripts[0]
    against_reference = jsonchat("replay", str(shortest), REFERENCE)
    assert against_reference.returncode == 0, against_reference.stdout[-2000:]

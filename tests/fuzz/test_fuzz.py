"""The fuzzer against the reference server (nothing to find), against broken ones (each bug found
within 60 seconds, and its transcript replays it), and against the course-style server of
tests/conformance/broken/course.py under `--profile core`: a careful one passes, and each fault
is a finding on the rule it breaks, a crash included, never exit 3 and never a traceback. Under
core, a bug of a `full` rule (a room message echoed to its sender, a split frame lost) is none.

Replay's exit status is being turned around (issue 17: 0 once the server is fixed), so replays are
checked by what holds either way: they run without a traceback, and the broken server and the
reference answer differently.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.fuzz.cli import probe
from conformance.fuzz.lifeline import Lifeline
from conformance.fuzz.record import SERVES_OTHERS
from conformance.fuzz.run import fuzz
from conformance.kit.exitcodes import ExitStatus
from conformance.kit.target import parse_target
from tests.conformance.suiterun import LIMIT_S, REFERENCE, ROOT, broken, jsonchat

SEARCH_S = 60
SHRINK_S = 5
CAREFUL_S = 5  # a careful course server runs this long under core with no finding
COURSE = f"cmd:{sys.executable} -m tests.conformance.broken.course {{host}} {{port}}"
# Each fault of the course server, and a rule its finding must name under core.
FAULTS = {
    "crash-on-hangup": SERVES_OTHERS,
    "close-at-once": "ROUTE-6",  # its own message never comes back: the connection is gone
    "never-answers": "ROUTE-6",
    "refuse-rooms": "ROUTE-1",
    "short-names": "VALIDATE-8",
}
# Servers built on the engine with one bug of a `full` rule, which core lets a server have.
# (Not decode_each_read_alone: TCP may cut a frame written whole in one write, and then its
# bug breaks FRAME-1, a core rule, so a finding under core is right, though rare.)
FULL_ONLY_BUGS = ("echo_room",)  # a room message back to its sender: ROUTE-3


def test_a_short_session_against_the_reference_finds_nothing_at_speed() -> None:
    done = jsonchat("fuzz", REFERENCE, "--seconds", "6", "--seed", "11")
    assert done.returncode == ExitStatus.OK, done.stdout + done.stderr
    assert "no finding" in done.stdout
    # Only steps that sent, opened or closed something count (a loaded 2-core machine does
    # about 150 a second; an idle one far more).
    rate = re.search(r"steps in [\d.]+ s \((\d+)/s\)", done.stdout)
    assert rate is not None and int(rate.group(1)) >= 50, done.stdout
    assert re.search(r"requirements of full exercised \((\d+) of", done.stdout)


@pytest.mark.parametrize(
    ("variant", "involved"),
    [
        ("drop_one_direct_in_fifty", "ROUTE-5"),
        ("keep_members_who_left", "ROUTE-2"),
        # The fault drops the bytes of a character that a read boundary cuts. The fuzzer writes
        # frames in pieces on purpose (FRAME-3), but TCP may cut a frame written whole too: when
        # the cut falls in an invalid byte sequence, what shows is the missing FRAME-7 error.
        ("decode_each_read_alone", "FRAME-3|FRAME-7"),
    ],
)
def test_a_bug_is_found_and_its_transcript_replays_it(
    tmp_path: Path, variant: str, involved: str
) -> None:
    lifeline = Lifeline(parse_target(broken(variant)))
    try:
        lifeline.up()
        result = fuzz(
            lifeline,
            probe(lifeline.address),
            SEARCH_S,
            1,
            transcript_dir=tmp_path,
            shrink_seconds=SHRINK_S,
            out=sys.stderr,
        )
    finally:
        lifeline.close()
    failure = result.failure
    assert failure is not None, f"{variant}: nothing found in {SEARCH_S} s"
    assert result.record.first is not None and result.record.first.found_after < SEARCH_S
    assert set(involved.split("|")) & set(failure.finding.requirements), failure.finding
    assert failure.finding.death is None
    # replay's verdict is the engine's, as in the fuzz run: still failing (1) on the broken
    # server, fixed (0) on the reference
    replays = [_replay(path, broken(variant)) for path in result.transcripts]
    assert ExitStatus.FAILED in replays, replays
    shortest = result.transcripts[0]
    assert _replay(shortest, REFERENCE) == 0


@pytest.mark.parametrize("framing", ["lines", "per-read"])
def test_a_careful_course_server_has_no_finding_under_core(framing: str) -> None:
    """No welcome, no answer to `connect`, a `select()` loop, and (per-read) one object per
    `recv()`: all lawful in core, so nothing may be found, and routing is still put to the test."""
    target = f"{COURSE} --framing {framing}"
    done = jsonchat("fuzz", target, "--profile", "core", "--seconds", str(CAREFUL_S))
    assert done.returncode == ExitStatus.OK, done.stdout + done.stderr
    assert "no finding" in done.stdout
    assert "answers connect no" in done.stderr
    for rule in ("ROUTE-1", "ROUTE-5", "ROUTE-6", "VALIDATE-8", "DISCONNECT-1"):
        assert re.search(rf"^  {rule} +\d+ ", done.stdout, re.M), (rule, done.stdout)


@pytest.fixture(scope="module")
def course_faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, FaultRun]]:
    """Every fault's fuzz run, and the full-only bugs', started at once: most of their time is
    spent waiting (for a server that never answers, for restarts), so together they take about
    as long as the slowest."""
    runs = {
        fault: FaultRun(f"{COURSE} --fault {fault}", tmp_path_factory.mktemp(fault), 20)
        for fault in FAULTS
    }
    runs |= {
        variant: FaultRun(broken(variant), tmp_path_factory.mktemp(variant), CAREFUL_S)
        for variant in FULL_ONLY_BUGS
    }
    try:
        yield runs
    finally:
        for run in runs.values():
            run.process.kill()
            run.process.wait()


class FaultRun:
    """`jsonchat fuzz TARGET --profile core`, running in the background."""

    def __init__(self, target: str, directory: Path, seconds: float) -> None:
        self.target = target
        self.transcripts = directory
        options = ["--profile", "core", "--seconds", str(seconds), "--shrink-seconds", "4"]
        options += ["--transcripts", str(directory)]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "protocol.commands", "fuzz", self.target, *options],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._done: tuple[int, str, str] | None = None

    def result(self) -> tuple[int, str, str]:
        if self._done is None:
            out, err = self.process.communicate(timeout=LIMIT_S)
            self._done = (self.process.returncode, out, err)
        return self._done


@pytest.mark.parametrize("variant", FULL_ONLY_BUGS)
def test_a_bug_of_a_full_rule_is_no_finding_under_core(
    course_faults: dict[str, FaultRun], variant: str
) -> None:
    code, out, err = course_faults[variant].result()
    assert code == ExitStatus.OK, out + err
    assert "no finding" in out


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_each_fault_of_a_course_server_is_a_finding_on_its_rule(
    course_faults: dict[str, FaultRun], fault: str
) -> None:
    code, out, err = course_faults[fault].result()
    assert code == ExitStatus.FAILED, out + err  # they all accepted connections: never 3
    assert "Traceback" not in err, err  # the fuzzer's own: the server's is in the report
    involved = re.search(r"^requirements involved: (.*)$", out, re.M)
    assert involved is not None and FAULTS[fault] in involved.group(1).split(", "), out


def test_a_crash_shows_the_traceback_and_its_transcript_replays(
    course_faults: dict[str, FaultRun],
) -> None:
    run = course_faults["crash-on-hangup"]
    code, out, _ = run.result()
    assert code == ExitStatus.FAILED
    assert "the target died" in out
    assert "what the target printed last:" in out
    assert "KeyError" in out and "Traceback (most recent call last)" in out, out
    transcript = run.transcripts / "fuzz-seed0.jsonl"
    assert transcript.exists()
    replayed = jsonchat("replay", str(transcript), run.target)
    assert replayed.returncode in (ExitStatus.OK, ExitStatus.FAILED), replayed.stdout
    assert "Traceback" not in replayed.stdout + replayed.stderr


def test_help_prints_the_exit_statuses() -> None:
    from conformance.kit.exitcodes import TABLE

    done = jsonchat("fuzz", "--help")
    assert " ".join(TABLE.split()).lower() in " ".join(done.stdout.split()).lower()
    assert "--profile" in done.stdout


def test_a_bad_target_is_usage_and_a_closed_port_unreachable() -> None:
    assert jsonchat("fuzz", "nonsense").returncode == ExitStatus.USAGE
    closed = jsonchat("fuzz", "tcp:127.0.0.1:1", "--seconds", "1")
    assert closed.returncode == ExitStatus.UNREACHABLE, closed.stdout + closed.stderr


def _replay(path: Path, target: str) -> int:
    done = jsonchat("replay", str(path), target)
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return done.returncode

"""Verdicts against a server that was not built on our engine: the course-style server.

`tests/conformance/broken/course.py` is what a careful student writes (one select() loop, no
welcome, no reply to `connect`), with named faults. Each run here is `jsonchat conformance` as a
user runs it, and checks that the verdict lands on the rule that describes the server's bug:
never on a rule of another profile because the suite sent frames together, never a skip
because the server refused something it must accept, never a pass for a case that could not
have failed.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from conformance.kit.transcript import Record, Transcript
from conformance.suite.harness import Client
from conformance.suite.verdicts import SERVE_OTHERS_RULE, Skip, Violation, rule_verdict, skip_tag
from tests.conformance.suiterun import SuiteRun, conformance

# Every core section but SHUTDOWN: SHUTDOWN-1 fails while the suite stops targets with SIGTERM,
# which course servers do not catch (the lifecycle branch stops them with SIGINT, as Ctrl-C).
CORE_BUT_SHUTDOWN = "FRAME,ROUTE,DISCONNECT,VALIDATE,ERROR"


def course(framing: str = "lines", fault: str = "none") -> str:
    module = "tests.conformance.broken.course"
    return f"cmd:{sys.executable} -m {module} {{host}} {{port}} --framing {framing} --fault {fault}"


def verdicts(run: SuiteRun) -> dict[str, str]:
    return {rule: entry["verdict"] for rule, entry in run.report["requirements"].items()}


def reasons(run: SuiteRun, rule: str) -> list[str]:
    return [c["reason"] for c in run.report["cases"] if c["broken"] == rule]


# -- a careful server gets no false FAIL --------------------------------------------------------


def test_a_careful_one_object_per_read_server_passes_core(tmp_path: Path) -> None:
    """It breaks when two frames arrive in one read (FRAME-4, full only); the probe notices,
    and every case then sends one frame per read, so ROUTE-6, ROUTE-9 and FRAME-10 pass."""
    run = conformance(
        course("per-read"), tmp_path, "--profile", "core", "--select", CORE_BUT_SHUTDOWN
    )
    assert run.code == 0, run.output
    assert "broke when a connect and a message arrived together" in run.output
    assert set(verdicts(run).values()) == {"pass"}, run.output
    assert {"ROUTE-6", "ROUTE-9", "FRAME-10"} <= run.ids("pass")


def test_a_careful_one_object_per_read_server_passes_all_of_core(tmp_path: Path) -> None:
    """Stopped with SIGINT as its author stops it, paced one frame per read as it needs."""
    run = conformance(course("per-read"), tmp_path, "--profile", "core")
    assert run.code == 0, run.output
    assert {c["verdict"] for c in run.report["cases"]} == {"pass"}, run.output
    assert {"SHUTDOWN-1", "DISCONNECT-7"} <= run.ids("pass")


# -- each fault FAILs on its own rule ----------------------------------------------------------


def test_dropping_coalesced_frames_fails_frame_4_and_nothing_it_did_not_break(
    tmp_path: Path,
) -> None:
    """The close is charged to FRAME-4 with the event that caused it, not to the first rule
    of whatever case happened to send two frames at once."""
    server = course("per-read", "drop-on-coalesced")
    select = "FRAME-4,FRAME-10,ROUTE-6,ROUTE-9,ROUTE-10"
    run = conformance(server, tmp_path / "full", "--select", select)
    assert run.code == 1, run.output
    assert run.ids("fail") == {"FRAME-4"}, run.output
    assert {"FRAME-10", "ROUTE-6", "ROUTE-9", "ROUTE-10"} <= run.ids("pass"), run.output
    assert any("frames arrived in one write" in r for r in reasons(run, "FRAME-4"))
    core = conformance(
        server, tmp_path / "core", "--profile", "core", "--select", CORE_BUT_SHUTDOWN
    )
    assert core.code == 0, core.output


def test_refusing_rooms_fails_route_1_in_core_not_a_skip(tmp_path: Path) -> None:
    run = conformance(course(fault="refuse-rooms"), tmp_path, "--profile", "core")
    assert run.code == 1, run.output
    assert "ROUTE-1" in run.ids("fail"), run.output
    assert not run.cases("skipped"), run.output
    assert any("Rooms are not supported" in r for r in reasons(run, "ROUTE-1"))


def test_refusing_long_names_fails_validate_8(tmp_path: Path) -> None:
    run = conformance(course(fault="short-names"), tmp_path, "--profile", "core")
    assert run.code == 1, run.output
    assert "VALIDATE-8" in run.ids("fail"), run.output
    assert run.ids("fail") <= {"VALIDATE-8", "SHUTDOWN-1"}, run.output


def test_a_server_that_cannot_reassemble_fails_the_split_case(tmp_path: Path) -> None:
    """The split case proves each piece was read alone, so it fails here every time, and the
    same server without the fault passes it: the case decides, not TCP's timing."""
    broken = conformance(course(fault="no-reassembly"), tmp_path / "broken", "--select", "FRAME-3")
    assert broken.code == 1, broken.output
    # FRAME-4 too: like the server without the fault, it cannot take glued frames at all.
    assert broken.ids("fail") == {"FRAME-3", "FRAME-4"}, broken.output
    # Without the fault it reassembles: only glued frames with no newline (FRAME-4, a full
    # rule this core server does not keep) fail, and they are not blamed on FRAME-3.
    fine = conformance(course(), tmp_path / "fine", "--select", "FRAME-3")
    assert fine.ids("fail") == {"FRAME-4"}, fine.output
    assert len([c for c in fine.cases("pass") if "FRAME-3" in c["requirements"]]) >= 3


def test_echoing_everything_fails_frame_10(tmp_path: Path) -> None:
    """What comes back is the client's own frame, no server message: FRAME-10, and the cases
    that cannot run without an echo say so on FRAME-10 too, not on ROUTE-6."""
    run = conformance(course(fault="echo-everything"), tmp_path, "--profile", "core")
    assert run.code == 1, run.output
    assert "FRAME-10" in run.ids("fail"), run.output
    assert run.ids("fail") <= {"FRAME-10", "SHUTDOWN-1"}, run.output
    assert "which is no server message" in run.output


# -- the verdict of a rule is the worst of its cases -------------------------------------------


def test_a_rule_passes_only_when_every_case_citing_it_passed() -> None:
    assert rule_verdict("VALIDATE-8", [("pass", ""), ("pass", "")]) == "pass"
    assert rule_verdict("VALIDATE-8", [("pass", ""), ("skipped", "")]) == "skipped"
    assert rule_verdict("VALIDATE-8", [("pass", ""), ("fail", "VALIDATE-8")]) == "fail"
    # a case that ended on another rule did not show this one
    assert rule_verdict("ROUTE-2", [("pass", ""), ("fail", "ROUTE-6")]) == "skipped"
    assert rule_verdict("WELCOME-1", [("non-strict", "WELCOME-1"), ("skipped", "")]) == (
        "non-strict"
    )
    assert rule_verdict("ROUTE-1", []) == "skipped"


def test_skips_are_typed_and_lawful_only_where_the_profile_says() -> None:
    assert Skip.NO_CONNECT_REPLY.allowed("core") and not Skip.NO_CONNECT_REPLY.allowed("full")
    assert Skip.NO_CONNECT_REPLY.rule == "CONNECT-2"
    assert skip_tag("slow case (fills outbound_queue_bytes: about 9 s; run with --slow)") == (
        "slow case"
    )
    assert skip_tag("precondition: whatever") == "other"
    assert skip_tag("inconclusive on this machine (too slow to read in 3 tries)") == (
        "inconclusive on this machine"
    )
    tags = [reason.tag for reason in Skip]
    assert len(set(tags)) == len(tags) and not [t for t in tags if " (" in t], tags
    # Only capabilities a server may lack are lawful to lack in a profile; a skip of the run's
    # own (slow, inconclusive, not our process, limits) is never the target's fault.
    assert all(reason.rule or set(reason.lawful_in) == {"core", "full"} for reason in Skip)


def test_no_case_skips_but_by_a_typed_reason() -> None:
    """A bare `pytest.skip` in a case would be counted as `other`: a skip nobody named."""
    cases = Path(__file__).resolve().parents[2] / "conformance" / "cases"
    bare: list[str] = []
    for path in sorted(cases.glob("*.py")):
        bare += [
            f"{path.name}:{node.lineno}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("pytest.skip", "pytest.xfail", "pytest.importorskip")
        ]
    assert not bare, f"use a member of verdicts.Skip: {bare}"


# -- a close is charged to the event that came before it ---------------------------------------


class _Chat:
    """What `Client.closed_violation` asks of its case: no target process that died."""

    def target_died(self) -> bool:
        return False


def _closed_after(*records: tuple[float, str, str, bytes], writing: bool = False) -> Violation:
    """The Violation @alice's client reports when the target closed it after `records`."""
    client = Client.__new__(Client)  # no socket: only the transcript is read
    client.label = "@alice"
    client.chat = _Chat()  # type: ignore[assignment]
    client.transcript = Transcript([Record(t, who, event, data) for t, who, event, data in records])
    return client.closed_violation("ROUTE-9", "a delivery", writing=writing)


def test_a_close_after_coalesced_frames_is_frame_4() -> None:
    two = b'{"action":"message"}\n{"action":"message"}\n'
    violation = _closed_after((1.0, "@alice", "send", two), (1.002, "@alice", "closed", b""))
    assert violation.rule == "FRAME-4" and violation.cause == "coalesced"
    assert "closed 2 ms after two frames arrived in one write" in violation.message


def test_a_write_that_finds_the_connection_closed_is_not_its_own_cause() -> None:
    two = b'{"action":"message"}\n{"action":"message"}\n'
    violation = _closed_after(
        (1.0, "@alice", "send", two), (1.01, "@alice", "send", b"{}\n"), writing=True
    )
    assert violation.rule == "FRAME-4"
    assert "closed 10 ms after two frames arrived in one write" in violation.message


def test_a_close_after_another_clients_hang_up_is_the_serve_others_rule() -> None:
    violation = _closed_after(
        (1.0, "@alice", "send", b'{"action":"message"}\n'),
        (1.5, "@bob", "reset", b""),
        (1.503, "@alice", "closed", b""),
    )
    assert violation.rule == SERVE_OTHERS_RULE and violation.cause == "hangup"
    assert "closed 3 ms after @bob reset its connection" in violation.message


def test_any_other_close_is_the_waiting_checks_rule_with_what_was_sent() -> None:
    violation = _closed_after(
        (1.0, "@bob", "close", b""),
        (2.0, "@alice", "send", b'{"action":"message"}\n'),
        (2.01, "@alice", "closed", b""),
    )
    assert violation.rule == "ROUTE-9" and violation.cause == "closed"
    assert "closed 10 ms after it sent" in violation.message and "a delivery" in violation.message

"""The suite against servers as course students write them: started, crashed, killed, replayed.

The target is tests/conformance/broken/course.py (a select() server written from the habits of
course servers, not from our engine), with one named fault per test. What is checked is what an
implementer reads: the exit status, the rule each failure names, the server's own traceback in
the report and in the JSON, and that the suite never fails by itself (INTERNALERROR) nor calls
a server that did accept connections unreachable (exit status 3).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.kit.target import started
from conformance.suite.verdicts import requirement
from tests.conformance.suiterun import LIMIT_S, REFERENCE, ROOT, SuiteRun, conformance, jsonchat

COURSE = f"{sys.executable} -m tests.conformance.broken.course {{host}} {{port}}"


def course(fault: str = "none", framing: str = "lines") -> str:
    return f"cmd:{COURSE} --framing {framing} --fault {fault}"


def sane(run: SuiteRun) -> None:
    """What no run may ever do: fail by itself, or call a server that accepted unreachable."""
    assert "INTERNALERROR" not in run.output, run.output
    assert run.code != 3, run.output
    assert run.report, run.output  # the JSON report was written


def test_the_careful_course_server_passes_core(tmp_path: Path) -> None:
    """No welcome, no reply to connect, Ctrl-C handled: all that core asks. SHUTDOWN-1 is
    checked with SIGINT, as such a server is stopped; it does not catch SIGTERM."""
    run = conformance(course(), tmp_path, "--profile", "core")
    assert run.code == 0, run.output
    assert {c["verdict"] for c in run.report["cases"]} == {"pass"}, run.output
    assert {"SHUTDOWN-1", "DISCONNECT-7"} <= run.ids("pass")
    assert not run.report["restarts"]


@requirement("SHUTDOWN-1", "SHUTDOWN-2")
def test_sigterm_is_a_rule_of_its_own_and_the_stop_signal_can_be_chosen(tmp_path: Path) -> None:
    run = conformance(course(), tmp_path, "--select", "SHUTDOWN")
    assert run.code == 1, run.output
    assert run.ids("pass") == {"SHUTDOWN-1"} and run.ids("fail") == {"SHUTDOWN-2"}, run.output
    by_term = conformance(
        course(), tmp_path / "term", "--select", "SHUTDOWN", "--stop-signal", "TERM"
    )
    assert by_term.code == 1, by_term.output
    assert by_term.ids("fail") == {"SHUTDOWN-1", "SHUTDOWN-2"}, by_term.output


@requirement("DISCONNECT-7")
@pytest.mark.parametrize(
    ("fault", "traceback"),
    [
        ("crash-on-hangup", "KeyError"),
        ("crash-on-early-hangup", "OSError: [Errno 107] Transport endpoint is not connected"),
    ],
)
def test_a_server_that_dies_when_a_client_hangs_up_fails_and_the_run_goes_on(
    tmp_path: Path, fault: str, traceback: str
) -> None:
    run = conformance(course(fault), tmp_path, "--profile", "core")
    sane(run)
    assert run.code == 1, run.output
    # Blamed on the rule about serving everyone else, and on nothing it does not break: a death
    # after a case's clients closed is that case's, not the next one's.
    assert run.ids("fail") == {"DISCONNECT-7"}, run.output
    assert {"ROUTE-1", "ROUTE-6", "SHUTDOWN-1"} <= run.ids("pass"), run.output
    dead = [c for c in run.cases("fail") if c["server_output"]]
    assert dead and all(traceback in c["server_output"] for c in dead), run.output
    assert all(c["last_bytes"] and Path(c["transcript"]).exists() for c in dead)
    own = [c for c in dead if c["stage"] is None]  # the case that was running when it died
    assert own and all(c["requirements"] == ["DISCONNECT-7"] for c in own)
    assert traceback in run.output and "what the server printed last:" in run.output
    assert run.report["restarts"] and "restarted" in run.output
    if fault == "crash-on-hangup":  # the probe closes its client: it kills the server too
        (probe,) = [c for c in run.report["cases"] if c["nodeid"] == "probe"]
        assert probe["broken"] == "DISCONNECT-7" and "without `disconnect`" in probe["reason"]


@requirement("DISCONNECT-6", "DISCONNECT-7")
def test_a_death_after_a_hang_up_fails_the_case_s_own_rule_too(tmp_path: Path) -> None:
    run = conformance(course("crash-on-hangup"), tmp_path, "--select", "DISCONNECT-6")
    sane(run)
    assert run.code == 1, run.output
    assert {"DISCONNECT-6", "DISCONNECT-7"} <= run.ids("fail"), run.output
    (case,) = [c for c in run.cases("fail") if c["broken"] == "DISCONNECT-6"][:1]
    assert "KeyError" in case["server_output"]


def test_a_server_that_closes_every_connection_at_once_fails_route_6(tmp_path: Path) -> None:
    """It accepts (so not exit 3) and then serves no one: the probe learns nothing, and the
    core rule that a message to oneself comes back (ROUTE-6) names the bug."""
    run = conformance(course("close-at-once"), tmp_path, "--profile", "core")
    sane(run)
    assert run.code == 1, run.output
    assert "ROUTE-6" in run.ids("fail"), run.output
    assert "the probe learnt nothing" in run.output


def test_a_server_that_never_answers_fails_route_6(tmp_path: Path) -> None:
    run = conformance(course("never-answers"), tmp_path, "--profile", "core")
    sane(run)
    assert run.code == 1, run.output
    assert "ROUTE-6" in run.ids("fail"), run.output


def test_a_tcp_target_that_stops_mid_run_fails_the_running_case(tmp_path: Path) -> None:
    """The suite cannot restart a server it did not start: the case that was running fails
    with 'stopped accepting connections', the rest are reported as not run, exit status 1."""
    report = tmp_path / "report.json"
    with started(course()[len("cmd:") :]) as server:
        address = f"tcp:{server.host}:{server.port}"
        suite = subprocess.Popen(
            [
                *(sys.executable, "-m", "protocol.commands", "conformance", address, "-v"),
                *("--profile", "core", "--json", str(report), "--transcripts", str(tmp_path)),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # a line per case as it ends
        )
        assert suite.stdout is not None
        lines = []
        for line in suite.stdout:
            lines.append(line)
            if sum(" PASS" in seen for seen in lines) >= 5:
                break
        server.signal(signal.SIGKILL)
        output = "".join(lines) + suite.communicate(timeout=LIMIT_S)[0]
    run = SuiteRun(suite.returncode, output, json.loads(report.read_text()))
    sane(run)
    assert run.code == 1, run.output
    stopped = [c for c in run.cases("fail") if "stopped accepting connections" in c["reason"]]
    assert stopped, run.output
    not_run = [c for c in run.report["cases"] if c["not_run"]]
    assert not_run and all(c["verdict"] == "skipped" for c in not_run), run.output
    assert f"{len(not_run)} not run" in run.output
    assert len(run.cases("pass")) >= 5


@requirement("DISCONNECT-7")
def test_replay_says_fixed_by_the_case_s_expectation(tmp_path: Path) -> None:
    """A transcript of a failure replayed against the same broken server: still failing (1);
    against the reference: fixed (0), although its bytes differ from the recording."""
    broken = course("crash-on-hangup")
    run = conformance(broken, tmp_path, "--select", "DISCONNECT-7", "--profile", "core")
    assert run.code == 1, run.output
    own = [c for c in run.cases("fail") if c["stage"] is None and "after connecting" in c["nodeid"]]
    transcript = own[0]["transcript"]
    again = jsonchat("replay", transcript, broken)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "still failing" in again.stdout and "the bytes" in again.stdout
    fixed = jsonchat("replay", transcript, REFERENCE)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fixed" in fixed.stdout and "the bytes differ from the recording" in fixed.stdout


@requirement("DISCONNECT-7")
def test_a_server_that_dies_of_coalesced_frames_gets_a_verdict_naming_them(tmp_path: Path) -> None:
    """A server that dies of two objects in one read: the probe's connect and message, sent back
    to back, kill it when TCP delivers them together (not always, on a loaded machine), and so
    do cases that send without waiting. Each death names the burst that caused it, the run
    restarts the server and goes on, and the server did accept, so the exit status is 1."""
    target = (
        f"cmd:{sys.executable} -m tests.conformance.broken.crash_on_coalesced {{host}} {{port}}"
    )
    run = conformance(target, tmp_path, "--profile", "core")
    sane(run)
    assert run.code == 1, run.output
    deaths = [c for c in run.cases("fail") if c["broken"] == "DISCONNECT-7" and c["server_output"]]
    assert deaths and all("JSONDecodeError" in c["server_output"] for c in deaths), run.output
    assert any("frames without waiting for an answer" in c["reason"] for c in deaths)
    assert (
        run.report["capabilities"]["echoes_self"] is True
    )  # learnt, by a careful probe if need be
    assert {"FRAME-1", "ROUTE-1"} <= run.ids("pass"), run.output


def test_exit_statuses_are_the_shared_table(tmp_path: Path) -> None:
    """2 for a bad TARGET in conformance and replay alike (it was 4 in conformance), and both
    --help texts print the table."""
    assert jsonchat("conformance", "tcp:nowhere").returncode == 2
    transcript = tmp_path / "t.jsonl"
    transcript.write_text('{"format": "jsonchat-transcript/1", "case": "probe"}\n')
    assert jsonchat("replay", str(transcript), "tcp:nowhere").returncode == 2
    for command in ("conformance", "replay"):
        help_text = " ".join(jsonchat(command, "--help").stdout.split())
        assert "3 the target never accepted a connection, 5 nothing ran" in help_text


def test_the_pytest_route_refuses_a_folder_that_shadows_a_jsonchat_package(
    tmp_path: Path,
) -> None:
    """`python -m pytest` puts the current folder first on sys.path, so a student's own
    protocol.py replaced ours (an AttributeError deep in the suite). Now the message names the
    file; an unrelated pytest run in the same folder is not disturbed by the plugin."""
    shadow = tmp_path / "protocol.py"
    shadow.write_text("limits = None\n")
    (tmp_path / "test_own.py").write_text("import protocol\n\ndef test_own():\n    pass\n")
    pytest_here = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    suite = [f"--jsonchat-target={REFERENCE}", "--pyargs", "conformance.cases"]
    refused = subprocess.run(
        [*pytest_here, *suite], cwd=tmp_path, capture_output=True, text=True, timeout=LIMIT_S
    )
    assert refused.returncode != 0
    message = " ".join((refused.stdout + refused.stderr).split())
    assert f"protocol ({shadow})" in message and "jsonchat conformance" in message, message
    own = subprocess.run(
        [*pytest_here, "test_own.py"], cwd=tmp_path, capture_output=True, text=True, timeout=LIMIT_S
    )
    assert own.returncode == 0, own.stdout + own.stderr

"""The suite checks itself: coverage of the rules, selection, listing, and honest exit codes.

A suite that skips a rule, cites one that does not exist, or exits 0 after running nothing would
let a broken server pass; each test here fails in one of those cases.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import protocol
from conformance.kit.target import free_port
from conformance.kit.transcript import Transcript
from conformance.kit.wire import WireClient
from conformance.replay import replay
from conformance.suite.verdicts import unknown_ids
from tests.conformance.suiterun import (
    REFERENCE,
    ROOT,
    broken,
    conformance,
    jsonchat,
    plugin_pytest,
)

LISTED = re.compile(r"^(.+?)  \[([A-Z0-9, -]+)\]$", re.MULTILINE)


def listed(*args: str) -> dict[str, list[str]]:
    done = jsonchat("conformance", "--list", *args)
    assert done.returncode == 0, done.stdout + done.stderr
    cases = {node: ids.split(", ") for node, ids in LISTED.findall(done.stdout)}
    assert f"{len(cases)} cases selected" in done.stdout
    return cases


@pytest.mark.parametrize("profile", protocol.PROFILES)
def test_every_server_rule_of_the_profile_has_a_case(profile: protocol.Profile) -> None:
    cases = listed("--profile", profile)
    cited = {rule for ids in cases.values() for rule in ids}
    wanted = {
        r.id for r in protocol.requirements() if r.subject == "server" and r.in_profile(profile)
    }
    must = {r for r in wanted if protocol.requirements_by_id()[r].level == "MUST"}
    assert must - cited == set()
    assert wanted - cited == set()  # SHOULD and MAY rules too
    assert not unknown_ids(cited)
    assert all(protocol.requirements_by_id()[r].in_profile(profile) for r in cited)


def test_selection_by_id_section_and_level() -> None:
    assert {tuple(ids) for ids in listed("--select", "ROUTE-3").values()} == {("ROUTE-3",)}
    assert all(
        any(i.startswith("WELCOME-") for i in ids) for ids in listed("--select", "WELCOME").values()
    )
    shoulds = listed("--select", "SHOULD")
    level = protocol.requirements_by_id()
    assert shoulds and all(any(level[i].level == "SHOULD" for i in ids) for ids in shoulds.values())


def test_a_case_citing_an_unknown_id_is_an_error(tmp_path: Path) -> None:
    assert unknown_ids(["ROUTE-1", "ROUTE-99", "CLIENT-1"]) == ["ROUTE-99", "CLIENT-1"]
    case = tmp_path / "test_bad.py"
    case.write_text(
        "from conformance.suite.verdicts import requirement\n\n"
        "@requirement('ROUTE-99')\ndef test_x(chat):\n    pass\n"
    )
    done = plugin_pytest(str(case), "--jsonchat-list")
    assert done.returncode != 0
    assert "cites unknown requirement IDs ['ROUTE-99']" in done.stdout + done.stderr


def test_every_event_of_the_machine_has_a_driver() -> None:
    """Imported in a child process: the cases' markers exist only where the plugin is loaded."""
    code = "from conformance.cases.test_states import DRIVERS; print(' '.join(DRIVERS))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    events = {e["name"] for e in protocol.machine_spec()["events"]}
    assert events <= set(done.stdout.split()), done.stderr


def test_selecting_nothing_fails(tmp_path: Path) -> None:
    run = conformance(REFERENCE, tmp_path, "--select", "NOPE-1")
    assert run.code == 5, run.output


def test_a_run_where_every_case_is_skipped_fails(tmp_path: Path) -> None:
    run = conformance(REFERENCE, tmp_path, "--select", "LIMIT-3")  # 30 s: skipped without --slow
    assert run.code == 5, run.output
    assert "no case ran" in run.output


def test_nothing_listening_is_a_clear_quick_error(tmp_path: Path) -> None:
    started = time.monotonic()
    run = conformance(f"tcp:127.0.0.1:{free_port()}", tmp_path)
    assert run.code == 3, run.output
    assert "nothing accepts connections at 127.0.0.1:" in run.output
    assert time.monotonic() - started < 15


def test_a_command_that_never_listens_is_a_clear_error(tmp_path: Path) -> None:
    run = conformance(f"cmd:{sys.executable} -c 'import sys; sys.exit(7)' {{port}}", tmp_path)
    assert run.code == 3, run.output
    assert "exit 7" in run.output


def test_a_failure_writes_a_transcript_that_replays(tmp_path: Path) -> None:
    target = broken("echo_room")
    run = conformance(target, tmp_path, "--select", "ROUTE-3")
    assert run.code == 1
    (case,) = [c for c in run.cases("fail") if c["requirements"] == ["ROUTE-3"]]
    assert case["broken"] == "ROUTE-3" and "got" in case["reason"]
    assert (
        run.report["requirements"]["ROUTE-3"]["text"]
        == protocol.requirements_by_id()["ROUTE-3"].text
    )
    transcript = case["transcript"]
    assert f"jsonchat replay {transcript} " in run.output
    again = jsonchat("replay", transcript, target)
    assert again.returncode == 1, again.stdout  # the failure is still there
    assert "the bytes match the recording" in again.stdout and "still failing" in again.stdout
    reference = jsonchat("replay", transcript, REFERENCE)
    assert reference.returncode == 0, reference.stdout  # fixed: the case passes now
    assert "DIFFERS" in reference.stdout and "fixed" in reference.stdout


def test_pytest_runs_the_cases_directly_and_the_plugin_is_inert_without_a_target() -> None:
    direct = plugin_pytest(
        f"--jsonchat-target={REFERENCE}",
        "--pyargs",
        "conformance.cases",
        "--jsonchat-select",
        "ROUTE-1",
        "-q",
        "-p",
        "no:cacheprovider",
    )
    assert direct.returncode == 0 and "ROUTE-1" in direct.stdout, direct.stdout
    inert = plugin_pytest(
        "--pyargs", "conformance.cases", "-q", "-k", "room", "-p", "no:cacheprovider"
    )
    assert inert.returncode == 0, inert.stdout
    assert "skipped" in inert.stdout and "jsonchat conformance" not in inert.stdout


def test_a_client_of_another_address_is_replayed_from_it() -> None:
    """Cases about limits across addresses connect from 127.0.0.2 and up; the transcript keeps
    the address, so that a replay is a client of the same address again."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(5)
        address = server.getsockname()
        recorded = Transcript()
        WireClient(address, "far", 1.0, recorded, source="127.0.0.2").close()
        with server.accept()[0] as first:
            assert first.getpeername()[0] == "127.0.0.2"
        assert recorded.records[0].event == "open" and recorded.records[0].data == b"127.0.0.2"
        replay(recorded, [address], 0.2)
        with server.accept()[0] as again:
            assert again.getpeername()[0] == "127.0.0.2"

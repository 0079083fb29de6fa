"""The suite against several targets (a cluster's nodes): each case spreads its clients over them.

Two targets that are one server (the reference, and a front forwarding to it from a second
port) must pass as the server alone does, with clients on both; two independent reference
servers, which share nothing, must fail the rules whose clients end up on different nodes, and
pass the rest. A failure says which target each client was on, and replays on as many targets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from html import escape
from pathlib import Path

import pytest

from conformance.kit.target import started
from tests.conformance.front import Front
from tests.conformance.suiterun import REFERENCE, SuiteRun, broken, conformance, jsonchat

CROSSING = {"ROUTE-1", "ROUTE-5", "ROUTE-8", "CONNECT-3"}  # a sender and a receiver, or a claim


@pytest.fixture(scope="module")
def one_server() -> Iterator[tuple[list[str], Front]]:
    """One reference server at two addresses: its own, and a front's."""
    with started(REFERENCE.removeprefix("cmd:")) as server, Front(server.address) as front:
        yield [f"tcp:127.0.0.1:{server.port}", f"tcp:127.0.0.1:{front.address[1]}"], front


@pytest.fixture(scope="module")
def independent_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[SuiteRun, Path]:
    """The full profile against two reference servers that know nothing of each other, and
    where its HTML report is."""
    page = tmp_path_factory.mktemp("independent") / "report.html"
    return conformance([REFERENCE, REFERENCE], page.parent, "--html", str(page)), page


@pytest.fixture(scope="module")
def independent(independent_run: tuple[SuiteRun, Path]) -> SuiteRun:
    return independent_run[0]


def test_one_server_at_two_addresses_passes_full_with_clients_on_both(
    one_server: tuple[list[str], Front], tmp_path: Path
) -> None:
    targets, front = one_server
    before = front.accepted
    run = conformance(targets, tmp_path, "--html", str(tmp_path / "report.html"))
    assert run.code == 0, run.output
    assert not run.cases("fail") and not run.cases("error"), run.output
    assert run.ids("pass") >= CROSSING, run.output
    assert run.report["targets"] == targets
    assert front.accepted - before > 100  # the clients on #2 really came through the front
    crossed = [
        c for c in run.cases("pass") if set(c["requirements"]) & CROSSING and c.get("placement")
    ]
    assert crossed and all(set(c["placement"].values()) == {1, 2} for c in crossed)
    assert f"targets #1 {targets[0]}, #2 {targets[1]}" in run.output


def test_the_pytest_route_takes_the_target_option_once_per_node(
    one_server: tuple[list[str], Front], tmp_path: Path
) -> None:
    from tests.conformance.suiterun import plugin_pytest

    before = one_server[1].accepted
    options = [f"--jsonchat-target={target}" for target in one_server[0]]
    done = plugin_pytest(
        *options,
        "--pyargs",
        "conformance.cases",
        "--jsonchat-select",
        "ROUTE-5",
        "--jsonchat-transcripts",
        str(tmp_path),
        "-q",
        "-p",
        "no:cacheprovider",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "targets #1 " in done.stdout and "ROUTE-5" in done.stdout
    assert one_server[1].accepted > before


def test_independent_servers_fail_the_rules_that_cross_nodes(
    independent_run: tuple[SuiteRun, Path],
) -> None:
    run, page = independent_run
    assert run.code == 1, run.output
    assert run.ids("fail") >= CROSSING, run.output
    # What one node decides alone still passes: framing, validation, a message to oneself.
    assert {"FRAME-1", "FRAME-4", "VALIDATE-1", "ROUTE-6", "ERROR-1"} <= run.ids("pass")
    for case in run.cases("fail"):
        assert set(case["placement"].values()) <= {1, 2}
    (direct,) = [
        c
        for c in run.cases("fail")
        if c["nodeid"].endswith("test_direct_message_reaches_its_recipient_only")
    ]
    assert direct["broken"] == "ROUTE-5"
    placement = direct["placement"]
    assert set(placement.values()) == {1, 2}
    said = ", ".join(f"{label} on #{number}" for label, number in placement.items())
    assert f"clients: {said}" in run.output
    html = page.read_text("utf-8")
    assert f"targets <code>#1 {escape(REFERENCE)}, #2 {escape(REFERENCE)}</code>" in html
    assert "which target each client was on" in html and escape(said) in html


def test_a_cross_node_failure_replays_on_as_many_targets(
    independent: SuiteRun, one_server: tuple[list[str], Front]
) -> None:
    (case,) = [c for c in independent.cases("fail") if c["broken"] == "CONNECT-3"]
    transcript = case["transcript"]
    header = json.loads(Path(transcript).read_text("utf-8").splitlines()[0])
    assert header["targets"] == [REFERENCE, REFERENCE]
    assert header["placement"] == case["placement"]
    replay = f"jsonchat replay {transcript} '{REFERENCE}' '{REFERENCE}'"
    assert replay in independent.output
    again = jsonchat("replay", transcript, REFERENCE, REFERENCE)
    assert again.returncode == 1, again.stdout  # still two servers that share nothing
    assert "the bytes match the recording" in again.stdout
    fixed = jsonchat("replay", transcript, *one_server[0])
    assert fixed.returncode == 0, fixed.stdout  # one server behind both: the case passes
    alone = jsonchat("replay", transcript, REFERENCE)
    assert alone.returncode == 2 and "recorded against 2 targets" in alone.stdout


def test_a_crash_is_the_crashed_targets_and_only_it_restarts(tmp_path: Path) -> None:
    """The crashing server first: a case of one client has it on #1 (round-robin starts there
    in every case), and the reference, #2, must never be the one blamed or restarted."""
    run = conformance(
        [broken("crash_utf8"), REFERENCE], tmp_path, "--select", "FRAME-1,FRAME-2,FRAME-7,FRAME-8"
    )
    assert run.code == 1, run.output
    crashed = [c for c in run.cases("fail") if "the target died during this case" in c["reason"]]
    assert crashed, run.output
    assert all("#1 '" in c["reason"] and "crash_utf8" in c["reason"] for c in crashed)
    assert all("UnicodeDecodeError" in c["reason"] for c in crashed)
    restarts = run.report["restarts"]
    assert len(restarts) >= len(crashed) - 1
    assert all("#1 " in r and "crash_utf8" in r for r in restarts), restarts
    assert {"FRAME-1", "FRAME-2", "FRAME-8"} <= run.ids("pass")


def test_one_target_reports_as_before(tmp_path: Path) -> None:
    run = conformance(REFERENCE, tmp_path, "--select", "ROUTE-5")
    assert run.code == 0, run.output
    assert f"target {REFERENCE}  profile" in run.output and "#1" not in run.output
    assert all("placement" not in c for c in run.report["cases"])


def test_a_bad_target_among_several_is_a_usage_error(tmp_path: Path) -> None:
    run = conformance([REFERENCE, "tcp:nowhere"], tmp_path)
    assert run.code == 2 and "tcp:nowhere" in run.output


@pytest.mark.skipif(sys.platform != "linux", reason="the front's reset needs Linux semantics")
def test_the_front_keeps_resets_and_half_closes(one_server: tuple[list[str], Front]) -> None:
    """What the front must not change for the suite's verdicts to hold through it."""
    import socket
    import struct

    host, port = one_server[1].address
    half = socket.create_connection((host, port))
    half.sendall(b'{"action":"disconnect"}\n')
    half.shutdown(socket.SHUT_WR)
    half.settimeout(5)
    received = b""
    while chunk := half.recv(4096):
        received += chunk
    assert received.endswith(b'{"status":"disconnect"}\n')
    half.close()
    reset = socket.create_connection((host, port))
    reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reset.close()  # the server sees a reset, and outlives it
    assert jsonchat("conformance", *one_server[0], "--select", "DISCONNECT-7").returncode == 0

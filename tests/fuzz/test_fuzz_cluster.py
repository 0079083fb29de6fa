"""The fuzzer against several targets: each example's clients spread over them round-robin, and
one engine predicts them all, as it would one server.

One reference server at two addresses (its own, and a test-only front's) gives no finding, with
clients on both; two independent reference servers give one (a room, a user or `#all` that the
other node never hears of), whose transcript names the targets and each client's, and replays
against two targets only.
"""

from __future__ import annotations

import json
from pathlib import Path

from conformance.kit.exitcodes import ExitStatus
from conformance.kit.target import started
from tests.conformance.front import Front
from tests.conformance.suiterun import REFERENCE, jsonchat

SEARCH_S = "60"  # a finding against independent servers comes within seconds
SHRINK_S = "5"


def test_one_server_at_two_addresses_gives_no_finding() -> None:
    with started(REFERENCE.removeprefix("cmd:")) as server, Front(server.address) as front:
        targets = [f"tcp:127.0.0.1:{server.port}", f"tcp:127.0.0.1:{front.address[1]}"]
        done = jsonchat("fuzz", *targets, "--seconds", "6", "--seed", "5")
        assert done.returncode == ExitStatus.OK, done.stdout + done.stderr
        assert "no finding" in done.stdout
        assert front.accepted > 10  # the clients opened second, fourth, ... came through it


def test_independent_servers_give_a_finding_that_replays_on_two_targets(tmp_path: Path) -> None:
    done = jsonchat(
        "fuzz",
        REFERENCE,
        REFERENCE,
        "--seconds",
        SEARCH_S,
        "--shrink-seconds",
        SHRINK_S,
        "--seed",
        "3",
        "--transcripts",
        str(tmp_path),
        "--html",
        str(tmp_path / "finding.html"),
    )
    assert done.returncode == ExitStatus.FAILED, done.stdout + done.stderr
    assert "FINDING" in done.stdout
    clients = next(line for line in done.stdout.splitlines() if line.startswith("clients: "))
    assert "c1 on #1" in clients and "c2 on #2" in clients
    page = (tmp_path / "finding.html").read_text("utf-8")
    assert "targets <code>#1 " in page and clients.removeprefix("clients: ") in page
    transcript = tmp_path / "fuzz-seed3.jsonl"
    header = json.loads(transcript.read_text("utf-8").splitlines()[0])
    assert header["targets"] == [REFERENCE, REFERENCE]
    assert header["placement"]["c1"] == 1 and header["placement"]["c2"] == 2
    assert f"replay: jsonchat replay {transcript} '{REFERENCE}' '{REFERENCE}'" in done.stdout
    again = jsonchat("replay", str(transcript), REFERENCE, REFERENCE)
    assert again.returncode == ExitStatus.FAILED, again.stdout  # still two separate servers
    assert "still failing" in again.stdout
    alone = jsonchat("replay", str(transcript), REFERENCE)
    assert alone.returncode == ExitStatus.USAGE
    assert "recorded against 2 targets" in alone.stdout

"""The suite against servers broken on purpose: each must fail with the rules it breaks.

Each variant (tests/conformance/broken/) is the reference engine and server with one fault. Runs
are narrowed with `--select` to the rules the fault touches, to keep this file fast; the
reference itself gets the whole full profile, which must pass with nothing but passes and skips.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conformance.suiterun import REFERENCE, broken, conformance


def test_the_reference_passes_the_full_profile(tmp_path: Path) -> None:
    run = conformance(REFERENCE, tmp_path)
    assert run.code == 0, run.output
    verdicts = {c["verdict"] for c in run.report["cases"]}
    assert verdicts <= {"pass", "skipped"}, run.output
    assert len(run.cases("pass")) > 100
    # Skipped only when slow, and ERROR-3's case: a server with no broker never answers
    # `Service Unavailable`, so that case has nothing to judge (a skip, never a pass).
    lawful = ("slow case (", "never unavailable (")
    assert all(c["reason"].startswith(lawful) for c in run.cases("skipped")), run.output


def test_limits_are_checked_against_the_ones_a_server_announces(tmp_path: Path) -> None:
    """With small limits (announced in its welcome), the limit cases run in seconds."""
    small = "--connect-timeout-s 3 --evict-after-s 1 --outbound-queue-bytes 65536"
    small += " --max-connections-per-address 30 --max-connections 50"
    target = f"cmd:{sys.executable} -m transport.cli serve {small} {{host}} {{port}}"
    run = conformance(target, tmp_path, "--select", "LIMIT")
    assert run.code == 0, run.output
    assert {"LIMIT-3", "LIMIT-4", "LIMIT-5"} <= run.ids("pass"), run.output
    assert not run.cases("skipped"), run.output


def test_eviction_at_max_connections_is_checked_with_clients_of_several_addresses(
    tmp_path: Path,
) -> None:
    """A server that evicts only at the per-address limit passes the per-address case and
    refuses newcomers at `max_connections`: only the case with clients on several loopback
    addresses sees it (a MAY, so informational, and exit 0)."""
    run = conformance(broken("evict_per_address_only"), tmp_path, "--select", "LIMIT-3")
    assert run.code == 0, run.output
    verdicts = {c["nodeid"].split("::")[-1]: c["verdict"] for c in run.report["cases"]}
    name = "test_at_max_connections_a_newcomer_of_another_address_takes_the_oldest_idle_place"
    assert verdicts[name] == "informational", run.output
    assert verdicts[
        "test_a_newcomer_at_the_limit_takes_the_place_of_the_oldest_idle_connection"
    ] == ("pass"), run.output
    assert "LIMIT-3" in run.ids("informational"), run.output


def test_an_address_refused_one_connection_too_soon_is_seen(tmp_path: Path) -> None:
    """A server that counts an address's first connection twice still refuses the connection
    past its limit, as the older LIMIT-5 case asks; the case that fills the limit to the last
    connection sees the one refused too soon (a MAY, so informational, and exit 0)."""
    run = conformance(broken("miscount_address"), tmp_path, "--select", "LIMIT-5")
    assert run.code == 0, run.output
    verdicts = {c["nodeid"].split("::")[-1]: c for c in run.report["cases"]}
    case = verdicts["test_an_address_is_served_up_to_its_limit_and_refused_past_it"]
    assert case["verdict"] == "informational" and case["broken"] == "LIMIT-5", run.output
    assert "connection 30 of the 30" in case["reason"], run.output
    assert verdicts["test_connections_past_the_limit_are_refused"]["verdict"] == "pass"


def test_a_welcome_sent_only_to_silent_clients_is_not_taken_for_none(tmp_path: Path) -> None:
    """The probe speaks first and gets no welcome from this server; a silent client does get
    one. The cases about the welcome run (not skipped as for a server that sends none) and
    find the welcome missing for a client that spoke first: COMPAT-1, a SHOULD."""
    run = conformance(broken("welcome_only_when_silent"), tmp_path, "--select", "COMPAT-1")
    assert run.code == 0, run.output
    assert "COMPAT-1" in run.ids("non-strict"), run.output
    assert not [c for c in run.cases("skipped") if c["reason"].startswith("no welcome")]


@pytest.mark.parametrize(
    ("variant", "select", "expected"),
    [
        ("echo_room", "ROUTE-1,ROUTE-3", {"ROUTE-3"}),
        ("drop_direct", "ROUTE-5,ROUTE-6", {"ROUTE-5"}),
        ("spoof", "ROUTE-13,ROUTE-1", {"ROUTE-13"}),
        ("silent_connect", "CONNECT-2,CONNECT-1", {"CONNECT-2"}),
        ("no_newline", "FRAME-9,FRAME-10", {"FRAME-9"}),
    ],
)
def test_a_broken_server_fails_the_rule_it_breaks(
    tmp_path: Path, variant: str, select: str, expected: set[str]
) -> None:
    run = conformance(broken(variant), tmp_path, "--select", select)
    assert run.code == 1, run.output
    assert expected <= run.ids("fail"), run.output
    for case in run.cases("fail"):
        assert case["transcript"] and Path(case["transcript"]).exists()
        assert case["broken"] in case["requirements"]
    assert "jsonchat replay " in run.output


def test_a_server_that_crashes_fails_and_the_suite_goes_on(tmp_path: Path) -> None:
    run = conformance(broken("crash_utf8"), tmp_path, "--select", "FRAME-1,FRAME-2,FRAME-7,FRAME-8")
    assert run.code == 1, run.output
    assert "FRAME-7" in run.ids("fail")
    crashed = [c for c in run.cases("fail") if "the target died during this case" in c["reason"]]
    assert crashed and all("UnicodeDecodeError" in c["reason"] for c in crashed)
    assert {"FRAME-1", "FRAME-2", "FRAME-8"} <= run.ids("pass")  # restarted, and went on
    assert len(run.report["restarts"]) >= len(crashed) - 1


def test_not_answering_connect_passes_core(tmp_path: Path) -> None:
    run = conformance(broken("silent_connect"), tmp_path, "--profile", "core")
    assert run.code == 0, run.output
    assert (
        run.report["profile"] == "core" and run.report["capabilities"]["answers_connect"] is False
    )
    assert {c["verdict"] for c in run.report["cases"]} == {"pass"}
    core = {r for r, v in run.report["requirements"].items() if v["profile"] == "core"}
    assert core == set(run.report["requirements"])


def test_without_an_echo_to_oneself_the_rest_fails_on_route_6(tmp_path: Path) -> None:
    """ROUTE-6 is core: no profile lets a server lack it, so the cases that need it fail on it
    (not skip), and the rules they would have shown are reported as not shown."""
    run = conformance(broken("no_self_echo"), tmp_path, "--select", "ROUTE-2,ROUTE-3,ROUTE-6")
    assert run.code == 1, run.output
    assert run.ids("fail") == {"ROUTE-6"}
    assert {"ROUTE-2", "ROUTE-3"} <= run.ids("skipped")
    assert all(c["broken"] == "ROUTE-6" for c in run.cases("fail"))


def test_a_broken_should_is_non_strict_and_does_not_fail_the_run(tmp_path: Path) -> None:
    no_welcome = f"cmd:{sys.executable} -m transport.cli serve --no-welcome {{host}} {{port}}"
    run = conformance(no_welcome, tmp_path, "--select", "WELCOME")
    assert run.code == 0, run.output
    assert run.ids("non-strict") == {"WELCOME-1"}
    assert "NON-STRICT" in run.output and "WELCOME-1 (SHOULD, full)" in run.output

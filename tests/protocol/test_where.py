"""`jsonchat spec where`: every rule can be followed from its text to the lines and tests behind it.

Where reads source as text, so it is checked against what pytest itself collects (the cases and
tests citing each rule must be the same) and against the convention for enforcing lines: every
server MUST rule is decided on a line of engine/ or transport/ that carries its ID in a comment.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import pytest

from engine.rules import OUTSIDE_ENGINE
from protocol import requirements, requirements_by_id
from protocol.where import (
    GENERATED,
    RULE_TABLE,
    UnknownRule,
    annotated_lines,
    conformance_cases,
    defining_data,
    report,
    repository_tests,
    where,
)
from tests.citations import collect

RULES = [r.id for r in requirements()]
SERVER_MUSTS = [r.id for r in requirements() if r.level == "MUST" and r.subject == "server"]
# The interactive client's files follow the server's rules from the other side (it refuses the
# names the server would refuse); a line there enforces nothing of the server's.
CLIENT_FILES = ("transport/client.py", "transport/client_core.py")


def jsonchat(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocol.commands", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_has_a_report_naming_its_text(rule: str) -> None:
    found = where(rule)
    text = report(found)
    assert text.startswith(f"{rule}  {found.requirement.level}")
    assert found.requirement.text in text


def test_the_command_prints_every_rule_and_refuses_an_unknown_one() -> None:
    every = jsonchat("spec", "where", "--all")
    assert every.returncode == 0, every.stderr
    headers = [line.split()[0] for line in every.stdout.splitlines() if line[:1].isupper()]
    assert headers == RULES
    one = jsonchat("spec", "where", "route-3")
    assert one.returncode == 0 and one.stdout.startswith("ROUTE-3  MUST")
    unknown = jsonchat("spec", "where", "ROUT-3")
    assert unknown.returncode == 2
    assert "no rule ROUT-3; did you mean ROUTE-3?" in unknown.stderr
    assert jsonchat("spec", "where").returncode == 2


def test_an_unknown_rule_suggests_the_closest() -> None:
    with pytest.raises(UnknownRule) as raised:
        where("FRAME-99")
    assert raised.value.suggestion is not None and raised.value.suggestion.startswith("FRAME-")


def _by_rule(cited: Mapping[str, tuple[str, ...]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for node, ids in cited.items():
        for rule in ids:
            out.setdefault(rule, set()).add(node)
    return out


def _as_where_names(
    collected: Mapping[str, tuple[str, ...]], named: Mapping[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """Collected node IDs cut to the names where uses: the function or class a marker is on
    (`file::test` for every parameter or method of it), or, for a generated case, the node."""
    out: dict[str, tuple[str, ...]] = {}
    for node, ids in collected.items():
        base = node.split("[", 1)[0]
        if base not in GENERATED:
            node = next((n for n in named if base == n or base.startswith(f"{n}::")), base)
        out[node] = tuple(dict.fromkeys(out.get(node, ()) + ids))
    return out


def test_the_cases_citing_each_rule_are_those_pytest_collects() -> None:
    named = conformance_cases()
    collected = collect("conformance/cases")
    assert _by_rule(named) == _by_rule(_as_where_names(collected, named))
    generated = {node for node in collected if node.split("[", 1)[0] in GENERATED}
    assert generated and generated <= set(named)


def test_the_tests_citing_each_rule_are_those_pytest_collects() -> None:
    named = repository_tests()
    assert named is not None  # a checkout has tests/
    assert _by_rule(named) == _by_rule(_as_where_names(collect("tests"), named))


def test_every_server_must_rule_has_a_conformance_case() -> None:
    assert [rule for rule in SERVER_MUSTS if not where(rule).cases] == []


def _enforcing(rule: str) -> list[str]:
    return [str(line) for line in annotated_lines().get(rule, ()) if line.path not in CLIENT_FILES]


def test_every_server_must_rule_is_enforced_on_a_line_that_names_it() -> None:
    """The convention: `# ROUTE-3` on the line of engine/ or transport/ that decides it.

    engine/rules.py's table does not count: it maps outcomes to rules and decides nothing."""
    missing = [rule for rule in SERVER_MUSTS if not _enforcing(rule)]
    assert missing == [], f"no engine or transport line names {missing}"


@pytest.mark.parametrize("rule", sorted(OUTSIDE_ENGINE))
def test_a_rule_outside_the_engine_is_enforced_where_the_table_says(rule: str) -> None:
    place = OUTSIDE_ENGINE[rule].split(":", 1)[0]
    assert any(line.startswith(f"{place}:") for line in _enforcing(rule)), OUTSIDE_ENGINE[rule]


def test_only_rule_ids_of_the_spec_are_annotated() -> None:
    assert set(annotated_lines()) <= set(requirements_by_id())


def test_the_rule_table_is_shown_only_for_a_rule_no_line_names() -> None:
    for rule in RULES:
        found = where(rule)
        assert not (found.enforced and found.table)
        assert all(line.path != RULE_TABLE for line in found.enforced)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("ROUTE-7", "protocol/errors.json: errors.target_not_connected.rule"),
        ("STATE-2", "protocol/machine.json: refusal message in awaiting_connect"),
        ("CONNECT-4", "protocol/machine.json: transition connect: connected -> connected"),
        ("LIMIT-3", "protocol/limits.json: connect_timeout_s"),
        ("LIMIT-3", "protocol/limits.json: evict_after_s"),
        ("VALIDATE-1", "protocol/schemas/client/connect.schema.json#/required"),
        ("VALIDATE-5", "protocol/schemas/client/connect.schema.json#/properties/user_name/not"),
        ("FRAME-10", "protocol/fixtures/server.chat.json"),
    ],
)
def test_the_data_that_defines_a_rule_is_named(rule: str, expected: str) -> None:
    assert any(line.startswith(expected) for line in defining_data(rule)), list(defining_data(rule))

"""The engine's requirement table is complete, and every rule it implements has a test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.rules import OUTCOMES, OUTSIDE_ENGINE, requirement_hits
from protocol import requirements, requirements_by_id
from tests.citations import repository_tests

# The engine's unit tests: what pytest collects here, whatever the module (tests/citations.py).
UNIT_TESTS = "tests/engine/"


def cited_ids(under: str = "tests/") -> Iterator[str]:
    """The rule IDs that the `requirement` markers of the collected tests under `under` cite."""
    for node, ids in repository_tests().items():
        if node.startswith(under):
            yield from ids


def test_outcome_table_names_only_known_requirements() -> None:
    known = requirements_by_id()
    for outcome, ids in OUTCOMES.items():
        assert ids and set(ids) <= set(known), outcome


def test_every_server_rule_is_carried_out_by_the_engine_or_named_elsewhere() -> None:
    implemented = {rule for ids in OUTCOMES.values() for rule in ids} | set(OUTSIDE_ENGINE)
    server_rules = {r.id for r in requirements() if r.subject == "server"}
    assert server_rules - implemented == set()


def test_every_rule_the_engine_implements_has_a_unit_test() -> None:
    implemented = {rule for ids in OUTCOMES.values() for rule in ids}
    missing = implemented - set(cited_ids(UNIT_TESTS))
    assert missing == set(), f"no engine test cites {sorted(missing)}"


def test_tests_cite_only_known_requirements() -> None:
    assert set(cited_ids()) - set(requirements_by_id()) == set()


def test_the_collection_sees_every_test_module() -> None:
    """Tests are found by collecting them, not from a list: every engine module is seen."""
    modules = {node.split("::")[0] for node in repository_tests() if node.startswith(UNIT_TESTS)}
    assert "tests/engine/test_framing.py" in modules and "tests/engine/test_rules.py" in modules


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_requirement_hits_expand_outcomes(outcome: str) -> None:
    assert requirement_hits({outcome: 2}) == dict.fromkeys(OUTCOMES[outcome], 2)

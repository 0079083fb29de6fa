"""The engine's requirement table is complete, and every rule it implements has a test."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator

import pytest

from engine.rules import OUTCOMES, OUTSIDE_ENGINE, requirement_hits
from protocol import requirements, requirements_by_id

TEST_MODULES = [
    "tests.engine.test_routing",
    "tests.engine.test_errors_and_limits",
    "tests.engine.test_properties",
    "tests.engine.test_compat",
]


def cited_ids() -> Iterator[str]:
    for module_name in TEST_MODULES:
        for _, obj in inspect.getmembers(importlib.import_module(module_name)):
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "req":
                    yield from mark.args


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
    missing = implemented - set(cited_ids())
    assert missing == set(), f"no engine test cites {sorted(missing)}"


def test_tests_cite_only_known_requirements() -> None:
    assert set(cited_ids()) - set(requirements_by_id()) == set()


@pytest.mark.parametrize("outcome", sorted(OUTCOMES))
def test_requirement_hits_expand_outcomes(outcome: str) -> None:
    assert requirement_hits({outcome: 2}) == dict.fromkeys(OUTCOMES[outcome], 2)

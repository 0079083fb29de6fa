"""requirements.json and PROTOCOL.md say the same thing, and every reference resolves."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from protocol import (
    LEVELS,
    error_rule,
    error_table,
    machine_spec,
    requirements,
    requirements_by_id,
    sections,
)
from protocol.render import SPEC_PATH, is_current

RULE_LINE = re.compile(r"^- \*\*([A-Z]+-\d+)\*\* \((MUST|SHOULD|MAY), (core|full)", re.MULTILINE)


def test_requirement_ids_are_unique_and_well_formed() -> None:
    ids = [r.id for r in requirements()]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    for r in requirements():
        assert re.fullmatch(r"[A-Z]+-\d+", r.id)
        assert r.section in sections()


def test_each_rule_states_its_level_in_its_text() -> None:
    for r in requirements():
        assert r.level in LEVELS
        assert r.level in r.text, r.id


def test_core_profile_is_not_empty_and_smaller_than_full() -> None:
    core = [r for r in requirements() if r.in_profile("core")]
    assert 0 < len(core) < len(requirements())


def test_protocol_md_lists_exactly_the_rules_in_the_data() -> None:
    text = SPEC_PATH.read_text("utf-8")
    in_doc = {(m[1], m[2], m[3]) for m in RULE_LINE.finditer(text)}
    in_data = {(r.id, r.level, r.profile) for r in requirements()}
    assert in_doc == in_data
    assert len(RULE_LINE.findall(text)) == len(in_data), "a rule is listed twice"


def test_protocol_md_generated_blocks_are_current() -> None:
    assert is_current(), "PROTOCOL.md is stale: run `jsonchat spec render`"


def test_rule_ids_cited_anywhere_exist() -> None:
    spec = machine_spec()
    cited = {rid for t in spec["transitions"] for rid in t["requirements"]}
    for entry in error_table().values():
        rule = entry["rule"]
        cited |= {rule} if isinstance(rule, str) else set(rule.values())
    text = SPEC_PATH.read_text("utf-8")
    prefixes = "|".join(sections())
    cited |= set(re.findall(rf"\b((?:{prefixes})-\d+)\b", text))
    assert cited - set(requirements_by_id()) == set()


def test_machine_refusals_name_known_errors() -> None:
    for refusal in machine_spec()["refusals"]:
        assert refusal["error"] in error_table()


def test_every_error_names_the_server_rule_that_requires_it() -> None:
    """errors.json is the one map of errors to rules: each names one, or one per event of the
    state machine that can get it; every refusal of the machine finds its rule there."""
    events = {e["name"] for e in machine_spec()["events"]}
    for code, entry in error_table().items():
        rule = entry["rule"]
        rules = [rule] if isinstance(rule, str) else list(rule.values())
        assert isinstance(rule, str) or set(rule) <= events, code
        assert all(requirements_by_id()[r].subject == "server" for r in rules), code
    for refusal in machine_spec()["refusals"]:
        assert error_rule(refusal["error"], refusal["trigger"]) in requirements_by_id()
    assert error_rule("not_connected", "leave") == "STATE-3"
    with pytest.raises(KeyError):
        error_rule("name_mismatch")  # names a rule per event: the event must be given

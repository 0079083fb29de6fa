"""Fixtures in the JSON-Schema-Test-Suite layout: each validates (or not) as labelled."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import (
    ALL_SCHEMAS,
    error_table,
    error_text,
    fixtures,
    requirements_by_id,
    schema_keyword_errors,
)
from protocol.validator import client_error_message, error_message, is_valid

CASES = [
    pytest.param(group["schema"], test, id=f"{group['schema']}: {test['description']}")
    for group in fixtures()
    for test in group["tests"]
]
INVALID = [
    pytest.param(group["schema"], test, id=f"{group['schema']}: {test['description']}")
    for group in fixtures()
    for test in group["tests"]
    if not test["valid"]
]


@pytest.mark.parametrize(("name", "test"), CASES)
@pytest.mark.parametrize("draft", ["2020-12", "draft-07"])
def test_fixture_validates_as_labelled(name: str, test: dict[str, Any], draft: Any) -> None:
    assert is_valid(name, test["data"], draft) is test["valid"]


CLIENT = [case for case in CASES if str(case.values[0]).startswith("client/")]


@pytest.mark.parametrize(("name", "test"), CLIENT)
def test_a_client_fixtures_label_is_what_a_server_answers(name: str, test: dict[str, Any]) -> None:
    """The conformance suite makes a case of every client fixture from its label: a valid one
    must be a whole message a server accepts (not only valid against its group's schema, as
    `{"action": "connect"}` is for the envelope), an invalid one gets its `error`."""
    expected = None if test["valid"] else test["error"]
    assert client_error_message(test["data"]) == expected


@pytest.mark.parametrize(("name", "test"), INVALID)
def test_invalid_fixture_names_its_consequence(name: str, test: dict[str, Any]) -> None:
    if name.startswith("client/"):
        assert error_message(name, test["data"]) == test["error"]
        data = test["data"]
        action = data.get("action") if isinstance(data, dict) else None
        known = {error_text(code, action=action) for code in error_table()}
        assert test["error"] in known
    else:
        assert test["requirement"] in requirements_by_id()


@pytest.mark.parametrize("name", ALL_SCHEMAS)
def test_every_schema_has_valid_and_invalid_fixtures(name: str) -> None:
    labels = {t["valid"] for g in fixtures() if g["schema"] == name for t in g["tests"]}
    assert labels == {True, False}


def test_fixtures_show_every_error_a_schema_can_produce() -> None:
    shown = set()
    for group in fixtures():
        for test in group["tests"]:
            data = test["data"]
            action = data.get("action") if isinstance(data, dict) else None
            for _, _, code in schema_keyword_errors():
                if test.get("error") == error_text(code, action=action):
                    shown.add(code)
    assert shown == {code for _, _, code in schema_keyword_errors()}

"""The enums of protocol/vocabulary.py name exactly what errors.json and machine.json hold.

Both ways: a name the JSON gains without the enum would be unreachable from code, and a member
the JSON lacks would be a name that only fails when something looks it up.
"""

from __future__ import annotations

import json

import orjson

import protocol
from protocol import ErrorCode, SessionState, Trigger, error_table, machine_spec


def test_error_codes_are_the_errors_of_errors_json() -> None:
    assert {code.value for code in ErrorCode} == set(error_table())


def test_error_codes_name_every_error_the_schema_keywords_send() -> None:
    keyword_errors = {e["error"] for e in protocol.load_json("errors.json")["schema_keywords"]}
    assert keyword_errors <= {code.value for code in ErrorCode}


def test_session_states_are_the_states_of_machine_json() -> None:
    spec = machine_spec()
    assert {state.value for state in SessionState} == {s["name"] for s in spec["states"]}
    assert spec["initial"] in {state.value for state in SessionState}


def test_triggers_are_the_events_of_machine_json() -> None:
    spec = machine_spec()
    assert {trigger.value for trigger in Trigger} == {e["name"] for e in spec["events"]}
    used = {t["trigger"] for t in spec["transitions"] + spec["refusals"]}
    assert used <= {trigger.value for trigger in Trigger}


def test_a_member_is_its_string() -> None:
    # Compared, hashed, printed and encoded as the JSON's string, so it can stand wherever that
    # string did: dict keys read from the JSON, error texts, logs, the wire.
    code = ErrorCode.NAME_TAKEN
    assert code == "name_taken" and hash(code) == hash("name_taken")
    assert {"name_taken": 1}[code] == 1
    assert (str(code), f"{code}", f"{code:>12}") == ("name_taken", "name_taken", "  name_taken")
    assert json.dumps([code]) == '["name_taken"]' and orjson.dumps([code]) == b'["name_taken"]'
    assert ErrorCode("name_taken") is code
    assert protocol.error_text(code) == protocol.error_text("name_taken")


def test_the_package_exports_the_vocabulary() -> None:
    assert {"ErrorCode", "SessionState", "Trigger"} <= set(protocol.__all__)
    assert all(hasattr(protocol, name) for name in protocol.__all__)

"""The compiled validator's memo of valid names changes no answer and stays bounded."""

from __future__ import annotations

from typing import Any

from engine import validation
from engine.validation import MEMO_SIZE, compiled, generate, remember

NAME = {"type": "string", "pattern": "^@", "minLength": 2, "maxLength": 60}


def message(user_name: Any) -> dict[str, Any]:
    return {"action": "message", "user_name": user_name, "target": "#r", "message": "hi"}


def test_answers_are_the_same_the_second_time() -> None:
    schema = compiled("client/message")
    for user_name in ["@alice", "alice", "@", "@" + "a" * 60, 7, None, ["@alice"], "@a\u2028b"]:
        first = schema.is_valid(message(user_name))
        assert schema.is_valid(message(user_name)) is first, user_name


def test_only_valid_strings_are_remembered() -> None:
    is_valid = generate({"type": "object", "properties": {"n": NAME}})
    memos = [c for c in is_valid.__globals__.values() if type(c) is set]
    assert len(memos) == 1
    assert not is_valid({"n": "nope"}) and not is_valid({"n": 1})
    assert memos[0] == set()
    assert is_valid({"n": "@yes"}) and memos[0] == {"@yes"}


def test_long_strings_are_not_remembered() -> None:
    is_valid = generate({"type": "object", "properties": {"text": {"type": "string"}}})
    assert is_valid({"text": "x" * 100})
    assert not [c for c in is_valid.__globals__.values() if type(c) is set]


def test_a_full_memo_starts_over() -> None:
    memo: set[str] = set()
    for i in range(MEMO_SIZE + 1):
        remember(memo, f"@u{i}")
    assert memo == {f"@u{MEMO_SIZE}"}
    assert validation.MEMO_MAX_LENGTH >= 60  # user and room names fit

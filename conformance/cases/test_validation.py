"""Validation (VALIDATE-1 to VALIDATE-8), mostly generated from protocol/fixtures/client.*.json.

Every invalid fixture must be answered with its exact `error`, once, on a connection that stays
usable (ERROR-2); every valid one must be accepted, shown by its effect: a connect holds its name
and rooms, a message is delivered, a disconnect closes, a leave is answered.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import protocol
from conformance.kit.messages import direct
from conformance.kit.wire import PacketReader, frame
from conformance.suite.generated import FixtureCase, fixture_cases, personalise
from conformance.suite.harness import Chat, Client, is_delivery, is_error, show
from conformance.suite.verdicts import Violation, requirement

MAX_NAME = protocol.limits()["max_name_bytes"]
MAX_TEXT = protocol.limits()["max_message_bytes"]


def _params() -> list[Any]:
    return [
        pytest.param(case, id=case.id, marks=pytest.mark.requirement(*case.rules))
        for case in fixture_cases()
    ]


@pytest.mark.parametrize("case", _params())
def test_client_fixture(chat: Chat, case: FixtureCase) -> None:
    if case.error is not None:
        refused(chat, case)
        return
    document = personalise(case.document, chat.tokens.next())
    try:
        accepted(chat, document, case.rules[0])
    except Violation as violation:
        raise refusal_of(chat, document, case, violation) from None


def refusal_of(chat: Chat, document: Any, case: FixtureCase, violation: Violation) -> Violation:
    """A valid document answered with an error breaks the rule that makes it valid: VALIDATE-8
    for one at the byte limits, VALIDATE-7 for one with unknown fields, else the action's rule.
    Any other failure (a missing delivery, a room not joined) is the action's rule's."""
    records = chat.transcript.records
    sent = frame(document)
    at = next((n for n, r in enumerate(records) if r.event == "send" and r.data == sent), None)
    if at is None:
        return violation
    by = records[at].client  # what the client that sent it got after it
    answer = b"".join(r.data for r in records[at + 1 :] if r.client == by and r.event == "recv")
    errors = [p.value for p in PacketReader().feed(answer) if is_error(p.value)]
    if not errors:
        return violation
    valid_by = next((r for r in ("VALIDATE-8", "VALIDATE-7") if r in case.rules), case.rules[0])
    action = document.get("action")
    return Violation(valid_by, f"a valid {action} was answered with {show(errors[0])}")


def refused(chat: Chat, case: FixtureCase) -> None:
    client = chat.join(chat.user("tester"))
    client.send_frame(json.dumps(case.document, ensure_ascii=False).encode() + b"\n")
    before = len(client.packets)
    try:
        client.expect_error(case.rules[0], case.error or "")
    except Violation as violation:
        got: Any = client.packets[before].value if len(client.packets) > before else {}
        text = got.get("message") if is_error(got) else None
        if text not in case.others:
            raise
        raise Violation(
            "VALIDATE-6",
            f"answered {text!r}, an error that applies, but not the first one: "
            f"{case.error!r} ({violation.message})",
        ) from None
    client.expect_quiet("ERROR-2", "one error per erroneous frame, on a connection still open")


def accepted(chat: Chat, document: dict[str, Any], rule: str) -> None:
    action = document["action"]
    if action == "connect":
        accepted_connect(chat, document, rule)
    elif action == "message":
        accepted_message(chat, document, rule)
    elif "target" in document:
        room = document["target"]
        client = chat.join(document.get("user_name") or chat.user(), room)
        observer = chat.join(chat.user("observer"), room)
        client.send(document)
        client.expect_value(rule, {"status": "disconnect", "target": room})
        observer.say(room, "after the leave")
        observer.settle(rule)
        client.expect_quiet(rule, "the room it left")
    else:
        name = document.get("user_name")
        client = chat.join(name) if name else chat.open()
        client.send(document)
        client.expect_value("DISCONNECT-2", {"status": "disconnect"})
        client.expect_closed("DISCONNECT-1")


def accepted_connect(chat: Chat, document: dict[str, Any], rule: str) -> None:
    client = chat.open("client")
    client.send(document)
    rooms = document["targets"]
    client.join(document["user_name"], *rooms, sent=True)  # a chat reply, not just any answer
    if rooms:
        observer = chat.join(chat.user("observer"))
        for room in rooms:
            observer.say(room, f"to {room}")
        observer.settle(rule)  # the target has handled them all: now they are on their way
        got = client.settle(rule)
        wanted = [(room, observer.name, f"to {room}") for room in rooms]
        subscribed = len(got) == len(wanted) and all(
            is_delivery(value, *entry) for value, entry in zip(got, wanted, strict=True)
        )
        chat.check(rule, subscribed, f"subscribed to {len(rooms)} rooms, got {got[:3]!r}")


def accepted_message(chat: Chat, document: dict[str, Any], rule: str) -> None:
    sender_name, target = document["user_name"], document["target"]
    if target.startswith("@"):
        receiver = chat.join(target)
    elif target == protocol.ALL_ROOM:
        receiver = chat.join(chat.user("receiver"))
    else:
        receiver = chat.join(chat.user("receiver"), target)
    sender = chat.join(sender_name)
    sender.send(document)
    receiver.expect_delivery(rule, target, sender_name, document["message"])


# -- by hand -------------------------------------------------------------------------------------


def _awaiting(chat: Chat) -> Client:
    return chat.open("client")


def _connected(chat: Chat) -> Client:
    return chat.join(chat.user("tester"))


PRECEDENCE = [
    (
        "size before UTF-8",
        _connected,
        b"\xff" * (protocol.limits()["max_frame_bytes"] + 1),
        protocol.ErrorCode.FRAME_TOO_LONG,
    ),
    ("UTF-8 before JSON", _connected, b"not json \xff", protocol.ErrorCode.MALFORMED_UTF8),
    (
        "JSON before the envelope",
        _connected,
        b'{"action":"dance",}',
        protocol.ErrorCode.MALFORMED_JSON,
    ),
    (
        "fields before state",
        _awaiting,
        b'{"action":"message","user_name":"@a","target":"general","message":"hi"}',
        protocol.ErrorCode.TOO_LONG,
    ),
    (
        "state before identity",
        _awaiting,
        b'{"action":"message","user_name":"@a","target":"@a","message":"hi"}',
        protocol.ErrorCode.NOT_CONNECTED,
    ),
    (
        "identity before routing",
        _connected,
        b'{"action":"message","user_name":"@spoof-x","target":"@nobody-x","message":"hi"}',
        protocol.ErrorCode.NAME_MISMATCH,
    ),
]


@requirement("VALIDATE-6")
@pytest.mark.parametrize(
    ("setup", "frame", "code"), [pytest.param(s, f, c, id=i) for i, s, f, c in PRECEDENCE]
)
def test_only_the_first_failure_is_reported(
    chat: Chat, setup: Any, frame: bytes, code: protocol.ErrorCode
) -> None:
    client = setup(chat)
    client.send_frame(frame + b"\n")
    client.expect_error("VALIDATE-6", protocol.error_text(code))
    if client.joined:
        client.expect_quiet("VALIDATE-6", "exactly one error")


@requirement("VALIDATE-7")
def test_unknown_fields_anywhere_are_ignored(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    extra = {"extra": {"nested": [1, None, {"deep": True}]}, "id": 7}
    alice.send({**extra, **direct(alice.name, "with extras")})
    alice.expect_echo("VALIDATE-7", "with extras")


def _long_name(prefix: str, token: str) -> str:
    """A name of exactly max_name_bytes, mostly two-byte characters."""
    free = MAX_NAME - 1 - len(token)
    return prefix + token + "é" * (free // 2) + "x" * (free % 2)


def _long_text() -> str:
    text = "€😀é" * (MAX_TEXT // 9)
    return text + "x" * (MAX_TEXT - len(text.encode()))


@requirement("VALIDATE-8")
def test_names_and_texts_at_their_byte_limits_are_accepted(chat: Chat) -> None:
    name, room = _long_name("@", chat.tokens.next()), _long_name("#", chat.tokens.next())
    text = _long_text()
    assert len(name.encode()) == len(room.encode()) == MAX_NAME == len(room.encode())
    assert len(text.encode()) == MAX_TEXT
    alice = chat.join(name, room)
    bob = chat.join(chat.user("bob"), room)
    alice.say(name, text)
    alice.expect_echo("VALIDATE-8", text)
    alice.say(room, text)
    bob.expect_delivery("VALIDATE-8", room, name, text)

"""Connect (CONNECT-1 to CONNECT-6): names, rooms, and the history sent in reply."""

from __future__ import annotations

from typing import Any

import pytest

import protocol
from conformance.kit.messages import connect_doc
from conformance.suite.harness import Chat, is_chat, show
from conformance.suite.verdicts import requirement

HISTORY_PER_ROOM = protocol.limits()["history_per_room"]
ON_CONNECT = protocol.limits()["history_on_connect"]


@requirement("CONNECT-1")
def test_connect_takes_the_name_and_the_rooms(chat: Chat) -> None:
    one, two, other = chat.room("one"), chat.room("two"), chat.room("other")
    alice = chat.join(chat.user("alice"), one, two)
    bob = chat.join(chat.user("bob"), one, two, other)
    for room in (one, other, two):
        bob.say(room, f"to {room}")
    alice.expect_delivery("CONNECT-1", one, bob.name, f"to {one}")
    alice.expect_delivery("CONNECT-1", two, bob.name, f"to {two}")
    alice.expect_quiet("CONNECT-1", "a room it did not connect to")


def entry(room: str, sender: str, text: str) -> dict[str, str]:
    return {"target": room, "from": sender, "message": text}


@requirement("CONNECT-2")
def test_connect_reply_is_one_chat_with_the_recent_history(chat: Chat) -> None:
    rooms = [chat.room(n) for n in ("a", "b", "c")]
    bob = chat.join(chat.user("bob"), *rooms)
    sent = []
    for n in range(HISTORY_PER_ROOM * len(rooms)):  # fills every room's history exactly
        room = rooms[n % len(rooms)]
        bob.say(room, f"m{n}")
        sent.append(entry(room, bob.name, f"m{n}"))
    bob.settle("CONNECT-2")
    alice = chat.open("alice")
    alice.send(connect_doc(chat.user("alice"), rooms))
    wanted = {"status": "chat", "history": sent[-ON_CONNECT:]}
    reply = alice.expect("CONNECT-2", "one chat with the last 50 messages, oldest first", is_chat)
    chat.check("CONNECT-2", _same(reply, wanted), f"history {_sketch(reply)}, wanted m10..m59")
    two = rooms[:2]  # 40 messages: fewer than the limit, so every one of them
    dave = chat.open("dave")
    dave.send(connect_doc(chat.user("dave"), two))
    reply = dave.expect("CONNECT-2", "one chat with the last 40 messages, oldest first", is_chat)
    all_of_two = {"history": [e for e in sent if e["target"] in two]}
    chat.check("CONNECT-2", _same(reply, all_of_two), f"history {_sketch(reply)}, wanted 40")
    carol = chat.open("carol")
    carol.send(connect_doc(chat.user("carol"), [chat.room("empty")]))
    carol.expect_value("CONNECT-2", {"status": "chat", "history": []})


def _same(reply: Any, wanted: dict[str, Any]) -> bool:
    return isinstance(reply, dict) and reply.get("history") == wanted["history"]


def _sketch(reply: Any) -> str:
    history = reply.get("history") if isinstance(reply, dict) else None
    if not isinstance(history, list):
        return show(reply)
    texts = [e.get("message") for e in history if isinstance(e, dict)]
    return f"of {len(texts)} entries {texts[:3]}...{texts[-2:]}"


@requirement("CONNECT-2")
def test_connect_is_answered_exactly_once(chat: Chat) -> None:
    name = chat.user("alice")
    alice = chat.open(name)
    alice.send(connect_doc(name, [chat.room()]))
    alice.expect("CONNECT-2", "a chat answering connect", is_chat)
    alice.name = name
    alice.expect_quiet("CONNECT-2", "a second answer to one connect")


@requirement("CONNECT-3")
def test_a_name_in_use_is_refused(chat: Chat) -> None:
    name, room = chat.user("alice"), chat.room()
    alice = chat.join(name, room)
    thief = chat.open("thief")
    thief.send(connect_doc(name, [room]))
    thief.expect_error("CONNECT-3", protocol.error_text(protocol.ErrorCode.NAME_TAKEN))
    other = chat.user("other")
    thief.join(other, rule="CONNECT-3")  # still without a name: another is accepted
    alice.expect_quiet("CONNECT-3", "anything caused by the thief")


@requirement("CONNECT-4")
def test_connect_again_replaces_the_rooms(chat: Chat) -> None:
    old, new = chat.room("old"), chat.room("new")
    name = chat.user("alice")
    alice, bob = chat.join(name, old), chat.join(chat.user("bob"), old, new)
    bob.say(new, "history of new")
    bob.settle("CONNECT-4")
    alice.send(connect_doc(name, [new]))
    reply = alice.expect("CONNECT-4", "one chat answering connect", is_chat)
    wanted = [entry(new, bob.name, "history of new")]
    chat.check("CONNECT-4", reply.get("history") == wanted, f"reply {show(reply)}")
    bob.say(old, "to old")
    bob.say(new, "to new")
    alice.expect_delivery("CONNECT-4", new, bob.name, "to new")
    alice.expect_quiet("CONNECT-4", "a room its second connect left out")


@requirement("CONNECT-5")
def test_connect_with_another_name_is_refused(chat: Chat) -> None:
    room, elsewhere = chat.room(), chat.room("elsewhere")
    alice, bob = chat.join(chat.user("alice"), room), chat.join(chat.user("bob"), room, elsewhere)
    other = chat.user("other")
    alice.send(connect_doc(other, [elsewhere]))
    alice.expect_error("CONNECT-5", protocol.error_text(protocol.ErrorCode.NAME_MISMATCH))
    bob.say(elsewhere, "not subscribed")  # first: the next delivery shows it was handled
    bob.say(room, "still in the room")
    alice.expect_delivery("CONNECT-5", room, bob.name, "still in the room")
    alice.expect_quiet("CONNECT-5", "a room of the refused connect")
    chat.open("other").join(other, rule="CONNECT-5")  # the refused name was never taken


@requirement("CONNECT-6")
@pytest.mark.parametrize("how", ["disconnect", "close", "reset"])
def test_a_closed_connection_frees_its_name(chat: Chat, how: str) -> None:
    name = chat.user("alice")
    alice = chat.join(name, chat.room())
    if how == "disconnect":
        alice.send({"action": "disconnect"})
        alice.expect_closed("CONNECT-6")
    else:
        alice.close() if how == "close" else alice.reset()
    chat.claim(name, "CONNECT-6")

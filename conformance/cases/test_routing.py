"""Messages and routing (ROUTE-1 to ROUTE-14): who gets a message, in what shape, in what order.

To show that a client did NOT get something, the sender is settled first (the target has then
handled the message), then the would-be receiver.
"""

from __future__ import annotations

import protocol
from conformance.suite.harness import Chat
from conformance.suite.verdicts import requirement

HISTORY = protocol.limits()["history_per_room"]
MAX_ROOMS = protocol.limits()["max_rooms_per_session"]


@requirement("ROUTE-1")
def test_room_message_reaches_every_other_member(chat: Chat) -> None:
    room = chat.room()
    alice, bob, carol = chat.members(room, "alice", "bob", "carol")
    alice.say(room, "hello room")
    bob.expect_delivery("ROUTE-1", room, alice.name, "hello room")
    carol.expect_delivery("ROUTE-1", room, alice.name, "hello room")


@requirement("ROUTE-2")
def test_room_message_skips_non_members(chat: Chat) -> None:
    room, other = chat.room(), chat.room("other")
    alice, bob = chat.members(room, "alice", "bob")
    dave = chat.join(chat.user("dave"), other)
    alice.say(room, "members only")
    bob.expect_delivery("ROUTE-2", room, alice.name, "members only")
    alice.settle("ROUTE-2")
    dave.expect_quiet("ROUTE-2", "it is not in the room")


@requirement("ROUTE-3")
def test_room_message_is_not_echoed_to_its_sender(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    alice.say(room, "not for me")
    bob.expect_delivery("ROUTE-1", room, alice.name, "not for me")
    alice.expect_quiet("ROUTE-3", "its own room message")


@requirement("ROUTE-4")
def test_posting_to_a_room_joins_it_after_delivery(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.join(chat.user("alice")), chat.join(chat.user("bob"), room)
    alice.say(room, "knock knock")
    bob.expect_delivery("ROUTE-4", room, alice.name, "knock knock")
    alice.expect_quiet("ROUTE-4", "its own message, sent before it joined")
    bob.say(room, "come in")
    alice.expect_delivery("ROUTE-4", room, bob.name, "come in")


@requirement("ROUTE-5")
def test_direct_message_reaches_its_recipient_only(chat: Chat) -> None:
    room = chat.room()
    alice, bob, carol = chat.members(room, "alice", "bob", "carol")
    alice.say(bob.name, "psst")
    bob.expect_delivery("ROUTE-5", bob.name, alice.name, "psst")
    alice.expect_quiet("ROUTE-5", "a direct message to someone else")
    carol.expect_quiet("ROUTE-5", "a direct message to someone else")


@requirement("ROUTE-6")
def test_direct_message_to_oneself_comes_back(chat: Chat) -> None:
    """Not built on `settle`, which relies on this rule; a target that fails it skips the rest."""
    name = chat.user("alice")
    alice = chat.open(name)
    alice.send({"action": "connect", "user_name": name, "targets": []})
    if chat.caps.answers_connect:
        alice.expect("ROUTE-6", "the reply to connect", lambda v: isinstance(v, dict))
    alice.say(name, "note to self", user_name=name)
    alice.expect_delivery("ROUTE-6", name, name, "note to self")


@requirement("ROUTE-7")
def test_direct_message_to_unknown_user_is_an_error(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    alice.say(chat.user("nobody"), "anyone?")
    alice.expect_error("ROUTE-7", protocol.error_text(protocol.ErrorCode.TARGET_NOT_CONNECTED))
    alice.settle("ROUTE-7")
    bob.expect_quiet("ROUTE-7", "a message to a user nobody holds")


@requirement("ROUTE-8")
def test_all_reaches_every_connected_user_but_the_sender(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"), chat.room())
    bob, carol = chat.join(chat.user("bob"), chat.room()), chat.join(chat.user("carol"))
    carol.leave(protocol.ALL_ROOM, "ROUTE-8")  # it cannot be left
    alice.say(protocol.ALL_ROOM, "hello world")
    bob.expect_delivery("ROUTE-8", protocol.ALL_ROOM, alice.name, "hello world")
    carol.expect_delivery("ROUTE-8", protocol.ALL_ROOM, alice.name, "hello world")
    alice.expect_quiet("ROUTE-8", "its own message to #all")


@requirement("ROUTE-9")
def test_delivery_shape_and_text_unchanged(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    texts = ["plain", 'quotes " and \\ backslash', "line\nbreak\ttab", "ünïcödé €😀", "{}[]"]
    for text in texts:
        alice.say(room, text)
    for text in texts:
        bob.expect_delivery("ROUTE-9", room, alice.name, text)
    alice.say(bob.name, "direct")
    bob.expect_delivery("ROUTE-9", bob.name, alice.name, "direct")


@requirement("ROUTE-10")
def test_deliveries_arrive_once_and_in_order(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    expected = []
    for n in range(40):
        if n % 4 == 3:
            alice.say(bob.name, f"direct {n}")
            expected.append((bob.name, f"direct {n}"))
        else:
            alice.say(room, f"room {n}")
            expected.append((room, f"room {n}"))
    alice.settle("ROUTE-10")
    got = bob.settle("ROUTE-10")
    entries = [(v["history"][0]["target"], v["history"][0]["message"]) for v in got if _one(v)]
    in_order = entries == expected and len(got) == len(expected)
    chat.check("ROUTE-10", in_order, f"sent {len(expected)} in order, got {len(got)}: {got[:4]}")


@requirement("ROUTE-11")
def test_no_reply_to_a_successful_message(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    alice.say(room, "to the room")
    alice.say(bob.name, "to bob")
    alice.say(protocol.ALL_ROOM, "to everyone")
    alice.say(chat.room("fresh"), "to a new room")
    alice.expect_quiet("ROUTE-11", "replies to messages that succeeded")


@requirement("ROUTE-12")
def test_room_history_keeps_the_last_messages(chat: Chat) -> None:
    chat.require_connect_reply("read a room's history")
    room = chat.room()
    alice = chat.join(chat.user("alice"), room)
    for n in range(HISTORY + 5):
        alice.say(room, f"m{n}")
    alice.say(alice.name, "a direct message is not kept")
    alice.settle("ROUTE-12")
    reply = chat.open("bob").join(chat.user("bob"), room)
    wanted = [
        {"target": room, "from": alice.name, "message": f"m{n}"} for n in range(5, HISTORY + 5)
    ]
    chat.check("ROUTE-12", reply.get("history") == wanted, f"history {reply!r}")


@requirement("ROUTE-12")
def test_room_history_is_dropped_with_the_last_member(chat: Chat) -> None:
    chat.require_connect_reply("read a room's history")
    room = chat.room()
    alice = chat.join(chat.user("alice"), room)
    alice.say(room, "soon forgotten")
    alice.leave(room, "ROUTE-12")
    reply = chat.open("bob").join(chat.user("bob"), room)
    chat.check("ROUTE-12", reply.get("history") == [], f"history of an emptied room {reply!r}")


@requirement("ROUTE-12")
def test_all_keeps_its_history(chat: Chat) -> None:
    chat.require_connect_reply("read a room's history")
    alice = chat.join(chat.user("alice"))
    text = f"for the record {chat.tokens.next()}"
    alice.say(protocol.ALL_ROOM, text)
    alice.settle("ROUTE-12")
    alice.close()
    reply = chat.open("bob").join(chat.user("bob"), protocol.ALL_ROOM)
    history = reply.get("history") or [{}]
    chat.check("ROUTE-12", history[-1].get("message") == text, f"#all history {history[-3:]!r}")


@requirement("ROUTE-13")
def test_spoofed_user_name_is_refused(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    alice.say(room, "i am bob", user_name=bob.name)
    alice.expect_error("ROUTE-13", protocol.error_text(protocol.ErrorCode.NAME_MISMATCH))
    alice.say(bob.name, "also bob", user_name=bob.name)
    alice.expect_error("ROUTE-13", protocol.error_text(protocol.ErrorCode.NAME_MISMATCH))
    alice.settle("ROUTE-13")
    bob.expect_quiet("ROUTE-13", "a message with a spoofed user_name")


@requirement("ROUTE-14")
def test_too_many_rooms_is_refused(chat: Chat) -> None:
    rooms = [chat.room(f"r{n}") for n in range(MAX_ROOMS)]
    alice = chat.join(chat.user("alice"), *rooms)
    extra = chat.room("extra")
    bob = chat.join(chat.user("bob"), extra)
    alice.say(extra, "one room too many")
    alice.expect_error("ROUTE-14", protocol.error_text(protocol.ErrorCode.TOO_MANY_ROOMS))
    alice.say(protocol.ALL_ROOM, "#all does not count")
    bob.expect_delivery("ROUTE-14", protocol.ALL_ROOM, alice.name, "#all does not count")
    alice.settle("ROUTE-14")
    bob.expect_quiet("ROUTE-14", "a message refused with Too Many Rooms")


def _one(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("history"), list)
        and (len(value["history"]) == 1)
    )

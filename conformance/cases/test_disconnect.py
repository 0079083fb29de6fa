"""Leaving and disconnecting (DISCONNECT-1 to DISCONNECT-6)."""

from __future__ import annotations

import pytest

import protocol
from conformance.suite.harness import Chat, show
from conformance.suite.verdicts import requirement


@requirement("DISCONNECT-1")
def test_disconnect_closes_the_connection(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"), chat.room())
    alice.send({"action": "disconnect"})
    alice.expect_closed("DISCONNECT-1")


@requirement("DISCONNECT-2")
def test_disconnect_is_answered_before_closing(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"), chat.room())
    alice.send({"action": "disconnect"})
    before = alice.expect_closed("DISCONNECT-1")
    chat.check("DISCONNECT-2", before == [{"status": "disconnect"}], f"it sent {show(before)}")


@requirement("DISCONNECT-3")
def test_leaving_a_room_keeps_the_others_and_the_connection(chat: Chat) -> None:
    left, kept, never = chat.room("left"), chat.room("kept"), chat.room("never")
    alice = chat.join(chat.user("alice"), left, kept)
    bob = chat.join(chat.user("bob"), left, kept)
    alice.leave(left, "DISCONNECT-3")
    alice.leave(never, "DISCONNECT-3")
    bob.say(left, "to left")
    bob.say(kept, "to kept")
    alice.expect_delivery("DISCONNECT-3", kept, bob.name, "to kept")
    alice.expect_quiet("DISCONNECT-3", "a room it left")


@requirement("DISCONNECT-4")
def test_disconnect_with_another_user_name_is_refused(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    mismatch = protocol.error_text(protocol.ErrorCode.NAME_MISMATCH)
    alice.send({"action": "disconnect", "user_name": bob.name})
    alice.expect_error("DISCONNECT-4", mismatch)
    alice.send({"action": "disconnect", "user_name": bob.name, "target": room})
    alice.expect_error("DISCONNECT-4", mismatch)
    bob.say(room, "are you still there?")
    alice.expect_delivery("DISCONNECT-4", room, bob.name, "are you still there?")
    bob.expect_quiet("DISCONNECT-4", "a refused disconnect")


@requirement("DISCONNECT-5")
def test_no_delivery_after_leaving(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    alice.leave(room, "DISCONNECT-3")
    for n in range(5):
        bob.say(room, f"after {n}")
    bob.settle("DISCONNECT-5")
    alice.expect_quiet("DISCONNECT-5", "messages to a room it left")


@requirement("DISCONNECT-6")
@pytest.mark.parametrize("how", ["close", "reset"])
def test_dropped_connection_is_released_and_others_go_on(chat: Chat, how: str) -> None:
    room = chat.room()
    name = chat.user("alice")
    alice, bob = chat.join(name, room), chat.join(chat.user("bob"), room)
    carol = chat.join(chat.user("carol"), room)
    alice.send_bytes(b'{"action":"message","user_name":"' + name.encode() + b'","target":"#')
    alice.close() if how == "close" else alice.reset()
    bob.say(room, "anyone left?")
    carol.expect_delivery("DISCONNECT-6", room, bob.name, "anyone left?")
    chat.claim(name, "DISCONNECT-6")
    bob.expect_quiet("DISCONNECT-6", "anything from the dropped connection")

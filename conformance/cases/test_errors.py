"""Errors (ERROR-1, ERROR-2) and the welcome (WELCOME-1, WELCOME-2)."""

from __future__ import annotations

import protocol
from conformance.suite.harness import Chat, is_error, is_welcome, show
from conformance.suite.verdicts import requirement


@requirement("ERROR-1")
def test_errors_have_the_error_shape(chat: Chat) -> None:
    alice = chat.join(chat.user("alice"))
    alice.send({"action": "dance"})
    alice.expect("ERROR-1", 'an error {"status":"error","message":"..."}', is_error)
    alice.send({"action": "message", "user_name": alice.name})
    alice.expect("ERROR-1", 'an error {"status":"error","message":"..."}', is_error)


@requirement("ERROR-2")
def test_errors_change_nothing_and_touch_no_one_else(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    frames = [
        b"garbage",
        b'{"action":"message","user_name":"' + alice.name.encode() + b'","target":"\xff"}',
        b'{"action":"message","user_name":5}',
        b'{"action":"message","user_name":"@nobody","target":"'
        + room.encode()
        + b'","message":"x"}',
        b'{"action":"connect","user_name":"@other-name","targets":[]}',
    ]
    alice.send_frames(*(data + b"\n" for data in frames))
    for _ in frames:
        alice.expect("ERROR-2", "one error per erroneous frame", is_error)
    alice.expect_quiet("ERROR-2", "more than one error per frame")
    bob.expect_quiet("ERROR-2", "anything caused by another connection's errors")
    bob.say(room, "still subscribed?")
    alice.expect_delivery("ERROR-2", room, bob.name, "still subscribed?")


@requirement("WELCOME-1")
def test_welcome_comes_first(chat: Chat) -> None:
    client = chat.open("client")
    client.recv()  # stops at the first packet that is not a welcome, or times out
    welcome = client.welcome
    chat.check("WELCOME-1", welcome is not None, f"no welcome first; got {show(client.packets)}")
    protocol_limits = {
        name: entry["value"]
        for name, entry in protocol.limit_table().items()
        if entry["scope"] == "protocol"
    }
    limits = welcome.get("limits")
    chat.check(
        "WELCOME-1",
        isinstance(welcome.get("message"), str)
        and welcome.get("version") == protocol.VERSION
        and isinstance(limits, dict)
        and all(limits.get(k) == v for k, v in protocol_limits.items()),
        f"the welcome lacks its message, version {protocol.VERSION} or limits: {show(welcome)}",
    )


@requirement("WELCOME-2")
def test_welcome_is_first_and_once(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    alice.say(room, "hi")
    alice.send({"action": "dance"})
    alice.settle("WELCOME-2")
    bob.settle("WELCOME-2")
    for client in (alice, bob):
        places = [n for n, p in enumerate(client.packets) if is_welcome(p.value)]
        chat.check("WELCOME-2", places in ([], [0]), f"{client.label}: welcomes at {places}")

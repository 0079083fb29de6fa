"""Session states (STATE-1 to STATE-3), generated from protocol/machine.json.

Every transition is driven from its source state and its destination observed: `connected` by a
direct message to oneself coming back, `closed` by the target closing the connection, or (for a
connection the client dropped) by its name being free again. Every refusal must be answered with
its error and leave the session where it was.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

import protocol
from conformance.kit.messages import connect_doc
from conformance.suite.generated import TransitionCase, refusal_cases, transition_cases
from conformance.suite.harness import Chat, Client, is_chat, show

AWAITING, CONNECTED = protocol.SessionState.AWAITING_CONNECT, protocol.SessionState.CONNECTED
MAX_ERRORS = protocol.limits()["max_consecutive_errors"]


def reach(chat: Chat, state: str, room: str) -> Client:
    if state == AWAITING:
        return chat.open("client")
    if state == CONNECTED:
        return chat.join(chat.user("client"), room)
    raise LookupError(f"the suite cannot bring a session to state {state!r}")


def on_connect(chat: Chat, client: Client, case: TransitionCase, room: str) -> None:
    name = client.name if client.joined else chat.user("client")
    fresh = chat.room("fresh")
    client.send(connect_doc(name, [fresh]))
    reply_rule = "CONNECT-2" if case.source == AWAITING else "CONNECT-4"
    client.expect(reply_rule, "one chat answering connect", is_chat)
    client.name = name
    observer = chat.join(chat.user("observer"), room, fresh)
    observer.say(room, "old room")
    observer.say(fresh, "new room")
    observer.settle(case.rules[0])
    got = client.settle("STATE-1")
    texts = [v["history"][0].get("message") for v in got if is_chat(v) and v.get("history")]
    chat.check(case.rules[0], texts == ["new room"], f"after connect it got {show(got)}")


def on_message(chat: Chat, client: Client, case: TransitionCase, room: str) -> None:
    other = chat.join(chat.user("other"), room)
    client.say(room, "in state connected")
    other.expect_delivery("ROUTE-1", room, client.name, "in state connected")
    client.expect_quiet("STATE-1", "still connected")


def on_leave(chat: Chat, client: Client, case: TransitionCase, room: str) -> None:
    client.leave(room, "DISCONNECT-3")
    client.expect_quiet("STATE-1", "still connected after leaving a room")


def on_disconnect(chat: Chat, client: Client, case: TransitionCase, room: str) -> None:
    client.send({"action": "disconnect"})
    client.expect_value("DISCONNECT-2", {"status": "disconnect"})
    client.expect_closed("DISCONNECT-1")


def on_connection_lost(chat: Chat, client: Client, case: TransitionCase, room: str) -> None:
    bystander = chat.join(chat.user("bystander"), room)
    name = client.name if client.joined else None
    client.send_bytes(b'{"action":"message","user_na')  # dropped in the middle of a frame
    client.close()
    bystander.expect_quiet("DISCONNECT-6", "a half frame of a dropped connection")
    if name is not None:
        chat.claim(name, "DISCONNECT-6")


def on_kick(chat: Chat, client: Client, case: TransitionCase, room: str) -> None:
    client.send_frames(*[b"not json\n"] * MAX_ERRORS)
    received = client.expect_closed("LIMIT-2", timeout=chat.reply * 2)
    chat.check_last_words(received, protocol.ErrorCode.TOO_MANY_ERRORS)


def on_shutdown(chat: Chat, client: Client, case: TransitionCase, room: str) -> None:
    chat.require_process("stopping the target")
    client.wait_accepted()
    chat.stop_target()
    before = client.expect_closed("SHUTDOWN-1", timeout=max(chat.reply, 2.0))
    told = bool(before) and before[-1] == {"status": "disconnect"}
    chat.check("SHUTDOWN-1", told, f"before closing at shutdown it sent {show(before)}")


DRIVERS: dict[str, Callable[[Chat, Client, TransitionCase, str], None]] = {
    protocol.Trigger.CONNECT: on_connect,
    protocol.Trigger.MESSAGE: on_message,
    protocol.Trigger.LEAVE: on_leave,
    protocol.Trigger.DISCONNECT: on_disconnect,
    protocol.Trigger.CONNECTION_LOST: on_connection_lost,
    protocol.Trigger.KICK: on_kick,
    protocol.Trigger.SHUTDOWN: on_shutdown,
}


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=pytest.mark.requirement(*c.rules)) for c in transition_cases()],
)
def test_transition(chat: Chat, case: TransitionCase) -> None:
    room = chat.room()
    client = reach(chat, case.source, room)
    DRIVERS[case.trigger](chat, client, case, room)


@pytest.mark.parametrize(
    ("trigger", "state", "text"),
    [
        pytest.param(t, s, e, id=f"{t} in {s}", marks=pytest.mark.requirement(*rules))
        for t, s, e, rules in refusal_cases()
    ],
)
def test_refusal(chat: Chat, trigger: str, state: str, text: str) -> None:
    rule = chat.rules[0]
    room = chat.room()
    bystander = chat.join(chat.user("bystander"), room)
    client = reach(chat, state, room)
    name = chat.user("client")
    if trigger == protocol.Trigger.MESSAGE:
        client.send({"action": "message", "user_name": name, "target": room, "message": "early"})
    elif trigger == protocol.Trigger.LEAVE:
        client.send({"action": "disconnect", "target": room})
    else:
        raise LookupError(f"the suite cannot send a {trigger!r} event")
    client.expect_error(rule, text)
    bystander.expect_quiet(rule, "a refused event")
    if state == AWAITING:
        client.join(name, rule=rule)  # still awaiting connect

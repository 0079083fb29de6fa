"""A server outlives its clients (DISCONNECT-7), and stops on SIGTERM as on Ctrl-C (SHUTDOWN-2).

The most common bug of a course server is to die when one client goes away: an unhandled
`KeyError` when a client closes without `disconnect`, or `ENOTCONN` from `getpeername()` when it
closes before saying anything. Each way of going away is a case of its own, so the report says
which one kills the server; after it, the server must still deliver between the client that was
there before and one that connects after. (A death that comes only after a case, when its
clients are closed, is caught by the run itself, which watches the target after every case.)

SHUTDOWN-1 is checked with the signal people stop servers with, SIGINT (`--stop-signal` to
change it); SHUTDOWN-2 asks the same of SIGTERM, which `kill` and service managers send.
"""

from __future__ import annotations

import signal
import time

import pytest

from conformance.kit.messages import connect_doc
from conformance.kit.wire import encode
from conformance.suite.harness import WELCOME_WITHIN_S, Chat, Client, show
from conformance.suite.verdicts import requirement

GOING_AWAY = {
    "close before saying anything": (False, b"", "close"),
    "reset before saying anything": (False, b"", "reset"),
    "close after connecting": (True, b"", "close"),
    "reset after connecting": (True, b"", "reset"),
    "close in the middle of a frame": (True, b'{"action":"message","user_na', "close"),
}


@requirement("DISCONNECT-7")
@pytest.mark.parametrize("how", list(GOING_AWAY))
def test_the_server_outlives_a_client_that_goes_away(chat: Chat, how: str) -> None:
    connects, half_frame, ending = GOING_AWAY[how]
    room = chat.room()
    before = chat.join(chat.user("before"), room)
    leaver: Client = chat.open("leaver")
    if connects:
        leaver.join(chat.user("leaver"), room)
    else:
        leaver.wait_accepted()
    if half_frame:
        leaver.send_bytes(half_frame)
    leaver.close() if ending == "close" else leaver.reset()
    after = chat.join(chat.user("after"), room)
    after.say(room, f"after a client's {how}")
    before.expect_delivery("DISCONNECT-7", room, after.name, f"after a client's {how}")


@requirement("DISCONNECT-7")
def test_the_server_outlives_a_client_that_goes_away_while_its_first_frame_waits(
    chat: Chat,
) -> None:
    """A client at a prompt gets its welcome, sends a bare `connect` (which a server may hold
    for `bare_first_frame_delay_ms`, COMPAT-3) and closes before that delay is over: when the
    delay ends, nothing is left to handle, and the server goes on serving."""
    room = chat.room()
    before = chat.join(chat.user("before"), room)
    name = chat.user("leaver")
    leaver: Client = chat.open("leaver")
    leaver.peek(WELCOME_WITHIN_S + chat.reply)  # the welcome, if any, is out: a late bare frame
    leaver.send_bytes(encode(connect_doc(name, [])))  # bare: no newline
    chat.sync()  # the target has read it
    leaver.close()
    time.sleep(chat.caps.limits["bare_first_frame_delay_ms"] / 1000 + chat.reply)
    after = chat.join(chat.user("after"), room)
    after.say(room, "after a client left with its first frame held")
    before.expect_delivery(
        "DISCONNECT-7", room, after.name, "after a client left with its first frame held"
    )


@requirement("SHUTDOWN-2")
def test_sigterm_stops_the_server_as_ctrl_c_does(chat: Chat) -> None:
    chat.require_process("stopping the target")
    alice = chat.join(chat.user("alice"), chat.room())
    waiting = chat.open("waiting")
    waiting.wait_accepted()
    chat.stop_target(signal.SIGTERM)
    for client in (alice, waiting):
        before = client.expect_closed("SHUTDOWN-2", timeout=max(chat.reply, 2.0))
        told = bool(before) and before[-1] == {"status": "disconnect"}
        chat.check("SHUTDOWN-2", told, f"{client.label}: on SIGTERM it sent {show(before)}")

"""The end of a session is the end (STATE-1, LIMIT-1): frames that arrive in the same read after
a `disconnect`, or after the frame that ended the session, are not handled.

A client may write `disconnect` and something else at once; once the session is closed, the
state machine has no transition for anything, so nothing after it may reach anyone.
"""

from __future__ import annotations

from conformance.kit.wire import frame
from conformance.suite.harness import Chat, show
from conformance.suite.verdicts import requirement


@requirement("STATE-1", "DISCONNECT-1", "DISCONNECT-2")
def test_a_message_after_disconnect_in_the_same_write_is_not_handled(chat: Chat) -> None:
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    message = {"action": "message", "user_name": alice.name, "target": room, "message": "late"}
    alice.send_bytes(frame({"action": "disconnect"}) + frame(message))  # one write
    before = alice.expect_closed("DISCONNECT-1")
    chat.check("DISCONNECT-2", before == [{"status": "disconnect"}], f"it sent {show(before)}")
    bob.expect_quiet("STATE-1", "a message its sender wrote after its disconnect")


@requirement("LIMIT-1", "LIMIT-2")
def test_nothing_is_handled_after_too_many_errors(chat: Chat) -> None:
    limit = chat.caps.limits["max_consecutive_errors"]
    alice = chat.join(chat.user("alice"), chat.room())
    alice.send_bytes(b"not json\n" * (limit + 3))  # one write
    before = alice.expect_closed("LIMIT-2", timeout=chat.reply * 2)
    chat.check(
        "LIMIT-1",
        len(before) == limit + 2 and before[-1] == {"status": "disconnect"},
        f"after {limit + 3} bad frames in one write, {limit} errors, then the last words and "
        f"nothing more were expected; it sent {len(before)} messages, ending {show(before[-3:])}",
    )
    chat.check_last_words(before, "too_many_errors")

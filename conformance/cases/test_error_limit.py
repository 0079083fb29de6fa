"""Errors in a row (ERROR-2): how many a session survives, and what breaks the row.

test_states.py shows that a session may be ended once `max_consecutive_errors` errors came in a
row. These cases check the other side of that limit: one error fewer must leave the session open
and unchanged (ERROR-2 allows a close only as LIMIT-2 says), and a frame that succeeds ends the
row, so the count starts again from zero. They cite ERROR-2 alone, the only rule they can fail.
"""

from __future__ import annotations

from conformance.suite.harness import Chat, Client, is_error
from conformance.suite.verdicts import requirement


def _errors(client: Client, count: int) -> None:
    """Send `count` frames that are not JSON, and read the error each one must get."""
    client.send_bytes(b"not json\n" * count)
    for n in range(count):
        client.expect("ERROR-2", f"error {n + 1} of {count} frames that are not JSON", is_error)


@requirement("ERROR-2")
def test_one_error_fewer_than_the_limit_keeps_the_session(chat: Chat) -> None:
    below = chat.caps.limits["max_consecutive_errors"] - 1
    room = chat.room()
    alice, bob = chat.members(room, "alice", "bob")
    _errors(alice, below)
    alice.expect_quiet("ERROR-2", f"anything more after {below} errors in a row")
    bob.say(room, "still with us?")
    alice.expect_delivery("ERROR-2", room, bob.name, "still with us?")


@requirement("ERROR-2")
def test_one_error_fewer_than_the_limit_before_connect_keeps_the_connection(chat: Chat) -> None:
    below = chat.caps.limits["max_consecutive_errors"] - 1
    name = chat.user("alice")
    alice = chat.open(name)
    _errors(alice, below)
    alice.join(name, rule="ERROR-2")
    alice.expect_quiet("ERROR-2", f"anything more after {below} errors and a connect")


@requirement("ERROR-2")
def test_a_frame_that_succeeds_ends_the_row_of_errors(chat: Chat) -> None:
    below = chat.caps.limits["max_consecutive_errors"] - 1
    alice = chat.join(chat.user("alice"), chat.room())
    _errors(alice, below)
    alice.expect_quiet("ERROR-2", f"anything more after {below} errors in a row")  # succeeds
    _errors(alice, below)
    alice.expect_quiet("ERROR-2", f"a close after a success and {below} more errors")

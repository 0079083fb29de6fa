"""What the engine counts: one outcome per thing it did or refused, by name.

`Engine.outcomes` counts them and engine/rules.py maps each to the requirements it carries out,
so a test or fuzz run can say which rules it exercised. The table there and this enum hold the
same names (tests/engine/test_outcomes.py), so a misspelt outcome fails under mypy, not only
when a report looks it up. Like the protocol's vocabulary, a member is its string.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Mapping

from protocol import ErrorCode, Trigger

__all__ = ["ERROR_OUTCOMES", "REFUSED", "Outcome", "OutcomeCounts"]


class Outcome(str, enum.Enum):
    __str__ = str.__str__

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)

    FRAME = "frame"  # a frame that is a JSON object, before anything else is checked
    # Errors counted under their own code: the frame's, the schemas', and the limits'.
    FRAME_TOO_LONG = "frame_too_long"
    MALFORMED_UTF8 = "malformed_utf8"
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELD = "missing_field"
    INVALID_ACTION = "invalid_action"
    WRONG_TYPE = "wrong_type"
    TOO_LONG = "too_long"
    INVALID_NAME = "invalid_name"
    NAME_TAKEN = "name_taken"
    TARGET_NOT_CONNECTED = "target_not_connected"
    TOO_MANY_ROOMS = "too_many_rooms"
    TOO_MANY_ERRORS = "too_many_errors"
    CONNECT_TIMEOUT = "connect_timeout"
    QUEUE_FULL = "queue_full"
    SERVER_FULL = "server_full"
    UNAVAILABLE = "unavailable"  # a node of a cluster whose broker failed
    # `name_mismatch` and `not_connected` mean different rules after different events.
    CONNECT_MISMATCH = "connect_mismatch"
    MESSAGE_MISMATCH = "message_mismatch"
    DISCONNECT_MISMATCH = "disconnect_mismatch"
    REFUSED_MESSAGE = "refused_message"
    REFUSED_LEAVE = "refused_leave"
    # The course's one-object-per-read clients.
    WELCOME = "welcome"
    WELCOME_WITHHELD = "welcome_withheld"
    BARE_FIRST_FRAME_HELD = "bare_first_frame_held"
    CONNECT_REPLY_TRIMMED = "connect_reply_trimmed"
    BARE_KICK = "bare_kick"
    # Actions that succeeded, and sessions that ended.
    CONNECT = "connect"
    RECONNECT = "reconnect"
    ROOM_MESSAGE = "room_message"
    AUTO_JOIN = "auto_join"
    DIRECT_MESSAGE = "direct_message"
    SELF_MESSAGE = "self_message"
    BROADCAST = "broadcast"
    DISCONNECT = "disconnect"
    LEAVE = "leave"
    CONNECTION_LOST = "connection_lost"
    SHUTDOWN = "shutdown"
    EVICTED = "evicted"


# The outcome of an error that is counted under its own code.
ERROR_OUTCOMES: Mapping[ErrorCode, Outcome] = {
    code: Outcome(code.value) for code in ErrorCode if code.value in {o.value for o in Outcome}
}

# The outcome of an event the state machine refuses, by trigger (machine.json's `refusals`).
REFUSED: Mapping[Trigger, Outcome] = {
    Trigger.MESSAGE: Outcome.REFUSED_MESSAGE,
    Trigger.LEAVE: Outcome.REFUSED_LEAVE,
}


class OutcomeCounts(Counter[str]):
    """`Engine.outcomes`: a Counter whose `counts[outcome] += 1` runs as dict's own C code.

    Counter defines `__delitem__` in Python, and a class with either item method in Python
    stores items through a generic path that looks `__setitem__` up on every store: about 800
    instructions more per count, twice per room message. With dict's `__delitem__` back, both
    item methods are dict's and the store is direct. The one difference from Counter: deleting
    an outcome that was never counted raises `KeyError`; nothing deletes outcomes.
    """

    __slots__ = ()
    __delitem__ = dict.__delitem__  # type: ignore[assignment]  # keys are str, as Counter[str]

"""The protocol's closed vocabularies: error codes, session states and state machine events.

Each is written out here once, as an enum whose members are the strings of errors.json and
machine.json (tests/protocol/test_vocabulary.py holds the two equal, both ways). Code names a
member (`ErrorCode.NAME_TAKEN`), so a misspelt name fails at import and under mypy, not when a
report happens to look it up.

The enums mix in `str`, as wsproto's `CloseReason` mixes in `int`: a member is its JSON string,
so it compares and hashes as that string (in C, with no Python-level `__eq__`), works as a key of
a dict read from the JSON, and `str()` or an f-string gives the plain name, never `ErrorCode.X`.
"""

from __future__ import annotations

import enum

__all__ = ["ErrorCode", "SessionState", "Trigger"]


class _Name(str, enum.Enum):
    """A member is its string: printed, formatted and compared as that string."""

    __str__ = str.__str__

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)


class ErrorCode(_Name):
    """The errors of errors.json; each member's value is the key whose wire text it sends."""

    FRAME_TOO_LONG = "frame_too_long"
    MALFORMED_UTF8 = "malformed_utf8"
    MALFORMED_JSON = "malformed_json"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_ACTION = "invalid_action"
    TOO_LONG = "too_long"
    INVALID_NAME = "invalid_name"
    NOT_CONNECTED = "not_connected"
    NAME_MISMATCH = "name_mismatch"
    NAME_TAKEN = "name_taken"
    TARGET_NOT_CONNECTED = "target_not_connected"
    TOO_MANY_ROOMS = "too_many_rooms"
    TOO_MANY_ERRORS = "too_many_errors"
    CONNECT_TIMEOUT = "connect_timeout"
    QUEUE_FULL = "queue_full"
    SERVER_FULL = "server_full"
    UNAVAILABLE = "unavailable"


class SessionState(_Name):
    """The states of machine.json (not the client's `State`, which is what a client believes)."""

    AWAITING_CONNECT = "awaiting_connect"
    CONNECTED = "connected"
    CLOSED = "closed"


class Trigger(_Name):
    """The events of machine.json: what moves a session from state to state.

    `leave` is a `disconnect` action with a `target`: one action, two events, because the two
    lead to different states.
    """

    CONNECT = "connect"
    MESSAGE = "message"
    LEAVE = "leave"
    DISCONNECT = "disconnect"
    CONNECTION_LOST = "connection_lost"
    KICK = "kick"
    SHUTDOWN = "shutdown"

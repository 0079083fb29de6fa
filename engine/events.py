"""What goes into the engine and what comes out: small frozen dataclasses, as in h11.

The transport turns socket activity into input events and carries out the outputs. Connection
ids are chosen by the transport; time is passed in (`now`, in seconds on any monotonic clock),
so the engine never reads a clock and the same event log always gives the same outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import ErrorCode, Trigger

ConnId = int


@dataclass(frozen=True, slots=True)
class ConnectionOpened:
    conn: ConnId
    now: float = 0.0
    address: str = ""


@dataclass(frozen=True, slots=True)
class DataReceived:
    conn: ConnId
    data: bytes
    now: float = 0.0


@dataclass(frozen=True, slots=True)
class ConnectionLost:
    """The peer closed or reset the connection; unknown or already closed ids are ignored."""

    conn: ConnId


@dataclass(frozen=True, slots=True)
class Tick:
    """Time has passed: lets the engine end sessions that never connected."""

    now: float


@dataclass(frozen=True, slots=True)
class Kick:
    """The transport ends a session for a reason only it can see (e.g. `queue_full`).

    `error` is the error of a limit (errors.json: a `LIMIT-` rule); any other is a `UsageError`.
    """

    conn: ConnId
    error: ErrorCode


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Event = ConnectionOpened | DataReceived | ConnectionLost | Tick | Kick | Shutdown


@dataclass(frozen=True, slots=True)
class Send:
    """Write `data` (one or more whole `\\n`-ended frames) to every connection in `to`.

    A delivery is encoded once; the same bytes object goes to every recipient.
    """

    to: tuple[ConnId, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection once everything sent to it before has been written.

    `reason` is the event that ended the session (`disconnect`, `shutdown`) or the error code of
    the limit that did (`too_many_errors`, `connect_timeout`, `queue_full`, `server_full`), for
    the transport's logs; either is a `str`.
    """

    conn: ConnId
    reason: Trigger | ErrorCode


Output = Send | Close

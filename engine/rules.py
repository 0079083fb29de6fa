"""Which requirements of PROTOCOL.md each engine outcome carries out.

The engine counts outcomes (`engine.outcomes.Outcome`, one dictionary increment each); this
table turns those counts into requirement IDs, so a fuzz or test run can say which rules it
exercised. Tests check that every ID here exists and that every server rule is either here or
named in `OUTSIDE_ENGINE`.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.framing import FRAME_ERRORS
from engine.outcomes import ERROR_OUTCOMES, REFUSED, Outcome
from protocol import ErrorCode, error_rule
from protocol.statemachine import refusals

SCHEMA_ERRORS = (
    ErrorCode.MISSING_FIELD,
    ErrorCode.INVALID_ACTION,
    ErrorCode.WRONG_TYPE,
    ErrorCode.TOO_LONG,
    ErrorCode.INVALID_NAME,
)
# Keyed by `Outcome` members (plain `str` to readers, so a report may look up a name it read).
OUTCOMES: Mapping[str, tuple[str, ...]] = {
    Outcome.FRAME: ("FRAME-1", "FRAME-2", "FRAME-3", "FRAME-4", "FRAME-5", "FRAME-9", "FRAME-10"),
    # An error's own rule is read from errors.json, the one map of errors to rules.
    **{ERROR_OUTCOMES[c]: (error_rule(c), "ERROR-1", "ERROR-2") for c in FRAME_ERRORS},
    **{ERROR_OUTCOMES[c]: (error_rule(c), "VALIDATE-6", "ERROR-2") for c in SCHEMA_ERRORS},
    Outcome.WELCOME: ("WELCOME-1", "WELCOME-2", "COMPAT-1"),
    Outcome.WELCOME_WITHHELD: ("COMPAT-2",),
    Outcome.BARE_FIRST_FRAME_HELD: ("COMPAT-2", "COMPAT-3"),
    Outcome.CONNECT_REPLY_TRIMMED: ("COMPAT-4", "CONNECT-2"),
    Outcome.BARE_KICK: ("COMPAT-5", "LIMIT-1"),
    Outcome.CONNECT: ("CONNECT-1", "CONNECT-2", "STATE-1", "VALIDATE-7", "VALIDATE-8"),
    Outcome.RECONNECT: ("CONNECT-4", "CONNECT-2"),
    Outcome.NAME_TAKEN: ("CONNECT-3",),
    Outcome.CONNECT_MISMATCH: ("CONNECT-5",),
    Outcome.ROOM_MESSAGE: (
        "ROUTE-1",
        "ROUTE-2",
        "ROUTE-3",
        "ROUTE-9",
        "ROUTE-10",
        "ROUTE-11",
        "ROUTE-12",
    ),
    Outcome.AUTO_JOIN: ("ROUTE-4",),
    Outcome.DIRECT_MESSAGE: ("ROUTE-5", "ROUTE-9", "ROUTE-11"),
    Outcome.SELF_MESSAGE: ("ROUTE-6",),
    Outcome.BROADCAST: ("ROUTE-8", "ROUTE-9", "ROUTE-12"),
    Outcome.TARGET_NOT_CONNECTED: ("ROUTE-7",),
    Outcome.MESSAGE_MISMATCH: ("ROUTE-13",),
    Outcome.TOO_MANY_ROOMS: ("ROUTE-14",),
    Outcome.DISCONNECT: ("DISCONNECT-1", "DISCONNECT-2", "CONNECT-6"),
    Outcome.LEAVE: ("DISCONNECT-3", "DISCONNECT-5"),
    Outcome.DISCONNECT_MISMATCH: ("DISCONNECT-4",),
    Outcome.CONNECTION_LOST: ("DISCONNECT-6", "CONNECT-6"),
    Outcome.SHUTDOWN: ("SHUTDOWN-1",),
    Outcome.TOO_MANY_ERRORS: ("LIMIT-1", "LIMIT-2"),
    Outcome.CONNECT_TIMEOUT: ("LIMIT-1", "LIMIT-3"),
    Outcome.QUEUE_FULL: ("LIMIT-1", "LIMIT-4"),
    Outcome.SERVER_FULL: ("LIMIT-1", "LIMIT-5"),
    Outcome.UNAVAILABLE: ("ERROR-3", "ERROR-1"),
    Outcome.EVICTED: ("LIMIT-3",),
    # An event the state machine refuses: the rules come from machine.json.
    **{REFUSED[r.trigger]: r.requirements for r in refusals().values()},
}

# Server rules the engine cannot carry out alone, and who does.
OUTSIDE_ENGINE: Mapping[str, str] = {
    # A server that dies of one client stops serving all: the transport's business, not the
    # engine's (the engine handles every event and never raises on input).
    "DISCONNECT-7": "transport/server.py: one loop, a close or reset is one more event",
    "SHUTDOWN-2": "transport/serve.py: SIGINT and SIGTERM stop the server alike",
}


def requirement_hits(outcome_counts: Mapping[str, int]) -> dict[str, int]:
    """Outcome counts turned into how often each requirement ID was exercised."""
    hits: dict[str, int] = {}
    for outcome, count in outcome_counts.items():
        for rule in OUTCOMES[outcome]:
            hits[rule] = hits.get(rule, 0) + count
    return hits

"""Which requirements of PROTOCOL.md each engine outcome carries out.

The engine counts outcomes (one dictionary increment each); this table turns those counts into
requirement IDs, so a fuzz or test run can say which rules it exercised. Tests check that every
ID here exists and that every server rule is either here or named in `OUTSIDE_ENGINE`.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol import error_rule
from protocol.statemachine import refusals

FRAME_ERRORS = ("frame_too_long", "malformed_utf8", "malformed_json")
SCHEMA_ERRORS = ("missing_field", "invalid_action", "wrong_type", "too_long", "invalid_name")
OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "frame": ("FRAME-1", "FRAME-2", "FRAME-3", "FRAME-4", "FRAME-5", "FRAME-9", "FRAME-10"),
    # An error's own rule is read from errors.json, the one map of errors to rules.
    **{code: (error_rule(code), "ERROR-1", "ERROR-2") for code in FRAME_ERRORS},
    **{code: (error_rule(code), "VALIDATE-6", "ERROR-2") for code in SCHEMA_ERRORS},
    "welcome": ("WELCOME-1", "WELCOME-2", "COMPAT-1"),
    "welcome_withheld": ("COMPAT-2",),
    "bare_first_frame_held": ("COMPAT-2", "COMPAT-3"),
    "connect_reply_trimmed": ("COMPAT-4", "CONNECT-2"),
    "bare_kick": ("COMPAT-5", "LIMIT-1"),
    "connect": ("CONNECT-1", "CONNECT-2", "STATE-1", "VALIDATE-7", "VALIDATE-8"),
    "reconnect": ("CONNECT-4", "CONNECT-2"),
    "name_taken": ("CONNECT-3",),
    "connect_mismatch": ("CONNECT-5",),
    "room_message": (
        "ROUTE-1",
        "ROUTE-2",
        "ROUTE-3",
        "ROUTE-9",
        "ROUTE-10",
        "ROUTE-11",
        "ROUTE-12",
    ),
    "auto_join": ("ROUTE-4",),
    "direct_message": ("ROUTE-5", "ROUTE-9", "ROUTE-11"),
    "self_message": ("ROUTE-6",),
    "broadcast": ("ROUTE-8", "ROUTE-9", "ROUTE-12"),
    "target_not_connected": ("ROUTE-7",),
    "message_mismatch": ("ROUTE-13",),
    "too_many_rooms": ("ROUTE-14",),
    "disconnect": ("DISCONNECT-1", "DISCONNECT-2", "CONNECT-6"),
    "leave": ("DISCONNECT-3", "DISCONNECT-5"),
    "disconnect_mismatch": ("DISCONNECT-4",),
    "connection_lost": ("DISCONNECT-6", "CONNECT-6"),
    "shutdown": ("SHUTDOWN-1",),
    "too_many_errors": ("LIMIT-1", "LIMIT-2"),
    "connect_timeout": ("LIMIT-1", "LIMIT-3"),
    "queue_full": ("LIMIT-1", "LIMIT-4"),
    "server_full": ("LIMIT-1", "LIMIT-5"),
    "evicted": ("LIMIT-3",),
    # An event the state machine refuses: the rules come from machine.json.
    **{f"refused_{r.trigger}": r.requirements for r in refusals().values()},
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

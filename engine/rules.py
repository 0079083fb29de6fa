"""Which requirements of PROTOCOL.md each engine outcome carries out.

The engine counts outcomes (one dictionary increment each); this table turns those counts into
requirement IDs, so a fuzz or test run can say which rules it exercised. Tests check that every
ID here exists and that every server rule is either here or named in `OUTSIDE_ENGINE`.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.statemachine import refusals

OUTCOMES: Mapping[str, tuple[str, ...]] = {
    "frame": ("FRAME-1", "FRAME-2", "FRAME-3", "FRAME-4", "FRAME-5", "FRAME-9", "FRAME-10"),
    "frame_too_long": ("FRAME-6", "ERROR-1", "ERROR-2"),
    "malformed_utf8": ("FRAME-7", "ERROR-1", "ERROR-2"),
    "malformed_json": ("FRAME-8", "ERROR-1", "ERROR-2"),
    "missing_field": ("VALIDATE-1", "VALIDATE-6", "ERROR-2"),
    "invalid_action": ("VALIDATE-2", "VALIDATE-6", "ERROR-2"),
    "wrong_type": ("VALIDATE-3", "VALIDATE-6", "ERROR-2"),
    "too_long": ("VALIDATE-4", "VALIDATE-6", "ERROR-2"),
    "invalid_name": ("VALIDATE-5", "VALIDATE-6", "ERROR-2"),
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
OUTSIDE_ENGINE: Mapping[str, str] = {}


def requirement_hits(outcome_counts: Mapping[str, int]) -> dict[str, int]:
    """Outcome counts turned into how often each requirement ID was exercised."""
    hits: dict[str, int] = {}
    for outcome, count in outcome_counts.items():
        for rule in OUTCOMES[outcome]:
            hits[rule] = hits.get(rule, 0) + count
    return hits

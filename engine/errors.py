"""The engine's two kinds of error, as in h11.

`ProtocolViolation` means the peer broke the protocol: the engine catches it and answers with an
error frame, so it never reaches the caller. `UsageError` means the caller misused the engine
(data for a connection it never opened, a connection opened twice or after `Shutdown`, a `Kick`
with an error that is not a limit's): that is a bug in the transport, and raised.
"""

from __future__ import annotations

from engine.outcomes import Outcome
from protocol import ErrorCode


class ProtocolViolation(Exception):
    """The peer's frame breaks a rule: answered with `code`'s error, counted as `outcome`."""

    def __init__(self, code: ErrorCode, outcome: Outcome) -> None:
        super().__init__(code)
        self.code = code
        self.outcome = outcome


class UsageError(Exception):
    pass

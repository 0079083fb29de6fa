"""The engine's two kinds of error, as in h11.

`ProtocolViolation` means the peer broke the protocol: the engine catches it and answers with an
error frame, so it never reaches the caller. `UsageError` means the caller misused the engine
(for example data for a connection it never opened): that is a bug in the transport, and raised.
"""

from __future__ import annotations


class ProtocolViolation(Exception):
    def __init__(self, code: str, outcome: str, **values: str) -> None:
        super().__init__(code)
        self.code = code
        self.outcome = outcome
        self.values = values


class UsageError(Exception):
    pass

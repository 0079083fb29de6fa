"""Fault: a leave is acknowledged but the connection stays in the room (DISCONNECT-5)."""

from __future__ import annotations

from typing import Any

from engine import codec
from engine.engine import Engine, Session
from engine.errors import ProtocolViolation
from engine.events import Send
from engine.outcomes import Outcome
from protocol import ErrorCode
from tests.conformance.broken.common import serve


class KeepsMembersWhoLeft(Engine):
    def _leave(self, session: Session, document: dict[str, Any]) -> None:
        if document.get("user_name", session.name) != session.name:
            raise ProtocolViolation(ErrorCode.NAME_MISMATCH, Outcome.DISCONNECT_MISMATCH)
        self._out.append(Send((session.conn,), codec.left(document["target"])))


if __name__ == "__main__":
    serve(KeepsMembersWhoLeft)

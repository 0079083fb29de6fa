"""Fault: the sender of a room message gets it back (ROUTE-3)."""

from __future__ import annotations

from typing import Any

from engine import codec
from engine.engine import Engine, Session
from engine.events import Send
from tests.conformance.broken.common import serve


class EchoingEngine(Engine):
    def _message(self, session: Session, document: dict[str, Any]) -> None:
        super()._message(session, document)
        target = document["target"]
        if target.startswith("#"):
            entry = {
                "target": target,
                "from": document["user_name"],
                "message": document["message"],
            }
            self._out.append(Send((session.conn,), codec.encode_delivery(entry)))


if __name__ == "__main__":
    serve(EchoingEngine)

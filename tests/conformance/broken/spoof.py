"""Fault: a `message` with someone else's `user_name` is sent anyway, from its sender (ROUTE-13)."""

from __future__ import annotations

from typing import Any

from engine.engine import Engine, Session
from tests.conformance.broken.common import serve


class TrustingEngine(Engine):
    def _message(self, session: Session, document: dict[str, Any]) -> None:
        super()._message(session, {**document, "user_name": session.name})


if __name__ == "__main__":
    serve(TrustingEngine)

"""Fault: a direct message to oneself is dropped (ROUTE-6), so nothing can be settled."""

from __future__ import annotations

from typing import Any

from engine.engine import Engine, Session
from tests.conformance.broken.common import serve


class SelfishEngine(Engine):
    def _message(self, session: Session, document: dict[str, Any]) -> None:
        if document["target"] != session.name or document["user_name"] != session.name:
            super()._message(session, document)


if __name__ == "__main__":
    serve(SelfishEngine)

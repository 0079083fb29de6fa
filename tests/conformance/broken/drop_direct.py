"""Fault: direct messages to someone else vanish, with no error (ROUTE-5); to oneself they work."""

from __future__ import annotations

from typing import Any

from engine.engine import Engine, Session
from tests.conformance.broken.common import serve


class DroppingEngine(Engine):
    def _message(self, session: Session, document: dict[str, Any]) -> None:
        target = document["target"]
        if target.startswith("@") and target != session.name and target in self._names:
            return
        super()._message(session, document)


if __name__ == "__main__":
    serve(DroppingEngine)

"""Fault: one direct message to someone else in fifty vanishes, with no error (ROUTE-5).

A bug that depends on the server's history: no short session shows it on a fresh server.
"""

from __future__ import annotations

from typing import Any

from engine.engine import Engine, Session
from tests.conformance.broken.common import serve


class DropsEveryFiftiethDirectMessage(Engine):
    direct_messages = 0

    def _message(self, session: Session, document: dict[str, Any]) -> None:
        before = len(self._out)
        super()._message(session, document)
        target = document["target"]
        if target != session.name and target.startswith("@") and len(self._out) > before:
            self.direct_messages += 1
            if self.direct_messages % 50 == 0:
                del self._out[before:]


if __name__ == "__main__":
    serve(DropsEveryFiftiethDirectMessage)

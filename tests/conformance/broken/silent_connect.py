"""Fault: a good `connect` gets no reply (CONNECT-2), as some course servers do; core allows it."""

from __future__ import annotations

from typing import Any

from engine.engine import Engine, Session
from tests.conformance.broken.common import serve


class SilentEngine(Engine):
    def _connect(self, session: Session, document: dict[str, Any]) -> None:
        super()._connect(session, document)
        self._out.pop()  # the `chat` with the history, always the last output of a connect


if __name__ == "__main__":
    serve(SilentEngine)

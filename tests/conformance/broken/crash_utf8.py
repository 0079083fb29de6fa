"""Fault: the process dies on a read that is not UTF-8, as with a bare `decode()` (FRAME-7)."""

from __future__ import annotations

from engine.engine import Engine
from engine.events import DataReceived, Event, Output
from tests.conformance.broken.common import serve


class DecodingEngine(Engine):
    def handle(self, event: Event) -> list[Output]:
        if isinstance(event, DataReceived):
            event.data.decode("utf-8")  # UnicodeDecodeError ends serve_forever, and the process
        return super().handle(event)


if __name__ == "__main__":
    serve(DecodingEngine)

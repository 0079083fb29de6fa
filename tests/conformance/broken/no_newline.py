"""Fault: messages are sent with no `\n` after them (FRAME-9), one object after another."""

from __future__ import annotations

from engine.engine import Engine
from engine.events import Event, Output, Send
from tests.conformance.broken.common import serve


class RunOnEngine(Engine):
    def handle(self, event: Event) -> list[Output]:
        return [
            Send(out.to, out.data.replace(b"\n", b"")) if type(out) is Send else out
            for out in super().handle(event)
        ]


if __name__ == "__main__":
    serve(RunOnEngine)

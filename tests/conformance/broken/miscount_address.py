"""Fault: an address's first connection is counted twice, and the count never returns to zero,
so an address gets one connection fewer than `max_connections_per_address` (LIMIT-5).

Refusing one connection too soon looks like enforcing the limit: only a case that fills the
limit to the last connection, each connected so that none is evicted, tells the two apart.
"""

from __future__ import annotations

from engine.engine import Engine
from engine.events import ConnectionOpened
from tests.conformance.broken.common import serve

LIMITS = {"connect_timeout_s": 3, "evict_after_s": 1, "max_connections_per_address": 30}


class MiscountingEngine(Engine):
    def _on_open(self, event: ConnectionOpened) -> None:
        if event.address and event.address not in self._per_address:
            self._per_address[event.address] = 1  # the slip: counted before it is added
        super()._on_open(event)


if __name__ == "__main__":
    serve(MiscountingEngine, limits=LIMITS)

"""Fault: a newcomer takes the place of an idle connection only at the per-address limit; at
`max_connections`, reached by clients of several addresses, it is refused (LIMIT-3).

The eviction that is easy to write: look for the victim among the newcomer's own address's
connections, the ones its limit counts. The suite sees it only with clients on several
addresses, so it is served with a server limit above the per-address one.
"""

from __future__ import annotations

from engine.engine import Engine, Session
from tests.conformance.broken.common import serve

LIMITS = {
    "connect_timeout_s": 3,
    "evict_after_s": 1,
    "max_connections_per_address": 30,
    "max_connections": 50,
}


class PerAddressEvictionEngine(Engine):
    def _evictable(self, address: str | None, now: float) -> Session | None:
        if address is None:  # the server's limit, not the address's: no one to evict
            return None
        return super()._evictable(address, now)


if __name__ == "__main__":
    serve(PerAddressEvictionEngine, limits=LIMITS)

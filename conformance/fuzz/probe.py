"""Before fuzzing: how fast the target answers, and which limits it announces.

Waits are scaled from a measured round trip, not fixed: a direct message to oneself and back
(ROUTE-6), taken several times, the slowest kept. The limits come from the target's `welcome`
when it sends one, so that the oracle predicts limit-driven behaviour with the target's numbers.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from conformance.timing import direct, is_echo
from conformance.wire import Closed, WireClient

ROUNDS = 5
WAIT_FOR_WELCOME_S = 0.5
# A packet later than this counts as missing. Correct runs never wait it out (every wait ends
# when the predicted packets arrive, or a round trip's echo does), so only findings pay for it,
# each time Hypothesis replays one while shrinking it.
# The floor is there for loaded machines, where a correct target can stall a few hundred ms.
TIMEOUT_PER_RTT = 100
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 1.0, 5.0


class TargetUnusable(Exception):
    """The target cannot be fuzzed: it does not accept, or does not answer a round trip."""


@dataclass(frozen=True)
class Probe:
    address: tuple[str, int]
    rtt: float
    limits: dict[str, int] = field(default_factory=dict)

    @property
    def timeout(self) -> float:
        return min(max(self.rtt * TIMEOUT_PER_RTT, MIN_TIMEOUT_S), MAX_TIMEOUT_S)


def probe(address: tuple[str, int]) -> Probe:
    try:
        client = WireClient(address, "probe", timeout=MAX_TIMEOUT_S)
    except OSError as error:
        raise TargetUnusable(f"cannot connect to {address[0]}:{address[1]}: {error}") from error
    try:
        first = client.recv_value(WAIT_FOR_WELCOME_S)
        limits = {}
        if isinstance(first, dict) and first.get("status") == "welcome":
            announced = first.get("limits")
            if isinstance(announced, dict):
                limits = {k: v for k, v in announced.items() if type(v) is int}
        name = f"@probe.{uuid.uuid4().hex[:8]}"
        client.send({"action": "connect", "user_name": name, "targets": []})
        rtt = max(_round_trip(client, name) for _ in range(ROUNDS))
        client.send({"action": "disconnect"})
    except (Closed, TimeoutError) as error:
        raise TargetUnusable(f"no round trip through the target (ROUTE-6): {error}") from error
    finally:
        client.close()
    return Probe(address, rtt, limits)


def _round_trip(client: WireClient, name: str) -> float:
    started = time.monotonic()
    client.send(direct(name, "probe"))
    client.recv_until(lambda v: is_echo(v, name, "probe"))
    return time.monotonic() - started

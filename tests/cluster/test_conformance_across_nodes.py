"""The design's promise: the conformance suite's `full` profile passes with its clients spread
round-robin over the nodes (tests/cluster/roundrobin.py puts each new connection on the next).

Not yet: the suite waits for deliveries with a barrier, a direct message to oneself, which a node
delivers at once, while room messages come back through Redis a moment later; so a barrier can
overtake the room messages sent before it (on one node too: then ROUTE-10 breaks, a sender's
direct message overtaking its own room messages). The engine must hold a local direct delivery
behind the room messages the node received before it (or send it through the broker as well).
And connection limits are per node (LIMIT-5: two nodes accept twice `max_connections`).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cluster.redis_server import RedisServer
from tests.cluster.roundrobin import RoundRobin
from tests.transport.netutil import serve_process

JSONCHAT = [sys.executable, "-m", "protocol.commands"]


@pytest.mark.xfail(reason="a local direct overtakes room messages in flight (see docstring)")
def test_the_full_profile_passes_across_two_nodes(redis_server: RedisServer) -> None:
    a = serve_process("--redis", redis_server.url, "--node-id", "a")
    b = serve_process("--redis", redis_server.url, "--node-id", "b")
    front = RoundRobin([a.address, b.address])
    try:
        target = f"tcp:{front.address[0]}:{front.address[1]}"
        done = subprocess.run(
            [*JSONCHAT, "conformance", target, "--profile", "full"],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:]
    finally:
        front.close()
        a.close()
        b.close()

"""The design's promise: the conformance suite's `full` profile passes with its clients spread
round-robin over the nodes (tests/cluster/roundrobin.py puts each new connection on the next).

Not yet (four runs: 182 or 183 of 184 cases pass, 5 skipped as for any `tcp:` target):
- LIMIT-5 always: connection limits are counted per node, so two nodes accept twice
  `max_connections_per_address` where the welcome announces it once.
- Now and then one case whose client waits with a barrier (a direct message to itself): the
  node delivers it at once, while another node's room messages to that client, sent before the
  barrier, are still on their way through Redis. Within one node the engine keeps a sender's
  direct behind its own room messages (and a single node passes the whole profile, six runs of
  six); across nodes only a direct that always goes through Redis, behind what Redis delivered
  before, would keep that order.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cluster.redis_server import RedisServer
from tests.cluster.roundrobin import RoundRobin
from tests.transport.netutil import serve_process

JSONCHAT = [sys.executable, "-m", "protocol.commands"]


def test_the_full_profile_passes_on_one_node_of_a_cluster(redis_server: RedisServer) -> None:
    """A node of a cluster is judged as any server: every room message goes through Redis and
    back, names are claimed there, and the suite cannot tell."""
    serve = f"{sys.executable} -m transport.cli serve --host {{host}} --port {{port}}"
    target = f"cmd:{serve} --redis {redis_server.url}"
    done = subprocess.run(
        [*JSONCHAT, "conformance", target, "--profile", "full"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]


@pytest.mark.xfail(reason="LIMIT-5 is per node; a barrier can overtake another node's messages")
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

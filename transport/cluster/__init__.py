"""Several nodes, one chat: the Redis side of `jsonchat serve --redis`.

The engine of a node (engine/cluster.py) says what it needs from the other nodes as cluster
outputs and hears back cluster events (engine/events.py); this package carries them to and
from Redis, inside the server's one epoll loop. Only `transport.server` imports it, and only
when a Redis is given, so a single node pays nothing for it.

- `address`: the `redis://HOST:PORT[/DB]` URL and the node id.
- `resp`: one non-blocking connection to Redis, RESP in and out (hiredis.Reader, sans-IO).
- `scripts`: the Lua scripts that carry out names, leases, rooms, numbering and history in
  Redis, atomically; the keys they use are listed there.
- `payloads`: the pub/sub messages between nodes.
- `driver`: outputs to commands, replies and pub/sub messages to events; subscriptions,
  leases, reconnection, and the `jc:epoch` check for a Redis that lost its data.

What stays at-most-once is written down in transport/CLUSTER.md.
"""

from transport.cluster.address import (
    RedisAddress,
    check_node_id,
    default_node_id,
    parse_redis_url,
)
from transport.cluster.driver import BrokerUnreachable, DriverConfig, RedisDriver

__all__ = [
    "BrokerUnreachable",
    "DriverConfig",
    "RedisAddress",
    "RedisDriver",
    "check_node_id",
    "default_node_id",
    "parse_redis_url",
]

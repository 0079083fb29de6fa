"""Where the cluster's Redis is (`redis://HOST:PORT[/DB]`) and what this node is called in it."""

from __future__ import annotations

import os
import re
import secrets
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORT = 6379
# A node id is part of Redis keys, channel names and the space-separated header of every room
# message (transport/cluster/payloads.py), so it is kept to characters that need no escaping.
NODE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int = DEFAULT_PORT
    db: int = 0

    def __str__(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"


def parse_redis_url(url: str) -> RedisAddress:
    """`redis://HOST:PORT[/DB]` (the port defaults to 6379, the database to 0); ValueError else."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"not a redis://HOST:PORT[/DB] URL: {url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"only redis://HOST:PORT[/DB] is supported: {url!r}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"the database must be a number: {url!r}")
    return RedisAddress(parts.hostname, parts.port or DEFAULT_PORT, int(path or 0))


def check_node_id(node_id: str) -> str:
    if not NODE_ID.fullmatch(node_id):
        raise ValueError(f"a node id is 1 to 64 of A-Z a-z 0-9 . _ : - : {node_id!r}")
    return node_id


def default_node_id() -> str:
    """Unique without configuration: host name, process id and a random part (a node restarted
    with the same pid is still a new node, so it never inherits a dead one's lease)."""
    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:32] or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"

"""The design's "Order of writes": in each turn of the server loop, the Redis commands the
engine emitted are written before that turn's client data, so whatever a client sees (a room
left) is already on its way to Redis before the client can act on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.nodes import node
from tests.cluster.redis_server import RedisServer
from tests.transport.netutil import connect
from transport.cluster import scripts
from transport.cluster.resp import RespConnection
from transport.connection import Connection


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, bytes]]]:
    """Every write of the server, in order: ("redis", bytes) or ("client", bytes)."""
    log: list[tuple[str, bytes]] = []
    redis_flush, client_flush = RespConnection.flush, Connection.flush

    def flush_redis(self: RespConnection) -> bool:
        log.append(("redis", bytes(self.out)))
        return redis_flush(self)

    def flush_client(self: Connection) -> None:
        log.append(("client", b"".join(bytes(b) for b in self.out)))
        client_flush(self)

    monkeypatch.setattr(RespConnection, "flush", flush_redis)
    monkeypatch.setattr(Connection, "flush", flush_client)
    yield log


def test_a_room_left_is_told_to_redis_before_the_client(
    redis_server: RedisServer, writes: list[tuple[str, bytes]]
) -> None:
    with node(redis_server.url, "a") as a:
        alice = connect(a.address, "@alice", "#r")
        alice.send({"action": "disconnect", "target": "#r"})
        assert alice.recv_value() == {"status": "disconnect", "target": "#r"}
    leave = scripts.LEAVE.sha.encode()
    told_redis = next(i for i, (kind, data) in enumerate(writes) if leave in data)
    told_client = next(i for i, (_, data) in enumerate(writes) if b'"target":"#r"' in data)
    assert writes[told_redis][0] == "redis" and writes[told_client][0] == "client"
    assert told_redis < told_client

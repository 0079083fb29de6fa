"""Nodes of a cluster for the tests: `ChatServer` threads (`node`) or `jsonchat serve --redis`
processes (`node_process`, where a process is the point: SIGKILL), and what their clients need."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from conformance.kit.target import ServerProcess
from conformance.kit.wire import WireClient
from tests.transport.netutil import running_server, serve_process
from transport.server import ChatServer


def node(redis_url: str, node_id: str, **cluster_limits: int) -> AbstractContextManager[ChatServer]:
    return running_server(redis=redis_url, node_id=node_id, cluster_limits=cluster_limits)


def node_process(redis_url: str, node_id: str, *options: str) -> ServerProcess:
    return serve_process("--no-welcome", "--redis", redis_url, "--node-id", node_id, *options)


def connect_reply(address: tuple[str, int], name: str, *rooms: str) -> Any:
    """The reply to a connect under `name`, on a connection of its own, closed after (refused
    connects in a row on one connection could end its session, LIMIT-2)."""
    client = WireClient(address, label=name, timeout=5.0)
    try:
        client.send({"action": "connect", "user_name": name, "targets": list(rooms)})
        return client.recv_value()
    finally:
        client.close()


def receive(client: WireClient, count: int, timeout: float = 10.0) -> list[Any]:
    """The next `count` values `client` receives (fails when they do not come in time)."""
    values: list[Any] = []
    for _ in range(count):
        value = client.recv_value(timeout=timeout)
        assert value is not None, f"{client.label} got {len(values)} of {count}: {values[-3:]}"
        values.append(value)
    return values


def texts(values: list[Any]) -> list[str]:
    """The message texts of live deliveries, in the order they came."""
    return [entry["message"] for v in values if v.get("status") == "chat" for entry in v["history"]]

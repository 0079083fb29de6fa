"""ERROR-3: a node whose broker fails answers `Service Unavailable` and keeps the session as it was.

Only a node of a cluster has a broker to fail, so this drives a `ClusterEngine` alone, playing the
broker by hand; tests/cluster drives several nodes over a fake broker.
"""

from __future__ import annotations

import orjson

from conformance.suite.verdicts import requirement
from engine.cluster import ClusterEngine
from engine.engine import EngineConfig
from engine.events import (
    BrokerFailed,
    ConnectionOpened,
    DataReceived,
    NodeOutput,
    Register,
    Registered,
    Send,
)

UNAVAILABLE = {"status": "error", "message": "Service Unavailable"}


def frames(outputs: list[NodeOutput]) -> list[object]:
    data = b"".join(o.data for o in outputs if isinstance(o, Send))
    return [orjson.loads(line) for line in data.splitlines()]


def connect(name: str) -> bytes:
    return orjson.dumps({"action": "connect", "user_name": name, "targets": ["#a"]}) + b"\n"


@requirement("ERROR-3", "ERROR-1")
def test_a_connect_the_broker_failed_is_not_done_and_can_be_sent_again() -> None:
    node = ClusterEngine(EngineConfig(welcome=False))
    node.handle(ConnectionOpened(1))
    (register,) = node.handle(DataReceived(1, connect("@ann")))
    assert isinstance(register, Register) and register.name == "@ann"
    assert frames(node.handle(BrokerFailed(1))) == [UNAVAILABLE]
    message = {"action": "message", "user_name": "@ann", "target": "#a", "message": "hi"}
    refused = node.handle(DataReceived(1, orjson.dumps(message) + b"\n"))
    assert frames(refused) == [{"status": "error", "message": "Client not connected"}]
    assert node.name_of(1) is None
    (again,) = node.handle(DataReceived(1, connect("@ann")))
    assert isinstance(again, Register) and again.name == "@ann"
    granted = node.handle(Registered(1, True, (("#a", 0), ("#all", 0))))
    assert frames(granted) == [{"status": "chat", "history": []}]
    assert node.name_of(1) == "@ann"

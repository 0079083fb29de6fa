"""Several `ClusterEngine`s over the fake broker, with clients that have inboxes: no sockets.

A client lives on one node; what it sends goes to that node's engine, what any node sends it is
appended to its bytes. Nothing moves between nodes until `settle()` (or the broker's `step`).
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from engine.cluster import ClusterEngine
from engine.engine import EngineConfig
from engine.events import Close, ConnectionLost, ConnectionOpened, DataReceived, Output, Send
from tests.cluster.fake_broker import BrokerNode, FakeBroker


class Cluster:
    def __init__(
        self, nodes: int = 2, welcome: bool = False, stream_cap: int = 64, **limits: int
    ) -> None:
        self.config = EngineConfig(limits={**EngineConfig().limits, **limits}, welcome=welcome)
        self.broker = FakeBroker(stream_cap)
        self.nodes = [self.add_node() for _ in range(nodes)]
        self.raw: dict[int, bytes] = {}
        self.read: dict[int, int] = {}  # how much of `raw` a test has taken
        self.closed: set[int] = set()
        self._next = 0

    def add_node(self) -> BrokerNode:
        return self.broker.add_node(ClusterEngine(self.config), self._output)

    def _output(self, output: Output) -> None:
        if isinstance(output, Send):
            for conn in output.to:
                assert conn not in self.closed, f"data for {conn} after it was closed"
                assert output.data.endswith(b"\n"), "every frame ends with a newline"
                self.raw[conn] = self.raw.get(conn, b"") + output.data
        else:
            assert isinstance(output, Close)
            self.closed.add(output.conn)

    def client(
        self, node: int, name: str | None = None, rooms: tuple[str, ...] = (), settle: bool = True
    ) -> Client:
        """A client on node `node` (0-based), connected as `name` to `rooms` if given."""
        self._next += 1
        conn = self._next
        self.raw[conn] = b""
        self.read[conn] = 0
        client = Client(self, self.nodes[node], conn)
        self.broker.feed(client.node, ConnectionOpened(conn))
        if name is not None:
            client.connect(name, *rooms)
            if settle:
                self.settle()
                reply = client.take()
                assert reply and reply[0]["status"] == "chat", reply
        return client

    def settle(self, rng: random.Random | None = None) -> None:
        self.broker.settle(rng)


class Client:
    def __init__(self, cluster: Cluster, node: BrokerNode, conn: int) -> None:
        self.cluster = cluster
        self.node = node
        self.conn = conn
        self.name = ""

    def send_bytes(self, data: bytes) -> None:
        if not self.closed:
            self.cluster.broker.feed(self.node, DataReceived(self.conn, data))

    def send(self, **fields: Any) -> None:
        self.send_bytes(orjson.dumps(fields) + b"\n")

    def connect(self, name: str, *rooms: str) -> None:
        self.name = name
        self.send(action="connect", user_name=name, targets=list(rooms))

    def say(self, target: str, text: str) -> None:
        self.send(action="message", user_name=self.name, target=target, message=text)

    def leave(self, room: str) -> None:
        self.send(action="disconnect", user_name=self.name, target=room)

    def disconnect(self) -> None:
        self.send(action="disconnect", user_name=self.name)

    def drop(self) -> None:
        if not self.closed:
            self.cluster.broker.feed(self.node, ConnectionLost(self.conn))

    def take(self) -> list[Any]:
        """What this client has received since the last take, decoded."""
        raw = self.cluster.raw[self.conn]
        new = raw[self.cluster.read[self.conn] :]
        self.cluster.read[self.conn] = len(raw)
        return [orjson.loads(line) for line in new.splitlines()]

    @property
    def closed(self) -> bool:
        return self.conn in self.cluster.closed

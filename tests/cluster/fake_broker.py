"""An in-memory broker with the cluster's semantics, to drive several `ClusterEngine`s in tests.

It does what the Redis driver and its Lua scripts do (the design's "Semantics"), with the same data
model under the same key names, so the two can be compared line by line:

- `jc:name:{name}` -> owner node id; `jc:node:{id}` a node's liveness (here: in `alive` or not);
- `jc:members:{room}` the set of node ids with a local member; `jc:seq:{room}` the room's last
  sequence number; `jc:order` one global counter; `jc:stream:{room}` the room's capped stream of
  `(seq, order, origin node, origin conn, entry)`;
- channels `jc:room:{room}` (room messages) and `jc:node:{id}` (direct messages).

Each node has two queues, as the driver has two connections: `replies` (the command connection:
answers in the order the requests were sent) and `deliveries` (the pub/sub connection). Nothing
happens until a test says so: `settle()` feeds queued events to the engines until every queue is
empty, in a fixed order (or one drawn from a seeded `random.Random`, to vary interleavings), so a
run is deterministic. Controls make the failures of the design happen: `drop_deliveries` (a gap),
`lose_pubsub` / `reconnect_pubsub` (a killed pub/sub connection), `fail_commands` (the command
connection is down: requests get `BrokerFailed`), `kill` (a node dies: its liveness ends) and
`restart` (the broker loses everything it held).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from engine.cluster import ClusterEngine
from engine.events import (
    BrokerFailed,
    BrokerReconnected,
    ClusterEvent,
    ClusterOutput,
    ConnId,
    DirectMessage,
    DirectSent,
    Fetch,
    Fetched,
    LeaveRoom,
    NodeEvent,
    Output,
    Publish,
    Published,
    Register,
    Registered,
    Release,
    Resume,
    Resumed,
    RoomMessage,
    SendDirect,
)
from protocol import ALL_ROOM

ALL = ALL_ROOM


def _conn_of(event: ClusterEvent) -> ConnId | None:
    """The session whose request `event` answers, if any."""
    if isinstance(event, Registered | Published | DirectSent):
        return event.conn
    return None


@dataclass(frozen=True)
class StreamEntry:
    """One entry of `jc:stream:{room}` (the XADD fields)."""

    seq: int
    order: int
    origin_node: str
    origin_conn: ConnId
    entry: bytes

    @property
    def entry_doc(self) -> dict[str, str]:
        """The entry decoded: `{"target", "from", "message"}`."""
        doc: dict[str, str] = orjson.loads(self.entry)
        return doc


@dataclass
class BrokerNode:
    """One node as the broker sees it: its engine, its two connections' queues, its channels."""

    id: str
    engine: ClusterEngine
    on_output: Callable[[Output], None]
    replies: deque[ClusterEvent] = field(default_factory=deque)
    deliveries: deque[ClusterEvent] = field(default_factory=deque)
    channels: set[str] = field(default_factory=set)
    pubsub_up: bool = True
    commands_up: bool = True
    running: bool = True


class FakeBroker:
    def __init__(self, stream_cap: int = 64) -> None:
        self.stream_cap = stream_cap  # MAXLEN of every stream: max(history_per_room, repair window)
        self.nodes: dict[str, BrokerNode] = {}
        self.sent: list[tuple[str, ClusterOutput]] = []  # every request, by node, for tests to read
        self._forget()

    def _forget(self) -> None:
        self.names: dict[str, str] = {}  # jc:name:{name}
        self.alive: set[str] = {n.id for n in self.nodes.values() if n.running}  # jc:node:{id}
        self.members: dict[str, set[str]] = {}  # jc:members:{room}
        self.seq: dict[str, int] = {}  # jc:seq:{room}
        self.order = 0  # jc:order
        self.streams: dict[str, deque[StreamEntry]] = {}  # jc:stream:{room}

    # -- nodes --------------------------------------------------------------------------------

    def add_node(self, engine: ClusterEngine, on_output: Callable[[Output], None]) -> BrokerNode:
        """A node starts: its liveness key is set, it listens on `#all` and its own channel."""
        node = BrokerNode(f"n{len(self.nodes) + 1}", engine, on_output)
        node.channels |= {f"jc:room:{ALL}", f"jc:node:{node.id}"}
        self.nodes[node.id] = node
        self.alive.add(node.id)
        return node

    def feed(self, node: BrokerNode, event: NodeEvent) -> None:
        """Give `node`'s engine an event; its requests go to the broker, the rest to `on_output`,
        the requests first (the driver writes them before the client data of the same turn)."""
        assert node.running, f"{node.id} is not running"
        for output in node.engine.handle(event):
            if isinstance(output, ClusterOutput):
                self._request(node, output)
            else:
                node.on_output(output)

    # -- settling -----------------------------------------------------------------------------

    def pending(self) -> bool:
        return any(n.replies or n.deliveries for n in self.nodes.values() if n.running)

    def step(self, rng: random.Random | None = None) -> bool:
        """Feed one queued event to its engine; False when every queue is empty."""
        queues = [
            (node, queue)
            for node in self.nodes.values()
            if node.running
            for queue in (node.replies, node.deliveries)
            if queue
        ]
        if not queues:
            return False
        node, queue = rng.choice(queues) if rng else queues[0]
        self.feed(node, queue.popleft())
        return True

    def settle(self, rng: random.Random | None = None, limit: int = 100_000) -> None:
        """Run until nothing is queued anywhere: every answer and delivery has arrived."""
        for _ in range(limit):
            if not self.step(rng):
                return
        raise AssertionError("the cluster does not settle")

    # -- failures -----------------------------------------------------------------------------

    def drop_deliveries(self, node: BrokerNode) -> int:
        """Lose what the node's pub/sub connection has not delivered yet: a gap. How many."""
        lost = len(node.deliveries)
        node.deliveries.clear()
        return lost

    def lose_pubsub(self, node: BrokerNode) -> None:
        """The pub/sub connection dies (CLIENT KILL, output buffer limit): nothing more arrives."""
        node.deliveries.clear()
        node.pubsub_up = False

    def reconnect_pubsub(self, node: BrokerNode) -> None:
        """The driver reconnects and resubscribes, then tells the engine."""
        node.pubsub_up = True
        node.replies.append(BrokerReconnected(state_lost=False))

    def fail_commands(self, node: BrokerNode, down: bool = True) -> None:
        """The command connection is down (True) or back (False): requests sent while it is down
        are answered `BrokerFailed` (if a session's) or lost. Once it is back the engine hears
        `BrokerReconnected`, as after a lost pub/sub connection, so that a `Fetch` lost with it
        is asked again."""
        node.commands_up = not down
        if not down:
            node.replies.append(BrokerReconnected(state_lost=False))

    def kill(self, node: BrokerNode) -> None:
        """SIGKILL: the node stops; its liveness key expires, so its names are free."""
        node.running = False
        node.replies.clear()
        node.deliveries.clear()
        self.alive.discard(node.id)

    def restart(self) -> None:
        """The broker restarts without its data; every running node reconnects and is told.

        Answers not yet read are lost with the connection: a session's request gets
        `BrokerFailed` instead."""
        self._forget()
        for node in self.nodes.values():
            if node.running:
                failed = [BrokerFailed(c) for r in node.replies if (c := _conn_of(r)) is not None]
                node.replies = deque([*failed, BrokerReconnected(state_lost=True)])
                node.deliveries.clear()

    # -- the scripts --------------------------------------------------------------------------

    def _request(self, node: BrokerNode, request: ClusterOutput) -> None:
        self.sent.append((node.id, request))
        if not node.commands_up:
            conn = getattr(request, "conn", None)
            if conn is not None:
                node.replies.append(BrokerFailed(conn))
            return
        if isinstance(request, Register):
            node.replies.append(self._register(node, request))
        elif isinstance(request, Publish):
            node.replies.append(self._publish(node, request))
        elif isinstance(request, SendDirect):
            node.replies.append(self._send_direct(node, request))
        elif isinstance(request, Fetch):
            node.replies.append(self._fetch(node, request))
        elif isinstance(request, LeaveRoom):
            self._leave(node, request.room)
        elif isinstance(request, Release):
            if self.names.get(request.name) == node.id:
                del self.names[request.name]
        else:
            node.replies.append(self._resume(node, request))

    def _claimable(self, name: str, node: BrokerNode) -> bool:
        owner = self.names.get(name)
        return owner is None or owner == node.id or owner not in self.alive

    def _join(self, node: BrokerNode, room: str) -> None:
        """SADD jc:members:{room}; a room whose set holds only dead nodes is dropped first."""
        members = self.members.setdefault(room, set())
        if room != ALL and members and not members & self.alive:  # ROUTE-12: stale history
            self._drop(room)
            members = self.members.setdefault(room, set())
        members.add(node.id)
        node.channels.add(f"jc:room:{room}")

    def _drop(self, room: str) -> None:
        self.members.pop(room, None)
        self.seq.pop(room, None)
        self.streams.pop(room, None)

    def _leave(self, node: BrokerNode, room: str) -> None:
        node.channels.discard(f"jc:room:{room}")
        members = self.members.get(room)
        if members is None:
            return
        members.discard(node.id)
        members &= self.alive  # dead nodes' ids go on the way
        if not members and room != ALL:  # ROUTE-12: an empty room is dropped with its history
            self._drop(room)

    def _register(self, node: BrokerNode, request: Register) -> Registered:
        if request.name is not None:
            if not self._claimable(request.name, node):  # CONNECT-3 across nodes
                return Registered(request.conn, False)
            self.names[request.name] = node.id
        for room in request.rooms:
            self._join(node, room)
        sequences = tuple((room, self.seq.get(room, 0)) for room in request.rooms)
        history = sorted(
            (e.order, e.entry)
            # none for 0, as the script's `if want > 0` (where [-0:] would be the whole stream)
            for room in (request.history_rooms if request.history else ())
            for e in list(self.streams.get(room, ()))[-request.history :]
        )
        return Registered(request.conn, True, sequences, tuple(history))

    def _publish(self, node: BrokerNode, request: Publish) -> Published:
        room = request.room
        if request.joined:
            self._join(node, room)
        self.seq[room] = seq = self.seq.get(room, 0) + 1
        self.order += 1
        entry = StreamEntry(seq, self.order, node.id, request.conn, request.entry)
        stream = self.streams.setdefault(room, deque(maxlen=self.stream_cap))
        stream.append(entry)
        for other in self._subscribers(f"jc:room:{room}"):
            sender = request.conn if other is node else None
            other.deliveries.append(RoomMessage(room, seq, sender, request.entry))
        return Published(request.conn, room, seq)

    def _send_direct(self, node: BrokerNode, request: SendDirect) -> DirectSent:
        owner = self.names.get(request.target)
        if owner is None or owner not in self.alive:  # ROUTE-7
            return DirectSent(request.conn, False)
        for other in self._subscribers(f"jc:node:{owner}"):
            other.deliveries.append(DirectMessage(request.target, request.data))
        return DirectSent(request.conn, True)

    def _fetch(self, node: BrokerNode, request: Fetch) -> Fetched:
        messages = tuple(
            RoomMessage(
                request.room,
                e.seq,
                e.origin_conn if e.origin_node == node.id else None,
                e.entry,
            )
            for e in self.streams.get(request.room, ())
            if e.seq > request.after
        )
        return Fetched(request.room, messages)

    def _resume(self, node: BrokerNode, request: Resume) -> Resumed:
        for name in request.names:
            if self._claimable(name, node):
                self.names[name] = node.id
        for room in request.rooms:
            self._join(node, room)
        return Resumed(tuple((room, self.seq.get(room, 0)) for room in request.rooms))

    def _subscribers(self, channel: str) -> list[BrokerNode]:
        return [
            n for n in self.nodes.values() if n.running and n.pubsub_up and channel in n.channels
        ]

"""One node of a cluster: the single-node engine, with names, room order and history in a broker.

Several nodes behave, to every client, as one server. What must be the same on every node lives in
a broker they share (Redis; a fake in tests) and the engine stays pure: it asks the broker with
`ClusterOutput`s and hears answers and other nodes' traffic as `ClusterEvent`s (engine/events.py
is the contract; the driver in transport/ carries them). Everything a single node decides alone
(framing, validation, states, limits, the course's habits) is the `Engine`'s, unchanged: the node
is an `Engine` subclass that overrides only what touches the cluster, and `ClusterEngine` wraps it
so that its `handle` can return the wider `NodeOutput` without changing the `Engine`'s type.

- A name is claimed with `Register` (CONNECT-3 across nodes); one held or being claimed on this
  node is refused at once, as a single node refuses it.
- Room messages go out as `Publish` only: every node, the sender's too, delivers them when the
  broker's `RoomMessage` comes, in the broker's per-room sequence, so members on every node see one
  order. Per room the node keeps the last sequence delivered (`last`) and each local member's join
  sequence; a duplicate is dropped, a gap buffered and repaired with `Fetch`.
- A session's frames after a `Register` or `SendDirect` wait for the answer, so replies and errors
  keep the order of the frames that caused them.
- History is the broker's (its capped streams): the connect reply merges what `Registered` brings.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import orjson

from engine import codec
from engine.engine import ALL, CLOSED, CONNECTED, Engine, EngineConfig, Session
from engine.errors import ProtocolViolation
from engine.events import (
    BrokerFailed,
    BrokerReconnected,
    ClusterOutput,
    ConnId,
    DirectMessage,
    DirectSent,
    Fetch,
    Fetched,
    LeaveRoom,
    NodeEvent,
    NodeOutput,
    Output,
    Publish,
    Published,
    Register,
    Registered,
    Release,
    Resume,
    Resumed,
    RoomMessage,
    Send,
    SendDirect,
)
from engine.framing import Frame
from engine.outcomes import ERROR_OUTCOMES, Outcome
from protocol import ErrorCode, Trigger

__all__ = ["ClusterEngine"]

_UNAVAILABLE = codec.error(ErrorCode.UNAVAILABLE)


class _Room:
    """What this node knows of one room it has members in.

    `last` is None until the broker's first answer about the room says where this node came in;
    messages that come before are buffered. A member's join sequence is None while the request
    that makes it a member is out; messages delivered meanwhile are kept in `recent`, so that it
    gets those numbered after its join once it is known.
    """

    __slots__ = ("buffer", "empty", "fetches", "last", "members", "name", "pending", "recent")

    def __init__(self, name: str) -> None:
        self.name = name
        self.last: int | None = None
        self.members: dict[ConnId, int | None] = {}
        self.pending = 0  # members whose join sequence is not known yet
        self.buffer: dict[int, RoomMessage] = {}
        self.fetches = 0  # `Fetch`es out: while any is, messages wait in `buffer`
        self.empty = 0  # answers in a row that brought nothing new
        self.recent: list[RoomMessage] = []


class _Connect:
    """A `connect` whose `Register` is out: what to do when it is answered."""

    __slots__ = ("directs", "errors", "first", "name", "rooms", "wanted", "with_all")

    def __init__(
        self,
        name: str,
        first: bool,
        wanted: tuple[str, ...],
        with_all: bool,
        rooms: tuple[str, ...],
        errors: int,
    ) -> None:
        self.name = name
        self.first = first
        self.wanted = wanted  # the rooms of `targets` but `#all`, in order
        self.with_all = with_all
        self.rooms = rooms  # the rooms this request makes the session a member of
        self.errors = errors  # errors in a row before the frame (LIMIT-2 counts as one node does)
        self.directs: list[bytes] = []  # direct messages for the name that came before the answer


class _Direct:
    """A `SendDirect` out. A message to oneself comes back on the broker's pub/sub, not with the
    answer: the sender's later frames wait for both (`arrived`), so that its own message comes
    before anything its later frames cause, as on one server."""

    __slots__ = ("arrived", "data", "errors", "outcome")

    def __init__(self, errors: int, outcome: Outcome, data: bytes) -> None:
        self.errors = errors
        self.outcome = outcome
        self.data = data
        self.arrived = outcome is not Outcome.SELF_MESSAGE


class _Post:
    __slots__ = ("joined", "room")

    def __init__(self, room: str, joined: bool) -> None:
        self.room = room
        self.joined = joined


_Request = _Connect | _Direct | _Post


class _Node(Engine):
    """The `Engine` with the actions that touch the cluster overridden; see the module doc."""

    def __init__(self, config: EngineConfig | None = None) -> None:
        super().__init__(config)
        # Per room, entries a node reads for a connect reply: a room keeps its last
        # `history_per_room` (ROUTE-12), the reply the last `history_on_connect` of all.
        self._history_read = min(self._history_size, self._history_on_connect)
        self._requests: list[ClusterOutput] = []
        self._rooms_here: dict[str, _Room] = {}
        self._claims: dict[str, _Connect] = {}  # names being claimed by a session of this node
        self._outstanding: dict[ConnId, deque[_Request]] = {}  # in the order they were sent
        self._queued: dict[ConnId, deque[Frame]] = {}  # a waiting session's later frames
        self._echoes: dict[ConnId, _Direct] = {}  # answered messages to oneself not yet back
        self._state_lost = False
        self._handlers.update(
            {
                Registered: self.on_registered,
                Published: self.on_published,
                RoomMessage: self.on_room_message,
                Fetched: self.on_fetched,
                DirectSent: self.on_direct_sent,
                DirectMessage: self.on_direct_message,
                BrokerFailed: self.on_broker_failed,
                BrokerReconnected: self.on_broker_reconnected,
                Resumed: self.on_resumed,
            }
        )

    if TYPE_CHECKING:  # `Engine.handle` itself, typed wider: its table has the cluster events

        def handle(self, event: NodeEvent) -> list[Output]: ...

    # -- frames wait for their session's request ----------------------------------------------

    def _frames(self, session: Session, frames: list[Frame]) -> None:
        queued = self._queued.get(session.conn)
        if queued is not None:
            queued.extend(frames)
            return
        for i, frame in enumerate(frames):  # FRAME-4, ROUTE-10: in the order they came
            if isinstance(frame, dict):
                self._count(Outcome.FRAME)
                self._on_frame(session, frame)
            else:  # FRAME-6, FRAME-7, FRAME-8: only this frame is lost
                self._reject(session, frame, ERROR_OUTCOMES[frame])
            if session.state == CLOSED:
                break
            queued = self._queued.get(session.conn)
            if queued is not None:  # a request is out: the rest waits for its answer
                queued.extend(frames[i + 1 :])
                break

    def _send_request(self, session: Session, request: _Request, output: ClusterOutput) -> None:
        self._requests.append(output)
        self._outstanding.setdefault(session.conn, deque()).append(request)
        if not isinstance(request, _Post):
            self._queued[session.conn] = deque()

    def _answered(self, conn: ConnId, kind: type[_Request]) -> _Request | None:
        """The oldest request of `kind` of `conn` still out, now answered; None if its session
        ended (ending undid what it had asked)."""
        outstanding = self._outstanding.get(conn)
        for request in outstanding or ():
            if isinstance(request, kind):
                assert outstanding is not None
                outstanding.remove(request)
                if not outstanding:
                    del self._outstanding[conn]
                return request
        return None

    def _resume(self, conn: ConnId) -> None:
        """The session's request is answered: handle the frames that waited for it."""
        queued = self._queued.pop(conn, None)
        session = self.sessions.get(conn)
        if queued and session is not None and session.state != CLOSED:
            self._frames(session, list(queued))

    # -- actions ------------------------------------------------------------------------------

    def _connect(self, session: Session, document: dict[str, Any]) -> None:
        name: str = document["user_name"]
        first = session.state != CONNECTED
        if not first:
            if name != session.name:  # CONNECT-5
                raise ProtocolViolation(ErrorCode.NAME_MISMATCH, Outcome.CONNECT_MISMATCH)
        elif name in self._names or name in self._claims:  # CONNECT-3: held on this node
            raise ProtocolViolation(ErrorCode.NAME_TAKEN, Outcome.NAME_TAKEN)
        wanted = dict.fromkeys(document["targets"])
        with_all = wanted.pop(ALL, 0) is None
        new = tuple(r for r in wanted if r not in session.rooms)
        rooms = (*new, ALL) if first else new  # CONNECT-4: a reconnect claims only new rooms
        history_rooms = (*wanted, ALL) if with_all else tuple(wanted)
        request = _Connect(name, first, tuple(wanted), with_all, rooms, session.errors_in_row)
        if not rooms and not history_rooms:  # nothing to ask the broker: answered here
            self._connected(session, request, Registered(session.conn, True))
            return
        for room in rooms:
            self._join(room, session.conn)
        if first:
            self._claims[name] = request
        register = Register(
            session.conn, name if first else None, rooms, history_rooms, self._history_read
        )
        self._send_request(session, request, register)

    def _connected(self, session: Session, request: _Connect, answer: Registered) -> None:
        """The broker granted the connect: the session's state changes as a single node's does
        at once, and it gets its reply, then what its rooms delivered while it waited."""
        conn = session.conn
        if request.first:
            del self._claims[request.name]
            self._enter_connected(session, request.name)  # CONNECT-1
            outcome = Outcome.CONNECT
        else:
            outcome = Outcome.RECONNECT  # CONNECT-4
        for room in [r for r in session.rooms if r not in request.wanted]:  # CONNECT-4: replaced
            self._unsubscribe(session, room)
        sequences = dict(answer.sequences)
        joined = []
        for room in request.rooms:  # CONNECT-1
            state = self._rooms_here[room]
            if state.last is None:
                state.last = sequences[room]
            state.members[conn] = sequences[room]
            state.pending -= 1
            if room != ALL:
                session.rooms[room] = None
            joined.append(state)
        self._count(outcome)
        # `answer.history` is oldest first across rooms, as `Registered` promises
        self._out.append(Send((conn,), self._connect_reply(answer.history, orjson.loads)))
        for state in joined:
            self._caught_up(state, conn)
        for data in request.directs:
            self._out.append(Send((conn,), data))  # ROUTE-5
        for state in joined:
            self._drain(state)

    def _undo_connect(self, session: Session, request: _Connect, release: bool) -> None:
        """The connect did not happen: its rooms are left, and with `release` a name it claimed
        is given back to the broker (not when the broker refused it: another session holds it)."""
        for room in request.rooms:
            state = self._rooms_here.get(room)
            if state is not None and state.members.get(session.conn, 0) is None:
                del state.members[session.conn]
                state.pending -= 1
                self._forget_if_empty(state)
        if request.first:
            del self._claims[request.name]
            if release:
                self._requests.append(Release(request.name))

    def _send_direct(self, session: Session, target: str, entry: dict[str, str]) -> None:
        delivery = codec.encode_delivery(entry)
        outcome = Outcome.SELF_MESSAGE if target == session.name else Outcome.DIRECT_MESSAGE
        # Through the broker even to a session of this node (or to the sender itself): a
        # direct delivered at once could overtake room messages that another node sent to
        # the recipient before it, which one server never does; behind them in the broker's
        # pub/sub it cannot (a client's self-echo barrier relies on exactly that order).
        request = _Direct(session.errors_in_row, outcome, delivery)
        self._send_request(session, request, SendDirect(session.conn, target, delivery))

    def _post_to_room(
        self, session: Session, target: str, entry: dict[str, str], joining: bool
    ) -> None:
        if joining:  # ROUTE-4: a member from the message on, of the messages numbered after it
            self._count(Outcome.AUTO_JOIN)
            session.rooms[target] = None
            self._join(target, session.conn)
        # ROUTE-1, ROUTE-2, ROUTE-3, ROUTE-8: every member on every node gets it from the broker
        publish = Publish(session.conn, target, orjson.dumps(entry), joining)
        self._send_request(session, _Post(target, joining), publish)
        self._count(Outcome.BROADCAST if target == ALL else Outcome.ROOM_MESSAGE)

    # -- rooms --------------------------------------------------------------------------------

    def _join(self, room: str, conn: ConnId) -> None:
        """`conn` becomes a member whose join sequence the broker's answer will tell."""
        state = self._rooms_here.get(room)
        if state is None:
            state = self._rooms_here[room] = _Room(room)
        if conn not in state.members:
            state.members[conn] = None
            state.pending += 1

    def _unsubscribe(self, session: Session, name: str) -> None:
        session.rooms.pop(name, None)
        state = self._rooms_here.get(name)
        if state is not None and session.conn in state.members:
            if state.members.pop(session.conn) is None:
                state.pending -= 1
            self._forget_if_empty(state)

    def _forget_if_empty(self, state: _Room) -> None:
        if not state.members:
            del self._rooms_here[state.name]
            if state.name != ALL:  # ROUTE-12: the broker drops a room no node has members in
                self._requests.append(LeaveRoom(state.name))
        elif not state.pending:
            state.recent.clear()

    def _deliver(self, state: _Room, message: RoomMessage) -> None:
        """Deliver a room's next message to its members here who joined before it was sent."""
        sequence, sender = message.sequence, message.sender
        to = tuple(
            conn
            for conn, joined in state.members.items()
            if joined is not None and joined < sequence and conn != sender  # ROUTE-3
        )
        if to:
            self._out.append(Send(to, codec.delivery(message.entry)))  # ROUTE-1, ROUTE-2, ROUTE-8
        if state.pending:
            state.recent.append(message)
        state.last = sequence

    def _caught_up(self, state: _Room, conn: ConnId) -> None:
        """A member's join sequence is known: deliver what came meanwhile, numbered after it."""
        joined = state.members[conn]
        assert joined is not None
        for message in state.recent:
            if message.sequence > joined and message.sender != conn:  # ROUTE-3
                self._out.append(Send((conn,), codec.delivery(message.entry)))
        if not state.pending:
            state.recent.clear()

    def _drain(self, state: _Room) -> None:
        """Deliver what the buffer holds in order; at a gap, ask for what is missing (once)."""
        last, buffer = state.last, state.buffer
        if last is None or state.fetches:
            return
        for sequence in [s for s in buffer if s <= last]:  # duplicates
            del buffer[sequence]
        while last + 1 in buffer:
            self._deliver(state, buffer.pop(last + 1))
            last += 1
        if buffer:
            self._fetch(state)

    def _fetch(self, state: _Room) -> None:
        assert state.last is not None
        state.fetches += 1
        self._requests.append(Fetch(state.name, state.last))

    # -- sessions -----------------------------------------------------------------------------

    def _end(self, session: Session, trigger: Trigger) -> None:
        conn = session.conn
        outstanding = self._outstanding.pop(conn, ())
        self._queued.pop(conn, None)
        self._echoes.pop(conn, None)
        super()._end(session, trigger)  # leaves its rooms: LeaveRoom where it was the last
        if session.name is not None:
            self._unsubscribe(session, ALL)  # not in `session.rooms`: left here, not above
            self._requests.append(Release(session.name))  # CONNECT-6, DISCONNECT-6
        for request in outstanding:  # what it asked is undone after it, in the broker's order
            if isinstance(request, _Connect):
                self._undo_connect(session, request, release=True)

    def _unavailable(self, session: Session) -> None:
        """The broker could not carry out the session's action: it stays as it was (ERROR-3)."""
        self._count(Outcome.UNAVAILABLE)
        self._out.append(Send((session.conn,), _UNAVAILABLE))  # ERROR-3

    # -- cluster events -----------------------------------------------------------------------

    def on_registered(self, event: Registered) -> None:
        request = self._answered(event.conn, _Connect)
        if not isinstance(request, _Connect):
            return
        session = self.sessions[event.conn]
        if event.granted:
            self._connected(session, request, event)
        else:  # CONNECT-3: held on another node
            self._undo_connect(session, request, release=False)
            session.errors_in_row = request.errors
            self._reject(session, ErrorCode.NAME_TAKEN, Outcome.NAME_TAKEN)
        self._resume(event.conn)

    def on_published(self, event: Published) -> None:
        request = self._answered(event.conn, _Post)
        state = self._rooms_here.get(event.room)
        if state is None:
            return
        if state.last is None:  # the node came in with this message
            state.last = event.sequence - 1
        joined = isinstance(request, _Post) and request.joined
        if joined and state.members.get(event.conn, 0) is None:  # ROUTE-4: after its message
            state.members[event.conn] = event.sequence
            state.pending -= 1
            self._caught_up(state, event.conn)
        self._drain(state)

    def on_room_message(self, event: RoomMessage) -> None:
        state = self._rooms_here.get(event.room)
        if state is None:  # no member here (any more)
            return
        last = state.last
        if last is None or state.fetches:
            state.buffer[event.sequence] = event
        elif event.sequence == last + 1:
            self._deliver(state, event)
            if state.buffer:
                self._drain(state)
        elif event.sequence > last + 1:  # a gap: the missing ones are fetched
            state.buffer[event.sequence] = event
            self._drain(state)

    def on_fetched(self, event: Fetched) -> None:
        state = self._rooms_here.get(event.room)
        if state is None or state.last is None:
            return
        state.fetches = max(0, state.fetches - 1)
        got = sorted(
            (m for m in event.messages if m.sequence > state.last), key=lambda m: m.sequence
        )
        for message in got:  # from the oldest the broker still holds: older ones are lost
            state.buffer.pop(message.sequence, None)
            self._deliver(state, message)
        # A gap left once no Fetch is out is asked for again: this answer may predate the
        # buffered messages (it came on the other connection). A second answer that brings
        # nothing was read after them: what is missing is gone (a dropped room), so go past it.
        if got:
            state.empty = 0
        elif not state.fetches:
            state.empty += 1
        if state.empty >= 2 and not state.fetches:
            state.empty = 0
            for sequence in sorted(s for s in state.buffer if s > state.last):
                self._deliver(state, state.buffer.pop(sequence))
        self._drain(state)

    def on_direct_sent(self, event: DirectSent) -> None:
        request = self._answered(event.conn, _Direct)
        if not isinstance(request, _Direct):
            return
        session = self.sessions[event.conn]
        if event.delivered:
            self._count(request.outcome)  # ROUTE-5, ROUTE-6
            if not request.arrived:  # ROUTE-6: its own message first, then its later frames
                self._echoes[event.conn] = request
                return
        else:  # ROUTE-7: no node holds the name
            session.errors_in_row = request.errors
            self._reject(session, ErrorCode.TARGET_NOT_CONNECTED, Outcome.TARGET_NOT_CONNECTED)
        self._resume(event.conn)

    def on_direct_message(self, event: DirectMessage) -> None:
        session = self._names.get(event.target)
        if session is not None:
            self._out.append(Send((session.conn,), event.data))  # ROUTE-5, ROUTE-11
            echo = self._echoes.get(session.conn)
            if echo is not None and echo.data == event.data:  # answered, now arrived
                del self._echoes[session.conn]
                self._resume(session.conn)
                return
            for request in self._outstanding.get(session.conn, ()):  # arrived before its answer
                if isinstance(request, _Direct) and not request.arrived:
                    request.arrived = request.data == event.data
        elif event.target in self._claims:  # its Register is answered after: delivered then
            self._claims[event.target].directs.append(event.data)

    def on_broker_failed(self, event: BrokerFailed) -> None:
        outstanding = self._outstanding.get(event.conn)
        if not outstanding:
            return
        request = outstanding.popleft()
        if not outstanding:
            del self._outstanding[event.conn]
        session = self.sessions[event.conn]
        if isinstance(request, _Post):  # no frame waits for it
            if request.joined and session.rooms.get(request.room, 0) is None:
                self._unsubscribe(session, request.room)
            self._unavailable(session)
            return
        if isinstance(request, _Connect):
            self._undo_connect(session, request, release=True)
        session.errors_in_row = request.errors
        self._unavailable(session)
        self._resume(event.conn)

    def on_broker_reconnected(self, event: BrokerReconnected) -> None:
        self._state_lost = event.state_lost
        for conn in list(self._echoes):  # a message to oneself lost with the pub/sub connection
            del self._echoes[conn]
            self._resume(conn)
        self._requests.append(Resume(tuple(self._names), tuple(self._rooms_here)))

    def on_resumed(self, event: Resumed) -> None:
        lost, self._state_lost = self._state_lost, False
        for room, sequence in event.sequences:
            state = self._rooms_here.get(room)
            if state is None or state.last is None:
                continue
            if lost:  # the broker numbers the room from `sequence` on: so does this node
                state.last = sequence
                state.buffer.clear()
                state.recent.clear()
                state.fetches = 0  # answers of the broker's old life never come
                for conn, joined in state.members.items():
                    if joined is not None:
                        state.members[conn] = sequence
            elif sequence > state.last:  # missed while the broker's connection was down
                self._fetch(state)  # even if one is out: it may have been answered too early


class ClusterEngine:
    """The engine of one node of a cluster: `handle(event)` as `Engine.handle`, for the
    single-node events and the `ClusterEvent`s, returning the `ClusterOutput`s first (the
    broker's commands of a turn are written before its client data) and then `Send`/`Close`.

    What the driver must keep to, beyond events.py's docstrings:
    - answers (`Registered`, `Published`, `DirectSent`, `Fetched`, `Resumed`) come in the order
      the requests were emitted, and `BrokerFailed(conn)` stands for the oldest unanswered
      request of `conn` (`Register`, `Publish` or `SendDirect`);
    - connection ids are never reused: an answer for a session that has ended is recognised by
      its id and ignored (the end already undid the request, after it in the broker's order);
    - `Publish.entry` is the entry as compact JSON, handed back unchanged in `RoomMessage` and
      `Fetched`, whose `sender` is the origin conn when the origin node is this one (so a
      repaired gap never sends a sender its own message); `SendDirect.data` is the whole frame
      to write, handed over unchanged in `DirectMessage`;
    - `Register.history` is a count per room: the engine merges by order and cuts;
    - `BrokerReconnected(state_lost=False)` after either connection is back, so that a `Fetch`
      lost with the command connection is asked again.
    """

    def __init__(self, config: EngineConfig | None = None) -> None:
        self._node = node = _Node(config)
        self.config = node.config

    def handle(self, event: NodeEvent) -> list[NodeOutput]:
        """Everything `event` causes: the broker's requests, then the clients' bytes, in order."""
        node = self._node
        requests: list[ClusterOutput] = []
        node._requests = requests
        out = node.handle(event)
        return [*requests, *out]

    @property
    def sessions(self) -> dict[ConnId, Session]:
        return self._node.sessions

    @property
    def outcomes(self) -> Any:
        return self._node.outcomes

    def requirement_hits(self) -> dict[str, int]:
        return self._node.requirement_hits()

    def name_of(self, conn: ConnId) -> str | None:
        return self._node.name_of(conn)

    def next_deadline(self) -> float | None:
        return self._node.next_deadline()

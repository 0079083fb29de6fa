"""The jsonchat engine: the reference behaviour of protocol v1, with no I/O.

Feed it events (`engine.events`), get back what to send and what to close. It owns every session,
name and room of one server. Session states follow the `transitions` Machine built from
protocol/machine.json: the Machine says which events are legal where and performs every state
change; self-loops (a `message` while connected) are looked up in a table derived from the
Machine and need no trigger, which keeps the hot path at a few microseconds.

Checks run in the order PROTOCOL.md gives (VALIDATE-6): frame, UTF-8, JSON, envelope, action
schema, session state, identity, routing; the first failure is the one error sent.

The course's one-object-per-read clients (COMPAT-1 to COMPAT-5) are served by looking at a
session's first frame only: until it has come, `Session.first_pending` routes the session's
reads through `_first_data`; afterwards a read costs one attribute test more than before. Timers
(the delayed welcome, the delayed first bare frame, the connect timeout) are dicts in deadline
order, so a `Tick` looks at their fronts only and `next_deadline` is O(1).
"""

from __future__ import annotations

import operator
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import protocol
from engine import codec
from engine.errors import ProtocolViolation, UsageError
from engine.events import (
    Close,
    ConnectionLost,
    ConnectionOpened,
    ConnId,
    DataReceived,
    Event,
    Kick,
    Output,
    Send,
    Shutdown,
    Tick,
)
from engine.framing import Frame, FrameDecoder
from engine.outcomes import ERROR_OUTCOMES, REFUSED, Outcome, OutcomeCounts
from engine.rooms import HistoryEntry, Room
from engine.rules import requirement_hits
from engine.validation import compiled
from protocol import ErrorCode, SessionState, Trigger
from protocol.statemachine import refusals, shared_machine, transition_table

# Session states as the Machine sets them: exact `str`, which the per-frame comparisons need to
# stay on CPython's fast path; taken from the vocabulary, not retyped.
AWAITING = SessionState.AWAITING_CONNECT.value
CONNECTED = SessionState.CONNECTED.value
CLOSED = SessionState.CLOSED.value
UNKNOWN, LINES, BARE = 0, 1, 2  # how a session frames what it sends: not yet known, `\n`, bare
_NEWLINE = b"\n"
_NEWLINE_BYTE = _NEWLINE[0]
ALL = protocol.ALL_ROOM  # the room everyone is in
_ACTIONS = (Trigger.CONNECT.value, Trigger.MESSAGE.value, Trigger.DISCONNECT.value)
_LEAVE, _DISCONNECT = Trigger.LEAVE.value, Trigger.DISCONNECT.value
# Members met on every frame, bound once: reading one from its enum class costs about as much
# as a dict lookup in Python code (EnumType has a Python `__getattr__` path), a name here nothing.
_FRAME, _ROOM_MESSAGE, _BROADCAST = Outcome.FRAME, Outcome.ROOM_MESSAGE, Outcome.BROADCAST
_DIRECT_MESSAGE, _SELF_MESSAGE, _AUTO_JOIN = (
    Outcome.DIRECT_MESSAGE,
    Outcome.SELF_MESSAGE,
    Outcome.AUTO_JOIN,
)
_INVALID_ACTION = ErrorCode.INVALID_ACTION
_CONNECT, _CONNECT_OUTCOME = Trigger.CONNECT, Outcome.CONNECT
# A kick carries the error of a limit (LIMIT-2 to LIMIT-5), which errors.json names.
_KICK_CODES = frozenset(
    code for code in ErrorCode if str(protocol.error_table()[code]["rule"]).startswith("LIMIT-")
)
_ENVELOPE = compiled("client/envelope")
_ACTION_SCHEMAS = {action: compiled(f"client/{action}") for action in _ACTIONS}
_BY_SEQUENCE = operator.itemgetter(0)


@dataclass(frozen=True)
class EngineConfig:
    """Limits default to protocol/limits.json; `welcome=False` makes a server that sends none."""

    limits: Mapping[str, int] = field(default_factory=protocol.limits)
    welcome: bool = True
    welcome_text: str = "Welcome to jsonchat"

    def limit(self, name: str) -> int:
        return self.limits.get(name, protocol.limits()[name])


class Session:
    __slots__ = (
        "address",
        "conn",
        "decoder",
        "errors_in_row",
        "first_pending",
        "framing",
        "held",
        "name",
        "opened_at",
        "rooms",
        "saw_newline",
        "split",
        "state",
        "welcomed",
    )

    def __init__(self, conn: ConnId, address: str, now: float, max_frame_bytes: int) -> None:
        self.conn = conn
        self.address = address
        self.opened_at = now
        self.state = AWAITING
        self.name: str | None = None
        self.rooms: dict[str, None] = {}
        self.decoder = FrameDecoder(max_frame_bytes)
        self.errors_in_row = 0
        # Until its first frame has been handled, a session's reads go through `_first_data`.
        self.first_pending = True
        self.framing = UNKNOWN
        self.saw_newline = False  # a `\n` came before the first frame was complete
        self.split = False  # the first frame began in an earlier read than the one ending it
        self.welcomed = False
        # A one-object-per-read session's first frames and later reads, while they wait (COMPAT-3).
        self.held: deque[list[Frame] | bytes] | None = None


class Engine:
    def __init__(self, config: EngineConfig | None = None) -> None:
        self.config = config = config or EngineConfig()
        self._machine = shared_machine()
        self._table = transition_table(self._machine)
        self._states = self._machine.states  # by name: `set_state` given a State looks none up
        # The table's triggers by state: a frame's check is two lookups, no tuple to build.
        self._triggers: dict[str, frozenset[str]] = {
            state: frozenset(t for s, t in self._table if s == state) for state in self._states
        }
        self._refusals = refusals()
        self._max_frame = config.limit("max_frame_bytes")
        self._max_rooms = config.limit("max_rooms_per_session")
        self._history_size = config.limit("history_per_room")
        self._history_on_connect = config.limit("history_on_connect")
        self._max_errors = config.limit("max_consecutive_errors")
        self._connect_timeout = config.limit("connect_timeout_s")
        self._max_connections = config.limit("max_connections")
        self._max_per_address = config.limit("max_connections_per_address")
        self._evict_after = config.limit("evict_after_s")
        self._welcome_delay = config.limit("welcome_delay_ms") / 1000
        self._bare_delay = config.limit("bare_first_frame_delay_ms") / 1000
        self._reply_bytes = config.limit("connect_reply_bytes")
        self._welcome = codec.welcome(config.welcome_text, config.limits) if config.welcome else b""
        self.sessions: dict[ConnId, Session] = {}
        self._awaiting: dict[ConnId, Session] = {}  # in order of opening, for the connect timeout
        self._grace = config.limit("first_frame_grace_ms") / 1000
        # Timers, each dict in deadline order (every entry waits the same delay): welcomes not
        # yet sent (COMPAT-1); bare first frames waiting for a `\n` (COMPAT-2) and waiting after
        # a welcome (COMPAT-3), with their release times.
        self._welcome_due: dict[ConnId, Session] = {}
        self._held_grace: dict[ConnId, float] = {}
        self._held_late: dict[ConnId, float] = {}
        self._names: dict[str, Session] = {}
        self._rooms: dict[str, Room] = {}
        self._all = Room(ALL, self._history_size)  # every connected session; never dropped
        self._per_address: dict[str, int] = {}
        self._sequence = 0
        self._shut_down = False
        self.outcomes: Counter[str] = OutcomeCounts()
        self._out: list[Output] = []
        # The action handlers, by trigger of machine.json (`leave` is a disconnect with a target).
        self._actions: dict[str, Callable[[Session, dict[str, Any]], None]] = {
            Trigger.CONNECT.value: self._connect,
            Trigger.MESSAGE.value: self._message,
            Trigger.LEAVE.value: self._leave,
            Trigger.DISCONNECT.value: self._disconnect,
        }
        self._handlers: dict[type, Callable[[Any], None]] = {
            DataReceived: self._on_data,
            ConnectionOpened: self._on_open,
            ConnectionLost: self._on_lost,
            Tick: self._on_tick,
            Kick: self._on_kick,
            Shutdown: self._on_shutdown,
        }

    # -- public API ---------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Output]:
        """Everything `event` causes, in the order it must happen on the wire."""
        self._out = []
        self._handlers[type(event)](event)
        return self._out

    def requirement_hits(self) -> dict[str, int]:
        """How often each requirement ID has been exercised so far."""
        return requirement_hits(self.outcomes)

    def name_of(self, conn: ConnId) -> str | None:
        session = self.sessions.get(conn)
        return session.name if session else None

    def next_deadline(self) -> float | None:
        """The earliest time at which a `Tick` would do something, or None if none would.

        The transport ticks at least this soon; ticking more often is harmless.
        """
        deadlines = []
        if self._welcome_due:
            deadlines.append(next(iter(self._welcome_due.values())).opened_at + self._welcome_delay)
        for held in (self._held_grace, self._held_late):
            if held:
                deadlines.append(next(iter(held.values())))
        if self._awaiting:
            deadlines.append(next(iter(self._awaiting.values())).opened_at + self._connect_timeout)
        return min(deadlines, default=None)

    # -- events -------------------------------------------------------------------------------

    def _on_open(self, event: ConnectionOpened) -> None:
        conn, address = event.conn, event.address
        if self._shut_down:
            raise UsageError("the engine has shut down")
        if conn in self.sessions:
            raise UsageError(f"connection {conn} is already open")
        address_full = bool(address) and (
            self._per_address.get(address, 0) >= self._max_per_address
        )
        if address_full or len(self.sessions) >= self._max_connections:  # LIMIT-5
            victim = self._evictable(address if address_full else None, event.now)
            if victim is None:  # LIMIT-5, LIMIT-1: the error, then disconnect, then the close
                self._count(Outcome.SERVER_FULL)
                self._out += [
                    Send((conn,), codec.error(ErrorCode.SERVER_FULL) + codec.DISCONNECT),
                    Close(conn, ErrorCode.SERVER_FULL),
                ]
                return
            self._count(Outcome.EVICTED)
            self._kick(victim, ErrorCode.CONNECT_TIMEOUT)  # LIMIT-3
        session = Session(conn, address, event.now, self._max_frame)
        self.sessions[conn] = self._awaiting[conn] = session
        if address:
            self._per_address[address] = self._per_address.get(address, 0) + 1
        if self._welcome:  # WELCOME-1
            if self._welcome_delay > 0:  # COMPAT-1: held back until the first frame or the delay
                self._welcome_due[conn] = session
            else:
                self._send_welcome(session)

    def _on_data(self, event: DataReceived) -> None:
        try:  # a subscript in a `try` costs less than `.get`, a method call
            session = self.sessions[event.conn]
        except KeyError:
            raise UsageError(f"data for connection {event.conn}, which is not open") from None
        if session.first_pending:
            self._first_data(session, event)
        else:
            self._frames(session, session.decoder.feed(event.data))

    def _frames(self, session: Session, frames: list[Frame]) -> None:
        for frame in frames:  # FRAME-4, ROUTE-10: in the order they came
            if isinstance(frame, dict):
                self.outcomes[_FRAME] += 1  # `_count`, inline on the paths every frame takes
                self._on_frame(session, frame)
            else:  # FRAME-6, FRAME-7, FRAME-8: only this frame is lost
                self._reject(session, frame, ERROR_OUTCOMES[frame])
            if session.state == CLOSED:
                break

    def _first_data(self, session: Session, event: DataReceived) -> None:
        """A read of a session whose first frame is not handled yet: tell how it frames (COMPAT-2),
        send or drop its pending welcome (COMPAT-1), or hold its first frames back (COMPAT-3)."""
        data = event.data
        if session.held is not None:
            session.held.append(data)  # behind the held frames, in order
            if session.framing == UNKNOWN and _NEWLINE in data:  # the newline came in time
                del self._held_grace[session.conn]
                self._decide(session, bare=False)
                self._release(session)
            return
        frames = session.decoder.feed(data)
        if not frames:
            session.saw_newline = session.saw_newline or _NEWLINE in data
            session.split = session.split or bool(data.strip())
            return
        # One `json.dumps(...)` in one send: the frame whole in this read, no newline anywhere.
        # A frame written in pieces is not that habit, and judging it would depend on how the
        # pieces happened to be read (a replay could not reproduce the welcome).
        # Most reads end with their newline, which spares the search; `bytes.find`, not `in`,
        # which takes the buffer protocol's long way at twice the cost.
        bare = (
            not (session.saw_newline or session.split)
            and data[-1] != _NEWLINE_BYTE
            and data.find(_NEWLINE) < 0
        )
        if bare and session.conn in self._welcome_due and self._grace > 0:  # COMPAT-2
            # Whether a welcome goes out depends on it: give a `\n` a moment to follow, so that
            # how the bytes happened to be read does not decide (COMPAT-2).
            del self._welcome_due[session.conn]
            session.held = deque([frames])
            self._held_grace[session.conn] = event.now + self._grace
            return
        self._decide(session, bare)
        if bare and session.welcomed and self._bare_delay > 0:  # COMPAT-3
            self._count(Outcome.BARE_FIRST_FRAME_HELD)
            session.held = deque([frames])
            self._held_late[session.conn] = event.now + self._bare_delay
            return
        session.first_pending = False
        self._frames(session, frames)

    def _decide(self, session: Session, bare: bool) -> None:
        """The session's framing is known: its welcome goes out now, or never (COMPAT-1, -2)."""
        session.framing = BARE if bare else LINES
        pending = self._welcome and not session.welcomed  # WELCOME-2: once at most
        self._welcome_due.pop(session.conn, None)
        if pending and bare:  # COMPAT-2: no welcome for a one-object-per-read client
            self._count(Outcome.WELCOME_WITHHELD)
        elif pending:  # COMPAT-1: a first frame ended by a newline releases the welcome
            self._send_welcome(session)

    def _release(self, session: Session) -> None:
        """Handle what a session sent while its first frame was held."""
        held, session.held = session.held, None
        session.first_pending = False
        assert held is not None
        for item in held:
            self._frames(session, item if isinstance(item, list) else session.decoder.feed(item))
            if session.state == CLOSED:
                return

    def _send_welcome(self, session: Session) -> None:
        session.welcomed = True
        self._count(Outcome.WELCOME)
        self._out.append(Send((session.conn,), self._welcome))

    def _on_lost(self, event: ConnectionLost) -> None:
        session = self.sessions.get(event.conn)
        if session is not None:
            self._count(Outcome.CONNECTION_LOST)
            self._end(session, Trigger.CONNECTION_LOST)  # DISCONNECT-6

    def _on_tick(self, event: Tick) -> None:
        now = event.now
        while self._welcome_due:
            session = next(iter(self._welcome_due.values()))
            if session.opened_at + self._welcome_delay > now:  # COMPAT-1
                break
            del self._welcome_due[session.conn]
            self._send_welcome(session)
        while self._held_grace:  # no `\n` followed: a one-object-per-read client (COMPAT-2)
            conn, release_at = next(iter(self._held_grace.items()))
            if release_at > now:
                break
            del self._held_grace[conn]
            session = self.sessions[conn]
            self._decide(session, bare=True)
            self._release(session)
        while self._held_late:
            conn, release_at = next(iter(self._held_late.items()))
            if release_at > now:  # COMPAT-3
                break
            del self._held_late[conn]
            self._release(self.sessions[conn])
        deadline = now - self._connect_timeout
        while self._awaiting:
            session = next(iter(self._awaiting.values()))
            if session.opened_at > deadline:  # LIMIT-3
                break
            self._kick(session, ErrorCode.CONNECT_TIMEOUT)  # LIMIT-3

    def _on_kick(self, event: Kick) -> None:
        if event.error not in _KICK_CODES:
            raise UsageError(f"a kick needs the error code of a limit, not {event.error!r}")
        session = self.sessions.get(event.conn)
        if session is not None:
            self._kick(session, event.error)

    def _on_shutdown(self, event: Shutdown) -> None:
        self._shut_down = True
        sessions = list(self.sessions.values())
        if sessions:
            self._count(Outcome.SHUTDOWN)
            self._out.append(Send(tuple(s.conn for s in sessions), codec.DISCONNECT))  # SHUTDOWN-1
        for session in sessions:
            self._out.append(Close(session.conn, Trigger.SHUTDOWN))
            self._end(session, Trigger.SHUTDOWN)

    # -- frames -------------------------------------------------------------------------------

    def _on_frame(self, session: Session, document: dict[str, Any]) -> None:
        action: Any = document.get("action")
        schema = _ACTION_SCHEMAS.get(action) if type(action) is str else None
        if schema is None or not schema.is_valid(document):
            code = _ENVELOPE.error_code(document)  # VALIDATE-6: the envelope first
            if code is None and schema is not None:
                code = schema.error_code(document)
            if code is not None:  # VALIDATE-1, VALIDATE-2, VALIDATE-3, VALIDATE-4, VALIDATE-5
                self._reject(
                    session, code, ERROR_OUTCOMES[code], action if type(action) is str else ""
                )
                return
        trigger = _LEAVE if action == _DISCONNECT and "target" in document else action
        try:
            if trigger not in self._triggers[session.state]:  # STATE-1
                self._refuse(session, trigger)
            self._actions[trigger](session, document)
        except ProtocolViolation as violation:
            self._reject(session, violation.code, violation.outcome)
        else:
            session.errors_in_row = 0  # LIMIT-2: errors in a row

    def _reject(
        self, session: Session, code: ErrorCode, outcome: Outcome, action: str = ""
    ) -> None:
        """Answer an erroneous frame with its one error (ERROR-1, ERROR-2, VALIDATE-6)."""
        self.outcomes[outcome] += 1
        # VALIDATE-2: the text repeats the action; ERROR-1: every other text is fixed
        data = codec.invalid_action(action) if code == _INVALID_ACTION else codec.error(code)
        self._out.append(Send((session.conn,), data))  # ERROR-2: one error, nothing else
        session.errors_in_row += 1
        if session.errors_in_row >= self._max_errors:  # LIMIT-2
            self._kick(session, ErrorCode.TOO_MANY_ERRORS)

    # -- actions ------------------------------------------------------------------------------

    def _connect(self, session: Session, document: dict[str, Any]) -> None:
        name: str = document["user_name"]
        if session.state == CONNECTED:
            if name != session.name:  # CONNECT-5
                raise ProtocolViolation(ErrorCode.NAME_MISMATCH, Outcome.CONNECT_MISMATCH)
            outcome = Outcome.RECONNECT  # CONNECT-4
        else:
            if name in self._names:  # CONNECT-3
                raise ProtocolViolation(ErrorCode.NAME_TAKEN, Outcome.NAME_TAKEN)
            outcome = _CONNECT_OUTCOME
            self._enter_connected(session, name)  # CONNECT-1
            self._all.add(session.conn)
        wanted = dict.fromkeys(document["targets"])
        with_all = wanted.pop(ALL, 0) is None
        if session.rooms:  # only a second `connect` has rooms to replace
            for room in [r for r in session.rooms if r not in wanted]:  # CONNECT-4: replaced
                self._unsubscribe(session, room)
        history_rooms: list[Room] = []
        for room in wanted:  # CONNECT-1
            history_rooms.append(self._subscribe(session, room))
        if with_all:
            history_rooms.append(self._all)
        self.outcomes[outcome] += 1
        entries: Sequence[HistoryEntry] = ()
        for with_history in history_rooms:
            if with_history.history:
                entries = sorted((e for r in history_rooms for e in r.history), key=_BY_SEQUENCE)
                break
        if entries or len(codec.NO_HISTORY) > self._reply_bytes:  # COMPAT-4
            reply = self._connect_reply(entries)
        else:  # rooms nobody has written to yet, the usual case: the reply is a constant
            reply = codec.NO_HISTORY  # CONNECT-2
        self._out.append(Send((session.conn,), reply))

    def _enter_connected(self, session: Session, name: str) -> None:
        """A session's first `connect` is granted (by a cluster's broker, for a node): it is
        connected under `name`, which no other session may take, and waits for no timeout."""
        self._fire(session, _CONNECT)  # CONNECT-1, STATE-1
        session.name = name
        self._names[name] = session  # CONNECT-3
        del self._awaiting[session.conn]  # LIMIT-3

    def _connect_reply(
        self, entries: Sequence[tuple[int, Any]], decode: Callable[[Any], Any] | None = None
    ) -> bytes:
        """The reply to a `connect`, from `entries`: (order, entry) of the rooms it names,
        oldest first. A cluster's broker carries each entry as JSON, which `decode` reads: only
        those the reply keeps are decoded. With no entries this is `codec.NO_HISTORY` when that
        fits, which a single node then answers without the call (its usual `connect`)."""
        kept = entries[max(0, len(entries) - self._history_on_connect) :]
        history = [entry if decode is None else decode(entry) for _, entry in kept]
        reply = codec.encode({"status": "chat", "history": history})  # CONNECT-2
        if len(reply) > self._reply_bytes:  # COMPAT-4
            self._count(Outcome.CONNECT_REPLY_TRIMMED)
            reply = codec.history_within(history, self._reply_bytes)
        return reply

    def _message(self, session: Session, document: dict[str, Any]) -> None:
        sender = document["user_name"]
        if sender != session.name:  # ROUTE-13
            raise ProtocolViolation(ErrorCode.NAME_MISMATCH, Outcome.MESSAGE_MISMATCH)
        target: str = document["target"]
        entry = {"target": target, "from": sender, "message": document["message"]}  # ROUTE-9
        if target[0] == "@":
            self._send_direct(session, target, entry)
            return
        joining = target != ALL and target not in session.rooms
        if joining and len(session.rooms) >= self._max_rooms:  # ROUTE-14
            raise ProtocolViolation(ErrorCode.TOO_MANY_ROOMS, Outcome.TOO_MANY_ROOMS)
        self._post_to_room(session, target, entry, joining)

    def _send_direct(self, session: Session, target: str, entry: dict[str, str]) -> None:
        """A valid direct message (a node of a cluster sends it through its broker)."""
        recipient = self._names.get(target)
        if recipient is None:  # ROUTE-7
            raise ProtocolViolation(ErrorCode.TARGET_NOT_CONNECTED, Outcome.TARGET_NOT_CONNECTED)
        self.outcomes[_SELF_MESSAGE if recipient is session else _DIRECT_MESSAGE] += 1
        delivery = codec.encode_delivery(entry)
        self._out.append(Send((recipient.conn,), delivery))  # ROUTE-5, ROUTE-6, ROUTE-11

    def _post_to_room(
        self, session: Session, target: str, entry: dict[str, str], joining: bool
    ) -> None:
        """A valid room message; `joining`: the sender joins by sending (a node of a cluster
        publishes it through its broker)."""
        room = self._all if target == ALL else self._rooms.get(target)  # ROUTE-8: #all is everyone
        if room is not None:
            recipients = room.others(session.conn)  # ROUTE-1, ROUTE-2, ROUTE-3, ROUTE-8
            if recipients:
                self._out.append(Send(recipients, codec.encode_delivery(entry)))
        if joining:  # ROUTE-4: after the delivery to the members already there
            self._count(_AUTO_JOIN)
            room = self._subscribe(session, target)
        assert room is not None
        self._sequence += 1
        room.history.append((self._sequence, entry))  # ROUTE-12
        self.outcomes[_BROADCAST if room is self._all else _ROOM_MESSAGE] += 1

    def _leave(self, session: Session, document: dict[str, Any]) -> None:
        if document.get("user_name", session.name) != session.name:  # DISCONNECT-4
            raise ProtocolViolation(ErrorCode.NAME_MISMATCH, Outcome.DISCONNECT_MISMATCH)
        room: str = document["target"]
        if room != ALL:
            self._unsubscribe(session, room)  # DISCONNECT-3, DISCONNECT-5
        self._count(Outcome.LEAVE)
        self._out.append(Send((session.conn,), codec.left(room)))  # DISCONNECT-3

    def _disconnect(self, session: Session, document: dict[str, Any]) -> None:
        claimed = document.get("user_name", session.name)
        if session.state == CONNECTED and claimed != session.name:  # DISCONNECT-4
            raise ProtocolViolation(ErrorCode.NAME_MISMATCH, Outcome.DISCONNECT_MISMATCH)
        self._count(Outcome.DISCONNECT)
        self._out += [
            Send((session.conn,), codec.DISCONNECT),  # DISCONNECT-2: the answer, before
            Close(session.conn, Trigger.DISCONNECT),  # DISCONNECT-1: the close
        ]
        self._end(session, Trigger.DISCONNECT)

    # -- sessions and rooms -------------------------------------------------------------------

    def _refuse(self, session: Session, trigger: str) -> None:
        """Refuse an event the state machine does not allow in the session's state.

        machine.json refuses every client event that has no transition from a state a session
        can be in when a frame comes (tests/engine/test_outcomes.py), so the lookup cannot fail.
        """
        refusal = self._refusals[(session.state, trigger)]
        raise ProtocolViolation(refusal.error, REFUSED[refusal.trigger])  # STATE-2, STATE-3

    def _fire(self, session: Session, trigger: Trigger) -> None:
        """Change state through the Machine; self-loops are skipped, they change nothing.

        The Machine built from machine.json has no callbacks or conditions (a test in
        tests/engine/test_outcomes.py holds it to that), so a transition does nothing but set
        its destination, which `Machine.set_state` does for a tenth of what `Event.trigger`
        costs (about 87,000 instructions, half of a whole `connect`). The destination is the
        Machine's own (`transition_table`); an event it has no transition for still goes
        through `trigger`, which raises as it always did.
        """
        dest = self._table.get((session.state, trigger))
        if dest is None:
            self._machine.events[trigger].trigger(session)
        elif dest != session.state:
            self._machine.set_state(self._states[dest], session)

    def _subscribe(self, session: Session, name: str) -> Room:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = Room(name, self._history_size)
        room.add(session.conn)
        session.rooms[name] = None
        return room

    def _unsubscribe(self, session: Session, name: str) -> None:
        room = self._rooms.get(name)
        if room is not None:
            room.discard(session.conn)
            if not room:  # ROUTE-12: a room with no member is dropped, its history with it
                del self._rooms[name]
        session.rooms.pop(name, None)

    def _evictable(self, address: str | None, now: float) -> Session | None:
        """The connection that has waited longest without connecting, from `address` if given,
        if it has waited at least `evict_after_s` (LIMIT-3); None if there is none."""
        oldest = now - self._evict_after
        for session in self._awaiting.values():  # in order of opening
            if session.opened_at > oldest:  # LIMIT-3: only after `evict_after_s`
                return None
            if address is None or session.address == address:
                return session
        return None

    def _kick(self, session: Session, code: ErrorCode) -> None:
        """End a session at a limit: its error, then `disconnect`, then the close (LIMIT-1)."""
        self._count(ERROR_OUTCOMES[code])
        data = codec.error(code)  # LIMIT-1
        if session.framing == BARE:  # COMPAT-5: the error alone, one packet
            self._count(Outcome.BARE_KICK)
        else:
            data += codec.DISCONNECT  # LIMIT-1
        self._out += [Send((session.conn,), data), Close(session.conn, code)]
        self._end(session, Trigger.KICK)

    def _end(self, session: Session, trigger: Trigger) -> None:
        self._fire(session, trigger)
        conn = session.conn
        del self.sessions[conn]
        self._awaiting.pop(conn, None)
        self._welcome_due.pop(conn, None)
        self._held_grace.pop(conn, None)
        self._held_late.pop(conn, None)
        if session.name is not None:  # CONNECT-6, DISCONNECT-6: the name and rooms are free
            del self._names[session.name]
            self._all.discard(conn)
            for room in list(session.rooms):
                self._unsubscribe(session, room)
        if session.address:
            left = self._per_address[session.address] - 1
            if left:
                self._per_address[session.address] = left
            else:
                del self._per_address[session.address]

    def _count(self, outcome: Outcome) -> None:
        """How an outcome is counted (engine/rules.py turns counts into rules). The paths every
        frame takes do the same increment inline, which spares a call per frame."""
        self.outcomes[outcome] += 1

"""The broker driver: cluster outputs of the engine in, Redis commands out, events back.

It keeps two connections to Redis (resp.py): a command connection, on which every request is
one EVALSHA (scripts.py) or XRANGE, pipelined, its reply matched to it in order; and a pub/sub
connection, subscribed to `#all`'s channel, this node's channel and the channel of every room
this node is a member of. Both sockets live in the server's selector; the server waits no
longer than `next_deadline()`, calls `on_timer()` every turn (it does what is due, if anything)
and `flush()` before it writes to its clients (the design's "Order of writes"), and hands every
event of `take_events()` to the engine.

A request that needs a room's channel (a connect, a message) waits until Redis has confirmed
the subscription: otherwise a message numbered between the request and the subscription would
reach every node but this one, and no later message might come to reveal the gap. Requests
keep their order: while one waits, those after it wait too.

Failures: a lost command connection fails every request it carried and every one waiting
(`BrokerFailed`, the session gets `unavailable`); a lost pub/sub connection loses what was
published meanwhile. Either way the driver reconnects with a backoff (broker_backoff_min_ms
doubling up to broker_backoff_max_ms), loads its scripts, subscribes again, checks `jc:epoch`
(a new value: Redis lost its data) and then says `BrokerReconnected`; the engine's `Resume` makes
it claim names and rooms again and report each room's sequence, so the engine fetches its gaps.
"""

from __future__ import annotations

import contextlib
import logging
import math
import secrets
import selectors
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import hiredis

from engine.events import (
    BrokerFailed,
    BrokerReconnected,
    ClusterEvent,
    ClusterOutput,
    ConnId,
    DirectSent,
    Fetch,
    Fetched,
    LeaveRoom,
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
from transport.cluster import payloads, scripts
from transport.cluster.address import RedisAddress
from transport.cluster.resp import BrokerLost, Reply, RespConnection, pack

log = logging.getLogger("jsonchat.cluster")
_READ, _READ_WRITE = selectors.EVENT_READ, selectors.EVENT_READ | selectors.EVENT_WRITE
Handler = Callable[[Reply], None]


class BrokerUnreachable(Exception):
    """Redis could not be reached when the node started."""


@dataclass(frozen=True)
class DriverConfig:
    address: RedisAddress
    node_id: str
    limits: Mapping[str, int]  # the cluster limits of limits.json, overrides applied
    history_per_room: int

    def seconds(self, name: str) -> float:
        return self.limits[name] / 1000


@dataclass
class _Request:
    """A command on its way: its bytes, what to do with its reply, whose it is."""

    command: bytes
    handler: Handler
    conn: ConnId | None = None
    channels: frozenset[bytes] = frozenset()  # subscriptions it must wait for
    sent_at: float = 0.0  # when it was queued on the command connection
    refused: Callable[[], None] | None = None  # when Redis answers with an error (no conn)
    retry: Callable[[], None] | None = None  # after NOSCRIPT, for a request nobody waits for


@dataclass
class Counters:
    """What the driver could not carry out, for logs and tests (at-most-once, ROBUSTNESS.md)."""

    failed_requests: int = 0  # answered BrokerFailed
    trimmed: int = 0  # messages a gap repair found already trimmed from a room's stream
    names_taken: int = 0  # names another node took while this one was cut off
    reconnects: int = 0


class _Endpoint:
    """What the server's selector holds for one Redis socket: it calls `on_ready`."""

    __slots__ = ("driver", "resp", "waiting")

    def __init__(self, driver: RedisDriver, resp: RespConnection) -> None:
        self.driver = driver
        self.resp = resp
        self.waiting = False  # registered for EVENT_WRITE: the kernel's buffer was full

    def on_ready(self, mask: int) -> None:
        self.driver._on_ready(self, mask)


class RedisDriver:
    def __init__(self, config: DriverConfig, selector: selectors.BaseSelector) -> None:
        self.config = config
        self._me = config.node_id.encode()
        self._lease_key = b"jc:node:" + self._me  # while it lives, this node counts (scripts.py)
        self._selector = selector
        self._lease_ms = config.limits["node_lease_ms"]
        self._renew_s = config.seconds("lease_renew_ms")
        self._stream_length = max(config.limits["room_stream_length"], config.history_per_room)
        self._connect_timeout = config.seconds("broker_connect_timeout_ms")
        self._reply_timeout = config.seconds("broker_reply_timeout_ms")
        self._backoff_min = config.seconds("broker_backoff_min_ms")
        self._backoff_max = config.seconds("broker_backoff_max_ms")
        self._cmd: _Endpoint | None = None
        self._sub: _Endpoint | None = None
        self._pending: deque[_Request] = deque()  # written on _cmd, reply not yet read
        self._held: deque[_Request] = deque()  # waiting for subscriptions, in order
        # channels this node must be subscribed to, each to its room (None: this node's own)
        self._wanted: dict[bytes, str | None] = {}
        self._confirmed: set[bytes] = set()  # ... and those Redis has confirmed
        self._names: set[str] = set()  # names Redis has granted to this node
        self._rooms: set[str] = set()  # rooms Redis has made this node a member of
        self._events: list[ClusterEvent] = []
        self._epoch: bytes | None = None
        self._epoch_known = False
        self._resync = False  # a connection was lost: BrokerReconnected once all is back
        self._state_lost = False
        self._backoff = self._backoff_min
        self._retry_at = 0.0
        self._renew_at = 0.0
        self.counters = Counters()
        self._want(payloads.room_channel(scripts.ALL), scripts.ALL)
        self._want(payloads.node_channel(config.node_id), None)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect both connections now (blocking, bounded); BrokerUnreachable if Redis is not
        there, so that a node that cannot reach Redis says so at once rather than serve alone."""
        try:
            self._connect_command()
            self._connect_pubsub()
        except OSError as error:
            self.close()
            raise BrokerUnreachable(f"{self.config.address}: {error}") from error
        self._resync = False  # nothing was lost yet

    def stop(self) -> None:
        """At shutdown: give up the lease, so that this node's names and room memberships are
        free at once (a dead node's count for nothing), and write what is queued, within the
        connect timeout (the server is stopping: it may wait that long, no more)."""
        cmd = self._cmd
        if cmd is None:
            return
        self._send_now(pack("DEL", self._lease_key))
        try:
            cmd.resp.sock.settimeout(self._connect_timeout)
            cmd.resp.sock.sendall(cmd.resp.out)
            cmd.resp.out.clear()
        except OSError as error:
            log.warning("Redis not told of the shutdown", extra={"error": str(error)})

    def close(self) -> None:
        for endpoint in (self._cmd, self._sub):
            if endpoint is not None:
                self._forget(endpoint)
        self._cmd = self._sub = None

    @property
    def connected(self) -> bool:
        return self._cmd is not None and self._sub is not None

    # -- the server's calls ---------------------------------------------------------------------

    def take_events(self) -> list[ClusterEvent]:
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float:
        # the lease is renewed on the command connection: without one, nothing is due for it
        # (a due time in the past would make the server's loop spin for the whole outage)
        due = self._renew_at if self._cmd is not None else math.inf
        if not self.connected:
            due = min(due, self._retry_at)
        if self._pending:
            due = min(due, self._pending[0].sent_at + self._reply_timeout)
        return due

    def on_timer(self, now: float) -> None:
        # each timer tests itself: with nothing due (next_deadline() > now) this does nothing
        pending, cmd = self._pending, self._cmd
        if pending and cmd is not None and now - pending[0].sent_at > self._reply_timeout:
            self._lost(cmd, f"no reply in {self._reply_timeout:g} s")
        if not self.connected and now >= self._retry_at:
            self._reconnect(now)
        if now >= self._renew_at and self._cmd is not None:
            self._renew_at = now + self._renew_s
            self._send_now(self._lease_command())

    def flush(self) -> None:
        """Write what is queued for Redis; the server calls it before it writes to clients."""
        for endpoint in (self._cmd, self._sub):
            if endpoint is not None and endpoint.resp.out:
                self._flush(endpoint)

    def request(self, output: ClusterOutput) -> None:
        """Turn one output of the engine into a command (or an at once failure)."""
        match output:
            case Publish():
                self._publish(output)
            case Register():
                self._register(output)
            case SendDirect():
                self._direct(output)
            case Fetch():
                self._fetch(output)
            case LeaveRoom():
                self._leave(output.room)
            case Release():
                self._release(output.name)
            case Resume():
                self._resume(output)

    # -- requests -------------------------------------------------------------------------------

    def _register(self, output: Register) -> None:
        rooms, history, want = output.rooms, output.history_rooms, output.history
        channels = frozenset(self._want(payloads.room_channel(r), r) for r in rooms)
        args: list[str | bytes | int] = [self._me, (output.name or "").encode(), want, len(rooms)]
        args += [*rooms, *history]

        def registered(reply: Reply) -> None:
            granted, sequences, flat = reply
            if not granted:
                for room in rooms:
                    if room not in self._rooms and not self._needed(room):
                        self._unwant(room)  # nothing joined: no messages wanted
                self._events.append(Registered(output.conn, False))
                return
            if output.name is not None:
                self._names.add(output.name)
            self._rooms.update(rooms)
            # each room's last `want` (the script's COUNT), merged in the broker's order, oldest
            # first; the engine keeps the last history_on_connect of them
            entries = sorted((int(flat[i]), flat[i + 1]) for i in range(0, len(flat), 2))
            pairs = tuple(zip(rooms, (int(s) for s in sequences), strict=True))
            self._events.append(Registered(output.conn, True, pairs, tuple(entries)))

        self._call(scripts.REGISTER, args, registered, output.conn, channels)

    def _publish(self, output: Publish) -> None:
        room, conn = output.room, output.conn
        channel = self._want(payloads.room_channel(room), room)
        joined = b"1" if output.joined else b"0"
        args: list[str | bytes | int] = [self._me, conn, room, output.entry, joined]
        args.append(self._stream_length)

        def published(reply: Reply) -> None:
            if output.joined:
                self._rooms.add(room)
            self._events.append(Published(conn, room, int(reply)))

        self._call(scripts.PUBLISH, args, published, conn, frozenset((channel,)))

    def _direct(self, output: SendDirect) -> None:
        conn = output.conn

        def sent(reply: Reply) -> None:
            self._events.append(DirectSent(conn, bool(reply)))

        self._call(scripts.DIRECT, [self._me, output.target, output.data], sent, conn)

    def _fetch(self, output: Fetch) -> None:
        room, after = output.room, output.after
        me = self._me

        def fetched(reply: Reply) -> None:
            messages = []
            for entry_id, fields in reply:
                values = dict(zip(fields[::2], fields[1::2], strict=True))
                sender = int(values[b"c"]) if values[b"n"] == me else None
                seq = int(entry_id.split(b"-")[0])
                messages.append(RoomMessage(room, seq, sender, values[b"e"]))
            first = messages[0].sequence if messages else None
            if first is not None and first > after + 1:
                self.counters.trimmed += first - after - 1
                log.warning(
                    "messages lost: trimmed before the gap was repaired",
                    extra={"room": room, "lost": first - after - 1},
                )
            self._events.append(Fetched(room, tuple(messages)))

        def refused() -> None:
            # the engine waits for an answer: none to be had, it goes on past the gap
            if self._cmd is not None:
                self._events.append(Fetched(room, ()))

        command = pack("XRANGE", f"jc:stream:{room}", f"{after + 1}-0", "+")
        self._write(_Request(command, fetched, refused=refused))

    def _leave(self, room: str) -> None:
        self._unwant(room)

        def left(reply: Reply) -> None:
            self._rooms.discard(room)

        self._call(scripts.LEAVE, [self._me, room], left, answered=False)

    def _release(self, name: str) -> None:
        def released(reply: Reply) -> None:
            self._names.discard(name)

        self._call(scripts.RELEASE, [self._me, name], released, answered=False)

    def _resume(self, output: Resume) -> None:
        # What Redis still holds for this node but the engine no longer has (a Release or a
        # LeaveRoom that failed with the connection) is given back first.
        for name in self._names - set(output.names):
            self._release(name)
        for room in self._rooms - set(output.rooms):
            self._leave(room)
        rooms = output.rooms
        channels = frozenset(self._want(payloads.room_channel(r), r) for r in rooms)
        args: list[str | bytes | int] = [self._me, len(output.names), *output.names, *rooms]

        def resumed(reply: Reply) -> None:
            sequences, taken = reply
            self._names = set(output.names) - {t.decode() for t in taken}
            self._rooms = set(rooms)
            if taken:
                self.counters.names_taken += len(taken)
                log.warning("names taken by another node meanwhile", extra={"names": taken})
            pairs = zip(rooms, (int(s) for s in sequences), strict=True)
            self._events.append(Resumed(tuple(pairs)))

        def refused() -> None:  # the engine waits for Resumed: it is asked to resume again
            if self._cmd is not None:
                self._resync = True
                self._maybe_resynced()

        self._call(scripts.RESUME, args, resumed, None, channels, refused=refused)

    # -- commands -------------------------------------------------------------------------------

    def _call(
        self,
        script: scripts.Script,
        args: Iterable[str | bytes | int],
        handler: Handler,
        conn: ConnId | None = None,
        channels: frozenset[bytes] = frozenset(),
        answered: bool = True,
        refused: Callable[[], None] | None = None,
    ) -> None:
        """EVALSHA of `script`. Its NOSCRIPT fallback (only after an operator's SCRIPT FLUSH:
        each connection loads the scripts first) keeps the engine's answers in order: a request
        the engine waits an answer for fails like any refused one (`unavailable`, or `refused`),
        one it does not (`answered=False`) is run again from its source, at the back."""
        argv = list(args)
        command = pack("EVALSHA", script.sha, 0, *argv)
        request = _Request(command, handler, conn, channels, refused=refused)
        if not answered:

            def again() -> None:
                self._write(_Request(pack("EVAL", script.source, 0, *argv), handler))

            request.retry = again
        self._write(request)

    def _write(self, request: _Request) -> None:
        if self._cmd is None:
            self._fail(request)
            return
        if self._held or not request.channels <= self._confirmed:
            self._held.append(request)
            return
        self._put(self._cmd, request, time.monotonic())

    def _send_now(self, command: bytes, handler: Handler = lambda reply: None) -> None:
        """A command of the driver's own (lease, scripts, epoch): it keeps no session's order,
        so it does not wait behind requests held for a subscription."""
        if self._cmd is not None:
            self._put(self._cmd, _Request(command, handler), time.monotonic())

    def _release_held(self) -> None:
        held, cmd = self._held, self._cmd
        now = time.monotonic()
        while held and cmd is not None and held[0].channels <= self._confirmed:
            self._put(cmd, held.popleft(), now)

    def _put(self, cmd: _Endpoint, request: _Request, now: float) -> None:
        """Queue a request on the command connection; its reply is matched to it in order."""
        cmd.resp.send(request.command)
        request.sent_at = now
        self._pending.append(request)

    def _fail(self, request: _Request) -> None:
        if request.refused is not None:
            request.refused()
        if request.conn is not None:
            self.counters.failed_requests += 1
            self._events.append(BrokerFailed(request.conn))

    def _want(self, channel: bytes, room: str | None) -> bytes:
        if channel not in self._wanted:
            self._wanted[channel] = room
            if self._sub is not None:
                self._sub.resp.send(pack("SUBSCRIBE", channel))
        return channel

    def _needed(self, room: str) -> bool:
        """Whether a request on its way needs the room's channel (another session's connect)."""
        channel = payloads.room_channel(room)
        return any(channel in r.channels for r in (*self._pending, *self._held))

    def _unwant(self, room: str) -> None:
        channel = payloads.room_channel(room)
        if room != scripts.ALL and channel in self._wanted:
            del self._wanted[channel]
            self._confirmed.discard(channel)
            if self._sub is not None:
                self._sub.resp.send(pack("UNSUBSCRIBE", channel))

    def _lease_command(self) -> bytes:
        return pack("SET", self._lease_key, b"1", "PX", self._lease_ms)

    def _load_scripts(self) -> None:
        for script in scripts.ALL_SCRIPTS:
            self._send_now(pack("SCRIPT", "LOAD", script.source))

    # -- connections ----------------------------------------------------------------------------

    def _connect_command(self) -> None:
        resp = RespConnection(self.config.address, self._connect_timeout, "command")
        if self.config.address.db:  # keys only: pub/sub channels are the same in every database
            try:
                self._select(resp, self.config.address.db)
            except OSError:
                resp.close()
                raise
        self._cmd = endpoint = _Endpoint(self, resp)
        self._selector.register(resp.sock, _READ, endpoint)
        self._load_scripts()
        self._send_now(self._lease_command())
        self._renew_at = time.monotonic() + self._renew_s
        # The first node to reach a Redis without data sets the epoch; every node compares it
        # with the one it knew: another value means Redis lost names, rooms and sequences.
        self._epoch_known = False
        self._send_now(pack("SET", "jc:epoch", secrets.token_hex(8), "NX"))
        self._send_now(pack("GET", "jc:epoch"), self._on_epoch)
        self._flush(endpoint)

    def _select(self, resp: RespConnection, db: int) -> None:
        """SELECT the URL's database and wait for the answer, as part of opening the connection
        (bounded by the same timeout). A refusal (a database Redis does not have) is an OSError
        like an unreachable Redis: a node that starts says so and exits, a reconnect fails and
        is tried again; a node that did not wait would carry on in database 0."""
        sock = resp.sock
        sock.settimeout(self._connect_timeout)
        try:
            sock.sendall(pack("SELECT", db))
            while (reply := resp.reader.gets()) is False:
                data = sock.recv(4096)
                if not data:
                    raise BrokerLost("closed by Redis")
                resp.reader.feed(data)
        except hiredis.ProtocolError as error:
            raise BrokerLost(str(error)) from error
        finally:
            sock.setblocking(False)
        if isinstance(reply, hiredis.ReplyError):
            raise OSError(f"Redis refused SELECT {db}: {reply}")

    def _connect_pubsub(self) -> None:
        resp = RespConnection(self.config.address, self._connect_timeout, "pubsub")
        self._sub = endpoint = _Endpoint(self, resp)
        self._selector.register(resp.sock, _READ, endpoint)
        self._confirmed.clear()
        if self._wanted:
            resp.send(pack("SUBSCRIBE", *sorted(self._wanted)))
        self._flush(endpoint)

    def _on_epoch(self, reply: Reply) -> None:
        if self._epoch is not None and reply != self._epoch:
            self._state_lost = True
            log.warning("Redis lost its data (a new epoch)", extra={"epoch": reply})
        self._epoch = reply
        self._epoch_known = True
        self._maybe_resynced()

    def _maybe_resynced(self) -> None:
        if (
            self._resync
            and self.connected
            and self._epoch_known
            and self._wanted.keys() <= self._confirmed
        ):
            self._resync = False
            lost, self._state_lost = self._state_lost, False
            if lost:
                self._names.clear()
                self._rooms.clear()
            self.counters.reconnects += 1
            log.info("Redis reconnected", extra={"state_lost": lost})
            self._events.append(BrokerReconnected(state_lost=lost))

    def _reconnect(self, now: float) -> None:
        try:
            if self._cmd is None:
                self._connect_command()
            if self._sub is None:
                self._connect_pubsub()
        except OSError as error:
            self._retry_at = now + self._backoff
            log.warning("Redis unreachable", extra={"error": str(error), "retry_s": self._backoff})
            self._backoff = min(self._backoff * 2, self._backoff_max)
            return
        self._backoff = self._backoff_min

    def _lost(self, endpoint: _Endpoint, reason: str) -> None:
        self._forget(endpoint)
        log.warning(
            "Redis connection lost", extra={"connection": endpoint.resp.label, "reason": reason}
        )
        if endpoint is self._cmd:
            self._cmd = None  # _epoch_known is reset by the next _connect_command, before it counts
            failed = list(self._pending) + list(self._held)
            self._pending.clear()
            self._held.clear()
            for request in failed:
                self._fail(request)
        else:
            self._sub = None
            self._confirmed.clear()
        self._resync = True
        self._retry_at = time.monotonic() + self._backoff

    def _forget(self, endpoint: _Endpoint) -> None:
        with contextlib.suppress(KeyError, ValueError):  # not registered, or already closed
            self._selector.unregister(endpoint.resp.sock)
        endpoint.resp.close()

    # -- I/O --------------------------------------------------------------------------------------

    def _on_ready(self, endpoint: _Endpoint, mask: int) -> None:
        if endpoint is not self._cmd and endpoint is not self._sub:
            return  # a connection already given up, whose event was still in this turn's list
        if mask & selectors.EVENT_WRITE:
            self._flush(endpoint)
            if endpoint is not self._cmd and endpoint is not self._sub:
                return
        if mask & selectors.EVENT_READ:
            try:
                replies = endpoint.resp.read()
            except BrokerLost as error:
                self._lost(endpoint, str(error))
                return
            if endpoint is self._cmd:
                self._on_replies(replies)
            else:
                self._on_pubsub(replies)
            if endpoint.resp.eof:
                self._lost(endpoint, "closed by Redis")

    def _flush(self, endpoint: _Endpoint) -> None:
        try:
            waiting = not endpoint.resp.flush()
        except BrokerLost as error:
            self._lost(endpoint, str(error))
            return
        if waiting != endpoint.waiting:
            endpoint.waiting = waiting
            self._selector.modify(endpoint.resp.sock, _READ_WRITE if waiting else _READ, endpoint)

    def _on_replies(self, replies: list[Reply]) -> None:
        pending = self._pending
        for reply in replies:
            if not pending:  # cannot happen unless Redis and the driver disagree: say so
                log.error("a reply from Redis to no request", extra={"reply": repr(reply)[:200]})
                continue
            request = pending.popleft()
            if isinstance(reply, hiredis.ReplyError):
                if str(reply).startswith("NOSCRIPT"):
                    self._load_scripts()
                    if request.retry is not None:
                        request.retry()
                        continue
                log.error("Redis refused a command", extra={"error": str(reply)})
                self._fail(request)
                continue
            request.handler(reply)

    def _on_pubsub(self, replies: list[Reply]) -> None:
        wanted, confirmed, events, me = self._wanted, self._confirmed, self._events, self._me
        subscribed = False
        for reply in replies:
            if not isinstance(reply, list) or len(reply) < 3:
                log.error("Redis refused a subscription", extra={"reply": repr(reply)[:200]})
                continue
            kind = reply[0]
            if kind == b"message":
                channel = reply[1]
                if channel not in confirmed:
                    continue  # left meanwhile (an UNSUBSCRIBE on its way)
                room = wanted[channel]  # confirmed: wanted (_unwant drops both)
                try:
                    if room is not None:
                        events.append(payloads.room_message(room, reply[2], me))
                    else:
                        events.append(payloads.direct_message(reply[2]))
                except (ValueError, UnicodeDecodeError):  # published by something else than a node
                    log.warning("not a jsonchat message", extra={"channel": channel})
            elif kind == b"subscribe":
                if reply[1] in wanted:
                    confirmed.add(reply[1])
                subscribed = True
        if subscribed:
            self._release_held()
            self._maybe_resynced()

"""The reference server: the engine plugged into TCP sockets, and nothing the engine should do.

All sockets are served by one I/O thread with an epoll selector. The engine is deliberately
single-threaded (sans-IO, deterministic), and under the GIL more threads would only add lock
handoffs, so one thread reads, runs the engine and writes. `start()` runs that loop on a thread of
its own for tests and embedding; `serve_forever()` runs it on the caller's thread. `stop()` is safe
from any thread or a signal handler.

One turn of the loop: read what is ready (at most `read_bytes` per connection), run the engine,
queue its outputs per connection, then flush every connection that got data with one system call
each (`send` or `sendmsg`), the last to get data first, as Redis does. A connection whose kernel
buffer is full is flushed again when it becomes writable; one that lets more than
`outbound_queue_bytes` pile up is kicked (LIMIT-4), so it never slows the others.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import resource
import selectors
import socket
import threading
import time
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, cast

import protocol
from engine.cluster import ClusterEngine
from engine.engine import Engine, EngineConfig
from engine.events import (
    Close,
    ClusterOutput,
    ConnectionLost,
    ConnectionOpened,
    DataReceived,
    Kick,
    Output,
    Send,
    Shutdown,
    Tick,
)
from transport.connection import Connection, Joined

if TYPE_CHECKING:  # the driver (transport.cluster, hiredis) is imported only with a Redis
    from transport.cluster import RedisDriver

log = logging.getLogger("jsonchat.server")
TICK_S = 1.0  # how often the engine hears the time at least; sooner when it asks (next_deadline)
ACCEPTS_PER_TURN = 64  # a connection flood cannot starve the connected clients
ACCEPT_PAUSE_S = 0.1  # after running out of file descriptors
# A turn of one connection should cost at most this much CPU: bytes cost from 10 ns (valid
# frames) to over 1 µs (a never-ending object of empty strings), so reads shrink while they are
# costly and grow back while cheap, from READ_MIN up to `read_bytes`.
TURN_BUDGET_S = 0.002
READ_MIN = 512
READ_START = 4096  # a new connection has not shown what its bytes cost yet
_READ, _READ_WRITE = selectors.EVENT_READ, selectors.EVENT_READ | selectors.EVENT_WRITE


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 7775
    limits: Mapping[str, int] = field(default_factory=dict)  # overrides of limits.json
    welcome: bool = True
    # A node of a cluster: `redis://HOST:PORT[/DB]` of the Redis the nodes share (None: alone),
    # this node's id in it (None: a unique one), and overrides of the cluster's limits.
    redis: str | None = None
    node_id: str | None = None
    cluster_limits: Mapping[str, int] = field(default_factory=dict)

    def engine_config(self) -> EngineConfig:
        return EngineConfig(limits={**protocol.limits(), **self.limits}, welcome=self.welcome)


class _Ready(Protocol):
    """A socket of the cluster's driver in the selector: it handles its own readiness."""

    def on_ready(self, mask: int) -> None: ...


class ChatServer:
    def __init__(self, config: ServerConfig | None = None) -> None:
        self.config = config = config or ServerConfig()
        self._broker: RedisDriver | None = None
        self.node_id: str | None = None  # this node's id in a cluster
        engine_config = config.engine_config()
        self.engine: Engine | ClusterEngine = (
            Engine(engine_config) if config.redis is None else ClusterEngine(engine_config)
        )
        limit = self.engine.config.limit
        self._queue_limit = limit("outbound_queue_bytes")
        self._read_bytes = limit("read_bytes")
        self._flush_timeout = limit("flush_timeout_ms") / 1000
        self._conns: dict[int, Connection] = {}
        # Closing connections in the order of their deadlines: each is `flush_timeout` after
        # its close, so the order of closing (a dict keeps it) is the order of expiry.
        self._closing: dict[int, Connection] = {}
        # Connections with data to write, in the order they got it (a dict keeps it); flushed
        # in the reverse order (`_flush_dirty` says why).
        self._dirty: dict[Connection, None] = {}
        self._next_id = 0
        self._stop_requested = False
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._selector = selectors.DefaultSelector()
        self._listener = self._listen(config.host, config.port)
        self.open_files = _raise_fd_limit()
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._waker, self._wake_end = socket.socketpair()
        for end in (self._waker, self._wake_end):
            end.setblocking(False)
        self._selector.register(self._listener, _READ, None)
        self._selector.register(self._wake_end, _READ, self._wake_end)
        self._accept_paused_until = 0.0
        if config.redis is not None:
            try:
                self._join_cluster(config.redis)
            except BaseException:
                self._release()
                raise

    def _join_cluster(self, url: str) -> None:
        """Run the Redis driver in this loop, its sockets in the selector (BrokerUnreachable
        when Redis cannot be reached now; ValueError for a bad URL or node id). `url` is
        `config.redis`, given apart as a `str` (never None here)."""
        from transport.cluster import (
            DriverConfig,
            RedisDriver,
            check_node_id,
            default_node_id,
            parse_redis_url,
        )

        config = self.config
        address = parse_redis_url(url)
        node_id = check_node_id(config.node_id or default_node_id())
        limits = {**protocol.cluster_limits(), **config.cluster_limits}
        history = self.engine.config.limit("history_per_room")
        self._broker = RedisDriver(DriverConfig(address, node_id, limits, history), self._selector)
        self._broker.start()
        self.node_id = node_id
        log.info("cluster node", extra={"node": node_id, "redis": str(address)})

    @staticmethod
    def _listen(host: str, port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(4096)
        except OSError:
            listener.close()
            raise
        listener.setblocking(False)
        return listener

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ChatServer:
        """Serve on a background thread; returns at once (the socket is already listening)."""
        self._thread = threading.Thread(
            target=self.serve_forever, name="jsonchat-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, wait: bool = True) -> None:
        """Ask the loop to shut down (SHUTDOWN-1); safe from other threads and signal handlers."""
        self._stop_requested = True
        with contextlib.suppress(OSError):  # closed, or a wake-up is already pending
            self._waker.send(b"x")
        if wait and self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def wait(self, timeout: float | None = None) -> bool:
        return self._stopped.wait(timeout)

    def serve_forever(self) -> None:
        # The open-file limit bounds the clients one node can hold (one descriptor each).
        where = {"host": self.address[0], "port": self.address[1]}
        log.info("listening", extra={**where, "open_files": self.open_files})
        engine = self.engine
        next_tick = time.monotonic() + TICK_S
        try:
            while not self._stop_requested:
                now = time.monotonic()
                # COMPAT-1, COMPAT-2, COMPAT-3: a held welcome or first frame is due on time
                due = engine.next_deadline()
                if due is not None and due < next_tick:
                    next_tick = due
                timeout = next_tick - now
                if self._closing:
                    timeout = min(timeout, next(iter(self._closing.values())).deadline - now)
                broker = self._broker
                if broker is not None:
                    timeout = min(timeout, broker.next_deadline() - now)
                for key, mask in self._selector.select(max(timeout, 0.0)):
                    self._on_ready(key.data, mask)
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + TICK_S
                    self._apply(engine.handle(Tick(now)))  # LIMIT-3: the engine hears the time
                if broker is not None:
                    self._broker_turn(broker, now)
                self._flush_dirty()
                if self._closing:
                    self._expire(now)
            self._shutdown()  # SHUTDOWN-1: a stop ends the loop through the shutdown, always
        finally:
            self._release()
            self._stopped.set()

    # -- events from the selector -------------------------------------------------------------

    def _on_ready(self, conn: Connection | socket.socket | _Ready | None, mask: int) -> None:
        if conn is None:
            self._accept()
        elif isinstance(conn, Connection):
            if mask & selectors.EVENT_WRITE:
                if self._broker is not None:
                    self._broker.flush()  # "Order of writes" holds for a backlog's rest too
                self._flush(conn)
            if mask & selectors.EVENT_READ and conn.id in self._conns:
                self._read(conn)
        elif isinstance(conn, socket.socket):
            with contextlib.suppress(OSError):
                conn.recv(4096)  # drain the wake-up socket; the loop condition does the rest
        else:
            conn.on_ready(mask)  # a socket of the cluster's driver: its events wait for the turn

    def _broker_turn(self, broker: RedisDriver, now: float) -> None:
        """The cluster's share of a turn: the driver's timers, its events to the engine, and
        the engine's requests written to Redis, all before the turn's client data is (the
        design's "Order of writes": what a client sees is on its way to Redis already)."""
        broker.on_timer(now)  # does only what is due: nothing, most turns
        engine = cast("ClusterEngine", self.engine)  # a driver runs with a ClusterEngine only
        while True:
            broker.flush()
            events = broker.take_events()
            if not events:
                return
            for event in events:
                self._apply(engine.handle(event))

    def _accept(self) -> None:
        now = time.monotonic()
        if now < self._accept_paused_until:
            return
        for _ in range(ACCEPTS_PER_TURN):
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                # DISCONNECT-7: out of descriptors or memory, accepting pauses; serving goes on
                if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("accept paused: %s", error.strerror)
                    self._accept_paused_until = now + ACCEPT_PAUSE_S
                    return
                if error.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue  # DISCONNECT-7: a client that reset before accept() is only gone
                raise
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._next_id += 1
            read_size = min(READ_START, self._read_bytes)
            conn = Connection(self._next_id, sock, f"{peer[0]}:{peer[1]}", read_size)
            self._conns[conn.id] = conn
            self._selector.register(sock, _READ, conn)
            log.info("open", extra={"conn": conn.id, "peer": conn.peer})
            # LIMIT-5: the engine counts connections per address, so it is told the address
            self._apply(self.engine.handle(ConnectionOpened(conn.id, now, peer[0])))

    def _read(self, conn: Connection) -> None:
        if conn.closing:
            self._drain(conn)
            return
        try:
            data = conn.sock.recv(conn.read_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # DISCONNECT-7: a reset is one more close, not an error of the server
        if not data:
            self._lost(conn)  # DISCONNECT-6: a close or reset without `disconnect`
            return
        engine = self.engine
        started = time.monotonic()
        # COMPAT-2, FRAME-3, FRAME-4: each read goes to the engine whole and as it came, so that
        # the framing sees the read boundaries and nothing else splits or joins frames
        self._apply(engine.handle(DataReceived(conn.id, data, started)))
        if time.monotonic() - started > TURN_BUDGET_S:
            conn.read_size = max(READ_MIN, conn.read_size // 2)
        elif conn.read_size < self._read_bytes and len(data) == conn.read_size:
            conn.read_size = min(self._read_bytes, conn.read_size * 2)
        if log.isEnabledFor(logging.DEBUG) and not conn.closing:
            name = engine.name_of(conn.id)
            if name != conn.name:
                conn.name = name
                log.debug("user", extra={"conn": conn.id, "user": name})

    def _drain(self, conn: Connection) -> None:
        """A closing connection's input is read and dropped, so that closing it sends no RST."""
        try:
            if conn.sock.recv(self._read_bytes):
                return
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            pass
        self._drop(conn)

    # -- engine outputs -----------------------------------------------------------------------

    def _apply(self, outputs: Iterable[Output | ClusterOutput]) -> None:
        overflowing: list[Connection] = []
        # A read of many room messages gives one Send per message, each to the same recipients
        # (the room hands out one cached tuple): such a run is joined once and queued as one
        # buffer, which costs a few operations per recipient instead of a few per recipient and
        # frame, and gives `sendmsg` one buffer instead of one per frame. Each recipient still
        # gets the same bytes in the same order.
        run: list[bytes] = []
        run_to: tuple[int, ...] = ()
        for output in outputs:
            if type(output) is Send:
                if output.to is run_to:
                    run.append(output.data)
                    continue
                if run:
                    self._queue(run_to, run, overflowing)
                run_to, run = output.to, [output.data]
                continue
            if run:  # whatever comes next comes after the run, as it did in `outputs`
                self._queue(run_to, run, overflowing)
                run = []
            if type(output) is Close:
                self._close(self._conns[output.conn], output.reason)
            else:
                assert self._broker is not None and not isinstance(output, Send | Close)
                self._broker.request(output)  # only a node of a cluster gets these
        if run:
            self._queue(run_to, run, overflowing)
        for conn in overflowing:
            if not conn.closing:
                conn.drop_backlog()  # it is not reading: its last words replace the backlog
                kick = Kick(conn.id, protocol.ErrorCode.QUEUE_FULL)
                self._apply(self.engine.handle(kick))  # LIMIT-4

    def _queue(
        self, to: tuple[int, ...], frames: list[bytes], overflowing: list[Connection]
    ) -> None:
        """Queue `frames` for every connection in `to`; note those over LIMIT-4's bound."""
        conns, dirty, limit = self._conns, self._dirty, self._queue_limit
        if len(frames) == 1:
            data = frames[0]
            size = len(data)
            for conn_id in to:
                conn = conns[conn_id]
                conn.out.append(data)
                conn.queued += size
                if conn.queued > limit:  # LIMIT-4: a client that does not read
                    overflowing.append(conn)
                dirty[conn] = None
            return
        data = Joined.of(frames)
        size = len(data)
        over: list[Connection] = []
        for conn_id in to:
            conn = conns[conn_id]
            conn.out.append(data)
            conn.queued += size
            if conn.queued > limit:  # LIMIT-4: a client that does not read
                over.append(conn)
            dirty[conn] = None
        if over:
            # Kicked in the order Send by Send queuing finds them: by the Send that takes each
            # over the bound, then in the order of `to` (a stable sort keeps that order).
            ends = data.ends
            over.sort(key=lambda conn: bisect_right(ends, limit - (conn.queued - size)))
            overflowing += over

    def _close(self, conn: Connection, reason: str) -> None:
        conn.closing = True
        # DISCONNECT-2, LIMIT-1, SHUTDOWN-1: what the engine sent before the close is flushed
        # first (for at most `flush_timeout_ms`), so the last error and `disconnect` arrive
        conn.deadline = time.monotonic() + self._flush_timeout
        self._closing.pop(conn.id, None)  # closed again: to the back, with its new deadline
        self._closing[conn.id] = conn
        self._dirty[conn] = None
        log.info("close", extra={"conn": conn.id, "peer": conn.peer, "reason": reason})

    def _flush_dirty(self) -> None:
        # Last to get data, first written: Redis's order (it puts a client with output at the
        # head of its pending-write list and writes from the head), so that a side-by-side with
        # it compares two servers, not two schedules. A pacing reader that is written last finds
        # every other reader's data there too when it wakes, and reads it in one pass.
        dirty, self._dirty = self._dirty, {}
        conns = self._conns
        for conn in reversed(dirty):
            if not conn.waiting and conn.id in conns:
                self._flush(conn)

    def _flush(self, conn: Connection) -> None:
        was_waiting = conn.waiting
        if conn.out:
            try:
                conn.flush()
            except (BlockingIOError, InterruptedError):
                conn.waiting = True
            except OSError:
                self._lost(conn)  # DISCONNECT-7: a peer gone while written to is a lost one
                return
        if conn.waiting != was_waiting:
            self._selector.modify(conn.sock, _READ_WRITE if conn.waiting else _READ, conn)
        if conn.closing and not conn.out:
            self._half_close(conn)  # DISCONNECT-1: closed once everything queued is written

    def _half_close(self, conn: Connection) -> None:
        """Everything is written: send FIN, and wait (bounded) for the peer to close its side."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(conn)

    def _expire(self, now: float) -> None:
        closing = self._closing
        while closing:
            conn = next(iter(closing.values()))
            if conn.deadline > now:
                return
            del closing[conn.id]
            self._drop(conn)

    def _lost(self, conn: Connection) -> None:
        """The peer closed or reset the connection (DISCONNECT-6)."""
        if not conn.closing:
            log.info("close", extra={"conn": conn.id, "peer": conn.peer, "reason": "lost"})
            self._apply(self.engine.handle(ConnectionLost(conn.id)))
        self._drop(conn)

    def _drop(self, conn: Connection) -> None:
        if self._conns.pop(conn.id, None) is None:
            return
        self._closing.pop(conn.id, None)
        self._dirty.pop(conn, None)
        self._selector.unregister(conn.sock)
        conn.sock.close()

    # -- shutdown -----------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Tell every client `disconnect`, flush for at most `flush_timeout_ms`, close all."""
        self._selector.unregister(self._listener)
        self._listener.close()
        self._apply(self.engine.handle(Shutdown()))  # SHUTDOWN-1: `disconnect` to every connection
        if self._broker is not None:
            self._broker_turn(self._broker, time.monotonic())
            self._broker.stop()  # this node's names are free at once, not after its lease
        self._flush_dirty()
        deadline = time.monotonic() + self._flush_timeout
        while self._conns and time.monotonic() < deadline:
            for key, mask in self._selector.select(max(deadline - time.monotonic(), 0.0)):
                self._on_ready(key.data, mask)  # the listener is gone; a second stop is drained
        log.info("stopped", extra={"unflushed": len(self._conns)})

    def _release(self) -> None:
        if self._broker is not None:
            self._broker.close()
        for conn in list(self._conns.values()):
            self._drop(conn)
        for sock in (self._listener, self._waker, self._wake_end):
            sock.close()
        self._selector.close()


def _raise_fd_limit() -> int:
    """Raise the soft limit on open files to the hard one (each client costs one descriptor)
    and return the limit now in force: the hard one, or, when that is unlimited (RLIM_INFINITY
    is -1 on Linux, so `soft < hard` leaves the soft one as it is), the soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard if hard != resource.RLIM_INFINITY else soft

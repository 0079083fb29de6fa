"""The server under attack: `jsonchat serve` in a process of its own, watched through /proc.

Every claim of these tests is about the server process: that it is still running, how much
memory (VmRSS) and how many file descriptors it holds, what it logged. So it runs as a deployment
runs it, and is read from /proc/<pid>. Its log (JSON lines, one per connection opened and closed)
is drained on a thread: a flood writes thousands of lines, and an undrained pipe would block the
server's only thread, which would be a fault of the test, not of the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from conformance.kit import procstat
from conformance.kit.wire import WireClient
from protocol import error_text
from tests.transport.netutil import TEST_FLUSH_TIMEOUT_MS, TIMEOUT, ServerProcess

POLL_S = 0.01  # /proc has no event to wait on


class Target:
    """`jsonchat serve --port 0 --log-format json OPTIONS...`, stopped on exit."""

    def __init__(self, *options: str) -> None:
        self._server = ServerProcess(
            "--port", "0", "--log-format", "json", "--flush-timeout-ms", str(TEST_FLUSH_TIMEOUT_MS),
            *options,
        )  # fmt: skip
        self.address = self._server.address
        self.pid = self._server.process.pid
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._drainer = threading.Thread(target=self._drain, name="server-log", daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        stream = self._server.process.stderr
        assert stream is not None
        for line in stream:
            try:
                event = json.loads(line)
            except ValueError:  # a traceback, or anything else that is not a log record
                event = {"event": "unparsed", "line": line}
            with self._lock:
                self._events.append(event)

    # -- what /proc says ----------------------------------------------------------------------

    def alive(self) -> bool:
        return self._server.process.poll() is None

    def rss_kib(self) -> int:
        return procstat.rss_kib(self.pid)

    def fd_count(self) -> int:
        return procstat.open_fds(self.pid)

    def wait_fds(self, expected: int, timeout: float = 2 * TIMEOUT) -> int:
        """The fd count once it is `expected`, or what it still is after `timeout` (long: a
        loaded machine can take seconds to close what ends by a timer, connect timeouts)."""
        wait_until(lambda: self.fd_count() == expected, timeout)
        return self.fd_count()

    def describe_fds(self) -> list[str]:
        """What each open descriptor is, sockets with their TCP state: for failure messages."""
        states = _tcp_states()
        described = []
        for fd in sorted(os.listdir(f"/proc/{self.pid}/fd"), key=int):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{self.pid}/fd/{fd}")
                inode = link[len("socket:[") : -1] if link.startswith("socket:[") else ""
                described.append(f"{fd}: {link} {states.get(inode, '')}".rstrip())
        return described

    # -- what the log says --------------------------------------------------------------------

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if event is None or e.get("event") == event]

    def closes(self, reason: str) -> list[str]:
        """Peers (`ip:port`) of the connections closed for `reason`, in order."""
        return [e["peer"] for e in self.events("close") if e.get("reason") == reason]

    def conn_of(self, client: WireClient) -> int:
        """The server's id for `client`'s open connection. Its address alone does not name it:
        a port is used again once the connection that had it is closed, and the server logs
        that close before it can accept the next connection from the same port."""
        peer = peer_of(client)

        def open_ones() -> list[int]:
            events = self.events()
            closed = {e.get("conn") for e in events if e.get("event") == "close"}
            opened = [e for e in events if e.get("event") == "open" and e.get("peer") == peer]
            return [e["conn"] for e in opened if e["conn"] not in closed]

        wait_until(lambda: bool(open_ones()))
        ids = open_ones()
        assert len(ids) == 1, f"{peer}: the log has {len(ids)} open connections from it"
        return ids[0]

    def close_reason(self, conn: int) -> str | None:
        """Why the server closed connection `conn`, or None while it has not."""
        return next((e.get("reason") for e in self.events("close") if e.get("conn") == conn), None)

    # -- the end ------------------------------------------------------------------------------

    def finish(self) -> tuple[int, list[str]]:
        """Stop with SIGTERM as a user would: its exit status and anything it wrote not a log."""
        if self.alive():
            self._server.signal(signal.SIGTERM)
        try:
            status = self._server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            status = -1
        self._server.stop()
        self._drainer.join(timeout=5)
        return status, [e["line"] for e in self.events("unparsed")]

    def __enter__(self) -> Target:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()
        self._drainer.join(timeout=5)


_TCP_STATES = {
    "01": "ESTABLISHED",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}


def _tcp_states() -> dict[str, str]:
    """Socket inode to `STATE local->remote`, from /proc/net/tcp and tcp6."""
    states = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                state = _TCP_STATES.get(fields[3], fields[3])
                states[fields[9]] = f"{state} {fields[1]}->{fields[2]}"
    return states


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def peer_of(client: WireClient) -> str:
    """How the server's log names this client's connection."""
    host, port = client.sock.getsockname()[:2]
    return f"{host}:{port}"


def error(code: str, **values: Any) -> dict[str, Any]:
    """The exact error message the spec gives for `code` (protocol/errors.json)."""
    return {"status": "error", "message": error_text(code, **values)}


DISCONNECTED: dict[str, Any] = {"status": "disconnect"}

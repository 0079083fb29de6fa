"""The server under attack: `jsonchat serve` in a process of its own, watched through /proc.

Every claim of these tests is about the server process: that it is still running, how much
memory (VmRSS) and how many file descriptors it holds, what it logged. So it runs as a deployment
runs it (the kit's `ServerProcess`, conformance/kit/target.py, as every started server), and is
read from /proc/<pid>. Its log (JSON lines, one per connection opened and closed) is drained on a
thread: a flood writes thousands of lines, and an undrained pipe would block the server's only
thread, which would be a fault of the test, not of the server.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from types import TracebackType
from typing import Any

from conformance.kit.target import wait_until
from conformance.kit.wire import WireClient
from tests.transport.netutil import TEST_FLUSH_TIMEOUT_MS, TIMEOUT, serve_process


class WatchedServer:
    """`jsonchat serve --log-format json OPTIONS...` on a free port, stopped on exit."""

    def __init__(self, *options: str) -> None:
        self._server = serve_process(
            "--log-format", "json", "--flush-timeout-ms", str(TEST_FLUSH_TIMEOUT_MS), *options,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        self.address = self._server.address
        self.pid = self._server.pid
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._drainer = threading.Thread(target=self._drain, name="server-log", daemon=True)
        self._drainer.start()

    def _drain(self) -> None:
        stream = self._server.process.stderr
        assert stream is not None
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            try:
                event = json.loads(line)
            except ValueError:  # a traceback, or anything else that is not a log record
                event = {"event": "unparsed", "line": line}
            with self._lock:
                self._events.append(event)

    # -- what /proc says ----------------------------------------------------------------------

    def alive(self) -> bool:
        return self._server.alive()

    def rss_kib(self) -> int:
        return self._server.rss_kib()

    def fd_count(self) -> int:
        return self._server.fd_count()

    def wait_fds(self, expected: int, timeout: float = 2 * TIMEOUT) -> int:
        """The fd count once it is `expected`, or what it still is after `timeout` (long: a
        loaded machine can take seconds to close what ends by a timer, connect timeouts)."""
        return self._server.wait_fds(expected, timeout)

    def describe_fds(self) -> list[str]:
        """What each open descriptor is, sockets with their TCP state: for failure messages."""
        return self._server.describe_fds()

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

        wait_until(lambda: bool(open_ones()), TIMEOUT)
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
        status = self._server.wait_exit(timeout=10)
        self._end()
        return -1 if status is None else status, [e["line"] for e in self.events("unparsed")]

    def _end(self) -> None:
        """Kill it if it still runs, read the rest of its log, and close what it left open."""
        self._server.stop(first=signal.SIGKILL)
        self._drainer.join(timeout=5)
        self._server.close()

    def __enter__(self) -> WatchedServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._end()


def peer_of(client: WireClient) -> str:
    """How the server's log names this client's connection."""
    host, port = client.sock.getsockname()[:2]
    return f"{host}:{port}"

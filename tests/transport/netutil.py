"""Real servers and real clients for the end-to-end tests: in-process or as a subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from conformance.kit.barrier import Barrier, read_to_echo
from conformance.kit.wire import WireClient
from transport.server import ChatServer, ServerConfig

TIMEOUT = 5.0
# A closing connection (and, at shutdown, every one) gets this long to take its last messages
# (the server's default is 1.5 s); tests leave many connections half-open, and the server's fds
# only return to their baseline after it.
TEST_FLUSH_TIMEOUT_MS = 300


@contextmanager
def running_server(welcome: bool = False, **limits: int) -> Iterator[ChatServer]:
    limits = {"flush_timeout_ms": TEST_FLUSH_TIMEOUT_MS, **limits}
    server = ChatServer(ServerConfig(port=0, welcome=welcome, limits=limits)).start()
    try:
        yield server
    finally:
        server.stop()


def connect(
    address: tuple[str, int], name: str, *rooms: str, timeout: float = TIMEOUT
) -> WireClient:
    """A client that has connected as `name` (its label too, as `say` and `settle` expect) and
    read the reply to its `connect` (after a welcome, if one came first)."""
    client = WireClient(address, label=name, timeout=timeout)
    client.send({"action": "connect", "user_name": name, "targets": list(rooms)})
    reply = client.recv_value()
    if reply is not None and reply["status"] == "welcome":
        reply = client.recv_value()
    assert reply is not None and reply["status"] == "chat", reply
    return client


def say(client: WireClient, target: str, text: str) -> None:
    client.send({"action": "message", "user_name": client.label, "target": target, "message": text})


def settle(client: WireClient) -> list[Any]:
    """Everything `client` got before a direct message to itself comes back (a round trip)."""
    barrier = Barrier(client.label, "barrier")
    client.send_bytes(barrier.frame)
    return read_to_echo(client, barrier, client.timeout)


def delivery(target: str, sender: str, text: str) -> dict[str, Any]:
    return {"status": "chat", "history": [{"target": target, "from": sender, "message": text}]}


class ServerProcess:
    """`jsonchat serve` as a separate process, as a user starts it."""

    def __init__(
        self, *args: str, env: Mapping[str, str] | None = None, stderr: int = subprocess.PIPE
    ) -> None:
        """`stderr=subprocess.DEVNULL` discards the log (a pipe nobody reads would block it)."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "transport.cli", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, **(env or {})},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        found = re.search(r"listening on (\S+):(\d+)", line)
        if found is None:
            self.process.kill()
            _, errors = self.process.communicate()
            raise RuntimeError(f"server did not start: {line!r} {errors!r}")
        self.address = (found.group(1), int(found.group(2)))

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = TIMEOUT) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

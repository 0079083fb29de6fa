"""A real redis-server for the cluster's tests: throw-away, on a free port, no persistence.

`kill()` and `restart()` stop and start it on the same port (a restart without data, as a Redis
without persistence comes back after a crash); `client_kill()` cuts connections by type, as an
operator or an output-buffer limit does; `call()` runs one command with a short-lived client.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import hiredis
import pytest

from conformance.kit.target import free_port


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if self.call("PING") == b"PONG":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def call(self, *parts: str | bytes | int) -> Any:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(hiredis.pack_command(cast(Any, parts)))
            reader = hiredis.Reader()
            while (reply := reader.gets()) is False:
                data = sock.recv(65536)
                if not data:
                    raise OSError("redis closed the connection")
                reader.feed(data)
            return reply

    def client_kill(self, kind: str) -> int:
        """Cut every connection of a type (`pubsub`, `normal`); how many were cut."""
        killed: int = self.call("CLIENT", "KILL", "TYPE", kind)
        return killed


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: `make redis` installs it")
    with tempfile.TemporaryDirectory(prefix="jc-redis-") as directory:
        server = RedisServer(Path(directory))
        server.start()
        try:
            yield server
        finally:
            with contextlib.suppress(OSError):
                server.kill()

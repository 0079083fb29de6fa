"""A throw-away redis-server on a free loopback port, without persistence: the one way the
benchmarks that measure against Redis and the cluster's tests start one (the tests import it
from here; nothing may import the tests).

`kill()` then `start()` stops and starts it on the same port (without its data, as a Redis
without persistence comes back after a crash); `client_kill()` cuts connections by type, as an
operator or an output-buffer limit does; `call()` runs one command with a short-lived client.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType
from typing import Any, cast

import hiredis

from conformance.kit.target import free_port

START_S = 10.0  # for it to answer PING


class RedisServer:
    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="jc-redis-")  # its --dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self) -> None:
        if shutil.which("redis-server") is None:
            raise RuntimeError("redis-server is not installed: `make redis` installs it")
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--protected-mode", "no"]
        command += ["--dir", self._directory.name]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_S
        while True:
            try:
                if self.call("PING") == b"PONG":
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def close(self) -> None:
        self.kill()
        self._directory.cleanup()

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

    def __enter__(self) -> RedisServer:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

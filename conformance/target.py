"""Servers under test: one already running (`tcp:HOST:PORT`) or a command the suite starts.

A command is started in its own process group on a free loopback port, with `{host}` and `{port}`
in it replaced, its output kept in files (a pipe nobody reads would block a chatty server), and
is stopped as a whole group: SIGTERM, then SIGKILL after a grace period. Servers written for a
course often forget SO_REUSEADDR, so every start takes a new port rather than reusing the last.
`started()` is the reusable part (tests and benchmarks start any server with it); `Target` adds
what the conformance run needs: restarting a target that died, and noticing that it did.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal

READY_TIMEOUT_S = 10.0  # an interpreter on a loaded machine can take seconds to start
GRACE_S = 2.0  # between SIGTERM and SIGKILL
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`*?~]")


class TargetError(Exception):
    """The target cannot be used at all: bad spec, nothing listening, or it will not start."""


@dataclass(frozen=True)
class TargetSpec:
    """`tcp:HOST:PORT` or `cmd:COMMAND` (COMMAND holds `{host}` and `{port}`)."""

    text: str
    kind: Literal["tcp", "cmd"]
    host: str = "127.0.0.1"
    port: int = 0
    command: str = ""

    @property
    def owns_process(self) -> bool:
        return self.kind == "cmd"


def parse_target(text: str) -> TargetSpec:
    kind, _, rest = text.partition(":")
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise TargetError(f"bad target {text!r}: expected tcp:HOST:PORT")
        return TargetSpec(text, "tcp", host.strip("[]"), int(port))
    if kind == "cmd":
        if "{port}" not in rest:
            raise TargetError(f"bad target {text!r}: the command must contain {{port}}")
        return TargetSpec(text, "cmd", command=rest.strip())
    raise TargetError(f"bad target {text!r}: expected tcp:HOST:PORT or cmd:'COMMAND {{port}}'")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def accepts(address: tuple[str, int], timeout: float = 1.0) -> bool:
    """True if a TCP connection to `address` succeeds (it is closed at once)."""
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


class ServerProcess:
    """One started command: its address, pid, exit status and captured output."""

    def __init__(self, command: str, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host, self.port = host, port or free_port(host)
        self.command = command.replace("{host}", host).replace("{port}", str(self.port))
        argv = (
            ["/bin/sh", "-c", self.command]
            if _SHELL_SYNTAX.search(self.command)
            else shlex.split(self.command)
        )
        self._stdout: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._stdout,
                stderr=self._stderr,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        except OSError as error:
            self._close_files()
            raise TargetError(f"cannot start {self.command!r}: {error}") from error
        self.pid = self.process.pid
        self.stopped_on_purpose = False

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Return once the port accepts; raise TargetError if the command exits or is too slow."""
        deadline = time.monotonic() + timeout
        pause = 0.005
        while time.monotonic() < deadline:
            if not self.alive():
                raise TargetError(
                    f"{self.describe_exit()} before it accepted connections{self.stderr_note()}"
                )
            if accepts(self.address, timeout=max(0.05, deadline - time.monotonic())):
                return
            time.sleep(pause)  # polling a port that is not open yet; nothing to wait on
            pause = min(pause * 2, 0.1)
        raise TargetError(
            f"{self.command!r} did not accept connections on {self.host}:{self.port} "
            f"within {timeout:g} s{self.stderr_note()}"
        )

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Signal the whole process group (a shell and its children alike)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def stop(self, grace: float = GRACE_S) -> int:
        """SIGTERM the group, SIGKILL it after `grace` seconds; the exit code of the command."""
        if self.alive():
            self.signal(signal.SIGTERM)
            if self.wait_exit(grace) is None:
                self.signal(signal.SIGKILL)
        self.signal(signal.SIGKILL)  # whatever the leader left behind in its group
        code = self.process.wait()
        return code

    def output(self) -> tuple[str, str]:
        """Everything it wrote so far to stdout and stderr."""
        return _read(self._stdout), _read(self._stderr)

    def stderr_tail(self, lines: int = 10) -> str:
        return "\n".join(self.output()[1].rstrip().splitlines()[-lines:])

    def stderr_note(self) -> str:
        tail = self.stderr_tail()
        return f"; last lines of its stderr:\n{tail}" if tail else "; its stderr is empty"

    def describe_exit(self) -> str:
        code = self.returncode
        how = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        return f"{self.command!r} ended ({how})"

    def close(self) -> None:
        self.stop()
        self._close_files()

    def _close_files(self) -> None:
        self._stdout.close()
        self._stderr.close()


def _read(stream: IO[bytes]) -> str:
    if stream.closed:
        return ""
    stream.seek(0)
    return stream.read().decode("utf-8", "replace")


@contextlib.contextmanager
def started(
    command: str,
    host: str = "127.0.0.1",
    port: int | None = None,
    ready_timeout: float = READY_TIMEOUT_S,
) -> Iterator[ServerProcess]:
    """Run `command` (with `{host}`/`{port}` filled in) until the block ends, listening."""
    server = ServerProcess(command, host, port)
    try:
        server.wait_ready(ready_timeout)
        yield server
    finally:
        server.close()


class Target:
    """The server a conformance run talks to; restarts it when the suite owns the process."""

    def __init__(self, spec: TargetSpec, ready_timeout: float = READY_TIMEOUT_S) -> None:
        self.spec = spec
        self.ready_timeout = ready_timeout
        self.process: ServerProcess | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.process.address if self.process else (self.spec.host, self.spec.port)

    def ensure_up(self) -> None:
        """Start the command if it is not running; a `tcp:` target must already listen."""
        if self.spec.kind == "tcp":
            if not accepts(self.address, timeout=self.ready_timeout):
                raise TargetError(f"nothing accepts connections at {self.spec.text[4:]}")
            return
        if self.process is not None and self.process.alive():
            return
        self.retire()
        process = ServerProcess(self.spec.command, self.spec.host)
        try:
            process.wait_ready(self.ready_timeout)
        except TargetError:
            process.close()
            raise
        self.process = process

    def restart(self) -> None:
        self.retire()
        self.ensure_up()

    def retire(self) -> None:
        """Stop the current process (if any)."""
        if self.process is not None:
            self.process.close()
            self.process = None

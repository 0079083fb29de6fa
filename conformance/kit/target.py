"""Servers under test: one already running (`tcp:HOST:PORT`) or a command the suite starts.

A command is started in its own process group on a free loopback port, with `{host}` and `{port}`
in it replaced, its output kept in files (a pipe nobody reads would block a chatty server), and
is stopped as a whole group the way people stop servers: SIGINT (what Ctrl-C sends, and all that
most course servers catch), then SIGTERM, then SIGKILL, each after a grace period. Servers
written for a course often forget SO_REUSEADDR, so every start takes a new port rather than
reusing the last.

The suite never hangs up on a server to see whether it is up: for a server that crashes when a
client closes, that check would be the crash. A started command is ready once the kernel shows a
socket listening on its port (/proc/net/tcp); a `tcp:` target, or a command where /proc cannot
be read, is checked with a connection that is kept open and becomes the probe's first client.
Whether a `tcp:` target still accepts, later, is `still_accepts`: a connection that says
`disconnect` and waits for the server to close it, as a client ends its session.
`ServerProcess` and `started()` are the reusable part: tests and benchmarks start any server
with them (the reference server too) and read its memory, descriptors and CPU time from /proc.
`Target` adds what the conformance run needs: restarting a target that died, and noticing that it
did.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from conformance.kit import procstat
from conformance.kit.wire import frame

READY_TIMEOUT_S = 10.0  # an interpreter on a loaded machine can take seconds to start
GRACE_S = 2.0  # after each stop signal before the next one (the reference stops within 2 s)
STOP_SIGNAL = signal.SIGINT  # what Ctrl-C sends: how course servers are stopped, and tested
OUTPUT_LINES = 20  # of a dead server's stdout and stderr, for the report: its traceback
GOODBYE_WAIT_S = 1.0  # for the server to close after a `disconnect` (a core server must)
POLL_S = 0.01  # /proc has no event to wait on
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


def still_accepts(address: tuple[str, int], timeout: float = 1.0) -> bool:
    """Whether `address` accepts a connection. The connection ends as a session does, never with a
    bare hang-up (the very thing some servers die of, and the suite must not cause what it
    reports): it sends `disconnect`, then reads until the server closes."""
    try:
        sock = socket.create_connection(address, timeout=timeout)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        sock.sendall(frame({"action": "disconnect"}))
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(min(timeout, GOODBYE_WAIT_S))
        while sock.recv(4096):  # until the server closes: closing with unread bytes would
            pass  # reset the connection, and some servers read a reset as a hang-up
    sock.close()
    return True


def stop_signal(name: str) -> signal.Signals:
    """`INT`, `SIGINT` or `2` as a signal; ValueError for anything else."""
    text = name.strip().upper()
    if text.isdigit():
        return signal.Signals(int(text))
    try:
        return signal.Signals[text if text.startswith("SIG") else f"SIG{text}"]
    except KeyError:
        raise ValueError(f"unknown signal {name!r}") from None


def wait_until(condition: Callable[[], bool], timeout: float, poll: float = POLL_S) -> bool:
    """Poll `condition` until it holds (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(poll)
    return True


class ServerProcess:
    """One started command: its address, pid, exit status, captured output and what it costs.

    Its stderr is kept in a file for `output()`, unless `stderr` says otherwise:
    `subprocess.PIPE` for a caller that reads it as it is written (`process.stderr`, bytes; the
    caller must drain it), `subprocess.DEVNULL` to discard it.
    """

    def __init__(
        self,
        command: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        stderr: int | None = None,
    ) -> None:
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
                stderr=self._stderr if stderr is None else stderr,
                start_new_session=True,  # its own process group, stopped as a whole
            )
        except OSError as error:
            self._stdout.close()
            self._stderr.close()
            raise TargetError(f"cannot start {self.command!r}: {error}") from error
        self.pid = self.process.pid
        self.stopped_on_purpose = False
        # Only where /proc cannot show that it listens: the connection that showed it, kept.
        self.held: socket.socket | None = None
        self._tasks: list[Path] = []  # see asleep()

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    def alive(self) -> bool:
        return self.process.poll() is None

    def asleep(self) -> bool | None:
        """Whether every thread of its process group is blocked waiting (select(), accept(),
        ...), having done what it had to; None where /proc does not say."""
        asleep = procstat.all_asleep(self._tasks) if self._tasks else None
        if asleep is None:  # not looked up yet, or its threads changed: look again
            self._tasks = procstat.group_tasks(self.pid)
            asleep = procstat.all_asleep(self._tasks)
        return asleep

    def wait_idle(
        self, limit: float = 0.5, quiet: float = 0.003, poll: float = 0.001
    ) -> bool | None:
        """Wait until every thread of it has been blocked for `quiet` seconds (it has handled
        all that was sent to it, accepts included) or it exited, for at most `limit` seconds.

        Nothing on the wire says a server has handled a close or an accept, but its process
        does. True once idle, False if it exited or stayed busy, None where /proc does not say.
        """
        started = time.monotonic()
        quiet_since: float | None = None
        while self.alive():
            time.sleep(poll)
            now = time.monotonic()
            asleep = self.asleep()
            if asleep is None:
                return None
            quiet_since = (quiet_since or now) if asleep else None
            if quiet_since is not None and now - quiet_since >= quiet:
                return True
            if now - started > limit:
                return False
        return False

    def listening(self) -> bool | None:
        """Whether it listens on its port, or None where /proc does not say."""
        shell = self.process.args[0] == "/bin/sh" if isinstance(self.process.args, list) else True
        pids = procstat.group_pids(self.pid) if shell else [self.pid]
        return procstat.listening(pids, self.port)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Return once the port listens; raise TargetError if the command exits or is too slow.

        Without /proc the check is a connection, kept open in `held` (never hung up on).
        """
        deadline = time.monotonic() + timeout
        pause = 0.005
        while time.monotonic() < deadline:
            if not self.alive():
                raise TargetError(
                    f"{self.describe_exit()} before it accepted connections{self.output_note()}"
                )
            listening = self.listening()
            if listening:
                return
            if listening is None:
                with contextlib.suppress(OSError):
                    self.held = socket.create_connection(self.address, timeout=0.5)
                    return
            time.sleep(pause)  # polling a port that is not open yet; nothing to wait on
            pause = min(pause * 2, 0.1)
        raise TargetError(
            f"{self.command!r} did not accept connections on {self.host}:{self.port} "
            f"within {timeout:g} s{self.output_note()}"
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

    def stop(self, grace: float = GRACE_S, first: int = STOP_SIGNAL) -> int:
        """Signal the group with `first`, then SIGTERM, then SIGKILL, `grace` seconds apart;
        the exit code of the command."""
        for signum in dict.fromkeys((first, signal.SIGTERM)):
            if not self.alive():
                break
            self.signal(signum)
            self.wait_exit(grace)
        self.signal(signal.SIGKILL)  # whatever is left: the leader, or what it left in its group
        code = self.process.wait()
        return code

    def rss_kib(self) -> int:
        """Its resident memory (VmRSS), in KiB (of the command's own process)."""
        return procstat.rss_kib(self.pid)

    def fd_count(self) -> int:
        return procstat.open_fds(self.pid)

    def cpu_seconds(self) -> float:
        return procstat.cpu_seconds(self.pid)

    def wait_fds(self, expected: int, timeout: float) -> int:
        """Its descriptor count once it is `expected`, or what it still is after `timeout`."""
        wait_until(lambda: self.fd_count() == expected, timeout)
        return self.fd_count()

    def describe_fds(self) -> list[str]:
        """What each open descriptor is, sockets with their TCP state: for failure messages."""
        return procstat.describe_fds(self.pid)

    def output(self) -> tuple[str, str]:
        """Everything it wrote so far to stdout and stderr."""
        return _read(self._stdout), _read(self._stderr)

    def stderr_tail(self, lines: int = 10) -> str:
        return "\n".join(self.output()[1].rstrip().splitlines()[-lines:])

    def stderr_note(self) -> str:
        tail = self.stderr_tail()
        return f"; last lines of its stderr:\n{tail}" if tail else "; its stderr is empty"

    def last_output(self, lines: int = OUTPUT_LINES) -> str:
        """The last `lines` lines of its stdout and of its stderr (a Python server's traceback),
        each under a heading; empty if it printed nothing."""
        parts = []
        for name, text in zip(("stdout", "stderr"), self.output(), strict=True):
            tail = text.rstrip().splitlines()[-lines:]
            if tail:
                parts.append(f"last lines of its {name}:\n" + "\n".join(tail))
        return "\n".join(parts)

    def output_note(self) -> str:
        output = self.last_output()
        return f"; {output}" if output else "; it printed nothing"

    def describe_exit(self) -> str:
        code = self.returncode
        how = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        return f"{self.command!r} ended ({how})"

    def close(self, first: int = STOP_SIGNAL) -> None:
        self.stop(first=first)
        if self.held is not None:
            self.held.close()
        self._close_files()

    def _close_files(self) -> None:
        self._stdout.close()
        self._stderr.close()
        if self.process.stderr is not None:  # a pipe its caller read
            self.process.stderr.close()


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
    """The server a conformance run talks to; restarts it when the suite owns the process.

    `ever_accepted` tells "never reachable" (exit status 3) from "stopped working" (a verdict).
    """

    def __init__(
        self,
        spec: TargetSpec,
        ready_timeout: float = READY_TIMEOUT_S,
        stop_signal: int = STOP_SIGNAL,
    ) -> None:
        self.spec = spec
        self.ready_timeout = ready_timeout
        self.stop_signal = stop_signal
        self.process: ServerProcess | None = None
        self.ever_accepted = False
        self._held: socket.socket | None = None
        self._checked = False

    @property
    def address(self) -> tuple[str, int]:
        return self.process.address if self.process else (self.spec.host, self.spec.port)

    def ensure_up(self) -> None:
        """Start the command if it is not running; a `tcp:` target must listen the first time.

        A `tcp:` target is checked once, with a connection that is kept (`take_held`), and never
        again: a check before every case would be a hang-up before every case.
        """
        if self.spec.kind == "tcp":
            if not self._checked:
                try:
                    self._held = socket.create_connection(self.address, self.ready_timeout)
                except OSError as error:
                    raise TargetError(
                        f"nothing accepts connections at {self.spec.text[4:]}: {error}"
                    ) from None
                self._checked = self.ever_accepted = True
            return
        if self.process is not None and self.process.alive():
            return
        self.retire()
        process = ServerProcess(self.spec.command, self.spec.host)
        try:
            process.wait_ready(self.ready_timeout)
        except TargetError:
            process.close(self.stop_signal)
            raise
        self.process = process
        self._held, process.held = process.held, None

    def still_accepts(self) -> bool:
        """For a `tcp:` target after a case saw a close: does it still accept connections?"""
        return still_accepts(self.address, self.ready_timeout)

    def take_held(self) -> socket.socket | None:
        """The connection that showed the target was up, if one was needed: the caller owns it."""
        held, self._held = self._held, None
        return held

    def restart(self) -> None:
        self.retire()
        self.ensure_up()

    def retire(self) -> None:
        """Stop the current process (if any), the way its user would."""
        if self._held is not None:
            self._held.close()
            self._held = None
        if self.process is not None:
            self.process.close(self.stop_signal)
            self.process = None

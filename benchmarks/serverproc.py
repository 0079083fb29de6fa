"""The reference server as a separate process, for benchmarks: started, measured, stopped.

It is the kit's `ServerProcess` (conformance/kit/target.py), the one way tests and benchmarks
run a server, which also reads its memory, descriptors and CPU time from /proc.
"""

from __future__ import annotations

import shlex
import signal
import subprocess
import sys
from types import TracebackType

from conformance.kit.target import ServerProcess, TargetError

# `jsonchat serve`, by module: the installed script may be another checkout's.
SERVE = f"{shlex.quote(sys.executable)} -m transport.cli serve --host {{host}} --port {{port}}"
STOP_S = 10.0  # for SIGTERM to end it before SIGKILL does


class BenchServer:
    """`jsonchat serve ...` on a free port with its logs discarded, listening."""

    def __init__(self, *args: str) -> None:
        command = f"{SERVE} {shlex.join(args)}".rstrip()
        self.server = ServerProcess(command, stderr=subprocess.DEVNULL)
        try:
            self.server.wait_ready()
        except TargetError:
            self.server.close()
            raise
        self.host, self.port = self.server.address
        self.pid = self.server.pid

    def rss_kib(self) -> int:
        return self.server.rss_kib()

    def fd_count(self) -> int:
        return self.server.fd_count()

    def cpu_s(self) -> float:
        return self.server.cpu_seconds()

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.stop(grace=STOP_S, first=signal.SIGTERM)  # SIGKILL if it is still running
        self.server.close()

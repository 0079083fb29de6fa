"""The reference server as a separate process, for benchmarks: started, measured, stopped."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from types import TracebackType

from conformance.kit import procstat
from tests.transport.netutil import ServerProcess


class BenchServer:
    """`jsonchat serve --port 0 ...` with its logs discarded; `rss_kib()` reads /proc."""

    def __init__(self, *args: str) -> None:
        self.server = ServerProcess("--port", "0", *args, stderr=subprocess.DEVNULL)
        self.host, self.port = self.server.address
        self.pid = self.server.process.pid

    def rss_kib(self) -> int:
        return procstat.rss_kib(self.pid)

    def fd_count(self) -> int:
        return procstat.open_fds(self.pid)

    def cpu_s(self) -> float:
        return procstat.cpu_seconds(self.pid)

    def __enter__(self) -> BenchServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.server.wait(10)
        self.server.stop()  # kills it if it is still running
